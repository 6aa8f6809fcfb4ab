//! Planning: an engine turns a protocol's description into `plan.md` and ordered step files.
//!
//! The answer is JSON (`{"plan", "steps": [{"filename", "content"}]}`) checked against the
//! schema shipped in the binary, whether or not the engine enforced it; code fences are
//! stripped; every filename must be a step id (`NN-slug.md`: no paths, no traversal). One
//! retry feeds the problems back to the engine. A failure leaves the protocol `blocked` with a
//! `planning_failed` event that carries the error. There is no stub plan: no engine, no plan.

use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::context::Context;
use crate::domain::budget::BudgetDecision;
use crate::domain::name::check_unique_casefold;
use crate::domain::{EventKind, ProtocolId, ProtocolStatus, StepId};
use crate::engines::{self, Classification, Phase};
use crate::error_kind::{ErrorKind, HasKind};
use crate::git::Git;
use crate::services::budget::{self, PlannedRun};
use crate::services::platform::engines::{self as platform_engines, Choice, Engines};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{self, RunLock, Store};
use crate::services::platform::telemetry::{self, prices::Cost};
use crate::services::prompts::{self, Role};
use crate::services::spec;

/// The planning answer schema, shipped in the binary and passed to engines that take one.
pub const PLANNING_SCHEMA: &str = include_str!("../../schemas/planning.schema.json");

/// Largest answer read at all: a plan is text, not a data dump.
const MAX_ANSWER: usize = 2 * 1024 * 1024;

/// Attempts: the first, and one retry with the problems fed back.
const ATTEMPTS: u32 = 2;

/// Errors from planning.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// No engine could be selected for planning.
    #[error(transparent)]
    Selection(#[from] platform_engines::Error),
    /// The engine's command comes from an untrusted config.
    #[error(transparent)]
    Untrusted(#[from] crate::services::trust::Untrusted),
    /// The prompt could not be rendered.
    #[error(transparent)]
    Prompt(#[from] prompts::Error),
    /// The spec service failed.
    #[error(transparent)]
    Spec(#[from] spec::Error),
    /// The protocol cannot be planned in its state.
    #[error("protocol {protocol} is {status}; only pending or blocked protocols are planned")]
    State {
        /// The protocol.
        protocol: ProtocolId,
        /// Its status.
        status: String,
    },
    /// The budget refused the run.
    #[error("budget exceeded: {0}")]
    Budget(String),
    /// The policy could not be read.
    #[error(transparent)]
    Policy(#[from] crate::services::policy::Error),
    /// Blocking questions must be answered before planning.
    #[error("waiting for answers to {}", .0.join(", "))]
    Clarifications(Vec<String>),
    /// Planning failed; the protocol is blocked.
    #[error("planning {protocol} failed: {reason}")]
    Failed {
        /// The protocol.
        protocol: ProtocolId,
        /// Why.
        reason: String,
    },
    /// godzilla was stopped (SIGINT/SIGTERM) while the planning engine worked; recorded as
    /// `planning_interrupted`, the protocol plans again next time.
    #[error("planning {protocol} was interrupted: {reason}")]
    Interrupted {
        /// The protocol.
        protocol: ProtocolId,
        /// What stopped it.
        reason: String,
    },
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::Selection(e) => e.kind(),
            Self::Untrusted(e) => e.kind(),
            Self::Prompt(e) => e.kind(),
            Self::Spec(e) => e.kind(),
            Self::State { .. } => ErrorKind::Usage,
            // The policy packs are configuration: whatever stopped them from loading, planning
            // refuses as on a bad config.
            Self::Policy(_) => ErrorKind::Usage,
            // Blocked: by the budget, by open questions, by a failed plan.
            Self::Budget(_) | Self::Clarifications(_) | Self::Failed { .. } => ErrorKind::Negative,
            // The process exits as the signal would (128+signal) whatever this says.
            Self::Interrupted { .. } => ErrorKind::Failed,
        }
    }
}

/// What the caller asks for.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// `--engine`.
    pub engine: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
}

/// A successful plan.
#[derive(Clone, Debug, Serialize)]
pub struct PlanOutcome {
    /// The steps written.
    pub steps: Vec<StepId>,
    /// Hash of the stored spec.
    pub spec_hash: String,
    /// Attempts used.
    pub attempts: u32,
    /// Tokens used.
    pub tokens: u64,
    /// Things worth knowing (e.g. weak grounding).
    pub warnings: Vec<String>,
}

/// A validated planning answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanAnswer {
    /// `plan.md`.
    pub plan: String,
    /// Step files in order.
    pub steps: Vec<(StepId, String)>,
}

