//! `godzilla demo`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::services::demo;

/// Run a whole protocol offline, with no API keys: a scratch repository, the built-in
/// `replay` engine and its recorded transcripts plan, build and review a small change, and
/// the summary and `git log --notes=godzilla` of the result are printed.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Where to put the scratch repository (new or empty; default: a new temp directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs `demo`.
pub fn run(ui: &mut Ui, args: &DemoArgs) -> Result<Outcome, CliError> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => tempfile::Builder::new()
            .prefix("godzilla-demo-")
            .tempdir()
            .map_err(|e| CliError::new(ExitKind::Failed, e))?
            .keep(),
    };
    let outcome = demo::run_demo(&dir, Arc::new(ui.reporter()))?;
    if ui.is_json() {
        ui.json(&outcome);
    } else {
        let run = &outcome.run;
        ui.line(format!(
            "Protocol {}: {}",
            run.protocol,
            run.status.map_or("unknown", |s| s.as_str())
        ));
        for a in &run.actions {
            ui.line(format!("  {a}"));
        }
        for (step, status, attempts) in &run.steps {
            ui.line(format!(
                "  {step} {status} ({attempts} attempt{})",
                if *attempts == 1 { "" } else { "s" }
            ));
        }
        ui.line(format!("  {} tokens (recorded)", run.tokens));
        ui.line(format!("Repository: {}", outcome.repository.display()));
        ui.line(format!("Worktree:   {}", outcome.worktree.display()));
        ui.line("");
        ui.line(format!(
            "$ git log --notes=godzilla godzilla/{}",
            run.protocol
        ));
        ui.raw(outcome.log.as_bytes());
    }
    Ok(if run_ok(&outcome) {
        Outcome::Success
    } else {
        Outcome::Negative
    })
}

fn run_ok(outcome: &demo::DemoOutcome) -> bool {
    outcome.run.stop.is_success()
}
