//! `CHANGELOG.md` in [Keep a Changelog 1.1.0](https://keepachangelog.com/en/1.1.0/) format.
//!
//! A small line-based Markdown block model (no Markdown crate): it knows fenced code blocks
//! (```` ``` ```` and `~~~`), HTML comments, ATX headings (`#`…`######`) and link reference
//! definitions (`[label]: url`), so a `## [1.0.0]` inside a fence or a comment is not a section.
//! LF and CRLF files and a missing final newline are handled; positions are byte offsets.
//!
//! [`release`] is the one edit a release makes: `## [Unreleased]` becomes `## [<new>] - <date>`
//! (its entries untouched), a fresh `## [Unreleased]` goes above it, and the compare links at the
//! bottom move on. The edit is a list of [`Replacement`]s applied with [`splice`], so every byte
//! outside the edited spans stays identical; the result is re-parsed and checked.

use std::ops::Range;

use semver::Version;

use crate::edit::{line_ending, line_of, splice, Replacement};
use crate::version::{git_tag, parse_pep440, parse_semver};

/// The bullet text [`release`] inserts when `[Unreleased]` has no entries.
pub const PLACEHOLDER: &str = "_TODO: describe this change (placeholder inserted by slipway)_";

/// The subheadings that get a placeholder bullet each.
const PLACEHOLDER_GROUPS: &[&str] = &["Added", "Changed", "Fixed"];

/// One `## ` section: `[Unreleased]` or a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Heading text after `## `, e.g. `[1.2.3] - 2024-05-01` or `[Unreleased]`.
    pub title: String,
    /// `None` for `[Unreleased]`.
    pub version: Option<Version>,
    pub date: Option<String>,
    /// The heading level: 2, or 1 and 3 for the version headings of generated changelogs
    /// (conventional-changelog writes `# [2.0.0]` for majors and `### [1.0.1]` for patches).
    pub level: usize,
    /// 1-based.
    pub heading_line: usize,
    /// Byte range of the heading line, without its line ending.
    pub heading: Range<usize>,
    /// From the line after the heading up to the next `#`/`## ` heading, the link-definition
    /// block at the end of the file, or the end of the file.
    pub body: Range<usize>,
}

/// A parsed changelog. It holds positions only; pass the same source to [`Changelog::body`].
#[derive(Debug, Clone)]
pub struct Changelog {
    unreleased: Option<Section>,
    versions: Vec<Section>,
    links: Vec<LinkDef>,
    /// Start of the trailing block of link reference definitions, if any.
    link_block: Option<usize>,
}

/// `[label]: url` on one line.
#[derive(Debug, Clone)]
struct LinkDef {
    label: String,
    /// The url's bytes (inside `<…>` when bracketed).
    url: Range<usize>,
    /// The line, without its line ending.
    line: Range<usize>,
    /// Start of the next line (`== line.end` on a last line without a line ending).
    next: usize,
}

impl Changelog {
    /// Errors are one line and name the line number: two `[Unreleased]` sections, two sections
    /// for one version, a version heading whose version does not parse.
    pub fn parse(src: &str) -> Result<Changelog, String> {
        let lines = split_lines(src);
        let kinds = classify(src, &lines);

        // The trailing run of link definitions (blank lines allowed between them).
        let mut link_block = None;
        for (i, kind) in kinds.iter().enumerate().rev() {
            match kind {
                Kind::Blank => {}
                Kind::LinkDef(_) => link_block = Some(lines[i].start),
                _ => break,
            }
        }

        // Level 1 and 3 headings are sections only when they read as a version.
        // (With a dot: `# 2024` is a title, not version 2024.0.0.)
        let is_version_heading = |title: &str| {
            title.contains('.') && matches!(read_title(title), Ok(Title::Version(..)))
        };
        let bounds: Vec<usize> = (0..lines.len())
            .filter(|&i| match &kinds[i] {
                Kind::Heading { level, .. } if *level <= 2 => true,
                Kind::Heading { level: 3, title } => is_version_heading(title),
                _ => false,
            })
            .collect();
        let mut unreleased: Option<Section> = None;
        let mut versions: Vec<Section> = Vec::new();
        // First heading line of each version, for duplicate detection in one pass.
        let mut seen: std::collections::BTreeMap<Version, usize> =
            std::collections::BTreeMap::new();
        for (j, &i) in bounds.iter().enumerate() {
            let Kind::Heading { level, title } = &kinds[i] else {
                continue;
            };
            let level = *level;
            if level != 2 && !is_version_heading(title) {
                continue;
            }
            let line = lines[i];
            let heading_line = i + 1;
            let body_end = match bounds.get(j + 1) {
                Some(&n) => lines[n].start,
                None => link_block.unwrap_or(src.len()),
            };
            let section = |version, date| Section {
                title: title.clone(),
                version,
                date,
                level,
                heading_line,
                heading: line.start..line.end,
                body: line.next..body_end,
            };
            match read_title(title).map_err(|e| format!("line {heading_line}: {e}"))? {
                Title::Other => {}
                Title::Unreleased => {
                    if let Some(first) = &unreleased {
                        return Err(format!(
                            "line {heading_line}: a second [Unreleased] section (the first is on line {})",
                            first.heading_line
                        ));
                    }
                    unreleased = Some(section(None, None));
                }
                Title::Version(v, date) => {
                    if let Some(first) = seen.get(&v) {
                        return Err(format!(
                            "line {heading_line}: a second section for {v} (the first is on line {first})"
                        ));
                    }
                    seen.insert(v.clone(), heading_line);
                    versions.push(section(Some(v), date));
                }
            }
        }

        let links = kinds
            .into_iter()
            .filter_map(|k| match k {
                Kind::LinkDef(d) => Some(d),
                _ => None,
            })
            .collect();
        Ok(Changelog {
            unreleased,
            versions,
            links,
            link_block,
        })
    }

    pub fn unreleased(&self) -> Option<&Section> {
        self.unreleased.as_ref()
    }

    /// Version sections in file order (newest first in a normal file).
    pub fn versions(&self) -> &[Section] {
        &self.versions
    }

    /// The newest released version: the first version heading in file order (a yanked release
    /// counts: its number is used up).
    pub fn newest_version(&self) -> Option<&Section> {
        self.versions.first()
    }

    pub fn section(&self, v: &Version) -> Option<&Section> {
        self.versions.iter().find(|s| s.version.as_ref() == Some(v))
    }

    /// The `[<version>]: <url>` definition of a version: (url range, start of its line).
    pub fn version_link(&self, v: &Version) -> Option<(Range<usize>, usize)> {
        self.links
            .iter()
            .find(|d| label_version(&d.label).as_ref() == Some(v))
            .map(|d| (d.url.clone(), d.line.start))
    }

    /// Start of the trailing block of link definitions, if any.
    pub fn link_block(&self) -> Option<usize> {
        self.link_block
    }

    /// Body text of a section (a slice of `src`, which must be the parsed source).
    pub fn body<'a>(&self, src: &'a str, s: &Section) -> &'a str {
        &src[s.body.clone()]
    }
}

/// True when a section body has no entries: only blank lines, `###` subheadings, one-line HTML
/// comments and placeholder bullets.
pub fn is_empty_body(body: &str) -> bool {
    body.lines().all(|l| {
        let t = l.trim();
        t.is_empty()
            || t.starts_with("###")
            || (t.starts_with("<!--") && t.ends_with("-->"))
            || t.trim_start_matches(['-', '*', '+']).trim() == PLACEHOLDER
    })
}

/// True when the body still contains the placeholder text (a publish refuses such a section).
/// The `(placeholder inserted by slipway)` marker alone also counts.
pub fn has_placeholders(body: &str) -> bool {
    body.contains(PLACEHOLDER) || body.contains("(placeholder inserted by slipway)")
}

/// The result of [`release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseEdit {
    pub new_src: String,
    /// Things to tell the user (placeholders inserted, links left for a human).
    pub notes: Vec<String>,
    pub placeholders_inserted: bool,
}

