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
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error_kind::{ErrorKind, HasKind};
use serde::{Deserialize, Serialize};

mod classify;
pub mod claude;
pub mod codex;
pub mod command;
pub mod gemini;
pub mod headless;
mod json;
pub mod opencode;
pub mod registry;
pub mod replay;
pub mod runner;
pub mod scrub;

pub use classify::{classify_known, classify_status, classify_text};
pub use headless::CliEngine;
pub(crate) use json::num;
pub use json::{extract_json, json_lines, strip_fences};
pub use registry::Registry;
pub use runner::{KillReason, RawRun, Stream};
pub use scrub::Scrubber;

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
    /// godzilla was asked to stop (SIGINT, SIGTERM or SIGHUP) and stopped the engine's
    /// process group: the attempt is void, not failed.
    Interrupted,
}

/// Token usage of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Input (prompt) tokens, including cached ones.
    pub input: u64,
    /// Input tokens served from cache.
    pub cached: u64,
    /// Output tokens, reasoning included (as the APIs bill them and codex reports them).
    pub output: u64,
    /// The reasoning (thinking) part of `output`.
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
    /// A lock file the engine's process tree holds while any of it lives; the next run with
    /// the same lock first ends whatever still holds it (see [`runner::claim_group_lock`]).
    pub group_lock: Option<PathBuf>,
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

impl EngineOutcome {
    /// An outcome with nothing parsed yet: classification `Ok`, exit code, duration and argv
    /// taken from the raw run. Adapters fill in the rest.
    pub fn from_raw(raw: &RawRun) -> Self {
        Self {
            classification: Classification::Ok,
            final_message: None,
            structured: None,
            usage: Usage::default(),
            cost_usd: None,
            session_id: None,
            error: None,
            exit_code: raw.exit_code,
            duration_ms: u64::try_from(raw.duration.as_millis()).unwrap_or(u64::MAX),
            argv: raw.argv.clone(),
        }
    }

    /// An outcome that failed before anything ran (engine missing, no transcript).
    pub fn failed(classification: Classification, error: impl Into<String>) -> Self {
        Self {
            error: Some(error.into()),
            classification,
            ..Self::from_raw(&RawRun::default())
        }
    }

    /// Marks the outcome failed with `classification` and `error`, unless it already failed.
    pub fn fail(&mut self, classification: Classification, error: impl Into<String>) {
        if self.classification == Classification::Ok {
            self.classification = classification;
        }
        if self.error.is_none() {
            self.error = Some(error.into());
        }
    }

    /// The same outcome with every string scrubbed.
    pub fn scrubbed(mut self, scrubber: &Scrubber) -> Self {
        self.final_message = self.final_message.map(|m| scrubber.scrub(&m));
        self.error = self.error.map(|m| scrubber.scrub(&m));
        self.session_id = self.session_id.map(|m| scrubber.scrub(&m));
        self.structured = self.structured.map(|v| scrubber.scrub_json(&v));
        self.argv = self.argv.iter().map(|a| scrubber.scrub(a)).collect();
        self
    }
}

/// Which adapter an engine uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// OpenAI Codex CLI.
    Codex,
    /// Claude Code.
    Claude,
    /// OpenCode.
    Opencode,
    /// Gemini CLI.
    Gemini,
    /// Any CLI, driven by an argv template.
    Command,
    /// Recorded transcripts (offline, deterministic).
    Replay,
}

impl EngineKind {
    /// Every kind, in display order.
    pub const ALL: [Self; 6] = [
        Self::Codex,
        Self::Claude,
        Self::Opencode,
        Self::Gemini,
        Self::Command,
        Self::Replay,
    ];

    /// The name used in config (`kind = "codex"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Codex => "codex",
            Self::Claude => "claude",
            Self::Opencode => "opencode",
            Self::Gemini => "gemini",
            Self::Command => "command",
            Self::Replay => "replay",
        }
    }

    /// Parses a config name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors of the engine layer. A run that happened and failed is not an error: it is an
