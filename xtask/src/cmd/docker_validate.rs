//! `cargo xtask docker-validate [--version V] [--platform P] [--dry-run]`: build the image once
//! from the wheel of the release and prove it healthy in a container without network — the
//! build stage of `publish-prod --only docker`, alone. Exit 0 only when every platform's
//! container was healthy and reported the release's version; no container is left behind.

use anyhow::Result;
use semver::Version;

use crate::cmd::Global;
use crate::facts::config;
use crate::run::plan::Plan;
use crate::run::ui::{Style, Ui};
use crate::targets::docker::{self, ImageSpec};
use crate::targets::publish::Facts;
use crate::{core::version, facts::git, facts::history, Problems};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub version: Option<String>,
    pub platform: Option<String>,
    pub dry_run: bool,
}

/// `1.3.0-rc.1`, `v1.3.0-rc.1` or `1.3.0rc1`.
fn parse_version(s: &str, prefix: &str) -> Result<Version, String> {
    let bare = s.strip_prefix(prefix).unwrap_or(s);
    Version::parse(bare)
        .or_else(|_| version::parse_pep440(bare))
        .map_err(|_| {
            format!(
                "--version `{s}` is not a version: give X.Y.Z[-rc.N] (SemVer) or its PEP 440 form"
            )
        })
}

/// Facts for the image of `version` (default: the release tag at HEAD, else pyproject's).
fn facts(
    cfg: &config::Config,
    version_arg: Option<&str>,
    problems: &mut Problems,
) -> Result<Option<Facts>> {
    let version = match version_arg {
        Some(v) => match parse_version(v, &cfg.tag_prefix) {
            Ok(v) => v,
            Err(e) => {
                problems.invalid(e);
                return Ok(None);
            }
        },
        None => {
            let at_head = git::tags_at_head(&cfg.root)?
                .iter()
                .filter_map(|t| history::release_version(&cfg.tag_prefix, t))
                .max();
            let text = std::fs::read_to_string(cfg.path(&cfg.pyproject)).unwrap_or_default();
            let from_pyproject = crate::core::pyproject::find_versions(&text)
                .ok()
                .and_then(|v| v.into_iter().next())
                .map(|v| v.version);
            match at_head.or(from_pyproject) {
                Some(v) => v,
                None => {
                    problems.failure(format!(
                        "no version to validate: HEAD has no release tag and {} states no [project].version; \
                         pass --version X.Y.Z",
                        cfg.pyproject
                    ));
                    return Ok(None);
                }
            }
        }
    };
    crate::cmd::publish::facts_at(cfg, version, "HEAD", problems).map(Some)
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let mut problems = Problems::default();
    let cfg = match config::load(&root) {
        Ok(c) => c,
        Err(errors) => {
            errors.into_iter().for_each(|e| problems.invalid(e));
            return problems.check("docker-validate").map(|()| 0);
        }
    };
    let Some(docker) = cfg.docker.clone() else {
        problems.failure(format!(
            "{} has no [workspace.metadata.release.docker] table: add one, e.g. image = \"acme/app\" and \
             build-args = {{ BASE_IMAGE = \"{}\" }}",
            config::FILE,
            crate::targets::docker::engine::BASE_IMAGE
        ));
        return problems.check("docker-validate").map(|()| 0);
    };
    let Some(facts) = facts(&cfg, o.version.as_deref(), &mut problems)? else {
        return problems.check("docker-validate").map(|()| 0);
    };
    let platforms = match &o.platform {
        Some(p) => vec![p.clone()],
        None => docker.platforms.clone(),
    };
    let spec = ImageSpec::new(&facts, &docker, platforms, &mut problems);
    docker::check(&spec, &mut problems);
    crate::targets::pypi::check_python(&mut problems);
    problems.check("docker-validate")?;

    let status = git::status(&cfg.root)?;
    if !status.changed.is_empty() {
        ui.warn(&format!(
            "uncommitted changes ({}): a wheel or image already built from {} is reused as it is; commit to \
             validate them",
            status.changed.join(", "),
            facts.short
        ));
    }
    let mut plan = Plan::default();
    let mut problems = Problems::default();
    let wheel = docker::wheel_steps(&facts, &mut problems);
    problems.check("docker-validate")?;
    for s in wheel.into_iter().chain(docker::image_steps(&spec, false)) {
        plan.push(s);
    }
    let title = format!(
        "docker-validate {} {} ({})",
        docker.image,
        spec.exact_tag,
        spec.platforms.join(", ")
    );
    if o.dry_run {
        ui.heading(&format!("{title} — dry run, nothing will be built"));
        plan.render(ui, &cfg.root);
        return Ok(0);
    }
    ui.heading(&title);
    let started = std::time::Instant::now();
    let outcome = crate::run::exec::execute(&plan, ui, &cfg.root)?;
    let images: Vec<String> = spec
        .platforms
        .iter()
        .filter_map(|p| {
            outcome
                .values
                .get(&docker::image_key(p))
                .map(|id| format!("{p} {id}"))
        })
        .collect();
    ui.line(&format!(
        "{} {} {} is healthy and reports {} — {} in {}",
        ui.paint(Style::Green, "ok:"),
        docker.image,
        spec.exact_tag,
        spec.pep440,
        images.join(", "),
        crate::run::ui::human_duration(started.elapsed())
    ));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_any_spelling() {
        for s in ["1.3.0-rc.1", "v1.3.0-rc.1", "1.3.0rc1"] {
            assert_eq!(parse_version(s, "v").unwrap().to_string(), "1.3.0-rc.1");
        }
        assert!(parse_version("banana", "v")
            .unwrap_err()
            .contains("is not a version"));
    }
}