/// Turns `[Unreleased]` into the release section of `new` dated `date` (YYYY-MM-DD, from the
/// caller), adds a fresh `[Unreleased]` above it and moves the compare links on.
///
/// - `[Unreleased]` with entries: its heading line becomes `## [<new>] - <date>`, the entries
///   stay byte-identical, and a copy of the old heading line plus a blank line goes above it.
/// - `[Unreleased]` empty: it stays as it is (with its subheadings, for next time) and a section
///   for `new` with `### Added/Changed/Fixed` placeholder bullets is inserted below it.
/// - `[Unreleased]` missing: `## [Unreleased]` and the placeholder section are inserted before the
///   first version heading, else before the trailing link definitions, else at the end.
/// - `[Unreleased]: …/<prev>...HEAD` becomes `…/<tag>...HEAD` and `[<new>]: …/<prev>...<tag>` is
///   added below it. For a first release, `…/compare/HEAD` (or `commits/HEAD`, `tree/HEAD`)
///   becomes `…/compare/<tag>...HEAD` and `[<new>]` links to the tag. Any other shape is left
///   alone with a note.
#[cfg(test)]
pub fn release(
    src: &str,
    new: &Version,
    tag_prefix: &str,
    date: &str,
    file_name: &str,
) -> Result<ReleaseEdit, String> {
    let cl = Changelog::parse(src).map_err(|e| format!("{file_name}: {e}"))?;
    release_parsed(src, &cl, new, tag_prefix, date, " - ", file_name)
}

/// [`release`] for a changelog the caller has already parsed from `src`; `date_sep` goes between
/// the version and the date (` - `, or the ` — ` of a file that writes em dashes).
pub fn release_parsed(
    src: &str,
    cl: &Changelog,
    new: &Version,
    tag_prefix: &str,
    date: &str,
    date_sep: &str,
    file_name: &str,
) -> Result<ReleaseEdit, String> {
    if let Some(s) = cl.section(new) {
        return Err(format!(
            "{file_name} already has a section for {new} (line {}: `{}`); refusing to add a second one",
            s.heading_line,
            &src[s.heading.clone()]
        ));
    }
    if let (Some(u), Some(first)) = (cl.unreleased(), cl.newest_version()) {
        if u.heading.start > first.heading.start {
            return Err(format!(
                "{file_name}: [Unreleased] (line {}) comes after the section for {} (line {}); \
                 move it to the top first",
                u.heading_line,
                first.version.as_ref().expect("version section"),
                first.heading_line
            ));
        }
    }

    if date.is_empty() || date.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "invalid release date `{date}`; expected YYYY-MM-DD"
        ));
    }
    let eol = line_ending(src);
    let new_heading = format!("## [{new}]{date_sep}{date}");
    // Link edits first: when an insertion lands on the same offset as a section insertion, the
    // stable sort in `splice` keeps the new link definition next to `[Unreleased]:`.
    let (mut reps, mut notes) = link_edits(src, cl, new, tag_prefix, file_name);

    let mut placeholder_section = vec![new_heading.clone(), String::new()];
    for (i, group) in PLACEHOLDER_GROUPS.iter().enumerate() {
        if i > 0 {
            placeholder_section.push(String::new());
        }
        placeholder_section.push(format!("### {group}"));
        placeholder_section.push(String::new());
        placeholder_section.push(format!("- {PLACEHOLDER}"));
    }
    let groups = PLACEHOLDER_GROUPS
        .iter()
        .map(|g| format!("### {g}"))
        .collect::<Vec<_>>()
        .join("/");

    let placeholders_inserted = match cl.unreleased() {
        Some(u) if !is_empty_body(cl.body(src, u)) => {
            let old = &src[u.heading.clone()];
            reps.push(Replacement::new(
                u.heading.clone(),
                format!("{old}{eol}{eol}{new_heading}"),
            ));
            false
        }
        Some(u) => {
            reps.push(insert_block(src, u.body.end, &placeholder_section, eol));
            notes.push(format!(
                "{file_name}: [Unreleased] was empty; inserted {groups} placeholders for {new} \
                 — fill them in before publishing"
            ));
            true
        }
        None => {
            let at = match cl.newest_version() {
                Some(s) => s.heading.start,
                None => cl.link_block.unwrap_or(src.len()),
            };
            let mut block = Vec::new();
            if src.trim().is_empty() {
                block.extend(["# Changelog".to_string(), String::new()]);
            }
            block.extend(["## [Unreleased]".to_string(), String::new()]);
            block.extend(placeholder_section);
            reps.push(insert_block(src, at, &block, eol));
            notes.push(format!(
                "{file_name} had no [Unreleased] section; added one and inserted {groups} \
                 placeholders for {new} — fill them in before publishing"
            ));
            true
        }
    };

    let new_src = splice(src, &reps);
    check(cl, &new_src, new, &new_heading, placeholders_inserted)?;
    Ok(ReleaseEdit {
        new_src,
        notes,
        placeholders_inserted,
    })
}

/// The `[Unreleased]:` rewrite and the new `[<new>]:` definition, and notes for what it could
/// not do.
fn link_edits(
    src: &str,
    cl: &Changelog,
    new: &Version,
    tag_prefix: &str,
    file_name: &str,
) -> (Vec<Replacement>, Vec<String>) {
    let eol = line_ending(src);
    let tag = git_tag(tag_prefix, new);
    let mut reps = Vec::new();
    let mut notes = Vec::new();
    let has_new_def = cl
        .links
        .iter()
        .any(|d| label_version(&d.label).as_ref() == Some(new));
    let Some(u) = cl
        .links
        .iter()
        .find(|d| d.label.trim().eq_ignore_ascii_case("unreleased"))
    else {
        if !has_new_def && cl.links.iter().any(|d| label_version(&d.label).is_some()) {
            notes.push(format!(
                "{file_name} has version links but no [Unreleased] link; add a [{new}] link by hand"
            ));
        }
        return (reps, notes);
    };
    let url = &src[u.url.clone()];
    let line = line_of(src, u.line.start);
    let newest_tag = cl
        .newest_version()
        .and_then(|s| s.version.as_ref())
        .map(|v| git_tag(tag_prefix, v));
    let plan = match compare_head(url) {
        Some((base, prev, dots)) if prev != tag => {
            if let Some(newest) = newest_tag.filter(|t| t != prev) {
                notes.push(format!(
                    "{file_name} line {line}: the [Unreleased] link compares from `{prev}`, not from \
                     {newest} (the newest section); check the [{new}] link"
                ));
            }
            Some((
                format!("{base}{tag}{dots}HEAD"),
                Some(format!("{base}{prev}{dots}{tag}")),
            ))
        }
        // Already points at the new tag: nothing to compare the new version with.
        Some(_) => Some((url.to_string(), None)),
        None if cl.versions.is_empty() => first_release(url, &tag),
        None => None,
    };
    let Some((new_url, def)) = plan else {
        notes.push(format!(
            "{file_name} line {line}: the [Unreleased] link `{url}` does not end in \
             `<previous tag>...HEAD`; left it alone — update it and add a [{new}] link by hand"
        ));
        return (reps, notes);
    };
    if new_url != url {
        reps.push(Replacement::new(u.url.clone(), new_url));
    }
    match def {
        Some(def) if !has_new_def => {
            let text = format!("[{new}]: {def}");
            reps.push(if u.next > u.line.end {
                Replacement::new(u.next..u.next, format!("{text}{eol}"))
            } else {
                Replacement::new(u.line.end..u.line.end, format!("{eol}{text}"))
            });
        }
        Some(_) => notes.push(format!(
            "{file_name}: kept the existing [{new}] link definition"
        )),
        None => notes.push(format!(
            "{file_name} line {line}: the [Unreleased] link already starts at {tag}; \
             add a [{new}] link by hand"
        )),
    }
    (reps, notes)
}

