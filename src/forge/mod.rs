//! Forges (GitHub, GitLab) through their own CLIs, `gh` and `glab`: pull/merge requests,
//! workflow/pipeline triggers, check results.
//!
//! Every call is argv (no shell). Values godzilla did not invent (titles, branch names,
//! workflow names) are passed as `--flag=value`, so a value starting with `-` can never be
//! read as an option, and positional values come after `--`. A CLI's exit code is not trusted
//! alone: output that must be JSON or a URL is parsed, and stderr is read to tell "not
//! installed" and "not authenticated" from other failures, each with a hint.
//!
//! This module knows command lines and output formats only; what to open and when is the
//! forge service's business (`services::forge`).

pub mod gh;
pub mod glab;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error_kind::{ErrorKind, HasKind};
use crate::process;

/// Errors from a forge CLI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The CLI is not on PATH.
    #[error("`{program}` is not installed (or not on PATH)")]
    NotInstalled {
        /// The program.
        program: String,
    },
    /// The CLI has no credentials for the host, or they were refused.
    #[error("`{program}` is not authenticated: {detail}")]
    NotAuthenticated {
        /// The program.
        program: String,
        /// What it said.
        detail: String,
    },
    /// The CLI ran and reported a failure.
    #[error("`{program} {command}` failed: {detail}")]
    Failed {
        /// The program.
        program: String,
        /// The subcommand (e.g. `pr create`).
        command: String,
        /// What it said (stderr tail).
        detail: String,
    },
    /// The CLI said it succeeded but its output is not what it documents.
    #[error("`{program} {command}` gave output godzilla cannot read: {detail}")]
    BadOutput {
        /// The program.
        program: String,
        /// The subcommand.
        command: String,
        /// What was wrong.
        detail: String,
    },
    /// A value is unsafe to hand to the CLI.
    #[error("invalid {what} `{value}`: {reason}")]
    BadInput {
        /// What the value is.
        what: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// Starting the process failed for another reason.
    #[error(transparent)]
    Process(#[from] process::Error),
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            // Installing or logging in to the forge CLI, or a value given, is the user's part.
            Self::NotInstalled { .. } | Self::NotAuthenticated { .. } | Self::BadInput { .. } => {
                ErrorKind::Usage
            }
            Self::Failed { .. } | Self::BadOutput { .. } | Self::Process(_) => ErrorKind::Failed,
        }
    }
}

/// A pull request (GitHub) or merge request (GitLab).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number (`iid` on GitLab).
    pub number: u64,
    /// Web URL.
    pub url: String,
    /// Whether it is a draft.
    #[serde(default)]
    pub draft: bool,
    /// `OPEN`, `MERGED`, `CLOSED` (GitHub) or `opened`, `merged`, `closed` (GitLab).
    #[serde(default)]
    pub state: String,
    /// Review decision (`APPROVED`, `CHANGES_REQUESTED`, `REVIEW_REQUIRED`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

/// One CI check, normalised.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Check {
    /// Check or job name.
    pub name: String,
    /// Its outcome class.
    pub bucket: Bucket,
    /// The provider's own state word.
    pub state: String,
    /// Link to the run.
    #[serde(default)]
    pub link: String,
}

/// What to open.
#[derive(Clone, Debug)]
pub struct PrRequest<'a> {
    /// Target branch.
    pub base: &'a str,
    /// Source branch.
    pub head: &'a str,
    /// Title.
    pub title: &'a str,
    /// Body (markdown), in a file.
    pub body_file: &'a Path,
    /// The body's text (for CLIs that take it as a value).
    pub body: &'a str,
    /// Open as a draft.
    pub draft: bool,
}

/// A forge CLI run in one directory with an environment.
#[derive(Clone, Debug)]
pub struct Cli {
    /// The executable (`gh`, `glab`, or a path).
    pub program: String,
    /// Where it runs (the repository).
    pub dir: PathBuf,
    /// Variables added for it (prompt and update-check switches).
    pub env: Vec<(String, String)>,
}

