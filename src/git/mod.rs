//! Git access. Reads go through gix ([`tree`]) where it is fast and complete; writes that gix
//! cannot do safely (config edits, branches, worktrees, commits, notes) go through the git
//! CLI with argv only and `--end-of-options` before user data.

pub mod commit;
pub mod diff;
mod identity;
pub mod kept_index;
pub mod notes;
pub mod object;
mod objects;
pub mod remote;
pub mod snapshot;
#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "the tests build repositories as a user would: plain writes and the git CLI"
)]
mod testing;
pub mod tracked;
pub mod tree;

use std::path::{Path, PathBuf};

use crate::process;

/// The git CLI, run in one directory with godzilla's fixed options.
#[derive(Clone, Debug)]
pub struct Git {
    program: String,
    dir: PathBuf,
}

/// Where `program` is, searched in `PATH` once per process: a step runs git four or five
/// times, and each spawn would otherwise try every `PATH` directory before git's (#13). A
/// program that is not found stays as named, so that its spawn reports it missing.
fn executable(program: &str) -> String {
    // A path is used as given (a relative one is the child's business, as before).
    if program.contains('/') {
        return program.to_owned();
    }
    type Cache = std::sync::Mutex<std::collections::HashMap<String, String>>;
    static CACHE: std::sync::LazyLock<Cache> = std::sync::LazyLock::new(Default::default);
    if let Some(found) = CACHE.lock().ok().and_then(|c| c.get(program).cloned()) {
        return found;
    }
    let found = which::which(program)
        .ok()
        .and_then(|p| p.into_os_string().into_string().ok())
        .unwrap_or_else(|| program.to_owned());
    if let Ok(mut c) = CACHE.lock() {
        c.insert(program.to_owned(), found.clone());
    }
    found
}

impl Git {
    /// Git for the repository or worktree at `dir`.
    pub fn new(program: &str, dir: &Path) -> Self {
        Self {
            program: program.to_owned(),
            dir: dir.to_path_buf(),
        }
    }

    /// The same git in another directory (another worktree).
    pub fn in_dir(&self, dir: &Path) -> Self {
        Self {
            program: self.program.clone(),
            dir: dir.to_path_buf(),
        }
    }

    /// The git executable.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The directory git runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The full argv (fixed options first) for `args`.
    pub fn argv_for(&self, args: &[&str]) -> Vec<String> {
        self.argv(args)
    }

