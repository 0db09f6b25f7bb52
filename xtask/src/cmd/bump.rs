//! `cargo xtask bump-version`: one version into every managed file, then commit and tag.

use anyhow::Result;
use semver::Version;
use serde_json::json;

use crate::cmd::Global;
use crate::core::branch::Cut;
use crate::core::gates::Stage;
use crate::core::version::{self, BumpSpec};
use crate::facts::config::{self, Config};
use crate::facts::managed::{self, Managed};
use crate::run::plan::{FileEdit, Plan, Process, Step};
use crate::run::ui::{Style, Ui};
use crate::{core::changelog, core::date, facts::git, Problems};

mod base;
mod checks;
pub mod intent;
mod resume;

#[derive(Debug, Default, Clone)]
pub struct Options {
    pub spec: String,
    pub pre: Option<String>,
    pub dry_run: bool,
    pub no_commit: bool,
    pub no_tag: bool,
    pub force: bool,
    pub json: bool,
    /// Generate changelog entries from Conventional Commits since the last release (implied by
    /// `auto`, always on for `release`).
    pub generate: bool,
    /// `release`: push branch and tag atomically (the push seals the plan).
    pub push: Push,
    /// `--abort`: undo an interrupted bump, restoring the state recorded before it (no spec
    /// needed).
    pub abort: bool,
    /// `--allow-placeholders`: tag a release whose changelog section only has the
    /// `_TODO: describe this change…_` placeholders (an empty `[Unreleased]`).
    pub allow_placeholders: bool,
    /// `--skip-gate <name>` / `--skip-gates`: the pre-release gates not to run (loud).
    pub skips: crate::core::gates::Skips,
}

/// Whether (and where) `release` pushes; the remote is resolved when the config is read, not
/// while parsing the command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Push {
    /// `bump-version`, `release --no-push`: commit and tag only.
    #[default]
    No,
    /// `release`: to the configured `remote` (default `origin`).
    ConfiguredRemote,
    /// To this remote.
    To(String),
}

impl Push {
    /// Does the command push?
    pub fn pushes(&self) -> bool {
        !matches!(self, Push::No)
    }
}

