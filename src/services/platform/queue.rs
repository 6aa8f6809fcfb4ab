//! The local work queue: the seed's Queue service as files under
//! `$GIT_COMMON_DIR/godzilla/queue/`, shared by every worktree and never committed.
//!
//! Maildir-style (see DESIGN.md §5):
//! - **enqueue**: the job is written in `tmp/` and renamed into `new/`, so a reader never
//!   sees half a job. A job file never changes after delivery; what changes (the attempt,
//!   the earliest start after a backoff) is in its name, `ID.ATTEMPT[.NOT_BEFORE_MS]`, so a
//!   re-delivery is one atomic rename.
//! - **claim**: a worker `flock`s the file in `new/`, writes its holder record to `claims/`,
//!   and renames the file into `cur/`. Only one rename of a name can succeed, and only the
//!   lock holder tries, so there is exactly one winner. The lock stays held while the job
//!   runs and is shared with the job's processes (the engine child inherits it), so the
//!   kernel releases it only when no process of the job is left.
//! - **complete**: `done/ID.json` is created with no-clobber semantics: a completion is
//!   recorded exactly once, and a second delivery that finishes too is detected, not
//!   recorded.
//! - **reclaim**: a file in `cur/` whose lock is free *and* whose holder is proven dead
//!   ([`judge`]: pid gone, pid reused, host rebooted; another host's claim only after its
//!   lease) goes back to `new/` with the next attempt number. Anything unproven is held.
//! - **bad input**: a job file that does not parse is moved to `corrupt/NAME.corrupt` and
//!   reported; it is never run and never silently dropped.
//!
//! Execution is at least once; handlers make it idempotent by checking state first. This
//! module never runs a job (see `services::worker`) and never prints.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::storage::{self, spool};
use crate::domain::{ProtocolId, StepId};

/// The job file format this build writes and reads.
pub const JOB_VERSION: u32 = 1;

/// Attempts a job gets unless the enqueuer says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// How long another host's claim is trusted without a renewal.
pub const LEASE: Duration = Duration::from_secs(120);

/// Errors of the queue.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// No job with this id in the queue.
    #[error("no job {0} in the queue")]
    NoSuchJob(String),
    /// A job id does not have the queue's shape.
    #[error("`{0}` is not a job id (expected 12 hex digits, a dash, 6 hex digits)")]
    BadJobId(String),
    /// The operation does not fit the job's state.
    #[error("job {job} is {state}: {why}")]
    JobState {
        /// The job.
        job: String,
        /// Its state.
        state: &'static str,
        /// What to do instead.
        why: &'static str,
    },
}

/// A job id: creation time in milliseconds (12 hex digits, so names sort by age) and a
/// random part.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// Validates a job id.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let ok = text.len() == 19
            && text.as_bytes()[12] == b'-'
            && text
                .char_indices()
                .all(|(i, c)| i == 12 || matches!(c, '0'..='9' | 'a'..='f'));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::BadJobId(text.to_owned()))
        }
    }

    fn new(created_ms: u64, random: u64) -> Self {
        Self(format!(
            "{:012x}-{:06x}",
            created_ms & 0xffff_ffff_ffff,
            random & 0xff_ffff
        ))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        Self::parse(&value)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

/// Engine choices a job passes on to the service it calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineChoice {
    /// Engine override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Model override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Wall-clock limit of each engine run, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// What a job does: the seed's semantic queue operations, plus a command and a no-op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Plan a pending protocol (`protocol new --async`).
    PlanProtocol {
        /// The protocol.
        protocol: ProtocolId,
        /// Engine choices.
        #[serde(flatten)]
        engine: EngineChoice,
    },
    /// Run a protocol's whole loop (`protocol run --async`).
    RunProtocol {
        /// The protocol.
        protocol: ProtocolId,
        /// Stop once this step is completed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<StepId>,
        /// Approve steps that need a person.
        #[serde(default)]
        yes: bool,
        /// Engine choices.
        #[serde(flatten)]
        engine: EngineChoice,
        /// `--engine [PHASE=]ENGINE` values, as `protocol run` takes them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        engines: Vec<String>,
        /// `--model [PHASE=]MODEL` values.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        models: Vec<String>,
    },
    /// One attempt of one step (`step run --async`).
    ExecuteStep {
        /// The protocol.
        protocol: ProtocolId,
        /// The step.
        step: StepId,
        /// The step's attempt count when the job was enqueued: an attempt beyond it that
        /// finished means this job already ran.
        attempts_at_enqueue: u32,
        /// Engine choices.
        #[serde(flatten)]
        engine: EngineChoice,
    },
    /// QA of a step's last attempt (`qa --async`).
    EvaluateStep {
        /// The protocol.
        protocol: ProtocolId,
        /// The step.
        step: StepId,
        /// Engine choices.
        #[serde(flatten)]
        engine: EngineChoice,
    },
    /// Discovery of the repository (`discover --async`): the seed's onboarding job.
    OnboardProject {
        /// Also apply the discovered commands to the config.
        #[serde(default)]
        apply: bool,
        /// Engine choices.
        #[serde(flatten)]
        engine: EngineChoice,
    },
    /// Any program, by argv (never a shell), in the enqueuing worktree (`queue add`).
    Command {
        /// Program and arguments.
        argv: Vec<String>,
    },
    /// Does nothing, inside the worker: measures the queue itself.
    Noop,
}

