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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};
use tokenizer::strip_export;

mod tokenizer;

use super::import::{Imported, ReadError, line_column, read_text};
use crate::config::QaPolicy;
use crate::domain::StepId;
use crate::domain::name::slugify;
use crate::domain::spec::{
    MAX_LOOP_ITERATIONS, MAX_TRIGGER_DEPTH, Outcome, StepPolicy, step_from_file,
};

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

/// Where the workspace lives: `cm` holds `config/`, `project` is the directory prompts may
/// also be resolved against (the original looked in `.codemachine/` and then its parent).
struct Workspace {
    cm: PathBuf,
    project: PathBuf,
}

impl Workspace {
    fn locate(root: &Path) -> Self {
        let nested = root.join(".codemachine");
        if nested.is_dir() {
            Self {
                cm: nested,
                project: root.to_owned(),
            }
        } else if root.file_name().is_some_and(|n| n == ".codemachine") {
            Self {
                cm: root.to_owned(),
                project: root
                    .parent()
                    .map_or_else(|| root.to_owned(), Path::to_owned),
            }
        } else {
            Self {
                cm: root.to_owned(),
                project: root.to_owned(),
            }
        }
    }
}

/// A parsed `.js` file, with the position of each top-level array element for messages.
struct JsFile {
    path: PathBuf,
    value: Value,
    elements: Vec<(usize, usize)>,
}

impl JsFile {
    fn load(path: &Path, root: &Path) -> Result<Self, Error> {
        let text = read_text(path, root).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let syntax = |offset: usize, message: String| {
            let (line, column) = line_column(&text, offset);
            Error::Syntax {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        let prepared = strip_export(&text).map_err(|(offset, msg)| syntax(offset, msg))?;
        let value: Value = json5::from_str(&prepared.literal).map_err(|e| {
            let message = match e.code() {
                Some(code) => code.to_string(),
                // Custom messages carry their own " at line … column …"; ours is in front.
                None => {
                    let text = e.to_string();
                    text.split(" at line ")
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                }
            };
            let eof = message.starts_with("EOF");
            match e.position() {
                // For an early end the parser points at the value left open, which is the
                // place to fix.
                Some(p) => Error::Syntax {
                    path: path.to_owned(),
                    line: p.line + 1,
                    column: p.column + 1,
                    message: if eof {
                        format!("the file ends before this is closed ({message})")
                    } else {
                        message
                    },
                },
                None => syntax(text.len(), format!("unexpected end of file ({message})")),
            }
        })?;
        let elements = prepared
            .elements
            .iter()
            .map(|&o| line_column(&text, o))
            .collect();
        Ok(Self {
            path: path.to_owned(),
            value,
            elements,
        })
    }

    fn load_optional(path: &Path, root: &Path) -> Result<Option<Self>, Error> {
        if path.exists() {
            Self::load(path, root).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An [`Error::Invalid`] at element `index`, or at the start of the file.
    fn invalid(&self, index: Option<usize>, message: String) -> Error {
        let (line, column) = index
            .and_then(|i| self.elements.get(i).copied())
            .unwrap_or((1, 1));
        Error::Invalid {
            path: self.path.clone(),
            line,
            column,
            message,
        }
    }

    fn position(&self, index: usize) -> (usize, usize) {
        self.elements.get(index).copied().unwrap_or((1, 1))
    }

    fn array(&self, what: &str) -> Result<&Vec<Value>, Error> {
        self.value
            .as_array()
            .ok_or_else(|| self.invalid(None, format!("expected an array of {what}")))
    }
}

/// A main agent as the workspace declares it.
#[derive(Debug)]
struct Agent {
    /// Index in `main.agents.js`, for positions.
    index: usize,
    id: String,
    name: String,
    description: Option<String>,
    engine: Option<String>,
    model: Option<String>,
    prompts: Vec<String>,
    modules: Vec<String>,
}

/// Field access with the file and element to blame.
struct Entry<'a> {
    file: &'a JsFile,
    index: usize,
    map: &'a Map<String, Value>,
    what: &'static str,
}

impl<'a> Entry<'a> {
    fn new(
        file: &'a JsFile,
        index: usize,
        value: &'a Value,
        what: &'static str,
    ) -> Result<Self, Error> {
        let map = value.as_object().ok_or_else(|| {
            file.invalid(
                Some(index),
                format!("{what} #{} is not an object", index + 1),
            )
        })?;
        Ok(Self {
            file,
            index,
            map,
            what,
        })
    }

    fn error(&self, message: String) -> Error {
        self.file.invalid(Some(self.index), message)
    }

    /// The first of `keys` present, as a string.
    fn string(&self, keys: &[&str]) -> Result<Option<String>, Error> {
        string_in(self.map, keys).map_err(|key| {
            self.error(format!(
                "{} #{}: `{key}` must be a string",
                self.what,
                self.index + 1
            ))
        })
    }

    /// The first of `keys` present, as one string or a list of strings.
    fn strings(&self, keys: &[&str]) -> Result<Vec<String>, Error> {
        for key in keys {
            match self.map.get(*key) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => return Ok(vec![s.clone()]),
                Some(Value::Array(items)) => {
                    return items
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            self.error(format!(
                                "{} #{}: `{key}` must list strings",
                                self.what,
                                self.index + 1
                            ))
                        });
                }
                Some(_) => {
                    return Err(self.error(format!(
                        "{} #{}: `{key}` must be a string or a list of strings",
                        self.what,
                        self.index + 1
                    )));
                }
            }
        }
        Ok(Vec::new())
    }

