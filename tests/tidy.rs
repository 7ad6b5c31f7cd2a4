//! Tidy: the layout rules of house-style.md, checked on src/ (rust-analyzer's
//! and xshell's tidy tests are the model). A small tokenizer reads every file;
//! no compiler is involved, so the rules are about text, and stay simple:
//!
//! - layers: an import (any `crate::` or `super::` path, in `use` lines and in
//!   bodies) goes only down: top (lib.rs, main.rs, cli.rs) -> commands ->
//!   check / run -> plan -> pki -> the root utilities; no command imports
//!   another (commands/mod.rs is shared); and no import circle anywhere. The
//!   module graph is the one `python3 ../shared/circles.py src` reads;
//! - processes: one place builds them, src/run/exec.rs;
//! - file names: one place spells them, src/pki/names.rs (tests and comments
//!   exempt);
//! - size: a function at most 80 lines, a file at most 600 not counting
//!   its `#[cfg(test)]` items.
//!
//! `#[cfg(test)]` exempts the one item it is on (to its closing brace or
//! `;`); code after a test module is checked like any other.
//!
//! The markdown links are checked by tests/docs.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Known breaches, by stable key (no line numbers): none. A burn-down list
/// that reached zero; it must stay empty. A key is never added to let a new
/// breach in (`TIDY_PRINT=1 cargo test --test tidy -- --nocapture` prints the
/// breaches as keys, for a branch that must be merged first).
const KNOWN: &[&str] = &[];

const FN_MAX_LINES: usize = 80;
const FILE_MAX_LINES: usize = 600;
const EXEC_FILE: &str = "src/run/exec.rs";
const NAMES_FILE: &str = "src/pki/names.rs";
const TEST_CFG: &str = "#[cfg(test)]";

/// What builds a process; only src/run/exec.rs may.
const PROCESS_PATTERNS: &[&str] = &[
    "Command::new(",
    "std::process::Command",
    "duct",
    "cmd!(",
    "libc::fork",
    "execv",
    "posix_spawn",
];

/// Extensions of the files pkiforge writes or reads.
const EXTENSIONS: &[&str] = &[
    "crt",
    "key",
    "csr",
    "pem",
    "p12",
    "srl",
    "crl",
    "index",
    "attr",
    "crlnumber",
    "cnf",
    "journal",
    "lock",
    "sh",
    "json",
    "html",
    "yaml",
    "properties",
    "conf",
    "cfg",
    "ext",
];

/// Names (or the start of names) pkiforge gives files, besides extensions.
const FILE_NAMES: &[&str] = &[
    "report.html",
    "commands.sh",
    "fixtures.json",
    ".pkiforge.lock",
    ".pkiforge-staging-",
];

#[test]
fn tidy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = breaches(root);
    let keys: BTreeSet<&str> = found.iter().map(|b| b.key.as_str()).collect();
    if std::env::var_os("TIDY_PRINT").is_some() {
        println!("const KNOWN: &[&str] = &[");
        for key in &keys {
            println!("    {key:?},");
        }
        println!("];");
    }
    if std::env::var_os("TIDY_GRAPH").is_some() {
        print_graph(&read_sources(root));
    }
    let problems = ratchet(&found, KNOWN);
    assert!(
        problems.is_empty(),
        "tidy (rules at the top of tests/tidy.rs; KNOWN only shrinks):\n{}",
        problems.join("\n")
    );
}

/// The module graph, one `FROM -> TO` line per edge (`crate` for the root),
/// to compare with what circles.py reads.
fn print_graph(files: &[Source]) {
    for (from, edges) in module_graph(files) {
        for to in edges.keys() {
            let from = if from.is_empty() {
                "crate".to_string()
            } else {
                from.join("::")
            };
            println!("{from} -> {}", to.join("::"));
        }
    }
}

/// What the ratchet objects to: every breach whose key is not in `known`
/// (with what to do), and every known key that no longer occurs.
fn ratchet(found: &[Breach], known: &[&str]) -> Vec<String> {
    let known: BTreeSet<&str> = known.iter().copied().collect();
    let mut problems = Vec::new();
    let mut kinds = BTreeSet::new();
    for breach in found.iter().filter(|b| !known.contains(b.key.as_str())) {
        problems.push(breach.message.clone());
        kinds.insert(breach.key.split(' ').next().unwrap_or_default().to_string());
    }
    for kind in &kinds {
        problems.push(format!("  to do ({kind}): {}", advice(kind)));
    }
    let keys: BTreeSet<&str> = found.iter().map(|b| b.key.as_str()).collect();
    for stale in known.iter().filter(|k| !keys.contains(*k)) {
        problems.push(format!(
            "KNOWN entry {stale:?} no longer occurs: fixed? remove it from KNOWN"
        ));
    }
    problems
}

