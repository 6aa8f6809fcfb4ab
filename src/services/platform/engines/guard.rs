//! The engine guard: what an agent must not change, recorded before it runs and checked (and
//! put back) after.
//!
//! Protected: godzilla's state in the agent's worktree and in the main checkout, the trust
//! store, the repository's git config and hooks (a changed hook would run code on the user's
//! next commit), a linked worktree's `.git` file (where its repository is),
//! `refs/notes/godzilla` and the branch the worktree has checked out. The
//! worktree's git index is kept and put back if the agent changed it ([`KeptIndex`]), so that
//! what the step's commit stores of godzilla's state is the state the guard checked.
//!
//! Control commands from another terminal (pause, cancel, approve, answer) write events while
//! the agent runs; they are godzilla's own writes, recorded in the guard's
//! [`ledger`](storage::ledger), so the guard keeps them: an event log may only have grown by
//! lines the ledger vouches for, and a view (`status.json`) of a log that grew so is rebuilt
//! from the log rather than put back.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::context::Context;
use crate::domain::ProtocolId;
use crate::git::Git;
use crate::git::kept_index::{KeptIndex, PutBack};
use crate::git::notes::NOTES_REF;
use crate::git::object::{self, GuardedRefs};
use crate::git::tracked::{self, Tracked};
use crate::process;
use crate::services::platform::storage::ledger::{self, Ledger};
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{self, Lock, Store};

/// Files and refs an agent must not change.
pub(crate) struct Protected {
    files: Files,
    roots: Vec<PathBuf>,
    stores: Vec<Store>,
    refs: GuardedRefs,
    git: Git,
    ledger: Ledger,
    index: Option<KeptIndex>,
}

/// A snapshot under way (see [`Protected::begin`]): the protected files are read on another
/// thread while the caller makes its last writes before the engine starts.
pub(crate) struct Begun {
    ledger: Ledger,
    stores: Vec<Store>,
    roots: Vec<PathBuf>,
    git: Git,
    walk: Walk,
}

/// The first read of the protected files: on a thread, or done already where none could start.
enum Walk {
    Thread(std::thread::JoinHandle<Result<Files, storage::Error>>),
    Done(Result<Files, storage::Error>),
}

impl Protected {
    /// Starts recording the protected state of `store`'s worktree; [`Begun::finish`] right
    /// before the engine starts completes it. In between, godzilla may write its event logs and
    /// their views (`status.json`), and nothing else that is protected: those are read again
    /// at the finish. Reading every protected file took as long as what a step does between
    /// taking its run lock and starting the engine, which it now overlaps (#13).
    pub(crate) fn begin(ctx: &Context, store: &Store) -> Result<Begun, storage::Error> {
        let common_dir = &ctx.paths.common_dir;
        // The ledger first: a control command that writes between it and the snapshot is then
        // both in the snapshot and vouched for, which is harmless.
        let ledger = Ledger::pending(store.local_dir(), &ctx.ids.token()[..8])?;
        let mut stores = vec![store.clone()];
        if let Some(main) = main_checkout(common_dir)
            && !same_dir(&main, store.root())
            && main.join(".godzilla").is_dir()
        {
            stores.push(Store::at(&main, store.local_dir()));
        }
        let mut roots: Vec<PathBuf> = stores.iter().map(|s| s.state_dir().to_path_buf()).collect();
        roots.extend([
            common_dir.join("hooks"),
            common_dir.join("config"),
            store.local_dir().join("trust"),
        ]);
        // A linked worktree's `.git` file names its git dir: pointed elsewhere, the next steps
        // would commit to another repository.
        let dot_git = store.root().join(".git");
        if std::fs::symlink_metadata(&dot_git).is_ok_and(|m| m.is_file()) {
            roots.push(dot_git);
        }
        let walked = roots.clone();
        let checkout = store.root().to_path_buf();
        let read = move || {
            // Read before the agent starts (never after: it may rewrite the index), so what it
            // vouches for is what godzilla's last commit found.
            let index = Tracked::load(&checkout);
            let mut files = Files::new();
            for root in &walked {
                collect(root, None, index.as_ref(), &mut files)?;
            }
            let vouched = files
                .values()
                .filter(|s| matches!(s.content, Content::Blob(_)))
                .count();
            tracing::debug!(
                "guard: {} protected files, {vouched} vouched for by the index (not read)",
                files.len()
            );
            Ok(files)
        };
        let walk = match std::thread::Builder::new()
            .name("guard".into())
            .spawn(read.clone())
        {
            Ok(handle) => Walk::Thread(handle),
            Err(_) => Walk::Done(read()),
        };
        Ok(Begun {
            ledger,
            stores,
            roots,
            git: Git::new(ctx.git_program(), store.root()),
            walk,
        })
    }

