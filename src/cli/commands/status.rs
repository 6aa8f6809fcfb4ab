//! `godzilla status`.

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui, paint};
use crate::context::Context;
use crate::domain::ProtocolStatus;
use crate::services::orchestrator::{self, Location};

/// Show every protocol with its status and step counts: those in this worktree, in other
/// worktrees, and on `godzilla/*` branches that are not checked out.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Only this protocol.
    #[arg(value_name = "PROTOCOL", add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::protocols))]
    pub protocol: Option<String>,
}

/// Runs `status`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &StatusArgs) -> Result<Outcome, CliError> {
    let only = args
        .protocol
        .as_deref()
        .map(|p| super::protocol_arg(ctx, p))
        .transpose()?;
    let summary = orchestrator::status(ctx, only.as_ref())?;
    if let Some(id) = &only
        && summary.protocols.is_empty()
    {
        return Err(
            CliError::new(ExitKind::Usage, anyhow::anyhow!("protocol {id} not found"))
                .with_hint("`godzilla status` lists the protocols"),
        );
    }
    for w in summary
        .warnings
        .iter()
        .chain(summary.protocols.iter().flat_map(|p| &p.warnings))
    {
        ui.warn(w);
    }
    // The queue is machine-local and shared by every worktree: shown with the whole list.
    let queue = match only {
        None => crate::services::worker::overview(ctx)?,
        Some(_) => Default::default(),
    };
    if ui.is_json() {
        match serde_json::to_value(&summary) {
            Ok(serde_json::Value::Object(mut map)) if !queue.is_empty() => {
                map.insert(
                    "queue".to_owned(),
                    serde_json::to_value(&queue).unwrap_or_default(),
                );
                ui.json(&map);
            }
            _ => ui.json(&summary),
        }
        return Ok(Outcome::Success);
    }
    render_queue(ui, &queue);
    if summary.protocols.is_empty() {
        if summary.initialized {
            ui.line("No protocols yet. Start one with `godzilla protocol new <name> -d \"<what to do>\"`.");
        } else {
            ui.line("godzilla is not set up in this repository yet. Run `godzilla init` to start.");
        }
        return Ok(Outcome::Success);
    }
    let width = summary
        .protocols
        .iter()
        .map(|p| p.id.as_str().len())
        .max()
        .unwrap_or(0);
    // One write for the whole list: a thousand protocols are not a thousand syscalls.
    let mut out: Vec<String> = Vec::with_capacity(summary.protocols.len());
    for p in &summary.protocols {
        let counts: Vec<String> = p
            .step_counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        let steps = match p.steps {
            0 => "no steps".to_owned(),
            1 => format!("1 step: {}", counts.join(", ")),
            n => format!("{n} steps: {}", counts.join(", ")),
        };
        let place = match &p.location {
            Location::Worktree { path } if *path == ctx.paths.work_tree.display().to_string() => {
                String::new()
            }
            Location::Worktree { path } => paint::dim(&format!("  (worktree {path})")),
            Location::Branch { name } => paint::dim(&format!("  (branch {name})")),
        };
        let spend = if p.tokens > 0 || p.cost_usd.0 != 0 {
            format!(" · {} tokens · {}", p.tokens, p.cost_usd.display())
        } else {
            String::new()
        };
        // A `running` protocol that nothing runs is shown as what it is: stopped.
        let status = match (&p.stopped, p.status) {
            (Some(_), Some(ProtocolStatus::Running | ProtocolStatus::Planning)) => paint::stopped(),
            _ => paint::protocol_status(p.status),
        };
        out.push(format!(
            "{:<width$}  {status}  {steps}{spend}{place}",
            p.id.as_str()
        ));
        if !p.without_qa.is_empty() {
            let ids: Vec<&str> = p.without_qa.iter().map(|s| s.as_str()).collect();
            out.push(format!("{:<width$}  without QA: {}", "", ids.join(", ")));
        }
        if let Some(stopped) = &p.stopped {
            out.push(format!(
                "{:<width$}  {}; next: {}",
                "", stopped.reason, stopped.next
            ));
        }
    }
    ui.line(out.join("\n"));
    Ok(Outcome::Success)
}

/// Queued, running (by which worker, for how long), stale and failed jobs.
fn render_queue(ui: &mut Ui, queue: &crate::services::worker::QueueOverview) {
    if queue.is_empty() {
        return;
    }
    ui.line(format!(
        "queue: {} queued, {} running, {} failed",
        queue.queued,
        queue.running.len(),
        queue.failed.len()
    ));
    let age = |secs| humantime::format_duration(std::time::Duration::from_secs(secs));
    for v in &queue.running {
        ui.line(format!(
            "  running {} {} by {} for {}",
            v.id,
            v.what,
            v.worker.as_deref().unwrap_or("?"),
            age(v.age_secs)
        ));
    }
    for v in &queue.stale {
        ui.line(format!(
            "  stale   {} {}: {}",
            v.id,
            v.what,
            v.reason.as_deref().unwrap_or("")
        ));
    }
    for v in &queue.failed {
        ui.line(format!(
            "  failed  {} {}: {}",
            v.id,
            v.what,
            v.reason.as_deref().unwrap_or("")
        ));
    }
    for path in &queue.corrupt {
        ui.warn(&format!("corrupt job file set aside: {path}"));
    }
}
