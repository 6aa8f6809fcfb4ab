//! The spec service: builds a protocol's [`ProtocolSpec`] from its step files (or an
//! import), validates it against the JSON Schema shipped in the binary and the domain rules
//! (every path inside the protocol folder and present), persists it as `spec.json` with its
//! hash, and materialises its steps as `step_added` events, idempotently.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::config::QaPolicy;
use crate::context::Context;
use crate::domain::spec::{self, ProtocolSpec, SpecIssue, StepSpec};
use crate::domain::{EventKind, NameError, ProtocolId, StepId};
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::protocols;
use crate::services::platform::storage::repo::{ProtocolRepository, StepRepository};
use crate::services::platform::storage::{self, Store};
use crate::services::platform::telemetry;

/// The spec schema, shipped in the binary.
pub const SPEC_SCHEMA: &str = include_str!("../../schemas/spec.schema.json");

/// Errors from the spec service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// A step file name is not a step id.
    #[error("{} is not a valid step file name", path.display())]
    StepName {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: NameError,
    },
    /// The spec does not validate.
    #[error("the spec of {protocol} is invalid:\n{}", issues.iter().map(|i| format!("  {}: {}", i.at, i.message)).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The protocol.
        protocol: ProtocolId,
        /// Every problem.
        issues: Vec<SpecIssue>,
    },
    /// `spec.json` does not hold what its hash says.
    #[error("{} was changed by hand: its hash does not match its content", path.display())]
    HashMismatch {
        /// The file.
        path: std::path::PathBuf,
    },
    /// Finding the protocol failed.
    #[error(transparent)]
    Protocols(#[from] Box<protocols::Error>),
    /// The protocol has no stored spec.
    #[error("protocol {protocol} has no spec ({path} is missing)")]
    NoSpec {
        /// The protocol.
        protocol: ProtocolId,
        /// Where it should be, relative to the worktree.
        path: String,
    },
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::Protocols(e) => e.kind(),
            Self::StepName { .. } | Self::HashMismatch { .. } | Self::NoSpec { .. } => {
                ErrorKind::Usage
            }
            // The spec was checked and has problems: the answer, not a failure to give one.
            Self::Invalid { .. } => ErrorKind::Negative,
        }
    }
}

impl From<protocols::Error> for Error {
    fn from(e: protocols::Error) -> Self {
        Self::Protocols(Box::new(e))
    }
}

/// `spec.json`: the spec and its hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// sha256 of the canonical JSON of `spec`.
    pub hash: String,
    /// The spec.
    pub spec: serde_json::Value,
}

/// A `spec.json` whose bytes passed every check before, parsed straight into the typed spec.
#[derive(Deserialize)]
struct TypedSpecFile {
    spec: ProtocolSpec,
}

/// Errors of `value` against a JSON Schema, each as `<instance path>: <message>`.
///
/// Compiled validators are kept for the life of the process: compiling one costs more than
/// the validation, and a protocol run validates the same two schemas many times.
pub fn schema_errors(schema: &'static str, value: &serde_json::Value) -> Vec<String> {
    type Cache =
        std::sync::Mutex<std::collections::HashMap<usize, std::sync::Arc<jsonschema::Validator>>>;
    static CACHE: std::sync::LazyLock<Cache> = std::sync::LazyLock::new(Default::default);
    let key = schema.as_ptr() as usize;
    let cached = CACHE.lock().ok().and_then(|c| c.get(&key).cloned());
    let validator = match cached {
        Some(v) => v,
        None => {
            let parsed: serde_json::Value = match serde_json::from_str(schema) {
                Ok(s) => s,
                Err(e) => return vec![format!("(schema) {e}")],
            };
            let v = match jsonschema::validator_for(&parsed) {
                Ok(v) => std::sync::Arc::new(v),
                Err(e) => return vec![format!("(schema) {e}")],
            };
            if let Ok(mut c) = CACHE.lock() {
                c.insert(key, std::sync::Arc::clone(&v));
            }
            v
        }
    };
    validator
        .iter_errors(value)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("{}: {e}", if at.is_empty() { "/" } else { at.as_str() })
        })
        .collect()
}

