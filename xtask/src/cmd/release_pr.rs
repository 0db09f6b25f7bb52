//! `cargo xtask release-pr`: the self-healing release pull request (what `release-pr.yml` runs
//! after every push to the main branch).
//!
//! Every run recomputes the state from git and GitHub — never from labels, so a failed run
//! never blocks the next one:
//!
//! 1. the newest merged release PR (`chore(release): X.Y.Z` from `slipway/release`) whose
//!    version has no tag yet: its merge commit is tagged (annotated `vX.Y.Z`) and the tag pushed;
//! 2. that release is published by `publish-prod` (in a worktree at the tag) unless its GitHub
//!    release — the last thing `publish-prod` publishes — exists with its `SHA256SUMS`; so a
//!    publish that failed after the merge is finished by the next run;
//! 3. releasable commits since the last release tag (Conventional Commits): `slipway/release` is
//!    force-pushed as the main branch plus one commit, the one `bump-version auto
//!    --generate-changelog --no-tag` makes (made in a worktree: the checkout is not touched);
//! 4. the one open release PR is created or updated (title, body = the changelog section); with
//!    nothing releasable every open one is commented on and closed;
//! 5. with nothing releasable the branch is deleted.
//!
//! Each step is a `Reconcile` (observe → pure decide → typed sub-steps); `--dry-run` lists them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use semver::Version;
use serde_json::{json, Value as Json};

use crate::cmd::publish::Target;
use crate::cmd::Global;
use crate::core::{changegen, changelog::Changelog, version};
use crate::facts::config::{self, Config};
use crate::facts::{commits, git, history, managed};
use crate::run::plan::{Decision, Plan, Planned, Process, Reconcile, Run, RunContext, Step, Sub};
use crate::run::ui::{self, Style, Ui};
use crate::targets::github::{self, Gh};
use crate::targets::github_pr::{self, Compute, Pr, Releasable, SyncPr, Wanted, BRANCH};
use crate::Problems;

#[derive(Debug, Default, Clone)]
pub struct Options {
    pub dry_run: bool,
    pub json: bool,
    /// Passed to `publish-prod` (must include github when given).
    pub only: Vec<Target>,
    /// Passed to `publish-prod`.
    pub skip_ci_check: bool,
}

/// What the run saw when it was planned.
#[derive(Debug)]
pub struct Seen {
    pub head: String,
    pub releasable: Releasable,
    pub open: Vec<Pr>,
    /// The newest merged release PR, its version, and whether its tag exists (locally).
    pub merged: Option<(Pr, Version, bool)>,
}

pub struct Prepared {
    pub cfg: Config,
    pub seen: Seen,
    pub decision: Vec<String>,
    pub plan: Plan,
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    crate::cmd::bump::intent::refuse_if_pending(&root, "release-pr")?;
    let p = prepare(&root, o, &github::process_gh_env())?;
    crate::targets::incident::begin("release-pr", &p.cfg, o.dry_run);
    if o.dry_run {
        if o.json {
            ui::print_json(&result_json(&p, true, None));
            return Ok(0);
        }
        ui.heading(&format!(
            "release-pr: {} — dry run, nothing will be changed",
            p.decision.join("; ")
        ));
        p.plan.render(ui, &p.cfg.root);
        return Ok(0);
    }
    ui.heading(&format!("release-pr: {}", p.decision.join("; ")));
    let outcome = crate::run::exec::execute(&p.plan, ui, &p.cfg.root)?;
    if o.json {
        ui::print_json(&result_json(&p, false, Some(&outcome)));
    }
    ui.line(&format!(
        "{} the release PR is what the commits say{}",
        ui.paint(Style::Green, "done:"),
        outcome
            .values
            .get("release_pr.url")
            .map(|u| format!(" ({u})"))
            .unwrap_or_default()
    ));
    Ok(0)
}

