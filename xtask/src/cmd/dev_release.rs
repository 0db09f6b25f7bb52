//! `cargo xtask dev-release [major|minor|patch]`: the reviewed release, first half (what
//! `periodic_dev_image_release.yml` runs weekly).
//!
//! 1. Gather and preflight, every problem at once before the first write: the configuration
//!    (`[workspace.metadata.release.review]`, `docker.staging-registry`, the GitHub repository),
//!    a clean tree on the main branch, the remote, gh and its token (a read of the repository),
//!    the staging registry writable (an upload started and cancelled), the docker engine, and
//!    that the version is not released (its tag absent; a PR of it merged is refused). The bump
//!    (`bump-version <level> --generate-changelog`, nothing committed) gives the version and
//!    the files; an issue, branch or PR of an interrupted run is reused.
//! 2. Plan: the issue, the branch (`release/vX.Y.Z` = the main branch + the release commit,
//!    made in a worktree), the PR, its reviewers, the issue's assignees, the dev image
//!    (`docker-validate --push-dev` in a worktree of the branch: built, validated, pushed as
//!    `dev-X.Y.Z` only), its digest recorded in the PR body, the label — last, so a labelled PR
//!    always records the digest it was reviewed with.
//! 3. Render (`--dry-run`) or execute. Every step reads first; a re-run completes what is
//!    missing and duplicates nothing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use semver::Version;
use serde_json::{json, Value as Json};

use crate::cmd::Global;
use crate::core::{changelog::Changelog, devpr, dockertags, version};
use crate::facts::config::{self, split_team, valid_login, Config};
use crate::facts::git;
use crate::run::plan::{Decision, Plan, Planned, Process, Reconcile, Run, RunContext, Step, Sub};
use crate::run::ui::{self, Style, Ui};
use crate::targets::docker::calls::Endpoint;
use crate::targets::docker::registry::Repo;
use crate::targets::docker::{credentials_from_env, registry_credentials};
use crate::targets::github::{self, Gh};
use crate::targets::github_dev::{self as dev, Dev};
use crate::Problems;

#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `major`, `minor` or `patch` (None: `review.bump`).
    pub level: Option<String>,
    /// A login or `org/team` (None: `review.reviewer` and `review.team`).
    pub reviewer: Option<String>,
    pub assignee: Option<String>,
    pub label: Option<String>,
    pub dry_run: bool,
    pub json: bool,
}

/// What the release is.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub version: Version,
    pub branch: String,
    pub label: String,
    /// The changelog section of the version.
    pub section: String,
    /// The files the release commit changes: (path relative to the root, new content).
    pub files: Vec<(String, String)>,
    /// `registry/image` in staging.
    pub image: String,
}

pub struct Prepared {
    pub cfg: Config,
    pub wanted: Wanted,
    pub reviewers: Vec<String>,
    pub teams: Vec<String>,
    pub notes: Vec<String>,
    pub plan: Plan,
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    crate::cmd::bump::intent::refuse_if_pending(&root, "dev-release")?;
    let p = prepare(&root, o, &github::process_gh_env())?;
    let title = format!(
        "dev-release {} (branch {}, dev-{} to {})",
        p.wanted.version, p.wanted.branch, p.wanted.version, p.wanted.image
    );
    if o.dry_run {
        if o.json {
            ui::print_json(&result_json(&p, true, None));
            return Ok(0);
        }
        ui.heading(&format!("{title} — dry run, nothing will be changed"));
        for n in &p.notes {
            ui.note(n);
        }
        p.plan.render(ui, &p.cfg.root);
        return Ok(0);
    }
    ui.heading(&title);
    for n in &p.notes {
        ui.note(n);
    }
    let outcome = crate::run::exec::execute(&p.plan, ui, &p.cfg.root)?;
    if o.json {
        ui::print_json(&result_json(&p, false, Some(&outcome)));
    }
    ui.line(&format!(
        "{} {} is ready for review: PR #{} ({}), dev image {}:{} ({})",
        ui.paint(Style::Green, "done:"),
        p.wanted.version,
        outcome.values.get("dev.pr").cloned().unwrap_or_default(),
        outcome
            .values
            .get("dev.pr_url")
            .cloned()
            .unwrap_or_default(),
        p.wanted.image,
        dockertags::dev_tag(&p.wanted.version).tag,
        outcome
            .values
            .get("dev.digest")
            .cloned()
            .unwrap_or_default(),
    ));
    Ok(0)
}

