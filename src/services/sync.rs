//! `godzilla sync`: exchange protocol branches and `refs/notes/godzilla` with a remote.
//!
//! One round: fetch the remote's protocol branches into `refs/remotes/<R>/<prefix>*` and its
//! notes into `refs/notes/remotes/<R>/godzilla`; bring each local protocol branch up to date
//! (create it, fast-forward it, or merge: `events.jsonl` carries `merge=union`, and the fold
//! sorts by Lamport counter and id, so two machines' logs give one answer); merge the notes
//! with `cat_sort_uniq` (one JSON object per line, so the merge is a set union); then push the
//! protocol branches and the notes, never forced. A push another runner beat us to is
//! rejected; the round starts again after a jittered, bounded backoff.
//!
//! Only branches under the protocol prefix and the notes ref are ever pushed: a user branch
//! is never pushed, let alone forced. Under a lease (`--lease`), the lease is checked before
//! each push, and a runner that lost it publishes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::context::Context;
use crate::domain::ProtocolId;
use crate::error_kind::{ErrorKind, HasKind};
use crate::git::Git;
use crate::git::notes::NOTES_REF;
use crate::git::remote::{self, RefStatus, Remote};
use crate::process;
use crate::services::lease::{self, LeaseTarget};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{self, Store};

/// Errors syncing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Talking to the remote failed.
    #[error(transparent)]
    Remote(#[from] remote::Error),
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// The lease check failed: nothing was published.
    #[error("nothing was published")]
    Lease(#[source] lease::Error),
    /// Both sides changed a branch in ways git cannot merge.
    #[error("branch {branch} changed on both sides and does not merge cleanly{}", if files.is_empty() { String::new() } else { format!(" ({})", files.join(", ")) })]
    Conflict {
        /// The branch.
        branch: String,
        /// The conflicting files, when known.
        files: Vec<String>,
    },
    /// Pushes kept being rejected.
    #[error("the remote kept rejecting the push after {attempts} attempts: {detail}")]
    Rejected {
        /// Attempts made.
        attempts: u32,
        /// The last rejection.
        detail: String,
    },
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            // The remote named is not one git knows, or not a name at all.
            Self::Remote(remote::Error::UnknownRemote { .. } | remote::Error::BadRef { .. }) => {
                ErrorKind::Usage
            }
            Self::Remote(_) | Self::Rejected { .. } => ErrorKind::Failed,
            Self::Infra(e) => e.kind(),
            // Another runner owns the work, or both sides changed it: nothing was published.
            Self::Lease(_) | Self::Conflict { .. } => ErrorKind::Negative,
        }
    }
}

/// What `sync` was asked to do.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// The remote's name.
    pub remote: String,
    /// Publish only while holding this lease.
    pub lease: Option<LeaseTarget>,
    /// Fetch and merge only; push nothing.
    pub no_push: bool,
    /// Rounds before giving up on rejected pushes.
    pub max_attempts: u32,
}

/// What happened to one protocol branch.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BranchAction {
    /// Same on both sides.
    UpToDate,
    /// Created locally from the remote.
    Created,
    /// Fast-forwarded to the remote.
    FastForwarded,
    /// Merged with the remote.
    Merged,
    /// Pushed to the remote.
    Pushed,
}

/// The result of `sync`.
#[derive(Clone, Debug, Serialize)]
pub struct SyncSummary {
    /// The remote.
    pub remote: String,
    /// Each protocol branch and what happened to it (the last action wins).
    pub branches: BTreeMap<String, BranchAction>,
    /// Whether remote notes were merged into local ones.
    pub notes_merged: bool,
    /// Whether the notes were pushed.
    pub notes_pushed: bool,
    /// Rounds it took.
    pub attempts: u32,
}

fn identity_args(git: &Git) -> Result<Vec<&'static str>, Error> {
    // Merges need an author; a CI clone often has none configured. Only then is one supplied
    // (GIT_AUTHOR_* in the environment still win).
    if git.run_unchecked(&["config", "user.email"])?.success() {
        Ok(Vec::new())
    } else {
        Ok(vec![
            "-c",
            "user.name=godzilla",
            "-c",
            "user.email=godzilla@localhost",
        ])
    }
}

