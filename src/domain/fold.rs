//! The fold of an event log into protocol and step state.
//!
//! Events are ordered by `(lamport, id)` and deduplicated by id before they are applied. That
//! order is total and does not depend on where a line sits in the file, so the union of two
//! branches' logs (git's `merge=union`, which may repeat or interleave lines) folds to the same
//! state however the lines ended up arranged.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::event::Effect;
use super::{Event, ProtocolId, ProtocolStatus, StepId, StepStatus};

/// A step as the log says it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepState {
    /// The step id.
    pub id: StepId,
    /// Current status.
    pub status: StepStatus,
    /// How many attempts started.
    pub attempts: u32,
    /// Its last attempt was let through without a QA verdict (policy `skip`, or approved by
    /// hand): listed by `status` and `protocol show`, so nobody takes it for checked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub without_qa: bool,
}

/// A protocol as the log says it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolState {
    /// The protocol id.
    pub protocol: ProtocolId,
    /// Current status; `None` while no `protocol_created` event has been seen.
    pub status: Option<ProtocolStatus>,
    /// Steps in id order.
    pub steps: Vec<StepState>,
    /// Highest Lamport counter seen.
    pub lamport: u64,
    /// Number of distinct events folded.
    pub events: u64,
    /// Tokens used by every engine run of the protocol (sum of the events' `tokens`).
    #[serde(default)]
    pub tokens: u64,
    /// What the protocol's engine runs cost, in micro-dollars (sum of the events' `cost_usd`),
    /// so `status` need not read the log for it. `None` in a view written before this field
    /// existed: the reader then sums the log itself, and folding on does not make it a
    /// partial sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_micro_usd: Option<i64>,
    /// Events that did not fit the state they met (e.g. after merging divergent branches).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<String>,
    /// What the log says about the protocol's last stop, so that `status` tells why a
    /// protocol is not moving without reading its log (#13). `None` in a view written before
    /// this field existed: the reader then reads the log itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopFacts>,
}

/// The events `status` explains a stop with, as of the last event folded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopFacts {
    /// The last `run_stopped` event, unless a step, planning or protocol run started after it
    /// (that later run was then cut short).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_stopped: Option<RunStopped>,
    /// The message of the last `protocol_blocked`, `planning_failed` or `qa_error` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<String>,
    /// The message of the last event when that event is `planning_interrupted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planning_interrupted: Option<String>,
}

/// A run's own account of why it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunStopped {
    /// Why, in the run's words.
    pub reason: String,
    /// The command the run said to type next, if it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl StopFacts {
    fn note(&mut self, event: &Event) {
        use super::EventKind as K;
        if event.kind == K::RunStopped {
            self.run_stopped = Some(RunStopped {
                reason: event.message.clone(),
                next: event
                    .metadata
                    .get("next")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
            });
        }
        if matches!(
            event.kind,
            K::StepStarted | K::PlanningStarted | K::ProtocolStarted
        ) {
            self.run_stopped = None;
        }
        if event.kind.gives_block_reason() {
            self.block_reason = Some(event.message.clone());
        }
        self.planning_interrupted =
            (event.kind == K::PlanningInterrupted).then(|| event.message.clone());
    }
}

/// What `status` shows of a protocol's state, without the per-step list: small enough that
/// the state index of 1,000 protocols reads in a few milliseconds (#13).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateBrief {
    /// The protocol id.
    pub protocol: ProtocolId,
    /// Current status.
    pub status: Option<ProtocolStatus>,
    /// How many steps it has.
    pub steps: usize,
    /// Steps per status.
    pub step_counts: BTreeMap<StepStatus, u32>,
    /// Steps let through without a QA verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without_qa: Vec<StepId>,
    /// Whether a step failed or is blocked (`protocol retry` has something to retry).
    pub retryable: bool,
    /// See [`ProtocolState::tokens`].
    pub tokens: u64,
    /// See [`ProtocolState::cost_micro_usd`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_micro_usd: Option<i64>,
    /// See [`ProtocolState::stop`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopFacts>,
}

