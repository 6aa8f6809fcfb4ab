//! Control and recovery as a user meets them: interrupted runs, stale views, where project
//! state is read from, `-C`, stopped runs, output flags and ids.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;
use predicates::str::{contains, is_empty, starts_with};
use serde_json::json;

use crate::support::{TestRepo, godzilla_bin, hermetic};

fn plan_answer(steps: &[&str]) -> String {
    let steps: Vec<serde_json::Value> = steps
        .iter()
        .map(
            |s| json!({"filename": format!("{s}.md"), "content": format!("# {s}\nWrite {s}.txt.")}),
        )
        .collect();
    json!({"plan": "# Plan\nWrite the files.", "steps": steps}).to_string()
}

fn emit(final_message: &str) -> serde_json::Value {
    json!({"emit_as": {"engine": "claude", "final_message": final_message, "usage": {"input": 50, "output": 5}}})
}

fn exec(file: &str) -> serde_json::Value {
    json!([
        {"write": {"path": file, "content": format!("{file}\n")}},
        emit(&format!("wrote {file}"))
    ])
}

fn review(verdict: &str) -> serde_json::Value {
    json!([emit(&format!("Looks right.\n\n**Verdict:** {verdict}"))])
}

fn events_path(wt: &Path, id: &str) -> PathBuf {
    wt.join(format!(".godzilla/protocols/{id}/events.jsonl"))
}

/// The protocol's worktree, wherever the default location puts it (as git lists it).
fn worktree_of(repo: &TestRepo, id: &str) -> PathBuf {
    let out = Command::new("git")
        .args(["worktree", "list", "--porcelain"])
        .current_dir(&repo.root)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(PathBuf::from)
        .find(|p| p.file_name().is_some_and(|n| n == id))
        .unwrap_or_else(|| panic!("no worktree for {id}"))
}

fn spawn(repo: &TestRepo, args: &[&str]) -> Child {
    let mut cmd = Command::new(godzilla_bin());
    cmd.args(args)
        .current_dir(&repo.root)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    hermetic(&mut cmd, repo.home());
    cmd.spawn().unwrap()
}

