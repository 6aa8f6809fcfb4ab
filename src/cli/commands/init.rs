//! `godzilla init`.

use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::config::CiProvider;
use crate::context::Context;
use crate::services::onboarding::{self, InitOptions};

/// Set this repository up: `.godzilla/format`, a commented `config.toml`, the
/// `merge=union` attribute for event logs, and git config so notes survive rebases and travel.
///
/// Running it again changes nothing and says so.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Branch protocols start from (default: the current branch).
    #[arg(long, value_name = "BRANCH")]
    pub base_branch: Option<String>,
    /// CI provider to integrate with.
    #[arg(long, value_enum, value_name = "PROVIDER")]
    pub ci: Option<CiProvider>,
    /// Engine to use for every phase (codex, claude, opencode, gemini, replay, or a profile).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Rewrite `.godzilla/config.toml` from the template even if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `init`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &InitArgs) -> Result<Outcome, CliError> {
    let outcome = onboarding::init_project(
        ctx,
        &InitOptions {
            base_branch: args.base_branch.clone(),
            ci: args.ci,
            engine: args.engine.clone(),
            force: args.force,
        },
    )?;
    if ui.is_json() {
        ui.json(&outcome);
    } else if outcome.changes.is_empty() {
        ui.line(format!(
            "godzilla is already set up in {}; nothing changed",
            outcome.root
        ));
    } else {
        ui.line(format!("Initialized godzilla in {}", outcome.root));
        for change in &outcome.changes {
            ui.line(format!("  {change}"));
        }
        ui.line("Commit .godzilla/ and .gitattributes to share the setup.");
    }
    if !ui.is_json()
        && let Some(ci @ (CiProvider::Github | CiProvider::Gitlab)) = args.ci
    {
        ui.line(format!(
            "CI: `godzilla ci generate {} <protocol>` writes a workflow that runs a protocol's steps on runners.",
            ci.as_str()
        ));
    }
    Ok(Outcome::Success)
}
