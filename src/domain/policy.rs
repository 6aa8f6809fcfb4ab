//! Loop and trigger policies: what happens after a step's outcome, and what runs next.
//!
//! Pure decisions over the spec, the folded state and the history of decisions already made
//! (itself read from events), so a resumed run decides exactly as an uninterrupted one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::spec::{Outcome, ProtocolSpec, StepPolicy};
use super::{ProtocolState, StepId, StepStatus};

/// Id of the loop a step gets when its spec has none (`[qa] max_iterations`).
pub const DEFAULT_LOOP: &str = "default";

/// Decisions made so far, from events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// How many times each (step, loop policy) was applied.
    pub loops_used: BTreeMap<(StepId, String), u32>,
    /// Triggers that fired: (step, policy, outcome).
    pub triggers_fired: BTreeSet<(StepId, String, Outcome)>,
    /// Depth of the trigger chain that set a step to run (0: not triggered).
    pub trigger_depth: BTreeMap<StepId, u32>,
}

/// What to do after an outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Run the step again, after reopening `reopen` (in order; the failed step is last).
    Loop {
        /// Policy id.
        policy: String,
        /// The iteration this starts (1-based).
        iteration: u32,
        /// The policy's limit.
        max: u32,
        /// Steps to reopen.
        reopen: Vec<StepId>,
    },
    /// Set another step to run.
    Trigger {
        /// Policy id.
        policy: String,
        /// The step to run.
        target: StepId,
        /// Depth of the chain this starts.
        depth: u32,
    },
    /// Nothing applies to a FAIL: the protocol is blocked.
    Block {
        /// Why.
        reason: String,
    },
}

/// Decides what follows `outcome` of `step`. A PASS yields the triggers it fires (possibly
/// none); a FAIL yields one loop, else the triggers it fires, else a block.
pub fn decide(
    spec: &ProtocolSpec,
    history: &History,
    step: &StepId,
    outcome: Outcome,
    default_loop: u32,
) -> Vec<Decision> {
    let Some(index) = spec.steps.iter().position(|s| &s.id == step) else {
        return vec![Decision::Block {
            reason: format!("step {step} is not in the spec"),
        }];
    };
    let step_spec = &spec.steps[index];
    let depth = history.trigger_depth.get(step).copied().unwrap_or(0);
    let triggers: Vec<Decision> = step_spec
        .policies
        .iter()
        .filter_map(|p| match p {
            StepPolicy::Trigger {
                id,
                on,
                target,
                max_depth,
            } if *on == outcome => {
                let fired = history
                    .triggers_fired
                    .contains(&(step.clone(), id.clone(), outcome));
                (!fired && depth < *max_depth).then(|| Decision::Trigger {
                    policy: id.clone(),
                    target: target.clone(),
                    depth: depth + 1,
                })
            }
            StepPolicy::Trigger { .. } | StepPolicy::Loop { .. } => None,
        })
        .collect();
    if outcome == Outcome::Pass {
        return triggers;
    }
    let mut loops: Vec<(String, u32, u32)> = step_spec
        .policies
        .iter()
        .filter_map(|p| match p {
            StepPolicy::Loop {
                id,
                max_iterations,
                step_back,
            } => Some((id.clone(), *max_iterations, *step_back)),
            StepPolicy::Trigger { .. } => None,
        })
        .collect();
    if loops.is_empty() && default_loop > 0 {
        loops.push((DEFAULT_LOOP.to_owned(), default_loop, 0));
    }
    for (id, max, back) in &loops {
        let used = history
            .loops_used
            .get(&(step.clone(), id.clone()))
            .copied()
            .unwrap_or(0);
        if used < *max {
            let from = index.saturating_sub(*back as usize);
            return vec![Decision::Loop {
                policy: id.clone(),
                iteration: used + 1,
                max: *max,
                reopen: spec.steps[from..=index]
                    .iter()
                    .map(|s| s.id.clone())
                    .collect(),
            }];
        }
    }
    if !triggers.is_empty() {
        return triggers;
    }
    let tried: Vec<String> = loops
        .iter()
        .map(|(id, max, _)| format!("{id} ({max} iterations)"))
        .collect();
    vec![Decision::Block {
        reason: if tried.is_empty() {
            format!("step {step} failed and no policy applies")
        } else {
            format!(
                "step {step} still fails after its loop policies were used up: {}",
                tried.join(", ")
            )
        },
    }]
}

/// What the orchestrator should do next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "step", rename_all = "snake_case")]
pub enum NextAction {
    /// Run an attempt of this step.
    Execute(StepId),
    /// Run QA on this step's attempt.
    Qa(StepId),
    /// A person must approve this step.
    AwaitApproval(StepId),
    /// Every step is done.
    Complete,
    /// Nothing can go on: the step is blocked or failed with nothing left to try.
    Stuck(StepId),
}

