//! The public half of a private key file, read in-process: what `openssl
//! pkey -pubout` prints, without a process per key. It reads the formats
//! openssl writes for the keys pkiforge makes: PKCS#8 (`PRIVATE KEY`; RSA,
//! EC and Ed25519), PKCS#1 (`RSA PRIVATE KEY`, OpenSSL 1.1.1's genrsa) and
//! SEC 1 (`EC PRIVATE KEY`). An ML-DSA private key (FIPS 204) does not
//! give its public key without the scheme's arithmetic; what it carries of
//! it (rho, and tr = SHAKE256(public key)) is enough to tell whether a
//! certificate's key is its own.

use x509_parser::oid_registry::{
    OID_KEY_TYPE_EC_PUBLIC_KEY as EC, OID_PKCS1_RSAENCRYPTION as RSA, OID_SIG_ED25519 as ED25519,
};
use x509_parser::pem::Pem;

/// Why the public half of a key file could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a valid PEM file ({0})")]
    NotPem(String),
    #[error("the private key is encrypted")]
    Encrypted,
    #[error("the file holds more than one private key")]
    Several,
    #[error("the file holds no private key")]
    NoKey,
    /// The DER of the key is cut short or lacks a field (named).
    #[error("the private key is not valid DER ({0})")]
    Der(String),
    #[error("not a valid Ed25519 key ({0})")]
    Ed25519(String),
    /// A PKCS#8 key of an algorithm pkiforge does not make (the OID's DER).
    #[error("pkiforge cannot read a private key of algorithm {0:02x?}")]
    Algorithm(Vec<u8>),
    #[error("the EC private key does not carry its public key")]
    NoPublicKey,
    /// An ML-DSA key written as its seed alone (openssl's `bare-seed`).
    #[error(
        "the ML-DSA private key holds its seed only; pkiforge reads the expanded key openssl writes by default (seed-priv or priv-only)"
    )]
    SeedOnly,
}

/// The OIDs of ML-DSA-44, -65 and -87 (DER contents), with the length of
/// each one's expanded private key (FIPS 204, table 2).
const ML_DSA: [(&[u8], &str, usize); 3] = [
    (
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x11],
        "ML-DSA-44",
        2560,
    ),
    (
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12],
        "ML-DSA-65",
        4032,
    ),
    (
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x13],
        "ML-DSA-87",
        4896,
    ),
];

/// What an ML-DSA private key tells of its public key: its first 32 bytes
/// (rho), and tr, the 64-byte SHAKE256 of the whole public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlDsaCommitment {
    rho: Vec<u8>,
    tr: Vec<u8>,
}

/// A public key as a certificate carries it: the algorithm's OID (DER
/// contents), for EC the curve's OID, and the subjectPublicKey's bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: Vec<u8>,
    pub curve: Option<Vec<u8>>,
    pub bits: Vec<u8>,
    /// For an ML-DSA private key: what it commits to instead of the bits,
    /// which are then empty.
    pub ml_dsa: Option<MlDsaCommitment>,
}

impl PublicKey {
    /// The certificate's key.
    pub fn of_certificate(cert: &x509_parser::certificate::X509Certificate<'_>) -> PublicKey {
        PublicKey::of_spki(&cert.tbs_certificate.subject_pki)
    }

    /// The key a SubjectPublicKeyInfo holds (a certificate's, or what
    /// `openssl pkey -pubout` prints).
    pub fn of_spki(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> PublicKey {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .filter(|p| p.tag() == x509_parser::der_parser::asn1_rs::Tag::Oid)
            .map(|p| p.data.to_vec());
        PublicKey {
            algorithm: spki.algorithm.algorithm.as_bytes().to_vec(),
            curve: if spki.algorithm.algorithm == EC {
                curve
            } else {
                None
            },
            bits: spki.subject_public_key.data.to_vec(),
            ml_dsa: None,
        }
    }

    /// Whether `theirs` (a certificate's key) is this key: the same, or
    /// for an ML-DSA private key, the public key it commits to.
    pub fn belongs_to(&self, theirs: &PublicKey) -> bool {
        match &self.ml_dsa {
            None => self == theirs,
            Some(c) => {
                use sha3::digest::{ExtendableOutput, Update, XofReader};
                let mut shake = sha3::Shake256::default();
                shake.update(&theirs.bits);
                let mut tr = [0u8; 64];
                shake.finalize_xof().read(&mut tr);
                theirs.algorithm == self.algorithm
                    && theirs.bits.starts_with(&c.rho)
                    && tr[..] == c.tr[..]
            }
        }
    }

    /// The kind of key, for messages: `RSA`, `EC`, `Ed25519` or the OID.
    pub fn kind(&self) -> String {
        let named = [(RSA, "RSA"), (EC, "EC"), (ED25519, "Ed25519")];
        let ml_dsa = ML_DSA.iter().find(|(oid, ..)| *oid == self.algorithm);
        match named
            .iter()
            .find(|(oid, _)| oid.as_bytes() == self.algorithm)
        {
            Some((_, name)) => name.to_string(),
            None => ml_dsa.map_or_else(|| format!("{:02x?}", self.algorithm), |m| m.1.into()),
        }
    }
}

/// The public key of the (one) private key in a PEM file.
pub fn public_key_of_pem(pem: &[u8]) -> Result<PublicKey, KeyError> {
    let mut found = None;
    for block in Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| KeyError::NotPem(e.to_string()))?;
        let key = match block.label.as_str() {
            "PRIVATE KEY" => pkcs8(&block.contents),
            "RSA PRIVATE KEY" => rsa(&block.contents),
            "EC PRIVATE KEY" => sec1(&block.contents, None),
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::Encrypted),
            _ => continue,
        }?;
        if found.replace(key).is_some() {
            return Err(KeyError::Several);
        }
    }
    found.ok_or(KeyError::NoKey)
}