impl ProtocolState {
    /// What `status` shows of it.
    pub fn brief(&self) -> StateBrief {
        StateBrief {
            protocol: self.protocol.clone(),
            status: self.status,
            steps: self.steps.len(),
            step_counts: self.step_counts(),
            without_qa: self
                .steps
                .iter()
                .filter(|s| s.without_qa)
                .map(|s| s.id.clone())
                .collect(),
            retryable: self
                .steps
                .iter()
                .any(|s| matches!(s.status, StepStatus::Failed | StepStatus::Blocked)),
            tokens: self.tokens,
            cost_micro_usd: self.cost_micro_usd,
            stop: self.stop.clone(),
        }
    }

    /// Count of steps in each status.
    pub fn step_counts(&self) -> BTreeMap<StepStatus, u32> {
        let mut counts = BTreeMap::new();
        for step in &self.steps {
            *counts.entry(step.status).or_insert(0) += 1;
        }
        counts
    }

    /// The step with this id.
    pub fn step(&self, id: &StepId) -> Option<&StepState> {
        self.steps.iter().find(|s| &s.id == id)
    }
}

impl PartialOrd for StepStatus {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for StepStatus {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |s: &Self| Self::ALL.iter().position(|x| x == s).unwrap_or(usize::MAX);
        rank(self).cmp(&rank(other))
    }
}

/// Folds `events` (in any order, possibly with duplicates) into the state of `protocol`.
///
/// Events for other protocols are ignored. An event that the state machine refuses is recorded
/// as an anomaly and skipped, so a fold never fails: `fsck` reports the anomalies.
pub fn fold<'a>(
    protocol: &ProtocolId,
    events: impl IntoIterator<Item = &'a Event>,
) -> ProtocolState {
    let mut ordered: Vec<&Event> = events
        .into_iter()
        .filter(|e| e.protocol.as_ref() == Some(protocol))
        .collect();
    ordered.sort_by(|a, b| Event::log_order(a, b));
    ordered.dedup_by(|a, b| a.id == b.id);
    // dedup_by only removes neighbours; equal ids with different lamports would be a corrupt
    // log, so drop any later repeats too.
    let mut seen = HashSet::new();
    ordered.retain(|e| seen.insert(e.id.as_str()));

    let mut state = ProtocolState {
        protocol: protocol.clone(),
        status: None,
        steps: Vec::new(),
        lamport: 0,
        events: 0,
        tokens: 0,
        cost_micro_usd: Some(0),
        anomalies: Vec::new(),
        stop: Some(StopFacts::default()),
    };
    for event in ordered {
        fold_in(&mut state, event);
    }
    state.steps.sort_by(|a, b| a.id.cmp(&b.id));
    state
}

/// The state after `event`, given the fold of every earlier event: what [`fold`] of those
/// events plus `event` returns, without the earlier events at hand. Holds when `event` sorts
/// after every folded event (a Lamport counter above `state.lamport`) and its id is new, as
/// for an event being appended under the protocol lock (#13: an append need not read the log).
pub fn fold_next(state: &ProtocolState, event: &Event) -> ProtocolState {
    let mut next = state.clone();
    if event.protocol.as_ref() == Some(&state.protocol) {
        fold_in(&mut next, event);
        next.steps.sort_by(|a, b| a.id.cmp(&b.id));
    }
    next
}

fn fold_in(state: &mut ProtocolState, event: &Event) {
    state.lamport = state.lamport.max(event.lamport);
    state.events += 1;
    if let Some(stop) = state.stop.as_mut() {
        stop.note(event);
    }
    if let Some(tokens) = event
        .metadata
        .get("tokens")
        .and_then(serde_json::Value::as_u64)
    {
        state.tokens = state.tokens.saturating_add(tokens);
    }
    // Rounded per event as `prices::Cost::from_usd` does, so the sum equals theirs exactly.
    if let (Some(total), Some(usd)) = (
        state.cost_micro_usd.as_mut(),
        event
            .metadata
            .get("cost_usd")
            .and_then(serde_json::Value::as_f64),
    ) {
        *total = total.saturating_add((usd * 1_000_000.0).round() as i64);
    }
    if let Err(why) = apply(state, event) {
        state
            .anomalies
            .push(format!("event {} ({}): {why}", event.id, event.kind));
    }
}

