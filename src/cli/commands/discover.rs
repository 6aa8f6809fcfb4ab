//! `godzilla discover` (being written).
