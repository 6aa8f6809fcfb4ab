//! Test support: temporary git repositories driven with a hermetic environment (no global or
//! system git config, pinned author, dates, clock and seed), and helpers to run `godzilla`.
//!
//! Commands run through assert_cmd: [`TestRepo::command`] is the hermetic `godzilla` as an
//! `assert_cmd::Command`, and a finished [`Run`] hands its output to assert_cmd's `Assert`
//! ([`Run::assert`]) for exit-code and stream assertions with `predicates`:
//!
//! ```ignore
//! repo.godzilla(&["protocol", "show", "nope"])
//!     .assert()
//!     .code(2)
//!     .stderr(predicate::str::contains("hint:"));
//! ```
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::assert::{Assert, OutputAssertExt};
use tempfile::TempDir;

/// Output of one command, kept whole for [`Run::assert`] and as text for direct reads.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
    output: Output,
    /// The command line, shown when an assertion fails.
    command: Option<String>,
}

impl From<Output> for Run {
    /// A run from an `Output` the test collected itself (a spawned child's `wait_with_output`).
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            output,
            command: None,
        }
    }
}

impl Run {
    /// assert_cmd's assertions on this run (exit code, stdout, stderr); a failure prints the
    /// command line, the exit code and both streams.
    pub fn assert(&self) -> Assert {
        let assert = self.output.clone().assert();
        match &self.command {
            Some(command) => assert.append_context("command", command.clone()),
            None => assert,
        }
    }

    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        self.assert().code(code);
        self
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A temporary repository.
pub struct TestRepo {
    _dir: TempDir,
    /// Working tree root.
    pub root: PathBuf,
    home: PathBuf,
}

/// The pinned environment every git and godzilla process gets.
pub fn hermetic(cmd: &mut Command, home: &Path) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_AUTHOR_DATE", "2001-02-03T04:05:06+00:00")
        .env("GIT_COMMITTER_DATE", "2001-02-03T04:05:06+00:00")
        .env("GODZILLA_NOW", "2001-02-03T04:05:06Z")
        .env("GODZILLA_SEED", "42")
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8");
}

/// `program` in `dir` with the [`hermetic`] environment, as an assert_cmd command.
pub fn hermetic_command(program: &Path, dir: &Path, home: &Path) -> assert_cmd::Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir);
    hermetic(&mut cmd, home);
    assert_cmd::Command::from_std(cmd)
}

/// Runs `cmd` to completion (its stdin closed, both streams captured).
#[track_caller]
fn run(cmd: &mut assert_cmd::Command, args: &[&str]) -> Run {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
    Run {
        command: Some(format!(
            "{} {}",
            Path::new(cmd.get_program()).display(),
            args.join(" ")
        )),
        ..Run::from(output)
    }
}

/// The godzilla binary under test.
pub fn godzilla_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin!("godzilla").to_owned()
}

impl TestRepo {
    /// A new repository on branch `main` with one commit.
    pub fn new() -> Self {
        let repo = Self::empty_dir();
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write("README.md", "# test\n");
        repo.commit_all("initial");
        repo
    }

