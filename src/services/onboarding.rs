//! The onboarding service: sets a repository up for godzilla (`godzilla init`).
//!
//! Init is idempotent: each piece (format file, config, attributes, git config, machine-local
//! directories) is written only when it differs, and the outcome lists what changed, so the
//! second run can say "nothing changed".

use serde::Serialize;

use crate::config::{self, CiProvider, TemplateValues};
use crate::context::Context;
use crate::domain::EventKind;
use crate::git::Git;
use crate::services::platform::storage::{self, Store, write_atomic};
use crate::services::platform::telemetry;

/// Errors from onboarding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] crate::process::Error),
    /// The config template failed to render (a bug).
    #[error("cannot render the config template")]
    Template(#[source] minijinja::Error),
}

/// What `init` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// Base branch; default: the current branch, else `main`.
    pub base_branch: Option<String>,
    /// CI provider; default `none`.
    pub ci: Option<CiProvider>,
    /// Engine for every phase; default: left commented out.
    pub engine: Option<String>,
    /// Rewrite `config.toml` even if it exists.
    pub force: bool,
}

/// What `init` did.
#[derive(Clone, Debug, Serialize)]
pub struct InitOutcome {
    /// The working tree that was set up.
    pub root: String,
    /// One line per change; empty when everything was already in place.
    pub changes: Vec<String>,
}

/// Sets up the repository of `ctx` for godzilla.
pub fn init_project(ctx: &Context, opts: &InitOptions) -> Result<InitOutcome, Error> {
    let store = Store::new(&ctx.paths);
    let mut changes = Vec::new();

    // A newer layout must be refused before anything is touched.
    match store.check_format() {
        Ok(_) => {}
        Err(storage::Error::NotInitialized { .. }) => {
            write_atomic(
                &store.format_path(),
                format!("{}\n", storage::FORMAT).as_bytes(),
            )?;
            changes.push(format!("wrote {}", store.display(&store.format_path())));
        }
        Err(e) => return Err(e.into()),
    }

    let config_path = store.config_path();
    let exists = config_path.exists();
    if exists && !opts.force {
        // Validate what is there: a broken config is an error to show now, not later.
        store.load_config()?;
    } else {
        let values = TemplateValues {
            base_branch: opts
                .base_branch
                .clone()
                .unwrap_or_else(|| current_branch(ctx).unwrap_or_else(|| "main".into())),
            ci: opts.ci.unwrap_or_default().as_str().to_owned(),
            engine: opts.engine.clone(),
        };
        let text = config::render_template(&values).map_err(Error::Template)?;
        let old = storage::read_optional(&config_path)?;
        if old.as_deref() != Some(text.as_bytes()) {
            write_atomic(&config_path, text.as_bytes())?;
            changes.push(format!(
                "{} {}",
                if exists { "rewrote" } else { "wrote" },
                store.display(&config_path)
            ));
        }
    }

    let attributes = ctx.paths.work_tree.join(".gitattributes");
    let old = String::from_utf8_lossy(&storage::read_optional(&attributes)?.unwrap_or_default())
        .into_owned();
    let body = "# godzilla event logs are append-only; a union merge keeps both sides' events.\n\
                .godzilla/**/events.jsonl merge=union\n";
    let new = storage::upsert_block(&old, "godzilla", body);
    if new != old {
        write_atomic(&attributes, new.as_bytes())?;
        changes.push("added the events.jsonl merge=union block to .gitattributes".into());
    }

    let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    let notes_ref = "refs/notes/godzilla";
    if git.config_add("notes.rewriteRef", notes_ref)? {
        changes.push(format!("set notes.rewriteRef = {notes_ref}"));
    }
    for key in ["notes.rewrite.rebase", "notes.rewrite.amend"] {
        if git.config_set(key, "true")? {
            changes.push(format!("set {key} = true"));
        }
    }
    if git.config_set("notes.godzilla.mergeStrategy", "cat_sort_uniq")? {
        changes.push("set notes.godzilla.mergeStrategy = cat_sort_uniq".into());
    }
    for remote in git.remotes()? {
        // Into a remote-tracking notes ref, never straight over local notes: a forced fetch
        // onto refs/notes/godzilla would drop notes not yet pushed.
        let spec = format!("+{notes_ref}:refs/notes/remotes/{remote}/godzilla");
        if git.config_add(&format!("remote.{remote}.fetch"), &spec)? {
            changes.push(format!("added fetch refspec {spec} to remote {remote}"));
        }
    }

    for sub in ["locks", "logs", "queue"] {
        let dir = store.local_dir().join(sub);
        if !dir.is_dir() {
            storage::create_dir(&dir)?;
            changes.push(format!("created {}", dir.display()));
        }
    }

    if !changes.is_empty() {
        let mut metadata = serde_json::Map::new();
        metadata.insert("changes".into(), changes.clone().into());
        telemetry::log_project_event(
            ctx,
            &store,
            EventKind::ProjectInitialized,
            "godzilla init",
            metadata,
        )?;
    }
    Ok(InitOutcome {
        root: ctx.paths.work_tree.display().to_string(),
        changes,
    })
}

