//! The execution service: runs one step through an engine in the protocol's worktree and
//! records exactly what happened.
//!
//! `build_execution_plan` decides engine, model, prompt and limits (nothing is run);
//! `execute_step` runs the plan: it writes the final message to `outputs/NN-slug.md` (never
//! over the step file), one immutable run record per attempt (`runs/<run-id>.json`), commits
//! the agent's changes with the state files (trailers `Godzilla-Protocol`, `Godzilla-Step`,
//! `Godzilla-Run`), attaches one JSON line to that commit in `refs/notes/godzilla`, and moves
//! the step to `needs_qa`, or to `failed` with the engine's classification. An engine error is
//! never turned into success.
//!
//! A file inside a commit cannot name that commit, so the run record names the commit the
//! attempt started from (`base_commit`); the commit names the run in its trailer and note.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::context::Context;
use crate::domain::{ProtocolId, ProtocolState, ProtocolStatus, StepId, StepStatus};
use crate::engines::{Classification, Engine, EngineOutcome, Phase, Usage};

use crate::services::platform::engines::{self as platform_engines, Choice, Engines, Source};
use crate::services::platform::protocols;
use crate::services::platform::storage::repo::{ProtocolRepository, StepRepository};
use crate::services::platform::storage::{self, RunLock, Store};
use crate::services::platform::telemetry;
use crate::services::prompts::{self, Role};

mod attempt;
use attempt::{Attempt, check_budget, check_engine, record_preconditions};
// The phase-run plumbing (request, guard, transcript) is shared with planning, QA, decomposition
// and onboarding, so it lives in the platform engines service.
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::engines::guard::{Begun, Protected};
pub use crate::services::platform::engines::{
    GuardedRun, PhaseRun, engine_lock_path, engines_for, phase_request, run_guarded,
    transcript_path, transcript_text,
};
use crate::services::platform::infra::{Infra, infra_from};

