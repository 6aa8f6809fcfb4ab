//! Workers of the local queue: claim jobs, run each as a job process, record how it ended.
//!
//! A worker is a job adapter and nothing more. Each job but the no-op runs in a child
//! process (`godzilla queue exec`), which deserializes the payload, checks state first
//! ([`precheck`]), and calls the same service the synchronous command calls. The child:
//! - leads its own process group, so a Ctrl-C at the worker's terminal does not reach it
//!   (running jobs finish; a second Ctrl-C releases them);
//! - gets the job's `flock` as its stdin and passes it on to its engine children, so the
//!   lock lives exactly as long as any process of the job;
//! - watches its worker and, once it is gone, stops its engines' process groups and exits,
//!   so a job never outlives its worker.
//!
//! Jobs of one protocol serialize on its run lock (a job that finds it held is deferred, not
//! failed); different protocols run in parallel, each in its own worktree.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::context::Context;
use crate::domain::{ProtocolStatus, StepStatus};
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::execution;
use crate::services::platform::queue::PendingCompletion;
use crate::services::platform::queue::{
    self, Claim, ClaimResult, Completion, CompletionStatus, HostIdentity, Job, JobKind, JobState,
    JobView, Queue, Reaped,
};
use crate::services::platform::storage::spool;

/// The exit code a job process uses when its protocol's run lock is held: the job waits
/// for its turn (EX_TEMPFAIL).
pub const EXIT_BUSY: i32 = 75;

/// How long an idle worker waits before looking at the queue again, when no doorbell wakes
/// it on a delivery.
const POLL: Duration = Duration::from_millis(20);

/// The same with a doorbell: a delivery wakes the worker at once; it still looks this often
/// for jobs whose backoff ended and for stop requests.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// How often a worker looks for claims whose holders died.
const REAP_EVERY: Duration = Duration::from_millis(500);

/// How often a running job's lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(20);

/// How long a job process gets to stop after SIGTERM before its group is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A worker tries due jobs oldest first, shuffled within windows of this many, so several
/// workers rarely race for the same file while the queue stays roughly first in, first out.
const WINDOW: usize = 64;

/// What a worker does.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Jobs run at once.
    pub slots: usize,
    /// Exit once nothing is queued and nothing runs.
    pub once: bool,
    /// Exit after being idle this long.
    pub idle_exit: Option<Duration>,
    /// The godzilla executable that runs jobs (`queue exec`).
    pub program: PathBuf,
}

/// How far a worker has been asked to stop: 0 run, 1 finish running jobs and take no new
/// ones, 2 stop running jobs and release them for another worker.
#[derive(Debug, Default)]
pub struct StopLevel(AtomicU8);

impl StopLevel {
    /// Raises the level by one (a Ctrl-C or SIGTERM) and returns the new level.
    pub fn escalate(&self) -> u8 {
        self.0.fetch_add(1, Ordering::SeqCst).saturating_add(1)
    }

    /// The current level.
    pub fn get(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a worker reports while it runs.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WorkerEvent<'a> {
    /// A job started.
    Started {
        /// The job.
        job: &'a Job,
        /// Which attempt.
        attempt: u32,
    },
    /// A job ended and its completion was recorded (`recorded` false: it had been already).
    Finished {
        /// The record.
        completion: &'a Completion,
        /// Whether this worker's record is the one kept.
        recorded: bool,
        /// Seconds it ran.
        secs: f64,
    },
    /// A job failed and will run again.
    Retrying {
        /// The job.
        job: &'a Job,
        /// The next attempt.
        attempt: u32,
        /// Seconds until then.
        delay_secs: u64,
        /// Why this attempt failed.
        reason: String,
    },
    /// A job found its protocol busy and waits for its turn.
    Deferred {
        /// The job.
        job: &'a Job,
    },
    /// A job was stopped and put back for another worker.
    Released {
        /// The job.
        job: &'a Job,
    },
    /// A dead worker's claim was taken over.
    Reaped {
        /// What was done.
        reaped: &'a Reaped,
    },
    /// A job file did not parse and was set aside.
    Corrupt {
        /// Where it went.
        moved_to: &'a std::path::Path,
        /// Why.
        reason: &'a str,
    },
}

/// Counts of what a worker did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkerSummary {
    /// Jobs that succeeded.
    pub succeeded: u32,
    /// Jobs with a negative outcome (exit 3).
    pub negative: u32,
    /// Jobs that failed for good.
    pub failed: u32,
    /// Jobs cancelled.
    pub cancelled: u32,
    /// Failed attempts that will be retried.
    pub retried: u32,
    /// Jobs released on a second stop request.
    pub released: u32,
    /// Dead workers' claims taken over.
    pub reaped: u32,
    /// Job files set aside as corrupt.
    pub corrupt: u32,
}