/// Where this machine keeps the hashes of the specs that passed the schema (see
/// [`known_valid`]).
fn valid_specs_path(store: &Store) -> std::path::PathBuf {
    store.local_dir().join("cache").join("valid-specs")
}

/// The line [`remember_valid`] keeps for a spec hash: the schema's digest comes first, so a
/// binary with another schema checks every spec again.
fn valid_spec_line(hash: &str) -> String {
    static SCHEMA: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| crate::digest::sha256_hex(SPEC_SCHEMA.as_bytes()));
    format!("{} {hash}", &SCHEMA[..16])
}

/// Whether a spec with this hash passed the schema on this machine before.
///
/// Compiling the schema (with its meta-schema check) was most of loading a spec, and every
/// `step run` loads one (#13). A spec's hash is the sha256 of its canonical JSON, checked against
/// its content right after the typed parse: a spec that parses to what was checked before is
/// not checked again. The record is machine-local (`$GIT_COMMON_DIR/godzilla/cache/`), so a
/// clone or an untrusted repository brings none; a spec that fails the schema is never
/// recorded.
///
/// The bytes of a `spec.json` that passed every check are recorded too (`bytes:<sha256>`):
/// identical bytes are parsed straight into the typed spec, without the canonical JSON and its
/// hash, which were most of what was left of a load (#13).
fn known_valid(known: &[u8], key: &str) -> bool {
    let line = valid_spec_line(key);
    known.split(|b| *b == b'\n').any(|l| l == line.as_bytes())
}

/// The lines [`remember_valid`] kept (empty when there are none).
fn known_specs(store: &Store) -> Vec<u8> {
    storage::read_optional(&valid_specs_path(store))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Records that the spec with this hash (or these `bytes:` of a `spec.json`) passed the checks
/// (the newest 128 records are kept). A failure to record is only a cost: the next load checks
/// it again.
fn remember_valid(store: &Store, keys: &[&str]) {
    const KEPT: usize = 128;
    let path = valid_specs_path(store);
    let old = storage::read_optional(&path)
        .ok()
        .flatten()
        .unwrap_or_default();
    let old = String::from_utf8_lossy(&old);
    let mut lines: Vec<&str> = old.lines().filter(|l| !l.is_empty()).collect();
    let new: Vec<String> = keys.iter().map(|k| valid_spec_line(k)).collect();
    lines.retain(|l| !new.iter().any(|n| n == l));
    lines.extend(new.iter().map(String::as_str));
    let start = lines.len().saturating_sub(KEPT);
    let mut text = lines[start..].join("\n");
    text.push('\n');
    if let Err(e) = storage::write_derived(&path, text.as_bytes()) {
        tracing::debug!("cannot record a checked spec in {}: {e}", path.display());
    }
}

/// The title of a step file: its first `# ` heading, else the id.
pub fn step_title(text: &str, id: &StepId) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("# ").map(str::trim))
        .filter(|t| !t.is_empty())
        .map_or_else(|| id.to_string(), |t| t.chars().take(120).collect())
}

/// Builds a spec from `steps/NN-slug.md`, keeping what an existing spec says about steps
/// that are still there (engine, model, policies: hand edits and imports survive).
pub fn build_spec_from_protocol(
    store: &Store,
    protocol: &ProtocolId,
    default_qa: QaPolicy,
    source: &str,
) -> Result<ProtocolSpec, Error> {
    let dir = store.protocol_dir(protocol).join("steps");
    let mut steps = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e.flatten().collect::<Vec<_>>(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(storage::Error::io(&dir, e).into()),
    };
    let previous = load_spec(store, protocol).ok().flatten();
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".md") else {
            continue;
        };
        let id = StepId::parse(stem).map_err(|source| Error::StepName {
            path: path.clone(),
            source,
        })?;
        let text = storage::read_text(&path)?;
        let kept = previous.as_ref().and_then(|p| p.step(&id).cloned());
        steps.push(kept.unwrap_or_else(|| {
            spec::step_from_file(id.clone(), step_title(&text, &id), default_qa)
        }));
    }
    steps.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(ProtocolSpec {
        version: spec::SPEC_VERSION,
        protocol: protocol.clone(),
        source: previous.map_or_else(|| source.to_owned(), |p| p.source),
        steps,
    })
}

