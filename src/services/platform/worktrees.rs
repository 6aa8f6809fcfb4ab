//! Where protocol worktrees live, and moving them out of the old default place.
//!
//! The default is `$XDG_DATA_HOME/godzilla/worktrees/<repo-key>/NNNN-slug` (XDG_DATA_HOME
//! defaulting to `~/.local/share`). Not under `.git`: agents treat everything below a `.git`
//! directory as sensitive (Claude refuses to edit there). Not inside the main working tree
//! either, where every worktree would show as untracked. Not a sibling of the repository:
//! its parent may be another repository's working tree (submodules, nested checkouts) or not
//! writable. The user's data directory belongs to the user, is writable, and lies inside no
//! working tree. git's own worktree registry (under the common dir) is what finds worktrees
//! again, so the key only has to keep two repositories apart.
//!
//! Earlier versions put them in `$GIT_COMMON_DIR/godzilla/worktrees/`; such worktrees are
//! moved (`git worktree move`) the first time a command looks a protocol up.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::protocols::Error;
use crate::config::Config;
use crate::context::Context;
use crate::domain::ProtocolId;
use crate::git::{Git, tree};
use crate::services::platform::storage::{self, Lock};

/// The directory that holds this repository's protocol worktrees.
pub fn worktrees_dir(ctx: &Context, config: &Config) -> Result<PathBuf, Error> {
    match config.project.worktree_dir.as_str() {
        // An absolute path is kept as is by `join`.
        "" => Ok(default_worktrees_dir(ctx)),
        dir => Ok(ctx.paths.work_tree.join(dir)),
    }
}

/// `$XDG_DATA_HOME/godzilla/worktrees/<repo-key>`; without XDG_DATA_HOME and HOME (a bare
/// service environment), `<main working tree>.godzilla-worktrees` next to the repository.
pub fn default_worktrees_dir(ctx: &Context) -> PathBuf {
    let env = |name: &str| {
        ctx.env
            .all
            .get(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    // The XDG spec ignores a relative XDG_DATA_HOME.
    let data = env("XDG_DATA_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| env("HOME").map(|h| h.join(".local/share")));
    let Some(data) = data else {
        let main = main_work_tree(ctx);
        let mut name = main.file_name().unwrap_or_default().to_owned();
        name.push(".godzilla-worktrees");
        return main.with_file_name(name);
    };
    data.join("godzilla")
        .join("worktrees")
        .join(repo_key(&ctx.paths.common_dir))
}

/// `<name>-<12 hex digits>`: the repository's directory name for people, and a hash of its
/// common dir so that two clones with the same name never share a directory.
pub fn repo_key(common_dir: &Path) -> String {
    let common = common_dir
        .canonicalize()
        .unwrap_or_else(|_| common_dir.to_path_buf());
    // `/x/repo/.git` is named after `repo`; a bare or separate git dir after itself.
    let named = if common.file_name().is_some_and(|n| n == ".git") {
        common.parent().unwrap_or(&common)
    } else {
        &common
    };
    let name: String = named
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let name = name.trim_start_matches(['-', '_']);
    let digest = Sha256::digest(common.as_os_str().as_encoded_bytes());
    let hex = crate::digest::hex(&digest[..6]);
    if name.is_empty() {
        hex
    } else {
        format!("{name}-{hex}")
    }
}

/// The old default place: `$GIT_COMMON_DIR/godzilla/worktrees`.
fn legacy_dir(ctx: &Context) -> PathBuf {
    ctx.paths.local_dir().join("worktrees")
}

/// A worktree moved out of the old place.
#[derive(Clone, Debug)]
pub struct Moved {
    /// Where it was.
    pub from: PathBuf,
    /// Where it is now.
    pub to: PathBuf,
}

/// Moves every protocol worktree found in the old default place to the current one, unless
/// the config names a place of its own. A worktree is left where it is (with a warning) when
/// a run holds it, when this process works inside it, or when git cannot move it (another
/// file system, a submodule): it keeps working there, only Claude cannot edit in it.
pub fn migrate_legacy(ctx: &Context, config: &Config) -> Vec<Moved> {
    let legacy = legacy_dir(ctx);
    if !config.project.worktree_dir.is_empty() || !legacy.is_dir() {
        return Vec::new();
    }
    let target_dir = default_worktrees_dir(ctx);
    let legacy = legacy.canonicalize().unwrap_or(legacy);
    let here = ctx
        .paths
        .work_tree
        .canonicalize()
        .unwrap_or_else(|_| ctx.paths.work_tree.clone());
    let git = Git::new(ctx.git_program(), &main_work_tree(ctx));
    let mut moved = Vec::new();
    for wt in tree::linked_worktrees(&ctx.paths.common_dir) {
        let path = wt.path.canonicalize().unwrap_or(wt.path);
        let Ok(rest) = path.strip_prefix(&legacy) else {
            continue;
        };
        let Some(name) = rest.to_str().filter(|n| !n.contains('/')) else {
            continue;
        };
        if here.starts_with(&path) {
            continue;
        }
        let warn = |why: String| {
            ctx.reporter.warn(&format!(
                "protocol worktree {} stays under .git ({why}); Claude cannot edit files there",
                path.display()
            ));
        };
        // The run lock: nobody may be working in a worktree while it moves.
        let lock = match ProtocolId::parse(name) {
            Ok(id) => try_lock_run(ctx, &id),
            Err(_) => continue,
        };
        let Some(_lock) = lock else {
            warn("a run holds it; it moves next time".into());
            continue;
        };
        let to = target_dir.join(name);
        if to.exists() {
            warn(format!("{} already exists", to.display()));
            continue;
        }
        if let Err(e) = storage::create_dir(&target_dir) {
            warn(e.to_string());
            continue;
        }
        let (from_s, to_s) = (path.to_string_lossy(), to.to_string_lossy());
        match git.run(&["worktree", "move", "--end-of-options", &from_s, &to_s]) {
            Ok(_) => {
                ctx.reporter.status(
                    "Moved",
                    &format!("protocol worktree {name} out of .git to {}", to.display()),
                );
                moved.push(Moved {
                    from: path.clone(),
                    to,
                });
            }
            Err(e) => warn(e.to_string()),
        }
    }
    moved
}

/// The main working tree (the parent of a `.git` common dir), else the current one.
fn main_work_tree(ctx: &Context) -> PathBuf {
    ctx.paths
        .common_dir
        .parent()
        .filter(|_| {
            ctx.paths
                .common_dir
                .file_name()
                .is_some_and(|n| n == ".git")
        })
        .map_or_else(|| ctx.paths.work_tree.clone(), Path::to_path_buf)
}

/// The protocol's run lock if nobody holds it (the same file `execution` locks for a run).
fn try_lock_run(ctx: &Context, id: &ProtocolId) -> Option<Lock> {
    let path = ctx
        .paths
        .local_dir()
        .join("locks")
        .join(format!("run-{id}.lock"));
    Lock::try_acquire(&path).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_repo_key_names_and_separates_repositories() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("my repo/.git");
        let b = dir.path().join("other/my repo/.git");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let (ka, kb) = (repo_key(&a), repo_key(&b));
        assert!(ka.starts_with("my_repo-"), "{ka}");
        assert_eq!(ka.len(), "my_repo-".len() + 12);
        assert_ne!(ka, kb);
        assert_eq!(ka, repo_key(&a), "stable");
        let bare = dir.path().join("-srv.git");
        std::fs::create_dir_all(&bare).unwrap();
        assert!(repo_key(&bare).starts_with("srv_git-"));
    }
}
