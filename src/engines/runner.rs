//! The headless process runner every CLI engine goes through.
//!
//! It owns the process-level half of the headless contract: argv only (never a shell), stdin
//! fed the prompt or null, a cleared environment (the caller passes the complete child
//! environment), the child leading its own process group, a hard wall-clock timeout and a stall
//! watchdog that kill the whole group (SIGTERM, a short grace, then SIGKILL), stdout and stderr
//! read line by line on threads and reported live, and bounded captured output.
//!
//! It does not know any engine's flags or output format (the adapters do), and it never
//! scrubs: callers scrub what they keep.

mod watchdog;
use watchdog::Watchdog;
pub(crate) use watchdog::prepare as prepare_watchdog;

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Default bound on captured output, per stream: the last 8 MiB are kept.
pub const DEFAULT_MAX_OUTPUT: usize = 8 << 20;

/// Default time between SIGTERM and SIGKILL.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);

/// A single line longer than this is reported in pieces, so a newline-free flood cannot grow
/// memory without bound before the tail buffer sees it.
const MAX_LINE: u64 = 1 << 20;

/// How often the runner wakes up to check the child and the clocks when nothing is printed.
const TICK: Duration = Duration::from_millis(25);

/// How long to keep reading after the child exited and its group was killed. Only a process
/// that left the group (setsid) can hold the pipes open longer; we stop waiting for it.
const DRAIN: Duration = Duration::from_secs(2);

/// Errors starting or supervising a child.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program could not be started (`source.kind() == NotFound` when it does not exist).
    #[error("cannot start `{}`", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A run's lock file could not be opened or locked.
    #[error("cannot lock {}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Processes of an earlier run still hold its lock after SIGKILL (they are not ours to
    /// kill, or they do not die): starting another run there would run two at once.
    #[error(
        "processes {pids:?} of an earlier run still hold {} and did not stop",
        path.display()
    )]
    Orphans {
        /// The lock file.
        path: PathBuf,
        /// The processes holding it.
        pids: Vec<i32>,
    },
    /// Waiting for the child failed.
    #[error("cannot wait for `{}` (pid {pid})", program.display())]
    Wait {
        /// The program.
        program: PathBuf,
        /// Its pid.
        pid: u32,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Why the runner killed the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillReason {
    /// The wall-clock timeout expired.
    Timeout,
    /// Nothing that counts as progress was printed for the stall timeout.
    Stall,
    /// godzilla itself was asked to stop (SIGINT, SIGTERM or SIGHUP).
    Interrupted,
    /// The child printed what its adapter knows to be an endless retry loop (codex's
    /// "Reconnecting... waiting for network"): waiting longer cannot help.
    GaveUp,
}

/// Decides whether a line counts as progress for the stall watchdog. Engines that print
/// "reconnecting…" forever (codex with an unreachable server) must not look alive.
pub type ProgressFilter<'a> = dyn Fn(Stream, &str) -> bool + Send + Sync + 'a;

/// Decides, line by line, that the child will not get anywhere and is to be stopped now.
pub type GiveUpFilter<'a> = dyn Fn(Stream, &str) -> bool + Send + Sync + 'a;

/// Everything needed to run one child.
pub struct RunSpec<'a> {
    /// The executable (a path, already resolved by the caller).
    pub program: PathBuf,
    /// Arguments, passed as argv: no shell ever sees them.
    pub args: Vec<String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// The complete environment of the child; nothing else is inherited.
    pub env: BTreeMap<String, String>,
    /// Bytes written to stdin, which is then closed; `None` gives a null stdin.
    pub stdin: Option<Vec<u8>>,
    /// Hard wall-clock limit.
    pub timeout: Duration,
    /// Kill when no progress is printed for this long; zero disables the watchdog.
    pub stall_timeout: Duration,
    /// Time between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Bytes of each stream to keep (the tail).
    pub max_output: usize,
    /// Which lines count as progress; all do when `None`.
    pub progress: Option<&'a ProgressFilter<'a>>,
    /// A lock file the child's process tree holds for as long as any of it lives (see
    /// [`claim_group_lock`]): the proof, before the next run in the same place, that this one
    /// left nothing behind.
    pub group_lock: Option<PathBuf>,
    /// Lines after which the child is stopped at once ([`KillReason::GaveUp`]).
    pub give_up: Option<&'a GiveUpFilter<'a>>,
}

