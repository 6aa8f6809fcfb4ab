//! The decomposition service: an engine refines a complex step's instructions in place, and
//! the spec of a protocol is rebuilt and checked after its step files change (by this
//! service or by hand: `godzilla spec show|validate`).
//!
//! A step is *simple* when it is short, has few non-empty lines and few list items; bullets
//! (`-`, `*`, `+`) and numbered items (`1.`, `1)`) both count. The original's numbered-list
//! pattern never matched, so a long numbered list passed as simple. Simple steps are left
//! alone. Any other step goes to the decompose engine (read-only), whose whole answer is the
//! refined step file. The answer replaces `steps/NN-slug.md` only when it validates: after
//! code fences are stripped it must be non-empty, bounded, and keep every heading of the
//! original. A rejected answer leaves the file byte for byte as it was and is reported;
//! nothing is ever half-written. Each rewrite is its own commit (`godzilla(<id>): decompose
//! <step>`), so the previous version stays in git history. `step_decomposed` events record
//! tokens and line counts, rejected and failed runs included, so budgets see every token
//! spent.
//!
//! This module never runs a step, never changes a step's status, and never writes outside
//! the protocol folder. Its commits name only that folder, so whatever else is in the
//! worktree stays out of them.

mod error;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::context::Context;
use crate::domain::budget::BudgetDecision;
use crate::domain::{EventKind, ProtocolId, ProtocolStatus, StepId, StepStatus};
use crate::engines::strip_fences;
use crate::engines::{self, Classification, Phase};
use crate::git::Git;
use crate::services::budget::{self, PlannedRun};
use crate::services::execution;
use crate::services::platform::engines::{self as platform_engines, Choice, Engines, Selection};
use crate::services::platform::protocols;
use crate::services::platform::storage::repo::{ProtocolRepository, StepRepository};
use crate::services::platform::storage::{self, RunLock, Store};
use crate::services::platform::telemetry;
use crate::services::prompts::{self, ResolvedPrompt, Role};
use crate::services::spec;

pub use error::Error;

/// A step longer than this (in characters) is not simple.
pub const SIMPLE_MAX_CHARS: usize = 1200;

/// A step with more non-empty lines than this is not simple.
pub const SIMPLE_MAX_LINES: usize = 12;

/// A step with more list items (bulleted or numbered) than this is not simple.
pub const SIMPLE_MAX_ITEMS: usize = 6;

/// Largest refined step accepted, in bytes: a step is instructions, not a dump; an answer
/// past this is a runaway engine, and writing it would bloat every later prompt.
pub const MAX_REFINED_BYTES: usize = 64 * 1024;

impl From<protocols::Error> for Error {
    fn from(e: protocols::Error) -> Self {
        Self::Protocols(Box::new(e))
    }
}

/// What the caller asks for.
#[derive(Clone, Debug, Default)]
pub struct DecomposeOptions {
    /// Only this step (`--step`); `None`: every pending step.
    pub step: Option<StepId>,
    /// `--engine`.
    pub engine: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// Refine even a step the simplicity rule would leave alone.
    pub force: bool,
}

/// How big a step is, as the simplicity rule measures it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Complexity {
    /// Characters (not bytes).
    pub chars: usize,
    /// Non-empty lines.
    pub lines: usize,
    /// List items: bullets and numbered items, outside code blocks.
    pub items: usize,
}

impl Complexity {
    /// Measures a step's text.
    pub fn of(text: &str) -> Self {
        Self {
            chars: text.chars().count(),
            lines: text.lines().filter(|l| !l.trim().is_empty()).count(),
            items: prose_lines(text).filter(|l| is_list_item(l)).count(),
        }
    }

    /// Short, few lines, few list items: nothing for an engine to refine.
    pub fn is_simple(&self) -> bool {
        self.chars <= SIMPLE_MAX_CHARS
            && self.lines <= SIMPLE_MAX_LINES
            && self.items <= SIMPLE_MAX_ITEMS
    }
}

/// Whether a step is simple enough to leave alone.
pub fn is_simple_step(text: &str) -> bool {
    Complexity::of(text).is_simple()
}

/// Lines outside fenced code blocks: a `# comment` or `- x` inside a shell snippet is code,
/// not a heading or a list item.
fn prose_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut fence: Option<&str> = None;
    text.lines().filter(move |line| {
        let trimmed = line.trim_start();
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                match fence {
                    None => fence = Some(marker),
                    Some(open) if open == marker => fence = None,
                    Some(_) => {}
                }
                return false;
            }
        }
        fence.is_none()
    })
}

