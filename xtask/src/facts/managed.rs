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
use crate::core::compose::{self, UseKind};
use crate::core::pyproject::{self, PyVersion};
use crate::core::version::pep440;
use crate::facts::config::Config;
use crate::run::plan::FileEdit;
use crate::{Place, Problems};

pub struct PyFile {
    pub rel: String,
    pub path: PathBuf,
    pub text: String,
    pub versions: Vec<PyVersion>,
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
    pub pyproject: PyFile,
    pub compose: Vec<ComposeFile>,
    pub changelog: ChangelogFile,
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
            problems.invalid(format!(
                "{rel} not found (configured by `{key}` in [workspace.metadata.release] of Cargo.toml); create it or fix the key"
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
    let py = read(cfg, &cfg.pyproject, "pyproject", problems).and_then(|(path, text)| {
        match pyproject::find_versions(&text) {
            Ok(versions) => Some(PyFile {
                rel: cfg.pyproject.clone(),
                path,
                text,
                versions,
            }),
            Err(e) => {
                problems.invalid_at(
                    Place::file(&cfg.pyproject),
                    format!("{}: {e}", cfg.pyproject),
                );
                None
            }
        }
    });
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
    let changelog = read(cfg, &cfg.changelog, "changelog", problems).and_then(|(path, text)| {
        match Changelog::parse(&text) {
            Ok(parsed) => Some(ChangelogFile {
                rel: cfg.changelog.clone(),
                path,
                text,
                parsed,
            }),
            Err(e) => {
                problems.invalid_at(
                    Place::file(&cfg.changelog),
                    format!("{}: {e}", cfg.changelog),
                );
                None
            }
        }
    });
    if problems.list.len() != before {
        return None;
    }
    Some(Managed {
        pyproject: py?,
        compose: compose_files,
        changelog: changelog?,
    })
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
    fn bumped(&self, bump: &Bump) -> Result<(String, Vec<String>), String> {
        let after = pyproject::set_version(&self.text, &self.versions, &pep440(bump.new))
            .map_err(|e| format!("{}: {e}", self.rel))?;
        Ok((after, Vec::new()))
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
            &self.rel,
        )?;
        notes.extend(release.notes);
        Ok((release.new_src, notes))
    }
}

impl Managed {
    /// Every managed file, in the order readings and edits are shown: pyproject, the compose
    /// files, the changelog.
    pub fn files(&self) -> Vec<&dyn VersionFile> {
        let mut out: Vec<&dyn VersionFile> = vec![&self.pyproject];
        out.extend(self.compose.iter().map(|f| f as &dyn VersionFile));
        out.push(&self.changelog);
        out
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
                    f.rel(),
                    f.path(),
                    f.text().to_string(),
                    after,
                ));
            }
        }
        Ok((edits, notes))
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
