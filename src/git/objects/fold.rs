//! Folding the small packs commits leave into the next commit's pack (#13).
//!
//! Every commit writes a pack (see the parent module), and readers pay per pack: a process that
//! opens the repository lists `objects/pack` and stats each pack twice over, and finding an
//! object loads index after index (gix orders them by size, and a step's packs are all alike)
//! until one holds it; looking for an object that is new loads them all. With a pack per step,
//! that cost grew with the protocol until git's repack at `gc.autoPackLimit` (50) merged them.
//!
//! So once [`FOLD_AT`] small packs are there, the next commit's pack also takes their objects
//! and they are deleted, as `git repack -d` does: the new pack (and its index, named last) is
//! in place before any old one goes, each old index before its pack (readers find a pack
//! through its index), and a reader that had an old one open keeps reading it. A fold is
//! given up, before anything is deleted, when any object of a small pack cannot be read
//! (a concurrent repack took it away): those objects are then still where they were. Two
//! processes folding at once write the objects twice, which git allows (as after any fetch).
//! Packs git wrote for its own reasons are left alone: any with a file beside its index (a
//! `.keep`, `.promisor`, `.rev`, `.bitmap`, `.mtimes`) or larger than [`SMALL`], and all of
//! them where a multi-pack index names packs.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// At most this large (the `.pack`), a pack may be folded: a step's pack is a few KB.
const SMALL: u64 = 64 * 1024;

/// Small packs that make a fold: below it, the next commit writes its own pack as before.
pub(super) const FOLD_AT: usize = 8;

/// Small packs to fold into the next pack, and their objects.
pub(super) struct Fold {
    /// Each pack's path without its extension.
    stems: Vec<PathBuf>,
    pub(super) objects: Vec<(gix::ObjectId, gix::object::Kind, Vec<u8>)>,
}

/// Of a pack's stem in the directory: the extensions beside it, and the `.pack`'s size.
type Seen = (Vec<Vec<u8>>, Option<u64>);

/// What `pack_dir` holds: how many packs (their indexes), and a [`Fold`] when there are
/// [`FOLD_AT`] small ones or more and every object of them could be read.
pub(super) fn survey(repo: &gix::Repository, pack_dir: &Path) -> (usize, Option<Fold>) {
    let Ok(entries) = std::fs::read_dir(pack_dir) else {
        return (0, None);
    };
    let mut packs: HashMap<Vec<u8>, Seen> = HashMap::new();
    let mut midx = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.as_encoded_bytes();
        // A multi-pack index names its packs: deleting one would be git's job (`repack -d`
        // rewrites the index), so none is folded.
        midx |= name.starts_with(b"multi-pack-index");
        let Some(dot) = name.iter().rposition(|b| *b == b'.') else {
            continue;
        };
        let (stem, ext) = (&name[..dot], &name[dot + 1..]);
        if !stem.starts_with(b"pack-") {
            continue;
        }
        let seen = packs.entry(stem.to_vec()).or_default();
        if ext == b"pack" {
            seen.1 = entry
                .metadata()
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len());
        }
        seen.0.push(ext.to_vec());
    }
    let count = packs
        .values()
        .filter(|(exts, _)| exts.iter().any(|e| e == b"idx"))
        .count();
    let mut small: Vec<PathBuf> = packs
        .iter()
        .filter(|(_, (exts, size))| {
            exts.len() == 2 && exts.iter().any(|e| e == b"idx") && size.is_some_and(|s| s <= SMALL)
        })
        .filter_map(|(stem, _)| std::str::from_utf8(stem).ok())
        .map(|stem| pack_dir.join(stem))
        .collect();
    if midx || small.len() < FOLD_AT {
        return (count, None);
    }
    small.sort();
    (count, read(repo, small))
}

/// The objects of the packs at `stems`, or `None` when any object could not be read. A pack
/// whose index does not parse is left out (and left alone).
fn read(repo: &gix::Repository, stems: Vec<PathBuf>) -> Option<Fold> {
    use gix::objs::Find as _;
    let hash = repo.object_hash();
    let (stems, indexes): (Vec<PathBuf>, Vec<_>) = stems
        .into_iter()
        .filter_map(|stem| {
            let index = gix::odb::pack::index::File::at(stem.with_extension("idx"), hash).ok()?;
            Some((stem, index))
        })
        .unzip();
    if stems.len() < FOLD_AT {
        return None;
    }
    let mut seen = HashSet::new();
    let mut objects = Vec::new();
    let mut buf = Vec::new();
    for index in &indexes {
        for entry in index.iter() {
            if !seen.insert(entry.oid) {
                continue;
            }
            let data = repo.objects.try_find(&entry.oid, &mut buf).ok()??;
            objects.push((entry.oid, data.kind, data.data.to_vec()));
        }
    }
    Some(Fold { stems, objects })
}

impl Fold {
    /// Deletes the folded packs, once their objects are in the new pack. A pack another
    /// process deleted first is no error.
    pub(super) fn remove(&self) {
        for stem in &self.stems {
            for ext in ["idx", "pack"] {
                let path = stem.with_extension(ext);
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::debug!(error = %e, "could not remove {}", path.display());
                }
            }
        }
    }

    pub(super) fn packs(&self) -> usize {
        self.stems.len()
    }
}
