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

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Config, QaPolicy};
use crate::context::Context;
use crate::domain::spec::{self as domain_spec, StepSpec};
use crate::domain::{EventKind, ProtocolId, StepId, StepStatus};
use crate::engines::runner::{self, RunSpec};
use crate::engines::{self, Classification, Phase, Scrubber};
use crate::git::Git;
use crate::git::notes::{self, Notes};
use crate::services::execution::Loaded;
use crate::services::platform::engines::{self as platform_engines, Choice};
use crate::services::platform::storage::repo::{ProtocolRepository, StepRepository};
use crate::services::platform::storage::{self, Store};
use crate::services::platform::telemetry;
use crate::services::prompts::{self, Role};
use crate::services::{spec, trust};

/// Largest diff put into a review prompt; beyond it the diff is cut and the cut is said.
const MAX_DIFF: usize = 200 * 1024;

/// Errors from the quality service (before a verdict could be reached).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// The spec could not be read.
    #[error(transparent)]
    Spec(#[from] spec::Error),
    /// git failed.
    #[error(transparent)]
    Git(#[from] crate::process::Error),
    /// Writing the note failed.
    #[error(transparent)]
    Notes(#[from] notes::Error),
    /// The prompt could not be rendered.
    #[error(transparent)]
    Prompt(#[from] prompts::Error),
    /// No QA engine could be selected.
    #[error(transparent)]
    Selection(#[from] platform_engines::Error),
    /// The engine layer failed before running.
    #[error(transparent)]
    Engine(#[from] engines::Error),
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
    /// The caller committed the whole worktree and holds the run lock since: skip the check
    /// that nothing outside `.godzilla/` is uncommitted.
    pub worktree_committed: bool,
    /// Judge a step that already has its verdict again (`qa --again`): a new verdict for the
    /// same attempt, recorded as a re-judgment.
    pub again: bool,
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

/// Most failing test names kept per check.
const MAX_FAILING: usize = 20;
/// Most lines and bytes of a failing check's output kept in the report and retry prompt.
const TAIL_LINES: usize = 40;
const TAIL_BYTES: usize = 4096;

/// Names of the failing tests an output names: cargo (`test x ... FAILED`), pytest
/// (`FAILED path::test`), go (`--- FAIL: TestX`) and jest/vitest (`● Suite › test`).
pub fn parse_failing_tests(output: &str) -> Vec<String> {
    static FAILING: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?m)^(?:test (\S+) \.\.\. FAILED\s*$|FAILED (\S+)|\s*--- FAIL: (\S+)|\s*● (.+?)\s*$)",
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    });
    let mut names: Vec<String> = Vec::new();
    for c in FAILING.captures_iter(output) {
        let Some(name) = (1..=4).find_map(|i| c.get(i)) else {
            continue;
        };
        let name = name.as_str().to_owned();
        if name != "Console" && !names.contains(&name) && names.len() < MAX_FAILING {
            names.push(name);
        }
    }
    names
}

/// The last lines of `output`, at most [`TAIL_LINES`] lines and about [`TAIL_BYTES`] bytes.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.trim_end().lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut bytes = 0;
    for line in lines.iter().rev().take(TAIL_LINES) {
        bytes += line.len() + 1;
        if bytes > TAIL_BYTES && !kept.is_empty() {
            break;
        }
        kept.push(line);
    }
    kept.reverse();
    kept.join("\n")
}

/// Test counts from common runners' summaries (cargo, pytest, jest/vitest, go).
pub fn parse_test_counts(output: &str) -> Option<TestCounts> {
    static CARGO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"test result: \w+\. (\d+) passed; (\d+) failed")
            .unwrap_or_else(|e| unreachable!("{e}"))
    });
    static PYTEST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:(\d+) failed, )?(\d+) passed").unwrap_or_else(|e| unreachable!("{e}"))
    });
    static JEST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"Tests:\s+(?:(\d+) failed, )?(\d+) passed")
            .unwrap_or_else(|e| unreachable!("{e}"))
    });
    let num =
        |m: Option<regex::Match<'_>>| m.and_then(|m| m.as_str().parse::<u64>().ok()).unwrap_or(0);
    let mut total: Option<TestCounts> = None;
    for c in CARGO.captures_iter(output) {
        let t = total.get_or_insert_with(TestCounts::default);
        t.passed += num(c.get(1));
        t.failed += num(c.get(2));
    }
    if total.is_some() {
        return total;
    }
    if let Some(c) = JEST.captures_iter(output).last() {
        return Some(TestCounts {
            passed: num(c.get(2)),
            failed: num(c.get(1)),
        });
    }
    if let Some(c) = PYTEST.captures_iter(output).last() {
        return Some(TestCounts {
            passed: num(c.get(2)),
            failed: num(c.get(1)),
        });
    }
    // `go test -v` names every test; without -v only failures are listed.
    static GO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?m)^\s*--- (PASS|FAIL): ").unwrap_or_else(|e| unreachable!("{e}"))
    });
    GO.captures_iter(output).fold(None, |total, c| {
        let mut t = total.unwrap_or_default();
        if &c[1] == "PASS" {
            t.passed += 1;
        } else {
            t.failed += 1;
        }
        Some(t)
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
    let mut events =
        storage::events::read(&ProtocolRepository::events_path(store, protocol))?.events;
    events.sort_by(|a, b| (a.lamport, &a.id).cmp(&(b.lamport, &b.id)));
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
    let mut events =
        storage::events::read(&ProtocolRepository::events_path(store, protocol))?.events;
    events.sort_by(|a, b| (a.lamport, &a.id).cmp(&(b.lamport, &b.id)));
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

/// Runs QA on the step's last attempt and records the verdict (event, report, commit, note).
pub fn evaluate_step(
    ctx: &Context,
    loaded: &Loaded,
    step: &StepId,
    opts: &QaOptions,
) -> Result<QualityResult, Error> {
    let Loaded {
        store,
        config,
        engines,
        state,
    } = loaded;
    let protocol = &state.protocol;
    let step_state = state.step(step).ok_or_else(|| Error::NoStep {
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
    let spec = step_spec(store, config, protocol, step)?;
    let run_id = format!(
        "qa-{step}-a{}-{}",
        step_state.attempts,
        &ctx.ids.token()[..8]
    );
    let mut result = QualityResult {
        run_id: run_id.clone(),
        protocol: protocol.clone(),
        step: step.clone(),
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
    };
    if !should_evaluate(&spec) {
        let (_, after) = telemetry::log_protocol_event(
            ctx,
            store,
            protocol,
            Some(step),
            EventKind::QaSkippedPolicy,
            "QA skipped by the step's policy",
            Default::default(),
        )?;
        result.reasons.push("the step's QA policy is skip".into());
        result.step_status = after.step(step).map_or(StepStatus::Completed, |s| s.status);
        return Ok(result);
    }

    // Refusals before any write.
    if spec.qa.policy == QaPolicy::Light && config.checks.is_empty() {
        // `all()` of no checks is true: a PASS here would be a verdict on nothing.
        return Err(Error::NothingToJudge { step: step.clone() });
    }
    trust::require_checks(store, config, ctx.env.trust_config)?;
    let selection = if spec.qa.policy == QaPolicy::Full {
        let choice = Choice {
            flag_engine: opts.engine.as_deref(),
            flag_model: opts.model.as_deref(),
            step_engine: spec.qa.engine.as_deref(),
            step_model: spec.qa.model.as_deref(),
        };
        let s = engines.select(Phase::Qa, &choice)?;
        trust::require_engine(store, config, ctx.env.trust_config, s.engine.name())?;
        s.engine.check_installed()?;
        Some(s)
    } else {
        None
    };
    let git = Git::new(ctx.git_program(), store.root());
    let exec_run = last_exec_run(store, protocol, step)?.ok_or_else(|| Error::NoAttempt {
        step: step.clone(),
        run: "none recorded".into(),
    })?;
    let commit = commit_of_run(&git, &exec_run)?.ok_or_else(|| Error::NoAttempt {
        step: step.clone(),
        run: exec_run.clone(),
    })?;
    let tree = code_tree(&git, &commit)?;
    let head = git.head()?.unwrap_or_default();
    let head_tree = if head == commit {
        tree.clone()
    } else {
        code_tree(&git, &head)?
    };
    // A protocol run judges right after committing the attempt, under its run lock, so the
    // worktree is known clean there; anyone else must check.
    let dirty = !opts.worktree_committed
        && !git
            .run(&["status", "--porcelain", "--", ":!.godzilla"])?
            .trim()
            .is_empty();
    if head_tree != tree || dirty {
        return Err(Error::Moved { step: step.clone() });
    }
    result.exec_run = Some(exec_run.clone());
    result.commit = Some(commit.clone());
    result.tree = Some(tree.clone());
    ctx.reporter.status(
        "Checking",
        &format!("{protocol} {step} ({:?} QA)", spec.qa.policy).to_lowercase(),
    );

    let scrubber = engines.registry().scrubber(&ctx.env.all);
    let mut tokens = 0;
    // The review's cost (the engine's figure, else the price list's), for `godzilla cost`.
    let mut cost_usd: Option<f64> = None;
    for (name, argv) in &config.checks {
        let check = run_check(ctx, store, config, &scrubber, protocol, &run_id, name, argv);
        if !check.passed {
            result
                .reasons
                .push(match (check.timed_out, check.exit_code, check.tests) {
                    (true, _, _) => format!("check `{name}` timed out"),
                    (false, Some(0), Some(t)) => format!(
                        "check `{name}` reported {} failed test{} though it exited 0",
                        t.failed,
                        if t.failed == 1 { "" } else { "s" }
                    ),
                    (false, Some(code), _) => format!("check `{name}` failed (exit {code})"),
                    (false, None, _) => format!("check `{name}` could not run"),
                });
        }
        result.checks.push(check);
    }
    let checks_pass = result.checks.iter().all(|c| c.passed);

    if let Some(selection) = &selection {
        let base = ProtocolRepository::run_path(store, protocol, &exec_run);
        let record: serde_json::Value = storage::read_optional(&base)?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let diff = match record["base_commit"].as_str() {
            Some(b) => git.run(&[
                "diff",
                "--stat",
                "--patch",
                "--end-of-options",
                b,
                &commit,
                "--",
                ".",
                ":!.godzilla",
            ])?,
            None => git.run(&[
                "show",
                "--format=",
                "--patch",
                "--end-of-options",
                &commit,
                "--",
                ".",
                ":!.godzilla",
            ])?,
        };
        let diff = if diff.len() > MAX_DIFF {
            let cut = (0..=MAX_DIFF)
                .rev()
                .find(|i| diff.is_char_boundary(*i))
                .unwrap_or(0);
            format!(
                "{}\n[... diff cut at {MAX_DIFF} bytes of {} ...]",
                &diff[..cut],
                diff.len()
            )
        } else {
            diff
        };
        let header = ProtocolRepository::load_header(store, protocol)?;
        let step_text = storage::read_text(&StepRepository::step_path(store, protocol, step))
            .or_else(storage::Error::unless_symlink)?;
        let plan = storage::read_optional(&ProtocolRepository::plan_path(store, protocol))?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let checks: Vec<serde_json::Value> = result
            .checks
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "outcome": if c.passed { "passed" } else { "FAILED" }, "summary": c.tests.map(|t| format!("{} passed, {} failed", t.passed, t.failed)).unwrap_or_default()}))
            .collect();
        let template = prompts::resolve_prompt(store, Role::Qa)?;
        let prompt = template.render(&serde_json::json!({
            "protocol": {"id": protocol, "description": header.description},
            "plan": plan, "step": {"id": step, "text": step_text}, "diff": diff, "checks": checks,
            "guidelines": crate::services::policy::load(store).map(|p| p.guidelines).unwrap_or_default(),
            "feedback": "", "repo": "",
        }))?;
        let request = crate::services::platform::engines::phase_request(
            store,
            config,
            selection,
            crate::services::platform::engines::PhaseRun {
                phase: Phase::Qa,
                label: format!("{protocol}/{step}/qa"),
                run: run_id.clone(),
                prompt,
                schema: None,
                timeout: opts.timeout,
            },
        )?;
        let used = ProtocolRepository::load_state(store, protocol)?
            .state
            .tokens;
        if let crate::domain::budget::BudgetDecision::Refuse { reason } =
            crate::services::budget::check_and_track(
                ctx,
                store,
                config,
                crate::services::budget::PlannedRun {
                    protocol,
                    step: Some(step),
                    phase: "qa",
                    prompt: &request.prompt,
                    used,
                },
            )?
        {
            storage::remove_scratch_dir(&request.scratch_dir);
            return Err(Error::Budget(reason));
        }
        if let Err(e) = selection.engine.check_recorded(
            &request.label,
            Phase::Qa,
            request.model.as_deref(),
            &request.prompt,
            store.root(),
        ) {
            storage::remove_scratch_dir(&request.scratch_dir);
            return Err(e.into());
        }
        ctx.reporter.status(
            "Reviewing",
            &format!("{protocol} {step} with {}", selection.engine.name()),
        );
        let (run, changed, transcript) = crate::services::platform::engines::run_guarded(
            ctx,
            store,
            selection.engine.as_ref(),
            &request,
        )?;
        let mut outcome = match run {
            Ok(o) => o,
            Err(e) => engines::EngineOutcome::failed(Classification::EngineError, e.to_string()),
        };
        if outcome.classification == Classification::Interrupted {
            // Not a verdict and not a failure of the review: it runs again next time.
            let reason = outcome
                .error
                .clone()
                .unwrap_or_else(|| "godzilla was stopped".into());
            let mut meta = serde_json::Map::new();
            meta.insert("run".into(), run_id.clone().into());
            meta.insert("exec_run".into(), exec_run.clone().into());
            meta.insert("reason".into(), reason.clone().into());
            meta.insert("transcript".into(), transcript.into());
            telemetry::log_protocol_event(
                ctx,
                store,
                protocol,
                Some(step),
                EventKind::QaInterrupted,
                format!("QA interrupted: {reason}; it runs again next time"),
                meta,
            )?;
            return Err(Error::Interrupted {
                step: step.clone(),
                reason,
            });
        }
        if !changed.is_empty() {
            outcome.fail(
                Classification::EngineError,
                format!(
                    "the reviewer modified protected files (restored): {}",
                    changed.join(", ")
                ),
            );
        }
        if git
            .run(&["status", "--porcelain"])?
            .lines()
            .any(|l| !l.contains(".godzilla/"))
        {
            // A reviewer runs read-only; anything it changed is not what was judged.
            // Never `.godzilla/`: it holds events appended since the last commit (a pause,
            // an answer, this QA's own records) that a revert would silently erase.
            git.run(&["checkout", "--", ".", ":!.godzilla"])?;
            git.run(&["clean", "-fdq", "--", ".", ":!.godzilla"])?;
            outcome.fail(
                Classification::EngineError,
                "the reviewer changed files in the worktree (reverted)",
            );
        }
        tokens += outcome.usage.total();
        cost_usd = telemetry::settle_cost(
            config,
            &run_id,
            selection.model.as_deref(),
            &outcome.usage,
            outcome.cost_usd,
        )
        .map(|(c, _)| c.usd());
        let text = scrubber.scrub(outcome.final_message.as_deref().unwrap_or_default());
        let verdict = (outcome.classification == Classification::Ok)
            .then(|| parse_verdict(&text))
            .flatten();
        result.review = Some(Review {
            transcript,
            engine: selection.engine.name().to_owned(),
            model: selection.model.clone(),
            classification: outcome.classification,
            verdict,
            tokens: outcome.usage.total(),
            duration_ms: outcome.duration_ms,
            text,
        });
        if outcome.classification != Classification::Ok {
            result.verdict = Verdict::Error;
            result.reasons.push(format!(
                "the review engine failed: {}{}",
                outcome.classification.as_str(),
                outcome
                    .error
                    .as_deref()
                    .map(|e| format!(" ({})", scrubber.scrub(e)))
                    .unwrap_or_default()
            ));
        } else if verdict.is_none() {
            result.reasons.push("the review states no verdict".into());
        } else if verdict == Some(Verdict::Fail) {
            result.reasons.push("the reviewer found problems".into());
        }
    }
    if result.verdict != Verdict::Error {
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

    // Record: report, event, commit, note.
    let report_path = ProtocolRepository::qa_report_path(store, protocol, &run_id);
    storage::write_new(
        &report_path,
        scrubber
            .scrub(&render_report(&result, store.local_dir()))
            .as_bytes(),
    )?;
    result.report = Some(store.display(&report_path).into_owned());
    let mut meta = serde_json::Map::new();
    meta.insert("run".into(), run_id.clone().into());
    meta.insert("exec_run".into(), exec_run.clone().into());
    meta.insert("tree".into(), tree.clone().into());
    meta.insert(
        "policy".into(),
        serde_json::to_value(spec.qa.policy).unwrap_or_default(),
    );
    meta.insert(
        "verdict".into(),
        serde_json::to_value(result.verdict).unwrap_or_default(),
    );
    meta.insert("reasons".into(), result.reasons.clone().into());
    meta.insert("tokens".into(), tokens.into());
    meta.insert("config_sha256".into(), config.digest().into());
    if let Some(cost) = cost_usd {
        meta.insert("cost_usd".into(), cost.into());
    }
    if let Some(review) = &result.review {
        meta.insert("review_ms".into(), review.duration_ms.into());
        meta.insert("transcript".into(), review.transcript.clone().into());
    }
    meta.insert("checks".into(), result.checks.iter().map(|c| serde_json::json!({"name": c.name, "exit_code": c.exit_code, "passed": c.passed, "tests": c.tests, "failing_tests": c.failing_tests, "log_sha256": c.log_sha256, "log": c.log.strip_prefix(store.local_dir()).unwrap_or(&c.log)})).collect::<Vec<_>>().into());
    if opts.again {
        meta.insert("again".into(), true.into());
    }
    let qa = if opts.again { "QA again" } else { "QA" };
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
    let (_, after) =
        telemetry::log_protocol_event(ctx, store, protocol, Some(step), kind, message, meta)?;
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
            ctx,
            store,
            protocol,
            None,
            EventKind::ProtocolBlocked,
            reason,
            meta,
        )?;
    }
    let verdict_word = match result.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error | Verdict::Skipped => "ERROR",
    };
    let qa_commit = if opts.defer_commit {
        None
    } else {
        Some(git.commit_all(&scrubber.scrub(&format!(
        "chore({protocol}): {qa} {step} {verdict_word}\n\n{}\n\nGodzilla-Protocol: {protocol}\nGodzilla-Step: {step}\nGodzilla-Run: {run_id}\n",
        result.reasons.join("\n")
    )))?)
    };
    let note = serde_json::json!({
        "v": 1, "kind": "qa", "protocol": protocol, "step": step, "run": run_id, "exec_run": exec_run,
        "verdict": result.verdict, "tree": tree, "policy": spec.qa.policy, "tokens": tokens, "again": opts.again, "cost_usd": cost_usd,
        "checks": result.checks.iter().map(|c| serde_json::json!({"name": c.name, "exit_code": c.exit_code})).collect::<Vec<_>>(),
        "qa_commit": qa_commit,
    });
    // The verdict belongs to the commit it judged.
    Notes::new(git, store.local_dir()).append(&commit, &note.to_string())?;
    Ok(result)
}

