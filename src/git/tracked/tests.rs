//! What the index vouches for, on real repositories made with the git CLI.
use super::*;
use crate::git::testing::{git, write};

fn repo(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    write(dir, "a.txt", "alpha\n");
    write(dir, "sub/b.txt", "beta\n");
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    // The index written a moment after the files: their entries are not racy.
    std::thread::sleep(std::time::Duration::from_millis(20));
    git(dir, &["update-index", "--refresh", "--really-refresh"]);
}

fn staged(dir: &Path, rel: &str) -> gix::ObjectId {
    git(dir, &["rev-parse", &format!(":{rel}")])
        .trim()
        .parse()
        .unwrap()
}

fn blob(dir: &Path, rel: &str) -> Option<gix::ObjectId> {
    let path = dir.join(rel);
    let meta = std::fs::symlink_metadata(&path).unwrap();
    Tracked::load(dir).unwrap().blob(&path, &meta)
}

#[test]
fn a_committed_untouched_file_is_its_blob_and_any_change_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    repo(d);
    assert_eq!(blob(d, "a.txt"), Some(staged(d, "a.txt")));
    assert_eq!(blob(d, "sub/b.txt"), Some(staged(d, "sub/b.txt")));
    // Rewritten with as many bytes, its modification time put back: the change time tells.
    let mtime = std::fs::metadata(d.join("a.txt"))
        .unwrap()
        .modified()
        .unwrap();
    std::fs::write(d.join("a.txt"), "ALPHA\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(d.join("a.txt"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(blob(d, "a.txt"), None);
    // Only touched (same bytes): not vouched for either, it is read.
    let before = std::fs::read(d.join("sub/b.txt")).unwrap();
    std::fs::write(d.join("sub/b.txt"), before).unwrap();
    assert_eq!(blob(d, "sub/b.txt"), None);
    // Untracked, or outside the checkout: nothing.
    write(d, "new.txt", "new\n");
    assert_eq!(blob(d, "new.txt"), None);
    let other = tempfile::tempdir().unwrap();
    write(other.path(), "a.txt", "alpha\n");
    let meta = std::fs::metadata(other.path().join("a.txt")).unwrap();
    assert_eq!(
        Tracked::load(d)
            .unwrap()
            .blob(&other.path().join("a.txt"), &meta),
        None
    );
}

#[test]
fn entries_marked_by_hand_or_racy_are_not_vouched_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    repo(d);
    git(d, &["update-index", "--assume-unchanged", "a.txt"]);
    git(d, &["update-index", "--skip-worktree", "sub/b.txt"]);
    assert_eq!(blob(d, "a.txt"), None);
    assert_eq!(blob(d, "sub/b.txt"), None);
    // Changed after the index was written (its time stamp in the future): racy.
    write(d, "c.txt", "gamma\n");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(d.join("c.txt"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    git(d, &["add", "c.txt"]);
    assert_eq!(blob(d, "c.txt"), None);
    // Intent to add: no content recorded.
    write(d, "d.txt", "delta\n");
    git(d, &["add", "--intent-to-add", "d.txt"]);
    assert_eq!(blob(d, "d.txt"), None);
}

#[test]
fn a_worktree_is_vouched_for_by_its_own_index() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    repo(d);
    let wt = d.join("wt");
    git(
        d,
        &["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()],
    );
    write(&wt, "a.txt", "changed in the worktree\n");
    git(&wt, &["add", "a.txt"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    git(&wt, &["update-index", "--refresh"]);
    assert_eq!(blob(&wt, "a.txt"), Some(staged(&wt, "a.txt")));
    assert_ne!(staged(&wt, "a.txt"), staged(d, "a.txt"));
    // No index at all: nothing is vouched for.
    let bare = tempfile::tempdir().unwrap();
    git(bare.path(), &["init", "-q"]);
    assert!(Tracked::load(bare.path()).is_none());
}

#[test]
fn a_blob_is_given_only_as_the_content_its_id_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    repo(d);
    let id = staged(d, "a.txt");
    assert_eq!(blob_bytes(d, &id).unwrap(), b"alpha\n");
    assert!(is_blob_of(&id, b"alpha\n"));
    assert!(!is_blob_of(&id, b"alpha!\n"));
    // A copy with the object gone, then with another object's file in its place (what an
    // agent with write access to the repository could do). A fresh copy: the handle above may
    // keep what it read.
    let other = git(d, &["hash-object", "-w", "--stdin"]);
    let other = other.trim();
    let other_file = d.join(".git/objects").join(&other[..2]).join(&other[2..]);
    let copies = tempfile::tempdir().unwrap();
    let fresh = copies.path().join("clone");
    git(
        d,
        &[
            "clone",
            "-q",
            "--no-local",
            d.to_str().unwrap(),
            fresh.to_str().unwrap(),
        ],
    );
    let hex = id.to_string();
    let fresh_loose = fresh.join(".git/objects").join(&hex[..2]).join(&hex[2..]);
    let _not_loose = std::fs::remove_file(&fresh_loose);
    for pack in std::fs::read_dir(fresh.join(".git/objects/pack")).unwrap() {
        std::fs::remove_file(pack.unwrap().path()).unwrap();
    }
    assert!(matches!(
        blob_bytes(&fresh, &id),
        Err(BlobError::Missing(missing)) if missing == id
    ));
    std::fs::create_dir_all(fresh_loose.parent().unwrap()).unwrap();
    std::fs::copy(&other_file, &fresh_loose).unwrap();
    assert!(matches!(
        blob_bytes(&fresh, &id),
        Err(BlobError::Corrupt(bad)) if bad == id
    ));
}