impl JobKind {
    /// The protocol the job works on, if any.
    pub fn protocol(&self) -> Option<&ProtocolId> {
        match self {
            Self::PlanProtocol { protocol, .. }
            | Self::RunProtocol { protocol, .. }
            | Self::ExecuteStep { protocol, .. }
            | Self::EvaluateStep { protocol, .. } => Some(protocol),
            Self::OnboardProject { .. } | Self::Command { .. } | Self::Noop => None,
        }
    }

    /// A short description for listings.
    pub fn describe(&self) -> String {
        match self {
            Self::PlanProtocol { protocol, .. } => format!("plan {protocol}"),
            Self::RunProtocol { protocol, .. } => format!("run {protocol}"),
            Self::ExecuteStep { protocol, step, .. } => format!("step run {protocol} {step}"),
            Self::EvaluateStep { protocol, step, .. } => format!("qa {protocol} {step}"),
            Self::OnboardProject { .. } => "discover".to_owned(),
            Self::Command { argv } => format!("command {}", argv.join(" ")),
            Self::Noop => "no-op".to_owned(),
        }
    }
}

/// A job as delivered: immutable once in `new/`. (Unknown fields are not refused: serde
/// cannot combine that with the flattened kind.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Format version ([`JOB_VERSION`]).
    pub version: u32,
    /// The id.
    pub id: JobId,
    /// What to do.
    #[serde(flatten)]
    pub kind: JobKind,
    /// The worktree it was enqueued from (where the job runs).
    pub workdir: PathBuf,
    /// When it was enqueued (ms since the epoch).
    pub created_ms: u64,
    /// Attempts before it is recorded as failed.
    pub max_attempts: u32,
    /// First retry delay; it doubles with each attempt (capped at a minute).
    pub backoff_ms: u64,
}

impl Job {
    /// The delay before attempt `next` (2, 3, ...).
    pub fn backoff(&self, next: u32) -> Duration {
        let factor = 1u64 << next.saturating_sub(2).min(16);
        Duration::from_millis(self.backoff_ms.saturating_mul(factor).min(60_000))
    }
}

/// A spool entry's name: `ID.ATTEMPT` or `ID.ATTEMPT.NOT_BEFORE_MS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryName {
    /// The job.
    pub id: JobId,
    /// Which attempt this delivery is (1-based).
    pub attempt: u32,
    /// Earliest start (ms since the epoch), after a backoff.
    pub not_before_ms: Option<u64>,
}

impl EntryName {
    /// Parses a file name of `new/` or `cur/`.
    pub fn parse(name: &str) -> Option<Self> {
        let mut parts = name.split('.');
        let id = JobId::parse(parts.next()?).ok()?;
        let attempt = parts.next()?.parse().ok().filter(|a| *a > 0)?;
        let not_before_ms = match parts.next() {
            None => None,
            Some(t) => Some(t.parse().ok()?),
        };
        parts.next().is_none().then_some(Self {
            id,
            attempt,
            not_before_ms,
        })
    }

    /// The file name.
    pub fn file_name(&self) -> String {
        match self.not_before_ms {
            None => format!("{}.{}", self.id, self.attempt),
            Some(t) => format!("{}.{}.{t}", self.id, self.attempt),
        }
    }
}

/// Who holds a claim, written to `claims/NAME` before the claim rename.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// A label for people: `host:pid`.
    pub worker: String,
    /// Host name.
    pub host: String,
    /// `/proc/sys/kernel/random/boot_id` of that host.
    pub boot_id: String,
    /// The worker's pid.
    pub pid: u32,
    /// The worker's start time (`/proc/PID/stat` field 22, clock ticks since boot).
    pub start_time: u64,
    /// When it claimed the job.
    pub claimed_ms: u64,
    /// Until when the claim counts without renewal (for other hosts).
    pub lease_until_ms: u64,
}

impl Holder {
    /// A record for the current process on this host.
    pub fn current(host: &HostIdentity) -> Self {
        let pid = std::process::id();
        let now = now_ms();
        Self {
            worker: format!("{}:{pid}", host.host),
            host: host.host.clone(),
            boot_id: host.boot_id.clone(),
            pid,
            start_time: process_start_time(pid).unwrap_or_default(),
            claimed_ms: now,
            lease_until_ms: now + LEASE.as_millis() as u64,
        }
    }
}

/// This machine as claim records name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostIdentity {
    /// Host name.
    pub host: String,
    /// Boot id: changes with every boot.
    pub boot_id: String,
}

impl HostIdentity {
    /// Reads the host name and boot id from `/proc`.
    pub fn current() -> Self {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        Self {
            host: read("/proc/sys/kernel/hostname"),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
        }
    }
}

/// What can be learnt about a pid on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidProbe {
    /// No such process.
    Gone,
    /// A process with this start time exists.
    Alive {
        /// Its start time (clock ticks since boot).
        start_time: u64,
    },
    /// The process exists but belongs to someone we may not signal (EPERM).
    NotOurs,
    /// Nothing conclusive (no `/proc`, say).
    Unknown,
}

