//! Planning through the fake engine: `protocol new` plans by default, answers are checked,
//! bad answers block the protocol and write nothing outside its folder.

use serde_json::json;

use crate::support::TestRepo;

fn plan_answer(steps: serde_json::Value) -> String {
    json!({"plan": "# Plan\nGreet the world in README.md.", "steps": steps}).to_string()
}

fn emit(final_message: &str) -> serde_json::Value {
    json!({"emit_as": {"engine": "claude", "final_message": final_message, "usage": {"input": 500, "output": 100}}})
}

#[test]
fn test_plan_protocol_end_to_end() {
    let repo = TestRepo::with_fake_engine("claude");
    let answer = plan_answer(json!([
        {"filename": "00-setup.md", "content": "# Setup\nCheck README.md exists."},
        {"filename": "01-greet.md", "content": "# Greet\nAdd a greeting to README.md."},
        {"filename": "02-repo-scan.md", "content": "# Scan\nList files."}
    ]));
    repo.script(json!([[{"expect_stdin_contains": "Add a greeting feature"}, {"expect_stdin_contains": "README.md"}, emit(&answer)]]));
    let run = repo
        .godzilla(&[
            "--json",
            "protocol",
            "new",
            "greeting",
            "-d",
            "Add a greeting feature",
        ])
        .expect(0)
        .json();
    assert_eq!(run["id"], "0001-greeting");
    assert_eq!(run["status"], "planned");
    assert_eq!(
        run["steps"],
        json!(["00-setup", "01-greet", "02-repo-scan"])
    );
    let wt = std::path::PathBuf::from(run["worktree"].as_str().unwrap());
    let dir = wt.join(".godzilla/protocols/0001-greeting");
    assert!(
        std::fs::read_to_string(dir.join("plan.md"))
            .unwrap()
            .starts_with("# Plan")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("steps/01-greet.md")).unwrap(),
        "# Greet\nAdd a greeting to README.md."
    );
    // The spec: valid, hashed, types and QA policies inferred.
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["hash"], run["spec_hash"]);
    let steps = spec["spec"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["step_type"], "setup");
    assert_eq!(steps[0]["qa"]["policy"], "skip");
    assert_eq!(steps[1]["step_type"], "work");
    assert_eq!(steps[1]["qa"]["policy"], "full");
    assert_eq!(steps[2]["qa"]["policy"], "skip", "scan steps skip QA");
    // Planning ran read-only, with the schema.
    let calls = repo.calls();
    assert!(
        calls[0]["argv"].to_string().contains("--json-schema"),
        "{}",
        calls[0]["argv"]
    );
    assert!(
        calls[0]["argv"].to_string().contains("plan"),
        "read-only permission mode"
    );
    // Committed on the branch; events tell the story; spec validate agrees.
    assert_eq!(repo.git_in(&wt, &["status", "--porcelain"]), "");
    let show = repo
        .godzilla(&["protocol", "show", "0001-greeting"])
        .expect(0)
        .stdout;
    assert!(
        show.contains("01-greet pending   Greet [work, qa full]"),
        "{show}"
    );
    assert!(show.contains("planned: 3 steps planned"), "{show}");
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_plan_retries_once_with_the_problems() {
    let repo = TestRepo::with_fake_engine("claude");
    let good = plan_answer(json!([{"filename": "01-a.md", "content": "# A\nDo a."}]));
    repo.script(json!([
        [emit(&plan_answer(json!([{"filename": "../evil.md", "content": "x"}])))],
        [{"expect_stdin_contains": "../evil.md"}, emit(&format!("```json\n{good}\n```"))]
    ]));
    let run = repo
        .godzilla(&["--json", "protocol", "new", "retry", "-d", "retry me"])
        .expect(0)
        .json();
    assert_eq!(run["status"], "planned");
    let wt = std::path::PathBuf::from(run["worktree"].as_str().unwrap());
    let events =
        std::fs::read_to_string(wt.join(".godzilla/protocols/0001-retry/events.jsonl")).unwrap();
    assert!(events.contains("\"attempts\":2"), "{events}");
    assert!(
        events.contains("\"tokens\":1200"),
        "both attempts' tokens are counted: {events}"
    );
}

