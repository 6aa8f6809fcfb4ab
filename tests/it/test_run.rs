//! `godzilla protocol run` and `godzilla qa` end to end with the fake engine.

use serde_json::json;

use crate::support::TestRepo;

const STEPS: &[(&str, &str)] = &[
    ("01-alpha.md", "# Alpha\nWrite alpha.txt.\n"),
    ("02-beta.md", "# Beta\nWrite beta.txt.\n"),
    ("03-gamma.md", "# Gamma\nWrite gamma.txt.\n"),
];

fn exec(file: &str) -> serde_json::Value {
    json!([
        {"write": {"path": file, "content": format!("{file}\n")}},
        {"emit_as": {"engine": "claude", "final_message": format!("wrote {file}"), "usage": {"input": 100, "output": 10}}}
    ])
}

fn review(verdict: &str) -> serde_json::Value {
    json!([{"emit_as": {"engine": "claude", "final_message": format!("Looks right.\n\n**Verdict:** {verdict}"), "usage": {"input": 50, "output": 5}}}])
}

/// Edits a protocol's spec.json by hand (its hash renewed, as a person with the library would)
/// and commits it.
fn edit_spec(
    repo: &TestRepo,
    wt: &std::path::Path,
    id: &str,
    message: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) {
    let spec_path = wt.join(format!(".godzilla/protocols/{id}/spec.json"));
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec_path).unwrap()).unwrap();
    edit(&mut file["spec"]);
    let spec: godzilla::domain::spec::ProtocolSpec =
        serde_json::from_value(file["spec"].clone()).unwrap();
    file["hash"] = spec.hash().into();
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    repo.git_in(wt, &["commit", "-qam", message]);
}

fn events(wt: &std::path::Path, id: &str) -> String {
    std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl"))).unwrap()
}

