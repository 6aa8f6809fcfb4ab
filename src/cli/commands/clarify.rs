//! `godzilla clarify`.

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::domain::ProtocolId;
use crate::services::{clarifications, orchestrator};

/// Clarification commands: questions that stop runs until a person answers them.
#[derive(clap::Subcommand, Debug)]
pub enum ClarifyCommand {
    /// List questions of the project (and of a protocol).
    List(ScopeArgs),
    /// Answer a question; a blocked run can go on.
    Answer {
        /// The question's key.
        key: String,
        /// The answer.
        value: String,
        /// Scope.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Ask a question (project scope unless `--protocol`).
    Ask {
        /// A short key (`[a-z0-9_.-]`).
        key: String,
        /// The question.
        question: String,
        /// Stop runs until it is answered.
        #[arg(long)]
        blocking: bool,
        /// Scope.
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

/// Which protocol's questions.
#[derive(clap::Args, Debug)]
pub struct ScopeArgs {
    /// A protocol (`NNNN-slug`); without it, project questions only.
    #[arg(long, value_name = "PROTOCOL")]
    pub protocol: Option<String>,
}

/// Runs a clarify command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &ClarifyCommand) -> Result<Outcome, CliError> {
    let parse = |scope: &ScopeArgs| {
        scope
            .protocol
            .as_deref()
            .map(ProtocolId::parse)
            .transpose()
            .map_err(|e| {
                CliError::new(
                    ExitKind::Usage,
                    anyhow::Error::new(e).context("invalid protocol argument"),
                )
            })
    };
    let store_for = |p: Option<&ProtocolId>| -> Result<_, CliError> {
        match p {
            Some(id) => Ok(orchestrator::locate(ctx, id)?),
            None => Ok(crate::services::platform::storage::Store::new(&ctx.paths)),
        }
    };
    match cmd {
        ClarifyCommand::List(scope) => {
            let p = parse(scope)?;
            let store = store_for(p.as_ref())?;
            let all = clarifications::list(&store, p.as_ref())?;
            if ui.is_json() {
                ui.json(&all);
            } else if all.is_empty() {
                ui.line("No questions.");
            } else {
                for c in &all {
                    let scope = c
                        .protocol
                        .as_ref()
                        .map_or_else(|| "project".to_owned(), ToString::to_string);
                    let state = match (&c.answer, c.blocking) {
                        (Some(a), _) => format!("answered: {a}"),
                        (None, true) => "OPEN, blocking".to_owned(),
                        (None, false) => "open".to_owned(),
                    };
                    ui.line(format!("{} [{scope}] {} ({state})", c.key, c.question));
                }
            }
        }
        ClarifyCommand::Answer { key, value, scope } => {
            let p = parse(scope)?;
            let store = store_for(p.as_ref())?;
            let c = clarifications::answer(ctx, &store, p.as_ref(), key, value)?;
            if ui.is_json() {
                ui.json(&c);
            } else {
                ui.line(format!("Answered {key}: {value}"));
            }
        }
        ClarifyCommand::Ask {
            key,
            question,
            blocking,
            scope,
        } => {
            let p = parse(scope)?;
            let store = store_for(p.as_ref())?;
            clarifications::ask(ctx, &store, p.as_ref(), key, question, *blocking, &[])?;
            ui.status(
                "Asked",
                &format!("{key}{}", if *blocking { " (blocking)" } else { "" }),
            );
        }
    }
    Ok(Outcome::Success)
}
