//! Repositories over the file layout: project, protocol, step and event data, with the
//! invariant-keeping helpers the seed asks for ("append event and update status atomically").

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::events::{self, LogProblem};
use super::{Error, Store, write_atomic};
use crate::domain::event::Effect;
use crate::domain::{Event, EventKind, ProtocolId, ProtocolState, StepId, fold, fold_next};
use crate::fsio::Flushing;

/// `protocols/ID/protocol.toml`: what a protocol is, written once at creation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolHeader {
    /// The protocol id (`NNNN-slug`).
    pub id: ProtocolId,
    /// What the user asked for.
    pub description: String,
    /// Branch it started from.
    pub base_branch: String,
    /// Its own branch.
    pub branch: String,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Where its steps came from: `manual`, `plan`, `codemachine`, `speckit`.
    pub source: String,
}

/// `protocols/ID/status.json`: the fold of the log, cached. Never the source of truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolView {
    /// Layout version of this file.
    pub format: u32,
    /// Size of `events.jsonl` when the view was written.
    pub log_bytes: u64,
    /// sha256 of `events.jsonl` when the view was written; the view is used only when the log
    /// still has this hash (an edit that keeps the size must not leave a stale status).
    #[serde(default)]
    pub log_sha256: String,
    /// The folded state.
    pub state: ProtocolState,
}

/// A protocol's state as loaded, with how it was obtained.
#[derive(Clone, Debug)]
pub struct LoadedState {
    /// The state.
    pub state: ProtocolState,
    /// True when the cached view matched the log and the log was not read.
    pub from_view: bool,
    /// Problems found in the log when it had to be read.
    pub problems: Vec<LogProblem>,
}

/// How [`ProtocolRepository::load_state_with`] reads a protocol's state.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// Leave the log's tail record (a file per log) for the next reader. A reader of every
    /// protocol keeps what it learned in the state index instead: creating a thousand files
    /// costs more than the folds they save.
    pub remember: bool,
    /// The caller made sure that no component of the log's path is a symbolic link.
    pub path_checked: bool,
}

/// Project-level data: format, config, project events.
pub struct ProjectRepository;

impl ProjectRepository {
    /// Whether `.godzilla/format` exists.
    pub fn is_initialized(store: &Store) -> bool {
        store.format_path().exists()
    }
}

/// Protocol directories, headers and views.
pub struct ProtocolRepository;

/// A directory under `protocols/` whose name is not a protocol id.
#[derive(Debug)]
pub struct BadEntry {
    /// Its path.
    pub path: PathBuf,
    /// Why it was refused.
    pub reason: String,
}