/// Errors from the execution service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// Finding the protocol failed.
    #[error(transparent)]
    Protocols(#[from] Box<protocols::Error>),
    /// The prompt could not be rendered.
    #[error(transparent)]
    Prompt(#[from] prompts::Error),
    /// No step by that id.
    #[error("protocol {protocol} has no step {step}")]
    NoStep {
        /// The protocol.
        protocol: ProtocolId,
        /// The step.
        step: StepId,
    },
    /// No engine could be selected.
    #[error(transparent)]
    Selection(#[from] platform_engines::Error),
    /// The engine's command comes from an untrusted config.
    #[error(transparent)]
    Untrusted(#[from] crate::services::trust::Untrusted),
    /// Another process is advancing the protocol.
    #[error("protocol {0} is being advanced by another godzilla process")]
    Busy(ProtocolId),
    /// The protocol's state does not allow running a step.
    #[error("protocol {protocol} is {status}; {why}")]
    ProtocolState {
        /// The protocol.
        protocol: ProtocolId,
        /// Its status.
        status: ProtocolStatus,
        /// What that means here.
        why: &'static str,
    },
    /// The step's state does not allow a new attempt.
    #[error("step {step} is {status}; {why}")]
    StepState {
        /// The step.
        step: StepId,
        /// Its status.
        status: StepStatus,
        /// What to do.
        why: &'static str,
    },
    /// The budget refuses the run (strict mode).
    #[error("budget exceeded: {0}")]
    Budget(String),
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::Protocols(e) => e.kind(),
            Self::Prompt(e) => e.kind(),
            Self::Selection(e) => e.kind(),
            Self::Untrusted(e) => e.kind(),
            Self::NoStep { .. } | Self::StepState { .. } => ErrorKind::Usage,
            Self::Busy(_) => ErrorKind::Failed,
            // A paused protocol is an outcome the user chose, not a mistake in the request.
            Self::ProtocolState {
                status: ProtocolStatus::Paused,
                ..
            } => ErrorKind::Negative,
            Self::ProtocolState { .. } => ErrorKind::Usage,
            Self::Budget(_) => ErrorKind::Negative,
        }
    }
}

impl From<protocols::Error> for Error {
    fn from(e: protocols::Error) -> Self {
        Self::Protocols(Box::new(e))
    }
}

/// What the caller asks for; each field overrides everything below it.
#[derive(Clone, Debug, Default)]
pub struct StepRunOptions {
    /// `--engine`.
    pub engine: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// Findings of a rejected previous attempt, added to the prompt.
    pub feedback: Option<String>,
    /// A note record (commit, record) to add with the attempt's own note, in the same notes
    /// commit: a protocol run's verdict on the step before (see `QaOptions::carry_note`).
    pub carry_note: Option<(String, String)>,
}

/// What would run, decided but not run.
#[derive(Clone, Debug, Serialize)]
pub struct ExecutionPlan {
    /// Protocol.
    pub protocol: ProtocolId,
    /// Step.
    pub step: StepId,
    /// Attempt number this run would be.
    pub attempt: u32,
    /// Engine name.
    pub engine: String,
    /// Where the engine choice came from.
    pub engine_source: Source,
    /// Model, if any (`None`: the engine's own default).
    pub model: Option<String>,
    /// Prompt template role.
    pub prompt_role: Role,
    /// Template source (`builtin` or the override's path).
    pub prompt_source: prompts::PromptSource,
    /// Template fingerprint.
    pub prompt_version: String,
    /// Fingerprint of the rendered prompt.
    pub prompt_sha: String,
    /// The rendered prompt.
    #[serde(skip)]
    pub prompt: String,
    /// Estimated prompt tokens.
    pub estimated_tokens: u64,
    /// Wall-clock limit, seconds.
    pub timeout_secs: u64,
    /// Stall limit, seconds.
    pub stall_timeout_secs: u64,
    /// Working directory (the protocol's worktree).
    pub workdir: PathBuf,
}

/// The result of one attempt.
#[derive(Clone, Debug, Serialize)]
pub struct ExecutionResult {
    /// Run id.
    pub run_id: String,
    /// The plan that ran.
    pub plan: ExecutionPlan,
    /// What the engine did.
    pub outcome: EngineOutcome,
    /// The step's status afterwards.
    pub step_status: StepStatus,
    /// The commit holding the attempt.
    pub commit: String,
    /// `outputs/NN-slug.md`, relative to the worktree, when a final message was written.
    pub output: Option<String>,
    /// `runs/<run-id>.json`, relative to the worktree.
    pub record: String,
    /// The scrubbed transcript in the machine-local log directory.
    pub transcript: PathBuf,
}

/// `runs/<run-id>.json`.
#[derive(Clone, Debug, Serialize)]
struct RunRecord<'a> {
    format: u32,
    run_id: &'a str,
    protocol: &'a ProtocolId,
    step: &'a StepId,
    attempt: u32,
    phase: &'static str,
    engine: &'a str,
    engine_version: Option<String>,
    model: Option<&'a str>,
    prompt: serde_json::Value,
    argv: &'a [String],
    usage: Usage,
    cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_source: Option<telemetry::prices::CostSource>,
    started: &'a str,
    finished: String,
    duration_ms: u64,
    classification: Classification,
    error: Option<&'a str>,
    session_id: Option<&'a str>,
    exit_code: Option<i32>,
    base_commit: Option<&'a str>,
    output: Option<&'a str>,
    /// The scrubbed transcript, relative to the machine-local directory.
    transcript: &'a str,
    /// [`Config::digest`] of the config the run used.
    config_sha256: String,
}

/// Live progress of a run, for spinners.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Lines seen so far.
    pub lines: u64,
    /// Tokens seen in the stream so far (best effort; the final count comes from the result).
    pub tokens: u64,
    /// The latest transcript entry, in one line (`says: …`, `runs `cargo test``).
    pub latest: Option<String>,
}

