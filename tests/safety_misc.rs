//! Nothing lost, nothing stolen: the openssl config's prompts read with one
//! question to openssl, `--json` that strict parsers read back exactly,
//! exported configs that quote their paths and overwrite nothing unasked,
//! and a Java recipe that keeps the password off the command line.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

/// A wrapper around the real openssl that logs each call's first word.
fn logging_openssl(work: &Path) -> std::path::PathBuf {
    let real = which::which(openssl()).unwrap();
    let path = work.join("bin/openssl");
    write_executable(
        &path,
        &format!(
            "#!/usr/bin/env bash\nprintf '%s\\n' \"$1\" >> '{}'\nexec '{}' \"$@\"\n",
            work.join("calls.log").display(),
            real.display()
        ),
    );
    path
}

#[test]
fn unknown_names_in_the_dn_section_cost_one_openssl_call_not_one_each() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    write(&work.join("fast.toml"), FAST);
    // 300 names openssl does not know (it skips them, and so must the
    // answers), one it knows that pkiforge's own list lacks (it asks that).
    let unknown: String = (0..300)
        .map(|i| format!("noSuchName{i} = Q{i}\n"))
        .collect();
    write(
        &work.join("c.cnf"),
        &format!(
            "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\n[dn]\nC = Land\n{unknown}favouriteDrink = Drink\nO = Firm\nOU = Team\nCN = Your name\nemailAddress = Mail\n[v3_ca]\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always,issuer\nbasicConstraints = critical,CA:true\n"
        ),
    );
    logging_openssl(work);
    let plan = pkiforge(work)
        .args(["--openssl", "bin/openssl", "plan", "--answers", "fast.toml"])
        .env("OPENSSL_CONF", work.join("c.cnf"))
        .output()
        .unwrap();
    let plan = String::from_utf8(succeeded(plan).stdout).unwrap();
    let ca: Vec<&str> = plan.lines().skip(2).take(6).collect();
    assert_eq!(
        ca,
        [
            "#   Land []: DE",
            "#   Drink []: .",
            "#   Firm []: Test Org",
            "#   Team []: .",
            "#   Your name []: Test CA",
            "#   Mail []: .",
        ],
        "{plan}"
    );
    let calls = fs::read_to_string(work.join("calls.log")).unwrap();
    let asked: Vec<&str> = calls
        .lines()
        .filter(|l| *l == "asn1parse" || *l == "list")
        .collect();
    if is_openssl_1() {
        // OpenSSL 1.1.1 cannot list its objects (`list -objects` came with
        // 3.0): each name outside pkiforge's own list is asked about once.
        assert_eq!(asked, ["asn1parse"; 301], "one question per unknown name");
    } else {
        assert_eq!(asked, ["list"], "one question for all the names");
    }
    // And openssl asks what pkiforge answers: the subjects come out right.
    let run = pkiforge(work)
        .args(["--quiet", "run", "fast.toml", "--out", "pki"])
        .env("OPENSSL_CONF", work.join("c.cnf"))
        .output()
        .unwrap();
    succeeded(run);
    assert_eq!(
        subject(&work.join("pki/client.crt")),
        pairs(&[
            ("O", "Test Org"),
            ("OU", "Clients"),
            ("CN", "alice"),
            ("emailAddress", "alice@example.com"),
        ])
    );
}

