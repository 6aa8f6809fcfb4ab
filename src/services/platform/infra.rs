//! The infrastructure failures every service can meet: state on disk, a git command, the git
//! object reader, git notes, the engine layer. They used to be re-declared as five
//! `#[error(transparent)]` arms in a dozen service enums; now each service enum has one
//! `#[error(transparent)] Infra(#[from] Infra)` arm beside its own domain variants, and
//! [`infra_from!`] gives it `From` for each wrapped error so `?` keeps working on them.
//!
//! The wrappers stay transparent at both levels, so the message and the cause chain a user
//! sees are those of the wrapped error, exactly as before.

use crate::engines;
use crate::error_kind::{ErrorKind, HasKind};
use crate::git::{notes, tree};
use crate::services::platform::storage;

/// An infrastructure failure, wrapped unchanged.
#[derive(Debug, thiserror::Error)]
pub enum Infra {
    /// Reading or writing state failed.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] crate::process::Error),
    /// Reading git objects or branches failed.
    #[error(transparent)]
    Tree(#[from] tree::Error),
    /// Reading or writing a git note failed.
    #[error(transparent)]
    Notes(#[from] notes::Error),
    /// The engine layer refused or failed before running (unknown engine, bad profile).
    #[error(transparent)]
    Engine(#[from] engines::Error),
}

impl HasKind for Infra {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Storage(e) => e.kind(),
            Self::Engine(e) => e.kind(),
            Self::Notes(e) => e.kind(),
            Self::Git(_) | Self::Tree(_) => ErrorKind::Failed,
        }
    }
}

/// Implements `From<X> for $enum` for every error [`Infra`] wraps, through its `Infra` arm,
/// so a service's `?` on a storage, git, notes or engine error needs no `map_err`.
macro_rules! infra_from {
    ($enum:ty) => {
        $crate::services::platform::infra::infra_from!(@one $enum, $crate::services::platform::storage::Error);
        $crate::services::platform::infra::infra_from!(@one $enum, $crate::process::Error);
        $crate::services::platform::infra::infra_from!(@one $enum, $crate::git::tree::Error);
        $crate::services::platform::infra::infra_from!(@one $enum, $crate::git::notes::Error);
        $crate::services::platform::infra::infra_from!(@one $enum, $crate::engines::Error);
    };
    (@one $enum:ty, $err:ty) => {
        impl From<$err> for $enum {
            fn from(err: $err) -> Self {
                Self::Infra(err.into())
            }
        }
    };
}
pub(crate) use infra_from;
