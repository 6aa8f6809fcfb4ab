//! Spec Kit import: turns a feature folder (`specs/NNN-feature/`) into steps.
//!
//! Spec Kit's `tasks.md` groups checklist tasks (`- [ ] T001 [P] [US1] Do X in src/x.rs`)
//! under `## Phase N: Title` headings; `[P]` marks tasks that touch different files and may
//! run in parallel, `[USn]` ties a task to a user story of `spec.md`. The mapping chosen here:
//!
//! - one step per phase, in file order, numbered `01`, `02`… (phase numbers in the file may
//!   skip or read `N`); the step text is the phase section verbatim plus a summary that keeps
//!   every task id, lists the `[P]` tasks as parallelizable and the `[x]` ones as done;
//! - a phase per step because a phase is Spec Kit's unit of "done and checkable" (it ends
//!   at a checkpoint), while single tasks are too small to be worth a QA round each;
//! - the step type comes from the phase title: `setup` → setup (skips QA), test,
//!   verification or validation → qa, anything else → work;
//! - without any `## Phase` heading, every `##` section that holds tasks is a phase;
//! - `plan.md` becomes the plan, `spec.md`'s title and summary the description.
//!
//! Malformed input (no tasks, a checklist line in a phase that is not a task, duplicate
//! ids, a task outside every phase) is an error naming the file and line. This module only
//! reads; it never writes, creates protocols or prints.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use super::import::{Imported, ReadError, read_text};
use crate::config::QaPolicy;
use crate::domain::StepId;
use crate::domain::name::slugify;
use crate::domain::spec::{StepType, default_qa_policy, step_from_file};
use crate::error_kind::{ErrorKind, HasKind};

/// Longest slug taken from a phase title, so `NN-slug` stays well under the name limit.
const SLUG_LEN: usize = 40;

/// Why a feature folder could not be imported. Every variant names a file; problems at a
/// place in a file carry its 1-based line and column.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The folder has no `tasks.md`.
    #[error("{} is not a Spec Kit feature folder: {} is missing", dir.display(), missing.display())]
    NotAFeature {
        /// The folder given.
        dir: PathBuf,
        /// The file looked for.
        missing: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ReadError,
    },
    /// A checklist line where a task belongs does not parse as a task.
    #[error("{}:{line}:{column}: {message}", path.display())]
    BadTask {
        /// `tasks.md`.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A task id is used twice.
    #[error(
        "{}:{line}:{column}: task {task} appears twice (first at line {first_line})",
        path.display()
    )]
    DuplicateTask {
        /// `tasks.md`.
        path: PathBuf,
        /// 1-based line of the second use.
        line: usize,
        /// 1-based column of the id.
        column: usize,
        /// The id.
        task: String,
        /// 1-based line of the first use.
        first_line: usize,
    },
    /// A task sits under a `##` heading that is not a phase, while the file has phases.
    #[error(
        "{}:{line}:{column}: task {task} is under `{heading}`, not under a `## Phase N:` heading",
        path.display()
    )]
    TaskOutsidePhase {
        /// `tasks.md`.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column of the id.
        column: usize,
        /// The id.
        task: String,
        /// The heading it sits under (or `(top of file)`).
        heading: String,
    },
    /// `tasks.md` holds no task at all.
    #[error("{}: no tasks (expected checklist lines such as `- [ ] T001 Description`)", path.display())]
    NoTasks {
        /// `tasks.md`.
        path: PathBuf,
    },
    /// More phases than step ids can number.
    #[error("{}: {count} phases; step ids allow at most 99", path.display())]
    TooManyPhases {
        /// `tasks.md`.
        path: PathBuf,
        /// How many.
        count: usize,
    },
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        // The feature folder named is not one godzilla can import, whichever way.
        match self {
            Self::NotAFeature { .. }
            | Self::Read { .. }
            | Self::BadTask { .. }
            | Self::DuplicateTask { .. }
            | Self::TaskOutsidePhase { .. }
            | Self::NoTasks { .. }
            | Self::TooManyPhases { .. } => ErrorKind::Usage,
        }
    }
}

