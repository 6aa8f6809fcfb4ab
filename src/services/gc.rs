//! `godzilla gc`: gives disk back by removing protocol worktrees and machine-local logs that
//! are provably no longer needed, and says what it kept and why.
//!
//! A worktree is removed only when all of these hold: its protocol is finished (completed or
//! cancelled), nobody holds its run lock, `git status` shows nothing (no uncommitted or
//! untracked work), and its branch tip is reachable from a remote-tracking ref (pushed) or
//! from the base branch (merged). The branch itself stays, so every inspection command keeps
//! working from it. Anything else is kept, with the first reason that holds.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::context::Context;
use crate::domain::{ProtocolId, ProtocolStatus};
use crate::git::{Git, tree};
use crate::services::execution;
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{self, Store, events};

/// Errors of `gc`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading state failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] crate::process::Error),
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

/// Looks at every protocol worktree and log directory and removes the safe ones.
pub fn collect(ctx: &Context, opts: &GcOptions) -> Result<GcReport, Error> {
    let here = Store::new(&ctx.paths);
    let config = here.load_config()?;
    let root_git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    let base = config.project.base_branch.clone();
    let mut report = GcReport {
        dry_run: opts.dry_run,
        ..GcReport::default()
    };
    let mut removed_protocols = Vec::new();
    let mut live_protocols = Vec::new();
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
        if wt.path.canonicalize().ok() == ctx.paths.work_tree.canonicalize().ok() {
            live_protocols.push(id.clone());
            report.kept.push(Entry {
                what: What::Worktree,
                path: wt.path.clone(),
                protocol: Some(id.to_string()),
                reason: "gc runs inside it".into(),
            });
            continue;
        }
        let entry = |reason: String| Entry {
            what: What::Worktree,
            path: wt.path.clone(),
            protocol: Some(id.to_string()),
            reason,
        };
        match judge_worktree(ctx, &store, &id, &base, &root_git, opts)? {
            Verdict::Keep(reason) => {
                live_protocols.push(id.clone());
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
                removed_protocols.push(id.clone());
                report.removed.push(entry(reason));
            }
        }
    }
    // Logs: a protocol's logs go with its worktree; logs of a protocol that has no worktree
    // any more go when its branch is finished and pushed or merged, or when it is gone.
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
        let entry = |reason: &str| Entry {
            what: What::Logs,
            path: dir.clone(),
            protocol: Some(id.to_string()),
            reason: reason.to_owned(),
        };
        let verdict = if removed_protocols.contains(&id) {
            Verdict::Safe("its worktree was removed".into())
        } else if live_protocols.contains(&id) {
            Verdict::Keep("its worktree is kept".into())
        } else {
            let found = status
                .as_ref()
                .and_then(|s| s.protocols.iter().find(|p| p.id == id));
            match found.map(|p| &p.location) {
                Some(crate::services::platform::protocols::Location::Worktree { .. }) => {
                    Verdict::Keep("its protocol is checked out".into())
                }
                Some(crate::services::platform::protocols::Location::Branch { name }) => {
                    let finished = found
                        .and_then(|p| p.status)
                        .is_some_and(ProtocolStatus::is_terminal);
                    if !finished {
                        Verdict::Keep("its protocol is not finished".into())
                    } else {
                        match reachable(
                            &root_git,
                            &crate::services::inspect::branch_ref(&root_git, name),
                            &base,
                        )? {
                            Some(how) => Verdict::Safe(format!("finished and {how}")),
                            None => Verdict::Keep("its branch is neither pushed nor merged".into()),
                        }
                    }
                }
                None => Verdict::Safe("no worktree or branch holds its protocol".into()),
            }
        };
        match verdict {
            Verdict::Keep(reason) => report.kept.push(entry(&reason)),
            Verdict::Safe(reason) => {
                if !opts.dry_run {
                    std::fs::remove_dir_all(&dir).map_err(|e| storage::Error::io(&dir, e))?;
                }
                report.removed.push(entry(&reason));
            }
        }
    }
    Ok(report)
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
