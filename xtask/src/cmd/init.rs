//! `cargo xtask init [--dry-run]`: writes a commented `[workspace.metadata.release]` into the
//! top-level `Cargo.toml` from what the repository shows.
//!
//! It finds every `pyproject.toml` and where its version lives (static, a module, a file, git
//! tags), every compose file and which of its images are the project's own (built here by a
//! `build:`, or named like the package or the GitHub repository under its owner; the others are
//! listed as left alone, with the reason), the tag prefix of the existing release tags, the
//! changelog and its style, and the extra version files it recognises (`VERSION`, `.release`,
//! `server.json`, `package.json`, `.env.example` version keys, Helm `Chart.yaml` / `values.yaml`,
//! `__version__` assignments). The table is appended, so every byte already in `Cargo.toml` stays;
//! the result is parsed back with toml_edit and loaded as slipway would before anything is
//! written. A repository that has the table already is left as it is: running `init` twice
//! changes nothing.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cmd::Global;
use crate::core::compose;
use crate::core::pyproject::{self, Dynamic};
use crate::core::versioned::{self, Render};
use crate::facts::{config, git, managed};
use crate::run::plan::{Done, FileEdit, Plan, RunContext, Step};
use crate::run::ui::Ui;
use crate::Problems;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub dry_run: bool,
}

/// What `init` found and the plan that writes it.
pub struct Prepared {
    /// One line per finding, in the order they are printed.
    pub findings: Vec<String>,
    pub plan: Plan,
    /// The table as written (empty when the repository already has one).
    pub table: String,
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let p = prepare(&root)?;
    for f in &p.findings {
        ui.note(f);
    }
    if p.plan.steps.is_empty() {
        ui.note(&format!(
            "{} already has {}: nothing to change (remove the table to let init write it again)",
            config::FILE,
            config::TABLE
        ));
        return Ok(0);
    }
    if o.dry_run {
        p.plan.render(ui, &root);
        ui.note("dry run: nothing was written");
        return Ok(0);
    }
    crate::run::exec::execute(&p.plan, ui, &root)?;
    ui.note(
        "next: `cargo xtask check-versions` (every file agrees), then `cargo xtask bump-version \
         patch --dry-run`",
    );
    Ok(0)
}

/// Creates a file that does not exist yet (a repository without `Cargo.toml`).
#[derive(Debug)]
pub struct CreateFile {
    pub display: String,
    pub path: PathBuf,
    pub content: String,
}

impl crate::run::plan::Action for CreateFile {
    fn header(&self) -> String {
        format!(
            "create {} (+{})",
            self.display,
            self.content.lines().count()
        )
    }
    fn detail(&self) -> Option<String> {
        Some(crate::run::plan::unified_diff(
            &self.display,
            "",
            &self.content,
        ))
    }
    fn execute(&self, _cx: &mut RunContext) -> Result<Done> {
        if self.path.exists() {
            anyhow::bail!(
                "{} appeared since the plan was made; run the command again",
                self.display
            );
        }
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        crate::run::exec::write_atomic(&self.path, &self.content)
            .with_context(|| format!("cannot write {}", self.display))?;
        Ok(Done::Ran(String::new()))
    }
}

/// Gathers the facts and builds the plan; nothing is written. Every problem is reported at once.
pub fn prepare(root: &Path) -> Result<Prepared> {
    let cargo_path = root.join(config::FILE);
    let before = match std::fs::read_to_string(&cargo_path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).context(format!("cannot read {}", config::FILE)),
    };
    prepare_with(root, before.clone(), before)
}

