//! `godzilla status`.

use crate::support::TestRepo;

const STEPS: &[(&str, &str)] = &[
    ("01-setup.md", "# Setup\nPrepare.\n"),
    ("02-build.md", "# Build\nDo it.\n"),
];

#[test]
fn test_status_on_a_repo_without_godzilla() {
    let repo = TestRepo::new();
    let run = repo.godzilla(&["status"]).expect(0);
    assert_eq!(
        run.stdout,
        "godzilla is not set up in this repository yet. Run `godzilla init` to start.\n"
    );
}

#[test]
fn test_status_with_no_protocols() {
    let repo = TestRepo::initialized();
    let run = repo.godzilla(&["status"]).expect(0);
    assert!(
        run.stdout.starts_with("No protocols yet."),
        "{}",
        run.stdout
    );
    let json = repo.godzilla(&["status", "--json"]).expect(0).json();
    assert_eq!(
        json,
        serde_json::json!({"initialized": true, "protocols": []})
    );
}

#[test]
fn test_status_with_one_protocol() {
    let repo = TestRepo::initialized();
    let (id, worktree) = repo.new_protocol("Add login", STEPS);
    assert_eq!(id, "0001-add-login");
    assert!(
        worktree
            .join(".godzilla/protocols/0001-add-login/steps/02-build.md")
            .is_file()
    );
    let run = repo.godzilla(&["status"]).expect(0);
    let line = run.stdout.lines().next().unwrap();
    assert!(
        line.starts_with("0001-add-login  planned    2 steps: 2 pending"),
        "{line}"
    );
    let json = repo.godzilla(&["status", "--json"]).expect(0).json();
    let p = &json["protocols"][0];
    assert_eq!(p["id"], "0001-add-login");
    assert_eq!(p["status"], "planned");
    assert_eq!(p["steps"], 2);
    assert_eq!(p["step_counts"]["pending"], 2);
    assert_eq!(p["location"]["kind"], "worktree");
    // The branch carries the committed state.
    let log = repo.git(&["log", "--format=%s", "godzilla/0001-add-login"]);
    assert!(
        log.starts_with("godzilla(0001-add-login): create protocol"),
        "{log}"
    );
}

