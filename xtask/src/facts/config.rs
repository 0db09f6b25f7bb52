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
    "branches",
    "remote",
    "changelog",
    "changelog-other",
    "repository",
    "pyproject",
    "compose",
    "images",
    "webhooks",
    // Notices (see `parse_notices`).
    "notify",
    "notify-on",
    // Adoption: changelog styles and extra version files (see `parse_adoption`).
    "changelog-style",
    "files",
    // Quality gates: `[[workspace.metadata.release.gates]]` (see `parse_gates`).
    "gates",
];
/// Sub-tables owned by later stages (docker, python, github, deploy); accepted here.
const SUBTABLES: &[&str] = &[
    "docker",
    "python",
    "github",
    "deploy",
    "timeouts",
    "review",
    "credentials",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The repository root (git top level).
    pub root: PathBuf,
    pub tag_prefix: String,
    /// The main line: where minor and major releases are cut.
    pub branch: String,
    /// `branches`: glob patterns (`core::branch`) of every branch a release may be cut from; the
    /// main `branch` matches one of them. Default: `[branch]`.
    pub branches: Vec<String>,
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
    /// Generic webhooks (JSON POST) told about failed (and, with --notify, successful) publishes.
    pub webhooks: Vec<String>,
    /// `notify`: the channels notices go to (`slack`, `discord`, `webhook`, `email`); None:
    /// every channel whose settings are present.
    pub notify: Option<Vec<String>>,
    /// `notify-on`: `failure` (default) and/or `success`.
    pub notify_on: Vec<String>,
    /// `[workspace.metadata.release.github] ci-wait-s`: how long publish-prod waits for pending
    /// checks on the tag's commit (0: not at all).
    pub ci_wait_s: u64,
    /// `[workspace.metadata.release.github] repo = "owner/name"`.
    pub github_repo: Option<String>,
    /// `[workspace.metadata.release.github] release-workflow`: must be green for the tag.
    pub release_workflow: String,
    /// `[workspace.metadata.release.python]`.
    pub python: PythonConfig,
    /// `[workspace.metadata.release.docker]`; None when the project publishes no image.
    pub docker: Option<DockerConfig>,
    /// `[workspace.metadata.release.deploy]`; None when nothing is deployed after publishing.
    pub deploy: Option<DeployConfig>,
    /// `changelog-style`; None: detected from the file.
    pub changelog_style: Option<crate::core::clstyle::StyleName>,
    /// Every pyproject that states the version (`pyproject` as a string or a list); the first is
    /// [`Config::pyproject`], the one that is built.
    pub pyprojects: Vec<String>,
    /// `[[workspace.metadata.release.files]]`: extra version files.
    pub files: Vec<ExtraFile>,
    /// `[[workspace.metadata.release.gates]]`, in configuration order.
    pub gates: Vec<crate::core::gates::Gate>,
    /// `[workspace.metadata.release.timeouts]`.
    pub timeouts: Timeouts,
    /// `[workspace.metadata.release.review]`: the reviewed dev-image release (`dev-release`,
    /// `release-merged`).
    pub review: ReviewConfig,
    /// `[workspace.metadata.release.credentials] warn-days`: warn this many days before a
    /// credential expires (default 14).
    pub credentials_warn_days: u64,
}

/// `[workspace.metadata.release.review]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewConfig {
    /// A person asked to review the dev-release PR (a GitHub login).
    pub reviewer: Option<String>,
    /// `org/team`: asked to review (`team_reviewers`); its members are assigned to the issue.
    pub team: Option<String>,
    /// The label that marks the PR; its merge triggers `release-merged`.
    pub label: String,
    /// The release branch is `<branch-prefix><X.Y.Z>`.
    pub branch_prefix: String,
    /// `major`, `minor` or `patch`.
    pub bump: String,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            reviewer: None,
            team: None,
            label: "automated-release".into(),
            branch_prefix: "release/v".into(),
            bump: "minor".into(),
        }
    }
}

/// `org/team`: (org, team slug).
pub fn split_team(s: &str) -> Option<(&str, &str)> {
    let (org, team) = s.split_once('/')?;
    let ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    };
    (ok(org) && ok(team)).then_some((org, team))
}

/// A GitHub login: letters, digits and single hyphens.
pub fn valid_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `[workspace.metadata.release.timeouts]`: seconds per `publish-prod` stage; none is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub build: Option<u64>,
    /// The gates' stage (`pre-publish` in `publish-prod`, `pre-release` in `bump-version` and
    /// `release`).
    pub test: Option<u64>,
    pub publish: Option<u64>,
    pub verify: Option<u64>,
}

impl Timeouts {
    /// The limit of a stage by its plan name (`build`, `test`, `publish`, `verify`).
    pub fn of(&self, stage: &str) -> Option<std::time::Duration> {
        match stage {
            "build" => self.build,
            "test" => self.test,
            "publish" => self.publish,
            "verify" => self.verify,
            _ => None,
        }
        .map(std::time::Duration::from_secs)
    }
}

/// One `[[workspace.metadata.release.files]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraFile {
    pub path: String,
    pub kind: crate::core::versioned::Kind,
    /// Exactly this many places must state the version.
    pub count: usize,
    pub format: crate::core::versioned::Render,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonConfig {
    /// Distribution name; default: `[project].name`.
    pub package: Option<String>,
    /// twine's upload target.
    pub repository_url: String,
    /// The simple API that verification reads.
    pub index_url: String,
    /// `index-fallback`: the index redirects projects it lacks to another host (pypiserver's
    /// default); such a redirect then means "not listed". It is never followed either way.
    pub index_fallback: bool,
    /// `strict-check`: `twine check` warnings (a missing `long_description`, which PyPI
    /// accepts) stop the build too; errors always do.
    pub strict_check: bool,
}

