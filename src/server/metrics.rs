//! The server's Prometheus metrics (prometheus-client), named and labelled as
//! `docs/serve.md` lists them, and their text exposition for `GET /metrics`.
//!
//! Every family is registered at start, so a scrape shows each name (with `# HELP` and
//! `# TYPE`) before any traffic; the proxy's call, spend and token families are fed once
//! requests go upstream.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::router::PolicySet;

/// The content type of [`Metrics::render`]'s text (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Labels of `switchyard_decisions_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DecisionLabels {
    /// The policy (workload).
    pub policy: String,
    /// The tier chosen.
    pub tier: String,
    /// The rule that chose it; empty when no rule matched.
    pub rule: String,
    /// How it was reached: rule, default, guard, expression_error.
    pub via: String,
}

/// Labels of `switchyard_route_errors_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The policy, or empty when none was picked (an unknown workload, a step that did not parse).
    pub policy: String,
    /// The error's kind: invalid_step, guard_rejected, model_not_found, …
    pub kind: String,
}

/// Labels of `switchyard_calls_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct CallLabels {
    /// The policy.
    pub policy: String,
    /// The tier.
    pub tier: String,
    /// The models key that answered.
    pub model: String,
    /// ok, error or cancelled.
    pub status: String,
}

/// Labels of `switchyard_spend_usd_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SpendLabels {
    /// The policy.
    pub policy: String,
    /// The tier.
    pub tier: String,
    /// The models key.
    pub model: String,
}

/// Labels of `switchyard_tokens_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TokenLabels {
    /// The policy.
    pub policy: String,
    /// The models key.
    pub model: String,
    /// input or output.
    pub kind: String,
}

/// Labels of `switchyard_call_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ModelLabels {
    /// The policy.
    pub policy: String,
    /// The models key.
    pub model: String,
}

/// Labels of `switchyard_overhead_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct EndpointLabels {
    /// The route path, e.g. `/v1/route`.
    pub endpoint: String,
}

/// Labels of `switchyard_policy_reloads_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReloadLabels {
    /// ok or error.
    pub result: String,
}

/// Labels of `switchyard_policy_info`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct PolicyLabels {
    /// The policy.
    pub policy: String,
    /// Its version hash.
    pub version: String,
}

/// Labels of `switchyard_budget_spent_usd`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct BudgetLabels {
    /// The policy.
    pub policy: String,
    /// The cap's name.
    pub cap: String,
}

/// A family whose `# HELP` and `# TYPE` lines are written even before its first series, so
/// every name is in the first scrape (prometheus-client leaves empty families out).
#[derive(Debug)]
struct Listed<M>(M);

impl<M: EncodeMetric> EncodeMetric for Listed<M> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }

    fn is_empty(&self) -> bool {
        false
    }
}

/// A histogram family; the constructor sets the buckets.
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// `switchyard_decisions_total`.
    pub decisions: Family<DecisionLabels, Counter>,
    /// `switchyard_route_errors_total`.
    pub route_errors: Family<ErrorLabels, Counter>,
    /// `switchyard_calls_total`.
    pub calls: Family<CallLabels, Counter>,
    /// `switchyard_spend_usd_total`.
    pub spend_usd: Family<SpendLabels, Counter<f64, AtomicU64>>,
    /// `switchyard_tokens_total`.
    pub tokens: Family<TokenLabels, Counter>,
    /// `switchyard_call_duration_seconds`.
    pub call_duration: Histograms<ModelLabels>,
    /// `switchyard_overhead_seconds`.
    pub overhead: Histograms<EndpointLabels>,
    /// `switchyard_policy_reloads_total`.
    pub reloads: Family<ReloadLabels, Counter>,
    /// `switchyard_policy_info`.
    pub policy_info: Family<PolicyLabels, Gauge>,
    /// `switchyard_budget_spent_usd`.
    pub budget_spent: Family<BudgetLabels, Gauge<f64, AtomicU64>>,
    /// `switchyard_budget_held_usd`.
    pub budget_held: Family<BudgetLabels, Gauge<f64, AtomicU64>>,
    /// `switchyard_budget_store_errors_total`.
    pub budget_store_errors: Counter,
    /// `switchyard_budget_late_settlements_total`.
    pub budget_late_settlements: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Upstream calls: 50 ms to 2 minutes.
