//! A CA's database as `openssl ca` keeps it (`NAME.index`, its index.txt):
//! one line per certificate the CA issued, valid or revoked. Read here;
//! written only by openssl.

use std::path::Path;

use crate::pki::error::ReadError;
use crate::pki::names::Files;

/// One line: `STATUS\tEXPIRES\tREVOKED\tSERIAL\tFILE\tSUBJECT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `V` valid, `R` revoked, `E` expired.
    pub status: char,
    /// The serial in hex, upper case, without leading zeros.
    pub serial: String,
    pub subject: String,
}

/// A serial as the database compares them: hex, upper case, without
/// colons or leading zeros.
pub fn serial_key(serial: &str) -> String {
    let hex: String = serial
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match hex.trim_start_matches('0') {
        "" => "0".to_string(),
        rest => rest.to_string(),
    }
}

/// The records of an index's text; a line that is not one is skipped.
pub fn parse(text: &str) -> Vec<Record> {
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let status = cols.first()?.chars().next()?;
            (cols.len() >= 6).then(|| Record {
                status,
                serial: serial_key(cols[3]),
                subject: cols[5].to_string(),
            })
        })
        .collect()
}

/// The records of `ca`'s database in `dir`: none when it has none.
pub fn read(dir: &Path, ca: &Files) -> Result<Vec<Record>, ReadError> {
    let path = dir.join(ca.index());
    if !path.exists() {
        return Ok(Vec::new());
    }
    let bytes = crate::files::read_regular(&path)?;
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_reads_back() {
        let text = "V\t270101000000Z\t\t01\tunknown\t/CN=a\nR\t270101000000Z\t261128000000Z,keyCompromise\t0A3F\tunknown\t/CN=b\nnot a line\n";
        let records = parse(text);
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].status, records[0].serial.as_str()), ('V', "1"));
        assert_eq!(
            (records[1].status, records[1].serial.as_str()),
            ('R', "A3F")
        );
        assert_eq!(serial_key("00:0a:3f"), "A3F");
    }
}