fn refs_under(git: &Git, prefix: &str) -> Result<BTreeMap<String, String>, Error> {
    let out = git.run(&[
        "for-each-ref",
        "--format=%(refname) %(objectname)",
        "--end-of-options",
        prefix,
    ])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(r, o)| (r.to_owned(), o.to_owned()))
        .collect())
}

/// Which worktree has each branch checked out.
fn checked_out(git: &Git) -> Result<BTreeMap<String, PathBuf>, Error> {
    let out = git.run(&["worktree", "list", "--porcelain"])?;
    let mut map = BTreeMap::new();
    let mut path = None;
    for line in out.lines() {
        if let Some(p) = line.strip_prefix("worktree ") {
            path = Some(PathBuf::from(p));
        } else if let Some(b) = line.strip_prefix("branch ")
            && let Some(p) = &path
        {
            map.insert(b.to_owned(), p.clone());
        }
    }
    Ok(map)
}

fn is_ancestor(git: &Git, a: &str, b: &str) -> Result<bool, Error> {
    let out = git.run_unchecked(&["merge-base", "--is-ancestor", "--end-of-options", a, b])?;
    match out.code {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(process::check(git.program(), &["merge-base"], out)
            .err()
            .map_or_else(
                || Error::Conflict {
                    branch: a.into(),
                    files: Vec::new(),
                },
                Error::from,
            )),
    }
}

/// Finishes a merge whose only conflicts are protocol views (`status.json`): a view is
/// derived from the event log (which merged by union), so it is rebuilt from the merged log
/// instead of being merged. Returns false when other files conflict.
fn resolve_views(git: &Git, wt: &Git, root: &Path, local_dir: &Path) -> Result<bool, Error> {
    let conflicted = wt.run(&["diff", "--name-only", "--diff-filter=U"])?;
    let files: Vec<&str> = conflicted.lines().filter(|l| !l.is_empty()).collect();
    let ids: Vec<Option<ProtocolId>> = files
        .iter()
        .map(|f| {
            f.strip_prefix(".godzilla/protocols/")
                .and_then(|rest| rest.strip_suffix("/status.json"))
                .and_then(|id| ProtocolId::parse(id).ok())
        })
        .collect();
    if files.is_empty() || ids.iter().any(Option::is_none) {
        return Ok(false);
    }
    let store = Store::at(root, local_dir);
    for id in ids.into_iter().flatten() {
        let state = ProtocolRepository::load_state(&store, &id)?.state;
        let log = storage::events::read(&ProtocolRepository::events_path(&store, &id))?;
        ProtocolRepository::write_view(&store, &state, log.len, &log.sha256)?;
    }
    let mut add = vec!["add", "--"];
    add.extend(files.iter().copied());
    wt.run(&add)?;
    let mut commit = identity_args(git)?;
    commit.extend(["commit", "--quiet", "--no-edit", "--no-verify"]);
    wt.run(&commit)?;
    Ok(true)
}

