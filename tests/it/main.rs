//! The one integration-test binary (one binary keeps link time down on 2-core CI).
// Tests spawn processes and read the environment directly; the bans are for library code.
#![allow(clippy::disallowed_methods)]

#[path = "../support/mod.rs"]
mod support;

mod mock_llm;
mod test_cli;
mod test_code_shape;
mod test_contain;
mod test_control;
mod test_crash;
mod test_decompose;
mod test_demo;
mod test_discover;
mod test_engines;
mod test_events;
mod test_forge;
mod test_fsck;
mod test_gc;
mod test_import;
mod test_init;
mod test_layers;
mod test_notes;
mod test_observe;
mod test_plan;
mod test_policy;
mod test_queue;
mod test_real_engines;
mod test_real_protocol;
mod test_replay;
mod test_report;
mod test_run;
mod test_snapshots;
mod test_spec;
mod test_status;
mod test_step;
mod test_sync;
mod test_verdicts;
mod test_watch;
mod test_worktrees;
