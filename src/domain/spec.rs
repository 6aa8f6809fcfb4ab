//! `ProtocolSpec`: what each step of a protocol is, how it runs and how it is checked.
//!
//! Built from step files, a CodeMachine workspace or Spec Kit tasks; the only way to a
//! [`ProtocolSpec`] other tools can trust is [`validate`]. Hashing is over canonical JSON
//! (sorted keys, no whitespace), so the same spec always has the same hash.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{ProtocolId, StepId};

/// Layout version of `spec.json`.
pub const SPEC_VERSION: u32 = 1;

/// How much QA a step gets; the config chooses the default for work steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QaPolicy {
    /// No QA.
    Skip,
    /// Mechanical checks only.
    Light,
    /// Checks plus an LLM review.
    #[default]
    Full,
}

/// Most loop iterations a policy may ask for.
pub const MAX_LOOP_ITERATIONS: u32 = 50;

/// Deepest trigger chain a policy may ask for.
pub const MAX_TRIGGER_DEPTH: u32 = 5;

/// What kind of step it is; setup steps skip QA by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepType {
    /// Prepares the workspace.
    Setup,
    /// Changes the code.
    Work,
    /// Reviews or tests.
    Qa,
}

/// How a step is checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QaSpec {
    /// skip, light (checks only) or full (checks + review).
    pub policy: QaPolicy,
    /// A prompt override (path relative to the protocol folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Engine for the review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Model for the review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Which outcome a policy reacts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// QA gave PASS (or was skipped).
    Pass,
    /// QA gave FAIL, or the engine failed.
    Fail,
}

/// What happens after a step, beyond moving on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepPolicy {
    /// On FAIL, run the step again (with the QA findings in its prompt), optionally going
    /// back `step_back` steps first, at most `max_iterations` times.
    Loop {
        /// Policy id (unique within the step).
        id: String,
        /// Attempts after the first.
        max_iterations: u32,
        /// How many steps before this one to restart from (0: this step).
        #[serde(default)]
        step_back: u32,
    },
    /// On an outcome, set another step to run, once per outcome.
    Trigger {
        /// Policy id (unique within the step).
        id: String,
        /// The outcome that fires it.
        on: Outcome,
        /// The step to run.
        target: StepId,
        /// How deep a chain of triggers may go.
        #[serde(default = "default_depth")]
        max_depth: u32,
    },
}

fn default_depth() -> u32 {
    3
}

impl StepPolicy {
    /// The policy id.
    pub fn id(&self) -> &str {
        match self {
            Self::Loop { id, .. } | Self::Trigger { id, .. } => id,
        }
    }
}

/// Where a step's results go, relative to the protocol folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepOutputs {
    /// The final engine message (`outputs/NN-slug.md`).
    pub protocol: String,
    /// Other named outputs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux: BTreeMap<String, String>,
}

/// One step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Step id (`NN-slug`).
    pub id: StepId,
    /// Human title.
    pub name: String,
    /// Engine for execution (overrides the phase config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Model for execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The instructions, relative to the protocol folder (`steps/NN-slug.md`).
    pub prompt_ref: String,
    /// Outputs.
    pub outputs: StepOutputs,
    /// Kind of step.
    pub step_type: StepType,
    /// QA.
    pub qa: QaSpec,
    /// Loop and trigger policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<StepPolicy>,
    /// Wall-clock limit of one attempt, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// A person must approve it (`godzilla protocol approve`) instead of QA.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_approval: bool,
}

/// The spec of a protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolSpec {
    /// [`SPEC_VERSION`].
    pub version: u32,
    /// The protocol.
    pub protocol: ProtocolId,
    /// Where the steps came from: `files`, `plan`, `codemachine`, `speckit`.
    pub source: String,
    /// Steps, in order.
    pub steps: Vec<StepSpec>,
}

/// One problem found by [`validate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpecIssue {
    /// JSON-pointer-like location, e.g. `steps[2].prompt_ref`.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

