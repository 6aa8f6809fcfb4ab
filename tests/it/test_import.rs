//! Import of CodeMachine workspaces and Spec Kit features: the fixtures under
//! `tests/fixtures/{codemachine,speckit}/` imported through the library, every step, policy,
//! text and warning checked, and every malformed input shown to name its file and position.

use std::path::{Path, PathBuf};

use godzilla::config::QaPolicy;
use godzilla::domain::ProtocolId;
use godzilla::domain::spec::{Outcome, StepPolicy, StepType};
use godzilla::services::codemachine::{self, import_workspace};
use godzilla::services::import::{Imported, ReadError};
use godzilla::services::speckit::{self, import_feature};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The spec must validate once the step texts are written where `prompt_ref` says.
#[track_caller]
fn assert_valid(imported: &Imported) {
    let issues = imported.issues(ProtocolId::parse("0001-import").unwrap());
    assert!(issues.is_empty(), "{issues:#?}");
}

fn ids(imported: &Imported) -> Vec<&str> {
    imported.steps.iter().map(|(s, _)| s.id.as_str()).collect()
}

fn loop_policy(id: &str, max_iterations: u32, step_back: u32) -> StepPolicy {
    StepPolicy::Loop {
        id: id.into(),
        max_iterations,
        step_back,
    }
}

fn trigger(id: &str, on: Outcome, target: &str, max_depth: u32) -> StepPolicy {
    StepPolicy::Trigger {
        id: id.into(),
        on,
        target: target.parse().unwrap(),
        max_depth,
    }
}

#[test]
fn test_import_codemachine_workspace_steps_policies_and_texts() {
    let imported = import_workspace(&fixture("codemachine/full"), QaPolicy::Full).unwrap();
    assert_eq!(imported.source, "codemachine");
    assert_eq!(imported.short_name, "photo-vault");
    assert_eq!(
        imported.description,
        "Photo Vault: A self-hosted photo library with albums, sharing links and full-text \
         search over captions."
    );
    assert_eq!(
        ids(&imported),
        [
            "01-setup-workspace",
            "02-plan-agent",
            "03-code-generation",
            "04-qa-review",
            "05-code-fixer"
        ]
    );
    type Row<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        StepType,
        QaPolicy,
    );
    let summary: Vec<Row<'_>> = imported
        .steps
        .iter()
        .map(|(s, _)| {
            (
                s.name.as_str(),
                s.engine.as_deref(),
                s.model.as_deref(),
                s.step_type,
                s.qa.policy,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            // Engine and model from the agent; setup skips QA.
            (
                "Setup Workspace",
                Some("codex"),
                Some("gpt-5-codex"),
                StepType::Setup,
                QaPolicy::Skip
            ),
            // Another engine than the template's: the template's model does not fit it.
            (
                "Plan Agent",
                Some("claude"),
                None,
                StepType::Work,
                QaPolicy::Full
            ),
            // Neither set: both from template.json's engineDefaults.
            (
                "Code Generation",
                Some("codex"),
                Some("gpt-5-codex"),
                StepType::Work,
                QaPolicy::Full
            ),
            (
                "QA Review",
                Some("codex"),
                Some("gpt-5-codex"),
                StepType::Qa,
                QaPolicy::Full
            ),
            // No name: the id is the name.
            (
                "code-fixer",
                Some("codex"),
                Some("gpt-5-codex"),
                StepType::Work,
                QaPolicy::Full
            ),
        ]
    );
    let policies: Vec<&[StepPolicy]> = imported
        .steps
        .iter()
        .map(|(s, _)| s.policies.as_slice())
        .collect();
    assert_eq!(
        policies,
        [
            &[][..],
            // A trigger sits on its source and fires on pass when its condition says so.
            &[trigger(
                "plan-approved",
                Outcome::Pass,
                "03-code-generation",
                2
            )][..],
            &[loop_policy("fix-loop", 5, 1)][..],
            &[
                // Attached through the module's targetAgentId; no stepBack means this step.
                loop_policy("review-loop", 2, 0),
                trigger("on-review-fail", Outcome::Fail, "05-code-fixer", 3),
            ][..],
            &[][..],
        ]
    );
    let texts: Vec<&str> = imported.steps.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Prepare the workspace for Photo Vault: create the branch and install the toolchain.\n",
            "Read .codemachine/inputs/specifications.md and write an iterative plan for Photo Vault.\n",
            // `<KEY>` is a path form only: in Markdown it would eat HTML tags.
            "Implement the next task of the plan. Keep <details> blocks and <PROMPTS> as written.\n",
            "Review the change against .codemachine/inputs/specifications.md; unknown tokens such \
             as {{UNKNOWN}} stay as they are.\n",
            // Two prompt files, joined by a blank line.
            "Fix every finding of the review.\n\nNever weaken a test to make it pass.\n",
        ]
    );
    assert_eq!(
        imported.warnings,
        [
            "agent `code-fixer` lists module `missing-module`, which modules.js does not define",
            "module `notify-docs`: target `doc-writer` is a sub agent, not a step; policy ignored",
            "module `checkpoint` has behavior `checkpoint`, which godzilla does not support; \
             ignored",
            "sub agents `doc-writer`, `security-auditor` are not imported as steps: CodeMachine \
             runs them on demand from a main agent, not in sequence",
        ]
    );
    let plan = imported.plan.as_deref().unwrap();
    for needle in [
        "- `04-qa-review` QA Review (agent `qa-review`, engine codex, model gpt-5-codex)\n  \
         - loop `review-loop`: on fail, back 0 step(s), at most 2 times\n  \
         - trigger `on-review-fail`: on fail, run `05-code-fixer`\n",
        "## Sub agents (called by main agents; not steps)\n\n- `doc-writer`: Writes user \
         documentation\n- `security-auditor`: Reviews changes for security issues\n",
        "## Specification\n\n# Photo Vault\n",
    ] {
        assert!(plan.contains(needle), "{needle:?} not in\n{plan}");
    }
    assert_valid(&imported);

    // The `.codemachine` folder itself is accepted too, with the same result.
    let direct =
        import_workspace(&fixture("codemachine/full/.codemachine"), QaPolicy::Full).unwrap();
    assert_eq!(direct.steps, imported.steps);
}

