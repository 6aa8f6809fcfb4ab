//! Discovery (`godzilla discover`): an engine looks at the repository read-only and reports
//! its stack, commands and CI; godzilla keeps the report in `.godzilla/discovery.md` and, when
//! asked, turns the commands into `[checks]`. It never invents findings: no engine, no report.

use serde::Serialize;

use crate::config;
use crate::context::Context;
use crate::domain::EventKind;
use crate::engines::{self, Classification, EngineOutcome, EngineRequest, Phase};
use crate::error_kind::{ErrorKind, HasKind};
use crate::git::Git;
use crate::services::execution;
use crate::services::platform::engines::{self as platform_engines, Choice, Selection};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage::{self, Store, write_atomic};
use crate::services::platform::telemetry;
use crate::services::prompts::{self, Role};

/// Largest discovery answer kept: a report, not a dump of the repository.
const MAX_DISCOVERY_ANSWER: usize = 256 * 1024;

/// The check purposes discovery fills in, in the order the prompt asks for them.
pub const CHECK_PURPOSES: [&str; 3] = ["build", "test", "lint"];

/// Errors from discovery.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// The engines could not be set up from the configuration.
    #[error(transparent)]
    Engines(#[from] Box<crate::services::execution::Error>),
    /// No engine could be selected for the discovery phase.
    #[error(transparent)]
    Selection(#[from] crate::services::platform::engines::Error),
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

infra_from!(DiscoveryError);

impl HasKind for DiscoveryError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::Engines(e) => e.kind(),
            Self::Prompt(e) => e.kind(),
            // No engine to discover with is a failure to discover, not a usage mistake; only
            // a profile that names nothing usable is the user's to fix.
            Self::Selection(platform_engines::Error::Engine(
                engines::Error::UnknownEngine { .. }
                | engines::Error::UnknownKind { .. }
                | engines::Error::Incomplete { .. },
            )) => ErrorKind::Usage,
            Self::Selection(_) | Self::Failed { .. } => ErrorKind::Failed,
            Self::ConfigEdit { .. } => ErrorKind::Usage,
        }
    }
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

/// Why a discovered command cannot be stored as a check; the text completes "`cmd` ...".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Only a shell can run it (the construct named).
    #[error("needs a shell ({0})")]
    NeedsShell(String),
    /// A quote is never closed.
    #[error("has an unclosed quote")]
    UnclosedQuote,
    /// There is no word at all.
    #[error("is empty")]
    Empty,
    /// The answer gave it without backticks, so where it ends is a guess.
    #[error("is not a command in backticks, as the prompt asks")]
    NotInBackticks,
}

/// Splits a command into an argv the way a plain shell word split would, and refuses what
/// only a shell can run: checks run without one, so `a | b`, `a && b`, redirections,
/// variables, command substitution, globs, `~`, `VAR=x cmd` and `cd` would silently mean
/// something else (or nothing).
pub fn split_command(command: &str) -> Result<Vec<String>, CommandError> {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Single,
        Double,
    }
    let needs_shell = |what: String| Err(CommandError::NeedsShell(what));
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
        return Err(CommandError::UnclosedQuote);
    }
    if in_word {
        argv.push(word);
    }
    match argv.first().map(String::as_str) {
        None => Err(CommandError::Empty),
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
            None => (value.to_owned(), Err(CommandError::NotInBackticks)),
        };
        let (argv, problem) = match parsed {
            Ok(argv) => (argv, None),
            Err(why) => (Vec::new(), Some(why.to_string())),
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
    let store = Store::new(&ctx.paths);
    store.check_format()?;
    let config = store.load_config()?;
    let selection = select_engine(ctx, &store, &config, opts)?;
    let engine = selection.engine.name().to_owned();
    let request = discovery_request(ctx, &store, &config, opts, &selection)?;
    ctx.reporter.status(
        "Discovering",
        &format!(
            "{} with {engine}{}",
            ctx.paths.work_tree.display(),
            model_suffix(&selection)
        ),
    );
    let outcome = run_engine(ctx, &store, &selection, &request)?;
    let answer = usable_answer(&outcome).map_err(|unusable| DiscoveryError::Failed {
        engine: engine.clone(),
        reason: unusable.to_string(),
    })?;
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
        Some(edit_checks(&config_path, &commands)?)
    } else {
        None
    };
    let report_path = store.state_dir().join("discovery.md");
    let header = format!(
        "<!-- written by `godzilla discover` with {engine}{} on {}; edit freely -->\n\n",
        model_suffix(&selection),
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
    record_discovery(
        ctx, &store, &config, &request, &outcome, &engine, &commands, &applied,
    )?;
    Ok(DiscoveryOutcome {
        path: store.display(&report_path).into_owned(),
        engine,
        model: selection.model,
        tokens: outcome.usage.total(),
        commands,
        applied,
        apply: opts.apply,
    })
}

/// ` (model)` when a model was chosen, else nothing.
fn model_suffix(selection: &Selection) -> String {
    selection
        .model
        .as_deref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default()
}

/// Picks the discovery engine and checks it may and can run.
fn select_engine(
    ctx: &Context,
    store: &Store,
    config: &config::Config,
    opts: &DiscoveryOptions,
) -> Result<Selection, DiscoveryError> {
    let engines = crate::services::platform::engines::engines_for(ctx, store, config)
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
        store,
        config,
        ctx.env.trust_config,
        selection.engine.name(),
    )
    .map_err(|e| Box::new(execution::Error::from(e)))?;
    selection.engine.check_installed()?;
    Ok(selection)
}

