//! Turning loop and trigger modules into step policies.

use std::collections::HashMap;

use super::DEFAULT_LOOP_ITERATIONS;
use super::parse::{Agent, Behavior, Module, SubAgent};
use crate::domain::spec::{MAX_LOOP_ITERATIONS, MAX_TRIGGER_DEPTH, Outcome, StepPolicy};

/// Puts each module's policy on the steps it belongs to and warns about the rest.
pub(super) fn attach_policies(
    agents: &[Agent],
    sub: &[SubAgent],
    modules: &[Module],
    steps: &mut [(crate::domain::spec::StepSpec, String)],
    warnings: &mut Vec<String>,
) {
    let index: HashMap<&str, usize> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    warn_undefined_modules(agents, modules, warnings);
    for module in modules {
        let holders = holders(agents, module);
        let mut holder_indices = Vec::new();
        for holder in &holders {
            match index.get(holder) {
                Some(&i) => holder_indices.push(i),
                None => warnings.push(unknown_agent(sub, &module.id, holder, "agent")),
            }
        }
        match &module.behavior {
            Behavior::Other(kind) => {
                warnings.push(format!(
                    "module `{}` has behavior `{kind}`, which godzilla does not support; ignored",
                    module.id
                ));
            }
            Behavior::Loop { .. } | Behavior::Trigger { .. } if holders.is_empty() => {
                warnings.push(format!(
                    "module `{}` is not attached to any agent (no agent lists it{}); ignored",
                    module.id,
                    match module.behavior {
                        Behavior::Trigger { .. } => " and it names no `sourceAgentId`",
                        Behavior::Loop { .. } | Behavior::Other(_) =>
                            " and it names no `targetAgentId`",
                    }
                ));
            }
            Behavior::Loop {
                max_iterations,
                step_back,
            } => attach_loop(
                module,
                *max_iterations,
                *step_back,
                &holder_indices,
                steps,
                warnings,
            ),
            Behavior::Trigger {
                target,
                on,
                max_depth,
            } => {
                let trigger = Trigger {
                    target: target.as_deref(),
                    on: *on,
                    max_depth: *max_depth,
                };
                attach_trigger(
                    module,
                    &trigger,
                    &index,
                    sub,
                    &holder_indices,
                    steps,
                    warnings,
                );
            }
        }
    }
}

/// Warns about each module an agent lists that `modules.js` does not define.
fn warn_undefined_modules(agents: &[Agent], modules: &[Module], warnings: &mut Vec<String>) {
    for agent in agents {
        for module in &agent.modules {
            if !modules.iter().any(|m| &m.id == module) {
                warnings.push(format!(
                    "agent `{}` lists module `{module}`, which modules.js does not define",
                    agent.id
                ));
            }
        }
    }
}

/// The warning for a module naming an agent that is not a main agent.
fn unknown_agent(sub: &[SubAgent], module: &str, agent: &str, role: &str) -> String {
    if sub.iter().any(|s| s.id == agent) {
        format!("module `{module}`: {role} `{agent}` is a sub agent, not a step; policy ignored")
    } else {
        format!("module `{module}`: {role} `{agent}` is not a main agent; policy ignored")
    }
}

/// Agents that list the module, then the one the module names itself, without repeats.
fn holders<'a>(agents: &'a [Agent], module: &'a Module) -> Vec<&'a str> {
    let listed = agents
        .iter()
        .filter(|a| a.modules.contains(&module.id))
        .map(|a| a.id.as_str());
    let named = match module.behavior {
        Behavior::Loop { .. } => module.target_agent.as_deref(),
        Behavior::Trigger { .. } => module.source_agent.as_deref(),
        Behavior::Other(_) => None,
    };
    let mut holders: Vec<&str> = listed.chain(named).collect();
    let mut seen = Vec::new();
    holders.retain(|h| {
        let fresh = !seen.contains(h);
        seen.push(*h);
        fresh
    });
    holders
}

