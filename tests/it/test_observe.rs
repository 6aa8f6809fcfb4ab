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
        Self::spawn_reading(repo, args, false)
    }

    /// As [`Follower::spawn`], reading stderr instead of stdout when `stderr` is set.
    pub(crate) fn spawn_reading(repo: &TestRepo, args: &[&str], stderr: bool) -> Self {
        let mut cmd = Command::new(godzilla_bin());
        let (out, err) = if stderr {
            (Stdio::null(), Stdio::piped())
        } else {
            (Stdio::piped(), Stdio::null())
        };
        cmd.args(args)
            .current_dir(&repo.root)
            .stdout(out)
            .stderr(err)
            .stdin(Stdio::null());
        hermetic(&mut cmd, repo.home());
        let mut child = cmd.spawn().unwrap();
        let out: Box<dyn std::io::Read + Send> = if stderr {
            Box::new(child.stderr.take().unwrap())
        } else {
            Box::new(child.stdout.take().unwrap())
        };
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
    let (id, wt) = repo.new_protocol("greet", STEPS);
    repo.script(json!([slow_invocation("thinking", 1500, 0.01)]));
    let mut one = Follower::spawn(&repo, &["events", &id, "--follow"]);
    let mut all = Follower::spawn(&repo, &["--json", "log", "--follow", "--type", "step_*"]);
    one.wait_for("protocol_created", Duration::from_secs(10));
    let mut runner = background(&repo, &["step", "run", &id, "01-greet"]);
    let dir = wt.join(".godzilla");
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

fn claude_run(cost: f64, error: bool) -> serde_json::Value {
    let mut emit = json!({"engine": "claude", "final_message": "done",
        "usage": {"input": 1000, "cached": 100, "output": 250}, "cost_usd": cost});
    if error {
        emit["error"] = json!({"status": 500, "message": "overloaded server"});
    }
    json!([{"write": {"path": format!("out-{cost}.txt"), "content": "x\n"}}, {"emit_as": emit}])
}

fn total_cents(v: &serde_json::Value) -> i64 {
    (v.as_f64().unwrap() * 100.0).round() as i64
}

#[test]
fn test_observe_cost_totals_equal_the_run_records_and_survive_worktree_removal() {
    let repo = TestRepo::with_fake_engine("claude");
    let (id, wt) = repo.new_protocol("greet", STEPS);
    repo.script(json!([claude_run(0.0101, true), claude_run(0.0234, false)]));
    repo.godzilla(&["step", "run", &id, "01-greet"]).expect(1);
    repo.godzilla(&["step", "run", &id, "01-greet"]).expect(0);
    // The run records, read directly.
    let runs = wt.join(format!(".godzilla/protocols/{id}/runs"));
    let mut sum = 0.0;
    let mut tokens = 0;
    let mut count = 0;
    for entry in std::fs::read_dir(&runs).unwrap() {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        sum += v["cost_usd"].as_f64().unwrap();
        tokens += v["usage"]["input"].as_u64().unwrap() + v["usage"]["output"].as_u64().unwrap();
        count += 1;
        assert_eq!(v["cost_source"], "engine");
    }
    assert_eq!(count, 2);
    let want = (sum * 100.0).round() as i64;
    for by in ["protocol", "step", "model", "engine", "phase"] {
        let report = repo
            .godzilla(&["--json", "cost", &id, "--by", by])
            .expect(0)
            .json();
        assert_eq!(total_cents(&report["total"]["cost_usd"]), want, "--by {by}");
        assert_eq!(report["total"]["tokens"], tokens, "--by {by}");
        assert_eq!(report["total"]["runs"], 2, "--by {by}");
        let groups: i64 = report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["cost_usd"].as_f64().unwrap() * 1e6).round() as i64)
            .sum();
        assert_eq!(
            groups,
            (report["total"]["cost_usd"].as_f64().unwrap() * 1e6).round() as i64
        );
    }
    let human = repo.godzilla(&["cost", &id]).expect(0).stdout;
    assert!(human.contains(&format!("${sum:.2}")), "{human}");
    // Budgets are shown against spend (the project's config is read from the main checkout).
    let mut config = std::fs::read_to_string(repo.root.join(".godzilla/config.toml")).unwrap();
    config = config.replace(
        "# max_tokens_per_protocol = 2000000",
        "max_tokens_per_protocol = 10000",
    );
    std::fs::write(repo.root.join(".godzilla/config.toml"), config).unwrap();
    let human = repo.godzilla(&["cost", &id]).expect(0).stdout;
    let used = format!("{},{:03}", tokens / 1000, tokens % 1000);
    assert!(
        human.contains(&format!("budget {id}: {used} of 10,000 tokens")),
        "{human}"
    );
    repo.git_in(&wt, &["checkout", "--", ".godzilla/config.toml"]);
    // status shows tokens and cost.
    let status = repo.godzilla(&["--json", "status"]).expect(0).json();
    assert_eq!(total_cents(&status["protocols"][0]["cost_usd"]), want);
    assert_eq!(status["protocols"][0]["tokens"], tokens);
    let human = repo.godzilla(&["status"]).expect(0).stdout;
    assert!(
        human.contains(&format!("{tokens} tokens · ${sum:.2}")),
        "{human}"
    );

    // The worktree goes; inspection reads the branch.
    repo.git(&["worktree", "remove", "--force", wt.to_str().unwrap()]);
    let report = repo.godzilla(&["--json", "cost", &id]).expect(0).json();
    assert_eq!(total_cents(&report["total"]["cost_usd"]), want);
    let show = repo.godzilla(&["protocol", "show", &id]).expect(0).stdout;
    assert!(show.contains("01-greet"), "{show}");
    let step = repo
        .godzilla(&["step", "show", &id, "01-greet"])
        .expect(0)
        .stdout;
    assert!(
        step.contains("(2 attempts)") && step.contains("$0.0234"),
        "{step}"
    );
    let events = repo.godzilla(&["events", &id]).expect(0).stdout;
    assert!(events.contains("step_executed"), "{events}");
    let md = repo.godzilla(&["report", &id, "--md"]).expect(0).stdout;
    assert!(
        md.contains("| 01-greet Add a greeting | needs_qa | 2 |"),
        "{md}"
    );
    let step_log = repo
        .godzilla(&["step", "log", &id, "01-greet"])
        .expect(0)
        .stdout;
    assert!(step_log.contains("finished: engine_error"), "{step_log}");
    let watched = repo.godzilla(&["watch", &id]).expect(0).stdout;
    assert!(
        watched.contains("  01-greet needs_qa · 2 attempts"),
        "{watched}"
    );
}

