//! Append-only JSON-lines event logs.
//!
//! An append writes one whole line and fsyncs before returning: that return is the
//! acknowledgement. A crash mid-append leaves at most a partial last line, which reading
//! reports as [`LogProblem::Torn`] and `fsck --repair` mends; it is never a panic.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use crate::domain::{Event, ProtocolState};

/// Something wrong with a log's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogProblem {
    /// The last line has no newline: a crash while appending. `parses` says whether the
    /// partial text is still a whole event (only the newline is missing).
    Torn {
        /// 1-based line number.
        line: usize,
        /// Whether the text parses as an event.
        parses: bool,
    },
    /// A complete line that is not a valid event.
    Invalid {
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        message: String,
    },
}

/// What reading a log found.
#[derive(Debug, Default)]
pub struct LogRead {
    /// Every valid event, in file order.
    pub events: Vec<Event>,
    /// Lines that were not valid events.
    pub problems: Vec<LogProblem>,
    /// Size of the file in bytes (0 when absent).
    pub len: u64,
    /// sha256 of the file's bytes (hex): what a status view is keyed on.
    pub sha256: String,
}

/// sha256 of log content, in hex.
pub fn digest(bytes: &[u8]) -> String {
    crate::digest::sha256_hex(bytes)
}

/// A SHA-256 that can be stopped after any whole 64-byte block and resumed later: the state
/// after the first `hashed` bytes of a log. An append hashes only its own line (and the few
/// bytes after the last whole block) to know the new log's digest, instead of the whole log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sha256State {
    state: [u32; 8],
    hashed: u64,
}

impl Sha256State {
    const INITIAL: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];

    /// The state before any byte.
    pub fn new() -> Self {
        Self {
            state: Self::INITIAL,
            hashed: 0,
        }
    }

    /// Hashes the whole blocks at the start of `bytes` (the bytes after `hashed`); returns how
    /// many bytes that took.
    fn update_blocks(&mut self, bytes: &[u8]) -> usize {
        use sha2::digest::generic_array::GenericArray;
        let whole = bytes.len() - bytes.len() % 64;
        for block in bytes[..whole].chunks_exact(64) {
            sha2::compress256(
                &mut self.state,
                std::slice::from_ref(GenericArray::from_slice(block)),
            );
        }
        self.hashed += whole as u64;
        whole
    }

    /// The state after also hashing `rest` (the bytes after `hashed`), and what is left of
    /// `rest` after its last whole block.
    pub fn advanced(mut self, rest: &[u8]) -> (Self, &[u8]) {
        let used = self.update_blocks(rest);
        (self, &rest[used..])
    }

    /// Bytes hashed so far (a multiple of 64).
    pub fn hashed(&self) -> u64 {
        self.hashed
    }

    /// The hex digest of the hashed bytes followed by `rest`.
    pub fn finish(&self, rest: &[u8]) -> String {
        let (mut done, tail) = self.advanced(rest);
        let bits = (done.hashed + tail.len() as u64) * 8;
        let mut pad = tail.to_vec();
        pad.push(0x80);
        while pad.len() % 64 != 56 {
            pad.push(0);
        }
        pad.extend_from_slice(&bits.to_be_bytes());
        done.update_blocks(&pad);
        done.state.iter().map(|w| format!("{w:08x}")).collect()
    }
}

impl Default for Sha256State {
    fn default() -> Self {
        Self::new()
    }
}

/// The size, identity and change times of a log file: any write to it changes one of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Stamp {
    len: u64,
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    pub(super) fn of(meta: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            len: meta.len(),
            dev: meta.dev(),
            ino: meta.ino(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The change time, in nanoseconds since the epoch.
    pub(super) fn ctime_ns(&self) -> i128 {
        i128::from(self.ctime.0) * 1_000_000_000 + i128::from(self.ctime.1)
    }
}

/// What the last append through godzilla left in a log, kept machine-local (`cache/tails/` in
/// the common state directory) so that the next append need not read the log: its highest
/// Lamport counter, the resumable digest, and (for a protocol's log) the folded state.
///
/// It is only a cache. It is trusted only while the file's size, inode and change times are
/// what the append left and the file still ends with the line that append wrote; anything else
/// (a merge, a checkout, an edit, a crash before the record was written) reads the log. Linux
/// gives a file that was just looked at a fine-grained change time on its next write
/// (multigrain timestamps, 6.13+, ext4/xfs/btrfs/tmpfs), so a write right after an append is
/// seen too; on coarser clocks an edit in the same tick that also keeps the size and the last
/// line would not be (git's index has the same blind spot). Never trusted while an agent runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tail {
    stamp: Stamp,
    last_line: String,
    /// The highest Lamport counter of any event in the log.
    pub lamport: u64,
    sha: Sha256State,
    /// The fold of the log for its protocol, when it is a protocol's log.
    pub state: Option<ProtocolState>,
    /// The log's bytes after the last whole hashed block (never stored: read from the log).
    #[serde(skip)]
    rest: Vec<u8>,
    /// The log's sha256 (hex), computed when the tail is loaded or built.
    #[serde(skip)]
    pub sha256: String,
}

