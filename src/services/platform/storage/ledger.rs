//! What godzilla itself wrote to protected state while an agent ran.
//!
//! The engine guard snapshots `.godzilla/` (and the trust store) before an agent starts and
//! puts back whatever changed after it. But control commands (pause, cancel, approve, answer)
//! from another terminal must take effect during that window. So while a guard is active it
//! keeps a ledger file in `$GIT_COMMON_DIR/godzilla/guards/`; every godzilla write to
//! protected state (an event line, a trust marker) is recorded in every active ledger, under
//! the same lock as the write and before it, as `sha256 path`. The guard keeps what the
//! ledger vouches for and restores the rest.
//!
//! This defends against an agent that edits godzilla's state, not against one that studies
//! godzilla and forges ledger entries too: it runs as the same user.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Error;

fn dir(local: &Path) -> PathBuf {
    local.join("guards")
}

/// sha256 of `bytes`, hex.
pub fn sha(bytes: &[u8]) -> String {
    crate::digest::sha256_hex(bytes)
}

/// The path with its directory resolved, so that two processes naming one file through
/// different spellings (a symlinked temp dir, a relative root) agree.
pub fn canonical(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            canonical_dir(parent).map_or_else(|| path.to_path_buf(), |p| p.join(name))
        }
        _ => path.to_path_buf(),
    }
}

/// `dir` resolved, once per process: resolving reads every component of the path (a
/// `readlink` each), and a step named the same few directories (its event log's, the ledger's)
/// some twenty times (#13). A name only keys records and ledger lines, which the same process
/// compares with the same answer; what is written goes through the path as given.
fn canonical_dir(dir: &Path) -> Option<PathBuf> {
    type Seen = std::sync::Mutex<std::collections::HashMap<PathBuf, PathBuf>>;
    static SEEN: std::sync::LazyLock<Seen> = std::sync::LazyLock::new(Default::default);
    let seen = || {
        SEEN.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(known) = seen().get(dir) {
        return Some(known.clone());
    }
    let resolved = dir.canonicalize().ok()?;
    seen().insert(dir.to_path_buf(), resolved.clone());
    Some(resolved)
}

/// An active guard's ledger; removed on drop, and with it the append records its agent could
/// have written (see [`super::events::forget_tails_changed_since`]).
///
/// A ledger starts *pending* (`.pending`): godzilla's writes are recorded in it, but no agent
/// of its guard runs yet, so the append records stay trusted (see [`any_active`]) and the
/// guard's own process appends without reading whole logs while its snapshot is taken.
/// [`Ledger::arm`], right before the agent starts, makes it a `.ledger`.
///
/// A finished ledger is kept as `.idle` for the process's next guard, which empties it and
/// renames it with the next generation (`<pid>-<token>-<generation>.pending`), and one a
/// finished process left is taken over the same way by the next process: a file created and
/// removed per engine run cost, on a file system without a journal, a scan past every recently
/// freed inode for each later file (#13). Each recorded line carries the generation
/// of the file name the writer opened, and a guard counts only its own generation's lines: a
/// control command that opened the ledger of a finished guard and writes late cannot vouch
/// for anything in the next one. The ledger is emptied before it gets its new name, so no
/// writer that opened it under that name loses a line.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    generation: u64,
    tails: Option<super::events::TailsSnapshot>,
}

/// The extension of an armed ledger (an agent may run), of a pending one, and of one kept
/// for the process's next guard.
const ARMED: &str = "ledger";
const PENDING: &str = "pending";
const IDLE: &str = "idle";
const CLAIM: &str = "claim";

/// This process's idle ledgers (one per ledger directory at most): path and generation.
static KEPT: std::sync::Mutex<Vec<(PathBuf, u64)>> = std::sync::Mutex::new(Vec::new());

/// Empties the ledger at `private` (a name no writer opens: idle or claimed) and only then
/// names it `pending`, so that no writer that opens it under that name loses a line. On
/// failure the file is removed, and the caller makes a new one.
fn take_over(private: &Path, pending: &Path) -> bool {
    let emptied = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(private)
        .and_then(|_| fs::rename(private, pending));
    if emptied.is_err() {
        let _ignored = fs::remove_file(private);
    }
    emptied.is_ok()
}

/// The generation in a ledger's file name (`<pid>-<token>-<generation>.<ext>`).
fn generation_of(path: &Path) -> Option<u64> {
    path.file_stem()?.to_str()?.rsplit_once('-')?.1.parse().ok()
}

impl Ledger {
    /// Starts an armed ledger at once (the guard arms its pending one when its snapshot is
    /// complete; tests of what an armed ledger does start here).
    #[cfg(test)]
    pub fn open(local: &Path, token: &str) -> Result<Self, Error> {
        let mut ledger = Self::pending(local, token)?;
        ledger.arm(local)?;
        Ok(ledger)
    }

