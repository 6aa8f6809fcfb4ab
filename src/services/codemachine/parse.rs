//! Reading the workspace's `.js` files: main agents, sub agents, modules and placeholders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::Error;
use super::tokenizer::strip_export;
use crate::domain::spec::Outcome;
use crate::services::import::{line_column, read_text};

/// Where the workspace lives: `cm` holds `config/`, `project` is the directory prompts may
/// also be resolved against (the original looked in `.codemachine/` and then its parent).
pub(super) struct Workspace {
    pub(super) cm: PathBuf,
    pub(super) project: PathBuf,
}

impl Workspace {
    pub(super) fn locate(root: &Path) -> Self {
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
pub(super) struct JsFile {
    pub(super) path: PathBuf,
    pub(super) value: Value,
    pub(super) elements: Vec<(usize, usize)>,
}

impl JsFile {
    pub(super) fn load(path: &Path, root: &Path) -> Result<Self, Error> {
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

    pub(super) fn load_optional(path: &Path, root: &Path) -> Result<Option<Self>, Error> {
        if path.exists() {
            Self::load(path, root).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An [`Error::Invalid`] at element `index`, or at the start of the file.
    pub(super) fn invalid(&self, index: Option<usize>, message: String) -> Error {
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

    pub(super) fn position(&self, index: usize) -> (usize, usize) {
        self.elements.get(index).copied().unwrap_or((1, 1))
    }

    pub(super) fn array(&self, what: &str) -> Result<&Vec<Value>, Error> {
        self.value
            .as_array()
            .ok_or_else(|| self.invalid(None, format!("expected an array of {what}")))
    }
}

/// A main agent as the workspace declares it.
#[derive(Debug)]
pub(super) struct Agent {
    /// Index in `main.agents.js`, for positions.
    pub(super) index: usize,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) engine: Option<String>,
    pub(super) model: Option<String>,
    pub(super) prompts: Vec<String>,
    pub(super) modules: Vec<String>,
}

/// Field access with the file and element to blame.
pub(super) struct Entry<'a> {
    pub(super) file: &'a JsFile,
    pub(super) index: usize,
    pub(super) map: &'a Map<String, Value>,
    pub(super) what: &'static str,
}

impl<'a> Entry<'a> {
    pub(super) fn new(
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

    pub(super) fn error(&self, message: String) -> Error {
        self.file.invalid(Some(self.index), message)
    }

    /// The first of `keys` present, as a string.
    pub(super) fn string(&self, keys: &[&str]) -> Result<Option<String>, Error> {
        string_in(self.map, keys).map_err(|key| {
            self.error(format!(
                "{} #{}: `{key}` must be a string",
                self.what,
                self.index + 1
            ))
        })
    }

    /// The first of `keys` present, as one string or a list of strings.
    pub(super) fn strings(&self, keys: &[&str]) -> Result<Vec<String>, Error> {
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

    pub(super) fn id(&self, keys: &[&str]) -> Result<String, Error> {
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
pub(super) fn string_in<'k>(
    map: &Map<String, Value>,
    keys: &[&'k str],
) -> Result<Option<String>, &'k str> {
    for key in keys {
        match map.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(_) => return Err(key),
        }
    }
    Ok(None)
}

pub(super) fn parse_agents(file: &JsFile) -> Result<Vec<Agent>, Error> {
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
pub(super) struct SubAgent {
    pub(super) id: String,
    pub(super) description: Option<String>,
}

pub(super) fn parse_sub_agents(file: &JsFile) -> Result<Vec<SubAgent>, Error> {
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
pub(super) enum Behavior {
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
pub(super) struct Module {
    pub(super) id: String,
    pub(super) behavior: Behavior,
    /// For loops: the agent it applies to. For triggers this field names the target, so it
    /// is read into [`Behavior::Trigger::target`] instead.
    pub(super) target_agent: Option<String>,
    /// For triggers: an agent whose outcome fires it, besides agents listing the module.
    pub(super) source_agent: Option<String>,
}

pub(super) fn parse_modules(
    file: &JsFile,
    warnings: &mut Vec<String>,
) -> Result<Vec<Module>, Error> {
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
pub(super) fn condition_tokens<'v>(field: &dyn Fn(&[&str]) -> Option<&'v Value>) -> Vec<String> {
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
pub(super) fn trigger_outcome(id: &str, tokens: &[String], warnings: &mut Vec<String>) -> Outcome {
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

pub(super) fn parse_placeholders(
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
