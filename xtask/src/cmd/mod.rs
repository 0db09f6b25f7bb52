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

/// The sub-steps that tag a merge commit and push the tag (`release-pr`, `release-merged`):
/// `fetch` the base branch first when the commit is not here yet, `tag_it` when there is no
/// local tag yet; always the push of `refs/tags/<tag>`.
pub fn tag_and_push(
    root: &std::path::Path,
    remote: &str,
    base: &str,
    sha: &str,
    tag: &str,
    fetch: bool,
    tag_it: bool,
) -> Vec<crate::run::plan::Sub> {
    use crate::run::plan::Sub;
    let git = crate::facts::git::git_in(root);
    let mut subs = Vec::new();
    if fetch {
        subs.push(Sub::run(git(&["fetch", "--quiet", remote, base])));
    }
    if tag_it {
        subs.push(Sub::run(git(&[
            "tag",
            "-a",
            tag,
            "-m",
            &format!("Release {tag}"),
            sha,
        ])));
    }
    subs.push(Sub::run(git(&[
        "push",
        "--quiet",
        remote,
        &format!("refs/tags/{tag}"),
    ])));
    subs
}

/// The sub-steps that commit `files` (path, content) on top of HEAD in a throwaway worktree and
/// push that commit to `remote` as branch `branch` (`force`: replacing what is there), leaving
/// the user's tree untouched (`release-pr`'s branch, `dev-release`'s release branch).
pub fn commit_files_to_branch(
    root: &std::path::Path,
    worktree: &std::path::Path,
    remote: &str,
    branch: &str,
    force: bool,
    message: &str,
    files: &[(String, String)],
) -> Vec<crate::run::plan::Sub> {
    use crate::run::plan::{Run, Sub};
    let git = crate::facts::git::git_in(root);
    let wt = worktree.display().to_string();
    let in_wt = crate::facts::git::git_in(worktree);
    let names: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
    let mut subs = vec![
        Run::new(git(&["worktree", "remove", "--force", &wt]))
            .tolerated()
            .sub(),
        Sub::run(git(&["worktree", "prune"])),
        Sub::run(git(&[
            "worktree", "add", "--quiet", "--detach", "--force", &wt, "HEAD",
        ])),
    ];
    for (f, content) in files {
        subs.push(Sub::Write {
            path: worktree.join(f),
            content: content.clone(),
        });
    }
    let mut add = vec!["add", "--"];
    add.extend(&names);
    subs.push(Sub::run(in_wt(&add)));
    let mut commit = vec!["commit", "--quiet", "-m", message, "--"];
    commit.extend(&names);
    subs.push(Sub::run(in_wt(&commit)));
    let refspec = format!("HEAD:refs/heads/{branch}");
    let mut push = vec!["push", "--quiet"];
    if force {
        push.push("--force");
    }
    push.extend([remote, refspec.as_str()]);
    subs.push(Sub::run(in_wt(&push)));
    subs.push(Sub::run(git(&["worktree", "remove", "--force", &wt])));
    subs
}
