//! Engine adapter tests with the fake engine, through the real registry, adapters and runner:
//! every classification, timeouts and the stall watchdog killing the whole process group, the
//! prompt reaching the engine byte-exact on stdin, and secrets never coming back out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use godzilla::config::EngineProfile;
use godzilla::engines::registry::{Registry, RegistryOptions};
use godzilla::engines::{
    Classification, Engine, EngineOutcome, EngineRequest, EngineRun, Error, Phase, Stream,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const SCRIPT_VAR: &str = "GODZILLA_FAKE_ENGINE_SCRIPT";

fn fake_engine() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fake-engine"))
}

/// A temp dir with a worktree, a scratch dir, a fake-engine script and a registry whose
/// engines (one per kind, named after it, plus `cmd`) all run the fake engine.
struct Fixture {
    dir: tempfile::TempDir,
    host_env: BTreeMap<String, String>,
    profiles: BTreeMap<String, EngineProfile>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let mut host_env = BTreeMap::new();
        host_env.insert(
            "PATH".to_owned(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_owned()),
        );
        host_env.insert(
            "HOME".to_owned(),
            dir.path().join("home").display().to_string(),
        );
        host_env.insert(
            SCRIPT_VAR.to_owned(),
            dir.path().join("script.json").display().to_string(),
        );
        host_env.insert("UNRELATED_VAR".to_owned(), "must-not-reach".to_owned());
        let mut fixture = Self {
            dir,
            host_env,
            profiles: BTreeMap::new(),
        };
        for kind in ["codex", "claude", "opencode", "gemini"] {
            fixture.profile(kind, kind, &[]);
        }
        fixture.profile("cmd", "command", &[]);
        fixture
    }

    fn profile(&mut self, name: &str, kind: &str, args: &[&str]) {
        self.profiles.insert(
            name.to_owned(),
            EngineProfile {
                kind: Some(kind.to_owned()),
                command: Some(fake_engine().display().to_string()),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                env: vec![SCRIPT_VAR.to_owned()],
                ..EngineProfile::default()
            },
        );
    }

    fn registry(&self) -> Registry {
        Registry::new(
            &self.profiles,
            RegistryOptions {
                host_env: self.host_env.clone(),
                kill_grace: Duration::from_millis(500),
                ..RegistryOptions::default()
            },
        )
        .unwrap()
    }

    fn engine(&self, name: &str) -> std::sync::Arc<dyn Engine> {
        self.registry().get(name).unwrap()
    }

    fn workdir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the script: one list of actions per expected call.
    fn script(&self, invocations: Value) {
        std::fs::write(self.path("script.json"), invocations.to_string()).unwrap();
        std::fs::remove_file(self.path("script.json.counter")).ok();
        std::fs::remove_file(self.path("calls.jsonl")).ok();
    }

    fn calls(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn request(&self, prompt: &str) -> EngineRequest {
        EngineRequest {
            label: "0001-demo/01-step/exec".to_owned(),
            prompt: prompt.to_owned(),
            workdir: self.workdir(),
            model: None,
            phase: Phase::Exec,
            output_schema: None,
            timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(30),
            scratch_dir: self.path("scratch"),
            env: BTreeMap::new(),
            group_lock: None,
        }
    }

    fn run(&self, engine: &str, req: &EngineRequest) -> EngineOutcome {
        self.execute(engine, req).outcome
    }

    fn execute(&self, engine: &str, req: &EngineRequest) -> EngineRun {
        self.engine(engine).execute(req, &mut |_, _| {}).unwrap()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `pid` no longer runs (gone, or a zombie waiting for an init that may not reap).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// Polls until `cond` holds or `limit` passes.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

fn read_pid(path: &Path) -> u32 {
    assert!(
        eventually(Duration::from_secs(5), || path.exists()),
        "no pid file"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn test_engines_ok_for_every_kind() {
    let f = Fixture::new();
    for kind in ["codex", "claude", "opencode", "gemini"] {
        f.script(json!([[
            {"write": {"path": "src/hello.txt", "content": "hi\n"}},
            {"emit_as": {"engine": kind, "final_message": format!("done by {kind}"),
                         "usage": {"input": 1200, "cached": 200, "output": 340, "reasoning": 0},
                         "cost_usd": 0.25, "session_id": format!("sess-{kind}")}}
        ]]));
        let out = f.run(kind, &f.request("Implement step s3"));
        assert_eq!(out.classification, Classification::Ok, "{kind}: {out:?}");
        assert_eq!(
            out.final_message.as_deref(),
            Some(&*format!("done by {kind}"))
        );
        assert_eq!(out.session_id.as_deref(), Some(&*format!("sess-{kind}")));
        assert_eq!(out.usage.input, 1200, "{kind}");
        assert_eq!(out.usage.cached, 200, "{kind}");
        assert_eq!(out.usage.output, 340, "{kind}");
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.argv[0], fake_engine().display().to_string());
        assert_eq!(
            std::fs::read_to_string(f.workdir().join("src/hello.txt")).unwrap(),
            "hi\n"
        );
        let calls = f.calls();
        assert_eq!(calls.len(), 1, "{kind}");
        assert_eq!(calls[0]["cwd"], f.workdir().display().to_string(), "{kind}");
        if kind == "opencode" {
            // No stdin for opencode: the prompt is an attached file.
            assert_eq!(calls[0]["stdin_len"], 0);
            assert_eq!(
                std::fs::read_to_string(f.path("scratch/prompt.md")).unwrap(),
                "Implement step s3"
            );
        } else {
            assert_eq!(
                calls[0]["stdin_sha256"],
                sha256_hex(b"Implement step s3"),
                "{kind}"
            );
        }
        std::fs::remove_file(f.workdir().join("src/hello.txt")).unwrap();
    }
}

#[test]
fn test_engines_claude_cost_and_structured_output() {
    let f = Fixture::new();
    f.script(json!([[
        {"expect_arg": ["--output-format", "stream-json"]},
        {"expect_arg": "--json-schema"},
        {"emit_as": {"engine": "claude", "final_message": "{\"ok\":true}", "cost_usd": 0.5,
                     "structured": {"ok": true}}}
    ]]));
    let mut req = f.request("plan it");
    req.phase = Phase::Planning;
    req.output_schema = Some(json!({"type": "object"}));
    let out = f.run("claude", &req);
    assert_eq!(out.classification, Classification::Ok, "{out:?}");
    assert_eq!(out.cost_usd, Some(0.5));
    assert_eq!(out.structured, Some(json!({"ok": true})));
}

#[test]
fn test_engines_http_failures_are_classified() {
    let f = Fixture::new();
    for kind in ["codex", "claude", "opencode", "gemini"] {
        for (status, class) in [
            (401, Classification::Auth),
            (429, Classification::RateLimit),
            (500, Classification::EngineError),
        ] {
            f.script(json!([[
                {"emit_as": {"engine": kind, "error": {"status": status, "message": "from the server"}}}
            ]]));
            let out = f.run(kind, &f.request("x"));
            assert_eq!(out.classification, class, "{kind} {status}: {out:?}");
            assert!(out.error.is_some(), "{kind} {status}");
            assert!(out.final_message.is_none(), "{kind} {status}");
        }
    }
}

#[test]
fn test_engines_gemini_exit_code_is_masked_status() {
    let f = Fixture::new();
    f.script(json!([[
        {"emit_as": {"engine": "gemini", "error": {"status": 401, "message": "bad key"}}}
    ]]));
    let out = f.run("gemini", &f.request("x"));
    assert_eq!(out.exit_code, Some(145));
    assert_eq!(out.classification, Classification::Auth);
}

#[test]
fn test_engines_command_prompt_file_and_aider_style_401() {
    let mut f = Fixture::new();
    f.profile(
        "aider",
        "command",
        &[
            "--yes-always",
            "--model",
            "{model}",
            "--message-file",
            "{prompt_file}",
        ],
    );
    f.script(json!([
        [
            {"expect_arg": "--message-file"},
            {"expect_no_arg_contains": "secret plan"},
            {"stdout_line": "Applied edit to a.txt"},
            {"stdout_line": "Tokens: 1.5k sent, 20 received. Cost: $0.02 message, $0.02 session."}
        ],
        [
            {"stdout_line": "litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key provided"},
            {"exit": 0}
        ]
    ]));
    let out = f.run("aider", &f.request("the secret plan"));
    assert_eq!(out.classification, Classification::Ok, "{out:?}");
    assert_eq!(out.usage.input, 1500);
    assert_eq!(out.cost_usd, Some(0.02));
    assert!(!out.argv.contains(&"--model".to_owned()), "{:?}", out.argv);
    let calls = f.calls();
    assert_eq!(calls[0]["stdin_len"], 0);
    let prompt_file = calls[0]["argv"][2].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(prompt_file).unwrap(),
        "the secret plan"
    );

    let out = f.run("aider", &f.request("again"));
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(out.classification, Classification::Auth, "{out:?}");
}

#[test]
fn test_engines_garbage_abort_and_empty_output_are_engine_errors() {
    let f = Fixture::new();
    for kind in ["codex", "claude", "opencode", "gemini"] {
        f.script(json!([["garbage"], ["abort"], [{"exit": 0}], [{"exit": 3}]]));
        for case in ["garbage", "abort", "empty", "exit 3"] {
            let out = f.run(kind, &f.request("x"));
            assert_eq!(
                out.classification,
                Classification::EngineError,
                "{kind} {case}: {out:?}"
            );
            assert!(out.error.is_some(), "{kind} {case}");
        }
    }
    // The command kind has no format to violate, but a crash is still an error.
    f.script(json!([["abort"]]));
    let out = f.run("cmd", &f.request("x"));
    assert_eq!(out.classification, Classification::EngineError, "{out:?}");
    assert!(out.error.unwrap().contains("signal 6"));
}

#[test]
fn test_engines_not_installed() {
    let mut f = Fixture::new();
    f.profiles.insert(
        "ghost".to_owned(),
        EngineProfile {
            kind: Some("claude".to_owned()),
            command: Some("definitely-not-an-engine-xyz".to_owned()),
            ..EngineProfile::default()
        },
    );
    let reg = f.registry();
    let out = reg
        .get("ghost")
        .unwrap()
        .run(&f.request("x"), &mut |_, _| {})
        .unwrap();
    assert_eq!(out.classification, Classification::NotInstalled);
    assert!(
        out.error
            .unwrap()
            .contains("npm install -g @anthropic-ai/claude-code")
    );
    assert!(out.final_message.is_none());
    let err = reg.get_installed("ghost").unwrap_err();
    assert!(matches!(err, Error::NotInstalled { .. }), "{err}");
    assert!(reg.get_installed("claude").is_ok());
}

#[test]
fn test_engines_timeout_kills_the_process_group() {
    let f = Fixture::new();
    let pid_file = f.path("grandchild.pid");
    f.script(json!([[
        {"spawn_grandchild_sleep": pid_file.display().to_string()},
        {"stdout_line": "working"},
        "hang"
    ]]));
    let mut req = f.request("x");
    req.timeout = Duration::from_secs(1);
    req.stall_timeout = Duration::ZERO;
    let start = Instant::now();
    let out = f.run("claude", &req);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.classification, Classification::Timeout, "{out:?}");
    assert!(out.error.unwrap().contains("timed out"));
    assert_eq!(out.exit_code, None);
    let pid = read_pid(&pid_file);
    assert!(
        eventually(Duration::from_secs(5), || is_gone(pid)),
        "grandchild {pid} survived"
    );
}

#[test]
fn test_engines_stall_watchdog_kills_the_process_group() {
    let f = Fixture::new();
    let pid_file = f.path("grandchild.pid");
    f.script(json!([[
        {"spawn_grandchild_sleep": pid_file.display().to_string()},
        "hang"
    ]]));
    let mut req = f.request("x");
    req.timeout = Duration::from_secs(120);
    req.stall_timeout = Duration::from_secs(1);
    let start = Instant::now();
    let out = f.run("cmd", &req);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.classification, Classification::Timeout, "{out:?}");
    assert!(out.error.unwrap().contains("stall"));
    let pid = read_pid(&pid_file);
    assert!(
        eventually(Duration::from_secs(5), || is_gone(pid)),
        "grandchild {pid} survived"
    );
}