impl ProtocolRepository {
    /// Every protocol directory, in id order, plus entries that are not valid protocols.
    pub fn list(store: &Store) -> Result<(Vec<ProtocolId>, Vec<BadEntry>), Error> {
        let dir = store.protocols_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
            Err(e) => return Err(Error::io(dir, e)),
        };
        let (mut ids, mut bad) = (Vec::new(), Vec::new());
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let name = entry.file_name();
            let file_type = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if file_type.is_symlink() {
                bad.push(BadEntry {
                    path,
                    reason: "is a symbolic link; protocol folders must be real directories".into(),
                });
                continue;
            }
            if !file_type.is_dir() {
                continue;
            }
            match name.to_str().map(ProtocolId::parse) {
                Some(Ok(id)) => ids.push(id),
                Some(Err(e)) => bad.push(BadEntry {
                    path,
                    reason: e.to_string(),
                }),
                None => bad.push(BadEntry {
                    path,
                    reason: "name is not UTF-8".into(),
                }),
            }
        }
        ids.sort();
        Ok((ids, bad))
    }

    /// `protocols/ID/protocol.toml`.
    pub fn header_path(store: &Store, id: &ProtocolId) -> PathBuf {
        store.protocol_dir(id).join("protocol.toml")
    }

    /// `protocols/ID/status.json`.
    pub fn view_path(store: &Store, id: &ProtocolId) -> PathBuf {
        store.protocol_dir(id).join("status.json")
    }

    /// `protocols/ID/spec.json`.
    pub fn spec_path(store: &Store, id: &ProtocolId) -> PathBuf {
        store.protocol_dir(id).join("spec.json")
    }

    /// `protocols/ID/plan.md`.
    pub fn plan_path(store: &Store, id: &ProtocolId) -> PathBuf {
        store.protocol_dir(id).join("plan.md")
    }

    /// `protocols/ID/runs/RUN.json`: one immutable record per attempt.
    pub fn run_path(store: &Store, id: &ProtocolId, run: &str) -> PathBuf {
        store
            .protocol_dir(id)
            .join("runs")
            .join(format!("{run}.json"))
    }

    /// `protocols/ID/outputs/STEP.md`: the step's final engine message.
    pub fn output_path(store: &Store, id: &ProtocolId, step: &StepId) -> PathBuf {
        store
            .protocol_dir(id)
            .join("outputs")
            .join(format!("{step}.md"))
    }

    /// `protocols/ID/qa/RUN.md`: a QA report.
    pub fn qa_report_path(store: &Store, id: &ProtocolId, run: &str) -> PathBuf {
        store.protocol_dir(id).join("qa").join(format!("{run}.md"))
    }

    /// `protocols/ID/events.jsonl`.
    pub fn events_path(store: &Store, id: &ProtocolId) -> PathBuf {
        store.protocol_dir(id).join("events.jsonl")
    }

    /// Reads the header.
    pub fn load_header(store: &Store, id: &ProtocolId) -> Result<ProtocolHeader, Error> {
        let path = Self::header_path(store, id);
        super::check_no_symlinks(&path)?;
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        toml::from_str(&text).map_err(|source| Error::Toml {
            path,
            source: Box::new(source),
        })
    }

    /// Writes the header (atomically).
    pub fn write_header(store: &Store, header: &ProtocolHeader) -> Result<(), Error> {
        let text = toml::to_string(header).unwrap_or_default();
        write_atomic(&Self::header_path(store, &header.id), text.as_bytes())
    }

    /// Reads the cached view; `Ok(None)` when absent.
    pub fn load_view(store: &Store, id: &ProtocolId) -> Result<Option<ProtocolView>, Error> {
        let path = Self::view_path(store, id);
        let Some(bytes) = super::read_optional(&path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Json {
                path,
                line: None,
                source,
            })
    }

    /// Writes the view for `state`, recording the size and hash of the log it reflects.
    pub fn write_view(
        store: &Store,
        state: &ProtocolState,
        log_bytes: u64,
        log_sha256: &str,
    ) -> Result<(), Error> {
        let view = ProtocolView {
            format: super::FORMAT,
            log_bytes,
            log_sha256: log_sha256.to_owned(),
            state: state.clone(),
        };
        let mut text = serde_json::to_vec_pretty(&view).unwrap_or_default();
        text.push(b'\n');
        // A view is derived from the log: atomic, but not worth a flush (see write_derived).
        super::write_derived(&Self::view_path(store, &state.protocol), &text)
    }

    /// Folds the log and rewrites the view (after a run that deferred it).
    pub fn refresh_view(store: &Store, id: &ProtocolId) -> Result<(), Error> {
        let _lock = store.lock_protocol(id)?;
        let log_path = Self::events_path(store, id);
        super::check_no_symlinks(&log_path)?;
        let bytes = super::read_optional(&log_path)?.unwrap_or_default();
        let read = events::parse(&bytes);
        let state = fold(id, &read.events);
        let lamport = read.events.iter().map(|e| e.lamport).max().unwrap_or(0);
        if read.problems.is_empty() {
            events::Tail::of_bytes(&bytes, lamport, Some(state.clone()))
                .store(store.local_dir(), &log_path);
        }
        Self::write_view(store, &state, read.len, &read.sha256)
    }

    /// The protocol's state: from the view when it was written for a log with the same hash,
    /// else folded from the log. A broken or stale view never hides the log's truth.
    pub fn load_state(store: &Store, id: &ProtocolId) -> Result<LoadedState, Error> {
        Self::load_state_with(
            store,
            id,
            LoadOptions {
                remember: true,
                path_checked: false,
            },
        )
    }

    /// [`Self::load_state`] as `how` says.
    pub fn load_state_with(
        store: &Store,
        id: &ProtocolId,
        how: LoadOptions,
    ) -> Result<LoadedState, Error> {
        let log_path = Self::events_path(store, id);
        if !how.path_checked {
            super::check_no_symlinks(&log_path)?;
        }
        // The record of the last append, while the log is what that append left, holds the
        // fold without reading the log (#13).
        if let Some(state) = events::Tail::load(store.local_dir(), &log_path)
            .and_then(|t| t.state)
            .filter(|s| &s.protocol == id && s.stop.is_some())
        {
            return Ok(LoadedState {
                state,
                from_view: true,
                problems: Vec::new(),
            });
        }
        let before = fs::metadata(&log_path).ok();
        let bytes = super::read_optional(&log_path)?.unwrap_or_default();
        let remember = |state: &ProtocolState| {
            if let (true, Some(before)) = (how.remember, &before) {
                events::Tail::remember(store.local_dir(), &log_path, before, &bytes, state.clone());
            }
        };
        if let Ok(Some(view)) = Self::load_view(store, id)
            && view.log_bytes == bytes.len() as u64
            && view.log_sha256 == events::digest(&bytes)
            && &view.state.protocol == id
            // A view from before the fold kept its stop facts: fold once, then the tail
            // record holds them.
            && view.state.stop.is_some()
        {
            remember(&view.state);
            return Ok(LoadedState {
                state: view.state,
                from_view: true,
                problems: Vec::new(),
            });
        }
        let read = events::parse_unhashed(&bytes);
        let state = fold(id, &read.events);
        // A log with problems is folded again each time, so that they are reported each time.
        if read.problems.is_empty() {
            remember(&state);
        }
        Ok(LoadedState {
            state,
            from_view: false,
            problems: read.problems,
        })
    }
}

