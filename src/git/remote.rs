//! Talking to a git remote: validated names, `ls-remote`, fetch, and push with per-ref results.
//!
//! A remote is only ever named (a configured `remote.<name>`), never given as a URL, so a value
//! such as `ext::sh -c 'touch X'` or `--upload-pack=...` is refused before git sees it; and
//! every call also disables the `ext` and `fd` transports, in case a configured remote uses
//! them. Push results are read from `--porcelain` lines, not from the exit code: a push that
//! exits 0 may have done nothing (`=` up to date) and one that exits 1 may have pushed some
//! refs and had others rejected.
//!
//! Nothing here decides what to push or when to retry; see `services::sync`.

use super::Git;
use crate::process;

/// Errors talking to a remote.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A git command could not run or failed.
    #[error(transparent)]
    Git(#[from] process::Error),
    /// The remote name is not a configured remote or not a plain name.
    #[error("`{name}` is not a configured remote{}", if known.is_empty() { String::new() } else { format!(" (remotes: {})", known.join(", ")) })]
    UnknownRemote {
        /// What was given.
        name: String,
        /// The configured remotes.
        known: Vec<String>,
    },
    /// A ref or branch name is unsafe or malformed.
    #[error("invalid ref name `{name}`: {reason}")]
    BadRef {
        /// What was given.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// git said something we could not read.
    #[error("cannot read the output of `git {command}`: {detail}")]
    Unparsed {
        /// The git subcommand.
        command: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// Transports a remote may never use from godzilla: `ext::` runs a command, `fd::` talks
/// to inherited descriptors.
const TRANSPORT_GUARD: [&str; 4] = [
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "protocol.fd.allow=never",
];

/// Checks that `name` is safe in a ref: no option look-alikes, no `..`, no characters git
/// refuses or that shells and URLs treat specially. Stricter than `git check-ref-format`.
pub fn validate_ref(name: &str) -> Result<(), Error> {
    let bad = |reason| {
        Err(Error::BadRef {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 200 {
        return bad("it is longer than 200 characters");
    }
    if name.starts_with('-') {
        return bad("it starts with `-`");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.')))
    {
        return if c.is_control() || c == ' ' {
            bad("it contains a space or control character")
        } else {
            bad("it contains a character other than letters, digits, `/`, `-`, `_`, `.`")
        };
    }
    if name.contains("..") || name.contains("//") {
        return bad("it contains `..` or `//`");
    }
    for part in name.split('/') {
        if part.is_empty() || part.starts_with('.') || part.starts_with('-') {
            return bad("a component is empty or starts with `.` or `-`");
        }
        if part.ends_with(".lock") {
            return bad("a component ends with `.lock`");
        }
    }
    if name.ends_with('.') {
        return bad("it ends with `.`");
    }
    Ok(())
}

/// A configured remote, checked by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote(String);

impl Remote {
    /// Checks that `name` is one of the repository's configured remotes.
    pub fn open(git: &Git, name: &str) -> Result<Self, Error> {
        let known = git.remotes()?;
        let plain = !name.is_empty()
            && !name.starts_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if plain && known.iter().any(|k| k == name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(Error::UnknownRemote {
                name: name.to_owned(),
                known,
            })
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// How one ref fared in a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefStatus {
    /// Updated, created, deleted or forced.
    Updated,
    /// Already had that value.
    UpToDate,
    /// Rejected (non-fast-forward, stale lease, hook); the text says why.
    Rejected(String),
}

/// One `--porcelain` line of `git push`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedRef {
    /// The remote ref.
    pub dst: String,
    /// What happened.
    pub status: RefStatus,
}

fn run(git: &Git, args: &[&str]) -> Result<process::Output, Error> {
    let mut argv: Vec<&str> = TRANSPORT_GUARD.to_vec();
    argv.extend_from_slice(args);
    Ok(git.run_unchecked(&argv)?)
}

fn run_checked(git: &Git, args: &[&str]) -> Result<String, Error> {
    let mut argv: Vec<&str> = TRANSPORT_GUARD.to_vec();
    argv.extend_from_slice(args);
    Ok(git.run(&argv)?)
}

/// The object `refname` points at on the remote, or `None` when it does not exist there.
pub fn ls_remote(git: &Git, remote: &Remote, refname: &str) -> Result<Option<String>, Error> {
    validate_ref(refname)?;
    let out = run_checked(
        git,
        &[
            "ls-remote",
            "--refs",
            "--end-of-options",
            remote.name(),
            refname,
        ],
    )?;
    for line in out.lines() {
        let mut parts = line.split('\t');
        if let (Some(oid), Some(name)) = (parts.next(), parts.next())
            && name == refname
        {
            return Ok(Some(oid.to_owned()));
        }
    }
    Ok(None)
}

/// Fetches `refspecs` (built by godzilla from validated names) from `remote`.
pub fn fetch(git: &Git, remote: &Remote, refspecs: &[String]) -> Result<(), Error> {
    let mut args = vec![
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--end-of-options",
        remote.name(),
    ];
    args.extend(refspecs.iter().map(String::as_str));
    run_checked(git, &args)?;
    Ok(())
}

/// Pushes `refspecs` (never with a leading `+`: godzilla does not force) and reports each
/// ref's fate. `lease` is a `--force-with-lease=<ref>:<expect>` value, for lease refs only.
pub fn push(
    git: &Git,
    remote: &Remote,
    refspecs: &[String],
    lease: Option<&str>,
) -> Result<Vec<PushedRef>, Error> {
    let lease_arg = lease.map(|l| format!("--force-with-lease={l}"));
    let mut args = vec!["push", "--porcelain", "--no-verify"];
    if let Some(l) = &lease_arg {
        args.push(l);
    }
    args.push("--end-of-options");
    args.push(remote.name());
    args.extend(refspecs.iter().map(String::as_str));
    let out = run(git, &args)?;
    let text = out.stdout_text();
    let refs = parse_porcelain(&text);
    if refs.is_empty() && !refspecs.is_empty() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
        return Err(Error::Unparsed {
            command: "push",
            detail: format!(
                "no ref status (exit {:?}): {}",
                out.code,
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ),
        });
    }
    Ok(refs)
}

/// Parses `git push --porcelain` output: `<flag>\t<from>:<to>\t<summary>` lines.
pub fn parse_porcelain(text: &str) -> Vec<PushedRef> {
    text.lines()
        .filter_map(|line| {
            let mut cols = line.splitn(3, '\t');
            let flag = cols.next()?;
            let spec = cols.next()?;
            let summary = cols.next().unwrap_or_default();
            let dst = spec.rsplit_once(':').map_or(spec, |(_, d)| d).to_owned();
            let status = match flag {
                " " | "+" | "*" | "-" => RefStatus::Updated,
                "=" => RefStatus::UpToDate,
                "!" => RefStatus::Rejected(summary.to_owned()),
                _ => return None,
            };
            Some(PushedRef { dst, status })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_that_look_like_options_or_escape_are_refused() {
        for bad in [
            "--upload-pack=touch X",
            "-x",
            "a/../b",
            "a b",
            "a\nb",
            "a;b",
            "$(x)",
            "a/.hidden",
            "x.lock",
            "a//b",
            "",
            "a/",
            "ext::sh",
        ] {
            assert!(validate_ref(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "godzilla/0001-login",
            "refs/godzilla/leases/0001-a/steps/01-b",
        ] {
            validate_ref(good).unwrap();
        }
    }

    #[test]
    fn porcelain_lines_are_read_per_ref() {
        let out = "To /tmp/o.git\n \trefs/heads/a:refs/heads/a\t1..2\n!\trefs/heads/b:refs/heads/b\t[rejected] (fetch first)\n=\trefs/notes/godzilla:refs/notes/godzilla\t[up to date]\n*\tabc:refs/godzilla/leases/x\t[new reference]\nDone\n";
        let refs = parse_porcelain(out);
        assert_eq!(refs.len(), 4);
        assert_eq!(refs[0].status, RefStatus::Updated);
        assert!(matches!(refs[1].status, RefStatus::Rejected(ref s) if s.contains("fetch first")));
        assert_eq!(refs[2].status, RefStatus::UpToDate);
        assert_eq!(refs[3].dst, "refs/godzilla/leases/x");
    }
}