/// `- x`, `* x`, `+ x`, `1. x`, `12) x` (indented too: nested items count).
fn is_list_item(line: &str) -> bool {
    let t = line.trim_start();
    let rest = if let Some(r) = t.strip_prefix(['-', '*', '+']) {
        r
    } else {
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        // CommonMark caps ordered-list numbers at nine digits.
        if digits == 0 || digits > 9 {
            return false;
        }
        match t[digits..].strip_prefix(['.', ')']) {
            Some(r) => r,
            None => return false,
        }
    };
    // A marker must be followed by a space (or end the line): `---` is a rule, `*bold*` is
    // emphasis, `3.14` is a number.
    rest.is_empty() || rest.starts_with([' ', '\t'])
}

/// The headings of a markdown text (ATX `#`..`######`, outside code blocks), normalised:
/// level, then the title with runs of whitespace collapsed and closing `#`s dropped.
pub fn headings(text: &str) -> Vec<String> {
    prose_lines(text)
        .filter_map(|line| {
            let t = line.trim_start();
            // More than three spaces of indentation makes it a code block, not a heading.
            if line.len() - t.len() > 3 {
                return None;
            }
            let level = t.bytes().take_while(|b| *b == b'#').count();
            if level == 0 || level > 6 {
                return None;
            }
            let rest = &t[level..];
            if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
                return None;
            }
            let title = rest.trim().trim_end_matches('#').trim();
            let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
            Some(format!("{} {title}", "#".repeat(level)))
        })
        .collect()
}

/// Checks a refined step against the original: non-empty after fence stripping, at most
/// [`MAX_REFINED_BYTES`], every heading of the original still present (as many times as
/// it appeared). Returns the text to write (ending in one newline) or every problem.
pub fn check_refinement(original: &str, answer: &str) -> Result<String, Vec<String>> {
    if answer.len() > MAX_REFINED_BYTES * 4 {
        return Err(vec![format!(
            "the answer is {} bytes; a refined step may have at most {MAX_REFINED_BYTES}",
            answer.len()
        )]);
    }
    let text = strip_fences(answer);
    let mut problems = Vec::new();
    if text.is_empty() {
        problems.push("the answer is empty".to_owned());
        return Err(problems);
    }
    if text.len() > MAX_REFINED_BYTES {
        problems.push(format!(
            "the answer is {} bytes; a refined step may have at most {MAX_REFINED_BYTES}",
            text.len()
        ));
    }
    let mut kept: BTreeMap<String, usize> = BTreeMap::new();
    for h in headings(text) {
        *kept.entry(h.to_lowercase()).or_insert(0) += 1;
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for h in headings(original) {
        let n = seen.entry(h.to_lowercase()).or_insert(0);
        *n += 1;
        if kept.get(&h.to_lowercase()).copied().unwrap_or(0) < *n {
            problems.push(format!("heading `{h}` of the original step is missing"));
        }
    }
    if problems.is_empty() {
        Ok(format!("{text}\n"))
    } else {
        Err(problems)
    }
}

/// What happened to one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum DecomposeResult {
    /// Simple: left alone, no engine run.
    Simple,
    /// Not pending: its instructions belong to a recorded attempt, left alone.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Rewritten in place and committed.
    Refined {
        /// Non-empty lines before.
        before_lines: usize,
        /// Non-empty lines after.
        after_lines: usize,
        /// Tokens the run used.
        tokens: u64,
        /// The commit holding the new version (its parent holds the old one).
        commit: String,
    },
    /// The engine gave the step back as it was.
    Unchanged {
        /// Tokens the run used.
        tokens: u64,
    },
    /// The answer did not validate; the step is unchanged.
    Rejected {
        /// Every problem found.
        problems: Vec<String>,
        /// Tokens the run used.
        tokens: u64,
    },
}

/// One step's decomposition.
#[derive(Clone, Debug, Serialize)]
pub struct StepDecomposition {
    /// The step.
    pub step: StepId,
    /// Its size before.
    pub complexity: Complexity,
    /// What happened.
    #[serde(flatten)]
    pub result: DecomposeResult,
}