    /// What changed that should not have, after putting it back.
    pub(crate) fn verify_and_restore(mut self) -> Result<Vec<String>, storage::Error> {
        let mut changed = self.restore_refs();
        // After the refs: putting a rewritten branch back checks its files out through the index.
        if let Some(kept) = self.index.take() {
            let index = kept.path().to_path_buf();
            match kept.put_back().map_err(|e| storage::Error::io(index, e))? {
                PutBack::Unchanged | PutBack::Restored => {}
                PutBack::Lost(why) => {
                    // Nothing the agent wrote there may decide what the commit stores: the
                    // index starts again from HEAD, without stat data, so every file is read.
                    let _ignored = self.git.run(&["read-tree", "HEAD"]);
                    changed.push(format!("the worktree's git index ({why})"));
                }
            }
        }
        let vouched = self.ledger.entries()?;
        let mut now = Files::new();
        for root in &self.roots {
            collect(root, Some(&self.files), None, &mut now)?;
        }
        // Links the agent planted go first: nothing is written through them below.
        let mut planted: Vec<&PathBuf> = now
            .iter()
            .filter(|(p, s)| {
                s.key.is_none()
                    && !self
                        .files
                        .get(*p)
                        .is_some_and(|b| b.content.same(&s.content))
            })
            .map(|(p, _)| p)
            .collect();
        if !planted.is_empty() {
            planted.sort();
            for path in planted {
                std::fs::remove_file(path).map_err(|e| storage::Error::io(path, e))?;
                changed.push(format!("{} (a symbolic link)", path.display()));
            }
            now.clear();
            for root in &self.roots {
                collect(root, Some(&self.files), None, &mut now)?;
            }
        }
        let now_bytes = |path: &Path| now.get(path).and_then(|s| s.content.read());
        let mut paths: Vec<&PathBuf> = self
            .files
            .iter()
            .filter(|(p, s)| now.get(*p).is_none_or(|n| !n.content.same(&s.content)))
            .map(|(p, _)| p)
            .chain(now.keys().filter(|p| !self.files.contains_key(*p)))
            .collect();
        paths.sort();
        let mut grown: BTreeSet<PathBuf> = BTreeSet::new();
        let mut views = Vec::new();
        for path in paths {
            let canonical = ledger::canonical(path);
            // The snapshot's bytes are fetched only where they are written back or merged: a
            // vouched-for file's may have to come from the object database.
            if let Some(lock) = log_lock(&self.stores[0], path)? {
                let before = self.before(path)?;
                let before = before.as_deref();
                let current = storage::read_optional(path)?.unwrap_or_default();
                let shas: BTreeSet<&str> = vouched
                    .iter()
                    .filter(|(p, _)| *p == canonical)
                    .map(|(_, s)| s.as_str())
                    .collect();
                let merged = merge_log(before.unwrap_or_default(), &current, &shas);
                if merged != current {
                    storage::write_atomic(path, &merged)?;
                    changed.push(path.display().to_string());
                }
                if Some(&merged[..]) != before
                    && let Some(dir) = path.parent()
                {
                    grown.insert(dir.to_path_buf());
                }
                drop(lock);
            } else if is_view(path) {
                views.push(path.clone());
            } else if now_bytes(path)
                .is_some_and(|b| vouched.contains(&(canonical, ledger::sha(b))))
            {
                // godzilla wrote it (`godzilla allow` meanwhile).
            } else {
                restore(path, self.before(path)?.as_deref())?;
                changed.push(path.display().to_string());
            }
        }
        for path in views {
            let dir = path.parent().unwrap_or(&path);
            let protocol = dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| ProtocolId::parse(n).ok());
            let store = self.stores.iter().find(|s| path.starts_with(s.state_dir()));
            match (grown.contains(dir), protocol, store) {
                // A control command's view: rebuilt from the checked log.
                (true, Some(id), Some(store)) => ProtocolRepository::refresh_view(store, &id)?,
                _ => {
                    restore(&path, self.before(&path)?.as_deref())?;
                    changed.push(path.display().to_string());
                }
            }
        }
        Ok(changed)
    }

    /// The bytes of `path` in the snapshot: as read, or the blob the index vouched for, from
    /// the object database (an error when it is gone from there: nothing else has them).
    fn before(&self, path: &Path) -> Result<Option<Cow<'_, [u8]>>, storage::Error> {
        match self.files.get(path).map(|s| &s.content) {
            None => Ok(None),
            Some(Content::Read(bytes)) => Ok(Some(Cow::Borrowed(&bytes[..]))),
            Some(Content::Blob(id)) => tracked::blob_bytes(self.git.dir(), id)
                .map(|bytes| Some(Cow::Owned(bytes)))
                .map_err(|e| storage::Error::io(path, std::io::Error::other(e))),
        }
    }

    /// Puts back HEAD, its branch and the notes ref if the agent moved them. Returns what
    /// it put back. The agent may add commits on top of its branch (some agents commit), but
    /// may not rewrite it, switch branches, or move or delete the notes.
    fn restore_refs(&self) -> Vec<String> {
        let git = &self.git;
        let mut changed = Vec::new();
        let now = read_refs(git);
        if now == self.refs {
            return changed;
        }
        let GuardedRefs {
            head_ref,
            head,
            notes,
        } = &self.refs;
        if let Some(branch) = head_ref {
            let now_ref = now.head_ref.clone();
            let tip = resolve(git, branch);
            let kept = tip.as_ref() == head.as_ref()
                || matches!((head, &tip), (Some(old), Some(new)) if is_ancestor(git, old, new));
            if now_ref.as_ref() != Some(branch) {
                let _ignored = git.run(&["symbolic-ref", "HEAD", branch]);
                changed.push(format!("HEAD (was switched away from {branch})"));
            }
            if !kept && let Some(old) = head {
                let _ignored = git.run(&["update-ref", "--end-of-options", branch, old]);
                // The files of the commits the agent dropped come back; its edits go.
                let _ignored = git.run(&["checkout", "-q", old, "--", ":/", ":(exclude).godzilla"]);
                changed.push(format!("{branch} (was moved)"));
            }
        }
        let now = now.notes;
        if now != *notes
            && let Some(old) = notes
        {
            let kept = now.as_ref().is_some_and(|new| {
                is_ancestor(git, old, new)
                    && git
                        .run(&[
                            "diff-tree",
                            "-r",
                            "--name-only",
                            "--diff-filter=D",
                            old,
                            new,
                        ])
                        .is_ok_and(|out| out.trim().is_empty())
            });
            if !kept {
                let lock =
                    Lock::acquire(&self.stores[0].local_dir().join("locks").join("notes.lock"));
                let _ignored = git.run(&["update-ref", "--end-of-options", NOTES_REF, old]);
                drop(lock);
                changed.push(format!("{NOTES_REF} (was moved or deleted)"));
            }
        }
        changed
    }
}