/// Decides how a step would run: engine, model, prompt, limits. Runs nothing.
pub fn build_execution_plan(
    store: &Store,
    config: &Config,
    engines: &Engines,
    state: &ProtocolState,
    step: &StepId,
    opts: &StepRunOptions,
) -> Result<(ExecutionPlan, Arc<dyn Engine>), Error> {
    let protocol = &state.protocol;
    let step_state = state.step(step).ok_or_else(|| Error::NoStep {
        protocol: protocol.clone(),
        step: step.clone(),
    })?;
    let step_spec = crate::services::spec::get_step_spec(store, protocol, step)
        .ok()
        .flatten();
    let selection = engines.select(
        Phase::Exec,
        &Choice {
            flag_engine: opts.engine.as_deref(),
            flag_model: opts.model.as_deref(),
            step_engine: step_spec.as_ref().and_then(|s| s.engine.as_deref()),
            step_model: step_spec.as_ref().and_then(|s| s.model.as_deref()),
        },
    )?;
    let engine = selection.engine;

    let header = ProtocolRepository::load_header(store, protocol)?;
    let step_text = storage::read_text(&StepRepository::step_path(store, protocol, step))?;
    let plan_text = storage::read_optional(&ProtocolRepository::plan_path(store, protocol))?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let template = prompts::resolve_prompt(store, Role::Exec)?;
    let vars = serde_json::json!({
        "protocol": {"id": protocol, "description": header.description},
        "plan": plan_text,
        "step": {"id": step, "text": step_text},
        "guidelines": crate::services::policy::load(store).map(|p| p.guidelines).unwrap_or_default(),
        "feedback": opts.feedback.clone().unwrap_or_default(),
        "diff": "",
        "checks": [],
        "repo": "",
    });
    let prompt = template.render(&vars)?;
    let timeout = opts
        .timeout
        .or(step_spec
            .as_ref()
            .and_then(|s| s.timeout_secs)
            .map(Duration::from_secs))
        .or(selection.timeout)
        .unwrap_or(Duration::from_secs(config.execution.timeout_secs));
    Ok((
        ExecutionPlan {
            protocol: protocol.clone(),
            step: step.clone(),
            attempt: step_state.attempts + 1,
            engine: engine.name().to_owned(),
            engine_source: selection.source,
            model: selection.model,
            prompt_role: Role::Exec,
            prompt_source: template.source.clone(),
            prompt_version: template.version_hash.clone(),
            prompt_sha: prompts::fingerprint(&prompt),
            estimated_tokens: crate::domain::budget::estimate_tokens(&prompt),
            prompt,
            timeout_secs: timeout.as_secs(),
            stall_timeout_secs: config
                .execution
                .stall_timeout_secs
                .min(timeout.as_secs().max(1)),
            workdir: store.root().to_path_buf(),
        },
        engine,
    ))
}

/// Everything a plan needs: the protocol's store, config, registry and state.
pub struct Loaded {
    /// The protocol's worktree store.
    pub store: Store,
    /// Its config.
    pub config: Config,
    /// Engines.
    pub engines: Engines,
    /// Its state.
    pub state: ProtocolState,
}

/// Finds a protocol and loads what a plan needs.
pub fn load(ctx: &Context, protocol: &ProtocolId) -> Result<Loaded, Error> {
    let store = protocols::locate(ctx, protocol)?;
    load_at(ctx, store, protocol)
}

/// Loads what a plan needs from a protocol's known worktree (a run locates it once).
pub fn load_at(ctx: &Context, store: Store, protocol: &ProtocolId) -> Result<Loaded, Error> {
    store.check_format()?;
    let config = store.load_config()?;
    let engines = engines_for(ctx, &store, &config)?;
    let state = ProtocolRepository::load_state(&store, protocol)?.state;
    Ok(Loaded {
        store,
        config,
        engines,
        state,
    })
}

