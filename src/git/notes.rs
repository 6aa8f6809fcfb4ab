//! `refs/notes/godzilla`: one JSON line per record on each commit a step produced.
//!
//! Plain `git notes add` from several processes loses notes: each reads the notes ref, writes
//! a new notes commit and moves the ref without checking that it did not move meanwhile.
//! Here local writers are serialised by an flock, and the ref is moved with compare-and-swap
//! (`update-ref <ref> <new> <old>`), so a writer that does not take our lock (another
//! godzilla version, a user's `git notes`) makes our update fail and retry instead of
//! silently dropping its note. Lines are single JSON objects so remote copies merge with
//! `cat_sort_uniq`.

use std::path::Path;

use super::Git;
use crate::process;
use crate::services::platform::storage::{self, Lock};

/// The notes ref.
pub const NOTES_REF: &str = "refs/notes/godzilla";

/// How often a CAS update is retried when another writer moved the ref.
const CAS_ATTEMPTS: usize = 20;

/// Errors writing notes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] process::Error),
    /// Taking the lock failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// The record is not one JSON object on one line.
    #[error("a note record must be one JSON object on one line: {0}")]
    BadRecord(String),
    /// The ref kept moving.
    #[error("{NOTES_REF} kept changing under us after {CAS_ATTEMPTS} attempts")]
    Contended,
}

/// Notes on the repository's commits.
pub struct Notes {
    git: Git,
    lock_path: std::path::PathBuf,
    scratch_prefix: String,
}

impl Notes {
    /// Notes of the repository run by `git`, locking in `local_dir/locks`.
    pub fn new(git: Git, local_dir: &Path) -> Self {
        Self {
            git,
            lock_path: local_dir.join("locks").join("notes.lock"),
            // `git notes --ref` puts any ref outside refs/notes/ under it, so the scratch ref must
            // live there too.
            scratch_prefix: format!("refs/notes/godzilla-tmp/{}", std::process::id()),
        }
    }

    /// Checks that `record` is a single-line JSON object.
    pub fn validate(record: &str) -> Result<(), Error> {
        if record.contains('\n') || record.contains('\r') {
            return Err(Error::BadRecord("it spans several lines".into()));
        }
        match serde_json::from_str::<serde_json::Value>(record) {
            Ok(serde_json::Value::Object(_)) => Ok(()),
            Ok(_) => Err(Error::BadRecord("it is not an object".into())),
            Err(e) => Err(Error::BadRecord(e.to_string())),
        }
    }

    /// Appends `record` as a line of the note on `commit`.
    pub fn append(&self, commit: &str, record: &str) -> Result<(), Error> {
        Self::validate(record)?;
        let _lock = Lock::acquire(&self.lock_path)?;
        let scratch = format!("{}-{}", self.scratch_prefix, fastrand::u64(..));
        let result = self.append_locked(commit, record, &scratch);
        // The scratch ref is ours alone; leaving one behind after an error is harmless but
        // untidy, so try to remove it whatever happened.
        let _ignored = self.git.run_unchecked(&["update-ref", "-d", &scratch]);
        result
    }

    fn append_locked(&self, commit: &str, record: &str, scratch: &str) -> Result<(), Error> {
        for _ in 0..CAS_ATTEMPTS {
            let old = self.current()?;
            match &old {
                Some(oid) => self.git.run(&["update-ref", scratch, oid])?,
                None => {
                    let _ignored = self.git.run_unchecked(&["update-ref", "-d", scratch])?;
                    String::new()
                }
            };
            let existing = self.show_ref(scratch, commit)?;
            let mut body = existing.join("\n");
            if !existing.iter().any(|l| l == record) {
                if !body.is_empty() {
                    body.push('\n');
                }
                body.push_str(record);
            }
            body.push('\n');
            // -F - keeps the record out of argv; --force replaces the note with old + new lines.
            let args = [
                "notes",
                "--ref",
                scratch,
                "add",
                "--force",
                "--allow-empty",
                "-F",
                "-",
                "--end-of-options",
                commit,
            ];
            let out = process::run(
                self.git.program(),
                &self.git.argv_for(&args),
                self.git.dir(),
                &[("LC_MESSAGES", "C")],
                &["LC_ALL"],
                Some(body.as_bytes()),
            )?;
            process::check(self.git.program(), &args, out)?;
            let new = self
                .git
                .run(&["rev-parse", "--verify", "--end-of-options", scratch])?
                .trim()
                .to_owned();
            crate::fault::point("notes.before_cas");
            let old_arg = old.clone().unwrap_or_else(|| "0".repeat(new.len()));
            let cas = self.git.run_unchecked(&[
                "update-ref",
                "-m",
                "godzilla: note",
                NOTES_REF,
                &new,
                &old_arg,
            ])?;
            if cas.success() {
                return Ok(());
            }
            // Someone else moved the ref between our read and our swap: start over from theirs.
        }
        Err(Error::Contended)
    }

    fn current(&self) -> Result<Option<String>, Error> {
        let out = self.git.run_unchecked(&[
            "rev-parse",
            "--quiet",
            "--verify",
            "--end-of-options",
            &format!("{NOTES_REF}^{{commit}}"),
        ])?;
        Ok(out.success().then(|| out.stdout_text().trim().to_owned()))
    }

    fn show_ref(&self, notes_ref: &str, commit: &str) -> Result<Vec<String>, Error> {
        let out = self.git.run_unchecked(&[
            "notes",
            "--ref",
            notes_ref,
            "show",
            "--end-of-options",
            commit,
        ])?;
        if !out.success() {
            return Ok(Vec::new());
        }
        Ok(out
            .stdout_text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// The record lines of the note on `commit` (empty when none).
    pub fn show(&self, commit: &str) -> Result<Vec<String>, Error> {
        self.show_ref(NOTES_REF, commit)
    }
}
