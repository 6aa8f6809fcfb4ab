//! GitHub through `gh` (flags checked on gh 2.103): `pr list|create|edit|view|checks`,
//! `workflow run`.

use serde::Deserialize;

use super::{Check, Cli, Error, PrRequest, PullRequest, bucket_of, check_value, number_from_url};

/// `gh` in a repository.
#[derive(Clone, Debug)]
pub struct Gh {
    /// The CLI runner.
    pub cli: Cli,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GhPr {
    number: u64,
    url: String,
    #[serde(default)]
    is_draft: bool,
    #[serde(default)]
    state: String,
    #[serde(default)]
    review_decision: Option<String>,
}

impl From<GhPr> for PullRequest {
    fn from(p: GhPr) -> Self {
        Self {
            number: p.number,
            url: p.url,
            draft: p.is_draft,
            state: p.state,
            review: p.review_decision.filter(|r| !r.is_empty()),
        }
    }
}

#[derive(Deserialize)]
struct GhCheck {
    name: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    bucket: String,
    #[serde(default)]
    link: String,
}

impl Gh {
    /// The open PR whose head is `head`, if any.
    pub fn find_pr(&self, head: &str) -> Result<Option<PullRequest>, Error> {
        let head_arg = format!("--head={head}");
        let out = self.cli.run(
            "pr list",
            &[
                "pr",
                "list",
                &head_arg,
                "--state=open",
                "--json=number,url,isDraft,state",
                "--limit=1",
            ],
            &[],
        )?;
        let prs: Vec<GhPr> = self.cli.parse("pr list", &out)?;
        Ok(prs.into_iter().next().map(PullRequest::from))
    }

    /// Opens a PR; returns it as gh reports it (the URL it prints).
    pub fn create_pr(&self, req: &PrRequest<'_>) -> Result<PullRequest, Error> {
        check_value("title", req.title, 256)?;
        let base = format!("--base={}", req.base);
        let head = format!("--head={}", req.head);
        let title = format!("--title={}", req.title);
        let body = format!("--body-file={}", req.body_file.display());
        let mut args = vec!["pr", "create", &base, &head, &title, &body];
        if req.draft {
            args.push("--draft");
        }
        let out = self.cli.run("pr create", &args, &[])?;
        let url = out
            .lines()
            .map(str::trim)
            .rfind(|l| l.starts_with("https://") || l.starts_with("http://"))
            .ok_or_else(|| Error::BadOutput {
                program: self.cli.program.clone(),
                command: "pr create".into(),
                detail: format!("no PR URL in {:?}", out.trim()),
            })?;
        let number = number_from_url(url).ok_or_else(|| Error::BadOutput {
            program: self.cli.program.clone(),
            command: "pr create".into(),
            detail: format!("no PR number in {url}"),
        })?;
        Ok(PullRequest {
            number,
            url: url.to_owned(),
            draft: req.draft,
            state: "OPEN".into(),
            review: None,
        })
    }

    /// Updates an existing PR's title and body.
    pub fn edit_pr(&self, number: u64, req: &PrRequest<'_>) -> Result<(), Error> {
        check_value("title", req.title, 256)?;
        let title = format!("--title={}", req.title);
        let body = format!("--body-file={}", req.body_file.display());
        let n = number.to_string();
        self.cli
            .run("pr edit", &["pr", "edit", &title, &body, "--", &n], &[])?;
        Ok(())
    }

    /// The PR for `head` with its review decision.
    pub fn view_pr(&self, head: &str) -> Result<PullRequest, Error> {
        let out = self.cli.run(
            "pr view",
            &[
                "pr",
                "view",
                "--json=number,url,isDraft,state,reviewDecision",
                "--",
                head,
            ],
            &[],
        )?;
        Ok(self.cli.parse::<GhPr>("pr view", &out)?.into())
    }

    /// The checks of the PR for `head` (exit 8, "pending", still carries them).
    pub fn checks(&self, head: &str) -> Result<Vec<Check>, Error> {
        let out = self.cli.run(
            "pr checks",
            &[
                "pr",
                "checks",
                "--json=name,state,bucket,link,workflow",
                "--",
                head,
            ],
            &[1, 8],
        )?;
        if out.trim().is_empty() {
            return Ok(Vec::new());
        }
        let checks: Vec<GhCheck> = self.cli.parse("pr checks", &out)?;
        Ok(checks
            .into_iter()
            .map(|c| Check {
                bucket: bucket_of(if c.bucket.is_empty() {
                    &c.state
                } else {
                    &c.bucket
                }),
                name: c.name,
                state: c.state,
                link: c.link,
            })
            .collect())
    }

    /// Dispatches `workflow` on `branch`.
    pub fn trigger(&self, workflow: &str, branch: &str) -> Result<(), Error> {
        let r#ref = format!("--ref={branch}");
        self.cli.run(
            "workflow run",
            &["workflow", "run", &r#ref, "--", workflow],
            &[],
        )?;
        Ok(())
    }
}
