//! `pyproject.toml`: find the static version with `toml_edit` (which keeps source spans) and
//! splice only the bytes inside its quotes.

use std::ops::Range;

use semver::Version;

use crate::edit::{line_of, splice, Replacement};
use crate::version::parse_pep440;

/// One place in pyproject.toml that holds the package version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyVersion {
    /// `[project].version` or `[tool.poetry].version`.
    pub location: &'static str,
    /// The string as written (PEP 440).
    pub raw: String,
    pub version: Version,
    /// Byte range of the string's contents (inside the quotes).
    pub range: Range<usize>,
    pub line: usize,
}

/// Finds every version location. Errors are one line, prefixed by nothing (the caller adds the
/// file name).
pub fn find_versions(src: &str) -> Result<Vec<PyVersion>, String> {
    let doc = toml_edit::Document::parse(src).map_err(|e| toml_error(&e))?;
    let root = doc.as_table();
    let mut found = Vec::new();
    let project = root.get("project");
    if let Some(project) = project {
        let dynamic = project
            .get("dynamic")
            .and_then(|d| d.as_array())
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")));
        if dynamic {
            return Err(
                "[project].version is dynamic (`dynamic = [\"version\"]`); slipway manages a static \
                 version: put `version = \"X.Y.Z\"` under [project] and remove \"version\" from `dynamic`"
                    .into(),
            );
        }
        if let Some(item) = project.get("version") {
            found.push(located(src, "[project].version", item)?);
        }
    }
    if let Some(item) = root
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("version"))
    {
        found.push(located(src, "[tool.poetry].version", item)?);
    }
    if found.is_empty() {
        return Err(
            "no version found: set `version = \"X.Y.Z\"` under [project] (PEP 621) or [tool.poetry]"
                .into(),
        );
    }
    Ok(found)
}

fn located(src: &str, location: &'static str, item: &toml_edit::Item) -> Result<PyVersion, String> {
    let value = item
        .as_str()
        .ok_or_else(|| format!("{location} must be a string like \"1.2.3\""))?;
    let span = item
        .span()
        .ok_or_else(|| format!("internal error: no source span for {location}"))?;
    let raw_repr = &src[span.clone()];
    let (open, close) = if raw_repr.starts_with("\"\"\"") || raw_repr.starts_with("'''") {
        (3, 3)
    } else {
        (1, 1)
    };
    let range = span.start + open..span.end - close;
    if src.get(range.clone()) != Some(value) {
        return Err(format!(
            "{location} = {raw_repr} uses escapes or line breaks; write it as a plain string like \"1.2.3\""
        ));
    }
    let version = parse_pep440(value).map_err(|e| format!("{location}: {e}"))?;
    Ok(PyVersion {
        location,
        raw: value.to_string(),
        version,
        line: line_of(src, span.start),
        range,
    })
}

