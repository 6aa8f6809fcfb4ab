//! `godzilla gc`: gives disk back by removing protocol worktrees, machine-local logs and
//! finished queue entries that are provably no longer needed, and says what it kept and why.
//!
//! A worktree is removed only when all of these hold: its protocol is finished (completed or
//! cancelled), nobody holds its run lock, `git status` shows nothing (no uncommitted or
//! untracked work), and its branch tip is reachable from a remote-tracking ref (pushed) or
//! from the base branch (merged). The branch itself stays, so every inspection command keeps
//! working from it. Anything else is kept, with the first reason that holds.
//!
//! A queue entry goes (its completion records and its log) only once the job finished
//! (succeeded, negative, failed or cancelled) and, with `--older-than`, finished that long
//! ago; a queued, delayed, running or stale job is never touched.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::context::Context;
use crate::domain::{ProtocolId, ProtocolStatus};
use crate::error_kind::{ErrorKind, HasKind};
use crate::git::{Git, tree};
use crate::services::execution;
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::queue::{self, HostIdentity, JobState, JobView, Queue};
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{self, Store, events, spool};

/// Errors of `gc`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// Reading the queue failed.
    #[error(transparent)]
    Queue(#[from] queue::Error),
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::Queue(e) => e.kind(),
        }
    }
}

/// Options.
#[derive(Clone, Debug, Default)]
pub struct GcOptions {
    /// Report only; remove nothing.
    pub dry_run: bool,
    /// Only what has been idle (no event) for at least this long.
    pub older_than: Option<Duration>,
}

/// What kind of thing was looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    /// A protocol's linked worktree.
    Worktree,
    /// A protocol's machine-local logs (transcripts, check logs).
    Logs,
    /// A queue entry: a job's completion records and log.
    Job,
}

/// One thing `gc` removed (or would remove) or kept.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// What it is.
    pub what: What,
    /// Its path.
    pub path: PathBuf,
    /// The protocol it belongs to.
    pub protocol: Option<String>,
    /// The queue job, for [`What::Job`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Why it was removed, or why it was kept.
    pub reason: String,
}

/// `gc`'s report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GcReport {
    /// Whether nothing was removed on purpose.
    pub dry_run: bool,
    /// Removed (or, with `dry_run`, removable).
    pub removed: Vec<Entry>,
    /// Kept, each with its reason.
    pub kept: Vec<Entry>,
}

/// Whether a protocol's state is finished: the verdict on one worktree or branch.
enum Verdict {
    Safe(String),
    Keep(String),
}

/// Looks at every protocol worktree, log directory and queue entry and removes the safe ones.
pub fn collect(ctx: &Context, opts: &GcOptions) -> Result<GcReport, Error> {
    let here = Store::new(&ctx.paths);
    let config = here.load_config()?;
    let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    let mut report = GcReport {
        dry_run: opts.dry_run,
        ..GcReport::default()
    };
    let worktrees = collect_worktrees(ctx, &here, &config, &git, opts, &mut report)?;
    collect_logs(
        ctx,
        &here,
        &config.project.base_branch,
        &git,
        &worktrees,
        opts,
        &mut report,
    )?;
    collect_jobs(ctx, opts, &mut report)?;
    Ok(report)
}

/// The protocols whose worktrees `gc` removed, and those it kept.
#[derive(Default)]
struct Worktrees {
    removed: Vec<ProtocolId>,
    kept: Vec<ProtocolId>,
}

