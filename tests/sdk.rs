//! The official Python SDKs (`openai`, `anthropic`, pinned) as real clients of
//! `switchyard serve --mock`: tests/sdk/*.py run against the binary on a free port. The
//! virtual environment is made under `target/sdk-venv` on first use; if Python or the
//! packages cannot be installed, the test fails saying so (it is never skipped).

#[path = "common/serve_proc.rs"]
mod serve_proc;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The SDK versions the scripts are written against.
const OPENAI: &str = "openai==3.57.0";
const ANTHROPIC: &str = "anthropic==2.14.0";

const SUPPORT: &str = r#"[policy]
name = "support"
default_tier = "cheap"
tokenizer = "approx"

[models.small]
provider = "mock"
model_id = "vendor-small"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0
max_output_tokens = 1000

[tiers]
cheap = "small"

[[guards]]
name = "no-tool-output"
when = { untrusted_input = true }
require = ["injection_tested"]
"#;

const CAPPED: &str = r#"[policy]
name = "capped"
default_tier = "cheap"
tokenizer = "approx"

[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0
max_output_tokens = 1000

[tiers]
cheap = "small"

[budget]
per_call_usd = 0.0000001
"#;

/// The venv's python, made and filled on first use.
fn python() -> PathBuf {
    // Both tests may get here at once; one makes the venv.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv");
    let py = root.join("bin/python");
    let ready = root.join(format!(".installed-{OPENAI}-{ANTHROPIC}"));
    if ready.exists() {
        return py;
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&root)
        .status();
    match made {
        Ok(s) if s.success() => {}
        other => panic!(
            "the SDK test needs Python 3 with venv (`python3 -m venv {}`) and it failed: {other:?}",
            root.display()
        ),
    }
    let pip = Command::new(&py)
        .args(["-m", "pip", "install", "-q", OPENAI, ANTHROPIC])
        .output()
        .expect("run pip");
    assert!(
        pip.status.success(),
        "the SDK test could not install {OPENAI} and {ANTHROPIC} from PyPI: {}",
        String::from_utf8_lossy(&pip.stderr)
    );
    std::fs::write(&ready, "").unwrap();
    py
}

#[test]
fn the_official_python_sdks_work_against_serve() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("support.toml"), SUPPORT).unwrap();
    std::fs::write(dir.path().join("capped.toml"), CAPPED).unwrap();
    let policy = dir.path().to_str().unwrap();
    let token = "sdk-test-token";
    let mut s = serve_proc::start(
        &[
            "--policy",
            policy,
            "--mock",
            "--auth-token-env",
            "SY_SDK_TOKEN",
            "--max-body-bytes",
            "200000",
        ],
        &[("SY_SDK_TOKEN", token)],
    );
    let url = format!("http://{}", s.addr);
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    for script in ["openai_sdk.py", "anthropic_sdk.py"] {
        let out = Command::new(&py)
            .arg(scripts.join(script))
            .env("SWITCHYARD_URL", &url)
            .env("SWITCHYARD_TOKEN", token)
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{script} failed:\n{}\n{}\nserver:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            s.stderr_text()
        );
    }
    // A budget refusal is not retried: one 429 per SDK, so two refused calls in all.
    let metrics = serve_http_get(&url, token);
    let refused = metrics
        .lines()
        .find(|l| l.starts_with("switchyard_route_errors_total") && l.contains("budget_exceeded"))
        .unwrap_or_else(|| panic!("no budget refusal counted:\n{metrics}"));
    assert!(refused.ends_with(" 2"), "{refused}");
    s.signal("TERM");
    let _ = s.wait();
}

/// `GET /metrics` with the token, through curl-free std sockets.
fn serve_http_get(url: &str, token: &str) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(
        c,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

/// The README's "Use it from Python" section: its `sh` and `python` blocks.
fn readme_blocks() -> (String, Vec<String>) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("## Use it from Python")
        .expect("a README section \"Use it from Python\"");
    let rest = &readme[start + 3..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let (mut sh, mut py) = (String::new(), Vec::new());
    let mut open: Option<(String, String)> = None;
    for line in section.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => open = Some((lang.to_string(), String::new())),
            (Some((lang, text)), Some(_)) => {
                match lang.as_str() {
                    "sh" => sh.push_str(text),
                    "python" => py.push(text.clone()),
                    _ => {}
                }
                open = None;
            }
            (Some((_, text)), None) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    (sh, py)
}

#[test]
fn the_readme_python_section_runs_as_written() {
    let py = python();
    let (sh, snippets) = readme_blocks();
    let command = sh.trim();
    let args = command
        .strip_prefix("cargo run -q -- serve ")
        .unwrap_or_else(|| {
            panic!("the README's command is not `cargo run -q -- serve …`: {command}")
        });
    let args: Vec<&str> = args.split_whitespace().collect();
    assert_eq!(snippets.len(), 2, "two Python snippets (OpenAI, Anthropic)");
    // Run from the repository, as the README's reader does; on a free port, not 8790.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let mut s = serve_proc::start(&args, &[]);
    for snippet in &snippets {
        let code = snippet.replace("127.0.0.1:8790", &s.addr.to_string());
        let out = Command::new(&py)
            .args(["-c", &code])
            .output()
            .expect("run python");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "README snippet failed:\n{code}\n{stdout}\n{}\nserver:\n{}",
            String::from_utf8_lossy(&out.stderr),
            s.stderr_text()
        );
        // The answer, then the headers: the tier and a cost.
        assert!(stdout.lines().count() >= 2, "{stdout}");
    }
    s.signal("TERM");
    let _ = s.wait();
}