impl Begun {
    /// Completes the snapshot: the walk's reading, with godzilla's own logs and views read now
    /// (the logs under their writers' lock, so none is caught mid-append), the guarded refs
    /// and the kept index.
    pub(crate) fn finish(self) -> Result<Protected, storage::Error> {
        let Self {
            mut ledger,
            stores,
            roots,
            git,
            walk,
        } = self;
        let mut files = match walk {
            Walk::Thread(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
            Walk::Done(files) => files?,
        };
        files.retain(|path, _| !is_own_write(path));
        let mut own = Vec::new();
        for store in &stores {
            let state = store.state_dir();
            own.push(state.join("events.jsonl"));
            let protocols = match std::fs::read_dir(state.join("protocols")) {
                Ok(dir) => dir,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(storage::Error::io(state.join("protocols"), e)),
            };
            for entry in protocols {
                let entry = entry.map_err(|e| storage::Error::io(state, e))?;
                // Not followed: a protocol folder replaced by a link was walked as a link.
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    let dir = entry.path();
                    own.extend([dir.join("events.jsonl"), dir.join("status.json")]);
                }
            }
        }
        for path in own {
            let lock = log_lock(&stores[0], &path)?;
            collect(&path, None, None, &mut files)?;
            drop(lock);
        }
        let refs = read_refs(&git);
        let index = KeptIndex::keep(git.dir());
        // Last: godzilla's own appends up to here could trust the append records.
        ledger.arm(stores[0].local_dir())?;
        Ok(Protected {
            files,
            roots,
            stores,
            refs,
            git,
            ledger,
            index,
        })
    }
}

