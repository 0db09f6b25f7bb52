//! `init` and `adopt` on fixture repositories (real git in temp dirs): init writes the expected
//! table, running it twice changes nothing, `check-versions` agrees and `bump-version patch
//! --dry-run` shows the expected edit.

mod common;

use common::*;
use expect_test::{expect, Expect};

fn repo(files: &[(&str, &str)], tags: &[&str]) -> Repo {
    let r = Repo::new(files);
    for t in tags {
        r.git(&["tag", "-a", t, "-m", "release"]);
    }
    r
}

/// Runs init, checks the table, runs it again (no change), commits, then check-versions.
fn init_ok(r: &Repo, want: Expect) {
    let dry = r.run(&["init", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        !r.path().join("Cargo.toml").exists() || !r.read("Cargo.toml").contains("metadata.release")
    );
    let out = r.run(&["init"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let text = r.read("Cargo.toml");
    let table = &text[text.find("[workspace.metadata.release]").unwrap()..];
    want.assert_eq(table);
    let snap = r.snapshot();
    let again = r.run(&["init"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.all().contains("nothing to change"), "{}", again.all());
    assert_eq!(r.snapshot(), snap, "init twice changes nothing");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "chore: slipway config"]);
    let check = r.run(&["check-versions"]);
    assert_eq!(check.code, 0, "{}", check.all());
}

/// The changed lines of a unified diff, `+`/`-` marked, headers left out.
fn changed_lines(diff: &str) -> Vec<String> {
    diff.lines()
        .filter(|l| {
            let t = l.trim_start();
            (t.starts_with('+') || t.starts_with('-'))
                && !t.starts_with("+++")
                && !t.starts_with("---")
        })
        .map(|l| l.trim_start().trim_end_matches('\r').to_string())
        .collect()
}

/// The real `bump-version patch` after the dry run whose changed lines are `dry`: it commits
/// exactly those lines (the commit's diff, whatever the file order), no file is left changed,
/// and `check-versions` agrees afterwards — with no config beyond what init wrote.
fn real_bump_is_the_dry_run(r: &Repo, dry: &str) {
    let out = r.run(&["bump-version", "patch", "--allow-placeholders"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let mut committed = changed_lines(&r.git(&["show", "--format=", "--no-color", "HEAD"]));
    let mut planned: Vec<String> = dry.lines().map(str::to_string).collect();
    committed.sort();
    planned.sort();
    assert_eq!(
        committed, planned,
        "the commit is not what the dry run showed"
    );
    assert_eq!(
        r.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    let check = r.run(&["check-versions"]);
    assert_eq!(check.code, 0, "{}", check.all());
}

fn bump_diff(r: &Repo) -> String {
    let out = r.run(&["bump-version", "patch", "--dry-run", "--allow-placeholders"]);
    assert_eq!(out.code, 0, "{}", out.all());
    changed_lines(&out.stdout).join("\n")
}

#[test]
fn release_please_unprefixed_tags_suffix_anchor_and_extra_files_no_gitignore() {
    let compose = "x-app-image: &app-image ghcr.io/acme/app:0.6.2\nservices:\n  app:\n    image: *app-image\n  gpu:\n    image: ghcr.io/acme/app:${TAG:-0.6.2}-ollama\n  db:\n    image: postgres:16\n  billing:\n    image: ghcr.io/acme/billing:0.6.2\n";
    let r = repo(
        &[
            ("pyproject.toml", "[project]\nname = \"app\"\nversion = \"0.6.2\"\n"),
            ("docker-compose.yml", compose),
            ("CHANGELOG.md", "# Changelog\n\n## [0.6.2](https://github.com/acme/app/compare/0.6.1...0.6.2) (2024-08-08)\n\n### Bug Fixes\n\n* a fix\n"),
            ("VERSION", "0.6.2\n"),
            ("server.json", "{\n  \"name\": \"app\",\n  \"version\": \"0.6.2\",\n  \"packages\": [{\"version\": \"0.6.2\"}, {\"version\": \"0.6.2\"}]\n}\n"),
            (".env.example", "APP_VERSION=0.6.2\nDB_URL=x\n"),
            ("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\nappVersion: \"0.6.2\"\n"),
            ("charts/app/values.yaml", "image:\n  repository: ghcr.io/acme/app\n  tag: 0.6.2\n"),
        ],
        &["0.6.1", "0.6.2"],
    );
    r.git(&["remote", "add", "origin", "https://github.com/acme/app.git"]);
    init_ok(
        &r,
        expect![[r#"
            [workspace.metadata.release]
            # Written by `cargo xtask init` from what it found in this repository; review it, then run
            # `cargo xtask check-versions`. Every key is described in slipway's README.
            # Release tags look like `1.2.3` (2 existing tags use this prefix).
            tag-prefix = ""
            branch = "main"
            # pyproject.toml: [project].version = "0.6.2" (static)
            pyproject = "pyproject.toml"
            # CHANGELOG.md is written in the release-please style; new sections follow it.
            changelog-style = "release-please"
            compose = ["docker-compose.yml"]
            # The project's own images (their version tags follow the release):
            #   ghcr.io/acme/app: named after `app`, owner `acme`
            # Left alone (not the project's):
            #   postgres: third-party image
            #   ghcr.io/acme/billing: another product of `acme`
            images = ["ghcr.io/acme/app"]

            [[workspace.metadata.release.files]]
            # APP_VERSION in .env.example
            path = ".env.example"
            kind = "dotenv"
            key = "APP_VERSION"

            [[workspace.metadata.release.files]]
            # a plain-text version file
            path = "VERSION"
            kind = "text"

            [[workspace.metadata.release.files]]
            # server.json: its "version"
            path = "server.json"
            kind = "json"
            pointer = "/version"

            [[workspace.metadata.release.files]]
            # server.json: the version of every package entry
            path = "server.json"
            kind = "json"
            pointer = "/packages/*/version"
            count = 2

            [[workspace.metadata.release.files]]
            # Helm chart: appVersion (the chart's own `version` is left alone)
            path = "charts/app/Chart.yaml"
            kind = "yaml"
            key = "appVersion"

            [[workspace.metadata.release.files]]
            # Helm values: image.tag
            path = "charts/app/values.yaml"
            kind = "yaml"
            key = "image.tag"
            format = "docker"

            [workspace.metadata.release.github]
            # From the `origin` remote.
            repo = "acme/app"
        "#]],
    );
    let dry = bump_diff(&r);
    expect![[r#"
        -version = "0.6.2"
        +version = "0.6.3"
        -x-app-image: &app-image ghcr.io/acme/app:0.6.2
        +x-app-image: &app-image ghcr.io/acme/app:0.6.3
        -    image: ghcr.io/acme/app:${TAG:-0.6.2}-ollama
        +    image: ghcr.io/acme/app:${TAG:-0.6.3}-ollama
        -APP_VERSION=0.6.2
        +APP_VERSION=0.6.3
        -0.6.2
        +0.6.3
        -  "version": "0.6.2",
        -  "packages": [{"version": "0.6.2"}, {"version": "0.6.2"}]
        +  "version": "0.6.3",
        +  "packages": [{"version": "0.6.3"}, {"version": "0.6.3"}]
        -appVersion: "0.6.2"
        +appVersion: "0.6.3"
        -  tag: 0.6.2
        +  tag: 0.6.3
        +## [0.6.3](https://github.com/acme/app/compare/0.6.2...0.6.3) (2026-11-21)
        +
        +### Features
        +
        +* _TODO: describe this change (placeholder inserted by slipway)_
        +
        +### Code Refactoring
        +
        +* _TODO: describe this change (placeholder inserted by slipway)_
        +
        +### Bug Fixes
        +
        +* _TODO: describe this change (placeholder inserted by slipway)_
        +"#]]
    .assert_eq(&dry);
    real_bump_is_the_dry_run(&r, &dry);
    // No .gitignore: slipway's own outputs are excluded by git anyway once written.
    assert!(!r.path().join(".gitignore").exists());
}

#[test]
fn commitizen_hatch_path_subdirectory_pyproject() {
    let r = repo(
        &[
            ("pyproject.toml", "[project]\nname = \"tool\"\ndynamic = [\"version\"]\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n[tool.hatch.version]\npath = \"src/tool/__about__.py\"\n"),
            ("src/tool/__about__.py", "__version__ = \"0.2.37\"\n"),
            ("sdk/pyproject.toml", "[project]\nname = \"tool-sdk\"\nversion = \"0.2.37\"\n"),
            ("CHANGELOG.md", "## v0.2.37 (2025-06-01)\n\n### Fix\n\n- a fix\n"),
        ],
        &["v0.2.37"],
    );
    init_ok(
        &r,
        expect![[r#"
            [workspace.metadata.release]
            # Written by `cargo xtask init` from what it found in this repository; review it, then run
            # `cargo xtask check-versions`. Every key is described in slipway's README.
            # Release tags look like `v1.2.3` (1 existing tag uses this prefix).
            tag-prefix = "v"
            branch = "main"
            # pyproject.toml: dynamic version, from src/tool/__about__.py ([tool.hatch.version] path)
            # sdk/pyproject.toml: [project].version = "0.2.37" (static)
            # The first is the package that is built; all state the version.
            pyproject = ["pyproject.toml", "sdk/pyproject.toml"]
            # CHANGELOG.md is written in the commitizen style; new sections follow it.
            changelog-style = "commitizen"
        "#]],
    );
    let dry = bump_diff(&r);
    expect![[r#"
        -version = "0.2.37"
        +version = "0.2.38"
        -__version__ = "0.2.37"
        +__version__ = "0.2.38"
        +## v0.2.38 (2026-11-21)
        +
        +### Feat
        +
        +- _TODO: describe this change (placeholder inserted by slipway)_
        +
        +### Refactor
        +
        +- _TODO: describe this change (placeholder inserted by slipway)_
        +
        +### Fix
        +
        +- _TODO: describe this change (placeholder inserted by slipway)_
        +"#]]
    .assert_eq(&dry);
    real_bump_is_the_dry_run(&r, &dry);
}

#[test]
fn plain_changelog_setuptools_scm() {
    let r = repo(
        &[
            ("pyproject.toml", "[project]\nname = \"scm-app\"\ndynamic = [\"version\"]\n[build-system]\nrequires = [\"setuptools\", \"setuptools-scm\"]\nbuild-backend = \"setuptools.build_meta\"\n[tool.setuptools_scm]\n"),
            ("CHANGELOG.md", "# Changes\n\n## 1.4.0\n\n- things\n"),
        ],
        &["v1.4.0"],
    );
    init_ok(
        &r,
        expect![[r#"
        [workspace.metadata.release]
        # Written by `cargo xtask init` from what it found in this repository; review it, then run
        # `cargo xtask check-versions`. Every key is described in slipway's README.
        # Release tags look like `v1.2.3` (1 existing tag uses this prefix).
        tag-prefix = "v"
        branch = "main"
        # pyproject.toml: version from git tags (setuptools-scm): the release tag is the version
        pyproject = "pyproject.toml"
        # CHANGELOG.md is written in the plain style; new sections follow it.
        changelog-style = "plain"
    "#]],
    );
    let dry = bump_diff(&r);
    expect![[r#"
        +## 1.4.1
        +
        +### Added
        +
        +- _TODO: describe this change (placeholder inserted by slipway)_
        +
        +### Changed
        +
        +- _TODO: describe this change (placeholder inserted by slipway)_
        +
        +### Fixed
        +
        +- _TODO: describe this change (placeholder inserted by slipway)_
        +
        - things"#]]
    .assert_eq(&dry);
    real_bump_is_the_dry_run(&r, &dry);
}

#[test]
fn no_changelog_and_a_29_image_compose_file() {
    let mut compose = String::from("services:\n");
    for i in 0..20 {
        compose.push_str(&format!(
            "  own{i}:\n    image: ghcr.io/acme/acme-app:v2.0.0\n"
        ));
    }
    compose.push_str(
        "  worker:\n    build: ./worker\n    image: registry.example.com/ops/worker:v2.0.0\n",
    );
    for (i, img) in [
        "postgres:16",
        "redis:7.2.4",
        "nginx:1.27",
        "grafana/grafana:11.0.0",
        "prom/prometheus:v2.53.0",
        "minio/minio:latest",
    ]
    .iter()
    .enumerate()
    {
        compose.push_str(&format!("  third{i}:\n    image: {img}\n"));
    }
    for name in ["billing", "auth"] {
        compose.push_str(&format!(
            "  {name}:\n    image: ghcr.io/acme/{name}:v2.0.0\n"
        ));
    }
    assert_eq!(compose.matches("image:").count(), 29);
    let r = repo(
        &[
            (
                "pyproject.toml",
                "[project]\nname = \"acme_app\"\nversion = \"2.0.0\"\n",
            ),
            ("deploy/docker-compose.yml", &compose),
        ],
        &["v2.0.0"],
    );
    r.git(&[
        "remote",
        "add",
        "origin",
        "git@github.com:acme/acme-app.git",
    ]);
    init_ok(
        &r,
        expect![[r#"
        [workspace.metadata.release]
        # Written by `cargo xtask init` from what it found in this repository; review it, then run
        # `cargo xtask check-versions`. Every key is described in slipway's README.
        # Release tags look like `v1.2.3` (1 existing tag uses this prefix).
        tag-prefix = "v"
        branch = "main"
        # pyproject.toml: [project].version = "2.0.0" (static)
        pyproject = "pyproject.toml"
        # No changelog found: releases are made without one. To start one, create CHANGELOG.md with a `## [Unreleased]` section and remove this line.
        changelog-style = "none"
        compose = ["deploy/docker-compose.yml"]
        # The project's own images (their version tags follow the release):
        #   ghcr.io/acme/acme-app: named after `acme-app`, owner `acme`
        #   registry.example.com/ops/worker: built here (service `worker` has a build:)
        # Left alone (not the project's):
        #   postgres: third-party image
        #   redis: third-party image
        #   nginx: third-party image
        #   grafana/grafana: third-party image
        #   prom/prometheus: third-party image
        #   minio/minio: third-party image
        #   ghcr.io/acme/billing: another product of `acme`
        #   ghcr.io/acme/auth: another product of `acme`
        images = [
            "ghcr.io/acme/acme-app",
            "registry.example.com/ops/worker",
        ]

        [workspace.metadata.release.github]
        # From the `origin` remote.
        repo = "acme/acme-app"
    "#]],
    );
    let dry = bump_diff(&r);
    expect![[r#"
        -version = "2.0.0"
        +version = "2.0.1"
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: ghcr.io/acme/acme-app:v2.0.0
        +    image: ghcr.io/acme/acme-app:v2.0.1
        -    image: registry.example.com/ops/worker:v2.0.0
        +    image: registry.example.com/ops/worker:v2.0.1"#]]
    .assert_eq(&dry);
    real_bump_is_the_dry_run(&r, &dry);
}

#[test]
fn missing_config_names_init() {
    let r = repo(
        &[(
            "pyproject.toml",
            "[project]\nname = \"x\"\nversion = \"1.0.0\"\n",
        )],
        &[],
    );
    let out = r.run(&["check-versions"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.all().contains("run `cargo xtask init`"),
        "{}",
        out.all()
    );
}

#[test]
fn adopt_into_a_fresh_repository_then_check_versions_there() {
    let r = repo(
        &[
            (
                "pyproject.toml",
                "[project]\nname = \"fresh\"\nversion = \"0.1.0\"\n",
            ),
            (
                "CHANGELOG.md",
                "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-01-01\n\n- first\n",
            ),
        ],
        &["v0.1.0"],
    );
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dry = hermetic(BIN, &checkout)
        .args(["adopt", r.path().to_str().unwrap(), "--dry-run"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(!r.path().join("xtask").exists(), "a dry run writes nothing");
    let out = hermetic(BIN, &checkout)
        .args(["adopt", r.path().to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(r.path().join("xtask/src/cli.rs").is_file());
    assert!(r.path().join(".cargo/config.toml").is_file());
    let cargo = r.read("Cargo.toml");
    // The tool and its pure core (a crate of its own inside `xtask/`).
    assert!(
        cargo.contains("members = [\"xtask\", \"xtask/src/core\"]"),
        "{cargo}"
    );
    assert!(cargo.contains("[workspace.metadata.release]"), "{cargo}");
    // Adopting twice changes nothing.
    let snap = r.snapshot();
    let again = hermetic(BIN, &checkout)
        .args(["adopt", r.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(r.snapshot(), snap);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "chore: adopt slipway"]);
    // The copied tool builds there and agrees. In a target directory of its own: cargo gives a
    // workspace crate the same artifact names whatever the workspace's folder, so building the
    // copy into this checkout's target would overwrite the `xtask` library the other test
    // binaries (the rig's doc tests) are linked against. It persists, so later runs are warm.
    let check = hermetic("cargo", r.path())
        .args(["xtask", "check-versions"])
        .env("CARGO_TARGET_DIR", target_dir().join("adopted"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn symlinked_changelog_is_edited_through_the_link() {
    let r = repo(
        &[
            ("pyproject.toml", "[project]\nname = \"app\"\nversion = \"1.0.0\"\n"),
            ("docs/CHANGES.md", "# Changelog\n\n## [Unreleased]\n\n- a change\n\n## [1.0.0] - 2026-01-01\n\n- first\n"),
        ],
        &["v1.0.0"],
    );
    std::os::unix::fs::symlink("docs/CHANGES.md", r.path().join("CHANGELOG.md")).unwrap();
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "docs: link"]);
    init_ok(
        &r,
        expect![[r#"
            [workspace.metadata.release]
            # Written by `cargo xtask init` from what it found in this repository; review it, then run
            # `cargo xtask check-versions`. Every key is described in slipway's README.
            # Release tags look like `v1.2.3` (1 existing tag uses this prefix).
            tag-prefix = "v"
            branch = "main"
            # pyproject.toml: [project].version = "1.0.0" (static)
            pyproject = "pyproject.toml"
            # CHANGELOG.md is written in the keep-a-changelog style; new sections follow it.
            changelog-style = "keep-a-changelog"
        "#]],
    );
    let out = r.run(&["bump-version", "patch"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let link = std::fs::symlink_metadata(r.path().join("CHANGELOG.md")).unwrap();
    assert!(link.file_type().is_symlink(), "the link stays a link");
    assert!(r
        .read("docs/CHANGES.md")
        .contains("## [1.0.1] - 2026-11-21"));
    assert_eq!(
        r.git(&["status", "--porcelain"]),
        "",
        "the target was committed"
    );
}

#[test]
fn traps_are_refused_with_the_fix() {
    let r = repo(
        &[
            ("Cargo.toml", "[workspace]\nmembers = []\n\n[workspace.metadata.release]\ntag-prefix = \"v\"\nchangelog-style = \"none\"\ncompose = [\"compose.yml\"]\nimages = [\"ghcr.io/acme/app\"]\n"),
            ("pyproject.toml", "[project]\nname = \"app\"\nversion = \"1.0.0\"\n"),
            ("compose.yml", "services:\n  app:\n    image: ghcr.io/acme/app:1.0.0\n    image: ghcr.io/acme/app:1.0.0\n"),
        ],
        &["1.0.0"],
    );
    let out = r.run(&["check-versions", "--json"]);
    assert_eq!(out.code, 2, "{}", out.all());
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["problems"][0]["file"], "compose.yml", "{doc}");
    assert_eq!(doc["problems"][0]["line"], 4, "{doc}");
    r.write(
        "compose.yml",
        "services:\n  app:\n    image: ghcr.io/acme/app:1.0.0\n",
    );
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "fix"]);
    let out = r.run(&["check-versions"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.all().contains(
            "no existing tag uses tag-prefix = \"v\" (the release tags look like `1.0.0`)"
        ),
        "{}",
        out.all()
    );
    let out = r.run(&["bump-version", "v1.0.1"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.all()
            .contains("give the version without the tag prefix: `cargo xtask bump-version 1.0.1`"),
        "{}",
        out.all()
    );
    r.write(
        "Cargo.toml",
        "[package]\nname = \"x\"\n[package.metadata.release]\ntag-prefix = \"\"\n",
    );
    let out = r.run(&["check-versions"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.all()
            .contains("did you mean [workspace.metadata.release]?"),
        "{}",
        out.all()
    );
}

#[test]
fn own_outputs_never_dirty_the_tree() {
    let r = fixture();
    // A repository without `target/` in .gitignore that once committed slipway's outputs.
    r.write("target/slipway/journal/v1.2.3.jsonl", "{}\n");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "oops"]);
    r.write("target/slipway/journal/v1.2.3.jsonl", "{}\n{}\n");
    r.write("target/slipway/dist/1.2.4/app.whl", "x");
    let out = r.run(&["bump-version", "patch", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.all().contains("uncommitted"), "{}", out.all());
}

#[test]
fn adopt_refuses_another_xtask_or_a_package_manifest() {
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let adopt = |r: &Repo| {
        let out = hermetic(BIN, &checkout)
            .args(["adopt", r.path().to_str().unwrap()])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let py = (
        "pyproject.toml",
        "[project]\nname = \"app\"\nversion = \"1.0.0\"\n",
    );
    let r = repo(
        &[
            py,
            (
                "xtask/Cargo.toml",
                "[package]\nname = \"xtask\"\nversion = \"9.0.0\"\n",
            ),
        ],
        &[],
    );
    let snap = r.snapshot();
    let (code, err) = adopt(&r);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("already has an xtask crate that is not this slipway"),
        "{err}"
    );
    assert_eq!(r.snapshot(), snap, "nothing written");
    let r = repo(
        &[
            py,
            (
                "Cargo.toml",
                "[package]\nname = \"app-rs\"\nversion = \"0.1.0\"\n",
            ),
        ],
        &[],
    );
    let snap = r.snapshot();
    let (code, err) = adopt(&r);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the top-level Cargo.toml is the package `app-rs`, not a workspace"),
        "{err}"
    );
    assert_eq!(r.snapshot(), snap, "nothing written");
}