/// Steps' instruction files.
pub struct StepRepository;

impl StepRepository {
    /// `protocols/ID/steps/STEP.md`.
    pub fn step_path(store: &Store, protocol: &ProtocolId, step: &StepId) -> PathBuf {
        store
            .protocol_dir(protocol)
            .join("steps")
            .join(format!("{step}.md"))
    }

    /// Writes a step file.
    pub fn write_step(
        store: &Store,
        protocol: &ProtocolId,
        step: &StepId,
        text: &str,
    ) -> Result<(), Error> {
        write_atomic(&Self::step_path(store, protocol, step), text.as_bytes())
    }
}

/// What to record; the repository adds id, Lamport counter and time.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Step, if any.
    pub step: Option<StepId>,
    /// Type.
    pub kind: EventKind,
    /// One human sentence.
    pub message: String,
    /// Details.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Event logs.
pub struct EventRepository;

impl EventRepository {
    /// Appends a protocol event and updates the protocol's view, under the protocol lock.
    ///
    /// The event is checked against the folded state first: an event the state machine
    /// refuses is an error and nothing is written. The append is acknowledged (durable)
    /// before the view is rewritten; a crash in between leaves a stale view that `status`
    /// sees through and `fsck --repair` rewrites.
    pub fn append_protocol_event(
        store: &Store,
        protocol: &ProtocolId,
        new: NewEvent,
        ts: String,
        nonce: u64,
    ) -> Result<(Event, ProtocolState), Error> {
        let (event, state, ()) =
            Self::append_protocol_event_with(store, protocol, new, ts, nonce, events::append)?;
        Ok((event, state))
    }

    /// [`EventRepository::append_protocol_event`], with the log's flush left running behind:
    /// the event counts once the caller has waited for the returned flush, which it does before
    /// anything that depends on it (the agent it announces starts, the commit that stores it
    /// moves its branch).
    pub fn append_protocol_event_flushing(
        store: &Store,
        protocol: &ProtocolId,
        new: NewEvent,
        ts: String,
        nonce: u64,
    ) -> Result<(Event, ProtocolState, Flushing), Error> {
        Self::append_protocol_event_with(store, protocol, new, ts, nonce, events::append_flushing)
    }

