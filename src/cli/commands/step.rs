//! `godzilla step run|show`.

use std::time::{Duration, Instant};

use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::engines::Classification;
use crate::services::execution::{self, Progress, StepRunOptions};

/// Step commands.
#[derive(clap::Subcommand, Debug)]
pub enum StepCommand {
    /// Run one attempt of a step through an engine, headless, in the protocol's worktree.
    ///
    /// Records the attempt (run record, output, events, a commit with trailers and a note)
    /// and leaves the step `needs_qa`, or `failed` with the engine's classification. Exit 0
    /// when the engine succeeded, 1 when it failed, 3 when the budget refused the run or the
    /// protocol is paused.
    Run(crate::cli::lazy::Lazy<RunArgs>),
    /// Show a step: status, attempts, usage, cost, commits and its last output.
    Show(crate::cli::lazy::Lazy<ShowArgs>),
    /// Show a step's live transcripts: what the agent said, the tools it called, the commands
    /// it ran with their exit codes, and tokens so far, run by run.
    ///
    /// With `--follow`, keep printing as the engine works (from any process) until
    /// interrupted. `--json` prints the entries as stored, one per line.
    Log(crate::cli::lazy::Lazy<LogArgs>),
}

/// Arguments of `step log`.
#[derive(clap::Args, Debug)]
pub struct LogArgs {
    /// The protocol (`NNNN-slug`).
    pub protocol: String,
    /// The step (`NN-slug`).
    pub step: String,
    /// Keep printing new entries as they are written.
    #[arg(short, long)]
    pub follow: bool,
}

/// Arguments of `step run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// The step (`NN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::steps))]
    pub step: String,
    /// Engine to use (overrides the step spec and config).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Model to use.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Wall-clock limit in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Show what would run (engine, model, prompt fingerprint, limits) and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the rendered prompt on stdout and run nothing.
    #[arg(long)]
    pub print_prompt: bool,
    /// Queue the run for `godzilla worker` instead; prints the job id.
    #[arg(long = "async", conflicts_with_all = ["dry_run", "print_prompt"])]
    pub run_async: bool,
}

/// Arguments of `step show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// The step (`NN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::steps))]
    pub step: String,
}

/// Runs a step command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &StepCommand) -> Result<Outcome, CliError> {
    match cmd {
        StepCommand::Run(args) => run_step(ctx, ui, args),
        StepCommand::Show(args) => show(ctx, ui, args),
        StepCommand::Log(args) => log(ctx, ui, args),
    }
}

