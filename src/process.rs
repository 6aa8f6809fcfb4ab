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
