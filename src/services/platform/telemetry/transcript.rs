//! Live transcripts: every engine run's output, normalised into a few entry types (agent
//! message, tool call, command and exit code, usage so far) and appended as JSON lines to
//! `$GIT_COMMON_DIR/godzilla/logs/<protocol>/<run>.jsonl` while the run goes on, so another
//! process (`godzilla step log --follow`, `godzilla watch`) can show what the agent is doing.
//!
//! A transcript is a view: failing to write one never fails a run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::Clock;
use crate::engines::{EngineKind, EngineOutcome, Phase, Stream, Usage};
use crate::services::platform::storage::lines::{self, LineLog};

/// The longest text kept in one entry.
const MAX_TEXT: usize = 2000;

/// Transcript entry types. The README's event catalogue lists them with their fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// The run began: `engine`, `model`, `phase`.
    RunStarted,
    /// The agent said something: `text`.
    AgentMessage,
    /// The agent called a tool: `tool`, `text` (its input, shortened).
    ToolCall,
    /// A tool answered: `text`, `is_error`.
    ToolResult,
    /// The agent ran a command: `command`, `exit_code` once it finished, `text` (output tail).
    Command,
    /// Token usage so far in this run: `usage`.
    Usage,
    /// The engine reported an error: `text`.
    Error,
    /// A line of output no parser recognised: `text`.
    Output,
    /// A line on stderr: `text`.
    Stderr,
    /// The run ended: `classification`, `usage`, `cost_usd`, `duration_ms`.
    RunFinished,
}

impl EntryKind {
    /// The name written to the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunStarted => "run_started",
            Self::AgentMessage => "agent_message",
            Self::ToolCall => "tool_call",
            Self::ToolResult => "tool_result",
            Self::Command => "command",
            Self::Usage => "usage",
            Self::Error => "error",
            Self::Output => "output",
            Self::Stderr => "stderr",
            Self::RunFinished => "run_finished",
        }
    }
}

/// One line of a transcript.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When it was seen (RFC 3339).
    #[serde(default)]
    pub ts: String,
    /// The run id.
    #[serde(default)]
    pub run: String,
    /// The protocol, when the run belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The step, when the run belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// What this entry is.
    #[serde(rename = "type")]
    pub kind: Option<EntryKind>,
    /// Message, tool input, output or error text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// A command's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Whether a tool result is an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
    /// Other fields (engine, model, phase, usage, classification, cost, duration).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

impl Entry {
    fn new(kind: EntryKind) -> Self {
        Self {
            kind: Some(kind),
            ..Self::default()
        }
    }

    fn text(mut self, text: &str) -> Self {
        self.text = shorten(text.trim());
        self
    }

    /// One line for a spinner or a terminal view.
    pub fn summary(&self) -> String {
        let first = |t: &str| t.lines().next().unwrap_or_default().to_owned();
        match self.kind {
            Some(EntryKind::RunStarted) => format!(
                "started {} {}",
                self.extra
                    .get("engine")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                self.extra
                    .get("model")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )
            .trim_end()
            .to_owned(),
            Some(EntryKind::AgentMessage) => format!("says: {}", first(&self.text)),
            Some(EntryKind::ToolCall) => format!(
                "tool {}: {}",
                self.tool.as_deref().unwrap_or("?"),
                first(&self.text)
            ),
            Some(EntryKind::ToolResult) => format!(
                "tool {}: {}",
                if self.is_error { "failed" } else { "returned" },
                first(&self.text)
            ),
            Some(EntryKind::Command) => match self.exit_code {
                Some(code) => format!(
                    "ran `{}` → exit {code}",
                    self.command.as_deref().unwrap_or("")
                ),
                None => format!("runs `{}`", self.command.as_deref().unwrap_or("")),
            },
            Some(EntryKind::Usage) => {
                let u: Usage = self
                    .extra
                    .get("usage")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                format!("{} tokens so far", u.total())
            }
            Some(EntryKind::Error) => format!("error: {}", first(&self.text)),
            Some(EntryKind::Output) | Some(EntryKind::Stderr) => first(&self.text),
            Some(EntryKind::RunFinished) => format!(
                "finished: {}",
                self.extra
                    .get("classification")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            ),
            None => first(&self.text),
        }
    }
}

