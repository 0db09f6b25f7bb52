//! `cargo xtask rollback [<bad-version>] [--to <good-version>]`: put the previous good release
//! back where people pull from.
//!
//! 1. Gather (read-only): the release versions from the tags (local, and the remote's, read with
//!    `git ls-remote`: no local state needed, a fresh clone or CI runner will do); the bad one
//!    (default: the newest stable release) and the good one (default: the highest lower stable
//!    release of the same major line); every target's endpoints and credentials.
//! 2. Plan: every registry's moving tags of the bad release that still point at it move to the
//!    good release's digest (`targets::docker::rollback`); the good GitHub release becomes the
//!    latest and the bad one gets a banner on its notes (`targets::github`); then the deploy hook.
//!    PyPI has no API that yanks: the page and the reason to paste are printed.
//! 3. Render (`--dry-run`) or execute; the report goes to `target/slipway/rollback-<bad>.json`.
//!
//! Every step reads the real state first, so a re-run finishes what a failed run left.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use semver::Version;
use serde_json::{json, Value as Json};

use crate::cmd::Global;
use crate::core::dockertags::{self, TagPolicy};
use crate::facts::config::{self, Config};
use crate::run::exec::StepRecord;
use crate::run::plan::{Done, Plan, Step};
use crate::run::ui::{self, Style, Ui};
use crate::targets::docker::calls::Endpoint;
use crate::targets::docker::registry::Repo;
use crate::targets::docker::rollback::{moving_tags, Ledger, RollbackTags};
use crate::targets::github;
use crate::{core::version, facts::git, facts::history, Problems};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The release to roll back (default: the newest stable release).
    pub bad: Option<String>,
    /// The release to roll back to (default: the highest lower stable release of its major line).
    pub to: Option<String>,
    pub dry_run: bool,
    pub json: bool,
}

/// Why a choice of versions was refused: the user's input (exit 2) or the tags (exit 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    Invalid(String),
    Failure(String),
}

/// Pure: the bad and the good release, from every release version and the arguments.
pub fn choose(
    released: &[Version],
    bad: Option<&Version>,
    to: Option<&Version>,
    prefix: &str,
) -> Result<(Version, Version), Refused> {
    let tag = |v: &Version| version::git_tag(prefix, v);
    let mut stable: Vec<&Version> = released.iter().filter(|v| v.pre.is_empty()).collect();
    stable.sort();
    stable.dedup();
    let bad = match bad {
        Some(b) => {
            if !released.contains(b) {
                return Err(Refused::Failure(format!(
                    "there is no release tag {}: which release is bad? (`git tag -l '{prefix}*'`{})",
                    tag(b),
                    stable
                        .last()
                        .map(|v| format!("; the newest is {}", tag(v)))
                        .unwrap_or_default()
                )));
            }
            if !b.pre.is_empty() {
                return Err(Refused::Failure(format!(
                    "{} is a pre-release: it got no moving tags and is never GitHub's latest \
                     release, so there is nothing to roll back",
                    tag(b)
                )));
            }
            b.clone()
        }
        None => match stable.last() {
            Some(v) => (*v).clone(),
            None => {
                return Err(Refused::Failure(format!(
                    "there is no stable release tag ({prefix}X.Y.Z) here or on the remote: \
                     nothing to roll back"
                )))
            }
        },
    };
    let good = match to {
        Some(g) => {
            if g >= &bad {
                return Err(Refused::Invalid(format!(
                    "--to {} is not lower than {}: a rollback goes back to an earlier release; \
                     pass --to <a version below {}>",
                    tag(g),
                    tag(&bad),
                    bad
                )));
            }
            if !released.contains(g) {
                return Err(Refused::Failure(format!(
                    "there is no release tag {} to roll back to: pass --to <an existing release>{}",
                    tag(g),
                    below(&stable, &bad, &tag)
                )));
            }
            if !g.pre.is_empty() {
                return Err(Refused::Failure(format!(
                    "--to {} is a pre-release: roll back to a stable release (--to X.Y.Z){}",
                    tag(g),
                    below(&stable, &bad, &tag)
                )));
            }
            g.clone()
        }
        None => match stable
            .iter()
            .rev()
            .find(|v| **v < &bad && v.major == bad.major)
        {
            Some(v) => (*v).clone(),
            None => {
                return Err(Refused::Failure(format!(
                    "nothing to roll back to: there is no stable release of the {}.x line below \
                     {}; pass --to <version> to roll back to another line{}",
                    bad.major,
                    tag(&bad),
                    below(&stable, &bad, &tag)
                )))
            }
        },
    };
    Ok((bad, good))
}

