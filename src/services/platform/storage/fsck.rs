//! `fsck`: parse every state file, fold every log, compare each view with its fold; with
//! `repair`, mend torn log lines and rewrite stale views, and say what changed.
//!
//! Without `repair` it writes nothing, so running it on a damaged repository leaves every
//! file byte-identical.

use serde::Serialize;

use super::events::{self, LogProblem};
use super::repo::{EventRepository, NewEvent, ProtocolRepository};
use super::{Error, Store};
use crate::domain::{EventKind, ProtocolId, ProtocolState, fold};

const HEADER_WHY: &str = "protocol.toml is written once, when the protocol is created: restore it from git (`git log -p -- FILE`)";

/// One finding.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the working tree.
    pub file: String,
    /// Line or field, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Whether `--repair` can fix it.
    pub repairable: bool,
    /// Why `--repair` leaves it alone, and what to do instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unrepairable: Option<String>,
    /// What `--repair` did about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repaired: Option<String>,
}

/// The outcome of a check.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FsckReport {
    /// Protocols examined.
    pub protocols: usize,
    /// Distinct events folded.
    pub events: u64,
    /// Problems: anything that makes the state inconsistent.
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not inconsistencies (e.g. events a merge made moot).
    pub warnings: Vec<Problem>,
}

impl FsckReport {
    /// Problems not repaired by this run.
    pub fn unresolved(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.repaired.is_none())
            .count()
    }
}

/// Stamps for events fsck records when it repairs something.
pub struct Stamp<'a> {
    /// Current time, RFC 3339.
    pub ts: String,
    /// Nonce source.
    pub nonce: &'a dyn Fn() -> u64,
}

/// Checks the store, repairing what can be repaired when `repair` is set.
///
/// A missing or future `format` is an error, not a finding: nothing else can be trusted then.
pub fn check(
    store: &Store,
    only: Option<&ProtocolId>,
    repair: Option<Stamp<'_>>,
) -> Result<FsckReport, Error> {
    store.check_format()?;
    let mut report = FsckReport::default();
    let rel = |p: &std::path::Path| store.display(p).into_owned();

    if let Err(err) = store.load_config().or_else(|e| match e {
        // Reported with every other link by the walk below.
        Error::Symlink { .. } => Ok(Default::default()),
        other => Err(other),
    }) {
        let message = match &err {
            Error::Toml { source, .. } => source.to_string().trim().to_owned(),
            other => other.to_string(),
        };
        report.problems.push(Problem {
            file: rel(&store.project_config_path()),
            location: None,
            message,
            repairable: false,
            unrepairable: Some(
                "the config is written by people: fix what the message names".into(),
            ),
            repaired: None,
        });
    }

    if only.is_none() {
        let path = store.project_events_path();
        let read = match events::read(&path) {
            Err(Error::Symlink { .. }) => Default::default(),
            other => other?,
        };
        for p in read.problems {
            let mut problem = log_problem(&rel(&path), &p);
            if repair.is_some() && problem.repairable {
                problem.repaired = events::repair_torn(&path)?;
            }
            report.problems.push(problem);
        }
    }

    let mut dirs = vec![store.state_dir().to_path_buf()];
    if let Some(id) = only {
        dirs = vec![store.protocol_dir(id)];
    }
    for dir in dirs {
        leftover_temp_files(store, &dir, repair.is_some(), &mut report)?;
    }

    let (ids, bad) = ProtocolRepository::list(store)?;
    for entry in bad {
        report.problems.push(Problem {
            file: rel(&entry.path),
            location: None,
            message: entry.reason,
            repairable: false,
            unrepairable: Some(
                "godzilla did not make it and will not guess what it is: rename or remove it"
                    .into(),
            ),
            repaired: None,
        });
    }
    if let Some(id) = only
        && !ids.contains(id)
    {
        return Err(Error::ProtocolNotFound(id.clone()));
    }
    for id in ids.iter().filter(|id| only.is_none_or(|o| o == *id)) {
        report.protocols += 1;
        match check_protocol(store, id, repair.as_ref(), &mut report) {
            // The walk reported the link; nothing behind it is read.
            Err(Error::Symlink { .. }) => {}
            other => other?,
        }
    }
    Ok(report)
}

/// Temp files of a write that crashed before its rename: harmless (the target still holds
/// the old content) but litter; repair deletes them.
fn leftover_temp_files(
    store: &Store,
    dir: &std::path::Path,
    repair: bool,
    report: &mut FsckReport,
) -> Result<(), Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| Error::io(&path, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if file_type.is_symlink() {
            let target = std::fs::read_link(&path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            report.problems.push(Problem {
                file: store.display(&path).into_owned(),
                location: None,
                message: format!(
                    "is a symbolic link (to {target}); godzilla refuses to read or write through it"
                ),
                repairable: false,
                unrepairable: Some(
                    "a link is never removed for you (what it points to may be data you want): replace it with the real file or directory".into(),
                ),
                repaired: None,
            });
        } else if file_type.is_dir() {
            leftover_temp_files(store, &path, repair, report)?;
        } else if file_type.is_file() && name.starts_with(".gz-") && name.ends_with(".tmp") {
            let mut problem = Problem {
                file: store.display(&path).into_owned(),
                location: None,
                message: "temporary file left by an interrupted write".into(),
                repairable: true,
                unrepairable: None,
                repaired: None,
            };
            if repair {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                problem.repaired = Some("deleted".into());
            }
            report.problems.push(problem);
        }
    }
    Ok(())
}