/// Takes a protocol's run lock (see [`RunLock`]), refusing when another process holds it.
pub fn try_lock_protocol_run(store: &Store, protocol: &ProtocolId) -> Result<RunLock, Error> {
    // A short wait before refusing: a child forked by a godzilla killed a moment ago holds
    // the lock until its exec closes it.
    for _ in 0..20 {
        if let Some(lock) = store.try_lock_run(protocol)? {
            return Ok(lock);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    store
        .try_lock_run(protocol)?
        .ok_or_else(|| Error::Busy(protocol.clone()))
}

pub use crate::services::platform::storage::run_lock_path;

/// Runs one attempt of `step`, under the protocol's run lock.
pub fn execute_step(
    ctx: &Context,
    loaded: &Loaded,
    lock: &RunLock,
    step: &StepId,
    opts: &StepRunOptions,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<ExecutionResult, Error> {
    let Loaded {
        store,
        config,
        engines,
        state,
    } = loaded;
    debug_assert_eq!(
        lock.protocol(),
        &state.protocol,
        "the run lock of another protocol"
    );
    // The guard reads the protected files while the attempt is planned and records its start
    // (a refusal drops it: its pending ledger goes, nothing else was written).
    let guard = Protected::begin(ctx, store)?;
    crate::engines::runner::prepare_watchdog();
    let (plan, engine) = build_execution_plan(store, config, engines, state, step, opts)?;
    check_engine(ctx, store, config, &plan, engine.as_ref())?;
    // Every refusal comes before the first write: a refused run leaves no trace.
    record_preconditions(ctx, loaded, step)?;
    check_budget(ctx, loaded, step, &plan)?;
    let attempt = Attempt::start(ctx, loaded, step, plan, engine)?;
    let (outcome, transcript, settled) = attempt.run_engine(guard, on_progress)?;
    let files = attempt.write_files(&outcome, transcript.as_ref(), settled)?;
    let (after, stopped, recorded) = attempt.record_outcome(&outcome, &files)?;
    crate::fault::point("execution.after_engine");
    let commit = attempt.commit(&outcome, stopped, opts.carry_note.as_ref(), recorded)?;
    let step_status = after.step(step).map_or(StepStatus::Failed, |s| s.status);
    attempt.report_finished(&outcome, step_status, settled);
    Ok(ExecutionResult {
        run_id: attempt.run_id,
        plan: attempt.plan,
        outcome,
        step_status,
        commit,
        output: files.output,
        record: store.display(&files.record).into_owned(),
        transcript: files.log_path,
    })
}

/// The engine's version, from `--version` once per executable (cached by path and mtime in
/// the machine-local directory: running it on every step would cost a process start).
pub fn engine_version(store: &Store, engine: &dyn Engine) -> Option<String> {
    let Some(program) = engine.program() else {
        return Some(format!("{} (built in)", engine.kind().as_str()));
    };
    let path = which::which(program).ok()?;
    let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    let stamp = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let key = format!("{}@{stamp}", path.display());
    let cache_path = store.local_dir().join("cache").join("engine-versions.json");
    let mut cache: BTreeMap<String, String> = storage::read_optional(&cache_path)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let Some(v) = cache.get(&key) {
        return Some(v.clone());
    }
    let version = engine.probe().version?;
    cache.insert(key, version.clone());
    // A cache write that fails only costs a probe next time.
    let _ignored =
        storage::write_atomic(&cache_path, &serde_json::to_vec(&cache).unwrap_or_default());
    Some(version)
}

/// The first `# heading` of a step file, else its id.
pub fn step_title(text: &str, step: &StepId) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("# ").map(str::trim))
        .filter(|t| !t.is_empty())
        .map_or_else(|| step.to_string(), |t| t.chars().take(72).collect())
}

/// Best-effort token count from a streamed line: engines print usage in their final events.
fn sniff_tokens(line: &str) -> Option<u64> {
    if !line.contains("tokens") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let mut total = 0;
    collect_tokens(&value, &mut total);
    (total > 0).then_some(total)
}

fn collect_tokens(value: &serde_json::Value, total: &mut u64) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if matches!(k.as_str(), "input_tokens" | "output_tokens") {
                    *total += v.as_u64().unwrap_or(0);
                } else {
                    collect_tokens(v, total);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_tokens(v, total)),
        _ => {}
    }
}

