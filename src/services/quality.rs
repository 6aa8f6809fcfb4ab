//! The quality service: decides whether a step's attempt is done.
//!
//! Policies: `skip` (no QA), `light` (mechanical checks only), `full` (checks plus an LLM
//! review). Checks are the `[checks]` argv lists of the config, run in the worktree with a
//! timeout; a failing check makes the verdict FAIL whatever the reviewer says (the LLM can only
//! downgrade). The review prompt gets the plan, the step, the diff the attempt produced and the
//! check results; its verdict is parsed tolerantly and a missing verdict is a FAIL. An engine
//! error is an error (the step is `blocked`), never a PASS. Every verdict records the code tree
//! it judged (the tree of the attempt's commit without `.godzilla/`), so a verdict for other
//! code does not count.

mod checks;
mod history;
mod note;
mod report;
mod review;

use checks::{check_failure, run_check};
pub use checks::{parse_failing_tests, parse_test_counts};
pub use history::{QaHistory, RecordedVerdict, history};
use note::qa_note;
pub use note::restore_note;
use report::{findings, render_report};

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

use crate::config::{Config, QaPolicy};
use crate::context::Context;
use crate::domain::spec::{self as domain_spec, StepSpec};
use crate::domain::{EventKind, ProtocolId, StepId, StepStatus};
use crate::engines::{Classification, Phase, Scrubber};
use crate::error_kind::{ErrorKind, HasKind};
use crate::git::Git;
use crate::git::notes::Notes;
use crate::services::execution::Loaded;
use crate::services::platform::engines::{self as platform_engines, Choice, Selection};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage::repo::{ProtocolRepository, StepRepository};
use crate::services::platform::storage::{self, RunLock, Store};
use crate::services::platform::telemetry;
use crate::services::prompts;
use crate::services::{spec, trust};

/// Errors from the quality service (before a verdict could be reached).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// The spec could not be read.
    #[error(transparent)]
    Spec(#[from] spec::Error),
    /// The prompt could not be rendered.
    #[error(transparent)]
    Prompt(#[from] prompts::Error),
    /// No QA engine could be selected.
    #[error(transparent)]
    Selection(#[from] platform_engines::Error),
    /// Checks or the engine come from an untrusted config.
    #[error(transparent)]
    Untrusted(#[from] trust::Untrusted),
    /// godzilla was stopped (SIGINT/SIGTERM) while the review ran; recorded as
    /// `qa_interrupted`, the step still waits for QA.
    #[error("QA of {step} was interrupted: {reason}")]
    Interrupted {
        /// The step.
        step: StepId,
        /// What stopped it.
        reason: String,
    },
    /// No such step.
    #[error("protocol {protocol} has no step {step}")]
    NoStep {
        /// The protocol.
        protocol: ProtocolId,
        /// The step.
        step: StepId,
    },
    /// QA judges a finished attempt.
    #[error("step {step} is {status}; QA judges an attempt that finished (`needs_qa`)")]
    NotReady {
        /// The step.
        step: StepId,
        /// Its status.
        status: StepStatus,
    },
    /// The attempt to judge cannot be found.
    #[error("cannot find the commit of step {step}'s last attempt ({run})")]
    NoAttempt {
        /// The step.
        step: StepId,
        /// Its run id.
        run: String,
    },
    /// A `light` QA with no checks would judge nothing.
    #[error(
        "step {step} has QA policy `light` but no [checks] are configured: QA would judge nothing"
    )]
    NothingToJudge {
        /// The step.
        step: StepId,
    },
    /// The review would go over the budget (strict mode).
    #[error("budget exceeded: {0}")]
    Budget(String),
    /// The worktree holds other code than the attempt produced.
    #[error("the worktree has moved past step {step}'s attempt; checks would judge other code")]
    Moved {
        /// The step.
        step: StepId,
    },
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::Spec(e) => e.kind(),
            Self::Prompt(e) => e.kind(),
            Self::Selection(e) => e.kind(),
            Self::Untrusted(e) => e.kind(),
            Self::NoStep { .. } | Self::NotReady { .. } | Self::Moved { .. } => ErrorKind::Usage,
            // The process exits as the signal would (128+signal) whatever this says.
            Self::Interrupted { .. } | Self::NoAttempt { .. } | Self::NothingToJudge { .. } => {
                ErrorKind::Failed
            }
            Self::Budget(_) => ErrorKind::Negative,
        }
    }
}

