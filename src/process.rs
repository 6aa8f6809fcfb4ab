//! The one place godzilla starts child processes (git now; engines and checks build on it).
//!
//! Children get argv (never a shell), stdin closed unless we feed it, captured output, and
//! errors that carry the program, its argv and the tail of its stderr.

use std::path::Path;

/// A child process that could not be run or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program could not be started.
    #[error("cannot run `{program}`")]
    Spawn {
        /// Program name.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The program exited with a failure.
    #[error("`{program} {}` failed with {status}: {stderr_tail}", args.join(" "))]
    Exited {
        /// Program name.
        program: String,
        /// Its arguments.
        args: Vec<String>,
        /// Exit status description.
        status: String,
        /// Last lines of stderr.
        stderr_tail: String,
    },
    /// What had to be done before the command could run, or finish, failed (the flush of an
    /// event a commit stores, before the commit moves its branch).
    #[error("{what}")]
    Before {
        /// What it was.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Output of a finished child.
#[derive(Debug)]
pub struct Output {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Captured stdout.
    pub stdout: Vec<u8>,
    /// Captured stderr.
    pub stderr: Vec<u8>,
}

impl Output {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Stdout as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `program args...` in `dir` with stdin closed (or fed `stdin`), capturing output.
/// `env` adds or overrides variables; `env_remove` drops them.
pub fn run(
    program: &str,
    args: &[&str],
    dir: &Path,
    env: &[(&str, &str)],
    env_remove: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Output, Error> {
    tracing::debug!(program, ?args, dir = %dir.display(), "spawning");
    let mut expr = duct::cmd(program, args)
        .dir(dir)
        .stdout_capture()
        .stderr_capture()
        .unchecked();
    for (k, v) in env {
        expr = expr.env(k, v);
    }
    for k in env_remove {
        expr = expr.env_remove(k);
    }
    expr = match stdin {
        Some(bytes) => expr.stdin_bytes(bytes.to_vec()),
        None => expr.stdin_null(),
    };
    let out = expr.run().map_err(|source| Error::Spawn {
        program: program.to_owned(),
        source,
    })?;
    Ok(Output {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// Turns a failed [`Output`] into [`Error::Exited`].
pub fn check(program: &str, args: &[&str], out: Output) -> Result<Output, Error> {
    if out.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    Err(Error::Exited {
        program: program.to_owned(),
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        status: out
            .code
            .map_or_else(|| "a signal".to_owned(), |c| format!("exit code {c}")),
        stderr_tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

/// The signal that asked godzilla to stop (0 while none has), set by the thread
/// [`install_interrupt_handler`] starts.
static INTERRUPT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Engine or check runs in progress (see [`ActiveRun`]): while one is, the first SIGINT or
/// SIGTERM is left to the runner, which stops the child's group and lets the attempt be
/// recorded; with none, godzilla exits at once as the default action would.
static ACTIVE_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How long godzilla may take, after the first SIGINT/SIGTERM, to stop its children and record
/// what was interrupted before it exits anyway: the runner's kill grace plus room to write.
pub const INTERRUPT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// The signal (SIGINT, SIGTERM or SIGHUP) that asked godzilla to stop, if one has.
pub fn interrupted() -> Option<nix::sys::signal::Signal> {
    match INTERRUPT.load(std::sync::atomic::Ordering::SeqCst) {
        0 => None,
        n => nix::sys::signal::Signal::try_from(n).ok(),
    }
}

/// Marks a supervised child run as in progress for as long as it lives.
#[derive(Debug)]
pub struct ActiveRun(());

impl ActiveRun {
    /// Registers a run.
    pub fn begin() -> Self {
        ACTIVE_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(())
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        ACTIVE_RUNS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Set by a command that handles stop requests itself (`godzilla worker`): signals are then
/// only counted, see [`own_stop_signals`].
static STOPS_OWNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// SIGINT/SIGTERM/SIGHUP received while [`own_stop_signals`] is in force.
static STOP_REQUESTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Hands SIGINT, SIGTERM and SIGHUP to the running command: from now on they never end the
/// process, they are counted for [`stop_requests`] (a worker lets its jobs finish on the
/// first and releases them on the second).
pub fn own_stop_signals() {
    STOPS_OWNED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// How many stop signals arrived since [`own_stop_signals`].
pub fn stop_requests() -> usize {
    STOP_REQUESTS.load(std::sync::atomic::Ordering::SeqCst)
}

/// Turns SIGINT, SIGTERM and SIGHUP into an orderly stop. Call once, first thing in `main`.
///
/// The signals get real handlers (signal-hook's self-pipe, whose `unsafe` lives in that crate;
/// this one forbids it) and one thread takes them from the pipe. They are not blocked: a
/// blocked mask is inherited across `exec`, so every engine and check would start with SIGTERM
/// blocked and the runner's SIGTERM would do nothing until its SIGKILL after the grace; a
/// handler is reset to the default action by `exec`. On the first signal, with no engine or
/// check running, godzilla exits with 128+signal as the default action would; with one
/// running, the runner sees [`interrupted`], stops the child's process group (SIGTERM, grace,
/// SIGKILL) and the services record the attempt as interrupted before the command returns. A
/// second signal, or [`INTERRUPT_DEADLINE`] passing, exits at once.
pub fn install_interrupt_handler() -> Result<(), std::io::Error> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if STOPS_OWNED.load(std::sync::atomic::Ordering::SeqCst) {
                    STOP_REQUESTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    continue;
                }
                let first = INTERRUPT
                    .compare_exchange(
                        0,
                        signal,
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                    )
                    .is_ok();
                let code = 128 + signal;
                if !first || ACTIVE_RUNS.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    std::process::exit(code);
                }
                tracing::debug!(signal, "interrupted: stopping the running child");
                std::thread::spawn(move || {
                    std::thread::sleep(INTERRUPT_DEADLINE);
                    std::process::exit(code);
                });
            }
        })
        .map(drop)
}
