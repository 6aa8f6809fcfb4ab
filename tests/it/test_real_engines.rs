//! The REAL codex, claude, opencode and gemini CLIs run through godzilla's engine adapters
//! (`godzilla::engines`) against the test suite's own mock model server (`mock_llm`) on
//! 127.0.0.1 (owned by the engines work).
//!
//! For each engine: the file the model asked to write appears in the worktree, the final message
//! and the token usage the mock reported are recorded in the `EngineOutcome`, and a 401, a 500
//! and an unreachable server each end in the right classification within a bounded time.
//!
//! The CLIs come from `.ci/install-engines.sh` (pinned versions), found in
//! `$GODZILLA_ENGINES_DIR` (default `<repo>/.ci/engines/node_modules/.bin`). Every test here is
//! `#[ignore]`d with a message naming the install script, so a plain `cargo test` lists them as
//! ignored instead of passing them silently; `.ci/run` runs them with `--include-ignored`, and
//! then a missing CLI fails the test.
//!
//! Every run gets a fresh HOME / CODEX_HOME / XDG dirs in a temp dir and reaches the mock only
//! through the adapter's own API: `EngineRequest::env` for variables and the profile's `args`
//! for flags, exactly as a user's `[engines.NAME]` profile would. Runs are serialized: each CLI
//! is heavy (claude is a 400 MB binary, opencode a bun runtime) and the CI machine has 2 cores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use godzilla::config::EngineProfile;
use godzilla::engines::registry::{Registry, RegistryOptions};
use godzilla::engines::{Classification, EngineKind, EngineRequest, EngineRun, Phase, Usage};
use serde_json::json;

use crate::mock_llm::{self, MockLlm, MockScript, Protocol, Reply};
use crate::support::TestRepo;

const FILE_NAME: &str = "hello_from_mock.txt";
/// Quotes, `$(…)` and backticks: the content must arrive byte for byte, nothing executed.
const FILE_CONTENT: &str =
    "written by the mock model\nline 2: 'quoted' $(touch pwned) `nor this`\n";
const FINAL_TEXT: &str = "MOCK_DONE: wrote hello_from_mock.txt";
const PROMPT: &str = "Create the file hello_from_mock.txt with the content you are given.";
/// The API key every engine is given; the mock checks it arrives.
const API_KEY: &str = "sk-mock-godzilla-test-key";
const MODEL: &str = "mock-model";

/// Wall-clock limit of a run that should succeed in seconds (opencode takes ~3 s here).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// Wall-clock limit of failure runs: every failure below must be classified before this.
const FAIL_TIMEOUT: Duration = Duration::from_secs(90);
/// Stall watchdog for failure runs. codex never exits while its server refuses connections (it
/// prints "Reconnecting…", which the adapter does not count as progress), so the watchdog is
/// what ends that run; it must stay well below [`FAIL_TIMEOUT`].
const FAIL_STALL: Duration = Duration::from_secs(20);

/// One real CLI run at a time (see the module doc).
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Clone, Copy, Debug)]
enum Server {
    /// The mock answers with the script; `Some(status)` injects that HTTP status.
    Mock(Option<u16>),
    /// Nothing listens on the port.
    Closed,
}

/// The directory holding the CLIs (`.bin` of the npm prefix `.ci/install-engines.sh` fills).
#[allow(
    clippy::disallowed_methods,
    reason = "tests read their own configuration variables"
)]
pub(crate) fn engines_dir() -> PathBuf {
    match std::env::var_os("GODZILLA_ENGINES_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/engines/node_modules/.bin"),
    }
}

/// The CLI's path. These tests only run when asked for (`--include-ignored`), so a missing CLI
/// is a failure, never a silent pass.
pub(crate) fn locate(bin: &str) -> Option<PathBuf> {
    let path = engines_dir().join(bin);
    assert!(
        path.is_file(),
        "`{bin}` is missing at {}; install the engines with `.ci/install-engines.sh` or set \
         GODZILLA_ENGINES_DIR",
        path.display()
    );
    Some(path)
}

