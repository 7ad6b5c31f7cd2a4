//! The handshake's throwaway certificates as a plan: a foreign CA and a
//! client certificate it signed, which every server must refuse, and, when
//! an intermediate's key is at hand, a server certificate for a name outside
//! its constraints, signed with it, which every client must refuse. Pure
//! data, made by the builders every other step is made by: `handshake
//! --dry-run` prints these steps, and the handshake runs them in its
//! scratch directory.

use std::path::Path;

use crate::pki::constraints::{Constraint, violation};
use crate::pki::names::Role;
use crate::pki::names::handshake::FOREIGN_CNF as FOREIGN_CNF_FILE;
use crate::pki::profile::{Curve, Entity, KeySpec, P12};
use crate::pki::san::San;
use crate::plan::prompts::Answers;
use crate::plan::step::{Action, Step};
use crate::plan::{self, ca_cert_step, csr_step, genkey, insert_before, leaf_extensions};

/// The file stems of the throwaway certificates, in the scratch directory.
pub const FOREIGN_CA: &str = "foreign-ca";
pub const FOREIGN_CLIENT: &str = "foreign";
pub const OUTSIDE: &str = "outside";
/// The name of the certificate made outside an intermediate's constraints
/// (.invalid is reserved, RFC 2606).
pub const OUTSIDE_HOST: &str = "outside-constraints.pkiforge.invalid";

/// The throwaway CA's own config, so that its certificate is a proper v3 CA
/// whatever the active openssl.cnf says: the only thing wrong with the
/// foreign client's certificate must be who signed it.
const FOREIGN_CNF: &str = "[req]\nprompt = no\ndistinguished_name = dn\nx509_extensions = ca_ext\n[dn]\nCN = pkiforge foreign CA\n\
    [ca_ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n";
/// The common names of the throwaway CA (its config's) and of its client.
const FOREIGN_CA_CN: &str = "pkiforge foreign CA";
const FOREIGN_CLIENT_CN: &str = "pkiforge foreign client";

/// The throwaway certificates last a day: they live as long as one handshake.
const DAYS: u32 = 1;

/// The intermediate that signs the certificate outside its constraints,
/// with its key where it lives: `dir` is the PKI's directory, absolute (the
/// steps run in the scratch directory, and write nothing in the PKI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// Its file stem.
    pub name: String,
    pub dir: String,
    /// The name outside its constraints ([`outside_host`]).
    pub host: String,
}

/// A DNS name outside an intermediate's constraints: [`OUTSIDE_HOST`] when
/// they keep it out (a permitted list without it), else that name's first
/// label below an excluded domain. None when no such name is outside
/// (constraints on IP addresses alone): then no server is made outside.
pub fn outside_host(permitted: &[Constraint], excluded: &[Constraint]) -> Option<String> {
    let below = excluded.iter().filter_map(|c| match c {
        Constraint::Dns(domain) => Some(format!("outside-constraints.{domain}")),
        _ => None,
    });
    std::iter::once(OUTSIDE_HOST.to_string())
        .chain(below)
        .find(|host| violation(&San::host(host), permitted, excluded).is_some())
}

/// Every throwaway certificate's steps: the foreign CA and its client, then
/// with a signer the server outside its constraints.
pub fn steps(signer: Option<&Signer>) -> Vec<Step> {
    let mut steps = foreign_steps();
    steps.extend(signer.map(outside_steps).into_iter().flatten());
    steps
}

