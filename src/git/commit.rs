//! `git add --all` followed by `git commit -F -`, done in-process with gix when the worktree is
//! plain enough that gix stores exactly what git would (#13: the two git processes were ~10 ms
//! of every step, more than the rest of godzilla's own work).
//!
//! "Plain" is checked, never assumed. The CLI does the commit whenever the repository has
//! something gix does not reproduce bit for bit here:
//! - filter drivers (Git LFS), line-ending conversion in config, a split or sparse index,
//!   submodules, conflicts, intent-to-add or skip-worktree entries, nested repositories;
//! - an index that differs from HEAD (the tree is HEAD's tree plus the worktree's changes, so
//!   the two must agree to begin with);
//! - no configured identity (git guesses one from the host, gix does not), a message git would
//!   refuse, a commit cleanup or encoding setting, a repository not fully trusted.
//!
//! The order is git's own: the index lock is taken before the index is read, objects are
//! written, the branch moves (refusing if it moved since HEAD was read), and only then is the
//! new index committed. A failure before the branch moves leaves the index as it was, and the
//! caller runs the CLI instead; nothing is half-done that the CLI would not redo.

use std::path::Path;

use gix::bstr::{BStr, BString, ByteSlice};

/// A failure of the in-process path. The caller falls back to the git CLI, which has the last
/// word on its own repository.
#[derive(Debug, thiserror::Error)]
#[error("in-process commit in {path}: {message}")]
pub struct Error {
    /// The worktree.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// What the in-process commit did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The commit was made; its id.
    Committed(String),
    /// Nothing was changed: the repository needs the git CLI, for this reason.
    UseGit(&'static str),
}

/// Stages every change in the worktree at `dir` (modified, new, deleted, mode changes) and
/// commits it with `message` on top of HEAD, like `git add --all && git commit --allow-empty
/// --no-verify -F -` with hooks off.
pub fn commit_all(git: &super::Git, message: &str) -> Result<Outcome, Error> {
    commit_all_noted(git, message, None, &mut || Ok(())).map(|(outcome, _)| outcome)
}

/// A note to add to the commit [`commit_all_noted`] makes: its notes and its record.
pub type NoteOn<'a> = (&'a super::notes::Notes, &'a str);

/// [`commit_all`], adding `note`'s record to the new commit's note in the same pack of
/// objects (the notes lock held from reading the notes ref until it moves). Also answers
/// whether the note was added; when not (it could not be prepared, or another writer moved
/// the notes ref), the caller appends it the usual way. `before_publish` runs once the commit
/// is built, before HEAD moves (see [`super::Git::commit_all_noted`]).
pub fn commit_all_noted(
    git: &super::Git,
    message: &str,
    note: Option<NoteOn<'_>>,
    before_publish: &mut dyn FnMut() -> std::io::Result<()>,
) -> Result<(Outcome, bool), Error> {
    let dir = git.dir();
    let fail = |what: &str, e: &dyn std::fmt::Display| Error {
        path: dir.display().to_string(),
        message: format!("{what}: {e}"),
    };
    // Objects are kept in memory and written together (`loose`) before HEAD moves.
    let repo = super::open_repo(dir)
        .map_err(|e| fail("open", &e))?
        .with_object_memory();
    if let Some(reason) = config_needs_git(&repo) {
        return Ok((Outcome::UseGit(reason), false));
    }
    let Some(message) = cleanup_message(message) else {
        return Ok((Outcome::UseGit("the message is empty after cleanup"), false));
    };
    let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
        return Ok((Outcome::UseGit("bare repository"), false));
    };
    let Ok(head) = repo.head_commit() else {
        return Ok((Outcome::UseGit("HEAD has no commit yet"), false));
    };
    let Some(identity) = super::identity::committer_and_author(&repo) else {
        return Ok((Outcome::UseGit("no identity configured"), false));
    };
    let (committer, author) = identity.map_err(|e| fail("identity", &e))?;