#[test]
fn test_import_codemachine_malformed_names_file_and_position() {
    let root = fixture("codemachine/malformed");
    let err = import_workspace(&root, QaPolicy::Full).unwrap_err();
    let file = root.join(".codemachine/config/main.agents.js");
    // Line 9 is `promptPath: …` right after `id: 'second'` with its comma missing.
    assert!(
        matches!(&err, codemachine::Error::Syntax { path, line: 9, column: 5, .. } if *path == file),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}:9:5: expected comma", file.display())
    );
}

/// A minimal workspace in `dir` with one agent whose entry is `agent` (at line 2, column 3).
fn workspace_with_agent(dir: &Path, agent: &str) -> PathBuf {
    write(
        dir,
        ".codemachine/config/main.agents.js",
        &format!("module.exports = [\n  {agent},\n];\n"),
    );
    write(dir, ".codemachine/prompts/a.md", "A.\n");
    dir.join(".codemachine/config/main.agents.js")
}

#[test]
fn test_import_codemachine_every_error_names_file_and_position() {
    let tmp = tempfile::tempdir().unwrap();
    let case = |name: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    };

    // Prompt paths that leave the workspace are refused, naming the agent and its entry.
    for (name, prompt, reason) in [
        (
            "dotdot",
            "../../etc/passwd",
            "uses `..` and could leave the workspace",
        ),
        (
            "absolute",
            "/etc/passwd",
            "is absolute; it must be relative to the workspace",
        ),
        (
            "inner-dotdot",
            "prompts/../../../x.md",
            "uses `..` and could leave the workspace",
        ),
    ] {
        let dir = case(name);
        let file = workspace_with_agent(&dir, &format!("{{ id: 'evil', promptPath: '{prompt}' }}"));
        let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2:3: agent `evil`: prompt path `{prompt}` {reason}",
                file.display()
            )
        );
        assert!(matches!(err, codemachine::Error::PromptOutside { .. }));
    }

    // A symlink inside the workspace that points outside it.
    #[cfg(unix)]
    {
        let dir = case("symlink");
        let file = workspace_with_agent(&dir, "{ id: 'link', promptPath: 'prompts/link.md' }");
        write(tmp.path(), "outside.md", "secret\n");
        std::os::unix::fs::symlink(
            tmp.path().join("outside.md"),
            dir.join(".codemachine/prompts/link.md"),
        )
        .unwrap();
        let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2:3: agent `link`: prompt path `prompts/link.md` resolves (through a \
                 symlink) outside the workspace",
                file.display()
            )
        );
    }

    // A prompt file that does not exist.
    let dir = case("missing");
    let file = workspace_with_agent(&dir, "{ id: 'gone', promptPath: 'prompts/none.md' }");
    let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:3: agent `gone`: prompt file `prompts/none.md` not found under {}",
            file.display(),
            dir.display()
        )
    );

    // An entry without an id, and one with a badly typed field.
    let dir = case("no-id");
    let file = workspace_with_agent(&dir, "{ promptPath: 'prompts/a.md' }");
    let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:2:3: agent #1 has no `id`", file.display())
    );
    let dir = case("bad-type");
    let file = workspace_with_agent(&dir, "{ id: 'a', promptPath: 'prompts/a.md', model: 5 }");
    let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:2:3: agent #1: `model` must be a string", file.display())
    );

    // JavaScript that would need evaluating is refused where it starts.
    let dir = case("require");
    write(
        &dir,
        ".codemachine/config/main.agents.js",
        "const path = require('node:path');\nmodule.exports = [];\n",
    );
    let file = dir.join(".codemachine/config/main.agents.js");
    let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1:14: expected an array or object literal; JavaScript expressions (require, \
             path.join, variables, function calls) are not evaluated",
            file.display()
        )
    );

    // An object that never closes: the position is where it opens.
    let dir = case("eof");
    write(
        &dir,
        ".codemachine/config/main.agents.js",
        "module.exports = [\n  { id: 'a',\n",
    );
    let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:3: the file ends before this is closed (EOF parsing object)",
            dir.join(".codemachine/config/main.agents.js").display()
        )
    );

    // Nesting deep enough to threaten the parser's stack is refused before parsing.
    let dir = case("deep");
    write(
        &dir,
        ".codemachine/config/main.agents.js",
        &format!("module.exports = {}{};", "[".repeat(5000), "]".repeat(5000)),
    );
    let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
    assert!(
        err.to_string()
            .ends_with(":1:82: nested deeper than 64 levels"),
        "{err}"
    );

    // Errors in other files name those files.
    let dir = case("bad-modules");
    workspace_with_agent(&dir, "{ id: 'a', promptPath: 'prompts/a.md' }");
    write(
        &dir,
        ".codemachine/config/modules.js",
        "module.exports = [\n  { id: 'm', behavior: { type: 'loop', maxIterations: 'many' } },\n];\n",
    );
    let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:3: module `m`: `maxIterations` must be a whole number",
            dir.join(".codemachine/config/modules.js").display()
        )
    );
    let dir = case("bad-template");
    workspace_with_agent(&dir, "{ id: 'a', promptPath: 'prompts/a.md' }");
    write(
        &dir,
        ".codemachine/template.json",
        "{\n  \"template\": \"x\",\n}\n",
    );
    let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3:1: trailing comma",
            dir.join(".codemachine/template.json").display()
        )
    );

    // Oversized input is refused before it is parsed.
    let dir = case("huge");
    workspace_with_agent(&dir, "{ id: 'a', promptPath: 'prompts/a.md' }");
    write(
        &dir,
        ".codemachine/config/placeholders.js",
        &format!("// {}\nmodule.exports = {{}};", "x".repeat(5 * 1024 * 1024)),
    );
    let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
    assert!(
        matches!(&err, codemachine::Error::Read { path, source: ReadError::TooLarge }
            if path.ends_with("placeholders.js")),
        "{err:?}"
    );

    // Not a workspace at all.
    let dir = case("empty");
    let err = import_workspace(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not a CodeMachine workspace: {} is missing",
            dir.display(),
            dir.join("config/main.agents.js").display()
        )
    );
}

