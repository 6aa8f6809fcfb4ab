//! Where protocol worktrees live: outside `.git` (agents refuse to edit below it) and outside
//! the main working tree, and worktrees left at the old place under `.git` move out.

use std::path::{Path, PathBuf};

use crate::support::TestRepo;

/// `$HOME/.local/share/godzilla/worktrees` of the hermetic home (no XDG_DATA_HOME is set).
fn data_worktrees(repo: &TestRepo) -> PathBuf {
    repo.home().join(".local/share/godzilla/worktrees")
}

fn worktree_list(repo: &TestRepo) -> Vec<PathBuf> {
    repo.git(&["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(PathBuf::from)
        .collect()
}

fn assert_outside(repo: &TestRepo, worktree: &Path) {
    assert!(
        !worktree.components().any(|c| c.as_os_str() == ".git"),
        "{} is below a .git directory",
        worktree.display()
    );
    assert!(
        !worktree.starts_with(&repo.root),
        "{} is inside the main working tree",
        worktree.display()
    );
}

#[test]
fn test_worktree_default_is_in_the_user_data_dir() {
    let repo = TestRepo::initialized();
    let (id, worktree) = repo.new_protocol("greeting", &[("01-a.md", "# A\nx\n")]);
    assert_outside(&repo, &worktree);
    let dir = worktree.parent().unwrap();
    assert_eq!(dir.parent().unwrap(), data_worktrees(&repo));
    let key = dir.file_name().unwrap().to_str().unwrap();
    assert!(key.starts_with("repo-"), "{key}");
    assert_eq!(worktree.file_name().unwrap().to_str(), Some(id.as_str()));
    assert!(worktree.join(".godzilla/protocols").join(&id).is_dir());
    assert!(worktree_list(&repo).contains(&worktree));
    // Nothing shows as untracked in the main working tree.
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    // A second repository with the same directory name gets its own directory.
    let other = TestRepo::initialized();
    let (_, other_wt) = other.new_protocol("greeting", &[("01-a.md", "# A\nx\n")]);
    assert_ne!(
        other_wt.parent().unwrap().file_name(),
        worktree.parent().unwrap().file_name()
    );
}

#[test]
fn test_worktree_dir_honours_xdg_data_home_and_the_config() {
    let repo = TestRepo::initialized();
    let data = repo.home().join("xdg-data");
    let dir = repo.step_dir(&[("01-a.md", "# A\nx\n")]);
    let run = repo
        .godzilla_env(
            &[
                "--json",
                "protocol",
                "new",
                "one",
                "-d",
                "d",
                "--steps-from",
                dir.to_str().unwrap(),
            ],
            &[("XDG_DATA_HOME", data.to_str().unwrap())],
        )
        .expect(0);
    let wt = PathBuf::from(run.json()["worktree"].as_str().unwrap());
    assert!(wt.starts_with(data.join("godzilla/worktrees")), "{wt:?}");

    let elsewhere = repo.home().join("trees");
    let config = repo.read(".godzilla/config.toml").replace(
        "worktree_dir = \"\"",
        &format!("worktree_dir = \"{}\"", elsewhere.display()),
    );
    repo.write(".godzilla/config.toml", &config);
    repo.commit_all("absolute worktree_dir");
    let (id, wt) = repo.new_protocol("two", &[("01-a.md", "# A\nx\n")]);
    assert_eq!(wt, elsewhere.join(id));
}

#[test]
fn test_worktree_at_the_old_place_under_git_moves_out() {
    let repo = TestRepo::initialized();
    let (id, worktree) = repo.new_protocol("legacy", &[("01-a.md", "# A\nx\n")]);
    // Put it where godzilla used to: $GIT_COMMON_DIR/godzilla/worktrees/<id>.
    let old = repo.root.join(".git/godzilla/worktrees").join(&id);
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    repo.git(&[
        "worktree",
        "move",
        worktree.to_str().unwrap(),
        old.to_str().unwrap(),
    ]);
    std::fs::write(old.join("uncommitted.txt"), "work in progress\n").unwrap();
    assert!(worktree_list(&repo).contains(&old));

    let run = repo.godzilla(&["protocol", "show", &id]).expect(0);
    assert!(run.stderr.contains("Moved"), "{}", run.stderr);
    assert!(!old.exists(), "the old worktree is gone");
    assert!(worktree.is_dir(), "it is back at the default place");
    assert_eq!(
        std::fs::read_to_string(worktree.join("uncommitted.txt")).unwrap(),
        "work in progress\n",
        "uncommitted work moved with it"
    );
    let list = worktree_list(&repo);
    assert!(list.contains(&worktree) && !list.contains(&old), "{list:?}");
    // The protocol is found there, and nothing moves twice.
    let status = repo.godzilla(&["--json", "status"]).expect(0).json();
    assert_eq!(
        status["protocols"][0]["location"]["path"].as_str(),
        Some(worktree.to_str().unwrap())
    );
    let again = repo.godzilla(&["protocol", "show", &id]).expect(0);
    assert!(!again.stderr.contains("Moved"), "{}", again.stderr);
}
