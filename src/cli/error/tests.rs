//! The kind of a representative variant of each library error enum, and the exit code the CLI
//! gives it: exit codes are a contract (README, "Exit codes"), so a change here is a change
//! users see.

use std::path::PathBuf;

use super::*;
use crate::domain::{ProtocolId, ProtocolStatus, StepId, StepStatus};
use crate::services::lease::LeaseTarget;

/// Asserts `err`'s kind, and that the CLI turns it into the matching exit code.
#[track_caller]
fn pin<E>(err: E, kind: ErrorKind)
where
    E: HasKind + std::fmt::Debug,
    CliError: From<E>,
{
    assert_eq!(err.kind(), kind, "{err:?}");
    let shown = format!("{err:?}");
    assert_eq!(
        CliError::from(err).kind,
        ExitKind::from(kind),
        "exit code of {shown}"
    );
}

fn protocol() -> ProtocolId {
    ProtocolId::parse("0001-login").unwrap()
}

fn step() -> StepId {
    StepId::parse("01-api").unwrap()
}

fn path() -> PathBuf {
    PathBuf::from("/x")
}

fn git_failed() -> crate::process::Error {
    crate::process::Error::Exited {
        program: "git".into(),
        args: vec!["status".into()],
        status: "exit status: 128".into(),
        stderr_tail: String::new(),
    }
}

fn busy() -> execution::Error {
    execution::Error::Busy(protocol())
}

#[test]
fn exit_kinds_match_error_kinds_one_to_one() {
    assert_eq!(ExitKind::from(ErrorKind::Usage).code(), 2);
    assert_eq!(ExitKind::from(ErrorKind::Failed).code(), 1);
    assert_eq!(ExitKind::from(ErrorKind::Negative).code(), 3);
    assert_eq!(ExitKind::from(ErrorKind::Internal).code(), 255);
}

#[test]
fn platform_and_adapter_errors_have_their_kinds() {
    use ErrorKind::{Failed, Usage};
    pin(storage::Error::ProtocolNotFound(protocol()), Usage);
    pin(
        storage::Error::TornLog {
            path: path(),
            line: 3,
        },
        Failed,
    );
    pin(context::Error::Bare { path: path() }, Usage);
    pin(engines::Error::Incomplete { name: "x".into() }, Usage);
    pin(engines::Error::Workdir { path: path() }, Failed);
    pin(notes::Error::BadRecord("it is not an object".into()), Usage);
    pin(notes::Error::Contended, Failed);
    pin(Infra::Git(git_failed()), Failed);
    pin(
        Infra::Storage(storage::Error::ProtocolNotFound(protocol())),
        Usage,
    );
    pin(platform_engines::Error::NoEngine { phase: "exec" }, Usage);
    // Selecting an engine: a profile that names nothing usable is usage, the rest a failure.
    pin(
        platform_engines::Error::Engine(engines::Error::UnknownKind {
            name: "x".into(),
            kind: "y".into(),
        }),
        Usage,
    );
    pin(
        platform_engines::Error::Engine(engines::Error::NeedsModel { name: "x".into() }),
        Failed,
    );
    pin(
        protocols::Error::Ambiguous {
            what: protocols::IdKind::Protocol,
            typed: "0".into(),
            candidates: vec![],
        },
        Usage,
    );
    pin(queue::Error::BadJobId("x".into()), Usage);
    pin(PerPhaseError::Empty("exec=".into()), ErrorKind::Usage);
}

