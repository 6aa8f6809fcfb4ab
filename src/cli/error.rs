//! CLI errors: an error, the exit code it maps to, and hints. Hints are chosen here, at the
//! boundary, from typed library errors (the library never knows about command lines).

use std::process::ExitCode;

use crate::context;
use crate::domain::ProtocolStatus;
use crate::engines;
use crate::services::platform::infra::Infra;
use crate::services::platform::{protocols, storage};
use crate::services::{execution, onboarding, orchestrator, planning, prompts, show, spec};

/// Exit codes are a contract (see README): scripts rely on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// 0: done.
    Success,
    /// 1: something failed (I/O, git, engine).
    Failed,
    /// 2: bad usage, bad config or bad input.
    Usage,
    /// 3: a negative outcome (problems found, QA FAIL, budget exhausted, blocked).
    Negative,
    /// 255: a bug in godzilla.
    Internal,
}

impl ExitKind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failed => 1,
            Self::Usage => 2,
            Self::Negative => 3,
            Self::Internal => 255,
        }
    }
}

impl From<ExitKind> for ExitCode {
    fn from(kind: ExitKind) -> Self {
        ExitCode::from(kind.code())
    }
}

/// An error on its way to the user.
#[derive(Debug)]
pub struct CliError {
    /// The error with its cause chain.
    pub error: anyhow::Error,
    /// The exit code.
    pub kind: ExitKind,
    /// Suggestions printed after the error.
    pub hints: Vec<String>,
}