fn shorten(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(map) => {
            // The argument people recognise first, when there is one.
            for key in [
                "file_path",
                "path",
                "filePath",
                "command",
                "pattern",
                "url",
                "query",
            ] {
                if let Some(s) = map.get(key).and_then(Value::as_str) {
                    return s.to_owned();
                }
            }
            v.to_string()
        }
        other => other.to_string(),
    }
}

/// Turns one output line of an engine of `kind` into transcript entries (usage is tracked by
/// [`LiveLog`], not here). Lines that carry nothing a person would follow give none.
pub fn normalise(kind: EngineKind, stream: Stream, line: &str) -> Vec<Entry> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Vec::new();
    }
    if stream == Stream::Stderr {
        return vec![Entry::new(EntryKind::Stderr).text(trimmed)];
    }
    let Ok(v) = serde_json::from_str::<Value>(trimmed) else {
        return vec![Entry::new(EntryKind::Output).text(trimmed)];
    };
    if !v.is_object() {
        return vec![Entry::new(EntryKind::Output).text(trimmed)];
    }
    let ty = v["type"].as_str().unwrap_or_default();
    match kind {
        EngineKind::Codex => codex(ty, &v),
        EngineKind::Claude => claude(ty, &v),
        EngineKind::Opencode => opencode(ty, &v),
        EngineKind::Gemini => gemini(ty, &v),
        // Replay and command engines print whatever they print: treat each object as output
        // unless it looks like one of the known formats.
        EngineKind::Command | EngineKind::Replay => {
            let mut out = claude(ty, &v);
            if out.is_empty() {
                out = codex(ty, &v);
            }
            out
        }
    }
}

fn codex(ty: &str, v: &Value) -> Vec<Entry> {
    let item = &v["item"];
    match (ty, item["type"].as_str().unwrap_or_default()) {
        ("item.completed", "agent_message") => {
            vec![Entry::new(EntryKind::AgentMessage).text(item["text"].as_str().unwrap_or(""))]
        }
        ("item.started" | "item.completed", "command_execution") => {
            let mut e = Entry::new(EntryKind::Command)
                .text(item["aggregated_output"].as_str().unwrap_or(""));
            e.command = item["command"].as_str().map(str::to_owned);
            e.exit_code = if ty == "item.completed" {
                item["exit_code"].as_i64()
            } else {
                None
            };
            vec![e]
        }
        ("item.completed", "file_change") => {
            let paths: Vec<&str> = item["changes"]
                .as_array()
                .map(|c| c.iter().filter_map(|c| c["path"].as_str()).collect())
                .unwrap_or_default();
            let mut e = Entry::new(EntryKind::ToolCall).text(&paths.join(", "));
            e.tool = Some("edit".into());
            vec![e]
        }
        ("item.completed", "mcp_tool_call") => {
            let mut e = Entry::new(EntryKind::ToolCall).text(&compact(&item["arguments"]));
            e.tool = Some(format!(
                "{}.{}",
                item["server"].as_str().unwrap_or("mcp"),
                item["tool"].as_str().unwrap_or("?")
            ));
            vec![e]
        }
        ("item.completed", "web_search") => {
            let mut e = Entry::new(EntryKind::ToolCall).text(item["query"].as_str().unwrap_or(""));
            e.tool = Some("web_search".into());
            vec![e]
        }
        ("error", _) => {
            vec![Entry::new(EntryKind::Error).text(v["message"].as_str().unwrap_or(""))]
        }
        ("turn.failed", _) => {
            vec![Entry::new(EntryKind::Error).text(v["error"]["message"].as_str().unwrap_or(""))]
        }
        _ => Vec::new(),
    }
}

