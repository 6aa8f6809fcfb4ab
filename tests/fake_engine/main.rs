//! `fake-engine`: a scripted stand-in for an agent CLI, built only for tests (feature
//! `test-fakes`).
//!
//! The script is a JSON file named by `GODZILLA_FAKE_ENGINE_SCRIPT` (godzilla clears the
//! environment, so the engine profile must pass that variable through or set it with
//! `env = ["GODZILLA_FAKE_ENGINE_SCRIPT=/path"]`). It holds a list of invocations, each a list
//! of actions; a sidecar `<script>.counter` file makes each call consume the next invocation.
//! Every call appends `{argv, cwd, stdin_sha256, stdin_len, env_keys, invocation}` to
//! `calls.jsonl` next to the script, so tests can assert how godzilla called it.
//!
//! Actions (externally tagged JSON): `{"expect_arg": "x"}` or `{"expect_arg": ["--flag",
//! "value"]}` (consecutive), `{"expect_no_arg_contains": "x"}`, `{"expect_stdin_contains":
//! "x"}` (exit 97 on mismatch), `{"write": {"path", "content"}}`, `{"delete": "path"}`,
//! `{"stdout_line": "x"}`, `{"stdout_json": {...}}`, `{"stderr_line": "x"}`, `{"echo_env":
//! ["NAME", ...]}` (prints `NAME=value` on both streams), `{"sleep_ms": n}`,
//! `{"spawn_grandchild_sleep": "pid-file"}`, `{"git": ["arg", ...]}` (runs git in the working
//! directory, as an agent may; exit 97 when it fails), `{"repeat_stdout_line": {"line", "interval_ms"}}`
//! (forever), `{"exit": n}`, `"abort"`, `"garbage"`, `"hang"`, and `{"emit_as": {"engine":
//! "claude"|"codex"|"opencode"|"gemini", "final_message", "usage", "cost_usd", "session_id",
//! "structured", "error": {"status", "message"}}}` which prints that engine's real output format
//! (and, for errors, makes the run end with that engine's exit code).
//!
//! `--version` and `--help` anywhere in argv answer without a script, for `doctor` probes, and
//! so do the login-status commands (`login status`, `auth status`, `auth list`).
#![allow(
    clippy::disallowed_methods,
    reason = "a test helper process: it reads its own environment, writes files and spawns"
)]

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