/// Polls until `what` holds (no fixed sleeps: a deadline).
#[track_caller]
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Engine calls recorded so far, counting only complete lines (one may be half written).
fn engine_calls(repo: &TestRepo) -> usize {
    std::fs::read_to_string(repo.home().join("calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count()
}

fn terminate(child: &mut Child) {
    signal(child, nix::sys::signal::Signal::SIGTERM);
}

/// A death no handler sees (a crash, the OOM killer, a reboot).
fn kill_9(child: &mut Child) {
    signal(child, nix::sys::signal::Signal::SIGKILL);
}

fn signal(child: &mut Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        signal,
    )
    .unwrap();
    child.wait().unwrap();
}

/// Only warnings (none of the status lines `-q` hides).
#[track_caller]
fn only_warnings(stderr: &str) {
    assert!(
        stderr.lines().all(|l| l.starts_with("warning:")),
        "{stderr}"
    );
}

fn status_of(repo: &TestRepo, id: &str) -> serde_json::Value {
    repo.godzilla(&["--json", "status", id]).expect(0).json()["protocols"][0].clone()
}

#[test]
fn test_control_kill_during_planning_then_the_same_command_plans_and_completes() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.godzilla(&["protocol", "new", "kill", "-d", "Write a.txt", "--no-plan"])
        .expect(0);
    let id = "0001-kill";
    let wt = worktree_of(&repo, id);
    repo.script(json!([
        [{"sleep_ms": 30000}],
        [emit(&plan_answer(&["01-a"]))],
        exec("01-a.txt"),
        review("PASS")
    ]));
    let mut child = spawn(&repo, &["protocol", "run", id]);
    wait_for("planning to start", || {
        std::fs::read_to_string(events_path(&wt, id))
            .is_ok_and(|l| l.contains("\"planning_started\""))
    });
    wait_for("the planning engine to start", || engine_calls(&repo) == 1);
    kill_9(&mut child);
    // Nothing plans any more: status says so, and retry names no placeholder step.
    let status = status_of(&repo, id);
    assert_eq!(status["status"], "planning");
    assert!(
        status["stopped"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("process")),
        "{status}"
    );
    let retry = repo.godzilla(&["protocol", "retry", id]);
    assert_ne!(retry.code, Some(0));
    assert!(!retry.stderr.contains("00-none"), "{}", retry.stderr);
    // The same command plans again and completes.
    let run = repo
        .godzilla(&["--json", "protocol", "run", id])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed", "{run}");
    let log = std::fs::read_to_string(events_path(&wt, id)).unwrap();
    assert!(log.contains("\"planning_interrupted\""), "{log}");
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_control_kill_during_planning_of_protocol_new_then_plan_resumes() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.script(json!([
        [{"sleep_ms": 30000}],
        [emit(&plan_answer(&["01-a", "02-b"]))]
    ]));
    let mut child = spawn(&repo, &["protocol", "new", "cut", "-d", "Write a.txt"]);
    let id = "0001-cut";
    wait_for("the planning engine to start", || engine_calls(&repo) == 1);
    let wt = worktree_of(&repo, id);
    // SIGTERM is handled (the attempt fails as interrupted): it is never left `planning`.
    terminate(&mut child);
    assert_ne!(status_of(&repo, id)["status"], "planning");
    // Pause and resume of a protocol that has no steps cannot make it `running`.
    repo.godzilla(&["protocol", "pause", id]).expect(0);
    repo.godzilla(&["protocol", "resume", id]).expect(0);
    assert_ne!(status_of(&repo, id)["status"], "running");
    let plan = repo
        .godzilla(&["--json", "protocol", "plan", id])
        .expect(0)
        .json();
    assert_eq!(plan["steps"], json!(["01-a", "02-b"]));
    assert_eq!(status_of(&repo, id)["status"], "planned");
    assert_eq!(repo.git_in(&wt, &["status", "--porcelain"]), "");
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

/// Issue 11.3: SIGTERM while the planning engine works, then while the review engine works:
/// each run is recorded as interrupted (an event, and what `status` says), never as a failed
/// plan or a QA error that blocks; the same command then goes on to completion.
#[test]
fn test_control_sigterm_during_planning_or_review_is_recorded_interrupted() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.godzilla(&["protocol", "new", "cut", "-d", "Write a.txt", "--no-plan"])
        .expect(0);
    let id = "0001-cut";
    let wt = worktree_of(&repo, id);
    repo.script(json!([
        [{"sleep_ms": 30000}],
        [emit(&plan_answer(&["01-a"]))],
        exec("01-a.txt"),
        [{"sleep_ms": 30000}],
        review("PASS")
    ]));
    let stop_at = |calls: usize| {
        let mut child = spawn(&repo, &["protocol", "run", id]);
        wait_for("the engine to start", || engine_calls(&repo) == calls);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(143));
        std::fs::read_to_string(events_path(&wt, id)).unwrap()
    };

    let log = stop_at(1);
    assert!(log.contains("\"planning_interrupted\""), "{log}");
    assert!(!log.contains("\"planning_failed\""), "{log}");
    let status = status_of(&repo, id);
    assert_eq!(status["status"], "pending", "{status}");
    let reason = status["stopped"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("interrupted") && reason.contains("SIGTERM"),
        "{status}"
    );
    assert_eq!(
        status["stopped"]["next"],
        format!("godzilla protocol run {id}")
    );

    let log = stop_at(4);
    assert!(log.contains("\"qa_interrupted\""), "{log}");
    assert!(!log.contains("\"qa_error\""), "{log}");
    let status = status_of(&repo, id);
    assert_eq!(status["status"], "running", "{status}");
    assert_eq!(status["step_counts"], json!({"needs_qa": 1}), "{status}");
    let reason = status["stopped"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("interrupted") && reason.contains("SIGTERM"),
        "{status}"
    );
    // The interrupted review's transcript is named in its event.
    let event: serde_json::Value = log
        .lines()
        .find(|l| l.contains("\"qa_interrupted\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap();
    assert!(
        event["metadata"]["transcript"]
            .as_str()
            .is_some_and(|t| t.ends_with(".log")),
        "{event}"
    );

    let run = repo
        .godzilla(&["--json", "protocol", "run", id])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(engine_calls(&repo), 5);
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_control_status_sees_an_edit_of_the_log_that_keeps_its_size() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("edit", &[("01-a.md", "# A\nWrite a.txt.\n")]);
    repo.script(json!([exec("a.txt"), review("PASS")]));
    repo.godzilla(&["protocol", "run", &id]).expect(0);
    let status = status_of(&repo, &id);
    assert_eq!(status["step_counts"], json!({"completed": 1}));
    // Same length, another verdict: the view written for the old log must not be trusted.
    let path = events_path(&wt, &id);
    let log = std::fs::read_to_string(&path).unwrap();
    let edited = log.replace("\"qa_passed\"", "\"qa_failed\"");
    assert_eq!(edited.len(), log.len());
    assert_ne!(edited, log);
    std::fs::write(&path, edited).unwrap();
    let status = status_of(&repo, &id);
    assert_eq!(status["step_counts"], json!({"failed": 1}), "{status}");
    // The committed branch tip is read the same way once the worktree is gone.
    repo.git_in(&wt, &["commit", "-qam", "edit the log"]);
    repo.git(&["worktree", "remove", "--force", wt.to_str().unwrap()]);
    let status = status_of(&repo, &id);
    assert_eq!(status["location"]["kind"], "branch");
    assert_eq!(status["step_counts"], json!({"failed": 1}), "{status}");
}

fn run_records(wt: &Path, id: &str) -> Vec<serde_json::Value> {
    let dir = wt.join(format!(".godzilla/protocols/{id}/runs"));
    let mut out: Vec<serde_json::Value> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    // The clock is pinned in tests: attempts give the order.
    out.sort_by_key(|r| r["attempt"].as_u64());
    out
}

/// Project state (config, trust, clarifications) is read from the main checkout, whatever
/// copy a protocol's branch carries from when it was created.
#[test]
fn test_control_project_state_is_read_from_the_main_checkout() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.godzilla(&["clarify", "ask", "db", "Which database?", "--blocking"])
        .expect(0);
    repo.commit_all("a project question");
    let (id, wt) = repo.new_protocol("main", &[("01-a.md", "# A\nWrite a.txt.\n")]);
    // Answered in the main checkout: the protocol is no longer blocked by it.
    repo.godzilla(&["clarify", "answer", "db", "postgres"])
        .expect(0);
    // A committed [checks] edit in the main checkout reaches the protocol, trusted there.
    let config = repo
        .read(".godzilla/config.toml")
        .replace("[checks]", "[checks]\ntest = [\"false\"]");
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("a check that always fails");
    // Names the file `allow` trusts.
    repo.godzilla(&["protocol", "run", &id])
        .assert()
        .code(2)
        .stderr(contains(format!(
            "{}/.godzilla/config.toml",
            repo.root.display()
        )));
    repo.godzilla(&["allow"]).expect(0);
    repo.script(json!([exec("a.txt"), review("PASS")]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id, "--until", "01-a"])
        .json();
    assert_ne!(run["stop"]["stop"], "clarification", "{run}");
    let records = run_records(&wt, &id);
    let qa = records.iter().find(|r| r["phase"] == "qa");
    let exec_record = records.iter().find(|r| r["phase"] == "exec").unwrap();
    let log = std::fs::read_to_string(events_path(&wt, &id)).unwrap();
    assert!(
        log.contains("check `test` failed") || qa.is_some_and(|q| q.to_string().contains("false")),
        "the main checkout's check ran: {log}"
    );
    // Each run record keeps the hash of the config it ran with; a later change shows.
    let hash = exec_record["config_sha256"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64, "{exec_record}");
    let config = repo
        .read(".godzilla/config.toml")
        .replace("max_iterations = 2", "max_iterations = 0");
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("no more iterations");
    repo.godzilla(&["protocol", "retry", &id]).expect(0);
    repo.script(json!([exec("a.txt"), review("PASS")]));
    repo.godzilla(&["protocol", "run", &id]);
    let hashes: Vec<String> = run_records(&wt, &id)
        .iter()
        .filter(|r| r["phase"] == "exec")
        .map(|r| r["config_sha256"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        hashes.iter().filter(|h| **h == hash).count(),
        hashes.len() - 1
    );
    assert_ne!(
        hashes.last(),
        Some(&hash),
        "the new config's hash: {hashes:?}"
    );
}

#[test]
fn test_control_relative_directory_is_taken_from_the_current_directory() {
    let repo = TestRepo::new();
    let parent = repo.root.parent().unwrap().to_path_buf();
    repo.godzilla_in(&parent, &["-C", "repo", "init"], &[])
        .expect(0);
    assert!(repo.root.join(".godzilla/format").is_file());
    assert!(
        !repo.root.join("repo").exists(),
        "nothing written under repo/repo"
    );
    let status = repo
        .godzilla_in(&parent, &["-C", "repo", "status"], &[])
        .expect(0);
    assert!(
        status.stdout.starts_with("No protocols yet."),
        "{}",
        status.stdout
    );
    std::fs::create_dir_all(repo.root.join("sub/dir")).unwrap();
    repo.godzilla_in(&repo.root.join("sub"), &["-C", "dir", "status"], &[])
        .expect(0);
    repo.godzilla_in(
        &repo.root.join("sub"),
        &["-C", "../sub/./dir", "status"],
        &[],
    )
    .expect(0);
}

const STEPS: &[(&str, &str)] = &[
    ("01-alpha.md", "# Alpha\nWrite alpha.txt.\n"),
    ("02-beta.md", "# Beta\nWrite beta.txt.\n"),
];

#[test]
fn test_control_status_shows_stopped_runs_with_the_reason_and_next_command() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("stop", STEPS);
    repo.script(json!([
        exec("alpha.txt"),
        review("PASS"),
        [{"sleep_ms": 30000}],
        exec("beta.txt"),
        review("PASS")
    ]));
    repo.godzilla(&["protocol", "run", &id, "--until", "01-alpha"])
        .expect(0);
    // Nothing runs: the run stopped as asked, and status says so with the command to go on.
    let status = status_of(&repo, &id);
    assert_eq!(status["status"], "running");
    assert!(
        status["stopped"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("--until 01-alpha")),
        "{status}"
    );
    assert_eq!(
        status["stopped"]["next"],
        format!("godzilla protocol run {id}")
    );
    let human = repo.godzilla(&["status"]).expect(0).stdout;
    assert!(human.contains(&format!("{id}  stopped")), "{human}");
    assert!(
        human.contains(&format!("next: godzilla protocol run {id}")),
        "{human}"
    );
    // While a run is going, it is not stopped; once its process is killed, it is.
    let mut child = spawn(&repo, &["protocol", "run", &id]);
    wait_for("the engine to start", || engine_calls(&repo) == 3);
    let during = status_of(&repo, &id);
    assert!(during.get("stopped").is_none(), "{during}");
    terminate(&mut child);
    let after = status_of(&repo, &id);
    assert!(
        after["stopped"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("process")),
        "{after}"
    );
    repo.godzilla(&["protocol", "run", &id]).expect(0);
    assert!(status_of(&repo, &id).get("stopped").is_none());
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_control_blocked_protocol_says_why_and_what_to_type() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("blocked", &STEPS[..1]);
    repo.script(json!([[{"emit_as": {"engine": "claude", "error": {"status": 401, "message": "invalid x-api-key"}}}]]));
    let run = repo.godzilla(&["protocol", "run", &id]).expect(3);
    assert!(
        run.stdout.contains("next: godzilla protocol"),
        "{}",
        run.stdout
    );
    let status = status_of(&repo, &id);
    assert_eq!(status["status"], "blocked");
    assert!(
        status["stopped"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("auth")),
        "{status}"
    );
    let human = repo.godzilla(&["status"]).expect(0).stdout;
    assert!(human.contains("next: godzilla protocol retry"), "{human}");
}

