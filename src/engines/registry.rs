//! The engine registry: engine names to [`Engine`]s.
//!
//! Built-in names are `codex`, `claude`, `opencode`, `gemini` and `replay`; every
//! `[engines.NAME]` profile adds or overrides one (kind, command, args, env, model, timeout).
//! A profile named after a built-in without a `kind` tweaks that built-in. For `kind =
//! "replay"`, `command` names a transcript directory.
//!
//! The registry only resolves names; it never picks an engine for a phase (that is
//! `services::platform::engines`) and never runs one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::replay::{RecordingEngine, ReplayEngine, TranscriptSource};
use super::{Adapter, CliEngine, Engine, EngineKind, Error, ProbeReport};
use crate::config::EngineProfile;

/// The engines that exist without any configuration.
pub const BUILTIN: [&str; 5] = ["codex", "claude", "opencode", "gemini", "replay"];

/// The adapter for a CLI kind (`None` for replay, which runs no process).
pub fn adapter_for(kind: EngineKind) -> Option<Box<dyn Adapter>> {
    match kind {
        EngineKind::Codex => Some(Box::new(super::codex::Codex)),
        EngineKind::Claude => Some(Box::new(super::claude::Claude)),
        EngineKind::Opencode => Some(Box::new(super::opencode::Opencode)),
        EngineKind::Gemini => Some(Box::new(super::gemini::Gemini)),
        EngineKind::Command => Some(Box::new(super::command::Command::default())),
        EngineKind::Replay => None,
    }
}

/// A snapshot of the process environment for [`RegistryOptions::host_env`]. Call it once at
/// start-up (next to `Context` creation) and pass the map down; nothing in the engine layer
/// reads the environment by itself.
pub fn capture_host_env() -> BTreeMap<String, String> {
    // Non-UTF-8 variables are skipped: no engine key or path we pass through needs one.
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// What the registry needs besides the profiles.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// The host environment; engines receive only allowlisted and declared keys of it.
    pub host_env: BTreeMap<String, String>,
    /// `--record DIR`: every engine stores its runs there.
    pub record: Option<PathBuf>,
    /// `--replay DIR` (or the demo's recordings): every engine answers from these recordings
    /// instead of running, under its own name.
    pub replay: Option<TranscriptSource>,
    /// Where replay engines keep their cursors across processes.
    pub replay_cursor: Option<PathBuf>,
    /// In-process engines added to (or replacing) the configured ones: embedders and tests.
    pub extra: Vec<Arc<dyn Engine>>,
    /// The git program a recording engine reads the workdir's changes with.
    pub git: String,
    /// Time between SIGTERM and SIGKILL when a run is killed.
    pub kill_grace: Duration,
    /// Where engines whose profile says `home = "isolated"` keep their homes.
    pub homes_dir: Option<PathBuf>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            host_env: BTreeMap::new(),
            record: None,
            replay: None,
            replay_cursor: None,
            extra: Vec::new(),
            git: "git".to_owned(),
            kill_grace: super::runner::DEFAULT_KILL_GRACE,
            homes_dir: None,
        }
    }
}

/// Engine names to engines.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    engines: BTreeMap<String, Arc<dyn Engine>>,
}