/// Why an event could not be applied; the fold records it as an anomaly and goes on.
#[derive(Debug, thiserror::Error)]
enum Anomaly {
    #[error("protocol already exists")]
    AlreadyCreated,
    #[error("protocol was never created")]
    NotCreated,
    #[error("event names no step")]
    NoStep,
    #[error("step {0} already exists")]
    DuplicateStep(StepId),
    #[error("unknown step {0}")]
    UnknownStep(StepId),
    #[error("step {0} is running")]
    StepRunning(StepId),
    #[error(transparent)]
    Protocol(#[from] super::TransitionError<ProtocolStatus, super::ProtocolEvent>),
    #[error(transparent)]
    Step(#[from] super::TransitionError<StepStatus, super::StepEvent>),
}

fn apply(state: &mut ProtocolState, event: &Event) -> Result<(), Anomaly> {
    match event.kind.effect() {
        Effect::None => Ok(()),
        Effect::CreateProtocol => match state.status {
            None => {
                state.status = Some(ProtocolStatus::Pending);
                Ok(())
            }
            Some(_) => Err(Anomaly::AlreadyCreated),
        },
        Effect::AddStep => {
            require_protocol(state)?;
            let id = event.step.clone().ok_or(Anomaly::NoStep)?;
            if state.step(&id).is_some() {
                return Err(Anomaly::DuplicateStep(id));
            }
            state.steps.push(StepState {
                id,
                status: StepStatus::Pending,
                attempts: 0,
                without_qa: false,
            });
            Ok(())
        }
        Effect::RemoveStep => {
            require_protocol(state)?;
            let id = event.step.as_ref().ok_or(Anomaly::NoStep)?;
            let at = state
                .steps
                .iter()
                .position(|s| &s.id == id)
                .ok_or_else(|| Anomaly::UnknownStep(id.clone()))?;
            if state.steps[at].status == StepStatus::Running {
                return Err(Anomaly::StepRunning(id.clone()));
            }
            state.steps.remove(at);
            Ok(())
        }
        Effect::Protocol(pe) => {
            let status = require_protocol(state)?;
            // Resuming a protocol paused before it had steps cannot make it `running`: there
            // is nothing to run until it is planned.
            let pe = if pe == super::ProtocolEvent::Resumed && state.steps.is_empty() {
                super::ProtocolEvent::ResumedUnplanned
            } else {
                pe
            };
            let next = status.apply(pe)?;
            state.status = Some(next);
            if next == ProtocolStatus::Cancelled {
                for step in &mut state.steps {
                    if let Ok(s) = step.status.apply(super::StepEvent::Cancelled) {
                        step.status = s;
                    }
                }
            }
            Ok(())
        }
        Effect::Step(se) => {
            require_protocol(state)?;
            let id = event.step.as_ref().ok_or(Anomaly::NoStep)?;
            let step = state
                .steps
                .iter_mut()
                .find(|s| &s.id == id)
                .ok_or_else(|| Anomaly::UnknownStep(id.clone()))?;
            step.status = step.status.apply(se)?;
            if se == super::StepEvent::Started {
                step.attempts += 1;
            }
            step.without_qa = match se {
                super::StepEvent::QaSkipped | super::StepEvent::Approved => true,
                super::StepEvent::QaPassed
                | super::StepEvent::Started
                | super::StepEvent::Retried
                | super::StepEvent::Reopened => false,
                super::StepEvent::ExecutionSucceeded
                | super::StepEvent::ExecutionFailed
                | super::StepEvent::QaFailed
                | super::StepEvent::Blocked
                | super::StepEvent::Interrupted
                | super::StepEvent::Cancelled => step.without_qa,
            };
            Ok(())
        }
    }
}

fn require_protocol(state: &ProtocolState) -> Result<ProtocolStatus, Anomaly> {
    state.status.ok_or(Anomaly::NotCreated)
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::EventKind;

    fn pid() -> ProtocolId {
        ProtocolId::parse("0001-demo").unwrap()
    }

    /// Builds a plausible log: creation, steps, then random step and protocol events.
    fn log_from(choices: &[(u8, u8)], start_lamport: u64, nonce: u64) -> Vec<Event> {
        let kinds = [
            EventKind::StepStarted,
            EventKind::StepExecuted,
            EventKind::QaPassed,
            EventKind::QaFailed,
            EventKind::StepRetried,
            EventKind::StepExecutionFailed,
            EventKind::Paused,
            EventKind::Resumed,
            EventKind::ProtocolStarted,
            EventKind::ManualApproval,
            EventKind::RunStopped,
            EventKind::ProtocolBlocked,
            EventKind::QaError,
            EventKind::PlanningInterrupted,
        ];
        choices
            .iter()
            .enumerate()
            .map(|(i, (k, s))| {
                let step = StepId::parse(&format!("0{}-s", s % 3 + 1)).unwrap();
                let kind = kinds[*k as usize % kinds.len()];
                Event::new(
                    start_lamport + i as u64,
                    "t".into(),
                    Some(pid()),
                    Some(step),
                    kind,
                    format!("{kind} {i}"),
                    Default::default(),
                    nonce + i as u64,
                )
            })
            .collect()
    }

    fn prefix() -> Vec<Event> {
        let mut v = vec![Event::new(
            1,
            "t".into(),
            Some(pid()),
            None,
            EventKind::ProtocolCreated,
            String::new(),
            Default::default(),
            0,
        )];
        for (i, s) in ["01-s", "02-s", "03-s"].iter().enumerate() {
            v.push(Event::new(
                2 + i as u64,
                "t".into(),
                Some(pid()),
                Some(StepId::parse(s).unwrap()),
                EventKind::StepAdded,
                String::new(),
                Default::default(),
                0,
            ));
        }
        for (i, kind) in [
            EventKind::PlanningStarted,
            EventKind::Planned,
            EventKind::ProtocolStarted,
        ]
        .into_iter()
        .enumerate()
        {
            let lamport = 5 + i as u64;
            v.push(Event::new(
                lamport,
                "t".into(),
                Some(pid()),
                None,
                kind,
                String::new(),
                Default::default(),
                0,
            ));
        }
        v
    }

    proptest! {
        /// Two branches share a prefix and then diverge; any interleaving of their tails
        /// (what a union merge may produce) folds to one state.
        #[test]
        fn fold_is_independent_of_interleaving(
            a in proptest::collection::vec((0u8..14, 0u8..3), 0..20),
            b in proptest::collection::vec((0u8..14, 0u8..3), 0..20),
            picks in proptest::collection::vec(any::<bool>(), 0..40),
        ) {
            let base = prefix();
            let tail_a = log_from(&a, 8, 1000);
            let tail_b = log_from(&b, 8, 5000);
            let mut reference: Vec<Event> = base.clone();
            reference.extend(tail_a.iter().cloned());
            reference.extend(tail_b.iter().cloned());
            let expected = fold(&pid(), &reference);

            // Interleave the two tails as the picks say.
            let (mut ia, mut ib) = (tail_a.into_iter(), tail_b.into_iter());
            let mut mixed = base;
            for pick in picks {
                if let Some(e) = if pick { ia.next() } else { ib.next() } { mixed.push(e); }
            }
            mixed.extend(ia);
            mixed.extend(ib);
            prop_assert_eq!(fold(&pid(), &mixed), expected);
        }

        /// Folding one more event onto a folded log is the fold of the log with that event,
        /// whatever the log held (anomalies included): what an append relies on.
        #[test]
        fn fold_next_equals_the_fold_of_the_longer_log(
            a in proptest::collection::vec((0u8..14, 0u8..3), 0..30),
        ) {
            let mut log = prefix();
            log.extend(log_from(&a, 8, 1000));
            let (last, earlier) = log.split_last().unwrap();
            prop_assert_eq!(fold_next(&fold(&pid(), earlier), last), fold(&pid(), &log));
        }

        /// A union merge can repeat lines; repeats change nothing.
        #[test]
        fn fold_ignores_duplicated_lines(
            a in proptest::collection::vec((0u8..10, 0u8..3), 0..30),
            dups in proptest::collection::vec(any::<proptest::sample::Index>(), 0..20),
        ) {
            let mut log = prefix();
            log.extend(log_from(&a, 8, 1000));
            let expected = fold(&pid(), &log);
            let mut with_dups = log.clone();
            for d in dups {
                let e = d.get(&log).clone();
                let at = d.index(with_dups.len() + 1);
                with_dups.insert(at, e);
            }
            prop_assert_eq!(fold(&pid(), &with_dups), expected);
        }
    }

    #[test]
    fn stop_facts_are_the_last_stop_unless_a_run_started_after_it() {
        let at = |lamport: u64, kind: EventKind, message: &str| {
            let mut metadata = serde_json::Map::new();
            if kind == EventKind::RunStopped {
                metadata.insert("next".into(), "godzilla protocol resume 0001-demo".into());
            }
            Event::new(
                lamport,
                "t".into(),
                Some(pid()),
                None,
                kind,
                message.into(),
                metadata,
                lamport,
            )
        };
        let mut log = prefix();
        log.push(at(8, EventKind::ProtocolBlocked, "engine said no"));
        log.push(at(9, EventKind::RunStopped, "budget reached"));
        let facts = fold(&pid(), &log).stop.unwrap();
        assert_eq!(facts.block_reason.as_deref(), Some("engine said no"));
        assert_eq!(
            facts.run_stopped,
            Some(RunStopped {
                reason: "budget reached".into(),
                next: Some("godzilla protocol resume 0001-demo".into()),
            })
        );
        assert_eq!(facts.planning_interrupted, None);
        // A run that started after the stop was itself cut short: the stop no longer explains.
        log.push(at(10, EventKind::ProtocolStarted, ""));
        assert_eq!(fold(&pid(), &log).stop.unwrap().run_stopped, None);
        // Only the very last event counts as an interrupted planning.
        log.push(at(11, EventKind::PlanningInterrupted, "SIGINT"));
        let facts = fold(&pid(), &log).stop.unwrap();
        assert_eq!(facts.planning_interrupted.as_deref(), Some("SIGINT"));
        log.push(at(12, EventKind::BudgetWarning, ""));
        assert_eq!(fold(&pid(), &log).stop.unwrap().planning_interrupted, None);
    }

    #[test]
    fn cancel_cascades_and_anomalies_are_kept() {
        let mut log = prefix();
        log.push(Event::new(
            8,
            "t".into(),
            Some(pid()),
            None,
            EventKind::Cancelled,
            String::new(),
            Default::default(),
            0,
        ));
        log.push(Event::new(
            9,
            "t".into(),
            Some(pid()),
            Some(StepId::parse("01-s").unwrap()),
            EventKind::StepStarted,
            String::new(),
            Default::default(),
            0,
        ));
        let state = fold(&pid(), &log);
        assert_eq!(state.status, Some(ProtocolStatus::Cancelled));
        assert!(
            state
                .steps
                .iter()
                .all(|s| s.status == StepStatus::Cancelled)
        );
        assert_eq!(state.anomalies.len(), 1);
        assert_eq!(state.lamport, 9);
        assert_eq!(state.events, 9);
    }
}
