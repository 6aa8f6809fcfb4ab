//! The QA report committed with a verdict, and the findings a retry is given.

use super::QualityResult;

/// The heading of the part of a report that is feedback for the next attempt: what the
/// verdict found, without run ids, timings or machine-local paths, so the same findings make
/// the same retry prompt (which recordings are keyed on).
const FINDINGS: &str = "## Findings";

/// A log's path as committed files name it: under `$GIT_COMMON_DIR/godzilla/`, which differs
/// from clone to clone.
fn portable_log(log: &std::path::Path, local_dir: &std::path::Path) -> String {
    log.strip_prefix(local_dir).map_or_else(
        |_| log.display().to_string(),
        |rel| format!("$GIT_COMMON_DIR/godzilla/{}", rel.display()),
    )
}

pub(super) fn render_report(r: &QualityResult, local_dir: &std::path::Path) -> String {
    let mut out = format!(
        "# QA {} {}\n\nVerdict: {:?}\nPolicy: {:?}\nRun: {}\nJudged: exec run {} at commit {}, code tree {}\n",
        r.protocol,
        r.step,
        r.verdict,
        r.policy,
        r.run_id,
        r.exec_run.as_deref().unwrap_or("-"),
        r.commit.as_deref().unwrap_or("-"),
        r.tree.as_deref().unwrap_or("-")
    );
    out.push_str("\n## Checks\n");
    if r.checks.is_empty() {
        out.push_str(
            "No mechanical check ran: no [checks] are configured in .godzilla/config.toml.\n",
        );
    }
    for c in &r.checks {
        out.push_str(&format!(
            "- `{}`: {} (exit {}, {} ms{}) log sha256 {}, log {}\n",
            c.argv.join(" "),
            if c.passed { "passed" } else { "FAILED" },
            c.exit_code
                .map_or_else(|| "-".to_owned(), |e| e.to_string()),
            c.duration_ms,
            c.tests
                .map(|t| format!(", {} passed / {} failed", t.passed, t.failed))
                .unwrap_or_default(),
            c.log_sha256,
            portable_log(&c.log, local_dir)
        ));
    }
    if let Some(review) = &r.review {
        out.push_str(&format!(
            "- review: {}{}, {}, {} tokens\n",
            review.engine,
            review
                .model
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default(),
            review.classification.as_str(),
            review.tokens,
        ));
        out.push_str(&format!("\nTranscript: {}\n", review.transcript));
    }
    out.push('\n');
    out.push_str(FINDINGS);
    out.push('\n');
    for reason in &r.reasons {
        out.push_str(&format!("- {reason}\n"));
    }
    if r.reasons.is_empty() {
        out.push_str("- none\n");
    }
    if r.checks.is_empty() {
        out.push_str("- no mechanical check ran\n");
    }
    for c in r.checks.iter().filter(|c| !c.passed) {
        out.push_str(&format!("\n### Check `{}` failed\n", c.name));
        if let Some(t) = c.tests {
            out.push_str(&format!("{} passed / {} failed\n", t.passed, t.failed));
        }
        if !c.failing_tests.is_empty() {
            out.push_str(&format!("Failing tests: {}\n", c.failing_tests.join(", ")));
        }
        if let Some(tail) = c.output_tail.as_deref().filter(|t| !t.is_empty()) {
            out.push_str(&format!(
                "Last lines of its output:\n\n```text\n{tail}\n```\n"
            ));
        }
    }
    if let Some(review) = &r.review {
        out.push_str(&format!("\n### Review\n\n{}\n", review.text));
    }
    out
}

/// The part of a report that is feedback for the next attempt (the whole report when it
/// predates the findings section).
pub(super) fn findings(report: &str) -> &str {
    report.find(FINDINGS).map_or(report, |i| &report[i..])
}
