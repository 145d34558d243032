//! Hot reload against real files in temporary directories (no fake watcher): every way a
//! policy file changes, broken and half-written content never going live, the storm test,
//! and `route --watch` end to end. Waits poll the status with a generous deadline; nothing
//! asserts on how long anything took.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use switchyard::policy::LoadOptions;
use switchyard::reload::{Outcome, ReloadStatus, WatchHandle, WatchOptions};
use switchyard::{RouteError, RouteFailure, Router, Step};

/// Long enough for a loaded 2-core machine; a passing test never waits this long.
const DEADLINE: Duration = Duration::from_secs(20);

/// A complete policy with its models inline: steps with role `x` go to `tier`; `tag` only
/// makes the bytes (so the version) differ.
fn policy(name: &str, tag: &str, tier: &str) -> String {
    format!(
        r#"# {tag}
[policy]
name = "{name}"
default_tier = "standard"

[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0

[models.big]
provider = "mock"
input_usd_per_mtok = 10.0
output_usd_per_mtok = 20.0

[tiers]
cheap = "small"
standard = "big"
premium = "big"

[[rules]]
name = "x-role"
when = {{ role = "x" }}
tier = "{tier}"

[[rules]]
name = "long"
when = {{ input_tokens = {{ gt = 50000 }} }}
tier = "premium"
"#
    )
}

/// A policy that pulls its models from `models.toml` next to it.
fn policy_with_include(tag: &str) -> String {
    format!(
        r#"# {tag}
[policy]
name = "inc"
include = ["models.toml"]
default_tier = "standard"

[tiers]
cheap = "small"
standard = "big"

[[rules]]
name = "x-role"
when = {{ role = "x" }}
tier = "cheap"
"#
    )
}

fn catalog(small_id: &str) -> String {
    format!(
        r#"[models.small]
provider = "mock"
model_id = "{small_id}"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0

[models.big]
provider = "mock"
input_usd_per_mtok = 10.0
output_usd_per_mtok = 20.0
"#
    )
}

/// The version the loader gives a self-contained policy text.
fn version(text: &str) -> String {
    switchyard::policy::load_policy_text(Path::new("v.toml"), text.to_string())
        .expect("test policy loads")
        .version()
        .to_string()
}

fn step() -> Step {
    Step::new("x").input_tokens(100)
}

fn opts() -> WatchOptions {
    // Events only (no polling), so each pattern proves the change events are seen.
    WatchOptions::default()
        .debounce(Duration::from_millis(50))
        .poll_interval(None)
}

/// Polls until `cond` holds on the status, or panics with the status after the deadline.
fn wait_for(h: &WatchHandle, what: &str, cond: impl Fn(&ReloadStatus) -> bool) {
    let end = Instant::now() + DEADLINE;
    loop {
        let st = h.status();
        if cond(&st) {
            return;
        }
        if Instant::now() > end {
            panic!("gave up waiting for {what}; status: {st:#?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn wait_version(h: &WatchHandle, name: &str, v: &str) {
    wait_for(h, &format!("{name} at {v}"), |st| {
        st.version_of(name) == Some(v)
    });
}

/// Writes through a temporary file in the same directory renamed over the target, as most
/// editors and `sed -i` do.
fn rename_over(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn routed_version(h: &WatchHandle) -> String {
    h.route(&step()).unwrap().policy_version().to_string()
}

struct Setup {
    _dir: tempfile::TempDir,
    path: PathBuf,
    handle: WatchHandle,
}

/// One policy file `policy.toml` holding `text`, watched with `opts`.
fn single(text: &str, opts: WatchOptions) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    fs::write(&path, text).unwrap();
    let handle = Router::watch(&path, opts).unwrap();
    Setup {
        _dir: dir,
        path,
        handle,
    }
}

#[test]
fn in_place_write_goes_live() {
    let v1 = policy("p", "v1", "cheap");
    let v2 = policy("p", "v2", "premium");
    let s = single(&v1, opts());
    assert_eq!(routed_version(&s.handle), version(&v1));
    fs::write(&s.path, &v2).unwrap();
    wait_version(&s.handle, "p", &version(&v2));
    let d = s.handle.route(&step()).unwrap();
    assert_eq!(d.tier(), "premium");
    assert_eq!(d.policy_version(), version(&v2));
    let st = s.handle.status();
    assert_eq!(st.last.as_ref().unwrap().outcome, Outcome::Reloaded);
    assert!(st.reloads_ok >= 1);
    assert_eq!(st.reloads_failed, 0);
}

#[test]
fn rename_over_goes_live_every_time() {
    // Watching the file itself dies after the first rename; watching the directory does not.
    let s = single(&policy("p", "v0", "cheap"), opts());
    for (i, tier) in ["premium", "cheap", "standard"].iter().enumerate() {
        let text = policy("p", &format!("v{}", i + 1), tier);
        rename_over(&s.path, &text);
        wait_version(&s.handle, "p", &version(&text));
        assert_eq!(s.handle.route(&step()).unwrap().tier(), *tier);
    }
}

#[test]
fn vim_style_save_goes_live() {
    let s = single(&policy("p", "v1", "cheap"), opts());
    let dir = s.path.parent().unwrap();
    // Vim's default save: probe file, original renamed to a backup, new file written, backup
    // removed.
    let probe = dir.join("4913");
    fs::write(&probe, "").unwrap();
    fs::remove_file(&probe).unwrap();
    let backup = dir.join("policy.toml~");
    fs::rename(&s.path, &backup).unwrap();
    let v2 = policy("p", "v2", "premium");
    let mut f = fs::File::create(&s.path).unwrap();
    f.write_all(v2.as_bytes()).unwrap();
    f.sync_all().unwrap();
    drop(f);
    fs::remove_file(&backup).unwrap();
    wait_version(&s.handle, "p", &version(&v2));
    assert_eq!(s.handle.route(&step()).unwrap().tier(), "premium");
}

#[test]
fn delete_then_recreate_goes_live() {
    let s = single(&policy("p", "v1", "cheap"), opts());
    fs::remove_file(&s.path).unwrap();
    let v2 = policy("p", "v2", "premium");
    fs::write(&s.path, &v2).unwrap();
    wait_version(&s.handle, "p", &version(&v2));
    assert!(s.handle.status().missing.is_empty());
}

#[test]
fn delete_only_keeps_serving_and_says_missing() {
    let v1 = policy("p", "v1", "cheap");
    let s = single(&v1, opts());
    fs::remove_file(&s.path).unwrap();
    wait_for(&s.handle, "the file reported missing", |st| {
        st.missing.contains(&s.path)
    });
    let st = s.handle.status();
    assert_eq!(st.last.as_ref().unwrap().outcome, Outcome::Missing);
    assert!(st.policies[0].missing);
    assert_eq!(st.reloads_failed, 0, "a deleted file is not a broken edit");
    // Still serving the last good version.
    let d = s.handle.route(&step()).unwrap();
    assert_eq!(d.policy_version(), version(&v1));
    assert_eq!(d.tier(), "cheap");
    // And it comes back.
    let v2 = policy("p", "v2", "premium");
    fs::write(&s.path, &v2).unwrap();
    wait_version(&s.handle, "p", &version(&v2));
    let st = s.handle.status();
    assert!(st.missing.is_empty());
    assert!(!st.policies[0].missing);
}

/// A Kubernetes ConfigMap volume: the file is a symlink through `..data`, which is itself a
/// symlink to a timestamped directory; an update writes a new directory and renames a new
/// `..data` link over the old one.
struct ConfigMap {
    dir: tempfile::TempDir,
    n: usize,
}

#[cfg(unix)]
impl ConfigMap {
    fn new(file: &str, text: &str) -> ConfigMap {
        let dir = tempfile::tempdir().unwrap();
        let mut cm = ConfigMap { dir, n: 0 };
        cm.update(file, text);
        std::os::unix::fs::symlink(Path::new("..data").join(file), cm.dir.path().join(file))
            .unwrap();
        cm
    }

    fn update(&mut self, file: &str, text: &str) {
        let root = self.dir.path();
        self.n += 1;
        let data = format!("..2026_11_26_00_00_{:02}.{}", self.n, 1000 + self.n);
        fs::create_dir(root.join(&data)).unwrap();
        fs::write(root.join(&data).join(file), text).unwrap();
        let tmp = root.join("..data_tmp");
        std::os::unix::fs::symlink(&data, &tmp).unwrap();
        let old = fs::read_link(root.join("..data")).ok();
        fs::rename(&tmp, root.join("..data")).unwrap();
        if let Some(old) = old {
            fs::remove_dir_all(root.join(old)).unwrap();
        }
    }
}

#[cfg(unix)]
#[test]
fn configmap_symlink_swap_goes_live() {
    let v1 = policy("p", "v1", "cheap");
    let mut cm = ConfigMap::new("policy.toml", &v1);
    let h = Router::watch(cm.dir.path().join("policy.toml"), opts()).unwrap();
    assert_eq!(routed_version(&h), version(&v1));
    for (i, tier) in ["premium", "standard"].iter().enumerate() {
        let text = policy("p", &format!("v{}", i + 2), tier);
        cm.update("policy.toml", &text);
        wait_version(&h, "p", &version(&text));
        assert_eq!(h.route(&step()).unwrap().tier(), *tier);
    }
}

#[cfg(unix)]
#[test]
fn configmap_mounted_as_a_set_directory_goes_live() {
    let v1 = policy("p", "v1", "cheap");
    let mut cm = ConfigMap::new("p.toml", &v1);
    let h = Router::watch(cm.dir.path(), opts()).unwrap();
    assert_eq!(h.status().version_of("p"), Some(version(&v1).as_str()));
    let v2 = policy("p", "v2", "premium");
    cm.update("p.toml", &v2);
    wait_version(&h, "p", &version(&v2));
    let st = h.status();
    assert!(st.missing.is_empty(), "{st:#?}");
    assert!(!st.policies[0].missing);
}

#[cfg(unix)]
#[test]
fn symlinked_policy_follows_its_target() {
    let here = tempfile::tempdir().unwrap();
    let there = tempfile::tempdir().unwrap();
    let real = there.path().join("real.toml");
    let other = there.path().join("other.toml");
    fs::write(&real, policy("p", "v1", "cheap")).unwrap();
    let link = here.path().join("policy.toml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let h = Router::watch(&link, opts()).unwrap();
    // The target edited where it lives (a directory the link's own parent is not).
    let v2 = policy("p", "v2", "premium");
    fs::write(&real, &v2).unwrap();
    wait_version(&h, "p", &version(&v2));
    // The link pointed somewhere else (`ln -sfn`: a new link renamed over the old one).
    let v3 = policy("p", "v3", "standard");
    fs::write(&other, &v3).unwrap();
    let tmp = here.path().join("policy.toml.new");
    std::os::unix::fs::symlink(&other, &tmp).unwrap();
    fs::rename(&tmp, &link).unwrap();
    wait_version(&h, "p", &version(&v3));
    // And the new target is watched too.
    let v4 = policy("p", "v4", "cheap");
    fs::write(&other, &v4).unwrap();
    wait_version(&h, "p", &version(&v4));
    assert_eq!(h.route(&step()).unwrap().tier(), "cheap");
}

#[test]
fn include_edited_reloads_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("models.toml");
    fs::write(&inc, catalog("small-1")).unwrap();
    let path = dir.path().join("policy.toml");
    fs::write(&path, policy_with_include("v1")).unwrap();
    let h = Router::watch(&path, opts()).unwrap();
    let v1 = h.status().version_of("inc").unwrap().to_string();
    assert_eq!(h.route(&step()).unwrap().model().model_id, "small-1");
    rename_over(&inc, &catalog("small-2"));
    wait_for(&h, "the include's change", |st| {
        st.version_of("inc") != Some(v1.as_str())
    });
    assert_eq!(h.route(&step()).unwrap().model().model_id, "small-2");
    // A broken include fails the reload and keeps the last good policy.
    fs::write(&inc, "[models.small\n").unwrap();
    wait_for(&h, "the broken include reported", |st| {
        st.reloads_failed >= 1
    });
    assert_eq!(h.route(&step()).unwrap().model().model_id, "small-2");
    let err = h.status().last_error.unwrap();
    assert!(
        err.diagnostics[0].location().contains("models.toml:1:"),
        "{:?}",
        err.diagnostics[0].location()
    );
}

#[test]
fn include_named_before_it_exists_loads_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("models.toml"), catalog("small-1")).unwrap();
    let path = dir.path().join("policy.toml");
    fs::write(&path, policy_with_include("v1")).unwrap();
    let h = Router::watch(&path, opts()).unwrap();
    let extra = dir.path().join("extra.toml");
    fs::write(
        &path,
        policy_with_include("v2").replace("\"models.toml\"", "\"extra.toml\""),
    )
    .unwrap();
    wait_for(&h, "the missing include reported", |st| {
        st.reloads_failed >= 1
    });
    let err = h.status().last_error.unwrap();
    assert_eq!(err.diagnostics[0].name, "include-not-found");
    assert!(h.status().missing.contains(&extra));
    rename_over(&extra, &catalog("small-extra"));
    wait_for(&h, "the include loaded", |st| st.reloads_ok >= 1);
    assert_eq!(h.route(&step()).unwrap().model().model_id, "small-extra");
    assert!(h.status().missing.is_empty());
}

/// An edit that includes a FIFO fails that reload with an error (the watcher never blocks
/// opening it), and later good edits still reload.
#[cfg(unix)]
#[test]
fn an_include_that_is_a_fifo_fails_the_reload_and_later_edits_still_load() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("models.toml"), catalog("small-1")).unwrap();
    let path = dir.path().join("policy.toml");
    fs::write(&path, policy_with_include("v1")).unwrap();
    let h = Router::watch(&path, opts()).unwrap();
    let fifo = dir.path().join("pipe.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    rename_over(
        &path,
        &policy_with_include("v2").replace("\"models.toml\"", "\"pipe.toml\""),
    );
    wait_for(&h, "the FIFO include reported", |st| st.reloads_failed >= 1);
    let err = h.status().last_error.unwrap();
    assert_eq!(err.diagnostics[0].name, "include-not-found");
    assert!(
        err.diagnostics[0].message.contains("not a regular file"),
        "{}",
        err.diagnostics[0].message
    );
    assert_eq!(h.route(&step()).unwrap().model().model_id, "small-1");
    // The watcher is still alive: a good edit goes live.
    fs::write(dir.path().join("other.toml"), catalog("small-3")).unwrap();
    rename_over(
        &path,
        &policy_with_include("v3").replace("\"models.toml\"", "\"other.toml\""),
    );
    wait_for(&h, "the good edit after the FIFO", |st| st.reloads_ok >= 1);
    assert_eq!(h.route(&step()).unwrap().model().model_id, "small-3");
}