    /// godzilla's own git calls run with `-c` overrides, because a repository (a clone's
    /// `.gitattributes`, its local config) must not make godzilla's plumbing run programs:
    /// - no hooks, no fsmonitor daemon, no pager, no background gc or maintenance after our
    ///   many small commits;
    /// - no signing: godzilla's commits are not signed and nothing it reads shows signatures,
    ///   so `gpg.program` never runs;
    /// - no external diff programs or textconv filters in `diff`, `log` and `show`;
    /// - no clean/smudge filter drivers, except in the commands that store or check out
    ///   content (`add`, `commit`, `checkout`, `reset`, `stash`, `worktree`, `clean`,
    ///   `status`), where they must store and compare the same bytes the user's own git
    ///   would (Git LFS is the common case).
    fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = [
            "gc.auto=0",
            "maintenance.auto=false",
            "core.fsmonitor=false",
            "core.pager=cat",
            "core.hooksPath=/dev/null",
            "commit.gpgSign=false",
            "tag.gpgSign=false",
            "log.showSignature=false",
        ]
        .iter()
        .flat_map(|kv| ["-c".to_owned(), (*kv).to_owned()])
        .collect();
        let command = args.first().copied().unwrap_or_default();
        let needs_filters = matches!(
            command,
            "add" | "commit" | "checkout" | "reset" | "stash" | "worktree" | "clean" | "status"
        );
        if !needs_filters {
            for driver in self.filter_drivers() {
                for (key, value) in [
                    ("clean", ""),
                    ("smudge", ""),
                    ("process", ""),
                    ("required", "false"),
                ] {
                    argv.push("-c".into());
                    argv.push(format!("filter.{driver}.{key}={value}"));
                }
            }
        }
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        if matches!(command, "diff" | "log" | "show") {
            // Right after the subcommand: before any `--end-of-options` or revision.
            argv.splice(
                argv.len() - args.len() + 1..argv.len() - args.len() + 1,
                ["--no-ext-diff".to_owned(), "--no-textconv".to_owned()],
            );
        }
        argv
    }

    /// Names of the filter drivers the repository's config defines (read once per
    /// repository and process; reading config runs nothing).
    fn filter_drivers(&self) -> Vec<String> {
        type Cache = std::sync::Mutex<std::collections::HashMap<PathBuf, Vec<String>>>;
        static CACHE: std::sync::LazyLock<Cache> = std::sync::LazyLock::new(Default::default);
        if let Some(found) = CACHE.lock().ok().and_then(|c| c.get(&self.dir).cloned()) {
            return found;
        }
        // In-process first: gix reads the same config files (system, global, local, worktree,
        // includes and `GIT_CONFIG_*`) that git would, and saves a process per command.
        let mut drivers = match open_repo(&self.dir) {
            Ok(repo) => repo
                .config_snapshot()
                .plumbing()
                .sections_by_name("filter")
                .into_iter()
                .flatten()
                .filter(|section| {
                    ["clean", "smudge", "process"]
                        .iter()
                        .any(|key| section.value(key).is_some())
                })
                .filter_map(|section| section.header().subsection_name())
                .map(|name| name.to_string())
                .collect(),
            Err(_) => self.filter_drivers_from_git(),
        };
        drivers.sort();
        drivers.dedup();
        if let Ok(mut c) = CACHE.lock() {
            c.insert(self.dir.clone(), drivers.clone());
        }
        drivers
    }

    /// [`Git::filter_drivers`] as `git config` lists them, unsorted.
    fn filter_drivers_from_git(&self) -> Vec<String> {
        let out = process::run(
            &self.program,
            &[
                "config",
                "--get-regexp",
                r"^filter\..*\.(clean|smudge|process)$",
            ],
            &self.dir,
            &[("LC_MESSAGES", "C"), ("GIT_TERMINAL_PROMPT", "0")],
            &["LC_ALL"],
            None,
        );
        out.map(|o| o.stdout_text())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' ').map_or(Some(l), |(k, _)| Some(k)))
            .filter_map(|key| key.strip_prefix("filter."))
            .filter_map(|rest| rest.rsplit_once('.').map(|(driver, _)| driver.to_owned()))
            .collect()
    }

    /// Runs git and returns its output whatever the exit code.
    pub fn run_unchecked(&self, args: &[&str]) -> Result<process::Output, process::Error> {
        self.exec(args, None)
    }

    /// Runs git, waiting a bounded time for another git process's `index.lock` to go: the
    /// git child of a godzilla that was killed finishes on its own a moment later.
    fn exec(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<process::Output, process::Error> {
        let owned = self.argv(args);
        let argv: Vec<&str> = owned.iter().map(String::as_str).collect();
        let program = executable(&self.program);
        let mut wait = std::time::Duration::from_millis(20);
        let mut waited = std::time::Duration::ZERO;
        loop {
            let out = process::run(
                &program,
                &argv,
                &self.dir,
                &[("LC_MESSAGES", "C"), ("GIT_TERMINAL_PROMPT", "0")],
                &["LC_ALL"],
                stdin,
            )?;
            let locked = out.code == Some(128)
                && String::from_utf8_lossy(&out.stderr).contains("index.lock': File exists");
            if !locked || waited >= std::time::Duration::from_secs(5) {
                return Ok(out);
            }
            std::thread::sleep(wait);
            waited += wait;
            wait = (wait * 2).min(std::time::Duration::from_millis(500));
        }
    }

    /// Runs git; a non-zero exit is an error with the stderr tail.
    pub fn run(&self, args: &[&str]) -> Result<String, process::Error> {
        let out = self.run_unchecked(args)?;
        // The error names the command as godzilla meant it, without the fixed overrides.
        process::check(&self.program, args, out).map(|o| o.stdout_text())
    }

    /// Runs git feeding `stdin`; a non-zero exit is an error.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Result<String, process::Error> {
        let out = self.exec(args, Some(stdin))?;
        process::check(&self.program, args, out).map(|o| o.stdout_text())
    }

    /// The commit HEAD points at, if any (read in-process).
    pub fn head(&self) -> Result<Option<String>, process::Error> {
        match object::head_commit(&self.dir) {
            Ok(head) => Ok(head),
            // gix could not read it: ask git, which has the last word on its own repository.
            Err(_) => {
                let out =
                    self.run_unchecked(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])?;
                Ok(out.success().then(|| out.stdout_text().trim().to_owned()))
            }
        }
    }

    /// Stages everything in the worktree and commits it with `message` (given on stdin, so
    /// its size and content never meet argv). Returns the new commit id.
    ///
    /// In-process when the worktree is plain (see [`commit`]); otherwise, or when the
    /// in-process path fails before the branch moved, with the git CLI.
    pub fn commit_all(&self, message: &str) -> Result<String, process::Error> {
        self.commit_all_noted(message, None, &mut || Ok(()))
            .map(|(id, _)| id)
    }

    /// [`Git::commit_all`], adding `note`'s record to the new commit's note in the same pack
    /// when committing in-process (see [`commit::commit_all_noted`]). Also returns whether the
    /// note was added; when not, the caller appends it.
    ///
    /// `before_publish` runs before the branch moves (in-process, once the commit is built; with
    /// the git CLI, before it starts): what the commit stores that must be durable first is
    /// waited for there. A later call after a successful one must succeed at once. When it
    /// fails, nothing moves and the commit fails.
    pub fn commit_all_noted(
        &self,
        message: &str,
        note: Option<commit::NoteOn<'_>>,
        before_publish: &mut dyn FnMut() -> std::io::Result<()>,
    ) -> Result<(String, bool), process::Error> {
        let failed: std::cell::RefCell<Option<std::io::Error>> = std::cell::RefCell::new(None);
        let mut before = || match before_publish() {
            Ok(()) => Ok(()),
            Err(e) => {
                let shown = std::io::Error::new(e.kind(), e.to_string());
                *failed.borrow_mut() = Some(e);
                Err(shown)
            }
        };
        let refused = |source| process::Error::Before {
            what: "before the commit could move its branch".into(),
            source,
        };
        match commit::commit_all_noted(self, message, note, &mut before) {
            Ok((commit::Outcome::Committed(id), noted)) => return Ok((id, noted)),
            Ok((commit::Outcome::UseGit(reason), _)) => {
                tracing::debug!(dir = %self.dir.display(), reason, "commit with the git CLI");
            }
            Err(e) => {
                if let Some(source) = failed.borrow_mut().take() {
                    return Err(refused(source));
                }
                tracing::debug!(error = %e, "in-process commit failed; using the git CLI");
            }
        }
        before().map_err(refused)?;
        self.commit_all_cli(message).map(|id| (id, false))
    }

    /// The paths `git status --porcelain` lists (an untracked directory may be listed whole
    /// when git answers, file by file when gix does): in-process where a commit would be.
    pub fn dirty_paths(&self) -> Result<Vec<String>, process::Error> {
        self.dirty_paths_except(None)
    }

    /// [`Git::dirty_paths`] outside the top-level directory `except`, which is not looked at.
    pub fn dirty_paths_outside(&self, except: &str) -> Result<Vec<String>, process::Error> {
        self.dirty_paths_except(Some(except))
    }

    fn dirty_paths_except(&self, except: Option<&str>) -> Result<Vec<String>, process::Error> {
        match commit::dirty_paths(&self.dir, except) {
            Ok(Some(paths)) => return Ok(paths),
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "in-process status failed; using the git CLI"),
        }
        let exclude = except.map(|d| format!(":(exclude,top){d}"));
        let mut args = vec![
            "status",
            "--porcelain",
            "-z",
            "--untracked-files=all",
            "--no-renames",
            "--",
        ];
        args.extend(exclude.as_deref());
        let mut paths: Vec<String> = self
            .run(&args)?
            .split('\0')
            .filter(|entry| entry.len() > 3)
            .map(|entry| entry[3..].to_owned())
            .collect();
        // Ignored state files are something to commit too (see `commit_all_cli`).
        if except != Some(commit::STATE_DIR) && self.dir.join(commit::STATE_DIR).is_dir() {
            let ignored = self.run(&[
                "status",
                "--porcelain",
                "-z",
                "--ignored=matching",
                "--untracked-files=all",
                "--no-renames",
                "--",
                commit::STATE_DIR,
            ])?;
            paths.extend(
                ignored
                    .split('\0')
                    .filter_map(|entry| entry.strip_prefix("!! "))
                    .map(str::to_owned),
            );
        }
        Ok(paths)
    }

    /// [`Git::commit_all`] with the git CLI only.
    pub fn commit_all_cli(&self, message: &str) -> Result<String, process::Error> {
        self.run(&["add", "--all"])?;
        // godzilla's state goes in whatever ignore rules say (an agent may have added some).
        if self.dir.join(commit::STATE_DIR).is_dir() {
            self.run(&["add", "--all", "--force", "--", commit::STATE_DIR])?;
        }
        self.run_with_stdin(
            &[
                "commit",
                "--quiet",
                "--no-verify",
                "--allow-empty",
                "-F",
                "-",
            ],
            message.as_bytes(),
        )?;
        Ok(self.head()?.unwrap_or_default())
    }

    /// All values of a config key (empty when unset).
    pub fn config_get_all(&self, key: &str) -> Result<Vec<String>, process::Error> {
        let out =
            self.run_unchecked(&["config", "--local", "--get-all", "--end-of-options", key])?;
        Ok(out.stdout_text().lines().map(str::to_owned).collect())
    }

    /// Sets a config key in the repository's own config. Returns whether it changed.
    pub fn config_set(&self, key: &str, value: &str) -> Result<bool, process::Error> {
        if self.config_get_all(key)? == [value] {
            return Ok(false);
        }
        self.run(&["config", "--local", "--end-of-options", key, value])?;
        Ok(true)
    }

    /// Adds a value to a multi-valued key unless present. Returns whether it changed.
    pub fn config_add(&self, key: &str, value: &str) -> Result<bool, process::Error> {
        if self.config_get_all(key)?.iter().any(|v| v == value) {
            return Ok(false);
        }
        self.run(&["config", "--local", "--add", "--end-of-options", key, value])?;
        Ok(true)
    }

    /// Names of the remotes.
    pub fn remotes(&self) -> Result<Vec<String>, process::Error> {
        Ok(self.run(&["remote"])?.lines().map(str::to_owned).collect())
    }
}

