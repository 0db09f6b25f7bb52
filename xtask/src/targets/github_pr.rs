//! The GitHub side of `release-pr`: the one open release pull request (branch `slipway/release`
//! into the main branch) and the merged ones.
//!
//! State is always read from GitHub (the pull requests themselves: open or merged, their title
//! and merge commit) — never from labels, so a label a failed run left behind blocks nothing.
//!
//! - [`SyncPr`] (a [`Reconcile`]): opens the release PR when something is releasable and none is
//!   open, updates its title/body when they differ, and, when nothing is releasable, comments
//!   why and closes every open one.
//! - [`merged_release`] finds the newest merged release PR (its version from the title
//!   `chore(release): X.Y.Z`, its merge commit).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use semver::Version;
use serde_json::{json, Value as Json};

use crate::run::plan::{Decision, Planned, Process, Reconcile, Run, RunContext, Sub};
use crate::targets::github::{self, Gh};

/// The branch the release PR comes from.
pub const BRANCH: &str = "slipway/release";

/// The title of the release PR for `version`.
pub fn title(version: &Version) -> String {
    format!("chore(release): {version}")
}

/// The version a release PR's title names (`chore(release): 1.3.0`).
pub fn parse_title(title: &str) -> Option<Version> {
    let rest = title.trim().strip_prefix("chore(release):")?.trim();
    Version::parse(rest.strip_prefix('v').unwrap_or(rest)).ok()
}

/// What the release PR should be, when something is releasable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub version: Version,
    pub title: String,
    /// The changelog section of the version.
    pub body: String,
    /// The files the release commit changes: (path relative to the root, new content).
    pub files: Vec<(String, String)>,
}

/// What is releasable on the main branch now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Releasable {
    pub wanted: Option<Wanted>,
    /// Where "since" starts: the last release tag, or `the first commit`.
    pub since: String,
}

/// Computes [`Releasable`] from the repository as it is when called (read-only): steps call it
/// when they observe, so a tag made by an earlier step of the same run counts.
pub type Compute = Arc<dyn Fn() -> Result<Releasable> + Send + Sync>;

/// An open or merged pull request from [`BRANCH`], as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pr {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub html_url: String,
    /// Merged: the merge commit.
    pub merge_sha: Option<String>,
    pub merged_at: Option<String>,
}

fn pr_of(v: &Json) -> Pr {
    let s = |k: &str| v.get(k).and_then(Json::as_str).map(String::from);
    Pr {
        number: v.get("number").and_then(Json::as_u64).unwrap_or(0),
        title: s("title").unwrap_or_default(),
        body: s("body").unwrap_or_default(),
        html_url: s("html_url").unwrap_or_default(),
        merge_sha: s("merge_commit_sha"),
        merged_at: s("merged_at"),
    }
}

/// `gh api --include repos/<repo>/pulls?state=<state>&head=<owner>:slipway/release&base=<base>…`.
pub fn list_process(gh: &Gh, state: &str, base: &str) -> Process {
    let owner = gh.repo.split('/').next().unwrap_or_default();
    gh.api([format!(
        "repos/{}/pulls?state={state}&head={owner}:{BRANCH}&base={base}&per_page=100",
        gh.repo
    )])
}

/// The pull requests from [`BRANCH`] into `base` in `state` (`open`, `closed`), newest first.
pub fn list(gh: &Gh, state: &str, base: &str) -> Result<Vec<Pr>> {
    let p = list_process(gh, state, base);
    let r = github::api(&p)?;
    if r.status != 200 {
        return Err(github::unexpected(&p, &r));
    }
    Ok(r.body
        .as_array()
        .map(|a| a.iter().map(pr_of).collect())
        .unwrap_or_default())
}

/// The newest merged release PR (by merge time) whose title names a version.
pub fn merged_release(gh: &Gh, base: &str) -> Result<Option<(Pr, Version)>> {
    let mut merged: Vec<(Pr, Version)> = list(gh, "closed", base)?
        .into_iter()
        .filter(|p| p.merge_sha.is_some() && p.merged_at.is_some())
        .filter_map(|p| parse_title(&p.title).map(|v| (p, v)))
        .collect();
    merged.sort_by(|a, b| b.0.merged_at.cmp(&a.0.merged_at));
    Ok(merged.into_iter().next())
}

/// `gh api --include repos/<repo>/releases/tags/<tag>`.
pub fn release_process(gh: &Gh, tag: &str) -> Process {
    if tag.starts_with('<') {
        // A plan's template: the placeholder stays readable.
        return gh.api([format!("repos/{}/releases/tags/{tag}", gh.repo)]);
    }
    gh.api([gh.release_by_tag_path(tag)])
}

/// The GitHub release of `tag` (None: 404).
pub fn release(gh: &Gh, tag: &str) -> Result<Option<Json>> {
    let p = release_process(gh, tag);
    let r = github::api(&p)?;
    match r.status {
        200 => Ok(Some(r.body)),
        404 => Ok(None),
        _ => Err(github::unexpected(&p, &r)),
    }
}

/// Keeps the one open release PR as the commits want it.
pub struct SyncPr {
    pub gh: Gh,
    pub base: String,
    /// Where request bodies are written (`gh api --input`).
    pub work: PathBuf,
    pub compute: Compute,
    /// What was releasable when the plan was made (the dry run's concrete view).
    pub preview: Releasable,
}

impl std::fmt::Debug for SyncPr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncPr")
            .field("repo", &self.gh.repo)
            .finish()
    }
}

