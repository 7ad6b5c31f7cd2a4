//! A reader for OpenSSL's config file format (NCONF), as far as pkiforge needs
//! it: sections in file order, `.include`, quotes, escapes, line continuation
//! and `$var` expansion, with OpenSSL's rules for repeated keys.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One parsed config file (with its includes).
///
/// Reading is linear in the size of the config: sections and keys are
/// found through hash maps, and a repeated key leaves a hole where it was
/// (filled in when the whole file is read) rather than shifting the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Sections in the order first seen; entries in openssl's order (a
    /// repeated key moves to where it was last set, as in conf_def.c).
    sections: Vec<(String, Vec<(String, String)>)>,
    /// Where each section is in `sections`.
    section_index: HashMap<String, usize>,
    /// Per section, where each key is in its entries.
    key_index: Vec<HashMap<String, usize>>,
    /// Entries replaced by a later line of the same key, until `compact`.
    holes: Vec<Vec<usize>>,
    /// Whether an `.include` names a relative path.
    pub relative_includes: bool,
}

const DEFAULT_SECTION: &str = "default";

/// Why an openssl config could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Unreadable(#[from] crate::files::ReadError),
    /// An included directory that could not be listed.
    #[error("{}: {source}", path.display())]
    Unlistable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: .include nested too deeply", path.display())]
    TooDeep { path: PathBuf },
    /// A line that is neither a section, a directive nor `key = value`.
    #[error("line {line:?} has no '='")]
    NoEquals { line: String },
}

impl Config {
    /// Reads a config file, following `.include` directives.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut section = DEFAULT_SECTION.to_string();
        config.read_file(path, &mut section, 0)?;
        config.compact();
        Ok(config)
    }

    /// Parses config text (no includes are followed relative to a file).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut section = DEFAULT_SECTION.to_string();
        config.read_text(text, Path::new("."), &mut section, 0)?;
        config.compact();
        Ok(config)
    }

    fn read_file(
        &mut self,
        path: &Path,
        section: &mut String,
        depth: usize,
    ) -> Result<(), ConfigError> {
        if depth > 10 {
            return Err(ConfigError::TooDeep {
                path: path.to_path_buf(),
            });
        }
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| ConfigError::Unlistable {
                    path: path.to_path_buf(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| {
                        x.eq_ignore_ascii_case("cnf") || x.eq_ignore_ascii_case("conf")
                    })
                })
                .collect();
            files.sort();
            for f in files {
                self.read_file(&f, section, depth + 1)?;
            }
            return Ok(());
        }
        let bytes = crate::files::read_regular(path)?;
        let text = String::from_utf8_lossy(&bytes);
        let base = path.parent().unwrap_or(Path::new("."));
        self.read_text(&text, base, section, depth)
    }

    fn read_text(
        &mut self,
        text: &str,
        base: &Path,
        section: &mut String,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let mut pending = String::new();
        for raw in text.lines() {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            // A line ending in an unescaped backslash continues on the next.
            if ends_with_continuation(raw) {
                pending.push_str(&raw[..raw.len() - 1]);
                continue;
            }
            pending.push_str(raw);
            let line = std::mem::take(&mut pending);
            self.read_line(&line, base, section, depth)?;
        }
        if !pending.is_empty() {
            let line = std::mem::take(&mut pending);
            self.read_line(&line, base, section, depth)?;
        }
        Ok(())
    }

    fn read_line(
        &mut self,
        line: &str,
        base: &Path,
        section: &mut String,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let line = strip_comment(line);
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.split(']').next().unwrap_or("").trim();
            *section = self.expand(name, section);
            self.section_mut(section);
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix(".include") {
            let target = rest.trim_start().trim_start_matches('=').trim();
            let target = unquote(&self.expand(target, section));
            let mut path = PathBuf::from(&target);
            self.relative_includes |= path.is_relative();
            if path.is_relative() {
                if let Some(dir) = std::env::var_os("OPENSSL_CONF_INCLUDE") {
                    path = PathBuf::from(dir).join(&target);
                } else if !path.exists() {
                    path = base.join(&target);
                }
            }
            // OpenSSL skips an include it cannot open, with a warning only.
            if path.exists() {
                self.read_file(&path, section, depth + 1)?;
            }
            return Ok(());
        }
        if line.starts_with(".pragma") {
            return Ok(());
        }
        let Some((key, value)) = line.split_once('=') else {
            // openssl rejects such a line ("missing equal sign"); so do we.
            return Err(ConfigError::NoEquals {
                line: line.to_string(),
            });
        };
        let key = key.trim();
        let (target_section, key) = match key.split_once("::") {
            Some((s, k)) => (s.trim().to_string(), k.trim().to_string()),
            None => (section.clone(), key.to_string()),
        };
        let value = self.expand(&unquote(value.trim()), &target_section);
        let s = self.section_mut(&target_section);
        let entries = &mut self.sections[s].1;
        if let Some(old) = self.key_index[s].insert(key.clone(), entries.len()) {
            self.holes[s].push(old);
        }
        entries.push((key, value));
        Ok(())
    }

    /// The index of a section, created if new.
    fn section_mut(&mut self, name: &str) -> usize {
        if let Some(&i) = self.section_index.get(name) {
            return i;
        }
        self.sections.push((name.to_string(), Vec::new()));
        self.key_index.push(HashMap::new());
        self.holes.push(Vec::new());
        let i = self.sections.len() - 1;
        self.section_index.insert(name.to_string(), i);
        i
    }

    /// Drops the entries that later lines replaced, and re-indexes.
    fn compact(&mut self) {
        for (s, (_, entries)) in self.sections.iter_mut().enumerate() {
            if self.holes[s].is_empty() {
                continue;
            }
            let holes: std::collections::HashSet<usize> = self.holes[s].drain(..).collect();
            let mut i = 0;
            entries.retain(|_| {
                i += 1;
                !holes.contains(&(i - 1))
            });
            self.key_index[s] = entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect();
        }
    }

    /// The entries of a section in openssl's order, or `None` if absent.
    pub fn section(&self, name: &str) -> Option<&[(String, String)]> {
        self.section_index
            .get(name)
            .map(|&i| self.sections[i].1.as_slice())
    }

    /// A value from `section`, falling back to the default section as NCONF_get_string does.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        let find = |s: &str| {
            let i = *self.section_index.get(s)?;
            let at = *self.key_index[i].get(key)?;
            Some(self.sections[i].1[at].1.as_str())
        };
        find(section).or_else(|| find(DEFAULT_SECTION))
    }

    /// A number, as NCONF_get_number reads it (leading decimal digits).
    pub fn get_number(&self, section: &str, key: &str) -> Option<i64> {
        let v = self.get(section, key)?.trim();
        let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    }

    /// Expands `$var`, `${var}`, `$(var)` and `$section::var` (ENV:: reads the environment).
    fn expand(&self, value: &str, section: &str) -> String {
        if !value.contains('$') {
            return value.to_string();
        }
        let chars: Vec<char> = value.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' && i + 1 < chars.len() && chars[i + 1] == '$' {
                out.push('$');
                i += 2;
                continue;
            }
            if c != '$' {
                out.push(c);
                i += 1;
                continue;
            }
            let (close, start) = match chars.get(i + 1) {
                Some('{') => (Some('}'), i + 2),
                Some('(') => (Some(')'), i + 2),
                _ => (None, i + 1),
            };
            let mut j = start;
            let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
            while j < chars.len()
                && (is_name(chars[j])
                    || (chars[j] == ':' && chars.get(j + 1) == Some(&':'))
                    || (chars[j] == ':' && j > 0 && chars[j - 1] == ':'))
            {
                j += 1;
            }
            let name: String = chars[start..j].iter().collect();
            let end = match close {
                Some(cl) if chars.get(j) == Some(&cl) => j + 1,
                Some(_) => j,
                None => j,
            };
            let (sec, var) = match name.split_once("::") {
                Some((s, v)) => (s.to_string(), v.to_string()),
                None => (section.to_string(), name.clone()),
            };
            let found = if sec == "ENV" {
                std::env::var(&var).ok()
            } else {
                self.get(&sec, &var).map(str::to_string)
            };
            out.push_str(&found.unwrap_or_default());
            i = end.max(i + 1);
        }
        out
    }
}