/// Load options apply to the first load and to every reload: an include from an allowed
/// directory outside the policy's loads, and its edits reload.
#[test]
fn load_options_allow_an_include_directory_for_every_reload() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    let policies = dir.path().join("policies");
    fs::create_dir_all(&shared).unwrap();
    fs::create_dir_all(&policies).unwrap();
    let inc = shared.join("models.toml");
    fs::write(&inc, catalog("small-1")).unwrap();
    let path = policies.join("policy.toml");
    let text = policy_with_include("v1").replace("\"models.toml\"", "\"../shared/models.toml\"");
    fs::write(&path, &text).unwrap();
    let refused = Router::watch(&path, opts()).map(|_| ()).unwrap_err();
    assert_eq!(refused.diagnostics[0].name, "include-outside");
    let options = opts().load_options(LoadOptions::default().allow_include_dir(&shared));
    let h = Router::watch(&path, options).unwrap();
    assert_eq!(h.route(&step()).unwrap().model().model_id, "small-1");
    rename_over(&inc, &catalog("small-2"));
    wait_for(&h, "the allowed include's edit", |st| st.reloads_ok >= 1);
    assert_eq!(h.route(&step()).unwrap().model().model_id, "small-2");
}

#[test]
fn policy_added_to_a_set_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.toml"), policy("a", "a1", "cheap")).unwrap();
    let h = Router::watch(dir.path(), opts()).unwrap();
    let b = policy("b", "b1", "premium");
    rename_over(&dir.path().join("b.toml"), &b);
    wait_version(&h, "b", &version(&b));
    let d = h.route(&step().workload("b")).unwrap();
    assert_eq!((d.policy(), d.tier()), ("b", "premium"));
    assert_eq!(h.route(&step().workload("a")).unwrap().tier(), "cheap");
}