/// Every problem with `spec`: schema first, then the domain rules against the files.
pub fn validate_spec(store: &Store, spec: &ProtocolSpec) -> Vec<SpecIssue> {
    let value = serde_json::to_value(spec).unwrap_or_default();
    let mut issues: Vec<SpecIssue> = schema_errors(SPEC_SCHEMA, &value)
        .into_iter()
        .map(|e| {
            let (at, message) = e.split_once(": ").unwrap_or(("/", e.as_str()));
            SpecIssue {
                at: format!("schema:{at}"),
                message: message.to_owned(),
            }
        })
        .collect();
    let root = store.protocol_dir(&spec.protocol);
    let exists = |rel: &str| {
        let path = root.join(rel);
        // A symlink could point outside the protocol folder.
        std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
    };
    issues.extend(spec::validate(spec, &exists));
    issues
}

/// Validates `spec` and, when valid, writes `spec.json` and records `spec_validated`; when
/// invalid, records one `spec_validation_error` event listing every problem and writes
/// nothing else.
pub fn validate_and_persist_spec(
    ctx: &Context,
    store: &Store,
    spec: &ProtocolSpec,
) -> Result<String, Error> {
    let issues = validate_spec(store, spec);
    if !issues.is_empty() {
        let mut meta = serde_json::Map::new();
        meta.insert(
            "errors".into(),
            issues
                .iter()
                .map(|i| format!("{}: {}", i.at, i.message))
                .collect::<Vec<_>>()
                .into(),
        );
        telemetry::log_protocol_event(
            ctx,
            store,
            &spec.protocol,
            None,
            EventKind::SpecValidationError,
            format!("{} problems in the spec", issues.len()),
            meta,
        )?;
        return Err(Error::Invalid {
            protocol: spec.protocol.clone(),
            issues,
        });
    }
    let hash = spec.hash();
    let file = SpecFile {
        hash: hash.clone(),
        spec: serde_json::to_value(spec).unwrap_or_default(),
    };
    let mut bytes = serde_json::to_vec_pretty(&file).unwrap_or_default();
    bytes.push(b'\n');
    storage::write_atomic(
        &ProtocolRepository::spec_path(store, &spec.protocol),
        &bytes,
    )?;
    let mut meta = serde_json::Map::new();
    meta.insert("spec_hash".into(), hash.clone().into());
    meta.insert("steps".into(), spec.steps.len().into());
    telemetry::log_protocol_event(
        ctx,
        store,
        &spec.protocol,
        None,
        EventKind::SpecValidated,
        format!("spec with {} steps validated", spec.steps.len()),
        meta,
    )?;
    Ok(hash)
}

/// Records a `step_added` event for every spec step the log does not know yet. Returns how
/// many were added; running it again adds none.
pub fn ensure_step_runs(ctx: &Context, store: &Store, spec: &ProtocolSpec) -> Result<usize, Error> {
    let state = ProtocolRepository::load_state(store, &spec.protocol)?.state;
    let mut added = 0;
    for step in &spec.steps {
        if state.step(&step.id).is_none() {
            let mut meta = serde_json::Map::new();
            meta.insert("name".into(), step.name.clone().into());
            meta.insert(
                "step_type".into(),
                serde_json::to_value(step.step_type).unwrap_or_default(),
            );
            telemetry::log_protocol_event(
                ctx,
                store,
                &spec.protocol,
                Some(&step.id),
                EventKind::StepAdded,
                format!("step {} added", step.id),
                meta,
            )?;
            added += 1;
        }
    }
    Ok(added)
}