fn result_json(p: &Prepared, dry_run: bool, outcome: Option<&crate::run::exec::Outcome>) -> Json {
    let pr = |pr: &Pr| json!({"number": pr.number, "title": pr.title, "url": pr.html_url});
    let s = &p.seen;
    json!({
        "dry_run": dry_run,
        "state": {
            "head": s.head,
            "since": s.releasable.since,
            "releasable": s.releasable.wanted.as_ref().map(|w| json!({
                "version": w.version.to_string(),
                "title": w.title,
                "body": w.body,
                "files": w.files.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
            })),
            "open_prs": s.open.iter().map(pr).collect::<Vec<_>>(),
            "merged": s.merged.as_ref().map(|(m, v, tagged)| json!({
                "number": m.number, "version": v.to_string(), "merge_commit_sha": m.merge_sha,
                "tagged": tagged,
            })),
        },
        "decision": p.decision,
        "steps": p.plan.to_json(&p.cfg.root),
        "executed": outcome.map(|o| o.executed.clone()),
        "done": outcome.map(|o| o.done.iter().map(|d| match d {
            crate::run::plan::Done::Ran(w) => json!({"ran": w}),
            crate::run::plan::Done::Skipped(w) => json!({"skipped": w}),
        }).collect::<Vec<_>>()),
    })
}

/// Gathers (read-only) and plans; every problem at once.
pub fn prepare(root: &Path, o: &Options, gh_env: &[(String, String)]) -> Result<Prepared> {
    let cfg = config::load_or_refuse(root, "release-pr")?;
    let mut problems = Problems::default();
    crate::cmd::main_branch_clean_with_remote(
        &cfg,
        &mut problems,
        "release-pr runs",
        "the release PR",
        &format!("{BRANCH} and tags"),
    )?;
    if !o.only.is_empty() && !o.only.contains(&Target::Github) {
        problems.invalid(
            "release-pr publishes with publish-prod and reads the GitHub release back: --only must include github",
        );
    }
    let gh = match Gh::resolve(&cfg, gh_env) {
        Ok(gh) => Some(gh),
        Err(list) => {
            for m in list {
                problems.failure(m);
            }
            None
        }
    };
    problems.check("release-pr")?;
    let gh = gh.expect("no problems implies gh");
    let head = git::git_read(&cfg.root, ["rev-parse", "HEAD"])?
        .trim()
        .to_string();
    let compute: Compute = {
        let root = cfg.root.clone();
        Arc::new(move || releasable(&root))
    };
    let releasable = compute()?;
    let open = github_pr::list(&gh, "open", &cfg.branch)?;
    let merged = match github_pr::merged_release(&gh, &cfg.branch)? {
        Some((pr, v)) => {
            let tagged = git::tag_exists(&cfg.root, &version::git_tag(&cfg.tag_prefix, &v))?;
            Some((pr, v, tagged))
        }
        None => None,
    };
    let mut decision = Vec::new();
    match &merged {
        Some((pr, v, false)) => decision.push(format!(
            "tag the merge of release PR #{} as {} and publish it; then the release PR is recomputed \
             from the commits after it",
            pr.number,
            version::git_tag(&cfg.tag_prefix, v)
        )),
        Some((_, v, true)) => decision.push(format!(
            "finish publishing {} if its GitHub release is missing",
            version::git_tag(&cfg.tag_prefix, v)
        )),
        None => {}
    }
    match (&releasable.wanted, open.first()) {
        (Some(w), None) => decision.push(format!("open the release PR for {}", w.version)),
        (Some(w), Some(pr)) => decision.push(format!(
            "update release PR #{} to {} (if it differs)",
            pr.number, w.version
        )),
        (None, Some(pr)) => decision.push(format!(
            "close release PR #{} (nothing releasable since {})",
            pr.number, releasable.since
        )),
        (None, None) => decision.push(format!(
            "nothing releasable since {}, no release PR open",
            releasable.since
        )),
    }
    let work = cfg.root.join("target/slipway/release-pr");
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find this program's path: {e}"))?;
    let preview_merge = merged
        .as_ref()
        .map(|(pr, v, _)| (pr.merge_sha.clone().unwrap_or_default(), v.clone()));
    let mut plan = Plan::default();
    plan.push(Step::Action(Box::new(TagMerged {
        gh: gh.clone(),
        root: cfg.root.clone(),
        remote: cfg.remote.clone(),
        base: cfg.branch.clone(),
        tag_prefix: cfg.tag_prefix.clone(),
        preview: preview_merge.clone(),
    })));
    plan.push(Step::Action(Box::new(PublishMerged {
        gh: gh.clone(),
        root: cfg.root.clone(),
        exe,
        worktree: work.join("publish"),
        only: o.only.clone(),
        skip_ci_check: o.skip_ci_check,
        preview: preview_merge.map(|(_, v)| version::git_tag(&cfg.tag_prefix, &v)),
    })));
    plan.push(Step::Action(Box::new(PushBranch {
        root: cfg.root.clone(),
        remote: cfg.remote.clone(),
        worktree: work.join("branch"),
        compute: compute.clone(),
        preview: releasable.clone(),
    })));
    plan.push(Step::Action(Box::new(SyncPr {
        gh,
        base: cfg.branch.clone(),
        work: work.clone(),
        compute: compute.clone(),
        preview: releasable.clone(),
    })));
    plan.push(Step::Action(Box::new(DeleteBranch {
        root: cfg.root.clone(),
        remote: cfg.remote.clone(),
        compute,
    })));
    Ok(Prepared {
        cfg,
        seen: Seen {
            head,
            releasable,
            open,
            merged,
        },
        decision,
        plan,
    })
}

