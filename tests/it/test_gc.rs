//! `godzilla gc`: removes exactly the worktrees (and logs) that are provably safe to remove.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::TestRepo;
use crate::test_observe::{STEPS, background};

fn cancel_and_commit(repo: &TestRepo, id: &str, wt: &Path) {
    repo.godzilla(&["protocol", "cancel", id]).expect(0);
    repo.git_in(wt, &["add", "-A"]);
    repo.git_in(wt, &["commit", "-q", "-m", "cancelled"]);
}

fn merge(repo: &TestRepo, id: &str) {
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "merge",
        &format!("godzilla/{id}"),
    ]);
}

fn removed(report: &serde_json::Value) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"] == "worktree")
        .map(|e| PathBuf::from(e["path"].as_str().unwrap()))
        .collect();
    v.sort();
    v
}

fn kept_reason(report: &serde_json::Value, path: &Path) -> String {
    report["kept"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| Path::new(e["path"].as_str().unwrap()) == path)
        .map(|e| e["reason"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{path:?} not kept: {report:#}"))
}

#[test]
fn test_gc_removes_exactly_the_safe_worktrees() {
    let repo = TestRepo::initialized();
    let remote = repo.home().join("remote.git");
    repo.git(&["init", "-q", "--bare", remote.to_str().unwrap()]);
    repo.git(&["remote", "add", "origin", remote.to_str().unwrap()]);

    let (merged, merged_wt) = repo.new_protocol("merged", STEPS);
    let (pushed, pushed_wt) = repo.new_protocol("pushed", STEPS);
    let (unpushed, unpushed_wt) = repo.new_protocol("unpushed", STEPS);
    let (dirty, dirty_wt) = repo.new_protocol("dirty", STEPS);
    let (open, open_wt) = repo.new_protocol("open", STEPS);
    let (busy, busy_wt) = repo.new_protocol("busy", STEPS);
    for (id, wt) in [
        (&merged, &merged_wt),
        (&pushed, &pushed_wt),
        (&unpushed, &unpushed_wt),
        (&dirty, &dirty_wt),
        (&busy, &busy_wt),
    ] {
        cancel_and_commit(&repo, id, wt);
    }
    for id in [&merged, &dirty, &open, &busy] {
        merge(&repo, id);
    }
    repo.git(&["push", "-q", "origin", &format!("godzilla/{pushed}")]);
    std::fs::write(dirty_wt.join("notes.txt"), "work in progress\n").unwrap();
    // Logs: one for a removed worktree, one for a kept one, one whose protocol is gone.
    let logs = repo.root.join(".git/godzilla/logs");
    for id in [merged.as_str(), unpushed.as_str(), "0099-gone"] {
        std::fs::create_dir_all(logs.join(id)).unwrap();
        std::fs::write(logs.join(id).join("r.jsonl"), "{}\n").unwrap();
    }
    // Another process runs `busy`: it holds the run lock.
    let lock = repo
        .root
        .join(format!(".git/godzilla/locks/run-{busy}.lock"));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["sleep", "60"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("flock")
        .args(["-n"])
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < deadline, "the lock was never taken");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut safe = vec![merged_wt.clone(), pushed_wt.clone()];
    safe.sort();
    let all = [
        &merged_wt,
        &pushed_wt,
        &unpushed_wt,
        &dirty_wt,
        &open_wt,
        &busy_wt,
    ];

    // A dry run says what would go and removes nothing.
    let dry = repo
        .godzilla(&["--json", "gc", "--dry-run"])
        .expect(0)
        .json();
    assert_eq!(removed(&dry), safe);
    assert!(all.iter().all(|p| p.exists()));
    assert!(logs.join("0099-gone").exists());
    // The pinned clock makes every protocol recent.
    let young = repo
        .godzilla(&["--json", "gc", "--older-than", "1d"])
        .expect(0)
        .json();
    assert_eq!(removed(&young), Vec::<PathBuf>::new());
    assert!(kept_reason(&young, &merged_wt).contains("--older-than"));

    let report = repo.godzilla(&["--json", "gc"]).expect(0).json();
    assert_eq!(removed(&report), safe);
    assert!(kept_reason(&report, &unpushed_wt).contains("neither pushed nor merged"));
    assert!(kept_reason(&report, &dirty_wt).contains("uncommitted"));
    assert!(kept_reason(&report, &open_wt).contains("not finished"));
    assert!(kept_reason(&report, &busy_wt).contains("another process"));
    for p in all {
        assert_eq!(p.exists(), !safe.contains(p), "{p:?}");
    }
    assert!(!logs.join(&merged).exists());
    assert!(logs.join(&unpushed).exists());
    assert!(!logs.join("0099-gone").exists());
    assert!(std::fs::read_to_string(dirty_wt.join("notes.txt")).is_ok());
    // The branches stay, and inspection reads them.
    let branches = repo.git(&["branch", "--list", "godzilla/*"]);
    assert!(
        branches.contains(&pushed) && branches.contains(&merged),
        "{branches}"
    );
    let show = repo
        .godzilla(&["protocol", "show", &pushed])
        .expect(0)
        .stdout;
    assert!(show.contains("cancelled"), "{show}");
    // Human output says what it kept and why.
    let human = repo.godzilla(&["gc", "--dry-run"]).expect(0).stdout;
    assert!(
        human.contains(&format!("kept worktree {}", unpushed_wt.display())),
        "{human}"
    );
    holder.kill().ok();
    holder.wait().ok();
}

fn queue_add(repo: &TestRepo, extra: &[&str], argv: &[&str]) -> String {
    let mut args = vec!["queue", "add"];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(argv);
    repo.godzilla(&args).expect(0).stdout.trim().to_owned()
}

fn jobs(report: &serde_json::Value, list: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report[list]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"] == "job")
        .map(|e| {
            (
                e["job"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn ids(entries: &[(String, String)]) -> Vec<&str> {
    entries.iter().map(|(id, _)| id.as_str()).collect()
}

#[test]
fn test_gc_purges_finished_queue_entries_never_queued_or_running_ones() {
    let repo = TestRepo::initialized();
    let queue = repo.root.join(".git/godzilla/queue");
    let ok = queue_add(&repo, &[], &["true"]);
    let failed = queue_add(&repo, &["--max-attempts", "1"], &["sh", "-c", "exit 1"]);
    // A retried job keeps its earlier record beside the new one: both go with it.
    repo.godzilla(&["worker", "--once"]).expect(0);
    repo.godzilla(&["queue", "retry", &failed]).expect(0);
    repo.godzilla(&["worker", "--once"]).expect(0);
    assert!(queue.join(format!("done/{failed}.json.1")).exists());
    let long = queue_add(&repo, &[], &["sleep", "60"]);
    let mut worker = background(&repo, &["worker", "-j", "1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_dir(queue.join("cur"))
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(&long))
    {
        assert!(Instant::now() < deadline, "the worker never took the job");
        std::thread::sleep(Duration::from_millis(50));
    }
    let waiting = queue_add(&repo, &[], &["true"]);
    let mut finished = vec![ok.clone(), failed.clone()];
    finished.sort();
    let mut live = vec![long.clone(), waiting.clone()];
    live.sort();

    let dry = repo
        .godzilla(&["--json", "gc", "--dry-run"])
        .expect(0)
        .json();
    assert_eq!(ids(&jobs(&dry, "removed")), finished);
    assert_eq!(ids(&jobs(&dry, "kept")), live);
    for id in &finished {
        assert!(queue.join(format!("done/{id}.json")).exists(), "{id}");
    }
    // They finished moments ago.
    let young = repo
        .godzilla(&["--json", "gc", "--older-than", "1h"])
        .expect(0)
        .json();
    assert!(jobs(&young, "removed").is_empty(), "{young:#}");
    let kept = jobs(&young, "kept");
    assert_eq!(ids(&kept).len(), 4, "{young:#}");
    for (id, reason) in &kept {
        if finished.contains(id) {
            assert!(reason.contains("--older-than"), "{id}: {reason}");
        }
    }

    let report = repo.godzilla(&["--json", "gc"]).expect(0).json();
    assert_eq!(ids(&jobs(&report, "removed")), finished);
    let kept = jobs(&report, "kept");
    assert_eq!(ids(&kept), live);
    for (id, reason) in &kept {
        let want = if *id == long { "running" } else { "queued" };
        assert!(reason.contains(want), "{id}: {reason}");
    }
    let done: Vec<String> = std::fs::read_dir(queue.join("done"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(done.is_empty(), "{done:?}");
    for id in &finished {
        assert!(!queue.join(format!("logs/{id}.log")).exists(), "{id}");
    }
    // The live jobs are untouched: the worker finishes the one it runs, the other waits.
    let listed = repo.godzilla(&["--json", "queue", "ls"]).expect(0).json();
    let mut left: Vec<String> = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    left.sort();
    assert_eq!(left, live);
    let human = repo.godzilla(&["gc", "--dry-run"]).expect(0).stdout;
    assert!(
        human.contains(&format!("kept job {waiting} (queued")),
        "{human}"
    );
    worker.kill().ok();
    worker.wait().ok();
}
