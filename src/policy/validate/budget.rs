//! The `[budget]` pass: each cap a finite amount of USD that a budget counter can hold,
//! `on_exceed` one of its words.

use toml::Spanned;

use super::{known_help, Cx};
use crate::policy::raw::RawBudget;
use crate::policy::{Budget, OnExceed};
use crate::suggest::did_you_mean;

impl Cx {
    /// `[budget]`: each cap a finite amount >= 0, `on_exceed` one of its two words.
    pub(super) fn budget(&mut self, b: &RawBudget) -> Budget {
        let mut cap = |v: &Option<Spanned<f64>>, key: &str| {
            let v = v.as_ref()?;
            let usd = *v.get_ref();
            if !usd.is_finite() || usd < 0.0 {
                self.err_help(
                    "invalid-value",
                    v.span(),
                    format!("`{key}` must be a finite amount of USD, 0 or more; found {usd}"),
                    format!("e.g. {key} = 2.5"),
                );
                return None;
            }
            let picos = crate::money::usd_to_picos(usd);
            // A shared store (docs/fleet.md) keeps counters as signed 64-bit pico-dollars.
            if picos.0 > i64::MAX as u64 {
                self.err_help(
                    "invalid-value",
                    v.span(),
                    format!(
                        "`{key}` is over the largest cap a budget counter holds, \
                         $9223372.036854775807; found {usd}"
                    ),
                    format!("e.g. {key} = 9000000"),
                );
                return None;
            }
            Some(picos)
        };
        let per_trace = cap(&b.per_trace_usd, "per_trace_usd");
        let per_workload_day = cap(&b.per_workload_day_usd, "per_workload_day_usd");
        let per_call = cap(&b.per_call_usd, "per_call_usd");
        let on_exceed = match &b.on_exceed {
            None => OnExceed::Reject,
            Some(v) if v.get_ref() == "reject" => OnExceed::Reject,
            Some(v) if v.get_ref() == "downgrade" => OnExceed::Downgrade,
            Some(v) => {
                let hint = did_you_mean(v.get_ref(), OnExceed::NAMES.iter().copied());
                self.err_help(
                    "invalid-value",
                    v.span(),
                    format!("`on_exceed` cannot be `{}`", v.get_ref()),
                    known_help(hint, "choices", OnExceed::NAMES.iter().copied()),
                );
                OnExceed::Reject
            }
        };
        Budget {
            per_trace,
            per_workload_day,
            per_call,
            on_exceed,
        }
    }
}