#[test]
fn policy_removed_from_a_set_keeps_serving_until_it_returns_or_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let a = policy("a", "a1", "cheap");
    let b = policy("b", "b1", "premium");
    let b_path = dir.path().join("b.toml");
    fs::write(dir.path().join("a.toml"), &a).unwrap();
    fs::write(&b_path, &b).unwrap();
    let h = Router::watch(dir.path(), opts()).unwrap();
    fs::remove_file(&b_path).unwrap();
    wait_for(&h, "b reported missing", |st| st.missing.contains(&b_path));
    let st = h.status();
    let pb = st.policies.iter().find(|p| p.name == "b").unwrap();
    assert!(pb.missing && pb.version == version(&b));
    let d = h.route(&step().workload("b")).unwrap();
    assert_eq!(d.policy_version(), version(&b));
    // It returns, changed: loaded, no longer missing.
    let b2 = policy("b", "b2", "standard");
    fs::write(&b_path, &b2).unwrap();
    wait_version(&h, "b", &version(&b2));
    assert!(h.status().missing.is_empty());
    // Removed again, then an explicit reload drops it.
    fs::remove_file(&b_path).unwrap();
    wait_for(&h, "b missing again", |st| st.missing.contains(&b_path));
    let report = h.reload_now().unwrap();
    assert_eq!(report.outcome, Outcome::Reloaded, "{report:?}");
    assert!(matches!(
        h.route(&step().workload("b"))
            .map_err(RouteError::into_failure),
        Err(RouteFailure::UnknownWorkload { .. })
    ));
    assert_eq!(h.status().version_of("a"), Some(version(&a).as_str()));
}