/// One recorded verdict, as `qa show` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedVerdict {
    /// QA run id.
    pub run: String,
    /// The verdict.
    pub verdict: Verdict,
    /// A re-judgment (`qa --again`) of an attempt that had a verdict already.
    pub again: bool,
    /// When.
    pub at: String,
    /// The policy applied.
    pub policy: Option<serde_json::Value>,
    /// The exec run judged.
    pub exec_run: Option<String>,
    /// The code tree judged.
    pub tree: Option<String>,
    /// Why, one line each.
    pub reasons: Vec<String>,
    /// The checks run (`log` is the log's path on this machine); empty: no mechanical check
    /// ran.
    pub checks: Vec<serde_json::Value>,
    /// The report, relative to the worktree.
    pub report: Option<String>,
}

/// What `qa show` reports: every verdict of a step, and the last one in full.
#[derive(Clone, Debug, Serialize)]
pub struct QaHistory {
    /// Protocol.
    pub protocol: ProtocolId,
    /// Step.
    pub step: StepId,
    /// Every verdict, oldest first.
    pub verdicts: Vec<RecordedVerdict>,
    /// The last verdict's checks (with their logs' paths).
    pub checks: Vec<serde_json::Value>,
    /// The last verdict's report text.
    pub report_text: Option<String>,
}