#[test]
fn test_engines_gemini_silence_is_not_a_stall() {
    // gemini -o json prints only at the end; the stall watchdog must not kill it.
    let f = Fixture::new();
    f.script(json!([[
        {"sleep_ms": 1500},
        {"emit_as": {"engine": "gemini", "final_message": "late but fine"}}
    ]]));
    let mut req = f.request("x");
    req.stall_timeout = Duration::from_millis(500);
    let out = f.run("gemini", &req);
    assert_eq!(out.classification, Classification::Ok, "{out:?}");
    assert_eq!(out.final_message.as_deref(), Some("late but fine"));
}

#[test]
fn test_engines_codex_reconnect_loop_is_a_stall() {
    let f = Fixture::new();
    f.script(json!([[
        {"stdout_json": {"type": "thread.started", "thread_id": "t"}},
        {"repeat_stdout_line": {"line": "{\"type\":\"error\",\"message\":\"Reconnecting... 1/5\"}", "interval_ms": 50}}
    ]]));
    let mut req = f.request("x");
    req.stall_timeout = Duration::from_secs(1);
    let start = Instant::now();
    let out = f.run("codex", &req);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.classification, Classification::Timeout, "{out:?}");
    assert!(out.error.unwrap().contains("Reconnecting"));
}

#[test]
fn test_engines_leftover_children_die_with_the_engine() {
    let f = Fixture::new();
    let pid_file = f.path("grandchild.pid");
    f.script(json!([[
        {"spawn_grandchild_sleep": pid_file.display().to_string()},
        {"emit_as": {"engine": "claude", "final_message": "done"}}
    ]]));
    let start = Instant::now();
    let out = f.run("claude", &f.request("x"));
    assert_eq!(out.classification, Classification::Ok, "{out:?}");
    // The grandchild holds stdout open; the run must not wait for it.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    let pid = read_pid(&pid_file);
    assert!(
        eventually(Duration::from_secs(5), || is_gone(pid)),
        "grandchild {pid} survived"
    );
}

