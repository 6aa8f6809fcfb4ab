//! Jobs, their spool names, completion records and listings.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Error;
use crate::domain::{ProtocolId, StepId};

/// A job id: creation time in milliseconds (12 hex digits, so names sort by age) and a
/// random part.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// Validates a job id.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let ok = text.len() == 19
            && text.as_bytes()[12] == b'-'
            && text
                .char_indices()
                .all(|(i, c)| i == 12 || matches!(c, '0'..='9' | 'a'..='f'));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::BadJobId(text.to_owned()))
        }
    }

    pub(super) fn new(created_ms: u64, random: u64) -> Self {
        Self(format!(
            "{:012x}-{:06x}",
            created_ms & 0xffff_ffff_ffff,
            random & 0xff_ffff
        ))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        Self::parse(&value)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

/// Engine choices a job passes on to the service it calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineChoice {
    /// Engine override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Model override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Wall-clock limit of each engine run, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// What a job does: the seed's semantic queue operations, plus a command and a no-op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Plan a pending protocol (`protocol new --async`).
    PlanProtocol {
        /// The protocol.
        protocol: ProtocolId,
        /// Engine choices.
        #[serde(flatten)]
        engine: EngineChoice,
    },
    /// Run a protocol's whole loop (`protocol run --async`).
    RunProtocol {
        /// The protocol.
        protocol: ProtocolId,
        /// Stop once this step is completed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<StepId>,
        /// Approve steps that need a person.
        #[serde(default)]
        yes: bool,
        /// Engine choices.
        #[serde(flatten)]
        engine: EngineChoice,
        /// `--engine [PHASE=]ENGINE` values, as `protocol run` takes them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        engines: Vec<String>,
        /// `--model [PHASE=]MODEL` values.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        models: Vec<String>,
    },
    /// One attempt of one step (`step run --async`).
    ExecuteStep {
        /// The protocol.
        protocol: ProtocolId,
        /// The step.
        step: StepId,
        /// The step's attempt count when the job was enqueued: an attempt beyond it that
        /// finished means this job already ran.
        attempts_at_enqueue: u32,
        /// Engine choices.
        #[serde(flatten)]
        engine: EngineChoice,
    },
    /// QA of a step's last attempt (`qa --async`).
    EvaluateStep {
        /// The protocol.
        protocol: ProtocolId,
        /// The step.
        step: StepId,
        /// Engine choices.
        #[serde(flatten)]
        engine: EngineChoice,
    },
    /// Discovery of the repository (`discover --async`): the seed's onboarding job.
    OnboardProject {
        /// Also apply the discovered commands to the config.
        #[serde(default)]
        apply: bool,
        /// Engine choices.
        #[serde(flatten)]
        engine: EngineChoice,
    },
    /// Any program, by argv (never a shell), in the enqueuing worktree (`queue add`).
    Command {
        /// Program and arguments.
        argv: Vec<String>,
    },
    /// Does nothing, inside the worker: measures the queue itself.
    Noop,
}

impl JobKind {
    /// The protocol the job works on, if any.
    pub fn protocol(&self) -> Option<&ProtocolId> {
        match self {
            Self::PlanProtocol { protocol, .. }
            | Self::RunProtocol { protocol, .. }
            | Self::ExecuteStep { protocol, .. }
            | Self::EvaluateStep { protocol, .. } => Some(protocol),
            Self::OnboardProject { .. } | Self::Command { .. } | Self::Noop => None,
        }
    }

    /// A short description for listings.
    pub fn describe(&self) -> String {
        match self {
            Self::PlanProtocol { protocol, .. } => format!("plan {protocol}"),
            Self::RunProtocol { protocol, .. } => format!("run {protocol}"),
            Self::ExecuteStep { protocol, step, .. } => format!("step run {protocol} {step}"),
            Self::EvaluateStep { protocol, step, .. } => format!("qa {protocol} {step}"),
            Self::OnboardProject { .. } => "discover".to_owned(),
            Self::Command { argv } => format!("command {}", argv.join(" ")),
            Self::Noop => "no-op".to_owned(),
        }
    }
}

/// A job as delivered: immutable once in `new/`. (Unknown fields are not refused: serde
/// cannot combine that with the flattened kind.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Format version ([`JOB_VERSION`]).
    pub version: u32,
    /// The id.
    pub id: JobId,
    /// What to do.
    #[serde(flatten)]
    pub kind: JobKind,
    /// The worktree it was enqueued from (where the job runs).
    pub workdir: PathBuf,
    /// When it was enqueued (ms since the epoch).
    pub created_ms: u64,
    /// Attempts before it is recorded as failed.
    pub max_attempts: u32,
    /// First retry delay; it doubles with each attempt (capped at a minute).
    pub backoff_ms: u64,
}

impl Job {
    /// The delay before attempt `next` (2, 3, ...).
    pub fn backoff(&self, next: u32) -> Duration {
        let factor = 1u64 << next.saturating_sub(2).min(16);
        Duration::from_millis(self.backoff_ms.saturating_mul(factor).min(60_000))
    }
}

