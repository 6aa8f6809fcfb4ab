//! `godzilla spec show|validate` and `godzilla protocol decompose`: the commands that shape
//! a protocol's steps. Each calls one service function and renders its result.

use std::time::Duration;

use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::domain::spec::{StepPolicy, StepSpec};
use crate::services::decomposition::{self, DecomposeOptions, DecomposeResult};
use crate::services::spec;

/// Spec commands.
#[derive(clap::Subcommand, Debug)]
pub enum SpecCommand {
    /// Show a protocol's stored spec and its hash: one line per step with its type, QA
    /// policy, engine and model, and policies.
    Show(crate::cli::lazy::Lazy<SpecArgs>),
    /// Rebuild the spec from the step files (keeping what the stored spec says about each
    /// step), validate it (schema and paths) and store it when valid.
    ///
    /// Every problem is printed with its location. Exit 0 when valid, 3 when not (nothing
    /// is stored then).
    Validate(crate::cli::lazy::Lazy<SpecArgs>),
}

/// Arguments of `spec show` and `spec validate`.
#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
}

/// Refine complex pending steps in place with the decompose engine (read-only).
///
/// Simple steps (short, few lines, few list items) are left alone. An answer replaces the
/// step file only if it is non-empty, bounded and keeps every heading of the step; each
/// rewrite is committed, so the previous version stays in git history. Exit 0 when every
/// answer was accepted, 3 when one was rejected (that step is unchanged), 1 when the engine
/// failed.
#[derive(clap::Args, Debug)]
pub struct DecomposeArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// Only this step (`NN-slug`).
    #[arg(long, value_name = "STEP", add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::steps))]
    pub step: Option<String>,
    /// Engine to use (overrides [phases.decompose]).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Model to use.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Wall-clock limit of each engine run, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Refine steps even when they are simple.
    #[arg(long)]
    pub force: bool,
}

/// Runs a spec command.
pub fn run(ctx: &Context, ui: &mut Ui, cmd: &SpecCommand) -> Result<Outcome, CliError> {
    match cmd {
        SpecCommand::Show(args) => {
            let id = super::protocol_arg(ctx, &args.protocol)?;
            let report = spec::show_spec(ctx, &id)?;
            if ui.is_json() {
                ui.json(&report);
                return Ok(Outcome::Success);
            }
            ui.line(format!(
                "{} spec {} ({}, from {}, {} steps)",
                report.protocol,
                report.hash,
                report.path,
                report.spec.source,
                report.spec.steps.len()
            ));
            for step in &report.spec.steps {
                ui.line(step_line(step));
            }
            Ok(Outcome::Success)
        }
        SpecCommand::Validate(args) => {
            let id = super::protocol_arg(ctx, &args.protocol)?;
            let report = spec::validate_protocol_spec(ctx, &id)?;
            if ui.is_json() {
                ui.json(&report);
            } else if report.valid {
                ui.line(format!(
                    "{} spec valid: {} ({} steps{})",
                    report.protocol,
                    report.hash.as_deref().unwrap_or_default(),
                    report.steps.len(),
                    if report.steps_added > 0 {
                        format!(", {} added to the log", report.steps_added)
                    } else {
                        String::new()
                    }
                ));
                for step in &report.steps_removed {
                    ui.line(format!("  removed {step}: its step file is gone"));
                }
            } else {
                let n = report.issues.len();
                ui.line(format!(
                    "{} spec invalid: {n} problem{}",
                    report.protocol,
                    if n == 1 { "" } else { "s" }
                ));
                for issue in &report.issues {
                    ui.line(format!("  {}: {}", issue.at, issue.message));
                }
            }
            Ok(if report.valid {
                Outcome::Success
            } else {
                Outcome::Negative
            })
        }
    }
}

/// `  01-greet  work  qa full  claude (opus)  loop l1 ×3, trigger t1 on fail → 02-x`.
fn step_line(step: &StepSpec) -> String {
    let engine = match (&step.engine, &step.model) {
        (Some(e), Some(m)) => format!("{e} ({m})"),
        (Some(e), None) => e.clone(),
        (None, Some(m)) => format!("default engine ({m})"),
        (None, None) => "default engine".to_owned(),
    };
    let policies = step
        .policies
        .iter()
        .map(|p| match p {
            StepPolicy::Loop {
                id,
                max_iterations,
                step_back,
            } => format!("loop {id} ×{max_iterations} back {step_back}"),
            StepPolicy::Trigger { id, on, target, .. } => format!(
                "trigger {id} on {} → {target}",
                serde_json::to_value(on)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let kind = serde_json::to_value(step.step_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let qa = serde_json::to_value(step.qa.policy)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut line = format!("  {}  {kind}  qa {qa}  {engine}", step.id);
    if !policies.is_empty() {
        line.push_str("  ");
        line.push_str(&policies);
    }
    if step.needs_approval {
        line.push_str("  needs approval");
    }
    line
}

/// Runs `protocol decompose`.
pub fn run_decompose(
    ctx: &Context,
    ui: &mut Ui,
    args: &DecomposeArgs,
) -> Result<Outcome, CliError> {
    let protocol = super::protocol_arg(ctx, &args.protocol)?;
    let step = args
        .step
        .as_deref()
        .map(|s| super::step_arg(ctx, &protocol, s))
        .transpose()?;
    let summary = decomposition::decompose(
        ctx,
        &protocol,
        &DecomposeOptions {
            step,
            engine: args.engine.clone(),
            model: args.model.clone(),
            timeout: args.timeout.map(Duration::from_secs),
            force: args.force,
        },
    )?;
    if ui.is_json() {
        ui.json(&summary);
    } else {
        let simple = summary
            .steps
            .iter()
            .filter(|s| s.result == DecomposeResult::Simple)
            .count();
        ui.line(format!(
            "Decomposed {} with {}: {} refined, {} rejected, {simple} simple, {} tokens",
            summary.protocol, summary.engine, summary.refined, summary.rejected, summary.tokens
        ));
        for s in &summary.steps {
            let what = match &s.result {
                DecomposeResult::Simple => format!(
                    "simple ({} lines, {} list items), left alone",
                    s.complexity.lines, s.complexity.items
                ),
                DecomposeResult::Skipped { reason } => format!("skipped: {reason}"),
                DecomposeResult::Refined {
                    before_lines,
                    after_lines,
                    commit,
                    ..
                } => format!(
                    "refined: {before_lines} → {after_lines} lines (commit {})",
                    &commit[..commit.len().min(12)]
                ),
                DecomposeResult::Unchanged { .. } => {
                    "unchanged: the engine kept it as it was".into()
                }
                DecomposeResult::Rejected { problems, .. } => {
                    format!("rejected, unchanged: {}", problems.join("; "))
                }
            };
            ui.line(format!("  {}  {what}", s.step));
        }
    }
    Ok(if summary.rejected > 0 {
        Outcome::Negative
    } else {
        Outcome::Success
    })
}