impl std::fmt::Debug for RunSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Environment values and stdin may hold secrets and the prompt: show only their shape.
        f.debug_struct("RunSpec")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field("env_keys", &self.env.keys().collect::<Vec<_>>())
            .field("stdin_len", &self.stdin.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .field("stall_timeout", &self.stall_timeout)
            .finish_non_exhaustive()
    }
}

impl RunSpec<'_> {
    /// A spec with the default grace and output bound, stdin null and no stall watchdog.
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>, cwd: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args,
            cwd: cwd.into(),
            env: BTreeMap::new(),
            stdin: None,
            timeout: Duration::from_secs(3600),
            stall_timeout: Duration::ZERO,
            kill_grace: DEFAULT_KILL_GRACE,
            max_output: DEFAULT_MAX_OUTPUT,
            progress: None,
            group_lock: None,
            give_up: None,
        }
    }
}

/// What a finished (or killed) child left behind. Output is raw and unscrubbed.
#[derive(Clone, Debug, Default)]
pub struct RawRun {
    /// Program followed by its arguments, as run.
    pub argv: Vec<String>,
    /// Exit code; `None` when a signal ended it.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// The last bytes of stdout.
    pub stdout: Vec<u8>,
    /// The last bytes of stderr.
    pub stderr: Vec<u8>,
    /// Whether stdout was longer than what was kept.
    pub stdout_truncated: bool,
    /// Whether stderr was longer than what was kept.
    pub stderr_truncated: bool,
    /// Wall time from spawn to reaping.
    pub duration: Duration,
    /// Set when the runner killed the child.
    pub killed: Option<KillReason>,
    /// Files the adapter asked to read back after the run (by name), e.g. codex's last message.
    pub collected: BTreeMap<String, Vec<u8>>,
}

