//! `godzilla discover`: an engine looks at the repository read-only and reports its stack,
//! commands and CI into `.godzilla/discovery.md`; `--apply` sets `[checks]` from it.

use std::time::Duration;

use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::onboarding::{self, DiscoveryOptions};

/// Arguments of `discover`.
#[derive(clap::Args, Debug)]
pub struct DiscoverArgs {
    /// Also set the build, test and lint `[checks]` in .godzilla/config.toml from the
    /// report (comments and other settings are kept; commands that need a shell are not
    /// applied).
    #[arg(long)]
    pub apply: bool,
    /// Engine to use (overrides [phases.discovery]).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Model to use.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Wall-clock limit of the engine run, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Queue the discovery for `godzilla worker` instead; prints the job id.
    #[arg(long = "async")]
    pub run_async: bool,
}

/// Runs `discover`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &DiscoverArgs) -> Result<Outcome, CliError> {
    if args.run_async {
        let job = crate::services::worker::enqueue_onboard_project(
            ctx,
            args.apply,
            crate::services::platform::queue::EngineChoice {
                engine: args.engine.clone(),
                model: args.model.clone(),
                timeout_secs: args.timeout,
            },
        )?;
        return Ok(super::queue::render_queued(ui, &job));
    }
    let outcome = onboarding::run_discovery(
        ctx,
        &DiscoveryOptions {
            engine: args.engine.clone(),
            model: args.model.clone(),
            timeout: args.timeout.map(Duration::from_secs),
            apply: args.apply,
        },
    )?;
    if ui.is_json() {
        ui.json(&outcome);
        return Ok(Outcome::Success);
    }
    ui.line(format!(
        "Wrote {} ({}{}, {} tokens)",
        outcome.path,
        outcome.engine,
        outcome
            .model
            .as_deref()
            .map(|m| format!(" {m}"))
            .unwrap_or_default(),
        outcome.tokens
    ));
    if outcome.commands.is_empty() {
        ui.line("  no build, test or lint command found");
    }
    for c in &outcome.commands {
        let note = match &c.problem {
            Some(problem) => format!("  (not applicable as a check: {problem})"),
            None if outcome.applied.iter().any(|a| a.name == c.purpose) => "  (applied)".into(),
            None => String::new(),
        };
        ui.line(format!(
            "  {:<6} {}{note}",
            format!("{}:", c.purpose),
            c.command
        ));
    }
    if outcome.apply {
        if outcome.applied.is_empty() {
            ui.line("[checks] in .godzilla/config.toml already match; nothing changed");
        } else {
            let names: Vec<&str> = outcome.applied.iter().map(|a| a.name.as_str()).collect();
            ui.line(format!(
                "Updated [checks] in .godzilla/config.toml: {}",
                names.join(", ")
            ));
        }
    } else if outcome.commands.iter().any(|c| c.problem.is_none()) {
        ui.line("Run `godzilla discover --apply` to store these as [checks].");
    }
    Ok(Outcome::Success)
}