/// Whether the slug of `id` has `word` as one whole word (`-`, `_` or `.` separated): a step
/// named `01-barcode-scanner` is not a scan, `02-setuptools-pin` is not a setup.
fn has_word(id: &StepId, word: &str) -> bool {
    id.slug()
        .split(['-', '_', '.'])
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// Infers a step's type from its id, as the original did but from whole words only: `00-` or
/// the word `setup` → setup, the word `qa` → qa, else work.
pub fn infer_step_type(id: &StepId) -> StepType {
    if id.number() == 0 || has_word(id, "setup") {
        StepType::Setup
    } else if has_word(id, "qa") {
        StepType::Qa
    } else {
        StepType::Work
    }
}

/// The default QA policy for a step: setup steps and steps with the word `scan` skip QA,
/// others use `default`.
pub fn default_qa_policy(id: &StepId, step_type: StepType, default: QaPolicy) -> QaPolicy {
    if step_type == StepType::Setup || has_word(id, "scan") {
        QaPolicy::Skip
    } else {
        default
    }
}

/// Whether a relative path stays inside its root: no absolute paths, no `..`, no empty or
/// `.` components, no backslashes.
pub fn is_contained(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Checks a spec: ids unique (also after case folding), paths inside the protocol folder and
/// present (`exists` answers for paths relative to it), policies well-formed and pointing at
/// real steps.
pub fn validate(spec: &ProtocolSpec, exists: &dyn Fn(&str) -> bool) -> Vec<SpecIssue> {
    let mut issues = Vec::new();
    let mut issue = |at: String, message: String| issues.push(SpecIssue { at, message });
    if spec.version != SPEC_VERSION {
        issue(
            "version".into(),
            format!("unsupported spec version {}", spec.version),
        );
    }
    if spec.steps.is_empty() {
        issue("steps".into(), "a protocol needs at least one step".into());
    }
    let ids: HashSet<&StepId> = spec.steps.iter().map(|s| &s.id).collect();
    let mut folded = HashSet::new();
    for (i, step) in spec.steps.iter().enumerate() {
        let at = |field: &str| format!("steps[{i}].{field}");
        if !folded.insert(step.id.as_str().to_lowercase()) {
            issue(
                at("id"),
                format!("step {} appears twice (ignoring case)", step.id),
            );
        }
        if step.name.trim().is_empty() {
            issue(at("name"), "empty".into());
        }
        if !is_contained(&step.prompt_ref) {
            issue(
                at("prompt_ref"),
                format!(
                    "`{}` is not a path inside the protocol folder",
                    step.prompt_ref
                ),
            );
        } else if !exists(&step.prompt_ref) {
            issue(
                at("prompt_ref"),
                format!("`{}` does not exist", step.prompt_ref),
            );
        }
        for (name, path) in std::iter::once(("protocol", &step.outputs.protocol))
            .chain(step.outputs.aux.iter().map(|(k, v)| (k.as_str(), v)))
        {
            if !is_contained(path) {
                issue(
                    at(&format!("outputs.{name}")),
                    format!("`{path}` is not a path inside the protocol folder"),
                );
            } else if path == &step.prompt_ref || path.starts_with("steps/") {
                issue(
                    at(&format!("outputs.{name}")),
                    format!("`{path}` would overwrite step instructions"),
                );
            }
        }
        if let Some(prompt) = &step.qa.prompt
            && !is_contained(prompt)
        {
            issue(
                at("qa.prompt"),
                format!("`{prompt}` is not a path inside the protocol folder"),
            );
        }
        let mut policy_ids = HashSet::new();
        for (j, policy) in step.policies.iter().enumerate() {
            let pat = format!("steps[{i}].policies[{j}]");
            if !policy_ids.insert(policy.id()) {
                issue(
                    pat.clone(),
                    format!("policy id `{}` appears twice", policy.id()),
                );
            }
            match policy {
                StepPolicy::Loop {
                    max_iterations,
                    step_back,
                    ..
                } => {
                    if *max_iterations == 0 || *max_iterations > MAX_LOOP_ITERATIONS {
                        issue(
                            pat.clone(),
                            format!("max_iterations must be 1..={MAX_LOOP_ITERATIONS}"),
                        );
                    }
                    if *step_back as usize > i {
                        issue(
                            pat,
                            format!("step_back {step_back} goes before the first step"),
                        );
                    }
                }
                StepPolicy::Trigger {
                    target, max_depth, ..
                } => {
                    if !ids.contains(target) {
                        issue(pat.clone(), format!("target step {target} does not exist"));
                    }
                    if target == &step.id {
                        issue(
                            pat.clone(),
                            "a step cannot trigger itself; use a loop policy".into(),
                        );
                    }
                    if *max_depth == 0 || *max_depth > MAX_TRIGGER_DEPTH {
                        issue(pat, format!("max_depth must be 1..={MAX_TRIGGER_DEPTH}"));
                    }
                }
            }
        }
        if step.timeout_secs == Some(0) {
            issue(at("timeout_secs"), "must be positive".into());
        }
    }
    issues
}

/// Canonical JSON: keys sorted at every level, no whitespace.
pub fn canonical_json(value: &serde_json::Value) -> String {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let sorted: BTreeMap<&String, serde_json::Value> =
                    map.iter().map(|(k, v)| (k, sort(v))).collect();
                serde_json::Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sort).collect())
            }
            other @ (serde_json::Value::Null
            | serde_json::Value::Bool(_)
            | serde_json::Value::Number(_)
            | serde_json::Value::String(_)) => other.clone(),
        }
    }
    serde_json::to_string(&sort(value)).unwrap_or_default()
}