#[test]
fn touch_chmod_and_identical_content_reload_nothing() {
    let v1 = policy("p", "v1", "cheap");
    let s = single(&v1, opts());
    fs::write(&s.path, &v1).unwrap();
    rename_over(&s.path, &v1);
    let f = fs::OpenOptions::new().append(true).open(&s.path).unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    drop(f);
    let mut perms = fs::metadata(&s.path).unwrap().permissions();
    perms.set_readonly(true);
    fs::set_permissions(&s.path, perms.clone()).unwrap();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&s.path, perms).unwrap();
    // Give those events time to be handled on their own before the real change.
    thread::sleep(Duration::from_millis(500));
    let v2 = policy("p", "v2", "premium");
    fs::write(&s.path, &v2).unwrap();
    wait_version(&s.handle, "p", &version(&v2));
    let st = s.handle.status();
    assert_eq!(st.reloads_ok, 1, "only the real change reloads: {st:#?}");
    assert_eq!(st.reloads_failed, 0);
}

#[test]
fn invalid_content_never_goes_live() {
    let v1 = policy("p", "v1", "cheap");
    let s = single(&v1, opts());
    let seen = Observer::start(&s.handle);
    // TOML syntax error.
    fs::write(&s.path, "[policy\nname = \"p\"\n").unwrap();
    wait_for(&s.handle, "the syntax error reported", |st| {
        st.reloads_failed >= 1
    });
    let err = s.handle.status().last_error.unwrap();
    assert_eq!(err.outcome, Outcome::Failed);
    assert_eq!(err.diagnostics[0].name, "toml-syntax");
    let loc = err.diagnostics[0].location();
    assert!(loc.contains("policy.toml:1:"), "{loc}");
    // Parses, but names a tier that does not exist.
    fs::write(&s.path, policy("p", "bad", "platinum")).unwrap();
    wait_for(&s.handle, "the unknown tier reported", |st| {
        st.reloads_failed >= 2
    });
    let err = s.handle.status().last_error.unwrap();
    assert!(
        err.diagnostics.iter().any(|d| d.name == "unknown-tier"),
        "{err:?}"
    );
    let loc = err.diagnostics[0].location();
    assert!(
        loc.contains("policy.toml:") && loc.matches(':').count() >= 2,
        "{loc}"
    );
    assert_eq!(routed_version(&s.handle), version(&v1));
    // A good edit still goes live afterwards.
    let v2 = policy("p", "v2", "premium");
    fs::write(&s.path, &v2).unwrap();
    wait_version(&s.handle, "p", &version(&v2));
    let seen = seen.finish();
    let allowed = [version(&v1), version(&v2)];
    for v in seen.keys() {
        assert!(allowed.contains(v), "a decision was made under {v}");
    }
    let st = s.handle.status();
    assert_eq!((st.reloads_ok, st.reloads_failed), (1, 2));
}