/// The iterations a loop module allows, bounded; `None` when it allows none.
fn loop_iterations(
    module: &Module,
    max_iterations: Option<u64>,
    warnings: &mut Vec<String>,
) -> Option<u32> {
    Some(match max_iterations {
        None => {
            warnings.push(format!(
                "loop module `{}` sets no maxIterations; using {DEFAULT_LOOP_ITERATIONS}",
                module.id
            ));
            DEFAULT_LOOP_ITERATIONS
        }
        Some(0) => {
            warnings.push(format!(
                "loop module `{}` allows 0 iterations; no loop imported",
                module.id
            ));
            return None;
        }
        Some(n) if n > u64::from(MAX_LOOP_ITERATIONS) => {
            warnings.push(format!(
                "loop module `{}` allows {n} iterations; capped at {MAX_LOOP_ITERATIONS}",
                module.id
            ));
            MAX_LOOP_ITERATIONS
        }
        // Fits: the arm above caught everything larger than a u32 limit.
        Some(n) => u32::try_from(n).unwrap_or(MAX_LOOP_ITERATIONS),
    })
}

/// Puts a loop module's policy on each step that holds it.
fn attach_loop(
    module: &Module,
    max_iterations: Option<u64>,
    step_back: u64,
    holder_indices: &[usize],
    steps: &mut [(crate::domain::spec::StepSpec, String)],
    warnings: &mut Vec<String>,
) {
    let Some(iterations) = loop_iterations(module, max_iterations, warnings) else {
        return;
    };
    for &i in holder_indices {
        // The original clamped the restart point to the first step; so do we,
        // but say so, because the file asked for more.
        let back = if step_back > i as u64 {
            warnings.push(format!(
                "loop module `{}` steps back {step_back} from step {}, before the \
                 first step; clamped to {i}",
                module.id, steps[i].0.id
            ));
            i as u32
        } else {
            u32::try_from(step_back).unwrap_or(0)
        };
        push_policy(
            &mut steps[i].0.policies,
            StepPolicy::Loop {
                id: module.id.clone(),
                max_iterations: iterations,
                step_back: back,
            },
        );
    }
}

/// What a trigger module asks for, borrowed from its [`Behavior::Trigger`].
struct Trigger<'a> {
    target: Option<&'a str>,
    on: Outcome,
    max_depth: Option<u64>,
}

/// Puts a trigger module's policy on each step that holds it.
fn attach_trigger(
    module: &Module,
    trigger: &Trigger<'_>,
    index: &HashMap<&str, usize>,
    sub: &[SubAgent],
    holder_indices: &[usize],
    steps: &mut [(crate::domain::spec::StepSpec, String)],
    warnings: &mut Vec<String>,
) {
    // The original attached a trigger to its *target* (pinned by its golden
    // test), so the step that should fire it never did. A trigger belongs to
    // its SOURCE, the step whose outcome fires it; the target is what it runs.
    let Some(target) = trigger.target else {
        warnings.push(format!(
            "trigger module `{}` names no triggerAgentId; ignored",
            module.id
        ));
        return;
    };
    let Some(&t) = index.get(target) else {
        warnings.push(unknown_agent(sub, &module.id, target, "target"));
        return;
    };
    let depth = match trigger.max_depth {
        None => 3,
        Some(d) if d == 0 || d > u64::from(MAX_TRIGGER_DEPTH) => {
            warnings.push(format!(
                "trigger module `{}` asks for depth {d}; using {MAX_TRIGGER_DEPTH}",
                module.id
            ));
            MAX_TRIGGER_DEPTH
        }
        Some(d) => u32::try_from(d).unwrap_or(MAX_TRIGGER_DEPTH),
    };
    let target_id = steps[t].0.id.clone();
    for &i in holder_indices {
        if i == t {
            warnings.push(format!(
                "trigger module `{}` would make `{target}` trigger itself; ignored \
                 for it (use a loop module)",
                module.id
            ));
            continue;
        }
        push_policy(
            &mut steps[i].0.policies,
            StepPolicy::Trigger {
                id: module.id.clone(),
                on: trigger.on,
                target: target_id.clone(),
                max_depth: depth,
            },
        );
    }
}

/// Adds a policy unless one with its id is already there (one module attached twice).
fn push_policy(policies: &mut Vec<StepPolicy>, policy: StepPolicy) {
    if !policies.iter().any(|p| p.id() == policy.id()) {
        policies.push(policy);
    }
}
