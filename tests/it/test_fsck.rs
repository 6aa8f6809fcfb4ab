//! `godzilla fsck`, and how every command treats damaged or hostile state files.

use std::path::PathBuf;

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::TestRepo;

const STEPS: &[(&str, &str)] = &[
    ("01-setup.md", "# Setup\nPrepare.\n"),
    ("02-build.md", "# Build\nDo it.\n"),
];

fn protocol_repo() -> (TestRepo, String, PathBuf) {
    let repo = TestRepo::initialized();
    let (id, worktree) = repo.new_protocol("demo", STEPS);
    (repo, id, worktree)
}

fn events_path(worktree: &std::path::Path, id: &str) -> PathBuf {
    worktree.join(format!(".godzilla/protocols/{id}/events.jsonl"))
}

#[test]
fn test_fsck_clean() {
    let (repo, id, wt) = protocol_repo();
    let run = repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
    assert_eq!(
        run.stdout,
        "clean: 1 protocols, 6 events, 0 problems (0 repaired)\n"
    );
    let json = repo
        .godzilla_in(&wt, &["fsck", "--json", &id], &[])
        .expect(0)
        .json();
    assert_eq!(json["problems"], serde_json::json!([]));
    assert_eq!(json["events"], 6);
    // From the main worktree, fsck covers every worktree.
    let run = repo.godzilla(&["fsck"]).expect(0);
    assert_eq!(
        run.stdout,
        "clean: 1 protocols, 6 events, 0 problems (0 repaired)\n"
    );
}

#[test]
fn test_fsck_torn_line_is_reported_then_repaired() {
    let (repo, id, wt) = protocol_repo();
    let log = events_path(&wt, &id);
    let mut bytes = std::fs::read(&log).unwrap();
    let whole = bytes.clone();
    bytes.extend_from_slice(b"{\"id\":\"abc\",\"lamp");
    std::fs::write(&log, &bytes).unwrap();

    let before = TestRepo::snapshot(&wt);
    let run = repo.godzilla_in(&wt, &["fsck"], &[]).expect(3);
    assert!(
        run.stdout.contains(&format!(
            "problem: .godzilla/protocols/{id}/events.jsonl (line 7): last line is partial"
        )),
        "{}",
        run.stdout
    );
    // fsck without --repair must not write.
    crate::support::assert_same(&before, &TestRepo::snapshot(&wt));
    // Status still answers, with a warning naming the file.
    let status = repo.godzilla(&["status"]).expect(0);
    assert!(
        status.stderr.contains("events.jsonl: line 7 is partial"),
        "{}",
        status.stderr
    );
    // Appending after a torn line is refused rather than gluing an event onto garbage.
    repo.godzilla(&["protocol", "pause", &id])
        .assert()
        .code(1)
        .stderr(contains("ends in a partial line").and(contains("fsck --repair")));

    let run = repo.godzilla_in(&wt, &["fsck", "--repair"], &[]).expect(0);
    assert!(run.stdout.contains("repaired: "), "{}", run.stdout);
    let repaired = std::fs::read(&log).unwrap();
    assert!(
        repaired.starts_with(&whole),
        "acknowledged events must survive"
    );
    assert!(String::from_utf8_lossy(&repaired[whole.len()..]).contains("\"type\":\"repaired\""));
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_fsck_stale_view_is_rebuilt() {
    let (repo, id, wt) = protocol_repo();
    let view = wt.join(format!(".godzilla/protocols/{id}/status.json"));
    let text = std::fs::read_to_string(&view)
        .unwrap()
        .replace("\"planned\"", "\"completed\"");
    std::fs::write(&view, text).unwrap();
    let run = repo.godzilla_in(&wt, &["fsck"], &[]).expect(3);
    assert!(
        run.stdout.contains("status.json (state): stale"),
        "{}",
        run.stdout
    );
    let run = repo.godzilla_in(&wt, &["fsck", "--repair"], &[]).expect(0);
    assert!(
        run.stdout.contains("rebuilt from events.jsonl"),
        "{}",
        run.stdout
    );
    assert!(
        std::fs::read_to_string(&view)
            .unwrap()
            .contains("\"planned\"")
    );
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);
}

#[test]
fn test_fsck_view_with_wrong_types_names_file_and_position() {
    let (repo, id, wt) = protocol_repo();
    let view = wt.join(format!(".godzilla/protocols/{id}/status.json"));
    std::fs::write(&view, "{\n  \"format\": \"one\"\n}\n").unwrap();
    let before = TestRepo::snapshot(&wt);
    let run = repo.godzilla_in(&wt, &["fsck"], &[]).expect(3);
    assert!(
        run.stdout.contains(&format!(
            ".godzilla/protocols/{id}/status.json (line 2 column"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("invalid type: string \"one\""),
        "{}",
        run.stdout
    );
    crate::support::assert_same(&before, &TestRepo::snapshot(&wt));
    // The log is the truth: status is unaffected.
    let json = repo.godzilla(&["status", "--json"]).expect(0).json();
    assert_eq!(json["protocols"][0]["status"], "planned");
}

#[test]
fn test_fsck_malformed_config() {
    let repo = TestRepo::initialized();
    repo.write(".godzilla/config.toml", "[qa]\npolicy = 3\n");
    let before = TestRepo::snapshot(&repo.root);
    let run = repo.godzilla(&["fsck"]).expect(3);
    assert!(
        run.stdout
            .contains("problem: .godzilla/config.toml: TOML parse error at line 2"),
        "{}",
        run.stdout
    );
    repo.godzilla(&["status"]).assert().code(2).stderr(
        contains("error: invalid ")
            .and(contains("config.toml"))
            .and(contains("policy")),
    );
    crate::support::assert_same(&before, &TestRepo::snapshot(&repo.root));
}

#[test]
fn test_fsck_future_format_is_refused() {
    let repo = TestRepo::initialized();
    repo.write(".godzilla/format", "7\n");
    let before = TestRepo::snapshot(&repo.root);
    repo.godzilla(&["fsck"]).assert().code(2).stderr(contains(
        "says format 7, but this godzilla understands only up to 1",
    ));
    repo.godzilla(&["status"]).expect(2);
    crate::support::assert_same(&before, &TestRepo::snapshot(&repo.root));
}

#[test]
fn test_fsck_bad_protocol_directory_names() {
    let repo = TestRepo::initialized();
    repo.write(".godzilla/protocols/x..y/events.jsonl", "");
    repo.write(".godzilla/protocols/0001-Upper/events.jsonl", "");
    let before = TestRepo::snapshot(&repo.root);
    let run = repo.godzilla(&["fsck"]).expect(3);
    assert!(
        run.stdout
            .contains("protocols/x..y: name `x..y` contains `..`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("protocols/0001-Upper: name `0001-Upper` contains an uppercase letter"),
        "{}",
        run.stdout
    );
    repo.godzilla(&["fsck", "../x"])
        .assert()
        .code(2)
        .stderr(contains("invalid protocol argument"));
    let status = repo.godzilla(&["status"]).expect(0);
    assert!(status.stderr.contains("x..y"), "{}", status.stderr);
    crate::support::assert_same(&before, &TestRepo::snapshot(&repo.root));
}

#[test]
fn test_fsck_invalid_event_line_in_the_middle() {
    let (repo, id, wt) = protocol_repo();
    let log = events_path(&wt, &id);
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(1, "{\"id\":\"x\",\"lamport\":\"two\"}");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let run = repo.godzilla_in(&wt, &["fsck"], &[]).expect(3);
    assert!(
        run.stdout
            .contains("events.jsonl (line 2): not a valid event"),
        "{}",
        run.stdout
    );
}
