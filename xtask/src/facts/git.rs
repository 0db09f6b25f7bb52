//! Read-only facts from git. Nothing here changes a repository: writes are plan steps.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::facts::gitdir;
pub use crate::facts::gitdir::Source;
use crate::run::plan::Process;
use crate::run::process::{self, Output};

/// A read-only `git` command in `dir`.
pub fn git<I: IntoIterator<Item = S>, S: Into<String>>(dir: &Path, args: I) -> Process {
    Process::new("git", dir).args(args)
}

/// `git` processes in `dir`, built from `&[&str]` arguments (for plans listing many).
pub fn git_in(dir: &Path) -> impl Fn(&[&str]) -> Process + '_ {
    move |args: &[&str]| git(dir, args.iter().copied())
}

/// A read-only `git` command's trimmed stdout, `None` when it exits non-zero (`rev-parse
/// --verify` of a ref that is not there).
pub fn read_ok(dir: &Path, args: &[&str]) -> Result<Option<String>> {
    let out = git_output(dir, args.iter().copied())?;
    Ok(out.ok.then(|| out.stdout.trim().to_string()))
}

/// The commit the local tag `tag` names, if there is one.
pub fn local_tag_commit(dir: &Path, tag: &str) -> Result<Option<String>> {
    read_ok(
        dir,
        &[
            "rev-parse",
            "-q",
            "--verify",
            &format!("refs/tags/{tag}^{{commit}}"),
        ],
    )
}

/// Is commit `sha` in this clone?
pub fn has_commit(dir: &Path, sha: &str) -> Result<bool> {
    Ok(git_output(dir, ["cat-file", "-e", &format!("{sha}^{{commit}}")])?.ok)
}

/// Runs a read-only `git` command in `dir`, output captured, status not checked.
pub fn git_output<I: IntoIterator<Item = S>, S: Into<String>>(
    dir: &Path,
    args: I,
) -> Result<Output> {
    process::output(&git(dir, args))
}

/// Runs a read-only `git` command in `dir` and returns its stdout (an error relays its stderr).
pub fn git_read<I: IntoIterator<Item = S>, S: Into<String>>(dir: &Path, args: I) -> Result<String> {
    process::captured(&git(dir, args))
}

/// The repository root: the git top level of `dir`.
///
/// Found like git does, by walking up to the first directory holding `.git` (a directory, or a
/// file for worktrees and submodules), which saves a process spawn on every command; when
/// `GIT_DIR`/`GIT_WORK_TREE` are set, git itself is asked.
pub fn toplevel(dir: &Path) -> Result<PathBuf> {
    if !dir.is_dir() {
        return Err(crate::usage(format!(
            "{} is not a directory (given with -C?)",
            dir.display()
        )));
    }
    if std::env::var_os("GIT_DIR").is_none() && std::env::var_os("GIT_WORK_TREE").is_none() {
        let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        if let Some(found) = abs.ancestors().find(|d| d.join(".git").exists()) {
            return Ok(found.to_path_buf());
        }
    }
    let out = git_output(dir, ["rev-parse", "--show-toplevel"])
        .context("cannot run `git`; slipway needs git on PATH")?;
    if !out.ok {
        return Err(crate::usage(format!(
            "{} is not inside a git repository; run slipway in your project's checkout, or pass -C <dir>",
            dir.display()
        )));
    }
    Ok(PathBuf::from(out.stdout.trim_end_matches(['\n', '\r'])))
}

/// Branch and cleanliness, from one `git status` call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// None on a detached HEAD.
    pub branch: Option<String>,
    /// None before the first commit.
    pub head: Option<String>,
    /// Tracked paths with uncommitted changes (untracked files are not counted).
    pub changed: Vec<String>,
}

/// The status, read from the files in `.git` when that is sure to give git's answer
/// (`facts::gitdir`), else from `git status`.
pub fn status(root: &Path) -> Result<Status> {
    Ok(status_with_source(root)?.0)
}

/// `status`, and where the answer came from.
pub fn status_with_source(root: &Path) -> Result<(Status, Source)> {
    status_in(root, &gitdir::Env::from_process())
}

/// `status_with_source` with git's environment as given.
pub fn status_in(root: &Path, env: &gitdir::Env) -> Result<(Status, Source)> {
    match gitdir::status(root, env) {
        Ok(h) => {
            let mut changed = h.changed;
            changed.retain(|p| !is_own_output(p));
            let st = Status {
                branch: h.branch,
                head: Some(h.commit),
                changed,
            };
            Ok((st, Source::Files))
        }
        Err(why) => Ok((git_status(root)?, Source::Git(why))),
    }
}

