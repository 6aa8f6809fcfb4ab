//! The forge service: pull/merge requests and CI runs for a protocol's branch, through `gh` or
//! `glab` as `[project] ci` says.
//!
//! `open_pr` pushes the branch (via `sync`), takes the body from the protocol's Markdown report
//! ([`report::pr_body`]: steps, QA verdicts with their checks, cost, commits, plan) with secrets
//! scrubbed, then updates the open PR/MR for the branch if there is one and creates it otherwise; the URL is recorded as a `pr_opened`
//! event. `ci_status` applies the rules the original applied on its CI webhooks: all checks
//! passed records `ci_passed` (QA may proceed); a failed or cancelled check records
//! `ci_failed` naming it and blocks the step being worked on.

use serde::Serialize;

use crate::config::CiProvider;
use crate::context::Context;
use crate::domain::{EventKind, ProtocolId, StepStatus};
use crate::engines::scrub::Scrubber;
use crate::error_kind::{ErrorKind, HasKind};
use crate::forge::{self, Bucket, Check, Cli, PrRequest, PullRequest, gh::Gh, glab::Glab};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::protocols;
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{self, Store, events};
use crate::services::platform::telemetry;
use crate::services::report;
use crate::services::show::{self, ProtocolDetail};
use crate::services::sync::{self, SyncOptions};

/// Errors from the forge service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The forge CLI failed.
    #[error(transparent)]
    Forge(#[from] forge::Error),
    /// No CI provider is configured.
    #[error("no CI provider is configured (`[project] ci` is \"none\")")]
    NoProvider,
    /// Reading the protocol failed.
    #[error(transparent)]
    Show(#[from] Box<show::Error>),
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// Pushing the branch failed.
    #[error("cannot push the protocol branch")]
    Sync(#[source] Box<sync::Error>),
    /// Building the body from the protocol's report failed.
    #[error(transparent)]
    Report(#[from] Box<report::Error>),
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Forge(e) => e.kind(),
            Self::NoProvider => ErrorKind::Usage,
            Self::Show(e) => e.kind(),
            Self::Infra(e) => e.kind(),
            Self::Sync(e) => e.kind(),
            Self::Report(e) => e.kind(),
        }
    }
}

/// The forge for this repository.
pub enum Forge {
    /// GitHub via gh.
    Github(Gh),
    /// GitLab via glab.
    Gitlab(Glab),
}

impl Forge {
    /// The forge `[project] ci` names, with its CLI from `GODZILLA_GH` / `GODZILLA_GLAB` or PATH.
    pub fn open(ctx: &Context, provider: CiProvider) -> Result<Self, Error> {
        let program = |var: &str, default: &str| {
            ctx.env
                .all
                .get(var)
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| default.to_owned())
        };
        match provider {
            CiProvider::Github => Ok(Self::Github(Gh {
                cli: Cli::new(&program("GODZILLA_GH", "gh"), &ctx.paths.work_tree),
            })),
            CiProvider::Gitlab => Ok(Self::Gitlab(Glab {
                cli: Cli::new(&program("GODZILLA_GLAB", "glab"), &ctx.paths.work_tree),
            })),
            CiProvider::None => Err(Error::NoProvider),
        }
    }

    /// `gh` or `glab`.
    pub fn provider(&self) -> CiProvider {
        match self {
            Self::Github(_) => CiProvider::Github,
            Self::Gitlab(_) => CiProvider::Gitlab,
        }
    }

    fn find_pr(&self, head: &str) -> Result<Option<PullRequest>, forge::Error> {
        match self {
            Self::Github(g) => g.find_pr(head),
            Self::Gitlab(g) => g.find_pr(head),
        }
    }

    fn create_pr(&self, req: &PrRequest<'_>) -> Result<PullRequest, forge::Error> {
        match self {
            Self::Github(g) => g.create_pr(req),
            Self::Gitlab(g) => g.create_pr(req),
        }
    }

    fn edit_pr(&self, n: u64, req: &PrRequest<'_>) -> Result<(), forge::Error> {
        match self {
            Self::Github(g) => g.edit_pr(n, req),
            Self::Gitlab(g) => g.edit_pr(n, req),
        }
    }

    fn view_pr(&self, head: &str) -> Result<PullRequest, forge::Error> {
        match self {
            Self::Github(g) => g.view_pr(head),
            Self::Gitlab(g) => g.view_pr(head),
        }
    }

    fn checks(&self, head: &str) -> Result<Vec<Check>, forge::Error> {
        match self {
            Self::Github(g) => g.checks(head),
            Self::Gitlab(g) => g.checks(head),
        }
    }
}