/// Renders the discovery prompt and builds the read-only request, with its scratch directory.
fn discovery_request(
    ctx: &Context,
    store: &Store,
    config: &config::Config,
    opts: &DiscoveryOptions,
    selection: &Selection,
) -> Result<EngineRequest, DiscoveryError> {
    let template = prompts::resolve_prompt(store, Role::Discovery)?;
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
    Ok(EngineRequest {
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
        group_lock: Some(crate::services::platform::engines::engine_lock_path(store)),
    })
}

/// Runs the engine with the protected files guarded; a run that failed or touched them is an
/// error.
fn run_engine(
    ctx: &Context,
    store: &Store,
    selection: &Selection,
    request: &EngineRequest,
) -> Result<EngineOutcome, DiscoveryError> {
    let failed = |reason: String| DiscoveryError::Failed {
        engine: selection.engine.name().to_owned(),
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
            store,
            selection.engine.as_ref(),
            request,
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
    Ok(outcome)
}

/// Why an engine's discovery answer cannot be kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum UnusableAnswer {
    /// Longer than [`MAX_DISCOVERY_ANSWER`].
    #[error("the answer is {bytes} bytes; at most {MAX_DISCOVERY_ANSWER} are kept")]
    TooLarge {
        /// Its length.
        bytes: usize,
    },
    /// Nothing but fences and blanks, or nothing at all.
    #[error("the engine gave no answer")]
    Empty,
}

/// The answer to keep, without fences; why there is none otherwise.
fn usable_answer(outcome: &EngineOutcome) -> Result<&str, UnusableAnswer> {
    let raw = outcome.final_message.as_deref().unwrap_or_default();
    if raw.len() > MAX_DISCOVERY_ANSWER {
        return Err(UnusableAnswer::TooLarge { bytes: raw.len() });
    }
    let answer = crate::engines::strip_fences(raw);
    if answer.is_empty() {
        return Err(UnusableAnswer::Empty);
    }
    Ok(answer)
}

/// The new `config.toml` text with the usable commands as checks, and what changed.
fn edit_checks(
    config_path: &std::path::Path,
    commands: &[DiscoveredCommand],
) -> Result<(String, Vec<AppliedCheck>), DiscoveryError> {
    let usable: Vec<(String, Vec<String>)> = commands
        .iter()
        .filter(|c| c.problem.is_none())
        .map(|c| (c.purpose.clone(), c.argv.clone()))
        .collect();
    let text = String::from_utf8_lossy(&storage::read_optional(config_path)?.unwrap_or_default())
        .into_owned();
    apply_checks(&text, &usable).map_err(|source| DiscoveryError::ConfigEdit {
        path: config_path.to_path_buf(),
        source,
    })
}

/// Records `discovery_completed` with the engine, cost, commands and applied checks.
#[allow(clippy::too_many_arguments)]
fn record_discovery(
    ctx: &Context,
    store: &Store,
    config: &config::Config,
    request: &EngineRequest,
    outcome: &EngineOutcome,
    engine: &str,
    commands: &[DiscoveredCommand],
    applied: &[AppliedCheck],
) -> Result<(), DiscoveryError> {
    let tokens = outcome.usage.total();
    let mut meta = serde_json::Map::new();
    meta.insert("engine".into(), engine.into());
    meta.insert("model".into(), request.model.clone().into());
    meta.insert("tokens".into(), tokens.into());
    if let Some((cost, _)) = crate::services::platform::telemetry::settle_cost(
        config,
        &request.label,
        request.model.as_deref(),
        &outcome.usage,
        outcome.cost_usd,
    ) {
        meta.insert("cost_usd".into(), cost.usd().into());
    }
    meta.insert(
        "commands".into(),
        serde_json::to_value(commands).unwrap_or_default(),
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
        store,
        EventKind::DiscoveryCompleted,
        format!(
            "discovery with {engine}: {} commands found, {} checks applied",
            commands.len(),
            applied.len()
        ),
        meta,
    )?;
    Ok(())
}

#[cfg(test)]
mod discovery_tests {
    use super::*;
    use crate::services::onboarding::{InitOptions, init_project};

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
        assert!(matches!(
            split_command("a | b"),
            Err(CommandError::NeedsShell(_))
        ));
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
    fn an_answer_is_kept_without_fences_unless_empty_or_too_large() {
        let answer = |text: &str| {
            let mut outcome = EngineOutcome::from_raw(&crate::engines::RawRun::default());
            outcome.final_message = Some(text.to_owned());
            usable_answer(&outcome).map(str::to_owned)
        };
        assert_eq!(answer("```\n## Stack\n```").unwrap(), "## Stack");
        assert_eq!(answer("```\n```"), Err(UnusableAnswer::Empty));
        let huge = "x".repeat(MAX_DISCOVERY_ANSWER + 1);
        let err = answer(&huge).unwrap_err();
        assert_eq!(
            err,
            UnusableAnswer::TooLarge {
                bytes: MAX_DISCOVERY_ANSWER + 1
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "the answer is {} bytes; at most {MAX_DISCOVERY_ANSWER} are kept",
                MAX_DISCOVERY_ANSWER + 1
            )
        );
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