/// [`prepare`] with the `Cargo.toml` text to start from (`adopt` gives the workspace it is about
/// to write) and what is on disk now (`on_disk`, None: no file), which the plan's step edits.
pub fn prepare_with(
    root: &Path,
    before: Option<String>,
    on_disk: Option<String>,
) -> Result<Prepared> {
    let cargo_path = root.join(config::FILE);
    let mut problems = Problems::default();
    if let Some(text) = &before {
        match toml_edit::Document::parse(text.as_str()) {
            Ok(doc) => {
                let has = doc
                    .as_table()
                    .get("workspace")
                    .and_then(|w| w.get("metadata"))
                    .and_then(|m| m.get("release"))
                    .is_some();
                if has {
                    let mut plan = Plan::default();
                    if let Some(step) = cargo_step(&cargo_path, on_disk, text.clone()) {
                        plan.push(step);
                    }
                    return Ok(Prepared {
                        findings: Vec::new(),
                        plan,
                        table: String::new(),
                    });
                }
            }
            Err(e) => {
                problems.invalid(format!("{}: {}", config::FILE, pyproject::toml_error(&e)));
                std::mem::take(&mut problems).check("init")?;
            }
        }
    }
    let d = detect(root, &mut problems)?;
    std::mem::take(&mut problems).check("init")?;
    let table = d.render();
    let members: &[&str] = if root.join("xtask/Cargo.toml").is_file() {
        &["xtask"]
    } else {
        &[]
    };
    let (after, workspace_added) = append_table(before.as_deref().unwrap_or(""), &table, members);
    let mut findings = d.findings.clone();
    if workspace_added {
        findings.push(format!(
            "{} has no [workspace] table: init adds one",
            config::FILE
        ));
    }
    // Proof before any write: the file parses, the table loads, and every file it names reads.
    let doc_ok = toml_edit::Document::parse(after.as_str()).map_err(|e| pyproject::toml_error(&e));
    if let Err(e) = doc_ok {
        problems.failure(format!(
            "{} with the new table would not parse ({e}); add the table by hand (see README)",
            config::FILE
        ));
        std::mem::take(&mut problems).check("init")?;
    }
    match config::parse(root, &after) {
        Ok(cfg) => {
            let mut load = Problems::default();
            managed::load(&cfg, &mut load);
            for p in load.list {
                problems.failure(format!("with the detected configuration: {p}"));
            }
        }
        Err(errors) => errors.into_iter().for_each(|e| problems.failure(e)),
    }
    std::mem::take(&mut problems).check("init")?;
    let mut plan = Plan::default();
    plan.steps.extend(cargo_step(&cargo_path, on_disk, after));
    Ok(Prepared {
        findings,
        plan,
        table,
    })
}

/// The step that turns `Cargo.toml` from `on_disk` into `after` (None when they are equal).
fn cargo_step(path: &Path, on_disk: Option<String>, after: String) -> Option<Step> {
    match on_disk {
        Some(b) if b == after => None,
        Some(b) => Some(Step::Edit(FileEdit::new(config::FILE, path, b, after))),
        None => Some(Step::Action(Box::new(CreateFile {
            display: config::FILE.into(),
            path: path.to_path_buf(),
            content: after,
        }))),
    }
}

/// `before` with `table` appended (after a `[workspace]` header when the file has none), its
/// bytes untouched; the line ending is the file's. Returns the text and whether `[workspace]`
/// was added.
pub fn append_table(before: &str, table: &str, members: &[&str]) -> (String, bool) {
    let eol = if before.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let has_workspace = toml_edit::Document::parse(before)
        .ok()
        .is_some_and(|d| d.as_table().contains_key("workspace"));
    let mut out = before.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    if !out.is_empty() {
        out.push_str(eol);
    }
    if !has_workspace {
        let list: Vec<String> = members.iter().map(|m| q(m)).collect();
        out.push_str(&format!(
            "[workspace]{eol}members = [{}]{eol}resolver = \"2\"{eol}{eol}",
            list.join(", ")
        ));
    }
    out.push_str(&table.replace('\n', eol));
    (out, !has_workspace)
}

/// One extra version file entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Extra {
    path: String,
    why: String,
    /// `kind = …` and its key line(s), already rendered.
    lines: Vec<String>,
}

