//! `godzilla watch` driven in tmux: it shows a running protocol's steps, refreshes from the
//! files, moves between protocols with the keyboard, and `q` quits and restores the terminal.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{TestRepo, godzilla_bin, hermetic};
use crate::test_observe::{STEPS, background, slow_invocation, wait_on_disk};
use crate::test_report::required_tool;

struct Tmux {
    bin: PathBuf,
    socket: PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "w"])
    }

    fn wait_screen(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pane(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "w", format])
            .trim()
            .to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _status = Command::new(&self.bin)
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// A script that runs `godzilla args` in `root` with the tests' pinned environment.
fn launcher(repo: &TestRepo, args: &str) -> PathBuf {
    let mut cmd = Command::new("true");
    hermetic(&mut cmd, repo.home());
    let mut script = String::from("#!/bin/sh\nexec env -i");
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            script.push_str(&format!(
                " '{}={}'",
                k.to_string_lossy(),
                v.to_string_lossy()
            ));
        }
    }
    script.push_str(&format!(
        " TERM=screen {} {args}\n",
        godzilla_bin().display()
    ));
    let path = repo.home().join("watch.sh");
    std::fs::write(&path, script).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    path
}

fn start(tmux: &Tmux, root: &Path, script: &Path) {
    tmux.run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "w",
        "-x",
        "140",
        "-y",
        "45",
        "-c",
        root.to_str().unwrap(),
        script.to_str().unwrap(),
    ]);
    // Keep the pane after the program exits, to check how it left the terminal.
    tmux.run(&["set-option", "-t", "w", "remain-on-exit", "on"]);
}

