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

/// The file a write of `path` lands in: `path` itself, or, when it is a symlink (a chain of
/// them), the file it finally points to, so that replacing the content keeps the link a link.
pub fn through_symlinks(path: &Path) -> anyhow::Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path).map_err(|e| {
            anyhow::anyhow!(
                "{} is a symlink whose target cannot be reached ({e}); fix or remove the link",
                path.display()
            )
        }),
        _ => Ok(path.to_path_buf()),
    }
}

/// What slipway writes in a work tree lives here (`target/slipway/…`).
pub const OWN_OUTPUT: &str = "target/slipway";
/// The line registered in `.git/info/exclude`.
pub const EXCLUDE_LINE: &str = "/target/slipway/";

/// When `path` is under `<work tree>/target/slipway/`, makes sure git ignores that directory
/// whatever the repository's `.gitignore` says: `/target/slipway/` in `.git/info/exclude`
/// (added once, with a comment; never duplicated). Elsewhere, nothing.
pub fn exclude_own_output(path: &Path) -> anyhow::Result<()> {
    let Ok(abs) = std::path::absolute(path) else {
        return Ok(());
    };
    let Some(top) = abs
        .ancestors()
        .find(|d| d.join(".git").exists() && abs.starts_with(d.join(OWN_OUTPUT)))
    else {
        return Ok(());
    };
    let Some(git_dir) = git_dir_of(top) else {
        return Ok(());
    };
    exclude_in(&git_dir)
}

/// Adds [`EXCLUDE_LINE`] to `<git dir>/info/exclude` unless it is there. Idempotent.
pub fn exclude_in(git_dir: &Path) -> anyhow::Result<()> {
    // A worktree's git directory shares `info/` with the main one (`commondir`).
    let common = match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(c) => {
            let c = Path::new(c.trim());
            if c.is_absolute() {
                c.to_path_buf()
            } else {
                git_dir.join(c)
            }
        }
        Err(_) => git_dir.to_path_buf(),
    };
    let file = common.join("info").join("exclude");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    if text.lines().any(|l| l.trim() == EXCLUDE_LINE) {
        return Ok(());
    }
    let mut out = text;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("# slipway's own outputs (builds, journal, reports): never part of the tree\n");
    out.push_str(EXCLUDE_LINE);
    out.push('\n');
    std::fs::create_dir_all(common.join("info"))
        .and_then(|()| std::fs::write(&file, out))
        .map_err(|e| anyhow::anyhow!("cannot register {EXCLUDE_LINE} in {}: {e}", file.display()))
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

    #[test]
    fn own_outputs_are_excluded_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git/info")).unwrap();
        std::fs::write(dir.path().join(".git/info/exclude"), "*.swp").unwrap();
        exclude_own_output(&dir.path().join("CHANGELOG.md")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".git/info/exclude")).unwrap(),
            "*.swp"
        );
        for _ in 0..2 {
            exclude_own_output(&dir.path().join("target/slipway/dist/x.whl")).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".git/info/exclude")).unwrap(),
            "*.swp\n# slipway's own outputs (builds, journal, reports): never part of the tree\n/target/slipway/\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_written_through() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::create_dir_all(dir.path().join("docs")).unwrap();
        std::fs::write(dir.path().join("docs/CHANGES.md"), "old").unwrap();
        std::os::unix::fs::symlink("docs/CHANGES.md", dir.path().join("CHANGELOG.md")).unwrap();
        crate::run::exec::write_atomic(&dir.path().join("CHANGELOG.md"), "new").unwrap();
        let link = std::fs::symlink_metadata(dir.path().join("CHANGELOG.md")).unwrap();
        assert!(link.file_type().is_symlink());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("docs/CHANGES.md")).unwrap(),
            "new"
        );
    }
}
