//! The note a verdict adds to the commit it judged, and its restoration after a protocol run
//! was killed while the note waited for the next commit ([`super::QaOptions::carry_note`]).

use serde_json::{Map, Value};

use super::Error;
use crate::domain::{Event, EventKind, ProtocolId, StepId};
use crate::git::Git;
use crate::git::notes::Notes;
use crate::services::platform::storage::Store;

/// The note record of a verdict, from its event's metadata (`meta`, which holds everything the
/// note says) and the commit that recorded it, if one did. Built the same way when the verdict
/// is recorded and when [`restore_note`] rebuilds it, so both write the same line.
pub(super) fn qa_note(
    protocol: &ProtocolId,
    step: &StepId,
    meta: &Map<String, Value>,
    qa_commit: Option<&str>,
) -> Value {
    let field = |key: &str| meta.get(key).cloned().unwrap_or(Value::Null);
    let checks: Vec<Value> = meta
        .get("checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| serde_json::json!({"name": c.get("name"), "exit_code": c.get("exit_code")}))
        .collect();
    serde_json::json!({
        "v": 1, "kind": "qa", "protocol": protocol, "step": step, "run": field("run"),
        "exec_run": field("exec_run"), "verdict": field("verdict"), "tree": field("tree"),
        "policy": field("policy"), "tokens": field("tokens"),
        "again": meta.get("again").and_then(Value::as_bool).unwrap_or(false),
        "cost_usd": field("cost_usd"), "checks": checks, "qa_commit": qa_commit,
    })
}

/// Adds the note of the log's last verdict to the commit it judged when that commit lacks it:
/// a protocol run killed after a verdict and before the commit that was to carry its note.
/// Called when a resumed run finds state left uncommitted, which such a run leaves (the
/// verdict's files wait for the same commit). Returns whether it added the note.
pub fn restore_note(store: &Store, git: &Git, log: &[Event]) -> Result<bool, Error> {
    let Some(verdict) = log.iter().rev().find(|e| {
        matches!(
            e.kind,
            EventKind::QaPassed | EventKind::QaFailed | EventKind::QaError
        )
    }) else {
        return Ok(false);
    };
    let meta = &verdict.metadata;
    let text = |key: &str| meta.get(key).and_then(Value::as_str);
    let (Some(protocol), Some(step), Some(run), Some(exec_run)) = (
        verdict.protocol.as_ref(),
        verdict.step.as_ref(),
        text("run"),
        text("exec_run"),
    ) else {
        return Ok(false);
    };
    let Some(commit) = super::commit_of_run(git, exec_run)? else {
        return Ok(false);
    };
    let notes = Notes::new(git.clone(), store.local_dir());
    let noted = notes.show(&commit)?.iter().any(|line| {
        serde_json::from_str::<Value>(line).is_ok_and(|v| {
            v.get("kind").and_then(Value::as_str) == Some("qa")
                && v.get("run").and_then(Value::as_str) == Some(run)
        })
    });
    if noted {
        return Ok(false);
    }
    // Carried notes are those of verdicts whose commit was deferred: no QA commit.
    let note = qa_note(protocol, step, meta, None).to_string();
    notes.append_packed(&commit, &note)?;
    Ok(true)
}
