//! `protocol run`: plan if needed, then execute → QA → policies step by step until the
//! protocol is `completed` or a clear stop (blocked, failed, paused, budget, clarification,
//! approval). Every decision is an event, and every decision is re-derived from events on the
//! next round, so a run killed at any moment resumes with the same command without redoing a
//! step that passed.

mod decisions;
mod recovery;

use decisions::decide_and_apply;

use std::time::Duration;

use serde::Serialize;

pub use super::refusals::{PerPhaseError, Unverified};
use super::{Error, locate};
use crate::context::Context;
use crate::domain::policy::{self, NextAction};
use crate::domain::spec::{Outcome, ProtocolSpec};
use crate::domain::{Event, EventKind, ProtocolId, ProtocolStatus, StepId, StepStatus};
use crate::engines::{Classification, Phase};
use crate::git::Git;
use crate::services::execution::{self, Loaded, StepRunOptions};
use crate::services::planning::{self, PlanOptions};
use crate::services::platform::protocols::{last_block_reason, next_for_blocked, sorted_log};
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{RunLock, Store};
use crate::services::platform::telemetry;
use crate::services::quality::{self, QaOptions, Verdict};
use crate::services::{clarifications, spec};

/// Options of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Stop once this step is completed.
    pub until: Option<StepId>,
    /// Approve steps that need a person (the flag is the person's consent).
    pub yes: bool,
    /// Engines asked for on the command line (`--engine [PHASE=]NAME`).
    pub engines: PerPhase,
    /// Models asked for on the command line (`--model [PHASE=]NAME`).
    pub models: PerPhase,
    /// Wall-clock limit of each engine run.
    pub timeout: Option<Duration>,
}

/// A value (engine or model name) chosen for some phases of a run; `None` leaves the
/// config's `[phases.*]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerPhase {
    /// For every phase a run has (planning, exec and QA), unless one below is set.
    pub all: Option<String>,
    /// For planning.
    pub planning: Option<String>,
    /// For executing steps.
    pub exec: Option<String>,
    /// For QA reviews.
    pub qa: Option<String>,
}

/// The phases a run has, as written in `PHASE=NAME`.
pub const RUN_PHASES: &str = "planning, exec, qa";

impl PerPhase {
    /// Parses `NAME` (every phase) and `PHASE=NAME` values; the last one for a phase wins.
    pub fn parse(values: &[String]) -> Result<Self, PerPhaseError> {
        let mut out = Self::default();
        for value in values {
            let (slot, name) = match value.split_once('=') {
                None => (&mut out.all, value.as_str()),
                Some(("planning" | "plan", name)) => (&mut out.planning, name),
                Some(("exec", name)) => (&mut out.exec, name),
                Some(("qa", name)) => (&mut out.qa, name),
                Some((phase, _)) => {
                    return Err(PerPhaseError::UnknownPhase {
                        phase: phase.to_owned(),
                        value: value.clone(),
                    });
                }
            };
            if name.is_empty() {
                return Err(PerPhaseError::Empty(value.clone()));
            }
            *slot = Some(name.to_owned());
        }
        Ok(out)
    }

    /// The value for `phase`.
    pub fn get(&self, phase: Phase) -> Option<String> {
        let specific = match phase {
            Phase::Planning => &self.planning,
            Phase::Exec => &self.exec,
            Phase::Qa => &self.qa,
            Phase::Decompose | Phase::Discovery => &None,
        };
        specific.clone().or_else(|| self.all.clone())
    }
}

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "stop", content = "detail", rename_all = "snake_case")]
pub enum Stop {
    /// Every step verified.
    Completed,
    /// `--until` reached.
    Until(StepId),
    /// A person paused it.
    Paused,
    /// It was cancelled.
    Cancelled,
    /// Something needs attention.
    Blocked(String),
    /// The budget refused a run.
    Budget(String),
    /// Blocking questions wait for answers.
    Clarification(Vec<String>),
    /// A step waits for a person's approval.
    Approval(StepId),
    /// godzilla was asked to stop (SIGINT/SIGTERM); the running attempt was recorded as
    /// interrupted and runs again next time.
    Interrupted(String),
}