/// Looks a pid up: `kill(pid, 0)` for existence, `/proc/PID/stat` for its start time.
pub fn probe_pid(pid: u32) -> PidProbe {
    use nix::errno::Errno;
    let Ok(raw) = i32::try_from(pid) else {
        return PidProbe::Unknown;
    };
    if raw <= 0 {
        return PidProbe::Unknown;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Err(Errno::ESRCH) => PidProbe::Gone,
        Err(Errno::EPERM) => PidProbe::NotOurs,
        Err(_) => PidProbe::Unknown,
        Ok(()) => match process_start_time(pid) {
            Some(start_time) => PidProbe::Alive { start_time },
            // It exited between the two calls, or /proc hides it.
            None => PidProbe::Unknown,
        },
    }
}

/// Field 22 of `/proc/PID/stat`: the process's start time in clock ticks since boot.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the
    // last `)`, at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a claim's holder is alive, from its record alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum Liveness {
    /// Proven dead: the claim may be taken over.
    Dead(String),
    /// Alive, or not provably dead: the claim stands.
    Held(String),
}

/// Decides whether the holder of a claim is provably dead (the rule of PostgreSQL, Qt's
/// `QLockFile`, tox's filelock): a pid that no longer exists, a pid reused by a process that
/// started at another time, another boot of this host; another host's claim only once its
/// lease expired. Everything else (a live pid with the same start time, EPERM, an unreadable
/// record) counts as held: a job run twice at once is worse than a job that waits.
pub fn judge(
    holder: &Holder,
    here: &HostIdentity,
    probe: impl Fn(u32) -> PidProbe,
    now_ms: u64,
) -> Liveness {
    if holder.host != here.host {
        return if now_ms > holder.lease_until_ms {
            Liveness::Dead(format!(
                "the lease of {} (another host) expired",
                holder.worker
            ))
        } else {
            Liveness::Held(format!(
                "claimed by {} on another host; its lease runs {}s more",
                holder.worker,
                (holder.lease_until_ms - now_ms).div_ceil(1000)
            ))
        };
    }
    if holder.boot_id != here.boot_id {
        return Liveness::Dead(format!("{} ran before this host rebooted", holder.worker));
    }
    match probe(holder.pid) {
        PidProbe::Gone => Liveness::Dead(format!("worker {} is gone", holder.worker)),
        PidProbe::Alive { start_time } if start_time != holder.start_time => {
            Liveness::Dead(format!("pid {} now belongs to another process", holder.pid))
        }
        PidProbe::Alive { .. } => Liveness::Held(format!("worker {} is alive", holder.worker)),
        PidProbe::NotOurs => Liveness::Held(format!(
            "pid {} exists and is not ours to inspect",
            holder.pid
        )),
        PidProbe::Unknown => {
            Liveness::Held(format!("cannot tell whether pid {} lives", holder.pid))
        }
    }
}

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionStatus {
    /// Exit 0.
    Succeeded,
    /// Exit 3: the service ran and its answer is negative (QA FAIL, blocked, budget).
    Negative,
    /// Failed for good (attempts used up, or an error no retry can fix).
    Failed,
    /// Cancelled by `godzilla queue cancel`.
    Cancelled,
}

impl CompletionStatus {
    /// The name used in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Negative => "negative",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// The completion record, `done/ID.json`, written once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// The job, kept so it can be retried and shown.
    pub job: Job,
    /// How it ended.
    pub status: CompletionStatus,
    /// The exit code `queue wait` returns.
    pub exit_code: i32,
    /// Why it failed or was cancelled, or what the handler noted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Which attempt finished.
    pub attempts: u32,
    /// The worker that finished it.
    pub worker: String,
    /// When that attempt was claimed.
    pub claimed_ms: u64,
    /// When it finished.
    pub finished_ms: u64,
    /// Microseconds from the claim rename to the start of the job.
    pub claim_to_start_us: u64,
    /// When that attempt was claimed, in microseconds since the epoch (0 in records of
    /// older builds).
    #[serde(default)]
    pub claimed_us: u64,
}

/// What [`Queue::try_claim`] found.
#[derive(Debug)]
pub enum ClaimResult {
    /// This worker holds the job now.
    Claimed(Box<Claim>),
    /// Another worker took it, or it is not due yet.
    Lost,
    /// The file is not a job; it was moved aside.
    Corrupt {
        /// Where it went.
        moved_to: PathBuf,
        /// Why it is not a job.
        reason: String,
    },
}

/// A claimed job: the lock, the job, and where its files are.
#[derive(Debug)]
pub struct Claim {
    /// The job.
    pub job: Job,
    /// This delivery's name.
    pub name: EntryName,
    /// The lock on the job file (shared with the job's processes).
    pub lock: spool::JobLock,
    /// The holder record written for it.
    pub holder: Holder,
    /// When the claim rename succeeded.
    pub claimed_at: std::time::Instant,
    /// The same, in microseconds since the epoch.
    pub claimed_us: u64,
}

/// What a reaper did with one entry of `cur/`.
#[derive(Clone, Debug, Serialize)]
pub struct Reaped {
    /// The job.
    pub job: JobId,
    /// What happened: requeued, failed, cleaned (already complete), corrupt (set aside).
    pub action: &'static str,
    /// Why the holder was judged dead.
    pub reason: String,
    /// Where a job file that does not parse went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<PathBuf>,
}

