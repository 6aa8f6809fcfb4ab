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
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map_or_else(|_| path.to_path_buf(), |p| p.join(name)),
        _ => path.to_path_buf(),
    }
}

/// An active guard's ledger; removed on drop, and with it the append records its agent could
/// have written (see [`super::events::forget_tails_changed_since`]).
///
/// A ledger starts *pending* (`.pending`): godzilla's writes are recorded in it, but no agent
/// of its guard runs yet, so the append records stay trusted (see [`any_active`]) and the
/// guard's own process appends without reading whole logs while its snapshot is taken.
/// [`Ledger::arm`], right before the agent starts, makes it a `.ledger`.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    tails: Option<super::events::TailsSnapshot>,
}

/// The extension of an armed ledger (an agent may run) and of a pending one.
const ARMED: &str = "ledger";
const PENDING: &str = "pending";

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
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        remove_stale(&dir);
        let path = dir.join(format!("{}-{token}.{PENDING}", std::process::id()));
        // Truncated if it exists: a leftover with this pid and token can only be ours.
        OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(Self { path, tails: None })
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

    /// Every `(path, sha)` recorded so far.
    pub fn entries(&self) -> Result<BTreeSet<(PathBuf, String)>, Error> {
        let text = fs::read_to_string(&self.path).map_err(|e| Error::io(&self.path, e))?;
        Ok(text
            .lines()
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
        // Last: until the records are checked, readers must not trust them.
        let _ignored = fs::remove_file(&self.path);
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
    let mut line: Option<Vec<u8>> = None;
    for entry in entries.flatten() {
        let ledger = entry.path();
        if ledger
            .extension()
            .is_none_or(|e| e != ARMED && e != PENDING)
        {
            continue;
        }
        let line = line.get_or_insert_with(|| {
            format!("{} {}\n", sha(bytes), canonical(path).display()).into_bytes()
        });
        // A ledger removed meanwhile is a guard that finished: nothing to tell it.
        let Ok(mut file) = OpenOptions::new().append(true).open(&ledger) else {
            continue;
        };
        file.write_all(line).map_err(|e| Error::io(&ledger, e))?;
    }
    Ok(())
}

/// Removes ledgers whose process is gone (a guard killed before it could clean up).
fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
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
        let armed = entry.path().extension().is_some_and(|x| x == ARMED);
        if gone && fs::remove_file(entry.path()).is_ok() && armed {
            // Its agent may have written the append cache, and the guard never got to forget it.
            if let Some(local) = dir.parent() {
                super::events::forget_tails(local);
            }
        }
    }
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
        let entries = ledger.entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert!(entries.contains(&(canonical(&file), sha(b"during"))));
        drop(ledger);
        assert_eq!(fs::read_dir(local.join("guards")).unwrap().count(), 0);
        record(local, &file, b"after").unwrap();
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
        assert_eq!(fs::read_dir(local.join("guards")).unwrap().count(), 0);
    }
}
