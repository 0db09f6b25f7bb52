//! Reading history (read-only): release tags and a streaming `git log`.
//!
//! History is read with ONE `git log` process whose output is consumed record by record
//! (NUL-separated), so memory stays flat in the number of commits.

pub use crate::core::changegen::RawCommit;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use semver::Version;

use crate::facts::git::{git, git_output, git_read};

/// A release tag: `<tag-prefix><semver>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub version: Version,
    /// The commit it points at (peeled).
    pub commit: String,
    /// The tag's date (YYYY-MM-DD): tagger date for annotated tags, else the commit date.
    pub date: String,
}

/// Parses a tag name as a release tag under `prefix` (`v1.2.3` with prefix `v`).
pub fn release_version(prefix: &str, name: &str) -> Option<Version> {
    let rest = name.strip_prefix(prefix)?;
    // With an empty prefix, `v1.2.3` is not a release tag: SemVer has no `v`.
    Version::parse(rest).ok()
}

/// Release tags (`<prefix><semver>`), highest version first, with the commit each points at
/// (peeled) and its date.
pub fn release_tags(root: &Path, prefix: &str) -> Result<Vec<Tag>> {
    let format =
        "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)%00%(creatordate:short)";
    let pattern = format!("refs/tags/{prefix}*");
    let out = git_read(root, ["for-each-ref", format, &pattern]).context("cannot list tags")?;
    let mut tags: Vec<Tag> = out
        .lines()
        .filter_map(|l| parse_tag_line(prefix, l))
        .collect();
    tags.sort_by(|a, b| b.version.cmp(&a.version));
    Ok(tags)
}

/// Release tags by name only, highest first: the cheap listing for "since the last release"
/// (no tag objects are read; `commit` holds the tag's ref, which git peels where it is used).
pub fn release_tag_names(root: &Path, prefix: &str) -> Result<Vec<Tag>> {
    // The refs read from `.git` (no git process) unless anything is unusual (`facts::gitdir`).
    let names = crate::facts::git::tags(root).context("cannot list tags")?;
    let mut tags: Vec<Tag> = names
        .iter()
        .filter(|name| name.starts_with(prefix))
        .filter_map(|name| {
            let version = release_version(prefix, name)?;
            Some(Tag {
                name: name.into(),
                version,
                commit: format!("refs/tags/{name}"),
                date: String::new(),
            })
        })
        .collect();
    tags.sort_by(|a, b| b.version.cmp(&a.version));
    Ok(tags)
}

fn parse_tag_line(prefix: &str, line: &str) -> Option<Tag> {
    let mut f = line.split('\0');
    let name = f.next()?;
    let object = f.next()?;
    let peeled = f.next()?;
    let date = f.next().unwrap_or("");
    let version = release_version(prefix, name)?;
    let commit = if peeled.is_empty() { object } else { peeled };
    Some(Tag {
        name: name.into(),
        version,
        commit: commit.into(),
        date: date.into(),
    })
}

/// The tag a changelog range starts from: the highest release tag reachable from `to` (other
/// than `exclude`); for a stable release, the highest *stable* one.
///
/// Tags are listed without `--merged` (which walks all history) and tested highest first with
/// `merge-base --is-ancestor`, which normally succeeds on the first candidate; after a few
/// misses (release branches that were never merged) it falls back to `--merged`.
pub fn last_release(
    root: &Path,
    tags: &[Tag],
    to: &str,
    exclude: Option<&str>,
    stable_only: bool,
) -> Result<Option<Tag>> {
    let wanted =
        |t: &&Tag| (!stable_only || t.version.pre.is_empty()) && Some(t.name.as_str()) != exclude;
    let candidates: Vec<&Tag> = tags.iter().filter(wanted).collect();
    for t in candidates.iter().take(8) {
        if crate::facts::git::is_ancestor(root, &t.commit, to)? {
            return Ok(Some((*t).clone()));
        }
    }
    if candidates.len() <= 8 {
        return Ok(None);
    }
    let merged = format!("--merged={to}");
    let names = git_read(
        root,
        [
            "for-each-ref",
            "--format=%(refname:strip=2)",
            &merged,
            "refs/tags",
        ],
    )?;
    let names: std::collections::HashSet<&str> = names.lines().collect();
    Ok(candidates
        .into_iter()
        .find(|t| names.contains(t.name.as_str()))
        .cloned())
}

