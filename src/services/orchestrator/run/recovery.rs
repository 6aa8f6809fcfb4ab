//! What a protocol run finds left behind by one that was killed.

use super::super::Error;
use crate::context::Context;
use crate::domain::{EventKind, ProtocolId};
use crate::git::Git;
use crate::services::platform::protocols::sorted_log;
use crate::services::platform::storage::{self, Store};
use crate::services::platform::telemetry;
use crate::services::quality;

/// Commits state left uncommitted by a run that was killed, so QA and the next attempt see a
/// clean worktree, and adds the note of a verdict that was waiting for the next commit
/// ([`quality::restore_note`]). Returns what it did, for the run's summary.
pub(super) fn recover(
    ctx: &Context,
    store: &Store,
    id: &ProtocolId,
    git: &Git,
) -> Result<Vec<String>, Error> {
    // With the run lock and the protocol lock held nobody else writes here: temp files are
    // leftovers of a killed write.
    {
        let _lock = store.lock_protocol(id)?;
        remove_temp_files(&store.protocol_dir(id))?;
    }
    if git.dirty_paths()?.is_empty() {
        return Ok(Vec::new());
    }
    let log = sorted_log(store, id)?;
    let unrecorded = log
        .iter()
        .rev()
        .find(|e| e.kind == EventKind::StepExecuted || e.kind == EventKind::StepExecutionFailed)
        .and_then(|e| Some((e.step.clone()?, e.metadata.get("run")?.as_str()?.to_owned())))
        .filter(|(_, run)| quality::commit_of_run(git, run).ok().flatten().is_none());
    telemetry::log_protocol_event(
        ctx,
        store,
        id,
        None,
        EventKind::Recovered,
        "committed state found uncommitted",
        Default::default(),
    )?;
    let trailers = match &unrecorded {
        Some((step, run)) => {
            format!("Godzilla-Protocol: {id}\nGodzilla-Step: {step}\nGodzilla-Run: {run}\n")
        }
        None => format!("Godzilla-Protocol: {id}\n"),
    };
    git.commit_all(&format!(
        "chore({id}): record uncommitted state\n\n{trailers}"
    ))?;
    let mut done = vec![
        "committed state found uncommitted (answers, controls, or an interrupted run)".to_owned(),
    ];
    // A run killed after a verdict leaves its files uncommitted and may leave its note unadded.
    if quality::restore_note(store, git, &log).map_err(Box::new)? {
        done.push("added the note of the last verdict, which its run did not".to_owned());
    }
    Ok(done)
}

fn remove_temp_files(dir: &std::path::Path) -> Result<(), Error> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_temp_files(&path)?;
        } else if name.starts_with(".gz-") && name.ends_with(".tmp") {
            std::fs::remove_file(&path).map_err(|e| storage::Error::io(&path, e))?;
        }
    }
    Ok(())
}
