//! Bad input: every problem reported at once, with file, line, column, field
//! and what to do; exit code 2; and nothing written.

mod common;

use common::*;
use std::fs;

const BASE: &str = r#"[ca]
bits = 2048
subject = { C = "DE", CN = "Test CA" }

[server]
bits = 2048
subject = { CN = "localhost" }
san = ["DNS:localhost"]

[client]
bits = 2048
subject = { CN = "alice" }
san = ["DNS:localhost"]
"#;

/// BASE with `from` replaced by `to` (which must occur).
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from:?} is not in BASE");
    BASE.replacen(from, to, 1)
}

/// Runs `pkiforge run bad.toml` on `text` and checks the exact stderr, the
/// exit code and that the directory holds only the profile afterwards.
fn refused(text: &[u8], problems: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("bad.toml"), text).unwrap();
    let n = problems.len();
    let mut want = format!(
        "error: bad.toml: {n} problem{} found, nothing was written:\n",
        if n == 1 { "" } else { "s" }
    );
    for p in problems {
        want.push_str(&format!("  bad.toml{p}\n"));
    }
    let out = pkiforge(tmp.path())
        .args(["run", "bad.toml"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), want);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(tree(tmp.path()), ["bad.toml"], "nothing was written");
}

#[test]
fn the_base_profile_is_good() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("good.toml"), BASE);
    pkiforge(tmp.path())
        .args(["plan", "good.toml"])
        .assert()
        .success();
}

