//! Event logs: appends under concurrent writers, and after something else wrote the log.

use std::path::Path;
use std::process::Command;

use crate::support::{TestRepo, godzilla_bin, hermetic};

/// `(lamport, id, type)` of every line, in file order.
fn lines(path: &Path) -> Vec<(u64, String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let e: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                e["lamport"].as_u64().unwrap(),
                e["id"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn last_lamport(path: &Path) -> u64 {
    lines(path).last().unwrap().0
}

#[test]
fn test_events_concurrent_appends_get_increasing_lamports() {
    const WRITERS: usize = 6;
    const EACH: usize = 15;
    let repo = TestRepo::initialized();
    let (id, wt) = repo.new_protocol("p", &[("01-a.md", "# A\nDo a.\n")]);
    let mut children = Vec::new();
    for w in 0..WRITERS {
        let mut script = String::new();
        for i in 0..EACH {
            script.push_str(&format!(
                "\"$GZ\" -q clarify ask w{w}k{i} q || exit 1\n\
                 \"$GZ\" -q clarify ask --protocol {id} w{w}k{i} q || exit 1\n"
            ));
        }
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script).current_dir(&wt);
        hermetic(&mut cmd, repo.home());
        cmd.env("GZ", godzilla_bin());
        children.push(cmd.spawn().unwrap());
    }
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    // Project events live in the main checkout, whichever worktree asks.
    for log in [
        repo.root.join(".godzilla/events.jsonl"),
        wt.join(format!(".godzilla/protocols/{id}/events.jsonl")),
    ] {
        let lines = lines(&log);
        // Appends are serialised by the lock, so file order is append order: each one saw
        // every earlier line and counted past it.
        for pair in lines.windows(2) {
            assert!(
                (pair[0].0, &pair[0].1) < (pair[1].0, &pair[1].1) && pair[0].0 < pair[1].0,
                "{}: {:?} then {:?}",
                log.display(),
                pair[0],
                pair[1]
            );
        }
        let asked = lines
            .iter()
            .filter(|l| l.2 == "clarification_requested")
            .count();
        assert_eq!(asked, WRITERS * EACH, "{}", log.display());
    }
    // The status view written by the last append is the fold of the whole log (fsck checks),
    // and so is the state the appends kept: status with neither view nor record (the log
    // rewritten with the same bytes, so no record of an append matches it) folds the log.
    let fsck = repo.godzilla_in(&wt, &["fsck"], &[]);
    assert_eq!(fsck.code, Some(0), "{}{}", fsck.stdout, fsck.stderr);
    let kept = repo
        .godzilla_in(&wt, &["--json", "status", &id], &[])
        .expect(0);
    let log = wt.join(format!(".godzilla/protocols/{id}/events.jsonl"));
    std::fs::remove_file(wt.join(format!(".godzilla/protocols/{id}/status.json"))).unwrap();
    let bytes = std::fs::read(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    std::fs::write(&log, bytes).unwrap();
    let folded = repo
        .godzilla_in(&wt, &["--json", "status", &id], &[])
        .expect(0);
    assert_eq!(kept.stdout, folded.stdout);
}

/// Lines written by something else (a union merge, a hand edit) are counted past by the next
/// append, also when the edit keeps the log's size and last line.
#[test]
fn test_events_append_after_an_outside_edit_counts_past_it() {
    let repo = TestRepo::initialized();
    let (id, wt) = repo.new_protocol("p", &[("01-a.md", "# A\nDo a.\n")]);
    let project = repo.root.join(".godzilla/events.jsonl");
    let protocol = wt.join(format!(".godzilla/protocols/{id}/events.jsonl"));
    let ask = |key: &str, scope: &[&str]| {
        let mut args = vec!["-q", "clarify", "ask"];
        args.extend_from_slice(scope);
        args.extend_from_slice(&[key, "q"]);
        repo.godzilla_in(&wt, &args, &[]).expect(0);
    };
    let scope = ["--protocol", id.as_str()];
    ask("a", &[]);
    ask("a", &scope);
    let outside = |lamport: u64, protocol: Option<&str>| {
        let mut e = serde_json::json!({
            "id": format!("outside{lamport:05}"), "lamport": lamport,
            "ts": "2001-02-03T04:05:06Z", "type": "budget_warning", "message": "outside",
        });
        if let Some(p) = protocol {
            e["protocol"] = p.into();
        }
        format!("{e}\n")
    };
    for (log, p, lamport) in [(&project, None, 1000), (&protocol, Some(id.as_str()), 2000)] {
        let mut text = std::fs::read_to_string(log).unwrap();
        text.push_str(&outside(lamport, p));
        std::fs::write(log, text).unwrap();
    }
    ask("b", &[]);
    ask("b", &scope);
    assert_eq!(last_lamport(&project), 1001);
    assert_eq!(last_lamport(&protocol), 2001);
    // Same size, same last line: only the outside line's counter changes, in place.
    for (log, from, to) in [(&project, 1000, 5000), (&protocol, 2000, 6000)] {
        let text = std::fs::read_to_string(log).unwrap().replace(
            &format!("\"lamport\":{from},"),
            &format!("\"lamport\":{to},"),
        );
        std::fs::OpenOptions::new()
            .write(true)
            .open(log)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .unwrap();
    }
    ask("c", &[]);
    ask("c", &scope);
    assert_eq!(last_lamport(&project), 5001);
    assert_eq!(last_lamport(&protocol), 6001);
}
