//! Every protocol's folded state, in brief, in one machine-local file per working tree, so that `status`
//! over 1,000 protocols costs one read and one `lstat` per log instead of a record read and a
//! look at each log's end (#13: 20 ms at 1,000 protocols).
//!
//! It is only a cache, kept beside the append records (`cache/tails/`, removed when a guard
//! ends if it changed while the guard ran) and trusted under the same rules: never while a guard is active, and an entry only
//! while its log's size, inode and change times are what they were when it was folded. Like
//! git's index it has a blind spot for a write in the same clock tick that keeps the size, so
//! an entry whose log changed less than [`RACY`] before the index was written is not trusted:
//! that protocol is read the careful way (its append record, which also compares the log's
//! last line), and the next index written after the window trusts it.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::events::LogProblem;
use super::events::{self, Stamp};
use super::repo::{LoadOptions, ProtocolRepository};
use super::{Error, Store};
use crate::domain::{ProtocolId, StateBrief};

/// How long after its log last changed an entry becomes trustworthy: well above any file
/// system's change-time granularity.
const RACY: Duration = Duration::from_millis(100);

/// Layout (and fold) version: an index of another version is rebuilt, never half-read.
const FORMAT: u32 = 1;

/// Fewer logs to fold than this per thread are folded on the calling thread alone: a thread
/// costs more than a short fold.
const MISSES_PER_THREAD: usize = 32;

/// A protocol's state as `status` needs it, and the problems its log had when it was read.
#[derive(Debug)]
pub struct Brief {
    /// The state, in brief.
    pub state: StateBrief,
    /// Problems found in the log (never from the index: a log with problems is not indexed,
    /// so they are reported each time).
    pub problems: Vec<LogProblem>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    format: u32,
    /// When the index was written, in nanoseconds since the epoch.
    written_ns: i128,
    entries: BTreeMap<ProtocolId, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    state: StateBrief,
}

/// The state index of one working tree's protocols, as loaded; [`StateIndex::save`] writes
/// back what this process learned.
#[derive(Debug)]
pub struct StateIndex {
    path: PathBuf,
    /// Whether the index may be read and written at all (no guard active).
    usable: bool,
    old: BTreeMap<ProtocolId, Entry>,
    /// Entries older than this (ctime, ns since the epoch) are outside the racy window.
    trusted_before_ns: i128,
    new: BTreeMap<ProtocolId, Entry>,
    changed: bool,
}

fn nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

impl StateIndex {
    /// Loads the index of the working tree `store` stands for; a missing, unreadable or other
    /// version's index is an empty one.
    pub fn open(store: &Store) -> Self {
        let dir = store.protocols_dir();
        let key = events::digest(
            super::ledger::canonical(&dir)
                .as_os_str()
                .as_encoded_bytes(),
        );
        let path = events::cache_dir(store.local_dir()).join(format!("status-{}.json", &key[..32]));
        let usable = !super::ledger::any_active(store.local_dir());
        let file = usable
            .then(|| fs::read(&path).ok())
            .flatten()
            .and_then(|bytes| serde_json::from_slice::<File>(&bytes).ok())
            .filter(|f| f.format == FORMAT)
            .unwrap_or_default();
        Self {
            path,
            usable,
            trusted_before_ns: file.written_ns - RACY.as_nanos() as i128,
            old: file.entries,
            new: BTreeMap::new(),
            changed: false,
        }
    }

    /// The states of `ids`, in that order: from the index for each protocol whose log is as it
    /// was indexed, else loaded (and indexed) the usual way. The logs the index does not
    /// vouch for are folded on every core: after a clone or an upgrade that is every
    /// log, and folding is all the work (#13: 200,000 events within 150 ms).
    pub fn load_all(&mut self, store: &Store, ids: &[ProtocolId]) -> Vec<Result<Brief, Error>> {
        let mut out: Vec<Option<Result<Brief, Error>>> = Vec::with_capacity(ids.len());
        let mut misses = Vec::new();
        for id in ids {
            let log = ProtocolRepository::events_path(store, id);
            // `lstat`: a log that became a symbolic link is never a hit; the careful path
            // refuses it.
            let stamp = fs::symlink_metadata(&log)
                .ok()
                .filter(fs::Metadata::is_file)
                .map(|m| Stamp::of(&m));
            match (self.usable, &stamp, self.old.get(id)) {
                (true, Some(stamp), Some(entry))
                    if &entry.stamp == stamp && stamp.ctime_ns() < self.trusted_before_ns =>
                {
                    self.new.insert(id.clone(), entry.clone());
                    out.push(Some(Ok(Brief {
                        state: entry.state.clone(),
                        problems: Vec::new(),
                    })));
                }
                _ => {
                    misses.push((out.len(), id, stamp));
                    out.push(None);
                }
            }
        }
        if misses.is_empty() {
            return out.into_iter().flatten().collect();
        }
        self.changed = true;
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(misses.len().div_ceil(MISSES_PER_THREAD))
            .max(1);
        let chunk = misses.len().div_ceil(threads);
        let fold_part = |part: &[(usize, &ProtocolId, Option<Stamp>)]| {
            part.iter()
                .map(|(at, id, stamp)| (*at, fold_one(store, id, stamp.clone())))
                .collect::<Vec<_>>()
        };
        let folded: Vec<(usize, Folded)> = std::thread::scope(|scope| {
            let mut parts = misses.chunks(chunk);
            // This thread folds the first part itself (with one thread, all of them).
            let own = parts.next().unwrap_or_default();
            let handles: Vec<_> = parts
                .map(|part| scope.spawn(move || fold_part(part)))
                .collect();
            let mut all = fold_part(own);
            for handle in handles {
                all.extend(
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                );
            }
            all
        });
        for (at, result) in folded {
            out[at] = Some(result.map(|(brief, entry)| {
                if let Some(entry) = entry {
                    self.new.insert(brief.state.protocol.clone(), entry);
                }
                brief
            }));
        }
        out.into_iter().flatten().collect()
    }