fn call_buckets() -> Histogram {
    Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0])
}

/// Time in switchyard itself: 10 µs to 1 s.
fn overhead_buckets() -> Histogram {
    Histogram::new([
        0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01,
        0.025, 0.1, 1.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every family registered, the reload counters at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            decisions: Family::default(),
            route_errors: Family::default(),
            calls: Family::default(),
            spend_usd: Family::default(),
            tokens: Family::default(),
            call_duration: Family::new_with_constructor(call_buckets),
            overhead: Family::new_with_constructor(overhead_buckets),
            reloads: Family::default(),
            policy_info: Family::default(),
            budget_spent: Family::default(),
            budget_held: Family::default(),
            budget_store_errors: Counter::default(),
            budget_late_settlements: Counter::default(),
            registry: Registry::default(),
        };
        // prometheus-client adds `_total` to counters itself.
        registry.register(
            "switchyard_decisions",
            "Steps routed, by policy, tier, rule and how the decision was reached",
            Listed(m.decisions.clone()),
        );
        registry.register(
            "switchyard_route_errors",
            "Requests not routed, by policy and error kind",
            Listed(m.route_errors.clone()),
        );
        registry.register(
            "switchyard_calls",
            "Upstream model calls, by policy, tier, model and status (ok, error, cancelled)",
            Listed(m.calls.clone()),
        );
        registry.register(
            "switchyard_spend_usd",
            "Actual cost of upstream calls in US dollars",
            Listed(m.spend_usd.clone()),
        );
        registry.register(
            "switchyard_tokens",
            "Tokens billed, by policy, model and kind (input, output)",
            Listed(m.tokens.clone()),
        );
        registry.register(
            "switchyard_call_duration_seconds",
            "Upstream call duration",
            Listed(m.call_duration.clone()),
        );
        registry.register(
            "switchyard_overhead_seconds",
            "Time spent in switchyard itself per request, upstream time excluded",
            Listed(m.overhead.clone()),
        );
        registry.register(
            "switchyard_policy_reloads",
            "Policy reload attempts, by result (ok, error)",
            Listed(m.reloads.clone()),
        );
        registry.register(
            "switchyard_policy_info",
            "1 for each policy served, with its version",
            Listed(m.policy_info.clone()),
        );
        registry.register(
            "switchyard_budget_spent_usd",
            "Spend counted against each budget cap in US dollars",
            Listed(m.budget_spent.clone()),
        );
        registry.register(
            "switchyard_budget_held_usd",
            "Worst cases held by calls still running against each budget cap in US dollars",
            Listed(m.budget_held.clone()),
        );
        registry.register(
            "switchyard_budget_store_errors",
            "Times the budget store could not be reached",
            m.budget_store_errors.clone(),
        );
        registry.register(
            "switchyard_budget_late_settlements",
            "Settlements that came after their hold's lease ended (their cost still counted)",
            m.budget_late_settlements.clone(),
        );
        for result in ["ok", "error"] {
            // Created at zero, so both series show before the first reload.
            drop(m.reloads.get_or_create(&ReloadLabels {
                result: result.into(),
            }));
        }
        Metrics { registry, ..m }
    }

    /// Counts one reload attempt.
    pub fn reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.reloads
            .get_or_create(&ReloadLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Counts one routing error.
    pub fn route_error(&self, policy: &str, kind: &str) {
        self.route_errors
            .get_or_create(&ErrorLabels {
                policy: policy.into(),
                kind: kind.into(),
            })
            .inc();
    }

    /// Counts one decision.
    pub fn decision(&self, policy: &str, tier: &str, rule: Option<&str>, via: &str) {
        self.decisions
            .get_or_create(&DecisionLabels {
                policy: policy.into(),
                tier: tier.into(),
                rule: rule.unwrap_or_default().into(),
                via: via.into(),
            })
            .inc();
    }

    /// Counts one upstream call by its status (`ok`, `error`, `cancelled`).
    pub fn call(&self, policy: &str, tier: &str, model: &str, status: &str) {
        self.calls
            .get_or_create(&CallLabels {
                policy: policy.into(),
                tier: tier.into(),
                model: model.into(),
                status: status.into(),
            })
            .inc();
    }

    /// Records how long one upstream call took.
    pub fn call_duration(&self, policy: &str, model: &str, seconds: f64) {
        self.call_duration
            .get_or_create(&ModelLabels {
                policy: policy.into(),
                model: model.into(),
            })
            .observe(seconds);
    }

    /// Adds a call's actual cost.
    pub fn spend(&self, policy: &str, tier: &str, model: &str, usd: f64) {
        self.spend_usd
            .get_or_create(&SpendLabels {
                policy: policy.into(),
                tier: tier.into(),
                model: model.into(),
            })
            .inc_by(usd);
    }

    /// Adds a call's billed tokens.
    pub fn tokens(&self, policy: &str, model: &str, input: u64, output: u64) {
        for (kind, n) in [("input", input), ("output", output)] {
            self.tokens
                .get_or_create(&TokenLabels {
                    policy: policy.into(),
                    model: model.into(),
                    kind: kind.into(),
                })
                .inc_by(n);
        }
    }

    /// Sets the spend counted against one budget cap.
    pub fn budget_spent(&self, policy: &str, cap: &str, usd: f64) {
        self.budget_spent
            .get_or_create(&BudgetLabels {
                policy: policy.into(),
                cap: cap.into(),
            })
            .set(usd);
    }

    /// Sets the worst cases held against one budget cap.
    pub fn budget_held(&self, policy: &str, cap: &str, usd: f64) {
        self.budget_held
            .get_or_create(&BudgetLabels {
                policy: policy.into(),
                cap: cap.into(),
            })
            .set(usd);
    }

    /// Records time spent in switchyard on one request to `endpoint`.
    pub fn overhead(&self, endpoint: &str, seconds: f64) {
        self.overhead
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.into(),
            })
            .observe(seconds);
    }

    /// The text exposition, with `switchyard_policy_info` set from the set served now.
    pub fn render(&self, served: &PolicySet) -> String {
        self.policy_info.clear();
        for p in served.policies() {
            self.policy_info
                .get_or_create(&PolicyLabels {
                    policy: p.policy.name.clone(),
                    version: p.policy.version.clone(),
                })
                .set(1);
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// The budget store reports here: the spent and held gauges of a cap (a trace cap shows the
/// trace of its latest call), store errors and late settlements.
impl crate::runner::budget::BudgetObserver for Metrics {
    fn store_error(&self) {
        self.budget_store_errors.inc();
    }

    fn late_settlement(&self) {
        self.budget_late_settlements.inc();
    }

    fn counter(
        &self,
        policy: &str,
        scope: crate::runner::budget::BudgetScope,
        committed: crate::money::Picos,
        held: crate::money::Picos,
    ) {
        self.budget_spent(policy, scope.key(), committed.usd());
        self.budget_held(policy, scope.key(), held.usd());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_shows_before_any_traffic() {
        let m = Metrics::new();
        let text = m.render(&PolicySet::new(Vec::new()));
        for name in [
            "switchyard_decisions_total",
            "switchyard_route_errors_total",
            "switchyard_calls_total",
            "switchyard_spend_usd_total",
            "switchyard_tokens_total",
            "switchyard_call_duration_seconds",
            "switchyard_overhead_seconds",
            "switchyard_policy_reloads_total",
            "switchyard_policy_info",
            "switchyard_budget_spent_usd",
            "switchyard_budget_held_usd",
            "switchyard_budget_store_errors_total",
            "switchyard_budget_late_settlements_total",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} in\n{text}"
            );
        }
        assert!(text.contains("switchyard_policy_reloads_total{result=\"ok\"} 0"));
    }

    #[test]
    fn decisions_are_counted_with_their_labels() {
        let m = Metrics::new();
        m.decision("cr", "cheap", None, "default");
        m.decision("cr", "cheap", None, "default");
        let text = m.render(&PolicySet::new(Vec::new()));
        assert!(
            text.contains(
                "switchyard_decisions_total{policy=\"cr\",tier=\"cheap\",rule=\"\",via=\"default\"} 2"
            ),
            "{text}"
        );
    }
}
