//! The GitHub side of the reviewed dev-image release (`dev-release`, `release-merged`): the
//! tracking issue, the pull request, its reviewers, the issue's assignees, the digest recorded
//! in the PR body, the label, and closing the issue once released.
//!
//! Every step is a [`Reconcile`]: it reads GitHub first (an issue or PR found for the version is
//! reused, never duplicated; a reviewer, assignee or label present is not asked for again), then
//! decides, then applies `gh api` requests (bodies written to files, `--input`). Values later
//! steps read are recorded: `dev.issue`, `dev.pr`, `dev.pr_url`, `dev.digest`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use semver::Version;
use serde_json::{json, Value as Json};

use crate::core::devpr;
use crate::run::plan::{Decision, Planned, Process, Reconcile, Run, RunContext, Sub};
use crate::targets::github::{self, Gh};

/// An issue or pull request as GitHub lists it (the fields these steps read).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Item {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub state: String,
    pub html_url: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    /// Pull requests: the head branch, the merge commit and time, the reviewers asked.
    pub head: String,
    pub merge_sha: Option<String>,
    pub merged_at: Option<String>,
    pub reviewers: Vec<String>,
    pub teams: Vec<String>,
    pub is_pull: bool,
}

pub fn item_of(v: &Json) -> Item {
    let s = |k: &str| v.get(k).and_then(Json::as_str).map(String::from);
    let names = |k: &str, field: &str| -> Vec<String> {
        v.get(k)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| x.get(field).and_then(Json::as_str).map(String::from))
            .collect()
    };
    Item {
        number: v.get("number").and_then(Json::as_u64).unwrap_or(0),
        title: s("title").unwrap_or_default(),
        body: s("body").unwrap_or_default(),
        state: s("state").unwrap_or_default(),
        html_url: s("html_url").unwrap_or_default(),
        labels: names("labels", "name"),
        assignees: names("assignees", "login"),
        head: v["head"]["ref"].as_str().unwrap_or_default().to_string(),
        merge_sha: s("merge_commit_sha"),
        merged_at: s("merged_at"),
        reviewers: names("requested_reviewers", "login"),
        teams: names("requested_teams", "slug"),
        is_pull: v.get("pull_request").is_some() || v.get("head").is_some(),
    }
}

fn get(p: &Process) -> Result<Option<Json>> {
    let r = github::api(p)?;
    match r.status {
        200 => Ok(Some(r.body)),
        404 => Ok(None),
        _ => Err(github::unexpected(p, &r)),
    }
}

/// `gh api --include repos/<repo>/issues?state=all&labels=<label>&per_page=100`.
pub fn issues_process(gh: &Gh, label: &str) -> Process {
    gh.api([format!(
        "repos/{}/issues?state=all&labels={label}&per_page=100",
        gh.repo
    )])
}

/// The issue (not a PR) titled `title` among those labelled `label`, newest first.
pub fn find_issue(gh: &Gh, label: &str, title: &str) -> Result<Option<Item>> {
    let p = issues_process(gh, label);
    let list = get(&p)?.unwrap_or(Json::Null);
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v.get("pull_request").is_none())
        .map(item_of)
        .find(|i| i.title == title))
}

/// `gh api --include repos/<repo>/pulls?state=all&head=<owner>:<branch>&base=<base>`.
pub fn pulls_process(gh: &Gh, branch: &str, base: &str) -> Process {
    let owner = gh.repo.split('/').next().unwrap_or_default();
    gh.api([format!(
        "repos/{}/pulls?state=all&head={owner}:{branch}&base={base}&per_page=100",
        gh.repo
    )])
}

/// The pull requests from `branch` into `base`, newest first.
pub fn find_pulls(gh: &Gh, branch: &str, base: &str) -> Result<Vec<Item>> {
    let p = pulls_process(gh, branch, base);
    let list = get(&p)?.unwrap_or(Json::Null);
    Ok(list.as_array().into_iter().flatten().map(item_of).collect())
}

/// `gh api --include repos/<repo>/pulls/<n>`.
pub fn pull_process(gh: &Gh, n: &str) -> Process {
    gh.api([format!("repos/{}/pulls/{n}", gh.repo)])
}

pub fn pull(gh: &Gh, n: u64) -> Result<Option<Item>> {
    Ok(get(&pull_process(gh, &n.to_string()))?.map(|v| item_of(&v)))
}

