//! `cargo xtask docker-validate [--version V] [--platform P] [--dry-run]`: build the image once
//! from the wheel of the release and prove it healthy in a container without network — the
//! build stage of `publish-prod --only docker`, alone. Exit 0 only when every platform's
//! container was healthy and reported the release's version; no container is left behind.
//!
//! `--push-by-digest` (one platform: the job of a native runner in the release workflow):
//! after validating, push the image to `docker.staging-registry` under the per-run tag
//! `<exact>-<arch>` (`v1.3.0-amd64`, the per-architecture tag naming of an index) and write its
//! manifest digest to `target/slipway/digests/<arch>.json` (`--digest-file`). A tag and not an
//! untagged push: `docker push` cannot push without a tag, and deleting a tag afterwards
//! through the registry API is not supported by every registry; the per-arch tag never moves
//! (a push of another image under it is refused), so it names exactly the validated image.
//! `publish-prod --from-digests` then assembles the index from those files.
//!
//! `--list-platforms [--json]`: the configured platforms and their GitHub runners (the matrix
//! of the release workflow's `build` job). `--dist-only`: build the Python dists only (the
//! wheel the image installs; the `dist` job), recorded so later runs reuse them.

use anyhow::Result;
use semver::Version;

use crate::cmd::Global;
use crate::facts::config;
use std::path::PathBuf;

use crate::core::dockertags::{PlannedTag, TagKind};
use crate::run::plan::{Plan, Step};
use crate::run::ui::{Style, Ui};
use crate::targets::docker::{self, ImageSpec};
use crate::targets::publish::Facts;
use crate::{core::version, facts::git, facts::history, Problems};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub version: Option<String>,
    pub platform: Option<String>,
    pub dry_run: bool,
    pub push_by_digest: bool,
    pub digest_file: Option<String>,
    pub list_platforms: bool,
    pub dist_only: bool,
    pub json: bool,
    /// After validating, push the image (every platform) to `docker.staging-registry` as
    /// `dev-X.Y.Z` only (what `dev-release` runs).
    pub push_dev: bool,
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
    if o.list_platforms {
        return list_platforms(&docker.platforms, o.json);
    }
    let Some(facts) = facts(&cfg, o.version.as_deref(), &mut problems)? else {
        return problems.check("docker-validate").map(|()| 0);
    };
    let platforms = match &o.platform {
        Some(p) => vec![p.clone()],
        None => docker.platforms.clone(),
    };
    let spec = ImageSpec::new(&facts, &docker, platforms, &mut problems);
    let staged = if o.push_by_digest {
        staging_steps(&cfg, &docker, &facts, &spec, o, &mut problems)
    } else if o.push_dev {
        dev_steps(&docker, &facts, &spec, o, &mut problems)
    } else {
        Vec::new()
    };
    if !o.dist_only {
        docker::check(&spec, &mut problems);
    }
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
    let image = if o.dist_only {
        Vec::new()
    } else {
        docker::image_steps(&spec, false)
    };
    if !spec.needs_wheel && !wheel.is_empty() && !image.is_empty() {
        // The image does not install the wheel: both builds at the same time.
        plan.push(Step::Action(Box::new(
            crate::run::concurrent::Concurrently {
                what: "the builds that do not depend on each other".into(),
                lanes: vec![
                    ("python dists".into(), wheel),
                    ("docker image".into(), image),
                ],
            },
        )));
    } else {
        for s in wheel.into_iter().chain(image) {
            plan.push(s);
        }
    }
    for s in staged {
        plan.push(s);
    }
    let title = if o.dist_only {
        format!(
            "docker-validate --dist-only {} {}",
            facts.package, spec.pep440
        )
    } else {
        format!(
            "docker-validate {} {} ({}){}",
            docker.image,
            spec.exact_tag,
            spec.platforms.join(", "),
            if o.push_by_digest {
                " --push-by-digest"
            } else if o.push_dev {
                " --push-dev"
            } else {
                ""
            }
        )
    };
    if o.dry_run {
        ui.heading(&format!("{title} — dry run, nothing will be built"));
        plan.render(ui, &cfg.root);
        return Ok(0);
    }
    ui.heading(&title);
    let started = std::time::Instant::now();
    let outcome = crate::run::exec::execute(&plan, ui, &cfg.root)?;
    if o.dist_only {
        ui.line(&format!(
            "{} dists of {} {} in {} — {}",
            ui.paint(Style::Green, "ok:"),
            facts.package,
            spec.pep440,
            crate::run::ui::human_duration(started.elapsed()),
            spec.dist_dir
                .strip_prefix(&cfg.root)
                .unwrap_or(&spec.dist_dir)
                .display()
        ));
        return Ok(0);
    }
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
    if let (true, Some(staging)) = (o.push_dev, &docker.staging_registry) {
        let digest = outcome
            .values
            .get(&docker::digest_key(staging))
            .cloned()
            .unwrap_or_default();
        ui.line(&format!(
            "{} {}/{}:{} ({digest})",
            ui.paint(Style::Green, "pushed:"),
            staging.trim_end_matches('/'),
            docker.image,
            crate::core::dockertags::dev_tag(&facts.version).tag,
        ));
    }
    if let (true, Some(staging)) = (o.push_by_digest, &docker.staging_registry) {
        let digest = outcome
            .values
            .get(&docker::digest_key(staging))
            .cloned()
            .unwrap_or_default();
        let path = digest_path(&cfg, &facts, &spec, o);
        ui.line(&format!(
            "{} {}/{}@{digest} ({}) — {}",
            ui.paint(Style::Green, "pushed:"),
            staging.trim_end_matches('/'),
            docker.image,
            spec.arch_tag(&spec.platforms[0]),
            path.strip_prefix(&cfg.root).unwrap_or(&path).display()
        ));
    }
    Ok(0)
}