fn claude(ty: &str, v: &Value) -> Vec<Entry> {
    let blocks = v["message"]["content"].as_array();
    match ty {
        "assistant" => blocks
            .into_iter()
            .flatten()
            .filter_map(|b| match b["type"].as_str()? {
                "text" => Some(Entry::new(EntryKind::AgentMessage).text(b["text"].as_str()?)),
                "tool_use" => {
                    let name = b["name"].as_str().unwrap_or("?");
                    if name == "Bash" {
                        let mut e = Entry::new(EntryKind::Command);
                        e.command = b["input"]["command"].as_str().map(str::to_owned);
                        Some(e)
                    } else {
                        let mut e = Entry::new(EntryKind::ToolCall).text(&compact(&b["input"]));
                        e.tool = Some(name.to_owned());
                        Some(e)
                    }
                }
                _ => None,
            })
            .collect(),
        "user" => blocks
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "tool_result")
            .map(|b| {
                let text = match &b["content"] {
                    Value::Array(parts) => parts
                        .iter()
                        .filter_map(|p| p["text"].as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                    other => compact(other),
                };
                let mut e = Entry::new(EntryKind::ToolResult).text(&text);
                e.is_error = b["is_error"].as_bool().unwrap_or(false);
                e
            })
            .collect(),
        "result" if v["is_error"].as_bool() == Some(true) => {
            vec![Entry::new(EntryKind::Error).text(v["result"].as_str().unwrap_or("error"))]
        }
        _ => Vec::new(),
    }
}

fn opencode(ty: &str, v: &Value) -> Vec<Entry> {
    let part = &v["part"];
    match ty {
        "text" => {
            vec![Entry::new(EntryKind::AgentMessage).text(part["text"].as_str().unwrap_or(""))]
        }
        "tool_use" => {
            let tool = part["tool"].as_str().unwrap_or("?");
            let state = &part["state"];
            if tool == "bash" {
                let mut e =
                    Entry::new(EntryKind::Command).text(state["output"].as_str().unwrap_or(""));
                e.command = state["input"]["command"].as_str().map(str::to_owned);
                e.exit_code = state["metadata"]["exit"].as_i64();
                vec![e]
            } else {
                let mut e = Entry::new(EntryKind::ToolCall).text(&compact(&state["input"]));
                e.tool = Some(tool.to_owned());
                vec![e]
            }
        }
        "error" => vec![
            Entry::new(EntryKind::Error)
                .text(v["error"]["data"]["message"].as_str().unwrap_or("error")),
        ],
        _ => Vec::new(),
    }
}

fn gemini(ty: &str, v: &Value) -> Vec<Entry> {
    match ty {
        "message" if v["role"] == "assistant" => {
            vec![Entry::new(EntryKind::AgentMessage).text(v["content"].as_str().unwrap_or(""))]
        }
        "tool_use" => {
            let mut e = Entry::new(EntryKind::ToolCall).text(&compact(&v["parameters"]));
            e.tool = v["tool_name"].as_str().map(str::to_owned);
            vec![e]
        }
        "tool_result" => {
            let mut e = Entry::new(EntryKind::ToolResult).text(v["status"].as_str().unwrap_or(""));
            e.is_error = v["status"] == "error";
            vec![e]
        }
        "error" => vec![Entry::new(EntryKind::Error).text(&compact(&v["message"]))],
        _ => {
            // `-o json` prints one object at the end: its response is the agent's message.
            v["response"]
                .as_str()
                .map(|r| vec![Entry::new(EntryKind::AgentMessage).text(r)])
                .unwrap_or_default()
        }
    }
}

/// Token usage reported by one line, as an increment (gemini's stream included).
fn usage_increment(kind: EngineKind, line: &str) -> Option<Usage> {
    if let Some(u) = crate::engines::line_usage(kind, line) {
        return Some(u);
    }
    if kind != EngineKind::Gemini {
        return None;
    }
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    let stats = &v["stats"];
    (v["type"] == "result" && stats.is_object()).then(|| Usage {
        input: stats["input_tokens"].as_u64().unwrap_or(0),
        cached: stats["cached"].as_u64().unwrap_or(0),
        output: stats["output_tokens"].as_u64().unwrap_or(0),
        reasoning: 0,
    })
}

/// Who a run is, for its transcript.
#[derive(Clone, Debug)]
pub struct RunMeta {
    /// Run id (also the file name).
    pub run: String,
    /// Protocol, if any.
    pub protocol: Option<String>,
    /// Step, if any.
    pub step: Option<String>,
    /// Phase.
    pub phase: Phase,
    /// Engine name.
    pub engine: String,
    /// Adapter kind (decides how output is read).
    pub kind: EngineKind,
    /// Model, if chosen.
    pub model: Option<String>,
}

impl RunMeta {
    /// Reads protocol and step from a request label (`0001-x/02-y/qa`).
    pub fn from_label(label: &str) -> (Option<String>, Option<String>) {
        let mut parts = label.split('/');
        let protocol = parts.next().filter(|p| !p.is_empty()).map(str::to_owned);
        let step = match (parts.next(), parts.next()) {
            (Some(step), Some(_phase)) => Some(step.to_owned()),
            _ => None,
        };
        (protocol, step)
    }
}

