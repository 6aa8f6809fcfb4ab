//! What `godzilla watch` shows, read fresh from the files on every refresh: protocols, their
//! steps and statuses, how long a running step has run, tokens, cost, QA verdicts and the
//! latest lines of the live transcript, and the local queue with its workers. No server: it works wherever the files are (over SSH,
//! in a container), and any number of watchers can look at once.

use std::time::Duration;

use serde::Serialize;

use crate::context::Context;
use crate::domain::{EventKind, ProtocolId, ProtocolStatus, StepStatus};
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::protocols::{self, Location};
use crate::services::platform::queue::{self, HostIdentity, JobId, JobState, JobView, Queue};
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{Store, events, lines};
use crate::services::platform::telemetry::prices::Cost;
use crate::services::platform::telemetry::transcript;

/// Errors reading a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the protocols failed.
    #[error(transparent)]
    Read(#[from] protocols::Error),
    /// Reading the queue failed.
    #[error(transparent)]
    Queue(#[from] queue::Error),
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Read(e) => e.kind(),
            Self::Queue(e) => e.kind(),
            Self::Infra(e) => e.kind(),
        }
    }
}

/// How many transcript lines a snapshot keeps per protocol.
const TRANSCRIPT_LINES: usize = 12;

/// One step as shown.
#[derive(Clone, Debug, Serialize)]
pub struct StepPane {
    /// Step id.
    pub id: String,
    /// Status.
    pub status: StepStatus,
    /// Attempts started.
    pub attempts: u32,
    /// How long the current attempt has run, while it runs.
    pub running_for: Option<Duration>,
    /// Tokens of its runs.
    pub tokens: u64,
    /// The last QA verdict (`pass`, `fail`, `error`).
    pub qa: Option<String>,
}

/// One protocol as shown.
#[derive(Clone, Debug, Serialize)]
pub struct ProtocolPane {
    /// Id.
    pub id: ProtocolId,
    /// Status.
    pub status: Option<ProtocolStatus>,
    /// Where it lives (a worktree path or a branch).
    pub location: Location,
    /// Tokens.
    pub tokens: u64,
    /// Cost.
    pub cost_usd: Cost,
    /// Steps in order.
    pub steps: Vec<StepPane>,
    /// The latest transcript lines (of its most recent engine run), oldest first.
    pub transcript: Vec<String>,
}

/// A worker process, as seen from the jobs it holds.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerPane {
    /// Its name (`host:pid`).
    pub worker: String,
    /// The jobs it runs.
    pub jobs: Vec<JobId>,
    /// How long its oldest running job has run, in seconds.
    pub busy_secs: u64,
}

/// Everything on screen at one moment.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    /// Protocols in id order.
    pub protocols: Vec<ProtocolPane>,
    /// Work in the local queue: queued, delayed, running, stale and failed jobs, oldest
    /// first. Succeeded, negative and cancelled jobs are history (`queue ls` has them).
    pub queue: Vec<JobView>,
    /// Workers running jobs now.
    pub workers: Vec<WorkerPane>,
}

/// Queue states that are work to watch rather than history.
const QUEUE_STATES: [JobState; 5] = [
    JobState::Queued,
    JobState::Delayed,
    JobState::Running,
    JobState::Stale,
    JobState::Failed,
];

/// The queue's jobs worth watching (of `only`'s protocol, when given) and their workers.
fn queue_panes(
    ctx: &Context,
    only: Option<&ProtocolId>,
) -> Result<(Vec<JobView>, Vec<WorkerPane>), Error> {
    let jobs: Vec<JobView> = Queue::new(&ctx.paths.local_dir())
        .list(&HostIdentity::current())?
        .into_iter()
        .filter(|j| QUEUE_STATES.contains(&j.state))
        .filter(|j| only.is_none_or(|id| j.protocol.as_ref() == Some(id)))
        .collect();
    let mut workers: Vec<WorkerPane> = Vec::new();
    for job in jobs.iter().filter(|j| j.state == JobState::Running) {
        let Some(name) = &job.worker else { continue };
        match workers.iter_mut().find(|w| &w.worker == name) {
            Some(w) => {
                w.jobs.push(job.id.clone());
                w.busy_secs = w.busy_secs.max(job.age_secs);
            }
            None => workers.push(WorkerPane {
                worker: name.clone(),
                jobs: vec![job.id.clone()],
                busy_secs: job.age_secs,
            }),
        }
    }
    workers.sort_by(|a, b| a.worker.cmp(&b.worker));
    Ok((jobs, workers))
}

/// Reads a snapshot: every protocol, or `only`.
pub fn snapshot(ctx: &Context, only: Option<&ProtocolId>) -> Result<Snapshot, Error> {
    let summary = protocols::status(ctx, only)?;
    let here = Store::new(&ctx.paths);
    let now = ctx.clock.now();
    let mut protocols = Vec::new();
    for p in summary.protocols {
        let (state, log) = match &p.location {
            Location::Worktree { path } => {
                let store = Store::at(std::path::Path::new(path), here.local_dir());
                let state = ProtocolRepository::load_state(&store, &p.id)?.state;
                let log = events::read(&ProtocolRepository::events_path(&store, &p.id))?.events;
                (state, log)
            }
            Location::Branch { .. } => {
                let source = crate::services::inspect::open(ctx, &p.id)?;
                let state = ProtocolRepository::load_state(&source.store, &p.id)?.state;
                let log =
                    events::read(&ProtocolRepository::events_path(&source.store, &p.id))?.events;
                (state, log)
            }
        };
        let steps = state
            .steps
            .iter()
            .map(|s| {
                let mine = || log.iter().filter(|e| e.step.as_ref() == Some(&s.id));
                let started = mine()
                    .filter(|e| e.kind == EventKind::StepStarted)
                    .filter_map(|e| humantime::parse_rfc3339_weak(&e.ts).ok())
                    .max();
                StepPane {
                    id: s.id.to_string(),
                    status: s.status,
                    attempts: s.attempts,
                    running_for: (s.status == StepStatus::Running)
                        .then(|| started.and_then(|t| now.duration_since(t).ok()))
                        .flatten(),
                    tokens: mine()
                        .filter_map(|e| e.metadata.get("tokens").and_then(|v| v.as_u64()))
                        .sum(),
                    qa: mine()
                        .rfind(|e| {
                            matches!(
                                e.kind,
                                EventKind::QaPassed | EventKind::QaFailed | EventKind::QaError
                            )
                        })
                        .map(|e| {
                            e.metadata
                                .get("verdict")
                                .and_then(|v| v.as_str())
                                .unwrap_or(e.kind.as_str())
                                .to_owned()
                        }),
                }
            })
            .collect();
        let transcript = transcript::list(here.local_dir(), p.id.as_str())
            .last()
            .and_then(|f| lines::read_from(&f.path, 0).ok())
            .map(|(text, _)| {
                let entries = transcript::parse(&text);
                let skip = entries.len().saturating_sub(TRANSCRIPT_LINES);
                entries[skip..]
                    .iter()
                    .map(|e| format!("{} {}", e.step.as_deref().unwrap_or("-"), e.summary()))
                    .collect()
            })
            .unwrap_or_default();
        protocols.push(ProtocolPane {
            id: p.id,
            status: p.status,
            location: p.location,
            tokens: p.tokens,
            cost_usd: p.cost_usd,
            steps,
            transcript,
        });
    }
    let (queue, workers) = queue_panes(ctx, only)?;
    Ok(Snapshot {
        protocols,
        queue,
        workers,
    })
}
