//! The chain fixture kinds (profiles/fixtures-chain.toml): incomplete-chain,
//! expired-intermediate, outside-constraints, issuer-not-ca and
//! pathlen-exceeded. Each is refused for its reason by openssl verify, by
//! openssl and rustls in real handshakes, and by real clients (curl,
//! gnutls-cli, Python's ssl) and a real server (nginx) on loopback.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

/// profiles/fixtures-chain.toml, run once for the tests of this file.
fn chain_pki() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    run_once(&DIR, "fixtures-chain.toml")
}

/// Each fixture, the `-untrusted` words its verification is given (the
/// chain it presents, without the root), and the error every OpenSSL gives.
fn refused() -> Vec<(String, String, u32, &'static str)> {
    let (not_ca, text) = if is_openssl_1() {
        (24, "invalid CA certificate")
    } else {
        (79, "invalid CA certificate")
    };
    let mut out = vec![(
        "server-incomplete-chain".to_string(),
        String::new(),
        20,
        "unable to get local issuer certificate",
    )];
    for role in ["server", "client"] {
        let own = |kind: &str| format!(" -untrusted {role}-{kind}.issuer.crt");
        let cases = [
            (
                "expired-intermediate",
                own("expired-intermediate"),
                10,
                "certificate has expired",
            ),
            (
                "outside-constraints",
                " -untrusted intermediate.crt".to_string(),
                47,
                "permitted subtree violation",
            ),
            ("issuer-not-ca", own("issuer-not-ca"), not_ca, text),
            (
                "pathlen-exceeded",
                format!("{} -untrusted intermediate.crt", own("pathlen-exceeded")),
                25,
                "path length constraint exceeded",
            ),
        ];
        for (kind, untrusted, code, text) in cases {
            out.push((format!("{role}-{kind}"), untrusted, code, text));
        }
    }
    out
}

#[test]
fn verify_refuses_each_for_its_reason_given_the_chain_it_presents() {
    let out = run_ok(chain_pki(), &["verify", "pki"]);
    for (name, untrusted, code, text) in refused() {
        let (kind, purpose) = match name.split_once('-').unwrap() {
            ("server", kind) => (kind, "sslserver"),
            (_, kind) => (kind, "sslclient"),
        };
        let want = format!(
            "ok   openssl verify -CAfile ca.crt{untrusted} -purpose {purpose} {name}.crt\n       refused as intended ({kind}): error {code}, {text}\n"
        );
        assert!(out.contains(&want), "{want}\nnot in:\n{out}");
    }
    // What each bundle holds: an incomplete chain its certificate alone, a
    // fixture with a CA of its own that CA in place of the intermediate.
    for want in [
        "ok   check: server-incomplete-chain.bundle.crt holds server-incomplete-chain.crt\n",
        "ok   check: server-issuer-not-ca.bundle.crt holds server-issuer-not-ca.crt then server-issuer-not-ca.issuer.crt then ca.crt\n",
        "ok   check: client-pathlen-exceeded.pem holds client-pathlen-exceeded.crt then client-pathlen-exceeded.issuer.crt then intermediate.crt\n",
        "ok   check: client-outside-constraints.pem holds client-outside-constraints.crt then intermediate.crt\n",
    ] {
        assert!(out.contains(want), "{want}\nnot in:\n{out}");
    }
    assert!(out.ends_with("all 62 checks passed\n"), "{out}");
}

#[test]
fn handshakes_refuse_each_with_openssl_and_rustls() {
    let out = run_ok(chain_pki(), &["handshake", "pki"]);
    let rustls = |kind: &str| match kind {
        "incomplete-chain" => "UnknownIssuer",
        "expired-intermediate" => "Expired",
        "outside-constraints" => "NameConstraintViolation",
        "issuer-not-ca" => "EndEntityUsedAsCa",
        _ => "PathLenConstraintViolated",
    };
    for (name, _, code, text) in refused() {
        let (role, kind) = name.split_once('-').unwrap();
        let (case, side) = match role {
            "server" => (
                format!("{kind} fixture {name}.crt as localhost with client.crt"),
                "client",
            ),
            _ => (
                format!("server.crt with {kind} fixture {name}.crt"),
                "server",
            ),
        };
        for (stack, words) in [
            ("openssl", format!("{side}: verify error {code}: {text}")),
            ("rustls ", format!("(rustls: {})", rustls(kind))),
        ] {
            let start = format!("ok   {stack} refused   {case}: ");
            let line = out.lines().find(|l| l.starts_with(&start));
            let line = line.unwrap_or_else(|| panic!("{start}\nnot in:\n{out}"));
            assert!(line.contains(&words), "{words}\nnot in:\n{line}");
        }
    }
    assert!(
        out.ends_with("all 28 handshakes went as expected\n"),
        "{out}"
    );
}

