//! Record and replay: any engine's runs stored as transcripts keyed by what was asked, and a
//! replay engine that answers only a question it has seen.
//!
//! The key of a run is its phase, the engine's name, the model and the sha256 of the exact
//! prompt. `--record DIR` (or `record = "DIR"` in an engine profile) wraps an engine in a
//! [`RecordingEngine`] that stores each run in `DIR/<phase>-<engine>-<key>.json`:
//!
//! ```json
//! { "format": 1, "phase": "exec", "engine": "claude", "model": null,
//!   "prompt_sha256": "3f2a…", "label": "0001-add/01-impl/exec",
//!   "runs": [{ "final_message": "Added add()", "usage": {"input": 1200, "output": 340},
//!              "files": [{"path": "src/add.rs", "content": "pub fn add() {}\n"}],
//!              "deleted": [], "classification": "ok" }] }
//! ```
//!
//! The replay engine answers a request only from the file of its exact key (a prompt that
//! differs by one byte is another question) and otherwise refuses with
//! [`Error::NotRecorded`]: replay never invents an answer. When one key was recorded several
//! times (the same question asked again), successive runs take the answers in order and the
//! last one repeats. Files are written into the workdir only at validated relative paths.
//!
//! Only `godzilla demo` hands the replay engine the transcripts compiled into the binary.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{
    Classification, Engine, EngineKind, EngineOutcome, EngineRequest, EngineRun, Error, OnLine,
    Phase, ProbeReport, Scrubber, Stream, Transcript, Usage, write_run_file,
};
use crate::fsio;

/// The format version of a recording file.
const FORMAT: u32 = 1;

/// sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::digest::sha256_hex(bytes)
}

/// What a recorded run answers: phase, engine, model and the exact prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordKey {
    /// The phase.
    pub phase: Phase,
    /// The engine's name (the profile name, as in config).
    pub engine: String,
    /// The model asked for (`None`: the engine's default).
    pub model: Option<String>,
    /// sha256 of the prompt.
    pub prompt_sha256: String,
}

impl RecordKey {
    /// The key of a prompt sent to `engine`.
    pub fn new(phase: Phase, engine: &str, model: Option<&str>, prompt: &str) -> Self {
        Self {
            phase,
            engine: engine.to_owned(),
            model: model.map(str::to_owned),
            prompt_sha256: sha256_hex(prompt.as_bytes()),
        }
    }

    /// The short form of the prompt hash used in messages.
    pub fn short_prompt(&self) -> &str {
        &self.prompt_sha256[..12]
    }

    /// The file this key is stored in: readable parts plus a hash of the whole key.
    pub fn file_name(&self) -> String {
        let whole = format!(
            "{}\n{}\n{}\n{}",
            self.phase.as_str(),
            self.engine,
            self.model.as_deref().unwrap_or(""),
            self.prompt_sha256
        );
        let engine: String = self
            .engine
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "{}-{engine}-{}.json",
            self.phase.as_str(),
            &sha256_hex(whole.as_bytes())[..16]
        )
    }

    fn matches(&self, r: &Recording) -> bool {
        r.phase == self.phase
            && r.engine == self.engine
            && r.model == self.model
            && r.prompt_sha256 == self.prompt_sha256
    }
}

/// One recording file: a key and every run recorded for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// Format version.
    pub format: u32,
    /// The phase.
    pub phase: Phase,
    /// The engine's name.
    pub engine: String,
    /// The model asked for.
    pub model: Option<String>,
    /// sha256 of the prompt.
    pub prompt_sha256: String,
    /// What the run was for (`0001-x/02-y/exec`), for people reading the file.
    #[serde(default)]
    pub label: String,
    /// The runs, in the order they were recorded.
    pub runs: Vec<ReplayTranscript>,
}

/// Where transcripts come from.
#[derive(Clone, Debug)]
pub enum TranscriptSource {
    /// A directory of recording files; a relative path is taken from the request's workdir.
    Dir(PathBuf),
    /// Recordings compiled into the binary, as one JSON array (the demo's).
    Static(&'static str),
}

impl TranscriptSource {
    /// The recording of `key`, if there is one.
    pub fn find(&self, key: &RecordKey, workdir: &Path) -> Result<Option<Recording>, Error> {
        match self {
            Self::Static(text) => Ok(parse_all(text)?.into_iter().find(|r| key.matches(r))),
            Self::Dir(dir) => {
                let path = workdir.join(dir).join(key.file_name());
                let Some(bytes) = fsio::read_optional(&path)? else {
                    return Ok(None);
                };
                let r = parse(
                    &path.display().to_string(),
                    &String::from_utf8_lossy(&bytes),
                )?;
                // The file name is a hash prefix; the key inside is what must match.
                Ok(key.matches(&r).then_some(r))
            }
        }
    }

