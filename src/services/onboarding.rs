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
    /// `--base-branch` is not a name git accepts for a branch.
    #[error("`{name}` is not a valid branch name: {reason}")]
    BadBranch {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The existing config could not be edited.
    #[error("cannot edit {}", path.display())]
    EditConfig {
        /// The config file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: toml_edit::TomlError,
    },
}

/// Checks a branch name by git's rules (`git check-ref-format --branch`), without running git:
/// a name that is a path trick (`../x`) or an option (`-f`) never reaches a ref or argv.
pub fn check_branch_name(name: &str) -> Result<(), Error> {
    let bad = |reason| {
        Err(Error::BadBranch {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.starts_with('-') {
        return bad("it starts with `-`");
    }
    if name.contains("..") {
        return bad("it contains `..`");
    }
    if name.contains("@{") || name == "@" {
        return bad("it contains `@{` or is `@`");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        return bad("it contains a space, a control character or one of ~ ^ : ? * [ \\");
    }
    if name.ends_with('/') || name.ends_with('.') || name.contains("//") {
        return bad("it ends with `/` or `.`, or has an empty component");
    }
    if name
        .split('/')
        .any(|c| c.starts_with('.') || c.ends_with(".lock"))
    {
        return bad("a component starts with `.` or ends with `.lock`");
    }
    Ok(())
}

/// Sets `[project] KEY = value` in an existing config text, keeping comments and layout.
/// Returns the new text and the old value when it changed.
fn set_project_key(
    path: &std::path::Path,
    text: &str,
    key: &str,
    value: &str,
) -> Result<Option<(String, Option<String>)>, Error> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|source| Error::EditConfig {
        path: path.to_path_buf(),
        source,
    })?;
    let project = doc
        .entry("project")
        .or_insert(toml_edit::Item::Table(toml_edit::Table::new()));
    let old = project.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    if old.as_deref() == Some(value) {
        return Ok(None);
    }
    match project.get_mut(key).and_then(|i| i.as_value_mut()) {
        // Keeps the comment and spacing around the value.
        Some(v) => {
            let decor = v.decor().clone();
            *v = value.into();
            *v.decor_mut() = decor;
        }
        None => project[key] = toml_edit::value(value),
    }
    Ok(Some((doc.to_string(), old)))
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
    if let Some(branch) = &opts.base_branch {
        check_branch_name(branch)?;
    }

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
        // Values asked for explicitly are applied to the existing file (not silently
        // ignored), each edit in place so the user's comments stay.
        let asked = [
            ("base_branch", opts.base_branch.clone()),
            ("ci", opts.ci.map(|c| c.as_str().to_owned())),
        ];
        for (key, value) in asked {
            let Some(value) = value else { continue };
            let text =
                String::from_utf8_lossy(&storage::read_optional(&config_path)?.unwrap_or_default())
                    .into_owned();
            if let Some((new, old)) = set_project_key(&config_path, &text, key, &value)? {
                crate::config::parse(&new).map_err(|source| storage::Error::Toml {
                    path: config_path.clone(),
                    source: Box::new(source),
                })?;
                write_atomic(&config_path, new.as_bytes())?;
                changes.push(match old {
                    Some(old) => format!("set project.{key} = \"{value}\" (was \"{old}\")"),
                    None => format!("set project.{key} = \"{value}\""),
                });
            }
        }
    } else {
        let values = TemplateValues {
            base_branch: opts.base_branch.clone().unwrap_or_else(|| {
                crate::git::current_branch(&ctx.paths.git_dir).unwrap_or_else(|| "main".into())
            }),
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
        // A name git would not accept in a refspec would leave a config that breaks every
        // later `git status` and `git fetch`: skipped, and said.
        if !is_refspec_safe(&remote) {
            ctx.reporter.warn(&format!(
                "remote `{}` skipped: its name cannot be used in a refspec (letters, digits, `.`, `_`, `-`); rename it with `git remote rename` and run `godzilla init` again",
                remote.escape_default()
            ));
            continue;
        }
        // Into a remote-tracking notes ref, never straight over local notes: a forced fetch
        // onto refs/notes/godzilla would drop notes not yet pushed.
        // A pattern (`godzilla*`), because an exact source that the remote does not have yet
        // makes every `git fetch` of that remote fail.
        let spec = format!("+{notes_ref}*:refs/notes/remotes/{remote}/godzilla*");
        let key = format!("remote.{remote}.fetch");
        if git.config_add(&key, &spec)? {
            changes.push(format!("added fetch refspec {spec} to remote {remote}"));
        }
        let old = format!("+{notes_ref}:refs/notes/remotes/{remote}/godzilla");
        if git.config_get_all(&key)?.contains(&old) {
            git.run(&[
                "config",
                "--local",
                "--fixed-value",
                "--unset",
                "--end-of-options",
                &key,
                &old,
            ])?;
            changes.push(format!(
                "removed the exact refspec {old} from remote {remote}"
            ));
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

/// Whether a remote's name can go into `refs/notes/remotes/<name>/godzilla` and a config key
/// safely: `[A-Za-z0-9._-]` parts separated by `/`, none starting with `-` or `.`, no `..`,
/// no `.lock` ending.
fn is_refspec_safe(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with(['-', '.'])
                && !part.ends_with(".lock")
                && !part.ends_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        && !name.contains("..")
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
            // Probes of an isolated engine run in its home, not the user's.
            homes_dir: store.as_ref().map(|s| s.local_dir().join("homes")),
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
    let trusted = store.as_ref().is_none_or(|s| {
        crate::services::trust::is_trusted(s, &config, ctx.is_some_and(|c| c.env.trust_config))
    });
    let mut engines = Vec::new();
    for engine in registry.engines() {
        let used_by: Vec<&'static str> = phases
            .iter()
            .filter(|(_, p)| p.engine.as_deref() == Some(engine.name()))
            .map(|(n, _)| *n)
            .collect();
        // Probing runs the profile's executable: not one the repository named, until trusted.
        if !trusted && !crate::services::trust::profile_parts(&config, engine.name()).is_empty() {
            problems.push(format!(
                "engine `{}` is defined by .godzilla/config.toml, which is not trusted on this machine: not probed (review it, then run `godzilla allow`)",
                engine.name()
            ));
            engines.push(EngineCheck {
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
            });
            continue;
        }
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
            let (status, problem) = crate::services::login_check::check_login(
                engine.as_ref(),
                &used_by,
                credentials.is_err(),
            );
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
        // Trying an engine no phase uses costs time and tokens and proves nothing about runs.
        let wanted = trial_all || !used_by.is_empty();
        let trial = (trial && wanted && installed && engine.program().is_some()).then(|| {
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
            login,
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

// Discovery (`godzilla discover`): an engine looks at the repository read-only and reports its
// stack, commands and CI; godzilla keeps the report in `.godzilla/discovery.md` and, when
// asked, turns the commands into `[checks]`. It never invents findings: no engine, no report.

/// Largest discovery answer kept: a report, not a dump of the repository.
const MAX_DISCOVERY_ANSWER: usize = 256 * 1024;

/// The check purposes discovery fills in, in the order the prompt asks for them.
pub const CHECK_PURPOSES: [&str; 3] = ["build", "test", "lint"];

/// Errors from discovery.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// Reading or writing state failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] crate::process::Error),
    /// The engines could not be set up from the configuration.
    #[error(transparent)]
    Engines(#[from] Box<crate::services::execution::Error>),
    /// No engine could be selected for the discovery phase.
    #[error(transparent)]
    Selection(#[from] crate::services::platform::engines::Error),
    /// The engine layer refused before running (not installed, bad profile).
    #[error(transparent)]
    Engine(#[from] crate::engines::Error),
    /// The prompt could not be rendered.
    #[error(transparent)]
    Prompt(#[from] crate::services::prompts::Error),
    /// The engine ran and failed, or gave no usable answer; nothing was written.
    #[error("discovery with {engine} failed: {reason}")]
    Failed {
        /// The engine.
        engine: String,
        /// Why.
        reason: String,
    },
    /// `config.toml` could not be edited; nothing was written.
    #[error("cannot apply the discovered checks to {}", path.display())]
    ConfigEdit {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: ConfigEditError,
    },
}

/// Why `[checks]` could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum ConfigEditError {
    /// The file is not TOML.
    #[error("it is not valid TOML")]
    Parse(#[source] toml_edit::TomlError),
    /// `checks` is something other than a table.
    #[error("`checks` is not a table")]
    NotATable,
    /// The edited file would not be a valid configuration.
    #[error("the edited file would not be a valid configuration")]
    Invalid(#[source] toml::de::Error),
}

/// What `discover` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct DiscoveryOptions {
    /// `--engine`.
    pub engine: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `--timeout`.
    pub timeout: Option<std::time::Duration>,
    /// `--apply`: set `[checks]` build/test/lint from the answer.
    pub apply: bool,
}

/// One command from the answer's Commands section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiscoveredCommand {
    /// `build`, `test` or `lint`.
    pub purpose: String,
    /// The command as the answer wrote it.
    pub command: String,
    /// The argv it runs as (empty when it cannot run without a shell).
    pub argv: Vec<String>,
    /// Why it cannot be stored as a check, if it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One check written to `config.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppliedCheck {
    /// Its name under `[checks]`.
    pub name: String,
    /// The new argv.
    pub argv: Vec<String>,
    /// What it was before, if it was set.
    pub previous: Option<Vec<String>>,
}

/// What `discover` did.
#[derive(Clone, Debug, Serialize)]
pub struct DiscoveryOutcome {
    /// The report, relative to the worktree (`.godzilla/discovery.md`).
    pub path: String,
    /// The engine that ran.
    pub engine: String,
    /// Its model, if one was chosen.
    pub model: Option<String>,
    /// Tokens used.
    pub tokens: u64,
    /// The commands found, usable or not.
    pub commands: Vec<DiscoveredCommand>,
    /// Checks written to `config.toml` (with `--apply`; unchanged ones are not listed).
    pub applied: Vec<AppliedCheck>,
    /// Whether `--apply` was given.
    pub apply: bool,
}

/// Splits a command into an argv the way a plain shell word split would, and refuses what
/// only a shell can run: checks run without one, so `a | b`, `a && b`, redirections,
/// variables, command substitution, globs, `~`, `VAR=x cmd` and `cd` would silently mean
/// something else (or nothing).
pub fn split_command(command: &str) -> Result<Vec<String>, String> {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Single,
        Double,
    }
    let needs_shell = |what: String| Err(format!("needs a shell ({what})"));
    let mut argv = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = Quote::None;
    for c in command.chars() {
        match quote {
            Quote::Single if c == '\'' => quote = Quote::None,
            Quote::Single => word.push(c),
            Quote::Double => match c {
                '"' => quote = Quote::None,
                '$' | '`' | '\\' => return needs_shell(format!("`{c}` inside double quotes")),
                _ => word.push(c),
            },
            Quote::None => match c {
                ' ' | '\t' => {
                    if in_word {
                        argv.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                '\'' => (quote, in_word) = (Quote::Single, true),
                '"' => (quote, in_word) = (Quote::Double, true),
                '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' | '\\' | '\n' | '\r' => {
                    return needs_shell(format!("`{c}`"));
                }
                '*' | '?' | '[' | ']' | '{' | '}' => {
                    return needs_shell(format!("`{c}` is a glob or expansion"));
                }
                '~' | '#' if !in_word => return needs_shell(format!("a leading `{c}`")),
                _ => {
                    word.push(c);
                    in_word = true;
                }
            },
        }
    }
    if quote != Quote::None {
        return Err("has an unclosed quote".into());
    }
    if in_word {
        argv.push(word);
    }
    match argv.first().map(String::as_str) {
        None => Err("is empty".into()),
        Some(first) if first.contains('=') => needs_shell("it sets an environment variable".into()),
        Some("cd") => needs_shell("`cd`".into()),
        Some(_) => Ok(argv),
    }
}

/// Reads the Commands section of a discovery answer: lines `- build: \`cmd\``, `- test:
/// ...`, `- lint: ...` (bold keys tolerated). `none` means no such command. The first line
/// for a purpose wins; other purposes are ignored.
pub fn parse_commands(answer: &str) -> Vec<DiscoveredCommand> {
    let mut found: Vec<DiscoveredCommand> = Vec::new();
    let mut section_level: Option<usize> = None;
    for line in answer.lines() {
        let t = line.trim();
        let level = t.bytes().take_while(|b| *b == b'#').count();
        if (1..=6).contains(&level) && t[level..].starts_with([' ', '\t']) {
            let title = t[level..].trim().trim_matches(['*', '_', ':', ' ']);
            if title.eq_ignore_ascii_case("commands") {
                section_level = Some(level);
            } else if section_level.is_some_and(|l| level <= l) {
                section_level = None;
            }
            continue;
        }
        if section_level.is_none() {
            continue;
        }
        let Some(item) = t.strip_prefix(['-', '*', '+']) else {
            continue;
        };
        let Some((key, value)) = item.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(['*', '_', '`', ' ']).to_lowercase();
        if !CHECK_PURPOSES.contains(&key.as_str()) || found.iter().any(|c| c.purpose == key) {
            continue;
        }
        // A bold key (`**build:**`) leaves its closing `**` at the start of the value.
        let value = value.trim().trim_start_matches(['*', '_']).trim();
        let quoted = value
            .find('`')
            .and_then(|start| {
                let rest = &value[start + 1..];
                rest.find('`').map(|end| &rest[..end])
            })
            .map(str::trim);
        let is_none = |v: &str| {
            let v = v.trim().trim_end_matches('.').to_lowercase();
            matches!(v.as_str(), "" | "none" | "n/a" | "-" | "not applicable")
        };
        let (command, parsed) = match quoted {
            Some(cmd) if is_none(cmd) => continue,
            Some(cmd) => (cmd.to_owned(), split_command(cmd)),
            None if is_none(value) || value.to_lowercase().starts_with("none") => continue,
            None => (
                value.to_owned(),
                Err("is not a command in backticks, as the prompt asks".to_owned()),
            ),
        };
        let (argv, problem) = match parsed {
            Ok(argv) => (argv, None),
            Err(why) => (Vec::new(), Some(why)),
        };
        found.push(DiscoveredCommand {
            purpose: key,
            command,
            argv,
            problem,
        });
    }
    found
}

/// Sets `[checks]` entries in a config text, keeping its comments, layout and every other
/// key. Returns the new text and the entries that changed (an entry already holding the same
/// argv is left as it is).
pub fn apply_checks(
    text: &str,
    checks: &[(String, Vec<String>)],
) -> Result<(String, Vec<AppliedCheck>), ConfigEditError> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(ConfigEditError::Parse)?;
    if !doc.contains_key("checks") {
        doc.insert("checks", toml_edit::Item::Table(toml_edit::Table::new()));
    }
    let table = doc["checks"]
        .as_table_like_mut()
        .ok_or(ConfigEditError::NotATable)?;
    let mut applied = Vec::new();
    for (name, argv) in checks {
        let previous: Option<Vec<String>> = table.get(name).map(|item| {
            item.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        });
        if previous.as_ref() == Some(argv) {
            continue;
        }
        let array: toml_edit::Array = argv.iter().map(String::as_str).collect();
        match table.get_mut(name) {
            // Assigning in place keeps the key where it was, with the comments above it.
            Some(item) => *item = toml_edit::value(array),
            None => {
                table.insert(name, toml_edit::value(array));
            }
        }
        applied.push(AppliedCheck {
            name: name.clone(),
            argv: argv.clone(),
            previous,
        });
    }
    let text = doc.to_string();
    config::parse(&text).map_err(ConfigEditError::Invalid)?;
    Ok((text, applied))
}

/// Runs the discovery prompt read-only in the current worktree and writes the answer to
/// `.godzilla/discovery.md`; with `apply`, sets `[checks]` from its Commands section
/// (commands that need a shell are reported, not applied). Records `discovery_completed`.
///
/// Without an engine it fails before writing anything: a report nobody looked for would be
/// an invented one.
pub fn run_discovery(
    ctx: &Context,
    opts: &DiscoveryOptions,
) -> Result<DiscoveryOutcome, DiscoveryError> {
    use crate::engines::{Classification, EngineRequest, Phase};
    use crate::services::execution;
    use crate::services::platform::engines::Choice;
    use crate::services::prompts::{self, Role};

    let store = Store::new(&ctx.paths);
    store.check_format()?;
    let config = store.load_config()?;
    let engines = crate::services::platform::engines::engines_for(ctx, &store, &config)
        .map_err(|e| Box::new(execution::Error::from(e)))?;
    let selection = engines.select(
        Phase::Discovery,
        &Choice {
            flag_engine: opts.engine.as_deref(),
            flag_model: opts.model.as_deref(),
            ..Choice::default()
        },
    )?;
    crate::services::trust::require_engine(
        &store,
        &config,
        ctx.env.trust_config,
        selection.engine.name(),
    )
    .map_err(|e| Box::new(execution::Error::from(e)))?;
    selection.engine.check_installed()?;
    let engine = selection.engine.name().to_owned();
    let template = prompts::resolve_prompt(&store, Role::Discovery)?;
    let git = Git::new(ctx.git_program(), store.root());
    let snapshot = crate::git::snapshot::repo_snapshot(&git, store.root())?;
    let prompt = template.render(&serde_json::json!({
        "protocol": {"id": "", "description": ""},
        "plan": "", "step": {"id": "", "text": ""},
        "guidelines": "", "feedback": "", "diff": "",
        "checks": config.checks.keys().collect::<Vec<_>>(),
        "repo": snapshot.to_prompt(),
    }))?;
    // No budget check: budgets are per protocol and step, and discovery belongs to neither.
    let scratch = store
        .local_dir()
        .join("runs")
        .join(format!("discovery-{}", ctx.ids.token()));
    storage::create_scratch_dir(&scratch)?;
    let request = EngineRequest {
        label: "project/discovery/discovery".into(),
        prompt,
        workdir: store.root().to_path_buf(),
        model: selection.model.clone(),
        phase: Phase::Discovery,
        output_schema: None,
        timeout: opts
            .timeout
            .or(selection.timeout)
            .unwrap_or(std::time::Duration::from_secs(
                config.execution.timeout_secs,
            )),
        stall_timeout: std::time::Duration::from_secs(config.execution.stall_timeout_secs),
        scratch_dir: scratch,
        env: Default::default(),
        group_lock: Some(crate::services::platform::engines::engine_lock_path(&store)),
    };
    ctx.reporter.status(
        "Discovering",
        &format!(
            "{} with {engine}{}",
            ctx.paths.work_tree.display(),
            selection
                .model
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
    );
    let failed = |reason: String| DiscoveryError::Failed {
        engine: engine.clone(),
        reason,
    };
    // Discovery records no event; its transcript is kept with the others all the same.
    let (run, changed, _transcript) = match selection.engine.check_recorded(
        &request.label,
        Phase::Discovery,
        request.model.as_deref(),
        &request.prompt,
        store.root(),
    ) {
        Ok(()) => crate::services::platform::engines::run_guarded(
            ctx,
            &store,
            selection.engine.as_ref(),
            &request,
        )?,
        Err(e) => {
            storage::remove_scratch_dir(&request.scratch_dir);
            return Err(e.into());
        }
    };
    let outcome = run.map_err(|e| failed(e.to_string()))?;
    if !changed.is_empty() {
        return Err(failed(format!(
            "the discovery engine modified protected files (restored): {}",
            changed.join(", ")
        )));
    }
    if outcome.classification != Classification::Ok {
        return Err(failed(format!(
            "{}: {}",
            outcome.classification.as_str(),
            outcome.error.as_deref().unwrap_or("the engine failed")
        )));
    }
    let raw = outcome.final_message.as_deref().unwrap_or_default();
    if raw.len() > MAX_DISCOVERY_ANSWER {
        return Err(failed(format!(
            "the answer is {} bytes; at most {MAX_DISCOVERY_ANSWER} are kept",
            raw.len()
        )));
    }
    let answer = crate::engines::strip_fences(raw);
    if answer.is_empty() {
        return Err(failed("the engine gave no answer".into()));
    }
    let commands = parse_commands(answer);
    for c in &commands {
        if let Some(problem) = &c.problem {
            ctx.reporter.warn(&format!(
                "{} command `{}` {problem}; it is not applied",
                c.purpose, c.command
            ));
        }
    }
    // Everything that can fail is computed before the first write.
    let config_path = store.config_path();
    let edit = if opts.apply {
        let usable: Vec<(String, Vec<String>)> = commands
            .iter()
            .filter(|c| c.problem.is_none())
            .map(|c| (c.purpose.clone(), c.argv.clone()))
            .collect();
        let text =
            String::from_utf8_lossy(&storage::read_optional(&config_path)?.unwrap_or_default())
                .into_owned();
        let (new, applied) =
            apply_checks(&text, &usable).map_err(|source| DiscoveryError::ConfigEdit {
                path: config_path.clone(),
                source,
            })?;
        Some((new, applied))
    } else {
        None
    };
    let report_path = store.state_dir().join("discovery.md");
    let header = format!(
        "<!-- written by `godzilla discover` with {engine}{} on {}; edit freely -->\n\n",
        selection
            .model
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default(),
        ctx.clock.now_rfc3339()
    );
    write_atomic(&report_path, format!("{header}{answer}\n").as_bytes())?;
    let mut applied = Vec::new();
    if let Some((text, changes)) = edit {
        if !changes.is_empty() {
            write_atomic(&config_path, text.as_bytes())?;
        }
        applied = changes;
    }
    let tokens = outcome.usage.total();
    let mut meta = serde_json::Map::new();
    meta.insert("engine".into(), engine.clone().into());
    meta.insert("model".into(), selection.model.clone().into());
    meta.insert("tokens".into(), tokens.into());
    if let Some((cost, _)) = crate::services::platform::telemetry::settle_cost(
        &config,
        &request.label,
        request.model.as_deref(),
        &outcome.usage,
        outcome.cost_usd,
    ) {
        meta.insert("cost_usd".into(), cost.usd().into());
    }
    meta.insert(
        "commands".into(),
        serde_json::to_value(&commands).unwrap_or_default(),
    );
    meta.insert(
        "applied".into(),
        applied
            .iter()
            .map(|a| a.name.clone())
            .collect::<Vec<_>>()
            .into(),
    );
    telemetry::log_project_event(
        ctx,
        &store,
        EventKind::DiscoveryCompleted,
        format!(
            "discovery with {engine}: {} commands found, {} checks applied",
            commands.len(),
            applied.len()
        ),
        meta,
    )?;
    Ok(DiscoveryOutcome {
        path: store.display(&report_path).into_owned(),
        engine,
        model: selection.model,
        tokens,
        commands,
        applied,
        apply: opts.apply,
    })
}

#[cfg(test)]
mod discovery_tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn plain_commands_split_into_argv() {
        assert_eq!(
            split_command("cargo clippy --all-targets -- -D warnings").unwrap(),
            argv(&["cargo", "clippy", "--all-targets", "--", "-D", "warnings"])
        );
        assert_eq!(
            split_command(r#"pytest -k "not slow" -q 'a b'"#).unwrap(),
            argv(&["pytest", "-k", "not slow", "-q", "a b"])
        );
        assert_eq!(
            split_command("npm run lint -- --max-warnings=0").unwrap(),
            argv(&["npm", "run", "lint", "--", "--max-warnings=0"])
        );
        assert_eq!(
            split_command("./gradlew test").unwrap(),
            argv(&["./gradlew", "test"])
        );
        // Quoted metacharacters are literal arguments, not shell syntax.
        assert_eq!(
            split_command("grep 'a|b' src").unwrap(),
            argv(&["grep", "a|b", "src"])
        );
    }

    #[test]
    fn commands_that_need_a_shell_are_refused() {
        for cmd in [
            "cargo test | tee log",
            "cd web && npm test",
            "make lint; make test",
            "cargo build > out.txt",
            "python -m pytest < input",
            "echo $HOME",
            "echo $(date)",
            "echo `date`",
            "pytest tests/*.py",
            "ls src/?.rs",
            "cp {a,b}",
            "RUST_LOG=debug cargo test",
            "cd src",
            "~/bin/lint",
            "echo \"$PATH\"",
            "echo 'unclosed",
            "a \\\n b",
            "",
            "   ",
        ] {
            assert!(split_command(cmd).is_err(), "accepted `{cmd}`");
        }
        assert!(
            split_command("a | b")
                .unwrap_err()
                .contains("needs a shell")
        );
    }

    const ANSWER: &str = "## Stack\nRust (Cargo.toml). Run `cargo build` to build.\n\n\
        ## Commands\n- build: `cargo build --all-targets`\n- **test:** `cargo test` (fast)\n\
        - lint: `cargo clippy -- -D warnings | tee lint.log`\n- format: `cargo fmt`\n\
        - test: `cargo nextest run`\n\n## CI\n- build: `not a command`\n";

    #[test]
    fn the_commands_section_is_read_in_its_exact_format() {
        let found = parse_commands(ANSWER);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].purpose, "build");
        assert_eq!(found[0].argv, argv(&["cargo", "build", "--all-targets"]));
        assert_eq!(
            found[1].purpose, "test",
            "bold keys work; the first test line wins"
        );
        assert_eq!(found[1].argv, argv(&["cargo", "test"]));
        assert_eq!(found[2].purpose, "lint");
        assert!(found[2].argv.is_empty());
        assert!(
            found[2]
                .problem
                .as_deref()
                .unwrap()
                .contains("needs a shell")
        );
        // Commands outside the section (Stack, CI) are not commands.
        assert!(found.iter().all(|c| c.command != "cargo build"));
    }

    #[test]
    fn none_missing_and_unquoted_commands() {
        let found = parse_commands(
            "# Report\n### Commands\n- build: none\n- test: `none`\n- lint: make lint\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].purpose, "lint");
        assert!(found[0].problem.as_deref().unwrap().contains("backticks"));
        assert!(parse_commands("no sections at all\n- build: `make`\n").is_empty());
    }

    const CONFIG: &str = "# top comment\n[project]\nbase_branch = \"main\" # trailing\n\n\
        # Mechanical checks.\n[checks]\n# lint = [\"cargo\", \"clippy\"]\n\
        # the test command\ntest = [\"make\", \"test\"]\nfmt = [\"cargo\", \"fmt\", \"--check\"]\n";

    #[test]
    fn applying_checks_keeps_comments_and_other_keys() {
        let checks = vec![
            ("build".to_owned(), argv(&["cargo", "build"])),
            ("test".to_owned(), argv(&["cargo", "test"])),
        ];
        let (text, applied) = apply_checks(CONFIG, &checks).unwrap();
        for kept in [
            "# top comment",
            "base_branch = \"main\" # trailing",
            "# Mechanical checks.",
            "# lint = [\"cargo\", \"clippy\"]",
            "# the test command\ntest = [\"cargo\", \"test\"]",
            "fmt = [\"cargo\", \"fmt\", \"--check\"]",
            "build = [\"cargo\", \"build\"]",
        ] {
            assert!(text.contains(kept), "lost `{kept}`:\n{text}");
        }
        let config = config::parse(&text).unwrap();
        assert_eq!(config.checks["test"], argv(&["cargo", "test"]));
        assert_eq!(config.checks["fmt"].len(), 3);
        assert_eq!(applied.len(), 2);
        assert_eq!(applied[1].previous, Some(argv(&["make", "test"])));
        assert_eq!(applied[0].previous, None);
        // A second run changes nothing.
        let (again, applied) = apply_checks(&text, &checks).unwrap();
        assert_eq!(again, text);
        assert!(applied.is_empty());
    }

    #[test]
    fn applying_checks_to_the_init_template_and_to_broken_files() {
        let template = config::render_template(&config::TemplateValues {
            base_branch: "main".into(),
            ci: "none".into(),
            engine: None,
        })
        .unwrap();
        let checks = vec![("lint".to_owned(), argv(&["cargo", "clippy"]))];
        let (text, _) = apply_checks(&template, &checks).unwrap();
        assert!(text.starts_with("# godzilla project configuration."));
        assert!(text.contains("# test = [\"cargo\", \"test\"]"), "{text}");
        assert_eq!(config::parse(&text).unwrap().checks["lint"].len(), 2);
        // No [checks] table yet: one is added.
        let (text, _) = apply_checks("[project]\nci = \"none\"\n", &checks).unwrap();
        assert!(text.contains("[checks]\nlint = "), "{text}");
        assert!(matches!(
            apply_checks("[project\n", &checks),
            Err(ConfigEditError::Parse(_))
        ));
        assert!(matches!(
            apply_checks("checks = 3\n", &checks),
            Err(ConfigEditError::NotATable)
        ));
        assert!(matches!(
            apply_checks("[bogus]\nx = 1\n", &checks),
            Err(ConfigEditError::Invalid(_))
        ));
    }

    #[test]
    fn discovery_without_an_engine_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        Git::new("git", &root)
            .run(&["init", "-q", "-b", "main"])
            .unwrap();
        let ctx = Context::discover_with(
            &root,
            crate::context::EnvSnapshot::default(),
            std::sync::Arc::new(crate::report::Silent),
        )
        .unwrap();
        init_project(&ctx, &InitOptions::default()).unwrap();
        let store = Store::new(&ctx.paths);
        let events = storage::read_optional(&store.project_events_path()).unwrap();
        let err = run_discovery(&ctx, &DiscoveryOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                DiscoveryError::Selection(
                    crate::services::platform::engines::Error::NoEngine { .. }
                )
            ),
            "{err}"
        );
        assert!(err.to_string().contains("discovery"), "{err}");
        assert!(!store.state_dir().join("discovery.md").exists());
        assert_eq!(
            storage::read_optional(&store.project_events_path()).unwrap(),
            events
        );
    }
}
