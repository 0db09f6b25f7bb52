//! The managed files (pyproject, compose files, changelog), read and parsed once, and every place
//! in them that states a version ("readings").
//!
//! Every kind of file is one [`VersionFile`]: what it states (readings, notes) and its content at
//! a new version (the pure editor of its kind, in `core/`). A new kind of file is its editor in
//! `core/`, one `impl VersionFile` here and its line in [`Managed::files`] and [`load`].

use std::path::{Path, PathBuf};

use semver::Version;
use serde_json::{json, Value as Json};

use crate::core::changelog::{self, Changelog};
use crate::core::clstyle::{self, FileStyle, StyleName};
use crate::core::compose::{self, UseKind};
use crate::core::pyproject::{self, Dynamic, PyVersion};
use crate::core::version::pep440;
use crate::core::versioned::{self, Found, Kind, Render, Span};
use crate::core::{jsonpath, linefile, tomlpath, yamlpath};
use crate::facts::config::Config;
use crate::run::plan::FileEdit;
use crate::{Place, Problems};

pub struct PyFile {
    pub rel: String,
    pub path: PathBuf,
    pub text: String,
    /// The static versions (empty when the version is dynamic).
    pub versions: Vec<PyVersion>,
    /// The version comes from git tags: the backend and the last release tag reachable from HEAD.
    pub scm: Option<(&'static str, crate::facts::history::Tag)>,
}

/// An extra version file (`[[workspace.metadata.release.files]]`, or the module or file a
/// dynamic pyproject version is read from): one typed editor in `core/` finds its spans.
pub struct ExtraFile {
    pub rel: String,
    pub path: PathBuf,
    pub text: String,
    /// Every configured place in the file (one file may be listed with several kinds or keys).
    pub parts: Vec<Part>,
    /// Why it is managed, for dynamic versions (`[tool.hatch.version] path of pyproject.toml`).
    pub by: Option<String>,
}

/// One configured place of an [`ExtraFile`].
pub struct Part {
    pub kind: Kind,
    pub count: usize,
    pub format: Render,
    pub found: Vec<Found>,
}

pub struct ComposeFile {
    pub rel: String,
    pub path: PathBuf,
    pub text: String,
    pub scan: compose::Scan,
}

pub struct ChangelogFile {
    pub rel: String,
    pub path: PathBuf,
    pub text: String,
    pub parsed: Changelog,
    /// The style a release writes in (configured or detected).
    pub style: FileStyle,
}

/// What a file needs to know to state a new version.
pub struct Bump<'a> {
    pub new: &'a Version,
    pub tag_prefix: &'a str,
    /// The release date (YYYY-MM-DD).
    pub date: &'a str,
    /// Changelog entries generated from the commits, by section.
    pub generated: &'a [(&'a str, Vec<crate::core::changelog::GenEntry>)],
}

/// One managed file of any kind.
pub trait VersionFile {
    /// The path shown to the user (relative to the repository root).
    fn rel(&self) -> &str;
    fn path(&self) -> &Path;
    /// The content as read.
    fn text(&self) -> &str;
    /// Every place in it that states a version.
    fn readings(&self) -> Vec<Reading>;
    /// What the user should know about places found but not edited.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// The content at the new version, and notes about the edit. Errors name the file.
    fn bumped(&self, bump: &Bump) -> Result<(String, Vec<String>), String>;
}

pub struct Managed {
    /// Every pyproject (`pyproject`, a path or a list), the built one first.
    pub pyprojects: Vec<PyFile>,
    /// The modules and files dynamic pyproject versions are read from.
    pub dynamic: Vec<ExtraFile>,
    pub compose: Vec<ComposeFile>,
    /// `[[workspace.metadata.release.files]]`.
    pub extras: Vec<ExtraFile>,
    /// None with `changelog-style = "none"`.
    pub changelog: Option<ChangelogFile>,
}

/// One place that states a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub file: String,
    pub line: usize,
    pub location: String,
    /// As written in the file.
    pub value: String,
    pub version: Version,
}

