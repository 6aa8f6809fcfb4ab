//! The orchestrator service: owns the protocol lifecycle. So far: creating protocol runs
//! (branch, worktree, header, events) and the read side (`status`) across the current
//! worktree, the other worktrees and the protocol branches.

mod branch_show;
mod run;
pub mod worktrees;

pub use run::{
    PerPhase, RUN_PHASES, RunOptions, RunSummary, Stop, run_protocol, verify_completion,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::context::Context;
use crate::domain::name::{check_unique_casefold, slugify};
use crate::domain::spec::{self as domain_spec, ProtocolSpec, StepSpec};
use crate::domain::{
    EventKind, NameError, ProtocolId, ProtocolState, ProtocolStatus, StepId, fold,
};
use crate::engines::Phase;
use crate::git::{Git, tree};
use crate::services::planning::{self, PlanOptions};
use crate::services::platform::engines::Choice;
use crate::services::platform::storage::fsck::{self, FsckReport, Stamp};
use crate::services::platform::storage::repo::{ProtocolHeader, ProtocolRepository, ProtocolView};
use crate::services::platform::storage::{self, RunLock, Store, events};
use crate::services::platform::telemetry;
use crate::services::{execution, spec};

/// Errors from the orchestrator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] crate::process::Error),
    /// Reading branches failed.
    #[error(transparent)]
    Tree(#[from] tree::Error),
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
    /// The protocol has no worktree to change its state in.
    #[error("protocol {id} exists only on branch {branch}; it has no worktree")]
    NoWorktree {
        /// The protocol.
        id: ProtocolId,
        /// Its branch.
        branch: String,
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
    /// No protocol (or step) matches what was typed.
    #[error("no {what} matches `{typed}`")]
    Unknown {
        /// `protocol` or `step`.
        what: &'static str,
        /// What was typed.
        typed: String,
        /// The nearest id, when the input looks like a typo of it.
        closest: Option<String>,
    },
    /// Several match what was typed.
    #[error("`{typed}` matches several {what}s: {}", candidates.join(", "))]
    Ambiguous {
        /// `protocol` or `step`.
        what: &'static str,
        /// What was typed.
        typed: String,
        /// The ids it matches.
        candidates: Vec<String>,
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

/// Where a protocol's state was read from.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Location {
    /// A working tree on disk (possibly with uncommitted state).
    Worktree {
        /// Its root.
        path: String,
    },
    /// The tip of a branch, read without checking it out.
    Branch {
        /// Branch name.
        name: String,
    },
}

/// One line of `status`.
#[derive(Clone, Debug, Serialize)]
pub struct ProtocolSummary {
    /// Protocol id.
    pub id: ProtocolId,
    /// Status, `None` when its log has no creation event.
    pub status: Option<ProtocolStatus>,
    /// Number of steps.
    pub steps: usize,
    /// Steps per status.
    pub step_counts: BTreeMap<String, u32>,
    /// Where it was read from.
    pub location: Location,
    /// Steps let through without a QA verdict (policy `skip`, or approved by hand).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub without_qa: Vec<StepId>,
    /// Set when nothing advances it and it needs someone: a run that stopped short (or whose
    /// process died) while `running` or `planning`, or a `blocked`, `failed` or `paused`
    /// protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
    /// Tokens used by all its engine runs.
    pub tokens: u64,
    /// What its runs cost (engine figures, else the price list), in USD.
    pub cost_usd: crate::services::platform::telemetry::prices::Cost,
    /// Problems seen while reading it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Why a protocol is not moving, and what to type.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Stopped {
    /// Why, in words.
    pub reason: String,
    /// The command to type next.
    pub next: String,
}

/// Whether a protocol in a worktree needs someone, and why (see [`ProtocolSummary::stopped`]).
fn stopped(store: &Store, state: &ProtocolState) -> Result<Option<Stopped>, Error> {
    let id = &state.protocol;
    let Some(status) = state.status else {
        return Ok(None);
    };
    let run = format!("godzilla protocol run {id}");
    let found = match status {
        ProtocolStatus::Running | ProtocolStatus::Planning => {
            let held = storage::Lock::is_held(&execution::run_lock_path(store, id));
            if held != Some(false) {
                return Ok(None);
            }
            let log = run::sorted_log(store, id)?;
            let last_stop = log.iter().rposition(|e| e.kind == EventKind::RunStopped);
            // A stop counts until something ran after it; then that later run was cut short.
            let superseded = last_stop.is_some_and(|at| {
                log[at + 1..].iter().any(|e| {
                    matches!(
                        e.kind,
                        EventKind::StepStarted
                            | EventKind::PlanningStarted
                            | EventKind::ProtocolStarted
                    )
                })
            });
            match last_stop.filter(|_| !superseded).map(|at| &log[at]) {
                Some(e) => Stopped {
                    reason: e.message.clone(),
                    next: e
                        .metadata
                        .get("next")
                        .and_then(|v| v.as_str())
                        .map_or_else(|| run.clone(), str::to_owned),
                },
                None if status == ProtocolStatus::Planning => Stopped {
                    reason: "its planning run's process is gone (interrupted)".into(),
                    next: run,
                },
                None => Stopped {
                    reason: "its run's process is gone (interrupted)".into(),
                    next: run,
                },
            }
        }
        ProtocolStatus::Blocked | ProtocolStatus::Failed => {
            let log = run::sorted_log(store, id)?;
            let retryable = state.steps.iter().any(|s| {
                matches!(
                    s.status,
                    crate::domain::StepStatus::Failed | crate::domain::StepStatus::Blocked
                )
            });
            Stopped {
                reason: run::last_block_reason(&log),
                next: if state.steps.is_empty() {
                    format!("godzilla protocol plan {id}")
                } else if retryable {
                    run::next_for_blocked(id)
                } else {
                    run
                },
            }
        }
        ProtocolStatus::Paused => Stopped {
            reason: "paused".into(),
            next: format!("godzilla protocol resume {id}"),
        },
        ProtocolStatus::Pending
        | ProtocolStatus::Planned
        | ProtocolStatus::Cancelled
        | ProtocolStatus::Completed => return Ok(None),
    };
    Ok(Some(found))
}

/// The result of `status`.
#[derive(Clone, Debug, Serialize)]
pub struct StatusSummary {
    /// Whether `.godzilla/format` exists in this working tree.
    pub initialized: bool,
    /// Every protocol found, in id order.
    pub protocols: Vec<ProtocolSummary>,
    /// Problems not tied to one protocol.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn summarize(
    state: &ProtocolState,
    location: Location,
    warnings: Vec<String>,
    log: &[u8],
) -> ProtocolSummary {
    ProtocolSummary {
        stopped: None,
        tokens: state.tokens,
        cost_usd: crate::services::cost::cost_of_events(&events::parse(log).events),
        id: state.protocol.clone(),
        status: state.status,
        steps: state.steps.len(),
        step_counts: state
            .step_counts()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_owned(), v))
            .collect(),
        location,
        without_qa: state
            .steps
            .iter()
            .filter(|s| s.without_qa)
            .map(|s| s.id.clone())
            .collect(),
        warnings,
    }
}

fn log_warnings(file: &str, problems: &[events::LogProblem]) -> Vec<String> {
    problems
        .iter()
        .map(|p| match p {
            events::LogProblem::Torn { line, .. } => {
                format!("{file}: line {line} is partial; run `godzilla fsck --repair`")
            }
            events::LogProblem::Invalid { line, message } => {
                format!("{file}: line {line} is not a valid event: {message}")
            }
        })
        .collect()
}

/// Every working tree of the repository, the current one first, each once.
pub fn worktree_roots(ctx: &Context) -> Vec<PathBuf> {
    let mut roots = vec![ctx.paths.work_tree.clone()];
    if ctx
        .paths
        .common_dir
        .file_name()
        .is_some_and(|n| n == ".git")
        && let Some(main) = ctx.paths.common_dir.parent()
    {
        roots.push(main.to_path_buf());
    }
    roots.extend(
        tree::linked_worktrees(&ctx.paths.common_dir)
            .into_iter()
            .map(|w| w.path),
    );
    let mut seen: Vec<PathBuf> = Vec::new();
    for root in roots {
        let canonical = root.canonicalize().unwrap_or(root);
        if !seen.contains(&canonical) {
            seen.push(canonical);
        }
    }
    seen
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

/// Every protocol visible from this repository: this worktree's, then other worktrees', then
/// protocol branches that no worktree has checked out. The first place a protocol is seen
/// wins, because a worktree can hold state newer than its branch's last commit.
pub fn status(ctx: &Context, only: Option<&ProtocolId>) -> Result<StatusSummary, Error> {
    let store = Store::new(&ctx.paths);
    let initialized = match store.check_format() {
        Ok(_) => true,
        Err(storage::Error::NotInitialized { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    let config = store.load_config()?;
    let mut found: BTreeMap<ProtocolId, ProtocolSummary> = BTreeMap::new();
    let mut warnings = Vec::new();

    let linked = tree::linked_worktrees(&ctx.paths.common_dir);
    for root in worktree_roots(ctx) {
        let canonical = root;
        let wt_store = Store::at(&canonical, store.local_dir());
        let (ids, bad) = ProtocolRepository::list(&wt_store)?;
        for entry in bad {
            warnings.push(format!("{}: {}", entry.path.display(), entry.reason));
        }
        for id in ids {
            if found.contains_key(&id) || only.is_some_and(|o| o != &id) {
                continue;
            }
            let loaded = ProtocolRepository::load_state(&wt_store, &id)?;
            let file = wt_store
                .display(&ProtocolRepository::events_path(&wt_store, &id))
                .into_owned();
            let location = Location::Worktree {
                path: canonical.display().to_string(),
            };
            let log = storage::read_optional(&ProtocolRepository::events_path(&wt_store, &id))?
                .unwrap_or_default();
            let mut summary = summarize(
                &loaded.state,
                location,
                log_warnings(&file, &loaded.problems),
                &log,
            );
            summary.stopped = stopped(&wt_store, &loaded.state)?;
            found.insert(id, summary);
        }
    }

    let checked_out: Vec<String> = linked
        .iter()
        .filter_map(|w| {
            w.head_ref
                .as_deref()?
                .strip_prefix("refs/heads/")
                .map(str::to_owned)
        })
        .chain(crate::services::onboarding::current_branch(ctx))
        .collect();
    let scan = tree::scan_branches(
        &ctx.paths.common_dir,
        &config.project.branch_prefix,
        &checked_out,
    )?;
    for (branch, bad) in scan.bad_names {
        warnings.push(format!("branch {branch}: .godzilla/protocols/{bad}"));
    }
    for (branch, protocols) in scan.branches {
        for blobs in protocols {
            if found.contains_key(&blobs.id) || only.is_some_and(|o| o != &blobs.id) {
                continue;
            }
            let (state, problems) = state_from_blobs(&blobs);
            let file = format!("{branch}:.godzilla/protocols/{}/events.jsonl", blobs.id);
            found.insert(
                blobs.id.clone(),
                summarize(
                    &state,
                    Location::Branch {
                        name: branch.clone(),
                    },
                    log_warnings(&file, &problems),
                    blobs.events.as_deref().unwrap_or_default(),
                ),
            );
        }
    }
    remote_status(
        ctx,
        &config.project.branch_prefix,
        only,
        &mut found,
        &mut warnings,
    )?;
    Ok(StatusSummary {
        initialized,
        protocols: found.into_values().collect(),
        warnings,
    })
}

/// Adds what remote-tracking protocol branches (fetched by `godzilla sync` or `git fetch`)
/// show: protocols nothing local has, and a warning wherever a local protocol branch and its
/// remote copy point at different commits.
fn remote_status(
    ctx: &Context,
    prefix: &str,
    only: Option<&ProtocolId>,
    found: &mut BTreeMap<ProtocolId, ProtocolSummary>,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let scan = tree::scan_remote_branches(&ctx.paths.common_dir, prefix, &[])?;
    for (branch, bad) in scan.bad_names {
        warnings.push(format!("branch {branch}: .godzilla/protocols/{bad}"));
    }
    for (branch, protocols) in scan.branches {
        for blobs in protocols {
            if found.contains_key(&blobs.id) || only.is_some_and(|o| o != &blobs.id) {
                continue;
            }
            let (state, problems) = state_from_blobs(&blobs);
            let file = format!("{branch}:.godzilla/protocols/{}/events.jsonl", blobs.id);
            let location = Location::Branch {
                name: branch.clone(),
            };
            found.insert(
                blobs.id.clone(),
                summarize(
                    &state,
                    location,
                    log_warnings(&file, &problems),
                    blobs.events.as_deref().unwrap_or_default(),
                ),
            );
        }
    }
    let locals: BTreeMap<String, String> =
        tree::refs_with_targets(&ctx.paths.common_dir, "refs/heads/")?
            .into_iter()
            .collect();
    for (name, oid) in tree::refs_with_targets(&ctx.paths.common_dir, "refs/remotes/")? {
        let Some((remote, branch)) = name
            .strip_prefix("refs/remotes/")
            .and_then(|s| s.split_once('/'))
        else {
            continue;
        };
        let Some(Ok(id)) = branch.strip_prefix(prefix).map(ProtocolId::parse) else {
            continue;
        };
        if let (Some(local), Some(summary)) = (
            locals.get(&format!("refs/heads/{branch}")),
            found.get_mut(&id),
        ) && *local != oid
        {
            summary.warnings.push(format!(
                "branch {branch} and {remote}/{branch} differ; `godzilla sync` brings them together"
            ));
        }
    }
    Ok(())
}

fn state_from_blobs(blobs: &tree::ProtocolBlobs) -> (ProtocolState, Vec<events::LogProblem>) {
    let log = blobs.events.as_deref().unwrap_or_default();
    if let Some(view) = blobs
        .view
        .as_deref()
        .and_then(|v| serde_json::from_slice::<ProtocolView>(v).ok())
        && view.log_bytes == log.len() as u64
        && view.log_sha256 == events::digest(log)
    {
        return (view.state, Vec::new());
    }
    let read = events::parse(log);
    (fold(&blobs.id, &read.events), read.problems)
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
    let engines = execution::engines_for(ctx, store, config).map_err(Box::new)?;
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
            let engines = execution::engines_for(ctx, wt_store, &wt_config).map_err(Box::new)?;
            match planning::plan_protocol(ctx, wt_store, &wt_config, &engines, lock, plan) {
                Ok(outcome) => {
                    added.warnings.extend(outcome.warnings);
                    added.spec_hash = Some(outcome.spec_hash);
                }
                Err(planning::Error::Failed { reason, .. }) => added.planning_error = Some(reason),
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

/// Finds the working tree that holds a protocol's live state.
///
/// A protocol that exists only on a branch (its worktree was removed) cannot be changed
/// without a worktree: the error says so rather than writing somewhere the user won't look.
pub fn locate(ctx: &Context, id: &ProtocolId) -> Result<Store, Error> {
    let store = Store::new(&ctx.paths);
    // Worktrees left under `.git` by an older godzilla move out before anyone works in them.
    if let Ok(config) = store.load_config() {
        worktrees::migrate_legacy(ctx, &config);
    }
    let summary = status(ctx, Some(id))?;
    match summary.protocols.into_iter().next().map(|p| p.location) {
        Some(Location::Worktree { path }) => Ok(Store::at(Path::new(&path), store.local_dir())),
        Some(Location::Branch { name }) => Err(Error::NoWorktree {
            id: id.clone(),
            branch: name,
        }),
        None => Err(storage::Error::ProtocolNotFound(id.clone()).into()),
    }
}

/// Finds the protocol a person meant: its full id, its number (`2`, `0002`), its slug, or a
/// unique prefix of either, among every protocol `status` sees. A typo gets the closest id.
pub fn resolve_protocol(ctx: &Context, typed: &str) -> Result<ProtocolId, Error> {
    let known: Vec<ProtocolId> = status(ctx, None)?
        .protocols
        .into_iter()
        .map(|p| p.id)
        .collect();
    let table: Vec<(ProtocolId, u32, &str)> = known
        .iter()
        .map(|id| (id.clone(), id.number(), id.slug()))
        .collect();
    match crate::domain::name::resolve_short(typed, &table) {
        crate::domain::name::IdMatch::One(id) => Ok(id),
        crate::domain::name::IdMatch::Ambiguous(candidates) => Err(Error::Ambiguous {
            what: "protocol",
            typed: typed.to_owned(),
            candidates: candidates.iter().map(ToString::to_string).collect(),
        }),
        crate::domain::name::IdMatch::None(None) if ProtocolId::parse(typed).is_ok() => {
            Err(storage::Error::ProtocolNotFound(
                ProtocolId::parse(typed).unwrap_or_else(|_| unreachable!("checked by the guard")),
            )
            .into())
        }
        crate::domain::name::IdMatch::None(closest) => Err(Error::Unknown {
            what: "protocol",
            typed: typed.to_owned(),
            closest: closest.map(|c| c.to_string()),
        }),
    }
}

/// Finds the step of `protocol` a person meant (full id, number, slug or unique prefix).
pub fn resolve_step(ctx: &Context, protocol: &ProtocolId, typed: &str) -> Result<StepId, Error> {
    let store = match locate(ctx, protocol) {
        Ok(store) => store,
        // A protocol that lives only on its branch (its worktree was removed) takes full step
        // ids; the inspection commands then say whether the step exists.
        Err(Error::NoWorktree { .. }) if StepId::parse(typed).is_ok() => {
            return StepId::parse(typed).map_err(|e| Error::Unknown {
                what: "step",
                typed: format!("{typed} ({e})"),
                closest: None,
            });
        }
        Err(e) => return Err(e),
    };
    let state = ProtocolRepository::load_state(&store, protocol)?.state;
    let table: Vec<(StepId, u32, &str)> = state
        .steps
        .iter()
        .map(|s| (s.id.clone(), s.id.number(), s.id.slug()))
        .collect();
    match crate::domain::name::resolve_short(typed, &table) {
        crate::domain::name::IdMatch::One(id) => Ok(id),
        crate::domain::name::IdMatch::Ambiguous(candidates) => Err(Error::Ambiguous {
            what: "step",
            typed: typed.to_owned(),
            candidates: candidates.iter().map(ToString::to_string).collect(),
        }),
        crate::domain::name::IdMatch::None(closest) => Err(Error::Unknown {
            what: "step",
            typed: typed.to_owned(),
            closest: closest.map(|c| c.to_string()),
        }),
    }
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
    let engines = execution::engines_for(ctx, &store, &config).map_err(Box::new)?;
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

/// One step in `protocol show`.
#[derive(Clone, Debug, Serialize)]
pub struct StepDetail {
    /// Step id.
    pub id: StepId,
    /// Title (first heading of its file).
    pub title: String,
    /// Status.
    pub status: crate::domain::StepStatus,
    /// Attempts started.
    pub attempts: u32,
    /// Let through without a QA verdict (policy `skip`, or approved by hand).
    pub without_qa: bool,
    /// Its spec, when the protocol has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<StepSpec>,
}

/// What `protocol show` reports.
#[derive(Clone, Debug, Serialize)]
pub struct ProtocolDetail {
    /// Header.
    pub header: ProtocolHeader,
    /// Status.
    pub status: Option<ProtocolStatus>,
    /// Where its state was read.
    pub location: Location,
    /// Tokens used so far.
    pub tokens: u64,
    /// Steps in order.
    pub steps: Vec<StepDetail>,
    /// Spec hash, when it has a spec.
    pub spec_hash: Option<String>,
    /// `plan.md`, when it has one.
    pub plan: Option<String>,
    /// The last events, oldest first.
    pub recent_events: Vec<crate::domain::Event>,
    /// Problems seen, and where its local branch and its remote copy differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Reads everything `protocol show` prints.
pub fn show_protocol(ctx: &Context, id: &ProtocolId) -> Result<ProtocolDetail, Error> {
    let warnings = status(ctx, Some(id))?
        .protocols
        .into_iter()
        .flat_map(|p| p.warnings)
        .collect();
    let store = match locate(ctx, id) {
        Ok(store) => store,
        Err(Error::NoWorktree { branch, .. }) => {
            let mut detail = branch_show::show_from_branch(ctx, id, &branch)?;
            detail.warnings = warnings;
            return Ok(detail);
        }
        Err(e) => return Err(e),
    };
    let header = ProtocolRepository::load_header(&store, id)?;
    let state = ProtocolRepository::load_state(&store, id)?.state;
    let loaded_spec = spec::load_spec(&store, id).map_err(Box::new)?;
    let steps = state
        .steps
        .iter()
        .map(|s| {
            let text = std::fs::read_to_string(
                crate::services::platform::storage::repo::StepRepository::step_path(
                    &store, id, &s.id,
                ),
            )
            .unwrap_or_default();
            StepDetail {
                title: spec::step_title(&text, &s.id),
                id: s.id.clone(),
                status: s.status,
                attempts: s.attempts,
                without_qa: s.without_qa,
                spec: loaded_spec.as_ref().and_then(|sp| sp.step(&s.id).cloned()),
            }
        })
        .collect();
    let mut log = events::read(&ProtocolRepository::events_path(&store, id))?.events;
    log.sort_by(|a, b| (a.lamport, &a.id).cmp(&(b.lamport, &b.id)));
    let recent_events = log.split_off(log.len().saturating_sub(10));
    Ok(ProtocolDetail {
        location: Location::Worktree {
            path: store.root().display().to_string(),
        },
        status: state.status,
        tokens: state.tokens,
        spec_hash: loaded_spec.map(|s| s.hash()),
        plan: storage::read_optional(&ProtocolRepository::plan_path(&store, id))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        header,
        steps,
        recent_events,
        warnings,
    })
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
    let mut log = events::read(&ProtocolRepository::events_path(store, id))?.events;
    log.sort_by(|a, b| (a.lamport, &a.id).cmp(&(b.lamport, &b.id)));
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