/// The branch HEAD points at in the repository whose git dir is `git_dir`; `None` when HEAD is
/// detached or unreadable. Read from the file, not via a `git` process: status calls it for
/// every listing.
pub fn current_branch(git_dir: &Path) -> Option<String> {
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    head.trim()
        .strip_prefix("ref: refs/heads/")
        .map(str::to_owned)
}

/// Opens the repository at `dir` with gix, once per directory and process: a step reads HEAD,
/// refs, trees and notes a dozen times, and each open reads the config files, `commondir` and
/// the ref layout again (a fifth of godzilla's own time per step, #13). What the handle reads
/// later stays fresh: loose refs and loose objects are read from disk on each lookup, packed
/// refs are reloaded when the file changes, and a missing object rescans the packs. Only the
/// config snapshot is kept, which godzilla never changes in the middle of a command it reads
/// objects in.
pub fn open_repo(dir: &Path) -> Result<gix::Repository, Box<dyn std::error::Error + Send + Sync>> {
    if let Some(repo) = REPOS.with(|c| c.borrow().get(dir).cloned()) {
        return Ok(repo);
    }
    // Room for the packs written while the handle lives: gix sizes its table of pack indexes
    // when it opens (by default 10% over the packs there, 32 at least) and cannot find an
    // object in a pack beyond it. A `protocol run` writes a pack per commit (folded by eights,
    // see `objects`), git's repack merges them at `gc.autoPackLimit`; a slot is a few words.
    let slots = gix::odb::store::init::Slots::AsNeededByDiskState {
        multiplier: 2.0,
        minimum: MIN_SLOTS,
    };
    let options = gix::open::Options::default()
        .object_store_slots(slots)
        .config_overrides([NANOSECOND_STAT]);
    let repo = gix::open_opts(dir, options).map_err(Box::new)?;
    REPOS.with(|c| c.borrow_mut().insert(dir.to_path_buf(), repo.clone()));
    Ok(repo)
}