/// Every recorded verdict of a step (`qa show`).
pub fn history(store: &Store, protocol: &ProtocolId, step: &StepId) -> Result<QaHistory, Error> {
    let mut events =
        storage::events::read(&ProtocolRepository::events_path(store, protocol))?.events;
    events.sort_by(|a, b| (a.lamport, &a.id).cmp(&(b.lamport, &b.id)));
    let str_of = |m: &serde_json::Map<String, serde_json::Value>, k: &str| {
        m.get(k).and_then(|v| v.as_str()).map(str::to_owned)
    };
    let verdicts: Vec<RecordedVerdict> = events
        .iter()
        .filter(|e| e.step.as_ref() == Some(step))
        .filter_map(|e| {
            let verdict = match e.kind {
                EventKind::QaPassed => Verdict::Pass,
                EventKind::QaFailed => Verdict::Fail,
                EventKind::QaError => Verdict::Error,
                EventKind::QaSkippedPolicy => Verdict::Skipped,
                _ => return None,
            };
            let m = &e.metadata;
            let run = str_of(m, "run").unwrap_or_default();
            let checks = m
                .get("checks")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut c| {
                    if let Some(log) = c.get("log").and_then(|l| l.as_str()) {
                        c["log"] = store.local_dir().join(log).display().to_string().into();
                    }
                    c
                })
                .collect();
            let report = ProtocolRepository::qa_report_path(store, protocol, &run);
            Some(RecordedVerdict {
                verdict,
                again: m.get("again").and_then(|v| v.as_bool()).unwrap_or(false),
                at: e.ts.clone(),
                policy: m.get("policy").cloned(),
                exec_run: str_of(m, "exec_run"),
                tree: str_of(m, "tree"),
                reasons: m
                    .get("reasons")
                    .and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| r.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                checks,
                report: (!run.is_empty() && report.is_file())
                    .then(|| store.display(&report).into_owned()),
                run,
            })
        })
        .collect();
    let report_text = match verdicts.last().and_then(|v| v.report.as_ref()) {
        Some(_) => verdicts
            .last()
            .map(|v| ProtocolRepository::qa_report_path(store, protocol, &v.run))
            .map(|p| storage::read_optional(&p))
            .transpose()?
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        None => None,
    };
    Ok(QaHistory {
        protocol: protocol.clone(),
        step: step.clone(),
        checks: verdicts
            .last()
            .map(|v| v.checks.clone())
            .unwrap_or_default(),
        verdicts,
        report_text,
    })
}

