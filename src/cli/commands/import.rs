//! `godzilla import codemachine|speckit`.

use std::path::PathBuf;

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::domain::ProtocolId;
use crate::services::import::Imported;
use crate::services::orchestrator::{self, CreateOptions, ImportedSteps, StepSource};
use crate::services::platform::storage::Store;
use crate::services::{codemachine, speckit};

/// Import commands: turn another tool's workspace into a protocol.
#[derive(clap::Subcommand, Debug)]
pub enum ImportCommand {
    /// Import a CodeMachine workspace (`.codemachine/`): main agents become steps with their
    /// engine, model and prompt; loop and trigger modules become step policies.
    Codemachine(crate::cli::lazy::Lazy<ImportArgs>),
    /// Import a Spec Kit feature folder (`specs/NNN-feature/`): one step per phase of
    /// `tasks.md`, `plan.md` as the plan.
    Speckit(crate::cli::lazy::Lazy<ImportArgs>),
}

/// Arguments of an import.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The workspace or feature folder.
    pub dir: PathBuf,
    /// Short name of the protocol (default: from the source).
    #[arg(long)]
    pub name: Option<String>,
    /// Description (default: from the source).
    #[arg(short, long)]
    pub description: Option<String>,
    /// Branch to start from.
    #[arg(long, value_name = "BRANCH")]
    pub base: Option<String>,
}

/// Runs an import.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &ImportCommand) -> Result<Outcome, CliError> {
    let store = Store::new(&ctx.paths);
    store.check_format()?;
    let config = store.load_config()?;
    let usage = |e: anyhow::Error| CliError::new(ExitKind::Usage, e);
    let (imported, args): (Imported, &ImportArgs) = match cmd {
        ImportCommand::Codemachine(args) => (
            codemachine::import_workspace(&args.dir, config.qa.policy)?,
            args,
        ),
        ImportCommand::Speckit(args) => {
            (speckit::import_feature(&args.dir, config.qa.policy)?, args)
        }
    };
    for w in &imported.warnings {
        ui.warn(w);
    }
    // Validate before anything is created: the number, branch and worktree are not spent on
    // an import that cannot become a valid spec.
    let probe_id =
        ProtocolId::parse("9999-import").map_err(|e| CliError::new(ExitKind::Internal, e))?;
    let issues = imported.issues(probe_id);
    if !issues.is_empty() {
        let list: Vec<String> = issues
            .iter()
            .map(|i| format!("{}: {}", i.at, i.message))
            .collect();
        return Err(usage(anyhow::anyhow!(
            "the imported steps do not form a valid spec:\n  {}",
            list.join("\n  ")
        )));
    }
    let run = orchestrator::create_protocol_run(
        ctx,
        &CreateOptions {
            short_name: args
                .name
                .clone()
                .unwrap_or_else(|| imported.short_name.clone()),
            description: args
                .description
                .clone()
                .unwrap_or_else(|| imported.description.clone()),
            base: args.base.clone(),
            steps: StepSource::Imported(ImportedSteps {
                plan: imported.plan.clone(),
                steps: imported.steps.clone(),
                source: imported.source,
            }),
        },
    )?;
    Ok(super::protocol::render_created(ui, &run))
}
