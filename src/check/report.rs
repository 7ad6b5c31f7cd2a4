//! `pkiforge report`: one self-contained HTML page for a projector or a
//! handout. The chain as an inline SVG picture laid out here (root, then
//! intermediates, then the leaves in rows), a card per certificate with its
//! lint findings, and the transcript. Pure: a [`Page`] in, HTML out; every
//! value is escaped by maud.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::check::json::Certificate;
use crate::check::lint::Finding;
use crate::pki::names::TRANSCRIPT;

/// One certificate as the page shows it.
pub struct Card<'a> {
    pub cert: Certificate<'a>,
    /// `root CA`, `intermediate CA`, `server`, `client`, `foreign CA`.
    pub role: String,
    /// valid, expiring, expired, not-yet-valid, revoked.
    pub state: &'static str,
    /// For a fixture: its kind, what is wrong with it, and the errors a
    /// correct verifier gives.
    pub fixture: Option<(String, String, String)>,
    pub findings: Vec<&'a Finding>,
    /// The index of its issuer among the cards (none when self-signed).
    pub issuer: Option<usize>,
    /// 0: a root (or a fixture's foreign CA); 1: an intermediate; 2: a leaf.
    pub level: usize,
}

pub struct Page<'a> {
    /// The PKI directory, as given.
    pub dir: String,
    /// When the page was made, `YYYY-MM-DD HH:MM:SS UTC`.
    pub made: String,
    /// Unix time the validity bars show as today.
    pub now: i64,
    pub cards: Vec<Card<'a>>,
    /// DIR's commands.sh, if it has one.
    pub transcript: Option<String>,
    /// `--traces`: the sessions `handshake --trace` kept.
    pub traces: Option<Traces>,
}

/// The sessions of a `handshake --trace`, each linked to its files.
pub struct Traces {
    /// The traces' directory, as given.
    pub dir: String,
    /// The sessions, in the handshake's order.
    pub sessions: Vec<TracedSession>,
}

/// One session: who met whom with which stack, how it went, and the URLs
/// of its trace, keylog and pcap (relative to the page; none for a rustls
/// session, which prints no messages).
pub struct TracedSession {
    pub stack: String,
    pub name: String,
    pub got: String,
    pub passed: bool,
    pub trace: Option<String>,
    pub keylog: Option<String>,
    pub pcap: Option<String>,
}

/// A node of the picture.
const NODE_W: i64 = 190;
const NODE_H: i64 = 62;
const GAP_X: i64 = 18;
const GAP_Y: i64 = 70;
const MARGIN: i64 = 20;
/// Nodes per row, so that a row fits the page: a workshop's 64 clients
/// take 13 rows.
const PER_ROW: usize = 5;
/// Characters that fit a node's lines (monospace, 12px and 11px).
const CN_CHARS: usize = 22;
const LINE_CHARS: usize = 25;

/// Where each card's node goes: `(x, y)` of its top-left corner, and the
/// picture's size. Each level starts a new band of rows; a band wraps
/// after [`PER_ROW`] nodes, and each row is centred.
pub fn layout(cards: &[Card]) -> (Vec<(i64, i64)>, i64, i64) {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    for level in 0..=2 {
        let members: Vec<usize> = (0..cards.len())
            .filter(|&i| cards[i].level == level)
            .collect();
        for chunk in members.chunks(PER_ROW) {
            rows.push(chunk.to_vec());
        }
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1).max(1) as i64;
    let width = 2 * MARGIN + widest * NODE_W + (widest - 1) * GAP_X;
    let mut at = vec![(0, 0); cards.len()];
    for (r, row) in rows.iter().enumerate() {
        let n = row.len() as i64;
        let row_w = n * NODE_W + (n - 1) * GAP_X;
        let x0 = (width - row_w) / 2;
        let y = MARGIN + r as i64 * (NODE_H + GAP_Y);
        for (k, &i) in row.iter().enumerate() {
            at[i] = (x0 + k as i64 * (NODE_W + GAP_X), y);
        }
    }
    let height = 2 * MARGIN + rows.len() as i64 * (NODE_H + GAP_Y) - GAP_Y;
    (at, width, height.max(NODE_H + 2 * MARGIN))
}

/// `text` cut to `n` characters, with an ellipsis when cut.
fn fit(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(n - 1).collect();
    cut.push('…');
    cut
}

/// What a node says of its state: never colour alone.
fn state_label(card: &Card) -> String {
    match &card.fixture {
        Some((kind, _, _)) => format!("fixture: {kind}"),
        None => card.state.to_string(),
    }
}

fn state_class(card: &Card) -> &'static str {
    if card.fixture.is_some() {
        "fixture"
    } else {
        card.state
    }
}