    fn id(&self, keys: &[&str]) -> Result<String, Error> {
        match self.string(keys)? {
            Some(id) if !id.trim().is_empty() => Ok(id),
            _ => Err(self.error(format!(
                "{} #{} has no `{}`",
                self.what,
                self.index + 1,
                keys[0]
            ))),
        }
    }
}

/// The first of `keys` present in `map` as a string; `Err(key)` when it is not a string.
fn string_in<'k>(map: &Map<String, Value>, keys: &[&'k str]) -> Result<Option<String>, &'k str> {
    for key in keys {
        match map.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(_) => return Err(key),
        }
    }
    Ok(None)
}

fn parse_agents(file: &JsFile) -> Result<Vec<Agent>, Error> {
    let entries = file.array("agents")?;
    // Checked before anything else: step ids have two digits.
    if entries.len() > 99 {
        return Err(file.invalid(
            None,
            format!("{} main agents; step ids allow at most 99", entries.len()),
        ));
    }
    let mut agents: Vec<Agent> = Vec::new();
    for (index, value) in entries.iter().enumerate() {
        let entry = Entry::new(file, index, value, "agent")?;
        let id = entry.id(&["id", "agentId"])?;
        if agents.iter().any(|a| a.id == id) {
            return Err(entry.error(format!("agent id `{id}` appears twice")));
        }
        let prompts = entry.strings(&["promptPath", "prompt", "path"])?;
        if prompts.is_empty() {
            return Err(entry.error(format!("agent `{id}` has no `promptPath`")));
        }
        agents.push(Agent {
            index,
            name: entry
                .string(&["name"])?
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| id.clone()),
            description: entry.string(&["description"])?,
            engine: entry.string(&["engineId", "engine"])?,
            model: entry.string(&["model"])?,
            modules: entry.strings(&["moduleId", "module_id", "module", "modules"])?,
            prompts,
            id,
        });
    }
    Ok(agents)
}

/// A sub agent: only its id and description are kept, for the plan and the warning.
struct SubAgent {
    id: String,
    description: Option<String>,
}

fn parse_sub_agents(file: &JsFile) -> Result<Vec<SubAgent>, Error> {
    file.array("sub agents")?
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let entry = Entry::new(file, index, value, "sub agent")?;
            Ok(SubAgent {
                id: entry.id(&["id", "agentId"])?,
                description: entry.string(&["description"])?,
            })
        })
        .collect()
}

/// What a module does, reduced to what a spec can express.
#[derive(Debug, PartialEq)]
enum Behavior {
    Loop {
        max_iterations: Option<u64>,
        step_back: u64,
    },
    Trigger {
        target: Option<String>,
        on: Outcome,
        max_depth: Option<u64>,
    },
    /// Anything else, by its type name; reported, never applied.
    Other(String),
}