impl Default for PythonConfig {
    fn default() -> Self {
        PythonConfig {
            package: None,
            repository_url: "https://upload.pypi.org/legacy/".into(),
            index_url: "https://pypi.org/simple/".into(),
            index_fallback: false,
            strict_check: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    pub path: String,
    pub port: u16,
    pub timeout_s: u64,
    /// `probe-image`: the image the probe sidecar runs from when the image has no python3
    /// (None: the local base image).
    pub probe_image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerConfig {
    /// Repository path pushed under each registry (`acme/app`).
    pub image: String,
    /// Each gets every tag (`ghcr.io`, `127.0.0.1:5000`).
    pub registries: Vec<String>,
    pub dockerfile: String,
    pub context: String,
    pub platforms: Vec<String>,
    pub build_args: Vec<(String, String)>,
    pub health: HealthConfig,
    /// Moving tags to maintain: any of minor, major, latest, sha.
    pub tags: Vec<String>,
    /// Where `promote` copies the release's image from (`127.0.0.1:5000`, `ghcr.io/acme-staging`).
    pub staging_registry: Option<String>,
}

/// `[workspace.metadata.release.deploy]`: the command `publish-prod` runs once everything is
/// published and verified (argv, never a shell), with `{name}` placeholders
/// ([`crate::core::placeholder::DEPLOY`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployConfig {
    /// `command`: program and arguments, placeholders not yet rendered.
    pub command: Vec<String>,
    /// `environment` (default `production`, GitHub's default environment name).
    pub environment: String,
    /// `timeout-s` (default 600): the command is killed after this long.
    pub timeout_s: u64,
    /// `github-deployment` (default true): record a GitHub deployment and its status when
    /// the GitHub repository is known.
    pub github_deployment: bool,
    /// Where the command runs: the repository root.
    pub root: PathBuf,
}

impl DockerConfig {
    /// `<registry>/<image>` for each registry.
    pub fn repositories(&self) -> Vec<String> {
        self.registries
            .iter()
            .map(|r| format!("{}/{}", r.trim_end_matches('/'), self.image))
            .collect()
    }
}

impl Config {
    pub fn defaults(root: PathBuf) -> Config {
        Config {
            root,
            tag_prefix: "v".into(),
            branch: "main".into(),
            branches: vec!["main".into()],
            changelog: "CHANGELOG.md".into(),
            pyproject: "pyproject.toml".into(),
            compose: Vec::new(),
            images: Vec::new(),
            remote: "origin".into(),
            changelog_other: true,
            repository: None,
            webhooks: Vec::new(),
            notify: None,
            notify_on: vec!["failure".into()],
            ci_wait_s: 0,
            github_repo: None,
            release_workflow: "release.yml".into(),
            python: PythonConfig::default(),
            docker: None,
            deploy: None,
            changelog_style: None,
            pyprojects: vec!["pyproject.toml".into()],
            files: Vec::new(),
            gates: Vec::new(),
            timeouts: Timeouts::default(),
            review: ReviewConfig::default(),
            credentials_warn_days: 14,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// How to get a configuration: `init` writes one from what it finds in the repository.
pub const RUN_INIT: &str =
    "run `cargo xtask init` to write one from what it finds in the repository \
                            (`--dry-run` shows it first)";

/// Loads the config of the repository at `root`. A missing `Cargo.toml` or missing table is an
/// error that names `init` (slipway never runs on silent defaults); anything malformed is an
/// error per key.
pub fn load(root: &Path) -> Result<Config, Vec<String>> {
    let path = root.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(vec![format!(
                "{FILE} not found at the repository root ({}): slipway is configured in its \
                 {TABLE}; {RUN_INIT}",
                root.display()
            )])
        }
        Err(e) => return Err(vec![format!("{FILE}: cannot read: {e}")]),
    };
    parse(root, &text)
}

/// [`load`], or a refusal (exit 2) that lists every configuration problem, for command `what`.
pub fn load_or_refuse(root: &Path, what: &str) -> anyhow::Result<Config> {
    load(root).map_err(|errors| {
        let mut p = crate::Problems::default();
        errors.into_iter().for_each(|e| p.invalid(e));
        p.check(what)
            .expect_err("load failed with at least one error")
    })
}

pub fn parse(root: &Path, text: &str) -> Result<Config, Vec<String>> {
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        vec![format!(
            "{FILE}: {}",
            crate::core::pyproject::toml_error(&e)
        )]
    })?;
    let mut cfg = Config::defaults(root.into());
    let package_table = doc
        .as_table()
        .get("package")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("release"))
        .and_then(Item::as_table_like);
    let mut errors = Vec::new();
    if let Some(t) = package_table {
        let keys: Vec<String> = t.iter().map(|(k, _)| format!("`{k}`")).collect();
        errors.push(format!(
            "{FILE}: [package.metadata.release] is not read ({}); did you mean {TABLE}? move \
             the keys there (slipway reads the workspace table of the top-level Cargo.toml)",
            if keys.is_empty() {
                "no keys".to_string()
            } else {
                keys.join(", ")
            }
        ));
    }
    let Some(item) = doc
        .as_table()
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("release"))
    else {
        if errors.is_empty() {
            errors.push(format!("{FILE} has no {TABLE} table; {RUN_INIT}"));
        }
        return Err(errors);
    };
    let Some(table) = item.as_table_like() else {
        return Err(vec![format!("{FILE}: {TABLE} must be a table")]);
    };
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
    string("changelog", &mut cfg.changelog, check_changelog_path);
    if table.get("pyproject").is_some_and(|i| i.as_str().is_some()) {
        string("pyproject", &mut cfg.pyproject, check_rel_path);
        cfg.pyprojects = vec![cfg.pyproject.clone()];
    }
    for (key, slot, check) in [
        (
            "compose",
            &mut cfg.compose,
            check_rel_path as fn(&str) -> Result<(), String>,
        ),
        ("images", &mut cfg.images, check_image),
        ("webhooks", &mut cfg.webhooks, check_web_url),
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
    parse_branches(table, &mut cfg, &mut errors);
    for name in SUBTABLES {
        if let Some(item) = table.get(name) {
            match item.as_table_like() {
                Some(t) => {
                    let mut sub = Sub {
                        name,
                        table: t,
                        errors: &mut errors,
                    };
                    match *name {
                        "github" => parse_github(&mut sub, &mut cfg),
                        "python" => parse_python(&mut sub, &mut cfg),
                        "deploy" => cfg.deploy = parse_deploy(&mut sub, root),
                        "timeouts" => cfg.timeouts = parse_timeouts(&mut sub),
                        "review" => cfg.review = parse_review(&mut sub),
                        "credentials" => parse_credentials(&mut sub, &mut cfg),
                        _ => cfg.docker = parse_docker(&mut sub),
                    }
                }
                None => errors.push(format!(
                    "{FILE}: [workspace.metadata.release.{name}] must be a table"
                )),
            }
        }
    }
    parse_notices(table, &mut cfg, &mut errors);
    parse_adoption(table, &mut cfg, &mut errors);
    cfg.gates = parse_gates(table, &mut errors);
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

/// `branches = ["main", "release/*"]`: valid patterns, and the main `branch` among what they match.
fn parse_branches(table: &dyn toml_edit::TableLike, cfg: &mut Config, errors: &mut Vec<String>) {
    use crate::core::branch;
    let Some(item) = table.get("branches") else {
        cfg.branches = vec![cfg.branch.clone()];
        return;
    };
    let Some(list) = string_array(item) else {
        errors.push(format!(
            "{FILE}: {TABLE} branches must be an array of strings (glob patterns, e.g. [\"main\", \"release/*\"])"
        ));
        return;
    };
    if list.is_empty() {
        errors.push(format!(
            "{FILE}: {TABLE} branches is empty; list every branch releases are cut from, e.g. [{:?}, \"release/*\"]",
            cfg.branch
        ));
        return;
    }
    let mut valid = true;
    for p in &list {
        if let Some(why) = branch::pattern_problem(p) {
            valid = false;
            errors.push(format!("{FILE}: {TABLE} branches entry {p:?} {why}"));
        }
    }
    if valid && branch::matching(&list, &cfg.branch).is_none() {
        errors.push(format!(
            "{FILE}: {TABLE} branches = [{}] does not match the main branch `{}` (key `branch`); add {:?} to `branches`",
            list.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", "),
            cfg.branch,
            cfg.branch
        ));
    }
    cfg.branches = list;
}

