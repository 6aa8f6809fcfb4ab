//! GitLab through `glab` (flags from glab's documentation; glab is not installable here, so
//! the tests check the argv against that documentation): `mr list|create|update|view`,
//! `ci run`, `ci status`.

use serde::Deserialize;

use super::{Check, Cli, Error, PrRequest, PullRequest, bucket_of, check_value};

/// `glab` in a repository.
#[derive(Clone, Debug)]
pub struct Glab {
    /// The CLI runner.
    pub cli: Cli,
}

#[derive(Deserialize)]
struct GlabMr {
    iid: u64,
    web_url: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    state: String,
    #[serde(default)]
    detailed_merge_status: Option<String>,
}

impl From<GlabMr> for PullRequest {
    fn from(m: GlabMr) -> Self {
        Self {
            number: m.iid,
            url: m.web_url,
            draft: m.draft,
            state: m.state,
            review: m.detailed_merge_status,
        }
    }
}

#[derive(Deserialize)]
struct GlabJob {
    name: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    web_url: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GlabStatus {
    Jobs(Vec<GlabJob>),
    Pipeline {
        #[serde(default)]
        jobs: Vec<GlabJob>,
    },
}

impl Glab {
    /// The open MR whose source branch is `head`, if any.
    pub fn find_pr(&self, head: &str) -> Result<Option<PullRequest>, Error> {
        let source = format!("--source-branch={head}");
        let out = self
            .cli
            .run("mr list", &["mr", "list", &source, "--output=json"], &[])?;
        let mrs: Vec<GlabMr> = self.cli.parse("mr list", &out)?;
        Ok(mrs
            .into_iter()
            .find(|m| m.state.is_empty() || m.state == "opened")
            .map(PullRequest::from))
    }

    /// Opens an MR (`--yes`: no confirmation prompt).
    pub fn create_pr(&self, req: &PrRequest<'_>) -> Result<PullRequest, Error> {
        check_value("title", req.title, 256)?;
        let source = format!("--source-branch={}", req.head);
        let target = format!("--target-branch={}", req.base);
        let title = format!("--title={}", req.title);
        let description = format!("--description={}", req.body);
        let mut args = vec![
            "mr",
            "create",
            &source,
            &target,
            &title,
            &description,
            "--yes",
        ];
        if req.draft {
            args.push("--draft");
        }
        self.cli.run("mr create", &args, &[])?;
        // glab prints progress text around the URL; ask for the MR instead of scraping it.
        self.find_pr(req.head)?.ok_or_else(|| Error::BadOutput {
            program: self.cli.program.clone(),
            command: "mr create".into(),
            detail: "the merge request is not listed after creating it".into(),
        })
    }

    /// Updates an MR's title and description.
    pub fn edit_pr(&self, number: u64, req: &PrRequest<'_>) -> Result<(), Error> {
        check_value("title", req.title, 256)?;
        let title = format!("--title={}", req.title);
        let description = format!("--description={}", req.body);
        let n = number.to_string();
        self.cli.run(
            "mr update",
            &["mr", "update", &title, &description, "--", &n],
            &[],
        )?;
        Ok(())
    }

    /// The MR for `head`.
    pub fn view_pr(&self, head: &str) -> Result<PullRequest, Error> {
        let out = self
            .cli
            .run("mr view", &["mr", "view", "--output=json", "--", head], &[])?;
        Ok(self.cli.parse::<GlabMr>("mr view", &out)?.into())
    }

    /// The jobs of the latest pipeline on `branch`.
    pub fn checks(&self, branch: &str) -> Result<Vec<Check>, Error> {
        let b = format!("--branch={branch}");
        let out = self
            .cli
            .run("ci status", &["ci", "status", &b, "--output=json"], &[])?;
        let jobs = match self.cli.parse::<GlabStatus>("ci status", &out)? {
            GlabStatus::Jobs(jobs) | GlabStatus::Pipeline { jobs } => jobs,
        };
        Ok(jobs
            .into_iter()
            .map(|j| Check {
                bucket: bucket_of(&j.status),
                name: j.name,
                state: j.status,
                link: j.web_url,
            })
            .collect())
    }

    /// Runs a pipeline on `branch`.
    pub fn trigger(&self, branch: &str) -> Result<(), Error> {
        let b = format!("--branch={branch}");
        self.cli.run("ci run", &["ci", "run", &b], &[])?;
        Ok(())
    }
}