/// The value of `key` in each object that a strict JSON parser (Python's)
/// reads from `json`, found at any depth.
fn strict_json_values(json: &str, key: &str) -> Vec<String> {
    let script = format!(
        "import json, sys\ndef walk(v):\n    if isinstance(v, dict):\n        if {key:?} in v: print(json.dumps(v[{key:?}]))\n        for x in v.values(): walk(x)\n    elif isinstance(v, list):\n        for x in v: walk(x)\nwalk(json.load(sys.stdin))\n"
    );
    let out = with_stdin(
        Command::new("python3").args(["-c", &script]),
        json.as_bytes(),
    );
    assert!(
        out.status.success(),
        "not JSON: {}\n{json}",
        String::from_utf8_lossy(&out.stderr)
    );
    // json.dumps escapes everything outside ASCII: serde_json reads it back.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn json_output_is_strict_json_that_keeps_the_exact_subject() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("odd");
    fs::create_dir(&dir).unwrap();
    let cn = "a\u{85}b\u{2028}c\u{2029}\u{1}\u{1b}[31m\u{7f}\"q\\x";
    // -subj reads a backslash as an escape: `\\` is one. A CA, so that
    // `status` reads the directory as a PKI.
    let subj = format!("/CN={}/O=O", cn.replace('\\', "\\\\"));
    openssl_out(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "/dev/null",
            "-days",
            "10",
            "-utf8",
            "-subj",
            &subj,
            "-out",
            "ca.crt",
        ],
    );
    let want = format!("CN={cn}, O=O");
    let inspect = run(tmp.path(), &["inspect", "odd", "--json"]).0;
    assert_eq!(strict_json_values(&inspect, "subject"), [want.as_str()]);
    assert_eq!(strict_json_values(&inspect, "cn"), [cn]);
    let status = run(tmp.path(), &["status", "odd", "--json"]).0;
    assert_eq!(strict_json_values(&status, "subject"), [want.as_str()]);
    let lint = run(tmp.path(), &["lint", "odd", "--json"]).0;
    let subjects = strict_json_values(&lint, "subject");
    assert!(!subjects.is_empty(), "lint finds something: {lint}");
    assert!(subjects.iter().all(|s| *s == want), "{subjects:?}");
    for text in [&inspect, &status, &lint] {
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "nothing raw reaches the terminal: {text:?}"
        );
    }
}

/// FAST's PKI, copied to TMP/pki.
fn pki() -> (tempfile::TempDir, std::path::PathBuf) {
    copy()
}

fn installed(program: &str) -> std::path::PathBuf {
    which::which(program)
        .or_else(|_| which::which(format!("/usr/sbin/{program}")))
        .unwrap_or_else(|_| panic!("{program} is installed (.ci/run installs it)"))
}

/// A directory name that would be directives if pasted unquoted.
const EVIL: &str = "a b; include EVIL; # \"q\" \\ {x} 's";

#[test]
fn nginx_reads_the_exported_paths_whole_and_includes_nothing_else() {
    let nginx = installed("nginx");
    let (tmp, _) = pki();
    let work = fs::canonicalize(tmp.path()).unwrap();
    let evil_conf = work.join("evil.conf");
    write(&evil_conf, "evil_directive;\n");
    let name = EVIL.replace("EVIL", &evil_conf.display().to_string());
    let out = work.join(&name);
    run_ok(
        &work,
        &[
            "--quiet", "export", "pki", "server", "--format", "nginx", "--out", &name,
        ],
    );
    let conf = fs::read_to_string(out.join("server.nginx.conf")).unwrap();
    let quoted = |file: &str| {
        let path = out.join(file).display().to_string();
        format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\""))
    };
    assert!(
        conf.contains(&format!(
            "    ssl_certificate {};\n    ssl_certificate_key {};\n    ssl_client_certificate {};\n",
            quoted("server.chain.crt"),
            quoted("server.key"),
            quoted("ca.crt")
        )),
        "{conf}"
    );
    // nginx -t loads the certificate and key: a path read wrong fails it,
    // and so would evil.conf's unknown directive, were it included.
    write(
        &work.join("nginx.conf"),
        &format!(
            "pid {pid};\nerror_log stderr;\nevents {{}}\nhttp {{\n    access_log off;\n    include {};\n}}\n",
            quoted("server.nginx.conf"),
            pid = work.join("nginx.pid").display()
        ),
    );
    let checked = Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(work.join("nginx.conf"))
        .arg("-p")
        .arg(&work)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{said}");
    assert!(!said.contains("evil"), "{said}");
}