#[test]
fn test_import_codemachine_policy_limits_are_warned_and_clamped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = &tmp.path().join("My Workflow");
    write(
        dir,
        ".codemachine/config/main.agents.js",
        "export default [\n\
           { id: 'first', promptPath: 'p.md', modules: ['far-back', 'self'] },\n\
           { id: 'second', promptPath: 'p.md', modules: ['unbounded', 'huge', 'never', 'odd'] },\n\
         ];\n",
    );
    write(dir, ".codemachine/p.md", "Do it.\n");
    write(
        dir,
        ".codemachine/config/modules.js",
        "module.exports = [\n\
           { id: 'far-back', behavior: { type: 'loop', stepBack: 4, maxIterations: 2 } },\n\
           { id: 'unbounded', behavior: { type: 'loop' } },\n\
           { id: 'huge', behavior: { type: 'loop', maxIterations: 1000 } },\n\
           { id: 'never', behavior: { type: 'loop', maxIterations: 0 } },\n\
           { id: 'self', behavior: { type: 'trigger', triggerAgentId: 'first' } },\n\
           { id: 'odd', behavior: { type: 'trigger', triggerAgentId: 'first', condition: 'needs_more', maxDepth: 9 } },\n\
           { id: 'loose', behavior: { type: 'trigger', triggerAgentId: 'second' } },\n\
         ];\n",
    );
    let imported = import_workspace(dir, QaPolicy::Light).unwrap();
    assert_eq!(ids(&imported), ["01-first", "02-second"]);
    assert_eq!(
        imported.steps[0].0.policies,
        [loop_policy("far-back", 2, 0)]
    );
    assert_eq!(
        imported.steps[1].0.policies,
        [
            loop_policy("unbounded", 3, 0),
            loop_policy("huge", 50, 0),
            trigger("odd", Outcome::Fail, "01-first", 5),
        ]
    );
    assert_eq!(imported.steps[1].0.qa.policy, QaPolicy::Light);
    assert_eq!(
        imported.warnings,
        [
            "trigger module `odd`: condition `needs_more` cannot be evaluated by godzilla; it \
             fires on fail",
            "loop module `far-back` steps back 4 from step 01-first, before the first step; \
             clamped to 0",
            "loop module `unbounded` sets no maxIterations; using 3",
            "loop module `huge` allows 1000 iterations; capped at 50",
            "loop module `never` allows 0 iterations; no loop imported",
            "trigger module `self` would make `first` trigger itself; ignored for it (use a loop \
             module)",
            "trigger module `odd` asks for depth 9; using 5",
            "module `loose` is not attached to any agent (no agent lists it and it names no \
             `sourceAgentId`); ignored",
        ]
    );
    // No specifications.md and no template: the folder name is the short name.
    assert_eq!(imported.short_name, "my-workflow");
    assert_eq!(
        imported.description,
        "CodeMachine workflow with 2 main agents"
    );
    assert_valid(&imported);
}

