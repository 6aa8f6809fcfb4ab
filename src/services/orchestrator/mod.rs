//! The orchestrator service: owns the protocol lifecycle. So far: creating protocol runs
//! (branch, worktree, header, events) and the read side (`status`) across the current
//! worktree, the other worktrees and the protocol branches.

mod refusals;
mod run;

// The read side lives below the step services (see `services::platform::protocols` and
// `services::show`); it is re-exported here because the CLI reaches it through the orchestrator.
pub use crate::services::platform::protocols::{
    Location, ProtocolSummary, StatusSummary, Stopped, locate, resolve_protocol, resolve_step,
    resolve_step_in, status, worktree_roots,
};
pub use crate::services::platform::worktrees;
pub use crate::services::show::{ProtocolDetail, StepDetail, show_protocol};
pub use run::{
    PerPhase, PerPhaseError, RUN_PHASES, RunOptions, RunSummary, Stop, Unverified, run_protocol,
    verify_completion,
};

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::context::Context;
use crate::domain::name::{check_unique_casefold, slugify};
use crate::domain::spec::{self as domain_spec, ProtocolSpec, StepSpec};
use crate::domain::{EventKind, NameError, ProtocolId, ProtocolState, ProtocolStatus, StepId};
use crate::engines::Phase;
use crate::error_kind::{ErrorKind, HasKind};
use crate::git::{Git, tree};
use crate::services::planning::{self, PlanOptions};
use crate::services::platform::engines::{self as platform_engines, Choice};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage::fsck::{self, FsckReport, Stamp};
use crate::services::platform::storage::repo::{ProtocolHeader, ProtocolRepository};
use crate::services::platform::storage::{self, RunLock, Store};
use crate::services::platform::telemetry;
use crate::services::{execution, spec};