#[test]
fn haproxy_reads_the_exported_paths_whole_with_dollar_and_quotes() {
    let haproxy = installed("haproxy");
    let (tmp, _) = pki();
    let work = fs::canonicalize(tmp.path()).unwrap();
    // `verify none` would turn client certificates off, `$HOME` expand.
    let name = "a b verify none # \"q\" \\ $HOME {x} 's";
    let out = work.join(name);
    run_ok(
        &work,
        &[
            "--quiet", "export", "pki", "server", "--format", "haproxy", "--out", name,
        ],
    );
    let cfg = fs::read_to_string(out.join("server.haproxy.cfg")).unwrap();
    let quoted = |file: &str| {
        format!(
            "'{}'",
            out.join(file).display().to_string().replace('\'', "'\\''")
        )
    };
    let bind = format!(
        "    bind :8443 ssl crt {} ca-file {} verify required\n",
        quoted("server.haproxy.pem"),
        quoted("ca.crt")
    );
    assert!(cfg.contains(&bind), "{cfg}");
    let full = work.join("haproxy.cfg");
    write(
        &full,
        &format!(
            "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n\n{cfg}"
        ),
    );
    // haproxy -c loads crt and ca-file: a path read wrong fails it.
    let checked = Command::new(haproxy)
        .arg("-c")
        .arg("-f")
        .arg(&full)
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn export_refuses_what_a_config_cannot_quote_before_writing() {
    let (tmp, _) = pki();
    let work = tmp.path();
    let cases: [(&[&str], String); 4] = [
        (
            &["--out", "a\nb", "--format", "haproxy"],
            format!(
                "error: --out \"{}/a\\nb\": holds the control character '\\n', which the nginx, HAProxy and Java configs (and the commands a hand-off prints) cannot quote; choose an --out directory without one\n",
                fs::canonicalize(work).unwrap().display()
            ),
        ),
        (
            &["--out", "a\rb", "--format", "java"],
            format!(
                "error: --out \"{}/a\\rb\": holds the control character '\\r', which the nginx, HAProxy and Java configs (and the commands a hand-off prints) cannot quote; choose an --out directory without one\n",
                fs::canonicalize(work).unwrap().display()
            ),
        ),
        (
            &["--out", "a$b", "--format", "nginx"],
            format!(
                "error: --out \"{}/a$b\": holds '$', which nginx reads as a variable in ssl_certificate, with no way to escape it; choose an --out directory without '$'\n",
                fs::canonicalize(work).unwrap().display()
            ),
        ),
        (
            &["--listen", "1.2.3.4; include /x;:8443", "--format", "nginx"],
            "error: --listen \"1.2.3.4; include /x;:8443\": give a port (8443) or an address and a port (127.0.0.1:8443)\n".to_string(),
        ),
    ];
    for (args, want) in cases {
        let before = tree(work);
        let mut all = vec!["--quiet", "export", "pki", "server"];
        all.extend(args);
        let (stdout, stderr, code) = run(work, &all);
        assert_eq!(
            (stdout.as_str(), stderr.as_str(), code),
            ("", want.as_str(), 2)
        );
        assert_eq!(tree(work), before, "nothing was written for {args:?}");
    }
}

#[test]
fn export_overwrites_a_file_in_out_only_with_force() {
    let (tmp, _) = pki();
    let work = tmp.path();
    fs::create_dir(work.join("out")).unwrap();
    write(&work.join("out/ca.crt"), "mine\n");
    let args = [
        "--quiet", "export", "pki", "client", "--format", "nginx", "--out", "out",
    ];
    let (stdout, stderr, code) = run(work, &args);
    assert_eq!(
        (stdout.as_str(), stderr.as_str(), code),
        (
            "",
            "error: out already holds files this run would write: ca.crt\n  Choose another --out directory, remove them, or pass --force to overwrite them.\n",
            2
        )
    );
    assert_eq!(tree(&work.join("out")), ["ca.crt"], "nothing written");
    assert_eq!(
        fs::read_to_string(work.join("out/ca.crt")).unwrap(),
        "mine\n"
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    run_ok(work, &forced);
    assert_eq!(
        fs::read(work.join("out/ca.crt")).unwrap(),
        fs::read(work.join("pki/ca.crt")).unwrap()
    );
}

/// README.md's Java recipe, as written there, from `pkiforge export` to
/// `java`: the JVM gets both passwords, and its command line holds neither.
#[test]
fn the_readme_java_recipe_keeps_the_password_off_the_command_line() {
    installed("java");
    let readme = fs::read_to_string(repo().join("docs/export.md")).unwrap();
    let start = "  pkiforge export pki/localhost client --format java\n";
    let recipe = readme
        .split_once(start)
        .map(|(_, rest)| format!("{start}{}", rest.split("  ```").next().unwrap()))
        .expect("docs/export.md has the Java recipe");
    assert!(recipe.contains("-jar app.jar"), "{recipe}");
    let (tmp, _) = pki();
    let work = tmp.path();
    fs::rename(work.join("pki"), work.join("localhost")).unwrap();
    fs::create_dir(work.join("pki")).unwrap();
    fs::rename(work.join("localhost"), work.join("pki/localhost")).unwrap();
    // Reads its own command line and opens both stores with the properties.
    write(
        &work.join("Show.java"),
        r#"import java.io.FileInputStream;
import java.nio.file.*;
import java.security.KeyStore;
public class Show {
    static KeyStore open(String kind) throws Exception {
        KeyStore ks = KeyStore.getInstance(System.getProperty("javax.net.ssl." + kind + "StoreType"));
        try (FileInputStream in = new FileInputStream(System.getProperty("javax.net.ssl." + kind + "Store"))) {
            ks.load(in, System.getProperty("javax.net.ssl." + kind + "StorePassword").toCharArray());
        }
        return ks;
    }
    public static void main(String[] args) throws Exception {
        System.out.println("cmdline " + new String(Files.readAllBytes(Paths.get("/proc/self/cmdline"))).replace('\0', ' '));
        System.out.println("key " + java.util.Collections.list(open("key").aliases()));
        System.out.println("trust " + open("trust").size());
    }
}
"#,
    );
    let password = "p \"w\" \\ $HOME 'x";
    let script = recipe
        .replace(
            "pkiforge export",
            &format!(
                "'{}' --quiet export",
                assert_cmd::cargo::cargo_bin("pkiforge").display()
            ),
        )
        .replace("-jar app.jar", "Show.java");
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(work)
        .env("PKIFORGE_P12_PASSWORD", password)
        .env_remove("OPENSSL_CONF")
        .env_remove("JDK_JAVA_OPTIONS")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = said
        .lines()
        .skip_while(|l| l.starts_with("wrote "))
        .collect();
    assert_eq!(lines[1..], ["key [client]", "trust 1"], "{said}");
    assert_eq!(
        lines[0], "cmdline java @/dev/fd/63 @/dev/fd/62 Show.java ",
        "{said}"
    );
    assert!(
        !said.contains(password) && !said.contains("p \"w\""),
        "{said}"
    );
}

/// openssl reads OPENSSL_CONF and what it includes as it starts, and would
/// wait on a FIFO until the timeout: an absolute `.include` of one is
/// refused before the first openssl starts, as a relative one is.
#[test]
fn a_config_that_includes_a_fifo_is_refused_before_openssl_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    write(&work.join("fast.toml"), FAST);
    let fifo = work.join("cnf.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let conf = work.join("inc.cnf");
    write(
        &conf,
        &format!(
            ".include {}\n[req]\ndistinguished_name = dn\n[dn]\nCN = Name\n",
            fifo.display()
        ),
    );
    let out = pkiforge(work)
        .args(["--timeout", "5", "plan", "fast.toml"])
        .env("OPENSSL_CONF", &conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: openssl config {}: cannot read {}: it is a FIFO (named pipe), not a regular file; fix the config, or set OPENSSL_CONF to another\n",
            conf.display(),
            fifo.display()
        )
    );
}