/// An event log or a view godzilla may write between [`Protected::begin`] and the finish.
fn is_own_write(path: &Path) -> bool {
    is_view(path)
        || path.file_name().is_some_and(|n| n == "events.jsonl")
            && path.parent().is_some_and(|dir| {
                dir.file_name().is_some_and(|n| n == ".godzilla")
                    || dir
                        .parent()
                        .and_then(Path::file_name)
                        .is_some_and(|n| n == "protocols")
            })
}

/// The repository's main checkout, when the common dir is its `.git`.
fn main_checkout(common_dir: &Path) -> Option<PathBuf> {
    (common_dir.file_name()? == ".git").then(|| common_dir.parent().map(Path::to_path_buf))?
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `protocols/ID/status.json`.
fn is_view(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "status.json")
        && path
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .is_some_and(|n| n == "protocols")
}

/// The lock godzilla's writers of an event log hold, taken, when `path` is one.
fn log_lock(store: &Store, path: &Path) -> Result<Option<Lock>, storage::Error> {
    if path.file_name().is_none_or(|n| n != "events.jsonl") {
        return Ok(None);
    }
    let Some(dir) = path.parent() else {
        return Ok(None);
    };
    let in_protocols = dir
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "protocols");
    if in_protocols {
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| ProtocolId::parse(n).ok());
        return match id {
            Some(id) => store.lock_protocol(&id).map(Some),
            None => Ok(None),
        };
    }
    if dir.file_name().is_some_and(|n| n == ".godzilla") {
        return store.lock_project().map(Some);
    }
    Ok(None)
}

/// The log as it was, plus the lines that appeared since and that godzilla vouched for, in
/// the order they appeared. Anything else the agent did to the log is undone.
fn merge_log(before: &[u8], now: &[u8], vouched: &BTreeSet<&str>) -> Vec<u8> {
    let mut old: HashMap<&[u8], usize> = HashMap::new();
    for line in before.split(|b| *b == b'\n') {
        *old.entry(line).or_default() += 1;
    }
    let mut out = before.to_vec();
    for line in now.split_inclusive(|b| *b == b'\n') {
        let Some(body) = line.strip_suffix(b"\n") else {
            continue;
        };
        if let Some(count) = old.get_mut(body).filter(|c| **c > 0) {
            *count -= 1;
            continue;
        }
        if vouched.contains(ledger::sha(body).as_str()) {
            out.extend_from_slice(line);
        }
    }
    out
}

fn restore(path: &Path, before: Option<&[u8]>) -> Result<(), storage::Error> {
    match before {
        Some(bytes) => storage::write_atomic(path, bytes),
        None => std::fs::remove_file(path).map_err(|e| storage::Error::io(path, e)),
    }
}