    /// Starts a pending ledger: see [`Ledger`].
    pub fn pending(local: &Path, token: &str) -> Result<Self, Error> {
        let dir = dir(local);
        if let Some(ledger) = Self::reuse(&dir) {
            return Ok(ledger);
        }
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        // An idle ledger a finished process left is taken over (its generation continued),
        // else a new one is made.
        let (claimed, generation) = match remove_stale(&dir) {
            Some((claimed, generation)) => (Some(claimed), generation + 1),
            None => (None, 0),
        };
        let path = dir.join(format!(
            "{}-{token}-{generation}.{PENDING}",
            std::process::id()
        ));
        // Truncated if it exists: a leftover with this pid and token can only be ours.
        if !claimed.is_some_and(|claimed| take_over(&claimed, &path)) {
            OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
        }
        Ok(Self {
            path,
            generation,
            tails: None,
        })
    }

    /// This process's idle ledger in `dir`, emptied and renamed pending with the next
    /// generation; `None` when there is none (or it cannot be reused: a new one is made).
    fn reuse(dir: &Path) -> Option<Self> {
        let (idle, generation) = {
            let mut kept = KEPT
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let at = kept
                .iter()
                .position(|(idle, _)| idle.parent() == Some(dir))?;
            kept.swap_remove(at)
        };
        let generation = generation + 1;
        let stem = idle.file_stem()?.to_str()?.rsplit_once('-')?.0.to_owned();
        let path = dir.join(format!("{stem}-{generation}.{PENDING}"));
        take_over(&idle, &path).then_some(Self {
            path,
            generation,
            tails: None,
        })
    }

    /// From now on an agent may run: the append records are not trusted until the ledger is
    /// dropped, and those changed meanwhile are forgotten then.
    pub fn arm(&mut self, local: &Path) -> Result<(), Error> {
        if self.tails.is_some() {
            return Ok(());
        }
        // Taken first: a record rewritten between the two is one an agent could not yet touch.
        let tails = super::events::tails_snapshot(local);
        let armed = self.path.with_extension(ARMED);
        fs::rename(&self.path, &armed).map_err(|e| Error::io(&self.path, e))?;
        self.path = armed;
        self.tails = Some(tails);
        Ok(())
    }

    /// Every `(path, sha)` recorded so far for this ledger's generation.
    pub fn entries(&self) -> Result<BTreeSet<(PathBuf, String)>, Error> {
        let text = fs::read_to_string(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let ours = format!("g{} ", self.generation);
        Ok(text
            .lines()
            .filter_map(|l| l.strip_prefix(&ours))
            .filter_map(|l| l.split_once(' '))
            .map(|(sha, path)| (PathBuf::from(path), sha.to_owned()))
            .collect())
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if let Some(tails) = &self.tails
            && let Some(local) = self.path.parent().and_then(Path::parent)
        {
            super::events::forget_tails_changed_since(local, tails);
        }
        // Last: until the records are checked, readers must not trust them. Then kept for the
        // process's next guard (see [`Ledger`]), or removed when one is kept already.
        let mut kept = KEPT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let idle = self.path.with_extension(IDLE);
        let free = !kept.iter().any(|(k, _)| k.parent() == idle.parent());
        if free && fs::rename(&self.path, &idle).is_ok() {
            kept.push((idle, self.generation));
        } else {
            let _ignored = fs::remove_file(&self.path);
        }
    }
}

/// Whether a guard is active: an agent may be running, and nothing it could have written
/// outside `.godzilla/` (such as the append cache) is to be trusted.
pub fn any_active(local: &Path) -> bool {
    fs::read_dir(dir(local)).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == ARMED))
    })
}

/// Records that godzilla is about to write `bytes` (a whole file, or one line without its
/// newline) to `path`, in every active ledger. The caller holds the lock that serialises
/// writers of `path`. Costs one directory read when no guard is active.
pub fn record(local: &Path, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = dir(local);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    let mut line: Option<String> = None;
    for entry in entries.flatten() {
        let ledger = entry.path();
        if ledger
            .extension()
            .is_none_or(|e| e != ARMED && e != PENDING)
        {
            continue;
        }
        let Some(generation) = generation_of(&ledger) else {
            continue;
        };
        let line =
            line.get_or_insert_with(|| format!("{} {}\n", sha(bytes), canonical(path).display()));
        // A ledger renamed or removed meanwhile is a guard that finished: nothing to tell it.
        // The generation is the one of the name opened (see [`Ledger`]).
        let Ok(mut file) = OpenOptions::new().append(true).open(&ledger) else {
            continue;
        };
        file.write_all(format!("g{generation} {line}").as_bytes())
            .map_err(|e| Error::io(&ledger, e))?;
    }
    Ok(())
}

