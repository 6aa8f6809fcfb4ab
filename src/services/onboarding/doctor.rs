//! `godzilla doctor`: checks git, the configuration and every engine.

use serde::Serialize;

use crate::context::Context;
use crate::services::platform::storage::{self, Store};

/// One engine as `doctor` sees it.
#[derive(Clone, Debug, Serialize)]
pub struct EngineCheck {
    /// Installation facts.
    #[serde(flatten)]
    pub probe: crate::engines::ProbeReport,
    /// Phases configured to use it.
    pub phases: Vec<&'static str>,
    /// With `--run`: how a trivial read-only prompt ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial: Option<Trial>,
    /// What the CLI's own login-status command says (engines a phase uses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<crate::engines::LoginStatus>,
}

/// The result of a trial run.
#[derive(Clone, Debug, Serialize)]
pub struct Trial {
    /// How it ended.
    pub classification: crate::engines::Classification,
    /// Whether a final message was parsed from its output.
    pub parsed: bool,
    /// Tokens used.
    pub tokens: u64,
    /// Error text, if any.
    pub error: Option<String>,
}

/// What `doctor` found.
#[derive(Clone, Debug, Serialize)]
pub struct DoctorReport {
    /// `git --version`.
    pub git: Option<String>,
    /// The working tree, when inside a repository.
    pub repository: Option<String>,
    /// Whether `.godzilla/` is set up there.
    pub initialized: bool,
    /// Config problem, if any.
    pub config_error: Option<String>,
    /// Every known engine.
    pub engines: Vec<EngineCheck>,
    /// Things that need fixing, each with a hint.
    pub problems: Vec<String>,
}

/// Checks git, the configuration and every engine; with `trial`, runs each installed engine
/// a phase uses (every installed engine with `trial_all`) once on a trivial read-only prompt
/// (this spends tokens).
pub fn run_doctor(
    ctx: Option<&Context>,
    host_env: &std::sync::Arc<std::collections::BTreeMap<String, String>>,
    git_program: &str,
    trial: bool,
    trial_all: bool,
) -> DoctorReport {
    let mut problems = Vec::new();
    let cwd = std::env::temp_dir();
    let git = crate::process::run(git_program, &["--version"], &cwd, &[], &[], None)
        .ok()
        .filter(|o| o.success())
        .map(|o| o.stdout_text().trim().to_owned());
    if git.is_none() {
        problems.push(format!(
            "`{git_program} --version` failed: install git 2.30 or newer"
        ));
    }
    let setup = load_setup(ctx, &mut problems);
    let registry = crate::engines::Registry::new(
        &setup.config.engines,
        crate::engines::registry::RegistryOptions {
            host_env: (**host_env).clone(),
            // Probes of an isolated engine run in its home, not the user's.
            homes_dir: setup.store.as_ref().map(|s| s.local_dir().join("homes")),
            ..Default::default()
        },
    );
    let registry = match registry {
        Ok(r) => r,
        Err(e) => {
            problems.push(format!("engine profiles: {e}"));
            crate::engines::Registry::default()
        }
    };
    let trusted = setup.store.as_ref().is_none_or(|s| {
        crate::services::trust::is_trusted(
            s,
            &setup.config,
            ctx.is_some_and(|c| c.env.trust_config),
        )
    });
    let trial_dir = setup
        .store
        .as_ref()
        .map_or_else(|| cwd.clone(), |s| s.root().to_path_buf());
    let engines = registry
        .engines()
        .map(|engine| {
            let used_by = phases_using(&setup.config, engine.name());
            // Probing runs the profile's executable: not one the repository named, until trusted.
            if !trusted
                && !crate::services::trust::profile_parts(&setup.config, engine.name()).is_empty()
            {
                problems.push(format!(
                    "engine `{}` is defined by .godzilla/config.toml, which is not trusted on this machine: not probed (review it, then run `godzilla allow`)",
                    engine.name()
                ));
                return untrusted_check(engine.as_ref(), used_by);
            }
            // Trying an engine no phase uses costs time and tokens and proves nothing about runs.
            let trial = trial && (trial_all || !used_by.is_empty());
            check_engine(engine.as_ref(), used_by, trial.then_some(&trial_dir), &mut problems)
        })
        .collect();
    DoctorReport {
        git,
        repository: ctx.map(|c| c.paths.work_tree.display().to_string()),
        initialized: setup.initialized,
        config_error: setup.config_error,
        engines,
        problems,
    }
}

/// Where `doctor` stands in a repository: its store and configuration, if any.
struct Setup {
    config: crate::config::Config,
    config_error: Option<String>,
    initialized: bool,
    store: Option<Store>,
}