/// What `pr open` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct PrOptions {
    /// Open as a draft.
    pub draft: bool,
    /// Push the branch first (with `sync`) on this remote; `None`: do not push.
    pub push_remote: Option<String>,
}

/// The result of `pr open`.
#[derive(Clone, Debug, Serialize)]
pub struct PrOutcome {
    /// The protocol.
    pub protocol: ProtocolId,
    /// `github` or `gitlab`.
    pub provider: &'static str,
    /// The PR/MR.
    pub pr: PullRequest,
    /// Whether it was created (false: an existing one was updated).
    pub created: bool,
}

fn load(ctx: &Context, id: &ProtocolId) -> Result<(Store, ProtocolDetail), Error> {
    let detail = show::show_protocol(ctx, id).map_err(Box::new)?;
    let store = protocols::locate(ctx, id).map_err(|e| Box::new(show::Error::from(e)))?;
    Ok((store, detail))
}

/// Opens (or updates) the PR/MR for a protocol's branch.
pub fn open_pr(ctx: &Context, id: &ProtocolId, opts: &PrOptions) -> Result<PrOutcome, Error> {
    let config = Store::new(&ctx.paths).load_config()?;
    let forge = Forge::open(ctx, config.project.ci)?;
    let (store, detail) = load(ctx, id)?;
    if let Some(remote) = &opts.push_remote {
        sync::sync(
            ctx,
            &SyncOptions {
                remote: remote.clone(),
                lease: None,
                no_push: false,
                max_attempts: 8,
            },
        )
        .map_err(|e| Error::Sync(Box::new(e)))?;
    }
    // Secrets never reach a PR: every secret-looking value of the environment and known token
    // shapes are scrubbed from the body and the title.
    let scrubber = Scrubber::from_env(ctx.env.all.iter());
    let body = scrubber.scrub(&report::pr_body(ctx, id).map_err(Box::new)?);
    // Machine-local scratch: the body is rebuilt from the log on every call.
    let scratch_dir = store.local_dir().join("tmp");
    storage::create_dir(&scratch_dir)?;
    let body_file = scratch_dir.join(format!("pr-body-{id}.md"));
    storage::write_atomic(&body_file, body.as_bytes())?;
    let title = scrubber.scrub(&format!(
        "godzilla {id}: {}",
        first_line(&detail.header.description)
    ));
    let req = PrRequest {
        base: &detail.header.base_branch,
        head: &detail.header.branch,
        title: &title,
        body_file: &body_file,
        body: &body,
        draft: opts.draft,
    };
    let (pr, created) = match forge.find_pr(req.head)? {
        Some(pr) => {
            forge.edit_pr(pr.number, &req)?;
            (pr, false)
        }
        None => (forge.create_pr(&req)?, true),
    };
    let mut meta = serde_json::Map::new();
    meta.insert("url".into(), pr.url.clone().into());
    meta.insert("number".into(), pr.number.into());
    meta.insert("provider".into(), forge.provider().as_str().into());
    meta.insert("created".into(), created.into());
    telemetry::log_protocol_event(
        ctx,
        &store,
        id,
        None,
        EventKind::PrOpened,
        format!("{} {}", if created { "opened" } else { "updated" }, pr.url),
        meta,
    )?;
    Ok(PrOutcome {
        protocol: id.clone(),
        provider: forge.provider().as_str(),
        pr,
        created,
    })
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    line.chars().take(120).collect()
}

/// A PR/MR with its checks.
#[derive(Clone, Debug, Serialize)]
pub struct PrStatus {
    /// The protocol.
    pub protocol: ProtocolId,
    /// The PR/MR.
    pub pr: PullRequest,
    /// Its checks.
    pub checks: Vec<Check>,
}

/// The PR/MR for a protocol's branch with its review state and checks.
pub fn pr_status(ctx: &Context, id: &ProtocolId) -> Result<PrStatus, Error> {
    let config = Store::new(&ctx.paths).load_config()?;
    let forge = Forge::open(ctx, config.project.ci)?;
    let (_, detail) = load(ctx, id)?;
    let pr = forge.view_pr(&detail.header.branch)?;
    let checks = forge.checks(&detail.header.branch)?;
    Ok(PrStatus {
        protocol: id.clone(),
        pr,
        checks,
    })
}

