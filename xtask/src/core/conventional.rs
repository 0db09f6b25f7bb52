//! Conventional Commits 1.0.0, parsed from real-world messages (pure).
//!
//! `type(scope)!: subject`, a body, and footers (`BREAKING CHANGE: …`, `BREAKING-CHANGE: …`,
//! `Refs: #12`, `Closes #34`). Reverts come as `revert: …` or git's `Revert "…"` with
//! "This reverts commit <hash>.". Messages that do not follow the format are kept as
//! [`Kind::Other`] so a changelog can list them under "Other".

/// What a commit contributes to a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A conventional commit of this type (lowercase: feat, fix, perf, docs, …).
    Typed(String),
    /// A revert of another commit.
    Revert,
    /// Not conventional.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub kind: Kind,
    pub scope: Option<String>,
    pub subject: String,
    /// `!` in the header or a BREAKING CHANGE footer.
    pub breaking: bool,
    /// The text of BREAKING CHANGE footers (migration notes), or the subject for a bare `!`.
    pub breaking_notes: Vec<String>,
    /// Issue and PR references, `#123`, in order of appearance, without duplicates.
    pub refs: Vec<u64>,
    /// For reverts: the reverted commit's hash when the message names it.
    pub reverts: Option<String>,
    /// The body (without the header and the footers), trimmed.
    pub body: String,
}

impl Commit {
    pub fn type_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Typed(t) => Some(t),
            _ => None,
        }
    }

    /// The bump this commit asks for.
    pub fn bump(&self) -> Bump {
        if self.breaking {
            return Bump::Major;
        }
        match self.type_name() {
            Some("feat") => Bump::Minor,
            Some("fix" | "perf") => Bump::Patch,
            _ if self.kind == Kind::Revert => Bump::Patch,
            _ => Bump::None,
        }
    }
}

/// Commits that never belong in a changelog: merges (detected by the caller from parents),
/// `fixup!`/`squash!`/`amend!` commits, and merge messages of single-parent imports.
pub fn is_noise(message: &str) -> bool {
    let first = message.lines().next().unwrap_or("").trim();
    first.is_empty()
        || ["fixup! ", "squash! ", "amend! "]
            .iter()
            .any(|p| first.starts_with(p))
        || first.starts_with("Merge pull request #")
        || first.starts_with("Merge branch '")
        || first.starts_with("Merge remote-tracking branch '")
}

pub fn parse(message: &str) -> Commit {
    let message = message.replace("\r\n", "\n");
    let mut lines = message.trim_matches('\n').lines();
    let header = lines.next().unwrap_or("").trim().to_string();
    let rest: Vec<&str> = lines.collect();
    let (body, footers) = split_footers(&rest);

    let mut commit = Commit {
        kind: Kind::Other,
        scope: None,
        subject: header.clone(),
        breaking: false,
        breaking_notes: Vec::new(),
        refs: Vec::new(),
        reverts: None,
        body: body.trim().to_string(),
    };

    if let Some(inner) = header
        .strip_prefix("Revert \"")
        .and_then(|h| h.strip_suffix('"'))
    {
        // git revert's default message.
        commit.kind = Kind::Revert;
        commit.subject = inner.to_string();
    } else if let Some((ty, scope, bang, subject)) = parse_header(&header) {
        commit.kind = if ty == "revert" {
            Kind::Revert
        } else {
            Kind::Typed(ty)
        };
        commit.scope = scope;
        commit.subject = subject;
        if bang {
            commit.breaking = true;
        }
    }

    for (token, value) in &footers {
        if token == "BREAKING CHANGE" || token == "BREAKING-CHANGE" {
            commit.breaking = true;
            commit.breaking_notes.push(value.trim().to_string());
        }
    }
    if commit.breaking && commit.breaking_notes.is_empty() {
        commit.breaking_notes.push(commit.subject.clone());
    }
    if commit.kind == Kind::Revert {
        commit.reverts = find_reverted_hash(&message);
    }

    // References: subject, body and footers.
    let mut refs = Vec::new();
    collect_refs(&commit.subject, &mut refs);
    collect_refs(&commit.body, &mut refs);
    for (_, value) in &footers {
        collect_refs(value, &mut refs);
    }
    commit.refs = refs;
    commit
}

