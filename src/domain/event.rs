//! Events: the append-only record that every status is folded from, and the catalogue of
//! event types. This file is the one place that lists every event type godzilla writes.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ProtocolEvent, ProtocolId, StepEvent, StepId};

/// One line of an `events.jsonl` log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Unique id: a hash of the rest of the event and a random nonce.
    pub id: String,
    /// Lamport counter: one more than the highest counter in the log when it was appended.
    pub lamport: u64,
    /// When it was recorded (RFC 3339, UTC).
    pub ts: String,
    /// The protocol it belongs to; `None` for project-level events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolId>,
    /// The step it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepId>,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// One human sentence.
    pub message: String,
    /// Structured details (tokens, run ids, reasons...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// The one order of a log (DESIGN.md: `(lamport, id)`), total and independent of where a
    /// line sits in the file; every reader sorts with it.
    pub fn log_order(a: &Self, b: &Self) -> std::cmp::Ordering {
        (a.lamport, &a.id).cmp(&(b.lamport, &b.id))
    }

    /// Builds an event and derives its id from its content and `nonce`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lamport: u64,
        ts: String,
        protocol: Option<ProtocolId>,
        step: Option<StepId>,
        kind: EventKind,
        message: String,
        metadata: serde_json::Map<String, serde_json::Value>,
        nonce: u64,
    ) -> Self {
        let mut event = Self {
            id: String::new(),
            lamport,
            ts,
            protocol,
            step,
            kind,
            message,
            metadata,
        };
        let mut hasher = Sha256::new();
        // serde_json of our own struct cannot fail.
        hasher.update(serde_json::to_vec(&event).unwrap_or_default());
        hasher.update(nonce.to_le_bytes());
        let digest = hasher.finalize();
        event.id = crate::digest::hex(&digest[..12]);
        event
    }

    /// The event as one JSON line, without the trailing newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal => $effect:expr ),* $(,)?) => {
        /// Every event type godzilla writes. Adding one here is the only way to add one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum EventKind {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl EventKind {
            /// Every event type, in catalogue order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),*];

            /// The name written to logs.
            pub fn as_str(self) -> &'static str {
                match self { $(EventKind::$variant => $name,)* }
            }

            /// What the event does to state when folded.
            pub fn effect(self) -> Effect {
                use Effect::*;
                match self { $(EventKind::$variant => $effect,)* }
            }
        }
    };
}

impl EventKind {
    /// Whether the event's message is the reason a protocol is blocked: the last such event
    /// explains a `blocked` or `failed` protocol (`status`, `protocol run`).
    pub fn gives_block_reason(self) -> bool {
        matches!(
            self,
            EventKind::ProtocolBlocked | EventKind::PlanningFailed | EventKind::QaError
        )
    }
}

/// The state change an event type causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Only a record; no status changes.
    None,
    /// Brings a protocol into existence (`pending`).
    CreateProtocol,
    /// Adds a step (`pending`) to the protocol; needs `step`.
    AddStep,
    /// Removes a step from the protocol (its file was deleted); needs `step`.
    RemoveStep,
    /// Moves the protocol.
    Protocol(ProtocolEvent),
    /// Moves the step named by `step`.
    Step(StepEvent),
}