/// Adds an engine profile `other`: the same fake engine, told apart by an extra variable.
fn add_other_engine(repo: &TestRepo) {
    let mut config = repo.read(".godzilla/config.toml");
    config.push_str(&format!(
        "\n[engines.other]\nkind = \"claude\"\ncommand = \"{}\"\nenv = [\"GODZILLA_FAKE_ENGINE_SCRIPT={}\", \"OTHER_ENGINE=1\"]\n",
        crate::support::fake_engine_bin().display(),
        repo.script_path().display()
    ));
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("another engine");
    repo.godzilla(&["allow"]).expect(0);
}

fn used_other(call: &serde_json::Value) -> bool {
    call["env_keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k == "OTHER_ENGINE")
}

#[test]
fn test_control_run_takes_an_engine_per_phase() {
    let repo = TestRepo::with_fake_engine("claude");
    add_other_engine(&repo);
    let (id, _) = repo.new_protocol("phases", STEPS);
    repo.script(json!([exec("alpha.txt"), review("PASS")]));
    repo.godzilla(&[
        "protocol", "run", &id, "--until", "01-alpha", "--engine", "qa=other",
    ])
    .expect(0);
    let calls = repo.calls();
    assert_eq!(calls.len(), 2);
    assert!(!used_other(&calls[0]), "exec keeps the configured engine");
    assert!(used_other(&calls[1]), "QA uses the one asked for");
    // A bare name is every phase, QA included.
    repo.script(json!([exec("beta.txt"), review("PASS")]));
    repo.godzilla(&[
        "protocol",
        "run",
        &id,
        "--engine",
        "other",
        "--engine",
        "exec=fake",
    ])
    .expect(0);
    let calls = repo.calls();
    assert!(!used_other(&calls[0]), "exec=fake wins over the bare name");
    assert!(used_other(&calls[1]));
    // A phase that does not exist is a usage error, and the help says what the flag does.
    repo.godzilla(&["protocol", "run", &id, "--engine", "review=other"])
        .assert()
        .code(2)
        .stderr(contains("planning, exec, qa"));
    repo.godzilla(&["protocol", "run", "--help"])
        .assert()
        .success()
        .stdout(contains("--engine <[PHASE=]ENGINE>").and(contains("QA included")));
}

#[test]
fn test_control_spec_validate_drops_a_removed_step() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("drop", STEPS);
    std::fs::remove_file(wt.join(format!(".godzilla/protocols/{id}/steps/02-beta.md"))).unwrap();
    let out = repo.godzilla(&["spec", "validate", &id]).expect(0).stdout;
    assert!(out.contains("02-beta"), "says what it removed: {out}");
    let status = status_of(&repo, &id);
    assert_eq!(status["steps"], 1, "{status}");
    repo.script(json!([exec("alpha.txt"), review("PASS")]));
    let run = repo
        .godzilla(&["--json", "protocol", "run", &id])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed");
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_control_init_base_branch_is_validated_and_a_new_value_is_applied() {
    let repo = TestRepo::new();
    for bad in ["../x", "-f", "a..b", "x.lock", "with space", "end/"] {
        repo.godzilla(&["init", &format!("--base-branch={bad}")])
            .assert()
            .code(2)
            .stderr(contains("branch"));
        assert!(
            !repo.root.join(".godzilla").exists(),
            "{bad}: nothing written"
        );
    }
    repo.godzilla(&["init", "--base-branch", "main"]).expect(0);
    let config = repo.read(".godzilla/config.toml");
    assert!(config.contains("base_branch = \"main\""), "{config}");
    // On a set-up repository a new value is applied, comments kept, and said.
    let run = repo
        .godzilla(&["init", "--base-branch", "release/1.0"])
        .expect(0);
    assert!(
        run.stdout
            .contains("project.base_branch = \"release/1.0\" (was \"main\")"),
        "{}",
        run.stdout
    );
    let after = repo.read(".godzilla/config.toml");
    assert!(after.contains("base_branch = \"release/1.0\""), "{after}");
    assert_eq!(
        after.lines().count(),
        config.lines().count(),
        "only that line changed"
    );
    let again = repo
        .godzilla(&["init", "--base-branch", "release/1.0"])
        .expect(0);
    assert!(again.stdout.contains("nothing changed"), "{}", again.stdout);
}

#[test]
fn test_control_quiet_prints_only_errors_and_warnings() {
    let repo = TestRepo::with_fake_engine("claude");
    let dir = repo.step_dir(&[("01-a.md", "# A\nWrite a.txt.\n")]);
    let new = repo
        .godzilla(&[
            "-q",
            "protocol",
            "new",
            "q",
            "-d",
            "quiet",
            "--steps-from",
            dir.to_str().unwrap(),
        ])
        .expect(0);
    assert_eq!(new.stdout, "");
    only_warnings(&new.stderr);
    repo.script(json!([exec("a.txt"), review("PASS")]));
    let run = repo
        .godzilla(&["-q", "protocol", "run", "0001-q"])
        .expect(0);
    assert_eq!(run.stdout, "");
    only_warnings(&run.stderr);
    // --json is asked for explicitly: it still prints.
    let json = repo.godzilla(&["-q", "--json", "status"]).expect(0).json();
    assert_eq!(json["protocols"][0]["status"], "completed");
    repo.godzilla(&["-q", "protocol", "pause", "0001-q"])
        .assert()
        .code(2)
        .stderr(starts_with("error:"));
}

#[test]
fn test_control_no_ansi_escapes_when_not_a_terminal_or_color_never() {
    let repo = TestRepo::initialized();
    repo.new_protocol("colour", &[("01-a.md", "# A\nx\n")]);
    for args in [
        &["-vv", "protocol", "pause", "0001-colour"][..],
        &[
            "-vv",
            "--color",
            "never",
            "protocol",
            "resume",
            "0001-colour",
        ][..],
    ] {
        // Without NO_COLOR: the output is not a terminal, and that alone must be enough.
        repo.command(args)
            .env_remove("NO_COLOR")
            .assert()
            .success()
            // -vv logs something, without escapes.
            .stderr(is_empty().not().and(contains("\u{1b}").not()))
            .stdout(contains("\u{1b}").not());
    }
}

#[test]
fn test_control_qa_headline_keeps_ids_as_typed() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("one", &[("01-one.md", "# One\nWrite one.txt.\n")]);
    repo.script(json!([exec("one.txt"), review("PASS")]));
    repo.godzilla(&["step", "run", &id, "01-one"]).expect(0);
    let qa = repo.godzilla(&["qa", &id, "01-one"]).expect(0).stdout;
    let headline = qa.lines().next().unwrap();
    assert!(
        headline.starts_with(&format!("{id} 01-one: ")),
        "{headline}"
    );
}

