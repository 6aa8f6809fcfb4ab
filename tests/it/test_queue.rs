//! The local work queue: `queue add|ls|wait|cancel|retry`, `godzilla worker`, `--async`,
//! stale claims, workers killed mid-job, and a Jepsen-style run of many workers killed at
//! random (CI-sized by default; `GODZILLA_QUEUE_JEPSEN_JOBS=500` for the full 8 x 500).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use predicates::str::contains;
use serde_json::json;

use crate::support::{TestRepo, godzilla_bin, hermetic};

fn queue_dir(repo: &TestRepo) -> PathBuf {
    repo.root.join(".git/godzilla/queue")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A spawned process that is killed if the test fails before it ends.
struct KillOnDrop(Child);

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.0.kill().ok();
            self.0.wait().ok();
        }
    }
}

fn spawn_godzilla(repo: &TestRepo, args: &[&str], stdout: Stdio) -> KillOnDrop {
    let mut cmd = Command::new(godzilla_bin());
    hermetic(&mut cmd, repo.home());
    cmd.current_dir(&repo.root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .map(KillOnDrop)
        .expect("spawn godzilla")
}

/// Kills `worker` and waits at most 2 s (the issue's bound) for `pid`, a process of the job it
/// ran, to be gone.
fn kill_worker_and_wait_for(mut worker: KillOnDrop, pid: i32, what: &str) {
    worker.kill().unwrap();
    worker.wait().unwrap();
    let killed = Instant::now();
    wait_for(
        &format!("{what} to die with its worker"),
        Duration::from_secs(2),
        || pid_gone(pid),
    );
    eprintln!("{what} gone {:?} after its worker", killed.elapsed());
}

/// Runs `worker --once` until the job `id` has its completion record.
fn run_once_until_done(repo: &TestRepo, id: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !queue_dir(repo).join(format!("done/{id}.json")).exists() {
        assert!(Instant::now() < deadline, "the job never ran again");
        repo.godzilla(&["worker", "--once"]).expect(0);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn add(repo: &TestRepo, extra: &[&str], argv: &[&str]) -> String {
    let mut args = vec!["queue", "add"];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(argv);
    repo.godzilla(&args).expect(0).stdout.trim().to_owned()
}

fn completion(repo: &TestRepo, id: &str) -> serde_json::Value {
    let path = queue_dir(repo).join(format!("done/{id}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn pid_gone(pid: i32) -> bool {
    // A zombie (its parent died and nobody reaped it yet) no longer runs.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn test_queue_worker_exit_codes_retries_and_corrupt_files() {
    let repo = TestRepo::initialized();
    let ok = add(&repo, &[], &["sh", "-c", "echo fine"]);
    let negative = add(&repo, &[], &["sh", "-c", "exit 3"]);
    let usage = add(
        &repo,
        &[],
        &["sh", "-c", "echo 'error: no such thing' >&2; exit 2"],
    );
    let flaky = add(
        &repo,
        &["--max-attempts", "3"],
        &[
            "sh",
            "-c",
            "echo x >> flaky.count; [ $(wc -l < flaky.count) -ge 2 ]",
        ],
    );
    let broken = add(
        &repo,
        &["--max-attempts", "2"],
        &["sh", "-c", "echo 'error: boom' >&2; exit 1"],
    );
    std::fs::write(
        queue_dir(&repo).join("new/0000000000aa-000001.1"),
        "{not json",
    )
    .unwrap();

    let run = repo.godzilla(&["worker", "-j", "2", "--once"]).expect(0);
    assert!(run.stderr.contains("moved aside"), "{}", run.stderr);

    assert_eq!(completion(&repo, &ok)["status"], "succeeded");
    assert_eq!(completion(&repo, &negative)["status"], "negative");
    let c = completion(&repo, &usage);
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_u64()),
        (Some("failed"), Some(1))
    );
    assert_eq!(c["reason"], "no such thing");
    let c = completion(&repo, &flaky);
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_u64()),
        (Some("succeeded"), Some(2))
    );
    let c = completion(&repo, &broken);
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_u64()),
        (Some("failed"), Some(2))
    );
    assert_eq!(c["reason"], "attempt 2 of 2: boom");

    // `queue wait` exits with the job's own exit code.
    for (id, code) in [(&ok, 0), (&negative, 3), (&usage, 2), (&broken, 1)] {
        repo.godzilla(&["queue", "wait", id]).expect(code);
    }
    // Bad input is set aside and reported, never run, never lost.
    assert_eq!(
        names(&queue_dir(&repo).join("corrupt")),
        ["0000000000aa-000001.1.corrupt"]
    );
    let status = repo.godzilla(&["status"]).expect(0);
    assert!(status.stdout.contains("2 failed"), "{}", status.stdout);
    assert!(
        status.stderr.contains("corrupt job file"),
        "{}",
        status.stderr
    );

    // A failed job can be queued again; a finished one cannot be cancelled.
    repo.godzilla(&["queue", "cancel", &broken]).expect(2);
    repo.godzilla(&["queue", "retry", &broken]).expect(0);
    assert_eq!(
        names(&queue_dir(&repo).join("new")),
        [format!("{broken}.1")]
    );
    repo.godzilla(&["queue", "cancel", &broken]).expect(0);
    repo.godzilla(&["queue", "wait", &broken]).expect(130);

    // Nothing is left behind but records and logs.
    for dir in ["tmp", "new", "cur", "claims", "cancel", "workers", "spare"] {
        assert!(
            names(&queue_dir(&repo).join(dir)).is_empty(),
            "{dir} not empty"
        );
    }
    repo.godzilla(&["queue", "purge", "--all"]).expect(0);
    assert!(names(&queue_dir(&repo).join("done")).is_empty());

    // An idle worker exits when told to.
    let started = Instant::now();
    repo.godzilla(&["worker", "--idle-exit", "1"]).expect(0);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The claim record a worker writes, for a hand-made claim.
