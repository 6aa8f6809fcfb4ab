//! Engine adapters: one [`Engine`] trait, one adapter per agent CLI, and the runner that
//! enforces the headless contract for all of them.
//!
//! Contract (DESIGN.md §4): the prompt goes on stdin or in a file, never in argv or through a
//! shell; stdin is otherwise closed; a hard wall-clock timeout plus a stall watchdog; the
//! child in its own process group, killed with everything under it; environment cleared to an
//! allowlist plus the keys that engine needs; usage, cost, session id and errors parsed from
//! the engine's own output. Exit codes are never trusted alone.
//!
//! This module never touches godzilla's state files; `services::execution` records outcomes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The phase an engine runs for; decides sandbox / permission flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Planning a protocol (read-only).
    Planning,
    /// Refining a step (read-only).
    Decompose,
    /// Executing a step (writes in the worktree).
    Exec,
    /// Reviewing a step (read-only).
    Qa,
    /// Discovering the repository (read-only).
    Discovery,
}

impl Phase {
    /// Whether the engine may write files in this phase.
    pub fn writes(self) -> bool {
        matches!(self, Self::Exec)
    }

    /// The name used in config and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planning => "planning",
            Self::Decompose => "decompose",
            Self::Exec => "exec",
            Self::Qa => "qa",
            Self::Discovery => "discovery",
        }
    }
}

/// How a run ended. Every outcome is one of these; nothing else is "success".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// The engine finished and reported no error.
    Ok,
    /// The engine reported an error (API 5xx, tool failure, garbage output, crash).
    EngineError,
    /// Authentication failed (401/403, missing key).
    Auth,
    /// Quota or rate limit (429, quota exhausted).
    RateLimit,
    /// Hit the wall-clock timeout or the stall watchdog; the process group was killed.
    Timeout,
    /// The engine's executable was not found.
    NotInstalled,
}

/// Token usage of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input (prompt) tokens, including cached ones.
    pub input: u64,
    /// Input tokens served from cache.
    pub cached: u64,
    /// Output tokens.
    pub output: u64,
    /// Reasoning tokens (included in output by some engines; reported separately here).
    pub reasoning: u64,
}

impl Usage {
    /// input + output.
    pub fn total(&self) -> u64 {
        self.input + self.output
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct EngineRequest {
    /// What this run is for, e.g. `0001-add-login/02-impl/exec`: used in logs and by the
    /// replay engine to pick its transcript.
    pub label: String,
    /// The full prompt text (sent on stdin or in a file; never in argv).
    pub prompt: String,
    /// Working directory: the protocol's worktree.
    pub workdir: PathBuf,
    /// Model, if chosen.
    pub model: Option<String>,
    /// The phase.
    pub phase: Phase,
    /// JSON schema the final answer must follow, for engines that support one.
    pub output_schema: Option<serde_json::Value>,
    /// Hard wall-clock limit.
    pub timeout: Duration,
    /// Kill when the engine prints nothing for this long.
    pub stall_timeout: Duration,
    /// A private directory for this run: prompt/schema/last-message files, HOME if isolated.
    pub scratch_dir: PathBuf,
    /// Environment variables to pass through besides the allowlist (values from the caller).
    pub env: BTreeMap<String, String>,
}

/// What came back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineOutcome {
    /// How it ended.
    pub classification: Classification,
    /// The engine's final message.
    pub final_message: Option<String>,
    /// Structured output, when a schema was requested and the engine returned it.
    pub structured: Option<serde_json::Value>,
    /// Token usage.
    pub usage: Usage,
    /// Cost in USD when the engine reports it.
    pub cost_usd: Option<f64>,
    /// Session id, for resume.
    pub session_id: Option<String>,
    /// Error text parsed from the engine's output (scrubbed of secrets).
    pub error: Option<String>,
    /// Process exit code (`None` when killed).
    pub exit_code: Option<i32>,
    /// Wall time.
    pub duration_ms: u64,
    /// The argv that was run, scrubbed of secrets.
    pub argv: Vec<String>,
}