/// Everything `init` detected.
#[derive(Debug, Default)]
struct Detected {
    tag_prefix: String,
    tag_note: String,
    branch: String,
    pyprojects: Vec<(String, String)>,
    changelog: Option<(String, String)>,
    changelog_note: String,
    compose: Vec<String>,
    images: Vec<String>,
    image_notes: Vec<String>,
    left_alone: Vec<String>,
    extras: Vec<Extra>,
    github: Option<String>,
    findings: Vec<String>,
}

fn q(s: &str) -> String {
    format!("{s:?}")
}

impl Detected {
    /// The commented table.
    fn render(&self) -> String {
        let mut t = String::new();
        t.push_str("[workspace.metadata.release]\n");
        t.push_str(
            "# Written by `cargo xtask init` from what it found in this repository; review it, then run\n\
             # `cargo xtask check-versions`. Every key is described in slipway's README.\n",
        );
        t.push_str(&format!("# {}\n", self.tag_note));
        t.push_str(&format!("tag-prefix = {}\n", q(&self.tag_prefix)));
        t.push_str(&format!("branch = {}\n", q(&self.branch)));
        for (p, what) in &self.pyprojects {
            t.push_str(&format!("# {p}: {what}\n"));
        }
        if self.pyprojects.len() == 1 {
            t.push_str(&format!("pyproject = {}\n", q(&self.pyprojects[0].0)));
        } else {
            let list: Vec<String> = self.pyprojects.iter().map(|(p, _)| q(p)).collect();
            t.push_str(&format!(
                "# The first is the package that is built; all state the version.\npyproject = [{}]\n",
                list.join(", ")
            ));
        }
        t.push_str(&format!("# {}\n", self.changelog_note));
        match &self.changelog {
            Some((path, style)) => {
                if path != "CHANGELOG.md" {
                    t.push_str(&format!("changelog = {}\n", q(path)));
                }
                t.push_str(&format!("changelog-style = {}\n", q(style)));
            }
            None => t.push_str("changelog-style = \"none\"\n"),
        }
        if !self.compose.is_empty() {
            let list: Vec<String> = self.compose.iter().map(|p| q(p)).collect();
            t.push_str(&format!("compose = [{}]\n", list.join(", ")));
            t.push_str("# The project's own images (their version tags follow the release):\n");
            for n in &self.image_notes {
                t.push_str(&format!("#   {n}\n"));
            }
            if !self.left_alone.is_empty() {
                t.push_str("# Left alone (not the project's):\n");
                for n in &self.left_alone {
                    t.push_str(&format!("#   {n}\n"));
                }
            }
            if self.images.len() == 1 {
                t.push_str(&format!("images = [{}]\n", q(&self.images[0])));
            } else {
                t.push_str("images = [\n");
                for i in &self.images {
                    t.push_str(&format!("    {},\n", q(i)));
                }
                t.push_str("]\n");
            }
        } else if !self.left_alone.is_empty() {
            t.push_str("# No compose file uses an image of the project; left alone:\n");
            for n in &self.left_alone {
                t.push_str(&format!("#   {n}\n"));
            }
        }
        for e in &self.extras {
            t.push_str("\n[[workspace.metadata.release.files]]\n");
            t.push_str(&format!("# {}\n", e.why));
            t.push_str(&format!("path = {}\n", q(&e.path)));
            for l in &e.lines {
                t.push_str(l);
                t.push('\n');
            }
        }
        if let Some(repo) = &self.github {
            t.push_str("\n[workspace.metadata.release.github]\n");
            t.push_str("# From the `origin` remote.\n");
            t.push_str(&format!("repo = {}\n", q(repo)));
        }
        t
    }
}

/// `owner/name` of a GitHub remote URL (https, ssh or scp-like), lowercase.
pub fn github_repo(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://github.com/")
        .or_else(|| url.strip_prefix("http://github.com/"))
        .or_else(|| url.strip_prefix("git@github.com:"))
        .or_else(|| url.strip_prefix("ssh://git@github.com/"))?;
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    let mut parts = rest.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    (parts.next().is_none() && !owner.is_empty() && !name.is_empty())
        .then(|| format!("{owner}/{name}").to_ascii_lowercase())
}

