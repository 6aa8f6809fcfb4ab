//! Platform services: infrastructure the application services stand on.

pub mod engines;
pub mod infra;
pub mod protocols;
pub mod queue;
pub mod storage;
pub mod telemetry;
pub mod worktrees;