fn read(cfg: &Config, rel: &str, key: &str, problems: &mut Problems) -> Option<(PathBuf, String)> {
    let path = cfg.path(rel);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some((path, text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let none = if key == "changelog" {
                " (or set changelog-style = \"none\" to release without one)"
            } else {
                ""
            };
            problems.invalid(format!(
                "{rel} not found (configured by `{key}` in [workspace.metadata.release] of Cargo.toml); create it or fix the key{none}"
            ));
            None
        }
        Err(e) => {
            problems.invalid(format!("cannot read {rel}: {e}"));
            None
        }
    }
}

/// Reads and parses every managed file. Each problem is recorded; `None` if any file is unusable.
pub fn load(cfg: &Config, problems: &mut Problems) -> Option<Managed> {
    let before = problems.list.len();
    let mut pyprojects = Vec::new();
    let mut dynamic = Vec::new();
    for rel in &cfg.pyprojects {
        if let Some((py, module)) = load_pyproject(cfg, rel, problems) {
            pyprojects.push(py);
            dynamic.extend(module);
        }
    }
    let mut extras: Vec<ExtraFile> = Vec::new();
    let mut paths: Vec<&str> = Vec::new();
    for f in &cfg.files {
        if !paths.contains(&f.path.as_str()) {
            paths.push(&f.path);
        }
    }
    for rel in paths {
        let Some((path, text)) = read(cfg, rel, "files", problems) else {
            continue;
        };
        let wanted = cfg
            .files
            .iter()
            .filter(|f| f.path == rel)
            .map(|f| (f.kind.clone(), f.count, f.format))
            .collect();
        if let Some(e) = extra(cfg, rel, path, text, wanted, None, problems) {
            extras.push(e);
        }
    }
    let mut compose_files = Vec::new();
    for rel in &cfg.compose {
        let Some((path, text)) = read(cfg, rel, "compose", problems) else {
            continue;
        };
        match compose::scan(&text, &cfg.images) {
            Ok(scan) => {
                if scan.uses.is_empty() && scan.commented.is_empty() {
                    problems.invalid_at(Place::file(rel), format!(
                        "{rel}: no service uses an image from `images` ({}); fix `images` or `compose` in Cargo.toml",
                        cfg.images.join(", ")
                    ));
                }
                compose_files.push(ComposeFile {
                    rel: rel.clone(),
                    path,
                    text,
                    scan,
                });
            }
            Err(e) => problems.invalid_at(Place::file(rel), format!("{rel}: {e}")),
        }
    }
    let changelog = if cfg.changelog_style == Some(StyleName::None) {
        None
    } else {
        read(cfg, &cfg.changelog, "changelog", problems).and_then(|(path, text)| {
            let parsed = Changelog::parse(&text).and_then(|parsed| {
                let style = clstyle::resolve(&text, &parsed, cfg.changelog_style, &cfg.tag_prefix)?;
                Ok((parsed, style))
            });
            match parsed {
                Ok((parsed, style)) => Some(ChangelogFile {
                    rel: cfg.changelog.clone(),
                    path,
                    text,
                    parsed,
                    style,
                }),
                Err(e) => {
                    problems.invalid_at(
                        Place::file(&cfg.changelog),
                        format!("{}: {e}", cfg.changelog),
                    );
                    None
                }
            }
        })
    };
    if problems.list.len() != before {
        return None;
    }
    Some(Managed {
        pyprojects,
        dynamic,
        compose: compose_files,
        extras,
        changelog,
    })
}