/// Checks an engine's answer: JSON (fences stripped), the schema, step-id filenames, no
/// duplicates. Returns every problem so the retry can fix them all.
pub fn parse_answer(
    structured: Option<&serde_json::Value>,
    text: Option<&str>,
) -> Result<PlanAnswer, Vec<String>> {
    let value = match (structured, text) {
        (Some(v), _) => v.clone(),
        (None, Some(t)) if t.len() > MAX_ANSWER => {
            return Err(vec![format!(
                "the answer is {} bytes; at most {MAX_ANSWER} are read",
                t.len()
            )]);
        }
        (None, Some(t)) => match engines::extract_json(t).or_else(|| outermost_object(t)) {
            Some(v) => v,
            None => return Err(vec!["the answer is not a JSON object".into()]),
        },
        (None, None) => return Err(vec!["the engine gave no answer".into()]),
    };
    let mut problems = spec::schema_errors(PLANNING_SCHEMA, &value);
    if !problems.is_empty() {
        return Err(problems);
    }
    let plan = value["plan"].as_str().unwrap_or_default().to_owned();
    let mut steps = Vec::new();
    for (i, item) in value["steps"].as_array().into_iter().flatten().enumerate() {
        let filename = item["filename"].as_str().unwrap_or_default();
        let content = item["content"].as_str().unwrap_or_default();
        match filename.strip_suffix(".md").map(StepId::parse) {
            Some(Ok(id)) => steps.push((id, content.to_owned())),
            Some(Err(e)) => problems.push(format!("/steps/{i}/filename: `{filename}`: {e}")),
            None => problems.push(format!("/steps/{i}/filename: `{filename}` must end in .md")),
        }
        if content.trim().is_empty() {
            problems.push(format!("/steps/{i}/content: empty"));
        }
    }
    if let Err(e) = check_unique_casefold(steps.iter().map(|(id, _)| id.as_str())) {
        problems.push(format!("/steps: {e}"));
    }
    if problems.is_empty() {
        Ok(PlanAnswer { plan, steps })
    } else {
        Err(problems)
    }
}

/// The outermost `{...}` of a text, for answers wrapped in prose.
fn outermost_object(text: &str) -> Option<serde_json::Value> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    (end > start)
        .then(|| serde_json::from_str(&text[start..=end]).ok())
        .flatten()
}