impl ProtocolSpec {
    /// sha256 of the canonical JSON, hex.
    pub fn hash(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        crate::digest::sha256_hex(canonical_json(&value).as_bytes())
    }

    /// The step with this id.
    pub fn step(&self, id: &StepId) -> Option<&StepSpec> {
        self.steps.iter().find(|s| &s.id == id)
    }
}

/// A step spec with the defaults for a step file: prompt in `steps/`, output in `outputs/`.
pub fn step_from_file(id: StepId, name: String, default_qa: QaPolicy) -> StepSpec {
    let step_type = infer_step_type(&id);
    StepSpec {
        prompt_ref: format!("steps/{id}.md"),
        outputs: StepOutputs {
            protocol: format!("outputs/{id}.md"),
            aux: BTreeMap::new(),
        },
        qa: QaSpec {
            policy: default_qa_policy(&id, step_type, default_qa),
            prompt: None,
            engine: None,
            model: None,
        },
        step_type,
        name,
        id,
        engine: None,
        model: None,
        policies: Vec::new(),
        timeout_secs: None,
        needs_approval: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(s: &str) -> StepId {
        StepId::parse(s).unwrap()
    }

    fn spec(steps: Vec<StepSpec>) -> ProtocolSpec {
        ProtocolSpec {
            version: SPEC_VERSION,
            protocol: ProtocolId::parse("0001-x").unwrap(),
            source: "files".into(),
            steps,
        }
    }

    #[test]
    fn inference_follows_the_names() {
        assert_eq!(infer_step_type(&sid("00-prepare")), StepType::Setup);
        assert_eq!(infer_step_type(&sid("01-setup-env")), StepType::Setup);
        assert_eq!(infer_step_type(&sid("05-qa-pass")), StepType::Qa);
        assert_eq!(infer_step_type(&sid("02-build-api")), StepType::Work);
        // Whole words only: a scanner is not a scan, setuptools is not a setup.
        assert_eq!(infer_step_type(&sid("02-setuptools-pin")), StepType::Work);
        assert_eq!(infer_step_type(&sid("03-squash")), StepType::Work);
        assert_eq!(
            default_qa_policy(&sid("01-barcode-scanner"), StepType::Work, QaPolicy::Full),
            QaPolicy::Full
        );
        assert_eq!(
            default_qa_policy(&sid("04-scan_repo"), StepType::Work, QaPolicy::Full),
            QaPolicy::Skip
        );
        assert_eq!(
            default_qa_policy(&sid("03-repo-scan"), StepType::Work, QaPolicy::Full),
            QaPolicy::Skip
        );
    }

    #[test]
    fn valid_spec_has_no_issues_and_a_stable_hash() {
        let s = spec(vec![step_from_file(
            sid("01-a"),
            "A".into(),
            QaPolicy::Full,
        )]);
        assert!(validate(&s, &|p| p == "steps/01-a.md").is_empty());
        assert_eq!(s.hash(), s.clone().hash());
        assert_eq!(s.hash().len(), 64);
    }

    #[test]
    fn bad_paths_and_policies_are_reported() {
        let mut a = step_from_file(sid("01-a"), "A".into(), QaPolicy::Full);
        a.prompt_ref = "../evil.md".into();
        a.outputs.protocol = "steps/01-a.md".into();
        a.policies = vec![
            StepPolicy::Trigger {
                id: "t".into(),
                on: Outcome::Fail,
                target: sid("09-missing"),
                max_depth: 3,
            },
            StepPolicy::Loop {
                id: "l".into(),
                max_iterations: 0,
                step_back: 2,
            },
        ];
        let issues = validate(&spec(vec![a]), &|_| true);
        let text: Vec<String> = issues
            .iter()
            .map(|i| format!("{}: {}", i.at, i.message))
            .collect();
        assert_eq!(text.len(), 5, "{text:#?}");
        assert!(text.iter().any(|t| t.starts_with("steps[0].prompt_ref")));
        assert!(
            text.iter()
                .any(|t| t.contains("overwrite step instructions"))
        );
        assert!(text.iter().any(|t| t.contains("09-missing")));
    }

    #[test]
    fn containment() {
        for ok in ["steps/01-a.md", "outputs/x/y.md"] {
            assert!(is_contained(ok));
        }
        for bad in ["", "/etc/x", "../x", "a/../../b", "a//b", "./a", "a\\b"] {
            assert!(!is_contained(bad), "{bad}");
        }
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let v: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":{"d":2,"c":3}}"#).unwrap();
        assert_eq!(canonical_json(&v), r#"{"a":{"c":3,"d":2},"b":1}"#);
    }
}
