//! The decomposition service's errors, each with the kind of failure it is.

use crate::domain::{ProtocolId, ProtocolStatus, StepId, StepStatus};
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::execution;
use crate::services::platform::engines as platform_engines;
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::protocols;
use crate::services::prompts;
use crate::services::spec;

/// Errors from decomposition.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// Finding or loading the protocol failed.
    #[error(transparent)]
    Execution(#[from] Box<execution::Error>),
    /// Finding the protocol failed.
    #[error(transparent)]
    Protocols(#[from] Box<protocols::Error>),
    /// No engine could be selected for the decompose phase.
    #[error(transparent)]
    Selection(#[from] platform_engines::Error),
    /// The prompt could not be rendered.
    #[error(transparent)]
    Prompt(#[from] prompts::Error),
    /// The spec service failed, or the spec is invalid before anything was changed.
    #[error(transparent)]
    Spec(#[from] spec::Error),
    /// No step by that id.
    #[error("protocol {protocol} has no step {step}")]
    NoStep {
        /// The protocol.
        protocol: ProtocolId,
        /// The step.
        step: StepId,
    },
    /// The protocol has no steps to decompose.
    #[error("protocol {0} has no steps yet")]
    NoSteps(ProtocolId),
    /// The protocol's state does not allow changing its steps.
    #[error("protocol {protocol} is {status}; {why}")]
    ProtocolState {
        /// The protocol.
        protocol: ProtocolId,
        /// Its status.
        status: ProtocolStatus,
        /// What that means here.
        why: &'static str,
    },
    /// The step already started: its instructions are part of a recorded attempt.
    #[error("step {step} is {status}; only pending steps are decomposed")]
    StepState {
        /// The step.
        step: StepId,
        /// Its status.
        status: StepStatus,
    },
    /// The budget refused the run (strict mode).
    #[error("budget exceeded: {0}")]
    Budget(String),
    /// The engine failed; the step is unchanged.
    #[error("decomposing step {step} failed: {reason}")]
    EngineFailed {
        /// The step.
        step: StepId,
        /// Why.
        reason: String,
    },
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::Execution(e) => e.kind(),
            Self::Protocols(e) => e.kind(),
            Self::Selection(e) => e.kind(),
            Self::Prompt(e) => e.kind(),
            Self::Spec(e) => e.kind(),
            Self::NoStep { .. } | Self::NoSteps(_) | Self::StepState { .. } => ErrorKind::Usage,
            // A paused protocol is an outcome the user chose, not a mistake in the request.
            Self::ProtocolState {
                status: ProtocolStatus::Paused,
                ..
            } => ErrorKind::Negative,
            Self::ProtocolState { .. } => ErrorKind::Usage,
            Self::Budget(_) => ErrorKind::Negative,
            Self::EngineFailed { .. } => ErrorKind::Failed,
        }
    }
}

impl From<execution::Error> for Error {
    fn from(e: execution::Error) -> Self {
        Self::Execution(Box::new(e))
    }
}
