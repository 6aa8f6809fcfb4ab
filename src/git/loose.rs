//! Writes the objects a commit or a note made in memory as loose objects, through one zlib
//! stream for all of them.
//!
//! gix's loose-object writer starts a new zlib stream for each object, and a stream's set-up
//! (allocating and clearing its window and hash tables, ~300 KB) cost more than compressing
//! the object itself: a step writes a dozen small blobs and trees, and this was the largest
//! single item of its commit (#13). Here the objects are collected in gix's object memory and
//! written afterwards, each exactly as gix would (same format, same read-only temporary file
//! renamed into `objects/xx/`), with the stream reset between them and kept for the next
//! batch of the thread (a step's note follows its commit). Objects already in the
//! database are left as they are. Nothing names the objects before they are all on disk:
//! callers move refs only after [`persist`] returns.

use std::io::Write as _;
use std::path::Path;

use zlib_rs::{Deflate, DeflateFlush, Status};

/// Writes the objects held in `repo`'s object memory to its object database and empties the
/// memory. Returns how many were written (those already present are not).
pub(crate) fn persist(repo: &gix::Repository) -> std::io::Result<usize> {
    let Some(objects) = repo.objects.reset_object_memory() else {
        return Ok(0);
    };
    let dir = repo.objects.store_ref().path().to_path_buf();
    let largest = objects.values().map(|(_, data)| data.len()).max();
    let Some(window) = largest.map(window_bits) else {
        return Ok(0);
    };
    WRITER.with(|cell| {
        let mut cell = cell.borrow_mut();
        let level = compression(repo);
        let writer = match cell.take() {
            Some(w) if w.level == level && w.window >= window => cell.insert(w),
            _ => cell.insert(Writer::new(level, window)),
        };
        let mut written = 0;
        for (id, (kind, data)) in objects.iter() {
            if writer.write(&dir, id, *kind, data)? {
                written += 1;
            }
        }
        Ok(written)
    })
}

thread_local! {
    /// The commit and the note of a step write their objects one after the other: one stream
    /// serves both.
    static WRITER: std::cell::RefCell<Option<Writer>> = const { std::cell::RefCell::new(None) };
}

/// The zlib window for objects of at most `len` bytes: large enough to reach back over the
/// whole object (so nothing compresses worse than with git's 32 KiB window), and no larger.
/// A stream's window, and the hash chain of the same size, are allocated and cleared when it
/// starts; for the small records and trees of a step the default window was most of that
/// memory, and each fresh page of it a page fault (#13). Any window reads back alike: the
/// stream's header names its size.
fn window_bits(len: usize) -> u8 {
    // zlib keeps this much look-ahead at the end of the window.
    const LOOKAHEAD: usize = 262;
    (9..15)
        .find(|bits| (1usize << bits) >= len.saturating_add(LOOKAHEAD))
        .unwrap_or(15)
}

/// The loose-object compression level git would use: `core.looseCompression`, then
/// `core.compression`, else best speed.
fn compression(repo: &gix::Repository) -> i32 {
    let config = repo.config_snapshot();
    ["core.looseCompression", "core.compression"]
        .into_iter()
        .find_map(|key| config.integer(key))
        .and_then(|level| i32::try_from(level).ok())
        .map(|level| if level == -1 { 6 } else { level })
        .filter(|level| (0..=9).contains(level))
        .unwrap_or(1)
}

/// One zlib stream and its buffers, reused for every object.
struct Writer {
    compress: Deflate,
    level: i32,
    window: u8,
    input: Vec<u8>,
    output: Vec<u8>,
}

impl Writer {
    fn new(level: i32, window: u8) -> Self {
        Self {
            compress: Deflate::new(level, true, window),
            level,
            window,
            input: Vec::new(),
            output: Vec::new(),
        }
    }

