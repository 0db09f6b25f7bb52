//! A JSON pointer (RFC 6901, plus `*` for every member or element) in a JSON file, with a small
//! span-keeping parser: the bytes inside the matched string's quotes are the span. Duplicate keys
//! are refused (which one counts would be a guess).

use crate::edit::line_of;
use crate::versioned::Span;

/// Splits `/a/b~1c/0` into its reference tokens (`~1` → `/`, `~0` → `~`).
pub fn split_pointer(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "JSON pointer `{pointer}` must start with `/` (e.g. \"/version\")"
        ));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// Every string the pointer matches. Errors: invalid JSON (with line), a matched value that is not
/// a plain string.
pub fn find(src: &str, pointer: &str) -> Result<Vec<Span>, String> {
    let want = split_pointer(pointer)?;
    let mut p = P {
        s: src.as_bytes(),
        i: 0,
        src,
        want: &want,
        out: Vec::new(),
        path: Vec::new(),
    };
    p.ws();
    p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("unexpected text after the JSON value"));
    }
    Ok(p.out)
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    src: &'a str,
    want: &'a [String],
    out: Vec<Span>,
    path: Vec<String>,
}

impl P<'_> {
    fn err(&self, what: &str) -> String {
        let line = line_of(self.src, self.i);
        let col = self.i
            - self.src[..self.i.min(self.src.len())]
                .rfind('\n')
                .map_or(0, |n| n + 1)
            + 1;
        format!("invalid JSON at line {line}, column {col}: {what}")
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn matches(&self) -> bool {
        self.path.len() == self.want.len()
            && self
                .path
                .iter()
                .zip(self.want)
                .all(|(p, w)| w == "*" || p == w)
    }
    /// Could a descendant of the current path match?
    fn on_the_way(&self) -> bool {
        self.path.len() < self.want.len()
            && self
                .path
                .iter()
                .zip(self.want)
                .all(|(p, w)| w == "*" || p == w)
    }
    fn value(&mut self) -> Result<(), String> {
        match self.s.get(self.i) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => {
                let start = self.i;
                let (raw, escaped) = self.string()?;
                if self.matches() {
                    if escaped {
                        return Err(format!(
                            "line {}: `{}` uses escapes; write it as a plain string like \"1.2.3\"",
                            line_of(self.src, start),
                            self.location()
                        ));
                    }
                    self.out.push(Span {
                        range: raw,
                        line: line_of(self.src, start),
                        location: self.location(),
                    });
                }
                Ok(())
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len()
                    && !matches!(
                        self.s[self.i],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.i += 1;
                }
                let lit = &self.src[start..self.i];
                let ok = matches!(lit, "true" | "false" | "null")
                    || (!lit.is_empty()
                        && lit
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)));
                if !ok {
                    self.i = start;
                    return Err(self.err("expected a JSON value"));
                }
                if self.matches() {
                    return Err(format!(
                        "line {}: `{}` is {lit}, not a string; versions are strings like \"1.2.3\"",
                        line_of(self.src, start),
                        self.location()
                    ));
                }
                Ok(())
            }
            None => Err(self.err("unexpected end of file")),
        }
    }
    fn location(&self) -> String {
        self.path
            .iter()
            .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
            .collect()
    }
    /// The range inside the quotes, and whether it contains escapes.
    fn string(&mut self) -> Result<(std::ops::Range<usize>, bool), String> {
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            match self.s.get(self.i) {
                None | Some(b'\n') => return Err(self.err("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.i += 2;
                }
                Some(_) => self.i += 1,
            }
        }
        let r = start..self.i;
        self.i += 1;
        Ok((r, escaped))
    }
    fn object(&mut self) -> Result<(), String> {
        self.i += 1;
        let mut seen: Vec<String> = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.err("expected a string key"));
            }
            let key_at = self.i;
            let (r, _) = self.string()?;
            let key = self.src[r].to_string();
            let dup = seen.contains(&key);
            seen.push(key.clone());
            self.path.push(key.clone());
            if dup && (self.matches() || self.on_the_way()) {
                return Err(format!(
                    "line {}: duplicate key `{key}` in one object; remove one of them",
                    line_of(self.src, key_at)
                ));
            }
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.err("expected `:`"));
            }
            self.i += 1;
            self.ws();
            self.value()?;
            self.path.pop();
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected `,` or `}`")),
            }
        }
    }
    fn array(&mut self) -> Result<(), String> {
        self.i += 1;
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(());
        }
        let mut n = 0;
        loop {
            self.ws();
            self.path.push(n.to_string());
            self.value()?;
            self.path.pop();
            n += 1;
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected `,` or `]`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(src: &str, ptr: &str) -> Vec<String> {
        find(src, ptr)
            .unwrap()
            .iter()
            .map(|s| src[s.range.clone()].to_string())
            .collect()
    }

    #[test]
    fn table() {
        let server = "{\n  \"name\": \"io.github.o/r\",\n  \"version\": \"0.3.1\",\n  \"packages\": [\n    {\"registry\": \"pypi\", \"version\": \"0.3.1\"},\n    {\"registry\": \"oci\", \"version\": \"0.3.1\"}\n  ]\n}";
        assert_eq!(values(server, "/version"), ["0.3.1"]);
        assert_eq!(values(server, "/packages/*/version"), ["0.3.1", "0.3.1"]);
        assert_eq!(values(server, "/packages/1/version"), ["0.3.1"]);
        assert_eq!(find(server, "/packages/1/version").unwrap()[0].line, 6);
        assert_eq!(
            find(server, "/packages/1/version").unwrap()[0].location,
            "/packages/1/version"
        );
        assert_eq!(values(server, "/nope"), Vec::<String>::new());
        assert_eq!(values("{\"a/b\": {\"~\": \"1\"}}", "/a~1b/~0"), ["1"]);
        for (src, ptr, want) in [
            ("{\"version\": 1}", "/version", "not a string"),
            ("{\"version\": \"1\\u002e2\"}", "/version", "uses escapes"),
            (
                "{\"version\": \"1\",\n \"version\": \"2\"}",
                "/version",
                "line 2: duplicate key",
            ),
            ("{\"a\": }", "/a", "invalid JSON at line 1, column 7"),
            ("{\"a\": 1", "/b", "invalid JSON"),
            ("{}", "version", "must start with `/`"),
        ] {
            let e = find(src, ptr).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
        }
    }

    #[test]
    fn property_bytes_outside_the_span_stay() {
        let mut rng = crate::testutil::Rng::new(11);
        for _ in 0..300 {
            let nl = ["\n", "\r\n", ""][rng.below(3)];
            let ind = ["", "  ", "\t"][rng.below(3)];
            let mut members = vec![format!("{ind}\"version\": \"1.2.3\"")];
            for m in [
                "\"dep\": \"1.2.3\"",
                "\"n\": 1.5e3",
                "\"l\": [true, null, \"1.2.3\"]",
                "\"o\": {\"version\": \"1.2.3\"}",
            ] {
                if rng.below(2) == 0 {
                    members.insert(rng.below(members.len() + 1), format!("{ind}{m}"));
                }
            }
            let mut src = format!("{{{nl}{}{nl}}}", members.join(&format!(",{nl}")));
            if rng.below(2) == 0 {
                src.push_str(nl);
            }
            let s = find(&src, "/version").unwrap().remove(0);
            let out = crate::edit::splice(
                &src,
                &[crate::edit::Replacement::new(s.range.clone(), "10.0.0")],
            );
            assert_eq!(&out[..s.range.start], &src[..s.range.start]);
            assert_eq!(&out[s.range.start + 6..], &src[s.range.end..]);
            assert_eq!(values(&out, "/version"), ["10.0.0"]);
        }
    }
}