fn advice(kind: &str) -> &'static str {
    match kind {
        "layer" => "import only downward; move a name two layers share into the lower one",
        "circle" => "break the circle: move what both sides use into its own module",
        "process" => "start processes through src/run/exec.rs",
        "name-literal" => "name the file in src/pki/names.rs and use that",
        "fn-length" => "cut the function at a natural seam (at most 80 lines)",
        "file-length" => "split the file (at most 600 lines before its #[cfg(test)])",
        _ => "see the rules at the top of tests/tidy.rs",
    }
}

/// One breach of a rule: `key` is stable (no line number), for KNOWN;
/// `message` starts with `FILE:LINE: `.
#[derive(Debug)]
struct Breach {
    key: String,
    message: String,
}

/// Every breach in `root/src`, in file order, then circles.
fn breaches(root: &Path) -> Vec<Breach> {
    let files = read_sources(root);
    let mut found = Vec::new();
    for file in &files {
        found.extend(layer_breaches(file, &files));
        found.extend(process_breaches(file));
        found.extend(name_breaches(file));
        found.extend(length_breaches(file));
    }
    found.extend(circle_breaches(&files));
    found
}

// ---------------------------------------------------------------------------
// Reading the sources

/// One file of src/, read and tokenized.
struct Source {
    /// As shown: `src/pki/x509.rs`.
    path: String,
    /// `["pki", "x509"]`; `[]` for lib.rs and main.rs; a mod.rs is its folder.
    module: Vec<String>,
    /// The text with comments blanked and literals emptied; same byte offsets.
    code: String,
    literals: Vec<Literal>,
    /// The items under `#[cfg(test)]`, as byte ranges of `code`: the
    /// attribute to the end of its item (its braces, or its `;`).
    tests: Vec<(usize, usize)>,
    /// `code` with those items blanked (newlines kept): what is checked.
    production: String,
    /// A file that is all test code (`#[cfg(test)] mod tests;` in its parent).
    test_only: bool,
}

/// A string literal: where it starts, and its text between the quotes.
struct Literal {
    at: usize,
    text: String,
}

impl Source {
    fn line(&self, offset: usize) -> usize {
        self.code[..offset].matches('\n').count() + 1
    }

    fn production(&self) -> &str {
        &self.production
    }

    fn in_tests(&self, offset: usize) -> bool {
        self.tests.iter().any(|&(a, b)| a <= offset && offset < b)
    }

    /// Its length as the rule counts it: the lines before a test item that
    /// ends the file, less the lines wholly inside other test items.
    fn production_lines(&self) -> usize {
        let end = self
            .tests
            .iter()
            .find(|&&(_, b)| self.code[b..].trim().is_empty())
            .map_or(self.code.len(), |&(a, _)| a);
        let mut start = 0;
        let mut count = 0;
        for line in self.code[..end].split_inclusive('\n') {
            let (a, b) = (start, start + line.trim_end().len());
            start += line.len();
            if b == a || !(a..b).all(|o| self.in_tests(o)) {
                count += 1;
            }
        }
        count
    }
}

