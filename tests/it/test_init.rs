//! `godzilla init`.

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::{TestRepo, normalize};

#[test]
fn test_init_sets_up_layout_config_and_git() {
    let repo = TestRepo::new();
    let run = repo
        .godzilla(&["init", "--ci", "github", "--engine", "codex"])
        .expect(0);
    assert!(
        run.stdout.starts_with("Initialized godzilla in"),
        "{}",
        run.stdout
    );
    assert_eq!(repo.read(".godzilla/format"), "1\n");
    let config = godzilla::config::parse(&repo.read(".godzilla/config.toml")).unwrap();
    assert_eq!(config.project.base_branch, "main");
    assert_eq!(config.project.ci, godzilla::config::CiProvider::Github);
    assert_eq!(config.phases.exec.engine.as_deref(), Some("codex"));
    assert!(
        repo.read(".gitattributes")
            .contains(".godzilla/**/events.jsonl merge=union")
    );
    assert_eq!(
        repo.git(&["config", "--get", "notes.rewriteRef"]).trim(),
        "refs/notes/godzilla"
    );
    assert_eq!(
        repo.git(&["config", "--get", "notes.rewrite.rebase"])
            .trim(),
        "true"
    );
    assert_eq!(
        repo.git(&["config", "--get", "notes.godzilla.mergeStrategy"])
            .trim(),
        "cat_sort_uniq"
    );
    assert_eq!(
        repo.git(&[
            "check-attr",
            "merge",
            "--",
            ".godzilla/protocols/0001-a/events.jsonl"
        ])
        .trim(),
        ".godzilla/protocols/0001-a/events.jsonl: merge: union"
    );
    let events = repo.read(".godzilla/events.jsonl");
    assert_eq!(events.lines().count(), 1);
    assert!(events.contains("\"type\":\"project_initialized\""));
    assert!(repo.root.join(".git/godzilla/locks").is_dir());
}

#[test]
fn test_init_twice_changes_nothing_and_says_so() {
    let repo = TestRepo::new();
    repo.write(".gitattributes", "*.png binary\n");
    repo.godzilla(&["init"]).expect(0);
    let before = TestRepo::snapshot(&repo.root);
    let git_config = repo.read(".git/config");
    let run = repo.godzilla(&["init"]).expect(0);
    assert!(run.stdout.contains("nothing changed"), "{}", run.stdout);
    crate::support::assert_same(&before, &TestRepo::snapshot(&repo.root));
    assert_eq!(repo.read(".git/config"), git_config);
    assert!(
        repo.read(".gitattributes")
            .starts_with("*.png binary\n# >>> godzilla >>>")
    );
    let json = repo.godzilla(&["--json", "init"]).expect(0).json();
    assert_eq!(json["changes"], serde_json::json!([]));
}

#[test]
fn test_init_adds_notes_fetch_refspec_for_each_remote() {
    let repo = TestRepo::new();
    repo.git(&["remote", "add", "origin", "https://example.invalid/x.git"]);
    repo.godzilla(&["init"]).expect(0);
    let fetch = repo.git(&["config", "--get-all", "remote.origin.fetch"]);
    assert!(
        fetch.contains("+refs/notes/godzilla*:refs/notes/remotes/origin/godzilla*"),
        "{fetch}"
    );
    repo.godzilla(&["init"]).expect(0);
    assert_eq!(
        repo.git(&["config", "--get-all", "remote.origin.fetch"]),
        fetch
    );
}

#[test]
fn test_init_outside_a_repository_is_a_usage_error() {
    let dir = TestRepo::empty_dir();
    let run = dir.godzilla(&["init"]).expect(2);
    let stderr = normalize(&run.stderr, &dir);
    assert_eq!(
        stderr,
        "error: [ROOT]/repo is not inside a git repository\n\
         hint: run godzilla inside a git repository, or create one with `git init`\n"
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn test_init_refuses_a_future_format_and_touches_nothing() {
    let repo = TestRepo::new();
    repo.write(".godzilla/format", "99\n");
    let before = TestRepo::snapshot(&repo.root);
    repo.godzilla(&["init"])
        .assert()
        .code(2)
        .stderr(contains(".godzilla/format says format 99").and(contains("hint: ")));
    crate::support::assert_same(&before, &TestRepo::snapshot(&repo.root));
}

#[test]
fn test_init_reports_a_malformed_config_by_file_and_field() {
    let repo = TestRepo::new();
    repo.write(".godzilla/format", "1\n");
    repo.write(".godzilla/config.toml", "[budget]\nmode = \"sometimes\"\n");
    let before = TestRepo::snapshot(&repo.root);
    repo.godzilla(&["init"]).assert().code(2).stderr(
        contains("invalid ")
            .and(contains(".godzilla/config.toml"))
            .and(contains("sometimes"))
            .and(contains("line 2")),
    );
    crate::support::assert_same(&before, &TestRepo::snapshot(&repo.root));
}

#[test]
fn test_init_force_rewrites_config() {
    let repo = TestRepo::new();
    repo.godzilla(&["init"]).expect(0);
    repo.godzilla(&["init", "--force", "--base-branch", "trunk"])
        .expect(0);
    let config = godzilla::config::parse(&repo.read(".godzilla/config.toml")).unwrap();
    assert_eq!(config.project.base_branch, "trunk");
}