#[derive(Debug)]
struct Module {
    id: String,
    behavior: Behavior,
    /// For loops: the agent it applies to. For triggers this field names the target, so it
    /// is read into [`Behavior::Trigger::target`] instead.
    target_agent: Option<String>,
    /// For triggers: an agent whose outcome fires it, besides agents listing the module.
    source_agent: Option<String>,
}

fn parse_modules(file: &JsFile, warnings: &mut Vec<String>) -> Result<Vec<Module>, Error> {
    let mut modules: Vec<Module> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (index, value) in file.array("modules")?.iter().enumerate() {
        let entry = Entry::new(file, index, value, "module")?;
        let id = entry.id(&["id", "moduleId", "module_id", "name"])?;
        // A set, not a scan of `modules`: the file is untrusted and may list many.
        if !ids.insert(id.clone()) {
            return Err(entry.error(format!("module id `{id}` appears twice")));
        }
        let (kind, fields) = match entry.map.get("behavior").or(entry.map.get("behaviour")) {
            Some(Value::String(kind)) => (kind.clone(), entry.map),
            Some(Value::Object(b)) => {
                let kind = string_in(b, &["type"])
                    .ok()
                    .flatten()
                    .ok_or_else(|| entry.error(format!("module `{id}`: behavior has no `type`")))?;
                (kind, b)
            }
            None | Some(Value::Null) => {
                warnings.push(format!("module `{id}` has no behavior; ignored"));
                continue;
            }
            Some(_) => {
                return Err(entry.error(format!(
                    "module `{id}`: `behavior` must be a string or an object"
                )));
            }
        };
        // Fields may sit in the behavior object or on the module itself (both occur).
        let field = |keys: &[&str]| -> Option<&Value> {
            keys.iter()
                .find_map(|k| fields.get(*k).or_else(|| entry.map.get(*k)))
                .filter(|v| !v.is_null())
        };
        let number = |keys: &[&str]| -> Result<Option<u64>, Error> {
            match field(keys) {
                None => Ok(None),
                Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                    entry.error(format!(
                        "module `{id}`: `{}` must be a whole number",
                        keys[0]
                    ))
                }),
            }
        };
        let text = |keys: &[&str]| -> Result<Option<String>, Error> {
            match field(keys) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => {
                    Err(entry.error(format!("module `{id}`: `{}` must be a string", keys[0])))
                }
            }
        };
        let behavior = match kind.trim().to_ascii_lowercase().as_str() {
            "loop" => Behavior::Loop {
                max_iterations: number(&["maxIterations", "max_iterations"])?,
                step_back: number(&["stepBack", "step_back", "steps"])?.unwrap_or(0),
            },
            "trigger" => Behavior::Trigger {
                target: text(&[
                    "triggerAgentId",
                    "trigger_agent_id",
                    "targetAgentId",
                    "target_agent_id",
                ])?,
                on: trigger_outcome(&id, &condition_tokens(&field), warnings),
                max_depth: number(&["maxDepth", "max_depth"])?,
            },
            other => Behavior::Other(other.to_owned()),
        };
        let target_agent = match behavior {
            Behavior::Loop { .. } => text(&["targetAgentId", "target_agent_id"])?,
            Behavior::Trigger { .. } | Behavior::Other(_) => None,
        };
        modules.push(Module {
            source_agent: text(&["sourceAgentId", "source_agent_id"])?,
            target_agent,
            behavior,
            id,
        });
    }
    Ok(modules)
}

/// The condition words of a module (`on`, `when`, `condition`, `conditions`), lowercased.
fn condition_tokens<'v>(field: &dyn Fn(&[&str]) -> Option<&'v Value>) -> Vec<String> {
    let mut tokens = Vec::new();
    for key in ["on", "when", "condition", "conditions"] {
        match field(&[key]) {
            Some(Value::String(s)) => tokens.push(s.trim().to_ascii_lowercase()),
            Some(Value::Array(items)) => tokens.extend(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| s.trim().to_ascii_lowercase()),
            ),
            _ => {}
        }
    }
    tokens
}

