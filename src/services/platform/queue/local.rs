//! What one process keeps in the queue between jobs, so that a job costs no inode: its
//! holder record, which every claim links to instead of writing its own, and its spare
//! files, in which completion records are written before they are linked into `done/`.
//!
//! Why: on ext4 without a journal (this project's CI machines), allocating an inode scans
//! past every inode freed in the last seconds, and a queue that creates two files and
//! removes two per job gets slower the longer it runs (a 3x drop within one benchmark). With
//! these, a worker in its steady state allocates and frees no inode per job: a claim is a
//! rename and a link, a completion is a rewrite of a finished job's file and a link.
//!
//! - `workers/STEM.json`: this process's holder record (pid, start time, boot id, host, a
//!   lease), written when it first needs one and again when its lease is a quarter gone.
//!   `claims/NAME` is a hard link to it. A running job whose claim outlives the lease renews
//!   its own `claims/NAME` (a file of its own then).
//! - `spare/STEM.K`: files kept for the next completion record. A finished job's file goes
//!   there instead of being removed.
//!
//! A clean exit removes both. After a crash, [`super::Queue::sweep`] removes records whose
//! holder is proven dead and spares with no live record. Any file here may vanish under its
//! owner (swept by mistake on another host, or by hand): every use falls back to writing a
//! new file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::storage::{self, spool};
use super::{Error, Holder, HostIdentity, LEASE, Liveness, judge, now_ms, probe_pid};

/// Spares kept at most; a worker needs one per job it finishes in a flush batch.
const MAX_SPARES: usize = 64;

/// Queues opened by this process (several `Queue`s in one process get different stems).
static OPENED: AtomicU64 = AtomicU64::new(0);

/// The per-process state of one queue; its files go when the last clone of the queue does.
#[derive(Debug)]
pub(super) struct Local {
    workers: PathBuf,
    spare: PathBuf,
    stem: String,
    /// The holder record on disk and when it was written.
    registered: Option<(PathBuf, u64)>,
    spares: Vec<PathBuf>,
    next_spare: u64,
}

impl Local {
    pub(super) fn new(root: &Path) -> Self {
        Self {
            workers: root.join("workers"),
            spare: root.join("spare"),
            stem: String::new(),
            registered: None,
            spares: Vec::new(),
            next_spare: 0,
        }
    }

    /// The holder record to link claims to: written now when there is none or its lease is a
    /// quarter gone, so a claim always starts with at least three quarters of a lease.
    pub(super) fn holder_record(&mut self, holder: &Holder) -> Result<PathBuf, Error> {
        let now = now_ms();
        let quarter = LEASE.as_millis() as u64 / 4;
        if let Some((path, written)) = &self.registered
            && now < written + quarter
        {
            return Ok(path.clone());
        }
        if self.stem.is_empty() {
            let boot: String = holder
                .boot_id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect();
            self.stem = format!(
                "{boot}.{}.{}.{}",
                holder.pid,
                holder.start_time,
                OPENED.fetch_add(1, Ordering::Relaxed)
            );
        }
        let record = Holder {
            claimed_ms: now,
            lease_until_ms: now + LEASE.as_millis() as u64,
            ..holder.clone()
        };
        let path = self.workers.join(format!("{}.json", self.stem));
        spool::create_dirs(std::slice::from_ref(&self.workers))?;
        storage::write_derived(&path, &serde_json::to_vec(&record).unwrap_or_default())?;
        self.registered = Some((path.clone(), now));
        Ok(path)
    }

    /// Drops the holder record's name (it was removed under us); the next use writes it again.
    pub(super) fn forget_holder_record(&mut self) {
        self.registered = None;
    }

    /// Whether this process has a holder record (and so may keep spares).
    pub(super) fn is_registered(&self) -> bool {
        self.registered.is_some()
    }

    /// A spare to write a record in: `(path, is_new)`.
    pub(super) fn take_spare(&mut self) -> Result<(PathBuf, bool), Error> {
        if let Some(path) = self.spares.pop() {
            return Ok((path, false));
        }
        Ok((self.new_spare_name()?, true))
    }

    fn new_spare_name(&mut self) -> Result<PathBuf, Error> {
        spool::create_dirs(std::slice::from_ref(&self.spare))?;
        let n = self.next_spare;
        self.next_spare += 1;
        Ok(self.spare.join(format!("{}.{n}", self.stem)))
    }

    /// Keeps the file at `path` (a finished job's, or a record's leftover name) as a spare:
    /// moved under a spare name, or removed when there are enough.
    pub(super) fn recycle(&mut self, path: &Path) -> Result<(), Error> {
        if !self.is_registered() || self.spares.len() >= MAX_SPARES {
            return Ok(spool::remove(path)?);
        }
        let spare = self.new_spare_name()?;
        if spool::rename(path, &spare)? {
            self.spares.push(spare);
        }
        Ok(())
    }

    /// Gives back a spare that was not used after all.
    pub(super) fn keep_spare(&mut self, path: PathBuf) {
        self.spares.push(path);
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // Litter otherwise, until a sweep proves this process dead.
        for spare in self.spares.drain(..) {
            let _ignored = spool::remove(&spare);
        }
        if let Some((path, _)) = self.registered.take() {
            let _ignored = spool::remove(&path);
        }
    }
}

