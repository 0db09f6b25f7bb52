//! Line-shaped version files, each read with its own small grammar (no regular expressions):
//! a plain-text version file, a dotenv key, a Python `__version__ = "…"` assignment, and a line
//! template (`current_version = {version}`).

use crate::edit::line_of;
use crate::versioned::Span;

/// Lines as (start, end without the line ending).
fn lines(src: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= src.len() {
            return None;
        }
        let start = pos;
        let nl = src[start..].find('\n').map(|i| start + i);
        pos = nl.map_or(src.len(), |n| n + 1);
        let mut end = nl.unwrap_or(src.len());
        if end > start && src.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
        Some((start, end))
    })
}

/// The whole file is the version: the span is its text without surrounding whitespace.
pub fn find_text(src: &str) -> Result<Vec<Span>, String> {
    let start = src.len() - src.trim_start().len();
    let end = src.trim_end().len();
    if start >= end {
        return Ok(Vec::new());
    }
    if src[start..end].contains(['\n', ' ', '\t']) {
        return Err(format!(
            "line {}: a version file holds one version and nothing else; use kind = \"line\" with a template for other shapes",
            line_of(src, start)
        ));
    }
    Ok(vec![Span {
        range: start..end,
        line: line_of(src, start),
        location: "the file's content".into(),
    }])
}

/// `KEY=value`, `export KEY=value`, quoted or not, with a trailing ` # comment`.
pub fn find_dotenv(src: &str, key: &str) -> Result<Vec<Span>, String> {
    let mut out = Vec::new();
    for (start, end) in lines(src) {
        let text = &src[start..end];
        let t = text.trim_start();
        let t = t.strip_prefix("export ").map(str::trim_start).unwrap_or(t);
        let Some(rest) = t.strip_prefix(key) else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        if !rest.trim_start().starts_with('=')
            || rest.starts_with(|c: char| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let value_at = end - value.len();
        let lead = value.len() - value.trim_start().len();
        let v = value.trim_start();
        let at = value_at + lead;
        let range = match v.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let Some(close) = v[1..].find(q) else {
                    return Err(format!(
                        "line {}: {key} has an unclosed quote",
                        line_of(src, start)
                    ));
                };
                at + 1..at + 1 + close
            }
            _ => {
                let e = v.find(" #").or_else(|| v.find("\t#")).unwrap_or(v.len());
                at..at + v[..e].trim_end().len()
            }
        };
        out.push(Span {
            line: line_of(src, start),
            range,
            location: key.to_string(),
        });
    }
    Ok(out)
}

/// `name = "…"` (or `name: str = '…'`) at the start of a line.
pub fn find_python(src: &str, variable: &str) -> Result<Vec<Span>, String> {
    let mut out = Vec::new();
    for (start, end) in lines(src) {
        let text = &src[start..end];
        let Some(rest) = text.strip_prefix(variable) else {
            continue;
        };
        if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let mut r = rest.trim_start();
        if let Some(ann) = r.strip_prefix(':') {
            r = ann.trim_start_matches(|c: char| c != '=');
        }
        let Some(v) = r.strip_prefix('=') else {
            continue;
        };
        if v.starts_with('=') {
            continue;
        }
        let v = v.trim_start();
        let at = end - v.len();
        let line = line_of(src, start);
        let q = match v.chars().next() {
            Some(q @ ('"' | '\'')) if !v.starts_with("\"\"\"") && !v.starts_with("'''") => q,
            _ => {
                return Err(format!(
                    "line {line}: {variable} is not assigned a plain string literal; write `{variable} = \"1.2.3\"`"
                ))
            }
        };
        let Some(close) = v[1..].find(q) else {
            return Err(format!("line {line}: {variable} has an unclosed string"));
        };
        if v[1..1 + close].contains('\\') {
            return Err(format!(
                "line {line}: {variable} uses escapes; write `{variable} = \"1.2.3\"`"
            ));
        }
        out.push(Span {
            line,
            range: at + 1..at + 1 + close,
            location: variable.to_string(),
        });
    }
    Ok(out)
}

/// Splits a template at its one `{version}`.
pub fn split_template(template: &str) -> Result<(&str, &str), String> {
    let Some((a, b)) = template.split_once("{version}") else {
        return Err(format!("template `{template}` must contain `{{version}}`"));
    };
    if b.contains("{version}") || template.contains(['\n', '\r']) {
        return Err(format!(
            "template `{template}` must be one line with exactly one `{{version}}`"
        ));
    }
    Ok((a, b))
}

