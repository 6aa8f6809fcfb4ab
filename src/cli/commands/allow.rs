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
    // Exactly what the trust covers (the digest is over these sections), every profile field
    // included, in the config's own syntax.
    #[derive(serde::Serialize)]
    struct Trusted<'a> {
        checks: &'a std::collections::BTreeMap<String, Vec<String>>,
        engines: &'a std::collections::BTreeMap<String, crate::config::EngineProfile>,
    }
    let text = toml::to_string(&Trusted {
        checks: &config.checks,
        engines: &config.engines,
    })
    .unwrap_or_default();
    ui.line(format!(
        "Trusted content of {} (all of [checks] and [engines.*]):",
        store.display(&store.config_path())
    ));
    ui.line(text.trim_end());
    ui.line(if changed {
        "Trusted on this machine."
    } else {
        "Already trusted; nothing changed."
    });
    Ok(Outcome::Success)
}