fn holder(
    host: &str,
    boot: &str,
    pid: u32,
    start_time: u64,
    lease_until_ms: u64,
) -> serde_json::Value {
    json!({"worker": format!("{host}:{pid}"), "host": host, "boot_id": boot, "pid": pid,
           "start_time": start_time, "claimed_ms": 0, "lease_until_ms": lease_until_ms})
}

fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn test_queue_stale_claim_matrix() {
    let repo = TestRepo::initialized();
    let read = |p: &str| std::fs::read_to_string(p).unwrap().trim().to_owned();
    let (host, boot) = (
        read("/proc/sys/kernel/hostname"),
        read("/proc/sys/kernel/random/boot_id"),
    );
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let mut live = KillOnDrop(Command::new("sleep").arg("60").spawn().unwrap());
    let live_pid = live.id();
    let live_start = start_time(live_pid);
    let now = now_ms();
    // (case, claim record, taken over?)
    let cases: Vec<(&str, Option<serde_json::Value>, bool)> = vec![
        (
            "dead pid",
            Some(holder(&host, &boot, dead_pid, 1, u64::MAX)),
            true,
        ),
        (
            "reused pid",
            Some(holder(&host, &boot, live_pid, live_start + 1, u64::MAX)),
            true,
        ),
        (
            "live pid",
            Some(holder(&host, &boot, live_pid, live_start, 0)),
            false,
        ),
        (
            "other boot",
            Some(holder(
                &host,
                "another-boot",
                live_pid,
                live_start,
                u64::MAX,
            )),
            true,
        ),
        (
            "other host, lease running",
            Some(holder("elsewhere", &boot, dead_pid, 1, now + 600_000)),
            false,
        ),
        (
            "other host, lease expired",
            Some(holder("elsewhere", &boot, live_pid, live_start, now - 1)),
            true,
        ),
        // pid 1 answers EPERM to an unprivileged user; as root it is alive with this start
        // time. Either way it proves nothing.
        (
            "EPERM pid 1",
            Some(holder(&host, &boot, 1, start_time(1), 0)),
            false,
        ),
        ("malformed record", None, false),
    ];
    let mut ids = Vec::new();
    for (case, record, _) in &cases {
        let id = add(&repo, &[], &["sh", "-c", "echo ran"]);
        let name = format!("{id}.1");
        let q = queue_dir(&repo);
        std::fs::rename(q.join("new").join(&name), q.join("cur").join(&name)).unwrap();
        std::fs::create_dir_all(q.join("claims")).unwrap();
        let bytes = match record {
            Some(r) => serde_json::to_vec(r).unwrap(),
            None => b"{\"worker\": 12".to_vec(),
        };
        std::fs::write(q.join("claims").join(&name), bytes).unwrap();
        ids.push((case, id));
    }
    // `queue ls` explains, before any worker acts, which claims stand.
    let ls = repo.godzilla(&["--json", "queue", "ls"]).expect(0).json();
    for (case, id) in &ids {
        let view = ls["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == **id)
            .unwrap();
        assert_eq!(view["state"], "stale", "{case}: {view}");
    }
    // A claim of a dead worker whose job file does not parse: set aside and reported.
    let q = queue_dir(&repo);
    let garbled = "0000000000bb-000002.1";
    std::fs::write(q.join("cur").join(garbled), "{not json").unwrap();
    std::fs::write(
        q.join("claims").join(garbled),
        serde_json::to_vec(&holder(&host, &boot, dead_pid, 1, u64::MAX)).unwrap(),
    )
    .unwrap();
    let run = repo.godzilla(&["worker", "--once"]).expect(0);
    assert!(
        run.stderr.contains(&format!("{garbled}.corrupt")),
        "{}",
        run.stderr
    );
    assert_eq!(names(&q.join("corrupt")), [format!("{garbled}.corrupt")]);
    assert!(!q.join("claims").join(garbled).exists());
    for ((case, id), (_, _, taken_over)) in ids.iter().zip(&cases) {
        let done = queue_dir(&repo).join(format!("done/{id}.json")).exists();
        assert_eq!(done, *taken_over, "{case}");
        if *taken_over {
            let c = completion(&repo, id);
            assert_eq!(
                (c["status"].as_str(), c["attempts"].as_u64()),
                (Some("succeeded"), Some(2)),
                "{case}"
            );
        } else {
            assert!(
                queue_dir(&repo).join(format!("cur/{id}.1")).exists(),
                "{case}"
            );
        }
    }
    // A held claim whose processes are all gone stays visible, with its reason.
    let status = repo.godzilla(&["status"]).expect(0);
    assert!(status.stdout.contains("stale"), "{}", status.stdout);
    assert!(
        status.stdout.contains("no readable claim record"),
        "{}",
        status.stdout
    );
    live.kill().unwrap();
    live.wait().unwrap();
}

#[test]
fn test_queue_killed_worker_takes_its_engine_child_along() {
    let repo = TestRepo::initialized();
    // The "engine": records its pid, hangs on its first run, succeeds on the next.
    let id = add(
        &repo,
        &[],
        &[
            "sh",
            "-c",
            "echo $$ >> runs; [ -e first ] && exit 0; touch first; exec sleep 60",
        ],
    );
    let worker = spawn_godzilla(&repo, &["worker"], Stdio::null());
    let runs = repo.root.join("runs");
    wait_for("the engine to start", Duration::from_secs(20), || {
        std::fs::read_to_string(&runs).is_ok_and(|s| s.lines().count() == 1)
    });
    let engine: i32 = std::fs::read_to_string(&runs)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!pid_gone(engine));
    kill_worker_and_wait_for(worker, engine, "the engine");

    // The dead worker's job process lets go of the job's lock a moment after its worker died
    // (it polls for it); until then the job is not claimable and `--once` finds nothing.
    run_once_until_done(&repo, &id, Duration::from_secs(20));
    let c = completion(&repo, &id);
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_u64()),
        (Some("succeeded"), Some(2))
    );
    assert_eq!(
        std::fs::read_to_string(&runs).unwrap().lines().count(),
        2,
        "ran again exactly once"
    );
}

