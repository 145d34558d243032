//! Routing speed, everything in one run so the ratios compare like with like:
//! `cargo bench --bench route`
//!
//! - `route/*`: 10,000 random steps (role given as a string) through the bundled
//!   contract-review policy and generated 50- and 500-rule policies (every rule with two
//!   conditions or more), each beside its if-chain as the baseline (contract-review's
//!   hand-written, the generated ones written out by `common/generated.rs` as a developer
//!   would write them, one `if` per rule); through `Router::route` (the thread's cached
//!   set), through `Router::route_with` (the same, the decision borrowed in a closure), and
//!   through a held `PolicySet` snapshot. Each side's answer is read as a caller reads
//!   it: the if-chain's tier and rule, the decision's tier and rule.
//!   `snapshot_*_role_id`: the same steps carrying their role resolved once with
//!   `PolicySet::role_id`, so no role text is read.
//!   `snapshot_*_whole`: the whole `Result` handed to `black_box`, a copy through memory
//!   that costs a store-forwarding stall no caller pays.
//! - `two_threads/*`: two threads routing the 10,000 steps each at once through one
//!   contract-review `Router` (`router`, owned decisions), and each through its own held
//!   snapshot (`snapshot`, the baseline: nothing shared but the read-only set). Time is wall
//!   time for both; anything the threads write in common shows as the gap.
//! - `expression/*`: one step won by the expression rule (which runs as native code), beside
//!   the if-chain on that step and evaluating that expression alone with Rhai (step
//!   pre-built as a map, scope reused); and a policy whose expression cannot be lowered
//!   (an `||`), routed, beside that expression alone in bare Rhai.

#[path = "common/chains.rs"]
mod chains;
#[path = "common/mod.rs"]
mod common;
// The writer of `chains.rs` is used by `tests/bench_chains.rs`, not here.
#[path = "common/generated.rs"]
#[allow(dead_code)]
mod generated;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use switchyard::{PolicySet, Router, Step, TagValue};

use generated::{random_steps, STEPS};

/// contract-review, written by hand as a plain if-chain (the baseline).
fn if_chain(s: &Step) -> (&'static str, Option<&'static str>) {
    let tokens = s.input_tokens.unwrap_or(0);
    let role = s.role.as_str();
    let (tier, rule) = if s.untrusted_input {
        ("premium", Some("untrusted-input"))
    } else if s.dependent_tool_calls >= 8 {
        ("premium", Some("long-chain"))
    } else if tokens > 30_000 {
        ("premium", Some("big-context"))
    } else if s.needs_chain_of_thought {
        ("premium", Some("chain-of-thought"))
    } else if role == "reason"
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU" || j == "UK")
        && matches!(s.tags.get("contract_value_usd"), Some(TagValue::Num(v)) if *v > 1_000_000.0)
    {
        ("premium", Some("high-value-eu-uk"))
    } else if role == "summarize" {
        ("standard", Some("summaries-standard"))
    } else if role == "format" || role == "extract" {
        ("cheap", Some("cheap-roles"))
    } else {
        ("standard", None)
    };
    // The guard: untrusted input needs an injection-tested model (only premium is).
    if s.untrusted_input && tier != "premium" {
        return ("premium", rule);
    }
    (tier, rule)
}

/// What a caller reads of a decision, the counterpart of the if-chain's answer: the tier and
/// the rule (or the error's kind). Handing the whole `Result` to `black_box` instead measures
/// copying ~56 bytes through memory, which no caller does: kept as `snapshot_*_whole`.
#[inline(always)]
fn answer(r: &Result<switchyard::Decision<'_>, switchyard::RouteError>) -> (usize, Option<usize>) {
    match r {
        Ok(d) => (d.tier_id(), d.rule_index()),
        Err(e) => (usize::MAX, Some(e.kind().len())),
    }
}