/// `--list-platforms`: one line per platform, or with `--json` a GitHub Actions matrix
/// (`{"include": [{"platform", "arch", "runner"}]}`).
fn list_platforms(platforms: &[String], json: bool) -> Result<u8> {
    let rows: Vec<serde_json::Value> = platforms
        .iter()
        .map(|p| {
            serde_json::json!({
                "platform": p,
                "arch": docker::platform_slug(p),
                "runner": docker::digests::runner_for(p),
            })
        })
        .collect();
    if json {
        crate::run::ui::print_json(&serde_json::json!({ "include": rows }));
    } else {
        for r in &rows {
            println!(
                "{} {}",
                r["platform"].as_str().unwrap_or_default(),
                r["runner"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(0)
}

fn digest_path(cfg: &config::Config, facts: &Facts, spec: &ImageSpec, o: &Options) -> PathBuf {
    match &o.digest_file {
        Some(f) => std::env::current_dir()
            .unwrap_or_else(|_| cfg.root.clone())
            .join(f),
        None => docker::digests::default_path(&facts.work, &spec.platforms[0]),
    }
}

/// `--push-by-digest`: the push of the validated image to the staging registry under its
/// per-architecture tag, then the digest file.
fn staging_steps(
    cfg: &config::Config,
    docker_cfg: &config::DockerConfig,
    facts: &Facts,
    spec: &ImageSpec,
    o: &Options,
    problems: &mut Problems,
) -> Vec<Step> {
    if o.dist_only {
        problems
            .invalid("--push-by-digest pushes an image; --dist-only builds none: pass one of them");
        return Vec::new();
    }
    if spec.platforms.len() != 1 {
        problems.invalid(format!(
            "--push-by-digest pushes one platform's image: pass --platform P (one of {})",
            spec.platforms.join(", ")
        ));
    }
    let Some(staging) = docker_cfg.staging_registry.clone() else {
        problems.invalid(format!(
            "--push-by-digest pushes to the staging registry: set `staging-registry` in \
             [workspace.metadata.release.docker] of {}",
            config::FILE
        ));
        return Vec::new();
    };
    if spec.platforms.len() != 1 {
        return Vec::new();
    }
    let platform = spec.platforms[0].clone();
    let credentials = docker::credentials_from_env(problems);
    let tag = PlannedTag {
        tag: spec.arch_tag(&platform),
        kind: TagKind::Exact,
    };
    vec![
        Step::Action(Box::new(docker::Push {
            spec: spec.clone(),
            registries: vec![staging.clone()],
            tags: vec![tag],
            credentials,
        })),
        Step::Action(Box::new(docker::digests::WriteDigest {
            path: digest_path(cfg, facts, spec, o),
            platform,
            repository: format!("{}/{}", staging.trim_end_matches('/'), docker_cfg.image),
            registry: staging,
        })),
    ]
}

/// `--push-dev`: the push of the validated image (every platform) to the staging registry
/// under `dev-X.Y.Z` only.
fn dev_steps(
    docker_cfg: &config::DockerConfig,
    facts: &Facts,
    spec: &ImageSpec,
    o: &Options,
    problems: &mut Problems,
) -> Vec<Step> {
    if o.dist_only {
        problems.invalid("--push-dev pushes an image; --dist-only builds none: pass one of them");
        return Vec::new();
    }
    let Some(staging) = docker_cfg.staging_registry.clone() else {
        problems.invalid(format!(
            "--push-dev pushes to the staging registry: set `staging-registry` in \
             [workspace.metadata.release.docker] of {}",
            config::FILE
        ));
        return Vec::new();
    };
    let credentials = docker::credentials_from_env(problems);
    vec![Step::Action(Box::new(docker::Push {
        spec: spec.clone(),
        registries: vec![staging],
        tags: vec![crate::core::dockertags::dev_tag(&facts.version)],
        credentials,
    }))]
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