/// Records `step_removed` for every step the log knows that `spec` no longer has (its file
/// was deleted). A running step is kept: its attempt must end first. Returns the removed ones.
pub fn drop_removed_steps(
    ctx: &Context,
    store: &Store,
    spec: &ProtocolSpec,
) -> Result<Vec<StepId>, Error> {
    let state = ProtocolRepository::load_state(store, &spec.protocol)?.state;
    let mut removed = Vec::new();
    for step in &state.steps {
        if spec.step(&step.id).is_some() {
            continue;
        }
        if step.status == crate::domain::StepStatus::Running {
            ctx.reporter.warn(&format!(
                "step {} is running; it stays until its attempt ends",
                step.id
            ));
            continue;
        }
        telemetry::log_protocol_event(
            ctx,
            store,
            &spec.protocol,
            Some(&step.id),
            EventKind::StepRemoved,
            format!("step {} removed: its file is gone", step.id),
            Default::default(),
        )?;
        removed.push(step.id.clone());
    }
    Ok(removed)
}

/// Reads `spec.json`, checking schema, types and hash; `Ok(None)` when there is none.
pub fn load_spec(store: &Store, protocol: &ProtocolId) -> Result<Option<ProtocolSpec>, Error> {
    let path = ProtocolRepository::spec_path(store, protocol);
    let Some(bytes) = storage::read_optional(&path)? else {
        return Ok(None);
    };
    if let Some(spec) = LOADED.recall(&path, &bytes) {
        return Ok(Some(spec));
    }
    let known = known_specs(store);
    let digest = format!("bytes:{}", crate::digest::sha256_hex(&bytes));
    if known_valid(&known, &digest)
        && let Ok(file) = serde_json::from_slice::<TypedSpecFile>(&bytes)
    {
        LOADED.keep(&path, bytes, &file.spec);
        return Ok(Some(file.spec));
    }
    let file: SpecFile = serde_json::from_slice(&bytes).map_err(|source| storage::Error::Json {
        path: path.clone(),
        line: None,
        source,
    })?;
    // Checked before (see `known_valid`): parsed and compared with its hash only. On any
    // failure the full check below says what is wrong, as for a spec never seen.
    if known_valid(&known, &file.hash)
        && let Ok(spec) = ProtocolSpec::deserialize(&file.spec)
        && spec.hash() == file.hash
    {
        remember_valid(store, &[&digest]);
        LOADED.keep(&path, bytes, &spec);
        return Ok(Some(spec));
    }
    let errors = schema_errors(SPEC_SCHEMA, &file.spec);
    if !errors.is_empty() {
        return Err(Error::Invalid {
            protocol: protocol.clone(),
            issues: errors
                .into_iter()
                .map(|e| SpecIssue {
                    at: format!("{}:{e}", path.display()),
                    message: "schema".into(),
                })
                .collect(),
        });
    }
    let spec: ProtocolSpec =
        serde_json::from_value(file.spec).map_err(|source| storage::Error::Json {
            path: path.clone(),
            line: None,
            source,
        })?;
    if spec.hash() != file.hash {
        return Err(Error::HashMismatch { path });
    }
    remember_valid(store, &[&file.hash, &digest]);
    LOADED.keep(&path, bytes, &spec);
    Ok(Some(spec))
}

/// The spec this process loaded last, with the bytes it was loaded from: `protocol run` loads
/// its protocol's spec several times per step (the plan, QA, the policy's decisions), and
/// parsing it again cost more than comparing the bytes (#13). Only bytes identical to ones
/// already checked are answered from here, so a spec changed meanwhile is read and checked
/// afresh.
static LOADED: LoadedSpec = LoadedSpec(std::sync::Mutex::new(None));

struct LoadedSpec(std::sync::Mutex<Option<(std::path::PathBuf, Vec<u8>, ProtocolSpec)>>);