/// Errors of a worker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] queue::Error),
    /// A job process could not be started or waited for.
    #[error("cannot run job {job}")]
    Spawn {
        /// The job.
        job: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Loading the protocol a job is about failed.
    #[error(transparent)]
    Execution(#[from] Box<execution::Error>),
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Queue(e) => e.kind(),
            Self::Execution(e) => e.kind(),
            Self::Spawn { .. } => ErrorKind::Failed,
        }
    }
}

struct Shared<'a> {
    queue: Queue,
    here: HostIdentity,
    holder: queue::Holder,
    opts: &'a WorkerOptions,
    stop: &'a StopLevel,
    trust_config: bool,
    candidates: Mutex<Vec<String>>,
    doorbell: spool::Doorbell,
    last_reap: Mutex<Option<Instant>>,
    last_activity: Mutex<Instant>,
    running: AtomicUsize,
    summary: Mutex<WorkerSummary>,
    on_event: &'a (dyn Fn(WorkerEvent<'_>) + Sync),
}

/// Runs a worker until it is asked to stop (or, with `once` / `idle_exit`, runs out of work).
pub fn run(
    ctx: &Context,
    opts: &WorkerOptions,
    stop: &StopLevel,
    on_event: &(dyn Fn(WorkerEvent<'_>) + Sync),
) -> Result<WorkerSummary, Error> {
    let queue = Queue::new(&ctx.paths.local_dir());
    queue.ensure()?;
    let here = HostIdentity::current();
    queue.sweep(&here)?;
    let shared = Shared {
        holder: queue::Holder::current(&here),
        doorbell: queue.doorbell(),
        queue,
        here,
        opts,
        stop,
        trust_config: ctx.env.trust_config,
        candidates: Mutex::new(Vec::new()),
        last_reap: Mutex::new(None),
        last_activity: Mutex::new(Instant::now()),
        running: AtomicUsize::new(0),
        summary: Mutex::new(WorkerSummary::default()),
        on_event,
    };
    let results: Vec<Result<(), Error>> = std::thread::scope(|scope| {
        let shared = &shared;
        let (finished, committed) = std::sync::mpsc::channel();
        let committer = scope.spawn(move || commit_loop(shared, committed));
        let handles: Vec<_> = (0..opts.slots.max(1))
            .map(|_| {
                let finished = finished.clone();
                scope.spawn(move || slot(shared, &finished))
            })
            .collect();
        // When the slots end, so do the last senders: the committer flushes what is left.
        drop(finished);
        let mut results: Vec<Result<(), Error>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Ok(())))
            .collect();
        results.push(committer.join().unwrap_or(Ok(())));
        results
    });
    results.into_iter().collect::<Result<Vec<()>, Error>>()?;
    let summary = shared.summary.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(summary)
}

fn count(shared: &Shared<'_>, f: impl FnOnce(&mut WorkerSummary)) {
    if let Ok(mut s) = shared.summary.lock() {
        f(&mut s);
    }
}