/// Reads one `[workspace.metadata.release.<name>]` table, recording errors that name the key.
struct Sub<'a> {
    name: &'a str,
    table: &'a dyn toml_edit::TableLike,
    errors: &'a mut Vec<String>,
}

impl Sub<'_> {
    fn err(&mut self, key: &str, what: &str) {
        self.errors.push(format!(
            "{FILE}: [workspace.metadata.release.{}] {key} {what}",
            self.name
        ));
    }
    fn check_keys(&mut self, known: &[&str]) {
        let unknown: Vec<String> = self
            .table
            .iter()
            .map(|(k, _)| k.to_string())
            .filter(|k| !known.contains(&k.as_str()))
            .collect();
        for k in unknown {
            self.errors.push(format!(
                "{FILE}: unknown key `{k}` in [workspace.metadata.release.{}]; known keys: {}",
                self.name,
                known.join(", ")
            ));
        }
    }
    fn string(&mut self, key: &str) -> Option<String> {
        let item = self.table.get(key)?;
        match item.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s.to_string()),
            _ => {
                self.err(key, "must be a non-empty string");
                None
            }
        }
    }
    fn strings(&mut self, key: &str) -> Option<Vec<String>> {
        let item = self.table.get(key)?;
        match string_array(item) {
            Some(v) => Some(v),
            None => {
                self.err(key, "must be an array of strings");
                None
            }
        }
    }
}

/// The notice channels `notify` may name.
pub const NOTIFY_CHANNELS: &[&str] = &["slack", "discord", "webhook", "email"];

/// `notify` and `notify-on`.
fn parse_notices(table: &dyn toml_edit::TableLike, cfg: &mut Config, errors: &mut Vec<String>) {
    for (key, known) in [
        ("notify", NOTIFY_CHANNELS),
        ("notify-on", &["failure", "success"][..]),
    ] {
        let Some(item) = table.get(key) else { continue };
        let Some(list) = string_array(item) else {
            errors.push(format!(
                "{FILE}: {TABLE} {key} must be an array of strings (any of {})",
                known.join(", ")
            ));
            continue;
        };
        let bad: Vec<&String> = list
            .iter()
            .filter(|c| !known.contains(&c.as_str()))
            .collect();
        for b in &bad {
            errors.push(format!(
                "{FILE}: {TABLE} {key} entry {b:?} is unknown; use any of {}",
                known.join(", ")
            ));
        }
        if bad.is_empty() {
            if key == "notify" {
                cfg.notify = Some(list);
            } else {
                cfg.notify_on = list;
            }
        }
    }
}

fn parse_github(s: &mut Sub, cfg: &mut Config) {
    s.check_keys(&["repo", "release-workflow", "ci-wait-s"]);
    if let Some(item) = s.table.get("ci-wait-s") {
        match item.as_integer() {
            Some(n) if (0..=86_400).contains(&n) => cfg.ci_wait_s = n as u64,
            _ => s.err(
                "ci-wait-s",
                "must be a whole number of seconds (0 to 86400)",
            ),
        }
    }
    if let Some(r) = s.string("repo") {
        if r.split('/').count() == 2
            && !r.contains(char::is_whitespace)
            && !r.starts_with('/')
            && !r.ends_with('/')
        {
            cfg.github_repo = Some(r);
        } else {
            s.err("repo", "must be \"owner/name\"");
        }
    }
    if let Some(w) = s.string("release-workflow") {
        cfg.release_workflow = w;
    }
}

fn parse_review(s: &mut Sub) -> ReviewConfig {
    s.check_keys(&["reviewer", "team", "label", "branch-prefix", "bump"]);
    let mut r = ReviewConfig::default();
    if let Some(v) = s.string("reviewer") {
        if valid_login(&v) {
            r.reviewer = Some(v);
        } else {
            s.err(
                "reviewer",
                "must be a GitHub login (a team goes in `team` as \"org/team\")",
            );
        }
    }
    if let Some(v) = s.string("team") {
        if split_team(&v).is_some() {
            r.team = Some(v);
        } else {
            s.err("team", "must be \"org/team\" (the team's slug)");
        }
    }
    if let Some(v) = s.string("label") {
        if v.contains(',') {
            s.err("label", "must be one label (no commas)");
        } else {
            r.label = v;
        }
    }
    if let Some(v) = s.string("branch-prefix") {
        if v.contains(char::is_whitespace) || v.contains("..") || v.starts_with('/') {
            s.err(
                "branch-prefix",
                "must be a git branch name prefix, e.g. \"release/v\"",
            );
        } else {
            r.branch_prefix = v;
        }
    }
    if let Some(v) = s.string("bump") {
        if matches!(v.as_str(), "major" | "minor" | "patch") {
            r.bump = v;
        } else {
            s.err("bump", "must be one of major, minor, patch");
        }
    }
    r
}

fn parse_python(s: &mut Sub, cfg: &mut Config) {
    s.check_keys(&[
        "package",
        "repository-url",
        "index-url",
        "index-fallback",
        "strict-check",
    ]);
    for (key, slot) in [
        ("index-fallback", &mut cfg.python.index_fallback),
        ("strict-check", &mut cfg.python.strict_check),
    ] {
        if let Some(item) = s.table.get(key) {
            match item.as_bool() {
                Some(b) => *slot = b,
                None => s.err(key, "must be true or false"),
            }
        }
    }
    cfg.python.package = s.string("package");
    for (key, slot) in [
        ("repository-url", &mut cfg.python.repository_url),
        ("index-url", &mut cfg.python.index_url),
    ] {
        if let Some(u) = s.string(key) {
            if u.starts_with("https://") || u.starts_with("http://") {
                *slot = if u.ends_with('/') { u } else { format!("{u}/") };
            } else {
                s.err(key, "must be an http(s) URL");
            }
        }
    }
}

fn parse_deploy(s: &mut Sub, root: &Path) -> Option<DeployConfig> {
    s.check_keys(&["command", "environment", "timeout-s", "github-deployment"]);
    let mut ok = true;
    let command = match s.table.get("command") {
        None => {
            s.err(
                "command",
                "is required: the program and its arguments, e.g. \
                 [\"helm\", \"upgrade\", \"--install\", \"app\", \"./chart\", \"--set\", \"image.tag={docker_tag}\"]",
            );
            None
        }
        Some(item) => match string_array(item) {
            Some(v) if !v.is_empty() && !v[0].trim().is_empty() => Some(v),
            _ => {
                s.err(
                    "command",
                    "must be a non-empty array of strings (program first), e.g. [\"./deploy.sh\", \"{version}\"]",
                );
                None
            }
        },
    };
    if let Some(argv) = &command {
        for problem in crate::core::placeholder::check(argv, crate::core::placeholder::DEPLOY) {
            let what = if problem.starts_with("unknown") {
                format!("has an {problem}")
            } else {
                format!("argument {problem}")
            };
            s.err("command", &what);
            ok = false;
        }
    }
    let environment = match s.table.get("environment") {
        None => "production".to_string(),
        Some(_) => match s.string("environment") {
            Some(e) if !e.contains(char::is_whitespace) => e,
            Some(_) => {
                s.err("environment", "must be one word, like \"staging\"");
                ok = false;
                String::new()
            }
            None => {
                ok = false;
                String::new()
            }
        },
    };
    let timeout_s = match s.table.get("timeout-s") {
        None => 600,
        Some(item) => match item.as_integer() {
            Some(t) if t > 0 => t as u64,
            _ => {
                s.err("timeout-s", "must be a positive number of seconds");
                ok = false;
                0
            }
        },
    };
    let github_deployment = match s.table.get("github-deployment") {
        None => true,
        Some(item) => match item.as_bool() {
            Some(b) => b,
            None => {
                s.err("github-deployment", "must be true or false");
                ok = false;
                true
            }
        },
    };
    let command = command?;
    ok.then(|| DeployConfig {
        command,
        environment,
        timeout_s,
        github_deployment,
        root: root.to_path_buf(),
    })
}