#[derive(Debug)]
pub struct PrSeen {
    pub releasable: Releasable,
    pub open: Vec<Pr>,
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

impl SyncPr {
    fn json_file(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }
    fn request(&self, method: &str, path: String, file: &Path, body: Json, ok: u16) -> Vec<Sub> {
        let p = self.gh.api([
            "-X".to_string(),
            method.into(),
            path,
            "--input".into(),
            rel(&self.gh.cwd, file),
        ]);
        let judged = p.clone();
        vec![
            Sub::Write {
                path: file.to_path_buf(),
                content: serde_json::to_string_pretty(&body).unwrap_or_default(),
            },
            Run::new(p)
                .verdict(move |out| {
                    let r = github::reply(&judged, out)?;
                    if r.status == ok {
                        let n = r.body.get("number").and_then(Json::as_u64);
                        let url = r.body.get("html_url").and_then(Json::as_str);
                        Ok(match (n, url) {
                            (Some(n), Some(u)) => vec![
                                ("release_pr.number".into(), n.to_string()),
                                ("release_pr.url".into(), u.to_string()),
                            ],
                            _ => Vec::new(),
                        })
                    } else {
                        Err(github::unexpected(&judged, &r).to_string())
                    }
                })
                .sub(),
        ]
    }
    fn create(&self, w: &Wanted) -> Vec<Sub> {
        self.request(
            "POST",
            format!("repos/{}/pulls", self.gh.repo),
            &self.json_file("pr-create.json"),
            json!({"title": w.title, "head": BRANCH, "base": self.base, "body": w.body}),
            201,
        )
    }
    fn update(&self, n: &str, w: &Wanted) -> Vec<Sub> {
        self.request(
            "PATCH",
            format!("repos/{}/pulls/{n}", self.gh.repo),
            &self.json_file("pr-update.json"),
            json!({"title": w.title, "body": w.body}),
            200,
        )
    }
    fn close(&self, n: &str, since: &str) -> Vec<Sub> {
        let mut subs = self.request(
            "POST",
            format!("repos/{}/issues/{n}/comments", self.gh.repo),
            &self.json_file("pr-comment.json"),
            json!({"body": close_comment(since)}),
            201,
        );
        subs.extend(self.request(
            "PATCH",
            format!("repos/{}/pulls/{n}", self.gh.repo),
            &self.json_file("pr-close.json"),
            json!({"state": "closed"}),
            200,
        ));
        subs
    }
}

/// Why a release PR is closed.
pub fn close_comment(since: &str) -> String {
    format!(
        "Closed by `cargo xtask release-pr`: nothing is releasable since {since} (no feat, fix, \
         perf or breaking commit on the main branch). The next releasable commit opens a new \
         release PR."
    )
}

impl Reconcile for SyncPr {
    type Seen = PrSeen;
    fn header(&self) -> String {
        format!(
            "keep the release PR {BRANCH} → {} in {}",
            self.base, self.gh.repo
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "releasable commits: the one open PR is created, or updated when its title/body \
             differ; nothing releasable: every open one is commented on and closed"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        let placeholder = Wanted {
            version: Version::new(0, 0, 0),
            title: "chore(release): <version>".into(),
            body: "<changelog section>".into(),
            files: Vec::new(),
        };
        let w = self.preview.wanted.as_ref().unwrap_or(&placeholder);
        let mut apply = self.create(w);
        apply.extend(self.update("<number>", w));
        apply.extend(self.close("<number>", &self.preview.since));
        Planned {
            observe: vec![Sub::run(list_process(&self.gh, "open", &self.base))],
            apply,
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<PrSeen> {
        Ok(PrSeen {
            releasable: (self.compute)()?,
            open: list(&self.gh, "open", &self.base)?,
        })
    }
    fn decide(&self, seen: &PrSeen) -> Result<Decision> {
        match (&seen.releasable.wanted, seen.open.first()) {
            (Some(w), None) => Ok(Decision::apply(
                self.create(w),
                format!("opened the release PR for {} (<release_pr.url>)", w.version),
            )),
            (Some(w), Some(pr)) if pr.title != w.title || pr.body.trim() != w.body.trim() => {
                Ok(Decision::apply(
                    self.update(&pr.number.to_string(), w),
                    format!("updated release PR #{} to {}", pr.number, w.version),
                ))
            }
            (Some(w), Some(pr)) => Ok(Decision::done(format!(
                "release PR #{} ({}) already is `{}` with the changelog section",
                pr.number, pr.html_url, w.title
            ))
            .recording("release_pr.number", pr.number.to_string())
            .recording("release_pr.url", pr.html_url.clone())),
            (None, None) => Ok(Decision::done(format!(
                "nothing releasable since {} and no release PR is open",
                seen.releasable.since
            ))),
            (None, Some(_)) => {
                let mut subs = Vec::new();
                let mut closed = Vec::new();
                for pr in &seen.open {
                    subs.extend(self.close(&pr.number.to_string(), &seen.releasable.since));
                    closed.push(format!("#{}", pr.number));
                }
                Ok(Decision::apply(
                    subs,
                    format!(
                        "closed release PR {} (nothing releasable since {})",
                        closed.join(", "),
                        seen.releasable.since
                    ),
                ))
            }
        }
    }
    fn json(&self) -> Json {
        json!({
            "repo": self.gh.repo,
            "branch": BRANCH,
            "base": self.base,
            "wanted": self.preview.wanted.as_ref().map(|w| json!({
                "version": w.version.to_string(), "title": w.title, "body": w.body,
            })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_round_trip() {
        let v = Version::new(1, 3, 0);
        assert_eq!(title(&v), "chore(release): 1.3.0");
        assert_eq!(parse_title(&title(&v)), Some(v));
        assert_eq!(
            parse_title("chore(release): v2.0.0-rc.1")
                .unwrap()
                .to_string(),
            "2.0.0-rc.1"
        );
        assert_eq!(parse_title("feat: x"), None);
        assert_eq!(parse_title("chore(release): soon"), None);
    }
}