/// [`EngineOutcome`] with a failing [`Classification`]. These are the cases where there is
/// nothing meaningful to record as a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No engine by that name is built in or configured.
    #[error("unknown engine `{name}` (known: {})", known.join(", "))]
    UnknownEngine {
        /// The requested name.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// A profile names an adapter kind that does not exist.
    #[error("engine `{name}` has unknown kind `{kind}`")]
    UnknownKind {
        /// Profile name.
        name: String,
        /// The kind given.
        kind: String,
    },
    /// A profile sets `base_url` for a CLI that must be told the model too.
    #[error("engine `{name}` sets `base_url` but no model")]
    NeedsModel {
        /// Profile name.
        name: String,
    },
    /// A profile that is not a built-in name sets neither `kind` nor `command`.
    #[error("engine `{name}` needs `kind` or `command`")]
    Incomplete {
        /// Profile name.
        name: String,
    },
    /// The engine's executable is not on PATH.
    #[error("engine `{name}`: `{program}` is not installed or not on PATH")]
    NotInstalled {
        /// Engine name.
        name: String,
        /// The executable looked for.
        program: String,
        /// How to fix it.
        hint: String,
    },
    /// A `command` engine's argv template cannot be filled.
    #[error("engine `{name}`: argument template `{arg}`: {reason}")]
    Template {
        /// Engine name.
        name: String,
        /// The offending template argument.
        arg: String,
        /// What is wrong.
        reason: String,
    },
    /// The request's working directory does not exist.
    #[error("working directory {} does not exist", path.display())]
    Workdir {
        /// The directory.
        path: PathBuf,
    },
    /// A scratch or output file could not be written or read.
    #[error("cannot access {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A replay transcript is malformed.
    #[error("replay transcript `{name}` is invalid")]
    Transcript {
        /// Transcript name (file name or embedded name).
        name: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A replay engine was asked a question nobody recorded an answer to.
    #[error("{label}: no recorded transcript for this prompt (phase {phase}, prompt {prompt})")]
    NotRecorded {
        /// What the run was for (`0001-x/02-y/exec`).
        label: String,
        /// The phase.
        phase: &'static str,
        /// The first 12 hex digits of the prompt's sha256.
        prompt: String,
    },
    /// A replay engine has no transcripts to answer from.
    #[error("engine `{name}` replays recorded transcripts but has no transcript directory")]
    NoTranscripts {
        /// Engine name.
        name: String,
    },
    /// A profile's `record` directory is relative: it would land in the worktree and be
    /// committed with the agent's changes.
    #[error("engine `{name}`: `record` must be an absolute directory")]
    RelativeRecord {
        /// Engine name.
        name: String,
    },
    /// A replay profile sets `command` (transcripts are given with `transcripts`).
    #[error("engine `{name}` is a replay engine and runs no command")]
    ReplayCommand {
        /// Engine name.
        name: String,
    },
    /// A path from an engine or a transcript would leave its root.
    #[error("path `{path}` is not a relative path inside the working tree")]
    UnsafePath {
        /// The path as given.
        path: String,
    },
    /// Starting or supervising the process failed.
    #[error(transparent)]
    Runner(#[from] runner::Error),
    /// Persisting replay state failed.
    #[error(transparent)]
    Fs(#[from] crate::fsio::Error),
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            // A profile or a replay set-up the user wrote is wrong.
            Self::UnknownEngine { .. }
            | Self::UnknownKind { .. }
            | Self::NeedsModel { .. }
            | Self::Incomplete { .. }
            | Self::Template { .. }
            | Self::Transcript { .. }
            | Self::NoTranscripts { .. }
            | Self::RelativeRecord { .. }
            | Self::ReplayCommand { .. } => ErrorKind::Usage,
            Self::NotInstalled { .. }
            | Self::Workdir { .. }
            | Self::Io { .. }
            | Self::NotRecorded { .. }
            | Self::UnsafePath { .. }
            | Self::Runner(_)
            | Self::Fs(_) => ErrorKind::Failed,
        }
    }
}

impl Error {
    /// A hint for the user, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotInstalled { hint, .. } => Some(hint.clone()),
            Self::UnknownEngine { .. } => {
                Some("define it under `[engines.NAME]` in .godzilla/config.toml".to_owned())
            }
            Self::NeedsModel { name } => Some(format!(
                "set `model` in `[engines.{name}]` (the name the server knows it by)"
            )),
            Self::NotRecorded { .. } => Some(
                "the recording was made for other prompts: a step file, the plan, the config or a \
                 prompt template changed since; run with a real engine (and `--record DIR`) for \
                 this one"
                    .to_owned(),
            ),
            Self::ReplayCommand { name } => Some(format!(
                "name its recordings with `transcripts = \"DIR\"` in `[engines.{name}]` instead \
                 of `command`"
            )),
            Self::NoTranscripts { name } => Some(format!(
                "set `transcripts = \"DIR\"` in `[engines.{name}]` to a directory recorded with \
                 `godzilla --record DIR ...`, or pass `--replay DIR`; `godzilla demo` replays its \
                 own recordings"
            )),
            Self::Incomplete { name } | Self::UnknownKind { name, .. } => Some(format!(
                "set `kind` to one of codex, claude, opencode, gemini, command, replay in \
                 `[engines.{name}]`"
            )),
            _ => None,
        }
    }

    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Why an engine will not authenticate, told without running it ([`Engine::credentials`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// None of the places the engine's CLI documents for a credential holds one.
    #[error("no credentials found: {fix}")]
    NotFound {
        /// The adapter kind.
        kind: EngineKind,
        /// How to give it one.
        fix: &'static str,
    },
}

/// The callback that receives every output line as it arrives (already scrubbed).
pub type OnLine<'a> = dyn FnMut(Stream, &str) + 'a;

/// One agent engine, whatever drives it. Object safe: the registry hands out
/// `Arc<dyn Engine>`, and service tests implement it in-process.
pub trait Engine: Send + Sync + std::fmt::Debug {
    /// The engine's name (`codex`, or a profile name from config).
    fn name(&self) -> &str;

    /// The adapter kind.
    fn kind(&self) -> EngineKind;

    /// The executable it runs (`None` for engines that run no process, like replay).
    fn program(&self) -> Option<&str>;

    /// The profile's default model, used when the request names none.
    fn default_model(&self) -> Option<&str> {
        None
    }

    /// The profile's wall-clock timeout, if it sets one.
    fn default_timeout(&self) -> Option<Duration> {
        None
    }

    /// [`Error::NotRecorded`] when this engine can only replay and has no answer recorded for
    /// `prompt`; engines that really run answer anything. Services call it before they record
    /// that a run started, so a refused replay leaves no trace.
    fn check_recorded(
        &self,
        _label: &str,
        _phase: Phase,
        _model: Option<&str>,
        _prompt: &str,
        _workdir: &Path,
    ) -> Result<(), Error> {
        Ok(())
    }

    /// Runs the request and returns the outcome plus the scrubbed transcript for the logs.
    /// `on_line` sees each output line live, scrubbed.
    fn execute(&self, req: &EngineRequest, on_line: &mut OnLine<'_>) -> Result<EngineRun, Error>;

    /// Runs the request and returns just the outcome.
    fn run(&self, req: &EngineRequest, on_line: &mut OnLine<'_>) -> Result<EngineOutcome, Error> {
        Ok(self.execute(req, on_line)?.outcome)
    }

    /// Checks the installation: path, version, whether the flags godzilla uses are accepted.
    fn probe(&self) -> ProbeReport;

    /// Why this engine will not authenticate, when that can be told without running it: no
    /// API key among the variables it is given, no login file where it keeps one, no custom
    /// provider in its profile. `Ok` when a credential was found or nothing can be checked.
    fn credentials(&self) -> Result<(), CredentialsError> {
        Ok(())
    }

    /// What the CLI's own login-status command says, for engines that have one (it runs the
    /// CLI: `doctor` only). `None` when there is no such command or it does not apply (the
    /// profile brings its own endpoint with `base_url`).
    fn login_status(&self) -> Option<LoginStatus> {
        None
    }

    /// The values of the variables this engine is given (besides the host's plain basics),
    /// which must never come back out of godzilla, whatever their names.
    fn given_values(&self) -> Vec<String> {
        Vec::new()
    }

    /// [`Error::NotInstalled`] (with a hint) when the executable cannot be found; engines
    /// that run no process are always installed.
    fn check_installed(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// A finished run: the outcome and its scrubbed transcript.
#[derive(Clone, Debug)]
pub struct EngineRun {
    /// The outcome (scrubbed).
    pub outcome: EngineOutcome,
    /// The output, scrubbed, for the machine-local log directory.
    pub transcript: Transcript,
}

/// An engine's output, scrubbed of secrets: safe to write to logs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Transcript {
    /// Standard output (the tail, when it was longer than the bound).
    pub stdout: String,
    /// Standard error (the tail).
    pub stderr: String,
    /// Whether either stream was cut.
    pub truncated: bool,
}

impl Transcript {
    /// The transcript of a raw run, scrubbed with `scrubber`.
    pub fn scrubbed(raw: &RawRun, scrubber: &Scrubber) -> Self {
        Self {
            stdout: scrubber.scrub_bytes(&raw.stdout),
            stderr: scrubber.scrub_bytes(&raw.stderr),
            truncated: raw.stdout_truncated || raw.stderr_truncated,
        }
    }
}

/// What `godzilla doctor` learns about one engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbeReport {
    /// Engine name.
    pub name: String,
    /// Adapter kind.
    pub kind: EngineKind,
    /// The resolved executable, when found.
    pub path: Option<PathBuf>,
    /// First line of `--version`, when it ran.
    pub version: Option<String>,
    /// Whether every non-interactive flag godzilla uses appears in the engine's `--help`;
    /// `None` when that could not be checked.
    pub flags_ok: Option<bool>,
    /// Flags that were not found in `--help`.
    pub missing_flags: Vec<String>,
    /// Anything else worth telling (scrubbed).
    pub notes: Vec<String>,
}

/// A CLI's own login-status command, as `doctor` runs it.
#[derive(Clone, Copy, Debug)]
pub struct LoginCheck {
    /// Arguments, e.g. `["login", "status"]`.
    pub args: &'static [&'static str],
    /// Reads its exit code and standard output: whether it is logged in, `None` when the
    /// answer cannot be read.
    pub read: fn(Option<i32>, &str) -> Option<bool>,
}

/// What an engine's login-status command said. Never its output, which can show part of a
/// key (`codex login status` prints `sk-abcde***23456`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoginStatus {
    /// The command that was run (`codex login status`).
    pub command: String,
    /// Whether it says it is logged in; `None` when it could not tell (see `note`).
    pub logged_in: Option<bool>,
    /// Whether an API key variable is given to the engine, which such commands may not count.
    pub key_given: bool,
    /// Why it could not tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What an adapter is given besides the request.
#[derive(Clone, Copy, Debug)]
pub struct BuildContext<'a> {
    /// The engine's name (for messages).
    pub name: &'a str,
    /// The effective model: the request's, else the profile's.
    pub model: Option<&'a str>,
    /// The profile's `args`: extra flags for built-in adapters, the template for `command`.
    pub extra_args: &'a [String],
}