#[test]
fn test_control_stuck_step_names_the_reason_and_the_next_command() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("stuck", &STEPS[..1]);
    repo.script(json!([[{"emit_as": {"engine": "claude", "error": {"status": 500, "message": "overloaded"}}}]]));
    repo.godzilla(&["step", "run", &id, "01-alpha"]);
    let run = repo.godzilla(&["protocol", "run", &id]).expect(3).stdout;
    assert!(!run.contains("cannot go on"), "{run}");
    assert!(run.contains("01-alpha") && run.contains("failed"), "{run}");
    assert!(run.contains("overloaded"), "the engine's error: {run}");
    assert!(
        run.contains(&format!("next: godzilla protocol retry {id}")),
        "{run}"
    );
}

#[test]
fn test_control_notes_show_with_nothing_says_so() {
    let repo = TestRepo::initialized();
    let run = repo.godzilla(&["notes", "show"]).expect(0);
    assert!(run.stdout.contains("no godzilla notes"), "{}", run.stdout);
    assert_eq!(
        repo.godzilla(&["--json", "notes", "show"]).expect(0).json(),
        json!([])
    );
}

#[test]
fn test_control_protocol_show_prints_the_plan() {
    let repo = TestRepo::with_fake_engine("claude");
    repo.script(json!([[emit(&plan_answer(&["01-a"]))]]));
    repo.godzilla(&["protocol", "new", "shown", "-d", "Write a.txt"])
        .expect(0);
    let show = repo
        .godzilla(&["protocol", "show", "0001-shown"])
        .expect(0)
        .stdout;
    assert!(show.contains("plan:"), "{show}");
    assert!(show.contains("Write the files."), "{show}");
}

