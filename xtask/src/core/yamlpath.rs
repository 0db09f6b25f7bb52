//! A YAML key path (`appVersion`, `image.tag`, `*` for every key or element) in a YAML file:
//! the scalar's bytes (inside any quotes) are the span.
//!
//! Positions come from the YAML reader the compose editor uses (`core/yaml.rs`, events with
//! byte spans); this module shares nothing else with `compose.rs`. Duplicate keys on the path
//! are refused: which one counts would be a guess.

use crate::edit::line_of;
use crate::versioned::Span;
use crate::yaml::{self, Event, Style};

enum Frame {
    Map {
        /// The key whose value comes next (None: a key comes next).
        key: Option<String>,
        seen: Vec<String>,
        /// Path of this mapping.
        path: Vec<String>,
    },
    Seq {
        n: usize,
        path: Vec<String>,
    },
}

/// Every scalar at `key` (parts separated by `.`). Errors are one line with the line number.
pub fn find(src: &str, key: &str) -> Result<Vec<Span>, String> {
    let want: Vec<&str> = key.split('.').collect();
    if want.iter().any(|p| p.is_empty()) {
        return Err(format!("key path `{key}` has an empty part"));
    }
    let prefix_ok = |path: &[String]| {
        path.len() <= want.len() && path.iter().zip(&want).all(|(p, w)| *w == "*" || p == w)
    };
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // The path of the node an event starts, if it is a value (not a key).
    let node_path = |stack: &mut Vec<Frame>| -> Option<Vec<String>> {
        match stack.last_mut() {
            None => Some(Vec::new()),
            Some(Frame::Map { key, path, .. }) => key.take().map(|k| {
                let mut p = path.clone();
                p.push(k);
                p
            }),
            Some(Frame::Seq { n, path }) => {
                let mut p = path.clone();
                p.push(n.to_string());
                *n += 1;
                Some(p)
            }
        }
    };
    for event in yaml::parse(src).map_err(|e| e.to_string())? {
        match event {
            Event::DocumentStart | Event::DocumentEnd => stack.clear(),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::MappingStart => {
                let path = node_path(&mut stack).unwrap_or_else(|| vec!["\u{0}complex key".into()]);
                stack.push(Frame::Map {
                    key: None,
                    seen: Vec::new(),
                    path,
                });
            }
            Event::SequenceStart => {
                let path = node_path(&mut stack).unwrap_or_else(|| vec!["\u{0}complex key".into()]);
                stack.push(Frame::Seq { n: 0, path });
            }
            Event::Alias => {
                node_path(&mut stack);
            }
            Event::Scalar(yaml::Scalar { value, style, span }) => {
                if let Some(Frame::Map {
                    key: k @ None,
                    seen,
                    path,
                }) = stack.last_mut()
                {
                    let mut p = path.clone();
                    p.push(value.clone());
                    if seen.contains(&value) && prefix_ok(&p) {
                        return Err(format!(
                            "line {}: duplicate key `{value}`; remove one of them",
                            line_of(src, span.start)
                        ));
                    }
                    seen.push(value.clone());
                    *k = Some(value);
                    continue;
                }
                let Some(path) = node_path(&mut stack) else {
                    continue;
                };
                if path.len() != want.len() || !prefix_ok(&path) {
                    continue;
                }
                let range = locate(src, &span, style, &value).ok_or_else(|| {
                    format!(
                        "line {}: `{}` is not a plain one-line scalar (escapes, line breaks or a block scalar); \
                         write it as a plain value like 1.2.3",
                        line_of(src, span.start),
                        path.join(".")
                    )
                })?;
                out.push(Span {
                    line: line_of(src, range.start),
                    range,
                    location: path.join("."),
                });
            }
        }
    }
    Ok(out)
}