fn ends_with_continuation(line: &str) -> bool {
    let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
    trailing % 2 == 1
}

/// Removes a `#` comment that is not inside quotes and not escaped.
fn strip_comment(line: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', _) => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            ('"' | '\'', None) => {
                quote = Some(c);
                out.push(c);
            }
            (q, Some(open)) if q == open => {
                quote = None;
                out.push(c);
            }
            ('#', None) => break,
            _ => out.push(c),
        }
    }
    out
}

/// Removes quotes and resolves backslash escapes, as conf_def.c's str_copy does.
fn unquote(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', _) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{8}'),
                Some('t') => out.push('\t'),
                Some('$') => out.push_str("\\$"),
                Some(n) => out.push(n),
                None => {}
            },
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keep_file_order_and_repeated_keys_move_to_the_end() {
        let c = Config::parse(
            "HOME = .\n[ req ]\ndistinguished_name = dn # comment\n[dn]\nb = 1\na = 2\nb = 3\n",
        )
        .unwrap();
        assert_eq!(c.get("req", "distinguished_name"), Some("dn"));
        assert_eq!(
            c.get("req", "HOME"),
            Some("."),
            "falls back to the default section"
        );
        let keys: Vec<_> = c
            .section("dn")
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(keys, ["a=2", "b=3"]);
    }

    #[test]
    fn quotes_escapes_continuations_and_variables() {
        let c = Config::parse(
            "n = 64\nsec = dn_sect\n[req]\ndistinguished_name = $sec\n[dn_sect]\nx = \"a # b\"\ny = one\\\n two\ncommonName_max = ${n}\nz = a\\#b\n",
        )
        .unwrap();
        assert_eq!(c.get("req", "distinguished_name"), Some("dn_sect"));
        assert_eq!(c.get("dn_sect", "x"), Some("a # b"));
        assert_eq!(c.get("dn_sect", "y"), Some("one two"));
        assert_eq!(c.get_number("dn_sect", "commonName_max"), Some(64));
        assert_eq!(c.get("dn_sect", "z"), Some("a#b"));
    }

    #[test]
    fn a_line_without_equals_is_an_error() {
        assert_eq!(
            Config::parse("[req]\nnonsense\n").unwrap_err().to_string(),
            "line \"nonsense\" has no '='"
        );
    }
}