#[test]
fn step_service_errors_have_their_kinds() {
    use ErrorKind::{Failed, Internal, Negative, Usage};
    pin(
        show::Error::Read(protocols::Error::NoWorktree {
            id: protocol(),
            branch: "b".into(),
        }),
        Usage,
    );
    pin(
        spec::Error::Invalid {
            protocol: protocol(),
            issues: vec![],
        },
        Negative,
    );
    pin(
        prompts::Error::Render {
            source_name: "builtin:exec".into(),
            source: minijinja::Error::new(minijinja::ErrorKind::SyntaxError, "x"),
        },
        Usage,
    );
    pin(
        trust::Untrusted {
            what: "checks".into(),
            plural: true,
            path: path(),
        },
        Usage,
    );
    pin(clarifications::Error::BadKey("A B".into()), Usage);
    pin(
        policy::Error::Invalid {
            path: path(),
            source: "bad".into(),
        },
        Usage,
    );
    pin(busy(), Failed);
    pin(
        execution::Error::ProtocolState {
            protocol: protocol(),
            status: ProtocolStatus::Paused,
            why: "resume it first",
        },
        Negative,
    );
    pin(
        execution::Error::ProtocolState {
            protocol: protocol(),
            status: ProtocolStatus::Completed,
            why: "nothing to run",
        },
        Usage,
    );
    pin(quality::Error::Moved { step: step() }, Usage);
    pin(quality::Error::NothingToJudge { step: step() }, Failed);
    pin(quality::Error::Budget("over".into()), Negative);
    pin(planning::Error::Clarifications(vec!["k".into()]), Negative);
    // Policy packs are configuration, whatever stopped them loading.
    pin(
        planning::Error::Policy(policy::Error::Infra(Infra::Git(git_failed()))),
        Usage,
    );
    pin(
        planning::Error::Interrupted {
            protocol: protocol(),
            reason: "SIGINT".into(),
        },
        Failed,
    );
    pin(
        decomposition::Error::StepState {
            step: step(),
            status: StepStatus::Running,
        },
        Usage,
    );
    pin(
        decomposition::Error::EngineFailed {
            step: step(),
            reason: "x".into(),
        },
        Failed,
    );
    // Discovery without an engine is a failure to discover, not a usage mistake.
    pin(
        onboarding::DiscoveryError::Selection(platform_engines::Error::NoEngine {
            phase: "discovery",
        }),
        Failed,
    );
    pin(
        onboarding::Error::BadBranch {
            name: "a..b".into(),
            reason: "x",
        },
        Usage,
    );
    pin(
        onboarding::Error::Template(minijinja::Error::new(
            minijinja::ErrorKind::SyntaxError,
            "x",
        )),
        Internal,
    );
    pin(orchestrator::Error::Runaway(protocol()), Internal);
    pin(orchestrator::Error::Execution(Box::new(busy())), Failed);
    pin(
        codemachine::Error::NotAWorkspace {
            root: path(),
            missing: path(),
        },
        Usage,
    );
    pin(speckit::Error::NoTasks { path: path() }, Usage);
}

#[test]
fn view_and_remote_errors_have_their_kinds() {
    use ErrorKind::{Failed, Internal, Negative, Usage};
    let target = LeaseTarget::parse("0001-login").unwrap();
    pin(
        worker::Error::Spawn {
            job: "j".into(),
            source: std::io::Error::other("x"),
        },
        Failed,
    );
    pin(cost::Error::BadScope("x".into()), Usage);
    pin(feed::Error::BadSince("x".into()), Usage);
    pin(gc::Error::Queue(queue::Error::NoSuchJob("j".into())), Usage);
    pin(report::Error::Execution(Box::new(busy())), Failed);
    pin(watch::Error::Infra(Infra::Git(git_failed())), Failed);
    pin(
        sync::Error::Lease(lease::Error::LostRace {
            target: target.clone(),
        }),
        Negative,
    );
    pin(
        sync::Error::Remote(remote::Error::BadRef {
            name: "x".into(),
            reason: "y",
        }),
        Usage,
    );
    pin(
        lease::Error::Remote(remote::Error::BadRef {
            name: "x".into(),
            reason: "y",
        }),
        Failed,
    );
    pin(lease::Error::LostRace { target }, Negative);
    pin(forge_service::Error::NoProvider, Usage);
    pin(
        forge_service::Error::Forge(forge::Error::NotInstalled {
            program: "gh".into(),
        }),
        Usage,
    );
    pin(
        ci::Error::ReadBack {
            provider: "github",
            detail: "x".into(),
        },
        Internal,
    );
    pin(demo::Error::NotEmpty { path: path() }, Failed);
}

#[test]
fn a_wrapped_error_is_shown_as_itself_with_its_hint() {
    // `queue exec` finds a busy run lock by its type in the chain.
    let err = CliError::from(orchestrator::Error::Execution(Box::new(busy())));
    assert!(matches!(
        err.error.downcast_ref::<execution::Error>(),
        Some(execution::Error::Busy(_))
    ));
    assert!(err.hints[0].starts_with("wait for it to finish"));
    let err = CliError::from(planning::Error::Infra(Infra::Storage(
        storage::Error::NotInitialized { path: path() },
    )));
    assert_eq!(err.kind, ExitKind::Usage);
    assert_eq!(err.hints, ["run `godzilla init` to set this repository up"]);
}
