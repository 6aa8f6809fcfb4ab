//! [`CliEngine`]: an [`Adapter`] plus a profile, run headlessly through [`runner`].
//!
//! This is where the headless contract is assembled for every CLI engine: the child's
//! environment is built from an allowlist (never inherited), the executable is resolved on the
//! child's PATH (a miss is `not_installed`, never a fake success), scratch files are written,
//! the runner enforces timeouts, and the outcome, transcript and live lines are scrubbed of
//! every secret the engine could have seen.
//!
//! It knows no engine's flags or output format; the adapters do.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::runner::{self, RunSpec};
use super::{
    Adapter, BuildContext, Classification, Endpoint, Engine, EngineKind, EngineOutcome,
    EngineRequest, EngineRun, Error, OnLine, ProbeReport, RawRun, Scrubber, Transcript,
    create_run_dir, write_run_file,
};
use crate::config::{EngineProfile, HomeMode};

/// Host variables every engine gets (besides `LC_*`): enough for a CLI to find itself, its
/// home and a temp dir, and to print in the user's locale.
pub const ENV_ALLOWLIST: &[&str] = &["PATH", "HOME", "LANG", "TERM", "TMPDIR", "USER"];

/// How long `doctor` lets `--version` / `--help` run.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// A CLI engine: which adapter, which executable, and the profile's settings.
#[derive(Debug)]
pub struct CliEngine {
    name: String,
    adapter: Box<dyn Adapter>,
    program: String,
    model: Option<String>,
    timeout: Option<Duration>,
    extra_args: Vec<String>,
    /// Host variables the profile passes through by name.
    passthrough: Vec<String>,
    /// `NAME=VALUE` entries of the profile: set literally (e.g. an isolated `HOME`).
    literal_env: BTreeMap<String, String>,
    host_env: Arc<BTreeMap<String, String>>,
    kill_grace: Duration,
    /// The profile's `base_url`.
    base_url: Option<String>,
    /// The profile's `api_key_env`.
    api_key_env: Option<String>,
    /// The profile's `home`.
    home: HomeMode,
    /// Where isolated homes live (`$GIT_COMMON_DIR/godzilla/homes`); without it an isolated
    /// home is made for each run in its scratch directory.
    homes_dir: Option<std::path::PathBuf>,
}

impl CliEngine {
    /// An engine named `name` using `adapter` with its default program, reading passthrough
    /// values from `host_env` (the caller's snapshot of the process environment).
    pub fn new(
        name: impl Into<String>,
        adapter: Box<dyn Adapter>,
        host_env: Arc<BTreeMap<String, String>>,
    ) -> Self {
        let program = adapter.default_program().to_owned();
        Self {
            name: name.into(),
            adapter,
            program,
            model: None,
            timeout: None,
            extra_args: Vec::new(),
            passthrough: Vec::new(),
            literal_env: BTreeMap::new(),
            host_env,
            kill_grace: runner::DEFAULT_KILL_GRACE,
            base_url: None,
            api_key_env: None,
            home: HomeMode::Inherit,
            homes_dir: None,
        }
    }

