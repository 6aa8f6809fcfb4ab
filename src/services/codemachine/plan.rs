//! The plan written with an import: steps, sub agents and the workspace's specification.

use super::parse::{Agent, SubAgent};
use crate::domain::spec::{Outcome, StepPolicy};

pub(super) fn first_heading(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// The first paragraph of prose (not a heading, list or quote), on one line.
pub(super) fn first_paragraph(text: &str) -> Option<String> {
    let mut para: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !para.is_empty() {
                break;
            }
            continue;
        }
        if line.starts_with(['#', '-', '*', '>', '|', '`', '<']) || line.starts_with("1.") {
            if !para.is_empty() {
                break;
            }
            continue;
        }
        para.push(line);
    }
    (!para.is_empty()).then(|| para.join(" "))
}

/// The plan: what was imported from where, so the descriptions and sub agents the spec
/// cannot hold are not lost, followed by the workspace's specification when it has one.
pub(super) fn render_plan(
    agents: &[Agent],
    sub: &[SubAgent],
    steps: &[(crate::domain::spec::StepSpec, String)],
    specification: Option<&str>,
) -> String {
    let mut plan = String::from("# Plan (imported from CodeMachine)\n\n## Steps\n\n");
    for (agent, (spec, _)) in agents.iter().zip(steps) {
        plan.push_str(&format!(
            "- `{}` {} (agent `{}`",
            spec.id, spec.name, agent.id
        ));
        if let Some(engine) = &spec.engine {
            plan.push_str(&format!(", engine {engine}"));
        }
        if let Some(model) = &spec.model {
            plan.push_str(&format!(", model {model}"));
        }
        plan.push(')');
        if let Some(d) = &agent.description {
            plan.push_str(&format!(": {d}"));
        }
        plan.push('\n');
        for policy in &spec.policies {
            let line = match policy {
                StepPolicy::Loop {
                    id,
                    max_iterations,
                    step_back,
                } => format!(
                    "  - loop `{id}`: on fail, back {step_back} step(s), at most {max_iterations} times\n"
                ),
                StepPolicy::Trigger { id, on, target, .. } => {
                    let on = match on {
                        Outcome::Pass => "pass",
                        Outcome::Fail => "fail",
                    };
                    format!("  - trigger `{id}`: on {on}, run `{target}`\n")
                }
            };
            plan.push_str(&line);
        }
    }
    if !sub.is_empty() {
        plan.push_str("\n## Sub agents (called by main agents; not steps)\n\n");
        for s in sub {
            plan.push_str(&format!("- `{}`", s.id));
            if let Some(d) = &s.description {
                plan.push_str(&format!(": {d}"));
            }
            plan.push('\n');
        }
    }
    if let Some(spec) = specification {
        plan.push_str("\n## Specification\n\n");
        plan.push_str(spec.trim_end());
        plan.push('\n');
    }
    plan
}
