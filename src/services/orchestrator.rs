//! The orchestrator service: owns the protocol lifecycle. So far: creating protocol runs
//! (branch, worktree, header, events) and the read side (`status`) across the current
//! worktree, the other worktrees and the protocol branches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::context::Context;
use crate::domain::name::{check_unique_casefold, slugify};
use crate::domain::{
    EventKind, NameError, ProtocolId, ProtocolState, ProtocolStatus, StepId, fold,
};
use crate::git::{Git, tree};
use crate::services::platform::storage::fsck::{self, FsckReport, Stamp};
use crate::services::platform::storage::repo::{
    ProtocolHeader, ProtocolRepository, ProtocolView, StepRepository,
};
use crate::services::platform::storage::{self, Store, events};
use crate::services::platform::telemetry;

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
    /// The protocol needs an engine to plan, which this build cannot do yet.
    #[error("planning a protocol with an engine is not available in this version")]
    PlanningUnavailable,
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
    /// Problems seen while reading it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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

fn summarize(state: &ProtocolState, location: Location, warnings: Vec<String>) -> ProtocolSummary {
    ProtocolSummary {
        id: state.protocol.clone(),
        status: state.status,
        steps: state.steps.len(),
        step_counts: state
            .step_counts()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_owned(), v))
            .collect(),
        location,
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
            found.insert(
                id,
                summarize(
                    &loaded.state,
                    location,
                    log_warnings(&file, &loaded.problems),
                ),
            );
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
                ),
            );
        }
    }
    Ok(StatusSummary {
        initialized,
        protocols: found.into_values().collect(),
        warnings,
    })
}

fn state_from_blobs(blobs: &tree::ProtocolBlobs) -> (ProtocolState, Vec<events::LogProblem>) {
    let log = blobs.events.as_deref().unwrap_or_default();
    if let Some(view) = blobs
        .view
        .as_deref()
        .and_then(|v| serde_json::from_slice::<ProtocolView>(v).ok())
        && view.log_bytes == log.len() as u64
    {
        return (view.state, Vec::new());
    }
    let read = events::parse(log);
    (fold(&blobs.id, &read.events), read.problems)
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
    /// Import steps from `NN-slug.md` files in this directory instead of planning.
    pub steps_from: Option<PathBuf>,
    /// Create without planning (steps come later).
    pub no_plan: bool,
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
    /// Imported steps.
    pub steps: Vec<StepId>,
}

/// Largest step file accepted: instructions, not data, but long specifications happen.
const MAX_STEP_FILE: u64 = 4 * 1024 * 1024;

/// Creates a protocol: number, branch, worktree, header, events, initial commit.
pub fn create_protocol_run(ctx: &Context, opts: &CreateOptions) -> Result<ProtocolRun, Error> {
    if opts.steps_from.is_none() && !opts.no_plan {
        return Err(Error::PlanningUnavailable);
    }
    let store = Store::new(&ctx.paths);
    store.check_format()?;
    let config = store.load_config()?;
    let slug = slugify(&opts.short_name, 40);
    if slug.is_empty() {
        return Err(Error::EmptySlug(opts.short_name.clone()));
    }
    let steps = match &opts.steps_from {
        Some(dir) => read_step_files(dir)?,
        None => Vec::new(),
    };
    let base = opts
        .base
        .clone()
        .unwrap_or_else(|| config.project.base_branch.clone());
    let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    let base_ref = format!("{base}^{{commit}}");
    if !git
        .run_unchecked(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &base_ref,
        ])?
        .success()
    {
        return Err(Error::NoBase(base));
    }

    // Numbering reads every place a protocol can live; the project lock (in the common dir,
    // shared by all worktrees) makes two concurrent creations take different numbers.
    let _lock = store.lock_project()?;
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
    let id = ProtocolId::parse(&name).map_err(|source| Error::Name {
        what: "protocol name".into(),
        source,
    })?;
    let branch = format!("{}{id}", config.project.branch_prefix);

    let worktrees_dir = match &config.project.worktree_dir {
        d if d.is_empty() => store.local_dir().join("worktrees"),
        d => ctx.paths.work_tree.join(d),
    };
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
        &branch,
        "--end-of-options",
        &wt_str,
        &base_ref,
    ])?;

    let wt_store = Store::at(&worktree, store.local_dir());
    // The base may predate `godzilla init` being committed; carry the layout over so the
    // protocol branch is self-describing.
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
    let header = ProtocolHeader {
        id: id.clone(),
        description: opts.description.clone(),
        base_branch: base.clone(),
        branch: branch.clone(),
        created: ctx.clock.now_rfc3339(),
        source: if opts.steps_from.is_some() {
            "manual".into()
        } else {
            "none".into()
        },
    };
    storage::create_dir(&wt_store.protocol_dir(&id))?;
    ProtocolRepository::write_header(&wt_store, &header)?;
    let mut meta = serde_json::Map::new();
    meta.insert("branch".into(), branch.clone().into());
    meta.insert("base".into(), base.clone().into());
    let (_, mut state) = telemetry::log_protocol_event(
        ctx,
        &wt_store,
        &id,
        None,
        EventKind::ProtocolCreated,
        format!("created: {}", opts.description),
        meta,
    )?;
    if !steps.is_empty() {
        telemetry::log_protocol_event(
            ctx,
            &wt_store,
            &id,
            None,
            EventKind::PlanningStarted,
            "importing step files",
            Default::default(),
        )?;
        for (step, text) in &steps {
            StepRepository::write_step(&wt_store, &id, step, text)?;
            telemetry::log_protocol_event(
                ctx,
                &wt_store,
                &id,
                Some(step),
                EventKind::StepAdded,
                format!("step {step} imported"),
                Default::default(),
            )?;
        }
        let mut meta = serde_json::Map::new();
        meta.insert("steps".into(), steps.len().into());
        (_, state) = telemetry::log_protocol_event(
            ctx,
            &wt_store,
            &id,
            None,
            EventKind::Planned,
            format!("{} steps imported", steps.len()),
            meta,
        )?;
    }

    let wt_git = git.in_dir(&worktree);
    wt_git.run(&["add", "--all", "--", ".godzilla"])?;
    let message = format!(
        "godzilla({id}): create protocol\n\n{}\n\nGodzilla-Protocol: {id}\n",
        opts.description
    );
    wt_git.run(&["commit", "--quiet", "--no-verify", "-m", &message])?;

    Ok(ProtocolRun {
        id,
        branch,
        worktree: wt_str,
        status: state.status.unwrap_or(ProtocolStatus::Pending),
        steps: steps.into_iter().map(|(s, _)| s).collect(),
    })
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
    let summary = status(ctx, Some(id))?;
    let store = Store::new(&ctx.paths);
    match summary.protocols.into_iter().next().map(|p| p.location) {
        Some(Location::Worktree { path }) => Ok(Store::at(Path::new(&path), store.local_dir())),
        Some(Location::Branch { name }) => Err(Error::NoWorktree {
            id: id.clone(),
            branch: name,
        }),
        None => Err(storage::Error::ProtocolNotFound(id.clone()).into()),
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
    let (kind, verb) = match control {
        Control::Pause => (EventKind::Paused, "paused"),
        Control::Resume => (EventKind::Resumed, "resumed"),
        Control::Cancel => (EventKind::Cancelled, "cancelled"),
    };
    let message = if reason.is_empty() {
        verb.to_owned()
    } else {
        format!("{verb}: {reason}")
    };
    let (_, state) =
        telemetry::log_protocol_event(ctx, &store, id, None, kind, message, Default::default())?;
    Ok(state)
}