impl Registry {
    /// The built-in engines plus one per profile.
    pub fn new(
        profiles: &BTreeMap<String, EngineProfile>,
        options: RegistryOptions,
    ) -> Result<Self, Error> {
        let host_env = Arc::new(options.host_env);
        let mut engines: BTreeMap<String, Arc<dyn Engine>> = BTreeMap::new();
        let default_profile = EngineProfile::default();
        let builtins = BUILTIN.iter().filter(|n| !profiles.contains_key(**n));
        let all = builtins
            .map(|n| ((*n).to_owned(), &default_profile))
            .chain(profiles.iter().map(|(n, p)| (n.clone(), p)));
        for (name, profile) in all {
            let kind = match (&profile.kind, EngineKind::parse(&name)) {
                (Some(kind), _) => EngineKind::parse(kind).ok_or_else(|| Error::UnknownKind {
                    name: name.clone(),
                    kind: kind.clone(),
                })?,
                (None, Some(builtin)) if BUILTIN.contains(&name.as_str()) => builtin,
                (None, _) if profile.command.is_some() => EngineKind::Command,
                (None, _) => return Err(Error::Incomplete { name }),
            };
            let replay = |source: Option<TranscriptSource>| {
                let mut replay = ReplayEngine::new(name.clone(), source);
                if let Some(cursor) = &options.replay_cursor {
                    let file = cursor.with_file_name(format!(
                        "{}-{name}.json",
                        cursor
                            .file_stem()
                            .map(|s| s.to_string_lossy())
                            .unwrap_or_default()
                    ));
                    replay = replay.with_cursor_file(file);
                }
                Arc::new(replay) as Arc<dyn Engine>
            };
            if kind == EngineKind::Replay && profile.command.is_some() {
                return Err(Error::ReplayCommand { name });
            }
            let engine: Arc<dyn Engine> = match (adapter_for(kind), &options.replay) {
                (_, Some(source)) => replay(Some(source.clone())),
                (Some(adapter), None) => {
                    if kind == EngineKind::Command && profile.command.is_none() {
                        return Err(Error::Incomplete { name });
                    }
                    Arc::new(
                        CliEngine::new(name.clone(), adapter, Arc::clone(&host_env))
                            .with_profile(profile)
                            .with_kill_grace(options.kill_grace)
                            .with_homes_dir(options.homes_dir.clone()),
                    )
                }
                (None, None) => {
                    let source = profile
                        .transcripts
                        .as_ref()
                        .map(|dir| TranscriptSource::Dir(dir.into()));
                    // A configured replay profile with nothing to replay is a config error;
                    // the unconfigured built-in name refuses only when it is used.
                    if source.is_none() && profiles.contains_key(&name) {
                        return Err(Error::NoTranscripts { name });
                    }
                    replay(source)
                }
            };
            if profile
                .record
                .as_ref()
                .is_some_and(|r| !std::path::Path::new(r).is_absolute())
            {
                return Err(Error::RelativeRecord { name });
            }
            let record = options
                .record
                .clone()
                .or_else(|| profile.record.as_ref().map(PathBuf::from))
                .filter(|_| options.replay.is_none());
            let engine = match record {
                Some(dir) => Arc::new(RecordingEngine::new(engine, dir, options.git.clone())),
                None => engine,
            };
            engines.insert(name, engine);
        }
        for engine in options.extra {
            let engine: Arc<dyn Engine> = match &options.record {
                Some(dir) => Arc::new(RecordingEngine::new(
                    engine,
                    dir.clone(),
                    options.git.clone(),
                )),
                None => engine,
            };
            engines.insert(engine.name().to_owned(), engine);
        }
        Ok(Self { engines })
    }

    /// The scrubber for everything persisted around engine runs: the secret-looking values
    /// of `host`, and every value any engine here is given (see [`Engine::given_values`]).
    /// Compiled once per process (see [`super::Scrubber::cached`]).
    pub fn scrubber(&self, host: &BTreeMap<String, String>) -> Arc<super::Scrubber> {
        let values: std::collections::BTreeSet<String> = host
            .iter()
            .filter(|(k, _)| super::scrub::is_secret_name(k))
            .map(|(_, v)| v.clone())
            .chain(self.engines.values().flat_map(|e| e.given_values()))
            .filter(|v| v.chars().count() >= super::scrub::MIN_SECRET_LEN)
            .collect();
        super::Scrubber::cached(values)
    }

    /// Adds (or replaces) an engine: for in-process test engines and embedders.
    pub fn insert(&mut self, engine: Arc<dyn Engine>) {
        self.engines.insert(engine.name().to_owned(), engine);
    }

