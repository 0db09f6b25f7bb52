//! Is a version yanked on a package index? Pure parsers of the simple API's project page, in
//! both forms an index may answer with, and the verdict over one version's files.
//!
//! - PEP 691 JSON (`application/vnd.pypi.simple.v1+json`): each of `files[]` has `yanked`,
//!   `false`, `true` or the reason as a string (PEP 592 semantics);
//! - PEP 592 HTML: a file link carries a `data-yanked` attribute when the file is yanked, its
//!   value the reason (possibly empty).
//!
//! A version counts as yanked only when every one of its files is (PEP 592: yanking applies to
//! files; a release is yanked when all its files are).

/// One file of a project page, with its yank state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub filename: String,
    /// `None`: not yanked; `Some(reason)`: yanked (the reason may be empty).
    pub yanked: Option<String>,
}

/// The files of a PEP 691 JSON project page.
pub fn parse_json(body: &str) -> Result<Vec<File>, String> {
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("the index sent invalid JSON: {e}"))?;
    let files = json
        .get("files")
        .and_then(|f| f.as_array())
        .ok_or("the index's JSON page has no `files` list (is it a PEP 691 project page?)")?;
    let mut out = Vec::new();
    for f in files {
        let Some(name) = f.get("filename").and_then(|n| n.as_str()) else {
            continue;
        };
        let yanked = match f.get("yanked") {
            Some(serde_json::Value::Bool(true)) => Some(String::new()),
            Some(serde_json::Value::String(reason)) => Some(reason.clone()),
            _ => None,
        };
        out.push(File {
            filename: name.to_string(),
            yanked,
        });
    }
    Ok(out)
}

/// The files of a PEP 503/592 HTML project page: every `<a>` element, its text the file name
/// (else the last path segment of its `href`), `data-yanked` its yank state.
pub fn parse_html(body: &str) -> Vec<File> {
    // Tag names are case-insensitive: search a lowercased copy (same byte offsets).
    let lower = body.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = find_anchor(&lower[at..]).map(|i| i + at) {
        let Some(open_end) = body[i..].find('>').map(|e| e + i) else {
            break;
        };
        let attrs = attributes(&body[i + 2..open_end]);
        let close = lower[open_end + 1..].find("</a>").map(|c| c + open_end + 1);
        let text = close.map(|c| body[open_end + 1..c].trim()).unwrap_or("");
        let href = attrs
            .iter()
            .find(|(k, _)| k == "href")
            .map(|(_, v)| v.clone());
        if let Some(href) = href {
            let path = href.split('#').next().unwrap_or("");
            let from_href = path.rsplit('/').next().unwrap_or(path);
            let filename = if text.is_empty() {
                unescape(from_href)
            } else {
                unescape(text)
            };
            let yanked = attrs
                .iter()
                .find(|(k, _)| k == "data-yanked")
                .map(|(_, v)| v.clone());
            out.push(File { filename, yanked });
        }
        at = match close {
            Some(c) => c + 4,
            None => open_end + 1,
        };
    }
    out
}