/// Routes non-stop on another thread and records every version a decision was made under.
struct Observer {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<BTreeMap<String, u64>>,
}

impl Observer {
    fn start(h: &WatchHandle) -> Observer {
        let router = h.router().clone();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut seen = BTreeMap::<String, u64>::new();
            while !flag.load(Ordering::Relaxed) {
                let d = router.route(&step()).unwrap();
                *seen.entry(d.policy_version().to_string()).or_default() += 1;
            }
            seen
        });
        Observer { stop, thread }
    }

    fn finish(self) -> BTreeMap<String, u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

#[test]
fn half_written_file_never_goes_live_even_when_it_parses() {
    // Polling only, so no event debouncing helps: the two reads across the quiet period
    // must catch it. Each content below lasts less than the quiet period.
    let full = policy("p", "v3", "premium");
    let cut = full.find("[[rules]]\nname = \"long\"").unwrap();
    let half = &full[..cut];
    assert_ne!(version(half), version(&full), "the half parses as a policy");
    let opts = WatchOptions::default()
        .events(false)
        .poll_interval(Some(Duration::from_millis(20)))
        .debounce(Duration::from_millis(600));
    let v1 = policy("p", "v1", "cheap");
    let s = single(&v1, opts);
    let seen = Observer::start(&s.handle);
    // A change the poll notices, starting a quiet period that ends while the file is half
    // written: a reader that trusted one read at the end of the quiet period would load it.
    let v2 = policy("p", "v2", "standard");
    fs::write(&s.path, &v2).unwrap();
    thread::sleep(Duration::from_millis(500));
    let mut f = fs::File::create(&s.path).unwrap();
    f.write_all(half.as_bytes()).unwrap();
    f.flush().unwrap();
    // The writer stalls, then finishes.
    thread::sleep(Duration::from_millis(250));
    f.write_all(&full.as_bytes()[cut..]).unwrap();
    drop(f);
    wait_version(&s.handle, "p", &version(&full));
    let seen = seen.finish();
    assert!(
        !seen.contains_key(&version(half)),
        "decisions were made under the half-written file: {seen:?}"
    );
    let allowed = [version(&v1), version(&v2), version(&full)];
    assert!(seen.keys().all(|v| allowed.contains(v)), "{seen:?}");
    assert!(!s.handle.status().events);
}