/// Which outcome fires a trigger. Fail unless every condition says success: in CodeMachine
/// a trigger usually calls a fallback or fixer agent when its source did not get the job
/// done, and firing on success by mistake would add an engine run to every good step.
fn trigger_outcome(id: &str, tokens: &[String], warnings: &mut Vec<String>) -> Outcome {
    const PASS: &[&str] = &[
        "pass",
        "passed",
        "success",
        "succeeded",
        "completed",
        "complete",
        "done",
        "ok",
        "qa_passed",
        "exec_completed",
        "on_success",
    ];
    const FAIL: &[&str] = &[
        "fail",
        "failed",
        "failure",
        "error",
        "qa_failed",
        "exec_failed",
        "on_failure",
        "not_completed",
        "notcompleted",
    ];
    let unknown: Vec<&String> = tokens
        .iter()
        .filter(|t| !PASS.contains(&t.as_str()) && !FAIL.contains(&t.as_str()))
        .collect();
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(|t| format!("`{t}`")).collect();
        warnings.push(format!(
            "trigger module `{id}`: condition {} cannot be evaluated by godzilla; it fires on fail",
            list.join(", ")
        ));
        return Outcome::Fail;
    }
    let passes = tokens.iter().filter(|t| PASS.contains(&t.as_str())).count();
    if passes > 0 && passes == tokens.len() {
        Outcome::Pass
    } else {
        if passes > 0 {
            warnings.push(format!(
                "trigger module `{id}` fires on both pass and fail; imported as fail only"
            ));
        }
        Outcome::Fail
    }
}

fn parse_placeholders(
    file: &JsFile,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, String>, Error> {
    let map = file
        .value
        .as_object()
        .ok_or_else(|| file.invalid(None, "expected an object of placeholders".into()))?;
    let mut out = BTreeMap::new();
    let mut add = |key: &str, value: &Value, out: &mut BTreeMap<String, String>| match value {
        Value::String(s) => {
            out.insert(key.to_owned(), s.clone());
        }
        Value::Number(n) => {
            out.insert(key.to_owned(), n.to_string());
        }
        Value::Bool(b) => {
            out.insert(key.to_owned(), b.to_string());
        }
        Value::Null | Value::Array(_) | Value::Object(_) => {
            warnings.push(format!("placeholder `{key}` is not a string; ignored"));
        }
    };
    for (key, value) in map {
        match value {
            // CodeMachine groups placeholders (`userDir: {…}`); the inner keys are the names.
            Value::Object(group) => {
                for (inner, v) in group {
                    add(inner, v, &mut out);
                }
            }
            other => add(key, other, &mut out),
        }
    }
    Ok(out)
}

/// Engine defaults and a name from `template.json`.
#[derive(Default)]
struct Template {
    name: Option<String>,
    engine: Option<String>,
    model: Option<String>,
}

fn load_template(path: &Path, root: &Path) -> Result<Template, Error> {
    let Some(text) = read_optional(path, root)? else {
        return Ok(Template::default());
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| Error::Syntax {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })?;
    let invalid = |message: &str| Error::Invalid {
        path: path.to_owned(),
        line: 1,
        column: 1,
        message: message.to_owned(),
    };
    let root = value
        .as_object()
        .ok_or_else(|| invalid("expected an object"))?;
    let defaults = match root.get("engineDefaults") {
        None | Some(Value::Null) => None,
        Some(Value::Object(d)) => Some(d),
        Some(_) => return Err(invalid("`engineDefaults` must be an object")),
    };
    let get = |map: &Map<String, Value>, keys: &[&str]| {
        string_in(map, keys).map_err(|key| invalid(&format!("`{key}` must be a string")))
    };
    Ok(Template {
        name: get(root, &["name", "template", "activeTemplate"])?,
        engine: defaults
            .map(|d| get(d, &["execute"]))
            .transpose()?
            .flatten(),
        model: defaults
            .map(|d| get(d, &["executeModel"]))
            .transpose()?
            .flatten(),
    })
}

fn read_optional(path: &Path, root: &Path) -> Result<Option<String>, Error> {
    if !path.exists() {
        return Ok(None);
    }
    read_text(path, root)
        .map(Some)
        .map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })
}

