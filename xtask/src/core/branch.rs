//! Release branches (pure, table-tested): the glob patterns of `branches`, the maintenance line a
//! branch name states (`release/1.2` → 1.2), and which versions a branch may release.
//!
//! Patterns: `*` matches any run of characters **within one path segment** (never a `/`), `**`
//! any run **across** segments (`/` included), `?` one character other than `/`; every other
//! character matches itself. So `release/*` matches `release/1.2` but not `release/1.2/wip`;
//! `release/**` matches both. A pattern without wildcards names one branch.

use semver::Version;

/// Does the branch `name` match `pattern`?
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    glob(&p, &s)
}

fn glob(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') if p.get(1) == Some(&'*') => {
            let rest = &p[2..];
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        Some('*') => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if glob(rest, &s[i..]) {
                    return true;
                }
                if s.get(i) == Some(&'/') {
                    break;
                }
            }
            false
        }
        Some('?') => s.first().is_some_and(|c| *c != '/') && glob(&p[1..], &s[1..]),
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

/// The first of `patterns` that `name` matches.
pub fn matching<'a>(patterns: &'a [String], name: &str) -> Option<&'a str> {
    patterns
        .iter()
        .find(|p| matches(p, name))
        .map(String::as_str)
}

/// Why `pattern` cannot name branches (None: it can). Git's ref rules that a pattern can break
/// by itself: empty, whitespace, `..`, a leading or trailing `/` or `.`, `//`, `***`, and the
/// characters git refuses (`~ ^ : \ [`).
pub fn pattern_problem(pattern: &str) -> Option<String> {
    if pattern.trim().is_empty() {
        return Some("is empty".into());
    }
    if pattern.contains(char::is_whitespace) || pattern.contains(char::is_control) {
        return Some("contains whitespace".into());
    }
    if let Some(c) = pattern.chars().find(|c| "~^:\\[".contains(*c)) {
        return Some(format!(
            "contains `{c}`, which git refuses in a branch name"
        ));
    }
    if pattern.contains("***") {
        return Some("has `***`; use `*` (within a segment) or `**` (across segments)".into());
    }
    if pattern.contains("..") || pattern.contains("//") {
        return Some("contains `..` or `//`, which git refuses in a branch name".into());
    }
    if pattern.starts_with(['/', '.', '-']) || pattern.ends_with(['/', '.']) {
        return Some("starts or ends with `/` or `.` (or starts with `-`)".into());
    }
    None
}

/// The maintenance line a branch name states: its last `/`-segment is `X.Y` (or `vX.Y`), both
/// plain numbers — `release/1.2`, `hotfix/v2.0`, `1.4`. None for any other name.
pub fn line_of(branch: &str) -> Option<(u64, u64)> {
    let last = branch.rsplit('/').next()?;
    let last = last.strip_prefix('v').unwrap_or(last);
    let (x, y) = last.split_once('.')?;
    let num = |s: &str| {
        (!s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0')))
        .then(|| s.parse::<u64>().ok())
        .flatten()
    };
    Some((num(x)?, num(y)?))
}

/// `1.2` → `release/1.2`: the branch `hotfix` makes for a line.
pub fn maintenance_branch(line: (u64, u64)) -> String {
    format!("release/{}.{}", line.0, line.1)
}

/// `1.2`, as users type a line.
pub fn parse_line(s: &str) -> Option<(u64, u64)> {
    let s = s.trim();
    (!s.contains('/')).then(|| line_of(s)).flatten()
}

/// Where a release is cut, for the version rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The main line (`branch`), or a release branch whose name states no line: any version
    /// greater than every release tag.
    Main,
    /// A maintenance branch of line X.Y: only X.Y.* versions, greater than the line's tags.
    Line(u64, u64),
}

impl Cut {
    /// The cut of a release from `branch` when the main line is `main`.
    pub fn of(branch: &str, main: &str) -> Cut {
        match line_of(branch) {
            Some((x, y)) if branch != main => Cut::Line(x, y),
            _ => Cut::Main,
        }
    }

    fn holds(&self, v: &Version) -> bool {
        match self {
            Cut::Main => true,
            Cut::Line(x, y) => v.major == *x && v.minor == *y,
        }
    }
}

