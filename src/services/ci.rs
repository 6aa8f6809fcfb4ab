//! `godzilla ci generate`: workflow files that run a protocol headless on CI runners.
//!
//! Each step becomes a job running the same shell sequence (`templates/ci/step.sh.j2`): fetch
//! (`sync --no-push`), claim the step's lease, run the step and its QA unless it is already
//! completed, publish under the lease (`sync --lease`), release. A last job completes the
//! protocol and opens the PR/MR. Steps run one after another (`needs` on the previous job),
//! except a step whose title carries Spec Kit's parallel marker `[P]`: it runs alongside the
//! step before it (same `needs`), and the next step waits for both. What is written
//! is read back with serde-saphyr and checked (every step has its job, in order, with the
//! sequence) before it reaches the disk.

use std::path::PathBuf;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use serde::Serialize;

use crate::config::CiProvider;
use crate::context::Context;
use crate::domain::ProtocolId;
use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::infra::{Infra, infra_from};
use crate::services::platform::storage;
use crate::services::show;

const GITHUB: &str = include_str!("../../templates/ci/github.yml.j2");
const GITLAB: &str = include_str!("../../templates/ci/gitlab.yml.j2");
const STEP: &str = include_str!("../../templates/ci/step.sh.j2");
const FINISH: &str = include_str!("../../templates/ci/finish.sh.j2");

/// Engine keys the GitHub workflow takes from repository secrets.
pub const SECRETS: &[&str] = &[
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "OPENROUTER_API_KEY",
];

/// Errors generating workflows.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the protocol failed.
    #[error(transparent)]
    Show(#[from] Box<show::Error>),
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// A template did not render.
    #[error("cannot render the {provider} workflow")]
    Template {
        /// The provider.
        provider: &'static str,
        /// The cause.
        #[source]
        source: minijinja::Error,
    },
    /// What was rendered does not read back as the workflow it should be (a bug).
    #[error("the generated {provider} workflow is not what godzilla meant to write: {detail}")]
    ReadBack {
        /// The provider.
        provider: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// No CI provider was named.
    #[error("no CI provider given")]
    NoProvider,
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Show(e) => e.kind(),
            Self::Infra(e) => e.kind(),
            // The workflow templates are built in.
            Self::Template { .. } | Self::ReadBack { .. } => ErrorKind::Internal,
            Self::NoProvider => ErrorKind::Usage,
        }
    }
}

/// One job of the workflow.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    /// Job id (`step-01-api`, `finish`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Step id (empty for the finishing job).
    pub step: String,
    /// Name of the main script step.
    pub title: String,
    /// Jobs it waits for.
    pub needs: Vec<String>,
    /// The shell sequence the runner executes.
    pub script: String,
}

/// The result of `ci generate`.
#[derive(Clone, Debug, Serialize)]
pub struct Generated {
    /// The file written.
    pub path: PathBuf,
    /// Its jobs, in order.
    pub jobs: Vec<String>,
}

/// What `ci generate` was asked to do.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// GitHub or GitLab.
    pub provider: CiProvider,
    /// The protocol whose steps become jobs.
    pub protocol: ProtocolId,
    /// The command that installs godzilla on the runner.
    pub install: String,
    /// Lease length in seconds.
    pub ttl: u64,
    /// Open the PR/MR at the end.
    pub open_pr: bool,
}

/// The default install command.
pub const DEFAULT_INSTALL: &str = "command -v godzilla || cargo install --locked godzilla";

/// Whether a step may run alongside the one before it: its title carries Spec Kit's
/// parallel marker `[P]` (kept by `import speckit`, or written by hand).
fn is_independent(title: &str) -> bool {
    title.contains("[P]")
}

fn job_id(step: &str) -> String {
    format!(
        "step-{}",
        step.chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            })
            .collect::<String>()
    )
}

fn render(
    provider: &'static str,
    template: &str,
    vars: &serde_json::Value,
) -> Result<String, Error> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .and_then(|syntax| {
            env.set_syntax(syntax);
            env.render_str(template, Serde(vars))
        })
        .map_err(|source| Error::Template { provider, source })
}