#[test]
fn bad_profiles_are_refused_with_every_problem_and_nothing_written() {
    let long_cn = "a".repeat(65);
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "empty file",
            String::new(),
            vec![
                ": the profile is empty; it needs [ca], [server] and [client] tables (see profiles/localhost.toml)",
            ],
        ),
        (
            "only comments",
            "# nothing\n".into(),
            vec![
                ": ca: missing [ca] table; add one (see profiles/localhost.toml)",
                ": server: missing [server] table; add one (see profiles/localhost.toml)",
                ": client: missing [client] table; add one (see profiles/localhost.toml)",
            ],
        ),
        (
            "syntax error",
            with("[client]", "[client"),
            vec![":10:8: TOML syntax: unclosed table, expected `]`"],
        ),
        (
            "table typo",
            with("[server]", "[servr]"),
            vec![
                ": server: missing [server] table; add one (see profiles/localhost.toml)",
                ":5:2: servr: unknown table; did you mean `server`? expected one of: extensions, ca, intermediate, server, client",
            ],
        ),
        (
            "subject table typo",
            with(
                "subject = { CN = \"localhost\" }",
                "subjet = { CN = \"localhost\" }",
            ),
            vec![
                ": server.subject: missing; add a [server.subject] table with at least CN, e.g. CN = \"My server\"",
                ":7:1: server.subjet: unknown key; did you mean `subject`? expected one of: name, bits, key, days, subject, san, p12, fixture, host",
            ],
        ),
        (
            "san typo",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "sans = [\"DNS:localhost\"]\n\n[client]",
            ),
            vec![
                ": server.san: missing; add san = [\"DNS:localhost\"] to [server] (modern clients match the host name against it)",
                ":8:1: server.sans: unknown key; did you mean `san`? expected one of: name, bits, key, days, subject, san, p12, fixture, host",
            ],
        ),
        (
            "ca as array",
            with("[ca]", "[[ca]]"),
            vec![":1:1: ca: must be a single [ca] table (a PKI has one CA), not a list"],
        ),
        (
            "bits as string",
            with("bits = 2048", "bits = \"2048\""),
            vec![":2:8: ca.bits: must be an integer such as 4096, not a string"],
        ),
        (
            "bits too small",
            with("bits = 2048", "bits = 1024"),
            vec![
                ":2:8: ca.bits: 1024-bit RSA keys are unsafe and refused by modern clients; use at least 2048 (the tutorial uses 4096)",
            ],
        ),
        (
            "bits too large",
            with("bits = 2048", "bits = 100000"),
            vec![":2:8: ca.bits: must be between 2048 and 16384 (the tutorial uses 4096)"],
        ),
        (
            "bits negative",
            with("bits = 2048", "bits = -4096"),
            vec![":2:8: ca.bits: must be between 2048 and 16384 (the tutorial uses 4096)"],
        ),
        (
            "three-letter country",
            with("C = \"DE\"", "C = \"DEU\""),
            vec![
                ":3:17: ca.subject.C: \"DEU\" is not a two-letter ISO 3166 country code such as \"US\" or \"DE\"; openssl would ask again and every later answer would land in the wrong field",
            ],
        ),
        (
            "empty value",
            with("CN = \"alice\"", "CN = \"\""),
            vec![
                ":12:18: client.subject.CN: is empty; openssl's prompt would take an empty answer as \"use the config's default\". Leave CN out to leave it blank",
            ],
        ),
        (
            "dot value",
            with("CN = \"alice\"", "CN = \".\""),
            vec![
                ":12:18: client.subject.CN: \".\" alone means \"leave blank\" at openssl's prompt; leave CN out instead",
            ],
        ),
        (
            "newline in subject",
            with("CN = \"alice\"", "CN = \"ali\\nce\""),
            vec![
                ":12:18: client.subject.CN: contains a newline; it would be read as a separate answer to the next prompt. Remove it",
            ],
        ),
        (
            "carriage return in subject",
            with("CN = \"alice\"", "CN = \"alice\\r\""),
            vec![
                ":12:18: client.subject.CN: contains a carriage return; it would be read as a separate answer to the next prompt. Remove it",
            ],
        ),
        (
            "escape in subject",
            with("CN = \"alice\"", "CN = \"a\\u001blice\""),
            vec![
                ":12:18: client.subject.CN: contains the control character U+001B; it would be read as a separate answer to the next prompt. Remove it",
            ],
        ),
        (
            "padded value",
            with("CN = \"alice\"", "CN = \" alice\""),
            vec![":12:18: client.subject.CN: has leading or trailing spaces; remove them"],
        ),
        (
            "common name too long",
            with("CN = \"alice\"", &format!("CN = \"{long_cn}\"")),
            vec![":12:18: client.subject.CN: is 65 bytes long; openssl allows at most 64 for CN"],
        ),
        (
            "non-ASCII email",
            with(
                "CN = \"alice\"",
                "CN = \"alice\", emailAddress = \"älice@example.com\"",
            ),
            vec![
                ":12:42: client.subject.emailAddress: must be ASCII (an IA5String); non-ASCII addresses are not allowed here",
            ],
        ),
        (
            "not an email",
            with("CN = \"alice\"", "CN = \"alice\", emailAddress = \"alice\""),
            vec![
                ":12:42: client.subject.emailAddress: \"alice\" is not an email address such as \"admin@example.com\"",
            ],
        ),
        (
            "subject value not a string",
            with("CN = \"alice\"", "CN = 7"),
            vec![":12:18: client.subject.CN: must be a string, not an integer"],
        ),
        (
            "unknown subject field",
            with("CN = \"alice\"", "CN = \"alice\", Cn = \"x\""),
            vec![
                ":12:27: client.subject.Cn: unknown key; did you mean `CN`? expected one of: C, ST, L, O, OU, CN, emailAddress",
            ],
        ),
        (
            "subject not a table",
            with("subject = { CN = \"alice\" }", "subject = \"CN=alice\""),
            vec![":12:11: client.subject: must be a table, [client.subject], not a string"],
        ),
        (
            "empty subject",
            with("subject = { CN = \"alice\" }", "subject = {}"),
            vec![":12:11: client.subject: is empty; give at least CN, e.g. CN = \"localhost\""],
        ),
        (
            "leaf subject equals the CA's",
            with("CN = \"alice\"", "CN = \"Test CA\", C = \"DE\""),
            vec![
                ":12:11: client.subject: is the same as ca.subject. A certificate whose subject equals its issuer's looks self-signed, and strict clients reject it (the classic slip of pressing Enter through every prompt); give it its own CN",
            ],
        ),
        (
            "a san on the CA",
            with(
                "CN = \"Test CA\" }",
                "CN = \"Test CA\" }\nsan = [\"DNS:ca\"]",
            ),
            vec![
                ":4:1: ca.san: the CA takes no san; subjectAltName entries belong in [server] and [client]",
            ],
        ),
        (
            "empty san list",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = []\n\n[client]",
            ),
            vec![":8:7: server.san: is empty; give at least one entry such as \"DNS:localhost\""],
        ),
        (
            "san not a list",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = \"DNS:localhost\"\n\n[client]",
            ),
            vec![
                ":8:7: server.san: must be a list of strings such as [\"DNS:localhost\"], not a string",
            ],
        ),
        (
            "san without type and not a string",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [42, \"localhost\"]\n\n[client]",
            ),
            vec![
                ":8:8: server.san[0]: must be a string such as \"DNS:localhost\", not an integer",
                ":8:12: server.san[1]: \"localhost\" has no type; write it as TYPE:value, e.g. \"DNS:localhost\" or \"IP:127.0.0.1\"",
            ],
        ),
        (
            "san type in the wrong case",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"dns:localhost\"]\n\n[client]",
            ),
            vec![
                ":8:8: server.san[0]: openssl's type names are case-sensitive: write \"DNS:localhost\"",
            ],
        ),
        (
            "san unknown type",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"RID:1.2.3.4\"]\n\n[client]",
            ),
            vec![":8:8: server.san[0]: unknown type \"RID\"; use DNS:, IP:, email: or URI:"],
        ),
        (
            "san with a space",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"DNS:local host\"]\n\n[client]",
            ),
            vec![
                ":8:8: server.san[0]: \"DNS:local host\" is not a valid DNS entry: spaces and commas are not allowed (a comma starts another entry in openssl's syntax)",
            ],
        ),
        (
            "san injecting a line",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"DNS:localhost\\nbasicConstraints=CA:TRUE\"]\n\n[client]",
            ),
            vec![
                ":8:8: server.san[0]: contains a newline; it would inject another line into openssl's extension text. Remove it",
            ],
        ),
        (
            "san comma injection",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"DNS:a,IP:1.2.3.4\"]\n\n[client]",
            ),
            vec![
                ":8:8: server.san[0]: \"DNS:a,IP:1.2.3.4\" is not a valid DNS entry: spaces and commas are not allowed (a comma starts another entry in openssl's syntax)",
            ],
        ),
        (
            "bad DNS label",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"DNS:-bad.example.com\"]\n\n[client]",
            ),
            vec![
                ":8:8: server.san[0]: \"DNS:-bad.example.com\" is not a valid DNS entry: the label \"-bad\" starts or ends with a hyphen",
            ],
        ),
        (
            "bad wildcard",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"DNS:www.*.example.com\"]\n\n[client]",
            ),
            vec![
                ":8:8: server.san[0]: \"DNS:www.*.example.com\" is not a valid DNS entry: a wildcard is allowed only as the whole first label, as in *.example.com",
            ],
        ),
        (
            "bad IPv4",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"IP:256.0.0.1\"]\n\n[client]",
            ),
            vec![
                ":8:8: server.san[0]: \"IP:256.0.0.1\" is not a valid IP entry: write an IPv4 address such as 127.0.0.1 or an IPv6 address such as ::1",
            ],
        ),
        (
            "bad IPv6",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"IP:fe80::1%eth0\"]\n\n[client]",
            ),
            vec![
                ":8:8: server.san[0]: \"IP:fe80::1%eth0\" is not a valid IP entry: write an IPv4 address such as 127.0.0.1 or an IPv6 address such as ::1",
            ],
        ),
        (
            "relative URI",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"URI:/just/a/path\"]\n\n[client]",
            ),
            vec![
                ":8:8: server.san[0]: \"URI:/just/a/path\" is not a valid URI entry: write an absolute URI with a scheme, such as spiffe://example.org/workload or https://example.com/",
            ],
        ),
        (
            "duplicate san",
            with(
                "san = [\"DNS:localhost\"]\n\n[client]",
                "san = [\"DNS:localhost\", \"DNS:localhost\"]\n\n[client]",
            ),
            vec![":8:25: server.san[1]: \"DNS:localhost\" is listed twice; remove one"],
        ),
        (
            "several problems at once",
            with("bits = 2048", "bits = 512")
                .replace("C = \"DE\"", "C = \"Germany\"")
                .replace("[client]", "[clinet]"),
            vec![
                ": client: missing [client] table; add one (see profiles/localhost.toml)",
                ":2:8: ca.bits: 512-bit RSA keys are unsafe and refused by modern clients; use at least 2048 (the tutorial uses 4096)",
                ":3:17: ca.subject.C: \"Germany\" is not a two-letter ISO 3166 country code such as \"US\" or \"DE\"; openssl would ask again and every later answer would land in the wrong field",
                ":10:2: clinet: unknown table; did you mean `client`? expected one of: extensions, ca, intermediate, server, client",
            ],
        ),
        (
            "unknown fixture kind",
            with("[client]\n", "[client]\nfixture = \"broken\"\n"),
            vec![
                ":11:11: client.fixture: must be one of \"expired\", \"not-yet-valid\", \"wrong-purpose\", \"foreign-ca\", \"self-signed\", \"revoked\", \"wrong-host\", \"weak-key\", \"sha1-signature\", \"cn-only\", \"unknown-critical-extension\", \"wrong-key-usage\", \"incomplete-chain\", \"expired-intermediate\", \"outside-constraints\", \"issuer-not-ca\", \"pathlen-exceeded\"",
            ],
        ),
        (
            "wrong-host on a client",
            with("[client]\n", "[client]\nfixture = \"wrong-host\"\n"),
            vec![
                ":11:11: client.fixture: \"wrong-host\" is for servers only: a client's names are not matched against a host",
            ],
        ),
        (
            "cn-only on a client",
            with("[client]\n", "[client]\nfixture = \"cn-only\"\n"),
            vec![
                ":11:11: client.fixture: \"cn-only\" is for servers only: a client's names are not matched against a host, so a CN without subjectAltName is no fault in it; use it under [[server]]",
            ],
        ),
        (
            "cn-only whose CN is not its host",
            with(
                "[server]\nbits = 2048\nsubject = { CN = \"localhost\" }",
                "[server]\nfixture = \"cn-only\"\nbits = 2048\nsubject = { CN = \"web\" }",
            ),
            vec![
                ": server.subject.CN: must be \"localhost\", the first DNS name of its san: a cn-only fixture names its host in the CN alone",
            ],
        ),
        (
            "cn-only with a host",
            with(
                "[server]\n",
                "[server]\nfixture = \"cn-only\"\nhost = \"localhost\"\n",
            ),
            vec![
                ":7:8: server.host: is only for a wrong-host fixture, not cn-only (its host is its first DNS name in san); remove it",
            ],
        ),
        (
            "weak-key without an RSA key",
            with(
                "[server]\nbits = 2048\n",
                "[server]\nfixture = \"weak-key\"\nkey = \"ec:P-256\"\n",
            ),
            vec![
                ": server.key: a weak-key fixture is an RSA 1024 key in place of the profile's RSA key, so that only its size differs; give it key = \"rsa:2048\"",
            ],
        ),
        (
            "wrong-host without a host",
            with("[server]\n", "[server]\nfixture = \"wrong-host\"\n"),
            vec![
                ": server.host: missing: a wrong-host fixture needs the host its clients dial, which none of its san names, e.g. host = \"localhost\"",
            ],
        ),
        (
            "wrong-host whose san covers the host",
            with(
                "[server]\n",
                "[server]\nfixture = \"wrong-host\"\nhost = \"localhost\"\n",
            ),
            vec![
                ":7:8: server.host: \"localhost\" is covered by san \"DNS:localhost\", so the certificate is valid for it: give the fixture san names that do not cover the host, e.g. san = [\"DNS:wrong-host.invalid\"]",
            ],
        ),
        (
            "a host without a wrong-host fixture",
            with(
                "[server]\n",
                "[server]\nfixture = \"expired\"\nhost = \"localhost\"\n",
            ),
            vec![":7:8: server.host: is only for a wrong-host fixture, not expired; remove it"],
        ),
        (
            "p12 on a fixture",
            with(
                "[client]\n",
                "[client]\nfixture = \"revoked\"\np12 = true\n",
            ),
            vec![
                ":12:7: client.p12: fixtures get no PKCS#12 bundle (their key and certificate are NAME.key and NAME.crt); remove p12",
            ],
        ),
    ];
    assert!(cases.len() >= 25);
    for (name, text, problems) in &cases {
        eprintln!("case: {name}");
        refused(text.as_bytes(), problems);
    }
}