impl StepDecomposition {
    /// Tokens spent on this step.
    pub fn tokens(&self) -> u64 {
        match &self.result {
            DecomposeResult::Refined { tokens, .. }
            | DecomposeResult::Unchanged { tokens }
            | DecomposeResult::Rejected { tokens, .. } => *tokens,
            DecomposeResult::Simple | DecomposeResult::Skipped { .. } => 0,
        }
    }
}

/// What decomposing a protocol did.
#[derive(Clone, Debug, Serialize)]
pub struct DecomposeSummary {
    /// The protocol.
    pub protocol: ProtocolId,
    /// The engine that ran (or would have run).
    pub engine: String,
    /// Its model, if one was chosen.
    pub model: Option<String>,
    /// Every step considered, in order.
    pub steps: Vec<StepDecomposition>,
    /// Steps rewritten.
    pub refined: usize,
    /// Steps whose answer was rejected.
    pub rejected: usize,
    /// Tokens spent.
    pub tokens: u64,
    /// Hash of the spec after the last rewrite, when one happened.
    pub spec_hash: Option<String>,
}

impl DecomposeSummary {
    fn push(&mut self, d: StepDecomposition) {
        self.tokens += d.tokens();
        match &d.result {
            DecomposeResult::Refined { .. } => self.refined += 1,
            DecomposeResult::Rejected { .. } => self.rejected += 1,
            DecomposeResult::Simple
            | DecomposeResult::Skipped { .. }
            | DecomposeResult::Unchanged { .. } => {}
        }
        self.steps.push(d);
    }
}

/// Finds the protocol, takes its run lock and decomposes one step (`opts.step`) or every
/// pending step: the entry point of `godzilla protocol decompose`.
pub fn decompose(
    ctx: &Context,
    protocol: &ProtocolId,
    opts: &DecomposeOptions,
) -> Result<DecomposeSummary, Error> {
    let loaded = execution::load(ctx, protocol)?;
    // The run lock keeps `step run` from reading a step file while it is being replaced.
    let lock = execution::try_lock_protocol_run(&loaded.store, protocol)?;
    let (store, config, engines) = (&loaded.store, &loaded.config, &loaded.engines);
    match &opts.step {
        Some(step) => {
            let selection = select(engines, opts)?;
            let one = decompose_step(ctx, store, config, engines, &lock, step, opts)?;
            let mut summary = empty_summary(protocol, &selection);
            summary.push(one);
            summary.spec_hash = spec::load_spec(store, protocol)?.map(|s| s.hash());
            Ok(summary)
        }
        None => decompose_protocol(ctx, store, config, engines, &lock, opts),
    }
}

fn empty_summary(protocol: &ProtocolId, selection: &Selection) -> DecomposeSummary {
    DecomposeSummary {
        protocol: protocol.clone(),
        engine: selection.engine.name().to_owned(),
        model: selection.model.clone(),
        steps: Vec::new(),
        refined: 0,
        rejected: 0,
        tokens: 0,
        spec_hash: None,
    }
}

fn select(engines: &Engines, opts: &DecomposeOptions) -> Result<Selection, Error> {
    let selection = engines.select(
        Phase::Decompose,
        &Choice {
            flag_engine: opts.engine.as_deref(),
            flag_model: opts.model.as_deref(),
            ..Choice::default()
        },
    )?;
    selection.engine.check_installed()?;
    Ok(selection)
}

/// Decomposes every pending step of the locked protocol, in order, under its run lock. An
/// engine failure stops the run (the next step would meet the same engine); steps refined
/// before it stay refined and committed.
pub fn decompose_protocol(
    ctx: &Context,
    store: &Store,
    config: &Config,
    engines: &Engines,
    lock: &RunLock,
    opts: &DecomposeOptions,
) -> Result<DecomposeSummary, Error> {
    let protocol = lock.protocol();
    let prepared = prepare(store, config, engines, protocol, opts, ctx.env.trust_config)?;
    if prepared.state.steps.is_empty() {
        return Err(Error::NoSteps(protocol.clone()));
    }
    let mut summary = empty_summary(protocol, &prepared.selection);
    for step in &prepared.state.steps {
        if step.status != StepStatus::Pending {
            summary.push(StepDecomposition {
                complexity: Complexity::of(&read_step(store, protocol, &step.id)?),
                step: step.id.clone(),
                result: DecomposeResult::Skipped {
                    reason: format!("step is {}", step.status),
                },
            });
            continue;
        }
        let done = decompose_one(ctx, store, config, &prepared, &step.id, opts)?;
        summary.push(done);
    }
    summary.spec_hash = spec::load_spec(store, protocol)?.map(|s| s.hash());
    Ok(summary)
}

