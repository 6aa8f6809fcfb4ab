//! The read model of protocols: where each one lives (this worktree, another worktree, a
//! protocol branch or its remote copy), what `status` shows for it, and which protocol or step
//! a person meant. Every service that needs a protocol's store finds it here, below the step
//! services and the orchestrator, so none of them has to call up into the orchestrator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::context::Context;
use crate::domain::{Event, ProtocolId, ProtocolState, ProtocolStatus, StateBrief, StepId, fold};
use crate::error_kind::{ErrorKind, HasKind};
use crate::git::tree;
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage::repo::{ProtocolRepository, ProtocolView};
use crate::services::platform::storage::state_index::{Brief, StateIndex};
use crate::services::platform::storage::{self, Store, events};
use crate::services::platform::telemetry::prices::cost_of_events;
use crate::services::platform::worktrees;

/// What a typed id was looked up as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// A protocol id.
    Protocol,
    /// A step id.
    Step,
}

impl std::fmt::Display for IdKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Protocol => "protocol",
            Self::Step => "step",
        })
    }
}

/// Errors finding or reading protocols.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// The protocol has no worktree to change its state in.
    #[error("protocol {id} exists only on branch {branch}; it has no worktree")]
    NoWorktree {
        /// The protocol.
        id: ProtocolId,
        /// Its branch.
        branch: String,
    },
    /// No protocol (or step) matches what was typed.
    #[error("no {what} matches `{typed}`")]
    Unknown {
        /// What was being looked for.
        what: IdKind,
        /// What was typed.
        typed: String,
        /// The nearest id, when the input looks like a typo of it.
        closest: Option<String>,
    },
    /// Several match what was typed.
    #[error("`{typed}` matches several {what}s: {}", candidates.join(", "))]
    Ambiguous {
        /// What was being looked for.
        what: IdKind,
        /// What was typed.
        typed: String,
        /// The ids it matches.
        candidates: Vec<String>,
    },
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::NoWorktree { .. } | Self::Unknown { .. } | Self::Ambiguous { .. } => {
                ErrorKind::Usage
            }
        }
    }
}

/// Where a protocol's state was read from.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Location {
    /// A working tree on disk (possibly with uncommitted state).
    Worktree {
        /// Its root.
        path: String,
    },
    /// The tip of a branch, read without checking it out.
    Branch {
        /// Branch name.
        name: String,
    },
}

/// One line of `status`.
#[derive(Clone, Debug, Serialize)]
pub struct ProtocolSummary {
    /// Protocol id.
    pub id: ProtocolId,
    /// Status, `None` when its log has no creation event.
    pub status: Option<ProtocolStatus>,
    /// Number of steps.
    pub steps: usize,
    /// Steps per status.
    pub step_counts: BTreeMap<String, u32>,
    /// Where it was read from.
    pub location: Location,
    /// Steps let through without a QA verdict (policy `skip`, or approved by hand).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub without_qa: Vec<StepId>,
    /// Set when nothing advances it and it needs someone: a run that stopped short (or whose
    /// process died) while `running` or `planning`, or a `blocked`, `failed` or `paused`
    /// protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
    /// Tokens used by all its engine runs.
    pub tokens: u64,
    /// What its runs cost (engine figures, else the price list), in USD.
    pub cost_usd: crate::services::platform::telemetry::prices::Cost,
    /// Problems seen while reading it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Why a protocol is not moving, and what to type.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Stopped {
    /// Why, in words.
    pub reason: String,
    /// The command to type next.
    pub next: String,
}

/// Whether a protocol in a worktree needs someone, and why (see [`ProtocolSummary::stopped`]).
fn stopped(
    store: &Store,
    locks: &storage::RunLocks,
    state: &StateBrief,
) -> Result<Option<Stopped>, Error> {
    let id = &state.protocol;
    let Some(status) = state.status else {
        return Ok(None);
    };
    if matches!(status, ProtocolStatus::Running | ProtocolStatus::Planning)
        && locks.is_held(store, id) != Some(false)
    {
        return Ok(None);
    }
    // The fold keeps what a stop is explained with; only a view written before it did needs
    // the log (#13: `status` reads no log of a protocol whose state it has).
    let facts = match &state.stop {
        Some(facts) => facts.clone(),
        None => {
            let log = sorted_log(store, id)?;
            crate::domain::fold(id, &log).stop.unwrap_or_default()
        }
    };
    Ok(stop_of(id, status, state, &facts))
}

