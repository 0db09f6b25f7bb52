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

/// The preflight `release-pr` and `dev-release` share: HEAD on the main branch, a clean work
/// tree, the remote there. `runs` says what the command does there (`release-pr runs`),
/// `made` what is made from commits only, `pushes` what goes to the remote; every problem goes
/// to `problems`.
pub fn main_branch_clean_with_remote(
    cfg: &crate::facts::config::Config,
    problems: &mut crate::Problems,
    runs: &str,
    made: &str,
    pushes: &str,
) -> anyhow::Result<()> {
    use crate::facts::git;
    let status = git::status(&cfg.root)?;
    if status.branch.as_deref() != Some(cfg.branch.as_str()) {
        problems.failure(format!(
            "{runs} on the main branch `{}` (key `branch`), HEAD is on {}; `git switch {}` first",
            cfg.branch,
            status
                .branch
                .as_deref()
                .map_or("no branch".to_string(), |b| format!("`{b}`")),
            cfg.branch
        ));
    }
    if !status.changed.is_empty() {
        problems.failure(format!(
            "the work tree has uncommitted changes ({}); {made} is made from commits only",
            status.changed.join(", ")
        ));
    }
    if git::remote_url(&cfg.root, &cfg.remote)?.is_none() {
        problems.failure(format!(
            "there is no remote `{}` (key `remote`) to push {pushes} to; add it with \
             `git remote add {} <url>`",
            cfg.remote, cfg.remote
        ));
    }
    Ok(())
}
