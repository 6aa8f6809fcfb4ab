//! What an importer hands back: a short name, a description, an optional plan and step specs
//! with the text of each step file, ready for the caller to persist as a protocol.
//!
//! Importers ([`super::codemachine`], [`super::speckit`]) only read. This module owns the
//! shared result type and the bounded, UTF-8-checked file read they both use, because the
//! folders they read are untrusted. It never writes, never creates protocols and never
//! prints: the caller turns an [`Imported`] into files under `steps/` and a `spec.json`.

use std::io::Read;
use std::path::Path;

use crate::domain::ProtocolId;
use crate::domain::spec::{ProtocolSpec, SPEC_VERSION, SpecIssue, StepSpec, validate};

/// Largest input file an importer reads. Real `tasks.md` files and agent prompts are tens of
/// kilobytes; anything this large is a mistake or an attack, not a workspace.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// A unit of work read from another tool's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// Slug-shaped short name for `protocol new` (e.g. `photo-albums`).
    pub short_name: String,
    /// One-paragraph description of the work.
    pub description: String,
    /// Text for the protocol's `plan.md`, when the source has one.
    pub plan: Option<String>,
    /// Steps in order, each with the text of its step file (`steps/<id>.md`).
    pub steps: Vec<(StepSpec, String)>,
    /// Which importer produced it: `"codemachine"` or `"speckit"`.
    pub source: &'static str,
    /// Things the importer could not map and did not silently drop.
    pub warnings: Vec<String>,
}

impl Imported {
    /// The protocol spec these steps make for `protocol`.
    pub fn spec(&self, protocol: ProtocolId) -> ProtocolSpec {
        ProtocolSpec {
            version: SPEC_VERSION,
            protocol,
            source: self.source.to_owned(),
            steps: self.steps.iter().map(|(spec, _)| spec.clone()).collect(),
        }
    }

    /// Validates the spec as it will be once every step text is written to its `prompt_ref`;
    /// an importer that returns issues here has a bug.
    pub fn issues(&self, protocol: ProtocolId) -> Vec<SpecIssue> {
        let spec = self.spec(protocol);
        let written: Vec<&str> = self
            .steps
            .iter()
            .map(|(s, _)| s.prompt_ref.as_str())
            .collect();
        validate(&spec, &|path| written.contains(&path))
    }
}

/// Why an input file could not be read; each importer's error wraps it with the path.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The operating system refused (missing file, permissions...).
    #[error("i/o error")]
    Io(#[source] std::io::Error),
    /// The file is larger than [`MAX_INPUT_BYTES`].
    #[error("larger than {MAX_INPUT_BYTES} bytes")]
    TooLarge,
    /// The file is not UTF-8; the byte offset of the first bad byte.
    #[error("not UTF-8 text (invalid byte at offset {0})")]
    NotUtf8(usize),
    /// The file resolves (through a symlink) outside the folder being imported.
    #[error("it resolves outside {}", .0.display())]
    Outside(std::path::PathBuf),
}

/// Reads a whole text file of at most [`MAX_INPUT_BYTES`] that lies inside `root`.
///
/// What is read ends up in step files and plans that get committed (and maybe pushed), so a
/// symlink in an untrusted folder must not pull in `~/.ssh/id_rsa`. Reads through `take`
/// rather than trusting the metadata length, so a growing file cannot make it read forever.
pub(crate) fn read_text(path: &Path, root: &Path) -> Result<String, ReadError> {
    let real = path.canonicalize().map_err(ReadError::Io)?;
    let real_root = root.canonicalize().map_err(ReadError::Io)?;
    if !real.starts_with(&real_root) {
        return Err(ReadError::Outside(root.to_owned()));
    }
    let file = std::fs::File::open(&real).map_err(ReadError::Io)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(ReadError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8(e.utf8_error().valid_up_to()))
}

/// 1-based line and column (in characters) of byte offset `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_from_one() {
        let text = "ab\ncé\nx";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        // After the two-byte `é`: column counts characters, not bytes.
        assert_eq!(line_column(text, 6), (2, 3));
        assert_eq!(line_column(text, 7), (3, 1));
    }

    #[test]
    fn issues_assume_each_step_text_is_written_to_its_prompt_ref() {
        use crate::config::QaPolicy;
        use crate::domain::StepId;
        use crate::domain::spec::step_from_file;
        let step = |id: &str| step_from_file(StepId::parse(id).unwrap(), id.into(), QaPolicy::Full);
        let mut imported = Imported {
            short_name: "x".into(),
            description: "x".into(),
            plan: None,
            steps: vec![(step("01-a"), "A".into()), (step("02-b"), "B".into())],
            source: "speckit",
            warnings: Vec::new(),
        };
        let protocol = ProtocolId::parse("0001-x").unwrap();
        assert!(imported.issues(protocol.clone()).is_empty());
        assert_eq!(imported.spec(protocol.clone()).source, "speckit");
        imported.steps[1].0.prompt_ref = "../b.md".into();
        let issues = imported.issues(protocol);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].at, "steps[1].prompt_ref");
    }

    #[test]
    fn read_text_refuses_large_and_binary_files() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        let mut f = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(&big)
            .unwrap();
        std::io::Write::write_all(&mut f, &vec![b'a'; MAX_INPUT_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            read_text(&big, dir.path()),
            Err(ReadError::TooLarge)
        ));
        let bin = dir.path().join("bin");
        let mut f = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(&bin)
            .unwrap();
        std::io::Write::write_all(&mut f, b"ok\xff").unwrap();
        assert!(matches!(
            read_text(&bin, dir.path()),
            Err(ReadError::NotUtf8(2))
        ));
        let other = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_text(&bin, other.path()),
            Err(ReadError::Outside(_))
        ));
    }
}