fn bench_route(c: &mut Criterion) {
    let steps = random_steps(42);
    let contract =
        Router::load(Path::new("policies/contract-review.toml")).expect("bundled policy");
    let generated = |n: usize| {
        let text = generated::policy_text(&generated::rules(n));
        Router::new(PolicySet::from_policy_text(Path::new("generated.toml"), text).expect("loads"))
    };
    let (p50, p500) = (generated(50), generated(500));
    type Chain = fn(&Step) -> (&'static str, Option<&'static str>);
    let chains: [(&str, Chain, &Router); 3] = [
        ("contract_review", if_chain, &contract),
        ("generated_50_rules", chains::generated_50, &p50),
        ("generated_500_rules", chains::generated_500, &p500),
    ];

    // Each table and its if-chain must agree before their speeds are compared.
    for (name, chain, router) in chains {
        for s in &steps {
            let d = router.route(s).expect("routes");
            assert_eq!((d.tier(), d.rule()), chain(s), "{name}, step {s}");
        }
    }

    let mut g = c.benchmark_group("route");
    g.throughput(Throughput::Elements(STEPS as u64));
    for (name, chain, _) in chains {
        g.bench_function(format!("if_chain_{name}"), |b| {
            b.iter(|| {
                for s in &steps {
                    black_box(chain(black_box(s)));
                }
            })
        });
    }
    for (name, router) in [
        ("contract_review", &contract),
        ("generated_50_rules", &p50),
        ("generated_500_rules", &p500),
    ] {
        g.bench_function(format!("router_{name}"), |b| {
            b.iter(|| {
                for s in &steps {
                    black_box(answer(&router.route(black_box(s))));
                }
            })
        });
        g.bench_function(format!("router_with_{name}"), |b| {
            b.iter(|| {
                for s in &steps {
                    black_box(router.route_with(black_box(s), |r| answer(&r)));
                }
            })
        });
        let snapshot = router.current();
        g.bench_function(format!("snapshot_{name}"), |b| {
            b.iter(|| {
                for s in &steps {
                    black_box(answer(&snapshot.route(black_box(s))));
                }
            })
        });
        g.bench_function(format!("snapshot_{name}_whole"), |b| {
            b.iter(|| {
                for s in &steps {
                    let _ = black_box(snapshot.route(black_box(s)));
                }
            })
        });
        let with_ids: Vec<Step> = steps
            .iter()
            .map(|s| s.clone().role_id(snapshot.role_id(&s.role)))
            .collect();
        for (a, b) in steps.iter().zip(&with_ids) {
            assert_eq!(
                snapshot.route(a).map(|d| (d.tier_id(), d.rule_index())),
                snapshot.route(b).map(|d| (d.tier_id(), d.rule_index()))
            );
        }
        g.bench_function(format!("snapshot_{name}_role_id"), |b| {
            b.iter(|| {
                for s in &with_ids {
                    black_box(answer(&snapshot.route(black_box(s))));
                }
            })
        });
    }
    g.finish();
}

/// Runs `steps` through a router `make` gives each thread, `iters` times on each of two
/// threads at once; the wall time.
fn on_two_threads<F: FnMut(&Step)>(
    iters: u64,
    steps: &[Step],
    make: impl Fn() -> F + Sync,
) -> Duration {
    let start = Instant::now();
    std::thread::scope(|t| {
        for _ in 0..2 {
            t.spawn(|| {
                let mut route = make();
                for _ in 0..iters {
                    for s in steps {
                        route(black_box(s));
                    }
                }
            });
        }
    });
    start.elapsed()
}

fn bench_two_threads(c: &mut Criterion) {
    let steps = random_steps(42);
    let router = Router::load(Path::new("policies/contract-review.toml")).expect("bundled policy");
    let mut g = c.benchmark_group("two_threads");
    g.throughput(Throughput::Elements(2 * STEPS as u64));
    g.bench_function("router_contract_review", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, &steps, || {
                |s: &Step| {
                    black_box(answer(&router.route(s)));
                }
            })
        })
    });
    g.bench_function("snapshot_contract_review", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, &steps, || {
                let set = router.current();
                move |s: &Step| {
                    black_box(answer(&set.route(s)));
                }
            })
        })
    });
    g.finish();
}