/// Refuses `new` on a maintenance branch when it is not on the branch's line. `what` says where
/// the version came from (`` `minor` ``, `` `auto` ``; None: it was given as is).
pub fn check_line(
    cut: Cut,
    branch: &str,
    main: &str,
    new: &Version,
    what: Option<&str>,
) -> Result<(), String> {
    let Cut::Line(x, y) = cut else {
        return Ok(());
    };
    if cut.holds(new) {
        return Ok(());
    }
    let (gives, which) = match what {
        Some(w) => (format!("{w} gives {new}, "), "which is "),
        None => (format!("{new} is "), ""),
    };
    if (new.major, new.minor) > (x, y) {
        let level = if new.major != x { "major" } else { "minor" };
        Err(format!(
            "{gives}a {level} release, but `{branch}` is the maintenance branch of line {x}.{y} and \
             releases only {x}.{y}.x versions; {level} releases are cut from `{main}` (`git switch {main}`), \
             patches of {x}.{y} here (`patch`)"
        ))
    } else {
        Err(format!(
            "{gives}{which}not on line {x}.{y}: `{branch}` releases only {x}.{y}.x versions (`patch`); \
             other lines are released from their own branch"
        ))
    }
}

/// Refuses `new` unless it is greater than every release tag it competes with: on a maintenance
/// line the tags of that line (a newer line's releases do not count), else all of them. A tag of
/// `new` itself is reported elsewhere (the tag exists) and skipped here.
pub fn check_newer_than_tags(
    cut: Cut,
    new: &Version,
    tags: &[Version],
    prefix: &str,
) -> Result<(), String> {
    let newest = tags
        .iter()
        .filter(|t| cut.holds(t))
        .filter(|t| t.cmp_precedence(new).is_ne())
        .max_by(|a, b| a.cmp_precedence(b));
    match newest {
        Some(t) if t.cmp_precedence(new).is_gt() => Err(match cut {
            Cut::Line(x, y) => format!(
                "{new} is not greater than {prefix}{t}, the newest release of line {x}.{y}; \
                 release a version above it (`patch`)"
            ),
            Cut::Main => format!(
                "{new} is not greater than {prefix}{t}, the newest release tag; release a version \
                 above it (an older line is patched on its maintenance branch: `cargo xtask hotfix X.Y`)"
            ),
        }),
        _ => Ok(()),
    }
}