/// Where the next `<a` element starts (not `<abbr`), in lowercased text.
fn find_anchor(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(i) = s[from..].find('<').map(|i| i + from) {
        let next = bytes.get(i + 1).copied();
        let after = bytes.get(i + 2).copied();
        if next == Some(b'a') && after.is_some_and(|c| c.is_ascii_whitespace() || c == b'>') {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// The attributes of a start tag's inside (after the name): `name="v"`, `name='v'`, `name=v`
/// or a bare `name` (value empty); names lowercased, values unescaped.
fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(v) = rest.strip_prefix('=') {
            let v = v.trim_start();
            let (val, tail) = match v.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let inner = &v[1..];
                    let end = inner.find(q).unwrap_or(inner.len());
                    (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = v.find(|c: char| c.is_ascii_whitespace()).unwrap_or(v.len());
                    (&v[..end], &v[end..])
                }
            };
            value = unescape(val);
            rest = tail.trim_start();
        } else if let Some(t) = rest.strip_prefix('/') {
            rest = t.trim_start();
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// Is `filename` a distribution of `version` for one of the name `stems` (`slipway_demo`, and
/// the older `slipway-demo` sdist spelling)? `slipway_demo-1.0.0.post1.tar.gz` is not one of
/// `1.0.0`. Compared case-insensitively.
pub fn of_version(filename: &str, stems: &[String], version: &str) -> bool {
    let f = filename.to_ascii_lowercase();
    stems.iter().any(|stem| {
        let prefix = format!(
            "{}-{}",
            stem.to_ascii_lowercase(),
            version.to_ascii_lowercase()
        );
        f.strip_prefix(&prefix).is_some_and(|rest| {
            rest.starts_with('-') || matches!(rest, ".tar.gz" | ".zip" | ".tar.bz2" | ".tgz")
        })
    })
}

/// The verdict over a page's files: `Ok` with the evidence when every file of `version` is
/// yanked (the reasons named), else `Err` naming what is not.
pub fn verdict(files: &[File], stems: &[String], version: &str) -> Result<String, String> {
    let mine: Vec<&File> = files
        .iter()
        .filter(|f| of_version(&f.filename, stems, version))
        .collect();
    if mine.is_empty() {
        return Err(format!(
            "the index lists no file of {version}: nothing to be yanked (was it published?)"
        ));
    }
    let live: Vec<&str> = mine
        .iter()
        .filter(|f| f.yanked.is_none())
        .map(|f| f.filename.as_str())
        .collect();
    if !live.is_empty() {
        return Err(format!(
            "{version} is not yanked: {} of its {} file(s) not yanked: {}",
            live.len(),
            mine.len(),
            live.join(", ")
        ));
    }
    let mut reasons: Vec<&str> = Vec::new();
    for f in &mine {
        let r = f.yanked.as_deref().unwrap_or("").trim();
        if !r.is_empty() && !reasons.contains(&r) {
            reasons.push(r);
        }
    }
    let reason = match reasons.as_slice() {
        [] => "no reason given".to_string(),
        [one] => format!("reason: {one}"),
        many => format!("reasons: {}", many.join("; ")),
    };
    Ok(format!(
        "{version} is yanked: all {} file(s) ({}); {reason}",
        mine.len(),
        mine.iter()
            .map(|f| f.filename.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of pypi.org's PEP 691 answer (`Accept: application/vnd.pypi.simple.v1+json`,
    /// api-version 1.1), one version yanked with a reason, one not.
    pub const JSON_PAGE: &str = r#"{
  "files": [
    {"core-metadata": {"sha256": "5d1c0e4a0e2d0d7bb1c3f2d5c0f9a3d1b3e2a1c0d9e8f7a6b5c4d3e2f1a0b9c8"},
     "data-dist-info-metadata": {"sha256": "5d1c0e4a0e2d0d7bb1c3f2d5c0f9a3d1b3e2a1c0d9e8f7a6b5c4d3e2f1a0b9c8"},
     "filename": "slipway_demo-1.2.3-py3-none-any.whl",
     "hashes": {"sha256": "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"},
     "provenance": null, "requires-python": ">=3.9", "size": 4210,
     "upload-time": "2026-11-21T10:00:00.123456Z",
     "url": "https://files.pythonhosted.org/packages/0a/1b/2c3d/slipway_demo-1.2.3-py3-none-any.whl",
     "yanked": "broken entry point"},
    {"core-metadata": false, "data-dist-info-metadata": false,
     "filename": "slipway_demo-1.2.3.tar.gz",
     "hashes": {"sha256": "1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a"},
     "provenance": null, "requires-python": ">=3.9", "size": 3980,
     "upload-time": "2026-11-21T10:00:01.654321Z",
     "url": "https://files.pythonhosted.org/packages/1b/2c/3d4e/slipway_demo-1.2.3.tar.gz",
     "yanked": true},
    {"core-metadata": {"sha256": "6e2d1f5b1f3e1e8cc2d4a3e6d1a0b4e2c4f3b2d1e0f9a8b7c6d5e4f3a2b1c0d9"},
     "filename": "slipway_demo-1.2.4-py3-none-any.whl",
     "hashes": {"sha256": "2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b"},
     "provenance": null, "requires-python": ">=3.9", "size": 4212,
     "upload-time": "2026-11-22T09:00:00.000000Z",
     "url": "https://files.pythonhosted.org/packages/2c/3d/4e5f/slipway_demo-1.2.4-py3-none-any.whl",
     "yanked": false},
    {"filename": "slipway_demo-1.2.3.post1.tar.gz",
     "hashes": {"sha256": "3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c"},
     "requires-python": ">=3.9", "size": 3990, "upload-time": "2026-11-23T09:00:00.000000Z",
     "url": "https://files.pythonhosted.org/packages/3d/4e/5f60/slipway_demo-1.2.3.post1.tar.gz",
     "yanked": false}
  ],
  "meta": {"_last-serial": 26012345, "api-version": "1.1"},
  "name": "slipway-demo",
  "versions": ["1.2.3", "1.2.3.post1", "1.2.4"]
}"#;

    /// The shape of pypi.org's PEP 503/592 HTML page (what `pip` gets without the JSON accept).
    pub const HTML_PAGE: &str = r#"<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Links for slipway-demo</title>
  </head>
  <body>
    <h1>Links for slipway-demo</h1>
    <a href="https://files.pythonhosted.org/packages/0a/1b/2c3d/slipway_demo-1.2.3-py3-none-any.whl#sha256=0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9" data-requires-python="&gt;=3.9" data-dist-info-metadata="sha256=5d1c" data-core-metadata="sha256=5d1c" data-yanked="broken &quot;entry&quot; point">slipway_demo-1.2.3-py3-none-any.whl</a><br />
    <a href="https://files.pythonhosted.org/packages/1b/2c/3d4e/slipway_demo-1.2.3.tar.gz#sha256=1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a" data-requires-python="&gt;=3.9" data-yanked="">slipway_demo-1.2.3.tar.gz</a><br />
    <a href="https://files.pythonhosted.org/packages/2c/3d/4e5f/slipway_demo-1.2.4-py3-none-any.whl#sha256=2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b" data-requires-python="&gt;=3.9" data-dist-info-metadata="sha256=6e2d" data-core-metadata="sha256=6e2d">slipway_demo-1.2.4-py3-none-any.whl</a><br />
    <a href="https://files.pythonhosted.org/packages/3d/4e/5f60/slipway_demo-1.2.3.post1.tar.gz#sha256=3d4e" data-requires-python="&gt;=3.9">slipway_demo-1.2.3.post1.tar.gz</a><br />
  </body>
</html>
<!--SERIAL 26012345-->
"#;

    fn stems() -> Vec<String> {
        vec!["slipway_demo".into(), "slipway-demo".into()]
    }

    #[test]
    fn json_pages_give_yanked_true_or_the_reason() {
        let files = parse_json(JSON_PAGE).unwrap();
        let states: Vec<(&str, Option<&str>)> = files
            .iter()
            .map(|f| (f.filename.as_str(), f.yanked.as_deref()))
            .collect();
        assert_eq!(
            states,
            [
                (
                    "slipway_demo-1.2.3-py3-none-any.whl",
                    Some("broken entry point")
                ),
                ("slipway_demo-1.2.3.tar.gz", Some("")),
                ("slipway_demo-1.2.4-py3-none-any.whl", None),
                ("slipway_demo-1.2.3.post1.tar.gz", None),
            ]
        );
        assert!(parse_json("{\"meta\": {}}")
            .unwrap_err()
            .contains("no `files` list"));
        assert!(parse_json("<html>").unwrap_err().contains("invalid JSON"));
    }

    #[test]
    fn html_pages_mark_yanked_links_with_data_yanked() {
        let files = parse_html(HTML_PAGE);
        let states: Vec<(&str, Option<&str>)> = files
            .iter()
            .map(|f| (f.filename.as_str(), f.yanked.as_deref()))
            .collect();
        assert_eq!(
            states,
            [
                (
                    "slipway_demo-1.2.3-py3-none-any.whl",
                    Some("broken \"entry\" point")
                ),
                ("slipway_demo-1.2.3.tar.gz", Some("")),
                ("slipway_demo-1.2.4-py3-none-any.whl", None),
                ("slipway_demo-1.2.3.post1.tar.gz", None),
            ]
        );
        // A bare attribute, single quotes, upper case, and a link without text.
        let files = parse_html(
            "<A HREF='/p/x-1.0.tar.gz#sha256=ab' DATA-YANKED>x-1.0.tar.gz</A>\n\
             <a data-yanked='bad build' href=\"/p/x-1.0-py3-none-any.whl\"></a><abbr>no</abbr>",
        );
        assert_eq!(
            files,
            [
                File {
                    filename: "x-1.0.tar.gz".into(),
                    yanked: Some(String::new())
                },
                File {
                    filename: "x-1.0-py3-none-any.whl".into(),
                    yanked: Some("bad build".into())
                },
            ]
        );
    }

    #[test]
    fn files_of_a_version_exclude_post_releases_and_other_projects() {
        let s = stems();
        for (name, want) in [
            ("slipway_demo-1.2.3-py3-none-any.whl", true),
            ("slipway_demo-1.2.3.tar.gz", true),
            ("slipway-demo-1.2.3.tar.gz", true),
            ("Slipway_Demo-1.2.3.zip", true),
            ("slipway_demo-1.2.3.post1.tar.gz", false),
            ("slipway_demo-1.2.30-py3-none-any.whl", false),
            ("slipway_demo_extra-1.2.3.tar.gz", false),
        ] {
            assert_eq!(of_version(name, &s, "1.2.3"), want, "{name}");
        }
    }

    #[test]
    fn a_version_is_yanked_only_when_every_file_is() {
        let s = stems();
        for files in [parse_json(JSON_PAGE).unwrap(), parse_html(HTML_PAGE)] {
            let ok = verdict(&files, &s, "1.2.3").unwrap();
            assert!(
                ok.starts_with("1.2.3 is yanked: all 2 file(s) (slipway_demo-1.2.3-py3-none-any.whl, slipway_demo-1.2.3.tar.gz); reason: broken"),
                "{ok}"
            );
            assert_eq!(
                verdict(&files, &s, "1.2.4").unwrap_err(),
                "1.2.4 is not yanked: 1 of its 1 file(s) not yanked: slipway_demo-1.2.4-py3-none-any.whl"
            );
            assert!(verdict(&files, &s, "9.9.9")
                .unwrap_err()
                .contains("lists no file of 9.9.9"));
        }
        let partly = vec![
            File {
                filename: "slipway_demo-2.0.0.tar.gz".into(),
                yanked: Some("x".into()),
            },
            File {
                filename: "slipway_demo-2.0.0-py3-none-any.whl".into(),
                yanked: None,
            },
        ];
        assert_eq!(
            verdict(&partly, &s, "2.0.0").unwrap_err(),
            "2.0.0 is not yanked: 1 of its 2 file(s) not yanked: slipway_demo-2.0.0-py3-none-any.whl"
        );
        let no_reason = vec![File {
            filename: "slipway_demo-2.0.0.tar.gz".into(),
            yanked: Some(" ".into()),
        }];
        assert!(verdict(&no_reason, &s, "2.0.0")
            .unwrap()
            .ends_with("no reason given"));
    }
}