fn collect_worktrees(
    ctx: &Context,
    here: &Store,
    config: &crate::config::Config,
    root_git: &Git,
    opts: &GcOptions,
    report: &mut GcReport,
) -> Result<Worktrees, Error> {
    let base = &config.project.base_branch;
    let mut seen = Worktrees::default();
    for wt in tree::linked_worktrees(&ctx.paths.common_dir) {
        let Some(branch) = wt
            .head_ref
            .as_deref()
            .and_then(|r| r.strip_prefix("refs/heads/"))
        else {
            continue;
        };
        let Some(id) = branch
            .strip_prefix(config.project.branch_prefix.as_str())
            .and_then(|s| ProtocolId::parse(s).ok())
        else {
            continue;
        };
        let store = Store::at(&wt.path, here.local_dir());
        if !store.protocol_dir(&id).exists() {
            continue;
        }
        let entry = |reason: String| Entry {
            what: What::Worktree,
            path: wt.path.clone(),
            protocol: Some(id.to_string()),
            job: None,
            reason,
        };
        let verdict = if wt.path.canonicalize().ok() == ctx.paths.work_tree.canonicalize().ok() {
            Verdict::Keep("gc runs inside it".into())
        } else {
            judge_worktree(ctx, &store, &id, base, root_git, opts)?
        };
        match verdict {
            Verdict::Keep(reason) => {
                seen.kept.push(id.clone());
                report.kept.push(entry(reason));
            }
            Verdict::Safe(reason) => {
                if !opts.dry_run {
                    // No --force: git itself refuses a worktree that became dirty meanwhile.
                    root_git.run(&[
                        "worktree",
                        "remove",
                        "--end-of-options",
                        &wt.path.to_string_lossy(),
                    ])?;
                }
                seen.removed.push(id.clone());
                report.removed.push(entry(reason));
            }
        }
    }
    Ok(seen)
}

/// Logs: a protocol's logs go with its worktree; logs of a protocol that has no worktree any
/// more go when its branch is finished and pushed or merged, or when it is gone.
fn collect_logs(
    ctx: &Context,
    here: &Store,
    base: &str,
    root_git: &Git,
    worktrees: &Worktrees,
    opts: &GcOptions,
    report: &mut GcReport,
) -> Result<(), Error> {
    let logs_root = here.local_dir().join("logs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&logs_root)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    let status = crate::services::platform::protocols::status(ctx, None).ok();
    for dir in dirs {
        let Some(id) = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| ProtocolId::parse(n).ok())
        else {
            continue;
        };
        let verdict = if worktrees.removed.contains(&id) {
            Verdict::Safe("its worktree was removed".into())
        } else if worktrees.kept.contains(&id) {
            Verdict::Keep("its worktree is kept".into())
        } else {
            let found = status
                .as_ref()
                .and_then(|s| s.protocols.iter().find(|p| p.id == id));
            judge_logs(found, root_git, base)?
        };
        let entry = |reason: String| Entry {
            what: What::Logs,
            path: dir.clone(),
            protocol: Some(id.to_string()),
            job: None,
            reason,
        };
        match verdict {
            Verdict::Keep(reason) => report.kept.push(entry(reason)),
            Verdict::Safe(reason) => {
                if !opts.dry_run {
                    std::fs::remove_dir_all(&dir).map_err(|e| storage::Error::io(&dir, e))?;
                }
                report.removed.push(entry(reason));
            }
        }
    }
    Ok(())
}

/// The logs of a protocol that no kept or removed worktree holds (`found`: where `status`
/// found it, if anywhere).
fn judge_logs(
    found: Option<&crate::services::platform::protocols::ProtocolSummary>,
    root_git: &Git,
    base: &str,
) -> Result<Verdict, Error> {
    use crate::services::platform::protocols::Location;
    let Some(p) = found else {
        return Ok(Verdict::Safe(
            "no worktree or branch holds its protocol".into(),
        ));
    };
    let name = match &p.location {
        Location::Worktree { .. } => {
            return Ok(Verdict::Keep("its protocol is checked out".into()));
        }
        Location::Branch { name } => name,
    };
    if !p.status.is_some_and(ProtocolStatus::is_terminal) {
        return Ok(Verdict::Keep("its protocol is not finished".into()));
    }
    let tip = crate::services::inspect::branch_ref(root_git, name);
    Ok(match reachable(root_git, &tip, base)? {
        Some(how) => Verdict::Safe(format!("finished and {how}")),
        None => Verdict::Keep("its branch is neither pushed nor merged".into()),
    })
}

