//! Hand-off: the intermediate of profiles/intermediate.toml handed to a CA
//! service. cfssl (Debian's golang-cfssl; .ci/run installs it) serves the
//! export on loopback and signs through its HTTP API; the leaf verifies
//! under pkiforge's root and works in a real mutual-TLS session with a
//! pkiforge client (openssl s_server, curl); a name outside the
//! intermediate's constraints is signed by cfssl and refused by openssl.
//! cert-manager's manifests and Vault's bundle are read back and checked
//! against the PKI with openssl.

mod common;

use common::*;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// profiles/intermediate.toml, made in a fresh temp dir as `TMP/pki`.
fn intermediate_pki() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let profile = repo().join("profiles/intermediate.toml");
    run_ok(
        tmp.path(),
        &["--quiet", "run", profile.to_str().unwrap(), "--out", "pki"],
    );
    tmp
}

/// Waits for `port`, showing `log` if nothing comes to listen there.
fn wait_for_port_or(port: u16, log: &Path) {
    let waited = std::panic::catch_unwind(|| wait_for_port(port));
    if waited.is_err() {
        panic!("{}", fs::read_to_string(log).unwrap_or_default());
    }
}

/// `pkiforge --quiet export pki ARGS…` in `work`: stdout, stderr, exit code.
fn export(work: &Path, args: &[&str]) -> (String, String, i32) {
    let mut all = vec!["--quiet", "export", "pki"];
    all.extend(args);
    run(work, &all)
}

