//! Who holds a claim, and whether it is provably dead.

use serde::{Deserialize, Serialize};

use super::{LEASE, now_ms};

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
    /// When the record was written: the claim, or for the record a worker links as each of
    /// its claims (see `queue::local`), when the worker last renewed it.
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
    fn own_start_time_is_readable() {
        let me = std::process::id();
        let start = process_start_time(me).unwrap();
        assert_eq!(probe_pid(me), PidProbe::Alive { start_time: start });
    }
}
