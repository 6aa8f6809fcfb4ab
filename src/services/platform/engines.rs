//! Platform engines service: the one place that decides which engine and model run a phase,
//! and that lists what is available (for `godzilla doctor` and `engines` inspection).
//!
//! Precedence (issue 3): command-line flag > step spec > config for the phase > the engine's
//! own default. A model follows its engine: a step's or phase's model is used only when that
//! level named no engine or named the engine that was chosen, so `--engine claude` never
//! inherits a codex model from the phase config.
//!
//! It wraps [`engines::Registry`]. Services run a phase through it the same way: build the
//! request ([`phase_request`]), then [`run_guarded`], which snapshots the protected files and
//! refs ([`guard`]) before the engine starts and restores them after, and keeps the transcript.

pub mod guard;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use serde::Serialize;

use crate::config::{Config, PhaseConfig, Phases};
use crate::context::Context;
use crate::engines::registry::{Registry, RegistryOptions};
use crate::engines::{self, Engine, EngineKind, EngineOutcome, EngineRequest, Phase, ProbeReport};
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::storage::{self, Store};
use crate::services::platform::telemetry::transcript;
use guard::Protected;

/// Errors selecting or inspecting engines.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing names an engine for this phase.
    #[error("no engine is configured for the {phase} phase")]
    NoEngine {
        /// The phase.
        phase: &'static str,
    },
    /// The engine layer refused (unknown engine, bad profile).
    #[error(transparent)]
    Engine(#[from] engines::Error),
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NoEngine { .. } => ErrorKind::Usage,
            // Choosing an engine reads its profile: a profile that names nothing usable is
            // the user's to fix; whatever else the engine layer meets on the way is a failure.
            Self::Engine(
                engines::Error::UnknownEngine { .. }
                | engines::Error::UnknownKind { .. }
                | engines::Error::Incomplete { .. }
                | engines::Error::NoTranscripts { .. }
                | engines::Error::ReplayCommand { .. }
                | engines::Error::RelativeRecord { .. },
            ) => ErrorKind::Usage,
            Self::Engine(_) => ErrorKind::Failed,
        }
    }
}

impl Error {
    /// A hint for the user, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NoEngine { phase } => Some(format!(
                "set `engine` under `[phases.{phase}]` in .godzilla/config.toml, or pass --engine"
            )),
            Self::Engine(e) => e.hint(),
        }
    }
}

/// What the caller knows besides the config: the command line and the step spec.
#[derive(Clone, Copy, Debug, Default)]
pub struct Choice<'a> {
    /// `--engine`.
    pub flag_engine: Option<&'a str>,
    /// `--model`.
    pub flag_model: Option<&'a str>,
    /// The step spec's engine.
    pub step_engine: Option<&'a str>,
    /// The step spec's model.
    pub step_model: Option<&'a str>,
}

/// Which level decided the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The command line.
    Flag,
    /// The step spec.
    Step,
    /// `[phases.*]` in the config.
    Phase,
}

/// The engine and model chosen for one run.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The engine.
    pub engine: Arc<dyn Engine>,
    /// The model (`None`: the engine's own default).
    pub model: Option<String>,
    /// Where the engine choice came from.
    pub source: Source,
    /// The profile's timeout, if it sets one.
    pub timeout: Option<Duration>,
}

/// One available engine, for listings.
#[derive(Clone, Debug, Serialize)]
pub struct EngineInfo {
    /// Name.
    pub name: String,
    /// Adapter kind.
    pub kind: EngineKind,
    /// Executable (`None` for replay).
    pub program: Option<String>,
    /// Default model of the profile.
    pub default_model: Option<String>,
    /// Whether the executable was found on PATH.
    pub installed: bool,
    /// Phases whose config names this engine.
    pub phases: Vec<&'static str>,
}

/// The engines service.
#[derive(Clone, Debug)]
pub struct Engines {
    registry: Registry,
    phases: Phases,
}

impl Engines {
    /// Builds the registry from the config's `[engines.*]` profiles.
    pub fn new(config: &Config, options: RegistryOptions) -> Result<Self, Error> {
        Ok(Self {
            registry: Registry::new(&config.engines, options)?,
            phases: config.phases.clone(),
        })
    }

