//! `godzilla cost`.

use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::cost::{self, By, Scope};

/// Add up tokens and money: per protocol by default, or per step, model, engine or phase.
///
/// With a protocol, its run records and events; with a revision range (`main..HEAD`), the
/// notes on those commits, so it answers what a branch cost whichever protocols made it;
/// with neither, every protocol. Costs are the engine's own figure when it reports one, else
/// tokens × the price list (`[prices]` in .godzilla/config.toml). Token budgets are shown
/// against what was used.
#[derive(clap::Args, Debug)]
pub struct CostArgs {
    /// A protocol (`NNNN-slug`) or a revision range (`main..HEAD`).
    #[arg(value_name = "PROTOCOL|RANGE")]
    pub scope: Option<String>,
    /// How to group the runs.
    #[arg(long, value_enum, default_value_t = By::Protocol, value_name = "KEY")]
    pub by: By,
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs `cost`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &CostArgs) -> Result<Outcome, CliError> {
    let scope = Scope::parse(args.scope.as_deref())?;
    let report = cost::report(ctx, &scope, args.by)?;
    if ui.is_json() {
        ui.json(&report);
        return Ok(Outcome::Success);
    }
    if report.items.is_empty() {
        ui.line(format!("{}: no engine runs recorded", report.scope));
        return Ok(Outcome::Success);
    }
    let width = report
        .groups
        .iter()
        .map(|g| g.key.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let row = |g: &cost::Total| {
        let unpriced = if g.unpriced_runs > 0 {
            format!("  ({} unpriced)", g.unpriced_runs)
        } else {
            String::new()
        };
        format!(
            "{:<width$}  {:>4} runs  {:>12} tokens  {:>10}{unpriced}",
            g.key,
            g.runs,
            thousands(g.tokens),
            g.cost_usd.display()
        )
    };
    for g in &report.groups {
        ui.line(row(g));
    }
    ui.line(row(&report.total));
    for b in &report.budgets {
        let mut parts = Vec::new();
        if let Some(max) = b.max_tokens_per_protocol {
            parts.push(format!(
                "{} of {} tokens ({:.1}%)",
                thousands(b.used_tokens),
                thousands(max),
                b.used_tokens as f64 * 100.0 / max.max(1) as f64
            ));
        }
        if let Some(max) = b.max_tokens_per_step {
            parts.push(format!(
                "largest step attempt {} of {} per step",
                thousands(b.largest_step_tokens),
                thousands(max)
            ));
        }
        if !parts.is_empty() {
            ui.line(format!("budget {}: {}", b.protocol, parts.join("; ")));
        }
    }
    if report.total.unpriced_runs > 0 {
        ui.line(
            "unpriced runs reported no cost and use a model the price list lacks (or the \
             engine's default model): add it under [prices] in .godzilla/config.toml",
        );
    }
    Ok(Outcome::Success)
}