/// Errors from the orchestrator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// Finding or reading a protocol failed.
    #[error(transparent)]
    Read(#[from] crate::services::platform::protocols::Error),
    /// `protocol show` failed.
    #[error(transparent)]
    Show(#[from] crate::services::show::Error),
    /// A name is invalid.
    #[error("invalid {what}")]
    Name {
        /// What was being named.
        what: String,
        /// Why.
        #[source]
        source: NameError,
    },
    /// The short name gives an empty slug.
    #[error("`{0}` has no letters or digits to make a protocol name from")]
    EmptySlug(String),
    /// A protocol with the same slug exists.
    #[error("a protocol named `{slug}` already exists: {existing}")]
    Duplicate {
        /// The slug.
        slug: String,
        /// The existing protocol.
        existing: ProtocolId,
    },
    /// The base branch does not exist.
    #[error("base branch `{0}` does not exist")]
    NoBase(String),
    /// A step file cannot be imported.
    #[error("cannot import step file {}: {reason}", path.display())]
    StepFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Engines could not be set up or selected.
    #[error(transparent)]
    Execution(#[from] Box<execution::Error>),
    /// Planning failed in a way that is not a planning answer (I/O, git).
    #[error(transparent)]
    Planning(Box<planning::Error>),
    /// The spec service failed.
    #[error(transparent)]
    Spec(#[from] Box<spec::Error>),
    /// QA failed to run.
    #[error(transparent)]
    Quality(#[from] Box<crate::services::quality::Error>),
    /// Clarifications could not be read.
    #[error(transparent)]
    Clarifications(#[from] crate::services::clarifications::Error),
    /// The step cannot be approved or retried in its state.
    #[error("step {step} is {status}; {why}")]
    StepState {
        /// The step.
        step: StepId,
        /// Its status.
        status: String,
        /// What would be needed.
        why: &'static str,
    },
    /// A pause, resume or cancel the protocol's status does not allow.
    #[error("protocol {id} is {status}, so it cannot be {verb}: {allowed}")]
    Control {
        /// The protocol.
        id: ProtocolId,
        /// Its status.
        status: &'static str,
        /// What was asked (`paused`...).
        verb: &'static str,
        /// What would allow it.
        allowed: &'static str,
    },
    /// `retry` without a step, and no step is failed or blocked.
    #[error("protocol {id} is {status}; none of its steps is failed or blocked")]
    NothingToRetry {
        /// The protocol.
        id: ProtocolId,
        /// Its status.
        status: &'static str,
    },
    /// A run went on far longer than any protocol can (a bug).
    #[error("protocol {0}: the run did not converge; this is a bug")]
    Runaway(ProtocolId),
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::Read(e) => e.kind(),
            Self::Show(e) => e.kind(),
            Self::Execution(e) => e.kind(),
            Self::Planning(e) => e.kind(),
            Self::Spec(e) => e.kind(),
            Self::Quality(e) => e.kind(),
            Self::Clarifications(e) => e.kind(),
            Self::Name { .. }
            | Self::EmptySlug(_)
            | Self::Duplicate { .. }
            | Self::NoBase(_)
            | Self::StepFile { .. }
            | Self::StepState { .. }
            | Self::Control { .. }
            | Self::NothingToRetry { .. } => ErrorKind::Usage,
            Self::Runaway(_) => ErrorKind::Internal,
        }
    }
}

/// `fsck` over every working tree that holds godzilla state (or over the one holding
/// `only`). Findings in other worktrees carry that worktree's path in their file name.
pub fn fsck(ctx: &Context, only: Option<&ProtocolId>, repair: bool) -> Result<FsckReport, Error> {
    let here = Store::new(&ctx.paths);
    let stores = match only {
        Some(id) => vec![locate(ctx, id)?],
        None => worktree_roots(ctx)
            .into_iter()
            .map(|root| Store::at(&root, here.local_dir()))
            .filter(|s| s.root() == here.root() || s.format_path().exists())
            .collect(),
    };
    let nonce = || ctx.ids.next_u64();
    let mut total = FsckReport::default();
    for store in stores {
        let stamp = repair.then(|| Stamp {
            ts: ctx.clock.now_rfc3339(),
            nonce: &nonce,
        });
        let mut report = fsck::check(&store, only, stamp)?;
        // Spec and run records are judged by the spec service (schema, domain rules).
        let (ids, _) = ProtocolRepository::list(&store)?;
        for id in ids.iter().filter(|id| only.is_none_or(|o| o == *id)) {
            report.problems.extend(spec::fsck_files(&store, id));
        }
        if store.root() != here.root() {
            let prefix = store.root().display().to_string();
            for p in report.problems.iter_mut().chain(report.warnings.iter_mut()) {
                p.file = format!("{prefix}/{}", p.file);
            }
        }
        total.protocols += report.protocols;
        total.events += report.events;
        total.problems.extend(report.problems);
        total.warnings.extend(report.warnings);
    }
    Ok(total)
}

/// Where a new protocol's steps come from.
#[derive(Clone, Debug, Default)]
pub enum StepSource {
    /// None yet (`--no-plan`): the protocol stays `pending`.
    #[default]
    None,
    /// `NN-slug.md` files in a directory.
    Files(PathBuf),
    /// An engine plans them.
    Plan(PlanOptions),
    /// An import (CodeMachine, Spec Kit) produced them.
    Imported(ImportedSteps),
}

/// Steps produced by an importer.
#[derive(Clone, Debug)]
pub struct ImportedSteps {
    /// `plan.md`, if the source has one.
    pub plan: Option<String>,
    /// Specs with their step file texts.
    pub steps: Vec<(StepSpec, String)>,
    /// `codemachine` or `speckit`.
    pub source: &'static str,
}

/// What `protocol new` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// Short name; the slug is made from it.
    pub short_name: String,
    /// What the protocol is for.
    pub description: String,
    /// Base branch (default: config's).
    pub base: Option<String>,
    /// Where the steps come from.
    pub steps: StepSource,
}

/// A created protocol.
#[derive(Clone, Debug, Serialize)]
pub struct ProtocolRun {
    /// Its id.
    pub id: ProtocolId,
    /// Its branch.
    pub branch: String,
    /// Its worktree.
    pub worktree: String,
    /// Its status after creation.
    pub status: ProtocolStatus,
    /// Its steps.
    pub steps: Vec<StepId>,
    /// Hash of its spec, when it has steps.
    pub spec_hash: Option<String>,
    /// Things worth knowing (weak grounding, import warnings).
    pub warnings: Vec<String>,
    /// Why planning failed, when it did (the protocol is then `blocked`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planning_error: Option<String>,
}

/// Largest step file accepted: instructions, not data, but long specifications happen.
const MAX_STEP_FILE: u64 = 4 * 1024 * 1024;

/// Creates a protocol: number, branch, worktree, header, events, its steps (from files, an
/// import or an engine's plan), and a commit of it all on the new branch.
///
/// Everything that can refuse (bad name, missing base, no planning engine, bad step files)
/// is checked before anything is created. A planning failure after creation leaves the
/// protocol `blocked` and committed, with the reason in `planning_error`.
pub fn create_protocol_run(ctx: &Context, opts: &CreateOptions) -> Result<ProtocolRun, Error> {
    let store = Store::new(&ctx.paths);
    store.check_format()?;
    let config = store.load_config()?;
    let slug = slugify(&opts.short_name, 40);
    if slug.is_empty() {
        return Err(Error::EmptySlug(opts.short_name.clone()));
    }
    let file_steps = match &opts.steps {
        StepSource::Files(dir) => read_step_files(dir)?,
        StepSource::None | StepSource::Plan(_) | StepSource::Imported(_) => Vec::new(),
    };
    if let StepSource::Plan(plan) = &opts.steps {
        require_planner(ctx, &store, &config, plan)?;
    }
    let base = opts
        .base
        .clone()
        .unwrap_or_else(|| config.project.base_branch.clone());
    let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    let base_ref = require_base(&git, &base)?;

    // Numbering reads every place a protocol can live; the project lock (in the common dir,
    // shared by all worktrees) makes two concurrent creations take different numbers.
    let lock = store.lock_project()?;
    worktrees::migrate_legacy(ctx, &config);
    let id = next_protocol_id(ctx, &config, slug)?;
    let branch = format!("{}{id}", config.project.branch_prefix);
    let worktree = add_worktree(ctx, &config, &git, &id, &branch, &base_ref)?;
    // The branch exists now, so the number is taken for everyone: the lock can go before the
    // (possibly long) planning run. The run lock marks this process as the one advancing the
    // protocol, so a later command can tell a planning run whose process died.
    let run_lock = execution::try_lock_protocol_run(&store, &id).map_err(Box::new)?;
    drop(lock);

    let wt_store = Store::at(&worktree, store.local_dir());
    carry_layout(&store, &wt_store)?;
    record_created(ctx, &wt_store, &id, opts, &base, &branch)?;
    let added = add_steps(ctx, &config, &wt_store, &run_lock, &opts.steps, file_steps)?;
    let message = format!(
        "godzilla({id}): create protocol\n\n{}\n\nGodzilla-Protocol: {id}\n",
        opts.description
    );
    git.in_dir(&worktree).commit_all(&message)?;

    let state = ProtocolRepository::load_state(&wt_store, &id)?.state;
    Ok(ProtocolRun {
        id,
        branch,
        worktree: worktree.to_string_lossy().into_owned(),
        status: state.status.unwrap_or(ProtocolStatus::Pending),
        steps: state.steps.iter().map(|s| s.id.clone()).collect(),
        spec_hash: added.spec_hash,
        warnings: added.warnings,
        planning_error: added.planning_error,
    })
}

/// Refuses a plan no engine may make, before the branch and worktree exist: a refusal
/// leaves nothing behind.
fn require_planner(
    ctx: &Context,
    store: &Store,
    config: &Config,
    plan: &PlanOptions,
) -> Result<(), Error> {
    let engines = platform_engines::engines_for(ctx, store, config)
        .map_err(|e| Box::new(execution::Error::from(e)))?;
    let selection = engines
        .select(
            Phase::Planning,
            &Choice {
                flag_engine: plan.engine.as_deref(),
                flag_model: plan.model.as_deref(),
                ..Choice::default()
            },
        )
        .map_err(|e| Box::new(execution::Error::from(e)))?;
    crate::services::trust::require_engine(
        store,
        config,
        ctx.env.trust_config,
        selection.engine.name(),
    )
    .map_err(|e| Box::new(execution::Error::from(e)))?;
    selection
        .engine
        .check_installed()
        .map_err(|e| Box::new(execution::Error::from(e)))?;
    Ok(())
}

/// The base as a commit revision, refused when it names no commit.
fn require_base(git: &Git, base: &str) -> Result<String, Error> {
    let base_ref = format!("{base}^{{commit}}");
    let found = git
        .run_unchecked(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &base_ref,
        ])?
        .success();
    if !found {
        return Err(Error::NoBase(base.to_owned()));
    }
    Ok(base_ref)
}

/// The next protocol number with `slug`, refused when a protocol (in a worktree or only on a
/// branch) has that slug already. The caller holds the project lock.
fn next_protocol_id(ctx: &Context, config: &Config, slug: String) -> Result<ProtocolId, Error> {
    let existing = status(ctx, None)?;
    let branches =
        tree::branches_with_prefix(&ctx.paths.common_dir, &config.project.branch_prefix)?;
    let mut highest = 0;
    for p in &existing.protocols {
        if p.id.slug() == slug {
            return Err(Error::Duplicate {
                slug,
                existing: p.id.clone(),
            });
        }
        highest = highest.max(p.id.number());
    }
    for b in &branches {
        if let Some(Ok(id)) = b
            .strip_prefix(&config.project.branch_prefix)
            .map(ProtocolId::parse)
        {
            if id.slug() == slug {
                return Err(Error::Duplicate { slug, existing: id });
            }
            highest = highest.max(id.number());
        }
    }
    let name = format!("{:04}-{slug}", highest + 1);
    ProtocolId::parse(&name).map_err(|source| Error::Name {
        what: "protocol name".into(),
        source,
    })
}

/// Creates the protocol's branch from the base and its worktree; returns the worktree.
fn add_worktree(
    ctx: &Context,
    config: &Config,
    git: &Git,
    id: &ProtocolId,
    branch: &str,
    base_ref: &str,
) -> Result<PathBuf, Error> {
    let worktrees_dir = worktrees::worktrees_dir(ctx, config)?;
    let worktree = worktrees_dir.join(id.as_str());
    ctx.reporter
        .status("Creating", &format!("protocol {id} on branch {branch}"));
    storage::create_dir(&worktrees_dir)?;
    let wt_str = worktree.to_string_lossy().into_owned();
    git.run(&[
        "worktree",
        "add",
        "--quiet",
        "-b",
        branch,
        "--end-of-options",
        &wt_str,
        base_ref,
    ])?;
    Ok(worktree)
}

/// The base may predate `godzilla init` being committed; carry the layout over so the
/// protocol branch is self-describing.
fn carry_layout(store: &Store, wt_store: &Store) -> Result<(), Error> {
    for (from, to) in [
        (store.format_path(), wt_store.format_path()),
        (store.config_path(), wt_store.config_path()),
    ] {
        if !to.exists()
            && let Some(bytes) = storage::read_optional(&from)?
        {
            storage::write_atomic(&to, &bytes)?;
        }
    }
    Ok(())
}

/// Writes the protocol's header and records `protocol_created`.
fn record_created(
    ctx: &Context,
    wt_store: &Store,
    id: &ProtocolId,
    opts: &CreateOptions,
    base: &str,
    branch: &str,
) -> Result<(), Error> {
    let source = match &opts.steps {
        StepSource::None => "none",
        StepSource::Files(_) => "files",
        StepSource::Plan(_) => "plan",
        StepSource::Imported(i) => i.source,
    };
    let header = ProtocolHeader {
        id: id.clone(),
        description: opts.description.clone(),
        base_branch: base.to_owned(),
        branch: branch.to_owned(),
        created: ctx.clock.now_rfc3339(),
        source: source.into(),
    };
    storage::create_dir(&wt_store.protocol_dir(id))?;
    ProtocolRepository::write_header(wt_store, &header)?;
    let mut meta = serde_json::Map::new();
    meta.insert("branch".into(), branch.into());
    meta.insert("base".into(), base.into());
    telemetry::log_protocol_event(
        ctx,
        wt_store,
        id,
        None,
        EventKind::ProtocolCreated,
        format!("created: {}", opts.description),
        meta,
    )?;
    Ok(())
}

/// What adding a new protocol's steps produced.
#[derive(Default)]
struct AddedSteps {
    spec_hash: Option<String>,
    warnings: Vec<String>,
    planning_error: Option<String>,
}

/// Adds the new protocol's steps from their source. A planning run that fails, waits for
/// answers or meets the budget is not an error: the protocol stays, with the reason.
fn add_steps(
    ctx: &Context,
    config: &Config,
    wt_store: &Store,
    lock: &RunLock,
    source: &StepSource,
    file_steps: Vec<(StepId, String)>,
) -> Result<AddedSteps, Error> {
    let id = lock.protocol();
    let mut added = AddedSteps::default();
    match source {
        StepSource::None => {}
        StepSource::Files(_) => {
            let steps: Vec<(StepSpec, String)> = file_steps
                .into_iter()
                .map(|(sid, text)| {
                    (
                        domain_spec::step_from_file(
                            sid.clone(),
                            spec::step_title(&text, &sid),
                            config.qa.policy,
                        ),
                        text,
                    )
                })
                .collect();
            let hash = adopt_steps(
                ctx,
                wt_store,
                id,
                None,
                &steps,
                "files",
                "step files imported",
            )?;
            added.spec_hash = Some(hash);
        }
        StepSource::Imported(imported) => {
            added.spec_hash = Some(adopt_steps(
                ctx,
                wt_store,
                id,
                imported.plan.as_deref(),
                &imported.steps,
                imported.source,
                "steps imported",
            )?);
        }
        StepSource::Plan(plan) => {
            let wt_config = wt_store.load_config()?;
            let engines = platform_engines::engines_for(ctx, wt_store, &wt_config)
                .map_err(|e| Box::new(execution::Error::from(e)))?;
            match planning::plan_protocol(ctx, wt_store, &wt_config, &engines, lock, plan) {
                Ok(outcome) => {
                    added.warnings.extend(outcome.warnings);
                    added.spec_hash = Some(outcome.spec_hash);
                }
                Err(
                    planning::Error::Failed { reason, .. }
                    | planning::Error::Interrupted { reason, .. },
                ) => added.planning_error = Some(reason),
                Err(planning::Error::Clarifications(keys)) => {
                    added.planning_error = Some(format!(
                        "waiting for answers to {} (`godzilla clarify list`)",
                        keys.join(", ")
                    ));
                }
                Err(planning::Error::Budget(reason)) => {
                    added.planning_error = Some(format!("budget exceeded: {reason}"));
                }
                Err(other) => return Err(Error::Planning(Box::new(other))),
            }
        }
    }
    Ok(added)
}

/// Writes given steps, validates and stores their spec, and records them (`planning_started`
/// → `step_added`… → `planned`).
fn adopt_steps(
    ctx: &Context,
    store: &Store,
    id: &ProtocolId,
    plan: Option<&str>,
    steps: &[(StepSpec, String)],
    source: &str,
    message: &str,
) -> Result<String, Error> {
    telemetry::log_protocol_event(
        ctx,
        store,
        id,
        None,
        EventKind::PlanningStarted,
        message,
        Default::default(),
    )?;
    let files: Vec<(StepId, String)> = steps
        .iter()
        .map(|(s, t)| (s.id.clone(), t.clone()))
        .collect();
    spec::write_steps(store, id, plan, &files).map_err(Box::new)?;
    let built = ProtocolSpec {
        version: domain_spec::SPEC_VERSION,
        protocol: id.clone(),
        source: source.to_owned(),
        steps: steps.iter().map(|(s, _)| s.clone()).collect(),
    };
    let hash = match spec::validate_and_persist_spec(ctx, store, &built) {
        Ok(hash) => hash,
        Err(e) => {
            let mut meta = serde_json::Map::new();
            meta.insert("error".into(), e.to_string().into());
            telemetry::log_protocol_event(
                ctx,
                store,
                id,
                None,
                EventKind::PlanningFailed,
                "the imported steps do not form a valid spec",
                meta,
            )?;
            return Err(Error::Spec(Box::new(e)));
        }
    };
    spec::ensure_step_runs(ctx, store, &built).map_err(Box::new)?;
    let mut meta = serde_json::Map::new();
    meta.insert("steps".into(), steps.len().into());
    meta.insert("spec_hash".into(), hash.clone().into());
    telemetry::log_protocol_event(
        ctx,
        store,
        id,
        None,
        EventKind::Planned,
        format!("{} steps from {source}", steps.len()),
        meta,
    )?;
    Ok(hash)
}

/// Reads `NN-slug.md` step files from `dir`: names validated, no symlinks, bounded size.
fn read_step_files(dir: &Path) -> Result<Vec<(StepId, String)>, Error> {
    let bad = |path: &Path, reason: String| Error::StepFile {
        path: path.to_path_buf(),
        reason,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| bad(dir, e.to_string()))?;
    let mut steps = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| bad(dir, e.to_string()))?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| bad(&path, e.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".md") else {
            continue;
        };
        if !meta.is_file() {
            return Err(bad(&path, "not a regular file".into()));
        }
        if meta.len() > MAX_STEP_FILE {
            return Err(bad(&path, format!("larger than {MAX_STEP_FILE} bytes")));
        }
        let id = StepId::parse(stem).map_err(|e| bad(&path, e.to_string()))?;
        let text = std::fs::read_to_string(&path).map_err(|e| bad(&path, e.to_string()))?;
        if text.trim().is_empty() {
            return Err(bad(&path, "empty".into()));
        }
        steps.push((id, text));
    }
    if steps.is_empty() {
        return Err(bad(dir, "no NN-slug.md step files found".into()));
    }
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    check_unique_casefold(steps.iter().map(|(s, _)| s.as_str())).map_err(|source| Error::Name {
        what: "step names".into(),
        source,
    })?;
    Ok(steps)
}