#[test]
fn test_status_with_many_protocols_numbers_them_in_order() {
    let repo = TestRepo::initialized();
    for name in ["alpha", "beta", "gamma"] {
        repo.new_protocol(name, STEPS);
    }
    let json = repo.godzilla(&["status", "--json"]).expect(0).json();
    let ids: Vec<&str> = json["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["0001-alpha", "0002-beta", "0003-gamma"]);
    // Duplicates by slug are refused.
    let dir = repo.step_dir(STEPS);
    let run = repo
        .godzilla(&[
            "protocol",
            "new",
            "Beta",
            "-d",
            "again",
            "--steps-from",
            dir.to_str().unwrap(),
        ])
        .expect(2);
    assert!(
        run.stderr.contains("already exists: 0002-beta"),
        "{}",
        run.stderr
    );
}

#[test]
fn test_status_sees_a_protocol_that_exists_only_on_its_branch() {
    let repo = TestRepo::initialized();
    let (id, worktree) = repo.new_protocol("remote work", STEPS);
    repo.git(&["worktree", "remove", "--force", worktree.to_str().unwrap()]);
    assert!(!worktree.exists());
    let json = repo.godzilla(&["status", "--json"]).expect(0).json();
    let p = &json["protocols"][0];
    assert_eq!(p["id"], id.as_str());
    assert_eq!(p["status"], "planned");
    assert_eq!(
        p["location"],
        serde_json::json!({"kind": "branch", "name": "godzilla/0001-remote-work"})
    );
    let human = repo.godzilla(&["status"]).expect(0);
    assert!(
        human.stdout.contains("(branch godzilla/0001-remote-work)"),
        "{}",
        human.stdout
    );
    // Numbering still counts it.
    let (next, _) = repo.new_protocol("next", STEPS);
    assert_eq!(next, "0002-next");
    // Changing it needs a worktree: a clear error, not a write somewhere else.
    let run = repo.godzilla(&["protocol", "pause", &id]).expect(2);
    assert!(
        run.stderr.contains("exists only on branch"),
        "{}",
        run.stderr
    );
}

#[test]
fn test_status_refuses_a_bad_protocol_argument() {
    let repo = TestRepo::initialized();
    let run = repo.godzilla(&["status", "../x"]).expect(2);
    assert!(
        run.stderr.starts_with("error: invalid protocol argument"),
        "{}",
        run.stderr
    );
}

#[test]
fn test_status_sees_through_a_stale_view() {
    let repo = TestRepo::initialized();
    let (id, worktree) = repo.new_protocol("stale", STEPS);
    let view = worktree.join(format!(".godzilla/protocols/{id}/status.json"));
    let old = std::fs::read_to_string(&view).unwrap();
    repo.godzilla(&["protocol", "pause", &id]).expect(0);
    // Put the old view back: the log moved on, so status must fold the log instead.
    std::fs::write(&view, old).unwrap();
    let json = repo.godzilla(&["status", "--json"]).expect(0).json();
    assert_eq!(json["protocols"][0]["status"], "paused");
}

#[test]
fn test_protocol_controls_follow_the_state_machine() {
    let repo = TestRepo::initialized();
    let (id, _) = repo.new_protocol("ctl", STEPS);
    repo.godzilla(&["protocol", "resume", &id]).expect(2);
    repo.godzilla(&["protocol", "pause", &id]).expect(0);
    let run = repo.godzilla(&["protocol", "resume", &id]).expect(0);
    assert_eq!(run.stdout, format!("{id} is now running\n"));
    repo.godzilla(&["protocol", "cancel", &id, "--reason", "no longer needed"])
        .expect(0);
    let json = repo.godzilla(&["status", "--json"]).expect(0).json();
    assert_eq!(json["protocols"][0]["status"], "cancelled");
    assert_eq!(json["protocols"][0]["step_counts"]["cancelled"], 2);
    let run = repo.godzilla(&["protocol", "pause", &id]).expect(2);
    assert!(
        run.stderr.contains(&format!(
            "protocol {id} is cancelled, so it cannot be paused"
        )),
        "{}",
        run.stderr
    );
}

/// `status` over many protocols reads their states from a machine-local index (#13); a change
/// made by another process afterwards (an append, or a log put back in place as a checkout
/// does) must show on the next `status` all the same.
#[test]
fn test_status_index_never_hides_a_change_made_after_it() {
    let repo = TestRepo::initialized();
    let (first, worktree) = repo.new_protocol("first", STEPS);
    let (second, _) = repo.new_protocol("second", STEPS);
    let statuses = |repo: &TestRepo| -> Vec<String> {
        let json = repo.godzilla(&["status", "--json"]).expect(0).json();
        json["protocols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["status"].as_str().unwrap().to_owned())
            .collect()
    };
    // Past the index's racy window, so that the next `status` trusts what it indexed.
    let settle = |repo: &TestRepo| {
        statuses(repo);
        std::thread::sleep(std::time::Duration::from_millis(250));
        statuses(repo)
    };
    assert_eq!(settle(&repo), ["planned", "planned"]);
    let tails = repo.root.join(".git/godzilla/cache/tails");
    assert!(
        std::fs::read_dir(&tails)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("status-")),
        "no state index was written"
    );

    let log = worktree.join(format!(".godzilla/protocols/{first}/events.jsonl"));
    let before_pause = std::fs::read(&log).unwrap();
    repo.godzilla(&["protocol", "pause", &first]).expect(0);
    assert_eq!(statuses(&repo), ["paused", "planned"]);

    assert_eq!(settle(&repo), ["paused", "planned"]);
    // The log put back in place (same inode, as an editor or a checkout may): the index entry
    // no longer matches, and so is not used.
    std::io::Write::write_all(
        &mut std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&log)
            .unwrap(),
        &before_pause,
    )
    .unwrap();
    assert_eq!(statuses(&repo), ["planned", "planned"]);
    let json = repo
        .godzilla(&["status", "--json", &second])
        .expect(0)
        .json();
    assert_eq!(json["protocols"][0]["status"], "planned");
}
