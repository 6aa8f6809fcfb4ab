use std::path::Path;
use std::sync::{Arc, Mutex};

use super::*;
use crate::context::EnvSnapshot;
use crate::engines::{Engine, EngineKind, EngineOutcome, EngineRun, ProbeReport, RawRun};
use crate::engines::{EngineRequest, Transcript, Usage};
use crate::services::onboarding;
use crate::services::orchestrator::{self, CreateOptions, StepSource};
use crate::services::spec::{show_spec, validate_protocol_spec};

fn numbered(n: usize) -> String {
    let mut text = "# Step\n".to_owned();
    for i in 1..=n {
        text.push_str(&format!("{i}. do thing {i}\n"));
    }
    text
}

#[test]
fn numbered_lists_count_as_list_items() {
    assert_eq!(Complexity::of(&numbered(7)).items, 7);
    assert!(
        !is_simple_step(&numbered(7)),
        "7 numbered items is not simple"
    );
    assert!(is_simple_step(&numbered(6)));
    let parens = "# S\n1) a\n2) b\n3) c\n4) d\n5) e\n6) f\n7) g\n";
    assert_eq!(Complexity::of(parens).items, 7);
    assert!(!is_simple_step(parens));
}

#[test]
fn bullets_lines_and_length_each_break_simplicity() {
    let bullets = "# S\n- a\n* b\n+ c\n- d\n  - nested e\n- f\n- g\n";
    assert_eq!(Complexity::of(bullets).items, 7);
    assert!(!is_simple_step(bullets));
    let lines: String = (0..13).map(|i| format!("line {i}\n\n")).collect();
    assert_eq!(Complexity::of(&lines).lines, 13, "blank lines do not count");
    assert!(!is_simple_step(&lines));
    let long = format!("# S\n{}\n", "word ".repeat(250));
    assert!(long.chars().count() > SIMPLE_MAX_CHARS);
    assert!(!is_simple_step(&long));
    assert!(is_simple_step("# Greet\nAdd a greeting to README.md.\n"));
}

#[test]
fn rules_emphasis_numbers_and_code_are_not_list_items() {
    let text = "# S\n---\n***\n**bold** text\n*emphasis*\n3.14 is pi\n2024-01-01 date\n\
                ```sh\n- not an item\n1. nor this\n# nor a heading\n```\n-\n";
    // Only the lone `-` (an empty item) counts.
    assert_eq!(Complexity::of(text).items, 1, "{:?}", Complexity::of(text));
}

#[test]
fn headings_are_normalised_and_code_is_skipped() {
    let text = "# Title  #\n##  Sub   tasks\n#not a heading\n    # indented code\n\
                ```\n# comment in code\n```\n###### Deep\n####### too deep\n";
    assert_eq!(
        headings(text),
        vec!["# Title", "## Sub tasks", "###### Deep"]
    );
}

#[test]
fn refinement_keeps_every_heading_or_is_rejected() {
    let original = "# Parser\nDo it.\n## Sub-tasks\n- a\n## Checks\n- b\n";
    let good = "# Parser\nDo it carefully.\n## Sub-tasks\n1. a in src/a.rs\n2. b\n\
                ## Checks\n- cargo test\n## Notes\nNew heading is fine.";
    assert_eq!(
        check_refinement(original, good).unwrap(),
        format!("{good}\n")
    );
    // Case and spacing do not matter; the level does.
    let respaced = "#  parser\n## sub-tasks\n##   CHECKS\n";
    assert!(check_refinement(original, respaced).is_ok());
    let dropped = "# Parser\n## Sub-tasks\n1. a\n";
    let problems = check_refinement(original, dropped).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("## Checks"), "{problems:?}");
    let relevelled = "# Parser\n### Sub-tasks\n## Checks\n";
    assert!(check_refinement(original, relevelled).is_err());
    // A heading that appeared twice must appear twice.
    let twice = "# A\n## Notes\nx\n## Notes\ny\n";
    assert!(check_refinement(twice, "# A\n## Notes\nxy\n").is_err());
    assert!(check_refinement(twice, "# A\n## Notes\nx\n## Notes\ny\nz\n").is_ok());
}

