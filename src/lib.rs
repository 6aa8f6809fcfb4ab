//! godzilla: orchestrates AI coding agents on a git repository, keeping all of its state in
//! that repository (files under `.godzilla/`, git notes, refs and lockfiles).
//!
//! Layers: [`domain`] is pure; [`services`] decide and persist through
//! [`services::platform::storage`]; [`git`] and [`process`] touch the outside world; [`cli`]
//! parses and renders and never decides.
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod context;
pub mod digest;
pub mod domain;
pub mod engines;
pub mod error_kind;
pub mod fault;
pub mod forge;
pub mod fsio;
pub mod git;
pub mod process;
pub mod report;
pub mod services;