    let Some(mut lock) = IndexLock::acquire(&repo).map_err(|e| fail("index lock", &e))? else {
        return Ok((Outcome::UseGit("another process holds index.lock"), false));
    };
    let mut index = repo.open_index().map_err(|e| fail("read the index", &e))?;
    if let Some(reason) = index_needs_git(&index) {
        return Ok((Outcome::UseGit(reason), false));
    }
    let trusted = index_matches_head(&repo, &index, head.id);
    let changes = match worktree_changes(&repo, &index, trusted).map_err(|e| fail("status", &e))? {
        Ok(changes) => changes,
        Err(reason) => return Ok((Outcome::UseGit(reason), false)),
    };
    let staged = match stage_all(&repo, &index, &workdir, &changes.changed)
        .map_err(|e| fail("stage", &e))?
    {
        Ok(staged) => staged,
        Err(reason) => return Ok((Outcome::UseGit(reason), false)),
    };
    let head_tree = head
        .tree_id()
        .map_err(|e| fail("HEAD's tree", &e))?
        .detach();
    let tree =
        write_tree(&repo, head_tree, &changes.removed, &staged).map_err(|e| fail("tree", &e))?;
    super::object::write_code_tree(&repo, tree).map_err(|e| fail("code tree", &e))?;
    update_index(&mut index, &changes.removed, staged);

    let commit = gix::objs::Commit {
        message: message.as_str().into(),
        tree,
        author,
        committer: committer.clone(),
        encoding: None,
        parents: [head.id].into_iter().collect(),
        extra_headers: Vec::new(),
    };
    let id = repo
        .write_object(&commit)
        .map_err(|e| fail("commit", &e))?
        .detach();
    // The note's objects join the commit's in memory, so that one pack holds both.
    let prepared = note.and_then(|(notes, record)| {
        notes
            .prepare(&repo, id, record)
            .map_err(|e| tracing::debug!(error = %e, "the note is added after the commit"))
            .ok()
    });
    let persisted = super::objects::persist(&repo, super::objects::Form::Pack)
        .map_err(|e| fail("write objects", &e))?;
    before_publish().map_err(|e| fail("before the commit could move its branch", &e))?;
    move_head(&repo, &lock, (head.id, id), &message, &committer)
        .map_err(|e| fail("move HEAD", &e))?;
    let checksum = lock
        .commit(&index)
        .map_err(|e| fail("write the index", &e))?;
    mark_clean(&repo, checksum, id);
    crate::fault::point("commit.before_note");
    let noted = prepared.is_some_and(|p| {
        p.publish(&repo)
            .map_err(|e| tracing::debug!(error = %e, "the note is added after the commit"))
            .is_ok()
    });
    if persisted.crowded {
        super::objects::repack(git);
    }
    Ok((Outcome::Committed(id.to_string()), noted))
}

/// Moves HEAD, through to its branch, from `from` to `to`, only if it still points at `from`.
/// The ref locks gix takes are named in the holder note first, so that a godzilla killed in
/// the middle does not leave a `HEAD.lock` that stops every later commit.
fn move_head(
    repo: &gix::Repository,
    lock: &IndexLock,
    (from, to): (gix::ObjectId, gix::ObjectId),
    message: &str,
    committer: &gix::actor::Signature,
) -> Result<(), BoxError> {
    let mut ref_locks = vec![repo.git_dir().join("HEAD.lock")];
    if let Ok(Some(branch)) = repo.head_name()
        && let Ok(branch) = gix::path::from_bstr(branch.as_bstr())
    {
        ref_locks.push(repo.common_dir().join(format!("{}.lock", branch.display())));
    }
    lock.name_ref_locks(&ref_locks)?;
    let edit = gix::refs::transaction::RefEdit::update(
        "HEAD".try_into()?,
        to,
        gix::refs::transaction::PreviousValue::MustExistAndMatch(gix::refs::Target::Object(from)),
        reflog_message(message),
    )
    .with_deref(true);
    let mut time = gix::date::parse::TimeBuf::default();
    repo.edit_references_as(Some(edit), Some(committer.to_ref(&mut time)))?;
    Ok(())
}

