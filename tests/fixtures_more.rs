//! The later fixture kinds (profiles/fixtures-more.toml): weak-key,
//! sha1-signature, cn-only, unknown-critical-extension, wrong-key-usage.
//! Each verifier is held to what fixtures.json records of it: refused for
//! the kind's reason, accepted, or (in a handshake) not tried, and why.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

/// profiles/fixtures-more.toml, run once for the tests of this file.
fn more_pki() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    run_once(&DIR, "fixtures-more.toml")
}

/// The fixtures `openssl verify` refuses (at security level 2 where the
/// kind asks for one), with the error every OpenSSL gives.
fn refused() -> Vec<(&'static str, &'static str, u32, &'static str)> {
    let purpose = if is_openssl_1() {
        "unsupported certificate purpose"
    } else {
        "unsuitable certificate purpose"
    };
    let mut out = Vec::new();
    for role in ["server", "client"] {
        let name = |kind: &str| -> &'static str { Box::leak(format!("{role}-{kind}").into()) };
        out.push((
            name("weak-key"),
            " -auth_level 2",
            66,
            "EE certificate key too weak",
        ));
        out.push((
            name("sha1-signature"),
            " -auth_level 2",
            68,
            "CA signature digest algorithm too weak",
        ));
        out.push((
            name("unknown-critical-extension"),
            "",
            34,
            "unhandled critical extension",
        ));
    }
    out.push(("client-wrong-key-usage", "", 26, purpose));
    out
}

fn purpose_of(name: &str) -> &'static str {
    if name.starts_with("server") {
        "sslserver"
    } else {
        "sslclient"
    }
}

#[test]
fn verify_holds_openssl_to_what_the_manifest_records() {
    let out = run_ok(more_pki(), &["verify", "pki"]);
    for (name, level, code, text) in refused() {
        let kind = name.split_once('-').unwrap().1;
        let purpose = purpose_of(name);
        let want = format!(
            "ok   openssl verify -CAfile ca.crt -purpose {purpose}{level} {name}.crt\n       refused as intended ({kind}): error {code}, {text}\n"
        );
        assert!(out.contains(&want), "{want}\nnot in:\n{out}");
        if !level.is_empty() {
            // Without a security level, openssl verify accepts it: recorded, and checked.
            let want =
                format!("ok   openssl verify -CAfile ca.crt -purpose {purpose} {name}.crt\n");
            assert!(out.contains(&want), "{want}\nnot in:\n{out}");
        }
    }
    // Accepted by openssl, as recorded: a host in the CN only, a server's
    // keyUsage without digitalSignature.
    for want in [
        "ok   openssl verify -CAfile ca.crt -purpose sslserver -verify_hostname localhost server-cn-only.crt\n",
        "ok   openssl verify -CAfile ca.crt -purpose sslserver server-wrong-key-usage.crt\n",
    ] {
        assert!(out.contains(want), "{want}\nnot in:\n{out}");
    }
    // A later kind's client bundle holds what the client sends: no root.
    assert!(
        out.contains("ok   check: client-weak-key.pem holds client-weak-key.crt\n"),
        "{out}"
    );
    assert!(out.ends_with("all 63 checks passed\n"), "{out}");
}

#[test]
fn handshake_holds_each_stack_to_what_the_manifest_records() {
    let out = run_ok(more_pki(), &["handshake", "pki"]);
    let case = |name: &str| {
        let kind = name.split_once('-').unwrap().1;
        if name.starts_with("server") {
            format!("{kind} fixture {name}.crt as localhost with client.crt")
        } else {
            format!("server.crt with {kind} fixture {name}.crt")
        }
    };
    let line = |stack: &str, name: &str| -> String {
        let start = format!("ok   {stack:<7} ");
        out.lines()
            .find(|l| l.starts_with(&start) && l.contains(&format!(" {}: ", case(name))))
            .unwrap_or_else(|| panic!("no {stack} line for {name}:\n{out}"))
            .to_string()
    };
    for (name, _, code, text) in refused() {
        let side = if name.starts_with("server") {
            "client"
        } else {
            "server"
        };
        let l = line("openssl", name);
        assert!(l.starts_with("ok   openssl refused "), "{l}");
        assert!(
            l.contains(&format!("{side}: verify error {code}: {text}")),
            "{l}"
        );
    }
    for name in ["server-cn-only", "server-wrong-key-usage"] {
        assert!(
            line("openssl", name).starts_with("ok   openssl accepted "),
            "{name}"
        );
    }
    let rustls = [
        (
            "server-sha1-signature",
            "refused ",
            "(rustls: UnsupportedSignatureAlgorithm)",
        ),
        (
            "client-sha1-signature",
            "refused ",
            "(rustls: UnsupportedSignatureAlgorithm)",
        ),
        ("server-cn-only", "refused ", "(rustls: NotValidForName)"),
        (
            "server-wrong-key-usage",
            "accepted",
            "payload sent and answered",
        ),
        (
            "client-wrong-key-usage",
            "accepted",
            "payload sent and answered",
        ),
        (
            "server-weak-key",
            "untried ",
            ": ring, rustls's crypto provider here, cannot sign with an RSA key under 2048 bits",
        ),
        (
            "client-weak-key",
            "untried ",
            ": ring, rustls's crypto provider here, cannot sign",
        ),
        (
            "server-unknown-critical-extension",
            "untried ",
            ": rustls will not present a certificate with a critical extension it does not know",
        ),
        (
            "client-unknown-critical-extension",
            "untried ",
            ": rustls will not present",
        ),
    ];
    for (name, got, detail) in rustls {
        let l = line("rustls", name);
        assert!(l.starts_with(&format!("ok   rustls  {got}  ")), "{l}");
        assert!(l.contains(detail), "{detail}\nnot in:\n{l}");
    }
    assert!(
        out.ends_with("all 26 handshakes went as expected\n"),
        "{out}"
    );
}

