//! `.godzilla/config.toml`: the typed project configuration and its commented template.
//!
//! Parsing is pure (string in, `Config` out) so that every error can name the file and the
//! field; reading the file is the storage service's job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    pub branch_prefix: String,
    /// Where protocol worktrees go, relative to the working tree root; empty means
    /// `$GIT_COMMON_DIR/godzilla/worktrees` (outside every working tree, never committed).
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
    /// Environment variables passed through to the engine besides the allowlist.
    pub env: Vec<String>,
    /// Default model.
    pub model: Option<String>,
    /// Wall-clock timeout in seconds.
    pub timeout_secs: Option<u64>,
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

/// How budgets are enforced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetMode {
    /// Refuse runs over budget (exit 3).
    Strict,
    /// Record an event and continue.
    #[default]
    Warn,
    /// No budget checks.
    Off,
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

/// QA policy names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QaPolicy {
    /// No QA.
    Skip,
    /// Mechanical checks only.
    Light,
    /// Checks plus an LLM review.
    #[default]
    Full,
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
    env.set_keep_trailing_newline(true);
    env.add_template("config.toml", TEMPLATE)?;
    env.get_template("config.toml")?.render(values)
}

/// Parses config text. The error text names the line, column and field.
pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
    toml::from_str(text)
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
    fn unknown_field_is_named() {
        let err = parse("[project]\nbase_brunch = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("base_brunch"), "{err}");
    }
}
