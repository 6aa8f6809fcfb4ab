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

/// A repository whose engine is a shell-script agent that sleeps `sleep_secs` and then writes
/// `orphan-<pid>.txt` into its worktree. Each agent records its pid in `<dir>/starts`, and
/// takes a non-blocking `flock` on `<dir>/agent.flock`, appending to `<dir>/overlaps` when it
/// cannot: two agents alive at once leave a line there. Returns the repo, the protocol id and
/// its worktree, and the agent's bookkeeping directory.
fn sleeping_agent_repo(
    sleep_secs: u32,
) -> (TestRepo, String, std::path::PathBuf, std::path::PathBuf) {
    let repo = TestRepo::new();
    let dir = repo.home().join("agent");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("agent.sh");
    std::fs::write(
        &script,
        format!(
            "exec 9>>\"$AGENT_DIR/agent.flock\"\n\
             flock -n 9 || echo \"overlap $$\" >> \"$AGENT_DIR/overlaps\"\n\
             echo $$ >> \"$AGENT_DIR/starts\"\n\
             sleep {sleep_secs}\n\
             echo \"written by $$\" > \"orphan-$$.txt\"\n\
             echo done\n"
        ),
    )
    .unwrap();
    repo.godzilla(&["init", "--engine", "agent"]).expect(0);
    let mut config = repo.read(".godzilla/config.toml");
    config.push_str(&format!(
        "\n[engines.agent]\nkind = \"command\"\ncommand = \"/bin/sh\"\nargs = [\"{}\"]\nenv = [\"AGENT_DIR={}\"]\n",
        script.display(),
        dir.display()
    ));
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("init");
    repo.godzilla(&["allow"]).expect(0);
    let (id, wt) = repo.new_protocol("orphans", &[("01-a.md", "# A\nx\n")]);
    (repo, id, wt, dir)
}

