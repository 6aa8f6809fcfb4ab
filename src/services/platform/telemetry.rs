//! The telemetry service: records protocol events (the catalogue is
//! [`crate::domain::EventKind`], the one list of event names) and sets up `tracing` logs.
//!
//! Events go through the storage service; this module adds time, nonce and a log line.

use serde_json::{Map, Value};

use crate::context::Context;
use crate::domain::{Event, EventKind, ProtocolId, ProtocolState, StepId};
use crate::services::platform::storage::repo::{EventRepository, NewEvent};
use crate::services::platform::storage::{self, Store};

/// Records an event for a protocol (and step) and returns it with the protocol's new state.
///
/// Refused when the event's transition is illegal in the current state: nothing is written.
pub fn log_protocol_event(
    ctx: &Context,
    store: &Store,
    protocol: &ProtocolId,
    step: Option<&StepId>,
    kind: EventKind,
    message: impl Into<String>,
    metadata: Map<String, Value>,
) -> Result<(Event, ProtocolState), storage::Error> {
    let new = NewEvent {
        step: step.cloned(),
        kind,
        message: message.into(),
        metadata,
    };
    let (event, state) = EventRepository::append_protocol_event(
        store,
        protocol,
        new,
        ctx.clock.now_rfc3339(),
        ctx.ids.next_u64(),
    )?;
    tracing::debug!(protocol = %protocol, step = ?event.step, kind = %kind, id = %event.id, "event recorded");
    Ok((event, state))
}

/// Records a project-level event in `.godzilla/events.jsonl`.
pub fn log_project_event(
    ctx: &Context,
    store: &Store,
    kind: EventKind,
    message: impl Into<String>,
    metadata: Map<String, Value>,
) -> Result<Event, storage::Error> {
    let new = NewEvent {
        step: None,
        kind,
        message: message.into(),
        metadata,
    };
    let event = EventRepository::append_project_event(
        store,
        new,
        ctx.clock.now_rfc3339(),
        ctx.ids.next_u64(),
    )?;
    tracing::debug!(kind = %kind, id = %event.id, "project event recorded");
    Ok(event)
}

/// Installs the `tracing` subscriber on stderr: warnings by default, more with `-v`/`-vv`,
/// or whatever `GODZILLA_LOG` says (an `EnvFilter` directive).
pub fn init_tracing(verbosity: u8, quiet: bool, filter: Option<&str>, ansi: bool) {
    let default = match (quiet, verbosity) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "godzilla=debug",
        (false, _) => "godzilla=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_new(filter.unwrap_or(default))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Escapes only where they are read as colour: a terminal, and not `--color never`.
        .with_ansi(ansi)
        .with_target(false)
        .without_time()
        .try_init();
}
