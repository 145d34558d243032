//! The fast paths of routing decide exactly as the plain ones: a role resolved once to a
//! [`RoleId`] routes as its text does, `Router::route` through its per-thread cache serves
//! the set a swap installed, its owned decisions keep that set alive on any thread and free
//! it when the last goes, and a step's hot fields sit in its first cache line.

use std::mem::{align_of, offset_of, size_of};
use std::path::Path;
use std::sync::Arc;

use switchyard::{CompactString, PolicySet, Router, Step};

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;
use common::Rng;

const ROLES: [&str; 9] = [
    "format",
    "extract",
    "summarize",
    "reason",
    "plan",
    "classify",
    "",
    "formats",
    "reason ",
];

/// A spread of steps over every role, near every contract-review boundary.
fn steps() -> Vec<Step> {
    let mut out = Vec::new();
    for (i, role) in ROLES.iter().enumerate() {
        for tokens in [0, 800, 30_000, 30_001, 200_000] {
            for flags in 0..8u8 {
                let mut s = Step::new(*role)
                    .input_tokens(tokens)
                    .needs_chain_of_thought(flags & 1 != 0)
                    .output_must_be_json(flags & 2 != 0)
                    .untrusted_input(flags & 4 != 0)
                    .dependent_tool_calls((i as u64 + u64::from(flags)) % 10);
                if i % 2 == 0 {
                    s = s
                        .tag("jurisdiction", if flags % 3 == 0 { "EU" } else { "US" })
                        .tag("contract_value_usd", 2_000_000i64);
                }
                out.push(s);
            }
        }
    }
    out
}

