//! Pure domain types: names, statuses, transition tables, events and the fold of an event log.
//!
//! Nothing in here touches the file system, spawns a process or reads the clock; callers pass
//! those facts in. That is what lets the property tests run the state machines in microseconds.
#![deny(clippy::print_stdout, clippy::print_stderr)]
#![warn(clippy::wildcard_enum_match_arm)]

pub mod budget;
pub mod event;
pub mod fold;
pub mod name;
pub mod policy;
pub mod protocol;
pub mod spec;
pub mod step;

pub use event::{Event, EventKind};
pub use fold::{ProtocolState, RunStopped, StateBrief, StepState, StopFacts, fold, fold_next};
pub use name::{NameError, ProtocolId, StepId};
pub use protocol::{ProtocolEvent, ProtocolStatus};
pub use step::{StepEvent, StepStatus};

/// An event that the current state does not allow, named so callers can report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {kind} that is {from} cannot be {event}")]
pub struct TransitionError<S: std::fmt::Display, E: std::fmt::Display> {
    /// "protocol" or "step".
    pub kind: &'static str,
    /// The state the machine was in.
    pub from: S,
    /// The event that was refused.
    pub event: E,
}