/// Issue `n` among those labelled `label` (the contract has no single-issue read: the list is
/// read, `state=all`).
pub fn issue(gh: &Gh, label: &str, n: u64) -> Result<Option<Item>> {
    let p = issues_process(gh, label);
    let list = get(&p)?.unwrap_or(Json::Null);
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .map(item_of)
        .find(|i| i.number == n))
}

/// `gh api --include orgs/<org>/teams/<slug>/members?per_page=100`.
pub fn members_process(gh: &Gh, team: &str) -> Process {
    let (org, slug) = crate::facts::config::split_team(team).unwrap_or(("<org>", "<team>"));
    gh.api([format!("orgs/{org}/teams/{slug}/members?per_page=100")])
}

/// The logins of the members of `org/team` (`None`: no such team).
pub fn members(gh: &Gh, team: &str) -> Result<Option<Vec<String>>> {
    let p = members_process(gh, team);
    Ok(get(&p)?.map(|v| {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u.get("login").and_then(Json::as_str).map(String::from))
            .collect()
    }))
}

/// `gh api --include repos/<repo>` (read-only: the token works and sees the repository).
pub fn repo_process(gh: &Gh) -> Process {
    gh.api([format!("repos/{}", gh.repo)])
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// One request with a JSON body: the body written to `work/<file>`, then `gh api -X <method>
/// <path> --input <file>`, expecting `ok`; the answer's `number` and `html_url` are recorded
/// under `<record>` and `<record>_url` when `record` is given.
/// One `gh api` write: where its body goes and what answers it.
pub struct Write<'a> {
    pub gh: &'a Gh,
    pub work: &'a Path,
    pub file: &'a str,
    pub method: &'a str,
    pub path: String,
    pub ok: u16,
    pub record: Option<&'a str>,
}

pub fn request(w: Write<'_>, body: Json) -> Vec<Sub> {
    let Write {
        gh,
        work,
        file,
        method,
        path,
        ok,
        record,
    } = w;
    let file = work.join(file);
    let p = gh.api([
        "-X".to_string(),
        method.into(),
        path,
        "--input".into(),
        rel(&gh.cwd, &file),
    ]);
    let judged = p.clone();
    let record = record.map(String::from);
    vec![
        Sub::Write {
            path: file,
            content: serde_json::to_string_pretty(&body).unwrap_or_default(),
        },
        Run::new(p)
            .verdict(move |out| {
                let r = github::reply(&judged, out)?;
                if r.status != ok {
                    return Err(github::unexpected(&judged, &r).to_string());
                }
                let n = r.body.get("number").and_then(Json::as_u64);
                let url = r.body.get("html_url").and_then(Json::as_str);
                Ok(match (&record, n, url) {
                    (Some(k), Some(n), Some(u)) => vec![
                        (k.clone(), n.to_string()),
                        (format!("{k}_url"), u.to_string()),
                    ],
                    _ => Vec::new(),
                })
            })
            .sub(),
    ]
}

/// What every dev-release GitHub step knows.
#[derive(Debug, Clone)]
pub struct Dev {
    pub gh: Gh,
    /// Where request bodies are written.
    pub work: PathBuf,
    pub version: Version,
    pub label: String,
    pub branch: String,
    pub base: String,
}

fn value(cx: &RunContext, key: &str) -> Option<String> {
    cx.values.get(key).cloned()
}

// ---------------------------------------------------------------------------------------------
// The tracking issue

#[derive(Debug)]
pub struct OpenIssue {
    pub dev: Dev,
}

impl OpenIssue {
    fn create(&self) -> Vec<Sub> {
        let d = &self.dev;
        request(
            Write {
                gh: &d.gh,
                work: &d.work,
                file: "issue-create.json",
                method: "POST",
                path: format!("repos/{}/issues", d.gh.repo),
                ok: 201,
                record: Some("dev.issue"),
            },
            json!({
                "title": devpr::issue_title(&d.version),
                "body": devpr::issue_body(&d.version, &d.branch),
                "labels": [d.label],
            }),
        )
    }
}

