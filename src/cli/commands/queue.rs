//! `godzilla worker`, `godzilla queue ...`, and the job process `godzilla queue exec`.

use std::io::{Read as _, Seek as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::execution;
use crate::services::platform::queue::{
    self, CompletionStatus, EngineChoice, HostIdentity, Job, JobId, JobKind, JobState, JobView,
    Queue,
};
use crate::services::worker::{self, StopLevel, WorkerEvent, WorkerOptions};

/// Run jobs from the local queue (`--async` commands and `queue add` put them there).
///
/// Each job runs in its own process group; jobs of one protocol take turns on its run lock,
/// jobs of different protocols run in parallel, each in its protocol's worktree. Prints one
/// status line per job (with `--json`, one JSON object per event on stdout). Ctrl-C or
/// SIGTERM: running jobs finish and no new one starts; a second one stops them and puts them
/// back for another worker.
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// Jobs to run at once.
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Exit once nothing is queued and nothing runs.
    #[arg(long)]
    pub once: bool,
    /// Exit after SECONDS without work.
    #[arg(long, value_name = "SECONDS")]
    pub idle_exit: Option<u64>,
}

/// Queue commands.
#[derive(clap::Subcommand, Debug)]
pub enum QueueCommand {
    /// List queued, running and finished jobs.
    Ls,
    /// Show one job: what it does, its state, attempts, and the tail of its log.
    Show(crate::cli::lazy::Lazy<JobArgs>),
    /// Queue a failed or cancelled job again (from attempt 1).
    Retry(crate::cli::lazy::Lazy<JobArgs>),
    /// Cancel a job: a queued one at once, a running one by its worker.
    Cancel(crate::cli::lazy::Lazy<JobArgs>),
    /// Remove finished jobs' records and logs (failed and cancelled ones only with --all).
    Purge(crate::cli::lazy::Lazy<PurgeArgs>),
    /// Wait until jobs finish; exit with the first non-zero exit code among them.
    Wait(crate::cli::lazy::Lazy<WaitArgs>),
    /// Queue a program (argv, no shell) to run in this worktree, or no-op jobs.
    Add(crate::cli::lazy::Lazy<AddArgs>),
    /// Run one claimed job (started by `godzilla worker`; not for people).
    #[command(hide = true)]
    Exec(crate::cli::lazy::Lazy<ExecArgs>),
}

/// A job id argument.
#[derive(clap::Args, Debug)]
pub struct JobArgs {
    /// The job id (from `godzilla queue ls`).
    pub job: String,
}

/// Arguments of `queue purge`.
#[derive(clap::Args, Debug)]
pub struct PurgeArgs {
    /// Also remove failed and cancelled jobs and corrupt job files.
    #[arg(long)]
    pub all: bool,
}

/// Arguments of `queue wait`.
#[derive(clap::Args, Debug)]
pub struct WaitArgs {
    /// The job ids.
    #[arg(required = true)]
    pub jobs: Vec<String>,
    /// Give up after SECONDS (exit 1).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

/// Arguments of `queue add`.
#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// Attempts before the job is recorded as failed.
    #[arg(long, value_name = "N", default_value_t = queue::DEFAULT_MAX_ATTEMPTS)]
    pub max_attempts: u32,
    /// Queue this many copies.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub count: u32,
    /// Queue jobs that do nothing (to measure the queue).
    #[arg(long, conflicts_with = "argv")]
    pub noop: bool,
    /// The program and its arguments.
    #[arg(last = true, value_name = "PROGRAM")]
    pub argv: Vec<String>,
}

/// Arguments of `queue exec`.
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// The worker's pid: the job stops when that process is gone.
    #[arg(long)]
    pub parent: i32,
    /// The claimed job file (its lock is this process's stdin).
    pub path: PathBuf,
}

fn job_id(text: &str) -> Result<JobId, CliError> {
    Ok(JobId::parse(text)?)
}

fn here() -> HostIdentity {
    HostIdentity::current()
}

/// Renders a queued job: its id on stdout (for scripts), what it is on stderr.
pub fn render_queued(ui: &mut Ui, job: &Job) -> Outcome {
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "job": job.id,
            "what": job.kind.describe(),
            "protocol": job.kind.protocol(),
        }));
    } else {
        ui.status(
            "Queued",
            &format!("{} as job {}", job.kind.describe(), job.id),
        );
        ui.line(job.id.as_str());
    }
    Outcome::Success
}

