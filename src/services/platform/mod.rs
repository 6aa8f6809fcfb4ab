//! Platform services: infrastructure the application services stand on.

pub mod engines;
pub mod storage;
pub mod telemetry;