fn malformed(what: &str) -> KeyError {
    KeyError::Der(what.to_string())
}

/// PKCS#8 PrivateKeyInfo: version, algorithm, privateKey, ...
fn pkcs8(der: &[u8]) -> Result<PublicKey, KeyError> {
    let info = Der::expect(der, 0x30, "PrivateKeyInfo")?.contents;
    let version = Der::expect(info, 0x02, "version")?;
    let algorithm = Der::expect(version.rest, 0x30, "algorithm")?;
    let private = Der::expect(algorithm.rest, 0x04, "privateKey")?;
    let oid = Der::expect(algorithm.contents, 0x06, "algorithm OID")?;
    let algorithm = oid.contents;
    if algorithm == RSA.as_bytes() {
        rsa(private.contents)
    } else if algorithm == EC.as_bytes() {
        let curve = Der::expect(oid.rest, 0x06, "curve OID")?.contents;
        sec1(private.contents, Some(curve))
    } else if algorithm == ED25519.as_bytes() {
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| KeyError::Ed25519(e.to_string()))?;
        Ok(PublicKey {
            algorithm: algorithm.to_vec(),
            curve: None,
            bits: ring::signature::KeyPair::public_key(&pair)
                .as_ref()
                .to_vec(),
            ml_dsa: None,
        })
    } else if let Some((_, _, len)) = ML_DSA.iter().find(|(oid, ..)| *oid == algorithm) {
        ml_dsa(private.contents, algorithm, *len)
    } else {
        Err(KeyError::Algorithm(algorithm.to_vec()))
    }
}

/// An ML-DSA privateKey (RFC 9881): `both` (SEQUENCE of the seed and the
/// expanded key), `expandedKey` (an OCTET STRING), or `seed` ([0]), which
/// is refused. The expanded key is rho ‖ K ‖ tr ‖ …, of `len` bytes.
fn ml_dsa(der: &[u8], algorithm: &[u8], len: usize) -> Result<PublicKey, KeyError> {
    let expanded = match der.first() {
        Some(0x30) => {
            let both = Der::expect(der, 0x30, "ML-DSA both")?.contents;
            let seed = Der::expect(both, 0x04, "ML-DSA seed")?;
            Der::expect(seed.rest, 0x04, "ML-DSA expandedKey")?.contents
        }
        Some(0x04) => Der::expect(der, 0x04, "ML-DSA expandedKey")?.contents,
        Some(0x80) => return Err(KeyError::SeedOnly),
        _ => return Err(malformed("ML-DSA private key")),
    };
    if expanded.len() != len {
        return Err(malformed("ML-DSA expandedKey length"));
    }
    Ok(PublicKey {
        algorithm: algorithm.to_vec(),
        curve: None,
        bits: Vec::new(),
        ml_dsa: Some(MlDsaCommitment {
            rho: expanded[..32].to_vec(),
            tr: expanded[64..128].to_vec(),
        }),
    })
}

/// PKCS#1 RSAPrivateKey: version, n, e, ...; the public key is
/// RSAPublicKey { n, e }, the two INTEGERs as they are.
fn rsa(der: &[u8]) -> Result<PublicKey, KeyError> {
    let key = Der::expect(der, 0x30, "RSAPrivateKey")?.contents;
    let version = Der::expect(key, 0x02, "version")?;
    let n = Der::expect(version.rest, 0x02, "modulus")?;
    let e = Der::expect(n.rest, 0x02, "publicExponent")?;
    let mut inner = n.whole.to_vec();
    inner.extend_from_slice(e.whole);
    Ok(PublicKey {
        algorithm: RSA.as_bytes().to_vec(),
        curve: None,
        bits: der_element(0x30, &inner),
        ml_dsa: None,
    })
}