#[test]
fn test_engines_hostile_prompt_reaches_stdin_byte_exact() {
    let f = Fixture::new();
    let marker = f.workdir().join("PWNED");
    let mut prompt = format!(
        "Fix it.\n$(touch {m}) `touch {m}` ; rm -rf {w} && touch {m} | cat\n\
         'single' \"double\" \\back\\slash\r\n\ttab $HOME ${{PATH}} %s %n \u{0}nul é 漢字\n",
        m = marker.display(),
        w = f.workdir().display(),
    );
    while prompt.len() < 1 << 20 {
        prompt.push_str("lorem ipsum dolor sit amet; $(id) `id`\n");
    }
    for engine in ["cmd", "claude", "codex", "gemini"] {
        f.script(json!([[
            {"expect_stdin_contains": "$(touch "},
            {"expect_no_arg_contains": "Fix it."},
            {"emit_as": {"engine": if engine == "cmd" { "claude" } else { engine }, "final_message": "ok"}}
        ]]));
        let out = f.run(engine, &f.request(&prompt));
        assert_eq!(out.exit_code, Some(0), "{engine}: {out:?}");
        let calls = f.calls();
        assert_eq!(calls[0]["stdin_len"], prompt.len(), "{engine}");
        assert_eq!(
            calls[0]["stdin_sha256"],
            sha256_hex(prompt.as_bytes()),
            "{engine}"
        );
        let argv = calls[0]["argv"].to_string();
        assert!(!argv.contains("lorem"), "{engine}: prompt leaked into argv");
        assert!(!marker.exists(), "{engine}: something executed the prompt");
        assert!(f.workdir().exists());
    }
}

