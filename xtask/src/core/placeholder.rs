//! `{name}` placeholders in a command's arguments (the deploy hook's argv), pure.
//!
//! `{version}` is replaced by its value; `{{` and `}}` stand for a literal `{` and `}` (a Helm
//! list, `--set hosts={{a,b}}`). An unknown name, or a `{` that is not closed, is an error
//! naming it. Rendering never goes through a shell: each argument stays one argument.

/// The placeholders a deploy command may use, in the order the README lists them.
pub const DEPLOY: &[&str] = &["version", "tag", "docker_tag", "digest", "image"];

/// One piece of an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Name(&'a str),
}

fn pieces(arg: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = arg;
    while !rest.is_empty() {
        let Some(i) = rest.find(['{', '}']) else {
            out.push(Piece::Text(rest));
            break;
        };
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push(Piece::Text("{"));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push(Piece::Text("}"));
            rest = after;
        } else if tail.starts_with('}') {
            return Err(format!(
                "`{arg}` has a `}}` that closes nothing (write `}}}}` for a literal one)"
            ));
        } else {
            let Some(end) = tail.find('}') else {
                return Err(format!(
                    "`{arg}` has a `{{` that is not closed (write `{{{{` for a literal one)"
                ));
            };
            out.push(Piece::Name(&tail[1..end]));
            rest = &tail[end + 1..];
        }
    }
    Ok(out)
}

/// Every problem with the placeholders of `argv` given the `known` names: unknown names (each
/// once, in order of appearance) and malformed braces.
pub fn check(argv: &[String], known: &[&str]) -> Vec<String> {
    let mut unknown: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for arg in argv {
        match pieces(arg) {
            Ok(ps) => {
                for p in ps {
                    if let Piece::Name(n) = p {
                        if !known.contains(&n) && !unknown.iter().any(|u| u == n) {
                            unknown.push(n.to_string());
                        }
                    }
                }
            }
            Err(e) => problems.push(e),
        }
    }
    if !unknown.is_empty() {
        problems.insert(
            0,
            format!(
                "unknown placeholder{} {}; known: {}",
                if unknown.len() > 1 { "s" } else { "" },
                unknown
                    .iter()
                    .map(|u| format!("{{{u}}}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                known
                    .iter()
                    .map(|k| format!("{{{k}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    problems
}

/// The names `argv` uses (each once, in order).
pub fn used(argv: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for arg in argv {
        for p in pieces(arg).unwrap_or_default() {
            if let Piece::Name(n) = p {
                if !out.iter().any(|o| o == n) {
                    out.push(n.to_string());
                }
            }
        }
    }
    out
}

/// `arg` with every placeholder replaced by `value(name)`; a name without a value is an error
/// naming it.
pub fn render(arg: &str, value: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(arg.len());
    for p in pieces(arg)? {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Name(n) => match value(n) {
                Some(v) => out.push_str(&v),
                None => return Err(format!("`{arg}` uses {{{n}}}, which has no value here")),
            },
        }
    }
    Ok(out)
}

/// [`render`] over a whole argv.
pub fn render_all(
    argv: &[String],
    value: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    argv.iter().map(|a| render(a, value)).collect()
}

/// The argv as one line for people to read (release notes, plans): every placeholder with a
/// value filled in, those without one left as `{name}`, each argument shell-quoted (display
/// only: it is never run through a shell). Malformed braces are shown as written.
pub fn display(argv: &[String], value: &dyn Fn(&str) -> Option<String>) -> String {
    let filled: Vec<String> = argv
        .iter()
        .map(|a| {
            render(a, &|n| Some(value(n).unwrap_or_else(|| format!("{{{n}}}"))))
                .unwrap_or_else(|_| a.clone())
        })
        .collect();
    shell_line(&filled)
}

/// `text` as Markdown inline code (a longer fence when it holds backticks).
pub fn inline_code(text: &str) -> String {
    let mut fence = "`".to_string();
    while text.contains(fence.as_str()) {
        fence.push('`');
    }
    if fence.len() > 1 || text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("`{text}`")
    }
}

/// One argument quoted for a POSIX shell, for display only (copy-paste): plain words stay as
/// they are, anything else goes in single quotes.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// An argv as one shell-quoted line, for display only.
pub fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn values(name: &str) -> Option<String> {
        match name {
            "version" => Some("1.2.3rc1".into()),
            "tag" => Some("v1.2.3-rc.1".into()),
            "docker_tag" => Some("1.2.3-rc.1".into()),
            "image" => Some("127.0.0.1:5000/acme/app".into()),
            _ => None,
        }
    }

    #[test]
    fn renders_each_argument_as_one_argument() {
        for (arg, want) in [
            ("image.tag={docker_tag}", Ok("image.tag=1.2.3-rc.1")),
            (
                "{image}:{docker_tag}",
                Ok("127.0.0.1:5000/acme/app:1.2.3-rc.1"),
            ),
            ("plain", Ok("plain")),
            ("", Ok("")),
            ("{version}{version}", Ok("1.2.3rc11.2.3rc1")),
            ("hosts={{a,b}}", Ok("hosts={a,b}")),
            ("{{{tag}}}", Ok("{v1.2.3-rc.1}")),
            ("a b; rm -rf /", Ok("a b; rm -rf /")),
            (
                "{digest}",
                Err("`{digest}` uses {digest}, which has no value here"),
            ),
            (
                "{tag",
                Err("`{tag` has a `{` that is not closed (write `{{` for a literal one)"),
            ),
            (
                "a}b",
                Err("`a}b` has a `}` that closes nothing (write `}}` for a literal one)"),
            ),
        ] {
            assert_eq!(
                render(arg, &values).as_deref(),
                want.map_err(String::from).as_deref(),
                "{arg}"
            );
        }
    }

    #[test]
    fn check_names_every_unknown_placeholder_once() {
        let known = DEPLOY;
        assert_eq!(
            check(
                &argv(&["helm", "--set", "image.tag={docker_tag}", "{digest}"]),
                known
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            check(&argv(&["{sha}", "{env}-{sha}", "{{literal}}"]), known),
            ["unknown placeholders {sha}, {env}; known: {version}, {tag}, {docker_tag}, {digest}, {image}"]
        );
        assert_eq!(
            check(&argv(&["{Version}", "{oops"]), known),
            [
                "unknown placeholder {Version}; known: {version}, {tag}, {docker_tag}, {digest}, {image}",
                "`{oops` has a `{` that is not closed (write `{{` for a literal one)",
            ]
        );
        assert_eq!(
            used(&argv(&["{tag}", "{digest}@{tag}", "{{x}}"])),
            ["tag", "digest"]
        );
    }

    #[test]
    fn display_fills_what_is_known_and_names_the_rest() {
        assert_eq!(
            display(
                &argv(&[
                    "helm",
                    "--set",
                    "image.tag={docker_tag}",
                    "d={digest}",
                    "{bad"
                ]),
                &values
            ),
            "helm --set image.tag=1.2.3-rc.1 'd={digest}' '{bad'"
        );
        assert_eq!(inline_code("helm upgrade"), "`helm upgrade`");
        assert_eq!(inline_code("echo `x`"), "`` echo `x` ``");
    }

    #[test]
    fn shell_lines_quote_for_display_only() {
        assert_eq!(
            shell_line(&argv(&[
                "helm",
                "upgrade",
                "--set",
                "image.tag=1.2.3",
                "a b",
                "it's",
                ""
            ])),
            "helm upgrade --set image.tag=1.2.3 'a b' 'it'\\''s' ''"
        );
    }
}