/// Why a protocol in `status` is not moving, from the facts its fold kept; `None` when it is
/// moving or done. A `running` or `planning` protocol reaches here only when no process holds
/// its run lock.
fn stop_of(
    id: &ProtocolId,
    status: ProtocolStatus,
    state: &StateBrief,
    facts: &crate::domain::StopFacts,
) -> Option<Stopped> {
    let run = format!("godzilla protocol run {id}");
    Some(match status {
        ProtocolStatus::Running | ProtocolStatus::Planning => match &facts.run_stopped {
            Some(stop) => Stopped {
                reason: stop.reason.clone(),
                next: stop.next.clone().unwrap_or(run),
            },
            None if status == ProtocolStatus::Planning => Stopped {
                reason: "its planning run's process is gone (interrupted)".into(),
                next: run,
            },
            None => Stopped {
                reason: "its run's process is gone (interrupted)".into(),
                next: run,
            },
        },
        ProtocolStatus::Blocked | ProtocolStatus::Failed => Stopped {
            reason: facts
                .block_reason
                .clone()
                .unwrap_or_else(|| "blocked".to_owned()),
            next: if state.steps == 0 {
                format!("godzilla protocol plan {id}")
            } else if state.retryable {
                next_for_blocked(id)
            } else {
                run
            },
        },
        ProtocolStatus::Paused => Stopped {
            reason: "paused".into(),
            next: format!("godzilla protocol resume {id}"),
        },
        // Planning that was stopped by a signal leaves it `pending`; say so until it plans.
        ProtocolStatus::Pending => Stopped {
            reason: facts.planning_interrupted.clone()?,
            next: run,
        },
        ProtocolStatus::Planned | ProtocolStatus::Cancelled | ProtocolStatus::Completed => {
            return None;
        }
    })
}

/// The result of `status`.
#[derive(Clone, Debug, Serialize)]
pub struct StatusSummary {
    /// Whether `.godzilla/format` exists in this working tree.
    pub initialized: bool,
    /// Every protocol found, in id order.
    pub protocols: Vec<ProtocolSummary>,
    /// Problems not tied to one protocol.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn summarize(
    state: &StateBrief,
    location: Location,
    warnings: Vec<String>,
    log: impl FnOnce() -> Vec<u8>,
) -> ProtocolSummary {
    ProtocolSummary {
        stopped: None,
        tokens: state.tokens,
        cost_usd: match state.cost_micro_usd {
            Some(micro) => crate::services::platform::telemetry::prices::Cost(micro),
            None => cost_of_events(&events::parse(&log()).events),
        },
        id: state.protocol.clone(),
        status: state.status,
        steps: state.steps,
        step_counts: state
            .step_counts
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), *v))
            .collect(),
        location,
        without_qa: state.without_qa.clone(),
        warnings,
    }
}

fn log_warnings(file: &str, problems: &[events::LogProblem]) -> Vec<String> {
    problems
        .iter()
        .map(|p| match p {
            events::LogProblem::Torn { line, .. } => {
                format!("{file}: line {line} is partial; run `godzilla fsck --repair`")
            }
            events::LogProblem::Invalid { line, message } => {
                format!("{file}: line {line} is not a valid event: {message}")
            }
        })
        .collect()
}

/// Every working tree of the repository, the current one first, each once.
pub fn worktree_roots(ctx: &Context) -> Vec<PathBuf> {
    let mut roots = vec![ctx.paths.work_tree.clone()];
    if ctx
        .paths
        .common_dir
        .file_name()
        .is_some_and(|n| n == ".git")
        && let Some(main) = ctx.paths.common_dir.parent()
    {
        roots.push(main.to_path_buf());
    }
    roots.extend(
        tree::linked_worktrees(&ctx.paths.common_dir)
            .into_iter()
            .map(|w| w.path),
    );
    let mut seen: Vec<PathBuf> = Vec::new();
    for root in roots {
        let canonical = root.canonicalize().unwrap_or(root);
        if !seen.contains(&canonical) {
            seen.push(canonical);
        }
    }
    seen
}