/// One job in a listing.
#[derive(Clone, Debug, Serialize)]
pub struct JobView {
    /// The id.
    pub id: JobId,
    /// What it does.
    pub what: String,
    /// The protocol it works on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolId>,
    /// `queued`, `delayed`, `running`, `stale`, or a [`CompletionStatus`].
    pub state: String,
    /// The current (or last) attempt.
    pub attempt: u32,
    /// The worker running it (or that finished it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Seconds since it was claimed (running) or enqueued (queued).
    pub age_secs: u64,
    /// Exit code, once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed, is stale, or waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Now in milliseconds since the epoch, from the system clock.
///
/// The queue's times are operational (backoffs, leases, how long a job runs) and must move
/// even when `GODZILLA_NOW` pins the recorded clock for tests.
pub fn now_ms() -> u64 {
    now_us() / 1000
}

/// Now in microseconds since the epoch, from the system clock (see [`now_ms`]).
#[allow(
    clippy::disallowed_methods,
    reason = "leases and backoffs need real time; see now_ms"
)]
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The queue directory of one repository.
#[derive(Clone, Debug)]
pub struct Queue {
    root: PathBuf,
}

impl Queue {
    /// The queue under a machine-local directory (`$GIT_COMMON_DIR/godzilla`).
    pub fn new(local_dir: &Path) -> Self {
        Self {
            root: local_dir.join("queue"),
        }
    }

    /// The queue's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// `logs/ID.log`: the output of every attempt of a job.
    pub fn log_path(&self, id: &JobId) -> PathBuf {
        self.dir("logs").join(format!("{id}.log"))
    }

    /// `done/ID.json`.
    pub fn done_path(&self, id: &JobId) -> PathBuf {
        self.dir("done").join(format!("{id}.json"))
    }

    /// `cur/NAME`: where a claimed job's file is.
    pub fn cur_path(&self, name: &EntryName) -> PathBuf {
        self.dir("cur").join(name.file_name())
    }

    fn claim_path(&self, name: &EntryName) -> PathBuf {
        self.dir("claims").join(name.file_name())
    }

    fn cancel_path(&self, id: &JobId) -> PathBuf {
        self.dir("cancel").join(id.as_str())
    }

    /// Creates the directories.
    pub fn ensure(&self) -> Result<(), Error> {
        let dirs: Vec<PathBuf> = [
            "tmp", "new", "cur", "claims", "done", "cancel", "logs", "corrupt",
        ]
        .iter()
        .map(|d| self.dir(d))
        .collect();
        spool::create_dirs(&dirs)?;
        Ok(())
    }

    /// Enqueues a job; `random` makes its id unique among jobs created the same millisecond.
    pub fn enqueue(
        &self,
        kind: JobKind,
        workdir: &Path,
        max_attempts: u32,
        random: u64,
    ) -> Result<Job, Error> {
        self.ensure()?;
        let created_ms = now_ms();
        let job = Job {
            version: JOB_VERSION,
            id: JobId::new(created_ms, random),
            kind,
            workdir: workdir.to_path_buf(),
            created_ms,
            max_attempts: max_attempts.max(1),
            backoff_ms: 1000,
        };
        self.deliver(&job, 1, None)?;
        Ok(job)
    }

    fn deliver(&self, job: &Job, attempt: u32, not_before_ms: Option<u64>) -> Result<(), Error> {
        let name = EntryName {
            id: job.id.clone(),
            attempt,
            not_before_ms,
        };
        let bytes = serde_json::to_vec(job).unwrap_or_default();
        spool::deliver(
            &self.dir("tmp"),
            &self.dir("new").join(name.file_name()),
            &bytes,
            true,
        )?;
        Ok(())
    }

    /// A doorbell that rings when a job is delivered (or put back) into `new/`.
    pub fn doorbell(&self) -> spool::Doorbell {
        spool::Doorbell::watch(&self.dir("new"))
    }

