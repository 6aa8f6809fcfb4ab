//! Trust of repository-defined commands (DESIGN §7, the direnv model).
//!
//! `.godzilla/config.toml` travels with the repository, so a clone can carry commands that
//! godzilla would run: `[checks]` argv lists and `[engines.*]` profiles with their own
//! `command`, `args` and `env`. Those run only once this machine has trusted exactly that
//! content (`godzilla allow`), keyed on the sha256 of the repository's path and the canonical
//! form of those sections, and stored outside the repository (under the git common dir).
//! CI, where the repository is the point, passes `--trust-config` (or sets
//! `GODZILLA_TRUST_CONFIG=1`) instead.

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::domain::spec::canonical_json;
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::storage::{self, Store};

/// The sections of a config that define commands.
pub fn command_sections(config: &Config) -> serde_json::Value {
    serde_json::json!({"checks": config.checks, "engines": config.engines})
}

/// Whether the config defines any command that needs trust.
pub fn defines_commands(config: &Config) -> bool {
    !config.checks.is_empty()
        || config
            .engines
            .keys()
            .any(|n| !profile_parts(config, n).is_empty())
}

/// The settings of engine profile `name` that make it run what the repository says (its
/// executable, arguments, environment, ...): every field besides the adapter kind, the model
/// and the timeout. Empty when the profile only picks a built-in adapter.
pub fn profile_parts(config: &Config, name: &str) -> Vec<String> {
    let Some(profile) = config.engines.get(name) else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(profile) else {
        return vec!["settings".into()];
    };
    fields
        .into_iter()
        // `home` only chooses between the user's HOME and an isolated one: it runs nothing.
        .filter(|(key, _)| !matches!(key.as_str(), "kind" | "model" | "timeout_secs" | "home"))
        .filter(|(_, value)| match value {
            serde_json::Value::Null => false,
            serde_json::Value::Array(a) => !a.is_empty(),
            serde_json::Value::Object(o) => !o.is_empty(),
            serde_json::Value::String(s) => !s.is_empty(),
            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => true,
        })
        .map(|(key, _)| key)
        .collect()
}

/// The trust key of a config in a working tree.
pub fn digest(store: &Store, config: &Config) -> String {
    let mut hasher = Sha256::new();
    // The repository (its common dir), not the worktree: every protocol worktree of a trusted
    // repository shares the trust; another clone with the same config does not.
    hasher.update(store.local_dir().to_string_lossy().as_bytes());
    hasher.update([0]);
    hasher.update(canonical_json(&command_sections(config)).as_bytes());
    crate::digest::hex(&hasher.finalize())
}

fn marker(store: &Store, config: &Config) -> std::path::PathBuf {
    store.local_dir().join("trust").join(digest(store, config))
}

/// Whether the commands of `config` may run: none defined, trusted on this machine, or the
/// caller vouches for them (`override_flag`: `--trust-config`).
pub fn is_trusted(store: &Store, config: &Config, override_flag: bool) -> bool {
    override_flag || !defines_commands(config) || marker(store, config).is_file()
}

/// Trusts the commands of `config` on this machine. Returns whether anything changed.
pub fn allow(store: &Store, config: &Config) -> Result<bool, storage::Error> {
    let path = marker(store, config);
    if path.is_file() {
        return Ok(false);
    }
    let text = serde_json::to_string_pretty(&command_sections(config)).unwrap_or_default();
    // Vouched for, so that an engine guard running meanwhile keeps it.
    storage::ledger::record(store.local_dir(), &path, text.as_bytes())?;
    storage::write_atomic(&path, text.as_bytes())?;
    Ok(true)
}

/// Repository-defined commands that were not trusted.
#[derive(Debug, thiserror::Error)]
#[error("{what} in {} {} not trusted on this machine", path.display(), if *.plural { "are" } else { "is" })]
pub struct Untrusted {
    /// What would have run.
    pub what: String,
    /// Whether `what` is plural (for the verb).
    pub plural: bool,
    /// The config file.
    pub path: std::path::PathBuf,
}

impl HasKind for Untrusted {
    fn kind(&self) -> ErrorKind {
        // Trusting the file is the user's decision (`godzilla allow`).
        ErrorKind::Usage
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Refuses to go on when `engine` is a profile defining commands and the config is not trusted.
pub fn require_engine(
    store: &Store,
    config: &Config,
    override_flag: bool,
    engine: &str,
) -> Result<(), Untrusted> {
    let parts = profile_parts(config, engine);
    if !parts.is_empty() && !is_trusted(store, config, override_flag) {
        return Err(Untrusted {
            what: format!("the {} of engine `{engine}`", join_and(&parts)),
            plural: parts.len() > 1 || parts[0] == "args",
            path: store.project_config_path(),
        });
    }
    Ok(())
}

/// Refuses to go on when checks are defined and the config is not trusted.
pub fn require_checks(
    store: &Store,
    config: &Config,
    override_flag: bool,
) -> Result<(), Untrusted> {
    if !config.checks.is_empty() && !is_trusted(store, config, override_flag) {
        return Err(Untrusted {
            what: "the [checks] commands".into(),
            plural: true,
            path: store.project_config_path(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineProfile;

    #[test]
    fn untrusted_message_names_what_the_profile_defines() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path(), &dir.path().join("local"));
        let mut config = Config::default();
        config.engines.insert(
            "a".into(),
            EngineProfile {
                kind: Some("claude".into()),
                args: vec!["--x".into()],
                ..EngineProfile::default()
            },
        );
        config.engines.insert(
            "b".into(),
            EngineProfile {
                kind: Some("claude".into()),
                model: Some("m".into()),
                ..EngineProfile::default()
            },
        );
        let err = require_engine(&store, &config, false, "a").unwrap_err();
        assert!(
            err.to_string().starts_with("the args of engine `a` in ")
                && err
                    .to_string()
                    .ends_with(" are not trusted on this machine"),
            "{err}"
        );
        // A profile that only picks an adapter and a model runs nothing the repository wrote.
        assert!(profile_parts(&config, "b").is_empty());
        require_engine(&store, &config, false, "b").unwrap();
        allow(&store, &config).unwrap();
        require_engine(&store, &config, false, "a").unwrap();
    }
}
