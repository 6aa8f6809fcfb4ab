//! Policy packs: guidelines for the planning, execution and QA prompts, sections every step
//! must have (enforced in `warn` or `block` mode), and questions to ask before planning.
//!
//! Built-in packs are `default`, `strict` and `docs-only`; `.godzilla/policy.toml` picks one and
//! may add to it:
//!
//! ```toml
//! pack = "strict"            # default | strict | docs-only
//! mode = "block"             # warn | block (required sections)
//! guidelines = "Use the existing error type; no new dependencies."
//! required_sections = ["Rollback"]   # added to the pack's
//! [[clarifications]]
//! key = "data_classification"
//! question = "Which data classification applies?"
//! blocking = true
//! ```

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::clarifications;
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage::{self, Store};

/// Errors reading the policy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file does not parse, or names an unknown pack.
    #[error("invalid {}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// Why (line, column, field).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// Asking a pack's question failed.
    #[error(transparent)]
    Clarifications(#[from] clarifications::Error),
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid { .. } => ErrorKind::Usage,
            Self::Infra(e) => e.kind(),
            Self::Clarifications(e) => e.kind(),
        }
    }
}

/// How required sections are enforced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Report missing sections, go on.
    #[default]
    Warn,
    /// A plan with a step missing a section is refused (retried, then blocked).
    Block,
}

/// A question a pack asks before planning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackQuestion {
    /// Key.
    pub key: String,
    /// The question.
    pub question: String,
    /// Whether runs stop until it is answered.
    #[serde(default)]
    pub blocking: bool,
}

/// `.godzilla/policy.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyFile {
    /// Built-in pack name.
    pub pack: Option<String>,
    /// Enforcement of required sections.
    pub mode: Option<Mode>,
    /// Extra guidelines for every prompt.
    pub guidelines: Option<String>,
    /// Extra required step sections.
    pub required_sections: Vec<String>,
    /// Extra questions.
    pub clarifications: Vec<PackQuestion>,
}

/// The policy in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Pack name.
    pub pack: String,
    /// Enforcement mode.
    pub mode: Mode,
    /// Guidelines given to planning, execution and QA prompts.
    pub guidelines: String,
    /// Headings every step must have.
    pub required_sections: Vec<String>,
    /// Questions asked before planning.
    pub clarifications: Vec<PackQuestion>,
}

/// The built-in packs.
pub const PACKS: [&str; 3] = ["default", "strict", "docs-only"];

fn builtin(name: &str) -> Option<Policy> {
    let (guidelines, sections, mode): (&str, &[&str], Mode) = match name {
        "default" => ("", &[], Mode::Warn),
        "strict" => (
            "- Keep each change small and focused on its step; no drive-by refactors.\n\
             - Every behaviour change comes with a test that would fail without it.\n\
             - Run the project's checks before you finish and report their result.\n\
             - No new dependencies unless the step asks for one.",
            &["Context", "Changes", "Verification"],
            Mode::Block,
        ),
        "docs-only" => (
            "- Change documentation only (Markdown, comments, docs/); do not change program behaviour.\n\
             - Keep examples runnable and links working.",
            &[],
            Mode::Warn,
        ),
        _ => return None,
    };
    Some(Policy {
        pack: name.to_owned(),
        mode,
        guidelines: guidelines.to_owned(),
        required_sections: sections.iter().map(|s| (*s).to_owned()).collect(),
        clarifications: Vec::new(),
    })
}

/// The project's policy: the chosen pack plus `policy.toml` in [`Store::project_dir`].
pub fn load(store: &Store) -> Result<Policy, Error> {
    let path = store.project_dir().join("policy.toml");
    let file: PolicyFile = match storage::read_optional(&path)? {
        None => PolicyFile::default(),
        Some(bytes) => {
            toml::from_str(&String::from_utf8_lossy(&bytes)).map_err(|e| Error::Invalid {
                path: path.clone(),
                source: Box::new(e),
            })?
        }
    };
    let name = file.pack.clone().unwrap_or_else(|| "default".to_owned());
    let mut policy = builtin(&name).ok_or_else(|| Error::Invalid {
        path: path.clone(),
        source: format!("unknown pack `{name}` (known: {})", PACKS.join(", ")).into(),
    })?;
    if let Some(mode) = file.mode {
        policy.mode = mode;
    }
    if let Some(extra) = file.guidelines.filter(|g| !g.trim().is_empty()) {
        if !policy.guidelines.is_empty() {
            policy.guidelines.push('\n');
        }
        policy.guidelines.push_str(&extra);
    }
    for s in file.required_sections {
        if !policy
            .required_sections
            .iter()
            .any(|x| x.eq_ignore_ascii_case(&s))
        {
            policy.required_sections.push(s);
        }
    }
    policy.clarifications = file.clarifications;
    if !policy.required_sections.is_empty() {
        if !policy.guidelines.is_empty() {
            policy.guidelines.push('\n');
        }
        policy.guidelines.push_str(&format!(
            "- Every step file has these sections as headings: {}.",
            policy.required_sections.join(", ")
        ));
    }
    Ok(policy)
}

/// Required sections `text` lacks (a heading of any level whose title matches, ignoring case).
pub fn missing_sections(policy: &Policy, text: &str) -> Vec<String> {
    let headings: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let t = l.trim_start();
            t.starts_with('#')
                .then(|| t.trim_start_matches('#').trim().to_lowercase())
        })
        .collect();
    policy
        .required_sections
        .iter()
        .filter(|s| !headings.iter().any(|h| h == &s.to_lowercase()))
        .cloned()
        .collect()
}

/// Asks the policy's questions of `protocol` (once: an answered one stays answered; one
/// answered at project scope counts too).
pub fn ensure_clarifications(
    ctx: &Context,
    store: &Store,
    protocol: &crate::domain::ProtocolId,
    policy: &Policy,
) -> Result<(), Error> {
    let existing = clarifications::list(store, Some(protocol))?;
    for q in &policy.clarifications {
        if !existing.iter().any(|c| c.key == q.key) {
            clarifications::ask(
                ctx,
                store,
                Some(protocol),
                &q.key,
                &q.question,
                q.blocking,
                &[],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path(), dir.path());
        assert_eq!(load(&store).unwrap().pack, "default");
        storage::write_atomic(
            &store.state_dir().join("policy.toml"),
            b"pack = \"strict\"\nmode = \"warn\"\nguidelines = \"No unsafe.\"\nrequired_sections = [\"Rollback\"]\n",
        )
        .unwrap();
        let p = load(&store).unwrap();
        assert_eq!(p.mode, Mode::Warn);
        assert_eq!(
            p.required_sections,
            ["Context", "Changes", "Verification", "Rollback"]
        );
        assert!(p.guidelines.contains("No unsafe.") && p.guidelines.contains("Rollback"));
        assert_eq!(
            missing_sections(&p, "# Title\n## Context\nx\n### changes\n"),
            ["Verification", "Rollback"]
        );
        storage::write_atomic(&store.state_dir().join("policy.toml"), b"pack = \"lax\"\n").unwrap();
        assert!(
            load(&store)
                .unwrap_err()
                .to_string()
                .contains("policy.toml")
        );
    }
}
