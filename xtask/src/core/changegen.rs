//! The generated changelog (pure): commits → entries → Keep a Changelog sections, rendered as
//! Markdown, JSON or HTML.
//!
//! Mapping: `feat` → Added; `fix` → Fixed; `perf`, `refactor`, reverts → Changed; `!` or a
//! BREAKING CHANGE footer → the **Breaking changes** section, listed first; other conventional
//! types (docs, chore, ci, test, build, style) are not user-facing and are left out;
//! non-conventional messages go under Other (configurable off). A revert and the commit it
//! reverts, both in the same release, cancel out.

use std::collections::HashMap;

use semver::Version;
use serde_json::{json, Value as Json};

use crate::conventional::{self, Commit, Kind};

pub const BREAKING: &str = "Breaking changes";
/// One commit as read from git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCommit {
    pub hash: String,
    pub parents: usize,
    pub author: String,
    pub email: String,
    /// Author date, YYYY-MM-DD.
    pub date: String,
    pub message: String,
}

/// Section titles in output order.
pub const SECTIONS: &[&str] = &[BREAKING, "Added", "Changed", "Fixed", "Other"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub hash: String,
    pub author: String,
    pub date: String,
    pub commit: Commit,
}

impl Entry {
    pub fn short(&self) -> &str {
        &self.hash[..self.hash.len().min(7)]
    }

    /// The section this entry belongs to, or None when it is left out.
    pub fn section(&self, include_other: bool) -> Option<&'static str> {
        if self.commit.breaking {
            return Some(BREAKING);
        }
        match &self.commit.kind {
            Kind::Typed(t) => match t.as_str() {
                "feat" => Some("Added"),
                "fix" => Some("Fixed"),
                "perf" | "refactor" => Some("Changed"),
                _ => None,
            },
            Kind::Revert => Some("Changed"),
            Kind::Other => include_other.then_some("Other"),
        }
    }
}

/// One release (or the unreleased range) of the generated changelog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    /// None for unreleased changes.
    pub version: Option<Version>,
    pub tag: Option<String>,
    pub date: Option<String>,
    /// The release before this one (for compare links), when known.
    pub previous_tag: Option<String>,
    pub entries: Vec<Entry>,
    /// Non-merge commits in the range, listed or not.
    pub commit_count: usize,
    /// Authors in order of first appearance (newest first).
    pub contributors: Vec<String>,
}

/// Collects commits (newest first) into a [`Release`], dropping noise and cancelling reverts.
#[derive(Debug, Default)]
pub struct Collector {
    release: Release,
    /// Reverted hash → index of the revert entry.
    reverts: HashMap<String, usize>,
    cancelled: Vec<usize>,
}

impl Collector {
    pub fn new(version: Option<Version>, tag: Option<String>, date: Option<String>) -> Collector {
        Collector {
            release: Release {
                version,
                tag,
                date,
                ..Release::default()
            },
            ..Collector::default()
        }
    }

    pub fn push(&mut self, raw: RawCommit) {
        if raw.parents > 1 || conventional::is_noise(&raw.message) {
            return;
        }
        self.release.commit_count += 1;
        if !self.release.contributors.contains(&raw.author) {
            self.release.contributors.push(raw.author.clone());
        }
        // The commit reverted by a newer revert in this release: both go.
        if let Some(idx) = self
            .reverts
            .iter()
            .find(|(h, _)| raw.hash.starts_with(h.as_str()))
            .map(|(_, i)| *i)
        {
            self.cancelled.push(idx);
            return;
        }
        let commit = conventional::parse(&raw.message);
        if let Some(h) = &commit.reverts {
            self.reverts.insert(h.clone(), self.release.entries.len());
        }
        self.release.entries.push(Entry {
            hash: raw.hash,
            author: raw.author,
            date: raw.date,
            commit,
        });
    }

    pub fn finish(mut self) -> Release {
        self.cancelled.sort_unstable();
        for idx in self.cancelled.into_iter().rev() {
            self.release.entries.remove(idx);
        }
        self.release
    }
}

#[derive(Debug, Clone, Default)]
pub struct Style {
    pub include_other: bool,
    /// `https://github.com/o/r`: entries link their commit and refs when known.
    pub repo_url: Option<String>,
}