impl Stop {
    /// Whether the run reached what was asked.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Completed | Self::Until(_))
    }

    /// Why the run stopped, in words, and the command to type next (none once finished).
    pub fn explain(&self, id: &ProtocolId) -> (String, Option<String>) {
        let run = format!("godzilla protocol run {id}");
        match self {
            Self::Completed => ("completed".into(), None),
            Self::Cancelled => ("cancelled".into(), None),
            Self::Until(s) => (
                format!("stopped after {s} as asked (--until {s})"),
                Some(run),
            ),
            Self::Paused => (
                "paused".into(),
                Some(format!("godzilla protocol resume {id}")),
            ),
            Self::Blocked(r) => (format!("blocked: {r}"), Some(next_for_blocked(id))),
            Self::Budget(r) => (
                format!("budget exceeded: {r}; raise [budget] in the config in effect"),
                Some(run),
            ),
            Self::Clarification(keys) => (
                format!("waiting for answers to {}", keys.join(", ")),
                Some(format!(
                    "godzilla clarify answer --protocol {id} {} <ANSWER>",
                    keys.first().map_or("<KEY>", String::as_str)
                )),
            ),
            Self::Approval(s) => (
                format!("step {s} waits for a person's approval"),
                Some(format!("godzilla protocol approve {id} {s}")),
            ),
            Self::Interrupted(r) => (format!("interrupted ({r})"), Some(run)),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// The protocol.
    pub protocol: ProtocolId,
    /// Its status at the end.
    pub status: Option<ProtocolStatus>,
    /// Why it stopped.
    pub stop: Stop,
    /// Steps with status and attempts at the end.
    pub steps: Vec<(StepId, StepStatus, u32)>,
    /// Tokens used by the protocol so far.
    pub tokens: u64,
    /// What this run did, one line each.
    pub actions: Vec<String>,
    /// The command to type next, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn block(ctx: &Context, store: &Store, id: &ProtocolId, reason: &str) -> Result<(), Error> {
    let state = ProtocolRepository::load_state(store, id)?.state;
    if state.status == Some(ProtocolStatus::Running) {
        let mut meta = serde_json::Map::new();
        meta.insert("reason".into(), reason.into());
        telemetry::log_protocol_event(
            ctx,
            store,
            id,
            None,
            EventKind::ProtocolBlocked,
            reason.to_owned(),
            meta,
        )?;
    }
    Ok(())
}

/// Why `step` stops the protocol: its status and what last went wrong with it.
fn stuck_reason(log: &[Event], step: &StepId, state: &crate::domain::ProtocolState) -> String {
    let status = state.step(step).map_or("stopped", |s| s.status.as_str());
    let last = log.iter().rev().find(|e| {
        e.step.as_ref() == Some(step)
            && matches!(
                e.kind,
                EventKind::StepExecutionFailed
                    | EventKind::QaFailed
                    | EventKind::QaError
                    | EventKind::StepBlocked
            )
    });
    match last {
        Some(e) => {
            let detail = e
                .metadata
                .get("error")
                .and_then(|v| v.as_str())
                .filter(|d| !e.message.contains(d))
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            format!("step {step} is {status} ({}{detail})", e.message)
        }
        None => format!("step {step} is {status}"),
    }
}

/// Checks the invariant before completing: every step that gets QA has a PASS for the code
/// its last attempt produced (the verdict's exec run and tree match that attempt).
pub fn verify_completion(git: &Git, spec: &ProtocolSpec, log: &[Event]) -> Result<(), Unverified> {
    for step in &spec.steps {
        if !quality::should_evaluate(step) {
            continue;
        }
        let of_step = |k: EventKind| {
            log.iter()
                .rev()
                .find(move |e| e.step.as_ref() == Some(&step.id) && e.kind == k)
        };
        let exec_run = of_step(EventKind::StepExecuted).and_then(|e| {
            e.metadata
                .get("run")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        });
        if step.needs_approval
            && let Some(at) = log.iter().rposition(|e| {
                e.step.as_ref() == Some(&step.id) && e.kind == EventKind::ManualApproval
            })
        {
            // An approval covers the attempt it approved, never a later one.
            let later_attempt = log[at + 1..]
                .iter()
                .any(|e| e.step.as_ref() == Some(&step.id) && e.kind == EventKind::StepStarted);
            let approved_run = log[at].metadata.get("exec_run").and_then(|v| v.as_str());
            if !later_attempt && approved_run.is_none_or(|r| Some(r) == exec_run.as_deref()) {
                continue;
            }
            return Err(Unverified::StaleApproval {
                step: step.id.clone(),
                approved: approved_run.unwrap_or("(an earlier one)").to_owned(),
                last: exec_run.as_deref().unwrap_or("(unfinished)").to_owned(),
            });
        }
        let exec_run = exec_run.ok_or_else(|| Unverified::NoAttempt(step.id.clone()))?;
        let pass =
            of_step(EventKind::QaPassed).ok_or_else(|| Unverified::NoPass(step.id.clone()))?;
        let judged = pass
            .metadata
            .get("exec_run")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if judged != exec_run {
            return Err(Unverified::StalePass {
                step: step.id.clone(),
                judged: judged.to_owned(),
                last: exec_run,
            });
        }
        let commit =
            quality::commit_of_run(git, &exec_run)?.ok_or_else(|| Unverified::NoCommit {
                step: step.id.clone(),
                run: exec_run.clone(),
            })?;
        let tree = quality::code_tree(git, &commit)?;
        if pass.metadata.get("tree").and_then(|v| v.as_str()) != Some(tree.as_str()) {
            return Err(Unverified::OtherTree(step.id.clone()));
        }
    }
    Ok(())
}

/// Runs a protocol until it completes or stops; see the module doc.
pub fn run_protocol(
    ctx: &Context,
    id: &ProtocolId,
    opts: &RunOptions,
    on_progress: &mut dyn FnMut(&execution::Progress),
) -> Result<RunSummary, Error> {
    let store = locate(ctx, id)?.deferring_views();
    let lock = execution::try_lock_protocol_run(&store, id).map_err(Box::new)?;
    let result = run_rounds(ctx, &store, &lock, opts, on_progress);
    let recorded = record_stop(ctx, &store, id, &result);
    // On an error, the error is what the user must see, not a failure to record it.
    if result.is_ok() {
        recorded?;
    }
    // Whatever happened, leave a fresh view behind (it is only a cache of the log). Every
    // stop already committed one; this is for errors.
    ProtocolRepository::refresh_view(&store, id)?;
    result
}

/// A run that ends with the protocol still `running` or `planning` leaves a `run_stopped`
/// event, so `status` can say that nothing runs, why, and what to type next.
fn record_stop(
    ctx: &Context,
    store: &Store,
    id: &ProtocolId,
    result: &Result<RunSummary, Error>,
) -> Result<(), Error> {
    let state = ProtocolRepository::load_state(store, id)?.state;
    if !matches!(
        state.status,
        Some(ProtocolStatus::Running | ProtocolStatus::Planning)
    ) {
        return Ok(());
    }
    let (reason, next) = match result {
        Ok(summary) => summary.stop.explain(id),
        Err(e) => (
            format!("stopped on an error: {e}"),
            Some(format!("godzilla protocol run {id}")),
        ),
    };
    let mut meta = serde_json::Map::new();
    meta.insert("reason".into(), reason.clone().into());
    if let Some(next) = next {
        meta.insert("next".into(), next.into());
    }
    telemetry::log_protocol_event(ctx, store, id, None, EventKind::RunStopped, reason, meta)?;
    if result.is_ok() {
        let git = Git::new(ctx.git_program(), store.root());
        commit_state(store, &git, id, "stop")?;
    }
    Ok(())
}

fn run_rounds(
    ctx: &Context,
    store: &Store,
    lock: &RunLock,
    opts: &RunOptions,
    on_progress: &mut dyn FnMut(&execution::Progress),
) -> Result<RunSummary, Error> {
    let id = lock.protocol();
    let mut run = Rounds {
        ctx,
        store: store.clone(),
        lock,
        opts,
        git: Git::new(ctx.git_program(), store.root()),
        actions: Vec::new(),
        last_committed_attempt: None,
        pending_note: None,
    };
    run.actions = recovery::recover(ctx, &run.store, id, &run.git)?;
    let result = run.rounds(on_progress);
    // A verdict's note that no commit carried (the run stopped first) is added on its own.
    let flushed = run.add_pending_note();
    let summary = result?;
    flushed?;
    Ok(summary)
}

/// A protocol run in progress: what its rounds share.
struct Rounds<'a> {
    ctx: &'a Context,
    store: Store,
    lock: &'a RunLock,
    opts: &'a RunOptions,
    git: Git,
    /// What the run did, for the summary.
    actions: Vec<String>,
    /// The step whose attempt this run committed last (with everything in the worktree).
    last_committed_attempt: Option<StepId>,
    /// The last verdict's note (commit judged, record), waiting to ride with the next step's
    /// commit (see `QaOptions::carry_note`).
    pending_note: Option<(String, String)>,
}