#[test]
fn empty_oversized_and_fenced_answers() {
    let original = "# A\n## B\n";
    assert!(check_refinement(original, "   \n").unwrap_err()[0].contains("empty"));
    assert!(check_refinement(original, "```markdown\n```").is_err());
    let big = format!("# A\n## B\n{}", "x".repeat(MAX_REFINED_BYTES));
    assert!(check_refinement(original, &big).unwrap_err()[0].contains("at most"));
    let huge = "y".repeat(MAX_REFINED_BYTES * 5);
    assert!(check_refinement(original, &huge).is_err());
    let fenced = "```markdown\n# A\n## B\n1. x\n```\n";
    assert_eq!(
        check_refinement(original, fenced).unwrap(),
        "# A\n## B\n1. x\n"
    );
    let prose = "Here is the refined step:\n```md\n# A\n## B\n```\nHope it helps!";
    assert_eq!(check_refinement(original, prose).unwrap(), "# A\n## B\n");
    // A step quoting code keeps its inner fences.
    let inner = "# A\n## B\n```sh\ncargo test\n```\n";
    assert_eq!(strip_fences(inner), inner.trim());
}

/// An in-process engine answering from a list, recording every request.
#[derive(Debug, Default)]
struct Scripted {
    answers: Mutex<Vec<Result<String, Classification>>>,
    requests: Mutex<Vec<EngineRequest>>,
}

impl Engine for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn kind(&self) -> EngineKind {
        EngineKind::Command
    }
    fn program(&self) -> Option<&str> {
        None
    }
    fn execute(
        &self,
        req: &EngineRequest,
        _on_line: &mut engines::OnLine<'_>,
    ) -> Result<EngineRun, engines::Error> {
        self.requests.lock().unwrap().push(req.clone());
        let answer = self.answers.lock().unwrap().remove(0);
        let mut outcome = EngineOutcome::from_raw(&RawRun::default());
        outcome.usage = Usage {
            input: 300,
            output: 45,
            ..Usage::default()
        };
        match answer {
            Ok(text) => outcome.final_message = Some(text),
            Err(class) => outcome.fail(class, "scripted failure"),
        }
        Ok(EngineRun {
            outcome,
            transcript: Transcript::default(),
        })
    }
    fn probe(&self) -> ProbeReport {
        ProbeReport {
            name: "scripted".into(),
            kind: EngineKind::Command,
            path: None,
            version: None,
            flags_ok: None,
            missing_flags: Vec::new(),
            notes: Vec::new(),
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    ctx: Context,
    store: Store,
    config: Config,
    id: ProtocolId,
}

fn git(dir: &Path, args: &[&str]) -> String {
    Git::new("git", dir).run(args).unwrap()
}

fn fixture(steps: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    storage::create_dir(&root).unwrap();
    let root = root.canonicalize().unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    // Local settings win over whatever the machine's global config says.
    for (k, v) in [
        ("user.name", "Test"),
        ("user.email", "test@example.com"),
        ("commit.gpgsign", "false"),
    ] {
        git(&root, &["config", k, v]);
    }
    storage::write_atomic(&root.join("README.md"), b"# test\n").unwrap();
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "initial"]);
    let env = EnvSnapshot {
        now: Some("2001-02-03T04:05:06Z".into()),
        seed: Some("7".into()),
        ..EnvSnapshot::default()
    };
    let ctx = Context::discover_with(&root, env, Arc::new(crate::report::Silent)).unwrap();
    onboarding::init_project(&ctx, &onboarding::InitOptions::default()).unwrap();
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "init"]);
    let step_dir = dir.path().join("steps");
    for (name, text) in steps {
        storage::write_atomic(&step_dir.join(name), text.as_bytes()).unwrap();
    }
    let run = orchestrator::create_protocol_run(
        &ctx,
        &CreateOptions {
            short_name: "work".into(),
            description: "do the work".into(),
            base: None,
            steps: StepSource::Files(step_dir),
        },
    )
    .unwrap();
    let store = orchestrator::locate(&ctx, &run.id).unwrap();
    let config = store.load_config().unwrap();
    Fixture {
        _dir: dir,
        ctx,
        store,
        config,
        id: run.id,
    }
}