/// What QA concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Done.
    Pass,
    /// Not done; the findings say why.
    Fail,
    /// Not judged: the policy is `skip`.
    Skipped,
    /// Could not judge (engine error, checks could not run): the step is blocked.
    Error,
}

/// Test counts read from a check's output, when it shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TestCounts {
    /// Passed tests.
    pub passed: u64,
    /// Failed tests.
    pub failed: u64,
}

/// One mechanical check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// Its name in `[checks]`.
    pub name: String,
    /// The argv run.
    pub argv: Vec<String>,
    /// Exit code (`None`: killed).
    pub exit_code: Option<i32>,
    /// Whether it passed (exit 0, not killed).
    pub passed: bool,
    /// Whether the timeout killed it.
    pub timed_out: bool,
    /// Wall time.
    pub duration_ms: u64,
    /// Test counts, when the check's own output shows them.
    pub tests: Option<TestCounts>,
    /// Names of the failing tests its output names (bounded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing_tests: Vec<String>,
    /// The last lines of its output (scrubbed, bounded), when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tail: Option<String>,
    /// sha256 of its (scrubbed) log.
    pub log_sha256: String,
    /// The log, in the machine-local log directory.
    pub log: PathBuf,
}

/// The LLM review.
#[derive(Clone, Debug, Serialize)]
pub struct Review {
    /// Engine.
    pub engine: String,
    /// Model.
    pub model: Option<String>,
    /// How the run ended.
    pub classification: Classification,
    /// The verdict found in its answer (`None`: none found).
    pub verdict: Option<Verdict>,
    /// Tokens used.
    pub tokens: u64,
    /// The engine's wall time.
    pub duration_ms: u64,
    /// Its answer (scrubbed).
    pub text: String,
    /// Its scrubbed transcript, relative to the machine-local directory.
    pub transcript: String,
}

/// The outcome of QA on one attempt.
#[derive(Clone, Debug, Serialize)]
pub struct QualityResult {
    /// QA run id.
    pub run_id: String,
    /// Protocol.
    pub protocol: ProtocolId,
    /// Step.
    pub step: StepId,
    /// Policy applied.
    pub policy: QaPolicy,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, one line each.
    pub reasons: Vec<String>,
    /// Checks run.
    pub checks: Vec<CheckResult>,
    /// The review, under `full`.
    pub review: Option<Review>,
    /// The exec run judged.
    pub exec_run: Option<String>,
    /// The attempt's commit.
    pub commit: Option<String>,
    /// The code tree judged.
    pub tree: Option<String>,
    /// The report, relative to the worktree.
    pub report: Option<String>,
    /// The step's status afterwards.
    pub step_status: StepStatus,
    /// The verdict's note record for `commit`, handed back instead of added when the caller
    /// carries it to its next commit ([`QaOptions::carry_note`]).
    #[serde(skip)]
    pub pending_note: Option<String>,
}

/// Options of a QA run.
#[derive(Clone, Debug, Default)]
pub struct QaOptions {
    /// `--engine` for the review.
    pub engine: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `--timeout` of the review.
    pub timeout: Option<Duration>,
    /// Leave the verdict's files uncommitted: a protocol run commits them with the next
    /// attempt (or when it stops), saving a commit per step.
    pub defer_commit: bool,
    /// The caller committed the whole worktree and has held the run lock since: skip the
    /// check that nothing outside `.godzilla/` is uncommitted.
    pub worktree_committed: bool,
    /// Judge a step that already has its verdict again (`qa --again`): a new verdict for the
    /// same attempt, recorded as a re-judgment.
    pub again: bool,
    /// Hand the verdict's note back ([`QualityResult::pending_note`]) instead of adding it: a
    /// protocol run adds it with the next step's commit, whose note it shares a notes commit,
    /// ref update and pack with (or on its own when the run stops first), as it commits the
    /// verdict's files with that commit (`defer_commit`). Per reviewed step that is one notes
    /// update and one pack fewer: three new files and three deleted ones (a pack's files are
    /// folded away later), which on a file system without a journal cost a scan of the
    /// recently deleted inodes each (#13). A run killed in between restores the note from
    /// the verdict's event when it is resumed ([`restore_note`]).
    pub carry_note: bool,
}

