//! `[workspace.metadata.release]` in the repository's top-level `Cargo.toml`.
//!
//! Every problem names the file and the key; all problems are reported together.

use std::path::{Path, PathBuf};

use toml_edit::Item;

pub const FILE: &str = "Cargo.toml";
pub const TABLE: &str = "[workspace.metadata.release]";

/// Keys of the release table, with their defaults (documented in the README).
const KEYS: &[&str] = &[
    "tag-prefix",
    "branch",
    "remote",
    "changelog",
    "changelog-other",
    "repository",
    "pyproject",
    "compose",
    "images",
];
/// Sub-tables owned by later stages (docker, python, github); accepted here.
const SUBTABLES: &[&str] = &["docker", "python", "github"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The repository root (git top level).
    pub root: PathBuf,
    pub tag_prefix: String,
    pub branch: String,
    pub changelog: String,
    pub pyproject: String,
    pub compose: Vec<String>,
    pub images: Vec<String>,
    /// The remote releases are pushed to.
    pub remote: String,
    /// List non-conventional commits under "Other" in generated changelogs.
    pub changelog_other: bool,
    /// Web URL of the repository for commit/issue links; else `github.repo`, else the remote's URL.
    pub repository: Option<String>,
    /// `[workspace.metadata.release.github] repo = "owner/name"`.
    pub github_repo: Option<String>,
}

impl Config {
    pub fn defaults(root: PathBuf) -> Config {
        Config {
            root,
            tag_prefix: "v".into(),
            branch: "main".into(),
            changelog: "CHANGELOG.md".into(),
            pyproject: "pyproject.toml".into(),
            compose: Vec::new(),
            images: Vec::new(),
            remote: "origin".into(),
            changelog_other: true,
            repository: None,
            github_repo: None,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// Loads the config of the repository at `root`. A missing `Cargo.toml` or missing table means
/// defaults; anything malformed is an error per key.
pub fn load(root: &Path) -> Result<Config, Vec<String>> {
    let path = root.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Config::defaults(root.into()))
        }
        Err(e) => return Err(vec![format!("{FILE}: cannot read: {e}")]),
    };
    parse(root, &text)
}

pub fn parse(root: &Path, text: &str) -> Result<Config, Vec<String>> {
    let doc = toml_edit::Document::parse(text)
        .map_err(|e| vec![format!("{FILE}: {}", crate::pyproject::toml_error(&e))])?;
    let mut cfg = Config::defaults(root.into());
    let Some(item) = doc
        .as_table()
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("release"))
    else {
        return Ok(cfg);
    };
    let Some(table) = item.as_table_like() else {
        return Err(vec![format!("{FILE}: {TABLE} must be a table")]);
    };
    let mut errors = Vec::new();
    for (key, _) in table.iter() {
        if !KEYS.contains(&key) && !SUBTABLES.contains(&key) {
            let hint = KEYS
                .iter()
                .chain(SUBTABLES)
                .find(|k| k.replace('-', "_") == key.replace('-', "_").to_ascii_lowercase())
                .map(|k| format!("did you mean `{k}`?"))
                .unwrap_or_else(|| format!("known keys: {}", KEYS.join(", ")));
            errors.push(format!("{FILE}: unknown key `{key}` in {TABLE}; {hint}"));
        }
    }
    let mut string = |key: &str, slot: &mut String, check: fn(&str) -> Result<(), String>| {
        if let Some(item) = table.get(key) {
            match item.as_str() {
                Some(s) => match check(s) {
                    Ok(()) => *slot = s.to_string(),
                    Err(why) => errors.push(format!("{FILE}: {TABLE} {key} = {s:?}: {why}")),
                },
                None => errors.push(format!("{FILE}: {TABLE} {key} must be a string")),
            }
        }
    };
    string("tag-prefix", &mut cfg.tag_prefix, check_tag_prefix);
    string("branch", &mut cfg.branch, check_nonempty);
    string("remote", &mut cfg.remote, check_nonempty);
    let mut repository = String::new();
    string("repository", &mut repository, check_web_url);
    cfg.repository = (!repository.is_empty()).then(|| repository.trim_end_matches('/').to_string());
    string("changelog", &mut cfg.changelog, check_rel_path);
    string("pyproject", &mut cfg.pyproject, check_rel_path);
    for (key, slot, check) in [
        (
            "compose",
            &mut cfg.compose,
            check_rel_path as fn(&str) -> Result<(), String>,
        ),
        ("images", &mut cfg.images, check_image),
    ] {
        if let Some(item) = table.get(key) {
            match string_array(item) {
                Some(list) => {
                    for s in &list {
                        if let Err(why) = check(s) {
                            errors.push(format!("{FILE}: {TABLE} {key} entry {s:?}: {why}"));
                        }
                    }
                    *slot = list;
                }
                None => errors.push(format!("{FILE}: {TABLE} {key} must be an array of strings")),
            }
        }
    }
    if let Some(item) = table.get("changelog-other") {
        match item.as_bool() {
            Some(b) => cfg.changelog_other = b,
            None => errors.push(format!(
                "{FILE}: {TABLE} changelog-other must be true or false"
            )),
        }
    }
    if let Some(gh) = table.get("github").and_then(|g| g.as_table_like()) {
        if let Some(repo) = gh.get("repo") {
            match repo.as_str() {
                Some(r) if r.split('/').count() == 2 && !r.contains(char::is_whitespace) => {
                    cfg.github_repo = Some(r.to_string())
                }
                _ => errors.push(format!(
                    "{FILE}: [workspace.metadata.release.github] repo must be \"owner/name\""
                )),
            }
        }
    }
    if !cfg.compose.is_empty() && cfg.images.is_empty() {
        errors.push(format!(
            "{FILE}: {TABLE} compose lists files but `images` is empty; name the project's own image \
             repositories, e.g. images = [\"ghcr.io/acme/app\"]"
        ));
    }
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(errors)
    }
}

