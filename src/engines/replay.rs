//! The replay engine: recorded transcripts played back offline and deterministically, for the
//! demo (transcripts embedded in the binary) and for tests (a directory).
//!
//! A transcript is JSON (one object per file, or an array of them):
//!
//! ```json
//! { "label": "0001-*/01-*/exec", "final_message": "Added add()", "structured": null,
//!   "usage": {"input": 1200, "cached": 0, "output": 340, "reasoning": 0}, "cost_usd": 0.0,
//!   "files": [{"path": "src/add.rs", "content": "pub fn add() {}\n"}],
//!   "classification": "ok" }
//! ```
//!
//! The first transcript whose `label` glob matches the request's label is used; when several
//! match, successive runs with the same label take them in order (the last one repeats). Files
//! are written into the workdir only at validated relative paths. No match is an
//! `engine_error` outcome: replay never invents a success.
//!
//! This module runs no process and touches nothing outside the workdir and its cursor file.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{
    Classification, Engine, EngineKind, EngineOutcome, EngineRequest, EngineRun, Error, OnLine,
    ProbeReport, Scrubber, Stream, Transcript, Usage, write_run_file,
};

/// Where transcripts come from.
#[derive(Clone, Debug)]
pub enum TranscriptSource {
    /// Every `*.json` file in a directory, in file-name order.
    Dir(PathBuf),
    /// Transcripts compiled into the binary: `(name, json)`.
    Static(&'static [(&'static str, &'static str)]),
}

impl TranscriptSource {
    /// Loads every transcript, in order.
    pub fn load(&self) -> Result<Vec<(String, ReplayTranscript)>, Error> {
        let mut out = Vec::new();
        match self {
            Self::Static(items) => {
                for (name, text) in *items {
                    parse_into(name, text, &mut out)?;
                }
            }
            Self::Dir(dir) => {
                let entries = std::fs::read_dir(dir).map_err(|e| Error::Io {
                    path: dir.clone(),
                    source: e,
                })?;
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect();
                paths.sort();
                for path in paths {
                    let text = std::fs::read_to_string(&path).map_err(|e| Error::Io {
                        path: path.clone(),
                        source: e,
                    })?;
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    parse_into(&name, &text, &mut out)?;
                }
            }
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        match self {
            Self::Dir(dir) => dir.display().to_string(),
            Self::Static(_) => "the built-in transcripts".to_owned(),
        }
    }
}

fn parse_into(
    name: &str,
    text: &str,
    out: &mut Vec<(String, ReplayTranscript)>,
) -> Result<(), Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Box<ReplayTranscript>),
        Many(Vec<ReplayTranscript>),
    }
    let parsed: OneOrMany = serde_json::from_str(text).map_err(|source| Error::Transcript {
        name: name.to_owned(),
        source,
    })?;
    match parsed {
        OneOrMany::One(t) => out.push((name.to_owned(), *t)),
        OneOrMany::Many(ts) => {
            let n = ts.len();
            out.extend(ts.into_iter().enumerate().map(|(i, t)| {
                (
                    if n == 1 {
                        name.to_owned()
                    } else {
                        format!("{name}#{i}")
                    },
                    t,
                )
            }));
        }
    }
    Ok(())
}

/// One recorded run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayTranscript {
    /// Label glob: `*` matches within one `/`-separated segment, `**` across segments, `?`
    /// one character.
    pub label: String,
    /// The final message.
    #[serde(default)]
    pub final_message: Option<String>,
    /// Structured output.
    #[serde(default)]
    pub structured: Option<serde_json::Value>,
    /// Token usage.
    #[serde(default)]
    pub usage: Usage,
    /// Cost in USD.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// Files the engine writes, relative to the workdir.
    #[serde(default)]
    pub files: Vec<ReplayFile>,
    /// How the run ends.
    #[serde(default = "ok")]
    pub classification: Classification,
    /// Error text for a failing classification.
    #[serde(default)]
    pub error: Option<String>,
    /// Session id.
    #[serde(default)]
    pub session_id: Option<String>,
}

fn ok() -> Classification {
    Classification::Ok
}

/// A file a transcript writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayFile {
    /// Path relative to the workdir.
    pub path: String,
    /// Full content.
    pub content: String,
}

