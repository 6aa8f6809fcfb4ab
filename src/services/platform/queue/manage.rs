//! Reading and managing the queue: records, listings, cancel, retry, purge.

use std::path::PathBuf;
use std::time::Duration;

use super::storage::{self, spool};
use super::{
    Claim, ClaimResult, Completion, CompletionStatus, EntryName, Error, Holder, HostIdentity, Job,
    JobId, JobState, JobView, Liveness, Queue, judge, local, now_ms, now_us, probe_pid,
};

/// When the file at `path` last changed name or metadata (ms since the epoch).
fn claimed_at(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let ms = meta.ctime().checked_mul(1000)? + meta.ctime_nsec() / 1_000_000;
    u64::try_from(ms).ok()
}

impl Queue {
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
                    state: JobState::Queued,
                    attempt: name.attempt,
                    worker: None,
                    age_secs: now.saturating_sub(job.created_ms) / 1000,
                    exit_code: None,
                    reason: None,
                };
                if let Some(t) = name.not_before_ms.filter(|t| *t > now) {
                    view.state = JobState::Delayed;
                    view.reason = Some(format!("retry in {}s", (t - now).div_ceil(1000)));
                }
                if running {
                    view.state = JobState::Running;
                    let holder = storage::read_optional(&self.claim_path(&name))?
                        .and_then(|b| serde_json::from_slice::<Holder>(&b).ok());
                    if let Some(h) = &holder {
                        view.worker = Some(h.worker.clone());
                    }
                    // Since the claim: its rename into `cur/` set the file's change time (the
                    // claim record is the worker's, shared by its claims).
                    if let Some(claimed) = claimed_at(&path) {
                        view.age_secs = now.saturating_sub(claimed) / 1000;
                    }
                    // A free lock means no process of the job is left: say whether a
                    // worker will take it over or why not.
                    if spool::JobLock::try_acquire(&path)?.is_some() {
                        view.state = JobState::Stale;
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
                    state: c.status.into(),
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
    /// corrupt files), and the litter of workers proven dead ([`Queue::sweep`]). Returns how
    /// many jobs were removed.
    pub fn purge(&self, all: bool) -> Result<usize, Error> {
        self.sweep(&HostIdentity::current())?;
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

    /// Removes litter: temp files of writers that died long ago, holder records of processes
    /// proven dead (as a reaper judges them) and spare files whose holder record is gone.
    pub fn sweep(&self, here: &HostIdentity) -> Result<usize, Error> {
        let staged = spool::sweep_staging(&self.dir("tmp"), Duration::from_secs(3600))?;
        Ok(staged + local::sweep(&self.root, here)?)
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
