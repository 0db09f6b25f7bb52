//! Where atomic writes keep their temp files, and where slipway keeps its own state: under the
//! repository's git directory (`.git/slipway/`), never in the work tree, so a kill at any instant
//! leaves nothing untracked behind for `git status` or the next build to trip over.

use std::path::{Path, PathBuf};

/// The git directory of the work tree that contains `dir` (or of `dir` itself): `.git` when it is
/// a directory, the `gitdir:` a `.git` file names (worktrees, submodules). None outside a work tree.
pub fn git_dir_of(dir: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(dir).ok()?;
    for d in abs.ancestors() {
        let dot = d.join(".git");
        if dot.is_dir() {
            return Some(dot);
        }
        if dot.is_file() {
            let text = std::fs::read_to_string(&dot).ok()?;
            let target = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
            let target = Path::new(target);
            return Some(if target.is_absolute() {
                target.to_path_buf()
            } else {
                d.join(target)
            });
        }
    }
    None
}

/// slipway's own directory in a git directory: `.git/slipway`.
pub fn state_dir(git_dir: &Path) -> PathBuf {
    git_dir.join("slipway")
}

/// The directory for the temp file of an atomic write of `path`: `.git/slipway/tmp` when `path`
/// is in a git work tree and that directory is on the same filesystem (so the rename stays
/// atomic), else the file's own directory.
pub fn temp_dir_for(path: &Path) -> Option<PathBuf> {
    let parent = path.parent()?;
    let beside = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let Some(git_dir) = git_dir_of(beside) else {
        return Some(beside.to_path_buf());
    };
    // A file inside the git directory itself (our own state) is written beside itself.
    if std::path::absolute(path)
        .map(|p| p.starts_with(&git_dir))
        .unwrap_or(false)
    {
        return Some(beside.to_path_buf());
    }
    let tmp = state_dir(&git_dir).join("tmp");
    if std::fs::create_dir_all(&tmp).is_err() || !same_filesystem(&tmp, beside) {
        return Some(beside.to_path_buf());
    }
    Some(tmp)
}

#[cfg(unix)]
fn same_filesystem(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_filesystem(_a: &Path, _b: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_go_under_the_git_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        let tmp = temp_dir_for(&dir.path().join("sub/CHANGELOG.md")).unwrap();
        assert!(tmp.ends_with(".git/slipway/tmp"), "{}", tmp.display());
        // Our own state is written beside itself.
        let own = dir.path().join(".git/slipway/intent.json");
        assert_eq!(temp_dir_for(&own).unwrap(), dir.path().join(".git/slipway"));
        // A worktree's `.git` file names its git directory.
        let wt = tempfile::tempdir().unwrap();
        std::fs::write(
            wt.path().join(".git"),
            format!("gitdir: {}\n", dir.path().join(".git").display()),
        )
        .unwrap();
        assert_eq!(git_dir_of(wt.path()).unwrap(), dir.path().join(".git"));
    }
}