/// What is releasable now: the commits since the last release tag (reachable from HEAD) decide
/// the level; `bump-version auto --generate-changelog --no-commit` computes the files.
pub fn releasable(root: &Path) -> Result<Releasable> {
    let cfg = config::load_or_refuse(root, "release-pr")?;
    let mut problems = Problems::default();
    let m = managed::load(&cfg, &mut problems);
    problems.check("release-pr")?;
    let Some(m) = m else {
        bail!("no managed files");
    };
    let Some((current, _)) = m.current() else {
        bail!("no managed file states a version; configure `pyproject` or `files`");
    };
    let (prev, rel) = commits::since_last_release(&cfg, false)?;
    let since = prev.map_or_else(|| "the first commit".to_string(), |t| t.name);
    if changegen::auto_level(&rel, &current).is_none() {
        return Ok(Releasable {
            wanted: None,
            since,
        });
    }
    let p = match crate::cmd::bump::prepare(
        cfg.root.clone(),
        &crate::cmd::bump::Options {
            spec: "auto".into(),
            no_commit: true,
            generate: true,
            ..Default::default()
        },
    ) {
        Ok(p) => p,
        // The bump starts after a version committed but not tagged yet (a merged release PR
        // before its tag): what follows it is not releasable.
        Err(e) if format!("{e:#}").contains("no releasable commits") => {
            return Ok(Releasable {
                wanted: None,
                since,
            })
        }
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    let mut body = String::new();
    let changelog_rel = m.changelog.as_ref().map(|c| c.rel.clone());
    for step in &p.plan.steps {
        if let Step::Edit(e) = step {
            if Some(&e.display) == changelog_rel.as_ref() {
                if let Ok(c) = Changelog::parse(&e.after) {
                    if let Some(s) = c.section(&p.new) {
                        body = c.body(&e.after, s).trim().to_string();
                    }
                }
            }
            files.push((e.display.clone(), e.after.clone()));
        }
    }
    if body.is_empty() {
        body = format!("Release {}.", p.new);
    }
    Ok(Releasable {
        wanted: Some(Wanted {
            title: github_pr::title(&p.new),
            version: p.new,
            body,
            files,
        }),
        since,
    })
}

// ---------------------------------------------------------------------------------------------
// 1. Tag the merged release PR

#[derive(Debug)]
pub struct TagMerged {
    pub gh: Gh,
    pub root: PathBuf,
    pub remote: String,
    pub base: String,
    pub tag_prefix: String,
    /// The merged PR seen when planning: (merge commit, version).
    pub preview: Option<(String, Version)>,
}

#[derive(Debug)]
pub struct TagSeen {
    merged: Option<(Pr, Version)>,
    tag: String,
    on_remote: bool,
    /// The commit the local tag names, if there is one.
    local: Option<String>,
    /// A release tag of this version or higher that is not this one.
    newer: Option<String>,
    have_commit: bool,
}

impl TagMerged {
    fn subs(&self, sha: &str, tag: &str, fetch: bool, tag_it: bool) -> Vec<Sub> {
        crate::cmd::tag_and_push(
            &self.root,
            &self.remote,
            &self.base,
            sha,
            tag,
            fetch,
            tag_it,
        )
    }
}

impl Reconcile for TagMerged {
    type Seen = TagSeen;
    fn header(&self) -> String {
        format!(
            "tag the newest merged release PR ({BRANCH} → {})",
            self.base
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "its merge commit gets the annotated tag of the version in its title, pushed, unless \
             that tag (or a newer release) exists"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        let (sha, tag) = match &self.preview {
            Some((sha, v)) => (sha.clone(), version::git_tag(&self.tag_prefix, v)),
            None => ("<merge_commit_sha>".into(), "<tag>".into()),
        };
        Planned {
            observe: vec![
                Sub::run(github_pr::list_process(&self.gh, "closed", &self.base)),
                Sub::run(git::git_in(&self.root)(&[
                    "ls-remote",
                    "--quiet",
                    &self.remote,
                    &format!("refs/tags/{tag}"),
                ])),
            ],
            apply: self.subs(&sha, &tag, true, true),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<TagSeen> {
        let merged = github_pr::merged_release(&self.gh, &self.base)?;
        let Some((pr, v)) = &merged else {
            return Ok(TagSeen {
                merged: None,
                tag: String::new(),
                on_remote: false,
                local: None,
                newer: None,
                have_commit: false,
            });
        };
        let tag = version::git_tag(&self.tag_prefix, v);
        let tag_ref = format!("refs/tags/{tag}");
        let on_remote = git::ls_remote(&self.root, &self.remote, std::slice::from_ref(&tag_ref))?
            .iter()
            .any(|(r, _)| *r == tag_ref);
        let local = git::local_tag_commit(&self.root, &tag)?;
        let newer = history::release_tag_names(&self.root, &self.tag_prefix)?
            .into_iter()
            .find(|t| t.version >= *v && t.name != tag)
            .map(|t| t.name);
        let sha = pr.merge_sha.clone().unwrap_or_default();
        let have_commit = git::has_commit(&self.root, &sha)?;
        Ok(TagSeen {
            merged,
            tag,
            on_remote,
            local,
            newer,
            have_commit,
        })
    }
    fn decide(&self, seen: &TagSeen) -> Result<Decision> {
        let Some((pr, _)) = &seen.merged else {
            return Ok(Decision::done(format!(
                "no merged release PR from {BRANCH}"
            )));
        };
        let sha = pr.merge_sha.clone().unwrap_or_default();
        let tag = &seen.tag;
        if seen.on_remote {
            return Ok(Decision::done(format!(
                "{tag} (release PR #{}) is tagged on `{}`",
                pr.number, self.remote
            ))
            .recording("release_pr.tag", tag.clone()));
        }
        if let Some(newer) = &seen.newer {
            return Ok(Decision::done(format!(
                "release PR #{} ({tag}) is not tagged, but {newer} was released since: nothing to tag",
                pr.number
            )));
        }
        let summary = format!(
            "tagged {} (the merge of release PR #{}) as {tag} and pushed it",
            &sha[..sha.len().min(12)],
            pr.number
        );
        match &seen.local {
            Some(c) if *c != sha => bail!(
                "the local tag {tag} names {c}, but release PR #{} was merged as {sha}: delete the \
                 local tag (`git tag -d {tag}`) and run again",
                pr.number
            ),
            Some(_) => Ok(Decision::apply(self.subs(&sha, tag, false, false), summary)),
            None => Ok(Decision::apply(
                self.subs(&sha, tag, !seen.have_commit, true),
                summary,
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Publish it

#[derive(Debug)]
pub struct PublishMerged {
    pub gh: Gh,
    pub root: PathBuf,
    /// This program (`publish-prod` runs as a child, in a worktree at the tag).
    pub exe: PathBuf,
    pub worktree: PathBuf,
    pub only: Vec<Target>,
    pub skip_ci_check: bool,
    pub preview: Option<String>,
}

#[derive(Debug)]
pub enum PublishSeen {
    /// No merged release PR is tagged.
    Nothing,
    /// The tag, whether its GitHub release exists with its `SHA256SUMS`, and whether the
    /// worktree of an earlier attempt is at the tag (its builds are reused: an index never
    /// takes a rebuilt file of a version it has).
    Tag {
        tag: String,
        complete: bool,
        reuse: bool,
    },
}

impl PublishMerged {
    fn subs(&self, tag: &str, reuse: bool) -> Vec<Sub> {
        let git = git::git_in(&self.root);
        let wt = self.worktree.display().to_string();
        let mut publish = Process::new(&self.exe.display().to_string(), &self.root).args([
            "-C",
            wt.as_str(),
            "publish-prod",
        ]);
        if !self.only.is_empty() {
            let names: Vec<&str> = self.only.iter().map(|t| t.name()).collect();
            publish = publish.args(["--only".to_string(), names.join(",")]);
        }
        if self.skip_ci_check {
            publish = publish.args(["--skip-ci-check"]);
        }
        let mut subs = Vec::new();
        if !reuse {
            subs.extend([
                Run::new(git(&["worktree", "remove", "--force", &wt]))
                    .tolerated()
                    .sub(),
                Sub::run(git(&["worktree", "prune"])),
                Sub::run(git(&[
                    "worktree", "add", "--quiet", "--detach", "--force", &wt, tag,
                ])),
            ]);
        }
        subs.push(Sub::run(publish));
        subs.push(Sub::run(git(&["worktree", "remove", "--force", &wt])));
        subs
    }
}

impl Reconcile for PublishMerged {
    type Seen = PublishSeen;
    fn header(&self) -> String {
        "publish the tagged release PR (publish-prod, unless its GitHub release is complete)"
            .to_string()
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "the GitHub release is what publish-prod publishes last: present with its {}, the \
             publish completed; else publish-prod runs (its steps skip what is already published)",
            github::SUMS
        ))
    }
    fn planned(&self) -> Planned {
        let tag = self.preview.clone().unwrap_or_else(|| "<tag>".into());
        Planned {
            observe: vec![Sub::run(github_pr::release_process(&self.gh, &tag))],
            apply: self.subs(&tag, false),
        }
    }
    fn rounds(&self) -> usize {
        1
    }
    fn observe(&self, cx: &RunContext) -> Result<PublishSeen> {
        let Some(tag) = cx.values.get("release_pr.tag").cloned() else {
            return Ok(PublishSeen::Nothing);
        };
        let complete = github_pr::release(&self.gh, &tag)?.is_some_and(|r| {
            r.get("draft").and_then(Json::as_bool) == Some(false)
                && r.get("assets")
                    .and_then(Json::as_array)
                    .is_some_and(|a| a.iter().any(|a| a["name"] == github::SUMS))
        });
        let at = |dir: &Path, rev: &str| -> Result<Option<String>> {
            git::read_ok(dir, &["rev-parse", "-q", "--verify", rev])
        };
        let reuse = self.worktree.join(".git").exists()
            && at(&self.worktree, "HEAD")?.is_some()
            && at(&self.worktree, "HEAD")? == at(&self.root, &format!("{tag}^{{commit}}"))?;
        Ok(PublishSeen::Tag {
            tag,
            complete,
            reuse,
        })
    }
    fn decide(&self, seen: &PublishSeen) -> Result<Decision> {
        match seen {
            PublishSeen::Nothing => Ok(Decision::done("no tagged release PR to publish")),
            PublishSeen::Tag {
                tag,
                complete: true,
                ..
            } => Ok(Decision::done(format!(
                "the GitHub release of {tag} exists with its {}: the publish completed",
                github::SUMS
            ))),
            PublishSeen::Tag { tag, reuse, .. } => Ok(Decision::apply(
                self.subs(tag, *reuse),
                format!(
                    "published {tag} with publish-prod{}",
                    if *reuse {
                        " (in the worktree of the earlier attempt, its builds reused)"
                    } else {
                        ""
                    }
                ),
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Push the release branch

pub struct PushBranch {
    pub root: PathBuf,
    pub remote: String,
    pub worktree: PathBuf,
    pub compute: Compute,
    pub preview: Releasable,
}

impl std::fmt::Debug for PushBranch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushBranch")
            .field("remote", &self.remote)
            .finish()
    }
}

#[derive(Debug)]
pub struct BranchSeen {
    releasable: Releasable,
    /// The remote branch's commit, when it exists.
    remote: Option<String>,
    /// It is HEAD plus exactly the wanted files.
    current: bool,
}

fn remote_branch(root: &Path, remote: &str) -> Result<Option<String>> {
    let r = format!("refs/heads/{BRANCH}");
    Ok(git::ls_remote(root, remote, std::slice::from_ref(&r))?
        .into_iter()
        .find(|(n, _)| *n == r)
        .map(|(_, sha)| sha))
}

impl PushBranch {
    fn subs(&self, w: &Wanted) -> Vec<Sub> {
        crate::cmd::commit_files_to_branch(
            &self.root,
            &self.worktree,
            &self.remote,
            BRANCH,
            true,
            &w.title,
            &w.files,
        )
    }

    /// Is `sha` HEAD plus exactly the wanted files?
    fn is_current(&self, sha: &str, w: &Wanted) -> Result<bool> {
        let git = git::git_in(&self.root);
        let tracking = format!("refs/remotes/{}/{BRANCH}", self.remote);
        crate::run::process::output(&git(&[
            "fetch",
            "--quiet",
            &self.remote,
            &format!("+refs/heads/{BRANCH}:{tracking}"),
        ]))?;
        let head = git::read_ok(&self.root, &["rev-parse", "HEAD"])?;
        let parent = git::read_ok(
            &self.root,
            &["rev-parse", "-q", "--verify", &format!("{sha}^1")],
        )?;
        if head.is_none() || parent != head {
            return Ok(false);
        }
        let changed =
            git::read_ok(&self.root, &["diff", "--name-only", "HEAD", sha])?.unwrap_or_default();
        let mut changed: Vec<&str> = changed.lines().collect();
        changed.sort();
        let mut wanted: Vec<&str> = w.files.iter().map(|(f, _)| f.as_str()).collect();
        wanted.sort();
        if changed != wanted {
            return Ok(false);
        }
        for (f, content) in &w.files {
            let out = git::git_output(&self.root, ["show", &format!("{sha}:{f}")])?;
            if !out.ok || out.stdout != *content {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Reconcile for PushBranch {
    type Seen = BranchSeen;
    fn header(&self) -> String {
        format!(
            "push {BRANCH}: the main branch + the release commit (when something is releasable)"
        )
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "force-pushed unless `{}/{BRANCH}` already is HEAD + exactly the files `bump-version auto --generate-changelog` writes",
            self.remote
        ))
    }
    fn planned(&self) -> Planned {
        let placeholder = Wanted {
            version: Version::new(0, 0, 0),
            title: "chore(release): <version>".into(),
            body: String::new(),
            files: vec![("<file>…".into(), "<content>".into())],
        };
        let w = self.preview.wanted.as_ref().unwrap_or(&placeholder);
        let git = git::git_in(&self.root);
        Planned {
            observe: vec![
                Sub::run(git(&[
                    "ls-remote",
                    "--quiet",
                    &self.remote,
                    &format!("refs/heads/{BRANCH}"),
                ])),
                Sub::run(git(&[
                    "fetch",
                    "--quiet",
                    &self.remote,
                    &format!("+refs/heads/{BRANCH}:refs/remotes/{}/{BRANCH}", self.remote),
                ])),
            ],
            apply: self.subs(w),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<BranchSeen> {
        let releasable = (self.compute)()?;
        let remote = remote_branch(&self.root, &self.remote)?;
        let current = match (&releasable.wanted, &remote) {
            (Some(w), Some(sha)) => self.is_current(sha, w)?,
            _ => false,
        };
        Ok(BranchSeen {
            releasable,
            remote,
            current,
        })
    }
    fn decide(&self, seen: &BranchSeen) -> Result<Decision> {
        let Some(w) = &seen.releasable.wanted else {
            return Ok(Decision::done(format!(
                "nothing releasable since {}: no release commit to push",
                seen.releasable.since
            )));
        };
        if seen.current {
            return Ok(Decision::done(format!(
                "{BRANCH} already is HEAD + the {} release commit",
                w.version
            )));
        }
        Ok(Decision::apply(
            self.subs(w),
            format!(
                "pushed {BRANCH} with the {} release commit{}",
                w.version,
                if seen.remote.is_some() {
                    " (replacing the old one)"
                } else {
                    ""
                }
            ),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Delete the branch when nothing is releasable

pub struct DeleteBranch {
    pub root: PathBuf,
    pub remote: String,
    pub compute: Compute,
}

impl std::fmt::Debug for DeleteBranch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeleteBranch")
            .field("remote", &self.remote)
            .finish()
    }
}

impl DeleteBranch {
    fn delete(&self) -> Vec<Sub> {
        vec![Sub::run(git::git_in(&self.root)(&[
            "push",
            "--quiet",
            &self.remote,
            "--delete",
            BRANCH,
        ]))]
    }
}

impl Reconcile for DeleteBranch {
    type Seen = (Releasable, bool);
    fn header(&self) -> String {
        format!(
            "delete {BRANCH} on `{}` when nothing is releasable",
            self.remote
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(git::git_in(&self.root)(&[
                "ls-remote",
                "--quiet",
                &self.remote,
                &format!("refs/heads/{BRANCH}"),
            ]))],
            apply: self.delete(),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<(Releasable, bool)> {
        Ok((
            (self.compute)()?,
            remote_branch(&self.root, &self.remote)?.is_some(),
        ))
    }
    fn decide(&self, (releasable, exists): &(Releasable, bool)) -> Result<Decision> {
        match (&releasable.wanted, exists) {
            (Some(w), _) => Ok(Decision::done(format!(
                "{} is releasable: {BRANCH} stays",
                w.version
            ))),
            (None, false) => Ok(Decision::done(format!("there is no {BRANCH}"))),
            (None, true) => Ok(Decision::apply(
                self.delete(),
                format!(
                    "deleted {BRANCH} (nothing releasable since {})",
                    releasable.since
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gh() -> Gh {
        Gh {
            repo: "acme/app".into(),
            env: Vec::new(),
            cwd: PathBuf::from("/r"),
        }
    }

    fn tagger() -> TagMerged {
        TagMerged {
            gh: gh(),
            root: PathBuf::from("/r"),
            remote: "origin".into(),
            base: "main".into(),
            tag_prefix: "v".into(),
            preview: None,
        }
    }

    fn merged(sha: &str) -> Option<(Pr, Version)> {
        Some((
            Pr {
                number: 7,
                title: "chore(release): 1.3.0".into(),
                body: String::new(),
                html_url: String::new(),
                merge_sha: Some(sha.into()),
                merged_at: Some("2026-11-21T00:00:00Z".into()),
            },
            Version::new(1, 3, 0),
        ))
    }

    fn seen(local: Option<&str>, on_remote: bool, newer: Option<&str>) -> TagSeen {
        TagSeen {
            merged: merged("abc123"),
            tag: "v1.3.0".into(),
            on_remote,
            local: local.map(String::from),
            newer: newer.map(String::from),
            have_commit: true,
        }
    }

    fn lines(d: &Decision) -> Vec<String> {
        d.subs()
            .iter()
            .flat_map(|s| crate::run::plan::sub_lines(s, Path::new("/r")))
            .collect()
    }

    #[test]
    fn tagging_decides_from_what_it_sees() {
        let t = tagger();
        let d = t.decide(&seen(None, false, None)).unwrap();
        assert_eq!(
            lines(&d),
            [
                "$ git tag -a v1.3.0 -m 'Release v1.3.0' abc123",
                "$ git push --quiet origin refs/tags/v1.3.0"
            ]
        );
        // Tagged here by a run whose push failed: only the push.
        let d = t.decide(&seen(Some("abc123"), false, None)).unwrap();
        assert_eq!(lines(&d), ["$ git push --quiet origin refs/tags/v1.3.0"]);
        // On the remote: done, and the publish step is told which tag.
        let d = t.decide(&seen(Some("abc123"), true, None)).unwrap();
        assert!(
            matches!(&d, Decision::Done { record, .. } if record == &[("release_pr.tag".to_string(), "v1.3.0".to_string())])
        );
        // A newer release: nothing to tag, nothing to publish.
        let d = t.decide(&seen(None, false, Some("v1.4.0"))).unwrap();
        assert!(matches!(&d, Decision::Done { record, .. } if record.is_empty()));
        // A local tag elsewhere is refused, naming the fix.
        let e = t.decide(&seen(Some("def456"), false, None)).unwrap_err();
        assert!(e.to_string().contains("`git tag -d v1.3.0`"), "{e}");
        // No merged release PR.
        let mut none = seen(None, false, None);
        none.merged = None;
        assert!(t.decide(&none).unwrap().subs().is_empty());
    }

    #[test]
    fn publishing_reuses_the_worktree_of_a_failed_attempt() {
        let p = PublishMerged {
            gh: gh(),
            root: PathBuf::from("/r"),
            exe: PathBuf::from("/bin/xtask"),
            worktree: PathBuf::from("/r/target/slipway/release-pr/publish"),
            only: vec![Target::Github],
            skip_ci_check: false,
            preview: None,
        };
        let fresh = p
            .decide(&PublishSeen::Tag {
                tag: "v1.3.0".into(),
                complete: false,
                reuse: false,
            })
            .unwrap();
        assert!(lines(&fresh)
            .iter()
            .any(|l| l.contains("worktree add --quiet --detach --force")));
        let again = p
            .decide(&PublishSeen::Tag {
                tag: "v1.3.0".into(),
                complete: false,
                reuse: true,
            })
            .unwrap();
        assert_eq!(
            lines(&again),
            [
                "$ /bin/xtask -C /r/target/slipway/release-pr/publish publish-prod --only github",
                "$ git worktree remove --force /r/target/slipway/release-pr/publish"
            ]
        );
        let done = p
            .decide(&PublishSeen::Tag {
                tag: "v1.3.0".into(),
                complete: true,
                reuse: true,
            })
            .unwrap();
        assert!(done.subs().is_empty());
    }
}
