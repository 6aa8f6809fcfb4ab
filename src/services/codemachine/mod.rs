//! CodeMachine import: reads a `.codemachine` workspace into steps with policies.
//!
//! A workspace holds `config/main.agents.js` (required), `config/sub.agents.js`,
//! `config/modules.js`, `config/placeholders.js` and `template.json`. The `.js` files are
//! JavaScript modules whose export is an array or object *literal*; this module strips the
//! export wrapper (`module.exports =`, `export default`, `const x = …; module.exports = x`)
//! by blanking it with spaces, so every line and column the JSON5 parser reports is a line
//! and column of the real file. JavaScript is never evaluated: `require`, `path.join` and
//! variables are reported as errors at their position rather than guessed at.
//!
//! Main agents become steps `NN-<agent slug>` whose text is the agent's prompt file.
//! Sub agents do not become steps: CodeMachine runs them on demand, when a main agent asks
//! for one, so making them sequential steps would run work nobody requested. They are listed
//! in the plan and in a warning instead. Modules with loop or trigger behaviour become
//! [`StepPolicy`]s; anything else is reported in [`Imported::warnings`], never dropped
//! silently.
//!
//! This module only reads. It does not create protocols or write files (the caller persists
//! an [`Imported`]), and it never prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod parse;
mod plan;
mod policies;
mod prompts;
mod tokenizer;

use parse::{JsFile, Workspace, parse_agents, parse_modules, parse_placeholders, parse_sub_agents};
use plan::{first_heading, first_paragraph, render_plan};
use policies::attach_policies;
use prompts::{load_template, read_optional, read_prompts};

use super::import::{Imported, ReadError};
use crate::config::QaPolicy;
use crate::domain::StepId;
use crate::domain::name::slugify;
use crate::domain::spec::step_from_file;
use crate::error_kind::{ErrorKind, HasKind};

/// Deepest bracket nesting accepted in a `.js` file. The JSON5 parser recurses once per
/// level, so an untrusted `[[[[…` must be refused before it can exhaust the stack.
pub const MAX_NESTING: usize = 64;

/// Loop iterations used when a loop module does not say how many it allows (the original
/// treated that as unbounded, which a spec may not be).
pub const DEFAULT_LOOP_ITERATIONS: u32 = 3;

/// Longest slug taken from an agent id, so `NN-slug` stays well under the name limit.
const SLUG_LEN: usize = 40;

/// Why a workspace could not be imported. Every variant names a file; problems inside a
/// file carry its 1-based line and column.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory holds no `config/main.agents.js`.
    #[error("{} is not a CodeMachine workspace: {} is missing", root.display(), missing.display())]
    NotAWorkspace {
        /// The directory given.
        root: PathBuf,
        /// The file that was looked for.
        missing: PathBuf,
    },
    /// A workspace file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadError,
    },
    /// A file is not a valid literal (bad JSON5, an unsupported JavaScript construct, too deep).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// A file parses but an entry does not have the expected shape.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the entry.
        line: usize,
        /// 1-based column of the entry.
        column: usize,
        /// What is wrong with it.
        message: String,
    },
    /// An agent's prompt path is absolute or leaves the workspace.
    #[error(
        "{}:{line}:{column}: agent `{agent}`: prompt path `{prompt}` {reason}",
        path.display()
    )]
    PromptOutside {
        /// `main.agents.js`.
        path: PathBuf,
        /// 1-based line of the agent entry.
        line: usize,
        /// 1-based column of the agent entry.
        column: usize,
        /// The agent id.
        agent: String,
        /// The prompt path after placeholders.
        prompt: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An agent's prompt file does not exist.
    #[error(
        "{}:{line}:{column}: agent `{agent}`: prompt file `{prompt}` not found under {}",
        path.display(),
        workspace.display()
    )]
    PromptMissing {
        /// `main.agents.js`.
        path: PathBuf,
        /// 1-based line of the agent entry.
        line: usize,
        /// 1-based column of the agent entry.
        column: usize,
        /// The agent id.
        agent: String,
        /// The prompt path after placeholders.
        prompt: String,
        /// The workspace directory searched.
        workspace: PathBuf,
    },
    /// An agent's prompt file could not be read.
    #[error("agent `{agent}`: cannot read prompt file {}", path.display())]
    PromptRead {
        /// The agent id.
        agent: String,
        /// The prompt file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadError,
    },
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        // The workspace named is not one godzilla can import, whichever way.
        match self {
            Self::NotAWorkspace { .. }
            | Self::Read { .. }
            | Self::Syntax { .. }
            | Self::Invalid { .. }
            | Self::PromptOutside { .. }
            | Self::PromptMissing { .. }
            | Self::PromptRead { .. } => ErrorKind::Usage,
        }
    }
}

