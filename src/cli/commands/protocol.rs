//! `godzilla protocol ...`.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::error::CliError;
use crate::cli::error::ExitKind;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::domain::StepId;
use crate::services::orchestrator::{
    self, Control, CreateOptions, PerPhase, ProtocolRun, RunOptions, StepSource, Stop,
};
use crate::services::planning::PlanOptions;

/// Protocol commands.
#[derive(clap::Subcommand, Debug)]
pub enum ProtocolCommand {
    /// Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header
    /// and an event log, its steps (planned by an engine, or from files), all committed on
    /// the new branch. Exit 3 when planning fails (the protocol is then `blocked`).
    New(crate::cli::lazy::Lazy<NewArgs>),
    /// Plan a pending protocol, or plan again one whose planning failed.
    Plan(crate::cli::lazy::Lazy<PlanArgs>),
    /// Refine complex pending steps in place with the decompose engine (read-only).
    ///
    /// Simple steps (short, few lines, few list items) are left alone. An answer replaces the
    /// step file only if it is non-empty, bounded and keeps every heading of the step; each
    /// rewrite is committed, so the previous version stays in git history. Exit 0 when every
    /// answer was accepted, 3 when one was rejected (that step is unchanged), 1 when the
    /// engine failed.
    Decompose(crate::cli::lazy::Lazy<super::spec::DecomposeArgs>),
    /// List protocols (the same as `godzilla status`).
    List,
    /// Show a protocol: header, steps with their specs, plan, recent events.
    Show(crate::cli::lazy::Lazy<ShowArgs>),
    /// Run a protocol: plan if needed, then execute → QA → policies step by step until it is
    /// completed (exit 0) or a clear stop: blocked, paused, budget, clarification, approval
    /// (exit 3, with the reason). Interrupted, the same command resumes from the events.
    Run(crate::cli::lazy::Lazy<RunArgs>),
    /// Ask for a new attempt of a failed or blocked step (the last one when none is named).
    Retry(crate::cli::lazy::Lazy<RetryArgs>),
    /// Approve a step by hand (one marked as needing a person, or one QA failed or blocked).
    Approve(crate::cli::lazy::Lazy<ApproveArgs>),
    /// Pause a protocol: no engine run starts until it is resumed.
    Pause(crate::cli::lazy::Lazy<ControlArgs>),
    /// Resume a paused protocol.
    Resume(crate::cli::lazy::Lazy<ControlArgs>),
    /// Cancel a protocol and its open steps.
    Cancel(crate::cli::lazy::Lazy<ControlArgs>),
}

/// Engine options for planning.
#[derive(clap::Args, Debug, Clone)]
pub struct PlanEngineArgs {
    /// Engine to plan with (overrides [phases.planning]).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Model to plan with.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Wall-clock limit of the planning run, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

impl PlanEngineArgs {
    fn choice(&self) -> crate::services::platform::queue::EngineChoice {
        crate::services::platform::queue::EngineChoice {
            engine: self.engine.clone(),
            model: self.model.clone(),
            timeout_secs: self.timeout,
        }
    }

    fn options(&self) -> PlanOptions {
        PlanOptions {
            engine: self.engine.clone(),
            model: self.model.clone(),
            timeout: self.timeout.map(Duration::from_secs),
        }
    }
}

/// Arguments of `protocol new`.
#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// Short name; the slug of the protocol id is made from it.
    pub short_name: String,
    /// What the protocol should achieve.
    #[arg(short, long)]
    pub description: String,
    /// Branch to start from (default: project.base_branch).
    #[arg(long, value_name = "BRANCH")]
    pub base: Option<String>,
    /// Take the steps from the `NN-slug.md` files in DIR instead of planning.
    #[arg(long, value_name = "DIR", conflicts_with = "no_plan")]
    pub steps_from: Option<PathBuf>,
    /// Create the protocol without planning it (`godzilla protocol plan` later).
    #[arg(long)]
    pub no_plan: bool,
    /// Planning engine options.
    #[command(flatten)]
    pub plan: PlanEngineArgs,
    /// Create the protocol now and queue its planning for `godzilla worker`; prints the job id.
    #[arg(long = "async", conflicts_with_all = ["steps_from", "no_plan"])]
    pub run_async: bool,
}

