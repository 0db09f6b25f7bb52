//! A YAML key path (`appVersion`, `image.tag`, `*` for every key or element) in a YAML file:
//! the scalar's bytes (inside any quotes) are the span.
//!
//! Positions come from the YAML parser the compose editor uses today (saphyr's events with
//! spans); this module shares nothing else with `compose.rs`, so the parser can be swapped here
//! alone. Duplicate keys on the path are refused: which one counts would be a guess.

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::core::edit::line_of;
use crate::core::versioned::Span;

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
    let chars: Option<Vec<usize>> =
        (!src.is_ascii()).then(|| src.char_indices().map(|(i, _)| i).collect());
    let byte = |ci: usize| match &chars {
        None => ci.min(src.len()),
        Some(t) => t.get(ci).copied().unwrap_or(src.len()),
    };
    let prefix_ok = |path: &[String]| {
        path.len() <= want.len() && path.iter().zip(&want).all(|(p, w)| *w == "*" || p == w)
    };
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for item in Parser::new_from_str(src) {
        let (event, span) = item.map_err(|e| {
            format!(
                "invalid YAML at line {}, column {}: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            )
        })?;
        // The path of the node this event starts, if it is a value (not a key).
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
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) | Event::DocumentEnd => stack.clear(),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::MappingStart(..) => {
                let path = node_path(&mut stack).unwrap_or_else(|| vec!["\u{0}complex key".into()]);
                stack.push(Frame::Map {
                    key: None,
                    seen: Vec::new(),
                    path,
                });
            }
            Event::SequenceStart(..) => {
                let path = node_path(&mut stack).unwrap_or_else(|| vec!["\u{0}complex key".into()]);
                stack.push(Frame::Seq { n: 0, path });
            }
            Event::Alias(_) => {
                node_path(&mut stack);
            }
            Event::Scalar(value, style, _, _) => {
                if let Some(Frame::Map {
                    key: k @ None,
                    seen,
                    path,
                }) = stack.last_mut()
                {
                    let mut p = path.clone();
                    p.push(value.to_string());
                    if seen.iter().any(|s| s == value.as_ref()) && prefix_ok(&p) {
                        return Err(format!(
                            "line {}: duplicate key `{value}`; remove one of them",
                            line_of(src, byte(span.start.index()))
                        ));
                    }
                    seen.push(value.to_string());
                    *k = Some(value.into_owned());
                    continue;
                }
                let Some(path) = node_path(&mut stack) else {
                    continue;
                };
                if path.len() != want.len() || !prefix_ok(&path) {
                    continue;
                }
                let start = byte(span.start.index());
                let range = locate(src, start, style, &value).ok_or_else(|| {
                    format!(
                        "line {}: `{}` is not a plain one-line scalar (escapes, line breaks or a block scalar); \
                         write it as a plain value like 1.2.3",
                        line_of(src, start),
                        path.join(".")
                    )
                })?;
                out.push(Span {
                    line: line_of(src, range.start),
                    range,
                    location: path.join("."),
                });
            }
            Event::Nothing | Event::StreamStart => {}
        }
    }
    Ok(out)
}

/// The bytes of `value` in the source, after any anchor or tag.
fn locate(
    src: &str,
    start: usize,
    style: ScalarStyle,
    value: &str,
) -> Option<std::ops::Range<usize>> {
    let b = src.as_bytes();
    let mut i = start;
    loop {
        match b.get(i) {
            Some(b'&' | b'!') => {
                while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                    i += 1;
                }
            }
            Some(b' ' | b'\t') => i += 1,
            _ => break,
        }
    }
    let open = match style {
        ScalarStyle::Plain => i,
        ScalarStyle::SingleQuoted if b.get(i) == Some(&b'\'') => i + 1,
        ScalarStyle::DoubleQuoted if b.get(i) == Some(&b'"') => i + 1,
        _ => return None,
    };
    let end = open + value.len();
    let fits = src.get(open..end) == Some(value) && !value.contains(['\n', '\\']);
    let closed = match style {
        ScalarStyle::Plain => true,
        ScalarStyle::SingleQuoted => b.get(end) == Some(&b'\''),
        _ => b.get(end) == Some(&b'"'),
    };
    (fits && closed && !value.is_empty()).then_some(open..end)
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
        let mut rng = crate::core::testutil::Rng::new(3);
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
            let out = crate::core::edit::splice(
                &src,
                &[crate::core::edit::Replacement::new(
                    s.range.clone(),
                    "2.0.0",
                )],
            );
            assert_eq!(&out[..s.range.start], &src[..s.range.start]);
            assert_eq!(&out[s.range.start + 5..], &src[s.range.end..]);
            assert_eq!(values(&out, "image.tag")[0].1, "2.0.0");
        }
    }
}