#[test]
fn test_plan_bad_answers_block_and_write_nothing_outside() {
    let huge = "x".repeat(10 * 1024 * 1024);
    let cases: Vec<(&str, String)> = vec![
        (
            "not json",
            "I think you should refactor everything.".to_owned(),
        ),
        ("missing fields", json!({"plan": "p"}).to_string()),
        (
            "traversal",
            plan_answer(json!([{"filename": "../evil.md", "content": "x"}])),
        ),
        (
            "absolute",
            plan_answer(json!([{"filename": "/etc/x", "content": "x"}])),
        ),
        (
            "nested traversal",
            plan_answer(json!([{"filename": "00-a/../../b.md", "content": "x"}])),
        ),
        ("huge", huge),
    ];
    for (what, answer) in cases {
        let repo = TestRepo::with_fake_engine("claude");
        repo.script(json!([[emit(&answer)], [emit(&answer)]]));
        let root_before = TestRepo::snapshot(&repo.root);
        let run = repo.godzilla(&["--json", "protocol", "new", "bad", "-d", "bad answers"]);
        let run = run.expect(3);
        let json = run.json();
        assert_eq!(json["status"], "blocked", "{what}");
        let error = json["planning_error"].as_str().unwrap();
        // 10 MB overflows the bounded output capture, so that one fails as an engine error.
        let expected = if what == "huge" {
            "engine_error"
        } else {
            "invalid after 2 attempts"
        };
        assert!(error.contains(expected), "{what}: {error}");
        let wt = std::path::PathBuf::from(json["worktree"].as_str().unwrap());
        // Only the protocol folder changed in the worktree, nothing at all in the main tree.
        crate::support::assert_same(&root_before, &TestRepo::snapshot(&repo.root));
        for path in TestRepo::snapshot(&wt).keys() {
            let rel = path
                .strip_prefix(&wt)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(
                rel == ".git"
                    || rel.starts_with(".godzilla/protocols/0001-bad/")
                    || repo
                        .git_in(&wt, &["ls-tree", "--name-only", "main", "--", &rel])
                        .trim()
                        == rel,
                "{what}: unexpected file {rel}"
            );
        }
        assert!(
            !wt.join(".godzilla/protocols/0001-bad/steps").exists(),
            "{what}"
        );
        let events =
            std::fs::read_to_string(wt.join(".godzilla/protocols/0001-bad/events.jsonl")).unwrap();
        assert!(events.contains("\"type\":\"planning_failed\""), "{what}");
        assert!(
            !repo.home().join("evil.md").exists()
                && !wt.join(".godzilla/protocols/evil.md").exists()
        );
    }
}

#[test]
fn test_plan_engine_error_blocks_without_retry() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.script(json!([[{"emit_as": {"engine": "claude", "error": {"status": 401, "message": "bad key"}}}]]));
    let json = repo
        .godzilla(&["--json", "protocol", "new", "auth", "-d", "x"])
        .expect(3)
        .json();
    assert_eq!(json["status"], "blocked");
    assert!(
        json["planning_error"].as_str().unwrap().starts_with("auth"),
        "{}",
        json["planning_error"]
    );
    assert_eq!(repo.calls().len(), 1, "an engine error is not retried");
    // Planning again after fixing things works from the blocked state.
    repo.script(json!([[emit(&plan_answer(
        json!([{"filename": "01-a.md", "content": "# A\nx"}])
    ))]]));
    repo.godzilla(&["protocol", "plan", "0001-auth"]).expect(0);
    let status = repo.godzilla(&["--json", "status"]).expect(0).json();
    assert_eq!(status["protocols"][0]["status"], "planned");
}

#[test]
fn test_plan_without_an_engine_creates_nothing() {
    let repo = TestRepo::initialized();
    let run = repo
        .godzilla(&["protocol", "new", "x", "-d", "y"])
        .expect(2);
    assert!(
        run.stderr
            .contains("no engine is configured for the planning phase"),
        "{}",
        run.stderr
    );
    assert_eq!(repo.git(&["branch", "--list", "godzilla/*"]), "");
}