/// Runs `godzilla worker`.
pub fn run_worker(ctx: &Context, ui: &mut Ui, args: &WorkerArgs) -> Result<Outcome, CliError> {
    let program = std::env::current_exe().map_err(|e| CliError::new(ExitKind::Failed, e))?;
    let stop = Arc::new(StopLevel::default());
    watch_stop_signals(Arc::clone(&stop), ui.reporter());
    let json = ui.is_json();
    let reporter = ui.reporter();
    let out = std::sync::Mutex::new(());
    let on_event = |event: WorkerEvent<'_>| {
        let _serial = out.lock();
        if json {
            if let Ok(line) = serde_json::to_string(&event) {
                let _ignored = writeln!(std::io::stdout().lock(), "{line}");
            }
            return;
        }
        use crate::report::Reporter as _;
        match event {
            WorkerEvent::Started { .. } => {}
            WorkerEvent::Finished {
                completion, secs, ..
            } => {
                let what = format!("{} {}", completion.job.id, completion.job.kind.describe());
                let reason = completion
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                match completion.status {
                    CompletionStatus::Succeeded => {
                        reporter.status("Finished", &format!("{what} in {secs:.1}s{reason}"));
                    }
                    CompletionStatus::Negative => reporter
                        .status("Finished", &format!("{what} in {secs:.1}s, exit 3{reason}")),
                    CompletionStatus::Failed => reporter.warn(&format!(
                        "job {what} failed (exit {}){reason}",
                        completion.exit_code
                    )),
                    CompletionStatus::Cancelled => reporter.status("Cancelled", &what),
                }
            }
            WorkerEvent::Retrying {
                job,
                attempt,
                delay_secs,
                reason,
            } => reporter.status(
                "Retrying",
                &format!(
                    "{} {} (attempt {attempt} in {delay_secs}s): {reason}",
                    job.id,
                    job.kind.describe()
                ),
            ),
            WorkerEvent::Deferred { job } => reporter.status(
                "Deferred",
                &format!("{} {}: its protocol is busy", job.id, job.kind.describe()),
            ),
            WorkerEvent::Released { job } => {
                reporter.status("Released", &format!("{} {}", job.id, job.kind.describe()));
            }
            WorkerEvent::Reaped { reaped } => reporter.status(
                "Reclaimed",
                &format!("{} ({}): {}", reaped.job, reaped.action, reaped.reason),
            ),
            WorkerEvent::Corrupt { moved_to, reason } => reporter.warn(&format!(
                "job file moved aside to {}: {reason}",
                moved_to.display()
            )),
        }
    };
    let summary = worker::run(
        ctx,
        &WorkerOptions {
            slots: args.jobs.max(1),
            once: args.once,
            idle_exit: args.idle_exit.map(Duration::from_secs),
            program,
        },
        &stop,
        &on_event,
    )?;
    if !json {
        ui.status(
            "Stopped",
            &format!(
                "{} succeeded, {} negative, {} failed, {} cancelled, {} retried, {} released",
                summary.succeeded,
                summary.negative,
                summary.failed,
                summary.cancelled,
                summary.retried,
                summary.released
            ),
        );
    }
    Ok(Outcome::Success)
}

/// SIGINT and SIGTERM raise the worker's stop level instead of ending it (the signals are
/// taken by the process-wide handler, which counts them once the worker owns them).
fn watch_stop_signals(stop: Arc<StopLevel>, reporter: crate::cli::ui::StderrReporter) {
    crate::process::own_stop_signals();
    std::thread::spawn(move || {
        use crate::report::Reporter as _;
        let mut seen = 0;
        loop {
            std::thread::sleep(Duration::from_millis(20));
            while seen < crate::process::stop_requests() {
                seen += 1;
                match stop.escalate() {
                    1 => reporter.status(
                        "Stopping",
                        "running jobs finish, no new job starts (again to release them)",
                    ),
                    _ => reporter.status("Releasing", "running jobs stop and go back to the queue"),
                }
            }
        }
    });
}

