//! The hot path allocates nothing: once warmed up, routing a step under a policy without
//! expressions makes no heap allocation, whatever the step. A counting global allocator in
//! this test binary checks it.
//!
//! The count is per thread, so tests running at the same time on other threads do not
//! disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::path::Path;

use switchyard::{PolicySet, RouteError, Router, Step, Via};

/// Passes every call to the system allocator, counting allocations made by this thread.
struct Counting;

thread_local! {
    // A const-initialised Cell needs no destructor, so using it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static FREES: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: allocations can happen while a thread's locals are being torn down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

fn count_free() {
    let _ = FREES.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call goes to `System` unchanged; counting touches only a thread-local Cell.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_free();
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// How many allocations this thread makes while running `f`.
fn allocations_in<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

/// contract-review without its expression rule, with a second guard that escalates the
/// cheap tier's JSON extractions to the long-context model.
const POLICY: &str = r#"
[policy]
name = "contract-review"
include = ["models.toml"]
default_tier = "standard"
on_expression_error = "premium"

[tiers]
cheap = "muse-spark"
standard = "gpt-5.4-mini"
premium = "claude-opus-4-6"

[tags]
jurisdiction = { type = "string", values = ["EU", "UK", "US", "CA", "AU", "other"] }
contract_value_usd = { type = "number" }

[[rules]]
name = "untrusted-input"
when = { untrusted_input = true }
tier = "premium"

[[rules]]
name = "long-chain"
when = { dependent_tool_calls = { ge = 8 } }
tier = "premium"

[[rules]]
name = "big-context"
when = { input_tokens = { gt = 30000 } }
tier = "premium"

[[rules]]
name = "chain-of-thought"
when = { needs_chain_of_thought = true }
tier = "premium"

[[rules]]
name = "summaries-standard"
when = { role = "summarize" }
tier = "standard"

[[rules]]
name = "cheap-roles"
when = { role = ["format", "extract"] }
tier = "cheap"

[[guards]]
name = "untrusted-needs-tested-model"
when = { untrusted_input = true }
require = ["injection_tested"]
escalate_to = "premium"

[[guards]]
name = "json-extraction-needs-long-context"
when = { role = "extract", output_must_be_json = true, tags = { contract_value_usd = { ge = 100000 } } }
require = ["long_context"]
escalate_to = "standard"
"#;

fn policy_set() -> PolicySet {
    // Named inside policies/ so that `include = ["models.toml"]` finds the bundled catalog.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/alloc-test.toml");
    PolicySet::from_policy_text(&path, POLICY).unwrap()
}

/// Steps over every rule, the default, both guards and the tag column, built up front.
fn steps() -> Vec<Step> {
    let roles = [
        "format",
        "extract",
        "summarize",
        "reason",
        "plan",
        "classify",
    ];
    let jurisdictions = [None, Some("EU"), Some("US")];
    let values = [None, Some(50_000.0), Some(100_000.0), Some(2.5e6)];
    let mut out = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        for tokens in [0, 1200, 30_000, 30_001, 90_000] {
            for flags in 0..8u8 {
                for j in jurisdictions {
                    for v in values {
                        let mut s = Step::new(*role)
                            .input_tokens(tokens)
                            .expected_output_tokens(tokens / 4)
                            .untrusted_input(flags & 1 != 0)
                            .output_must_be_json(flags & 2 != 0)
                            .needs_chain_of_thought(flags & 4 != 0)
                            .dependent_tool_calls((i as u64 + tokens) % 11);
                        if let Some(j) = j {
                            s = s.tag("jurisdiction", j);
                        }
                        if let Some(v) = v {
                            s = s.tag("contract_value_usd", v);
                        }
                        if (i + flags as usize).is_multiple_of(2) {
                            s = s.workload("contract-review");
                        }
                        out.push(s);
                    }
                }
            }
        }
    }
    out
}

/// What a batch of decisions reached, so the steps are known to cover the paths.
#[derive(Default, Debug)]
struct Seen {
    by_rule: u32,
    by_default: u32,
    by_guard: u32,
    rejected: u32,
}

fn tally(seen: &mut Seen, r: &Result<switchyard::Decision, RouteError>) {
    match r {
        Ok(d) => match d.via() {
            Via::Rule => seen.by_rule += 1,
            Via::Default => seen.by_default += 1,
            Via::Guard => seen.by_guard += 1,
            _ => {}
        },
        Err(_) => seen.rejected += 1,
    }
}

fn assert_covered(seen: &Seen) {
    assert!(
        seen.by_rule > 0 && seen.by_default > 0 && seen.by_guard > 0,
        "{seen:?}"
    );
    assert_eq!(
        seen.rejected, 0,
        "a rejection builds a message; none is expected"
    );
}

#[test]
fn routing_allocates_nothing() {
    let router = Router::new(policy_set());
    let steps = steps();
    // The first route on a thread may set up per-thread state (arc-swap's debt list).
    black_box(router.route(&steps[0]).unwrap());

    let mut seen = Seen::default();
    let (allocations, ()) = allocations_in(|| {
        for _ in 0..3 {
            for s in &steps {
                let r = router.route(black_box(s));
                tally(&mut seen, &r);
                black_box(r.ok());
                router.route_with(black_box(s), |r| {
                    tally(&mut seen, &r);
                    black_box(r.ok());
                });
            }
        }
    });
    assert_eq!(
        allocations,
        0,
        "Router::route and route_with allocated over {} steps",
        3 * steps.len()
    );
    assert_covered(&seen);
}

#[test]
fn routing_through_a_policy_set_allocates_nothing() {
    let set = policy_set();
    let steps = steps();
    black_box(set.route(&steps[0]).unwrap());

    let mut seen = Seen::default();
    let (allocations, ()) = allocations_in(|| {
        for s in &steps {
            let r = set.route(black_box(s));
            tally(&mut seen, &r);
            black_box(r.ok());
        }
    });
    assert_eq!(allocations, 0, "PolicySet::route allocated");
    assert_covered(&seen);
}

#[test]
fn the_counter_sees_allocations() {
    let router = Router::new(policy_set());
    let step = Step::new("format").input_tokens(1200);
    let d = router.route(&step).unwrap();
    // Writing a decision line builds a JSON map: that allocates.
    let (allocations, line) = allocations_in(|| d.to_json(Some("t-1")));
    black_box(line);
    assert!(allocations > 0, "the counting allocator saw nothing");
    // So does an error that names the loaded policies.
    let unknown = Step::new("format").input_tokens(1).workload("nope");
    let (allocations, r) = allocations_in(|| router.route(&unknown));
    assert!(r.is_err());
    assert!(allocations > 0);
}

/// A rejected step's error owns what it allocated, and gives all of it back when dropped,
/// through `Router::route`, `route_with` and a held set alike.
#[test]
fn a_route_error_frees_what_it_allocated() {
    let router = Router::new(policy_set());
    let set = router.current();
    let unknown = Step::new("format").input_tokens(1).workload("nope");
    black_box(router.route(&unknown).err());
    let frees = || FREES.with(Cell::get);
    let before = frees();
    let (allocations, ()) = allocations_in(|| {
        for _ in 0..100 {
            let e = router
                .route(black_box(&unknown))
                .expect_err("an unknown workload");
            assert_eq!(e.kind(), "unknown_workload");
            drop(e);
            router.route_with(black_box(&unknown), |r| assert!(black_box(r).is_err()));
            drop(black_box(set.route(black_box(&unknown))));
        }
    });
    assert!(allocations >= 300, "each error allocates its message");
    assert_eq!(frees() - before, allocations, "every allocation given back");
}
