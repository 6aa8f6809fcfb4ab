//! `godzilla ci`: run protocols on CI runners (leases, workflow files, triggering, status).

use std::time::Duration;

use crate::cli::commands::pr::parse_protocol;
use crate::cli::commands::sync::parse_lease;
use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::config::CiProvider;
use crate::context::Context;
use crate::git::Git;
use crate::git::remote::Remote;
use crate::services::{ci, forge, lease};

/// CI commands.
#[derive(clap::Subcommand, Debug)]
pub enum CiCommand {
    /// Claim a protocol or step for this runner through the remote (exit 3 when someone else
    /// holds it).
    ///
    /// The claim is a unique commit pushed to refs/godzilla/leases/... with
    /// --force-with-lease and confirmed with ls-remote; an expired lease is taken over.
    Claim(crate::cli::lazy::Lazy<ClaimArgs>),
    /// Give a claimed protocol or step back.
    Release(crate::cli::lazy::Lazy<ReleaseArgs>),
    /// Start CI on a protocol's branch (`gh workflow run` or `glab ci run`).
    Trigger(crate::cli::lazy::Lazy<TriggerArgs>),
    /// Show the CI checks of a protocol's branch and record the outcome (exit 3 on failure).
    ///
    /// As the original did on its CI webhooks: when every check passed, `ci_passed` is
    /// recorded and QA may proceed; when one failed or was cancelled, `ci_failed` names it
    /// and the step being worked on is blocked.
    Status(crate::cli::lazy::Lazy<CiStatusArgs>),
    /// Write a workflow that runs a protocol on CI runners (.github/workflows/ or
    /// .gitlab-ci.yml): one job per step, leases, sync, and the PR opened at the end.
    Generate(crate::cli::lazy::Lazy<GenerateArgs>),
}

/// Arguments of `ci trigger`.
#[derive(clap::Args, Debug)]
pub struct TriggerArgs {
    /// The protocol.
    #[arg(value_name = "PROTOCOL", add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// The GitHub workflow file (default: the one `ci generate` writes for the protocol).
    #[arg(long, value_name = "FILE")]
    pub workflow: Option<String>,
}

/// Arguments of `ci status`.
#[derive(clap::Args, Debug)]
pub struct CiStatusArgs {
    /// The protocol.
    #[arg(value_name = "PROTOCOL", add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// Poll until no check is pending.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between polls with --watch.
    #[arg(long, default_value_t = 15, value_name = "SECS")]
    pub interval: u64,
}

/// Arguments of `ci generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// `github` or `gitlab`.
    #[arg(value_enum, value_name = "PROVIDER")]
    pub provider: CiProvider,
    /// The protocol whose steps become jobs.
    #[arg(value_name = "PROTOCOL", add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// How runners install godzilla.
    #[arg(long, default_value = ci::DEFAULT_INSTALL, value_name = "COMMAND")]
    pub install: String,
    /// Lease length of each job, in seconds.
    #[arg(long, default_value_t = 7200, value_name = "SECS")]
    pub ttl: u64,
    /// Do not open the PR/MR at the end.
    #[arg(long)]
    pub no_pr: bool,
}

/// Arguments of `ci claim`.
#[derive(clap::Args, Debug)]
pub struct ClaimArgs {
    /// `PROTOCOL` or `PROTOCOL/STEP`.
    #[arg(value_name = "LEASE")]
    pub lease: String,
    /// The remote runners share.
    #[arg(long, default_value = "origin", value_name = "REMOTE")]
    pub remote: String,
    /// How long the lease lasts, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub ttl: u64,
    /// Who claims it (default: the CI job, or host and pid).
    #[arg(long, value_name = "NAME")]
    pub holder: Option<String>,
}

/// Arguments of `ci release`.
#[derive(clap::Args, Debug)]
pub struct ReleaseArgs {
    /// `PROTOCOL` or `PROTOCOL/STEP`.
    #[arg(value_name = "LEASE")]
    pub lease: String,
    /// The remote runners share.
    #[arg(long, default_value = "origin", value_name = "REMOTE")]
    pub remote: String,
}

/// Runs a `ci` command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &CiCommand) -> Result<Outcome, CliError> {
    let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    match cmd {
        CiCommand::Claim(args) => {
            let target = parse_lease(&args.lease)?;
            let remote = Remote::open(&git, &args.remote).map_err(lease::Error::from)?;
            let holder = args
                .holder
                .clone()
                .unwrap_or_else(|| lease::default_holder(ctx));
            let held = lease::acquire(
                ctx,
                &git,
                &remote,
                &target,
                &holder,
                Duration::from_secs(args.ttl),
            )?;
            if ui.is_json() {
                ui.json(&held);
            } else {
                ui.line(format!(
                    "Claimed {target} until {} ({})",
                    held.expires, held.claim
                ));
                if let Some(prev) = &held.took_over_from {
                    ui.line(format!("  took over the expired lease of {prev}"));
                }
            }
        }
        CiCommand::Release(args) => {
            let target = parse_lease(&args.lease)?;
            let remote = Remote::open(&git, &args.remote).map_err(lease::Error::from)?;
            let released = lease::release(&git, &remote, &target)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({ "released": released }));
            } else if released {
                ui.line(format!("Released {target}"));
            } else {
                ui.line(format!("{target} was not held by this clone"));
            }
        }
        CiCommand::Trigger(args) => {
            let id = parse_protocol(ctx, &args.protocol)?;
            let workflow = args
                .workflow
                .clone()
                .unwrap_or_else(|| format!("godzilla-{id}.yml"));
            let branch = forge::ci_trigger(ctx, &id, &workflow)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({ "protocol": id, "branch": branch }));
            } else {
                ui.line(format!("CI started on {branch}"));
            }
        }
        CiCommand::Status(args) => {
            let id = parse_protocol(ctx, &args.protocol)?;
            let status = loop {
                let status = forge::ci_status(ctx, &id)?;
                if !args.watch || status.outcome != forge::CiOutcome::Pending {
                    break status;
                }
                ui.status("Waiting", "for pending checks");
                std::thread::sleep(Duration::from_secs(args.interval.max(1)));
            };
            if ui.is_json() {
                ui.json(&status);
            } else {
                ui.line(format!("CI {}: {}", id, status.outcome));
                for c in &status.checks {
                    ui.line(format!("  {:<8} {}  {}", c.bucket, c.name, c.link));
                }
                if let Some(r) = &status.recorded {
                    ui.line(format!("  recorded: {r}"));
                }
            }
            if status.outcome == forge::CiOutcome::Fail {
                return Ok(Outcome::Negative);
            }
        }
        CiCommand::Generate(args) => {
            let id = parse_protocol(ctx, &args.protocol)?;
            let generated = ci::generate(
                ctx,
                &ci::GenerateOptions {
                    provider: args.provider,
                    protocol: id,
                    install: args.install.clone(),
                    ttl: args.ttl,
                    open_pr: !args.no_pr,
                },
            )?;
            if ui.is_json() {
                ui.json(&generated);
            } else {
                ui.line(format!(
                    "Wrote {} ({} jobs: {})",
                    generated.path.display(),
                    generated.jobs.len(),
                    generated.jobs.join(", ")
                ));
                ui.line("Commit it; runners need push access and the engine keys as secrets.");
            }
        }
    }
    Ok(Outcome::Success)
}
