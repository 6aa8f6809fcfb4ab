//! The prompts service: maps a role (planning, decompose, exec, qa, discovery) to its prompt
//! template, built into the binary or overridden by the repository in
//! `.godzilla/prompts/<role>.md`, renders it with minijinja, and fingerprints it so every run
//! records exactly which prompt produced it.

use std::fmt;
use std::path::PathBuf;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage::{self, Store};

/// Prompt roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Turning a description into a plan and step files.
    Planning,
    /// Refining a step.
    Decompose,
    /// Executing a step.
    Exec,
    /// Reviewing a step.
    Qa,
    /// Discovering a repository.
    Discovery,
}

impl Role {
    /// Every role.
    pub const ALL: [Self; 5] = [
        Self::Planning,
        Self::Decompose,
        Self::Exec,
        Self::Qa,
        Self::Discovery,
    ];

    /// The role's name (also its file stem).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planning => "planning",
            Self::Decompose => "decompose",
            Self::Exec => "exec",
            Self::Qa => "qa",
            Self::Discovery => "discovery",
        }
    }

    fn builtin(self) -> &'static str {
        match self {
            Self::Planning => include_str!("../../prompts/planning.md"),
            Self::Decompose => include_str!("../../prompts/decompose.md"),
            Self::Exec => include_str!("../../prompts/exec.md"),
            Self::Qa => include_str!("../../prompts/qa.md"),
            Self::Discovery => include_str!("../../prompts/discovery.md"),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors from the prompts service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// The template does not parse or refers to an unknown variable.
    #[error("prompt template {source_name} cannot be rendered")]
    Render {
        /// `builtin:<role>` or the override's path.
        source_name: String,
        /// The template error (names line and variable).
        #[source]
        source: minijinja::Error,
    },
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            // An override template is the user's file.
            Self::Render { .. } => ErrorKind::Usage,
        }
    }
}

/// Where a prompt came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PromptSource {
    /// Built into godzilla.
    Builtin,
    /// The repository's override.
    Repo {
        /// Path relative to the working tree.
        path: String,
    },
}

/// A resolved prompt template.
#[derive(Clone, Debug, Serialize)]
pub struct ResolvedPrompt {
    /// Its role.
    pub role: Role,
    /// Where it came from.
    pub source: PromptSource,
    /// Template text.
    pub text: String,
    /// Fingerprint of the template: first 16 hex digits of its sha256.
    pub version_hash: String,
}

/// Short sha256 fingerprint of text.
pub fn fingerprint(text: &str) -> String {
    crate::digest::hex(&Sha256::digest(text.as_bytes())[..8])
}

/// The override path for a role.
pub fn override_path(store: &Store, role: Role) -> PathBuf {
    store.state_dir().join("prompts").join(format!("{role}.md"))
}

/// The template for `role`: the repository's override when present, else the built-in one.
pub fn resolve_prompt(store: &Store, role: Role) -> Result<ResolvedPrompt, Error> {
    let path = override_path(store, role);
    let (source, text) = match storage::read_optional(&path)? {
        Some(bytes) => (
            PromptSource::Repo {
                path: store.display(&path).into_owned(),
            },
            String::from_utf8_lossy(&bytes).into_owned(),
        ),
        None => (PromptSource::Builtin, role.builtin().to_owned()),
    };
    Ok(ResolvedPrompt {
        role,
        version_hash: fingerprint(&text),
        source,
        text,
    })
}

/// Every role with the template that wins.
pub fn list_prompts(store: &Store) -> Result<Vec<ResolvedPrompt>, Error> {
    Role::ALL
        .iter()
        .map(|r| resolve_prompt(store, *r))
        .collect()
}

impl ResolvedPrompt {
    /// Renders the template. Unknown variables are errors (a typo in an override must not
    /// silently produce an empty section).
    pub fn render(&self, vars: &serde_json::Value) -> Result<String, Error> {
        let name = match &self.source {
            PromptSource::Builtin => format!("builtin:{}", self.role),
            PromptSource::Repo { path } => path.clone(),
        };
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // Prompts are markdown, not HTML: no escaping.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        let err = |source| Error::Render {
            source_name: name.clone(),
            source,
        };
        env.set_syntax(
            SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .map_err(err)?,
        );
        env.add_template_owned(name.clone(), self.text.clone())
            .map_err(err)?;
        env.get_template(&name)
            .and_then(|t| t.render(Serde(vars)))
            .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> serde_json::Value {
        serde_json::json!({
            "protocol": {"id": "0001-x", "description": "do x"},
            "plan": "the plan",
            "step": {"id": "01-a", "text": "step text"},
            "guidelines": "",
            "feedback": "",
            "diff": "",
            "checks": [],
            "repo": "tree",
        })
    }

    #[test]
    fn every_builtin_renders() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path(), dir.path());
        for p in list_prompts(&store).unwrap() {
            let text = p.render(&vars()).unwrap();
            assert!(!text.is_empty());
            assert_eq!(p.source, PromptSource::Builtin);
        }
    }

    #[test]
    fn override_wins_and_typos_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path(), dir.path());
        storage::write_atomic(&override_path(&store, Role::Exec), b"Do {{ step.id }} now").unwrap();
        let p = resolve_prompt(&store, Role::Exec).unwrap();
        assert!(matches!(p.source, PromptSource::Repo { .. }));
        assert_eq!(p.render(&vars()).unwrap(), "Do 01-a now");
        assert_eq!(p.version_hash, fingerprint("Do {{ step.id }} now"));
        storage::write_atomic(&override_path(&store, Role::Exec), b"{{ stpe.id }}").unwrap();
        let err = resolve_prompt(&store, Role::Exec)
            .unwrap()
            .render(&vars())
            .unwrap_err();
        assert!(matches!(err, Error::Render { .. }));
    }

    #[test]
    fn values_are_not_template_code() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path(), dir.path());
        let mut v = vars();
        v["step"]["text"] = "{{ protocol.id }} $(touch x) <b>".into();
        let text = resolve_prompt(&store, Role::Exec)
            .unwrap()
            .render(&v)
            .unwrap();
        assert!(text.contains("{{ protocol.id }} $(touch x) <b>"));
    }
}
