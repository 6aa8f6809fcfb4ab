//! Git access. Reads go through gix ([`tree`]) where it is fast and complete; writes that gix
//! cannot do safely (config edits, branches, worktrees, commits, notes) go through the git
//! CLI with argv only and `--end-of-options` before user data.

pub mod notes;
pub mod object;
pub mod remote;
pub mod tree;

use std::path::{Path, PathBuf};

use crate::process;

/// The git CLI, run in one directory with godzilla's fixed options.
#[derive(Clone, Debug)]
pub struct Git {
    program: String,
    dir: PathBuf,
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
    pub fn argv_for<'a>(&self, args: &[&'a str]) -> Vec<&'a str> {
        Self::argv(args)
    }

    fn argv<'a>(args: &[&'a str]) -> Vec<&'a str> {
        // Why these: no fsmonitor daemons, no pager, no repo hooks run on our plumbing, and no
        // background gc or maintenance forked after each of our many small commits.
        let mut argv = vec![
            "-c",
            "gc.auto=0",
            "-c",
            "maintenance.auto=false",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.pager=cat",
            "-c",
            "core.hooksPath=/dev/null",
        ];
        argv.extend_from_slice(args);
        argv
    }

    /// Runs git and returns its output whatever the exit code.
    pub fn run_unchecked(&self, args: &[&str]) -> Result<process::Output, process::Error> {
        self.exec(args, None)
    }

    /// Runs git, waiting a bounded time for another git process's `index.lock` to go: the
    /// git child of a godzilla that was killed finishes on its own a moment later.
    fn exec(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<process::Output, process::Error> {
        let argv = Self::argv(args);
        let mut wait = std::time::Duration::from_millis(20);
        let mut waited = std::time::Duration::ZERO;
        loop {
            let out = process::run(
                &self.program,
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
        let argv = Self::argv(args);
        process::check(&self.program, &argv, out).map(|o| o.stdout_text())
    }

    /// Runs git feeding `stdin`; a non-zero exit is an error.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Result<String, process::Error> {
        let argv = Self::argv(args);
        let out = self.exec(args, Some(stdin))?;
        process::check(&self.program, &argv, out).map(|o| o.stdout_text())
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
    pub fn commit_all(&self, message: &str) -> Result<String, process::Error> {
        self.run(&["add", "--all"])?;
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