impl Cli {
    /// The CLI `program`, run in `dir`.
    pub fn new(program: &str, dir: &Path) -> Self {
        Self {
            program: program.to_owned(),
            dir: dir.to_path_buf(),
            env: [
                ("GH_PROMPT_DISABLED", "1"),
                ("GH_NO_UPDATE_NOTIFIER", "1"),
                ("GH_SPINNER_DISABLED", "1"),
                ("NO_PROMPT", "1"),
                ("GLAB_NO_PROMPT", "1"),
                ("NO_COLOR", "1"),
                ("LC_MESSAGES", "C"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        }
    }

    /// Runs it; a missing program, missing credentials and a failure are errors, each read
    /// from what the CLI printed (not only its exit code). `ok_codes` lists other exit codes
    /// that still carry a result (e.g. `gh pr checks` exits 8 while checks are pending).
    pub fn run(&self, command: &str, args: &[&str], ok_codes: &[i32]) -> Result<String, Error> {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let out = match process::run(&self.program, args, &self.dir, &env, &["LC_ALL"], None) {
            Ok(out) => out,
            Err(process::Error::Spawn { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(Error::NotInstalled {
                    program: self.program.clone(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let tail = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" / ");
        let code = out.code.unwrap_or(-1);
        if is_auth_failure(&stderr) || code == 4 {
            return Err(Error::NotAuthenticated {
                program: self.program.clone(),
                detail: if tail.is_empty() {
                    format!("exit code {code}")
                } else {
                    tail
                },
            });
        }
        if code != 0 && !ok_codes.contains(&code) {
            return Err(Error::Failed {
                program: self.program.clone(),
                command: command.to_owned(),
                detail: if tail.is_empty() {
                    format!("exit code {code}")
                } else {
                    tail
                },
            });
        }
        Ok(out.stdout_text())
    }

    /// Parses `text` as JSON output of `command`.
    pub fn parse<T: serde::de::DeserializeOwned>(
        &self,
        command: &str,
        text: &str,
    ) -> Result<T, Error> {
        serde_json::from_str(text.trim()).map_err(|e| Error::BadOutput {
            program: self.program.clone(),
            command: command.to_owned(),
            detail: format!("{e}: {}", text.chars().take(200).collect::<String>()),
        })
    }
}

fn is_auth_failure(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    [
        "gh auth login",
        "glab auth login",
        "http 401",
        "401 unauthorized",
        "bad credentials",
        "requires authentication",
        "not logged in",
        "authentication required",
        "no token found",
        "has not been authenticated",
    ]
    .iter()
    .any(|m| s.contains(m))
}

/// Checks a value godzilla passes to a forge CLI: a single line, no NUL, bounded.
pub fn check_value(what: &'static str, value: &str, max: usize) -> Result<(), Error> {
    let bad = |reason| {
        Err(Error::BadInput {
            what,
            value: value.chars().take(80).collect(),
            reason,
        })
    };
    if value.trim().is_empty() {
        return bad("it is empty");
    }
    if value.len() > max {
        return bad("it is too long");
    }
    if value.chars().any(|c| c.is_control()) {
        return bad("it contains a newline or control character");
    }
    Ok(())
}

/// The number at the end of a PR/MR URL (`.../pull/12`, `.../merge_requests/12`).
pub fn number_from_url(url: &str) -> Option<u64> {
    url.trim_end_matches('/').rsplit('/').next()?.parse().ok()
}

/// The original's CI outcome classes, which a check's state falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// Not finished (or a state no class names).
    Pending,
    /// Skipped.
    Skipping,
    /// Cancelled.
    Cancel,
}

impl Bucket {
    /// The class's name, as `gh pr checks` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Pending => "pending",
            Self::Skipping => "skipping",
            Self::Cancel => "cancel",
        }
    }

    /// Whether the check failed or was cancelled: either way CI did not pass.
    pub fn failed(self) -> bool {
        matches!(self, Self::Fail | Self::Cancel)
    }
}

impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that `{:<8}` lines the classes up.
        f.pad(self.as_str())
    }
}

/// Maps a provider state word (or gh's own class name) to the original's CI outcome classes.
pub fn bucket_of(state: &str) -> Bucket {
    match state.to_ascii_lowercase().as_str() {
        "success" | "neutral" | "passed" | "ok" | "merged" | "pass" => Bucket::Pass,
        "failure" | "failed" | "timed_out" | "action_required" | "error" | "startup_failure"
        | "fail" => Bucket::Fail,
        "cancelled" | "canceled" | "cancel" => Bucket::Cancel,
        "skipped" | "skipping" | "manual" => Bucket::Skipping,
        _ => Bucket::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_the_original_ci_classes() {
        for s in ["SUCCESS", "neutral", "passed"] {
            assert_eq!(bucket_of(s), Bucket::Pass);
        }
        for s in ["FAILURE", "failed", "timed_out", "action_required"] {
            assert_eq!(bucket_of(s), Bucket::Fail);
        }
        for s in ["in_progress", "queued", "running", "pending", "created"] {
            assert_eq!(bucket_of(s), Bucket::Pending);
        }
        assert_eq!(bucket_of("canceled"), Bucket::Cancel);
        // gh's own class names are classes already.
        for b in [
            Bucket::Pass,
            Bucket::Fail,
            Bucket::Pending,
            Bucket::Skipping,
            Bucket::Cancel,
        ] {
            assert_eq!(bucket_of(b.as_str()), b);
            assert_eq!(serde_json::to_value(b).unwrap(), b.as_str());
        }
        assert_eq!(format!("[{:<6}]", Bucket::Pass), "[pass  ]");
        assert_eq!(number_from_url("https://h/o/r/pull/12\n".trim()), Some(12));
        assert_eq!(number_from_url("https://h/g/p/-/merge_requests/3"), Some(3));
    }

    #[test]
    fn values_with_newlines_are_refused() {
        assert!(check_value("title", "a\nb", 100).is_err());
        assert!(check_value("title", "", 100).is_err());
        check_value("title", "-starts with a dash", 100).unwrap();
    }
}