#[test]
fn test_run_killed_while_a_verdict_note_waits_adds_it_when_resumed() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("killed", &STEPS[..2]);
    repo.script(json!([
        exec("alpha.txt"),
        review("PASS"),
        exec("beta.txt"),
        review("PASS")
    ]));
    // Killed after the first verdict, whose note was to ride with the next step's commit.
    let killed = repo.godzilla_env(
        &["protocol", "run", &id],
        &[("GODZILLA_FAULT", "run.verdict_note_pending")],
    );
    assert_eq!(killed.code, None, "expected an abort\n{}", killed.stderr);
    let verdicts: Vec<serde_json::Value> = events(&wt, &id)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "qa_passed")
        .collect();
    assert_eq!(verdicts.len(), 1);
    let qa_run = verdicts[0]["metadata"]["run"].as_str().unwrap().to_owned();
    let notes = || repo.git_in(&wt, &["log", "--notes=godzilla", "--format=%N"]);
    assert_eq!(notes().matches("\"kind\":\"qa\"").count(), 0, "{}", notes());

    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed");
    let notes = notes();
    assert_eq!(notes.matches("\"kind\":\"exec\"").count(), 2, "{notes}");
    assert_eq!(notes.matches("\"kind\":\"qa\"").count(), 2, "{notes}");
    // The restored note is the first verdict's, on the attempt it judged.
    let first = repo.git_in(
        &wt,
        &["log", "--notes=godzilla", "--format=%N", "--grep=Alpha"],
    );
    assert!(first.contains(&format!("\"run\":\"{qa_run}\"")), "{first}");
    assert!(first.contains("\"verdict\":\"pass\""), "{first}");
    assert_eq!(repo.git_in(&wt, &["status", "--porcelain"]), "");
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_run_three_steps_to_completed() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("three", STEPS);
    repo.script(json!([
        exec("alpha.txt"),
        review("PASS"),
        exec("beta.txt"),
        review("PASS"),
        exec("gamma.txt"),
        review("PASS")
    ]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(run["stop"]["stop"], "completed");
    assert_eq!(run["status"], "completed");
    assert_eq!(repo.calls().len(), 6);
    for f in ["alpha.txt", "beta.txt", "gamma.txt"] {
        assert!(wt.join(f).is_file(), "{f}");
    }
    let log = events(&wt, &id);
    assert_eq!(log.matches("\"type\":\"qa_passed\"").count(), 3);
    assert!(log.contains("\"type\":\"protocol_completed\""));
    // Every step's note carries exec and QA records; the worktree is clean; fsck agrees.
    assert_eq!(repo.git_in(&wt, &["status", "--porcelain"]), "");
    let notes = repo.git_in(&wt, &["log", "--notes=godzilla", "--format=%N"]);
    assert_eq!(notes.matches("\"kind\":\"exec\"").count(), 3, "{notes}");
    assert_eq!(notes.matches("\"kind\":\"qa\"").count(), 3, "{notes}");
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
    // Running again changes nothing.
    let again = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(again["actions"], json!([]));
    assert_eq!(repo.calls().len(), 6, "no engine ran again");
}

#[test]
fn test_run_review_prompt_holds_the_attempts_diff_as_git_prints_it() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("diffed", &STEPS[..1]);
    // The reviewer sees what git would print for the attempt: the stat, then the patch of the
    // file the agent wrote, and nothing of godzilla's own state (one file changed).
    let reviewed = json!([
        {"expect_stdin_contains": " alpha.txt | 1 +\n 1 file changed, 1 insertion(+)\n"},
        {"expect_stdin_contains": "diff --git a/alpha.txt b/alpha.txt\nnew file mode 100644\n"},
        {"expect_stdin_contains": "--- /dev/null\n+++ b/alpha.txt\n@@ -0,0 +1 @@\n+alpha.txt\n"},
        {"emit_as": {"engine": "claude", "final_message": "**Verdict:** PASS", "usage": {"input": 5, "output": 1}}}
    ]);
    repo.script(json!([exec("alpha.txt"), reviewed]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed", "{run}");
    assert!(wt.join("alpha.txt").is_file());
}

#[test]
fn test_run_failing_check_loops_with_feedback_then_blocks() {
    let repo = TestRepo::with_fake_engine("claude");
    let config = repo
        .read(".godzilla/config.toml")
        .replace("[checks]", "[checks]\ntest = [\"false\"]");
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("a check that always fails");
    repo.godzilla(&["allow"]).expect(0);
    let (id, wt) = repo.new_protocol("loop", &STEPS[..1]);
    let feedback = json!({"expect_stdin_contains": "check `test` failed (exit 1)"});
    let mut retry = exec("alpha.txt");
    retry.as_array_mut().unwrap().insert(0, feedback);
    // The reviewer says PASS every time: a failing check must win anyway.
    repo.script(json!([
        exec("alpha.txt"),
        review("PASS"),
        retry.clone(),
        review("PASS"),
        retry,
        review("PASS")
    ]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(3)
        .json();
    assert_eq!(run["stop"]["stop"], "blocked");
    assert!(
        run["stop"]["detail"]
            .as_str()
            .unwrap()
            .contains("still fails after its loop policies were used up"),
        "{}",
        run["stop"]
    );
    assert_eq!(run["status"], "blocked");
    assert_eq!(
        repo.calls().len(),
        6,
        "1 attempt + max_iterations (2) retries, each reviewed"
    );
    let log = events(&wt, &id);
    assert_eq!(log.matches("\"type\":\"loop_decision\"").count(), 2);
    assert_eq!(log.matches("\"type\":\"qa_failed\"").count(), 3);
    assert!(!log.contains("\"type\":\"protocol_completed\""));
}

#[test]
fn test_run_trigger_fires_exactly_once() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("trigger", &STEPS[..2]);
    // Give 02-beta a trigger: when it passes, 01-alpha runs again (once).
    edit_spec(&repo, &wt, &id, "trigger policy", |spec| {
        spec["steps"][1]["policies"] = json!([{"kind": "trigger", "id": "again", "on": "pass", "target": "01-alpha", "max_depth": 3}]);
    });
    repo.script(json!([
        exec("alpha.txt"),
        review("PASS"),
        exec("beta.txt"),
        review("PASS"),
        exec("alpha2.txt"),
        review("PASS")
    ]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed");
    let log = events(&wt, &id);
    assert_eq!(log.matches("\"type\":\"trigger_decision\"").count(), 1);
    assert_eq!(repo.calls().len(), 6, "alpha, beta, then alpha once more");
    assert!(wt.join("alpha2.txt").is_file());
}

/// Asks the blocking question `db` in protocol `id`.
fn ask_blocking(repo: &TestRepo, id: &str) {
    repo.godzilla(&[
        "clarify",
        "ask",
        "--protocol",
        id,
        "db",
        "Which database?",
        "--blocking",
    ])
    .expect(0);
}

/// `protocol run` stops (exit 3) on the open question `db`.
fn assert_stops_for_the_question(repo: &TestRepo, id: &str) {
    let run = repo
        .godzilla(&["--json", "protocol", "run", id])
        .expect(3)
        .json();
    assert_eq!(
        run["stop"],
        json!({"stop": "clarification", "detail": ["db"]})
    );
}

#[test]
fn test_run_blocking_clarification_stops_until_answered() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("ask", &STEPS[..1]);
    ask_blocking(&repo, &id);
    repo.script(json!([exec("alpha.txt"), review("PASS")]));
    assert_stops_for_the_question(&repo, &id);
    assert!(
        repo.calls().is_empty(),
        "nothing runs while a blocking question is open"
    );
    let list = repo
        .godzilla(&["clarify", "list", "--protocol", &id])
        .expect(0)
        .stdout;
    assert!(
        list.contains("db [0001-ask] Which database? (OPEN, blocking)"),
        "{list}"
    );
    repo.godzilla(&["clarify", "answer", "--protocol", &id, "db", "postgres"])
        .expect(0);
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed");
}

#[test]
fn test_run_stops_for_a_question_whatever_its_log_line_spells() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("spelled", &STEPS[..1]);
    ask_blocking(&repo, &id);
    // The same event, its type written with a JSON escape (as another tool might).
    let log = wt.join(format!(".godzilla/protocols/{id}/events.jsonl"));
    let text = std::fs::read_to_string(&log).unwrap();
    let spelled = text.replace(
        "\"type\":\"clarification_requested\"",
        "\"type\":\"clarification\\u005frequested\"",
    );
    assert_ne!(spelled, text);
    std::fs::write(&log, spelled).unwrap();
    repo.git_in(&wt, &["commit", "-qam", "spelled"]);
    repo.script(json!([exec("alpha.txt"), review("PASS")]));
    assert_stops_for_the_question(&repo, &id);
    assert!(repo.calls().is_empty(), "nothing ran");
}

#[test]
fn test_run_pause_stops_before_the_next_engine_run() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("pause", STEPS);
    repo.script(json!([
        exec("alpha.txt"),
        review("PASS"),
        exec("beta.txt"),
        review("PASS"),
        exec("gamma.txt"),
        review("PASS")
    ]));
    repo.godzilla(&["protocol", "run", &id, "--until", "01-alpha"])
        .expect(0);
    assert_eq!(repo.calls().len(), 2);
    repo.godzilla(&["protocol", "pause", &id]).expect(0);
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(3)
        .json();
    assert_eq!(run["stop"]["stop"], "paused");
    assert_eq!(repo.calls().len(), 2, "no engine ran while paused");
    repo.godzilla(&["protocol", "resume", &id]).expect(0);
    repo.godzilla(&["protocol", "run", &id]).expect(0);
    assert_eq!(repo.calls().len(), 6);
}

#[test]
fn test_run_engine_error_in_qa_never_passes() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("qaerr", &STEPS[..1]);
    repo.script(json!([exec("alpha.txt"), [{"emit_as": {"engine": "claude", "error": {"status": 500, "message": "overloaded"}}}]]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(3)
        .json();
    assert_eq!(run["stop"]["stop"], "blocked");
    assert_eq!(run["steps"][0][1], "blocked");
    let log = events(&wt, &id);
    assert!(log.contains("\"type\":\"qa_error\""));
    assert!(!log.contains("\"type\":\"qa_passed\""));
    assert!(!log.contains("\"type\":\"protocol_completed\""));
    // A missing verdict is a FAIL, not a PASS.
    repo.godzilla(&["protocol", "retry", &id]).expect(0);
    repo.script(json!([exec("alpha.txt"), [{"emit_as": {"engine": "claude", "final_message": "Nice work overall.", "usage": {"input": 1, "output": 1}}}]]));
    repo.godzilla(&["step", "run", &id, "01-alpha"]).expect(0);
    let qa = repo
        .godzilla(&["--json", "qa", &id, "01-alpha"])
        .expect(3)
        .json();
    assert_eq!(qa["verdict"], "fail");
    assert!(
        qa["reasons"].to_string().contains("no verdict"),
        "{}",
        qa["reasons"]
    );
}

#[test]
fn test_run_approval_steps_wait_for_a_person() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("human", &STEPS[..1]);
    edit_spec(&repo, &wt, &id, "needs approval", |spec| {
        spec["steps"][0]["needs_approval"] = json!(true);
    });
    repo.script(json!([exec("alpha.txt")]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(3)
        .json();
    assert_eq!(
        run["stop"],
        json!({"stop": "approval", "detail": "01-alpha"})
    );
    repo.godzilla(&["protocol", "approve", &id, "01-alpha"])
        .expect(0);
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed");
}

/// Issue 8.5: an agent whose own test run printed `403`, `Forbidden` and `quota` on stderr
/// before the engine failed is an engine error, retried by the loop policy, not an auth or
/// quota failure that blocks the protocol at once.
#[test]
fn test_run_words_in_agent_output_do_not_block_as_auth_or_quota() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("words", &STEPS[..1]);
    repo.script(json!([
        [
            {"stderr_line": "test api::forbidden_returns_403 ... FAILED"},
            {"stderr_line": "assertion failed: expected 403 Forbidden, got 401 Unauthorized"},
            {"stderr_line": "test billing::quota_exceeded_is_429 ... FAILED (rate limit)"},
            {"exit": 1}
        ],
        exec("alpha.txt"),
        review("PASS")
    ]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(run["stop"]["stop"], "completed", "{run}");
    let log = events(&wt, &id);
    assert!(log.contains("\"classification\":\"engine_error\""), "{log}");
    assert!(!log.contains("\"classification\":\"auth\""), "{log}");
    assert!(!log.contains("\"classification\":\"rate_limit\""), "{log}");
    assert_eq!(repo.calls().len(), 3);
}

/// A `protocol run` keeps finding the objects it writes however many packs pile up: gix sized
/// its table of pack indexes by the packs there when the run opened the repository (10% more,
/// 32 at least), and a run that wrote more packs than that stopped on "Could not peel reference
/// to an object" for the note it had just written (a 25-step reviewed run stopped at step 17).
#[test]
fn test_run_finds_its_objects_however_many_packs_it_writes() {
    let repo = TestRepo::with_fake_engine("claude");
    // 30 packs git made (as fetches leave them), before godzilla opens the repository.
    for n in 0..30 {
        repo.write(&format!("packed-{n}.txt"), &format!("{n}\n"));
        repo.commit_all(&format!("pack {n}"));
        repo.git(&["repack", "-q"]);
    }
    let steps: Vec<(String, String)> = (1..=6)
        .map(|i| (format!("{i:02}-s.md"), format!("# S{i}\nWrite s{i}.txt.\n")))
        .collect();
    let steps: Vec<(&str, &str)> = steps.iter().map(|(n, t)| (&n[..], &t[..])).collect();
    let (id, wt) = repo.new_protocol("many", &steps);
    let script: Vec<serde_json::Value> = (1..=6)
        .flat_map(|i| [exec(&format!("s{i}.txt")), review("PASS")])
        .collect();
    repo.script(json!(script));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed", "{run}");
    let notes = repo.git_in(&wt, &["log", "--notes=godzilla", "--format=%N"]);
    assert_eq!(notes.matches("\"kind\":\"exec\"").count(), 6, "{notes}");
    assert_eq!(notes.matches("\"kind\":\"qa\"").count(), 6, "{notes}");
    repo.git_in(&wt, &["fsck", "--strict"]);
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}