#[test]
fn test_control_refused_controls_are_explained_in_words() {
    let repo = TestRepo::initialized();
    let (id, _) = repo.new_protocol("ctl", &[("01-a.md", "# A\nx\n")]);
    repo.godzilla(&["protocol", "cancel", &id]).expect(0);
    for (verb, word) in [
        ("cancel", "cancelled"),
        ("pause", "paused"),
        ("resume", "resumed"),
    ] {
        let run = repo.godzilla(&["protocol", verb, &id]);
        assert_eq!(run.code, Some(2), "{verb}: {}", run.stderr);
        assert!(
            !run.stderr.contains("cannot apply"),
            "{verb}: {}",
            run.stderr
        );
        let first = run.stderr.lines().next().unwrap_or_default();
        assert!(
            !first.contains('`'),
            "{verb}: no internal names: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("{id} is cancelled")) && run.stderr.contains(word),
            "{verb}: {}",
            run.stderr
        );
    }
}

#[test]
fn test_control_protocol_and_step_ids_take_short_forms_and_suggest() {
    let repo = TestRepo::initialized();
    repo.new_protocol("add login", STEPS);
    repo.new_protocol("sentence", STEPS);
    repo.new_protocol("add logout", STEPS);
    for short in ["2", "0002", "sentence", "sent", "0002-se", "0002-sentence"] {
        let show = repo
            .godzilla(&["--json", "protocol", "show", short])
            .expect(0)
            .json();
        assert_eq!(show["header"]["id"], "0002-sentence", "{short}");
    }
    let status = repo.godzilla(&["--json", "status", "3"]).expect(0).json();
    assert_eq!(status["protocols"][0]["id"], "0003-add-logout");
    let step = repo
        .godzilla(&["--json", "step", "show", "sent", "2"])
        .expect(0)
        .json();
    assert!(step.to_string().contains("02-beta"), "{step}");
    // A typo gets the closest id; an ambiguous prefix lists the candidates.
    let typo = repo.godzilla(&["protocol", "show", "sentense"]).expect(2);
    assert!(
        typo.stderr.contains("did you mean `0002-sentence`?"),
        "{}",
        typo.stderr
    );
    let many = repo.godzilla(&["protocol", "pause", "add"]).expect(2);
    assert!(
        many.stderr.contains("0001-add-login") && many.stderr.contains("0003-add-logout"),
        "{}",
        many.stderr
    );
    let step_typo = repo.godzilla(&["step", "show", "2", "02-betta"]).expect(2);
    assert!(
        step_typo.stderr.contains("did you mean `02-beta`?"),
        "{}",
        step_typo.stderr
    );
}