/// `git status --porcelain=v2 --branch --untracked-files=no -z`, parsed.
pub fn git_status(root: &Path) -> Result<Status> {
    let out = git_read(
        root,
        [
            "status",
            "--porcelain=v2",
            "--branch",
            "--untracked-files=no",
            "-z",
        ],
    )
    .context("cannot read `git status`")?;
    Ok(parse_status(&out))
}

/// Is `path` (relative to the repository root) one of slipway's own outputs (`target/slipway/…`)?
/// Those never count as changes to the tree, even when a repository once committed them.
pub fn is_own_output(path: &str) -> bool {
    path.strip_prefix(crate::run::atomic::OWN_OUTPUT)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

pub fn parse_status(out: &str) -> Status {
    let mut st = Status::default();
    let mut records = out.split('\0').filter(|r| !r.is_empty());
    while let Some(rec) = records.next() {
        if let Some(h) = rec.strip_prefix("# branch.head ") {
            st.branch = (h != "(detached)").then(|| h.to_string());
        } else if let Some(oid) = rec.strip_prefix("# branch.oid ") {
            st.head = (oid != "(initial)").then(|| oid.to_string());
        } else if rec.starts_with("1 ") {
            st.changed
                .push(rec.splitn(9, ' ').nth(8).unwrap_or(rec).to_string());
        } else if rec.starts_with("2 ") {
            st.changed
                .push(rec.splitn(10, ' ').nth(9).unwrap_or(rec).to_string());
            records.next(); // the rename's original path
        } else if rec.starts_with("u ") {
            st.changed
                .push(rec.splitn(11, ' ').nth(10).unwrap_or(rec).to_string());
        }
    }
    st.changed.retain(|p| !is_own_output(p));
    st
}

/// Does `refs/tags/<tag>` exist locally?
pub fn tag_exists(root: &Path, tag: &str) -> Result<bool> {
    let refname = format!("refs/tags/{tag}");
    Ok(git_output(root, ["rev-parse", "-q", "--verify", &refname])?.ok)
}

/// Every tag name in the repository, sorted as `git tag -l` sorts them; read from the refs in
/// `.git` unless anything is unusual (`facts::gitdir`).
pub fn tags(root: &Path) -> Result<Vec<String>> {
    Ok(tags_with_source(root)?.0)
}

/// `tags`, and where the answer came from.
pub fn tags_with_source(root: &Path) -> Result<(Vec<String>, Source)> {
    tags_in(root, &gitdir::Env::from_process())
}

/// `tags_with_source` with git's environment as given.
pub fn tags_in(root: &Path, env: &gitdir::Env) -> Result<(Vec<String>, Source)> {
    match gitdir::tags(root, env) {
        Ok(t) => Ok((t, Source::Files)),
        Err(why) => Ok((git_tags(root)?, Source::Git(why))),
    }
}

/// `git tag -l`.
pub fn git_tags(root: &Path) -> Result<Vec<String>> {
    let out = git_output(root, ["tag", "-l"])?;
    Ok(out.stdout.lines().map(str::to_string).collect())
}

/// The prefix the release tags among `tags` use (`v` for `v1.2.3`, `` for `1.2.3`, `app-v` for
/// `app-v1.2.3`): the most common text before a SemVer version, None when no tag ends in one.
pub fn tag_prefix_of(tags: &[String]) -> Option<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for t in tags {
        let Some(at) = (0..t.len())
            .filter(|&i| t.is_char_boundary(i))
            .find(|&i| semver::Version::parse(&t[i..]).is_ok())
        else {
            continue;
        };
        let prefix = t[..at].to_string();
        match counts.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, n)) => *n += 1,
            None => counts.push((prefix, 1)),
        }
    }
    // Most used; on a tie the first seen.
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts.into_iter().find(|(_, n)| *n == best).map(|(p, _)| p)
}

/// A warning when the repository has version tags but none with `prefix` (e.g. `tag-prefix =
/// "v"` in a repository tagged `0.2.37`): releases would start a second tag series.
pub fn tag_prefix_warning(tags: &[String], prefix: &str) -> Option<String> {
    let uses = |t: &String| {
        t.strip_prefix(prefix)
            .is_some_and(|v| semver::Version::parse(v).is_ok())
    };
    if tags.iter().any(uses) {
        return None;
    }
    let found = tag_prefix_of(tags)?;
    let example = tags
        .iter()
        .rev()
        .find(|t| {
            t.strip_prefix(found.as_str())
                .is_some_and(|v| semver::Version::parse(v).is_ok())
        })
        .cloned()
        .unwrap_or_default();
    Some(format!(
        "no existing tag uses tag-prefix = {prefix:?} (the release tags look like `{example}`); \
         set tag-prefix = {found:?} in [workspace.metadata.release] of Cargo.toml (`cargo xtask \
         init` detects it), or releases start a second tag series"
    ))
}