#[test]
fn test_observe_protocol_run_prints_each_step_result_as_it_ends() {
    const TWO: &[(&str, &str)] = &[
        ("01-alpha.md", "# Alpha\nWrite alpha.txt.\n"),
        ("02-beta.md", "# Beta\nWrite beta.txt.\n"),
    ];
    let repo = TestRepo::with_fake_engine("claude");
    let (id, _) = repo.new_protocol("two", TWO);
    let review = json!([{"emit_as": {"engine": "claude", "final_message": "**Verdict:** PASS",
        "usage": {"input": 10, "output": 1}}}]);
    repo.script(json!([
        claude_run(0.01, false),
        review,
        slow_invocation("working on beta", 4000, 0.02),
        review
    ]));
    let mut run = Follower::spawn_reading(&repo, &["protocol", "run", &id], true);
    run.wait_for(
        &format!("{id} 01-alpha: ok → needs_qa"),
        Duration::from_secs(30),
    );
    run.wait_for(
        &format!("{id} 01-alpha: QA pass → completed"),
        Duration::from_secs(30),
    );
    // Step 1's result is out while step 2's engine is still working.
    let logs = repo.root.join(".git/godzilla/logs").join(&id);
    wait_on_disk(&logs, "working on beta", Duration::from_secs(30));
    let beta_done = run.seen.iter().any(|l| l.contains("02-beta: ok"));
    assert!(!beta_done, "{:?}", run.seen);
    run.wait_for(
        &format!("{id} 02-beta: QA pass → completed"),
        Duration::from_secs(30),
    );
}