    /// Names in `new/` that are due, oldest first (names sort by creation time).
    pub fn due(&self, now_ms: u64) -> Result<Vec<String>, Error> {
        let mut names: Vec<String> = spool::list(&self.dir("new"))?
            .into_iter()
            .filter(|n| {
                EntryName::parse(n).is_none_or(|e| e.not_before_ms.is_none_or(|t| t <= now_ms))
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// Tries to claim `new/NAME` for `holder`.
    pub fn try_claim(&self, file_name: &str, holder: &Holder) -> Result<ClaimResult, Error> {
        let path = self.dir("new").join(file_name);
        let Some(name) = EntryName::parse(file_name) else {
            return self.set_aside(&path, file_name, "the file name is not ID.ATTEMPT");
        };
        let Some(lock) = spool::JobLock::try_acquire(&path)? else {
            return Ok(ClaimResult::Lost);
        };
        let bytes = match lock.read_all() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ClaimResult::Lost),
            Err(e) => return Err(storage::Error::io(&path, e).into()),
        };
        let job: Job = match serde_json::from_slice(&bytes) {
            Ok(job) => job,
            Err(e) => {
                // It may have been claimed and finished between our open and lock: only a
                // file still in `new/` is bad input.
                if !path.exists() {
                    return Ok(ClaimResult::Lost);
                }
                return self.set_aside(&path, file_name, &e.to_string());
            }
        };
        if job.id != name.id || job.version > JOB_VERSION {
            if !path.exists() {
                return Ok(ClaimResult::Lost);
            }
            return self.set_aside(
                &path,
                file_name,
                "its id does not match its name, or it was written by a newer godzilla",
            );
        }
        // A second delivery of a job whose completion is recorded (a crash between the
        // record and the cleanup): nothing to run.
        if self.done_path(&job.id).exists() {
            spool::remove(&path)?;
            return Ok(ClaimResult::Lost);
        }
        let holder = Holder {
            claimed_ms: now_ms(),
            lease_until_ms: now_ms() + LEASE.as_millis() as u64,
            ..holder.clone()
        };
        let claim_path = self.claim_path(&name);
        storage::write_derived(
            &claim_path,
            &serde_json::to_vec(&holder).unwrap_or_default(),
        )?;
        crate::fault::point("queue.claim.before_rename");
        if !spool::rename(&path, &self.cur_path(&name))? {
            spool::remove(&claim_path)?;
            return Ok(ClaimResult::Lost);
        }
        Ok(ClaimResult::Claimed(Box::new(Claim {
            job,
            name,
            lock,
            holder,
            claimed_at: std::time::Instant::now(),
            claimed_us: now_us(),
        })))
    }

    fn set_aside(&self, path: &Path, file_name: &str, reason: &str) -> Result<ClaimResult, Error> {
        let moved_to = self.dir("corrupt").join(format!("{file_name}.corrupt"));
        spool::create_dirs(&[self.dir("corrupt")])?;
        if !spool::rename(path, &moved_to)? {
            return Ok(ClaimResult::Lost);
        }
        Ok(ClaimResult::Corrupt {
            moved_to,
            reason: reason.to_owned(),
        })
    }

    /// Renews a claim's lease (a worker does this while a job runs).
    pub fn renew(&self, claim: &Claim) -> Result<(), Error> {
        let holder = Holder {
            lease_until_ms: now_ms() + LEASE.as_millis() as u64,
            ..claim.holder.clone()
        };
        storage::write_derived(
            &self.claim_path(&claim.name),
            &serde_json::to_vec(&holder).unwrap_or_default(),
        )?;
        Ok(())
    }

    /// Records the completion (once) and removes the claim. `Ok(false)` when a completion
    /// was already recorded (a duplicate execution, which the record does not repeat).
    pub fn complete(&self, claim: Claim, completion: &Completion) -> Result<bool, Error> {
        let path = self.done_path(&claim.job.id);
        let bytes = serde_json::to_vec_pretty(completion).unwrap_or_default();
        let recorded = spool::create_record(&path, &bytes)?;
        crate::fault::point("queue.complete.after_record");
        self.forget(&claim.name)?;
        // The lock goes last: until the files are gone, a reaper must see the job held.
        drop(claim);
        Ok(recorded)
    }

    fn forget(&self, name: &EntryName) -> Result<(), Error> {
        spool::remove(&self.cur_path(name))?;
        spool::remove(&self.claim_path(name))?;
        spool::remove(&self.cancel_path(&name.id))?;
        Ok(())
    }

    /// Puts a claimed job back in `new/` as `attempt`, due at `not_before_ms`.
    pub fn requeue(
        &self,
        claim: Claim,
        attempt: u32,
        not_before_ms: Option<u64>,
    ) -> Result<(), Error> {
        let next = EntryName {
            id: claim.job.id.clone(),
            attempt,
            not_before_ms,
        };
        spool::rename(
            &self.cur_path(&claim.name),
            &self.dir("new").join(next.file_name()),
        )?;
        spool::remove(&self.claim_path(&claim.name))?;
        drop(claim);
        Ok(())
    }

    /// Whether `queue cancel` asked for this job to stop.
    pub fn is_cancel_requested(&self, id: &JobId) -> bool {
        self.cancel_path(id).exists()
    }

    /// Takes over claims whose holders are proven dead: requeued with the next attempt, or
    /// recorded as failed when the attempts are used up. Returns what it did; claims it could
    /// not judge dead stay (`list` shows them as stale, with why).
    pub fn reap(
        &self,
        here: &HostIdentity,
        probe: &dyn Fn(u32) -> PidProbe,
    ) -> Result<Vec<Reaped>, Error> {
        let mut reaped = Vec::new();
        for file_name in spool::list(&self.dir("cur"))? {
            let Some(name) = EntryName::parse(&file_name) else {
                continue;
            };
            let path = self.cur_path(&name);
            let Some(lock) = spool::JobLock::try_acquire(&path)? else {
                continue;
            };
            // Another reaper may have moved it between our listing and our lock.
            if !path.exists() {
                continue;
            }
            let liveness = match storage::read_optional(&self.claim_path(&name))?
                .map(|b| serde_json::from_slice::<Holder>(&b))
            {
                Some(Ok(holder)) => judge(&holder, here, probe, now_ms()),
                Some(Err(e)) => Liveness::Held(format!("its claim record is unreadable: {e}")),
                None => Liveness::Held("it has no claim record".to_owned()),
            };
            let reason = match liveness {
                Liveness::Held(_) => continue,
                Liveness::Dead(why) => why,
            };
            if self.torn_record(&name.id)? {
                // Its writer died mid-way: the job did not finish as far as anyone knows.
                spool::remove(&self.done_path(&name.id))?;
            } else if self.done_path(&name.id).exists() {
                self.forget(&name)?;
                reaped.push(Reaped {
                    job: name.id,
                    action: "cleaned",
                    reason,
                    moved_to: None,
                });
                continue;
            }
            let job = lock
                .read_all()
                .ok()
                .and_then(|b| serde_json::from_slice::<Job>(&b).ok());
            let Some(job) = job else {
                if let ClaimResult::Corrupt { moved_to, reason } =
                    self.set_aside(&path, &file_name, "the claimed job file does not parse")?
                {
                    spool::remove(&self.claim_path(&name))?;
                    reaped.push(Reaped {
                        job: name.id,
                        action: "corrupt",
                        reason,
                        moved_to: Some(moved_to),
                    });
                }
                continue;
            };
            let claim = Claim {
                job,
                name: name.clone(),
                lock,
                holder: Holder::current(here),
                claimed_at: std::time::Instant::now(),
                claimed_us: now_us(),
            };
            if name.attempt >= claim.job.max_attempts {
                let completion = Completion {
                    status: CompletionStatus::Failed,
                    exit_code: 1,
                    reason: Some(format!(
                        "attempt {} of {} was interrupted: {reason}",
                        name.attempt, claim.job.max_attempts
                    )),
                    attempts: name.attempt,
                    worker: claim.holder.worker.clone(),
                    claimed_ms: claim.holder.claimed_ms,
                    finished_ms: now_ms(),
                    claim_to_start_us: 0,
                    claimed_us: now_us(),
                    job: claim.job.clone(),
                };
                self.complete(claim, &completion)?;
                reaped.push(Reaped {
                    job: name.id,
                    action: "failed",
                    reason,
                    moved_to: None,
                });
            } else {
                self.requeue(claim, name.attempt + 1, None)?;
                reaped.push(Reaped {
                    job: name.id,
                    action: "requeued",
                    reason,
                    moved_to: None,
                });
            }
        }
        Ok(reaped)
    }

    /// The completion record of a job, if it finished. A record that does not parse while
    /// the job's claim is still in `cur/` is being written (or its writer died and a reaper
    /// writes it again): not finished yet.
    pub fn completion(&self, id: &JobId) -> Result<Option<Completion>, Error> {
        let path = self.done_path(id);
        match storage::read_optional(&path)? {
            None => Ok(None),
            Some(bytes) => match serde_json::from_slice(&bytes) {
                Ok(c) => Ok(Some(c)),
                Err(_) if self.find("cur", id)?.is_some() => Ok(None),
                Err(source) => Err(storage::Error::Json {
                    path,
                    line: None,
                    source,
                }
                .into()),
            },
        }
    }

    /// Whether the job's completion record exists but does not parse (see [`Queue::completion`]).
    fn torn_record(&self, id: &JobId) -> Result<bool, Error> {
        Ok(storage::read_optional(&self.done_path(id))?
            .is_some_and(|b| serde_json::from_slice::<Completion>(&b).is_err()))
    }

    /// Every job: queued and running ones, then finished ones, oldest first.
    pub fn list(&self, here: &HostIdentity) -> Result<Vec<JobView>, Error> {
        let now = now_ms();
        let mut views = Vec::new();
        for (dir, running) in [("new", false), ("cur", true)] {
            for file_name in spool::list(&self.dir(dir))? {
                let Some(name) = EntryName::parse(&file_name) else {
                    continue;
                };
                let path = self.dir(dir).join(&file_name);
                let Some(job) = storage::read_optional(&path)?
                    .and_then(|b| serde_json::from_slice::<Job>(&b).ok())
                else {
                    continue;
                };
                let mut view = JobView {
                    id: job.id.clone(),
                    what: job.kind.describe(),
                    protocol: job.kind.protocol().cloned(),
                    state: "queued".to_owned(),
                    attempt: name.attempt,
                    worker: None,
                    age_secs: now.saturating_sub(job.created_ms) / 1000,
                    exit_code: None,
                    reason: None,
                };
                if let Some(t) = name.not_before_ms.filter(|t| *t > now) {
                    view.state = "delayed".to_owned();
                    view.reason = Some(format!("retry in {}s", (t - now).div_ceil(1000)));
                }
                if running {
                    view.state = "running".to_owned();
                    let holder = storage::read_optional(&self.claim_path(&name))?
                        .and_then(|b| serde_json::from_slice::<Holder>(&b).ok());
                    if let Some(h) = &holder {
                        view.worker = Some(h.worker.clone());
                        view.age_secs = now.saturating_sub(h.claimed_ms) / 1000;
                    }
                    // A free lock means no process of the job is left: say whether a
                    // worker will take it over or why not.
                    if spool::JobLock::try_acquire(&path)?.is_some() {
                        view.state = "stale".to_owned();
                        view.reason = Some(match &holder {
                            Some(h) => match judge(h, here, probe_pid, now) {
                                Liveness::Dead(why) => {
                                    format!("{why}; the next worker takes it over")
                                }
                                Liveness::Held(why) => why,
                            },
                            None => "it has no readable claim record".to_owned(),
                        });
                    }
                }
                views.push(view);
            }
        }
        for file_name in spool::list(&self.dir("done"))? {
            let Some(id) = file_name
                .strip_suffix(".json")
                .and_then(|s| JobId::parse(s).ok())
            else {
                continue;
            };
            if let Ok(Some(c)) = self.completion(&id) {
                views.push(JobView {
                    id,
                    what: c.job.kind.describe(),
                    protocol: c.job.kind.protocol().cloned(),
                    state: c.status.as_str().to_owned(),
                    attempt: c.attempts,
                    worker: Some(c.worker),
                    age_secs: now.saturating_sub(c.finished_ms) / 1000,
                    exit_code: Some(c.exit_code),
                    reason: c.reason,
                });
            }
        }
        views.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(views)
    }

    /// Files set aside as corrupt.
    pub fn corrupt(&self) -> Result<Vec<PathBuf>, Error> {
        Ok(spool::list(&self.dir("corrupt"))?
            .into_iter()
            .map(|n| self.dir("corrupt").join(n))
            .collect())
    }

    fn find(&self, dir: &str, id: &JobId) -> Result<Option<EntryName>, Error> {
        Ok(spool::list(&self.dir(dir))?
            .iter()
            .filter_map(|n| EntryName::parse(n))
            .find(|e| &e.id == id))
    }

    /// Asks a job to stop: a queued job is recorded as cancelled at once; a running one is
    /// stopped by its worker, which records it. Returns the job's state afterwards.
    pub fn cancel(&self, id: &JobId, here: &HostIdentity) -> Result<&'static str, Error> {
        if let Some(c) = self.completion(id)? {
            return Err(Error::JobState {
                job: id.to_string(),
                state: c.status.as_str(),
                why: "it has finished already",
            });
        }
        if let Some(name) = self.find("new", id)?
            && let ClaimResult::Claimed(claim) =
                self.try_claim(&name.file_name(), &Holder::current(here))?
        {
            let completion = Completion {
                status: CompletionStatus::Cancelled,
                exit_code: 130,
                reason: Some("cancelled before it started".to_owned()),
                attempts: claim.name.attempt,
                worker: claim.holder.worker.clone(),
                claimed_ms: claim.holder.claimed_ms,
                finished_ms: now_ms(),
                claim_to_start_us: 0,
                claimed_us: now_us(),
                job: claim.job.clone(),
            };
            self.complete(*claim, &completion)?;
            return Ok("cancelled");
        }
        if let Some(name) = self.find("cur", id)? {
            // A free lock means no process of the job is left (its worker died and nobody
            // could prove it): a person's cancel settles it.
            if let Some(lock) = spool::JobLock::try_acquire(&self.cur_path(&name))?
                && let Some(job) = lock
                    .read_all()
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Job>(&b).ok())
            {
                // A record torn by a writer that died must not stand in for this one.
                if self.torn_record(id)? {
                    spool::remove(&self.done_path(id))?;
                }
                let holder = Holder::current(here);
                let completion = Completion {
                    status: CompletionStatus::Cancelled,
                    exit_code: 130,
                    reason: Some("cancelled while no process of it was left".to_owned()),
                    attempts: name.attempt,
                    worker: holder.worker.clone(),
                    claimed_ms: holder.claimed_ms,
                    finished_ms: now_ms(),
                    claim_to_start_us: 0,
                    claimed_us: now_us(),
                    job,
                };
                let claim = Claim {
                    job: completion.job.clone(),
                    name,
                    lock,
                    holder,
                    claimed_at: std::time::Instant::now(),
                    claimed_us: now_us(),
                };
                self.complete(claim, &completion)?;
                return Ok("cancelled");
            }
            storage::write_derived(&self.cancel_path(id), b"")?;
            return Ok("cancelling");
        }
        // Lost a race with a worker that claimed it meanwhile: ask that worker.
        if self.find("new", id)?.is_some() {
            storage::write_derived(&self.cancel_path(id), b"")?;
            return Ok("cancelling");
        }
        Err(Error::NoSuchJob(id.to_string()))
    }

    /// Queues a finished job that failed or was cancelled again, from attempt 1. The old
    /// completion record moves to `done/ID.json.N` (N = the next free number).
    pub fn retry(&self, id: &JobId) -> Result<Job, Error> {
        let Some(c) = self.completion(id)? else {
            if self.find("new", id)?.is_some() || self.find("cur", id)?.is_some() {
                return Err(Error::JobState {
                    job: id.to_string(),
                    state: "queued or running",
                    why: "it has not finished",
                });
            }
            return Err(Error::NoSuchJob(id.to_string()));
        };
        if c.status == CompletionStatus::Succeeded {
            return Err(Error::JobState {
                job: id.to_string(),
                state: "succeeded",
                why: "there is nothing to retry",
            });
        }
        let done = self.done_path(id);
        let mut n = 1;
        let kept = loop {
            let candidate = PathBuf::from(format!("{}.{n}", done.display()));
            if !candidate.exists() {
                break candidate;
            }
            n += 1;
        };
        // The old record moves first: a worker that met the new delivery next to it would
        // take it for a duplicate and drop it.
        spool::rename(&done, &kept)?;
        self.deliver(&c.job, 1, None)?;
        Ok(c.job)
    }

    /// Removes finished jobs' records and logs (`all`: also failed and cancelled ones, and
    /// corrupt files). Returns how many jobs were removed.
    pub fn purge(&self, all: bool) -> Result<usize, Error> {
        let mut removed = 0;
        for file_name in spool::list(&self.dir("done"))? {
            let id = file_name
                .split('.')
                .next()
                .and_then(|s| JobId::parse(s).ok());
            let Some(id) = id else { continue };
            let path = self.dir("done").join(&file_name);
            let keep = !all
                && self.completion(&id).ok().flatten().is_some_and(|c| {
                    matches!(
                        c.status,
                        CompletionStatus::Failed | CompletionStatus::Cancelled
                    )
                });
            if keep {
                continue;
            }
            spool::remove(&path)?;
            if file_name.ends_with(".json") {
                spool::remove(&self.log_path(&id))?;
                removed += 1;
            }
        }
        if all {
            for path in self.corrupt()? {
                spool::remove(&path)?;
            }
        }
        Ok(removed)
    }

    /// Removes temp files of writers that died long ago.
    pub fn sweep(&self) -> Result<usize, Error> {
        Ok(spool::sweep_staging(
            &self.dir("tmp"),
            Duration::from_secs(3600),
        )?)
    }

    /// Whether any job is queued (due or delayed).
    pub fn has_queued(&self) -> Result<bool, Error> {
        Ok(!spool::list(&self.dir("new"))?.is_empty())
    }

    /// Looks a job up wherever it is.
    pub fn view(&self, id: &JobId, here: &HostIdentity) -> Result<JobView, Error> {
        self.list(here)?
            .into_iter()
            .find(|v| &v.id == id)
            .ok_or_else(|| Error::NoSuchJob(id.to_string()))
    }

    /// The job itself (from whichever directory holds it).
    pub fn load(&self, id: &JobId) -> Result<Job, Error> {
        if let Some(c) = self.completion(id)? {
            return Ok(c.job);
        }
        for dir in ["new", "cur"] {
            if let Some(name) = self.find(dir, id)? {
                let path = self.dir(dir).join(name.file_name());
                if let Some(job) = storage::read_optional(&path)?
                    .and_then(|b| serde_json::from_slice::<Job>(&b).ok())
                {
                    return Ok(job);
                }
            }
        }
        Err(Error::NoSuchJob(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> HostIdentity {
        HostIdentity {
            host: "h1".into(),
            boot_id: "b1".into(),
        }
    }

    fn holder(host: &str, boot: &str, pid: u32, start: u64, lease_until_ms: u64) -> Holder {
        Holder {
            worker: format!("{host}:{pid}"),
            host: host.into(),
            boot_id: boot.into(),
            pid,
            start_time: start,
            claimed_ms: 0,
            lease_until_ms,
        }
    }

    fn is_dead(l: &Liveness) -> bool {
        matches!(l, Liveness::Dead(_))
    }

    #[test]
    fn judge_needs_proof_of_death() {
        let alive = |_| PidProbe::Alive { start_time: 7 };
        let now = 1_000_000;
        // Live pid, same start time: held.
        assert!(!is_dead(&judge(
            &holder("h1", "b1", 10, 7, 0),
            &here(),
            alive,
            now
        )));
        // Same pid, other start time: reused, dead.
        assert!(is_dead(&judge(
            &holder("h1", "b1", 10, 6, 0),
            &here(),
            alive,
            now
        )));
        // Gone: dead.
        assert!(is_dead(&judge(
            &holder("h1", "b1", 10, 7, 0),
            &here(),
            |_| PidProbe::Gone,
            now
        )));
        // Another boot of this host: dead, whatever the pid says.
        assert!(is_dead(&judge(
            &holder("h1", "b0", 10, 7, 0),
            &here(),
            alive,
            now
        )));
        // EPERM and unknown: held.
        assert!(!is_dead(&judge(
            &holder("h1", "b1", 1, 7, 0),
            &here(),
            |_| PidProbe::NotOurs,
            now
        )));
        assert!(!is_dead(&judge(
            &holder("h1", "b1", 1, 7, 0),
            &here(),
            |_| PidProbe::Unknown,
            now
        )));
        // Another host: held during the lease, dead after; the pid is never probed.
        let never = |_| -> PidProbe { panic!("another host's pid must not be probed") };
        assert!(!is_dead(&judge(
            &holder("h2", "b1", 10, 7, now + 1),
            &here(),
            never,
            now
        )));
        assert!(is_dead(&judge(
            &holder("h2", "b1", 10, 7, now - 1),
            &here(),
            never,
            now
        )));
    }

    #[test]
    fn entry_names_round_trip_and_reject_garbage() {
        let id = JobId::new(0x18c_0000_0000, 0xabcdef);
        for nb in [None, Some(12345)] {
            let name = EntryName {
                id: id.clone(),
                attempt: 2,
                not_before_ms: nb,
            };
            assert_eq!(EntryName::parse(&name.file_name()), Some(name));
        }
        for bad in [
            "x",
            "018c00000000-abcdef",
            "018c00000000-abcdef.0",
            "018c00000000-abcdef.1.x",
            "018c00000000-abcdef.1.2.3",
            "../etc.1",
        ] {
            assert_eq!(EntryName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn own_start_time_is_readable() {
        let me = std::process::id();
        let start = process_start_time(me).unwrap();
        assert_eq!(probe_pid(me), PidProbe::Alive { start_time: start });
    }
}
