//! Loading policies from hostile or mistaken files: FIFOs, devices, directories and huge
//! files are refused with a clear error (never a hang or an unbounded read); includes stay
//! inside the policy's directory unless the loader allows another; and no diagnostic, in any
//! output format, shows the text of a file that may not be a policy, or a key pasted into
//! `api_key_env`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use switchyard::lint::lint_paths;
use switchyard::lint::render::{render, Format};
use switchyard::policy::{load_path, load_with, LoadOptions, MAX_POLICY_FILE_BYTES};
use switchyard::LoadError;

/// Long enough for a loaded machine; a load that takes this long is hanging.
const HANG: Duration = Duration::from_secs(20);

const MODELS: &str = r#"[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0
"#;

fn policy(include: &str) -> String {
    format!(
        "[policy]\nname = \"p\"\ndefault_tier = \"cheap\"\ninclude = [{include}]\n\n[tiers]\ncheap = \"small\"\n"
    )
}

/// Loads on another thread, so a load that blocks fails the test instead of hanging it.
fn load_in_time(path: &Path, options: LoadOptions) -> Result<usize, LoadError> {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(load_with(&path, &options).map(|p| p.len()));
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("loading {} blocked", "the policy"))
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Every rendering of a lint run over `path`: human, JSON, GitHub, SARIF.
fn every_rendering(path: &Path) -> String {
    let report = lint_paths(&[path.to_path_buf()]);
    let mut all = String::new();
    for format in [Format::Human, Format::Json, Format::Github, Format::Sarif] {
        all.push_str(&render(&report, format, false));
    }
    if let Err(e) = load_path(path) {
        all.push_str(&e.to_string());
        all.push_str(&format!("{e:?}"));
    }
    all
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

// ---- unbounded reads ----

#[cfg(unix)]
#[test]
fn a_fifo_named_as_the_policy_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("policy.toml");
    mkfifo(&fifo);
    let err = load_in_time(&fifo, LoadOptions::default()).unwrap_err();
    assert_eq!(err.diagnostics[0].name, "file-unreadable");
    let text = err.to_string();
    assert!(text.contains("policy.toml"), "{text}");
    assert!(text.contains("not a regular file"), "{text}");
    assert!(err.is_io());
}

#[cfg(unix)]
#[test]
fn a_fifo_named_as_an_include_is_refused_at_the_include_entry() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("models.toml"));
    let p = write(dir.path(), "policy.toml", &policy("\"models.toml\""));
    let err = load_in_time(&p, LoadOptions::default()).unwrap_err();
    let d = &err.diagnostics[0];
    assert_eq!(d.name, "include-not-found");
    assert!(
        d.location().ends_with("policy.toml:4:12"),
        "{}",
        d.location()
    );
    assert!(d.message.contains("not a regular file"), "{}", d.message);
}

#[cfg(unix)]
#[test]
fn a_device_is_never_read() {
    let err = load_in_time(Path::new("/dev/zero"), LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    // As an include too (allowed explicitly, so only the file kind refuses it).
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "policy.toml", &policy("\"/dev/zero\""));
    let err = load_in_time(&p, LoadOptions::default().allow_include_dir("/dev")).unwrap_err();
    assert_eq!(err.diagnostics[0].name, "include-not-found");
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn a_directory_named_as_an_include_says_so() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("models.toml")).unwrap();
    let p = write(dir.path(), "policy.toml", &policy("\"models.toml\""));
    let err = load_path(&p).unwrap_err();
    assert_eq!(err.diagnostics[0].name, "include-not-found");
    assert!(err.to_string().contains("is a directory"), "{err}");
}