fn agent_pids(dir: &std::path::Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("starts"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Whether `pid` runs (a zombie does not count: it does nothing and holds nothing).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

fn wait_for(what: &str, timeout: std::time::Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Issue 10.3: `kill -9` of godzilla while its agent works, then at once the same command
/// again, in a loop. The agent sleeps far longer than the kill delay, so an agent that outlived
/// its godzilla would overlap the next one. There must be no overlap, no agent left running,
/// and no orphan's file in any commit.
#[test]
fn test_crash_kill_9_leaves_no_agent_running() {
    let (repo, id, wt, dir) = sleeping_agent_repo(20);
    let rounds = 5;
    for round in 1..=rounds {
        let mut cmd = std::process::Command::new(crate::support::godzilla_bin());
        cmd.args(["protocol", "run", &id])
            .current_dir(&repo.root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        crate::support::hermetic(&mut cmd, repo.home());
        let mut child = cmd.spawn().unwrap();
        wait_for(
            &format!("agent {round} to start"),
            std::time::Duration::from_secs(30),
            || agent_pids(&dir).len() >= round,
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let pids = agent_pids(&dir);
    assert_eq!(pids.len(), rounds, "{pids:?}");
    let overlaps = std::fs::read_to_string(dir.join("overlaps")).unwrap_or_default();
    assert_eq!(overlaps, "", "agents overlapped");
    wait_for(
        "every agent to be gone",
        std::time::Duration::from_secs(10),
        || pids.iter().all(|p| !running(*p)),
    );
    let files = repo.git_in(&wt, &["log", "--all", "--name-only", "--format="]);
    assert!(!files.contains("orphan-"), "{files}");
    assert!(
        !std::fs::read_dir(&wt)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("orphan-")),
        "an orphan wrote into the worktree"
    );
}

/// Sends `signal` to `child` once the agent (the `n`th to start) runs, and returns how long
/// godzilla took to exit, and its exit status.
fn signal_once_agent_runs(
    child: &mut std::process::Child,
    dir: &std::path::Path,
    n: usize,
    signal: nix::sys::signal::Signal,
) -> (std::time::Duration, std::process::ExitStatus) {
    wait_for(
        "the agent to start",
        std::time::Duration::from_secs(30),
        || agent_pids(dir).len() >= n,
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let sent = std::time::Instant::now();
    nix::sys::signal::kill(pid, signal).unwrap();
    let deadline = sent + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (sent.elapsed(), status);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "godzilla did not exit"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Issue 11.3: SIGTERM (and SIGINT) to godzilla mid-run stops the agent's whole process group
/// within the grace, records the attempt as interrupted, and exits 128+signal. Three seconds
/// after the signal no process of the agent runs.
#[test]
fn test_crash_sigterm_stops_the_agent_and_records_the_attempt_interrupted() {
    use nix::sys::signal::Signal;
    let (repo, id, wt, dir) = sleeping_agent_repo(30);
    for (n, signal) in [(1, Signal::SIGTERM), (2, Signal::SIGINT)] {
        let mut cmd = std::process::Command::new(crate::support::godzilla_bin());
        cmd.args(["protocol", "run", &id])
            .current_dir(&repo.root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        crate::support::hermetic(&mut cmd, repo.home());
        let mut child = cmd.spawn().unwrap();
        let (took, status) = signal_once_agent_runs(&mut child, &dir, n, signal);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        std::thread::sleep(std::time::Duration::from_secs(3).saturating_sub(took));
        let alive: Vec<i32> = agent_pids(&dir)
            .into_iter()
            .filter(|p| running(*p))
            .collect();
        assert_eq!(alive, Vec::<i32>::new(), "agent processes left after 3 s");
        assert_eq!(status.code(), Some(128 + signal as i32), "{stderr}");
        assert!(took < std::time::Duration::from_secs(10), "{took:?}");
        let events =
            std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/events.jsonl")))
                .unwrap();
        let interrupted = events
            .lines()
            .filter(|l| l.contains("\"step_interrupted\""))
            .count();
        assert_eq!(interrupted, n, "{events}");
        let runs = std::fs::read_dir(wt.join(format!(".godzilla/protocols/{id}/runs")))
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path())
                    .unwrap()
                    .contains("\"classification\": \"interrupted\"")
            })
            .count();
        assert_eq!(runs, n);
    }
    // The interrupted attempts are void: the step runs again and the protocol goes on.
    let show = repo.godzilla(&["--json", "status", &id]).expect(0).json();
    assert_eq!(show["protocols"][0]["status"], "running", "{show}");
}

/// Issue 11.3: `doctor --run`'s trial run is stopped the same way.
#[test]
fn test_crash_sigterm_stops_the_doctor_trial() {
    let (repo, _id, _wt, dir) = sleeping_agent_repo(30);
    let mut cmd = std::process::Command::new(crate::support::godzilla_bin());
    cmd.args(["doctor", "--run"])
        .current_dir(&repo.root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    crate::support::hermetic(&mut cmd, repo.home());
    let mut child = cmd.spawn().unwrap();
    let (took, status) =
        signal_once_agent_runs(&mut child, &dir, 1, nix::sys::signal::Signal::SIGTERM);
    std::thread::sleep(std::time::Duration::from_secs(3).saturating_sub(took));
    let alive: Vec<i32> = agent_pids(&dir)
        .into_iter()
        .filter(|p| running(*p))
        .collect();
    assert_eq!(alive, Vec::<i32>::new(), "agent processes left after 3 s");
    assert_eq!(status.code(), Some(143));
}

/// godzilla takes SIGINT/SIGTERM/SIGHUP for an orderly stop; its children must still start
/// with those signals deliverable (no blocked mask inherited), or the runner's SIGTERM to an
/// engine's group does nothing and only the SIGKILL after the grace ends it.
#[test]
fn test_crash_agents_start_with_no_blocked_signals() {
    let repo = crate::support::TestRepo::new();
    let dir = tempfile::tempdir().unwrap();
    // The agent is `cp` copying its own /proc status, not a shell: dash clears its signal mask
    // when it starts, so an agent run through `sh` would hide a mask godzilla passed on.
    let copy = dir.path().join("status");
    repo.godzilla(&["init", "--engine", "agent"]).expect(0);
    let mut config = repo.read(".godzilla/config.toml");
    config.push_str(&format!(
        "\n[engines.agent]\nkind = \"command\"\ncommand = \"/bin/cp\"\nargs = [\"/proc/self/status\", \"{}\"]\n",
        copy.display()
    ));
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("init");
    repo.godzilla(&["allow"]).expect(0);
    let (id, _wt) = repo.new_protocol("mask", &[("01-a.md", "# A\nx\n")]);
    let (queued, _wt) = repo.new_protocol("queued", &[("01-a.md", "# A\nx\n")]);
    // Directly, and as a queue job run by a worker (a `queue exec` process of its own).
    for args in [
        &["step", "run", &id, "01-a"][..],
        &["step", "run", "--async", &queued, "01-a"],
    ] {
        // Absent before the first run: nothing to remove then.
        std::fs::remove_file(&copy).ok();
        repo.godzilla(args);
        if args.contains(&"--async") {
            repo.godzilla(&["worker", "--once"]);
        }
        let status = std::fs::read_to_string(&copy).unwrap();
        let field = |name: &str| {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
        };
        const STOPS: u64 = (1 << (1 - 1)) | (1 << (2 - 1)) | (1 << (15 - 1)); // HUP, INT, TERM
        assert_eq!(
            field("SigBlk:") & STOPS,
            0,
            "{args:?}: the agent started with SIGHUP/SIGINT/SIGTERM blocked:\n{status}"
        );
        assert_eq!(
            field("SigIgn:") & STOPS,
            0,
            "{args:?}: the agent started ignoring SIGHUP/SIGINT/SIGTERM:\n{status}"
        );
    }
}