/// Splits `<base><prev>...HEAD` (or `..HEAD`) into `(base, prev, dots)`. `prev` is what follows
/// the last `/compare/` (so tags with `/` work), else the last `/`.
fn compare_head(url: &str) -> Option<(&str, &str, &str)> {
    let (head, dots) = match url.strip_suffix("...HEAD") {
        Some(h) => (h, "..."),
        None => (url.strip_suffix("..HEAD")?, ".."),
    };
    let start = match head.rfind("/compare/") {
        Some(i) => i + "/compare/".len(),
        None => head.rfind('/')? + 1,
    };
    let (base, prev) = head.split_at(start);
    if prev.is_empty() || prev.ends_with('.') {
        return None;
    }
    Some((base, prev, dots))
}

/// First release: `<base>compare/HEAD` (or `commits/HEAD`, `tree/HEAD`) becomes
/// `<base>compare/<tag>...HEAD`; the new version links to the tag (GitHub: `releases/tag/<tag>`,
/// GitLab `/-/`: `tags/<tag>`, else `tree/<tag>`).
fn first_release(url: &str, tag: &str) -> Option<(String, Option<String>)> {
    let base = ["compare/HEAD", "commits/HEAD", "tree/HEAD"]
        .iter()
        .find_map(|s| url.strip_suffix(s))
        .filter(|b| b.ends_with('/'))?;
    let tag_url = if url.contains("://github.com/") {
        format!("{base}releases/tag/{tag}")
    } else if base.ends_with("/-/") {
        format!("{base}tags/{tag}")
    } else {
        format!("{base}tree/{tag}")
    };
    Some((format!("{base}compare/{tag}...HEAD"), Some(tag_url)))
}

/// A link label that names a version (`1.2.3`, `v1.2.3`, `1.3.0rc1`); plain numbers like `[1]`
/// are ordinary reference links.
fn label_version(label: &str) -> Option<Version> {
    let l = label.trim();
    if !l.contains('.') {
        return None;
    }
    parse_semver(l).or_else(|_| parse_pep440(l)).ok()
}

/// An insertion of whole lines at `at` (a line start or the end of the file), separated from
/// the text before and after by a blank line. At the very end, a file without a final newline
/// keeps having none.
pub fn insert_block(src: &str, at: usize, lines: &[String], eol: &str) -> Replacement {
    let before = &src[..at];
    let mut s = String::new();
    if !before.is_empty() {
        if !before.ends_with('\n') {
            s.push_str(eol);
        }
        let b = before.strip_suffix('\n').unwrap_or(before);
        let b = b.strip_suffix('\r').unwrap_or(b);
        let prev_line = &b[b.rfind('\n').map_or(0, |i| i + 1)..];
        if !prev_line.trim().is_empty() {
            s.push_str(eol);
        }
    }
    s.push_str(&lines.join(eol));
    if at < src.len() {
        s.push_str(eol);
        s.push_str(eol);
    } else if src.is_empty() || src.ends_with('\n') {
        s.push_str(eol);
    }
    Replacement::new(at..at, s)
}

/// A generated entry for [`add_unreleased_entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenEntry {
    /// Bullet text without the leading `- ` (continuation lines separated by `\n`).
    pub text: String,
    /// Short commit hash: an entry whose hash already appears in the section is not added.
    pub short_hash: String,
    /// The commit subject: an entry whose subject already appears (case-insensitive) is not added.
    pub subject: String,
}

/// Adds generated entries to `[Unreleased]` under their `### <title>` headings (created where
/// missing; `Breaking changes` goes first), keeping everything a person already wrote there and
/// skipping entries it already mentions. Inserts `## [Unreleased]` when the file has none.
/// Returns the new source and how many entries were added.
pub fn add_unreleased_entries(
    src: &str,
    groups: &[(&str, Vec<GenEntry>)],
) -> Result<(String, usize), String> {
    let eol = line_ending(src);
    let cl = Changelog::parse(src)?;
    let Some(u) = cl.unreleased() else {
        let at = match cl.newest_version() {
            Some(s) => s.heading.start,
            None => cl.link_block.unwrap_or(src.len()),
        };
        let with = splice(
            src,
            &[insert_block(src, at, &["## [Unreleased]".to_string()], eol)],
        );
        if Changelog::parse(&with)?.unreleased().is_none() {
            return Err("internal error: could not insert an [Unreleased] section".into());
        }
        return add_unreleased_entries(&with, groups);
    };
    let body = &src[u.body.clone()];
    let body_lower = body.to_lowercase();
    // Lines of the body, with absolute offsets.
    let lines: Vec<Line> = split_lines(body)
        .into_iter()
        .map(|l| Line {
            start: l.start + u.body.start,
            end: l.end + u.body.start,
            next: l.next + u.body.start,
        })
        .collect();
    let text = |l: &Line| &src[l.start..l.end];
    let last_nonblank = |from: usize, to: usize| {
        (from..to)
            .rev()
            .find(|&i| !text(&lines[i]).trim().is_empty())
    };
    // (title in lowercase, index of its heading line, index after its last line)
    let mut subsections: Vec<(String, usize, usize)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(title) = text(l).strip_prefix("### ") {
            if let Some(last) = subsections.last_mut() {
                last.2 = i;
            }
            subsections.push((title.trim().to_lowercase(), i, lines.len()));
        }
    }
    let mut reps = Vec::new();
    let mut added = 0;
    for (title, entries) in groups {
        let fresh: Vec<String> = entries
            .iter()
            .filter(|e| {
                !body_lower.contains(&e.short_hash.to_lowercase())
                    && !body_lower.contains(&e.subject.to_lowercase())
            })
            .map(|e| format!("- {}", e.text.replace('\n', eol)))
            .collect();
        if fresh.is_empty() {
            continue;
        }
        added += fresh.len();
        let block = fresh.join(eol);
        let existing = subsections
            .iter()
            .find(|(t, _, _)| *t == title.to_lowercase());
        if let Some((_, head, end)) = existing {
            let last = last_nonblank(*head, *end).unwrap_or(*head);
            let sep = if last == *head {
                format!("{eol}{eol}")
            } else {
                eol.to_string()
            };
            reps.push(Replacement::new(
                lines[last].end..lines[last].end,
                format!("{sep}{block}"),
            ));
        } else if *title == crate::changegen::BREAKING {
            // First in the section: before the first non-blank line of the body.
            match (0..lines.len()).find(|&i| !text(&lines[i]).trim().is_empty()) {
                Some(first) => reps.push(Replacement::new(
                    lines[first].start..lines[first].start,
                    format!("### {title}{eol}{eol}{block}{eol}{eol}"),
                )),
                None => reps.push(Replacement::new(
                    u.heading.end..u.heading.end,
                    format!("{eol}{eol}### {title}{eol}{eol}{block}"),
                )),
            }
        } else {
            let at = match last_nonblank(0, lines.len()) {
                Some(last) => lines[last].end,
                None => u.heading.end,
            };
            reps.push(Replacement::new(
                at..at,
                format!("{eol}{eol}### {title}{eol}{eol}{block}"),
            ));
        }
    }
    let out = splice(src, &reps);
    // The result must still parse, with the same versions.
    let again = Changelog::parse(&out).map_err(|e| format!("internal error: {e}"))?;
    if again.versions().len() != cl.versions().len() || again.unreleased().is_none() {
        return Err("internal error: adding entries changed the changelog's sections".into());
    }
    Ok((out, added))
}