/// Everything a bump needs to know, gathered read-only.
pub struct Prepared {
    pub cfg: Config,
    pub current: Version,
    pub new: Version,
    pub tag: String,
    pub plan: Plan,
    /// The branch the release is cut from (the current one): committed on, pushed, recorded.
    pub branch: String,
    /// The remote `release` pushes to (None: no push).
    pub push: Option<String>,
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
    /// HEAD before the bump (empty in a repository without commits): the intent records it.
    pub head: String,
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    if o.abort {
        return resume::abort(&root, o, ui);
    }
    if let Some(pending) = intent::Intent::load(&root)? {
        return resume::resume(&root, o, ui, pending);
    }
    // Notices: how this ends (a refusal in `prepare` included) is told when it ends.
    if let Ok(cfg) = crate::facts::config::load(&root) {
        let what = if o.push.pushes() {
            "release"
        } else {
            "bump-version"
        };
        crate::targets::notices::begin(what, &cfg, o.dry_run);
    }
    let p = prepare(root, o)?;
    crate::targets::notices::release("", &p.new.to_string(), &p.tag);
    crate::targets::gates::check_skips(&p.cfg, &o.skips).map_err(crate::usage)?;
    let what = if p.push.is_some() {
        "release"
    } else {
        "bump-version"
    };
    // The pre-release gates: after the preflight checks, before the first edit.
    let gates = crate::targets::gates::plan(&p.cfg, Stage::PreRelease, &o.skips);
    if let Some(w) = crate::targets::gates::skip_warning(what, &gates.skipped) {
        ui.warn(&w);
    }
    let gate_plan = Plan { steps: gates.steps };
    for w in &p.warnings {
        ui.warn(w);
    }
    for n in &p.notes {
        ui.note(n);
    }
    let summary = format!(
        "{} → {}  (tag {}, PEP 440 {}, docker {})",
        p.current,
        p.new,
        p.tag,
        version::pep440(&p.new),
        version::docker_tag(&p.new)
    );
    if o.dry_run {
        if o.json {
            let mut j = result_json(&p, true, None);
            j["gates"] = gate_json(&gate_plan, &gates.skipped, &p.cfg.root);
            crate::run::ui::print_json(&j);
            return Ok(0);
        }
        ui.heading(&format!(
            "{what} {summary} — dry run, nothing will be changed"
        ));
        if !gate_plan.steps.is_empty() {
            ui.line("first, the pre-release quality gates (a failing blocking gate stops here):");
            gate_plan.render(ui, &p.cfg.root);
            ui.line("then:");
        }
        p.plan.render(ui, &p.cfg.root);
        return Ok(0);
    }
    ui.heading(&format!("{what} {summary}"));
    if !gate_plan.steps.is_empty() {
        let stages = crate::run::exec::Stages {
            of_step: vec!["test".into(); gate_plan.steps.len()],
            limits: p
                .cfg
                .timeouts
                .of("test")
                .map(|d| ("test".to_string(), d))
                .into_iter()
                .collect(),
        };
        crate::run::exec::execute_staged(&gate_plan, ui, &p.cfg.root, &stages, &mut |_| {})
            .map_err(|e| {
                // Nothing was changed: no incident report either.
                crate::targets::incident::unchanged();
                e.context(format!(
                    "{what} stopped by the pre-release gates; nothing was changed"
                ))
            })?;
    }
    let outcome = resume::execute_recorded(&p, o, what, ui)?;
    if o.json {
        crate::run::ui::print_json(&result_json(&p, false, Some(&outcome.executed)));
    }
    if let Some(remote) = &p.push {
        ui.line(&format!(
            "{} released {}: pushed {} and {} to {remote}",
            ui.paint(Style::Green, "done:"),
            p.new,
            p.branch,
            p.tag
        ));
        ui.line("next: the release workflow publishes the tag (`cargo xtask publish-prod`)");
        return Ok(0);
    }
    let remote = p.cfg.remote.as_str();
    if o.no_commit {
        ui.line(&format!(
            "{} files updated to {}; review with `git diff`, then commit them",
            ui.paint(Style::Green, "done:"),
            p.new
        ));
    } else if o.no_tag {
        ui.line(&format!(
            "{} committed {}; tag it with `git tag -a {} -m \"Release {}\"` when ready",
            ui.paint(Style::Green, "done:"),
            p.new,
            p.tag,
            p.tag
        ));
    } else {
        ui.line(&format!(
            "{} committed and tagged {}",
            ui.paint(Style::Green, "done:"),
            p.tag
        ));
        ui.line(&format!(
            "next: git push --atomic {remote} {} {}",
            p.branch, p.tag
        ));
    }
    Ok(0)
}

/// The pre-release gates of a dry run's JSON: their steps and the gates the overrides skip.
fn gate_json(
    plan: &Plan,
    skipped: &[crate::core::gates::Skipped],
    root: &std::path::Path,
) -> serde_json::Value {
    json!({
        "stage": "pre-release",
        "steps": plan.to_json(root),
        "skipped": crate::targets::gates::skipped_json(skipped),
    })
}

fn result_json(p: &Prepared, dry_run: bool, executed: Option<&[String]>) -> serde_json::Value {
    json!({
        "dry_run": dry_run,
        "current": p.current.to_string(),
        "new": p.new.to_string(),
        "tag": p.tag,
        "pep440": version::pep440(&p.new),
        "docker_tag": version::docker_tag(&p.new),
        "notes": p.notes,
        "warnings": p.warnings,
        "steps": p.plan.to_json(&p.cfg.root),
        "executed": executed,
    })
}