#[test]
fn test_queue_second_stop_request_releases_running_jobs() {
    let repo = TestRepo::initialized();
    let id = add(&repo, &[], &["sh", "-c", "echo $$ >> runs; exec sleep 60"]);
    let mut worker = spawn_godzilla(&repo, &["worker"], Stdio::null());
    let runs = repo.root.join("runs");
    wait_for("the job to start", Duration::from_secs(20), || {
        std::fs::read_to_string(&runs).is_ok_and(|s| s.ends_with('\n'))
    });
    let engine: i32 = std::fs::read_to_string(&runs)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(worker.id() as i32);
    // The first SIGTERM lets the job run on; the second stops it and puts it back.
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker waits for its job"
    );
    assert!(!pid_gone(engine));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = worker.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(pid_gone(engine));
    assert_eq!(
        names(&queue_dir(&repo).join("new")),
        [format!("{id}.1")],
        "released, same attempt"
    );
    assert!(names(&queue_dir(&repo).join("cur")).is_empty());
    assert!(names(&queue_dir(&repo).join("claims")).is_empty());
}

#[test]
fn test_queue_ctrl_c_lets_running_jobs_finish_and_status_shows_them() {
    let repo = TestRepo::initialized();
    // The job runs until the test lets it go; a second job waits behind it.
    let running = add(
        &repo,
        &[],
        &[
            "sh",
            "-c",
            "echo $$ > started; while [ ! -e go ]; do sleep 0.02; done; echo finished",
        ],
    );
    let mut cmd = Command::new(godzilla_bin());
    hermetic(&mut cmd, repo.home());
    // The worker leads its own group, as a shell's foreground job does: a Ctrl-C at the
    // terminal is a SIGINT to that whole group.
    use std::os::unix::process::CommandExt as _;
    let mut worker = cmd
        .current_dir(&repo.root)
        .args(["worker"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(KillOnDrop)
        .unwrap();
    wait_for("the job to start", Duration::from_secs(20), || {
        repo.root.join("started").exists()
    });
    let waiting = add(&repo, &[], &["sh", "-c", "echo second"]);

    // `status` shows the queued job, and the running one with its worker and for how long.
    let status = repo.godzilla(&["status"]).expect(0).stdout;
    assert!(status.contains("queue: 1 queued, 1 running"), "{status}");
    let line = status
        .lines()
        .find(|l| l.contains(&running))
        .unwrap_or_else(|| panic!("{status}"));
    let worker_label = format!(":{} for ", worker.id());
    assert!(
        line.trim_start().starts_with("running") && line.contains(&worker_label),
        "{line}"
    );
    let json = repo.godzilla(&["--json", "status"]).expect(0).json();
    assert_eq!(json["queue"]["queued"], 1, "{json}");
    assert_eq!(
        json["queue"]["running"][0]["id"],
        running.as_str(),
        "{json}"
    );

    // Ctrl-C: the running job goes on, no new job starts, and once it finished the worker
    // exits 0.
    let group = nix::unistd::Pid::from_raw(-(worker.id() as i32));
    nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker waits for its job"
    );
    let job_pid: i32 = std::fs::read_to_string(repo.root.join("started"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!pid_gone(job_pid), "Ctrl-C reached the job");
    std::fs::write(repo.root.join("go"), "").unwrap();
    let status = worker.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(completion(&repo, &running)["status"], "succeeded");
    assert_eq!(
        names(&queue_dir(&repo).join("new")),
        [format!("{waiting}.1")],
        "no new job started after Ctrl-C"
    );
    for dir in ["tmp", "cur", "claims", "cancel", "workers", "spare"] {
        assert!(
            names(&queue_dir(&repo).join(dir)).is_empty(),
            "{dir} not empty"
        );
    }
}

const STEP: &[(&str, &str)] = &[("01-only.md", "# Only\nWrite the file.\n")];

#[test]
fn test_queue_three_protocols_in_parallel_each_in_its_worktree() {
    let repo = TestRepo::with_fake_engine("claude");
    // One script per protocol, chosen by the fake engine from its working directory (the
    // fake engine's call counter is not shared safely); the project's config, read from the
    // main checkout, names their directory.
    let scripts = repo.home().join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    let config = repo.read(".godzilla/config.toml").replace(
        &repo.script_path().display().to_string(),
        &scripts.display().to_string(),
    );
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("one script per protocol");
    repo.godzilla(&["allow"]).expect(0);
    let mut protocols = Vec::new();
    for name in ["one", "two", "three"] {
        let (id, wt) = repo.new_protocol(name, STEP);
        let dir = scripts.join(&id);
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("script.json");
        std::fs::write(
            &script,
            serde_json::to_vec(&json!([
                [{"sleep_ms": 1500}, {"write": {"path": format!("{name}.txt"), "content": "x\n"}},
                 {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}],
                [{"emit_as": {"engine": "claude", "final_message": "Fine.\n\n**Verdict:** PASS", "usage": {"input": 1, "output": 1}}}]
            ]))
            .unwrap(),
        )
        .unwrap();
        protocols.push((id, wt, dir));
    }
    let jobs: Vec<String> = protocols
        .iter()
        .map(|(id, _, _)| {
            repo.godzilla(&["protocol", "run", "--async", id])
                .expect(0)
                .stdout
                .trim()
                .to_owned()
        })
        .collect();
    let started = Instant::now();
    repo.godzilla(&["worker", "-j", "3", "--once"]).expect(0);
    let wall = started.elapsed();
    let mut args = vec!["queue", "wait"];
    args.extend(jobs.iter().map(String::as_str));
    repo.godzilla(&args).expect(0);

    let mut durations = Vec::new();
    for ((id, wt, dir), job) in protocols.iter().zip(&jobs) {
        let c = completion(&repo, job);
        assert_eq!(c["status"], "succeeded", "{id}: {c}");
        durations.push(Duration::from_millis(
            c["finished_ms"].as_u64().unwrap() - c["claimed_ms"].as_u64().unwrap(),
        ));
        let status = repo.godzilla(&["--json", "status", id]).expect(0).json();
        assert_eq!(status["protocols"][0]["status"], "completed", "{id}");
        let calls = std::fs::read_to_string(dir.join("calls.jsonl")).unwrap();
        for call in calls.lines() {
            let call: serde_json::Value = serde_json::from_str(call).unwrap();
            assert_eq!(
                call["cwd"].as_str().unwrap(),
                wt.to_str().unwrap(),
                "{id} ran in its worktree"
            );
        }
        let name = id.split_once('-').unwrap().1;
        assert!(wt.join(format!("{name}.txt")).exists());
    }
    let slowest = *durations.iter().max().unwrap();
    let sum: Duration = durations.iter().sum();
    eprintln!("wall {wall:?}, slowest {slowest:?}, sum {sum:?}");
    assert!(
        wall < slowest + Duration::from_millis(1500),
        "wall {wall:?} vs slowest {slowest:?}"
    );
    assert!(
        wall * 10 < sum * 7,
        "wall {wall:?} vs sum {sum:?}: not parallel"
    );
}

#[test]
fn test_queue_killed_worker_takes_its_engine_along_and_the_step_runs_again() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _wt) = repo.new_protocol("solo", STEP);
    let pid_file = repo.home().join("engine-child.pid");
    // The engine's first run hangs with a child of its own; the second one does the work.
    repo.script(json!([
        [{"spawn_grandchild_sleep": pid_file.display().to_string()}, {"sleep_ms": 60000}],
        [{"write": {"path": "only.txt", "content": "x\n"}},
         {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}]
    ]));
    let job = repo
        .godzilla(&["step", "run", "--async", &id, "01-only"])
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let worker = spawn_godzilla(&repo, &["worker"], Stdio::null());
    wait_for("the engine to start", Duration::from_secs(30), || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| !s.trim().is_empty())
    });
    let engine_child: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The job process sees its worker gone, stops the engine's group with SIGTERM (engines
    // start with no blocked signals, so it takes effect at once) and records the attempt.
    kill_worker_and_wait_for(worker, engine_child, "the engine's child");

    // The interrupted attempt does not count as the job's work: the job runs the step again,
    // once.
    run_once_until_done(&repo, &job, Duration::from_secs(30));
    let c = completion(&repo, &job);
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_u64()),
        (Some("succeeded"), Some(2)),
        "{c}"
    );
    assert_eq!(
        repo.calls().len(),
        2,
        "the engine ran twice: killed, then once more"
    );
    let status = repo.godzilla(&["--json", "status", &id]).expect(0).json();
    assert_eq!(
        status["protocols"][0]["step_counts"]["needs_qa"], 1,
        "{status}"
    );
}