#[allow(clippy::too_many_arguments)]
fn run_check(
    ctx: &Context,
    store: &Store,
    config: &Config,
    scrubber: &Scrubber,
    protocol: &ProtocolId,
    run_id: &str,
    name: &str,
    argv: &[String],
) -> CheckResult {
    let log = store
        .local_dir()
        .join("logs")
        .join(protocol.as_str())
        .join(format!("{run_id}-{name}.log"));
    let mut result = CheckResult {
        name: name.to_owned(),
        argv: argv.to_vec(),
        exit_code: None,
        passed: false,
        timed_out: false,
        duration_ms: 0,
        tests: None,
        failing_tests: Vec::new(),
        output_tail: None,
        log_sha256: String::new(),
        log: log.clone(),
    };
    let Some((program, args)) = argv.split_first() else {
        return result;
    };
    let env: BTreeMap<String, String> = (*ctx.env.all).clone();
    let Some(resolved) =
        runner::resolve_program(program, env.get("PATH").map(String::as_str), store.root())
    else {
        let text = format!("`{program}` not found on PATH\n");
        result.log_sha256 = sha256(&text);
        storage::write_derived(&log, text.as_bytes()).ok();
        return result;
    };
    let mut spec = RunSpec::new(resolved, args.to_vec(), store.root());
    spec.env = env;
    spec.timeout = Duration::from_secs(config.qa.check_timeout_secs);
    spec.stall_timeout = Duration::ZERO;
    let raw = match runner::run(&spec, &mut |_, _| {}) {
        Ok(raw) => raw,
        Err(e) => {
            let text = format!("{e}\n");
            result.log_sha256 = sha256(&text);
            storage::write_derived(&log, text.as_bytes()).ok();
            return result;
        }
    };
    // Counts come from what the check printed, never from the argv echoed into the log.
    let own = scrubber.scrub(&format!("{}{}", raw.stdout_text(), raw.stderr_text()));
    let text = format!("$ {}\n{own}", scrubber.scrub(&argv.join(" ")));
    result.exit_code = raw.exit_code;
    result.timed_out = raw.killed.is_some();
    result.tests = parse_test_counts(&own);
    // A runner that reports failed tests has failed, whatever its exit code says.
    result.passed = raw.exit_code == Some(0)
        && raw.killed.is_none()
        && result.tests.is_none_or(|t| t.failed == 0);
    result.duration_ms = u64::try_from(raw.duration.as_millis()).unwrap_or(u64::MAX);
    if !result.passed {
        result.failing_tests = parse_failing_tests(&own);
        result.output_tail = Some(tail(&own));
    }
    result.log_sha256 = sha256(&text);
    // A lost log costs the evidence, not the verdict: the hash is in the event.
    storage::write_derived(&log, text.as_bytes()).ok();
    result
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The heading of the part of a report that is feedback for the next attempt: what the
/// verdict found, without run ids, timings or machine-local paths, so the same findings make
/// the same retry prompt (which recordings are keyed on).
const FINDINGS: &str = "## Findings";

/// A log's path as committed files name it: under `$GIT_COMMON_DIR/godzilla/`, which differs
/// from clone to clone.
fn portable_log(log: &std::path::Path, local_dir: &std::path::Path) -> String {
    log.strip_prefix(local_dir).map_or_else(
        |_| log.display().to_string(),
        |rel| format!("$GIT_COMMON_DIR/godzilla/{}", rel.display()),
    )
}

fn render_report(r: &QualityResult, local_dir: &std::path::Path) -> String {
    let mut out = format!(
        "# QA {} {}\n\nVerdict: {:?}\nPolicy: {:?}\nRun: {}\nJudged: exec run {} at commit {}, code tree {}\n",
        r.protocol,
        r.step,
        r.verdict,
        r.policy,
        r.run_id,
        r.exec_run.as_deref().unwrap_or("-"),
        r.commit.as_deref().unwrap_or("-"),
        r.tree.as_deref().unwrap_or("-")
    );
    out.push_str("\n## Checks\n");
    if r.checks.is_empty() {
        out.push_str(
            "No mechanical check ran: no [checks] are configured in .godzilla/config.toml.\n",
        );
    }
    for c in &r.checks {
        out.push_str(&format!(
            "- `{}`: {} (exit {}, {} ms{}) log sha256 {}, log {}\n",
            c.argv.join(" "),
            if c.passed { "passed" } else { "FAILED" },
            c.exit_code
                .map_or_else(|| "-".to_owned(), |e| e.to_string()),
            c.duration_ms,
            c.tests
                .map(|t| format!(", {} passed / {} failed", t.passed, t.failed))
                .unwrap_or_default(),
            c.log_sha256,
            portable_log(&c.log, local_dir)
        ));
    }
    if let Some(review) = &r.review {
        out.push_str(&format!(
            "- review: {}{}, {}, {} tokens\n",
            review.engine,
            review
                .model
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default(),
            review.classification.as_str(),
            review.tokens,
        ));
        out.push_str(&format!("\nTranscript: {}\n", review.transcript));
    }
    out.push('\n');
    out.push_str(FINDINGS);
    out.push('\n');
    for reason in &r.reasons {
        out.push_str(&format!("- {reason}\n"));
    }
    if r.reasons.is_empty() {
        out.push_str("- none\n");
    }
    if r.checks.is_empty() {
        out.push_str("- no mechanical check ran\n");
    }
    for c in r.checks.iter().filter(|c| !c.passed) {
        out.push_str(&format!("\n### Check `{}` failed\n", c.name));
        if let Some(t) = c.tests {
            out.push_str(&format!("{} passed / {} failed\n", t.passed, t.failed));
        }
        if !c.failing_tests.is_empty() {
            out.push_str(&format!("Failing tests: {}\n", c.failing_tests.join(", ")));
        }
        if let Some(tail) = c.output_tail.as_deref().filter(|t| !t.is_empty()) {
            out.push_str(&format!(
                "Last lines of its output:\n\n```text\n{tail}\n```\n"
            ));
        }
    }
    if let Some(review) = &r.review {
        out.push_str(&format!("\n### Review\n\n{}\n", review.text));
    }
    out
}

/// The part of a report that is feedback for the next attempt (the whole report when it
/// predates the findings section).
fn findings(report: &str) -> &str {
    report.find(FINDINGS).map_or(report, |i| &report[i..])
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
