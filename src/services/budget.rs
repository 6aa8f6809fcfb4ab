//! The budget service: decides, before an engine run, whether the token budget allows it, and
//! records the decision as an event. Real usage is recorded by the execution and quality
//! services in their events' `tokens` field, which the fold sums per protocol.

use crate::config::Config;
use crate::context::Context;
use crate::domain::budget::{self, BudgetDecision, BudgetLimits};
use crate::domain::{EventKind, ProtocolId, StepId};
use crate::services::platform::storage::{self, Store};
use crate::services::platform::telemetry;

/// The limits the configuration sets.
pub fn limits(config: &Config) -> BudgetLimits {
    BudgetLimits {
        mode: config.budget.mode,
        per_step: config.budget.max_tokens_per_step,
        per_protocol: config.budget.max_tokens_per_protocol,
    }
}

/// A run about to start.
#[derive(Clone, Copy, Debug)]
pub struct PlannedRun<'a> {
    /// Its protocol.
    pub protocol: &'a ProtocolId,
    /// Its step, if any.
    pub step: Option<&'a StepId>,
    /// Its phase name.
    pub phase: &'a str,
    /// The prompt it will send.
    pub prompt: &'a str,
    /// Tokens the protocol has used so far (its folded `tokens`).
    pub used: u64,
}

/// Checks a run against the budget and records a warning or refusal event.
pub fn check_and_track(
    ctx: &Context,
    store: &Store,
    config: &Config,
    run: PlannedRun<'_>,
) -> Result<BudgetDecision, storage::Error> {
    let PlannedRun {
        protocol,
        step,
        phase,
        prompt,
        used,
    } = run;
    let estimate = budget::estimate_tokens(prompt);
    let decision = budget::check(limits(config), estimate, used);
    let event = match &decision {
        BudgetDecision::Allow => None,
        BudgetDecision::Warn { reason } => Some((EventKind::BudgetWarning, reason)),
        BudgetDecision::Refuse { reason } => Some((EventKind::BudgetExceeded, reason)),
    };
    if let Some((kind, reason)) = event {
        let mut meta = serde_json::Map::new();
        meta.insert("phase".into(), phase.into());
        meta.insert("estimated_tokens".into(), estimate.into());
        meta.insert("used_tokens".into(), used.into());
        telemetry::log_protocol_event(ctx, store, protocol, step, kind, reason.clone(), meta)?;
        if kind == EventKind::BudgetWarning {
            ctx.reporter.warn(&format!("budget: {reason}"));
        }
    }
    Ok(decision)
}