/// Brings local branch `local_ref` (maybe absent) up to `theirs`.
#[allow(clippy::too_many_arguments)]
fn integrate(
    git: &Git,
    local_dir: &Path,
    worktrees: &BTreeMap<String, PathBuf>,
    local_ref: &str,
    ours: Option<&str>,
    theirs: &str,
    message: &str,
) -> Result<BranchAction, Error> {
    let branch = local_ref.trim_start_matches("refs/heads/").to_owned();
    let Some(ours) = ours else {
        git.run(&["update-ref", "--end-of-options", local_ref, theirs, ""])?;
        return Ok(BranchAction::Created);
    };
    if ours == theirs || is_ancestor(git, theirs, ours)? {
        return Ok(BranchAction::UpToDate);
    }
    let fast_forward = is_ancestor(git, ours, theirs)?;
    if let Some(dir) = worktrees.get(local_ref) {
        let wt = git.in_dir(dir);
        let mut args = identity_args(git)?;
        if fast_forward {
            args.extend(["merge", "--ff-only", "--quiet", "--end-of-options", theirs]);
            wt.run(&args)?;
            return Ok(BranchAction::FastForwarded);
        }
        args.extend([
            "merge",
            "--no-edit",
            "--quiet",
            "-m",
            message,
            "--end-of-options",
            theirs,
        ]);
        let out = wt.run_unchecked(&args)?;
        if !out.success() && !resolve_views(git, &wt, dir, local_dir)? {
            let files = wt
                .run(&["diff", "--name-only", "--diff-filter=U"])
                .map(|t| t.lines().map(str::to_owned).collect())
                .unwrap_or_default();
            // Leave the worktree as it was; the person decides.
            let _aborted = wt.run_unchecked(&["merge", "--abort"]);
            return Err(Error::Conflict { branch, files });
        }
        return Ok(BranchAction::Merged);
    }
    if fast_forward {
        git.run(&["update-ref", "--end-of-options", local_ref, theirs, ours])?;
        return Ok(BranchAction::FastForwarded);
    }
    // Not checked out anywhere: merge without a worktree.
    let out = git.run_unchecked(&[
        "merge-tree",
        "--write-tree",
        "--end-of-options",
        ours,
        theirs,
    ])?;
    if !out.success() {
        return Err(Error::Conflict {
            branch,
            files: Vec::new(),
        });
    }
    let tree = out
        .stdout_text()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut args = identity_args(git)?;
    args.extend([
        "commit-tree",
        "-p",
        ours,
        "-p",
        theirs,
        "-F",
        "-",
        "--end-of-options",
        &tree,
    ]);
    let commit = git
        .run_with_stdin(&args, message.as_bytes())?
        .trim()
        .to_owned();
    git.run(&["update-ref", "--end-of-options", local_ref, &commit, ours])?;
    Ok(BranchAction::Merged)
}

fn jitter(ctx: &Context, attempt: u32) -> Duration {
    let base = 50u64 << attempt.min(5);
    Duration::from_millis(base + ctx.ids.next_u64() % (base * 2))
}