/// The guarded refs, read in-process; git has the last word when gix cannot read them.
fn read_refs(git: &Git) -> GuardedRefs {
    object::guarded_refs(git.dir(), NOTES_REF).unwrap_or_else(|_| {
        let out = git.run_unchecked(&["symbolic-ref", "-q", "HEAD"]).ok();
        GuardedRefs {
            head_ref: out
                .filter(process::Output::success)
                .map(|o| o.stdout_text().trim().to_owned()),
            head: resolve(git, "HEAD"),
            notes: resolve(git, NOTES_REF),
        }
    })
}

fn resolve(git: &Git, name: &str) -> Option<String> {
    let out = git
        .run_unchecked(&["rev-parse", "--verify", "--quiet", "--end-of-options", name])
        .ok()?;
    out.success().then(|| out.stdout_text().trim().to_owned())
}

fn is_ancestor(git: &Git, old: &str, new: &str) -> bool {
    git.run_unchecked(&["merge-base", "--is-ancestor", old, new])
        .is_ok_and(|o| o.success())
}

/// How a symbolic link is recorded in a snapshot (no file's content starts with a NUL).
const LINK: &[u8] = b"\0symlink\0";

/// A protected path as the guard saw it.
#[derive(Clone)]
struct Seen {
    /// Device, inode, size, modification and change times; `None` for a symbolic link.
    key: Option<Key>,
    /// Whether the bytes were read at least [`RACY`] after the file's last change, or vouched
    /// for by the index: then the same key later means the same bytes (see [`read_cached`]).
    settled: bool,
    content: Content,
}

/// What a protected file holds, as the guard knows it.
#[derive(Clone)]
enum Content {
    /// Read from the file.
    Read(Arc<[u8]>),
    /// Not read: the worktree's index recorded this blob for the file as it was (see
    /// [`Tracked`]), so its bytes are in the object database, fetched only to put it back.
    Blob(gix::ObjectId),
}

impl Content {
    /// Whether both hold the same bytes (a blob's are hashed, not fetched).
    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Read(a), Self::Read(b)) => a == b,
            (Self::Blob(a), Self::Blob(b)) => a == b,
            (Self::Read(bytes), Self::Blob(id)) | (Self::Blob(id), Self::Read(bytes)) => {
                tracked::is_blob_of(id, bytes)
            }
        }
    }

    /// The bytes, when they were read.
    fn read(&self) -> Option<&[u8]> {
        match self {
            Self::Read(bytes) => Some(bytes),
            Self::Blob(_) => None,
        }
    }

    /// How many bytes it holds in memory.
    fn held(&self) -> usize {
        self.read().map_or(0, <[u8]>::len)
    }
}

impl Seen {
    /// Bytes not tied to a stat: a symbolic link's record, or what a path that is not a
    /// plain file read as.
    fn unkeyed(bytes: Vec<u8>) -> Self {
        Self {
            key: None,
            settled: false,
            content: Content::Read(bytes.into()),
        }
    }
}

type Key = crate::fsio::StatKey;
type Files = HashMap<PathBuf, Seen>;

/// Files changed less than this before they were read are read again next time (see
/// [`read_cached`]).
const RACY: std::time::Duration = std::time::Duration::from_millis(100);

/// Records every file under `path` (or `path` itself) into `out`. A file whose key is the
/// one `prior` saw, settled, is not read again: its bytes are `prior`'s. Nor is one `index`
/// vouches for: its bytes are that blob's.
fn collect(
    path: &Path,
    prior: Option<&Files>,
    index: Option<&Tracked>,
    out: &mut Files,
) -> Result<(), storage::Error> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => visit(path.to_path_buf(), &meta, prior, index, out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(storage::Error::io(path, e)),
    }
}