/// The maintenance lines the stable release versions make (`1.2`, `1.3`), ascending, each once.
pub fn lines(versions: &[Version]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = versions
        .iter()
        .filter(|v| v.pre.is_empty())
        .map(|v| (v.major, v.minor))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn glob_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("main", "main", true),
            ("main", "mainline", false),
            ("main", "mai", false),
            ("release/*", "release/1.2", true),
            ("release/*", "release/", true),
            ("release/*", "release", false),
            ("release/*", "release/1.2/wip", false),
            ("release/*", "releases/1.2", false),
            ("release/**", "release/1.2/wip", true),
            ("release/**", "release/1.2", true),
            ("**", "any/thing/at/all", true),
            ("*", "main", true),
            ("*", "feature/x", false),
            ("release/*.*", "release/1.2", true),
            ("release/*.*", "release/12", false),
            ("release/v?.?", "release/v1.2", true),
            ("release/v?.?", "release/v1.10", false),
            ("?", "/", false),
            ("*/stable", "1.x/stable", true),
            ("*/stable", "a/b/stable", false),
            ("**/stable", "a/b/stable", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY/c", false),
            ("a**c", "aX/Yc", true),
            ("rel*se/*", "release/2.0", true),
        ];
        for (p, name, want) in cases {
            assert_eq!(matches(p, name), *want, "{p} ~ {name}");
        }
        let pats = vec!["main".to_string(), "release/*".to_string()];
        assert_eq!(matching(&pats, "release/1.2"), Some("release/*"));
        assert_eq!(matching(&pats, "feature/x"), None);
    }

    #[test]
    fn pattern_problems() {
        for ok in ["main", "release/*", "release/**", "hotfix/v?.?", "1.x"] {
            assert_eq!(pattern_problem(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("", "empty"),
            ("rel ease/*", "whitespace"),
            ("release/[0-9]*", "`[`"),
            ("release/***", "`***`"),
            ("release/../x", "`..`"),
            ("release/", "ends with"),
            ("/release", "starts"),
        ] {
            let p = pattern_problem(bad).unwrap_or_default();
            assert!(p.contains(says), "{bad}: {p}");
        }
    }

    #[test]
    fn lines_of_branch_names() {
        let cases: &[(&str, Option<(u64, u64)>)] = &[
            ("release/1.2", Some((1, 2))),
            ("release/v1.2", Some((1, 2))),
            ("hotfix/0.10", Some((0, 10))),
            ("1.4", Some((1, 4))),
            ("release/1.2.3", None),
            ("release/1", None),
            ("release/1.x", None),
            ("release/01.2", None),
            ("release/1.2/wip", None),
            ("main", None),
            ("release/", None),
        ];
        for (b, want) in cases {
            assert_eq!(line_of(b), *want, "{b}");
        }
        assert_eq!(parse_line("1.2"), Some((1, 2)));
        assert_eq!(parse_line("v1.2"), Some((1, 2)));
        assert_eq!(parse_line("release/1.2"), None);
        assert_eq!(parse_line("1.2.3"), None);
        assert_eq!(maintenance_branch((1, 2)), "release/1.2");
        assert_eq!(Cut::of("release/1.2", "main"), Cut::Line(1, 2));
        assert_eq!(Cut::of("main", "main"), Cut::Main);
        assert_eq!(Cut::of("release/legacy", "main"), Cut::Main);
        // The main line is the main line, whatever its name says.
        assert_eq!(Cut::of("release/2.0", "release/2.0"), Cut::Main);
    }

    #[test]
    fn versions_on_a_line() {
        let line = Cut::Line(1, 2);
        assert!(check_line(line, "release/1.2", "main", &v("1.2.1"), Some("`patch`")).is_ok());
        assert!(check_line(line, "release/1.2", "main", &v("1.2.1-rc.1"), None).is_ok());
        let e = check_line(line, "release/1.2", "main", &v("1.3.0"), Some("`minor`")).unwrap_err();
        assert!(
            e.starts_with("`minor` gives 1.3.0, a minor release, but `release/1.2` is the maintenance branch of line 1.2")
                && e.contains("minor releases are cut from `main` (`git switch main`)"),
            "{e}"
        );
        let e = check_line(line, "release/1.2", "main", &v("2.0.0"), Some("`auto`")).unwrap_err();
        assert!(
            e.contains("a major release") && e.contains("major releases are cut from `main`"),
            "{e}"
        );
        let e = check_line(line, "release/1.2", "main", &v("1.1.9"), None).unwrap_err();
        assert!(
            e.starts_with("1.1.9 is not on line 1.2: `release/1.2` releases only 1.2.x"),
            "{e}"
        );
        assert!(check_line(Cut::Main, "main", "main", &v("9.0.0"), Some("`major`")).is_ok());
    }

    #[test]
    fn newer_than_the_tags_it_competes_with() {
        let tags: Vec<Version> = ["1.2.0", "1.3.0", "1.2.1-rc.1", "0.9.0"]
            .iter()
            .map(|s| v(s))
            .collect();
        // On line 1.2, 1.3.0 does not count.
        assert!(check_newer_than_tags(Cut::Line(1, 2), &v("1.2.1"), &tags, "v").is_ok());
        let e =
            check_newer_than_tags(Cut::Line(1, 2), &v("1.2.0"), &[v("1.2.3")], "v").unwrap_err();
        assert!(
            e.contains("not greater than v1.2.3, the newest release of line 1.2"),
            "{e}"
        );
        // On main, every tag counts.
        let e = check_newer_than_tags(Cut::Main, &v("1.2.1"), &tags, "v").unwrap_err();
        assert!(
            e.contains("not greater than v1.3.0, the newest release tag"),
            "{e}"
        );
        assert!(check_newer_than_tags(Cut::Main, &v("1.3.1"), &tags, "v").is_ok());
        // Its own tag is reported as existing, not here.
        assert!(check_newer_than_tags(Cut::Main, &v("1.3.0"), &tags, "v").is_ok());
        assert!(check_newer_than_tags(Cut::Main, &v("0.1.0"), &[], "v").is_ok());
        assert_eq!(lines(&tags), vec![(0, 9), (1, 2), (1, 3)]);
    }
}