impl<'a> Rounds<'a> {
    fn id(&self) -> &'a ProtocolId {
        self.lock.protocol()
    }

    /// Runs rounds until one stops the run.
    fn rounds(
        &mut self,
        on_progress: &mut dyn FnMut(&execution::Progress),
    ) -> Result<RunSummary, Error> {
        // A generous bound on rounds: each round runs an engine or records a decision, and
        // loop and trigger limits bound those; this only guards against a bug spinning forever.
        for _round in 0..10_000 {
            if let Some(stop) = self.round(on_progress)? {
                let actions = std::mem::take(&mut self.actions);
                return summary(&self.store, self.id(), stop, actions);
            }
        }
        Err(Error::Runaway(self.id().clone()))
    }

    /// Adds the note no commit carried.
    fn add_pending_note(&mut self) -> Result<(), Error> {
        let Some((commit, record)) = self.pending_note.take() else {
            return Ok(());
        };
        crate::git::notes::Notes::new(self.git.clone(), self.store.local_dir())
            .append_packed(&commit, &record)
            .map_err(|e| Box::new(quality::Error::from(e)))?;
        Ok(())
    }

    /// One round: re-reads the state, then plans, or takes the next action the policy
    /// derives. `Some` when the run stops.
    fn round(
        &mut self,
        on_progress: &mut dyn FnMut(&execution::Progress),
    ) -> Result<Option<Stop>, Error> {
        if let Some(signal) = crate::process::interrupted() {
            let why = format!("godzilla received {}", signal.as_str());
            return Ok(Some(Stop::Interrupted(why)));
        }
        let id = self.id();
        let loaded = execution::load_at(self.ctx, self.store.clone(), id).map_err(Box::new)?;
        let status = loaded.state.status.unwrap_or(ProtocolStatus::Pending);
        let stop = match status {
            ProtocolStatus::Paused => Some(Stop::Paused),
            ProtocolStatus::Cancelled => Some(Stop::Cancelled),
            ProtocolStatus::Completed => Some(Stop::Completed),
            _ => None,
        };
        if stop.is_some() {
            return Ok(stop);
        }
        let open = clarifications::open_blocking(&self.store, id)?;
        if !open.is_empty() {
            return Ok(Some(Stop::Clarification(open)));
        }
        if matches!(status, ProtocolStatus::Pending | ProtocolStatus::Planning)
            || (status == ProtocolStatus::Blocked && loaded.state.steps.is_empty())
        {
            return self.plan(&loaded);
        }
        let Some(protocol_spec) = spec::load_spec(&loaded.store, id).map_err(Box::new)? else {
            let why = "the protocol has no spec; run `godzilla spec validate`";
            return Ok(Some(Stop::Blocked(why.into())));
        };
        if let Some(stop) = self.reached_until(&protocol_spec, &loaded)? {
            return Ok(Some(stop));
        }
        // The whole log is read only where a decision needs more than the folded state: a
        // step's round must not cost a parse of every event so far (#13).
        let store = &self.store;
        let log = || sorted_log(store, id);
        match policy::next_action(&protocol_spec, &loaded.state) {
            NextAction::Complete => {
                let log = log()?;
                self.complete(&protocol_spec, &log, status).map(Some)
            }
            NextAction::Stuck(step) => {
                let log = log()?;
                let reason = if status == ProtocolStatus::Blocked {
                    last_block_reason(&log)
                } else {
                    stuck_reason(&log, &step, &loaded.state)
                };
                self.blocked(reason).map(Some)
            }
            NextAction::AwaitApproval(step) => {
                if !self.opts.yes {
                    return Ok(Some(Stop::Approval(step)));
                }
                super::approve_step(self.ctx, &self.store, id, &step, "approved with --yes")?;
                self.actions.push(format!("approved {step}"));
                Ok(None)
            }
            NextAction::Execute(step) => self.execute(&loaded, &step, on_progress),
            NextAction::Qa(step) => self.qa(&loaded, &step),
        }
    }

    /// Plans the protocol (and commits what planning recorded).
    fn plan(&mut self, loaded: &Loaded) -> Result<Option<Stop>, Error> {
        let opts = self.opts;
        let plan = PlanOptions {
            engine: opts.engines.get(Phase::Planning),
            model: opts.models.get(Phase::Planning),
            timeout: opts.timeout,
        };
        let result = planning::plan_protocol(
            self.ctx,
            &self.store,
            &loaded.config,
            &loaded.engines,
            self.lock,
            &plan,
        );
        commit_state(&self.store, &self.git, self.id(), "plan")?;
        match result {
            Ok(outcome) => {
                self.actions
                    .push(format!("planned {} steps", outcome.steps.len()));
                Ok(None)
            }
            Err(planning::Error::Failed { reason, .. }) => Ok(Some(Stop::Blocked(reason))),
            Err(planning::Error::Budget(reason)) => Ok(Some(Stop::Budget(reason))),
            Err(planning::Error::Interrupted { reason, .. }) => Ok(Some(Stop::Interrupted(reason))),
            Err(planning::Error::Clarifications(keys)) => Ok(Some(Stop::Clarification(keys))),
            Err(other) => Err(Error::Planning(Box::new(other))),
        }
    }

    /// The stop at `--until` once that step is completed; a step the spec does not have would
    /// never stop the run: refused, not run through.
    fn reached_until(
        &self,
        protocol_spec: &ProtocolSpec,
        loaded: &Loaded,
    ) -> Result<Option<Stop>, Error> {
        let Some(until) = &self.opts.until else {
            return Ok(None);
        };
        if protocol_spec.step(until).is_none() {
            return Err(Box::new(execution::Error::NoStep {
                protocol: self.id().clone(),
                step: until.clone(),
            })
            .into());
        }
        let done = loaded
            .state
            .step(until)
            .is_some_and(|s| s.status == StepStatus::Completed);
        Ok(done.then(|| Stop::Until(until.clone())))
    }

    /// Completes the protocol once its completion is verified; blocks it otherwise.
    fn complete(
        &mut self,
        protocol_spec: &ProtocolSpec,
        log: &[Event],
        status: ProtocolStatus,
    ) -> Result<Stop, Error> {
        if let Err(unverified) = verify_completion(&self.git, protocol_spec, log) {
            return self.blocked(unverified.to_string());
        }
        let (ctx, store, id) = (self.ctx, &self.store, self.id());
        if status != ProtocolStatus::Running {
            telemetry::log_protocol_event(
                ctx,
                store,
                id,
                None,
                EventKind::ProtocolStarted,
                "execution started",
                Default::default(),
            )?;
        }
        telemetry::log_protocol_event(
            ctx,
            store,
            id,
            None,
            EventKind::ProtocolCompleted,
            "every step verified",
            Default::default(),
        )?;
        commit_state(store, &self.git, id, "completed")?;
        self.actions.push("completed".to_owned());
        Ok(Stop::Completed)
    }

    /// Blocks the protocol for `reason` and commits that.
    fn blocked(&self, reason: String) -> Result<Stop, Error> {
        block(self.ctx, &self.store, self.id(), &reason)?;
        commit_state(&self.store, &self.git, self.id(), "blocked")?;
        Ok(Stop::Blocked(reason))
    }

    /// Runs an attempt of `step`; stops on what a retry cannot fix, applies the policies to
    /// an engine failure.
    fn execute(
        &mut self,
        loaded: &Loaded,
        step: &StepId,
        on_progress: &mut dyn FnMut(&execution::Progress),
    ) -> Result<Option<Stop>, Error> {
        let opts = self.opts;
        // A step's first attempt has no verdict to learn from: no need to search the log.
        let attempted = loaded
            .state
            .steps
            .iter()
            .any(|s| &s.id == step && s.attempts > 0);
        let feedback = if attempted {
            quality::last_failed_report(&self.store, self.id(), step)?
        } else {
            None
        };
        let run_opts = StepRunOptions {
            engine: opts.engines.get(Phase::Exec),
            model: opts.models.get(Phase::Exec),
            timeout: opts.timeout,
            feedback,
            carry_note: self.pending_note.clone(),
        };
        let result = match execution::execute_step(
            self.ctx,
            loaded,
            self.lock,
            step,
            &run_opts,
            on_progress,
        ) {
            Ok(r) => r,
            Err(execution::Error::Budget(reason)) => return Ok(Some(Stop::Budget(reason))),
            Err(execution::Error::ProtocolState {
                status: ProtocolStatus::Paused,
                ..
            }) => {
                return Ok(Some(Stop::Paused));
            }
            Err(e) => return Err(Box::new(e).into()),
        };
        // The attempt's commit carried the verdict's note before it.
        self.pending_note = None;
        self.last_committed_attempt = Some(step.clone());
        let outcome = &result.outcome;
        self.actions.push(format!(
            "ran {step} (attempt {}): {}",
            result.plan.attempt,
            outcome.classification.as_str()
        ));
        match outcome.classification {
            Classification::Ok => Ok(None),
            Classification::Interrupted => Ok(Some(Stop::Interrupted(
                outcome.error.clone().unwrap_or_default(),
            ))),
            // Retrying cannot fix a missing key, quota or executable: stop and say so.
            c @ (Classification::Auth
            | Classification::RateLimit
            | Classification::NotInstalled) => {
                let reason = format!(
                    "{step}: the engine failed with {}: {}",
                    c.as_str(),
                    outcome.error.clone().unwrap_or_default()
                );
                self.blocked(reason).map(Some)
            }
            Classification::EngineError | Classification::Timeout => {
                let log = sorted_log(&self.store, self.id())?;
                let decided = decide_and_apply(
                    self.ctx,
                    loaded,
                    &log,
                    step,
                    Outcome::Fail,
                    &mut self.actions,
                )?;
                if let Some(reason) = decided {
                    return self.blocked(reason).map(Some);
                }
                commit_state(&self.store, &self.git, self.id(), "policy")?;
                Ok(None)
            }
        }
    }

    /// Judges `step`'s attempt and applies the policies to the verdict. The verdict's files
    /// ride along with the next commit (attempt, stop or completion).
    fn qa(&mut self, loaded: &Loaded, step: &StepId) -> Result<Option<Stop>, Error> {
        let (ctx, opts, id) = (self.ctx, self.opts, self.id());
        let qa_opts = QaOptions {
            engine: opts.engines.get(Phase::Qa),
            model: opts.models.get(Phase::Qa),
            timeout: opts.timeout,
            defer_commit: true,
            // The attempt was committed with everything (`git add --all`) by this run.
            worktree_committed: self.last_committed_attempt.as_ref() == Some(step),
            again: false,
            carry_note: true,
        };
        let result = match quality::evaluate_step(ctx, loaded, self.lock, step, &qa_opts) {
            Ok(r) => r,
            Err(quality::Error::Budget(reason)) => {
                commit_state(&self.store, &self.git, id, "budget")?;
                return Ok(Some(Stop::Budget(reason)));
            }
            Err(quality::Error::Interrupted { reason, .. }) => {
                commit_state(&self.store, &self.git, id, "interrupted")?;
                return Ok(Some(Stop::Interrupted(reason)));
            }
            Err(e) => return Err(Box::new(e).into()),
        };
        if let (Some(record), Some(commit)) = (&result.pending_note, &result.commit) {
            // One note waits at a time: one no attempt carried goes first, on its own.
            self.add_pending_note()?;
            self.pending_note = Some((commit.clone(), record.clone()));
            crate::fault::point("run.verdict_note_pending");
        }
        let verdict = format!("{:?}", result.verdict).to_lowercase();
        self.actions
            .push(format!("QA {step}: {:?}", result.verdict).to_lowercase());
        // Shown as each step ends, not only in the summary when the run stops.
        ctx.reporter.status(
            "Judged",
            &format!("{id} {step}: QA {verdict} → {}", result.step_status),
        );
        let outcome = match result.verdict {
            Verdict::Pass | Verdict::Skipped => Outcome::Pass,
            Verdict::Fail => Outcome::Fail,
            Verdict::Error => {
                let reasons = result.reasons.join("; ");
                return self
                    .blocked(format!("QA of {step} could not judge: {reasons}"))
                    .map(Some);
            }
        };
        let log = sorted_log(&self.store, id)?;
        match decide_and_apply(ctx, loaded, &log, step, outcome, &mut self.actions)? {
            Some(reason) => self.blocked(reason).map(Some),
            None => Ok(None),
        }
    }
}

