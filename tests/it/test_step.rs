//! `godzilla step run|show` end to end with the fake engine.

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::TestRepo;

const STEPS: &[(&str, &str)] = &[(
    "01-greet.md",
    "# Add a greeting\nWrite greet.txt saying hello.\n",
)];

fn ok_invocation(final_message: &str) -> serde_json::Value {
    json!([
        {"write": {"path": "greet.txt", "content": "hello\n"}},
        {"emit_as": {"engine": "claude", "final_message": final_message,
                     "usage": {"input": 1200, "cached": 200, "output": 340, "reasoning": 12},
                     "cost_usd": 0.0123, "session_id": "sess-1"}}
    ])
}

#[test]
fn test_step_run_records_everything() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("greet", STEPS);
    repo.script(json!([ok_invocation("Wrote greet.txt")]));
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "01-greet"])
        .expect(0);
    let result = run.json();
    assert_eq!(result["outcome"]["classification"], "ok");
    assert_eq!(result["step_status"], "needs_qa");
    // Claude's output has no reasoning count.
    assert_eq!(
        result["outcome"]["usage"],
        json!({"input": 1200, "cached": 200, "output": 340, "reasoning": 0})
    );
    let run_id = result["run_id"].as_str().unwrap().to_owned();
    let commit = result["commit"].as_str().unwrap().to_owned();

    // The agent's file and the final message (never over the step file).
    assert_eq!(
        std::fs::read_to_string(wt.join("greet.txt")).unwrap(),
        "hello\n"
    );
    let dir = wt.join(format!(".godzilla/protocols/{id}"));
    assert_eq!(
        std::fs::read_to_string(dir.join("outputs/01-greet.md")).unwrap(),
        "Wrote greet.txt\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("steps/01-greet.md")).unwrap(),
        STEPS[0].1
    );
    // One immutable run record.
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("runs/{run_id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(record["engine"], "fake");
    assert_eq!(record["engine_version"], "fake-engine 0.0.0-test");
    assert_eq!(record["classification"], "ok");
    assert_eq!(record["session_id"], "sess-1");
    assert_eq!(record["cost_usd"], 0.0123);
    assert_eq!(record["attempt"], 1);
    assert!(record["prompt"]["template_version"].as_str().unwrap().len() == 16);
    // The commit: conventional subject, trailers, and everything in it.
    let message = repo.git_in(&wt, &["log", "-1", "--format=%B", &commit]);
    assert!(
        message.starts_with(&format!("feat({id}): Add a greeting\n")),
        "{message}"
    );
    for trailer in [
        format!("Godzilla-Protocol: {id}"),
        "Godzilla-Step: 01-greet".into(),
        format!("Godzilla-Run: {run_id}"),
    ] {
        assert!(message.contains(&trailer), "{message}");
    }
    assert_eq!(repo.git_in(&wt, &["status", "--porcelain"]), "");
    // The note on that commit, readable with plain git.
    let note = repo.git_in(&wt, &["notes", "--ref=godzilla", "show", &commit]);
    let note: serde_json::Value = serde_json::from_str(note.trim()).unwrap();
    assert_eq!(note["run"], run_id.as_str());
    assert_eq!(note["tokens"]["output"], 340);
    // The prompt went on stdin, not argv.
    let calls = repo.calls();
    assert_eq!(calls.len(), 1);
    assert!(
        !calls[0]["argv"]
            .to_string()
            .contains("greet.txt saying hello")
    );
    // step show.
    let show = repo
        .godzilla(&["step", "show", &id, "01-greet"])
        .expect(0)
        .stdout;
    assert!(
        show.starts_with(&format!("{id} 01-greet: needs_qa (1 attempts)")),
        "{show}"
    );
    assert!(
        show.contains(&format!("{run_id} fake: ok · 1200 in / 340 out · $0.0123")),
        "{show}"
    );
    assert!(
        show.contains(&commit[..12]) && show.contains("Wrote greet.txt"),
        "{show}"
    );
    // A second run on a step waiting for QA is refused.
    let again = repo.godzilla(&["step", "run", &id, "01-greet"]).expect(2);
    assert!(again.stderr.contains("is needs_qa"), "{}", again.stderr);
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_step_run_guard_reads_past_files_beside_the_protocol_folders() {
    // A file a person keeps in `.godzilla/protocols/` is protected like the rest, not taken for
    // a protocol folder when the guard reads the logs and views again before the agent starts.
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("greet", STEPS);
    std::fs::write(wt.join(".godzilla/protocols/README.md"), "# notes\n").unwrap();
    repo.script(json!([ok_invocation("Wrote greet.txt")]));
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "01-greet"])
        .expect(0)
        .json();
    assert_eq!(run["outcome"]["classification"], "ok", "{run}");
    assert_eq!(
        std::fs::read_to_string(wt.join(".godzilla/protocols/README.md")).unwrap(),
        "# notes\n"
    );
}

