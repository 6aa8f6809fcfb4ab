//! File primitives of the local work queue (a Maildir-style spool): delivery through a
//! staging directory, claim by rename, per-job `flock`s that child processes may inherit,
//! and the append-only job logs.
//!
//! These are the only writes the queue makes; `services::platform::queue` decides what to
//! write where. Nothing here knows what a job is.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::{Error, sync_dir};

/// Writes `bytes` as a new file in `staging`, then renames it to `dest` (Maildir delivery:
/// readers of `dest`'s directory never see a partial file). `durable` flushes the file and
/// the destination directory, so a delivered job survives a power cut.
pub fn deliver(staging: &Path, dest: &Path, bytes: &[u8], durable: bool) -> Result<(), Error> {
    fs::create_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".gz-")
        .suffix(".tmp")
        .tempfile_in(staging)
        .map_err(|e| Error::io(staging, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    if durable {
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    crate::fault::point("queue.deliver.before_rename");
    // A failed persist drops (and so removes) the temp file: nothing is left in staging.
    tmp.persist_noclobber(dest)
        .map_err(|e| Error::io(dest, e.error))?;
    if durable && let Some(dir) = dest.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Renames `from` to `to`; `Ok(false)` when `from` no longer exists (another process moved
/// it first: the loser of a claim race).
pub fn rename(from: &Path, to: &Path) -> Result<bool, Error> {
    match fs::rename(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(from, e)),
    }
}

/// Removes a file; an absent file is fine (someone cleaned it up already).
pub fn remove(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Creates the spool's directories (idempotent).
pub fn create_dirs(dirs: &[PathBuf]) -> Result<(), Error> {
    for dir in dirs {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

/// The names in `dir` (an absent directory is empty). Hidden names (temp files) are skipped.
pub fn list(dir: &Path) -> Result<Vec<String>, Error> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    Ok(names)
}

/// An exclusive `flock` on one job file.
///
/// Unlike [`super::Lock`] it never unlocks explicitly: the descriptor may be shared with the
/// job's child processes (passed as their stdin), and an explicit unlock would release the
/// lock for all of them. The kernel releases it when the last holder closes it, which is
/// exactly "when no process of the job is left".
#[derive(Debug)]
pub struct JobLock {
    file: File,
}

impl JobLock {
    /// Locks `path` if nobody holds it. `Ok(None)` when it is held or the file is gone.
    pub fn try_acquire(path: &Path) -> Result<Option<Self>, Error> {
        let file = match OpenOptions::new().read(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        #[allow(
            clippy::disallowed_methods,
            reason = "the job lock must not unlock on drop (children share it), see the type doc"
        )]
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
        }
    }

    /// A second descriptor on the same open file (and so the same lock) for a child process.
    pub fn share(&self) -> Result<File, std::io::Error> {
        self.file.try_clone()
    }

    /// The locked file's bytes (the job, which never changes once delivered).
    pub fn read_all(&self) -> Result<Vec<u8>, std::io::Error> {
        use std::io::{Read, Seek};
        let mut file = &self.file;
        file.seek(std::io::SeekFrom::Start(0))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// Opens a job's log for appending (created when absent). Not flushed: a log is for people.
pub fn open_log(path: &Path) -> Result<File, Error> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Removes temp files left in `staging` by writers that died more than `min_age` ago
/// (Maildir's rule: a file that old in `tmp/` belongs to nobody).
pub fn sweep_staging(staging: &Path, min_age: std::time::Duration) -> Result<usize, Error> {
    let mut removed = 0;
    let entries = match fs::read_dir(staging) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(staging, e)),
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        if old {
            remove(&entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}
