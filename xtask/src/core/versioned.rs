//! What every extra version file shares: the typed kinds (`[[workspace.metadata.release.files]]`),
//! a found version span, how a version is rendered into it, and the counted, re-checked rewrite.
//!
//! Each kind has its own pure editor that finds the spans with a real parser (`tomlpath`,
//! `jsonpath`, `yamlpath`, `linefile`); this module turns spans into versions and back. Every
//! byte outside the spans is untouched by construction ([`splice`]).

use std::ops::Range;

use semver::Version;

use crate::edit::{splice, Replacement};
use crate::version::{docker_tag, parse_docker_tag, parse_pep440, parse_semver, pep440};

/// The kind of an extra version file and what locates the version in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A dotted key path (`tool.bumpversion.current_version`); quoted parts allowed.
    Toml { key: String },
    /// A JSON pointer (RFC 6901, `/version`); a `*` segment matches every member or element.
    Json { pointer: String },
    /// A dotted key path (`image.tag`); a `*` part matches every key or element.
    Yaml { key: String },
    /// The whole file is the version (surrounding whitespace kept).
    Text,
    /// `KEY=value` lines (`export KEY=…` and quotes allowed).
    Dotenv { key: String },
    /// `name = "…"` assignments at the start of a line (default `__version__`).
    Python { variable: String },
    /// Lines equal to the template with `{version}` replaced by the current version.
    Line { template: String },
}

impl Kind {
    /// The kind name as configured.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Toml { .. } => "toml",
            Kind::Json { .. } => "json",
            Kind::Yaml { .. } => "yaml",
            Kind::Text => "text",
            Kind::Dotenv { .. } => "dotenv",
            Kind::Python { .. } => "python",
            Kind::Line { .. } => "line",
        }
    }

    /// How a version is written when the file does not say otherwise.
    pub fn default_render(&self) -> Render {
        match self {
            Kind::Python { .. } => Render::Pep440,
            _ => Render::Semver,
        }
    }
}

/// How a version is written into a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    Semver,
    Pep440,
    /// SemVer with `+` as `_`.
    Docker,
}

impl Render {
    pub fn parse(s: &str) -> Option<Render> {
        match s {
            "semver" => Some(Render::Semver),
            "pep440" => Some(Render::Pep440),
            "docker" => Some(Render::Docker),
            _ => None,
        }
    }

    pub fn render(self, v: &Version) -> String {
        match self {
            Render::Semver => v.to_string(),
            Render::Pep440 => pep440(v),
            Render::Docker => docker_tag(v),
        }
    }

    fn read(self, s: &str) -> Option<Version> {
        let first = match self {
            Render::Semver => parse_semver(s).ok(),
            Render::Pep440 => parse_pep440(s).ok(),
            Render::Docker => parse_docker_tag(s).map(|(v, _)| v),
        };
        first
            .or_else(|| parse_semver(s).ok())
            .or_else(|| parse_pep440(s).ok())
    }
}

/// One span an editor found: the bytes of the value (inside any quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub range: Range<usize>,
    /// 1-based.
    pub line: usize,
    /// Where it is, as shown to the user (`/version`, `image.tag`, `APP_VERSION`).
    pub location: String,
}

/// A span read as a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub span: Span,
    /// The value as written.
    pub raw: String,
    /// A tag prefix written before the version (`v` of `v26.0.0`), kept on rewrite.
    pub prefix: String,
    pub version: Version,
}

