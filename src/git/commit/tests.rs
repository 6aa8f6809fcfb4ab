//! The in-process commit against the git CLI, on real repositories.
use super::*;
use crate::git::testing::{git, git_with_input, write};

/// A repository with a history and a worktree holding every kind of change `add --all`
/// stages, and some it must not.
fn busy_repo(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    write(dir, "keep.txt", "keep\n");
    write(dir, "edit.txt", "before\n");
    write(dir, "gone.txt", "gone\n");
    write(dir, "dir/gone-too.txt", "x\n");
    write(dir, "run.sh", "#!/bin/sh\n");
    write(dir, ".gitignore", "ignored/\n*.log\n");
    write(dir, ".gitattributes", "*.jsonl merge=union\n");
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    write(dir, "edit.txt", "after\n");
    std::fs::remove_file(dir.join("gone.txt")).unwrap();
    std::fs::remove_dir_all(dir.join("dir")).unwrap();
    write(dir, "new/deep/file.txt", "new\n");
    write(dir, "new/events.jsonl", "{}\n");
    write(dir, "ignored/secret.txt", "no\n");
    write(dir, "debug.log", "no\n");
    std::fs::create_dir_all(dir.join("empty/dir")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("keep.txt", dir.join("link")).unwrap();
}

/// A [`busy_repo`], git for it, and the directory its notes lock is in.
fn busy_repo_with_notes() -> (tempfile::TempDir, super::super::Git, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    busy_repo(dir.path());
    let git_ = super::super::Git::new("git", dir.path());
    let local = dir.path().join(".git").join("godzilla");
    (dir, git_, local)
}

/// What a commit and its index say, without the times.
fn outcome(dir: &Path) -> Vec<String> {
    let show = |format: &str| git(dir, &["log", "-1", &format!("--format={format}")]);
    vec![
        show("%T %P"),
        show("%an <%ae> %cn <%ce>"),
        show("%B"),
        git(dir, &["ls-files", "--stage"]),
        git(dir, &["status", "--porcelain", "--ignored"]),
        git(dir, &["diff-index", "--cached", "HEAD"]),
        git(dir, &["reflog", "-1", "--format=%gs"]),
        git(dir, &["reflog", "-1", "--format=%gs", "main"]),
    ]
}

#[test]
fn in_process_commit_stores_what_git_add_and_commit_store() {
    let message = "\n\nStep 1:  done  \n\n\n\nbody line\t\n\n";
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    busy_repo(a.path());
    busy_repo(b.path());
    let got = commit_all(&super::super::Git::new("git", a.path()), message).unwrap();
    assert!(matches!(got, Outcome::Committed(_)), "{got:?}");
    git(b.path(), &["add", "--all"]);
    git_with_input(
        b.path(),
        &["commit", "-q", "--no-verify", "--allow-empty", "-F", "-"],
        message,
    );
    assert_eq!(outcome(a.path()), outcome(b.path()));
    // Nothing left to stage, and a second commit with nothing changed is an empty one.
    let Outcome::Committed(second) =
        commit_all(&super::super::Git::new("git", a.path()), "again").unwrap()
    else {
        panic!("second commit used git")
    };
    assert_eq!(git(a.path(), &["rev-parse", "HEAD"]).trim(), second);
    assert_eq!(
        git(a.path(), &["rev-parse", "HEAD^{tree}"]),
        git(a.path(), &["rev-parse", "HEAD~1^{tree}"])
    );
    git(a.path(), &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn a_noted_commit_puts_its_note_in_the_commits_pack() {
    let (dir, git_, local) = busy_repo_with_notes();
    let d = dir.path();
    let notes = super::super::notes::Notes::new(git_.clone(), &local);
    // A note already on the ref: the new one is committed on top of it.
    let base = git(d, &["rev-parse", "HEAD"]);
    notes.append(base.trim(), r#"{"first":1}"#).unwrap();
    let loose = |d: &Path| git(d, &["count-objects"]);
    let before = loose(d);
    let (outcome, noted) = commit_all_noted(
        &git_,
        "noted",
        Some((&notes, r#"{"kind":"exec"}"#)),
        &mut || Ok(()),
    )
    .unwrap();
    let Outcome::Committed(id) = outcome else {
        panic!("used git: {outcome:?}")
    };
    assert!(noted);
    assert_eq!(
        git(d, &["notes", "--ref", "refs/notes/godzilla", "show", &id]),
        "{\"kind\":\"exec\"}\n"
    );
    assert_eq!(
        git(
            d,
            &["notes", "--ref", "refs/notes/godzilla", "show", base.trim()]
        ),
        "{\"first\":1}\n"
    );
    // The commit's objects and the note's went into one pack: no new loose object.
    assert_eq!(loose(d), before);
    git(d, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn a_carried_note_shares_the_commits_notes_commit_and_pack() {
    let (dir, git_, local) = busy_repo_with_notes();
    let d = dir.path();
    let base = git(d, &["rev-parse", "HEAD"]);
    let base = base.trim();
    // The base has a note already: the carried record is appended to it.
    super::super::notes::Notes::new(git_.clone(), &local)
        .append(base, r#"{"kind":"exec"}"#)
        .unwrap();
    let notes_commits = || git(d, &["rev-list", "--count", "refs/notes/godzilla"]);
    let (commits, loose) = (notes_commits(), git(d, &["count-objects"]));
    let notes = super::super::notes::Notes::new(git_.clone(), &local)
        .carrying(base, r#"{"kind":"qa"}"#)
        .unwrap();
    let (outcome, noted) = commit_all_noted(
        &git_,
        "next",
        Some((&notes, r#"{"kind":"exec","n":2}"#)),
        &mut || Ok(()),
    )
    .unwrap();
    let Outcome::Committed(id) = outcome else {
        panic!("used git: {outcome:?}")
    };
    assert!(noted);
    let show = |c: &str| git(d, &["notes", "--ref", "refs/notes/godzilla", "show", c]);
    assert_eq!(show(base), "{\"kind\":\"exec\"}\n{\"kind\":\"qa\"}\n");
    assert_eq!(show(&id), "{\"kind\":\"exec\",\"n\":2}\n");
    // One notes commit for both records, in the commit's pack.
    let added: u32 =
        notes_commits().trim().parse::<u32>().unwrap() - commits.trim().parse::<u32>().unwrap();
    assert_eq!(added, 1);
    assert_eq!(git(d, &["count-objects"]), loose);
    // Appending (where a commit could not add its note) carries the record too.
    let again = super::super::notes::Notes::new(git_.clone(), &local)
        .carrying(&id, r#"{"kind":"qa","n":2}"#)
        .unwrap();
    again.append(base, r#"{"kind":"later"}"#).unwrap();
    assert_eq!(
        show(&id),
        "{\"kind\":\"exec\",\"n\":2}\n{\"kind\":\"qa\",\"n\":2}\n"
    );
    assert!(show(base).ends_with("{\"kind\":\"later\"}\n"));
    git(d, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn a_packed_note_writes_no_loose_object() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    busy_repo(d);
    let notes =
        super::super::notes::Notes::new(super::super::Git::new("git", d), &d.join(".git/godzilla"));
    let head = git(d, &["rev-parse", "HEAD"]);
    let before = git(d, &["count-objects"]);
    notes
        .append_packed(head.trim(), r#"{"kind":"qa"}"#)
        .unwrap();
    notes
        .append_packed(head.trim(), r#"{"kind":"qa","again":true}"#)
        .unwrap();
    assert_eq!(git(d, &["count-objects"]), before, "no loose object");
    assert_eq!(
        git(
            d,
            &["notes", "--ref", "refs/notes/godzilla", "show", head.trim()]
        ),
        "{\"kind\":\"qa\"}\n{\"kind\":\"qa\",\"again\":true}\n"
    );
    git(d, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn a_commit_packs_the_code_tree_that_judging_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    busy_repo(d);
    write(d, ".godzilla/protocols/p/events.jsonl", "{}\n");
    let git_ = super::super::Git::new("git", d);
    let Outcome::Committed(id) = commit_all(&git_, "step").unwrap() else {
        panic!("used git")
    };
    // The tree git would make of the commit's tree without `.godzilla`.
    let listing = git(d, &["ls-tree", &id]);
    let code: String = listing
        .lines()
        .filter(|l| !l.ends_with("\t.godzilla"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(code, listing, "the commit holds .godzilla");
    // Made in another repository: `mktree` writes the tree it prints.
    let other = tempfile::tempdir().unwrap();
    git(other.path(), &["init", "-q"]);
    let expected = git_with_input(other.path(), &["mktree", "--missing"], &code);
    let before = git(d, &["count-objects"]);
    let tree = crate::git::object::code_tree(d, &id).unwrap();
    assert_eq!(tree, expected.trim());
    assert_eq!(git(d, &["count-objects"]), before, "no loose object");
    assert_eq!(git(d, &["cat-file", "-t", &tree]), "tree\n");

    // A commit git made: its code tree is written when asked for.
    write(d, ".godzilla/protocols/p/events.jsonl", "{}\n{}\n");
    write(d, "by-git.txt", "x\n");
    git(d, &["add", "--all"]);
    git(d, &["commit", "-q", "-m", "by git"]);
    let head = git(d, &["rev-parse", "HEAD"]);
    let tree = crate::git::object::code_tree(d, head.trim()).unwrap();
    assert_eq!(git(d, &["cat-file", "-t", &tree]), "tree\n");
    git(d, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn in_process_commit_leaves_awkward_repositories_to_git() {
    type Setup = fn(&Path);
    let cases: [(&str, Setup); 4] = [
        ("filter drivers are configured", |d| {
            git(d, &["config", "filter.lfs.clean", "git-lfs clean -- %f"]);
        }),
        ("the index differs from HEAD", |d| {
            write(d, "edit.txt", "staged\n");
            git(d, &["add", "edit.txt"]);
        }),
        (
            "line-ending, index or commit settings are configured",
            |d| {
                git(d, &["config", "core.autocrlf", "input"]);
            },
        ),
        ("an untracked directory or nested repository", |d| {
            git(&d.join("new"), &["init", "-q"]);
        }),
    ];
    for (reason, setup) in cases {
        let dir = tempfile::tempdir().unwrap();
        busy_repo(dir.path());
        setup(dir.path());
        let head = git(dir.path(), &["rev-parse", "HEAD"]);
        let index = std::fs::read(dir.path().join(".git/index")).unwrap();
        assert_eq!(
            commit_all(&super::super::Git::new("git", dir.path()), "m").unwrap(),
            Outcome::UseGit(reason)
        );
        assert_eq!(git(dir.path(), &["rev-parse", "HEAD"]), head, "{reason}");
        assert_eq!(std::fs::read(dir.path().join(".git/index")).unwrap(), index);
        assert!(!dir.path().join(".git/index.lock").exists());
    }
    let unborn = tempfile::tempdir().unwrap();
    git(unborn.path(), &["init", "-q"]);
    assert_eq!(
        commit_all(&super::super::Git::new("git", unborn.path()), "m").unwrap(),
        Outcome::UseGit("HEAD has no commit yet")
    );
}

/// godzilla's state is committed whatever ignore rules an agent added: an ignored state file
/// is staged in-process as `git add --force` would stage it (ignored files elsewhere stay
/// out), and an ignored state directory, which gix reports whole, goes to git, which is told
/// the same.
#[test]
fn ignore_rules_do_not_keep_state_out_of_a_commit() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for d in [a.path(), b.path()] {
        busy_repo(d);
        write(d, ".godzilla/runs/old.json", "{}\n");
        git(d, &["add", "--all"]);
        git(d, &["commit", "-q", "-m", "state"]);
        write(d, ".git/info/exclude", "*.json\n");
        write(d, ".godzilla/runs/new.json", "{\"new\":1}\n");
        write(d, "elsewhere/other.json", "{}\n");
    }
    let got = commit_all(&super::super::Git::new("git", a.path()), "m").unwrap();
    assert!(matches!(got, Outcome::Committed(_)), "{got:?}");
    git(b.path(), &["add", "--all"]);
    git(b.path(), &["add", "--all", "--force", "--", ".godzilla"]);
    git_with_input(
        b.path(),
        &["commit", "-q", "--no-verify", "--allow-empty", "-F", "-"],
        "m",
    );
    assert_eq!(outcome(a.path()), outcome(b.path()));
    let tracked = git(a.path(), &["ls-files", "--", ".godzilla", "elsewhere"]);
    assert_eq!(
        tracked,
        ".godzilla/runs/new.json\n.godzilla/runs/old.json\n"
    );

    // A new state directory under an ignore rule: git commits it.
    write(a.path(), ".gitignore", ".godzilla/\n");
    write(a.path(), ".godzilla/outputs/01.md", "done\n");
    let git_a = super::super::Git::new("git", a.path());
    assert_eq!(
        commit_all(&git_a, "m").unwrap(),
        Outcome::UseGit("ignore rules hide a directory of godzilla's state")
    );
    git_a.commit_all("m").unwrap();
    let tracked = git(a.path(), &["ls-files", "--", ".godzilla/outputs"]);
    assert_eq!(tracked, ".godzilla/outputs/01.md\n");
}

/// An ignored state file counts as something to commit (the commit would store it), in-process
/// and by git; ignored files elsewhere do not.
#[test]
fn dirty_paths_list_ignored_state_files() {
    for by_git in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        busy_repo(d);
        git(d, &["add", "--all"]);
        git(d, &["commit", "-q", "-m", "clean"]);
        if by_git {
            git(d, &["config", "core.autocrlf", "false"]);
        }
        write(d, ".git/info/exclude", "*.json\n");
        write(d, "elsewhere/other.json", "{}\n");
        let g = super::super::Git::new("git", d);
        assert_eq!(
            g.dirty_paths().unwrap(),
            Vec::<String>::new(),
            "git: {by_git}"
        );
        write(d, ".godzilla/qa/01.json", "{}\n");
        // gix names a new ignored directory whole (here `.godzilla`), git the file: either
        // says there is something to commit.
        let dirty = g.dirty_paths().unwrap();
        assert!(
            !dirty.is_empty() && dirty.iter().all(|p| p.starts_with(".godzilla")),
            "git: {by_git}: {dirty:?}"
        );
        assert_eq!(
            g.dirty_paths_outside(".godzilla").unwrap(),
            Vec::<String>::new(),
            "git: {by_git}"
        );
    }
}

/// The paths `git status --porcelain` lists for `pathspec`, sorted.
fn git_status_paths(dir: &Path, pathspec: &[&str]) -> Vec<String> {
    let mut args = vec![
        "status",
        "--porcelain",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--",
    ];
    args.extend_from_slice(pathspec);
    let mut paths: Vec<String> = git(dir, &args)
        .split('\0')
        .filter(|e| e.len() > 3)
        .map(|e| e[3..].to_owned())
        .collect();
    paths.sort();
    paths
}

#[test]
fn dirty_paths_are_the_paths_git_status_lists() {
    let dir = tempfile::tempdir().unwrap();
    busy_repo(dir.path());
    write(dir.path(), "keep.txt", "staged\n");
    git(dir.path(), &["add", "keep.txt"]);
    let want = git_status_paths(dir.path(), &[]);
    let mut got = dirty_paths(dir.path(), None).unwrap().expect("in-process");
    got.sort();
    assert_eq!(got, want);
    assert!(
        want.contains(&"keep.txt".to_owned()) && want.len() > 5,
        "{want:?}"
    );
    git(dir.path(), &["add", "--all"]);
    git(dir.path(), &["commit", "-q", "-m", "all"]);
    assert_eq!(dirty_paths(dir.path(), None).unwrap(), Some(Vec::new()));
}

#[test]
fn dirty_paths_outside_a_directory_are_those_git_lists_with_it_excluded() {
    let dir = tempfile::tempdir().unwrap();
    busy_repo(dir.path());
    for (path, text) in [
        (".godzilla/events.jsonl", "{}\n"),
        (".godzilla/protocols/p/new.json", "{}\n"),
        (".godzilla-not/kept.txt", "x\n"),
        ("sub/.godzilla/kept.txt", "x\n"),
        ("top.txt", "x\n"),
    ] {
        write(dir.path(), path, text);
    }
    git(dir.path(), &["add", ".godzilla/events.jsonl"]);
    git(dir.path(), &["commit", "-q", "-m", "state"]);
    write(dir.path(), ".godzilla/events.jsonl", "{}\n{}\n");
    let want = git_status_paths(dir.path(), &[":(exclude,top).godzilla"]);
    let mut got = dirty_paths(dir.path(), Some(".godzilla"))
        .unwrap()
        .expect("in-process");
    got.sort();
    assert_eq!(got, want);
    assert!(got.iter().all(|p| !p.starts_with(".godzilla/")), "{got:?}");
    for kept in [
        ".godzilla-not/kept.txt",
        "sub/.godzilla/kept.txt",
        "top.txt",
    ] {
        assert!(got.contains(&kept.to_owned()), "{kept} in {got:?}");
    }
    let all = dirty_paths(dir.path(), None).unwrap().unwrap();
    assert!(
        all.contains(&".godzilla/events.jsonl".to_owned()),
        "{all:?}"
    );
}

#[test]
fn index_lock_left_by_a_dead_godzilla_is_removed_and_one_left_by_git_is_not() {
    let dir = tempfile::tempdir().unwrap();
    busy_repo(dir.path());
    let lock = dir.path().join(".git/index.lock");
    // git's own lock: no note names it, so it belongs to a live git as far as we know.
    std::fs::write(&lock, "").unwrap();
    assert_eq!(
        commit_all(&super::super::Git::new("git", dir.path()), "m").unwrap(),
        Outcome::UseGit("another process holds index.lock")
    );
    assert!(lock.exists());
    // The same file named in the holder note, with nobody holding the note's flock: the
    // state a godzilla killed in the middle of a commit leaves.
    let meta = std::fs::symlink_metadata(&lock).unwrap();
    std::fs::write(
        dir.path().join(".git/godzilla-index.holder"),
        identity(&meta),
    )
    .unwrap();
    // It died after writing some of the new index into the lock.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&lock, "DIRC").unwrap();
    assert!(matches!(
        commit_all(&super::super::Git::new("git", dir.path()), "m").unwrap(),
        Outcome::Committed(_)
    ));
    assert!(!lock.exists());
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".git/godzilla-index.holder")).unwrap(),
        ""
    );
}

#[test]
fn ref_locks_a_dead_godzilla_named_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    busy_repo(dir.path());
    let git_dir = dir.path().join(".git");
    let lock = git_dir.join("index.lock");
    std::fs::write(&lock, "").unwrap();
    let meta = std::fs::symlink_metadata(&lock).unwrap();
    let (head_lock, branch_lock) = (
        git_dir.join("HEAD.lock"),
        git_dir.join("refs/heads/main.lock"),
    );
    // Killed while gix held both ref locks, after naming them.
    std::fs::write(&head_lock, "ref: refs/heads/main\n").unwrap();
    std::fs::write(&branch_lock, "0000\n").unwrap();
    std::fs::write(
        git_dir.join("godzilla-index.holder"),
        format!(
            "{}\n{}\n{}",
            identity(&meta),
            head_lock.display(),
            branch_lock.display()
        ),
    )
    .unwrap();
    let got = commit_all(&super::super::Git::new("git", dir.path()), "m").unwrap();
    assert!(matches!(got, Outcome::Committed(_)), "{got:?}");
    assert!(!head_lock.exists() && !branch_lock.exists() && !lock.exists());
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
}

proptest::proptest! {
    #[test]
    fn message_cleanup_is_git_stripspace(lines in proptest::collection::vec("[ a\\t#]{0,4}", 0..8)) {
        let message = lines.join("\n");
        let git_says = git_with_input(&std::env::temp_dir(), &["stripspace"], &message);
        proptest::prop_assert_eq!(cleanup_message(&message).unwrap_or_default(), git_says);
    }
}

/// The HEAD-against-index comparison is skipped only for the very index the in-process commit
/// wrote with the commit HEAD names: an index git changed, or a HEAD another commit moved,
/// gets the full comparison (and a staged change still sends the commit to git).
#[test]
fn the_head_comparison_is_skipped_only_for_the_index_the_commit_wrote() {
    let dir = tempfile::tempdir().unwrap();
    busy_repo(dir.path());
    let git_here = super::super::Git::new("git", dir.path());
    // Whether the commit was made in-process (else it was left to git).
    let committed = |message: &str| {
        matches!(
            commit_all(&git_here, message).unwrap(),
            Outcome::Committed(_)
        )
    };
    let trusted = || {
        let repo = super::super::open_repo(dir.path()).unwrap();
        let index = repo.open_index().unwrap();
        let head = repo.head_id().unwrap().detach();
        index_matches_head(&repo, &index, head)
    };
    assert!(!trusted(), "no marker before an in-process commit");
    assert!(committed("one"));
    assert!(trusted());
    // A change staged by git: the index is another one, and the commit leaves it to git.
    write(dir.path(), "staged.txt", "staged\n");
    git(dir.path(), &["add", "staged.txt"]);
    assert!(!trusted());
    assert!(!committed("two"));
    assert!(
        dirty_paths(dir.path(), None)
            .unwrap()
            .unwrap()
            .contains(&"staged.txt".to_owned())
    );
    git(dir.path(), &["commit", "-q", "-m", "two"]);
    assert!(!trusted(), "git committed: HEAD moved");
    // Back in-process, and an unchanged worktree's next commit still sees its one edit.
    assert!(committed("three"));
    assert!(trusted());
    write(dir.path(), "edit.txt", "again\n");
    assert_eq!(
        dirty_paths(dir.path(), None).unwrap().unwrap(),
        ["edit.txt"]
    );
    assert!(committed("four"));
    assert_eq!(
        git(dir.path(), &["show", "--name-only", "--format=", "HEAD"]),
        "edit.txt\n"
    );
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
    // A torn marker matches nothing.
    let marker = dir.path().join(".git").join(CLEAN_MARKER);
    let text = std::fs::read_to_string(&marker).unwrap();
    std::fs::write(&marker, &text[..text.len() / 2]).unwrap();
    assert!(!trusted());
}

#[test]
fn a_file_a_commit_staged_before_the_index_was_written_is_not_read_again() {
    let dir = tempfile::tempdir().unwrap();
    busy_repo(dir.path());
    let repo = super::super::open_repo(dir.path()).unwrap();
    // The index written at a known time: 1,700,000,000 s and 501 ms.
    let second = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    std::fs::File::options()
        .write(true)
        .open(repo.index_path())
        .unwrap()
        .set_modified(second + std::time::Duration::from_millis(501))
        .unwrap();
    let index_time = repo.open_index().unwrap().timestamp();
    let options = repo.stat_options().unwrap();
    let entry = |ms: u32| {
        let written = gix::index::entry::stat::Time {
            secs: 1_700_000_000,
            nsecs: ms * 1_000_000,
        };
        gix::index::entry::Stat {
            mtime: written,
            ctime: written,
            ..Default::default()
        }
    };
    // Written a millisecond before the index, in the same second: racily clean by the second
    // (read and hashed again by every status), not to the nanosecond.
    assert!(!entry(500).is_racy(index_time, options), "{options:?}");
    // Written in the index's own tick or after: still read again.
    assert!(entry(501).is_racy(index_time, options));
    assert!(entry(502).is_racy(index_time, options));
}

#[test]
fn a_file_rewritten_with_the_same_size_right_after_a_commit_is_committed_again() {
    let dir = tempfile::tempdir().unwrap();
    busy_repo(dir.path());
    let git_here = super::super::Git::new("git", dir.path());
    // Each rewrite lands within milliseconds of the commit before it, often in the same clock
    // tick as that commit's index: only the racy check or the stat data can see it.
    for round in 0..20 {
        let content = format!("{round:04}\n");
        write(dir.path(), "edit.txt", &content);
        let Outcome::Committed(id) = commit_all(&git_here, &format!("round {round}")).unwrap()
        else {
            panic!("round {round} used git")
        };
        assert_eq!(
            git(dir.path(), &["show", &format!("{id}:edit.txt")]),
            content,
            "round {round}"
        );
    }
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
}

#[test]
fn a_commit_moves_its_branch_only_once_what_it_waits_for_is_done() {
    for via_git in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        busy_repo(dir.path());
        if via_git {
            // A setting only git honours: the commit is left to the git CLI.
            git(dir.path(), &["config", "commit.cleanup", "verbatim"]);
        }
        let git_ = super::super::Git::new("git", dir.path());
        let head = || git(dir.path(), &["rev-parse", "HEAD"]).trim().to_owned();
        let before = head();
        let failed = git_.commit_all_noted("refused", None, &mut || {
            Err(std::io::Error::other("the flush failed"))
        });
        assert!(
            matches!(failed, Err(crate::process::Error::Before { .. })),
            "git {via_git}: {failed:?}"
        );
        assert_eq!(head(), before, "git {via_git}: HEAD moved");
        let mut seen = Vec::new();
        let (id, _) = git_
            .commit_all_noted("passed", None, &mut || {
                seen.push(head());
                Ok(())
            })
            .unwrap();
        assert_eq!(
            seen.first(),
            Some(&before),
            "git {via_git}: called after HEAD moved"
        );
        assert_eq!(head(), id, "git {via_git}");
    }
}
