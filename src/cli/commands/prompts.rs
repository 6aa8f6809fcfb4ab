//! `godzilla prompts`: which prompt template each role uses.

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::platform::storage::Store;
use crate::services::prompts::{self, PromptSource, Role};

/// Prompts commands.
#[derive(clap::Subcommand, Debug)]
pub enum PromptsCommand {
    /// List the roles, where each one's template comes from and its fingerprint.
    List,
    /// Print the template a role uses.
    Show {
        /// The role.
        #[arg(value_enum)]
        role: Role,
    },
}

/// Runs a prompts command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &PromptsCommand) -> Result<Outcome, CliError> {
    let store = Store::new(&ctx.paths);
    let fail = |e: prompts::Error| CliError::new(ExitKind::Failed, e);
    match cmd {
        PromptsCommand::List => {
            let all = prompts::list_prompts(&store).map_err(fail)?;
            if ui.is_json() {
                ui.json(&all.iter().map(|p| serde_json::json!({"role": p.role, "source": p.source, "version_hash": p.version_hash})).collect::<Vec<_>>());
            } else {
                for p in all {
                    let source = match &p.source {
                        PromptSource::Builtin => "built-in".to_owned(),
                        PromptSource::Repo { path } => path.clone(),
                    };
                    ui.line(format!(
                        "{:<10} {}  {source}",
                        p.role.as_str(),
                        p.version_hash
                    ));
                }
            }
        }
        PromptsCommand::Show { role } => {
            let p = prompts::resolve_prompt(&store, *role).map_err(fail)?;
            if ui.is_json() {
                ui.json(&p);
            } else {
                ui.raw(p.text.as_bytes());
            }
        }
    }
    Ok(Outcome::Success)
}