/// git's `index.lock`, taken the way git takes it (created exclusively, renamed over the index
/// to commit), plus what git's own lock lacks: a way to tell that its holder died. A godzilla
/// killed while holding it would otherwise leave a lock that stops every later commit in the
/// worktree (git's processes outlive a killed godzilla; an in-process lock does not).
///
/// The holder file `godzilla-index.holder` in the worktree's git dir is flocked while the
/// lock is held and names the lock file (device, inode, birth time). The name is written
/// before the file becomes `index.lock` (a private file, hard-linked into place, which fails
/// like git's exclusive create when the lock exists), so there is no moment when our
/// `index.lock` exists unnamed. A newcomer that gets the flock and finds `index.lock` under
/// that name knows its creator is dead, since the flock died with it, and removes it. A lock
/// git created is never named there, so it is left alone.
struct IndexLock {
    file: Option<std::fs::File>,
    /// How the note names our `index.lock`.
    identity: String,
    lock_path: std::path::PathBuf,
    index_path: std::path::PathBuf,
    holder: crate::fsio::Lock,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl IndexLock {
    /// `Ok(None)` when a live process holds `index.lock`.
    fn acquire(repo: &gix::Repository) -> Result<Option<Self>, BoxError> {
        use std::io::{Read as _, Seek as _};
        let index_path = repo.index_path();
        let lock_path = index_path.with_file_name("index.lock");
        let holder = crate::fsio::Lock::acquire(&repo.git_dir().join("godzilla-index.holder"))?;
        let mut note = String::new();
        let mut file = holder.file();
        file.seek(std::io::SeekFrom::Start(0))?;
        file.read_to_string(&mut note)?;
        recover(&note, &lock_path)?;
        // What it named is dealt with, and we hold nothing yet: an empty note is true.
        holder.file().set_len(0)?;
        // Under the flock nobody else uses this name: one left here is from a dead holder.
        let private = repo.git_dir().join("godzilla-index.new");
        match std::fs::remove_file(&private) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&private)?;
        let mut this = Self {
            file: None,
            identity: identity(&file.metadata()?),
            lock_path,
            index_path,
            holder,
        };
        this.note(&this.identity)?;
        // A git process may hold the lock for a moment (one a killed godzilla started finishes
        // on its own): wait for it a little, as git's own callers here do.
        let mut wait = std::time::Duration::from_millis(10);
        let mut waited = std::time::Duration::ZERO;
        let linked = loop {
            match std::fs::hard_link(&private, &this.lock_path) {
                Err(e)
                    if e.kind() == std::io::ErrorKind::AlreadyExists
                        && waited < std::time::Duration::from_secs(5) =>
                {
                    std::thread::sleep(wait);
                    waited += wait;
                    wait = (wait * 2).min(std::time::Duration::from_millis(250));
                }
                other => break other,
            }
        };
        std::fs::remove_file(&private)?;
        match linked {
            Ok(()) => {
                this.file = Some(file);
                Ok(Some(this))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Adds to the note the ref lock files about to be created (see [`recover`]).
    fn name_ref_locks(&self, paths: &[std::path::PathBuf]) -> std::io::Result<()> {
        let mut note = self.identity.clone();
        for path in paths {
            note.push('\n');
            note.push_str(&path.display().to_string());
        }
        self.note(&note)
    }

    /// Replaces the note. Written over the old one, then cut to length, never emptied first:
    /// a godzilla killed in between (a loaded machine can stop it there for milliseconds)
    /// would otherwise leave its `index.lock` unnamed. The new note only ever extends the
    /// one that names a live lock, so its first line is whole at every moment.
    fn note(&self, text: &str) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt as _;
        self.holder.file().write_all_at(text.as_bytes(), 0)?;
        self.holder.file().set_len(text.len() as u64)
    }

    /// Writes `index` into the lock and renames it over the index.
    /// Writes `index` as the new index; returns its checksum.
    fn commit(&mut self, index: &gix::index::File) -> Result<gix::ObjectId, BoxError> {
        use std::io::Write as _;
        let file = self.file.take().ok_or("index lock already released")?;
        let mut out = std::io::BufWriter::new(file);
        let (_, checksum) = index.write_to(
            &mut out,
            gix::index::write::Options {
                extensions: gix::index::write::Extensions::Given {
                    tree_cache: false,
                    end_of_index_entry: true,
                },
                skip_hash: false,
            },
        )?;
        out.flush()?;
        drop(out);
        std::fs::rename(&self.lock_path, &self.index_path)?;
        Ok(checksum)
    }
}

impl Drop for IndexLock {
    fn drop(&mut self) {
        // A lock still open was not committed: remove it, then the note that named it.
        if self.file.take().is_some()
            && let Err(e) = std::fs::remove_file(&self.lock_path)
        {
            tracing::debug!(error = %e, "could not remove index.lock");
        }
        if let Err(e) = self.note("") {
            tracing::debug!(error = %e, "could not clear the index lock's holder note");
        }
    }
}

/// What a dead holder left, by its note: the `index.lock` the first line names, and the ref
/// lock files the other lines name that were born after that `index.lock` and within seconds
/// of it (the holder took them right after; git takes ref locks for milliseconds, so a lock of
/// a live git process is not mistaken for one of them). Without birth times, ref locks are
/// left for the user, as git leaves them.
fn recover(note: &str, lock_path: &Path) -> std::io::Result<()> {
    let mut lines = note.lines();
    let Some(index_lock) = lines.next().filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    if std::fs::symlink_metadata(lock_path).is_ok_and(|m| identity(&m) == index_lock) {
        std::fs::remove_file(lock_path)?;
    }
    let Some(since) = index_lock
        .rsplit(' ')
        .next()
        .and_then(|t| t.parse::<u128>().ok())
        .filter(|t| *t > 0)
    else {
        return Ok(());
    };
    for path in lines {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            continue;
        };
        if born_ns(&meta).is_some_and(|b| b >= since && b - since < 10_000_000_000) {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

/// How the holder note names a lock file: device, inode and birth time, so a recycled inode
/// is not mistaken for the dead holder's file. Not the change time: writing the new index into
/// the lock changes it.
fn identity(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt as _;
    let born = born_ns(meta).unwrap_or(0);
    format!("{} {} {born}", meta.dev(), meta.ino())
}

/// The file's birth time in nanoseconds since the epoch, where the file system records it.
fn born_ns(meta: &std::fs::Metadata) -> Option<u128> {
    meta.created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
}

/// Reads and stores every changed path; `Err(reason)` when one needs git.
fn stage_all(
    repo: &gix::Repository,
    index: &gix::index::File,
    workdir: &Path,
    changed: &[BString],
) -> Status<Vec<Staged>> {
    let attributes = repo.attributes_only(
        index,
        gix::worktree::stack::state::attributes::Source::WorktreeThenIdMapping,
    )?;
    let mut pipeline = gix::filter::Pipeline::new(repo, attributes.detach())?;
    let mut staged = Vec::with_capacity(changed.len());
    for rela in changed {
        match stage_file(repo, &mut pipeline, index, workdir, rela.as_bstr())? {
            Ok(entry) => staged.push(entry),
            Err(reason) => return Ok(Err(reason)),
        }
    }
    Ok(Ok(staged))
}

/// HEAD's tree with `removed` taken out and `staged` put in.
fn write_tree(
    repo: &gix::Repository,
    head_tree: gix::ObjectId,
    removed: &[BString],
    staged: &[Staged],
) -> Result<gix::ObjectId, Box<dyn std::error::Error + Send + Sync>> {
    let mut editor = repo.edit_tree(head_tree)?;
    for rela in removed {
        editor.remove(rela.as_bstr())?;
    }
    for entry in staged {
        let kind = if entry.mode == gix::index::entry::Mode::SYMLINK {
            gix::object::tree::EntryKind::Link
        } else if entry.mode == gix::index::entry::Mode::FILE_EXECUTABLE {
            gix::object::tree::EntryKind::BlobExecutable
        } else {
            gix::object::tree::EntryKind::Blob
        };
        editor.upsert(entry.rela.as_bstr(), kind, entry.id)?;
    }
    Ok(editor.write()?.detach())
}

/// The index as `git add --all` leaves it.
fn update_index(index: &mut gix::index::File, removed: &[BString], staged: Vec<Staged>) {
    let state: &mut gix::index::State = index;
    if !removed.is_empty() {
        let removed: std::collections::HashSet<&BStr> =
            removed.iter().map(|p| p.as_bstr()).collect();
        state.remove_entries(|_, path, _| removed.contains(path));
    }
    // Updates first, while the entries are still sorted for the lookups; new paths after.
    let mut new = Vec::new();
    for entry in staged {
        match state.entry_index_by_path(entry.rela.as_bstr()) {
            Ok(at) => {
                let slot = &mut state.entries_mut()[at];
                slot.stat = entry.stat;
                slot.id = entry.id;
                slot.mode = entry.mode;
            }
            Err(_) => new.push(entry),
        }
    }
    if !new.is_empty() {
        for entry in new {
            state.dangerously_push_entry(
                entry.stat,
                entry.id,
                gix::index::entry::Flags::empty(),
                entry.mode,
                entry.rela.as_bstr(),
            );
        }
        state.sort_entries();
    }
    // The cache-tree describes trees of the old entries; a stale one would make git write
    // wrong trees later. git rebuilds it when it needs it.
    state.remove_tree();
}

/// The paths `git status --porcelain` would list in the worktree at `dir` (changes between
/// HEAD and the index, the index and the worktree, and untracked files not ignored, each
/// untracked file by itself), read in-process; outside the top-level directory `except` when
/// given, which is then neither walked nor compared. `Ok(None)` when the repository needs the
/// git CLI for the same reasons a commit does.
pub fn dirty_paths(dir: &Path, except: Option<&str>) -> Result<Option<Vec<String>>, Error> {
    let fail = |what: &str, e: &dyn std::fmt::Display| Error {
        path: dir.display().to_string(),
        message: format!("{what}: {e}"),
    };
    let repo = super::open_repo(dir).map_err(|e| fail("open", &e))?;
    if config_needs_git(&repo).is_some() || repo.workdir().is_none() {
        return Ok(None);
    }
    let index = repo.open_index().map_err(|e| fail("read the index", &e))?;
    if index_needs_git(&index).is_some() {
        return Ok(None);
    }
    let trusted = repo
        .head_id()
        .is_ok_and(|head| index_matches_head(&repo, &index, head.detach()));
    let patterns = except.map(|d| BString::from(format!(":(exclude,top){d}")));
    let items = status_items(&repo, index, trusted, patterns).map_err(|e| fail("status", &e))?;
    let mut paths = Vec::new();
    for item in items {
        let item = item.map_err(|e| fail("status", &e))?;
        let listed = match &item {
            gix::status::Item::TreeIndex(_) => true,
            // An ignored state file is still something a commit would store.
            gix::status::Item::IndexWorktree(
                gix::status::index_worktree::Item::DirectoryContents { entry, .. },
            ) if matches!(entry.status, gix::dir::entry::Status::Ignored(_)) => {
                is_state(entry.rela_path.as_bstr())
            }
            gix::status::Item::IndexWorktree(change) => change.summary().is_some(),
        };
        if listed {
            paths.push(item.location().to_str_lossy().into_owned());
        }
    }
    Ok(Some(paths))
}

/// Config under which gix would not store what git stores, or the commit would differ.
fn config_needs_git(repo: &gix::Repository) -> Option<&'static str> {
    if repo.git_dir_trust() != gix::sec::Trust::Full {
        return Some("the repository is not fully trusted");
    }
    let config = repo.config_snapshot();
    let file = config.plumbing();
    if file
        .sections_by_name("filter")
        .is_some_and(|mut s| s.next().is_some())
    {
        return Some("filter drivers are configured");
    }
    for key in [
        "core.autocrlf",
        "core.eol",
        "core.safecrlf",
        "core.splitIndex",
        "core.sparseCheckout",
        "index.sparse",
        "index.skipHash",
        "commit.cleanup",
        "i18n.commitEncoding",
    ] {
        if file.raw_value(key).is_ok() {
            return Some("line-ending, index or commit settings are configured");
        }
    }
    for (key, default) in [
        ("core.fileMode", true),
        ("core.symlinks", true),
        ("core.ignoreCase", false),
    ] {
        if config.boolean(key).unwrap_or(default) != default {
            return Some("the file system is not case-sensitive with modes and symlinks");
        }
    }
    None
}

/// Index features the simple path does not handle.
fn index_needs_git(index: &gix::index::File) -> Option<&'static str> {
    if index.link().is_some() || index.is_sparse() {
        return Some("split or sparse index");
    }
    let awkward = gix::index::entry::Flags::SKIP_WORKTREE | gix::index::entry::Flags::INTENT_TO_ADD;
    for entry in index.entries() {
        if entry.stage_raw() != 0 {
            return Some("the index has conflicts");
        }
        if entry.mode == gix::index::entry::Mode::COMMIT {
            return Some("submodules");
        }
        if entry.flags.intersects(awkward) {
            return Some("skip-worktree or intent-to-add entries");
        }
    }
    None
}

/// godzilla's state directory in a worktree: committed with every commit, ignore rules or not.
pub(crate) const STATE_DIR: &str = ".godzilla";

/// Whether the worktree path `rela` is godzilla's state directory or inside it.
fn is_state(rela: &BStr) -> bool {
    rela == STATE_DIR
        || rela
            .strip_prefix(STATE_DIR.as_bytes())
            .is_some_and(|rest| rest.starts_with(b"/"))
}

/// Paths to stage and paths to remove.
struct Changes {
    changed: Vec<BString>,
    removed: Vec<BString>,
}

type Status<T> = Result<Result<T, &'static str>, Box<dyn std::error::Error + Send + Sync>>;

/// `git status` as `add --all` and `status --porcelain --untracked-files=all` see it: HEAD
/// against `index` (skipped when `index_is_head`: see [`index_matches_head`]), `index` against
/// the worktree, each untracked file by itself, submodule contents left out; ignored files and
/// directories are listed too (as `--ignored=matching`), for callers to keep the state's.
fn status_items(
    repo: &gix::Repository,
    index: gix::index::File,
    index_is_head: bool,
    patterns: Option<BString>,
) -> Result<Box<dyn Iterator<Item = Result<gix::status::Item, BoxError>>>, BoxError> {
    let platform = repo
        .status(gix::progress::Discard)?
        .index(gix::worktree::IndexPersistedOrInMemory::InMemory(index))
        .untracked_files(gix::status::UntrackedFiles::Files)
        .index_worktree_submodules(None)
        // Ignored entries too, for the state (see `is_state`); an ignored directory comes
        // whole, as gix does not walk into it.
        .dirwalk_options(|o| o.emit_ignored(Some(gix::dir::walk::EmissionMode::CollapseDirectory)));
    Ok(if index_is_head {
        Box::new(platform.into_index_worktree_iter(patterns)?.map(|item| {
            item.map(gix::status::Item::IndexWorktree)
                .map_err(BoxError::from)
        }))
    } else {
        Box::new(
            platform
                .into_iter(patterns)?
                .map(|i| i.map_err(BoxError::from)),
        )
    })
}

/// Where the in-process commit notes which index it wrote with which commit.
const CLEAN_MARKER: &str = "godzilla-index.clean";

/// Whether `index` is, byte for byte, the one the in-process commit wrote along with the
/// commit HEAD still names: then it holds HEAD's tree, and comparing the two (which reads every
/// tree of HEAD, the larger half of a status) can be skipped. git keeps the same knowledge in
/// the index's cache-tree, which the in-process commit does not write. Any other writer of the
/// index changes its checksum, and any other commit moves HEAD; a marker that does not parse
/// (a torn write) matches nothing. A marker forged by hand only hides index changes from
/// godzilla, which `git add` trusts the same way (it compares the index's stat data).
fn index_matches_head(
    repo: &gix::Repository,
    index: &gix::index::File,
    head: gix::ObjectId,
) -> bool {
    let Some(checksum) = index.checksum() else {
        return false;
    };
    std::fs::read_to_string(repo.git_dir().join(CLEAN_MARKER))
        .is_ok_and(|marker| marker == clean_marker(checksum, head))
}

fn clean_marker(checksum: gix::ObjectId, head: gix::ObjectId) -> String {
    format!("v1 {checksum} {head}\n")
}

/// Records that the index with `checksum` holds the tree of commit `head`. Written in place
/// (no new file: see `queue::local` on inode churn) and not flushed: a lost or torn marker
/// only costs the next status its full comparison.
fn mark_clean(repo: &gix::Repository, checksum: gix::ObjectId, head: gix::ObjectId) {
    use std::io::Write as _;
    let path = repo.git_dir().join(CLEAN_MARKER);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .and_then(|mut file| {
            let marker = clean_marker(checksum, head);
            file.write_all(marker.as_bytes())?;
            file.set_len(marker.len() as u64)
        });
    if let Err(e) = written {
        tracing::debug!(error = %e, "could not write {}", path.display());
    }
}

/// What `git add --all` (and `git add --all --force` for the state) would stage: the worktree
/// against the index (untracked files one by one, ignored ones left out outside the state), with
/// the index checked against HEAD.
fn worktree_changes(
    repo: &gix::Repository,
    index: &gix::index::File,
    index_is_head: bool,
) -> Status<Changes> {
    use gix::status::index_worktree::Item as Wt;
    use gix::status::plumbing::index_as_worktree::{Change, EntryStatus};
    let items = status_items(repo, index.clone(), index_is_head, None)?;
    let mut changes = Changes {
        changed: Vec::new(),
        removed: Vec::new(),
    };
    for item in items {
        match item? {
            gix::status::Item::TreeIndex(_) => return Ok(Err("the index differs from HEAD")),
            gix::status::Item::IndexWorktree(item) => match item {
                Wt::Modification {
                    rela_path, status, ..
                } => match status {
                    EntryStatus::NeedsUpdate(_) => {}
                    EntryStatus::Change(Change::Removed) => changes.removed.push(rela_path),
                    EntryStatus::Change(Change::Type { .. } | Change::Modification { .. }) => {
                        changes.changed.push(rela_path);
                    }
                    EntryStatus::Change(Change::SubmoduleModification(_)) => {
                        return Ok(Err("submodules"));
                    }
                    EntryStatus::Conflict { .. } | EntryStatus::IntentToAdd => {
                        return Ok(Err("the index has conflicts or intent-to-add entries"));
                    }
                },
                Wt::DirectoryContents { entry, .. } => {
                    let state = is_state(entry.rela_path.as_bstr());
                    let wanted = match entry.status {
                        gix::dir::entry::Status::Untracked => true,
                        // godzilla's state is committed whatever ignore rules say (an agent
                        // may have added some): `git add --force` for it.
                        gix::dir::entry::Status::Ignored(_) => state,
                        _ => false,
                    };
                    if !wanted {
                        continue;
                    }
                    if state && entry.disk_kind == Some(gix::dir::entry::Kind::Directory) {
                        return Ok(Err("ignore rules hide a directory of godzilla's state"));
                    }
                    match entry.disk_kind {
                        Some(gix::dir::entry::Kind::File | gix::dir::entry::Kind::Symlink) => {
                            changes.changed.push(entry.rela_path);
                        }
                        _ => return Ok(Err("an untracked directory or nested repository")),
                    }
                }
                Wt::Rewrite { .. } => return Ok(Err("rename tracking")),
            },
        }
    }
    Ok(Ok(changes))
}

/// One path read from the worktree and written as a blob.
struct Staged {
    rela: BString,
    id: gix::ObjectId,
    mode: gix::index::entry::Mode,
    stat: gix::index::entry::Stat,
}

/// Reads `rela` as git would stage it: stat first (so a change while reading shows as a
/// change next time), then the bytes, converted by the attributes' built-in filters.
fn stage_file(
    repo: &gix::Repository,
    pipeline: &mut gix::filter::Pipeline<'_>,
    index: &gix::index::State,
    workdir: &Path,
    rela: &BStr,
) -> Status<Staged> {
    let rela_path = gix::path::from_bstr(rela)?.into_owned();
    let path = workdir.join(&rela_path);
    let meta = gix::index::fs::Metadata::from_path_no_follow(&path)?;
    let stat = gix::index::entry::Stat::from_fs(&meta)?;
    let (mode, bytes) = if meta.is_symlink() {
        let target = std::fs::read_link(&path)?;
        (
            gix::index::entry::Mode::SYMLINK,
            gix::path::into_bstr(target)?.into_owned().into(),
        )
    } else if meta.is_file() {
        let mode = if meta.is_executable() {
            gix::index::entry::Mode::FILE_EXECUTABLE
        } else {
            gix::index::entry::Mode::FILE
        };
        let file = std::fs::File::open(&path)?;
        let bytes: Vec<u8> = match pipeline.convert_to_git(file, &rela_path, index)? {
            gix::filter::plumbing::pipeline::convert::ToGitOutcome::Unchanged(mut read) => {
                let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
                std::io::Read::read_to_end(&mut read, &mut buf)?;
                buf
            }
            gix::filter::plumbing::pipeline::convert::ToGitOutcome::Buffer(buf) => buf.to_vec(),
            gix::filter::plumbing::pipeline::convert::ToGitOutcome::Process(_) => {
                return Ok(Err("a filter process is configured"));
            }
        };
        (mode, bytes)
    } else {
        return Ok(Err("a tracked path became a directory"));
    };
    let id = repo.write_blob(&bytes)?.detach();
    Ok(Ok(Staged {
        rela: rela.to_owned(),
        id,
        mode,
        stat,
    }))
}

/// The reflog line git writes for a commit: `commit: ` and the first line, each run of
/// whitespace made one space (git's `copy_reflog_msg`).
fn reflog_message(message: &str) -> String {
    let subject = message.lines().next().unwrap_or_default();
    let mut out = String::from("commit: ");
    for word in subject.split_ascii_whitespace() {
        out.push_str(word);
        out.push(' ');
    }
    out.truncate(out.trim_end().len());
    out
}

/// The message as `git commit -F -` stores it (`--cleanup=whitespace`, its default when no
/// editor runs): trailing whitespace cut from each line, runs of blank lines made one, blank
/// lines at both ends dropped, one final newline. `None` when nothing is left: git refuses.
pub fn cleanup_message(message: &str) -> Option<String> {
    let mut out = String::with_capacity(message.len() + 1);
    let mut blank_run = false;
    for line in message.lines() {
        let line = line.trim_end_matches([' ', '\t', '\r', '\x0b', '\x0c']);
        if line.is_empty() {
            blank_run = !out.is_empty();
            continue;
        }
        if blank_run {
            out.push('\n');
            blank_run = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "the tests build repositories as a user would: plain writes and the git CLI"
)]
mod tests;