/// Streams `git log <revs>` (newest first; `topo` for `--topo-order`) into `f`, one commit at a
/// time. Stops early when `f` returns `Ok(false)`.
pub fn walk(
    root: &Path,
    revs: &[String],
    topo: bool,
    mut f: impl FnMut(RawCommit) -> Result<bool>,
) -> Result<()> {
    let mut args = vec!["log", "-z", "--no-color"];
    if topo {
        args.push("--topo-order");
    }
    args.push("--format=%H%x1f%P%x1f%an%x1f%ae%x1f%as%x1f%B");
    args.extend(revs.iter().map(String::as_str));
    args.push("--");
    let child = crate::run::process::reader(&git(root, args)).context("cannot run `git log`")?;
    let mut reader = BufReader::with_capacity(64 * 1024, child);
    let mut buf = Vec::with_capacity(4096);
    let mut stopped = false;
    loop {
        buf.clear();
        let n = reader
            .read_until(0, &mut buf)
            .context("reading `git log`")?;
        if n == 0 {
            break;
        }
        if buf.last() == Some(&0) {
            buf.pop();
        }
        let record = String::from_utf8_lossy(&buf);
        let Some(commit) = parse_record(&record) else {
            continue;
        };
        if !f(commit)? {
            stopped = true;
            break;
        }
    }
    if stopped {
        // Dropping the reader kills and reaps `git log`.
        return Ok(());
    }
    reader
        .into_inner()
        .finish()
        .with_context(|| format!("`git log {}` failed", revs.join(" ")))
}

fn parse_record(record: &str) -> Option<RawCommit> {
    let record = record.trim_start_matches('\n');
    let mut f = record.splitn(6, '\x1f');
    let hash = f.next()?.to_string();
    let parents = f.next()?.split_whitespace().count();
    let author = f.next()?.to_string();
    let email = f.next()?.to_string();
    let date = f.next()?.to_string();
    let message = f.next().unwrap_or("").to_string();
    (!hash.is_empty()).then_some(RawCommit {
        hash,
        parents,
        author,
        email,
        date,
        message,
    })
}

/// Maps commit hash → release tags pointing at it.
pub fn tags_by_commit(tags: &[Tag]) -> HashMap<&str, Vec<&Tag>> {
    let mut map: HashMap<&str, Vec<&Tag>> = HashMap::new();
    for t in tags {
        map.entry(t.commit.as_str()).or_default().push(t);
    }
    map
}

/// The web URL of the repository, from the `origin` (or given) remote: `git@github.com:o/r.git`,
/// `https://github.com/o/r.git`, `ssh://git@host/o/r` → `https://host/o/r`. None for local paths.
pub fn remote_web_url(root: &Path, remote: &str) -> Option<String> {
    let key = format!("remote.{remote}.url");
    let url = git_output(root, ["config", "--get", &key]).ok()?.stdout;
    web_url(url.trim())
}

pub fn web_url(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    let (host, path) = if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r); // drop credentials
        rest.split_once('/')?
    } else if let Some(rest) = url.strip_prefix("ssh://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        (host.split(':').next()?, path)
    } else if let Some((user_host, path)) = url.split_once(':') {
        // scp-like: git@github.com:o/r
        if user_host.contains('/') || path.starts_with("//") {
            return None;
        }
        (
            user_host.rsplit_once('@').map_or(user_host, |(_, h)| h),
            path,
        )
    } else {
        return None;
    };
    if host.is_empty() || path.split('/').filter(|s| !s.is_empty()).count() < 2 {
        return None;
    }
    Some(format!("https://{host}/{}", path.trim_start_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_tag_names() {
        assert_eq!(release_version("v", "v1.2.3"), Some(Version::new(1, 2, 3)));
        assert_eq!(release_version("v", "1.2.3"), None);
        assert_eq!(release_version("v", "v1.2"), None);
        assert_eq!(release_version("", "1.2.3"), Some(Version::new(1, 2, 3)));
        assert_eq!(release_version("", "v1.2.3"), None);
        assert_eq!(
            release_version("app-v", "app-v2.0.0-rc.1")
                .unwrap()
                .to_string(),
            "2.0.0-rc.1"
        );
    }

    #[test]
    fn records() {
        let c = parse_record(
            "\nabc\x1fp1 p2\x1fAnn\x1fann@x\x1f2026-01-02\x1ffeat: x\n\nbody\x1fwith sep\n",
        )
        .unwrap();
        assert_eq!(c.hash, "abc");
        assert_eq!(c.parents, 2);
        assert_eq!(c.message, "feat: x\n\nbody\x1fwith sep\n");
        let root = parse_record("def\x1f\x1fB\x1fb@x\x1f2026-01-02\x1finit").unwrap();
        assert_eq!(root.parents, 0);
    }

    #[test]
    fn web_urls() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "git@github.com:acme/app.git",
                Some("https://github.com/acme/app"),
            ),
            (
                "https://github.com/acme/app.git",
                Some("https://github.com/acme/app"),
            ),
            (
                "https://token:x@github.com/acme/app",
                Some("https://github.com/acme/app"),
            ),
            (
                "ssh://git@gitlab.example.com:2222/group/sub/app.git",
                Some("https://gitlab.example.com/group/sub/app"),
            ),
            ("/tmp/remote.git", None),
            ("file:///tmp/remote.git", None),
            ("../remote", None),
        ];
        for (url, want) in cases {
            assert_eq!(web_url(url).as_deref(), *want, "{url}");
        }
    }
}
