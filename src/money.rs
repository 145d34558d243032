//! Money without float drift: every amount is an integer number of pico-dollars
//! (1e-12 USD), and prices are converted once to pico-dollars per token.
//!
//! A price of $15 per million tokens is 15,000,000 pico-dollars per token, so 8,000 input
//! tokens and 2,000 output tokens at $15/$75 cost exactly 270,000,000,000 pico-dollars
//! ($0.27), however many calls are summed. Per-call amounts fit in `u64` (up to ~$18M);
//! totals are summed in `u128`.

use serde::{Deserialize, Serialize};

/// An amount of money in pico-dollars (1e-12 USD).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Picos(pub u64);

/// Pico-dollars in one US dollar.
pub const PICOS_PER_USD: u64 = 1_000_000_000_000;

/// Dollars to pico-dollars, rounded to the nearest pico (caps are checked at load to be
/// finite and non-negative).
pub fn usd_to_picos(usd: f64) -> Picos {
    Picos((usd * PICOS_PER_USD as f64).round().max(0.0) as u64)
}

impl Picos {
    /// Zero dollars.
    pub const ZERO: Picos = Picos(0);

    /// The amount in dollars, for people (never summed as a float).
    pub fn usd(self) -> f64 {
        self.0 as f64 / PICOS_PER_USD as f64
    }

    /// Saturating sum: a cap compares against it, so it must never wrap.
    pub fn saturating_add(self, other: Picos) -> Picos {
        Picos(self.0.saturating_add(other.0))
    }

    /// Saturating difference.
    pub fn saturating_sub(self, other: Picos) -> Picos {
        Picos(self.0.saturating_sub(other.0))
    }
}

/// A price in pico-dollars per token, converted once from the policy's USD per million tokens.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct PicosPerToken(pub u64);

impl PicosPerToken {
    /// From USD per million tokens (a finite, non-negative price; checked at load).
    /// Exact for prices with up to six decimals, rounded to the nearest pico otherwise.
    pub fn from_usd_per_mtok(usd_per_mtok: f64) -> PicosPerToken {
        PicosPerToken((usd_per_mtok * 1_000_000.0).round().max(0.0) as u64)
    }

    /// The cost of `tokens` tokens.
    pub fn cost(self, tokens: u64) -> Picos {
        Picos(self.0.saturating_mul(tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_examples_are_exact() {
        let cost = |i: f64, o: f64| {
            PicosPerToken::from_usd_per_mtok(i)
                .cost(8_000)
                .saturating_add(PicosPerToken::from_usd_per_mtok(o).cost(2_000))
        };
        assert_eq!(cost(15.0, 75.0), Picos(270_000_000_000));
        assert_eq!(cost(15.0, 75.0).usd(), 0.27);
        assert_eq!(cost(1.0, 5.0), Picos(18_000_000_000));
        assert_eq!(cost(1.0, 5.0).usd(), 0.018);
    }

    #[test]
    fn a_million_small_calls_sum_exactly() {
        let one = PicosPerToken::from_usd_per_mtok(0.1).cost(3);
        let total: u128 = (0..1_000_000).map(|_| one.0 as u128).sum();
        assert_eq!(total, 300_000_000_000);
    }
}