impl Fixture {
    fn engines(&self, engine: &Arc<Scripted>, configured: bool) -> Engines {
        let mut registry = engines::Registry::default();
        registry.insert(Arc::clone(engine) as Arc<dyn Engine>);
        let mut phases = self.config.phases.clone();
        phases.decompose.engine = configured.then(|| "scripted".to_owned());
        Engines::from_registry(registry, phases)
    }

    fn step_path(&self, step: &str) -> std::path::PathBuf {
        StepRepository::step_path(&self.store, &self.id, &StepId::parse(step).unwrap())
    }

    fn read(&self, step: &str) -> String {
        std::fs::read_to_string(self.step_path(step)).unwrap()
    }

    fn rel(&self, step: &str) -> String {
        self.store.display(&self.step_path(step)).into_owned()
    }

    fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(ProtocolRepository::events_path(&self.store, &self.id))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn decompose(&self, engine: &Arc<Scripted>) -> Result<DecomposeSummary, Error> {
        let engines = self.engines(engine, true);
        let lock = self.store.try_lock_run(&self.id).unwrap().unwrap();
        decompose_protocol(
            &self.ctx,
            &self.store,
            &self.config,
            &engines,
            &lock,
            &DecomposeOptions::default(),
        )
    }
}

const LONG: &str = "# Build the parser\nParse the input format.\n## Sub-tasks\n\
    1. tokens\n2. grammar\n3. errors\n4. tests\n5. docs\n6. bench\n7. cleanup\n## Checks\n- cargo test\n";
const SHORT: &str = "# Greet\nAdd a greeting to README.md.\n";

fn refined() -> String {
    let mut text = LONG.replace(
        "1. tokens",
        "1. tokens in src/lexer.rs (check: cargo test lexer)",
    );
    text.push_str("## Notes\nKeep the public API.\n");
    text
}

#[test]
fn long_step_is_refined_in_place_and_the_old_version_stays_in_history() {
    let f = fixture(&[("01-parser.md", LONG), ("02-greet.md", SHORT)]);
    let engine = Arc::new(Scripted::default());
    engine
        .answers
        .lock()
        .unwrap()
        .push(Ok(format!("```markdown\n{}```", refined())));
    let summary = f.decompose(&engine).unwrap();
    assert_eq!(
        (summary.refined, summary.rejected, summary.tokens),
        (1, 0, 345)
    );
    assert!(matches!(
        summary.steps[0].result,
        DecomposeResult::Refined { .. }
    ));
    assert_eq!(summary.steps[1].result, DecomposeResult::Simple);
    // One engine run, read-only phase, with the step and the protocol in its prompt.
    let requests = engine.requests.lock().unwrap();
    assert_eq!(
        requests.len(),
        1,
        "the simple step is not sent to the engine"
    );
    assert_eq!(requests[0].phase, Phase::Decompose);
    assert!(requests[0].prompt.contains("1. tokens\n2. grammar"));
    assert!(requests[0].prompt.contains("do the work"));
    // Replaced in place, fences stripped; the simple step untouched.
    assert_eq!(f.read("01-parser"), refined());
    assert_eq!(f.read("02-greet"), SHORT);
    // Committed with trailers; the parent holds the previous version.
    let root = f.store.root();
    assert_eq!(git(root, &["status", "--porcelain"]), "");
    let log = git(root, &["log", "-1", "--format=%s%n%b"]);
    assert!(
        log.starts_with(&format!("godzilla({}): decompose 01-parser", f.id)),
        "{log}"
    );
    assert!(
        log.contains(&format!("Godzilla-Protocol: {}", f.id)),
        "{log}"
    );
    assert!(log.contains("Godzilla-Step: 01-parser"), "{log}");
    let old = git(root, &["show", &format!("HEAD^:{}", f.rel("01-parser"))]);
    assert_eq!(old, LONG);
    // The event records tokens and line counts; the spec still validates.
    let events = f.events();
    let e = events
        .iter()
        .find(|e| e["type"] == "step_decomposed")
        .unwrap();
    assert_eq!(e["step"], "01-parser");
    assert_eq!(e["metadata"]["tokens"], 345);
    assert_eq!(e["metadata"]["before_lines"], 12);
    assert_eq!(e["metadata"]["after_lines"], 14);
    assert_eq!(e["metadata"]["refined"], true);
    assert!(spec::load_spec(&f.store, &f.id).unwrap().is_some());
    let state = ProtocolRepository::load_state(&f.store, &f.id)
        .unwrap()
        .state;
    assert_eq!(state.tokens, 345);
    assert!(state.steps.iter().all(|s| s.status == StepStatus::Pending));
}

