//! The parent-death watchdog of the engine and check runs (see [`Watchdog`]).

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Stdio};
use std::time::Duration;

use super::DEFAULT_KILL_GRACE;

/// A tiny `sh` that kills the process groups of the running children when godzilla dies,
/// however it dies (`kill -9` included): it reads group ids from a pipe whose only writer is
/// godzilla (`+ ID` when a run starts, `- ID` when it ends), and the kernel closes that pipe when
/// godzilla's process ends; then it sends SIGTERM to every group still listed, waits the
/// grace, and sends SIGKILL.
///
/// This is godzilla's parent-death signal. Linux's `PR_SET_PDEATHSIG` would need a pre-exec
/// hook (`unsafe`, which the crate forbids), would reach only the direct child and not the
/// processes it starts, and fires when the spawning *thread* ends. One watchdog serves every
/// run of the process (it used to be one per run: a process start per engine and check run,
/// #13). A run's `- ID` follows the reaping of its child at once, and the watchdog reads every
/// line before it sees the end of the pipe; a godzilla killed in the instant between the two
/// could have a group id signalled that was reused in that instant, the same window the
/// per-run watchdog had.
pub(super) struct Watchdog {
    pgid: u32,
}

const WATCHDOG_SCRIPT: &str = r#"g=' '
while read -r op id; do
  case $op in
    +) g="$g$id " ;;
    -) n=' '; for x in $g; do [ "$x" = "$id" ] || n="$n$x "; done; g=$n ;;
  esac
done
[ "$g" = ' ' ] && exit 0
for x in $g; do kill -TERM -"$x" 2>/dev/null; done
sleep "$1"
for x in $g; do kill -KILL -"$x" 2>/dev/null; done"#;

/// The process's watchdog and the groups it watches (kept here too, to hand them to a new
/// watchdog if the old one was killed).
struct Watcher {
    running: Option<(Child, std::io::PipeWriter)>,
    groups: std::collections::BTreeSet<u32>,
}

static WATCHER: std::sync::Mutex<Watcher> = std::sync::Mutex::new(Watcher {
    running: None,
    groups: std::collections::BTreeSet::new(),
});

impl Watcher {
    /// Writes `line` to the watchdog, starting one (and telling it every watched group) when
    /// there is none or the old one is gone.
    fn send(&mut self, line: &str) {
        use std::io::Write as _;
        if let Some((_, pipe)) = &mut self.running
            && pipe.write_all(line.as_bytes()).is_ok()
        {
            return;
        }
        self.restart();
    }

    /// Starts a watchdog when there is none yet (what [`prepare`] does ahead of a run).
    fn ensure(&mut self) {
        if self.running.is_none() {
            self.restart();
        }
    }

    /// Replaces the watchdog (a dead one is reaped) and tells the new one every watched group.
    fn restart(&mut self) {
        use std::io::Write as _;
        if let Some((mut old, _)) = self.running.take() {
            old.kill().ok();
            old.wait().ok();
        }
        let Some((child, mut pipe)) = start_watchdog(DEFAULT_KILL_GRACE) else {
            return;
        };
        let all: String = self.groups.iter().map(|g| format!("+ {g}\n")).collect();
        if pipe.write_all(all.as_bytes()).is_ok() {
            self.running = Some((child, pipe));
        }
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "a fixed /bin/sh script with a numeric argument; group ids come on its stdin"
)]
fn start_watchdog(grace: Duration) -> Option<(Child, std::io::PipeWriter)> {
    let (reader, writer) = std::io::pipe().ok()?;
    let grace = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
    let started = std::process::Command::new("/bin/sh")
        .args(["-c", WATCHDOG_SCRIPT, "godzilla-watchdog"])
        .arg(grace.to_string())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .stdin(reader)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group: a terminal's Ctrl-C must not take it down with godzilla's group.
        .process_group(0)
        .spawn();
    match started {
        Ok(child) => {
            // It waits almost all its life; its start (an exec, the loader, the shell's set-up)
            // is the one thing it does that costs, and it happens while godzilla prepares the
            // run on the other cores. At the lowest priority it takes a core only when one is
            // idle (while the engine runs) instead of delaying the run (#13). It is already
            // exec'd: it reads the end of the pipe however late it gets to run.
            let _lowered = rustix::process::setpriority_process(
                Some(rustix::process::Pid::from_child(&child)),
                19,
            );
            Some((child, writer))
        }
        Err(e) => {
            tracing::warn!("cannot start the engine watchdog: {e}");
            None
        }
    }
}

/// Starts the process's watchdog on another thread, ahead of the first run that needs it.
/// Started by that run instead, the `/bin/sh` kept the run's caller waiting for its `exec`,
/// and its start competed with the child's on the CPU: about a fifth of a millisecond of
/// every `step run` (#13). Here it overlaps with the run's preparation. A run that starts
/// first starts it itself (the lock orders them); a process that never runs one leaves an
/// idle watchdog that ends with it.
pub(crate) fn prepare() {
    // Already there (a protocol run's second step): not even a thread.
    if WATCHER.try_lock().is_ok_and(|w| w.running.is_some()) {
        return;
    }
    let started = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(|| {
            WATCHER
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .ensure();
        });
    if let Err(e) = started {
        tracing::debug!("the watchdog starts with the first run: {e}");
    }
}

impl Watchdog {
    pub(super) fn start(pgid: u32) -> Self {
        let mut watcher = WATCHER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        watcher.groups.insert(pgid);
        watcher.send(&format!("+ {pgid}\n"));
        Self { pgid }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let mut watcher = WATCHER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        watcher.groups.remove(&self.pgid);
        watcher.send(&format!("- {}\n", self.pgid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running_pid() -> Option<u32> {
        WATCHER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .running
            .as_ref()
            .map(|(child, _)| child.id())
    }

    #[test]
    fn a_prepared_watchdog_is_the_one_the_next_run_uses() {
        prepare();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let prepared = loop {
            if let Some(pid) = running_pid() {
                break pid;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no watchdog after prepare"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        // A group id no process has: the watchdog only lists it.
        let run = Watchdog::start(u32::MAX / 2);
        assert_eq!(running_pid(), Some(prepared));
        drop(run);
        prepare();
        assert_eq!(running_pid(), Some(prepared), "prepared twice");
    }

    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "the test starts an engine's process group of its own"
    )]
    fn the_watchdog_runs_at_the_lowest_priority_and_still_kills_when_godzilla_is_gone() {
        // A watchdog of its own, as the process would start one.
        let (mut child, mut pipe) = start_watchdog(Duration::from_secs(1)).unwrap();
        let pid = rustix::process::Pid::from_child(&child);
        assert_eq!(rustix::process::getpriority_process(Some(pid)).unwrap(), 19);
        // A group to take down: a sleeper in a group of its own.
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        use std::io::Write as _;
        writeln!(pipe, "+ {}", sleeper.id()).unwrap();
        // The end of the pipe is what godzilla's death looks like to the watchdog.
        drop(pipe);
        let status = sleeper.wait().unwrap();
        assert!(!status.success(), "the sleeper was killed: {status:?}");
        child.wait().unwrap();
    }
}
