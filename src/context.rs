//! The world as godzilla sees it, captured once at start-up: where the repository is, the
//! environment variables godzilla reads, the clock, the id source and the reporter.
//!
//! Services take a `&Context` instead of reaching for globals, so tests pin time and
//! randomness with `GODZILLA_NOW` and `GODZILLA_SEED` (honoured only here).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::error_kind::{ErrorKind, HasKind};
use crate::report::Reporter;

/// Errors finding the repository.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No git repository contains the directory.
    #[error("{} is not inside a git repository", path.display())]
    NotARepository {
        /// Where the search started.
        path: PathBuf,
    },
    /// The repository has no working tree.
    #[error("the repository at {} is bare; godzilla needs a working tree", path.display())]
    Bare {
        /// The git dir.
        path: PathBuf,
    },
    /// A value in the environment is malformed.
    #[error("environment variable {name} has an invalid value `{value}`")]
    BadEnv {
        /// Variable name.
        name: &'static str,
        /// Its value.
        value: String,
    },
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        // Where godzilla is run, and with what environment, is the caller's choice.
        match self {
            Self::NotARepository { .. } | Self::Bare { .. } | Self::BadEnv { .. } => {
                ErrorKind::Usage
            }
        }
    }
}

/// The paths every service needs.
#[derive(Clone, Debug)]
pub struct Paths {
    /// Root of the current working tree.
    pub work_tree: PathBuf,
    /// The git dir of this worktree (`.git`, or `.git/worktrees/NAME`).
    pub git_dir: PathBuf,
    /// The common git dir shared by all worktrees.
    pub common_dir: PathBuf,
}

impl Paths {
    /// `.godzilla/` in the current working tree.
    pub fn state_dir(&self) -> PathBuf {
        self.work_tree.join(".godzilla")
    }

    /// Machine-local state shared by all worktrees: `$GIT_COMMON_DIR/godzilla`.
    pub fn local_dir(&self) -> PathBuf {
        self.common_dir.join("godzilla")
    }
}

/// Environment variables godzilla reads, captured once.
#[derive(Clone, Debug, Default)]
pub struct EnvSnapshot {
    /// `GODZILLA_NOW`: a fixed time (seconds since the epoch or RFC 3339) for tests.
    pub now: Option<String>,
    /// `GODZILLA_SEED`: seed for ids, for tests.
    pub seed: Option<String>,
    /// `GODZILLA_FAULT`: failpoint to arm (feature `fault-injection` only).
    pub fault: Option<String>,
    /// `GODZILLA_GIT`: the git executable (default `git` on PATH).
    pub git: Option<String>,
    /// `GODZILLA_TRUST_CONFIG=1` (or `--trust-config`): run the repository's commands without
    /// `godzilla allow` (CI).
    pub trust_config: bool,
    /// The whole process environment, from which engines get only allowlisted and declared
    /// keys (and from which secrets to scrub are taken).
    pub all: std::sync::Arc<std::collections::BTreeMap<String, String>>,
}

impl EnvSnapshot {
    /// Reads the variables from the process environment.
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place that reads the environment"
    )]
    pub fn capture() -> Self {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            now: get("GODZILLA_NOW"),
            seed: get("GODZILLA_SEED"),
            fault: get("GODZILLA_FAULT"),
            git: get("GODZILLA_GIT"),
            trust_config: get("GODZILLA_TRUST_CONFIG").is_some_and(|v| v == "1" || v == "true"),
            // Non-UTF-8 variables are skipped: no engine key or path we pass on needs one.
            all: std::sync::Arc::new(
                std::env::vars_os()
                    .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                    .collect(),
            ),
        }
    }
}

/// Source of time.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The system clock.
    System,
    /// Always the same instant (tests).
    Fixed(SystemTime),
}

impl Clock {
    /// Now.
    #[allow(clippy::disallowed_methods, reason = "the one sanctioned clock read")]
    pub fn now(&self) -> SystemTime {
        match self {
            Self::System => SystemTime::now(),
            Self::Fixed(t) => *t,
        }
    }

    /// Now as RFC 3339 UTC with second precision.
    pub fn now_rfc3339(&self) -> String {
        humantime::format_rfc3339_seconds(self.now()).to_string()
    }
}