/// The replay engine.
#[derive(Debug)]
pub struct ReplayEngine {
    name: String,
    source: TranscriptSource,
    /// Runs so far per label, so repeated labels walk through their matching transcripts.
    cursors: Mutex<BTreeMap<String, usize>>,
    /// Where cursors persist across processes (each `godzilla step run` is one process).
    cursor_file: Option<PathBuf>,
}

impl ReplayEngine {
    /// A replay engine reading `source`, with cursors kept in memory only.
    pub fn new(name: impl Into<String>, source: TranscriptSource) -> Self {
        Self {
            name: name.into(),
            source,
            cursors: Mutex::new(BTreeMap::new()),
            cursor_file: None,
        }
    }

    /// Keeps the per-label cursors in `path` (JSON), so successive processes continue.
    pub fn with_cursor_file(mut self, path: PathBuf) -> Self {
        self.cursor_file = Some(path);
        self
    }

    /// Picks the transcript for `label` and advances its cursor.
    fn pick(
        &self,
        label: &str,
        all: &[(String, ReplayTranscript)],
    ) -> Result<Option<(String, ReplayTranscript)>, Error> {
        let matching: Vec<&(String, ReplayTranscript)> = all
            .iter()
            .filter(|(_, t)| glob_match(&t.label, label))
            .collect();
        let mut cursors = self
            .cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(path) = &self.cursor_file
            && let Some(bytes) = crate::services::platform::storage::read_optional(path)?
        {
            // A corrupt cursor file restarts the sequence rather than failing the demo.
            *cursors = serde_json::from_slice(&bytes).unwrap_or_default();
        }
        let Some(last) = matching.len().checked_sub(1) else {
            return Ok(None);
        };
        let n = cursors.entry(label.to_owned()).or_insert(0);
        let chosen = matching[(*n).min(last)].clone();
        *n += 1;
        if let Some(path) = &self.cursor_file {
            let bytes = serde_json::to_vec_pretty(&*cursors).unwrap_or_default();
            crate::services::platform::storage::write_atomic(path, &bytes)?;
        }
        Ok(Some(chosen))
    }
}

impl Engine for ReplayEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> EngineKind {
        EngineKind::Replay
    }

    fn program(&self) -> Option<&str> {
        None
    }

    fn execute(&self, req: &EngineRequest, on_line: &mut OnLine<'_>) -> Result<EngineRun, Error> {
        let scrubber = Scrubber::from_env(&req.env);
        let all = self.source.load()?;
        let Some((name, t)) = self.pick(&req.label, &all)? else {
            let outcome = EngineOutcome::failed(
                Classification::EngineError,
                format!(
                    "no replay transcript matches label `{}` ({} transcripts in {})",
                    req.label,
                    all.len(),
                    self.source.describe()
                ),
            );
            return Ok(EngineRun {
                outcome: outcome.scrubbed(&scrubber),
                transcript: Transcript::default(),
            });
        };
        // Validate every path before writing any, so a bad transcript changes nothing.
        let targets = t
            .files
            .iter()
            .map(|f| Ok((safe_join(&req.workdir, &f.path)?, f.content.as_bytes())))
            .collect::<Result<Vec<_>, Error>>()?;
        for (path, bytes) in targets {
            write_run_file(&path, bytes)?;
        }
        if let Some(message) = &t.final_message {
            for line in message.lines() {
                on_line(Stream::Stdout, &scrubber.scrub(line));
            }
        }
        let mut outcome = EngineOutcome::failed(t.classification, String::new());
        outcome.error = match t.classification {
            Classification::Ok => None,
            other => Some(
                t.error
                    .clone()
                    .unwrap_or_else(|| format!("recorded {} outcome", other.as_str())),
            ),
        };
        outcome.final_message.clone_from(&t.final_message);
        outcome.structured.clone_from(&t.structured);
        outcome.usage = t.usage;
        outcome.cost_usd = t.cost_usd;
        outcome.session_id.clone_from(&t.session_id);
        outcome.exit_code = Some(i32::from(t.classification != Classification::Ok));
        outcome.argv = vec!["replay".to_owned(), name];
        let stdout = serde_json::to_string_pretty(&t).unwrap_or_default();
        Ok(EngineRun {
            outcome: outcome.scrubbed(&scrubber),
            transcript: Transcript {
                stdout: scrubber.scrub(&stdout),
                stderr: String::new(),
                truncated: false,
            },
        })
    }

    fn probe(&self) -> ProbeReport {
        let mut report = ProbeReport {
            name: self.name.clone(),
            kind: EngineKind::Replay,
            path: match &self.source {
                TranscriptSource::Dir(dir) => Some(dir.clone()),
                TranscriptSource::Static(_) => None,
            },
            version: Some(format!("built-in ({})", env!("CARGO_PKG_VERSION"))),
            flags_ok: Some(true),
            missing_flags: Vec::new(),
            notes: Vec::new(),
        };
        match self.source.load() {
            Ok(all) => report.notes.push(format!(
                "{} transcripts from {}",
                all.len(),
                self.source.describe()
            )),
            Err(e) => {
                report.flags_ok = Some(false);
                report.notes.push(e.to_string());
            }
        }
        report
    }
}