#[test]
fn a_profile_that_is_not_utf8_is_refused() {
    refused(
        b"[ca]\nsubject = { CN = \"M\xfcnchen\" }\n",
        &[":2:20: the profile is not UTF-8 text; save it as UTF-8"],
    );
}

#[test]
fn a_missing_profile_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    pkiforge(tmp.path())
        .args(["run", "nope.toml"])
        .assert()
        .code(2)
        .stderr("error: nope.toml: 1 problem found, nothing was written:\n  nope.toml: no such file; give the path of a profile such as profiles/localhost.toml, or write one with the reference in README.md\n");
    assert!(tree(tmp.path()).is_empty());
}

/// Runs with a config through OPENSSL_CONF and checks the exact refusal.
fn refused_with_config(cnf: &str, stderr: &str) {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("p.toml"), BASE);
    write(&tmp.path().join("c.cnf"), cnf);
    let out = pkiforge(tmp.path())
        .args(["run", "p.toml"])
        .env("OPENSSL_CONF", "c.cnf")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(tree(tmp.path()), ["c.cnf", "p.toml"], "nothing was written");
}

#[test]
fn values_outside_the_configs_limits_are_refused_before_openssl_runs() {
    refused_with_config(
        "[req]\ndistinguished_name = dn\n[dn]\nC = Country\nC_min = 2\nC_max = 2\nCN = Name\nCN_min = 6\n",
        "error: p.toml: 1 problem found, nothing was written:
  p.toml:12:18: client.subject.CN: is 5 bytes, but the openssl config c.cnf allows at least 6 bytes for CN (CN_min/_max); openssl would ask again and every later answer would land in the wrong field. Change the value to fit
",
    );
}

