//! Read-only access to a protocol wherever it lives: its worktree, or, once that worktree
//! is gone (`godzilla gc`, a manual `git worktree remove`), the tip of its branch. Inspection
//! commands (`protocol show`, `step show`, `events`, `cost`, `report`) read through here so
//! they keep working on a finished protocol.
//!
//! A branch-only protocol's `.godzilla/` files are copied from the branch tip into a private
//! temporary directory, so every reader sees the same files it would see in a worktree.

use std::path::PathBuf;

use tempfile::TempDir;

use crate::context::Context;
use crate::domain::ProtocolId;
use crate::git::Git;
use crate::services::platform::protocols::{self, Location};
use crate::services::platform::storage::{self, Store};

/// A protocol opened for reading.
pub struct Source {
    /// A store holding the protocol's files (its worktree, or a copy of its branch tip).
    pub store: Store,
    /// Where the files came from.
    pub location: Location,
    /// git, in a directory of the repository.
    pub git: Git,
    /// The revision holding the protocol's commits: `HEAD` of its worktree, or its branch.
    pub rev: String,
    _copy: Option<TempDir>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("root", &self.store.root())
            .field("location", &self.location)
            .field("rev", &self.rev)
            .finish_non_exhaustive()
    }
}

/// Opens `id` for reading.
pub fn open(ctx: &Context, id: &ProtocolId) -> Result<Source, protocols::Error> {
    let summary = protocols::status(ctx, Some(id))?;
    let here = Store::new(&ctx.paths);
    let Some(found) = summary.protocols.into_iter().next() else {
        return Err(storage::Error::ProtocolNotFound(id.clone()).into());
    };
    match &found.location {
        Location::Worktree { path } => {
            let root = PathBuf::from(path);
            Ok(Source {
                store: Store::at(&root, here.local_dir()),
                git: Git::new(ctx.git_program(), &root),
                rev: "HEAD".into(),
                location: found.location,
                _copy: None,
            })
        }
        Location::Branch { name } => {
            let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
            let rev = branch_ref(&git, name);
            let copy = tempfile::Builder::new()
                .prefix("godzilla-inspect-")
                .tempdir()
                .map_err(|e| storage::Error::io(std::env::temp_dir(), e))?;
            copy_state(&git, &rev, id, copy.path())?;
            Ok(Source {
                store: Store::at(copy.path(), here.local_dir()),
                git,
                rev,
                location: found.location,
                _copy: Some(copy),
            })
        }
    }
}

/// The full ref of a branch `status` names: local (`godzilla/0001-x`), else remote-tracking
/// (`origin/godzilla/0001-x`).
pub fn branch_ref(git: &Git, name: &str) -> String {
    let local = format!("refs/heads/{name}");
    let exists = git
        .run_unchecked(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &local,
        ])
        .is_ok_and(|o| o.success());
    if exists {
        local
    } else {
        format!("refs/remotes/{name}")
    }
}

/// Copies `.godzilla/` of `rev` (only `id` among its protocols) into `dest`.
fn copy_state(
    git: &Git,
    rev: &str,
    id: &ProtocolId,
    dest: &std::path::Path,
) -> Result<(), protocols::Error> {
    let listing = git.run(&["ls-tree", "-r", "-z", "--full-tree", rev, "--", ".godzilla"])?;
    let mine = format!(".godzilla/protocols/{id}/");
    let mut wanted = Vec::new();
    for entry in listing.split('\0').filter(|e| !e.is_empty()) {
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let mut fields = meta.split_whitespace();
        let (Some(_mode), Some("blob"), Some(oid)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if path.starts_with(".godzilla/protocols/") && !path.starts_with(&mine) {
            continue;
        }
        // Paths come from a tree git wrote; still, nothing may land outside `dest`.
        if path.split('/').any(|c| c == ".." || c.is_empty()) {
            continue;
        }
        wanted.push((oid.to_owned(), path.to_owned()));
    }
    let input: String = wanted.iter().map(|(oid, _)| format!("{oid}\n")).collect();
    let argv = git.argv_for(&["cat-file", "--batch"]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = crate::process::run(
        git.program(),
        &argv,
        git.dir(),
        &[],
        &[],
        Some(input.as_bytes()),
    )?;
    let mut rest: &[u8] = &out.stdout;
    for (_, path) in &wanted {
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            break;
        };
        let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
        let size: usize = header
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body_start = nl + 1;
        let body_end = (body_start + size).min(rest.len());
        storage::write_derived(&dest.join(path), &rest[body_start..body_end])?;
        rest = rest.get(body_end + 1..).unwrap_or_default();
    }
    Ok(())
}