catalogue! {
    /// `godzilla init` set up the repository.
    ProjectInitialized = "project_initialized" => None,
    /// A protocol was created.
    ProtocolCreated = "protocol_created" => CreateProtocol,
    /// Planning began.
    PlanningStarted = "planning_started" => Protocol(ProtocolEvent::PlanningStarted),
    /// Planning produced a valid plan and steps.
    Planned = "planned" => Protocol(ProtocolEvent::PlanningSucceeded),
    /// Planning failed; the protocol is blocked.
    PlanningFailed = "planning_failed" => Protocol(ProtocolEvent::PlanningFailed),
    /// The planning run's process died; the attempt is void and the protocol is pending.
    PlanningInterrupted = "planning_interrupted" => Protocol(ProtocolEvent::PlanningInterrupted),
    /// A step was added to the protocol's spec.
    StepAdded = "step_added" => AddStep,
    /// A step left the spec (its file was removed and the spec validated again).
    StepRemoved = "step_removed" => RemoveStep,
    /// The spec was validated and stored.
    SpecValidated = "spec_validated" => None,
    /// The spec has problems; nothing was stored.
    SpecValidationError = "spec_validation_error" => None,
    /// A step's instructions were refined by an engine.
    StepDecomposed = "step_decomposed" => None,
    /// Discovery ran and wrote its findings.
    DiscoveryCompleted = "discovery_completed" => None,
    /// Execution of the protocol began.
    ProtocolStarted = "protocol_started" => Protocol(ProtocolEvent::Started),
    /// A person paused the protocol.
    Paused = "paused" => Protocol(ProtocolEvent::Paused),
    /// A person resumed the protocol.
    Resumed = "resumed" => Protocol(ProtocolEvent::Resumed),
    /// The protocol needs attention.
    ProtocolBlocked = "protocol_blocked" => Protocol(ProtocolEvent::Blocked),
    /// The protocol failed.
    ProtocolFailed = "protocol_failed" => Protocol(ProtocolEvent::Failed),
    /// A person cancelled the protocol; open steps are cancelled with it.
    Cancelled = "cancelled" => Protocol(ProtocolEvent::Cancelled),
    /// Every step passed.
    ProtocolCompleted = "protocol_completed" => Protocol(ProtocolEvent::Completed),
    /// An attempt at a step began.
    StepStarted = "step_started" => Step(StepEvent::Started),
    /// The engine finished the step; it waits for QA.
    StepExecuted = "step_executed" => Step(StepEvent::ExecutionSucceeded),
    /// The engine failed on the step.
    StepExecutionFailed = "step_execution_failed" => Step(StepEvent::ExecutionFailed),
    /// The attempt's process died; the attempt is void.
    StepInterrupted = "step_interrupted" => Step(StepEvent::Interrupted),
    /// QA gave PASS.
    QaPassed = "qa_passed" => Step(StepEvent::QaPassed),
    /// QA gave FAIL.
    QaFailed = "qa_failed" => Step(StepEvent::QaFailed),
    /// QA skipped by the step's policy.
    QaSkippedPolicy = "qa_skipped_policy" => Step(StepEvent::QaSkipped),
    /// godzilla was stopped (SIGINT/SIGTERM) while the review engine worked: no verdict, the
    /// step still waits for QA.
    QaInterrupted = "qa_interrupted" => None,
    /// QA could not run (engine error, missing check): the step is blocked, never passed.
    QaError = "qa_error" => Step(StepEvent::Blocked),
    /// The step needs attention.
    StepBlocked = "step_blocked" => Step(StepEvent::Blocked),
    /// Another attempt was asked for.
    StepRetried = "step_retried" => Step(StepEvent::Retried),
    /// A loop policy sent the step back.
    StepReopened = "step_reopened" => Step(StepEvent::Reopened),
    /// A person approved the step.
    ManualApproval = "manual_approval" => Step(StepEvent::Approved),
    /// A loop policy sent steps back after a FAIL.
    LoopDecision = "loop_decision" => None,
    /// A trigger policy set another step to run.
    TriggerDecision = "trigger_decision" => None,
    /// A clarification was asked; blocking ones stop the run until answered.
    ClarificationRequested = "clarification_requested" => None,
    /// A clarification was answered.
    ClarificationAnswered = "clarification_answered" => None,
    /// A `protocol run` stopped short of completion with the protocol still `running` (after
    /// `--until`, at a budget, a question or an approval, or on an error): why, and the next
    /// command.
    RunStopped = "run_stopped" => None,
    /// State left by an interrupted run was committed.
    Recovered = "recovered" => None,
    /// A budget limit was crossed in warn mode.
    BudgetWarning = "budget_warning" => None,
    /// A budget limit refused a run in strict mode.
    BudgetExceeded = "budget_exceeded" => None,
    /// `fsck --repair` changed state files.
    Repaired = "repaired" => None,
    /// A pull/merge request was opened or updated for the protocol's branch (URL in metadata).
    PrOpened = "pr_opened" => None,
    /// A CI workflow/pipeline was started on the protocol's branch.
    CiTriggered = "ci_triggered" => None,
    /// Every CI check passed: QA may proceed.
    CiPassed = "ci_passed" => None,
    /// A CI check failed (named in the message); the step it concerns is blocked separately.
    CiFailed = "ci_failed" => None,
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_names_round_trip() {
        for kind in EventKind::ALL {
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), *kind);
        }
    }

    #[test]
    fn ids_differ_by_content_and_nonce() {
        let mk = |lamport, nonce| {
            Event::new(
                lamport,
                "t".into(),
                None,
                None,
                EventKind::ProjectInitialized,
                "m".into(),
                Default::default(),
                nonce,
            )
        };
        assert_eq!(mk(1, 1).id, mk(1, 1).id);
        assert_ne!(mk(1, 1).id, mk(2, 1).id);
        assert_ne!(mk(1, 1).id, mk(1, 2).id);
        let e = mk(3, 9);
        assert_eq!(serde_json::from_str::<Event>(&e.to_line()).unwrap(), e);
    }
}
