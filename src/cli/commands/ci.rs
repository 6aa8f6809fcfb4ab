//! `godzilla ci`: run protocols on CI runners (leases, workflow files, triggering, status).

use std::time::Duration;

use crate::cli::commands::sync::{map_lease_error, parse_lease};
use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::git::Git;
use crate::git::remote::Remote;
use crate::services::lease;

/// CI commands.
#[derive(clap::Subcommand, Debug)]
pub enum CiCommand {
    /// Claim a protocol or step for this runner through the remote (exit 3 when someone else
    /// holds it).
    ///
    /// The claim is a unique commit pushed to refs/godzilla/leases/... with
    /// --force-with-lease and confirmed with ls-remote; an expired lease is taken over.
    Claim(ClaimArgs),
    /// Give a claimed protocol or step back.
    Release(ReleaseArgs),
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
            let remote = Remote::open(&git, &args.remote)
                .map_err(|e| map_lease_error(lease::Error::Remote(e)))?;
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
            )
            .map_err(map_lease_error)?;
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
            let remote = Remote::open(&git, &args.remote)
                .map_err(|e| map_lease_error(lease::Error::Remote(e)))?;
            let released = lease::release(&git, &remote, &target).map_err(map_lease_error)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({ "released": released }));
            } else if released {
                ui.line(format!("Released {target}"));
            } else {
                ui.line(format!("{target} was not held by this clone"));
            }
        }
    }
    Ok(Outcome::Success)
}
