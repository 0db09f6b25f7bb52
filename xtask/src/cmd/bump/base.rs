//! Where generated changelog entries start when the newest release in the changelog has no tag
//! (a clone without tags, a tag never pushed): the commit that last changed that version in
//! `pyproject.toml`, said aloud; or a refusal naming the fix when no commit states it.

use anyhow::Result;
use semver::Version;

use crate::core::changegen::Release;
use crate::core::version;
use crate::facts::config::Config;
use crate::facts::git;
use crate::facts::history::Tag;

/// What to do about the range start.
pub enum Base {
    /// The newest changelog version is tagged (or older than the last tag): the tag decides.
    Tagged,
    /// No tag: entries start after this commit; the warning says so.
    Commit { sha: String, warning: String },
    /// No tag and no commit states the version: the problem names the fix.
    Refuse(String),
}

/// Decides the range start from the changelog's newest version and the last release tag found.
pub fn decide(cfg: &Config, newest: Option<&Version>, prev: Option<&Tag>) -> Result<Base> {
    let Some(v) = newest else {
        return Ok(Base::Tagged);
    };
    if prev.is_some_and(|t| t.version >= *v) {
        return Ok(Base::Tagged);
    }
    let tag = version::git_tag(&cfg.tag_prefix, v);
    if git::tag_exists(&cfg.root, &tag)? {
        return Ok(Base::Tagged);
    }
    let pep = version::pep440(v);
    let needle = format!("-S{pep}");
    let file = cfg.pyproject.clone();
    let out = git::git_output(
        &cfg.root,
        [
            "log",
            "-1",
            "--format=%H",
            needle.as_str(),
            "--",
            file.as_str(),
        ],
    )?;
    let sha = out.stdout.trim().to_string();
    let since = prev.map_or("the first commit".to_string(), |t| t.name.clone());
    if !out.ok || sha.is_empty() {
        return Ok(Base::Refuse(format!(
            "{} names {v} as the newest release, but there is no tag {tag} and no commit of {} states {pep}; \
             generated entries would start at {since} and repeat what {v} released. Create the tag on \
             {v}'s release commit (`git tag -a {tag} <commit> -m \"Release {tag}\"`), then run again",
            cfg.changelog, cfg.pyproject
        )));
    }
    Ok(Base::Commit {
        warning: format!(
            "{} names {v} as the newest release, but there is no tag {tag}: generated entries start after \
             {}, the commit that last changed {pep} in {} (not at {since}); tag it to make this explicit \
             (`git tag -a {tag} {} -m \"Release {tag}\"`)",
            cfg.changelog,
            &sha[..sha.len().min(7)],
            cfg.pyproject,
            &sha[..sha.len().min(7)],
        ),
        sha,
    })
}

/// The commits after `sha` up to HEAD.
pub fn since_commit(cfg: &Config, sha: &str) -> Result<Release> {
    crate::facts::commits::collect_range(&cfg.root, Some(sha), "HEAD", None)
}
