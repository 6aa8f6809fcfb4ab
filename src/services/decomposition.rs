//! The decomposition service (being written).