    /// A temp directory that is not a repository.
    pub fn empty_dir() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let root = root.canonicalize().unwrap();
        Self {
            _dir: dir,
            root,
            home,
        }
    }

    /// A new repository already set up with `godzilla init` and committed.
    pub fn initialized() -> Self {
        let repo = Self::new();
        repo.godzilla(&["init"]).expect(0);
        repo.commit_all("godzilla init");
        repo
    }

    /// Runs git in the root; panics on failure.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    /// Runs git in `dir`; panics on failure.
    #[track_caller]
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let run = run(
            hermetic_command(Path::new("git"), dir, &self.home).args(args),
            args,
        );
        run.assert().success();
        run.stdout
    }

    /// Runs godzilla in the root.
    pub fn godzilla(&self, args: &[&str]) -> Run {
        self.godzilla_env(args, &[])
    }

    /// Runs godzilla in the root with extra environment variables.
    pub fn godzilla_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.godzilla_in(&self.root, args, env)
    }

    /// Runs godzilla in `dir`.
    pub fn godzilla_in(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        run(self.command_in(dir, args).envs(env.iter().copied()), args)
    }

    /// The hermetic `godzilla args` in the root, not yet run: for what the helpers above do
    /// not set (stdin, a removed variable), then `.assert()` or `.output()`.
    pub fn command(&self, args: &[&str]) -> assert_cmd::Command {
        self.command_in(&self.root, args)
    }

    /// As [`TestRepo::command`], in `dir`.
    pub fn command_in(&self, dir: &Path, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = hermetic_command(&godzilla_bin(), dir, &self.home);
        cmd.args(args);
        cmd
    }

    /// Writes a file under the root.
    pub fn write(&self, rel: &str, content: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Reads a file under the root.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Commits everything.
    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// Writes step files into a fresh directory and returns it.
    pub fn step_dir(&self, steps: &[(&str, &str)]) -> PathBuf {
        let dir = self.home.join(format!(
            "steps-{}",
            steps.len() + fastrand_suffix(&self.home)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in steps {
            std::fs::write(dir.join(name), text).unwrap();
        }
        dir
    }

    /// Creates a protocol with the given steps; returns its id and worktree.
    pub fn new_protocol(&self, name: &str, steps: &[(&str, &str)]) -> (String, PathBuf) {
        let dir = self.step_dir(steps);
        let run = self
            .godzilla(&[
                "--json",
                "protocol",
                "new",
                name,
                "-d",
                &format!("do {name}"),
                "--steps-from",
                dir.to_str().unwrap(),
            ])
            .expect(0);
        let json = run.json();
        (
            json["id"].as_str().unwrap().to_owned(),
            PathBuf::from(json["worktree"].as_str().unwrap()),
        )
    }

    /// Every file under `dir` (recursively, `.git` internals excluded unless `dir` is in it).
    pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let ft = entry.file_type().unwrap();
                if ft.is_dir() {
                    if path.file_name().is_some_and(|n| n == ".git") {
                        continue;
                    }
                    walk(&path, out);
                } else if ft.is_file() {
                    out.insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
        }
        walk(dir, &mut out);
        out
    }

    /// The home directory used by every process.
    pub fn home(&self) -> &Path {
        &self.home
    }
}

fn fastrand_suffix(home: &Path) -> usize {
    std::fs::read_dir(home).map(|d| d.count()).unwrap_or(0)
}

/// Replaces the temp root with `[ROOT]` for snapshots.
pub fn normalize(text: &str, repo: &TestRepo) -> String {
    let parent = repo.root.parent().unwrap().to_string_lossy().into_owned();
    text.replace(&parent, "[ROOT]")
}

/// The fake engine binary (built with the `test-fakes` feature).
pub fn fake_engine_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin!("fake-engine").to_owned()
}

impl TestRepo {
    /// An initialized repository whose phases all use the fake engine, speaking `kind`'s
    /// output format (`claude`, `codex`, ...) and scripted by [`TestRepo::script`].
    pub fn with_fake_engine(kind: &str) -> Self {
        let repo = Self::new();
        repo.godzilla(&["init", "--engine", "fake"]).expect(0);
        let mut config = repo.read(".godzilla/config.toml");
        config.push_str(&format!(
            "\n[engines.fake]\nkind = \"{kind}\"\ncommand = \"{}\"\nenv = [\"GODZILLA_FAKE_ENGINE_SCRIPT={}\"]\n",
            fake_engine_bin().display(),
            repo.script_path().display()
        ));
        repo.write(".godzilla/config.toml", &config);
        repo.commit_all("godzilla init");
        repo.godzilla(&["allow"]).expect(0);
        repo
    }

    /// Where the fake engine's script lives.
    pub fn script_path(&self) -> PathBuf {
        self.home.join("fake-engine.json")
    }

    /// Replaces the fake engine's script (a JSON list of invocations) and resets its counter.
    pub fn script(&self, invocations: serde_json::Value) {
        std::fs::write(
            self.script_path(),
            serde_json::to_vec(&invocations).unwrap(),
        )
        .unwrap();
        std::fs::remove_file(self.home.join("fake-engine.json.counter")).ok();
        std::fs::remove_file(self.home.join("calls.jsonl")).ok();
    }

    /// What the fake engine recorded about each call.
    pub fn calls(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.home.join("calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Panics listing the paths that differ between two snapshots (not their bytes).
#[track_caller]
pub fn assert_same(before: &BTreeMap<PathBuf, Vec<u8>>, after: &BTreeMap<PathBuf, Vec<u8>>) {
    let mut diff = Vec::new();
    for (path, bytes) in before {
        match after.get(path) {
            None => diff.push(format!("removed {}", path.display())),
            Some(b) if b != bytes => diff.push(format!("changed {}", path.display())),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        diff.push(format!("added {}", path.display()));
    }
    assert!(diff.is_empty(), "files changed:\n{}", diff.join("\n"));
}