    /// Wraps an existing registry (tests inject in-process engines this way).
    pub fn from_registry(registry: Registry, phases: Phases) -> Self {
        Self { registry, phases }
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The config of one phase.
    pub fn phase_config(&self, phase: Phase) -> &PhaseConfig {
        match phase {
            Phase::Planning => &self.phases.planning,
            Phase::Decompose => &self.phases.decompose,
            Phase::Exec => &self.phases.exec,
            Phase::Qa => &self.phases.qa,
            Phase::Discovery => &self.phases.discovery,
        }
    }

    /// Chooses the engine and model for `phase`.
    pub fn select(&self, phase: Phase, choice: &Choice<'_>) -> Result<Selection, Error> {
        let config = self.phase_config(phase);
        let (name, source) = match (choice.flag_engine, choice.step_engine, &config.engine) {
            (Some(e), _, _) => (e, Source::Flag),
            (None, Some(e), _) => (e, Source::Step),
            (None, None, Some(e)) => (e.as_str(), Source::Phase),
            (None, None, None) => {
                return Err(Error::NoEngine {
                    phase: phase.as_str(),
                });
            }
        };
        let engine = self.registry.get(name)?;
        // A level's model applies only if that level did not name a different engine.
        let fits = |level_engine: Option<&str>| level_engine.is_none_or(|e| e == name);
        let model = choice
            .flag_model
            .or(choice.step_model.filter(|_| fits(choice.step_engine)))
            .or(config
                .model
                .as_deref()
                .filter(|_| fits(config.engine.as_deref())))
            .or(engine.default_model())
            .map(str::to_owned);
        Ok(Selection {
            timeout: engine.default_timeout(),
            engine,
            model,
            source,
        })
    }

    /// Every engine with whether it is installed and which phases use it.
    pub fn inspect(&self) -> Vec<EngineInfo> {
        let all_phases = [
            Phase::Planning,
            Phase::Decompose,
            Phase::Exec,
            Phase::Qa,
            Phase::Discovery,
        ];
        self.registry
            .engines()
            .map(|e| EngineInfo {
                name: e.name().to_owned(),
                kind: e.kind(),
                program: e.program().map(str::to_owned),
                default_model: e.default_model().map(str::to_owned),
                installed: e.check_installed().is_ok(),
                phases: all_phases
                    .iter()
                    .filter(|p| self.phase_config(**p).engine.as_deref() == Some(e.name()))
                    .map(|p| p.as_str())
                    .collect(),
            })
            .collect()
    }

    /// Probes one engine, or every engine when `name` is `None` (runs `--version`/`--help`).
    pub fn probe(&self, name: Option<&str>) -> Result<Vec<ProbeReport>, Error> {
        match name {
            Some(name) => Ok(vec![self.registry.get(name)?.probe()]),
            None => Ok(self.registry.probe_all()),
        }
    }
}

/// Builds the engines service for a worktree's configuration.
pub fn engines_for(ctx: &Context, store: &Store, config: &Config) -> Result<Engines, Error> {
    Engines::new(
        config,
        RegistryOptions {
            host_env: (*ctx.env.all).clone(),
            record: ctx.engine_io.record.clone(),
            replay: ctx.engine_io.replay.clone(),
            replay_cursor: Some(store.local_dir().join("replay").join("cursor.json")),
            homes_dir: Some(store.local_dir().join("homes")),
            extra: ctx.engine_io.extra.clone(),
            git: ctx.git_program().to_owned(),
            ..RegistryOptions::default()
        },
    )
}

/// One engine run of a phase other than exec, before its request is built.
pub struct PhaseRun {
    /// The phase.
    pub phase: Phase,
    /// What the run is for (`0001-x/02-y/qa`): logs and replay matching.
    pub label: String,
    /// Scratch directory name, unique per run.
    pub run: String,
    /// The rendered prompt.
    pub prompt: String,
    /// JSON schema the answer must follow, for engines that take one.
    pub schema: Option<serde_json::Value>,
    /// `--timeout`, which beats the engine profile's and the config's.
    pub timeout: Option<Duration>,
}

/// The request for `run` with `selection`'s engine and model in `store`'s worktree: the
/// wall-clock limit from the flag, the engine profile or `[execution]` (in that order), the
/// stall limit from `[execution]`, and a fresh scratch directory.
pub fn phase_request(
    store: &Store,
    config: &Config,
    selection: &Selection,
    run: PhaseRun,
) -> Result<EngineRequest, storage::Error> {
    // Created by the engine adapter when it writes a file there (most write none).
    let scratch = store.local_dir().join("runs").join(&run.run);
    Ok(EngineRequest {
        label: run.label,
        prompt: run.prompt,
        workdir: store.root().to_path_buf(),
        model: selection.model.clone(),
        phase: run.phase,
        output_schema: run.schema,
        timeout: run
            .timeout
            .or(selection.timeout)
            .unwrap_or(Duration::from_secs(config.execution.timeout_secs)),
        stall_timeout: Duration::from_secs(config.execution.stall_timeout_secs),
        scratch_dir: scratch,
        env: BTreeMap::new(),
        group_lock: Some(engine_lock_path(store)),
    })
}

/// The lock every engine run in `store`'s worktree hands down to its process tree: one per
/// worktree, so a run never starts while anything of an earlier one (an orphan of a killed
/// godzilla) still works in the same files.
pub fn engine_lock_path(store: &Store) -> PathBuf {
    let root = store.root();
    let digest = Sha256::digest(root.as_os_str().as_encoded_bytes());
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    store.local_dir().join("locks").join(format!(
        "engine-{name}-{:02x}{:02x}{:02x}{:02x}.lock",
        digest[0], digest[1], digest[2], digest[3]
    ))
}

/// What [`run_guarded`] returns: the run's result, the protected paths the engine changed
/// (restored), and the transcript's name.
pub type GuardedRun = (Result<EngineOutcome, engines::Error>, Vec<String>, String);

/// Runs an engine for a read-only phase the way every phase must: protected files snapshot
/// before and checked (and restored) after, the scratch directory removed, the scrubbed
/// transcript kept (see [`transcript_path`]). Returns the run's result, the protected paths
/// the engine changed, and the transcript's name (relative to the machine-local directory).
pub fn run_guarded(
    ctx: &Context,
    store: &Store,
    engine: &dyn Engine,
    request: &EngineRequest,
) -> Result<GuardedRun, storage::Error> {
    run_guarded_from(ctx, store, Protected::begin(ctx, store)?, engine, request)
}

/// [`run_guarded`] with the guard's snapshot begun earlier by the caller (see
/// [`Protected::begin`]), so that its reading overlaps the caller's preparation.
pub(crate) fn run_guarded_from(
    ctx: &Context,
    store: &Store,
    guard: guard::Begun,
    engine: &dyn Engine,
    request: &EngineRequest,
) -> Result<GuardedRun, storage::Error> {
    let guard = guard.finish()?;
    let (protocol, step) = transcript::RunMeta::from_label(&request.label);
    let run_name = request.scratch_dir.file_name().map_or_else(
        || request.label.replace('/', "-"),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut live = transcript::LiveLog::start(
        store.local_dir(),
        &ctx.clock,
        transcript::RunMeta {
            run: run_name,
            protocol,
            step,
            phase: request.phase,
            engine: engine.name().to_owned(),
            kind: engine.kind(),
            model: request.model.clone(),
        },
    );
    let run = engine.execute(request, &mut |stream, line| live.observe(stream, line));
    if let Ok(run) = &run {
        live.finish(&run.outcome, run.outcome.cost_usd);
    }
    storage::remove_scratch_dir(&request.scratch_dir);
    let changed = guard.verify_and_restore()?;
    let run_name = request
        .scratch_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (log, name) = transcript_path(store, &request.label, &run_name);
    let text = match &run {
        Ok(run) => transcript_text(&run_name, Some(&run.transcript), None),
        Err(e) => transcript_text(&run_name, None, Some(&e.to_string())),
    };
    storage::write_derived(&log, text.as_bytes())?;
    Ok((run.map(|r| r.outcome), changed, name))
}

/// Where the scrubbed transcript of the engine run `run` for `label` (`0001-x/02-y/qa`) is
/// kept: `logs/<protocol>/<run>.log` in the machine-local directory. Returns the path and
/// the name recorded in run records and events (relative to that directory).
pub fn transcript_path(store: &Store, label: &str, run: &str) -> (PathBuf, String) {
    let group = label
        .split('/')
        .next()
        .filter(|g| !g.is_empty() && !g.starts_with('.'))
        .unwrap_or("project");
    let name = format!("logs/{group}/{run}.log");
    (store.local_dir().join(&name), name)
}

/// The text of a transcript log: the scrubbed output, or why no process ran.
pub fn transcript_text(
    run: &str,
    transcript: Option<&engines::Transcript>,
    error: Option<&str>,
) -> String {
    match transcript {
        Some(t) => format!(
            "# run {run}\n## stdout\n{}\n## stderr\n{}\n",
            t.stdout, t.stderr
        ),
        None => format!("# run {run}\n(no process ran: {})\n", error.unwrap_or("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineProfile;

    fn service() -> Engines {
        let mut config = Config::default();
        config.phases.exec = PhaseConfig {
            engine: Some("codex".into()),
            model: Some("gpt-5".into()),
        };
        config.phases.qa = PhaseConfig {
            engine: Some("reviewer".into()),
            model: None,
        };
        config.engines.insert(
            "reviewer".into(),
            EngineProfile {
                kind: Some("claude".into()),
                model: Some("opus".into()),
                timeout_secs: Some(600),
                ..EngineProfile::default()
            },
        );
        Engines::new(&config, RegistryOptions::default()).unwrap()
    }

    #[test]
    fn test_engines_select_precedence() {
        let s = service();
        let sel = s.select(Phase::Exec, &Choice::default()).unwrap();
        assert_eq!(
            (sel.engine.name(), sel.model.as_deref()),
            ("codex", Some("gpt-5"))
        );
        assert_eq!(sel.source, Source::Phase);

        let sel = s
            .select(
                Phase::Exec,
                &Choice {
                    step_engine: Some("codex"),
                    step_model: Some("o3"),
                    ..Choice::default()
                },
            )
            .unwrap();
        assert_eq!(
            (sel.engine.name(), sel.model.as_deref()),
            ("codex", Some("o3"))
        );
        assert_eq!(sel.source, Source::Step);

        // A flag engine does not inherit the phase's model for another engine.
        let sel = s
            .select(
                Phase::Exec,
                &Choice {
                    flag_engine: Some("claude"),
                    ..Choice::default()
                },
            )
            .unwrap();
        assert_eq!((sel.engine.name(), sel.model.as_deref()), ("claude", None));
        assert_eq!(sel.source, Source::Flag);

        // The profile's default model and timeout apply last.
        let sel = s.select(Phase::Qa, &Choice::default()).unwrap();
        assert_eq!(
            (sel.engine.name(), sel.model.as_deref()),
            ("reviewer", Some("opus"))
        );
        assert_eq!(sel.timeout, Some(Duration::from_secs(600)));
    }

    #[test]
    fn test_engines_select_errors() {
        let s = service();
        let err = s.select(Phase::Planning, &Choice::default()).unwrap_err();
        assert!(
            matches!(err, Error::NoEngine { phase: "planning" }),
            "{err}"
        );
        assert!(err.hint().unwrap().contains("[phases.planning]"));
        let err = s
            .select(
                Phase::Exec,
                &Choice {
                    flag_engine: Some("nope"),
                    ..Choice::default()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("unknown engine `nope`"), "{err}");
    }

    #[test]
    fn test_engines_inspect_lists_phases() {
        let s = service();
        let info = s.inspect();
        let codex = info.iter().find(|i| i.name == "codex").unwrap();
        assert_eq!(codex.phases, ["exec"]);
        let replay = info.iter().find(|i| i.name == "replay").unwrap();
        assert!(!replay.installed, "no transcripts: nothing to replay");
        assert_eq!(s.probe(Some("replay")).unwrap().len(), 1);
    }
}