fn parse_credentials(s: &mut Sub, cfg: &mut Config) {
    s.check_keys(&["warn-days"]);
    if let Some(item) = s.table.get("warn-days") {
        match item.as_integer() {
            Some(n) if (0..=365).contains(&n) => cfg.credentials_warn_days = n as u64,
            _ => s.err("warn-days", "must be a whole number of days (0 to 365)"),
        }
    }
}

fn parse_timeouts(s: &mut Sub) -> Timeouts {
    s.check_keys(&["build", "test", "publish", "verify"]);
    let mut t = Timeouts::default();
    for (key, slot) in [
        ("build", &mut t.build),
        ("test", &mut t.test),
        ("publish", &mut t.publish),
        ("verify", &mut t.verify),
    ] {
        if let Some(item) = s.table.get(key) {
            match item.as_integer() {
                Some(n) if n > 0 => *slot = Some(n as u64),
                _ => s.err(
                    key,
                    "must be a positive number of seconds (leave it out for no limit)",
                ),
            }
        }
    }
    t
}

/// `[[workspace.metadata.release.gates]]`: every error names the key and the gate.
fn parse_gates(
    table: &dyn toml_edit::TableLike,
    errors: &mut Vec<String>,
) -> Vec<crate::core::gates::Gate> {
    use crate::core::gates::{Gate, Stage, DEFAULT_TIMEOUT_S};
    const GATE_KEYS: &[&str] = &[
        "name",
        "command",
        "stage",
        "timeout-s",
        "blocking",
        "python",
        "requirements",
    ];
    let Some(item) = table.get("gates") else {
        return Vec::new();
    };
    let example = "[[workspace.metadata.release.gates]] with name = \"tests\", \
                   command = [\"python3\", \"-m\", \"unittest\"], stage = \"pre-release\"";
    let tables: Vec<&dyn toml_edit::TableLike> = match item {
        Item::ArrayOfTables(a) => a.iter().map(|t| t as &dyn toml_edit::TableLike).collect(),
        Item::Value(toml_edit::Value::Array(a)) => {
            let list: Option<Vec<&dyn toml_edit::TableLike>> = a
                .iter()
                .map(|v| v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike))
                .collect();
            match list {
                Some(l) => l,
                None => {
                    errors.push(format!(
                        "{FILE}: {TABLE} gates must be an array of tables: {example}"
                    ));
                    return Vec::new();
                }
            }
        }
        _ => {
            errors.push(format!(
                "{FILE}: {TABLE} gates must be an array of tables: {example}"
            ));
            return Vec::new();
        }
    };
    let mut gates: Vec<Gate> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, t) in tables.into_iter().enumerate() {
        let name = t
            .get("name")
            .and_then(Item::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace) && !n.contains(','))
            .map(String::from);
        let who = match &name {
            Some(n) => format!("gate `{n}`"),
            None => format!("gate #{}", i + 1),
        };
        let mut err = |key: &str, what: &str| {
            errors.push(format!(
                "{FILE}: [[workspace.metadata.release.gates]] {who}: {key} {what}"
            ))
        };
        for (k, _) in t.iter() {
            if !GATE_KEYS.contains(&k) {
                err(
                    &format!("`{k}`"),
                    &format!("is not a gate key; known keys: {}", GATE_KEYS.join(", ")),
                );
            }
        }
        if name.is_none() {
            err(
                "name",
                "is required: one word without commas, e.g. \"tests\" (what --skip-gate names)",
            );
        }
        if let Some(n) = &name {
            if seen.contains(n) {
                err("name", "is used by another gate; names must be unique");
            }
            seen.push(n.clone());
        }
        let command = match t.get("command").map(string_array) {
            Some(Some(v)) if !v.is_empty() && !v[0].trim().is_empty() => Some(v),
            Some(_) => {
                err(
                    "command",
                    "must be a non-empty array of strings (program first, no shell), e.g. [\"ruff\", \"check\"]",
                );
                None
            }
            None => {
                err(
                    "command",
                    "is required: the program and its arguments, e.g. [\"ruff\", \"check\"]",
                );
                None
            }
        };
        let stage = match t.get("stage") {
            None => {
                err("stage", "is required: \"pre-release\" or \"pre-publish\"");
                None
            }
            Some(item) => match item.as_str().and_then(Stage::parse) {
                Some(s) => Some(s),
                None => {
                    err("stage", "must be \"pre-release\" or \"pre-publish\"");
                    None
                }
            },
        };
        let timeout_s = match t.get("timeout-s") {
            None => Some(DEFAULT_TIMEOUT_S),
            Some(item) => match item.as_integer() {
                Some(n) if n > 0 => Some(n as u64),
                _ => {
                    err("timeout-s", "must be a positive number of seconds");
                    None
                }
            },
        };
        let blocking = match t.get("blocking") {
            None => Some(true),
            Some(item) => match item.as_bool() {
                Some(b) => Some(b),
                None => {
                    err("blocking", "must be true or false");
                    None
                }
            },
        };
        let python = match t.get("python") {
            None => Some(Vec::new()),
            Some(item) => match string_array(item) {
                Some(v)
                    if !v.is_empty()
                        && v.iter().all(|p| {
                            let mut parts = p.split('.');
                            parts.next() == Some("3")
                                && parts.next().is_some_and(|m| {
                                    !m.is_empty() && m.chars().all(|c| c.is_ascii_digit())
                                })
                                && parts.next().is_none()
                        }) =>
                {
                    Some(v)
                }
                _ => {
                    err(
                        "python",
                        "must be a non-empty array of interpreter versions like [\"3.11\", \"3.12\"]",
                    );
                    None
                }
            },
        };
        let requirements = match t.get("requirements") {
            None => Some(Vec::new()),
            Some(item) => match string_array(item) {
                Some(_) if t.get("python").is_none() => {
                    err(
                        "requirements",
                        "needs `python` (they are installed into each interpreter's venv; the gate tools' venv is pinned by slipway)",
                    );
                    None
                }
                Some(v) if !v.is_empty() && v.iter().all(|r| pinned_requirement(r)) => Some(v),
                _ => {
                    err(
                        "requirements",
                        "must be a non-empty array of pinned requirements like [\"pytest==8.3.3\"] (name==version, so every run installs the same)",
                    );
                    None
                }
            },
        };
        if let (
            Some(name),
            Some(command),
            Some(stage),
            Some(timeout_s),
            Some(blocking),
            Some(python),
            Some(requirements),
        ) = (
            name,
            command,
            stage,
            timeout_s,
            blocking,
            python,
            requirements,
        ) {
            gates.push(Gate {
                name,
                command,
                stage,
                timeout_s,
                blocking,
                python,
                requirements,
            });
        }
    }
    gates
}

