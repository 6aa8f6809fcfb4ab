//! Machine-local line logs that are written while something runs and read while they grow:
//! live transcripts. Each line is one `write` on a file opened for append, so a reader never
//! sees half of one unless the writer died in the middle of it; readers take only whole lines.
//! Not flushed to disk: a transcript is a view of a run, and the run record is the truth.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::Error;

/// An append-only line log.
#[derive(Debug)]
pub struct LineLog {
    path: PathBuf,
    file: File,
}

impl LineLog {
    /// Opens (creating it and its directory) `path` for appending.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one line (a newline is added).
    pub fn append(&mut self, line: &str) -> Result<(), Error> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The whole lines of `path` from byte `offset` on, and the offset after the last whole line.
/// A missing file has none; a file that shrank (replaced) is read again from the start.
pub fn read_from(path: &Path, offset: u64) -> Result<(Vec<String>, u64), Error> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(Error::io(path, e)),
    };
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let start = if len < offset { 0 } else { offset };
    file.seek(SeekFrom::Start(start))
        .map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let lines = String::from_utf8_lossy(&bytes[..whole])
        .lines()
        .map(str::to_owned)
        .collect();
    Ok((lines, start + whole as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_lines_reader_takes_only_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.jsonl");
        assert_eq!(read_from(&path, 0).unwrap(), (vec![], 0));
        let mut log = LineLog::open(&path).unwrap();
        log.append("one").unwrap();
        let (lines, off) = read_from(&path, 0).unwrap();
        assert_eq!((lines, off), (vec!["one".to_owned()], 4));
        // A torn tail is left for the next read.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"tw")
            .unwrap();
        assert_eq!(read_from(&path, 4).unwrap(), (vec![], 4));
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"o\n")
            .unwrap();
        assert_eq!(read_from(&path, 4).unwrap(), (vec!["two".to_owned()], 8));
    }
}