/// The chain as a picture: an edge from each issuer to what it signed,
/// then a node per certificate, each a link to its card.
pub fn chain_svg(cards: &[Card]) -> Markup {
    let (at, width, height) = layout(cards);
    html! {
        svg id="chain" xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox=(format!("0 0 {width} {height}")) width=(width) height=(height)
            aria-label="The chain: which certificate signed which" {
            @for (i, card) in cards.iter().enumerate() {
                @if let Some(j) = card.issuer {
                    line class="edge" data-from=(cards[j].cert.file) data-to=(card.cert.file)
                        x1=(at[j].0 + NODE_W / 2) y1=(at[j].1 + NODE_H)
                        x2=(at[i].0 + NODE_W / 2) y2=(at[i].1) {}
                }
            }
            @for (i, card) in cards.iter().enumerate() {
                a href=(format!("#card-{i}")) {
                    g class=(format!("node {}", state_class(card))) data-file=(card.cert.file) {
                        title { (card.cert.file) ": " (card.cert.subject) }
                        rect x=(at[i].0) y=(at[i].1) width=(NODE_W) height=(NODE_H) rx="6" {}
                        text class="cn" x=(at[i].0 + 8) y=(at[i].1 + 18) {
                            (fit(card.cert.cn.unwrap_or(card.cert.file), CN_CHARS))
                        }
                        text class="meta" x=(at[i].0 + 8) y=(at[i].1 + 36) {
                            (fit(&format!("{} · {}", card.role, card.cert.key), LINE_CHARS))
                        }
                        text class="state" x=(at[i].0 + 8) y=(at[i].1 + 53) {
                            (fit(&state_label(card), LINE_CHARS))
                        }
                    }
                }
            }
        }
    }
}

/// Where today falls in a certificate's validity, in percent.
fn today_at(c: &Certificate, now: i64) -> i64 {
    let span = (c.not_after_unix - c.not_before_unix).max(1);
    ((now - c.not_before_unix) * 100 / span).clamp(0, 100)
}

/// A card: every fact of the certificate, its validity bar, what is wrong
/// with it when it is a fixture, and its lint findings with the fix.
fn card(i: usize, card: &Card, whys: &[Why], now: i64) -> Markup {
    let c = &card.cert;
    html! {
        section class=(format!("card {}", state_class(card))) id=(format!("card-{i}")) {
            h3 { (c.file) " " span class="badge" { (state_label(card)) } }
            p class="role" { (card.role) ", " (c.key) }
            table {
                tr { th { "subject" } td { (c.subject) } }
                tr { th { "issuer" } td { (c.issuer) @if c.self_signed { " (self-signed)" } } }
                tr { th { "serial" } td class="mono" { (c.serial) } }
                tr { th { "SANs" } td { @if c.sans.is_empty() { "none" } @else { (c.sans.join(", ")) } } }
                tr { th { "signature" } td { (c.signature) } }
                tr { th { "validity" } td { (c.not_before) " to " (c.not_after) " (" (c.days_left) " days left)" } }
                tr { th { "SHA-256" } td class="mono" { (c.sha256) } }
                tr { th { "extensions" } td { ul {
                    @for e in &c.extensions {
                        li { (e.name) @if e.critical { " (critical)" } @if !e.value.is_empty() { ": " (e.value) } }
                    }
                } } }
                tr { th { "in files" } td { (c.files.join(", ")) } }
            }
            div class="bar" {
                span class="today" style=(format!("left: {}%", today_at(c, now))) {}
            }
            @if let Some((kind, wrong, errors)) = &card.fixture {
                p class="fixture-note" { strong { "Fixture (" (kind) "): " } (wrong) ". A correct verifier refuses it: " (errors) "." }
            }
            @if card.findings.is_empty() {
                p class="clean" { "lint: no findings" }
            } @else {
                ul class="findings" {
                    @for f in &card.findings {
                        li class=(f.severity.to_string()) {
                            strong { (f.severity.to_string()) " [" (f.rule) "]" } ": " (f.message)
                            " " a href=(format!("#why-{}", why_of(whys, f))) { "clients and fix" }
                        }
                    }
                }
            }
        }
    }
}

/// What a finding means, once for every certificate it is found on: its
/// rule, who refuses or warns, and the fix. A room of 1,000 participants
/// has the same two findings 1,000 times; the page says each once.
pub struct Why<'a> {
    pub severity: String,
    pub rule: &'static str,
    pub clients: &'static str,
    pub fix: &'a str,
    /// The files it is found on.
    pub files: Vec<&'a str>,
}