    /// How many recording files there are (for `doctor`).
    fn count(&self) -> Result<usize, Error> {
        match self {
            Self::Static(text) => Ok(parse_all(text)?.len()),
            Self::Dir(dir) => Ok(std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Dir(dir) => dir.display().to_string(),
            Self::Static(_) => "the demo's recordings".to_owned(),
        }
    }
}

/// Every recording of a JSON array of them.
pub fn parse_all(text: &str) -> Result<Vec<Recording>, Error> {
    let all: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|source| Error::Transcript {
            name: "built-in recordings".to_owned(),
            source,
        })?;
    all.iter()
        .enumerate()
        .map(|(i, v)| parse(&format!("built-in recording {i}"), &v.to_string()))
        .collect()
}

fn parse(name: &str, text: &str) -> Result<Recording, Error> {
    let r: Recording = serde_json::from_str(text).map_err(|source| Error::Transcript {
        name: name.to_owned(),
        source,
    })?;
    if r.format != FORMAT || r.runs.is_empty() {
        return Err(Error::Transcript {
            name: name.to_owned(),
            source: serde::de::Error::custom(format!(
                "format {} with {} runs; expected format {FORMAT} with at least one run",
                r.format,
                r.runs.len()
            )),
        });
    }
    Ok(r)
}

/// One recorded run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayTranscript {
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
    /// Files the engine wrote, relative to the workdir.
    #[serde(default)]
    pub files: Vec<ReplayFile>,
    /// Files the engine deleted, relative to the workdir.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<String>,
    /// How the run ended.
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
    /// Full content, when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Full content in hex, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hex: Option<String>,
    /// Whether the file is executable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
}

impl ReplayFile {
    fn from_bytes(path: String, bytes: Vec<u8>, executable: bool) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => Self {
                path,
                content: Some(text),
                content_hex: None,
                executable,
            },
            Err(e) => Self {
                path,
                content: None,
                content_hex: Some(crate::digest::hex(e.as_bytes())),
                executable,
            },
        }
    }

    fn bytes(&self) -> Result<Vec<u8>, Error> {
        if let Some(text) = &self.content {
            return Ok(text.as_bytes().to_vec());
        }
        let hex = self.content_hex.as_deref().unwrap_or_default();
        let bad = || Error::Transcript {
            name: self.path.clone(),
            source: serde::de::Error::custom("content_hex is not hex"),
        };
        if !hex.len().is_multiple_of(2) {
            return Err(bad());
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
            .collect()
    }
}

/// The replay engine.
#[derive(Debug)]
pub struct ReplayEngine {
    name: String,
    /// `None`: a replay engine nobody gave transcripts to; it refuses to run.
    source: Option<TranscriptSource>,
    /// Runs so far per key, so a key recorded several times walks through its answers.
    cursors: Mutex<BTreeMap<String, usize>>,
    /// Where cursors persist across processes (each `godzilla step run` is one process).
    cursor_file: Option<PathBuf>,
}

impl ReplayEngine {
    /// A replay engine called `name` answering from `source`, with cursors in memory only.
    pub fn new(name: impl Into<String>, source: Option<TranscriptSource>) -> Self {
        Self {
            name: name.into(),
            source,
            cursors: Mutex::new(BTreeMap::new()),
            cursor_file: None,
        }
    }

    /// Keeps the per-key cursors in `path` (JSON), so successive processes continue.
    pub fn with_cursor_file(mut self, path: PathBuf) -> Self {
        self.cursor_file = Some(path);
        self
    }

    fn key(&self, phase: Phase, model: Option<&str>, prompt: &str) -> RecordKey {
        RecordKey::new(phase, &self.name, model, prompt)
    }

    fn lookup(&self, label: &str, key: &RecordKey, workdir: &Path) -> Result<Recording, Error> {
        let source = self.source.as_ref().ok_or_else(|| Error::NoTranscripts {
            name: self.name.clone(),
        })?;
        source
            .find(key, workdir)?
            .ok_or_else(|| Error::NotRecorded {
                label: label.to_owned(),
                phase: key.phase.as_str(),
                prompt: key.short_prompt().to_owned(),
            })
    }

