//! What work cost: tokens and money per run, summed per protocol, step, model, engine or
//! phase, from the run records and events of protocols, or from the notes on a range of
//! commits (`godzilla cost main..HEAD` answers what a branch cost, whichever protocols
//! produced it). Budgets are shown against what was spent.
//!
//! Amounts are [`Cost`]s (exact micro-dollars), so a total equals the sum of its runs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::context::Context;
use crate::domain::{Event, EventKind, ProtocolId};
use crate::engines::Usage;
use crate::error_kind::{ErrorKind, HasKind};
use crate::git::Git;
use crate::services::inspect;
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::protocols;
use crate::services::platform::storage::repo::ProtocolRepository;
use crate::services::platform::storage::{self, events};
use crate::services::platform::telemetry::prices::Cost;
pub use crate::services::platform::telemetry::prices::cost_of_events;

/// Errors of the cost service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The argument is neither a protocol nor a revision range git understands.
    #[error("`{0}` is neither a protocol nor a revision range")]
    BadScope(String),
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
            Self::BadScope(_) => ErrorKind::Usage,
        }
    }
}

/// What to add up.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Every protocol visible from here.
    All,
    /// One protocol.
    Protocol(ProtocolId),
    /// The notes on the commits of a revision range (`main..HEAD`).
    Range(String),
}

impl Scope {
    /// A protocol id when `arg` is one, else a revision range.
    pub fn parse(arg: Option<&str>) -> Result<Self, Error> {
        match arg {
            None => Ok(Self::All),
            Some(a) if a.starts_with('-') || a.is_empty() => Err(Error::BadScope(a.to_owned())),
            Some(a) => Ok(ProtocolId::parse(a)
                .map(Self::Protocol)
                .unwrap_or_else(|_| Self::Range(a.to_owned()))),
        }
    }
}

/// How to group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// Per protocol (the default).
    #[default]
    Protocol,
    /// Per step.
    Step,
    /// Per model.
    Model,
    /// Per engine.
    Engine,
    /// Per phase (planning, exec, qa...).
    Phase,
}

/// One engine run's usage and cost.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    /// Protocol.
    pub protocol: String,
    /// Step, when the run belongs to one.
    pub step: Option<String>,
    /// Run id.
    pub run: String,
    /// Phase.
    pub phase: String,
    /// Engine, when known.
    pub engine: Option<String>,
    /// Model, when known.
    pub model: Option<String>,
    /// Tokens.
    pub tokens: u64,
    /// Cost, when the engine reported it or the model is priced.
    pub cost_usd: Option<Cost>,
}

/// A group's totals.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Total {
    /// The group's key (protocol, step, model...); `total` for the grand total.
    pub key: String,
    /// Runs.
    pub runs: u64,
    /// Tokens.
    pub tokens: u64,
    /// Cost of the priced runs.
    pub cost_usd: Cost,
    /// Runs with no cost (no engine figure, model not priced).
    pub unpriced_runs: u64,
}

impl Total {
    fn add(&mut self, item: &Item) {
        self.runs += 1;
        self.tokens += item.tokens;
        match item.cost_usd {
            Some(c) => self.cost_usd += c,
            None => self.unpriced_runs += 1,
        }
    }
}

/// A protocol's token budget against what it used.
#[derive(Clone, Debug, Serialize)]
pub struct BudgetLine {
    /// Protocol.
    pub protocol: String,
    /// Tokens used by all its runs.
    pub used_tokens: u64,
    /// `[budget] max_tokens_per_protocol`.
    pub max_tokens_per_protocol: Option<u64>,
    /// The largest single step attempt.
    pub largest_step_tokens: u64,
    /// `[budget] max_tokens_per_step`.
    pub max_tokens_per_step: Option<u64>,
}

/// `godzilla cost`.
#[derive(Clone, Debug, Serialize)]
pub struct CostReport {
    /// What was added up (`all`, a protocol id or a range).
    pub scope: String,
    /// How it is grouped.
    pub by: By,
    /// One line per group, by key.
    pub groups: Vec<Total>,
    /// The grand total.
    pub total: Total,
    /// Budgets against spend, per protocol (protocol scopes only).
    pub budgets: Vec<BudgetLine>,
    /// Every run counted.
    pub items: Vec<Item>,
}

/// Adds up `scope`, grouped `by`.
pub fn report(ctx: &Context, scope: &Scope, by: By) -> Result<CostReport, Error> {
    let (items, budgets, name) = match scope {
        Scope::All => {
            let mut items = Vec::new();
            let mut budgets = Vec::new();
            for p in protocols::status(ctx, None)?.protocols {
                let (i, b) = protocol_items(ctx, &p.id)?;
                items.extend(i);
                budgets.push(b);
            }
            // Runs of no protocol (discovery) are in the project's own log.
            let store = storage::Store::new(&ctx.paths);
            let project = events::read(&store.project_events_path())?.events;
            items.extend(event_items(PROJECT, &project));
            (items, budgets, "all".to_owned())
        }
        Scope::Protocol(id) => {
            let (items, budget) = protocol_items(ctx, id)?;
            (items, vec![budget], id.to_string())
        }
        Scope::Range(range) => (range_items(ctx, range)?, Vec::new(), range.clone()),
    };
    Ok(summarise(name, by, items, budgets))
}