fn read_sources(root: &Path) -> Vec<Source> {
    let mut paths = Vec::new();
    rust_files(&root.join("src"), &mut paths);
    paths.sort();
    let mut files: Vec<Source> = paths
        .iter()
        .map(|path| {
            let rel = path.strip_prefix(root).unwrap();
            let shown = rel.to_str().unwrap().replace('\\', "/");
            let (code, literals) = tokenize(&fs::read_to_string(path).unwrap());
            let tests = test_items(&code);
            let mut production = code.clone().into_bytes();
            for &(a, b) in &tests {
                for byte in &mut production[a..b] {
                    if *byte != b'\n' {
                        *byte = b' ';
                    }
                }
            }
            Source {
                module: module_of(&shown),
                path: shown,
                code,
                literals,
                tests,
                production: String::from_utf8(production).unwrap(),
                test_only: false,
            }
        })
        .collect();
    let test_only: Vec<bool> = files.iter().map(|f| is_test_module(f, &files)).collect();
    for (file, test_only) in files.iter_mut().zip(test_only) {
        file.test_only = test_only;
    }
    files
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// `src/plan/mod.rs` -> `["plan"]`, `src/lib.rs` -> `[]`.
fn module_of(shown: &str) -> Vec<String> {
    let rel = shown.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(String::from).collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

/// Whether the parent declares this module only after its `#[cfg(test)]`.
fn is_test_module(file: &Source, files: &[Source]) -> bool {
    let Some((name, parent)) = file.module.split_last() else {
        return false;
    };
    let declaration = format!("mod {name};");
    files.iter().filter(|f| f.module == parent).any(|f| {
        f.tests
            .iter()
            .any(|&(a, b)| f.code[a..b].contains(&declaration))
            && !f.production().contains(&declaration)
    })
}

/// Each item under `#[cfg(test)]`: from the attribute to its closing brace,
/// or to its `;` when it has no body (`mod tests;`, a `use`). Code after a
/// test module is production code again, and is checked.
fn test_items(code: &str) -> Vec<(usize, usize)> {
    let bytes = code.as_bytes();
    let mut items = Vec::new();
    let mut from = 0;
    while let Some(found) = code[from..].find(TEST_CFG) {
        let start = from + found;
        let mut i = start + TEST_CFG.len();
        while i < bytes.len() && bytes[i] != b'{' && bytes[i] != b';' {
            i += 1;
        }
        let mut depth = 0usize;
        while i < bytes.len() {
            match bytes[i] {
                b'{' => depth += 1,
                b'}' => depth -= 1,
                _ => {}
            }
            i += 1;
            if depth == 0 {
                break;
            }
        }
        items.push((start, i));
        from = i.max(start + 1);
    }
    items
}

// ---------------------------------------------------------------------------
// The tokenizer

/// The code with comments blanked and string and char literals emptied (each
/// byte turned into a space, newlines kept, so offsets and lines stay), and
/// the string literals found. Raw strings (`r#"…"#`) and lifetimes (`'a`) are
/// told apart from what they look like.
fn tokenize(text: &str) -> (String, Vec<Literal>) {
    let bytes = text.as_bytes();
    let mut code = bytes.to_vec();
    let mut literals = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let end = if rest.starts_with(b"//") {
            bytes[i..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |n| i + n)
        } else if rest.starts_with(b"/*") {
            block_comment_end(bytes, i)
        } else if rest[0] == b'"' {
            let end = string_end(bytes, i + 1);
            literals.push(Literal {
                at: i,
                text: text[i + 1..end - 1].to_string(),
            });
            blank(&mut code, i + 1, end - 1);
            i = end;
            continue;
        } else if let Some((open, end, hashes)) = raw_string(bytes, i) {
            literals.push(Literal {
                at: i,
                text: text[open + 1..end - 1 - hashes].to_string(),
            });
            blank(&mut code, open + 1, end - 1 - hashes);
            i = end;
            continue;
        } else if rest[0] == b'\'' {
            match char_literal_end(bytes, i) {
                Some(end) => {
                    blank(&mut code, i + 1, end - 1);
                    i = end;
                }
                None => i += 1,
            }
            continue;
        } else {
            i += 1;
            continue;
        };
        blank(&mut code, i, end);
        i = end;
    }
    (String::from_utf8(code).unwrap(), literals)
}

fn blank(code: &mut [u8], from: usize, to: usize) {
    for byte in &mut code[from..to] {
        if *byte != b'\n' {
            *byte = b' ';
        }
    }
}

fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Just past the `*/` closing the (nested) block comment at `start`.
fn block_comment_end(bytes: &[u8], start: usize) -> usize {
    let (mut depth, mut i) = (0, start);
    while i < bytes.len() {
        if bytes[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if bytes[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Just past the closing quote of a string whose text starts at `from`.
fn string_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// A raw string (`r"…"`, `br#"…"#`, `cr"…"`) starting at `i`: the offset of
/// its opening quote, just past its end, and its number of `#`.
fn raw_string(bytes: &[u8], i: usize) -> Option<(usize, usize, usize)> {
    let before = |n: usize| i.checked_sub(n).map(|at| bytes[at]);
    let starts_token = !before(1).is_some_and(is_ident)
        || (matches!(before(1), Some(b'b' | b'c')) && !before(2).is_some_and(is_ident));
    if bytes[i] != b'r' || !starts_token {
        return None;
    }
    let hashes = bytes[i + 1..].iter().take_while(|&&b| b == b'#').count();
    let open = i + 1 + hashes;
    if bytes.get(open) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let end = bytes[open + 1..]
        .windows(close.len())
        .position(|w| w == close.as_slice())
        .map_or(bytes.len(), |n| open + 1 + n + close.len());
    Some((open, end, hashes))
}

/// Just past a char literal starting at `i` (`'x'`, `'\n'`, `'é'`), or None
/// for a lifetime or a label (`'a`).
fn char_literal_end(bytes: &[u8], i: usize) -> Option<usize> {
    let next = *bytes.get(i + 1)?;
    if next == b'\\' {
        let close = bytes[i + 3..].iter().position(|&b| b == b'\'')?;
        return Some(i + 3 + close + 1);
    }
    let width = match next {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    };
    (bytes.get(i + 1 + width) == Some(&b'\'')).then_some(i + 2 + width)
}

// ---------------------------------------------------------------------------
// Imports and layers

/// One `crate::` or `super::` path, resolved to the longest module it names.
struct Import {
    at: usize,
    target: Vec<String>,
}

/// The imports of a file's production code, as circles.py reads them: every
/// path rooted at `crate` or `super`, brace groups expanded, each resolved
/// to its longest prefix that is a module; the file's own module and the crate
/// root are left out.
fn imports(file: &Source, modules: &BTreeSet<Vec<String>>) -> Vec<Import> {
    let code = file.production().as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let Some(word) = ident_at(code, i) else {
            i += 1;
            continue;
        };
        i += word.len();
        let base = match word.as_str() {
            "crate" => Vec::new(),
            "super" => file.module[..file.module.len().saturating_sub(1)].to_vec(),
            _ => continue,
        };
        let start = i - word.len();
        let mut paths = Vec::new();
        read_tree(code, &mut i, Vec::new(), &mut paths);
        for path in paths {
            let target = resolve(&base, &path, modules);
            if !target.is_empty() && target != file.module {
                found.push(Import { at: start, target });
            }
        }
    }
    found
}

/// The longest module that `base` followed by `path` names (a leading
/// `super` in `path` goes up one more); `[]` if none.
fn resolve(base: &[String], path: &[String], modules: &BTreeSet<Vec<String>>) -> Vec<String> {
    let mut full = base.to_vec();
    let ups = path.iter().take_while(|seg| *seg == "super").count();
    full.truncate(full.len().saturating_sub(ups));
    full.extend(path[ups..].iter().cloned());
    (1..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|prefix| modules.contains(prefix))
        .unwrap_or_default()
}

/// An identifier starting exactly at `i` (not inside a longer one).
fn ident_at(code: &[u8], i: usize) -> Option<String> {
    let starts = is_ident(code[i]) && !code[i].is_ascii_digit();
    if !starts || (i > 0 && is_ident(code[i - 1])) {
        return None;
    }
    let len = code[i..].iter().take_while(|&&b| is_ident(b)).count();
    Some(String::from_utf8_lossy(&code[i..i + len]).into_owned())
}

fn skip_space(code: &[u8], i: &mut usize) {
    while code.get(*i).is_some_and(|b| b.is_ascii_whitespace()) {
        *i += 1;
    }
}

/// The paths of a use tree read from `i`: `(::seg)*` then maybe `::{…}` or `::*`.
fn read_tree(code: &[u8], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        let mut j = *i;
        skip_space(code, &mut j);
        if !code[j..].starts_with(b"::") {
            break;
        }
        j += 2;
        skip_space(code, &mut j);
        *i = j;
        match code.get(j) {
            Some(b'{') => {
                *i += 1;
                read_group(code, i, &path, out);
                return;
            }
            Some(b'*') => {
                *i += 1;
                break;
            }
            _ => match ident_at(code, j) {
                Some(seg) => {
                    *i += seg.len();
                    path.push(seg);
                }
                None => break,
            },
        }
    }
    out.push(path);
}

/// The items of a brace group, `{` already read; `self` is the prefix itself.
fn read_group(code: &[u8], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    while *i < code.len() {
        skip_space(code, i);
        let Some(&byte) = code.get(*i) else { return };
        if byte == b'}' {
            *i += 1;
            return;
        }
        let Some(item) = ident_at(code, *i) else {
            *i += 1;
            continue;
        };
        *i += item.len();
        if item == "as" {
            skip_space(code, i);
            *i += ident_at(code, *i).map_or(0, |alias| alias.len());
            continue;
        }
        let mut path = prefix.to_vec();
        if item != "self" {
            path.push(item);
        }
        read_tree(code, i, path, out);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layer {
    Root,
    Pki,
    Plan,
    Run,
    Check,
    Commands,
    Top,
}

fn layer_of(module: &[String]) -> Layer {
    match module.first().map(String::as_str) {
        None | Some("cli") => Layer::Top,
        Some("commands") => Layer::Commands,
        Some("check") => Layer::Check,
        Some("run") => Layer::Run,
        Some("plan") => Layer::Plan,
        Some("pki") => Layer::Pki,
        Some(_) => Layer::Root,
    }
}

impl Layer {
    fn name(self) -> &'static str {
        match self {
            Layer::Root => "root",
            Layer::Pki => "pki",
            Layer::Plan => "plan",
            Layer::Run => "run",
            Layer::Check => "check",
            Layer::Commands => "commands",
            Layer::Top => "top",
        }
    }

    /// The layers this one may import, itself included.
    fn may_use(self) -> &'static [Layer] {
        use Layer::*;
        match self {
            Top => &[Top, Commands, Check, Run, Plan, Pki, Root],
            Commands => &[Commands, Check, Run, Plan, Pki, Root],
            // The handshake starts openssl's servers and clients, through
            // run/exec.rs like every process: check sits above run.
            Check => &[Check, Run, Plan, Pki, Root],
            Run => &[Run, Plan, Pki, Root],
            Plan => &[Plan, Pki, Root],
            Pki => &[Pki, Root],
            Root => &[Root],
        }
    }

    fn allowance(self) -> &'static str {
        match self {
            Layer::Top => "top may use anything",
            Layer::Commands => {
                "commands may use check, run, plan, pki, the root utilities and cli's arguments"
            }
            Layer::Check => "check may use run, plan, pki and the root utilities",
            Layer::Run => "run may use plan, pki and the root utilities",
            Layer::Plan => "plan may use pki and the root utilities",
            Layer::Pki => "pki may use the root utilities only",
            Layer::Root => "the root utilities use only one another",
        }
    }
}

fn layer_breaches(file: &Source, files: &[Source]) -> Vec<Breach> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let from = layer_of(&file.module);
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for import in imports(file, &modules) {
        let to = layer_of(&import.target);
        let target = import.target.join("::");
        let line = file.line(import.at);
        if !seen.insert((line, target.clone())) {
            continue;
        }
        // A command takes its arguments as `cli` parsed them.
        let arguments = from == Layer::Commands && import.target == ["cli"];
        let message = if !from.may_use().contains(&to) && !arguments {
            format!(
                "{}:{line}: {} imports {} (crate::{target}); {}",
                file.path,
                from.name(),
                to.name(),
                from.allowance()
            )
        } else if is_command_to_command(&file.module, &import.target) {
            format!(
                "{}:{line}: {} imports {} (crate::{target}); no command imports another: share through commands/mod.rs or a lower layer",
                file.path,
                file.module.join("::"),
                import.target[..2].join("::")
            )
        } else {
            continue;
        };
        let key = format!("layer {} -> {target}", file.path);
        found.push(Breach { key, message });
    }
    found
}

/// `commands::x` (or below it) importing `commands::y`, y another command.
fn is_command_to_command(from: &[String], to: &[String]) -> bool {
    from.len() >= 2
        && to.len() >= 2
        && from[0] == "commands"
        && to[0] == "commands"
        && from[1] != to[1]
}

/// Module -> the modules it imports, each with the first place (`FILE:LINE`)
/// it does.
type Graph = BTreeMap<Vec<String>, BTreeMap<Vec<String>, String>>;

/// The module graph, as circles.py builds it: an edge per import, with the
/// first place it is made.
fn module_graph(files: &[Source]) -> Graph {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut graph = Graph::new();
    for file in files {
        let edges = graph.entry(file.module.clone()).or_default();
        for import in imports(file, &modules) {
            let site = format!("{}:{}", file.path, file.line(import.at));
            edges.entry(import.target).or_insert(site);
        }
    }
    graph
}

/// One breach per circle (a strongly connected set of two or more modules),
/// naming every edge inside it.
fn circle_breaches(files: &[Source]) -> Vec<Breach> {
    let graph = module_graph(files);
    let mut found = Vec::new();
    for circle in circles(&graph) {
        let names: Vec<String> = circle.iter().map(|m| m.join("::")).collect();
        let mut edges = Vec::new();
        for from in &circle {
            for (to, site) in graph[from].iter().filter(|(to, _)| circle.contains(*to)) {
                edges.push(format!("{site}: {} -> {}", from.join("::"), to.join("::")));
            }
        }
        let first = edges[0].split(": ").next().unwrap_or_default().to_string();
        found.push(Breach {
            key: format!("circle {}", names.join(", ")),
            message: format!(
                "{first}: import circle {}:\n    {}",
                names.join(", "),
                edges.join("\n    ")
            ),
        });
    }
    found
}

/// The strongly connected sets of two or more modules (Tarjan), each sorted.
fn circles(graph: &Graph) -> Vec<BTreeSet<Vec<String>>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g Vec<String>, (usize, usize)>,
        stack: Vec<&'g Vec<String>>,
        found: Vec<BTreeSet<Vec<String>>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g Vec<String>) -> usize {
            let n = self.index.len();
            self.index.insert(v, (n, n));
            self.stack.push(v);
            let mut low = n;
            for w in self.graph.get(v).into_iter().flat_map(|edges| edges.keys()) {
                match self.index.get(w) {
                    None => low = low.min(self.visit(w)),
                    Some(&(w_index, _)) if self.stack.contains(&w) => low = low.min(w_index),
                    Some(_) => {}
                }
            }
            self.index.insert(v, (n, low));
            if low == n {
                let at = self.stack.iter().position(|m| *m == v).unwrap();
                let set: BTreeSet<Vec<String>> = self.stack.drain(at..).cloned().collect();
                if set.len() > 1 {
                    self.found.push(set);
                }
            }
            low
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !tarjan.index.contains_key(v) {
            tarjan.visit(v);
        }
    }
    tarjan.found.sort();
    tarjan.found
}

