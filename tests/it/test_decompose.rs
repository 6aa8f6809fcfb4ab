//! `godzilla protocol decompose` through the fake engine: complex steps refined in place with
//! their headings kept and the old version in git history; answers that drop a heading are
//! rejected with the file unchanged; simple steps are never sent to the engine.

use serde_json::json;

use crate::support::TestRepo;

const LONG: &str = "# Build the parser\nParse the input format.\n## Sub-tasks\n\
    1. tokens\n2. grammar\n3. errors\n4. tests\n5. docs\n6. bench\n7. cleanup\n## Checks\n- cargo test\n";
const SHORT: &str = "# Greet\nAdd a greeting to README.md.\n";

fn refined() -> String {
    let mut text = LONG.replace(
        "1. tokens",
        "1. tokens in src/lexer.rs (check: `cargo test lexer`)",
    );
    text.push_str("## Notes\nKeep the public API.\n");
    text
}

fn emit(final_message: &str) -> serde_json::Value {
    json!({"emit_as": {"engine": "claude", "final_message": final_message, "usage": {"input": 400, "output": 80}}})
}

fn step_file(wt: &std::path::Path, id: &str, step: &str) -> std::path::PathBuf {
    wt.join(format!(".godzilla/protocols/{id}/steps/{step}.md"))
}

#[test]
fn test_decompose_refines_a_long_step_in_place() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("parser", &[("01-parser.md", LONG), ("02-greet.md", SHORT)]);
    repo.script(json!([[
        {"expect_stdin_contains": "7. cleanup"},
        emit(&format!("```markdown\n{}```", refined()))
    ]]));
    let out = repo
        .godzilla(&["--json", "protocol", "decompose", &id])
        .expect(0)
        .json();
    assert_eq!(out["refined"], 1);
    assert_eq!(out["rejected"], 0);
    assert_eq!(out["tokens"], 480);
    assert_eq!(out["steps"][0]["result"], "refined");
    assert_eq!(out["steps"][1]["result"], "simple");
    // Read-only, once: the simple step never reached the engine.
    let calls = repo.calls();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0]["argv"].to_string().contains("plan"),
        "{}",
        calls[0]["argv"]
    );
    // Replaced in place (fences stripped); the simple step untouched.
    assert_eq!(
        std::fs::read_to_string(step_file(&wt, &id, "01-parser")).unwrap(),
        refined()
    );
    assert_eq!(
        std::fs::read_to_string(step_file(&wt, &id, "02-greet")).unwrap(),
        SHORT
    );
    // Committed; the previous version is the parent's.
    assert_eq!(repo.git_in(&wt, &["status", "--porcelain"]), "");
    let subject = repo.git_in(&wt, &["log", "-1", "--format=%s"]);
    assert_eq!(
        subject.trim(),
        format!("godzilla({id}): decompose 01-parser")
    );
    let body = repo.git_in(&wt, &["log", "-1", "--format=%b"]);
    assert!(body.contains(&format!("Godzilla-Protocol: {id}")), "{body}");
    let old = repo.git_in(
        &wt,
        &[
            "show",
            &format!("HEAD^:.godzilla/protocols/{id}/steps/01-parser.md"),
        ],
    );
    assert_eq!(old, LONG);
    // The event carries the tokens and line counts; the spec still validates.
    let events =
        std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl"))).unwrap();
    let event: serde_json::Value = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "step_decomposed")
        .unwrap();
    assert_eq!(event["metadata"]["tokens"], 480);
    assert_eq!(event["metadata"]["before_lines"], 12);
    assert_eq!(event["metadata"]["after_lines"], 14);
    repo.godzilla(&["spec", "validate", &id]).expect(0);
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_decompose_rejects_an_answer_that_drops_a_heading() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("parser", &[("01-parser.md", LONG)]);
    let head = repo.git_in(&wt, &["rev-parse", "HEAD"]);
    repo.script(json!([[emit(&refined().replace("## Checks\n", ""))]]));
    let run = repo.godzilla(&["protocol", "decompose", &id]).expect(3);
    assert!(run.stdout.contains("rejected"), "{}", run.stdout);
    assert!(run.stdout.contains("## Checks"), "{}", run.stdout);
    assert!(run.stderr.contains("refinement rejected"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(step_file(&wt, &id, "01-parser")).unwrap(),
        LONG
    );
    // The spent tokens are on record: a commit holding the event, the step file as it was.
    assert_eq!(repo.git_in(&wt, &["status", "--porcelain"]), "");
    let changed = repo.git_in(&wt, &["diff", "--name-only", head.trim(), "HEAD"]);
    assert!(
        changed.contains(&format!(".godzilla/protocols/{id}/events.jsonl")),
        "{changed}"
    );
    assert!(!changed.contains("steps/"), "{changed}");
}

