//! Honest verdicts: QA never says PASS without evidence, and says what it judged.

use serde_json::json;

use crate::support::TestRepo;

fn exec(file: &str) -> serde_json::Value {
    json!([
        {"write": {"path": file, "content": format!("{file}\n")}},
        {"emit_as": {"engine": "claude", "final_message": format!("wrote {file}"), "usage": {"input": 100, "output": 10}}}
    ])
}

fn review(verdict: &str) -> serde_json::Value {
    json!([{"emit_as": {"engine": "claude", "final_message": format!("Looks right.\n\n**Verdict:** {verdict}"), "usage": {"input": 50, "output": 5}}}])
}

/// Edits the committed config with `edit` and trusts the result.
fn configure(repo: &TestRepo, edit: impl FnOnce(String) -> String) {
    let config = edit(repo.read(".godzilla/config.toml"));
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("config");
    repo.godzilla(&["allow"]).expect(0);
}

fn events(wt: &std::path::Path, id: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn test_verdict_light_qa_without_checks_judges_nothing_and_says_so() {
    let repo = TestRepo::with_fake_engine("claude");
    configure(&repo, |c| {
        c.replace("policy = \"full\"", "policy = \"light\"")
    });
    let (id, wt) = repo.new_protocol("light", &[("01-alpha.md", "# Alpha\nWrite alpha.\n")]);
    repo.script(json!([exec("alpha.txt")]));
    let run = repo.godzilla(&["protocol", "run", &id]).expect(1);
    assert!(
        run.stderr
            .contains("QA policy `light` but no [checks] are configured"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: add"), "{}", run.stderr);
    let log = events(&wt, &id);
    assert!(!log.iter().any(|e| e["type"] == "qa_passed"), "no PASS");
    let status = repo.godzilla(&["--json", "status", &id]).expect(0).json();
    assert_eq!(
        status["protocols"][0]["step_counts"],
        json!({"needs_qa": 1})
    );
    // With a check configured the same run goes on to a real verdict.
    configure(&repo, |c| {
        c.replace(
            "[checks]",
            "[checks]\nalpha = [\"test\", \"-s\", \"alpha.txt\"]",
        )
    });
    repo.godzilla_in(&wt, &["allow"], &[]).expect(0);
    repo.git_in(&wt, &["merge", "-q", "main"]);
    repo.godzilla(&["protocol", "run", &id]).expect(0);
}

#[test]
fn test_verdict_full_qa_without_checks_says_no_check_ran() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("full", &[("01-alpha.md", "# Alpha\nWrite alpha.\n")]);
    repo.script(json!([exec("alpha.txt"), review("PASS")]));
    repo.godzilla(&["protocol", "run", &id]).expect(0);
    let qa_dir = wt.join(format!(".godzilla/protocols/{id}/qa"));
    let report = std::fs::read_dir(&qa_dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .next()
        .unwrap();
    assert!(report.contains("No mechanical check ran"), "{report}");
    let shown = repo.godzilla(&["step", "show", &id, "01-alpha"]).expect(0);
    assert!(
        shown.stdout.contains("no mechanical check ran"),
        "{}",
        shown.stdout
    );
}

/// A runner that prints a failed test and exits 0 anyway; its argv also contains a summary
/// line, which must not be counted.
const LYING_CHECK: &str = "printf 'test a ... ok\\ntest b ... ok\\ntest c ... ok\\ntest it_breaks ... FAILED\\n\\ntest result: FAILED. 3 passed; 1 failed; 0 ignored\\n'";

#[test]
fn test_verdict_check_failing_tests_fail_it_whatever_its_exit_code() {
    let repo = TestRepo::with_fake_engine("claude");
    configure(&repo, |c| {
        c.replace("policy = \"full\"", "policy = \"light\"")
            .replace("max_iterations = 2", "max_iterations = 1")
            .replace(
                "[checks]",
                &format!(
                    "[checks]\ntest = [\"sh\", \"-c\", {}]",
                    serde_json::to_string(LYING_CHECK).unwrap()
                ),
            )
    });
    let (id, wt) = repo.new_protocol("lying", &[("01-alpha.md", "# Alpha\nWrite alpha.\n")]);
    repo.script(json!([exec("alpha.txt")]));
    repo.godzilla(&["step", "run", &id, "01-alpha"]).expect(0);
    let qa = repo.godzilla(&["qa", &id, "01-alpha"]).expect(3);
    let json = repo
        .godzilla(&["--json", "qa", "show", &id, "01-alpha"])
        .expect(0)
        .json();
    let check = &json["checks"][0];
    assert_eq!(check["passed"], false);
    assert_eq!(
        check["tests"],
        json!({"passed": 3, "failed": 1}),
        "not doubled"
    );
    // The human output says which test failed, how it ended, and where the log is.
    assert!(qa.stdout.contains("it_breaks"), "{}", qa.stdout);
    assert!(qa.stdout.contains("test result: FAILED"), "{}", qa.stdout);
    let log = check["log"].as_str().unwrap();
    assert!(qa.stdout.contains(log), "{}", qa.stdout);
    assert!(std::path::Path::new(log).is_file());
    assert!(
        qa.stdout
            .contains("reported 1 failed test though it exited 0"),
        "{}",
        qa.stdout
    );
    let shown = repo.godzilla(&["qa", "show", &id, "01-alpha"]).expect(0);
    assert!(
        shown.stdout.contains("failing: it_breaks"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains(log), "{}", shown.stdout);
    assert!(shown.stdout.contains("## Findings"), "{}", shown.stdout);
    assert!(wt.join("alpha.txt").is_file());

    // In a protocol run, the retry prompt carries the names and the tail.
    let (id2, wt2) = repo.new_protocol("retry", &[("01-alpha.md", "# Alpha\nWrite alpha.\n")]);
    repo.script(json!([
        exec("alpha.txt"),
        [
            {"expect_stdin_contains": "Failing tests: it_breaks"},
            {"expect_stdin_contains": "test result: FAILED. 3 passed; 1 failed"},
            {"write": {"path": "alpha.txt", "content": "again\n"}},
            {"emit_as": {"engine": "claude", "final_message": "again", "usage": {"input": 1, "output": 1}}}
        ]
    ]));
    let run = repo.godzilla(&["protocol", "run", &id2]).expect(3);
    let calls = repo.calls();
    assert_eq!(calls.len(), 2, "{}", run.stderr);
    // The second attempt found what it expected in its prompt (else it exits 97 and fails).
    let executed = events(&wt2, &id2)
        .iter()
        .filter(|e| e["type"] == "step_executed")
        .count();
    assert_eq!(executed, 2, "{}", run.stderr);
}

#[test]
fn test_verdict_slug_words_decide_skips_and_skipped_steps_are_listed() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol(
        "words",
        &[
            ("01-barcode-scanner.md", "# Scanner\nRead barcodes.\n"),
            ("02-setup-db.md", "# Setup\nCreate the database.\n"),
        ],
    );
    repo.script(json!([exec("scanner.txt"), review("PASS"), exec("db.txt")]));
    repo.godzilla(&["protocol", "run", &id]).expect(0);
    assert_eq!(repo.calls().len(), 3, "the scanner step was reviewed");
    let log = events(&wt, &id);
    assert!(
        log.iter()
            .any(|e| e["type"] == "qa_passed" && e["step"] == "01-barcode-scanner")
    );
    let status = repo.godzilla(&["--json", "status", &id]).expect(0).json();
    assert_eq!(status["protocols"][0]["without_qa"], json!(["02-setup-db"]));
    let human = repo.godzilla(&["status"]).expect(0);
    assert!(
        human.stdout.contains("without QA: 02-setup-db"),
        "{}",
        human.stdout
    );
    let show = repo.godzilla(&["protocol", "show", &id]).expect(0);
    let line = show
        .stdout
        .lines()
        .find(|l| l.contains("02-setup-db"))
        .unwrap();
    assert!(line.contains("without QA"), "{}", show.stdout);
    let line = show
        .stdout
        .lines()
        .find(|l| l.contains("01-barcode-scanner"))
        .unwrap();
    assert!(!line.contains("without QA"), "{}", show.stdout);
}

#[test]
fn test_verdict_review_is_held_to_the_budget() {
    let repo = TestRepo::with_fake_engine("claude");
    configure(&repo, |c| {
        c.replace(
            "mode = \"warn\"",
            "mode = \"strict\"\nmax_tokens_per_protocol = 1000",
        )
    });
    let (id, wt) = repo.new_protocol("budget", &[("01-alpha.md", "# Alpha\nWrite alpha.\n")]);
    repo.script(json!([
        [
            {"write": {"path": "alpha.txt", "content": "a\n"}},
            {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1400, "output": 145}}}
        ],
        review("PASS")
    ]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(3)
        .json();
    assert_eq!(run["stop"]["stop"], "budget", "{run}");
    assert_eq!(repo.calls().len(), 1, "no review past the budget");
    let log = events(&wt, &id);
    assert!(
        log.iter()
            .any(|e| e["type"] == "budget_exceeded" && e["metadata"]["phase"] == "qa"),
        "{log:?}"
    );
    assert!(!log.iter().any(|e| e["type"] == "qa_passed"));
}

#[test]
fn test_verdict_reviewer_revert_keeps_uncommitted_state() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("revert", &[("01-alpha.md", "# Alpha\nWrite alpha.\n")]);
    repo.script(json!([
        exec("alpha.txt"),
        [
            {"write": {"path": "alpha.txt", "content": "the reviewer edits\n"}},
            {"emit_as": {"engine": "claude", "final_message": "Verdict: PASS", "usage": {"input": 1, "output": 1}}}
        ]
    ]));
    repo.godzilla(&["step", "run", &id, "01-alpha"]).expect(0);
    // An event appended since the last commit (another terminal asks a question).
    repo.godzilla(&["clarify", "ask", "db", "Which database?", "--protocol", &id])
        .expect(0);
    let before = events(&wt, &id).len();
    assert!(
        events(&wt, &id).iter().any(|e| e["message"]
            .as_str()
            .unwrap_or("")
            .contains("Which database?")
            || e.to_string().contains("Which database?")),
        "the question is an event"
    );
    let qa = repo.godzilla(&["qa", &id, "01-alpha"]).expect(1);
    assert!(
        qa.stdout.contains("reverted") || qa.stderr.contains("reverted"),
        "{}{}",
        qa.stdout,
        qa.stderr
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("alpha.txt")).unwrap(),
        "alpha.txt\n"
    );
    let after = events(&wt, &id);
    assert!(
        after
            .iter()
            .any(|e| e.to_string().contains("Which database?")),
        "the uncommitted event survived the revert"
    );
    assert!(after.len() > before);
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_verdict_qa_again_rejudges_a_completed_step_and_qa_show_lists_it() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("again", &[("01-alpha.md", "# Alpha\nWrite alpha.\n")]);
    repo.script(json!([
        exec("alpha.txt"),
        review("PASS"),
        review("PASS"),
        review("FAIL")
    ]));
    repo.godzilla(&["protocol", "run", &id]).expect(0);
    let refused = repo.godzilla(&["qa", &id, "01-alpha"]).expect(2);
    assert!(
        refused
            .stderr
            .contains(&format!("godzilla qa --again {id} 01-alpha")),
        "{}",
        refused.stderr
    );
    let again = repo.godzilla(&["qa", "--again", &id, "01-alpha"]).expect(0);
    assert!(again.stdout.contains("PASS"), "{}", again.stdout);
    let protocol_status = || {
        repo.godzilla(&["--json", "status", &id]).expect(0).json()["protocols"][0]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(protocol_status(), "completed");
    assert!(
        again.stdout.contains(&format!("{id} 01-alpha")),
        "ids as typed: {}",
        again.stdout
    );
    let failed = repo.godzilla(&["qa", "--again", &id, "01-alpha"]).expect(3);
    assert!(failed.stdout.contains("→ failed"), "{}", failed.stdout);
    let history = repo
        .godzilla(&["--json", "qa", "show", &id, "01-alpha"])
        .expect(0)
        .json();
    let verdicts = history["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 3);
    let exec_runs: Vec<_> = verdicts.iter().map(|v| v["exec_run"].clone()).collect();
    assert!(
        exec_runs.iter().all(|r| *r == exec_runs[0]),
        "the same attempt"
    );
    assert_eq!(
        verdicts
            .iter()
            .map(|v| v["again"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [false, true, true]
    );
    assert_eq!(verdicts[2]["verdict"], "fail");
    let shown = repo.godzilla(&["qa", "show", &id, "01-alpha"]).expect(0);
    assert!(shown.stdout.contains("FAIL, again"), "{}", shown.stdout);
    assert!(shown.stdout.contains("## Findings"), "{}", shown.stdout);
    let status = repo.godzilla(&["--json", "status", &id]).expect(0).json();
    assert_eq!(status["protocols"][0]["step_counts"], json!({"failed": 1}));
    // A step of it failed its re-judgment: the protocol is no longer "every step verified"
    // but needs attention, as after a QA FAIL with no policy left, and says why.
    assert_eq!(protocol_status(), "blocked");
    let blocked = repo
        .godzilla(&["--json", "events", &id, "--type", "protocol_blocked"])
        .expect(0)
        .stdout;
    assert!(blocked.contains("01-alpha failed QA again"), "{blocked}");
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}
