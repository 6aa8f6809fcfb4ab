//! Leases across machines: which runner may advance a protocol or a step, decided by the git
//! remote all runners share.
//!
//! A lease is a ref `refs/godzilla/leases/<protocol>/protocol` or
//! `refs/godzilla/leases/<protocol>/steps/<step>` on the remote, pointing at a *claim commit*
//! whose message holds who claimed it and until when. Claiming pushes a new claim commit with
//! `--force-with-lease=<ref>:<what we saw>` (empty: the ref must not exist), so the remote's ref
//! transaction lets exactly one racer through; then `ls-remote` confirms the ref names our
//! commit. Each claim commit is unique (a random nonce and the holder are in it): pushing an
//! object the remote already has is "up to date" and exits 0, so two racers pushing the same
//! commit would both think they won.
//!
//! An expired lease may be taken over (the same CAS, expecting the expired claim). The claim
//! this clone holds is remembered in a local ref `refs/godzilla/held/...`; before publishing,
//! a runner checks that the remote still names that claim and that it has not expired, and a
//! runner that lost its lease publishes nothing.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::domain::{ProtocolId, StepId};
use crate::git::Git;
use crate::git::remote::{self, RefStatus, Remote};

use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::infra::{Infra, infra_from};

/// Errors taking, checking or releasing a lease.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Talking to the remote failed.
    #[error(transparent)]
    Remote(#[from] remote::Error),
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// Someone else holds an unexpired lease.
    #[error("{target} is leased by {holder} until {expires}")]
    Held {
        /// The lease.
        target: LeaseTarget,
        /// Who holds it.
        holder: String,
        /// When it expires (RFC 3339).
        expires: String,
    },
    /// Another runner won the race for the same lease.
    #[error("{target} was claimed by another runner at the same time")]
    LostRace {
        /// The lease.
        target: LeaseTarget,
    },
    /// This clone no longer holds the lease; nothing may be published under it.
    #[error("the lease on {target} is lost: {why}")]
    Lost {
        /// The lease.
        target: LeaseTarget,
        /// What happened.
        why: String,
    },
    /// The remote ref points at something that is not a godzilla claim.
    #[error("{refname} on the remote is not a godzilla lease claim")]
    NotAClaim {
        /// The ref.
        refname: String,
    },
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Remote(remote::Error::UnknownRemote { .. }) => ErrorKind::Usage,
            Self::Remote(_) | Self::NotAClaim { .. } => ErrorKind::Failed,
            Self::Infra(e) => e.kind(),
            // Someone else has the work: the outcome, not a failure.
            Self::Held { .. } | Self::LostRace { .. } | Self::Lost { .. } => ErrorKind::Negative,
        }
    }
}

/// What a lease covers: a whole protocol or one of its steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseTarget {
    /// The protocol.
    pub protocol: ProtocolId,
    /// The step, for a step lease.
    pub step: Option<StepId>,
}

impl std::fmt::Display for LeaseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.step {
            Some(s) => write!(f, "step {s} of {}", self.protocol),
            None => write!(f, "protocol {}", self.protocol),
        }
    }
}

impl LeaseTarget {
    /// Parses `PROTOCOL` or `PROTOCOL/STEP`.
    pub fn parse(text: &str) -> Result<Self, crate::domain::NameError> {
        let (p, s) = match text.split_once('/') {
            Some((p, s)) => (p, Some(s)),
            None => (text, None),
        };
        Ok(Self {
            protocol: ProtocolId::parse(p)?,
            step: s.map(StepId::parse).transpose()?,
        })
    }

    fn suffix(&self) -> String {
        match &self.step {
            Some(s) => format!("{}/steps/{s}", self.protocol),
            None => format!("{}/protocol", self.protocol),
        }
    }

    /// The lease ref on the remote.
    pub fn refname(&self) -> String {
        format!("refs/godzilla/leases/{}", self.suffix())
    }

    fn held_ref(&self, remote: &Remote) -> String {
        format!("refs/godzilla/held/{}/{}", remote.name(), self.suffix())
    }