/// Reads the Spec Kit feature folder `dir` (holding `tasks.md`, optionally `plan.md` and
/// `spec.md`) into one step per phase. `default_qa` is the QA policy of steps that do not
/// skip QA.
pub fn import_feature(dir: &Path, default_qa: QaPolicy) -> Result<Imported, Error> {
    let tasks_path = dir.join("tasks.md");
    if !tasks_path.is_file() {
        return Err(Error::NotAFeature {
            dir: dir.to_owned(),
            missing: tasks_path,
        });
    }
    let tasks_md = read(&tasks_path, dir)?.unwrap_or_default();
    let parsed = parse_tasks(&tasks_path, &tasks_md)?;
    let plan = read(&dir.join("plan.md"), dir)?;
    let spec_md = read(&dir.join("spec.md"), dir)?;

    let folder = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let in_specs = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.parent().and_then(|p| p.file_name()).map(|n| n == "specs"))
        .unwrap_or(false);
    let feature_path = if in_specs {
        format!("specs/{folder}")
    } else {
        folder.clone()
    };

    let mut warnings = Vec::new();
    if plan.is_none() {
        warnings.push("no plan.md in the feature folder; the protocol has no plan".to_owned());
    }
    let title = spec_md
        .as_deref()
        .and_then(spec_title)
        .or_else(|| parsed.title.clone())
        .unwrap_or_else(|| folder.clone());
    let description = match spec_md.as_deref().and_then(spec_summary) {
        Some(summary) => format!("{title}: {summary}"),
        None => title.clone(),
    };
    let short_name = [
        folder.trim_start_matches(|c: char| c.is_ascii_digit()),
        &title,
    ]
    .into_iter()
    .map(|t| slugify(t, SLUG_LEN))
    .find(|s| !s.is_empty())
    .unwrap_or_else(|| "speckit-import".into());

    let documents: Vec<&str> = [
        "spec.md",
        "plan.md",
        "research.md",
        "data-model.md",
        "quickstart.md",
        "contracts/",
    ]
    .into_iter()
    .filter(|d| dir.join(d.trim_end_matches('/')).exists())
    .collect();

    let phases: Vec<&Phase> = parsed
        .phases
        .iter()
        .filter(|p| {
            if p.tasks.is_empty() {
                warnings.push(format!(
                    "tasks.md:{}: `{}` has no tasks; no step for it",
                    p.line, p.heading
                ));
            }
            !p.tasks.is_empty()
        })
        .collect();
    if phases.len() > 99 {
        return Err(Error::TooManyPhases {
            path: tasks_path,
            count: phases.len(),
        });
    }
    let mut steps = Vec::with_capacity(phases.len());
    for (i, phase) in phases.iter().enumerate() {
        let slug = slugify(&slug_source(&phase.title), SLUG_LEN);
        let slug = if slug.is_empty() {
            "phase".to_owned()
        } else {
            slug
        };
        let id = StepId::parse(&format!("{:02}-{slug}", i + 1)).map_err(|e| Error::BadTask {
            path: tasks_path.clone(),
            line: phase.line,
            column: 1,
            message: format!("phase title gives no step id: {e}"),
        })?;
        let mut spec = step_from_file(id, phase.title.clone(), default_qa);
        spec.step_type = phase_type(&phase.title);
        spec.qa.policy = default_qa_policy(&spec.id, spec.step_type, default_qa);
        if phase.tasks.iter().all(|t| t.done) {
            warnings.push(format!(
                "tasks.md:{}: every task of `{}` is already checked; step {} will only verify",
                phase.line, phase.title, spec.id
            ));
        }
        let text = render_step(phase, &feature_path, &documents);
        steps.push((spec, text));
    }
    Ok(Imported {
        short_name,
        description,
        plan,
        steps,
        source: "speckit",
        warnings,
    })
}

