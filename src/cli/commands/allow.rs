//! `godzilla allow`.

use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::platform::storage::Store;
use crate::services::trust;

/// Trust the commands `.godzilla/config.toml` defines ([checks] argv lists, engine profiles'
/// command/args/env) on this machine. Until then godzilla refuses to run them: a cloned
/// repository must not run code just because it was cloned. Any change to those sections
/// needs a new `allow`.
#[derive(clap::Args, Debug)]
pub struct AllowArgs {}

/// Runs `allow`.
pub fn run(ctx: &Context, ui: &mut Ui, _args: &AllowArgs) -> Result<Outcome, CliError> {
    let store = Store::new(&ctx.paths);
    store.check_format()?;
    let config = store.load_config()?;
    let sections = trust::command_sections(&config);
    let changed = trust::allow(&store, &config)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"trusted": sections, "changed": changed, "digest": trust::digest(&store, &config)}));
        return Ok(Outcome::Success);
    }
    for (name, argv) in &config.checks {
        ui.line(format!("check {name}: {}", argv.join(" ")));
    }
    for (name, p) in &config.engines {
        if let Some(command) = &p.command {
            ui.line(format!("engine {name}: {command} {}", p.args.join(" ")));
        }
        if !p.env.is_empty() {
            ui.line(format!("engine {name} env: {}", p.env.join(", ")));
        }
    }
    ui.line(if changed {
        "Trusted on this machine."
    } else {
        "Already trusted; nothing changed."
    });
    Ok(Outcome::Success)
}