/// `; releases below v1.3.0: v1.2.0, v1.1.0` (the newest five), or nothing.
fn below(stable: &[&Version], bad: &Version, tag: &dyn Fn(&Version) -> String) -> String {
    let list: Vec<String> = stable
        .iter()
        .rev()
        .filter(|v| **v < bad)
        .take(5)
        .map(|v| tag(v))
        .collect();
    if list.is_empty() {
        String::new()
    } else {
        format!("; releases below {}: {}", tag(bad), list.join(", "))
    }
}

/// A version argument (`1.3.0` or `v1.3.0`); malformed is a usage error.
fn parse_arg(cfg: &Config, s: &str, what: &str) -> Result<Version> {
    let bare = s.strip_prefix(cfg.tag_prefix.as_str()).unwrap_or(s);
    version::parse_semver(bare)
        .or_else(|_| version::parse_pep440(bare))
        .map_err(|e| crate::usage(format!("invalid version `{s}` for {what}: {e}")))
}

/// Every release version: the local tags and the remote's (read-only `git ls-remote`; when it
/// cannot be read, the local ones alone, with a warning).
fn released(cfg: &Config, ui: &Ui) -> Result<Vec<Version>> {
    let mut out: Vec<Version> = history::release_tag_names(&cfg.root, &cfg.tag_prefix)?
        .into_iter()
        .map(|t| t.version)
        .collect();
    if git::remote_url(&cfg.root, &cfg.remote)?.is_some() {
        let pattern = format!("refs/tags/{}*", cfg.tag_prefix);
        match git::ls_remote(&cfg.root, &cfg.remote, &[pattern]) {
            Ok(refs) => {
                for (name, _) in refs {
                    let Some(tag) = name.strip_prefix("refs/tags/") else {
                        continue;
                    };
                    if tag.ends_with("^{}") {
                        continue;
                    }
                    if let Some(v) = history::release_version(&cfg.tag_prefix, tag) {
                        if !out.contains(&v) {
                            out.push(v);
                        }
                    }
                }
            }
            Err(e) => ui.warn(&format!(
                "{e:#}; choosing among the local tags only (`git fetch --tags {}` to see them all)",
                cfg.remote
            )),
        }
    }
    out.sort();
    Ok(out)
}

/// What PyPI needs done by hand (no upload API can yank a release).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PypiYank {
    pub package: String,
    pub page: String,
    pub reason: String,
    pub check: String,
    /// Set when the index is not PyPI: the page is a guess for a Warehouse-based index.
    pub note: Option<String>,
}

/// Pure: the page to yank `bad` on, for the configured index, and the reason to paste.
pub fn pypi_yank(index_url: &str, package: &str, bad: &Version, good: &Version) -> PypiYank {
    let origin = index_url
        .split_once("://")
        .map(|(scheme, rest)| format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest)))
        .unwrap_or_else(|| "https://pypi.org".into());
    let origin = if origin == "https://files.pythonhosted.org" {
        "https://pypi.org".to_string()
    } else {
        origin
    };
    let known = ["https://pypi.org", "https://test.pypi.org"].contains(&origin.as_str());
    let name = crate::targets::pypi::normalize(package);
    let (b, g) = (version::pep440(bad), version::pep440(good));
    PypiYank {
        package: package.to_string(),
        page: format!("{origin}/manage/project/{name}/release/{b}/"),
        reason: format!("rolled back: use {g} instead"),
        check: format!("cargo xtask verify {bad} --yanked"),
        note: (!known).then(|| {
            format!(
                "{origin} is not PyPI: that page exists on a Warehouse index; on another server \
                 remove or yank {package} {b} with its own tools"
            )
        }),
    }
}