// ---------------------------------------------------------------------------
// Processes, file names, sizes

/// A process built outside src/run/exec.rs, test code included.
fn process_breaches(file: &Source) -> Vec<Breach> {
    if file.path == EXEC_FILE {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (n, line) in file.code.lines().enumerate() {
        let Some(pattern) = PROCESS_PATTERNS.iter().find(|p| contains_word(line, p)) else {
            continue;
        };
        found.push(Breach {
            key: format!("process {} {pattern:?}", file.path),
            message: format!(
                "{}:{}: process built with `{pattern}` outside {EXEC_FILE}",
                file.path,
                n + 1
            ),
        });
    }
    found
}

/// `pattern` in `line`, not inside a longer identifier (though `execv` and
/// `posix_spawn` stand for `execvp`, `posix_spawnp` and the like too).
fn contains_word(line: &str, pattern: &str) -> bool {
    let bytes = line.as_bytes();
    let prefix_only = matches!(pattern, "execv" | "posix_spawn");
    line.match_indices(pattern).any(|(at, _)| {
        let end = at + pattern.len();
        let starts = at == 0 || !is_ident(bytes[at - 1]);
        let ends = prefix_only
            || !is_ident(bytes[end - 1])
            || !bytes.get(end).is_some_and(|&b| is_ident(b));
        starts && ends
    })
}

fn name_breaches(file: &Source) -> Vec<Breach> {
    if file.path == NAMES_FILE || file.test_only {
        return Vec::new();
    }
    let mut found = Vec::new();
    for literal in file.literals.iter().filter(|l| !file.in_tests(l.at)) {
        let (whole, names) = file_names_in(&literal.text);
        for name in names {
            let what = if whole {
                "file-name literal"
            } else {
                "file name in a literal"
            };
            found.push(Breach {
                key: format!("name-literal {} {name:?}", file.path),
                message: format!(
                    "{}:{}: {what} {name:?} outside {NAMES_FILE}",
                    file.path,
                    file.line(literal.at)
                ),
            });
        }
    }
    found
}

/// The file names a literal spells (its text as written, escapes and all),
/// and whether the literal is nothing but one of them. A word names a file
/// when it is or holds a known name, is the literal `"archive"` or has it as a
/// path component (`archive/{serial}`, not the prose "the archive"), or
/// ends a name in a known extension (`ca.crt`, `{name}.key`, `*.pem`; a word
/// that starts with the dot, as a CSS class does, only if it is the whole
/// literal: `".crt"`).
fn file_names_in(text: &str) -> (bool, Vec<String>) {
    let mut plain = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        plain.push(if c == '\\' {
            chars.next();
            ' '
        } else {
            c
        });
    }
    let separators = |c: char| c.is_whitespace() || "\"'`(),;:<>=[]".contains(c);
    let words: Vec<&str> = plain
        .split(separators)
        .map(|w| w.trim_end_matches('.'))
        .collect();
    let alone = words.iter().filter(|w| !w.is_empty()).count() == 1;
    let names: Vec<String> = words
        .iter()
        .filter(|word| names_a_file(word, alone))
        .map(|word| word.to_string())
        .collect();
    (alone && names.len() == 1, names)
}