/// A finished job on its way to the committer: its record is written, not yet flushed.
struct Finished {
    pending: PendingCompletion,
    completion: Completion,
    secs: f64,
}

/// Flushes finished jobs' records in batches (all that finished while the previous batch was
/// flushed: one journal commit for a burst of short jobs instead of one per job), then
/// reports them. A slot hands its job over and claims the next one meanwhile.
fn commit_loop(
    shared: &Shared<'_>,
    committed: std::sync::mpsc::Receiver<Finished>,
) -> Result<(), Error> {
    while let Ok(first) = committed.recv() {
        let mut batch = vec![first];
        batch.extend(committed.try_iter());
        let mut reports = Vec::with_capacity(batch.len());
        let mut pending = Vec::with_capacity(batch.len());
        for f in batch {
            reports.push((f.completion, f.secs));
            pending.push(f.pending);
        }
        let recorded = shared.queue.flush(pending)?;
        for ((completion, secs), recorded) in reports.into_iter().zip(recorded) {
            count(shared, |s| match completion.status {
                CompletionStatus::Succeeded => s.succeeded += 1,
                CompletionStatus::Negative => s.negative += 1,
                CompletionStatus::Failed => s.failed += 1,
                CompletionStatus::Cancelled => s.cancelled += 1,
            });
            (shared.on_event)(WorkerEvent::Finished {
                completion: &completion,
                recorded,
                secs,
            });
        }
    }
    Ok(())
}

fn slot(shared: &Shared<'_>, finished: &std::sync::mpsc::Sender<Finished>) -> Result<(), Error> {
    loop {
        if shared.stop.get() > 0 {
            return Ok(());
        }
        // Rate-limited inside: a dead worker's jobs are taken over under load too.
        reap(shared)?;
        match next_candidate(shared)? {
            Some(name) => match shared.queue.try_claim(&name, &shared.holder)? {
                ClaimResult::Claimed(claim) => {
                    shared.running.fetch_add(1, Ordering::SeqCst);
                    let result = run_claim(shared, *claim, finished);
                    shared.running.fetch_sub(1, Ordering::SeqCst);
                    if let Ok(mut t) = shared.last_activity.lock() {
                        *t = Instant::now();
                    }
                    result?;
                }
                ClaimResult::Lost => {}
                ClaimResult::Corrupt { moved_to, reason } => {
                    count(shared, |s| s.corrupt += 1);
                    (shared.on_event)(WorkerEvent::Corrupt {
                        moved_to: &moved_to,
                        reason: &reason,
                    });
                }
            },
            None => {
                let idle = shared.running.load(Ordering::SeqCst) == 0;
                if shared.opts.once && idle && !shared.queue.has_queued()? {
                    return Ok(());
                }
                if let Some(limit) = shared.opts.idle_exit
                    && idle
                    && shared
                        .last_activity
                        .lock()
                        .map(|t| t.elapsed() >= limit)
                        .unwrap_or(true)
                {
                    return Ok(());
                }
                shared.doorbell.wait(if shared.doorbell.is_armed() {
                    IDLE_WAIT
                } else {
                    POLL
                });
            }
        }
    }
}

/// The next name to try, from a shuffled window of the oldest due jobs shared by the slots.
fn next_candidate(shared: &Shared<'_>) -> Result<Option<String>, Error> {
    let mut candidates = shared
        .candidates
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if candidates.is_empty() {
        // One listing serves many claims: names other workers took meanwhile fail to open,
        // which costs less than listing a long queue again.
        let mut due = shared.queue.due(queue::now_ms())?;
        for window in due.chunks_mut(WINDOW) {
            fastrand::shuffle(window);
        }
        due.reverse();
        *candidates = due;
    }
    Ok(candidates.pop())
}