impl RawRun {
    /// Stdout as (lossy) text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr as (lossy) text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The last `n` non-empty lines of stderr, for error messages.
    pub fn stderr_tail(&self, n: usize) -> String {
        let text = self.stderr_text();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Keeps the last `cap` bytes written to it.
struct Tail {
    buf: VecDeque<u8>,
    cap: usize,
    truncated: bool,
}

impl Tail {
    fn new(cap: usize) -> Self {
        Self {
            buf: VecDeque::new(),
            cap,
            truncated: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if bytes.len() >= self.cap {
            self.truncated |= !self.buf.is_empty() || bytes.len() > self.cap;
            self.buf.clear();
            self.buf.extend(&bytes[bytes.len() - self.cap..]);
            return;
        }
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(self.cap);
        if overflow > 0 {
            self.truncated = true;
            self.buf.drain(..overflow);
        }
        self.buf.extend(bytes);
    }
}

enum Msg {
    Data(Stream, Vec<u8>),
    Eof(Stream),
}

/// Kills the child's whole process group when dropped while armed, so a panic in a callback
/// or an early return never leaves an engine running.
struct GroupGuard {
    pgid: Pid,
    armed: bool,
}

impl GroupGuard {
    fn signal(&self, signal: Signal) {
        // ESRCH (the group is already gone) is the expected outcome, not an error.
        let _ = killpg(self.pgid, signal);
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            self.signal(Signal::SIGKILL);
        }
    }
}

/// Runs the child described by `spec`, calling `on_line` (on this thread) for every line as it
/// arrives, and returns when the child is reaped and its group is gone.
pub fn run(spec: &RunSpec<'_>, on_line: &mut dyn FnMut(Stream, &str)) -> Result<RawRun, Error> {
    let mut argv = vec![spec.program.to_string_lossy().into_owned()];
    argv.extend(spec.args.iter().cloned());
    tracing::debug!(?argv, cwd = %spec.cwd.display(), env_keys = ?spec.env.keys().collect::<Vec<_>>(), "spawning engine");

    let _active = crate::process::ActiveRun::begin();
    if crate::process::interrupted().is_some() {
        // Asked to stop: never start another child.
        return Ok(RawRun {
            argv,
            killed: Some(KillReason::Interrupted),
            ..RawRun::default()
        });
    }
    let lock = match &spec.group_lock {
        Some(path) => Some(claim_group_lock(path, spec.kill_grace)?),
        None => None,
    };
    let start = Instant::now();
    let (mut child, watchdog) = spawn_supervised(spec, lock)?;
    let pid = child.id();
    let mut guard = GroupGuard {
        // process_group(0) makes the child's pid its group id.
        pgid: Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
        armed: true,
    };
    // Declared after the guard so it is dropped first: on a panic the watchdog goes, then the
    // guard kills the group.
    let _watchdog = watchdog;

    let rx = connect_pipes(&mut child, spec);

    let mut tails = [Tail::new(spec.max_output), Tail::new(spec.max_output)];
    let mut eof = [false, false];
    let mut status: Option<ExitStatus> = None;
    let mut killed = None;
    let mut drain_until = None;
    let deadline = start + spec.timeout;
    let mut last_progress = start;
    let mut gave_up = false;

    loop {
        let now = Instant::now();
        if status.is_none() {
            let reason = if now >= deadline {
                Some(KillReason::Timeout)
            } else if !spec.stall_timeout.is_zero() && now - last_progress >= spec.stall_timeout {
                Some(KillReason::Stall)
            } else if crate::process::interrupted().is_some() {
                Some(KillReason::Interrupted)
            } else if gave_up {
                Some(KillReason::GaveUp)
            } else {
                None
            };
            if let Some(reason) = reason {
                tracing::debug!(pid, ?reason, "killing engine process group");
                killed = Some(reason);
                status = Some(terminate(&mut child, &guard, spec)?);
            } else if let Some(exited) = try_wait(&mut child, spec)? {
                status = Some(exited);
            }
            if status.is_some() {
                // The leader is gone; anything it left behind in its group goes with it.
                guard.signal(Signal::SIGKILL);
                drain_until = Some(Instant::now() + DRAIN);
            }
        }
        if eof == [true, true] && status.is_some() {
            break;
        }
        if drain_until.is_some_and(|d| Instant::now() >= d) {
            tracing::debug!(pid, "output pipes still open after the group was killed");
            break;
        }
        let mut wait = TICK;
        if status.is_none() {
            wait = wait.min(deadline.saturating_duration_since(now));
            if !spec.stall_timeout.is_zero() {
                wait =
                    wait.min((last_progress + spec.stall_timeout).saturating_duration_since(now));
            }
        }
        match rx.recv_timeout(wait) {
            Ok(Msg::Data(stream, bytes)) => {
                let line = String::from_utf8_lossy(&bytes);
                let line = line.trim_end_matches(['\n', '\r']);
                if spec.progress.is_none_or(|f| f(stream, line)) {
                    last_progress = Instant::now();
                }
                gave_up |= spec.give_up.is_some_and(|f| f(stream, line));
                on_line(stream, line);
                tails[stream as usize].push(&bytes);
            }
            Ok(Msg::Eof(stream)) => eof[stream as usize] = true,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => eof = [true, true],
        }
    }
    guard.armed = false;
    let status = status.unwrap_or_else(|| unreachable!("the loop exits only after reaping"));
    let [out, err] = tails;
    Ok(RawRun {
        argv,
        exit_code: status.code(),
        signal: status.signal(),
        stdout: out.buf.into(),
        stderr: err.buf.into(),
        stdout_truncated: out.truncated,
        stderr_truncated: err.truncated,
        duration: start.elapsed(),
        killed,
        collected: BTreeMap::new(),
    })
}

/// Serializes the spawns that hand a descriptor down (the group lock) against the other spawns
/// of this module, so that no sibling child inherits another run's lock by accident.
static SPAWN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts the child holding `lock` (when given) and its parent-death watchdog.
///
/// The lock is handed down as a duplicate descriptor without close-on-exec (`dup` never sets
/// it), so the child and everything it starts share the lock's open file description; godzilla
/// closes its own copies right after the spawn. The lock is then held exactly as long as some
/// process of the run lives, whatever happened to godzilla.
fn spawn_supervised(
    spec: &RunSpec<'_>,
    lock: Option<std::fs::File>,
) -> Result<(Child, Watchdog), Error> {
    let serial = SPAWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let inherited = match &lock {
        Some(file) => Some(nix::unistd::dup(file).map_err(|e| Error::Lock {
            path: spec.group_lock.clone().unwrap_or_default(),
            source: e.into(),
        })?),
        None => None,
    };
    let child = spawn(spec);
    drop(inherited);
    drop(lock);
    let child = child?;
    let watchdog = Watchdog::start(child.id());
    drop(serial);
    Ok((child, watchdog))
}

/// Takes the lock file `path` for a new run, first ending any earlier run that still holds
/// it: the processes that have it open are found in `/proc`, their process groups get SIGTERM,
/// and SIGKILL after `grace`. Returns the locked file once it is free, or [`Error::Orphans`]
/// when it stays held. Processes in godzilla's own group are never signalled (they are
/// godzilla's own short-lived children, which inherited the descriptor by accident).
#[allow(clippy::disallowed_methods, reason = "a run's group lock, not state")]
pub fn claim_group_lock(path: &Path, grace: Duration) -> Result<std::fs::File, Error> {
    let lock_err = |source| Error::Lock {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(lock_err)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(lock_err)?;
    let start = Instant::now();
    let mut sent: Option<Signal> = None;
    let own_group = nix::unistd::getpgrp();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e)),
        }
        let holders = lock_holders(&file);
        let elapsed = start.elapsed();
        let next = match sent {
            None => Some(Signal::SIGTERM),
            Some(Signal::SIGTERM) if elapsed >= grace => Some(Signal::SIGKILL),
            _ => None,
        };
        if let Some(signal) = next {
            tracing::warn!(
                ?holders,
                ?signal,
                "an earlier run still holds {}; stopping it",
                path.display()
            );
            for (_, pgid) in holders.iter().filter(|(_, g)| *g != own_group) {
                let _ = killpg(*pgid, signal);
            }
            sent = Some(signal);
        }
        if elapsed >= grace + LOCK_WAIT {
            return Err(Error::Orphans {
                path: path.to_owned(),
                pids: holders.iter().map(|(p, _)| p.as_raw()).collect(),
            });
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// How long [`claim_group_lock`] waits after SIGKILL for the lock to be released.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Other processes with `file` open, and their process groups, from `/proc/*/fd`.
fn lock_holders(file: &std::fs::File) -> Vec<(Pid, Pid)> {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(meta) = file.metadata() else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::metadata(fd.path())
                .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
        });
        let pid = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
        if holds && let Ok(pgid) = nix::unistd::getpgid(Some(pid)) {
            found.push((pid, pgid));
        }
    }
    found
}

