//! One module per command: gather facts, build a plan, render it (`--dry-run`) or execute it.
//!
//! Commands take plain data ([`Global`] and their own `Options`); they never see the command
//! line parser (`crate::cli` builds these values and calls in).

use std::path::PathBuf;

pub mod adopt;
pub mod bump;
pub mod changelog;
pub mod check_versions;
pub mod ci;
pub mod dev_release;
pub mod docker_validate;
pub mod history;
pub mod hotfix;
pub mod init;
pub mod promote;
pub mod publish;
pub mod rehearse;
pub mod release_merged;
pub mod release_notes;
pub mod release_pr;
pub mod rollback;
pub mod verify;

/// What every command is given, whatever it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// Where to start: the repository is this directory's git top level (`-C <dir>`, else the
    /// current directory).
    pub dir: PathBuf,
}