/// One or more rounds of fetch, merge and push; see the module docs.
pub fn sync(ctx: &Context, opts: &SyncOptions) -> Result<SyncSummary, Error> {
    let store = Store::new(&ctx.paths);
    let config = store.load_config()?;
    let prefix = config.project.branch_prefix.clone();
    let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    let remote = Remote::open(&git, &opts.remote)?;
    remote::validate_ref(&format!("refs/heads/{prefix}x"))?;
    let r = remote.name();
    let tracking = format!("refs/remotes/{r}/{prefix}");
    let remote_notes = format!("refs/notes/remotes/{r}/godzilla");
    let fetch_specs = vec![
        format!("+refs/heads/{prefix}*:{tracking}*"),
        format!("+{NOTES_REF}*:{remote_notes}*"),
    ];
    let mut summary = SyncSummary {
        remote: r.to_owned(),
        branches: BTreeMap::new(),
        notes_merged: false,
        notes_pushed: false,
        attempts: 0,
    };
    let max = opts.max_attempts.max(1);
    let mut last_rejection = String::new();
    for attempt in 1..=max {
        summary.attempts = attempt;
        ctx.reporter
            .status("Fetching", &format!("protocol branches and notes from {r}"));
        remote::fetch(&git, &remote, &fetch_specs)?;
        let worktrees = checked_out(&git)?;
        let locals = refs_under(&git, &format!("refs/heads/{prefix}"))?;
        for (remote_ref, theirs) in refs_under(&git, &tracking)? {
            let name = &remote_ref[tracking.len()..];
            let local_ref = format!("refs/heads/{prefix}{name}");
            if remote::validate_ref(&local_ref).is_err() {
                ctx.reporter.warn(&format!(
                    "skipping remote branch with an unsafe name: {remote_ref}"
                ));
                continue;
            }
            let message = format!("godzilla sync: merge {r}/{prefix}{name}");
            let action = integrate(
                &git,
                store.local_dir(),
                &worktrees,
                &local_ref,
                locals.get(&local_ref).map(String::as_str),
                &theirs,
                &message,
            )?;
            summary.branches.insert(format!("{prefix}{name}"), action);
        }
        summary.notes_merged |= merge_notes(ctx, &git, &store, &remote_notes)?;
        if opts.no_push {
            return Ok(summary);
        }
        if let Some(target) = &opts.lease {
            lease::check(ctx, &git, &remote, target).map_err(Error::Lease)?;
        }
        let locals = refs_under(&git, &format!("refs/heads/{prefix}"))?;
        let remotes = refs_under(&git, &tracking)?;
        let mut specs: Vec<String> = Vec::new();
        for (local_ref, oid) in &locals {
            let name = &local_ref["refs/heads/".len()..];
            if remote::validate_ref(local_ref).is_err() {
                continue;
            }
            let tracked = format!("{tracking}{}", &name[prefix.len()..]);
            if remotes.get(&tracked) != Some(oid) {
                specs.push(format!("{local_ref}:{local_ref}"));
            }
        }
        let local_notes = refs_under(&git, NOTES_REF)?;
        let notes_differ = match local_notes.get(NOTES_REF) {
            Some(oid) => refs_under(&git, &remote_notes)?.get(&remote_notes) != Some(oid),
            None => false,
        };
        if notes_differ {
            specs.push(format!("{NOTES_REF}:{NOTES_REF}"));
        }
        if specs.is_empty() {
            return Ok(summary);
        }
        ctx.reporter
            .status("Pushing", &format!("{} ref(s) to {r}", specs.len()));
        let pushed = remote::push(&git, &remote, &specs, None)?;
        let mut rejected = Vec::new();
        for p in &pushed {
            match &p.status {
                RefStatus::Updated | RefStatus::UpToDate => {
                    if p.dst == NOTES_REF {
                        summary.notes_pushed = true;
                    } else if let Some(b) = p.dst.strip_prefix("refs/heads/") {
                        summary.branches.insert(b.to_owned(), BranchAction::Pushed);
                    }
                }
                RefStatus::Rejected(why) => rejected.push(format!("{} ({why})", p.dst)),
            }
        }
        if rejected.is_empty() {
            return Ok(summary);
        }
        last_rejection = rejected.join(", ");
        if attempt < max {
            ctx.reporter
                .status("Retrying", &format!("push rejected: {last_rejection}"));
            std::thread::sleep(jitter(ctx, attempt));
        }
    }
    Err(Error::Rejected {
        attempts: max,
        detail: last_rejection,
    })
}

/// Merges the fetched remote notes into local ones (`cat_sort_uniq`), under the lock local
/// note writers take. Returns whether anything changed.
fn merge_notes(ctx: &Context, git: &Git, store: &Store, remote_notes: &str) -> Result<bool, Error> {
    let Some(theirs) = refs_under(git, remote_notes)?.remove(remote_notes) else {
        return Ok(false);
    };
    let _lock = storage::lock(&store.local_dir().join("locks").join("notes.lock"))?;
    let ours = refs_under(git, NOTES_REF)?.remove(NOTES_REF);
    match ours {
        None => {
            git.run(&["update-ref", "--end-of-options", NOTES_REF, &theirs, ""])?;
            Ok(true)
        }
        Some(o) if o == theirs || is_ancestor(git, &theirs, &o)? => Ok(false),
        Some(_) => {
            let mut args = identity_args(git)?;
            args.extend([
                "notes",
                "--ref",
                NOTES_REF,
                "merge",
                "--quiet",
                "--strategy",
                "cat_sort_uniq",
                "--end-of-options",
                remote_notes,
            ]);
            git.run(&args)?;
            ctx.reporter
                .status("Merged", "remote notes (cat_sort_uniq)");
            Ok(true)
        }
    }
}