/// How many bytes at the end of a log are compared with the tail record at least.
const TAIL_CHECK: u64 = 256;

fn tail_record_path(local: &Path, log: &Path) -> std::path::PathBuf {
    let key = digest(super::ledger::canonical(log).as_os_str().as_encoded_bytes());
    cache_dir(local).join(format!("{}.json", &key[..32]))
}

impl Tail {
    /// The log's tail as the last append left it, or `None` when there is no record or the
    /// log is no longer exactly what that append left.
    pub fn load(local: &Path, log: &Path) -> Option<Self> {
        // An agent runs as the same user and could forge a record for the log it sees; the
        // guard forgets every record that changed while it ran (see `ledger`).
        if super::ledger::any_active(local) {
            return None;
        }
        let record = tail_record_path(local, log);
        let seen = fs::metadata(&record).ok()?;
        let mut tail = match Recent::get(&record, &seen) {
            Some(tail) => tail,
            None => {
                let tail: Self = serde_json::from_slice(&read_record(&record)?).ok()?;
                Recent::put(record, &seen, &tail);
                tail
            }
        };
        let mut file = fs::File::open(log).ok()?;
        if Stamp::of(&file.metadata().ok()?) != tail.stamp || tail.sha.hashed > tail.stamp.len {
            return None;
        }
        let want = (tail.last_line.len() as u64 + 2).max(TAIL_CHECK);
        let from = (tail.stamp.len - want.min(tail.stamp.len)).min(tail.sha.hashed);
        let mut end = Vec::new();
        file.seek(SeekFrom::Start(from))
            .and_then(|_| file.read_to_end(&mut end))
            .ok()?;
        let line = tail.last_line.as_bytes();
        let ends_with_line = end.len() > line.len()
            && end.ends_with(b"\n")
            && &end[end.len() - 1 - line.len()..end.len() - 1] == line
            && (end.len() == line.len() + 1 || end[end.len() - 2 - line.len()] == b'\n');
        if from + end.len() as u64 != tail.stamp.len || !ends_with_line {
            return None;
        }
        tail.rest = end.split_off((tail.sha.hashed - from) as usize);
        tail.sha256 = tail.sha.finish(&tail.rest);
        Some(tail)
    }

    /// The tail of a log whose whole content is `bytes` (read under the writers' lock).
    pub fn of_bytes(bytes: &[u8], lamport: u64, state: Option<ProtocolState>) -> Self {
        let (sha, rest) = Sha256State::new().advanced(bytes);
        let last_line = bytes
            .strip_suffix(b"\n")
            .map(|b| {
                let start = b.iter().rposition(|c| *c == b'\n').map_or(0, |i| i + 1);
                String::from_utf8_lossy(&b[start..]).into_owned()
            })
            .unwrap_or_default();
        Self {
            stamp: Stamp {
                len: bytes.len() as u64,
                dev: 0,
                ino: 0,
                mtime: (0, 0),
                ctime: (0, 0),
            },
            last_line,
            lamport,
            sha,
            state,
            sha256: sha.finish(rest),
            rest: rest.to_vec(),
        }
    }

    /// The log's size in bytes.
    pub fn len(&self) -> u64 {
        self.stamp.len
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.stamp.len == 0
    }