fn string_array(item: &Item) -> Option<Vec<String>> {
    let arr = item.as_array()?;
    arr.iter().map(|v| v.as_str().map(str::to_string)).collect()
}

fn check_nonempty(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(())
    }
}

fn check_web_url(s: &str) -> Result<(), String> {
    if s.starts_with("https://") || s.starts_with("http://") {
        Ok(())
    } else {
        Err("must be a web URL like https://github.com/acme/app".into())
    }
}

fn check_tag_prefix(s: &str) -> Result<(), String> {
    // git check-ref-format forbids these anywhere in a ref name.
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c))
        || s.contains("..")
    {
        return Err("not allowed in a git tag name (no spaces, ~ ^ : ? * [ \\ or ..)".into());
    }
    Ok(())
}

fn check_rel_path(s: &str) -> Result<(), String> {
    check_nonempty(s)?;
    let p = Path::new(s);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err("must be a path relative to the repository root, inside it".into());
    }
    Ok(())
}

fn check_image(s: &str) -> Result<(), String> {
    check_nonempty(s)?;
    let last = s.rsplit('/').next().unwrap_or(s);
    if last.contains(':') || s.contains('@') {
        return Err(
            "give the repository only, without a tag or digest (e.g. ghcr.io/acme/app)".into(),
        );
    }
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_ascii_uppercase())
    {
        return Err("image repositories are lowercase and contain no spaces".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(s: &str) -> Config {
        parse(Path::new("/r"), s).unwrap()
    }

    #[test]
    fn defaults_without_table() {
        assert_eq!(
            parse_ok("[workspace]\nmembers = []\n"),
            Config::defaults("/r".into())
        );
        assert_eq!(parse_ok(""), Config::defaults("/r".into()));
    }

    #[test]
    fn full_table() {
        let c = parse_ok(
            r#"
[workspace.metadata.release]
tag-prefix = ""
branch = "trunk"
changelog = "docs/CHANGES.md"
pyproject = "py/pyproject.toml"
compose = ["docker-compose.yml", "deploy/compose.prod.yml"]
images = ["ghcr.io/acme/app", "acme/worker"]
[workspace.metadata.release.docker]
image = "acme/app"
"#,
        );
        assert_eq!(c.tag_prefix, "");
        assert_eq!(c.branch, "trunk");
        assert_eq!(c.changelog, "docs/CHANGES.md");
        assert_eq!(c.compose.len(), 2);
        assert_eq!(c.images, ["ghcr.io/acme/app", "acme/worker"]);
        assert_eq!(c.remote, "origin");
        assert!(c.changelog_other);
    }

    #[test]
    fn release_history_keys() {
        let c = parse_ok(
            r#"
[workspace.metadata.release]
remote = "upstream"
changelog-other = false
repository = "https://gitlab.example.com/acme/app/"
[workspace.metadata.release.github]
repo = "acme/app"
"#,
        );
        assert_eq!(c.remote, "upstream");
        assert!(!c.changelog_other);
        assert_eq!(
            c.repository.as_deref(),
            Some("https://gitlab.example.com/acme/app")
        );
        assert_eq!(c.github_repo.as_deref(), Some("acme/app"));
        let errs = parse(
            Path::new("/r"),
            "[workspace.metadata.release]\nchangelog-other = \"no\"\nrepository = \"github.com/x\"\n[workspace.metadata.release.github]\nrepo = \"acme\"\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
    }

    #[test]
    fn every_problem_is_reported_with_file_and_key() {
        let errs = parse(
            Path::new("/r"),
            r#"
[workspace.metadata.release]
tag_prefix = "v"
branch = 3
compose = "docker-compose.yml"
pyproject = "../other/pyproject.toml"
images = ["ghcr.io/acme/app:1.2.3"]
"#,
        )
        .unwrap_err();
        let all = errs.join("\n");
        for want in [
            "Cargo.toml: unknown key `tag_prefix` in [workspace.metadata.release]; did you mean `tag-prefix`?",
            "Cargo.toml: [workspace.metadata.release] branch must be a string",
            "Cargo.toml: [workspace.metadata.release] compose must be an array of strings",
            "pyproject = \"../other/pyproject.toml\": must be a path relative to the repository root",
            "images entry \"ghcr.io/acme/app:1.2.3\": give the repository only",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
        assert_eq!(errs.len(), 5, "{all}");
    }

    #[test]
    fn compose_needs_images_and_prefix_must_be_a_ref() {
        let errs = parse(
            Path::new("/r"),
            "[workspace.metadata.release]\ncompose = [\"c.yml\"]\ntag-prefix = \"release v\"\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains("not allowed in a git tag name"));
        assert!(errs[1].contains("`images` is empty"));
    }

    #[test]
    fn malformed_toml_is_one_line() {
        let errs = parse(Path::new("/r"), "[workspace\n").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("Cargo.toml: invalid TOML at line 1"),
            "{errs:?}"
        );
    }
}
