//! The files a checkout's git index vouches for: tracked, and the same file (stat for stat) as
//! the one whose content the index recorded, so their content is that blob without reading
//! them. This is git's own test of a clean file (`git status`, `git diff` rely on it), applied
//! strictly: every stat field to the nanosecond, the change time included (it cannot be set
//! from user space), and no racily clean entry (one changed within the index's own time
//! stamp, whose stat could match a later change).
//!
//! The engine guard snapshots godzilla's state before every agent run. Reading every
//! record and output a protocol committed made that snapshot, and so each `step run`, cost
//! more with every step (#13); with the index, files committed and unchanged since are looked
//! at, not read. The guard's check after the agent never asks the index (the agent may have
//! rewritten it): only what was vouched for before the agent started comes from here.

use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice as _;

/// A checkout's index, loaded to vouch for its files (see the module's documentation).
pub struct Tracked {
    root: PathBuf,
    index: gix::index::File,
}

/// Every stat field, to the nanosecond: a file the index vouches for is one nothing touched.
const STRICT: gix::index::entry::stat::Options = gix::index::entry::stat::Options {
    trust_ctime: true,
    check_stat: true,
    use_nsec: true,
    use_stdev: true,
};

impl Tracked {
    /// The index of the checkout at `root`: `None` when it has none or it does not decode
    /// (then nothing is vouched for, and every file is read). Its trailing checksum is not
    /// verified: git replaces an index by renaming a whole new file over it, so a torn one is
    /// not expected, whoever can write it can write a matching checksum, and an entry vouches
    /// only for a file whose every stat field it matches.
    pub fn load(root: &Path) -> Option<Self> {
        let dot_git = root.join(".git");
        let meta = std::fs::symlink_metadata(&dot_git).ok()?;
        // A worktree's `.git` is a file naming its git dir; the main checkout's is the dir.
        let git_dir = if meta.is_dir() {
            dot_git
        } else if meta.is_file() {
            gix::discover::path::from_gitdir_file(&dot_git).ok()?
        } else {
            return None;
        };
        let index = gix::index::File::at(
            git_dir.join("index"),
            gix::hash::Kind::Sha1,
            true,
            gix::index::decode::Options::default(),
        )
        .ok()?;
        Some(Self {
            root: root.to_path_buf(),
            index,
        })
    }

    /// The blob the index records for the file at `path` (inside the checkout), when `meta`
    /// (its `lstat`) is the stat the index recorded with it: a plain stage-0 entry of a regular
    /// file, not marked assume-unchanged, skip-worktree or intent-to-add, and not racy.
    pub fn blob(&self, path: &Path, meta: &std::fs::Metadata) -> Option<gix::ObjectId> {
        use gix::index::entry::{Flags, Mode};
        use std::os::unix::fs::MetadataExt as _;
        if !meta.file_type().is_file() || u32::try_from(meta.size()).is_err() {
            return None;
        }
        let rela = path.strip_prefix(&self.root).ok()?;
        let rela = gix::path::into_bstr(rela).ok()?;
        let entry = self.index.entry_by_path(rela.as_bstr())?;
        let untrusted = Flags::ASSUME_VALID | Flags::SKIP_WORKTREE | Flags::INTENT_TO_ADD;
        let executable = meta.mode() & 0o111 != 0;
        let mode = if executable {
            Mode::FILE_EXECUTABLE
        } else {
            Mode::FILE
        };
        let plain = entry.stage_raw() == 0 && !entry.flags.intersects(untrusted);
        (plain
            && entry.mode == mode
            && !entry.stat.is_racy(self.index.timestamp(), STRICT)
            && entry.stat.matches(&stat(meta), STRICT))
        .then_some(entry.id)
    }
}

/// `meta` as the index records a file's stat (times and ids truncated to 32 bits, as git does).
/// gix's own `Stat::from_fs` takes its own `lstat`: a second one per file, for the walk's.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the index keeps the low 32 bits of each field, as git does"
)]
fn stat(meta: &std::fs::Metadata) -> gix::index::entry::Stat {
    use gix::index::entry::stat::Time;
    use std::os::unix::fs::MetadataExt as _;
    gix::index::entry::Stat {
        mtime: Time {
            secs: meta.mtime() as u32,
            nsecs: meta.mtime_nsec() as u32,
        },
        ctime: Time {
            secs: meta.ctime() as u32,
            nsecs: meta.ctime_nsec() as u32,
        },
        dev: meta.dev() as u32,
        ino: meta.ino() as u32,
        uid: meta.uid(),
        gid: meta.gid(),
        size: meta.size() as u32,
    }
}

/// Why [`blob_bytes`] could not give a blob's content.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The repository could not be opened.
    #[error("cannot open the repository: {0}")]
    Open(String),
    /// No object has that id.
    #[error("object {0} is missing from the object database")]
    Missing(gix::ObjectId),
    /// The object stored under that id is not that blob.
    #[error("object {0} is not the blob it names (its content does not hash to its id)")]
    Corrupt(gix::ObjectId),
}

/// The content of blob `id` in the repository of the checkout at `dir`, checked against its id:
/// an object database can be written by anyone who can write the repository.
pub fn blob_bytes(dir: &Path, id: &gix::ObjectId) -> Result<Vec<u8>, BlobError> {
    let repo = super::open_repo(dir).map_err(|e| BlobError::Open(e.to_string()))?;
    let object = repo
        .try_find_object(*id)
        .ok()
        .flatten()
        .ok_or(BlobError::Missing(*id))?;
    if object.kind != gix::object::Kind::Blob || !is_blob_of(id, &object.data) {
        return Err(BlobError::Corrupt(*id));
    }
    Ok(object.detach().data)
}

/// Whether `bytes` are the content of blob `id` (they hash to it).
pub fn is_blob_of(id: &gix::ObjectId, bytes: &[u8]) -> bool {
    gix::objs::compute_hash(id.kind(), gix::object::Kind::Blob, bytes).is_ok_and(|h| h == *id)
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "the tests play a user and an agent: plain writes, the wall clock"
)]
mod tests;