/// The spec of a step, or the defaults a step file gets when the protocol has no spec.
pub fn step_spec(
    store: &Store,
    config: &Config,
    protocol: &ProtocolId,
    step: &StepId,
) -> Result<StepSpec, Error> {
    if let Some(s) = spec::get_step_spec(store, protocol, step)? {
        return Ok(s);
    }
    let text = storage::read_text(&StepRepository::step_path(store, protocol, step))
        .or_else(storage::Error::unless_symlink)?;
    Ok(domain_spec::step_from_file(
        step.clone(),
        spec::step_title(&text, step),
        config.qa.policy,
    ))
}

/// Whether a step gets QA at all.
pub fn should_evaluate(spec: &StepSpec) -> bool {
    spec.qa.policy != QaPolicy::Skip
}

static VERDICT: LazyLock<Regex> = LazyLock::new(|| {
    // "Verdict: PASS", "**Verdict:** FAIL", "VERDICT - pass", "## Verdict\nFAIL" ...
    Regex::new(r"(?i)verdict\W{0,12}\b(pass|fail)(ed)?\b")
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

/// The last verdict stated in a review, tolerant of markdown around it.
pub fn parse_verdict(text: &str) -> Option<Verdict> {
    VERDICT.captures_iter(text).last().map(|c| {
        if c[1].eq_ignore_ascii_case("pass") {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    })
}

/// The tree of `commit` without `.godzilla/`: the code a verdict is about (state files change
/// with every event and must not make a verdict stale).
pub fn code_tree(git: &Git, commit: &str) -> Result<String, crate::process::Error> {
    match crate::git::object::code_tree(git.dir(), commit) {
        Ok(tree) => Ok(tree),
        Err(e) => Err(crate::process::Error::Exited {
            program: "gix".into(),
            args: vec!["code-tree".into(), commit.to_owned()],
            status: "an error".into(),
            stderr_tail: e.to_string(),
        }),
    }
}

/// The commit whose trailer names `run` (searched back from HEAD through all parents).
pub fn commit_of_run(git: &Git, run: &str) -> Result<Option<String>, crate::process::Error> {
    // Steps are few and recent; 10_000 commits back is far more than any protocol makes.
    match crate::git::object::find_run_commit(git.dir(), run, 10_000) {
        Ok(found) => Ok(found),
        Err(_) => {
            let out = git.run(&[
                "log",
                "--format=%H",
                "--fixed-strings",
                &format!("--grep=Godzilla-Run: {run}"),
                "HEAD",
            ])?;
            Ok(out.lines().next().map(str::to_owned))
        }
    }
}

/// The report of the step's last QA, when that QA failed: feedback for the next attempt.
pub fn last_failed_report(
    store: &Store,
    protocol: &ProtocolId,
    step: &StepId,
) -> Result<Option<String>, storage::Error> {
    let events = crate::services::platform::protocols::sorted_log(store, protocol)?;
    let last = events.iter().rev().find(|e| {
        e.step.as_ref() == Some(step) && matches!(e.kind, EventKind::QaPassed | EventKind::QaFailed)
    });
    let Some(e) = last.filter(|e| e.kind == EventKind::QaFailed) else {
        return Ok(None);
    };
    let Some(run) = e.metadata.get("run").and_then(|v| v.as_str()) else {
        return Ok(Some(e.message.clone()));
    };
    let report = storage::read_optional(&ProtocolRepository::qa_report_path(store, protocol, run))?;
    Ok(Some(report.map_or_else(
        || e.message.clone(),
        |b| findings(&String::from_utf8_lossy(&b)).to_owned(),
    )))
}

/// The id of the step's last exec run, from the log.
fn last_exec_run(
    store: &Store,
    protocol: &ProtocolId,
    step: &StepId,
) -> Result<Option<String>, Error> {
    let events = crate::services::platform::protocols::sorted_log(store, protocol)?;
    Ok(events
        .iter()
        .rev()
        .find(|e| e.step.as_ref() == Some(step) && e.kind == EventKind::StepExecuted)
        .and_then(|e| {
            e.metadata
                .get("run")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        }))
}

/// Runs QA on the step's last attempt and records the verdict (event, report, commit, note),
/// under the protocol's run lock (a reviewer's changes to the worktree are reverted).
pub fn evaluate_step(
    ctx: &Context,
    loaded: &Loaded,
    lock: &RunLock,
    step: &StepId,
    opts: &QaOptions,
) -> Result<QualityResult, Error> {
    debug_assert_eq!(
        lock.protocol(),
        &loaded.state.protocol,
        "the run lock of another protocol"
    );
    let (spec, attempts) = ready_step(loaded, step, opts)?;
    let qa = Qa::new(ctx, loaded, step, opts, attempts);
    let mut result = qa.empty_result(&spec);
    if !should_evaluate(&spec) {
        return qa.record_skipped(result);
    }
    // Refusals before any write.
    let reviewer = qa.reviewer(&spec)?;
    let attempt = qa.attempt_to_judge()?;
    result.exec_run = Some(attempt.exec_run.clone());
    result.commit = Some(attempt.commit.clone());
    result.tree = Some(attempt.tree.clone());
    ctx.reporter.status(
        "Checking",
        &format!("{} {step} ({:?} QA)", qa.protocol(), spec.qa.policy).to_lowercase(),
    );
    qa.run_checks(&mut result);
    let spend = match &reviewer {
        Some(selection) => qa.review(selection, &attempt, &mut result)?,
        None => Spend::default(),
    };
    decide_verdict(&mut result);
    qa.record(&spec, &attempt, &spend, &mut result)?;
    Ok(result)
}

/// The step's spec and attempt count, when the step has an attempt QA may judge.
fn ready_step(loaded: &Loaded, step: &StepId, opts: &QaOptions) -> Result<(StepSpec, u32), Error> {
    let protocol = &loaded.state.protocol;
    let step_state = loaded.state.step(step).ok_or_else(|| Error::NoStep {
        protocol: protocol.clone(),
        step: step.clone(),
    })?;
    let ready = step_state.status == StepStatus::NeedsQa
        || (opts.again && step_state.status == StepStatus::Completed);
    if !ready {
        return Err(Error::NotReady {
            step: step.clone(),
            status: step_state.status,
        });
    }
    let spec = step_spec(&loaded.store, &loaded.config, protocol, step)?;
    Ok((spec, step_state.attempts))
}

/// The attempt a verdict is about.
struct Attempt {
    /// The step's last exec run.
    exec_run: String,
    /// The commit holding it.
    commit: String,
    /// That commit's code tree (see [`code_tree`]).
    tree: String,
}

/// What the review spent, for the event, the note and `godzilla cost`.
#[derive(Default)]
struct Spend {
    tokens: u64,
    /// The engine's figure, else the price list's.
    cost_usd: Option<f64>,
}

/// One QA run of one step: what each of its stages works with.
struct Qa<'a> {
    ctx: &'a Context,
    loaded: &'a Loaded,
    step: &'a StepId,
    opts: &'a QaOptions,
    run_id: String,
    git: Git,
    scrubber: std::sync::Arc<Scrubber>,
}

impl<'a> Qa<'a> {
    fn new(
        ctx: &'a Context,
        loaded: &'a Loaded,
        step: &'a StepId,
        opts: &'a QaOptions,
        attempts: u32,
    ) -> Self {
        let run_id = format!("qa-{step}-a{attempts}-{}", &ctx.ids.token()[..8]);
        Self {
            ctx,
            loaded,
            step,
            opts,
            run_id,
            git: Git::new(ctx.git_program(), loaded.store.root()),
            scrubber: loaded.engines.registry().scrubber(&ctx.env.all),
        }
    }

    fn store(&self) -> &'a Store {
        &self.loaded.store
    }

    fn protocol(&self) -> &'a ProtocolId {
        &self.loaded.state.protocol
    }

    fn empty_result(&self, spec: &StepSpec) -> QualityResult {
        QualityResult {
            run_id: self.run_id.clone(),
            protocol: self.protocol().clone(),
            step: self.step.clone(),
            policy: spec.qa.policy,
            verdict: Verdict::Skipped,
            reasons: Vec::new(),
            checks: Vec::new(),
            review: None,
            exec_run: None,
            commit: None,
            tree: None,
            report: None,
            step_status: StepStatus::NeedsQa,
            pending_note: None,
        }
    }

    /// Records that the step's policy skips QA.
    fn record_skipped(&self, mut result: QualityResult) -> Result<QualityResult, Error> {
        let (_, after) = telemetry::log_protocol_event(
            self.ctx,
            self.store(),
            self.protocol(),
            Some(self.step),
            EventKind::QaSkippedPolicy,
            "QA skipped by the step's policy",
            Default::default(),
        )?;
        result.reasons.push("the step's QA policy is skip".into());
        result.step_status = after
            .step(self.step)
            .map_or(StepStatus::Completed, |s| s.status);
        Ok(result)
    }

    /// Refuses a QA that would judge nothing or run untrusted commands; under `full`, the
    /// engine that reviews.
    fn reviewer(&self, spec: &StepSpec) -> Result<Option<Selection>, Error> {
        let Loaded {
            store,
            config,
            engines,
            ..
        } = self.loaded;
        if spec.qa.policy == QaPolicy::Light && config.checks.is_empty() {
            // `all()` of no checks is true: a PASS here would be a verdict on nothing.
            return Err(Error::NothingToJudge {
                step: self.step.clone(),
            });
        }
        trust::require_checks(store, config, self.ctx.env.trust_config)?;
        if spec.qa.policy != QaPolicy::Full {
            return Ok(None);
        }
        let choice = Choice {
            flag_engine: self.opts.engine.as_deref(),
            flag_model: self.opts.model.as_deref(),
            step_engine: spec.qa.engine.as_deref(),
            step_model: spec.qa.model.as_deref(),
        };
        let selection = engines.select(Phase::Qa, &choice)?;
        trust::require_engine(
            store,
            config,
            self.ctx.env.trust_config,
            selection.engine.name(),
        )?;
        selection.engine.check_installed()?;
        Ok(Some(selection))
    }

    /// The step's last attempt, refused when the worktree holds other code than it produced.
    fn attempt_to_judge(&self) -> Result<Attempt, Error> {
        let (git, step) = (&self.git, self.step);
        let exec_run = last_exec_run(self.store(), self.protocol(), step)?.ok_or_else(|| {
            Error::NoAttempt {
                step: step.clone(),
                run: "none recorded".into(),
            }
        })?;
        let commit = commit_of_run(git, &exec_run)?.ok_or_else(|| Error::NoAttempt {
            step: step.clone(),
            run: exec_run.clone(),
        })?;
        let tree = code_tree(git, &commit)?;
        let head = git.head()?.unwrap_or_default();
        let head_tree = if head == commit {
            tree.clone()
        } else {
            code_tree(git, &head)?
        };
        // A protocol run judges right after committing the attempt, under its run lock, so the
        // worktree is known clean there; anyone else must check.
        let dirty = !self.opts.worktree_committed
            && !git
                .run(&["status", "--porcelain", "--", ":!.godzilla"])?
                .trim()
                .is_empty();
        if head_tree != tree || dirty {
            return Err(Error::Moved { step: step.clone() });
        }
        Ok(Attempt {
            exec_run,
            commit,
            tree,
        })
    }

    /// Runs every configured check; each failure adds a reason.
    fn run_checks(&self, result: &mut QualityResult) {
        let Loaded { store, config, .. } = self.loaded;
        for (name, argv) in &config.checks {
            let check = run_check(
                self.ctx,
                store,
                config,
                &self.scrubber,
                self.protocol(),
                &self.run_id,
                name,
                argv,
            );
            if !check.passed {
                result.reasons.push(check_failure(name, &check));
            }
            result.checks.push(check);
        }
    }

    /// Records the verdict: the report, the event (which moves the step), the commit unless
    /// deferred, and the note on the commit judged.
    fn record(
        &self,
        spec: &StepSpec,
        attempt: &Attempt,
        spend: &Spend,
        result: &mut QualityResult,
    ) -> Result<(), Error> {
        let (store, protocol, step) = (self.store(), self.protocol(), self.step);
        let report_path = ProtocolRepository::qa_report_path(store, protocol, &self.run_id);
        storage::write_new(
            &report_path,
            self.scrubber
                .scrub(&render_report(result, store.local_dir()))
                .as_bytes(),
        )?;
        result.report = Some(store.display(&report_path).into_owned());
        let meta = self.event_meta(spec, attempt, spend, result);
        // The note says what the event says (see `qa_note`); its QA commit, if any, comes later.
        let mut note = qa_note(protocol, step, &meta, None);
        let qa = if self.opts.again { "QA again" } else { "QA" };
        let (kind, message) = match result.verdict {
            Verdict::Pass => (EventKind::QaPassed, format!("{qa} PASS")),
            Verdict::Fail => (
                EventKind::QaFailed,
                format!("{qa} FAIL: {}", result.reasons.join("; ")),
            ),
            Verdict::Error | Verdict::Skipped => (
                EventKind::QaError,
                format!("{qa} could not judge: {}", result.reasons.join("; ")),
            ),
        };
        let (_, after) = telemetry::log_protocol_event(
            self.ctx,
            store,
            protocol,
            Some(step),
            kind,
            message,
            meta,
        )?;
        result.step_status = after.step(step).map_or(StepStatus::Blocked, |s| s.status);
        // A completed protocol promises every step verified; a re-judgment that fails one breaks
        // the promise: it needs attention, as after a QA FAIL with no policy left.
        if result.step_status == StepStatus::Failed
            && after.status == Some(crate::domain::ProtocolStatus::Completed)
        {
            let reason = format!("{step} failed QA again: {}", result.reasons.join("; "));
            let mut meta = serde_json::Map::new();
            meta.insert("reason".into(), reason.clone().into());
            telemetry::log_protocol_event(
                self.ctx,
                store,
                protocol,
                None,
                EventKind::ProtocolBlocked,
                reason,
                meta,
            )?;
        }
        let qa_commit = if self.opts.defer_commit {
            None
        } else {
            Some(self.commit_verdict(qa, result)?)
        };
        note["qa_commit"] = qa_commit.into();
        let note = note.to_string();
        if self.opts.carry_note {
            result.pending_note = Some(note);
            return Ok(());
        }
        // The verdict belongs to the commit it judged.
        Notes::new(self.git.clone(), store.local_dir()).append_packed(&attempt.commit, &note)?;
        Ok(())
    }

    /// The verdict event's metadata (what `qa show` and `godzilla cost` read back).
    fn event_meta(
        &self,
        spec: &StepSpec,
        attempt: &Attempt,
        spend: &Spend,
        result: &QualityResult,
    ) -> serde_json::Map<String, serde_json::Value> {
        let store = self.store();
        let mut meta = serde_json::Map::new();
        meta.insert("run".into(), self.run_id.clone().into());
        meta.insert("exec_run".into(), attempt.exec_run.clone().into());
        meta.insert("tree".into(), attempt.tree.clone().into());
        meta.insert(
            "policy".into(),
            serde_json::to_value(spec.qa.policy).unwrap_or_default(),
        );
        meta.insert(
            "verdict".into(),
            serde_json::to_value(result.verdict).unwrap_or_default(),
        );
        meta.insert("reasons".into(), result.reasons.clone().into());
        meta.insert("tokens".into(), spend.tokens.into());
        meta.insert("config_sha256".into(), self.loaded.config.digest().into());
        if let Some(cost) = spend.cost_usd {
            meta.insert("cost_usd".into(), cost.into());
        }
        if let Some(review) = &result.review {
            meta.insert("review_ms".into(), review.duration_ms.into());
            meta.insert("transcript".into(), review.transcript.clone().into());
        }
        meta.insert("checks".into(), result.checks.iter().map(|c| serde_json::json!({"name": c.name, "exit_code": c.exit_code, "passed": c.passed, "tests": c.tests, "failing_tests": c.failing_tests, "log_sha256": c.log_sha256, "log": c.log.strip_prefix(store.local_dir()).unwrap_or(&c.log)})).collect::<Vec<_>>().into());
        if self.opts.again {
            meta.insert("again".into(), true.into());
        }
        meta
    }

    /// Commits the verdict's files; returns the commit.
    fn commit_verdict(&self, qa: &str, result: &QualityResult) -> Result<String, Error> {
        let (protocol, step, run_id) = (self.protocol(), self.step, &self.run_id);
        let verdict_word = match result.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error | Verdict::Skipped => "ERROR",
        };
        Ok(self.git.commit_all(&self.scrubber.scrub(&format!(
            "chore({protocol}): {qa} {step} {verdict_word}\n\n{}\n\nGodzilla-Protocol: {protocol}\nGodzilla-Step: {step}\nGodzilla-Run: {run_id}\n",
            result.reasons.join("\n")
        )))?)
    }
}

