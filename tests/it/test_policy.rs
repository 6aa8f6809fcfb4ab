//! Policy packs: guidelines in prompts, required sections, questions before planning.

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::json;

use crate::support::TestRepo;

fn emit(text: &str) -> serde_json::Value {
    json!({"emit_as": {"engine": "claude", "final_message": text, "usage": {"input": 10, "output": 1}}})
}

fn answer(step: &str) -> String {
    json!({"plan": "# Plan\nREADME.md", "steps": [{"filename": "01-a.md", "content": step}]})
        .to_string()
}

#[test]
fn test_policy_strict_pack_blocks_plans_without_required_sections() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.write(".godzilla/policy.toml", "pack = \"strict\"\n");
    repo.commit_all("strict policy");
    let bad = answer("# A\nDo it.");
    repo.script(json!([
        [{"expect_stdin_contains": "Every behaviour change comes with a test"}, emit(&bad)],
        [{"expect_stdin_contains": "lacks the required sections Context, Changes, Verification"}, emit(&bad)]
    ]));
    let run = repo
        .godzilla(&["--json", "protocol", "new", "strict", "-d", "x"])
        .expect(3)
        .json();
    assert_eq!(run["status"], "blocked");
    assert!(
        run["planning_error"]
            .as_str()
            .unwrap()
            .contains("required sections"),
        "{}",
        run["planning_error"]
    );

    let good = answer("# A\n## Context\nc\n## Changes\nd\n## Verification\ncargo test\n");
    repo.script(json!([
        [emit(&good)],
        [{"expect_stdin_contains": "no drive-by refactors"}, {"write": {"path": "a.txt", "content": "a"}}, emit("done")]
    ]));
    repo.godzilla(&["protocol", "plan", "0001-strict"])
        .expect(0);
    repo.godzilla(&["step", "run", "0001-strict", "01-a"])
        .expect(0);
}

#[test]
fn test_policy_questions_are_asked_before_planning() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.write(
        ".godzilla/policy.toml",
        "[[clarifications]]\nkey = \"data_classification\"\nquestion = \"Which data classification applies?\"\nblocking = true\n",
    );
    repo.commit_all("policy with a question");
    repo.script(json!([[emit(&answer("# A\nx"))]]));
    let run = repo
        .godzilla(&["--json", "protocol", "new", "ask", "-d", "x"])
        .expect(3)
        .json();
    assert_eq!(run["status"], "pending");
    assert!(
        run["planning_error"]
            .as_str()
            .unwrap()
            .contains("data_classification")
    );
    assert!(
        repo.calls().is_empty(),
        "nothing is planned before the answer"
    );
    repo.godzilla(&["clarify", "answer", "data_classification", "internal"])
        .expect(0);
    let run = repo
        .godzilla(&["--json", "protocol", "run", "0001-ask", "--until", "01-a"])
        .expect(3)
        .json();
    // Planned now; the run then stops at QA for lack of a scripted review.
    assert_ne!(run["status"], "pending", "{run}");
    let actions = run["actions"].as_array().unwrap();
    assert!(
        actions
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("planned 1 steps")),
        "{run}"
    );
}

#[test]
fn test_policy_unknown_pack_is_a_clear_error() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.write(".godzilla/policy.toml", "pack = \"lax\"\n");
    repo.commit_all("bad policy");
    repo.godzilla(&["protocol", "new", "x", "-d", "y"])
        .assert()
        .code(2)
        .stderr(contains("policy.toml").and(contains("unknown pack `lax`")));
}
