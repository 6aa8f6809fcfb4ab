//! What follows a step's outcome: the spec's loop and trigger policies, decided from the
//! decisions already in the log and recorded as events.

use super::super::Error;
use crate::context::Context;
use crate::domain::policy::{self, Decision, History};
use crate::domain::spec::Outcome;
use crate::domain::{Event, EventKind, ProtocolId, StepId, StepStatus};
use crate::services::execution::Loaded;
use crate::services::platform::storage::Store;
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::telemetry;
use crate::services::spec;

/// Decisions already made, read from the log.
pub(crate) fn history(log: &[Event]) -> History {
    let mut h = History::default();
    for e in log {
        let meta = |k: &str| {
            e.metadata
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        match e.kind {
            EventKind::LoopDecision => {
                if let (Some(step), Some(policy)) = (e.step.clone(), meta("policy")) {
                    *h.loops_used.entry((step, policy)).or_insert(0) += 1;
                }
            }
            EventKind::TriggerDecision => {
                let outcome = match meta("outcome").as_deref() {
                    Some("pass") => Outcome::Pass,
                    _ => Outcome::Fail,
                };
                if let (Some(step), Some(policy)) = (e.step.clone(), meta("policy")) {
                    h.triggers_fired.insert((step, policy, outcome));
                }
                if let (Some(Ok(target)), Some(depth)) = (
                    meta("target").map(|t| StepId::parse(&t)),
                    e.metadata.get("depth").and_then(|v| v.as_u64()),
                ) {
                    h.trigger_depth
                        .insert(target, u32::try_from(depth).unwrap_or(u32::MAX));
                }
            }
            _ => {}
        }
    }
    h
}

/// Applies decisions as events. Returns the block reason when one blocks.
pub(super) fn apply_decisions(
    ctx: &Context,
    store: &Store,
    id: &ProtocolId,
    step: &StepId,
    outcome: Outcome,
    decisions: &[Decision],
    actions: &mut Vec<String>,
) -> Result<Option<String>, Error> {
    for d in decisions {
        match d {
            Decision::Loop {
                policy,
                iteration,
                max,
                reopen,
            } => {
                let mut meta = serde_json::Map::new();
                meta.insert("policy".into(), policy.clone().into());
                meta.insert("iteration".into(), (*iteration).into());
                meta.insert("max".into(), (*max).into());
                meta.insert(
                    "reopen".into(),
                    reopen
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .into(),
                );
                telemetry::log_protocol_event(
                    ctx,
                    store,
                    id,
                    Some(step),
                    EventKind::LoopDecision,
                    format!("loop {policy}: iteration {iteration} of {max}"),
                    meta,
                )?;
                reopen_steps(
                    ctx,
                    store,
                    id,
                    reopen,
                    &format!("loop {policy} after {step} failed"),
                )?;
                actions.push(format!(
                    "loop {policy} on {step}: iteration {iteration}/{max}"
                ));
            }
            Decision::Trigger {
                policy,
                target,
                depth,
            } => {
                let mut meta = serde_json::Map::new();
                meta.insert("policy".into(), policy.clone().into());
                meta.insert(
                    "outcome".into(),
                    if outcome == Outcome::Pass {
                        "pass"
                    } else {
                        "fail"
                    }
                    .into(),
                );
                meta.insert("target".into(), target.to_string().into());
                meta.insert("depth".into(), (*depth).into());
                telemetry::log_protocol_event(
                    ctx,
                    store,
                    id,
                    Some(step),
                    EventKind::TriggerDecision,
                    format!("trigger {policy}: run {target}"),
                    meta,
                )?;
                reopen_steps(
                    ctx,
                    store,
                    id,
                    std::slice::from_ref(target),
                    &format!("triggered by {step}"),
                )?;
                actions.push(format!("trigger {policy} from {step}: {target}"));
            }
            Decision::Block { reason } => return Ok(Some(reason.clone())),
        }
    }
    Ok(None)
}

fn reopen_steps(
    ctx: &Context,
    store: &Store,
    id: &ProtocolId,
    steps: &[StepId],
    why: &str,
) -> Result<(), Error> {
    let state = ProtocolRepository::load_state(store, id)?.state;
    for s in steps {
        let status = state.step(s).map(|x| x.status);
        if matches!(
            status,
            Some(
                StepStatus::Completed
                    | StepStatus::Failed
                    | StepStatus::NeedsQa
                    | StepStatus::Blocked
            )
        ) {
            telemetry::log_protocol_event(
                ctx,
                store,
                id,
                Some(s),
                EventKind::StepReopened,
                why.to_owned(),
                Default::default(),
            )?;
        }
    }
    Ok(())
}

/// `step_completed` of the seed: decides what follows an outcome and records it. Returns the
/// block reason when nothing applies to a FAIL.
pub(super) fn decide_and_apply(
    ctx: &Context,
    loaded: &Loaded,
    log: &[Event],
    step: &StepId,
    outcome: Outcome,
    actions: &mut Vec<String>,
) -> Result<Option<String>, Error> {
    let Some(protocol_spec) =
        spec::load_spec(&loaded.store, &loaded.state.protocol).map_err(Box::new)?
    else {
        return Ok(Some("the protocol has no spec".into()));
    };
    let decisions = policy::decide(
        &protocol_spec,
        &history(log),
        step,
        outcome,
        loaded.config.qa.max_iterations,
    );
    apply_decisions(
        ctx,
        &loaded.store,
        &loaded.state.protocol,
        step,
        outcome,
        &decisions,
        actions,
    )
}