/// Source of random numbers for ids and nonces.
pub struct Ids {
    rng: Mutex<fastrand::Rng>,
}

impl Ids {
    /// Seeded (tests) or from the OS.
    pub fn new(seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(s) => fastrand::Rng::with_seed(s),
            None => fastrand::Rng::new(),
        };
        Self {
            rng: Mutex::new(rng),
        }
    }

    /// A random 64-bit value.
    pub fn next_u64(&self) -> u64 {
        self.rng.lock().map(|mut r| r.u64(..)).unwrap_or_default()
    }

    /// A short random token for ids (16 hex digits).
    pub fn token(&self) -> String {
        format!("{:016x}", self.next_u64())
    }
}

/// How engines are built besides the config: recorded, replayed, or supplied in-process.
#[derive(Clone, Debug, Default)]
pub struct EngineIo {
    /// `--record DIR`: every engine run is stored there as a recording.
    pub record: Option<PathBuf>,
    /// `--replay DIR` (or the demo's recordings): every engine answers from recordings only.
    pub replay: Option<crate::engines::replay::TranscriptSource>,
    /// In-process engines that replace configured ones of the same name (embedders, tests).
    pub extra: Vec<Arc<dyn crate::engines::Engine>>,
}

/// Everything a service may touch besides its arguments.
pub struct Context {
    /// Repository paths.
    pub paths: Paths,
    /// Captured environment.
    pub env: EnvSnapshot,
    /// The clock.
    pub clock: Clock,
    /// Randomness.
    pub ids: Ids,
    /// Where status and warnings go.
    pub reporter: Arc<dyn Reporter>,
    /// Recording and replaying of engine runs.
    pub engine_io: EngineIo,
}

impl Context {
    /// Finds the repository containing `cwd` and captures the environment.
    pub fn discover(cwd: &Path, reporter: Arc<dyn Reporter>) -> Result<Self, Error> {
        let env = EnvSnapshot::capture();
        Self::discover_with(cwd, env, reporter)
    }

    /// As [`Context::discover`] with an explicit environment.
    pub fn discover_with(
        cwd: &Path,
        env: EnvSnapshot,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Self, Error> {
        crate::fault::arm(env.fault.as_deref());
        let paths = discover_paths(cwd)?;
        let clock = match &env.now {
            None => Clock::System,
            Some(v) => Clock::Fixed(parse_time(v).ok_or_else(|| Error::BadEnv {
                name: "GODZILLA_NOW",
                value: v.clone(),
            })?),
        };
        let seed = match &env.seed {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| Error::BadEnv {
                name: "GODZILLA_SEED",
                value: v.clone(),
            })?),
        };
        // Every process with the same seed would draw the same ids; mixing in the pid keeps
        // events from two processes distinct while a single process stays reproducible.
        let ids = Ids::new(seed.map(|s| s ^ u64::from(std::process::id()).rotate_left(32)));
        Ok(Self {
            paths,
            env,
            clock,
            ids,
            reporter,
            engine_io: EngineIo::default(),
        })
    }

    /// The git executable to run.
    pub fn git_program(&self) -> &str {
        self.env.git.as_deref().unwrap_or("git")
    }
}

fn parse_time(v: &str) -> Option<SystemTime> {
    if let Ok(secs) = v.parse::<u64>() {
        return Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
    }
    humantime::parse_rfc3339_weak(v).ok()
}

/// Walks up from `cwd` to the repository, without starting git: start-up time matters.
fn discover_paths(cwd: &Path) -> Result<Paths, Error> {
    let (path, _trust) = gix::discover::upwards(cwd).map_err(|_| Error::NotARepository {
        path: cwd.to_path_buf(),
    })?;
    let (git_dir, work_tree) = path.into_repository_and_work_tree_directories();
    let work_tree = work_tree.ok_or_else(|| Error::Bare {
        path: git_dir.clone(),
    })?;
    let git_dir = absolutize(cwd, &git_dir);
    let work_tree = absolutize(cwd, &work_tree);
    let common_dir = match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => absolutize(&git_dir, Path::new(rel.trim())),
        Err(_) => git_dir.clone(),
    };
    Ok(Paths {
        work_tree,
        git_dir,
        common_dir,
    })
}

fn absolutize(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    joined.canonicalize().unwrap_or(joined)
}