/// Runs a queue command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &QueueCommand) -> Result<Outcome, CliError> {
    let queue = Queue::new(&ctx.paths.local_dir());
    match cmd {
        QueueCommand::Ls => {
            let jobs = queue.list(&here())?;
            let corrupt = queue.corrupt()?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"jobs": jobs, "corrupt": corrupt}));
                return Ok(Outcome::Success);
            }
            if jobs.is_empty() {
                ui.line("The queue is empty.");
            }
            for v in &jobs {
                ui.line(render_view(v));
            }
            for path in &corrupt {
                ui.warn(&format!("corrupt job file set aside: {}", path.display()));
            }
            Ok(Outcome::Success)
        }
        QueueCommand::Show(args) => {
            let id = job_id(&args.job)?;
            let view = queue.view(&id, &here())?;
            let job = queue.load(&id)?;
            let log = std::fs::read_to_string(queue.log_path(&id)).unwrap_or_default();
            if ui.is_json() {
                ui.json(&serde_json::json!({"job": job, "state": view, "log": log}));
                return Ok(Outcome::Success);
            }
            ui.line(render_view(&view));
            ui.line(format!("  workdir: {}", job.workdir.display()));
            ui.line(format!("  attempts: {} allowed", job.max_attempts));
            ui.line(format!("  log: {}", queue.log_path(&id).display()));
            let lines: Vec<&str> = log.lines().collect();
            for line in &lines[lines.len().saturating_sub(20)..] {
                ui.line(format!("  | {line}"));
            }
            Ok(Outcome::Success)
        }
        QueueCommand::Retry(args) => {
            let id = job_id(&args.job)?;
            let job = queue.retry(&id)?;
            Ok(render_queued(ui, &job))
        }
        QueueCommand::Cancel(args) => {
            let id = job_id(&args.job)?;
            let state = queue.cancel(&id, &here())?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"job": id, "state": state}));
            } else {
                ui.line(format!("{id} {state}"));
            }
            Ok(Outcome::Success)
        }
        QueueCommand::Purge(args) => {
            let removed = queue.purge(args.all)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"removed": removed}));
            } else {
                ui.line(format!("Removed {removed} finished jobs"));
            }
            Ok(Outcome::Success)
        }
        QueueCommand::Wait(args) => wait(&queue, ui, args),
        QueueCommand::Add(args) => {
            let kind = if args.noop {
                JobKind::Noop
            } else if args.argv.is_empty() {
                return Err(
                    CliError::new(ExitKind::Usage, anyhow::anyhow!("nothing to queue"))
                        .with_hint("`godzilla queue add -- PROGRAM ARGS...`, or --noop"),
                );
            } else {
                JobKind::Command {
                    argv: args.argv.clone(),
                }
            };
            let mut ids = Vec::new();
            for _ in 0..args.count.max(1) {
                ids.push(worker::enqueue(ctx, kind.clone(), Some(args.max_attempts))?.id);
            }
            if ui.is_json() {
                ui.json(&serde_json::json!({"jobs": ids}));
            } else {
                for id in &ids {
                    ui.line(id.as_str());
                }
            }
            Ok(Outcome::Success)
        }
        QueueCommand::Exec(args) => exec(ctx, ui, args),
    }
}

fn render_view(v: &JobView) -> String {
    let who = v
        .worker
        .as_deref()
        .map(|w| format!(" by {w}"))
        .unwrap_or_default();
    let age = humantime::format_duration(Duration::from_secs(v.age_secs));
    let when = match v.state {
        JobState::Running | JobState::Stale => format!("{who} for {age}"),
        JobState::Queued | JobState::Delayed => format!(" for {age}"),
        _ => format!("{who}, {age} ago"),
    };
    let exit = v
        .exit_code
        .map(|c| format!(" exit {c}"))
        .unwrap_or_default();
    let reason = v
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!(
        "{} {:<9} {} (attempt {}{when}){exit}{reason}",
        v.id, v.state, v.what, v.attempt
    )
}