/// Where a profile sends the engine's model requests, and with which key.
#[derive(Clone, Copy, Debug, Default)]
pub struct Endpoint<'a> {
    /// The engine's name (for messages).
    pub name: &'a str,
    /// The profile's `base_url`.
    pub base_url: Option<&'a str>,
    /// The profile's `api_key_env` and the key it holds on the host.
    pub api_key: Option<(&'a str, &'a str)>,
    /// The effective model.
    pub model: Option<&'a str>,
}

/// How to run one engine process, as an adapter builds it.
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    /// Arguments after the program.
    pub args: Vec<String>,
    /// Variables the adapter sets (fail-fast retries, no auto-update...).
    pub env: BTreeMap<String, String>,
    /// Bytes for stdin (the prompt); `None` gives a null stdin.
    pub stdin: Option<Vec<u8>>,
    /// Files to write before the run (prompt file, schema file), absolute paths inside the
    /// request's scratch directory.
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// Files to read back after the run into [`RawRun::collected`], by name.
    pub collect: Vec<(String, PathBuf)>,
    /// Working directory of the process.
    pub cwd: PathBuf,
}

/// A `--help` (or `--version`) call made by `doctor`, and the flags its output must mention.
#[derive(Clone, Debug)]
pub struct ProbeCheck {
    /// Arguments, e.g. `["exec", "--help"]`.
    pub args: Vec<&'static str>,
    /// Flags that must appear in the output.
    pub flags: Vec<&'static str>,
}

