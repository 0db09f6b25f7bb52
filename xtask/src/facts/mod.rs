//! Read-only facts: git, the history of tags and commits, the configuration, the managed files.
//! Gatherers read the world and never change it.

pub mod commits;
pub mod config;
pub mod files;
pub mod git;
pub mod gitdir;
pub mod history;
pub mod ledger;
pub mod managed;
pub mod notes;