#[test]
fn the_manifest_inspect_and_report_record_who_refuses_what() {
    let dir = more_pki().join("pki");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("fixtures.json")).unwrap()).unwrap();
    let list = manifest["fixtures"].as_array().unwrap();
    assert_eq!(list.len(), 9);
    let get = |name: &str| list.iter().find(|f| f["name"] == name).unwrap().clone();
    let weak = get("client-weak-key");
    assert_eq!(weak["openssl"][0]["code"], 66);
    assert_eq!(weak["rustls"], serde_json::json!([]));
    assert_eq!(weak["untried"][0]["by"], "rustls");
    assert_eq!(
        weak["accepted"][0]["by"],
        "openssl verify without -auth_level"
    );
    assert!(
        weak["policy"]
            .as_str()
            .unwrap()
            .starts_with("refused at OpenSSL security level 2")
    );
    assert!(
        weak["accepting"]
            .as_str()
            .unwrap()
            .starts_with("it trusts a key small enough")
    );
    assert_eq!(
        weak["files"],
        serde_json::json!([
            "client-weak-key.key",
            "client-weak-key.csr",
            "client-weak-key.crt",
            "client-weak-key.pem"
        ])
    );
    let cn = get("server-cn-only");
    assert_eq!(cn["host"], "localhost");
    assert_eq!(cn["openssl"], serde_json::json!([]));
    assert_eq!(cn["rustls"], serde_json::json!(["NotValidForName"]));
    let by: Vec<&str> = cn["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["openssl verify", "openssl s_server/s_client"]);
    let usage = get("server-wrong-key-usage");
    let by: Vec<&str> = usage["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["by"].as_str().unwrap())
        .collect();
    assert_eq!(
        by,
        ["openssl verify", "openssl s_server/s_client", "rustls"]
    );
    assert_eq!(get("client-wrong-key-usage")["accepted"][0]["by"], "rustls");

    let out = run_ok(more_pki(), &["inspect", "pki"]);
    let table = out.split("\nfixtures (fixtures.json)").nth(1).unwrap();
    for row in [
        "server-cn-only.crt                     cn-only                     it names its host in the CN only, with no subjectAltName                accepts                                           NotValidForName\n",
        "client-weak-key.crt                    weak-key                    its key is RSA 1024 bits, not the 2048 or more verifiers require        error 66: EE certificate key too weak             untried\n",
    ] {
        assert!(table.contains(row), "{row}\nnot in:\n{table}");
    }
    run_ok(more_pki(), &["report", "pki"]);
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("(openssl accepts it); rustls NotValidForName; a verifier that accepts it: it matches the host against the CN"), "report");
    let lint = run_ok(more_pki(), &["lint", "pki"]);
    assert!(lint.starts_with("9 fixtures left out"), "{lint}");
}

#[test]
fn each_fixture_is_made_by_commands_the_plan_shows() {
    let profile = repo().join("profiles/fixtures-more.toml");
    let tmp = tempfile::tempdir().unwrap();
    let plan = run_ok(tmp.path(), &["plan", profile.to_str().unwrap()]);
    for want in [
        "openssl genrsa -out client-weak-key.key 1024\n",
        "-sha1 -out server-sha1-signature.crt\n",
        "1.3.6.1.4.1.32473.1=critical,ASN1:NULL",
        "keyUsage=critical,keyEncipherment\\nextendedKeyUsage=clientAuth",
        "openssl req -new -key server-cn-only.key -out server-cn-only.csr",
        "cat client-weak-key.crt > client-weak-key.pem\n",
    ] {
        assert!(plan.contains(want), "{want}\nnot in:\n{plan}");
    }
    // The cn-only fixture's certificate has no subjectAltName.
    let crt = more_pki().join("pki/server-cn-only.crt");
    assert_eq!(sans(&crt), Vec::<String>::new());
}

/// `test-client pki --json -- COMMAND…` on the servers of
/// fixtures-more.toml: the fixtures the client accepted, and the exit.
fn client_accepts(command: &[&str]) -> (Vec<String>, i32) {
    let (rows, code) = test_client_verdicts(more_pki(), command);
    let accepted = rows
        .into_iter()
        .filter(|[_, kind, seen]| seen == "accepted" && kind != "good");
    (accepted.map(|[case, _, _]| case).collect(), code)
}

/// What real clients do with these servers, measured (docs/fixtures.md
/// gives the table): curl and Python's ssl, on the system's OpenSSL at its
/// default security level, match a host in the CN and take keyEncipherment
/// for a server; gnutls-cli refuses the keyUsage but takes RSA 1024 and a
/// host in the CN.
#[test]
fn real_clients_disagree_on_the_later_kinds_as_recorded() {
    for program in ["curl", "gnutls-cli", "python3"] {
        assert!(
            which::which(program).is_ok(),
            "{program}: .ci/run installs it"
        );
    }
    let curl = [
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "--cacert",
        "{ca}",
        "https://{host}:{port}/",
    ];
    let gnutls = [
        "gnutls-cli",
        "--x509cafile",
        "{ca}",
        "-p",
        "{port}",
        "{host}",
    ];
    let python = ["python3", "-c", PYTHON_CLIENT, "{host}", "{port}", "{ca}"];
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        client_accepts(&curl),
        (names(&["server-cn-only", "server-wrong-key-usage"]), 1)
    );
    assert_eq!(
        client_accepts(&gnutls),
        (names(&["server-weak-key", "server-cn-only"]), 1)
    );
    assert_eq!(
        client_accepts(&python),
        (names(&["server-cn-only", "server-wrong-key-usage"]), 1)
    );
}