#[allow(
    clippy::disallowed_methods,
    reason = "the one spawn site for engines: argv only, env cleared, own process group"
)]
fn spawn(spec: &RunSpec<'_>) -> Result<Child, Error> {
    std::process::Command::new(&spec.program)
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(&spec.env)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| Error::Spawn {
            program: spec.program.clone(),
            source,
        })
}

fn try_wait(child: &mut Child, spec: &RunSpec<'_>) -> Result<Option<ExitStatus>, Error> {
    child.try_wait().map_err(|source| Error::Wait {
        program: spec.program.clone(),
        pid: child.id(),
        source,
    })
}

/// SIGTERM to the group, up to `kill_grace` for the leader to exit, then SIGKILL to the group
/// (also reaching children that ignored SIGTERM), then reap.
fn terminate(
    child: &mut Child,
    guard: &GroupGuard,
    spec: &RunSpec<'_>,
) -> Result<ExitStatus, Error> {
    guard.signal(Signal::SIGTERM);
    let grace_end = Instant::now() + spec.kill_grace;
    while Instant::now() < grace_end {
        if try_wait(child, spec)?.is_some() {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    guard.signal(Signal::SIGKILL);
    child.wait().map_err(|source| Error::Wait {
        program: spec.program.clone(),
        pid: child.id(),
        source,
    })
}

/// Feeds the child its stdin and reads its stdout and stderr on threads; the lines arrive
/// on the returned channel, which closes when both pipes are at their end.
fn connect_pipes(child: &mut Child, spec: &RunSpec<'_>) -> mpsc::Receiver<Msg> {
    if let Some(stdin) = child.stdin.take() {
        let bytes = spec.stdin.clone().unwrap_or_default();
        // A writer thread: a prompt larger than the pipe buffer would otherwise deadlock
        // against a child that prints before it finishes reading. EPIPE (the child stopped
        // reading) is the child's business and shows up in its output.
        thread::spawn(move || {
            let mut stdin = stdin;
            stdin.write_all(&bytes).ok();
        });
    }
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, Stream::Stdout, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, Stream::Stderr, tx.clone());
    }
    rx
}