/// Plans `protocol` in the worktree of `store`. On success the protocol is `planned` with
/// its plan, step files, spec and steps; on failure it is `blocked`.
///
/// Under the protocol's run lock, a protocol found `planning` is one whose planning process
/// died.
pub fn plan_protocol(
    ctx: &Context,
    store: &Store,
    config: &Config,
    engines: &Engines,
    lock: &RunLock,
    opts: &PlanOptions,
) -> Result<PlanOutcome, Error> {
    let protocol = lock.protocol();
    ready_to_plan(ctx, store, protocol)?;
    // Refusals come before the first event: no engine means no plan, and no trace.
    let selection = planner(ctx, store, config, engines, opts)?;
    let header = ProtocolRepository::load_header(store, protocol)?;
    let policy = crate::services::policy::load(store)?;
    crate::services::policy::ensure_clarifications(ctx, store, protocol, &policy)?;
    let open = crate::services::clarifications::open_blocking(store, protocol)
        .map_err(crate::services::policy::Error::from)?;
    if !open.is_empty() {
        return Err(Error::Clarifications(open));
    }
    let template = prompts::resolve_prompt(store, Role::Planning)?;
    let git = Git::new(ctx.git_program(), store.root());
    let snapshot = crate::git::snapshot::repo_snapshot(&git, store.root())?;

    telemetry::log_protocol_event(
        ctx,
        store,
        protocol,
        None,
        EventKind::PlanningStarted,
        format!("planning with {}", selection.engine.name()),
        Default::default(),
    )?;
    let mut run = PlanningRun {
        ctx,
        store,
        config,
        protocol,
        selection,
        opts,
        tokens: 0,
        cost: None,
        transcripts: Vec::new(),
    };
    let mut feedback = String::new();
    let mut last_problems = Vec::new();
    for attempt in 1..=ATTEMPTS {
        let prompt = template.render(&serde_json::json!({
            "protocol": {"id": protocol, "description": header.description},
            "repo": snapshot.to_prompt(),
            "guidelines": policy.guidelines,
            "feedback": feedback,
            "plan": "", "step": {"id": "", "text": ""}, "diff": "", "checks": [],
        }))?;
        let outcome = run.ask(prompt, attempt)?;
        let parsed = parse_answer(
            outcome.structured.as_ref(),
            outcome.final_message.as_deref(),
        )
        .and_then(|answer| check_sections(ctx, &policy, answer));
        match parsed {
            Ok(answer) => {
                let PlanningRun {
                    tokens,
                    cost,
                    transcripts,
                    ..
                } = &run;
                return finish(
                    ctx,
                    store,
                    config,
                    protocol,
                    &snapshot,
                    answer,
                    attempt,
                    *tokens,
                    *cost,
                    transcripts,
                );
            }
            Err(problems) => {
                ctx.reporter.warn(&format!(
                    "planning answer rejected: {}",
                    problems.join("; ")
                ));
                feedback = problems
                    .iter()
                    .map(|p| format!("- {p}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                last_problems = problems;
            }
        }
    }
    Err(run.fail(format!(
        "the answer was invalid after {ATTEMPTS} attempts: {}",
        last_problems.join("; ")
    )))
}

/// Refuses to plan a protocol past planning. Under the run lock, a protocol found
/// `planning` is one whose planning process died: that attempt is voided, as an interrupted
/// step attempt is, and planning starts again.
fn ready_to_plan(ctx: &Context, store: &Store, protocol: &ProtocolId) -> Result<(), Error> {
    let state = ProtocolRepository::load_state(store, protocol)?.state;
    let mut status = state.status.unwrap_or(ProtocolStatus::Pending);
    if status == ProtocolStatus::Planning {
        telemetry::log_protocol_event(
            ctx,
            store,
            protocol,
            None,
            EventKind::PlanningInterrupted,
            "the previous planning run's process died",
            Default::default(),
        )?;
        status = ProtocolStatus::Pending;
    }
    if !matches!(status, ProtocolStatus::Pending | ProtocolStatus::Blocked) {
        return Err(Error::State {
            protocol: protocol.clone(),
            status: status.to_string(),
        });
    }
    Ok(())
}

/// The planning engine, refused when untrusted or missing.
fn planner(
    ctx: &Context,
    store: &Store,
    config: &Config,
    engines: &Engines,
    opts: &PlanOptions,
) -> Result<platform_engines::Selection, Error> {
    let selection = engines.select(
        Phase::Planning,
        &Choice {
            flag_engine: opts.engine.as_deref(),
            flag_model: opts.model.as_deref(),
            ..Choice::default()
        },
    )?;
    crate::services::trust::require_engine(
        store,
        config,
        ctx.env.trust_config,
        selection.engine.name(),
    )?;
    selection.engine.check_installed()?;
    Ok(selection)
}

/// A planning run after `planning_started`: what its attempts spent and left.
struct PlanningRun<'a> {
    ctx: &'a Context,
    store: &'a Store,
    config: &'a Config,
    protocol: &'a ProtocolId,
    selection: platform_engines::Selection,
    opts: &'a PlanOptions,
    tokens: u64,
    /// What the attempts cost, rejected ones included; `None` while no attempt was priced.
    cost: Option<Cost>,
    /// Every attempt's transcript, named in the planning event.
    transcripts: Vec<String>,
}

impl PlanningRun<'_> {
    /// Asks the engine once. An outcome that is no answer at all (budget refusal, engine
    /// failure, protected files touched) fails the planning: the engine is not asked again.
    fn ask(&mut self, prompt: String, attempt: u32) -> Result<engines::EngineOutcome, Error> {
        let (ctx, store, protocol) = (self.ctx, self.store, self.protocol);
        let used = ProtocolRepository::load_state(store, protocol)?
            .state
            .tokens;
        if let BudgetDecision::Refuse { reason } = budget::check_and_track(
            ctx,
            store,
            self.config,
            PlannedRun {
                protocol,
                step: None,
                phase: "planning",
                prompt: &prompt,
                used,
            },
        )? {
            self.record_failure(&format!("budget exceeded: {reason}"))?;
            return Err(Error::Budget(reason));
        }
        let request = self.request(prompt)?;
        let engine = self.selection.engine.clone();
        if let Err(e) = engine.check_recorded(
            &request.label,
            Phase::Planning,
            request.model.as_deref(),
            &request.prompt,
            store.root(),
        ) {
            storage::remove_scratch_dir(&request.scratch_dir);
            self.record_failure(&e.to_string())?;
            return Err(e.into());
        }
        ctx.reporter.status(
            "Planning",
            &format!("{protocol} with {} (attempt {attempt})", engine.name()),
        );
        let (run, changed, transcript) =
            crate::services::platform::engines::run_guarded(ctx, store, engine.as_ref(), &request)?;
        self.transcripts.push(transcript);
        let outcome = match run {
            Ok(o) => o,
            Err(e) => return Err(self.fail(e.to_string())),
        };
        self.tokens += outcome.usage.total();
        if let Some((c, _)) = telemetry::settle_cost(
            self.config,
            &request.label,
            request.model.as_deref(),
            &outcome.usage,
            outcome.cost_usd,
        ) {
            self.cost = Some(self.cost.unwrap_or_default() + c);
        }
        if outcome.classification == Classification::Interrupted {
            return Err(self.interrupted(&outcome)?);
        }
        if !changed.is_empty() {
            return Err(self.fail(format!(
                "the planning engine modified protected files (restored): {}",
                changed.join(", ")
            )));
        }
        if outcome.classification != Classification::Ok {
            // An engine error is not a planning answer; retrying the same request against a
            // failing engine only spends more.
            return Err(self.fail(format!(
                "{}: {}",
                outcome.classification.as_str(),
                outcome.error.as_deref().unwrap_or("the engine failed")
            )));
        }
        Ok(outcome)
    }

    /// Void, as an interrupted step attempt is: the protocol plans again next time.
    fn interrupted(&self, outcome: &engines::EngineOutcome) -> Result<Error, Error> {
        let reason = outcome
            .error
            .clone()
            .unwrap_or_else(|| "godzilla was stopped".into());
        let mut meta = serde_json::Map::new();
        meta.insert("reason".into(), reason.clone().into());
        meta.insert("tokens".into(), self.tokens.into());
        meta.insert("transcripts".into(), self.transcripts.clone().into());
        telemetry::log_protocol_event(
            self.ctx,
            self.store,
            self.protocol,
            None,
            EventKind::PlanningInterrupted,
            format!("planning interrupted: {reason}; it plans again next time"),
            meta,
        )?;
        Ok(Error::Interrupted {
            protocol: self.protocol.clone(),
            reason,
        })
    }

    fn request(&self, prompt: String) -> Result<engines::EngineRequest, Error> {
        let (ctx, protocol) = (self.ctx, self.protocol);
        let schema: serde_json::Value = serde_json::from_str(PLANNING_SCHEMA).unwrap_or_default();
        Ok(crate::services::platform::engines::phase_request(
            self.store,
            self.config,
            &self.selection,
            crate::services::platform::engines::PhaseRun {
                phase: Phase::Planning,
                label: format!("{protocol}/plan/planning"),
                run: format!("plan-{protocol}-{}", ctx.ids.token()),
                prompt,
                schema: Some(schema),
                timeout: self.opts.timeout,
            },
        )?)
    }

    /// Records `planning_failed`.
    fn record_failure(&self, reason: &str) -> Result<(), Error> {
        fail(
            self.ctx,
            self.store,
            self.protocol,
            reason,
            self.tokens,
            self.cost,
            &self.transcripts,
        )
    }

    /// Records `planning_failed` and returns the error that says why (or the error recording
    /// it met).
    fn fail(&self, reason: String) -> Error {
        match self.record_failure(&reason) {
            Ok(()) => Error::Failed {
                protocol: self.protocol.clone(),
                reason,
            },
            Err(e) => e,
        }
    }
}