/// PASS when every check passed and the review (if any) says PASS; an engine error stays.
fn decide_verdict(result: &mut QualityResult) {
    if result.verdict == Verdict::Error {
        return;
    }
    let checks_pass = result.checks.iter().all(|c| c.passed);
    let review_pass = result
        .review
        .as_ref()
        .is_none_or(|r| r.verdict == Some(Verdict::Pass));
    result.verdict = if checks_pass && review_pass {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_found_in_markdown() {
        assert_eq!(
            parse_verdict("all good\nVerdict: PASS"),
            Some(Verdict::Pass)
        );
        assert_eq!(
            parse_verdict("**Verdict:** FAIL\n\nthanks"),
            Some(Verdict::Fail)
        );
        assert_eq!(
            parse_verdict("VERDICT - fail (tests missing)"),
            Some(Verdict::Fail)
        );
        assert_eq!(parse_verdict("## Verdict\n\n**PASS**"), Some(Verdict::Pass));
        assert_eq!(parse_verdict("Verdict: passed"), Some(Verdict::Pass));
        assert_eq!(
            parse_verdict("Earlier verdict: PASS.\nFinal verdict: FAIL"),
            Some(Verdict::Fail)
        );
        assert_eq!(parse_verdict("Looks fine to me, ship it"), None);
        assert_eq!(parse_verdict("the tests pass"), None);
    }

    #[test]
    fn test_counts_from_common_runners() {
        assert_eq!(
            parse_test_counts(
                "test result: ok. 3 passed; 0 failed;\ntest result: FAILED. 1 passed; 2 failed;"
            ),
            Some(TestCounts {
                passed: 4,
                failed: 2
            })
        );
        assert_eq!(
            parse_test_counts("===== 2 failed, 10 passed in 0.3s ====="),
            Some(TestCounts {
                passed: 10,
                failed: 2
            })
        );
        assert_eq!(
            parse_test_counts("Tests:       1 failed, 7 passed, 8 total"),
            Some(TestCounts {
                passed: 7,
                failed: 1
            })
        );
        assert_eq!(parse_test_counts("Compiling..."), None);
    }
}