fn result_json(p: &Prepared, dry_run: bool, outcome: Option<&crate::run::exec::Outcome>) -> Json {
    let v = |k: &str| outcome.and_then(|o| o.values.get(k).cloned());
    json!({
        "dry_run": dry_run,
        "version": p.wanted.version.to_string(),
        "branch": p.wanted.branch,
        "label": p.wanted.label,
        "image": format!("{}:{}", p.wanted.image, dockertags::dev_tag(&p.wanted.version).tag),
        "reviewers": p.reviewers,
        "team_reviewers": p.teams,
        "notes": p.notes,
        "issue": v("dev.issue").and_then(|n| n.parse::<u64>().ok()),
        "pr": v("dev.pr").and_then(|n| n.parse::<u64>().ok()),
        "pr_url": v("dev.pr_url"),
        "digest": v("dev.digest"),
        "steps": p.plan.to_json(&p.cfg.root),
        "executed": outcome.map(|o| o.executed.clone()),
        "done": outcome.map(|o| o.done.iter().map(|d| match d {
            crate::run::plan::Done::Ran(w) => json!({"ran": w}),
            crate::run::plan::Done::Skipped(w) => json!({"skipped": w}),
        }).collect::<Vec<_>>()),
    })
}

/// The staging repository of the image, with the credentials to use there.
fn staging_endpoint(cfg: &Config) -> Option<Endpoint> {
    let docker = cfg.docker.as_ref()?;
    let staging = docker.staging_registry.as_ref()?;
    let repo = Repo::parse(&format!(
        "{}/{}",
        staging.trim_end_matches('/'),
        docker.image
    ));
    let mut scratch = Problems::default();
    let creds = registry_credentials(&repo.registry, &credentials_from_env(&mut scratch));
    Some(Endpoint::new(repo, creds))
}

/// The digest `dev-X.Y.Z` holds in staging (None: absent).
pub fn dev_digest(at: &Endpoint, v: &Version) -> Result<Option<String>> {
    let mut client = at.client();
    Ok(client
        .manifest(&at.repo.path, &dockertags::dev_tag(v).tag)?
        .map(|m| m.digest))
}

/// The bump of `level` (`bump-version <level> --generate-changelog --no-commit`): the version,
/// the files and the changelog section.
/// The version, the files of the release commit, the changelog section.
type Bumped = (Version, Vec<(String, String)>, String);

fn bumped(root: &Path, level: &str) -> Result<Bumped> {
    let p = crate::cmd::bump::prepare(
        root.to_path_buf(),
        &crate::cmd::bump::Options {
            spec: level.into(),
            no_commit: true,
            generate: true,
            ..Default::default()
        },
    )?;
    let changelog_rel = p.cfg.changelog.clone();
    let mut files = Vec::new();
    let mut section = String::new();
    for step in &p.plan.steps {
        if let Step::Edit(e) = step {
            if e.display == changelog_rel {
                if let Ok(c) = Changelog::parse(&e.after) {
                    if let Some(s) = c.section(&p.new) {
                        section = c.body(&e.after, s).trim().to_string();
                    }
                }
            }
            files.push((e.display.clone(), e.after.clone()));
        }
    }
    if section.is_empty() {
        section = format!("Release {}.", p.new);
    }
    Ok((p.new, files, section))
}

