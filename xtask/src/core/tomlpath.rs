//! A TOML key path (`tool.bumpversion.current_version`) with `toml_edit`, which keeps source
//! spans: the bytes inside the string's quotes are the span.

use crate::edit::line_of;
use crate::versioned::Span;

/// Splits `a."b.c".d` into its keys.
pub fn split_key(key: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in key.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, '.') => out.push(std::mem::take(&mut cur)),
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("key path `{key}` has an unclosed quote"));
    }
    out.push(cur);
    if out.iter().any(|k| k.trim().is_empty()) {
        return Err(format!("key path `{key}` has an empty part"));
    }
    Ok(out.into_iter().map(|k| k.trim().to_string()).collect())
}

/// The span of the string at `key` (none when absent). Errors: invalid TOML, a non-string value,
/// a string with escapes.
pub fn find(src: &str, key: &str) -> Result<Vec<Span>, String> {
    let parts = split_key(key)?;
    let doc = toml_edit::Document::parse(src).map_err(|e| crate::pyproject::toml_error(&e))?;
    let mut item = doc.as_item();
    for p in &parts {
        match item.get(p.as_str()) {
            Some(i) => item = i,
            None => return Ok(Vec::new()),
        }
    }
    let Some(value) = item.as_str() else {
        return Err(format!("`{key}` must be a string like \"1.2.3\""));
    };
    let span = item
        .span()
        .ok_or_else(|| format!("internal error: no source span for `{key}`"))?;
    let repr = &src[span.clone()];
    let q = if repr.starts_with("\"\"\"") || repr.starts_with("'''") {
        3
    } else {
        1
    };
    let range = span.start + q..span.end - q;
    if src.get(range.clone()) != Some(value) {
        return Err(format!(
            "line {}: `{key}` = {repr} uses escapes or line breaks; write it as a plain string like \"1.2.3\"",
            line_of(src, span.start)
        ));
    }
    Ok(vec![Span {
        line: line_of(src, span.start),
        range,
        location: key.to_string(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "[tool.bumpversion]\ncurrent_version = \"1.2.3\"\n",
                "tool.bumpversion.current_version",
                Some("1.2.3"),
            ),
            ("a = { \"b.c\" = '1.2.3' }\r\n", "a.\"b.c\"", Some("1.2.3")),
            ("[x]\ny = 1\n", "x.z", None),
        ];
        for (src, key, want) in cases {
            let got = find(src, key).unwrap();
            assert_eq!(got.first().map(|s| &src[s.range.clone()]), *want, "{src:?}");
        }
        assert!(find("[x]\ny = 1\n", "x.y")
            .unwrap_err()
            .contains("must be a string"));
        assert!(find("[x\n", "x").unwrap_err().contains("invalid TOML"));
        assert!(split_key("a..b").is_err());
    }

    #[test]
    fn property_bytes_outside_the_span_stay() {
        let mut rng = crate::testutil::Rng::new(7);
        let fill = ["# c 1.2.3\n", "other = \"1.2.3\"\n", "\n", "n = 3 # x\n"];
        for _ in 0..300 {
            let nl = ["\n", "\r\n"][rng.below(2)];
            let mut src = String::new();
            for f in fill.iter().filter(|_| rng.below(2) == 0) {
                src.push_str(&f.replace('\n', nl));
            }
            src.push_str(&format!("[tool.x]{nl}current = \"1.2.3\""));
            if rng.below(2) == 0 {
                src.push_str(&format!("  # keep{nl}tail = 1"));
            }
            let s = find(&src, "tool.x.current").unwrap().remove(0);
            let out = crate::edit::splice(
                &src,
                &[crate::edit::Replacement::new(s.range.clone(), "9.9.9")],
            );
            assert_eq!(&out[..s.range.start], &src[..s.range.start]);
            assert_eq!(&out[s.range.start + 5..], &src[s.range.end..]);
            assert_eq!(
                &out[find(&out, "tool.x.current").unwrap()[0].range.clone()],
                "9.9.9"
            );
        }
    }
}
