//! The README's quick start and five-minute tour, run as a newcomer would paste them: every
//! `sh` block in order (`cargo run -q --` replaced by the binary cargo built), in a scratch
//! copy of the repository's policies and examples where `/tmp/tour` is a scratch directory
//! too, and each block's output compared with the `json` or `text` block the README shows
//! after it. In a shown output a line `…` stands for any number of lines and a `…` inside a
//! line for any text; log timestamps are not compared. The commands run under `bash`, and the
//! tour's edits use `perl`, as a newcomer's shell would.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One fenced block of the README: its language and its text.
#[derive(Debug, Clone)]
struct Block {
    lang: String,
    text: String,
    /// The README line the block starts on, for messages.
    line: usize,
}

/// The fenced blocks between the quick start and the end of the tour.
fn tour_blocks() -> Vec<Block> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("## Quick start")
        .expect("a Quick start section");
    let end = readme[start..]
        .find("## The agent loop example")
        .map_or(readme.len(), |e| start + e);
    let first_line = readme[..start].lines().count();
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in readme[start..end].lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    lang: lang.trim().to_string(),
                    text: String::new(),
                    line: first_line + i + 1,
                })
            }
            (Some(_), Some("")) => blocks.push(open.take().unwrap()),
            (Some(b), _) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed block in the README");
    blocks
}

/// A scratch directory holding copies of `policies/` and `examples/`, and the path that
/// stands for `/tmp/tour`.
struct Scratch {
    _dir: tempfile::TempDir,
    work: PathBuf,
    tour: PathBuf,
}