#[test]
fn test_decompose_leaves_simple_steps_alone() {
    let repo = TestRepo::with_fake_engine("claude");
    let numbered6 = "# Six\n1. a\n2. b\n3. c\n4. d\n5. e\n6. f\n";
    let (id, wt) = repo.new_protocol("small", &[("01-greet.md", SHORT), ("02-six.md", numbered6)]);
    let head = repo.git_in(&wt, &["rev-parse", "HEAD"]);
    repo.script(json!([]));
    let run = repo.godzilla(&["protocol", "decompose", &id]).expect(0);
    assert!(run.stdout.contains("0 refined"), "{}", run.stdout);
    assert!(run.stdout.contains("2 simple"), "{}", run.stdout);
    assert!(repo.calls().is_empty(), "no engine run for simple steps");
    assert_eq!(repo.git_in(&wt, &["rev-parse", "HEAD"]), head);
    assert_eq!(repo.git_in(&wt, &["status", "--porcelain"]), "");
}

#[test]
fn test_decompose_one_step_and_numbered_lists_count() {
    let repo = TestRepo::with_fake_engine("claude");
    // Seven numbered items make a step complex even though it is short.
    let numbered7 = "# Seven\n1. a\n2. b\n3. c\n4. d\n5. e\n6. f\n7. g\n";
    let (id, wt) = repo.new_protocol(
        "list",
        &[("01-seven.md", numbered7), ("02-parser.md", LONG)],
    );
    repo.script(json!([[
        {"expect_stdin_contains": "7. g"},
        emit("# Seven\n1. a (src/a.rs)\n2. b\n3. c\n4. d\n5. e\n6. f\n7. g\n")
    ]]));
    let out = repo
        .godzilla(&["--json", "protocol", "decompose", &id, "--step", "01-seven"])
        .expect(0)
        .json();
    assert_eq!(out["steps"].as_array().unwrap().len(), 1);
    assert_eq!(out["steps"][0]["result"], "refined");
    assert!(
        std::fs::read_to_string(step_file(&wt, &id, "01-seven"))
            .unwrap()
            .contains("(src/a.rs)")
    );
    assert_eq!(
        std::fs::read_to_string(step_file(&wt, &id, "02-parser")).unwrap(),
        LONG
    );
}

#[test]
fn test_decompose_without_an_engine_changes_nothing() {
    let repo = TestRepo::initialized();
    let (id, wt) = repo.new_protocol("parser", &[("01-parser.md", LONG)]);
    let before = TestRepo::snapshot(&wt);
    let run = repo.godzilla(&["protocol", "decompose", &id]).expect(2);
    assert!(
        run.stderr
            .contains("no engine is configured for the decompose phase"),
        "{}",
        run.stderr
    );
    crate::support::assert_same(&before, &TestRepo::snapshot(&wt));
}

#[test]
fn test_decompose_cost_is_recorded_and_counted() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("parser", &[("01-parser.md", LONG)]);
    let mut answer = emit(&format!("```markdown\n{}```", refined()));
    answer["emit_as"]["cost_usd"] = json!(0.0321);
    repo.script(json!([[answer]]));
    repo.godzilla(&["protocol", "decompose", &id]).expect(0);
    let events =
        std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl"))).unwrap();
    let event: serde_json::Value = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "step_decomposed")
        .unwrap();
    let micros = |v: &serde_json::Value| (v.as_f64().unwrap() * 1e6).round() as i64;
    assert_eq!(micros(&event["metadata"]["cost_usd"]), 32_100, "{event}");
    let cost = repo
        .godzilla(&["--json", "cost", &id, "--by", "phase"])
        .expect(0)
        .json();
    let group = cost["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "decompose")
        .unwrap_or_else(|| panic!("{cost:#}"));
    assert_eq!(micros(&group["cost_usd"]), 32_100, "{cost:#}");
    assert_eq!(cost["total"]["unpriced_runs"], 0, "{cost:#}");
}