/// Decomposes one pending step, under the protocol's run lock.
pub fn decompose_step(
    ctx: &Context,
    store: &Store,
    config: &Config,
    engines: &Engines,
    lock: &RunLock,
    step: &StepId,
    opts: &DecomposeOptions,
) -> Result<StepDecomposition, Error> {
    let protocol = lock.protocol();
    let prepared = prepare(store, config, engines, protocol, opts, ctx.env.trust_config)?;
    let state = prepared.state.step(step).ok_or_else(|| Error::NoStep {
        protocol: protocol.clone(),
        step: step.clone(),
    })?;
    if state.status != StepStatus::Pending {
        return Err(Error::StepState {
            step: step.clone(),
            status: state.status,
        });
    }
    decompose_one(ctx, store, config, &prepared, step, opts)
}

/// Everything checked and loaded before the first write.
struct Prepared {
    state: crate::domain::ProtocolState,
    selection: Selection,
    template: ResolvedPrompt,
    description: String,
    plan: String,
}

/// Every refusal, before anything is written: protocol state, engine, prompt template, and a
/// spec that already validates (a rewrite must not be blamed for an older problem).
fn prepare(
    store: &Store,
    config: &Config,
    engines: &Engines,
    protocol: &ProtocolId,
    opts: &DecomposeOptions,
    trust_override: bool,
) -> Result<Prepared, Error> {
    let state = ProtocolRepository::load_state(store, protocol)?.state;
    let status = state.status.unwrap_or(ProtocolStatus::Pending);
    let refuse = |why| {
        Err(Error::ProtocolState {
            protocol: protocol.clone(),
            status,
            why,
        })
    };
    match status {
        ProtocolStatus::Planned
        | ProtocolStatus::Running
        | ProtocolStatus::Blocked
        | ProtocolStatus::Failed => {}
        ProtocolStatus::Pending | ProtocolStatus::Planning => {
            return refuse("it has no steps yet; plan it first");
        }
        ProtocolStatus::Paused => {
            return refuse("no engine runs while it is paused; resume it first");
        }
        ProtocolStatus::Cancelled | ProtocolStatus::Completed => {
            return refuse("it is finished");
        }
    }
    let selection = select(engines, opts)?;
    crate::services::trust::require_engine(store, config, trust_override, selection.engine.name())
        .map_err(|e| Box::new(execution::Error::from(e)))?;
    let template = prompts::resolve_prompt(store, Role::Decompose)?;
    let current = spec::rebuild_spec(store, protocol, config)?;
    let issues = spec::validate_spec(store, &current.spec);
    if !issues.is_empty() {
        return Err(spec::Error::Invalid {
            protocol: protocol.clone(),
            issues,
        }
        .into());
    }
    let description = ProtocolRepository::load_header(store, protocol)?.description;
    let plan = storage::read_optional(&ProtocolRepository::plan_path(store, protocol))?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(Prepared {
        state,
        selection,
        template,
        description,
        plan,
    })
}

fn read_step(store: &Store, protocol: &ProtocolId, step: &StepId) -> Result<String, Error> {
    let path = StepRepository::step_path(store, protocol, step);
    storage::read_text(&path).map_err(Into::into)
}

/// Runs the engine on one step and applies or rejects its answer. Whatever state it
/// records (events, the rewrite, the spec) is committed before it returns, on every path.
fn decompose_one(
    ctx: &Context,
    store: &Store,
    config: &Config,
    prepared: &Prepared,
    step: &StepId,
    opts: &DecomposeOptions,
) -> Result<StepDecomposition, Error> {
    let protocol = &prepared.state.protocol;
    let original = read_step(store, protocol, step)?;
    let complexity = Complexity::of(&original);
    let done = |result| StepDecomposition {
        step: step.clone(),
        complexity,
        result,
    };
    if complexity.is_simple() && !opts.force {
        return Ok(done(DecomposeResult::Simple));
    }
    let result = refine(ctx, store, config, prepared, step, &original, opts);
    let subject = match &result {
        Ok(DecomposeResult::Refined { .. }) => format!("decompose {step}"),
        Ok(DecomposeResult::Rejected { .. }) => format!("decompose {step} rejected"),
        Ok(_) => format!("decompose {step} (unchanged)"),
        Err(_) => format!("decompose {step} failed"),
    };
    // Commit failures too: their events carry the tokens spent, and belong to the story.
    let commit = commit_protocol(ctx, store, protocol, step, &subject)?;
    let result = result?;
    Ok(done(match result {
        DecomposeResult::Refined {
            before_lines,
            after_lines,
            tokens,
            ..
        } => DecomposeResult::Refined {
            before_lines,
            after_lines,
            tokens,
            commit: commit.unwrap_or_default(),
        },
        other => other,
    }))
}