/// Reads every span as a version and checks there are exactly `count` of them. `prefixes` are
/// the prefixes a value may carry (the tag prefix, `v`). Errors are one line and name the line.
pub fn read(
    src: &str,
    spans: Vec<Span>,
    count: usize,
    prefixes: &[&str],
    render: Render,
    what: &str,
) -> Result<Vec<Found>, String> {
    if spans.len() != count {
        let lines: Vec<String> = spans.iter().map(|s| s.line.to_string()).collect();
        return Err(format!(
            "expected {count} match{} of {what}, found {}{}; fix the file or set `count = {}` for it",
            if count == 1 { "" } else { "es" },
            spans.len(),
            if lines.is_empty() {
                String::new()
            } else {
                format!(" (line {})", lines.join(", "))
            },
            spans.len().max(1)
        ));
    }
    let mut out = Vec::new();
    for span in spans {
        let raw = src[span.range.clone()].to_string();
        let mut best = None;
        for p in prefixes.iter().copied().chain([""]) {
            if let Some(rest) = raw.strip_prefix(p) {
                if let Some(v) = (!rest.is_empty())
                    .then(|| render.read(rest))
                    .flatten()
                    .filter(|_| rest.starts_with(|c: char| c.is_ascii_digit()))
                {
                    best = Some((p.to_string(), v));
                    break;
                }
            }
        }
        let Some((prefix, version)) = best else {
            return Err(format!(
                "line {}: {} = {raw:?} is not a version (X.Y.Z, optionally with the tag prefix)",
                span.line, span.location
            ));
        };
        out.push(Found {
            span,
            raw,
            prefix,
            version,
        });
    }
    Ok(out)
}

/// Writes `new` into every found span (keeping each one's prefix), then finds the spans again in
/// the result with `refind` and checks that exactly those values now state `new`.
pub fn rewrite(
    src: &str,
    found: &[Found],
    new: &Version,
    render: Render,
    refind: impl Fn(&str) -> Result<Vec<Span>, String>,
) -> Result<String, String> {
    let text = render.render(new);
    let reps: Vec<Replacement> = found
        .iter()
        .map(|f| Replacement::new(f.span.range.clone(), format!("{}{text}", f.prefix)))
        .collect();
    let out = splice(src, &reps);
    let again = refind(&out).map_err(|e| format!("internal error: the edited file: {e}"))?;
    let ok = again.len() == found.len()
        && again
            .iter()
            .zip(found)
            .all(|(s, f)| out[s.range.clone()] == format!("{}{text}", f.prefix));
    if !ok {
        return Err(format!(
            "internal error: expected {} value(s) equal to {text} after the edit; nothing was written",
            found.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(src: &str, needle: &str) -> Span {
        let i = src.find(needle).unwrap();
        Span {
            range: i..i + needle.len(),
            line: 1,
            location: "x".into(),
        }
    }

    #[test]
    fn read_prefix_count_and_render() {
        let src = "v26.0.0";
        let f = read(
            src,
            vec![span(src, "v26.0.0")],
            1,
            &["v"],
            Render::Semver,
            "x",
        )
        .unwrap();
        assert_eq!(f[0].prefix, "v");
        assert_eq!(f[0].version, Version::new(26, 0, 0));
        let out = rewrite(src, &f, &Version::new(26, 0, 1), Render::Semver, |s| {
            Ok(vec![span(s, s)])
        })
        .unwrap();
        assert_eq!(out, "v26.0.1");
        let e = read(src, vec![], 1, &[], Render::Semver, "`/version`").unwrap_err();
        assert!(e.contains("expected 1 match of `/version`, found 0"), "{e}");
        let e = read(
            "latest",
            vec![span("latest", "latest")],
            1,
            &[],
            Render::Semver,
            "x",
        )
        .unwrap_err();
        assert!(e.contains("is not a version"), "{e}");
        let pre = Version::parse("1.3.0-rc.1").unwrap();
        assert_eq!(Render::Pep440.render(&pre), "1.3.0rc1");
        assert_eq!(
            Render::Docker.render(&Version::parse("1.0.0+b.1").unwrap()),
            "1.0.0_b.1"
        );
        let p = read(
            "1.3.0rc1",
            vec![span("1.3.0rc1", "1.3.0rc1")],
            1,
            &[],
            Render::Pep440,
            "x",
        )
        .unwrap();
        assert_eq!(p[0].version, pre);
    }
}
