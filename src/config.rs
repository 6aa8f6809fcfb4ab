//! `.godzilla/config.toml`: the typed project configuration and its commented template.
//!
//! Parsing is pure (string in, `Config` out) so that every error can name the file and the
//! field; reading the file is the storage service's job.

use std::collections::BTreeMap;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

// The policy enums are domain values (a spec and a budget decision carry them); the config
// file only chooses their defaults.
pub use crate::domain::budget::BudgetMode;
pub use crate::domain::spec::QaPolicy;

/// The template `godzilla init` renders into `.godzilla/config.toml`.
pub const TEMPLATE: &str = include_str!("../templates/config.toml.j2");

/// The project configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Repository-wide settings.
    pub project: ProjectConfig,
    /// Engine profiles by name.
    pub engines: BTreeMap<String, EngineProfile>,
    /// Engine and model per phase.
    pub phases: Phases,
    /// Limits of engine runs.
    pub execution: ExecutionConfig,
    /// Token budgets.
    pub budget: BudgetConfig,
    /// QA defaults.
    pub qa: QaConfig,
    /// Mechanical checks QA runs, by name (`lint`, `test`, `build`...), each an argv list.
    pub checks: BTreeMap<String, Vec<String>>,
    /// Prices per model (USD per million tokens), over the built-in list.
    pub prices: BTreeMap<String, Price>,
}

/// `[prices.MODEL]`: what one model costs, in USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Input (prompt) tokens not served from cache.
    pub input: f64,
    /// Input tokens served from cache; the input price when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached: Option<f64>,
    /// Output tokens (reasoning included).
    pub output: f64,
}

/// `[project]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProjectConfig {
    /// Branch protocols start from and PRs target.
    pub base_branch: String,
    /// CI provider: `github`, `gitlab` or `none`.
    pub ci: CiProvider,
    /// Prefix of protocol branches.
    #[serde(deserialize_with = "branch_prefix")]
    pub branch_prefix: String,
    /// Where protocol worktrees go, relative to the working tree root (or absolute); empty
    /// means `$XDG_DATA_HOME/godzilla/worktrees/<repo-key>` (outside `.git`, where agents
    /// refuse to edit, and outside every working tree).
    pub worktree_dir: String,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        Self {
            base_branch: "main".into(),
            ci: CiProvider::None,
            branch_prefix: "godzilla/".into(),
            worktree_dir: String::new(),
        }
    }
}

/// Supported CI providers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CiProvider {
    /// GitHub Actions.
    Github,
    /// GitLab CI.
    Gitlab,
    /// No CI integration.
    #[default]
    None,
}

impl CiProvider {
    /// The name used in config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::None => "none",
        }
    }
}

/// `[engines.NAME]`: how to run one engine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineProfile {
    /// Adapter: `codex`, `claude`, `opencode`, `gemini`, `command` or `replay`.
    pub kind: Option<String>,
    /// Executable to run (a name on PATH or a path).
    pub command: Option<String>,
    /// Extra arguments (for `command`: the argv template).
    pub args: Vec<String>,
    /// Environment of the engine besides the allowlist: a list of host variable names to pass
    /// through (`"NAME"`) or values to set (`"NAME=VALUE"`), or a table of values
    /// (`{ NAME = "value" }`). Values that look like secrets are scrubbed like secrets.
    #[serde(deserialize_with = "env_entries")]
    pub env: Vec<String>,
    /// Base URL of the model API (a local OpenAI-compatible server, a gateway, the vendor's
    /// API): each adapter maps it to its CLI's own setting.
    pub base_url: Option<String>,
    /// Name of the host variable holding the API key; each adapter hands the key to its CLI
    /// the way that CLI reads it.
    pub api_key_env: Option<String>,
    /// `isolated` runs the engine with a HOME (and XDG dirs) of its own under
    /// `$GIT_COMMON_DIR/godzilla/homes/<engine>`, so the user's config, auth and plugins do
    /// not leak into runs; `inherit` (the default) passes the user's HOME.
    pub home: HomeMode,
    /// Default model.
    pub model: Option<String>,
    /// Wall-clock timeout in seconds.
    pub timeout_secs: Option<u64>,
    /// For `kind = "replay"`: the directory of recordings it answers from (relative paths are
    /// taken from the worktree).
    pub transcripts: Option<String>,
    /// Store every run of this engine as a recording in this directory (as `--record DIR`;
    /// absolute, so recordings never land in the worktree).
    pub record: Option<String>,
}

