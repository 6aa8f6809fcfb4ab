//! Test support: temp repos with a hermetic git environment.
