//! Adoption: repositories of shapes other than slipway's own payload — changelog styles, extra
//! version files, several pyprojects, dynamic versions, no changelog. Each fixture: check-versions
//! agrees before, `bump-version patch --dry-run` shows exactly the expected diff, the real run
//! writes byte-exact files, check-versions agrees after.

mod common;

use common::*;
use expect_test::{expect, Expect};

const PY: &str = "[project]\nname = \"acme-app\"\nversion = \"0.6.2\"\n";

fn cargo(extra: &str) -> String {
    format!("[workspace]\nmembers = []\n\n[workspace.metadata.release]\n{extra}")
}

/// A fixture with `files`, tagged at its version, plus the given commits after it.
fn make(files: &[(&str, &str)], tag: Option<&str>, commits: &[&str]) -> Repo {
    let repo = Repo::new(files);
    if let Some(t) = tag {
        repo.git(&["tag", "-a", t, "-m", &format!("Release {t}")]);
    }
    for c in commits {
        repo.commit(c);
    }
    repo
}

/// check-versions agrees on `version`, the dry run shows `dry`, the real run leaves exactly
/// `after` (file, content) for the files it changed, and check-versions agrees on `new` after.
fn bump(repo: &Repo, args: &[&str], version: &str, dry: Expect, after: &[(&str, &str)], new: &str) {
    let before = repo.run(&["check-versions"]);
    assert_eq!(before.code, 0, "{}", before.all());
    assert!(
        before
            .stdout
            .contains(&format!("every managed file states {version}")),
        "{}",
        before.all()
    );
    let snapshot = repo.snapshot();
    let mut a = vec!["bump-version"];
    a.extend(args);
    a.push("--dry-run");
    let d = repo.run(&a);
    assert_eq!(d.code, 0, "{}", d.all());
    assert_eq!(repo.snapshot(), snapshot, "the dry run changed something");
    // (Trailing blanks trimmed: expect-test cannot hold a line of blanks.)
    let shown: Vec<&str> = d.stdout.lines().map(str::trim_end).collect();
    dry.assert_eq(&format!("{}\n", shown.join("\n")));
    a.pop();
    let r = repo.run(&a);
    assert_eq!(r.code, 0, "{}", r.all());
    for (file, content) in after {
        let got = repo.read(file);
        if got.len() < 10_000 {
            assert_eq!(&got, content, "{file}");
        } else if &got != content {
            let at = got
                .bytes()
                .zip(content.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            let show = |s: &str| s[at.saturating_sub(80)..(at + 80).min(s.len())].to_string();
            panic!(
                "{file} differs at byte {at}: {:?} vs {:?}",
                show(&got),
                show(content)
            );
        }
    }
    let changed = repo.git(&["show", "--name-only", "--format=", "HEAD"]);
    let mut want: Vec<&str> = after.iter().map(|(f, _)| *f).collect();
    want.sort();
    let mut got: Vec<&str> = changed.lines().collect();
    got.sort();
    assert_eq!(got, want, "the commit holds exactly the changed files");
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    let after = repo.run(&["check-versions"]);
    assert_eq!(after.code, 0, "{}", after.all());
    assert!(
        after
            .stdout
            .contains(&format!("every managed file states {new}")),
        "{}",
        after.all()
    );
}

#[test]
fn release_please_changelog() {
    let cl = "# Changelog\n\n## [0.6.2](https://github.com/o/r/compare/v0.6.1...v0.6.2) (2024-08-08)\n\n\n### Features\n\n* a thing ([#12](https://github.com/o/r/issues/12)) ([abc1234](https://github.com/o/r/commit/abc1234))\n\n### Bug Fixes\n\n* another\n";
    let repo = make(
        &[
            ("Cargo.toml", &cargo("")),
            ("pyproject.toml", PY),
            ("CHANGELOG.md", cl),
        ],
        Some("v0.6.2"),
        &["fix: the crash on start"],
    );
    bump(
        &repo,
        &["patch", "--generate-changelog"],
        "0.6.2",
        expect![[r#"
            bump-version 0.6.2 → 0.6.3  (tag v0.6.3, PEP 440 0.6.3, docker 0.6.3) — dry run, nothing will be changed
            [1/5] edit pyproject.toml (+1 -1)
                --- a/pyproject.toml
                +++ b/pyproject.toml
                @@ -1,3 +1,3 @@
                 [project]
                 name = "acme-app"
                -version = "0.6.2"
                +version = "0.6.3"
            [2/5] edit CHANGELOG.md (+6 -0)
                --- a/CHANGELOG.md
                +++ b/CHANGELOG.md
                @@ -1,5 +1,11 @@
                 # Changelog
     
                +## [0.6.3](https://github.com/o/r/compare/v0.6.2...v0.6.3) (2026-11-21)
                +
                +### Bug Fixes
                +
                +* the crash on start (08f2548)
                +
                 ## [0.6.2](https://github.com/o/r/compare/v0.6.1...v0.6.2) (2024-08-08)
     
     
            [3/5] run git add -- pyproject.toml CHANGELOG.md
            [4/5] run git commit --quiet -m 'chore(release): bump version to v0.6.3' -- pyproject.toml CHANGELOG.md
            [5/5] run git tag -a v0.6.3 -m 'Release v0.6.3'
        "#]],
        &[
            ("pyproject.toml", &PY.replace("0.6.2", "0.6.3")),
            ("CHANGELOG.md", &cl.replace("# Changelog\n\n", "# Changelog\n\n## [0.6.3](https://github.com/o/r/compare/v0.6.2...v0.6.3) (2026-11-21)\n\n### Bug Fixes\n\n* the crash on start (08f2548)\n\n")),
        ],
        "0.6.3",
    );
}

#[test]
fn commitizen_changelog_with_unprefixed_tags() {
    let cl = "## 0.2.37 (2025-06-01)\n\n### Feat\n\n- **api**: stream answers\n\n### Fix\n\n- a typo\n\n## 0.2.36 (2025-05-01)\n\n### Fix\n\n- x\n";
    let py = PY.replace("0.6.2", "0.2.37");
    let repo = make(
        &[
            ("Cargo.toml", &cargo("tag-prefix = \"\"\n")),
            ("pyproject.toml", &py),
            ("CHANGELOG.md", cl),
        ],
        Some("0.2.37"),
        &[
            "feat(api): a new endpoint",
            "fix: the retry loop",
            "docs: not listed",
        ],
    );
    bump(
        &repo,
        &["patch", "--generate-changelog"],
        "0.2.37",
        expect![[r#"
            bump-version 0.2.37 → 0.2.38  (tag 0.2.38, PEP 440 0.2.38, docker 0.2.38) — dry run, nothing will be changed
            [1/5] edit pyproject.toml (+1 -1)
                --- a/pyproject.toml
                +++ b/pyproject.toml
                @@ -1,3 +1,3 @@
                 [project]
                 name = "acme-app"
                -version = "0.2.37"
                +version = "0.2.38"
            [2/5] edit CHANGELOG.md (+10 -0)
                --- a/CHANGELOG.md
                +++ b/CHANGELOG.md
                @@ -1,3 +1,13 @@
                +## 0.2.38 (2026-11-21)
                +
                +### Feat
                +
                +- **api:** a new endpoint (2e908b6)
                +
                +### Fix
                +
                +- the retry loop (84423f7)
                +
                 ## 0.2.37 (2025-06-01)
     
                 ### Feat
            [3/5] run git add -- pyproject.toml CHANGELOG.md
            [4/5] run git commit --quiet -m 'chore(release): bump version to 0.2.38' -- pyproject.toml CHANGELOG.md
            [5/5] run git tag -a 0.2.38 -m 'Release 0.2.38'
        "#]],
        &[
            ("pyproject.toml", &py.replace("0.2.37", "0.2.38")),
            ("CHANGELOG.md", &format!("## 0.2.38 (2026-11-21)\n\n### Feat\n\n- **api:** a new endpoint (2e908b6)\n\n### Fix\n\n- the retry loop (84423f7)\n\n{cl}")),
        ],
        "0.2.38",
    );
    assert_eq!(repo.git(&["tag", "--points-at", "HEAD"]), "0.2.38\n");
}

#[test]
fn plain_headings_crlf_without_final_newline() {
    let cl = "# Changes\r\n\r\n## 0.0.5\r\n\r\n* fixed the thing\r\n\r\n## 0.0.4\r\n\r\n* first";
    let py = PY.replace("0.6.2", "0.0.5");
    let repo = make(
        &[
            ("Cargo.toml", &cargo("")),
            ("pyproject.toml", &py),
            ("CHANGELOG.md", cl),
        ],
        Some("v0.0.5"),
        &["fix: handle empty input"],
    );
    bump(
        &repo,
        &["patch", "--generate-changelog"],
        "0.0.5",
        expect![[r#"
            bump-version 0.0.5 → 0.0.6  (tag v0.0.6, PEP 440 0.0.6, docker 0.0.6) — dry run, nothing will be changed
            [1/5] edit pyproject.toml (+1 -1)
                --- a/pyproject.toml
                +++ b/pyproject.toml
                @@ -1,3 +1,3 @@
                 [project]
                 name = "acme-app"
                -version = "0.0.5"
                +version = "0.0.6"
            [2/5] edit CHANGELOG.md (+6 -0)
                --- a/CHANGELOG.md
                +++ b/CHANGELOG.md
                @@ -1,5 +1,11 @@
                 # Changes␍
                 ␍
                +## 0.0.6␍
                +␍
                +### Fixed␍
                +␍
                +* handle empty input (b524141)␍
                +␍
                 ## 0.0.5␍
                 ␍
                 * fixed the thing␍
            [3/5] run git add -- pyproject.toml CHANGELOG.md
            [4/5] run git commit --quiet -m 'chore(release): bump version to v0.0.6' -- pyproject.toml CHANGELOG.md
            [5/5] run git tag -a v0.0.6 -m 'Release v0.0.6'
        "#]],
        &[
            ("pyproject.toml", &py.replace("0.0.5", "0.0.6")),
            ("CHANGELOG.md", &cl.replace("# Changes\r\n\r\n", "# Changes\r\n\r\n## 0.0.6\r\n\r\n### Fixed\r\n\r\n* handle empty input (b524141)\r\n\r\n")),
        ],
        "0.0.6",
    );
}

#[test]
fn keep_a_changelog_without_unreleased_gets_no_unreleased() {
    let cl = "# Changelog\n\n## [1.1.0] — 2019-03-01\n\n### Added\n\n- More.\n\n## [1.0.0] — 2018-01-01\n\n### Added\n\n- All of it.\n\n[1.1.0]: https://github.com/o/r/compare/v1.0.0...v1.1.0\n[1.0.0]: https://github.com/o/r/releases/tag/v1.0.0\n";
    let py = PY.replace("0.6.2", "1.1.0");
    let repo = make(
        &[
            ("Cargo.toml", &cargo("")),
            ("pyproject.toml", &py),
            ("CHANGELOG.md", cl),
        ],
        Some("v1.1.0"),
        &["fix: old bug"],
    );
    bump(
        &repo,
        &["patch", "--generate-changelog"],
        "1.1.0",
        expect![[r#"
            bump-version 1.1.0 → 1.1.1  (tag v1.1.1, PEP 440 1.1.1, docker 1.1.1) — dry run, nothing will be changed
            [1/5] edit pyproject.toml (+1 -1)
                --- a/pyproject.toml
                +++ b/pyproject.toml
                @@ -1,3 +1,3 @@
                 [project]
                 name = "acme-app"
                -version = "1.1.0"
                +version = "1.1.1"
            [2/5] edit CHANGELOG.md (+7 -0)
                --- a/CHANGELOG.md
                +++ b/CHANGELOG.md
                @@ -1,5 +1,11 @@
                 # Changelog
     
                +## [1.1.1] — 2026-11-21
                +
                +### Fixed
                +
                +- old bug (e954d1a)
                +
                 ## [1.1.0] — 2019-03-01
     
                 ### Added
                @@ -12,5 +18,6 @@
     
                 - All of it.
     
                +[1.1.1]: https://github.com/o/r/compare/v1.1.0...v1.1.1
                 [1.1.0]: https://github.com/o/r/compare/v1.0.0...v1.1.0
                 [1.0.0]: https://github.com/o/r/releases/tag/v1.0.0
            [3/5] run git add -- pyproject.toml CHANGELOG.md
            [4/5] run git commit --quiet -m 'chore(release): bump version to v1.1.1' -- pyproject.toml CHANGELOG.md
            [5/5] run git tag -a v1.1.1 -m 'Release v1.1.1'
        "#]],
        &[
            ("pyproject.toml", &py.replace("1.1.0", "1.1.1")),
            (
                "CHANGELOG.md",
                &cl.replace("# Changelog\n\n", "# Changelog\n\n## [1.1.1] — 2026-11-21\n\n### Fixed\n\n- old bug (e954d1a)\n\n")
                    .replace("[1.1.0]: ", "[1.1.1]: https://github.com/o/r/compare/v1.1.0...v1.1.1\n[1.1.0]: "),
            ),
        ],
        "1.1.1",
    );
    assert!(!repo.read("CHANGELOG.md").contains("Unreleased"));
}

#[test]
fn placeholders_in_a_style_without_unreleased_are_refused() {
    let cl = "## 0.0.5\n\n- x\n";
    let repo = make(
        &[
            ("Cargo.toml", &cargo("")),
            ("pyproject.toml", &PY.replace("0.6.2", "0.0.5")),
            ("CHANGELOG.md", cl),
        ],
        Some("v0.0.5"),
        &[],
    );
    let before = repo.snapshot();
    let r = repo.run(&["bump-version", "patch"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all()
            .contains("CHANGELOG.md: no generated entries, so the 0.0.6 section would only carry"),
        "{}",
        r.all()
    );
    assert!(r.all().contains("--generate-changelog"), "{}", r.all());
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn unknown_changelog_style_is_refused_with_the_reason() {
    let cl = "# History\n\n## Release one\n\n- x\n";
    let repo = make(
        &[
            ("Cargo.toml", &cargo("")),
            ("pyproject.toml", PY),
            ("CHANGELOG.md", cl),
        ],
        None,
        &[],
    );
    let r = repo.run(&["bump-version", "patch", "--dry-run"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.all()
            .contains("CHANGELOG.md: cannot tell the changelog's style"),
        "{}",
        r.all()
    );
    assert!(r.all().contains("set changelog-style"), "{}", r.all());
    // Said explicitly, the style is used.
    repo.write("Cargo.toml", &cargo("changelog-style = \"plain\"\n"));
    repo.git(&["commit", "-qam", "style"]);
    let r = repo.run(&[
        "bump-version",
        "patch",
        "--allow-placeholders",
        "--no-commit",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        repo.read("CHANGELOG.md")
            .starts_with("# History\n\n## 0.6.3\n\n### Added\n"),
        "{}",
        repo.read("CHANGELOG.md")
    );
}

/// A 2 MB generated changelog (conventional-changelog: `###` patch and `#` major headings) with an
/// old `## 0.0.5` far down: the newest release is the first heading, not the first `##`.
#[test]
fn two_megabyte_generated_changelog() {
    let mut cl = String::from(
        "# Changelog\n\nAll notable changes to this project will be documented in this file.\n\n",
    );
    cl.push_str("### [2.0.1](https://github.com/o/r/compare/v2.0.0...v2.0.1) (2026-10-02)\n\n\n### Bug Fixes\n\n* **core:** the last fix ([1234567](https://github.com/o/r/commit/1234567))\n\n");
    cl.push_str("# [2.0.0](https://github.com/o/r/compare/v1.99.99...v2.0.0) (2026-10-01)\n\n");
    let mut n = 0;
    'outer: for minor in (0..100).rev() {
        for patch in (0..100).rev() {
            cl.push_str(&format!(
                "### [1.{minor}.{patch}](https://github.com/o/r/compare/v1.{minor}.{p}...v1.{minor}.{patch}) (2020-01-01)\n\n\n### Bug Fixes\n\n* **generated:** a long enough line of generated text for release 1.{minor}.{patch} ([abcdef0](https://github.com/o/r/commit/abcdef0))\n\n",
                p = patch.max(1) - 1
            ));
            n += 1;
            if cl.len() > 2_000_000 {
                break 'outer;
            }
        }
    }
    cl.push_str("## 0.0.5\n\n* the very first\n");
    assert!(cl.len() > 2_000_000 && n > 5000);
    let py = PY.replace("0.6.2", "2.0.1");
    let repo = make(
        &[
            ("Cargo.toml", &cargo("")),
            ("pyproject.toml", &py),
            ("CHANGELOG.md", &cl),
        ],
        Some("v2.0.1"),
        &["fix(core): one more"],
    );
    let before = repo.run(&["check-versions", "--json"]);
    assert_eq!(before.code, 0, "{}", before.all());
    assert!(
        before.stdout.contains("\"version\":\"2.0.1\"")
            || before.stdout.contains("\"version\": \"2.0.1\""),
        "{}",
        before.stdout
    );
    bump(
        &repo,
        &["patch", "--generate-changelog"],
        "2.0.1",
        expect![[r#"
            bump-version 2.0.1 → 2.0.2  (tag v2.0.2, PEP 440 2.0.2, docker 2.0.2) — dry run, nothing will be changed
            [1/5] edit pyproject.toml (+1 -1)
                --- a/pyproject.toml
                +++ b/pyproject.toml
                @@ -1,3 +1,3 @@
                 [project]
                 name = "acme-app"
                -version = "2.0.1"
                +version = "2.0.2"
            [2/5] edit CHANGELOG.md (+6 -0)
                --- a/CHANGELOG.md
                +++ b/CHANGELOG.md
                @@ -2,6 +2,12 @@
     
                 All notable changes to this project will be documented in this file.
     
                +### [2.0.2](https://github.com/o/r/compare/v2.0.1...v2.0.2) (2026-11-21)
                +
                +### Bug Fixes
                +
                +* **core:** one more (30e6b39)
                +
                 ### [2.0.1](https://github.com/o/r/compare/v2.0.0...v2.0.1) (2026-10-02)
     
     
            [3/5] run git add -- pyproject.toml CHANGELOG.md
            [4/5] run git commit --quiet -m 'chore(release): bump version to v2.0.2' -- pyproject.toml CHANGELOG.md
            [5/5] run git tag -a v2.0.2 -m 'Release v2.0.2'
        "#]],
        &[
            ("pyproject.toml", &py.replace("2.0.1", "2.0.2")),
            (
                "CHANGELOG.md",
                &cl.replacen(
                    "### [2.0.1]",
                    "### [2.0.2](https://github.com/o/r/compare/v2.0.1...v2.0.2) (2026-11-21)\n\n### Bug Fixes\n\n* **core:** one more (30e6b39)\n\n### [2.0.1]",
                    1,
                ),
            ),
        ],
        "2.0.2",
    );
}

const SERVER_JSON: &str = "{\n  \"$schema\": \"https://static.modelcontextprotocol.io/schemas/2025-07-09/server.schema.json\",\n  \"name\": \"io.github.o/app\",\n  \"version\": \"0.3.1\",\n  \"packages\": [\n    { \"registry_type\": \"pypi\", \"identifier\": \"acme-app\", \"version\": \"0.3.1\" },\n    { \"registry_type\": \"oci\", \"identifier\": \"ghcr.io/o/app\", \"version\": \"0.3.1\" }\n  ]\n}";
const ENV_EXAMPLE: &str = "# Copy to .env\r\nAPP_VERSION=0.3.1\r\nREDIS_VERSION=7.2.1\r\n";
const CHART: &str = "apiVersion: v2\nname: app\ndescription: The app # 0.3.1\nversion: 0.3.1\nappVersion: \"0.3.1\"\ndependencies:\n  - name: redis\n    version: 17.0.0\n";
const VALUES: &str = "image:\n  repository: ghcr.io/o/app\n  tag: v0.3.1  # the app\n  pullPolicy: IfNotPresent\nredis:\n  image:\n    tag: 7.2.1\n";
const PACKAGE_JSON: &str = "{\n\t\"name\": \"app-ui\",\n\t\"version\": \"0.3.1\",\n\t\"dependencies\": { \"left-pad\": \"0.3.1\" }\n}\n";
const INIT_PY: &str =
    "\"\"\"The app.\"\"\"\n\n__version__ = \"0.3.1\"\n__all__ = [\"__version__\"]\n";
const SETUP_CFG: &str = "[bumpversion]\ncurrent_version = 0.3.1\ncommit = True\n";
const BUMPVERSION_TOML: &str =
    "[tool.bumpversion]\ncurrent_version = \"0.3.1\" # kept\nsearch = \"{current_version}\"\n";

fn extra_files_cargo() -> String {
    cargo(
        r#"changelog-style = "none"
changelog = ""

[[workspace.metadata.release.files]]
path = "VERSION"
kind = "text"

[[workspace.metadata.release.files]]
path = ".release"
kind = "text"

[[workspace.metadata.release.files]]
path = "server.json"
kind = "json"
pointer = "/version"

[[workspace.metadata.release.files]]
path = "server.json"
kind = "json"
pointer = "/packages/*/version"
count = 2

[[workspace.metadata.release.files]]
path = ".env.example"
kind = "dotenv"
key = "APP_VERSION"

[[workspace.metadata.release.files]]
path = "deploy/chart/Chart.yaml"
kind = "yaml"
key = "appVersion"

[[workspace.metadata.release.files]]
path = "deploy/chart/Chart.yaml"
kind = "yaml"
key = "version"

[[workspace.metadata.release.files]]
path = "deploy/chart/values.yaml"
kind = "yaml"
key = "image.tag"
format = "docker"

[[workspace.metadata.release.files]]
path = "ui/package.json"
kind = "json"
pointer = "/version"

[[workspace.metadata.release.files]]
path = "src/app/__init__.py"
kind = "python"

[[workspace.metadata.release.files]]
path = "setup.cfg"
kind = "line"
template = "current_version = {version}"

[[workspace.metadata.release.files]]
path = ".bumpversion.toml"
kind = "toml"
key = "tool.bumpversion.current_version"
"#,
    )
}

fn extra_files_repo() -> Repo {
    make(
        &[
            ("Cargo.toml", &extra_files_cargo()),
            ("pyproject.toml", &PY.replace("0.6.2", "0.3.1")),
            ("VERSION", "0.3.1\n"),
            (".release", "v0.3.1"),
            ("server.json", SERVER_JSON),
            (".env.example", ENV_EXAMPLE),
            ("deploy/chart/Chart.yaml", CHART),
            ("deploy/chart/values.yaml", VALUES),
            ("ui/package.json", PACKAGE_JSON),
            ("src/app/__init__.py", INIT_PY),
            ("setup.cfg", SETUP_CFG),
            (".bumpversion.toml", BUMPVERSION_TOML),
        ],
        Some("v0.3.1"),
        &[],
    )
}

#[test]
fn extra_version_files_without_a_changelog() {
    let repo = extra_files_repo();
    let c = repo.run(&["check-versions"]);
    for want in [
        "server.json:7",
        "json /packages/1/version",
        "deploy/chart/values.yaml:3",
        "yaml image.tag",
        ".env.example:2",
        "setup.cfg:2",
        "src/app/__init__.py:3",
        "read 11 file(s):",
        "server.json               json `/version`, json `/packages/*/version`",
        "not managed: changelog: none (changelog-style = \"none\")",
        "not managed: compose files: none configured (`compose`)",
    ] {
        assert!(c.all().contains(want), "missing {want:?} in\n{}", c.all());
    }
    let up = |s: &str| s.replace("0.3.1", "0.3.2");
    bump(
        &repo,
        &["patch"],
        "0.3.1",
        expect![[r#"
            bump-version 0.3.1 → 0.3.2  (tag v0.3.2, PEP 440 0.3.2, docker 0.3.2) — dry run, nothing will be changed
            [1/14] edit pyproject.toml (+1 -1)
                --- a/pyproject.toml
                +++ b/pyproject.toml
                @@ -1,3 +1,3 @@
                 [project]
                 name = "acme-app"
                -version = "0.3.1"
                +version = "0.3.2"
            [2/14] edit VERSION (+1 -1)
                --- a/VERSION
                +++ b/VERSION
                @@ -1 +1 @@
                -0.3.1
                +0.3.2
            [3/14] edit .release (+1 -1)
                --- a/.release
                +++ b/.release
                @@ -1 +1 @@
                -v0.3.1
                \ No newline at end of file
                +v0.3.2
                \ No newline at end of file
            [4/14] edit server.json (+3 -3)
                --- a/server.json
                +++ b/server.json
                @@ -1,9 +1,9 @@
                 {
                   "$schema": "https://static.modelcontextprotocol.io/schemas/2025-07-09/server.schema.json",
                   "name": "io.github.o/app",
                -  "version": "0.3.1",
                +  "version": "0.3.2",
                   "packages": [
                -    { "registry_type": "pypi", "identifier": "acme-app", "version": "0.3.1" },
                -    { "registry_type": "oci", "identifier": "ghcr.io/o/app", "version": "0.3.1" }
                +    { "registry_type": "pypi", "identifier": "acme-app", "version": "0.3.2" },
                +    { "registry_type": "oci", "identifier": "ghcr.io/o/app", "version": "0.3.2" }
                   ]
                 }
                \ No newline at end of file
            [5/14] edit .env.example (+1 -1)
                --- a/.env.example
                +++ b/.env.example
                @@ -1,3 +1,3 @@
                 # Copy to .env␍
                -APP_VERSION=0.3.1␍
                +APP_VERSION=0.3.2␍
                 REDIS_VERSION=7.2.1␍
            [6/14] edit deploy/chart/Chart.yaml (+2 -2)
                --- a/deploy/chart/Chart.yaml
                +++ b/deploy/chart/Chart.yaml
                @@ -1,8 +1,8 @@
                 apiVersion: v2
                 name: app
                 description: The app # 0.3.1
                -version: 0.3.1
                -appVersion: "0.3.1"
                +version: 0.3.2
                +appVersion: "0.3.2"
                 dependencies:
                   - name: redis
                     version: 17.0.0
            [7/14] edit deploy/chart/values.yaml (+1 -1)
                --- a/deploy/chart/values.yaml
                +++ b/deploy/chart/values.yaml
                @@ -1,6 +1,6 @@
                 image:
                   repository: ghcr.io/o/app
                -  tag: v0.3.1  # the app
                +  tag: v0.3.2  # the app
                   pullPolicy: IfNotPresent
                 redis:
                   image:
            [8/14] edit ui/package.json (+1 -1)
                --- a/ui/package.json
                +++ b/ui/package.json
                @@ -1,5 +1,5 @@
                 {
                 	"name": "app-ui",
                -	"version": "0.3.1",
                +	"version": "0.3.2",
                 	"dependencies": { "left-pad": "0.3.1" }
                 }
            [9/14] edit src/app/__init__.py (+1 -1)
                --- a/src/app/__init__.py
                +++ b/src/app/__init__.py
                @@ -1,4 +1,4 @@
                 """The app."""

                -__version__ = "0.3.1"
                +__version__ = "0.3.2"
                 __all__ = ["__version__"]
            [10/14] edit setup.cfg (+1 -1)
                --- a/setup.cfg
                +++ b/setup.cfg
                @@ -1,3 +1,3 @@
                 [bumpversion]
                -current_version = 0.3.1
                +current_version = 0.3.2
                 commit = True
            [11/14] edit .bumpversion.toml (+1 -1)
                --- a/.bumpversion.toml
                +++ b/.bumpversion.toml
                @@ -1,3 +1,3 @@
                 [tool.bumpversion]
                -current_version = "0.3.1" # kept
                +current_version = "0.3.2" # kept
                 search = "{current_version}"
            [12/14] run git add -- pyproject.toml VERSION .release server.json .env.example deploy/chart/Chart.yaml deploy/chart/values.yaml ui/package.json src/app/__init__.py setup.cfg .bumpversion.toml
            [13/14] run git commit --quiet -m 'chore(release): bump version to v0.3.2' -- pyproject.toml VERSION .release server.json .env.example deploy/chart/Chart.yaml deploy/chart/values.yaml ui/package.json src/app/__init__.py setup.cfg .bumpversion.toml
            [14/14] run git tag -a v0.3.2 -m 'Release v0.3.2'
        "#]],
        &[
            ("pyproject.toml", &PY.replace("0.6.2", "0.3.2")),
            ("VERSION", "0.3.2\n"),
            (".release", "v0.3.2"),
            ("server.json", &up(SERVER_JSON)),
            (".env.example", &up(ENV_EXAMPLE)),
            (
                "deploy/chart/Chart.yaml",
                &CHART.replace(
                    "version: 0.3.1\nappVersion: \"0.3.1\"",
                    "version: 0.3.2\nappVersion: \"0.3.2\"",
                ),
            ),
            ("deploy/chart/values.yaml", &up(VALUES)),
            (
                "ui/package.json",
                &PACKAGE_JSON.replace("\"version\": \"0.3.1\"", "\"version\": \"0.3.2\""),
            ),
            ("src/app/__init__.py", &up(INIT_PY)),
            ("setup.cfg", &up(SETUP_CFG)),
            (".bumpversion.toml", &up(BUMPVERSION_TOML)),
        ],
        "0.3.2",
    );
    assert!(repo
        .read("deploy/chart/Chart.yaml")
        .contains("description: The app # 0.3.1"));
    assert!(!repo.path().join("CHANGELOG.md").exists());
}

#[test]
fn drift_in_an_extra_file_is_drift() {
    let repo = extra_files_repo();
    repo.write(
        "deploy/chart/values.yaml",
        &VALUES.replace("v0.3.1", "v0.3.0"),
    );
    repo.git(&["commit", "-qam", "lag"]);
    let c = repo.run(&["check-versions"]);
    assert_eq!(c.code, 1, "{}", c.all());
    assert!(
        c.all().contains("≠ deploy/chart/values.yaml:3"),
        "{}",
        c.all()
    );
    let before = repo.snapshot();
    let b = repo.run(&["bump-version", "patch"]);
    assert_eq!(b.code, 1, "{}", b.all());
    assert_eq!(repo.snapshot(), before, "nothing written");
}

#[test]
fn malformed_extra_files_are_exit_2_with_file_line_and_fix() {
    for (file, content, want) in [
        ("server.json", SERVER_JSON.replace("\"0.3.1\",\n  \"packages\"", "\"0.3.1\"\n  \"packages\""), "server.json: invalid JSON at line 5"),
        ("server.json", SERVER_JSON.replace("{ \"registry_type\": \"oci\", \"identifier\": \"ghcr.io/o/app\", \"version\": \"0.3.1\" }", "{}"), "server.json: expected 2 matches of `/packages/*/version`, found 1 (line 6); fix the file or set `count = 1`"),
        (".env.example", ENV_EXAMPLE.replace("APP_VERSION=0.3.1", "APP_VERSION=latest"), ".env.example: line 2: APP_VERSION = \"latest\" is not a version"),
        ("deploy/chart/Chart.yaml", format!("{CHART}appVersion: 0.3.1\n"), "deploy/chart/Chart.yaml: line 9: duplicate key `appVersion`"),
        ("setup.cfg", "[bumpversion]\n".to_string(), "setup.cfg: expected 1 match of the line `current_version = {version}`, found 0"),
    ] {
        let repo = extra_files_repo();
        repo.write(file, &content);
        repo.git(&["commit", "-qam", "break"]);
        let before = repo.snapshot();
        for cmd in [&["check-versions"][..], &["bump-version", "patch"][..]] {
            let r = repo.run(cmd);
            assert_eq!(r.code, 2, "{cmd:?} {file}: {}", r.all());
            assert!(r.all().contains(want), "{cmd:?}: missing {want:?} in\n{}", r.all());
        }
        assert_eq!(repo.snapshot(), before, "nothing written");
    }
}

#[test]
fn sub_directory_and_two_pyprojects() {
    let main = "[project]\nname = \"acme\"\nversion = \"1.2.3\"\n";
    let sdk =
        "[project]\r\nname = \"acme-sdk\"\r\nversion = '1.2.3'\r\ndependencies = [\"acme==1.2.3\"]";
    let cl = "# Changelog\n\n## [Unreleased]\n\n### Fixed\n\n- Something.\n\n## [1.2.3] - 2026-01-01\n\n- Old.\n";
    let repo = make(
        &[
            (
                "Cargo.toml",
                &cargo("pyproject = [\"python/pyproject.toml\", \"python/sdk/pyproject.toml\"]\n"),
            ),
            ("python/pyproject.toml", main),
            ("python/sdk/pyproject.toml", sdk),
            ("CHANGELOG.md", cl),
        ],
        Some("v1.2.3"),
        &[],
    );
    bump(
        &repo,
        &["patch"],
        "1.2.3",
        expect![[r#"
            bump-version 1.2.3 → 1.2.4  (tag v1.2.4, PEP 440 1.2.4, docker 1.2.4) — dry run, nothing will be changed
            [1/6] edit python/pyproject.toml (+1 -1)
                --- a/python/pyproject.toml
                +++ b/python/pyproject.toml
                @@ -1,3 +1,3 @@
                 [project]
                 name = "acme"
                -version = "1.2.3"
                +version = "1.2.4"
            [2/6] edit python/sdk/pyproject.toml (+1 -1)
                --- a/python/sdk/pyproject.toml
                +++ b/python/sdk/pyproject.toml
                @@ -1,4 +1,4 @@
                 [project]␍
                 name = "acme-sdk"␍
                -version = '1.2.3'␍
                +version = '1.2.4'␍
                 dependencies = ["acme==1.2.3"]
                \ No newline at end of file
            [3/6] edit CHANGELOG.md (+2 -0)
                --- a/CHANGELOG.md
                +++ b/CHANGELOG.md
                @@ -2,6 +2,8 @@
     
                 ## [Unreleased]
     
                +## [1.2.4] - 2026-11-21
                +
                 ### Fixed
     
                 - Something.
            [4/6] run git add -- python/pyproject.toml python/sdk/pyproject.toml CHANGELOG.md
            [5/6] run git commit --quiet -m 'chore(release): bump version to v1.2.4' -- python/pyproject.toml python/sdk/pyproject.toml CHANGELOG.md
            [6/6] run git tag -a v1.2.4 -m 'Release v1.2.4'
        "#]],
        &[
            ("python/pyproject.toml", &main.replace("1.2.3", "1.2.4")),
            (
                "python/sdk/pyproject.toml",
                &sdk.replace("version = '1.2.3'", "version = '1.2.4'"),
            ),
            (
                "CHANGELOG.md",
                &cl.replace(
                    "## [Unreleased]\n\n",
                    "## [Unreleased]\n\n## [1.2.4] - 2026-11-21\n\n",
                ),
            ),
        ],
        "1.2.4",
    );
}

#[test]
fn hatch_path_dynamic_version() {
    let py = "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[project]\nname = \"acme\"\ndynamic = [\"version\"]\n\n[tool.hatch.version]\npath = \"src/acme/__about__.py\"\n";
    let about = "# SPDX-License-Identifier: MIT\n__version__ = \"1.3.0rc1\"\n";
    let repo = make(
        &[
            ("Cargo.toml", &cargo("changelog-style = \"none\"\n")),
            ("pyproject.toml", py),
            ("src/acme/__about__.py", about),
        ],
        Some("v1.3.0-rc.1"),
        &[],
    );
    bump(
        &repo,
        &["minor"],
        "1.3.0-rc.1",
        expect![[r#"
            note: src/acme/__about__.py: manages the version because of [tool.hatch.version] path of pyproject.toml
            bump-version 1.3.0-rc.1 → 1.3.0  (tag v1.3.0, PEP 440 1.3.0, docker 1.3.0) — dry run, nothing will be changed
            [1/4] edit src/acme/__about__.py (+1 -1)
                --- a/src/acme/__about__.py
                +++ b/src/acme/__about__.py
                @@ -1,2 +1,2 @@
                 # SPDX-License-Identifier: MIT
                -__version__ = "1.3.0rc1"
                +__version__ = "1.3.0"
            [2/4] run git add -- src/acme/__about__.py
            [3/4] run git commit --quiet -m 'chore(release): bump version to v1.3.0' -- src/acme/__about__.py
            [4/4] run git tag -a v1.3.0 -m 'Release v1.3.0'
        "#]],
        &[("src/acme/__about__.py", &about.replace("1.3.0rc1", "1.3.0"))],
        "1.3.0",
    );
}

#[test]
fn setuptools_attr_dynamic_version() {
    let py = "[project]\nname = \"acme\"\ndynamic = [\"version\"]\n\n[tool.setuptools.dynamic]\nversion = {attr = \"acme.__version__\"}\n";
    let init = "__version__ = '0.9.0'\n";
    let repo = make(
        &[
            ("Cargo.toml", &cargo("changelog-style = \"none\"\n")),
            ("pyproject.toml", py),
            ("src/acme/__init__.py", init),
        ],
        None,
        &[],
    );
    bump(
        &repo,
        &["patch"],
        "0.9.0",
        expect![[r#"
        note: src/acme/__init__.py: manages the version because of [tool.setuptools.dynamic] version = {attr} of pyproject.toml
        bump-version 0.9.0 → 0.9.1  (tag v0.9.1, PEP 440 0.9.1, docker 0.9.1) — dry run, nothing will be changed
        [1/4] edit src/acme/__init__.py (+1 -1)
            --- a/src/acme/__init__.py
            +++ b/src/acme/__init__.py
            @@ -1 +1 @@
            -__version__ = '0.9.0'
            +__version__ = '0.9.1'
        [2/4] run git add -- src/acme/__init__.py
        [3/4] run git commit --quiet -m 'chore(release): bump version to v0.9.1' -- src/acme/__init__.py
        [4/4] run git tag -a v0.9.1 -m 'Release v0.9.1'
    "#]],
        &[("src/acme/__init__.py", "__version__ = '0.9.1'\n")],
        "0.9.1",
    );
}

#[test]
fn setuptools_scm_version_is_the_tag() {
    let py = "[build-system]\nrequires = [\"setuptools>=64\", \"setuptools-scm>=8\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"acme\"\ndynamic = [\"version\"]\n\n[tool.setuptools_scm]\n";
    let cl = "# Changelog\n\n## [Unreleased]\n\n### Fixed\n\n- A fix.\n\n## [1.4.0] - 2026-01-01\n\n- Old.\n";
    let repo = make(
        &[
            ("Cargo.toml", &cargo("")),
            ("pyproject.toml", py),
            ("CHANGELOG.md", cl),
        ],
        Some("v1.4.0"),
        &["fix: a fix"],
    );
    let c = repo.run(&["check-versions"]);
    assert!(
        c.all().contains("last release tag (setuptools-scm"),
        "{}",
        c.all()
    );
    bump(
        &repo,
        &["patch"],
        "1.4.0",
        expect![[r#"
            note: pyproject.toml: the version comes from git tags (setuptools-scm); the release tag is the version, no file is edited
            bump-version 1.4.0 → 1.4.1  (tag v1.4.1, PEP 440 1.4.1, docker 1.4.1) — dry run, nothing will be changed
            [1/4] edit CHANGELOG.md (+2 -0)
                --- a/CHANGELOG.md
                +++ b/CHANGELOG.md
                @@ -2,6 +2,8 @@
     
                 ## [Unreleased]
     
                +## [1.4.1] - 2026-11-21
                +
                 ### Fixed
     
                 - A fix.
            [2/4] run git add -- CHANGELOG.md
            [3/4] run git commit --quiet -m 'chore(release): bump version to v1.4.1' -- CHANGELOG.md
            [4/4] run git tag -a v1.4.1 -m 'Release v1.4.1'
        "#]],
        &[(
            "CHANGELOG.md",
            &cl.replace(
                "## [Unreleased]\n\n",
                "## [Unreleased]\n\n## [1.4.1] - 2026-11-21\n\n",
            ),
        )],
        "1.4.1",
    );
    assert_eq!(repo.git(&["tag", "--points-at", "HEAD"]), "v1.4.1\n");
    let cfg = xtask::facts::config::load(repo.path()).unwrap();
    assert_eq!(
        xtask::facts::managed::build_env(&cfg, &semver::Version::parse("1.4.1").unwrap()),
        [(
            "SETUPTOOLS_SCM_PRETEND_VERSION".to_string(),
            "1.4.1".to_string()
        )]
    );

    // The tag against the other files: a changelog that lags is drift.
    let lag = make(
        &[
            ("Cargo.toml", &cargo("")),
            ("pyproject.toml", py),
            ("CHANGELOG.md", cl),
        ],
        Some("v1.4.1"),
        &[],
    );
    let c = lag.run(&["check-versions"]);
    assert_eq!(c.code, 1, "{}", c.all());
    assert!(c.all().contains("≠ CHANGELOG.md:9"), "{}", c.all());
}

#[test]
fn no_changelog_at_all() {
    let repo = make(
        &[
            ("Cargo.toml", &cargo("changelog-style = \"none\"\n")),
            ("pyproject.toml", PY),
        ],
        Some("v0.6.2"),
        &[],
    );
    bump(
        &repo,
        &["patch"],
        "0.6.2",
        expect![[r#"
        bump-version 0.6.2 → 0.6.3  (tag v0.6.3, PEP 440 0.6.3, docker 0.6.3) — dry run, nothing will be changed
        [1/4] edit pyproject.toml (+1 -1)
            --- a/pyproject.toml
            +++ b/pyproject.toml
            @@ -1,3 +1,3 @@
             [project]
             name = "acme-app"
            -version = "0.6.2"
            +version = "0.6.3"
        [2/4] run git add -- pyproject.toml
        [3/4] run git commit --quiet -m 'chore(release): bump version to v0.6.3' -- pyproject.toml
        [4/4] run git tag -a v0.6.3 -m 'Release v0.6.3'
    "#]],
        &[("pyproject.toml", &PY.replace("0.6.2", "0.6.3"))],
        "0.6.3",
    );
    // Without the style, the missing file names both ways out.
    let other = make(
        &[("Cargo.toml", &cargo("")), ("pyproject.toml", PY)],
        None,
        &[],
    );
    let r = other.run(&["check-versions"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.all().contains("or set changelog-style = \"none\""),
        "{}",
        r.all()
    );
}

#[test]
fn changelog_html_renders_the_file() {
    let cl = "# Changelog\n\n## [0.6.2](https://github.com/o/r/compare/v0.6.1...v0.6.2) (2024-08-08)\n\n### Features\n\n* `--json` output ([#12](https://github.com/o/r/issues/12)) (abc1234)\n";
    let cargo_toml = cargo("repository = \"https://github.com/o/r\"\n");
    let repo = make(
        &[
            ("Cargo.toml", &cargo_toml),
            ("pyproject.toml", PY),
            ("CHANGELOG.md", cl),
        ],
        None,
        &[],
    );
    let r = repo.run(&["changelog", "--format", "html"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let html = &r.stdout;
    for want in [
        "<title>acme-app changelog</title>",
        "<h2 id=\"v0.6.2\"><a class=\"anchor\" href=\"#v0.6.2\">#</a> <a href=\"https://github.com/o/r/compare/v0.6.1...v0.6.2\">0.6.2</a> (2024-08-08)</h2>",
        "<code>--json</code>",
        "<a href=\"https://github.com/o/r/issues/12\">#12</a>",
        "<a href=\"https://github.com/o/r/commit/abc1234\"><code>abc1234</code></a>",
    ] {
        assert!(html.contains(want), "missing {want:?} in\n{html}");
    }
    assert!(!html.contains("[0.6.2]"), "{html}");
}

#[test]
fn keep_a_changelog_with_em_dashes_keeps_them() {
    let cl = "# Changelog\n\n## [Unreleased]\n\n### Fixed\n\n- A fix.\n\n## [1.0.0] — 2026-01-01\n\n- First.\n";
    let py = PY.replace("0.6.2", "1.0.0");
    let repo = make(
        &[
            ("Cargo.toml", &cargo("")),
            ("pyproject.toml", &py),
            ("CHANGELOG.md", cl),
        ],
        Some("v1.0.0"),
        &[],
    );
    let r = repo.run(&["bump-version", "patch", "--no-commit"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        repo.read("CHANGELOG.md"),
        cl.replace(
            "## [Unreleased]\n\n",
            "## [Unreleased]\n\n## [1.0.1] — 2026-11-21\n\n"
        )
    );
}

#[test]
fn a_dynamic_module_that_is_missing_names_the_fix() {
    let py = "[project]\nname = \"acme\"\ndynamic = [\"version\"]\n\n[tool.hatch.version]\npath = \"src/acme/__about__.py\"\n";
    let repo = make(
        &[
            ("Cargo.toml", &cargo("changelog-style = \"none\"\n")),
            ("pyproject.toml", py),
        ],
        None,
        &[],
    );
    let r = repo.run(&["check-versions"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.all().contains("pyproject.toml: [tool.hatch.version] path names src/acme/__about__.py, which cannot be read"),
        "{}",
        r.all()
    );
}