#[test]
fn test_engines_environment_is_cleared_to_the_allowlist() {
    let mut f = Fixture::new();
    f.host_env.insert(
        "ANTHROPIC_API_KEY".to_owned(),
        "sk-ant-test-0123456789".to_owned(),
    );
    f.host_env.insert(
        "OPENAI_API_KEY".to_owned(),
        "sk-openai-test-0123456789".to_owned(),
    );
    f.host_env.insert("LC_ALL".to_owned(), "C.UTF-8".to_owned());
    f.script(json!([[{"emit_as": {"engine": "claude", "final_message": "ok"}}]]));
    let mut req = f.request("x");
    req.env.insert("GODZILLA_RUN".to_owned(), "r1".to_owned());
    f.run("claude", &req);
    let keys: Vec<String> = serde_json::from_value(f.calls()[0]["env_keys"].clone()).unwrap();
    for expected in [
        "PATH",
        "HOME",
        "LC_ALL",
        "ANTHROPIC_API_KEY",
        SCRIPT_VAR,
        "GODZILLA_RUN",
        "CLAUDE_CODE_MAX_RETRIES",
        "DISABLE_AUTOUPDATER",
    ] {
        assert!(
            keys.iter().any(|k| k == expected),
            "{expected} missing from {keys:?}"
        );
    }
    for absent in ["UNRELATED_VAR", "OPENAI_API_KEY"] {
        assert!(
            !keys.iter().any(|k| k == absent),
            "{absent} leaked: {keys:?}"
        );
    }
}