fn read(path: &Path, dir: &Path) -> Result<Option<String>, Error> {
    if !path.exists() {
        return Ok(None);
    }
    read_text(path, dir)
        .map(Some)
        .map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })
}

/// One checklist task.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Task {
    id: String,
    done: bool,
    parallel: bool,
    story: Option<String>,
    description: String,
    line: usize,
}

/// A phase: its heading and the tasks and text under it.
#[derive(Debug)]
struct Phase {
    /// The full heading text, e.g. `Phase 1: Setup (Shared Infrastructure)`.
    heading: String,
    /// The title after `Phase N:`, or the whole heading for a section that is not a phase.
    title: String,
    /// 1-based line of the heading.
    line: usize,
    /// The section's lines after the heading, verbatim.
    body: Vec<String>,
    tasks: Vec<Task>,
}

#[derive(Debug)]
struct Parsed {
    /// `# Tasks: X` → `X`.
    title: Option<String>,
    phases: Vec<Phase>,
}

static PHASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^phase\s+([0-9]+[a-z]?|n)\b\s*[:.\-–—]?\s*(.*)$").expect("static regex")
});
static CHECKBOX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\s*)[-*+]\s+\[([ xX])\]\s*").expect("static regex"));
static TASK_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^T[0-9]+\b").expect("static regex"));
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(P|US[0-9]+)\]\s*").expect("static regex"));

/// A `##` section while parsing; `phase` is the title when the heading is a phase.
struct Section {
    heading: String,
    phase_title: Option<String>,
    line: usize,
    body: Vec<String>,
    /// Top-level checklist lines: (line number, text).
    checklist: Vec<(usize, String)>,
}

fn parse_tasks(path: &Path, text: &str) -> Result<Parsed, Error> {
    let (title, sections) = sections(text);
    let phases = phases(path, sections)?;
    Ok(Parsed { title, phases })
}

/// The title (the `# ` heading) and the `##` sections of a tasks.md.
fn sections(text: &str) -> (Option<String>, Vec<Section>) {
    let mut title = None;
    let mut sections = vec![Section {
        heading: "(top of file)".into(),
        phase_title: None,
        line: 1,
        body: Vec::new(),
        checklist: Vec::new(),
    }];
    let mut fence: Option<&str> = None;
    let mut in_comment = false;
    for (n, line) in text.lines().enumerate() {
        let number = n + 1;
        let trimmed = line.trim_start();
        let section = sections.last_mut().expect("never empty");
        // Checklists inside code fences and HTML comments are examples, not tasks (the
        // Spec Kit template itself has both), so those lines only go into the body.
        if !in_comment {
            if let Some(marker) = fence {
                if trimmed.starts_with(marker) {
                    fence = None;
                }
                section.body.push(line.to_owned());
                continue;
            }
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                fence = Some(&trimmed[..3]);
                section.body.push(line.to_owned());
                continue;
            }
        }
        let started_in_comment = in_comment;
        let mut rest = line;
        loop {
            let (token, open) = if in_comment {
                ("-->", false)
            } else {
                ("<!--", true)
            };
            let Some(i) = rest.find(token) else { break };
            in_comment = open;
            rest = &rest[i + token.len()..];
        }
        if started_in_comment || line.contains("<!--") {
            section.body.push(line.to_owned());
            continue;
        }
        if let Some(h) = line.strip_prefix("# ") {
            if title.is_none() {
                let h = h.trim();
                title = Some(h.strip_prefix("Tasks:").unwrap_or(h).trim().to_owned());
            }
            continue;
        }
        if let Some(h) = line.strip_prefix("## ") {
            let heading = h.trim().to_owned();
            let phase_title = PHASE.captures(&heading).map(|c| {
                let rest = c.get(2).map_or("", |m| m.as_str()).trim();
                if rest.is_empty() {
                    heading.clone()
                } else {
                    rest.to_owned()
                }
            });
            sections.push(Section {
                heading,
                phase_title,
                line: number,
                body: Vec::new(),
                checklist: Vec::new(),
            });
            continue;
        }
        if let Some(c) = CHECKBOX.captures(line)
            && c.get(1).map_or(0, |m| m.as_str().len()) < 2
        {
            section.checklist.push((number, line.to_owned()));
        }
        section.body.push(line.to_owned());
    }

    (title, sections)
}