/// Re-parses the edited text and checks what a release must guarantee.
fn check(
    before: &Changelog,
    new_src: &str,
    new: &Version,
    new_heading: &str,
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
    let count = after
        .versions
        .iter()
        .filter(|s| s.version.as_ref() == Some(new))
        .count();
    let Some(s) = after.section(new).filter(|_| count == 1) else {
        return fail(format!(
            "expected one section for {new} after the edit, found {count}"
        ));
    };
    if &new_src[s.heading.clone()] != new_heading {
        return fail(format!("the heading for {new} is not `{new_heading}`"));
    }
    match after.unreleased() {
        Some(u) if u.heading_line < s.heading_line => {}
        _ => {
            return fail(format!(
                "no [Unreleased] section above {new} after the edit"
            ))
        }
    }
    if placeholders && !has_placeholders(after.body(new_src, s)) {
        return fail(format!("the placeholders for {new} are missing"));
    }
    let titles = |c: &Changelog| -> Vec<(Option<Version>, String)> {
        c.versions
            .iter()
            .filter(|s| s.version.as_ref() != Some(new))
            .map(|s| (s.version.clone(), s.title.clone()))
            .collect()
    };
    if titles(before) != titles(&after) {
        return fail("the other version headings changed".to_string());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The line model.

#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    /// End of the content (before `\n` or `\r\n`).
    end: usize,
    /// Start of the next line.
    next: usize,
}

fn split_lines(src: &str) -> Vec<Line> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    while start < src.len() {
        // A byte scan: `str::find(char)` costs several hundred instructions per short line.
        let (end, next) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let nl = start + i;
                let end = if nl > start && bytes[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                (end, nl + 1)
            }
            None => (src.len(), src.len()),
        };
        out.push(Line { start, end, next });
        start = next;
    }
    out
}

#[derive(Debug, Clone)]
enum Kind {
    Blank,
    Heading {
        level: usize,
        title: String,
    },
    LinkDef(LinkDef),
    /// Text, or anything inside a fence or an HTML comment.
    Other,
}

fn classify(src: &str, lines: &[Line]) -> Vec<Kind> {
    let mut fence: Option<(u8, usize)> = None;
    let mut in_comment = false;
    let mut out = Vec::with_capacity(lines.len());
    for l in lines {
        let text = &src[l.start..l.end];
        if let Some((ch, n)) = fence {
            if is_fence_close(text, ch, n) {
                fence = None;
            }
            out.push(Kind::Other);
            continue;
        }
        if in_comment {
            in_comment = !text.contains("-->");
            out.push(Kind::Other);
            continue;
        }
        if text.trim().is_empty() {
            out.push(Kind::Blank);
            continue;
        }
        let Some(rest) = strip_indent(text) else {
            out.push(Kind::Other); // indented code or continuation
            continue;
        };
        if let Some(f) = fence_open(rest) {
            fence = Some(f);
            out.push(Kind::Other);
        } else if let Some(c) = rest.strip_prefix("<!--") {
            in_comment = !c.contains("-->");
            out.push(Kind::Other);
        } else if let Some((level, title)) = atx_heading(rest) {
            out.push(Kind::Heading {
                level,
                title: title.to_string(),
            });
        } else if let Some((label, url)) = link_def(rest) {
            let off = l.start + (text.len() - rest.len());
            out.push(Kind::LinkDef(LinkDef {
                label,
                url: off + url.start..off + url.end,
                line: l.start..l.end,
                next: l.next,
            }));
        } else {
            out.push(Kind::Other);
        }
    }
    out
}

/// The line without up to three leading spaces; `None` when indented further.
fn strip_indent(text: &str) -> Option<&str> {
    let n = text.bytes().take_while(|&b| b == b' ').count();
    (n <= 3).then(|| &text[n..])
}

fn fence_open(rest: &str) -> Option<(u8, usize)> {
    let ch = *rest.as_bytes().first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let n = rest.bytes().take_while(|&b| b == ch).count();
    if n < 3 || (ch == b'`' && rest[n..].contains('`')) {
        return None;
    }
    Some((ch, n))
}

fn is_fence_close(text: &str, ch: u8, n: usize) -> bool {
    let Some(rest) = strip_indent(text) else {
        return false;
    };
    let m = rest.bytes().take_while(|&b| b == ch).count();
    m >= n && rest[m..].trim().is_empty()
}

/// `## Title ##` → `(2, "Title")`.
fn atx_heading(rest: &str) -> Option<(usize, &str)> {
    let level = rest.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    let content = after.trim();
    let unclosed = content.trim_end_matches('#');
    let content = if unclosed.is_empty() {
        ""
    } else if unclosed.ends_with([' ', '\t']) {
        unclosed.trim_end()
    } else {
        content
    };
    Some((level, content))
}

/// `[label]: url …` → `(label, url range relative to rest)`. Footnotes (`[^1]:`) are not links.
fn link_def(rest: &str) -> Option<(String, Range<usize>)> {
    let inner = rest.strip_prefix('[')?;
    let close = inner.find(']')?;
    let label = &inner[..close];
    if label.trim().is_empty() || label.starts_with('^') || label.contains('[') {
        return None;
    }
    let after = inner[close + 1..].strip_prefix(':')?;
    let url = after.trim_start_matches([' ', '\t']);
    let at = rest.len() - url.len();
    if let Some(u) = url.strip_prefix('<') {
        let e = u.find('>')?;
        Some((label.to_string(), at + 1..at + 1 + e))
    } else {
        let e = url.find([' ', '\t']).unwrap_or(url.len());
        (e > 0).then(|| (label.to_string(), at..at + e))
    }
}

pub(crate) enum Title {
    Unreleased,
    Version(Version, Option<String>),
    /// Some other `## ` heading: not a section, but it still ends the previous one.
    Other,
}

/// Reads `[1.2.3] - 2024-05-01`, `[v1.2.3]`, `1.2.3 - date`, `[1.2.3] - date [YANKED]`,
/// `[1.3.0rc1]`, `[1.2.3](url) (date)`, `[Unreleased]`, `Unreleased`.
pub(crate) fn read_title(title: &str) -> Result<Title, String> {
    let t = title.trim();
    let (inner, rest, bracketed) = match t.strip_prefix('[') {
        Some(r) => {
            let Some(close) = r.find(']') else {
                return Err(format!("unclosed `[` in the heading `## {t}`"));
            };
            let mut rest = &r[close + 1..];
            if rest.starts_with('(') {
                if let Some(e) = rest.find(')') {
                    rest = &rest[e + 1..];
                }
            }
            (r[..close].trim(), rest, true)
        }
        None => {
            let e = t.find(char::is_whitespace).unwrap_or(t.len());
            (&t[..e], &t[e..], false)
        }
    };
    if inner.eq_ignore_ascii_case("unreleased") {
        return Ok(Title::Unreleased);
    }
    let digit = |s: &str| s.starts_with(|c: char| c.is_ascii_digit());
    if !(bracketed || digit(inner) || inner.strip_prefix('v').is_some_and(digit)) {
        return Ok(Title::Other);
    }
    let v = parse_semver(inner)
        .or_else(|_| parse_pep440(inner))
        .map_err(|_| {
            format!(
            "cannot read a version from the heading `## {t}`; expected `## [X.Y.Z] - YYYY-MM-DD` \
             or `## [Unreleased]`"
        )
        })?;
    let r = rest
        .trim_start()
        .trim_start_matches(['-', '–', '—'])
        .trim_start();
    let r = r.strip_prefix('(').unwrap_or(r);
    let token = r
        .split(|c: char| c.is_whitespace() || c == ')')
        .next()
        .unwrap_or("");
    let date = digit(token).then(|| token.to_string());
    Ok(Title::Version(v, date))
}

