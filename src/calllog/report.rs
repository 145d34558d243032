//! `switchyard report`: spend, calls, tokens and p50/p95 latency over a call log, in total and
//! grouped by policy, tier, rule, role and model. Money is summed exactly, in `u128`
//! pico-dollars; latency percentiles are exact (nearest rank over every call in the group).

use std::collections::HashMap;
use std::io::{self, BufRead};

use serde::Serialize;

use super::read::{parse_view, LogReader, LogStats};
use crate::money::PICOS_PER_USD;

/// The groupings a report shows, in order.
pub const DIMENSIONS: [&str; 5] = ["policy", "tier", "rule", "role", "model"];

/// What a call log adds up to.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Lines read, records, and every line skipped.
    pub lines: LogStats,
    /// All calls together.
    pub total: Group,
    /// One entry per grouping in [`DIMENSIONS`] order.
    pub by: Vec<Dimension>,
}

/// The calls grouped by one feature.
#[derive(Debug, Clone, Serialize)]
pub struct Dimension {
    /// `policy`, `tier`, `rule`, `role` or `model`.
    pub name: &'static str,
    /// Groups by spend, largest first (then by key).
    pub groups: Vec<Group>,
}

/// The calls sharing one value of a feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The value: a tier name, a model key, `policy/rule` (`policy/default` when no rule
    /// matched), a role (`(none)` for a step without a string role), a policy name.
    pub key: String,
    /// Calls.
    pub calls: u64,
    /// Spend in pico-dollars (exact).
    pub spend_picos: u128,
    /// The same in dollars, for people and dashboards (derived from the exact sum).
    pub spend_usd: f64,
    /// Input tokens billed.
    pub input_tokens: u128,
    /// Output tokens billed.
    pub output_tokens: u128,
    /// Median latency in microseconds (nearest rank).
    pub p50_latency_us: u64,
    /// 95th-percentile latency in microseconds (nearest rank).
    pub p95_latency_us: u64,
}

/// One group's running sums.
#[derive(Debug, Default)]
struct Acc {
    calls: u64,
    spend: u128,
    input_tokens: u128,
    output_tokens: u128,
    latencies: Vec<u64>,
}

impl Acc {
    fn add(&mut self, cost: u64, input: u64, output: u64, latency: u64) {
        self.calls += 1;
        self.spend += cost as u128;
        self.input_tokens += input as u128;
        self.output_tokens += output as u128;
        self.latencies.push(latency);
    }

    fn finish(mut self, key: String) -> Group {
        self.latencies.sort_unstable();
        Group {
            key,
            calls: self.calls,
            spend_picos: self.spend,
            spend_usd: usd(self.spend),
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            p50_latency_us: percentile(&self.latencies, 50),
            p95_latency_us: percentile(&self.latencies, 95),
        }
    }
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `p`% of
/// the values at or below it (0 for no values).
pub fn percentile(sorted: &[u64], p: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as u64).div_ceil(100).max(1);
    sorted[(rank - 1) as usize]
}

/// Groups keyed by a string, looked up without allocating once a key has been seen.
#[derive(Debug, Default)]
struct Groups(HashMap<String, Acc>);

impl Groups {
    fn get(&mut self, key: &str) -> &mut Acc {
        if !self.0.contains_key(key) {
            self.0.insert(key.to_owned(), Acc::default());
        }
        self.0.get_mut(key).expect("inserted above")
    }

    fn finish(self) -> Vec<Group> {
        let mut groups: Vec<Group> = self.0.into_iter().map(|(k, a)| a.finish(k)).collect();
        groups.sort_by(|a, b| b.spend_picos.cmp(&a.spend_picos).then(a.key.cmp(&b.key)));
        groups
    }
}

