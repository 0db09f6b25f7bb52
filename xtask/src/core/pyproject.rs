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