/// `{{KEY}}` (spaces allowed inside), `${KEY}` and `<KEY>`.
static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}|\$\{([A-Za-z0-9_.-]+)\}|<([A-Za-z0-9_.-]+)>")
        .expect("static regex")
});

/// Replaces known placeholder tokens in one pass (a value is never expanded again, so a
/// value containing a token cannot loop). `angle` enables `<KEY>`, which is only safe in
/// paths: in Markdown it collides with HTML such as `<details>`.
fn apply_tokens(text: &str, placeholders: &BTreeMap<String, String>, angle: bool) -> String {
    TOKEN
        .replace_all(text, |caps: &regex::Captures<'_>| {
            let whole = caps.get(0).map_or("", |m| m.as_str());
            let key = caps
                .get(1)
                .or(caps.get(2))
                .or(if angle { caps.get(3) } else { None });
            key.and_then(|k| placeholders.get(k.as_str()))
                .cloned()
                .unwrap_or_else(|| whole.to_owned())
        })
        .into_owned()
}

/// Placeholders in a prompt path: tokens, then a first segment equal to a key.
fn apply_to_path(path: &str, placeholders: &BTreeMap<String, String>) -> String {
    let path = apply_tokens(path, placeholders, true).replace('\\', "/");
    match path.split_once('/') {
        Some((first, rest)) => match placeholders.get(first) {
            Some(value) => format!("{}/{rest}", value.trim_end_matches('/')),
            None => path,
        },
        None => placeholders.get(&path).cloned().unwrap_or(path),
    }
}

/// Reads an agent's prompt file(s), joined by a blank line, with text placeholders applied.
fn read_prompts(
    ws: &Workspace,
    main: &JsFile,
    agent: &Agent,
    placeholders: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<String, Error> {
    let (line, column) = main.position(agent.index);
    let mut parts = Vec::new();
    for raw in &agent.prompts {
        let prompt = apply_to_path(raw, placeholders);
        let outside = |reason| Error::PromptOutside {
            path: main.path.clone(),
            line,
            column,
            agent: agent.id.clone(),
            prompt: prompt.clone(),
            reason,
        };
        let windows_drive = prompt.as_bytes().get(1) == Some(&b':');
        if prompt.starts_with('/') || windows_drive {
            return Err(outside("is absolute; it must be relative to the workspace"));
        }
        if prompt.split('/').any(|c| c == "..") {
            return Err(outside("uses `..` and could leave the workspace"));
        }
        if prompt.trim().is_empty() {
            return Err(outside("is empty"));
        }
        let relative: PathBuf = prompt
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        let found = [ws.cm.join(&relative), ws.project.join(&relative)]
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| Error::PromptMissing {
                path: main.path.clone(),
                line,
                column,
                agent: agent.id.clone(),
                prompt: prompt.clone(),
                workspace: ws.project.clone(),
            })?;
        // A symlink inside the workspace may still point outside it.
        let inside = match (found.canonicalize(), ws.project.canonicalize()) {
            (Ok(real), Ok(root)) => real.starts_with(root),
            _ => false,
        };
        if !inside {
            return Err(outside(
                "resolves (through a symlink) outside the workspace",
            ));
        }
        let text = read_text(&found, &ws.project).map_err(|source| Error::PromptRead {
            agent: agent.id.clone(),
            path: found.clone(),
            source,
        })?;
        parts.push(apply_tokens(text.trim_end(), placeholders, false));
    }
    let mut text = parts.join("\n\n");
    text.push('\n');
    if text.trim().is_empty() {
        warnings.push(format!("agent `{}`: the prompt file is empty", agent.id));
    }
    Ok(text)
}

