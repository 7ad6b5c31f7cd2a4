//! Writing to the terminal: control characters from certificates, profiles
//! or openssl's own output are shown escaped, never sent raw, and a closed
//! pipe (`pkiforge inspect DIR | head`) ends the output quietly.

use std::io::Write;

/// `s` with every control character other than newline and tab escaped as
/// `\x1b`, `\r`, … (and DEL and the C1 controls as `\u{9b}`).
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(is_escaped) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if is_escaped(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_escaped(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

fn is_escaped(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Writes `text` to stdout, escaped; a closed pipe is not an error.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(escape_controls(text).as_bytes())
        .and_then(|_| out.flush());
}

/// Writes one line to stderr, escaped; a closed stderr is not an error.
pub fn stderr_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", escape_controls(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_text_kept() {
        assert_eq!(
            escape_controls("CN=\u{1b}[31mred\r\u{7}\tZürich\n\u{9b}"),
            "CN=\\x1b[31mred\\r\\x07\tZürich\n\\u{9b}"
        );
        assert_eq!(escape_controls("plain"), "plain");
    }
}
