//! The public half of a private key file, read in-process: what `openssl
//! pkey -pubout` prints, without a process per key. It reads the formats
//! openssl writes for the keys pkiforge makes: PKCS#8 (`PRIVATE KEY`; RSA,
//! EC and Ed25519), PKCS#1 (`RSA PRIVATE KEY`, OpenSSL 1.1.1's genrsa) and
//! SEC 1 (`EC PRIVATE KEY`).

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
}

/// A public key as a certificate carries it: the algorithm's OID (DER
/// contents), for EC the curve's OID, and the subjectPublicKey's bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: Vec<u8>,
    pub curve: Option<Vec<u8>>,
    pub bits: Vec<u8>,
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
        }
    }

    /// The kind of key, for messages: `RSA`, `EC`, `Ed25519` or the OID.
    pub fn kind(&self) -> String {
        let named = [(RSA, "RSA"), (EC, "EC"), (ED25519, "Ed25519")];
        match named
            .iter()
            .find(|(oid, _)| oid.as_bytes() == self.algorithm)
        {
            Some((_, name)) => name.to_string(),
            None => format!("{:02x?}", self.algorithm),
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
        })
    } else {
        Err(KeyError::Algorithm(algorithm.to_vec()))
    }
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
