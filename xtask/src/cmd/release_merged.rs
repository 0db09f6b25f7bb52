//! `cargo xtask release-merged <pr-number>`: the reviewed release, second half (what
//! `release_dev_image.yml` runs when a pull request is merged).
//!
//! 1. Gather, refusing before anything is changed: the PR is merged, carries the label, comes
//!    from a release branch (`release/vX.Y.Z`) whose version is not released by another tag,
//!    and records the digest of its dev image — which `dev-X.Y.Z` in the staging registry
//!    still holds (the digest reviewed is the digest released).
//! 2. Plan, every step reading first so a re-run finishes what is missing:
//!    the merge commit tagged (annotated, pushed); that digest promoted to the production
//!    registries with the release tags (`promote --digest`, no rebuild); the Python package
//!    and the GitHub release published (`publish-prod --only pypi,github` in a worktree at the
//!    tag, the review as its gate); the release verified (`verify`); the issue closed with a
//!    comment linking the release. The configured channels are told of the outcome (success
//!    included).

use std::path::PathBuf;

use anyhow::{bail, Result};
use semver::Version;
use serde_json::{json, Value as Json};

use crate::cmd::Global;
use crate::core::{devpr, dockertags, version};
use crate::facts::config::{self, Config};
use crate::facts::git;
use crate::run::plan::{Decision, Plan, Planned, Process, Reconcile, Run, RunContext, Step, Sub};
use crate::run::ui::{self, Style, Ui};
use crate::targets::docker::calls::Endpoint;
use crate::targets::docker::registry::Repo;
use crate::targets::docker::{credentials_from_env, registry_credentials};
use crate::targets::github::{self, Gh};
use crate::targets::github_dev::{self as dev, Item};
use crate::targets::github_pr;
use crate::Problems;

#[derive(Debug, Default, Clone)]
pub struct Options {
    pub number: u64,
    pub dry_run: bool,
    pub json: bool,
}

pub struct Prepared {
    pub cfg: Config,
    pub pr: Item,
    pub version: Version,
    pub tag: String,
    pub digest: String,
    pub issue: Option<u64>,
    pub plan: Plan,
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let cfg = config::load_or_refuse(&root, "release-merged")?;
    crate::targets::notices::begin("release-merged", &cfg, o.dry_run);
    crate::targets::notices::also_on_success();
    let p = prepare(&cfg, o, &github::process_gh_env())?;
    crate::targets::notices::release("", &p.version.to_string(), &p.tag);
    let title = format!(
        "release-merged PR #{}: {} from {}",
        p.pr.number, p.tag, p.digest
    );
    if o.dry_run {
        if o.json {
            ui::print_json(&result_json(&p, true, None));
            return Ok(0);
        }
        ui.heading(&format!("{title} — dry run, nothing will be changed"));
        p.plan.render(ui, &p.cfg.root);
        return Ok(0);
    }
    ui.heading(&title);
    let outcome = crate::run::exec::execute(&p.plan, ui, &p.cfg.root)?;
    crate::targets::notices::published(vec![
        format!("image {} (promoted)", p.digest),
        "python package".into(),
        format!("GitHub release {}", p.tag),
    ]);
    if o.json {
        ui::print_json(&result_json(&p, false, Some(&outcome)));
    }
    ui.line(&format!(
        "{} released {} (PR #{}, image {})",
        ui.paint(Style::Green, "done:"),
        p.tag,
        p.pr.number,
        p.digest
    ));
    Ok(0)
}

fn result_json(p: &Prepared, dry_run: bool, outcome: Option<&crate::run::exec::Outcome>) -> Json {
    json!({
        "dry_run": dry_run,
        "pr": {
            "number": p.pr.number,
            "url": p.pr.html_url,
            "head": p.pr.head,
            "merge_commit_sha": p.pr.merge_sha,
            "labels": p.pr.labels,
        },
        "version": p.version.to_string(),
        "tag": p.tag,
        "digest": p.digest,
        "issue": p.issue,
        "steps": p.plan.to_json(&p.cfg.root),
        "executed": outcome.map(|o| o.executed.clone()),
        "done": outcome.map(|o| o.done.iter().map(|d| match d {
            crate::run::plan::Done::Ran(w) => json!({"ran": w}),
            crate::run::plan::Done::Skipped(w) => json!({"skipped": w}),
        }).collect::<Vec<_>>()),
    })
}

