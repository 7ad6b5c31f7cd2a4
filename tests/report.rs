//! The workshop page, checked in a real browser: Chromium (the
//! distribution's package; .ci/run installs it) loads each report headless,
//! a small script run in the page reads the picture back from the DOM, and
//! a screenshot must not be blank.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| which::which(name).ok())
        .expect("Chromium is installed (apt-get install chromium; .ci/run installs it)")
}

/// Chromium's words for a headless run as root in a container.
fn headless() -> Command {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
    ]);
    cmd.env("HOME", std::env::temp_dir());
    cmd
}

/// What the script run in the page finds, one line per fact:
/// `node FILE|CN LABEL`, `edge FROM TO`, `overlap A B`, and `texts N`.
const CHECK: &str = r#"<script>
(function () {
  var out = [];
  var nodes = document.querySelectorAll('svg#chain g.node');
  nodes.forEach(function (g) {
    out.push('node ' + g.getAttribute('data-file') + '|' + g.querySelector('text.cn').textContent);
  });
  document.querySelectorAll('svg#chain line.edge').forEach(function (l) {
    out.push('edge ' + l.getAttribute('data-from') + ' ' + l.getAttribute('data-to'));
  });
  var boxes = [];
  document.querySelectorAll('svg#chain text, svg#chain rect').forEach(function (t) {
    var b = t.getBBox();
    boxes.push({ kind: t.tagName, name: t.textContent, node: t.parentNode.getAttribute('data-file'), x: b.x, y: b.y, w: b.width, h: b.height });
  });
  var texts = boxes.filter(function (b) { return b.kind === 'text'; });
  var rects = boxes.filter(function (b) { return b.kind === 'rect'; });
  function meet(a, b) { return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h; }
  for (var i = 0; i < texts.length; i++) {
    for (var j = i + 1; j < texts.length; j++) {
      if (meet(texts[i], texts[j])) out.push('overlap ' + texts[i].name + ' / ' + texts[j].name);
    }
    // A label stays inside its own node.
    var own = rects.filter(function (r) { return r.node === texts[i].node; })[0];
    var t = texts[i];
    if (!(own && t.x >= own.x && t.x + t.w <= own.x + own.w && t.y >= own.y && t.y + t.h <= own.y + own.h)) {
      out.push('outside ' + t.name);
    }
  }
  for (var i = 0; i < rects.length; i++) {
    for (var j = i + 1; j < rects.length; j++) {
      if (meet(rects[i], rects[j])) out.push('overlap ' + rects[i].node + ' / ' + rects[j].node);
    }
  }
  out.push('texts ' + texts.length);
  var pre = document.createElement('pre');
  pre.id = 'pkiforge-check';
  pre.textContent = out.join('\n');
  document.body.appendChild(pre);
})();
</script>"#;

