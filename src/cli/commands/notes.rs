//! `godzilla notes`: the records godzilla attaches to commits in `refs/notes/godzilla`.

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::git::Git;
use crate::git::notes::Notes;
use crate::services::platform::storage::Store;

/// Notes commands.
#[derive(clap::Subcommand, Debug)]
pub enum NotesCommand {
    /// Print the records attached to a commit, one JSON object per line.
    Show(crate::cli::lazy::Lazy<ShowArgs>),
    /// Attach a record (one JSON object) to a commit, safely alongside other writers.
    Add(crate::cli::lazy::Lazy<AddArgs>),
}

/// Arguments of `notes show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The commit (default HEAD).
    #[arg(default_value = "HEAD")]
    pub rev: String,
}

/// Arguments of `notes add`.
#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// The commit.
    pub rev: String,
    /// The record: one JSON object on one line.
    pub record: String,
}

fn resolve(git: &Git, rev: &str) -> Result<String, CliError> {
    // In-process first: `notes add` is called once per record, often many at once, and a
    // `git rev-parse` (with the config read its filter overrides need) was two of the three
    // processes each call cost (#13).
    if let Ok(commit) = crate::git::object::resolve_commit(git.dir(), rev) {
        return Ok(commit);
    }
    let spec = format!("{rev}^{{commit}}");
    let out = git
        .run_unchecked(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ])
        .map_err(|e| CliError::new(ExitKind::Failed, e))?;
    if !out.success() {
        return Err(CliError::new(
            ExitKind::Usage,
            anyhow::anyhow!("`{rev}` is not a commit"),
        ));
    }
    Ok(out.stdout_text().trim().to_owned())
}

/// Runs a notes command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &NotesCommand) -> Result<Outcome, CliError> {
    let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    let notes = Notes::new(git.clone(), Store::new(&ctx.paths).local_dir());
    match cmd {
        NotesCommand::Show(args) => {
            let commit = resolve(&git, &args.rev)?;
            let lines = notes.show(&commit)?;
            if ui.is_json() {
                let values: Vec<serde_json::Value> = lines
                    .iter()
                    .map(|l| serde_json::from_str(l).unwrap_or_else(|_| l.as_str().into()))
                    .collect();
                ui.json(&values);
            } else if lines.is_empty() {
                ui.line(format!(
                    "no godzilla notes on {} ({})",
                    args.rev,
                    &commit[..12.min(commit.len())]
                ));
            } else {
                for line in lines {
                    ui.line(line);
                }
            }
        }
        NotesCommand::Add(args) => {
            let commit = resolve(&git, &args.rev)?;
            notes.append_unique(&commit, &args.record)?;
            ui.status(
                "Noted",
                &format!("record on {}", &commit[..12.min(commit.len())]),
            );
        }
    }
    Ok(Outcome::Success)
}
