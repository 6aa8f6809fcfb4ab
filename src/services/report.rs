//! `godzilla report`: one protocol's story for people who were not watching: a
//! self-contained HTML page (inline CSS and SVG, nothing fetched when it is viewed) with the
//! timeline of steps and attempts, QA verdicts with their checks and reports, tokens and cost
//! per step as a chart, and links to the commits; and the Markdown variant a pull request body
//! is made of ([`pr_body`]).

use std::fmt::Write as _;

use serde::Serialize;

use crate::context::Context;
use crate::domain::{Event, EventKind, ProtocolId, ProtocolStatus, StepId, StepStatus};
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::execution::{self, AttemptSummary};
use crate::services::inspect;
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::protocols::{self, Location};
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{self, Store};
use crate::services::platform::telemetry::prices::Cost;
use crate::services::spec;

/// Errors building a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the protocol failed.
    #[error(transparent)]
    Protocols(#[from] protocols::Error),
    /// Reading a step failed.
    #[error(transparent)]
    Execution(#[from] Box<execution::Error>),
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Protocols(e) => e.kind(),
            Self::Execution(e) => e.kind(),
            Self::Infra(e) => e.kind(),
        }
    }
}

/// One QA check.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Its name (`lint`, `test`...).
    pub name: String,
    /// Exit code, when it ran.
    pub exit_code: Option<i64>,
    /// Whether it passed.
    pub passed: bool,
}

/// One QA verdict.
#[derive(Clone, Debug, Serialize)]
pub struct QaVerdict {
    /// QA run id.
    pub run: String,
    /// `pass`, `fail`, `error`...
    pub verdict: String,
    /// Why.
    pub reasons: Vec<String>,
    /// Mechanical checks.
    pub checks: Vec<Check>,
    /// The QA report (Markdown), when kept.
    pub report: Option<String>,
    /// Tokens the review used.
    pub tokens: u64,
    /// What the review cost, when known.
    pub cost_usd: Option<Cost>,
}

/// One step.
#[derive(Clone, Debug, Serialize)]
pub struct StepRow {
    /// Step id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Status.
    pub status: StepStatus,
    /// Attempts, oldest first.
    pub attempts: Vec<AttemptSummary>,
    /// QA verdicts, oldest first.
    pub qa: Vec<QaVerdict>,
    /// Tokens of all its runs (attempts and reviews).
    pub tokens: u64,
    /// Cost of its priced runs (attempts and reviews).
    pub cost_usd: Cost,
}

/// One line of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineRow {
    /// When.
    pub ts: String,
    /// Step, if any.
    pub step: Option<String>,
    /// Event type.
    pub kind: EventKind,
    /// What happened.
    pub message: String,
}

/// Everything a report shows.
#[derive(Clone, Debug, Serialize)]
pub struct ProtocolReport {
    /// Protocol id.
    pub id: ProtocolId,
    /// What was asked.
    pub description: String,
    /// Status.
    pub status: Option<ProtocolStatus>,
    /// Its branch.
    pub branch: String,
    /// The branch it targets.
    pub base_branch: String,
    /// Where it was read from.
    pub location: Location,
    /// Steps in order.
    pub steps: Vec<StepRow>,
    /// Steps, attempts, verdicts and decisions in order.
    pub timeline: Vec<TimelineRow>,
    /// Tokens of every run.
    pub tokens: u64,
    /// Cost of every priced run.
    pub cost_usd: Cost,
    /// Web address of a commit, `{sha}` standing for its hash, when the remote is a forge.
    pub commit_url: Option<String>,
    /// `plan.md`, when the protocol has one.
    pub plan: Option<String>,
}