#[test]
fn test_engines_canary_secrets_never_come_back() {
    let mut f = Fixture::new();
    let mut names = Vec::new();
    let mut canaries = Vec::new();
    for i in 0..20 {
        let name = format!("CANARY_{i}_API_KEY");
        let value = match i % 4 {
            0 => format!("canary-plain-secret-{i:02}-q9z"),
            1 => format!("sk-ant-canary{i:02}abcdefghijklmnop"),
            2 => format!("ghp_canary{i:02}ABCDEFGHIJKLMNOPQRSTUV"),
            _ => format!("c@nary {i:02}/with spaces&symbols"),
        };
        f.host_env.insert(name.clone(), value.clone());
        names.push(name);
        canaries.push(value);
    }
    let mut profile_env = vec![SCRIPT_VAR.to_owned()];
    profile_env.extend(names.iter().cloned());
    for profile in f.profiles.values_mut() {
        profile.env.clone_from(&profile_env);
    }
    let all = canaries.join(" | ");
    f.script(json!([
        [
            {"echo_env": names},
            {"stderr_line": format!("Authorization: Bearer {}", canaries[0])},
            {"emit_as": {"engine": "claude", "final_message": format!("leaking {all}"),
                         "session_id": canaries[3].clone(), "structured": {"k": canaries[5].clone()}}}
        ],
        [
            {"echo_env": names},
            {"emit_as": {"engine": "claude", "error": {"status": 500, "message": format!("oops {all}")}}}
        ]
    ]));
    let mut req = f.request("x");
    req.output_schema = Some(json!({"type": "object"}));
    for expect in [Classification::Ok, Classification::EngineError] {
        let mut seen = Vec::new();
        let run = f
            .engine("claude")
            .execute(&req, &mut |_, line: &str| seen.push(line.to_owned()))
            .unwrap();
        assert_eq!(run.outcome.classification, expect, "{:?}", run.outcome);
        let outcome = serde_json::to_string(&run.outcome).unwrap();
        let transcript = serde_json::to_string(&run.transcript).unwrap();
        let lines = seen.join("\n");
        assert!(run.transcript.stdout.contains("[REDACTED]"));
        for canary in &canaries {
            let encoded = serde_json::to_string(canary).unwrap();
            let encoded = encoded.trim_matches('"');
            for (what, text) in [
                ("outcome", &outcome),
                ("transcript", &transcript),
                ("live lines", &lines),
            ] {
                assert!(!text.contains(encoded), "{canary} in {what}: {text}");
                assert!(!text.contains(canary.as_str()), "{canary} in {what}");
            }
        }
    }
    // The values did reach the engine (they were passed through on purpose).
    let keys = f.calls()[0]["env_keys"].to_string();
    assert!(keys.contains("CANARY_7_API_KEY"));
}

#[test]
fn test_engines_live_lines_arrive_in_order() {
    let f = Fixture::new();
    f.script(json!([[
        {"stdout_line": "one"},
        {"stderr_line": "two"},
        {"stdout_line": "three"}
    ]]));
    let mut seen = Vec::new();
    f.engine("cmd")
        .run(&f.request("x"), &mut |stream, line: &str| {
            seen.push((stream, line.to_owned()));
        })
        .unwrap();
    let stdout: Vec<&str> = seen
        .iter()
        .filter(|(s, _)| *s == Stream::Stdout)
        .map(|(_, l)| l.as_str())
        .collect();
    assert_eq!(stdout, ["one", "three"]);
    assert!(seen.contains(&(Stream::Stderr, "two".to_owned())));
}