impl CliError {
    /// An error with an exit kind.
    pub fn new(kind: ExitKind, error: impl Into<anyhow::Error>) -> Self {
        Self {
            error: error.into(),
            kind,
            hints: Vec::new(),
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

fn storage_hint(err: &storage::Error) -> Option<&'static str> {
    match err {
        storage::Error::NotInitialized { .. } => {
            Some("run `godzilla init` to set this repository up")
        }
        storage::Error::FutureFormat { .. } => {
            Some("this state was written by a newer godzilla; upgrade godzilla to read it")
        }
        storage::Error::TornLog { .. } => Some("run `godzilla fsck --repair` to mend it"),
        storage::Error::Toml { .. } => Some(
            "fix the file (see `godzilla init --help` for the layout), then run the command again",
        ),
        storage::Error::Json { .. } => Some(
            "run `godzilla fsck` to see every problem, `godzilla fsck --repair` to rebuild views",
        ),
        storage::Error::ProtocolNotFound(_) => Some("`godzilla status` lists the protocols"),
        storage::Error::Symlink { .. } => Some(
            "replace the link with the real file or directory (check where it points first); `godzilla fsck` lists every link in .godzilla/",
        ),
        _ => None,
    }
}

impl From<storage::Error> for CliError {
    fn from(err: storage::Error) -> Self {
        // A refused transition is a request the current state does not allow: a usage error.
        let kind = if err.is_user_input() || matches!(err, storage::Error::Transition { .. }) {
            ExitKind::Usage
        } else {
            ExitKind::Failed
        };
        let hint = storage_hint(&err);
        let mut e = Self::new(kind, err);
        e.hints.extend(hint.map(str::to_owned));
        e
    }
}

impl From<Infra> for CliError {
    fn from(err: Infra) -> Self {
        match err {
            Infra::Storage(e) => e.into(),
            Infra::Engine(e) => e.into(),
            Infra::Git(e) => Self::new(ExitKind::Failed, e),
            Infra::Tree(e) => Self::new(ExitKind::Failed, e),
            Infra::Notes(e) => Self::new(ExitKind::Failed, e),
        }
    }
}

impl From<context::Error> for CliError {
    fn from(err: context::Error) -> Self {
        let hint = match &err {
            context::Error::NotARepository { .. } => {
                Some("run godzilla inside a git repository, or create one with `git init`")
            }
            context::Error::Bare { .. } => {
                Some("clone it or add a worktree with `git worktree add`")
            }
            context::Error::BadEnv { .. } => None,
        };
        let mut e = Self::new(ExitKind::Usage, err);
        e.hints.extend(hint.map(str::to_owned));
        e
    }
}

impl From<onboarding::Error> for CliError {
    fn from(err: onboarding::Error) -> Self {
        match err {
            onboarding::Error::Infra(e) => e.into(),
            onboarding::Error::Template(e) => Self::new(ExitKind::Internal, e),
            e @ onboarding::Error::BadBranch { .. } => Self::new(ExitKind::Usage, e)
                .with_hint("pass the name of a branch, e.g. `--base-branch main`"),
            e @ onboarding::Error::EditConfig { .. } => Self::new(ExitKind::Usage, e),
        }
    }
}

impl From<protocols::Error> for CliError {
    fn from(err: protocols::Error) -> Self {
        use protocols::Error as E;
        match err {
            E::Infra(e) => e.into(),
            E::Unknown {
                what, ref closest, ..
            } => {
                let hint = match closest {
                    Some(c) => format!("did you mean `{c}`?"),
                    None if what == "protocol" => "`godzilla status` lists the protocols".into(),
                    None => "`godzilla protocol show <protocol>` lists its steps".into(),
                };
                Self::new(ExitKind::Usage, err).with_hint(hint)
            }
            E::Ambiguous { .. } => {
                Self::new(ExitKind::Usage, err).with_hint("type more of the id, or its number")
            }
            E::NoWorktree { ref branch, .. } => {
                let hint = format!("recreate it with `git worktree add <dir> {branch}`");
                Self::new(ExitKind::Usage, err).with_hint(hint)
            }
        }
    }
}

impl From<show::Error> for CliError {
    fn from(err: show::Error) -> Self {
        match err {
            show::Error::Read(e) => e.into(),
            show::Error::Spec(e) => (*e).into(),
        }
    }
}

impl From<orchestrator::Error> for CliError {
    fn from(err: orchestrator::Error) -> Self {
        use orchestrator::Error as E;
        match err {
            E::Infra(e) => e.into(),
            E::Read(e) => e.into(),
            E::Show(e) => e.into(),
            E::Execution(e) => (*e).into(),
            E::Planning(e) => (*e).into(),
            E::Spec(e) => (*e).into(),
            E::Quality(e) => (*e).into(),
            E::Clarifications(e) => e.into(),
            E::StepState { .. } => Self::new(ExitKind::Usage, err),
            E::Control { ref id, .. } => {
                let hint = format!("`godzilla status {id}` shows where it stands");
                Self::new(ExitKind::Usage, err).with_hint(hint)
            }
            E::NothingToRetry { ref id, .. } => {
                let hint = format!("`godzilla protocol run {id}` continues it");
                Self::new(ExitKind::Usage, err).with_hint(hint)
            }
            E::Runaway(_) => Self::new(ExitKind::Internal, err),
            E::Duplicate { .. } => {
                Self::new(ExitKind::Usage, err).with_hint("pick another short name")
            }
            E::NoBase(_) => Self::new(ExitKind::Usage, err).with_hint(
                "pass `--base BRANCH` or set project.base_branch in .godzilla/config.toml",
            ),
            E::Name { .. } | E::EmptySlug(_) | E::StepFile { .. } => {
                Self::new(ExitKind::Usage, err)
            }
        }
    }
}

impl From<engines::Error> for CliError {
    fn from(err: engines::Error) -> Self {
        let hint = err.hint();
        let kind = match err {
            engines::Error::UnknownEngine { .. }
            | engines::Error::UnknownKind { .. }
            | engines::Error::Incomplete { .. }
            | engines::Error::NeedsModel { .. }
            | engines::Error::Template { .. }
            | engines::Error::NoTranscripts { .. }
            | engines::Error::ReplayCommand { .. }
            | engines::Error::RelativeRecord { .. }
            | engines::Error::Transcript { .. } => ExitKind::Usage,
            _ => ExitKind::Failed,
        };
        let mut e = Self::new(kind, err);
        e.hints.extend(hint);
        e
    }
}

impl From<prompts::Error> for CliError {
    fn from(err: prompts::Error) -> Self {
        match err {
            prompts::Error::Infra(e) => e.into(),
            e @ prompts::Error::Render { .. } => Self::new(ExitKind::Usage, e)
                .with_hint("fix the template, or delete it to use the built-in one (`godzilla prompts show <role>`)"),
        }
    }
}

impl From<execution::Error> for CliError {
    fn from(err: execution::Error) -> Self {
        use execution::Error as E;
        match err {
            E::Infra(e) => e.into(),
            E::Protocols(e) => (*e).into(),
            E::Prompt(e) => e.into(),
            E::Untrusted(e) => e.into(),
            E::NoStep { .. } => Self::new(ExitKind::Usage, err).with_hint("`godzilla status <protocol> --json` lists its steps"),
            E::Selection(e) => {
                let hint = e.hint();
                let kind = match e {
                    crate::services::platform::engines::Error::Engine(ref inner)
                        if !matches!(
                            inner,
                            engines::Error::UnknownEngine { .. }
                                | engines::Error::UnknownKind { .. }
                                | engines::Error::Incomplete { .. }
                                | engines::Error::NoTranscripts { .. }
                                | engines::Error::ReplayCommand { .. }
                                | engines::Error::RelativeRecord { .. }
                        ) =>
                    {
                        ExitKind::Failed
                    }
                    _ => ExitKind::Usage,
                };
                let mut c = Self::new(kind, e);
                c.hints.extend(hint);
                c
            }
            E::Busy(_) => Self::new(ExitKind::Failed, err).with_hint("wait for it to finish; if no godzilla is running, the lock is released already and this is a bug"),
            E::ProtocolState { status: ProtocolStatus::Paused, .. } => Self::new(ExitKind::Negative, err),
            E::ProtocolState { .. } | E::StepState { .. } => Self::new(ExitKind::Usage, err),
            E::Budget(_) => Self::new(ExitKind::Negative, err)
                .with_hint("raise [budget] limits in .godzilla/config.toml, or set mode = \"warn\""),
        }
    }
}

impl From<spec::Error> for CliError {
    fn from(err: spec::Error) -> Self {
        match err {
            spec::Error::Infra(e) => e.into(),
            spec::Error::Protocols(e) => (*e).into(),
            e @ spec::Error::NoSpec { .. } => Self::new(ExitKind::Usage, e)
                .with_hint("`godzilla spec validate <protocol>` builds one from the step files"),
            e @ spec::Error::Invalid { .. } => Self::new(ExitKind::Negative, e),
            e @ (spec::Error::StepName { .. } | spec::Error::HashMismatch { .. }) => {
                Self::new(ExitKind::Usage, e).with_hint(
                    "`godzilla spec validate <protocol>` rebuilds the spec from the step files",
                )
            }
        }
    }
}

impl From<planning::Error> for CliError {
    fn from(err: planning::Error) -> Self {
        use planning::Error as E;
        match err {
            E::Infra(e) => e.into(),
            E::Selection(e) => execution::Error::Selection(e).into(),
            E::Prompt(e) => e.into(),
            E::Spec(e) => e.into(),
            E::Untrusted(e) => e.into(),
            E::State { .. } => Self::new(ExitKind::Usage, err),
            E::Budget(_) => Self::new(ExitKind::Negative, err),
            E::Clarifications(_) => Self::new(ExitKind::Negative, err).with_hint("`godzilla clarify list` shows them; `godzilla clarify answer KEY VALUE`"),
            E::Policy(e) => Self::new(ExitKind::Usage, e),
            E::Failed { .. } => Self::new(ExitKind::Negative, err)
                .with_hint("the protocol is blocked; `godzilla protocol plan <id>` tries again, `godzilla protocol show <id>` shows the events"),
            // The process exits as the signal would (128+signal) whatever this says.
            E::Interrupted { .. } => Self::new(ExitKind::Failed, err)
                .with_hint("nothing was lost: `godzilla protocol plan <id>` plans again"),
        }
    }
}

impl From<crate::services::trust::Untrusted> for CliError {
    fn from(err: crate::services::trust::Untrusted) -> Self {
        Self::new(ExitKind::Usage, err)
            .with_hint("review that file, then run `godzilla allow` (from any worktree: it trusts the file named above); in CI pass `--trust-config`")
    }
}

impl From<crate::services::quality::Error> for CliError {
    fn from(err: crate::services::quality::Error) -> Self {
        use crate::services::quality::Error as E;
        match err {
            E::Infra(e) => e.into(),
            E::Spec(e) => e.into(),
            E::Prompt(e) => e.into(),
            E::Untrusted(e) => e.into(),
            E::Selection(e) => execution::Error::Selection(e).into(),
            E::NoStep { .. } | E::NotReady { .. } => Self::new(ExitKind::Usage, err),
            E::NoAttempt { .. } => Self::new(ExitKind::Failed, err),
            E::NothingToJudge { .. } => Self::new(ExitKind::Failed, err).with_hint(
                "add the project's test, lint or build commands under [checks] in \
                 .godzilla/config.toml (`godzilla discover --apply` proposes them), or give the \
                 step QA policy `full` (a review) or `skip`",
            ),
            E::Budget(_) => Self::new(ExitKind::Negative, err).with_hint(
                "raise [budget] limits in .godzilla/config.toml, or set mode = \"warn\"",
            ),
            // The process exits as the signal would (128+signal) whatever this says.
            E::Interrupted { .. } => Self::new(ExitKind::Failed, err)
                .with_hint("nothing was judged: the step still waits for QA; run it again"),
            E::Moved { .. } => Self::new(ExitKind::Usage, err).with_hint(
                "QA judges the code a step's attempt produced; retry the step to judge new code",
            ),
        }
    }
}

impl From<crate::services::clarifications::Error> for CliError {
    fn from(err: crate::services::clarifications::Error) -> Self {
        match err {
            crate::services::clarifications::Error::Infra(e) => e.into(),
            other => Self::new(ExitKind::Usage, other)
                .with_hint("`godzilla clarify list` shows the open questions"),
        }
    }
}
