//! The step state machine.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::TransitionError;

/// Where a step is in its life. Names are the seed's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Waiting to run.
    Pending,
    /// An engine is working on it.
    Running,
    /// The engine finished; the result waits for QA.
    NeedsQa,
    /// QA passed (or was skipped by policy, or a person approved it).
    Completed,
    /// The engine or QA failed.
    Failed,
    /// Abandoned with its protocol. Terminal.
    Cancelled,
    /// Needs attention before it can go on.
    Blocked,
}

/// What can happen to a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepEvent {
    /// An attempt began.
    Started,
    /// The engine run ended well.
    ExecutionSucceeded,
    /// The engine run ended badly.
    ExecutionFailed,
    /// QA gave PASS for the current tree.
    QaPassed,
    /// QA gave FAIL.
    QaFailed,
    /// QA policy is `skip`.
    QaSkipped,
    /// Something needs attention (clarification, QA error, policy).
    Blocked,
    /// A person or a policy asks for another attempt.
    Retried,
    /// A loop policy sends a finished step back to be done again.
    Reopened,
    /// The process running the attempt died; the attempt is void.
    Interrupted,
    /// A person approved the step by hand.
    Approved,
    /// Its protocol was cancelled.
    Cancelled,
}

impl StepStatus {
    /// Every status, for tests and listings.
    pub const ALL: [Self; 7] = [
        Self::Pending,
        Self::Running,
        Self::NeedsQa,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::Blocked,
    ];

    /// The transition table. Anything not listed is an error, never a silent no-op.
    pub fn apply(self, event: StepEvent) -> Result<Self, TransitionError<Self, StepEvent>> {
        use {StepEvent as E, StepStatus as S};
        match (self, event) {
            (S::Pending, E::Started) => Ok(S::Running),
            (S::Running, E::ExecutionSucceeded) => Ok(S::NeedsQa),
            (S::Running, E::ExecutionFailed) => Ok(S::Failed),
            (S::Running, E::Interrupted) => Ok(S::Pending),
            (S::NeedsQa, E::QaPassed | E::QaSkipped) => Ok(S::Completed),
            (S::NeedsQa, E::QaFailed) => Ok(S::Failed),
            // `qa --again`: a new verdict for the attempt that completed.
            (S::Completed, E::QaPassed) => Ok(S::Completed),
            (S::Completed, E::QaFailed) => Ok(S::Failed),
            (S::Pending | S::Running | S::NeedsQa | S::Completed, E::Blocked) => Ok(S::Blocked),
            (S::Failed | S::Blocked, E::Retried) => Ok(S::Pending),
            (S::Completed | S::Failed | S::NeedsQa | S::Blocked, E::Reopened) => Ok(S::Pending),
            (S::NeedsQa | S::Failed | S::Blocked, E::Approved) => Ok(S::Completed),
            (S::Pending | S::Running | S::NeedsQa | S::Failed | S::Blocked, E::Cancelled) => {
                Ok(S::Cancelled)
            }
            (from, event) => Err(TransitionError {
                kind: "step",
                from,
                event,
            }),
        }
    }

    /// Whether no event can move it any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Cancelled)
    }

    /// The name used in files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::NeedsQa => "needs_qa",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Blocked => "blocked",
        }
    }
}

impl StepEvent {
    /// Every event, for tests.
    pub const ALL: [Self; 12] = [
        Self::Started,
        Self::ExecutionSucceeded,
        Self::ExecutionFailed,
        Self::QaPassed,
        Self::QaFailed,
        Self::QaSkipped,
        Self::Blocked,
        Self::Retried,
        Self::Reopened,
        Self::Interrupted,
        Self::Approved,
        Self::Cancelled,
    ];
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for StepEvent {
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

    /// The legal moves, written out independently of `apply`.
    fn legal() -> Vec<(StepStatus, StepEvent, StepStatus)> {
        use {StepEvent as E, StepStatus as S};
        let mut v = vec![
            (S::Pending, E::Started, S::Running),
            (S::Running, E::ExecutionSucceeded, S::NeedsQa),
            (S::Running, E::ExecutionFailed, S::Failed),
            (S::Running, E::Interrupted, S::Pending),
            (S::NeedsQa, E::QaPassed, S::Completed),
            (S::NeedsQa, E::QaSkipped, S::Completed),
            (S::NeedsQa, E::QaFailed, S::Failed),
            (S::Pending, E::Blocked, S::Blocked),
            (S::Running, E::Blocked, S::Blocked),
            (S::NeedsQa, E::Blocked, S::Blocked),
            // `qa --again` on a completed step.
            (S::Completed, E::QaPassed, S::Completed),
            (S::Completed, E::QaFailed, S::Failed),
            (S::Completed, E::Blocked, S::Blocked),
            (S::Failed, E::Retried, S::Pending),
            (S::Blocked, E::Retried, S::Pending),
        ];
        for s in [S::Completed, S::Failed, S::NeedsQa, S::Blocked] {
            v.push((s, E::Reopened, S::Pending));
        }
        for s in [S::NeedsQa, S::Failed, S::Blocked] {
            v.push((s, E::Approved, S::Completed));
        }
        for s in [S::Pending, S::Running, S::NeedsQa, S::Failed, S::Blocked] {
            v.push((s, E::Cancelled, S::Cancelled));
        }
        v
    }

    proptest! {
        #[test]
        fn table_accepts_exactly_the_legal_moves(
            from in select(StepStatus::ALL.to_vec()),
            event in select(StepEvent::ALL.to_vec()),
        ) {
            let expected = legal().into_iter().find(|(f, e, _)| *f == from && *e == event).map(|t| t.2);
            prop_assert_eq!(from.apply(event).ok(), expected);
        }

        #[test]
        fn completed_only_through_qa_or_approval(events in proptest::collection::vec(select(StepEvent::ALL.to_vec()), 0..64)) {
            let mut status = StepStatus::Pending;
            for event in events {
                let before = status;
                status = status.apply(event).unwrap_or(status);
                if before.is_terminal() {
                    prop_assert_eq!(status, before);
                }
                if status == StepStatus::Completed && before != StepStatus::Completed {
                    prop_assert!(matches!(event, StepEvent::QaPassed | StepEvent::QaSkipped | StepEvent::Approved));
                }
            }
        }
    }
}