fn names_a_file(word: &str, alone: bool) -> bool {
    let ends_a_name = |ext: &&str| {
        let dotted = format!(".{ext}");
        word.match_indices(&dotted).any(|(at, _)| {
            let after = &word[at + dotted.len()..];
            let named = at > 0 || alone;
            named && !after.starts_with(|c: char| c.is_alphanumeric() || c == '_')
        })
    };
    let in_archive = word.contains('/') && word.split('/').any(|part| part == "archive");
    (alone && word == "archive")
        || in_archive
        || FILE_NAMES.iter().any(|name| word.contains(name))
        || EXTENSIONS.iter().any(ends_a_name)
}

fn length_breaches(file: &Source) -> Vec<Breach> {
    if file.test_only {
        return Vec::new();
    }
    let mut found = Vec::new();
    let lines = file.production_lines();
    if lines > FILE_MAX_LINES {
        found.push(Breach {
            key: format!("file-length {}", file.path),
            message: format!(
                "{}:{}: file is {lines} lines before its tests (at most {FILE_MAX_LINES})",
                file.path,
                FILE_MAX_LINES + 1
            ),
        });
    }
    for function in functions(file.production()) {
        let length = file.line(function.end) - file.line(function.at) + 1;
        if length > FN_MAX_LINES {
            found.push(Breach {
                key: format!("fn-length {} {}", file.path, function.name),
                message: format!(
                    "{}:{}: fn {} is {length} lines (at most {FN_MAX_LINES})",
                    file.path,
                    file.line(function.at),
                    function.name
                ),
            });
        }
    }
    found
}

