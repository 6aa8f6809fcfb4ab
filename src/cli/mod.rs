//! The command line: parsing (clap), dispatch to one service call per command, rendering.
//! Nothing here decides anything; see `crate::services`.

pub mod commands;
pub mod complete;
pub mod error;
pub mod lazy;
pub mod ui;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};

use crate::context::Context;
use error::{CliError, ExitKind};
use lazy::Lazy;
use ui::{ColorChoice, Outcome, Ui};

/// Orchestrates AI coding agents on a git repository, keeping all state in the repository.
///
/// Exit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 negative outcome (problems
/// found, QA FAIL, budget exhausted, blocked), 255 internal error.
#[derive(Parser, Debug)]
#[command(
    name = "godzilla",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Run as if started in DIR.
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Print machine-readable JSON on stdout (a stable contract).
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors and warnings (`--json` output is still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More logging on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Run the commands the repository's config defines ([checks], engine profiles) without
    /// `godzilla allow` (for CI, where the repository is what is being tested).
    #[arg(long, global = true)]
    pub trust_config: bool,
    /// Store every engine run as a recording in DIR (keyed by phase, engine, model and the
    /// sha256 of the exact prompt), for `--replay`.
    #[arg(
        long = "record",
        id = "record_dir",
        global = true,
        value_name = "DIR",
        env = "GODZILLA_RECORD"
    )]
    pub record: Option<PathBuf>,
    /// Answer every engine run from the recordings in DIR instead of running the engine; a
    /// prompt that was not recorded is refused (exit 1).
    #[arg(
        long = "replay",
        id = "replay_dir",
        global = true,
        value_name = "DIR",
        env = "GODZILLA_REPLAY",
        conflicts_with = "record_dir"
    )]
    pub replay: Option<PathBuf>,
    /// When to use colour.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Set this repository up for godzilla.
    Init(Lazy<commands::init::InitArgs>),
    /// Show every protocol and its steps.
    Status(Lazy<commands::status::StatusArgs>),
    /// Check godzilla's state files against their event logs.
    Fsck(Lazy<commands::fsck::FsckArgs>),
    /// Show the event stream, optionally following it live.
    #[command(visible_alias = "log")]
    Events(Lazy<commands::events::EventsArgs>),
    /// Add up tokens and cost per protocol, step, model, engine or phase.
    Cost(Lazy<commands::cost::CostArgs>),
    /// Remove finished protocols' worktrees and local logs that are safe to remove.
    Gc(Lazy<commands::gc::GcArgs>),
    /// Report on a protocol: HTML page (timeline, QA, cost chart) or Markdown summary.
    Report(Lazy<commands::report::ReportArgs>),
    /// Watch protocols, steps, tokens and transcripts live in a terminal view.
    Watch(Lazy<commands::watch::WatchArgs>),
    /// Create and manage protocols.
    #[command(subcommand)]
    Protocol(Lazy<commands::protocol::ProtocolCommand>),
    /// Run and inspect single steps.
    #[command(subcommand)]
    Step(Lazy<commands::step::StepCommand>),
    /// Trust the commands this repository's config defines ([checks], engine profiles).
    Allow(Lazy<commands::allow::AllowArgs>),
    /// Check git, the configuration and every engine, with hints for what is missing.
    Doctor(Lazy<commands::doctor::DoctorArgs>),
    /// Create a protocol from a CodeMachine workspace or a Spec Kit feature.
    #[command(subcommand)]
    Import(Lazy<commands::import::ImportCommand>),
    /// Run QA on a step's last attempt: checks, then an LLM review (policy full).
    Qa(Lazy<commands::qa::QaArgs>),
    /// Questions that stop runs until a person answers them.
    #[command(subcommand)]
    Clarify(Lazy<commands::clarify::ClarifyCommand>),
    /// Discover the repository's stack, commands and CI with an engine (read-only).
    ///
    /// Writes the report to .godzilla/discovery.md; `--apply` also sets the build, test and
    /// lint [checks] in .godzilla/config.toml from it (comments are kept; commands that need
    /// a shell are reported, not applied). Exit 1 when no engine is available.
    Discover(Lazy<commands::discover::DiscoverArgs>),
    /// Show a protocol's spec, or rebuild and validate it from the step files.
    #[command(subcommand)]
    Spec(Lazy<commands::spec::SpecCommand>),
    /// Show which prompt template each role uses.
    #[command(subcommand)]
    Prompts(Lazy<commands::prompts::PromptsCommand>),
    /// Read and write the records godzilla attaches to commits (refs/notes/godzilla).
    #[command(subcommand)]
    Notes(Lazy<commands::notes::NotesCommand>),
    /// Push and fetch protocol branches and refs/notes/godzilla with a remote.
    Sync(Lazy<commands::sync::SyncArgs>),
    /// Open and inspect a protocol's pull/merge request (gh or glab).
    #[command(subcommand)]
    Pr(Lazy<commands::pr::PrCommand>),
    /// Run protocols on CI runners: leases, workflow files, triggering and status.
    #[command(subcommand)]
    Ci(Lazy<commands::ci::CiCommand>),
    /// Run a whole protocol offline with the built-in replay engine (no API keys needed).
    Demo(Lazy<commands::demo::DemoArgs>),
    /// Run jobs from the local queue (see `godzilla queue`).
    Worker(Lazy<commands::queue::WorkerArgs>),
    /// Inspect and manage the local work queue (`--async` commands put jobs there).
    #[command(subcommand)]
    Queue(Lazy<commands::queue::QueueCommand>),
    /// Print a shell completion script.
    Completions(Lazy<commands::completions::CompletionsArgs>),
    /// Print or write the manual pages.
    Man(Lazy<commands::completions::ManArgs>),
}