fn log_problem(file: &str, p: &LogProblem) -> Problem {
    match p {
        LogProblem::Torn { line, parses } => Problem {
            file: file.to_owned(),
            location: Some(format!("line {line}")),
            message: if *parses {
                "last line lacks its newline (a crash while appending)".into()
            } else {
                "last line is partial (a crash while appending)".into()
            },
            repairable: true,
            unrepairable: None,
            repaired: None,
        },
        LogProblem::Invalid { line, message } => Problem {
            file: file.to_owned(),
            location: Some(format!("line {line}")),
            message: format!("not a valid event: {message}"),
            repairable: false,
            unrepairable: Some(
                "an acknowledged event cannot be guessed back: restore the line from git (`git log -p -- FILE`)"
                    .into(),
            ),
            repaired: None,
        },
    }
}

/// A missing or unreadable `protocol.toml` (it cannot be rebuilt).
fn check_header(store: &Store, id: &ProtocolId, report: &mut FsckReport) {
    let rel = |p: &std::path::Path| store.display(p).into_owned();
    let header_path = ProtocolRepository::header_path(store, id);
    if header_path.exists() {
        if let Err(err) = ProtocolRepository::load_header(store, id) {
            let message = match &err {
                Error::Toml { source, .. } => source.to_string().trim().to_owned(),
                other => other.to_string(),
            };
            report.problems.push(Problem {
                file: rel(&header_path),
                location: None,
                message,
                repairable: false,
                unrepairable: Some(HEADER_WHY.into()),
                repaired: None,
            });
        }
    } else {
        report.problems.push(Problem {
            file: rel(&header_path),
            location: None,
            message: "missing".into(),
            repairable: false,
            unrepairable: Some(HEADER_WHY.into()),
            repaired: None,
        });
    }
}

/// What is wrong with the view (`None`: it matches the log): where, and what.
fn view_problem(
    store: &Store,
    id: &ProtocolId,
    state: &ProtocolState,
    read: &events::LogRead,
) -> Result<Option<(Option<String>, String)>, Error> {
    Ok(match ProtocolRepository::load_view(store, id) {
        Ok(None) => Some((None, "missing".to_owned())),
        Err(Error::Json { source, .. }) => Some((
            Some(format!("line {} column {}", source.line(), source.column())),
            format!("unreadable: {source}"),
        )),
        Err(other) => return Err(other),
        Ok(Some(view)) if view.state != *state => Some((
            Some("state".into()),
            "stale: differs from the fold of events.jsonl".into(),
        )),
        Ok(Some(view)) if view.log_bytes != read.len => Some((
            Some("log_bytes".into()),
            format!(
                "stale: records {} bytes of log, the log has {}",
                view.log_bytes, read.len
            ),
        )),
        Ok(Some(view)) if view.log_sha256 != read.sha256 => Some((
            Some("log_sha256".into()),
            "stale: records another hash of the log".into(),
        )),
        Ok(Some(_)) => None,
    })
}

fn check_protocol(
    store: &Store,
    id: &ProtocolId,
    repair: Option<&Stamp<'_>>,
    report: &mut FsckReport,
) -> Result<(), Error> {
    let rel = |p: &std::path::Path| store.display(p).into_owned();
    check_header(store, id, report);

    let mut changes = Vec::new();
    let lock = if repair.is_some() {
        Some(store.lock_protocol(id)?)
    } else {
        None
    };
    let log_path = ProtocolRepository::events_path(store, id);
    let mut read = events::read(&log_path)?;
    for p in &read.problems {
        let mut problem = log_problem(&rel(&log_path), p);
        if repair.is_some() && problem.repairable {
            problem.repaired = events::repair_torn(&log_path)?;
            changes.extend(problem.repaired.clone());
        }
        report.problems.push(problem);
    }
    if !changes.is_empty() {
        read = events::read(&log_path)?;
    }
    let state = fold(id, &read.events);
    report.events += state.events;
    if state.status.is_none() {
        report.problems.push(Problem {
            file: rel(&log_path),
            location: None,
            message: "no protocol_created event".into(),
            repairable: false,
            unrepairable: Some(
                "the log lost its first event: restore it from git (`git log -p -- FILE`)".into(),
            ),
            repaired: None,
        });
    }
    for anomaly in &state.anomalies {
        report.warnings.push(Problem {
            file: rel(&log_path),
            location: None,
            message: format!("skipped {anomaly}"),
            repairable: false,
            unrepairable: None,
            repaired: None,
        });
    }

    let view_path = ProtocolRepository::view_path(store, id);
    let view_problem = view_problem(store, id, &state, &read)?;
    if let Some((location, message)) = view_problem {
        let mut problem = Problem {
            file: rel(&view_path),
            location,
            message,
            repairable: true,
            unrepairable: None,
            repaired: None,
        };
        if repair.is_some() && state.status.is_some() {
            ProtocolRepository::write_view(store, &state, read.len, &read.sha256)?;
            problem.repaired = Some("rebuilt from events.jsonl".into());
            changes.push(format!("rebuilt {}", rel(&view_path)));
        }
        report.problems.push(problem);
    }
    drop(lock);

    if let Some(stamp) = repair
        && !changes.is_empty()
    {
        let mut metadata = serde_json::Map::new();
        metadata.insert("changes".into(), changes.clone().into());
        EventRepository::append_protocol_event(
            store,
            id,
            NewEvent {
                step: None,
                kind: EventKind::Repaired,
                message: format!("fsck repaired: {}", changes.join("; ")),
                metadata,
            },
            stamp.ts.clone(),
            (stamp.nonce)(),
        )?;
    }
    Ok(())
}