#[test]
fn test_queue_async_step_and_qa_and_missing_protocol() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _wt) = repo.new_protocol("solo", STEP);
    repo.script(json!([
        [{"write": {"path": "only.txt", "content": "x\n"}},
         {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}],
        [{"emit_as": {"engine": "claude", "final_message": "Fine.\n\n**Verdict:** PASS", "usage": {"input": 1, "output": 1}}}]
    ]));
    let step = repo
        .godzilla(&["step", "run", "--async", &id, "01-only"])
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    repo.godzilla(&["worker", "--once"]).expect(0);
    repo.godzilla(&["queue", "wait", &step]).expect(0);
    let qa = repo
        .godzilla(&["qa", "--async", &id, "01-only"])
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    repo.godzilla(&["worker", "--once"]).expect(0);
    repo.godzilla(&["queue", "wait", &qa]).expect(0);
    assert_eq!(repo.calls().len(), 2);

    // A succeeded job is not retried; and a second delivery of a job whose work is done
    // (a crash after the work, before the completion record) does nothing: the handler
    // checks state first.
    repo.godzilla(&["queue", "retry", &step]).expect(2);
    let q = queue_dir(&repo);
    let job = completion(&repo, &step)["job"].clone();
    std::fs::write(
        q.join(format!("new/{step}.2")),
        serde_json::to_vec(&job).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(q.join(format!("done/{step}.json"))).unwrap();
    repo.godzilla(&["worker", "--once"]).expect(0);
    let c = completion(&repo, &step);
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_u64()),
        (Some("succeeded"), Some(2)),
        "{c}"
    );
    assert!(
        c["reason"].as_str().unwrap().starts_with("nothing to do:"),
        "{c}"
    );
    let again = repo
        .godzilla(&["step", "run", "--async", &id, "01-only"])
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    // The step passed already: the job fails with the service's reason, no engine runs.
    repo.godzilla(&["worker", "--once"]).expect(0);
    let c = completion(&repo, &again);
    assert_eq!(c["exit_code"], 2, "{c}");
    assert!(
        c["reason"].as_str().unwrap().contains("already passed"),
        "{c}"
    );
    assert_eq!(repo.calls().len(), 2);

    // A protocol that does not exist is refused before anything is queued (ids are resolved
    // when they are typed).
    repo.godzilla(&["protocol", "run", "--async", "0099-gone"])
        .assert()
        .code(2)
        .stderr(contains("0099-gone"));
    // A queued job whose protocol is gone by the time it runs fails with that reason.
    let (doomed, doomed_wt) = repo.new_protocol("doomed", STEP);
    let job = repo
        .godzilla(&["protocol", "run", "--async", &doomed])
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    repo.git(&["worktree", "remove", "--force", doomed_wt.to_str().unwrap()]);
    repo.git(&["branch", "-D", &format!("godzilla/{doomed}")]);
    repo.godzilla(&["worker", "--once"]).expect(0);
    let c = completion(&repo, &job);
    assert_eq!(
        (c["status"].as_str(), c["exit_code"].as_i64()),
        (Some("failed"), Some(2)),
        "{c}"
    );
    assert!(c["reason"].as_str().unwrap().contains(&doomed), "{c}");
}

