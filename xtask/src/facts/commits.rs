//! The commits of a release, read from git: ranges since the last release tag, collected into
//! the generated changelog's model; the repository's web URL for links.

use std::path::Path;

use anyhow::Result;

use crate::core::changegen::{Collector, Release, Style};
use crate::facts::config::Config;
use crate::facts::history::{self, Tag};

/// The style of generated entries for this repository: links when its web URL is known.
pub fn style(cfg: &Config) -> Style {
    Style {
        include_other: cfg.changelog_other,
        repo_url: repo_url(cfg),
    }
}

/// The repository's web URL: `repository`, else `github.repo`, else the remote's URL.
pub fn repo_url(cfg: &Config) -> Option<String> {
    cfg.repository
        .clone()
        .or_else(|| {
            cfg.github_repo
                .as_ref()
                .map(|r| format!("https://github.com/{r}"))
        })
        .or_else(|| history::remote_web_url(&cfg.root, &cfg.remote))
}

/// Commits after the previous release tag (reachable from HEAD) up to HEAD. For a stable target,
/// the range starts at the previous *stable* release.
pub fn since_last_release(cfg: &Config, stable_target: bool) -> Result<(Option<Tag>, Release)> {
    let tags = history::release_tag_names(&cfg.root, &cfg.tag_prefix)?;
    let prev = history::last_release(&cfg.root, &tags, "HEAD", None, stable_target)?;
    let release = collect_range(
        &cfg.root,
        prev.as_ref().map(|t| t.name.as_str()),
        "HEAD",
        None,
    )?;
    Ok((prev, release))
}

/// One range, collected into a single release.
pub fn collect_range(
    root: &Path,
    from: Option<&str>,
    to: &str,
    version: Option<(&Tag, Option<&Tag>)>,
) -> Result<Release> {
    let revs = match from {
        Some(f) => vec![format!("{f}..{to}")],
        None => vec![to.to_string()],
    };
    let mut c = match version {
        Some((t, _)) => Collector::new(
            Some(t.version.clone()),
            Some(t.name.clone()),
            Some(t.date.clone()),
        ),
        None => Collector::new(None, None, None),
    };
    history::walk(root, &revs, false, |raw| {
        c.push(raw);
        Ok(true)
    })?;
    let mut r = c.finish();
    if let Some((_, prev)) = version {
        r.previous_tag = prev.map(|p| p.name.clone());
    }
    Ok(r)
}