/// `name==version` (extras allowed in the name, no spaces, no other operator, no URL).
fn pinned_requirement(r: &str) -> bool {
    let Some((name, version)) = r.split_once("==") else {
        return false;
    };
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.[],".contains(c));
    let version_ok = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+!-".contains(c));
    name_ok && version_ok
}

fn parse_docker(s: &mut Sub) -> Option<DockerConfig> {
    s.check_keys(&[
        "image",
        "registries",
        "dockerfile",
        "context",
        "platforms",
        "build-args",
        "health",
        "tags",
        "staging-registry",
    ]);
    let image = s.string("image");
    if image.is_none() && s.table.get("image").is_none() {
        s.err(
            "image",
            "is required (the repository path pushed under each registry, e.g. \"acme/app\")",
        );
    }
    if let Some(i) = &image {
        if let Err(why) = check_image(i) {
            s.err("image", &why);
        }
    }
    let registries = s
        .strings("registries")
        .unwrap_or_else(|| vec!["ghcr.io".into()]);
    if registries.is_empty() {
        s.err("registries", "must name at least one registry");
    }
    let platforms = s
        .strings("platforms")
        .unwrap_or_else(|| vec!["linux/amd64".into()]);
    for p in &platforms {
        if !p.starts_with("linux/") {
            s.err(
                "platforms",
                &format!("entry {p:?} must look like linux/amd64 or linux/arm64"),
            );
        }
    }
    let mut build_args = Vec::new();
    if let Some(item) = s.table.get("build-args") {
        match item.as_table_like() {
            Some(t) => {
                for (k, v) in t.iter() {
                    match v.as_str() {
                        Some(v) => build_args.push((k.to_string(), v.to_string())),
                        None => s.err("build-args", &format!("value of {k} must be a string")),
                    }
                }
            }
            None => s.err(
                "build-args",
                "must be a table like { BASE_IMAGE = \"...\" }",
            ),
        }
    }
    let mut health = HealthConfig {
        path: "/health".into(),
        port: 8080,
        timeout_s: 60,
        probe_image: None,
    };
    if let Some(item) = s.table.get("health") {
        match item.as_table_like() {
            Some(t) => {
                for (k, v) in t.iter() {
                    match k {
                        "path" => match v.as_str() {
                            Some(p) if p.starts_with('/') => health.path = p.to_string(),
                            _ => s.err("health", "path must be a string starting with /"),
                        },
                        "port" => match v.as_integer() {
                            Some(p) if (1..=65535).contains(&p) => health.port = p as u16,
                            _ => s.err("health", "port must be 1..65535"),
                        },
                        "timeout-s" => match v.as_integer() {
                            Some(t) if t > 0 => health.timeout_s = t as u64,
                            _ => s.err("health", "timeout-s must be a positive number of seconds"),
                        },
                        "probe-image" => match v.as_str() {
                            Some(i) if !i.trim().is_empty() && !i.contains(char::is_whitespace) => {
                                health.probe_image = Some(i.to_string())
                            }
                            _ => s.err("health", "probe-image must be an image name with python3, like \"slipway-base:bookworm-python\""),
                        },
                        other => s.err(
                            "health",
                            &format!("has an unknown key `{other}` (known: path, port, timeout-s, probe-image)"),
                        ),
                    }
                }
            }
            None => s.err(
                "health",
                "must be a table like { path = \"/health\", port = 8080, timeout-s = 60 }",
            ),
        }
    }
    let tags = s.strings("tags").unwrap_or_else(|| {
        crate::core::dockertags::MOVING_KINDS
            .iter()
            .map(|k| k.to_string())
            .collect()
    });
    if let Err(why) = crate::core::dockertags::TagPolicy::from_kinds("v", &tags) {
        s.err("tags", &why);
    }
    Some(DockerConfig {
        image: image?,
        registries,
        dockerfile: s
            .string("dockerfile")
            .unwrap_or_else(|| "Dockerfile".into()),
        context: s.string("context").unwrap_or_else(|| ".".into()),
        platforms,
        build_args,
        health,
        tags,
        staging_registry: s.string("staging-registry"),
    })
}

/// The adoption keys: `changelog-style`, `pyproject` as a list, `[[…files]]`.
fn parse_adoption(table: &dyn toml_edit::TableLike, cfg: &mut Config, errors: &mut Vec<String>) {
    use crate::core::clstyle::StyleName;
    if let Some(item) = table.get("changelog-style") {
        match item.as_str().and_then(StyleName::parse) {
            Some(s) => cfg.changelog_style = Some(s),
            None => errors.push(format!(
                "{FILE}: {TABLE} changelog-style must be one of {}",
                StyleName::ALL
                    .map(|s| format!("\"{}\"", s.name()))
                    .join(", ")
            )),
        }
    }
    if cfg.changelog.is_empty() && cfg.changelog_style != Some(StyleName::None) {
        errors.push(format!(
            "{FILE}: {TABLE} changelog = \"\" needs changelog-style = \"none\" (a release without a changelog)"
        ));
    }
    if let Some(item) = table.get("pyproject").filter(|i| i.as_str().is_none()) {
        match string_array(item) {
            Some(list) if !list.is_empty() => {
                for p in &list {
                    if let Err(why) = check_rel_path(p) {
                        errors.push(format!("{FILE}: {TABLE} pyproject entry {p:?}: {why}"));
                    }
                }
                cfg.pyproject = list[0].clone();
                cfg.pyprojects = list;
            }
            _ => errors.push(format!(
                "{FILE}: {TABLE} pyproject must be a path or a non-empty array of paths (the first is built)"
            )),
        }
    }
    let Some(item) = table.get("files") else {
        return;
    };
    let entries: Vec<&dyn toml_edit::TableLike> = if let Some(a) = item.as_array_of_tables() {
        a.iter().map(|t| t as &dyn toml_edit::TableLike).collect()
    } else if let Some(a) = item.as_array() {
        let t: Option<Vec<_>> = a
            .iter()
            .map(|v| v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike))
            .collect();
        match t {
            Some(t) => t,
            None => {
                errors.push(format!(
                    "{FILE}: {TABLE} files must be tables: [[workspace.metadata.release.files]]"
                ));
                return;
            }
        }
    } else {
        errors.push(format!(
            "{FILE}: {TABLE} files must be tables: [[workspace.metadata.release.files]]"
        ));
        return;
    };
    for (n, t) in entries.into_iter().enumerate() {
        if let Some(f) = parse_file(t, n + 1, errors) {
            cfg.files.push(f);
        }
    }
}

