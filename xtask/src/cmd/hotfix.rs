//! `cargo xtask hotfix <X.Y>`: switch to the maintenance branch `release/X.Y` of an already
//! released line, so that `cargo xtask release patch` cuts `X.Y.(n+1)` there.
//!
//! Gathered read-only: the configuration (`branches` must match `release/X.Y`), a clean tree, the
//! newest stable `<tag-prefix>X.Y.*` tag (the line must exist), and where the branch is — the
//! current branch already, a local branch, only on the remote, or nowhere yet. The plan is the
//! git steps that get there; `--dry-run` lists exactly them.

use std::path::Path;

use anyhow::Result;
use semver::Version;
use serde_json::json;

use crate::cmd::Global;
use crate::core::branch;
use crate::facts::config::{self, Config};
use crate::facts::{git, history};
use crate::run::plan::{Plan, Process, Step};
use crate::run::ui::{Style, Ui};
use crate::Problems;

#[derive(Debug, Default, Clone)]
pub struct Options {
    /// The line, as typed (`1.2`).
    pub line: String,
    pub dry_run: bool,
    pub json: bool,
}

/// How the maintenance branch is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// HEAD is on it already: nothing to do.
    Already,
    /// It exists locally: switch to it.
    Local,
    /// Only the remote has it: fetch it and switch to a branch tracking it.
    Remote { remote: String, fetch: bool },
    /// Nowhere yet: create it from the line's newest stable tag.
    Create,
}

pub struct Prepared {
    pub cfg: Config,
    pub line: (u64, u64),
    pub branch: String,
    /// The newest stable release of the line and its tag.
    pub newest: Version,
    pub tag: String,
    pub reach: Reach,
    pub plan: Plan,
    pub warnings: Vec<String>,
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    crate::cmd::bump::intent::refuse_if_pending(&root, "hotfix")?;
    let p = prepare(&root, o)?;
    for w in &p.warnings {
        ui.warn(w);
    }
    let (x, y) = p.line;
    let how = match &p.reach {
        Reach::Already => format!("already on `{}`", p.branch),
        Reach::Local => format!("switch to the existing `{}`", p.branch),
        Reach::Remote { remote, .. } => {
            format!("track `{remote}/{}` as `{}`", p.branch, p.branch)
        }
        Reach::Create => format!("create `{}` from {}", p.branch, p.tag),
    };
    let sentence = format!(
        "hotfix {x}.{y}: {how} (the newest {x}.{y} release is {})",
        p.newest
    );
    if o.dry_run {
        if o.json {
            crate::run::ui::print_json(&result_json(&p, true, None));
            return Ok(0);
        }
        ui.heading(&format!("{sentence} — dry run, nothing will be changed"));
        p.plan.render(ui, &p.cfg.root);
        return Ok(0);
    }
    ui.heading(&sentence);
    let executed = if p.plan.steps.is_empty() {
        Vec::new()
    } else {
        crate::run::exec::execute(&p.plan, ui, &p.cfg.root)?.executed
    };
    if o.json {
        crate::run::ui::print_json(&result_json(&p, false, Some(&executed)));
    }
    let next = Version::new(x, y, p.newest.patch + 1);
    ui.line(&format!(
        "{} on `{}`; next: commit (or `git cherry-pick`) the fixes, then `cargo xtask release patch` \
         (→ {next}) and `cargo xtask publish-prod`",
        ui.paint(Style::Green, "done:"),
        p.branch
    ));
    Ok(0)
}

fn result_json(p: &Prepared, dry_run: bool, executed: Option<&[String]>) -> serde_json::Value {
    json!({
        "dry_run": dry_run,
        "line": format!("{}.{}", p.line.0, p.line.1),
        "branch": p.branch,
        "newest": p.newest.to_string(),
        "tag": p.tag,
        "reach": match &p.reach {
            Reach::Already => "already",
            Reach::Local => "local",
            Reach::Remote { .. } => "remote",
            Reach::Create => "create",
        },
        "steps": p.plan.to_json(&p.cfg.root),
        "executed": executed,
    })
}

