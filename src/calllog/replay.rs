//! `switchyard replay`: every step of a call log routed again under a candidate policy set,
//! to answer "what would this policy change have done to last week's traffic?" — how many
//! steps change tier (and the from→to matrix), what the same calls would cost (the logged
//! token counts at the new model's prices), which rules gain and lose traffic, and which
//! steps the candidate would not route at all (counted by kind, never dropped).
//!
//! Built for logs of millions of lines: each line is read into a borrowed [`RecordView`] in
//! one pass, the step is filled into one reused [`Step`], and routing borrows a held
//! [`PolicySet`]. A step the fast reading does not take (an odd field, a wrong type) is read
//! again in full and judged by [`Step::from_value`], so both paths decide alike.

use std::collections::HashMap;
use std::io::{self, BufRead};

use serde::Serialize;

use super::read::{parse_view, LogReader, LogStats};
use super::report::usd;
use super::view::{RecordView, StepView, Text};
use crate::money::PicosPerToken;
use crate::router::{PolicySet, RouteError, RouteFailure};
use crate::step::Step;
use crate::step::StepWire;

/// How many line numbers are kept per kind of step not routed.
pub const LINES_KEPT: usize = 10;

/// What a candidate policy set would have done with a call log.
#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    /// Lines read, records, and every line skipped.
    pub lines: LogStats,
    /// The candidate's policies and their versions.
    pub candidate: Vec<PolicyVersion>,
    /// Steps replayed (every record).
    pub steps: u64,
    /// Steps the candidate routed.
    pub routed: u64,
    /// Routed steps whose tier differs from the logged one.
    pub changed_tier: u64,
    /// Routed steps whose model differs from the logged one.
    pub changed_model: u64,
    /// What the routed steps cost as logged, pico-dollars.
    pub logged_picos: u128,
    /// What the same calls cost under the candidate: logged token counts at the new
    /// model's prices, pico-dollars.
    pub candidate_picos: u128,
    /// `logged_picos` in dollars, for people and dashboards.
    pub logged_usd: f64,
    /// `candidate_picos` in dollars.
    pub candidate_usd: f64,
    /// The change in percent of the logged cost (`None` when that is zero).
    pub change_percent: Option<f64>,
    /// Logged tier → candidate tier, for every routed step (the diagonal included).
    pub matrix: Vec<TierMove>,
    /// Every rule that chose a routed step in the log or under the candidate, with its
    /// traffic before and after (over the routed steps: the steps not routed are counted in
    /// `not_routed` instead); ordered by the size of the change, largest first.
    pub rules: Vec<RuleTraffic>,
    /// Steps the candidate would not route, grouped by kind and detail.
    pub not_routed: Vec<NotRouted>,
}

/// A policy of the candidate set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    /// Its name (the workload).
    pub name: String,
    /// Its version hash.
    pub version: String,
    /// Its tiers, in file order.
    pub tiers: Vec<String>,
}

/// One cell of the tier matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierMove {
    /// The logged tier.
    pub from: String,
    /// The candidate's tier.
    pub to: String,
    /// Steps.
    pub steps: u64,
    /// Their logged cost.
    pub logged_picos: u128,
    /// Their cost under the candidate.
    pub candidate_picos: u128,
}

/// A rule's traffic in the log and under the candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleTraffic {
    /// The policy the rule belongs to.
    pub policy: String,
    /// The rule (`default` when no rule matched).
    pub rule: String,
    /// Steps it chose in the log.
    pub logged: u64,
    /// Steps it chooses under the candidate.
    pub candidate: u64,
}

impl RuleTraffic {
    /// Steps gained (positive) or lost (negative).
    pub fn change(&self) -> i64 {
        self.candidate as i64 - self.logged as i64
    }
}

/// Steps the candidate does not route, for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotRouted {
    /// guard_rejected, unknown_workload, workload_required or invalid_step.
    pub kind: String,
    /// The guard, the workload, or the message.
    pub detail: String,
    /// Steps.
    pub steps: u64,
    /// Their logged cost.
    pub logged_picos: u128,
    /// The first few line numbers (up to [`LINES_KEPT`]).
    pub lines: Vec<u64>,
}