#[test]
fn a_config_that_does_not_prompt_is_refused() {
    refused_with_config(
        "[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = fixed\n",
        "error: openssl config c.cnf: sets `prompt = no` in [req], so openssl takes the subject from the config and asks nothing; pkiforge cannot answer it. Remove that line or set OPENSSL_CONF to a config that prompts\n",
    );
}

#[test]
fn a_config_without_req_is_refused() {
    refused_with_config(
        "[ca]\ndefault_ca = x\n",
        "error: openssl config c.cnf: has no [req] section, so `openssl req` has no prompts to answer; set OPENSSL_CONF to a config with [req] distinguished_name = …\n",
    );
}

#[test]
fn a_profile_field_the_config_does_not_ask_for_is_refused() {
    refused_with_config(
        "[req]\ndistinguished_name = dn\n[dn]\ncommonName = Name\n",
        "error: p.toml: 1 problem found, nothing was written:
  p.toml:3:17: ca.subject.C: the openssl config c.cnf does not ask for countryName in [dn], so openssl cannot write it; remove it from the profile or use a config that asks for it
",
    );
}

#[test]
fn command_line_mistakes_exit_2_with_usage() {
    let tmp = tempfile::tempdir().unwrap();
    // (Without PKIFORGE_OPENSSL, which clap would show in the usage line.)
    let out = pkiforge(tmp.path())
        .args(["run"])
        .env_remove("PKIFORGE_OPENSSL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: the following required arguments were not provided:\n  <PROFILE>\n\nUsage: pkiforge run <PROFILE>\n\nFor more information, try '--help'.\n"
    );
    let out = pkiforge(tmp.path())
        .args(["run", "p.toml", "--timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: invalid value '0' for '--timeout <SECONDS>': 0 is not in 1..18446744073709551615\n\nFor more information, try '--help'.\n"
    );
    assert!(tree(tmp.path()).is_empty());
}

#[test]
fn an_openssl_path_that_does_not_exist_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("p.toml"), BASE);
    pkiforge(tmp.path())
        .args(["run", "p.toml", "--openssl", "/nowhere/openssl"])
        .assert()
        .code(2)
        .stderr("error: cannot run openssl at /nowhere/openssl: no such file\n  Check --openssl or PKIFORGE_OPENSSL.\n");
    assert_eq!(tree(tmp.path()), ["p.toml"]);
}