/// The sections that are steps, with their tasks; refuses a task outside every phase, a
/// task id used twice, and a file with no task at all.
fn phases(path: &Path, sections: Vec<Section>) -> Result<Vec<Phase>, Error> {
    let has_phases = sections.iter().any(|s| s.phase_title.is_some());
    let mut phases = Vec::new();
    // Task id → line of first use; a map because a large tasks.md may hold many tasks.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for section in sections {
        let is_step = if has_phases {
            section.phase_title.is_some()
        } else {
            section
                .checklist
                .iter()
                .any(|(_, l)| task_id_at(l).is_some())
        };
        let mut tasks = Vec::new();
        for (number, line) in &section.checklist {
            if !is_step {
                // Checklists such as "Completion Criteria" are not tasks; a line with a
                // task id outside every phase is a mistake worth stopping for.
                if let Some((id, at)) = task_id_at(line) {
                    return Err(Error::TaskOutsidePhase {
                        path: path.to_owned(),
                        line: *number,
                        column: column_of(line, at),
                        task: id,
                        heading: section.heading.clone(),
                    });
                }
                continue;
            }
            let task = parse_task(path, *number, line)?;
            if let Some(first_line) = seen.get(&task.id) {
                return Err(Error::DuplicateTask {
                    path: path.to_owned(),
                    line: *number,
                    column: task_id_at(line).map_or(1, |(_, at)| column_of(line, at)),
                    task: task.id,
                    first_line: *first_line,
                });
            }
            seen.insert(task.id.clone(), *number);
            tasks.push(task);
        }
        if is_step {
            let mut body = section.body;
            let leading = body.iter().take_while(|l| l.trim().is_empty()).count();
            body.drain(..leading);
            // Drop the `---` separator and blank lines that end a section in Spec Kit files.
            while body
                .last()
                .is_some_and(|l| l.trim().is_empty() || l.trim() == "---")
            {
                body.pop();
            }
            phases.push(Phase {
                title: section
                    .phase_title
                    .unwrap_or_else(|| section.heading.clone()),
                heading: section.heading,
                line: section.line,
                body,
                tasks,
            });
        }
    }
    if seen.is_empty() {
        return Err(Error::NoTasks {
            path: path.to_owned(),
        });
    }
    Ok(phases)
}

/// The task id of a checklist line and its byte offset, if the line has one.
fn task_id_at(line: &str) -> Option<(String, usize)> {
    let start = CHECKBOX.find(line)?.end();
    TASK_ID
        .find(&line[start..])
        .map(|m| (m.as_str().to_owned(), start + m.start()))
}

fn column_of(line: &str, byte: usize) -> usize {
    line[..byte].chars().count() + 1
}

/// Parses `- [ ] T001 [P] [US1] Description`; tags may come in either order.
fn parse_task(path: &Path, number: usize, line: &str) -> Result<Task, Error> {
    let bad = |at: usize, message: String| Error::BadTask {
        path: path.to_owned(),
        line: number,
        column: column_of(line, at),
        message,
    };
    let caps = CHECKBOX
        .captures(line)
        .ok_or_else(|| bad(0, "not a checklist line".into()))?;
    let done = caps.get(2).is_some_and(|m| m.as_str() != " ");
    let mut at = caps.get(0).map_or(0, |m| m.end());
    let id = TASK_ID.find(&line[at..]).ok_or_else(|| {
        bad(
            at,
            "expected a task id such as `T001` after the checkbox".into(),
        )
    })?;
    let id_text = id.as_str().to_owned();
    at += id.end();
    at += line[at..].len() - line[at..].trim_start().len();
    let (mut parallel, mut story) = (false, None);
    while let Some(tag) = TAG.captures(&line[at..]) {
        let name = tag.get(1).map_or("", |m| m.as_str());
        if name == "P" {
            parallel = true;
        } else if story.replace(name.to_owned()).is_some() {
            return Err(bad(at, format!("task {id_text} has two user-story tags")));
        }
        at += tag.get(0).map_or(0, |m| m.end());
    }
    let description = line[at..].trim();
    if description.is_empty() {
        return Err(bad(at, format!("task {id_text} has no description")));
    }
    Ok(Task {
        id: id_text,
        done,
        parallel,
        story,
        description: description.to_owned(),
        line: number,
    })
}

