//! The event stream as people read it: `godzilla events` (every protocol's log and the
//! project's, merged by time, filtered, followed live as other processes append) and
//! `godzilla step log` (a step's live transcripts).
//!
//! Following is polling: logs are plain files other processes append to, there may be many
//! of them across worktrees, and a poll every fraction of a second costs nothing next to an
//! engine run while working the same over SSH, NFS and containers.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::context::Context;
use crate::domain::{Event, EventKind, ProtocolId, StepId};
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::inspect::{self, Source};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::protocols::{self, Location};
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{Store, events, lines};
use crate::services::platform::telemetry::transcript::{self, Entry};

/// Errors of the feed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--type` names no event type.
    #[error("unknown event type `{0}`")]
    UnknownType(String),
    /// `--since` is neither a time nor a duration.
    #[error("`{0}` is neither an RFC 3339 time nor a duration such as `10m`")]
    BadSince(String),
    /// Finding or reading a protocol failed.
    #[error(transparent)]
    Protocols(#[from] protocols::Error),
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Protocols(e) => e.kind(),
            Self::Infra(e) => e.kind(),
            Self::UnknownType(_) | Self::BadSince(_) => ErrorKind::Usage,
        }
    }
}

/// Which events to show.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only events at or after this time.
    pub since: Option<SystemTime>,
    /// Only these types (all when empty).
    pub types: Vec<EventKind>,
}

impl Filter {
    /// Builds a filter from `--since` and `--type` values. A type may end in `*` to match a
    /// prefix (`qa_*`).
    pub fn parse(ctx: &Context, since: Option<&str>, types: &[String]) -> Result<Self, Error> {
        let since = since
            .map(|s| {
                humantime::parse_rfc3339_weak(s)
                    .ok()
                    .or_else(|| {
                        humantime::parse_duration(s)
                            .ok()
                            .and_then(|d| ctx.clock.now().checked_sub(d))
                    })
                    .ok_or_else(|| Error::BadSince(s.to_owned()))
            })
            .transpose()?;
        let mut kinds = Vec::new();
        for name in types.iter().flat_map(|t| t.split(',')).map(str::trim) {
            if name.is_empty() {
                continue;
            }
            let matched: Vec<EventKind> = EventKind::ALL
                .iter()
                .copied()
                .filter(|k| match name.strip_suffix('*') {
                    Some(prefix) => k.as_str().starts_with(prefix),
                    None => k.as_str() == name,
                })
                .collect();
            if matched.is_empty() {
                return Err(Error::UnknownType(name.to_owned()));
            }
            kinds.extend(matched);
        }
        Ok(Self {
            since,
            types: kinds,
        })
    }

    /// Whether `event` passes.
    pub fn accepts(&self, event: &Event) -> bool {
        if !self.types.is_empty() && !self.types.contains(&event.kind) {
            return false;
        }
        match self.since {
            None => true,
            Some(since) => humantime::parse_rfc3339_weak(&event.ts).is_ok_and(|t| t >= since),
        }
    }
}

/// One log being read.
struct Log {
    path: PathBuf,
    offset: u64,
    /// The protocol whose log it is (`None` for the project's).
    protocol: Option<ProtocolId>,
    /// Keeps a branch copy alive while its log is read.
    _copy: Option<Source>,
}

/// Events from every log in scope, handed out as they appear.
pub struct Feed {
    only: Option<ProtocolId>,
    filter: Filter,
    logs: Vec<Log>,
    last_scan: Option<std::time::Instant>,
}

impl Feed {
    /// A feed over `only`'s log, or over every protocol's and the project's.
    pub fn open(ctx: &Context, only: Option<&ProtocolId>, filter: Filter) -> Result<Self, Error> {
        let mut feed = Self {
            only: only.cloned(),
            filter,
            logs: Vec::new(),
            last_scan: None,
        };
        if let Some(id) = only {
            // Fails early, with a clear error, for a protocol that does not exist.
            feed.add_protocol(ctx, id)?;
        }
        feed.rescan(ctx)?;
        Ok(feed)
    }

