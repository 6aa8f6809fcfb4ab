//! Taking over claims whose holders are proven dead.

use std::path::PathBuf;

use serde::Serialize;

use super::Holder;
use super::storage::{self, spool};
use super::{
    Claim, ClaimResult, Completion, CompletionStatus, EntryName, Error, HostIdentity, Job, JobId,
    Liveness, PidProbe, Queue, judge, now_ms, now_us,
};

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

impl Queue {
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
                self.forget(&name, false)?;
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

    /// Whether the job's completion record exists but does not parse (see [`Queue::completion`]).
    pub(super) fn torn_record(&self, id: &JobId) -> Result<bool, Error> {
        Ok(storage::read_optional(&self.done_path(id))?
            .is_some_and(|b| serde_json::from_slice::<Completion>(&b).is_err()))
    }
}