/// The distinct explanations of the cards' findings, in the order the
/// cards first show them.
pub fn whys<'a>(cards: &'a [Card<'a>]) -> Vec<Why<'a>> {
    let mut whys: Vec<Why> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for f in cards.iter().flat_map(|c| c.findings.iter()) {
        let at = *seen.entry(why_key(f)).or_insert_with(|| {
            whys.push(Why {
                severity: f.severity.to_string(),
                rule: f.rule,
                clients: f.clients,
                fix: &f.fix,
                files: Vec::new(),
            });
            whys.len() - 1
        });
        whys[at].files.push(&f.file);
    }
    whys
}

/// What makes two findings' explanations one: the rule, the clients and
/// the fix (a message may name the certificate's own dates).
fn why_key(f: &Finding) -> (&'static str, &'static str, &str) {
    (f.rule, f.clients, &f.fix)
}

/// The index of a finding's explanation.
fn why_of(whys: &[Why], f: &Finding) -> usize {
    whys.iter()
        .position(|w| (w.rule, w.clients, w.fix) == why_key(f))
        .unwrap_or(0)
}

/// The findings explained, each once, with how many certificates have it.
fn explained(whys: &[Why]) -> Markup {
    html! {
        @if whys.is_empty() {
            p class="clean" { "lint: no findings on any certificate." }
        } @else {
            ul class="findings" {
                @for (k, w) in whys.iter().enumerate() {
                    li class=(w.severity) id=(format!("why-{k}")) {
                        strong { (w.severity) " [" (w.rule) "]" } " on " (on_files(&w.files))
                        br; "clients: " (w.clients) br; "fix: " (w.fix)
                    }
                }
            }
        }
    }
}

/// `server.crt`, `server.crt and client.crt`, or `1,001 certificates`.
fn on_files(files: &[&str]) -> String {
    match files {
        [one] => one.to_string(),
        [a, b] => format!("{a} and {b}"),
        [a, b, c] => format!("{a}, {b} and {c}"),
        _ => format!("{} certificates", files.len()),
    }
}

/// The traced sessions: each pair, how it went, and its trace and keys.
fn sessions(t: &Traces) -> Markup {
    html! {
        h2 { "Handshakes" }
        p { "The sessions of " code { "pkiforge handshake --trace " (t.dir) } ", each with the TLS messages both sides sent and its keys for Wireshark (docs/trace.md)." }
        table class="sessions" {
            tr { th { "#" } th { "stack" } th { "got" } th { "session" } th { "files" } }
            @for (i, s) in t.sessions.iter().enumerate() {
                tr class=(if s.passed { "ok" } else { "fail" }) {
                    td { (i + 1) }
                    td { (s.stack) }
                    td { (s.got) @if !s.passed { " (FAIL)" } }
                    td { (s.name) }
                    td { (session_files(s)) }
                }
            }
        }
    }
}

/// A session's links: its trace, keylog and pcap, those TRACES has; or
/// why there are none.
fn session_files(s: &TracedSession) -> Markup {
    let links: Vec<(&str, &String)> = [
        ("trace", &s.trace),
        ("keylog", &s.keylog),
        ("pcap", &s.pcap),
    ]
    .into_iter()
    .filter_map(|(what, url)| url.as_ref().map(|u| (what, u)))
    .collect();
    html! {
        @if !links.is_empty() {
            @for (k, (what, url)) in links.iter().enumerate() {
                @if k > 0 { ", " }
                a href=(url) { (what) }
            }
        } @else if s.got == "untried" {
            "none: not tried"
        } @else if s.stack == "rustls" {
            "none: rustls runs in-process and prints no messages"
        } @else {
            "none in the traces' directory"
        }
    }
}

/// Longer than this, the page shows the transcript's start and names the
/// file: a room of 1,000 participants has a transcript of over a megabyte.
pub const TRANSCRIPT_SHOWN: usize = 64 * 1024;

/// The transcript as shown: whole, or its first lines up to
/// [`TRANSCRIPT_SHOWN`] bytes and how many lines are left out.
fn transcript_shown(t: &str) -> (&str, usize) {
    if t.len() <= TRANSCRIPT_SHOWN {
        return (t, 0);
    }
    let mut cut = TRANSCRIPT_SHOWN;
    while !t.is_char_boundary(cut) {
        cut -= 1;
    }
    let cut = t[..cut].rfind('\n').map_or(cut, |i| i + 1);
    (&t[..cut], t[cut..].lines().count())
}

/// The page: the picture, the cards, the transcript.
pub fn render(page: &Page) -> String {
    let whys = whys(&page.cards);
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "PKI " (page.dir) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { "PKI " (page.dir) }
                    p { (page.cards.len()) " certificates, as of " (page.made) ". Made by pkiforge." }
                    p { "Under each card, a bar runs from the certificate's not-before to its not-after; its mark is today." }
                    p class="legend" {
                        @for s in ["valid", "expiring", "expired", "not-yet-valid", "revoked", "fixture"] {
                            span class=(format!("key {s}")) { (s) }
                        }
                    }
                }
                h2 { "Who signed whom" }
                div class="picture" { (chain_svg(&page.cards)) }
                h2 { "What lint found" }
                (explained(&whys))
                h2 { "Certificates" }
                @for (i, c) in page.cards.iter().enumerate() { (card(i, c, &whys, page.now)) }
                @if let Some(t) = &page.traces { (sessions(t)) }
                h2 { "The commands that made it" }
                @match page.transcript.as_deref().map(transcript_shown) {
                    Some((t, 0)) => { p { (TRANSCRIPT) ": replay it with bash in an empty directory." } pre id="transcript" { (t) } }
                    Some((t, left)) => {
                        @let lines = if left == 1 { "1 line is".to_string() } else { format!("{left} lines are") };
                        p { (TRANSCRIPT) ": replay it with bash in an empty directory. Its start is below; the rest ("
                            (lines) " not shown in full) is in " (page.dir) "/" (TRANSCRIPT) "." }
                        pre id="transcript" { (t) "… (" (lines) " not shown in full: " (TRANSCRIPT) " has all of it)" }
                    }
                    None => { p { "This directory has no " (TRANSCRIPT) " (pkiforge writes one with every run)." } }
                }
            }
        }
    };
    // Control characters from a certificate are shown, not sent raw.
    crate::output::escape_controls(&markup.into_string())
}