/// Builds the report of `id` (from its worktree, or its branch once the worktree is gone).
pub fn build(ctx: &Context, id: &ProtocolId) -> Result<ProtocolReport, Error> {
    let source = inspect::open(ctx, id)?;
    let store = &source.store;
    let header = ProtocolRepository::load_header(store, id)?;
    let state = ProtocolRepository::load_state(store, id)?.state;
    let log = protocols::sorted_log(store, id)?;
    let mut steps = Vec::new();
    for s in &state.steps {
        let detail = execution::show_step(ctx, id, &s.id).map_err(Box::new)?;
        let text = std::fs::read_to_string(
            crate::services::platform::storage::repo::StepRepository::step_path(store, id, &s.id),
        )
        .unwrap_or_default();
        let qa = qa_verdicts(store, id, &log, &s.id);
        let attempt_tokens: u64 = detail
            .runs
            .iter()
            .map(|r| {
                r.usage["input"].as_u64().unwrap_or(0) + r.usage["output"].as_u64().unwrap_or(0)
            })
            .sum::<u64>();
        let tokens = attempt_tokens + qa.iter().map(|q| q.tokens).sum::<u64>();
        let cost_usd = detail
            .runs
            .iter()
            .filter_map(|r| r.cost_usd.map(Cost::from_usd))
            .chain(qa.iter().filter_map(|q| q.cost_usd))
            .sum();
        steps.push(StepRow {
            id: s.id.to_string(),
            title: spec::step_title(&text, &s.id),
            status: s.status,
            attempts: detail.runs,
            qa,
            tokens,
            cost_usd,
        });
    }
    let timeline = timeline(&log);
    let commit_url = source
        .git
        .run(&["remote", "get-url", "origin"])
        .ok()
        .and_then(|u| forge_commit_url(u.trim()));
    Ok(ProtocolReport {
        tokens: steps.iter().map(|s| s.tokens).sum(),
        cost_usd: steps.iter().map(|s| s.cost_usd).sum(),
        id: id.clone(),
        description: header.description,
        status: state.status,
        branch: header.branch,
        base_branch: header.base_branch,
        location: source.location.clone(),
        steps,
        timeline,
        commit_url,
        plan: storage::read_optional(&ProtocolRepository::plan_path(store, id))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
    })
}