fn run_step(ctx: &Context, ui: &mut Ui, args: &RunArgs) -> Result<Outcome, CliError> {
    if args.run_async {
        let (protocol, step) = super::step_args(ctx, &args.protocol, &args.step)?;
        let job = crate::services::worker::enqueue_execute_step(
            ctx,
            &protocol,
            &step,
            crate::services::platform::queue::EngineChoice {
                engine: args.engine.clone(),
                model: args.model.clone(),
                timeout_secs: args.timeout,
            },
        )?;
        return Ok(super::queue::render_queued(ui, &job));
    }
    let opts = StepRunOptions {
        engine: args.engine.clone(),
        model: args.model.clone(),
        timeout: args.timeout.map(Duration::from_secs),
        feedback: None,
        carry_note: None,
    };
    let protocol = super::protocol_arg(ctx, &args.protocol)?;
    super::check_step_chars(&args.step)?;
    // The step is resolved in the state the attempt plans with, read once (#13).
    let loaded = execution::load(ctx, &protocol)?;
    let step = super::step_arg_in(&loaded.state, &args.step)?;
    if args.dry_run || args.print_prompt {
        let (plan, _) = execution::build_execution_plan(
            &loaded.store,
            &loaded.config,
            &loaded.engines,
            &loaded.state,
            &step,
            &opts,
        )?;
        render_plan(ui, &plan, args.print_prompt);
        return Ok(Outcome::Success);
    }
    let lock = execution::try_lock_protocol_run(&loaded.store, &protocol)?;
    let spinner = ui.spinner();
    let started = Instant::now();
    let mut on_progress = |p: &Progress| {
        if let Some(bar) = &spinner {
            let tokens = if p.tokens > 0 {
                format!(" · {} tokens", p.tokens)
            } else {
                String::new()
            };
            bar.set_message(format!(
                "{step} · {:.0?}{tokens} · {}",
                started.elapsed(),
                p.latest
                    .clone()
                    .unwrap_or_else(|| format!("{} lines", p.lines))
            ));
        }
    };
    let result = execution::execute_step(ctx, &loaded, &lock, &step, &opts, &mut on_progress);
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let result = result?;
    let ok = result.outcome.classification == Classification::Ok;
    render_result(ui, &result);
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// `step run --dry-run` (what would run) or `--print-prompt`.
fn render_plan(ui: &mut Ui, plan: &execution::ExecutionPlan, print_prompt: bool) {
    if print_prompt {
        ui.raw(plan.prompt.as_bytes());
    } else if ui.is_json() {
        ui.json(&plan);
    } else {
        ui.line(format!(
            "step:     {} {} (attempt {})",
            plan.protocol, plan.step, plan.attempt
        ));
        ui.line(format!(
            "engine:   {} (from {:?})",
            plan.engine, plan.engine_source
        ));
        ui.line(format!(
            "model:    {}",
            plan.model.as_deref().unwrap_or("the engine's default")
        ));
        ui.line(format!(
            "prompt:   {} template {}, rendered {}, ~{} tokens",
            plan.prompt_role.as_str(),
            plan.prompt_version,
            plan.prompt_sha,
            plan.estimated_tokens
        ));
        ui.line(format!(
            "limits:   {}s wall clock, {}s without output",
            plan.timeout_secs, plan.stall_timeout_secs
        ));
        ui.line(format!("workdir:  {}", plan.workdir.display()));
    }
}

fn render_result(ui: &mut Ui, result: &execution::ExecutionResult) {
    if ui.is_json() {
        ui.json(result);
    } else {
        let u = &result.outcome.usage;
        ui.line(format!(
            "{} {}: {} after {:.1}s → {}",
            result.plan.protocol,
            result.plan.step,
            result.outcome.classification.as_str(),
            result.outcome.duration_ms as f64 / 1000.0,
            result.step_status
        ));
        ui.line(format!(
            "  run:    {} (attempt {})",
            result.run_id, result.plan.attempt
        ));
        ui.line(format!(
            "  tokens: {} in ({} cached), {} out, {} reasoning{}",
            u.input,
            u.cached,
            u.output,
            u.reasoning,
            result
                .outcome
                .cost_usd
                .map(|c| format!(", ${c:.4}"))
                .unwrap_or_default()
        ));
        ui.line(format!("  commit: {}", result.commit));
        if let Some(out) = &result.output {
            ui.line(format!("  output: {out}"));
        }
        if let Some(err) = &result.outcome.error {
            ui.line(format!("  error:  {err}"));
        }
    }
}

fn show(ctx: &Context, ui: &mut Ui, args: &ShowArgs) -> Result<Outcome, CliError> {
    let (protocol, step) = super::step_args(ctx, &args.protocol, &args.step)?;
    let report = execution::show_step(ctx, &protocol, &step)?;
    if ui.is_json() {
        ui.json(&report);
        return Ok(Outcome::Success);
    }
    ui.line(format!(
        "{} {}: {} ({} attempts)",
        report.protocol, report.step, report.status, report.attempts
    ));
    for r in &report.runs {
        let tokens = |k: &str| r.usage[k].as_u64().unwrap_or(0);
        ui.line(format!(
            "  attempt {} {} {}{}: {} · {} in / {} out{} · {:.1}s · {}",
            r.attempt,
            r.run_id,
            r.engine,
            r.model
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
            r.classification,
            tokens("input"),
            tokens("output"),
            r.cost_usd
                .map(|c| format!(" · ${c:.4}"))
                .unwrap_or_default(),
            r.duration_ms as f64 / 1000.0,
            r.commit
                .as_deref()
                .map_or("no commit", |c| &c[..12.min(c.len())]),
        ));
        if let Some(e) = &r.error {
            ui.line(format!("    error: {e}"));
        }
    }
    // Read where the rest was read: the worktree, or the branch once the worktree is gone.
    let source = crate::services::inspect::open(ctx, &protocol)?;
    let history = crate::services::quality::history(&source.store, &protocol, &step)?;
    if !history.verdicts.is_empty() {
        ui.line("QA:");
        for line in super::qa::history_lines(&history, false) {
            ui.line(line);
        }
    }
    if let Some(out) = &report.output {
        ui.line("output:");
        for line in out.lines() {
            ui.line(format!("  {line}"));
        }
    }
    Ok(Outcome::Success)
}

fn log(ctx: &Context, ui: &mut Ui, args: &LogArgs) -> Result<Outcome, CliError> {
    use crate::services::platform::telemetry::transcript::EntryKind;
    let (protocol, step) = super::step_args(ctx, &args.protocol, &args.step)?;
    let mut reader = crate::services::feed::StepLog::open(ctx, &protocol, &step)?;
    let json = ui.is_json();
    loop {
        let lines: Vec<String> = reader
            .poll()?
            .iter()
            .map(|e| {
                if json {
                    return serde_json::to_string(e).unwrap_or_default();
                }
                // `2001-02-03T04:05:06Z` → `04:05:06`: the day is in `events`.
                let time = e.ts.get(11..19).unwrap_or(&e.ts);
                match e.kind {
                    Some(EntryKind::RunStarted) => {
                        format!("{time}  ── run {} {}", e.run, e.summary())
                    }
                    _ => format!("{time}  {}", e.summary()),
                }
            })
            .collect();
        if !super::events::emit(&lines) || !args.follow {
            return Ok(Outcome::Success);
        }
        std::thread::sleep(super::events::FOLLOW_INTERVAL);
    }
}