/// Puts each module's policy on the steps it belongs to and warns about the rest.
fn attach_policies(
    agents: &[Agent],
    sub: &[SubAgent],
    modules: &[Module],
    steps: &mut [(crate::domain::spec::StepSpec, String)],
    warnings: &mut Vec<String>,
) {
    let index: HashMap<&str, usize> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    for agent in agents {
        for module in &agent.modules {
            if !modules.iter().any(|m| &m.id == module) {
                warnings.push(format!(
                    "agent `{}` lists module `{module}`, which modules.js does not define",
                    agent.id
                ));
            }
        }
    }
    let unknown_agent = |module: &str, agent: &str, role: &str| {
        if sub.iter().any(|s| s.id == agent) {
            format!(
                "module `{module}`: {role} `{agent}` is a sub agent, not a step; policy ignored"
            )
        } else {
            format!("module `{module}`: {role} `{agent}` is not a main agent; policy ignored")
        }
    };
    for module in modules {
        // Agents that list the module, then the one the module names itself, without repeats.
        let listed = agents
            .iter()
            .filter(|a| a.modules.contains(&module.id))
            .map(|a| a.id.as_str());
        let named = match module.behavior {
            Behavior::Loop { .. } => module.target_agent.as_deref(),
            Behavior::Trigger { .. } => module.source_agent.as_deref(),
            Behavior::Other(_) => None,
        };
        let mut holders: Vec<&str> = listed.chain(named).collect();
        let mut seen = Vec::new();
        holders.retain(|h| {
            let fresh = !seen.contains(h);
            seen.push(*h);
            fresh
        });
        let mut holder_indices = Vec::new();
        for holder in &holders {
            match index.get(holder) {
                Some(&i) => holder_indices.push(i),
                None => warnings.push(unknown_agent(&module.id, holder, "agent")),
            }
        }
        match &module.behavior {
            Behavior::Other(kind) => {
                warnings.push(format!(
                    "module `{}` has behavior `{kind}`, which godzilla does not support; ignored",
                    module.id
                ));
                continue;
            }
            Behavior::Loop { .. } | Behavior::Trigger { .. } if holders.is_empty() => {
                warnings.push(format!(
                    "module `{}` is not attached to any agent (no agent lists it{}); ignored",
                    module.id,
                    match module.behavior {
                        Behavior::Trigger { .. } => " and it names no `sourceAgentId`",
                        Behavior::Loop { .. } | Behavior::Other(_) =>
                            " and it names no `targetAgentId`",
                    }
                ));
                continue;
            }
            Behavior::Loop {
                max_iterations,
                step_back,
            } => {
                let iterations = match *max_iterations {
                    None => {
                        warnings.push(format!(
                            "loop module `{}` sets no maxIterations; using {DEFAULT_LOOP_ITERATIONS}",
                            module.id
                        ));
                        DEFAULT_LOOP_ITERATIONS
                    }
                    Some(0) => {
                        warnings.push(format!(
                            "loop module `{}` allows 0 iterations; no loop imported",
                            module.id
                        ));
                        continue;
                    }
                    Some(n) if n > u64::from(MAX_LOOP_ITERATIONS) => {
                        warnings.push(format!(
                            "loop module `{}` allows {n} iterations; capped at {MAX_LOOP_ITERATIONS}",
                            module.id
                        ));
                        MAX_LOOP_ITERATIONS
                    }
                    // Fits: the arm above caught everything larger than a u32 limit.
                    Some(n) => u32::try_from(n).unwrap_or(MAX_LOOP_ITERATIONS),
                };
                for &i in &holder_indices {
                    // The original clamped the restart point to the first step; so do we,
                    // but say so, because the file asked for more.
                    let back = if *step_back > i as u64 {
                        warnings.push(format!(
                            "loop module `{}` steps back {step_back} from step {}, before the \
                             first step; clamped to {i}",
                            module.id, steps[i].0.id
                        ));
                        i as u32
                    } else {
                        u32::try_from(*step_back).unwrap_or(0)
                    };
                    push_policy(
                        &mut steps[i].0.policies,
                        StepPolicy::Loop {
                            id: module.id.clone(),
                            max_iterations: iterations,
                            step_back: back,
                        },
                    );
                }
            }
            Behavior::Trigger {
                target,
                on,
                max_depth,
            } => {
                // The original attached a trigger to its *target* (pinned by its golden
                // test), so the step that should fire it never did. A trigger belongs to
                // its SOURCE, the step whose outcome fires it; the target is what it runs.
                let Some(target) = target else {
                    warnings.push(format!(
                        "trigger module `{}` names no triggerAgentId; ignored",
                        module.id
                    ));
                    continue;
                };
                let Some(&t) = index.get(target.as_str()) else {
                    warnings.push(unknown_agent(&module.id, target, "target"));
                    continue;
                };
                let depth = match *max_depth {
                    None => 3,
                    Some(d) if d == 0 || d > u64::from(MAX_TRIGGER_DEPTH) => {
                        warnings.push(format!(
                            "trigger module `{}` asks for depth {d}; using {MAX_TRIGGER_DEPTH}",
                            module.id
                        ));
                        MAX_TRIGGER_DEPTH
                    }
                    Some(d) => u32::try_from(d).unwrap_or(MAX_TRIGGER_DEPTH),
                };
                let target_id = steps[t].0.id.clone();
                for &i in &holder_indices {
                    if i == t {
                        warnings.push(format!(
                            "trigger module `{}` would make `{target}` trigger itself; ignored \
                             for it (use a loop module)",
                            module.id
                        ));
                        continue;
                    }
                    push_policy(
                        &mut steps[i].0.policies,
                        StepPolicy::Trigger {
                            id: module.id.clone(),
                            on: *on,
                            target: target_id.clone(),
                            max_depth: depth,
                        },
                    );
                }
            }
        }
    }
}