/// Reads the CodeMachine workspace at `root` (the `.codemachine` folder or a folder that
/// contains one) into steps. `default_qa` is the QA policy of steps that do not skip QA.
pub fn import_workspace(root: &Path, default_qa: QaPolicy) -> Result<Imported, Error> {
    let ws = Workspace::locate(root);
    let main_path = ws.cm.join("config").join("main.agents.js");
    if !main_path.is_file() {
        return Err(Error::NotAWorkspace {
            root: root.to_owned(),
            missing: main_path,
        });
    }
    let mut warnings = Vec::new();
    let main = JsFile::load(&main_path, &ws.project)?;
    let agents = parse_agents(&main)?;
    let sub = match JsFile::load_optional(&ws.cm.join("config").join("sub.agents.js"), &ws.project)?
    {
        Some(file) => parse_sub_agents(&file)?,
        None => Vec::new(),
    };
    let modules =
        match JsFile::load_optional(&ws.cm.join("config").join("modules.js"), &ws.project)? {
            Some(file) => parse_modules(&file, &mut warnings)?,
            None => Vec::new(),
        };
    let placeholders =
        match JsFile::load_optional(&ws.cm.join("config").join("placeholders.js"), &ws.project)? {
            Some(file) => parse_placeholders(&file, &mut warnings)?,
            None => BTreeMap::new(),
        };
    let template = load_template(&ws.cm.join("template.json"), &ws.project)?;

    if agents.is_empty() {
        return Err(main.invalid(None, "no main agents: the export is an empty array".into()));
    }

    let mut steps = Vec::with_capacity(agents.len());
    for (i, agent) in agents.iter().enumerate() {
        let slug = slugify(&agent.id, SLUG_LEN);
        let id = StepId::parse(&format!("{:02}-{slug}", i + 1)).map_err(|e| {
            main.invalid(
                Some(agent.index),
                format!("agent id `{}` gives no step id: {e}", agent.id),
            )
        })?;
        let mut spec = step_from_file(id, agent.name.clone(), default_qa);
        spec.engine = agent.engine.clone().or_else(|| template.engine.clone());
        // `executeModel` is a model of the template's engine: giving it to an agent that
        // picked another engine would name a model that engine does not have.
        spec.model = agent.model.clone().or_else(|| {
            (spec.engine == template.engine)
                .then(|| template.model.clone())
                .flatten()
        });
        let text = read_prompts(&ws, &main, agent, &placeholders, &mut warnings)?;
        steps.push((spec, text));
    }

    attach_policies(&agents, &sub, &modules, &mut steps, &mut warnings);

    if !sub.is_empty() {
        let ids: Vec<String> = sub.iter().map(|s| format!("`{}`", s.id)).collect();
        warnings.push(format!(
            "sub agents {} are not imported as steps: CodeMachine runs them on demand from a \
             main agent, not in sequence",
            ids.join(", ")
        ));
    }

    let specification =
        read_optional(&ws.cm.join("inputs").join("specifications.md"), &ws.project)?;
    let title = specification.as_deref().and_then(first_heading);
    let short_name = [
        title.clone(),
        template.name.clone(),
        ws.project
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
    ]
    .into_iter()
    .flatten()
    .map(|t| slugify(&t, SLUG_LEN))
    .find(|s| !s.is_empty())
    .unwrap_or_else(|| "codemachine-import".into());
    let description = match (&title, specification.as_deref().and_then(first_paragraph)) {
        (Some(t), Some(p)) => format!("{t}: {p}"),
        (Some(t), None) => t.clone(),
        (None, _) => format!(
            "CodeMachine workflow{} with {} main agents",
            template
                .name
                .as_deref()
                .map(|n| format!(" `{n}`"))
                .unwrap_or_default(),
            agents.len()
        ),
    };
    let plan = render_plan(&agents, &sub, &steps, specification.as_deref());
    Ok(Imported {
        short_name,
        description,
        plan: Some(plan),
        steps,
        source: "codemachine",
        warnings,
    })
}

#[cfg(test)]
mod tests;
