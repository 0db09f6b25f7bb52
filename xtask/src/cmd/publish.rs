//! `cargo xtask publish-prod`: publish everything for the release tagged at HEAD.
//!
//! 1. Gather (read-only): the version from the tag at HEAD, managed files that agree with it,
//!    every target's prerequisites and credentials. All problems are reported together. The
//!    plan's first step (`preflight`) tries every credential at once
//!    ([`crate::targets::credentials`]).
//! 2. Build every artifact once and validate it.
//! 3. Publish, least reversible last: docker registries, the package index, the GitHub release.
//!    Each publish step reads the real state first and skips what is already there.
//! 4. Verify everything that was published.
//! 5. Deploy (`[workspace.metadata.release.deploy]`), when the docker target is in the run: its
//!    failure is reported as such (everything stays published), a re-run deploys again.
//!
//! A journal of every step (done / skipped with evidence / failed) is appended to
//! `target/slipway/journal/<tag>.jsonl`; a JSON report goes to `target/slipway/reports/`.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use semver::Version;
use serde_json::json;

use crate::cmd::Global;
use crate::facts::config::{self, Config};
use crate::run::exec::StepRecord;
use crate::run::plan::{Done, Plan, Step};
use crate::run::ui::{Style, Ui};
use crate::targets::publish::{self, Facts, TargetPlan};
use crate::{core::version, facts::git, facts::history, facts::managed, run::ui, Problems};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Docker,
    Pypi,
    Github,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Docker, Target::Pypi, Target::Github];

    pub fn parse(s: &str) -> Result<Target> {
        match s {
            "docker" => Ok(Target::Docker),
            "pypi" => Ok(Target::Pypi),
            "github" => Ok(Target::Github),
            _ => Err(crate::usage(format!(
                "unknown target `{s}` for --only; use docker, pypi or github"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Target::Docker => "docker",
            Target::Pypi => "pypi",
            Target::Github => "github",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dry_run: bool,
    pub only: Vec<Target>,
    pub skip_ci_check: bool,
    pub json: bool,
    pub notify: bool,
    /// `--no-deploy`: the deploy step is shown, and skipped.
    pub no_deploy: bool,
    /// `--skip-gate <name>` / `--skip-gates`: the pre-publish gates not to run (loud).
    pub skips: crate::core::gates::Skips,
    /// `--from-digests`: the image from these per-platform digest files, no build
    /// ([`crate::targets::docker::digests`]).
    pub from_digests: Vec<String>,
    /// `--reviewed <what>`: the release is the merge of a reviewed pull request (what
    /// `release-merged` passes): its review is the gate, so no separate CI check runs; the note
    /// says so (no "skipped" warning).
    pub reviewed: Option<String>,
}

impl Options {
    /// Is the target named `name` selected (all are without `--only`)?
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|t| t.name() == name)
    }
    /// Was it named explicitly with `--only`?
    fn named(&self, name: &str) -> bool {
        self.only.iter().any(|t| t.name() == name)
    }
}

/// The release facts for HEAD; problems are recorded, `None` when they cannot be had.
pub fn gather_facts(cfg: &Config, problems: &mut Problems) -> Result<Option<Facts>> {
    gather_facts_for(cfg, None, problems)
}

/// The release facts for `version` (its tag must exist) or, without one, for the release tagged
/// at HEAD (whose managed files must agree with it).
pub fn gather_facts_for(
    cfg: &Config,
    wanted: Option<&Version>,
    problems: &mut Problems,
) -> Result<Option<Facts>> {
    if let Some(v) = wanted {
        let tag = version::git_tag(&cfg.tag_prefix, v);
        if !git::tag_exists(&cfg.root, &tag)? {
            problems.failure(format!(
                "there is no tag {tag}: which version was released? (`git tag -l '{}*'`)",
                cfg.tag_prefix
            ));
            return Ok(None);
        }
    }
    let tags: Vec<Version> = git::tags_at_head(&cfg.root)?
        .iter()
        .filter_map(|t| history::release_version(&cfg.tag_prefix, t))
        .collect();
    let at_head = wanted.is_none();
    let Some(version) = wanted.cloned().or_else(|| tags.into_iter().max()) else {
        problems.failure(format!(
            "HEAD has no release tag ({}X.Y.Z): publish-prod publishes the version tagged at HEAD; run \
             `cargo xtask release`, or check out the release tag",
            cfg.tag_prefix
        ));
        return Ok(None);
    };
    let tag = version::git_tag(&cfg.tag_prefix, &version);
    let managed = if at_head {
        managed::load(cfg, problems)
    } else {
        None
    };
    if let Some(m) = managed {
        let readings = m.readings();
        if readings.iter().any(|r| r.version != version) {
            problems.failure(format!(
                "the managed files disagree with the tag {tag} at HEAD:\n{}",
                managed::table(&readings, Some(&version)).trim_end()
            ));
        }
    }
    let rev = format!("{tag}^{{commit}}");
    facts_at(cfg, version, &rev, problems).map(Some)
}

/// The facts of releasing `version` from the commit `rev` names (its tag, or HEAD).
pub fn facts_at(
    cfg: &Config,
    version: Version,
    rev: &str,
    problems: &mut Problems,
) -> Result<Facts> {
    let head = git::git_read(&cfg.root, ["log", "-1", "--format=%H%x00%ct", rev])
        .with_context(|| format!("reading {rev}"))?;
    let head = head.trim_end();
    let (commit, time) = head.split_once('\0').unwrap_or((head, "0"));
    let released = history::release_tag_names(&cfg.root, &cfg.tag_prefix)?
        .into_iter()
        .map(|t| t.version)
        .collect();
    let pyproject = std::fs::read_to_string(cfg.path(&cfg.pyproject)).unwrap_or_default();
    let package = cfg
        .python
        .package
        .clone()
        .or_else(|| crate::core::pyproject::project_name(&pyproject))
        .unwrap_or_default();
    if package.is_empty() {
        problems.invalid(format!(
            "{} has no [project].name; set it, or `package` in [workspace.metadata.release.python]",
            cfg.pyproject
        ));
    }
    Ok(Facts {
        cfg: cfg.clone(),
        tag: version::git_tag(&cfg.tag_prefix, &version),
        version,
        short: commit[..commit.len().min(7)].to_string(),
        commit: commit.to_string(),
        commit_time: time.trim().parse().unwrap_or(0),
        released,
        package,
        work: publish::work_dir(cfg),
        gates_skipped: None,
    })
}

/// The steps of every selected target, in publishing order, with each step's stage name and
/// target.
pub struct Assembled {
    pub plan: Plan,
    pub stages: Vec<&'static str>,
    /// The name of the target each step belongs to.
    pub owners: Vec<&'static str>,
}

impl Assembled {
    /// The gates' steps as the `test` stage: after the builds, before the first publish step.
    fn insert_gates(&mut self, steps: Vec<Step>) {
        let at = self
            .stages
            .iter()
            .position(|s| *s != "build")
            .unwrap_or(self.stages.len());
        for (n, s) in steps.into_iter().enumerate() {
            self.plan.steps.insert(at + n, s);
            self.stages.insert(at + n, "test");
            self.owners.insert(at + n, "gates");
        }
    }

    /// Where a dry run shows a target's problems: under its first publish step (what a missing
    /// credential or tool stops), else its first step.
    fn step_of(&self, t: &str) -> Option<usize> {
        let mine = |stage: Option<&str>| {
            (0..self.owners.len())
                .find(|&i| self.owners[i] == t && stage.is_none_or(|s| self.stages[i] == s))
        };
        mine(Some("publish")).or_else(|| mine(None))
    }
}

/// Builds run in dependency order (the wheel first: the image installs it, SHA256SUMS lists it);
/// publishing runs least reversible last (registries, then the index, then the GitHub release).
pub fn assemble(targets: Vec<(&'static dyn crate::targets::Target, TargetPlan)>) -> Assembled {
    let mut plan = Plan::default();
    let mut stages = Vec::new();
    let mut owners = Vec::new();
    let mut by_build = targets;
    by_build.sort_by_key(|(t, _)| t.build_rank());
    // The wheel the image installs is the Python target's build when that target is planned:
    // built (and its tool venv made) once.
    let python_planned = by_build.iter().any(|(t, _)| t.builds_the_wheel());
    // An image that does not install the wheel builds at the same time as the Python dists:
    // their steps become the lanes of one step, where the Python build would be.
    let concurrent = python_planned
        && by_build
            .iter()
            .any(|(t, tp)| tp.independent_build && !t.builds_the_wheel() && !tp.build.is_empty());
    let mut publish: Vec<(&dyn crate::targets::Target, Vec<Step>)> = Vec::new();
    let mut verify: Vec<(&'static str, Step)> = Vec::new();
    let mut lanes: Vec<(String, Vec<Step>)> = Vec::new();
    let mut lanes_at: Option<(usize, &'static str)> = None;
    for (t, tp) in by_build {
        let inputs = if python_planned {
            Vec::new()
        } else {
            tp.inputs
        };
        let steps: Vec<Step> = inputs.into_iter().chain(tp.build).collect();
        if concurrent && (t.builds_the_wheel() || tp.independent_build) && !steps.is_empty() {
            lanes_at.get_or_insert((plan.steps.len(), t.name()));
            let label = if t.builds_the_wheel() {
                "python dists".to_string()
            } else {
                format!("{} image", t.name())
            };
            lanes.push((label, steps));
        } else {
            for s in steps {
                plan.push(s);
                stages.push("build");
                owners.push(t.name());
            }
        }
        verify.extend(tp.verify.into_iter().map(|s| (t.name(), s)));
        publish.push((t, tp.publish));
    }
    if let Some((at, owner)) = lanes_at {
        plan.steps.insert(
            at,
            Step::Action(Box::new(crate::run::concurrent::Concurrently {
                what: "the builds that do not depend on each other".into(),
                lanes,
            })),
        );
        stages.insert(at, "build");
        owners.insert(at, owner);
    }
    publish.sort_by_key(|(t, _)| t.publish_rank());
    for (t, steps) in publish {
        for s in steps {
            plan.push(s);
            stages.push("publish");
            owners.push(t.name());
        }
    }
    for (t, s) in verify {
        plan.push(s);
        stages.push("verify");
        owners.push(t);
    }
    Assembled {
        plan,
        stages,
        owners,
    }
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    crate::cmd::bump::intent::refuse_if_pending(&root, "publish-prod")?;
    let mut problems = Problems::default();
    let cfg = config::load_or_refuse(&root, "publish-prod")?;
    crate::targets::notices::begin("publish-prod", &cfg, o.dry_run);
    if o.notify {
        crate::targets::notices::also_on_success();
    }
    crate::targets::gates::check_skips(&cfg, &o.skips).map_err(crate::usage)?;
    let Some(mut facts) = gather_facts(&cfg, &mut problems)? else {
        return problems.check("publish-prod").map(|()| 0);
    };
    crate::targets::notices::release(&facts.package, &facts.version.to_string(), &facts.tag);
    // The pre-publish gates, between the build stage and the first publish step.
    let gates = crate::targets::gates::plan(&cfg, crate::core::gates::Stage::PrePublish, &o.skips);
    if let Some(w) = crate::targets::gates::skip_warning("publish-prod", &gates.skipped) {
        ui.warn(&w);
    }
    // This run's overrides, and those `release` recorded in the tag's message.
    let from_tag = git::git_read(
        &cfg.root,
        ["tag", "-l", "--format=%(contents)", facts.tag.as_str()],
    )
    .unwrap_or_default();
    const SKIPPED: &str = "Released with gates skipped: ";
    let lines: Vec<String> = from_tag
        .lines()
        .filter_map(|l| l.strip_prefix(SKIPPED))
        .map(|l| l.trim_end().to_string())
        .chain(
            crate::core::gates::skipped_line(&gates.skipped)
                .map(|l| l.trim_start_matches(SKIPPED).to_string()),
        )
        .collect();
    facts.gates_skipped = (!lines.is_empty()).then(|| format!("{SKIPPED}{}", lines.join(", ")));
    let status = git::status(&cfg.root)?;
    if !status.changed.is_empty() {
        problems.failure(format!(
            "the work tree has uncommitted changes ({}); publish exactly what the tag holds",
            status.changed.join(", ")
        ));
    }
    let mut targets = Vec::new();
    // The problems each target's gather found (a dry run shows them on that target's steps).
    let mut raised: Vec<(&'static str, std::ops::Range<usize>)> = Vec::new();
    for t in crate::targets::registered() {
        if !o.wants(t.name()) {
            continue;
        }
        let before = problems.list.len();
        let gathered = match from_digests(o, t.name(), &facts, &mut problems) {
            Some(g) => g?,
            None => t.gather(&facts, &mut problems)?,
        };
        if gathered.is_none() && o.named(t.name()) {
            if let Some(msg) = t.unconfigured() {
                problems.failure(msg);
            }
        }
        raised.push((t.name(), before..problems.list.len()));
        if let Some(tp) = gathered {
            targets.push((t, tp));
        }
    }
    // The deploy runs after everything else when the image is published in this run.
    let deploy = plan_deploy(&cfg, &facts, o, &targets, &mut problems);
    if let Some(what) = &o.reviewed {
        ui.note(&format!(
            "{} is the merge of {what}, reviewed before the merge and built from it: the review \
             is the gate (no separate CI check of the `{}` workflow)",
            facts.tag, cfg.release_workflow
        ));
    } else if o.skip_ci_check {
        ui.warn(&format!(
            "--skip-ci-check: NOT checking that the `{}` workflow and the checks of its commit passed for {} — emergency use only",
            cfg.release_workflow, facts.tag
        ));
    } else if inside_release_workflow(&cfg.release_workflow) {
        // Running as a job of the release workflow itself: its run on this tag is the one in
        // progress, and the jobs this one `needs:` are what gate it.
        ui.note(&format!(
            "running inside {} for {}: the jobs this one needs gate it (no separate CI check)",
            cfg.release_workflow, facts.tag
        ));
    } else {
        crate::targets::github::ci_check(
            &facts,
            &crate::targets::github::process_gh_env(),
            &mut problems,
        )?;
        // The tag's commit: every check run and status green (pending ones waited for up to
        // ci-wait-s; a dry run does not wait).
        let wait = if o.dry_run { 0 } else { cfg.ci_wait_s };
        crate::targets::github::commit_check(
            &facts,
            &crate::targets::github::process_gh_env(),
            Duration::from_secs(wait),
            ui,
            &mut problems,
        )?;
    }
    if !o.dry_run && !problems.is_empty() {
        return problems.check("publish-prod").map(|()| 0);
    }

    let mut assembled = assemble(targets);
    let gate_report = gates.report.clone();
    let gate_skipped = crate::targets::gates::skipped_json(&gates.skipped);
    assembled.insert_gates(gates.steps);
    if let Some(step) = deploy {
        assembled.plan.push(step);
        assembled.stages.push("deploy");
        assembled.owners.push("deploy");
    }
    // Every credential tried at once, before anything is built or published.
    let names: Vec<&str> = assembled.owners.clone();
    if let Some(step) = crate::targets::credentials::step(&cfg, &names) {
        assembled.plan.steps.insert(0, step);
        assembled.stages.insert(0, "preflight");
        assembled.owners.insert(0, "credentials");
    }
    // A dry run shows the whole plan even when a real run would refuse (no credentials, no
    // engine yet): each problem under the step of the target that raised it, then all of them.
    let mut marks: std::collections::BTreeMap<usize, Vec<String>> = Default::default();
    for (t, range) in &raised {
        if let Some(i) = assembled.step_of(t) {
            marks
                .entry(i)
                .or_default()
                .extend(problems.list[range.clone()].iter().cloned());
        }
    }
    let Assembled {
        plan,
        stages,
        owners: _,
    } = assembled;
    let summary = format!(
        "{} {} ({} steps)",
        facts.package,
        facts.tag,
        plan.steps.len()
    );
    if o.dry_run {
        // The notices are effects too: what a real run sends when it ends (on failure; on
        // success with `notify-on` or --notify), with run-time values as placeholders.
        let when = crate::targets::notices::when();
        let alerts = crate::targets::notices::planned();
        crate::targets::notices::listed();
        if o.json {
            ui::print_json(&json!({
                "dry_run": true, "version": facts.version.to_string(), "tag": facts.tag,
                "steps": plan.to_json_marked(&cfg.root, &marks),
                "alerts": {
                    "on": when,
                    "requests": alerts.iter().map(|a| crate::run::plan::sub_json(a, &cfg.root)).collect::<Vec<_>>(),
                },
                "problems": problems.list,
                "ledger": crate::targets::ledger::dry_run_json(&cfg, &facts.commit, &facts.tag, o.wants("github")),
            }));
        } else {
            let refused = if problems.is_empty() {
                ""
            } else {
                " (a real run would refuse: see the problems below)"
            };
            ui.heading(&format!(
                "publish-prod {summary} — dry run, nothing will be changed{refused}"
            ));
            plan.render_marked(ui, &cfg.root, &marks);
            crate::targets::ledger::render_dry_run(
                ui,
                &cfg,
                &facts.commit,
                &facts.tag,
                o.wants("github"),
            );
            if alerts.is_empty() {
                ui.note(
                    "alerts: none (set `notify` and SLACK_WEBHOOK, DISCORD_WEBHOOK, `webhooks` or \
                     SMTP_URL + MAIL_TO to be told how a release ended)",
                );
            } else {
                let mut lines = vec![format!("alerts, on {}:", when.join(" and "))];
                for a in &alerts {
                    lines.extend(
                        crate::run::plan::sub_lines(a, &cfg.root)
                            .into_iter()
                            .map(|l| format!("    {l}")),
                    );
                }
                ui.note(&lines.join("\n"));
            }
        }
        return problems.check("publish-prod").map(|()| 0);
    }
    ui.heading(&format!("publish-prod {summary}"));
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut journal = Journal::open(&facts, run_id)?;
    journal.event(
        json!({"event": "start", "version": facts.version.to_string(), "steps": plan.steps.len()}),
    );
    let started = Instant::now();
    let mut ledger = crate::targets::ledger::record(
        "publish-prod",
        &facts.version.to_string(),
        &facts.tag,
        &facts.commit,
    );
    let mut records: Vec<(usize, String, String, String, Duration)> = Vec::new();
    let staged = crate::run::exec::Stages {
        of_step: stages.iter().map(|s| s.to_string()).collect(),
        limits: ["build", "test", "publish", "verify"]
            .into_iter()
            .filter_map(|s| cfg.timeouts.of(s).map(|d| (s.to_string(), d)))
            .collect(),
    };
    let result =
        crate::run::exec::execute_staged(&plan, ui, &cfg.root, &staged, &mut |r: &StepRecord| {
            let (status, detail) = match &r.result {
                Ok(Done::Ran(what)) => ("done", what.clone()),
                Ok(Done::Skipped(why)) => ("skipped", why.clone()),
                Err(e) => ("failed", e.clone()),
            };
            journal.event(json!({
                "event": "step", "index": r.index + 1, "stage": stages[r.index], "step": r.header,
                "status": status, "detail": detail, "duration_ms": r.took.as_millis() as u64,
            }));
            records.push((
                r.index,
                r.header.to_string(),
                status.to_string(),
                detail,
                r.took,
            ));
        });
    let ok = result.is_ok();
    let took = started.elapsed();
    journal.event(json!({"event": "end", "status": if ok { "success" } else { "failure" }, "duration_ms": took.as_millis() as u64}));
    // Notices (sent by `run_main` when the command ends): the failed stage, what was published.
    {
        let failed = records.iter().find(|r| r.2 == "failed");
        crate::targets::notices::stage(
            failed
                .or(records.last())
                .map(|r| stages[r.0])
                .unwrap_or("build"),
        );
        crate::targets::notices::published(
            records
                .iter()
                .filter(|r| stages[r.0] == "publish" && r.2 == "done")
                .map(|r| r.1.clone())
                .collect(),
        );
    }
    step_summary(&facts, &stages, &records, ok, took);
    let mut report = report_json(&facts, &stages, &records, ok, started.elapsed());
    report["gates"] = gates_json(&gate_report, gate_skipped.clone(), &facts);
    let report_path = facts
        .work
        .join("reports")
        .join(format!("publish-{}.json", facts.tag));
    if let Some(dir) = report_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::run::exec::write_atomic(
        &report_path,
        &ui::redact(&serde_json::to_string_pretty(&report)?),
    )?;
    // The ledger (git notes on the release commit, pushed; ledger.json on the GitHub release).
    {
        use crate::targets::ledger as l;
        l::finish(&mut ledger, &result, took);
        ledger.stages = l::stages_of(&stages, &records);
        ledger.gates = l::gates_of(
            gate_report
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref(),
            &gate_skipped,
        );
        ledger.notes = facts.gates_skipped.clone();
        let values = result
            .as_ref()
            .map(|r| r.values.clone())
            .unwrap_or_default();
        ledger.artifacts = l::artifacts_of(&facts, &values, ok);
        l::write(ui, &cfg, &ledger, o.wants("github"));
    }
    if o.json {
        ui::print_json(&report);
    }
    if let Err(e) = result {
        // A failed deploy leaves everything published and verified: say so, exit 1.
        if let Some(r) = records
            .iter()
            .find(|r| r.2 == "failed" && stages[r.0] == "deploy")
        {
            return Err(anyhow::anyhow!("published and verified; {}", r.3));
        }
        return Err(e);
    }
    // The summary: what each verification proved, with the URLs.
    ui.heading(&format!("published {} {}:", facts.package, facts.tag));
    for r in records
        .iter()
        .filter(|r| stages[r.0] == "verify" || (stages[r.0] == "deploy" && r.2 == "done"))
    {
        for line in r.3.lines().filter(|l| !l.trim().is_empty()) {
            ui.line(&format!("  {line}"));
        }
    }
    ui.line(&format!(
        "{} published {} in {} — report: {}",
        ui.paint(Style::Green, "done:"),
        facts.tag,
        ui::human_duration(started.elapsed()),
        report_path
            .strip_prefix(&cfg.root)
            .unwrap_or(&report_path)
            .display()
    ));
    Ok(0)
}

/// `--from-digests`: the Docker target assembled from the digest files instead of built
/// (`None`: gather the target as usual).
fn from_digests(
    o: &Options,
    target: &str,
    facts: &Facts,
    problems: &mut Problems,
) -> Option<publish::Gathered> {
    if o.from_digests.is_empty() || target != "docker" {
        return None;
    }
    let base = std::env::current_dir().unwrap_or_else(|_| facts.cfg.root.clone());
    Some(crate::targets::docker::digests::gather(
        facts,
        &o.from_digests,
        &base,
        problems,
    ))
}

/// The deploy step of this run: with a deploy table, when the docker target is in the run
/// (its push records the digest the command may use); skipped with `--no-deploy`.
fn plan_deploy(
    cfg: &Config,
    facts: &Facts,
    o: &Options,
    targets: &[(&'static dyn crate::targets::Target, TargetPlan)],
    problems: &mut Problems,
) -> Option<Step> {
    let deploy = cfg.deploy.as_ref()?;
    let docker = cfg.docker.as_ref()?;
    if !targets.iter().any(|(t, _)| t.name() == "docker") {
        return None;
    }
    if o.no_deploy {
        return Some(crate::targets::deploy::skipped(
            deploy,
            &format!(
                "--no-deploy: not deploying {} to {}",
                facts.tag, deploy.environment
            ),
        ));
    }
    // The first registry's: the digest its push records, and its repository.
    let input = crate::targets::deploy::DeployInput {
        version: facts.pep440(),
        tag: facts.tag.clone(),
        docker_tag: crate::core::dockertags::exact_tag(&cfg.tag_prefix, &facts.version),
        digest: docker
            .registries
            .first()
            .map(|r| format!("<{}>", crate::targets::docker::digest_key(r))),
        image: docker.repositories().first().cloned(),
    };
    let gh =
        crate::targets::deploy::github(cfg, &crate::targets::github::process_gh_env(), problems);
    Some(crate::targets::deploy::step_with(deploy, &input, gh))
}

/// In GitHub Actions, is this a job of the release workflow (`GITHUB_WORKFLOW_REF` names it)?
pub fn inside_release_workflow(workflow: &str) -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
        && std::env::var("GITHUB_WORKFLOW_REF")
            .is_ok_and(|r| r.contains(&format!("/.github/workflows/{workflow}@")))
}

/// In GitHub Actions, a markdown summary appended to `$GITHUB_STEP_SUMMARY`.
fn step_summary(
    facts: &Facts,
    stages: &[&'static str],
    records: &[(usize, String, String, String, Duration)],
    ok: bool,
    took: Duration,
) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let mut md = format!(
        "## {} publish-prod {} {}\n\n{} in {}\n\n| stage | step | status | time |\n| --- | --- | --- | --- |\n",
        if ok { "✅" } else { "❌" },
        facts.package,
        facts.tag,
        if ok { "published" } else { "failed" },
        ui::human_duration(took)
    );
    for r in records {
        let status = if r.2 == "skipped" {
            format!("skipped: {}", r.3.replace('|', "\\|"))
        } else {
            r.2.clone()
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            stages[r.0],
            r.1.replace('|', "\\|"),
            status,
            ui::human_duration(r.4)
        ));
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(ui::redact(&md).as_bytes());
    }
}

/// The JSON report (schema `slipway.publish-report/1`, documented in the README).
pub fn report_json(
    facts: &Facts,
    stages: &[&'static str],
    records: &[(usize, String, String, String, Duration)],
    ok: bool,
    took: Duration,
) -> serde_json::Value {
    let mut by_stage: Vec<serde_json::Value> = Vec::new();
    for stage in ["preflight", "build", "test", "publish", "verify", "deploy"] {
        let steps: Vec<&(usize, String, String, String, Duration)> =
            records.iter().filter(|r| stages[r.0] == stage).collect();
        let planned = stages.iter().filter(|s| **s == stage).count();
        if planned == 0 {
            continue;
        }
        let failed = steps.iter().any(|r| r.2 == "failed");
        let status = if failed {
            "failed"
        } else if steps.len() < planned {
            "not run"
        } else {
            "ok"
        };
        by_stage.push(json!({
            "name": stage,
            "status": status,
            "duration_ms": steps.iter().map(|r| r.4.as_millis() as u64).sum::<u64>(),
            "steps": steps.iter().map(|r| json!({"step": r.1, "status": r.2, "detail": r.3, "duration_ms": r.4.as_millis() as u64})).collect::<Vec<_>>(),
        }));
    }
    json!({
        "schema": "slipway.publish-report/1",
        "version": facts.version.to_string(),
        "tag": facts.tag,
        "commit": facts.commit,
        "status": if ok { "success" } else { "failure" },
        "duration_ms": took.as_millis() as u64,
        "stages": by_stage,
    })
}

/// The report's `gates`: what the pre-publish gates concluded (`ran`, null when none ran) and
/// which ones an override skipped (`skipped`, with the flag), with the release notes' line.
fn gates_json(
    report: &crate::targets::gates::Report,
    skipped: serde_json::Value,
    facts: &Facts,
) -> serde_json::Value {
    let ran = report.lock().unwrap_or_else(|e| e.into_inner()).clone();
    json!({"ran": ran, "skipped": skipped, "notes_line": facts.gates_skipped})
}

/// Append-only JSON lines under `target/slipway/journal/<tag>.jsonl`, secrets masked.
pub struct Journal {
    file: Option<std::fs::File>,
    run: u128,
}

impl Journal {
    pub fn open(facts: &Facts, run: u128) -> Result<Journal> {
        let dir = facts.work.join("journal");
        std::fs::create_dir_all(&dir)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{}.jsonl", facts.tag)))
            .context("cannot open the journal")?;
        Ok(Journal {
            file: Some(file),
            run,
        })
    }

    pub fn event(&mut self, mut value: serde_json::Value) {
        if let Some(obj) = value.as_object_mut() {
            obj.insert("run".into(), json!(self.run.to_string()));
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            obj.insert("time".into(), json!(now));
        }
        if let Some(f) = self.file.as_mut() {
            let _ = writeln!(f, "{}", ui::redact(&value.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::plan::Process;
    use std::path::Path;

    fn run(name: &str) -> Step {
        Step::Run(Process::new(name, Path::new("/r")))
    }

    fn headers(a: &Assembled) -> Vec<String> {
        a.plan
            .steps
            .iter()
            .zip(&a.stages)
            .zip(&a.owners)
            .map(|((s, stage), owner)| format!("{stage} {owner} {}", s.header(Path::new("/r"))))
            .collect()
    }

    fn docker() -> TargetPlan {
        TargetPlan {
            inputs: vec![run("venv"), run("wheel")],
            build: vec![run("image"), run("validate")],
            publish: vec![run("push")],
            verify: vec![run("verify-image")],
            independent_build: false,
        }
    }

    #[test]
    fn builds_first_each_once_publish_least_reversible_last() {
        let pypi = TargetPlan {
            inputs: Vec::new(),
            build: vec![run("venv"), run("sdist+wheel")],
            publish: vec![run("upload")],
            verify: vec![run("verify-index")],
            independent_build: false,
        };
        let a = assemble(vec![
            (&crate::targets::docker::Docker, docker()),
            (&crate::targets::pypi::Pypi, pypi),
        ]);
        assert_eq!(
            headers(&a),
            [
                "build pypi run venv",
                "build pypi run sdist+wheel",
                "build docker run image",
                "build docker run validate",
                "publish docker run push",
                "publish pypi run upload",
                "verify pypi run verify-index",
                "verify docker run verify-image",
            ]
        );
        assert_eq!(a.step_of("pypi"), Some(5));
        // An image that does not install the wheel: one step, both builds at the same time.
        let independent = TargetPlan {
            independent_build: true,
            ..docker()
        };
        let pypi = TargetPlan {
            inputs: Vec::new(),
            build: vec![run("venv"), run("sdist+wheel")],
            publish: vec![run("upload")],
            verify: vec![run("verify-index")],
            independent_build: false,
        };
        let a = assemble(vec![
            (&crate::targets::docker::Docker, independent),
            (&crate::targets::pypi::Pypi, pypi),
        ]);
        let h = headers(&a);
        assert!(
            h[0].starts_with("build pypi the builds that do not depend on each other, at the same time: python dists (2 step(s)) ‖ docker image (2 step(s))"),
            "{h:?}"
        );
        assert_eq!(
            &h[1..],
            [
                "publish docker run push",
                "publish pypi run upload",
                "verify pypi run verify-index",
                "verify docker run verify-image"
            ]
        );
        // Without the Python target, the image's own inputs make the wheel.
        let a = assemble(vec![(&crate::targets::docker::Docker, docker())]);
        assert_eq!(
            headers(&a)[..3],
            [
                "build docker run venv",
                "build docker run wheel",
                "build docker run image"
            ]
        );
    }
}