fn commit_state(store: &Store, git: &Git, id: &ProtocolId, what: &str) -> Result<(), Error> {
    if store.defers_views() {
        ProtocolRepository::refresh_view(store, id)?;
    }
    if !git.dirty_paths()?.is_empty() {
        git.commit_all(&format!(
            "chore({id}): record {what}\n\nGodzilla-Protocol: {id}\n"
        ))?;
    }
    Ok(())
}

fn summary(
    store: &Store,
    id: &ProtocolId,
    stop: Stop,
    actions: Vec<String>,
) -> Result<RunSummary, Error> {
    let state = ProtocolRepository::load_state(store, id)?.state;
    Ok(RunSummary {
        next: stop.explain(id).1,
        protocol: id.clone(),
        status: state.status,
        steps: state
            .steps
            .iter()
            .map(|s| (s.id.clone(), s.status, s.attempts))
            .collect(),
        tokens: state.tokens,
        stop,
        actions,
    })
}

#[cfg(test)]
mod approval_tests {
    use super::*;
    use crate::domain::spec::step_from_file;

    fn event(lamport: u64, kind: EventKind, meta: serde_json::Value) -> Event {
        Event::new(
            lamport,
            "2001-02-03T04:05:06Z".into(),
            ProtocolId::parse("0001-x").ok(),
            StepId::parse("01-ship").ok(),
            kind,
            String::new(),
            meta.as_object().cloned().unwrap_or_default(),
            lamport,
        )
    }