impl EngineProfile {
    /// Whether running this profile does something the repository decides (a program, its
    /// arguments, its environment, where its requests and key go): such a profile runs only
    /// once the config is trusted.
    pub fn needs_trust(&self) -> bool {
        self.command.is_some()
            || !self.args.is_empty()
            || !self.env.is_empty()
            || self.base_url.is_some()
            || self.api_key_env.is_some()
            || self.record.is_some()
            || self.transcripts.is_some()
    }
}

/// Which HOME an engine runs with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HomeMode {
    /// The user's HOME.
    #[default]
    Inherit,
    /// A HOME of the engine's own, machine-local and shared by the repository's worktrees.
    Isolated,
}

/// `env` as a list of `NAME` / `NAME=VALUE` entries, or a table of values.
fn env_entries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(
        untagged,
        expecting = "a list of variable names (or NAME=VALUE), or a table of values"
    )]
    enum Env {
        List(Vec<String>),
        Table(BTreeMap<String, String>),
    }
    Ok(match Env::deserialize(d)? {
        Env::List(list) => list,
        Env::Table(table) => table.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
    })
}

/// `[phases.*]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Phases {
    /// Planning a protocol.
    pub planning: PhaseConfig,
    /// Refining steps.
    pub decompose: PhaseConfig,
    /// Executing steps.
    pub exec: PhaseConfig,
    /// Reviewing steps.
    pub qa: PhaseConfig,
    /// Discovering the repository.
    pub discovery: PhaseConfig,
}

/// Engine and model for one phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhaseConfig {
    /// Engine profile name.
    pub engine: Option<String>,
    /// Model name.
    pub model: Option<String>,
}

/// `[execution]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionConfig {
    /// Wall-clock limit of one engine run, in seconds (an engine profile may set its own).
    pub timeout_secs: u64,
    /// Kill an engine that prints nothing for this many seconds.
    pub stall_timeout_secs: u64,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 1800,
            stall_timeout_secs: 600,
        }
    }
}

/// `[budget]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// `strict` refuses a run over budget, `warn` records and goes on, `off` ignores budgets.
    pub mode: BudgetMode,
    /// Token limit for one step attempt.
    pub max_tokens_per_step: Option<u64>,
    /// Token limit for a whole protocol.
    pub max_tokens_per_protocol: Option<u64>,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            mode: BudgetMode::Warn,
            max_tokens_per_step: None,
            max_tokens_per_protocol: None,
        }
    }
}

/// `[qa]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QaConfig {
    /// Default QA policy for work steps: `skip`, `light` or `full`.
    pub policy: QaPolicy,
    /// Timeout for each check command, in seconds.
    pub check_timeout_secs: u64,
    /// Attempts after the first when QA fails, for steps without a loop policy of their own.
    pub max_iterations: u32,
}

impl Default for QaConfig {
    fn default() -> Self {
        Self {
            policy: QaPolicy::Full,
            check_timeout_secs: 900,
            max_iterations: 2,
        }
    }
}

/// Values `godzilla init` puts into the template.
#[derive(Clone, Debug, Serialize)]
pub struct TemplateValues {
    /// Base branch.
    pub base_branch: String,
    /// CI provider name.
    pub ci: String,
    /// Default engine for every phase, if one was given.
    pub engine: Option<String>,
}

/// Renders the commented config template.
pub fn render_template(values: &TemplateValues) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()?,
    );
    env.add_template("config.toml", TEMPLATE)?;
    env.get_template("config.toml")?.render(Serde(values))
}

/// A branch prefix is validated like every other name that reaches a ref or argv: empty, or
/// `/`-separated parts each made of `[a-z0-9._-]`, not starting with `-` or `.`, with no `..`
/// and no `.lock` part, optionally ending in `/` or `-`.
fn branch_prefix<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let prefix = String::deserialize(d)?;
    check_branch_prefix(&prefix).map_err(serde::de::Error::custom)?;
    Ok(prefix)
}