    /// Sets where isolated homes live (one directory per engine name under it).
    pub fn with_homes_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.homes_dir = dir;
        self
    }

    /// Applies a config profile: command, args, env (names to pass through, or `NAME=VALUE`
    /// to set), model and timeout.
    pub fn with_profile(mut self, profile: &EngineProfile) -> Self {
        if let Some(command) = &profile.command {
            self.program.clone_from(command);
        }
        self.extra_args.clone_from(&profile.args);
        for entry in &profile.env {
            match entry.split_once('=') {
                Some((k, v)) => {
                    self.literal_env.insert(k.to_owned(), v.to_owned());
                }
                None => self.passthrough.push(entry.clone()),
            }
        }
        self.model.clone_from(&profile.model);
        self.timeout = profile.timeout_secs.map(Duration::from_secs);
        self.base_url.clone_from(&profile.base_url);
        self.api_key_env.clone_from(&profile.api_key_env);
        self.home = profile.home;
        self
    }

    /// The isolated home of this engine for `req`, when the profile asks for one.
    fn isolated_home(&self, req: &EngineRequest) -> Option<std::path::PathBuf> {
        (self.home == HomeMode::Isolated).then(|| match &self.homes_dir {
            Some(dir) => dir.join(&self.name),
            None => req.scratch_dir.join("home"),
        })
    }

    /// HOME, the XDG directories and the adapter's own variables for an isolated `home`, each
    /// directory created.
    fn home_vars(&self, home: &std::path::Path) -> Result<Vec<(String, String)>, Error> {
        let mut vars = vec![
            ("HOME".to_owned(), home.to_path_buf()),
            ("XDG_CONFIG_HOME".to_owned(), home.join(".config")),
            ("XDG_DATA_HOME".to_owned(), home.join(".local/share")),
            ("XDG_STATE_HOME".to_owned(), home.join(".local/state")),
            ("XDG_CACHE_HOME".to_owned(), home.join(".cache")),
        ];
        vars.extend(
            self.adapter
                .home_env(home)
                .into_iter()
                .map(|(k, v)| (k, std::path::PathBuf::from(v))),
        );
        vars.into_iter()
            .map(|(name, dir)| {
                create_run_dir(&dir)?;
                Ok((name, dir.to_string_lossy().into_owned()))
            })
            .collect()
    }

    /// Secrets to scrub besides the secret-named variables: the API key, and profile values
    /// that look like secrets whatever their name.
    fn extra_secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .literal_env
            .values()
            .filter(|v| super::scrub::looks_like_secret(v))
            .cloned()
            .collect();
        if let Some(key) = self.api_key_env.as_ref().and_then(|k| self.host_env.get(k)) {
            secrets.push(key.clone());
        }
        secrets
    }

    /// Sets the time between SIGTERM and SIGKILL when a run is killed.
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// The adapter.
    pub fn adapter(&self) -> &dyn Adapter {
        self.adapter.as_ref()
    }

    /// The child's environment: allowlisted and passed-through host variables, then the
    /// adapter's fixed settings, then the profile's literal values, then the request's.
    pub fn child_env(
        &self,
        req: &EngineRequest,
        adapter_env: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let wanted = |key: &str| {
            ENV_ALLOWLIST.contains(&key)
                || key.starts_with("LC_")
                || self.adapter.env_keys().contains(&key)
                || self.passthrough.iter().any(|p| p == key)
        };
        let mut env: BTreeMap<String, String> = self
            .host_env
            .iter()
            .filter(|(k, _)| wanted(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.extend(adapter_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.extend(self.literal_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.extend(req.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }

    fn not_installed(&self, scrubber: &Scrubber, argv: Vec<String>) -> EngineRun {
        let mut outcome = EngineOutcome::failed(
            Classification::NotInstalled,
            format!(
                "`{}` was not found on PATH; {}",
                self.program,
                self.adapter.install_hint()
            ),
        );
        outcome.argv = argv;
        EngineRun {
            outcome: outcome.scrubbed(scrubber),
            transcript: Transcript::default(),
        }
    }

    /// Runs `program args` for `doctor` and returns its output, or why it failed.
    fn probe_run(&self, program: &std::path::Path, args: &[&str]) -> Result<String, ProbeError> {
        let mut env: BTreeMap<String, String> = self
            .host_env
            .iter()
            .filter(|(k, _)| ENV_ALLOWLIST.contains(&k.as_str()) || k.starts_with("LC_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Even `--version` writes config dirs (opencode does): an isolated engine probes in
        // its own home too.
        if let (HomeMode::Isolated, Some(dir)) = (self.home, &self.homes_dir) {
            env.extend(self.home_vars(&dir.join(&self.name))?);
        }
        let cwd = std::path::PathBuf::from("/");
        let mut spec = RunSpec::new(program, args.iter().map(|a| (*a).to_owned()).collect(), cwd);
        spec.env = env;
        spec.timeout = PROBE_TIMEOUT;
        spec.kill_grace = self.kill_grace;
        let raw = runner::run(&spec, &mut |_, _| {})?;
        if raw.killed.is_some() {
            return Err(ProbeError::TimedOut {
                args: args.join(" "),
            });
        }
        let mut text = raw.stdout_text();
        text.push_str(&raw.stderr_text());
        if raw.exit_code == Some(0) {
            Ok(text)
        } else {
            Err(ProbeError::Exited {
                args: args.join(" "),
                code: raw.exit_code,
                tail: raw.stderr_tail(3),
            })
        }
    }
}

impl CliEngine {
    /// The key named by `api_key_env`, or the failed run that says it is not set (an auth
    /// failure before anything starts, not a missing-binary or engine error).
    fn api_key(&self) -> Result<Option<(&str, &str)>, Box<EngineRun>> {
        let Some(var) = &self.api_key_env else {
            return Ok(None);
        };
        if let Some(value) = self.host_env.get(var).filter(|v| !v.is_empty()) {
            return Ok(Some((var.as_str(), value.as_str())));
        }
        let scrubber = Scrubber::from_envs(&[&self.host_env]);
        let mut outcome = EngineOutcome::failed(
            Classification::Auth,
            format!(
                "engine `{}` takes its API key from {var} (api_key_env), which is not set",
                self.name
            ),
        );
        outcome.argv = vec![self.program.clone()];
        Err(Box::new(EngineRun {
            outcome: outcome.scrubbed(&scrubber),
            transcript: Transcript::default(),
        }))
    }
}

impl Engine for CliEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> EngineKind {
        self.adapter.kind()
    }

    fn program(&self) -> Option<&str> {
        Some(&self.program)
    }

    fn default_model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    fn default_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn check_installed(&self) -> Result<(), Error> {
        let path = self.host_env.get("PATH").map(String::as_str);
        match runner::resolve_program(&self.program, path, std::path::Path::new("/")) {
            Some(_) => Ok(()),
            None => Err(Error::NotInstalled {
                name: self.name.clone(),
                program: self.program.clone(),
                hint: self.adapter.install_hint().to_owned(),
            }),
        }
    }

    fn execute(&self, req: &EngineRequest, on_line: &mut OnLine<'_>) -> Result<EngineRun, Error> {
        if !req.workdir.is_dir() {
            return Err(Error::Workdir {
                path: req.workdir.clone(),
            });
        }
        let ctx = BuildContext {
            name: &self.name,
            model: req.model.as_deref().or(self.model.as_deref()),
            extra_args: &self.extra_args,
        };
        let mut inv = self.adapter.build(req, &ctx)?;
        let api_key = match self.api_key() {
            Ok(key) => key,
            Err(run) => return Ok(*run),
        };
        let endpoint = Endpoint {
            name: &self.name,
            base_url: self.base_url.as_deref(),
            api_key,
            model: ctx.model,
        };
        self.adapter.endpoint(req, &endpoint, &mut inv)?;
        if let Some(home) = self.isolated_home(req) {
            for (name, dir) in self.home_vars(&home)? {
                inv.env.entry(name).or_insert(dir);
            }
        }
        let env = self.child_env(req, &inv.env);
        // Scrub everything the host knows as secret, not only what the child got (engines
        // also read config files, and a leaked value is a leak whatever its route), every
        // value the child got whatever its name (`DATABASE_URL` holds a password too), and the
        // profile's own values that look like secrets (a key may reach the CLI in a file).
        let scrubber = Scrubber::for_engine_with(&self.host_env, &env, self.extra_secrets());
        let scrubber = scrubber.as_ref();
        let mut argv = vec![self.program.clone()];
        argv.extend(inv.args.iter().cloned());

        let Some(program) =
            runner::resolve_program(&self.program, env.get("PATH").map(String::as_str), &inv.cwd)
        else {
            return Ok(self.not_installed(scrubber, argv));
        };
        for (path, bytes) in &inv.files {
            write_run_file(path, bytes)?;
        }
        let filter = |stream, line: &str| self.adapter.is_progress(stream, line);
        let retries = std::sync::atomic::AtomicUsize::new(0);
        let fatal = std::sync::Mutex::new(None::<(Classification, String)>);
        let give_up = |stream, line: &str| {
            if let Some(found) = self.adapter.fatal_line(stream, line) {
                let mut first = fatal
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                first.get_or_insert(found);
                return true;
            }
            self.adapter.is_retry_loop(stream, line)
                && retries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 >= 2
        };
        let spec = RunSpec {
            program,
            args: inv.args.clone(),
            cwd: inv.cwd.clone(),
            env,
            stdin: inv.stdin.clone(),
            timeout: req.timeout,
            stall_timeout: if self.adapter.streams_output() {
                req.stall_timeout
            } else {
                Duration::ZERO
            },
            kill_grace: self.kill_grace,
            max_output: runner::DEFAULT_MAX_OUTPUT,
            progress: Some(&filter),
            group_lock: req.group_lock.clone(),
            give_up: Some(&give_up),
        };
        let mut scrubbed_line = |stream, line: &str| on_line(stream, &scrubber.scrub(line));
        let mut raw = match runner::run(&spec, &mut scrubbed_line) {
            Ok(raw) => raw,
            Err(runner::Error::Spawn { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(self.not_installed(scrubber, argv));
            }
            Err(e) => return Err(e.into()),
        };
        // Report the program as configured, not its resolved path: argv is recorded.
        raw.argv = argv;
        for (name, path) in &inv.collect {
            if let Ok(bytes) = std::fs::read(path) {
                raw.collected.insert(name.clone(), bytes);
            }
        }
        let mut outcome = finish(self.adapter.parse(req, &raw), &raw, req);
        let fatal = fatal
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let (Some(runner::KillReason::GaveUp), Some((class, message))) = (raw.killed, fatal) {
            outcome.classification = class;
            outcome.error = Some(format!(
                "{message} (the engine would have retried; godzilla stopped it at once: \
                 retrying cannot fix this)"
            ));
        }
        Ok(EngineRun {
            outcome: outcome.scrubbed(scrubber),
            transcript: Transcript::scrubbed(&raw, scrubber),
        })
    }

    fn credentials(&self) -> Result<(), super::CredentialsError> {
        let env = self.child_env(&empty_request(), &BTreeMap::new());
        missing_credentials(self.adapter.kind(), &env, &self.extra_args).map_or(Ok(()), Err)
    }

    fn login_status(&self) -> Option<super::LoginStatus> {
        let check = self.adapter.login_check()?;
        if self.base_url.is_some() {
            return None;
        }
        let command = format!(
            "{} {}",
            self.adapter.default_program(),
            check.args.join(" ")
        );
        let cwd = std::path::PathBuf::from("/");
        let program = runner::resolve_program(
            &self.program,
            self.host_env.get("PATH").map(String::as_str),
            &cwd,
        )?;
        // What a run would be given: the key where the adapter puts it, the isolated home.
        let req = empty_request();
        let api_key = self.api_key_env.as_ref().and_then(|var| {
            self.host_env
                .get(var)
                .filter(|v| !v.is_empty())
                .map(|v| (var.as_str(), v.as_str()))
        });
        let endpoint = Endpoint {
            name: &self.name,
            base_url: None,
            api_key,
            model: self.model.as_deref(),
        };
        let mut inv = super::Invocation::default();
        let mut note = self
            .adapter
            .endpoint(&req, &endpoint, &mut inv)
            .err()
            .map(|e| e.to_string());
        if let (HomeMode::Isolated, Some(dir)) = (self.home, &self.homes_dir) {
            match self.home_vars(&dir.join(&self.name)) {
                Ok(vars) => inv.env.extend(vars),
                Err(e) => note = Some(e.to_string()),
            }
        }
        let env = self.child_env(&req, &inv.env);
        let key_given = env.iter().any(|(k, v)| {
            !v.is_empty()
                && (k.ends_with("_API_KEY") || k.ends_with("_AUTH_TOKEN") || k.ends_with("_KEY"))
        });
        let scrubber = Scrubber::for_engine_with(&self.host_env, &env, self.extra_secrets());
        let mut spec = RunSpec::new(
            &program,
            check.args.iter().map(|a| (*a).to_owned()).collect(),
            cwd,
        );
        spec.env = env;
        spec.timeout = PROBE_TIMEOUT;
        spec.kill_grace = self.kill_grace;
        let mut logged_in = None;
        match runner::run(&spec, &mut |_, _| {}) {
            Ok(raw) if raw.killed.is_none() => {
                logged_in = (check.read)(raw.exit_code, &raw.stdout_text());
                if logged_in.is_none() {
                    note.get_or_insert_with(|| {
                        format!("its answer could not be read (exit {:?})", raw.exit_code)
                    });
                }
            }
            Ok(_) => {
                return Some(super::LoginStatus {
                    command,
                    logged_in: None,
                    key_given,
                    note: Some(format!("did not answer within {PROBE_TIMEOUT:?}")),
                });
            }
            Err(e) => note = Some(e.to_string()),
        }
        Some(super::LoginStatus {
            command,
            logged_in,
            key_given,
            note: note.map(|e| scrubber.scrub(&e)),
        })
    }

    fn given_values(&self) -> Vec<String> {
        self.child_env(&empty_request(), &BTreeMap::new())
            .into_iter()
            .filter(|(k, v)| !super::scrub::is_plain(k, v))
            .map(|(_, v)| v)
            .collect()
    }

    fn probe(&self) -> ProbeReport {
        let scrubber = Scrubber::for_engine(&self.host_env, &BTreeMap::new());
        let mut report = ProbeReport {
            name: self.name.clone(),
            kind: self.kind(),
            path: None,
            version: None,
            flags_ok: None,
            missing_flags: Vec::new(),
            notes: Vec::new(),
        };
        let cwd = std::path::PathBuf::from("/");
        let Some(path) = runner::resolve_program(
            &self.program,
            self.host_env.get("PATH").map(String::as_str),
            &cwd,
        ) else {
            report.notes.push(format!(
                "`{}` not found on PATH; {}",
                self.program,
                self.adapter.install_hint()
            ));
            return report;
        };
        match self.probe_run(&path, &["--version"]) {
            Ok(text) => report.version = text.lines().next().map(|l| l.trim().to_owned()),
            Err(e) => report.notes.push(scrubber.scrub(&e.to_string())),
        }
        let mut all_ok = true;
        for check in self.adapter.probe_checks() {
            match self.probe_run(&path, &check.args) {
                Ok(help) => {
                    for flag in check.flags {
                        if !help.contains(flag) {
                            all_ok = false;
                            report.missing_flags.push(flag.to_owned());
                        }
                    }
                }
                Err(e) => {
                    all_ok = false;
                    report.notes.push(scrubber.scrub(&e.to_string()));
                }
            }
        }
        report.flags_ok = Some(all_ok && report.notes.is_empty());
        report.path = Some(path);
        report
    }
}

/// Why a `doctor` probe of the CLI (`--version`, `--help`) failed.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    /// The engine's own home (isolated profiles) could not be prepared.
    #[error(transparent)]
    Home(#[from] Error),
    /// The process could not be started or supervised.
    #[error(transparent)]
    Run(#[from] runner::Error),
    /// It did not finish in time.
    #[error("`{args}` did not finish within {PROBE_TIMEOUT:?}")]
    TimedOut {
        /// The arguments probed.
        args: String,
    },
    /// It exited with a failure.
    #[error("`{args}` exited with {code:?}: {tail}")]
    Exited {
        /// The arguments probed.
        args: String,
        /// Its exit code (`None`: killed by a signal).
        code: Option<i32>,
        /// The last lines of its stderr.
        tail: String,
    },
}

/// A request with nothing in it, to compute what an engine would be given.
fn empty_request() -> EngineRequest {
    EngineRequest {
        label: String::new(),
        prompt: String::new(),
        workdir: std::path::PathBuf::new(),
        model: None,
        phase: super::Phase::Exec,
        output_schema: None,
        timeout: Duration::ZERO,
        stall_timeout: Duration::ZERO,
        scratch_dir: std::path::PathBuf::new(),
        env: BTreeMap::new(),
        group_lock: None,
    }
}

/// What is missing for an engine of `kind` given `env` and profile `args` to authenticate, per
/// each CLI's documented sources: its API-key variables, its login file under its home, or a
/// provider the profile configures itself (then the key is that provider's business).
fn missing_credentials(
    kind: EngineKind,
    env: &BTreeMap<String, String>,
    args: &[String],
) -> Option<super::CredentialsError> {
    let set = |k: &str| env.get(k).is_some_and(|v| !v.is_empty());
    let home = env.get("HOME").map(std::path::PathBuf::from);
    let file =
        |dir: Option<std::path::PathBuf>, rel: &str| dir.is_some_and(|d| d.join(rel).is_file());
    let any_key = env
        .iter()
        .any(|(k, v)| k.ends_with("_API_KEY") && !v.is_empty());
    let (found, fix) = match kind {
        EngineKind::Codex => (
            set("OPENAI_API_KEY")
                || set("CODEX_API_KEY")
                || file(env.get("CODEX_HOME").map(Into::into), "auth.json")
                || file(home.clone(), ".codex/auth.json")
                || args.iter().any(|a| a.contains("model_provider")),
            "set OPENAI_API_KEY (passed through `env` in the profile) or run `codex login`",
        ),
        EngineKind::Claude => (
            set("ANTHROPIC_API_KEY")
                || set("ANTHROPIC_AUTH_TOKEN")
                || set("CLAUDE_CODE_USE_BEDROCK")
                || set("CLAUDE_CODE_USE_VERTEX")
                || file(
                    env.get("CLAUDE_CONFIG_DIR").map(Into::into),
                    ".credentials.json",
                )
                || file(home.clone(), ".claude/.credentials.json"),
            "set ANTHROPIC_API_KEY (passed through `env` in the profile) or run `claude` and \
             `/login` once",
        ),
        EngineKind::Gemini => (
            set("GEMINI_API_KEY")
                || set("GOOGLE_API_KEY")
                || set("GOOGLE_APPLICATION_CREDENTIALS")
                || set("GOOGLE_GENAI_USE_VERTEXAI")
                || file(home.clone(), ".gemini/oauth_creds.json")
                || file(home.clone(), ".gemini/settings.json") && any_key,
            "set GEMINI_API_KEY (passed through `env` in the profile) or run `gemini` and log \
             in once",
        ),
        EngineKind::Opencode => (
            any_key
                || set("OPENCODE_CONFIG")
                || set("OPENCODE_CONFIG_CONTENT")
                || file(
                    env.get("XDG_DATA_HOME").map(Into::into),
                    "opencode/auth.json",
                )
                || file(home.clone(), ".local/share/opencode/auth.json"),
            "pass a provider's API key through `env` in the profile or run `opencode auth login`",
        ),
        EngineKind::Command | EngineKind::Replay => (true, ""),
    };
    (!found).then_some(super::CredentialsError::NotFound { kind, fix })
}

/// Applies what holds for every CLI whatever its output says: a run the runner killed is a
/// timeout; a crash or a non-zero exit is never `ok`.
pub fn finish(mut outcome: EngineOutcome, raw: &RawRun, req: &EngineRequest) -> EngineOutcome {
    outcome.exit_code = raw.exit_code;
    outcome.duration_ms = u64::try_from(raw.duration.as_millis()).unwrap_or(u64::MAX);
    outcome.argv.clone_from(&raw.argv);
    if raw.killed == Some(runner::KillReason::Interrupted) {
        let signal = crate::process::interrupted().map_or("a signal", |s| s.as_str());
        outcome.classification = Classification::Interrupted;
        outcome.error = Some(format!(
            "godzilla received {signal}; the engine's process group was stopped"
        ));
        outcome.final_message = None;
        return outcome;
    }
    if raw.killed == Some(runner::KillReason::GaveUp) {
        // Not a timeout: waiting longer would not have helped, the server is unreachable.
        let last = outcome.error.take().unwrap_or_default();
        // What the adapter read from the failures (a 401 or 429 in them) still decides.
        if !matches!(
            outcome.classification,
            Classification::Auth | Classification::RateLimit
        ) {
            outcome.classification = Classification::EngineError;
        }
        outcome.error = Some(format!(
            "the engine cannot reach its server or keeps failing, and retries on its own; \
             stopped after {:.0?}: {last}",
            raw.duration
        ));
        outcome.final_message = None;
        return outcome;
    }
    if let Some(reason) = raw.killed {
        let what = match reason {
            runner::KillReason::Timeout => format!("timed out after {}s", req.timeout.as_secs()),
            runner::KillReason::Stall => format!(
                "no output for {}s (stall watchdog)",
                req.stall_timeout.as_secs()
            ),
            runner::KillReason::Interrupted | runner::KillReason::GaveUp => {
                unreachable!("handled above")
            }
        };
        outcome.classification = Classification::Timeout;
        outcome.error = Some(match outcome.error.take() {
            Some(previous) => format!("{what}; last error: {previous}"),
            None => format!("{what}; the process group was killed"),
        });
        return outcome;
    }
    if let Some(signal) = raw.signal {
        outcome.fail(
            Classification::EngineError,
            format!("killed by signal {signal}: {}", raw.stderr_tail(5)),
        );
    } else if raw.exit_code != Some(0) {
        let code = raw.exit_code.unwrap_or(-1);
        let tail = raw.stderr_tail(5);
        // The adapter read the engine's structured output and its known failure messages;
        // what is left in the tail is not evidence of auth or quota trouble.
        outcome.fail(
            Classification::EngineError,
            format!("exited with code {code}: {tail}"),
        );
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credentials_say_how_to_give_them() {
        let mut env = BTreeMap::from([("HOME".to_owned(), "/nonexistent".to_owned())]);
        let missing = missing_credentials(EngineKind::Codex, &env, &[]).unwrap();
        assert!(matches!(
            missing,
            super::super::CredentialsError::NotFound {
                kind: EngineKind::Codex,
                ..
            }
        ));
        assert_eq!(
            missing.to_string(),
            "no credentials found: set OPENAI_API_KEY (passed through `env` in the profile) or \
             run `codex login`"
        );
        env.insert("OPENAI_API_KEY".into(), "k".into());
        assert_eq!(missing_credentials(EngineKind::Codex, &env, &[]), None);
        assert_eq!(missing_credentials(EngineKind::Command, &env, &[]), None);
    }

    #[test]
    fn a_failed_probe_says_what_ran_and_how_it_ended() {
        let exited = ProbeError::Exited {
            args: "--help".into(),
            code: Some(2),
            tail: "unknown flag".into(),
        };
        assert_eq!(
            exited.to_string(),
            "`--help` exited with Some(2): unknown flag"
        );
        let slow = ProbeError::TimedOut {
            args: "--version".into(),
        };
        assert_eq!(
            slow.to_string(),
            format!("`--version` did not finish within {PROBE_TIMEOUT:?}")
        );
    }
}
