//! The budget store's two Redis scripts (reserve, settle/release) against a simple model of
//! the ledger, on random interleavings of reserve, settle, release, repeated settlements and
//! lease expiry, run on a real `redis-server` started by the test; and the caps a store can
//! hold (signed 64-bit pico-dollars, refused at load above that). After every read of the
//! counters the keys themselves are checked too: one hash per counter holding exactly its live
//! holds, `held` their sum, `next` no later than any of their lease ends.

#[path = "common/redis_server.rs"]
mod redis_server;

use std::path::Path;

use switchyard::router::PolicySet;

const POLICY: &str = r#"[policy]
name = "billing"
default_tier = "cheap"
tokenizer = "approx"

[models.small]
provider = "mock"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 2.0
max_output_tokens = 100

[tiers]
cheap = "small"
"#;

#[test]
fn a_cap_a_shared_store_cannot_hold_is_refused_at_load() {
    // $9,223,372.036854775807 is i64::MAX pico-dollars: the most one counter holds.
    let ok = format!("{POLICY}\n[budget]\nper_workload_day_usd = 9223372.0\n");
    PolicySet::from_policy_text(Path::new("inline.toml"), ok).expect("a cap that fits loads");
    let over = format!("{POLICY}\n[budget]\nper_workload_day_usd = 9223373.0\n");
    let err = PolicySet::from_policy_text(Path::new("inline.toml"), over).unwrap_err();
    let text: Vec<String> = err
        .diagnostics
        .iter()
        .map(|d| format!("{} {} {}", d.name, d.location(), d.message))
        .collect();
    let text = text.join("\n");
    assert!(
        text.contains("invalid-value")
            && text.contains("per_workload_day_usd")
            && text.contains("9223372.036854775807"),
        "{text}"
    );
}

// ---- the two scripts against a model ---------------------------------------------------------

mod model {