    /// Writes one object unless it is there already; returns whether it wrote it.
    fn write(
        &mut self,
        objects_dir: &Path,
        id: &gix::ObjectId,
        kind: gix::object::Kind,
        data: &[u8],
    ) -> std::io::Result<bool> {
        let hex = id.to_hex().to_string();
        let (fan, rest) = hex.split_at(2);
        let fan_dir = objects_dir.join(fan);
        let path = fan_dir.join(rest);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Ok(false);
        }
        self.input.clear();
        self.input
            .extend_from_slice(&gix::objs::encode::loose_header(kind, data.len() as u64));
        self.input.extend_from_slice(data);
        let compressed = self.deflate()?;
        let mut file = tempfile::Builder::new()
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o444))
            .tempfile_in(objects_dir)?;
        file.write_all(compressed)?;
        // The fan-out directory usually exists: it is made only when the rename says it is not.
        let file = match file.persist(&path) {
            Ok(_) => return Ok(true),
            Err(e) if e.error.kind() == std::io::ErrorKind::NotFound => e.file,
            Err(e) => return Err(e.error),
        };
        match std::fs::create_dir(&fan_dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        file.persist(&path).map_err(|e| e.error)?;
        Ok(true)
    }

    /// `self.input` compressed as one zlib stream, in `self.output`.
    fn deflate(&mut self) -> std::io::Result<&[u8]> {
        self.compress.reset();
        // Room for the whole stream, so one call usually ends it.
        self.output
            .resize(zlib_rs::compress_bound(self.input.len()).max(64), 0);
        let mut input = &self.input[..];
        let mut done = 0;
        loop {
            let (before_in, before_out) = (self.compress.total_in(), self.compress.total_out());
            let status = self
                .compress
                .compress(input, &mut self.output[done..], DeflateFlush::Finish)
                .map_err(|e| std::io::Error::other(format!("zlib: {e:?}")))?;
            let produced = usize::try_from(self.compress.total_out() - before_out)
                .map_err(std::io::Error::other)?;
            let consumed = usize::try_from(self.compress.total_in() - before_in)
                .map_err(std::io::Error::other)?;
            done += produced;
            input = &input[consumed..];
            if status == Status::StreamEnd {
                return Ok(&self.output[..done]);
            }
            if produced == 0 && consumed == 0 && done < self.output.len() {
                return Err(std::io::Error::other("zlib made no progress"));
            }
            if done == self.output.len() {
                let grown = self.output.len() * 2;
                self.output.resize(grown, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_written_here_read_back_through_gix_and_git() {
        let dir = tempfile::tempdir().unwrap();
        gix::init(dir.path()).unwrap();
        let git = crate::git::Git::new("git", dir.path());
        let repo = gix::open(dir.path()).unwrap().with_object_memory();
        // Larger than one output chunk, and compressible.
        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let ids: Vec<_> = [&b"hello\n"[..], b"", &big]
            .into_iter()
            .map(|data| (repo.write_blob(data).unwrap().detach(), data.to_vec()))
            .collect();
        assert_eq!(persist(&repo).unwrap(), 3);
        let fresh = gix::open(dir.path()).unwrap();
        for (id, data) in &ids {
            assert_eq!(&fresh.find_object(*id).unwrap().data, data);
            let out = git
                .run_unchecked(&["cat-file", "-p", &id.to_string()])
                .unwrap();
            assert!(out.success());
            assert_eq!(&out.stdout, data);
        }
        // Each object's stream names a window no larger than it needs, and at most git's.
        for (id, data) in &ids {
            let hex = id.to_hex().to_string();
            let raw = std::fs::read(
                dir.path()
                    .join(".git/objects")
                    .join(&hex[..2])
                    .join(&hex[2..]),
            )
            .unwrap();
            // The window is the largest of the batch: the big blob's.
            assert_eq!(raw[0] >> 4, 15 - 8, "{} bytes", data.len());
        }
        assert_eq!(window_bits(0), 9);
        assert_eq!(window_bits(250), 9);
        assert_eq!(window_bits(251), 10);
        assert_eq!(window_bits(4000), 13);
        assert_eq!(window_bits(1 << 20), 15);
        // A small batch after a large one on the same thread: the stream is kept, and a batch
        // larger than its window gets a new one.
        let small = gix::open(dir.path()).unwrap().with_object_memory();
        let tiny = small.write_blob(b"tiny\n").unwrap().detach();
        assert_eq!(persist(&small).unwrap(), 1);
        assert_eq!(
            &gix::open(dir.path())
                .unwrap()
                .find_object(tiny)
                .unwrap()
                .data,
            b"tiny\n"
        );
        // Present already: not written again.
        let repo = fresh.with_object_memory();
        repo.write_blob(b"hello\n").unwrap();
        assert_eq!(persist(&repo).unwrap(), 0);
    }
}