#[test]
fn test_step_run_failures_are_classified_and_never_success() {
    for (emit, class) in [
        (
            json!({"emit_as": {"engine": "claude", "error": {"status": 401, "message": "invalid x-api-key"}}}),
            "auth",
        ),
        (
            json!({"emit_as": {"engine": "claude", "error": {"status": 429, "message": "rate limited"}}}),
            "rate_limit",
        ),
        (
            json!({"emit_as": {"engine": "claude", "error": {"status": 500, "message": "overloaded"}}}),
            "engine_error",
        ),
        (json!("garbage"), "engine_error"),
    ] {
        let repo = TestRepo::with_fake_engine("claude");
        let (id, wt) = repo.new_protocol("fail", STEPS);
        repo.script(json!([[emit]]));
        let run = repo
            .godzilla(&["--json", "step", "run", &id, "01-greet"])
            .expect(1);
        let result = run.json();
        assert_eq!(result["outcome"]["classification"], class, "{}", run.stdout);
        assert_eq!(result["step_status"], "failed");
        assert!(
            !wt.join(format!(".godzilla/protocols/{id}/outputs/01-greet.md"))
                .exists()
        );
        let events =
            std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl")))
                .unwrap();
        assert!(events.contains("\"type\":\"step_execution_failed\""));
        assert!(!events.contains("\"type\":\"step_executed\""));
        let subject = repo.git_in(&wt, &["log", "-1", "--format=%s"]);
        assert_eq!(
            subject.trim(),
            format!("chore({id}): 01-greet attempt 1 failed ({class})")
        );
    }
}

#[test]
fn test_step_run_timeout_kills_the_engine() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("slow", STEPS);
    repo.script(json!([["hang"]]));
    let start = std::time::Instant::now();
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "01-greet", "--timeout", "2"])
        .expect(1);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(run.json()["outcome"]["classification"], "timeout");
}

#[test]
fn test_step_run_retries_a_failed_step() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("retry", STEPS);
    repo.script(json!([["garbage"], ok_invocation("second time")]));
    repo.godzilla(&["step", "run", &id, "01-greet"]).expect(1);
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "01-greet"])
        .expect(0)
        .json();
    assert_eq!(run["plan"]["attempt"], 2);
    let show = repo
        .godzilla(&["--json", "step", "show", &id, "01-greet"])
        .expect(0)
        .json();
    assert_eq!(show["attempts"], 2);
    assert_eq!(show["runs"].as_array().unwrap().len(), 2);
    assert_eq!(show["runs"][0]["classification"], "engine_error");
    assert_eq!(show["runs"][1]["classification"], "ok");
}