fn complete(repo: &TestRepo, words: &[&str]) -> Vec<String> {
    let mut args = vec!["--", "godzilla"];
    args.extend_from_slice(words);
    let run = repo.godzilla_env(&args, &[("COMPLETE", "fish")]).expect(0);
    run.stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        // With nothing typed yet, options are offered too; the ids are what is tested.
        .filter(|w| !w.starts_with('-'))
        .collect()
}

#[test]
fn test_control_shell_completion_offers_protocol_and_step_ids() {
    let repo = TestRepo::initialized();
    repo.new_protocol("add login", STEPS);
    // (Two step files, not one: `step_dir` would reuse the first protocol's directory.)
    repo.new_protocol(
        "sentence",
        &[("01-only.md", "# Only\nx\n"), ("03-last.md", "# Last\ny\n")],
    );
    assert_eq!(
        complete(&repo, &["protocol", "show", "000"]),
        ["0001-add-login", "0002-sentence"]
    );
    assert_eq!(
        complete(&repo, &["protocol", "run", "sen"]),
        ["0002-sentence"]
    );
    assert_eq!(complete(&repo, &["status", "1"]), ["0001-add-login"]);
    // Steps come from the protocol named before them.
    assert_eq!(
        complete(&repo, &["step", "run", "0001-add-login", ""]),
        ["01-alpha", "02-beta"]
    );
    // clap's completer still offers `qa`'s one subcommand after a protocol (it cannot follow
    // one there: arguments conflict with it); the steps are all that follow otherwise.
    assert_eq!(
        complete(&repo, &["qa", "sentence", ""]),
        ["show", "01-only", "03-last"]
    );
    assert_eq!(
        complete(&repo, &["protocol", "retry", "1", "02"]),
        ["02-beta"]
    );
    // Subcommands still complete, and the printed scripts call back into godzilla.
    assert!(complete(&repo, &["proto"]).contains(&"protocol".to_owned()));
    let script = repo.godzilla(&["completions", "bash"]).expect(0).stdout;
    assert!(script.contains("COMPLETE=\"bash\""), "{script}");
}