#[test]
fn polling_sees_changes_without_events() {
    let opts = WatchOptions::default()
        .events(false)
        .poll_interval(Some(Duration::from_millis(50)))
        .debounce(Duration::from_millis(50));
    let s = single(&policy("p", "v1", "cheap"), opts);
    assert!(s.handle.status().watched_dirs.is_empty());
    let v2 = policy("p", "v2", "premium");
    rename_over(&s.path, &v2);
    wait_version(&s.handle, "p", &version(&v2));
    assert_eq!(s.handle.route(&step()).unwrap().tier(), "premium");
}

#[test]
fn reload_now_applies_at_once_and_drop_stops() {
    // Neither events nor polling: only an explicit reload sees the change.
    let opts = WatchOptions::default().events(false).poll_interval(None);
    let s = single(&policy("p", "v1", "cheap"), opts);
    let v2 = policy("p", "v2", "premium");
    fs::write(&s.path, &v2).unwrap();
    let reloader = s.handle.reloader();
    let report = reloader.reload_now().unwrap();
    assert_eq!(report.outcome, Outcome::Reloaded);
    assert!(report.summary.contains(&version(&v2)), "{}", report.summary);
    assert_eq!(routed_version(&s.handle), version(&v2));
    // A broken file on an explicit reload: failed, last good kept.
    fs::write(&s.path, "nonsense = [").unwrap();
    let report = reloader.reload_now().unwrap();
    assert_eq!(report.outcome, Outcome::Failed);
    assert!(!report.diagnostics.is_empty());
    assert_eq!(routed_version(&s.handle), version(&v2));
    let router = s.handle.router().clone();
    drop(s.handle);
    assert!(reloader.reload_now().is_err());
    assert!(!reloader.trigger());
    assert_eq!(
        router.route(&step()).unwrap().policy_version(),
        version(&v2)
    );
}