/// A spool entry's name: `ID.ATTEMPT` or `ID.ATTEMPT.NOT_BEFORE_MS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryName {
    /// The job.
    pub id: JobId,
    /// Which attempt this delivery is (1-based).
    pub attempt: u32,
    /// Earliest start (ms since the epoch), after a backoff.
    pub not_before_ms: Option<u64>,
}

impl EntryName {
    /// Parses a file name of `new/` or `cur/`.
    pub fn parse(name: &str) -> Option<Self> {
        let mut parts = name.split('.');
        let id = JobId::parse(parts.next()?).ok()?;
        let attempt = parts.next()?.parse().ok().filter(|a| *a > 0)?;
        let not_before_ms = match parts.next() {
            None => None,
            Some(t) => Some(t.parse().ok()?),
        };
        parts.next().is_none().then_some(Self {
            id,
            attempt,
            not_before_ms,
        })
    }

    /// The file name.
    pub fn file_name(&self) -> String {
        match self.not_before_ms {
            None => format!("{}.{}", self.id, self.attempt),
            Some(t) => format!("{}.{}.{t}", self.id, self.attempt),
        }
    }
}

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionStatus {
    /// Exit 0.
    Succeeded,
    /// Exit 3: the service ran and its answer is negative (QA FAIL, blocked, budget).
    Negative,
    /// Failed for good (attempts used up, or an error no retry can fix).
    Failed,
    /// Cancelled by `godzilla queue cancel`.
    Cancelled,
}

impl CompletionStatus {
    /// The name used in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Negative => "negative",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Where a job stands, in a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// Waiting for its retry time.
    Delayed,
    /// A worker runs it.
    Running,
    /// Claimed, but no process of it is left.
    Stale,
    /// Finished: exit 0.
    Succeeded,
    /// Finished: a negative answer.
    Negative,
    /// Finished: failed for good.
    Failed,
    /// Finished: cancelled.
    Cancelled,
}

impl JobState {
    /// The name used in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Delayed => "delayed",
            Self::Running => "running",
            Self::Stale => "stale",
            Self::Succeeded => CompletionStatus::Succeeded.as_str(),
            Self::Negative => CompletionStatus::Negative.as_str(),
            Self::Failed => CompletionStatus::Failed.as_str(),
            Self::Cancelled => CompletionStatus::Cancelled.as_str(),
        }
    }

    /// Whether the job has not finished: queued, delayed, running or stale.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Self::Queued | Self::Delayed | Self::Running | Self::Stale
        )
    }
}

impl From<CompletionStatus> for JobState {
    fn from(status: CompletionStatus) -> Self {
        match status {
            CompletionStatus::Succeeded => Self::Succeeded,
            CompletionStatus::Negative => Self::Negative,
            CompletionStatus::Failed => Self::Failed,
            CompletionStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that `{:<9}` lines the states up.
        f.pad(self.as_str())
    }
}

/// The completion record, `done/ID.json`, written once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// The job, kept so it can be retried and shown.
    pub job: Job,
    /// How it ended.
    pub status: CompletionStatus,
    /// The exit code `queue wait` returns.
    pub exit_code: i32,
    /// Why it failed or was cancelled, or what the handler noted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Which attempt finished.
    pub attempts: u32,
    /// The worker that finished it.
    pub worker: String,
    /// When that attempt was claimed.
    pub claimed_ms: u64,
    /// When it finished.
    pub finished_ms: u64,
    /// Microseconds from the claim rename to the start of the job.
    pub claim_to_start_us: u64,
    /// When that attempt was claimed, in microseconds since the epoch (0 in records of
    /// older builds).
    #[serde(default)]
    pub claimed_us: u64,
}

/// One job in a listing.
#[derive(Clone, Debug, Serialize)]
pub struct JobView {
    /// The id.
    pub id: JobId,
    /// What it does.
    pub what: String,
    /// The protocol it works on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolId>,
    /// Where it stands.
    pub state: JobState,
    /// The current (or last) attempt.
    pub attempt: u32,
    /// The worker running it (or that finished it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Seconds since it was claimed (running) or enqueued (queued).
    pub age_secs: u64,
    /// Exit code, once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed, is stale, or waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_round_trip_and_reject_garbage() {
        let id = JobId::new(0x18c_0000_0000, 0xabcdef);
        for nb in [None, Some(12345)] {
            let name = EntryName {
                id: id.clone(),
                attempt: 2,
                not_before_ms: nb,
            };
            assert_eq!(EntryName::parse(&name.file_name()), Some(name));
        }
        for bad in [
            "x",
            "018c00000000-abcdef",
            "018c00000000-abcdef.0",
            "018c00000000-abcdef.1.x",
            "018c00000000-abcdef.1.2.3",
            "../etc.1",
        ] {
            assert_eq!(EntryName::parse(bad), None, "{bad}");
        }
    }
}