impl LoadedSpec {
    fn recall(&self, path: &Path, bytes: &[u8]) -> Option<ProtocolSpec> {
        let kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.as_ref()
            .filter(|(p, b, _)| p == path && b == bytes)
            .map(|(_, _, spec)| spec.clone())
    }

    fn keep(&self, path: &Path, bytes: Vec<u8>, spec: &ProtocolSpec) {
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *kept = Some((path.to_path_buf(), bytes, spec.clone()));
    }
}

/// `fsck` findings for the files of `protocol` that only this service can judge: `spec.json`
/// (parsed, schema, hash, the domain rules and the files it names) and every `runs/*.json`
/// (parsed, with the fields a run record must have and agreeing with its name). Neither kind
/// is repaired: each holds what a person chose or what happened, which fsck cannot redo.
pub fn fsck_files(store: &Store, protocol: &ProtocolId) -> Vec<storage::fsck::Problem> {
    let rel = |p: &Path| store.display(p).into_owned();
    let problem = |file: &Path, location: Option<String>, message: String, why: &str| {
        storage::fsck::Problem {
            file: rel(file),
            location,
            message,
            repairable: false,
            unrepairable: Some(why.to_owned()),
            repaired: None,
        }
    };
    const SPEC_WHY: &str = "a spec holds choices a person made (engines, QA policies, loops): fix it or restore it from git (`git log -p -- FILE`), then run `godzilla spec validate`";
    const RUN_WHY: &str =
        "a run record is the history of one attempt: restore it from git (`git log -p -- FILE`)";
    let mut problems = Vec::new();
    let spec_path = ProtocolRepository::spec_path(store, protocol);
    match load_spec(store, protocol) {
        Ok(None) => {}
        // A link is reported by the walk over `.godzilla/`.
        Err(Error::Infra(Infra::Storage(storage::Error::Symlink { .. }))) => {}
        Err(Error::Invalid { issues, .. }) => problems.extend(issues.into_iter().map(|i| {
            let at = i.at.rsplit_once(".json:").map_or(i.at.as_str(), |(_, a)| a);
            problem(&spec_path, Some(at.to_owned()), i.message, SPEC_WHY)
        })),
        Err(Error::Infra(Infra::Storage(storage::Error::Json { source, .. }))) => {
            problems.push(problem(
                &spec_path,
                Some(format!("line {} column {}", source.line(), source.column())),
                format!("unreadable: {source}"),
                SPEC_WHY,
            ));
        }
        Err(e) => problems.push(problem(&spec_path, None, e.to_string(), SPEC_WHY)),
        Ok(Some(spec)) => {
            if spec.protocol != *protocol {
                problems.push(problem(
                    &spec_path,
                    Some("protocol".into()),
                    format!("names protocol {}, but lives in {protocol}", spec.protocol),
                    SPEC_WHY,
                ));
            }
            problems.extend(
                validate_spec(store, &spec)
                    .into_iter()
                    .map(|i| problem(&spec_path, Some(i.at), i.message, SPEC_WHY)),
            );
        }
    }

    let runs = store.protocol_dir(protocol).join("runs");
    let mut entries: Vec<_> = std::fs::read_dir(&runs)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for path in entries {
        let is_file = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        if !is_file || stem.starts_with(".gz-") {
            continue;
        }
        let Ok(Some(bytes)) = storage::read_optional(&path) else {
            continue;
        };
        match serde_json::from_slice::<RunRecordCheck>(&bytes) {
            Err(e) => problems.push(problem(
                &path,
                Some(format!("line {} column {}", e.line(), e.column())),
                format!("not a valid run record: {e}"),
                RUN_WHY,
            )),
            Ok(record) => {
                let mut wrong = Vec::new();
                if record.run_id != stem {
                    wrong.push((
                        "run_id",
                        format!("`{}` is not the file's name", record.run_id),
                    ));
                }
                if record.protocol != *protocol {
                    wrong.push(("protocol", format!("names {}", record.protocol)));
                }
                if !record.run_id.starts_with(&format!("{}-a", record.step)) {
                    wrong.push(("step", format!("{} does not match the run id", record.step)));
                }
                if record.attempt == 0 {
                    wrong.push(("attempt", "attempts count from 1".into()));
                }
                if record.format == 0 || record.format > storage::FORMAT {
                    wrong.push(("format", format!("unknown record format {}", record.format)));
                }
                problems.extend(
                    wrong
                        .into_iter()
                        .map(|(at, message)| problem(&path, Some(at.into()), message, RUN_WHY)),
                );
            }
        }
    }
    problems
}