/// The clap command tree (for completions and man pages).
pub fn command() -> clap::Command {
    lazy::eager(Cli::command)
}

/// Entry point: parse, run, render, exit.
pub fn main() -> ExitCode {
    // First: a signal that arrives before the handlers are in place ends godzilla by default.
    if let Err(e) = crate::process::install_interrupt_handler() {
        tracing::debug!("cannot take over SIGINT/SIGTERM: {e}");
    }
    complete::answer_if_asked();
    let cli = Cli::parse();
    #[allow(
        clippy::disallowed_methods,
        reason = "read once at start-up, before any service"
    )]
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    #[allow(
        clippy::disallowed_methods,
        reason = "read once at start-up, before any service"
    )]
    let log_filter = std::env::var("GODZILLA_LOG").ok();
    let mut ui = Ui::new(
        cli.global.json,
        cli.global.quiet,
        cli.global.color,
        no_color,
    );
    crate::services::platform::telemetry::init_tracing(
        cli.global.verbose,
        cli.global.quiet,
        log_filter.as_deref(),
        console::colors_enabled_stderr(),
    );
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(&cli, &mut ui)))
        .unwrap_or_else(|_| {
            Err(CliError::new(
                ExitKind::Internal,
                anyhow::anyhow!("godzilla panicked; this is a bug"),
            ))
        });
    let code = ui.finish(result);
    // Stopped by a signal, after recording what was interrupted: exit as the signal would.
    match crate::process::interrupted() {
        Some(signal) => ExitCode::from(128u8.saturating_add(signal as u8)),
        None => code,
    }
}

fn dispatch(cli: &Cli, ui: &mut Ui) -> Result<Outcome, CliError> {
    // Commands that need no repository.
    match &cli.command {
        Command::Completions(args) => return commands::completions::run_completions(ui, args),
        Command::Man(args) => return commands::completions::run_man(ui, args),
        Command::Demo(args) => return commands::demo::run(ui, args),
        _ => {}
    }
    let here = std::env::current_dir().map_err(|e| CliError::new(ExitKind::Failed, e))?;
    // `-C` is made absolute first: every path derived from it (the repository, its git dir,
    // worktrees) would otherwise be joined onto it a second time.
    let cwd = match &cli.global.directory {
        Some(dir) => {
            std::path::absolute(here.join(dir)).map_err(|e| CliError::new(ExitKind::Usage, e))?
        }
        None => here,
    };
    if let Command::Doctor(args) = &cli.command {
        // Doctor must also work outside a repository: that is one of the things it reports.
        let ctx = Context::discover(&cwd, Arc::new(ui.reporter()));
        let env = crate::context::EnvSnapshot::capture();
        return commands::doctor::run(ctx.as_ref().ok(), ui, args, &env);
    }
    let mut ctx = Context::discover(&cwd, Arc::new(ui.reporter()))?;
    ctx.env.trust_config |= cli.global.trust_config;
    let absolute = |dir: &PathBuf| std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
    ctx.engine_io.record = cli.global.record.as_ref().map(absolute);
    ctx.engine_io.replay = cli
        .global
        .replay
        .as_ref()
        .map(|dir| crate::engines::replay::TranscriptSource::Dir(absolute(dir)));
    let ctx = ctx;
    match &cli.command {
        Command::Init(args) => commands::init::run(&ctx, ui, args),
        Command::Status(args) => commands::status::run(&ctx, ui, args),
        Command::Fsck(args) => commands::fsck::run(&ctx, ui, args),
        Command::Events(args) => commands::events::run(&ctx, ui, args),
        Command::Cost(args) => commands::cost::run(&ctx, ui, args),
        Command::Gc(args) => commands::gc::run(&ctx, ui, args),
        Command::Report(args) => commands::report::run(&ctx, ui, args),
        Command::Watch(args) => commands::watch::run(&ctx, ui, args),
        Command::Protocol(cmd) => commands::protocol::run(&ctx, ui, cmd),
        Command::Step(cmd) => commands::step::run(&ctx, ui, cmd),
        Command::Allow(args) => commands::allow::run(&ctx, ui, args),
        Command::Qa(args) => commands::qa::run(&ctx, ui, args),
        Command::Discover(args) => commands::discover::run(&ctx, ui, args),
        Command::Spec(cmd) => commands::spec::run(&ctx, ui, cmd),
        Command::Clarify(cmd) => commands::clarify::run(&ctx, ui, cmd),
        Command::Import(cmd) => commands::import::run(&ctx, ui, cmd),
        Command::Prompts(cmd) => commands::prompts::run(&ctx, ui, cmd),
        Command::Notes(cmd) => commands::notes::run(&ctx, ui, cmd),
        Command::Sync(args) => commands::sync::run(&ctx, ui, args),
        Command::Ci(cmd) => commands::ci::run(&ctx, ui, cmd),
        Command::Pr(cmd) => commands::pr::run(&ctx, ui, cmd),
        Command::Worker(args) => commands::queue::run_worker(&ctx, ui, args),
        Command::Queue(cmd) => commands::queue::run(&ctx, ui, cmd),
        Command::Completions(_) | Command::Man(_) | Command::Doctor(_) | Command::Demo(_) => {
            unreachable!("handled above")
        }
    }
}