/// Arguments of `protocol plan`.
#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// Planning engine options.
    #[command(flatten)]
    pub plan: PlanEngineArgs,
}

/// Arguments of `protocol run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// Stop once this step is completed.
    #[arg(long, value_name = "STEP", add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::steps))]
    pub until: Option<String>,
    /// Approve steps that need a person (this flag is that person's consent).
    #[arg(long)]
    pub yes: bool,
    /// Engine for one phase, `PHASE=ENGINE` (PHASE: planning, exec or qa), or for every phase
    /// with a bare `ENGINE` (QA included: the reviewer is then that engine too). Repeatable;
    /// `PHASE=` wins over a bare name. Default: [phases.*] of the config.
    #[arg(long, value_name = "[PHASE=]ENGINE")]
    pub engine: Vec<String>,
    /// Model for one phase, `PHASE=MODEL`, or for every phase with a bare `MODEL`.
    #[arg(long, value_name = "[PHASE=]MODEL")]
    pub model: Vec<String>,
    /// Wall-clock limit of each engine run, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Queue the run for `godzilla worker` instead; prints the job id.
    #[arg(long = "async")]
    pub run_async: bool,
}

/// Arguments of `protocol retry`.
#[derive(clap::Args, Debug)]
pub struct RetryArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// The step (default: the last failed or blocked one).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::steps))]
    pub step: Option<String>,
    /// Why, recorded in the event.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// Arguments of `protocol approve`.
#[derive(clap::Args, Debug)]
pub struct ApproveArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// The step.
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::steps))]
    pub step: String,
    /// Why, recorded in the event.
    #[arg(long, default_value = "approved by hand")]
    pub reason: String,
}

/// Arguments of `protocol show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
}

/// Arguments of pause / resume / cancel.
#[derive(clap::Args, Debug)]
pub struct ControlArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// Why, recorded in the event.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// Prints a created protocol and returns the outcome its status means.
pub fn render_created(ui: &mut Ui, run: &ProtocolRun) -> Outcome {
    if ui.is_json() {
        ui.json(run);
    } else {
        ui.line(format!(
            "Created protocol {} ({}, {} steps)",
            run.id,
            run.status,
            run.steps.len()
        ));
        ui.line(format!("  branch:   {}", run.branch));
        ui.line(format!("  worktree: {}", run.worktree));
        if let Some(hash) = &run.spec_hash {
            ui.line(format!("  spec:     {}", &hash[..12.min(hash.len())]));
        }
        for step in &run.steps {
            ui.line(format!("  step:     {step}"));
        }
    }
    for w in &run.warnings {
        ui.warn(w);
    }
    match &run.planning_error {
        Some(reason) => {
            ui.warn(&format!("planning failed, {} is blocked: {reason}", run.id));
            Outcome::Negative
        }
        None => Outcome::Success,
    }
}

