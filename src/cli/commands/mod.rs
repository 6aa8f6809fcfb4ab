//! One module per command group; each is an `Args` struct and a `run` that calls one service.

pub mod allow;
pub mod ci;
pub mod clarify;
pub mod completions;
pub mod cost;
pub mod demo;
pub mod discover;
pub mod doctor;
pub mod events;
pub mod fsck;
pub mod gc;
pub mod import;
pub mod init;
pub mod notes;
pub mod pr;
pub mod prompts;
pub mod protocol;
pub mod qa;
pub mod report;
pub mod spec;
pub mod status;
pub mod step;
pub mod sync;
pub mod watch;