impl PypiYank {
    fn lines(&self, bad: &Version) -> Vec<String> {
        let mut out = vec![
            format!(
                "PyPI cannot be rolled back through its upload API: yank {} {bad} by hand at",
                self.package
            ),
            format!("  {}", self.page),
            format!("  (Options → Yank) with the reason: {}", self.reason),
            format!("  then check with `{}`", self.check),
        ];
        if let Some(n) = &self.note {
            out.push(format!("  ({n})"));
        }
        out
    }

    fn to_json(&self) -> Json {
        json!({
            "package": self.package,
            "page": self.page,
            "reason": self.reason,
            "check": self.check,
            "note": self.note,
        })
    }
}

/// The planned steps, by owner (`docker`, `github`, `deploy`), and the ledger of the registry
/// step.
struct Built {
    plan: Plan,
    owners: Vec<&'static str>,
    ledger: Arc<Mutex<Ledger>>,
}

/// The deploy hook, run with the good version once the registries and GitHub are rolled back:
/// the digest is the good release's on the first registry, as the registry step records it.
fn deploy_steps(cfg: &Config, good: &Version, problems: &mut Problems) -> Vec<Step> {
    let (Some(deploy), Some(docker)) = (&cfg.deploy, &cfg.docker) else {
        return Vec::new();
    };
    let input = crate::targets::deploy::DeployInput {
        version: version::pep440(good),
        tag: version::git_tag(&cfg.tag_prefix, good),
        docker_tag: dockertags::exact_tag(&cfg.tag_prefix, good),
        digest: docker
            .registries
            .first()
            .map(|r| format!("<{}>", crate::targets::docker::digest_key(r))),
        image: docker.repositories().first().cloned(),
    };
    let gh = crate::targets::deploy::github(cfg, &github::process_gh_env(), problems);
    vec![crate::targets::deploy::step_with(deploy, &input, gh)]
}

fn build_plan(cfg: &Config, bad: &Version, good: &Version, problems: &mut Problems) -> Built {
    let (bad_tag, good_tag) = (
        version::git_tag(&cfg.tag_prefix, bad),
        version::git_tag(&cfg.tag_prefix, good),
    );
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut plan = Plan::default();
    let mut owners = Vec::new();
    if let Some(docker) = &cfg.docker {
        match TagPolicy::from_kinds(&cfg.tag_prefix, &docker.tags) {
            Err(e) => problems.invalid(format!("[workspace.metadata.release.docker] tags: {e}")),
            Ok(policy) => {
                let login = crate::targets::docker::credentials_from_env(problems);
                let endpoints = docker
                    .repositories()
                    .iter()
                    .map(|r| {
                        let repo = Repo::parse(r);
                        let creds =
                            crate::targets::docker::registry_credentials(&repo.registry, &login);
                        Endpoint::new(repo, creds)
                    })
                    .collect();
                let moving = moving_tags(bad, &policy);
                // No moving tags configured: the registries have nothing to roll back.
                if !moving.is_empty() {
                    // The logins of the registries it writes, first, all at once.
                    if let Some(step) = crate::targets::credentials::registries_step(
                        &docker.repositories(),
                        &login,
                        cfg.credentials_warn_days,
                    ) {
                        plan.push(step);
                        owners.push("credentials");
                    }
                    plan.push(Step::Action(Box::new(RollbackTags {
                        endpoints,
                        bad: dockertags::exact_tag(&cfg.tag_prefix, bad),
                        good: dockertags::exact_tag(&cfg.tag_prefix, good),
                        moving,
                        ledger: ledger.clone(),
                        digest_keys: docker
                            .registries
                            .iter()
                            .map(|r| crate::targets::docker::digest_key(r))
                            .collect(),
                    })));
                    owners.push("docker");
                }
            }
        }
    }
    if github::repo(cfg).is_some() {
        let gh_env = github::process_gh_env();
        let gh = match github::Gh::resolve(cfg, &gh_env) {
            Ok(gh) => Some(gh),
            Err(list) => {
                list.into_iter().for_each(|m| problems.failure(m));
                github::Gh::preview(cfg, &gh_env)
            }
        };
        if let Some(gh) = gh {
            let date =
                crate::core::date::release_date(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())
                    .unwrap_or_else(|e| {
                        problems.invalid(e);
                        String::new()
                    });
            plan.push(Step::Action(Box::new(github::MakeLatest {
                gh: gh.clone(),
                tag: good_tag.clone(),
            })));
            owners.push("github");
            plan.push(Step::Action(Box::new(github::MarkRolledBack {
                gh,
                tag: bad_tag.clone(),
                banner: github::rollback_banner(&date, &good_tag),
                body_file: crate::targets::publish::work_dir(cfg)
                    .join("rollback")
                    .join(format!("github-{bad_tag}.json")),
            })));
            owners.push("github");
        }
    }
    for step in deploy_steps(cfg, good, problems) {
        plan.push(step);
        owners.push("deploy");
    }
    Built {
        plan,
        owners,
        ledger,
    }
}