/// Title without a trailing `(Priority: P1)` or emoji, for the slug only.
fn slug_source(title: &str) -> String {
    let cut = title.find(" (").unwrap_or(title.len());
    title[..cut].to_owned()
}

/// Step type from a phase title; see the module docs.
fn phase_type(title: &str) -> StepType {
    let lower = title.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &[&str]| words.iter().any(|x| w.contains(x));
    if has(&["setup"]) {
        StepType::Setup
    } else if has(&[
        "test",
        "tests",
        "testing",
        "verification",
        "verify",
        "validation",
        "qa",
    ]) {
        StepType::Qa
    } else {
        StepType::Work
    }
}

/// The step file: where it comes from, what to do, the phase verbatim, and a summary that
/// keeps every task id.
fn render_step(phase: &Phase, feature: &str, documents: &[&str]) -> String {
    let mut text = format!("# {}\n\n", phase.heading);
    text.push_str(&format!(
        "Imported from the Spec Kit feature `{feature}` (`tasks.md`, line {}).",
        phase.line
    ));
    if !documents.is_empty() {
        let list: Vec<String> = documents.iter().map(|d| format!("`{d}`")).collect();
        text.push_str(&format!(
            " Its design documents are {} in that folder.",
            list.join(", ")
        ));
    }
    text.push_str(
        "\n\nDo the unchecked tasks of this phase in order and mark each one done \
         (`- [X]`) in that `tasks.md` when it is finished. Tasks marked [P] touch different \
         files and do not depend on each other, so their order among themselves is free.\n\n",
    );
    for line in &phase.body {
        text.push_str(line);
        text.push('\n');
    }
    let ids = |filter: &dyn Fn(&Task) -> bool| -> Vec<&str> {
        phase
            .tasks
            .iter()
            .filter(|t| filter(t))
            .map(|t| t.id.as_str())
            .collect()
    };
    text.push_str("\n## Task summary\n\n");
    text.push_str(&format!(
        "- Tasks ({}): {}\n",
        phase.tasks.len(),
        ids(&|_| true).join(", ")
    ));
    let parallel = ids(&|t| t.parallel);
    if !parallel.is_empty() {
        text.push_str(&format!("- Parallelizable [P]: {}\n", parallel.join(", ")));
    }
    let mut stories: Vec<&str> = phase
        .tasks
        .iter()
        .filter_map(|t| t.story.as_deref())
        .collect();
    let mut seen = Vec::new();
    stories.retain(|s| {
        let fresh = !seen.contains(s);
        seen.push(*s);
        fresh
    });
    if !stories.is_empty() {
        text.push_str(&format!("- User stories: {}\n", stories.join(", ")));
    }
    let done = ids(&|t| t.done);
    if !done.is_empty() {
        text.push_str(&format!(
            "- Already done (checked in tasks.md; verify, do not redo): {}\n",
            done.join(", ")
        ));
    }
    text
}

/// `# Feature Specification: X` → `X`.
fn spec_title(spec: &str) -> Option<String> {
    let heading = spec.lines().find_map(|l| l.strip_prefix("# "))?.trim();
    let title = heading
        .strip_prefix("Feature Specification:")
        .unwrap_or(heading)
        .trim();
    (!title.is_empty()).then(|| title.to_owned())
}

