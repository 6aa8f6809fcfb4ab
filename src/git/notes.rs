//! `refs/notes/godzilla`: one JSON line per record on each commit a step produced.
//!
//! Plain `git notes add` from several processes loses notes: each reads the notes ref, writes
//! a new notes commit and moves the ref without checking that it did not move meanwhile.
//! Here local writers are serialised by an flock, and the ref is moved with compare-and-swap
//! (a gix ref transaction that expects the value read), so a writer that does not take our
//! lock (another godzilla version, a user's `git notes`) makes our update fail and retry
//! instead of silently dropping its note. Reading goes through `git notes show`, so what we
//! write is checked against git's own reading in every test. Lines are single JSON objects so remote copies merge with
//! `cat_sort_uniq`.

use std::path::Path;

use super::Git;
use crate::error_kind::{ErrorKind, HasKind};
use crate::fsio::{self, Lock};
use crate::process;

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
    Fs(#[from] fsio::Error),
    /// The record is not one JSON object on one line.
    #[error("a note record must be one JSON object on one line: {0}")]
    BadRecord(String),
    /// gix failed reading or writing objects or refs.
    #[error("cannot write the note: {0}")]
    Gix(String),
    /// The ref kept moving.
    #[error("{NOTES_REF} kept changing under us after {CAS_ATTEMPTS} attempts")]
    Contended,
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            // Services write records they serialise; only a record typed by hand is malformed.
            Self::BadRecord(_) => ErrorKind::Usage,
            Self::Git(_) | Self::Fs(_) | Self::Gix(_) | Self::Contended => ErrorKind::Failed,
        }
    }
}

/// How long a git process may hold the notes ref's lock file before it counts as left behind.
const STALE_REF_LOCK: std::time::Duration = std::time::Duration::from_secs(2);

/// Removes `lock` (the notes ref's `.lock` file) when it was left by a dead writer, else waits a
/// little for its holder. Called under our own flock, so no godzilla writer holds it; git holds
/// a ref lock for milliseconds, so one that stays for seconds is a killed process's, and would
/// otherwise refuse every note from now on.
fn clear_stale_ref_lock(lock: &Path) {
    let Ok(meta) = std::fs::metadata(lock) else {
        return;
    };
    let age = meta
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .unwrap_or_default();
    if age >= STALE_REF_LOCK {
        std::fs::remove_file(lock).ok();
    } else {
        std::thread::sleep((STALE_REF_LOCK - age).min(std::time::Duration::from_millis(200)));
    }
}

/// Notes on the repository's commits.
pub struct Notes {
    git: Git,
    lock_path: std::path::PathBuf,
    /// Records for other commits that go into the notes commit of the next record added.
    carried: Vec<(gix::ObjectId, String)>,
}

impl Notes {
    /// Notes of the repository run by `git`, locking in `local_dir/locks`.
    pub fn new(git: Git, local_dir: &Path) -> Self {
        Self {
            git,
            lock_path: local_dir.join("locks").join("notes.lock"),
            carried: Vec::new(),
        }
    }

    /// These notes, adding `record` to `commit`'s note together with the next record added
    /// (appended, or prepared for a commit): one notes commit, ref update and pack for both.
    /// A protocol run carries a step's QA verdict to the next step's commit this way (#13).
    pub fn carrying(mut self, commit: &str, record: &str) -> Result<Self, Error> {
        Self::validate(record)?;
        let target = gix::ObjectId::from_hex(commit.as_bytes())
            .map_err(|e| Error::Gix(format!("{commit}: {e}")))?;
        self.carried.push((target, record.to_owned()));
        Ok(self)
    }