fn reap(shared: &Shared<'_>) -> Result<(), Error> {
    {
        let Ok(mut last) = shared.last_reap.try_lock() else {
            return Ok(());
        };
        if last.is_some_and(|t| t.elapsed() < REAP_EVERY) {
            return Ok(());
        }
        *last = Some(Instant::now());
    }
    let reaped = shared.queue.reap(&shared.here, &queue::probe_pid)?;
    for r in &reaped {
        if let Some(moved_to) = &r.moved_to {
            count(shared, |s| s.corrupt += 1);
            (shared.on_event)(WorkerEvent::Corrupt {
                moved_to,
                reason: &r.reason,
            });
            continue;
        }
        count(shared, |s| s.reaped += 1);
        (shared.on_event)(WorkerEvent::Reaped { reaped: r });
    }
    Ok(())
}

/// How a job process ended.
enum Ending {
    Exited(i32),
    Cancelled,
    Released,
}

fn run_claim(
    shared: &Shared<'_>,
    claim: Claim,
    finished: &std::sync::mpsc::Sender<Finished>,
) -> Result<(), Error> {
    let queue = &shared.queue;
    let claim_to_start = claim.claimed_at.elapsed();
    let started = Instant::now();
    let attempt = claim.name.attempt;
    let job = claim.job.clone();
    let mut claim_to_start = claim_to_start;
    let (ending, log_from) = if queue.is_cancel_requested(&job.id) {
        (Ending::Cancelled, None)
    } else {
        (shared.on_event)(WorkerEvent::Started { job: &job, attempt });
        match &job.kind {
            JobKind::Noop => (Ending::Exited(0), None),
            _ => {
                let (ending, from, spawned) = run_child(shared, &claim)?;
                // For a job process, the job starts when its process does.
                claim_to_start = spawned;
                (ending, Some(from))
            }
        }
    };
    let reason = log_from.and_then(|from| failure_reason(&queue.log_path(&job.id), from));
    let finish = |status: CompletionStatus, exit_code: i32, reason: Option<String>| Completion {
        job: job.clone(),
        status,
        exit_code,
        reason,
        attempts: attempt,
        worker: claim.holder.worker.clone(),
        claimed_ms: claim.holder.claimed_ms,
        finished_ms: queue::now_ms(),
        claim_to_start_us: claim_to_start.as_micros() as u64,
        claimed_us: claim.claimed_us,
    };
    let completion = match ending {
        Ending::Released => {
            queue.requeue(claim, attempt, None)?;
            count(shared, |s| s.released += 1);
            (shared.on_event)(WorkerEvent::Released { job: &job });
            return Ok(());
        }
        Ending::Exited(EXIT_BUSY) => {
            queue.requeue(claim, attempt, Some(queue::now_ms() + 1000))?;
            (shared.on_event)(WorkerEvent::Deferred { job: &job });
            return Ok(());
        }
        Ending::Cancelled => finish(
            CompletionStatus::Cancelled,
            130,
            Some("cancelled with `godzilla queue cancel`".to_owned()),
        ),
        Ending::Exited(0) => finish(CompletionStatus::Succeeded, 0, reason),
        Ending::Exited(3) => finish(CompletionStatus::Negative, 3, reason),
        // A usage or configuration error (a protocol that no longer exists, say) fails the
        // same way on every attempt.
        Ending::Exited(2) => finish(CompletionStatus::Failed, 2, reason),
        Ending::Exited(code) => {
            let reason = reason.unwrap_or_else(|| format!("exit code {code}"));
            if attempt < job.max_attempts {
                let delay = job.backoff(attempt + 1);
                queue.requeue(
                    claim,
                    attempt + 1,
                    Some(queue::now_ms() + delay.as_millis() as u64),
                )?;
                count(shared, |s| s.retried += 1);
                (shared.on_event)(WorkerEvent::Retrying {
                    job: &job,
                    attempt: attempt + 1,
                    delay_secs: delay.as_secs(),
                    reason,
                });
                return Ok(());
            }
            finish(
                CompletionStatus::Failed,
                code,
                Some(format!(
                    "attempt {attempt} of {}: {reason}",
                    job.max_attempts
                )),
            )
        }
    };
    let pending = queue.record(claim, &completion)?;
    let finished_job = Finished {
        pending,
        completion,
        secs: started.elapsed().as_secs_f64(),
    };
    if let Err(std::sync::mpsc::SendError(orphan)) = finished.send(finished_job) {
        // The committer stopped on an error (which the worker reports): flush it here rather
        // than let the claim's lock go with its files still in place.
        queue.flush(vec![orphan.pending])?;
    }
    Ok(())
}