/// The user's description from `**Input**: User description: "…"`, else the first
/// paragraph of prose.
fn spec_summary(spec: &str) -> Option<String> {
    for line in spec.lines() {
        if let Some(rest) = line.trim().strip_prefix("**Input**:") {
            let rest = rest.trim();
            let rest = rest
                .strip_prefix("User description:")
                .unwrap_or(rest)
                .trim();
            let rest = rest.trim_matches('"').trim();
            if !rest.is_empty() {
                return Some(rest.to_owned());
            }
        }
    }
    let mut para: Vec<&str> = Vec::new();
    for line in spec.lines().map(str::trim) {
        let prose = !line.is_empty()
            && !line.starts_with(['#', '-', '*', '>', '|', '`', '<'])
            && !line.starts_with("**");
        if prose {
            para.push(line);
        } else if !para.is_empty() {
            break;
        }
    }
    (!para.is_empty()).then(|| para.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Parsed, Error> {
        parse_tasks(Path::new("tasks.md"), text)
    }

    #[test]
    fn tasks_parse_with_tags_in_either_order() {
        let p = Path::new("tasks.md");
        let t = parse_task(p, 3, "- [x] T004 [US2] [P] Add model in src/m.rs").unwrap();
        assert_eq!(
            t,
            Task {
                id: "T004".into(),
                done: true,
                parallel: true,
                story: Some("US2".into()),
                description: "Add model in src/m.rs".into(),
                line: 3,
            }
        );
        let t = parse_task(p, 1, "- [ ] T1 [Implement core feature]").unwrap();
        assert_eq!(t.description, "[Implement core feature]");
        assert!(!t.parallel && t.story.is_none());
    }

    #[test]
    fn bad_task_lines_name_line_and_column() {
        let p = Path::new("tasks.md");
        let e = parse_task(p, 7, "- [ ] TXXX Documentation").unwrap_err();
        assert_eq!(
            e.to_string(),
            "tasks.md:7:7: expected a task id such as `T001` after the checkbox"
        );
        let e = parse_task(p, 2, "- [ ] T009 [P] ").unwrap_err();
        assert_eq!(e.to_string(), "tasks.md:2:16: task T009 has no description");
    }

    #[test]
    fn fences_and_comments_hide_example_checklists() {
        let text = "# Tasks: X\n<!--\n- [ ] TXXX sample\n-->\n## Phase 1: Setup\n```\n- [ ] nope\n```\n- [ ] T001 Real\n## Notes\n- [ ] not a task\n";
        let parsed = parse(text).unwrap();
        assert_eq!(parsed.title.as_deref(), Some("X"));
        assert_eq!(parsed.phases.len(), 1);
        assert_eq!(parsed.phases[0].tasks.len(), 1);
    }

    #[test]
    fn sections_become_phases_when_there_are_no_phase_headings() {
        let parsed =
            parse("## Backend\n- [ ] T001 A\n## Notes\ntext\n## Frontend\n- [ ] T002 B\n").unwrap();
        let titles: Vec<&str> = parsed.phases.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["Backend", "Frontend"]);
    }

    #[test]
    fn orphan_tasks_and_empty_files_are_errors() {
        let e = parse("## Phase 1: A\n- [ ] T001 a\n## Notes\n- [ ] T002 b\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "tasks.md:4:7: task T002 is under `Notes`, not under a `## Phase N:` heading"
        );
        assert!(matches!(parse("# Tasks\n"), Err(Error::NoTasks { .. })));
    }

    #[test]
    fn phase_types_follow_titles() {
        assert_eq!(phase_type("Setup (Shared Infrastructure)"), StepType::Setup);
        assert_eq!(phase_type("Verification"), StepType::Qa);
        assert_eq!(phase_type("Tests for User Story 1"), StepType::Qa);
        assert_eq!(
            phase_type("User Story 1 - Upload (Priority: P1)"),
            StepType::Work
        );
        assert_eq!(
            phase_type("Polish & Cross-Cutting Concerns"),
            StepType::Work
        );
        assert_eq!(
            slug_source("User Story 1 - Upload (Priority: P1) 🎯 MVP"),
            "User Story 1 - Upload"
        );
    }
}