    #[test]
    fn test_an_approval_covers_only_the_attempt_it_approved() {
        let mut step = step_from_file(
            StepId::parse("01-ship").unwrap(),
            "Ship".into(),
            crate::config::QaPolicy::Full,
        );
        step.needs_approval = true;
        let spec = ProtocolSpec {
            version: crate::domain::spec::SPEC_VERSION,
            protocol: ProtocolId::parse("0001-x").unwrap(),
            source: "files".into(),
            steps: vec![step],
        };
        let git = Git::new("git", std::path::Path::new("/nonexistent"));
        let mut log = vec![
            event(1, EventKind::StepStarted, serde_json::json!({"run": "a1"})),
            event(2, EventKind::StepExecuted, serde_json::json!({"run": "a1"})),
            event(
                3,
                EventKind::ManualApproval,
                serde_json::json!({"exec_run": "a1", "attempt": 1}),
            ),
        ];
        verify_completion(&git, &spec, &log).unwrap();
        // A later attempt (reopened by a loop policy) is not covered by the old approval.
        log.push(event(4, EventKind::StepReopened, serde_json::json!({})));
        log.push(event(
            5,
            EventKind::StepStarted,
            serde_json::json!({"run": "a2"}),
        ));
        log.push(event(
            6,
            EventKind::StepExecuted,
            serde_json::json!({"run": "a2"}),
        ));
        let err = verify_completion(&git, &spec, &log).unwrap_err();
        assert!(
            matches!(&err, Unverified::StaleApproval { approved, .. } if approved == "a1"),
            "{err}"
        );
        // An approval of the new attempt covers it.
        log.push(event(
            7,
            EventKind::ManualApproval,
            serde_json::json!({"exec_run": "a2", "attempt": 2}),
        ));
        verify_completion(&git, &spec, &log).unwrap();
    }
}