/// A package or repository name as image names spell it: lowercase, `_` and `.` as `-`.
fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// (owner, name) of an image repository: the last two path components after the registry host.
fn owner_name(repo: &str) -> (Option<String>, String) {
    let mut parts: Vec<&str> = repo.split('/').collect();
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        parts.remove(0);
    }
    let name = parts.last().copied().unwrap_or("").to_ascii_lowercase();
    let owner = (parts.len() >= 2).then(|| parts[parts.len() - 2].to_ascii_lowercase());
    (owner, name)
}

/// Why an image is the project's own (Ok) or left alone (Err).
fn ownership(
    r: &compose::Reference,
    names: &[String],
    owner: Option<&str>,
) -> std::result::Result<String, String> {
    let (img_owner, img_name) = owner_name(&r.repository);
    if r.built_here {
        return Ok(format!("built here (service `{}` has a build:)", r.service));
    }
    let named = names
        .iter()
        .find(|n| img_name == **n || img_name.starts_with(&format!("{n}-")));
    let same_owner = match (owner, img_owner.as_deref()) {
        (Some(o), Some(i)) => o == i,
        _ => false,
    };
    match (named, owner) {
        (Some(n), Some(o)) if same_owner => Ok(format!("named after `{n}`, owner `{o}`")),
        (Some(n), None) => Ok(format!("named after `{n}`")),
        (Some(_), Some(o)) => Err(format!(
            "same name under another owner (`{}`, not `{o}`)",
            img_owner.unwrap_or_else(|| "docker hub library".into())
        )),
        (None, Some(o)) if same_owner => Err(format!("another product of `{o}`")),
        _ => Err("third-party image".into()),
    }
}

