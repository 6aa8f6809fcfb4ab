//! `template.json`, placeholder tokens and the agents' prompt files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::Error;
use super::parse::{Agent, JsFile, Workspace, string_in};
use crate::services::import::read_text;

/// Engine defaults and a name from `template.json`.
#[derive(Default)]
pub(super) struct Template {
    pub(super) name: Option<String>,
    pub(super) engine: Option<String>,
    pub(super) model: Option<String>,
}

pub(super) fn load_template(path: &Path, root: &Path) -> Result<Template, Error> {
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

pub(super) fn read_optional(path: &Path, root: &Path) -> Result<Option<String>, Error> {
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
pub(super) static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}|\$\{([A-Za-z0-9_.-]+)\}|<([A-Za-z0-9_.-]+)>")
        .expect("static regex")
});

/// Replaces known placeholder tokens in one pass (a value is never expanded again, so a
/// value containing a token cannot loop). `angle` enables `<KEY>`, which is only safe in
/// paths: in Markdown it collides with HTML such as `<details>`.
pub(super) fn apply_tokens(
    text: &str,
    placeholders: &BTreeMap<String, String>,
    angle: bool,
) -> String {
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
pub(super) fn apply_to_path(path: &str, placeholders: &BTreeMap<String, String>) -> String {
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
pub(super) fn read_prompts(
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