#[test]
fn test_plan_concurrent_creations_get_different_numbers() {
    let repo = TestRepo::initialized();
    repo.git(&["worktree", "add", "-q", "-b", "side", "../side"]);
    let side = repo.root.parent().unwrap().join("side");
    let steps = repo.step_dir(&[("01-a.md", "# A\nx\n")]);
    let spawn = |dir: &std::path::Path, name: &str| {
        let mut cmd = std::process::Command::new(crate::support::godzilla_bin());
        cmd.args([
            "--json",
            "protocol",
            "new",
            name,
            "-d",
            "race",
            "--steps-from",
            steps.to_str().unwrap(),
        ])
        .current_dir(dir);
        crate::support::hermetic(&mut cmd, repo.home());
        cmd.spawn().unwrap()
    };
    let a = spawn(&repo.root, "left");
    let b = spawn(&side, "right");
    for child in [a, b] {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    let json = repo.godzilla(&["--json", "status"]).expect(0).json();
    let mut numbers: Vec<&str> = json["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["id"].as_str().unwrap()[..4])
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, ["0001", "0002"]);
}

/// Issue 11.7: every engine run of every phase keeps a scrubbed transcript, named in its
/// event (and for exec in its run record): planning, exec and QA here.
#[test]
fn test_plan_every_phase_keeps_a_named_transcript() {
    let repo = TestRepo::with_fake_engine("claude");
    let answer = plan_answer(json!([
        {"filename": "01-greet.md", "content": "# Greet\nAdd a greeting to README.md."}
    ]));
    repo.script(json!([
        [{"stderr_line": "planner thinking sk-ant-planner0123456789abcdef"}, emit(&answer)],
        [{"write": {"path": "README.md", "content": "hello\n"}}, {"stderr_line": "exec working"}, emit("wrote README.md")],
        [{"stderr_line": "reviewer reading"}, emit("Fine.\n\nVerdict: PASS")]
    ]));
    let run = repo
        .godzilla(&[
            "--json",
            "protocol",
            "new",
            "greeting",
            "-d",
            "Add a greeting",
        ])
        .expect(0)
        .json();
    let id = run["id"].as_str().unwrap().to_owned();
    let wt = std::path::PathBuf::from(run["worktree"].as_str().unwrap());
    repo.godzilla(&["protocol", "run", &id]).expect(0);
    let dir = wt.join(format!(".godzilla/protocols/{id}"));
    let events: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let local = repo.root.join(".git/godzilla");
    let transcript_of = |kind: &str| -> String {
        let event = events
            .iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} event"));
        let meta = &event["metadata"];
        let name = meta["transcript"]
            .as_str()
            .or_else(|| meta["transcripts"][0].as_str())
            .unwrap_or_else(|| panic!("{kind} names no transcript: {event}"));
        std::fs::read_to_string(local.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let plan = transcript_of("planned");
    assert!(plan.contains("planner thinking"), "{plan}");
    assert!(!plan.contains("sk-ant-planner"), "not scrubbed: {plan}");
    assert!(transcript_of("step_executed").contains("exec working"));
    assert!(transcript_of("qa_passed").contains("reviewer reading"));
    let record = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .find(|r| r.contains("\"phase\": \"exec\""))
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert!(local.join(record["transcript"].as_str().unwrap()).is_file());
}

#[test]
fn test_plan_cost_is_recorded_and_counted_with_the_protocol() {
    let repo = TestRepo::with_fake_engine("claude");
    let bad = json!({"emit_as": {"engine": "claude", "final_message": "no json here",
        "usage": {"input": 400, "output": 40}, "cost_usd": 0.0071}});
    let answer = plan_answer(json!([
        {"filename": "01-greet.md", "content": "# Greet\nAdd a greeting to README.md."}
    ]));
    let good = json!({"emit_as": {"engine": "claude", "final_message": answer,
        "usage": {"input": 500, "output": 100}, "cost_usd": 0.0123}});
    // The first answer is rejected and retried: both attempts were paid for.
    repo.script(json!([[bad], [good]]));
    let run = repo
        .godzilla(&[
            "--json",
            "protocol",
            "new",
            "greeting",
            "-d",
            "Add a greeting",
        ])
        .expect(0)
        .json();
    let id = run["id"].as_str().unwrap().to_owned();
    let wt = std::path::PathBuf::from(run["worktree"].as_str().unwrap());
    let planned: serde_json::Value =
        std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl")))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|e| e["type"] == "planned")
            .unwrap();
    let micros = |v: &serde_json::Value| (v.as_f64().unwrap() * 1e6).round() as i64;
    assert_eq!(planned["metadata"]["tokens"], 1040);
    assert_eq!(
        micros(&planned["metadata"]["cost_usd"]),
        19_400,
        "{planned}"
    );
    let cost = repo
        .godzilla(&["--json", "cost", &id, "--by", "phase"])
        .expect(0)
        .json();
    let planning = cost["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "planning")
        .unwrap_or_else(|| panic!("{cost:#}"));
    assert_eq!(micros(&planning["cost_usd"]), 19_400, "{cost:#}");
    assert_eq!(cost["total"]["unpriced_runs"], 0, "{cost:#}");
    let status = repo.godzilla(&["--json", "status"]).expect(0).json();
    assert_eq!(micros(&status["protocols"][0]["cost_usd"]), 19_400);
}
