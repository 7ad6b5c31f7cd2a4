//! The README and the manual: every relative link in README.md, ARCHITECTURE.md
//! and docs/*.md resolves (the file exists; an `#anchor` in a markdown file names
//! one of its headings, by GitHub's rules), and README.md stays a front page.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The front page is read in five minutes; the rest belongs in docs/.
const README_MAX_LINES: usize = 250;

#[test]
fn every_relative_link_resolves() {
    let broken = broken_links(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        broken.is_empty(),
        "{} broken link(s):\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn readme_is_a_front_page() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let lines = fs::read_to_string(&path).unwrap().lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, at most {README_MAX_LINES}: move the detail to a page in docs/"
    );
}

#[test]
fn a_planted_broken_link_is_reported() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    fs::create_dir(root.join("docs")).unwrap();
    fs::write(
        root.join("README.md"),
        "# Front page\n\
         [ok](docs/a.md#a-title-with-code) [here](#front-page) [web](https://example.com/x.md)\n\
         `[in code](nope.md)` and [later](ARCHITECTURE.md)\n\
         ```\n[in a fence](nope.md)\n```\n\
         [gone](docs/missing.md)\n\
         [no anchor](docs/a.md#nope)\n",
    )
    .unwrap();
    fs::write(
        root.join("docs/a.md"),
        "# A title, with `code`\n\n[back](../README.md#front-page) ![img](../README.md)\n[self](#nowhere)\n\n[ref]: b.md\n",
    )
    .unwrap();
    assert_eq!(
        broken_links(root),
        [
            "README.md:3: ARCHITECTURE.md: no such file",
            "README.md:7: docs/missing.md: no such file",
            "README.md:8: docs/a.md#nope: docs/a.md has no heading #nope",
            "docs/a.md:4: #nowhere: docs/a.md has no heading #nowhere",
            "docs/a.md:6: b.md: no such file",
        ]
    );
}

#[test]
fn anchors_follow_github() {
    assert_eq!(
        anchors(
            "# Safety: the lock, staging and publishing\n## `verify`\n# Take the commands home: commands.sh\n## Workshops\n## Workshops\n```\n# not a heading\n```\n"
        ),
        [
            "safety-the-lock-staging-and-publishing",
            "verify",
            "take-the-commands-home-commandssh",
            "workshops",
            "workshops-1",
        ]
    );
}

/// One line per link that does not resolve: `FILE:LINE: TARGET: why`.
fn broken_links(root: &Path) -> Vec<String> {
    let mut broken = Vec::new();
    for file in markdown_files(root) {
        let text = fs::read_to_string(&file).unwrap();
        let name = shown(root, &file);
        for (line, target) in links(&text) {
            if let Err(why) = resolve(root, &file, &target) {
                broken.push(format!("{name}:{line}: {target}: {why}"));
            }
        }
    }
    broken
}

/// README.md, ARCHITECTURE.md if present, and docs/*.md, in that order.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md"]
        .iter()
        .map(|name| root.join(name))
        .filter(|path| path.is_file())
        .collect();
    let mut docs: Vec<PathBuf> = match fs::read_dir(root.join("docs")) {
        Ok(entries) => entries
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
            .collect(),
        Err(_) => Vec::new(),
    };
    docs.sort();
    files.extend(docs);
    files
}

/// Checks one link target written in `file`; Err says why it does not resolve.
fn resolve(root: &Path, file: &Path, target: &str) -> Result<(), String> {
    if ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| target.starts_with(scheme))
    {
        return Ok(());
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let linked = if path.is_empty() {
        file.to_path_buf()
    } else {
        normalize(&file.parent().unwrap().join(path))
    };
    if !linked.exists() {
        return Err("no such file".into());
    }
    let Some(anchor) = anchor else { return Ok(()) };
    if linked.extension().is_none_or(|ext| ext != "md") {
        return Ok(()); // GitHub's anchors into other files (#L10) are not headings
    }
    let text = fs::read_to_string(&linked).map_err(|err| err.to_string())?;
    if anchors(&text).iter().any(|known| known == anchor) {
        Ok(())
    } else {
        Err(format!("{} has no heading #{anchor}", shown(root, &linked)))
    }
}

/// Every `[text](target)`, `![alt](target)` and `[label]: target` outside code,
/// with its 1-based line number.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in prose_lines(text) {
        let line = without_code_spans(line);
        if let Some(target) = reference_definition(&line) {
            found.push((index + 1, target));
        }
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let end = closing_paren(rest);
            found.push((index + 1, link_target(&rest[..end])));
            rest = &rest[end..];
        }
    }
    found
}

/// The lines outside fenced code blocks (``` or ~~~), with their 0-based index.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"]
            .into_iter()
            .find(|marker| trimmed.starts_with(marker));
        match (fence, marker) {
            (None, Some(marker)) => fence = Some(marker),
            (Some(open), Some(marker)) if open == marker => fence = None,
            (None, None) => lines.push((index, line)),
            _ => {}
        }
    }
    lines
}

/// The line with each `code span` taken out (a run of N backticks up to the next
/// run of N).
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let after = &rest[start + ticks..];
        let fence = &rest[start..start + ticks];
        match after.find(fence) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                out.push_str(&rest[start..]);
                return out;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `[label]: target` at the start of a line.
fn reference_definition(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (label, target) = rest.split_once("]:")?;
    if label.is_empty() || label.contains(']') {
        return None;
    }
    Some(link_target(target))
}

/// Where the `(` before `text` is closed: nested parentheses count.
fn closing_paren(text: &str) -> usize {
    let mut depth = 0;
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return at,
            ')' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

/// The destination of a link: `<dest>` or the text up to a title.
fn link_target(inner: &str) -> String {
    let inner = inner.trim();
    match inner.strip_prefix('<') {
        Some(rest) => rest.split('>').next().unwrap_or("").to_string(),
        None => inner.split_whitespace().next().unwrap_or("").to_string(),
    }
}

/// The anchors GitHub gives the headings of a markdown text: lower case, spaces
/// to `-`, punctuation other than `-` and `_` dropped; a repeated one gets
/// `-1`, `-2`, ….
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut found = Vec::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.len() - line.trim_start_matches('#').len();
        let title = &line[hashes..];
        if !(1..=6).contains(&hashes) || !(title.is_empty() || title.starts_with(' ')) {
            continue;
        }
        let base = slug(title.trim().trim_end_matches('#').trim_end());
        let repeats = seen.entry(base.clone()).or_insert(0);
        found.push(match *repeats {
            0 => base,
            n => format!("{base}-{n}"),
        });
        *repeats += 1;
    }
    found
}

fn slug(title: &str) -> String {
    title
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// `a/./b/../c` as `a/c`, without touching the filesystem.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A path as the messages show it: relative to the root, with `/`.
fn shown(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<_> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}