#[test]
fn a_fixtures_own_ca_keeps_its_certificate_and_nothing_else() {
    let dir = chain_pki().join("pki");
    let files = tree(&dir);
    let own: Vec<&String> = files.iter().filter(|f| f.contains(".issuer.")).collect();
    assert_eq!(
        own,
        [
            "client-expired-intermediate.issuer.crt",
            "client-issuer-not-ca.issuer.crt",
            "client-pathlen-exceeded.issuer.crt",
            "server-expired-intermediate.issuer.crt",
            "server-issuer-not-ca.issuer.crt",
            "server-pathlen-exceeded.issuer.crt",
        ]
    );
    // Each is what its kind says: expired, not a CA, a CA under the
    // intermediate.
    let text = |name: &str| openssl_out(&dir, &["x509", "-in", name, "-noout", "-text"]);
    let expired = std::process::Command::new(openssl())
        .current_dir(&dir)
        .args([
            "x509",
            "-in",
            "client-expired-intermediate.issuer.crt",
            "-noout",
            "-checkend",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(
        (
            expired.status.code(),
            String::from_utf8_lossy(&expired.stdout).as_ref()
        ),
        (Some(1), "Certificate will expire\n")
    );
    assert!(text("server-issuer-not-ca.issuer.crt").contains("CA:FALSE"));
    let sub = text("client-pathlen-exceeded.issuer.crt");
    assert!(
        sub.contains("CA:TRUE")
            && sub.contains(
                "Issuer: O = pkiforge fixtures, CN = pkiforge chain fixtures intermediate CA"
            )
            || sub.contains(
                "Issuer: O=pkiforge fixtures, CN=pkiforge chain fixtures intermediate CA"
            ),
        "{sub}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("fixtures.json")).unwrap()).unwrap();
    let list = manifest["fixtures"].as_array().unwrap();
    assert_eq!(list.len(), 9);
    let get = |name: &str| list.iter().find(|f| f["name"] == name).unwrap().clone();
    assert_eq!(
        get("client-issuer-not-ca")["openssl"],
        serde_json::json!([
            {"code": 79, "text": "invalid CA certificate", "versions": "3.0 and later"},
            {"code": 24, "text": "invalid CA certificate", "versions": "1.1.1"},
        ])
    );
    assert_eq!(
        get("server-pathlen-exceeded")["files"],
        serde_json::json!([
            "server-pathlen-exceeded.key",
            "server-pathlen-exceeded.csr",
            "server-pathlen-exceeded.crt",
            "server-pathlen-exceeded.bundle.crt",
            "server-pathlen-exceeded.issuer.crt"
        ])
    );
    let inspect = run_ok(chain_pki(), &["inspect", "pki"]);
    assert!(
        inspect.contains("error 79: invalid CA certificate (3.0 and later) or error 24: invalid CA certificate (1.1.1)"),
        "{inspect}"
    );
    let lint = run_ok(chain_pki(), &["lint", "pki"]);
    assert!(lint.starts_with("9 fixtures left out"), "{lint}");
    let (status, _, code) = run(chain_pki(), &["status", "pki"]);
    assert_eq!(code, 0, "{status}");
    assert!(!status.contains("issuer"), "{status}");
}

#[test]
fn each_is_made_by_commands_the_plan_shows() {
    let profile = repo().join("profiles/fixtures-chain.toml");
    let tmp = tempfile::tempdir().unwrap();
    let plan = run_ok(tmp.path(), &["plan", profile.to_str().unwrap()]);
    for want in [
        "cat server-incomplete-chain.crt > server-incomplete-chain.bundle.crt\n",
        "-out client-issuer-not-ca.issuer.key\n",
        "openssl req -new -key client-issuer-not-ca.issuer.key -out client-issuer-not-ca.issuer.csr\n",
        "-in client-issuer-not-ca.issuer.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile <(printf \"basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=clientAuth",
        "-in client-pathlen-exceeded.issuer.csr -CA intermediate.crt -CAkey intermediate.key -CAcreateserial -extfile <(printf \"basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign",
        "-CA client-pathlen-exceeded.issuer.crt -CAkey client-pathlen-exceeded.issuer.key",
        "cat client-pathlen-exceeded.crt client-pathlen-exceeded.issuer.crt intermediate.crt > client-pathlen-exceeded.pem\n",
    ] {
        assert!(plan.contains(want), "{want}\nnot in:\n{plan}");
    }
    // The own CA's subject is typed at openssl's prompts, as every other.
    assert!(!plan.contains(" -subj "), "{plan}");
}

/// A profile of the tutorial's extensions without an intermediate: the
/// kinds that need none are made there too.
#[test]
fn expired_intermediate_and_issuer_not_ca_need_no_intermediate() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("p.toml");
    write(
        &profile,
        "[ca]\nbits = 2048\nsubject = { CN = \"root\" }\n\n[[server]]\nbits = 2048\nsubject = { CN = \"localhost\" }\nsan = [\"DNS:localhost\"]\n\n[[client]]\nbits = 2048\nsubject = { CN = \"c\" }\nsan = [\"DNS:c.test\"]\n\n[[client]]\nname = \"old\"\nfixture = \"expired-intermediate\"\nbits = 2048\nsubject = { CN = \"old\" }\nsan = [\"DNS:old.test\"]\n\n[[server]]\nname = \"leafsigned\"\nfixture = \"issuer-not-ca\"\nbits = 2048\nsubject = { CN = \"localhost\" }\nsan = [\"DNS:localhost\"]\n",
    );
    run_ok(tmp.path(), &["run", "p.toml", "--out", "pki"]);
    let out = run_ok(tmp.path(), &["verify", "pki"]);
    assert!(
        out.contains(
            "refused as intended (expired-intermediate): error 10, certificate has expired\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("refused as intended (issuer-not-ca): error "),
        "{out}"
    );
    let handshake = run_ok(tmp.path(), &["handshake", "pki"]);
    assert!(
        handshake.ends_with("handshakes went as expected\n"),
        "{handshake}"
    );
}

#[test]
fn a_chain_kind_without_what_it_needs_is_refused_before_anything_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let base = "[ca]\nbits = 2048\nsubject = { CN = \"root\" }\n\n[[server]]\nbits = 2048\nsubject = { CN = \"localhost\" }\nsan = [\"DNS:localhost\"]\n\n[[client]]\nbits = 2048\nsubject = { CN = \"c\" }\nsan = [\"DNS:localhost\"]\n";
    let intermediate = "\n[intermediate]\nbits = 2048\nsubject = { CN = \"i\" }\npermitted = [\"DNS:localhost\"]\n";
    let cases = [
        (
            format!(
                "{base}\n[[server]]\nname = \"bad\"\nfixture = \"incomplete-chain\"\nbits = 2048\nsubject = {{ CN = \"localhost\" }}\nsan = [\"DNS:localhost\"]\n"
            ),
            "server[1].fixture: \"incomplete-chain\" is bad in the chain through an intermediate CA, and this profile has none: add an [intermediate] (see profiles/fixtures-chain.toml), or use it in a profile that has one",
        ),
        (
            format!(
                "{base}{intermediate}\n[[client]]\nname = \"bad\"\nfixture = \"incomplete-chain\"\nbits = 2048\nsubject = {{ CN = \"b\" }}\nsan = [\"DNS:localhost\"]\n"
            ),
            "client[1].fixture: \"incomplete-chain\" is for servers only: a client's names are not matched against a host",
        ),
        (
            format!(
                "{base}{intermediate}\n[[server]]\nname = \"bad\"\nfixture = \"outside-constraints\"\nbits = 2048\nsubject = {{ CN = \"localhost\" }}\nsan = [\"DNS:localhost\"]\n"
            ),
            "server[1].san: an outside-constraints fixture needs a name the intermediate's constraints do not permit, beside the names its clients dial, e.g. \"DNS:outside.invalid\"",
        ),
    ];
    for (text, message) in cases {
        write(&tmp.path().join("p.toml"), &text);
        let (stdout, stderr, code) = run(tmp.path(), &["run", "p.toml", "--out", "pki"]);
        assert_eq!((stdout.as_str(), code), ("", 2), "{stderr}");
        assert!(stderr.contains(message), "{message}\nnot in:\n{stderr}");
        assert!(!tmp.path().join("pki").exists());
    }
}

/// nginx serving the good server of the chain PKI, requiring a client
/// certificate from its root, as deep as a sub-intermediate goes.
fn nginx() -> (tempfile::TempDir, Running, u16) {
    let prefix = tempfile::tempdir().unwrap();
    let port = free_port();
    let pki = fs::canonicalize(chain_pki().join("pki")).unwrap();
    let d = pki.display();
    let http = format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name localhost;\n    ssl_certificate {d}/server.bundle.crt;\n    ssl_certificate_key {d}/server.key;\n    ssl_client_certificate {d}/ca.crt;\n    ssl_verify_client on;\n    ssl_verify_depth 4;\n    location / {{ return 200 \"mutual TLS ok\\n\"; }}\n  }}\n"
    );
    let running = start_nginx(prefix.path(), &http, port);
    (prefix, running, port)
}

#[test]
fn test_server_finds_nginx_refusing_every_client_fixture_and_curl_agrees() {
    let (_prefix, _nginx, port) = nginx();
    let address = format!("127.0.0.1:{port}");
    let args = [
        "--quiet",
        "test-server",
        "pki",
        &address,
        "--http",
        "/",
        "--json",
    ];
    let (stdout, stderr, code) = run(chain_pki(), &args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let verdicts: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let seen: Vec<(String, String)> = verdicts
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["case"].as_str().unwrap().into(),
                v["observed"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("client", "accepted"),
        ("no-certificate", "refused"),
        ("client-expired-intermediate", "refused"),
        ("client-outside-constraints", "refused"),
        ("client-issuer-not-ca", "refused"),
        ("client-pathlen-exceeded", "refused"),
    ]
    .iter()
    .map(|(c, o)| (c.to_string(), o.to_string()))
    .collect();
    assert_eq!(seen, want, "{stdout}");
    for (case, observed) in &seen[..] {
        if case == "no-certificate" {
            continue;
        }
        let curl = if curl_as(&chain_pki().join("pki"), port, case) {
            "accepted"
        } else {
            "refused"
        };
        assert_eq!(observed, curl, "{case}: test-server and curl disagree");
    }
}

/// The server fixtures of the chain PKI, in its order.
const SERVERS: [&str; 5] = [
    "server-incomplete-chain",
    "server-expired-intermediate",
    "server-outside-constraints",
    "server-issuer-not-ca",
    "server-pathlen-exceeded",
];

/// `test-client pki --json -- COMMAND…`: the servers refused, and the exit.
fn client_refuses(command: &[&str]) -> (Vec<String>, i32) {
    let (rows, code) = test_client_verdicts(chain_pki(), command);
    let refused = rows.into_iter().filter(|[_, _, seen]| seen == "refused");
    (refused.map(|[case, _, _]| case).collect(), code)
}

#[test]
fn curl_gnutls_and_python_refuse_every_chain_fixture_and_curl_insecure_none() {
    let url = "https://{host}:{port}/";
    let curl = ["curl", "-sS", "-o", "/dev/null", "--cacert", "{ca}", url];
    assert_eq!(
        client_refuses(&curl),
        (SERVERS.map(String::from).to_vec(), 0)
    );
    let insecure = ["curl", "-sS", "-o", "/dev/null", "-k", url];
    assert_eq!(client_refuses(&insecure), (Vec::new(), 1));
    for program in ["gnutls-cli", "python3"] {
        assert!(
            which::which(program).is_ok(),
            "{program}: .ci/run installs it"
        );
    }
    let gnutls = [
        "gnutls-cli",
        "--x509cafile",
        "{ca}",
        "-p",
        "{port}",
        "{host}",
    ];
    assert_eq!(
        client_refuses(&gnutls),
        (SERVERS.map(String::from).to_vec(), 0)
    );
    let python = ["python3", "-c", PYTHON_CLIENT, "{host}", "{port}", "{ca}"];
    assert_eq!(
        client_refuses(&python),
        (SERVERS.map(String::from).to_vec(), 0)
    );
}

/// profiles/fixtures-chain.toml with `extra` appended, run into `TMP/pki`.
fn chain_with(extra: &str) -> (tempfile::TempDir, (String, String, i32)) {
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo().join("profiles/fixtures-chain.toml")).unwrap();
    write(&tmp.path().join("p.toml"), &format!("{text}{extra}"));
    let out = run(tmp.path(), &["run", "p.toml", "--out", "pki"]);
    (tmp, out)
}

/// A PKI with a CRL checks a fixture whose chain runs through a CA of its
/// own without it (that CA has none), and revokes and reissues as before.
#[test]
fn chain_fixtures_live_beside_a_crl() {
    let revoked = "\n[[client]]\nname = \"client-revoked\"\nfixture = \"revoked\"\nkey = \"ec:P-256\"\nsubject = { O = \"pkiforge fixtures\", CN = \"revoked client\" }\nsan = [\"DNS:client.fixtures.test\"]\n";
    let (tmp, (stdout, stderr, code)) = chain_with(revoked);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let verify = run_ok(tmp.path(), &["verify", "pki"]);
    assert!(
        verify.contains("ok   openssl verify -CAfile ca.crt -untrusted client-expired-intermediate.issuer.crt -purpose sslclient client-expired-intermediate.crt\n       refused as intended (expired-intermediate): error 10, certificate has expired\n"),
        "{verify}"
    );
    assert!(
        verify.contains(" -crl_check -CRLfile intermediate.crl client-revoked.crt\n"),
        "{verify}"
    );
    let handshake = run_ok(tmp.path(), &["handshake", "pki"]);
    assert!(
        handshake.ends_with("handshakes went as expected\n"),
        "{handshake}"
    );
    run_ok(tmp.path(), &["revoke", "pki", "client"]);
    run_ok(tmp.path(), &["crl", "pki"]);
}

#[test]
fn a_fixtures_own_ca_may_not_take_a_subject_of_the_profile() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        &tmp.path().join("p.toml"),
        "[ca]\nbits = 2048\nsubject = { O = \"T\", CN = \"x issuer\" }\n\n[[server]]\nbits = 2048\nsubject = { CN = \"localhost\" }\nsan = [\"DNS:localhost\"]\n\n[[client]]\nbits = 2048\nsubject = { CN = \"c\" }\nsan = [\"DNS:c.test\"]\n\n[[client]]\nname = \"x\"\nfixture = \"issuer-not-ca\"\nbits = 2048\nsubject = { O = \"T\", CN = \"x client\" }\nsan = [\"DNS:x.test\"]\n",
    );
    let (stdout, stderr, code) = run(tmp.path(), &["run", "p.toml", "--out", "pki"]);
    assert_eq!((stdout.as_str(), code), ("", 2), "{stderr}");
    assert!(
        stderr.contains("client[1].name: the CA this fixture is signed by, made with it, would have the subject O=T, CN=x issuer of [ca]: give the fixture another name (its CA's CN is \"NAME issuer\")"),
        "{stderr}"
    );
    assert!(!tmp.path().join("pki").exists());
}

/// --add checks names against the profile's [intermediate]: the one in DIR
/// must have the same constraints, or an outside-constraints fixture could
/// be inside them.
#[test]
fn add_refuses_a_profile_whose_intermediate_differs_from_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo().join("profiles/fixtures-chain.toml")).unwrap();
    let wide = text.replace(
        "\"IP:127.0.0.0/8\"]",
        "\"IP:127.0.0.0/8\", \"DNS:outside.invalid\"]",
    );
    let good: String = wide
        .split("\n# Client fixtures")
        .next()
        .unwrap()
        .to_string();
    write(&tmp.path().join("wide.toml"), &good);
    run_ok(tmp.path(), &["run", "wide.toml", "--out", "pki"]);
    write(&tmp.path().join("p.toml"), &text);
    let (stdout, stderr, code) = run(tmp.path(), &["run", "p.toml", "--out", "pki", "--add"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("intermediate.crt permits [\"DNS:fixtures.test\", \"DNS:localhost\", \"DNS:outside.invalid\", \"IP:127.0.0.0/255.0.0.0\"] and excludes [], but the profile's [intermediate] says permitted [\"DNS:fixtures.test\", \"DNS:localhost\", \"IP:127.0.0.0/255.0.0.0\"] and excluded []; --add signs with the intermediate in DIR"),
        "{stderr}"
    );
    assert!(
        !tmp.path()
            .join("pki/server-outside-constraints.crt")
            .exists()
    );
}

/// The expired intermediate's dates are set by x509 where it can set
/// them, as the expired fixture's are, else by `openssl ca`.
#[test]
fn the_expired_intermediate_is_dated_by_x509_where_it_can_be() {
    let profile = repo().join("profiles/fixtures-chain.toml");
    let tmp = tempfile::tempdir().unwrap();
    let plan = run_ok(tmp.path(), &["plan", profile.to_str().unwrap()]);
    let line = plan
        .lines()
        .find(|l| l.contains("-out server-expired-intermediate.issuer.crt"))
        .unwrap();
    if supports("x509", "-not_before") {
        assert!(
            line.starts_with("openssl x509 -req ") && line.contains(" -not_before "),
            "{line}"
        );
    } else {
        assert!(line.starts_with("openssl ca -config "), "{line}");
        assert!(
            line.contains(" -startdate ") && line.contains(" -enddate "),
            "{line}"
        );
    }
}
