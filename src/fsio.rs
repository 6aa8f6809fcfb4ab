//! The bottom file module: durable atomic writes, locks and guarded reads, with no knowledge of
//! godzilla's layout. Everything that touches files goes through here, either directly (the
//! engine adapters' replay recordings, the git notes lock) or through the storage service, which
//! owns the `.godzilla/` layout on top of it. It uses nothing above itself but fault points.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors from reading or writing a file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed on a path.
    #[error("cannot access {}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A path inside `.godzilla/` is, or goes through, a symbolic link.
    #[error("{} is a symbolic link; godzilla never follows links inside .godzilla/", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
}

impl Error {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Refuses a path inside `.godzilla/` when it, or a directory on the way from `.godzilla`
/// down, is a symbolic link: a link planted there (by an agent, or in a clone) would make
/// godzilla read or write outside the repository. Paths outside `.godzilla/` are not checked.
pub fn check_no_symlinks(path: &Path) -> Result<(), Error> {
    // From the last `.godzilla` on: a directory of that name above the repository is not ours.
    let components: Vec<_> = path.components().collect();
    let Some(start) = components
        .iter()
        .rposition(|c| c.as_os_str() == ".godzilla")
    else {
        return Ok(());
    };
    let mut current: PathBuf = components[..start].iter().collect();
    for component in &components[start..] {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::Symlink { path: current });
            }
            Ok(_) => {}
            // Nothing below a missing component exists either.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(current, e)),
        }
    }
    Ok(())
}

/// An exclusive `flock` on a lock file that is never unlinked (unlinking would let a waiter
/// and a newcomer each hold a lock on a different inode).
#[derive(Debug)]
pub struct Lock {
    file: File,
}

impl Lock {
    /// Takes the lock at `path` if nobody holds it; `Ok(None)` when it is held.
    pub fn try_acquire(path: &Path) -> Result<Option<Self>, Error> {
        let file = Self::open(path)?;
        #[allow(clippy::disallowed_methods, reason = "this is the sanctioned lock")]
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
        }
    }

    /// Blocks until the lock at `path` is held.
    pub fn acquire(path: &Path) -> Result<Self, Error> {
        let file = Self::open(path)?;
        #[allow(clippy::disallowed_methods, reason = "this is the sanctioned lock")]
        file.lock().map_err(|e| Error::io(path, e))?;
        Ok(Self { file })
    }

    /// The lock file itself, for a holder that keeps a note in it for the next holder.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The lock file at `path`, created (with its directory) when missing, never truncated.
    fn open(path: &Path) -> Result<File, Error> {
        let open = || {
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(path)
        };
        match path.parent() {
            Some(dir) => making_dir(dir, open)?,
            None => open(),
        }
        .map_err(|e| Error::io(path, e))
    }
}

impl Lock {
    /// Whether some process holds the lock at `path`, without taking it (taking it, even for
    /// an instant, would make a process starting then find it busy). Read from `/proc/locks`;
    /// `None` where that is unavailable.
    pub fn is_held(path: &Path) -> Option<bool> {
        use std::os::unix::fs::MetadataExt;
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(false),
            Err(_) => return None,
        };
        let table = fs::read_to_string("/proc/locks").ok()?;
        let dev = meta.dev();
        // glibc's major()/minor() encoding; /proc/locks prints them in hex.
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        let wanted = (major, minor, meta.ino());
        Some(table.lines().any(|line| {
            line.split_whitespace()
                .filter(|t| *t != "->")
                .find(|t| t.matches(':').count() == 2)
                .and_then(|t| {
                    let mut parts = t.split(':');
                    let maj = u64::from_str_radix(parts.next()?, 16).ok()?;
                    let min = u64::from_str_radix(parts.next()?, 16).ok()?;
                    let ino = parts.next()?.parse::<u64>().ok()?;
                    Some((maj, min, ino))
                })
                .is_some_and(|found| found == wanted)
                && !line.contains("->")
        }))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Closing the descriptor releases the lock anyway; unlocking first is just tidy.
        let _ignored = self.file.unlock();
    }
}

/// How a file is written through a temp file in its directory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// fsync the file and the directory: source data.
    Durable,
    /// Atomic rename only: derived data a reader rebuilds when it is stale or empty.
    Derived,
}