#[test]
fn a_policy_above_the_size_cap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = policy("");
    text.push_str(&"#".repeat(MAX_POLICY_FILE_BYTES as usize));
    text.push('\n');
    text.push_str(MODELS);
    let p = write(dir.path(), "policy.toml", &text);
    let err = load_path(&p).unwrap_err();
    assert_eq!(err.diagnostics[0].name, "file-unreadable");
    assert!(err.to_string().contains("larger than 4 MiB"), "{err}");
    // The same as an include.
    let inc = write(dir.path(), "models.toml", &text.replace("[policy]", "#"));
    let p = write(dir.path(), "policy.toml", &policy("\"models.toml\""));
    let err = load_path(&p).unwrap_err();
    assert!(err.to_string().contains("larger than 4 MiB"), "{err}");
    fs::write(&inc, MODELS).unwrap();
    load_path(&p).expect("a catalog of normal size loads");
}

// ---- includes stay in their directory ----

#[test]
fn an_include_outside_the_policy_directory_is_refused_at_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    let shared = dir.path().join("shared");
    fs::create_dir_all(&policies).unwrap();
    fs::create_dir_all(&shared).unwrap();
    write(&shared, "models.toml", MODELS);
    let p = write(
        &policies,
        "policy.toml",
        &policy("\"../shared/models.toml\""),
    );
    let err = load_path(&p).unwrap_err();
    let d = &err.diagnostics[0];
    assert_eq!(d.name, "include-outside");
    assert!(
        d.location().ends_with("policy.toml:4:12"),
        "{}",
        d.location()
    );
    // Allowed explicitly, it loads.
    let options = LoadOptions::default().allow_include_dir(&shared);
    let loaded = load_with(&p, &options).expect("the allowed directory's catalog loads");
    assert_eq!(loaded[0].models()[0].key, "small");
}

#[cfg(unix)]
#[test]
fn a_symlink_inside_the_directory_cannot_lead_out_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = write(outside.path(), "models.toml", MODELS);
    std::os::unix::fs::symlink(&target, dir.path().join("models.toml")).unwrap();
    let p = write(dir.path(), "policy.toml", &policy("\"models.toml\""));
    let err = load_path(&p).unwrap_err();
    assert_eq!(err.diagnostics[0].name, "include-outside");
}

#[cfg(target_os = "linux")]
#[test]
fn proc_self_environ_is_refused_and_never_echoed() {
    let path_var = std::env::var("PATH").expect("PATH is set");
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "policy.toml", &policy("\"/proc/self/environ\""));
    let out = every_rendering(&p);
    assert!(out.contains("include-outside"), "{out}");
    assert!(
        !out.contains(&path_var),
        "the environment was printed:\n{out}"
    );
    // Even when its directory is allowed, its text is not shown: it is not TOML.
    let options = LoadOptions::default().allow_include_dir("/proc/self");
    let err = load_with(&p, &options).unwrap_err();
    let shown: String = err
        .diagnostics
        .iter()
        .map(|d| format!("{}{}{d}", d.render(false), d.to_json()))
        .collect();
    assert!(
        !shown.contains(&path_var),
        "the environment was printed:\n{shown}"
    );
}

#[test]
fn an_include_that_is_not_toml_is_located_but_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "secrets.env",
        "export OPENAI_API_KEY=sk-live-Zq81secret\n",
    );
    let p = write(dir.path(), "policy.toml", &policy("\"secrets.env\""));
    let out = every_rendering(&p);
    assert!(!out.contains("Zq81secret"), "{out}");
    assert!(!out.contains("OPENAI_API_KEY"), "{out}");
    let err = load_path(&p).unwrap_err();
    let d = &err.diagnostics[0];
    assert_eq!(d.name, "toml-syntax");
    assert!(d.location().contains("secrets.env:1:"), "{}", d.location());
    assert!(
        d.render(false).contains("secrets.env:1:"),
        "{}",
        d.render(false)
    );
}