/// Runs a protocol command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &ProtocolCommand) -> Result<Outcome, CliError> {
    match cmd {
        ProtocolCommand::New(args) => new(ctx, ui, args),
        ProtocolCommand::Plan(args) => {
            let id = super::protocol_arg(ctx, &args.protocol)?;
            let outcome = orchestrator::plan_existing(ctx, &id, &args.plan.options())?;
            if ui.is_json() {
                ui.json(&outcome);
            } else {
                ui.line(format!(
                    "Planned {id}: {} steps in {} attempt(s), {} tokens",
                    outcome.steps.len(),
                    outcome.attempts,
                    outcome.tokens
                ));
                for step in &outcome.steps {
                    ui.line(format!("  step: {step}"));
                }
            }
            for w in &outcome.warnings {
                ui.warn(w);
            }
            Ok(Outcome::Success)
        }
        ProtocolCommand::List => {
            super::status::run(ctx, ui, &super::status::StatusArgs { protocol: None })
        }
        ProtocolCommand::Show(args) => show(ctx, ui, args),
        ProtocolCommand::Run(args) => run_protocol(ctx, ui, args),
        ProtocolCommand::Decompose(args) => super::spec::run_decompose(ctx, ui, args),
        ProtocolCommand::Retry(args) => {
            let id = super::protocol_arg(ctx, &args.protocol)?;
            let step = args
                .step
                .as_deref()
                .map(|s| super::step_arg(ctx, &id, s))
                .transpose()?;
            let step = orchestrator::retry_step(ctx, &id, step.as_ref(), &args.reason)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"protocol": id, "step": step}));
            } else {
                ui.line(format!(
                    "{id} {step} will run again; continue with `godzilla protocol run {id}`"
                ));
            }
            Ok(Outcome::Success)
        }
        ProtocolCommand::Approve(args) => {
            let (id, step) = super::step_args(ctx, &args.protocol, &args.step)?;
            let store = orchestrator::locate(ctx, &id)?;
            orchestrator::approve_step(ctx, &store, &id, &step, &args.reason)?;
            ui.line(format!("{id} {step} approved"));
            Ok(Outcome::Success)
        }
        ProtocolCommand::Pause(args) => control(ctx, ui, args, Control::Pause),
        ProtocolCommand::Resume(args) => control(ctx, ui, args, Control::Resume),
        ProtocolCommand::Cancel(args) => control(ctx, ui, args, Control::Cancel),
    }
}

fn new(ctx: &Context, ui: &mut Ui, args: &NewArgs) -> Result<Outcome, CliError> {
    let steps = match (&args.steps_from, args.no_plan) {
        (Some(dir), _) => StepSource::Files(dir.clone()),
        (None, true) => StepSource::None,
        (None, false) if args.run_async => StepSource::None,
        (None, false) => StepSource::Plan(args.plan.options()),
    };
    let run = orchestrator::create_protocol_run(
        ctx,
        &CreateOptions {
            short_name: args.short_name.clone(),
            description: args.description.clone(),
            base: args.base.clone(),
            steps,
        },
    )?;
    if args.run_async {
        ui.status(
            "Created",
            &format!("protocol {} ({})", run.id, run.worktree),
        );
        let job = crate::services::worker::enqueue_plan_protocol(ctx, &run.id, args.plan.choice())?;
        return Ok(super::queue::render_queued(ui, &job));
    }
    Ok(render_created(ui, &run))
}

fn show(ctx: &Context, ui: &mut Ui, args: &ShowArgs) -> Result<Outcome, CliError> {
    let id = super::protocol_arg(ctx, &args.protocol)?;
    let detail = orchestrator::show_protocol(ctx, &id)?;
    for w in &detail.warnings {
        ui.warn(w);
    }
    if ui.is_json() {
        ui.json(&detail);
        return Ok(Outcome::Success);
    }
    let h = &detail.header;
    ui.line(format!(
        "{} {}",
        h.id,
        detail.status.map_or("corrupt", |s| s.as_str())
    ));
    ui.line(format!("  {}", h.description));
    ui.line(format!(
        "  branch {} from {}, created {}, steps from {}",
        h.branch, h.base_branch, h.created, h.source
    ));
    if let Some(hash) = &detail.spec_hash {
        ui.line(format!(
            "  spec {}, {} tokens used",
            &hash[..12],
            detail.tokens
        ));
    }
    ui.line("steps:");
    for s in &detail.steps {
        let qa = s
            .spec
            .as_ref()
            .map(|sp| format!(" [{:?}, qa {:?}]", sp.step_type, sp.qa.policy).to_lowercase())
            .unwrap_or_default();
        ui.line(format!(
            "  {} {:<9} {}{qa}{}{}",
            s.id,
            s.status.as_str(),
            s.title,
            if s.attempts > 0 {
                format!(" ({} attempts)", s.attempts)
            } else {
                String::new()
            },
            if s.without_qa { " — without QA" } else { "" }
        ));
    }
    if let Some(plan) = &detail.plan {
        ui.line("plan:");
        for line in plan.trim_end().lines() {
            ui.line(format!("  {line}"));
        }
    }
    ui.line("recent events:");
    for e in &detail.recent_events {
        let step = e.step.as_ref().map(|s| format!(" {s}")).unwrap_or_default();
        ui.line(format!("  {} {}{step}: {}", e.ts, e.kind, e.message));
    }
    Ok(Outcome::Success)
}

