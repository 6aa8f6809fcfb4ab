//! What a commit changed, as `git diff --stat --patch` prints it, made in-process.
//!
//! The review prompt holds the attempt's diff; a `git diff` process per reviewed step was about
//! a sixth of what `protocol run` spent per step beside the engines (#13). This renders the
//! common case byte for byte as git does (text files added, modified or deleted; git's Myers
//! diff with its indent heuristic, three lines of context, the default function-name line after
//! each hunk header, the stat when it fits 80 columns unscaled) and answers `None` for
//! everything git renders differently or that configuration could change: renames (an addition
//! beside a deletion), mode and type changes, symbolic links, submodules, attributes files,
//! `diff.*` settings, colour forced on, paths git would quote. The caller then runs git.

use std::path::Path;

use gix::bstr::{BStr, ByteSlice as _};
use gix::diff::blob::unified_diff::{ConsumeHunk, ContextSize, DiffLineKind, HunkHeader};
use gix::diff::blob::{Algorithm, Diff, InternedInput, UnifiedDiff, sources};
use gix::object::tree::EntryKind;
use gix::prelude::ObjectIdExt as _;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Columns git's `--stat` fills when its output is not a terminal and `COLUMNS` is not set.
const STAT_WIDTH: usize = 80;
/// Bytes git reads to decide that a blob is binary (a NUL among them).
const BINARY_SNIFF: usize = 8000;
/// Above this size git treats a file as binary (`core.bigFileThreshold`'s default).
const BIG_FILE: usize = 512 * 1024 * 1024;

/// What one side of a tree change is to this module.
enum Side {
    /// A tree: its files come as changes of their own.
    Skip,
    /// A symbolic link or a submodule: git renders it.
    Git,
    /// A plain file, executable or not.
    File(EntryKind),
}

/// One file's change, with both sides read.
struct FileChange {
    path: String,
    old: Option<(gix::ObjectId, Vec<u8>)>,
    new: Option<(gix::ObjectId, Vec<u8>)>,
    mode: EntryKind,
}

/// `git diff --stat --patch <base> <commit> -- . ':!<exclude>'` (with `stat`), or the patch of
/// `git show --format= --patch <commit> -- . ':!<exclude>'` (without a base: against the
/// commit's parent), for the repository at `dir`; `None` where git must render it.
pub fn patch(
    dir: &Path,
    base: Option<&str>,
    commit: &str,
    exclude: &str,
) -> Result<Option<String>, BoxError> {
    let repo = super::open_repo(dir)?;
    if !plain_configuration(&repo) {
        return Ok(None);
    }
    let new_commit = find_commit(&repo, commit)?;
    let old_tree = match base {
        Some(base) => Some(find_commit(&repo, base)?.tree()?),
        None => {
            let mut parents = new_commit.parent_ids();
            let parent = parents.next();
            if parents.next().is_some() {
                return Ok(None);
            }
            match parent {
                Some(id) => Some(id.object()?.try_into_commit()?.tree()?),
                None => None,
            }
        }
    };
    let new_tree = new_commit.tree()?;
    let empty = repo.empty_tree();
    let changes = repo.diff_tree_to_tree(
        old_tree.as_ref().unwrap_or(&empty),
        &new_tree,
        gix::diff::Options::default(),
    )?;
    let Some(files) = read_changes(&repo, changes, exclude)? else {
        return Ok(None);
    };
    let mut patches = Vec::with_capacity(files.len());
    for file in &files {
        patches.push(render_file(&repo, file)?);
    }
    let mut out = Vec::new();
    if base.is_some() && !files.is_empty() {
        let Some(stat) = render_stat(&files, &patches) else {
            return Ok(None);
        };
        out.extend_from_slice(stat.as_bytes());
        out.push(b'\n');
    }
    for patch in patches {
        out.extend_from_slice(&patch.text);
    }
    Ok(Some(String::from_utf8_lossy(&out).into_owned()))
}

/// The commit `name` names: a full object id is looked up as one (parsed as a revision, it
/// would first be checked for ambiguity as an abbreviation, a search of every pack index:
/// the largest item of a review's diff, #13); anything else is parsed as git would.
fn find_commit<'r>(repo: &'r gix::Repository, name: &str) -> Result<gix::Commit<'r>, BoxError> {
    if name.len() == repo.object_hash().len_in_hex()
        && let Ok(id) = gix::ObjectId::from_hex(name.as_bytes())
    {
        return Ok(repo.find_commit(id)?);
    }
    Ok(repo.rev_parse_single(name)?.object()?.try_into_commit()?)
}