/// The observed history of one Jepsen run.
#[derive(Default)]
struct History {
    enqueued: BTreeSet<String>,
    starts: BTreeMap<String, u32>,
    ends: BTreeMap<String, u32>,
    overlaps: Vec<String>,
}

#[test]
fn test_queue_jepsen_workers_killed_at_random() {
    let per_worker: usize = std::env::var("GODZILLA_QUEUE_JEPSEN_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let workers = 8;
    let repo = TestRepo::initialized();
    let obs = repo.root.join("observer.log");
    // Each job: notes its start, checks no other execution of it is alive (the pid of the
    // last one must be gone), sleeps a few ms, and on its first run kills its own worker
    // with probability 2% (the job process's parent), then notes its end.
    let script = r#"
J=$1; O=$2
echo "start $J $$" >> "$O"
if [ -e "run-$J" ]; then P=$(cat "run-$J"); [ -d /proc/$P ] && ! grep -q '^[^)]*) Z' /proc/$P/stat 2>/dev/null && echo "overlap $J $P $$" >> "$O"; fi
echo $$ > "run-$J"
if [ "$3" = kill ] && [ ! -e "killed-$J" ]; then
  touch "killed-$J"
  W=$(sed 's/.*) //' /proc/$PPID/stat | cut -d' ' -f2)
  kill -9 "$W"; sleep 5
fi
sleep "0.00$4"
echo "end $J $$" >> "$O"
"#;
    std::fs::write(repo.root.join("job.sh"), script).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut history = History::default();
    let total = workers * per_worker;
    let mut argv_batch = Vec::new();
    for n in 0..total {
        let kill = if rng.u32(..100) < 2 { "kill" } else { "stay" };
        argv_batch.push((n, kill, rng.u32(1..10)));
    }
    let obs_s = obs.display().to_string();
    for (n, kill, sleep) in &argv_batch {
        let id = add(
            &repo,
            &["--max-attempts", "10"],
            &[
                "sh",
                "job.sh",
                &format!("j{n}"),
                &obs_s,
                kill,
                &sleep.to_string(),
            ],
        );
        history.enqueued.insert(id);
    }
    let spawn = |i: usize| {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(repo.root.join(format!("worker-{i}.jsonl")))
            .unwrap();
        spawn_godzilla(&repo, &["--json", "worker"], Stdio::from(out))
    };
    let started = Instant::now();
    let mut pool: Vec<KillOnDrop> = (0..workers).map(spawn).collect();
    let mut restarts = 0;
    let done_dir = queue_dir(&repo).join("done");
    while names(&done_dir).len() < total {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "stuck: {} of {total} done",
            names(&done_dir).len()
        );
        for (i, w) in pool.iter_mut().enumerate() {
            if w.try_wait().unwrap().is_some() {
                *w = spawn(i);
                restarts += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for w in &pool {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(w.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
    }
    for w in &mut pool {
        assert!(w.wait().unwrap().success());
    }
    let elapsed = started.elapsed();

    // The observer log: executions, as the jobs saw them.
    for line in std::fs::read_to_string(&obs).unwrap().lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "start" => *history.starts.entry(f[1].to_owned()).or_default() += 1,
            "end" => *history.ends.entry(f[1].to_owned()).or_default() += 1,
            "overlap" => history.overlaps.push(line.to_owned()),
            other => panic!("unexpected observer line {other}"),
        }
    }
    // The queue's records: one completion per job, and what the workers reported.
    let mut succeeded = BTreeSet::new();
    let mut unexpected = Vec::new();
    for name in names(&done_dir) {
        let Some(id) = name.strip_suffix(".json") else {
            unexpected.push(name);
            continue;
        };
        let c = completion(&repo, id);
        if !history.enqueued.contains(id) {
            unexpected.push(id.to_owned());
        } else if c["status"] == "succeeded" {
            succeeded.insert(id.to_owned());
        }
    }
    let mut finished_events: BTreeMap<String, u32> = BTreeMap::new();
    let mut claims = 0;
    for i in 0..workers {
        let text = std::fs::read_to_string(repo.root.join(format!("worker-{i}.jsonl")))
            .unwrap_or_default();
        for line in text.lines() {
            let e: serde_json::Value = serde_json::from_str(line).unwrap();
            match e["event"].as_str() {
                Some("started") => claims += 1,
                Some("finished") => {
                    *finished_events
                        .entry(e["completion"]["job"]["id"].as_str().unwrap().to_owned())
                        .or_default() += 1;
                }
                _ => {}
            }
        }
    }
    let lost = history.enqueued.difference(&succeeded).count();
    let duplicated_records = finished_events.values().filter(|n| **n > 1).count()
        + history.ends.values().filter(|n| **n > 1).count();
    let kills = argv_batch.iter().filter(|(_, k, _)| *k == "kill").count();
    eprintln!(
        "jepsen: {total} jobs, {workers} workers, {kills} kills, {restarts} restarts, {claims} claims, \
         {} executions, lost {lost}, unexpected {}, duplicated {duplicated_records}, overlapping {}, {elapsed:?}",
        history.starts.values().sum::<u32>(),
        unexpected.len(),
        history.overlaps.len()
    );
    assert_eq!(lost, 0, "lost jobs");
    assert!(unexpected.is_empty(), "unexpected: {unexpected:?}");
    assert_eq!(
        duplicated_records,
        0,
        "duplicated completions: {:?} {:?}\n{}",
        finished_events
            .iter()
            .filter(|(_, n)| **n > 1)
            .collect::<Vec<_>>(),
        history
            .ends
            .iter()
            .filter(|(_, n)| **n > 1)
            .collect::<Vec<_>>(),
        std::fs::read_to_string(&obs).unwrap()
    );
    assert!(
        history.overlaps.is_empty(),
        "overlapping executions: {:?}",
        history.overlaps
    );
    assert_eq!(history.ends.len(), total, "every job ran to its end once");
    assert!(restarts >= kills.min(1), "the kills happened");
    // A clean shutdown leaves no temp, claim or lock file.
    for dir in ["tmp", "new", "cur", "claims", "cancel"] {
        assert!(
            names(&queue_dir(&repo).join(dir)).is_empty(),
            "{dir} not empty"
        );
    }
}

#[test]
fn test_queue_jobs_of_one_protocol_take_turns() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _wt) = repo.new_protocol("turns", STEP);
    repo.script(json!([
        [{"sleep_ms": 1500}, {"write": {"path": "only.txt", "content": "x\n"}},
         {"emit_as": {"engine": "claude", "final_message": "done", "usage": {"input": 1, "output": 1}}}],
        [{"emit_as": {"engine": "claude", "final_message": "Fine.\n\n**Verdict:** PASS", "usage": {"input": 1, "output": 1}}}]
    ]));
    let first = repo
        .godzilla(&["protocol", "run", "--async", &id])
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let second = repo
        .godzilla(&["protocol", "run", "--async", &id])
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let run = repo
        .godzilla(&["--json", "worker", "-j", "2", "--once"])
        .expect(0);
    assert!(
        run.stdout.contains(r#""event":"deferred""#),
        "{}",
        run.stdout
    );
    let (a, b) = (completion(&repo, &first), completion(&repo, &second));
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("succeeded"), Some("succeeded"))
    );
    // Whichever ran second found the protocol completed and did nothing.
    let noted = [&a, &b]
        .iter()
        .filter(|c| {
            c["reason"]
                .as_str()
                .is_some_and(|r| r.contains("nothing to do"))
        })
        .count();
    assert_eq!(noted, 1, "{a}\n{b}");
    assert_eq!(repo.calls().len(), 2, "one execution and one review");
}