/// Starts `godzilla queue exec` for the claim and supervises it: lease renewals, cancel
/// requests, a second stop request. Returns how it ended, where its log output starts, and
/// the time from the claim to the process start.
fn run_child(shared: &Shared<'_>, claim: &Claim) -> Result<(Ending, u64, Duration), Error> {
    let job = &claim.job;
    let spawn_err = |source| Error::Spawn {
        job: job.id.to_string(),
        source,
    };
    let log_path = shared.queue.log_path(&job.id);
    let mut log = spool::open_log(&log_path).map_err(queue::Error::from)?;
    {
        use std::io::Write;
        let _ignored = writeln!(
            log,
            "--- attempt {} of {}, worker {} ---",
            claim.name.attempt, job.max_attempts, claim.holder.worker
        );
    }
    // This attempt's reason is looked for after its header only.
    let from = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut child = spawn_child(shared, claim, log).map_err(spawn_err)?;
    let spawned = claim.claimed_at.elapsed();
    let mut last_check = Instant::now();
    let mut last_renew = Instant::now();
    let mut stopping: Option<(Ending, Instant)> = None;
    loop {
        if let Some(status) = child.try_wait().map_err(spawn_err)? {
            use std::os::unix::process::ExitStatusExt as _;
            let code = status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            // Whatever the job process left in its group goes with it.
            signal_group(&child, nix::sys::signal::Signal::SIGKILL);
            return Ok((
                stopping.map_or(Ending::Exited(code), |(ending, _)| ending),
                from,
                spawned,
            ));
        }
        if last_check.elapsed() >= Duration::from_millis(200) {
            last_check = Instant::now();
            if stopping.is_none() {
                let ending = if shared.stop.get() >= 2 {
                    Some(Ending::Released)
                } else if shared.queue.is_cancel_requested(&job.id) {
                    Some(Ending::Cancelled)
                } else {
                    None
                };
                if let Some(ending) = ending {
                    signal_child(&child, nix::sys::signal::Signal::SIGTERM);
                    stopping = Some((ending, Instant::now()));
                }
            }
            if let Some((_, since)) = &stopping
                && since.elapsed() >= STOP_GRACE
            {
                signal_group(&child, nix::sys::signal::Signal::SIGKILL);
            }
            if last_renew.elapsed() >= RENEW_EVERY {
                last_renew = Instant::now();
                shared.queue.renew(claim)?;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "the one spawn site for job processes: godzilla itself, argv only, own group"
)]
fn spawn_child(
    shared: &Shared<'_>,
    claim: &Claim,
    log: std::fs::File,
) -> Result<Child, std::io::Error> {
    use std::os::unix::process::CommandExt as _;
    let job = &claim.job;
    let mut cmd = std::process::Command::new(&shared.opts.program);
    cmd.arg("-C").arg(&job.workdir).args(["--color", "never"]);
    if shared.trust_config {
        cmd.arg("--trust-config");
    }
    cmd.args(["queue", "exec", "--parent", &std::process::id().to_string()])
        .arg(shared.queue.cur_path(&claim.name))
        .env("GODZILLA_JOB", job.id.as_str())
        // The job's lock, shared: the child and its engines keep the job locked.
        .stdin(Stdio::from(claim.lock.share()?))
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .process_group(0)
        .spawn()
}

fn signal_child(child: &Child, signal: nix::sys::signal::Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // ESRCH (already gone) is the expected race, not an error.
        let _ignored = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
    }
}

fn signal_group(child: &Child, signal: nix::sys::signal::Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ignored = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
    }
}

