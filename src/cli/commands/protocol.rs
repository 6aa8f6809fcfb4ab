//! `godzilla protocol ...`.

use std::path::PathBuf;

use crate::cli::error::CliError;
use crate::cli::error::ExitKind;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::domain::ProtocolId;
use crate::services::orchestrator::{self, Control, CreateOptions};

/// Protocol commands.
#[derive(clap::Subcommand, Debug)]
pub enum ProtocolCommand {
    /// Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header
    /// and an event log, committed on the new branch.
    New(NewArgs),
    /// Pause a protocol: no engine run starts until it is resumed.
    Pause(ControlArgs),
    /// Resume a paused protocol.
    Resume(ControlArgs),
    /// Cancel a protocol and its open steps.
    Cancel(ControlArgs),
}

/// Arguments of pause / resume / cancel.
#[derive(clap::Args, Debug)]
pub struct ControlArgs {
    /// The protocol (`NNNN-slug`).
    pub protocol: String,
    /// Why, recorded in the event.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// Arguments of `protocol new`.
#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// Short name; the slug of the protocol id is made from it.
    pub short_name: String,
    /// What the protocol should achieve.
    #[arg(short, long)]
    pub description: String,
    /// Branch to start from (default: project.base_branch).
    #[arg(long, value_name = "BRANCH")]
    pub base: Option<String>,
    /// Import steps from the `NN-slug.md` files in DIR instead of planning.
    #[arg(long, value_name = "DIR", conflicts_with = "no_plan")]
    pub steps_from: Option<PathBuf>,
    /// Create the protocol without planning it.
    #[arg(long)]
    pub no_plan: bool,
}

/// Runs a protocol command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &ProtocolCommand) -> Result<Outcome, CliError> {
    match cmd {
        ProtocolCommand::New(args) => {
            let run = orchestrator::create_protocol_run(
                ctx,
                &CreateOptions {
                    short_name: args.short_name.clone(),
                    description: args.description.clone(),
                    base: args.base.clone(),
                    steps_from: args.steps_from.clone(),
                    no_plan: args.no_plan,
                },
            )?;
            if ui.is_json() {
                ui.json(&run);
            } else {
                ui.line(format!(
                    "Created protocol {} ({}, {} steps)",
                    run.id,
                    run.status,
                    run.steps.len()
                ));
                ui.line(format!("  branch:   {}", run.branch));
                ui.line(format!("  worktree: {}", run.worktree));
            }
            Ok(Outcome::Success)
        }
        ProtocolCommand::Pause(args) => control(ctx, ui, args, Control::Pause),
        ProtocolCommand::Resume(args) => control(ctx, ui, args, Control::Resume),
        ProtocolCommand::Cancel(args) => control(ctx, ui, args, Control::Cancel),
    }
}

fn control(
    ctx: &Context,
    ui: &mut Ui,
    args: &ControlArgs,
    what: Control,
) -> Result<Outcome, CliError> {
    let id = ProtocolId::parse(&args.protocol).map_err(|e| {
        CliError::new(
            ExitKind::Usage,
            anyhow::Error::new(e).context("invalid protocol argument"),
        )
    })?;
    let state = orchestrator::control_protocol(ctx, &id, what, &args.reason)?;
    if ui.is_json() {
        ui.json(&state);
    } else {
        let status = state.status.map_or("unknown", |s| s.as_str());
        ui.line(format!("{id} is now {status}"));
    }
    Ok(Outcome::Success)
}