    /// The tail after `event` is appended (computed before the append; see [`Tail::store`]).
    pub fn after(&self, event: &Event, state: Option<ProtocolState>) -> Self {
        let line = event.to_line();
        let mut rest = self.rest.clone();
        rest.extend_from_slice(line.as_bytes());
        rest.push(b'\n');
        let (sha, left) = self.sha.advanced(&rest);
        let rest = left.to_vec();
        Self {
            stamp: Stamp {
                len: self.stamp.len + line.len() as u64 + 1,
                ..self.stamp.clone()
            },
            last_line: line,
            lamport: self.lamport.max(event.lamport),
            sha,
            state,
            sha256: sha.finish(&rest),
            rest,
        }
    }

    /// Records this tail for `log` once the append is durable. A failure only costs the next
    /// append a read of the log, so it is not an error; nor is a log whose size is not the
    /// one this tail expects (another writer outside the lock), which is simply not recorded.
    pub fn store(mut self, local: &Path, log: &Path) {
        let Ok(meta) = fs::metadata(log) else {
            return;
        };
        let stamp = Stamp::of(&meta);
        if stamp.len != self.stamp.len {
            return;
        }
        self.stamp = stamp;
        self.write_record(local, log);
    }

    /// Records the tail of a protocol's log that a reader read whole and folded (or whose
    /// view it verified against the log's hash), so that the next read of the unchanged log
    /// costs a look at its end instead of a read and a hash of all of it: `status` over many
    /// protocols (#13). `before` is the log's metadata taken before it was read; nothing is
    /// recorded when the log changed meanwhile, or while a guard runs.
    pub fn remember(
        local: &Path,
        log: &Path,
        before: &fs::Metadata,
        bytes: &[u8],
        state: ProtocolState,
    ) {
        let stamp = Stamp::of(before);
        if stamp.len != bytes.len() as u64 || super::ledger::any_active(local) {
            return;
        }
        if fs::metadata(log).map(|m| Stamp::of(&m)).ok() != Some(stamp.clone()) {
            return;
        }
        let mut tail = Self::of_bytes(bytes, state.lamport, Some(state));
        tail.stamp = stamp;
        tail.write_record(local, log);
    }

    fn write_record(&self, local: &Path, log: &Path) {
        if let Ok(bytes) = serde_json::to_vec(self) {
            let record = tail_record_path(local, log);
            if let Some(written) = write_record(&record, &bytes) {
                Recent::put(record, &written, self);
            }
        }
    }
}

/// The tail records this process last wrote or read, each with its file's stamp then: a step
/// loads its log's record four times and writes it twice, and reading one back meant a read, a
/// digest and a parse of the folded state each time (#13). A record counts from here only while
/// its file's stamp is the one kept (any write changes it); the log is checked against the
/// record as always, so a record that is stale here is one the log no longer matches.
struct Recent;

/// Records [`Recent`] keeps at most (a long-lived worker touches many logs).
const RECENT: usize = 64;

/// Each record's path, with its file's stamp and the record.
type RecentMap = std::collections::HashMap<PathBuf, (Stamp, Tail)>;

impl Recent {
    fn map() -> std::sync::MutexGuard<'static, RecentMap> {
        static MAP: std::sync::LazyLock<std::sync::Mutex<RecentMap>> =
            std::sync::LazyLock::new(Default::default);
        MAP.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The record kept for `record`, when its file (whose metadata is `now`) is unchanged.
    fn get(record: &Path, now: &fs::Metadata) -> Option<Tail> {
        let map = Self::map();
        let (stamp, tail) = map.get(record)?;
        (*stamp == Stamp::of(now)).then(|| tail.clone())
    }

    /// Keeps `tail` as the content of `record` when its file had the stamp of `seen` (taken
    /// before the read, or after the write).
    fn put(record: PathBuf, seen: &fs::Metadata, tail: &Tail) {
        let mut map = Self::map();
        if map.len() >= RECENT && !map.contains_key(&record) {
            map.clear();
        }
        let mut kept = tail.clone();
        kept.rest = Vec::new();
        kept.sha256 = String::new();
        map.insert(record, (Stamp::of(seen), kept));
    }
}

/// How many hex digits of the record's sha256 its first line holds.
const RECORD_DIGEST: usize = 32;