#[test]
fn test_queue_protocol_new_async_plans_in_the_worker() {
    let repo = TestRepo::with_fake_engine("claude");
    let answer = json!({"plan": "# Plan\nGreet.", "steps": [
        {"filename": "01-greet.md", "content": "# Greet\nAdd a greeting to README.md."}
    ]})
    .to_string();
    repo.script(json!([[{"expect_stdin_contains": "Add a greeting"},
        {"emit_as": {"engine": "claude", "final_message": answer, "usage": {"input": 5, "output": 5}}}]]));
    let run = repo
        .godzilla(&[
            "protocol",
            "new",
            "--async",
            "greeting",
            "-d",
            "Add a greeting",
        ])
        .expect(0);
    let job = run.stdout.trim().to_owned();
    assert!(run.stderr.contains("0001-greeting"), "{}", run.stderr);
    let before = repo
        .godzilla(&["--json", "status", "0001-greeting"])
        .expect(0)
        .json();
    assert_eq!(before["protocols"][0]["status"], "pending");
    assert_eq!(
        repo.calls().len(),
        0,
        "nothing planned before a worker runs"
    );
    repo.godzilla(&["worker", "--once"]).expect(0);
    repo.godzilla(&["queue", "wait", &job]).expect(0);
    let after = repo
        .godzilla(&["--json", "status", "0001-greeting"])
        .expect(0)
        .json();
    assert_eq!(after["protocols"][0]["status"], "planned");
}