/// `step run` takes a step as every command does (full id, number, slug or unique prefix), and
/// refuses one the protocol does not have, or text no step id could be, as a usage error that
/// names it, before any engine runs or any file changes. It resolves the step in the state it
/// plans with (#13), which must not change what it accepts or how it refuses.
#[test]
fn test_step_run_takes_short_step_names_and_refuses_unknown_ones() {
    const TWO: &[(&str, &str)] = &[
        ("01-greet.md", "# Greet\nWrite greet.txt.\n"),
        ("02-wave.md", "# Wave\nWrite wave.txt.\n"),
    ];
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("names", TWO);
    let before = TestRepo::snapshot(&wt);
    let unknown = repo.godzilla(&["step", "run", &id, "wavy"]).expect(2);
    assert!(unknown.stderr.contains("wavy"), "{}", unknown.stderr);
    let bad = repo.godzilla(&["step", "run", &id, "../x"]).expect(2);
    assert!(
        bad.stderr.contains("invalid step argument"),
        "{}",
        bad.stderr
    );
    assert!(repo.calls().is_empty(), "no engine ran");
    crate::support::assert_same(&before, &TestRepo::snapshot(&wt));
    // By number, then by slug.
    repo.script(json!([ok_invocation("one"), ok_invocation("two")]));
    let first = repo
        .godzilla(&["--json", "step", "run", &id, "1"])
        .expect(0);
    assert_eq!(first.json()["plan"]["step"], "01-greet", "{}", first.stdout);
    let second = repo
        .godzilla(&["--json", "step", "run", &id, "wave"])
        .expect(0);
    assert_eq!(
        second.json()["plan"]["step"],
        "02-wave",
        "{}",
        second.stdout
    );
}