/// Lines that equal the template with a version in place of `{version}`.
pub fn find_line(src: &str, template: &str) -> Result<Vec<Span>, String> {
    let (head, tail) = split_template(template)?;
    let mut out = Vec::new();
    for (start, end) in lines(src) {
        let text = &src[start..end];
        if text.len() <= head.len() + tail.len() || !text.starts_with(head) || !text.ends_with(tail)
        {
            continue;
        }
        let mid = &text[head.len()..text.len() - tail.len()];
        if !mid.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !mid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".+-_".contains(c))
        {
            continue;
        }
        let s = start + head.len();
        out.push(Span {
            line: line_of(src, start),
            range: s..s + mid.len(),
            location: format!("`{template}`"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(r: Result<Vec<Span>, String>, src: &str) -> Vec<(usize, String)> {
        r.unwrap()
            .iter()
            .map(|s| (s.line, src[s.range.clone()].to_string()))
            .collect()
    }

    #[test]
    fn text() {
        assert_eq!(
            vals(find_text("v26.0.0\n"), "v26.0.0\n"),
            [(1, "v26.0.0".into())]
        );
        assert_eq!(
            vals(find_text("\n 1.2.3"), "\n 1.2.3"),
            [(2, "1.2.3".into())]
        );
        assert!(find_text("").unwrap().is_empty());
        assert!(find_text("1.2.3\nmore\n")
            .unwrap_err()
            .contains("one version and nothing else"));
    }

    #[test]
    fn dotenv() {
        let src = "# APP_VERSION=0.0.1\nAPP_VERSION=0.3.1\r\nexport APP_VERSION = \"0.3.1\" # x\nAPP_VERSION_OLD=1\nOTHER=0.3.1\nAPP_VERSION='v0.3.1'";
        assert_eq!(
            vals(find_dotenv(src, "APP_VERSION"), src),
            [
                (2, "0.3.1".into()),
                (3, "0.3.1".into()),
                (6, "v0.3.1".into())
            ]
        );
        assert_eq!(
            vals(find_dotenv("A=1.0 # c\n", "A"), "A=1.0 # c\n"),
            [(1, "1.0".into())]
        );
        assert!(find_dotenv("A=\"1\n", "A")
            .unwrap_err()
            .contains("unclosed quote"));
    }

    #[test]
    fn python() {
        let src = "\"\"\"Doc.\"\"\"\n__version__ = \"0.3.1\"\n__version_info__ = (0, 3, 1)\nif x:\n    __version__ = \"9\"\n__version__: str = '0.3.1'  # c\n";
        assert_eq!(
            vals(find_python(src, "__version__"), src),
            [(2, "0.3.1".into()), (6, "0.3.1".into())]
        );
        for (s, want) in [
            (
                "__version__ = get()\n",
                "not assigned a plain string literal",
            ),
            ("__version__ = \"1\\x2e\"\n", "uses escapes"),
            ("__version__ = \"1.2\n", "unclosed string"),
        ] {
            assert!(
                find_python(s, "__version__").unwrap_err().contains(want),
                "{s}"
            );
        }
        assert!(find_python("__version__ == \"1\"\n", "__version__")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn line_template() {
        let src = "[bumpversion]\ncurrent_version = 0.3.1\ncurrent_version = 0.3.1 # no\nnew_version = 0.3.1\ncurrent_version = \n";
        assert_eq!(
            vals(find_line(src, "current_version = {version}"), src),
            [(2, "0.3.1".into())]
        );
        assert!(find_line(src, "no placeholder").is_err());
        assert!(find_line(src, "{version} {version}").is_err());
    }

    /// Property: for each grammar, random surroundings stay byte-identical around the span.
    #[test]
    fn property_bytes_outside_the_span_stay() {
        let mut rng = crate::testutil::Rng::new(5);
        type Finder = fn(&str) -> Result<Vec<Span>, String>;
        let kinds: [(&str, Finder); 3] = [
            ("APP_VERSION={q}1.2.3{q}", |s| find_dotenv(s, "APP_VERSION")),
            ("__version__ = \"1.2.3\"", |s| find_python(s, "__version__")),
            ("version: 1.2.3", |s| find_line(s, "version: {version}")),
        ];
        for _ in 0..300 {
            let nl = ["\n", "\r\n"][rng.below(2)];
            let (line, find) = kinds[rng.below(3)];
            let q = ["", "\"", "'"][rng.below(3)];
            let mut ls = vec![line.replace("{q}", q)];
            for f in ["# 1.2.3", "OTHER=1.2.3", "", "x = '1.2.3'"] {
                if rng.below(2) == 0 {
                    ls.insert(rng.below(ls.len() + 1), f.to_string());
                }
            }
            let mut src = ls.join(nl);
            if rng.below(2) == 0 {
                src.push_str(nl);
            }
            let s = find(&src).unwrap().remove(0);
            let out = crate::edit::splice(
                &src,
                &[crate::edit::Replacement::new(s.range.clone(), "4.5.6")],
            );
            assert_eq!(&out[..s.range.start], &src[..s.range.start]);
            assert_eq!(&out[s.range.start + 5..], &src[s.range.end..]);
            assert_eq!(&out[find(&out).unwrap()[0].range.clone()], "4.5.6");
        }
        for _ in 0..100 {
            let lead = ["", "\n", "  "][rng.below(3)];
            let trail = ["", "\n", "\r\n", " \n"][rng.below(4)];
            let src = format!("{lead}v1.2.3{trail}");
            let s = find_text(&src).unwrap().remove(0);
            let out = crate::edit::splice(
                &src,
                &[crate::edit::Replacement::new(s.range.clone(), "v2.0.0")],
            );
            assert_eq!(out, format!("{lead}v2.0.0{trail}"));
        }
    }
}