/// Where the transcripts of `protocol` live (`project` for runs that belong to none), next to
/// the runs' full `.log` transcripts.
pub fn dir(local_dir: &Path, protocol: Option<&str>) -> PathBuf {
    local_dir.join("logs").join(protocol.unwrap_or("project"))
}

/// The transcript being written for one run.
pub struct LiveLog {
    log: Option<LineLog>,
    meta: RunMeta,
    clock: Clock,
    usage: Usage,
    latest: Option<String>,
}

impl LiveLog {
    /// Starts a transcript and records `run_started`.
    pub fn start(local_dir: &Path, clock: &Clock, meta: RunMeta) -> Self {
        let path = dir(local_dir, meta.protocol.as_deref()).join(format!("{}.jsonl", meta.run));
        let log = match LineLog::open(&path) {
            Ok(log) => Some(log),
            Err(e) => {
                tracing::warn!(error = %e, "cannot write the live transcript");
                None
            }
        };
        let mut live = Self {
            log,
            meta,
            clock: clock.clone(),
            usage: Usage::default(),
            latest: None,
        };
        let mut start = Entry::new(EntryKind::RunStarted);
        start
            .extra
            .insert("engine".into(), live.meta.engine.clone().into());
        start
            .extra
            .insert("model".into(), live.meta.model.clone().into());
        start
            .extra
            .insert("phase".into(), live.meta.phase.as_str().into());
        live.write(start);
        live
    }

    /// The file, when it could be opened.
    pub fn path(&self) -> Option<&Path> {
        self.log.as_ref().map(LineLog::path)
    }

    /// Records what one output line says.
    pub fn observe(&mut self, stream: Stream, line: &str) {
        for entry in normalise(self.meta.kind, stream, line) {
            self.write(entry);
        }
        if stream == Stream::Stdout
            && let Some(inc) = usage_increment(self.meta.kind, line)
        {
            self.usage.input += inc.input;
            self.usage.cached += inc.cached;
            self.usage.output += inc.output;
            self.usage.reasoning += inc.reasoning;
            super::observe_tokens(self.meta.phase, self.meta.model.as_deref(), inc.total());
            let mut e = Entry::new(EntryKind::Usage);
            e.extra.insert(
                "usage".into(),
                serde_json::to_value(self.usage).unwrap_or_default(),
            );
            self.write(e);
        }
    }

    /// The latest entry, summarised for a spinner.
    pub fn latest(&self) -> Option<&str> {
        self.latest.as_deref()
    }

    /// Tokens seen so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Records `run_finished` with the outcome and the settled cost.
    pub fn finish(&mut self, outcome: &EngineOutcome, cost_usd: Option<f64>) {
        let mut e = Entry::new(EntryKind::RunFinished);
        e.extra.insert(
            "classification".into(),
            outcome.classification.as_str().into(),
        );
        e.extra.insert(
            "usage".into(),
            serde_json::to_value(outcome.usage).unwrap_or_default(),
        );
        e.extra.insert("cost_usd".into(), cost_usd.into());
        e.extra
            .insert("duration_ms".into(), outcome.duration_ms.into());
        if let Some(err) = &outcome.error {
            e.text = shorten(err);
        }
        self.write(e);
    }

    fn write(&mut self, mut entry: Entry) {
        entry.ts = self.clock.now_rfc3339();
        entry.run.clone_from(&self.meta.run);
        entry.protocol.clone_from(&self.meta.protocol);
        entry.step.clone_from(&self.meta.step);
        if entry.kind != Some(EntryKind::Usage) || self.latest.is_none() {
            self.latest = Some(entry.summary());
        }
        if let Some(log) = &mut self.log {
            let line = serde_json::to_string(&entry).unwrap_or_default();
            if let Err(e) = log.append(&line) {
                tracing::warn!(error = %e, "cannot append to the live transcript");
                self.log = None;
            }
        }
    }
}

/// A transcript on disk.
#[derive(Clone, Debug, Serialize)]
pub struct TranscriptFile {
    /// Run id.
    pub run: String,
    /// The file.
    pub path: PathBuf,
    /// Step, from its first entry.
    pub step: Option<String>,
    /// When the run started.
    pub started: String,
}