/// A person's request to change a protocol's course.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Stop before the next engine run.
    Pause,
    /// Continue after a pause.
    Resume,
    /// Abandon it, cancelling its open steps.
    Cancel,
}

/// Pauses, resumes or cancels a protocol; refused when its state does not allow it.
pub fn control_protocol(
    ctx: &Context,
    id: &ProtocolId,
    control: Control,
    reason: &str,
) -> Result<ProtocolState, Error> {
    let store = locate(ctx, id)?;
    let (kind, verb, event, allowed) = match control {
        Control::Pause => (
            EventKind::Paused,
            "paused",
            crate::domain::ProtocolEvent::Paused,
            "only a pending, planning, planned, running or blocked protocol can be",
        ),
        Control::Resume => (
            EventKind::Resumed,
            "resumed",
            crate::domain::ProtocolEvent::Resumed,
            "only a paused protocol can be",
        ),
        Control::Cancel => (
            EventKind::Cancelled,
            "cancelled",
            crate::domain::ProtocolEvent::Cancelled,
            "a completed or cancelled protocol is finished",
        ),
    };
    // Refused in words here, before the log refuses it in the state machine's terms.
    if let Some(status) = ProtocolRepository::load_state(&store, id)?.state.status
        && status.apply(event).is_err()
    {
        return Err(Error::Control {
            id: id.clone(),
            status: status.as_str(),
            verb,
            allowed,
        });
    }
    let message = if reason.is_empty() {
        verb.to_owned()
    } else {
        format!("{verb}: {reason}")
    };
    let (_, state) =
        telemetry::log_protocol_event(ctx, &store, id, None, kind, message, Default::default())?;
    Ok(state)
}