/// The QA verdicts of one step, oldest first, with their checks and kept reports.
fn qa_verdicts(store: &Store, id: &ProtocolId, log: &[Event], step: &StepId) -> Vec<QaVerdict> {
    log.iter()
        .filter(|e| e.step.as_ref() == Some(step))
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::QaPassed | EventKind::QaFailed | EventKind::QaError
            )
        })
        .map(|e| {
            let run = e.metadata.get("run").and_then(|v| v.as_str()).unwrap_or("");
            let report =
                storage::read_optional(&ProtocolRepository::qa_report_path(store, id, run))
                    .ok()
                    .flatten()
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
            QaVerdict {
                run: run.to_owned(),
                verdict: e
                    .metadata
                    .get("verdict")
                    .and_then(|v| v.as_str())
                    .unwrap_or(e.kind.as_str())
                    .to_owned(),
                reasons: e
                    .metadata
                    .get("reasons")
                    .and_then(|v| v.as_array())
                    .map(|r| {
                        r.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                checks: e
                    .metadata
                    .get("checks")
                    .and_then(|v| v.as_array())
                    .map(|c| {
                        c.iter()
                            .map(|c| Check {
                                name: c["name"].as_str().unwrap_or("?").to_owned(),
                                exit_code: c["exit_code"].as_i64(),
                                passed: c["passed"].as_bool().unwrap_or(false),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                report,
                tokens: e
                    .metadata
                    .get("tokens")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0),
                cost_usd: e
                    .metadata
                    .get("cost_usd")
                    .and_then(|v| v.as_f64())
                    .map(Cost::from_usd),
            }
        })
        .collect()
}

/// The events a reader follows: every step event but `step_added`, and the protocol's
/// milestones.
fn timeline(log: &[Event]) -> Vec<TimelineRow> {
    log.iter()
        .filter(|e| {
            e.step.is_some()
                || matches!(
                    e.kind,
                    EventKind::ProtocolCreated
                        | EventKind::Planned
                        | EventKind::ProtocolStarted
                        | EventKind::ProtocolBlocked
                        | EventKind::ProtocolCompleted
                        | EventKind::Cancelled
                )
        })
        .filter(|e| e.kind != EventKind::StepAdded)
        .map(|e| TimelineRow {
            ts: e.ts.clone(),
            step: e.step.as_ref().map(ToString::to_string),
            kind: e.kind,
            message: e.message.clone(),
        })
        .collect()
}

/// `https://host/owner/repo/commit/{sha}` for a GitHub or GitLab remote URL.
fn forge_commit_url(remote: &str) -> Option<String> {
    let rest = remote
        .strip_prefix("https://")
        .or_else(|| remote.strip_prefix("git@").map(|r| r.trim_start()))?;
    let rest = rest.replacen(':', "/", usize::from(remote.starts_with("git@")));
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let host = rest.split('/').next()?;
    if !(host.contains("github") || host.contains("gitlab")) {
        return None;
    }
    let sep = if host.contains("gitlab") {
        "/-/commit/"
    } else {
        "/commit/"
    };
    Some(format!("https://{rest}{sep}{{sha}}"))
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn commit_html(report: &ProtocolReport, sha: &str) -> String {
    let short = &sha[..12.min(sha.len())];
    match &report.commit_url {
        Some(url) => format!(
            "<a class=\"commit\" href=\"{}\"><code>{}</code></a>",
            esc(&url.replace("{sha}", sha)),
            esc(short)
        ),
        None => format!(
            "<code class=\"commit\" title=\"{}\">{}</code>",
            esc(sha),
            esc(short)
        ),
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{font-size:1.5em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f6f6f6}.status{font-weight:600}.completed,.pass{color:#17803d}.failed,.fail,.blocked,.error{color:#b42318}\
.running,.needs_qa{color:#1d4ed8}code{font-size:12px}pre{white-space:pre-wrap;background:#f8f8f8;padding:8px;border-radius:4px}\
.meta{color:#666}svg text{font:12px system-ui,sans-serif}details{margin:.4em 0}";

/// The HTML page.
pub fn html(report: &ProtocolReport) -> String {
    let mut h = String::new();
    let status = report.status.map_or("unknown", |s| s.as_str());
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{id} · godzilla report</title><style>{STYLE}</style></head><body>\n\
<h1>{id}</h1><p>{desc}</p>\
<p class=\"meta\">status <span class=\"status {status}\">{status}</span> · branch <code>{branch}</code> → <code>{base}</code> · {tokens} tokens · {cost}</p>\n",
        id = esc(report.id.as_str()),
        desc = esc(&report.description),
        branch = esc(&report.branch),
        base = esc(&report.base_branch),
        tokens = report.tokens,
        cost = report.cost_usd.display(),
    );
    html_chart(&mut h, report);
    html_steps(&mut h, report);
    for s in &report.steps {
        html_step(&mut h, report, s);
    }
    h.push_str("<h2>Timeline</h2>\n<table id=\"timeline\"><tr><th>time</th><th>step</th><th>event</th><th>what</th></tr>\n");
    for t in &report.timeline {
        let _ = writeln!(
            h,
            "<tr class=\"timeline-row\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.ts),
            esc(t.step.as_deref().unwrap_or("")),
            t.kind.as_str(),
            esc(&t.message)
        );
    }
    h.push_str("</table>\n<p class=\"meta\">Generated by godzilla.</p></body></html>\n");
    h
}

/// One bar per step: tokens for length, cost in the label.
fn html_chart(h: &mut String, report: &ProtocolReport) {
    h.push_str("<h2>Tokens and cost per step</h2>\n");
    let max = report
        .steps
        .iter()
        .map(|s| s.tokens)
        .max()
        .unwrap_or(0)
        .max(1);
    let row_h = 26;
    let height = row_h * report.steps.len().max(1) + 10;
    let _ = write!(
        h,
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" height=\"{height}\" viewBox=\"0 0 900 {height}\" role=\"img\" aria-label=\"tokens per step\">"
    );
    for (i, s) in report.steps.iter().enumerate() {
        let y = i * row_h + 5;
        let width = (s.tokens as f64 / max as f64 * 560.0).round().max(1.0);
        let _ = write!(
            h,
            "<g class=\"bar-row\"><text x=\"0\" y=\"{ty}\">{label}</text>\
<rect class=\"bar\" data-step=\"{step}\" data-tokens=\"{tokens}\" x=\"200\" y=\"{y}\" width=\"{width}\" height=\"18\" fill=\"#4f7cd6\"><title>{step}: {tokens} tokens, {cost}</title></rect>\
<text x=\"{tx}\" y=\"{ty}\">{tokens} tokens · {cost}</text></g>",
            ty = y + 14,
            label = esc(&s.id),
            step = esc(&s.id),
            tokens = s.tokens,
            cost = s.cost_usd.display(),
            tx = 200.0 + width + 8.0,
        );
    }
    h.push_str("</svg>\n");
}

/// The table of steps.
fn html_steps(h: &mut String, report: &ProtocolReport) {
    h.push_str("<h2>Steps</h2>\n<table id=\"steps\"><tr><th>step</th><th>status</th><th>attempts</th><th>tokens</th><th>cost</th><th>QA</th></tr>\n");
    for s in &report.steps {
        let qa =
            s.qa.last()
                .map(|q| format!("<span class=\"{v}\">{v}</span>", v = esc(&q.verdict)))
                .unwrap_or_else(|| "—".into());
        let _ = writeln!(
            h,
            "<tr class=\"step-row\"><td><b>{id}</b> {title}</td><td class=\"status {st}\">{st}</td><td>{n}</td><td>{tokens}</td><td>{cost}</td><td>{qa}</td></tr>",
            id = esc(&s.id),
            title = esc(&s.title),
            st = s.status.as_str(),
            n = s.attempts.len(),
            tokens = s.tokens,
            cost = s.cost_usd.display(),
        );
    }
    h.push_str("</table>\n");
}

/// One step's attempts and QA verdicts.
fn html_step(h: &mut String, report: &ProtocolReport, s: &StepRow) {
    let _ = write!(
        h,
        "<h3>{} {}</h3>\n<table class=\"attempts\"><tr><th>attempt</th><th>engine</th><th>outcome</th><th>tokens in / out</th><th>cost</th><th>time</th><th>commit</th></tr>\n",
        esc(&s.id),
        esc(&s.title)
    );
    for a in &s.attempts {
        let _ = writeln!(
            h,
            "<tr class=\"attempt-row\"><td>{n} <code>{run}</code></td><td>{engine}{model}</td><td class=\"{c}\">{c}{err}</td><td>{i} / {o}</td><td>{cost}</td><td>{secs:.1}s</td><td>{commit}</td></tr>",
            n = a.attempt,
            run = esc(&a.run_id),
            engine = esc(&a.engine),
            model = a
                .model
                .as_deref()
                .map(|m| format!(" ({})", esc(m)))
                .unwrap_or_default(),
            c = esc(&a.classification),
            err = a
                .error
                .as_deref()
                .map(|e| format!(": {}", esc(e)))
                .unwrap_or_default(),
            i = a.usage["input"].as_u64().unwrap_or(0),
            o = a.usage["output"].as_u64().unwrap_or(0),
            cost = a
                .cost_usd
                .map(|c| Cost::from_usd(c).display())
                .unwrap_or_else(|| "—".into()),
            secs = a.duration_ms as f64 / 1000.0,
            commit = a
                .commit
                .as_deref()
                .map(|c| commit_html(report, c))
                .unwrap_or_else(|| "—".into()),
        );
    }
    h.push_str("</table>\n");
    for q in &s.qa {
        let _ = write!(
            h,
            "<div class=\"qa\"><p>QA <code>{run}</code>: <b class=\"{v}\">{v}</b>{reasons}</p>",
            run = esc(&q.run),
            v = esc(&q.verdict),
            reasons = if q.reasons.is_empty() {
                String::new()
            } else {
                format!(" — {}", esc(&q.reasons.join("; ")))
            },
        );
        if !q.checks.is_empty() {
            h.push_str(
                "<table class=\"checks\"><tr><th>check</th><th>exit</th><th>result</th></tr>",
            );
            for c in &q.checks {
                let _ = write!(
                    h,
                    "<tr class=\"check-row\"><td>{}</td><td>{}</td><td class=\"{r}\">{r}</td></tr>",
                    esc(&c.name),
                    c.exit_code.map_or_else(|| "—".into(), |x| x.to_string()),
                    r = if c.passed { "pass" } else { "fail" },
                );
            }
            h.push_str("</table>");
        }
        if let Some(r) = &q.report {
            let _ = write!(
                h,
                "<details><summary>QA report</summary><pre>{}</pre></details>",
                esc(r)
            );
        }
        h.push_str("</div>\n");
    }
}

/// The Markdown variant: what a pull request body says about the protocol (`pr open` puts it
/// there, scrubbed of secrets): steps, QA verdicts with their checks, cost, commits, the plan.
pub fn markdown(report: &ProtocolReport) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "## {}\n\n{}\n", report.id, report.description.trim());
    let _ = writeln!(
        m,
        "Status: **{}** · branch `{}` → `{}` · {} tokens · {}\n",
        report.status.map_or("unknown", |s| s.as_str()),
        report.branch,
        report.base_branch,
        report.tokens,
        report.cost_usd.display()
    );
    markdown_steps(&mut m, report);
    markdown_verdicts(&mut m, report);
    let runs: usize = report
        .steps
        .iter()
        .map(|s| s.attempts.len() + s.qa.len())
        .sum();
    let _ = writeln!(
        m,
        "\n### Cost\n\n{} tokens · {} over {runs} runs (per step in the table above).",
        report.tokens,
        report.cost_usd.display()
    );
    let commits: Vec<String> = report
        .steps
        .iter()
        .flat_map(|s| s.attempts.iter().map(move |a| (s, a)))
        .filter_map(|(s, a)| {
            let sha = a.commit.as_deref()?;
            let short = &sha[..12.min(sha.len())];
            let shown = match &report.commit_url {
                Some(url) => format!("[`{short}`]({})", url.replace("{sha}", sha)),
                None => format!("`{short}`"),
            };
            Some(format!(
                "- {} attempt {}: {shown} ({})",
                s.id, a.attempt, a.classification
            ))
        })
        .collect();
    if !commits.is_empty() {
        let _ = writeln!(m, "\n### Commits\n\n{}", commits.join("\n"));
    }
    if let Some(plan) = report.plan.as_deref().filter(|p| !p.trim().is_empty()) {
        let _ = writeln!(
            m,
            "\n### Plan\n\n<details><summary>plan.md</summary>\n\n{}\n\n</details>",
            plan.trim()
        );
    }
    m.push_str(
        "\n<sub>Generated by godzilla from the protocol's events, run records and notes; \
         `godzilla pr open` updates it.</sub>\n",
    );
    m
}

fn markdown_steps(m: &mut String, report: &ProtocolReport) {
    m.push_str("### Steps\n\n| Step | Status | Attempts | Tokens | Cost | QA |\n|---|---|---|---|---|---|\n");
    for s in &report.steps {
        let qa =
            s.qa.last()
                .map_or("—".to_owned(), |q| q.verdict.to_uppercase());
        let _ = writeln!(
            m,
            "| {} {} | {} | {} | {} | {} | {} |",
            s.id,
            s.title.replace('|', "\\|"),
            s.status.as_str(),
            s.attempts.len(),
            s.tokens,
            s.cost_usd.display(),
            qa
        );
    }
}

/// Every verdict, step by step and oldest first, with its reasons and checks.
fn markdown_verdicts(m: &mut String, report: &ProtocolReport) {
    m.push_str("\n### QA verdicts\n\n");
    let mut any = false;
    for s in &report.steps {
        for q in &s.qa {
            any = true;
            let _ = write!(
                m,
                "- **{}** {} (`{}`)",
                s.id,
                q.verdict.to_uppercase(),
                q.run
            );
            if !q.reasons.is_empty() {
                let _ = write!(m, ": {}", q.reasons.join("; ").replace('\n', " "));
            }
            m.push('\n');
            for c in &q.checks {
                let _ = writeln!(
                    m,
                    "  - check `{}`: {} (exit {})",
                    c.name,
                    if c.passed { "passed" } else { "failed" },
                    c.exit_code
                        .map_or_else(|| "-".to_owned(), |x| x.to_string())
                );
            }
        }
    }
    if !any {
        m.push_str("No QA verdicts yet.\n");
    }
}

/// The pull request body for `id`.
pub fn pr_body(ctx: &Context, id: &ProtocolId) -> Result<String, Error> {
    Ok(markdown(&build(ctx, id)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_report_forge_commit_urls_and_escaping() {
        assert_eq!(
            forge_commit_url("git@github.com:o/r.git").as_deref(),
            Some("https://github.com/o/r/commit/{sha}")
        );
        assert_eq!(
            forge_commit_url("https://gitlab.example.com/g/r.git").as_deref(),
            Some("https://gitlab.example.com/g/r/-/commit/{sha}")
        );
        assert_eq!(forge_commit_url("/srv/git/r.git"), None);
        assert_eq!(
            esc("<a href='x'>&</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
        );
    }
}