/// Every transcript of `protocol`, oldest first (by start time, then run id).
pub fn list(local_dir: &Path, protocol: &str) -> Vec<TranscriptFile> {
    let dir = dir(local_dir, Some(protocol));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<TranscriptFile> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let run = path
                .file_name()?
                .to_str()?
                .strip_suffix(".jsonl")?
                .to_owned();
            let first = lines::read_from(&path, 0)
                .ok()
                .and_then(|(l, _)| l.into_iter().next())
                .and_then(|l| serde_json::from_str::<Entry>(&l).ok());
            let modified = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(|t| humantime::format_rfc3339_nanos(t).to_string())
                .unwrap_or_default();
            Some(TranscriptFile {
                run,
                step: first.as_ref().and_then(|f| f.step.clone()),
                // File times break ties between runs started in the same second (and runs
                // under a pinned clock).
                started: format!("{}|{modified}", first.map(|f| f.ts).unwrap_or_default()),
                path,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.started, &a.run).cmp(&(&b.started, &b.run)));
    out
}

/// Parses transcript lines, skipping any that are not entries.
pub fn parse(lines: &[String]) -> Vec<Entry> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_transcript_normalises_each_engine() {
        let codex = normalise(
            EngineKind::Codex,
            Stream::Stdout,
            r#"{"type":"item.completed","item":{"type":"command_execution","command":"cargo test","aggregated_output":"ok","exit_code":101}}"#,
        );
        assert_eq!(codex[0].kind, Some(EntryKind::Command));
        assert_eq!(codex[0].exit_code, Some(101));
        assert_eq!(codex[0].summary(), "ran `cargo test` → exit 101");
        let claude = normalise(
            EngineKind::Claude,
            Stream::Stdout,
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Looking"},{"type":"tool_use","name":"Edit","input":{"file_path":"src/a.rs"}}]}}"#,
        );
        assert_eq!(claude.len(), 2);
        assert_eq!(claude[0].summary(), "says: Looking");
        assert_eq!(claude[1].summary(), "tool Edit: src/a.rs");
        let oc = normalise(
            EngineKind::Opencode,
            Stream::Stdout,
            r#"{"type":"tool_use","part":{"tool":"bash","state":{"input":{"command":"ls"},"metadata":{"exit":0}}}}"#,
        );
        assert_eq!(oc[0].command.as_deref(), Some("ls"));
        assert_eq!(oc[0].exit_code, Some(0));
        assert_eq!(
            normalise(EngineKind::Command, Stream::Stdout, "plain words")[0].kind,
            Some(EntryKind::Output)
        );
        assert_eq!(
            normalise(EngineKind::Gemini, Stream::Stderr, "warn")[0].kind,
            Some(EntryKind::Stderr)
        );
        assert!(
            normalise(
                EngineKind::Codex,
                Stream::Stdout,
                r#"{"type":"turn.started"}"#
            )
            .is_empty()
        );
    }

    #[test]
    fn test_transcript_live_log_tracks_usage_and_latest() {
        let dir = tempfile::tempdir().unwrap();
        let mut live = LiveLog::start(
            dir.path(),
            &Clock::Fixed(std::time::SystemTime::UNIX_EPOCH),
            RunMeta {
                run: "01-a-a1-x".into(),
                protocol: Some("0001-p".into()),
                step: Some("01-a".into()),
                phase: Phase::Exec,
                engine: "codex".into(),
                kind: EngineKind::Codex,
                model: None,
            },
        );
        live.observe(
            Stream::Stdout,
            r#"{"type":"item.completed","item":{"type":"agent_message","text":"done"}}"#,
        );
        live.observe(
            Stream::Stdout,
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"output_tokens":5}}"#,
        );
        assert_eq!(live.usage().total(), 15);
        assert_eq!(live.latest(), Some("says: done"));
        let files = list(dir.path(), "0001-p");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].step.as_deref(), Some("01-a"));
        let (text, _) = lines::read_from(&files[0].path, 0).unwrap();
        let kinds: Vec<_> = parse(&text).iter().map(|e| e.kind.unwrap()).collect();
        assert_eq!(
            kinds,
            [
                EntryKind::RunStarted,
                EntryKind::AgentMessage,
                EntryKind::Usage
            ]
        );
    }
}