/// One pyproject: its static versions, or the module / file / git tags its dynamic version comes
/// from.
fn load_pyproject(
    cfg: &Config,
    rel: &str,
    problems: &mut Problems,
) -> Option<(PyFile, Option<ExtraFile>)> {
    let (path, text) = read(cfg, rel, "pyproject", problems)?;
    let fail = |problems: &mut Problems, e: String| {
        problems.invalid_at(Place::file(rel), format!("{rel}: {e}"))
    };
    let source = match pyproject::dynamic_source(&text) {
        Ok(s) => s,
        Err(e) => {
            fail(problems, e);
            return None;
        }
    };
    let mut py = PyFile {
        rel: rel.to_string(),
        path,
        text,
        versions: Vec::new(),
        scm: None,
    };
    let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
    let join = |p: &str| {
        let j = dir.join(p);
        j.to_string_lossy().replace('\\', "/")
    };
    let module = |problems: &mut Problems, file: String, kind: Kind, by: &str| {
        let path = cfg.path(&file);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.invalid_at(
                    Place::file(rel),
                    format!("{rel}: {by} names {file}, which cannot be read ({e}); fix {by} or create the file"),
                );
                return None;
            }
        };
        extra(
            cfg,
            &file,
            path,
            text,
            vec![(kind, 1, Render::Pep440)],
            Some(format!("{by} of {rel}")),
            problems,
        )
    };
    match source {
        None => match pyproject::find_versions(&py.text) {
            Ok(v) => py.versions = v,
            Err(e) => {
                fail(problems, e);
                return None;
            }
        },
        Some(Dynamic::Module { path, variable, by }) => {
            let m = module(problems, join(&path), Kind::Python { variable }, by)?;
            return Some((py, Some(m)));
        }
        Some(Dynamic::File { path, by }) => {
            let m = module(problems, join(&path), Kind::Text, by)?;
            return Some((py, Some(m)));
        }
        Some(Dynamic::Attr {
            module: name,
            variable,
            by,
        }) => {
            let m = name.replace('.', "/");
            let candidates: Vec<String> = [
                format!("{m}/__init__.py"),
                format!("{m}.py"),
                format!("src/{m}/__init__.py"),
                format!("src/{m}.py"),
            ]
            .iter()
            .map(|c| join(c))
            .collect();
            let Some(found) = candidates.iter().find(|c| cfg.path(c).is_file()) else {
                fail(
                    problems,
                    format!(
                        "{by} names the module `{name}`, but none of {} exists; fix the attribute or list the file under [[workspace.metadata.release.files]] with kind = \"python\"",
                        candidates.join(", ")
                    ),
                );
                return None;
            };
            let m = module(problems, found.clone(), Kind::Python { variable }, by)?;
            return Some((py, Some(m)));
        }
        Some(Dynamic::Scm { backend }) => {
            let tag = crate::facts::history::release_tag_names(&cfg.root, &cfg.tag_prefix)
                .and_then(|tags| {
                    crate::facts::history::last_release(&cfg.root, &tags, "HEAD", None, false)
                });
            match tag {
                Ok(Some(t)) => py.scm = Some((backend, t)),
                Ok(None) => {
                    fail(
                        problems,
                        format!(
                            "the version comes from git tags ({backend}), but no release tag `{}X.Y.Z` is reachable from HEAD; \
                             tag the last release first (`git tag -a {}0.1.0 -m \"Release {}0.1.0\"`)",
                            cfg.tag_prefix, cfg.tag_prefix, cfg.tag_prefix
                        ),
                    );
                    return None;
                }
                Err(e) => {
                    fail(
                        problems,
                        format!("cannot read the release tags ({backend}): {e}"),
                    );
                    return None;
                }
            }
        }
    }
    Some((py, None))
}

/// The spans of one kind of file, with its pure editor.
fn spans(kind: &Kind, text: &str) -> Result<Vec<Span>, String> {
    match kind {
        Kind::Toml { key } => tomlpath::find(text, key),
        Kind::Json { pointer } => jsonpath::find(text, pointer),
        Kind::Yaml { key } => yamlpath::find(text, key),
        Kind::Text => linefile::find_text(text),
        Kind::Dotenv { key } => linefile::find_dotenv(text, key),
        Kind::Python { variable } => linefile::find_python(text, variable),
        Kind::Line { template } => linefile::find_line(text, template),
    }
}

/// What the spans of a kind are, in messages.
fn what(kind: &Kind) -> String {
    match kind {
        Kind::Toml { key } | Kind::Yaml { key } => format!("`{key}`"),
        Kind::Json { pointer } => format!("`{pointer}`"),
        Kind::Text => "a version (the whole file)".into(),
        Kind::Dotenv { key } => format!("`{key}=`"),
        Kind::Python { variable } => format!("`{variable} = \"…\"`"),
        Kind::Line { template } => format!("the line `{template}`"),
    }
}