/// Where a dynamic version (`dynamic = ["version"]`) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dynamic {
    /// A module assignment, by path (relative to the pyproject's directory): hatch
    /// `[tool.hatch.version] path`, pdm `[tool.pdm.version] source = "file"`.
    Module {
        path: String,
        variable: String,
        by: &'static str,
    },
    /// A module assignment by attribute (`pkg.__version__`): setuptools `{attr = …}`, flit.
    Attr {
        module: String,
        variable: String,
        by: &'static str,
    },
    /// A file holding only the version: setuptools `{file = "VERSION"}`.
    File { path: String, by: &'static str },
    /// Git tags: setuptools-scm, hatch-vcs, pdm's scm source.
    Scm { backend: &'static str },
}

/// The dynamic version source of a pyproject, `None` when the version is static. Errors name the
/// fix when `dynamic` lists the version but no known backend provides it.
pub fn dynamic_source(src: &str) -> Result<Option<Dynamic>, String> {
    let doc = toml_edit::Document::parse(src).map_err(|e| toml_error(&e))?;
    let root = doc.as_table();
    let dynamic = root
        .get("project")
        .and_then(|p| p.get("dynamic"))
        .and_then(|d| d.as_array())
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("version")));
    if !dynamic {
        return Ok(None);
    }
    let get = |path: &[&str]| -> Option<&toml_edit::Item> {
        let mut it = root.get(path[0])?;
        for p in &path[1..] {
            it = it.get(p)?;
        }
        Some(it)
    };
    let s = |path: &[&str]| get(path).and_then(|i| i.as_str()).map(str::to_string);
    let requires: Vec<String> = get(&["build-system", "requires"])
        .and_then(|r| r.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(|v| v.to_ascii_lowercase().replace('_', "-"))
                .collect()
        })
        .unwrap_or_default();
    let requires_any = |n: &str| requires.iter().any(|r| r.starts_with(n));
    let backend = s(&["build-system", "build-backend"]).unwrap_or_default();

    if get(&["tool", "hatch", "version"]).is_some() {
        if s(&["tool", "hatch", "version", "source"]).as_deref() == Some("vcs") {
            return Ok(Some(Dynamic::Scm {
                backend: "hatch-vcs",
            }));
        }
        if let Some(path) = s(&["tool", "hatch", "version", "path"]) {
            return Ok(Some(Dynamic::Module {
                path,
                variable: "__version__".into(),
                by: "[tool.hatch.version] path",
            }));
        }
    }
    if let Some(v) = get(&["tool", "setuptools", "dynamic", "version"]) {
        if let Some(attr) = v.get("attr").and_then(|a| a.as_str()) {
            let (module, variable) = attr.rsplit_once('.').unwrap_or((attr, "__version__"));
            return Ok(Some(Dynamic::Attr {
                module: module.to_string(),
                variable: variable.to_string(),
                by: "[tool.setuptools.dynamic] version = {attr}",
            }));
        }
        if let Some(path) = v.get("file").and_then(|f| {
            f.as_str()
                .map(str::to_string)
                .or_else(|| f.as_array()?.get(0)?.as_str().map(str::to_string))
        }) {
            return Ok(Some(Dynamic::File {
                path,
                by: "[tool.setuptools.dynamic] version = {file}",
            }));
        }
    }
    match s(&["tool", "pdm", "version", "source"]).as_deref() {
        Some("scm") => {
            return Ok(Some(Dynamic::Scm {
                backend: "pdm-backend",
            }))
        }
        Some("file") => {
            if let Some(path) = s(&["tool", "pdm", "version", "path"]) {
                return Ok(Some(Dynamic::Module {
                    path,
                    variable: "__version__".into(),
                    by: "[tool.pdm.version] path",
                }));
            }
        }
        _ => {}
    }
    if get(&["tool", "setuptools_scm"]).is_some() || requires_any("setuptools-scm") {
        return Ok(Some(Dynamic::Scm {
            backend: "setuptools-scm",
        }));
    }
    if requires_any("hatch-vcs") {
        return Ok(Some(Dynamic::Scm {
            backend: "hatch-vcs",
        }));
    }
    if backend.starts_with("flit") {
        if let Some(name) = s(&["project", "name"]) {
            return Ok(Some(Dynamic::Attr {
                module: name.replace('-', "_"),
                variable: "__version__".into(),
                by: "flit (the module's __version__)",
            }));
        }
    }
    Err("[project].version is dynamic (`dynamic = [\"version\"]`) but no known source provides it \
         ([tool.hatch.version] path or source = \"vcs\", [tool.setuptools.dynamic] version = {attr|file}, \
         [tool.setuptools_scm], [tool.pdm.version]); add one of them, or put `version = \"X.Y.Z\"` under \
         [project] and remove \"version\" from `dynamic`"
        .into())
}

/// Replaces every found version with `new_pep440`, then re-reads the file to prove that exactly
/// those values changed.
pub fn set_version(src: &str, found: &[PyVersion], new_pep440: &str) -> Result<String, String> {
    let reps: Vec<Replacement> = found
        .iter()
        .map(|f| Replacement::new(f.range.clone(), new_pep440))
        .collect();
    let out = splice(src, &reps);
    let again = find_versions(&out)
        .map_err(|e| format!("internal error: edited file does not parse: {e}"))?;
    if again.len() != found.len() || again.iter().any(|f| f.raw != new_pep440) {
        return Err(format!(
            "internal error: expected {} version value(s) equal to {new_pep440} after the edit",
            found.len()
        ));
    }
    Ok(out)
}

/// `[project].name` (or `[tool.poetry].name`), if the file parses.
/// `[build-system].requires`, as written (PEP 518); without a `[build-system]` table, what
/// PEP 517 front ends assume: `setuptools>=40.8.0`. `None` when the file is not TOML.
pub fn build_requires(src: &str) -> Option<Vec<String>> {
    let doc: toml_edit::DocumentMut = src.parse().ok()?;
    let Some(bs) = doc.get("build-system") else {
        return Some(vec!["setuptools>=40.8.0".into()]);
    };
    Some(
        bs.get("requires")
            .and_then(|r| r.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .map(|v| v.trim().to_string())
                    .collect()
            })
            .unwrap_or_default(),
    )
}

