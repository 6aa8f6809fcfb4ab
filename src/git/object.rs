//! In-process reads (and the one small tree write) that godzilla does on every step, with gix:
//! each saves a git process, and a protocol run does many.

use std::path::Path;

/// Errors from gix.
#[derive(Debug, thiserror::Error)]
#[error("git object access in {path}: {message}")]
pub struct Error {
    /// The repository.
    pub path: String,
    /// What gix said.
    pub message: String,
}

fn err(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> Error + '_ {
    move |e| Error {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The commit HEAD of the worktree at `dir` points at, if any.
pub fn head_commit(dir: &Path) -> Result<Option<String>, Error> {
    let e = err(dir);
    let repo = super::open_repo(dir).map_err(|x| e(&x))?;
    match repo.head_id() {
        Ok(id) => Ok(Some(id.to_string())),
        Err(_) => Ok(None),
    }
}

/// The commit `rev` names in the repository at `dir`, read in-process. `Err` when gix finds
/// none or does not know the syntax: the caller then asks git, which has the last word on its
/// own revision syntax and says why.
pub fn resolve_commit(dir: &Path, rev: &str) -> Result<String, Error> {
    let e = err(dir);
    let repo = super::open_repo(dir).map_err(|x| e(&x))?;
    let spec = format!("{rev}^{{commit}}");
    repo.rev_parse_single(spec.as_str())
        .map(|id| id.detach().to_string())
        .map_err(|x| e(&x))
}

/// A commit reachable from HEAD whose message has the trailer `Godzilla-Run: <run>`, looking
/// at most `depth` commits back (nearest first). All parents are followed, not only the first:
/// after `godzilla sync` merges two runners' work, a run's commit can sit on a merge's second
/// parent.
pub fn find_run_commit(dir: &Path, run: &str, depth: usize) -> Result<Option<String>, Error> {
    let e = err(dir);
    let repo = super::open_repo(dir).map_err(|x| e(&x))?;
    let Ok(head) = repo.head_id().map(gix::Id::detach) else {
        return Ok(None);
    };
    let trailer = format!("Godzilla-Run: {run}");
    let mut queue = std::collections::VecDeque::from([head]);
    let mut seen = std::collections::HashSet::from([head]);
    for _ in 0..depth {
        let Some(id) = queue.pop_front() else {
            return Ok(None);
        };
        let commit = repo.find_commit(id).map_err(|x| e(&x))?;
        let message = commit.message_raw_sloppy();
        if message.to_string().lines().any(|l| l.trim_end() == trailer) {
            return Ok(Some(id.to_string()));
        }
        for parent in commit.parent_ids() {
            if seen.insert(parent.detach()) {
                queue.push_back(parent.detach());
            }
        }
    }
    Ok(None)
}

/// The tree of `commit` without its `.godzilla` entry, in the object database: the code a QA
/// verdict is about, as a real git tree id. A step's commit packed it already (see
/// [`write_code_tree`]); only another commit's (git's, an agent's) is written here.
pub fn code_tree(dir: &Path, commit: &str) -> Result<String, Error> {
    let e = err(dir);
    let repo = super::open_repo(dir).map_err(|x| e(&x))?;
    let id = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|x| e(&x))?;
    let tree = repo
        .find_commit(id)
        .map_err(|x| e(&x))?
        .tree()
        .map_err(|x| e(&x))?;
    let (code, _) = without_state(&tree).map_err(|x| e(&x))?;
    let mut bytes = Vec::new();
    gix::objs::WriteTo::write_to(&code, &mut bytes).map_err(|x| e(&x))?;
    let code_id = gix::objs::compute_hash(repo.object_hash(), gix::object::Kind::Tree, &bytes)
        .map_err(|x| e(&x))?;
    if repo.has_object(code_id) {
        return Ok(code_id.to_string());
    }
    Ok(repo.write_object(&code).map_err(|x| e(&x))?.to_string())
}

/// Writes the code tree of the commit tree `tree` (see [`code_tree`]) to `repo`, when `tree`
/// holds a `.godzilla` entry (else it is its own code tree). A commit calls it with its
/// objects in memory, so that the code tree goes into the commit's pack: judging the step
/// then writes no loose object and no fan-out directory, two new files per reviewed step
/// (on a file system without a journal each new file costs a scan of the recently deleted
/// inodes, #13).
pub(crate) fn write_code_tree(
    repo: &gix::Repository,
    tree: gix::ObjectId,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (code, stripped) = without_state(&repo.find_tree(tree)?)?;
    if stripped {
        repo.write_object(&code)?;
    }
    Ok(())
}

/// `tree` without its `.godzilla` entry, and whether it had one.
fn without_state(
    tree: &gix::Tree<'_>,
) -> Result<(gix::objs::Tree, bool), Box<dyn std::error::Error + Send + Sync>> {
    let mut decoded = tree.decode()?.to_owned();
    let before = decoded.entries.len();
    decoded
        .entries
        .retain(|entry| entry.filename != ".godzilla");
    let stripped = decoded.entries.len() != before;
    Ok((decoded, stripped))
}

/// The refs an engine guard records: what HEAD names (`refs/heads/...`, `None` when
/// detached), the commit it resolves to, and the commit `notes_ref` points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardedRefs {
    /// HEAD's symbolic target.
    pub head_ref: Option<String>,
    /// HEAD's commit.
    pub head: Option<String>,
    /// The notes ref's commit.
    pub notes: Option<String>,
}

/// Reads [`GuardedRefs`] in-process (an engine run is guarded twice per step: git processes
/// would cost more than the rest of the guard).
pub fn guarded_refs(dir: &Path, notes_ref: &str) -> Result<GuardedRefs, Error> {
    let e = err(dir);
    let repo = super::open_repo(dir).map_err(|x| e(&x))?;
    // The refs' own targets, not peeled: peeling reads each commit from the object database
    // to see whether it is a tag, most of what this cost (#13). A branch that starts pointing
    // at a tag of the same commit shows as moved, which is what it is.
    let head = repo.head().map_err(|x| e(&x))?;
    let head_ref = head.referent_name().map(|n| n.as_bstr().to_string());
    let head_id = head.id().map(|id| id.to_string());
    let notes = match repo.try_find_reference(notes_ref).map_err(|x| e(&x))? {
        Some(r) => match r.target().try_id() {
            Some(id) => Some(id.to_string()),
            None => Some(r.into_fully_peeled_id().map_err(|x| e(&x))?.to_string()),
        },
        None => None,
    };
    Ok(GuardedRefs {
        head_ref,
        head: head_id,
        notes,
    })
}
