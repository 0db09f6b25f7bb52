//! Changelog styles: Keep a Changelog, release-please (and conventional-changelog), commitizen,
//! plain version headings, or none. A release writes its section in the file's own style — the
//! newest version heading is the template (level, `v`, brackets, heading link, date form, em dash
//! or hyphen) and the file's own subheading names are kept — and never rewrites the history
//! below it. `detect` reads the style from a file (`init` uses it too).

use semver::Version;

use crate::changelog::{
    has_placeholders, insert_block, read_title, Changelog, GenEntry, ReleaseEdit, Section, Title,
    PLACEHOLDER,
};
use crate::edit::{line_ending, splice, Replacement};
use crate::version::{git_tag, parse_pep440, pep440};

/// `changelog-style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleName {
    KeepAChangelog,
    ReleasePlease,
    Commitizen,
    Plain,
    None,
}

impl StyleName {
    pub const ALL: [StyleName; 5] = [
        StyleName::KeepAChangelog,
        StyleName::ReleasePlease,
        StyleName::Commitizen,
        StyleName::Plain,
        StyleName::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StyleName::KeepAChangelog => "keep-a-changelog",
            StyleName::ReleasePlease => "release-please",
            StyleName::Commitizen => "commitizen",
            StyleName::Plain => "plain",
            StyleName::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<StyleName> {
        StyleName::ALL.into_iter().find(|n| n.name() == s)
    }

    /// Subheading names for the generated groups (Breaking changes, Added, Changed, Fixed,
    /// Other), when the file does not show its own.
    fn default_names(self) -> [&'static str; 5] {
        match self {
            StyleName::ReleasePlease => [
                "⚠ BREAKING CHANGES",
                "Features",
                "Code Refactoring",
                "Bug Fixes",
                "Miscellaneous",
            ],
            StyleName::Commitizen => ["BREAKING CHANGE", "Feat", "Refactor", "Fix", "Misc"],
            _ => ["Breaking changes", "Added", "Changed", "Fixed", "Other"],
        }
    }
}

/// The generated groups, in the order of their canonical names.
const GROUPS: [&str; 5] = ["Breaking changes", "Added", "Changed", "Fixed", "Other"];

/// Spellings of each group that files use (compared case-insensitively).
const ALIASES: [&[&str]; 5] = [
    &[
        "breaking changes",
        "⚠ breaking changes",
        "breaking change",
        "⚠️ breaking changes",
    ],
    &["added", "features", "feat", "new features"],
    &[
        "changed",
        "code refactoring",
        "refactor",
        "performance improvements",
        "perf",
    ],
    &["fixed", "bug fixes", "fix", "bugfixes"],
    &["other", "miscellaneous", "misc", "miscellaneous chores"],
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Wrap {
    Bare,
    Brackets,
    /// `[1.2.3](url)`.
    Link(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DateForm {
    None,
    /// The separator before the date as written (` - `, ` — `).
    Sep(String),
    /// ` (date)`.
    Paren,
}

/// The form of a version heading.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Form {
    level: usize,
    /// Written before the version (`v`).
    prefix: String,
    pep440: bool,
    wrap: Wrap,
    date: DateForm,
    /// `/` when dates are written `2024/08/08`.
    date_sep: char,
}

impl Form {
    /// Reads the form of a version heading (`title` is the text after the `#`s).
    fn of(level: usize, title: &str) -> Form {
        let t = title.trim();
        let (inner, wrap, rest) = match t
            .strip_prefix('[')
            .and_then(|r| r.find(']').map(|c| (r, c)))
        {
            Some((r, close)) => {
                let rest = &r[close + 1..];
                match rest
                    .strip_prefix('(')
                    .and_then(|u| u.find(')').map(|e| (u, e)))
                {
                    Some((u, e)) => (&r[..close], Wrap::Link(u[..e].to_string()), &u[e + 1..]),
                    None => (&r[..close], Wrap::Brackets, rest),
                }
            }
            None => {
                let e = t.find(char::is_whitespace).unwrap_or(t.len());
                (&t[..e], Wrap::Bare, &t[e..])
            }
        };
        let inner = inner.trim();
        let digit = inner.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
        let prefix = inner[..digit].to_string();
        let number = &inner[digit..];
        let pep = semver::Version::parse(number).is_err() && parse_pep440(number).is_ok();
        let trimmed = rest.trim_start();
        let (date, token) = if let Some(p) = trimmed.strip_prefix('(') {
            (DateForm::Paren, p)
        } else if trimmed.starts_with(['-', '–', '—']) {
            let d = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            (DateForm::Sep(rest[..d].to_string()), &rest[d..])
        } else {
            (DateForm::None, "")
        };
        let date = if token.starts_with(|c: char| c.is_ascii_digit()) {
            date
        } else {
            DateForm::None
        };
        let date_sep = if token.get(4..5) == Some("/") {
            '/'
        } else {
            '-'
        };
        Form {
            level,
            prefix,
            pep440: pep,
            wrap,
            date,
            date_sep,
        }
    }

    /// The style a heading of this form belongs to, given the file's subheading names.
    fn style(&self, names: &[String]) -> StyleName {
        let uses = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
        match (&self.wrap, &self.date) {
            (Wrap::Link(_), _) => StyleName::ReleasePlease,
            (Wrap::Brackets, _) => StyleName::KeepAChangelog,
            (Wrap::Bare, DateForm::Paren) if uses("features") || uses("bug fixes") => {
                StyleName::ReleasePlease
            }
            (Wrap::Bare, DateForm::Paren) => StyleName::Commitizen,
            (Wrap::Bare, _) => StyleName::Plain,
        }
    }

    fn default_for(style: StyleName, tag_prefix: &str) -> Form {
        let f = |prefix: &str, wrap, date| Form {
            level: 2,
            prefix: prefix.to_string(),
            pep440: false,
            wrap,
            date,
            date_sep: '-',
        };
        match style {
            StyleName::ReleasePlease => f("", Wrap::Bare, DateForm::Paren),
            StyleName::Commitizen => f(tag_prefix, Wrap::Bare, DateForm::Paren),
            StyleName::Plain => f("", Wrap::Bare, DateForm::None),
            _ => f("", Wrap::Brackets, DateForm::Sep(" - ".into())),
        }
    }

    fn render(&self, v: &Version, date: &str, url: Option<&str>) -> String {
        let number = if self.pep440 {
            pep440(v)
        } else {
            v.to_string()
        };
        let ver = format!("{}{number}", self.prefix);
        let mut s = format!("{} ", "#".repeat(self.level));
        match (&self.wrap, url) {
            (Wrap::Bare, _) | (Wrap::Link(_), None) => s.push_str(&ver),
            (Wrap::Brackets, _) => s.push_str(&format!("[{ver}]")),
            (Wrap::Link(_), Some(u)) => s.push_str(&format!("[{ver}]({u})")),
        }
        let date = date.replace('-', &self.date_sep.to_string());
        match &self.date {
            DateForm::None => {}
            DateForm::Sep(sep) => s.push_str(&format!("{sep}{date}")),
            DateForm::Paren => s.push_str(&format!(" ({date})")),
        }
        s
    }
}

/// A changelog's resolved style: what a release writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStyle {
    pub name: StyleName,
    /// The file keeps an `[Unreleased]` section (Keep a Changelog with one): the release renames
    /// it, as [`crate::changelog::release_parsed`] does.
    pub unreleased: bool,
    form: Form,
    /// Subheading per generated group (GROUPS order).
    names: [String; 5],
    /// The list marker the file's newest section uses (`-` or `*`).
    bullet: char,
}

/// The `###` subheading titles of the first few version sections.
fn subheadings(src: &str, cl: &Changelog) -> Vec<String> {
    let mut out = Vec::new();
    for s in cl.versions().iter().take(5) {
        for l in cl.body(src, s).lines() {
            if let Some(t) = l.trim_end_matches('\r').strip_prefix("### ") {
                if !matches!(read_title(t), Ok(Title::Version(..))) {
                    out.push(t.trim().to_string());
                }
            }
        }
    }
    out
}

/// The style of a file: `[Unreleased]` → Keep a Changelog; else the form of the newest version
/// heading; a file without version headings is Keep a Changelog when it has no other `##`
/// heading either (a fresh file), otherwise its style cannot be told.
pub fn detect(src: &str, cl: &Changelog) -> Result<StyleName, String> {
    if cl.unreleased().is_some() {
        return Ok(StyleName::KeepAChangelog);
    }
    if let Some(s) = cl.newest_version() {
        return Ok(Form::of(s.level, &s.title).style(&subheadings(src, cl)));
    }
    let other = src.lines().find(|l| {
        let t = l.trim_start();
        t.starts_with("## ") || t.starts_with("### ")
    });
    match other {
        None => Ok(StyleName::KeepAChangelog),
        Some(l) => Err(format!(
            "cannot tell the changelog's style: no `## [Unreleased]` and no version heading (`## [X.Y.Z] - YYYY-MM-DD`, \
             `## [X.Y.Z](url) (date)`, `## vX.Y.Z (date)`, `## X.Y.Z`), only headings like `{}`; \
             set changelog-style in [workspace.metadata.release] of Cargo.toml (\"none\" leaves the file alone)",
            l.trim()
        )),
    }
}

/// The style a release writes in: `explicit` (the config) wins, else [`detect`]. The heading form
/// is the newest version heading's when it is of that style, else the style's default.
pub fn resolve(
    src: &str,
    cl: &Changelog,
    explicit: Option<StyleName>,
    tag_prefix: &str,
) -> Result<FileStyle, String> {
    let name = match explicit {
        Some(n) => n,
        None => detect(src, cl)?,
    };
    let subs = subheadings(src, cl);
    let form = cl
        .newest_version()
        .map(|s| Form::of(s.level, &s.title))
        .filter(|f| {
            f.style(&subs) == name || name == StyleName::KeepAChangelog && f.wrap == Wrap::Brackets
        })
        .unwrap_or_else(|| Form::default_for(name, tag_prefix));
    let defaults = name.default_names();
    let names = std::array::from_fn(|i| {
        subs.iter()
            .find(|s| ALIASES[i].contains(&s.to_lowercase().as_str()))
            .cloned()
            .unwrap_or_else(|| defaults[i].to_string())
    });
    // Keep a Changelog with [Unreleased] (or asked for explicitly) renames that section; without
    // one, a detected Keep a Changelog file gets its new section above the newest, like the others.
    let unreleased =
        name == StyleName::KeepAChangelog && (cl.unreleased().is_some() || explicit.is_some());
    let bullet = cl
        .newest_version()
        .and_then(|s| {
            cl.body(src, s).lines().find_map(|l| match l.as_bytes() {
                [b @ (b'-' | b'*' | b'+'), b' ', ..] => Some(*b as char),
                _ => None,
            })
        })
        .unwrap_or('-');
    Ok(FileStyle {
        name,
        unreleased,
        form,
        names,
        bullet,
    })
}

impl FileStyle {
    /// What goes between version and date in a Keep a Changelog heading: the newest heading's
    /// own separator (` - `, ` — `), else ` - `.
    pub fn date_separator(&self) -> &str {
        match (&self.form.wrap, &self.form.date) {
            (Wrap::Brackets, DateForm::Sep(s)) if !s.trim().is_empty() => s,
            _ => " - ",
        }
    }

    /// The subheading for a generated group title (`Added` → `Features`).
    pub fn group_name(&self, group: &str) -> String {
        GROUPS
            .iter()
            .position(|g| g.eq_ignore_ascii_case(group))
            .map_or_else(|| group.to_string(), |i| self.names[i].clone())
    }
}

/// The newest release's link turned into the new one: `…/compare/<a>...<b>` →
/// `…/compare/<b>...<new tag>`, `…/tag/<b>` → `…/tag/<new tag>`. The new tag is spelled as `<b>` is
/// (its own prefix), else `tag_prefix` + version.
fn next_url(url: &str, old: &Version, new: &Version, tag_prefix: &str) -> Option<String> {
    let spell = |b: &str| {
        let o = old.to_string();
        if b.ends_with(&o) {
            format!("{}{new}", &b[..b.len() - o.len()])
        } else {
            git_tag(tag_prefix, new)
        }
    };
    if let Some((left, b)) = url.rsplit_once("...") {
        let base = &left[..left.rfind('/')? + 1];
        return Some(format!("{base}{b}...{}", spell(b)));
    }
    let (base, b) = url.rsplit_once('/')?;
    b.contains(&old.to_string())
        .then(|| format!("{base}/{}", spell(b)))
}

/// The release section for a style without `[Unreleased]` (or `none`): a new section for `new` in
/// the file's own style above the newest one, with the generated entries (or placeholders, which
/// a bump refuses without `--allow-placeholders`) under the file's own subheadings. Nothing below
/// it changes, except one new link definition next to the newest one's when the file links its
/// versions that way.
#[allow(clippy::too_many_arguments)]
pub fn release_styled(
    src: &str,
    cl: &Changelog,
    style: &FileStyle,
    new: &Version,
    tag_prefix: &str,
    date: &str,
    generated: &[(&str, Vec<GenEntry>)],
    file_name: &str,
) -> Result<ReleaseEdit, String> {
    if style.name == StyleName::None {
        return Ok(ReleaseEdit {
            new_src: src.to_string(),
            notes: Vec::new(),
            placeholders_inserted: false,
        });
    }
    if let Some(s) = cl.section(new) {
        return Err(format!(
            "{file_name} already has a section for {new} (line {}: `{}`); refusing to add a second one",
            s.heading_line,
            &src[s.heading.clone()]
        ));
    }
    if date.len() != 10 {
        return Err(format!(
            "invalid release date `{date}`; expected YYYY-MM-DD"
        ));
    }
    let eol = line_ending(src);
    let mut notes = Vec::new();
    let mut reps = Vec::new();
    let newest: Option<&Section> = cl.newest_version();
    let old = newest.and_then(|s| s.version.clone());
    let url = match (&style.form.wrap, &old) {
        (Wrap::Link(u), Some(o)) => {
            let n = next_url(u, o, new, tag_prefix);
            if n.is_none() {
                notes.push(format!(
                    "{file_name}: the newest heading's link `{u}` is not a compare or tag link; \
                     the {new} heading has none — add it by hand"
                ));
            }
            n
        }
        _ => None,
    };
    let heading = style.form.render(new, date, url.as_deref());

    // The body: generated entries under the file's subheadings, else placeholders.
    let mut body = Vec::new();
    let mut placeholders = false;
    let mut any = false;
    for (group, entries) in generated {
        if entries.is_empty() {
            continue;
        }
        any = true;
        body.push(String::new());
        body.push(format!("### {}", style.group_name(group)));
        body.push(String::new());
        for e in entries {
            body.push(format!("{} {}", style.bullet, e.text.replace('\n', eol)));
        }
    }
    if !any {
        placeholders = true;
        for g in ["Added", "Changed", "Fixed"] {
            body.push(String::new());
            body.push(format!("### {}", style.group_name(g)));
            body.push(String::new());
            body.push(format!("{} {PLACEHOLDER}", style.bullet));
        }
        notes.push(format!(
            "{file_name}: no generated entries; inserted placeholders for {new} — fill them in before publishing"
        ));
    }
    let mut block = vec![heading.clone()];
    block.extend(body);
    let at = match newest {
        Some(s) => s.heading.start,
        None => {
            first_heading_after_title(src).unwrap_or_else(|| cl.link_block().unwrap_or(src.len()))
        }
    };
    reps.push(insert_block(src, at, &block, eol));

    // Reference-style version links: one more next to the newest one's.
    if let (Some(o), Wrap::Brackets) = (&old, &style.form.wrap) {
        match cl.version_link(o) {
            Some((u, line_start)) => match next_url(&src[u], o, new, tag_prefix) {
                Some(n) => reps.push(Replacement::new(
                    line_start..line_start,
                    format!("[{}{new}]: {n}{eol}", style.form.prefix),
                )),
                None => notes.push(format!(
                    "{file_name}: the [{o}] link is not a compare or tag link; add a [{new}] link by hand"
                )),
            },
            None if cl.link_block().is_some() => notes.push(format!(
                "{file_name} has link definitions but none for {o}; add a [{new}] link by hand"
            )),
            None => {}
        }
    }
    let new_src = splice(src, &reps);
    check_styled(cl, &new_src, new, &heading, placeholders)?;
    Ok(ReleaseEdit {
        new_src,
        notes,
        placeholders_inserted: placeholders,
    })
}

/// The start of the first `##` heading line (a new section of a file without versions goes
/// before it), if any.
fn first_heading_after_title(src: &str) -> Option<usize> {
    let mut pos = 0;
    for l in src.split_inclusive('\n') {
        if l.starts_with("## ") {
            return Some(pos);
        }
        pos += l.len();
    }
    None
}

fn check_styled(
    before: &Changelog,
    new_src: &str,
    new: &Version,
    heading: &str,
    placeholders: bool,
) -> Result<(), String> {
    let fail = |m: String| {
        Err(format!(
            "internal error: {m}; the changelog was left unchanged — please report this"
        ))
    };
    let after = match Changelog::parse(new_src) {
        Ok(c) => c,
        Err(e) => return fail(format!("the edited changelog does not parse ({e})")),
    };
    match after.newest_version() {
        Some(s) if s.version.as_ref() == Some(new) && &new_src[s.heading.clone()] == heading => {
            if placeholders && !has_placeholders(after.body(new_src, s)) {
                return fail(format!("the placeholders for {new} are missing"));
            }
        }
        _ => {
            return fail(format!(
                "the newest section is not `{heading}` after the edit"
            ))
        }
    }
    let titles = |c: &Changelog| -> Vec<String> {
        c.versions()
            .iter()
            .filter(|s| s.version.as_ref() != Some(new))
            .map(|s| s.title.clone())
            .collect()
    };
    if titles(before) != titles(&after)
        || before.unreleased().is_some() != after.unreleased().is_some()
    {
        return fail("the other headings changed".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn entries() -> Vec<(&'static str, Vec<GenEntry>)> {
        let e = |t: &str| GenEntry {
            text: t.to_string(),
            short_hash: "abc1234".into(),
            subject: t.to_string(),
        };
        vec![("Added", vec![e("a feature")]), ("Fixed", vec![e("a fix")])]
    }

    fn styled(
        src: &str,
        explicit: Option<StyleName>,
        generated: &[(&str, Vec<GenEntry>)],
    ) -> String {
        let cl = Changelog::parse(src).unwrap();
        let st = resolve(src, &cl, explicit, "v").unwrap();
        let r = release_styled(
            src,
            &cl,
            &st,
            &v("0.6.3"),
            "v",
            "2026-11-21",
            generated,
            "CHANGELOG.md",
        )
        .unwrap();
        // Bytes after the insertion point are the old ones.
        let at = cl.newest_version().map_or(src.len(), |s| s.heading.start);
        assert!(
            r.new_src.ends_with(&src[at..]) || cl.link_block().is_some(),
            "{}",
            r.new_src
        );
        r.new_src
    }

    #[test]
    fn detect_table() {
        for (src, want) in [
            ("# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2024-01-01\n", Ok(StyleName::KeepAChangelog)),
            ("## [1.0.0] - 2024-01-01\n", Ok(StyleName::KeepAChangelog)),
            ("## [0.6.2](https://github.com/o/r/compare/v0.6.1...v0.6.2) (2024-08-08)\n\n### Features\n", Ok(StyleName::ReleasePlease)),
            ("## 1.0.0 (2024-08-08)\n\n### Bug Fixes\n\n* x\n", Ok(StyleName::ReleasePlease)),
            ("## v0.2.37 (2025-06-01)\n\n### Feat\n", Ok(StyleName::Commitizen)),
            ("## 0.0.5\n\n- x\n", Ok(StyleName::Plain)),
            ("## 0.0.5 — 2024-01-01\n", Ok(StyleName::Plain)),
            ("", Ok(StyleName::KeepAChangelog)),
            ("# Changelog\n\nAll notable changes.\n", Ok(StyleName::KeepAChangelog)),
        ] {
            let cl = Changelog::parse(src).unwrap();
            assert_eq!(detect(src, &cl), want, "{src:?}");
        }
        let src = "# History\n\n## Release one\n\n- x\n";
        let e = detect(src, &Changelog::parse(src).unwrap()).unwrap_err();
        assert!(
            e.contains("cannot tell the changelog's style") && e.contains("`## Release one`"),
            "{e}"
        );
    }

    #[test]
    fn release_please() {
        let src = "# Changelog\n\n## [0.6.2](https://github.com/o/r/compare/v0.6.1...v0.6.2) (2024-08-08)\n\n\n### Features\n\n* thing ([#12](https://github.com/o/r/issues/12))\n\n### Bug Fixes\n\n* other\n";
        expect_test::expect![[r#"
            # Changelog

            ## [0.6.3](https://github.com/o/r/compare/v0.6.2...v0.6.3) (2026-11-21)

            ### Features

            * a feature

            ### Bug Fixes

            * a fix

            ## [0.6.2](https://github.com/o/r/compare/v0.6.1...v0.6.2) (2024-08-08)


            ### Features

            * thing ([#12](https://github.com/o/r/issues/12))

            ### Bug Fixes

            * other
        "#]]
        .assert_eq(&styled(src, None, &entries()));
    }

    #[test]
    fn commitizen_plain_and_kac_without_unreleased() {
        let cz = "## v0.2.37 (2025-06-01)\r\n\r\n### Feat\r\n\r\n- x\r\n";
        expect_test::expect![[r###"
            "## v0.6.3 (2026-11-21)\r\n\r\n### Feat\r\n\r\n- a feature\r\n\r\n### Fix\r\n\r\n- a fix\r\n\r\n## v0.2.37 (2025-06-01)\r\n\r\n### Feat\r\n\r\n- x\r\n"
        "###]]
        .assert_debug_eq(&styled(cz, None, &entries()));
        let plain = "# Changes\n\n## 0.0.5 — 2024/01/02\n\n- x";
        expect_test::expect![[r###"
            "# Changes\n\n## 0.6.3 — 2026/11/21\n\n### Added\n\n- _TODO: describe this change (placeholder inserted by slipway)_\n\n### Changed\n\n- _TODO: describe this change (placeholder inserted by slipway)_\n\n### Fixed\n\n- _TODO: describe this change (placeholder inserted by slipway)_\n\n## 0.0.5 — 2024/01/02\n\n- x"
        "###]]
        .assert_debug_eq(&styled(plain, None, &[]));
        let kac = "# Changelog\n\n## [0.6.2] - 2024-08-08\n\n### Added\n\n- x\n\n[0.6.2]: https://github.com/o/r/compare/v0.6.1...v0.6.2\n";
        expect_test::expect![[r#"
            # Changelog

            ## [0.6.3] - 2026-11-21

            ### Added

            - a feature

            ### Fixed

            - a fix

            ## [0.6.2] - 2024-08-08

            ### Added

            - x

            [0.6.3]: https://github.com/o/r/compare/v0.6.2...v0.6.3
            [0.6.2]: https://github.com/o/r/compare/v0.6.1...v0.6.2
        "#]]
        .assert_eq(&styled(kac, None, &entries()));
        // `none` leaves the file alone.
        let cl = Changelog::parse(kac).unwrap();
        let st = resolve(kac, &cl, Some(StyleName::None), "v").unwrap();
        let r = release_styled(
            kac,
            &cl,
            &st,
            &v("0.6.3"),
            "v",
            "2026-11-21",
            &entries(),
            "C",
        )
        .unwrap();
        assert_eq!(r.new_src, kac);
    }

    #[test]
    fn newest_is_the_first_version_heading_at_any_level() {
        let src = "# Changelog\n\n### [2.0.1](https://g/o/r/compare/v2.0.0...v2.0.1) (2026-01-02)\n\n### Bug Fixes\n\n* y\n\n# [2.0.0](https://g/o/r/compare/v1.0.0...v2.0.0) (2026-01-01)\n\n## 0.0.5\n";
        let cl = Changelog::parse(src).unwrap();
        assert_eq!(cl.newest_version().unwrap().version, Some(v("2.0.1")));
        assert_eq!(cl.versions().len(), 3);
        let out = release_styled(
            src,
            &cl,
            &resolve(src, &cl, None, "v").unwrap(),
            &v("2.0.2"),
            "v",
            "2026-11-21",
            &entries(),
            "C",
        )
        .unwrap();
        assert!(out.new_src.contains("\n### [2.0.2](https://g/o/r/compare/v2.0.1...v2.0.2) (2026-11-21)\n\n### Features\n"), "{}", out.new_src);
    }

    /// Property: a styled release only inserts (the old text is a subsequence made of two whole
    /// pieces: before and after the insertion points).
    #[test]
    fn property_release_only_inserts() {
        let mut rng = crate::testutil::Rng::new(9);
        let heads = [
            "## v{v} (2025-06-01)",
            "## {v}",
            "## [{v}](https://g/o/r/compare/v0.0.1...v{v}) (2024-01-01)",
            "## {v} - 2024-01-01",
        ];
        for _ in 0..200 {
            let nl = ["\n", "\r\n"][rng.below(2)];
            let h = heads[rng.below(heads.len())];
            let mut src = String::new();
            if rng.below(2) == 0 {
                src.push_str(&format!("# Changelog{nl}{nl}"));
            }
            for (i, ver) in ["1.2.3", "1.2.2", "1.0.0"].iter().enumerate() {
                if i > 0 && rng.below(2) == 0 {
                    continue;
                }
                src.push_str(&h.replace("{v}", ver));
                src.push_str(&format!("{nl}{nl}- entry `{ver}`{nl}"));
                if rng.below(2) == 0 {
                    src.push_str(nl);
                }
            }
            if rng.below(3) == 0 {
                src = src.trim_end().to_string();
            }
            let cl = Changelog::parse(&src).unwrap();
            let st = resolve(&src, &cl, None, "v").unwrap();
            let out = release_styled(
                &src,
                &cl,
                &st,
                &v("1.3.0"),
                "v",
                "2026-11-21",
                &entries(),
                "C",
            )
            .unwrap()
            .new_src;
            let at = cl.newest_version().unwrap().heading.start;
            assert_eq!(&out[..at], &src[..at]);
            assert!(out.ends_with(&src[at..]));
            assert_eq!(
                Changelog::parse(&out)
                    .unwrap()
                    .newest_version()
                    .unwrap()
                    .version,
                Some(v("1.3.0"))
            );
        }
    }
}