/// The foreign CA's config, key and certificate, then a client's key, CSR
/// and certificate signed by it, as a good client's are by the PKI's CA.
fn foreign_steps() -> Vec<Step> {
    let ca = throwaway(FOREIGN_CA, Role::Ca, None);
    let client = throwaway(FOREIGN_CLIENT, Role::Client, Some("localhost"));
    let config = plan::step(
        "cnf",
        &ca,
        "The throwaway CA's own config: a CA the PKI does not trust.".into(),
        Action::Write {
            text: FOREIGN_CNF.into(),
            out: FOREIGN_CNF_FILE.into(),
        },
        &[],
        &[FOREIGN_CNF_FILE],
    );
    let key = genkey(&ca, "The throwaway CA's key.".into());
    let mut crt = ca_cert_step(&ca, subject(FOREIGN_CA_CN), &[], false);
    crt.heading = "Its self-signed certificate, as its config says.".into();
    given(&mut crt, Some(FOREIGN_CNF_FILE), None);
    let client_key = genkey(&client, "A key for a client of the throwaway CA.".into());
    let mut csr = csr_step(&client, subject(FOREIGN_CLIENT_CN));
    given(&mut csr, Some(FOREIGN_CNF_FILE), Some(FOREIGN_CLIENT_CN));
    let sign = sign_step(
        &client,
        &ca,
        FOREIGN_CLIENT_CN,
        "The throwaway CA signs the client: every server must refuse it.",
    );
    vec![config, key, crt, client_key, csr, sign]
}

/// A server's key, CSR and certificate for a name outside the constraints,
/// signed with the intermediate's certificate and key where they live; the
/// serial file is the scratch directory's.
fn outside_steps(signer: &Signer) -> Vec<Step> {
    let host = signer.host.as_str();
    let server = throwaway(OUTSIDE, Role::Server, Some(host));
    let inter = throwaway(&signer.name, Role::Intermediate, None);
    let files = inter.files();
    let key = genkey(
        &server,
        "A key for a server outside the name constraints.".into(),
    );
    let mut csr = csr_step(&server, subject(host));
    given(&mut csr, None, Some(host));
    let mut sign = sign_step(
        &server,
        &inter,
        host,
        "The intermediate signs a name outside its constraints: every client must refuse it.",
    );
    for (flag, file) in [("-CA", files.crt()), ("-CAkey", files.key())] {
        let at = format!("{}/{file}", signer.dir);
        plan::name_at(&mut sign, &[flag], Path::new(&file), &at);
    }
    // openssl's own choice of serial file is beside the CA's certificate,
    // in the PKI: this one is the scratch directory's.
    insert_before(&mut sign, "-CAcreateserial", &["-CAserial", &files.srl()]);
    vec![key, csr, sign]
}

/// `ca` signs `leaf` (whose common name is `cn`) as a strict leaf of its
/// role, for a day.
fn sign_step(leaf: &Entity, ca: &Entity, cn: &str, heading: &str) -> Step {
    let sans: Vec<String> = leaf.san.iter().map(|s| s.to_string()).collect();
    let extensions = leaf_extensions(leaf, &sans, true);
    let expected = subject(cn).expected;
    let mut s = plan::sign_step_with(leaf, ca, expected, extensions, Some(DAYS));
    s.heading = heading.into();
    s
}

/// A `req` step reads `config` instead of the active openssl.cnf, and
/// takes the common name `cn` from the command line (`-subj`), not from
/// answers typed at prompts.
fn given(req: &mut Step, config: Option<&str>, cn: Option<&str>) {
    if let Some(config) = config {
        insert_before(req, "-key", &["-config", config]);
        req.inputs.push(config.into());
    }
    if let Some(cn) = cn {
        insert_before(req, "-key", &["-subj", &format!("/CN={cn}")]);
    }
}

/// A subject given on the command line (`-subj /CN=…`): nothing is typed
/// at openssl's prompts.
fn subject(cn: &str) -> Answers {
    Answers {
        lines: Vec::new(),
        expected: vec![("CN".into(), cn.into())],
        utf8: false,
    }
}