/// Compares file times to the nanosecond, as git built with `USE_NSEC` does. A tracked file
/// is "racily clean" when it is not older than the index, so a change in the same tick as the
/// index write could hide behind equal stat data; such files are read and hashed again. By
/// the second, that is every file a step wrote, since the index follows them within
/// milliseconds: each status re-read and re-hashed the previous step's files (#13). To the
/// nanosecond, only files written in the index's own clock tick are, which is git's rule
/// applied at the file system's own precision: the window in which a change could hide is
/// that tick instead of the rest of a second.
const NANOSECOND_STAT: &str = "gitoxide.core.useNsec=true";

/// The fewest slots a handle's table of pack indexes has (see [`open_repo`]).
const MIN_SLOTS: usize = 1024;

/// Free slots below which a handle is replaced (see [`reopen_if_crowded`]).
const SPARE_SLOTS: usize = 64;

type Repos = std::mem::ManuallyDrop<std::collections::HashMap<PathBuf, gix::Repository>>;

thread_local! {
    /// [`open_repo`]'s handles, per thread: a gix handle is not `Send` without gix's `parallel`
    /// feature. Never dropped: dropping the repositories when the thread ends (the main
    /// thread's at exit) unmapped their pack indices one by one, after the command's work was
    /// done; the kernel takes the whole address space at once when the process ends (#13). A
    /// thread that ends before its process (a worker's slots) keeps its handles' maps until then.
    static REPOS: std::cell::RefCell<Repos> = Default::default();
}

/// After a pack was written to `repo`, which now holds `packs`: when so many packs are there
/// that `repo`'s table of pack indexes is nearly full (only where git's repack has not kept
/// them down), this thread's handles are dropped, so that the next [`open_repo`] sizes a new
/// table for what is there now. A long-lived process (a worker) would otherwise stop finding
/// new objects once its table was full.
pub(crate) fn reopen_if_crowded(repo: &gix::Repository, packs: usize) {
    if packs + SPARE_SLOTS < MIN_SLOTS {
        return;
    }
    if repo.objects.store_ref().metrics().unused_slots < SPARE_SLOTS {
        REPOS.with(|c| c.borrow_mut().clear());
    }
}