    fn seen_ref(&self, remote: &Remote) -> String {
        format!("refs/godzilla/seen/{}/{}", remote.name(), self.suffix())
    }
}

/// The content of a claim commit's message (one JSON line after the subject).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claim {
    /// Always `godzilla-lease`.
    pub kind: String,
    /// The lease ref.
    pub lease: String,
    /// Who claimed it.
    pub holder: String,
    /// Random, so that no two claims are the same object.
    pub nonce: String,
    /// When it was claimed (seconds since the epoch).
    pub acquired: u64,
    /// When it expires (seconds since the epoch).
    pub expires: u64,
}

/// A lease this clone holds.
#[derive(Clone, Debug, Serialize)]
pub struct Held {
    /// The lease ref.
    pub lease: String,
    /// The claim commit.
    pub claim: String,
    /// Who holds it.
    pub holder: String,
    /// When it expires (RFC 3339).
    pub expires: String,
    /// The previous holder, when an expired lease was taken over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub took_over_from: Option<String>,
}

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

fn now_secs(ctx: &Context) -> u64 {
    ctx.clock
        .now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Who this runner is: the CI job when there is one, otherwise host and pid.
pub fn default_holder(ctx: &Context) -> String {
    let env = &ctx.env.all;
    if let Some(id) = env.get("GITHUB_RUN_ID") {
        let attempt = env.get("GITHUB_RUN_ATTEMPT").map_or("1", String::as_str);
        let job = env.get("GITHUB_JOB").map_or("job", String::as_str);
        return format!("github:{id}.{attempt}:{job}");
    }
    if let Some(id) = env.get("CI_JOB_ID") {
        return format!("gitlab:{id}");
    }
    let host = env.get("HOSTNAME").map_or("host", String::as_str);
    format!("{host}:{}", std::process::id())
}

fn read_claim(git: &Git, oid: &str, refname: &str) -> Result<Claim, Error> {
    let not_claim = || Error::NotAClaim {
        refname: refname.to_owned(),
    };
    let out = git.run_unchecked(&["cat-file", "commit", "--end-of-options", oid])?;
    if !out.success() {
        return Err(not_claim());
    }
    let text = out.stdout_text();
    let body = text.split_once("\n\n").map_or("", |(_, b)| b);
    body.lines()
        .find_map(|l| serde_json::from_str::<Claim>(l).ok())
        .filter(|c| c.kind == "godzilla-lease")
        .ok_or_else(not_claim)
}

/// The claim a remote ref points at, fetched so it can be read.
fn remote_claim(
    git: &Git,
    remote: &Remote,
    target: &LeaseTarget,
) -> Result<Option<(String, Claim)>, Error> {
    let refname = target.refname();
    let Some(oid) = remote::ls_remote(git, remote, &refname)? else {
        return Ok(None);
    };
    let have = git
        .run_unchecked(&[
            "cat-file",
            "-e",
            "--end-of-options",
            &format!("{oid}^{{commit}}"),
        ])?
        .success();
    if !have {
        remote::fetch(
            git,
            remote,
            &[format!("+{refname}:{}", target.seen_ref(remote))],
        )?;
    }
    let claim = read_claim(git, &oid, &refname)?;
    Ok(Some((oid, claim)))
}

fn write_claim(git: &Git, claim: &Claim) -> Result<String, Error> {
    let empty_tree = git
        .run_with_stdin(&["hash-object", "-w", "-t", "tree", "--stdin"], b"")?
        .trim()
        .to_owned();
    let message = format!(
        "godzilla lease {}\n\n{}\n",
        claim.lease,
        serde_json::to_string(claim).unwrap_or_default()
    );
    // Claims are machine records: a CI clone may have no identity configured.
    Ok(git
        .run_with_stdin(
            &[
                "-c",
                "user.name=godzilla",
                "-c",
                "user.email=godzilla@localhost",
                "commit-tree",
                "-F",
                "-",
                "--end-of-options",
                &empty_tree,
            ],
            message.as_bytes(),
        )?
        .trim()
        .to_owned())
}

/// Claims `target` on `remote` for `ttl`, taking over an expired lease; `Err(Held)` when an
/// unexpired one exists, `Err(LostRace)` when another runner claimed it at the same time.
pub fn acquire(
    ctx: &Context,
    git: &Git,
    remote: &Remote,
    target: &LeaseTarget,
    holder: &str,
    ttl: Duration,
) -> Result<Held, Error> {
    let refname = target.refname();
    remote::validate_ref(&refname)?;
    let now = now_secs(ctx);
    let current = remote_claim(git, remote, target)?;
    let mut took_over_from = None;
    if let Some((_, claim)) = &current {
        if claim.expires > now {
            return Err(Error::Held {
                target: target.clone(),
                holder: claim.holder.clone(),
                expires: rfc3339(claim.expires),
            });
        }
        took_over_from = Some(claim.holder.clone());
    }
    let claim = Claim {
        kind: "godzilla-lease".into(),
        lease: refname.clone(),
        holder: holder.to_owned(),
        nonce: format!("{}{}", ctx.ids.token(), ctx.ids.token()),
        acquired: now,
        expires: now.saturating_add(ttl.as_secs()),
    };
    let oid = write_claim(git, &claim)?;
    let expect = current.as_ref().map_or("", |(o, _)| o.as_str());
    let pushed = remote::push(
        git,
        remote,
        &[format!("{oid}:{refname}")],
        Some(&format!("{refname}:{expect}")),
    )?;
    let accepted = pushed
        .iter()
        .any(|r| r.dst == refname && r.status == RefStatus::Updated);
    // The push result alone is not proof: confirm the remote names our unique claim.
    let confirmed = remote::ls_remote(git, remote, &refname)?;
    if !accepted || confirmed.as_deref() != Some(oid.as_str()) {
        return Err(Error::LostRace {
            target: target.clone(),
        });
    }
    git.run(&[
        "update-ref",
        "--end-of-options",
        &target.held_ref(remote),
        &oid,
    ])?;
    Ok(Held {
        lease: refname,
        claim: oid,
        holder: holder.to_owned(),
        expires: rfc3339(claim.expires),
        took_over_from,
    })
}

/// Checks that this clone still holds `target`: the remote names our claim and it has not
/// expired. Publishing under a lease must call this first and publish nothing on `Err`.
pub fn check(ctx: &Context, git: &Git, remote: &Remote, target: &LeaseTarget) -> Result<(), Error> {
    let lost = |why: String| Error::Lost {
        target: target.clone(),
        why,
    };
    let held_ref = target.held_ref(remote);
    let out = git.run_unchecked(&[
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        &held_ref,
    ])?;
    if !out.success() {
        return Err(lost("this clone never claimed it".into()));
    }
    let ours = out.stdout_text().trim().to_owned();
    let claim = read_claim(git, &ours, &held_ref)?;
    let now = now_secs(ctx);
    if claim.expires <= now {
        return Err(lost(format!("it expired at {}", rfc3339(claim.expires))));
    }
    match remote_claim(git, remote, target)? {
        Some((oid, _)) if oid == ours => Ok(()),
        Some((_, other)) => Err(lost(format!("{} holds it now", other.holder))),
        None => Err(lost("it was released on the remote".into())),
    }
}

/// Gives `target` back: deletes the remote ref if it still names our claim, and forgets it.
pub fn release(git: &Git, remote: &Remote, target: &LeaseTarget) -> Result<bool, Error> {
    let held_ref = target.held_ref(remote);
    let out = git.run_unchecked(&[
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        &held_ref,
    ])?;
    if !out.success() {
        return Ok(false);
    }
    let ours = out.stdout_text().trim().to_owned();
    let refname = target.refname();
    let pushed = remote::push(
        git,
        remote,
        &[format!(":{refname}")],
        Some(&format!("{refname}:{ours}")),
    )?;
    git.run(&["update-ref", "-d", "--end-of-options", &held_ref])?;
    Ok(pushed
        .iter()
        .any(|r| r.dst == refname && r.status == RefStatus::Updated))
}