/// One attempt, as `step show` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct AttemptSummary {
    /// Run id.
    pub run_id: String,
    /// Attempt number.
    pub attempt: u64,
    /// Engine.
    pub engine: String,
    /// Model.
    pub model: Option<String>,
    /// Classification.
    pub classification: String,
    /// Token usage.
    pub usage: serde_json::Value,
    /// Cost in USD.
    pub cost_usd: Option<f64>,
    /// Wall time.
    pub duration_ms: u64,
    /// The commit holding the attempt, found by its `Godzilla-Run` trailer.
    pub commit: Option<String>,
    /// Error, if it failed.
    pub error: Option<String>,
}

/// What `step show` reports.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    /// Protocol.
    pub protocol: ProtocolId,
    /// Step.
    pub step: StepId,
    /// Current status.
    pub status: StepStatus,
    /// Attempts started.
    pub attempts: u32,
    /// Every recorded run, oldest first.
    pub runs: Vec<AttemptSummary>,
    /// The last final message (`outputs/NN-slug.md`).
    pub output: Option<String>,
}

/// Reads a step's state, run records, commits and output.
pub fn show_step(ctx: &Context, protocol: &ProtocolId, step: &StepId) -> Result<StepReport, Error> {
    let source = crate::services::inspect::open(ctx, protocol)?;
    let store = source.store.clone();
    let state = ProtocolRepository::load_state(&store, protocol)?.state;
    let step_state = state.step(step).ok_or_else(|| Error::NoStep {
        protocol: protocol.clone(),
        step: step.clone(),
    })?;
    let git = source.git.clone();
    let log = git.run(&[
        "log",
        "--format=%H %(trailers:key=Godzilla-Run,valueonly,separator=%x2C)",
        &source.rev,
        "--",
    ])?;
    let commits: BTreeMap<String, String> = log
        .lines()
        .filter_map(|l| {
            let (hash, runs) = l.split_once(' ')?;
            Some(
                runs.split(',')
                    .filter(|r| !r.is_empty())
                    .map(|r| (r.trim().to_owned(), hash.to_owned()))
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect();
    let runs_dir = store.protocol_dir(protocol).join("runs");
    let mut runs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&runs_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(bytes) = storage::read_optional(&path)? else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                ctx.reporter
                    .warn(&format!("{}: not a valid run record", store.display(&path)));
                continue;
            };
            if v["step"].as_str() != Some(step.as_str()) {
                continue;
            }
            let run_id = v["run_id"].as_str().unwrap_or_default().to_owned();
            runs.push(AttemptSummary {
                commit: commits.get(&run_id).cloned(),
                attempt: v["attempt"].as_u64().unwrap_or(0),
                engine: v["engine"].as_str().unwrap_or_default().to_owned(),
                model: v["model"].as_str().map(str::to_owned),
                classification: v["classification"].as_str().unwrap_or_default().to_owned(),
                usage: v["usage"].clone(),
                cost_usd: v["cost_usd"].as_f64(),
                duration_ms: v["duration_ms"].as_u64().unwrap_or(0),
                error: v["error"].as_str().map(str::to_owned),
                run_id,
            });
        }
    }
    runs.sort_by_key(|r| r.attempt);
    let output = storage::read_optional(&ProtocolRepository::output_path(&store, protocol, step))?
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    Ok(StepReport {
        protocol: protocol.clone(),
        step: step.clone(),
        status: step_state.status,
        attempts: step_state.attempts,
        runs,
        output,
    })
}