#[test]
fn test_queue_crash_points_lose_nothing_and_record_once() {
    let repo = TestRepo::initialized();
    let q = queue_dir(&repo);
    // Enqueue dies before its rename: nothing was acknowledged and nothing is queued; the
    // temp file is litter a worker sweeps once it is old.
    let run = repo.godzilla_env(
        &["queue", "add", "--noop"],
        &[("GODZILLA_FAULT", "queue.deliver.before_rename")],
    );
    assert_ne!(run.code, Some(0));
    assert!(names(&q.join("new")).is_empty());
    assert_eq!(names(&q.join("tmp")).len(), 1);
    std::fs::remove_dir_all(q.join("tmp")).unwrap();

    for point in ["queue.claim.before_rename", "queue.complete.after_record"] {
        let id = repo
            .godzilla(&["queue", "add", "--noop"])
            .expect(0)
            .stdout
            .trim()
            .to_owned();
        let run = repo.godzilla_env(&["worker", "--once"], &[("GODZILLA_FAULT", point)]);
        assert_ne!(run.code, Some(0), "{point}: the worker should have died");
        repo.godzilla(&["worker", "--once"]).expect(0);
        let c = completion(&repo, &id);
        assert_eq!(c["status"], "succeeded", "{point}");
        // Dying before the claim rename leaves the job queued; dying after the record does
        // not run it again: either way one attempt, one record.
        assert_eq!(c["attempts"], 1, "{point}");
        assert_eq!(
            names(&q.join("done"))
                .iter()
                .filter(|n| n.starts_with(&id))
                .count(),
            1
        );
        for dir in ["new", "cur", "claims"] {
            assert!(names(&q.join(dir)).is_empty(), "{point}: {dir} not empty");
        }
    }

    // Dying while the completion record is half written leaves no record at all: it is
    // written in a spare file and linked into `done/` only once flushed, so nobody ever
    // meets a torn one. `queue wait` sees no result, and the next worker runs the job again
    // (and sweeps the dead worker's spare).
    let id = repo
        .godzilla(&["queue", "add", "--noop"])
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let run = repo.godzilla_env(
        &["worker", "--once"],
        &[("GODZILLA_FAULT", "queue.complete.torn_record")],
    );
    assert_ne!(run.code, Some(0), "the worker should have died");
    assert!(!q.join(format!("done/{id}.json")).exists());
    assert_eq!(
        names(&q.join("spare")).len(),
        1,
        "the torn record, unnamed in done/"
    );
    assert_eq!(names(&q.join("cur")), [format!("{id}.1")]);
    let wait = repo.godzilla(&["queue", "wait", "--timeout", "1", &id]);
    assert_eq!(wait.code, Some(1), "{}", wait.stderr);
    assert!(wait.stderr.contains("not finished"), "{}", wait.stderr);
    // `queue purge` also sweeps a dead worker's litter: its holder record and its spare.
    repo.godzilla(&["queue", "purge"]).expect(0);
    for dir in ["workers", "spare"] {
        assert!(names(&q.join(dir)).is_empty(), "purge: {dir} not empty");
    }
    repo.godzilla(&["worker", "--once"]).expect(0);
    let c = completion(&repo, &id);
    assert_eq!(
        (c["status"].as_str(), c["attempts"].as_u64()),
        (Some("succeeded"), Some(2)),
        "{c}"
    );
    for dir in ["new", "cur", "claims", "workers", "spare"] {
        assert!(names(&q.join(dir)).is_empty(), "torn: {dir} not empty");
    }
}