/// Plans (or re-plans after a failure) a protocol that has a worktree, and commits the
/// result. A planning failure leaves it `blocked` and is returned as an error.
pub fn plan_existing(
    ctx: &Context,
    id: &ProtocolId,
    opts: &PlanOptions,
) -> Result<planning::PlanOutcome, Error> {
    let store = locate(ctx, id)?;
    let lock = execution::try_lock_protocol_run(&store, id).map_err(Box::new)?;
    let config = store.load_config()?;
    let engines = platform_engines::engines_for(ctx, &store, &config)
        .map_err(|e| Box::new(execution::Error::from(e)))?;
    let result = planning::plan_protocol(ctx, &store, &config, &engines, &lock, opts);
    let git = Git::new(ctx.git_program(), store.root());
    // Commit success and failure alike: a blocked protocol's events are part of its story.
    if !git
        .run(&["status", "--porcelain", "--", ".godzilla"])?
        .trim()
        .is_empty()
    {
        let verb = if result.is_ok() {
            "plan"
        } else {
            "planning failed"
        };
        git.commit_all(&format!(
            "godzilla({id}): {verb}\n\nGodzilla-Protocol: {id}\n"
        ))?;
    }
    result.map_err(|e| Error::Planning(Box::new(e)))
}

/// Approves a step whose spec says a person decides (`needs_approval`) in place of QA.
///
/// Other steps cannot be approved: a protocol completes only when every step that gets QA
/// has a PASS for the code its last attempt produced, and a click is not a PASS.
pub fn approve_step(
    ctx: &Context,
    store: &Store,
    id: &ProtocolId,
    step: &StepId,
    reason: &str,
) -> Result<(), Error> {
    let needs_approval = spec::get_step_spec(store, id, step)
        .map_err(Box::new)?
        .is_some_and(|s| s.needs_approval);
    if !needs_approval {
        return Err(Error::StepState {
            step: step.clone(),
            status: "not marked needs_approval".into(),
            why: "only steps whose spec asks for a person's approval can be approved; retry the step instead",
        });
    }
    let state = ProtocolRepository::load_state(store, id)?.state;
    let status = state
        .step(step)
        .map(|s| s.status)
        .ok_or_else(|| storage::Error::ProtocolNotFound(id.clone()))?;
    if !matches!(
        status,
        crate::domain::StepStatus::NeedsQa
            | crate::domain::StepStatus::Failed
            | crate::domain::StepStatus::Blocked
    ) {
        return Err(Error::StepState {
            step: step.clone(),
            status: status.to_string(),
            why: "only a step waiting for QA, failed or blocked can be approved",
        });
    }
    // The approval is for this attempt only: a later attempt needs its own.
    let mut meta = serde_json::Map::new();
    let log = crate::services::platform::protocols::sorted_log(store, id)?;
    if let Some(run) = log
        .iter()
        .rev()
        .find(|e| e.step.as_ref() == Some(step) && e.kind == EventKind::StepExecuted)
        .and_then(|e| e.metadata.get("run").cloned())
    {
        meta.insert("exec_run".into(), run);
    }
    let attempts = state.step(step).map_or(0, |s| s.attempts);
    meta.insert("attempt".into(), attempts.into());
    telemetry::log_protocol_event(
        ctx,
        store,
        id,
        Some(step),
        EventKind::ManualApproval,
        reason.to_owned(),
        meta,
    )?;
    Ok(())
}