fn endpoint(registry: &str, image: &str) -> Endpoint {
    let repo = Repo::parse(&format!("{}/{image}", registry.trim_end_matches('/')));
    let mut scratch = Problems::default();
    let creds = registry_credentials(&repo.registry, &credentials_from_env(&mut scratch));
    Endpoint::new(repo, creds)
}

/// Gathers (read-only) and plans; refuses, every problem at once, unless the PR is merged,
/// labelled and its recorded digest is what staging holds.
pub fn prepare(cfg: &Config, o: &Options, gh_env: &[(String, String)]) -> Result<Prepared> {
    let mut problems = Problems::default();
    let review = cfg.review.clone();
    let gh = match Gh::resolve(cfg, gh_env) {
        Ok(gh) => gh,
        Err(list) => {
            list.into_iter().for_each(|m| problems.failure(m));
            problems.check("release-merged")?;
            unreachable!("problems were listed");
        }
    };
    let Some(docker) = cfg.docker.clone() else {
        problems.invalid(format!(
            "{} has no [workspace.metadata.release.docker] table: release-merged promotes the dev image",
            config::FILE
        ));
        return problems.check("release-merged").map(|()| unreachable!());
    };
    let Some(staging) = docker.staging_registry.clone() else {
        problems.invalid(
            "release-merged promotes from the staging registry: set `staging-registry` in \
             [workspace.metadata.release.docker]",
        );
        return problems.check("release-merged").map(|()| unreachable!());
    };
    let Some(pr) = dev::pull(&gh, o.number)? else {
        problems.invalid(format!(
            "there is no pull request #{} in {}",
            o.number, gh.repo
        ));
        return problems.check("release-merged").map(|()| unreachable!());
    };
    let merged = pr.merged_at.is_some() && pr.merge_sha.is_some();
    if !merged {
        problems.failure(format!(
            "PR #{} is not merged ({}): nothing is released before the review ends in a merge",
            pr.number, pr.state
        ));
    }
    if !pr
        .labels
        .iter()
        .any(|l| l.eq_ignore_ascii_case(&review.label))
    {
        problems.failure(format!(
            "PR #{} is not labelled `{}`: nothing released (dev-release labels its PRs; label it \
             and run again to release it)",
            pr.number, review.label
        ));
    }
    let version = devpr::branch_version(&review.branch_prefix, &pr.head);
    if version.is_none() {
        problems.failure(format!(
            "PR #{} comes from `{}`, not a release branch `{}X.Y.Z` (key `branch-prefix`)",
            pr.number, pr.head, review.branch_prefix
        ));
    }
    let recorded = devpr::recorded_digest(&pr.body);
    if recorded.is_none() {
        problems.failure(format!(
            "PR #{} records no dev image digest (`<!-- slipway:dev-digest sha256:… -->`): \
             `cargo xtask dev-release` records it; run it again",
            pr.number
        ));
    }
    let at = endpoint(&staging, &docker.image);
    if let (Some(v), Some(d)) = (&version, &recorded) {
        match crate::cmd::dev_release::dev_digest(&at, v) {
            Ok(Some(now)) if now == *d => {}
            Ok(Some(now)) => problems.failure(format!(
                "{}:{} holds {now}, but PR #{} was reviewed with {d}: the digest reviewed is the \
                 digest released — refusing (push the reviewed image back, or review the new one \
                 in a new PR)",
                at.name(),
                dockertags::dev_tag(v).tag,
                pr.number
            )),
            Ok(None) => problems.failure(format!(
                "{}:{} does not exist: the reviewed image is gone from staging",
                at.name(),
                dockertags::dev_tag(v).tag
            )),
            Err(e) => problems.failure(format!(
                "the staging registry {} cannot be read: {e:#}",
                at.repo.registry
            )),
        }
    }
    problems.check("release-merged")?;
    let (Some(version), Some(digest)) = (version, recorded) else {
        bail!("release-merged: checks passed without their facts");
    };
    let tag = version::git_tag(&cfg.tag_prefix, &version);
    let sha = pr.merge_sha.clone().unwrap_or_default();
    let issue = devpr::recorded_issue(&pr.body);
    let work = cfg.root.join("target/slipway/release-merged");
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find this program's path: {e}"))?;
    let production: Vec<Endpoint> = docker
        .registries
        .iter()
        .map(|r| endpoint(r, &docker.image))
        .collect();
    let mut plan = Plan::default();
    plan.push(Step::Action(Box::new(TagMerge {
        root: cfg.root.clone(),
        remote: cfg.remote.clone(),
        base: cfg.branch.clone(),
        tag: tag.clone(),
        sha: sha.clone(),
        pr: pr.number,
    })));
    plan.push(Step::Action(Box::new(PromoteReviewed {
        root: cfg.root.clone(),
        exe: exe.clone(),
        version: version.clone(),
        exact: dockertags::exact_tag(&cfg.tag_prefix, &version),
        digest: digest.clone(),
        to: production,
    })));
    plan.push(Step::Action(Box::new(PublishReviewed {
        gh: gh.clone(),
        root: cfg.root.clone(),
        exe: exe.clone(),
        worktree: work.join("publish"),
        tag: tag.clone(),
        reviewed: format!("PR #{} ({})", pr.number, pr.html_url),
    })));
    plan.push(Step::Action(Box::new(VerifyReleased {
        root: cfg.root.clone(),
        exe,
        version: version.clone(),
        worktree: work.join("publish"),
    })));
    if let Some(n) = issue {
        let release_url = format!("https://github.com/{}/releases/tag/{tag}", gh.repo);
        plan.push(Step::Action(Box::new(dev::CloseIssue {
            gh: gh.clone(),
            work: work.clone(),
            label: review.label.clone(),
            issue: n,
            comment: devpr::close_comment(&version, pr.number, &release_url, &digest),
        })));
    }
    Ok(Prepared {
        cfg: cfg.clone(),
        pr,
        version,
        tag,
        digest,
        issue,
        plan,
    })
}

