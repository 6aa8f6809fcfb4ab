//! `godzilla fsck`.

use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::orchestrator;

/// Check every state file in every worktree: parse configs and headers, fold every event log, compare each
/// status view with its fold. Exit 0 when clean, 3 when problems remain.
#[derive(clap::Args, Debug)]
pub struct FsckArgs {
    /// Mend torn log lines and rebuild stale views, and say what changed.
    #[arg(long)]
    pub repair: bool,
    /// Only this protocol.
    #[arg(value_name = "PROTOCOL", add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: Option<String>,
}

/// Runs `fsck`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &FsckArgs) -> Result<Outcome, CliError> {
    let only = args
        .protocol
        .as_deref()
        .map(|p| super::protocol_arg(ctx, p))
        .transpose()?;
    let report = orchestrator::fsck(ctx, only.as_ref(), args.repair)?;
    let unresolved = report.unresolved();
    if ui.is_json() {
        ui.json(&report);
    } else {
        for p in &report.problems {
            let at = p
                .location
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            match &p.repaired {
                Some(what) => ui.line(format!("repaired: {}{at}: {}: {what}", p.file, p.message)),
                None => ui.line(format!(
                    "problem: {}{at}: {}{}",
                    p.file,
                    p.message,
                    if p.repairable {
                        " [repairable with --repair]"
                    } else {
                        ""
                    }
                )),
            }
            if args.repair
                && p.repaired.is_none()
                && let Some(why) = &p.unrepairable
            {
                ui.line(format!("  not repaired: {why}"));
            }
        }
        for w in &report.warnings {
            ui.line(format!("note: {}: {}", w.file, w.message));
        }
        let verdict = if unresolved == 0 {
            "clean"
        } else {
            "problems found"
        };
        ui.line(format!(
            "{verdict}: {} protocols, {} events, {} problems ({} repaired)",
            report.protocols,
            report.events,
            report.problems.len(),
            report.problems.len() - unresolved
        ));
    }
    Ok(if unresolved == 0 {
        Outcome::Success
    } else {
        Outcome::Negative
    })
}