fn scratch() -> Scratch {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["policies", "examples"] {
        copy_dir(&root.join(sub), &work.join(sub));
    }
    let tour = dir.path().join("tour");
    Scratch {
        _dir: dir,
        work,
        tour,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Scratch {
    /// A README command as it runs here.
    fn command(&self, text: &str) -> String {
        let bin = env!("CARGO_BIN_EXE_switchyard");
        text.replace("cargo run -q --", bin)
            .replace("/tmp/tour", self.tour.to_str().unwrap())
    }

    /// Output as the README shows it: the scratch paths written back as the README's.
    fn shown(&self, text: &str) -> String {
        text.replace(self.tour.to_str().unwrap(), "/tmp/tour")
    }

    fn shell(&self, script: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(self.command(script))
            .current_dir(&self.work)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs a block; gives what it wrote, stdout then stderr.
    fn run(&self, block: &Block) -> String {
        let out = self.shell(&block.text).output().unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        self.shown(&text)
    }
}

/// Drops a leading RFC 3339 timestamp (tracing's log lines start with one).
fn without_timestamp(line: &str) -> &str {
    let first = line.split(' ').next().unwrap_or("");
    let looks_like_time = first.len() > 20
        && first.as_bytes()[4] == b'-'
        && first.contains('T')
        && first.ends_with('Z');
    if looks_like_time {
        line[first.len()..].trim_start()
    } else {
        line
    }
}

/// Whether an actual line matches a shown one: equal, or with each `…` standing for any text.
fn line_matches(shown: &str, actual: &str) -> bool {
    let (shown, actual) = (without_timestamp(shown), without_timestamp(actual));
    if !shown.contains('…') {
        return shown == actual;
    }
    let parts: Vec<&str> = shown.split('…').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || !actual[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether the actual lines match the shown ones; a shown line `…` matches any run of lines.
fn lines_match(shown: &[&str], actual: &[&str]) -> bool {
    match shown.split_first() {
        None => actual.is_empty(),
        Some((s, rest)) if s.trim() == "…" => {
            (0..=actual.len()).any(|k| lines_match(rest, &actual[k..]))
        }
        Some((s, rest)) => {
            !actual.is_empty() && line_matches(s, actual[0]) && lines_match(rest, &actual[1..])
        }
    }
}

fn assert_output(block: &Block, shown: &Block, actual: &str) {
    let trim = |t: &str| -> Vec<String> {
        let mut v: Vec<String> = t.lines().map(|l| l.trim_end().to_string()).collect();
        while v.last().is_some_and(|l| l.is_empty()) {
            v.pop();
        }
        v
    };
    let (want, got) = (trim(&shown.text), trim(actual));
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    let got: Vec<&str> = got.iter().map(String::as_str).collect();
    assert!(
        lines_match(&want, &got),
        "README line {}: the output of\n{}\ndoes not match what README line {} shows.\n--- shown:\n{}\n--- actual:\n{}",
        block.line,
        block.text,
        shown.line,
        shown.text,
        actual
    );
}

/// Commands the test does not run: the test suite itself, and installing the binary.
fn skipped(block: &Block) -> bool {
    block.text.trim() == "cargo test" || block.text.contains("cargo install")
}

#[test]
fn every_tour_step_works_when_pasted_in_order() {
    let blocks = tour_blocks();
    assert!(
        blocks.iter().filter(|b| b.lang == "sh").count() >= 10,
        "the tour has its commands"
    );
    let s = scratch();
    let mut i = 0;
    let mut checked = 0;
    while i < blocks.len() {
        let block = &blocks[i];
        i += 1;
        if block.lang != "sh" || skipped(block) {
            continue;
        }
        if block.text.contains("--watch") {
            i = watch_step(&s, &blocks, i - 1);
            checked += 1;
            continue;
        }
        let actual = s.run(block);
        // The output shown for it, if any, comes before the next command.
        if let Some(shown) = blocks[i..]
            .iter()
            .take_while(|b| b.lang != "sh")
            .find(|b| b.lang == "json" || b.lang == "text")
        {
            assert_output(block, shown, &actual);
            checked += 1;
        }
    }
    assert!(checked >= 9, "only {checked} outputs were compared");
}

/// The hot-reload step: the `--watch` command runs in the background; the step shown next
/// (a `json` block) is typed into it, each later `sh` block is run "in another terminal"
/// followed by the step again once the reload is reported; the `text` block shows the
/// session. Returns the index of the block after it.
fn watch_step(s: &Scratch, blocks: &[Block], at: usize) -> usize {
    let watch = &blocks[at];
    let mut step = None;
    let mut edits = Vec::new();
    let mut shown = None;
    let mut i = at + 1;
    while i < blocks.len() && shown.is_none() {
        match blocks[i].lang.as_str() {
            "json" => step = Some(blocks[i].text.trim().to_string()),
            "sh" => edits.push(&blocks[i]),
            "text" => shown = Some(&blocks[i]),
            _ => {}
        }
        i += 1;
    }
    let step = step.expect("the watch step shows the step to type");
    let shown = shown.expect("the watch step shows the session");
    assert_eq!(edits.len(), 2, "an edit and a broken edit");

    let mut child = s
        .shell(&watch.text)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let err_tx = tx.clone();
    let stderr = child.stderr.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let readers = [
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        }),
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        }),
    ];
    let mut stdin = child.stdin.take().unwrap();
    let mut session = Vec::new();
    // Collects lines until one holds `until`.
    let wait_for = |until: &str, session: &mut Vec<String>| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(until);
                    session.push(s.shown(&line));
                    if done {
                        return;
                    }
                }
                Err(_) => panic!(
                    "README line {}: no line with `{until}` came; so far:\n{}",
                    watch.line,
                    session.join("\n")
                ),
            }
        }
    };
    writeln!(stdin, "{step}").unwrap();
    wait_for("\"policy\"", &mut session);
    let out = s.shell(&edits[0].text).output().unwrap();
    assert!(out.status.success(), "README line {}", edits[0].line);
    wait_for("reloaded", &mut session);
    writeln!(stdin, "{step}").unwrap();
    wait_for("\"policy\"", &mut session);
    let out = s.shell(&edits[1].text).output().unwrap();
    assert!(out.status.success(), "README line {}", edits[1].line);
    wait_for("still serving", &mut session);
    drop(stdin);
    assert!(child.wait().unwrap().success());
    for r in readers {
        r.join().unwrap();
    }
    assert_output(watch, shown, &session.join("\n"));
    i
}

#[test]
fn the_matcher_honours_ellipses() {
    assert!(line_matches("a…c", "abbbc"));
    assert!(!line_matches("a…c", "abbb"));
    assert!(line_matches(
        "{…\"rule\":null,…}",
        "{\"x\":1,\"rule\":null,\"y\":2}"
    ));
    assert!(line_matches(
        "ERROR x: y",
        "2026-11-30T14:33:36.213254Z ERROR x: y"
    ));
    assert!(lines_match(&["a", "…", "d"], &["a", "b", "c", "d"]));
    assert!(lines_match(&["a", "…"], &["a"]));
    assert!(lines_match(&["a", "   …", "d"], &["a", "d"]));
    assert!(!lines_match(&["a", "…", "d"], &["a", "b"]));
}
