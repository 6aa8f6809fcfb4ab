//! Clarifications: questions that block planning, execution or QA until a person answers.
//!
//! They live in event logs like everything else: `clarification_requested` and
//! `clarification_answered`, in a protocol's log (protocol scope) or in
//! `.godzilla/events.jsonl` (project scope, applying to every protocol). The open ones are
//! folded from those events; answering unblocks the next `protocol run`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::context::Context;
use crate::domain::{Event, EventKind, ProtocolId};
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{self, Store, events};
use crate::services::platform::telemetry;

/// Errors from clarifications.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// No open question has that key.
    #[error("no open clarification `{0}`")]
    Unknown(String),
    /// A key must be a short name.
    #[error("clarification key `{0}` must be 1-64 characters of [a-z0-9_.-]")]
    BadKey(String),
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::Unknown(_) | Self::BadKey(_) => ErrorKind::Usage,
        }
    }
}

/// One question.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Clarification {
    /// `None`: project scope.
    pub protocol: Option<ProtocolId>,
    /// Its key.
    pub key: String,
    /// The question.
    pub question: String,
    /// Whether it stops runs until answered.
    pub blocking: bool,
    /// Options offered, if any.
    pub options: Vec<String>,
    /// The answer, once given.
    pub answer: Option<String>,
}

fn fold(log: &[Event], protocol: Option<&ProtocolId>) -> Vec<Clarification> {
    let mut sorted: Vec<&Event> = log.iter().collect();
    sorted.sort_by(|a, b| Event::log_order(a, b));
    let mut by_key: BTreeMap<String, Clarification> = BTreeMap::new();
    for e in sorted {
        let text = |k: &str| {
            e.metadata
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        match e.kind {
            EventKind::ClarificationRequested => {
                let Some(key) = text("key") else { continue };
                let previous_answer = by_key.get(&key).and_then(|c| c.answer.clone());
                by_key.insert(
                    key.clone(),
                    Clarification {
                        protocol: protocol.cloned(),
                        key,
                        question: text("question").unwrap_or_default(),
                        blocking: e
                            .metadata
                            .get("blocking")
                            .and_then(serde_json::Value::as_bool)
                            .unwrap_or(false),
                        options: e
                            .metadata
                            .get("options")
                            .and_then(|v| v.as_array())
                            .map(|a| {
                                a.iter()
                                    .filter_map(|x| x.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        // Asking again keeps an answer already given.
                        answer: previous_answer,
                    },
                );
            }
            EventKind::ClarificationAnswered => {
                if let (Some(key), Some(answer)) = (text("key"), text("answer"))
                    && let Some(c) = by_key.get_mut(&key)
                {
                    c.answer = Some(answer);
                }
            }
            _ => {}
        }
    }
    by_key.into_values().collect()
}

/// Every clarification of the project and of `protocol` (if given).
pub fn list(store: &Store, protocol: Option<&ProtocolId>) -> Result<Vec<Clarification>, Error> {
    let mut all = fold(&asking_events(&store.project_events_path())?, None);
    if let Some(p) = protocol {
        all.extend(fold(
            &asking_events(&ProtocolRepository::events_path(store, p))?,
            Some(p),
        ));
    }
    Ok(all)
}

/// The events of the log at `path`, or none without parsing a line when the log asks no
/// question: a protocol run asks for open questions each round, and parsing both logs whole
/// each time made a run's cost grow with the square of its steps (#13). An event's type is
/// written as is; a line that spells it with escapes (`\u0063…`, which godzilla never writes)
/// sends the log to the parser, so the shortcut hides no question.
fn asking_events(path: &std::path::Path) -> Result<Vec<Event>, Error> {
    let Some(bytes) = storage::read_optional(path)? else {
        return Ok(Vec::new());
    };
    let asks = |needle: &[u8]| memchr::memmem::find(&bytes, needle).is_some();
    if !asks(b"clarification_requested") && !asks(b"\\u") {
        return Ok(Vec::new());
    }
    Ok(events::parse_unhashed(&bytes).events)
}

/// Keys of the blocking questions without an answer that stop `protocol`.
pub fn open_blocking(store: &Store, protocol: &ProtocolId) -> Result<Vec<String>, Error> {
    Ok(list(store, Some(protocol))?
        .into_iter()
        .filter(|c| c.blocking && c.answer.is_none())
        .map(|c| c.key)
        .collect())
}

fn check_key(key: &str) -> Result<(), Error> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::BadKey(key.to_owned()))
    }
}

/// Asks a question (again: the answer, if any, is kept).
pub fn ask(
    ctx: &Context,
    store: &Store,
    protocol: Option<&ProtocolId>,
    key: &str,
    question: &str,
    blocking: bool,
    options: &[String],
) -> Result<(), Error> {
    check_key(key)?;
    let mut meta = serde_json::Map::new();
    meta.insert("key".into(), key.into());
    meta.insert("question".into(), question.into());
    meta.insert("blocking".into(), blocking.into());
    if !options.is_empty() {
        meta.insert("options".into(), options.to_vec().into());
    }
    let message = format!("question {key}: {question}");
    match protocol {
        Some(p) => telemetry::log_protocol_event(
            ctx,
            store,
            p,
            None,
            EventKind::ClarificationRequested,
            message,
            meta,
        )
        .map(|_| ())?,
        None => telemetry::log_project_event(
            ctx,
            store,
            EventKind::ClarificationRequested,
            message,
            meta,
        )
        .map(|_| ())?,
    }
    Ok(())
}

/// Answers an open question (of `protocol`, or of the project).
pub fn answer(
    ctx: &Context,
    store: &Store,
    protocol: Option<&ProtocolId>,
    key: &str,
    value: &str,
) -> Result<Clarification, Error> {
    let all = list(store, protocol)?;
    let found = all
        .iter()
        .rev()
        .find(|c| c.key == key)
        .cloned()
        .ok_or_else(|| Error::Unknown(key.to_owned()))?;
    let mut meta = serde_json::Map::new();
    meta.insert("key".into(), key.into());
    meta.insert("answer".into(), value.into());
    let message = format!("answered {key}: {value}");
    match &found.protocol {
        Some(p) => telemetry::log_protocol_event(
            ctx,
            store,
            p,
            None,
            EventKind::ClarificationAnswered,
            message,
            meta,
        )
        .map(|_| ())?,
        None => telemetry::log_project_event(
            ctx,
            store,
            EventKind::ClarificationAnswered,
            message,
            meta,
        )
        .map(|_| ())?,
    }
    Ok(Clarification {
        answer: Some(value.to_owned()),
        ..found
    })
}
