//! Writes the objects a commit or a note made in memory as loose objects, through one zlib
//! stream for all of them.
//!
//! gix's loose-object writer starts a new zlib stream for each object, and a stream's set-up
//! (allocating and clearing its window and hash tables, ~300 KB) cost more than compressing
//! the object itself: a step writes a dozen small blobs and trees, and this was the largest
//! single item of its commit (#13). Here the objects are collected in gix's object memory and
//! written afterwards, each exactly as gix would (same format, same read-only temporary file
//! renamed into `objects/xx/`), with the stream reset between them. Objects already in the
//! database are left as they are. Nothing names the objects before they are all on disk:
//! callers move refs only after [`persist`] returns.

use std::io::Write as _;
use std::path::Path;

use gix_zlib::stream::deflate::{Compress, FlushCompress};

/// Writes the objects held in `repo`'s object memory to its object database and empties the
/// memory. Returns how many were written (those already present are not).
pub(crate) fn persist(repo: &gix::Repository) -> std::io::Result<usize> {
    let Some(objects) = repo.objects.reset_object_memory() else {
        return Ok(0);
    };
    let dir = repo.objects.store_ref().path().to_path_buf();
    let mut writer = Writer::new(compression(repo));
    let mut written = 0;
    for (id, (kind, data)) in objects.iter() {
        if writer.write(&dir, id, *kind, data)? {
            written += 1;
        }
    }
    Ok(written)
}

/// The loose-object compression level git would use: `core.looseCompression`, then
/// `core.compression`, else best speed.
fn compression(repo: &gix::Repository) -> gix_zlib::Compression {
    let config = repo.config_snapshot();
    ["core.looseCompression", "core.compression"]
        .into_iter()
        .find_map(|key| config.integer(key))
        .and_then(|level| i32::try_from(level).ok())
        .and_then(|level| gix_zlib::Compression::new(if level == -1 { 6 } else { level }))
        .unwrap_or(gix_zlib::Compression::BEST_SPEED)
}

/// One zlib stream and its buffers, reused for every object.
struct Writer {
    compress: Compress,
    input: Vec<u8>,
    output: Vec<u8>,
    chunk: Box<[u8; 32 * 1024]>,
}

impl Writer {
    fn new(level: gix_zlib::Compression) -> Self {
        Self {
            compress: Compress::new(level),
            input: Vec::new(),
            output: Vec::new(),
            chunk: Box::new([0; 32 * 1024]),
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
        self.deflate()?;
        let mut file = tempfile::Builder::new()
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o444))
            .tempfile_in(objects_dir)?;
        file.write_all(&self.output)?;
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

    /// `self.input` compressed into `self.output`, as one zlib stream.
    fn deflate(&mut self) -> std::io::Result<()> {
        self.compress.reset();
        self.output.clear();
        let mut input = &self.input[..];
        loop {
            let (before_in, before_out) = (self.compress.total_in(), self.compress.total_out());
            let status = self
                .compress
                .compress(input, &mut self.chunk[..], FlushCompress::Finish)
                .map_err(std::io::Error::other)?;
            let produced = usize::try_from(self.compress.total_out() - before_out)
                .map_err(std::io::Error::other)?;
            let consumed = usize::try_from(self.compress.total_in() - before_in)
                .map_err(std::io::Error::other)?;
            self.output.extend_from_slice(&self.chunk[..produced]);
            input = &input[consumed..];
            if status == gix_zlib::Status::StreamEnd {
                return Ok(());
            }
            if produced == 0 && consumed == 0 {
                return Err(std::io::Error::other("zlib made no progress"));
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
        // Present already: not written again.
        let repo = fresh.with_object_memory();
        repo.write_blob(b"hello\n").unwrap();
        assert_eq!(persist(&repo).unwrap(), 0);
    }
}