/// Runs the decompose engine on one step and records what came of it.
fn refine(
    ctx: &Context,
    store: &Store,
    config: &Config,
    prepared: &Prepared,
    step: &StepId,
    original: &str,
    opts: &DecomposeOptions,
) -> Result<DecomposeResult, Error> {
    let protocol = &prepared.state.protocol;
    let selection = &prepared.selection;
    let engine_name = selection.engine.name().to_owned();
    let request = refine_request(ctx, store, config, prepared, step, original, opts)?;
    ctx.reporter.status(
        "Decomposing",
        &format!(
            "{protocol} {step} with {engine_name}{}",
            selection
                .model
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
    );
    let (run, changed, transcript) =
        platform_engines::run_guarded(ctx, store, selection.engine.as_ref(), &request)?;
    let mut meta = serde_json::Map::new();
    meta.insert("transcript".into(), transcript.into());
    meta.insert("engine".into(), engine_name.into());
    meta.insert("model".into(), selection.model.clone().into());
    meta.insert(
        "prompt_version".into(),
        prepared.template.version_hash.clone().into(),
    );
    let before_lines = Complexity::of(original).lines;
    meta.insert("before_lines".into(), before_lines.into());
    let fail = |mut meta: serde_json::Map<String, serde_json::Value>, reason: String| {
        meta.insert("refined".into(), false.into());
        meta.insert("error".into(), reason.clone().into());
        telemetry::log_protocol_event(
            ctx,
            store,
            protocol,
            Some(step),
            EventKind::StepDecomposed,
            format!("decomposition failed, step unchanged: {reason}"),
            meta,
        )?;
        Err(Error::EngineFailed {
            step: step.clone(),
            reason,
        })
    };
    let outcome = match run {
        Ok(o) => o,
        Err(e) => {
            meta.insert("tokens".into(), 0.into());
            return fail(meta, e.to_string());
        }
    };
    let tokens = outcome.usage.total();
    meta.insert("tokens".into(), tokens.into());
    if let Some((cost, _)) = telemetry::settle_cost(
        config,
        &request.label,
        request.model.as_deref(),
        &outcome.usage,
        outcome.cost_usd,
    ) {
        meta.insert("cost_usd".into(), cost.usd().into());
    }
    if !changed.is_empty() {
        let reason = format!(
            "the decompose engine modified protected files (restored): {}",
            changed.join(", ")
        );
        return fail(meta, reason);
    }
    if outcome.classification != Classification::Ok {
        let reason = format!(
            "{}: {}",
            outcome.classification.as_str(),
            outcome.error.as_deref().unwrap_or("the engine failed")
        );
        return fail(meta, reason);
    }
    let answer = outcome.final_message.unwrap_or_default();
    apply_answer(
        ctx, store, config, protocol, step, original, &answer, tokens, meta,
    )
}

/// Renders the decompose prompt, checks the budget and builds the engine request.
fn refine_request(
    ctx: &Context,
    store: &Store,
    config: &Config,
    prepared: &Prepared,
    step: &StepId,
    original: &str,
    opts: &DecomposeOptions,
) -> Result<engines::EngineRequest, Error> {
    let protocol = &prepared.state.protocol;
    let selection = &prepared.selection;
    let prompt = prepared.template.render(&serde_json::json!({
        "protocol": {"id": protocol, "description": prepared.description},
        "plan": prepared.plan,
        "step": {"id": step, "text": original},
        "guidelines": "", "feedback": "", "diff": "", "checks": [], "repo": "",
    }))?;
    let used = ProtocolRepository::load_state(store, protocol)?
        .state
        .tokens;
    if let BudgetDecision::Refuse { reason } = budget::check_and_track(
        ctx,
        store,
        config,
        PlannedRun {
            protocol,
            step: Some(step),
            phase: "decompose",
            prompt: &prompt,
            used,
        },
    )? {
        return Err(Error::Budget(reason));
    }
    let request = platform_engines::phase_request(
        store,
        config,
        selection,
        platform_engines::PhaseRun {
            phase: Phase::Decompose,
            label: format!("{protocol}/{step}/decompose"),
            run: format!("decompose-{protocol}-{step}-{}", ctx.ids.token()),
            prompt,
            schema: None,
            timeout: opts.timeout,
        },
    )?;
    if let Err(e) = selection.engine.check_recorded(
        &request.label,
        Phase::Decompose,
        request.model.as_deref(),
        &request.prompt,
        store.root(),
    ) {
        crate::services::platform::storage::remove_scratch_dir(&request.scratch_dir);
        return Err(e.into());
    }
    Ok(request)
}

/// Checks the engine's answer and, when it is a real refinement, writes the step and renews
/// the spec; records `step_decomposed` either way.
#[allow(clippy::too_many_arguments)]
fn apply_answer(
    ctx: &Context,
    store: &Store,
    config: &Config,
    protocol: &ProtocolId,
    step: &StepId,
    original: &str,
    answer: &str,
    tokens: u64,
    mut meta: serde_json::Map<String, serde_json::Value>,
) -> Result<DecomposeResult, Error> {
    let before_lines = Complexity::of(original).lines;
    let refined = match check_refinement(original, answer) {
        Ok(text) => text,
        Err(problems) => {
            ctx.reporter.warn(&format!(
                "{protocol} {step}: refinement rejected, step unchanged: {}",
                problems.join("; ")
            ));
            meta.insert("refined".into(), false.into());
            meta.insert("problems".into(), problems.clone().into());
            telemetry::log_protocol_event(
                ctx,
                store,
                protocol,
                Some(step),
                EventKind::StepDecomposed,
                format!(
                    "refinement rejected, step unchanged: {}",
                    problems.join("; ")
                ),
                meta,
            )?;
            return Ok(DecomposeResult::Rejected { problems, tokens });
        }
    };
    if refined.trim_end() == original.trim_end() {
        meta.insert("refined".into(), false.into());
        telemetry::log_protocol_event(
            ctx,
            store,
            protocol,
            Some(step),
            EventKind::StepDecomposed,
            "the engine returned the step unchanged",
            meta,
        )?;
        return Ok(DecomposeResult::Unchanged { tokens });
    }
    let after_lines = Complexity::of(&refined).lines;
    StepRepository::write_step(store, protocol, step, &refined)?;
    meta.insert("refined".into(), true.into());
    meta.insert("after_lines".into(), after_lines.into());
    telemetry::log_protocol_event(
        ctx,
        store,
        protocol,
        Some(step),
        EventKind::StepDecomposed,
        format!("refined from {before_lines} to {after_lines} lines"),
        meta,
    )?;
    // The title may have changed with the text; engine, model and policies are kept.
    let mut rebuilt = spec::rebuild_spec(store, protocol, config)?;
    if let Some(s) = rebuilt.spec.steps.iter_mut().find(|s| &s.id == step) {
        s.name = spec::step_title(&refined, step);
    }
    spec::validate_and_persist_spec(ctx, store, &rebuilt.spec)?;
    spec::ensure_step_runs(ctx, store, &rebuilt.spec)?;
    Ok(DecomposeResult::Refined {
        before_lines,
        after_lines,
        tokens,
        commit: String::new(),
    })
}

/// Commits the protocol folder, and only it, when it has changes. Returns the commit.
fn commit_protocol(
    ctx: &Context,
    store: &Store,
    protocol: &ProtocolId,
    step: &StepId,
    subject: &str,
) -> Result<Option<String>, Error> {
    let git = Git::new(ctx.git_program(), store.root());
    let dir = store.protocol_dir(protocol);
    let rel = store.display(&dir).into_owned();
    if git
        .run(&["status", "--porcelain", "--", &rel])?
        .trim()
        .is_empty()
    {
        return Ok(None);
    }
    git.run(&["add", "--all", "--", &rel])?;
    let message = format!(
        "godzilla({protocol}): {subject}\n\nGodzilla-Protocol: {protocol}\nGodzilla-Step: {step}\n"
    );
    // Naming the folder commits only it: anything else staged in the worktree stays staged.
    git.run_with_stdin(
        &["commit", "--quiet", "--no-verify", "-F", "-", "--", &rel],
        message.as_bytes(),
    )?;
    Ok(git.head()?)
}

#[cfg(test)]
mod tests;
