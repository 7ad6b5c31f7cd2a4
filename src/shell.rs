//! Quoting for bash: how the transcript writes a word so that bash reads it
//! back as exactly that word, and a comment so that it stays one comment.
//! These are the only ways text reaches `commands.sh`: a line break or a
//! carriage return written raw would end a comment and start a command.

use std::ffi::OsStr;

/// Characters that never need quoting in bash.
fn is_shell_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_./:=,@%+-".contains(c)
}

/// Characters written as escapes, never raw: control characters (line
/// breaks among them), and the marks that reorder how a line is displayed,
/// so that what a reader sees is what bash runs.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Renders one argument as a bash word: bare when it is safe, in double
/// quotes when it holds only printable characters, else as `$'…'` with
/// the hidden ones escaped.
pub fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(is_shell_safe) {
        word.to_string()
    } else if word.chars().any(is_hidden) {
        ansi_c_quote(word.as_bytes())
    } else {
        format!("\"{}\"", double_quote_escape(word))
    }
}

/// [`shell_word`] for a path or argument that need not be UTF-8: bytes
/// that are not go in `$'…'` as `\xHH`.
pub fn shell_word_os(word: &OsStr) -> String {
    match word.to_str() {
        Some(text) => shell_word(text),
        None => ansi_c_quote(word.as_encoded_bytes()),
    }
}

/// A comment line (without its newline): `# ` and the text, with every
/// hidden character escaped as in `$'…'`, so that it cannot end the comment.
pub fn comment(text: &str) -> String {
    format!("# {}", escape_hidden(text.as_bytes(), false))
}

/// `$'…'`: bash's ANSI-C quoting, which spells every byte visibly.
fn ansi_c_quote(bytes: &[u8]) -> String {
    format!("$'{}'", escape_hidden(bytes, true))
}

/// The bytes as text with the hidden characters (and bytes that are not
/// UTF-8) escaped: `\n`, `\r`, `\t`, else `\xHH` per byte. `quoted`: for
/// inside `$'…'`, where `\` and `'` are escaped too.
fn escape_hidden(bytes: &[u8], quoted: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\\' | '\'' if quoted => {
                    out.push('\\');
                    out.push(c);
                }
                c if is_hidden(c) => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Escapes the characters that bash interprets inside double quotes.
pub fn double_quote_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn line_breaks_and_odd_bytes_are_spelled_out() {
        assert_eq!(
            shell_word("room\ntouch PWNED\n#.toml"),
            "$'room\\ntouch PWNED\\n#.toml'"
        );
        assert_eq!(shell_word("a'b\\c\r"), "$'a\\'b\\\\c\\r'");
        assert_eq!(shell_word("\u{202e}x"), "$'\\xe2\\x80\\xaex'");
        assert_eq!(
            shell_word_os(OsStr::from_bytes(b"dir\xff/x y")),
            "$'dir\\xff/x y'"
        );
        assert_eq!(shell_word_os(OsStr::new("ca.crt")), "ca.crt");
        assert_eq!(
            comment("pkiforge run x\n\rtouch PWNED"),
            "# pkiforge run x\\n\\rtouch PWNED"
        );
    }
}