/// Whether nothing in the configuration or the repository's attributes changes how git would
/// render a plain diff.
fn plain_configuration(repo: &gix::Repository) -> bool {
    let config = repo.config_snapshot();
    let file = config.plumbing();
    let diff_settings = file.sections_by_name("diff").is_some_and(|mut sections| {
        sections.any(|section| {
            section.header().subsection_name().is_none()
                && section
                    .value_names()
                    .any(|name| !name.eq_ignore_ascii_case("renames"))
        })
    });
    // Renames on or off change nothing here (an addition beside a deletion goes to git);
    // copy detection could pair an added file with a changed one.
    let copies = file
        .string("diff.renames")
        .is_some_and(|v| v.to_ascii_lowercase().starts_with(b"cop"));
    // Abbreviated ids and the size above which git calls a file binary, when set.
    let other = ["core.abbrev", "core.bigFileThreshold"]
        .iter()
        .any(|key| file.string(*key).is_some());
    let forced_colour = ["color.ui", "color.diff"].iter().any(|key| {
        file.string(*key)
            .is_some_and(|v| v.eq_ignore_ascii_case(b"always"))
    });
    let attributes_file = file.string("core.attributesFile").is_some()
        || repo.common_dir().join("info").join("attributes").exists()
        || user_attributes_file().is_some_and(|p| p.exists());
    !diff_settings && !copies && !other && !forced_colour && !attributes_file && !diff_environment()
}

/// Whether the environment asks git for another diff program or other diff options.
#[allow(
    clippy::disallowed_methods,
    reason = "the variables the git process this stands in for would read"
)]
fn diff_environment() -> bool {
    ["GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS"]
        .iter()
        .any(|name| std::env::var_os(name).is_some())
}

/// git's per-user attributes file (`$XDG_CONFIG_HOME/git/attributes`, else
/// `~/.config/git/attributes`).
#[allow(
    clippy::disallowed_methods,
    reason = "the file git itself consults, by the variables git reads"
)]
fn user_attributes_file() -> Option<std::path::PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(xdg) => Some(Path::new(&xdg).join("git").join("attributes")),
        None => std::env::var_os("HOME").map(|home| {
            Path::new(&home)
                .join(".config")
                .join("git")
                .join("attributes")
        }),
    }
}

/// The changed files outside `exclude`, in git's order, both sides read; `None` when one is
/// something this module leaves to git.
fn read_changes(
    repo: &gix::Repository,
    changes: Vec<gix::object::tree::diff::ChangeDetached>,
    exclude: &str,
) -> Result<Option<Vec<FileChange>>, BoxError> {
    use gix::object::tree::diff::ChangeDetached as C;
    let excluded = |path: &BStr| {
        path == exclude.as_bytes()
            || path
                .strip_prefix(exclude.as_bytes())
                .is_some_and(|rest| rest.first() == Some(&b'/'))
    };
    // A tree's files come as changes of their own; anything but a plain file is git's.
    let side = |mode: gix::object::tree::EntryMode| match mode.kind() {
        EntryKind::Tree => Side::Skip,
        kind @ (EntryKind::Blob | EntryKind::BlobExecutable) => Side::File(kind),
        _ => Side::Git,
    };
    let read = |id: gix::ObjectId| -> Result<(gix::ObjectId, Vec<u8>), BoxError> {
        Ok((id, repo.find_object(id)?.detach().data))
    };
    let mut files = Vec::new();
    let (mut added, mut deleted) = (false, false);
    for change in changes {
        let (location, old, new, side) = match change {
            C::Addition {
                location,
                entry_mode,
                id,
                ..
            } => (location, None, Some(id), side(entry_mode)),
            C::Deletion {
                location,
                entry_mode,
                id,
                ..
            } => (location, Some(id), None, side(entry_mode)),
            C::Modification {
                location,
                previous_entry_mode,
                previous_id,
                entry_mode,
                id,
            } => {
                let side = match (side(previous_entry_mode), side(entry_mode)) {
                    (Side::Skip, Side::Skip) => Side::Skip,
                    (Side::File(before), Side::File(kind)) if before == kind => Side::File(kind),
                    // A mode or type change.
                    _ => Side::Git,
                };
                (location, Some(previous_id), Some(id), side)
            }
            C::Rewrite { .. } => return Ok(None),
        };
        let mode = match side {
            Side::Skip => continue,
            Side::Git => return Ok(None),
            Side::File(kind) => kind,
        };
        added |= old.is_none();
        deleted |= new.is_none();
        if excluded(location.as_ref()) {
            continue;
        }
        let Some(path) = plain_path(location.as_ref()) else {
            return Ok(None);
        };
        files.push(FileChange {
            path: path.to_owned(),
            old: old.map(read).transpose()?,
            new: new.map(read).transpose()?,
            mode,
        });
    }
    // Git would pair them as a rename when their contents are alike.
    if added && deleted {
        return Ok(None);
    }
    if has_diff_attributes(repo, &files)? {
        return Ok(None);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Some(files))
}