/// SEC 1 ECPrivateKey: version, privateKey, [0] curve, [1] public point.
/// `curve` is PKCS#8's, when the key came wrapped in one.
fn sec1(der: &[u8], curve: Option<&[u8]>) -> Result<PublicKey, KeyError> {
    let key = Der::expect(der, 0x30, "ECPrivateKey")?.contents;
    let version = Der::expect(key, 0x02, "version")?;
    let mut rest = Der::expect(version.rest, 0x04, "privateKey")?.rest;
    let (mut named, mut point) = (curve.map(<[u8]>::to_vec), None);
    while !rest.is_empty() {
        let field = Der::read(rest)?;
        match field.tag {
            0xa0 => {
                named = Some(
                    Der::expect(field.contents, 0x06, "curve OID")?
                        .contents
                        .to_vec(),
                )
            }
            0xa1 => point = Some(Der::expect(field.contents, 0x03, "publicKey")?.contents),
            _ => {}
        }
        rest = field.rest;
    }
    // A BIT STRING's first byte counts the unused bits: 0 for a point.
    let Some([0, point @ ..]) = point else {
        return Err(KeyError::NoPublicKey);
    };
    Ok(PublicKey {
        algorithm: EC.as_bytes().to_vec(),
        curve: named,
        bits: point.to_vec(),
        ml_dsa: None,
    })
}

/// One DER element and what follows it.
struct Der<'a> {
    tag: u8,
    whole: &'a [u8],
    contents: &'a [u8],
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn read(input: &'a [u8]) -> Result<Der<'a>, KeyError> {
        let (&tag, after) = input.split_first().ok_or_else(|| malformed("truncated"))?;
        let (&first, after) = after.split_first().ok_or_else(|| malformed("truncated"))?;
        let (len, after) = if first < 0x80 {
            (usize::from(first), after)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || after.len() < n {
                return Err(malformed("bad length"));
            }
            let len = after[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &after[n..])
        };
        if after.len() < len {
            return Err(malformed("truncated"));
        }
        let header = input.len() - after.len();
        Ok(Der {
            tag,
            whole: &input[..header + len],
            contents: &after[..len],
            rest: &after[len..],
        })
    }

    fn expect(input: &'a [u8], tag: u8, what: &str) -> Result<Der<'a>, KeyError> {
        let der = Der::read(input)?;
        if der.tag == tag {
            Ok(der)
        } else {
            Err(malformed(&format!("no {what}")))
        }
    }
}

fn der_element(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ML-DSA-44 PKCS#8 key: version, algorithm, and `privateKey`.
    fn ml_dsa_44(private: &[u8]) -> Vec<u8> {
        let oid = der_element(0x06, ML_DSA[0].0);
        let mut body = der_element(0x02, &[0]);
        body.extend(der_element(0x30, &oid));
        body.extend(der_element(0x04, private));
        der_element(0x30, &body)
    }

    #[test]
    fn an_ml_dsa_key_is_matched_by_what_it_commits_to() {
        // A made-up public key and an expanded key that commits to it:
        // rho its first 32 bytes, tr its SHAKE256.
        let public: Vec<u8> = (0..1312u32).map(|i| (i * 7) as u8).collect();
        let mut tr = [0u8; 64];
        {
            use sha3::digest::{ExtendableOutput, Update, XofReader};
            let mut shake = sha3::Shake256::default();
            shake.update(&public);
            shake.finalize_xof().read(&mut tr);
        }
        let mut expanded = public[..32].to_vec();
        expanded.extend([0u8; 32]);
        expanded.extend(tr);
        expanded.resize(2560, 1);
        let mut both = der_element(0x04, &[9u8; 32]);
        both.extend(der_element(0x04, &expanded));
        let cert = PublicKey {
            algorithm: ML_DSA[0].0.to_vec(),
            curve: None,
            bits: public.clone(),
            ml_dsa: None,
        };
        for form in [der_element(0x30, &both), der_element(0x04, &expanded)] {
            let key = pkcs8(&ml_dsa_44(&form)).unwrap();
            assert!(key.belongs_to(&cert));
            assert_eq!(key.kind(), "ML-DSA-44");
            let mut other = cert.clone();
            other.bits[100] ^= 1;
            assert!(!key.belongs_to(&other), "tr tells another key");
        }
        let seed = der_element(0x80, &[9u8; 32]);
        assert_eq!(pkcs8(&ml_dsa_44(&seed)), Err(KeyError::SeedOnly));
        let short = der_element(0x04, &expanded[..100]);
        assert_eq!(
            pkcs8(&ml_dsa_44(&short)),
            Err(KeyError::Der("ML-DSA expandedKey length".into()))
        );
    }

    #[test]
    fn lengths_are_read_and_written_alike() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let contents = vec![7u8; len];
            let der = der_element(0x04, &contents);
            let read = Der::read(&der).unwrap();
            assert_eq!((read.tag, read.contents.len()), (0x04, len));
            assert_eq!(read.whole, der.as_slice());
            assert!(read.rest.is_empty());
        }
    }

    #[test]
    fn garbage_is_refused_by_name() {
        assert_eq!(
            public_key_of_pem(b"hello").unwrap_err().to_string(),
            "the file holds no private key"
        );
        let pem = b"-----BEGIN PRIVATE KEY-----\nMAMCAQ==\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            public_key_of_pem(pem).unwrap_err().to_string(),
            "the private key is not valid DER (truncated)"
        );
        let pem =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(
            public_key_of_pem(pem).unwrap_err().to_string(),
            "the private key is encrypted"
        );
    }
}
