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

/// Creates the record `path` once (`O_EXCL`), without flushing it: the open file, or `None`
/// when the record exists already. Nothing written this way counts until [`sync_records`]
/// returns for it. The queue's fallback where [`link`] cannot be used: a reader may meet the
/// file while it is being written, and a writer that dies mid-way leaves it torn; the queue
/// tells a torn record apart (it does not parse and its claim is still in place) and has it
/// written again.
pub fn write_record(path: &Path, bytes: &[u8]) -> Result<Option<File>, Error> {
    let file = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    write_record_bytes(file, path, bytes).map(Some)
}

/// Writes a completion record in two halves, with the crash point that tears it between them.
fn write_record_bytes(mut file: File, path: &Path, bytes: &[u8]) -> Result<File, Error> {
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    file.write_all(head).map_err(|e| Error::io(path, e))?;
    crate::fault::point("queue.complete.torn_record");
    file.write_all(tail).map_err(|e| Error::io(path, e))?;
    Ok(file)
}

/// Writes `bytes` over the spare file `path` (a file this process owns, kept to be reused so
/// that a completion record allocates no inode): truncated, then written, not flushed.
/// `Ok(None)` when the spare is gone (swept as litter): the caller takes a new one.
pub fn overwrite_spare(path: &Path, bytes: &[u8], create: bool) -> Result<Option<File>, Error> {
    let mut options = OpenOptions::new();
    options.write(true).truncate(true);
    if create {
        options.create_new(true);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound && !create => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    write_record_bytes(file, path, bytes).map(Some)
}

/// What [`link`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Linked {
    /// `to` is now another name of `from`.
    Done,
    /// `to` exists already; nothing changed.
    Exists,
    /// `from` is gone.
    SourceGone,
    /// The file system cannot (hard links unsupported, another device, too many links):
    /// the caller writes a file instead.
    Unsupported,
}

/// Gives the file `from` a second name `to`, never replacing an existing `to` (the
/// no-clobber half of a record written exactly once). No inode is allocated: on file
/// systems that keep recently freed inodes out of reuse (ext4 without a journal), every
/// allocation scans past all of them, and a queue that creates and frees files per job slows
/// down as it ages.
pub fn link(from: &Path, to: &Path) -> Result<Linked, Error> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(Linked::Done),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(Linked::Exists),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Linked::SourceGone),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::PermissionDenied
                    | ErrorKind::Unsupported
                    | ErrorKind::CrossesDevices
                    | ErrorKind::TooManyLinks
            ) || e.raw_os_error() == Some(nix::errno::Errno::EOPNOTSUPP as i32) =>
        {
            Ok(Linked::Unsupported)
        }
        Err(e) => Err(Error::io(to, e)),
    }
}

/// Makes records written by [`write_record`] durable, with their directories. A batch costs
/// about one journal commit: the first flush commits the transaction that holds them all, and
/// the others find their data and entries on disk already.
pub fn sync_records(records: &[(&Path, &File)]) -> Result<(), Error> {
    for (path, file) in records {
        file.sync_data().map_err(|e| Error::io(path, e))?;
    }
    // The entries went out with the files' commit on journalling file systems; this makes
    // them durable elsewhere too, and costs next to nothing where it did.
    let mut dirs: Vec<&Path> = records.iter().filter_map(|(p, _)| p.parent()).collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
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

/// Rings when a file arrives in a directory (inotify), so an idle worker claims a job as soon
/// as it is delivered instead of at its next look. Where inotify is unavailable (the
/// per-user instance limit, say) [`Doorbell::wait`] sleeps instead, and callers that look at
/// the directory after each wait lose only latency.
#[derive(Debug)]
pub struct Doorbell {
    inotify: Option<nix::sys::inotify::Inotify>,
}

impl Doorbell {
    /// Watches `dir` for files created in it or renamed into it.
    pub fn watch(dir: &Path) -> Self {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .ok()
            .filter(|i| {
                i.add_watch(dir, AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CREATE)
                    .is_ok()
            });
        Self { inotify }
    }

    /// Whether arrivals wake [`Doorbell::wait`] (otherwise it only sleeps).
    pub fn is_armed(&self) -> bool {
        self.inotify.is_some()
    }

    /// Returns once something arrived since the last call, or after `timeout`. Several
    /// threads may wait at once: an arrival wakes them all.
    pub fn wait(&self, timeout: std::time::Duration) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd as _;
        let Some(inotify) = &self.inotify else {
            std::thread::sleep(timeout);
            return;
        };
        let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
        let limit = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        // EINTR or any other failure just ends this wait early: the caller looks anyway.
        if poll(&mut fds, limit).is_ok_and(|n| n > 0) {
            // Drain what is queued, so the next wait blocks until something new comes.
            while inotify.read_events().is_ok_and(|e| !e.is_empty()) {}
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doorbell_rings_on_delivery_and_rename() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new");
        create_dirs(std::slice::from_ref(&new)).unwrap();
        let bell = Doorbell::watch(&new);
        assert!(bell.is_armed(), "inotify is available on the test machines");
        for how in ["deliver", "rename"] {
            let (staging, dest) = (dir.path().join("tmp"), new.join(how));
            let started = std::time::Instant::now();
            std::thread::scope(|s| {
                s.spawn(|| {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    if how == "deliver" {
                        deliver(&staging, &dest, b"{}", false).unwrap();
                    } else {
                        create_dirs(std::slice::from_ref(&staging)).unwrap();
                        deliver(&staging, &staging.join("x"), b"{}", false).unwrap();
                        rename(&staging.join("x"), &dest).unwrap();
                    }
                });
                // Woken by the arrival, long before the timeout.
                bell.wait(std::time::Duration::from_secs(20));
            });
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{how}: {:?}",
                started.elapsed()
            );
            assert!(dest.exists(), "{how}");
        }
        // Nothing new: the wait ends at its timeout.
        let started = std::time::Instant::now();
        bell.wait(std::time::Duration::from_millis(30));
        assert!(started.elapsed() >= std::time::Duration::from_millis(25));
    }
}