/// [`export`], which must succeed: its stdout.
fn export_ok(work: &Path, args: &[&str]) -> String {
    let (stdout, stderr, code) = export(work, args);
    assert_eq!(code, 0, "export {args:?}: {stderr}");
    stdout
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A key and a CSR for `name` (EC P-256), in `dir`: `STEM.key`, `STEM.csr`.
fn csr(dir: &Path, stem: &str, name: &str) -> String {
    succeeded(
        Command::new(openssl())
            .current_dir(dir)
            .args([
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ])
            .args([
                "-keyout",
                &format!("{stem}.key"),
                "-out",
                &format!("{stem}.csr"),
            ])
            .args(["-subj", &format!("/CN={name}")])
            .args(["-addext", &format!("subjectAltName=DNS:{name}")])
            .output()
            .unwrap(),
    );
    fs::read_to_string(dir.join(format!("{stem}.csr"))).unwrap()
}

/// POST /api/v1/cfssl/sign on cfssl at `port`: the certificate it signed.
fn cfssl_sign(port: u16, csr: &str) -> String {
    let body = serde_json::json!({ "certificate_request": csr }).to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /api/v1/cfssl/sign HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let json = &answer[answer.find("\r\n\r\n").expect("an HTTP answer") + 4..];
    let json = &json[json.find('{').unwrap_or(0)..=json.rfind('}').unwrap_or(0)];
    let reply: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(reply["success"], true, "{answer}");
    reply["result"]["certificate"].as_str().unwrap().to_string()
}

#[test]
fn cfssl_goes_on_issuing_under_the_intermediate_and_its_constraints_still_hold() {
    let cfssl = installed("cfssl", "golang-cfssl");
    let tmp = intermediate_pki();
    let work = tmp.path();
    let out = export_ok(work, &["intermediate", "--format", "cfssl"]);
    let at = "pki/handoff/cfssl";
    assert_eq!(
        out,
        format!(
            "wrote {at}/intermediate.crt: the CA's certificate (and the CAs above it but the root)\n\
             wrote {at}/intermediate.key: the CA's private key (mode 0600)\n\
             wrote {at}/cfssl.json: cfssl's signing config (one default profile, server and client auth)\n\
             wrote {at}/ca.crt: the root CA, which every client trusts\n\
             next:\n  cfssl serve -address 127.0.0.1 -port 8888 -ca {at}/intermediate.crt -ca-key {at}/intermediate.key -config {at}/cfssl.json\n"
        )
    );
    let exported = work.join(at);
    assert_eq!(mode(&exported), 0o700);
    assert_eq!(mode(&exported.join("intermediate.key")), 0o600);
    // The leaves of the profile last 825 days (extensions = "strict"): so do cfssl's.
    let config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(exported.join("cfssl.json")).unwrap()).unwrap();
    assert_eq!(config["signing"]["default"]["expiry"], "19800h");

    // cfssl serves the export, as the line says.
    let port = free_port();
    let _cfssl = Running(
        Command::new(cfssl)
            .current_dir(work)
            .args(["serve", "-address", "127.0.0.1", "-port", &port.to_string()])
            .args([
                "-ca",
                &format!("{at}/intermediate.crt"),
                "-ca-key",
                &format!("{at}/intermediate.key"),
            ])
            .args(["-config", &format!("{at}/cfssl.json")])
            .stdout(std::process::Stdio::null())
            .stderr(fs::File::create(work.join("cfssl.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for_port_or(port, &work.join("cfssl.log"));
    let web = "web.workshop.test";
    fs::write(
        work.join("web.crt"),
        cfssl_sign(port, &csr(work, "web", web)),
    )
    .unwrap();
    let verified = openssl_out(
        work,
        &[
            "verify",
            "-CAfile",
            "pki/ca.crt",
            "-untrusted",
            "pki/intermediate.crt",
            "-purpose",
            "sslserver",
            "-verify_hostname",
            web,
            "web.crt",
        ],
    );
    assert_eq!(verified, "web.crt: OK\n");

    // A real mutual-TLS session: the cfssl leaf serves, a pkiforge client connects.
    let server_port = free_port();
    let _server = Running(
        Command::new(openssl())
            .current_dir(work)
            .args([
                "s_server",
                "-accept",
                &format!("127.0.0.1:{server_port}"),
                "-www",
            ])
            .args([
                "-cert",
                "web.crt",
                "-key",
                "web.key",
                "-cert_chain",
                "pki/intermediate.crt",
            ])
            .args([
                "-CAfile",
                "pki/ca.crt",
                "-Verify",
                "1",
                "-verify_return_error",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(fs::File::create(work.join("s_server.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for_port_or(server_port, &work.join("s_server.log"));
    let curl = |client: bool| {
        let mut cmd = Command::new(installed("curl", "curl"));
        cmd.current_dir(work)
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "20",
            ])
            .args([
                "--cacert",
                "pki/ca.crt",
                "--resolve",
                &format!("{web}:{server_port}:127.0.0.1"),
            ]);
        if client {
            cmd.args(["--cert", "pki/alice.pem", "--key", "pki/alice.key"]);
        }
        let out = cmd
            .arg(format!("https://{web}:{server_port}/"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(
        curl(true),
        (true, "200".to_string()),
        "alice is accepted by the cfssl leaf's server"
    );
    assert!(!curl(false).0, "without a client certificate, refused");

    // cfssl signs a name outside the constraints; the constraints refuse it.
    let evil = "web.evil.example";
    fs::write(
        work.join("evil.crt"),
        cfssl_sign(port, &csr(work, "evil", evil)),
    )
    .unwrap();
    let out = Command::new(openssl())
        .current_dir(work)
        .args([
            "verify",
            "-CAfile",
            "pki/ca.crt",
            "-untrusted",
            "pki/intermediate.crt",
            "evil.crt",
        ])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("permitted subtree violation"), "{said}");
}

/// The PEM blocks of a file: `(label, the block whole)`.
fn pem_blocks(text: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let label_end = rest[start + 11..].find("-----").unwrap() + start + 11;
        let label = rest[start + 11..label_end].to_string();
        let end_marker = format!("-----END {label}-----");
        let end = rest.find(&end_marker).unwrap() + end_marker.len();
        blocks.push((label, rest[start..end].to_string() + "\n"));
        rest = &rest[end..];
    }
    blocks
}

/// The public key of a PEM key or certificate, as openssl writes it.
fn public_key(dir: &Path, pem: &str, certificate: bool) -> String {
    let file = dir.join("probe.pem");
    fs::write(&file, pem).unwrap();
    let args: &[&str] = match certificate {
        true => &["x509", "-noout", "-pubkey", "-in", "probe.pem"],
        false => &["pkey", "-pubout", "-in", "probe.pem"],
    };
    openssl_out(dir, args)
}

#[test]
fn vault_gets_the_key_then_the_chain_to_the_root() {
    let tmp = intermediate_pki();
    let work = tmp.path();
    let out = export_ok(work, &["intermediate", "--format", "vault"]);
    assert!(out.contains("\n  vault write pki_intermediate/issuers/import/bundle pem_bundle=@pki/handoff/vault/intermediate.vault-bundle.pem\n"), "{out}");
    assert!(
        out.contains(" allowed_domains=localhost,workshop.test "),
        "the role issues for what the constraints permit: {out}"
    );
    let bundle = work.join("pki/handoff/vault/intermediate.vault-bundle.pem");
    assert_eq!(mode(&bundle), 0o600);
    let blocks = pem_blocks(&fs::read_to_string(&bundle).unwrap());
    let labels: Vec<&str> = blocks.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"]);
    assert_eq!(
        blocks[1].1,
        fs::read_to_string(work.join("pki/intermediate.crt")).unwrap()
    );
    assert_eq!(
        blocks[2].1,
        fs::read_to_string(work.join("pki/ca.crt")).unwrap()
    );
    assert_eq!(
        public_key(work, &blocks[0].1, false),
        public_key(work, &blocks[1].1, true)
    );
}

/// The published models of cert-manager's and trust-manager's CRDs, with
/// their JSON schemas (npm's @kubernetes-models/cert-manager, which .ci/run
/// installs into target/npm).
fn cert_manager_models() -> std::path::PathBuf {
    let models = repo().join("target/npm/node_modules/@kubernetes-models/cert-manager");
    assert!(
        models.join("package.json").is_file(),
        "cert-manager's CRD models are installed: npm install --prefix target/npm @kubernetes-models/cert-manager@6.0.0 (.ci/run does)"
    );
    models
}

/// Each object validated against its CRD's schema by the models: one line
/// each, `valid API KIND` or `invalid API KIND: why`.
fn validate_crds(work: &Path, objects: &[serde_json::Value]) -> Vec<String> {
    let models = cert_manager_models();
    let script = work.join("validate.mjs");
    let text = r#"import fs from 'fs';
const objs = JSON.parse(fs.readFileSync(0, 'utf8'));
for (const o of objs) {
  const mod = await import('file://MODELS/' + o.apiVersion + '/' + o.kind + '.js');
  try { new mod[o.kind](o).validate(); console.log(`valid ${o.apiVersion} ${o.kind}`); }
  catch (e) { console.log(`invalid ${o.apiVersion} ${o.kind}: ${e.message.split('\n')[0]}`); }
}
"#;
    fs::write(
        &script,
        text.replace("MODELS", &models.display().to_string()),
    )
    .unwrap();
    let out = with_stdin(
        Command::new(installed("node", "nodejs")).arg(&script),
        serde_json::to_string(objects).unwrap().as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn cert_manager_gets_a_secret_an_issuer_that_names_it_and_the_roots_bundle() {
    let tmp = intermediate_pki();
    let work = tmp.path();
    export_ok(
        work,
        &[
            "intermediate",
            "--format",
            "cert-manager",
            "--namespace",
            "shop",
        ],
    );
    export_ok(
        work,
        &[
            "intermediate",
            "--format",
            "cert-manager",
            "--cluster",
            "--out",
            "cluster",
        ],
    );
    let yaml = |path: &str| -> serde_json::Value {
        serde_norway::from_str(&fs::read_to_string(work.join(path)).unwrap()).unwrap()
    };
    for (dir, kind, issuer_ns, secret_ns) in [
        ("pki/handoff/cert-manager", "Issuer", Some("shop"), "shop"),
        ("cluster", "ClusterIssuer", None, "cert-manager"),
    ] {
        let secret = yaml(&format!("{dir}/intermediate.ca-secret.yaml"));
        let issuer = yaml(&format!("{dir}/intermediate.issuer.yaml"));
        let bundle = yaml(&format!("{dir}/trust-bundle.yaml"));
        let example = yaml(&format!("{dir}/example-certificate.yaml"));
        assert_eq!(mode(&work.join(dir)), 0o700);
        assert_eq!(
            mode(&work.join(format!("{dir}/intermediate.ca-secret.yaml"))),
            0o600
        );
        assert_eq!(
            (&secret["kind"], &secret["type"]),
            (&"Secret".into(), &"kubernetes.io/tls".into())
        );
        assert_eq!(secret["metadata"]["namespace"], secret_ns);
        assert_eq!(
            (&issuer["apiVersion"], &issuer["kind"]),
            (&"cert-manager.io/v1".into(), &kind.into())
        );
        assert_eq!(
            issuer["metadata"].get("namespace").and_then(|n| n.as_str()),
            issuer_ns
        );
        assert_eq!(
            issuer["spec"]["ca"]["secretName"],
            secret["metadata"]["name"]
        );
        assert_eq!(bundle["kind"], "Bundle");
        // trust-manager reads sources in its own namespace: the root is put
        // there, whatever the Issuer's namespace.
        let source = yaml(&format!("{dir}/trust-source.yaml"));
        assert_eq!(source["metadata"]["namespace"], "cert-manager");
        assert_eq!(
            bundle["spec"]["sources"][0]["configMap"]["name"],
            source["metadata"]["name"]
        );
        assert_eq!(bundle["spec"]["sources"][0]["configMap"]["key"], "ca.crt");
        assert_eq!(
            source["data"]["ca.crt"].as_str().unwrap(),
            fs::read_to_string(work.join("pki/ca.crt")).unwrap()
        );
        assert_eq!(example["spec"]["issuerRef"]["kind"], kind);
        assert_eq!(
            example["spec"]["issuerRef"]["name"],
            issuer["metadata"]["name"]
        );
        use base64::Engine as _;
        let data = |key: &str| {
            let b64 = secret["data"][key].as_str().unwrap();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap(),
            )
            .unwrap()
        };
        // tls.crt is the intermediate, signed by the root in ca.crt; tls.key is its key.
        assert_eq!(
            data("tls.crt"),
            fs::read_to_string(work.join("pki/intermediate.crt")).unwrap()
        );
        assert_eq!(
            data("ca.crt"),
            fs::read_to_string(work.join("pki/ca.crt")).unwrap()
        );
        assert_eq!(
            public_key(work, &data("tls.key"), false),
            public_key(work, &data("tls.crt"), true)
        );
        fs::write(work.join("tls.crt"), data("tls.crt")).unwrap();
        fs::write(work.join("root.crt"), data("ca.crt")).unwrap();
        assert_eq!(
            openssl_out(work, &["verify", "-CAfile", "root.crt", "tls.crt"]),
            "tls.crt: OK\n"
        );
        // Against the published CRD schemas; and a usage cert-manager does
        // not have is caught, so the check can fail.
        let mut wrong = example.clone();
        wrong["spec"]["usages"][1] = "flying".into();
        assert_eq!(
            validate_crds(work, &[issuer.clone(), bundle.clone(), example.clone(), wrong]),
            [
                format!("valid cert-manager.io/v1 {kind}"),
                "valid trust.cert-manager.io/v1alpha1 Bundle".to_string(),
                "valid cert-manager.io/v1 Certificate".to_string(),
                "invalid cert-manager.io/v1 Certificate: data/spec/usages/1 must be equal to one of the allowed values".to_string(),
            ]
        );
    }
}

#[test]
fn the_root_handed_off_is_warned_about_and_a_leaf_or_an_open_directory_is_refused() {
    let tmp = intermediate_pki();
    let work = tmp.path();
    let out = export_ok(work, &["ca", "--format", "step"]);
    assert!(out.contains("\n  step ca init --name pki --dns localhost --address 127.0.0.1:9000 --provisioner admin --root pki/handoff/step/root_ca.crt --key pki/handoff/step/root_ca_key\n"), "{out}");
    assert!(out.ends_with(&format!("warning: this hands off the root CA: its private key leaves {} for the service, which can then issue anything in any name. Hand off the intermediate instead where you can (profiles/intermediate.toml), and keep the root offline\n", work.join("pki").display())), "{out}");
    assert_eq!(mode(&work.join("pki/handoff/step/root_ca_key")), 0o600);
    // A leaf is not a CA.
    let (_, stderr, code) = export(work, &["alice", "--format", "vault"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: alice is not a CA of pki; a hand-off takes a CA: ca or intermediate (the intermediate where there is one)\n"
        )
    );
    // A directory others may read is not where a CA's key goes.
    fs::create_dir(work.join("open")).unwrap();
    fs::set_permissions(work.join("open"), fs::Permissions::from_mode(0o755)).unwrap();
    let (_, stderr, code) = export(
        work,
        &["intermediate", "--format", "cfssl", "--out", "open"],
    );
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: --out open: others may read it (mode 0755), and it would hold a CA's private key; chmod 700 it, or name a new directory\n"
        )
    );
    assert!(
        fs::read_dir(work.join("open")).unwrap().next().is_none(),
        "nothing written"
    );
    // What is there is not overwritten without --force.
    let (_, stderr, code) = export(work, &["ca", "--format", "step"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("root_ca.crt"), "{stderr}");
    export_ok(work, &["ca", "--format", "step", "--force"]);
}

/// What the outside review found: an --out through a symbolic link in a
/// directory another user may change (who could point it at theirs while
/// the key is written) is refused, as is a path with a newline (the printed
/// commands could not quote it for sh) and the PKI's own directory; a CA
/// whose key does not belong to its certificate is not handed off.
#[test]
fn a_hand_off_is_refused_through_another_users_link_and_for_a_mismatched_key() {
    let tmp = intermediate_pki();
    let work = tmp.path();
    fs::set_permissions(work, fs::Permissions::from_mode(0o755)).unwrap();
    let (private, theirs) = (work.join("private"), work.join("theirs"));
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let linked = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "ln",
            "-s",
        ])
        .arg(&private)
        .arg(theirs.join("out"))
        .status()
        .expect("setpriv (util-linux) runs a command as another user");
    assert!(linked.success());
    let (_, stderr, code) = export(
        work,
        &["intermediate", "--format", "cfssl", "--out", "theirs/out"],
    );
    assert_eq!(
        (code, stderr),
        (
            2,
            format!(
                "error: --out theirs/out: {0}, above it: it belongs to user nobody, so another user could move {0}/out away and put their own in its place; name a directory whose parents only you (or root) may change\n",
                theirs.display()
            )
        )
    );
    assert!(
        fs::read_dir(&private).unwrap().next().is_none(),
        "nothing written"
    );
    // A newline in OUTDIR.
    let (_, stderr, code) = export(
        work,
        &["intermediate", "--format", "vault", "--out", "a\nb"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("holds the control character '\\n'"),
        "{stderr}"
    );
    assert!(!work.join("a\nb").exists());
    // The PKI's own directory.
    let (_, stderr, code) = export(work, &["intermediate", "--format", "cfssl", "--out", "pki"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: --out pki: that is the PKI's directory; give the hand-off one of its own (the default is pki/handoff/cfssl)\n"
        )
    );
    // A key that is not the CA's.
    fs::copy(
        work.join("pki/server.key"),
        work.join("pki/intermediate.key"),
    )
    .unwrap();
    let (_, stderr, code) = export(work, &["intermediate", "--format", "cfssl"]);
    assert_eq!(code, 1, "{stderr}");
    let dir = work.join("pki");
    assert!(
        stderr.contains(&format!("{0}/intermediate.key does not belong to {0}/intermediate.crt: their public keys differ", dir.display())),
        "{stderr}"
    );
    assert!(!work.join("pki/handoff").exists(), "nothing left behind");
}
