//! `godzilla qa`.

use std::time::Duration;

use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::execution;
use crate::services::quality::{self, QaHistory, QaOptions, QualityResult, Verdict};

/// Run QA alone on a step's last attempt: the configured checks, then (policy `full`) an LLM
/// review of the diff. Records the verdict (event, report, commit, note). Exit 0 PASS (or
/// skipped by policy), 3 FAIL, 1 when QA could not judge (the step is then blocked).
#[derive(clap::Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    disable_help_subcommand = true
)]
pub struct QaArgs {
    /// `show`: a step's verdicts.
    #[command(subcommand)]
    pub command: Option<QaCommand>,
    /// The protocol (`NNNN-slug`).
    #[arg(required = true)]
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: Option<String>,
    /// The step (`NN-slug`).
    #[arg(required = true)]
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::steps))]
    pub step: Option<String>,
    /// Judge a completed step's attempt again: a new verdict for the same attempt, recorded
    /// as a re-judgment (a FAIL makes the step failed).
    #[arg(long)]
    pub again: bool,
    /// Engine for the review.
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Model for the review.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Wall-clock limit of the review, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Queue the QA for `godzilla worker` instead; prints the job id.
    #[arg(long = "async")]
    pub run_async: bool,
}

/// `qa` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum QaCommand {
    /// Show a step's verdicts: each one, and the last in full (report, checks, their logs).
    Show(crate::cli::lazy::Lazy<QaShowArgs>),
}

/// `qa show`.
#[derive(clap::Args, Debug)]
pub struct QaShowArgs {
    /// The protocol (`NNNN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: String,
    /// The step (`NN-slug`).
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::steps))]
    pub step: String,
}

/// Runs `qa`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &QaArgs) -> Result<Outcome, CliError> {
    if let Some(QaCommand::Show(show)) = &args.command {
        return run_show(ctx, ui, show);
    }
    let (protocol, step) = super::step_args(
        ctx,
        args.protocol.as_deref().unwrap_or_default(),
        args.step.as_deref().unwrap_or_default(),
    )?;
    if args.run_async {
        let job = crate::services::worker::enqueue_evaluate_step(
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
    let loaded = execution::load(ctx, &protocol)?;
    let lock = execution::try_lock_protocol_run(&loaded.store, &protocol)?;
    let opts = QaOptions {
        engine: args.engine.clone(),
        model: args.model.clone(),
        timeout: args.timeout.map(Duration::from_secs),
        defer_commit: false,
        worktree_committed: false,
        again: args.again,
        carry_note: false,
    };
    let result = quality::evaluate_step(ctx, &loaded, &lock, &step, &opts).map_err(|e| {
        let not_ready = matches!(
            e,
            quality::Error::NotReady {
                status: crate::domain::StepStatus::Completed,
                ..
            }
        );
        let err = CliError::from(e);
        if not_ready {
            err.with_hint(format!(
                "it has its verdict; `godzilla qa --again {protocol} {step}` judges it again, \
                 `godzilla qa show {protocol} {step}` shows it"
            ))
        } else {
            err
        }
    })?;
    if ui.is_json() {
        ui.json(&result);
    } else {
        render(ui, &result);
    }
    Ok(match result.verdict {
        Verdict::Pass | Verdict::Skipped => Outcome::Success,
        Verdict::Fail => Outcome::Negative,
        Verdict::Error => Outcome::Failed,
    })
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Skipped => "skipped",
        Verdict::Error => "could not judge",
    }
}