#[test]
fn test_import_speckit_feature_phases_tasks_and_plan() {
    let dir = fixture("speckit/photo-albums/specs/001-photo-albums");
    let imported = import_feature(&dir, QaPolicy::Full).unwrap();
    assert_eq!(imported.source, "speckit");
    assert_eq!(imported.short_name, "photo-albums");
    assert_eq!(
        imported.description,
        "Photo Albums: Let users group photos into albums and share an album with a link"
    );
    assert_eq!(
        imported.plan.as_deref(),
        Some(
            std::fs::read_to_string(dir.join("plan.md"))
                .unwrap()
                .as_str()
        )
    );
    assert_eq!(
        ids(&imported),
        [
            "01-setup",
            "02-foundational",
            "03-user-story-1-create-an-album",
            "04-user-story-2-share-an-album",
            "05-verification",
        ]
    );
    let kinds: Vec<(&str, StepType, QaPolicy)> = imported
        .steps
        .iter()
        .map(|(s, _)| (s.name.as_str(), s.step_type, s.qa.policy))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "Setup (Shared Infrastructure)",
                StepType::Setup,
                QaPolicy::Skip
            ),
            (
                "Foundational (Blocking Prerequisites)",
                StepType::Work,
                QaPolicy::Full
            ),
            (
                "User Story 1 - Create an album (Priority: P1) 🎯 MVP",
                StepType::Work,
                QaPolicy::Full
            ),
            (
                "User Story 2 - Share an album (Priority: P2)",
                StepType::Work,
                QaPolicy::Full
            ),
            ("Verification", StepType::Qa, QaPolicy::Full),
        ]
    );
    for (spec, _) in &imported.steps {
        assert!(spec.policies.is_empty() && spec.engine.is_none() && spec.model.is_none());
    }
    let summaries: Vec<&str> = imported
        .steps
        .iter()
        .map(|(_, t)| &t[t.find("## Task summary").unwrap()..])
        .collect();
    assert_eq!(
        summaries,
        [
            "## Task summary\n\n- Tasks (3): T001, T002, T003\n- Parallelizable [P]: T003\n\
             - Already done (checked in tasks.md; verify, do not redo): T001\n",
            "## Task summary\n\n- Tasks (3): T004, T005, T006\n- Parallelizable [P]: T005, T006\n",
            "## Task summary\n\n- Tasks (5): T007, T008, T009, T010, T011\n\
             - Parallelizable [P]: T007, T008, T009\n- User stories: US1\n",
            "## Task summary\n\n- Tasks (2): T012, T013\n- Parallelizable [P]: T012\n\
             - User stories: US2\n",
            "## Task summary\n\n- Tasks (2): T014, T015\n- Parallelizable [P]: T015\n",
        ]
    );
    let story = &imported.steps[2].1;
    assert!(story.starts_with(
        "# Phase 3: User Story 1 - Create an album (Priority: P1) 🎯 MVP\n\n\
         Imported from the Spec Kit feature `specs/001-photo-albums` (`tasks.md`, line 44). \
         Its design documents are `spec.md`, `plan.md`, `data-model.md`, `contracts/` in that \
         folder.\n\n"
    ));
    // The phase section is kept verbatim, sub-headings and checkpoint included, without the
    // `---` separator that ends it.
    assert!(story.contains(
        "**Goal**: A user creates an album and adds uploaded photos to it\n\n\
         **Independent Test**: Create an album through the API and list its photos\n\n\
         ### Tests for User Story 1\n\n\
         - [ ] T007 [P] [US1] Contract test for POST /albums in tests/contract/albums.rs\n"
    ));
    assert!(story.contains("testable independently\n\n## Task summary"));
    // Template samples in comments and fenced examples are not tasks (T007 in the fence
    // would otherwise be a duplicate).
    assert!(!imported.steps.iter().any(|(_, t)| t.contains("TXXX")));
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    assert_valid(&imported);
}