/// The host PATH (node must be on it: codex and gemini are node scripts), with the engines
/// directory first.
#[allow(
    clippy::disallowed_methods,
    reason = "the child needs the host PATH to find node"
)]
fn host_path() -> String {
    let host = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    format!("{}:{host}", engines_dir().display())
}

#[derive(Clone, Copy, Debug)]
struct Case {
    kind: EngineKind,
    bin: &'static str,
    protocol: Protocol,
}

const CODEX: Case = Case {
    kind: EngineKind::Codex,
    bin: "codex",
    protocol: Protocol::Responses,
};
const CLAUDE: Case = Case {
    kind: EngineKind::Claude,
    bin: "claude",
    protocol: Protocol::Anthropic,
};
const OPENCODE: Case = Case {
    kind: EngineKind::Opencode,
    bin: "opencode",
    protocol: Protocol::ChatCompletions,
};
const GEMINI: Case = Case {
    kind: EngineKind::Gemini,
    bin: "gemini",
    protocol: Protocol::Gemini,
};

/// How one CLI is pointed at a loopback server with an isolated home: the profile `args` and
/// the request `env` (what `run_engines_against_mock.sh` does by hand), and the model name.
struct Recipe {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    model: String,
}

/// Writes a config file the CLI reads from its isolated home.
#[allow(
    clippy::disallowed_methods,
    reason = "test fixture in a temp dir, not godzilla state"
)]
fn write_fixture(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create fixture dir");
    std::fs::write(path, text).expect("write fixture");
}

fn recipe(case: Case, base_url: &str, home: &Path) -> Recipe {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut set = |k: &str, v: &str| env.insert(k.to_owned(), v.to_owned());
    let dir = |sub: &str| {
        let p = home.join(sub);
        std::fs::create_dir_all(&p).expect("create isolated dir");
        p.display().to_string()
    };
    // Nothing of the user's (or the machine's) config, auth or caches leaks in, and nothing the
    // CLI writes leaks out.
    set("HOME", &home.display().to_string());
    set("XDG_CONFIG_HOME", &dir(".config"));
    set("XDG_DATA_HOME", &dir(".local/share"));
    set("XDG_STATE_HOME", &dir(".local/state"));
    set("XDG_CACHE_HOME", &dir(".cache"));
    set("NO_COLOR", "1");
    let mut args = Vec::new();
    let mut model = MODEL.to_owned();
    match case.kind {
        EngineKind::Codex => {
            // `OPENAI_BASE_URL` is ignored by codex 0.169 and the built-in provider tries a
            // websocket first, so a custom provider is declared with `-c` overrides; zero
            // retries make a 500 fail at once. The key reaches it through `env_key`.
            set("CODEX_HOME", &dir(".codex"));
            set("MOCK_API_KEY", API_KEY);
            let provider = format!(
                "model_providers.mock={{name=\"Mock\",base_url=\"{base_url}/v1\",\
                 env_key=\"MOCK_API_KEY\",wire_api=\"responses\",request_max_retries=0,\
                 stream_max_retries=0}}"
            );
            for a in ["-c", "model_provider=mock", "-c", &provider] {
                args.push(a.to_owned());
            }
        }
        EngineKind::Claude => {
            // Claude appends `/v1/messages` itself. Fail-fast retries are the adapter's job.
            set("ANTHROPIC_BASE_URL", base_url);
            set("ANTHROPIC_API_KEY", API_KEY);
        }
        EngineKind::Opencode => {
            // An openai-compatible provider speaks Chat Completions to the mock. The npm
            // registry is pointed at a closed port: opencode otherwise fetches a plugin from
            // registry.npmjs.org at start-up, which CI cannot reach.
            let config = json!({
                "$schema": "https://opencode.ai/config.json",
                "model": "mock/mock-model",
                "provider": { "mock": {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "Mock",
                    "options": { "baseURL": format!("{base_url}/v1"), "apiKey": "{env:MOCK_API_KEY}" },
                    "models": { "mock-model": { "name": "Mock Model", "tool_call": true } },
                } },
                "autoupdate": false,
                "share": "disabled",
            });
            set("OPENCODE_CONFIG_CONTENT", &config.to_string());
            set("MOCK_API_KEY", API_KEY);
            let dead = format!("http://127.0.0.1:{}/", mock_llm::closed_port());
            set("npm_config_registry", &dead);
            model = "mock/mock-model".to_owned();
        }
        EngineKind::Gemini => {
            // GOOGLE_GEMINI_BASE_URL alone selects the "gateway" auth type, which headless mode
            // rejects (exit 41); the settings file selects API-key auth instead. gemini retries
            // a 5xx 10 times with a 5-30 s backoff whatever Retry-After says, and only this
            // setting shortens that (the adapter has no flag or variable for it).
            let settings = json!({
                "security": { "auth": { "selectedType": "gemini-api-key" } },
                "privacy": { "usageStatisticsEnabled": false },
                "general": { "maxAttempts": 1 },
            });
            write_fixture(&home.join(".gemini/settings.json"), &settings.to_string());
            set("GOOGLE_GEMINI_BASE_URL", base_url);
            set("GEMINI_API_KEY", API_KEY);
        }
        other => panic!("{other} is not a real CLI engine"),
    }
    Recipe { args, env, model }
}

