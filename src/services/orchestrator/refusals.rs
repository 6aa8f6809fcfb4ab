//! The typed reasons a run refuses a `--engine`/`--model` value or refuses to complete a
//! protocol (it blocks with the reason instead).

use super::run::RUN_PHASES;
use crate::domain::StepId;
use crate::error_kind::{ErrorKind, HasKind};

/// A `--engine`/`--model` value [`PerPhase::parse`] refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PerPhaseError {
    /// `PHASE=NAME` names a phase a run does not have.
    #[error("unknown phase `{phase}` in `{value}` (phases: {RUN_PHASES})")]
    UnknownPhase {
        /// The phase typed.
        phase: String,
        /// The whole value.
        value: String,
    },
    /// The value names nothing.
    #[error("`{0}` names no engine or model")]
    Empty(String),
}

impl HasKind for PerPhaseError {
    fn kind(&self) -> ErrorKind {
        // A `--engine`/`--model` value as typed.
        match self {
            Self::UnknownPhase { .. } | Self::Empty(_) => ErrorKind::Usage,
        }
    }
}

/// Why a protocol whose steps are all done may not complete yet (it is blocked with this).
#[derive(Debug, thiserror::Error)]
pub enum Unverified {
    /// A step's manual approval covers an earlier attempt than its last.
    #[error("step {step}'s approval was for attempt {approved}, not its last attempt {last}")]
    StaleApproval {
        /// The step.
        step: StepId,
        /// The attempt approved (or a phrase when unknown).
        approved: String,
        /// Its last attempt (or a phrase when unfinished).
        last: String,
    },
    /// A step has no finished attempt.
    #[error("step {0} has no finished attempt")]
    NoAttempt(StepId),
    /// A step has no QA PASS.
    #[error("step {0} has no QA PASS")]
    NoPass(StepId),
    /// A step's PASS judged another attempt than its last.
    #[error("step {step}'s PASS judged attempt {judged}, not its last attempt {last}")]
    StalePass {
        /// The step.
        step: StepId,
        /// The attempt the PASS judged.
        judged: String,
        /// Its last attempt.
        last: String,
    },
    /// A step's last attempt has no commit.
    #[error("step {step}'s attempt {run} has no commit")]
    NoCommit {
        /// The step.
        step: StepId,
        /// The attempt.
        run: String,
    },
    /// A step's PASS is for another tree than its attempt's.
    #[error("step {0}'s PASS is for another tree than its attempt's")]
    OtherTree(StepId),
    /// Reading the attempt's commit or tree failed.
    #[error(transparent)]
    Git(#[from] crate::process::Error),
}