#[test]
fn first_load_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    fs::write(&path, policy("p", "bad", "platinum")).unwrap();
    let err = Router::watch(&path, opts()).unwrap_err();
    assert_eq!(err.diagnostics[0].name, "unknown-tier");
    assert!(err.diagnostics[0].location().contains("policy.toml:"));
    let bin = env!("CARGO_BIN_EXE_switchyard");
    let out = Command::new(bin)
        .args(["route", "--watch", "--policy"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("policy.toml:"), "{stderr}");
}

/// One writer rewrites the policy 1,000 times (valid versions, broken TOML, semantic errors,
/// truncated content, in place and renamed over) while four threads route non-stop.
#[test]
fn storm() {
    let tiers = ["cheap", "standard", "premium"];
    let valid: Vec<String> = (0..6)
        .map(|i| policy("p", &format!("storm v{i}"), tiers[i % 3]))
        .collect();
    let expect: HashMap<String, &str> = valid
        .iter()
        .enumerate()
        .map(|(i, t)| (version(t), tiers[i % 3]))
        .collect();
    // The default quiet period: a writer that stalls longer than it between the two halves
    // of a write is indistinguishable from one that meant the half.
    let opts = WatchOptions::default().poll_interval(Some(Duration::from_millis(500)));
    let s = single(&valid[0], opts);
    let stop = Arc::new(AtomicBool::new(false));
    let routers: Vec<_> = (0..4)
        .map(|_| {
            let router = s.handle.router().clone();
            let stop = stop.clone();
            thread::spawn(move || {
                let mut seen: HashMap<(String, String), u64> = HashMap::new();
                let mut errors = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    match router.route(&step()) {
                        Ok(d) => {
                            *seen
                                .entry((d.policy_version().into(), d.tier().into()))
                                .or_default() += 1
                        }
                        Err(_) => errors += 1,
                    }
                }
                (seen, errors)
            })
        })
        .collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut last_valid = 0;
    for i in 0..1000 {
        let k = next(valid.len() as u64) as usize;
        let text = &valid[k];
        if i == 999 {
            rename_over(&s.path, text);
            last_valid = k;
            break;
        }
        match next(6) {
            0 => {
                fs::write(&s.path, text).unwrap();
                last_valid = k;
            }
            1 => {
                rename_over(&s.path, text);
                last_valid = k;
            }
            2 => fs::write(&s.path, "[policy\nname = ").unwrap(),
            3 => fs::write(&s.path, policy("p", "broken", "platinum")).unwrap(),
            4 => rename_over(&s.path, "[[rules]]\nname = 3\n"),
            _ => {
                // Truncated content, at any byte (sometimes it parses), then the rest.
                let cut = 1 + next(text.len() as u64 - 1) as usize;
                let mut f = fs::File::create(&s.path).unwrap();
                f.write_all(&text.as_bytes()[..cut]).unwrap();
                f.flush().unwrap();
                thread::sleep(Duration::from_micros(next(2000)));
                f.write_all(&text.as_bytes()[cut..]).unwrap();
                last_valid = k;
            }
        }
        // Now and then a pause longer than the quiet period, so reloads happen mid-storm.
        if next(100) == 0 {
            thread::sleep(Duration::from_millis(300));
        }
    }
    let want = version(&valid[last_valid]);
    wait_version(&s.handle, "p", &want);
    stop.store(true, Ordering::Relaxed);
    let mut decisions = 0;
    for r in routers {
        let (seen, errors) = r.join().unwrap();
        assert_eq!(errors, 0, "routing failed during the storm");
        for ((v, tier), n) in seen {
            let Some(t) = expect.get(&v) else {
                panic!("{n} decisions under {v}, which is not a valid version written");
            };
            assert_eq!(*t, tier, "version {v} gives {t}, but decided {tier}");
            decisions += n;
        }
    }
    assert!(decisions > 0);
    let st = s.handle.status();
    assert_eq!(routed_version(&s.handle), want);
    eprintln!(
        "storm: {decisions} decisions, {} reloads, {} failed",
        st.reloads_ok, st.reloads_failed
    );
}