struct Function {
    name: String,
    at: usize,
    /// The offset of the body's closing brace.
    end: usize,
}

/// Every function with a body: from its `fn` to its closing brace.
fn functions(code: &str) -> Vec<Function> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    for (at, _) in code.match_indices("fn") {
        if ident_at(bytes, at).as_deref() != Some("fn") {
            continue;
        }
        let mut i = at + 2;
        skip_space(bytes, &mut i);
        let Some(name) = ident_at(bytes, i) else {
            continue;
        };
        if let Some(end) = body_end(bytes, i + name.len()) {
            found.push(Function { name, at, end });
        }
    }
    found
}

/// The closing brace of the body after a signature starting at `i`; None for
/// a declaration without a body (`;`).
fn body_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            b';' if depth == 0 => return None,
            b'{' if depth == 0 => break,
            _ => {}
        }
        i += 1;
    }
    let mut braces = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => braces += 1,
            b'}' => {
                braces -= 1;
                if braces == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

// ---------------------------------------------------------------------------
// The checker, on small trees planted in a temp dir

/// The breaches in a tree made of `files` (path under the root, text).
fn planted(files: &[(&str, &str)]) -> Vec<Breach> {
    let root = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = root.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    breaches(root.path())
}

fn messages(found: &[Breach]) -> Vec<&str> {
    found.iter().map(|b| b.message.as_str()).collect()
}

const LIB: (&str, &str) = ("src/lib.rs", "pub mod pki;\npub mod plan;\npub mod run;\n");
const PLAN_STEP: (&str, &str) = ("src/plan/step.rs", "pub struct Step;\n");

#[test]
fn a_planted_upward_import_is_reported() {
    let found = planted(&[
        LIB,
        PLAN_STEP,
        ("src/pki/a.rs", "use crate::plan::step::Step;\n"),
    ]);
    assert_eq!(
        messages(&found),
        [
            "src/pki/a.rs:1: pki imports plan (crate::plan::step); pki may use the root utilities only"
        ]
    );
    assert_eq!(found[0].key, "layer src/pki/a.rs -> plan::step");
}

#[test]
fn code_after_a_test_module_is_checked_and_the_test_module_is_not() {
    let found = planted(&[
        LIB,
        PLAN_STEP,
        (
            "src/pki/a.rs",
            "#[cfg(test)]\nmod tests {\n    use crate::plan::step::Step;\n    fn f() { let _ = \"x.crt\"; }\n}\n\npub fn g() -> &'static str { let _ = crate::plan::step::Step; \"ca.key\" }\n",
        ),
    ]);
    assert_eq!(
        messages(&found),
        [
            "src/pki/a.rs:7: pki imports plan (crate::plan::step); pki may use the root utilities only",
            "src/pki/a.rs:7: file-name literal \"ca.key\" outside src/pki/names.rs",
        ]
    );
}

#[test]
fn a_planted_command_importing_another_is_reported() {
    let found = planted(&[
        (
            "src/commands/mod.rs",
            "pub mod a;\npub mod b;\npub fn shared() {}\n",
        ),
        (
            "src/commands/a.rs",
            "use super::shared;\nfn f() { crate::commands::b::g() }\n",
        ),
        ("src/commands/b.rs", "pub fn g() { super::shared() }\n"),
    ]);
    assert_eq!(
        messages(&found),
        [
            "src/commands/a.rs:2: commands::a imports commands::b (crate::commands::b); no command imports another: share through commands/mod.rs or a lower layer"
        ]
    );
}

#[test]
fn a_planted_circle_is_reported() {
    let found = planted(&[
        LIB,
        ("src/plan/a.rs", "use super::b::B;\npub struct A;\n"),
        (
            "src/plan/b.rs",
            "pub struct B;\npub fn f() -> crate::plan::{a::A} { todo!() }\n",
        ),
    ]);
    assert_eq!(
        messages(&found),
        [
            "src/plan/a.rs:1: import circle plan::a, plan::b:\n    src/plan/a.rs:1: plan::a -> plan::b\n    src/plan/b.rs:2: plan::b -> plan::a"
        ]
    );
    assert_eq!(found[0].key, "circle plan::a, plan::b");
}

#[test]
fn a_planted_process_outside_exec_is_reported() {
    let spawn = "fn go() {\n    let _ = std::process::Command::new(\"openssl\");\n}\n";
    let found = planted(&[("src/run/exec.rs", spawn), ("src/run/runner.rs", spawn)]);
    assert_eq!(
        messages(&found),
        ["src/run/runner.rs:2: process built with `Command::new(` outside src/run/exec.rs"]
    );
}

#[test]
fn a_planted_file_name_literal_is_reported() {
    let x509 = "// \"ca.key\" in a comment\nconst CA: &str = \"ca.crt\";\n\
                const HELP: &str = \"moved to the archive; see report.html\";\n\
                #[cfg(test)]\nmod tests {\n    const CA: &str = \"ca.crt\";\n}\n";
    let found = planted(&[
        (
            "src/pki/names.rs",
            "pub const CA_CERT: &str = \"ca.crt\";\n",
        ),
        ("src/pki/x509.rs", x509),
    ]);
    assert_eq!(
        messages(&found),
        [
            "src/pki/x509.rs:2: file-name literal \"ca.crt\" outside src/pki/names.rs",
            "src/pki/x509.rs:3: file name in a literal \"report.html\" outside src/pki/names.rs",
        ]
    );
    assert_eq!(found[0].key, "name-literal src/pki/x509.rs \"ca.crt\"");
}

#[test]
fn comments_strings_chars_and_lifetimes_neither_hide_nor_invent_imports() {
    let tricky = r##"// use crate::plan::x;
/* use crate::plan::y; /* nested */ use crate::plan::z; */
fn f<'a>(s: &'a str) -> (&'a str, char, char, &'static str) {
    let _ = r#"use crate::plan::w; "quoted" "#;
    (s, '"', '\'', "crate::plan::v")
}
pub fn g() -> crate::plan::step::Step { crate::plan::step::Step }
"##;
    let found = planted(&[LIB, PLAN_STEP, ("src/pki/a.rs", tricky)]);
    assert_eq!(
        messages(&found),
        [
            "src/pki/a.rs:7: pki imports plan (crate::plan::step); pki may use the root utilities only"
        ]
    );
}

