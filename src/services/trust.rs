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
            .values()
            .any(|p| p.command.is_some() || !p.args.is_empty() || !p.env.is_empty())
}

/// The trust key of a config in a working tree.
pub fn digest(store: &Store, config: &Config) -> String {
    let mut hasher = Sha256::new();
    // The repository (its common dir), not the worktree: every protocol worktree of a trusted
    // repository shares the trust; another clone with the same config does not.
    hasher.update(store.local_dir().to_string_lossy().as_bytes());
    hasher.update([0]);
    hasher.update(canonical_json(&command_sections(config)).as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
#[error("{what} in {} are not trusted on this machine", path.display())]
pub struct Untrusted {
    /// What would have run.
    pub what: String,
    /// The config file.
    pub path: std::path::PathBuf,
}

/// Refuses to go on when `engine` is a profile defining commands and the config is not trusted.
pub fn require_engine(
    store: &Store,
    config: &Config,
    override_flag: bool,
    engine: &str,
) -> Result<(), Untrusted> {
    let defines = config
        .engines
        .get(engine)
        .is_some_and(|p| p.command.is_some() || !p.args.is_empty() || !p.env.is_empty());
    if defines && !is_trusted(store, config, override_flag) {
        return Err(Untrusted {
            what: format!("the command of engine `{engine}`"),
            path: store.config_path(),
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
            path: store.config_path(),
        });
    }
    Ok(())
}