/// The one temp-file-and-rename writer behind [`write_atomic`], [`write_derived`] and
/// [`write_new`].
/// Runs `create` (which makes a file in `dir`); when `dir` is missing, makes it and runs
/// `create` once more. The directory usually exists, so it is made only when needed instead
/// of before every write (#13). The outer error is the failure to make `dir`.
fn making_dir<T>(
    dir: &Path,
    create: impl Fn() -> std::io::Result<T>,
) -> Result<std::io::Result<T>, Error> {
    match create() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            Ok(create())
        }
        created => Ok(created),
    }
}

fn write_through_temp(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    clobber: bool,
) -> Result<(), Error> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::io(path, std::io::ErrorKind::InvalidInput.into()))?;
    check_no_symlinks(path)?;
    let temp = || {
        tempfile::Builder::new()
            .prefix(".gz-")
            .suffix(".tmp")
            .tempfile_in(dir)
    };
    let mut tmp = making_dir(dir, temp)?.map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    if durability == Durability::Durable {
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    crate::fault::point("storage.write_atomic.before_rename");
    if clobber {
        tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    } else {
        tmp.persist_noclobber(path)
            .map_err(|e| Error::io(path, e.error))?;
    }
    crate::fault::point("storage.write_atomic.after_rename");
    if durability == Durability::Durable {
        // The rename itself must survive a power cut.
        sync_dir(dir)?;
    }
    Ok(())
}

/// Writes `bytes` to `path` so that after a crash the file holds either the old or the new
/// content, never a mix: temp file in the same directory, fsync, rename, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_through_temp(path, bytes, Durability::Durable, true)
}

/// Writes a derived file (a view, a cache, a log) atomically but without fsync: a crash may
/// leave the old content or, after a power cut, an empty file, and readers treat both as
/// stale and rebuild from the source of truth. That saves two disk flushes per event.
pub fn write_derived(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_through_temp(path, bytes, Durability::Derived, true)
}

/// Writes a file that must never be overwritten (run records are immutable): like
/// [`write_atomic`], but fails if `path` exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_through_temp(path, bytes, Durability::Durable, false)
}

/// A file's data being flushed to disk on the flusher thread (see [`flush_behind`]). Dropped
/// unwaited, it still waits: nothing leaves a flush running behind it unseen.
#[must_use = "what was written counts once it is durable: wait for it"]
pub struct Flushing {
    path: PathBuf,
    done: Option<std::sync::mpsc::Receiver<Result<(), Error>>>,
}

impl Flushing {
    /// Returns once the data (and the directory entry, when asked) is on disk.
    pub fn wait(mut self) -> Result<(), Error> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), Error> {
        let Some(done) = self.done.take() else {
            return Ok(());
        };
        match done.recv() {
            Ok(flushed) => flushed,
            Err(_) => Err(Error::io(
                &self.path,
                std::io::Error::other("the flusher thread ended before the flush"),
            )),
        }
    }
}

impl Drop for Flushing {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::warn!(error = ?e, "a flush behind failed");
        }
    }
}

/// One flush for the flusher thread: the file, the directory that names it (for a new file)
/// and where to say it is done.
type FlushJob = (
    PathBuf,
    File,
    Option<PathBuf>,
    std::sync::mpsc::SyncSender<Result<(), Error>>,
);

/// Flushes `file`'s data (`fdatasync`), then `dir` when given, on a thread that lives as long
/// as the process, and returns at once. A caller whose next durable step comes later (an
/// event before the agent it announces starts, or before the commit that stores it moves its
/// branch) does its work meanwhile instead of waiting: the flush took about a tenth of a
/// millisecond, twice per step (#13). Where no thread can start, the flush is done here.
pub fn flush_behind(path: &Path, file: File, dir: Option<PathBuf>) -> Flushing {
    static FLUSHER: std::sync::Mutex<Option<std::sync::mpsc::Sender<FlushJob>>> =
        std::sync::Mutex::new(None);
    let (tell, done) = std::sync::mpsc::sync_channel(1);
    let flushing = Flushing {
        path: path.to_path_buf(),
        done: Some(done),
    };
    let mut flusher = FLUSHER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if flusher.is_none() {
        let (jobs, queue) = std::sync::mpsc::channel::<FlushJob>();
        let started = std::thread::Builder::new()
            .name("flusher".into())
            .spawn(move || {
                for (path, file, dir, tell) in queue {
                    let _gone = tell.send(flush(&path, &file, dir.as_deref()));
                }
            });
        if started.is_ok() {
            *flusher = Some(jobs);
        }
    }
    let job = (path.to_path_buf(), file, dir, tell);
    let job = match flusher.as_ref() {
        Some(jobs) => match jobs.send(job) {
            Ok(()) => return flushing,
            Err(std::sync::mpsc::SendError(job)) => {
                *flusher = None;
                job
            }
        },
        None => job,
    };
    drop(flusher);
    let (path, file, dir, tell) = job;
    let _kept = tell.send(flush(&path, &file, dir.as_deref()));
    flushing
}