fn visit(
    path: PathBuf,
    meta: &std::fs::Metadata,
    prior: Option<&Files>,
    index: Option<&Tracked>,
    out: &mut Files,
) -> Result<(), storage::Error> {
    if meta.is_dir() {
        for entry in std::fs::read_dir(&path).map_err(|e| storage::Error::io(&path, e))? {
            let entry = entry.map_err(|e| storage::Error::io(&path, e))?;
            // Relative to the open directory and not following links: no walk of the whole
            // path per file (a protocol's records are most of what the guard sees).
            match entry.metadata() {
                Ok(meta) => visit(entry.path(), &meta, prior, index, out)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(storage::Error::io(entry.path(), e)),
            }
        }
    } else if meta.file_type().is_symlink() {
        // Recorded (not followed), so a link the agent plants is seen and removed.
        let target = std::fs::read_link(&path).map_err(|e| storage::Error::io(&path, e))?;
        let mut bytes = LINK.to_vec();
        bytes.extend_from_slice(target.as_os_str().as_encoded_bytes());
        out.insert(path, Seen::unkeyed(bytes));
    } else if meta.is_file() {
        let key = crate::fsio::stat_key(meta);
        let known = prior
            .and_then(|p| p.get(&path))
            .filter(|s| s.settled && s.key == Some(key));
        let vouched = || index.and_then(|index| index.blob(&path, meta));
        let seen = match known {
            Some(seen) => seen.clone(),
            None => match vouched() {
                Some(id) => Seen {
                    key: Some(key),
                    settled: true,
                    content: Content::Blob(id),
                },
                None => read_cached(&path, meta)?,
            },
        };
        out.insert(path, seen);
    }
    Ok(())
}

/// A protected file's bytes, read again only when its identity or change time moved since the
/// last read in this process. A protocol run takes a snapshot before and after every engine
/// run, and reading every record and report of the protocol each time made the cost of a
/// step grow with the protocol (#13).
///
/// The change time (`ctime`) cannot be set from user space, so a file someone wrote since has
/// a later one, unless the write came within the clock tick of the read (file systems stamp
/// with a coarse clock): a file read less than [`RACY`] after its last change is not kept, as
/// git treats racily clean index entries.
fn read_cached(path: &Path, meta: &std::fs::Metadata) -> Result<Seen, storage::Error> {
    use std::os::unix::fs::MetadataExt as _;
    // For the process: a protocol run snapshots on a new thread before every engine run.
    static CACHE: std::sync::LazyLock<std::sync::Mutex<ReadCache>> =
        std::sync::LazyLock::new(Default::default);
    let cache = || {
        CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let key = crate::fsio::stat_key(meta);
    if let Some(seen) = cache()
        .files
        .get(path)
        .filter(|s| s.key == Some(key))
        .cloned()
    {
        return Ok(seen);
    }
    let bytes = std::fs::read(path).map_err(|e| storage::Error::io(path, e))?;
    let changed = std::time::UNIX_EPOCH
        + std::time::Duration::new(
            u64::try_from(meta.ctime()).unwrap_or(0),
            u32::try_from(meta.ctime_nsec()).unwrap_or(0),
        );
    #[allow(
        clippy::disallowed_methods,
        reason = "compared with the file system's own clock, never a pinned test clock"
    )]
    let now = std::time::SystemTime::now();
    let settled = now.duration_since(changed).is_ok_and(|age| age >= RACY)
        && bytes.len() == usize::try_from(meta.size()).unwrap_or(usize::MAX);
    let seen = Seen {
        key: Some(key),
        settled,
        content: Content::Read(bytes.into()),
    };
    if settled {
        cache().keep(path, seen.clone());
    } else {
        cache().forget(path);
    }
    Ok(seen)
}

/// Bytes [`read_cached`] keeps at most. A long-lived process (a worker) would otherwise keep
/// every protected file of every protocol it ran; past this the cache starts over, and the next
/// snapshot reads its files again.
const CACHE_BYTES: usize = 64 << 20;

