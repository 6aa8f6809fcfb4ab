//! `godzilla report`.

use std::path::PathBuf;

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::platform::storage;
use crate::services::report;

/// Report on a protocol for someone who was not watching.
///
/// `--html FILE` writes a self-contained page (nothing is fetched when it is viewed): the
/// timeline of steps and attempts, QA verdicts with their checks and reports, tokens and cost
/// per step as a chart, and links to the commits. `--md` prints the Markdown summary a pull
/// request body is made of (also the default). `--json` prints the report's data. Works on a
/// protocol whose worktree is gone, from its branch.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The protocol (`NNNN-slug`).
    pub protocol: String,
    /// Write the HTML page to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print the Markdown summary.
    #[arg(long)]
    pub md: bool,
}

/// Runs `report`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &ReportArgs) -> Result<Outcome, CliError> {
    let id = super::events::protocol_arg(&args.protocol)?;
    let data = report::build(ctx, &id)?;
    if ui.is_json() {
        ui.json(&data);
        return Ok(Outcome::Success);
    }
    if let Some(path) = &args.html {
        let page = report::html(&data);
        if path.as_os_str() == "-" {
            ui.raw(page.as_bytes());
        } else {
            let path = if path.is_absolute() {
                path.clone()
            } else {
                std::env::current_dir()
                    .map_err(|e| CliError::new(ExitKind::Failed, e))?
                    .join(path)
            };
            storage::write_atomic(&path, page.as_bytes())?;
            ui.status(
                "Wrote",
                &format!("{} ({} bytes)", path.display(), page.len()),
            );
        }
    }
    if args.md || args.html.is_none() {
        ui.raw(report::markdown(&data).as_bytes());
    }
    Ok(Outcome::Success)
}
