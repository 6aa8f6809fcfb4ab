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
use sha2::{Digest as _, Sha256};

use crate::config::Config;
use crate::context::Context;
use crate::domain::budget::BudgetDecision;
use crate::domain::{EventKind, ProtocolId, ProtocolState, ProtocolStatus, StepId, StepStatus};
use crate::engines::registry::RegistryOptions;
use crate::engines::{
    self, Classification, Engine, EngineOutcome, EngineRequest, Phase, Stream, Usage,
};
use crate::git::Git;
use crate::git::notes::{self, Notes};
use crate::services::budget::{self, PlannedRun};
use crate::services::orchestrator;
use crate::services::platform::engines::{
    self as platform_engines, Choice, Engines, Selection, Source,
};
use crate::services::platform::storage::repo::{ProtocolRepository, StepRepository};
use crate::services::platform::storage::{self, RunLock, Store};
use crate::services::platform::telemetry::{self, transcript};
use crate::services::prompts::{self, Role};

mod guard;
pub(crate) use guard::Protected;

/// Errors from the execution service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// Finding the protocol failed.
    #[error(transparent)]
    Orchestrator(#[from] Box<orchestrator::Error>),
    /// The engine could not be resolved or started.
    #[error(transparent)]
    Engine(#[from] engines::Error),
    /// The prompt could not be rendered.
    #[error(transparent)]
    Prompt(#[from] prompts::Error),
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] crate::process::Error),
    /// Writing the note failed.
    #[error(transparent)]
    Notes(#[from] notes::Error),
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
        status: String,
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

impl From<orchestrator::Error> for Error {
    fn from(e: orchestrator::Error) -> Self {
        Self::Orchestrator(Box::new(e))
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

/// Builds the engines service for a worktree's configuration.
pub fn engines_for(ctx: &Context, store: &Store, config: &Config) -> Result<Engines, Error> {
    Ok(Engines::new(
        config,
        RegistryOptions {
            host_env: (*ctx.env.all).clone(),
            record: ctx.engine_io.record.clone(),
            replay: ctx.engine_io.replay.clone(),
            replay_cursor: Some(store.local_dir().join("replay").join("cursor.json")),
            homes_dir: Some(store.local_dir().join("homes")),
            extra: ctx.engine_io.extra.clone(),
            git: ctx.git_program().to_owned(),
            ..RegistryOptions::default()
        },
    )?)
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
    let store = orchestrator::locate(ctx, protocol)?;
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

/// The file of a protocol's run lock.
pub fn run_lock_path(store: &Store, protocol: &ProtocolId) -> std::path::PathBuf {
    store.run_lock_path(protocol)
}

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
    let (plan, engine) = build_execution_plan(store, config, engines, state, step, opts)?;
    check_engine(ctx, store, config, &plan, engine.as_ref())?;
    // Every refusal comes before the first write: a refused run leaves no trace.
    record_preconditions(ctx, loaded, step)?;
    check_budget(ctx, loaded, step, &plan)?;
    let attempt = Attempt::start(ctx, loaded, step, plan, engine)?;
    let (outcome, transcript, settled) = attempt.run_engine(on_progress)?;
    let files = attempt.write_files(&outcome, transcript.as_ref(), settled)?;
    let (after, stopped) = attempt.record_outcome(&outcome, &files)?;
    crate::fault::point("execution.after_engine");
    let commit = attempt.commit(&outcome, stopped)?;
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

/// Refuses an engine that is untrusted, missing, or (when replaying) not recorded for this
/// prompt; warns when its credentials look absent.
fn check_engine(
    ctx: &Context,
    store: &Store,
    config: &Config,
    plan: &ExecutionPlan,
    engine: &dyn Engine,
) -> Result<(), Error> {
    crate::services::trust::require_engine(store, config, ctx.env.trust_config, engine.name())?;
    engine.check_installed()?;
    // A warning, not a refusal: a credential can live where godzilla cannot see it (a keyring,
    // a provider file the profile names); but a run that will fail on auth should say why first.
    if let Err(missing) = engine.credentials() {
        ctx.reporter
            .warn(&format!("engine `{}`: {missing}", engine.name()));
    }
    engine.check_recorded(
        &format!("{}/{}/exec", plan.protocol, plan.step),
        Phase::Exec,
        plan.model.as_deref(),
        &plan.prompt,
        store.root(),
    )?;
    Ok(())
}

/// Refuses a run the protocol's or the step's state does not allow, then records what the
/// run implies about them (the protocol starts, a failed step is retried, a dead attempt was
/// interrupted).
fn record_preconditions(ctx: &Context, loaded: &Loaded, step: &StepId) -> Result<(), Error> {
    let Loaded { store, state, .. } = loaded;
    let protocol = &state.protocol;
    let step_state = state.step(step).ok_or_else(|| Error::NoStep {
        protocol: protocol.clone(),
        step: step.clone(),
    })?;
    let protocol_event =
        protocol_precondition(protocol, state.status.unwrap_or(ProtocolStatus::Pending))?;
    let step_event = step_precondition(step, step_state.status)?;
    for (on_step, event) in [(None, protocol_event), (Some(step), step_event)] {
        if let Some((kind, message)) = event {
            telemetry::log_protocol_event(
                ctx,
                store,
                protocol,
                on_step,
                kind,
                message,
                Default::default(),
            )?;
        }
    }
    Ok(())
}

/// Refuses the run when the budget says so (strict mode); tracks it otherwise.
fn check_budget(
    ctx: &Context,
    loaded: &Loaded,
    step: &StepId,
    plan: &ExecutionPlan,
) -> Result<(), Error> {
    let Loaded { store, config, .. } = loaded;
    let protocol = &loaded.state.protocol;
    let current = ProtocolRepository::load_state(store, protocol)?.state;
    let decision = budget::check_and_track(
        ctx,
        store,
        config,
        PlannedRun {
            protocol,
            step: Some(step),
            phase: "exec",
            prompt: &plan.prompt,
            used: current.tokens,
        },
    )?;
    if let BudgetDecision::Refuse { reason } = decision {
        return Err(Error::Budget(reason));
    }
    Ok(())
}

/// The cost of a run and where its figure came from.
type Settled = Option<(telemetry::prices::Cost, telemetry::prices::CostSource)>;

/// The files an attempt wrote.
struct AttemptFiles {
    /// The scrubbed transcript, in the machine-local log directory.
    log_path: PathBuf,
    /// Its name relative to that directory, as records and events name it.
    log_name: String,
    /// `outputs/NN-slug.md`, relative to the worktree, when a final message was written.
    output: Option<String>,
    /// `runs/<run-id>.json`.
    record: PathBuf,
}

/// One attempt of one step, from its `step_started` event on.
struct Attempt<'a> {
    ctx: &'a Context,
    loaded: &'a Loaded,
    step: &'a StepId,
    plan: ExecutionPlan,
    engine: Arc<dyn Engine>,
    run_id: String,
    git: Git,
    scrubber: Arc<engines::Scrubber>,
    /// The commit the attempt started from.
    base_commit: Option<String>,
    started: String,
}

impl<'a> Attempt<'a> {
    /// Records `step_started` and says so.
    fn start(
        ctx: &'a Context,
        loaded: &'a Loaded,
        step: &'a StepId,
        plan: ExecutionPlan,
        engine: Arc<dyn Engine>,
    ) -> Result<Self, Error> {
        let Loaded { store, engines, .. } = loaded;
        let protocol = &loaded.state.protocol;
        let scrubber = engines.registry().scrubber(&ctx.env.all);
        let run_id = format!("{step}-a{}-{}", plan.attempt, &ctx.ids.token()[..8]);
        let git = Git::new(ctx.git_program(), store.root());
        let base_commit = git.head()?;
        let started = ctx.clock.now_rfc3339();
        let mut meta = serde_json::Map::new();
        meta.insert("run".into(), run_id.clone().into());
        meta.insert("attempt".into(), plan.attempt.into());
        meta.insert("engine".into(), plan.engine.clone().into());
        meta.insert("model".into(), plan.model.clone().into());
        meta.insert("prompt_version".into(), plan.prompt_version.clone().into());
        telemetry::log_protocol_event(
            ctx,
            store,
            protocol,
            Some(step),
            EventKind::StepStarted,
            format!("attempt {} with {}", plan.attempt, plan.engine),
            meta,
        )?;
        ctx.reporter.status(
            "Running",
            &format!(
                "{protocol} {step} with {}{}",
                plan.engine,
                model_note(&plan)
            ),
        );
        Ok(Self {
            ctx,
            loaded,
            step,
            plan,
            engine,
            run_id,
            git,
            scrubber,
            base_commit,
            started,
        })
    }

    fn store(&self) -> &'a Store {
        &self.loaded.store
    }

    fn protocol(&self) -> &'a ProtocolId {
        &self.loaded.state.protocol
    }

    /// Runs the engine with the protected files guarded, streaming progress; returns its
    /// outcome (an engine that could not run is a failed outcome, never an error), its
    /// transcript and its settled cost.
    fn run_engine(
        &self,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<(EngineOutcome, Option<engines::Transcript>, Settled), Error> {
        let (ctx, store, plan) = (self.ctx, self.store(), &self.plan);
        let request = self.request()?;
        // Taken right before the engine starts: godzilla itself writes no state until it returns.
        let guard = Protected::snapshot(ctx, store)?;
        let mut progress = Progress::default();
        let mut live = transcript::LiveLog::start(
            store.local_dir(),
            &ctx.clock,
            transcript::RunMeta {
                run: self.run_id.clone(),
                protocol: Some(self.protocol().to_string()),
                step: Some(self.step.to_string()),
                phase: Phase::Exec,
                engine: plan.engine.clone(),
                kind: self.engine.kind(),
                model: plan.model.clone(),
            },
        );
        let mut on_line = |stream: Stream, line: &str| {
            progress.lines += 1;
            live.observe(stream, line);
            if let Some(t) = sniff_tokens(line) {
                progress.tokens = progress.tokens.max(t);
            }
            progress.tokens = progress.tokens.max(live.usage().total());
            progress.latest = live.latest().map(str::to_owned);
            on_progress(&progress);
        };
        let run = self.engine.execute(&request, &mut on_line);
        storage::remove_scratch_dir(&request.scratch_dir);
        let (mut outcome, transcript) = match run {
            Ok(run) => (run.outcome, Some(run.transcript)),
            Err(err) => {
                let class = if matches!(err, engines::Error::NotInstalled { .. }) {
                    Classification::NotInstalled
                } else {
                    Classification::EngineError
                };
                (EngineOutcome::failed(class, err.to_string()), None)
            }
        };
        let violations = guard.verify_and_restore()?;
        if !violations.is_empty() {
            outcome.fail(
                Classification::EngineError,
                format!(
                    "the agent modified protected files (restored): {}",
                    violations.join(", ")
                ),
            );
        }
        let settled = telemetry::settle_cost(
            &self.loaded.config,
            &self.run_id,
            plan.model.as_deref(),
            &outcome.usage,
            outcome.cost_usd,
        );
        outcome.cost_usd = settled.map(|(c, _)| c.usd());
        live.finish(&outcome, outcome.cost_usd);
        Ok((outcome, transcript, settled))
    }

    /// The engine request, with its scratch directory created.
    fn request(&self) -> Result<EngineRequest, Error> {
        let (store, plan) = (self.store(), &self.plan);
        let scratch = store.local_dir().join("runs").join(&self.run_id);
        storage::create_scratch_dir(&scratch)?;
        Ok(EngineRequest {
            label: format!("{}/{}/exec", self.protocol(), self.step),
            prompt: plan.prompt.clone(),
            workdir: store.root().to_path_buf(),
            model: plan.model.clone(),
            phase: Phase::Exec,
            output_schema: None,
            timeout: Duration::from_secs(plan.timeout_secs),
            stall_timeout: Duration::from_secs(plan.stall_timeout_secs),
            scratch_dir: scratch,
            env: BTreeMap::new(),
            group_lock: Some(engine_lock_path(store)),
        })
    }

    /// Writes the transcript log, the final message (on success) and the run record.
    fn write_files(
        &self,
        outcome: &EngineOutcome,
        transcript: Option<&engines::Transcript>,
        settled: Settled,
    ) -> Result<AttemptFiles, Error> {
        let (store, protocol) = (self.store(), self.protocol());
        let label = format!("{protocol}/{}/exec", self.step);
        let (log_path, log_name) = transcript_path(store, &label, &self.run_id);
        let log_text = transcript_text(&self.run_id, transcript, outcome.error.as_deref());
        storage::write_derived(&log_path, log_text.as_bytes())?;
        let output = match (&outcome.final_message, outcome.classification) {
            (Some(message), Classification::Ok) => {
                let path = ProtocolRepository::output_path(store, protocol, self.step);
                storage::write_atomic(&path, format!("{}\n", message.trim_end()).as_bytes())?;
                Some(store.display(&path).into_owned())
            }
            _ => None,
        };
        let record = self.write_run_record(outcome, settled, output.as_deref(), &log_name)?;
        Ok(AttemptFiles {
            log_path,
            log_name,
            output,
            record,
        })
    }

    /// Writes `runs/<run-id>.json` (scrubbed, never over an existing one); returns its path.
    fn write_run_record(
        &self,
        outcome: &EngineOutcome,
        settled: Settled,
        output: Option<&str>,
        log_name: &str,
    ) -> Result<PathBuf, Error> {
        let (store, plan) = (self.store(), &self.plan);
        let record_path = ProtocolRepository::run_path(store, self.protocol(), &self.run_id);
        let record = RunRecord {
            format: 1,
            run_id: &self.run_id,
            protocol: self.protocol(),
            step: self.step,
            attempt: plan.attempt,
            phase: "exec",
            engine: &plan.engine,
            engine_version: engine_version(store, self.engine.as_ref()),
            model: plan.model.as_deref(),
            prompt: serde_json::json!({"role": plan.prompt_role, "source": plan.prompt_source, "template_version": plan.prompt_version, "sha": plan.prompt_sha, "estimated_tokens": plan.estimated_tokens}),
            argv: &outcome.argv,
            usage: outcome.usage,
            cost_usd: outcome.cost_usd,
            cost_source: settled.map(|(_, s)| s),
            started: &self.started,
            finished: self.ctx.clock.now_rfc3339(),
            duration_ms: outcome.duration_ms,
            classification: outcome.classification,
            error: outcome.error.as_deref(),
            session_id: outcome.session_id.as_deref(),
            exit_code: outcome.exit_code,
            base_commit: self.base_commit.as_deref(),
            output,
            transcript: log_name,
            config_sha256: self.loaded.config.digest(),
        };
        let record = self
            .scrubber
            .scrub_json(&serde_json::to_value(&record).unwrap_or_default());
        let mut record_bytes = serde_json::to_vec_pretty(&record).unwrap_or_default();
        record_bytes.push(b'\n');
        storage::write_new(&record_path, &record_bytes)?;
        Ok(record_path)
    }

    /// Records how the attempt ended (which moves the step), unless the protocol was
    /// cancelled meanwhile. Returns the state afterwards and whether it was cancelled.
    fn record_outcome(
        &self,
        outcome: &EngineOutcome,
        files: &AttemptFiles,
    ) -> Result<(ProtocolState, bool), Error> {
        let (store, protocol, step) = (self.store(), self.protocol(), self.step);
        let (kind, message, meta) = self.outcome_event(outcome, files);
        // A person may have cancelled the protocol while the agent ran (its open steps went with
        // it): the attempt's work is still committed, but the step has nothing left to record.
        let current = ProtocolRepository::load_state(store, protocol)?.state;
        let stopped = current
            .step(step)
            .is_some_and(|s| s.status == StepStatus::Cancelled);
        if stopped {
            return Ok((current, true));
        }
        let after = telemetry::log_protocol_event(
            self.ctx,
            store,
            protocol,
            Some(step),
            kind,
            message,
            meta,
        )?
        .1;
        Ok((after, false))
    }

    /// The event an outcome makes: executed (QA next), interrupted (runs again) or failed.
    fn outcome_event(
        &self,
        outcome: &EngineOutcome,
        files: &AttemptFiles,
    ) -> (
        EventKind,
        String,
        serde_json::Map<String, serde_json::Value>,
    ) {
        let attempt = self.plan.attempt;
        let mut meta = serde_json::Map::new();
        meta.insert("run".into(), self.run_id.clone().into());
        meta.insert(
            "classification".into(),
            serde_json::to_value(outcome.classification).unwrap_or_default(),
        );
        meta.insert("tokens".into(), outcome.usage.total().into());
        meta.insert("transcript".into(), files.log_name.clone().into());
        meta.insert(
            "usage".into(),
            serde_json::to_value(outcome.usage).unwrap_or_default(),
        );
        if let Some(cost) = outcome.cost_usd {
            meta.insert("cost_usd".into(), cost.into());
        }
        if outcome.classification == Classification::Ok {
            let message = format!("attempt {attempt} finished; waiting for QA");
            return (EventKind::StepExecuted, message, meta);
        }
        meta.insert(
            "error".into(),
            outcome.error.clone().unwrap_or_default().into(),
        );
        if outcome.classification == Classification::Interrupted {
            let message = format!("attempt {attempt} interrupted; it runs again next time");
            (EventKind::StepInterrupted, message, meta)
        } else {
            let message = format!(
                "attempt {attempt} failed: {}",
                outcome.classification.as_str()
            );
            (EventKind::StepExecutionFailed, message, meta)
        }
    }

    /// Commits the attempt's work with the state files and attaches its note; returns the
    /// commit.
    fn commit(&self, outcome: &EngineOutcome, stopped: bool) -> Result<String, Error> {
        let (store, protocol, step, plan) = (self.store(), self.protocol(), self.step, &self.plan);
        let title = step_title(
            &std::fs::read_to_string(StepRepository::step_path(store, protocol, step))
                .unwrap_or_default(),
            step,
        );
        let subject = if stopped {
            format!(
                "chore({protocol}): {step} attempt {} stopped (protocol cancelled)",
                plan.attempt
            )
        } else if outcome.classification == Classification::Ok {
            format!("feat({protocol}): {title}")
        } else {
            format!(
                "chore({protocol}): {step} attempt {} failed ({})",
                plan.attempt,
                outcome.classification.as_str()
            )
        };
        let message = format!(
            "{subject}\n\nEngine: {}{}\nTokens: {} in ({} cached), {} out\n\nGodzilla-Protocol: {protocol}\nGodzilla-Step: {step}\nGodzilla-Run: {}\n",
            plan.engine,
            model_note(plan),
            outcome.usage.input,
            outcome.usage.cached,
            outcome.usage.output,
            self.run_id,
        );
        let commit = self.git.commit_all(&self.scrubber.scrub(&message))?;
        crate::fault::point("execution.before_note");
        let note = serde_json::json!({
            "v": 1, "kind": "exec", "protocol": protocol, "step": step, "attempt": plan.attempt, "run": self.run_id,
            "engine": plan.engine, "model": plan.model, "prompt": plan.prompt_version,
            "tokens": outcome.usage, "cost_usd": outcome.cost_usd, "classification": outcome.classification,
        });
        Notes::new(self.git.clone(), store.local_dir()).append(&commit, &note.to_string())?;
        Ok(commit)
    }

    fn report_finished(&self, outcome: &EngineOutcome, step_status: StepStatus, settled: Settled) {
        self.ctx.reporter.status(
            "Finished",
            &format!(
                "{} {}: {} → {step_status} · {} tokens{}",
                self.protocol(),
                self.step,
                outcome.classification.as_str(),
                outcome.usage.total(),
                settled
                    .map(|(c, _)| format!(" · {}", c.display()))
                    .unwrap_or_default()
            ),
        );
    }
}

/// ` (model)` when the plan names a model, else nothing.
fn model_note(plan: &ExecutionPlan) -> String {
    plan.model
        .as_deref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default()
}

/// What running a step needs to record about its protocol first, or why it cannot run.
fn protocol_precondition(
    protocol: &ProtocolId,
    status: ProtocolStatus,
) -> Result<Option<(EventKind, &'static str)>, Error> {
    let refuse = |why| {
        Err(Error::ProtocolState {
            protocol: protocol.clone(),
            status: status.to_string(),
            why,
        })
    };
    match status {
        ProtocolStatus::Planned | ProtocolStatus::Blocked | ProtocolStatus::Failed => {
            Ok(Some((EventKind::ProtocolStarted, "execution started")))
        }
        ProtocolStatus::Running => Ok(None),
        ProtocolStatus::Paused => refuse("resume it with `godzilla protocol resume` first"),
        ProtocolStatus::Pending | ProtocolStatus::Planning => refuse("it has no steps to run yet"),
        ProtocolStatus::Cancelled | ProtocolStatus::Completed => refuse("it is finished"),
    }
}

/// What running a step needs to record about the step first, or why it cannot run.
fn step_precondition(
    step: &StepId,
    status: StepStatus,
) -> Result<Option<(EventKind, &'static str)>, Error> {
    let refuse = |why| {
        Err(Error::StepState {
            step: step.clone(),
            status,
            why,
        })
    };
    match status {
        StepStatus::Pending => Ok(None),
        StepStatus::Failed | StepStatus::Blocked => {
            Ok(Some((EventKind::StepRetried, "new attempt requested")))
        }
        // The caller holds the run lock, so the process that started that attempt is gone.
        StepStatus::Running => Ok(Some((
            EventKind::StepInterrupted,
            "the previous attempt's process died",
        ))),
        StepStatus::NeedsQa => {
            refuse("run `godzilla qa` on it, or `godzilla protocol retry` for a new attempt")
        }
        StepStatus::Completed => refuse("it already passed"),
        StepStatus::Cancelled => refuse("its protocol was cancelled"),
    }
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

/// One engine run of a phase other than exec, before its request is built.
pub struct PhaseRun {
    /// The phase.
    pub phase: Phase,
    /// What the run is for (`0001-x/02-y/qa`): logs and replay matching.
    pub label: String,
    /// Scratch directory name, unique per run.
    pub run: String,
    /// The rendered prompt.
    pub prompt: String,
    /// JSON schema the answer must follow, for engines that take one.
    pub schema: Option<serde_json::Value>,
    /// `--timeout`, which beats the engine profile's and the config's.
    pub timeout: Option<Duration>,
}

/// The request for `run` with `selection`'s engine and model in `store`'s worktree: the
/// wall-clock limit from the flag, the engine profile or `[execution]` (in that order), the
/// stall limit from `[execution]`, and a fresh scratch directory.
pub fn phase_request(
    store: &Store,
    config: &Config,
    selection: &Selection,
    run: PhaseRun,
) -> Result<EngineRequest, storage::Error> {
    let scratch = store.local_dir().join("runs").join(&run.run);
    storage::create_scratch_dir(&scratch)?;
    Ok(EngineRequest {
        label: run.label,
        prompt: run.prompt,
        workdir: store.root().to_path_buf(),
        model: selection.model.clone(),
        phase: run.phase,
        output_schema: run.schema,
        timeout: run
            .timeout
            .or(selection.timeout)
            .unwrap_or(Duration::from_secs(config.execution.timeout_secs)),
        stall_timeout: Duration::from_secs(config.execution.stall_timeout_secs),
        scratch_dir: scratch,
        env: BTreeMap::new(),
        group_lock: Some(engine_lock_path(store)),
    })
}

/// The lock every engine run in `store`'s worktree hands down to its process tree: one per
/// worktree, so a run never starts while anything of an earlier one (an orphan of a killed
/// godzilla) still works in the same files.
pub fn engine_lock_path(store: &Store) -> PathBuf {
    let root = store.root();
    let digest = Sha256::digest(root.as_os_str().as_encoded_bytes());
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    store.local_dir().join("locks").join(format!(
        "engine-{name}-{:02x}{:02x}{:02x}{:02x}.lock",
        digest[0], digest[1], digest[2], digest[3]
    ))
}

/// What [`run_guarded`] returns: the run's result, the protected paths the engine changed
/// (restored), and the transcript's name.
pub type GuardedRun = (Result<EngineOutcome, engines::Error>, Vec<String>, String);

/// Runs an engine for a read-only phase the way every phase must: protected files snapshot
/// before and checked (and restored) after, the scratch directory removed, the scrubbed
/// transcript kept (see [`transcript_path`]). Returns the run's result, the protected paths
/// the engine changed, and the transcript's name (relative to the machine-local directory).
pub fn run_guarded(
    ctx: &Context,
    store: &Store,
    engine: &dyn Engine,
    request: &EngineRequest,
) -> Result<GuardedRun, storage::Error> {
    let guard = Protected::snapshot(ctx, store)?;
    let (protocol, step) = transcript::RunMeta::from_label(&request.label);
    let run_name = request.scratch_dir.file_name().map_or_else(
        || request.label.replace('/', "-"),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut live = transcript::LiveLog::start(
        store.local_dir(),
        &ctx.clock,
        transcript::RunMeta {
            run: run_name,
            protocol,
            step,
            phase: request.phase,
            engine: engine.name().to_owned(),
            kind: engine.kind(),
            model: request.model.clone(),
        },
    );
    let run = engine.execute(request, &mut |stream, line| live.observe(stream, line));
    if let Ok(run) = &run {
        live.finish(&run.outcome, run.outcome.cost_usd);
    }
    storage::remove_scratch_dir(&request.scratch_dir);
    let changed = guard.verify_and_restore()?;
    let run_name = request
        .scratch_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (log, name) = transcript_path(store, &request.label, &run_name);
    let text = match &run {
        Ok(run) => transcript_text(&run_name, Some(&run.transcript), None),
        Err(e) => transcript_text(&run_name, None, Some(&e.to_string())),
    };
    storage::write_derived(&log, text.as_bytes())?;
    Ok((run.map(|r| r.outcome), changed, name))
}

/// Where the scrubbed transcript of the engine run `run` for `label` (`0001-x/02-y/qa`) is
/// kept: `logs/<protocol>/<run>.log` in the machine-local directory. Returns the path and
/// the name recorded in run records and events (relative to that directory).
pub fn transcript_path(store: &Store, label: &str, run: &str) -> (PathBuf, String) {
    let group = label
        .split('/')
        .next()
        .filter(|g| !g.is_empty() && !g.starts_with('.'))
        .unwrap_or("project");
    let name = format!("logs/{group}/{run}.log");
    (store.local_dir().join(&name), name)
}

/// The text of a transcript log: the scrubbed output, or why no process ran.
fn transcript_text(
    run: &str,
    transcript: Option<&engines::Transcript>,
    error: Option<&str>,
) -> String {
    match transcript {
        Some(t) => format!(
            "# run {run}\n## stdout\n{}\n## stderr\n{}\n",
            t.stdout, t.stderr
        ),
        None => format!("# run {run}\n(no process ran: {})\n", error.unwrap_or("")),
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
