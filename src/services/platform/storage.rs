//! The storage service: the only code that writes godzilla's files.
//!
//! It owns the `.godzilla/` layout (versioned by `.godzilla/format`), atomic durable writes
//! (temp file in the same directory, fsync, rename, fsync the directory), append-only event
//! logs, the per-protocol views folded from them, and the machine-local directory under the
//! git common dir (locks now; the queue and logs later). Repositories for project, protocol,
//! step and event data sit on top, as the seed's §3.3 sketches.
//!
//! It never decides what should happen (services do) and never prints (reporters do).

pub mod events;
pub mod fsck;
pub mod ledger;
pub mod lines;
pub mod repo;
pub mod spool;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::context::Paths;
use crate::domain::{NameError, ProtocolId};

/// The layout version this build reads and writes.
pub const FORMAT: u32 = 1;

/// Errors from reading or writing godzilla's files.
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
    /// `.godzilla/format` is missing: the repository was never initialised.
    #[error("{} not found: this repository is not set up for godzilla", path.display())]
    NotInitialized {
        /// Expected path of the format file.
        path: PathBuf,
    },
    /// `.godzilla/format` names a newer layout than this build understands.
    #[error("{} says format {found}, but this godzilla understands only up to {FORMAT}", path.display())]
    FutureFormat {
        /// The format file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// `.godzilla/format` does not hold a number.
    #[error("{} must hold a format number, found `{found}`", path.display())]
    BadFormat {
        /// The format file.
        path: PathBuf,
        /// What it holds.
        found: String,
    },
    /// A TOML file does not parse or has a field of the wrong type.
    #[error("invalid {}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message, which names line, column and field.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A JSON file does not parse or has a field of the wrong type.
    #[error("invalid {}{}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Json {
        /// The file.
        path: PathBuf,
        /// The line, for JSON-lines files.
        line: Option<usize>,
        /// The parser's message, which names the field.
        #[source]
        source: serde_json::Error,
    },
    /// An event log ends in a partial line (a crash while appending).
    #[error("{} ends in a partial line (line {line})", path.display())]
    TornLog {
        /// The log.
        path: PathBuf,
        /// The line number of the partial line.
        line: usize,
    },
    /// A directory or file name is not a valid id.
    #[error("{} is not a valid name", path.display())]
    BadName {
        /// The offending path.
        path: PathBuf,
        /// Why.
        #[source]
        source: NameError,
    },
    /// No such protocol in this working tree.
    #[error("protocol {0} not found")]
    ProtocolNotFound(ProtocolId),
    /// A path inside `.godzilla/` is, or goes through, a symbolic link.
    #[error("{} is a symbolic link; godzilla never follows links inside .godzilla/", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The event is not allowed in the protocol's current state.
    #[error("protocol {protocol}: {message}")]
    Transition {
        /// The protocol.
        protocol: ProtocolId,
        /// The refused transition.
        message: String,
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

    /// For reads where a missing or unreadable file means "empty": an empty string, unless
    /// the file is a symbolic link, which stays an error.
    pub fn unless_symlink(self) -> Result<String, Self> {
        match self {
            Self::Symlink { .. } => Err(self),
            _ => Ok(String::new()),
        }
    }

    /// Whether this is a problem with user-editable input (config, format, names) rather than
    /// an environmental failure; the CLI maps it to exit code 2.
    pub fn is_user_input(&self) -> bool {
        matches!(
            self,
            Self::NotInitialized { .. }
                | Self::FutureFormat { .. }
                | Self::BadFormat { .. }
                | Self::Toml { .. }
                | Self::BadName { .. }
                | Self::ProtocolNotFound(_)
                | Self::Symlink { .. }
        )
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

/// Handle on the layout of one working tree plus the machine-local directory.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    state: PathBuf,
    project: PathBuf,
    local: PathBuf,
    defer_views: bool,
}

/// Where project-scope state (config, policy, project events and clarifications) is read
/// from: the main checkout (the repository's primary worktree) when it is set up for
/// godzilla, else this working tree's own `.godzilla/` (a CI clone, where the checkout is
/// the branch). One place for the whole repository means a protocol created earlier sees a
/// later answer, budget or check, and `godzilla allow` trusts the file that is used.
fn project_state_dir(local: &Path, own: &Path) -> PathBuf {
    let main = local
        .parent()
        .filter(|common| common.file_name().is_some_and(|n| n == ".git"))
        .and_then(Path::parent)
        .map(|main| main.join(".godzilla"));
    match main {
        Some(dir) if dir.join("format").is_file() => dir,
        _ => own.to_path_buf(),
    }
}

impl Store {
    /// The store for the working tree at `paths`.
    pub fn new(paths: &Paths) -> Self {
        Self::at(&paths.work_tree, &paths.local_dir())
    }

    /// A store rooted at an arbitrary working tree (another worktree of the same repo).
    pub fn at(work_tree: &Path, local: &Path) -> Self {
        let state = work_tree.join(".godzilla");
        Self {
            root: work_tree.to_path_buf(),
            project: project_state_dir(local, &state),
            state,
            local: local.to_path_buf(),
            defer_views: false,
        }
    }

    /// The same store, but appends leave the status view stale: a long command (a protocol
    /// run) rewrites it once when it ends, instead of after every event. Readers never
    /// depend on it: a view that does not match its log is folded from the log.
    pub fn deferring_views(mut self) -> Self {
        self.defer_views = true;
        self
    }

    /// Whether appends leave the view for the caller to refresh.
    pub fn defers_views(&self) -> bool {
        self.defer_views
    }

    /// The working tree root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `.godzilla/`.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// `$GIT_COMMON_DIR/godzilla/`.
    pub fn local_dir(&self) -> &Path {
        &self.local
    }

    /// `.godzilla/format`.
    pub fn format_path(&self) -> PathBuf {
        self.state.join("format")
    }

    /// `.godzilla/config.toml` of this working tree (what `init` writes).
    pub fn config_path(&self) -> PathBuf {
        self.state.join("config.toml")
    }

    /// The `.godzilla/` that project-scope state is read from (see [`project_state_dir`]).
    pub fn project_dir(&self) -> &Path {
        &self.project
    }

    /// The config file in effect: `config.toml` in [`Store::project_dir`].
    pub fn project_config_path(&self) -> PathBuf {
        self.project.join("config.toml")
    }

    /// `events.jsonl` in [`Store::project_dir`]: project-level events and clarifications.
    pub fn project_events_path(&self) -> PathBuf {
        self.project.join("events.jsonl")
    }

    /// `.godzilla/protocols/`.
    pub fn protocols_dir(&self) -> PathBuf {
        self.state.join("protocols")
    }

    /// `.godzilla/protocols/ID/`. Safe to join: ids are validated.
    pub fn protocol_dir(&self, id: &ProtocolId) -> PathBuf {
        self.protocols_dir().join(id.as_str())
    }

    /// A path relative to the working tree, for messages.
    pub fn display<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, str> {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
    }

    /// Checks `.godzilla/format`: present, a number, not newer than [`FORMAT`].
    pub fn check_format(&self) -> Result<u32, Error> {
        let path = self.format_path();
        check_no_symlinks(&path)?;
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotInitialized { path });
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let found: u32 = text.trim().parse().map_err(|_| Error::BadFormat {
            path: path.clone(),
            found: text.trim().to_owned(),
        })?;
        if found > FORMAT {
            return Err(Error::FutureFormat { path, found });
        }
        Ok(found)
    }

    /// Loads and validates the config in effect, [`Store::project_config_path`] (defaults when
    /// absent).
    pub fn load_config(&self) -> Result<crate::config::Config, Error> {
        let path = self.project_config_path();
        check_no_symlinks(&path)?;
        match fs::read_to_string(&path) {
            Ok(text) => crate::config::parse(&text).map_err(|source| Error::Toml {
                path,
                source: Box::new(source),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Takes the exclusive lock of one protocol (blocking). Released on drop.
    pub fn lock_protocol(&self, id: &ProtocolId) -> Result<Lock, Error> {
        Lock::acquire(&self.local.join("locks").join(format!("protocol-{id}.lock")))
    }

    /// Takes the project-wide lock (project events, protocol numbering). Released on drop.
    pub fn lock_project(&self) -> Result<Lock, Error> {
        Lock::acquire(&self.local.join("locks").join("project.lock"))
    }

    /// The file of a protocol's run lock.
    pub fn run_lock_path(&self, id: &ProtocolId) -> PathBuf {
        self.local.join("locks").join(format!("run-{id}.lock"))
    }

    /// Takes a protocol's run lock if nobody holds it; `Ok(None)` when it is held.
    pub fn try_lock_run(&self, id: &ProtocolId) -> Result<Option<RunLock>, Error> {
        Ok(
            Lock::try_acquire(&self.run_lock_path(id))?.map(|lock| RunLock {
                protocol: id.clone(),
                _lock: lock,
            }),
        )
    }
}

/// A protocol's run lock, held: the one whoever advances the protocol holds for the whole
/// run (distinct from [`Store::lock_protocol`], the short lock of an event append, so events
/// can be recorded meanwhile). A function that may only run under it takes `&RunLock`, and
/// [`Store::try_lock_run`] is the only way to make one, so the compiler checks the caller
/// holds it. Released on drop.
#[derive(Debug)]
pub struct RunLock {
    protocol: ProtocolId,
    _lock: Lock,
}

impl RunLock {
    /// The protocol it locks.
    pub fn protocol(&self) -> &ProtocolId {
        &self.protocol
    }
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
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        #[allow(clippy::disallowed_methods, reason = "this is the sanctioned lock")]
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
        }
    }

    /// Blocks until the lock at `path` is held.
    pub fn acquire(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        #[allow(clippy::disallowed_methods, reason = "this is the sanctioned lock")]
        file.lock().map_err(|e| Error::io(path, e))?;
        Ok(Self { file })
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
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".gz-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
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

/// Creates a machine-local scratch directory for one engine run. Not flushed: its content is
/// of use only while the run lasts (prompt, schema and last-message files).
pub fn create_scratch_dir(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Removes a scratch directory after its run; a leftover is only litter.
pub fn remove_scratch_dir(dir: &Path) {
    let _ignored = fs::remove_dir_all(dir);
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

/// Inserts or replaces a marker-delimited block in a text file's content, so running it twice
/// changes nothing and the user's own lines are kept.
pub fn upsert_block(existing: &str, marker: &str, body: &str) -> String {
    let begin = format!("# >>> {marker} >>>");
    let end = format!("# <<< {marker} <<<");
    let block = format!("{begin}\n{body}{end}\n");
    if let (Some(b), Some(e)) = (existing.find(&begin), existing.find(&end))
        && b < e
    {
        let after = existing[e + end.len()..]
            .strip_prefix('\n')
            .unwrap_or(&existing[e + end.len()..]);
        return format!("{}{block}{after}", &existing[..b]);
    }
    let mut out = existing.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&block);
    out
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
    fn upsert_block_is_idempotent() {
        let once = upsert_block("*.png binary", "godzilla", "a merge=union\n");
        assert_eq!(
            once,
            "*.png binary\n# >>> godzilla >>>\na merge=union\n# <<< godzilla <<<\n"
        );
        assert_eq!(upsert_block(&once, "godzilla", "a merge=union\n"), once);
        let changed = upsert_block(&once, "godzilla", "b\n");
        assert!(changed.contains("\nb\n") && !changed.contains("a merge"));
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
    fn a_run_lock_is_one_holder_per_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path(), &dir.path().join("local"));
        let one = ProtocolId::parse("0001-one").unwrap();
        let two = ProtocolId::parse("0002-two").unwrap();
        let held = store.try_lock_run(&one).unwrap().unwrap();
        assert_eq!(held.protocol(), &one);
        assert!(store.try_lock_run(&one).unwrap().is_none(), "held twice");
        assert!(store.try_lock_run(&two).unwrap().is_some());
        drop(held);
        assert!(
            store.try_lock_run(&one).unwrap().is_some(),
            "released on drop"
        );
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
}