const CSS: &str = r#"
body { font: 15px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #1a1a1a; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
.picture { text-align: center; } .picture svg { max-width: 100%; height: auto; }
svg .edge { stroke: #777; stroke-width: 1.5; }
svg .node rect { fill: #fff; stroke-width: 2.5; }
svg text { font-family: ui-monospace, "DejaVu Sans Mono", monospace; fill: #1a1a1a; }
svg .cn { font-size: 12px; font-weight: bold; } svg .meta, svg .state { font-size: 11px; }
svg .valid rect { stroke: #1b7f3b; } svg .expiring rect { stroke: #b26b00; }
svg .expired rect { stroke: #b3261e; } svg .revoked rect { stroke: #6a1b9a; }
svg .not-yet-valid rect { stroke: #3f51b5; } svg .fixture rect { stroke: #d35400; stroke-dasharray: 6 3; }
svg a:hover rect { fill: #f3f3f3; }
.legend .key { display: inline-block; margin-right: 1em; padding: 0 .4em; border-left: 6px solid; }
.key.valid, .card.valid { border-color: #1b7f3b; } .key.expiring, .card.expiring { border-color: #b26b00; }
.key.expired, .card.expired { border-color: #b3261e; } .key.revoked, .card.revoked { border-color: #6a1b9a; }
.key.not-yet-valid, .card.not-yet-valid { border-color: #3f51b5; } .key.fixture, .card.fixture { border-color: #d35400; }
.card { border-left: 6px solid; padding: .2em 1em 1em; margin: 1em 0; background: #fafafa; }
.card h3 { margin-bottom: 0; } .badge { font-size: .75em; border: 1px solid; padding: 0 .4em; border-radius: 3px; }
.card table { border-collapse: collapse; } .card th { text-align: left; vertical-align: top; padding-right: 1em; font-weight: 600; }
.card td ul { margin: 0; padding-left: 1.2em; } .mono, pre { font-family: ui-monospace, monospace; font-size: 13px; word-break: break-all; }
.bar { position: relative; height: 8px; background: #ddd; margin-top: .8em; border-radius: 4px; }
.bar .today { position: absolute; top: -4px; width: 3px; height: 16px; background: #1a1a1a; }
.findings .error { color: #b3261e; } .findings .warning { color: #8a5300; } .findings .note { color: #3a4a8a; } .clean { color: #1b7f3b; }
pre { white-space: pre-wrap; background: #f4f4f4; padding: 1em; }
.sessions { border-collapse: collapse; } .sessions td, .sessions th { text-align: left; padding: .1em .6em; vertical-align: top; }
.sessions tr.fail td { color: #b3261e; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  .picture { overflow: visible; } svg { max-width: 100%; height: auto; }
  .card { break-inside: avoid; background: none; }
  svg a:hover rect { fill: #fff; }
  pre { white-space: pre-wrap; font-size: 8pt; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_to_fit_their_node() {
        assert_eq!(fit("localhost", CN_CHARS), "localhost");
        let cut = fit(&"x".repeat(40), CN_CHARS);
        assert_eq!(cut.chars().count(), CN_CHARS);
        assert!(cut.ends_with('…'));
    }
}
