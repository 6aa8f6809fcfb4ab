//! Record and replay: a protocol run recorded with a real (scripted) engine, replayed in a
//! fresh clone without running any engine.

use std::path::Path;

use predicates::str::contains;
use serde_json::json;

use crate::support::TestRepo;

const STEPS: &[(&str, &str)] = &[
    ("01-alpha.md", "# Alpha\nWrite alpha.txt.\n"),
    ("02-beta.md", "# Beta\nWrite beta.txt and drop README.md.\n"),
];

fn exec(file: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut actions = vec![json!({"write": {"path": file, "content": format!("{file}\n")}})];
    if !extra.is_null() {
        actions.push(extra);
    }
    actions.push(json!({"emit_as": {"engine": "claude", "final_message": format!("wrote {file}"), "usage": {"input": 100, "output": 10}}}));
    serde_json::Value::Array(actions)
}

fn review(verdict: &str) -> serde_json::Value {
    json!([{"emit_as": {"engine": "claude", "final_message": format!("Looks right.\n\n**Verdict:** {verdict}"), "usage": {"input": 50, "output": 5}}}])
}

/// The code a branch holds (`.godzilla/` aside: event ids differ from run to run).
fn code(repo: &TestRepo, dir: &Path, branch: &str) -> String {
    repo.git_in(dir, &["ls-tree", "-r", branch])
        .lines()
        .filter(|l| !l.contains("\t.godzilla/"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each QA verdict of the protocol, in order: `step verdict`.
fn verdicts(wt: &Path, id: &str) -> Vec<String> {
    std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"].as_str().is_some_and(|t| t.starts_with("qa_")))
        .map(|e| format!("{} {}", e["step"].as_str().unwrap_or(""), e["type"]))
        .collect()
}

/// A clone of `origin`'s main branch with its own home, trusted like the original.
fn clone(origin: &TestRepo) -> TestRepo {
    let copy = TestRepo::empty_dir();
    copy.git_in(
        copy.root.parent().unwrap(),
        &["clone", "-q", origin.root.to_str().unwrap(), "repo"],
    );
    copy.godzilla(&["allow"]).expect(0);
    copy
}

#[test]
fn test_replay_reproduces_a_recorded_run_in_a_fresh_clone() {
    let origin = TestRepo::with_fake_engine("claude");
    let fresh = clone(&origin);
    let edited = clone(&origin);
    let recordings = origin.home().join("recordings");

    let (id, wt) = origin.new_protocol("rr", STEPS);
    origin.script(json!([
        exec("alpha.txt", json!(null)),
        review("FAIL"),
        exec("alpha.txt", json!(null)),
        review("PASS"),
        exec("beta.txt", json!({"delete": "README.md"})),
        review("PASS")
    ]));
    origin
        .godzilla(&[
            "--record",
            recordings.to_str().unwrap(),
            "protocol",
            "run",
            &id,
        ])
        .expect(0);
    assert_eq!(origin.calls().len(), 6);
    let files = std::fs::read_dir(&recordings).unwrap().count();
    assert!(files >= 5, "{files} recordings");
    let branch = format!("godzilla/{id}");

    // The clone replays the same protocol: same code, same verdicts, no engine started.
    let (id2, wt2) = fresh.new_protocol("rr", STEPS);
    assert_eq!(id2, id);
    let run = fresh
        .godzilla(&[
            "--json",
            "--replay",
            recordings.to_str().unwrap(),
            "protocol",
            "run",
            &id,
        ])
        .expect(0)
        .json();
    assert_eq!(run["status"], "completed");
    assert_eq!(origin.calls().len(), 6, "replay started no engine");
    assert_eq!(code(&fresh, &wt2, &branch), code(&origin, &wt, &branch));
    assert!(!wt2.join("README.md").exists());
    assert_eq!(verdicts(&wt2, &id), verdicts(&wt, &id));
    assert_eq!(
        verdicts(&wt, &id)
            .iter()
            .filter(|v| v.ends_with("\"qa_failed\""))
            .count(),
        1
    );
    fresh.godzilla_in(&wt2, &["fsck"], &[]).expect(0);

    // One step file changed: its first step still replays, the changed one is refused by name.
    let mut steps = STEPS.to_vec();
    steps[1].1 = "# Beta\nWrite beta.txt, keep README.md.\n";
    let (id3, wt3) = edited.new_protocol("rr", &steps);
    assert_eq!(id3, id);
    let refused = edited
        .godzilla(&[
            "--replay",
            recordings.to_str().unwrap(),
            "protocol",
            "run",
            &id,
        ])
        .expect(1);
    assert!(
        refused.stderr.contains(&format!(
            "{id}/02-beta/exec: no recorded transcript for this prompt (phase exec, prompt "
        )),
        "{}",
        refused.stderr
    );
    assert!(wt3.join("alpha.txt").is_file(), "step 01 was replayed");
    assert!(!wt3.join("beta.txt").exists());
    // The refusal came before the attempt started: the step is still pending.
    let status = edited.godzilla(&["--json", "status", &id]).expect(0).json();
    assert_eq!(
        status["protocols"][0]["step_counts"],
        json!({"completed": 1, "pending": 1})
    );
    edited.godzilla_in(&wt3, &["fsck"], &[]).expect(0);
    assert_eq!(origin.calls().len(), 6);
}

#[test]
fn test_replay_profile_without_transcripts_is_a_config_error() {
    let repo = TestRepo::new();
    repo.godzilla(&["init", "--engine", "replay"]).expect(0);
    repo.commit_all("init");
    let (id, _wt) = repo.new_protocol("x", &[("01-drop.md", "# Drop the production database\n")]);
    let run = repo.godzilla(&["protocol", "run", &id]).expect(2);
    assert!(
        run.stderr.contains("has no transcript directory"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    let mut config = repo.read(".godzilla/config.toml");
    config.push_str("\n[engines.rep]\nkind = \"replay\"\n");
    repo.write(".godzilla/config.toml", &config);
    let run = repo.godzilla(&["doctor"]);
    assert!(
        run.stdout.contains("has no transcript directory")
            || run.stderr.contains("has no transcript directory"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn test_replay_refuses_unrecorded_prompts_of_every_phase() {
    let repo = TestRepo::with_fake_engine("claude");
    let empty = repo.home().join("no-recordings");
    std::fs::create_dir_all(&empty).unwrap();
    let replay = ["--replay", empty.to_str().unwrap()];
    let discover = repo.godzilla(&[replay[0], replay[1], "discover"]).expect(1);
    assert!(
        discover
            .stderr
            .contains("no recorded transcript for this prompt (phase discovery, prompt "),
        "{}",
        discover.stderr
    );
    let plan = repo
        .godzilla(&[
            replay[0],
            replay[1],
            "protocol",
            "new",
            "p",
            "-d",
            "Drop the production database",
        ])
        .expect(1);
    assert!(
        plan.stderr.contains(
            "/plan/planning: no recorded transcript for this prompt (phase planning, prompt "
        ),
        "{}",
        plan.stderr
    );
    assert!(repo.calls().is_empty(), "no engine ran");
}

#[test]
fn test_replay_profile_record_option_records_that_engine() {
    let repo = TestRepo::with_fake_engine("claude");
    let recordings = repo.home().join("profile-recordings");
    let config = repo.read(".godzilla/config.toml").replace(
        "[engines.fake]\n",
        &format!("[engines.fake]\nrecord = \"{}\"\n", recordings.display()),
    );
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("record the fake engine");
    repo.godzilla(&["allow"]).expect(0);
    let (id, _wt) = repo.new_protocol("rec", &STEPS[..1]);
    repo.script(json!([exec("alpha.txt", json!(null))]));
    repo.godzilla(&["step", "run", &id, "01-alpha"]).expect(0);
    let files: Vec<_> = std::fs::read_dir(&recordings)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(rec["phase"], "exec");
    assert_eq!(rec["engine"], "fake");
    assert_eq!(rec["label"], format!("{id}/01-alpha/exec"));
    assert_eq!(rec["runs"][0]["files"][0]["path"], "alpha.txt");
    assert_eq!(rec["runs"][0]["final_message"], "wrote alpha.txt");
    // A relative directory would land in the worktree: refused as a config error. (The
    // project's config is read from the main checkout.)
    let path = repo.root.join(".godzilla/config.toml");
    let config = std::fs::read_to_string(&path).unwrap().replace(
        &format!("record = \"{}\"", recordings.display()),
        "record = \"recordings\"",
    );
    std::fs::write(&path, config).unwrap();
    repo.godzilla(&["step", "run", &id, "01-alpha", "--dry-run"])
        .assert()
        .code(2)
        .stderr(contains("must be an absolute directory"));
}