#[test]
fn route_watch_answers_each_line_under_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    let v1 = policy("p", "v1", "cheap");
    fs::write(&path, &v1).unwrap();
    let bin = env!("CARGO_BIN_EXE_switchyard");
    let mut child = Command::new(bin)
        .args(["route", "--watch", "--debounce-ms", "50", "--policy"])
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |stdin: &mut std::process::ChildStdin| {
        writeln!(stdin, r#"{{"role":"x","input_tokens":100}}"#).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        // Answered while stdin stays open: the output is flushed per line.
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    let first = ask(&mut stdin);
    assert_eq!(first["policy_version"], version(&v1));
    assert_eq!(first["tier"], "cheap");
    let v2 = policy("p", "v2", "premium");
    rename_over(&path, &v2);
    let end = Instant::now() + DEADLINE;
    loop {
        let d = ask(&mut stdin);
        if d["policy_version"] == version(&v2) {
            assert_eq!(d["tier"], "premium");
            break;
        }
        assert_eq!(d["policy_version"], version(&v1));
        assert!(Instant::now() < end, "the new version never answered");
        thread::sleep(Duration::from_millis(20));
    }
    // A broken edit: answers keep coming under v2.
    fs::write(&path, "[policy\n").unwrap();
    thread::sleep(Duration::from_millis(300));
    assert_eq!(ask(&mut stdin)["policy_version"], version(&v2));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reloaded"), "{stderr}");
    assert!(stderr.contains(&version(&v2)), "{stderr}");
}

#[cfg(unix)]
#[test]
fn route_watch_sighup_reloads_at_once() {
    // A policy removed from a set keeps serving under the watcher; only an explicit reload
    // (here SIGHUP) drops it, so its disappearance shows the signal was acted on.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.toml"), policy("a", "a1", "cheap")).unwrap();
    let b_path = dir.path().join("b.toml");
    fs::write(&b_path, policy("b", "b1", "premium")).unwrap();
    let bin = env!("CARGO_BIN_EXE_switchyard");
    let mut child = Command::new(bin)
        .args(["route", "--watch", "--debounce-ms", "50", "--policy"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |stdin: &mut std::process::ChildStdin| {
        writeln!(stdin, r#"{{"role":"x","input_tokens":100,"workload":"b"}}"#).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap()
    };
    assert_eq!(ask(&mut stdin)["tier"], "premium");
    fs::remove_file(&b_path).unwrap();
    // Kept while the file is gone (give the watcher time to see the deletion first).
    thread::sleep(Duration::from_millis(300));
    assert_eq!(ask(&mut stdin)["tier"], "premium");
    let killed = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let end = Instant::now() + DEADLINE;
    loop {
        let d = ask(&mut stdin);
        if d["error"]["kind"] == "unknown_workload" {
            break;
        }
        assert_eq!(d["tier"], "premium");
        assert!(
            Instant::now() < end,
            "SIGHUP never dropped the removed policy"
        );
        thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is gone"),
        "the deletion is reported: {stderr}"
    );
    assert!(
        stderr.contains("removed"),
        "the reload is reported: {stderr}"
    );
}