/// Starts CI on the protocol's branch (`workflow`: the GitHub workflow file).
pub fn ci_trigger(ctx: &Context, id: &ProtocolId, workflow: &str) -> Result<String, Error> {
    let config = Store::new(&ctx.paths).load_config()?;
    let forge = Forge::open(ctx, config.project.ci)?;
    let (store, detail) = load(ctx, id)?;
    let branch = &detail.header.branch;
    match &forge {
        Forge::Github(g) => g.trigger(workflow, branch)?,
        Forge::Gitlab(g) => g.trigger(branch)?,
    }
    let mut meta = serde_json::Map::new();
    meta.insert("provider".into(), forge.provider().as_str().into());
    meta.insert("branch".into(), branch.clone().into());
    telemetry::log_protocol_event(
        ctx,
        &store,
        id,
        None,
        EventKind::CiTriggered,
        format!("CI started on {branch}"),
        meta,
    )?;
    Ok(branch.clone())
}

/// CI checks of a protocol's branch, summed up.
#[derive(Clone, Debug, Serialize)]
pub struct CiStatus {
    /// The protocol.
    pub protocol: ProtocolId,
    /// What the checks add up to.
    pub outcome: CiOutcome,
    /// The checks.
    pub checks: Vec<Check>,
    /// What was recorded: `ci_passed`, `ci_failed` (and the step blocked), or nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
}

/// What a branch's CI checks add up to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CiOutcome {
    /// All passed.
    Pass,
    /// One failed or was cancelled.
    Fail,
    /// None failed and one is still running.
    Pending,
    /// There are no checks.
    #[serde(rename = "none")]
    NoChecks,
}

impl CiOutcome {
    /// What the checks of `checks` add up to.
    fn of(checks: &[Check]) -> Self {
        if checks.is_empty() {
            Self::NoChecks
        } else if checks.iter().any(|c| c.bucket.failed()) {
            Self::Fail
        } else if checks.iter().any(|c| c.bucket == Bucket::Pending) {
            Self::Pending
        } else {
            Self::Pass
        }
    }

    /// The word `ci status` prints and `--json` gives.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Pending => "pending",
            Self::NoChecks => "none",
        }
    }
}

impl std::fmt::Display for CiOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Reads the checks and, once they are settled, records the outcome (see the module docs).
pub fn ci_status(ctx: &Context, id: &ProtocolId) -> Result<CiStatus, Error> {
    let config = Store::new(&ctx.paths).load_config()?;
    let forge = Forge::open(ctx, config.project.ci)?;
    let (store, detail) = load(ctx, id)?;
    let checks = forge.checks(&detail.header.branch)?;
    let outcome = CiOutcome::of(&checks);
    let mut recorded = None;
    let mut meta = serde_json::Map::new();
    meta.insert(
        "checks".into(),
        serde_json::to_value(&checks).unwrap_or_default(),
    );
    // The step CI judges is the one being worked on: the last that ran and awaits QA.
    let current = detail
        .steps
        .iter()
        .rev()
        .find(|s| matches!(s.status, StepStatus::Running | StepStatus::NeedsQa))
        .map(|s| s.id.clone());
    // `ci status` is polled; the same settled result is recorded once.
    let log = events::read(&ProtocolRepository::events_path(&store, id))?.events;
    let last = log
        .iter()
        .filter(|e| matches!(e.kind, EventKind::CiPassed | EventKind::CiFailed))
        .max_by(|a, b| crate::domain::Event::log_order(a, b));
    let already = last.is_some_and(|e| {
        let kind = if outcome == CiOutcome::Pass {
            EventKind::CiPassed
        } else {
            EventKind::CiFailed
        };
        e.kind == kind && e.metadata.get("checks") == meta.get("checks")
    });
    match outcome {
        CiOutcome::Pass | CiOutcome::Fail if already => {}
        CiOutcome::Pass => {
            telemetry::log_protocol_event(
                ctx,
                &store,
                id,
                current.as_ref(),
                EventKind::CiPassed,
                "CI passed; QA may proceed",
                meta,
            )?;
            recorded = Some("ci_passed".to_owned());
        }
        CiOutcome::Fail => {
            let names: Vec<&str> = checks
                .iter()
                .filter(|c| c.bucket.failed())
                .map(|c| c.name.as_str())
                .collect();
            let message = format!("CI failed: {}", names.join(", "));
            telemetry::log_protocol_event(
                ctx,
                &store,
                id,
                current.as_ref(),
                EventKind::CiFailed,
                message.clone(),
                meta,
            )?;
            if let Some(step) = &current {
                telemetry::log_protocol_event(
                    ctx,
                    &store,
                    id,
                    Some(step),
                    EventKind::StepBlocked,
                    message,
                    serde_json::Map::new(),
                )?;
                recorded = Some(format!("ci_failed; step {step} blocked"));
            } else {
                recorded = Some("ci_failed".to_owned());
            }
        }
        CiOutcome::Pending | CiOutcome::NoChecks => {}
    }
    Ok(CiStatus {
        protocol: id.clone(),
        outcome,
        checks,
        recorded,
    })
}