/// The generated entries of a release as changelog bullets, grouped by section.
pub fn generated_groups(
    r: &crate::changegen::Release,
    style: &crate::changegen::Style,
) -> Vec<(&'static str, Vec<GenEntry>)> {
    crate::changegen::sections(r, style)
        .into_iter()
        .map(|(title, entries)| {
            let list = entries
                .into_iter()
                .map(|e| GenEntry {
                    text: crate::changegen::bullet(e, style),
                    short_hash: e.short().to_string(),
                    subject: e.commit.subject.clone(),
                })
                .collect();
            (title, list)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    /// The edited file followed by the notes, for snapshots.
    fn show(src: &str, new: &str, prefix: &str) -> String {
        match release(src, &v(new), prefix, "2026-11-21", "CHANGELOG.md") {
            Ok(e) => {
                let mut s = e.new_src;
                s.push_str(&format!(
                    "\n--- placeholders: {}\n",
                    e.placeholders_inserted
                ));
                for n in e.notes {
                    s.push_str(&format!("note: {n}\n"));
                }
                s
            }
            Err(e) => format!("Err: {e}\n"),
        }
    }

    fn check_release(src: &str, new: &str, prefix: &str, want: Expect) {
        want.assert_eq(&show(src, new, prefix));
    }

    const NORMAL: &str = "\
# Changelog

All notable changes to this project will be documented in this file.

## [Unreleased]

### Added

- A `--dry-run` flag.

### Fixed

- Crash on empty input.

## [1.2.3] - 2024-05-01

### Fixed

- Something.

## [1.2.2] - 2024-04-01

- Initial fixes.

[Unreleased]: https://github.com/o/r/compare/v1.2.3...HEAD
[1.2.3]: https://github.com/o/r/compare/v1.2.2...v1.2.3
[1.2.2]: https://github.com/o/r/releases/tag/v1.2.2
";

    #[test]
    fn normal_release_with_entries_and_links() {
        check_release(
            NORMAL,
            "1.3.0",
            "v",
            expect![[r#"
            # Changelog

            All notable changes to this project will be documented in this file.

            ## [Unreleased]

            ## [1.3.0] - 2026-11-21

            ### Added

            - A `--dry-run` flag.

            ### Fixed

            - Crash on empty input.

            ## [1.2.3] - 2024-05-01

            ### Fixed

            - Something.

            ## [1.2.2] - 2024-04-01

            - Initial fixes.

            [Unreleased]: https://github.com/o/r/compare/v1.3.0...HEAD
            [1.3.0]: https://github.com/o/r/compare/v1.2.3...v1.3.0
            [1.2.3]: https://github.com/o/r/compare/v1.2.2...v1.2.3
            [1.2.2]: https://github.com/o/r/releases/tag/v1.2.2

            --- placeholders: false
        "#]],
        );
    }

    #[test]
    fn empty_unreleased_gets_placeholders() {
        let src = "\
# Changelog

## [Unreleased]

### Added

### Fixed

## [1.2.3] - 2024-05-01

- Something.

[unreleased]: https://github.com/o/r/compare/v1.2.3...HEAD
[1.2.3]: https://github.com/o/r/releases/tag/v1.2.3
";
        check_release(
            src,
            "1.3.0",
            "v",
            expect![[r#"
            # Changelog

            ## [Unreleased]

            ### Added

            ### Fixed

            ## [1.3.0] - 2026-11-21

            ### Added

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Changed

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Fixed

            - _TODO: describe this change (placeholder inserted by slipway)_

            ## [1.2.3] - 2024-05-01

            - Something.

            [unreleased]: https://github.com/o/r/compare/v1.3.0...HEAD
            [1.3.0]: https://github.com/o/r/compare/v1.2.3...v1.3.0
            [1.2.3]: https://github.com/o/r/releases/tag/v1.2.3

            --- placeholders: true
            note: CHANGELOG.md: [Unreleased] was empty; inserted ### Added/### Changed/### Fixed placeholders for 1.3.0 — fill them in before publishing
        "#]],
        );
    }

    #[test]
    fn missing_unreleased() {
        let src = "\
# Changelog

Intro.

## [1.2.3] - 2024-05-01

- Something.
";
        check_release(
            src,
            "1.3.0",
            "v",
            expect![[r#"
            # Changelog

            Intro.

            ## [Unreleased]

            ## [1.3.0] - 2026-11-21

            ### Added

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Changed

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Fixed

            - _TODO: describe this change (placeholder inserted by slipway)_

            ## [1.2.3] - 2024-05-01

            - Something.

            --- placeholders: true
            note: CHANGELOG.md had no [Unreleased] section; added one and inserted ### Added/### Changed/### Fixed placeholders for 1.3.0 — fill them in before publishing
        "#]],
        );
    }

    #[test]
    fn first_release_no_version_headings() {
        // Entries, link pointing at HEAD: compare from the new tag on, link the tag itself.
        let src = "\
# Changelog

## [Unreleased]

- Everything.

[Unreleased]: https://github.com/o/r/compare/HEAD
";
        check_release(
            src,
            "0.1.0",
            "v",
            expect![[r#"
            # Changelog

            ## [Unreleased]

            ## [0.1.0] - 2026-11-21

            - Everything.

            [Unreleased]: https://github.com/o/r/compare/v0.1.0...HEAD
            [0.1.0]: https://github.com/o/r/releases/tag/v0.1.0

            --- placeholders: false
        "#]],
        );
        // No Unreleased and no versions: inserted before the link block.
        let src = "# Changelog\n\nIntro.\n\n[Unreleased]: https://gitlab.com/o/r/-/commits/HEAD\n";
        check_release(
            src,
            "0.1.0",
            "v",
            expect![[r#"
            # Changelog

            Intro.

            ## [Unreleased]

            ## [0.1.0] - 2026-11-21

            ### Added

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Changed

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Fixed

            - _TODO: describe this change (placeholder inserted by slipway)_

            [Unreleased]: https://gitlab.com/o/r/-/compare/v0.1.0...HEAD
            [0.1.0]: https://gitlab.com/o/r/-/tags/v0.1.0

            --- placeholders: true
            note: CHANGELOG.md had no [Unreleased] section; added one and inserted ### Added/### Changed/### Fixed placeholders for 0.1.0 — fill them in before publishing
        "#]],
        );
        // Only a title, no final newline.
        check_release(
            "# Changelog",
            "0.1.0",
            "v",
            expect![[r#"
            # Changelog

            ## [Unreleased]

            ## [0.1.0] - 2026-11-21

            ### Added

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Changed

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Fixed

            - _TODO: describe this change (placeholder inserted by slipway)_
            --- placeholders: true
            note: CHANGELOG.md had no [Unreleased] section; added one and inserted ### Added/### Changed/### Fixed placeholders for 0.1.0 — fill them in before publishing
        "#]],
        );
        // Nothing at all.
        check_release(
            "",
            "0.1.0",
            "v",
            expect![[r#"
            # Changelog

            ## [Unreleased]

            ## [0.1.0] - 2026-11-21

            ### Added

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Changed

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Fixed

            - _TODO: describe this change (placeholder inserted by slipway)_

            --- placeholders: true
            note: CHANGELOG.md had no [Unreleased] section; added one and inserted ### Added/### Changed/### Fixed placeholders for 0.1.0 — fill them in before publishing
        "#]],
        );
    }

    #[test]
    fn duplicate_version_is_refused() {
        check_release(
            NORMAL,
            "1.2.3",
            "v",
            expect![[r#"
            Err: CHANGELOG.md already has a section for 1.2.3 (line 15: `## [1.2.3] - 2024-05-01`); refusing to add a second one
        "#]],
        );
        // Spelled differently (v-prefix, PEP 440) is still the same version.
        let src = "## [Unreleased]\n\n- x\n\n## [v1.3.0rc1] - 2024-05-01\n";
        check_release(
            src,
            "1.3.0-rc.1",
            "v",
            expect![[r#"
            Err: CHANGELOG.md already has a section for 1.3.0-rc.1 (line 5: `## [v1.3.0rc1] - 2024-05-01`); refusing to add a second one
        "#]],
        );
    }

    #[test]
    fn parse_errors_name_the_line() {
        let cases: &[(&str, Expect)] = &[
            (
                "# C\n\n## [Unreleased]\n\n## [Unreleased]\n",
                expect!["line 5: a second [Unreleased] section (the first is on line 3)"],
            ),
            ("# C\n\n## [1.2.x] - 2024-05-01\n", expect!["line 3: cannot read a version from the heading `## [1.2.x] - 2024-05-01`; expected `## [X.Y.Z] - YYYY-MM-DD` or `## [Unreleased]`"]),
            ("## [1.2.3]\n## 1.2.3 - 2024-01-01\n", expect!["line 2: a second section for 1.2.3 (the first is on line 1)"]),
            ("## [Unreleased\n", expect!["line 1: unclosed `[` in the heading `## [Unreleased`"]),
        ];
        for (src, want) in cases {
            want.assert_eq(&Changelog::parse(src).unwrap_err());
        }
        check_release(
            "## [Unreleased]\n## [Unreleased]\n",
            "1.0.0",
            "v",
            expect![[r#"
            Err: CHANGELOG.md: line 2: a second [Unreleased] section (the first is on line 1)
        "#]],
        );
        let err = release("", &v("1.0.0"), "v", "2026-11-21\n", "C.md").unwrap_err();
        assert!(err.starts_with("invalid release date"), "{err}");
        check_release(
            "## [1.0.0]\n\n## [Unreleased]\n",
            "1.1.0",
            "v",
            expect![[r#"
            Err: CHANGELOG.md: [Unreleased] (line 3) comes after the section for 1.0.0 (line 1); move it to the top first
        "#]],
        );
    }

    #[test]
    fn headings_in_fences_and_comments_are_ignored() {
        let src = "\
# Changelog

## [Unreleased]

- Documented the format:

  ```markdown
  ## [9.9.9] - 2099-01-01
  ## [Unreleased]
  ```

~~~~
## [1.2.3] - 2024-05-01
~~~~

<!--
## [8.8.8] - template
-->

## [1.2.3] - 2024-05-01

- Something.
";
        let cl = Changelog::parse(src).unwrap();
        let found: Vec<String> = cl.versions().iter().map(|s| s.title.clone()).collect();
        assert_eq!(found, ["[1.2.3] - 2024-05-01"]);
        assert_eq!(cl.versions()[0].heading_line, 20);
        check_release(
            src,
            "1.3.0",
            "v",
            expect![[r#"
            # Changelog

            ## [Unreleased]

            ## [1.3.0] - 2026-11-21

            - Documented the format:

              ```markdown
              ## [9.9.9] - 2099-01-01
              ## [Unreleased]
              ```

            ~~~~
            ## [1.2.3] - 2024-05-01
            ~~~~

            <!--
            ## [8.8.8] - template
            -->

            ## [1.2.3] - 2024-05-01

            - Something.

            --- placeholders: false
        "#]],
        );
    }

    #[test]
    fn crlf_is_preserved() {
        for src in [
            NORMAL,
            "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2024-01-01\n\n- x\n",
        ] {
            let crlf = src.replace('\n', "\r\n");
            let lf = release(src, &v("1.3.0"), "v", "2026-11-21", "CHANGELOG.md").unwrap();
            let cr = release(&crlf, &v("1.3.0"), "v", "2026-11-21", "CHANGELOG.md").unwrap();
            assert_eq!(cr.new_src, lf.new_src.replace('\n', "\r\n"));
            assert!(!cr.new_src.replace("\r\n", "").contains(['\n', '\r']));
            assert_eq!(cr.notes, lf.notes);
        }
        // Missing Unreleased, no versions, no final newline.
        let out = release("# C\r\n\r\nIntro.", &v("1.0.0"), "v", "2026-11-21", "C.md").unwrap();
        assert!(!out.new_src.replace("\r\n", "").contains(['\n', '\r']));
        assert!(out.new_src.ends_with(PLACEHOLDER));
    }

    #[test]
    fn no_final_newline() {
        let src = NORMAL.trim_end();
        let out = release(src, &v("1.3.0"), "v", "2026-11-21", "CHANGELOG.md").unwrap();
        let want = release(NORMAL, &v("1.3.0"), "v", "2026-11-21", "CHANGELOG.md").unwrap();
        assert_eq!(out.new_src, want.new_src.trim_end());
        // The [Unreleased] link is the last line: the new definition still goes right after it.
        let src = "## [Unreleased]\n\n- x\n\n## [1.0.0] - 2024-01-01\n\n[1.0.0]: https://h/o/r/tree/v1.0.0\n[Unreleased]: https://h/o/r/compare/v1.0.0...HEAD";
        check_release(
            src,
            "1.1.0",
            "v",
            expect![[r#"
            ## [Unreleased]

            ## [1.1.0] - 2026-11-21

            - x

            ## [1.0.0] - 2024-01-01

            [1.0.0]: https://h/o/r/tree/v1.0.0
            [Unreleased]: https://h/o/r/compare/v1.1.0...HEAD
            [1.1.0]: https://h/o/r/compare/v1.0.0...v1.1.0
            --- placeholders: false
        "#]],
        );
        // An empty Unreleased heading as the very last line.
        check_release(
            "## [1.0.0] - 2024-01-01\n",
            "1.1.0",
            "v",
            expect![[r#"
            ## [Unreleased]

            ## [1.1.0] - 2026-11-21

            ### Added

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Changed

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Fixed

            - _TODO: describe this change (placeholder inserted by slipway)_

            ## [1.0.0] - 2024-01-01

            --- placeholders: true
            note: CHANGELOG.md had no [Unreleased] section; added one and inserted ### Added/### Changed/### Fixed placeholders for 1.1.0 — fill them in before publishing
        "#]],
        );
        check_release(
            "# C\n\n## [Unreleased]",
            "1.1.0",
            "v",
            expect![[r#"
            # C

            ## [Unreleased]

            ## [1.1.0] - 2026-11-21

            ### Added

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Changed

            - _TODO: describe this change (placeholder inserted by slipway)_

            ### Fixed

            - _TODO: describe this change (placeholder inserted by slipway)_
            --- placeholders: true
            note: CHANGELOG.md: [Unreleased] was empty; inserted ### Added/### Changed/### Fixed placeholders for 1.1.0 — fill them in before publishing
        "#]],
        );
    }

    #[test]
    fn tag_prefix_and_pre_release() {
        let src = "\
## Unreleased

- x

## 1.2.3 - 2024-05-01

[unreleased]: https://gitlab.com/o/r/-/compare/1.2.3...HEAD
";
        check_release(
            src,
            "1.3.0",
            "",
            expect![[r#"
            ## Unreleased

            ## [1.3.0] - 2026-11-21

            - x

            ## 1.2.3 - 2024-05-01

            [unreleased]: https://gitlab.com/o/r/-/compare/1.3.0...HEAD
            [1.3.0]: https://gitlab.com/o/r/-/compare/1.2.3...1.3.0

            --- placeholders: false
        "#]],
        );
        check_release(
            NORMAL,
            "1.3.0-rc.1",
            "v",
            expect![[r#"
            # Changelog

            All notable changes to this project will be documented in this file.

            ## [Unreleased]

            ## [1.3.0-rc.1] - 2026-11-21

            ### Added

            - A `--dry-run` flag.

            ### Fixed

            - Crash on empty input.

            ## [1.2.3] - 2024-05-01

            ### Fixed

            - Something.

            ## [1.2.2] - 2024-04-01

            - Initial fixes.

            [Unreleased]: https://github.com/o/r/compare/v1.3.0-rc.1...HEAD
            [1.3.0-rc.1]: https://github.com/o/r/compare/v1.2.3...v1.3.0-rc.1
            [1.2.3]: https://github.com/o/r/compare/v1.2.2...v1.2.3
            [1.2.2]: https://github.com/o/r/releases/tag/v1.2.2

            --- placeholders: false
        "#]],
        );
        // Tags with a slash in the prefix.
        let src = "## [Unreleased]\n\n- x\n\n[Unreleased]: https://github.com/o/r/compare/release/v1.2.3...HEAD\n";
        check_release(
            src,
            "1.3.0",
            "release/v",
            expect![[r#"
            ## [Unreleased]

            ## [1.3.0] - 2026-11-21

            - x

            [Unreleased]: https://github.com/o/r/compare/release/v1.3.0...HEAD
            [1.3.0]: https://github.com/o/r/compare/release/v1.2.3...release/v1.3.0

            --- placeholders: false
        "#]],
        );
    }

    #[test]
    fn link_notes() {
        // Not a compare link: left alone, with a note.
        let src = "## [Unreleased]\n\n- x\n\n## [1.0.0] - 2024-01-01\n\n[Unreleased]: https://example.com/changes\n";
        check_release(
            src,
            "1.1.0",
            "v",
            expect![[r#"
            ## [Unreleased]

            ## [1.1.0] - 2026-11-21

            - x

            ## [1.0.0] - 2024-01-01

            [Unreleased]: https://example.com/changes

            --- placeholders: false
            note: CHANGELOG.md line 7: the [Unreleased] link `https://example.com/changes` does not end in `<previous tag>...HEAD`; left it alone — update it and add a [1.1.0] link by hand
        "#]],
        );
        // Version links but no [Unreleased] link; a numeric reference link is not a version.
        let src = "## [Unreleased]\n\n- x [1]\n\n## [1.0.0] - 2024-01-01\n\n[1]: https://example.com\n[1.0.0]: https://h/o/r/tree/v1.0.0\n";
        check_release(
            src,
            "1.1.0",
            "v",
            expect![[r#"
            ## [Unreleased]

            ## [1.1.0] - 2026-11-21

            - x [1]

            ## [1.0.0] - 2024-01-01

            [1]: https://example.com
            [1.0.0]: https://h/o/r/tree/v1.0.0

            --- placeholders: false
            note: CHANGELOG.md has version links but no [Unreleased] link; add a [1.1.0] link by hand
        "#]],
        );
        // A stale [Unreleased] link is followed, with a note.
        let src = "## [Unreleased]\n\n- x\n\n## [1.0.1] - 2024-02-01\n\n## [1.0.0] - 2024-01-01\n\n[Unreleased]: https://h/o/r/compare/v1.0.0...HEAD\n";
        check_release(
            src,
            "1.1.0",
            "v",
            expect![[r#"
            ## [Unreleased]

            ## [1.1.0] - 2026-11-21

            - x

            ## [1.0.1] - 2024-02-01

            ## [1.0.0] - 2024-01-01

            [Unreleased]: https://h/o/r/compare/v1.1.0...HEAD
            [1.1.0]: https://h/o/r/compare/v1.0.0...v1.1.0

            --- placeholders: false
            note: CHANGELOG.md line 9: the [Unreleased] link compares from `v1.0.0`, not from v1.0.1 (the newest section); check the [1.1.0] link
        "#]],
        );
        // The new version's link already exists: not duplicated.
        let src = "## [Unreleased]\n\n- x\n\n## [1.0.0] - 2024-01-01\n\n[Unreleased]: https://h/o/r/compare/v1.0.0...HEAD\n[1.1.0]: https://h/o/r/compare/v1.0.0...v1.1.0\n[1.0.0]: https://h/o/r/tree/v1.0.0\n";
        check_release(
            src,
            "1.1.0",
            "v",
            expect![[r#"
            ## [Unreleased]

            ## [1.1.0] - 2026-11-21

            - x

            ## [1.0.0] - 2024-01-01

            [Unreleased]: https://h/o/r/compare/v1.1.0...HEAD
            [1.1.0]: https://h/o/r/compare/v1.0.0...v1.1.0
            [1.0.0]: https://h/o/r/tree/v1.0.0

            --- placeholders: false
            note: CHANGELOG.md: kept the existing [1.1.0] link definition
        "#]],
        );
    }

    #[test]
    fn placeholders_and_empty_bodies() {
        let cases: &[(&str, bool, bool)] = &[
            ("", true, false),
            ("\n\n", true, false),
            ("\r\n### Added\r\n\r\n### Fixed\r\n", true, false),
            ("\n<!-- add entries here -->\n", true, false),
            ("\n### Added\n\n- _TODO: describe this change (placeholder inserted by slipway)_\n", true, true),
            ("\n### Added\n\n- A feature.\n", false, false),
            ("\n- A feature.\n- _TODO: describe this change (placeholder inserted by slipway)_\n", false, true),
            ("Some prose.\n", false, false),
            ("- _TODO: the rest (placeholder inserted by slipway)_\n", false, true),
        ];
        for (body, empty, ph) in cases {
            assert_eq!(is_empty_body(body), *empty, "{body:?}");
            assert_eq!(has_placeholders(body), *ph, "{body:?}");
        }
        let src = "## [Unreleased]\n\n## [1.0.0] - 2024-01-01\n";
        let out = release(src, &v("1.1.0"), "v", "2026-11-21", "C.md").unwrap();
        let cl = Changelog::parse(&out.new_src).unwrap();
        let s = cl.section(&v("1.1.0")).unwrap();
        assert!(has_placeholders(cl.body(&out.new_src, s)));
        assert!(is_empty_body(cl.body(&out.new_src, s)));
        assert!(!has_placeholders(
            cl.body(&out.new_src, cl.unreleased().unwrap())
        ));
    }

    #[test]
    fn sections_and_newest_version_with_yanked() {
        let src = "\
# Changelog

## [Unreleased]

- x

## [1.2.4] - 2024-06-01 [YANKED]

- Broke things.

## [v1.2.3] - 2024-05-01

## 1.2.2 - 2024-04-01

## [1.2.0rc1](https://h/o/r/compare/v1.1.0...v1.2.0rc1) (2024-03-01)

## [1.1.0] ##

[Unreleased]: https://h/o/r/compare/v1.2.4...HEAD
";
        let cl = Changelog::parse(src).unwrap();
        let newest = cl.newest_version().unwrap();
        assert_eq!(newest.version, Some(v("1.2.4")));
        assert_eq!(newest.title, "[1.2.4] - 2024-06-01 [YANKED]");
        let rows: Vec<String> = cl
            .versions()
            .iter()
            .map(|s| {
                format!(
                    "{} {:?} line {} {:?} body={:?}",
                    s.version.as_ref().unwrap(),
                    s.date,
                    s.heading_line,
                    &src[s.heading.clone()],
                    cl.body(src, s)
                )
            })
            .collect();
        expect![[r###"
            1.2.4 Some("2024-06-01") line 7 "## [1.2.4] - 2024-06-01 [YANKED]" body="\n- Broke things.\n\n"
            1.2.3 Some("2024-05-01") line 11 "## [v1.2.3] - 2024-05-01" body="\n"
            1.2.2 Some("2024-04-01") line 13 "## 1.2.2 - 2024-04-01" body="\n"
            1.2.0-rc.1 Some("2024-03-01") line 15 "## [1.2.0rc1](https://h/o/r/compare/v1.1.0...v1.2.0rc1) (2024-03-01)" body="\n"
            1.1.0 None line 17 "## [1.1.0] ##" body="\n""###]]
        .assert_eq(&rows.join("\n"));
        let u = cl.unreleased().unwrap();
        assert_eq!(
            (u.heading_line, u.title.as_str(), cl.body(src, u)),
            (3, "[Unreleased]", "\n- x\n\n")
        );
        assert!(cl.section(&v("1.2.0-rc.1")).is_some());
        assert!(cl.section(&v("1.2.5")).is_none());
    }

    /// splitmix64: a tiny deterministic PRNG for the property test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.below(xs.len())]
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    /// A random changelog: its lines, the index of the Unreleased heading and of the
    /// `[Unreleased]:` definition (the lines a release may rewrite), and whether Unreleased has
    /// entries.
    fn random_changelog(rng: &mut Rng) -> (Vec<String>, Option<usize>, Option<usize>, bool) {
        let mut lines: Vec<String> = Vec::new();
        let entries = |rng: &mut Rng, lines: &mut Vec<String>| {
            let mut any = false;
            for _ in 0..rng.below(3) {
                lines.push(
                    rng.pick(&["### Added", "### Changed", "### Fixed", "### Security"])
                        .into(),
                );
                if rng.chance(80) {
                    lines.push(String::new());
                }
                for _ in 0..rng.below(3) {
                    any = true;
                    match rng.below(6) {
                        0 => lines.extend(
                            [
                                "- Example:",
                                "",
                                "  ```md",
                                "  ## [9.9.9] - 2099-01-01",
                                "  ```",
                            ]
                            .map(String::from),
                        ),
                        1 => lines.push("- Fixed `## [Unreleased]` parsing (#12).".into()),
                        2 => lines.push("  continued line".into()),
                        _ => lines.push(format!("- Entry {}.", rng.next() % 1000)),
                    }
                }
                if rng.chance(80) {
                    lines.push(String::new());
                }
            }
            if rng.chance(20) {
                lines.push("<!-- ## [7.7.7] - example -->".into());
            }
            any
        };
        if rng.chance(85) {
            lines.push("# Changelog".into());
            lines.push(String::new());
            if rng.chance(60) {
                lines.push("All notable changes to this project will be documented here.".into());
                lines.push(String::new());
            }
        }
        let mut unreleased = None;
        let mut has_entries = false;
        if rng.chance(75) {
            unreleased = Some(lines.len());
            lines.push(
                rng.pick(&[
                    "## [Unreleased]",
                    "## Unreleased",
                    "## [unreleased] - ReleaseDate",
                ])
                .into(),
            );
            if rng.chance(80) {
                lines.push(String::new());
            }
            has_entries = entries(rng, &mut lines);
        }
        let n = rng.below(4);
        let mut versions = Vec::new();
        for i in 0..n {
            let (major, minor) = (n - i, rng.below(10));
            let ver = format!("{major}.{minor}.{}", rng.below(10));
            let date = format!("2024-0{}-1{}", 1 + rng.below(9), rng.below(10));
            lines.push(match rng.below(6) {
                0 => format!("## [v{ver}] - {date}"),
                1 => format!("## {ver} - {date}"),
                2 => format!("## [{ver}] - {date} [YANKED]"),
                3 => format!("## [{major}.{minor}.0rc{}] - {date}", 1 + rng.below(3)),
                _ => format!("## [{ver}] - {date}"),
            });
            versions.push(ver);
            if rng.chance(80) {
                lines.push(String::new());
            }
            entries(rng, &mut lines);
        }
        let mut unreleased_def = None;
        if rng.chance(60) {
            if rng.chance(30) {
                lines.push(String::new());
            }
            if rng.chance(80) {
                unreleased_def = Some(lines.len());
                let prev = versions
                    .first()
                    .map_or("HEAD".to_string(), |v| format!("v{v}"));
                lines.push(match rng.below(5) {
                    0 => "[Unreleased]: https://example.com/changes".to_string(),
                    1 if versions.is_empty() => {
                        "[unreleased]: https://github.com/o/r/compare/HEAD".into()
                    }
                    _ if versions.is_empty() => "[unreleased]: https://example.com/log".into(),
                    _ => format!("[Unreleased]: https://github.com/o/r/compare/{prev}...HEAD"),
                });
            }
            for w in versions.windows(2) {
                lines.push(format!(
                    "[{}]: https://github.com/o/r/compare/v{}...v{}",
                    w[0], w[1], w[0]
                ));
            }
            if let Some(last) = versions.last() {
                lines.push(format!(
                    "[{last}]: https://github.com/o/r/releases/tag/v{last}"
                ));
            }
        }
        for _ in 0..rng.below(2) {
            lines.push(String::new());
        }
        (lines, unreleased, unreleased_def, has_entries)
    }

    #[test]
    fn property_release_only_adds_lines() {
        let mut rng = Rng(0x5EED);
        for case in 0..3000 {
            let (lines, unreleased, unreleased_def, has_entries) = random_changelog(&mut rng);
            let eol = if rng.chance(30) { "\r\n" } else { "\n" };
            let mut src = lines.join(eol);
            let final_newline = rng.chance(70);
            if final_newline && !src.is_empty() {
                src.push_str(eol);
            }
            let new = v(rng.pick(&["10.0.0", "10.0.0-rc.1", "10.1.0-alpha.2"]));
            let prefix = rng.pick(&["v", ""]);
            let ctx = format!("case {case}:\n{src}");
            let out = release(&src, &new, prefix, "2026-11-21", "CHANGELOG.md")
                .unwrap_or_else(|e| panic!("{ctx}\n{e}"));
            let got = &out.new_src;

            // Every original line (but the two a release rewrites) is still there, in order.
            let mut out_lines = got.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
            for (i, line) in lines.iter().enumerate() {
                if Some(i) == unreleased || Some(i) == unreleased_def {
                    continue;
                }
                assert!(
                    out_lines.any(|o| o == line),
                    "{ctx}\nline {i} {line:?} lost in:\n{got}"
                );
            }
            // Line endings: the file's own, everywhere (a file without any line ending gets
            // LF); final newline kept as it was.
            if eol == "\r\n" && src.contains('\n') {
                assert!(
                    !got.replace("\r\n", "").contains(['\r', '\n']),
                    "{ctx}\n{got:?}"
                );
            } else {
                assert!(!got.contains('\r'), "{ctx}");
            }
            if !src.is_empty() {
                assert_eq!(got.ends_with('\n'), src.ends_with('\n'), "{ctx}\n{got:?}");
            }

            let before = Changelog::parse(&src).unwrap();
            let after = Changelog::parse(got).unwrap();
            let s = after
                .section(&new)
                .unwrap_or_else(|| panic!("{ctx}\n{got}"));
            assert_eq!(after.newest_version(), Some(s));
            assert_eq!(out.placeholders_inserted, !has_entries, "{ctx}");
            if has_entries {
                let u = before.unreleased().unwrap();
                assert_eq!(after.body(got, s), before.body(&src, u), "{ctx}");
            }
            assert!(release(got, &new, prefix, "2026-11-22", "CHANGELOG.md")
                .unwrap_err()
                .contains("already has a section"));
        }
    }

    #[test]
    fn generated_entries_merge_with_hand_written_ones() {
        let src = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- Hand-written feature (abc1234).\n\n## [1.0.0] - 2026-01-01\n\n- x\n";
        let e = |text: &str, hash: &str, subject: &str| GenEntry {
            text: text.into(),
            short_hash: hash.into(),
            subject: subject.into(),
        };
        let groups = vec![
            (
                "Breaking changes",
                vec![e("drop v1 (1111111)\n  use v2", "1111111", "drop v1")],
            ),
            (
                "Added",
                vec![
                    e(
                        "hand-written feature (abc1234)",
                        "abc1234",
                        "hand-written feature",
                    ),
                    e("new thing (2222222)", "2222222", "new thing"),
                ],
            ),
            ("Fixed", vec![e("a bug (3333333)", "3333333", "a bug")]),
        ];
        let (out, n) = add_unreleased_entries(src, &groups).unwrap();
        assert_eq!(n, 3);
        expect_test::expect![[r#"
            # Changelog

            ## [Unreleased]

            ### Breaking changes

            - drop v1 (1111111)
              use v2

            ### Added

            - Hand-written feature (abc1234).
            - new thing (2222222)

            ### Fixed

            - a bug (3333333)

            ## [1.0.0] - 2026-01-01

            - x
        "#]]
        .assert_eq(&out);
        // Running it again adds nothing.
        assert_eq!(
            add_unreleased_entries(&out, &groups).unwrap(),
            (out.clone(), 0)
        );
    }

    #[test]
    fn generated_entries_into_empty_or_missing_unreleased_crlf() {
        let e = GenEntry {
            text: "a fix (1234567)".into(),
            short_hash: "1234567".into(),
            subject: "a fix".into(),
        };
        let groups = vec![("Fixed", vec![e])];
        let (out, n) =
            add_unreleased_entries("# C\r\n\r\n## [Unreleased]\r\n\r\n## [1.0.0]\r\n", &groups)
                .unwrap();
        assert_eq!(n, 1);
        assert_eq!(out, "# C\r\n\r\n## [Unreleased]\r\n\r\n### Fixed\r\n\r\n- a fix (1234567)\r\n\r\n## [1.0.0]\r\n");
        let (out, _) = add_unreleased_entries("# C\n\n## [1.0.0]\n", &groups).unwrap();
        assert_eq!(
            out,
            "# C\n\n## [Unreleased]\n\n### Fixed\n\n- a fix (1234567)\n\n## [1.0.0]\n"
        );
    }
}