/// Decisions and errors as comparable text.
fn outcome(set: &PolicySet, s: &Step) -> String {
    match set.route(s) {
        Ok(d) => format!("{} {:?} {} {:?}", d.tier(), d.rule(), d.via(), d.guard()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_role_id_routes_as_the_role_text_does() {
    for path in ["policies/contract-review.toml", "policies"] {
        let set = PolicySet::load(path).unwrap();
        for workload in [None, Some("contract-review"), Some("code-fix")] {
            for s in steps() {
                let s = match workload {
                    Some(w) => s.workload(w),
                    None => s,
                };
                let with_id = s.clone().role_id(set.role_id(&s.role));
                assert_eq!(outcome(&set, &s), outcome(&set, &with_id), "{path}: {s}");
            }
        }
    }
}

#[test]
fn a_role_id_from_another_set_is_ignored() {
    let one = PolicySet::load("policies/contract-review.toml").unwrap();
    let other = PolicySet::load("policies/contract-review.toml").unwrap();
    // An id that does not match the text, made by another set: `one` must not read it, so
    // the text decides (were the id read, the step would be a summary).
    let s = Step::new("format")
        .input_tokens(100)
        .role_id(other.role_id("summarize"));
    assert_eq!(one.route(&s).unwrap().rule(), Some("cheap-roles"));
    assert_ne!(one.role_id("format"), other.role_id("format"));
}

#[test]
fn a_role_no_policy_names_gets_the_other_class() {
    let set = PolicySet::load("policies/contract-review.toml").unwrap();
    let s = Step::new("translate")
        .input_tokens(100)
        .role_id(set.role_id("translate"));
    let d = set.route(&s).unwrap();
    assert_eq!((d.tier(), d.rule()), ("standard", None));
}

#[test]
fn the_router_serves_a_replaced_set_at_once_on_the_same_thread() {
    let set = tier_set;
    let router = Router::new(set("a"));
    let other = Router::new(set("b"));
    let s = Step::new("x").input_tokens(1);
    for round in 0..4 {
        let want = if round % 2 == 0 {
            ("a", "b")
        } else {
            ("b", "a")
        };
        // Alternating routers on one thread never see each other's set.
        assert_eq!(router.route(&s).unwrap().tier(), want.0);
        assert_eq!(other.route(&s).unwrap().tier(), want.1);
        assert_eq!(router.route(&s).unwrap().tier(), want.0);
        router.replace(set(want.1));
        other.replace(set(want.0));
    }
    // Another thread sees the last swap too.
    std::thread::scope(|t| {
        t.spawn(|| assert_eq!(router.route(&s).unwrap().tier(), "a"));
    });
}

/// A one-policy set that sends every step to tier `a` or `b`.
fn tier_set(tier: &str) -> PolicySet {
    let text = format!(
        "[policy]\nname = \"p\"\ndefault_tier = \"{tier}\"\n\
         [models.m]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 1.0\n\
         [models.n]\nprovider = \"mock\"\ninput_usd_per_mtok = 2.0\noutput_usd_per_mtok = 2.0\n\
         [tiers]\na = \"m\"\nb = \"n\"\n"
    );
    PolicySet::from_policy_text(Path::new("p.toml"), text).unwrap()
}

#[test]
fn route_with_decides_as_route_does() {
    let router = Router::load("policies").unwrap();
    for s in steps() {
        for s in [s.clone(), s.workload("code-fix")] {
            let by_route = match router.route(&s) {
                Ok(d) => format!("{} {:?} {} {:?}", d.tier(), d.rule(), d.via(), d.guard()),
                Err(e) => e.to_string(),
            };
            let by_with = router.route_with(&s, |r| match r {
                Ok(d) => format!("{} {:?} {} {:?}", d.tier(), d.rule(), d.via(), d.guard()),
                Err(e) => e.to_string(),
            });
            assert_eq!(by_route, by_with, "{s}");
        }
    }
}

#[test]
fn a_borrowed_decision_keeps_its_set_through_a_nested_route_and_a_swap() {
    // The outer route finds its set in the thread's cache (`warm`) or caches it.
    for warm in [false, true] {
        let router = Router::new(tier_set("a"));
        // Watched without being held: only the router and this thread's cache hold it.
        let first = Arc::downgrade(&router.current());
        let s = Step::new("x").input_tokens(1);
        if warm {
            assert_eq!(router.route(&s).unwrap().tier(), "a");
        }
        router.route_with(&s, |d| {
            let d = d.unwrap();
            // A nested route (a logging subscriber, say) goes without the cache, and a swap
            // made meanwhile must not free the set `d` borrows.
            assert_eq!(router.route(&s).unwrap().tier(), "a");
            router.replace(tier_set("b"));
            assert_eq!(router.route(&s).unwrap().tier(), "b");
            assert_eq!(
                router.route_with(&s, |n| n.unwrap().tier().to_string()),
                "b"
            );
            assert!(
                first.upgrade().is_some(),
                "warm {warm}: `d`'s set was let go"
            );
            assert_eq!(d.tier(), "a");
        });
        assert_eq!(
            router.route_with(&s, |d| d.unwrap().tier().to_string()),
            "b"
        );
        assert_eq!(router.route(&s).unwrap().tier(), "b");
        // Let go once this thread routed again, outside.
        assert!(first.upgrade().is_none(), "warm {warm}");
    }
}

#[test]
fn a_thread_lets_go_of_a_replaced_set_when_it_routes_again_or_exits() {
    let router = Arc::new(Router::new(tier_set("a")));
    let s = Step::new("x").input_tokens(1);
    let first = router.current();
    let alone = Arc::strong_count(&first);
    // A thread that routed and exited holds nothing. (Joined by its handle, which waits for
    // the thread's thread-local destructors; a scope's implicit join does not.)
    let (r, step) = (router.clone(), s.clone());
    std::thread::spawn(move || assert_eq!(r.route(&step).unwrap().tier(), "a"))
        .join()
        .unwrap();
    assert_eq!(Arc::strong_count(&first), alone);
    // This thread holds the set it routed under until it routes under the next one.
    router.route_with(&s, |d| assert_eq!(d.unwrap().tier(), "a"));
    assert_eq!(Arc::strong_count(&first), alone + 1);
    // The router lets go at once; this thread's cache, when it next routes.
    router.replace(tier_set("b"));
    assert_eq!(Arc::strong_count(&first), alone);
    assert_eq!(router.route(&s).unwrap().tier(), "b");
    assert_eq!(Arc::strong_count(&first), alone - 1);
}

/// An owned decision keeps its set alive after the router, the thread's cache and the thread
/// itself have all let go of it, and the last decision to go frees it.
#[test]
fn an_owned_decision_outlives_its_threads_cache_and_the_thread() {
    let router = Arc::new(Router::new(tier_set("a")));
    let first = Arc::downgrade(&router.current());
    let s = Step::new("x").input_tokens(1);
    let (r, step) = (router.clone(), s.clone());
    let (kept, copy) = std::thread::spawn(move || {
        let d = r.route(&step).unwrap();
        let copy = d.clone();
        r.replace(tier_set("b"));
        // The thread routes under the new set: its cache lets go of the old one.
        assert_eq!(r.route(&step).unwrap().tier(), "b");
        (d, copy)
    })
    .join()
    .unwrap();
    assert!(first.upgrade().is_some(), "freed under two live decisions");
    assert_eq!((kept.tier(), kept.model().key.as_str()), ("a", "m"));
    drop(kept);
    assert!(first.upgrade().is_some(), "freed under a live decision");
    assert_eq!(copy.tier(), "a");
    drop(copy);
    assert!(
        first.upgrade().is_none(),
        "the last decision did not free the set"
    );
}

/// Decisions cross threads: one made here and dropped elsewhere, one cloned elsewhere and
/// dropped here. Each counts once, and the set goes exactly when this thread moves on.
#[test]
fn decisions_dropped_on_other_threads_count_once() {
    let router = Router::new(tier_set("a"));
    let first = Arc::downgrade(&router.current());
    let s = Step::new("x").input_tokens(1);
    let made_here = router.route(&s).unwrap();
    let kept = router.route(&s).unwrap();
    let cloned_there = std::thread::scope(|t| {
        t.spawn(|| {
            let twin = made_here.clone();
            drop(made_here);
            assert_eq!(twin.tier(), "a");
            kept.clone()
        })
        .join()
        .unwrap()
    });
    assert_eq!(cloned_there.tier(), "a");
    drop(cloned_there);
    drop(kept);
    // Only this thread's cache holds the set now; routing under the next one frees it.
    assert!(first.upgrade().is_some());
    router.replace(tier_set("b"));
    assert!(
        first.upgrade().is_some(),
        "freed while this thread's cache held it"
    );
    assert_eq!(router.route(&s).unwrap().tier(), "b");
    assert!(first.upgrade().is_none(), "the set outlived every holder");
}

/// Threads route, keep, clone and drop one another's decisions while the set is replaced
/// under them: every decision reads the set it was made under, and once the decisions and
/// the threads are gone, every replaced set has been freed.
#[test]
fn decisions_shared_between_threads_through_swaps_free_every_set() {
    use std::sync::Mutex;
    let router = Router::new(tier_set("a"));
    let sets = Mutex::new(vec![Arc::downgrade(&router.current())]);
    let pool: Mutex<Vec<switchyard::Decision<'static>>> = Mutex::new(Vec::new());
    let s = Step::new("x").input_tokens(1);
    let version_a = Router::new(tier_set("a"))
        .route(&s)
        .unwrap()
        .policy_version()
        .to_string();
    std::thread::scope(|t| {
        let threads: Vec<_> = (0..4u64)
            .map(|id| {
                let (router, pool, sets, s, version_a) = (&router, &pool, &sets, &s, &version_a);
                t.spawn(move || {
                    let mut rng = Rng(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
                    let mut mine = Vec::new();
                    for i in 0..3_000u64 {
                        let d = router.route(s).unwrap();
                        // A set's version names its tier: each decision reads its own set.
                        let want = if d.policy_version() == version_a {
                            "a"
                        } else {
                            "b"
                        };
                        assert_eq!(d.tier(), want);
                        match rng.below(4) {
                            0 => pool.lock().unwrap().push(d),
                            1 => mine.push(d.clone()),
                            2 => {
                                let other = pool.lock().unwrap().pop();
                                if let Some(o) = other {
                                    mine.push(o.clone());
                                    assert!(matches!(o.tier(), "a" | "b"));
                                }
                            }
                            _ => drop(mine.pop()),
                        }
                        if id == 0 && i % 97 == 0 {
                            let tier = if (i / 97) % 2 == 0 { "b" } else { "a" };
                            router.replace(tier_set(tier));
                            sets.lock().unwrap().push(Arc::downgrade(&router.current()));
                        }
                    }
                    // Some leave with the thread's decisions still alive, handed to the pool.
                    pool.lock().unwrap().extend(mine);
                })
            })
            .collect();
        // Joined by their handles, which wait for the threads' thread-local destructors
        // (the scope's own join does not).
        for h in threads {
            h.join().unwrap();
        }
    });
    let current = router.current();
    let pooled = std::mem::take(&mut *pool.lock().unwrap());
    assert!(!pooled.is_empty());
    for d in &pooled {
        assert!(matches!(d.tier(), "a" | "b"));
    }
    drop(pooled);
    let alive: Vec<_> = sets
        .lock()
        .unwrap()
        .iter()
        .filter_map(|w| w.upgrade())
        .collect();
    assert_eq!(
        alive.len(),
        1,
        "replaced sets outlived their decisions and threads"
    );
    assert!(Arc::ptr_eq(&alive[0], &current));
}

/// A role of up to 24 bytes is held in the step itself, however the step was made (by
/// `Step::new`, from JSON, or assigned), so a decision reads its text from the step's first
/// cache line; a longer one is on the heap and routes the same.
#[test]
fn a_steps_role_is_held_in_the_step() {
    let inline = [
        Step::new("summarize"),
        Step::new(String::from("a-role-of-24-bytes-long!")),
        Step::from_json(r#"{"role":"reason","input_tokens":1}"#).unwrap(),
        Step {
            role: "format".into(),
            ..Step::default()
        },
    ];
    for s in &inline {
        assert!(!s.role.is_heap_allocated(), "{:?} is on the heap", s.role);
    }
    let long = "a-role-name-of-more-than-24-bytes";
    let set = PolicySet::from_policy_text(
        Path::new("inline.toml"),
        format!(
            "[policy]\nname = \"p\"\ndefault_tier = \"lo\"\n\
             [models.m]\nprovider = \"mock\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 1.0\n\
             [tiers]\nlo = \"m\"\nhi = \"m\"\n\
             [[rules]]\nname = \"long\"\nwhen = {{ role = \"{long}\" }}\ntier = \"hi\"\n"
        ),
    )
    .unwrap();
    let step = Step::new(long).input_tokens(1);
    assert!(step.role.is_heap_allocated());
    assert_eq!(set.route(&step).unwrap().rule(), Some("long"));
    let near = Step::new(&long[..long.len() - 1]).input_tokens(1);
    assert_eq!(set.route(&near).unwrap().rule(), None);
}

/// Every field a decision reads of a step lies in the step's first two cache lines, ahead of
/// the fields it does not read; the ones a hand-written if-chain reads too (the role, the
/// counts, the flags), and the role id, in the first.
#[test]
fn the_fields_a_decision_reads_share_a_steps_first_two_cache_lines() {
    assert_eq!(align_of::<Step>(), 64);
    let first_line = [
        ("role", offset_of!(Step, role), size_of::<CompactString>()),
        ("input_tokens", offset_of!(Step, input_tokens), 16),
        (
            "dependent_tool_calls",
            offset_of!(Step, dependent_tool_calls),
            8,
        ),
        ("role_id", offset_of!(Step, role_id), 12),
        (
            "needs_chain_of_thought",
            offset_of!(Step, needs_chain_of_thought),
            1,
        ),
        (
            "output_must_be_json",
            offset_of!(Step, output_must_be_json),
            1,
        ),
        ("untrusted_input", offset_of!(Step, untrusted_input), 1),
    ];
    for (name, at, len) in first_line {
        assert!(at + len <= 64, "{name} ends at byte {}", at + len);
    }
    let second_line = [
        (
            "expected_output_tokens",
            offset_of!(Step, expected_output_tokens),
            16,
        ),
        (
            "workload",
            offset_of!(Step, workload),
            size_of::<Option<String>>(),
        ),
    ];
    for (name, at, len) in second_line {
        assert!(at + len <= 128, "{name} ends at byte {}", at + len);
    }
    let hot_end = first_line
        .iter()
        .chain(&second_line)
        .map(|(_, at, len)| at + len)
        .max()
        .unwrap();
    for (name, at) in [
        ("prompt", offset_of!(Step, prompt)),
        ("tags", offset_of!(Step, tags)),
        ("trace_id", offset_of!(Step, trace_id)),
    ] {
        assert!(
            at >= hot_end,
            "{name} starts at byte {at}, before byte {hot_end}"
        );
    }
}

/// The models, tiers and guard the hand-written policies below share, after their
/// `[policy]` table and rules: tiers a–e on one model, `safe` on the injection-tested one,
/// and a guard escalating untrusted web input there.
fn with_models(policy_and_rules: &str) -> String {
    format!(
        r#"{policy_and_rules}
[models.m1]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 1.0

[models.m2]
provider = "mock"
input_usd_per_mtok = 2.0
output_usd_per_mtok = 2.0
capabilities = ["injection_tested"]

[tiers]
a = "m1"
b = "m1"
c = "m1"
d = "m1"
e = "m1"
safe = "m2"

[[guards]]
name = "web"
when = {{ untrusted_input = true, tags = {{ source = "web" }} }}
require = ["injection_tested"]
escalate_to = "safe"
"#
    )
}

/// Each step decides as its case says, by role text, by role id and through `explain`.
fn decides<const N: usize>(set: &PolicySet, cases: [(Step, &str); N]) {
    for (s, want) in cases {
        assert_eq!(outcome(set, &s), want, "{s}");
        let by_id = s.clone().role_id(set.role_id(&s.role));
        assert_eq!(outcome(set, &by_id), want, "{s} by role id");
        assert_eq!(
            set.explain(&s).result.map(|d| d.tier().to_string()).ok(),
            want.split(' ').next().map(String::from),
            "{s} explained"
        );
    }
}

/// A policy whose first candidates need what the fast path leaves out: a tag condition, then
/// an expression, then a role; and a guard with a tag condition that escalates.
fn slow_candidates_set() -> PolicySet {
    let rules = r#"
[policy]
name = "slow"
default_tier = "d"
on_expression_error = "e"

[[rules]]
name = "eu"
when = { tags = { j = "EU" } }
tier = "a"

[[rules]]
name = "big"
when = { expr = 'step.tags.v > 5' }
tier = "b"

[[rules]]
name = "reasoning"
when = { role = "reason" }
tier = "c"
"#;
    PolicySet::from_policy_text(Path::new("slow.toml"), with_models(rules)).unwrap()
}

/// Candidates the fast path cannot settle are asked their own conditions in file order: one
/// that fails hands over to the next (whose role may then be read), an expression error goes
/// to `on_expression_error`, and a guard that holds only by its tag still acts.
#[test]
fn slow_candidates_are_settled_in_order() {
    let set = slow_candidates_set();
    let step = |role: &str| Step::new(role).input_tokens(100);
    let cases = [
        (
            step("plan").tag("j", "EU").tag("v", 9i64),
            "a Some(\"eu\") rule None",
        ),
        (
            step("plan").tag("j", "US").tag("v", 9i64),
            "b Some(\"big\") rule None",
        ),
        (
            step("reason").tag("j", "US").tag("v", 1i64),
            "c Some(\"reasoning\") rule None",
        ),
        (
            step("plan").tag("j", "US").tag("v", 1i64),
            "d None default None",
        ),
        // No `v`: the expression fails, and the policy says where that goes.
        (
            step("reason").tag("j", "US"),
            "e Some(\"big\") expression_error None",
        ),
        (
            step("plan").tag("v", "x"),
            "e Some(\"big\") expression_error None",
        ),
        // The guard's tag holds: the winner is escalated; it does not hold: it is not.
        (
            step("reason")
                .tag("v", 1i64)
                .tag("source", "web")
                .untrusted_input(true),
            "safe Some(\"reasoning\") guard Some(\"web\")",
        ),
        (
            step("reason")
                .tag("v", 1i64)
                .tag("source", "mail")
                .untrusted_input(true),
            "c Some(\"reasoning\") rule None",
        ),
        (
            step("plan")
                .tag("j", "EU")
                .tag("source", "web")
                .untrusted_input(true),
            "safe Some(\"eu\") guard Some(\"web\")",
        ),
    ];
    decides(&set, cases);
}

/// A policy whose rules mostly test one tag: the fast path reads it once, like the role, when
/// the lowest candidate tests it, then takes the candidates it leaves in order (a role read
/// after it, another rule on the same tag, the default), and a guard on the tag still acts.
#[test]
fn the_fast_paths_tag_is_read_once_and_settles_its_rules() {
    let rules = r#"
[policy]
name = "tagged"
default_tier = "d"

[[rules]]
name = "gold"
when = { tags = { plan = "gold" }, input_tokens = { gt = 10 } }
tier = "a"

[[rules]]
name = "reasoning"
when = { role = "reason" }
tier = "b"

[[rules]]
name = "silver"
when = { tags = { plan = ["silver", "bronze"] } }
tier = "c"
"#;
    let set = PolicySet::from_policy_text(Path::new("tagged.toml"), with_models(rules)).unwrap();
    let step = |role: &str| Step::new(role).input_tokens(100);
    let cases = [
        (
            step("plan").tag("plan", "gold"),
            "a Some(\"gold\") rule None",
        ),
        // The tag fails the first rule; the next candidate needs the role, read only now.
        (
            step("reason").tag("plan", "silver"),
            "b Some(\"reasoning\") rule None",
        ),
        (
            step("plan").tag("plan", "silver"),
            "c Some(\"silver\") rule None",
        ),
        (step("plan").tag("plan", "tin"), "d None default None"),
        (step("plan"), "d None default None"),
        // A value of another type matches no string.
        (step("plan").tag("plan", 5i64), "d None default None"),
        (step("reason"), "b Some(\"reasoning\") rule None"),
        (
            Step::new("plan").input_tokens(5).tag("plan", "gold"),
            "d None default None",
        ),
        (
            step("plan")
                .tag("plan", "gold")
                .tag("source", "web")
                .untrusted_input(true),
            "safe Some(\"gold\") guard Some(\"web\")",
        ),
        (
            step("plan")
                .tag("plan", "bronze")
                .tag("source", "mail")
                .untrusted_input(true),
            "c Some(\"silver\") rule None",
        ),
    ];
    decides(&set, cases);
}
