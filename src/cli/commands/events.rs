//! `godzilla events` (alias `log`) and the follow loop `step log` shares.

use std::io::Write;
use std::time::Duration;

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::domain::{Event, ProtocolId};
use crate::services::feed::{Feed, Filter};

/// How often a follower looks for new lines: well under the one second people notice.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(150);

/// Show the event stream: every protocol's events and the project's, oldest first, or one
/// protocol's. With `--follow`, keep printing events as any process appends them (a worker,
/// another terminal, a CI job writing to a shared worktree) until interrupted.
///
/// `--json` prints one event per line (JSON Lines), as stored.
#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// Only this protocol.
    #[arg(value_name = "PROTOCOL")]
    pub protocol: Option<String>,
    /// Keep printing new events as they are written.
    #[arg(short, long)]
    pub follow: bool,
    /// Only events at or after this time: RFC 3339 (`2026-01-02T10:00:00Z`) or a duration
    /// back from now (`10m`, `2h`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events of this type (repeatable, comma-separated; `qa_*` matches a prefix). The
    /// README lists every type.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
}

/// Parses a protocol argument.
pub fn protocol_arg(text: &str) -> Result<ProtocolId, CliError> {
    ProtocolId::parse(text).map_err(|e| {
        CliError::new(
            ExitKind::Usage,
            anyhow::Error::new(e).context("invalid protocol argument"),
        )
    })
}

/// Writes lines to stdout; `false` once the reader has gone (closed pipe), which ends a
/// follow loop instead of spinning on a dead pipe.
pub fn emit(lines: &[String]) -> bool {
    let mut out = std::io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return false;
        }
    }
    out.flush().is_ok()
}

/// One event as a human line.
pub fn human(event: &Event) -> String {
    format!(
        "{}  {:<20} {:<14} {:<22} {}",
        event.ts,
        event.protocol.as_ref().map_or("-", |p| p.as_str()),
        event.step.as_ref().map_or("-", |s| s.as_str()),
        event.kind.as_str(),
        event.message
    )
}

/// Runs `events`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &EventsArgs) -> Result<Outcome, CliError> {
    let only = args.protocol.as_deref().map(protocol_arg).transpose()?;
    let filter = Filter::parse(ctx, args.since.as_deref(), &args.types)?;
    let mut feed = Feed::open(ctx, only.as_ref(), filter)?;
    let json = ui.is_json();
    loop {
        let batch: Vec<String> = feed
            .poll(ctx)?
            .iter()
            .map(|e| if json { e.to_line() } else { human(e) })
            .collect();
        if !emit(&batch) || !args.follow {
            return Ok(Outcome::Success);
        }
        std::thread::sleep(FOLLOW_INTERVAL);
    }
}