fn bench_expression(c: &mut Criterion) {
    let contract =
        Router::load(Path::new("policies/contract-review.toml")).expect("bundled policy");
    let step = Step::new("reason")
        .input_tokens(6000)
        .tag("jurisdiction", "EU")
        .tag("contract_value_usd", 2_500_000i64);
    assert_eq!(
        contract.route(&step).unwrap().rule(),
        Some("high-value-eu-uk")
    );
    let expr = r#""contract_value_usd" in step.tags && step.tags.contract_value_usd > 1000000"#;

    // Bare Rhai: the same expression over the step as a Rhai map built once, scope reused.
    let engine = rhai::Engine::new();
    let ast = engine.compile_expression(expr).expect("compiles");
    let mut tags = rhai::Map::new();
    tags.insert("jurisdiction".into(), rhai::Dynamic::from("EU"));
    tags.insert(
        "contract_value_usd".into(),
        rhai::Dynamic::from(2_500_000 as rhai::INT),
    );
    let mut map = rhai::Map::new();
    map.insert("role".into(), rhai::Dynamic::from("reason"));
    map.insert(
        "input_tokens".into(),
        rhai::Dynamic::from(6000 as rhai::INT),
    );
    map.insert("tags".into(), rhai::Dynamic::from_map(tags));
    let mut scope = rhai::Scope::new();
    scope.push("step", map);
    assert!(engine
        .eval_ast_with_scope::<bool>(&mut scope, &ast)
        .unwrap());

    // An expression with an `||` stays in the engine.
    let kept = r#"("contract_value_usd" in step.tags && step.tags.contract_value_usd > 1000000) || step.input_tokens > 900000"#;
    let kept_policy = std::fs::read_to_string("policies/contract-review.toml")
        .expect("bundled policy")
        .replace(expr, kept);
    let kept_router = Router::new(
        PolicySet::from_policy_text(Path::new("policies/kept.toml"), kept_policy)
            .expect("the policy with an expression kept in the engine"),
    );
    assert_eq!(
        kept_router.route(&step).unwrap().rule(),
        Some("high-value-eu-uk")
    );
    let kept_ast = engine.compile_expression(kept).expect("compiles");
    assert!(engine
        .eval_ast_with_scope::<bool>(&mut scope, &kept_ast)
        .unwrap());

    let mut g = c.benchmark_group("expression");
    g.bench_function("if_chain", |b| {
        b.iter(|| black_box(if_chain(black_box(&step))))
    });
    g.bench_function("bare_rhai_eval", |b| {
        b.iter(|| {
            black_box(
                engine
                    .eval_ast_with_scope::<bool>(&mut scope, &ast)
                    .unwrap(),
            )
        })
    });
    g.bench_function("router_route", |b| {
        b.iter(|| black_box(answer(&contract.route(black_box(&step)))))
    });
    let snapshot = contract.current();
    g.bench_function("snapshot_route", |b| {
        b.iter(|| black_box(answer(&snapshot.route(black_box(&step)))))
    });
    g.bench_function("kept_bare_rhai_eval", |b| {
        b.iter(|| {
            black_box(
                engine
                    .eval_ast_with_scope::<bool>(&mut scope, &kept_ast)
                    .unwrap(),
            )
        })
    });
    let kept_snapshot = kept_router.current();
    g.bench_function("kept_snapshot_route", |b| {
        b.iter(|| black_box(answer(&kept_snapshot.route(black_box(&step)))))
    });
    g.finish();
}

criterion_group!(benches, bench_route, bench_two_threads, bench_expression);
criterion_main!(benches);
