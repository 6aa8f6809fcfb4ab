//! Crash safety: abort at every durable-write point of an event append and a view update,
//! then `fsck --repair` must restore a consistent state with every acknowledged event kept.

use crate::support::TestRepo;

const POINTS: &[&str] = &[
    "events.append.before_write",
    "events.append.torn",
    "events.append.before_fsync",
    "events.append.after_fsync",
    "storage.write_atomic.before_rename",
    "storage.write_atomic.after_rename",
];

fn event_ids(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn test_crash_at_every_write_point_is_repairable() {
    for point in POINTS {
        let repo = TestRepo::initialized();
        let (id, wt) = repo.new_protocol("crash", &[("01-a.md", "# A\nx\n")]);
        let log = wt.join(format!(".godzilla/protocols/{id}/events.jsonl"));
        let acked = event_ids(&std::fs::read_to_string(&log).unwrap());
        assert_eq!(acked.len(), 5);

        let run = repo.godzilla_env(&["protocol", "pause", &id], &[("GODZILLA_FAULT", point)]);
        assert_eq!(
            run.code, None,
            "{point}: expected an abort, got {:?}\n{}",
            run.code, run.stderr
        );

        let repair = repo.godzilla_in(&wt, &["fsck", "--repair"], &[]);
        assert!(
            matches!(repair.code, Some(0)),
            "{point}: repair failed\n{}\n{}",
            repair.stdout,
            repair.stderr
        );
        let check = repo.godzilla_in(&wt, &["fsck"], &[]);
        assert_eq!(
            check.code,
            Some(0),
            "{point}: still inconsistent\n{}",
            check.stdout
        );

        let after = event_ids(&std::fs::read_to_string(&log).unwrap());
        for e in &acked {
            assert!(after.contains(e), "{point}: acknowledged event {e} lost");
        }
        // Before or after image, never a mix: the status is one of the two.
        let json = repo.godzilla(&["status", "--json"]).expect(0).json();
        let status = json["protocols"][0]["status"].as_str().unwrap().to_owned();
        assert!(
            status == "planned" || status == "paused",
            "{point}: status {status}"
        );
        let paused_logged = std::fs::read_to_string(&log)
            .unwrap()
            .contains("\"type\":\"paused\"");
        assert_eq!(
            status == "paused",
            paused_logged,
            "{point}: view and log disagree"
        );
        // No temp files left behind.
        let leftovers: Vec<_> = TestRepo::snapshot(&wt)
            .into_keys()
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".gz-"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: {leftovers:?}");
    }
}