/// The reason an attempt failed, from its log: the `error:` line and its causes, else a line
/// a handler printed to say there was nothing to do.
fn failure_reason(log: &std::path::Path, from: u64) -> Option<String> {
    let bytes = std::fs::read(log).ok()?;
    let text = String::from_utf8_lossy(bytes.get(from as usize..)?);
    let mut lines = Vec::new();
    let mut in_error = false;
    for line in text.lines() {
        if line.starts_with("error:") {
            lines.clear();
            in_error = true;
            lines.push(line.trim_start_matches("error:").trim().to_owned());
        } else if in_error && line.trim_start().starts_with("caused by:") {
            lines.push(line.trim().to_owned());
        } else if line.starts_with("nothing to do:") {
            lines.push(line.to_owned());
        } else {
            in_error = false;
        }
    }
    (!lines.is_empty()).then(|| lines.join("; "))
}

/// Decides whether a job still has work to do, from the state it would change: a finished
/// job run again does nothing. Returns why not, or `None` to run it.
pub fn precheck(ctx: &Context, kind: &JobKind) -> Result<Option<String>, Error> {
    let Some(protocol) = kind.protocol() else {
        return Ok(None);
    };
    let loaded = execution::load(ctx, protocol).map_err(Box::new)?;
    let status = loaded.state.status.unwrap_or(ProtocolStatus::Pending);
    let step_of = |step| loaded.state.step(step).cloned();
    Ok(match kind {
        JobKind::PlanProtocol { .. } => {
            let unplanned = matches!(status, ProtocolStatus::Pending | ProtocolStatus::Planning)
                || (status == ProtocolStatus::Blocked && loaded.state.steps.is_empty());
            (!unplanned).then(|| format!("{protocol} is planned already ({})", status.as_str()))
        }
        JobKind::RunProtocol { .. } => matches!(
            status,
            ProtocolStatus::Completed | ProtocolStatus::Cancelled
        )
        .then(|| format!("{protocol} is {}", status.as_str())),
        JobKind::ExecuteStep {
            step,
            attempts_at_enqueue,
            ..
        } => step_of(step).and_then(|s| {
            // An attempt interrupted with its worker goes back to pending: the job's work
            // is still to do.
            (s.attempts > *attempts_at_enqueue
                && !matches!(s.status, StepStatus::Running | StepStatus::Pending))
            .then(|| {
                format!(
                    "{protocol} {step} ran attempt {} already ({})",
                    s.attempts,
                    s.status.as_str()
                )
            })
        }),
        JobKind::EvaluateStep { step, .. } => step_of(step).and_then(|s| {
            (s.status != StepStatus::NeedsQa).then(|| {
                format!(
                    "{protocol} {step} is {}, not waiting for QA",
                    s.status.as_str()
                )
            })
        }),
        JobKind::OnboardProject { .. } | JobKind::Command { .. } | JobKind::Noop => None,
    })
}

/// The step's attempt count now (for [`JobKind::ExecuteStep::attempts_at_enqueue`]).
pub fn step_attempts(
    ctx: &Context,
    protocol: &crate::domain::ProtocolId,
    step: &crate::domain::StepId,
) -> Result<u32, Error> {
    let loaded = execution::load(ctx, protocol).map_err(Box::new)?;
    Ok(loaded.state.step(step).map_or(0, |s| s.attempts))
}

/// Enqueues a job from the current worktree.
pub fn enqueue(ctx: &Context, kind: JobKind, max_attempts: Option<u32>) -> Result<Job, Error> {
    let queue = Queue::new(&ctx.paths.local_dir());
    Ok(queue.enqueue(
        kind,
        &ctx.paths.work_tree,
        max_attempts.unwrap_or(queue::DEFAULT_MAX_ATTEMPTS),
        ctx.ids.next_u64(),
    )?)
}