/// Flushes the data of `file` (at `path`), then `dir` when given (the directory that names a
/// new file); a failure names the file either way.
fn flush(path: &Path, file: &File, dir: Option<&Path>) -> Result<(), Error> {
    file.sync_data()
        .and_then(|()| dir.map_or(Ok(()), |dir| File::open(dir)?.sync_all()))
        .map_err(|e| Error::io(path, e))
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Creates a directory (and parents), durably.
pub fn create_dir(dir: &Path) -> Result<(), Error> {
    check_no_symlinks(dir)?;
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Removes a scratch directory after its run; a leftover is only litter.
pub fn remove_scratch_dir(dir: &Path) {
    let _ignored = fs::remove_dir_all(dir);
}

/// A file's identity and times as `lstat` gives them: device, inode, size, modification and
/// change time (seconds, nanoseconds). A write moves the change time, which cannot be set back
/// from user space, so an equal key means the same file unless it was written within the file
/// system's clock tick of the key's taking (see the callers' racy-read rules).
pub type StatKey = (u64, u64, u64, i64, i64, i64, i64);

/// The [`StatKey`] of `meta`.
pub fn stat_key(meta: &std::fs::Metadata) -> StatKey {
    use std::os::unix::fs::MetadataExt as _;
    (
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    )
}

/// Reads a file that may be absent.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    check_no_symlinks(path)?;
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Reads a text file that must exist (refusing links inside `.godzilla/`).
pub fn read_text(path: &Path) -> Result<String, Error> {
    check_no_symlinks(path)?;
    fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_inside_the_state_dir_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("repo/.godzilla");
        fs::create_dir_all(state.join("protocols")).unwrap();
        std::os::unix::fs::symlink(dir.path(), state.join("outputs")).unwrap();
        assert!(check_no_symlinks(&state.join("protocols/x.json")).is_ok());
        assert!(matches!(
            check_no_symlinks(&state.join("outputs/x.md")),
            Err(Error::Symlink { path }) if path == state.join("outputs")
        ));
        assert!(matches!(
            write_atomic(&state.join("outputs/x.md"), b"x"),
            Err(Error::Symlink { .. })
        ));
        // A link above the repository is the user's business.
        std::os::unix::fs::symlink(dir.path().join("repo"), dir.path().join("link")).unwrap();
        assert!(check_no_symlinks(&dir.path().join("link/.godzilla/protocols/x")).is_ok());
    }

    #[test]
    fn is_held_sees_a_lock_without_taking_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/x.lock");
        assert_eq!(Lock::is_held(&path), Some(false));
        let lock = Lock::acquire(&path).unwrap();
        if let Some(held) = Lock::is_held(&path) {
            assert!(held);
            drop(lock);
            assert_eq!(Lock::is_held(&path), Some(false));
        }
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/y.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn flushes_behind_all_complete_and_one_dropped_unwaited_still_ends() {
        let dir = tempfile::tempdir().unwrap();
        let flushes: Vec<Flushing> = (0..20)
            .map(|i| {
                let path = dir.path().join(format!("f{i}"));
                let mut file = File::create_new(&path).unwrap();
                file.write_all(format!("{i}\n").as_bytes()).unwrap();
                flush_behind(&path, file, Some(dir.path().to_path_buf()))
            })
            .collect();
        let mut flushes = flushes.into_iter();
        drop(flushes.next());
        for flush in flushes {
            flush.wait().unwrap();
        }
        assert_eq!(fs::read_to_string(dir.path().join("f19")).unwrap(), "19\n");
        // A directory that is gone fails the flush, and says which file it was for.
        let path = dir.path().join("late");
        let file = File::create_new(&path).unwrap();
        let err = flush_behind(&path, file, Some(dir.path().join("gone")))
            .wait()
            .unwrap_err();
        assert!(err.to_string().contains("late"), "{err}");
    }
}