/// The branch checked out in the current worktree, read from `HEAD` directly.
pub fn current_branch(ctx: &Context) -> Option<String> {
    let head = std::fs::read_to_string(ctx.paths.git_dir.join("HEAD")).ok()?;
    head.trim()
        .strip_prefix("ref: refs/heads/")
        .map(str::to_owned)
}

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
/// once on a trivial read-only prompt (this spends tokens).
pub fn run_doctor(
    ctx: Option<&Context>,
    host_env: &std::sync::Arc<std::collections::BTreeMap<String, String>>,
    git_program: &str,
    trial: bool,
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
    let (mut config, mut config_error, mut initialized, mut store) =
        (crate::config::Config::default(), None, false, None);
    if let Some(ctx) = ctx {
        let s = Store::new(&ctx.paths);
        initialized = s.check_format().is_ok();
        if !initialized {
            problems.push("godzilla is not set up in this repository: run `godzilla init`".into());
        }
        match s.load_config() {
            Ok(c) => config = c,
            Err(storage::Error::Toml { path, source }) => {
                let msg = format!("{}: {}", path.display(), source.to_string().trim());
                problems.push(format!("invalid config: {msg}"));
                config_error = Some(msg);
            }
            Err(e) => config_error = Some(e.to_string()),
        }
        store = Some(s);
    }
    let registry = crate::engines::Registry::new(
        &config.engines,
        crate::engines::registry::RegistryOptions {
            host_env: (**host_env).clone(),
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
    let phases = [
        ("planning", &config.phases.planning),
        ("decompose", &config.phases.decompose),
        ("exec", &config.phases.exec),
        ("qa", &config.phases.qa),
        ("discovery", &config.phases.discovery),
    ];
    let mut engines = Vec::new();
    for engine in registry.engines() {
        let probe = engine.probe();
        let used_by: Vec<&'static str> = phases
            .iter()
            .filter(|(_, p)| p.engine.as_deref() == Some(engine.name()))
            .map(|(n, _)| *n)
            .collect();
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
        if probe.flags_ok == Some(false) {
            problems.push(format!(
                "engine `{}` does not list flags godzilla needs ({}): upgrade it",
                engine.name(),
                probe.missing_flags.join(", ")
            ));
        }
        let trial = (trial && installed && engine.program().is_some()).then(|| {
            let scratch = tempfile::tempdir();
            let workdir = store
                .as_ref()
                .map_or_else(|| cwd.clone(), |s| s.root().to_path_buf());
            match scratch {
                Ok(dir) => {
                    let req = crate::engines::EngineRequest {
                        label: "doctor/trial/discovery".into(),
                        prompt: "Reply with the single word OK. Do not run tools or change files."
                            .into(),
                        workdir,
                        model: None,
                        phase: crate::engines::Phase::Discovery,
                        output_schema: None,
                        timeout: std::time::Duration::from_secs(120),
                        stall_timeout: std::time::Duration::from_secs(90),
                        scratch_dir: dir.path().to_path_buf(),
                        env: Default::default(),
                    };
                    match engine.run(&req, &mut |_, _| {}) {
                        Ok(o) => Trial {
                            parsed: o.final_message.is_some(),
                            tokens: o.usage.total(),
                            error: o.error.clone(),
                            classification: o.classification,
                        },
                        Err(e) => Trial {
                            classification: crate::engines::Classification::EngineError,
                            parsed: false,
                            tokens: 0,
                            error: Some(e.to_string()),
                        },
                    }
                }
                Err(e) => Trial {
                    classification: crate::engines::Classification::EngineError,
                    parsed: false,
                    tokens: 0,
                    error: Some(e.to_string()),
                },
            }
        });
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
        engines.push(EngineCheck {
            probe,
            phases: used_by,
            trial,
        });
    }
    DoctorReport {
        git,
        repository: ctx.map(|c| c.paths.work_tree.display().to_string()),
        initialized,
        config_error,
        engines,
        problems,
    }
}

/// A command detected from a repository's build files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DetectedCommand {
    /// `build`, `test` or `lint`.
    pub purpose: &'static str,
    /// The tool it comes from (`cargo`, `npm`...).
    pub tool: &'static str,
    /// The argv.
    pub argv: Vec<String>,
}

/// What planning and discovery are told about a repository.
#[derive(Clone, Debug, Serialize)]
pub struct RepoSnapshot {
    /// Tracked files.
    pub files: usize,
    /// Top-level entries with the number of tracked files under each.
    pub top_level: Vec<(String, usize)>,
    /// A sample of tracked paths (sorted, bounded).
    pub paths: Vec<String>,
    /// Build, test and lint commands detected from build files.
    pub commands: Vec<DetectedCommand>,
}

/// Most paths listed in a snapshot: enough to ground a plan, small enough for any prompt.
const SNAPSHOT_PATHS: usize = 300;

/// Reads the tracked files of the worktree at `root` and detects its build commands.
pub fn repo_snapshot(
    git: &Git,
    root: &std::path::Path,
) -> Result<RepoSnapshot, crate::process::Error> {
    let out = git.run(&["ls-files", "-z"])?;
    let mut all: Vec<&str> = out
        .split('\0')
        .filter(|p| !p.is_empty() && !p.starts_with(".godzilla/"))
        .collect();
    all.sort_unstable();
    let mut top: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for p in &all {
        let first = p.split('/').next().unwrap_or(p);
        let key = if p.contains('/') {
            format!("{first}/")
        } else {
            first.to_owned()
        };
        *top.entry(key).or_insert(0) += 1;
    }
    let has = |name: &str| all.contains(&name);
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
    let argv = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let mut commands = Vec::new();
    let mut add = |purpose, tool, cmd: &str| {
        commands.push(DetectedCommand {
            purpose,
            tool,
            argv: argv(cmd),
        })
    };
    if has("Cargo.toml") {
        add("build", "cargo", "cargo build --all-targets");
        add("test", "cargo", "cargo test");
        add("lint", "cargo", "cargo clippy --all-targets -- -D warnings");
    }
    if has("package.json") {
        let pm = if has("pnpm-lock.yaml") {
            "pnpm"
        } else if has("yarn.lock") {
            "yarn"
        } else {
            "npm"
        };
        let scripts: serde_json::Value =
            serde_json::from_str(&read("package.json")).unwrap_or_default();
        for (purpose, script) in [("build", "build"), ("test", "test"), ("lint", "lint")] {
            if scripts["scripts"][script].is_string() {
                add(purpose, "npm", &format!("{pm} run {script}"));
            }
        }
    }
    if has("pyproject.toml") || has("setup.py") || has("requirements.txt") {
        let runner = if has("uv.lock") {
            "uv run "
        } else {
            "python -m "
        };
        add("test", "python", &format!("{runner}pytest -q"));
        if read("pyproject.toml").contains("[tool.ruff") {
            add(
                "lint",
                "python",
                &format!(
                    "{}ruff check .",
                    if has("uv.lock") { "uv run " } else { "" }
                ),
            );
        }
    }
    if has("go.mod") {
        add("build", "go", "go build ./...");
        add("test", "go", "go test ./...");
        add("lint", "go", "go vet ./...");
    }
    if has("pom.xml") {
        add("build", "maven", "mvn -q -DskipTests package");
        add("test", "maven", "mvn -q test");
    }
    if has("build.gradle") || has("build.gradle.kts") {
        let gradle = if has("gradlew") {
            "./gradlew"
        } else {
            "gradle"
        };
        add("build", "gradle", &format!("{gradle} build -x test"));
        add("test", "gradle", &format!("{gradle} test"));
    }
    if has("Makefile") {
        let makefile = read("Makefile");
        for target in ["build", "test", "lint"] {
            if makefile
                .lines()
                .any(|l| l.starts_with(&format!("{target}:")))
            {
                add(
                    if target == "build" {
                        "build"
                    } else if target == "test" {
                        "test"
                    } else {
                        "lint"
                    },
                    "make",
                    &format!("make {target}"),
                );
            }
        }
    }
    Ok(RepoSnapshot {
        files: all.len(),
        top_level: top.into_iter().collect(),
        paths: all
            .iter()
            .take(SNAPSHOT_PATHS)
            .map(|s| (*s).to_owned())
            .collect(),
        commands,
    })
}

impl RepoSnapshot {
    /// The snapshot as prompt text.
    pub fn to_prompt(&self) -> String {
        let mut text = format!("{} tracked files.\n\nTop level:\n", self.files);
        for (name, count) in &self.top_level {
            text.push_str(&format!("- {name} ({count} files)\n"));
        }
        text.push_str("\nDetected commands:\n");
        if self.commands.is_empty() {
            text.push_str("- none detected\n");
        }
        for c in &self.commands {
            text.push_str(&format!("- {}: `{}`\n", c.purpose, c.argv.join(" ")));
        }
        text.push_str(&format!(
            "\nFiles{}:\n",
            if self.paths.len() < self.files {
                " (first ones)"
            } else {
                ""
            }
        ));
        for p in &self.paths {
            text.push_str(&format!("{p}\n"));
        }
        text
    }

    /// How many of the snapshot's paths and commands `text` mentions: a plan that names
    /// nothing of the repository is weakly grounded.
    pub fn grounding(&self, text: &str) -> usize {
        let paths = self
            .paths
            .iter()
            .filter(|p| p.len() > 3 && text.contains(p.as_str()))
            .count();
        let commands = self
            .commands
            .iter()
            .filter(|c| text.contains(&c.argv.join(" ")))
            .count();
        paths + commands
    }
}
