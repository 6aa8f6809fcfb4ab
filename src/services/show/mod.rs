//! `protocol show`: everything one protocol's files say, read from its worktree or, when it has
//! none, from its branch. A read service beside the step services: it needs the spec service
//! for the step specs, and the read model (below) to find the protocol.

mod branch;

use serde::Serialize;

use crate::context::Context;
use crate::domain::ProtocolId;
use crate::domain::ProtocolStatus;
use crate::domain::StepId;
use crate::domain::spec::StepSpec;
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::protocols::{self, Location, locate, status};
use crate::services::platform::storage;
use crate::services::platform::storage::repo::{ProtocolHeader, ProtocolRepository};
use crate::services::spec;

/// Errors reading a protocol for `protocol show`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Finding or reading the protocol failed.
    #[error(transparent)]
    Read(#[from] protocols::Error),
    /// Its spec cannot be read.
    #[error(transparent)]
    Spec(#[from] Box<spec::Error>),
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Read(e) => e.kind(),
            Self::Spec(e) => e.kind(),
        }
    }
}

impl From<storage::Error> for Error {
    fn from(e: storage::Error) -> Self {
        Self::Read(e.into())
    }
}

impl From<crate::process::Error> for Error {
    fn from(e: crate::process::Error) -> Self {
        Self::Read(e.into())
    }
}

/// One step in `protocol show`.
#[derive(Clone, Debug, Serialize)]
pub struct StepDetail {
    /// Step id.
    pub id: StepId,
    /// Title (first heading of its file).
    pub title: String,
    /// Status.
    pub status: crate::domain::StepStatus,
    /// Attempts started.
    pub attempts: u32,
    /// Let through without a QA verdict (policy `skip`, or approved by hand).
    pub without_qa: bool,
    /// Its spec, when the protocol has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<StepSpec>,
}

/// What `protocol show` reports.
#[derive(Clone, Debug, Serialize)]
pub struct ProtocolDetail {
    /// Header.
    pub header: ProtocolHeader,
    /// Status.
    pub status: Option<ProtocolStatus>,
    /// Where its state was read.
    pub location: Location,
    /// Tokens used so far.
    pub tokens: u64,
    /// Steps in order.
    pub steps: Vec<StepDetail>,
    /// Spec hash, when it has a spec.
    pub spec_hash: Option<String>,
    /// `plan.md`, when it has one.
    pub plan: Option<String>,
    /// The last events, oldest first.
    pub recent_events: Vec<crate::domain::Event>,
    /// Problems seen, and where its local branch and its remote copy differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Reads everything `protocol show` prints.
pub fn show_protocol(ctx: &Context, id: &ProtocolId) -> Result<ProtocolDetail, Error> {
    let warnings = status(ctx, Some(id))?
        .protocols
        .into_iter()
        .flat_map(|p| p.warnings)
        .collect();
    let store = match locate(ctx, id) {
        Ok(store) => store,
        Err(protocols::Error::NoWorktree { branch, .. }) => {
            let mut detail = branch::show_from_branch(ctx, id, &branch)?;
            detail.warnings = warnings;
            return Ok(detail);
        }
        Err(e) => return Err(e.into()),
    };
    let header = ProtocolRepository::load_header(&store, id)?;
    let state = ProtocolRepository::load_state(&store, id)?.state;
    let loaded_spec = spec::load_spec(&store, id).map_err(Box::new)?;
    let steps = state
        .steps
        .iter()
        .map(|s| {
            let text = std::fs::read_to_string(
                crate::services::platform::storage::repo::StepRepository::step_path(
                    &store, id, &s.id,
                ),
            )
            .unwrap_or_default();
            StepDetail {
                title: spec::step_title(&text, &s.id),
                id: s.id.clone(),
                status: s.status,
                attempts: s.attempts,
                without_qa: s.without_qa,
                spec: loaded_spec.as_ref().and_then(|sp| sp.step(&s.id).cloned()),
            }
        })
        .collect();
    let mut log = protocols::sorted_log(&store, id)?;
    let recent_events = log.split_off(log.len().saturating_sub(10));
    Ok(ProtocolDetail {
        location: Location::Worktree {
            path: store.root().display().to_string(),
        },
        status: state.status,
        tokens: state.tokens,
        spec_hash: loaded_spec.map(|s| s.hash()),
        plan: storage::read_optional(&ProtocolRepository::plan_path(&store, id))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        header,
        steps,
        recent_events,
        warnings,
    })
}