/// Groups and totals items.
pub fn summarise(scope: String, by: By, items: Vec<Item>, budgets: Vec<BudgetLine>) -> CostReport {
    let mut groups: BTreeMap<String, Total> = BTreeMap::new();
    let mut total = Total {
        key: "total".into(),
        ..Total::default()
    };
    for item in &items {
        let key = match by {
            By::Protocol => item.protocol.clone(),
            By::Step => format!("{}/{}", item.protocol, item.step.as_deref().unwrap_or("-")),
            By::Model => item
                .model
                .clone()
                .unwrap_or_else(|| "(engine default)".into()),
            By::Engine => item.engine.clone().unwrap_or_else(|| "(unknown)".into()),
            By::Phase => item.phase.clone(),
        };
        let group = groups.entry(key.clone()).or_insert_with(|| Total {
            key,
            ..Total::default()
        });
        group.add(item);
        total.add(item);
    }
    CostReport {
        scope,
        by,
        groups: groups.into_values().collect(),
        total,
        budgets,
        items,
    }
}

/// A protocol's runs: its run records (exec attempts) and the usage its events record for
/// the other phases (planning, decomposition, QA).
pub fn protocol_items(ctx: &Context, id: &ProtocolId) -> Result<(Vec<Item>, BudgetLine), Error> {
    let source = inspect::open(ctx, id)?;
    let store = &source.store;
    let mut items = Vec::new();
    let runs_dir = store.protocol_dir(id).join("runs");
    let mut paths: Vec<_> = std::fs::read_dir(&runs_dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    for path in paths {
        let Some(bytes) = storage::read_optional(&path)? else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            ctx.reporter
                .warn(&format!("{}: not a valid run record", store.display(&path)));
            continue;
        };
        let usage: Usage = serde_json::from_value(v["usage"].clone()).unwrap_or_default();
        items.push(Item {
            protocol: id.to_string(),
            step: v["step"].as_str().map(str::to_owned),
            run: v["run_id"].as_str().unwrap_or_default().to_owned(),
            phase: v["phase"].as_str().unwrap_or("exec").to_owned(),
            engine: v["engine"].as_str().map(str::to_owned),
            model: v["model"].as_str().map(str::to_owned),
            tokens: usage.total(),
            cost_usd: v["cost_usd"].as_f64().map(Cost::from_usd),
        });
    }
    let log = events::read(&ProtocolRepository::events_path(store, id))?.events;
    items.extend(event_items(id.as_str(), &log));
    let config = store.load_config()?;
    let largest_step_tokens = items
        .iter()
        .filter(|i| i.phase == "exec")
        .map(|i| i.tokens)
        .max()
        .unwrap_or(0);
    let budget = BudgetLine {
        protocol: id.to_string(),
        used_tokens: items.iter().map(|i| i.tokens).sum(),
        max_tokens_per_protocol: config.budget.max_tokens_per_protocol,
        largest_step_tokens,
        max_tokens_per_step: config.budget.max_tokens_per_step,
    };
    Ok((items, budget))
}

/// What the `protocol` of a project-level run says.
const PROJECT: &str = "(project)";

/// Usage recorded by events of phases that write no run record (`id`: the protocol, or
/// [`PROJECT`]).
fn event_items(id: &str, log: &[Event]) -> Vec<Item> {
    let mut seen = std::collections::BTreeSet::new();
    log.iter()
        .filter(|e| seen.insert(e.id.clone()))
        .filter_map(|e| {
            let phase = match e.kind {
                EventKind::QaPassed | EventKind::QaFailed | EventKind::QaError => "qa",
                EventKind::Planned | EventKind::PlanningFailed => "planning",
                EventKind::StepDecomposed => "decompose",
                EventKind::DiscoveryCompleted => "discovery",
                // Exec usage comes from the run records.
                _ => return None,
            };
            let tokens = e.metadata.get("tokens")?.as_u64()?;
            let text = |k: &str| {
                e.metadata
                    .get(k)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            Some(Item {
                protocol: id.to_owned(),
                step: e.step.as_ref().map(ToString::to_string),
                run: text("run").unwrap_or_else(|| e.id.clone()),
                phase: phase.to_owned(),
                engine: text("engine"),
                model: text("model"),
                tokens,
                cost_usd: e
                    .metadata
                    .get("cost_usd")
                    .and_then(|v| v.as_f64())
                    .map(Cost::from_usd),
            })
        })
        .collect()
}

/// The runs recorded in the notes of the commits in `range`.
fn range_items(ctx: &Context, range: &str) -> Result<Vec<Item>, Error> {
    let git = Git::new(ctx.git_program(), &ctx.paths.work_tree);
    let out = git
        .run_unchecked(&[
            "log",
            "--notes=godzilla",
            "--format=%x1e%N",
            "--end-of-options",
            range,
            "--",
        ])
        .map_err(|e| Error::Protocols(e.into()))?;
    if !out.success() {
        return Err(Error::BadScope(range.to_owned()));
    }
    let text = out.stdout_text();
    let mut items = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for line in text.split('\u{1e}').flat_map(str::lines) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim()) else {
            continue;
        };
        let run = v["run"].as_str().unwrap_or_default().to_owned();
        let kind = v["kind"].as_str().unwrap_or_default();
        // A note is copied onto rewritten commits (rebase): count each run once.
        if !seen.insert((kind.to_owned(), run.clone())) {
            continue;
        }
        let tokens = match &v["tokens"] {
            serde_json::Value::Object(_) => serde_json::from_value::<Usage>(v["tokens"].clone())
                .unwrap_or_default()
                .total(),
            other => other.as_u64().unwrap_or(0),
        };
        items.push(Item {
            protocol: v["protocol"].as_str().unwrap_or("-").to_owned(),
            step: v["step"].as_str().map(str::to_owned),
            run,
            phase: kind.to_owned(),
            engine: v["engine"].as_str().map(str::to_owned),
            model: v["model"].as_str().map(str::to_owned),
            tokens,
            cost_usd: v["cost_usd"].as_f64().map(Cost::from_usd),
        });
    }
    Ok(items)
}