#[test]
fn a_planted_long_function_and_long_file_are_reported() {
    let mut text = format!("fn long() {{\n{}}}\n", "    step();\n".repeat(79));
    text += &"// filler\n".repeat(600);
    text += "#[cfg(test)]\nmod tests {\n    fn long_test() {\n";
    text += &"        step();\n".repeat(100);
    text += "    }\n}\n";
    let found = planted(&[("src/time.rs", &text)]);
    assert_eq!(
        messages(&found),
        [
            "src/time.rs:601: file is 681 lines before its tests (at most 600)",
            "src/time.rs:1: fn long is 81 lines (at most 80)",
        ]
    );
}

#[test]
fn the_ratchet_reports_new_breaches_and_fixed_known_ones() {
    let found = [Breach {
        key: "layer src/pki/a.rs -> plan::step".into(),
        message: "src/pki/a.rs:1: pki imports plan".into(),
    }];
    assert_eq!(
        ratchet(&found, &["layer src/pki/a.rs -> plan::step"]),
        Vec::<String>::new()
    );
    assert_eq!(
        ratchet(&found, &["layer src/pki/a.rs -> plan::step", "circle gone"]),
        ["KNOWN entry \"circle gone\" no longer occurs: fixed? remove it from KNOWN"]
    );
    assert_eq!(
        ratchet(&found, &[]),
        [
            "src/pki/a.rs:1: pki imports plan",
            "  to do (layer): import only downward; move a name two layers share into the lower one",
        ]
    );
}

#[test]
fn tidy_rs_keeps_its_own_functions_short() {
    let text = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tidy.rs"));
    let (code, _) = tokenize(&text.unwrap());
    let line = |offset: usize| code[..offset].matches('\n').count() + 1;
    for function in functions(&code) {
        let length = line(function.end) - line(function.at) + 1;
        assert!(
            length <= FN_MAX_LINES,
            "fn {} is {length} lines",
            function.name
        );
    }
}