#[test]
fn test_engines_probe_reports_version_and_flags() {
    let f = Fixture::new();
    let reg = f.registry();
    for name in ["codex", "claude", "opencode", "gemini"] {
        let report = reg.get(name).unwrap().probe();
        assert_eq!(
            report.path.as_deref(),
            Some(fake_engine().as_path()),
            "{name}"
        );
        assert_eq!(
            report.version.as_deref(),
            Some("fake-engine 0.0.0-test"),
            "{name}"
        );
        assert_eq!(report.flags_ok, Some(true), "{name}: {report:?}");
    }
}

#[test]
fn test_engines_record_then_replay_writes_the_same_files_and_never_invents() {
    let fx = Fixture::new();
    let work = fx.workdir();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(&work)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "a")
            .env("GIT_AUTHOR_EMAIL", "a@b")
            .env("GIT_COMMITTER_NAME", "a")
            .env("GIT_COMMITTER_EMAIL", "a@b")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    git(&["init", "-q"]);
    std::fs::write(work.join("old.txt"), "old\n").unwrap();
    std::fs::write(work.join("dirty.txt"), "committed\n").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-qm", "base"]);
    // Dirt from before the run is not the engine's answer.
    std::fs::write(work.join("dirty.txt"), "mine\n").unwrap();
    let recordings = fx.path("recordings");
    let registry = Registry::new(
        &fx.profiles,
        RegistryOptions {
            host_env: fx.host_env.clone(),
            record: Some(recordings.clone()),
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    fx.script(json!([[
        {"write": {"path": "src/add.rs", "content": "pub fn add() {}\n"}},
        {"delete": "old.txt"},
        {"emit_as": {"engine": "claude", "final_message": "added", "usage": {"input": 10, "output": 5}}}
    ]]));
    let req = fx.request("add an add function");
    let live = registry
        .get("claude")
        .unwrap()
        .run(&req, &mut |_, _| {})
        .unwrap();
    assert_eq!(live.classification, Classification::Ok);
    assert_eq!(fx.calls().len(), 1);

    // Back to the base, then replay: the same files, the same answer, no process.
    git(&["checkout", "-q", "--", "."]);
    std::fs::remove_dir_all(work.join("src")).unwrap();
    std::fs::write(work.join("dirty.txt"), "mine\n").unwrap();
    let mut profiles = BTreeMap::new();
    profiles.insert(
        "claude".to_owned(),
        EngineProfile {
            kind: Some("replay".to_owned()),
            transcripts: Some(recordings.display().to_string()),
            ..EngineProfile::default()
        },
    );
    let replay = Registry::new(&profiles, RegistryOptions::default()).unwrap();
    let out = replay
        .get("claude")
        .unwrap()
        .run(&req, &mut |_, _| {})
        .unwrap();
    assert_eq!(out.classification, Classification::Ok);
    assert_eq!(out.final_message.as_deref(), Some("added"));
    assert_eq!(out.usage.total(), live.usage.total());
    assert_eq!(
        std::fs::read_to_string(work.join("src/add.rs")).unwrap(),
        "pub fn add() {}\n"
    );
    assert!(!work.join("old.txt").exists());
    assert_eq!(
        std::fs::read_to_string(work.join("dirty.txt")).unwrap(),
        "mine\n"
    );
    assert_eq!(fx.calls().len(), 1, "replay ran no process");

    // Another prompt was never recorded: refused, nothing written.
    let other = fx.request("drop the production database");
    let err = replay
        .get("claude")
        .unwrap()
        .run(&other, &mut |_, _| {})
        .unwrap_err();
    assert!(matches!(err, Error::NotRecorded { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("no recorded transcript for this prompt (phase exec, prompt "),
        "{err}"
    );
    // A replay profile with nothing to replay is refused when the registry is built.
    profiles.get_mut("claude").unwrap().transcripts = None;
    assert!(matches!(
        Registry::new(&profiles, RegistryOptions::default()),
        Err(Error::NoTranscripts { .. })
    ));
}

/// Issue 11.5: codex's endless "Reconnecting... waiting for network" loop (nothing listens) is
/// recognised and stopped at its second notice, long before the stall watchdog or the
/// timeout, and classified as an engine error saying the server cannot be reached.
#[test]
fn test_engines_codex_reconnect_loop_is_given_up_within_seconds() {
    let f = Fixture::new();
    f.script(json!([[
        {"stdout_line": r#"{"type":"thread.started","thread_id":"t"}"#},
        {"stdout_line": r#"{"type":"turn.started"}"#},
        {"repeat_stdout_line": {
            "line": r#"{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending request)"}"#,
            "interval_ms": 300
        }}
    ]]));
    let mut req = f.request("x");
    req.timeout = Duration::from_secs(600);
    req.stall_timeout = Duration::from_secs(600);
    let start = Instant::now();
    let out = f.run("codex", &req);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.classification, Classification::EngineError, "{out:?}");
    let error = out.error.unwrap();
    assert!(error.contains("cannot reach its server"), "{error}");
}

#[test]
fn test_engines_profile_endpoint_key_env_table_and_isolated_home() {
    let mut f = Fixture::new();
    let homes = f.path("homes");
    // As a user writes it: a table of values, a base URL, the variable holding the key.
    let config = godzilla::config::parse(&format!(
        r#"
[engines.claude]
command = "{}"
env = {{ {SCRIPT_VAR} = "{}", PROXY_URL = "https://bob:hunter2hunter2@proxy.example:8080", NO_COLOR = "1" }}
base_url = "http://127.0.0.1:4000"
api_key_env = "MY_LLM_KEY"
home = "isolated"
"#,
        fake_engine().display(),
        f.path("script.json").display()
    ))
    .unwrap();
    f.profiles = config.engines;
    f.host_env
        .insert("MY_LLM_KEY".to_owned(), "llm-key-0123456789".to_owned());
    let names = [
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_API_KEY",
        "HOME",
        "XDG_CONFIG_HOME",
        "NO_COLOR",
        "PROXY_URL",
        "MY_LLM_KEY",
    ];
    f.script(json!([[
        {"echo_env": names},
        {"emit_as": {"engine": "claude", "final_message": "done"}}
    ]]));
    let registry = Registry::new(
        &f.profiles,
        RegistryOptions {
            host_env: f.host_env.clone(),
            homes_dir: Some(homes.clone()),
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    let run = registry
        .get("claude")
        .unwrap()
        .execute(&f.request("x"), &mut |_, _| {})
        .unwrap();
    assert_eq!(
        run.outcome.classification,
        Classification::Ok,
        "{:?}",
        run.outcome
    );
    let out = &run.transcript.stdout;
    let home = homes.join("claude");
    for want in [
        "ANTHROPIC_BASE_URL=http://127.0.0.1:4000".to_owned(),
        format!("HOME={}", home.display()),
        format!("XDG_CONFIG_HOME={}", home.join(".config").display()),
        "NO_COLOR=1".to_owned(),
        // The key reached the engine, and is scrubbed from what godzilla keeps.
        "ANTHROPIC_API_KEY=[REDACTED]".to_owned(),
        // A value with a password in it is scrubbed though its name says nothing.
        "PROXY_URL=[REDACTED]".to_owned(),
    ] {
        assert!(out.contains(&want), "{want} not in\n{out}");
    }
    assert!(!out.contains("llm-key-0123456789") && !out.contains("hunter2hunter2"));
    assert!(home.join(".config").is_dir() && home.join(".local/share").is_dir());
    // The key variable itself is not passed under its own name (claude reads ANTHROPIC_*).
    assert!(!out.contains("MY_LLM_KEY="), "{out}");

    // A key variable that is not set fails at once as `auth`, naming it; nothing runs.
    f.host_env.remove("MY_LLM_KEY");
    let registry = Registry::new(
        &f.profiles,
        RegistryOptions {
            host_env: f.host_env.clone(),
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    let calls = f.calls().len();
    let outcome = registry
        .get("claude")
        .unwrap()
        .run(&f.request("x"), &mut |_, _| {})
        .unwrap();
    assert_eq!(outcome.classification, Classification::Auth);
    assert!(outcome.error.unwrap().contains("MY_LLM_KEY"));
    assert_eq!(f.calls().len(), calls, "the engine did not run");
}
