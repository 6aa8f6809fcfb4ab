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
    List(crate::cli::lazy::Lazy<ScopeArgs>),
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
    #[arg(long, value_name = "PROTOCOL", add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: Option<String>,
}

/// Runs a clarify command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &ClarifyCommand) -> Result<Outcome, CliError> {
    let parse = |scope: &ScopeArgs| {
        scope
            .protocol
            .as_deref()
            .map(|p| super::protocol_arg(ctx, p))
            .transpose()
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
            let all = match &p {
                Some(id) => clarifications::list(&store_for(Some(id))?, Some(id))?,
                None => everywhere(ctx)?,
            };
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
            let mut p = parse(scope)?;
            if p.is_none() {
                // Without --protocol: the one open question with that key, wherever it is.
                let open: Vec<_> = everywhere(ctx)?
                    .into_iter()
                    .filter(|c| &c.key == key && c.answer.is_none())
                    .collect();
                match open.as_slice() {
                    [one] => p.clone_from(&one.protocol),
                    [] => {}
                    _ => {
                        return Err(CliError::new(
                            ExitKind::Usage,
                            anyhow::anyhow!("several open questions are called `{key}`"),
                        )
                        .with_hint("name one with `--protocol`"));
                    }
                }
            }
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

/// Project questions and the questions of every protocol with a worktree.
fn everywhere(ctx: &Context) -> Result<Vec<clarifications::Clarification>, CliError> {
    let mut all = clarifications::list(
        &crate::services::platform::storage::Store::new(&ctx.paths),
        None,
    )?;
    for p in orchestrator::status(ctx, None)?.protocols {
        if let orchestrator::Location::Worktree { path } = &p.location {
            let store = crate::services::platform::storage::Store::at(
                std::path::Path::new(path),
                crate::services::platform::storage::Store::new(&ctx.paths).local_dir(),
            );
            all.extend(
                clarifications::list(&store, Some(&p.id))?
                    .into_iter()
                    .filter(|c| c.protocol.is_some()),
            );
        }
    }
    Ok(all)
}
