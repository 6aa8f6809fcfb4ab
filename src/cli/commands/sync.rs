//! `godzilla sync`: exchange protocol branches and notes with a remote.

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::lease::LeaseTarget;
use crate::services::sync::{self, BranchAction, SyncOptions};

/// Push and fetch protocol branches and refs/notes/godzilla.
///
/// Fetches the remote's `godzilla/*` branches and notes, creates, fast-forwards or merges the
/// local protocol branches (event logs merge by union), merges the notes (`cat_sort_uniq`),
/// then pushes protocol branches and notes, never forced. A rejected push is retried after
/// another fetch and merge, with a jittered backoff. User branches are never pushed.
/// Exit 3 when `--lease` is given and this clone no longer holds that lease (nothing is
/// published).
#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    /// The remote (a configured remote's name).
    #[arg(long, default_value = "origin", value_name = "REMOTE")]
    pub remote: String,
    /// Publish only while holding this lease (`PROTOCOL` or `PROTOCOL/STEP`).
    #[arg(long, value_name = "LEASE")]
    pub lease: Option<String>,
    /// Fetch and merge only.
    #[arg(long)]
    pub no_push: bool,
    /// Rounds of fetch, merge and push before giving up on rejected pushes.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub attempts: u32,
}

/// Parses a lease argument.
pub fn parse_lease(text: &str) -> Result<LeaseTarget, CliError> {
    LeaseTarget::parse(text).map_err(|e| {
        CliError::new(
            ExitKind::Usage,
            anyhow::Error::new(e).context(format!("invalid lease `{text}`")),
        )
        .with_hint("a lease is PROTOCOL or PROTOCOL/STEP, e.g. 0001-login/02-api")
    })
}

/// Runs `sync`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &SyncArgs) -> Result<Outcome, CliError> {
    let lease = args.lease.as_deref().map(parse_lease).transpose()?;
    let summary = sync::sync(
        ctx,
        &SyncOptions {
            remote: args.remote.clone(),
            lease,
            no_push: args.no_push,
            max_attempts: args.attempts,
        },
    )?;
    if ui.is_json() {
        ui.json(&summary);
        return Ok(Outcome::Success);
    }
    let mut changed = 0;
    for (branch, action) in &summary.branches {
        let verb = match action {
            BranchAction::UpToDate => continue,
            BranchAction::Created => "created from the remote",
            BranchAction::FastForwarded => "fast-forwarded",
            BranchAction::Merged => "merged with the remote",
            BranchAction::Pushed => "pushed",
        };
        changed += 1;
        ui.line(format!("{branch}: {verb}"));
    }
    if summary.notes_merged {
        ui.line("notes: merged remote records");
    }
    if summary.notes_pushed {
        ui.line("notes: pushed");
    }
    if changed == 0 && !summary.notes_merged && !summary.notes_pushed {
        ui.line(format!("Up to date with {}", summary.remote));
    }
    Ok(Outcome::Success)
}
