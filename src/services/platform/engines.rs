//! Platform engines service: the one place that decides which engine and model run a phase,
//! and that lists what is available (for `godzilla doctor` and `engines` inspection).
//!
//! Precedence (issue 3): command-line flag > step spec > config for the phase > the engine's
//! own default. A model follows its engine: a step's or phase's model is used only when that
//! level named no engine or named the engine that was chosen, so `--engine claude` never
//! inherits a codex model from the phase config.
//!
//! It wraps [`engines::Registry`] and never runs an engine itself; execution services do.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::{Config, PhaseConfig, Phases};
use crate::engines::registry::{Registry, RegistryOptions};
use crate::engines::{self, Engine, EngineKind, Phase, ProbeReport};

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
