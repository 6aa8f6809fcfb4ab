//! `godzilla spec` (being written).