#[test]
fn test_import_speckit_malformed_names_file_and_line() {
    let dir = fixture("speckit/malformed/specs/002-broken");
    let err = import_feature(&dir, QaPolicy::Full).unwrap_err();
    let file = dir.join("tasks.md");
    assert!(
        matches!(&err, speckit::Error::BadTask { path, line: 11, column: 7, .. } if *path == file),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}:11:7: expected a task id such as `T001` after the checkbox",
            file.display()
        )
    );
}

#[test]
fn test_import_speckit_every_error_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let feature = |name: &str, tasks: &str| {
        let dir = tmp.path().join(name);
        write(&dir, "tasks.md", tasks);
        (dir.clone(), dir.join("tasks.md"))
    };

    let (dir, file) = feature(
        "dup",
        "## Phase 1: A\n- [ ] T001 One\n## Phase 2: B\n- [ ] T002 Two\n- [x] T001 Again\n",
    );
    let err = import_feature(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:5:7: task T001 appears twice (first at line 2)",
            file.display()
        )
    );

    let (dir, file) = feature("none", "# Tasks: Nothing\n\n## Phase 1: Setup\n\nTBD\n");
    let err = import_feature(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no tasks (expected checklist lines such as `- [ ] T001 Description`)",
            file.display()
        )
    );

    let (dir, file) = feature(
        "orphan",
        "## Phase 1: Setup\n- [ ] T001 One\n\n## Notes\n\n* [ ] T002 Stray\n",
    );
    let err = import_feature(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:6:7: task T002 is under `Notes`, not under a `## Phase N:` heading",
            file.display()
        )
    );

    let (dir, file) = feature(
        "stories",
        "## Phase 1: A\n- [ ] T001 [US1] [US2] Two stories\n",
    );
    let err = import_feature(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:2:18: task T001 has two user-story tags", file.display())
    );

    // A plan.md that is a symlink out of the feature folder is not read: its text would
    // land in a committed plan.
    #[cfg(unix)]
    {
        let (dir, _) = feature("leak", "## Phase 1: A\n- [ ] T001 One\n");
        write(tmp.path(), "secret.md", "secret\n");
        std::os::unix::fs::symlink(tmp.path().join("secret.md"), dir.join("plan.md")).unwrap();
        let err = import_feature(&dir, QaPolicy::Full).unwrap_err();
        assert!(
            matches!(&err, speckit::Error::Read { path, source: ReadError::Outside(_) }
                if *path == dir.join("plan.md")),
            "{err:?}"
        );
    }

    let dir = tmp.path().join("empty");
    std::fs::create_dir_all(&dir).unwrap();
    let err = import_feature(&dir, QaPolicy::Full).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not a Spec Kit feature folder: {} is missing",
            dir.display(),
            dir.join("tasks.md").display()
        )
    );
}

