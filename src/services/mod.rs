//! Application services, named as in the seed. Each decides; none prints; all persistence goes
//! through [`platform::storage`].
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod budget;
pub mod ci;
pub mod clarifications;
pub mod codemachine;
pub mod cost;
pub mod decomposition;
pub mod demo;
pub mod execution;
pub mod feed;
pub mod forge;
pub mod gc;
pub mod import;
pub mod inspect;
pub mod lease;
pub mod login_check;
pub mod onboarding;
pub mod orchestrator;
pub mod planning;
pub mod platform;
pub mod policy;
pub mod prompts;
pub mod quality;
pub mod report;
pub mod show;
pub mod spec;
pub mod speckit;
pub mod sync;
pub mod trust;
pub mod watch;
pub mod worker;
