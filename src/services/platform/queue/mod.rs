//! The local work queue: the seed's Queue service as files under
//! `$GIT_COMMON_DIR/godzilla/queue/`, shared by every worktree and never committed.
//!
//! Maildir-style (see DESIGN.md §5):
//! - **enqueue**: the job is written in `tmp/` and renamed into `new/`, so a reader never
//!   sees half a job. A job file never changes after delivery; what changes (the attempt,
//!   the earliest start after a backoff) is in its name, `ID.ATTEMPT[.NOT_BEFORE_MS]`, so a
//!   re-delivery is one atomic rename.
//! - **claim**: a worker `flock`s the file in `new/`, links its holder record into `claims/`
//!   (one record per worker process, see [`local`]), and renames the file into `cur/`. Only
//!   one rename of a name can succeed, and only the lock holder tries, so there is exactly one
//!   winner. The lock stays held while the job runs and is shared with the job's processes
//!   (the engine child inherits it), so the kernel releases it only when no process of the
//!   job is left.
//! - **complete**: the record is written in a spare file, flushed, then linked as
//!   `done/ID.json`, which never replaces an existing name: a completion is recorded exactly
//!   once, whole or not at all, and a second delivery that finishes too is detected, not
//!   recorded. The finished job's file becomes the next spare, so a job in a worker's steady
//!   state allocates no inode ([`local`] says why that matters).
//! - **reclaim**: a file in `cur/` whose lock is free *and* whose holder is proven dead
//!   ([`judge`]: pid gone, pid reused, host rebooted; another host's claim only after its
//!   lease) goes back to `new/` with the next attempt number. Anything unproven is held.
//! - **bad input**: a job file that does not parse is moved to `corrupt/NAME.corrupt` and
//!   reported; it is never run and never silently dropped.
//!
//! Execution is at least once; handlers make it idempotent by checking state first. This
//! module never runs a job (see `services::worker`) and never prints.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::storage::{self, spool};
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::infra::{Infra, infra_from};

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
    Infra(#[from] Infra),
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

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::NoSuchJob(_) | Self::BadJobId(_) | Self::JobState { .. } => ErrorKind::Usage,
        }
    }
}

mod job;
mod liveness;
mod local;
mod manage;
mod reclaim;

pub use job::{
    Completion, CompletionStatus, EngineChoice, EntryName, Job, JobId, JobKind, JobState, JobView,
};
pub use liveness::{
    Holder, HostIdentity, Liveness, PidProbe, judge, probe_pid, process_start_time,
};
pub use reclaim::Reaped;

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

/// The queue directory of one repository. Clones share this process's holder record and
/// spare files (see [`local`]), which go when the last clone does.
#[derive(Clone, Debug)]
pub struct Queue {
    root: PathBuf,
    local: Arc<Mutex<local::Local>>,
}

impl Queue {
    /// The queue under a machine-local directory (`$GIT_COMMON_DIR/godzilla`).
    pub fn new(local_dir: &Path) -> Self {
        let root = local_dir.join("queue");
        Self {
            local: Arc::new(Mutex::new(local::Local::new(&root))),
            root,
        }
    }

    fn local(&self) -> MutexGuard<'_, local::Local> {
        // The state is a cache of file names: after a panic elsewhere it is still usable.
        self.local
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
            "tmp", "new", "cur", "claims", "done", "cancel", "logs", "corrupt", "workers", "spare",
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
        self.write_claim_record(&claim_path, &holder)?;
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

    /// `claims/NAME`: a link to this process's holder record, or a file of its own where the
    /// file system has no hard links. A leftover of a claim that died before its rename is
    /// replaced.
    fn write_claim_record(&self, claim_path: &Path, holder: &Holder) -> Result<(), Error> {
        let record = self.local().holder_record(holder)?;
        for _ in 0..2 {
            match spool::link(&record, claim_path)? {
                spool::Linked::Done => return Ok(()),
                spool::Linked::Exists => spool::remove(claim_path)?,
                // Swept away under us: written again on the next try.
                spool::Linked::SourceGone => {
                    let mut local = self.local();
                    local.forget_holder_record();
                    local.holder_record(holder)?;
                }
                spool::Linked::Unsupported => break,
            }
        }
        storage::write_derived(claim_path, &serde_json::to_vec(holder).unwrap_or_default())?;
        Ok(())
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
        let pending = self.record(claim, completion)?;
        Ok(self.flush(vec![pending])?.first().copied().unwrap_or(false))
    }

