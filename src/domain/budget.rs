//! Budget arithmetic: token estimates and the decision whether a run may start.

use serde::{Deserialize, Serialize};

/// How budgets are enforced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetMode {
    /// Refuse runs over budget (exit 3).
    Strict,
    /// Record an event and continue.
    #[default]
    Warn,
    /// No budget checks.
    Off,
}

/// Limits in force for one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetLimits {
    /// strict, warn or off.
    pub mode: BudgetMode,
    /// Tokens one attempt may use.
    pub per_step: Option<u64>,
    /// Tokens the whole protocol may use.
    pub per_protocol: Option<u64>,
}

/// What the budget says about a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum BudgetDecision {
    /// Within every limit (or budgets are off).
    Allow,
    /// Over a limit in warn mode: record and go on.
    Warn {
        /// Which limit and by how much.
        reason: String,
    },
    /// Over a limit in strict mode: do not start.
    Refuse {
        /// Which limit and by how much.
        reason: String,
    },
}

/// A rough token count for text: about four bytes per token for English and code. Only used
/// to decide before a run; real usage comes from the engine afterwards.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// Decides whether a run estimated at `estimate` tokens may start when the protocol has
/// already used `used` tokens.
pub fn check(limits: BudgetLimits, estimate: u64, used: u64) -> BudgetDecision {
    if limits.mode == BudgetMode::Off {
        return BudgetDecision::Allow;
    }
    let mut reasons = Vec::new();
    if let Some(max) = limits.per_step
        && estimate > max
    {
        reasons.push(format!(
            "the prompt alone is about {estimate} tokens, over the per-step limit of {max}"
        ));
    }
    if let Some(max) = limits.per_protocol
        && used.saturating_add(estimate) > max
    {
        reasons.push(format!(
            "the protocol has used {used} tokens; about {estimate} more would pass its limit of {max}"
        ));
    }
    if reasons.is_empty() {
        return BudgetDecision::Allow;
    }
    let reason = reasons.join("; ");
    match limits.mode {
        BudgetMode::Strict => BudgetDecision::Refuse { reason },
        BudgetMode::Warn => BudgetDecision::Warn { reason },
        BudgetMode::Off => BudgetDecision::Allow,
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    fn limits(mode: BudgetMode, step: Option<u64>, protocol: Option<u64>) -> BudgetLimits {
        BudgetLimits {
            mode,
            per_step: step,
            per_protocol: protocol,
        }
    }

    proptest! {
        #[test]
        fn strict_never_allows_a_run_over_the_remainder(est in 0u64..10_000, used in 0u64..10_000, max in 0u64..20_000) {
            let d = check(limits(BudgetMode::Strict, None, Some(max)), est, used);
            prop_assert_eq!(d == BudgetDecision::Allow, used + est <= max);
        }

        #[test]
        fn off_always_allows(est in any::<u64>(), used in any::<u64>()) {
            prop_assert_eq!(check(limits(BudgetMode::Off, Some(0), Some(0)), est, used), BudgetDecision::Allow);
        }

        #[test]
        fn warn_never_refuses(est in 0u64..10_000, used in 0u64..10_000, max in 0u64..20_000) {
            let d = check(limits(BudgetMode::Warn, Some(max), Some(max)), est, used);
            let refused = matches!(d, BudgetDecision::Refuse { .. });
            prop_assert!(!refused);
        }
    }

    #[test]
    fn estimate_is_about_four_bytes_a_token() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
    }
}