/// Repository paths `init` reads: tracked and untracked files that are not ignored, without
/// slipway's own `xtask/` and build outputs.
fn repo_files(root: &Path) -> Result<Vec<String>> {
    let out = git::git_read(
        root,
        [
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    )
    .context("cannot list the repository's files (`git ls-files`)")?;
    let mut files: Vec<String> = out
        .split('\0')
        .filter(|f| !f.is_empty())
        .filter(|f| !f.starts_with("target/") && !f.starts_with("xtask/"))
        .filter(|f| !f.split('/').any(|c| c == "node_modules" || c == ".venv"))
        .map(str::to_string)
        .collect();
    files.sort_by_key(|f| (f.matches('/').count(), f.clone()));
    files.dedup();
    Ok(files)
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

fn detect(root: &Path, problems: &mut Problems) -> Result<Detected> {
    let files = repo_files(root)?;
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).ok();
    let mut d = Detected {
        branch: git::status(root)?.branch.unwrap_or_else(|| "main".into()),
        ..Default::default()
    };

    // Tags.
    let tags = git::tags(root)?;
    match git::tag_prefix_of(&tags) {
        Some(p) => {
            let n = tags
                .iter()
                .filter(|t| {
                    t.strip_prefix(p.as_str())
                        .is_some_and(|v| semver::Version::parse(v).is_ok())
                })
                .count();
            d.tag_note = format!(
                "Release tags look like `{p}1.2.3` ({n} existing tag{} use{} this prefix).",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" }
            );
            d.tag_prefix = p;
        }
        None => {
            d.tag_prefix = "v".into();
            d.tag_note = "No release tags yet: they will be named `v1.2.3`.".into();
        }
    }
    d.findings
        .push(format!("tag prefix: {:?} ({})", d.tag_prefix, d.tag_note));

    // pyprojects.
    let mut names: Vec<String> = Vec::new();
    let mut dynamic_files: Vec<String> = Vec::new();
    for rel in files.iter().filter(|f| file_name(f) == "pyproject.toml") {
        let Some(text) = read(rel) else { continue };
        let what = match pyproject::dynamic_source(&text) {
            Err(e) => {
                d.findings
                    .push(format!("{rel}: not used ({e}); fix it and run init again"));
                continue;
            }
            Ok(Some(dy)) => match dy {
                Dynamic::Module { path, by, .. } => {
                    dynamic_files.push(join(dir_of(rel), &path));
                    format!("dynamic version, from {path} ({by})")
                }
                Dynamic::File { path, by } => {
                    dynamic_files.push(join(dir_of(rel), &path));
                    format!("dynamic version, from the file {path} ({by})")
                }
                Dynamic::Attr { module, by, .. } => {
                    let m = module.replace('.', "/");
                    for c in [
                        format!("{m}/__init__.py"),
                        format!("{m}.py"),
                        format!("src/{m}/__init__.py"),
                        format!("src/{m}.py"),
                    ] {
                        dynamic_files.push(join(dir_of(rel), &c));
                    }
                    format!("dynamic version, from the module {module} ({by})")
                }
                Dynamic::Scm { backend } => {
                    format!("version from git tags ({backend}): the release tag is the version")
                }
            },
            Ok(None) => match pyproject::find_versions(&text) {
                Ok(v) if !v.is_empty() => {
                    let locs: Vec<&str> = v.iter().map(|v| v.location).collect();
                    format!("{} = {:?} (static)", locs.join(", "), v[0].raw)
                }
                Ok(_) => {
                    d.findings.push(format!(
                        "{rel}: states no version (no [project].version, no dynamic version): left alone"
                    ));
                    continue;
                }
                Err(e) => {
                    d.findings
                        .push(format!("{rel}: not used ({e}); fix it and run init again"));
                    continue;
                }
            },
        };
        if let Some(n) = pyproject::project_name(&text) {
            let n = normalise(&n);
            if !names.contains(&n) {
                names.push(n);
            }
        }
        d.findings.push(format!("pyproject: {rel}: {what}"));
        d.pyprojects.push((rel.clone(), what));
    }
    if d.pyprojects.is_empty() {
        problems.failure(
            "no pyproject.toml with a version was found: slipway releases a Python package; add \
             [project] name and version (or a dynamic version) to pyproject.toml and run init again",
        );
        return Ok(d);
    }

    // GitHub remote.
    let owner = match git::remote_url(root, "origin")? {
        Some(url) => match github_repo(&url) {
            Some(repo) => {
                d.findings
                    .push(format!("GitHub repository: {repo} (the `origin` remote)"));
                let (o, n) = repo.split_once('/').expect("owner/name");
                let o = o.to_string();
                let n = normalise(n);
                if !names.contains(&n) {
                    names.push(n);
                }
                d.github = Some(repo);
                Some(o)
            }
            None => None,
        },
        None => None,
    };

    // Changelog.
    let candidates = [
        "CHANGELOG.md",
        "CHANGES.md",
        "HISTORY.md",
        "changelog.md",
        "NEWS.md",
    ];
    match candidates.iter().find(|c| files.iter().any(|f| f == *c)) {
        None => {
            d.changelog_note = "No changelog found: releases are made without one. To start one, \
                                create CHANGELOG.md with a `## [Unreleased]` section and remove \
                                this line."
                .into();
            d.findings.push(
                "changelog: none found (changelog-style = \"none\"; to start one, create \
                 CHANGELOG.md with `## [Unreleased]` and remove that line)"
                    .into(),
            );
        }
        Some(rel) => {
            let text = read(rel).unwrap_or_default();
            let style = crate::core::changelog::Changelog::parse(&text)
                .and_then(|cl| crate::core::clstyle::detect(&text, &cl));
            match style {
                Ok(s) => {
                    d.changelog_note = format!(
                        "{rel} is written in the {} style; new sections follow it.",
                        s.name()
                    );
                    d.findings
                        .push(format!("changelog: {rel} ({} style)", s.name()));
                    d.changelog = Some((rel.to_string(), s.name().to_string()));
                }
                Err(e) => {
                    d.changelog_note = format!(
                        "{rel} is left alone: {e}. Set changelog-style once its form is clear."
                    );
                    d.findings
                        .push(format!("changelog: {rel} left alone ({e})"));
                }
            }
        }
    }

    // Compose files.
    let is_compose = |f: &str| {
        let n = file_name(f);
        (n.starts_with("docker-compose") || n.starts_with("compose"))
            && (n.ends_with(".yml") || n.ends_with(".yaml"))
    };
    for rel in files.iter().filter(|f| is_compose(f)) {
        let Some(text) = read(rel) else { continue };
        let refs = match compose::references(&text) {
            Ok(r) => r,
            Err(e) => {
                problems.invalid_at(crate::Place::file(rel.as_str()), format!("{rel}: {e}"));
                continue;
            }
        };
        let mut own_here = 0;
        for r in &refs {
            let shown = format!("{rel}:{} {} ({})", r.line, r.image, r.service);
            match ownership(r, &names, owner.as_deref()) {
                Ok(why) => {
                    own_here += 1;
                    if !d.images.contains(&r.repository) {
                        d.images.push(r.repository.clone());
                        d.image_notes.push(format!("{}: {why}", r.repository));
                    }
                }
                Err(why) => {
                    let note = format!("{}: {why}", r.repository);
                    if !d.left_alone.contains(&note) {
                        d.left_alone.push(note);
                    }
                    d.findings.push(format!("left alone: {shown}: {why}"));
                }
            }
        }
        if own_here > 0 {
            d.compose.push(rel.clone());
            d.findings.push(format!(
                "compose: {rel}: {own_here} use(s) of the project's own images"
            ));
        }
    }
    for note in &d.image_notes {
        d.findings.push(format!("own image: {note}"));
    }

    // Extra version files.
    let prefixes: Vec<&str> = vec![d.tag_prefix.as_str(), "v"];
    let versions_ok = |text: &str, spans: Vec<versioned::Span>, render: Render| -> Option<usize> {
        let n = spans.len();
        (n > 0 && versioned::read(text, spans, n, &prefixes, render, "").is_ok()).then_some(n)
    };
    let count_line = |n: usize| (n > 1).then(|| format!("count = {n}"));
    for rel in &files {
        if dynamic_files.contains(rel) {
            continue;
        }
        let name = file_name(rel);
        let depth = rel.matches('/').count();
        let Some(text) = (match name {
            "VERSION" | "version.txt" | ".release" | ".version" | "server.json"
            | "package.json" | "Chart.yaml" | "values.yaml" | ".env.example" | ".env.sample"
            | ".env.template" | ".env.dist" | "__init__.py" | "__about__.py" | "_version.py"
            | "version.py" => read(rel),
            _ => None,
        }) else {
            continue;
        };
        let mut push = |why: String, lines: Vec<String>| {
            d.findings.push(format!("version file: {rel}: {why}"));
            d.extras.push(Extra {
                path: rel.clone(),
                why,
                lines,
            });
        };
        match name {
            "VERSION" | "version.txt" | ".release" | ".version"
                if depth <= 2
                    && crate::core::linefile::find_text(&text)
                        .ok()
                        .and_then(|s| versions_ok(&text, s, Render::Semver))
                        .is_some() =>
            {
                push(
                    "a plain-text version file".into(),
                    vec!["kind = \"text\"".into()],
                );
            }
            "server.json" | "package.json" if depth <= 1 => {
                for (pointer, what) in [
                    ("/version", "its \"version\""),
                    ("/packages/*/version", "the version of every package entry"),
                ] {
                    if let Some(n) = crate::core::jsonpath::find(&text, pointer)
                        .ok()
                        .and_then(|s| versions_ok(&text, s, Render::Semver))
                    {
                        let mut lines = vec![
                            "kind = \"json\"".into(),
                            format!("pointer = {}", q(pointer)),
                        ];
                        lines.extend(count_line(n));
                        push(format!("{name}: {what}"), lines);
                    }
                }
            }
            "Chart.yaml" => {
                if let Some(n) = crate::core::yamlpath::find(&text, "appVersion")
                    .ok()
                    .and_then(|s| versions_ok(&text, s, Render::Semver))
                {
                    let mut lines = vec!["kind = \"yaml\"".into(), "key = \"appVersion\"".into()];
                    lines.extend(count_line(n));
                    push(
                        "Helm chart: appVersion (the chart's own `version` is left alone)".into(),
                        lines,
                    );
                }
            }
            "values.yaml" => {
                if let Some(n) = crate::core::yamlpath::find(&text, "image.tag")
                    .ok()
                    .and_then(|s| versions_ok(&text, s, Render::Docker))
                {
                    let mut lines = vec![
                        "kind = \"yaml\"".into(),
                        "key = \"image.tag\"".into(),
                        "format = \"docker\"".into(),
                    ];
                    lines.extend(count_line(n));
                    push("Helm values: image.tag".into(), lines);
                }
            }
            n if n.starts_with(".env") && depth <= 1 => {
                let keys: Vec<String> = text
                    .lines()
                    .filter_map(|l| l.trim_start().split_once('='))
                    .map(|(k, _)| k.trim().trim_start_matches("export ").trim().to_string())
                    .filter(|k| k.contains("VERSION") || k.ends_with("_TAG"))
                    .collect();
                let mut seen: Vec<String> = Vec::new();
                for key in keys {
                    if seen.contains(&key) {
                        continue;
                    }
                    seen.push(key.clone());
                    if let Some(n) = crate::core::linefile::find_dotenv(&text, &key)
                        .ok()
                        .and_then(|s| versions_ok(&text, s, Render::Semver))
                    {
                        let mut lines =
                            vec!["kind = \"dotenv\"".into(), format!("key = {}", q(&key))];
                        lines.extend(count_line(n));
                        push(format!("{key} in {name}"), lines);
                    }
                }
            }
            "__init__.py" | "__about__.py" | "_version.py" | "version.py" if depth <= 3 => {
                // Only a package of one of the pyprojects: `<pkg>/…` or `src/<pkg>/…`.
                let pkg = rel.rsplit('/').nth(1).map(normalise).unwrap_or_default();
                if !names.contains(&pkg) {
                    continue;
                }
                if let Some(n) = crate::core::linefile::find_python(&text, "__version__")
                    .ok()
                    .and_then(|s| versions_ok(&text, s, Render::Pep440))
                {
                    let mut lines = vec!["kind = \"python\"".into()];
                    lines.extend(count_line(n));
                    push("the package's `__version__`".into(), lines);
                }
            }
            _ => {}
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_urls() {
        for url in [
            "https://github.com/Acme/App.git",
            "git@github.com:acme/app.git",
            "ssh://git@github.com/acme/app",
            "https://github.com/acme/app/",
        ] {
            assert_eq!(github_repo(url).as_deref(), Some("acme/app"), "{url}");
        }
        assert_eq!(github_repo("https://gitlab.com/acme/app"), None);
    }

    #[test]
    fn owners_and_names() {
        assert_eq!(
            owner_name("ghcr.io/acme/app"),
            (Some("acme".into()), "app".into())
        );
        assert_eq!(owner_name("postgres"), (None, "postgres".into()));
        assert_eq!(owner_name("localhost:5000/app"), (None, "app".into()));
    }

    #[test]
    fn appends_keeping_every_byte() {
        let before = "[workspace]\r\nmembers = [\"xtask\"]";
        let (after, added) = append_table(
            before,
            "[workspace.metadata.release]\nbranch = \"main\"\n",
            &["xtask"],
        );
        assert!(!added);
        assert_eq!(
            after,
            "[workspace]\r\nmembers = [\"xtask\"]\r\n\r\n[workspace.metadata.release]\r\nbranch = \"main\"\r\n"
        );
        let (after, added) = append_table(
            "[package]\nname = \"x\"\n",
            "[workspace.metadata.release]\n",
            &[],
        );
        assert!(added);
        assert!(
            after.starts_with("[package]\nname = \"x\"\n\n[workspace]\n"),
            "{after}"
        );
    }
}