/// `type(scope)!: subject` → (type, scope, breaking, subject).
fn parse_header(header: &str) -> Option<(String, Option<String>, bool, String)> {
    let colon = header.find(':')?;
    let (prefix, subject) = (&header[..colon], header[colon + 1..].trim());
    if subject.is_empty() {
        return None;
    }
    let (prefix, bang) = match prefix.strip_suffix('!') {
        Some(p) => (p, true),
        None => (prefix, false),
    };
    let (ty, scope) = match prefix.find('(') {
        Some(open) => {
            let close = prefix.strip_suffix(')')?;
            let scope = close[open + 1..].trim();
            if scope.is_empty() || scope.contains(['(', ')']) {
                return None;
            }
            (&prefix[..open], Some(scope.to_string()))
        }
        None => (prefix, None),
    };
    if ty.is_empty() || ty.len() > 20 || !ty.chars().all(|c| c.is_ascii_alphabetic() || c == '-') {
        return None;
    }
    Some((ty.to_ascii_lowercase(), scope, bang, subject.to_string()))
}

/// Splits the lines after the header into the body and the trailing footer block.
fn split_footers(rest: &[&str]) -> (String, Vec<(String, String)>) {
    // The footer block is the last paragraph, if its first line is a footer.
    let last_blank = rest.iter().rposition(|l| l.trim().is_empty());
    let start = last_blank.map_or(0, |i| i + 1);
    let para = &rest[start..];
    if para.is_empty() || footer_token(para[0]).is_none() {
        return (rest.join("\n"), Vec::new());
    }
    let mut footers: Vec<(String, String)> = Vec::new();
    for line in para {
        match footer_token(line) {
            Some((token, value)) => footers.push((token, value)),
            None => {
                if let Some(last) = footers.last_mut() {
                    last.1.push('\n');
                    last.1.push_str(line);
                }
            }
        }
    }
    (rest[..start].join("\n"), footers)
}

/// `Token: value` or `Token #value` (git trailer convention); `BREAKING CHANGE` has a space.
fn footer_token(line: &str) -> Option<(String, String)> {
    for breaking in ["BREAKING CHANGE", "BREAKING-CHANGE"] {
        if let Some(v) = line
            .strip_prefix(breaking)
            .and_then(|r| r.strip_prefix(':'))
        {
            return Some((breaking.to_string(), v.trim().to_string()));
        }
    }
    let (token, value) = if let Some(i) = line.find(": ") {
        (&line[..i], line[i + 2..].to_string())
    } else if let Some(i) = line.find(" #") {
        (&line[..i], line[i + 1..].to_string())
    } else {
        return None;
    };
    let ok = !token.is_empty() && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    ok.then(|| (token.to_string(), value))
}