/// The report of DIR with the check script, loaded in Chromium: the
/// check's lines, and the whole DOM.
fn check_in_browser(report: &Path) -> (Vec<String>, String) {
    let html = fs::read_to_string(report).unwrap();
    let checked = report.with_file_name("checked.html");
    fs::write(
        &checked,
        html.replace("</body>", &format!("{CHECK}</body>")),
    )
    .unwrap();
    let out = headless()
        .arg("--dump-dom")
        .arg(format!("file://{}", checked.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8(out.stdout).unwrap();
    let start = dom.find("<pre id=\"pkiforge-check\">").unwrap_or_else(|| {
        panic!(
            "the check did not run:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let rest = &dom[start + "<pre id=\"pkiforge-check\">".len()..];
    let text = &rest[..rest.find("</pre>").unwrap()];
    let lines = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .lines()
        .map(str::to_string)
        .collect();
    (lines, dom)
}

/// A screenshot of the report: a PNG of more than a few colours.
fn screenshot(report: &Path, png: &Path) -> usize {
    let out = headless()
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,900")
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    assert!(png.is_file(), "{}", String::from_utf8_lossy(&out.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let step = info.color_type.samples();
    let mut colours: Vec<&[u8]> = bytes.chunks(step).collect();
    colours.sort();
    colours.dedup();
    colours.len()
}

/// The certificates as `inspect --json` has them: file, CN, subject, issuer.
fn certificates(work: &Path, dir: &str) -> Vec<(String, String, String, String, bool)> {
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(work, &["inspect", dir, "--json"])).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["file"].as_str().unwrap().to_string(),
                c["cn"].as_str().unwrap_or("").to_string(),
                c["subject"].as_str().unwrap().to_string(),
                c["issuer"].as_str().unwrap().to_string(),
                c["self_signed"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Makes the PKI of `profile` text, writes its report, and checks the
/// picture in the browser: one node per certificate with its CN, every
/// edge from issuer to subject, no two labels or nodes overlapping.
fn a_report_checked(profile: &str) -> (tempfile::TempDir, Vec<String>, String) {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("p.toml"), profile);
    run_ok(tmp.path(), &["--quiet", "run", "p.toml", "--out", "pki"]);
    assert_eq!(
        run_ok(tmp.path(), &["--quiet", "report", "pki"]),
        "report written to pki/report.html\n"
    );
    let (lines, dom) = check_in_browser(&tmp.path().join("pki/report.html"));
    let certs = certificates(tmp.path(), "pki");
    let nodes: Vec<&String> = lines.iter().filter(|l| l.starts_with("node ")).collect();
    assert_eq!(nodes.len(), certs.len(), "{lines:?}");
    for (file, cn, ..) in &certs {
        let label = nodes
            .iter()
            .find(|n| n.starts_with(&format!("node {file}|")))
            .unwrap_or_else(|| panic!("no node for {file}: {lines:?}"));
        let shown = &label[format!("node {file}|").len()..];
        assert!(
            shown == cn || (shown.ends_with('…') && cn.starts_with(shown.trim_end_matches('…'))),
            "{file}: {shown:?} for {cn:?}"
        );
    }
    let edges: Vec<&String> = lines.iter().filter(|l| l.starts_with("edge ")).collect();
    assert_eq!(
        edges.len(),
        certs.iter().filter(|c| !c.4).count(),
        "{lines:?}"
    );
    for edge in edges {
        let mut words = edge["edge ".len()..].split(' ');
        let (from, to) = (words.next().unwrap(), words.next().unwrap());
        let of = |f: &str| certs.iter().find(|c| c.0 == f).unwrap().clone();
        assert_eq!(of(to).3, of(from).2, "{to} is not signed by {from}");
    }
    let bad: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("overlap ") || l.starts_with("outside "))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(lines.last().unwrap(), &format!("texts {}", 3 * certs.len()));
    (tmp, lines, dom)
}

fn fast(profile: &str) -> String {
    fs::read_to_string(repo().join("profiles").join(profile))
        .unwrap()
        .replace("4096", "2048")
}

#[test]
fn the_localhost_report_draws_the_chain_and_is_not_blank() {
    let (tmp, _, dom) = a_report_checked(&fast("localhost.toml"));
    // Self-contained: nothing is fetched.
    let html = fs::read_to_string(tmp.path().join("pki/report.html")).unwrap();
    for outside in ["src=", "http://", "https://", "<link", "@import", "url("] {
        let allowed = "http://www.w3.org/2000/svg";
        assert!(
            !html.replace(allowed, "").contains(outside),
            "{outside} in the report"
        );
    }
    // Each card is reachable from its node, and the transcript is there.
    assert!(dom.contains("<a href=\"#card-0\">"));
    assert!(dom.contains("id=\"card-0\""));
    assert!(dom.contains("<pre id=\"transcript\">#!/usr/bin/env bash"));
    assert!(dom.contains("openssl req -new -x509 -key ca.key -out ca.crt"));
    let colours = screenshot(
        &tmp.path().join("pki/report.html"),
        &tmp.path().join("shot.png"),
    );
    assert!(colours > 20, "a blank screenshot: {colours} colours");
}

#[test]
fn the_strict_report_shows_every_certificate_and_its_findings() {
    let (_tmp, _, dom) = a_report_checked(&fast("strict.toml"));
    assert!(
        dom.contains("lint: no findings"),
        "strict certificates are clean"
    );
    assert!(dom.contains("class=\"badge\">valid</span>"));
}

#[test]
fn a_workshop_of_64_clients_fits_without_overlap() {
    let mut profile = String::from(
        "[ca]\nkey = \"ec:P-256\"\nsubject = { CN = \"Workshop CA\" }\n[[server]]\nkey = \"ec:P-256\"\nsubject = { CN = \"localhost\" }\nsan = [\"DNS:localhost\"]\n",
    );
    for i in 1..=64 {
        profile.push_str(&format!(
            "[[client]]\nname = \"participant-{i:02}\"\nkey = \"ec:P-256\"\nsubject = {{ CN = \"Participant number {i:02} of the workshop\" }}\nsan = [\"DNS:localhost\"]\n"
        ));
    }
    let (tmp, lines, _) = a_report_checked(&profile);
    assert_eq!(lines.iter().filter(|l| l.starts_with("node ")).count(), 66);
    let size = fs::metadata(tmp.path().join("pki/report.html"))
        .unwrap()
        .len();
    assert!(size < 1_000_000, "{size} bytes");
}

#[test]
fn a_hostile_subject_is_text_never_markup() {
    let profile = fast("localhost.toml").replace(
        "CN = \"workshop client\"",
        "CN = \"<script>alert('x')</script> \\\"q\\\" &amp;\"",
    );
    let (tmp, _, dom) = a_report_checked(&profile);
    assert_eq!(
        dom.matches("<script>").count(),
        1,
        "only the check's own script"
    );
    assert!(
        dom.contains("&lt;script&gt;alert('x')&lt;/script&gt; \"q\" &amp;amp;"),
        "{dom}"
    );
    // A control character in a certificate someone put in DIR is shown escaped.
    let dir = tmp.path().join("pki");
    let out = Command::new(openssl())
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(tmp.path().join("odd.key"))
        .args(["-subj", "/O=ctl\x07char/CN=odd", "-out"])
        .arg(dir.join("odd.crt"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run_ok(tmp.path(), &["--quiet", "report", "pki"]);
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("O=ctl\\x07char, CN=odd"));
    assert!(!html.contains('\x07'));
}

#[test]
fn report_out_writes_elsewhere_and_a_missing_dir_is_refused() {
    let (tmp, _) = copy();
    let out = run_ok(
        tmp.path(),
        &["--quiet", "report", "pki", "--out", "handouts/room.html"],
    );
    assert_eq!(out, "report written to handouts/room.html\n");
    assert!(tmp.path().join("handouts/room.html").is_file());
    assert!(!tmp.path().join("pki/report.html").exists());
    let (stdout, stderr, code) = run(tmp.path(), &["report", "nowhere"]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert_eq!(
        stderr,
        "error: nowhere is not a directory; give the directory a run wrote, e.g. pki/localhost\n"
    );
}

/// `report --traces`: the page has a row per session of `handshake
/// --trace`, whose links, opened from the page's directory, are that
/// session's trace and keylog; a row of the rustls stack says why it has
/// none. Links come only for files of TRACES: an index naming `../` gets
/// none. No index: the error says how to write one.
#[test]
fn report_traces_links_each_session_to_its_trace() {
    let (tmp, _) = copy();
    let work = tmp.path();
    let (_, _, code) = run(work, &["--quiet", "handshake", "pki", "--trace", "traces"]);
    assert_eq!(code, 0);
    // Made elsewhere, so the links have to climb: handouts/ to traces/.
    run_ok(
        work,
        &[
            "--quiet",
            "report",
            "pki",
            "--out",
            "handouts/room.html",
            "--traces",
            "traces",
        ],
    );
    let (_, dom) = check_in_browser(&work.join("handouts/room.html"));
    let table = &dom[dom
        .find("<table class=\"sessions\">")
        .expect("the sessions' table")..];
    let table = &table[..table.find("</table>").unwrap()];
    let rows: Vec<&str> = table.split("<tr").skip(2).collect();
    let cases = run_ok(work, &["--quiet", "handshake", "pki", "--json"]);
    let cases: Vec<serde_json::Value> = serde_json::from_str(&cases).unwrap();
    assert_eq!(rows.len(), cases.len(), "{table}");
    for (i, (row, case)) in rows.iter().zip(&cases).enumerate() {
        let name = case["name"].as_str().unwrap();
        let stack = case["stack"].as_str().unwrap();
        assert!(
            row.contains(&format!("<td>{}</td><td>{stack}</td>", i + 1)),
            "{row}"
        );
        assert!(row.contains(&format!("<td>{name}</td>")), "{row}");
        let links: Vec<&str> = row
            .split("href=\"")
            .skip(1)
            .map(|l| &l[..l.find('"').unwrap()])
            .collect();
        if stack == "rustls" {
            assert!(links.is_empty(), "{row}");
            assert!(
                row.contains("none: rustls runs in-process and prints no messages"),
                "{row}"
            );
            continue;
        }
        // tcpdump is installed (.ci/run) and may capture: a pcap too.
        assert_eq!(links.len(), 3, "{row}");
        assert!(links[2].ends_with(".pcap"), "{links:?}");
        assert!(work.join("handouts").join(links[2]).is_file(), "{links:?}");
        let trace = fs::read_to_string(work.join("handouts").join(links[0]))
            .unwrap_or_else(|e| panic!("{links:?}: {e}"));
        assert!(trace.contains(name), "{} is not {name}'s trace", links[0]);
        assert!(trace.contains("ClientHello"), "{trace}");
        let keylog = fs::read_to_string(work.join("handouts").join(links[1])).unwrap();
        assert!(keylog.contains("_HANDSHAKE_TRAFFIC_SECRET "), "{keylog}");
        assert!(
            links[0].starts_with("../traces/") && links[1].ends_with(".keylog"),
            "{links:?}"
        );
    }
    // An index that names a file outside TRACES links nothing.
    let index = work.join("traces/sessions.json");
    let text = fs::read_to_string(&index).unwrap();
    let indexed: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let first = indexed[0]["trace"].as_str().unwrap();
    fs::write(&index, text.replace(first, "../pki/ca.key")).unwrap();
    // Nor a symbolic link in TRACES to a file outside it.
    let second = indexed[1]["keylog"].as_str().unwrap();
    fs::remove_file(work.join("traces").join(second)).unwrap();
    std::os::unix::fs::symlink(work.join("pki/ca.key"), work.join("traces").join(second)).unwrap();
    run_ok(work, &["--quiet", "report", "pki", "--traces", "traces"]);
    let html = fs::read_to_string(work.join("pki/report.html")).unwrap();
    assert!(!html.contains("ca.key\">"), "a link out of TRACES");
    assert!(
        !html.contains(&format!("{second}\">")),
        "a link to a link out of TRACES"
    );
    // The first session's trace is gone: its pcap is still linked, and
    // the row does not say openssl runs in-process.
    let row = &html[html.find("<tr class=\"ok\"><td>1</td>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains(">keylog</a>, <a href=") && row.ends_with(">pcap</a></td>"),
        "{row}"
    );
    assert!(html.contains("href=\"../traces/"), "the other links stay");
    // No index.
    fs::remove_file(&index).unwrap();
    let (_, stderr, code) = run(work, &["--quiet", "report", "pki", "--traces", "traces"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: --traces traces: cannot read sessions.json ("),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("); write the traces with pkiforge handshake DIR --trace traces"),
        "{stderr}"
    );
}