    /// The next answer of `recording` and advances its cursor.
    fn pick(&self, key: &RecordKey, recording: &Recording) -> Result<ReplayTranscript, Error> {
        let mut cursors = self
            .cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(path) = &self.cursor_file
            && let Some(bytes) = fsio::read_optional(path)?
        {
            // A corrupt cursor file restarts the sequences rather than failing the run.
            *cursors = serde_json::from_slice(&bytes).unwrap_or_default();
        }
        let n = cursors.entry(key.file_name()).or_insert(0);
        let last = recording.runs.len().saturating_sub(1);
        let chosen = recording.runs[(*n).min(last)].clone();
        *n += 1;
        if let Some(path) = &self.cursor_file {
            let bytes = serde_json::to_vec_pretty(&*cursors).unwrap_or_default();
            fsio::write_atomic(path, &bytes)?;
        }
        Ok(chosen)
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

    fn check_installed(&self) -> Result<(), Error> {
        match self.source {
            Some(_) => Ok(()),
            None => Err(Error::NoTranscripts {
                name: self.name.clone(),
            }),
        }
    }

    fn check_recorded(
        &self,
        label: &str,
        phase: Phase,
        model: Option<&str>,
        prompt: &str,
        workdir: &Path,
    ) -> Result<(), Error> {
        self.lookup(label, &self.key(phase, model, prompt), workdir)
            .map(drop)
    }

    fn execute(&self, req: &EngineRequest, on_line: &mut OnLine<'_>) -> Result<EngineRun, Error> {
        let scrubber = Scrubber::from_env(&req.env);
        let key = self.key(req.phase, req.model.as_deref(), &req.prompt);
        let recording = self.lookup(&req.label, &key, &req.workdir)?;
        let t = self.pick(&key, &recording)?;
        // Validate every path before writing any, so a bad transcript changes nothing.
        let targets = t
            .files
            .iter()
            .map(|f| Ok((safe_join(&req.workdir, &f.path)?, f.bytes()?, f.executable)))
            .collect::<Result<Vec<_>, Error>>()?;
        let deleted = t
            .deleted
            .iter()
            .map(|p| safe_join(&req.workdir, p))
            .collect::<Result<Vec<_>, Error>>()?;
        for (path, bytes, executable) in targets {
            write_run_file(&path, &bytes)?;
            if executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| Error::io(&path, e))?;
            }
        }
        for path in deleted {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
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
        outcome.argv = vec!["replay".to_owned(), key.file_name()];
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
                Some(TranscriptSource::Dir(dir)) => Some(dir.clone()),
                Some(TranscriptSource::Static(_)) | None => None,
            },
            version: Some(format!("built-in ({})", env!("CARGO_PKG_VERSION"))),
            flags_ok: Some(true),
            missing_flags: Vec::new(),
            notes: Vec::new(),
        };
        match self.source.as_ref().map(|s| (s, s.count())) {
            None => {
                // Not a fault until a phase uses it (then `check_installed` refuses).
                report.flags_ok = None;
                report.notes.push(
                    Error::NoTranscripts {
                        name: self.name.clone(),
                    }
                    .to_string(),
                );
            }
            Some((s, Ok(n))) => report
                .notes
                .push(format!("{n} recordings in {}", s.describe())),
            Some((_, Err(e))) => {
                report.flags_ok = Some(false);
                report.notes.push(e.to_string());
            }
        }
        report
    }
}

/// Any engine, with every run it makes stored as a recording in a directory.
#[derive(Debug)]
pub struct RecordingEngine {
    inner: Arc<dyn Engine>,
    dir: PathBuf,
    git: String,
}

impl RecordingEngine {
    /// Records `inner`'s runs into `dir`, reading the workdir's changes with the `git` program.
    pub fn new(inner: Arc<dyn Engine>, dir: PathBuf, git: String) -> Self {
        Self { inner, dir, git }
    }

    fn save(&self, req: &EngineRequest, run: ReplayTranscript) -> Result<(), Error> {
        let key = RecordKey::new(
            req.phase,
            self.inner.name(),
            req.model.as_deref(),
            &req.prompt,
        );
        let dir = req.workdir.join(&self.dir);
        let path = dir.join(key.file_name());
        let mut recording = match fsio::read_optional(&path)? {
            Some(bytes) => parse(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            )?,
            None => Recording {
                format: FORMAT,
                phase: key.phase,
                engine: key.engine.clone(),
                model: key.model.clone(),
                prompt_sha256: key.prompt_sha256.clone(),
                label: req.label.clone(),
                runs: Vec::new(),
            },
        };
        recording.runs.push(run);
        let mut bytes = serde_json::to_vec_pretty(&recording).unwrap_or_default();
        bytes.push(b'\n');
        fsio::create_dir(&dir)?;
        fsio::write_atomic(&path, &bytes)?;
        Ok(())
    }
}

