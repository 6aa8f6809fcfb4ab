//! `godzilla pr`: the pull/merge request of a protocol's branch, through gh or glab.

use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::domain::ProtocolId;
use crate::services::forge::{self as forge_service, PrOptions};

/// Pull/merge request commands.
#[derive(clap::Subcommand, Debug)]
pub enum PrCommand {
    /// Push the protocol's branch and open its PR/MR, or update the one already open.
    ///
    /// The body is the protocol's Markdown report (`godzilla report <protocol> --md`): step
    /// statuses, QA verdicts with their checks, cost, commits and the plan, secrets scrubbed. Uses gh or glab as `[project] ci` says; the URL is recorded as a
    /// `pr_opened` event.
    Open(crate::cli::lazy::Lazy<OpenArgs>),
    /// Show the protocol's PR/MR: state, review decision and checks.
    Status(crate::cli::lazy::Lazy<StatusArgs>),
}

/// Arguments of `pr open`.
#[derive(clap::Args, Debug)]
pub struct OpenArgs {
    /// The protocol.
    #[arg(value_name = "PROTOCOL", add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// Open it as a draft.
    #[arg(long)]
    pub draft: bool,
    /// The remote to push the branch to first.
    #[arg(long, default_value = "origin", value_name = "REMOTE")]
    pub remote: String,
    /// Do not push the branch first.
    #[arg(long)]
    pub no_push: bool,
}

/// Arguments of `pr status`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The protocol.
    #[arg(value_name = "PROTOCOL", add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
}

/// Parses a protocol argument: a full id as it is (it may live only on a remote), else a
/// short form resolved among the protocols `status` sees (`2`, `sentence`, a prefix).
pub fn parse_protocol(ctx: &Context, text: &str) -> Result<ProtocolId, CliError> {
    match ProtocolId::parse(text) {
        Ok(id) => Ok(id),
        Err(_) => super::protocol_arg(ctx, text),
    }
}

/// Runs a `pr` command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &PrCommand) -> Result<Outcome, CliError> {
    match cmd {
        PrCommand::Open(args) => {
            let id = parse_protocol(ctx, &args.protocol)?;
            let outcome = forge_service::open_pr(
                ctx,
                &id,
                &PrOptions {
                    draft: args.draft,
                    push_remote: (!args.no_push).then(|| args.remote.clone()),
                },
            )?;
            if ui.is_json() {
                ui.json(&outcome);
            } else {
                let verb = if outcome.created { "Opened" } else { "Updated" };
                ui.line(format!("{verb} {}", outcome.pr.url));
            }
        }
        PrCommand::Status(args) => {
            let id = parse_protocol(ctx, &args.protocol)?;
            let status = forge_service::pr_status(ctx, &id)?;
            if ui.is_json() {
                ui.json(&status);
            } else {
                let pr = &status.pr;
                ui.line(format!(
                    "#{} {}  {}{}  review: {}",
                    pr.number,
                    pr.url,
                    pr.state,
                    if pr.draft { " (draft)" } else { "" },
                    pr.review.as_deref().unwrap_or("none")
                ));
                for c in &status.checks {
                    ui.line(format!("  {:<8} {}  {}", c.bucket, c.name, c.link));
                }
                if status.checks.is_empty() {
                    ui.line("  no checks reported");
                }
            }
        }
    }
    Ok(Outcome::Success)
}