/// `retry_step` of the seed: asks for a new attempt of a failed or blocked step (the last
/// such step when none is named) and records why.
pub fn retry_step(
    ctx: &Context,
    id: &ProtocolId,
    step: Option<&StepId>,
    reason: &str,
) -> Result<StepId, Error> {
    let store = locate(ctx, id)?;
    let state = ProtocolRepository::load_state(&store, id)?.state;
    let target = match step {
        Some(s) => s.clone(),
        None => state
            .steps
            .iter()
            .rev()
            .find(|s| {
                matches!(
                    s.status,
                    crate::domain::StepStatus::Failed | crate::domain::StepStatus::Blocked
                )
            })
            .map(|s| s.id.clone())
            .ok_or_else(|| Error::NothingToRetry {
                id: id.clone(),
                status: state.status.map_or("unknown", ProtocolStatus::as_str),
            })?,
    };
    let status = state
        .step(&target)
        .map(|s| s.status)
        .ok_or_else(|| storage::Error::ProtocolNotFound(id.clone()))?;
    if !matches!(
        status,
        crate::domain::StepStatus::Failed | crate::domain::StepStatus::Blocked
    ) {
        return Err(Error::StepState {
            step: target,
            status: status.to_string(),
            why: "only a failed or blocked step can be retried",
        });
    }
    let message = if reason.is_empty() {
        "retry requested".to_owned()
    } else {
        format!("retry: {reason}")
    };
    telemetry::log_protocol_event(
        ctx,
        &store,
        id,
        Some(&target),
        EventKind::StepRetried,
        message,
        Default::default(),
    )?;
    Ok(target)
}