/// `root/rel`, if `rel` is a plain relative path that stays inside `root`: no absolute path,
/// no `..`, no `.git`, and no symlink on the way out of the root.
pub fn safe_join(root: &Path, rel: &str) -> Result<PathBuf, Error> {
    let unsafe_path = || Error::UnsafePath {
        path: rel.to_owned(),
    };
    let path = Path::new(rel);
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_path());
            }
        }
    }
    if parts.is_empty() || parts.first().is_some_and(|p| *p == ".git") {
        return Err(unsafe_path());
    }
    let mut joined = root.to_path_buf();
    for part in &parts {
        joined.push(part);
        // A symlink anywhere on the path (a planted `src -> /etc`) could redirect the write.
        if joined
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Err(unsafe_path());
        }
    }
    Ok(joined)
}

/// Glob match where `*` stays within a `/` segment, `**` crosses segments and `?` is one
/// character other than `/`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn rec(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) if rest.first() == Some(&'*') => {
                let rest = &rest[1..];
                (0..=t.len()).any(|i| rec(rest, &t[i..]))
            }
            Some(('*', rest)) => {
                let seg = t.iter().position(|c| *c == '/').unwrap_or(t.len());
                (0..=seg).any(|i| rec(rest, &t[i..]))
            }
            Some(('?', rest)) => t.first().is_some_and(|c| *c != '/') && rec(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && rec(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    rec(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::super::Phase;
    use super::*;
    use std::time::Duration;

    #[test]
    fn test_replay_glob() {
        assert!(glob_match("0001-*/01-*/exec", "0001-add/01-impl/exec"));
        assert!(!glob_match("0001-*/exec", "0001-add/01-impl/exec"));
        assert!(glob_match("**/qa", "0001-add/01-impl/qa"));
        assert!(glob_match("0001-ad?/**", "0001-add/x/y"));
        assert!(!glob_match("exec", "exec2"));
        assert!(glob_match("*", "anything"));
    }

    #[test]
    fn test_replay_safe_join() {
        let dir = tempfile::tempdir().unwrap();
        assert!(safe_join(dir.path(), "src/x.rs").is_ok());
        assert!(safe_join(dir.path(), "./src/x.rs").is_ok());
        for bad in [
            "../x",
            "/etc/passwd",
            "a/../../x",
            ".git/hooks/pre-commit",
            "",
        ] {
            assert!(safe_join(dir.path(), bad).is_err(), "{bad}");
        }
        std::os::unix::fs::symlink("/tmp", dir.path().join("link")).unwrap();
        assert!(safe_join(dir.path(), "link/x").is_err());
    }

    const TRANSCRIPTS: &[(&str, &str)] = &[
        (
            "a.json",
            r#"[{"label": "p/*/exec", "final_message": "first", "usage": {"input": 5, "cached": 0, "output": 2, "reasoning": 0},
                 "files": [{"path": "src/a.txt", "content": "A\n"}]},
                {"label": "p/*/exec", "final_message": "second"}]"#,
        ),
        (
            "b.json",
            r#"{"label": "p/s1/qa", "classification": "rate_limit", "error": "quota"}"#,
        ),
    ];

    fn request(label: &str, workdir: &Path) -> EngineRequest {
        EngineRequest {
            label: label.into(),
            prompt: String::new(),
            workdir: workdir.into(),
            model: None,
            phase: Phase::Exec,
            output_schema: None,
            timeout: Duration::from_secs(5),
            stall_timeout: Duration::ZERO,
            scratch_dir: workdir.join("scratch"),
            env: Default::default(),
            group_lock: None,
        }
    }

    #[test]
    fn test_replay_plays_in_order_then_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let engine = ReplayEngine::new("replay", TranscriptSource::Static(TRANSCRIPTS));
        let mut lines = Vec::new();
        let first = engine
            .run(&request("p/s1/exec", dir.path()), &mut |_, l| {
                lines.push(l.to_owned());
            })
            .unwrap();
        assert_eq!(first.classification, Classification::Ok);
        assert_eq!(first.final_message.as_deref(), Some("first"));
        assert_eq!(first.usage.input, 5);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("src/a.txt")).unwrap(),
            "A\n"
        );
        assert_eq!(lines, ["first"]);
        let second = engine
            .run(&request("p/s1/exec", dir.path()), &mut |_, _| {})
            .unwrap();
        assert_eq!(second.final_message.as_deref(), Some("second"));
        let third = engine
            .run(&request("p/s1/exec", dir.path()), &mut |_, _| {})
            .unwrap();
        assert_eq!(third.final_message.as_deref(), Some("second"));
        // Another label has its own cursor.
        let other = engine
            .run(&request("p/s2/exec", dir.path()), &mut |_, _| {})
            .unwrap();
        assert_eq!(other.final_message.as_deref(), Some("first"));
    }

    #[test]
    fn test_replay_recorded_failure_and_no_match() {
        let dir = tempfile::tempdir().unwrap();
        let engine = ReplayEngine::new("replay", TranscriptSource::Static(TRANSCRIPTS));
        let qa = engine
            .run(&request("p/s1/qa", dir.path()), &mut |_, _| {})
            .unwrap();
        assert_eq!(qa.classification, Classification::RateLimit);
        assert_eq!(qa.error.as_deref(), Some("quota"));
        let none = engine
            .run(&request("zzz", dir.path()), &mut |_, _| {})
            .unwrap();
        assert_eq!(none.classification, Classification::EngineError);
        assert!(
            none.error
                .unwrap()
                .contains("no replay transcript matches label `zzz`")
        );
        assert!(none.final_message.is_none());
    }

    #[test]
    fn test_replay_dir_source_and_cursor_file() {
        let dir = tempfile::tempdir().unwrap();
        let tdir = dir.path().join("t");
        std::fs::create_dir(&tdir).unwrap();
        crate::services::platform::storage::write_atomic(
            &tdir.join("x.json"),
            TRANSCRIPTS[0].1.as_bytes(),
        )
        .unwrap();
        let cursor = dir.path().join("cursor.json");
        let make = || {
            ReplayEngine::new("replay", TranscriptSource::Dir(tdir.clone()))
                .with_cursor_file(cursor.clone())
        };
        let a = make()
            .run(&request("p/s/exec", dir.path()), &mut |_, _| {})
            .unwrap();
        let b = make()
            .run(&request("p/s/exec", dir.path()), &mut |_, _| {})
            .unwrap();
        assert_eq!(a.final_message.as_deref(), Some("first"));
        assert_eq!(b.final_message.as_deref(), Some("second"));
        assert_eq!(
            make().probe().notes,
            [format!("2 transcripts from {}", tdir.display())]
        );
    }

    #[test]
    fn test_replay_rejects_escaping_file() {
        const BAD: &[(&str, &str)] = &[(
            "bad.json",
            r#"{"label": "x", "files": [{"path": "../evil", "content": "x"}]}"#,
        )];
        let dir = tempfile::tempdir().unwrap();
        let engine = ReplayEngine::new("replay", TranscriptSource::Static(BAD));
        let err = engine
            .run(&request("x", dir.path()), &mut |_, _| {})
            .unwrap_err();
        assert!(matches!(err, Error::UnsafePath { .. }), "{err}");
    }
}