/// Gathers the facts (read-only) and builds the plan; every problem is reported at once.
pub fn prepare(root: &Path, o: &Options) -> Result<Prepared> {
    let mut problems = Problems::default();
    let (cfg, configured) = match config::load(root) {
        Ok(c) => (c, true),
        Err(errors) => {
            for e in errors {
                problems.invalid(e);
            }
            (Config::defaults(root.to_path_buf()), false)
        }
    };
    let line = branch::parse_line(&o.line);
    if line.is_none() {
        let hint = Version::parse(o.line.trim_start_matches('v'))
            .map(|v| format!(" (for {v}: `cargo xtask hotfix {}.{}`)", v.major, v.minor))
            .unwrap_or_default();
        problems.invalid(format!(
            "`{}` is not a release line; give it as X.Y, e.g. `cargo xtask hotfix 1.2`{hint}",
            o.line
        ));
    }
    let status = git::status(&cfg.root)?;
    if !status.changed.is_empty() {
        let shown: Vec<&str> = status.changed.iter().take(5).map(String::as_str).collect();
        problems.invalid(format!(
            "the work tree has uncommitted changes ({}{}); commit or stash them first",
            shown.join(", "),
            match status.changed.len().saturating_sub(5) {
                0 => String::new(),
                n => format!(" and {n} more"),
            }
        ));
    }
    let tags = history::release_tag_names(&cfg.root, &cfg.tag_prefix)?;
    let mut newest = None;
    if let Some((x, y)) = line {
        let name = branch::maintenance_branch((x, y));
        if configured && branch::matching(&cfg.branches, &name).is_none() {
            let list: Vec<String> = cfg.branches.iter().map(|b| format!("{b:?}")).collect();
            problems.invalid(format!(
                "releases may not be cut from `{name}`: key `branches` in {} {} is [{}]; set \
                 branches = [{}, \"release/*\"] there",
                config::FILE,
                config::TABLE,
                list.join(", "),
                list.join(", ")
            ));
        }
        // Highest first: the first stable tag of the line is its newest release.
        newest = tags
            .iter()
            .find(|t| t.version.pre.is_empty() && t.version.major == x && t.version.minor == y)
            .cloned();
        if newest.is_none() {
            let versions: Vec<Version> = tags.iter().map(|t| t.version.clone()).collect();
            let lines: Vec<String> = branch::lines(&versions)
                .iter()
                .map(|(a, b)| format!("{a}.{b}"))
                .collect();
            problems.invalid(format!(
                "there is no release of line {x}.{y} (no stable tag {}{x}.{y}.*); {}",
                cfg.tag_prefix,
                if lines.is_empty() {
                    "no line has a stable release yet: cut one with `cargo xtask release` first"
                        .to_string()
                } else {
                    format!("the released lines are {}", lines.join(", "))
                }
            ));
        }
    }
    problems.check("hotfix")?;
    let (Some(line), Some(newest)) = (line, newest) else {
        unreachable!("no problems implies a line with a release");
    };
    let name = branch::maintenance_branch(line);
    let mut warnings = Vec::new();
    let reach = reach(&cfg, &status, &name, &mut warnings)?;
    let plan = build_plan(&cfg, &name, &newest.name, &reach);
    Ok(Prepared {
        line,
        branch: name,
        newest: newest.version,
        tag: newest.name,
        reach,
        plan,
        warnings,
        cfg,
    })
}

/// Where the branch is: HEAD, a local branch, the remote (asked with `git ls-remote`; offline,
/// the remote-tracking ref of the last fetch), or nowhere.
fn reach(
    cfg: &Config,
    status: &git::Status,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<Reach> {
    if status.branch.as_deref() == Some(name) {
        return Ok(Reach::Already);
    }
    let exists = |r: &str| -> Result<bool> {
        Ok(git::git_output(&cfg.root, ["rev-parse", "-q", "--verify", r])?.ok)
    };
    if exists(&format!("refs/heads/{name}"))? {
        return Ok(Reach::Local);
    }
    let remote = cfg.remote.clone();
    if git::remote_url(&cfg.root, &remote)?.is_none() {
        return Ok(Reach::Create);
    }
    let head_ref = format!("refs/heads/{name}");
    match git::ls_remote(&cfg.root, &remote, std::slice::from_ref(&head_ref)) {
        Ok(refs) if refs.iter().any(|(r, _)| *r == head_ref) => Ok(Reach::Remote {
            remote,
            fetch: true,
        }),
        Ok(_) => Ok(Reach::Create),
        Err(e) => {
            let tracking = exists(&format!("refs/remotes/{remote}/{name}"))?;
            warnings.push(format!(
                "{e:#}; going by the last fetch: {}",
                if tracking {
                    format!("`{remote}/{name}` exists there")
                } else {
                    format!("`{remote}` had no `{name}`")
                }
            ));
            Ok(if tracking {
                Reach::Remote {
                    remote,
                    fetch: false,
                }
            } else {
                Reach::Create
            })
        }
    }
}

/// The git steps that put HEAD on `name`.
pub fn build_plan(cfg: &Config, name: &str, tag: &str, reach: &Reach) -> Plan {
    let git = || Process::new("git", &cfg.root);
    let mut plan = Plan::default();
    match reach {
        Reach::Already => {}
        Reach::Local => plan.push(Step::Run(git().args(["switch", "--quiet", name]))),
        Reach::Remote { remote, fetch } => {
            let tracking = format!("{remote}/{name}");
            if *fetch {
                plan.push(Step::Run(git().args([
                    "fetch".to_string(),
                    "--quiet".into(),
                    remote.clone(),
                    format!("+refs/heads/{name}:refs/remotes/{tracking}"),
                ])));
            }
            plan.push(Step::Run(git().args([
                "switch", "--quiet", "--create", name, "--track", &tracking,
            ])));
        }
        Reach::Create => plan.push(Step::Run(git().args([
            "switch",
            "--quiet",
            "--create",
            name,
            "--no-track",
            tag,
        ]))),
    }
    plan
}