/// The fields every run record has, typed; other fields may be added freely.
#[derive(Deserialize)]
#[allow(dead_code, reason = "fields are checked by parsing them")]
struct RunRecordCheck {
    format: u32,
    run_id: String,
    protocol: ProtocolId,
    step: StepId,
    attempt: u32,
    engine: String,
    classification: crate::engines::Classification,
    usage: crate::engines::Usage,
    started: String,
    finished: String,
    duration_ms: u64,
}

/// The spec of one step, if the protocol has a spec and the step is in it.
pub fn get_step_spec(
    store: &Store,
    protocol: &ProtocolId,
    step: &StepId,
) -> Result<Option<StepSpec>, Error> {
    Ok(load_spec(store, protocol)?.and_then(|s| s.step(step).cloned()))
}

/// Writes step files and `plan.md` (when given) into the protocol folder. Names were
/// validated by the caller ([`StepId`]); texts are written as they are.
pub fn write_steps(
    store: &Store,
    protocol: &ProtocolId,
    plan: Option<&str>,
    steps: &[(StepId, String)],
) -> Result<(), Error> {
    if let Some(plan) = plan {
        storage::write_atomic(
            &ProtocolRepository::plan_path(store, protocol),
            plan.as_bytes(),
        )?;
    }
    for (id, text) in steps {
        StepRepository::write_step(store, protocol, id, text)?;
    }
    Ok(())
}

/// Whether `path` is a regular file inside `root` (no symlinks followed).
pub fn is_regular_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

/// A spec rebuilt from the step files, plus what the rebuild had to say about the stored one.
#[derive(Clone, Debug)]
pub struct Rebuilt {
    /// The spec.
    pub spec: ProtocolSpec,
    /// Things worth knowing (e.g. a hand-edited `spec.json`).
    pub warnings: Vec<String>,
}

