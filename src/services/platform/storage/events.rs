//! Append-only JSON-lines event logs.
//!
//! An append writes one whole line and fsyncs before returning: that return is the
//! acknowledgement. A crash mid-append leaves at most a partial last line, which reading
//! reports as [`LogProblem::Torn`] and `fsck --repair` mends; it is never a panic.

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::Error;
use crate::domain::Event;

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

/// Reads a log; a missing file is an empty log.
pub fn read(path: &Path) -> Result<LogRead, Error> {
    let Some(bytes) = super::read_optional(path)? else {
        return Ok(parse(b""));
    };
    Ok(parse(&bytes))
}

/// Parses log content.
pub fn parse(bytes: &[u8]) -> LogRead {
    let mut out = LogRead {
        len: bytes.len() as u64,
        sha256: digest(bytes),
        ..Default::default()
    };
    let complete = bytes.ends_with(b"\n") || bytes.is_empty();
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // `split` yields a final empty piece after a trailing newline; drop it.
    let count = if complete {
        lines.len().saturating_sub(1)
    } else {
        lines.len()
    };
    for (i, line) in lines.iter().take(count).enumerate() {
        let number = i + 1;
        let is_last_partial = !complete && number == count;
        if line.iter().all(u8::is_ascii_whitespace) && !is_last_partial {
            continue;
        }
        match serde_json::from_slice::<Event>(line) {
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
    file.sync_data().map_err(|e| Error::io(path, e))?;
    if len == 0
        && let Some(dir) = path.parent()
    {
        super::sync_dir(dir)?;
    }
    crate::fault::point("events.append.after_fsync");
    Ok(())
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
    fn invalid_middle_line_is_reported() {
        let r = parse(b"{\"nope\":1}\n");
        assert!(matches!(r.problems[0], LogProblem::Invalid { line: 1, .. }));
    }
}