impl Replay {
    /// Steps not routed, in all.
    pub fn not_routed_steps(&self) -> u64 {
        self.not_routed.iter().map(|n| n.steps).sum()
    }

    /// Whether the candidate costs more than `percent`% above the logged cost (exact in
    /// integers to a millionth of a percent; any increase over a zero logged cost counts).
    pub fn cost_increase_exceeds(&self, percent: f64) -> bool {
        let millionths = (percent.max(0.0) * 1_000_000.0).round() as u128;
        let scale = 100_000_000u128; // 100% in millionths of a percent
        self.candidate_picos.saturating_mul(scale)
            > self.logged_picos.saturating_mul(scale + millionths)
    }
}

/// The change from `old` to `new` in percent of `old` (`None` when `old` is zero).
pub fn change_percent(old: u128, new: u128) -> Option<f64> {
    (old > 0).then(|| (new as f64 - old as f64) / old as f64 * 100.0)
}

/// A small interner: the names in a log are few (tiers, rules), so a linear scan beats
/// hashing and never allocates for a name already seen.
#[derive(Debug, Default)]
struct Names(Vec<String>);

impl Names {
    fn id(&mut self, name: &str) -> usize {
        match self.0.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.0.push(name.to_owned());
                self.0.len() - 1
            }
        }
    }
}

/// Rule names are per policy: (policy id, rule name).
#[derive(Debug, Default)]
struct RuleNames(Vec<(usize, String)>);

impl RuleNames {
    fn id(&mut self, policy: usize, rule: &str) -> usize {
        match self.0.iter().position(|(p, r)| *p == policy && r == rule) {
            Some(i) => i,
            None => {
                self.0.push((policy, rule.to_owned()));
                self.0.len() - 1
            }
        }
    }
}