/// [`read_cached`]'s files, and how many bytes they hold.
#[derive(Default)]
struct ReadCache {
    files: HashMap<PathBuf, Seen>,
    bytes: usize,
}

impl ReadCache {
    fn keep(&mut self, path: &Path, seen: Seen) {
        self.forget(path);
        if self.bytes + seen.content.held() > CACHE_BYTES {
            self.files.clear();
            self.bytes = 0;
        }
        self.bytes += seen.content.held();
        self.files.insert(path.to_path_buf(), seen);
    }

    fn forget(&mut self, path: &Path) {
        if let Some(old) = self.files.remove(path) {
            self.bytes -= old.content.held();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_cache_holds_at_most_its_bytes_and_counts_what_it_forgets() {
        let mut cache = ReadCache::default();
        let seen = |len: usize| Seen {
            key: None,
            settled: true,
            content: Content::Read(vec![7u8; len].into()),
        };
        let mib = 1 << 20;
        for n in 0..(CACHE_BYTES / mib) + 8 {
            cache.keep(Path::new(&format!("/f{n}")), seen(mib));
            assert!(cache.bytes <= CACHE_BYTES, "{n}: {}", cache.bytes);
            assert_eq!(cache.bytes, cache.files.len() * mib);
        }
        // Started over once: what came after is kept.
        assert!(
            cache
                .files
                .contains_key(Path::new(&format!("/f{}", CACHE_BYTES / mib + 7)))
        );
        assert!(!cache.files.contains_key(Path::new("/f0")));
        // A file read again replaces its bytes; a forgotten one gives them back.
        let before = cache.bytes;
        let last = format!("/f{}", CACHE_BYTES / mib + 7);
        cache.keep(Path::new(&last), seen(10));
        assert_eq!(cache.bytes, before - mib + 10);
        cache.forget(Path::new(&last));
        assert_eq!(cache.bytes, before - mib);
    }

    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "the test plays an agent writing in place"
    )]
    fn a_cached_read_sees_a_same_size_rewrite_with_its_mtime_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, b"original\n").unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        // Old enough to be kept.
        std::thread::sleep(std::time::Duration::from_millis(150));
        let mut first = Files::new();
        collect(dir.path(), None, None, &mut first).unwrap();
        assert_eq!(first[&path].content.read().unwrap(), b"original\n");
        assert!(first[&path].settled);
        // Unchanged: the bytes are the snapshot's own, not read again.
        let mut unchanged = Files::new();
        collect(dir.path(), Some(&first), None, &mut unchanged).unwrap();
        let (Content::Read(now), Content::Read(then)) =
            (&unchanged[&path].content, &first[&path].content)
        else {
            panic!("read, not vouched for");
        };
        assert!(Arc::ptr_eq(now, then));
        // An agent rewrites it with as many bytes and sets the modification time back.
        std::fs::write(&path, b"forged!!\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        // Seen both by the guard's second look (against its snapshot) and by a fresh one
        // (against the process's cache).
        for prior in [Some(&first), None] {
            let mut second = Files::new();
            collect(dir.path(), prior, None, &mut second).unwrap();
            assert_eq!(
                second[&path].content.read().unwrap(),
                b"forged!!\n",
                "the change time gives it away"
            );
        }
    }

    #[test]
    fn merge_log_keeps_vouched_lines_only() {
        let before = b"a\nb\n";
        let c = ledger::sha(b"c");
        let vouched: BTreeSet<&str> = [c.as_str()].into();
        // Grown by a vouched line: kept as is.
        assert_eq!(merge_log(before, b"a\nb\nc\n", &vouched), b"a\nb\nc\n");
        // A forged line is dropped, a vouched one after it kept.
        assert_eq!(merge_log(before, b"a\nb\nx\nc\n", &vouched), b"a\nb\nc\n");
        // A deleted or edited old line comes back.
        assert_eq!(merge_log(before, b"a\nc\n", &vouched), b"a\nb\nc\n");
        assert_eq!(merge_log(before, b"a\nB\n", &vouched), b"a\nb\n");
    }
}
