//! The variables of one version's release notes: its CHANGELOG section, its tag and the
//! previous one, its commits and contributors, the package and image names (read-only).

use anyhow::{Context, Result};
use semver::Version;

use crate::core::changelog::Changelog;
use crate::core::clstyle::StyleName;
use crate::core::notes::{bullets, split_breaking};
use crate::core::template::{self, Vars};
use crate::core::version;
use crate::facts::config::Config;
use crate::facts::git;
use crate::facts::history::{self, Tag};
use crate::usage;

/// The notes for `version_arg` (default: the release tag at HEAD, else the newest CHANGELOG
/// version) rendered through `template`.
pub fn render(cfg: &Config, version_arg: Option<&str>, template: &str) -> Result<String> {
    let vars = variables(cfg, version_arg)?;
    template::render(template, &vars).map_err(|e| usage(format!("release notes template: {e}")))
}

pub fn variables(cfg: &Config, version_arg: Option<&str>) -> Result<Vars> {
    // `changelog-style = "none"`: no file to read; the notes come from the release's commits.
    let kept = cfg.changelog_style != Some(StyleName::None);
    let text = if kept {
        std::fs::read_to_string(cfg.path(&cfg.changelog))
            .map_err(|e| usage(format!("{}: {e} (key `changelog`)", cfg.changelog)))?
    } else {
        String::new()
    };
    let cl = Changelog::parse(&text).map_err(|e| usage(format!("{}: {e}", cfg.changelog)))?;
    let all_tags = history::release_tags(&cfg.root, &cfg.tag_prefix)?;
    let v: Version = match version_arg {
        Some(s) => {
            let s = s.strip_prefix(cfg.tag_prefix.as_str()).unwrap_or(s);
            version::parse_semver(s)
                .or_else(|_| version::parse_pep440(s))
                .map_err(|e| usage(format!("invalid version `{s}`: {e}")))?
        }
        None => {
            let at_head = git::tags_at_head(&cfg.root)?
                .into_iter()
                .filter_map(|t| history::release_version(&cfg.tag_prefix, &t))
                .max();
            match at_head.or_else(|| cl.newest_version().and_then(|s| s.version.clone())) {
                Some(v) => v,
                None if !kept => {
                    return Err(usage(
                        "no release tag at HEAD and no changelog (changelog-style = \"none\"): give the version",
                    ))
                }
                None => {
                    return Err(usage(format!(
                        "{} has no released version yet; give one",
                        cfg.changelog
                    )))
                }
            }
        }
    };
    let (body, date) = if kept {
        let section = cl.section(&v).ok_or_else(|| {
            let known: Vec<String> = cl
                .versions()
                .iter()
                .filter_map(|s| s.version.as_ref())
                .map(|v| v.to_string())
                .collect();
            usage(format!(
                "{} has no section for {v}; it has: {}",
                cfg.changelog,
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        (
            cl.body(&text, section).trim().replace("\r\n", "\n"),
            section.date.clone().unwrap_or_default(),
        )
    } else {
        (String::new(), String::new())
    };
    let tag = version::git_tag(&cfg.tag_prefix, &v);
    let tag_exists = all_tags.iter().any(|t| t.name == tag);
    let previous: Option<&Tag> = all_tags
        .iter()
        .filter(|t| t.version < v && (!v.pre.is_empty() || t.version.pre.is_empty()))
        .max_by(|a, b| a.version.cmp(&b.version));
    let to = if tag_exists {
        tag.clone()
    } else {
        "HEAD".to_string()
    };
    let range = crate::facts::commits::collect_range(
        &cfg.root,
        previous.map(|t| t.name.as_str()),
        &to,
        None,
    )
    .context("reading the commits of this release")?;
    let body = if kept {
        body
    } else {
        let mut generated = String::new();
        crate::core::changegen::render_body_md(
            &range,
            &crate::facts::commits::style(cfg),
            &mut generated,
        );
        generated.trim().to_string()
    };
    let repo = crate::facts::commits::repo_url(cfg);
    let pyproject = std::fs::read_to_string(cfg.path(&cfg.pyproject)).unwrap_or_default();
    let package = crate::core::pyproject::project_name(&pyproject).unwrap_or_default();
    // The repositories the image is published to (the docker target's registries, else
    // `images`), with the exact tag the docker target pushes.
    let repos: Vec<String> = match &cfg.docker {
        Some(d) => d.repositories(),
        None => cfg.images.clone(),
    };
    let image = repos.first().cloned().unwrap_or_default();
    let exact_tag = crate::core::dockertags::exact_tag(&cfg.tag_prefix, &v);

    let (breaking, without_breaking) = split_breaking(&body);
    let migration: Vec<String> = range
        .entries
        .iter()
        .filter(|e| e.commit.breaking)
        .flat_map(|e| e.commit.breaking_notes.iter().map(move |n| (e, n)))
        .map(|(e, n)| {
            let scope = e
                .commit
                .scope
                .as_ref()
                .map(|s| format!("**{s}:** "))
                .unwrap_or_default();
            format!("- {scope}{}", n.replace('\n', "\n  "))
        })
        .collect();

    let mut vars = Vars::new();
    vars.insert("version", v.to_string());
    vars.insert("tag", tag.clone());
    vars.insert("date", date);
    vars.insert("pep440", version::pep440(&v));
    vars.insert("docker_tag", version::docker_tag(&v));
    vars.insert("body", body.clone());
    vars.insert("bullets", bullets(&body));
    vars.insert("breaking", breaking);
    vars.insert("body_without_breaking", without_breaking);
    vars.insert("migration_notes", migration.join("\n"));
    vars.insert("package", package.clone());
    vars.insert(
        "pip_install",
        if package.is_empty() {
            String::new()
        } else {
            format!("pip install {package}=={}", version::pep440(&v))
        },
    );
    vars.insert("image", image.clone());
    vars.insert(
        "docker_pull",
        repos
            .iter()
            .map(|r| format!("docker pull {r}:{exact_tag}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    vars.insert("repository", repo.clone().unwrap_or_default());
    vars.insert(
        "previous_tag",
        previous.map(|t| t.name.clone()).unwrap_or_default(),
    );
    vars.insert(
        "compare_url",
        match (&repo, previous) {
            (Some(r), Some(p)) => format!("{r}/compare/{}...{tag}", p.name),
            _ => String::new(),
        },
    );
    vars.insert(
        "deploy",
        match &cfg.deploy {
            // The digest is known only once the image is pushed: it stays `{digest}`.
            Some(d) => crate::core::notes::deploy_line(
                &d.environment,
                &crate::core::placeholder::display(&d.command, &|name| match name {
                    "version" => Some(version::pep440(&v)),
                    "tag" => Some(tag.clone()),
                    "docker_tag" => Some(exact_tag.clone()),
                    "image" => Some(image.clone()).filter(|i| !i.is_empty()),
                    _ => None,
                }),
            ),
            None => String::new(),
        },
    );
    vars.insert("commit_count", range.commit_count.to_string());
    vars.insert(
        "contributors",
        range
            .contributors
            .iter()
            .map(|c| format!("- {c}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    Ok(vars)
}
