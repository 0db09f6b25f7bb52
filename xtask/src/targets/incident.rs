//! Incident reports: when a release command (`publish-prod`, `promote`, `rollback`, `release`,
//! `release-pr`) fails after its plan started, `target/slipway/incidents/incident-<tag>-<time>.md`
//! and `.json` say what ran when, which step failed and why, what had been published and where,
//! what a re-run will do and, when something bad may be live, the rollback command
//! ([`crate::core::incident`] renders them). The notice links the report (and the CI run), and
//! the Markdown is attached to the GitHub release when one exists for the tag.
//!
//! A command turns this on with [`begin`] (the notices' `begin` does, for the commands that
//! write reports); `run_main` calls [`after`] when it fails. Never fails the command: a report
//! that cannot be written or attached is a warning.

use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::Value as Json;

use crate::core::incident::{self, Incident};
use crate::facts::config::Config;
use crate::run::plan::Run;
use crate::run::ui::{self, Ui};

/// The commands that write incident reports.
pub const COMMANDS: &[&str] = &[
    "publish-prod",
    "promote",
    "rollback",
    "release",
    "release-pr",
];

#[derive(Debug)]
struct Ctx {
    command: String,
    cfg: Config,
    package: String,
    version: String,
    tag: String,
}

static CTX: Mutex<Option<Ctx>> = Mutex::new(None);

/// From now on the steps are recorded, and a failure writes a report (not in a dry run, nor
/// for a command not in [`COMMANDS`]).
pub fn begin(command: &str, cfg: &Config, dry_run: bool) {
    if dry_run || !COMMANDS.contains(&command) {
        return;
    }
    crate::run::record::enable();
    *CTX.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ctx {
        command: command.into(),
        cfg: cfg.clone(),
        package: String::new(),
        version: String::new(),
        tag: String::new(),
    });
}

/// The release the command works on, once known.
pub fn release(package: &str, version: &str, tag: &str) {
    if let Some(c) = CTX.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        if !package.is_empty() {
            c.package = package.into();
        }
        c.version = version.into();
        c.tag = tag.into();
    }
}

/// The command stops having changed nothing (a refusal it reports as such, like `release`'s
/// pre-release gates): no report.
pub fn unchanged() {
    CTX.lock().unwrap_or_else(|e| e.into_inner()).take();
    crate::run::record::take();
}

/// The GitHub Actions run this is, from its environment.
pub fn run_url() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if var("GITHUB_ACTIONS").as_deref() != Some("true") {
        return None;
    }
    Some(format!(
        "{}/{}/actions/runs/{}",
        var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
        var("GITHUB_REPOSITORY")?,
        var("GITHUB_RUN_ID")?
    ))
}

/// The command ended: on failure (`error`), once a step ran, the report is written (and
/// attached to the GitHub release when there is one) — not for a refusal (`refused`: a
/// [`crate::Refusal`], nothing was changed). Returns the lines the notice carries (the
/// report's path, the run's URL).
pub fn after(error: Option<&str>, refused: bool, ui: &Ui) -> Vec<String> {
    let ctx = CTX.lock().unwrap_or_else(|e| e.into_inner()).take();
    let recorded = crate::run::record::take();
    let (Some(c), Some(error), Some((Some(started), steps, took)), false) =
        (ctx, error, recorded, refused)
    else {
        return Vec::new();
    };
    let package = if c.package.is_empty() {
        crate::core::pyproject::project_name(
            &std::fs::read_to_string(c.cfg.path(&c.cfg.pyproject)).unwrap_or_default(),
        )
        .unwrap_or_default()
    } else {
        c.package.clone()
    };
    let i = Incident {
        command: c.command.clone(),
        package,
        version: c.version.clone(),
        tag: c.tag.clone(),
        started,
        duration_ms: took,
        steps,
        error: ui::redact(error),
        run_url: run_url(),
    };
    let mut links = Vec::new();
    match write(&c.cfg, &i) {
        Ok((md, _json)) => {
            let shown = md
                .strip_prefix(&c.cfg.root)
                .unwrap_or(&md)
                .display()
                .to_string();
            ui.note(&format!("incident report: {shown} (and .json)"));
            links.push(format!("incident report: {shown}"));
            if let Some(url) = attach(&c.cfg, &i.tag, &md, ui) {
                links.push(format!("incident report on the release: {url}"));
            }
        }
        Err(e) => ui.warn(&format!(
            "the incident report was not written: {}",
            ui::redact(&format!("{e:#}"))
        )),
    }
    if let Some(url) = &i.run_url {
        links.push(format!("run: {url}"));
    }
    links
}