/// Required sections of the policy: missing ones are problems in `block` mode (fed back to
/// the engine like any other), warnings in `warn` mode.
fn check_sections(
    ctx: &Context,
    policy: &crate::services::policy::Policy,
    answer: PlanAnswer,
) -> Result<PlanAnswer, Vec<String>> {
    let missing: Vec<String> = answer
        .steps
        .iter()
        .filter_map(|(id, text)| {
            let m = crate::services::policy::missing_sections(policy, text);
            (!m.is_empty())
                .then(|| format!("step {id} lacks the required sections {}", m.join(", ")))
        })
        .collect();
    if policy.mode == crate::services::policy::Mode::Block && !missing.is_empty() {
        return Err(missing);
    }
    for m in &missing {
        ctx.reporter.warn(&format!("policy {}: {m}", policy.pack));
    }
    Ok(answer)
}

fn fail(
    ctx: &Context,
    store: &Store,
    protocol: &ProtocolId,
    reason: &str,
    tokens: u64,
    cost: Option<Cost>,
    transcripts: &[String],
) -> Result<(), Error> {
    let mut meta = serde_json::Map::new();
    meta.insert("error".into(), reason.into());
    meta.insert("tokens".into(), tokens.into());
    if let Some(c) = cost {
        meta.insert("cost_usd".into(), c.usd().into());
    }
    if !transcripts.is_empty() {
        meta.insert("transcripts".into(), transcripts.into());
    }
    telemetry::log_protocol_event(
        ctx,
        store,
        protocol,
        None,
        EventKind::PlanningFailed,
        format!("planning failed: {reason}"),
        meta,
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn finish(
    ctx: &Context,
    store: &Store,
    config: &Config,
    protocol: &ProtocolId,
    snapshot: &crate::git::snapshot::RepoSnapshot,
    answer: PlanAnswer,
    attempts: u32,
    tokens: u64,
    cost: Option<Cost>,
    transcripts: &[String],
) -> Result<PlanOutcome, Error> {
    let mut warnings = Vec::new();
    let all_text: String = std::iter::once(answer.plan.as_str())
        .chain(answer.steps.iter().map(|(_, t)| t.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    let grounding = snapshot.grounding(&all_text);
    // A plan that names no file and no command of the repository was likely written for some
    // other repository (the original's planner was hard-wired to one); say so, do not block.
    if grounding == 0 && snapshot.paths.len() + snapshot.commands.len() > 0 {
        let w = "the plan mentions none of the repository's files or commands; check that it fits this repository".to_owned();
        ctx.reporter.warn(&w);
        warnings.push(w);
    }
    spec::write_steps(store, protocol, Some(&answer.plan), &answer.steps)?;
    let built = spec::build_spec_from_protocol(store, protocol, config.qa.policy, "plan")?;
    let hash = match spec::validate_and_persist_spec(ctx, store, &built) {
        Ok(h) => h,
        Err(e) => {
            fail(
                ctx,
                store,
                protocol,
                &e.to_string(),
                tokens,
                cost,
                transcripts,
            )?;
            return Err(e.into());
        }
    };
    spec::ensure_step_runs(ctx, store, &built)?;
    let mut meta = serde_json::Map::new();
    meta.insert("steps".into(), answer.steps.len().into());
    meta.insert("attempts".into(), attempts.into());
    meta.insert("tokens".into(), tokens.into());
    if let Some(c) = cost {
        meta.insert("cost_usd".into(), c.usd().into());
    }
    meta.insert("spec_hash".into(), hash.clone().into());
    meta.insert("transcripts".into(), transcripts.into());
    if !warnings.is_empty() {
        meta.insert("warnings".into(), warnings.clone().into());
    }
    telemetry::log_protocol_event(
        ctx,
        store,
        protocol,
        None,
        EventKind::Planned,
        format!("{} steps planned", answer.steps.len()),
        meta,
    )?;
    Ok(PlanOutcome {
        steps: answer.steps.into_iter().map(|(id, _)| id).collect(),
        spec_hash: hash,
        attempts,
        tokens,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(steps: serde_json::Value) -> String {
        serde_json::json!({"plan": "# Plan", "steps": steps}).to_string()
    }

    #[test]
    fn good_answers_parse_with_or_without_fences() {
        let text = answer(
            serde_json::json!([{"filename": "01-a.md", "content": "# A"}, {"filename": "02-b.md", "content": "# B"}]),
        );
        let a = parse_answer(None, Some(&text)).unwrap();
        assert_eq!(a.steps.len(), 2);
        let fenced = format!("Here you go:\n```json\n{text}\n```\nDone.");
        assert_eq!(parse_answer(None, Some(&fenced)).unwrap(), a);
        let prose = format!("Sure! {text} Hope this helps.");
        assert_eq!(parse_answer(None, Some(&prose)).unwrap(), a);
    }

    #[test]
    fn hostile_filenames_are_refused() {
        for bad in [
            "../evil.md",
            "/etc/x",
            "00-a/../../b.md",
            "01-A.md",
            "1-a.md",
            "01-a.txt",
            "01-a.lock.md",
        ] {
            let text = answer(serde_json::json!([{"filename": bad, "content": "x"}]));
            let err = parse_answer(None, Some(&text)).unwrap_err();
            assert!(!err.is_empty(), "{bad} accepted");
        }
    }

    #[test]
    fn missing_fields_extra_fields_and_non_json_are_refused() {
        assert!(parse_answer(None, Some("no json here")).is_err());
        assert!(parse_answer(None, Some(r#"{"plan": "x"}"#)).is_err());
        assert!(parse_answer(None, Some(r#"{"plan": "x", "steps": [], "extra": 1}"#)).is_err());
        assert!(parse_answer(None, None).is_err());
        let big = "x".repeat(MAX_ANSWER + 1);
        assert!(parse_answer(None, Some(&big)).unwrap_err()[0].contains("at most"));
        let dup = answer(
            serde_json::json!([{"filename": "01-a.md", "content": "x"}, {"filename": "01-a.md", "content": "y"}]),
        );
        assert!(parse_answer(None, Some(&dup)).is_err());
    }
}
