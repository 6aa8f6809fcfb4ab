//! The protocol state machine.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::TransitionError;

/// Where a protocol is in its life. Names are the seed's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolStatus {
    /// Created, not yet planned.
    Pending,
    /// An engine is planning it.
    Planning,
    /// Steps exist; nothing ran yet.
    Planned,
    /// Steps are being executed.
    Running,
    /// Stopped by a person; honoured before every engine run.
    Paused,
    /// Needs attention (failed planning, failed QA with no policy left, clarification...).
    Blocked,
    /// A step failed and no policy applies; can be retried.
    Failed,
    /// Abandoned. Terminal.
    Cancelled,
    /// Every step verified. Terminal, but for one move: a re-judgment (`qa --again`) that
    /// fails a step blocks it, since its steps are no longer all verified.
    Completed,
}

/// What can happen to a protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolEvent {
    /// Planning began.
    PlanningStarted,
    /// Planning produced a valid plan.
    PlanningSucceeded,
    /// Planning failed.
    PlanningFailed,
    /// The planning run's process died: the attempt is void.
    PlanningInterrupted,
    /// Execution began (or began again after a block or failure).
    Started,
    /// A person paused it.
    Paused,
    /// A person resumed it.
    Resumed,
    /// A person resumed it before it had steps: it has to be planned.
    ResumedUnplanned,
    /// Something needs attention.
    Blocked,
    /// A step failed for good.
    Failed,
    /// A person cancelled it.
    Cancelled,
    /// Every step passed.
    Completed,
}

impl ProtocolStatus {
    /// Every status, for tests and listings.
    pub const ALL: [Self; 9] = [
        Self::Pending,
        Self::Planning,
        Self::Planned,
        Self::Running,
        Self::Paused,
        Self::Blocked,
        Self::Failed,
        Self::Cancelled,
        Self::Completed,
    ];

    /// The transition table. Anything not listed is an error, never a silent no-op.
    pub fn apply(self, event: ProtocolEvent) -> Result<Self, TransitionError<Self, ProtocolEvent>> {
        use {ProtocolEvent as E, ProtocolStatus as S};
        match (self, event) {
            (S::Pending | S::Planned | S::Blocked, E::PlanningStarted) => Ok(S::Planning),
            (S::Planning, E::PlanningSucceeded) => Ok(S::Planned),
            (S::Planning, E::PlanningFailed) => Ok(S::Blocked),
            (S::Planning, E::PlanningInterrupted) => Ok(S::Pending),
            // A pause does not stop a planning run in flight; it records its end and the
            // protocol stays paused.
            (S::Paused, E::PlanningSucceeded | E::PlanningFailed) => Ok(S::Paused),
            (S::Planned | S::Blocked | S::Failed, E::Started) => Ok(S::Running),
            (S::Pending | S::Planning | S::Planned | S::Running | S::Blocked, E::Paused) => {
                Ok(S::Paused)
            }
            (S::Paused, E::Resumed) => Ok(S::Running),
            (S::Paused, E::ResumedUnplanned) => Ok(S::Pending),
            (S::Running | S::Completed, E::Blocked) => Ok(S::Blocked),
            (S::Running, E::Failed) => Ok(S::Failed),
            (S::Running, E::Completed) => Ok(S::Completed),
            (
                S::Pending
                | S::Planning
                | S::Planned
                | S::Running
                | S::Paused
                | S::Blocked
                | S::Failed,
                E::Cancelled,
            ) => Ok(S::Cancelled),
            (from, event) => Err(TransitionError {
                kind: "protocol",
                from,
                event,
            }),
        }
    }

    /// Whether no event can move it any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Cancelled | Self::Completed)
    }

    /// The name used in files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Planning => "planning",
            Self::Planned => "planned",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }
}

impl ProtocolEvent {
    /// Every event, for tests.
    pub const ALL: [Self; 12] = [
        Self::PlanningStarted,
        Self::PlanningSucceeded,
        Self::PlanningFailed,
        Self::PlanningInterrupted,
        Self::Started,
        Self::Paused,
        Self::Resumed,
        Self::ResumedUnplanned,
        Self::Blocked,
        Self::Failed,
        Self::Cancelled,
        Self::Completed,
    ];
}

impl fmt::Display for ProtocolStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ProtocolEvent {
    /// In words (`PlanningSucceeded` is "planning succeeded"), for messages people read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = format!("{self:?}");
        let mut words = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                words.push(' ');
            }
            words.extend(c.to_lowercase());
        }
        f.write_str(&words)
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;

    /// The legal moves, written out independently of `apply` as (from, event, to).
    fn legal() -> Vec<(ProtocolStatus, ProtocolEvent, ProtocolStatus)> {
        use {ProtocolEvent as E, ProtocolStatus as S};
        let mut v = vec![
            (S::Pending, E::PlanningStarted, S::Planning),
            (S::Planned, E::PlanningStarted, S::Planning),
            (S::Blocked, E::PlanningStarted, S::Planning),
            (S::Planning, E::PlanningSucceeded, S::Planned),
            (S::Planning, E::PlanningFailed, S::Blocked),
            (S::Planning, E::PlanningInterrupted, S::Pending),
            (S::Paused, E::PlanningSucceeded, S::Paused),
            (S::Paused, E::PlanningFailed, S::Paused),
            (S::Paused, E::ResumedUnplanned, S::Pending),
            (S::Planned, E::Started, S::Running),
            (S::Blocked, E::Started, S::Running),
            (S::Failed, E::Started, S::Running),
            (S::Paused, E::Resumed, S::Running),
            (S::Running, E::Blocked, S::Blocked),
            (S::Completed, E::Blocked, S::Blocked),
            (S::Running, E::Failed, S::Failed),
            (S::Running, E::Completed, S::Completed),
        ];
        for s in [S::Pending, S::Planning, S::Planned, S::Running, S::Blocked] {
            v.push((s, E::Paused, S::Paused));
        }
        for s in ProtocolStatus::ALL {
            if !s.is_terminal() {
                v.push((s, E::Cancelled, S::Cancelled));
            }
        }
        v
    }

    proptest! {
        #[test]
        fn table_accepts_exactly_the_legal_moves(
            from in select(ProtocolStatus::ALL.to_vec()),
            event in select(ProtocolEvent::ALL.to_vec()),
        ) {
            let expected = legal().into_iter().find(|(f, e, _)| *f == from && *e == event).map(|t| t.2);
            prop_assert_eq!(from.apply(event).ok(), expected);
        }

        #[test]
        fn terminal_states_absorb_every_event(events in proptest::collection::vec(select(ProtocolEvent::ALL.to_vec()), 0..64)) {
            let mut status = ProtocolStatus::Pending;
            for event in events {
                let before = status;
                status = status.apply(event).unwrap_or(status);
                // The one way out of a finished state: a failed re-judgment of a completed one.
                if before.is_terminal() && !(before == ProtocolStatus::Completed && event == ProtocolEvent::Blocked) {
                    prop_assert_eq!(status, before);
                }
            }
        }
    }
}
