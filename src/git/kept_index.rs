//! The worktree's git index as it was before an agent ran, put back if the agent changed it.
//!
//! The guard checks the files of godzilla's state, and the step's commit stores what `git add
//! --all` sees. An agent that stages its own version of a state file and hides it from `git
//! add` (an index entry marked assume-unchanged or skip-worktree, the file itself put back)
//! would get that version committed although the guard found the file as it was. So the
//! index is kept, by a second hard link (git replaces the index by renaming a new file over
//! it, never in place, so the link keeps the old one, at the cost of no copy and no new
//! inode), and put back when the agent's run changed it; before that, the kept file's content
//! is checked against the checksum git ends every index with, as recorded when it was kept
//! (the agent could have written it by its second name). What the agent staged or committed
//! of its own work is not lost: the step's commit stages the whole worktree again. An index
//! rewritten in place cannot be put back: the caller hears so.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// A kept index: see the module's documentation.
#[derive(Debug)]
pub struct KeptIndex {
    index: PathBuf,
    kept: PathBuf,
    key: Key,
    /// The index's trailing checksum when it was kept.
    checksum: Vec<u8>,
    kind: gix::hash::Kind,
}

/// What [`KeptIndex::put_back`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum PutBack {
    /// The index is the one kept.
    Unchanged,
    /// The index had been replaced; the kept one is back.
    Restored,
    /// The index was written in place, removed, or is locked by a git process: not put back.
    Lost(&'static str),
}

type Key = crate::fsio::StatKey;

impl KeptIndex {
    /// Keeps the index of the worktree at `dir`; `None` when it has none or the file system
    /// cannot link it (then nothing is checked).
    pub fn keep(dir: &Path) -> Option<Self> {
        let repo = super::open_repo(dir).ok()?;
        let index = repo.index_path();
        let kept = index.with_file_name("godzilla-index.kept");
        // A link left by a godzilla killed during its agent's run.
        let _stale = std::fs::remove_file(&kept);
        std::fs::hard_link(&index, &kept).ok()?;
        // After the link, which changed the inode's change time.
        let meta = std::fs::symlink_metadata(&index).ok()?;
        let kind = repo.object_hash();
        let checksum = trailer(&index, kind.len_in_bytes()).ok()?;
        Some(Self {
            index,
            kept,
            key: crate::fsio::stat_key(&meta),
            checksum,
            kind,
        })
    }

    /// The index this keeps.
    pub fn path(&self) -> &Path {
        &self.index
    }

    /// Puts the kept index back if the index is no longer it.
    pub fn put_back(self) -> std::io::Result<PutBack> {
        let now = std::fs::symlink_metadata(&self.index)
            .ok()
            .map(|m| crate::fsio::stat_key(&m));
        if now == Some(self.key) {
            return Ok(PutBack::Unchanged);
        }
        if now.is_some_and(|k| (k.0, k.1) == (self.key.0, self.key.1)) {
            return Ok(PutBack::Lost("the index was rewritten in place"));
        }
        if !self.kept_is_intact() {
            return Ok(PutBack::Lost("the kept index was changed"));
        }
        if self.index.with_file_name("index.lock").exists() {
            return Ok(PutBack::Lost("a git process holds index.lock"));
        }
        std::fs::rename(&self.kept, &self.index)?;
        Ok(PutBack::Restored)
    }
}

impl KeptIndex {
    /// Whether the kept file is still the index that was kept: same inode, and content that
    /// hashes to the checksum it had (an index written with `index.skipHash` has none, and
    /// is never taken as intact).
    fn kept_is_intact(&self) -> bool {
        let Ok(meta) = std::fs::symlink_metadata(&self.kept) else {
            return false;
        };
        let Ok(bytes) = std::fs::read(&self.kept) else {
            return false;
        };
        let n = self.checksum.len();
        if (meta.dev(), meta.ino()) != (self.key.0, self.key.1)
            || bytes.len() < n
            || self.checksum.iter().all(|b| *b == 0)
            || bytes[bytes.len() - n..] != self.checksum[..]
        {
            return false;
        }
        let mut hasher = gix::hash::hasher(self.kind);
        hasher.update(&bytes[..bytes.len() - n]);
        hasher
            .try_finalize()
            .is_ok_and(|id| id.as_bytes() == &self.checksum[..])
    }
}

/// The last `n` bytes of `path`.
fn trailer(path: &Path, n: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Read as _, Seek as _};
    let mut file = std::fs::File::open(path)?;
    file.seek(std::io::SeekFrom::End(
        -i64::try_from(n).map_err(std::io::Error::other)?,
    ))?;
    let mut out = vec![0; n];
    file.read_exact(&mut out)?;
    Ok(out)
}

impl Drop for KeptIndex {
    fn drop(&mut self) {
        // Gone already when it was put back.
        let _gone = std::fs::remove_file(&self.kept);
    }
}
