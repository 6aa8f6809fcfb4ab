//! The telemetry service: records protocol events (the catalogue is
//! [`crate::domain::EventKind`], the one list of event names) and sets up `tracing` logs.
//!
//! Events go through the storage service; this module adds time, nonce and a log line.
//! It also counts tokens as engines report them ([`observe_tokens`]), settles what a run cost
//! ([`record_cost`], with the price list in [`prices`]), and writes live transcripts
//! ([`transcript`]).

pub mod prices;
pub mod transcript;

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::context::Context;
use crate::domain::{Event, EventKind, ProtocolId, ProtocolState, StepId};
use crate::engines::Phase;
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

/// [`log_protocol_event`] of `new`, with the log's flush left running behind: the event
/// counts once the returned flush has been waited for (see
/// [`EventRepository::append_protocol_event_flushing`]).
pub fn log_protocol_event_flushing(
    ctx: &Context,
    store: &Store,
    protocol: &ProtocolId,
    new: NewEvent,
) -> Result<(Event, ProtocolState, storage::Flushing), storage::Error> {
    let (kind, ts, nonce) = (new.kind, ctx.clock.now_rfc3339(), ctx.ids.next_u64());
    let recorded =
        EventRepository::append_protocol_event_flushing(store, protocol, new, ts, nonce)?;
    tracing::debug!(protocol = %protocol, step = ?recorded.0.step, kind = %kind, id = %recorded.0.id, "event recorded, flushing");
    Ok(recorded)
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

/// Tokens this process has seen engines report, per phase and model (`-` when the engine
/// chose): the counters a metrics endpoint would export, kept in memory for a CLI.
static TOKENS: Mutex<BTreeMap<(&'static str, String), u64>> = Mutex::new(BTreeMap::new());

/// Counts `count` tokens reported live by an engine running `phase` on `model`.
pub fn observe_tokens(phase: Phase, model: Option<&str>, count: u64) {
    let model = model.unwrap_or("-").to_owned();
    tracing::trace!(phase = phase.as_str(), model = %model, count, "tokens observed");
    if let Ok(mut map) = TOKENS.lock() {
        *map.entry((phase.as_str(), model)).or_insert(0) += count;
    }
}

/// The counters [`observe_tokens`] kept, per `(phase, model)`.
pub fn tokens_observed() -> BTreeMap<(&'static str, String), u64> {
    TOKENS.lock().map(|m| m.clone()).unwrap_or_default()
}

/// Records what run `run_id` cost (`cents`, fractional) for `tokens` tokens: a log line now;
/// the run record, its event and its note carry the figure for `godzilla cost`.
pub fn record_cost(run_id: &str, tokens: u64, cents: f64) {
    tracing::debug!(run = run_id, tokens, cents, "run cost recorded");
}

/// Settles a run's cost (the engine's own figure, else the price list's) and records it.
pub fn settle_cost(
    config: &crate::config::Config,
    run_id: &str,
    model: Option<&str>,
    usage: &crate::engines::Usage,
    reported_usd: Option<f64>,
) -> Option<(prices::Cost, prices::CostSource)> {
    let settled = prices::Prices::new(&config.prices).settle(model, usage, reported_usd);
    if let Some((cost, _)) = settled {
        record_cost(run_id, usage.total(), cost.cents());
    }
    settled
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