/// Adds a policy unless one with its id is already there (one module attached twice).
fn push_policy(policies: &mut Vec<StepPolicy>, policy: StepPolicy) {
    if !policies.iter().any(|p| p.id() == policy.id()) {
        policies.push(policy);
    }
}

fn first_heading(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// The first paragraph of prose (not a heading, list or quote), on one line.
fn first_paragraph(text: &str) -> Option<String> {
    let mut para: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !para.is_empty() {
                break;
            }
            continue;
        }
        if line.starts_with(['#', '-', '*', '>', '|', '`', '<']) || line.starts_with("1.") {
            if !para.is_empty() {
                break;
            }
            continue;
        }
        para.push(line);
    }
    (!para.is_empty()).then(|| para.join(" "))
}

/// The plan: what was imported from where, so the descriptions and sub agents the spec
/// cannot hold are not lost, followed by the workspace's specification when it has one.
fn render_plan(
    agents: &[Agent],
    sub: &[SubAgent],
    steps: &[(crate::domain::spec::StepSpec, String)],
    specification: Option<&str>,
) -> String {
    let mut plan = String::from("# Plan (imported from CodeMachine)\n\n## Steps\n\n");
    for (agent, (spec, _)) in agents.iter().zip(steps) {
        plan.push_str(&format!(
            "- `{}` {} (agent `{}`",
            spec.id, spec.name, agent.id
        ));
        if let Some(engine) = &spec.engine {
            plan.push_str(&format!(", engine {engine}"));
        }
        if let Some(model) = &spec.model {
            plan.push_str(&format!(", model {model}"));
        }
        plan.push(')');
        if let Some(d) = &agent.description {
            plan.push_str(&format!(": {d}"));
        }
        plan.push('\n');
        for policy in &spec.policies {
            let line = match policy {
                StepPolicy::Loop {
                    id,
                    max_iterations,
                    step_back,
                } => format!(
                    "  - loop `{id}`: on fail, back {step_back} step(s), at most {max_iterations} times\n"
                ),
                StepPolicy::Trigger { id, on, target, .. } => {
                    let on = match on {
                        Outcome::Pass => "pass",
                        Outcome::Fail => "fail",
                    };
                    format!("  - trigger `{id}`: on {on}, run `{target}`\n")
                }
            };
            plan.push_str(&line);
        }
    }
    if !sub.is_empty() {
        plan.push_str("\n## Sub agents (called by main agents; not steps)\n\n");
        for s in sub {
            plan.push_str(&format!("- `{}`", s.id));
            if let Some(d) = &s.description {
                plan.push_str(&format!(": {d}"));
            }
            plan.push('\n');
        }
    }
    if let Some(spec) = specification {
        plan.push_str("\n## Specification\n\n");
        plan.push_str(spec.trim_end());
        plan.push('\n');
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(text: &str) -> String {
        strip_export(text).unwrap().literal
    }

    #[test]
    fn export_wrappers_are_blanked_in_place() {
        let text = "// c\nmodule.exports = [\n  {id: 'a'},\n];\n";
        let out = prepared(text);
        assert_eq!(out.len(), text.len());
        assert_eq!(out, "// c\n                 [\n  {id: 'a'},\n] \n");
        assert!(
            prepared("export default {a: 1}")
                .trim_start()
                .starts_with('{')
        );
        let named = "'use strict';\nconst agents = [1, 2];\nmodule.exports = agents;\n";
        let v: Value = json5::from_str(&prepared(named)).unwrap();
        assert_eq!(v, serde_json::json!([1, 2]));
        assert_eq!(prepared("[1]"), "[1]");
    }

    #[test]
    fn element_offsets_skip_strings_and_comments() {
        let text = "module.exports = [\n  // '[{'\n  {a: ']'},\n  \"x,y\", /* , */ 3,\n]";
        let p = strip_export(text).unwrap();
        let positions: Vec<_> = p.elements.iter().map(|&o| line_column(text, o)).collect();
        assert_eq!(positions, vec![(3, 3), (4, 3), (4, 18)]);
    }

    #[test]
    fn javascript_expressions_and_trailing_code_are_refused_with_positions() {
        let err = strip_export("const path = require('node:path');\n").unwrap_err();
        assert_eq!(err.0, 13);
        assert!(err.1.contains("not evaluated"), "{}", err.1);
        let err = strip_export("module.exports = [];\nconsole.log(1);").unwrap_err();
        assert_eq!(
            line_column("module.exports = [];\nconsole.log(1);", err.0),
            (2, 1)
        );
        let err = strip_export("/* never closed").unwrap_err();
        assert_eq!(err.0, 0);
        let deep = format!("module.exports = {}{}", "[".repeat(100), "]".repeat(100));
        assert!(strip_export(&deep).unwrap_err().1.contains("nested deeper"));
    }

    #[test]
    fn placeholders_apply_in_one_pass() {
        let ph: BTreeMap<String, String> = [
            ("PROMPTS".to_owned(), "prompts/templates".to_owned()),
            ("name".to_owned(), "{{PROMPTS}}".to_owned()),
        ]
        .into();
        assert_eq!(
            apply_to_path("{{PROMPTS}}/a.md", &ph),
            "prompts/templates/a.md"
        );
        assert_eq!(
            apply_to_path("${PROMPTS}/a.md", &ph),
            "prompts/templates/a.md"
        );
        assert_eq!(
            apply_to_path("<PROMPTS>/a.md", &ph),
            "prompts/templates/a.md"
        );
        assert_eq!(apply_to_path("PROMPTS/a.md", &ph), "prompts/templates/a.md");
        assert_eq!(apply_to_path("other/a.md", &ph), "other/a.md");
        // No re-expansion, and `<KEY>` is left alone in text.
        assert_eq!(
            apply_tokens("{{ name }} <PROMPTS> {{UNKNOWN}}", &ph, false),
            "{{PROMPTS}} <PROMPTS> {{UNKNOWN}}"
        );
    }

    #[test]
    fn trigger_outcome_defaults_to_fail() {
        let mut w = Vec::new();
        assert_eq!(trigger_outcome("t", &[], &mut w), Outcome::Fail);
        assert_eq!(
            trigger_outcome("t", &["success".into()], &mut w),
            Outcome::Pass
        );
        assert_eq!(
            trigger_outcome("t", &["qa_failed".into()], &mut w),
            Outcome::Fail
        );
        assert!(w.is_empty());
        assert_eq!(
            trigger_outcome("t", &["needs_more".into()], &mut w),
            Outcome::Fail
        );
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("needs_more"));
    }
}