/// Removes ledgers whose process is gone (a guard killed before it could clean up).
///
/// One idle ledger of a finished process is claimed instead (renamed to a name of this process
/// that no writer opens, `<pid>-claim-<generation>.claim`: of two processes claiming it, one
/// rename succeeds); returns it and its generation.
fn remove_stale(dir: &Path) -> Option<(PathBuf, u64)> {
    let entries = fs::read_dir(dir).ok()?;
    let mut claimed = None;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH);
        let path = entry.path();
        if gone
            && claimed.is_none()
            && path.extension().is_some_and(|x| x == IDLE)
            && let Some(generation) = generation_of(&path)
        {
            let claim = dir.join(format!("{}-claim-{generation}.{CLAIM}", std::process::id()));
            if fs::rename(&path, &claim).is_ok() {
                claimed = Some((claim, generation));
            }
            continue;
        }
        let armed = path.extension().is_some_and(|x| x == ARMED);
        if gone && fs::remove_file(&path).is_ok() && armed {
            // Its agent may have written the append cache, and the guard never got to forget it.
            if let Some(local) = dir.parent() {
                super::events::forget_tails(local);
            }
        }
    }
    claimed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_reach_active_ledgers_only() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        let file = local.join("events.jsonl");
        record(local, &file, b"before").unwrap();
        let ledger = Ledger::open(local, "t1").unwrap();
        record(local, &file, b"during").unwrap();
        assert_vouches_only(&ledger, &file, b"during");
        drop(ledger);
        assert_eq!(live_ledgers(local), 0);
        record(local, &file, b"after").unwrap();
    }

    /// Asserts that `ledger` vouches for one write: `bytes` to `file`.
    fn assert_vouches_only(ledger: &Ledger, file: &Path, bytes: &[u8]) {
        let entries = ledger.entries().unwrap();
        assert_eq!(entries, BTreeSet::from([(canonical(file), sha(bytes))]));
    }

    /// Ledgers of the directory that are armed or pending.
    fn live_ledgers(local: &Path) -> usize {
        fs::read_dir(local.join("guards"))
            .unwrap()
            .flatten()
            .filter(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x == ARMED || x == PENDING)
            })
            .count()
    }

    #[test]
    fn a_finished_ledger_is_reused_empty_with_the_next_generation() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        let file = local.join("events.jsonl");
        let first = Ledger::open(local, "t1").unwrap();
        record(local, &file, b"first").unwrap();
        let inode = fs::metadata(&first.path).unwrap().ino();
        drop(first);
        let second = Ledger::open(local, "t2").unwrap();
        assert_eq!(
            fs::metadata(&second.path).unwrap().ino(),
            inode,
            "no new file"
        );
        assert_eq!(second.generation, 1);
        assert!(second.entries().unwrap().is_empty());
        record(local, &file, b"second").unwrap();
        assert_vouches_only(&second, &file, b"second");
        drop(second);
        assert_eq!(live_ledgers(local), 0);
    }

    /// The idle ledger a finished process left is taken over, emptied, with its generation
    /// continued; other leftovers of finished processes are removed.
    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "leftover files of another process, written as they would be"
    )]
    fn an_idle_ledger_of_a_finished_process_is_taken_over() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        let guards = local.join("guards");
        fs::create_dir_all(&guards).unwrap();
        // No process has this id (above Linux's largest).
        let idle = guards.join("999999999-dead-7.idle");
        fs::write(&idle, "g7 abc /x\n").unwrap();
        fs::write(guards.join("999999999-dead-3.pending"), "").unwrap();
        let inode = fs::metadata(&idle).unwrap().ino();
        let ledger = Ledger::pending(local, "t1").unwrap();
        assert_eq!(ledger.generation, 8);
        assert_eq!(fs::metadata(&ledger.path).unwrap().ino(), inode);
        assert!(ledger.entries().unwrap().is_empty());
        assert_eq!(fs::read_to_string(&ledger.path).unwrap(), "");
        let left: Vec<_> = fs::read_dir(&guards)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(left, std::slice::from_ref(&ledger.path));
    }

    /// A control command that opened the ledger of a finished guard and writes late (its line
    /// carries the generation of the name it opened) vouches for nothing in the next guard.
    #[test]
    fn a_late_write_to_a_finished_ledger_does_not_vouch_in_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        let file = local.join("events.jsonl");
        let first = Ledger::open(local, "t1").unwrap();
        let mut late = OpenOptions::new().append(true).open(&first.path).unwrap();
        let late_line = format!("g0 {} {}\n", sha(b"late"), canonical(&file).display());
        drop(first);
        let second = Ledger::open(local, "t2").unwrap();
        late.write_all(late_line.as_bytes()).unwrap();
        assert!(second.entries().unwrap().is_empty());
        record(local, &file, b"now").unwrap();
        assert_vouches_only(&second, &file, b"now");
    }

    #[test]
    fn a_pending_ledger_is_told_of_writes_but_trusts_the_append_records_until_armed() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path();
        let file = local.join("events.jsonl");
        let mut ledger = Ledger::pending(local, "t1").unwrap();
        assert!(
            !any_active(local),
            "no agent runs before the ledger is armed"
        );
        record(local, &file, b"pending").unwrap();
        ledger.arm(local).unwrap();
        assert!(any_active(local));
        record(local, &file, b"armed").unwrap();
        let entries = ledger.entries().unwrap();
        assert!(entries.contains(&(canonical(&file), sha(b"pending"))));
        assert!(entries.contains(&(canonical(&file), sha(b"armed"))));
        drop(ledger);
        assert!(!any_active(local));
        assert_eq!(live_ledgers(local), 0);
    }
}