#[test]
fn test_step_run_refuses_without_running_when_it_should() {
    // No engine configured: a usage error with a hint, nothing written.
    let repo = TestRepo::initialized();
    let (id, wt) = repo.new_protocol("noengine", STEPS);
    let before = TestRepo::snapshot(&wt);
    let run = repo.godzilla(&["step", "run", &id, "01-greet"]).expect(2);
    assert!(
        run.stderr
            .contains("no engine is configured for the exec phase"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    crate::support::assert_same(&before, &TestRepo::snapshot(&wt));

    // An engine that is not installed: exit 1 with an install hint, state untouched.
    let run = repo.godzilla(&["step", "run", &id, "01-greet", "--engine", "codex"]);
    let run = run.expect(1);
    assert!(run.stderr.contains("not installed"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    crate::support::assert_same(&before, &TestRepo::snapshot(&wt));

    // Paused: exit 3, no engine call.
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("paused", STEPS);
    repo.script(json!([ok_invocation("x")]));
    repo.godzilla(&["protocol", "pause", &id]).expect(0);
    let run = repo.godzilla(&["step", "run", &id, "01-greet"]).expect(3);
    assert!(run.stderr.contains("is paused"), "{}", run.stderr);
    assert!(repo.calls().is_empty());
}

#[test]
fn test_step_run_strict_budget_refuses() {
    let repo = TestRepo::with_fake_engine("claude");
    let config = repo.read(".godzilla/config.toml").replace(
        "mode = \"warn\"",
        "mode = \"strict\"\nmax_tokens_per_step = 10",
    );
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("strict budget");
    let (id, wt) = repo.new_protocol("budget", STEPS);
    repo.script(json!([ok_invocation("x")]));
    let run = repo.godzilla(&["step", "run", &id, "01-greet"]).expect(3);
    assert!(run.stderr.contains("budget exceeded"), "{}", run.stderr);
    assert!(repo.calls().is_empty(), "the engine must not run");
    let events =
        std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl"))).unwrap();
    assert!(events.contains("\"type\":\"budget_exceeded\""));
}

#[test]
fn test_step_run_hostile_prompt_is_byte_exact_and_inert() {
    let repo = TestRepo::with_fake_engine("claude");
    let marker = repo.home().join("pwned");
    let hostile = format!(
        "# Hostile\n$(touch {m}) `touch {m}` ; rm -rf / ; \"quotes\" 'single' \\ backslash\nnew\nlines\n{{{{ protocol.id }}}}\n{}\n",
        "x".repeat(1024 * 1024),
        m = marker.display()
    );
    let (id, _) = repo.new_protocol("hostile", &[("01-greet.md", &hostile)]);
    let prompt = repo
        .godzilla(&["step", "run", &id, "01-greet", "--print-prompt"])
        .expect(0)
        .stdout;
    assert!(
        prompt.contains(&hostile),
        "the step text reaches the prompt unchanged"
    );
    repo.script(json!([ok_invocation("done")]));
    repo.godzilla(&["step", "run", &id, "01-greet"]).expect(0);
    let calls = repo.calls();
    let sha = Sha256::digest(prompt.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    assert_eq!(calls[0]["stdin_sha256"], sha.as_str());
    assert_eq!(calls[0]["stdin_len"], prompt.len());
    assert!(!calls[0]["argv"].to_string().contains("touch"));
    assert!(!marker.exists(), "something executed the prompt");
}

#[test]
fn test_step_run_canary_secrets_reach_no_record() {
    let repo = TestRepo::with_fake_engine("claude");
    let mut canaries: Vec<(String, String)> = (0..20)
        .map(|i| {
            (
                format!("CANARY_{i:02}_API_KEY"),
                format!("canary-secret-{i:02}-{}", "z".repeat(12)),
            )
        })
        .collect();
    // Issue 10.5: credentials in variables whose names look harmless.
    canaries.push((
        "DATABASE_URL".into(),
        "postgres://dbuser:db-canary-pw-7731@db.internal:5432/app".into(),
    ));
    canaries.push((
        "GIT_REMOTE_URL".into(),
        "https://gituser:git-canary-pw-4410@git.example.com/org/repo.git".into(),
    ));
    canaries.push((
        "PLAIN_SETTING".into(),
        "plain-named-canary-value-9921".into(),
    ));
    // And secrets the agent prints on its own: a JWT and a URL with a password.
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYW5hcnktand0LTEyMyJ9.c2lnbmF0dXJlLWNhbmFyeS1qd3Q";
    let printed_url = "https://agentuser:agent-canary-pw-5522@api.example.com/v1";
    let printed_needles = [jwt, "agent-canary-pw-5522", "agentuser"];
    let mut config = repo.read(".godzilla/config.toml");
    let names: Vec<String> = canaries.iter().map(|(k, _)| format!("\"{k}\"")).collect();
    config = config.replace(
        "env = [\"GODZILLA_FAKE_ENGINE_SCRIPT=",
        &format!(
            "env = [{}, \"GODZILLA_FAKE_ENGINE_SCRIPT=",
            names.join(", ")
        ),
    );
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("pass canaries");

    let (id, wt) = repo.new_protocol("canary", STEPS);
    // The engine profile changed: it must be trusted again before it runs.
    repo.godzilla(&["step", "run", &id, "01-greet"])
        .assert()
        .code(2)
        .stderr(contains("not trusted").and(contains("godzilla allow")));
    repo.godzilla(&["allow"]).expect(0);
    let all_values: Vec<String> = canaries.iter().map(|(_, v)| v.clone()).collect();
    let leak = format!("keys: {} jwt {jwt} url {printed_url}", all_values.join(" "));
    repo.script(json!([
        [
            {"echo_env": canaries.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()},
            {"stderr_line": format!("debug: {leak}")},
            {"emit_as": {"engine": "claude", "final_message": leak.clone(), "usage": {"input": 1, "output": 1}}}
        ],
        [
            {"stderr_line": format!("review debug: {leak}")},
            {"emit_as": {"engine": "claude", "final_message": format!("Verdict: PASS\n{leak}"), "usage": {"input": 1, "output": 1}}}
        ]
    ]));
    let env: Vec<(&str, &str)> = canaries
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let run = repo
        .godzilla_env(&["--json", "step", "run", &id, "01-greet"], &env)
        .expect(0);
    let qa = repo
        .godzilla_env(&["--json", "qa", &id, "01-greet"], &env)
        .expect(0);
    // The engine did see them (so the test is meaningful)...
    let calls = repo.calls();
    assert!(
        calls[0]["env_keys"]
            .to_string()
            .contains("CANARY_07_API_KEY")
    );
    // ...and they appear nowhere godzilla writes.
    let mut haystack = run.stdout.clone() + &run.stderr + &qa.stdout + &qa.stderr;
    for (path, bytes) in TestRepo::snapshot(&wt)
        .into_iter()
        .chain(TestRepo::snapshot(&repo.root.join(".git/godzilla")))
    {
        haystack.push_str(&format!("\n{}\n", path.display()));
        haystack.push_str(&String::from_utf8_lossy(&bytes));
    }
    haystack.push_str(&repo.git_in(
        &wt,
        &["log", "--all", "--format=%B%n%N", "--notes=godzilla"],
    ));
    haystack.push_str(&repo.git_in(&wt, &["log", "--all", "--patch", "--format=%B"]));
    for v in all_values.iter().map(String::as_str).chain(printed_needles) {
        assert!(!haystack.contains(v), "secret {v} leaked");
    }
    for pw in ["db-canary-pw-7731", "git-canary-pw-4410"] {
        assert!(!haystack.contains(pw), "password {pw} leaked");
    }
    assert!(
        haystack.contains("[REDACTED]"),
        "the output was scrubbed, not dropped"
    );
}

#[test]
fn test_step_run_agent_cannot_touch_godzilla_state() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("tamper", STEPS);
    let rel = format!(".godzilla/protocols/{id}/status.json");
    repo.script(json!([[
        {"write": {"path": rel, "content": "{\"forged\": true}"}},
        {"write": {"path": ".godzilla/protocols/evil.txt", "content": "x"}},
        {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}
    ]]));
    let run = repo
        .godzilla(&["--json", "step", "run", &id, "01-greet"])
        .expect(1)
        .json();
    assert_eq!(run["outcome"]["classification"], "engine_error");
    assert!(
        run["outcome"]["error"]
            .as_str()
            .unwrap()
            .contains("protected files")
    );
    assert!(!wt.join(".godzilla/protocols/evil.txt").exists());
    assert!(
        !std::fs::read_to_string(wt.join(&rel))
            .unwrap()
            .contains("forged")
    );
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_step_run_puts_back_committed_state_it_did_not_read() {
    // The guard does not read the state files a commit stored and nothing touched since: the
    // worktree's index vouches for their content (#13). An agent that rewrites, removes or
    // merely touches them still finds them as they were, byte for byte.
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("vouch", STEPS);
    let dir = format!(".godzilla/protocols/{id}");
    let (spec, toml, step) = (
        format!("{dir}/spec.json"),
        format!("{dir}/protocol.toml"),
        format!("{dir}/steps/01-greet.md"),
    );
    let before: Vec<Vec<u8>> = [&spec, &toml, &step]
        .iter()
        .map(|rel| std::fs::read(wt.join(rel)).unwrap())
        .collect();
    let same_length = "x".repeat(before[0].len());
    repo.script(json!([[
        {"write": {"path": spec, "content": same_length}},
        {"delete": toml},
        {"write": {"path": step, "content": String::from_utf8(before[2].clone()).unwrap()}},
        {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}
    ]]));
    let run = repo
        .godzilla_env(
            &["--json", "step", "run", &id, "01-greet"],
            &[("GODZILLA_LOG", "godzilla=debug")],
        )
        .expect(1);
    let error = run.json()["outcome"]["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("protected files") && error.contains("spec.json"),
        "{error}"
    );
    assert!(error.contains("protocol.toml"), "{error}");
    // Written back with the bytes it had: not a change to report.
    assert!(!error.contains("01-greet.md"), "{error}");
    for (rel, bytes) in [&spec, &toml, &step].iter().zip(&before) {
        assert_eq!(&std::fs::read(wt.join(rel)).unwrap(), bytes, "{rel}");
    }
    // They were not read before the agent ran.
    let vouched: usize = run
        .stderr
        .lines()
        .find_map(|l| l.split("files, ").nth(1)?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no guard summary in {}", run.stderr));
    assert!(vouched >= 3, "{}", run.stderr);
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_step_run_dry_run_shows_the_plan() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("dry", STEPS);
    let plan = repo
        .godzilla(&[
            "--json",
            "step",
            "run",
            &id,
            "01-greet",
            "--dry-run",
            "--model",
            "m1",
        ])
        .expect(0)
        .json();
    assert_eq!(plan["engine"], "fake");
    assert_eq!(plan["engine_source"], "phase");
    assert_eq!(plan["model"], "m1");
    assert_eq!(plan["attempt"], 1);
    assert!(repo.calls().is_empty());
}