/// Gathers (read-only), preflights and plans; every problem at once.
pub fn prepare(root: &Path, o: &Options, gh_env: &[(String, String)]) -> Result<Prepared> {
    let cfg = config::load_or_refuse(root, "dev-release")?;
    let mut problems = Problems::default();
    let review = cfg.review.clone();
    let level = o.level.clone().unwrap_or_else(|| review.bump.clone());
    let label = o.label.clone().unwrap_or_else(|| review.label.clone());
    if label.trim().is_empty() || label.contains(',') {
        problems.invalid(format!("--label `{label}` must be one label (no commas)"));
    }
    let (mut reviewers, mut team) = (
        review.reviewer.clone().into_iter().collect::<Vec<_>>(),
        review.team.clone(),
    );
    if let Some(r) = &o.reviewer {
        if r.contains('/') {
            if split_team(r).is_some() {
                reviewers.clear();
                team = Some(r.clone());
            } else {
                problems.invalid(format!("--reviewer `{r}`: a team is `org/team` (its slug)"));
            }
        } else if valid_login(r) {
            reviewers = vec![r.clone()];
            team = None;
        } else {
            problems.invalid(format!(
                "--reviewer `{r}` is not a GitHub login or `org/team`"
            ));
        }
    }
    if let Some(a) = &o.assignee {
        if !valid_login(a) {
            problems.invalid(format!("--assignee `{a}` is not a GitHub login"));
        }
    }
    crate::cmd::main_branch_clean_with_remote(
        &cfg,
        &mut problems,
        "dev-release cuts the release",
        "the release",
        "the release branch",
    )?;
    let gh = match Gh::resolve(&cfg, gh_env) {
        Ok(gh) => Some(gh),
        Err(list) => {
            list.into_iter().for_each(|m| problems.failure(m));
            None
        }
    };
    if let Some(gh) = &gh {
        let p = dev::repo_process(gh);
        match github::api(&p) {
            Ok(r) if r.status == 200 => {}
            Ok(r) => problems.failure(format!(
                "gh cannot read {} with this token: {}",
                gh.repo,
                github::unexpected(&p, &r)
            )),
            Err(e) => problems.failure(format!("gh cannot reach GitHub: {e:#}")),
        }
    }
    let staging = staging_endpoint(&cfg);
    match (&cfg.docker, &staging) {
        (None, _) => problems.invalid(format!(
            "{} has no [workspace.metadata.release.docker] table: dev-release pushes the dev image; \
             add one (image = \"acme/app\", staging-registry = \"…\")",
            config::FILE
        )),
        (Some(_), None) => problems.invalid(
            "dev-release pushes the dev image to the staging registry: set `staging-registry` in \
             [workspace.metadata.release.docker]",
        ),
        (Some(_), Some(at)) => match at.client().can_push(&at.repo.path) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => problems.failure(format!("the staging registry is not writable: {why}")),
            Err(e) => problems.failure(format!(
                "the staging registry {} cannot be reached: {e:#}",
                at.repo.registry
            )),
        },
    }
    // The bump: the version and the files (nothing written).
    let bump = if problems.is_empty() || !problems.invalid_input {
        match bumped(&cfg.root, &level) {
            Ok(b) => Some(b),
            Err(e) => {
                problems.failure(format!("{e:#}"));
                None
            }
        }
    } else {
        None
    };
    let mut notes = Vec::new();
    if let (Some((v, _, _)), Some(docker)) = (&bump, &cfg.docker) {
        let tag = version::git_tag(&cfg.tag_prefix, v);
        if git::tag_exists(&cfg.root, &tag)?
            || !git::ls_remote(&cfg.root, &cfg.remote, &[format!("refs/tags/{tag}")])
                .unwrap_or_default()
                .is_empty()
        {
            problems.failure(format!(
                "{tag} exists already: {v} is released; bump another level"
            ));
        }
        let facts = crate::cmd::publish::facts_at(&cfg, v.clone(), "HEAD", &mut problems)?;
        let spec = crate::targets::docker::ImageSpec::new(
            &facts,
            docker,
            docker.platforms.clone(),
            &mut problems,
        );
        crate::targets::docker::check(&spec, &mut problems);
        crate::targets::pypi::check_python(&mut problems);
    }
    let branch = bump
        .as_ref()
        .map(|(v, _, _)| devpr::branch(&review.branch_prefix, v))
        .unwrap_or_default();
    if let (Some(gh), Some((v, _, _))) = (&gh, &bump) {
        if problems.is_empty() {
            if let Some(i) = dev::find_issue(gh, &label, &devpr::issue_title(v))? {
                notes.push(format!("an earlier run opened issue #{}: reused", i.number));
            }
            for p in dev::find_pulls(gh, &branch, &cfg.branch)? {
                if p.merged_at.is_some() {
                    problems.failure(format!(
                        "PR #{} of {v} was merged already: `cargo xtask release-merged {}` releases it",
                        p.number, p.number
                    ));
                } else if p.state == "open" {
                    notes.push(format!("an earlier run opened PR #{}: reused", p.number));
                }
            }
            if let Some(t) = &team {
                if dev::members(gh, t)?.is_none() {
                    problems.failure(format!(
                        "team {t} does not exist or this token cannot read its members"
                    ));
                }
            }
        }
    }
    problems.check("dev-release")?;
    let (Some(gh), Some((version, files, section)), Some(staging)) = (gh, bump, staging) else {
        bail!("dev-release: preflight passed without its facts");
    };
    let wanted = Wanted {
        version: version.clone(),
        branch: branch.clone(),
        label: label.clone(),
        section,
        files,
        image: staging.name(),
    };
    let work = cfg.root.join("target/slipway/dev-release");
    let d = Dev {
        gh: gh.clone(),
        work: work.clone(),
        version: version.clone(),
        label: label.clone(),
        branch: branch.clone(),
        base: cfg.branch.clone(),
    };
    let teams: Vec<String> = team
        .as_deref()
        .and_then(split_team)
        .map(|(_, slug)| vec![slug.to_string()])
        .into_iter()
        .flatten()
        .collect();
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find this program's path: {e}"))?;
    let mut plan = Plan::default();
    plan.push(Step::Action(Box::new(dev::OpenIssue { dev: d.clone() })));
    plan.push(Step::Action(Box::new(PushReleaseBranch {
        root: cfg.root.clone(),
        remote: cfg.remote.clone(),
        worktree: work.join("branch"),
        wanted: wanted.clone(),
    })));
    plan.push(Step::Action(Box::new(dev::OpenPr {
        dev: d.clone(),
        section: wanted.section.clone(),
        image: wanted.image.clone(),
    })));
    plan.push(Step::Action(Box::new(dev::Reviewers {
        dev: d.clone(),
        reviewers: reviewers.clone(),
        teams: teams.clone(),
    })));
    plan.push(Step::Action(Box::new(dev::Assignees {
        dev: d.clone(),
        people: o.assignee.clone().into_iter().collect(),
        team: team.clone(),
    })));
    plan.push(Step::Action(Box::new(DevImage {
        root: cfg.root.clone(),
        remote: cfg.remote.clone(),
        exe,
        worktree: work.join("image"),
        version: version.clone(),
        branch: branch.clone(),
        staging: staging.clone(),
    })));
    plan.push(Step::Action(Box::new(dev::RecordDigest { dev: d.clone() })));
    plan.push(Step::Action(Box::new(dev::Label { dev: d })));
    Ok(Prepared {
        cfg,
        wanted,
        reviewers,
        teams,
        notes,
        plan,
    })
}