/// Renders the workflow for a protocol (without writing it): its path and text.
pub fn render_workflow(
    ctx: &Context,
    opts: &GenerateOptions,
) -> Result<(PathBuf, String, Vec<Job>), Error> {
    let detail = show::show_protocol(ctx, &opts.protocol).map_err(Box::new)?;
    let provider = match opts.provider {
        CiProvider::Github => "github",
        CiProvider::Gitlab => "gitlab",
        CiProvider::None => return Err(Error::NoProvider),
    };
    let step_script = render(provider, STEP, &serde_json::json!({ "ttl": opts.ttl }))?;
    let finish_script = render(
        provider,
        FINISH,
        &serde_json::json!({ "ttl": opts.ttl, "open_pr": opts.open_pr }),
    )?;
    let mut jobs: Vec<Job> = Vec::new();
    // Consecutive steps marked independent form a group that runs at once; a group waits for
    // every job of the group before it.
    let mut groups: Vec<Vec<String>> = Vec::new();
    for s in &detail.steps {
        let id = job_id(s.id.as_str());
        let needs = if is_independent(&s.title) && !groups.is_empty() {
            let before = groups.len().checked_sub(2).map(|i| groups[i].clone());
            if let Some(group) = groups.last_mut() {
                group.push(id.clone());
            }
            before.unwrap_or_default()
        } else {
            let before = groups.last().cloned().unwrap_or_default();
            groups.push(vec![id.clone()]);
            before
        };
        jobs.push(Job {
            needs,
            name: format!("{} {}", s.id, s.title.replace('"', "'")),
            step: s.id.to_string(),
            title: format!("Step {}", s.id),
            script: step_script.clone(),
            id,
        });
    }
    jobs.push(Job {
        id: "finish".into(),
        name: "Complete the protocol and open the PR".into(),
        step: String::new(),
        title: "Finish".into(),
        needs: groups.last().cloned().unwrap_or_default(),
        script: finish_script,
    });
    let vars = serde_json::json!({
        "protocol": opts.protocol.as_str(),
        "branch": detail.header.branch,
        "jobs": jobs,
        "secrets": SECRETS,
        "install": opts.install,
        "timeout_minutes": 120,
    });
    let (template, path) = match opts.provider {
        CiProvider::Github => (
            GITHUB,
            PathBuf::from(format!(".github/workflows/godzilla-{}.yml", opts.protocol)),
        ),
        CiProvider::Gitlab | CiProvider::None => (GITLAB, PathBuf::from(".gitlab-ci.yml")),
    };
    let text = render(provider, template, &vars)?;
    check(provider, &text, &jobs)?;
    Ok((path, text, jobs))
}

/// Reads the YAML back and checks it holds exactly the jobs, order and scripts meant.
pub fn check(provider: &'static str, text: &str, jobs: &[Job]) -> Result<(), Error> {
    let bad = |detail: String| Error::ReadBack { provider, detail };
    let doc: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| bad(format!("not YAML: {e}")))?;
    for job in jobs {
        let node = match provider {
            "github" => &doc["jobs"][&job.id],
            _ => &doc[&job.id],
        };
        if node.is_null() {
            return Err(bad(format!("job {} is missing", job.id)));
        }
        let needs: Vec<String> = node["needs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if needs != job.needs {
            return Err(bad(format!(
                "job {} needs {needs:?}, not {:?}",
                job.id, job.needs
            )));
        }
        let script = match provider {
            "github" => node["steps"]
                .as_array()
                .and_then(|s| s.iter().rev().find_map(|s| s["run"].as_str()))
                .unwrap_or_default()
                .to_owned(),
            _ => node["script"][0].as_str().unwrap_or_default().to_owned(),
        };
        if script.trim() != job.script.trim() {
            return Err(bad(format!(
                "job {} does not run the runner sequence",
                job.id
            )));
        }
    }
    Ok(())
}

/// Renders, checks and writes the workflow file into the working tree.
pub fn generate(ctx: &Context, opts: &GenerateOptions) -> Result<Generated, Error> {
    let (rel, text, jobs) = render_workflow(ctx, opts)?;
    let path = ctx.paths.work_tree.join(&rel);
    if let Some(dir) = path.parent() {
        storage::create_dir(dir)?;
    }
    storage::write_atomic(&path, text.as_bytes())?;
    Ok(Generated {
        path: rel,
        jobs: jobs.into_iter().map(|j| j.id).collect(),
    })
}
