//! The changelog file a person reads, as a standalone HTML page: the project's name, one anchor
//! per version (`#v1.2.3`), headings without the Markdown brackets (a version links where the file
//! defines its link), lists, paragraphs and code blocks, inline code, links, bold, and links for
//! `#123` and commit hashes when the repository URL is known. The link definitions themselves are
//! not shown. A small Markdown subset on the changelog's own line model; everything is escaped.

use crate::changegen::html_escape;
use crate::changelog::Changelog;

/// Renders `src` (parsed as `cl`) for `project`; `repo` is the repository's web URL.
pub fn render(src: &str, cl: &Changelog, project: &str, repo: Option<&str>) -> String {
    let body_end = cl.link_block().unwrap_or(src.len());
    let defs = link_defs(&src[body_end..]);
    let version_at: Vec<(usize, String)> = cl
        .versions()
        .iter()
        .filter_map(|s| Some((s.heading_line, s.version.as_ref()?.to_string())))
        .chain(
            cl.unreleased()
                .map(|u| (u.heading_line, "unreleased".to_string())),
        )
        .collect();
    let ctx = Ctx { defs, repo };
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{0} changelog</title>\n<style>\n\
         body{{font:16px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;color:#222}}\n\
         h2{{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}}h2 a.anchor{{color:inherit;text-decoration:none}}\n\
         code,pre{{font-family:ui-monospace,monospace;font-size:.9em}}pre{{background:#f6f8fa;padding:.6rem;overflow:auto}}\n\
         </style>\n</head>\n<body>\n<p class=\"project\">{0}</p>\n",
        html_escape(project)
    );
    let mut in_list = false;
    let mut para: Vec<String> = Vec::new();
    let mut fence: Option<String> = None;
    let flush = |para: &mut Vec<String>, out: &mut String| {
        if !para.is_empty() {
            out.push_str(&format!("<p>{}</p>\n", para.join(" ")));
            para.clear();
        }
    };
    for (i, raw) in src[..body_end].lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if let Some(close) = &fence {
            if line.trim_start().starts_with(close.as_str()) {
                out.push_str("</code></pre>\n");
                fence = None;
            } else {
                out.push_str(&html_escape(line));
                out.push('\n');
            }
            continue;
        }
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            flush(&mut para, &mut out);
            close_list(&mut in_list, &mut out);
            fence = Some(t[..3].to_string());
            out.push_str("<pre><code>");
            continue;
        }
        if t.starts_with("<!--") || t.is_empty() {
            flush(&mut para, &mut out);
            if t.is_empty() {
                continue;
            }
            continue;
        }
        let level = t.bytes().take_while(|&b| b == b'#').count();
        if (1..=6).contains(&level) && t[level..].starts_with(' ') {
            flush(&mut para, &mut out);
            close_list(&mut in_list, &mut out);
            let title = t[level..].trim().trim_end_matches('#').trim();
            match version_at.iter().find(|(l, _)| *l == i + 1) {
                Some((_, v)) => {
                    let id = if v == "unreleased" {
                        v.clone()
                    } else {
                        format!("v{v}")
                    };
                    out.push_str(&format!(
                        "<h{level} id=\"{id}\"><a class=\"anchor\" href=\"#{id}\">#</a> {}</h{level}>\n",
                        ctx.heading(title)
                    ));
                }
                None => out.push_str(&format!("<h{level}>{}</h{level}>\n", ctx.inline(title))),
            }
            continue;
        }
        let bullet = ["- ", "* ", "+ "].iter().find_map(|b| t.strip_prefix(b));
        match bullet {
            Some(item) => {
                flush(&mut para, &mut out);
                if !in_list {
                    out.push_str("<ul>\n");
                    in_list = true;
                }
                out.push_str(&format!("<li>{}</li>\n", ctx.inline(item)));
            }
            None if in_list && line.starts_with(' ') => {
                // A continuation line of the last item.
                if out.ends_with("</li>\n") {
                    out.truncate(out.len() - "</li>\n".len());
                    out.push_str(&format!(" {}</li>\n", ctx.inline(t)));
                }
            }
            None => {
                close_list(&mut in_list, &mut out);
                para.push(ctx.inline(t));
            }
        }
    }
    flush(&mut para, &mut out);
    close_list(&mut in_list, &mut out);
    if fence.is_some() {
        out.push_str("</code></pre>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn close_list(in_list: &mut bool, out: &mut String) {
    if *in_list {
        out.push_str("</ul>\n");
        *in_list = false;
    }
}

/// `[label]: url` lines of the trailing block, label lowercased.
fn link_defs(block: &str) -> Vec<(String, String)> {
    block
        .lines()
        .filter_map(|l| {
            let r = l.trim().strip_prefix('[')?;
            let (label, rest) = r.split_once("]:")?;
            let url = rest.split_whitespace().next()?.trim_matches(['<', '>']);
            Some((label.trim().to_lowercase(), url.to_string()))
        })
        .collect()
}

struct Ctx<'a> {
    defs: Vec<(String, String)>,
    repo: Option<&'a str>,
}

impl Ctx<'_> {
    fn def(&self, label: &str) -> Option<&str> {
        let l = label.trim().to_lowercase();
        self.defs
            .iter()
            .find(|(k, _)| *k == l)
            .map(|(_, u)| u.as_str())
    }

    /// A version heading: `[1.2.3] - date` → the version (linked when the file links it) and the
    /// rest, without brackets.
    fn heading(&self, title: &str) -> String {
        if let Some(r) = title.strip_prefix('[') {
            if let Some(close) = r.find(']') {
                let label = &r[..close];
                let mut rest = &r[close + 1..];
                let url = if let Some(u) = rest.strip_prefix('(').and_then(|u| u.split_once(')')) {
                    rest = u.1;
                    Some(u.0.to_string())
                } else {
                    self.def(label).map(str::to_string)
                };
                let shown = html_escape(label);
                let head = match url {
                    Some(u) => format!("<a href=\"{}\">{shown}</a>", html_escape(&u)),
                    None => shown,
                };
                return format!("{head}{}", self.inline(rest));
            }
        }
        self.inline(title)
    }

    /// Inline Markdown: code spans, links (inline and by reference), bold, `#123`, commit hashes.
    fn inline(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('`') {
                if let Some(e) = r.find('`') {
                    out.push_str(&format!("<code>{}</code>", html_escape(&r[..e])));
                    rest = &r[e + 1..];
                    continue;
                }
            }
            if let Some(r) = rest.strip_prefix("**") {
                if let Some(e) = r.find("**") {
                    out.push_str(&format!("<strong>{}</strong>", self.inline(&r[..e])));
                    rest = &r[e + 2..];
                    continue;
                }
            }
            if let Some(r) = rest.strip_prefix('[') {
                if let Some(close) = r.find(']') {
                    let label = &r[..close];
                    let after = &r[close + 1..];
                    if let Some((u, tail)) = after.strip_prefix('(').and_then(|a| a.split_once(')'))
                    {
                        out.push_str(&format!(
                            "<a href=\"{}\">{}</a>",
                            html_escape(u),
                            self.plain(label)
                        ));
                        rest = tail;
                        continue;
                    }
                    let (key, tail) = match after.strip_prefix("[]") {
                        Some(t) => (label, t),
                        None => match after.strip_prefix('[').and_then(|a| a.split_once(']')) {
                            Some((k, t)) => (k, t),
                            None => (label, after),
                        },
                    };
                    if let Some(u) = self.def(key) {
                        out.push_str(&format!(
                            "<a href=\"{}\">{}</a>",
                            html_escape(u),
                            self.plain(label)
                        ));
                        rest = tail;
                        continue;
                    }
                }
            }
            let c = rest.chars().next().expect("not empty");
            let boundary = out.is_empty() || !out.ends_with(|p: char| p.is_ascii_alphanumeric());
            if c == '#' && boundary {
                let n: String = rest[1..].chars().take_while(char::is_ascii_digit).collect();
                if let (false, Some(repo)) = (n.is_empty(), self.repo) {
                    out.push_str(&format!(
                        "<a href=\"{}/issues/{n}\">#{n}</a>",
                        html_escape(repo)
                    ));
                    rest = &rest[1 + n.len()..];
                    continue;
                }
            }
            if c.is_ascii_hexdigit() && boundary {
                let w: String = rest
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                let hexish = (7..=40).contains(&w.len())
                    && w.chars()
                        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
                    && w.chars().any(|c| c.is_ascii_digit())
                    && w.chars().any(|c| c.is_ascii_alphabetic());
                if let (true, Some(repo)) = (hexish, self.repo) {
                    out.push_str(&format!(
                        "<a href=\"{}/commit/{w}\"><code>{w}</code></a>",
                        html_escape(repo)
                    ));
                    rest = &rest[w.len()..];
                    continue;
                }
                // Not a hash: the whole word as text (a hash never starts mid-word).
                out.push_str(&html_escape(&w));
                rest = &rest[w.len()..];
                continue;
            }
            out.push_str(&html_escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// Link text: inline code and escapes, no nested links.
    fn plain(&self, text: &str) -> String {
        Ctx {
            defs: Vec::new(),
            repo: None,
        }
        .inline(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_a_person_reads() {
        let src = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- `--json` output (#12, abc1234)\n  continued\n\n## [1.2.3] - 2026-10-01\n\n### Fixed\n\n* A **bad** <bug> in [the docs](https://d.example/x) and [#9][]\n\n```\n## [0.0.1] not a heading\n```\n\n[Unreleased]: https://github.com/o/r/compare/v1.2.3...HEAD\n[1.2.3]: https://github.com/o/r/compare/v1.2.2...v1.2.3\n[#9]: https://github.com/o/r/issues/9\n";
        let cl = Changelog::parse(src).unwrap();
        let html = render(src, &cl, "acme-app", Some("https://github.com/o/r"));
        expect_test::expect![[r##"
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>acme-app changelog</title>
            <style>
            body{font:16px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;color:#222}
            h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}h2 a.anchor{color:inherit;text-decoration:none}
            code,pre{font-family:ui-monospace,monospace;font-size:.9em}pre{background:#f6f8fa;padding:.6rem;overflow:auto}
            </style>
            </head>
            <body>
            <p class="project">acme-app</p>
            <h1>Changelog</h1>
            <h2 id="unreleased"><a class="anchor" href="#unreleased">#</a> <a href="https://github.com/o/r/compare/v1.2.3...HEAD">Unreleased</a></h2>
            <h3>Added</h3>
            <ul>
            <li><code>--json</code> output (<a href="https://github.com/o/r/issues/12">#12</a>, <a href="https://github.com/o/r/commit/abc1234"><code>abc1234</code></a>) continued</li>
            </ul>
            <h2 id="v1.2.3"><a class="anchor" href="#v1.2.3">#</a> <a href="https://github.com/o/r/compare/v1.2.2...v1.2.3">1.2.3</a> - 2026-10-01</h2>
            <h3>Fixed</h3>
            <ul>
            <li>A <strong>bad</strong> &lt;bug&gt; in <a href="https://d.example/x">the docs</a> and <a href="https://github.com/o/r/issues/9">#9</a></li>
            </ul>
            <pre><code>## [0.0.1] not a heading
            </code></pre>
            </body>
            </html>
        "##]]
        .assert_eq(&html);
        assert!(!html.contains("[1.2.3]") && !html.contains("[Unreleased]"));
        // Without a repository URL: no guessed links; words that look hex stay words.
        let plain = render(
            "## 0.1.0\n\n- fixed #3 in decade 2020abc\n",
            &Changelog::parse("## 0.1.0\n\n- fixed #3 in decade 2020abc\n").unwrap(),
            "p",
            None,
        );
        assert!(
            plain.contains("<li>fixed #3 in decade 2020abc</li>"),
            "{plain}"
        );
        assert!(plain.contains("<h2 id=\"v0.1.0\">"), "{plain}");
    }
}