fn remote_branch(root: &Path, remote: &str, branch: &str) -> Result<Option<String>> {
    let r = format!("refs/heads/{branch}");
    Ok(git::ls_remote(root, remote, std::slice::from_ref(&r))?
        .into_iter()
        .find(|(n, _)| *n == r)
        .map(|(_, sha)| sha))
}

// ---------------------------------------------------------------------------------------------
// The release branch

#[derive(Debug)]
pub struct PushReleaseBranch {
    pub root: PathBuf,
    pub remote: String,
    pub worktree: PathBuf,
    pub wanted: Wanted,
}

impl PushReleaseBranch {
    fn subs(&self) -> Vec<Sub> {
        let w = &self.wanted;
        crate::cmd::commit_files_to_branch(
            &self.root,
            &self.worktree,
            &self.remote,
            &w.branch,
            false,
            &devpr::pr_title(&w.version),
            &w.files,
        )
    }
}

impl Reconcile for PushReleaseBranch {
    type Seen = Option<String>;
    fn header(&self) -> String {
        format!(
            "push {} to `{}`: the main branch + the release commit ({})",
            self.wanted.branch,
            self.remote,
            self.wanted
                .files
                .iter()
                .map(|(f, _)| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "a branch of that name on the remote is reused as it is (an earlier run pushed it)"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(git::git_in(&self.root)(&[
                "ls-remote",
                "--quiet",
                &self.remote,
                &format!("refs/heads/{}", self.wanted.branch),
            ]))],
            apply: self.subs(),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<Option<String>> {
        remote_branch(&self.root, &self.remote, &self.wanted.branch)
    }
    fn decide(&self, seen: &Option<String>) -> Result<Decision> {
        match seen {
            Some(sha) => Ok(Decision::done(format!(
                "{} is on `{}` at {}",
                self.wanted.branch,
                self.remote,
                &sha[..sha.len().min(12)]
            ))
            .recording("dev.branch_sha", sha.clone())),
            None => Ok(Decision::apply(
                self.subs(),
                format!(
                    "pushed {} with the {} release commit",
                    self.wanted.branch, self.wanted.version
                ),
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The dev image

#[derive(Debug)]
pub struct DevImage {
    pub root: PathBuf,
    pub remote: String,
    /// This program (`docker-validate --push-dev` runs as a child, in a worktree of the branch).
    pub exe: PathBuf,
    pub worktree: PathBuf,
    pub version: Version,
    pub branch: String,
    pub staging: Endpoint,
}

impl DevImage {
    fn subs(&self) -> Vec<Sub> {
        let git = git::git_in(&self.root);
        let wt = self.worktree.display().to_string();
        let tracking = format!("refs/remotes/{}/{}", self.remote, self.branch);
        vec![
            Sub::run(git(&[
                "fetch",
                "--quiet",
                &self.remote,
                &format!("+refs/heads/{}:{tracking}", self.branch),
            ])),
            Run::new(git(&["worktree", "remove", "--force", &wt]))
                .tolerated()
                .sub(),
            Sub::run(git(&["worktree", "prune"])),
            Sub::run(git(&[
                "worktree", "add", "--quiet", "--detach", "--force", &wt, &tracking,
            ])),
            Sub::run(
                Process::new(&self.exe.display().to_string(), &self.root).args([
                    "-C",
                    wt.as_str(),
                    "docker-validate",
                    "--version",
                    &self.version.to_string(),
                    "--push-dev",
                ]),
            ),
            Sub::run(git(&["worktree", "remove", "--force", &wt])),
        ]
    }
}

impl Reconcile for DevImage {
    type Seen = Option<String>;
    fn header(&self) -> String {
        format!(
            "build and validate the image of {}, push it as {}:{} only",
            self.branch,
            self.staging.name(),
            dockertags::dev_tag(&self.version).tag
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "a dev tag present in staging is reused (the image an earlier run pushed), never rebuilt"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::Http(crate::run::plan::Request {
                method: "HEAD".into(),
                url: self.staging.url(&format!(
                    "manifests/{}",
                    dockertags::dev_tag(&self.version).tag
                )),
                headers: Vec::new(),
                body: None,
                service: format!("registry {}", self.staging.repo.registry),
            })],
            apply: self.subs(),
        }
    }
    fn rounds(&self) -> usize {
        1
    }
    fn observe(&self, _cx: &RunContext) -> Result<Option<String>> {
        dev_digest(&self.staging, &self.version)
    }
    fn decide(&self, seen: &Option<String>) -> Result<Decision> {
        match seen {
            Some(d) => Ok(Decision::done(format!(
                "{}:{} holds {d}",
                self.staging.name(),
                dockertags::dev_tag(&self.version).tag
            ))
            .recording("dev.digest", d.clone())),
            None => Ok(Decision::apply(
                self.subs(),
                format!(
                    "built, validated and pushed {}:{} (<dev.digest>)",
                    self.staging.name(),
                    dockertags::dev_tag(&self.version).tag
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(d: &Decision) -> Vec<String> {
        d.subs()
            .iter()
            .flat_map(|s| crate::run::plan::sub_lines(s, Path::new("/r")))
            .collect()
    }

    fn wanted() -> Wanted {
        Wanted {
            version: Version::new(1, 3, 0),
            branch: "release/v1.3.0".into(),
            label: "automated-release".into(),
            section: "### Added\n\n- x".into(),
            files: vec![("pyproject.toml".into(), "version = \"1.3.0\"\n".into())],
            image: "127.0.0.1:5000/acme/app".into(),
        }
    }

    #[test]
    fn a_branch_or_image_an_earlier_run_pushed_is_reused() {
        let b = PushReleaseBranch {
            root: PathBuf::from("/r"),
            remote: "origin".into(),
            worktree: PathBuf::from("/r/target/slipway/dev-release/branch"),
            wanted: wanted(),
        };
        let fresh = lines(&b.decide(&None).unwrap());
        assert!(fresh
            .iter()
            .any(|l| l
                .starts_with("$ git commit --quiet -m 'chore(release): 1.3.0' -- pyproject.toml")));
        assert!(fresh
            .iter()
            .any(|l| l.starts_with("$ git push --quiet origin HEAD:refs/heads/release/v1.3.0")));
        assert!(b.decide(&Some("abc".into())).unwrap().subs().is_empty());
        let i = DevImage {
            root: PathBuf::from("/r"),
            remote: "origin".into(),
            exe: PathBuf::from("/bin/xtask"),
            worktree: PathBuf::from("/r/target/slipway/dev-release/image"),
            version: Version::new(1, 3, 0),
            branch: "release/v1.3.0".into(),
            staging: Endpoint::new(Repo::parse("127.0.0.1:5000/acme/app"), None),
        };
        assert!(lines(&i.decide(&None).unwrap()).contains(
            &"$ /bin/xtask -C /r/target/slipway/dev-release/image docker-validate --version 1.3.0 --push-dev"
                .to_string()
        ));
        let d = format!("sha256:{}", "b".repeat(64));
        let reused = i.decide(&Some(d.clone())).unwrap();
        assert!(
            matches!(&reused, Decision::Done { record, .. } if record == &[("dev.digest".to_string(), d)])
        );
    }
}