/// Whether an attribute gives any changed path a `diff` setting (`-diff`, `binary`, a diff
/// driver): git would then render it otherwise. Read as git reads them from the worktree.
fn has_diff_attributes(repo: &gix::Repository, files: &[FileChange]) -> Result<bool, BoxError> {
    let index = repo.index_or_empty()?;
    let mut stack = repo.attributes_only(
        &index,
        gix::worktree::stack::state::attributes::Source::WorktreeThenIdMapping,
    )?;
    let mut outcome = stack.selected_attribute_matches(["diff"]);
    for file in files {
        let platform = stack.at_entry(file.path.as_str(), None)?;
        if platform.matching_attributes(&mut outcome) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `path` as text git prints unquoted (no control characters, quotes, backslashes or bytes
/// outside ASCII, which `core.quotePath` would escape).
fn plain_path(path: &BStr) -> Option<&str> {
    let text = path.to_str().ok()?;
    text.bytes()
        .all(|b| b.is_ascii_graphic() || b == b' ')
        .then_some(text)
        .filter(|t| !t.contains(['"', '\\']))
}

/// One file's part of the patch, and its counts for the stat.
struct FilePatch {
    text: Vec<u8>,
    added: usize,
    removed: usize,
    binary: bool,
}

fn render_file(repo: &gix::Repository, file: &FileChange) -> Result<FilePatch, BoxError> {
    use std::io::Write as _;
    let mode = match file.mode {
        EntryKind::BlobExecutable => "100755",
        _ => "100644",
    };
    let short = |id: &gix::ObjectId| -> String { id.attach(repo).shorten_or_id().to_string() };
    let zeros = |id: &gix::ObjectId| "0".repeat(id.attach(repo).shorten_or_id().hex_len());
    let path = &file.path;
    let mut text = Vec::new();
    writeln!(text, "diff --git a/{path} b/{path}")?;
    match (&file.old, &file.new) {
        (None, Some((new, _))) => {
            writeln!(text, "new file mode {mode}")?;
            writeln!(text, "index {}..{}", zeros(new), short(new))?;
        }
        (Some((old, _)), None) => {
            writeln!(text, "deleted file mode {mode}")?;
            writeln!(text, "index {}..{}", short(old), zeros(old))?;
        }
        (Some((old, _)), Some((new, _))) => {
            writeln!(text, "index {}..{} {mode}", short(old), short(new))?;
        }
        (None, None) => {}
    }
    let old = file.old.as_ref().map_or(&[][..], |(_, d)| &d[..]);
    let new = file.new.as_ref().map_or(&[][..], |(_, d)| &d[..]);
    let (from, to) = (
        if file.old.is_some() {
            format!("a/{path}")
        } else {
            "/dev/null".to_owned()
        },
        if file.new.is_some() {
            format!("b/{path}")
        } else {
            "/dev/null".to_owned()
        },
    );
    // On the `---` and `+++` lines git ends a name holding a space with a tab, for patch tools.
    let tab = |name: &str| if name.contains(' ') { "\t" } else { "" };
    // As git's `buffer_is_binary`, and git's default `core.bigFileThreshold` (512 MiB).
    let binary =
        |data: &[u8]| data.len() > BIG_FILE || data[..data.len().min(BINARY_SNIFF)].contains(&0);
    if binary(old) || binary(new) {
        writeln!(text, "Binary files {from} and {to} differ")?;
        return Ok(FilePatch {
            text,
            added: 0,
            removed: 0,
            binary: true,
        });
    }
    let input = InternedInput::new(sources::byte_lines(old), sources::byte_lines(new));
    let mut diff = Diff::compute(Algorithm::Myers, &input);
    diff.postprocess_lines(&input);
    let (added, removed) = (
        diff.count_additions() as usize,
        diff.count_removals() as usize,
    );
    if added + removed > 0 {
        writeln!(text, "--- {from}{}", tab(&from))?;
        writeln!(text, "+++ {to}{}", tab(&to))?;
        let hunks = Hunks {
            old_lines: sources::byte_lines(old).into_iter().collect(),
            out: std::mem::take(&mut text),
        };
        text = UnifiedDiff::new(&diff, &input, hunks, ContextSize::symmetrical(3)).consume()?;
    }
    Ok(FilePatch {
        text,
        added,
        removed,
        binary: false,
    })
}

/// Writes hunks as git does: its header rules, the function-name line, the marker after a
/// last line without a newline.
struct Hunks<'a> {
    old_lines: Vec<&'a [u8]>,
    out: Vec<u8>,
}

impl ConsumeHunk for Hunks<'_> {
    type Out = Vec<u8>;

    fn consume_hunk(
        &mut self,
        header: HunkHeader,
        lines: &[(DiffLineKind, &[u8])],
    ) -> std::io::Result<()> {
        use std::io::Write as _;
        let range = |start: u32, len: u32| match len {
            // An empty side names the line before it; one line goes without its count.
            0 => format!("{},0", start.saturating_sub(1)),
            1 => start.to_string(),
            n => format!("{start},{n}"),
        };
        write!(
            self.out,
            "@@ -{} +{} @@",
            range(header.before_hunk_start, header.before_hunk_len),
            range(header.after_hunk_start, header.after_hunk_len)
        )?;
        // git's default function line: the nearest line above the hunk that starts with a
        // letter, `_` or `$`, its first 80 bytes, trailing whitespace cut.
        let above = (header.before_hunk_start as usize).saturating_sub(1);
        if let Some(line) = self.old_lines[..above.min(self.old_lines.len())]
            .iter()
            .rev()
            .find(|l| {
                l.first()
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_' || *c == b'$')
            })
        {
            let cut = &line[..line.len().min(80)];
            let end = cut
                .iter()
                .rposition(|c| !c.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            self.out.push(b' ');
            self.out.extend_from_slice(&cut[..end]);
        }
        self.out.push(b'\n');
        for (kind, line) in lines {
            self.out.push(kind.to_prefix() as u8);
            self.out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                self.out
                    .extend_from_slice(b"\n\\ No newline at end of file\n");
            }
        }
        Ok(())
    }

    fn finish(self) -> Self::Out {
        self.out
    }
}

/// git's `--stat` block with its summary line, where it needs no scaling or name truncation
/// (`None` otherwise: git then renders it).
fn render_stat(files: &[FileChange], patches: &[FilePatch]) -> Option<String> {
    use std::fmt::Write as _;
    let changes: Vec<usize> = patches.iter().map(|p| p.added + p.removed).collect();
    let max_change = changes.iter().copied().max().unwrap_or(0);
    let any_binary = patches.iter().any(|p| p.binary);
    let name_width = files.iter().map(|f| f.path.len()).max().unwrap_or(0);
    let number_width = max_change
        .to_string()
        .len()
        .max(if any_binary { 3 } else { 0 });
    // Binary lines ("Bin X -> Y bytes") are left to git; so is anything git would scale.
    if any_binary || name_width + number_width + 6 + max_change > stat_width() {
        return None;
    }
    let mut out = String::new();
    for ((file, patch), change) in files.iter().zip(patches).zip(&changes) {
        let _ = writeln!(
            out,
            " {:name_width$} | {change:>number_width$}{}{}{}",
            file.path,
            if *change > 0 { " " } else { "" },
            "+".repeat(patch.added),
            "-".repeat(patch.removed),
        );
    }
    let (added, removed): (usize, usize) = patches
        .iter()
        .fold((0, 0), |(a, r), p| (a + p.added, r + p.removed));
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let _ = write!(out, " {} file{} changed", files.len(), plural(files.len()));
    if added > 0 || removed == 0 {
        let _ = write!(out, ", {added} insertion{}(+)", plural(added));
    }
    if removed > 0 || added == 0 {
        let _ = write!(out, ", {removed} deletion{}(-)", plural(removed));
    }
    out.push('\n');
    Some(out)
}

/// The width git's `--stat` fills: `COLUMNS` when set to a positive number, as git reads it.
#[allow(
    clippy::disallowed_methods,
    reason = "the variable the git process this stands in for would read"
)]
fn stat_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
        .unwrap_or(STAT_WIDTH)
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "the tests build repositories as a user would: plain writes and the git CLI"
)]
mod tests;