/// The Python package's name, when the project has one (then PyPI is a target).
fn package(cfg: &Config) -> Option<String> {
    cfg.python.package.clone().or_else(|| {
        let text = std::fs::read_to_string(cfg.path(&cfg.pyproject)).ok()?;
        crate::core::pyproject::project_name(&text)
    })
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let cfg = config::load_or_refuse(&root, "rollback")?;
    crate::targets::notices::begin("rollback", &cfg, o.dry_run);
    let bad_arg = o
        .bad
        .as_deref()
        .map(|s| parse_arg(&cfg, s, "<bad-version>"))
        .transpose()?;
    let to_arg =
        o.to.as_deref()
            .map(|s| parse_arg(&cfg, s, "--to"))
            .transpose()?;
    let versions = released(&cfg, ui)?;
    let mut problems = Problems::default();
    let (bad, good) = match choose(
        &versions,
        bad_arg.as_ref(),
        to_arg.as_ref(),
        &cfg.tag_prefix,
    ) {
        Ok(pair) => pair,
        Err(Refused::Invalid(m)) => return Err(crate::usage(m)),
        Err(Refused::Failure(m)) => {
            problems.failure(m);
            return problems.check("rollback").map(|()| 0);
        }
    };
    let (bad_tag, good_tag) = (
        version::git_tag(&cfg.tag_prefix, &bad),
        version::git_tag(&cfg.tag_prefix, &good),
    );
    crate::targets::incident::release("", &bad.to_string(), &bad_tag);
    let Built {
        plan,
        owners,
        ledger,
    } = build_plan(&cfg, &bad, &good, &mut problems);
    let pypi = package(&cfg).map(|p| pypi_yank(&cfg.python.index_url, &p, &bad, &good));
    if plan.steps.is_empty() && pypi.is_none() {
        problems.failure(format!(
            "nothing to roll back {bad_tag} on: {} configures no docker registries, GitHub \
             repository or Python package",
            config::FILE
        ));
    }
    if o.dry_run {
        if o.json {
            ui::print_json(&json!({
                "dry_run": true,
                "bad": bad.to_string(),
                "good": good.to_string(),
                "steps": plan.to_json(&cfg.root),
                "pypi": pypi.as_ref().map(PypiYank::to_json),
                "problems": problems.list,
                "ledger": crate::targets::ledger::dry_run_json(&cfg, &crate::targets::ledger::commit_of(&cfg.root, &bad_tag), &bad_tag, false),
            }));
        } else {
            let refused = if problems.is_empty() {
                ""
            } else {
                " (a real run would refuse: see the problems below)"
            };
            ui.heading(&format!(
                "rollback {bad_tag} → {good_tag} ({} steps) — dry run, nothing will be changed{refused}",
                plan.steps.len()
            ));
            plan.render(ui, &cfg.root);
            crate::targets::ledger::render_dry_run(
                ui,
                &cfg,
                &crate::targets::ledger::commit_of(&cfg.root, &bad_tag),
                &bad_tag,
                false,
            );
            if let Some(p) = &pypi {
                ui.note(&p.lines(&bad).join("\n"));
            }
        }
        return problems.check("rollback").map(|()| 0);
    }
    problems.check("rollback")?;
    ui.heading(&format!(
        "rollback {bad_tag} → {good_tag} ({} steps)",
        plan.steps.len()
    ));
    let mut entry = crate::targets::ledger::record(
        "rollback",
        &bad.to_string(),
        &bad_tag,
        &crate::targets::ledger::commit_of(&cfg.root, &bad_tag),
    );
    let (started, mut timed) = (std::time::Instant::now(), Vec::new());
    let mut records: Vec<(usize, String, String, String)> = Vec::new();
    let result = crate::run::exec::execute_with(&plan, ui, &cfg.root, &mut |r: &StepRecord| {
        timed.push(crate::targets::ledger::row(r));
        let (status, detail) = match &r.result {
            Ok(Done::Ran(what)) => ("done", what.clone()),
            Ok(Done::Skipped(why)) => ("skipped", why.clone()),
            Err(e) => ("failed", e.clone()),
        };
        records.push((r.index, r.header.to_string(), status.into(), detail));
    });
    let ok = result.is_ok();
    let steps: Vec<Json> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let rec = records.iter().find(|r| r.0 == i);
            json!({
                "target": owners[i],
                "step": rec.map(|r| r.1.clone()).unwrap_or_else(|| s.header(&cfg.root)),
                "status": rec.map(|r| r.2.as_str()).unwrap_or("not run"),
                "detail": rec.map(|r| r.3.clone()).unwrap_or_default(),
            })
        })
        .collect();
    let registries = ledger.lock().unwrap_or_else(|e| e.into_inner()).report(
        &dockertags::exact_tag(&cfg.tag_prefix, &bad),
        &dockertags::exact_tag(&cfg.tag_prefix, &good),
    );
    let mut report = json!({
        "schema": "slipway.rollback-report/1",
        "bad": bad.to_string(),
        "good": good.to_string(),
        "bad_tag": bad_tag,
        "good_tag": good_tag,
        "status": if ok { "success" } else { "failure" },
        "registries": registries,
        "steps": steps,
        "pypi": pypi.as_ref().map(PypiYank::to_json),
    });
    if let Err(e) = &result {
        report["error"] = json!(ui::redact(&format!("{e:#}")));
    }
    // The ledger: the rollback, on the bad release's commit, with every tag moved.
    crate::targets::ledger::finish(&mut entry, &result, started.elapsed());
    entry.stages = crate::targets::ledger::stages_of(&vec!["rollback"; plan.steps.len()], &timed);
    entry.moves = crate::targets::ledger::moves_of(&report["registries"]);
    entry.rolled_back_to = Some(good_tag.clone());
    crate::targets::ledger::write(ui, &cfg, &entry, false);
    let path = crate::targets::publish::work_dir(&cfg).join(format!("rollback-{bad}.json"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::run::exec::write_atomic(&path, &ui::redact(&serde_json::to_string_pretty(&report)?))?;
    if o.json {
        ui::print_json(&report);
    } else {
        print_report(ui, &report, &cfg.root, &path);
        if let Some(p) = &pypi {
            ui.note(&p.lines(&bad).join("\n"));
        }
    }
    result?;
    ui.line(&format!(
        "{} {bad_tag} is rolled back to {good_tag}",
        ui.paint(Style::Green, "done:")
    ));
    Ok(0)
}

/// The report for people: per registry each tag, from → to, or left / failed; each step.
fn print_report(ui: &Ui, report: &Json, root: &Path, path: &Path) {
    ui.heading(&format!(
        "rollback {} → {}:",
        report["bad_tag"].as_str().unwrap_or(""),
        report["good_tag"].as_str().unwrap_or("")
    ));
    let empty = Vec::new();
    for r in report["registries"].as_array().unwrap_or(&empty) {
        let name = r["repository"].as_str().unwrap_or("");
        let status = r["status"].as_str().unwrap_or("");
        match r["error"].as_str() {
            Some(e) => ui.line(&format!("  {name}: {status}: {e}")),
            None => ui.line(&format!("  {name}: {status}")),
        }
        for t in r["tags"].as_array().unwrap_or(&empty) {
            let s = |k: &str| t[k].as_str().unwrap_or("-").to_string();
            let line = match t["result"].as_str().unwrap_or("") {
                "moved" => format!("{} {} → {}", s("tag"), s("from"), s("to")),
                "already" => format!("{} already at {}", s("tag"), s("to")),
                "left" => format!("{} left alone at {} ({})", s("tag"), s("from"), s("why")),
                _ => format!(
                    "{} failed, still at {} ({})",
                    s("tag"),
                    s("from"),
                    s("error")
                ),
            };
            ui.line(&format!("    {line}"));
        }
    }
    for s in report["steps"].as_array().unwrap_or(&empty) {
        if s["target"] == "docker" {
            continue;
        }
        let detail = s["detail"].as_str().unwrap_or("");
        ui.line(&format!(
            "  {} ({}){}",
            s["step"].as_str().unwrap_or(""),
            s["status"].as_str().unwrap_or(""),
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {}", detail.replace('\n', "; "))
            }
        ));
    }
    ui.line(&format!(
        "  report: {}",
        path.strip_prefix(root).unwrap_or(path).display()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vs(list: &[&str]) -> Vec<Version> {
        list.iter().map(|v| Version::parse(v).unwrap()).collect()
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn pick(
        released: &[&str],
        bad: Option<&str>,
        to: Option<&str>,
    ) -> Result<(String, String), Refused> {
        choose(&vs(released), bad.map(v).as_ref(), to.map(v).as_ref(), "v")
            .map(|(b, g)| (b.to_string(), g.to_string()))
    }

    #[test]
    fn defaults_are_the_newest_and_the_one_below_it_in_its_line() {
        let tags = [
            "1.1.0",
            "1.2.0",
            "1.2.1-rc.1",
            "1.3.0",
            "2.0.0-rc.1",
            "0.9.0",
        ];
        assert_eq!(
            pick(&tags, None, None),
            Ok(("1.3.0".into(), "1.2.0".into()))
        );
        assert_eq!(
            pick(&tags, Some("1.2.0"), None),
            Ok(("1.2.0".into(), "1.1.0".into()))
        );
        assert_eq!(
            pick(&tags, None, Some("1.1.0")),
            Ok(("1.3.0".into(), "1.1.0".into()))
        );
        // Another major line only when asked for.
        assert_eq!(
            pick(&["1.4.0", "2.0.0"], None, Some("1.4.0")),
            Ok(("2.0.0".into(), "1.4.0".into()))
        );
    }

    #[test]
    fn refusals_name_the_fix() {
        let tags = ["1.2.0", "1.3.0", "1.3.1-rc.1", "2.0.0"];
        let failure = |r: Result<(String, String), Refused>| match r {
            Err(Refused::Failure(m)) => m,
            other => panic!("{other:?}"),
        };
        let m = failure(pick(&tags, Some("1.4.0"), None));
        assert!(m.starts_with("there is no release tag v1.4.0"), "{m}");
        let m = failure(pick(&tags, None, None));
        assert!(m.starts_with("nothing to roll back to: there is no stable release of the 2.x line below v2.0.0; pass --to <version>"), "{m}");
        assert!(m.ends_with("releases below v2.0.0: v1.3.0, v1.2.0"), "{m}");
        let m = failure(pick(&tags, Some("1.3.0"), Some("1.2.5")));
        assert!(
            m.starts_with("there is no release tag v1.2.5 to roll back to: pass --to"),
            "{m}"
        );
        let m = failure(pick(&tags, Some("1.3.1-rc.1"), None));
        assert!(m.contains("is a pre-release"), "{m}");
        assert!(failure(pick(&[], None, None)).contains("no stable release tag (vX.Y.Z)"));
        match pick(&tags, Some("1.3.0"), Some("2.0.0")) {
            Err(Refused::Invalid(m)) => {
                assert!(m.starts_with("--to v2.0.0 is not lower than v1.3.0"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            pick(&tags, Some("1.3.0"), Some("1.3.0")),
            Err(Refused::Invalid(_))
        ));
    }

    #[test]
    fn pypi_page_and_reason() {
        let y = pypi_yank(
            "https://pypi.org/simple/",
            "Acme_App",
            &v("1.3.0-rc.1"),
            &v("1.2.0"),
        );
        assert_eq!(
            y.page,
            "https://pypi.org/manage/project/acme-app/release/1.3.0rc1/"
        );
        assert_eq!(y.reason, "rolled back: use 1.2.0 instead");
        assert_eq!(y.check, "cargo xtask verify 1.3.0-rc.1 --yanked");
        assert_eq!(y.note, None);
        let t = pypi_yank(
            "https://test.pypi.org/simple/",
            "acme",
            &v("1.3.0"),
            &v("1.2.0"),
        );
        assert_eq!(
            t.page,
            "https://test.pypi.org/manage/project/acme/release/1.3.0/"
        );
        let local = pypi_yank(
            "http://127.0.0.1:8080/simple/",
            "acme",
            &v("1.3.0"),
            &v("1.2.0"),
        );
        assert_eq!(
            local.page,
            "http://127.0.0.1:8080/manage/project/acme/release/1.3.0/"
        );
        assert!(local.note.unwrap().contains("is not PyPI"));
    }

    fn gh() -> github::Gh {
        github::Gh {
            repo: "acme/app".into(),
            env: Vec::new(),
            cwd: "/r".into(),
        }
    }

    fn lines(d: &crate::run::plan::Decision) -> Vec<String> {
        d.subs()
            .iter()
            .flat_map(|s| crate::run::plan::sub_lines(s, Path::new("/r")))
            .collect()
    }

    #[test]
    fn github_latest_moves_only_when_it_is_not_the_good_release() {
        use crate::run::plan::{Decision, Reconcile};
        let step = github::MakeLatest {
            gh: gh(),
            tag: "v1.2.0".into(),
        };
        let rel =
            |id: u64, tag: &str| Some(json!({"id": id, "tag_name": tag, "prerelease": false}));
        let err = step
            .decide(&github::LatestSeen {
                release: None,
                latest: rel(2, "v1.3.0"),
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no published release v1.2.0") && err.contains("--to"),
            "{err}"
        );
        let d = step
            .decide(&github::LatestSeen {
                release: rel(1, "v1.2.0"),
                latest: rel(1, "v1.2.0"),
            })
            .unwrap();
        assert!(matches!(d, Decision::Done { .. }), "{d:?}");
        let d = step
            .decide(&github::LatestSeen {
                release: rel(1, "v1.2.0"),
                latest: rel(2, "v1.3.0"),
            })
            .unwrap();
        assert_eq!(
            lines(&d),
            ["$ gh api --include -X PATCH repos/acme/app/releases/1 -f make_latest=true"]
        );
        assert!(
            matches!(&d, Decision::Finish { summary, .. } if summary.ends_with("(was v1.3.0)"))
        );
    }

    #[test]
    fn the_banner_goes_on_once_and_the_notes_stay_below_it() {
        use crate::run::plan::{Decision, Reconcile, Sub};
        let banner = github::rollback_banner("2026-11-21", "v1.2.0");
        let step = github::MarkRolledBack {
            gh: gh(),
            tag: "v1.3.0".into(),
            banner: banner.clone(),
            body_file: "/r/target/slipway/rollback/github-v1.3.0.json".into(),
        };
        let d = step
            .decide(&Some(json!({"id": 7, "body": "Notes.", "html_url": "u"})))
            .unwrap();
        let Sub::Write { content, .. } = &d.subs()[0] else {
            panic!("{d:?}");
        };
        let body: Json = serde_json::from_str(content).unwrap();
        assert_eq!(body, json!({"body": format!("{banner}Notes.")}));
        assert_eq!(
            lines(&d)[1],
            "$ gh api --include -X PATCH repos/acme/app/releases/7 --input target/slipway/rollback/github-v1.3.0.json"
        );
        let marked = json!({"id": 7, "body": format!("{banner}Notes.")});
        assert!(matches!(
            step.decide(&Some(marked)).unwrap(),
            Decision::Done { .. }
        ));
        assert!(matches!(step.decide(&None).unwrap(), Decision::Done { .. }));
    }

    #[test]
    fn the_banner_starts_with_the_mark() {
        let b = github::rollback_banner("2026-11-21", "v1.2.0");
        assert!(b.starts_with(
            "> **Rolled back** on 2026-11-21: this release was rolled back to v1.2.0."
        ));
        assert!(b.starts_with(github::ROLLBACK_MARK) && b.ends_with("\n\n"));
    }
}
