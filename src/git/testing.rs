//! What the git module's tests share: git run as a user would, files written plainly.

use std::path::Path;
use std::process::Command;

/// git with no global or system config and pinned dates; the identity comes from the
/// repository's config or the command's environment.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    git_with_input(dir, args, "")
}

/// [`git`] with `input` on its stdin.
pub(crate) fn git_with_input(dir: &Path, args: &[&str], input: &str) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_DATE", "2001-02-03T04:05:06+00:00")
        .env("GIT_COMMITTER_DATE", "2001-02-03T04:05:06+00:00")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(input.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes `content` at `rel` under `dir`, making its directories.
pub(crate) fn write(dir: &Path, rel: &str, content: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}