#[test]
fn an_include_that_is_toml_but_not_a_catalog_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "keys.toml",
        "OPENAI_API_KEY = \"sk-live-Zq81secret\"\n",
    );
    let p = write(dir.path(), "policy.toml", &policy("\"keys.toml\""));
    let out = every_rendering(&p);
    assert!(out.contains("catalog-not-models-only"), "{out}");
    assert!(!out.contains("Zq81secret"), "{out}");
    assert!(!out.contains("OPENAI_API_KEY"), "{out}");
}

// ---- a key pasted into api_key_env ----

const KEY: &str = "sk-proj-Zq81secretKEY";

fn policy_with_key(model_lines: &str) -> String {
    format!(
        "[policy]\nname = \"p\"\ndefault_tier = \"cheap\"\n\n[models.small]\nprovider = \"openai\"\n{model_lines}\n[tiers]\ncheap = \"small\"\n"
    )
}

#[test]
fn a_pasted_key_is_redacted_in_a_neighbours_context_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "policy.toml",
        &policy_with_key(&format!(
            "api_key_env = \"{KEY}\"\ninput_usd_per_mtk = 1.0\noutput_usd_per_mtok = 2.0\n"
        )),
    );
    let out = every_rendering(&p);
    assert!(out.contains("unknown-key"), "{out}");
    assert!(!out.contains(KEY), "the key was printed:\n{out}");
    assert!(!out.contains("Zq81"), "part of the key was printed:\n{out}");
}

#[test]
fn a_pasted_key_in_an_unterminated_string_is_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "policy.toml",
        &policy_with_key(&format!(
            "api_key_env = \"{KEY}\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n"
        )),
    );
    let out = every_rendering(&p);
    assert!(out.contains("toml-syntax"), "{out}");
    assert!(!out.contains("Zq81"), "the key was printed:\n{out}");
}

#[test]
fn a_pasted_key_is_redacted_on_its_own_line_too() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "policy.toml",
        &policy_with_key(&format!(
            "api_key_env = '{KEY}'\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n"
        )),
    );
    let out = every_rendering(&p);
    assert!(out.contains("api_key_env"), "{out}");
    assert!(!out.contains("Zq81"), "the key was printed:\n{out}");
}

#[test]
fn a_variable_name_in_api_key_env_is_shown_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "policy.toml",
        &policy_with_key(
            "api_key_env = \"MUSE_API_KEY\"\ninput_usd_per_mtk = 1.0\noutput_usd_per_mtok = 2.0\n",
        ),
    );
    let out = every_rendering(&p);
    assert!(out.contains("MUSE_API_KEY"), "{out}");
}

// ---- the error as a library user sees it ----

#[test]
fn a_load_error_debug_is_short_and_holds_no_policy_text() {
    let filler = "# a long comment that must never be dumped by Debug\n".repeat(4000);
    let text = format!("{filler}[policy]\nname = \"p\"\ndefault_tier = \"nope\"\n");
    let err = switchyard::policy::load_policy_text(Path::new("p.toml"), text).unwrap_err();
    let debug = format!("{err:?}");
    assert!(debug.len() < 1000, "{} bytes: {debug}", debug.len());
    assert!(!debug.contains("long comment"), "{debug}");
    assert!(debug.contains("p.toml:"), "{debug}");
}

#[test]
fn a_load_error_renders_with_miette_like_the_cli() {
    let text = "[policy]\nname = \"p\"\ndefault_tier = \"nope\"\n";
    let err = switchyard::policy::load_policy_text(Path::new("p.toml"), text).unwrap_err();
    let cli: String = err.diagnostics.iter().map(|d| d.render(false)).collect();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_context_lines(1);
    let mut lib = String::new();
    handler.render_report(&mut lib, &err).unwrap();
    // Each problem appears as the CLI shows it: its code, location and source line.
    for d in &err.diagnostics {
        assert!(lib.contains(d.name), "{lib}");
        assert!(lib.contains(&d.location()), "{lib}");
    }
    assert!(lib.contains("default_tier = \"nope\""), "{lib}");
    assert!(cli.contains("default_tier = \"nope\""), "{cli}");
}