/// Reads the repository's setup; what is wrong with it goes to `problems`.
fn load_setup(ctx: Option<&Context>, problems: &mut Vec<String>) -> Setup {
    let mut setup = Setup {
        config: crate::config::Config::default(),
        config_error: None,
        initialized: false,
        store: None,
    };
    if let Some(ctx) = ctx {
        let s = Store::new(&ctx.paths);
        setup.initialized = s.check_format().is_ok();
        if !setup.initialized {
            problems.push("godzilla is not set up in this repository: run `godzilla init`".into());
        }
        match s.load_config() {
            Ok(c) => setup.config = c,
            Err(storage::Error::Toml { path, source }) => {
                let msg = format!("{}: {}", path.display(), source.to_string().trim());
                problems.push(format!("invalid config: {msg}"));
                setup.config_error = Some(msg);
            }
            Err(e) => setup.config_error = Some(e.to_string()),
        }
        setup.store = Some(s);
    }
    setup
}

/// The phases configured to use `engine`.
fn phases_using(config: &crate::config::Config, engine: &str) -> Vec<&'static str> {
    let phases = [
        ("planning", &config.phases.planning),
        ("decompose", &config.phases.decompose),
        ("exec", &config.phases.exec),
        ("qa", &config.phases.qa),
        ("discovery", &config.phases.discovery),
    ];
    phases
        .iter()
        .filter(|(_, p)| p.engine.as_deref() == Some(engine))
        .map(|(n, _)| *n)
        .collect()
}

/// What `doctor` says of an engine it may not probe.
fn untrusted_check(engine: &dyn crate::engines::Engine, used_by: Vec<&'static str>) -> EngineCheck {
    EngineCheck {
        probe: crate::engines::ProbeReport {
            name: engine.name().to_owned(),
            kind: engine.kind(),
            path: None,
            version: None,
            flags_ok: None,
            missing_flags: Vec::new(),
            notes: vec!["not probed: the config is not trusted".into()],
        },
        phases: used_by,
        trial: None,
        login: None,
    }
}

/// Probes an engine (and, given a workdir, tries it there); what needs fixing goes to
/// `problems`.
fn check_engine(
    engine: &dyn crate::engines::Engine,
    used_by: Vec<&'static str>,
    trial_dir: Option<&std::path::PathBuf>,
    problems: &mut Vec<String>,
) -> EngineCheck {
    let probe = engine.probe();
    let installed = engine.check_installed().is_ok();
    if !used_by.is_empty() && !installed {
        let hint = engine
            .check_installed()
            .err()
            .and_then(|e| e.hint())
            .unwrap_or_default();
        problems.push(format!(
            "engine `{}` is configured for {} but not installed: {hint}",
            engine.name(),
            used_by.join(", ")
        ));
    }
    let mut login = None;
    if !used_by.is_empty() && installed {
        let credentials = engine.credentials();
        if let Err(missing) = &credentials {
            problems.push(format!(
                "engine `{}` is configured for {} but has {missing}",
                engine.name(),
                used_by.join(", ")
            ));
        }
        let (status, problem) =
            crate::services::login_check::check_login(engine, &used_by, credentials.is_err());
        login = status;
        problems.extend(problem);
    }
    if probe.flags_ok == Some(false) {
        problems.push(format!(
            "engine `{}` does not list flags godzilla needs ({}): upgrade it",
            engine.name(),
            probe.missing_flags.join(", ")
        ));
    }
    let trial = trial_dir
        .filter(|_| installed && engine.program().is_some())
        .map(|workdir| trial_run(engine, workdir));
    if let Some(t) = &trial
        && (t.classification != crate::engines::Classification::Ok || !t.parsed)
    {
        problems.push(format!(
            "engine `{}` trial run: {}{}",
            engine.name(),
            t.classification.as_str(),
            t.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    EngineCheck {
        probe,
        phases: used_by,
        trial,
        login,
    }
}

/// Runs `engine` once on a trivial read-only prompt in `workdir`.
fn trial_run(engine: &dyn crate::engines::Engine, workdir: &std::path::Path) -> Trial {
    let failed = |e: String| Trial {
        classification: crate::engines::Classification::EngineError,
        parsed: false,
        tokens: 0,
        error: Some(e),
    };
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return failed(e.to_string()),
    };
    let req = crate::engines::EngineRequest {
        label: "doctor/trial/discovery".into(),
        prompt: "Reply with the single word OK. Do not run tools or change files.".into(),
        workdir: workdir.to_path_buf(),
        model: None,
        phase: crate::engines::Phase::Discovery,
        output_schema: None,
        timeout: std::time::Duration::from_secs(120),
        stall_timeout: std::time::Duration::from_secs(90),
        scratch_dir: dir.path().to_path_buf(),
        env: Default::default(),
        // A throwaway run outside any protocol: nothing to exclude it from.
        group_lock: None,
    };
    match engine.run(&req, &mut |_, _| {}) {
        Ok(o) => Trial {
            parsed: o.final_message.is_some(),
            tokens: o.usage.total(),
            error: o.error.clone(),
            classification: o.classification,
        },
        Err(e) => failed(e.to_string()),
    }
}