/// The seed's `enqueue_plan_protocol`.
pub fn enqueue_plan_protocol(
    ctx: &Context,
    protocol: &crate::domain::ProtocolId,
    engine: queue::EngineChoice,
) -> Result<Job, Error> {
    enqueue(
        ctx,
        JobKind::PlanProtocol {
            protocol: protocol.clone(),
            engine,
        },
        None,
    )
}

/// The seed's `enqueue_execute_step`.
pub fn enqueue_execute_step(
    ctx: &Context,
    protocol: &crate::domain::ProtocolId,
    step: &crate::domain::StepId,
    engine: queue::EngineChoice,
) -> Result<Job, Error> {
    let attempts_at_enqueue = step_attempts(ctx, protocol, step)?;
    enqueue(
        ctx,
        JobKind::ExecuteStep {
            protocol: protocol.clone(),
            step: step.clone(),
            attempts_at_enqueue,
            engine,
        },
        None,
    )
}

/// The seed's `enqueue_evaluate_step`.
pub fn enqueue_evaluate_step(
    ctx: &Context,
    protocol: &crate::domain::ProtocolId,
    step: &crate::domain::StepId,
    engine: queue::EngineChoice,
) -> Result<Job, Error> {
    enqueue(
        ctx,
        JobKind::EvaluateStep {
            protocol: protocol.clone(),
            step: step.clone(),
            engine,
        },
        None,
    )
}

/// The seed's `enqueue_onboard_project` (discovery).
pub fn enqueue_onboard_project(
    ctx: &Context,
    apply: bool,
    engine: queue::EngineChoice,
) -> Result<Job, Error> {
    enqueue(ctx, JobKind::OnboardProject { apply, engine }, None)
}

/// Runs a protocol's whole loop as a job (what loop and trigger policies continue).
pub fn enqueue_run_protocol(
    ctx: &Context,
    protocol: &crate::domain::ProtocolId,
    until: Option<crate::domain::StepId>,
    yes: bool,
    engine: queue::EngineChoice,
    (engines, models): (Vec<String>, Vec<String>),
) -> Result<Job, Error> {
    enqueue(
        ctx,
        JobKind::RunProtocol {
            protocol: protocol.clone(),
            until,
            yes,
            engine,
            engines,
            models,
        },
        None,
    )
}

/// Queue figures for `godzilla status`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct QueueOverview {
    /// Jobs waiting (due or in backoff).
    pub queued: usize,
    /// Jobs running, with their workers.
    pub running: Vec<JobView>,
    /// Claims whose processes are gone (with why they are not taken over yet).
    pub stale: Vec<JobView>,
    /// Jobs that failed for good (kept until `queue purge --all`).
    pub failed: Vec<JobView>,
    /// Job files set aside as corrupt.
    pub corrupt: Vec<String>,
}

impl QueueOverview {
    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.queued == 0
            && self.running.is_empty()
            && self.stale.is_empty()
            && self.failed.is_empty()
            && self.corrupt.is_empty()
    }
}

/// Queued, running, stale and failed work, for `godzilla status`.
pub fn overview(ctx: &Context) -> Result<QueueOverview, Error> {
    let queue = Queue::new(&ctx.paths.local_dir());
    let mut overview = QueueOverview::default();
    for view in queue.list(&HostIdentity::current())? {
        match view.state {
            JobState::Queued | JobState::Delayed => overview.queued += 1,
            JobState::Running => overview.running.push(view),
            JobState::Stale => overview.stale.push(view),
            JobState::Failed => overview.failed.push(view),
            JobState::Succeeded | JobState::Negative | JobState::Cancelled => {}
        }
    }
    overview.corrupt = queue
        .corrupt()?
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Ok(overview)
}