/// Everything one run leaves for the assertions.
struct Ran {
    run: EngineRun,
    elapsed: Duration,
    worktree: TestRepo,
    mock: Option<MockLlm>,
    _tmp: tempfile::TempDir,
}

impl Ran {
    /// Context for assertion messages: the outcome, the CLI's output and the mock's log.
    fn context(&self) -> String {
        let t = &self.run.transcript;
        let tail = |s: &str| {
            s.chars()
                .rev()
                .take(4000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>()
        };
        format!(
            "outcome: {:#?}\nelapsed: {:?}\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}\n--- mock\n{}",
            self.run.outcome,
            self.elapsed,
            tail(&t.stdout),
            tail(&t.stderr),
            self.mock
                .as_ref()
                .map(MockLlm::summary)
                .unwrap_or_else(|| "(no server)".into()),
        )
    }

    fn mock(&self) -> &MockLlm {
        self.mock.as_ref().expect("a mock server was running")
    }
}

/// Runs the real CLI of `case` through its adapter in a fresh repository against `server`.
/// `None` when the CLI is not installed (outside CI).
fn run(case: Case, server: Server, timeout: Duration, stall: Duration) -> Option<Ran> {
    let bin = locate(case.bin)?;
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let worktree = TestRepo::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let file = worktree.root.join(FILE_NAME);
    let mock = match server {
        Server::Mock(status) => Some(MockLlm::start(MockScript {
            // Absolute: claude's Write tool accepts nothing else, and it is inside the worktree.
            file_path: file.display().to_string(),
            file_content: FILE_CONTENT.to_owned(),
            final_text: FINAL_TEXT.to_owned(),
            status,
        })),
        Server::Closed => None,
    };
    let base_url = match &mock {
        Some(m) => m.base_url(),
        None => format!("http://127.0.0.1:{}", mock_llm::closed_port()),
    };
    let recipe = recipe(case, &base_url, &home);
    let profile = EngineProfile {
        kind: Some(case.kind.as_str().to_owned()),
        command: Some(bin.display().to_string()),
        args: recipe.args,
        ..EngineProfile::default()
    };
    let name = case.kind.as_str().to_owned();
    let options = RegistryOptions {
        host_env: BTreeMap::from([
            ("PATH".to_owned(), host_path()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ]),
        ..RegistryOptions::default()
    };
    let registry = Registry::new(&BTreeMap::from([(name.clone(), profile)]), options)
        .expect("registry with the test profile");
    let engine = registry.get(&name).expect("the test profile is registered");
    let request = EngineRequest {
        label: format!("real-engines/{name}"),
        prompt: PROMPT.to_owned(),
        workdir: worktree.root.clone(),
        model: Some(recipe.model),
        phase: Phase::Exec,
        output_schema: None,
        timeout,
        stall_timeout: stall,
        scratch_dir: scratch,
        env: recipe.env,
        group_lock: None,
    };
    let started = Instant::now();
    let run = engine
        .execute(&request, &mut |_, _| {})
        .expect("the engine ran");
    // Shown with --nocapture (and on failure): how long each real CLI took.
    eprintln!(
        "{name} against {server:?}: {:?} in {:.1?}",
        run.outcome.classification,
        started.elapsed()
    );
    Some(Ran {
        run,
        elapsed: started.elapsed(),
        worktree,
        mock,
        _tmp: tmp,
    })
}

/// What the adapter must record: the mock's own per-call numbers summed over the agent calls
/// (helper calls such as opencode's title generation are not the agent's), in godzilla's terms:
/// input includes cached tokens and output includes reasoning tokens, as in the OpenAI and
/// Anthropic APIs, so that `Usage::total()` equals what the provider bills and what the CLIs
/// themselves print as their total.
fn expected_usage(mock: &MockLlm) -> Usage {
    let sent = mock.agent_usage();
    Usage {
        input: sent.input,
        cached: sent.cached,
        output: sent.output,
        reasoning: sent.reasoning,
    }
}

fn check_success(case: Case) {
    let Some(ran) = run(case, Server::Mock(None), RUN_TIMEOUT, RUN_TIMEOUT) else {
        return;
    };
    let ctx = ran.context();
    let out = &ran.run.outcome;
    let mock = ran.mock();
    assert_eq!(out.classification, Classification::Ok, "{ctx}");
    assert_eq!(out.exit_code, Some(0), "{ctx}");
    // (a) the model's tool call was executed by the CLI, in the worktree, byte for byte.
    let written = std::fs::read_to_string(ran.worktree.root.join(FILE_NAME))
        .unwrap_or_else(|e| panic!("{FILE_NAME} was not written ({e})\n{ctx}"));
    assert_eq!(written, FILE_CONTENT, "{ctx}");
    assert!(
        !ran.worktree.root.join("pwned").exists(),
        "content was executed\n{ctx}"
    );
    // The scripted conversation really happened: one tool call, then the final turn.
    let agent: Vec<Reply> = mock
        .model_calls()
        .into_iter()
        .filter(|r| !r.tools.is_empty())
        .map(|r| r.reply)
        .collect();
    assert!(
        matches!(agent.as_slice(), [Reply::ToolCall(_), Reply::FinalText]),
        "{ctx}"
    );
    assert!(
        mock.model_calls()
            .iter()
            .all(|r| r.protocol == Some(case.protocol)),
        "{ctx}"
    );
    // The key given in the request env reached the server.
    assert!(
        mock.model_calls()
            .iter()
            .all(|r| r.headers.iter().any(|(_, v)| v.contains(API_KEY))),
        "the API key did not reach the server\n{ctx}"
    );
    // (b) the final message and the usage the mock reported are recorded.
    assert_eq!(out.final_message.as_deref(), Some(FINAL_TEXT), "{ctx}");
    assert_eq!(
        out.usage,
        expected_usage(mock),
        "usage must be the mock's, input including cached and output including reasoning\n{ctx}"
    );
    assert!(
        out.session_id.as_deref().is_some_and(|s| !s.is_empty()),
        "{ctx}"
    );
    assert_eq!(out.error, None, "{ctx}");
}

/// Runs against an injected `status` and checks the classification, that the failure came
/// from the server (not from a broken setup) and that it was classified within the timeout.
fn check_status(case: Case, status: u16, want: &[Classification]) {
    let Some(ran) = run(case, Server::Mock(Some(status)), FAIL_TIMEOUT, FAIL_STALL) else {
        return;
    };
    let ctx = ran.context();
    let out = &ran.run.outcome;
    assert!(
        want.contains(&out.classification),
        "want one of {want:?}\n{ctx}"
    );
    assert!(ran.elapsed < FAIL_TIMEOUT, "{ctx}");
    assert!(
        ran.mock()
            .model_calls()
            .iter()
            .any(|r| r.reply == Reply::InjectedStatus(status)),
        "the mock never answered {status}: the failure is not the server's\n{ctx}"
    );
    assert!(out.error.as_deref().is_some_and(|e| !e.is_empty()), "{ctx}");
    assert_eq!(out.final_message, None, "{ctx}");
    assert!(!ran.worktree.root.join(FILE_NAME).exists(), "{ctx}");
}

fn check_unreachable(case: Case) {
    let Some(ran) = run(case, Server::Closed, FAIL_TIMEOUT, FAIL_STALL) else {
        return;
    };
    let ctx = ran.context();
    let out = &ran.run.outcome;
    let want = [Classification::EngineError, Classification::Timeout];
    assert!(
        want.contains(&out.classification),
        "want one of {want:?}\n{ctx}"
    );
    // The runner's limits bound it: the stall watchdog or the wall clock, plus the kill grace.
    assert!(
        ran.elapsed < FAIL_TIMEOUT + Duration::from_secs(15),
        "{ctx}"
    );
    assert!(out.error.as_deref().is_some_and(|e| !e.is_empty()), "{ctx}");
    assert_eq!(out.final_message, None, "{ctx}");
}

const AUTH: &[Classification] = &[Classification::Auth];
/// A 5xx is the engine's error. (Each CLI's retries are cut short in [`recipe`] or by the
/// adapter, so none of them is still retrying when the watchdog fires.)
const SERVER_ERROR: &[Classification] = &[Classification::EngineError];

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_codex_writes_the_file_and_records_message_and_usage() {
    check_success(CODEX);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_codex_401_is_auth() {
    check_status(CODEX, 401, AUTH);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_codex_500_is_engine_error() {
    check_status(CODEX, 500, SERVER_ERROR);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_codex_unreachable_server_is_bounded() {
    check_unreachable(CODEX);
}

/// Issue 11.5: with the production stall watchdog (600 s), codex's reconnect loop against a
/// closed port is still classified within seconds, by the adapter itself.
#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_codex_unreachable_is_classified_within_seconds() {
    let long = Duration::from_secs(600);
    let Some(ran) = run(CODEX, Server::Closed, long, long) else {
        return;
    };
    let ctx = ran.context();
    assert_eq!(
        ran.run.outcome.classification,
        Classification::EngineError,
        "{ctx}"
    );
    assert!(ran.elapsed < Duration::from_secs(30), "{ctx}");
    assert!(
        ran.run
            .outcome
            .error
            .as_deref()
            .is_some_and(|e| e.contains("cannot reach its server")),
        "{ctx}"
    );
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_claude_writes_the_file_and_records_message_and_usage() {
    check_success(CLAUDE);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_claude_401_is_auth() {
    check_status(CLAUDE, 401, AUTH);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_claude_500_is_engine_error() {
    check_status(CLAUDE, 500, SERVER_ERROR);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_claude_unreachable_server_is_bounded() {
    check_unreachable(CLAUDE);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_opencode_writes_the_file_and_records_message_and_usage() {
    check_success(OPENCODE);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_opencode_401_is_auth() {
    check_status(OPENCODE, 401, AUTH);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_opencode_500_is_engine_error() {
    check_status(OPENCODE, 500, SERVER_ERROR);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_opencode_unreachable_server_is_bounded() {
    check_unreachable(OPENCODE);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_gemini_writes_the_file_and_records_message_and_usage() {
    check_success(GEMINI);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_gemini_401_is_auth() {
    check_status(GEMINI, 401, AUTH);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_gemini_500_is_engine_error() {
    check_status(GEMINI, 500, SERVER_ERROR);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_gemini_unreachable_server_is_bounded() {
    check_unreachable(GEMINI);
}

/// A server that accepts connections and never answers: the CLI is mid-request for as long as
/// the test wants. Counts the connections it accepted; stops when dropped.
struct BlackHole {
    port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BlackHole {
    fn start() -> Self {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (a, s) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        held.push(conn);
                        a.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self {
            port,
            accepted,
            stop,
        }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Processes carrying `marker` in their environment, plus every process in their groups.
fn marked_processes(marker: &str) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    let mut groups = std::collections::BTreeSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    let mut all = Vec::new();
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let rest = stat.rsplit(')').next().unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        let pgid: i32 = fields.get(2).and_then(|f| f.parse().ok()).unwrap_or(0);
        let cmd = std::fs::read(entry.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let marked = String::from_utf8_lossy(&environ).contains(marker);
        if marked {
            groups.insert(pgid);
        }
        all.push((pid, pgid, marked, cmd));
    }
    for (pid, pgid, marked, cmd) in all {
        if marked || groups.contains(&pgid) {
            found.push((pid, cmd));
        }
    }
    found
}

/// Issue 11.3 with a real CLI: `godzilla protocol run` drives `case` against a server that
/// never answers; SIGTERM to godzilla once the CLI's request is in flight; 3 s later no
/// process of the engine (marked by a variable in its environment, and everything in its
/// process groups) may run, and godzilla must have exited 143.
fn check_sigterm_leaves_nothing(case: Case) {
    let Some(bin) = locate(case.bin) else {
        return;
    };
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let hole = BlackHole::start();
    let repo = TestRepo::new();
    let home = repo.home().join("engine-home");
    let base_url = format!("http://127.0.0.1:{}", hole.port);
    let recipe = recipe(case, &base_url, &home);
    let marker = format!("GODZILLA_TEST_MARK={}-{}", case.bin, std::process::id());
    let mut env: Vec<String> = recipe.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.push(marker.clone());
    let quote = |s: &str| serde_json::to_string(s).expect("string");
    let list = |items: &[String]| {
        items
            .iter()
            .map(|s| quote(s))
            .collect::<Vec<_>>()
            .join(", ")
    };
    repo.godzilla(&["init", "--engine", "agent"]).expect(0);
    let mut config = repo.read(".godzilla/config.toml");
    config.push_str(&format!(
        "\n[engines.agent]\nkind = \"{}\"\ncommand = {}\nmodel = {}\nargs = [{}]\nenv = [{}]\n",
        case.kind.as_str(),
        quote(&bin.display().to_string()),
        quote(&recipe.model),
        list(&recipe.args),
        list(&env),
    ));
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("init");
    repo.godzilla(&["allow"]).expect(0);
    let (id, _wt) = repo.new_protocol("sigterm", &[("01-a.md", "# A\nWrite a file.\n")]);

    let mut cmd = std::process::Command::new(crate::support::godzilla_bin());
    cmd.args(["protocol", "run", &id])
        .current_dir(&repo.root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    crate::support::hermetic(&mut cmd, repo.home());
    cmd.env("PATH", host_path());
    let mut child = cmd.spawn().expect("spawn godzilla");
    let deadline = Instant::now() + Duration::from_secs(60);
    while hole.accepted.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let out = child.wait_with_output().expect("output");
            panic!(
                "godzilla ended ({status:?}) before {} reached the server: {}",
                case.bin,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} never reached the server",
            case.bin
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = marked_processes(&marker);
    assert!(!before.is_empty(), "no process of {} found", case.bin);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    let sent = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("kill");
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(20),
            "godzilla did not exit"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let exited = sent.elapsed();
    std::thread::sleep(Duration::from_secs(3).saturating_sub(sent.elapsed()));
    let after = marked_processes(&marker);
    let stderr = child
        .wait_with_output()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    eprintln!(
        "{}: {} processes before SIGTERM, {} three seconds after; godzilla exited {:?} in {:.1?}",
        case.bin,
        before.len(),
        after.len(),
        status.code(),
        exited
    );
    // Well inside the runner's kill grace: the engine stopped on SIGTERM (it starts with no
    // blocked signals), not on the SIGKILL that follows the grace.
    assert!(
        exited < godzilla::engines::runner::DEFAULT_KILL_GRACE - Duration::from_secs(1),
        "{} took {exited:?} to stop after SIGTERM",
        case.bin
    );
    assert_eq!(
        after,
        Vec::new(),
        "processes of {} outlived godzilla",
        case.bin
    );
    assert_eq!(status.code(), Some(143), "{stderr}");
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_codex_sigterm_leaves_no_process() {
    check_sigterm_leaves_nothing(CODEX);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_claude_sigterm_leaves_no_process() {
    check_sigterm_leaves_nothing(CLAUDE);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_opencode_sigterm_leaves_no_process() {
    check_sigterm_leaves_nothing(OPENCODE);
}

#[test]
#[ignore = "needs the real engine CLIs: run .ci/install-engines.sh, then cargo test -- --include-ignored"]
fn test_real_gemini_sigterm_leaves_no_process() {
    check_sigterm_leaves_nothing(GEMINI);
}
