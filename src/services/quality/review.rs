//! The LLM review of an attempt under the `full` policy.

use super::{
    Attempt, CheckResult, Error, Qa, QualityResult, Review, Spend, Verdict, parse_verdict,
};
use crate::engines::{self, Classification, EngineRequest, Phase};
use crate::services::execution::Loaded;
use crate::services::platform::engines::Selection;
use crate::services::platform::engines::guard::{Begun, Protected};
use crate::services::platform::storage;
use crate::services::platform::storage::repo::{ProtocolRepository, StepRepository};
use crate::services::platform::telemetry;
use crate::services::prompts::{self, Role};

/// Largest diff put into a review prompt; beyond it the diff is cut and the cut is said.
const MAX_DIFF: usize = 200 * 1024;

impl Qa<'_> {
    /// The LLM review: sets `result.review`, and the verdict to `Error` when the engine failed.
    pub(super) fn review(
        &self,
        selection: &Selection,
        attempt: &Attempt,
        result: &mut QualityResult,
    ) -> Result<Spend, Error> {
        // The guard reads the protected files while the diff and the prompt are made.
        let guard = Protected::begin(self.ctx, self.store())?;
        let prompt = self.review_prompt(attempt, &result.checks)?;
        let request = self.review_request(selection, prompt)?;
        self.ctx.reporter.status(
            "Reviewing",
            &format!(
                "{} {} with {}",
                self.protocol(),
                self.step,
                selection.engine.name()
            ),
        );
        let (outcome, transcript) = self.run_reviewer(guard, selection, &request)?;
        if outcome.classification == Classification::Interrupted {
            return Err(self.interrupted(attempt, &outcome, transcript)?);
        }
        let spend = Spend {
            tokens: outcome.usage.total(),
            cost_usd: telemetry::settle_cost(
                &self.loaded.config,
                &self.run_id,
                selection.model.as_deref(),
                &outcome.usage,
                outcome.cost_usd,
            )
            .map(|(c, _)| c.usd()),
        };
        let text = self
            .scrubber
            .scrub(outcome.final_message.as_deref().unwrap_or_default());
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
                    .map(|e| format!(" ({})", self.scrubber.scrub(e)))
                    .unwrap_or_default()
            ));
        } else if verdict.is_none() {
            result.reasons.push("the review states no verdict".into());
        } else if verdict == Some(Verdict::Fail) {
            result.reasons.push("the reviewer found problems".into());
        }
        Ok(spend)
    }

    /// Not a verdict and not a failure of the review: recorded as `qa_interrupted`, the step
    /// still waits for QA and the review runs again next time.
    fn interrupted(
        &self,
        attempt: &Attempt,
        outcome: &engines::EngineOutcome,
        transcript: String,
    ) -> Result<Error, Error> {
        let reason = outcome
            .error
            .clone()
            .unwrap_or_else(|| "godzilla was stopped".into());
        let mut meta = serde_json::Map::new();
        meta.insert("run".into(), self.run_id.clone().into());
        meta.insert("exec_run".into(), attempt.exec_run.clone().into());
        meta.insert("reason".into(), reason.clone().into());
        meta.insert("transcript".into(), transcript.into());
        telemetry::log_protocol_event(
            self.ctx,
            self.store(),
            self.protocol(),
            Some(self.step),
            crate::domain::EventKind::QaInterrupted,
            format!("QA interrupted: {reason}; it runs again next time"),
            meta,
        )?;
        Ok(Error::Interrupted {
            step: self.step.clone(),
            reason,
        })
    }

    /// The review prompt: the plan, the step, the attempt's diff and the check results.
    fn review_prompt(&self, attempt: &Attempt, checks: &[CheckResult]) -> Result<String, Error> {
        let (store, protocol, step) = (self.store(), self.protocol(), self.step);
        let diff = cut_diff(self.attempt_diff(attempt)?);
        let header = ProtocolRepository::load_header(store, protocol)?;
        let step_text = storage::read_text(&StepRepository::step_path(store, protocol, step))
            .or_else(storage::Error::unless_symlink)?;
        let plan = storage::read_optional(&ProtocolRepository::plan_path(store, protocol))?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let checks: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "outcome": if c.passed { "passed" } else { "FAILED" }, "summary": c.tests.map(|t| format!("{} passed, {} failed", t.passed, t.failed)).unwrap_or_default()}))
            .collect();
        let template = prompts::resolve_prompt(store, Role::Qa)?;
        Ok(template.render(&serde_json::json!({
            "protocol": {"id": protocol, "description": header.description},
            "plan": plan, "step": {"id": step, "text": step_text}, "diff": diff, "checks": checks,
            "guidelines": crate::services::policy::load(store).map(|p| p.guidelines).unwrap_or_default(),
            "feedback": "", "repo": "",
        }))?)
    }

    /// What the attempt changed (outside `.godzilla/`): from the commit it started from when
    /// its run record names one, else the commit's own patch.
    fn attempt_diff(&self, attempt: &Attempt) -> Result<String, Error> {
        let base = ProtocolRepository::run_path(self.store(), self.protocol(), &attempt.exec_run);
        let record: serde_json::Value = storage::read_optional(&base)?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let commit = attempt.commit.as_str();
        let base = record["base_commit"].as_str();
        // In-process where it renders as git would; git for the rest (see `git::diff`).
        match crate::git::diff::patch(self.git.dir(), base, commit, ".godzilla") {
            Ok(Some(diff)) => return Ok(diff),
            Ok(None) => {}
            Err(e) => tracing::debug!("in-process diff failed, asking git: {e}"),
        }
        Ok(match base {
            Some(b) => self.git.run(&[
                "diff",
                "--stat",
                "--patch",
                "--end-of-options",
                b,
                commit,
                "--",
                ".",
                ":!.godzilla",
            ])?,
            None => self.git.run(&[
                "show",
                "--format=",
                "--patch",
                "--end-of-options",
                commit,
                "--",
                ".",
                ":!.godzilla",
            ])?,
        })
    }

    /// The review's engine request, refused (its scratch directory removed) when the budget
    /// or the replay recording says no.
    fn review_request(
        &self,
        selection: &Selection,
        prompt: String,
    ) -> Result<EngineRequest, Error> {
        let Loaded { store, config, .. } = self.loaded;
        let (protocol, step) = (self.protocol(), self.step);
        let request = crate::services::platform::engines::phase_request(
            store,
            config,
            selection,
            crate::services::platform::engines::PhaseRun {
                phase: Phase::Qa,
                label: format!("{protocol}/{step}/qa"),
                run: self.run_id.clone(),
                prompt,
                schema: None,
                timeout: self.opts.timeout,
            },
        )?;
        let used = ProtocolRepository::load_state(store, protocol)?
            .state
            .tokens;
        if let crate::domain::budget::BudgetDecision::Refuse { reason } =
            crate::services::budget::check_and_track(
                self.ctx,
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
        Ok(request)
    }

    /// Runs the reviewer read-only: a change to protected files or the worktree is undone and
    /// makes the outcome an engine error. Returns the outcome and the transcript's path.
    fn run_reviewer(
        &self,
        guard: Begun,
        selection: &Selection,
        request: &EngineRequest,
    ) -> Result<(engines::EngineOutcome, String), Error> {
        let git = &self.git;
        let (run, changed, transcript) = crate::services::platform::engines::run_guarded_from(
            self.ctx,
            self.store(),
            guard,
            selection.engine.as_ref(),
            request,
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
        if !git.dirty_paths_outside(".godzilla")?.is_empty() {
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
        Ok((outcome, transcript))
    }
}

/// A diff bounded to [`MAX_DIFF`] bytes, the cut said.
fn cut_diff(diff: String) -> String {
    if diff.len() <= MAX_DIFF {
        return diff;
    }
    let cut = (0..=MAX_DIFF)
        .rev()
        .find(|i| diff.is_char_boundary(*i))
        .unwrap_or(0);
    format!(
        "{}\n[... diff cut at {MAX_DIFF} bytes of {} ...]",
        &diff[..cut],
        diff.len()
    )
}
