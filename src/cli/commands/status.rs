//! `godzilla status`.

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui, paint};
use crate::context::Context;
use crate::domain::ProtocolId;
use crate::services::orchestrator::{self, Location};

/// Show every protocol with its status and step counts: those in this worktree, in other
/// worktrees, and on `godzilla/*` branches that are not checked out.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Only this protocol.
    #[arg(value_name = "PROTOCOL")]
    pub protocol: Option<String>,
}

/// Runs `status`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &StatusArgs) -> Result<Outcome, CliError> {
    let only = args
        .protocol
        .as_deref()
        .map(ProtocolId::parse)
        .transpose()
        .map_err(|e| {
            CliError::new(
                ExitKind::Usage,
                anyhow::Error::new(e).context("invalid protocol argument"),
            )
        })?;
    let summary = orchestrator::status(ctx, only.as_ref())?;
    if let Some(id) = &only
        && summary.protocols.is_empty()
    {
        return Err(
            CliError::new(ExitKind::Usage, anyhow::anyhow!("protocol {id} not found"))
                .with_hint("`godzilla status` lists the protocols"),
        );
    }
    for w in summary
        .warnings
        .iter()
        .chain(summary.protocols.iter().flat_map(|p| &p.warnings))
    {
        ui.warn(w);
    }
    if ui.is_json() {
        ui.json(&summary);
        return Ok(Outcome::Success);
    }
    if summary.protocols.is_empty() {
        if summary.initialized {
            ui.line("No protocols yet. Start one with `godzilla protocol new <name> -d \"<what to do>\"`.");
        } else {
            ui.line("godzilla is not set up in this repository yet. Run `godzilla init` to start.");
        }
        return Ok(Outcome::Success);
    }
    let width = summary
        .protocols
        .iter()
        .map(|p| p.id.as_str().len())
        .max()
        .unwrap_or(0);
    for p in &summary.protocols {
        let counts: Vec<String> = p
            .step_counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        let steps = match p.steps {
            0 => "no steps".to_owned(),
            1 => format!("1 step: {}", counts.join(", ")),
            n => format!("{n} steps: {}", counts.join(", ")),
        };
        let place = match &p.location {
            Location::Worktree { path } if *path == ctx.paths.work_tree.display().to_string() => {
                String::new()
            }
            Location::Worktree { path } => paint::dim(&format!("  (worktree {path})")),
            Location::Branch { name } => paint::dim(&format!("  (branch {name})")),
        };
        let spend = if p.tokens > 0 || p.cost_usd.0 != 0 {
            format!(" · {} tokens · {}", p.tokens, p.cost_usd.display())
        } else {
            String::new()
        };
        ui.line(format!(
            "{:<width$}  {}  {steps}{spend}{place}",
            p.id.as_str(),
            paint::protocol_status(p.status)
        ));
    }
    Ok(Outcome::Success)
}