/// Every protocol visible from this repository: this worktree's, then other worktrees', then
/// protocol branches that no worktree has checked out. The first place a protocol is seen
/// wins, because a worktree can hold state newer than its branch's last commit.
pub fn status(ctx: &Context, only: Option<&ProtocolId>) -> Result<StatusSummary, Error> {
    let store = Store::new(&ctx.paths);
    let initialized = match store.check_format() {
        Ok(_) => true,
        Err(storage::Error::NotInitialized { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    let config = store.load_config()?;
    let mut found: BTreeMap<ProtocolId, ProtocolSummary> = BTreeMap::new();
    let mut warnings = Vec::new();

    let linked = tree::linked_worktrees(&ctx.paths.common_dir);
    for root in worktree_roots(ctx) {
        let canonical = root;
        let wt_store = Store::at(&canonical, store.local_dir());
        let (ids, bad) = ProtocolRepository::list(&wt_store)?;
        for entry in bad {
            warnings.push(format!("{}: {}", entry.path.display(), entry.reason));
        }
        // One protocol's status reads its own state; the index is for the whole list.
        let mut index = match only {
            None if !ids.is_empty() => {
                storage::check_no_symlinks(&wt_store.protocols_dir())?;
                Some(StateIndex::open(&wt_store))
            }
            _ => None,
        };
        let ids: Vec<ProtocolId> = ids
            .into_iter()
            .filter(|id| !found.contains_key(id) && only.is_none_or(|o| o == id))
            .collect();
        let states: Vec<Result<Brief, storage::Error>> = match index.as_mut() {
            Some(index) => index.load_all(&wt_store, &ids),
            None => ids
                .iter()
                .map(|id| {
                    ProtocolRepository::load_state(&wt_store, id).map(|loaded| Brief {
                        state: loaded.state.brief(),
                        problems: loaded.problems,
                    })
                })
                .collect(),
        };
        let locks = storage::RunLocks::scan(&wt_store);
        for (id, loaded) in ids.into_iter().zip(states) {
            let loaded = loaded?;
            let file = wt_store
                .display(&ProtocolRepository::events_path(&wt_store, &id))
                .into_owned();
            let location = Location::Worktree {
                path: canonical.display().to_string(),
            };
            let log_path = ProtocolRepository::events_path(&wt_store, &id);
            let mut summary = summarize(
                &loaded.state,
                location,
                log_warnings(&file, &loaded.problems),
                || {
                    storage::read_optional(&log_path)
                        .ok()
                        .flatten()
                        .unwrap_or_default()
                },
            );
            summary.stopped = stopped(&wt_store, &locks, &loaded.state)?;
            found.insert(id, summary);
        }
        if let Some(index) = index {
            index.save();
        }
    }

    let checked_out: Vec<String> = linked
        .iter()
        .filter_map(|w| {
            w.head_ref
                .as_deref()?
                .strip_prefix("refs/heads/")
                .map(str::to_owned)
        })
        .chain(crate::git::current_branch(&ctx.paths.git_dir))
        .collect();
    let scan = tree::scan_branches(
        &ctx.paths.common_dir,
        &config.project.branch_prefix,
        &checked_out,
    )?;
    add_branch_protocols(scan, only, &mut found, &mut warnings);
    remote_status(
        ctx,
        &config.project.branch_prefix,
        only,
        &mut found,
        &mut warnings,
    )?;
    Ok(StatusSummary {
        initialized,
        protocols: found.into_values().collect(),
        warnings,
    })
}

/// Adds what remote-tracking protocol branches (fetched by `godzilla sync` or `git fetch`)
/// show: protocols nothing local has, and a warning wherever a local protocol branch and its
/// remote copy point at different commits.
fn remote_status(
    ctx: &Context,
    prefix: &str,
    only: Option<&ProtocolId>,
    found: &mut BTreeMap<ProtocolId, ProtocolSummary>,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let scan = tree::scan_remote_branches(&ctx.paths.common_dir, prefix, &[])?;
    add_branch_protocols(scan, only, found, warnings);
    let locals: BTreeMap<String, String> =
        tree::refs_with_targets(&ctx.paths.common_dir, "refs/heads/")?
            .into_iter()
            .collect();
    for (name, oid) in tree::refs_with_targets(&ctx.paths.common_dir, "refs/remotes/")? {
        let Some((remote, branch)) = name
            .strip_prefix("refs/remotes/")
            .and_then(|s| s.split_once('/'))
        else {
            continue;
        };
        let Some(Ok(id)) = branch.strip_prefix(prefix).map(ProtocolId::parse) else {
            continue;
        };
        if let (Some(local), Some(summary)) = (
            locals.get(&format!("refs/heads/{branch}")),
            found.get_mut(&id),
        ) && *local != oid
        {
            summary.warnings.push(format!(
                "branch {branch} and {remote}/{branch} differ; `godzilla sync` brings them together"
            ));
        }
    }
    Ok(())
}

/// Adds the protocols a branch scan found that nothing earlier (a worktree, a local branch)
/// has, each read from its branch, and warns of the names that are not protocol ids.
fn add_branch_protocols(
    scan: tree::BranchScan,
    only: Option<&ProtocolId>,
    found: &mut BTreeMap<ProtocolId, ProtocolSummary>,
    warnings: &mut Vec<String>,
) {
    for (branch, bad) in scan.bad_names {
        warnings.push(format!("branch {branch}: .godzilla/protocols/{bad}"));
    }
    for (branch, protocols) in scan.branches {
        for blobs in protocols {
            if found.contains_key(&blobs.id) || only.is_some_and(|o| o != &blobs.id) {
                continue;
            }
            let (state, problems) = state_from_blobs(&blobs);
            let file = format!("{branch}:.godzilla/protocols/{}/events.jsonl", blobs.id);
            let location = Location::Branch {
                name: branch.clone(),
            };
            found.insert(
                blobs.id.clone(),
                summarize(
                    &state.brief(),
                    location,
                    log_warnings(&file, &problems),
                    || blobs.events.clone().unwrap_or_default(),
                ),
            );
        }
    }
}

fn state_from_blobs(blobs: &tree::ProtocolBlobs) -> (ProtocolState, Vec<events::LogProblem>) {
    let log = blobs.events.as_deref().unwrap_or_default();
    if let Some(view) = blobs
        .view
        .as_deref()
        .and_then(|v| serde_json::from_slice::<ProtocolView>(v).ok())
        && view.log_bytes == log.len() as u64
        && view.log_sha256 == events::digest(log)
    {
        return (view.state, Vec::new());
    }
    let read = events::parse(log);
    (fold(&blobs.id, &read.events), read.problems)
}

/// Finds the working tree that holds a protocol's live state.
///
/// A protocol that exists only on a branch (its worktree was removed) cannot be changed
/// without a worktree: the error says so rather than writing somewhere the user won't look.
pub fn locate(ctx: &Context, id: &ProtocolId) -> Result<Store, Error> {
    let store = Store::new(&ctx.paths);
    // Worktrees left under `.git` by an older godzilla move out before anyone works in them.
    if let Ok(config) = store.load_config() {
        worktrees::migrate_legacy(ctx, &config);
    }
    if let Some(root) = live_worktree(ctx, &store, id)? {
        return Ok(Store::at(&root, store.local_dir()));
    }
    let summary = status(ctx, Some(id))?;
    match summary.protocols.into_iter().next().map(|p| p.location) {
        Some(Location::Worktree { path }) => Ok(Store::at(Path::new(&path), store.local_dir())),
        Some(Location::Branch { name }) => Err(Error::NoWorktree {
            id: id.clone(),
            branch: name,
        }),
        None => Err(storage::Error::ProtocolNotFound(id.clone()).into()),
    }
}

/// The first worktree (in [`worktree_roots`] order) whose state holds `id`: where `status`
/// places a live protocol, found without reading any protocol's state or scanning branches.
fn live_worktree(ctx: &Context, store: &Store, id: &ProtocolId) -> Result<Option<PathBuf>, Error> {
    let key = (ctx.paths.common_dir.clone(), id.clone());
    let mut found = FOUND
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(root) = found.get(&key)
        && std::fs::symlink_metadata(Store::at(root, store.local_dir()).protocol_dir(id))
            .is_ok_and(|m| m.is_dir())
    {
        return Ok(Some(root.clone()));
    }
    for root in worktree_roots(ctx) {
        let (ids, _bad) = ProtocolRepository::list(&Store::at(&root, store.local_dir()))?;
        if ids.contains(id) {
            found.insert(key, root.clone());
            return Ok(Some(root));
        }
    }
    found.remove(&key);
    Ok(None)
}

/// The worktree [`live_worktree`] found each protocol in, in this process: a `step run` asks
/// three times (its arguments, the step's id, the plan), and each search canonicalised every
/// worktree's path and listed its protocols (#13). An answer is used again only while the
/// protocol's folder is still there.
static FOUND: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<(PathBuf, ProtocolId), PathBuf>>,
> = std::sync::LazyLock::new(Default::default);

/// Finds the protocol a person meant: its full id, its number (`2`, `0002`), its slug, or a
/// unique prefix of either, among every protocol `status` sees. A typo gets the closest id.
pub fn resolve_protocol(ctx: &Context, typed: &str) -> Result<ProtocolId, Error> {
    // A full id of a live protocol is itself: no need to read every protocol's state.
    if let Ok(id) = ProtocolId::parse(typed.trim())
        && live_worktree(ctx, &Store::new(&ctx.paths), &id)?.is_some()
    {
        return Ok(id);
    }
    let known: Vec<ProtocolId> = status(ctx, None)?
        .protocols
        .into_iter()
        .map(|p| p.id)
        .collect();
    let table: Vec<(ProtocolId, u32, &str)> = known
        .iter()
        .map(|id| (id.clone(), id.number(), id.slug()))
        .collect();
    match crate::domain::name::resolve_short(typed, &table) {
        crate::domain::name::IdMatch::One(id) => Ok(id),
        crate::domain::name::IdMatch::Ambiguous(candidates) => Err(Error::Ambiguous {
            what: IdKind::Protocol,
            typed: typed.to_owned(),
            candidates: candidates.iter().map(ToString::to_string).collect(),
        }),
        crate::domain::name::IdMatch::None(None) if ProtocolId::parse(typed).is_ok() => {
            Err(storage::Error::ProtocolNotFound(
                ProtocolId::parse(typed).unwrap_or_else(|_| unreachable!("checked by the guard")),
            )
            .into())
        }
        crate::domain::name::IdMatch::None(closest) => Err(Error::Unknown {
            what: IdKind::Protocol,
            typed: typed.to_owned(),
            closest: closest.map(|c| c.to_string()),
        }),
    }
}

/// Finds the step of `protocol` a person meant (full id, number, slug or unique prefix).
pub fn resolve_step(ctx: &Context, protocol: &ProtocolId, typed: &str) -> Result<StepId, Error> {
    let store = match locate(ctx, protocol) {
        Ok(store) => store,
        // A protocol that lives only on its branch (its worktree was removed) takes full step
        // ids; the inspection commands then say whether the step exists.
        Err(Error::NoWorktree { .. }) if StepId::parse(typed).is_ok() => {
            return StepId::parse(typed).map_err(|e| Error::Unknown {
                what: IdKind::Step,
                typed: format!("{typed} ({e})"),
                closest: None,
            });
        }
        Err(e) => return Err(e),
    };
    let state = ProtocolRepository::load_state(&store, protocol)?.state;
    resolve_step_in(&state, typed)
}

/// [`resolve_step`] in a state already loaded: a command that loads the protocol anyway (`step
/// run`) resolves its step in what it loaded instead of reading the state twice (#13).
pub fn resolve_step_in(state: &ProtocolState, typed: &str) -> Result<StepId, Error> {
    let table: Vec<(StepId, u32, &str)> = state
        .steps
        .iter()
        .map(|s| (s.id.clone(), s.id.number(), s.id.slug()))
        .collect();
    match crate::domain::name::resolve_short(typed, &table) {
        crate::domain::name::IdMatch::One(id) => Ok(id),
        crate::domain::name::IdMatch::Ambiguous(candidates) => Err(Error::Ambiguous {
            what: IdKind::Step,
            typed: typed.to_owned(),
            candidates: candidates.iter().map(ToString::to_string).collect(),
        }),
        crate::domain::name::IdMatch::None(closest) => Err(Error::Unknown {
            what: IdKind::Step,
            typed: typed.to_owned(),
            closest: closest.map(|c| c.to_string()),
        }),
    }
}

/// What to type for a blocked protocol: see why, then retry (a failed or blocked step) or
/// plan again (no steps).
pub fn next_for_blocked(id: &ProtocolId) -> String {
    format!("godzilla protocol retry {id}")
}

/// The protocol's event log in `(lamport, id)` order, each event once.
pub fn sorted_log(store: &Store, id: &ProtocolId) -> Result<Vec<Event>, storage::Error> {
    let mut log = events::read(&ProtocolRepository::events_path(store, id))?.events;
    log.sort_by(Event::log_order);
    log.dedup_by(|a, b| a.id == b.id);
    Ok(log)
}

/// The reason of the last `protocol_blocked` or `planning_failed` event.
pub fn last_block_reason(log: &[Event]) -> String {
    log.iter()
        .rev()
        .find(|e| e.kind.gives_block_reason())
        .map_or_else(|| "blocked".to_owned(), |e| e.message.clone())
}
