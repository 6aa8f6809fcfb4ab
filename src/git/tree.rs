//! Reading godzilla state from branches without checking them out (gix), and finding the
//! worktrees of the repository (from the files git keeps under the common dir).

use std::path::{Path, PathBuf};

use crate::domain::ProtocolId;

/// Errors reading objects with gix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The repository could not be opened.
    #[error("cannot open the repository at {}", path.display())]
    Open {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Reading references or objects failed.
    #[error("cannot read {what}")]
    Read {
        /// What was being read.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn read_err<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> Error {
    let what = what.into();
    move |e| Error::Read {
        what,
        source: Box::new(e),
    }
}

/// A worktree of the repository and the branch checked out in it.
#[derive(Clone, Debug)]
pub struct Worktree {
    /// Its root directory.
    pub path: PathBuf,
    /// Full ref name of its HEAD when on a branch (`refs/heads/...`).
    pub head_ref: Option<String>,
}

/// The linked worktrees recorded under `<common>/worktrees/` (not the main one), read from
/// git's own files: cheaper than opening each as a repository.
pub fn linked_worktrees(common_dir: &Path) -> Vec<Worktree> {
    let Ok(entries) = std::fs::read_dir(common_dir.join("worktrees")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let admin = entry.path();
        let Ok(gitdir) = std::fs::read_to_string(admin.join("gitdir")) else {
            continue;
        };
        let Some(root) = Path::new(gitdir.trim()).parent() else {
            continue;
        };
        if !root.exists() {
            continue;
        }
        let head_ref = std::fs::read_to_string(admin.join("HEAD"))
            .ok()
            .and_then(|h| h.trim().strip_prefix("ref: ").map(str::to_owned));
        out.push(Worktree {
            path: root.to_path_buf(),
            head_ref,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The state files of one protocol as stored in a commit.
#[derive(Clone, Debug)]
pub struct ProtocolBlobs {
    /// The protocol id.
    pub id: ProtocolId,
    /// `status.json`, if present.
    pub view: Option<Vec<u8>>,
    /// `events.jsonl`, if present.
    pub events: Option<Vec<u8>>,
}

/// Branches under `refs/heads/<prefix>` with the protocols their trees hold.
pub struct BranchScan {
    /// `(branch name without refs/heads/, protocols in its tree)`.
    pub branches: Vec<(String, Vec<ProtocolBlobs>)>,
    /// Directory names under `.godzilla/protocols` that are not valid ids, per branch.
    pub bad_names: Vec<(String, String)>,
}

/// Lists branches whose name starts with `prefix` (e.g. `godzilla/`).
pub fn branches_with_prefix(common_dir: &Path, prefix: &str) -> Result<Vec<String>, Error> {
    let repo = open(common_dir)?;
    list_branches(&repo, prefix)
}

fn open(common_dir: &Path) -> Result<gix::Repository, Error> {
    super::open_repo(common_dir).map_err(|e| Error::Open {
        path: common_dir.to_path_buf(),
        source: e,
    })
}

fn list_branches(repo: &gix::Repository, prefix: &str) -> Result<Vec<String>, Error> {
    let full = format!("refs/heads/{prefix}");
    let platform = repo.references().map_err(read_err("references"))?;
    let iter = platform
        .prefixed(full.as_str())
        .map_err(read_err("references"))?;
    let mut names = Vec::new();
    for r in iter {
        let r = r.map_err(|e| Error::Read {
            what: "a reference".into(),
            source: e.into(),
        })?;
        let name = r.name().as_bstr().to_string();
        if let Some(short) = name.strip_prefix("refs/heads/") {
            names.push(short.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Reads `.godzilla/protocols/*` from the tip of each branch under `prefix`, skipping
/// branches in `skip` (those checked out in a worktree are read from disk instead).
pub fn scan_branches(
    common_dir: &Path,
    prefix: &str,
    skip: &[String],
) -> Result<BranchScan, Error> {
    let mut scan = BranchScan {
        branches: Vec::new(),
        bad_names: Vec::new(),
    };
    let repo = open(common_dir)?;
    for branch in list_branches(&repo, prefix)? {
        if skip.iter().any(|s| s == &branch) {
            continue;
        }
        let protocols = read_branch(&repo, &branch, &mut scan.bad_names)?;
        scan.branches.push((branch, protocols));
    }
    Ok(scan)
}

/// Like [`scan_branches`] for remote-tracking branches (`refs/remotes/<remote>/<prefix>*`),
/// named `<remote>/<branch>`; those in `skip` (and their local copies) are left out.
pub fn scan_remote_branches(
    common_dir: &Path,
    prefix: &str,
    skip: &[String],
) -> Result<BranchScan, Error> {
    let mut scan = BranchScan {
        branches: Vec::new(),
        bad_names: Vec::new(),
    };
    let repo = open(common_dir)?;
    for (name, _) in ref_targets(&repo, "refs/remotes/")? {
        let Some(short) = name.strip_prefix("refs/remotes/") else {
            continue;
        };
        let Some((_, branch)) = short.split_once('/') else {
            continue;
        };
        if !branch.starts_with(prefix) || skip.iter().any(|s| s == short) {
            continue;
        }
        let protocols = read_ref(&repo, &name, short, &mut scan.bad_names)?;
        scan.branches.push((short.to_owned(), protocols));
    }
    Ok(scan)
}

/// Every ref under `prefix` (a full ref prefix such as `refs/remotes/`) with the object it
/// points at, sorted by name.
pub fn refs_with_targets(common_dir: &Path, prefix: &str) -> Result<Vec<(String, String)>, Error> {
    let repo = open(common_dir)?;
    ref_targets(&repo, prefix)
}

fn ref_targets(repo: &gix::Repository, prefix: &str) -> Result<Vec<(String, String)>, Error> {
    let platform = repo.references().map_err(read_err("references"))?;
    let iter = platform.prefixed(prefix).map_err(read_err("references"))?;
    let mut out = Vec::new();
    for r in iter {
        let mut r = r.map_err(|e| Error::Read {
            what: "a reference".into(),
            source: e.into(),
        })?;
        let name = r.name().as_bstr().to_string();
        if let Ok(id) = r.peel_to_id() {
            out.push((name, id.to_string()));
        }
    }
    out.sort();
    Ok(out)
}

fn read_branch(
    repo: &gix::Repository,
    branch: &str,
    bad: &mut Vec<(String, String)>,
) -> Result<Vec<ProtocolBlobs>, Error> {
    read_ref(repo, &format!("refs/heads/{branch}"), branch, bad)
}

fn read_ref(
    repo: &gix::Repository,
    full: &str,
    branch: &str,
    bad: &mut Vec<(String, String)>,
) -> Result<Vec<ProtocolBlobs>, Error> {
    let full = full.to_owned();
    let mut reference = repo
        .find_reference(full.as_str())
        .map_err(read_err(full.clone()))?;
    let commit = reference.peel_to_commit().map_err(read_err(full.clone()))?;
    let tree = commit.tree().map_err(read_err(full.clone()))?;
    let Some(entry) = tree
        .lookup_entry_by_path(".godzilla/protocols")
        .map_err(read_err(full.clone()))?
    else {
        return Ok(Vec::new());
    };
    if !entry.mode().is_tree() {
        return Ok(Vec::new());
    }
    let protocols_tree = entry.object().map_err(read_err(full.clone()))?.into_tree();
    let mut out = Vec::new();
    for e in protocols_tree.iter() {
        let e = e.map_err(read_err(full.clone()))?;
        if !e.mode().is_tree() {
            continue;
        }
        let name = e.filename().to_string();
        let id = match ProtocolId::parse(&name) {
            Ok(id) => id,
            Err(err) => {
                bad.push((branch.to_owned(), format!("{name}: {err}")));
                continue;
            }
        };
        let dir = repo
            .find_tree(e.oid())
            .map_err(read_err(format!("{branch}:{name}")))?;
        let blob = |file: &str| -> Result<Option<Vec<u8>>, Error> {
            let Some(entry) = dir.find_entry(file) else {
                return Ok(None);
            };
            let object = repo
                .find_object(entry.oid())
                .map_err(read_err(format!("{branch}:{name}/{file}")))?;
            Ok(Some(object.detach().data))
        };
        out.push(ProtocolBlobs {
            view: blob("status.json")?,
            events: blob("events.jsonl")?,
            id,
        });
    }
    Ok(out)
}