// ---------------------------------------------------------------------------------------------
// 1. Tag the merge commit

#[derive(Debug)]
pub struct TagMerge {
    pub root: PathBuf,
    pub remote: String,
    pub base: String,
    pub tag: String,
    pub sha: String,
    pub pr: u64,
}

#[derive(Debug)]
pub struct TagSeen {
    pub on_remote: Option<String>,
    pub local: Option<String>,
    pub have_commit: bool,
}

impl TagMerge {
    fn subs(&self, fetch: bool, tag_it: bool) -> Vec<Sub> {
        crate::cmd::tag_and_push(
            &self.root,
            &self.remote,
            &self.base,
            &self.sha,
            &self.tag,
            fetch,
            tag_it,
        )
    }
}

impl Reconcile for TagMerge {
    type Seen = TagSeen;
    fn header(&self) -> String {
        format!(
            "tag the merge of PR #{} ({}) as {} and push it",
            self.pr,
            &self.sha[..self.sha.len().min(12)],
            self.tag
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "an annotated tag; present on the remote: done; a tag naming another commit is refused"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(git::git_in(&self.root)(&[
                "ls-remote",
                "--quiet",
                &self.remote,
                &format!("refs/tags/{}", self.tag),
            ]))],
            apply: self.subs(true, true),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<TagSeen> {
        let tag_ref = format!("refs/tags/{}", self.tag);
        let peeled = format!("{tag_ref}^{{}}");
        let remote = git::ls_remote(&self.root, &self.remote, &[tag_ref.clone(), peeled.clone()])?;
        let on_remote = remote
            .iter()
            .find(|(r, _)| *r == peeled)
            .or_else(|| remote.iter().find(|(r, _)| *r == tag_ref))
            .map(|(_, s)| s.clone());
        let local = git::local_tag_commit(&self.root, &self.tag)?;
        let have_commit = git::has_commit(&self.root, &self.sha)?;
        Ok(TagSeen {
            on_remote,
            local,
            have_commit,
        })
    }
    fn decide(&self, seen: &TagSeen) -> Result<Decision> {
        let tag = &self.tag;
        match (&seen.on_remote, &seen.local) {
            (Some(c), _) if *c == self.sha => Ok(Decision::done(format!(
                "{tag} names the merge commit on `{}`",
                self.remote
            ))),
            (Some(c), _) => bail!(
                "{tag} on `{}` names {c}, not the merge of PR #{} ({}): it was released from \
                 another commit; nothing more to do here",
                self.remote,
                self.pr,
                self.sha
            ),
            (None, Some(c)) if *c != self.sha => bail!(
                "the local tag {tag} names {c}, but PR #{} was merged as {}: delete the local \
                 tag (`git tag -d {tag}`) and run again",
                self.pr,
                self.sha
            ),
            (None, Some(_)) => Ok(Decision::apply(
                self.subs(false, false),
                format!("pushed {tag}"),
            )),
            (None, None) => Ok(Decision::apply(
                self.subs(!seen.have_commit, true),
                format!(
                    "tagged {} (the merge of PR #{}) as {tag} and pushed it",
                    &self.sha[..self.sha.len().min(12)],
                    self.pr
                ),
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Promote the reviewed digest

#[derive(Debug)]
pub struct PromoteReviewed {
    pub root: PathBuf,
    pub exe: PathBuf,
    pub version: Version,
    /// The exact tag (`v1.3.0`) every production registry gets.
    pub exact: String,
    pub digest: String,
    pub to: Vec<Endpoint>,
}

impl PromoteReviewed {
    fn subs(&self) -> Vec<Sub> {
        vec![Sub::run(
            Process::new(&self.exe.display().to_string(), &self.root).args([
                "promote",
                &self.version.to_string(),
                "--digest",
                &self.digest,
            ]),
        )]
    }
}

impl Reconcile for PromoteReviewed {
    type Seen = Vec<(String, Option<String>)>;
    fn header(&self) -> String {
        format!(
            "promote {} to {} with the release tags (no rebuild)",
            self.digest,
            self.to
                .iter()
                .map(Endpoint::name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "every production registry's {} holding this digest: done; else `promote --digest` (its own steps skip what is there)",
            self.exact
        ))
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: self
                .to
                .iter()
                .map(|e| {
                    Sub::Http(crate::run::plan::Request {
                        method: "HEAD".into(),
                        url: e.url(&format!("manifests/{}", self.exact)),
                        headers: Vec::new(),
                        body: None,
                        service: format!("registry {}", e.repo.registry),
                    })
                })
                .collect(),
            apply: self.subs(),
        }
    }
    fn rounds(&self) -> usize {
        1
    }
    fn observe(&self, _cx: &RunContext) -> Result<Self::Seen> {
        let mut out = Vec::new();
        for e in &self.to {
            let mut c = e.client();
            out.push((
                e.name(),
                c.manifest(&e.repo.path, &self.exact)?.map(|m| m.digest),
            ));
        }
        Ok(out)
    }
    fn decide(&self, seen: &Self::Seen) -> Result<Decision> {
        if !seen.is_empty()
            && seen
                .iter()
                .all(|(_, d)| d.as_deref() == Some(self.digest.as_str()))
        {
            return Ok(Decision::done(format!(
                "{} holds {} on every production registry",
                self.exact, self.digest
            )));
        }
        Ok(Decision::apply(
            self.subs(),
            format!("promoted {} as {}", self.digest, self.exact),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Publish the package and the GitHub release

#[derive(Debug)]
pub struct PublishReviewed {
    pub gh: Gh,
    pub root: PathBuf,
    pub exe: PathBuf,
    pub worktree: PathBuf,
    pub tag: String,
    /// What was reviewed (`PR #12 (url)`), passed to publish-prod as its gate.
    pub reviewed: String,
}

impl PublishReviewed {
    fn subs(&self) -> Vec<Sub> {
        let git = git::git_in(&self.root);
        let wt = self.worktree.display().to_string();
        vec![
            Run::new(git(&["worktree", "remove", "--force", &wt]))
                .tolerated()
                .sub(),
            Sub::run(git(&["worktree", "prune"])),
            Sub::run(git(&[
                "worktree", "add", "--quiet", "--detach", "--force", &wt, &self.tag,
            ])),
            Sub::run(
                Process::new(&self.exe.display().to_string(), &self.root).args([
                    "-C",
                    wt.as_str(),
                    "publish-prod",
                    "--only",
                    "pypi,github",
                    "--reviewed",
                    &self.reviewed,
                ]),
            ),
        ]
    }
}

impl Reconcile for PublishReviewed {
    type Seen = bool;
    fn header(&self) -> String {
        format!(
            "publish the Python package and the GitHub release of {} (publish-prod --only pypi,github)",
            self.tag
        )
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "the GitHub release present with its {}: done; the review of the merge is the gate (no CI check)",
            github::SUMS
        ))
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(github_pr::release_process(&self.gh, &self.tag))],
            apply: self.subs(),
        }
    }
    fn rounds(&self) -> usize {
        1
    }
    fn observe(&self, _cx: &RunContext) -> Result<bool> {
        Ok(github_pr::release(&self.gh, &self.tag)?.is_some_and(|r| {
            r.get("draft").and_then(Json::as_bool) == Some(false)
                && r.get("assets")
                    .and_then(Json::as_array)
                    .is_some_and(|a| a.iter().any(|a| a["name"] == github::SUMS))
        }))
    }
    fn decide(&self, complete: &bool) -> Result<Decision> {
        if *complete {
            return Ok(Decision::done(format!(
                "the GitHub release of {} exists with its {}: the publish completed",
                self.tag,
                github::SUMS
            )));
        }
        Ok(Decision::apply(
            self.subs(),
            format!("published {} with publish-prod", self.tag),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Verify

#[derive(Debug)]
pub struct VerifyReleased {
    pub root: PathBuf,
    pub exe: PathBuf,
    pub version: Version,
    /// The publish worktree: its dists are what the GitHub release is compared with.
    pub worktree: PathBuf,
}

impl VerifyReleased {
    fn sums(&self) -> PathBuf {
        self.worktree
            .join("target/slipway/dist")
            .join(crate::core::version::pep440(&self.version))
            .join(github::SUMS)
    }
    /// With the publish's worktree: everything; then publish-prod's reports are kept (copied
    /// to the checkout's `target/slipway/reports/`) and the worktree goes.
    fn full(&self) -> Vec<Sub> {
        let wt = self.worktree.display().to_string();
        let reports = self.root.join("target/slipway/reports");
        vec![
            Sub::run(
                Process::new(&self.exe.display().to_string(), &self.root).args([
                    "-C",
                    wt.as_str(),
                    "verify",
                    &self.version.to_string(),
                ]),
            ),
            Sub::Dir(reports.clone()),
            Run::new(
                Process::new("cp", &self.root).args([
                    "-R".to_string(),
                    self.worktree
                        .join("target/slipway/reports/.")
                        .display()
                        .to_string(),
                    reports.display().to_string(),
                ]),
            )
            .tolerated()
            .sub(),
            Sub::run(git::git_in(&self.root)(&[
                "worktree", "remove", "--force", &wt,
            ])),
        ]
    }
    /// Without it (a re-run after the publish completed and its worktree went): the images and
    /// the index; the GitHub release was verified by the publish-prod that made it.
    fn partial(&self) -> Vec<Sub> {
        vec![Sub::run(
            Process::new(&self.exe.display().to_string(), &self.root).args([
                "verify",
                &self.version.to_string(),
                "--only",
                "docker,pypi",
            ]),
        )]
    }
}

impl Reconcile for VerifyReleased {
    type Seen = bool;
    fn header(&self) -> String {
        format!(
            "verify {}: every registry tag and digest, the package index, the GitHub release",
            self.version
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "in the publish worktree (its dists); when an earlier run removed it, docker and pypi              (the GitHub release was verified by the publish that made it)"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        let mut apply = self.full();
        apply.extend(self.partial());
        Planned {
            observe: Vec::new(),
            apply,
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<bool> {
        Ok(self.sums().is_file())
    }
    fn decide(&self, with_dists: &bool) -> Result<Decision> {
        Ok(if *with_dists {
            Decision::finish(self.full(), format!("verified {}", self.version))
        } else {
            Decision::finish(
                self.partial(),
                format!(
                    "verified {} on the registries and the index (the GitHub release was verified \
                     when it was published)",
                    self.version
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(d: &Decision) -> Vec<String> {
        d.subs()
            .iter()
            .flat_map(|s| crate::run::plan::sub_lines(s, std::path::Path::new("/r")))
            .collect()
    }

    fn tagger() -> TagMerge {
        TagMerge {
            root: PathBuf::from("/r"),
            remote: "origin".into(),
            base: "main".into(),
            tag: "v1.3.0".into(),
            sha: "abc123".into(),
            pr: 7,
        }
    }

    fn seen(on_remote: Option<&str>, local: Option<&str>, have_commit: bool) -> TagSeen {
        TagSeen {
            on_remote: on_remote.map(String::from),
            local: local.map(String::from),
            have_commit,
        }
    }

    #[test]
    fn the_merge_commit_is_tagged_once_whatever_an_earlier_run_left() {
        let t = tagger();
        assert_eq!(
            lines(&t.decide(&seen(None, None, true)).unwrap()),
            [
                "$ git tag -a v1.3.0 -m 'Release v1.3.0' abc123",
                "$ git push --quiet origin refs/tags/v1.3.0"
            ]
        );
        // The merge commit not fetched yet: fetched first.
        assert_eq!(
            lines(&t.decide(&seen(None, None, false)).unwrap())[0],
            "$ git fetch --quiet origin main"
        );
        // Tagged by a run whose push failed: only the push.
        assert_eq!(
            lines(&t.decide(&seen(None, Some("abc123"), true)).unwrap()),
            ["$ git push --quiet origin refs/tags/v1.3.0"]
        );
        assert!(t
            .decide(&seen(Some("abc123"), Some("abc123"), true))
            .unwrap()
            .subs()
            .is_empty());
        let e = t.decide(&seen(Some("def456"), None, true)).unwrap_err();
        assert!(e.to_string().contains("names def456"), "{e}");
        let e = t.decide(&seen(None, Some("def456"), true)).unwrap_err();
        assert!(e.to_string().contains("`git tag -d v1.3.0`"), "{e}");
    }

    #[test]
    fn the_reviewed_digest_is_promoted_unless_every_registry_holds_it() {
        let d = format!("sha256:{}", "a".repeat(64));
        let p = PromoteReviewed {
            root: PathBuf::from("/r"),
            exe: PathBuf::from("/bin/xtask"),
            version: Version::new(1, 3, 0),
            exact: "v1.3.0".into(),
            digest: d.clone(),
            to: Vec::new(),
        };
        let promote = format!("$ /bin/xtask promote 1.3.0 --digest {d}");
        let held = |x: Option<&str>| vec![("r1".to_string(), x.map(String::from))];
        assert_eq!(
            lines(&p.decide(&held(None)).unwrap()),
            std::slice::from_ref(&promote)
        );
        assert_eq!(
            lines(&p.decide(&held(Some("sha256:other"))).unwrap()),
            [promote]
        );
        assert!(p.decide(&held(Some(&d))).unwrap().subs().is_empty());
    }

    #[test]
    fn verify_runs_against_the_dists_when_they_are_there() {
        let v = VerifyReleased {
            root: PathBuf::from("/r"),
            exe: PathBuf::from("/bin/xtask"),
            version: Version::new(1, 3, 0),
            worktree: PathBuf::from("/r/target/slipway/release-merged/publish"),
        };
        let full = lines(&v.decide(&true).unwrap());
        assert_eq!(
            full[0],
            "$ /bin/xtask -C /r/target/slipway/release-merged/publish verify 1.3.0"
        );
        assert!(full.last().unwrap().contains("worktree remove --force"));
        assert_eq!(
            lines(&v.decide(&false).unwrap()),
            ["$ /bin/xtask verify 1.3.0 --only docker,pypi"]
        );
    }
}