/// A candidate policy, with its names interned and its prices converted once.
struct Candidate {
    tiers: Vec<usize>,
    models: Vec<String>,
    prices: Vec<(PicosPerToken, PicosPerToken)>,
    /// Rule ids by rule index, then one more for `default`.
    rules: Vec<usize>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Cell {
    steps: u64,
    logged: u128,
    candidate: u128,
}

#[derive(Debug, Default)]
struct NotRoutedAcc {
    steps: u64,
    logged: u128,
    lines: Vec<u64>,
}

/// Replays a call log under `set`. Bad lines are skipped and listed in [`Replay::lines`];
/// only an I/O error ends the read early.
pub fn replay(mut log: LogReader<impl BufRead>, set: &PolicySet) -> io::Result<Replay> {
    let mut tiers = Names::default();
    let mut policies = Names::default();
    let mut rules = RuleNames::default();
    let candidates: Vec<Candidate> = set
        .policies()
        .iter()
        .map(|cp| {
            let p = &cp.policy;
            let pid = policies.id(&p.name);
            let mut rule_ids: Vec<usize> = p.rules.iter().map(|r| rules.id(pid, &r.name)).collect();
            rule_ids.push(rules.id(pid, "default"));
            Candidate {
                tiers: p.tiers.iter().map(|t| tiers.id(&t.name)).collect(),
                models: (0..p.tiers.len())
                    .map(|t| p.tier_model(t).key.clone())
                    .collect(),
                prices: (0..p.tiers.len())
                    .map(|t| {
                        let m = p.tier_model(t);
                        (
                            PicosPerToken::from_usd_per_mtok(m.input_usd_per_mtok),
                            PicosPerToken::from_usd_per_mtok(m.output_usd_per_mtok),
                        )
                    })
                    .collect(),
                rules: rule_ids,
            }
        })
        .collect();

    let mut lines = LogStats::default();
    let mut matrix: HashMap<(usize, usize), Cell> = HashMap::new();
    let mut traffic: Vec<[u64; 2]> = Vec::new();
    let mut not_routed: HashMap<(&'static str, String), NotRoutedAcc> = HashMap::new();
    let (mut routed, mut changed_tier, mut changed_model) = (0u64, 0u64, 0u64);
    let (mut logged_total, mut candidate_total) = (0u128, 0u128);
    let mut step = Step::default();

    while let Some((n, line)) = log.next_line()? {
        lines.lines = n;
        let r: RecordView<'_> = match line.and_then(parse_view) {
            Ok(r) => r,
            Err(message) => {
                lines.skip(n, message);
                continue;
            }
        };
        lines.good();
        let logged = r.cost.0 as u128;
        let from = tiers.id(r.tier.as_str());
        let pid = policies.id(r.policy.as_str());
        let old_rule = rules.id(pid, r.rule.as_ref().map_or("default", Text::as_str));

        let decision = if fill_step(&r.step, r.policy.as_str(), &mut step) {
            set.route(&step)
        } else {
            // The slow path: the step judged by Step::from_value, which explains.
            match slow_step(&r) {
                Ok(s) => {
                    step = s;
                    set.route(&step)
                }
                Err(e) => Err(e),
            }
        };
        match decision {
            Ok(d) => {
                let ci = set
                    .policies()
                    .iter()
                    .position(|p| std::ptr::eq(&**p, d.compiled_policy()))
                    .expect("a decision is made under a policy of the set");
                let c = &candidates[ci];
                let t = d.tier_id();
                let to = c.tiers[t];
                let (inp, outp) = c.prices[t];
                let cost = inp
                    .cost(r.input_tokens)
                    .saturating_add(outp.cost(r.output_tokens))
                    .0 as u128;
                let new_rule = c.rules[d.rule_index().unwrap_or(c.rules.len() - 1)];
                bump(&mut traffic, old_rule, 0);
                bump(&mut traffic, new_rule, 1);
                routed += 1;
                changed_tier += u64::from(from != to);
                changed_model += u64::from(c.models[t] != r.model.as_str());
                logged_total += logged;
                candidate_total += cost;
                let cell = matrix.entry((from, to)).or_default();
                cell.steps += 1;
                cell.logged += logged;
                cell.candidate += cost;
            }
            Err(e) => {
                let detail = match e.failure() {
                    RouteFailure::GuardRejected { guard, .. } => guard.clone(),
                    RouteFailure::UnknownWorkload { workload, .. } => workload.clone(),
                    RouteFailure::WorkloadRequired { .. } => String::new(),
                    RouteFailure::InvalidStep(s) => s.message.clone(),
                    _ => String::new(),
                };
                let acc = not_routed.entry((e.kind(), detail)).or_default();
                acc.steps += 1;
                acc.logged += logged;
                if acc.lines.len() < LINES_KEPT {
                    acc.lines.push(n);
                }
            }
        }
    }

    let mut matrix: Vec<TierMove> = matrix
        .into_iter()
        .map(|((f, t), c)| TierMove {
            from: tiers.0[f].clone(),
            to: tiers.0[t].clone(),
            steps: c.steps,
            logged_picos: c.logged,
            candidate_picos: c.candidate,
        })
        .collect();
    matrix.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
    let mut rule_traffic: Vec<RuleTraffic> = traffic
        .iter()
        .enumerate()
        .map(|(i, [logged, candidate])| RuleTraffic {
            policy: policies.0[rules.0[i].0].clone(),
            rule: rules.0[i].1.clone(),
            logged: *logged,
            candidate: *candidate,
        })
        .filter(|r| r.logged > 0 || r.candidate > 0)
        .collect();
    rule_traffic.sort_by(|a, b| {
        b.change()
            .unsigned_abs()
            .cmp(&a.change().unsigned_abs())
            .then(b.change().cmp(&a.change()))
            .then((&a.policy, &a.rule).cmp(&(&b.policy, &b.rule)))
    });
    let mut not_routed: Vec<NotRouted> = not_routed
        .into_iter()
        .map(|((kind, detail), a)| NotRouted {
            kind: kind.to_owned(),
            detail,
            steps: a.steps,
            logged_picos: a.logged,
            lines: a.lines,
        })
        .collect();
    not_routed.sort_by(|a, b| (&a.kind, &a.detail).cmp(&(&b.kind, &b.detail)));
    Ok(Replay {
        candidate: set
            .policies()
            .iter()
            .map(|p| PolicyVersion {
                name: p.policy.name.clone(),
                version: p.policy.version.clone(),
                tiers: p.policy.tiers.iter().map(|t| t.name.clone()).collect(),
            })
            .collect(),
        steps: lines.records,
        lines,
        routed,
        changed_tier,
        changed_model,
        logged_picos: logged_total,
        candidate_picos: candidate_total,
        logged_usd: usd(logged_total),
        candidate_usd: usd(candidate_total),
        change_percent: change_percent(logged_total, candidate_total),
        matrix,
        rules: rule_traffic,
        not_routed,
    })
}

fn bump(traffic: &mut Vec<[u64; 2]>, id: usize, side: usize) {
    if traffic.len() <= id {
        traffic.resize(id + 1, [0, 0]);
    }
    traffic[id][side] += 1;
}

/// The logged step, read as a JSON tree and checked by [`Step::from_value`]; its workload is
/// the record's policy when the step names none.
fn slow_step(r: &RecordView<'_>) -> Result<Step, RouteError> {
    let invalid = |message: String| RouteError::from(crate::step::StepError { message });
    let parsed;
    let value = match &r.step {
        StepView::Other(v) => v,
        StepView::Plain(_) => {
            let text = r.step_text().map_err(invalid)?;
            parsed = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
            &parsed
        }
    };
    let mut step = Step::from_value(value)?;
    if step.workload.is_none() {
        step.workload = Some(r.policy.as_str().to_owned());
    }
    Ok(step)
}

/// Fills `step` from a plain step view, reusing its buffers. Returns false (and leaves the
/// step to the slow path) for anything [`Step::from_value`] would refuse or that the view
/// did not read.
fn fill_step(view: &StepView<'_>, policy: &str, step: &mut Step) -> bool {
    let StepView::Plain(view) = view else {
        return false;
    };
    fill_fields(view, policy, step)
}

fn fill_fields(view: &StepWire<'_>, policy: &str, step: &mut Step) -> bool {
    if view.input_tokens.is_none() && view.prompt.is_none() {
        return false;
    }
    step.tags.clear();
    for (k, v) in &view.tags {
        step.tags.insert(k.as_ref().to_owned(), v.clone());
    }
    step.role.clear();
    step.role.push_str(&view.role);
    step.input_tokens = view.input_tokens;
    set_text(&mut step.prompt, view.prompt.as_deref());
    step.expected_output_tokens = view.expected_output_tokens;
    step.needs_chain_of_thought = view.needs_chain_of_thought;
    step.output_must_be_json = view.output_must_be_json;
    step.untrusted_input = view.untrusted_input;
    step.dependent_tool_calls = view.dependent_tool_calls;
    set_text(
        &mut step.workload,
        Some(view.workload.as_deref().unwrap_or(policy)),
    );
    set_text(&mut step.trace_id, view.trace_id.as_deref());
    true
}

/// Sets an optional string, reusing its buffer.
fn set_text(slot: &mut Option<String>, value: Option<&str>) {
    match (slot.as_mut(), value) {
        (Some(buf), Some(v)) => {
            buf.clear();
            buf.push_str(v);
        }
        (None, Some(v)) => *slot = Some(v.to_owned()),
        (_, None) => *slot = None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record line around a step given as JSON text.
    fn line(step: &str) -> String {
        format!(
            r#"{{"time":"2026-11-26T06:00:00Z","trace_id":null,"policy":"contract-review","policy_version":"v","step":{step},"tier":"cheap","model":"muse-spark","rule":null,"via":"default","guard":null,"latency_us":1,"input_tokens":1,"output_tokens":1,"token_source":"provider","input_price":1,"output_price":1,"cost":2,"cost_usd":2e-12}}"#
        )
    }

    /// The fast reading and `Step::from_value` agree on every step: same step, or both
    /// refuse (the fast path hands everything it does not take to the slow one).
    #[test]
    fn the_fast_reading_matches_step_from_value() {
        let steps = [
            r#"{"role":"format","input_tokens":1200}"#,
            r#"{"role":"reason","input_tokens":6000,"expected_output_tokens":800,"tags":{"jurisdiction":"EU","contract_value_usd":2500000,"neg":-3,"frac":2.5,"vip":true},"trace_id":"t-1"}"#,
            r#"{"role":"plan","prompt":"plan the review","workload":"code-fix","needs_chain_of_thought":true,"output_must_be_json":false,"untrusted_input":true,"dependent_tool_calls":9}"#,
            r#"{"role":"x","input_tokens":1,"prompt":null,"tags":null,"workload":null,"needs_chain_of_thought":null,"dependent_tool_calls":null}"#,
            r#"{"role":"x","input_tokens":1,"tags":{"a":"1","a":2}}"#,
            r#"{"role":"x\u00e9","input_tokens":1,"tags":{"k\"ey":"v\nw"}}"#,
            r#"{"role":"","input_tokens":1}"#,
            r#"{"role":"x"}"#,
            r#"{"input_tokens":1}"#,
            r#"{"role":"x","input_tokens":-1}"#,
            r#"{"role":"x","input_tokens":1.0}"#,
            r#"{"role":"x","input_tokens":1,"needs_cot":true}"#,
            r#"{"role":"x","input_tokens":1,"untrusted_input":"yes"}"#,
            r#"{"role":"x","input_tokens":1,"tags":{"a":[1]}}"#,
            r#"{"role":"x","input_tokens":1,"tags":{"a":null}}"#,
            r#"{"role":"x","input_tokens":1,"tags":[]}"#,
            r#"{"role":7,"input_tokens":1}"#,
            r#"[1]"#,
            r#"null"#,
            r#""step""#,
        ];
        let mut reused = Step::new("previous")
            .prompt("old")
            .trace_id("old")
            .tag("old", 1i64);
        for s in steps {
            let text = line(s);
            let view = parse_view(text.as_bytes()).unwrap();
            let reference = slow_step(&view);
            let fast = fill_step(&view.step, "contract-review", &mut reused);
            match reference {
                Ok(want) => {
                    if fast {
                        assert_eq!(reused, want, "{s}");
                    }
                }
                Err(_) => assert!(!fast, "the fast path took a step from_value refuses: {s}"),
            }
            if s.starts_with(r#"{"role":"format""#) || s.contains("jurisdiction") {
                assert!(fast, "an ordinary step takes the fast path: {s}");
            }
        }
    }

    #[test]
    fn cost_increase_thresholds_are_exact() {
        let mut r = Replay {
            lines: LogStats::default(),
            candidate: vec![],
            steps: 0,
            routed: 0,
            changed_tier: 0,
            changed_model: 0,
            logged_picos: 1_000,
            candidate_picos: 1_100,
            logged_usd: 0.0,
            candidate_usd: 0.0,
            change_percent: None,
            matrix: vec![],
            rules: vec![],
            not_routed: vec![],
        };
        assert!(!r.cost_increase_exceeds(10.0));
        assert!(r.cost_increase_exceeds(9.99));
        r.candidate_picos = 1_000;
        assert!(!r.cost_increase_exceeds(0.0));
        r.candidate_picos = 1_001;
        assert!(r.cost_increase_exceeds(0.0));
        r.logged_picos = 0;
        assert!(r.cost_increase_exceeds(1000.0));
        assert_eq!(change_percent(0, 5), None);
        assert_eq!(change_percent(1_000, 1_100), Some(10.0));
    }
}