fn render(ui: &mut Ui, result: &QualityResult) {
    ui.line(format!(
        "{} {}: {} ({} QA) → {}",
        result.protocol,
        result.step,
        verdict_word(result.verdict),
        format!("{:?}", result.policy).to_lowercase(),
        result.step_status
    ));
    if result.checks.is_empty() && result.verdict != Verdict::Skipped {
        ui.line("  no mechanical check ran: no [checks] are configured");
    }
    for c in &result.checks {
        let tests = c
            .tests
            .map(|t| format!(", {} passed / {} failed", t.passed, t.failed))
            .unwrap_or_default();
        ui.line(format!(
            "  check {}: {} ({} ms{tests})",
            c.name,
            if c.passed { "passed" } else { "FAILED" },
            c.duration_ms
        ));
        if c.passed {
            continue;
        }
        if !c.failing_tests.is_empty() {
            ui.line(format!("    failing: {}", c.failing_tests.join(", ")));
        }
        if let Some(tail) = c.output_tail.as_deref().filter(|t| !t.is_empty()) {
            for line in tail.lines() {
                ui.line(format!("    | {line}"));
            }
        }
        ui.line(format!("    log: {}", c.log.display()));
    }
    if let Some(r) = &result.review {
        let verdict = r.verdict.map_or("no verdict", |v| verdict_word(v));
        ui.line(format!(
            "  review: {} → {verdict} ({} tokens)",
            r.engine, r.tokens
        ));
    }
    for reason in &result.reasons {
        ui.line(format!("  reason: {reason}"));
    }
    if let Some(report) = &result.report {
        ui.line(format!("  report: {report}"));
    }
}

fn run_show(ctx: &Context, ui: &mut Ui, args: &QaShowArgs) -> Result<Outcome, CliError> {
    let (protocol, step) = super::step_args(ctx, &args.protocol, &args.step)?;
    let store = crate::services::orchestrator::locate(ctx, &protocol)?;
    let history = quality::history(&store, &protocol, &step)?;
    if ui.is_json() {
        ui.json(&history);
    } else {
        render_history(ui, &history);
    }
    Ok(Outcome::Success)
}

/// The lines `qa show` prints for a step's verdicts (also used by `step show`).
pub fn history_lines(history: &QaHistory, full: bool) -> Vec<String> {
    let mut out = Vec::new();
    if history.verdicts.is_empty() {
        out.push(format!(
            "{} {}: no QA verdict yet",
            history.protocol, history.step
        ));
        return out;
    }
    for v in &history.verdicts {
        out.push(format!(
            "  {} {}{} (run {}{})",
            v.at,
            verdict_word(v.verdict),
            if v.again { ", again" } else { "" },
            v.run,
            v.exec_run
                .as_deref()
                .map(|r| format!(", judged {r}"))
                .unwrap_or_default()
        ));
    }
    let Some(last) = history.verdicts.last() else {
        return out;
    };
    if last.checks.is_empty() && last.verdict != Verdict::Skipped {
        out.push("  no mechanical check ran: no [checks] were configured".to_owned());
    }
    for c in &last.checks {
        let passed = c["passed"].as_bool().unwrap_or(false);
        out.push(format!(
            "  check {}: {}{}",
            c["name"].as_str().unwrap_or("?"),
            if passed { "passed" } else { "FAILED" },
            c["tests"]
                .as_object()
                .map(|t| format!(" ({} passed / {} failed)", t["passed"], t["failed"]))
                .unwrap_or_default()
        ));
        if let Some(names) = c["failing_tests"].as_array().filter(|a| !a.is_empty()) {
            let names: Vec<&str> = names.iter().filter_map(|n| n.as_str()).collect();
            out.push(format!("    failing: {}", names.join(", ")));
        }
        if let Some(log) = c["log"].as_str() {
            out.push(format!("    log: {log}"));
        }
    }
    for reason in &last.reasons {
        out.push(format!("  reason: {reason}"));
    }
    if let Some(report) = &last.report {
        out.push(format!("  report: {report}"));
    }
    if full && let Some(text) = &history.report_text {
        out.push(String::new());
        out.extend(text.lines().map(str::to_owned));
    }
    out
}

fn render_history(ui: &mut Ui, history: &QaHistory) {
    if !history.verdicts.is_empty() {
        ui.line(format!("{} {}: verdicts", history.protocol, history.step));
    }
    for line in history_lines(history, true) {
        ui.line(line);
    }
}