/// Writes a tail record in place, behind a line with the digest of the rest. Every append
/// writes its log's record; replacing it through a temporary file made two files per append,
/// and on a file system without a journal each new file costs a scan of the recently freed
/// inodes (#13). A reader that catches the write half done, or a record a crash cut short,
/// finds a digest that does not match and reads the log instead ([`read_record`]). Not
/// flushed, for the reason [`write_cache`] gives. Returns the file's metadata once written.
fn write_record(path: &Path, bytes: &[u8]) -> Option<fs::Metadata> {
    let mut out = Vec::with_capacity(bytes.len() + RECORD_DIGEST + 1);
    out.extend_from_slice(&digest(bytes).as_bytes()[..RECORD_DIGEST]);
    out.push(b'\n');
    out.extend_from_slice(bytes);
    let open = || {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    };
    let file = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path
            .parent()
            .and_then(|dir| fs::create_dir_all(dir).ok())
            .and_then(|()| open().ok()),
        opened => opened.ok(),
    };
    let mut file = file?;
    file.write_all(&out)
        .and_then(|()| file.set_len(out.len() as u64))
        .and_then(|()| file.metadata())
        .ok()
}

/// A record [`write_record`] wrote, when it is whole.
fn read_record(path: &Path) -> Option<Vec<u8>> {
    let bytes = super::read_optional(path).ok()??;
    let cut = bytes.iter().position(|b| *b == b'\n')?;
    let (line, rest) = (&bytes[..cut], &bytes[cut + 1..]);
    (line == &digest(rest).as_bytes()[..RECORD_DIGEST]).then(|| rest.to_vec())
}

/// Where the records that only a guard-free machine may trust live: the append records and
/// the state index. A guard's end removes those that changed while it ran.
pub(super) fn cache_dir(local: &Path) -> std::path::PathBuf {
    local.join("cache").join("tails")
}