#[test]
fn test_import_speckit_warnings_for_what_does_not_map() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("007-csv-export");
    write(
        &dir,
        "tasks.md",
        "# Tasks: CSV export\n\n## Phase 1: Setup\n\n- [x] T001 Add csv crate\n- [X] T002 Add \
         fixture\n\n## Phase 2: Polish\n\nNothing yet.\n\n## Phase 3: Export\n\n- [ ] T003 \
         [P] Write exporter in src/export.rs\n",
    );
    let imported = import_feature(&dir, QaPolicy::Full).unwrap();
    assert_eq!(ids(&imported), ["01-setup", "02-export"]);
    assert_eq!(imported.short_name, "csv-export");
    // No spec.md: the tasks.md title is the description.
    assert_eq!(imported.description, "CSV export");
    assert_eq!(imported.plan, None);
    assert_eq!(
        imported.warnings,
        [
            "no plan.md in the feature folder; the protocol has no plan",
            "tasks.md:8: `Phase 2: Polish` has no tasks; no step for it",
            "tasks.md:3: every task of `Setup` is already checked; step 01-setup will only \
             verify",
        ]
    );
    assert_valid(&imported);
}

#[test]
fn test_import_cli_creates_validated_protocols() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let repo = crate::support::TestRepo::initialized();
    let cm = repo
        .godzilla(&[
            "--json",
            "import",
            "codemachine",
            fixtures.join("codemachine/full").to_str().unwrap(),
        ])
        .expect(0)
        .json();
    assert_eq!(cm["status"], "planned");
    let wt = std::path::PathBuf::from(cm["worktree"].as_str().unwrap());
    let id = cm["id"].as_str().unwrap();
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(wt.join(format!(".godzilla/protocols/{id}/spec.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(spec["spec"]["source"], "codemachine");
    assert!(
        spec["spec"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["policies"].as_array().is_some_and(|p| !p.is_empty()))
    );
    repo.godzilla_in(&wt, &["fsck"], &[]).expect(0);

    let sk = repo
        .godzilla(&[
            "--json",
            "import",
            "speckit",
            fixtures
                .join("speckit/photo-albums/specs/001-photo-albums")
                .to_str()
                .unwrap(),
            "--name",
            "albums",
        ])
        .expect(0)
        .json();
    assert_eq!(sk["id"], "0002-albums");
    let wt = std::path::PathBuf::from(sk["worktree"].as_str().unwrap());
    assert!(wt.join(".godzilla/protocols/0002-albums/plan.md").is_file());

    // A malformed workspace is refused before anything is created, naming file and position.
    let bad = repo
        .godzilla(&[
            "import",
            "codemachine",
            fixtures.join("codemachine/malformed").to_str().unwrap(),
        ])
        .expect(2);
    assert!(bad.stderr.contains("main.agents.js:9:5"), "{}", bad.stderr);
    assert_eq!(repo.git(&["branch", "--list", "godzilla/0003-*"]), "");
}
