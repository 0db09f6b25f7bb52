//! `bump-version` and `check-versions` end to end: the built binary on fixture repositories.

mod common;

use common::*;

#[test]
fn minor_bump_changes_only_version_bytes_commits_and_tags() {
    let repo = fixture();
    let r = repo.run(&["bump-version", "minor"]);
    assert_eq!(r.code, 0, "{}", r.all());

    assert_eq!(
        repo.read("pyproject.toml"),
        PYPROJECT.replace(
            "version = \"1.2.3\"  # the release",
            "version = \"1.3.0\"  # the release"
        )
    );
    assert!(repo.read("pyproject.toml").contains("acme-sdk==1.2.3"));
    assert!(repo
        .read("pyproject.toml")
        .contains("[tool.acme]\nversion = \"1.2.3\""));
    let compose = COMPOSE
        .replace(
            "ghcr.io/acme/app:v1.2.3   # own image",
            "ghcr.io/acme/app:v1.3.0   # own image",
        )
        .replace(
            "${WORKER_IMAGE:-ghcr.io/acme/app:1.2.3}",
            "${WORKER_IMAGE:-ghcr.io/acme/app:1.3.0}",
        );
    assert_eq!(repo.read("docker-compose.yml"), compose);

    let cl = repo.read("CHANGELOG.md");
    assert!(
        cl.contains("## [Unreleased]\n\n## [1.3.0] - 2026-11-21\n\n### Added\n\n- A feature.\n"),
        "{cl}"
    );
    assert!(
        cl.contains("[Unreleased]: https://github.com/acme/app/compare/v1.3.0...HEAD\n"),
        "{cl}"
    );
    assert!(
        cl.contains("[1.3.0]: https://github.com/acme/app/compare/v1.2.3...v1.3.0\n"),
        "{cl}"
    );
    assert_eq!(cl.matches("## [1.3.0]").count(), 1);

    // One commit with exactly the managed files, an annotated tag on it.
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s"]),
        "chore(release): bump version to v1.3.0\n"
    );
    assert_eq!(
        repo.git(&["show", "--name-only", "--format=", "HEAD"]),
        "CHANGELOG.md\ndocker-compose.yml\npyproject.toml\n"
    );
    assert_eq!(repo.git(&["cat-file", "-t", "v1.3.0"]), "tag\n");
    assert_eq!(
        repo.git(&["tag", "-l", "--format=%(contents:subject)", "v1.3.0"]),
        "Release v1.3.0\n"
    );
    assert_eq!(
        repo.git(&["rev-parse", "v1.3.0^{commit}"]),
        repo.git(&["rev-parse", "HEAD"])
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");

    // What was not edited is said.
    let out = r.all();
    assert!(out.contains("floating tag `latest`"), "{out}");
    assert!(
        out.contains("docker-compose.yml:14 is a commented-out own image"),
        "{out}"
    );
    assert!(
        out.contains("next: git push --atomic origin main v1.3.0"),
        "{out}"
    );

    // And the result is consistent.
    let check = repo.run(&["check-versions"]);
    assert_eq!(check.code, 0, "{}", check.all());
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let repo = fixture();
    let before = repo.snapshot();
    let r = repo.run(&["bump-version", "minor", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(repo.snapshot(), before, "dry run changed something");
    let out = &r.stdout;
    for want in [
        "1.2.3 → 1.3.0",
        "dry run, nothing will be changed",
        "edit pyproject.toml (+1 -1)",
        "-version = \"1.2.3\"  # the release version",
        "+version = \"1.3.0\"  # the release version",
        "+    image: ghcr.io/acme/app:v1.3.0   # own image",
        "+## [1.3.0] - 2026-11-21",
        "run git add -- pyproject.toml docker-compose.yml CHANGELOG.md",
        "run git commit --quiet -m 'chore(release): bump version to v1.3.0' -- pyproject.toml docker-compose.yml CHANGELOG.md",
        "run git tag -a v1.3.0 -m 'Release v1.3.0'",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn the_real_run_executes_exactly_the_dry_run_plan() {
    let repo = fixture();
    let dry = repo.run(&[
        "bump-version",
        "minor",
        "--pre",
        "rc",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    let dry: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let real = repo.run(&["bump-version", "minor", "--pre", "rc", "--json"]);
    assert_eq!(real.code, 0, "{}", real.all());
    let real: serde_json::Value = serde_json::from_str(&real.stdout).unwrap();
    let planned: Vec<&str> = dry["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["header"].as_str().unwrap())
        .collect();
    let executed: Vec<&str> = real["executed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(planned, executed);
    assert_eq!(planned.len(), 6);
    assert_eq!(dry["new"], "1.3.0-rc.1");
    assert_eq!(dry["pep440"], "1.3.0rc1");
}

#[test]
fn pre_release_cycle_renders_each_target() {
    let repo = fixture();
    assert_eq!(repo.run(&["bump-version", "minor", "--pre", "rc"]).code, 0);
    assert!(repo
        .read("pyproject.toml")
        .contains("version = \"1.3.0rc1\""));
    assert!(repo
        .read("docker-compose.yml")
        .contains("ghcr.io/acme/app:v1.3.0-rc.1 "));
    assert!(repo
        .read("CHANGELOG.md")
        .contains("## [1.3.0-rc.1] - 2026-11-21"));
    assert!(repo.git_ok(&["rev-parse", "refs/tags/v1.3.0-rc.1"]));

    // Again: rc.2. The changelog's Unreleased is empty now: its section would only carry
    // placeholders, so the bump refuses (nothing changed) until [Unreleased] says what changed.
    let before = repo.snapshot();
    let r = repo.run(&["bump-version", "minor", "--pre", "rc"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("placeholders"), "{}", r.stderr);
    assert_eq!(repo.snapshot(), before);
    let fill = |repo: &Repo, entry: &str| {
        let cl = repo.read("CHANGELOG.md").replacen(
            "## [Unreleased]\n\n",
            &format!("## [Unreleased]\n\n### Fixed\n\n- {entry}\n\n"),
            1,
        );
        repo.write("CHANGELOG.md", &cl);
        repo.git(&["commit", "-q", "-am", "docs: changelog"]);
    };
    fill(&repo, "A fix in rc.2.");
    let r = repo.run(&["bump-version", "minor", "--pre", "rc"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(repo
        .read("pyproject.toml")
        .contains("version = \"1.3.0rc2\""));
    assert!(repo.git_ok(&["rev-parse", "refs/tags/v1.3.0-rc.2"]));

    // minor finishes the pre-release.
    fill(&repo, "A fix in 1.3.0.");
    let r = repo.run(&["bump-version", "minor"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(repo.read("pyproject.toml").contains("version = \"1.3.0\""));
    assert!(repo
        .read("docker-compose.yml")
        .contains("ghcr.io/acme/app:v1.3.0 "));
    assert!(repo.git_ok(&["rev-parse", "refs/tags/v1.3.0"]));
    assert_eq!(repo.run(&["check-versions"]).code, 0);
}

#[test]
fn preflight_reports_every_problem_at_once_and_changes_nothing() {
    let repo = fixture();
    repo.git(&["tag", "-a", "v1.3.0", "-m", "exists"]);
    repo.git(&["switch", "-q", "-c", "feature"]);
    repo.write(
        "pyproject.toml",
        &PYPROJECT.replace("name = \"acme-app\"", "name = \"acme-app2\""),
    );
    let before = repo.snapshot();
    let r = repo.run(&["bump-version", "minor"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let err = &r.stderr;
    assert!(
        err.contains("bump-version refused, nothing was changed (3 problems)"),
        "{err}"
    );
    assert!(
        err.contains("uncommitted changes (pyproject.toml)"),
        "{err}"
    );
    assert!(
        err.contains("on branch `feature`, but releases are cut from `main`"),
        "{err}"
    );
    assert!(err.contains("tag v1.3.0 already exists"), "{err}");
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn invalid_input_exits_2_with_one_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["bump-version", "1.3"], "invalid version `1.3`"),
        (
            &["bump-version", "minor", "--pre", "nightly"],
            "allowed labels: dev, alpha, beta, rc",
        ),
        (
            &["bump-version", "1.2.0"],
            "must be greater than the current version 1.2.3",
        ),
        (&["bump-version"], "bump-version needs the new version"),
        (
            &["bump-version", "minor", "--frobnicate"],
            "unexpected argument `--frobnicate`",
        ),
        (&["bump-it"], "unknown command `bump-it`"),
    ];
    for (args, want) in cases {
        let repo = fixture();
        let before = repo.snapshot();
        let r = repo.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.all());
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert_eq!(repo.snapshot(), before);
    }
}

#[test]
fn malformed_files_are_reported_together_with_exit_2() {
    let repo = Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        ("pyproject.toml", "[project\nversion = \"1.2.3\"\n"),
        ("docker-compose.yml", "services:\n  app: [unclosed\n"),
        ("CHANGELOG.md", CHANGELOG),
    ]);
    let before = repo.snapshot();
    let r = repo.run(&["bump-version", "patch"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("pyproject.toml: invalid TOML at line 1"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("docker-compose.yml: "), "{}", r.stderr);
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn dynamic_version_and_missing_files_name_the_fix() {
    let repo = Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        (
            "pyproject.toml",
            "[project]\nname = \"x\"\ndynamic = [\"version\"]\n",
        ),
        ("CHANGELOG.md", CHANGELOG),
    ]);
    let r = repo.run(&["bump-version", "patch"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("remove \"version\" from `dynamic`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("docker-compose.yml not found (configured by `compose`"),
        "{}",
        r.stderr
    );
}

#[test]
fn config_errors_name_the_key_and_the_file() {
    let repo = Repo::new(&[
        (
            "Cargo.toml",
            &CARGO_TOML.replace("tag-prefix = \"v\"", "tag_prefix = \"v\""),
        ),
        ("pyproject.toml", PYPROJECT),
        ("docker-compose.yml", COMPOSE),
        ("CHANGELOG.md", CHANGELOG),
    ]);
    let r = repo.run(&["bump-version", "patch"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("Cargo.toml: unknown key `tag_prefix` in [workspace.metadata.release]; did you mean `tag-prefix`?"),
        "{}",
        r.stderr
    );
}

#[test]
fn drift_is_a_table_and_force_proceeds() {
    let repo = Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        ("pyproject.toml", PYPROJECT),
        (
            "docker-compose.yml",
            &COMPOSE.replace("app:v1.2.3", "app:v1.2.2"),
        ),
        ("CHANGELOG.md", CHANGELOG),
    ]);
    let before = repo.snapshot();
    let r = repo.run(&["bump-version", "patch"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("disagree on the current version"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("≠ docker-compose.yml:3"), "{}", r.stderr);
    assert!(r.stderr.contains("ghcr.io/acme/app:v1.2.2"), "{}", r.stderr);
    assert_eq!(repo.snapshot(), before);

    let check = repo.run(&["check-versions"]);
    assert_eq!(check.code, 1);
    assert!(
        check.stderr.contains("≠ docker-compose.yml:3"),
        "{}",
        check.stderr
    );

    let r = repo.run(&["bump-version", "patch", "--force"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.all().contains("--force given"), "{}", r.all());
    assert!(repo
        .read("docker-compose.yml")
        .contains("ghcr.io/acme/app:v1.2.4 "));
    assert_eq!(repo.run(&["check-versions"]).code, 0);
}

#[test]
fn no_commit_and_no_tag() {
    let repo = fixture();
    let head = repo.git(&["rev-parse", "HEAD"]);
    let r = repo.run(&["bump-version", "patch", "--no-commit"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
    assert!(repo.read("pyproject.toml").contains("\"1.2.4\""));
    assert_eq!(repo.git(&["tag", "-l"]), "");
    assert_eq!(repo.git(&["status", "--porcelain"]).lines().count(), 3);

    let repo = fixture();
    let r = repo.run(&["bump-version", "patch", "--no-tag"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_ne!(repo.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(repo.git(&["tag", "-l"]), "");
}

#[test]
fn crlf_and_missing_final_newline_survive() {
    let crlf_compose = "services:\r\n  app:\r\n    image: ghcr.io/acme/app:1.2.3\r\n  db:\r\n    image: postgres:16\r\n";
    let py_no_newline = "[project]\nname = \"x\"\nversion = '1.2.3'";
    let cl_crlf = CHANGELOG.replace('\n', "\r\n");
    let repo = Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        ("pyproject.toml", py_no_newline),
        ("docker-compose.yml", crlf_compose),
        ("CHANGELOG.md", &cl_crlf),
    ]);
    let r = repo.run(&["bump-version", "2.0.0"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        repo.read("pyproject.toml"),
        "[project]\nname = \"x\"\nversion = '2.0.0'"
    );
    assert_eq!(
        repo.read("docker-compose.yml"),
        crlf_compose.replace("1.2.3", "2.0.0")
    );
    let cl = repo.read("CHANGELOG.md");
    assert!(cl.contains("## [2.0.0] - 2026-11-21\r\n"), "{cl:?}");
    assert_eq!(
        cl.matches('\n').count(),
        cl.matches("\r\n").count(),
        "a bare LF was introduced: {cl:?}"
    );
}

#[test]
fn a_failing_commit_restores_the_files() {
    let repo = fixture();
    let hook = repo.path().join(".git/hooks/pre-commit");
    std::fs::write(&hook, "#!/bin/sh\necho 'hook says no' >&2\nexit 1\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let r = repo.run(&["bump-version", "minor"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("hook says no"), "{}", r.all());
    assert!(r.all().contains("restored 3 file(s)"), "{}", r.all());
    assert_eq!(repo.read("pyproject.toml"), PYPROJECT);
    assert_eq!(repo.read("docker-compose.yml"), COMPOSE);
    assert_eq!(repo.read("CHANGELOG.md"), CHANGELOG);
    assert_eq!(repo.git(&["tag", "-l"]), "");
    // The index is back to HEAD too? `git add` staged the edits; restoring the files leaves the
    // index staged with the new content, so status must show it.
    let status = repo.git(&["status", "--porcelain"]);
    assert!(
        status.is_empty(),
        "work tree and index must be as before: {status}"
    );
}

#[test]
fn dash_c_and_subdirectories_find_the_repository_root() {
    let repo = fixture();
    repo.write("src/pkg/mod.py", "");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "pkg"]);
    let sub = repo.path().join("src/pkg");
    let r = repo.run_in(&sub, &["check-versions"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let elsewhere = tempfile::tempdir().unwrap();
    let r = repo.run_in(
        elsewhere.path(),
        &["-C", repo.path().to_str().unwrap(), "check-versions"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let r = repo.run_in(elsewhere.path(), &["check-versions"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("is not inside a git repository"),
        "{}",
        r.stderr
    );
}

#[test]
fn check_versions_json_and_tag_at_head() {
    let repo = fixture();
    let r = repo.run(&["check-versions", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["version"], "1.2.3");
    let files: Vec<&str> = v["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "pyproject.toml",
            "docker-compose.yml",
            "docker-compose.yml",
            "CHANGELOG.md"
        ]
    );

    repo.git(&["tag", "v1.2.4"]);
    let r = repo.run(&["check-versions", "--json"]);
    assert_eq!(r.code, 1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["readings"][4]["location"], "tag at HEAD");
}