/// One `[[workspace.metadata.release.files]]` table (`n` counts from 1, for messages).
fn parse_file(
    t: &dyn toml_edit::TableLike,
    n: usize,
    errors: &mut Vec<String>,
) -> Option<ExtraFile> {
    use crate::core::versioned::{Kind, Render};
    const KINDS: &str = "toml, json, yaml, text, dotenv, python, line";
    let before = errors.len();
    let head = |path: &str| format!("{FILE}: [[workspace.metadata.release.files]] #{n} ({path})");
    let path = t.get("path").and_then(|i| i.as_str()).map(str::to_string);
    let shown = path.clone().unwrap_or_else(|| "no path".into());
    let mut err = |e: String| errors.push(format!("{}: {e}", head(&shown)));
    let Some(path) = path else {
        err("`path` is required (the file, relative to the repository root)".into());
        return None;
    };
    if let Err(why) = check_rel_path(&path) {
        err(format!("path: {why}"));
    }
    let get = |k: &str| t.get(k).and_then(|i| i.as_str()).map(str::to_string);
    let kind_name = get("kind").unwrap_or_default();
    let (kind, needs) = match kind_name.as_str() {
        "toml" => (
            get("key").map(|key| Kind::Toml { key }),
            "key = \"tool.x.version\"",
        ),
        "json" => (
            get("pointer").map(|pointer| Kind::Json { pointer }),
            "pointer = \"/version\"",
        ),
        "yaml" => (
            get("key").map(|key| Kind::Yaml { key }),
            "key = \"image.tag\"",
        ),
        "text" => (Some(Kind::Text), ""),
        "dotenv" => (
            get("key").map(|key| Kind::Dotenv { key }),
            "key = \"APP_VERSION\"",
        ),
        "python" => (
            Some(Kind::Python {
                variable: get("variable").unwrap_or_else(|| "__version__".into()),
            }),
            "",
        ),
        "line" => (
            get("template").map(|template| Kind::Line { template }),
            "template = \"current_version = {version}\"",
        ),
        "" => {
            err(format!("`kind` is required: one of {KINDS}"));
            (None, "")
        }
        other => {
            err(format!("unknown kind `{other}`; use one of {KINDS}"));
            (None, "")
        }
    };
    if kind.is_none() && !needs.is_empty() {
        err(format!("kind = \"{kind_name}\" needs {needs}"));
    }
    let allowed: &[&str] = match kind_name.as_str() {
        "toml" | "yaml" | "dotenv" => &["key"],
        "json" => &["pointer"],
        "python" => &["variable"],
        "line" => &["template"],
        _ => &[],
    };
    for (k, _) in t.iter() {
        if !["path", "kind", "count", "format"].contains(&k) && !allowed.contains(&k) {
            err(format!("unknown key `{k}` for kind `{kind_name}`"));
        }
    }
    if let Some(Kind::Line { template }) = &kind {
        if let Err(e) = crate::core::linefile::split_template(template) {
            err(e);
        }
    }
    let count = match t.get("count") {
        None => 1,
        Some(i) => match i.as_integer() {
            Some(c) if c >= 1 => c as usize,
            _ => {
                err("count must be a whole number ≥ 1 (how many places state the version)".into());
                1
            }
        },
    };
    let format = match get("format") {
        None => kind.as_ref().map_or(Render::Semver, Kind::default_render),
        Some(f) => Render::parse(&f).unwrap_or_else(|| {
            err(format!(
                "format = {f:?}: use \"semver\", \"pep440\" or \"docker\""
            ));
            Render::Semver
        }),
    };
    if errors.len() != before {
        return None;
    }
    Some(ExtraFile {
        path,
        kind: kind?,
        count,
        format,
    })
}