/// Writes a cache file in [`cache_dir`]. Atomic (a reader sees the old or the new record) but
/// not flushed: a record lost in a power cut only costs a read of the log. Not through
/// `write_derived`, whose crash points belong to the writes the crash tests name. A failure
/// only costs the next reader a read, so it is not an error.
pub(super) fn write_cache(path: &Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else {
        return;
    };
    let write = |dir: &Path| {
        let mut tmp = tempfile::Builder::new()
            .prefix(".gz-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.persist(path).map(drop).map_err(|e| e.error)
    };
    if write(dir).is_err() && fs::create_dir_all(dir).is_ok() {
        let _cache_only = write(dir);
    }
}

/// Drops every append record and state index (a guard that ended uncleanly: see
/// [`Tail::load`]).
pub fn forget_tails(local: &Path) {
    let _cache_only = fs::remove_dir_all(cache_dir(local));
}

/// The [`Stamp`] of every record in [`cache_dir`]. A guard takes it before its agent starts;
/// see [`forget_tails_changed_since`].
pub(super) type TailsSnapshot = std::collections::BTreeMap<std::ffi::OsString, Stamp>;

/// [`TailsSnapshot`] of `local`'s records now.
pub(super) fn tails_snapshot(local: &Path) -> TailsSnapshot {
    let Ok(entries) = fs::read_dir(cache_dir(local)) else {
        return TailsSnapshot::new();
    };
    entries
        .flatten()
        .filter_map(|e| Some((e.file_name(), Stamp::of(&e.metadata().ok()?))))
        .collect()
}

/// Drops the records that are not exactly as `before` found them: any the agent of the guard
/// that took `before` could have written. One left untouched was written by godzilla before
/// that agent started, and still says what it said (its change time cannot be set back), so
/// the next append after the guard need not read the whole log again. A record godzilla
/// itself wrote meanwhile (a control command from another terminal) goes too: it only costs a
/// read of its log.
pub(super) fn forget_tails_changed_since(local: &Path, before: &TailsSnapshot) {
    let now = tails_snapshot(local);
    for (name, stamp) in &now {
        if before.get(name) != Some(stamp) {
            let _cache_only = fs::remove_file(cache_dir(local).join(name));
        }
    }
}

/// Reads a log; a missing file is an empty log.
pub fn read(path: &Path) -> Result<LogRead, Error> {
    let Some(bytes) = super::read_optional(path)? else {
        return Ok(parse(b""));
    };
    Ok(parse(&bytes))
}

/// Parses log content.
pub fn parse(bytes: &[u8]) -> LogRead {
    LogRead {
        sha256: digest(bytes),
        ..parse_unhashed(bytes)
    }
}

/// One line of a log: text when the whole log is valid UTF-8.
#[derive(Clone, Copy)]
enum Line<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// Parses log content without hashing it (`sha256` left empty): for a reader that only folds.
pub fn parse_unhashed(bytes: &[u8]) -> LogRead {
    let mut out = LogRead {
        len: bytes.len() as u64,
        ..Default::default()
    };
    let complete = bytes.ends_with(b"\n") || bytes.is_empty();
    // A log that is valid UTF-8 as a whole (every log godzilla wrote) is checked once here
    // rather than string by string in each line's parse (#13: the full fold of 200,000
    // events); a log with a bad byte anywhere is parsed line by line from bytes.
    let text = std::str::from_utf8(bytes).ok();
    let lines: Vec<Line> = match text {
        Some(text) => text.split('\n').map(Line::Text).collect(),
        None => bytes.split(|b| *b == b'\n').map(Line::Bytes).collect(),
    };
    // `split` yields a final empty piece after a trailing newline; drop it.
    let count = if complete {
        lines.len().saturating_sub(1)
    } else {
        lines.len()
    };
    out.events.reserve(count);
    for (i, line) in lines.iter().take(count).enumerate() {
        let number = i + 1;
        let is_last_partial = !complete && number == count;
        let (blank, parsed) = match *line {
            Line::Text(line) => (
                line.bytes().all(|b| b.is_ascii_whitespace()),
                serde_json::from_str::<Event>(line),
            ),
            Line::Bytes(line) => (
                line.iter().all(u8::is_ascii_whitespace),
                serde_json::from_slice::<Event>(line),
            ),
        };
        if blank && !is_last_partial {
            continue;
        }
        match parsed {
            Ok(event) if !is_last_partial => out.events.push(event),
            Ok(_) => out.problems.push(LogProblem::Torn {
                line: number,
                parses: true,
            }),
            Err(_) if is_last_partial => {
                out.problems.push(LogProblem::Torn {
                    line: number,
                    parses: false,
                });
            }
            Err(e) => out.problems.push(LogProblem::Invalid {
                line: number,
                message: e.to_string(),
            }),
        }
    }
    out
}

/// Appends `event` as one line and makes it durable before returning.
///
/// Refuses to append after a torn line, which would glue the new event onto garbage.
pub fn append(path: &Path, event: &Event) -> Result<(), Error> {
    let (file, new_dir) = write_line(path, event)?;
    file.sync_data().map_err(|e| Error::io(path, e))?;
    if let Some(dir) = new_dir {
        super::sync_dir(&dir)?;
    }
    crate::fault::point("events.append.after_fsync");
    Ok(())
}

/// [`append`], returning as soon as the line is written: its flush runs behind (see
/// [`crate::fsio::flush_behind`]), and the event counts once the caller has waited for it.
pub fn append_flushing(path: &Path, event: &Event) -> Result<crate::fsio::Flushing, Error> {
    let (file, new_dir) = write_line(path, event)?;
    Ok(crate::fsio::flush_behind(path, file, new_dir))
}

/// Writes `event`'s line at the end of the log, unflushed; returns the open log and, for a
/// log it created, its directory (whose entry must be flushed too).
fn write_line(path: &Path, event: &Event) -> Result<(File, Option<PathBuf>), Error> {
    super::check_no_symlinks(path)?;
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1))
            .and_then(|_| file.read_exact(&mut last))
            .map_err(|e| Error::io(path, e))?;
        if last[0] != b'\n' {
            let lines = fs::read(path)
                .map_err(|e| Error::io(path, e))?
                .split(|b| *b == b'\n')
                .count();
            return Err(Error::TornLog {
                path: path.to_path_buf(),
                line: lines,
            });
        }
    }
    let mut line = event.to_line().into_bytes();
    line.push(b'\n');
    crate::fault::point("events.append.before_write");
    if crate::fault::is_armed("events.append.torn") {
        // Simulates a power cut halfway through the write.
        let _partial = file
            .write_all(&line[..line.len() / 2])
            .and_then(|()| file.sync_data());
        std::process::abort();
    }
    file.write_all(&line).map_err(|e| Error::io(path, e))?;
    crate::fault::point("events.append.before_fsync");
    // A new log's name is made durable with it.
    let dir = (len == 0)
        .then(|| path.parent().map(Path::to_path_buf))
        .flatten();
    Ok((file, dir))
}