pub fn project_name(src: &str) -> Option<String> {
    let doc = toml_edit::Document::parse(src).ok()?;
    let root = doc.as_table();
    root.get("project")
        .and_then(|p| p.get("name"))
        .or_else(|| {
            root.get("tool")
                .and_then(|t| t.get("poetry"))
                .and_then(|p| p.get("name"))
        })
        .and_then(|n| n.as_str())
        .map(str::to_string)
}

/// A toml_edit error as one line: "invalid TOML at line L, column C: message".
pub fn toml_error(e: &toml_edit::TomlError) -> String {
    let text = e.to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid TOML").trim();
    let message = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('|') && !l.contains('^'))
        .unwrap_or("")
        .trim();
    let first = first.replace("TOML parse error", "invalid TOML");
    if message.is_empty() || message == first {
        first
    } else {
        format!("{first}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_requirements() {
        assert_eq!(
            build_requires("[build-system]\nrequires = [\"setuptools>=77\", \" wheel \"]  # x\n"),
            Some(vec!["setuptools>=77".to_string(), "wheel".to_string()])
        );
        assert_eq!(
            build_requires("[project]\nname = \"a\"\n"),
            Some(vec!["setuptools>=40.8.0".to_string()])
        );
        assert_eq!(
            build_requires("[build-system]\nbuild-backend = \"x\"\n"),
            Some(vec![])
        );
        assert_eq!(build_requires("[oops"), None);
    }

    fn bump(src: &str, new: &str) -> String {
        let found = find_versions(src).unwrap();
        set_version(src, &found, new).unwrap()
    }

    #[test]
    fn only_the_version_bytes_change() {
        let cases: &[(&str, &str)] = &[
            (
                "[project]\nname = \"demo\"\nversion = \"1.2.3\"  # the version\ndependencies = [\"acme-sdk==1.2.3\"]\n",
                "[project]\nname = \"demo\"\nversion = \"1.3.0rc1\"  # the version\ndependencies = [\"acme-sdk==1.2.3\"]\n",
            ),
            ("[project]\r\nversion='1.2.3'\r\n", "[project]\r\nversion='1.3.0rc1'\r\n"),
            ("[project]\nversion = \"1.2.3\"", "[project]\nversion = \"1.3.0rc1\""),
            (
                "[tool.other]\nversion = \"1.2.3\"\n[project]\nversion = \"1.2.3\"\n",
                "[tool.other]\nversion = \"1.2.3\"\n[project]\nversion = \"1.3.0rc1\"\n",
            ),
            (
                "[tool.poetry]\nname = \"x\"\nversion = \"1.2.3\"\n",
                "[tool.poetry]\nname = \"x\"\nversion = \"1.3.0rc1\"\n",
            ),
            (
                "project = { name = \"x\", version = \"1.2.3\" }\n",
                "project = { name = \"x\", version = \"1.3.0rc1\" }\n",
            ),
            ("[project]\nversion = '''1.2.3'''\n", "[project]\nversion = '''1.3.0rc1'''\n"),
        ];
        for (before, after) in cases {
            assert_eq!(bump(before, "1.3.0rc1"), *after);
        }
    }

    #[test]
    fn both_project_and_poetry_are_managed() {
        let src = "[project]\nversion = \"1.2.3\"\n[tool.poetry]\nversion = \"1.2.3\"\n";
        let found = find_versions(src).unwrap();
        assert_eq!(
            found.iter().map(|f| f.location).collect::<Vec<_>>(),
            ["[project].version", "[tool.poetry].version"]
        );
        assert_eq!(found[1].line, 4);
        assert_eq!(bump(src, "2.0.0"), src.replace("1.2.3", "2.0.0"));
    }

    #[test]
    fn dynamic_sources() {
        let dynamic = "[project]\nname = \"my-app\"\ndynamic = [\"version\"]\n";
        let cases: &[(&str, Option<Dynamic>)] = &[
            ("[project]\nversion = \"1\"\n", None),
            (
                "[tool.hatch.version]\npath = \"src/app/__about__.py\"\n",
                Some(Dynamic::Module {
                    path: "src/app/__about__.py".into(),
                    variable: "__version__".into(),
                    by: "[tool.hatch.version] path",
                }),
            ),
            (
                "[tool.hatch.version]\nsource = \"vcs\"\n",
                Some(Dynamic::Scm {
                    backend: "hatch-vcs",
                }),
            ),
            (
                "[tool.setuptools.dynamic]\nversion = {attr = \"app.about.VERSION\"}\n",
                Some(Dynamic::Attr {
                    module: "app.about".into(),
                    variable: "VERSION".into(),
                    by: "[tool.setuptools.dynamic] version = {attr}",
                }),
            ),
            (
                "[tool.setuptools.dynamic]\nversion = {file = \"VERSION\"}\n",
                Some(Dynamic::File {
                    path: "VERSION".into(),
                    by: "[tool.setuptools.dynamic] version = {file}",
                }),
            ),
            (
                "[tool.setuptools_scm]\n",
                Some(Dynamic::Scm {
                    backend: "setuptools-scm",
                }),
            ),
            (
                "[build-system]\nrequires = [\"setuptools>=64\", \"setuptools_scm>=8\"]\n",
                Some(Dynamic::Scm {
                    backend: "setuptools-scm",
                }),
            ),
            (
                "[tool.pdm.version]\nsource = \"scm\"\n",
                Some(Dynamic::Scm {
                    backend: "pdm-backend",
                }),
            ),
            (
                "[build-system]\nbuild-backend = \"flit_core.buildapi\"\n",
                Some(Dynamic::Attr {
                    module: "my_app".into(),
                    variable: "__version__".into(),
                    by: "flit (the module's __version__)",
                }),
            ),
        ];
        for (tail, want) in cases {
            let src = if want.is_none() {
                tail.to_string()
            } else {
                format!("{dynamic}{tail}")
            };
            assert_eq!(&dynamic_source(&src).unwrap(), want, "{src}");
        }
        assert!(dynamic_source(dynamic)
            .unwrap_err()
            .contains("no known source provides it"));
    }

    #[test]
    fn reads_pep440() {
        let found = find_versions("[project]\nversion = \"1.3.0rc2\"\n").unwrap();
        assert_eq!(found[0].version, Version::parse("1.3.0-rc.2").unwrap());
        assert_eq!(found[0].raw, "1.3.0rc2");
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            (
                "[project]\ndynamic = [\"version\"]\n",
                "remove \"version\" from `dynamic`",
            ),
            ("[project]\nname = \"x\"\n", "no version found"),
            ("", "no version found"),
            ("[project]\nversion = 3\n", "must be a string"),
            ("[project]\nversion = \"one\"\n", "not a PEP 440 version"),
            ("[project]\nversion = \"1.2\\u002e3\"\n", "uses escapes"),
            ("[project\nversion = \"1\"\n", "invalid TOML at line 1"),
        ];
        for (src, want) in cases {
            let err = find_versions(src).unwrap_err();
            assert!(err.contains(want), "{src:?}: {err}");
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
    }

    /// Property: for random documents around the version, the edit changes the version bytes and
    /// nothing else.
    #[test]
    fn property_edit_changes_only_version_bytes() {
        let mut rng = crate::testutil::Rng::new(0x5eed);
        let fillers = [
            "# comment 1.2.3\n",
            "name = \"acme\"\n",
            "dependencies = [\"acme-sdk==1.2.3\", 'b>=1.2.3']\n",
            "description = \"\"\"multi\nline 1.2.3\"\"\"\n",
            "\n",
            "readme = 'README.md' # trailing\n",
        ];
        for _ in 0..500 {
            let nl = if rng.below(2) == 0 { "\n" } else { "\r\n" };
            let mut src = String::new();
            if rng.below(2) == 0 {
                src.push_str(&format!("[tool.x]{nl}version = \"1.2.3\"{nl}"));
            }
            src.push_str(&format!("[project]{nl}"));
            // Each filler at most once (TOML forbids duplicate keys), before or after the version.
            let (mut before, mut after) = (Vec::new(), Vec::new());
            for f in fillers {
                match rng.below(3) {
                    0 => before.push(f),
                    1 => after.push(f),
                    _ => {}
                }
            }
            for f in before {
                src.push_str(&f.replace('\n', nl));
            }
            let q = ["\"", "'"][rng.below(2)];
            src.push_str(&format!("version = {q}1.2.3{q}"));
            if rng.below(2) == 0 {
                src.push_str("   # keep me");
            }
            for f in after {
                src.push_str(nl);
                src.push_str(&f.trim_end_matches('\n').replace('\n', nl));
            }
            if rng.below(2) == 0 {
                src.push_str(nl);
            }
            let found = find_versions(&src).unwrap();
            let out = set_version(&src, &found, "10.20.30rc4").unwrap();
            let r = found[0].range.clone();
            assert_eq!(&out[..r.start], &src[..r.start]);
            assert_eq!(&out[r.start + "10.20.30rc4".len()..], &src[r.end..]);
        }
    }
}