/// Gathers facts and builds the plan. Every problem is collected and reported at once; nothing is
/// written here.
pub fn prepare(root: std::path::PathBuf, o: &Options) -> Result<Prepared> {
    let mut problems = Problems::default();
    let cfg = match config::load(&root) {
        Ok(c) => c,
        Err(errors) => {
            for e in errors {
                problems.invalid(e);
            }
            Config::defaults(root.clone())
        }
    };
    let push = match &o.push {
        Push::No => None,
        Push::ConfiguredRemote => Some(cfg.remote.clone()),
        Push::To(remote) => Some(remote.clone()),
    };
    let auto = o.spec == "auto";
    let mut spec = if auto {
        None
    } else {
        BumpSpec::parse(&o.spec)
            .map_err(|e| problems.invalid(e))
            .ok()
    };
    if let Some(label) = &o.pre {
        if let Err(e) = version::validate_label(label) {
            problems.invalid(e);
        }
    }
    let source_date_epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
    let date = date::release_date(source_date_epoch.as_deref())
        .map_err(|e| problems.invalid(e))
        .ok();
    let managed = if problems.is_empty() {
        managed::load(&cfg, &mut problems)
    } else {
        None
    };

    let commit = !o.no_commit;
    let tag_it = commit && !o.no_tag;
    let status = git::status(&cfg.root)?;
    // Releases are cut from the current branch (any that `branches` matches); on a detached HEAD
    // (possible only without a commit) the main line's rules apply.
    let branch = status.branch.clone().unwrap_or_else(|| cfg.branch.clone());
    let cut = Cut::of(&branch, &cfg.branch);
    if !status.changed.is_empty() {
        let shown: Vec<&str> = status.changed.iter().take(5).map(String::as_str).collect();
        let more = status.changed.len().saturating_sub(5);
        problems.failure(format!(
            "the work tree has uncommitted changes ({}{}); commit or stash them first",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if commit {
        if let Some(p) = intent::index_lock_problem(&cfg.root) {
            problems.failure(p);
        }
        let (from, key) = release_branches(&cfg);
        match &status.branch {
            Some(b) if crate::core::branch::matching(&cfg.branches, b).is_some() => {}
            Some(b) => problems.failure(format!(
                "on branch `{b}`, but releases are cut from {from} (key `{key}`); `git switch {}` first",
                cfg.branch
            )),
            None => problems.failure(format!(
                "HEAD is detached; releases are cut from {from}: `git switch {}` first",
                cfg.branch
            )),
        }
    }

    let mut warnings = Vec::new();
    if let Some(w) = git::tag_prefix_warning(&git::tags(&cfg.root)?, &cfg.tag_prefix) {
        warnings.push(w);
    }
    let mut notes = Vec::new();
    let mut current = None;
    let mut new = None;
    let mut generated = Vec::new();
    if let Some(m) = &managed {
        let readings = m.readings();
        let Some((cur, cur_file)) = m.current() else {
            anyhow::bail!("no managed file states a version; configure `pyproject` or `files`");
        };
        // What changed since the last release (any, pre-releases included) decides `auto`.
        let mut since = None;
        let mut base_commit = None;
        if auto || o.generate {
            let (prev, mut rel) = crate::facts::commits::since_last_release(&cfg, false)?;
            let newest = m
                .changelog
                .as_ref()
                .and_then(|c| c.parsed.newest_version())
                .and_then(|s| s.version.clone());
            match base::decide(&cfg, newest.as_ref(), prev.as_ref())? {
                base::Base::Tagged => {}
                base::Base::Commit { sha, warning } => {
                    warnings.push(warning);
                    rel = base::since_commit(&cfg, &sha)?;
                    base_commit = Some(sha);
                }
                base::Base::Refuse(p) => problems.failure(p),
            }
            if auto {
                match crate::core::changegen::auto_level(&rel, &cur) {
                    Some(level) => spec = Some(level),
                    None => problems.failure(format!(
                        "no releasable commits since {} (only {}); nothing to release — use an explicit \
                         major|minor|patch|X.Y.Z to release anyway",
                        prev.as_ref().map_or("the first commit".to_string(), |t| t.name.clone()),
                        if rel.commit_count == 0 { "no commits".to_string() } else { format!("{} commit(s) of types that do not bump", rel.commit_count) }
                    )),
                }
            }
            since = Some((prev, rel));
        }
        if !managed::agree(&readings) {
            let table = managed::table(&readings, Some(&cur));
            if o.force {
                warnings.push(format!(
                    "the managed files disagree on the current version (--force given; using {cur} from {}):\n{table}",
                    cur_file
                ));
            } else {
                problems.failure(format!(
                    "the managed files disagree on the current version; fix them or pass --force to use {cur} from {}:\n{}",
                    cur_file,
                    table.trim_end()
                ));
            }
        }
        if let Some(spec) = &spec {
            match version::next_version(&cur, spec, o.pre.as_deref()) {
                Ok(n) => new = Some(n),
                Err(e) => problems.invalid(e),
            }
        }
        if let Some(n) = &new {
            // A maintenance branch releases its own line only; every branch releases above the
            // tags it competes with (its line's on a maintenance branch, all of them elsewhere).
            let what = match (auto, BumpSpec::parse(&o.spec)) {
                (true, _) => Some("`auto` (from the commits)".to_string()),
                (false, Ok(BumpSpec::Exact(_))) | (false, Err(_)) => None,
                (false, Ok(_)) => Some(format!("`{}`", o.spec)),
            };
            if let Err(e) =
                crate::core::branch::check_line(cut, &branch, &cfg.branch, n, what.as_deref())
            {
                problems.invalid(e);
            } else {
                let tags: Vec<Version> =
                    crate::facts::history::release_tag_names(&cfg.root, &cfg.tag_prefix)?
                        .into_iter()
                        .map(|t| t.version)
                        .collect();
                if let Err(e) =
                    crate::core::branch::check_newer_than_tags(cut, n, &tags, &cfg.tag_prefix)
                {
                    problems.invalid(e);
                }
            }
        }
        if let (Some(n), Some((prev, rel))) = (&new, since) {
            // A stable release lists everything since the previous stable release.
            let rel = if base_commit.is_some() {
                rel
            } else if n.pre.is_empty() && prev.as_ref().is_some_and(|t| !t.version.pre.is_empty()) {
                crate::facts::commits::since_last_release(&cfg, true)?.1
            } else {
                rel
            };
            let style = crate::facts::commits::style(&cfg);
            generated = crate::core::changelog::generated_groups(&rel, &style);
        }
        if let Some(n) = &new {
            if let Some((c, s)) = m
                .changelog
                .as_ref()
                .and_then(|c| Some((c, c.parsed.section(n)?)))
            {
                problems.failure(format!(
                    "{} already has a section for {n} (line {}); was this version released already?",
                    c.rel, s.heading_line
                ));
            }
            let tag = version::git_tag(&cfg.tag_prefix, n);
            if tag_it && git::tag_exists(&cfg.root, &tag)? {
                problems.failure(format!(
                    "tag {tag} already exists; choose another version, or delete the tag if it was a mistake (`git tag -d {tag}`)"
                ));
            } else if tag_it {
                if let Some(p) = checks::tag_blocked(&cfg.root, &tag)? {
                    problems.failure(p);
                }
            }
        }
        notes.extend(m.notes());
        current = Some(cur);
    }
    if let (Some(remote), Some(n)) = (&push, &new) {
        remote_preflight(
            &cfg,
            &branch,
            remote,
            &version::git_tag(&cfg.tag_prefix, n),
            &mut problems,
        )?;
    }
    problems.check(if push.is_some() {
        "release"
    } else {
        "bump-version"
    })?;
    let (Some(m), Some(current), Some(new), Some(date)) = (managed, current, new, date) else {
        unreachable!("no problems implies every fact was gathered");
    };

    let (edits, edit_notes) = compute_edits(&m, &new, &cfg, &date, &generated)?;
    let changelog_rel = m.changelog.as_ref().map_or("", |c| c.rel.as_str());
    let unreleased = m.changelog.as_ref().is_some_and(|c| c.style.unreleased);
    if let Some(p) = checks::placeholders(&edits, changelog_rel, unreleased, &new, o) {
        let mut problems = Problems::default();
        problems.failure(p);
        problems.check(if o.push.pushes() {
            "release"
        } else {
            "bump-version"
        })?;
    }
    notes.extend(edit_notes);
    let tag = version::git_tag(&cfg.tag_prefix, &new);
    let mut plan = build_plan(&cfg, &branch, &edits, &tag, commit, tag_it, push.as_deref());
    // Gates an override skipped are said in the tag's message: `publish-prod` carries the line
    // into the GitHub release notes.
    let (_, skipped) = crate::core::gates::select(&cfg.gates, Stage::PreRelease, &o.skips);
    if let Some(line) = crate::core::gates::skipped_line(&skipped) {
        note_in_tag_message(&mut plan, &line);
    }
    // Read here, by the dry run as well: HEAD is what a release intent's commit starts from
    // (without a commit there is none to check, and no process to spend on it).
    let head = if commit {
        intent::rev_parse(&cfg.root, "HEAD")?.unwrap_or_default()
    } else {
        String::new()
    };
    Ok(Prepared {
        cfg,
        current,
        new,
        tag,
        plan,
        branch,
        push,
        notes,
        warnings,
        head,
    })
}

/// The new content of every managed file. Pure given the parsed files.
pub fn compute_edits(
    m: &Managed,
    new: &Version,
    cfg: &Config,
    date: &str,
    generated: &[(&str, Vec<changelog::GenEntry>)],
) -> Result<(Vec<FileEdit>, Vec<String>)> {
    m.edits(&managed::Bump {
        new,
        tag_prefix: &cfg.tag_prefix,
        date,
        generated,
    })
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The plan: edits, `git add`, `git commit`, `git tag`, and for `release` the atomic push.
///
/// Nothing is sealed before the last step: if any step fails (a `git tag` blocked by a ref, a
/// push the remote rejects), the tag, the commit, the staging and the edits are undone in reverse
/// order, and the repository is exactly as before. With a push, the push seals the plan.
pub fn build_plan(
    cfg: &Config,
    branch: &str,
    edits: &[FileEdit],
    tag: &str,
    commit: bool,
    tag_it: bool,
    push: Option<&str>,
) -> Plan {
    let git = || Process::new("git", &cfg.root);
    let mut plan = Plan::default();
    for e in edits {
        plan.push(Step::Edit(e.clone()));
    }
    if !commit {
        return plan;
    }
    let files: Vec<String> = edits.iter().map(|e| e.display.clone()).collect();
    plan.push(Step::Run(
        git()
            .args(["add", "--"])
            .args(files.clone())
            .undone_by(git().args(["reset", "-q", "--"]).args(files.clone())),
    ));
    let commit_step = git()
        .args([
            "commit",
            "--quiet",
            "-m",
            &format!("chore(release): bump version to {tag}"),
            "--",
        ])
        .args(files);
    plan.push(Step::Run(
        commit_step.undone_by(git().args(["reset", "-q", "--soft", "HEAD~1"])),
    ));
    if tag_it {
        let tag_step = git().args(["tag", "-a", tag, "-m", &format!("Release {tag}")]);
        plan.push(Step::Run(
            tag_step.undone_by(git().args(["tag", "-d", tag])),
        ));
    }
    if let Some(remote) = push {
        plan.push(Step::Run(
            git()
                .args(["push", "--atomic", remote, branch, tag])
                .sealing(),
        ));
    }
    plan
}

/// Appends a paragraph to the message of the plan's `git tag -a … -m <message>`.
fn note_in_tag_message(plan: &mut Plan, line: &str) {
    for step in &mut plan.steps {
        if let Step::Run(p) = step {
            if p.args.first().is_some_and(|a| a == "tag") {
                if let Some(i) = p.args.iter().position(|a| a == "-m") {
                    if let Some(m) = p.args.get_mut(i + 1) {
                        *m = format!("{m}\n\n{line}");
                    }
                }
            }
        }
    }
}

/// The branches releases are cut from, as a bump's message shows them, and the key that sets them.
fn release_branches(cfg: &Config) -> (String, &'static str) {
    if cfg.branches.len() == 1 && cfg.branches[0] == cfg.branch {
        return (format!("`{}`", cfg.branch), "branch");
    }
    let list: Vec<String> = cfg.branches.iter().map(|b| format!("`{b}`")).collect();
    (list.join(", "), "branches")
}

/// `release` preflight against the remote, read-only: it exists and answers, the tag is not
/// there yet, and the remote branch has nothing that is not in HEAD (else: pull first).
pub fn remote_preflight(
    cfg: &Config,
    branch: &str,
    remote: &str,
    tag: &str,
    problems: &mut Problems,
) -> Result<()> {
    let Some(url) = git::remote_url(&cfg.root, remote)? else {
        problems.failure(format!(
            "there is no remote `{remote}` (key `remote`); add it with `git remote add {remote} <url>`"
        ));
        return Ok(());
    };
    let branch_ref = format!("refs/heads/{branch}");
    let tag_ref = format!("refs/tags/{tag}");
    let refs = match git::ls_remote(&cfg.root, remote, &[branch_ref.clone(), tag_ref.clone()]) {
        Ok(r) => r,
        Err(e) => {
            // The first line says what went wrong; git's other lines follow it.
            let msg = e.to_string();
            let (first, rest) = msg.split_once('\n').unwrap_or((&msg, ""));
            let rest = if rest.is_empty() {
                String::new()
            } else {
                format!("\ngit said:\n  {}", rest.replace('\n', "\n  "))
            };
            problems.failure(format!(
                "{first} ({url}); check the URL and your access, then run again{rest}"
            ));
            return Ok(());
        }
    };
    if refs.iter().any(|(name, _)| *name == tag_ref) {
        problems.failure(format!(
            "tag {tag} already exists on `{remote}`; was this version released already?"
        ));
    }
    if let Some((_, head)) = refs.iter().find(|(name, _)| *name == branch_ref) {
        if !git::is_ancestor(&cfg.root, head, "HEAD")? {
            problems.failure(format!(
                "`{branch}` is behind `{remote}/{branch}` (the remote has commits you do not have); \
                 `git pull --rebase {remote} {branch}` first"
            ));
        }
    }
    Ok(())
}
