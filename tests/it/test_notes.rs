//! `godzilla notes`: records on commits, safe under concurrent writers.

use std::process::Command;

use crate::support::{TestRepo, godzilla_bin, hermetic};

#[test]
fn test_notes_add_and_show() {
    let repo = TestRepo::initialized();
    repo.godzilla(&["notes", "add", "HEAD", r#"{"run":"a","tokens":1}"#])
        .expect(0);
    repo.godzilla(&["notes", "add", "HEAD", r#"{"run":"b","tokens":2}"#])
        .expect(0);
    // The same record twice is kept once.
    repo.godzilla(&["notes", "add", "HEAD", r#"{"run":"b","tokens":2}"#])
        .expect(0);
    let run = repo.godzilla(&["notes", "show"]).expect(0);
    assert_eq!(
        run.stdout,
        "{\"run\":\"a\",\"tokens\":1}\n{\"run\":\"b\",\"tokens\":2}\n"
    );
    // Plain git sees the same thing.
    let git = repo.git(&["log", "-1", "--notes=godzilla", "--format=%N"]);
    assert!(git.contains(r#"{"run":"b","tokens":2}"#), "{git}");
    let bad = repo
        .godzilla(&["notes", "add", "HEAD", "not json"])
        .expect(2);
    assert!(bad.stderr.contains("one JSON object"), "{}", bad.stderr);
    let multi = repo
        .godzilla(&["notes", "add", "HEAD", "{\"a\":\n1}"])
        .expect(2);
    assert!(multi.stderr.contains("several lines"), "{}", multi.stderr);
}

#[test]
fn test_notes_take_any_revision_git_takes_and_refuse_what_is_not_a_commit() {
    let repo = TestRepo::initialized();
    repo.commit_all("second");
    let first = repo.git(&["rev-parse", "HEAD~1"]).trim().to_owned();
    let tree = repo.git(&["rev-parse", "HEAD^{tree}"]).trim().to_owned();
    // A ref, an ancestry walk, a short id, a branch: read in-process, as git reads them.
    for rev in ["HEAD~1", &first[..10], "main~1", "HEAD"] {
        repo.godzilla(&["notes", "add", rev, &format!(r#"{{"rev":"{rev}"}}"#)])
            .expect(0);
    }
    let on_first = repo.godzilla(&["notes", "show", &first]).expect(0);
    for rev in ["HEAD~1", &first[..10], "main~1"] {
        assert!(
            on_first.stdout.contains(&format!(r#""rev":"{rev}""#)),
            "{}",
            on_first.stdout
        );
    }
    let on_head = repo.godzilla(&["notes", "show", "HEAD"]).expect(0);
    assert_eq!(on_head.stdout, "{\"rev\":\"HEAD\"}\n");
    for bad in [tree.as_str(), "no-such-branch", "HEAD~99"] {
        let refused = repo.godzilla(&["notes", "add", bad, "{}"]).expect(2);
        assert!(
            refused.stderr.contains("is not a commit"),
            "{bad}: {}",
            refused.stderr
        );
    }
}

#[test]
fn test_notes_concurrent_writers_lose_nothing() {
    const WRITERS: usize = 8;
    const COMMITS: usize = 50;
    let repo = TestRepo::initialized();
    for i in 0..COMMITS {
        repo.git(&["commit", "-q", "--allow-empty", "-m", &format!("c{i}")]);
    }
    let commits: Vec<String> = repo
        .git(&["rev-list", "-n", &COMMITS.to_string(), "HEAD"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(commits.len(), COMMITS);
    // Each writer is a shell loop of godzilla processes, all eight loops running at once.
    let mut children = Vec::new();
    for w in 0..WRITERS {
        let mut script = String::new();
        for (i, c) in commits.iter().enumerate() {
            script.push_str(&format!(
                "\"$GZ\" notes add {c} '{{\"writer\":{w},\"commit\":{i}}}' || exit 1\n"
            ));
        }
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script).current_dir(&repo.root);
        hermetic(&mut cmd, repo.home());
        cmd.env("GZ", godzilla_bin());
        children.push(cmd.spawn().unwrap());
    }
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let mut total = 0;
    for c in &commits {
        let lines = repo.godzilla(&["notes", "show", c]).expect(0).stdout;
        total += lines.lines().count();
    }
    assert_eq!(total, WRITERS * COMMITS, "notes were lost");
}

/// A writer killed while it held the notes ref's lock file (`kill -9` of a run) must not
/// refuse every later note; a lock a live git process just took is waited for instead.
#[test]
fn test_notes_survive_a_lock_left_by_a_killed_writer() {
    let repo = TestRepo::initialized();
    repo.godzilla(&["notes", "add", "HEAD", r#"{"run":"a"}"#])
        .expect(0);
    let lock = repo.root.join(".git/refs/notes/godzilla.lock");
    let file = std::fs::File::create(&lock).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
    drop(file);
    repo.godzilla(&["notes", "add", "HEAD", r#"{"run":"b"}"#])
        .expect(0);
    let run = repo.godzilla(&["notes", "show"]).expect(0);
    assert_eq!(run.stdout, "{\"run\":\"a\"}\n{\"run\":\"b\"}\n");
    // A fresh lock (a git process at work) is waited for, then taken over once it is stale.
    std::fs::File::create(&lock).unwrap();
    repo.godzilla(&["notes", "add", "HEAD", r#"{"run":"c"}"#])
        .expect(0);
    assert!(!lock.exists());
}