/// The line a one-line core error names (`line 12: …`), for the place of the problem.
fn line_in(msg: &str) -> usize {
    msg.split_once("line ")
        .map(|(_, r)| {
            r.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The prefixes a version in an extra file may carry: the tag prefix, `v`.
fn prefixes(tag_prefix: &str) -> Vec<&str> {
    let mut p: Vec<&str> = vec![tag_prefix, "v"];
    p.retain(|x| !x.is_empty());
    p.dedup();
    p
}

fn find_part(
    text: &str,
    kind: &Kind,
    count: usize,
    format: Render,
    tag_prefix: &str,
) -> Result<Vec<Found>, String> {
    let s = spans(kind, text)?;
    versioned::read(text, s, count, &prefixes(tag_prefix), format, &what(kind))
}

fn extra(
    cfg: &Config,
    rel: &str,
    path: PathBuf,
    text: String,
    wanted: Vec<(Kind, usize, Render)>,
    by: Option<String>,
    problems: &mut Problems,
) -> Option<ExtraFile> {
    let mut parts = Vec::new();
    for (kind, count, format) in wanted {
        match find_part(&text, &kind, count, format, &cfg.tag_prefix) {
            Ok(found) => parts.push(Part {
                kind,
                count,
                format,
                found,
            }),
            Err(e) => {
                let why = by
                    .as_ref()
                    .map(|b| format!(" (managed because of {b})"))
                    .unwrap_or_default();
                problems.invalid_at(
                    Place::file(rel).line(line_in(&e)),
                    format!("{rel}: {e}{why}"),
                );
            }
        }
    }
    Some(ExtraFile {
        rel: rel.to_string(),
        path,
        text,
        parts,
        by,
    })
}

/// The environment the package build needs for this version: a version from git tags is given to
/// the backend (`SETUPTOOLS_SCM_PRETEND_VERSION` for setuptools-scm and hatch-vcs,
/// `PDM_BUILD_SCM_VERSION` for pdm), so a build of the bump commit (before or without the tag) is
/// that version. Empty for static and module versions.
pub fn build_env(cfg: &Config, version: &Version) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(cfg.path(&cfg.pyproject)).unwrap_or_default();
    match pyproject::dynamic_source(&text) {
        Ok(Some(Dynamic::Scm { backend })) => {
            let var = if backend == "pdm-backend" {
                "PDM_BUILD_SCM_VERSION"
            } else {
                "SETUPTOOLS_SCM_PRETEND_VERSION"
            };
            vec![(var.to_string(), pep440(version))]
        }
        _ => Vec::new(),
    }
}

impl VersionFile for PyFile {
    fn rel(&self) -> &str {
        &self.rel
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn text(&self) -> &str {
        &self.text
    }
    fn readings(&self) -> Vec<Reading> {
        if let Some((backend, tag)) = &self.scm {
            return vec![Reading {
                file: "git".into(),
                line: 0,
                location: format!("last release tag ({backend}, for {})", self.rel),
                value: tag.name.clone(),
                version: tag.version.clone(),
            }];
        }
        self.versions
            .iter()
            .map(|v| Reading {
                file: self.rel.clone(),
                line: v.line,
                location: v.location.to_string(),
                value: v.raw.clone(),
                version: v.version.clone(),
            })
            .collect()
    }
    fn notes(&self) -> Vec<String> {
        match &self.scm {
            Some((backend, _)) => vec![format!(
                "{}: the version comes from git tags ({backend}); the release tag is the version, no file is edited",
                self.rel
            )],
            None => Vec::new(),
        }
    }
    fn bumped(&self, bump: &Bump) -> Result<(String, Vec<String>), String> {
        if self.versions.is_empty() {
            // Dynamic: its module (or the tag) carries the version.
            return Ok((self.text.clone(), Vec::new()));
        }
        let after = pyproject::set_version(&self.text, &self.versions, &pep440(bump.new))
            .map_err(|e| format!("{}: {e}", self.rel))?;
        Ok((after, Vec::new()))
    }
}

impl VersionFile for ExtraFile {
    fn rel(&self) -> &str {
        &self.rel
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn text(&self) -> &str {
        &self.text
    }
    fn readings(&self) -> Vec<Reading> {
        let mut out: Vec<Reading> = self
            .parts
            .iter()
            .flat_map(|p| {
                p.found.iter().map(|f| Reading {
                    file: self.rel.clone(),
                    line: f.span.line,
                    location: match &p.kind {
                        Kind::Text => "text file".to_string(),
                        k => format!("{} {}", k.name(), f.span.location),
                    },
                    value: f.raw.clone(),
                    version: f.version.clone(),
                })
            })
            .collect();
        out.sort_by_key(|r| r.line);
        out
    }
    fn notes(&self) -> Vec<String> {
        self.by
            .iter()
            .map(|b| format!("{}: manages the version because of {b}", self.rel))
            .collect()
    }
    fn bumped(&self, bump: &Bump) -> Result<(String, Vec<String>), String> {
        // Part by part, each found again in the text the previous one left.
        let mut text = self.text.clone();
        for (i, p) in self.parts.iter().enumerate() {
            let found = if i == 0 {
                p.found.clone()
            } else {
                find_part(&text, &p.kind, p.count, p.format, bump.tag_prefix)
                    .map_err(|e| format!("{}: internal error: {e}", self.rel))?
            };
            text = versioned::rewrite(&text, &found, bump.new, p.format, |t| spans(&p.kind, t))
                .map_err(|e| format!("{}: {e}", self.rel))?;
        }
        Ok((text, Vec::new()))
    }
}

impl VersionFile for ComposeFile {
    fn rel(&self) -> &str {
        &self.rel
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn text(&self) -> &str {
        &self.text
    }
    fn readings(&self) -> Vec<Reading> {
        let mut out = Vec::new();
        for u in &self.scan.uses {
            if let UseKind::Versioned { version, .. } = &u.kind {
                out.push(Reading {
                    file: self.rel.clone(),
                    line: u.line,
                    location: image_location(&u.service),
                    value: u.image.clone(),
                    version: version.clone(),
                });
            }
        }
        out
    }
    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for u in &self.scan.uses {
            let loc = format!("{}:{} {}", self.rel, u.line, image_location(&u.service));
            match &u.kind {
                UseKind::Versioned { .. } => {}
                UseKind::Floating { tag } if tag.is_empty() => notes.push(format!(
                    "{loc} = {} has no tag (implicit `latest`); left as is",
                    u.image
                )),
                UseKind::Floating { tag } => notes.push(format!(
                    "{loc} = {} uses the floating tag `{tag}`; left as is",
                    u.image
                )),
                UseKind::Unmanaged { reason } => {
                    notes.push(format!("{loc} = {}: {reason}; left as is", u.image))
                }
            }
        }
        for (line, text) in &self.scan.commented {
            notes.push(format!(
                "{}:{line} is a commented-out own image ({text}); left as is",
                self.rel
            ));
        }
        notes
    }
    fn bumped(&self, bump: &Bump) -> Result<(String, Vec<String>), String> {
        let after = compose::set_version(&self.text, &self.scan, bump.new)
            .map_err(|e| format!("{}: {e}", self.rel))?;
        Ok((after, Vec::new()))
    }
}

impl VersionFile for ChangelogFile {
    fn rel(&self) -> &str {
        &self.rel
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn text(&self) -> &str {
        &self.text
    }
    fn readings(&self) -> Vec<Reading> {
        let Some(s) = self.parsed.newest_version() else {
            return Vec::new();
        };
        let Some(v) = &s.version else {
            return Vec::new();
        };
        vec![Reading {
            file: self.rel.clone(),
            line: s.heading_line,
            location: "newest release heading".into(),
            value: format!("## {}", s.title),
            version: v.clone(),
        }]
    }
    fn bumped(&self, bump: &Bump) -> Result<(String, Vec<String>), String> {
        if !self.style.unreleased {
            let release = clstyle::release_styled(
                &self.text,
                &self.parsed,
                &self.style,
                bump.new,
                bump.tag_prefix,
                bump.date,
                bump.generated,
                &self.rel,
            )?;
            return Ok((release.new_src, release.notes));
        }
        let mut notes = Vec::new();
        let (with_entries, added) = if bump.generated.iter().any(|(_, l)| !l.is_empty()) {
            changelog::add_unreleased_entries(&self.text, bump.generated)
                .map_err(|e| format!("{}: {e}", self.rel))?
        } else {
            (self.text.clone(), 0)
        };
        if added > 0 {
            notes.push(format!(
                "{}: added {added} generated entr{} under [Unreleased]",
                self.rel,
                if added == 1 { "y" } else { "ies" }
            ));
        }
        let parsed = if added > 0 {
            Changelog::parse(&with_entries)
                .map_err(|e| format!("{}: internal error: {e}", self.rel))?
        } else {
            self.parsed.clone()
        };
        // (Its errors already name the file.)
        let release = changelog::release_parsed(
            &with_entries,
            &parsed,
            bump.new,
            bump.tag_prefix,
            bump.date,
            self.style.date_separator(),
            &self.rel,
        )?;
        notes.extend(release.notes);
        Ok((release.new_src, notes))
    }
}

impl Managed {
    /// Every managed file, in the order readings and edits are shown: the pyprojects (and the
    /// modules of dynamic versions), the compose files, the extra files, the changelog.
    pub fn files(&self) -> Vec<&dyn VersionFile> {
        let mut out: Vec<&dyn VersionFile> = Vec::new();
        out.extend(self.pyprojects.iter().map(|f| f as &dyn VersionFile));
        out.extend(self.dynamic.iter().map(|f| f as &dyn VersionFile));
        out.extend(self.compose.iter().map(|f| f as &dyn VersionFile));
        out.extend(self.extras.iter().map(|f| f as &dyn VersionFile));
        if let Some(c) = &self.changelog {
            out.push(c);
        }
        out
    }

    /// What check-versions read (file, what it is) and what it did not find or could not check,
    /// so that an ok never hides a file it never read.
    pub fn inventory(&self, cfg: &Config) -> (Vec<(String, String)>, Vec<String>) {
        let mut read = Vec::new();
        let mut missing = Vec::new();
        for p in &self.pyprojects {
            let what = match &p.scm {
                Some((backend, _)) => format!("pyproject (version from git tags, {backend})"),
                None if p.versions.is_empty() => {
                    "pyproject (dynamic version, read from its module)".into()
                }
                None => format!(
                    "pyproject ({})",
                    p.versions
                        .iter()
                        .map(|v| v.location)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            read.push((p.rel.clone(), what));
        }
        for d in &self.dynamic {
            read.push((
                d.rel.clone(),
                format!("dynamic version ({})", d.by.as_deref().unwrap_or("")),
            ));
        }
        for c in &self.compose {
            let n = c.readings().len();
            read.push((
                c.rel.clone(),
                format!(
                    "compose ({n} own image tag{})",
                    if n == 1 { "" } else { "s" }
                ),
            ));
            if n == 0 {
                missing.push(format!(
                    "{}: configured in `compose`, but no own image in it states a version; it could not be checked",
                    c.rel
                ));
            }
        }
        for e in &self.extras {
            let kinds: Vec<String> = e
                .parts
                .iter()
                .map(|p| format!("{} {}", p.kind.name(), what(&p.kind)))
                .collect();
            read.push((e.rel.clone(), kinds.join(", ")));
        }
        match &self.changelog {
            Some(c) => read.push((
                c.rel.clone(),
                format!(
                    "changelog ({} style, {})",
                    c.style.name.name(),
                    if cfg.changelog_style.is_some() {
                        "configured"
                    } else {
                        "detected"
                    }
                ),
            )),
            None => missing.push("changelog: none (changelog-style = \"none\")".into()),
        }
        if cfg.compose.is_empty() {
            missing.push("compose files: none configured (`compose`)".into());
        }
        if cfg.files.is_empty() {
            missing.push(
                "extra version files: none configured ([[workspace.metadata.release.files]])"
                    .into(),
            );
        }
        (read, missing)
    }

    /// The current version and where it is read: the first reading (the built pyproject, its
    /// module, or its last release tag).
    pub fn current(&self) -> Option<(Version, String)> {
        self.readings()
            .into_iter()
            .next()
            .map(|r| (r.version, r.file))
    }

    /// Every stated version, pyproject first.
    pub fn readings(&self) -> Vec<Reading> {
        self.files().iter().flat_map(|f| f.readings()).collect()
    }

    /// What the user should know about images that are found but not edited.
    pub fn notes(&self) -> Vec<String> {
        self.files().iter().flat_map(|f| f.notes()).collect()
    }

    /// The edit of every file whose content changes at the new version, and notes about them.
    pub fn edits(&self, bump: &Bump) -> Result<(Vec<FileEdit>, Vec<String>), String> {
        let mut edits = Vec::new();
        let mut notes = Vec::new();
        for f in self.files() {
            let (after, n) = f.bumped(bump)?;
            notes.extend(n);
            // A file whose content does not change is not part of the plan.
            if after != f.text() {
                edits.push(FileEdit::new(
                    through_link(f.rel(), f.path()),
                    f.path(),
                    f.text().to_string(),
                    after,
                ));
            }
        }
        Ok((edits, notes))
    }
}

/// The repository path an edit of `rel` changes: `rel` itself, or for a symlink to a file inside
/// the repository, that file's path (what git must stage; the link itself stays as it is).
fn through_link(rel: &str, path: &std::path::Path) -> String {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return rel.to_string();
    }
    let depth = std::path::Path::new(rel).components().count();
    let (Some(root), Ok(target)) = (path.ancestors().nth(depth), std::fs::canonicalize(path))
    else {
        return rel.to_string();
    };
    match std::fs::canonicalize(root)
        .ok()
        .and_then(|r| target.strip_prefix(r).ok().map(|p| p.to_path_buf()))
    {
        Some(inside) => inside.to_string_lossy().into_owned(),
        None => rel.to_string(),
    }
}

fn image_location(service: &str) -> String {
    if service.starts_with("x-") {
        format!("{service}…image")
    } else {
        format!("services.{service}.image")
    }
}

/// True when every reading states the same version.
pub fn agree(readings: &[Reading]) -> bool {
    readings.windows(2).all(|w| w[0].version == w[1].version)
}

/// The readings as an aligned table; rows that differ from `expected` are marked.
pub fn table(readings: &[Reading], expected: Option<&Version>) -> String {
    let rows: Vec<[String; 4]> = readings
        .iter()
        .map(|r| {
            let mark = match expected {
                Some(e) if &r.version != e => "≠".to_string(),
                _ => " ".to_string(),
            };
            [
                format!("{}:{}", r.file, r.line),
                r.location.clone(),
                r.value.clone(),
                mark,
            ]
        })
        .collect();
    let header = [
        "FILE:LINE".to_string(),
        "LOCATION".to_string(),
        "VALUE".to_string(),
        " ".to_string(),
    ];
    let w0 = rows
        .iter()
        .chain([&header])
        .map(|r| r[0].chars().count())
        .max()
        .unwrap_or(0);
    let w1 = rows
        .iter()
        .chain([&header])
        .map(|r| r[1].chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for r in [&header].into_iter().chain(rows.iter()) {
        let line = format!("{} {:w0$}  {:w1$}  {}", r[3], r[0], r[1], r[2]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn readings_json(readings: &[Reading]) -> Json {
    Json::Array(
        readings
            .iter()
            .map(|r| {
                json!({
                    "file": r.file, "line": r.line, "location": r.location,
                    "value": r.value, "version": r.version.to_string(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(file: &str, v: &str) -> Reading {
        Reading {
            file: file.into(),
            line: 3,
            location: "[project].version".into(),
            value: v.into(),
            version: Version::parse(v).unwrap(),
        }
    }

    #[test]
    fn table_marks_disagreeing_rows() {
        let rs = [
            reading("pyproject.toml", "1.2.3"),
            reading("docker-compose.yml", "1.2.2"),
        ];
        assert!(!agree(&rs));
        assert!(agree(&rs[..1]));
        let expect = expect_test::expect![[r#"
              FILE:LINE             LOCATION           VALUE
              pyproject.toml:3      [project].version  1.2.3
            ≠ docker-compose.yml:3  [project].version  1.2.2
        "#]];
        expect.assert_eq(&table(&rs, Some(&Version::parse("1.2.3").unwrap())));
    }
}
