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

const CRASH_STEPS: &[(&str, &str)] = &[
    ("01-a.md", "# A\nx\n"),
    ("02-b.md", "# B\ny\n"),
    ("03-c.md", "# C\nz\n"),
];

/// Reads the prompt on stdin: an exec prompt names `# Your step: NN-x` and gets `fNN.txt`
/// written; anything else is a review and passes.
const CRASH_ENGINE: &str = r#"p=$(cat)
s=$(printf '%s\n' "$p" | sed -n 's/^# Your step: \([0-9]*\)-.*/\1/p')
if [ -n "$s" ]; then echo x > "f$s.txt"; echo done; else echo "Verdict: PASS"; fi"#;

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// `kill -9` of `protocol run` at random moments, then the same command again, until the
/// protocol completes: every protocol ends `completed`, no step starts again after it
/// passed, and fsck is clean. At least 200 kills in all (`GODZILLA_CRASH_KILLS` to change).
#[test]
fn test_crash_protocol_run_survives_kill_9() {
    let wanted: usize = std::env::var("GODZILLA_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut kills = 0;
    let mut trials = 0;
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        // xorshift: deterministic, so a failure reproduces.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    while kills < wanted {
        trials += 1;
        // A `command` engine that writes the step's file (and passes every review): a run of
        // `sh`, so kills land mostly in godzilla's own work. (Replay cannot serve here: after
        // a kill the attempt's diff, hence the review's prompt, may differ from any recorded.)
        let repo = TestRepo::new();
        repo.godzilla(&["init", "--engine", "rep"]).expect(0);
        let mut config = repo.read(".godzilla/config.toml");
        config.push_str(&format!(
            "\n[engines.rep]\nkind = \"command\"\ncommand = \"sh\"\nargs = [\"-c\", {}]\n",
            toml_string(CRASH_ENGINE)
        ));
        repo.write(".godzilla/config.toml", &config);
        repo.commit_all("init");
        repo.godzilla(&["allow"]).expect(0);
        let (id, wt) = repo.new_protocol("crash", CRASH_STEPS);

        let mut completed = false;
        for _attempt in 0..200 {
            let mut cmd = std::process::Command::new(crate::support::godzilla_bin());
            cmd.args(["protocol", "run", &id])
                .current_dir(&repo.root)
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(repo.home().join("stderr.txt")).unwrap());
            crate::support::hermetic(&mut cmd, repo.home());
            let mut child = cmd.spawn().unwrap();
            let delay = std::time::Duration::from_millis(next() % 250);
            let deadline = std::time::Instant::now() + delay;
            let mut status = None;
            while std::time::Instant::now() < deadline {
                if let Some(s) = child.try_wait().unwrap() {
                    status = Some(s);
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            match status {
                Some(s) if s.success() => {
                    completed = true;
                    break;
                }
                Some(s) => panic!(
                    "trial {trials}: protocol run failed on its own: {s:?}\n{}\n{}",
                    std::fs::read_to_string(repo.home().join("stderr.txt")).unwrap_or_default(),
                    repo.godzilla(&["protocol", "show", &id]).stdout
                ),
                None => {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    kills += 1;
                }
            }
        }
        if !completed {
            let run = repo.godzilla(&["protocol", "run", &id]);
            assert_eq!(
                run.code,
                Some(0),
                "trial {trials}: {}\n{}",
                run.stdout,
                run.stderr
            );
        }
        let status = repo.godzilla(&["--json", "status", &id]).expect(0).json();
        assert_eq!(
            status["protocols"][0]["status"], "completed",
            "trial {trials}"
        );
        // No step started again after it passed.
        let log =
            std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl")))
                .unwrap();
        let mut events: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        events.sort_by_key(|e| {
            (
                e["lamport"].as_u64().unwrap(),
                e["id"].as_str().unwrap().to_owned(),
            )
        });
        let mut passed = std::collections::BTreeSet::new();
        for e in &events {
            let step = e["step"].as_str().unwrap_or_default().to_owned();
            match e["type"].as_str().unwrap() {
                "qa_passed" => {
                    passed.insert(step);
                }
                "step_started" => assert!(
                    !passed.contains(&step),
                    "trial {trials}: {step} ran again after it passed"
                ),
                _ => {}
            }
        }
        let fsck = repo.godzilla_in(&wt, &["fsck"], &[]);
        assert_eq!(fsck.code, Some(0), "trial {trials}: {}", fsck.stdout);
    }
    eprintln!("{kills} kills over {trials} protocols");
}
