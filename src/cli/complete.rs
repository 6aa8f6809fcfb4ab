//! Dynamic shell completion through the binary: the scripts `godzilla completions SHELL`
//! prints call back into `godzilla` (clap_complete's `COMPLETE=SHELL godzilla -- ARGS`), which
//! answers with flags, subcommands and the repository's own protocol and step ids.

use std::ffi::OsStr;
use std::sync::Arc;

use clap_complete::engine::CompletionCandidate;

use crate::context::Context;
use crate::domain::name::{IdMatch, resolve_short};
use crate::domain::{ProtocolId, StepId};
use crate::report::Silent;
use crate::services::orchestrator;
use crate::services::platform::storage::repo::ProtocolRepository;

/// Answers a completion request (`COMPLETE=bash godzilla -- ...`) and exits; returns when
/// this is a normal run.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(super::command)
        .completer("godzilla")
        .complete();
}

/// The registration script for `shell`: what a user sources once.
pub fn registration(shell: clap_complete::Shell) -> Vec<u8> {
    let name = match shell {
        clap_complete::Shell::Bash => "bash",
        clap_complete::Shell::Elvish => "elvish",
        clap_complete::Shell::Fish => "fish",
        clap_complete::Shell::PowerShell => "powershell",
        clap_complete::Shell::Zsh => "zsh",
        _ => "bash",
    };
    let mut out = Vec::new();
    if let Some(completer) = clap_complete::env::Shells::builtins().completer(name) {
        // Writing into a Vec cannot fail.
        let _ignored =
            completer.write_registration("COMPLETE", "godzilla", "godzilla", "godzilla", &mut out);
    }
    out
}

fn context() -> Option<Context> {
    let cwd = std::env::current_dir().ok()?;
    Context::discover(&cwd, Arc::new(Silent)).ok()
}

fn protocol_ids(ctx: &Context) -> Vec<(ProtocolId, String)> {
    orchestrator::status(ctx, None)
        .map(|s| {
            s.protocols
                .into_iter()
                .map(|p| (p.id, p.status.map_or("corrupt", |s| s.as_str()).to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a candidate id fits what is typed so far: a prefix of the id, of its slug, or its
/// number (what `protocol_arg` accepts).
fn fits(id: &str, number: u32, slug: &str, typed: &str) -> bool {
    typed.is_empty()
        || id.starts_with(typed)
        || slug.starts_with(typed)
        || typed.parse::<u64>().ok() == Some(u64::from(number))
}

/// Completes a protocol argument.
pub fn protocols(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(ctx) = context() else {
        return Vec::new();
    };
    let typed = current.to_string_lossy();
    protocol_ids(&ctx)
        .into_iter()
        .filter(|(id, _)| fits(id.as_str(), id.number(), id.slug(), &typed))
        .map(|(id, status)| CompletionCandidate::new(id.as_str()).help(Some(status.into())))
        .collect()
}

/// Completes a step argument: the steps of the protocol named earlier on the command line,
/// else of every protocol.
pub fn steps(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(ctx) = context() else {
        return Vec::new();
    };
    let typed = current.to_string_lossy();
    let known = protocol_ids(&ctx);
    let table: Vec<(ProtocolId, u32, &str)> = known
        .iter()
        .map(|(id, _)| (id.clone(), id.number(), id.slug()))
        .collect();
    // The words being completed follow `--`; the protocol is one of them.
    #[allow(clippy::disallowed_methods, reason = "the words to complete are argv")]
    let words: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(2).collect();
    let named = words
        .iter()
        .filter(|w| !w.starts_with('-') && **w != *typed)
        .find_map(|w| match resolve_short(w, &table) {
            IdMatch::One(id) => Some(id),
            IdMatch::Ambiguous(_) | IdMatch::None(_) => None,
        });
    let protocols: Vec<ProtocolId> = match named {
        Some(id) => vec![id],
        None => known.into_iter().map(|(id, _)| id).collect(),
    };
    let mut out: Vec<(StepId, String)> = Vec::new();
    for id in protocols {
        let Ok(store) = orchestrator::locate(&ctx, &id) else {
            continue;
        };
        let Ok(loaded) = ProtocolRepository::load_state(&store, &id) else {
            continue;
        };
        for s in loaded.state.steps {
            if !out.iter().any(|(o, _)| *o == s.id) {
                out.push((s.id, s.status.as_str().to_owned()));
            }
        }
    }
    out.into_iter()
        .filter(|(id, _)| fits(id.as_str(), id.number(), id.slug(), &typed))
        .map(|(id, status)| CompletionCandidate::new(id.as_str()).help(Some(status.into())))
        .collect()
}
