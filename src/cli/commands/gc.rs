//! `godzilla gc`.

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::gc::{self, GcOptions};

/// Remove protocol worktrees, local logs and finished queue entries that are provably safe to
/// remove, and say what was kept and why.
///
/// A worktree goes only when its protocol is completed or cancelled, no process is running
/// it, it has no uncommitted or untracked files, and its branch tip is on a remote-tracking
/// ref (pushed) or in the base branch (merged). The branch stays: `status`, `show`,
/// `events`, `cost` and `report` keep working from it. A queue entry (a job's records and
/// log) goes once the job has finished; queued and running jobs are never touched.
#[derive(clap::Args, Debug)]
pub struct GcArgs {
    /// Say what would be removed; remove nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Only protocols idle (no event) and jobs finished for at least this long, e.g. `7d`,
    /// `12h`.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
}

/// Runs `gc`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &GcArgs) -> Result<Outcome, CliError> {
    let older_than = args
        .older_than
        .as_deref()
        .map(|d| {
            humantime::parse_duration(d).map_err(|e| {
                CliError::new(
                    ExitKind::Usage,
                    anyhow::Error::new(e).context(format!("invalid --older-than `{d}`")),
                )
            })
        })
        .transpose()?;
    let report = gc::collect(
        ctx,
        &GcOptions {
            dry_run: args.dry_run,
            older_than,
        },
    )?;
    if ui.is_json() {
        ui.json(&report);
        return Ok(Outcome::Success);
    }
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for e in &report.removed {
        ui.line(format!("{verb} {} ({})", name(e), e.reason));
    }
    for e in &report.kept {
        ui.line(format!("kept {} ({})", name(e), e.reason));
    }
    if report.removed.is_empty() && report.kept.is_empty() {
        ui.line("nothing to clean up");
    }
    Ok(Outcome::Success)
}

/// `worktree PATH`, `logs PATH`, `job ID`.
fn name(e: &gc::Entry) -> String {
    match (e.what, &e.job) {
        (gc::What::Job, Some(id)) => format!("job {id}"),
        (gc::What::Job, None) => format!("job {}", e.path.display()),
        (gc::What::Worktree, _) => format!("worktree {}", e.path.display()),
        (gc::What::Logs, _) => format!("logs {}", e.path.display()),
    }
}