#[test]
fn an_answer_that_drops_a_heading_is_rejected_and_the_file_is_unchanged() {
    let f = fixture(&[("01-parser.md", LONG)]);
    let engine = Arc::new(Scripted::default());
    let dropped = refined().replace("## Checks\n", "");
    engine.answers.lock().unwrap().push(Ok(dropped));
    let summary = f.decompose(&engine).unwrap();
    assert_eq!((summary.refined, summary.rejected), (0, 1));
    let DecomposeResult::Rejected { problems, tokens } = &summary.steps[0].result else {
        panic!("{:?}", summary.steps[0]);
    };
    assert!(problems[0].contains("## Checks"), "{problems:?}");
    assert_eq!(*tokens, 345);
    assert_eq!(f.read("01-parser"), LONG, "byte for byte");
    // The spent tokens are on record, and committed.
    let events = f.events();
    let e = events
        .iter()
        .find(|e| e["type"] == "step_decomposed")
        .unwrap();
    assert_eq!(e["metadata"]["refined"], false);
    assert_eq!(e["metadata"]["tokens"], 345);
    assert_eq!(git(f.store.root(), &["status", "--porcelain"]), "");
    assert!(
        git(f.store.root(), &["log", "-1", "--format=%s"]).contains("rejected"),
        "the rejection is committed"
    );
}