/// The content hash (or `None`: absent) of each path that differs from `base` in `workdir`,
/// untracked files included: what a writing engine changed is what differs after and not
/// before. `.godzilla/` is godzilla's, never the engine's answer.
fn changed_paths(
    git: &crate::git::Git,
    base: Option<&str>,
) -> Result<BTreeMap<String, Option<String>>, Error> {
    let to_err = |e: crate::process::Error| Error::Io {
        path: git.dir().to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut paths = Vec::new();
    if let Some(base) = base {
        let diff = git
            .run(&["diff", "--name-only", "-z", "--no-renames", base, "--"])
            .map_err(to_err)?;
        paths.extend(
            diff.split('\0')
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    }
    let untracked = git
        .run(&["ls-files", "--others", "--exclude-standard", "-z"])
        .map_err(to_err)?;
    paths.extend(
        untracked
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
    );
    let mut out = BTreeMap::new();
    for p in paths {
        if p.starts_with(".godzilla/") {
            continue;
        }
        let full = git.dir().join(&p);
        let hash = match std::fs::symlink_metadata(&full) {
            Ok(m) if m.is_file() => Some(sha256_hex(
                &std::fs::read(&full).map_err(|e| Error::io(&full, e))?,
            )),
            // Symlinks and directories (submodules) are not replayed.
            Ok(_) => continue,
            Err(_) => None,
        };
        out.insert(p, hash);
    }
    Ok(out)
}

impl Engine for RecordingEngine {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn kind(&self) -> EngineKind {
        self.inner.kind()
    }

    fn program(&self) -> Option<&str> {
        self.inner.program()
    }

    fn default_model(&self) -> Option<&str> {
        self.inner.default_model()
    }

    fn default_timeout(&self) -> Option<std::time::Duration> {
        self.inner.default_timeout()
    }

    fn check_installed(&self) -> Result<(), Error> {
        self.inner.check_installed()
    }

    fn check_recorded(
        &self,
        label: &str,
        phase: Phase,
        model: Option<&str>,
        prompt: &str,
        workdir: &Path,
    ) -> Result<(), Error> {
        self.inner
            .check_recorded(label, phase, model, prompt, workdir)
    }

    fn execute(&self, req: &EngineRequest, on_line: &mut OnLine<'_>) -> Result<EngineRun, Error> {
        let writes = req.phase.writes();
        let git = crate::git::Git::new(&self.git, &req.workdir);
        let (base, before) = if writes {
            let base = git.head().ok().flatten();
            let before = changed_paths(&git, base.as_deref())?;
            (base, before)
        } else {
            (None, BTreeMap::new())
        };
        let run = self.inner.execute(req, on_line)?;
        let mut files = Vec::new();
        let mut deleted = Vec::new();
        if writes {
            let after = changed_paths(&git, base.as_deref())?;
            let reverted = before.keys().filter(|p| !after.contains_key(*p));
            let changed = after
                .iter()
                .filter(|(p, h)| before.get(*p) != Some(*h))
                .map(|(p, _)| p)
                .chain(reverted);
            for p in changed {
                let full = req.workdir.join(p);
                match std::fs::symlink_metadata(&full) {
                    Ok(m) if m.is_file() => {
                        use std::os::unix::fs::PermissionsExt;
                        let bytes = std::fs::read(&full).map_err(|e| Error::io(&full, e))?;
                        let exec = m.permissions().mode() & 0o111 != 0;
                        files.push(ReplayFile::from_bytes(p.clone(), bytes, exec));
                    }
                    Ok(_) => {}
                    Err(_) => deleted.push(p.clone()),
                }
            }
        }
        let o = &run.outcome;
        self.save(
            req,
            ReplayTranscript {
                final_message: o.final_message.clone(),
                structured: o.structured.clone(),
                usage: o.usage,
                cost_usd: o.cost_usd,
                files,
                deleted,
                classification: o.classification,
                error: o.error.clone(),
                session_id: o.session_id.clone(),
            },
        )?;
        Ok(run)
    }

    fn probe(&self) -> ProbeReport {
        let mut report = self.inner.probe();
        report
            .notes
            .push(format!("recording into {}", self.dir.display()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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

    fn request(prompt: &str, workdir: &Path) -> EngineRequest {
        EngineRequest {
            label: "p/s1/exec".into(),
            prompt: prompt.into(),
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

    fn write_recording(dir: &Path, key: &RecordKey, runs: serde_json::Value) {
        let r = serde_json::json!({"format": 1, "phase": key.phase, "engine": key.engine,
            "model": key.model, "prompt_sha256": key.prompt_sha256, "label": "p/s1/exec", "runs": runs});
        fsio::create_dir(dir).unwrap();
        fsio::write_atomic(&dir.join(key.file_name()), r.to_string().as_bytes()).unwrap();
    }

    #[test]
    fn test_replay_answers_only_the_exact_key_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t");
        let key = RecordKey::new(Phase::Exec, "replay", None, "do it");
        write_recording(
            &t,
            &key,
            serde_json::json!([
                {"final_message": "first", "usage": {"input": 5, "output": 2},
                 "files": [{"path": "src/a.txt", "content": "A\n"}, {"path": "bin", "content_hex": "00ff", "executable": true}]},
                {"final_message": "second", "deleted": ["src/a.txt"]}
            ]),
        );
        let cursor = dir.path().join("cursor.json");
        let make = || {
            ReplayEngine::new("replay", Some(TranscriptSource::Dir(t.clone())))
                .with_cursor_file(cursor.clone())
        };
        let mut lines = Vec::new();
        let first = make()
            .run(&request("do it", dir.path()), &mut |_, l| {
                lines.push(l.to_owned());
            })
            .unwrap();
        assert_eq!(first.final_message.as_deref(), Some("first"));
        assert_eq!(first.usage.input, 5);
        assert_eq!(lines, ["first"]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("src/a.txt")).unwrap(),
            "A\n"
        );
        assert_eq!(std::fs::read(dir.path().join("bin")).unwrap(), [0, 255]);
        // A second process continues where the first stopped; the last answer repeats.
        let second = make()
            .run(&request("do it", dir.path()), &mut |_, _| {})
            .unwrap();
        assert_eq!(second.final_message.as_deref(), Some("second"));
        assert!(!dir.path().join("src/a.txt").exists());
        let third = make()
            .run(&request("do it", dir.path()), &mut |_, _| {})
            .unwrap();
        assert_eq!(third.final_message.as_deref(), Some("second"));
        // One byte more is another question; so are another model and another phase.
        let err = make()
            .run(&request("do it!", dir.path()), &mut |_, _| {})
            .unwrap_err();
        let hash = &sha256_hex(b"do it!")[..12];
        assert_eq!(
            err.to_string(),
            format!(
                "p/s1/exec: no recorded transcript for this prompt (phase exec, prompt {hash})"
            )
        );
        let mut other_model = request("do it", dir.path());
        other_model.model = Some("m".into());
        assert!(matches!(
            make().run(&other_model, &mut |_, _| {}),
            Err(Error::NotRecorded { .. })
        ));
        assert!(
            make()
                .check_recorded("x", Phase::Qa, None, "do it", dir.path())
                .is_err()
        );
        assert!(
            make()
                .check_recorded("x", Phase::Exec, None, "do it", dir.path())
                .is_ok()
        );
        assert_eq!(
            make().probe().notes,
            [format!("1 recordings in {}", t.display())]
        );
    }

    #[test]
    fn test_replay_without_transcripts_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let engine = ReplayEngine::new("replay", None);
        assert!(matches!(
            engine.check_installed(),
            Err(Error::NoTranscripts { .. })
        ));
        assert!(matches!(
            engine.run(&request("x", dir.path()), &mut |_, _| {}),
            Err(Error::NoTranscripts { .. })
        ));
    }

    #[test]
    fn test_replay_rejects_escaping_file() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t");
        let key = RecordKey::new(Phase::Exec, "replay", None, "x");
        write_recording(
            &t,
            &key,
            serde_json::json!([{"files": [{"path": "../evil", "content": "x"}]}]),
        );
        let engine = ReplayEngine::new("replay", Some(TranscriptSource::Dir(t)));
        let err = engine
            .run(&request("x", dir.path()), &mut |_, _| {})
            .unwrap_err();
        assert!(matches!(err, Error::UnsafePath { .. }), "{err}");
        assert!(!dir.path().parent().unwrap().join("evil").exists());
    }
}