/// Tags that point at HEAD.
pub fn tags_at_head(root: &Path) -> Result<Vec<String>> {
    let out = git_output(root, ["tag", "--points-at", "HEAD"])?;
    Ok(out.stdout.lines().map(str::to_string).collect())
}

/// The URL of a remote, or None when it does not exist.
pub fn remote_url(root: &Path, remote: &str) -> Result<Option<String>> {
    let out = git_output(root, ["remote", "get-url", remote])?;
    Ok(out.ok.then(|| out.stdout.trim().to_string()))
}

/// `git ls-remote` for exact refs: (ref name, hash) pairs that exist on the remote. Reads the
/// remote without changing any local ref.
pub fn ls_remote(root: &Path, remote: &str, refs: &[String]) -> Result<Vec<(String, String)>> {
    let mut args = vec!["ls-remote".to_string(), "--quiet".into(), remote.into()];
    args.extend(refs.iter().cloned());
    let out = git_output(root, args)?;
    if !out.ok {
        bail!(
            "cannot read the remote `{remote}`: {}",
            quote_error(&out.stderr, "git ls-remote failed")
        );
    }
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(hash, name)| (name.to_string(), hash.to_string()))
        .collect())
}

/// Git's error output for a message: the first line that says what went wrong (`fatal:`,
/// `error:`), then every other line, in order. Git's last lines are often hints ("Please make
/// sure you have the correct access rights and the repository exists.") that read as the
/// opposite of the cause when shown alone.
pub fn quote_error(stderr: &str, fallback: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let Some(first) = lines
        .iter()
        .position(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .or((!lines.is_empty()).then_some(0))
    else {
        return fallback.to_string();
    };
    let mut out = lines[first].to_string();
    for (i, l) in lines.iter().enumerate() {
        if i != first {
            out.push('\n');
            out.push_str(l);
        }
    }
    out
}

/// Is `ancestor` an ancestor of (or equal to) `of`? False when `ancestor` is not known locally.
pub fn is_ancestor(root: &Path, ancestor: &str, of: &str) -> Result<bool> {
    Ok(git_output(root, ["merge-base", "--is-ancestor", ancestor, of])?.ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parsing() {
        let out = "# branch.oid 1234abcd\0# branch.head main\0# branch.upstream origin/main\0\
                   1 .M N... 100644 100644 100644 aaa bbb pyproject.toml\0\
                   2 R. N... 100644 100644 100644 aaa bbb R100 new name.md\0old.md\0";
        let st = parse_status(out);
        assert_eq!(st.branch.as_deref(), Some("main"));
        assert_eq!(st.head.as_deref(), Some("1234abcd"));
        assert_eq!(st.changed, ["pyproject.toml", "new name.md"]);
        let st = parse_status(
            "# branch.head main\0\
             1 .M N... 100644 100644 100644 aaa bbb target/slipway/journal/v1.jsonl\0\
             1 .M N... 100644 100644 100644 aaa bbb target/slipwayish\0",
        );
        assert_eq!(st.changed, ["target/slipwayish"]);
        let st = parse_status("# branch.oid (initial)\0# branch.head (detached)\0");
        assert_eq!(st, Status::default());
    }

    #[test]
    fn tag_prefixes() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            tag_prefix_of(&t(&["0.2.36", "0.2.37", "v0.1.0"])).as_deref(),
            Some("")
        );
        assert_eq!(
            tag_prefix_of(&t(&["v1.2.3", "nightly"])).as_deref(),
            Some("v")
        );
        assert_eq!(tag_prefix_of(&t(&["app-v1.0.0"])).as_deref(), Some("app-v"));
        assert_eq!(tag_prefix_of(&t(&["nightly"])), None);
        assert_eq!(tag_prefix_warning(&t(&["v1.2.3"]), "v"), None);
        assert_eq!(tag_prefix_warning(&t(&[]), "v"), None);
        let w = tag_prefix_warning(&t(&["0.2.36", "0.2.37"]), "v").unwrap();
        assert!(
            w.starts_with("no existing tag uses tag-prefix = \"v\" (the release tags look like `0.2.37`); set tag-prefix = \"\""),
            "{w}"
        );
    }

    #[test]
    fn git_errors_lead_with_what_went_wrong() {
        let stderr = "fatal: '/nope' does not appear to be a git repository\n\
                      fatal: Could not read from remote repository.\n\n\
                      Please make sure you have the correct access rights\n\
                      and the repository exists.\n";
        let q = quote_error(stderr, "x");
        assert!(
            q.starts_with("fatal: '/nope' does not appear to be a git repository\n"),
            "{q}"
        );
        assert!(q.ends_with("and the repository exists."), "{q}");
        assert_eq!(quote_error("hint: a\nerror: b\n", "x"), "error: b\nhint: a");
        assert_eq!(quote_error("", "x"), "x");
    }
}