/// The next thing to do: the first step (in spec order) that is not completed decides.
pub fn next_action(spec: &ProtocolSpec, state: &ProtocolState) -> NextAction {
    for step in &spec.steps {
        let status = state
            .step(&step.id)
            .map_or(StepStatus::Pending, |s| s.status);
        match status {
            StepStatus::Completed => continue,
            StepStatus::Pending | StepStatus::Running => {
                return NextAction::Execute(step.id.clone());
            }
            StepStatus::NeedsQa if step.needs_approval => {
                return NextAction::AwaitApproval(step.id.clone());
            }
            StepStatus::NeedsQa => return NextAction::Qa(step.id.clone()),
            StepStatus::Failed | StepStatus::Blocked | StepStatus::Cancelled => {
                return NextAction::Stuck(step.id.clone());
            }
        }
    }
    NextAction::Complete
}

#[cfg(test)]
mod model {
    //! A model of the orchestrator: random outcome sequences drive `decide` and `next_action`
    //! through the real state machines, and a separately written reference says what must
    //! hold: it ends, it completes only when every step passed last, loops stay within their
    //! limits, every trigger fires at most once per outcome, and it blocks only when a FAIL has
    //! nothing left to try.

    use proptest::prelude::*;

    use super::*;
    use crate::domain::spec::{QaPolicy, SPEC_VERSION, step_from_file};
    use crate::domain::{ProtocolId, StepEvent, StepState};

    fn sid(n: usize) -> StepId {
        StepId::parse(&format!("{:02}-s", n + 1)).unwrap()
    }