    fn add_protocol(&mut self, ctx: &Context, id: &ProtocolId) -> Result<(), Error> {
        let source = inspect::open(ctx, id)?;
        let path = ProtocolRepository::events_path(&source.store, id);
        if self.logs.iter().any(|l| l.path == path) {
            return Ok(());
        }
        let keep = matches!(source.location, Location::Branch { .. }).then_some(source);
        self.logs.push(Log {
            path,
            offset: 0,
            protocol: Some(id.clone()),
            _copy: keep,
        });
        Ok(())
    }

    /// Looks for logs that appeared (a new protocol, a new worktree).
    fn rescan(&mut self, ctx: &Context) -> Result<(), Error> {
        self.last_scan = Some(std::time::Instant::now());
        if self.only.is_some() {
            return Ok(());
        }
        let project = Store::new(&ctx.paths).project_events_path();
        if !self.logs.iter().any(|l| l.path == project) {
            self.logs.push(Log {
                path: project,
                offset: 0,
                protocol: None,
                _copy: None,
            });
        }
        let summary = protocols::status(ctx, None)?;
        for p in summary.protocols {
            // A protocol is read from one place (its worktree, else its branch, which does
            // not grow while nobody works on it); a new worktree for it is not followed.
            let known = self.logs.iter().any(|l| l.protocol.as_ref() == Some(&p.id));
            if !known {
                self.add_protocol(ctx, &p.id)?;
            }
        }
        Ok(())
    }

    /// Events appended since the last call (everything on the first), oldest first.
    pub fn poll(&mut self, ctx: &Context) -> Result<Vec<Event>, Error> {
        if self
            .last_scan
            .is_none_or(|t| t.elapsed() > Duration::from_secs(2))
        {
            self.rescan(ctx)?;
        }
        let mut out = Vec::new();
        for log in &mut self.logs {
            let (new, offset) = lines::read_from(&log.path, log.offset)?;
            log.offset = offset;
            // Whole lines only (the reader keeps a torn tail for later): end the last one.
            let text: String = new.iter().map(|l| format!("{l}\n")).collect();
            out.extend(
                events::parse(text.as_bytes())
                    .events
                    .into_iter()
                    .filter(|e| self.filter.accepts(e)),
            );
        }
        out.sort_by(|a, b| (&a.ts, a.lamport, &a.id).cmp(&(&b.ts, b.lamport, &b.id)));
        Ok(out)
    }
}

/// A step's transcripts, read as they grow.
pub struct StepLog {
    local_dir: PathBuf,
    protocol: ProtocolId,
    step: StepId,
    offsets: Vec<(PathBuf, u64)>,
}

impl StepLog {
    /// Opens the transcripts of `step`; fails when the protocol does not exist.
    pub fn open(ctx: &Context, protocol: &ProtocolId, step: &StepId) -> Result<Self, Error> {
        // Resolving the protocol proves it exists (in a worktree or on a branch).
        let source = inspect::open(ctx, protocol)?;
        Ok(Self {
            local_dir: source.store.local_dir().to_path_buf(),
            protocol: protocol.clone(),
            step: step.clone(),
            offsets: Vec::new(),
        })
    }

    /// Entries written since the last call, run by run in start order.
    pub fn poll(&mut self) -> Result<Vec<Entry>, Error> {
        let mut out = Vec::new();
        for file in transcript::list(&self.local_dir, self.protocol.as_str()) {
            if file.step.as_deref() != Some(self.step.as_str()) {
                continue;
            }
            let i = match self.offsets.iter().position(|(p, _)| *p == file.path) {
                Some(i) => i,
                None => {
                    self.offsets.push((file.path.clone(), 0));
                    self.offsets.len() - 1
                }
            };
            let (new, offset) = lines::read_from(&file.path, self.offsets[i].1)?;
            self.offsets[i].1 = offset;
            out.extend(transcript::parse(&new));
        }
        Ok(out)
    }
}
