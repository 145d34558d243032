//! The deterministic random steps the `route` and `replay` benches share: one generator and
//! one way of drawing a step's role, counts and flags, so each bench sees the same steps run
//! after run.

use switchyard::Step;

/// The roles steps are drawn from (the `route` bench uses the first seven).
pub const ROLES: [&str; 8] = [
    "format",
    "extract",
    "summarize",
    "plan",
    "reason",
    "tool_call",
    "classify",
    "edit",
];
/// The jurisdiction tag values steps and policies draw from.
pub const JURISDICTIONS: [&str; 4] = ["EU", "UK", "US", "CA"];

/// A small deterministic generator (xorshift64*), so every run sees the same numbers.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// An input token count spread over 100..100k on a log scale, like real agent steps.
pub fn log_tokens(rng: &mut Rng) -> u64 {
    (100.0 * 1000f64.powf(rng.below(1000) as f64 / 1000.0)) as u64
}

/// How often, in percent, a step's flags are set.
pub struct FlagChances {
    pub chain_of_thought: u64,
    pub json: u64,
    pub untrusted: u64,
}

/// A step of `tokens` input tokens; its role (from `roles`), expected output, flags and
/// dependent tool calls are drawn in that order.
pub fn random_step(rng: &mut Rng, roles: &[&str], tokens: u64, flags: &FlagChances) -> Step {
    Step::new(roles[rng.below(roles.len() as u64) as usize])
        .input_tokens(tokens)
        .expected_output_tokens(rng.below(2000))
        .needs_chain_of_thought(rng.chance(flags.chain_of_thought))
        .output_must_be_json(rng.chance(flags.json))
        .untrusted_input(rng.chance(flags.untrusted))
        .dependent_tool_calls(rng.below(12))
}
