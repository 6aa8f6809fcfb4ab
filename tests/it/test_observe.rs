//! Seeing what happens: live transcripts and the event stream followed from another process,
//! cost totals, status tokens and cost, and inspection of a protocol whose worktree is gone.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{TestRepo, godzilla_bin, hermetic};

pub(crate) const STEPS: &[(&str, &str)] = &[(
    "01-greet.md",
    "# Add a greeting\nWrite greet.txt saying hello.\n",
)];

/// A godzilla process whose stdout lines arrive, timestamped, on a channel.
pub(crate) struct Follower {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
    pub(crate) seen: Vec<String>,
}

impl Follower {
    pub(crate) fn spawn(repo: &TestRepo, args: &[&str]) -> Self {
        let mut cmd = Command::new(godzilla_bin());
        cmd.args(args)
            .current_dir(&repo.root)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null());
        hermetic(&mut cmd, repo.home());
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits (up to `limit`) for a line containing `needle`; returns when it arrived.
    pub(crate) fn wait_for(&mut self, needle: &str, limit: Duration) -> Instant {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) => {
                    let hit = line.contains(needle);
                    self.seen.push(line);
                    if hit {
                        return at;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle:?} within {limit:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Spawns `godzilla args` in the background (output discarded).
pub(crate) fn background(repo: &TestRepo, args: &[&str]) -> Child {
    let mut cmd = Command::new(godzilla_bin());
    cmd.args(args)
        .current_dir(&repo.root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    hermetic(&mut cmd, repo.home());
    cmd.spawn().unwrap()
}

/// Polls until a file under `dir` (recursively) contains `needle`; returns when it did.
pub(crate) fn wait_on_disk(dir: &Path, needle: &str, limit: Duration) -> (Instant, PathBuf) {
    let deadline = Instant::now() + limit;
    loop {
        for (path, bytes) in TestRepo::snapshot(dir) {
            if String::from_utf8_lossy(&bytes).contains(needle) {
                return (Instant::now(), path);
            }
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} never written under {dir:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A script whose agent says something, works for a while, then finishes.
pub(crate) fn slow_invocation(first: &str, sleep_ms: u64, cost: f64) -> serde_json::Value {
    json!([
        {"stdout_json": {"type": "assistant", "message": {"content": [
            {"type": "text", "text": first},
            {"type": "tool_use", "name": "Bash", "input": {"command": "cargo test"}}]}}},
        {"sleep_ms": sleep_ms},
        {"write": {"path": "greet.txt", "content": "hello\n"}},
        {"emit_as": {"engine": "claude", "final_message": "done",
                     "usage": {"input": 1000, "cached": 100, "output": 200}, "cost_usd": cost}}
    ])
}

#[test]
fn test_observe_step_log_follow_sees_another_process_within_a_second() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _wt) = repo.new_protocol("greet", STEPS);
    repo.script(json!([slow_invocation("first thought", 4000, 0.01)]));
    let mut follower = Follower::spawn(&repo, &["step", "log", &id, "01-greet", "--follow"]);
    let mut runner = background(&repo, &["step", "run", &id, "01-greet"]);
    let logs = repo.root.join(".git/godzilla/logs").join(&id);
    let (written, path) = wait_on_disk(&logs, "first thought", Duration::from_secs(30));
    assert!(path.extension().is_some_and(|e| e == "jsonl"), "{path:?}");
    let shown = follower.wait_for("says: first thought", Duration::from_secs(10));
    assert!(
        shown.saturating_duration_since(written) < Duration::from_secs(1),
        "shown {:?} after it was written",
        shown.saturating_duration_since(written)
    );
    // Seen while the engine still works, not when the run ends.
    assert!(
        runner.try_wait().unwrap().is_none(),
        "the run already ended"
    );
    follower.wait_for("runs `cargo test`", Duration::from_secs(5));
    follower.wait_for("finished: ok", Duration::from_secs(30));
    assert!(runner.wait().unwrap().success());
    // Without --follow: the whole transcript, then exit.
    let out = repo
        .godzilla(&["step", "log", &id, "01-greet"])
        .expect(0)
        .stdout;
    for needle in [
        "── run 01-greet-a1-",
        "says: first thought",
        "runs `cargo test`",
        "tokens so far",
        "finished: ok",
    ] {
        assert!(out.contains(needle), "{needle}:\n{out}");
    }
    let json = repo
        .godzilla(&["--json", "step", "log", &id, "01-greet"])
        .expect(0)
        .stdout;
    let types: Vec<String> = json
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("run_started"));
    assert_eq!(types.last().map(String::as_str), Some("run_finished"));
    assert!(
        types.contains(&"command".to_owned()) && types.contains(&"usage".to_owned()),
        "{types:?}"
    );
}

#[test]
fn test_observe_events_follow_sees_another_process_within_a_second() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _wt) = repo.new_protocol("greet", STEPS);
    repo.script(json!([slow_invocation("thinking", 1500, 0.01)]));
    let mut one = Follower::spawn(&repo, &["events", &id, "--follow"]);
    let mut all = Follower::spawn(&repo, &["--json", "log", "--follow", "--type", "step_*"]);
    one.wait_for("protocol_created", Duration::from_secs(10));
    let mut runner = background(&repo, &["step", "run", &id, "01-greet"]);
    let dir = repo.root.join(".git/godzilla/worktrees");
    let (written, _) = wait_on_disk(&dir, "\"step_started\"", Duration::from_secs(30));
    for follower in [&mut one, &mut all] {
        let shown = follower.wait_for("step_started", Duration::from_secs(10));
        assert!(
            shown.saturating_duration_since(written) < Duration::from_secs(1),
            "shown {:?} after it was written",
            shown.saturating_duration_since(written)
        );
    }
    all.wait_for("step_executed", Duration::from_secs(30));
    assert!(runner.wait().unwrap().success());
    // --type filtered: nothing but step events reached the JSON follower.
    for line in &all.seen {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["type"].as_str().unwrap().starts_with("step_"), "{line}");
    }
    // Filters refuse what they cannot mean.
    let bad = repo.godzilla(&["events", "--type", "nope"]).expect(2);
    assert!(
        bad.stderr.contains("unknown event type `nope`"),
        "{}",
        bad.stderr
    );
    let bad = repo
        .godzilla(&["events", "--since", "yesterday-ish"])
        .expect(2);
    assert!(bad.stderr.contains("neither"), "{}", bad.stderr);
    // --since in the future of the pinned clock shows nothing; a duration back shows all.
    let none = repo
        .godzilla(&["events", &id, "--since", "2001-02-04T00:00:00Z"])
        .expect(0);
    assert_eq!(none.stdout, "");
    let some = repo.godzilla(&["events", &id, "--since", "1h"]).expect(0);
    assert!(some.stdout.contains("step_executed"), "{}", some.stdout);
}