    /// The records this note adds: `record` on `target`, then the carried ones.
    fn records<'r>(
        &'r self,
        target: gix::ObjectId,
        record: &'r str,
    ) -> Vec<(gix::ObjectId, &'r str)> {
        std::iter::once((target, record))
            .chain(self.carried.iter().map(|(t, r)| (*t, r.as_str())))
            .collect()
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
        self.append_with(commit, record, false, super::objects::Form::Loose)
    }

    /// Like [`Notes::append`], with the note's three objects written as one pack: two files
    /// instead of three (and their fan-out directories), which is what creating files costs on
    /// disk in a step that adds a QA note without a commit (#13). Packs pile up faster, so the
    /// repack `gc.autoPackLimit` calls for comes sooner: for godzilla's own per-step notes, not
    /// for notes typed by hand.
    pub fn append_packed(&self, commit: &str, record: &str) -> Result<(), Error> {
        self.append_with(commit, record, false, super::objects::Form::Pack)
    }

    /// Like [`Notes::append`], but does nothing when the note already holds `record` (used
    /// where a person may add the same record twice).
    pub fn append_unique(&self, commit: &str, record: &str) -> Result<(), Error> {
        self.append_with(commit, record, true, super::objects::Form::Loose)
    }

    /// Writes the new note in-process (blob, tree, notes commit) under the notes lock and moves
    /// the ref with a compare-and-swap transaction; on a lost race it starts over from the new
    /// ref. Doing this with gix instead of `git notes` saves five processes per record, most of
    /// godzilla's per-step cost after the engine itself. With `unique`, a note that already
    /// holds `record` is left alone: checked on the note text read here, since a `git notes
    /// show` process under the lock would serialise every concurrent writer behind it (#13).
    fn append_with(
        &self,
        commit: &str,
        record: &str,
        unique: bool,
        form: super::objects::Form,
    ) -> Result<(), Error> {
        Self::validate(record)?;
        let _lock = Lock::acquire(&self.lock_path)?;
        let gix_err = |e: &dyn std::fmt::Display| Error::Gix(e.to_string());
        let target = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|e| gix_err(&e))?;
        let mut last_error = None;
        for _ in 0..CAS_ATTEMPTS {
            // Objects are kept in memory and written together before the ref moves.
            let repo = super::open_repo(self.git.dir())
                .map_err(|e| gix_err(&e))?
                .with_object_memory();
            let Some(note) = build_note(&repo, &self.records(target, record), unique)? else {
                return Ok(());
            };
            let persisted = super::objects::persist(&repo, form).map_err(|e| gix_err(&e))?;
            crate::fault::point("notes.before_cas");
            match note.publish(&repo) {
                Ok(()) => {
                    if persisted.crowded {
                        super::objects::repack(&self.git);
                    }
                    return Ok(());
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.map_or(Error::Contended, Error::Gix))
    }

    /// Takes the notes lock and writes the note adding `record` on `target` into `repo`'s
    /// object memory, for the caller to persist with its own objects (a step's commit puts
    /// both in one pack) and then [`Prepared::publish`].
    pub(crate) fn prepare(
        &self,
        repo: &gix::Repository,
        target: gix::ObjectId,
        record: &str,
    ) -> Result<Prepared, Error> {
        Self::validate(record)?;
        let lock = Lock::acquire(&self.lock_path)?;
        let note = build_note(repo, &self.records(target, record), false)?
            .ok_or_else(|| Error::Gix("the note was not built".into()))?;
        Ok(Prepared { note, _lock: lock })
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

/// A notes commit written (in memory) on top of the notes ref's value `old`.
struct NewNote {
    old: Option<gix::ObjectId>,
    new: gix::ObjectId,
    committer: gix::actor::Signature,
}

/// A note [`Notes::prepare`]d under the notes lock, held until it is published or dropped.
pub(crate) struct Prepared {
    note: NewNote,
    _lock: Lock,
}

impl Prepared {
    /// Moves the notes ref to the prepared note, if it still is where the note was built on;
    /// the objects must be on disk. An error is a lost race: [`Notes::append`] starts over.
    pub(crate) fn publish(self, repo: &gix::Repository) -> Result<(), String> {
        self.note.publish(repo)
    }
}

/// The notes with each `(target, record)` of `records` appended, written into `repo`'s object
/// memory: a note blob per target, the notes tree and one notes commit on top of the ref's
/// current value. `None` when `unique` and every note already holds its record.
fn build_note(
    repo: &gix::Repository,
    records: &[(gix::ObjectId, &str)],
    unique: bool,
) -> Result<Option<NewNote>, Error> {
    let gix_err = |e: &dyn std::fmt::Display| Error::Gix(e.to_string());
    let old = match repo
        .try_find_reference(NOTES_REF)
        .map_err(|e| gix_err(&e))?
    {
        Some(mut r) => Some(r.peel_to_id().map_err(|e| gix_err(&e))?.detach()),
        None => None,
    };
    let base_tree = match old {
        Some(old) => Some(
            repo.find_commit(old)
                .map_err(|e| gix_err(&e))?
                .tree()
                .map_err(|e| gix_err(&e))?,
        ),
        None => None,
    };
    // Each target's note once, its records in order (a target named twice gets both).
    let mut notes: Vec<NoteText> = Vec::new();
    for (target, record) in records {
        let at = match notes.iter().position(|n| n.target == *target) {
            Some(at) => at,
            None => {
                let (path, text) = existing_note(base_tree.as_ref(), *target)?;
                notes.push(NoteText {
                    target: *target,
                    path,
                    text,
                    changed: false,
                });
                notes.len() - 1
            }
        };
        let note = &mut notes[at];
        if unique && note.text.lines().any(|l| l == *record) {
            continue;
        }
        if !note.text.is_empty() && !note.text.ends_with('\n') {
            note.text.push('\n');
        }
        note.text.push_str(record);
        note.text.push('\n');
        note.changed = true;
    }
    let base_id = base_tree
        .as_ref()
        .map_or_else(|| gix::ObjectId::empty_tree(repo.object_hash()), |t| t.id);
    let mut editor = repo.edit_tree(base_id).map_err(|e| gix_err(&e))?;
    let mut changed = false;
    for note in notes.iter().filter(|n| n.changed) {
        let blob = repo
            .write_blob(note.text.as_bytes())
            .map_err(|e| gix_err(&e))?
            .detach();
        editor
            .upsert(note.path.as_str(), gix::object::tree::EntryKind::Blob, blob)
            .map_err(|e| gix_err(&e))?;
        changed = true;
    }
    if !changed {
        return Ok(None);
    }
    let tree = editor.write().map_err(|e| gix_err(&e))?.detach();
    let (committer, author) = super::identity::committer_and_author(repo)
        .ok_or_else(|| Error::Gix("no identity configured".into()))?
        .map_err(|e| gix_err(&e))?;
    let new = repo
        .write_object(&gix::objs::Commit {
            tree,
            parents: old.into_iter().collect(),
            author,
            committer: committer.clone(),
            encoding: None,
            message: "Notes added by godzilla\n".into(),
            extra_headers: Vec::new(),
        })
        .map_err(|e| gix_err(&e))?
        .detach();
    Ok(Some(NewNote {
        old,
        new,
        committer,
    }))
}

/// One commit's note as [`build_note`] extends it.
struct NoteText {
    target: gix::ObjectId,
    /// Its path in the notes tree.
    path: String,
    text: String,
    /// Whether a record was added.
    changed: bool,
}

/// Where `target`'s note is in the notes tree `tree` (git writes notes flat or fanned out,
/// ab/cdef...; whatever is there is kept), and its text; a flat path and no text when it has
/// none.
fn existing_note(
    tree: Option<&gix::Tree<'_>>,
    target: gix::ObjectId,
) -> Result<(String, String), Error> {
    let gix_err = |e: &dyn std::fmt::Display| Error::Gix(e.to_string());
    let hex = target.to_string();
    let Some(tree) = tree else {
        return Ok((hex, String::new()));
    };
    let candidates = [
        hex.clone(),
        format!("{}/{}", &hex[..2], &hex[2..]),
        format!("{}/{}/{}", &hex[..2], &hex[2..4], &hex[4..]),
    ];
    for path in candidates {
        if let Some(entry) = tree.lookup_entry_by_path(&path).map_err(|e| gix_err(&e))? {
            let blob = entry.object().map_err(|e| gix_err(&e))?;
            return Ok((path, String::from_utf8_lossy(&blob.data).into_owned()));
        }
    }
    Ok((hex, String::new()))
}

impl NewNote {
    /// Moves the notes ref from `old` to `new` (compare-and-swap); the error of a lost race.
    fn publish(&self, repo: &gix::Repository) -> Result<(), String> {
        let expected = match self.old {
            Some(o) => gix::refs::transaction::PreviousValue::MustExistAndMatch(
                gix::refs::Target::Object(o),
            ),
            None => gix::refs::transaction::PreviousValue::MustNotExist,
        };
        let edit = gix::refs::transaction::RefEdit {
            change: gix::refs::transaction::Change::Update {
                log: gix::refs::transaction::LogChange {
                    message: "godzilla: note".into(),
                    ..Default::default()
                },
                expected,
                new: gix::refs::Target::Object(self.new),
            },
            name: NOTES_REF
                .try_into()
                .map_err(|e: gix::validate::reference::name::Error| e.to_string())?,
            deref: false,
        };
        let mut time = gix::date::parse::TimeBuf::default();
        let reflog_by = self.committer.to_ref(&mut time);
        match repo.edit_references_as(Some(edit), Some(reflog_by)) {
            Ok(_) => Ok(()),
            // Another writer moved the ref (or holds its lock) since we read it.
            Err(e) => {
                clear_stale_ref_lock(&repo.common_dir().join(format!("{NOTES_REF}.lock")));
                Err(e.to_string())
            }
        }
    }
}
