//! Application services, named as in the seed. Each decides; none prints; all persistence goes
//! through [`platform::storage`].
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod budget;
pub mod execution;
pub mod onboarding;
pub mod orchestrator;
pub mod platform;
pub mod prompts;
