//! `godzilla doctor`.

use crate::cli::error::CliError;
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::services::onboarding;

/// Check git, the configuration and every engine: where it is, its version, whether the
/// non-interactive flags godzilla uses are accepted. Exit 0 when nothing needs fixing, 3
/// otherwise; each problem comes with what to do.
#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// Also run each installed engine a phase uses once on a trivial read-only prompt and
    /// check that its output parses (spends a few tokens).
    #[arg(long)]
    pub run: bool,
    /// With --run, try every installed engine, not only those the phases use.
    #[arg(long, requires = "run")]
    pub all: bool,
}

/// Runs `doctor`.
pub fn run(
    ctx: Option<&Context>,
    ui: &mut Ui,
    args: &DoctorArgs,
    env: &crate::context::EnvSnapshot,
) -> Result<Outcome, CliError> {
    let git = env.git.as_deref().unwrap_or("git");
    let report = onboarding::run_doctor(ctx, &env.all, git, args.run, args.all);
    if ui.is_json() {
        ui.json(&report);
    } else {
        ui.line(format!(
            "git:        {}",
            report.git.as_deref().unwrap_or("NOT FOUND")
        ));
        ui.line(format!(
            "repository: {}",
            report
                .repository
                .as_deref()
                .unwrap_or("(not in a git repository)")
        ));
        if report.repository.is_some() {
            ui.line(format!(
                "godzilla:   {}",
                if report.initialized {
                    "set up"
                } else {
                    "not set up"
                }
            ));
            ui.line(format!(
                "config:     {}",
                report.config_error.as_deref().unwrap_or("valid")
            ));
        }
        ui.line("engines:");
        for e in &report.engines {
            let p = &e.probe;
            let place = p.path.as_ref().map_or_else(
                || {
                    if p.kind == crate::engines::EngineKind::Replay {
                        "built in".to_owned()
                    } else {
                        "not found".to_owned()
                    }
                },
                |x| x.display().to_string(),
            );
            let flags = match p.flags_ok {
                Some(true) => "flags ok",
                Some(false) => "flags MISSING",
                None => "flags not checked",
            };
            let phases = if e.phases.is_empty() {
                String::new()
            } else {
                format!(" [used for {}]", e.phases.join(", "))
            };
            ui.line(format!(
                "  {:<9} {:<8} {}  {}  {}{phases}",
                p.name,
                p.kind.as_str(),
                p.version.as_deref().unwrap_or("-"),
                flags,
                place
            ));
            if let Some(t) = &e.trial {
                ui.line(format!(
                    "            trial: {} (output {}, {} tokens)",
                    t.classification.as_str(),
                    if t.parsed { "parsed" } else { "NOT parsed" },
                    t.tokens
                ));
            }
            if let Some(l) = &e.login {
                let said = match l.logged_in {
                    Some(true) => "logged in",
                    Some(false) if l.key_given => "not logged in (an API key is given)",
                    Some(false) => "NOT logged in",
                    None => "unknown",
                };
                ui.line(format!(
                    "            login: {said} (`{}`{})",
                    l.command,
                    l.note
                        .as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                ));
            }
            for n in &p.notes {
                ui.line(format!("            {n}"));
            }
        }
        if report.problems.is_empty() {
            ui.line("No problems found.");
        }
        for p in &report.problems {
            ui.line(format!("problem: {p}"));
        }
    }
    Ok(if report.problems.is_empty() {
        Outcome::Success
    } else {
        Outcome::Negative
    })
}