#[test]
fn no_engine_configured_changes_nothing() {
    let f = fixture(&[("01-parser.md", LONG)]);
    let engine = Arc::new(Scripted::default());
    let engines = f.engines(&engine, false);
    let head = git(f.store.root(), &["rev-parse", "HEAD"]);
    let events = f.events().len();
    let lock = f.store.try_lock_run(&f.id).unwrap().unwrap();
    let err = decompose_protocol(
        &f.ctx,
        &f.store,
        &f.config,
        &engines,
        &lock,
        &DecomposeOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Selection(platform_engines::Error::NoEngine { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("decompose"), "{err}");
    assert_eq!(git(f.store.root(), &["rev-parse", "HEAD"]), head);
    assert_eq!(f.events().len(), events);
    assert_eq!(git(f.store.root(), &["status", "--porcelain"]), "");
}

#[test]
fn an_engine_failure_is_an_error_and_the_step_is_unchanged() {
    let f = fixture(&[("01-parser.md", LONG), ("02-more.md", LONG)]);
    let engine = Arc::new(Scripted::default());
    engine
        .answers
        .lock()
        .unwrap()
        .push(Err(Classification::Auth));
    let err = f.decompose(&engine).unwrap_err();
    assert!(matches!(err, Error::EngineFailed { .. }), "{err}");
    assert_eq!(f.read("01-parser"), LONG);
    assert_eq!(
        engine.requests.lock().unwrap().len(),
        1,
        "a failing engine is not asked again for the next step"
    );
    assert_eq!(git(f.store.root(), &["status", "--porcelain"]), "");
}

#[test]
fn one_step_simple_steps_and_started_steps() {
    let f = fixture(&[("01-greet.md", SHORT), ("02-parser.md", LONG)]);
    let engine = Arc::new(Scripted::default());
    let engines = f.engines(&engine, true);
    let greet = StepId::parse("01-greet").unwrap();
    let lock = f.store.try_lock_run(&f.id).unwrap().unwrap();
    let run = |step: &StepId, force| {
        decompose_step(
            &f.ctx,
            &f.store,
            &f.config,
            &engines,
            &lock,
            step,
            &DecomposeOptions {
                force,
                ..DecomposeOptions::default()
            },
        )
    };
    assert_eq!(run(&greet, false).unwrap().result, DecomposeResult::Simple);
    assert!(engine.requests.lock().unwrap().is_empty());
    // --force sends even a simple step; an identical answer changes nothing.
    engine.answers.lock().unwrap().push(Ok(SHORT.to_owned()));
    assert!(matches!(
        run(&greet, true).unwrap().result,
        DecomposeResult::Unchanged { tokens: 345 }
    ));
    let missing = StepId::parse("09-nope").unwrap();
    assert!(matches!(run(&missing, false), Err(Error::NoStep { .. })));
    // A step with a recorded attempt keeps the instructions that attempt ran with.
    telemetry::log_protocol_event(
        &f.ctx,
        &f.store,
        &f.id,
        None,
        EventKind::ProtocolStarted,
        "started",
        Default::default(),
    )
    .unwrap();
    telemetry::log_protocol_event(
        &f.ctx,
        &f.store,
        &f.id,
        Some(&greet),
        EventKind::StepStarted,
        "attempt 1",
        Default::default(),
    )
    .unwrap();
    assert!(matches!(run(&greet, true), Err(Error::StepState { .. })));
    // `decompose` takes the run lock itself, so this one must be released first.
    drop(lock);
    engine.answers.lock().unwrap().push(Ok(refined()));
    let summary = f.decompose(&engine).unwrap();
    assert!(matches!(
        summary.steps[0].result,
        DecomposeResult::Skipped { .. }
    ));
    assert!(matches!(
        summary.steps[1].result,
        DecomposeResult::Refined { .. }
    ));
}

#[test]
fn validate_drops_a_removed_step_file_and_refuses_an_empty_spec() {
    let f = fixture(&[("01-a.md", SHORT), ("02-b.md", SHORT)]);
    let report = validate_protocol_spec(&f.ctx, &f.id).unwrap();
    assert!(report.valid, "{:?}", report.issues);
    assert_eq!(report.steps.len(), 2);
    let hash = report.hash.clone().unwrap();
    assert_eq!(show_spec(&f.ctx, &f.id).unwrap().hash, hash);
    std::fs::remove_file(f.step_path("02-b")).unwrap();
    let report = validate_protocol_spec(&f.ctx, &f.id).unwrap();
    assert!(report.valid, "{:?}", report.issues);
    assert_eq!(report.steps_removed, [StepId::parse("02-b").unwrap()]);
    let state = ProtocolRepository::load_state(&f.store, &f.id)
        .unwrap()
        .state;
    assert_eq!(state.steps.len(), 1);
    std::fs::remove_file(f.step_path("01-a")).unwrap();
    let spec_before = std::fs::read(ProtocolRepository::spec_path(&f.store, &f.id)).unwrap();
    let report = validate_protocol_spec(&f.ctx, &f.id).unwrap();
    assert!(!report.valid, "no step left");
    assert_eq!(
        std::fs::read(ProtocolRepository::spec_path(&f.store, &f.id)).unwrap(),
        spec_before,
        "an invalid spec is not stored"
    );
}

#[test]
fn validate_keeps_a_hand_edited_spec_and_renews_its_hash() {
    let f = fixture(&[("01-a.md", SHORT)]);
    let path = ProtocolRepository::spec_path(&f.store, &f.id);
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    file["spec"]["steps"][0]["engine"] = "claude".into();
    storage::write_atomic(&path, file.to_string().as_bytes()).unwrap();
    assert!(matches!(
        show_spec(&f.ctx, &f.id),
        Err(spec::Error::HashMismatch { .. })
    ));
    let report = validate_protocol_spec(&f.ctx, &f.id).unwrap();
    assert!(report.valid);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert_eq!(report.steps[0].engine.as_deref(), Some("claude"));
    let shown = show_spec(&f.ctx, &f.id).unwrap();
    assert_eq!(shown.spec.steps[0].engine.as_deref(), Some("claude"));
    assert_eq!(Some(shown.hash), report.hash);
}