fn check_changelog_path(s: &str) -> Result<(), String> {
    // Empty: no changelog (checked against changelog-style in `parse_adoption`).
    if s.is_empty() {
        Ok(())
    } else {
        check_rel_path(s)
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

    /// Parses `s`, with a `[workspace.metadata.release]` header first when it names none.
    fn parse_ok(s: &str) -> Config {
        if s.contains("[workspace.metadata.release") {
            parse(Path::new("/r"), s).unwrap()
        } else {
            parse(
                Path::new("/r"),
                &format!("[workspace.metadata.release]\n{s}"),
            )
            .unwrap()
        }
    }

    #[test]
    fn the_review_table() {
        let d = parse_ok("");
        assert_eq!(d.review, ReviewConfig::default());
        assert_eq!(
            (
                d.review.label.as_str(),
                d.review.branch_prefix.as_str(),
                d.review.bump.as_str()
            ),
            ("automated-release", "release/v", "minor")
        );
        let c = parse_ok(
            "[workspace.metadata.release.review]\nreviewer = \"octocat\"\nteam = \"acme/core\"\n\
             label = \"dev\"\nbranch-prefix = \"rel/\"\nbump = \"patch\"\n",
        );
        assert_eq!(c.review.reviewer.as_deref(), Some("octocat"));
        assert_eq!(c.review.team.as_deref(), Some("acme/core"));
        assert_eq!(
            (
                c.review.label.as_str(),
                c.review.branch_prefix.as_str(),
                c.review.bump.as_str()
            ),
            ("dev", "rel/", "patch")
        );
        let errs = parse(
            Path::new("/r"),
            "[workspace.metadata.release.review]\nreviewer = \"acme/core\"\nteam = \"core\"\n\
             bump = \"auto\"\nreviewers = 1\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 4, "{errs:?}");
        for want in [
            "unknown key `reviewers` in [workspace.metadata.release.review]; known keys: reviewer, team",
            "[workspace.metadata.release.review] reviewer must be a GitHub login",
            "[workspace.metadata.release.review] team must be \"org/team\"",
            "[workspace.metadata.release.review] bump must be one of major, minor, patch",
        ] {
            assert!(errs.iter().any(|e| e.contains(want)), "{want}: {errs:?}");
        }
    }

    #[test]
    fn notices_and_the_ci_wait() {
        let c = parse_ok(
            "[workspace.metadata.release]\nnotify = [\"slack\", \"email\"]\nnotify-on = [\"failure\", \"success\"]\n\
             [workspace.metadata.release.github]\nci-wait-s = 120\n",
        );
        assert_eq!(c.notify, Some(vec!["slack".into(), "email".into()]));
        assert_eq!(c.notify_on, ["failure", "success"]);
        assert_eq!(c.ci_wait_s, 120);
        let d = parse_ok("");
        assert_eq!(
            (d.notify, d.notify_on, d.ci_wait_s),
            (None, vec!["failure".to_string()], 0)
        );
        let errs = parse(
            Path::new("/r"),
            "[workspace.metadata.release]\nnotify = [\"pager\"]\nnotify-on = \"always\"\n\
             [workspace.metadata.release.github]\nci-wait-s = -1\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        for want in [
            "notify entry \"pager\" is unknown; use any of slack, discord",
            "notify-on must be an array of strings (any of failure, success)",
            "ci-wait-s must be a whole number of seconds",
        ] {
            assert!(
                errs.iter().any(|e| e.contains(want)),
                "{want:?} in {errs:?}"
            );
        }
    }

    #[test]
    fn defaults_with_an_empty_table() {
        assert_eq!(parse_ok(""), Config::defaults("/r".into()));
    }

    #[test]
    fn no_table_is_an_error_naming_init() {
        for text in ["", "[workspace]\nmembers = []\n"] {
            let errs = parse(Path::new("/r"), text).unwrap_err();
            assert_eq!(errs.len(), 1);
            assert!(
                errs[0].starts_with(
                    "Cargo.toml has no [workspace.metadata.release] table; run `cargo xtask init`"
                ),
                "{errs:?}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let errs = load(dir.path()).unwrap_err();
        assert!(
            errs[0].starts_with("Cargo.toml not found at the repository root"),
            "{errs:?}"
        );
        assert!(errs[0].contains("cargo xtask init"), "{errs:?}");
    }

    #[test]
    fn package_metadata_gets_a_did_you_mean() {
        let errs = parse(
            Path::new("/r"),
            "[package]\nname = \"x\"\n[package.metadata.release]\ntag-prefix = \"\"\nbranch = \"main\"\n",
        )
        .unwrap_err();
        assert_eq!(
            errs,
            ["Cargo.toml: [package.metadata.release] is not read (`tag-prefix`, `branch`); did you \
              mean [workspace.metadata.release]? move the keys there (slipway reads the workspace \
              table of the top-level Cargo.toml)"]
        );
    }

    #[test]
    fn branches_default_to_the_main_branch_and_must_include_it() {
        assert_eq!(parse_ok("").branches, ["main"]);
        assert_eq!(parse_ok("branch = \"trunk\"").branches, ["trunk"]);
        let c = parse_ok("branches = [\"main\", \"release/*\"]");
        assert_eq!(c.branches, ["main", "release/*"]);
        let errs = parse(
            Path::new("/r"),
            "[workspace.metadata.release]\nbranch = \"trunk\"\nbranches = [\"release/*\"]\n",
        )
        .unwrap_err();
        assert_eq!(
            errs,
            ["Cargo.toml: [workspace.metadata.release] branches = [\"release/*\"] does not match the \
              main branch `trunk` (key `branch`); add \"trunk\" to `branches`"]
        );
        for (text, says) in [
            (
                "branches = \"main\"",
                "branches must be an array of strings",
            ),
            ("branches = []", "branches is empty"),
            (
                "branches = [\"main\", \"rel ease/*\"]",
                "branches entry \"rel ease/*\" contains whitespace",
            ),
        ] {
            let errs = parse(
                Path::new("/r"),
                &format!("[workspace.metadata.release]\n{text}\n"),
            )
            .unwrap_err();
            assert!(
                errs.len() == 1 && errs[0].contains(says),
                "{text}: {errs:?}"
            );
        }
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
    fn deploy_table() {
        let c = parse_ok(
            r#"
[workspace.metadata.release.deploy]
command = ["helm", "upgrade", "--install", "app", "./chart", "--set", "image.tag={docker_tag}"]
environment = "staging"
timeout-s = 90
"#,
        );
        let d = c.deploy.unwrap();
        assert_eq!(d.command[6], "image.tag={docker_tag}");
        assert_eq!((d.environment.as_str(), d.timeout_s), ("staging", 90));
        assert!(d.github_deployment);
        assert_eq!(d.root, Path::new("/r"));
        let d = parse_ok("[workspace.metadata.release.deploy]\ncommand = [\"./deploy.sh\"]\ngithub-deployment = false\n")
            .deploy
            .unwrap();
        assert_eq!((d.environment.as_str(), d.timeout_s), ("production", 600));
        assert!(!d.github_deployment);
        assert_eq!(parse_ok("").deploy, None);
    }

    #[test]
    fn deploy_errors_name_the_key() {
        for (table, want) in [
            ("environment = \"x\"", "[workspace.metadata.release.deploy] command is required"),
            ("command = []", "[workspace.metadata.release.deploy] command must be a non-empty array of strings"),
            ("command = \"helm upgrade\"", "command must be a non-empty array of strings"),
            (
                "command = [\"deploy\", \"{sha}\", \"{env}\"]",
                "[workspace.metadata.release.deploy] command has an unknown placeholders {sha}, {env}; known: {version}, {tag}, {docker_tag}, {digest}, {image}",
            ),
            ("command = [\"deploy\", \"{tag\"]", "command argument `{tag` has a `{` that is not closed"),
            ("command = [\"d\"]\ntimeout-s = 0", "[workspace.metadata.release.deploy] timeout-s must be a positive number of seconds"),
            ("command = [\"d\"]\nenvironment = \"\"", "[workspace.metadata.release.deploy] environment must be a non-empty string"),
            ("command = [\"d\"]\nenvironment = \"my env\"", "environment must be one word"),
            ("command = [\"d\"]\ngithub-deployment = \"yes\"", "github-deployment must be true or false"),
            ("command = [\"d\"]\nhooks = 1", "unknown key `hooks` in [workspace.metadata.release.deploy]; known keys: command, environment, timeout-s, github-deployment"),
        ] {
            let errs = parse(
                Path::new("/r"),
                &format!("[workspace.metadata.release.deploy]\n{table}\n"),
            )
            .unwrap_err()
            .join("\n");
            assert!(errs.contains(want), "{table}: missing {want:?} in\n{errs}");
            assert!(errs.starts_with("Cargo.toml: "), "{errs}");
        }
    }

    #[test]
    fn docker_python_github_tables() {
        let c = parse_ok(
            r#"
[workspace.metadata.release.docker]
image = "acme/app"
registries = ["ghcr.io", "127.0.0.1:5000"]
platforms = ["linux/amd64", "linux/arm64"]
build-args = { BASE_IMAGE = "slipway-base:bookworm-python" }
health = { path = "/healthz", port = 9000, timeout-s = 30, probe-image = "acme/probe:1" }
tags = ["latest"]
[workspace.metadata.release.python]
package = "acme-app"
repository-url = "http://127.0.0.1:8081"
index-url = "http://127.0.0.1:8081/simple"
index-fallback = true
strict-check = true
[workspace.metadata.release.github]
repo = "acme/app"
release-workflow = "publish.yml"
"#,
        );
        let d = c.docker.unwrap();
        assert_eq!(
            d.repositories(),
            ["ghcr.io/acme/app", "127.0.0.1:5000/acme/app"]
        );
        assert_eq!(
            d.build_args,
            [(
                "BASE_IMAGE".to_string(),
                "slipway-base:bookworm-python".to_string()
            )]
        );
        assert_eq!(
            d.health,
            HealthConfig {
                path: "/healthz".into(),
                port: 9000,
                timeout_s: 30,
                probe_image: Some("acme/probe:1".into())
            }
        );
        assert_eq!(d.dockerfile, "Dockerfile");
        assert_eq!(c.python.repository_url, "http://127.0.0.1:8081/");
        assert_eq!(c.python.index_url, "http://127.0.0.1:8081/simple/");
        assert!(c.python.index_fallback);
        assert!(!parse_ok("").python.index_fallback);
        assert!(c.python.strict_check);
        assert!(!parse_ok("").python.strict_check);
        assert_eq!(c.release_workflow, "publish.yml");
        assert_eq!(parse_ok("").docker, None);
        assert_eq!(parse_ok("").python.index_url, "https://pypi.org/simple/");
    }

    #[test]
    fn subtable_errors_name_the_key() {
        let errs = parse(
            Path::new("/r"),
            r#"
[workspace.metadata.release.docker]
registries = "ghcr.io"
platforms = ["windows/amd64"]
health = { port = 0, retries = 3, probe-image = "" }
tags = ["newest"]
[workspace.metadata.release.python]
index-url = "pypi.org"
index-fallback = "yes"
colour = "blue"
"#,
        )
        .unwrap_err();
        let all = errs.join("\n");
        for want in [
            "[workspace.metadata.release.docker] image is required",
            "[workspace.metadata.release.docker] registries must be an array of strings",
            "platforms entry \"windows/amd64\" must look like linux/amd64",
            "health port must be 1..65535",
            "health has an unknown key `retries`",
            "health probe-image must be an image name with python3",
            "tags unknown tag kind `newest`",
            "[workspace.metadata.release.python] index-url must be an http(s) URL",
            "[workspace.metadata.release.python] index-fallback must be true or false",
            "unknown key `colour` in [workspace.metadata.release.python]",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
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
    fn adoption_keys() {
        use crate::core::clstyle::StyleName;
        use crate::core::versioned::{Kind, Render};
        let c = parse_ok(
            r#"
[workspace.metadata.release]
changelog-style = "none"
changelog = ""
pyproject = ["pyproject.toml", "sdk/pyproject.toml"]
[[workspace.metadata.release.files]]
path = "server.json"
kind = "json"
pointer = "/packages/*/version"
count = 2
[[workspace.metadata.release.files]]
path = "src/app/__init__.py"
kind = "python"
[[workspace.metadata.release.files]]
path = "values.yaml"
kind = "yaml"
key = "image.tag"
format = "docker"
"#,
        );
        assert_eq!(c.changelog_style, Some(StyleName::None));
        assert_eq!(c.pyproject, "pyproject.toml");
        assert_eq!(c.pyprojects, ["pyproject.toml", "sdk/pyproject.toml"]);
        assert_eq!(c.files.len(), 3);
        assert_eq!(
            c.files[0].kind,
            Kind::Json {
                pointer: "/packages/*/version".into()
            }
        );
        assert_eq!(c.files[0].count, 2);
        assert_eq!(c.files[1].format, Render::Pep440);
        assert_eq!(c.files[2].format, Render::Docker);
        assert_eq!(parse_ok("").pyprojects, ["pyproject.toml"]);

        let errs = parse(
            Path::new("/r"),
            r#"
[workspace.metadata.release]
changelog = ""
changelog-style = "fancy"
[[workspace.metadata.release.files]]
path = "a.json"
kind = "json"
[[workspace.metadata.release.files]]
path = "b"
kind = "xml"
[[workspace.metadata.release.files]]
path = "c"
kind = "line"
template = "no placeholder"
count = 0
key = "x"
"#,
        )
        .unwrap_err();
        let all = errs.join("\n");
        for want in [
            "changelog-style must be one of \"keep-a-changelog\"",
            "changelog = \"\" needs changelog-style = \"none\"",
            "#1 (a.json): kind = \"json\" needs pointer = \"/version\"",
            "#2 (b): unknown kind `xml`",
            "#3 (c): unknown key `key` for kind `line`",
            "#3 (c): template `no placeholder` must contain `{version}`",
            "#3 (c): count must be a whole number",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
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

    #[test]
    fn credentials_warn_days() {
        assert_eq!(
            parse_ok("[workspace.metadata.release]\n").credentials_warn_days,
            14
        );
        let c = parse_ok(
            "[workspace.metadata.release]\n[workspace.metadata.release.credentials]\nwarn-days = 30\n",
        );
        assert_eq!(c.credentials_warn_days, 30);
        let errs = parse(
            Path::new("/r"),
            "[workspace.metadata.release]\n[workspace.metadata.release.credentials]\nwarn-days = -3\n",
        )
        .unwrap_err();
        assert!(
            format!("{errs:?}").contains("warn-days must be a whole number of days"),
            "{errs:?}"
        );
    }

    #[test]
    fn gates_and_timeouts() {
        use crate::core::gates::Stage;
        let c = parse_ok(
            "[workspace.metadata.release]\n\
             [workspace.metadata.release.timeouts]\nbuild = 300\ntest = 600\n\
             [[workspace.metadata.release.gates]]\nname = \"tests\"\n\
             command = [\"python\", \"-m\", \"unittest\"]\nstage = \"pre-release\"\n\
             python = [\"3.11\", \"3.12\"]\n\
             [[workspace.metadata.release.gates]]\nname = \"mypy\"\ncommand = [\"mypy\", \"src\"]\n\
             stage = \"pre-publish\"\nblocking = false\ntimeout-s = 30\n",
        );
        assert_eq!(c.gates.len(), 2);
        assert_eq!(
            (c.gates[0].stage, c.gates[0].blocking, c.gates[0].timeout_s),
            (Stage::PreRelease, true, 600)
        );
        assert_eq!(c.gates[0].python, ["3.11", "3.12"]);
        assert_eq!(
            (c.gates[1].stage, c.gates[1].blocking, c.gates[1].timeout_s),
            (Stage::PrePublish, false, 30)
        );
        assert_eq!(
            c.timeouts.of("build"),
            Some(std::time::Duration::from_secs(300))
        );
        assert_eq!(c.timeouts.of("publish"), None);
        let errs = parse(
            Path::new("/r"),
            "[workspace.metadata.release]\n\
             [workspace.metadata.release.timeouts]\nbuild = 0\nlint = 3\n\
             [[workspace.metadata.release.gates]]\nname = \"tests\"\ncommand = []\nstage = \"later\"\n\
             python = [\"3\"]\nblocking = \"yes\"\ntimeout-s = -1\nshell = true\n\
             [[workspace.metadata.release.gates]]\ncommand = [\"x\"]\nstage = \"pre-release\"\n\
             [[workspace.metadata.release.gates]]\nname = \"tests\"\ncommand = [\"x\"]\nstage = \"pre-release\"\n",
        )
        .unwrap_err();
        let want = [
            "[workspace.metadata.release.timeouts]; known keys: build, test, publish, verify",
            "[workspace.metadata.release.timeouts] build must be a positive number of seconds",
            "gate `tests`: `shell` is not a gate key",
            "gate `tests`: command must be a non-empty array",
            "gate `tests`: stage must be \"pre-release\" or \"pre-publish\"",
            "gate `tests`: timeout-s must be a positive number",
            "gate `tests`: blocking must be true or false",
            "gate `tests`: python must be a non-empty array of interpreter versions",
            "gate #2: name is required",
            "gate `tests`: name is used by another gate",
        ];
        for w in want {
            assert!(errs.iter().any(|e| e.contains(w)), "{w}: {errs:#?}");
        }
        assert_eq!(errs.len(), want.len(), "{errs:#?}");
    }
}
