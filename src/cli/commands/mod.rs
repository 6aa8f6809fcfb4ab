//! One module per command group; each is an `Args` struct and a `run` that calls one service.

use crate::cli::error::CliError;
use crate::context::Context;
use crate::domain::{ProtocolId, ProtocolState, StepId};
use crate::services::orchestrator;

/// The protocol an argument means: full id, number (`2`), slug or unique prefix.
pub fn protocol_arg(ctx: &Context, typed: &str) -> Result<ProtocolId, CliError> {
    check_id_chars(typed, "protocol", ProtocolId::parse)?;
    Ok(orchestrator::resolve_protocol(ctx, typed)?)
}

/// The step of `protocol` an argument means: full id, number (`1`), slug or unique prefix.
pub fn step_arg(ctx: &Context, protocol: &ProtocolId, typed: &str) -> Result<StepId, CliError> {
    check_step_chars(typed)?;
    Ok(orchestrator::resolve_step(ctx, protocol, typed)?)
}

/// [`step_arg`] in a protocol's state already loaded; `typed` checked by [`check_step_chars`].
pub fn step_arg_in(state: &ProtocolState, typed: &str) -> Result<StepId, CliError> {
    Ok(orchestrator::resolve_step_in(state, typed)?)
}

/// A step argument that no step id could match is a usage error, before any lookup.
pub fn check_step_chars(typed: &str) -> Result<(), CliError> {
    check_id_chars(typed, "step", StepId::parse)
}

/// The protocol and its step that a `PROTOCOL STEP` pair of arguments means.
pub fn step_args(
    ctx: &Context,
    protocol: &str,
    step: &str,
) -> Result<(ProtocolId, StepId), CliError> {
    let protocol = protocol_arg(ctx, protocol)?;
    let step = step_arg(ctx, &protocol, step)?;
    Ok((protocol, step))
}

/// Text that no id or part of one can contain (`../x`) is refused as a bad argument, with the
/// name rule that it breaks, before any lookup.
fn check_id_chars<T>(
    typed: &str,
    what: &str,
    parse: impl Fn(&str) -> Result<T, crate::domain::NameError>,
) -> Result<(), CliError> {
    let plausible = !typed.is_empty()
        && typed
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    match parse(typed) {
        Err(e) if !plausible => Err(CliError::new(
            crate::cli::error::ExitKind::Usage,
            anyhow::Error::new(e).context(format!("invalid {what} argument")),
        )),
        _ => Ok(()),
    }
}

pub mod allow;
pub mod ci;
pub mod clarify;
pub mod completions;
pub mod cost;
pub mod demo;
pub mod discover;
pub mod doctor;
pub mod events;
pub mod fsck;
pub mod gc;
pub mod import;
pub mod init;
pub mod notes;
pub mod pr;
pub mod prompts;
pub mod protocol;
pub mod qa;
pub mod queue;
pub mod report;
pub mod spec;
pub mod status;
pub mod step;
pub mod sync;
pub mod watch;