#[test]
fn test_observe_cost_of_a_range_sums_the_protocols_merged_into_it() {
    let repo = TestRepo::with_fake_engine("claude");
    let (a, _) = repo.new_protocol("alpha", STEPS);
    let (b, _) = repo.new_protocol("beta", STEPS);
    repo.script(json!([
        claude_run(0.0123, false),
        claude_run(0.0456, false)
    ]));
    repo.godzilla(&["step", "run", &a, "01-greet"]).expect(0);
    repo.godzilla(&["step", "run", &b, "01-greet"]).expect(0);
    let cost_of = |scope: &str| {
        let v = repo.godzilla(&["--json", "cost", scope]).expect(0).json();
        (v["total"]["cost_usd"].as_f64().unwrap() * 1e6).round() as i64
    };
    let (ca, cb) = (cost_of(&a), cost_of(&b));
    assert!(ca > 0 && cb > 0 && ca != cb);
    // status: each protocol's own tokens and cost.
    let status = repo.godzilla(&["--json", "status"]).expect(0).json();
    for (p, want) in status["protocols"].as_array().unwrap().iter().zip([ca, cb]) {
        assert_eq!(
            (p["cost_usd"].as_f64().unwrap() * 1e6).round() as i64,
            want,
            "{p}"
        );
        assert_eq!(p["tokens"], 1250, "{p}");
    }
    // Nothing on main yet.
    let v = repo
        .godzilla(&["--json", "cost", "main..main"])
        .expect(0)
        .json();
    assert_eq!(v["total"]["runs"], 0);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    for id in [&a, &b] {
        repo.git(&[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "merge",
            &format!("godzilla/{id}"),
        ]);
    }
    assert_eq!(cost_of("main..HEAD"), ca + cb);
    let v = repo
        .godzilla(&["--json", "cost", "main..HEAD", "--by", "protocol"])
        .expect(0)
        .json();
    let keys: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [a.as_str(), b.as_str()]);
    let bad = repo.godzilla(&["cost", "no-such..thing"]).expect(2);
    assert!(
        bad.stderr
            .contains("neither a protocol nor a revision range"),
        "{}",
        bad.stderr
    );
}

#[test]
fn test_observe_readme_catalogue_lists_every_event_entry_and_price() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for kind in godzilla::domain::EventKind::ALL {
        assert!(
            readme.contains(&format!("| `{}` |", kind.as_str())),
            "README lacks event {kind}"
        );
    }
    use godzilla::services::platform::telemetry::transcript::EntryKind as E;
    for kind in [
        E::RunStarted,
        E::AgentMessage,
        E::ToolCall,
        E::ToolResult,
        E::Command,
        E::Usage,
        E::Error,
        E::Output,
        E::Stderr,
        E::RunFinished,
    ] {
        assert!(
            readme.contains(&format!("| `{}` |", kind.as_str())),
            "README lacks entry {kind:?}"
        );
    }
    for (model, price) in godzilla::services::platform::telemetry::prices::DEFAULTS {
        let cached = price.cached.unwrap_or(price.input);
        let row = format!(
            "| `{model}` | {:?} | {cached:?} | {:?} |",
            price.input, price.output
        );
        assert!(readme.contains(&row), "README lacks {row}");
    }
}

#[test]
fn test_observe_cost_from_prices_when_the_engine_reports_none() {
    let repo = TestRepo::with_fake_engine("codex");
    let (id, wt) = repo.new_protocol("priced", STEPS);
    let usage = json!({"input": 1_000_000, "cached": 400_000, "output": 100_000});
    repo.script(json!([
        [{"emit_as": {"engine": "codex", "final_message": "done", "usage": usage}}],
        [{"emit_as": {"engine": "codex", "final_message": "done", "usage": usage}}],
    ]));
    let run = repo
        .godzilla(&[
            "--json",
            "step",
            "run",
            &id,
            "01-greet",
            "--model",
            "gpt-5-mini",
        ])
        .expect(0)
        .json();
    // 0.6M × 0.25 + 0.4M × 0.025 + 0.1M × 2.0 per million = 0.15 + 0.01 + 0.2.
    assert_eq!(run["outcome"]["cost_usd"], 0.36);
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(wt.join(format!(
            ".godzilla/protocols/{id}/runs/{}.json",
            run["run_id"].as_str().unwrap()
        )))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(record["cost_source"], "prices");
    // A [prices] entry overrides the default list (protocols take main's config).
    let mut config = repo.read(".godzilla/config.toml");
    config.push_str("\n[prices.\"gpt-5-mini\"]\ninput = 1.0\noutput = 1.0\n");
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("prices");
    repo.godzilla(&["allow"]).expect(0);
    let (id2, _) = repo.new_protocol("priced-again", STEPS);
    let second = repo
        .godzilla(&[
            "--json",
            "step",
            "run",
            &id2,
            "01-greet",
            "--model",
            "gpt-5-mini",
        ])
        .expect(0)
        .json();
    // Cached input at the input price when the entry gives none: 1.0M × 1.0 + 0.1M × 1.0.
    assert_eq!(second["outcome"]["cost_usd"], 1.1);
}