fn wait(queue: &Queue, ui: &mut Ui, args: &WaitArgs) -> Result<Outcome, CliError> {
    let ids = args
        .jobs
        .iter()
        .map(|j| job_id(j))
        .collect::<Result<Vec<_>, _>>()?;
    for id in &ids {
        // Fails early on an id that is nowhere in the queue.
        queue.load(id)?;
    }
    let deadline = args
        .timeout
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut results = Vec::new();
    for id in &ids {
        let completion = loop {
            if let Some(c) = queue.completion(id)? {
                break c;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(CliError::new(
                    ExitKind::Failed,
                    anyhow::anyhow!("job {id} has not finished within the timeout"),
                )
                .with_hint("is a `godzilla worker` running?"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        results.push(completion);
    }
    if ui.is_json() {
        ui.json(&results);
    } else {
        for c in &results {
            let reason = c
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            ui.line(format!(
                "{} {} exit {}{reason}",
                c.job.id,
                c.status.as_str(),
                c.exit_code
            ));
        }
    }
    let code = results
        .iter()
        .map(|c| c.exit_code)
        .find(|c| *c != 0)
        .unwrap_or(0);
    match code {
        0 => Ok(Outcome::Success),
        1 => Ok(Outcome::Failed),
        3 => Ok(Outcome::Negative),
        other => {
            let _ignored = std::io::stdout().flush();
            std::process::exit(other)
        }
    }
}

/// The command line a job stands for: the job process runs exactly what the synchronous
/// command runs.
fn job_argv(job: &Job) -> Option<Vec<String>> {
    let mut argv: Vec<String> = vec!["godzilla".into()];
    let engine = |argv: &mut Vec<String>, e: &EngineChoice| {
        for (flag, value) in [
            ("--engine", e.engine.clone()),
            ("--model", e.model.clone()),
            ("--timeout", e.timeout_secs.map(|t| t.to_string())),
        ] {
            if let Some(v) = value {
                argv.push(flag.into());
                argv.push(v);
            }
        }
    };
    match &job.kind {
        JobKind::PlanProtocol {
            protocol,
            engine: e,
        } => {
            argv.extend(["protocol".into(), "plan".into(), protocol.to_string()]);
            engine(&mut argv, e);
        }
        JobKind::RunProtocol {
            protocol,
            until,
            yes,
            engine: e,
            engines,
            models,
        } => {
            argv.extend(["protocol".into(), "run".into(), protocol.to_string()]);
            if let Some(step) = until {
                argv.extend(["--until".into(), step.to_string()]);
            }
            if *yes {
                argv.push("--yes".into());
            }
            engine(&mut argv, e);
            for (flag, values) in [("--engine", engines), ("--model", models)] {
                for v in values {
                    argv.extend([flag.to_owned(), v.clone()]);
                }
            }
        }
        JobKind::ExecuteStep {
            protocol,
            step,
            engine: e,
            ..
        } => {
            argv.extend([
                "step".into(),
                "run".into(),
                protocol.to_string(),
                step.to_string(),
            ]);
            engine(&mut argv, e);
        }
        JobKind::EvaluateStep {
            protocol,
            step,
            engine: e,
        } => {
            argv.extend(["qa".into(), protocol.to_string(), step.to_string()]);
            engine(&mut argv, e);
        }
        JobKind::OnboardProject { apply, engine: e } => {
            argv.push("discover".into());
            if *apply {
                argv.push("--apply".into());
            }
            engine(&mut argv, e);
        }
        JobKind::Command { .. } | JobKind::Noop => return None,
    }
    Some(argv)
}

/// `godzilla queue exec`: the job process. Dies with its worker, keeps the job locked for
/// its engines, checks state, then runs the job's command in this process.
fn exec(ctx: &Context, ui: &mut Ui, args: &ExecArgs) -> Result<Outcome, CliError> {
    guard_job_process(args.parent);
    // A plain dup is not close-on-exec: every engine this process starts inherits the
    // job's lock, so the lock outlives us only as long as one of them runs.
    let mut lock = nix::unistd::dup(std::io::stdin())
        .map(std::fs::File::from)
        .map_err(|e| CliError::new(ExitKind::Failed, e))?;
    let mut bytes = Vec::new();
    lock.rewind()
        .and_then(|()| lock.read_to_end(&mut bytes))
        .map_err(|e| {
            CliError::new(
                ExitKind::Failed,
                anyhow::Error::new(e).context("cannot read the job from stdin"),
            )
        })?;
    let job: Job = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::new(
            ExitKind::Usage,
            anyhow::Error::new(e).context(format!("{} is not a job", args.path.display())),
        )
    })?;
    if let Some(why) = worker::precheck(ctx, &job.kind)? {
        ui.line(format!("nothing to do: {why}"));
        return Ok(Outcome::Success);
    }
    if let Some(protocol) = job.kind.protocol() {
        let store = crate::services::orchestrator::locate(ctx, protocol)?;
        let Ok(_probe) = execution::try_lock_protocol_run(&store, protocol) else {
            ui.line(format!("{protocol} is busy; the job waits for its turn"));
            let _ignored = std::io::stdout().flush();
            std::process::exit(worker::EXIT_BUSY);
        };
        // Taking the lock can wait for a run that just ended: judge the state it left.
        if let Some(why) = worker::precheck(ctx, &job.kind)? {
            ui.line(format!("nothing to do: {why}"));
            return Ok(Outcome::Success);
        }
    }
    if let JobKind::Command { argv } = &job.kind {
        let code = run_command(argv, &job.workdir)?;
        let _ignored = std::io::stdout().flush();
        std::process::exit(code);
    }
    let Some(argv) = job_argv(&job) else {
        return Ok(Outcome::Success);
    };
    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(
        argv.iter()
            .cloned()
            .chain(["-C".into(), job.workdir.display().to_string()])
            .chain(ctx.env.trust_config.then(|| "--trust-config".to_owned())),
    )
    .map_err(|e| CliError::new(ExitKind::Internal, e))?;
    let result = crate::cli::dispatch(&cli, ui);
    if let Err(err) = &result
        && err.error.chain().any(|c| {
            matches!(
                c.downcast_ref::<execution::Error>(),
                Some(execution::Error::Busy(_))
            )
        })
    {
        crate::cli::ui::print_error(err);
        let _ignored = std::io::stdout().flush();
        std::process::exit(worker::EXIT_BUSY);
    }
    result
}

#[allow(
    clippy::disallowed_methods,
    reason = "a `command` job's program is the job itself, like an engine: argv, own group"
)]
fn run_command(argv: &[String], dir: &std::path::Path) -> Result<i32, CliError> {
    use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
    let (program, rest) = argv
        .split_first()
        .ok_or_else(|| CliError::new(ExitKind::Usage, anyhow::anyhow!("empty command")))?;
    // Counts as a supervised run: a stop signal is left to this loop, which ends the
    // program's group before godzilla exits.
    let _active = crate::process::ActiveRun::begin();
    let mut child = std::process::Command::new(program)
        .args(rest)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| {
            CliError::new(
                ExitKind::Failed,
                anyhow::Error::new(e).context(format!("cannot run `{program}`")),
            )
        })?;
    let group = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let status = loop {
        if crate::process::interrupted().is_some()
            || WORKER_GONE.load(std::sync::atomic::Ordering::SeqCst)
        {
            let _ignored = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(CliError::new(ExitKind::Failed, e)),
        }
    };
    // Whatever the program left in its group goes with it.
    let _ignored = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// Set once this job process's worker is gone.
static WORKER_GONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes this job process die with its worker. A thread watches the parent; when the worker
/// is gone, it sends this process one SIGTERM, which the process-wide handler
/// (`crate::process`) takes: an engine or check running then is stopped with its process
/// group and recorded as interrupted (its watchdog also covers a SIGKILL of this process),
/// and the process exits. (Not `PR_SET_PDEATHSIG`: it fires once per exiting thread of the
/// multi-threaded worker, and a second signal makes the handler exit before the engine's
/// group is stopped.)
fn guard_job_process(parent: i32) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::{getpid, getppid};
    if getppid().as_raw() != parent {
        // The worker died before this process started watching it.
        std::process::exit(128 + Signal::SIGTERM as i32);
    }
    std::thread::spawn(move || {
        while getppid().as_raw() == parent {
            std::thread::sleep(Duration::from_millis(20));
        }
        WORKER_GONE.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ignored = kill(getpid(), Signal::SIGTERM);
    });
}
