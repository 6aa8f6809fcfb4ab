//! `godzilla qa`.

use std::time::Duration;

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::domain::{ProtocolId, StepId};
use crate::services::execution;
use crate::services::quality::{self, QaOptions, Verdict};

/// Run QA alone on a step's last attempt: the configured checks, then (policy `full`) an LLM
/// review of the diff. Records the verdict (event, report, commit, note). Exit 0 PASS (or
/// skipped by policy), 3 FAIL, 1 when QA could not judge (the step is then blocked).
#[derive(clap::Args, Debug)]
pub struct QaArgs {
    /// The protocol (`NNNN-slug`).
    pub protocol: String,
    /// The step (`NN-slug`).
    pub step: String,
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

/// Runs `qa`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &QaArgs) -> Result<Outcome, CliError> {
    let usage = |e: crate::domain::NameError| {
        CliError::new(
            ExitKind::Usage,
            anyhow::Error::new(e).context("invalid argument"),
        )
    };
    let protocol = ProtocolId::parse(&args.protocol).map_err(usage)?;
    let step = StepId::parse(&args.step).map_err(usage)?;
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
    let _lock = execution::try_lock_protocol_run(&loaded.store, &protocol)?;
    let opts = QaOptions {
        engine: args.engine.clone(),
        model: args.model.clone(),
        timeout: args.timeout.map(Duration::from_secs),
        defer_commit: false,
        worktree_committed: false,
    };
    let result = quality::evaluate_step(ctx, &loaded, &step, &opts)?;
    if ui.is_json() {
        ui.json(&result);
    } else {
        ui.line(
            format!(
                "{protocol} {step}: {:?} ({:?} QA) → {}",
                result.verdict, result.policy, result.step_status
            )
            .to_uppercase(),
        );
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
        }
        if let Some(r) = &result.review {
            let verdict = r
                .verdict
                .map_or_else(|| "no verdict".to_owned(), |v| format!("{v:?}"));
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
    Ok(match result.verdict {
        Verdict::Pass | Verdict::Skipped => Outcome::Success,
        Verdict::Fail => Outcome::Negative,
        Verdict::Error => Outcome::Failed,
    })
}