/// Why a `branch_prefix` cannot start protocol branch names.
#[derive(Debug, thiserror::Error)]
pub enum BranchPrefixError {
    /// Only a separator, no name.
    #[error("branch_prefix `{0}` has no name before its separator")]
    NoName(String),
    /// A part of it is not a valid name. The reason is part of the message, not a cause,
    /// because the config parser shows only this error's own text.
    #[error("branch_prefix `{}`: {why}", prefix.escape_default())]
    BadPart {
        /// The prefix.
        prefix: String,
        /// What is wrong with the part.
        why: crate::domain::name::NameError,
    },
}

/// Why `prefix` cannot start protocol branch names, if it cannot.
pub fn check_branch_prefix(prefix: &str) -> Result<(), BranchPrefixError> {
    let body = prefix
        .strip_suffix('/')
        .or_else(|| prefix.strip_suffix('-'))
        .unwrap_or(prefix);
    if body.is_empty() {
        return if prefix.is_empty() {
            Ok(())
        } else {
            Err(BranchPrefixError::NoName(prefix.to_owned()))
        };
    }
    for part in body.split('/') {
        crate::domain::name::check_component(part).map_err(|why| BranchPrefixError::BadPart {
            prefix: prefix.to_owned(),
            why,
        })?;
    }
    Ok(())
}

/// Parses config text. The error text names the line, column and field.
pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
    toml::from_str(text)
}

impl Config {
    /// sha256 (hex) of the config's canonical JSON: what run records keep, so that a later
    /// change of the config in effect is visible. Comments and layout do not change it.
    pub fn digest(&self) -> String {
        let canonical =
            crate::domain::spec::canonical_json(&serde_json::to_value(self).unwrap_or_default());
        crate::digest::sha256_hex(canonical.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_renders_and_parses() {
        let text = render_template(&TemplateValues {
            base_branch: "trunk".into(),
            ci: "github".into(),
            engine: Some("codex".into()),
        })
        .unwrap();
        let config = parse(&text).unwrap();
        assert_eq!(config.project.base_branch, "trunk");
        assert_eq!(config.project.ci, CiProvider::Github);
        assert_eq!(config.phases.exec.engine.as_deref(), Some("codex"));
    }

    #[test]
    fn engine_profile_env_as_list_or_table_and_endpoint_options() {
        let config = parse(
            r#"
[engines.a]
env = ["OPENAI_API_KEY", "NO_COLOR=1"]
[engines.b]
env = { OPENAI_BASE_URL = "http://127.0.0.1:11434/v1", NO_COLOR = "1" }
base_url = "http://127.0.0.1:11434/v1"
api_key_env = "OLLAMA_KEY"
home = "isolated"
"#,
        )
        .unwrap();
        assert_eq!(config.engines["a"].env, ["OPENAI_API_KEY", "NO_COLOR=1"]);
        assert_eq!(config.engines["a"].home, HomeMode::Inherit);
        let b = &config.engines["b"];
        assert_eq!(
            b.env,
            ["NO_COLOR=1", "OPENAI_BASE_URL=http://127.0.0.1:11434/v1"]
        );
        assert_eq!(b.base_url.as_deref(), Some("http://127.0.0.1:11434/v1"));
        assert_eq!(b.api_key_env.as_deref(), Some("OLLAMA_KEY"));
        assert_eq!(b.home, HomeMode::Isolated);
        assert!(b.needs_trust());
        let only_url = parse("[engines.c]\nbase_url = \"http://x\"\n").unwrap();
        assert!(only_url.engines["c"].needs_trust());
        assert!(!EngineProfile::default().needs_trust());
        let err = parse("[engines.d]\nenv = 3\n").unwrap_err().to_string();
        assert!(err.contains("a list of variable names"), "{err}");
        let err = parse("[engines.d]\nhome = \"shared\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("isolated"), "{err}");
    }

    #[test]
    fn branch_prefix_is_validated() {
        for good in ["", "godzilla/", "gz-", "team/bots/", "a"] {
            assert!(check_branch_prefix(good).is_ok(), "{good:?}");
        }
        for bad in [
            "-x/", "../", "a/../b/", "x y/", "a.lock/", "/", ".hidden/", "a//b", "é/",
        ] {
            assert!(check_branch_prefix(bad).is_err(), "{bad:?}");
        }
        let err = parse("[project]\nbranch_prefix = \"-oProxyCommand=x/\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("branch_prefix"), "{err}");
    }

    #[test]
    fn unknown_field_is_named() {
        let err = parse("[project]\nbase_brunch = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("base_brunch"), "{err}");
    }
}
