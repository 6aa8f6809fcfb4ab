//! The stages of one step attempt, in the order [`super::execute_step`] runs them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{
    Begun, Error, ExecutionPlan, Loaded, Progress, RunRecord, engine_lock_path, engine_version,
    sniff_tokens, step_title, transcript_path, transcript_text,
};
use crate::config::Config;
use crate::context::Context;
use crate::domain::budget::BudgetDecision;
use crate::domain::{EventKind, ProtocolId, ProtocolState, ProtocolStatus, StepId, StepStatus};
use crate::engines::{self, Classification, Engine, EngineOutcome, EngineRequest, Phase, Stream};
use crate::git::Git;
use crate::git::notes::Notes;
use crate::services::budget::{self, PlannedRun};
use crate::services::platform::storage::repo::{NewEvent, ProtocolRepository, StepRepository};
use crate::services::platform::storage::{self, Store};
use crate::services::platform::telemetry::{self, transcript};

/// Refuses an engine that is untrusted, missing, or (when replaying) not recorded for this
/// prompt; warns when its credentials look absent.
pub(super) fn check_engine(
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
pub(super) fn record_preconditions(
    ctx: &Context,
    loaded: &Loaded,
    step: &StepId,
) -> Result<(), Error> {
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
pub(super) fn check_budget(
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
pub(super) type Settled = Option<(telemetry::prices::Cost, telemetry::prices::CostSource)>;

/// The files an attempt wrote.
pub(super) struct AttemptFiles {
    /// The scrubbed transcript, in the machine-local log directory.
    pub(super) log_path: PathBuf,
    /// Its name relative to that directory, as records and events name it.
    pub(super) log_name: String,
    /// `outputs/NN-slug.md`, relative to the worktree, when a final message was written.
    pub(super) output: Option<String>,
    /// `runs/<run-id>.json`.
    pub(super) record: PathBuf,
}

/// One attempt of one step, from its `step_started` event on.
pub(super) struct Attempt<'a> {
    pub(super) ctx: &'a Context,
    pub(super) loaded: &'a Loaded,
    pub(super) step: &'a StepId,
    pub(super) plan: ExecutionPlan,
    pub(super) engine: Arc<dyn Engine>,
    pub(super) run_id: String,
    pub(super) git: Git,
    pub(super) scrubber: Arc<engines::Scrubber>,
    /// The commit the attempt started from.
    pub(super) base_commit: Option<String>,
    pub(super) started: String,
    /// The flush of `step_started`, waited for right before the agent starts: a crash may lose
    /// the event only if the agent never ran.
    started_flush: std::cell::RefCell<Option<storage::Flushing>>,
}

impl<'a> Attempt<'a> {
    /// Records `step_started` and says so.
    pub(super) fn start(
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
        // The view is written once, with the attempt's outcome: until then readers fold the
        // log (a view never decides anything), and a step writes one view fewer (#13).
        let started_event = NewEvent {
            step: Some(step.clone()),
            kind: EventKind::StepStarted,
            message: format!("attempt {} with {}", plan.attempt, plan.engine),
            metadata: meta,
        };
        let (_, _, started_flush) = telemetry::log_protocol_event_flushing(
            ctx,
            &store.clone().deferring_views(),
            protocol,
            started_event,
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
            started_flush: std::cell::RefCell::new(Some(started_flush)),
        })
    }

    pub(super) fn store(&self) -> &'a Store {
        &self.loaded.store
    }

    pub(super) fn protocol(&self) -> &'a ProtocolId {
        &self.loaded.state.protocol
    }

    /// Runs the engine with the protected files guarded, streaming progress; returns its
    /// outcome (an engine that could not run is a failed outcome, never an error), its
    /// transcript and its settled cost.
    pub(super) fn run_engine(
        &self,
        guard: Begun,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<(EngineOutcome, Option<engines::Transcript>, Settled), Error> {
        let (ctx, store, plan) = (self.ctx, self.store(), &self.plan);
        let request = self.request()?;
        // Completed right before the engine starts: godzilla itself writes no state until it
        // returns.
        let guard = guard.finish()?;
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
        if let Some(flush) = self.started_flush.borrow_mut().take() {
            flush.wait().map_err(storage::Error::from)?;
        }
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

    /// The engine request (its scratch directory is made only when an adapter writes there).
    pub(super) fn request(&self) -> Result<EngineRequest, Error> {
        let (store, plan) = (self.store(), &self.plan);
        // Created by the engine adapter when it writes a file there (most write none).
        let scratch = store.local_dir().join("runs").join(&self.run_id);
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
    pub(super) fn write_files(
        &self,
        outcome: &EngineOutcome,
        transcript: Option<&engines::Transcript>,
        settled: Settled,
    ) -> Result<AttemptFiles, Error> {
        let (store, protocol) = (self.store(), self.protocol());
        let label = format!("{protocol}/{}/exec", self.step);
        let (log_path, log_name) = transcript_path(store, &label, &self.run_id);
        let log_text = transcript_text(&self.run_id, transcript, outcome.error.as_deref());
        let output = match (&outcome.final_message, outcome.classification) {
            (Some(message), Classification::Ok) => Some((
                ProtocolRepository::output_path(store, protocol, self.step),
                format!("{}\n", message.trim_end()),
            )),
            _ => None,
        };
        let shown = output
            .as_ref()
            .map(|(path, _)| store.display(path).into_owned());
        // The final message and the run record are flushed to disk side by side: both must be
        // durable before the event that names them, and each waits for two flushes (the file,
        // then its directory) that need not wait for the other's (#13).
        let record = std::thread::scope(|scope| {
            let written = output.map(|(path, text)| {
                scope.spawn(move || storage::write_atomic(&path, text.as_bytes()))
            });
            let rest = storage::write_derived(&log_path, log_text.as_bytes())
                .map_err(Error::from)
                .and_then(|()| {
                    self.write_run_record(outcome, settled, shown.as_deref(), &log_name)
                });
            if let Some(written) = written {
                written
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            }
            rest
        })?;
        Ok(AttemptFiles {
            log_path,
            log_name,
            output: shown,
            record,
        })
    }

    /// Writes `runs/<run-id>.json` (scrubbed, never over an existing one); returns its path.
    pub(super) fn write_run_record(
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
    pub(super) fn record_outcome(
        &self,
        outcome: &EngineOutcome,
        files: &AttemptFiles,
    ) -> Result<(ProtocolState, bool, Option<storage::Flushing>), Error> {
        let (store, protocol, step) = (self.store(), self.protocol(), self.step);
        let (kind, message, meta) = self.outcome_event(outcome, files);
        // A person may have cancelled the protocol while the agent ran (its open steps went with
        // it): the attempt's work is still committed, but the step has nothing left to record.
        let current = ProtocolRepository::load_state(store, protocol)?.state;
        let stopped = current
            .step(step)
            .is_some_and(|s| s.status == StepStatus::Cancelled);
        if stopped {
            return Ok((current, true, None));
        }
        // Flushed while the commit that stores it is built (see `commit`).
        let outcome_event = NewEvent {
            step: Some(step.clone()),
            kind,
            message,
            metadata: meta,
        };
        let (_, after, flushing) =
            telemetry::log_protocol_event_flushing(self.ctx, store, protocol, outcome_event)?;
        Ok((after, false, Some(flushing)))
    }

    /// The event an outcome makes: executed (QA next), interrupted (runs again) or failed.
    pub(super) fn outcome_event(
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
    pub(super) fn commit(
        &self,
        outcome: &EngineOutcome,
        stopped: bool,
        carried: Option<&(String, String)>,
        mut recorded: Option<storage::Flushing>,
    ) -> Result<String, Error> {
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
        let note = serde_json::json!({
            "v": 1, "kind": "exec", "protocol": protocol, "step": step, "attempt": plan.attempt, "run": self.run_id,
            "engine": plan.engine, "model": plan.model, "prompt": plan.prompt_version,
            "tokens": outcome.usage, "cost_usd": outcome.cost_usd, "classification": outcome.classification,
        })
        .to_string();
        let mut notes = Notes::new(self.git.clone(), store.local_dir());
        if let Some((commit, record)) = carried {
            notes = notes.carrying(commit, record)?;
        }
        // The note (and a carried one) goes into the commit's own pack where the commit is
        // made in-process.
        // The outcome's event is on disk before the branch that stores it moves.
        let mut before_publish = || match recorded.take() {
            Some(flushing) => flushing.wait().map_err(std::io::Error::other),
            None => Ok(()),
        };
        let (commit, noted) = self.git.commit_all_noted(
            &self.scrubber.scrub(&message),
            Some((&notes, &note)),
            &mut before_publish,
        )?;
        if !noted {
            crate::fault::point("execution.before_note");
            notes.append(&commit, &note)?;
        }
        Ok(commit)
    }

    pub(super) fn report_finished(
        &self,
        outcome: &EngineOutcome,
        step_status: StepStatus,
        settled: Settled,
    ) {
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
pub(super) fn model_note(plan: &ExecutionPlan) -> String {
    plan.model
        .as_deref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default()
}

/// What running a step needs to record about its protocol first, or why it cannot run.
pub(super) fn protocol_precondition(
    protocol: &ProtocolId,
    status: ProtocolStatus,
) -> Result<Option<(EventKind, &'static str)>, Error> {
    let refuse = |why| {
        Err(Error::ProtocolState {
            protocol: protocol.clone(),
            status,
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
pub(super) fn step_precondition(
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