    /// Appends under the protocol's lock, the line written (and flushed, or not) by `append`.
    fn append_protocol_event_with<T>(
        store: &Store,
        protocol: &ProtocolId,
        new: NewEvent,
        ts: String,
        nonce: u64,
        append: fn(&std::path::Path, &Event) -> Result<T, Error>,
    ) -> Result<(Event, ProtocolState, T), Error> {
        let protocol = protocol.clone();
        let _lock = store.lock_protocol(&protocol)?;
        let log_path = ProtocolRepository::events_path(store, &protocol);
        // Under the lock the log is what the last append left, unless something else wrote
        // it: then (or with no record of that append) it is read and folded once.
        let tail = match events::Tail::load(store.local_dir(), &log_path).filter(|t| {
            t.state
                .as_ref()
                .is_some_and(|s| s.protocol == protocol && s.stop.is_some())
        }) {
            Some(tail) => tail,
            None => {
                super::check_no_symlinks(&log_path)?;
                let bytes = super::read_optional(&log_path)?.unwrap_or_default();
                let read = events::parse(&bytes);
                if let Some(LogProblem::Torn { line, .. }) = read
                    .problems
                    .iter()
                    .find(|p| matches!(p, LogProblem::Torn { .. }))
                {
                    return Err(Error::TornLog {
                        path: log_path,
                        line: *line,
                    });
                }
                let lamport = read.events.iter().map(|e| e.lamport).max().unwrap_or(0);
                events::Tail::of_bytes(&bytes, lamport, Some(fold(&protocol, &read.events)))
            }
        };
        let before = tail.state.clone().unwrap_or_else(|| fold(&protocol, []));
        let lamport = before.lamport + 1;
        let event = Event::new(
            lamport,
            ts,
            Some(protocol.clone()),
            new.step,
            new.kind,
            new.message,
            new.metadata,
            nonce,
        );
        // The new event sorts after every folded one (higher Lamport counter, new id), so
        // folding it onto the state is the fold of the whole log.
        let after = fold_next(&before, &event);
        if after.anomalies.len() > before.anomalies.len() && new.kind.effect() != Effect::None {
            // The anomaly names the event by id, which means nothing to the person who asked.
            let anomaly = after.anomalies.last().cloned().unwrap_or_default();
            let why = anomaly
                .split_once("): ")
                .map_or(anomaly.as_str(), |(_, w)| w);
            let message = format!("{} refused: {why}", new.kind);
            return Err(Error::Transition { protocol, message });
        }
        if tail.is_empty() {
            super::create_dir(&store.protocol_dir(&protocol))?;
        }
        super::ledger::record(store.local_dir(), &log_path, event.to_line().as_bytes())?;
        let appended = append(&log_path, &event)?;
        // The tail and the view below are derived: a crash before the flush ends loses them
        // with the line, or keeps them for a line `fsck` then finds.
        let next = tail.after(&event, Some(after.clone()));
        let (len, sha256) = (next.len(), next.sha256.clone());
        next.store(store.local_dir(), &log_path);
        if !store.defers_views() {
            ProtocolRepository::write_view(store, &after, len, &sha256)?;
        }
        Ok((event, after, appended))
    }

    /// Appends a project-level event to `.godzilla/events.jsonl`, under the project lock.
    pub fn append_project_event(
        store: &Store,
        new: NewEvent,
        ts: String,
        nonce: u64,
    ) -> Result<Event, Error> {
        let _lock = store.lock_project()?;
        let path = store.project_events_path();
        let tail = match events::Tail::load(store.local_dir(), &path) {
            Some(tail) => tail,
            None => {
                super::check_no_symlinks(&path)?;
                let bytes = super::read_optional(&path)?.unwrap_or_default();
                let lamport = events::parse(&bytes)
                    .events
                    .iter()
                    .map(|e| e.lamport)
                    .max()
                    .unwrap_or(0);
                events::Tail::of_bytes(&bytes, lamport, None)
            }
        };
        let lamport = tail.lamport + 1;
        let event = Event::new(
            lamport,
            ts,
            None,
            new.step,
            new.kind,
            new.message,
            new.metadata,
            nonce,
        );
        super::ledger::record(store.local_dir(), &path, event.to_line().as_bytes())?;
        events::append(&path, &event)?;
        tail.after(&event, None).store(store.local_dir(), &path);
        Ok(event)
    }
}