    /// The engine called `name`.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Engine>, Error> {
        self.engines
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownEngine {
                name: name.to_owned(),
                known: self.engines.keys().cloned().collect(),
            })
    }

    /// The engine called `name`, if its executable can be found; otherwise
    /// [`Error::NotInstalled`] with an install hint.
    pub fn get_installed(&self, name: &str) -> Result<Arc<dyn Engine>, Error> {
        let engine = self.get(name)?;
        engine.check_installed()?;
        Ok(engine)
    }

    /// Every engine name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.engines.keys().map(String::as_str).collect()
    }

    /// Every engine, sorted by name.
    pub fn engines(&self) -> impl Iterator<Item = &Arc<dyn Engine>> {
        self.engines.values()
    }

    /// Probes every engine (runs `--version` and `--help` of those installed).
    pub fn probe_all(&self) -> Vec<ProbeReport> {
        self.engines.values().map(|e| e.probe()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(kind: Option<&str>, command: Option<&str>) -> EngineProfile {
        EngineProfile {
            kind: kind.map(str::to_owned),
            command: command.map(str::to_owned),
            ..EngineProfile::default()
        }
    }

    #[test]
    fn test_registry_builtins_and_profiles() {
        let mut profiles = BTreeMap::new();
        profiles.insert("aider".to_owned(), profile(None, Some("aider")));
        profiles.insert(
            "fast".to_owned(),
            profile(Some("claude"), Some("/opt/claude")),
        );
        profiles.insert("codex".to_owned(), profile(None, Some("/opt/codex")));
        let reg = Registry::new(&profiles, RegistryOptions::default()).unwrap();
        assert_eq!(
            reg.names(),
            [
                "aider", "claude", "codex", "fast", "gemini", "opencode", "replay"
            ]
        );
        assert_eq!(reg.get("aider").unwrap().kind(), EngineKind::Command);
        assert_eq!(reg.get("fast").unwrap().kind(), EngineKind::Claude);
        assert_eq!(reg.get("fast").unwrap().program(), Some("/opt/claude"));
        assert_eq!(reg.get("codex").unwrap().program(), Some("/opt/codex"));
        assert_eq!(reg.get("replay").unwrap().program(), None);
        let err = reg.get("nope").unwrap_err();
        assert!(err.to_string().contains("unknown engine `nope`"), "{err}");
        assert!(err.hint().is_some());
    }

    #[test]
    fn test_registry_rejects_bad_profiles() {
        let mut profiles = BTreeMap::new();
        profiles.insert("x".to_owned(), profile(Some("gpt"), None));
        assert!(matches!(
            Registry::new(&profiles, RegistryOptions::default()),
            Err(Error::UnknownKind { .. })
        ));
        let mut profiles = BTreeMap::new();
        profiles.insert("x".to_owned(), profile(None, None));
        assert!(matches!(
            Registry::new(&profiles, RegistryOptions::default()),
            Err(Error::Incomplete { .. })
        ));
        let mut profiles = BTreeMap::new();
        profiles.insert(
            "x".to_owned(),
            EngineProfile {
                record: Some("recordings".to_owned()),
                ..profile(Some("claude"), None)
            },
        );
        assert!(matches!(
            Registry::new(&profiles, RegistryOptions::default()),
            Err(Error::RelativeRecord { .. })
        ));
        let mut profiles = BTreeMap::new();
        profiles.insert("x".to_owned(), profile(Some("command"), None));
        assert!(matches!(
            Registry::new(&profiles, RegistryOptions::default()),
            Err(Error::Incomplete { .. })
        ));
    }

    #[test]
    fn test_registry_not_installed_has_a_hint() {
        let options = RegistryOptions {
            host_env: BTreeMap::from([("PATH".to_owned(), "/nonexistent".to_owned())]),
            ..RegistryOptions::default()
        };
        let reg = Registry::new(&BTreeMap::new(), options).unwrap();
        let err = reg.get_installed("codex").unwrap_err();
        assert!(matches!(err, Error::NotInstalled { .. }), "{err}");
        assert!(err.hint().unwrap().contains("npm install -g @openai/codex"));
        // The built-in replay engine with nothing to replay refuses, as a config error.
        assert!(matches!(
            reg.get_installed("replay"),
            Err(Error::NoTranscripts { .. })
        ));
        let report = reg.get("codex").unwrap().probe();
        assert!(report.path.is_none());
        assert!(report.notes[0].contains("not found"));
    }
}