/// Queue entries: a finished job's records and log go (subject to `--older-than`); a job
/// that is queued or running again (retried meanwhile) keeps everything.
fn collect_jobs(ctx: &Context, opts: &GcOptions, report: &mut GcReport) -> Result<(), Error> {
    let queue = Queue::new(&ctx.paths.local_dir());
    let jobs = queue.list(&HostIdentity::current())?;
    let live = |v: &JobView| v.state.is_live();
    let active: Vec<&JobView> = jobs.iter().filter(|v| live(v)).collect();
    let done_files = spool::list(&queue.root().join("done"))?;
    for view in &jobs {
        let age = humantime::format_duration(Duration::from_secs(view.age_secs));
        let verdict = if live(view) {
            Verdict::Keep(match view.state {
                JobState::Running => format!(
                    "running on {} for {age}",
                    view.worker.as_deref().unwrap_or("a worker"),
                ),
                JobState::Stale => format!(
                    "stale: {}",
                    view.reason.as_deref().unwrap_or("its worker is gone")
                ),
                state => format!("{state}, not finished"),
            })
        } else if active.iter().any(|a| a.id == view.id) {
            Verdict::Keep("it is queued again".into())
        } else if let Some(min) = opts.older_than
            && view.age_secs < min.as_secs()
        {
            Verdict::Keep(format!("{} {age} ago, under --older-than", view.state))
        } else {
            Verdict::Safe(format!("{} {age} ago", view.state))
        };
        let path = if live(view) {
            queue.root().to_path_buf()
        } else {
            queue.done_path(&view.id)
        };
        let entry = |reason: String| Entry {
            what: What::Job,
            path: path.clone(),
            protocol: view.protocol.as_ref().map(ToString::to_string),
            job: Some(view.id.to_string()),
            reason,
        };
        match verdict {
            Verdict::Keep(reason) => report.kept.push(entry(reason)),
            Verdict::Safe(reason) => {
                if !opts.dry_run {
                    // Earlier completions (`done/ID.json.N`, kept by `queue retry`) first,
                    // the record `queue ls` reads last.
                    let prefix = format!("{}.json.", view.id);
                    for name in done_files.iter().filter(|n| n.starts_with(&prefix)) {
                        spool::remove(&queue.root().join("done").join(name))?;
                    }
                    spool::remove(&queue.log_path(&view.id))?;
                    spool::remove(&queue.done_path(&view.id))?;
                }
                report.removed.push(entry(reason));
            }
        }
    }
    Ok(())
}

fn judge_worktree(
    ctx: &Context,
    store: &Store,
    id: &ProtocolId,
    base: &str,
    git: &Git,
    opts: &GcOptions,
) -> Result<Verdict, Error> {
    let state = ProtocolRepository::load_state(store, id)?.state;
    let Some(status) = state.status.filter(|s| s.is_terminal()) else {
        return Ok(Verdict::Keep(format!(
            "{id} is {}, not finished",
            state.status.map_or("unknown", |s| s.as_str())
        )));
    };
    let Ok(_lock) = execution::try_lock_protocol_run(store, id) else {
        return Ok(Verdict::Keep(format!(
            "{id} is being run by another process"
        )));
    };
    let wt_git = Git::new(ctx.git_program(), store.root());
    let dirty = wt_git.run(&["status", "--porcelain", "--untracked-files=all"])?;
    if !dirty.trim().is_empty() {
        return Ok(Verdict::Keep(format!(
            "the worktree has uncommitted changes ({} paths)",
            dirty.lines().count()
        )));
    }
    if let Some(min) = opts.older_than {
        let log = events::read(&ProtocolRepository::events_path(store, id))?.events;
        let last = log
            .iter()
            .filter_map(|e| humantime::parse_rfc3339_weak(&e.ts).ok())
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let idle = ctx.clock.now().duration_since(last).unwrap_or_default();
        if idle < min {
            return Ok(Verdict::Keep(format!(
                "last activity {} ago, under --older-than",
                humantime::format_duration(Duration::from_secs(idle.as_secs()))
            )));
        }
    }
    let tip = wt_git.run(&["rev-parse", "--verify", "HEAD"])?;
    let Some(how) = reachable(git, tip.trim(), base)? else {
        return Ok(Verdict::Keep(
            "its branch tip is neither pushed nor merged into the base branch".into(),
        ));
    };
    Ok(Verdict::Safe(format!("{id} is {status}, clean, and {how}")))
}

/// How `commit` is safe elsewhere: `pushed to <remote ref>` or `merged into <base>`.
fn reachable(git: &Git, commit: &str, base: &str) -> Result<Option<String>, Error> {
    let out = git.run(&[
        "for-each-ref",
        "--format=%(refname)",
        "--contains",
        commit,
        "refs/remotes/",
        &format!("refs/heads/{base}"),
    ])?;
    let mut refs: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    refs.sort_by_key(|r| !r.starts_with("refs/remotes/"));
    Ok(refs.first().map(|r| match r.strip_prefix("refs/remotes/") {
        Some(remote) => format!("pushed to {remote}"),
        None => format!("merged into {base}"),
    }))
}