    use std::collections::{BTreeMap, HashMap};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, SystemTime};

    use proptest::prelude::*;
    use proptest::test_runner::TestRunner;
    use switchyard::money::Picos;
    use switchyard::policy::{Budget, OnExceed};
    use switchyard::runner::budget::{
        utc_day, BudgetScope, BudgetStore, CounterSubject, PolicyCaps, RedisHold, RedisStore,
        ReserveError, ReserveRequest, Scope, Settlement,
    };

    use super::redis_server::RedisServer;

    const TRACES: [&str; 2] = ["t-a", "t:b*"];

    /// One step of an interleaving.
    #[derive(Debug, Clone)]
    enum Op {
        /// A call on trace `trace` holds `amount`; `expired`: its lease is zero, so it has
        /// ended by the next script (a replica that died mid-call).
        Reserve {
            trace: usize,
            amount: u64,
            expired: bool,
        },
        /// The `n`-th reservation made so far (mod their count) settles at `actual`.
        Settle { n: usize, actual: u64 },
        /// The `n`-th reservation is released (its call failed).
        Release { n: usize },
        /// The counters are read (which also drops expired holds) and compared with the
        /// model. Also done after the last step.
        Check,
    }

    fn op(cap: u64) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..2usize, 0..=cap / 3, proptest::bool::weighted(0.25))
                .prop_map(|(trace, amount, expired)| Op::Reserve { trace, amount, expired }),
            3 => (any::<usize>(), 0..=cap / 2).prop_map(|(n, actual)| Op::Settle { n, actual }),
            1 => any::<usize>().prop_map(|n| Op::Release { n }),
            2 => Just(Op::Check),
        ]
    }

    /// A hold as the model sees it.
    #[derive(Debug, Clone)]
    struct ModelHold {
        trace: usize,
        amount: u64,
        expired: bool,
        finished: bool,
    }

    /// The ledger as it should be: committed per counter (day, then each trace) and the holds.
    #[derive(Debug, Default)]
    struct Model {
        day: u64,
        traces: [u64; 2],
        holds: Vec<ModelHold>,
    }

    impl Model {
        fn held(&self, on: impl Fn(&ModelHold) -> bool) -> u64 {
            self.holds
                .iter()
                .filter(|h| !h.finished && !h.expired && on(h))
                .map(|h| h.amount)
                .sum()
        }
    }

    static PREFIX: AtomicU64 = AtomicU64::new(0);

    /// The counters' hashes under `prefix` as Redis holds them: key → fields.
    async fn counter_hashes(url: &str, prefix: &str) -> BTreeMap<String, HashMap<String, String>> {
        let mut con = redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut con)
            .await
            .unwrap();
        let mut out = BTreeMap::new();
        for k in keys {
            if k.starts_with(&format!("{prefix}:r:")) {
                continue; // a settled reservation's marker
            }
            let fields: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(&k)
                .query_async(&mut con)
                .await
                .unwrap();
            out.insert(k, fields);
        }
        out
    }

    /// Every key is a marker or a counter's hash, and a counter's hash holds exactly the live
    /// holds of the model (ended ones were dropped by the read just made), `held` is their
    /// sum, and `next` is no later than the first of their lease ends.
    fn check_layout(
        hashes: &BTreeMap<String, HashMap<String, String>>,
        prefix: &str,
        live: &[(Option<usize>, String, u64)],
    ) -> Result<(), TestCaseError> {
        for (key, fields) in hashes {
            let on: Option<Option<usize>> = if key.starts_with(&format!("{prefix}:c:day:")) {
                Some(None)
            } else {
                TRACES
                    .iter()
                    .position(|t| *key == format!("{prefix}:c:trace:{t}"))
                    .map(Some)
            };
            let Some(on) = on else {
                prop_assert!(false, "an unexpected key {key}");
                return Ok(());
            };
            let want: BTreeMap<String, u64> = live
                .iter()
                .filter(|(trace, _, _)| on.is_none() || *trace == on)
                .map(|(_, id, amount)| (format!("h:{id}"), *amount))
                .collect();
            let mut got = BTreeMap::new();
            let mut first_end = u64::MAX;
            for (f, v) in fields {
                if let Some(_id) = f.strip_prefix("h:") {
                    let (amount, end) = v.split_once(':').expect("AMOUNT:END");
                    got.insert(f.clone(), amount.parse::<u64>().unwrap());
                    first_end = first_end.min(end.parse().unwrap());
                } else {
                    prop_assert!(
                        ["committed", "held", "workload", "next"].contains(&f.as_str()),
                        "an unexpected field {f} in {key}"
                    );
                }
            }
            prop_assert_eq!(&got, &want, "the holds in {}", key);
            let sum: u64 = want.values().sum();
            let held: u64 = fields.get("held").map_or(0, |h| h.parse().unwrap());
            prop_assert_eq!(held, sum, "held in {}", key);
            match fields.get("next") {
                Some(next) => prop_assert!(
                    next.parse::<u64>().unwrap() <= first_end,
                    "next {next} after a lease end {first_end} in {key}"
                ),
                None => prop_assert!(got.is_empty(), "holds without next in {key}"),
            }
        }
        Ok(())
    }

    fn check_interleaving(
        url: &str,
        store: &RedisStore,
        caps: (u64, u64),
        ops: &[Op],
    ) -> Result<(), TestCaseError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let budget = Budget {
            per_trace: Some(Picos(caps.0)),
            per_workload_day: Some(Picos(caps.1)),
            per_call: None,
            on_exceed: OnExceed::Reject,
        };
        let policies = [PolicyCaps {
            policy: "billing".into(),
            budget: budget.clone(),
        }];
        let day = utc_day(SystemTime::now());
        let mut model = Model::default();
        let mut made: Vec<RedisHold> = Vec::new();
        rt.block_on(async {
            for op in ops.iter().chain([&Op::Check]) {
                match *op {
                    Op::Reserve {
                        trace,
                        amount,
                        expired,
                    } => {
                        let scope = Scope {
                            workload: "billing",
                            trace: Some(TRACES[trace]),
                            day,
                        };
                        let lease = if expired {
                            Duration::ZERO
                        } else {
                            Duration::from_secs(3600)
                        };
                        let got = store
                            .reserve(ReserveRequest {
                                budget: &budget,
                                scope,
                                tier: "cheap",
                                amount: Picos(amount),
                                lease,
                            })
                            .await;
                        let trace_ok = model.traces[trace] as u128
                            + model.held(|h| h.trace == trace) as u128
                            + amount as u128
                            <= caps.0 as u128;
                        let day_ok =
                            model.day as u128 + model.held(|_| true) as u128 + amount as u128
                                <= caps.1 as u128;
                        match got {
                            Ok(hold) => {
                                prop_assert!(
                                    trace_ok && day_ok,
                                    "admitted over a cap: {op:?} {model:?}"
                                );
                                model.holds.push(ModelHold {
                                    trace,
                                    amount,
                                    expired,
                                    finished: false,
                                });
                                made.push(hold);
                            }
                            Err(ReserveError::Exceeded(e)) => {
                                prop_assert!(
                                    !(trace_ok && day_ok),
                                    "refused under the caps: {op:?} {e} {model:?}"
                                );
                                // The trace counter is checked first.
                                let scope = if trace_ok {
                                    BudgetScope::WorkloadDay
                                } else {
                                    BudgetScope::Trace
                                };
                                prop_assert_eq!(e.scope, scope);
                                let subject = if trace_ok {
                                    "workload `billing` today (UTC)".to_string()
                                } else {
                                    format!("trace `{}`", TRACES[trace])
                                };
                                prop_assert_eq!(&e.subject, &subject);
                            }
                            Err(e) => prop_assert!(false, "store error {e:?}"),
                        }
                    }
                    Op::Settle { n, actual } if !made.is_empty() => {
                        let i = n % made.len();
                        let got = store.settle(made[i].clone(), Picos(actual)).await.unwrap();
                        let h = &mut model.holds[i];
                        let want = if h.finished {
                            Settlement::Duplicate
                        } else if h.expired {
                            Settlement::Late
                        } else {
                            Settlement::Settled
                        };
                        prop_assert_eq!(got, want, "{:?}", op);
                        if !h.finished {
                            h.finished = true;
                            model.day += actual;
                            model.traces[h.trace] += actual;
                        }
                    }
                    Op::Release { n } if !made.is_empty() => {
                        let i = n % made.len();
                        store.release(made[i].clone()).await.unwrap();
                        model.holds[i].finished = true;
                    }
                    Op::Check => {}
                    _ => continue,
                }
                if !matches!(op, Op::Check) {
                    continue;
                }
                let status = store.status(&policies).await.unwrap();
                let live: Vec<(Option<usize>, String, u64)> = model
                    .holds
                    .iter()
                    .zip(&made)
                    .filter(|(h, _)| !h.finished && !h.expired)
                    .map(|(h, r)| (Some(h.trace), r.id().to_string(), h.amount))
                    .collect();
                let hashes = counter_hashes(url, store.prefix()).await;
                check_layout(&hashes, store.prefix(), &live)?;
                for c in &status {
                    let (committed, held) = match &c.subject {
                        CounterSubject::Day(_) => (model.day, model.held(|_| true)),
                        CounterSubject::Trace(t) => {
                            let i = TRACES.iter().position(|x| x == t).expect("a known trace");
                            (model.traces[i], model.held(|h| h.trace == i))
                        }
                    };
                    prop_assert_eq!(
                        c.committed,
                        Picos(committed),
                        "committed of {:?} after {:?}",
                        c.subject,
                        op
                    );
                    prop_assert_eq!(
                        c.held,
                        Picos(held),
                        "held of {:?} after {:?}",
                        c.subject,
                        op
                    );
                }
            }
            Ok(())
        })
    }

    fn caps() -> impl Strategy<Value = (u64, u64)> {
        // Small caps, and caps past 2^53 picos (where Lua's doubles would round) up to 2^58.
        prop_oneof![
            (1_000u64..5_000, 2_000u64..8_000),
            ((1u64 << 55)..(1u64 << 58), (1u64 << 55)..(1u64 << 58)),
        ]
    }

    #[test]
    fn the_scripts_keep_the_ledger_of_the_model() {
        // One server for every case (a case uses its own key prefix), stopped when the test
        // ends: a `proptest!` body has nowhere to keep it, so the runner is driven here.
        let server = RedisServer::start();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut runner = TestRunner::new(ProptestConfig {
            cases: 48,
            ..ProptestConfig::default()
        });
        let cases =
            caps().prop_flat_map(|c| (Just(c), proptest::collection::vec(op(c.0.min(c.1)), 1..30)));
        let result = runner.run(&cases, |(caps, ops)| {
            let prefix = format!("props{}", PREFIX.fetch_add(1, Ordering::Relaxed));
            let store = rt.block_on(async {
                RedisStore::open(&server.url(), &prefix, Duration::from_secs(3600)).unwrap()
            });
            check_interleaving(&server.url(), &store, caps, &ops)
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }

    #[test]
    fn exact_amounts_past_two_to_the_53() {
        // 2^53 + 1 is the first integer a double cannot hold: the cap must still be exact.
        let cap = (1u64 << 53) + 1;
        let ops = [
            Op::Reserve {
                trace: 0,
                amount: 1 << 53,
                expired: false,
            },
            Op::Reserve {
                trace: 0,
                amount: 1,
                expired: false,
            },
            Op::Reserve {
                trace: 0,
                amount: 1,
                expired: false,
            },
        ];
        let server = RedisServer::start();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = rt.block_on(async {
            RedisStore::open(&server.url(), "exact53", Duration::from_secs(3600)).unwrap()
        });
        check_interleaving(&server.url(), &store, (cap, cap), &ops).unwrap();
    }
}