/// Writes `incident-<tag>-<time>.md` and `.json` (secrets masked) under
/// `target/slipway/incidents/`.
pub fn write(cfg: &Config, i: &Incident) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = crate::targets::publish::work_dir(cfg).join("incidents");
    std::fs::create_dir_all(&dir)?;
    let stem = incident::file_stem(i);
    let md = dir.join(format!("{stem}.md"));
    let json = dir.join(format!("{stem}.json"));
    crate::run::exec::write_atomic(&md, &ui::redact(&incident::markdown(i)))?;
    crate::run::exec::write_atomic(
        &json,
        &ui::redact(&serde_json::to_string_pretty(&incident::to_json(i))?),
    )?;
    Ok((md, json))
}

/// What attaching the report to the release needs, decided from the release read (pure):
/// nothing without a release, nothing when it has the asset already, else the upload.
pub fn attach_decision(release: Option<&Json>, name: &str) -> Option<String> {
    let release = release?;
    let has = release
        .get("assets")
        .and_then(Json::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|x| x.get("name").and_then(Json::as_str) == Some(name))
        });
    if has {
        return None;
    }
    let url = release.get("upload_url").and_then(Json::as_str)?;
    Some(format!(
        "{}?name={name}",
        url.split('{').next().unwrap_or(url)
    ))
}

/// Attaches the Markdown report to the tag's GitHub release when one exists (read first);
/// returns the release's page.
fn attach(cfg: &Config, tag: &str, md: &std::path::Path, ui: &Ui) -> Option<String> {
    if tag.is_empty() {
        return None;
    }
    let gh =
        crate::targets::github::Gh::resolve(cfg, &crate::targets::github::process_gh_env()).ok()?;
    let release = match crate::targets::github::release_by_tag(&gh, tag) {
        Ok(r) => r,
        Err(e) => {
            ui.warn(&format!(
                "the incident report was not attached: reading the release {tag}: {}",
                ui::redact(&format!("{e:#}"))
            ));
            return None;
        }
    };
    let name = md.file_name()?.to_string_lossy().into_owned();
    let page = release
        .as_ref()
        .and_then(|r| r.get("html_url"))
        .and_then(Json::as_str)
        .map(String::from);
    let upload = attach_decision(release.as_ref(), &name)?;
    let p = gh.api([
        "-X".to_string(),
        "POST".into(),
        upload,
        "--input".into(),
        md.display().to_string(),
        "-H".into(),
        "Content-Type: text/markdown".into(),
    ]);
    let judged = p.clone();
    let sub = Run::new(p)
        .verdict(move |out| {
            let r = crate::targets::github::reply(&judged, out)?;
            if r.status == 201 {
                Ok(Vec::new())
            } else {
                Err(crate::targets::github::unexpected(&judged, &r).to_string())
            }
        })
        .sub();
    match crate::run::exec::apply(&sub, &mut Default::default()) {
        Ok(()) => {
            ui.note(&format!("incident report attached to the release {tag}"));
            page
        }
        Err(e) => {
            ui.warn(&format!(
                "the incident report was not attached to {tag}: {}",
                ui::redact(&format!("{e:#}"))
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attached_once_and_only_to_a_release_that_exists() {
        let rel = json!({"upload_url": "http://up/repos/a/b/releases/1/assets{?name,label}", "assets": []});
        assert_eq!(
            attach_decision(Some(&rel), "incident-v1-x.md").as_deref(),
            Some("http://up/repos/a/b/releases/1/assets?name=incident-v1-x.md")
        );
        assert_eq!(attach_decision(None, "incident-v1-x.md"), None);
        let has = json!({"upload_url": "http://up/a", "assets": [{"name": "incident-v1-x.md"}]});
        assert_eq!(attach_decision(Some(&has), "incident-v1-x.md"), None);
    }
}
