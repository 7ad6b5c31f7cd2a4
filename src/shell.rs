//! Quoting for bash: how the transcript writes a word so that bash reads it
//! back as exactly that word.

/// Characters that never need quoting in bash.
fn is_shell_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_./:=,@%+-".contains(c)
}

/// Renders one argument as a bash word: bare when it is safe, else in double quotes.
pub fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(is_shell_safe) {
        word.to_string()
    } else {
        format!("\"{}\"", double_quote_escape(word))
    }
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
