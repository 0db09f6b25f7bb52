//! `cargo xtask release-notes`: the notes of one version, rendered from its CHANGELOG section
//! (the text a GitHub release uses) through a `{{variable}}` template.

use anyhow::{Context, Result};
use semver::Version;

use crate::cmd::Global;
use crate::core::changelog::Changelog;
use crate::core::template::{self, Vars};
use crate::facts::config::{self, Config};
use crate::facts::history::{self, Tag};
use crate::run::ui::Ui;
use crate::{core::version, facts::git, usage};

pub const DEFAULT: &str = "{{body}}\n\n## Install\n\n```sh\n{{pip_install}}\n{{#docker_pull}}{{docker_pull}}\n{{/docker_pull}}```\n";
pub const MINIMAL: &str = "{{bullets}}\n";
pub const DETAILED: &str = "{{body}}\n\n\
{{#migration_notes}}## Upgrade notes\n\n{{migration_notes}}\n\n{{/migration_notes}}\
## Contributors\n\n{{contributors}}\n\n\
{{commit_count}} commit(s){{#previous_tag}} since {{previous_tag}}{{/previous_tag}}\
{{#compare_url}} · [full diff]({{compare_url}}){{/compare_url}}\n\n\
## Install\n\n```sh\n{{pip_install}}\n{{#docker_pull}}{{docker_pull}}\n{{/docker_pull}}```\n";
pub const BREAKING: &str = "{{#breaking}}## ⚠ Breaking changes\n\n{{breaking}}\n\n{{/breaking}}\
{{#migration_notes}}### Migration notes\n\n{{migration_notes}}\n\n{{/migration_notes}}\
{{body_without_breaking}}\n\n## Install\n\n```sh\n{{pip_install}}\n{{#docker_pull}}{{docker_pull}}\n{{/docker_pull}}```\n";

pub fn run(
    global: &Global,
    version_arg: Option<&str>,
    template_arg: Option<&str>,
    ui: &Ui,
) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let cfg = config::load_or_refuse(&root, "release-notes")?;
    let template = match template_arg.unwrap_or("default") {
        "default" => DEFAULT.to_string(),
        "minimal" => MINIMAL.to_string(),
        "detailed" => DETAILED.to_string(),
        "breaking" => BREAKING.to_string(),
        path => {
            let p = global.dir.join(path);
            std::fs::read_to_string(&p).map_err(|e| {
                usage(format!(
                    "template `{path}`: {e}; use default, minimal, detailed, breaking or a template file"
                ))
            })?
        }
    };
    let notes = render(&cfg, version_arg, &template)?;
    ui.raw(&notes);
    Ok(0)
}

/// The notes for `version_arg` (default: the release tag at HEAD, else the newest CHANGELOG
/// version) rendered through `template`.
pub fn render(cfg: &Config, version_arg: Option<&str>, template: &str) -> Result<String> {
    let vars = variables(cfg, version_arg)?;
    template::render(template, &vars).map_err(|e| usage(format!("release notes template: {e}")))
}

pub fn variables(cfg: &Config, version_arg: Option<&str>) -> Result<Vars> {
    let changelog_path = cfg.path(&cfg.changelog);
    let text = std::fs::read_to_string(&changelog_path)
        .map_err(|e| usage(format!("{}: {e} (key `changelog`)", cfg.changelog)))?;
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
                None => {
                    return Err(usage(format!(
                        "{} has no released version yet; give one",
                        cfg.changelog
                    )))
                }
            }
        }
    };
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
    let body = cl.body(&text, section).trim().replace("\r\n", "\n");
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
    let range = crate::cmd::changelog::collect_range(
        &cfg.root,
        previous.map(|t| t.name.as_str()),
        &to,
        None,
    )
    .context("reading the commits of this release")?;
    let repo = crate::cmd::changelog::repo_url(cfg);
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
    vars.insert("date", section.date.clone().unwrap_or_default());
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

/// The bullet lines of a section (with their continuation lines), without headings.
pub fn bullets(body: &str) -> String {
    let mut out = Vec::new();
    let mut in_item = false;
    for line in body.lines() {
        if line.starts_with("- ") || line.starts_with("* ") {
            in_item = true;
            out.push(line);
        } else if in_item && line.starts_with("  ") && !line.trim().is_empty() {
            out.push(line);
        } else {
            in_item = false;
        }
    }
    out.join("\n")
}

/// Splits a section body into its `### Breaking changes` bullets and the rest.
pub fn split_breaking(body: &str) -> (String, String) {
    let mut breaking = Vec::new();
    let mut rest = Vec::new();
    let mut in_breaking = false;
    for line in body.lines() {
        if let Some(title) = line.strip_prefix("### ") {
            in_breaking = title
                .trim()
                .eq_ignore_ascii_case(crate::core::changegen::BREAKING);
            if in_breaking {
                continue;
            }
        }
        if in_breaking {
            breaking.push(line);
        } else {
            rest.push(line);
        }
    }
    (
        breaking.join("\n").trim().to_string(),
        rest.join("\n").trim().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bullets_and_breaking_split() {
        let body = "### Breaking changes\n\n- drop v1\n  use v2\n\n### Added\n\n- a\n- b\n  more\n\ntext\n";
        assert_eq!(bullets(body), "- drop v1\n  use v2\n- a\n- b\n  more");
        let (b, rest) = split_breaking(body);
        assert_eq!(b, "- drop v1\n  use v2");
        assert_eq!(rest, "### Added\n\n- a\n- b\n  more\n\ntext");
    }

    #[test]
    fn builtin_templates_use_only_known_variables() {
        let mut vars = Vars::new();
        for k in [
            "version",
            "tag",
            "date",
            "pep440",
            "docker_tag",
            "body",
            "bullets",
            "breaking",
            "body_without_breaking",
            "migration_notes",
            "package",
            "pip_install",
            "image",
            "docker_pull",
            "repository",
            "previous_tag",
            "compare_url",
            "commit_count",
            "contributors",
        ] {
            vars.insert(k, format!("<{k}>"));
        }
        for t in [DEFAULT, MINIMAL, DETAILED, BREAKING] {
            template::render(t, &vars).unwrap();
        }
    }
}