/// Entries grouped into sections, in output order; empty sections omitted.
pub fn sections<'a>(r: &'a Release, style: &Style) -> Vec<(&'static str, Vec<&'a Entry>)> {
    let mut out: Vec<(&'static str, Vec<&Entry>)> =
        SECTIONS.iter().map(|s| (*s, Vec::new())).collect();
    for e in &r.entries {
        if let Some(s) = e.section(style.include_other) {
            if let Some((_, list)) = out.iter_mut().find(|(t, _)| *t == s) {
                list.push(e);
            }
        }
    }
    out.retain(|(_, l)| !l.is_empty());
    out
}

/// The bullet text of an entry (without the leading `- `).
pub fn bullet(e: &Entry, style: &Style) -> String {
    let mut s = String::new();
    if let Some(scope) = &e.commit.scope {
        s.push_str(&format!("**{scope}:** "));
    }
    if e.commit.kind == Kind::Revert {
        s.push_str(&format!("revert “{}”", e.commit.subject));
    } else {
        s.push_str(&e.commit.subject);
    }
    match &style.repo_url {
        Some(url) => {
            s.push_str(&format!(" ([{}]({url}/commit/{}))", e.short(), e.hash));
            let refs: Vec<String> = e
                .commit
                .refs
                .iter()
                .filter(|n| !e.commit.subject.contains(&format!("#{n}")))
                .map(|n| format!("[#{n}]({url}/issues/{n})"))
                .collect();
            if !refs.is_empty() {
                s.push_str(&format!(", {}", refs.join(", ")));
            }
        }
        None => {
            s.push_str(&format!(" ({})", e.short()));
            let refs: Vec<String> = e
                .commit
                .refs
                .iter()
                .filter(|n| !e.commit.subject.contains(&format!("#{n}")))
                .map(|n| format!("#{n}"))
                .collect();
            if !refs.is_empty() {
                s.push_str(&format!(", {}", refs.join(", ")));
            }
        }
    }
    if e.commit.breaking {
        for note in &e.commit.breaking_notes {
            if note != &e.commit.subject {
                s.push_str(&format!("\n  {}", note.replace('\n', "\n  ")));
            }
        }
    }
    s
}

/// `## [1.2.3] - 2026-01-01` / `## [Unreleased]`.
pub fn heading(r: &Release) -> String {
    match (&r.version, &r.date) {
        (Some(v), Some(d)) if !d.is_empty() => format!("[{v}] - {d}"),
        (Some(v), _) => format!("[{v}]"),
        (None, _) => "[Unreleased]".to_string(),
    }
}

/// Markdown for one release: `## heading`, then `### Section` blocks.
pub fn render_md(r: &Release, style: &Style, out: &mut String) {
    out.push_str(&format!("## {}\n\n", heading(r)));
    render_body_md(r, style, out);
}

/// The `### Section` blocks of one release, without its heading (release notes of a
/// repository that keeps no changelog).
pub fn render_body_md(r: &Release, style: &Style, out: &mut String) {
    for (title, entries) in sections(r, style) {
        out.push_str(&format!("### {title}\n\n"));
        for e in entries {
            out.push_str(&format!("- {}\n", bullet(e, style)));
        }
        out.push('\n');
    }
}

/// The JSON form of one release (schema in the README).
pub fn render_json(r: &Release, style: &Style) -> Json {
    json!({
        "version": r.version.as_ref().map(|v| v.to_string()),
        "tag": r.tag,
        "date": r.date,
        "previous_tag": r.previous_tag,
        "commit_count": r.commit_count,
        "contributors": r.contributors,
        "sections": sections(r, style).iter().map(|(title, entries)| json!({
            "title": title,
            "entries": entries.iter().map(|e| json!({
                "hash": e.hash,
                "short": e.short(),
                "type": e.commit.type_name().unwrap_or(match e.commit.kind { Kind::Revert => "revert", _ => "other" }),
                "scope": e.commit.scope,
                "subject": e.commit.subject,
                "breaking": e.commit.breaking,
                "breaking_notes": if e.commit.breaking { e.commit.breaking_notes.clone() } else { Vec::new() },
                "refs": e.commit.refs,
                "author": e.author,
                "date": e.date,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub const HTML_HEAD: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Changelog</title>\n<style>\n\
body{font:16px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;color:#222}\n\
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}h3{margin-bottom:.3rem}\n\
code,.hash{font-family:ui-monospace,monospace;font-size:.9em}.scope{font-weight:600}\n\
.breaking{color:#b00020}.note{color:#555;white-space:pre-wrap}\n</style>\n</head>\n<body>\n<h1>Changelog</h1>\n";
pub const HTML_TAIL: &str = "</body>\n</html>\n";

/// HTML for one release (a `<section>`).
pub fn render_html(r: &Release, style: &Style, out: &mut String) {
    out.push_str(&format!(
        "<section>\n<h2>{}</h2>\n",
        html_escape(&heading(r))
    ));
    for (title, entries) in sections(r, style) {
        let class = if title == BREAKING {
            " class=\"breaking\""
        } else {
            ""
        };
        out.push_str(&format!("<h3{class}>{}</h3>\n<ul>\n", html_escape(title)));
        for e in entries {
            out.push_str("<li>");
            if let Some(scope) = &e.commit.scope {
                out.push_str(&format!(
                    "<span class=\"scope\">{}:</span> ",
                    html_escape(scope)
                ));
            }
            out.push_str(&html_escape(&e.commit.subject));
            match &style.repo_url {
                Some(url) => out.push_str(&format!(
                    " (<a class=\"hash\" href=\"{}/commit/{}\">{}</a>)",
                    html_escape(url),
                    e.hash,
                    e.short()
                )),
                None => out.push_str(&format!(" (<span class=\"hash\">{}</span>)", e.short())),
            }
            if e.commit.breaking {
                for note in e
                    .commit
                    .breaking_notes
                    .iter()
                    .filter(|n| **n != e.commit.subject)
                {
                    out.push_str(&format!("<div class=\"note\">{}</div>", html_escape(note)));
                }
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// The level `auto` picks: breaking → major (minor while 0.x), feat → minor, fix/perf → patch.
pub fn auto_level(r: &Release, current: &Version) -> Option<crate::version::BumpSpec> {
    use crate::conventional::Bump;
    use crate::version::BumpSpec;
    let max = r
        .entries
        .iter()
        .map(|e| e.commit.bump())
        .max()
        .unwrap_or(Bump::None);
    match max {
        Bump::Major if current.major == 0 => Some(BumpSpec::Minor),
        Bump::Major => Some(BumpSpec::Major),
        Bump::Minor => Some(BumpSpec::Minor),
        Bump::Patch => Some(BumpSpec::Patch),
        Bump::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(hash: &str, msg: &str) -> RawCommit {
        RawCommit {
            hash: hash.into(),
            parents: 1,
            author: "Ann".into(),
            email: "ann@example.com".into(),
            date: "2026-11-20".into(),
            message: msg.into(),
        }
    }

    fn collect(msgs: &[(&str, &str)]) -> Release {
        let mut c = Collector::new(
            Some(Version::new(1, 3, 0)),
            Some("v1.3.0".into()),
            Some("2026-11-21".into()),
        );
        for (h, m) in msgs {
            c.push(raw(h, m));
        }
        c.finish()
    }

    #[test]
    fn markdown_sections_in_order_with_links() {
        let r = collect(&[
            ("1111111aaaa", "fix(api): handle empty body (#12)"),
            ("2222222bbbb", "feat: add /version\n\nCloses #7"),
            ("3333333cccc", "docs: typo"),
            (
                "4444444dddd",
                "feat(config)!: rename port\n\nBREAKING CHANGE: `port` is now `listen`",
            ),
            ("5555555eeee", "tidy things up"),
            ("6666666ffff", "perf: cache lookups"),
        ]);
        let style = Style {
            include_other: true,
            repo_url: Some("https://github.com/acme/app".into()),
        };
        let mut md = String::new();
        render_md(&r, &style, &mut md);
        expect_test::expect![[r#"
            ## [1.3.0] - 2026-11-21

            ### Breaking changes

            - **config:** rename port ([4444444](https://github.com/acme/app/commit/4444444dddd))
              `port` is now `listen`

            ### Added

            - add /version ([2222222](https://github.com/acme/app/commit/2222222bbbb)), [#7](https://github.com/acme/app/issues/7)

            ### Changed

            - cache lookups ([6666666](https://github.com/acme/app/commit/6666666ffff))

            ### Fixed

            - **api:** handle empty body (#12) ([1111111](https://github.com/acme/app/commit/1111111aaaa))

            ### Other

            - tidy things up ([5555555](https://github.com/acme/app/commit/5555555eeee))

        "#]]
        .assert_eq(&md);
        assert_eq!(r.commit_count, 6);
        let no_other = Style {
            include_other: false,
            repo_url: None,
        };
        assert!(sections(&r, &no_other).iter().all(|(t, _)| *t != "Other"));
        assert_eq!(
            bullet(&r.entries[0], &no_other),
            "**api:** handle empty body (#12) (1111111)"
        );
    }

    #[test]
    fn revert_and_reverted_cancel_out_merges_and_noise_are_skipped() {
        let mut c = Collector::new(None, None, None);
        c.push(raw(
            "aaaaaaa1",
            "Revert \"feat: flaky thing\"\n\nThis reverts commit bbbbbbb2cccc.\n",
        ));
        c.push(RawCommit {
            parents: 2,
            ..raw("ccccccc3", "Merge branch 'x'")
        });
        c.push(raw("ddddddd4", "fixup! feat: other"));
        c.push(raw("bbbbbbb2cccc", "feat: flaky thing"));
        c.push(raw(
            "eeeeeee5",
            "Revert \"fix: older\"\n\nThis reverts commit 9999999999.\n",
        ));
        let r = c.finish();
        let subjects: Vec<&str> = r
            .entries
            .iter()
            .map(|e| e.commit.subject.as_str())
            .collect();
        assert_eq!(subjects, ["fix: older"]);
        assert_eq!(r.commit_count, 3, "merge and fixup are not counted");
    }

    #[test]
    fn json_and_html() {
        let r = collect(&[("1111111aaaa", "feat(ui): <b>bold</b> & more")]);
        let style = Style::default();
        let j = render_json(&r, &style);
        assert_eq!(j["version"], "1.3.0");
        assert_eq!(j["sections"][0]["title"], "Added");
        assert_eq!(j["sections"][0]["entries"][0]["scope"], "ui");
        assert_eq!(j["sections"][0]["entries"][0]["type"], "feat");
        let mut html = String::new();
        render_html(&r, &style, &mut html);
        assert!(
            html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; more"),
            "{html}"
        );
        assert!(!html.contains("<b>"));
    }
}