fn spawn_reader<R: Read + Send + 'static>(pipe: R, stream: Stream, tx: mpsc::Sender<Msg>) {
    thread::spawn(move || {
        let mut reader = BufReader::with_capacity(64 << 10, pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx
                        .send(Msg::Data(stream, std::mem::take(&mut line)))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        tx.send(Msg::Eof(stream)).ok();
    });
}

/// Whether `program` can be run with `path_var` as PATH: a path must name an executable
/// file; a bare name is looked up in `path_var`. Returns the resolved path.
pub fn resolve_program(program: &str, path_var: Option<&str>, cwd: &Path) -> Option<PathBuf> {
    if program.contains('/') {
        let path = cwd.join(program);
        return which::which(&path).ok();
    }
    which::which_in(program, path_var, cwd).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_runner_tail_keeps_the_last_bytes() {
        let mut t = Tail::new(4);
        t.push(b"ab");
        assert!(!t.truncated);
        t.push(b"cdef");
        assert!(t.truncated);
        assert_eq!(t.buf.iter().copied().collect::<Vec<_>>(), b"cdef");
        t.push(b"0123456789");
        assert_eq!(t.buf.iter().copied().collect::<Vec<_>>(), b"6789");
    }

    fn sh(script: &str) -> RunSpec<'static> {
        let mut spec = RunSpec::new("/bin/sh", vec!["-c".into(), script.into()], "/");
        spec.env.insert("PATH".into(), "/usr/bin:/bin".into());
        spec
    }

    #[test]
    fn test_runner_captures_lines_exit_code_and_env() {
        let mut spec = sh("echo out; echo err >&2; echo \"v=$ONLY\"; echo \"h=$HOME\"; exit 3");
        spec.env.insert("ONLY".into(), "yes".into());
        let mut lines = Vec::new();
        let raw = run(&spec, &mut |s, l| lines.push((s, l.to_owned()))).unwrap();
        assert_eq!(raw.exit_code, Some(3));
        assert_eq!(raw.stdout_text(), "out\nv=yes\nh=\n");
        assert_eq!(raw.stderr_text(), "err\n");
        assert!(lines.contains(&(Stream::Stderr, "err".to_owned())));
        assert!(raw.killed.is_none());
    }

    #[test]
    fn test_runner_stdin_is_fed_then_closed() {
        let mut spec = sh("cat");
        spec.stdin = Some(b"hello\nworld".to_vec());
        let raw = run(&spec, &mut |_, _| {}).unwrap();
        assert_eq!(raw.stdout, b"hello\nworld");
        // With no stdin the child sees EOF at once instead of hanging on a terminal.
        let spec = sh("cat; echo done");
        let raw = run(&spec, &mut |_, _| {}).unwrap();
        assert_eq!(raw.stdout_text(), "done\n");
    }

    #[test]
    fn test_runner_timeout_kills() {
        let mut spec = sh("sleep 30");
        spec.timeout = Duration::from_millis(200);
        let raw = run(&spec, &mut |_, _| {}).unwrap();
        assert_eq!(raw.killed, Some(KillReason::Timeout));
        assert!(raw.duration < Duration::from_secs(10), "{:?}", raw.duration);
        assert!(raw.exit_code.is_none());
    }

    #[test]
    fn test_runner_stall_respects_progress_filter() {
        let filter: &ProgressFilter<'_> = &|_, line: &str| !line.contains("Reconnecting");
        let mut spec = sh("while :; do echo Reconnecting; sleep 0.05; done");
        spec.stall_timeout = Duration::from_millis(300);
        spec.progress = Some(filter);
        let raw = run(&spec, &mut |_, _| {}).unwrap();
        assert_eq!(raw.killed, Some(KillReason::Stall));
    }

    #[test]
    fn test_runner_output_is_bounded() {
        let mut spec = sh("i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done");
        spec.max_output = 1000;
        let raw = run(&spec, &mut |_, _| {}).unwrap();
        assert_eq!(raw.stdout.len(), 1000);
        assert!(raw.stdout_truncated);
    }

    fn alive(pid: i32) -> bool {
        // A zombie is dead for our purpose: it holds no descriptor and runs nothing.
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| !r.trim_start().starts_with('Z'))
        })
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "probing the lock from outside")]
    fn test_runner_group_lock_outlives_an_escaped_child_and_the_next_run_ends_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("locks/engine.lock");
        let pid_file = dir.path().join("escaped.pid");
        // The agent leaves its process group (as a daemonizing tool would) and keeps working.
        let mut spec = sh(&format!(
            "setsid sh -c 'echo $$ > {}; exec sleep 60' >/dev/null 2>&1 < /dev/null & \
             while [ ! -s {} ]; do sleep 0.01; done",
            pid_file.display(),
            pid_file.display()
        ));
        spec.group_lock = Some(lock.clone());
        spec.kill_grace = Duration::from_millis(300);
        let raw = run(&spec, &mut |_, _| {}).unwrap();
        assert_eq!(raw.exit_code, Some(0));
        let escaped: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(alive(escaped), "the escaped process should still run");
        // It still holds the lock: the proof that something of the earlier run lives.
        let probe = std::fs::File::open(&lock).unwrap();
        assert!(matches!(
            probe.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(probe);

        // The next run in the same place ends it first, then runs.
        let started = Instant::now();
        let mut next = sh("echo second");
        next.group_lock = Some(lock.clone());
        next.kill_grace = Duration::from_millis(300);
        let raw = run(&next, &mut |_, _| {}).unwrap();
        assert_eq!(raw.stdout_text(), "second\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(escaped) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(escaped), "the earlier run's process survived");
        assert!(started.elapsed() < Duration::from_secs(5));
        // And after a clean run nothing holds the lock.
        let probe = std::fs::File::open(&lock).unwrap();
        probe.try_lock().unwrap();
    }

    #[test]
    fn test_runner_missing_program_is_not_found() {
        let spec = RunSpec::new("/nonexistent/engine", vec![], "/");
        match run(&spec, &mut |_, _| {}) {
            Err(Error::Spawn { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
    }
}
