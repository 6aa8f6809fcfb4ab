//! The demo: a whole protocol, offline and without API keys.
//!
//! It makes a scratch repository, sets it up with the built-in `replay` engine (whose
//! recordings ship in the binary and are given to no other command), creates a protocol that replay plans, runs it
//! (execute, checks, review, for every step) to `completed`, and returns what a person would
//! look at: the status and `git log --notes=godzilla` of the protocol's branch. Everything it
//! does goes through the same services as real use; only the engine is recorded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::context::{Context, EngineIo};
use crate::engines::Engine;
use crate::engines::replay::TranscriptSource;
use crate::error_kind::{ErrorKind, HasKind};
use crate::git::Git;
use crate::report::Reporter;
use crate::services::orchestrator::{self, CreateOptions, RunOptions, RunSummary, StepSource};
use crate::services::planning::PlanOptions;
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage::{self, Store};
use crate::services::{onboarding, trust};

/// The demo's recordings: its planner, builder and reviewer, recorded (`--record`) from a run
/// of this very demo, so they answer its prompts by hash. Only the demo hands them to an
/// engine; regenerate them with `bin/regenerate` when a prompt changes.
pub static TRANSCRIPTS: &str = include_str!("../../templates/demo/recordings.json");

/// Errors from the demo.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory is not usable.
    #[error("{} exists and is not empty; the demo needs a new or empty directory", path.display())]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// The scratch repository could not be opened.
    #[error(transparent)]
    Context(#[from] crate::context::Error),
    /// Setting up failed.
    #[error(transparent)]
    Onboarding(#[from] onboarding::Error),
    /// Creating or running the protocol failed.
    #[error(transparent)]
    Orchestrator(#[from] orchestrator::Error),
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        // The demo builds its own scratch repository and drives it: whatever goes wrong in it
        // is the demo failing, not a request of the user's that could be put right.
        match self {
            Self::NotEmpty { .. }
            | Self::Infra(_)
            | Self::Context(_)
            | Self::Onboarding(_)
            | Self::Orchestrator(_) => ErrorKind::Failed,
        }
    }
}

/// What the demo produced.
#[derive(Clone, Debug, Serialize)]
pub struct DemoOutcome {
    /// The scratch repository.
    pub repository: PathBuf,
    /// The protocol's worktree.
    pub worktree: PathBuf,
    /// The run.
    pub run: RunSummary,
    /// `git log --notes=godzilla` of the protocol branch.
    pub log: String,
}

/// Runs the demo in `dir` (created if missing; must be empty), answered by its recordings.
pub fn run_demo(dir: &Path, reporter: Arc<dyn Reporter>) -> Result<DemoOutcome, Error> {
    let io = EngineIo {
        replay: Some(TranscriptSource::Static(TRANSCRIPTS)),
        ..EngineIo::default()
    };
    run_demo_with(dir, reporter, io)
}

/// Runs the demo with `answers` (an engine named `replay`) in place of the recordings and
/// records every run into `out`: how the shipped recordings are made.
pub fn record_demo(
    dir: &Path,
    reporter: Arc<dyn Reporter>,
    answers: Arc<dyn Engine>,
    out: &Path,
) -> Result<DemoOutcome, Error> {
    let io = EngineIo {
        record: Some(out.to_path_buf()),
        extra: vec![answers],
        ..EngineIo::default()
    };
    run_demo_with(dir, reporter, io)
}

fn run_demo_with(
    dir: &Path,
    reporter: Arc<dyn Reporter>,
    io: EngineIo,
) -> Result<DemoOutcome, Error> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|e| storage::Error::io(dir, e))?
            .next()
            .is_some()
    {
        return Err(Error::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    let repo = dir.join("repo");
    storage::create_dir(&repo)?;
    storage::write_atomic(
        &repo.join("README.md"),
        b"# demo\n\nA scratch project for the godzilla demo.\n",
    )?;
    let git = Git::new("git", &repo);
    git.run(&["init", "--quiet", "--initial-branch=main"])?;
    // The scratch repository has its own identity, so the demo works on a machine with none.
    git.run(&["config", "user.name", "godzilla demo"])?;
    git.run(&["config", "user.email", "demo@godzilla.invalid"])?;
    git.commit_all("Initial commit\n")?;

    let mut ctx = Context::discover(&repo, reporter)?;
    ctx.engine_io = io;
    let ctx = ctx;
    reporter_status(
        &ctx,
        "Setting up",
        "the scratch repository with the replay engine",
    );
    onboarding::init_project(
        &ctx,
        &onboarding::InitOptions {
            engine: Some("replay".into()),
            ..Default::default()
        },
    )?;
    let store = Store::new(&ctx.paths);
    let config_text = std::fs::read_to_string(store.config_path())
        .map_err(|e| storage::Error::io(store.config_path(), e))?;
    let config_text = config_text.replacen(
        "[checks]\n",
        "[checks]\ngreeting = [\"test\", \"-s\", \"GREETING.md\"]\n",
        1,
    );
    storage::write_atomic(&store.config_path(), config_text.as_bytes())?;
    let config = store.load_config()?;
    trust::allow(&store, &config)?;
    git.commit_all("Set up godzilla\n")?;

    let created = orchestrator::create_protocol_run(
        &ctx,
        &CreateOptions {
            short_name: "greeting".into(),
            description: "Greet the readers of this project".into(),
            base: None,
            steps: StepSource::Plan(PlanOptions::default()),
        },
    )?;
    reporter_status(&ctx, "Running", &format!("protocol {}", created.id));
    let run = orchestrator::run_protocol(&ctx, &created.id, &RunOptions::default(), &mut |_| {})?;
    let log = git.run(&[
        "log",
        "--notes=godzilla",
        "--format=%h %s%n%N",
        &created.branch,
    ])?;
    Ok(DemoOutcome {
        repository: repo,
        worktree: PathBuf::from(created.worktree),
        run,
        log,
    })
}

fn reporter_status(ctx: &Context, verb: &str, message: &str) {
    ctx.reporter.status(verb, message);
}
