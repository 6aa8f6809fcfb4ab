//! The onboarding service: sets a repository up for godzilla (`godzilla init`), checks it
//! (`godzilla doctor`) and describes it (`godzilla discover`), one file each.
//!
//! Init is idempotent: each piece (format file, config, attributes, git config, machine-local
//! directories) is written only when it differs, and the outcome lists what changed, so the
//! second run can say "nothing changed".

mod discovery;
mod doctor;
mod init;

pub use discovery::{
    AppliedCheck, CHECK_PURPOSES, CommandError, ConfigEditError, DiscoveredCommand, DiscoveryError,
    DiscoveryOptions, DiscoveryOutcome, apply_checks, parse_commands, run_discovery, split_command,
};
pub use doctor::{DoctorReport, EngineCheck, Trial, run_doctor};
pub use init::{InitOptions, InitOutcome, check_branch_name, init_project};

use crate::error_kind::{ErrorKind, HasKind};
use crate::services::platform::infra::{Infra, infra_from};

/// Errors from onboarding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing state, git, notes or the engine layer failed.
    #[error(transparent)]
    Infra(#[from] Infra),
    /// The config template failed to render (a bug).
    #[error("cannot render the config template")]
    Template(#[source] minijinja::Error),
    /// `--base-branch` is not a name git accepts for a branch.
    #[error("`{name}` is not a valid branch name: {reason}")]
    BadBranch {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The existing config could not be edited.
    #[error("cannot edit {}", path.display())]
    EditConfig {
        /// The config file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: toml_edit::TomlError,
    },
}

infra_from!(Error);

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Infra(e) => e.kind(),
            Self::BadBranch { .. } | Self::EditConfig { .. } => ErrorKind::Usage,
            // The template is built in.
            Self::Template(_) => ErrorKind::Internal,
        }
    }
}