#[derive(Deserialize)]
#[serde(untagged)]
enum Script {
    Wrapped { invocations: Vec<Vec<Action>> },
    Bare(Vec<Vec<Action>>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Action {
    ExpectArg(OneOrMany),
    ExpectNoArgContains(String),
    ExpectStdinContains(String),
    Write { path: String, content: String },
    Delete(String),
    StdoutLine(String),
    StdoutJson(Value),
    StderrLine(String),
    EchoEnv(Vec<String>),
    SleepMs(u64),
    SpawnGrandchildSleep(String),
    Git(Vec<String>),
    RepeatStdoutLine { line: String, interval_ms: u64 },
    Exit(i32),
    Abort,
    Garbage,
    Hang,
    EmitAs(Emit),
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Emit {
    engine: String,
    final_message: String,
    usage: Usage,
    cost_usd: f64,
    session_id: Option<String>,
    structured: Option<Value>,
    error: Option<EmitError>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(default, deny_unknown_fields)]
struct Usage {
    input: u64,
    cached: u64,
    output: u64,
    reasoning: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmitError {
    status: u16,
    message: String,
}

const HELP: &str = "fake-engine: every flag the godzilla adapters use\n\
  exec --json --skip-git-repo-check --cd --model --sandbox --output-last-message --output-schema\n\
  --print --output-format --verbose --permission-mode --json-schema\n\
  run --format --dir --file --print-logs --approval-mode --skip-trust --prompt\n";

/// The login-status commands `doctor` runs, answered as the real CLIs answer them, without a
/// script: logged in when the engine's login file exists under its home (or, for claude, when
/// `ANTHROPIC_API_KEY` is set).
fn login_status(argv: &[String]) -> Option<ExitCode> {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    match argv.as_slice() {
        ["login", "status"] => {
            let codex_home =
                std::env::var_os("CODEX_HOME").map_or_else(|| home.join(".codex"), PathBuf::from);
            // A login that expired or was revoked: the file is there, the CLI says no.
            let revoked = std::env::var_os("GODZILLA_FAKE_LOGGED_OUT").is_some();
            if codex_home.join("auth.json").is_file() && !revoked {
                println!("Logged in using an API key - sk-fake***12345");
                Some(ExitCode::SUCCESS)
            } else {
                println!("Not logged in");
                Some(ExitCode::from(1))
            }
        }
        ["auth", "status"] => {
            let logged_in = std::env::var_os("ANTHROPIC_API_KEY").is_some_and(|k| !k.is_empty())
                || home.join(".claude/.credentials.json").is_file();
            println!("{}", json!({"loggedIn": logged_in}));
            Some(ExitCode::from(u8::from(!logged_in)))
        }
        ["auth", "list"] => {
            let n = u8::from(home.join(".local/share/opencode/auth.json").is_file());
            println!("Credentials ~/.local/share/opencode/auth.json\n{n} credentials");
            Some(ExitCode::SUCCESS)
        }
        _ => None,
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if argv.iter().any(|a| a == "--version") {
        println!("fake-engine 0.0.0-test");
        return ExitCode::SUCCESS;
    }
    if argv.iter().any(|a| a == "--help") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if let Some(code) = login_status(&argv) {
        return code;
    }
    let Some(script_path) = std::env::var_os("GODZILLA_FAKE_ENGINE_SCRIPT").map(PathBuf::from)
    else {
        eprintln!(
            "fake-engine: GODZILLA_FAKE_ENGINE_SCRIPT is not set (pass it through the profile env)"
        );
        return ExitCode::from(96);
    };
    // A directory holds one script per working directory (`<dir>/<cwd name>/script.json`), for
    // tests that run several protocols at once from one config.
    let script_path = if script_path.is_dir() {
        let cwd = std::env::current_dir().unwrap_or_default();
        let name = cwd.file_name().map(|n| n.to_owned()).unwrap_or_default();
        script_path.join(name).join("script.json")
    } else {
        script_path
    };
    let mut stdin = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut stdin) {
        eprintln!("fake-engine: reading stdin: {e}");
    }
    match run(&script_path, &argv, &stdin) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("fake-engine: {message}");
            ExitCode::from(98)
        }
    }
}

fn run(script_path: &Path, argv: &[String], stdin: &[u8]) -> Result<u8, String> {
    let text = std::fs::read_to_string(script_path)
        .map_err(|e| format!("cannot read {}: {e}", script_path.display()))?;
    let invocations = match serde_json::from_str::<Script>(&text)
        .map_err(|e| format!("bad script {}: {e}", script_path.display()))?
    {
        Script::Wrapped { invocations } | Script::Bare(invocations) => invocations,
    };
    let counter_path = PathBuf::from(format!("{}.counter", script_path.display()));
    let index: usize = std::fs::read_to_string(&counter_path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    std::fs::write(&counter_path, (index + 1).to_string())
        .map_err(|e| format!("cannot write {}: {e}", counter_path.display()))?;
    record_call(script_path, argv, stdin, index)?;
    let actions = invocations
        .get(index)
        .ok_or_else(|| format!("no invocation #{index} left in the script"))?;
    let mut exit = 0u8;
    for action in actions {
        if let Some(code) = apply(action, argv, stdin, &mut exit)? {
            return Ok(code);
        }
    }
    Ok(exit)
}

fn record_call(
    script_path: &Path,
    argv: &[String],
    stdin: &[u8],
    index: usize,
) -> Result<(), String> {
    let calls = script_path.with_file_name("calls.jsonl");
    let env_keys: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let line = json!({
        "argv": argv,
        "cwd": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        "stdin_sha256": hex(&Sha256::digest(stdin)),
        "stdin_len": stdin.len(),
        "env_keys": env_keys,
        "invocation": index,
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&calls)
        .map_err(|e| format!("cannot open {}: {e}", calls.display()))?;
    writeln!(file, "{line}").map_err(|e| e.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn out(line: &str) {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").ok();
    stdout.flush().ok();
}

fn err(line: &str) {
    let mut stderr = std::io::stderr().lock();
    writeln!(stderr, "{line}").ok();
    stderr.flush().ok();
}

/// Runs one action; `Some(code)` ends the invocation with that exit code.
fn apply(
    action: &Action,
    argv: &[String],
    stdin: &[u8],
    exit: &mut u8,
) -> Result<Option<u8>, String> {
    match action {
        Action::ExpectArg(expected) => {
            let expected = match expected {
                OneOrMany::One(a) => vec![a.clone()],
                OneOrMany::Many(v) => v.clone(),
            };
            if !argv
                .windows(expected.len())
                .any(|w| w == expected.as_slice())
            {
                err(&format!(
                    "fake-engine: expected argv to contain {expected:?}\n  argv: {argv:?}"
                ));
                return Ok(Some(97));
            }
        }
        Action::ExpectNoArgContains(needle) => {
            if let Some(a) = argv.iter().find(|a| a.contains(needle.as_str())) {
                err(&format!("fake-engine: argument {a:?} contains {needle:?}"));
                return Ok(Some(97));
            }
        }
        Action::ExpectStdinContains(needle) => {
            let text = String::from_utf8_lossy(stdin);
            if !text.contains(needle.as_str()) {
                let head: String = text.chars().take(200).collect();
                err(&format!(
                    "fake-engine: expected stdin to contain {needle:?}\n  stdin starts: {head:?}"
                ));
                return Ok(Some(97));
            }
        }
        Action::Write { path, content } => {
            let path = Path::new(path);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::write(path, content).map_err(|e| format!("write {}: {e}", path.display()))?;
        }
        Action::Delete(path) => {
            std::fs::remove_file(path).map_err(|e| format!("delete {path}: {e}"))?;
        }
        Action::StdoutLine(line) => out(line),
        Action::StdoutJson(value) => out(&value.to_string()),
        Action::StderrLine(line) => err(line),
        Action::EchoEnv(names) => {
            for name in names {
                if let Some(value) = std::env::var_os(name) {
                    let line = format!("{name}={}", value.to_string_lossy());
                    out(&line);
                    err(&line);
                }
            }
        }
        Action::SleepMs(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        Action::SpawnGrandchildSleep(pid_file) => {
            let child = std::process::Command::new("sleep")
                .arg("600")
                .spawn()
                .map_err(|e| format!("spawn sleep: {e}"))?;
            std::fs::write(pid_file, child.id().to_string()).map_err(|e| e.to_string())?;
            // Deliberately not waited for: the runner must kill it with the group.
            std::mem::forget(child);
        }
        Action::Git(args) => {
            let out = std::process::Command::new("git")
                .args(args)
                .output()
                .map_err(|e| format!("git: {e}"))?;
            if !out.status.success() {
                err(&format!(
                    "fake-engine: git {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
                return Ok(Some(97));
            }
        }
        Action::RepeatStdoutLine { line, interval_ms } => loop {
            out(line);
            std::thread::sleep(Duration::from_millis(*interval_ms));
        },
        Action::Exit(code) => return Ok(Some(u8::try_from(*code & 0xFF).unwrap_or(1))),
        Action::Abort => std::process::abort(),
        Action::Garbage => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(b"\xff\xfe\x00garbage \xc3\x28\n").ok();
            stdout.write_all(br#"{"type":"result","is_er"#).ok();
            stdout.flush().ok();
        }
        Action::Hang => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        Action::EmitAs(emit) => {
            if let Some(code) = emit_as(emit, argv)? {
                *exit = code;
            }
        }
    }
    Ok(None)
}

/// Prints `emit` in the named engine's format; returns the exit code that engine would use.
fn emit_as(e: &Emit, argv: &[String]) -> Result<Option<u8>, String> {
    let session = e
        .session_id
        .clone()
        .unwrap_or_else(|| "fake-session".to_owned());
    let u = e.usage;
    match e.engine.as_str() {
        "claude" => {
            out(&json!({"type": "system", "subtype": "init", "session_id": session, "model": "fake"}).to_string());
            let mut result = json!({
                "type": "result", "subtype": "success", "is_error": false,
                "result": e.final_message, "session_id": session, "num_turns": 1,
                "usage": {"input_tokens": u.input.saturating_sub(u.cached), "output_tokens": u.output,
                          "cache_read_input_tokens": u.cached, "cache_creation_input_tokens": 0},
                "total_cost_usd": e.cost_usd,
            });
            if let Some(s) = &e.structured {
                result["structured_output"] = s.clone();
            }
            if let Some(error) = &e.error {
                result["is_error"] = json!(true);
                result["api_error_status"] = json!(error.status);
                result["terminal_reason"] = json!("api_error");
                result["result"] = json!(format!("API Error: {} {}", error.status, error.message));
            }
            out(&result.to_string());
            Ok(e.error.as_ref().map(|_| 1))
        }
        "codex" => {
            out(&json!({"type": "thread.started", "thread_id": session}).to_string());
            out(&json!({"type": "turn.started"}).to_string());
            if let Some(error) = &e.error {
                let message = format!("unexpected status {} {}", error.status, error.message);
                out(&json!({"type": "error", "message": message}).to_string());
                out(&json!({"type": "turn.failed", "error": {"message": message}}).to_string());
                return Ok(Some(1));
            }
            out(&json!({"type": "item.completed", "item": {"id": "item_0", "type": "agent_message", "text": e.final_message}}).to_string());
            out(&json!({"type": "turn.completed", "usage": {"input_tokens": u.input, "cached_input_tokens": u.cached,
                "output_tokens": u.output, "reasoning_output_tokens": u.reasoning}}).to_string());
            if let Some(i) = argv.iter().position(|a| a == "-o") {
                let path = argv.get(i + 1).ok_or("-o without a path")?;
                std::fs::write(path, &e.final_message).map_err(|e| format!("write {path}: {e}"))?;
            }
            Ok(None)
        }
        "opencode" => {
            if let Some(error) = &e.error {
                out(&json!({"type": "error", "timestamp": 1, "sessionID": session,
                    "error": {"name": "APIError", "data": {"message": error.message, "statusCode": error.status, "isRetryable": false}}}).to_string());
                return Ok(Some(1));
            }
            out(
                &json!({"type": "step_start", "timestamp": 1, "sessionID": session, "part": {}})
                    .to_string(),
            );
            out(&json!({"type": "text", "timestamp": 2, "sessionID": session, "part": {"text": e.final_message}}).to_string());
            out(&json!({"type": "step_finish", "timestamp": 3, "sessionID": session, "part": {"reason": "stop",
                "tokens": {"input": u.input.saturating_sub(u.cached), "output": u.output, "reasoning": u.reasoning,
                           "cache": {"read": u.cached, "write": 0}}, "cost": e.cost_usd}}).to_string());
            Ok(None)
        }
        "gemini" => {
            if let Some(error) = &e.error {
                let doc = json!({"session_id": session, "error": {"type": "ApiError", "message": error.message, "code": error.status}});
                err(&serde_json::to_string_pretty(&doc).unwrap_or_default());
                return Ok(Some((error.status & 0xFF) as u8));
            }
            let doc = json!({"session_id": session, "response": e.final_message, "stats": {"models": {"fake": {
                "tokens": {"input": u.input.saturating_sub(u.cached), "prompt": u.input, "candidates": u.output,
                           "total": u.input + u.output, "cached": u.cached, "thoughts": u.reasoning, "tool": 0}}}}});
            out(&serde_json::to_string_pretty(&doc).unwrap_or_default());
            Ok(None)
        }
        other => Err(format!("emit_as: unknown engine {other:?}")),
    }
}