    /// Writes the index when this process learned something, with every protocol it looked
    /// at (a protocol that is gone drops out). Only a cache: a failure is not an error.
    pub fn save(self) {
        if !self.usable || !self.changed {
            return;
        }
        #[allow(
            clippy::disallowed_methods,
            reason = "compared with the kernel's file change times, so the real clock"
        )]
        let now = SystemTime::now();
        let file = File {
            format: FORMAT,
            written_ns: nanos(now),
            entries: self.new,
        };
        if let Ok(bytes) = serde_json::to_vec(&file) {
            events::write_cache(&self.path, &bytes);
        }
    }
}

/// A state loaded the careful way, and the index entry it earned.
type Folded = Result<(Brief, Option<Entry>), Error>;

/// Loads one protocol's state the careful way, and the index entry it earns when its log did
/// not change while it was read (`before` is its stamp from before) and had no problems.
fn fold_one(store: &Store, id: &ProtocolId, before: Option<Stamp>) -> Folded {
    let loaded = ProtocolRepository::load_state_with(
        store,
        id,
        LoadOptions {
            remember: false,
            // The protocols directory was checked when the index was opened, the protocol's
            // directory is no link (its listing says so) and `lstat` found the log a file.
            path_checked: before.is_some(),
        },
    )?;
    let brief = loaded.state.brief();
    let log = ProtocolRepository::events_path(store, id);
    let after = fs::symlink_metadata(&log).ok().map(|m| Stamp::of(&m));
    let entry = before
        .filter(|stamp| {
            Some(stamp) == after.as_ref()
                && loaded.problems.is_empty()
                && loaded.state.stop.is_some()
        })
        .map(|stamp| Entry {
            stamp,
            state: brief.clone(),
        });
    Ok((
        Brief {
            state: brief,
            problems: loaded.problems,
        },
        entry,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(index: &mut StateIndex, store: &Store, id: &ProtocolId) -> Brief {
        index
            .load_all(store, std::slice::from_ref(id))
            .pop()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn an_entry_is_trusted_only_outside_the_racy_window_and_while_its_log_is_unchanged() {
        let root = tempfile::tempdir().unwrap();
        let (work, local) = (root.path().join("work"), root.path().join("local"));
        let store = Store::at(&work, &local);
        let id = ProtocolId::parse("0001-demo").unwrap();
        let log = ProtocolRepository::events_path(&store, &id);
        fs::create_dir_all(log.parent().unwrap()).unwrap();
        let line = |lamport: u64, kind: &str| {
            format!(
                r#"{{"id":"e{lamport}","lamport":{lamport},"ts":"t","protocol":"0001-demo","type":"{kind}","message":"m"}}"#
            ) + "\n"
        };
        super::super::write_atomic(&log, line(1, "protocol_created").as_bytes()).unwrap();

        let mut index = StateIndex::open(&store);
        load(&mut index, &store, &id);
        assert!(index.changed, "an empty index had a hit");
        index.save();
        // Written right after the log changed: inside the racy window, so not trusted yet.
        let mut index = StateIndex::open(&store);
        assert_eq!(index.old.len(), 1);
        load(&mut index, &store, &id);
        assert!(index.changed, "an entry inside the racy window was trusted");
        std::thread::sleep(RACY + Duration::from_millis(20));
        index.save();

        let mut index = StateIndex::open(&store);
        let hit = load(&mut index, &store, &id);
        assert!(!index.changed, "an unchanged, settled log was not a hit");
        assert_eq!(
            hit.state.status,
            Some(crate::domain::ProtocolStatus::Pending)
        );

        // A same-size rewrite in place changes the change time: not a hit, and the new
        // content counts.
        let mut index = StateIndex::open(&store);
        std::io::Write::write_all(
            &mut fs::OpenOptions::new().write(true).open(&log).unwrap(),
            line(2, "protocol_created").as_bytes(),
        )
        .unwrap();
        let fresh = load(&mut index, &store, &id);
        assert!(index.changed);
        assert_eq!(
            index.new[&id].stamp,
            Stamp::of(&fs::metadata(&log).unwrap())
        );
        assert_eq!(
            fresh.state.status,
            Some(crate::domain::ProtocolStatus::Pending)
        );
    }

    #[test]
    fn a_forged_index_is_ignored_while_a_guard_is_active_and_forgotten_after() {
        let root = tempfile::tempdir().unwrap();
        let (work, local) = (root.path().join("work"), root.path().join("local"));
        let store = Store::at(&work, &local);
        let ledger = super::super::ledger::Ledger::open(&local, "t").unwrap();
        let index = StateIndex::open(&store);
        assert!(!index.usable);
        fs::create_dir_all(index.path.parent().unwrap()).unwrap();
        events::write_cache(&index.path, b"{}");
        let path = index.path.clone();
        drop(ledger);
        assert!(
            !path.exists(),
            "a guard's end must drop the index an agent could forge"
        );
    }
}