    /// The first half of [`Queue::complete`]: writes the completion record without flushing
    /// it and keeps the claim (its files and its lock) until [`Queue::flush`]. A worker
    /// records each finished job at once and flushes the records of all jobs finished
    /// meanwhile together, so a burst of short jobs costs one journal commit, not one each.
    pub fn record(
        &self,
        claim: Claim,
        completion: &Completion,
    ) -> Result<PendingCompletion, Error> {
        let path = self.done_path(&claim.job.id);
        if path.exists() {
            return Ok(PendingCompletion {
                claim,
                path,
                file: None,
                spare: None,
                bytes: Vec::new(),
            });
        }
        let bytes = serde_json::to_vec_pretty(completion).unwrap_or_default();
        // Spares are kept by registered processes only (see `local`): the claim's holder.
        self.local().holder_record(&claim.holder)?;
        let (mut spare, mut fresh) = self.local().take_spare()?;
        let file = loop {
            if let Some(file) = spool::overwrite_spare(&spare, &bytes, fresh)? {
                break file;
            }
            // Swept as litter meanwhile: a new one.
            (spare, fresh) = self.local().take_spare()?;
        };
        Ok(PendingCompletion {
            claim,
            path,
            file: Some(file),
            spare: Some(spare),
            bytes,
        })
    }

    /// Makes the records of `batch` durable and gives them their names in `done/`, then
    /// removes their claims and releases their locks. Until then a crash leaves each job
    /// claimed, and its reclaim finds the record or runs the job again (a torn record, which
    /// only builds before the spare files could leave, is removed first).
    ///
    /// Returns, for each entry of `batch`, whether its record was written by it (`false`: a
    /// record existed already, a duplicate execution).
    pub fn flush(&self, batch: Vec<PendingCompletion>) -> Result<Vec<bool>, Error> {
        let files: Vec<(&Path, &std::fs::File)> = batch
            .iter()
            .filter_map(|p| Some((p.spare.as_deref()?, p.file.as_ref()?)))
            .collect();
        // Whole before it has its name: a record in `done/` is never torn.
        spool::sync_records(&files)?;
        let mut recorded = Vec::with_capacity(batch.len());
        let mut written = Vec::new();
        for pending in &batch {
            let Some(spare) = &pending.spare else {
                recorded.push(false);
                continue;
            };
            let linked = match spool::link(spare, &pending.path)? {
                spool::Linked::Done => true,
                spool::Linked::Exists => {
                    self.local().keep_spare(spare.clone());
                    false
                }
                // No hard links here, or the spare was swept: the record is written in place.
                spool::Linked::Unsupported | spool::Linked::SourceGone => {
                    match spool::write_record(&pending.path, &pending.bytes)? {
                        Some(file) => {
                            spool::sync_records(&[(&pending.path, &file)])?;
                            spool::remove(spare)?;
                            recorded.push(true);
                            continue;
                        }
                        None => false,
                    }
                }
            };
            if linked {
                written.push(spare.as_path());
            }
            recorded.push(linked);
        }
        storage::sync_dir(&self.dir("done"))?;
        // Its second name goes once the first is durable.
        for spare in written {
            spool::remove(spare)?;
        }
        crate::fault::point("queue.complete.after_record");
        for pending in batch {
            self.forget(&pending.claim.name, true)?;
            // The lock goes last: until the files are gone, a reaper must see the job held.
            drop(pending);
        }
        Ok(recorded)
    }

    /// Removes a finished job's files; with `recycle`, its job file becomes a spare.
    fn forget(&self, name: &EntryName, recycle: bool) -> Result<(), Error> {
        let cur = self.cur_path(name);
        if recycle {
            self.local().recycle(&cur)?;
        } else {
            spool::remove(&cur)?;
        }
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
}

/// A completion record written and not yet flushed, holding its job's claim; see
/// [`Queue::record`].
#[derive(Debug)]
pub struct PendingCompletion {
    claim: Claim,
    path: PathBuf,
    /// `None` when a completion was recorded already (a duplicate execution).
    file: Option<std::fs::File>,
    /// The spare file the record is written in, linked as `path` by [`Queue::flush`].
    spare: Option<PathBuf>,
    /// The record, for a file system with no hard links.
    bytes: Vec<u8>,
}