/// Per-CLI knowledge: how to build the argv and how to read the output. Pure apart from
/// nothing; [`CliEngine`] does the running.
pub trait Adapter: Send + Sync + std::fmt::Debug {
    /// The adapter kind.
    fn kind(&self) -> EngineKind;

    /// The executable when the profile does not set `command`.
    fn default_program(&self) -> &str;

    /// How to install it.
    fn install_hint(&self) -> &str;

    /// Environment variables this engine needs passed through from the host (API keys,
    /// config locations), besides the common allowlist.
    fn env_keys(&self) -> &[&'static str];

    /// Builds the invocation. The prompt must go to stdin or into a file, never into argv.
    fn build(&self, req: &EngineRequest, ctx: &BuildContext<'_>) -> Result<Invocation, Error>;

    /// Reads the raw output. Pure, so it is unit-tested on canned output. Timeouts, signals
    /// and scrubbing are applied by the caller.
    fn parse(&self, req: &EngineRequest, raw: &RawRun) -> EngineOutcome;

    /// Whether a line counts as progress for the stall watchdog.
    fn is_progress(&self, _stream: Stream, _line: &str) -> bool {
        true
    }

    /// Whether a line is one of the engine's notices of an endless retry loop (its server
    /// unreachable). The run is stopped at the second such line: the first may be a blip.
    fn is_retry_loop(&self, _stream: Stream, _line: &str) -> bool {
        false
    }

    /// A line by which the engine reports a failure that no retry of its own can cure (the
    /// server refused the credentials): its classification and the engine's message. The run
    /// is stopped at once instead of waiting out the engine's retries and backoff. Only the
    /// engine's own reports of a failed model call count, never an agent's output.
    fn fatal_line(&self, _stream: Stream, _line: &str) -> Option<(Classification, String)> {
        None
    }

    /// Whether the engine prints while it works. An engine that prints its whole answer at
    /// the end looks stalled for the entire run, so only the wall-clock timeout applies to it.
    fn streams_output(&self) -> bool {
        true
    }

    /// The `--help` checks `doctor` runs.
    fn probe_checks(&self) -> Vec<ProbeCheck>;

    /// Points the built invocation at the profile's endpoint and key, through the CLI's own
    /// mechanism (flags, variables, a generated config file in the scratch directory).
    fn endpoint(
        &self,
        _req: &EngineRequest,
        _endpoint: &Endpoint<'_>,
        _inv: &mut Invocation,
    ) -> Result<(), Error> {
        Ok(())
    }

    /// Variables that move this CLI's own state under an isolated `home`, besides `HOME` and
    /// the XDG directories.
    fn home_env(&self, _home: &Path) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The CLI's own command telling whether it is logged in, where it has one.
    fn login_check(&self) -> Option<LoginCheck> {
        None
    }
}

/// Writes a file an engine run consumes or produces (prompt, schema, replayed edits),
/// creating parent directories. Not godzilla state: no atomic write is needed, and callers
/// have already checked the path stays inside its root.
#[allow(
    clippy::disallowed_methods,
    reason = "engine inputs and engine work products, not persisted godzilla state"
)]
pub(crate) fn write_run_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Creates a directory an engine run uses (an isolated home). Not godzilla state.
#[allow(
    clippy::disallowed_methods,
    reason = "engine homes are the engine's own files, not persisted godzilla state"
)]
pub(crate) fn create_run_dir(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

/// Token usage reported by one live output line of an engine of `kind`, as an increment to
/// add to a running total, for progress display only (the recorded usage comes from
/// [`Adapter::parse`]). `None` when the line reports nothing.
pub fn line_usage(kind: EngineKind, line: &str) -> Option<Usage> {
    if kind == EngineKind::Command {
        let parse = command::CommandParse::default();
        let caps = parse.usage.captures(line)?;
        let raw = RawRun {
            stdout: caps[0].as_bytes().to_vec(),
            exit_code: Some(0),
            ..RawRun::default()
        };
        let req = EngineRequest {
            label: String::new(),
            prompt: String::new(),
            workdir: PathBuf::new(),
            model: None,
            phase: Phase::Exec,
            output_schema: None,
            timeout: Duration::ZERO,
            stall_timeout: Duration::ZERO,
            scratch_dir: PathBuf::new(),
            env: BTreeMap::new(),
            group_lock: None,
        };
        return Some(command::Command { parse }.parse(&req, &raw).usage);
    }
    let ev: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    match (kind, ev["type"].as_str()?) {
        (EngineKind::Codex, "turn.completed") => {
            let u = &ev["usage"];
            Some(Usage {
                input: num(&u["input_tokens"]),
                cached: num(&u["cached_input_tokens"]),
                output: num(&u["output_tokens"]),
                reasoning: num(&u["reasoning_output_tokens"]),
            })
        }
        // Claude repeats a message's usage on every content block; only the final result
        // is a reliable total (and the running total starts at zero).
        (EngineKind::Claude, "result") => {
            let u = &ev["usage"];
            let cache_read = num(&u["cache_read_input_tokens"]);
            Some(Usage {
                input: num(&u["input_tokens"])
                    + cache_read
                    + num(&u["cache_creation_input_tokens"]),
                cached: cache_read,
                output: num(&u["output_tokens"]),
                reasoning: num(&u["output_tokens_details"]["thinking_tokens"]),
            })
        }
        (EngineKind::Opencode, "step_finish") => {
            let t = &ev["part"]["tokens"];
            let read = num(&t["cache"]["read"]);
            Some(Usage {
                input: num(&t["input"]) + read + num(&t["cache"]["write"]),
                cached: read,
                output: num(&t["output"]) + num(&t["reasoning"]),
                reasoning: num(&t["reasoning"]),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_engines_line_usage() {
        let codex = r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":4,"output_tokens":3,"reasoning_output_tokens":1}}"#;
        assert_eq!(
            line_usage(EngineKind::Codex, codex),
            Some(Usage {
                input: 10,
                cached: 4,
                output: 3,
                reasoning: 1
            })
        );
        let opencode = r#"{"type":"step_finish","part":{"tokens":{"input":5,"output":2,"reasoning":0,"cache":{"read":1,"write":0}}}}"#;
        assert_eq!(line_usage(EngineKind::Opencode, opencode).unwrap().input, 6);
        assert_eq!(
            line_usage(EngineKind::Command, "Tokens: 2k sent, 10 received.")
                .unwrap()
                .input,
            2000
        );
        assert_eq!(
            line_usage(EngineKind::Claude, r#"{"type":"assistant"}"#),
            None
        );
        assert_eq!(line_usage(EngineKind::Gemini, "not json"), None);
    }

    #[test]
    fn test_engines_extract_json_and_classify_text() {
        assert_eq!(
            extract_json(" {\"a\":1} "),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            extract_json("Here:\n```json\n{\"a\":2}\n```\nbye"),
            Some(serde_json::json!({"a": 2}))
        );
        assert_eq!(extract_json("no json here"), None);
        assert_eq!(classify_text("HTTP 401 Unauthorized"), Classification::Auth);
        assert_eq!(
            classify_text("429 Too Many Requests"),
            Classification::RateLimit
        );
        assert_eq!(
            classify_text("You exceeded your current quota"),
            Classification::RateLimit
        );
        assert_eq!(
            classify_text("500 Internal Server Error"),
            Classification::EngineError
        );
        assert_eq!(classify_status(403), Classification::Auth);
    }
}

/// Request and raw-run builders shared by the adapters' parser tests.
#[cfg(test)]
pub(crate) mod testing;