fn find_reverted_hash(message: &str) -> Option<String> {
    let i = message.find("This reverts commit ")?;
    let hash: String = message[i + "This reverts commit ".len()..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    (hash.len() >= 7).then_some(hash)
}

/// `#123` (not `&#123;`, not inside a word like `abc#1`).
fn collect_refs(text: &str, out: &mut Vec<u64>) {
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('#') {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'&') {
            continue;
        }
        let digits: String = text[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.is_empty() || digits.len() > 9 {
            continue;
        }
        let next = text[i + 1 + digits.len()..].chars().next();
        if next.is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        let n: u64 = digits.parse().unwrap_or(0);
        if n > 0 && !out.contains(&n) {
            out.push(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (message, type, scope, subject, breaking, refs)
    #[test]
    fn real_world_messages() {
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            &'a str,
            bool,
            &'a [u64],
        );
        let cases: &[Case] = &[
            (
                "feat: add login",
                Some("feat"),
                None,
                "add login",
                false,
                &[],
            ),
            (
                "feat(api): add /health endpoint",
                Some("feat"),
                Some("api"),
                "add /health endpoint",
                false,
                &[],
            ),
            (
                "fix(parser)!: reject tabs",
                Some("fix"),
                Some("parser"),
                "reject tabs",
                true,
                &[],
            ),
            (
                "Feat: capitalised type",
                Some("feat"),
                None,
                "capitalised type",
                false,
                &[],
            ),
            (
                "fix: handle empty input (#123)",
                Some("fix"),
                None,
                "handle empty input (#123)",
                false,
                &[123],
            ),
            (
                "perf(db)  : faster",
                None,
                None,
                "perf(db)  : faster",
                false,
                &[],
            ),
            (
                "docs: fix typo in README",
                Some("docs"),
                None,
                "fix typo in README",
                false,
                &[],
            ),
            (
                "chore(deps): bump serde from 1.0.1 to 1.0.2",
                Some("chore"),
                Some("deps"),
                "bump serde from 1.0.1 to 1.0.2",
                false,
                &[],
            ),
            (
                "Update README.md",
                None,
                None,
                "Update README.md",
                false,
                &[],
            ),
            ("WIP", None, None, "WIP", false, &[]),
            ("fix: ", None, None, "fix:", false, &[]),
            (
                "feat(): empty scope",
                None,
                None,
                "feat(): empty scope",
                false,
                &[],
            ),
            (
                "see http://x.y/z: not a type",
                None,
                None,
                "see http://x.y/z: not a type",
                false,
                &[],
            ),
            (
                "feat(ui,api): two scopes",
                Some("feat"),
                Some("ui,api"),
                "two scopes",
                false,
                &[],
            ),
            (
                "fix: a\n\nLong body about #45.\n\nCloses #45\nRefs: #46, #47",
                Some("fix"),
                None,
                "a",
                false,
                &[45, 46, 47],
            ),
            (
                "feat: new config\n\nBREAKING CHANGE: `port` is now `listen`",
                Some("feat"),
                None,
                "new config",
                true,
                &[],
            ),
            (
                "refactor!: drop Python 3.8",
                Some("refactor"),
                None,
                "drop Python 3.8",
                true,
                &[],
            ),
            (
                "fix: x\n\nBREAKING-CHANGE: y",
                Some("fix"),
                None,
                "x",
                true,
                &[],
            ),
            (
                "fix: html &#123; entity and abc#9",
                Some("fix"),
                None,
                "html &#123; entity and abc#9",
                false,
                &[],
            ),
        ];
        for (msg, ty, scope, subject, breaking, refs) in cases {
            let c = parse(msg);
            assert_eq!(c.type_name(), *ty, "{msg:?}");
            assert_eq!(c.scope.as_deref(), *scope, "{msg:?}");
            assert_eq!(c.subject, *subject, "{msg:?}");
            assert_eq!(c.breaking, *breaking, "{msg:?}");
            assert_eq!(c.refs, *refs, "{msg:?}");
        }
    }

    #[test]
    fn breaking_notes_and_body() {
        let c = parse(
            "feat(config)!: rename options\r\n\r\nThe old names were confusing.\r\n\r\nBREAKING CHANGE: `port` is now `listen`;\r\nupdate your config files.\r\nReviewed-by: Ann\r\n",
        );
        assert!(c.breaking);
        assert_eq!(
            c.breaking_notes,
            ["`port` is now `listen`;\nupdate your config files."]
        );
        assert_eq!(c.body, "The old names were confusing.");
        let bare = parse("feat!: drop v1 API");
        assert_eq!(bare.breaking_notes, ["drop v1 API"]);
    }

    #[test]
    fn reverts() {
        let c = parse("Revert \"feat: add login\"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.\n");
        assert_eq!(c.kind, Kind::Revert);
        assert_eq!(c.subject, "feat: add login");
        assert_eq!(
            c.reverts.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        let c = parse(
            "revert: let us never again speak of the noodle incident\n\nRefs: 676104e, a215868",
        );
        assert_eq!(c.kind, Kind::Revert);
        assert_eq!(c.subject, "let us never again speak of the noodle incident");
        assert_eq!(c.bump(), Bump::Patch);
    }

    #[test]
    fn bumps() {
        let cases: &[(&str, Bump)] = &[
            ("feat: a", Bump::Minor),
            ("fix: a", Bump::Patch),
            ("perf: a", Bump::Patch),
            ("docs: a", Bump::None),
            ("chore!: drop node 14", Bump::Major),
            ("fix: a\n\nBREAKING CHANGE: b", Bump::Major),
            ("random message", Bump::None),
        ];
        for (msg, want) in cases {
            assert_eq!(parse(msg).bump(), *want, "{msg}");
        }
    }

    #[test]
    fn noise() {
        for msg in [
            "fixup! feat: a",
            "squash! x",
            "Merge pull request #12 from a/b",
            "Merge branch 'main' into x",
            "",
        ] {
            assert!(is_noise(msg), "{msg:?}");
        }
        assert!(!is_noise("feat: merge two configs"));
    }
}
