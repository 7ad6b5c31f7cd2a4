//! The certificate that signs a CA's OCSP answers, when its profile asks
//! for one (`ocsp_signer = true`): a key and a certificate the CA signs
//! for OCSP signing alone (extendedKeyUsage OCSPSigning, RFC 6960 §4.2.2.2),
//! carrying id-pkix-ocsp-nocheck (§4.2.2.2.1), so that clients do not ask
//! about the responder itself. `serve` and `handshake` then sign the CA's
//! answers with it. Planned as every certificate is: the CA signs its CSR.

use crate::pki::profile::{Entity, P12};
use crate::plan::prompts::Answers;
use crate::plan::step::{Section, Step};
use crate::plan::{csr_step, genkey, insert_before, leaf_days, sign_step_with};

/// What the signer's certificate may do: sign OCSP answers, nothing else.
const EXTENSIONS: &str = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,OCSPSigning\nnoCheck=ignored\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer";

/// The signer of `ca`'s answers: its key (of the CA's type), its CSR with
/// the common name `NAME OCSP responder` (given on the command line, so
/// nothing is typed at a prompt), and its certificate, signed by `ca` for
/// as long as a leaf's. None when the profile asks for no signer.
pub(crate) fn steps(ca: &Entity, strict: bool) -> Vec<Step> {
    if !ca.pointers.ocsp_signer {
        return Vec::new();
    }
    let files = ca.files().ocsp_signer();
    let signer = Entity {
        name: files.name.clone(),
        path: format!("{}.ocsp_signer", ca.path),
        days: None,
        p12: P12::No,
        subject: Vec::new(),
        san: Vec::new(),
        fixture: None,
        pointers: Default::default(),
        ..ca.clone()
    };
    let cn = format!("{} OCSP responder", ca.name);
    let answers = Answers {
        lines: Vec::new(),
        expected: vec![("CN".into(), cn.clone())],
        utf8: false,
    };
    let key = genkey(
        &signer,
        format!(
            "A key for the certificate that signs the OCSP answers of {}.",
            ca.name
        ),
    );
    let mut csr = csr_step(&signer, answers.clone());
    csr.heading = "Its CSR; the common name is given on the command line.".into();
    insert_before(&mut csr, "-key", &["-subj", &format!("/CN={cn}")]);
    // The CA signs it without pointers: a client does not ask about it.
    let unpointed = Entity {
        pointers: Default::default(),
        ..ca.clone()
    };
    let days = leaf_days(&signer, strict);
    let mut crt = sign_step_with(
        &signer,
        &unpointed,
        answers.expected,
        EXTENSIONS.into(),
        days,
    );
    crt.heading = format!(
        "{} signs it for OCSP signing alone: its answers are signed with it.",
        ca.name
    );
    let section = Section::of(ca.role);
    let mut steps = vec![key, csr, crt];
    for s in &mut steps {
        s.section = section;
    }
    steps
}
