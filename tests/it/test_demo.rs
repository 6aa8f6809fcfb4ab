//! `godzilla demo`: the main job, offline, with no API keys.

use crate::support::TestRepo;

#[test]
fn test_demo_runs_a_whole_protocol_offline() {
    let scratch = TestRepo::empty_dir();
    let dir = scratch.home().join("demo");
    let run = scratch
        .godzilla(&["--json", "demo", "--dir", dir.to_str().unwrap()])
        .expect(0);
    let json = run.json();
    assert_eq!(json["run"]["stop"]["stop"], "completed");
    assert_eq!(json["run"]["status"], "completed");
    assert_eq!(json["run"]["steps"].as_array().unwrap().len(), 2);
    let log = json["log"].as_str().unwrap();
    assert!(
        log.contains("\"kind\":\"exec\"") && log.contains("\"verdict\":\"pass\""),
        "{log}"
    );
    let worktree = std::path::PathBuf::from(json["worktree"].as_str().unwrap());
    assert!(
        std::fs::read_to_string(worktree.join("README.md"))
            .unwrap()
            .contains("GREETING.md")
    );
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    // The result is ordinary git: fsck agrees and a second demo in the same place is refused.
    scratch.godzilla_in(&worktree, &["fsck"], &[]).expect(0);
    scratch
        .godzilla(&["demo", "--dir", dir.to_str().unwrap()])
        .expect(1);
}
