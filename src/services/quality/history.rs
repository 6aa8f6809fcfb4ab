//! `qa show`: the verdicts recorded for a step.

use serde::Serialize;

use super::{Error, Verdict};
use crate::domain::{EventKind, ProtocolId, StepId};
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{self, Store};

/// One recorded verdict, as `qa show` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedVerdict {
    /// QA run id.
    pub run: String,
    /// The verdict.
    pub verdict: Verdict,
    /// A re-judgment (`qa --again`) of an attempt that had a verdict already.
    pub again: bool,
    /// When.
    pub at: String,
    /// The policy applied.
    pub policy: Option<serde_json::Value>,
    /// The exec run judged.
    pub exec_run: Option<String>,
    /// The code tree judged.
    pub tree: Option<String>,
    /// Why, one line each.
    pub reasons: Vec<String>,
    /// The checks run (`log` is the log's path on this machine); empty: no mechanical check
    /// ran.
    pub checks: Vec<serde_json::Value>,
    /// The report, relative to the worktree.
    pub report: Option<String>,
}

/// What `qa show` reports: every verdict of a step, and the last one in full.
#[derive(Clone, Debug, Serialize)]
pub struct QaHistory {
    /// Protocol.
    pub protocol: ProtocolId,
    /// Step.
    pub step: StepId,
    /// Every verdict, oldest first.
    pub verdicts: Vec<RecordedVerdict>,
    /// The last verdict's checks (with their logs' paths).
    pub checks: Vec<serde_json::Value>,
    /// The last verdict's report text.
    pub report_text: Option<String>,
}

/// Every recorded verdict of a step (`qa show`).
pub fn history(store: &Store, protocol: &ProtocolId, step: &StepId) -> Result<QaHistory, Error> {
    let events = crate::services::platform::protocols::sorted_log(store, protocol)?;
    let str_of = |m: &serde_json::Map<String, serde_json::Value>, k: &str| {
        m.get(k).and_then(|v| v.as_str()).map(str::to_owned)
    };
    let verdicts: Vec<RecordedVerdict> = events
        .iter()
        .filter(|e| e.step.as_ref() == Some(step))
        .filter_map(|e| {
            let verdict = match e.kind {
                EventKind::QaPassed => Verdict::Pass,
                EventKind::QaFailed => Verdict::Fail,
                EventKind::QaError => Verdict::Error,
                EventKind::QaSkippedPolicy => Verdict::Skipped,
                _ => return None,
            };
            let m = &e.metadata;
            let run = str_of(m, "run").unwrap_or_default();
            let checks = m
                .get("checks")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut c| {
                    if let Some(log) = c.get("log").and_then(|l| l.as_str()) {
                        c["log"] = store.local_dir().join(log).display().to_string().into();
                    }
                    c
                })
                .collect();
            let report = ProtocolRepository::qa_report_path(store, protocol, &run);
            Some(RecordedVerdict {
                verdict,
                again: m.get("again").and_then(|v| v.as_bool()).unwrap_or(false),
                at: e.ts.clone(),
                policy: m.get("policy").cloned(),
                exec_run: str_of(m, "exec_run"),
                tree: str_of(m, "tree"),
                reasons: m
                    .get("reasons")
                    .and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| r.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                checks,
                report: (!run.is_empty() && report.is_file())
                    .then(|| store.display(&report).into_owned()),
                run,
            })
        })
        .collect();
    let report_text = match verdicts.last().and_then(|v| v.report.as_ref()) {
        Some(_) => verdicts
            .last()
            .map(|v| ProtocolRepository::qa_report_path(store, protocol, &v.run))
            .map(|p| storage::read_optional(&p))
            .transpose()?
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        None => None,
    };
    Ok(QaHistory {
        protocol: protocol.clone(),
        step: step.clone(),
        checks: verdicts
            .last()
            .map(|v| v.checks.clone())
            .unwrap_or_default(),
        verdicts,
        report_text,
    })
}