#[test]
fn test_watch_in_tmux_shows_refreshes_navigates_and_quits() {
    let Some(bin) = required_tool(&["tmux"], "tmux") else {
        return;
    };
    let repo = TestRepo::with_fake_engine("claude");
    let (busy, _) = repo.new_protocol("busy", STEPS);
    let (idle, _) = repo.new_protocol("idle", STEPS);
    repo.script(json!([slow_invocation("deep in thought", 3000, 0.02)]));
    let mut runner = background(&repo, &["step", "run", &busy, "01-greet"]);
    let logs = repo.root.join(".git/godzilla/logs").join(&busy);
    wait_on_disk(&logs, "deep in thought", Duration::from_secs(30));

    // A job nobody runs yet: the queue pane lists it.
    let queued = queue_add(&repo, &[], &["true"]);

    let tmux = Tmux {
        bin,
        socket: repo.home().join("tmux.sock"),
    };
    start(&tmux, &repo.root, &launcher(&repo, "watch"));
    tmux.wait_screen("the queue pane", |s| {
        s.contains("queue: 1 queued · 0 running · 0 failed")
            && s.contains("workers: none busy")
            && s.lines()
                .any(|l| l.contains(&queued) && l.contains("queued") && l.contains("command true"))
    });
    // The running step, its protocol, and what the agent is doing.
    let screen = tmux.wait_screen("the running step", |s| {
        s.contains(&format!("steps of {busy}")) && s.contains("01-greet") && s.contains("running")
    });
    assert!(screen.contains(&idle), "{screen}");
    tmux.wait_screen("the transcript", |s| s.contains("says: deep in thought"));
    assert_eq!(tmux.pane("#{alternate_on}"), "1");
    // It refreshes: the run ends and the step moves on without a key pressed.
    assert!(runner.wait().unwrap().success());
    tmux.wait_screen("the step after its run", |s| {
        s.contains("needs_qa") && s.contains("finished: ok")
    });
    // Keyboard: down selects the other protocol.
    tmux.run(&["send-keys", "-t", "w", "j"]);
    tmux.wait_screen("the second protocol's steps", |s| {
        s.contains(&format!("steps of {idle}"))
    });
    tmux.run(&["send-keys", "-t", "w", "k"]);
    tmux.wait_screen("the first protocol again", |s| {
        s.contains(&format!("steps of {busy}"))
    });
    // q quits with status 0 and gives the terminal back (main screen, no raw mode left over).
    tmux.run(&["send-keys", "-t", "w", "q"]);
    // Generous bounds: on a loaded 2-core CI machine the process can take a while to be reaped.
    let deadline = Instant::now() + Duration::from_secs(30);
    while tmux.pane("#{pane_dead}") != "1" {
        assert!(
            Instant::now() < deadline,
            "watch did not quit:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // tmux marks the pane dead when the terminal closes, and records how the process ended
    // once it is reaped: wait for that, then it must be a clean exit, never a signal.
    while tmux.pane("#{pane_dead_status}").is_empty()
        && tmux.pane("#{pane_dead_signal}").is_empty()
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(tmux.pane("#{pane_dead_signal}"), "", "{}", tmux.screen());
    let status = tmux.pane("#{pane_dead_status}");
    assert!(status.is_empty() || status == "0", "exit status {status}");
    assert_eq!(tmux.pane("#{alternate_on}"), "0");
    assert!(!tmux.screen().contains("steps of"), "{}", tmux.screen());
}

#[test]
fn test_watch_prints_plain_lines_when_not_a_terminal() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("plain", STEPS);
    repo.script(json!([slow_invocation("plain words", 0, 0.02)]));
    repo.godzilla(&["step", "run", &id, "01-greet"]).expect(0);
    let out = repo.godzilla(&["watch"]).expect(0).stdout;
    assert!(out.contains(&format!("{id} running")), "{out}");
    assert!(out.contains("  01-greet needs_qa · 1 attempts"), "{out}");
    assert!(out.contains("| 01-greet says: plain words"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "escape codes in plain output: {out:?}"
    );
    repo.godzilla(&["watch", "0042-nope"]).expect(2);
}

fn queue_add(repo: &TestRepo, extra: &[&str], argv: &[&str]) -> String {
    let mut args = vec!["queue", "add"];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(argv);
    repo.godzilla(&args).expect(0).stdout.trim().to_owned()
}

#[test]
fn test_watch_shows_the_queue_and_its_workers() {
    let repo = TestRepo::initialized();
    let failed = queue_add(&repo, &["--max-attempts", "1"], &["sh", "-c", "exit 1"]);
    let done = queue_add(&repo, &[], &["true"]);
    repo.godzilla(&["worker", "--once"]).expect(0);
    let long = queue_add(&repo, &[], &["sleep", "60"]);
    let mut worker = background(&repo, &["worker", "-j", "1"]);
    let running = |repo: &TestRepo| {
        let jobs = repo.godzilla(&["--json", "queue", "ls"]).expect(0).json();
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == long.as_str() && j["state"] == "running")
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !running(&repo) {
        assert!(Instant::now() < deadline, "the worker never took the job");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The worker runs one job at a time: this one waits.
    let waiting = queue_add(&repo, &[], &["echo", "later"]);
    let me = format!(":{}", worker.id());

    let snap = repo.godzilla(&["--json", "watch"]).expect(0).json();
    let jobs = snap["queue"].as_array().unwrap();
    let state = |id: &str| {
        jobs.iter()
            .find(|j| j["id"] == id)
            .map(|j| j["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state(&long).as_deref(), Some("running"), "{snap:#}");
    assert_eq!(state(&waiting).as_deref(), Some("queued"), "{snap:#}");
    assert_eq!(state(&failed).as_deref(), Some("failed"), "{snap:#}");
    // Succeeded jobs are history, not work: the pane leaves them out.
    assert_eq!(state(&done), None, "{snap:#}");
    let runner = jobs.iter().find(|j| j["id"] == long.as_str()).unwrap();
    assert!(
        runner["worker"].as_str().unwrap().ends_with(&me),
        "{runner}"
    );
    let workers = snap["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1, "{snap:#}");
    assert!(workers[0]["worker"].as_str().unwrap().ends_with(&me));
    assert_eq!(workers[0]["jobs"], json!([long]));

    let out = repo.godzilla(&["watch"]).expect(0).stdout;
    assert!(
        out.contains("queue: 1 queued · 1 running · 1 failed"),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.contains(&long)
            && l.contains("running")
            && l.contains(&me)
            && l.contains("command sleep 60")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(&waiting) && l.contains("queued")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(&failed) && l.contains("failed") && l.contains("exit 1")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("worker ") && l.contains(&me) && l.contains("1 job")),
        "{out}"
    );
    worker.kill().ok();
    worker.wait().ok();
}

#[test]
fn test_watch_step_run_spinner_shows_what_the_agent_is_doing() {
    let Some(bin) = required_tool(&["tmux"], "tmux") else {
        return;
    };
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("spin", STEPS);
    repo.script(json!([slow_invocation("deep in thought", 4000, 0.02)]));
    let tmux = Tmux {
        bin,
        socket: repo.home().join("tmux.sock"),
    };
    start(
        &tmux,
        &repo.root,
        &launcher(&repo, &format!("step run {id} 01-greet")),
    );
    // While the engine works, the spinner line names its latest transcript entry, not a
    // line count.
    let screen = tmux.wait_screen("the latest entry on the spinner", |s| {
        s.contains("runs `cargo test`")
    });
    assert_eq!(tmux.pane("#{pane_dead}"), "0", "{screen}");
    tmux.wait_screen("the step's result", |s| s.contains("needs_qa"));
}
