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
    /// Test counts, when the output shows them.
    pub tests: Option<TestCounts>,
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
    let text = std::fs::read_to_string(StepRepository::step_path(store, protocol, step))
        .unwrap_or_default();
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

/// Test counts from common runners' summaries (cargo, pytest, go, jest/vitest).
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
    PYTEST.captures_iter(output).last().map(|c| TestCounts {
        passed: num(c.get(2)),
        failed: num(c.get(1)),
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
        |b| String::from_utf8_lossy(&b).into_owned(),
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
    if step_state.status != StepStatus::NeedsQa {
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
                .push(match (check.timed_out, check.exit_code) {
                    (true, _) => format!("check `{name}` timed out"),
                    (false, Some(code)) => format!("check `{name}` failed (exit {code})"),
                    (false, None) => format!("check `{name}` could not run"),
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
        let step_text = std::fs::read_to_string(StepRepository::step_path(store, protocol, step))
            .unwrap_or_default();
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
        let request = crate::services::execution::phase_request(
            store,
            config,
            selection,
            crate::services::execution::PhaseRun {
                phase: Phase::Qa,
                label: format!("{protocol}/{step}/qa"),
                run: run_id.clone(),
                prompt,
                schema: None,
                timeout: opts.timeout,
            },
        )?;
        ctx.reporter.status(
            "Reviewing",
            &format!("{protocol} {step} with {}", selection.engine.name()),
        );
        let (run, changed, transcript) = crate::services::execution::run_guarded(
            ctx,
            store,
            selection.engine.as_ref(),
            &request,
        )?;
        let mut outcome = match run {
            Ok(o) => o,
            Err(e) => engines::EngineOutcome::failed(Classification::EngineError, e.to_string()),
        };
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
            git.run(&["checkout", "--", "."])?;
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
        scrubber.scrub(&render_report(&result)).as_bytes(),
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
    if let Some(cost) = cost_usd {
        meta.insert("cost_usd".into(), cost.into());
    }
    if let Some(review) = &result.review {
        meta.insert("review_ms".into(), review.duration_ms.into());
        meta.insert("transcript".into(), review.transcript.clone().into());
    }
    meta.insert("checks".into(), result.checks.iter().map(|c| serde_json::json!({"name": c.name, "exit_code": c.exit_code, "passed": c.passed, "tests": c.tests, "log_sha256": c.log_sha256})).collect::<Vec<_>>().into());
    let (kind, message) = match result.verdict {
        Verdict::Pass => (EventKind::QaPassed, "QA PASS".to_owned()),
        Verdict::Fail => (
            EventKind::QaFailed,
            format!("QA FAIL: {}", result.reasons.join("; ")),
        ),
        Verdict::Error | Verdict::Skipped => (
            EventKind::QaError,
            format!("QA could not judge: {}", result.reasons.join("; ")),
        ),
    };
    let (_, after) =
        telemetry::log_protocol_event(ctx, store, protocol, Some(step), kind, message, meta)?;
    result.step_status = after.step(step).map_or(StepStatus::Blocked, |s| s.status);
    let verdict_word = match result.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error | Verdict::Skipped => "ERROR",
    };
    let qa_commit = if opts.defer_commit {
        None
    } else {
        Some(git.commit_all(&scrubber.scrub(&format!(
        "chore({protocol}): QA {step} {verdict_word}\n\n{}\n\nGodzilla-Protocol: {protocol}\nGodzilla-Step: {step}\nGodzilla-Run: {run_id}\n",
        result.reasons.join("\n")
    )))?)
    };
    let note = serde_json::json!({
        "v": 1, "kind": "qa", "protocol": protocol, "step": step, "run": run_id, "exec_run": exec_run,
        "verdict": result.verdict, "tree": tree, "policy": spec.qa.policy, "tokens": tokens, "cost_usd": cost_usd,
        "checks": result.checks.iter().map(|c| serde_json::json!({"name": c.name, "exit_code": c.exit_code})).collect::<Vec<_>>(),
        "qa_commit": qa_commit,
    });
    // The verdict belongs to the commit it judged.
    Notes::new(git, store.local_dir()).append(&commit, &note.to_string())?;
    Ok(result)
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
    let text = scrubber.scrub(&format!(
        "$ {}\n{}{}",
        argv.join(" "),
        raw.stdout_text(),
        raw.stderr_text()
    ));
    result.exit_code = raw.exit_code;
    result.timed_out = raw.killed.is_some();
    result.passed = raw.exit_code == Some(0) && raw.killed.is_none();
    result.duration_ms = u64::try_from(raw.duration.as_millis()).unwrap_or(u64::MAX);
    result.tests = parse_test_counts(&text);
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

fn render_report(r: &QualityResult) -> String {
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
    if !r.reasons.is_empty() {
        out.push_str("\n## Reasons\n");
        for reason in &r.reasons {
            out.push_str(&format!("- {reason}\n"));
        }
    }
    out.push_str("\n## Checks\n");
    if r.checks.is_empty() {
        out.push_str("No checks are configured.\n");
    }
    for c in &r.checks {
        out.push_str(&format!(
            "- `{}`: {} (exit {}, {} ms{}) log sha256 {}\n",
            c.argv.join(" "),
            if c.passed { "passed" } else { "FAILED" },
            c.exit_code
                .map_or_else(|| "-".to_owned(), |e| e.to_string()),
            c.duration_ms,
            c.tests
                .map(|t| format!(", {} passed / {} failed", t.passed, t.failed))
                .unwrap_or_default(),
            c.log_sha256
        ));
    }
    if let Some(review) = &r.review {
        out.push_str(&format!(
            "\n## Review ({}{}, {}, {} tokens)\n\n{}\n",
            review.engine,
            review
                .model
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default(),
            review.classification.as_str(),
            review.tokens,
            review.text
        ));
        out.push_str(&format!("\nTranscript: {}\n", review.transcript));
    }
    out
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