/// Mends a torn last line: completes it when the text is a whole event (only the newline was
/// lost), otherwise cuts it off. Returns what it did, or `None` when the log was whole.
pub fn repair_torn(path: &Path) -> Result<Option<String>, Error> {
    let Some(bytes) = super::read_optional(path)? else {
        return Ok(None);
    };
    let read = parse(&bytes);
    let Some(LogProblem::Torn { line, parses }) = read
        .problems
        .iter()
        .find(|p| matches!(p, LogProblem::Torn { .. }))
        .cloned()
    else {
        return Ok(None);
    };
    let cut = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut fixed = bytes[..cut].to_vec();
    let what = if parses {
        fixed.extend_from_slice(&bytes[cut..]);
        fixed.push(b'\n');
        format!("completed the partial line {line}")
    } else {
        format!(
            "removed the partial line {line} ({} bytes, never acknowledged)",
            bytes.len() - cut
        )
    };
    super::write_atomic(path, &fixed)?;
    Ok(Some(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventKind;

    fn ev(lamport: u64) -> Event {
        Event::new(
            lamport,
            "t".into(),
            None,
            None,
            EventKind::ProjectInitialized,
            "m".into(),
            Default::default(),
            lamport,
        )
    }

    #[test]
    fn append_read_and_torn_detection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        append(&path, &ev(1)).unwrap();
        append(&path, &ev(2)).unwrap();
        assert_eq!(read(&path).unwrap().events.len(), 2);

        let mut bytes = fs::read(&path).unwrap();
        let good = bytes.len();
        bytes.extend_from_slice(&ev(3).to_line().as_bytes()[..10]);
        crate::services::platform::storage::write_atomic(&path, &bytes).unwrap();
        let r = read(&path).unwrap();
        assert_eq!(r.events.len(), 2);
        assert_eq!(
            r.problems,
            vec![LogProblem::Torn {
                line: 3,
                parses: false
            }]
        );
        assert!(matches!(
            append(&path, &ev(4)),
            Err(Error::TornLog { line: 3, .. })
        ));
        assert!(repair_torn(&path).unwrap().unwrap().contains("removed"));
        assert_eq!(fs::read(&path).unwrap().len(), good);
        assert_eq!(repair_torn(&path).unwrap(), None);
    }

    #[test]
    fn missing_newline_on_a_whole_event_is_completed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        crate::services::platform::storage::write_atomic(&path, ev(1).to_line().as_bytes())
            .unwrap();
        assert_eq!(
            read(&path).unwrap().problems,
            vec![LogProblem::Torn {
                line: 1,
                parses: true
            }]
        );
        repair_torn(&path).unwrap();
        assert_eq!(read(&path).unwrap().events.len(), 1);
    }

    #[test]
    fn test_events_resumable_sha256_matches_sha256() {
        let bytes: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
        for len in 0..bytes.len() {
            for cut in [0, len / 3, len] {
                let (state, rest) = Sha256State::new().advanced(&bytes[..cut]);
                let mut more = rest.to_vec();
                more.extend_from_slice(&bytes[cut..len]);
                assert_eq!(
                    state.finish(&more),
                    digest(&bytes[..len]),
                    "len {len} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn test_events_tail_is_trusted_only_while_the_log_is_what_the_append_left() {
        let dir = tempfile::tempdir().unwrap();
        let (local, path) = (dir.path().join("local"), dir.path().join("events.jsonl"));
        assert!(Tail::load(&local, &path).is_none());
        let mut tail = Tail::of_bytes(b"", 0, None);
        for lamport in 1..=40 {
            let event = ev(lamport);
            let next = tail.after(&event, None);
            append(&path, &event).unwrap();
            next.store(&local, &path);
            tail = Tail::load(&local, &path).expect("the append just recorded it");
            let bytes = fs::read(&path).unwrap();
            assert_eq!((tail.len(), tail.lamport), (bytes.len() as u64, lamport));
            assert_eq!(tail.sha256, digest(&bytes));
        }
        // An edit that keeps the size and the last line is still seen (the change time moved).
        let mut bytes = fs::read(&path).unwrap();
        bytes[2] = if bytes[2] == b'x' { b'y' } else { b'x' };
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        assert!(Tail::load(&local, &path).is_none());
    }

    #[test]
    fn test_events_tail_is_ignored_while_a_guard_runs_and_forgotten_after() {
        let dir = tempfile::tempdir().unwrap();
        let (local, path) = (dir.path().join("local"), dir.path().join("events.jsonl"));
        let event = ev(1);
        let next = Tail::of_bytes(b"", 0, None).after(&event, None);
        append(&path, &event).unwrap();
        next.clone().store(&local, &path);
        assert!(Tail::load(&local, &path).is_some());
        let guard = super::super::ledger::Ledger::open(&local, "t").unwrap();
        assert!(Tail::load(&local, &path).is_none());
        drop(guard);
        // Untouched while the guard ran: still the record the append left.
        assert!(Tail::load(&local, &path).is_some());
        // Rewritten while a guard runs (by its agent, or anyone): forgotten after.
        let guard = super::super::ledger::Ledger::open(&local, "t").unwrap();
        let record = tail_record_path(&local, &path);
        let bytes = fs::read(&record).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_cache(&record, &bytes);
        write_cache(&cache_dir(&local).join("planted.json"), b"{}");
        drop(guard);
        assert!(Tail::load(&local, &path).is_none());
        assert!(!cache_dir(&local).join("planted.json").exists());
        // A guard that never ended cleanly (no snapshot to compare with) forgets them all.
        next.store(&local, &path);
        assert!(Tail::load(&local, &path).is_some());
        forget_tails(&local);
        assert!(Tail::load(&local, &path).is_none());
    }

    #[test]
    fn test_events_tail_record_is_rewritten_in_place_and_a_torn_one_is_not_trusted() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (local, path) = (dir.path().join("local"), dir.path().join("events.jsonl"));
        let first = ev(1);
        let tail = Tail::of_bytes(b"", 0, None).after(&first, None);
        append(&path, &first).unwrap();
        tail.clone().store(&local, &path);
        let record = tail_record_path(&local, &path);
        let inode = fs::metadata(&record).unwrap().ino();
        let second = ev(2);
        let tail = tail.after(&second, None);
        append(&path, &second).unwrap();
        tail.store(&local, &path);
        assert_eq!(fs::metadata(&record).unwrap().ino(), inode, "no new file");
        let loaded = Tail::load(&local, &path).expect("the record of the last append");
        assert_eq!(loaded.len(), fs::metadata(&path).unwrap().len());
        // Cut short (a crash, or a reader in the middle of the write), or one byte changed:
        // not trusted, so the log is read instead.
        let bytes = fs::read(&record).unwrap();
        let torn = fs::OpenOptions::new().write(true).open(&record).unwrap();
        torn.set_len(bytes.len() as u64 / 2).unwrap();
        assert!(Tail::load(&local, &path).is_none());
        let mut flipped = bytes.clone();
        let at = flipped.len() - 3;
        flipped[at] ^= 1;
        fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&record)
            .unwrap()
            .write_all(&flipped)
            .unwrap();
        assert!(Tail::load(&local, &path).is_none());
    }

    #[test]
    fn test_events_tail_records_are_kept_in_process_only_while_their_file_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (local, path) = (dir.path().join("local"), dir.path().join("events.jsonl"));
        let first = ev(1);
        let tail = Tail::of_bytes(b"", 0, None).after(&first, None);
        append(&path, &first).unwrap();
        tail.store(&local, &path);
        let record = tail_record_path(&local, &path);
        let recent = || {
            fs::metadata(&record)
                .ok()
                .and_then(|m| Recent::get(&record, &m))
        };
        // Written here: served from the process without a read.
        let kept = recent().expect("the record this process wrote");
        assert_eq!(kept.lamport, 1);
        // Rewritten by someone else with the same bytes: the file's stamp moved, so it is read
        // again (and kept as read).
        let bytes = fs::read(&record).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::OpenOptions::new()
            .write(true)
            .open(&record)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        assert!(recent().is_none());
        assert_eq!(Tail::load(&local, &path).unwrap().lamport, 1);
        assert!(recent().is_some());
        // Removed (a guard's end forgets it): nothing served.
        fs::remove_file(&record).unwrap();
        assert!(recent().is_none());
        assert!(Tail::load(&local, &path).is_none());
    }

    #[test]
    fn invalid_middle_line_is_reported() {
        let r = parse(b"{\"nope\":1}\n");
        assert!(matches!(r.problems[0], LogProblem::Invalid { line: 1, .. }));
    }
}
