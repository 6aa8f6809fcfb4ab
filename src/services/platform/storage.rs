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
pub mod state_index;

use std::fs;
use std::path::{Path, PathBuf};

use crate::context::Paths;
use crate::domain::{NameError, ProtocolId};
use crate::error_kind::{ErrorKind, HasKind};
use crate::fsio;
pub use crate::fsio::{Flushing, Lock};

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

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            // What the user wrote or set up (config, format, names, links, a request the
            // state refuses) is theirs to fix.
            Self::NotInitialized { .. }
            | Self::FutureFormat { .. }
            | Self::BadFormat { .. }
            | Self::Toml { .. }
            | Self::BadName { .. }
            | Self::ProtocolNotFound(_)
            | Self::Symlink { .. }
            | Self::Transition { .. } => ErrorKind::Usage,
            // State godzilla wrote that it cannot read or reach: `fsck` territory.
            Self::Io { .. } | Self::Json { .. } | Self::TornLog { .. } => ErrorKind::Failed,
        }
    }
}

impl From<fsio::Error> for Error {
    fn from(err: fsio::Error) -> Self {
        match err {
            fsio::Error::Io { path, source } => Self::Io { path, source },
            fsio::Error::Symlink { path } => Self::Symlink { path },
        }
    }
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
        lock(&self.local.join("locks").join(format!("protocol-{id}.lock")))
    }

    /// Takes the project-wide lock (project events, protocol numbering). Released on drop.
    pub fn lock_project(&self) -> Result<Lock, Error> {
        lock(&self.local.join("locks").join("project.lock"))
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

/// The file of a protocol's run lock.
pub fn run_lock_path(store: &Store, protocol: &ProtocolId) -> std::path::PathBuf {
    store.run_lock_path(protocol)
}

/// Which protocols' run locks are held, for a reader that asks about many protocols (`status`):
/// the lock directory is listed once, and only a lock file that exists is looked up in the
/// kernel's lock table. A run that starts after the listing is seen by the next reader, as it
/// would be had it started just after a lookup.
pub struct RunLocks {
    dir: PathBuf,
    present: Option<std::collections::HashSet<std::ffi::OsString>>,
}

impl RunLocks {
    /// Lists the lock directory of `store`'s repository.
    pub fn scan(store: &Store) -> Self {
        let dir = store.local.join("locks");
        let present = match fs::read_dir(&dir) {
            Ok(entries) => Some(entries.flatten().map(|e| e.file_name()).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Default::default()),
            // Unreadable: every question goes to the lock itself.
            Err(_) => None,
        };
        Self { dir, present }
    }

    /// Whether a process holds `protocol`'s run lock (`None`: cannot tell).
    pub fn is_held(&self, store: &Store, protocol: &ProtocolId) -> Option<bool> {
        let path = store.run_lock_path(protocol);
        if let (Some(present), Some(name)) = (&self.present, path.file_name())
            && path.parent() == Some(self.dir.as_path())
            && !present.contains(name)
        {
            return Some(false);
        }
        Lock::is_held(&path)
    }
}

/// Writes `bytes` to `path` so that after a crash the file holds either the old or the new
/// content, never a mix (see [`fsio::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    Ok(fsio::write_atomic(path, bytes)?)
}

/// Writes a derived file (a view, a cache, a log) atomically but without fsync (see
/// [`fsio::write_derived`]).
pub fn write_derived(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    Ok(fsio::write_derived(path, bytes)?)
}

/// Writes a file that must never be overwritten (run records are immutable).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    Ok(fsio::write_new(path, bytes)?)
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    Ok(fsio::sync_dir(dir)?)
}

/// Creates a directory (and parents), durably.
pub fn create_dir(dir: &Path) -> Result<(), Error> {
    Ok(fsio::create_dir(dir)?)
}

/// Removes a scratch directory after its run; a leftover is only litter.
pub fn remove_scratch_dir(dir: &Path) {
    fsio::remove_scratch_dir(dir);
}

/// Reads a file that may be absent.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    Ok(fsio::read_optional(path)?)
}

/// Reads a text file that must exist (refusing links inside `.godzilla/`).
pub fn read_text(path: &Path) -> Result<String, Error> {
    Ok(fsio::read_text(path)?)
}

/// Refuses a path inside `.godzilla/` when it, or a directory on the way, is a symbolic link.
pub fn check_no_symlinks(path: &Path) -> Result<(), Error> {
    Ok(fsio::check_no_symlinks(path)?)
}

/// Takes the lock at `path` (blocking), as a storage error.
pub fn lock(path: &Path) -> Result<Lock, Error> {
    Ok(Lock::acquire(path)?)
}

/// Takes the lock at `path` if nobody holds it, as a storage error; `Ok(None)` when it is held.
pub fn try_lock(path: &Path) -> Result<Option<Lock>, Error> {
    Ok(Lock::try_acquire(path)?)
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
}