/// Rebuilds the spec from `steps/*.md`, keeping what the stored spec says about each step.
///
/// Unlike [`build_spec_from_protocol`] alone, it keeps (a) a stored spec whose hash no
/// longer matches because a person edited it — that edit is the point of `spec validate` —
/// and (b) steps the spec or the event log knows whose file is gone, so validation reports
/// the missing file instead of the step silently vanishing.
pub fn rebuild_spec(
    store: &Store,
    protocol: &ProtocolId,
    config: &Config,
) -> Result<Rebuilt, Error> {
    let mut warnings = Vec::new();
    let mut built = build_spec_from_protocol(store, protocol, config.qa.policy, "files")?;
    let stored = match load_spec(store, protocol) {
        Ok(s) => s,
        Err(Error::HashMismatch { path }) => {
            let edited = read_unchecked_spec(&path);
            if edited.is_some() {
                warnings.push(format!(
                    "{} was edited by hand; its settings are kept and its hash is renewed",
                    store.display(&path)
                ));
            }
            edited
        }
        Err(Error::Invalid { issues, .. }) => {
            warnings.push(format!(
                "the stored spec does not match the schema ({}); rebuilt from the step files",
                issues.len()
            ));
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(stored) = &stored {
        for s in &mut built.steps {
            if let Some(kept) = stored.step(&s.id) {
                *s = kept.clone();
            }
        }
        built.source = stored.source.clone();
        // A stored step whose instructions live outside steps/ (an import) is kept while its
        // file exists; one whose file was deleted leaves the spec (and then the log).
        let dir = store.protocol_dir(protocol);
        for s in &stored.steps {
            let file = Path::new(&s.prompt_ref);
            let gone = file.is_relative()
                && !file
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
                && !dir.join(file).exists();
            if built.step(&s.id).is_none() && !gone {
                built.steps.push(s.clone());
            }
        }
    }
    built.steps.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Rebuilt {
        spec: built,
        warnings,
    })
}

/// `spec.json` read without the hash check; `None` when it does not parse as a spec.
fn read_unchecked_spec(path: &Path) -> Option<ProtocolSpec> {
    let bytes = storage::read_optional(path).ok()??;
    let file: SpecFile = serde_json::from_slice(&bytes).ok()?;
    if !schema_errors(SPEC_SCHEMA, &file.spec).is_empty() {
        return None;
    }
    serde_json::from_value(file.spec).ok()
}

/// What `spec show` prints.
#[derive(Clone, Debug, Serialize)]
pub struct SpecReport {
    /// The protocol.
    pub protocol: ProtocolId,
    /// `spec.json`, relative to the worktree.
    pub path: String,
    /// The stored hash.
    pub hash: String,
    /// The spec.
    pub spec: ProtocolSpec,
}

/// Reads the stored spec of a protocol (hash checked).
pub fn show_spec(ctx: &Context, protocol: &ProtocolId) -> Result<SpecReport, Error> {
    let store = protocols::locate(ctx, protocol)?;
    let path = ProtocolRepository::spec_path(&store, protocol);
    let spec = load_spec(&store, protocol)?.ok_or_else(|| Error::NoSpec {
        protocol: protocol.clone(),
        path: store.display(&path).into_owned(),
    })?;
    Ok(SpecReport {
        protocol: protocol.clone(),
        path: store.display(&path).into_owned(),
        hash: spec.hash(),
        spec,
    })
}

/// What `spec validate` found.
#[derive(Clone, Debug, Serialize)]
pub struct SpecValidation {
    /// The protocol.
    pub protocol: ProtocolId,
    /// Whether the rebuilt spec is valid (and was stored).
    pub valid: bool,
    /// Hash of the stored spec, when valid.
    pub hash: Option<String>,
    /// Steps in the rebuilt spec.
    pub steps: Vec<StepSpec>,
    /// Every problem, with its location.
    pub issues: Vec<SpecIssue>,
    /// `step_added` events recorded for steps the log did not know.
    pub steps_added: usize,
    /// Steps that left the spec and the log (`step_removed`): their files are gone.
    pub steps_removed: Vec<StepId>,
    /// Things worth knowing.
    pub warnings: Vec<String>,
}

/// Rebuilds the spec of a protocol from its step files (see [`rebuild_spec`]), validates it
/// (schema and paths) and, when valid, stores it and records a `step_added` event for any
/// step the log lacks. An invalid spec records `spec_validation_error` and stores nothing.
pub fn validate_protocol_spec(
    ctx: &Context,
    protocol: &ProtocolId,
) -> Result<SpecValidation, Error> {
    let store = protocols::locate(ctx, protocol)?;
    let config = store.load_config()?;
    let Rebuilt {
        spec: built,
        warnings,
    } = rebuild_spec(&store, protocol, &config)?;
    for w in &warnings {
        ctx.reporter.warn(w);
    }
    let mut report = SpecValidation {
        protocol: protocol.clone(),
        valid: false,
        hash: None,
        steps: built.steps.clone(),
        issues: Vec::new(),
        steps_added: 0,
        steps_removed: Vec::new(),
        warnings,
    };
    match validate_and_persist_spec(ctx, &store, &built) {
        Ok(hash) => {
            report.valid = true;
            report.hash = Some(hash);
            report.steps_added = ensure_step_runs(ctx, &store, &built)?;
            report.steps_removed = drop_removed_steps(ctx, &store, &built)?;
        }
        Err(Error::Invalid { issues, .. }) => report.issues = issues,
        Err(e) => return Err(e),
    }
    Ok(report)
}