impl Reconcile for OpenIssue {
    type Seen = Option<Item>;
    fn header(&self) -> String {
        format!(
            "open the issue `{}` in {}",
            devpr::issue_title(&self.dev.version),
            self.dev.gh.repo
        )
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "an issue of that title labelled `{}` is reused (open or closed), never opened twice",
            self.dev.label
        ))
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(issues_process(&self.dev.gh, &self.dev.label))],
            apply: self.create(),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<Option<Item>> {
        find_issue(
            &self.dev.gh,
            &self.dev.label,
            &devpr::issue_title(&self.dev.version),
        )
    }
    fn decide(&self, seen: &Option<Item>) -> Result<Decision> {
        match seen {
            Some(i) => Ok(Decision::done(format!(
                "issue #{} ({}) is the release's issue",
                i.number, i.html_url
            ))
            .recording("dev.issue", i.number.to_string())
            .recording("dev.issue_url", i.html_url.clone())),
            None => Ok(Decision::apply(
                self.create(),
                "opened issue #<dev.issue> (<dev.issue_url>)",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The pull request

#[derive(Debug)]
pub struct OpenPr {
    pub dev: Dev,
    /// The changelog section of the version.
    pub section: String,
    /// `registry/image` of the dev image (staging).
    pub image: String,
}

#[derive(Debug)]
pub struct PrSeen {
    pub pulls: Vec<Item>,
    pub issue: String,
}

impl OpenPr {
    fn create(&self, issue: &str) -> Vec<Sub> {
        let d = &self.dev;
        request(
            Write {
                gh: &d.gh,
                work: &d.work,
                file: "pr-create.json",
                method: "POST",
                path: format!("repos/{}/pulls", d.gh.repo),
                ok: 201,
                record: Some("dev.pr"),
            },
            json!({
                "title": devpr::pr_title(&d.version),
                "head": d.branch,
                "base": d.base,
                "body": devpr::pr_body(&d.version, &self.section, issue, &self.image, None),
            }),
        )
    }
}

impl Reconcile for OpenPr {
    type Seen = PrSeen;
    fn header(&self) -> String {
        format!(
            "open the pull request {} → {} for review",
            self.dev.branch, self.dev.base
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "an open PR from the branch is reused; a merged one is refused (release-merged \
             releases it)"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(pulls_process(
                &self.dev.gh,
                &self.dev.branch,
                &self.dev.base,
            ))],
            apply: self.create("<dev.issue>"),
        }
    }
    fn observe(&self, cx: &RunContext) -> Result<PrSeen> {
        Ok(PrSeen {
            pulls: find_pulls(&self.dev.gh, &self.dev.branch, &self.dev.base)?,
            issue: value(cx, "dev.issue").unwrap_or_default(),
        })
    }
    fn decide(&self, seen: &PrSeen) -> Result<Decision> {
        if let Some(m) = seen.pulls.iter().find(|p| p.merged_at.is_some()) {
            bail!(
                "PR #{} from {} was merged already: `cargo xtask release-merged {}` releases it",
                m.number,
                self.dev.branch,
                m.number
            );
        }
        match seen.pulls.iter().find(|p| p.state == "open") {
            Some(p) => Ok(Decision::done(format!(
                "PR #{} ({}) is the release's pull request",
                p.number, p.html_url
            ))
            .recording("dev.pr", p.number.to_string())
            .recording("dev.pr_url", p.html_url.clone())),
            None => Ok(Decision::apply(
                self.create(&seen.issue),
                "opened PR #<dev.pr> (<dev.pr_url>)",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reviewers

#[derive(Debug)]
pub struct Reviewers {
    pub dev: Dev,
    pub reviewers: Vec<String>,
    /// Team slugs (of the repository's organization).
    pub teams: Vec<String>,
}

impl Reviewers {
    fn ask(&self, n: &str, people: &[String], teams: &[String]) -> Vec<Sub> {
        let d = &self.dev;
        request(
            Write {
                gh: &d.gh,
                work: &d.work,
                file: "pr-reviewers.json",
                method: "POST",
                path: format!("repos/{}/pulls/{n}/requested_reviewers", d.gh.repo),
                ok: 201,
                record: None,
            },
            json!({"reviewers": people, "team_reviewers": teams}),
        )
    }
}

impl Reconcile for Reviewers {
    type Seen = Option<Item>;
    fn header(&self) -> String {
        let mut who: Vec<String> = self.reviewers.clone();
        who.extend(self.teams.iter().map(|t| format!("team {t}")));
        if who.is_empty() {
            "ask for review (no reviewer configured)".into()
        } else {
            format!("ask {} to review the PR", who.join(", "))
        }
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(pull_process(&self.dev.gh, "<dev.pr>"))],
            apply: if self.reviewers.is_empty() && self.teams.is_empty() {
                Vec::new()
            } else {
                self.ask("<dev.pr>", &self.reviewers, &self.teams)
            },
        }
    }
    fn observe(&self, cx: &RunContext) -> Result<Option<Item>> {
        match value(cx, "dev.pr").and_then(|n| n.parse().ok()) {
            Some(n) => pull(&self.dev.gh, n),
            None => Ok(None),
        }
    }
    fn decide(&self, seen: &Option<Item>) -> Result<Decision> {
        let Some(pr) = seen else {
            bail!("no pull request recorded by the step before");
        };
        let people: Vec<String> = self
            .reviewers
            .iter()
            .filter(|r| !pr.reviewers.iter().any(|x| x.eq_ignore_ascii_case(r)))
            .cloned()
            .collect();
        let teams: Vec<String> = self
            .teams
            .iter()
            .filter(|t| !pr.teams.iter().any(|x| x.eq_ignore_ascii_case(t)))
            .cloned()
            .collect();
        if people.is_empty() && teams.is_empty() {
            return Ok(Decision::done(
                if self.reviewers.is_empty() && self.teams.is_empty() {
                    "no reviewer configured ([workspace.metadata.release.review] reviewer/team, or --reviewer)".to_string()
                } else {
                    format!("PR #{} already asks them to review", pr.number)
                },
            ));
        }
        Ok(Decision::apply(
            self.ask(&pr.number.to_string(), &people, &teams),
            format!(
                "asked {} to review PR #{}",
                people
                    .iter()
                    .cloned()
                    .chain(teams.iter().map(|t| format!("team {t}")))
                    .collect::<Vec<_>>()
                    .join(", "),
                pr.number
            ),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Assignees

#[derive(Debug)]
pub struct Assignees {
    pub dev: Dev,
    /// `--assignee`, else none.
    pub people: Vec<String>,
    /// `org/team`: its members are assigned (read when the step runs).
    pub team: Option<String>,
}

#[derive(Debug)]
pub struct AssigneesSeen {
    pub issue: Option<Item>,
    pub wanted: Vec<String>,
}

impl Assignees {
    fn assign(&self, n: &str, who: &[String]) -> Vec<Sub> {
        let d = &self.dev;
        request(
            Write {
                gh: &d.gh,
                work: &d.work,
                file: "issue-assignees.json",
                method: "POST",
                path: format!("repos/{}/issues/{n}/assignees", d.gh.repo),
                ok: 201,
                record: None,
            },
            json!({ "assignees": who }),
        )
    }
}

impl Reconcile for Assignees {
    type Seen = AssigneesSeen;
    fn header(&self) -> String {
        match (&self.team, self.people.is_empty()) {
            (_, false) => format!("assign {} to the issue", self.people.join(", ")),
            (Some(t), true) => format!("assign the members of team {t} to the issue"),
            (None, true) => "assign the issue (nobody configured)".into(),
        }
    }
    fn planned(&self) -> Planned {
        let mut observe = vec![Sub::run(issues_process(&self.dev.gh, &self.dev.label))];
        if let (Some(t), true) = (&self.team, self.people.is_empty()) {
            observe.push(Sub::run(members_process(&self.dev.gh, t)));
        }
        let who = if self.people.is_empty() && self.team.is_some() {
            vec!["<member>…".to_string()]
        } else {
            self.people.clone()
        };
        Planned {
            observe,
            apply: if who.is_empty() {
                Vec::new()
            } else {
                self.assign("<dev.issue>", &who)
            },
        }
    }
    fn observe(&self, cx: &RunContext) -> Result<AssigneesSeen> {
        let wanted = match (&self.team, self.people.is_empty()) {
            (Some(t), true) => members(&self.dev.gh, t)?.unwrap_or_default(),
            _ => self.people.clone(),
        };
        let issue = match value(cx, "dev.issue").and_then(|n| n.parse().ok()) {
            Some(n) => issue(&self.dev.gh, &self.dev.label, n)?,
            None => None,
        };
        Ok(AssigneesSeen { issue, wanted })
    }
    fn decide(&self, seen: &AssigneesSeen) -> Result<Decision> {
        let Some(i) = &seen.issue else {
            bail!("no issue recorded by the step before");
        };
        let missing: Vec<String> = seen
            .wanted
            .iter()
            .filter(|w| !i.assignees.iter().any(|a| a.eq_ignore_ascii_case(w)))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(Decision::done(if seen.wanted.is_empty() {
                "nobody to assign (no --assignee, no review team, or the team has no members)"
                    .to_string()
            } else {
                format!(
                    "issue #{} is assigned to {}",
                    i.number,
                    seen.wanted.join(", ")
                )
            }));
        }
        Ok(Decision::apply(
            self.assign(&i.number.to_string(), &missing),
            format!("assigned {} to issue #{}", missing.join(", "), i.number),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The digest in the PR body

#[derive(Debug)]
pub struct RecordDigest {
    pub dev: Dev,
}

#[derive(Debug)]
pub struct DigestSeen {
    pub pr: Option<Item>,
    pub digest: Option<String>,
}

impl RecordDigest {
    fn patch(&self, n: &str, body: String) -> Vec<Sub> {
        let d = &self.dev;
        request(
            Write {
                gh: &d.gh,
                work: &d.work,
                file: "pr-digest.json",
                method: "PATCH",
                path: format!("repos/{}/pulls/{n}", d.gh.repo),
                ok: 200,
                record: None,
            },
            json!({ "body": body }),
        )
    }
}

impl Reconcile for RecordDigest {
    type Seen = DigestSeen;
    fn header(&self) -> String {
        format!(
            "record the digest of dev-{} in the PR body",
            self.dev.version
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "the line `<!-- slipway:dev-digest sha256:… -->` is what release-merged compares"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(pull_process(&self.dev.gh, "<dev.pr>"))],
            apply: self.patch("<dev.pr>", "<body with <dev.digest>>".into()),
        }
    }
    fn observe(&self, cx: &RunContext) -> Result<DigestSeen> {
        let pr = match value(cx, "dev.pr").and_then(|n| n.parse().ok()) {
            Some(n) => pull(&self.dev.gh, n)?,
            None => None,
        };
        Ok(DigestSeen {
            pr,
            digest: value(cx, "dev.digest"),
        })
    }
    fn decide(&self, seen: &DigestSeen) -> Result<Decision> {
        let (Some(pr), Some(digest)) = (&seen.pr, &seen.digest) else {
            bail!("no pull request or digest recorded by the steps before");
        };
        if devpr::recorded_digest(&pr.body).as_deref() == Some(digest.as_str()) {
            return Ok(Decision::done(format!(
                "PR #{} records {digest}",
                pr.number
            )));
        }
        Ok(Decision::apply(
            self.patch(&pr.number.to_string(), devpr::with_digest(&pr.body, digest)),
            format!("recorded {digest} in PR #{}", pr.number),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The label (last: a labelled PR always records its digest)

#[derive(Debug)]
pub struct Label {
    pub dev: Dev,
}

impl Label {
    fn add(&self, n: &str) -> Vec<Sub> {
        let d = &self.dev;
        request(
            Write {
                gh: &d.gh,
                work: &d.work,
                file: "pr-label.json",
                method: "POST",
                path: format!("repos/{}/issues/{n}/labels", d.gh.repo),
                ok: 200,
                record: None,
            },
            json!({ "labels": [d.label] }),
        )
    }
}

impl Reconcile for Label {
    type Seen = Option<Item>;
    fn header(&self) -> String {
        format!("label the PR `{}`", self.dev.label)
    }
    fn rule(&self) -> Option<String> {
        Some("last, once the digest is recorded: merging a PR with the label releases it".into())
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(pull_process(&self.dev.gh, "<dev.pr>"))],
            apply: self.add("<dev.pr>"),
        }
    }
    fn observe(&self, cx: &RunContext) -> Result<Option<Item>> {
        match value(cx, "dev.pr").and_then(|n| n.parse().ok()) {
            Some(n) => pull(&self.dev.gh, n),
            None => Ok(None),
        }
    }
    fn decide(&self, seen: &Option<Item>) -> Result<Decision> {
        let Some(pr) = seen else {
            bail!("no pull request recorded by the step before");
        };
        if pr
            .labels
            .iter()
            .any(|l| l.eq_ignore_ascii_case(&self.dev.label))
        {
            return Ok(Decision::done(format!(
                "PR #{} ({}) is labelled `{}`",
                pr.number, pr.html_url, self.dev.label
            )));
        }
        Ok(Decision::apply(
            self.add(&pr.number.to_string()),
            format!("labelled PR #{} `{}`", pr.number, self.dev.label),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Closing the issue (release-merged)

#[derive(Debug)]
pub struct CloseIssue {
    pub gh: Gh,
    pub work: PathBuf,
    /// The label dev-release opened the issue with (how it is found).
    pub label: String,
    pub issue: u64,
    pub comment: String,
}

impl CloseIssue {
    fn close(&self) -> Vec<Sub> {
        let mut subs = request(
            Write {
                gh: &self.gh,
                work: &self.work,
                file: "issue-comment.json",
                method: "POST",
                path: format!("repos/{}/issues/{}/comments", self.gh.repo, self.issue),
                ok: 201,
                record: None,
            },
            json!({ "body": self.comment }),
        );
        subs.extend(request(
            Write {
                gh: &self.gh,
                work: &self.work,
                file: "issue-close.json",
                method: "PATCH",
                path: format!("repos/{}/issues/{}", self.gh.repo, self.issue),
                ok: 200,
                record: None,
            },
            json!({ "state": "closed", "state_reason": "completed" }),
        ));
        subs
    }
}

impl Reconcile for CloseIssue {
    type Seen = Option<Item>;
    fn header(&self) -> String {
        format!(
            "close issue #{} with a comment linking the release",
            self.issue
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(issues_process(&self.gh, &self.label))],
            apply: self.close(),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<Option<Item>> {
        issue(&self.gh, &self.label, self.issue)
    }
    fn decide(&self, seen: &Option<Item>) -> Result<Decision> {
        match seen {
            None => bail!("issue #{} does not exist in {}", self.issue, self.gh.repo),
            Some(i) if i.state == "closed" => {
                Ok(Decision::done(format!("issue #{} is closed", i.number)))
            }
            Some(i) => Ok(Decision::apply(
                self.close(),
                format!("commented on and closed issue #{}", i.number),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Dev {
        Dev {
            gh: Gh {
                repo: "acme/app".into(),
                env: Vec::new(),
                cwd: PathBuf::from("/r"),
            },
            work: PathBuf::from("/r/target/slipway/dev-release"),
            version: Version::new(1, 3, 0),
            label: "automated-release".into(),
            branch: "release/v1.3.0".into(),
            base: "main".into(),
        }
    }

    fn pr(labels: &[&str], reviewers: &[&str], teams: &[&str]) -> Item {
        Item {
            number: 4,
            state: "open".into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            reviewers: reviewers.iter().map(|s| s.to_string()).collect(),
            teams: teams.iter().map(|s| s.to_string()).collect(),
            is_pull: true,
            ..Item::default()
        }
    }

    #[test]
    fn what_is_present_is_not_asked_for_again() {
        let l = Label { dev: dev() };
        assert!(l
            .decide(&Some(pr(&["automated-release"], &[], &[])))
            .unwrap()
            .subs()
            .is_empty());
        assert_eq!(l.decide(&Some(pr(&[], &[], &[]))).unwrap().subs().len(), 2);
        let r = Reviewers {
            dev: dev(),
            reviewers: vec!["octocat".into()],
            teams: vec!["core".into()],
        };
        assert!(r
            .decide(&Some(pr(&[], &["octocat"], &["core"])))
            .unwrap()
            .subs()
            .is_empty());
        assert_eq!(
            r.decide(&Some(pr(&[], &["octocat"], &[])))
                .unwrap()
                .subs()
                .len(),
            2
        );
        let o = OpenPr {
            dev: dev(),
            section: String::new(),
            image: "r/acme/app".into(),
        };
        let mut merged = pr(&[], &[], &[]);
        merged.merged_at = Some("2026-12-01T00:00:00Z".into());
        merged.state = "closed".into();
        let e = o
            .decide(&PrSeen {
                pulls: vec![merged],
                issue: "1".into(),
            })
            .unwrap_err();
        assert!(e.to_string().contains("release-merged 4"), "{e}");
        let d = o
            .decide(&PrSeen {
                pulls: vec![pr(&[], &[], &[])],
                issue: "1".into(),
            })
            .unwrap();
        assert!(
            matches!(&d, Decision::Done { record, .. } if record[0] == ("dev.pr".to_string(), "4".to_string()))
        );
    }
}
