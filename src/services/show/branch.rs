//! `protocol show` for a protocol that only exists on a branch (a local `godzilla/*` branch no
//! worktree has checked out, or a remote-tracking copy fetched by `godzilla sync`): its files
//! are read from the branch's tree with `git show`, nothing is checked out or written.

use super::{Error, ProtocolDetail, StepDetail};
use crate::context::Context;
use crate::domain::{ProtocolId, fold};
use crate::git::Git;
use crate::services::platform::protocols::{self, Location};
use crate::services::platform::storage::events;
use crate::services::platform::storage::repo::ProtocolHeader;
use crate::services::spec;

/// Reads the protocol from `branch` (`godzilla/...` or `<remote>/godzilla/...`).
pub(super) fn show_from_branch(
    ctx: &Context,
    id: &ProtocolId,
    branch: &str,
) -> Result<ProtocolDetail, Error> {
    let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    let missing = || protocols::Error::NoWorktree {
        id: id.clone(),
        branch: branch.to_owned(),
    };
    let mut rev = None;
    for full in [
        format!("refs/heads/{branch}"),
        format!("refs/remotes/{branch}"),
    ] {
        if git
            .run_unchecked(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &full,
            ])?
            .success()
        {
            rev = Some(full);
            break;
        }
    }
    let rev = rev.ok_or_else(missing)?;
    let show = |rel: &str| -> Result<Option<Vec<u8>>, Error> {
        let spec = format!("{rev}:.godzilla/protocols/{id}/{rel}");
        let out = git.run_unchecked(&["show", "--end-of-options", &spec])?;
        Ok(out.success().then_some(out.stdout))
    };
    let header: ProtocolHeader = show("protocol.toml")?
        .and_then(|b| toml::from_str(&String::from_utf8_lossy(&b)).ok())
        .ok_or_else(missing)?;
    let read = events::parse(&show("events.jsonl")?.unwrap_or_default());
    let state = fold(id, &read.events);
    let mut steps = Vec::new();
    for s in &state.steps {
        let text = show(&format!("steps/{}.md", s.id))?.unwrap_or_default();
        steps.push(StepDetail {
            title: spec::step_title(&String::from_utf8_lossy(&text), &s.id),
            id: s.id.clone(),
            status: s.status,
            attempts: s.attempts,
            without_qa: s.without_qa,
            spec: None,
        });
    }
    let mut log = read.events;
    log.sort_by(crate::domain::Event::log_order);
    let recent_events = log.split_off(log.len().saturating_sub(10));
    Ok(ProtocolDetail {
        header,
        status: state.status,
        location: Location::Branch {
            name: branch.to_owned(),
        },
        tokens: state.tokens,
        steps,
        spec_hash: None,
        plan: show("plan.md")?.map(|b| String::from_utf8_lossy(&b).into_owned()),
        recent_events,
        warnings: Vec::new(),
    })
}