    fn spec_with(policies: Vec<Vec<StepPolicy>>) -> ProtocolSpec {
        ProtocolSpec {
            version: SPEC_VERSION,
            protocol: ProtocolId::parse("0001-m").unwrap(),
            source: "files".into(),
            steps: policies
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut s = step_from_file(sid(i), format!("S{i}"), QaPolicy::Full);
                    s.policies = p;
                    s
                })
                .collect(),
        }
    }

    fn policy_strategy(steps: usize) -> impl Strategy<Value = Vec<Vec<StepPolicy>>> {
        let one = (0..3u8, 1..4u32, 0..3u32, 0..steps, any::<bool>()).prop_map(
            move |(kind, n, back, target, on_pass)| match kind {
                0 => vec![],
                1 => vec![StepPolicy::Loop {
                    id: "l".into(),
                    max_iterations: n,
                    step_back: back,
                }],
                _ => vec![StepPolicy::Trigger {
                    id: "t".into(),
                    on: if on_pass {
                        Outcome::Pass
                    } else {
                        Outcome::Fail
                    },
                    target: sid(target),
                    max_depth: n,
                }],
            },
        );
        proptest::collection::vec(one, steps..=steps)
    }

    /// Applies a decision to the state and history as the orchestrator does.
    fn apply(
        state: &mut ProtocolState,
        history: &mut History,
        step: &StepId,
        outcome: Outcome,
        d: &Decision,
    ) -> bool {
        match d {
            Decision::Loop { policy, reopen, .. } => {
                *history
                    .loops_used
                    .entry((step.clone(), policy.clone()))
                    .or_insert(0) += 1;
                for id in reopen {
                    let s = state.steps.iter_mut().find(|s| &s.id == id).unwrap();
                    if let Ok(next) = s.status.apply(StepEvent::Reopened) {
                        s.status = next;
                    }
                }
                true
            }
            Decision::Trigger {
                policy,
                target,
                depth,
            } => {
                history
                    .triggers_fired
                    .insert((step.clone(), policy.clone(), outcome));
                history.trigger_depth.insert(target.clone(), *depth);
                let s = state.steps.iter_mut().find(|s| &s.id == target).unwrap();
                if let Ok(next) = s.status.apply(StepEvent::Reopened) {
                    s.status = next;
                }
                true
            }
            Decision::Block { .. } => false,
        }
    }

    proptest! {
        #[test]
        fn orchestrator_model_holds(
            policies in (1usize..5).prop_flat_map(policy_strategy),
            outcomes in proptest::collection::vec(any::<bool>(), 0..200),
            default_loop in 0u32..3,
        ) {
            let spec = spec_with(policies);
            let mut state = ProtocolState {
                protocol: spec.protocol.clone(), status: None,
                steps: spec.steps.iter().map(|s| StepState { id: s.id.clone(), status: StepStatus::Pending, attempts: 0, without_qa: false }).collect(),
                lamport: 0, events: 0, tokens: 0, cost_micro_usd: Some(0), anomalies: vec![], stop: None,
            };
            let mut history = History::default();
            let mut outcomes = outcomes.into_iter();
            let mut last_outcome: BTreeMap<StepId, Outcome> = BTreeMap::new();
            let mut blocked = None;
            // The loop must end: every FAIL uses up a loop or a trigger or blocks, and every
            // PASS completes a step, so 10_000 rounds is far more than enough.
            let mut rounds = 0;
            loop {
                rounds += 1;
                prop_assert!(rounds < 10_000, "did not terminate");
                match next_action(&spec, &state) {
                    NextAction::Complete => break,
                    NextAction::Stuck(s) => { blocked = Some(s); break; }
                    NextAction::AwaitApproval(_) => unreachable!("no approval steps in the model"),
                    NextAction::Execute(s) => {
                        let st = state.steps.iter_mut().find(|x| x.id == s).unwrap();
                        st.status = st.status.apply(StepEvent::Started).unwrap();
                        st.attempts += 1;
                        st.status = st.status.apply(StepEvent::ExecutionSucceeded).unwrap();
                    }
                    NextAction::Qa(s) => {
                        // Outcomes run out → everything passes from then on, so the run ends.
                        let pass = outcomes.next().unwrap_or(true);
                        let outcome = if pass { Outcome::Pass } else { Outcome::Fail };
                        last_outcome.insert(s.clone(), outcome);
                        let st = state.steps.iter_mut().find(|x| x.id == s).unwrap();
                        st.status = st.status.apply(if pass { StepEvent::QaPassed } else { StepEvent::QaFailed }).unwrap();
                        for d in decide(&spec, &history, &s, outcome, default_loop) {
                            if !apply(&mut state, &mut history, &s, outcome, &d) {
                                blocked = Some(s.clone());
                            }
                        }
                        if blocked.is_some() { break; }
                    }
                }
            }
            // Reference: completed ⇔ every step's last outcome is PASS.
            if blocked.is_none() {
                for s in &spec.steps {
                    prop_assert_eq!(last_outcome.get(&s.id), Some(&Outcome::Pass));
                    prop_assert_eq!(state.step(&s.id).unwrap().status, StepStatus::Completed);
                }
            } else {
                let b = blocked.unwrap();
                prop_assert_eq!(last_outcome.get(&b), Some(&Outcome::Fail));
            }
            // Loops never exceed their limits.
            for ((step, policy), used) in &history.loops_used {
                let max = spec.step(step).unwrap().policies.iter().find_map(|p| match p {
                    StepPolicy::Loop { id, max_iterations, .. } if id == policy => Some(*max_iterations),
                    StepPolicy::Loop { .. } | StepPolicy::Trigger { .. } => None,
                }).unwrap_or(default_loop);
                prop_assert!(*used <= max, "{step} {policy}: {used} > {max}");
            }
        }
    }

    #[test]
    fn trigger_fires_once_per_outcome() {
        let spec = spec_with(vec![
            vec![StepPolicy::Trigger {
                id: "t".into(),
                on: Outcome::Pass,
                target: sid(1),
                max_depth: 3,
            }],
            vec![],
        ]);
        let mut history = History::default();
        let first = decide(&spec, &history, &sid(0), Outcome::Pass, 0);
        assert_eq!(
            first,
            vec![Decision::Trigger {
                policy: "t".into(),
                target: sid(1),
                depth: 1
            }]
        );
        history
            .triggers_fired
            .insert((sid(0), "t".into(), Outcome::Pass));
        assert!(decide(&spec, &history, &sid(0), Outcome::Pass, 0).is_empty());
    }

    #[test]
    fn loops_then_block() {
        let spec = spec_with(vec![
            vec![],
            vec![StepPolicy::Loop {
                id: "l".into(),
                max_iterations: 2,
                step_back: 1,
            }],
        ]);
        let mut history = History::default();
        let d = decide(&spec, &history, &sid(1), Outcome::Fail, 5);
        assert_eq!(
            d,
            vec![Decision::Loop {
                policy: "l".into(),
                iteration: 1,
                max: 2,
                reopen: vec![sid(0), sid(1)]
            }]
        );
        history.loops_used.insert((sid(1), "l".into()), 2);
        assert!(matches!(
            decide(&spec, &history, &sid(1), Outcome::Fail, 5)[0],
            Decision::Block { .. }
        ));
        // With no policy the default loop applies.
        assert!(matches!(
            decide(&spec, &History::default(), &sid(0), Outcome::Fail, 1)[0],
            Decision::Loop { .. }
        ));
        assert!(matches!(
            decide(&spec, &History::default(), &sid(0), Outcome::Fail, 0)[0],
            Decision::Block { .. }
        ));
    }
}