/// Reads a call log and adds it up. Bad lines are skipped and listed in
/// [`Report::lines`]; only an I/O error ends the read early.
pub fn report(mut log: LogReader<impl BufRead>) -> io::Result<Report> {
    let mut lines = LogStats::default();
    let mut total = Acc::default();
    let mut by_policy = Groups::default();
    let mut by_tier = Groups::default();
    let mut by_role = Groups::default();
    let mut by_model = Groups::default();
    // Rule names are per policy: keyed by policy, then rule.
    let mut by_rule: HashMap<String, Groups> = HashMap::new();
    while let Some((n, line)) = log.next_line()? {
        lines.lines = n;
        let r = match line.and_then(parse_view) {
            Ok(r) => r,
            Err(message) => {
                lines.skip(n, message);
                continue;
            }
        };
        lines.good();
        let add = |a: &mut Acc| a.add(r.cost.0, r.input_tokens, r.output_tokens, r.latency_us);
        add(&mut total);
        add(by_policy.get(r.policy.as_str()));
        add(by_tier.get(r.tier.as_str()));
        add(by_model.get(r.model.as_str()));
        add(by_role.get(r.step.role().unwrap_or("(none)")));
        if !by_rule.contains_key(r.policy.as_str()) {
            by_rule.insert(r.policy.as_str().to_owned(), Groups::default());
        }
        let rules = by_rule.get_mut(r.policy.as_str()).expect("inserted above");
        add(rules.get(r.rule.as_ref().map_or("default", |t| t.as_str())));
    }
    let mut rule_groups = Groups::default();
    for (policy, rules) in by_rule {
        for (rule, acc) in rules.0 {
            rule_groups.0.insert(format!("{policy}/{rule}"), acc);
        }
    }
    Ok(Report {
        lines,
        total: total.finish("total".into()),
        by: vec![
            Dimension {
                name: "policy",
                groups: by_policy.finish(),
            },
            Dimension {
                name: "tier",
                groups: by_tier.finish(),
            },
            Dimension {
                name: "rule",
                groups: rule_groups.finish(),
            },
            Dimension {
                name: "role",
                groups: by_role.finish(),
            },
            Dimension {
                name: "model",
                groups: by_model.finish(),
            },
        ],
    })
}

/// Dollars as a float, for JSON readers (never summed).
pub fn usd(picos: u128) -> f64 {
    picos as f64 / PICOS_PER_USD as f64
}

/// Dollars from pico-dollars, exact, for people: `$0.27`, `$0.018`, `$1.0128`, `-$0.5`
/// (at least two decimals, trailing zeros trimmed).
pub fn format_usd(picos: u128) -> String {
    let whole = picos / PICOS_PER_USD as u128;
    let frac = picos % PICOS_PER_USD as u128;
    let mut digits = format!("{frac:012}");
    while digits.len() > 2 && digits.ends_with('0') {
        digits.pop();
    }
    format!("${whole}.{digits}")
}

/// A signed dollar amount (for differences), exact: `+$0.25`, `-$0.018`, `$0.00`.
pub fn format_usd_change(new: u128, old: u128) -> String {
    if new > old {
        format!("+{}", format_usd(new - old))
    } else if new < old {
        format!("-{}", format_usd(old - new))
    } else {
        format_usd(0)
    }
}

/// Dollars rounded to six decimals (half up), for aligned tables: `$0.270000`.
pub fn format_usd_fixed(picos: u128) -> String {
    let micros = (picos + 500_000) / 1_000_000;
    format!("${}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&v, 50), 10);
        assert_eq!(percentile(&v, 95), 19);
        assert_eq!(percentile(&[7], 95), 7);
        assert_eq!(percentile(&[1, 2], 50), 1);
        assert_eq!(percentile(&[], 50), 0);
    }

    #[test]
    fn dollars_are_exact() {
        assert_eq!(format_usd(270_000_000_000), "$0.27");
        assert_eq!(format_usd(18_000_000_000), "$0.018");
        assert_eq!(format_usd(3 * PICOS_PER_USD as u128 + 1), "$3.000000000001");
        assert_eq!(format_usd(0), "$0.00");
        assert_eq!(format_usd_change(1, 3), "-$0.000000000002");
        assert_eq!(format_usd_fixed(270_000_000_000), "$0.270000");
        assert_eq!(format_usd_fixed(499_999), "$0.000000");
        assert_eq!(format_usd_fixed(500_000), "$0.000001");
    }
}