/// Removes the holder records of processes proven dead (as a reaper judges a claim) and the
/// spares whose holder record is gone (`STEM.K` belongs to `workers/STEM.json`). Returns how
/// many files went.
pub(super) fn sweep(root: &Path, here: &HostIdentity) -> Result<usize, Error> {
    let (workers, spare) = (root.join("workers"), root.join("spare"));
    let mut removed = 0;
    let mut live = std::collections::BTreeSet::new();
    for name in spool::list(&workers)? {
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let path = workers.join(&name);
        let dead =
            match storage::read_optional(&path)?.map(|b| serde_json::from_slice::<Holder>(&b)) {
                Some(Ok(holder)) => {
                    matches!(judge(&holder, here, probe_pid, now_ms()), Liveness::Dead(_))
                }
                // Being replaced right now, or not ours to judge: kept.
                Some(Err(_)) | None => false,
            };
        if dead {
            spool::remove(&path)?;
            removed += 1;
        } else {
            live.insert(stem.to_owned());
        }
    }
    for name in spool::list(&spare)? {
        let owner = name.rsplit_once('.').map(|(stem, _)| stem);
        if owner.is_none_or(|stem| !live.contains(stem)) {
            spool::remove(&spare.join(&name))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::super::{
        ClaimResult, Completion, CompletionStatus, HostIdentity, JobKind, Queue, now_ms,
    };
    use super::*;

    fn ino(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().ino()
    }

    fn names(dir: &Path) -> Vec<String> {
        spool::list(dir).unwrap()
    }

    /// A claim links the worker's one holder record; a completion is written in the file of a
    /// job finished before and linked into `done/`: past the first job, a job allocates no
    /// inode. A clean drop leaves neither record nor spares.
    #[test]
    fn jobs_past_the_first_allocate_no_inode() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::new(dir.path());
        let here = HostIdentity::current();
        let holder = Holder::current(&here);
        let jobs: Vec<_> = (0..3)
            .map(|i| queue.enqueue(JobKind::Noop, dir.path(), 1, i).unwrap())
            .collect();
        let mut job_inodes = Vec::new();
        let mut done_inodes = Vec::new();
        for job in &jobs {
            let name = format!("{}.1", job.id);
            job_inodes.push(ino(&queue.root().join("new").join(&name)));
            let ClaimResult::Claimed(claim) = queue.try_claim(&name, &holder).unwrap() else {
                panic!("not claimed");
            };
            let record = queue.root().join("workers");
            let [record_name] = names(&record).try_into().unwrap();
            assert_eq!(
                ino(&queue.claim_path(&claim.name)),
                ino(&record.join(record_name)),
                "the claim record is a link to the worker's"
            );
            let completion = Completion {
                job: claim.job.clone(),
                status: CompletionStatus::Succeeded,
                exit_code: 0,
                reason: None,
                attempts: 1,
                worker: holder.worker.clone(),
                claimed_ms: now_ms(),
                finished_ms: now_ms(),
                claim_to_start_us: 0,
                claimed_us: 0,
            };
            assert!(queue.complete(*claim, &completion).unwrap());
            let done = queue.done_path(&job.id);
            let back: Completion = serde_json::from_slice(&std::fs::read(&done).unwrap()).unwrap();
            assert_eq!(back.job.id, job.id);
            done_inodes.push(ino(&done));
        }
        // The first record needed a new file; each later one is the previous job's file.
        assert_eq!(done_inodes[1], job_inodes[0]);
        assert_eq!(done_inodes[2], job_inodes[1]);
        assert_eq!(names(&queue.root().join("spare")).len(), 1);
        for d in ["new", "cur", "claims"] {
            assert!(names(&queue.root().join(d)).is_empty(), "{d}");
        }
        drop(queue);
        let root = dir.path().join("queue");
        assert!(names(&root.join("workers")).is_empty());
        assert!(names(&root.join("spare")).is_empty());
        assert_eq!(names(&root.join("done")).len(), 3);
    }

    /// A dead process's holder record and spares are swept; a live one's are kept.
    #[test]
    fn sweep_removes_the_litter_of_dead_processes_only() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::new(dir.path());
        queue.ensure().unwrap();
        let here = HostIdentity::current();
        let root = queue.root().to_path_buf();
        let live = queue
            .local()
            .holder_record(&Holder::current(&here))
            .unwrap();
        let live_stem = live.file_stem().unwrap().to_str().unwrap().to_owned();
        storage::write_atomic(&root.join("spare").join(format!("{live_stem}.0")), b"x").unwrap();
        // pid 2^22 + 1 is above Linux's pid_max: nothing runs under it.
        let dead = Holder {
            pid: 4_194_305,
            ..Holder::current(&here)
        };
        storage::write_atomic(
            &root.join("workers/dead.4194305.0.0.json"),
            &serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        storage::write_atomic(&root.join("spare/dead.4194305.0.0.3"), b"x").unwrap();
        storage::write_atomic(&root.join("spare/orphan.1.2.3.0"), b"x").unwrap();
        assert_eq!(queue.sweep(&here).unwrap(), 3);
        assert_eq!(names(&root.join("spare")), [format!("{live_stem}.0")]);
        assert_eq!(names(&root.join("workers")), [format!("{live_stem}.json")]);
    }
}
