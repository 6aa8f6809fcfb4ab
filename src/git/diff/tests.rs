//! The in-process diff against `git diff` itself, on real repositories.
use super::*;
use crate::git::testing::{git, write};

fn commit(dir: &Path, message: &str) -> String {
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
    git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

/// A repository whose first commit has what a protocol's worktree has (godzilla's
/// `.gitattributes` block, `.godzilla/`) and some source.
fn repo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    git(d, &["config", "user.name", "Test"]);
    git(d, &["config", "user.email", "test@example.com"]);
    write(
        d,
        ".gitattributes",
        "# >>> godzilla >>>\n.godzilla/**/events.jsonl merge=union\n# <<< godzilla <<<\n",
    );
    write(d, ".godzilla/events.jsonl", "{}\n");
    let mut long = String::from("fn main() {\n");
    for i in 0..40 {
        long.push_str(&format!("    let x{i} = {i};\n"));
    }
    long.push_str("}\n\nstruct Tail;\n");
    write(d, "src/main.rs", &long);
    write(d, "notes.txt", "one\ntwo\nthree");
    write(d, "gone.txt", "bye\n");
    write(d, "run.sh", "#!/bin/sh\necho hi\n");
    let base = commit(d, "base");
    (dir, base)
}

/// What git prints for the review: the stat and patch from `base`, or the commit's own patch.
fn git_patch(dir: &Path, base: Option<&str>, commit: &str) -> String {
    match base {
        Some(b) => git(
            dir,
            &[
                "diff",
                "--stat",
                "--patch",
                b,
                commit,
                "--",
                ".",
                ":!.godzilla",
            ],
        ),
        None => git(
            dir,
            &[
                "show",
                "--format=",
                "--patch",
                commit,
                "--",
                ".",
                ":!.godzilla",
            ],
        ),
    }
}

/// Asserts that the in-process patch from `base` (or of the commit alone) to `commit` is the
/// one git prints.
fn assert_renders_as_git(dir: &Path, base: Option<&str>, commit: &str) {
    let ours = patch(dir, base, commit, ".godzilla").unwrap();
    assert_eq!(ours.as_deref(), Some(git_patch(dir, base, commit).as_str()));
}

#[test]
fn text_changes_render_as_git_renders_them() {
    let (dir, base) = repo();
    let d = dir.path();
    let text = std::fs::read_to_string(d.join("src/main.rs")).unwrap();
    // Two hunks far apart (the second under a function line), a file losing its last newline
    // and one gaining lines, a new executable, a new empty file, godzilla's state left out.
    let text = text
        .replace("    let x3 = 3;\n", "    let x3 = 33;\n    let y = 0;\n")
        .replace("struct Tail;\n", "struct Tail {\n    field: u8,\n}\n");
    write(d, "src/main.rs", &text);
    write(d, "notes.txt", "one\n2\nthree\nfour\n");
    write(d, "new/deep/file.md", "# New\n\nbody\n");
    write(d, "with space.txt", "spaced\n");
    write(d, "empty.txt", "");
    write(d, "tool.sh", "#!/bin/sh\n");
    git(d, &["update-index", "--add", "--chmod=+x", "tool.sh"]);
    write(d, ".godzilla/events.jsonl", "{}\n{\"x\":1}\n");
    let head = commit(d, "change");
    assert_renders_as_git(d, Some(&base), &head);
    // Without a base: the commit's own patch, as `git show` prints it.
    assert_renders_as_git(d, None, &head);
}

#[test]
fn deletions_and_a_missing_last_newline_render_as_git_renders_them() {
    let (dir, base) = repo();
    let d = dir.path();
    std::fs::remove_file(d.join("gone.txt")).unwrap();
    write(d, "notes.txt", "one\ntwo\nthree\n");
    let head = commit(d, "delete");
    assert_renders_as_git(d, Some(&base), &head);
    // Nothing changed outside the excluded directory: both print nothing.
    write(d, ".godzilla/events.jsonl", "{}\n{}\n");
    let next = commit(d, "state only");
    assert_renders_as_git(d, Some(&head), &next);
}

#[test]
fn what_git_renders_otherwise_is_left_to_git() {
    type Change = fn(&Path);
    let cases: [(&str, Change); 6] = [
        ("a rename", |d| {
            std::fs::rename(d.join("gone.txt"), d.join("moved.txt")).unwrap();
        }),
        ("a mode change", |d| {
            use std::os::unix::fs::PermissionsExt as _;
            let path = d.join("notes.txt");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }),
        ("a binary attribute", |d| {
            write(d, ".gitattributes", "*.txt binary\n");
            write(d, "notes.txt", "changed\n");
        }),
        ("a diff setting", |d| {
            git(d, &["config", "diff.noprefix", "true"]);
            write(d, "notes.txt", "changed\n");
        }),
        ("copy detection", |d| {
            git(d, &["config", "diff.renames", "copies"]);
            write(d, "notes.txt", "changed\n");
        }),
        ("a path git quotes", |d| {
            write(d, "caf\u{e9}.txt", "x\n");
        }),
    ];
    for (what, change) in cases {
        let (dir, base) = repo();
        let d = dir.path();
        change(d);
        let head = commit(d, what);
        assert_eq!(
            patch(d, Some(&base), &head, ".godzilla").unwrap(),
            None,
            "{what} is git's to render"
        );
    }
}