/// The bytes of `value` in the source: the plain text, or what is between the quotes, when
/// that is the value itself (no escapes, no line breaks).
fn locate(
    src: &str,
    span: &std::ops::Range<usize>,
    style: Style,
    value: &str,
) -> Option<std::ops::Range<usize>> {
    let inner = match style {
        Style::Plain => span.clone(),
        Style::SingleQuoted | Style::DoubleQuoted if span.end >= span.start + 2 => {
            span.start + 1..span.end - 1
        }
        _ => return None,
    };
    let fits = src.get(inner.clone()) == Some(value) && !value.contains(['\n', '\r', '\\']);
    (fits && !value.is_empty()).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(src: &str, key: &str) -> Vec<(usize, String)> {
        find(src, key)
            .unwrap()
            .iter()
            .map(|s| (s.line, src[s.range.clone()].to_string()))
            .collect()
    }

    #[test]
    fn table() {
        let chart = "apiVersion: v2\nname: app\n# version: 9.9.9\nversion: 0.1.0\nappVersion: \"0.3.1\"\ndependencies:\n  - name: redis\n    version: 17.0.0\n";
        assert_eq!(values(chart, "appVersion"), [(5, "0.3.1".to_string())]);
        assert_eq!(values(chart, "version"), [(4, "0.1.0".to_string())]);
        assert_eq!(
            values(chart, "dependencies.*.version"),
            [(8, "17.0.0".to_string())]
        );
        let vals = "image:\r\n  repository: ghcr.io/o/app\r\n  tag: 'v0.3.1' # pinned\r\nsidecar:\r\n  image:\r\n    tag: 1.0.0\r\n";
        assert_eq!(values(vals, "image.tag"), [(3, "v0.3.1".to_string())]);
        assert_eq!(values(vals, "*.image.tag"), [(6, "1.0.0".to_string())]);
        assert_eq!(
            values("a: &x 1.2.3\nb: *x\n", "a"),
            [(1, "1.2.3".to_string())]
        );
        assert_eq!(
            values("é: 1\nv: \"1.2.3\"\n", "v"),
            [(2, "1.2.3".to_string())]
        );
        for (src, key, want) in [
            ("v: \"1\\x2e2\"\n", "v", "not a plain one-line scalar"),
            ("v: |\n  1.2.3\n", "v", "not a plain one-line scalar"),
            ("a:\n  v: 1\n  v: 2\n", "a.v", "line 3: duplicate key `v`"),
            ("a: [1,\n", "a", "invalid YAML at line"),
        ] {
            let e = find(src, key).unwrap_err();
            assert!(e.contains(want), "{src:?}: {e}");
        }
        // A duplicate elsewhere is not this editor's business.
        assert_eq!(values("x: 1\nx: 2\nv: 3\n", "v").len(), 1);
    }

    #[test]
    fn property_bytes_outside_the_span_stay() {
        let mut rng = crate::testutil::Rng::new(3);
        for _ in 0..300 {
            let nl = ["\n", "\r\n"][rng.below(2)];
            let q = ["", "'", "\""][rng.below(3)];
            let mut lines = vec![format!("  tag: {q}1.2.3{q}")];
            for l in [
                "  repository: ghcr.io/o/app",
                "  # tag: 1.2.3",
                "  pullPolicy: IfNotPresent",
            ] {
                if rng.below(2) == 0 {
                    lines.insert(rng.below(lines.len() + 1), l.to_string());
                }
            }
            let mut src = format!("# values{nl}image:{nl}{}", lines.join(nl));
            if rng.below(2) == 0 {
                src.push_str(&format!("{nl}other: 1.2.3"));
            }
            if rng.below(2) == 0 {
                src.push_str(nl);
            }
            let s = find(&src, "image.tag").unwrap().remove(0);
            let out = crate::edit::splice(
                &src,
                &[crate::edit::Replacement::new(s.range.clone(), "2.0.0")],
            );
            assert_eq!(&out[..s.range.start], &src[..s.range.start]);
            assert_eq!(&out[s.range.start + 5..], &src[s.range.end..]);
            assert_eq!(values(&out, "image.tag")[0].1, "2.0.0");
        }
    }
}