fn step_id(text: &str) -> Result<StepId, CliError> {
    StepId::parse(text).map_err(|e| {
        CliError::new(
            ExitKind::Usage,
            anyhow::Error::new(e).context("invalid step argument"),
        )
    })
}

fn run_protocol(ctx: &Context, ui: &mut Ui, args: &RunArgs) -> Result<Outcome, CliError> {
    let id = super::protocol_arg(ctx, &args.protocol)?;
    if args.run_async {
        let job = crate::services::worker::enqueue_run_protocol(
            ctx,
            &id,
            args.until.as_deref().map(step_id).transpose()?,
            args.yes,
            crate::services::platform::queue::EngineChoice {
                engine: None,
                model: None,
                timeout_secs: args.timeout,
            },
            (args.engine.clone(), args.model.clone()),
        )?;
        return Ok(super::queue::render_queued(ui, &job));
    }
    let per_phase =
        |values: &[String]| -> Result<PerPhase, CliError> { Ok(PerPhase::parse(values)?) };
    let opts = RunOptions {
        until: args.until.as_deref().map(step_id).transpose()?,
        yes: args.yes,
        engines: per_phase(&args.engine)?,
        models: per_phase(&args.model)?,
        timeout: args.timeout.map(Duration::from_secs),
    };
    let spinner = ui.spinner();
    let started = std::time::Instant::now();
    let mut on_progress = |p: &crate::services::execution::Progress| {
        if let Some(bar) = &spinner {
            bar.set_message(format!(
                "{id} · {:.0?} · {}",
                started.elapsed(),
                p.latest
                    .clone()
                    .unwrap_or_else(|| format!("{} lines", p.lines))
            ));
        }
    };
    let result = orchestrator::run_protocol(ctx, &id, &opts, &mut on_progress);
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let summary = result?;
    if ui.is_json() {
        ui.json(&summary);
    } else {
        for a in &summary.actions {
            ui.line(format!("  {a}"));
        }
        for (step, status, attempts) in &summary.steps {
            ui.line(format!("  {step} {status} ({attempts} attempts)"));
        }
        let stop = match &summary.stop {
            Stop::Completed => "completed".to_owned(),
            Stop::Until(s) => format!("stopped after {s} as asked"),
            Stop::Paused => "paused: `godzilla protocol resume` then run again".to_owned(),
            Stop::Cancelled => "cancelled".to_owned(),
            Stop::Blocked(r) => format!("blocked: {r}"),
            Stop::Interrupted(r) => format!("interrupted ({r}); run it again to resume"),
            Stop::Budget(r) => format!("budget exceeded: {r}"),
            Stop::Clarification(keys) => format!(
                "waiting for answers to {} (`godzilla clarify list --protocol {id}`)",
                keys.join(", ")
            ),
            Stop::Approval(s) => {
                format!("step {s} waits for approval (`godzilla protocol approve {id} {s}`)")
            }
        };
        ui.line(format!("{id}: {stop} · {} tokens", summary.tokens));
        if let Some(next) = &summary.next {
            ui.line(format!("next: {next}"));
        }
    }
    Ok(if summary.stop.is_success() {
        Outcome::Success
    } else {
        Outcome::Negative
    })
}

fn control(
    ctx: &Context,
    ui: &mut Ui,
    args: &ControlArgs,
    what: Control,
) -> Result<Outcome, CliError> {
    let id = super::protocol_arg(ctx, &args.protocol)?;
    let state = orchestrator::control_protocol(ctx, &id, what, &args.reason)?;
    if ui.is_json() {
        ui.json(&state);
    } else {
        let status = state.status.map_or("unknown", |s| s.as_str());
        ui.line(format!("{id} is now {status}"));
    }
    Ok(Outcome::Success)
}