/// A throwaway entity: an EC P-256 key (quick to make, and every TLS stack
/// takes it), valid for a day.
fn throwaway(name: &str, role: Role, host: Option<&str>) -> Entity {
    Entity {
        role,
        name: name.into(),
        path: "handshake".into(),
        key: KeySpec::Ec(Curve::P256),
        days: Some(DAYS),
        p12: P12::No,
        subject: Vec::new(),
        san: host.map(San::host).into_iter().collect(),
        fixture: None,
        pointers: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::step::Arg;
    use std::path::PathBuf;

    fn lines(steps: &[Step]) -> Vec<String> {
        steps.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_foreign_ca_and_its_client_are_planned_as_the_pkis_own_are() {
        let steps = steps(None);
        let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "foreign-ca-cnf",
                "foreign-ca-key",
                "foreign-ca-crt",
                "foreign-key",
                "foreign-csr",
                "foreign-crt"
            ]
        );
        let shown = lines(&steps);
        assert_eq!(
            shown[2],
            "openssl req -new -x509 -config foreign.cnf -key foreign-ca.key -days 1 -out foreign-ca.crt"
        );
        assert_eq!(
            shown[4],
            "openssl req -new -config foreign.cnf -subj \"/CN=pkiforge foreign client\" -key foreign.key -addext \"subjectAltName = DNS:localhost\" -out foreign.csr"
        );
        assert!(shown[5].starts_with(
            "openssl x509 -req -in foreign.csr -CA foreign-ca.crt -CAkey foreign-ca.key -CAcreateserial -extfile <(printf \"subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=clientAuth\\n"
        ));
        // The config is written before any key, and read by both requests.
        let cnf = PathBuf::from(FOREIGN_CNF_FILE);
        assert_eq!(steps[0].outputs, std::slice::from_ref(&cnf));
        assert!(steps[2].inputs.contains(&cnf) && steps[4].inputs.contains(&cnf));
        // Nothing is typed at a prompt; each subject is checked.
        for s in &steps {
            assert!(
                matches!(&s.action, Action::Openssl { stdin, .. } if stdin.is_empty())
                    || s.id == "foreign-ca-cnf"
            );
        }
        let subject = |i: usize| steps[i].subject_check.clone().unwrap().expected;
        assert_eq!(subject(2), [("CN".into(), "pkiforge foreign CA".into())]);
        assert_eq!(
            subject(5),
            [("CN".into(), "pkiforge foreign client".into())]
        );
    }

    #[test]
    fn the_outside_name_is_one_the_constraints_keep_out() {
        let c = |s: &str| Constraint::parse(s).unwrap();
        let permitted = [c("DNS:workshop.test")];
        assert_eq!(outside_host(&permitted, &[]).as_deref(), Some(OUTSIDE_HOST));
        let excluded = [c("IP:10.0.0.0/8"), c("DNS:evil.test")];
        assert_eq!(
            outside_host(&[], &excluded).as_deref(),
            Some("outside-constraints.evil.test")
        );
        // Nothing keeps a DNS name out: no server is made outside.
        assert_eq!(outside_host(&[c("IP:127.0.0.0/8")], &[]), None);
        assert_eq!(outside_host(&[], &[]), None);
    }

    #[test]
    fn the_outside_server_is_signed_where_the_intermediates_key_lives_and_writes_only_here() {
        let signer = Signer {
            name: "intermediate".into(),
            dir: "/srv/pki dir".into(),
            host: OUTSIDE_HOST.into(),
        };
        let steps = steps(Some(&signer));
        assert_eq!(steps.len(), 9);
        let sign = &steps[8];
        assert_eq!(sign.id, "outside-crt");
        let shown = sign.to_string();
        assert!(
            shown.starts_with("openssl x509 -req -in outside.csr -CA \"/srv/pki dir/intermediate.crt\" -CAkey \"/srv/pki dir/intermediate.key\" -CAserial intermediate.srl -CAcreateserial -extfile <(printf \"subjectAltName=DNS:outside-constraints.pkiforge.invalid\\n"),
            "{shown}"
        );
        assert!(shown.ends_with(" -days 1 -out outside.crt"), "{shown}");
        assert_eq!(
            steps[7].to_string(),
            "openssl req -new -subj /CN=outside-constraints.pkiforge.invalid -key outside.key -addext \"subjectAltName = DNS:outside-constraints.pkiforge.invalid\" -out outside.csr"
        );
        // Every file a step writes is a bare name: in the directory it runs in.
        for s in &steps {
            for out in &s.outputs {
                assert_eq!(out.components().count(), 1, "{}", out.display());
            }
        }
        // What the signing reads here: the CSR and the serial file only.
        assert_eq!(
            sign.inputs,
            [
                PathBuf::from("outside.csr"),
                PathBuf::from("intermediate.srl")
            ]
        );
        let Action::Openssl { args, .. } = &sign.action else {
            panic!("{shown}")
        };
        assert!(!args.contains(&Arg::lit("intermediate.key")));
    }
}
