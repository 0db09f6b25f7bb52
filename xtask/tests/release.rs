//! Conventional Commits → `bump-version auto`, `changelog`, `release-notes` and `release`, on
//! scripted histories in real git repositories with a bare remote.

mod common;

use common::*;

/// The standard fixture with a release tag v1.2.3 on its first commit.
fn tagged() -> Repo {
    let repo = fixture();
    repo.git(&["tag", "-a", "v1.2.3", "-m", "Release v1.2.3"]);
    repo
}

fn with_version(files_version: &str) -> Repo {
    let repo = Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        (
            "pyproject.toml",
            &PYPROJECT.replace(
                "version = \"1.2.3\"  #",
                &format!("version = \"{files_version}\"  #"),
            ),
        ),
        (
            "docker-compose.yml",
            &COMPOSE
                .replace("app:v1.2.3", &format!("app:v{files_version}"))
                .replace("app:1.2.3", &format!("app:{files_version}")),
        ),
        ("CHANGELOG.md", &CHANGELOG.replace("1.2.3", files_version)),
    ]);
    repo.git(&["tag", "-a", &format!("v{files_version}"), "-m", "r"]);
    repo
}

#[test]
fn auto_picks_the_level_from_the_commits() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("1.2.3", &["fix: a bug", "docs: words"], "1.2.4"),
        ("1.2.3", &["fix: a bug", "feat(api): a feature"], "1.3.0"),
        ("1.2.3", &["feat!: drop the v1 API", "fix: x"], "2.0.0"),
        (
            "1.2.3",
            &["fix: x\n\nBREAKING CHANGE: config keys renamed"],
            "2.0.0",
        ),
        ("0.4.2", &["feat(api)!: breaking while 0.x"], "0.5.0"),
        ("1.2.3", &["perf: faster"], "1.2.4"),
    ];
    for (start, commits, want) in cases {
        let repo = with_version(start);
        for c in *commits {
            repo.commit(c);
        }
        let r = repo.run(&["bump-version", "auto", "--no-commit"]);
        assert_eq!(r.code, 0, "{commits:?}: {}", r.all());
        assert!(
            r.stdout.contains(&format!("{start} → {want}")),
            "{commits:?}: {}",
            r.stdout
        );
    }
}

#[test]
fn auto_with_nothing_releasable_exits_1() {
    let repo = tagged();
    repo.commit("docs: typo");
    repo.commit("chore(deps): bump x");
    let before = repo.snapshot();
    let r = repo.run(&["bump-version", "auto"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("no releasable commits since v1.2.3"),
        "{}",
        r.stderr
    );
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn generated_changelog_sections_scopes_reverts_merges_and_other() {
    let repo = tagged();
    repo.commit("feat(api): add /version endpoint (#12)");
    repo.commit("fix: survive empty bodies\n\nCloses #15");
    repo.write("flaky.txt", "x");
    repo.git(&["add", "flaky.txt"]);
    repo.commit("feat: flaky idea");
    let flaky = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.git(&["revert", "--no-edit", &flaky]);
    repo.git(&["switch", "-q", "-c", "topic"]);
    repo.commit("perf(db): cache lookups");
    repo.git(&["switch", "-q", "main"]);
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'topic'",
        "topic",
    ]);
    repo.commit("tidy up things");
    repo.commit("docs: explain");
    let r = repo.run(&["changelog"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let md = &r.stdout;
    assert!(md.starts_with("# Changelog\n\n## [Unreleased]\n\n### Added\n\n- **api:** add /version endpoint (#12) ("), "{md}");
    assert!(
        md.contains("### Changed\n\n- **db:** cache lookups ("),
        "{md}"
    );
    assert!(md.contains("### Fixed\n\n- survive empty bodies ("), "{md}");
    assert!(md.contains(", #15\n"), "{md}");
    assert!(md.contains("### Other\n\n- tidy up things ("), "{md}");
    assert!(
        !md.contains("flaky"),
        "a revert and its commit cancel out: {md}"
    );
    assert!(!md.contains("Merge branch"), "{md}");
    assert!(!md.contains("explain"), "docs are not user-facing: {md}");

    // Other can be configured off; links appear when the repository URL is known.
    repo.write(
        "Cargo.toml",
        &format!("{CARGO_TOML}changelog-other = false\n\n[workspace.metadata.release.github]\nrepo = \"acme/app\"\n"),
    );
    let r = repo.run(&["changelog"]);
    assert!(!r.stdout.contains("### Other"), "{}", r.stdout);
    assert!(
        r.stdout.contains("](https://github.com/acme/app/commit/"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("[#15](https://github.com/acme/app/issues/15)"),
        "{}",
        r.stdout
    );
}

#[test]
fn tags_without_the_prefix_and_pre_release_tags() {
    let repo = tagged();
    repo.commit("feat: one");
    repo.git(&["tag", "1.2.9"]); // no prefix: not a release tag here
    repo.git(&["tag", "v-not-semver"]);
    repo.commit("feat: two");
    let r = repo.run(&[
        "bump-version",
        "minor",
        "--pre",
        "rc",
        "--generate-changelog",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    repo.commit("fix: three");

    // Since the last release tag of any kind (the rc).
    let r = repo.run(&["changelog", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let subjects: Vec<&str> = v["versions"][0]["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["entries"].as_array().unwrap())
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["three"]);

    // --all: one section per release tag, the unprefixed tag is no boundary.
    let r = repo.run(&["changelog", "--all", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let versions: Vec<Option<&str>> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str())
        .collect();
    assert_eq!(versions, [None, Some("1.3.0-rc.1"), Some("1.2.3")]);
    assert_eq!(
        v["versions"][1]["sections"][0]["entries"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(v["versions"][1]["previous_tag"], "v1.2.3");

    // A stable release after a release candidate lists everything since the last stable one.
    let r = repo.run(&[
        "bump-version",
        "minor",
        "--generate-changelog",
        "--no-commit",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    let cl = repo.read("CHANGELOG.md");
    let section = &cl[cl.find("## [1.3.0]").unwrap()..cl.find("## [1.2.3]").unwrap()];
    for s in ["one", "two", "three"] {
        assert!(
            section.contains(&format!("- {s} (")),
            "{s} missing in {section}"
        );
    }
}

#[test]
fn hand_written_unreleased_entries_are_kept_and_not_duplicated() {
    let repo = tagged();
    repo.commit("feat: a feature");
    repo.commit("fix: handle the edge case");
    let r = repo.run(&["bump-version", "auto"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let cl = repo.read("CHANGELOG.md");
    let section = &cl[cl.find("## [1.3.0]").unwrap()..cl.find("## [1.2.3]").unwrap()];
    // "- A feature." was written by a person: kept, and the generated "a feature" not added.
    assert!(section.contains("### Added\n\n- A feature.\n"), "{section}");
    assert_eq!(
        section.to_lowercase().matches("a feature").count(),
        1,
        "{section}"
    );
    assert!(
        section.contains("### Fixed\n\n- handle the edge case ("),
        "{section}"
    );
    assert!(
        r.all()
            .contains("added 1 generated entry under [Unreleased]"),
        "{}",
        r.all()
    );
}

#[test]
fn release_pushes_branch_and_tag_atomically() {
    let repo = tagged().with_remote();
    repo.git(&["push", "-q", "origin", "v1.2.3"]);
    repo.commit("feat(cli): new flag");
    let r = repo.run(&["release", "auto"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("released 1.3.0: pushed main and v1.3.0 to origin"),
        "{}",
        r.stdout
    );
    let head = repo.git(&["rev-parse", "HEAD"]);
    assert_eq!(repo.remote_git(&["rev-parse", "main"]), head);
    assert_eq!(repo.remote_git(&["rev-parse", "v1.3.0^{commit}"]), head);
    assert!(repo.read("CHANGELOG.md").contains("- **cli:** new flag ("));
}

#[test]
fn release_dry_run_changes_nothing_locally_or_remotely() {
    let repo = tagged().with_remote();
    repo.commit("fix: x");
    let local = repo.snapshot();
    let remote = repo.remote_git(&["show-ref"]);
    let r = repo.run(&["release", "patch", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("run git push --atomic origin main v1.2.4"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("+- x ("),
        "the generated entry is in the diff: {}",
        r.stdout
    );
    assert_eq!(repo.snapshot(), local);
    assert_eq!(repo.remote_git(&["show-ref"]), remote);
}

#[test]
fn release_refuses_when_behind_or_tag_on_remote() {
    let repo = tagged().with_remote();
    // Someone else pushed to main.
    let other = tempfile::tempdir().unwrap();
    let remote_path = repo
        .remote
        .as_ref()
        .unwrap()
        .path()
        .to_str()
        .unwrap()
        .to_string();
    let out = git_cmd(other.path())
        .args(["clone", "-q", &remote_path, "."])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = git_cmd(other.path())
        .args(["commit", "-q", "--allow-empty", "-m", "fix: theirs"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = git_cmd(other.path())
        .args(["push", "-q", "origin", "main"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = git_cmd(other.path())
        .args(["tag", "v1.2.4"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = git_cmd(other.path())
        .args(["push", "-q", "origin", "v1.2.4"])
        .output()
        .unwrap();
    assert!(out.status.success());

    repo.commit("fix: ours");
    let before = repo.snapshot();
    let r = repo.run(&["release", "patch"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("release refused, nothing was changed (2 problems)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("tag v1.2.4 already exists on `origin`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("`main` is behind `origin/main`"),
        "{}",
        r.stderr
    );
    assert_eq!(repo.snapshot(), before);
}

#[test]
fn a_rejected_push_rolls_everything_back() {
    let repo = tagged().with_remote();
    let hook = repo
        .remote
        .as_ref()
        .unwrap()
        .path()
        .join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'remote says: branch is protected' >&2\nexit 1\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    repo.commit("feat: something");
    let before = repo.snapshot();
    let remote_before = repo.remote_git(&["show-ref"]);
    let r = repo.run(&["release", "minor"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("branch is protected"), "{}", r.all());
    assert!(r.all().contains("restored 3 file(s)"), "{}", r.all());
    // The failed release leaves its incident report (and only that).
    let incidents = repo.path().join("target/slipway/incidents");
    let report = std::fs::read_dir(&incidents)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "md"))
        .expect("an incident report");
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(
        md.starts_with("# Incident: release ") && md.contains("branch is protected"),
        "{md}"
    );
    std::fs::remove_dir_all(repo.path().join("target")).unwrap();
    assert_eq!(
        repo.snapshot(),
        before,
        "local commit, tag, index and files are as before"
    );
    assert_eq!(repo.remote_git(&["show-ref"]), remote_before);
}

#[test]
fn release_notes_templates() {
    let repo = tagged();
    repo.commit(
        "feat(config)!: rename port to listen\n\nBREAKING CHANGE: set `listen` instead of `port`.",
    );
    repo.commit("fix: a bug");
    repo.write(
        "Cargo.toml",
        &format!("{CARGO_TOML}\n[workspace.metadata.release.github]\nrepo = \"acme/app\"\n"),
    );
    repo.git(&["commit", "-q", "-am", "chore: link repo"]);
    assert_eq!(repo.run(&["release", "auto", "--no-push"]).code, 0);

    let default = repo.run(&["release-notes"]);
    assert_eq!(default.code, 0, "{}", default.all());
    assert!(
        default
            .stdout
            .starts_with("### Breaking changes\n\n- **config:** rename port to listen"),
        "{}",
        default.stdout
    );
    assert!(
        default
            .stdout
            .contains("pip install acme-app==2.0.0\ndocker pull ghcr.io/acme/app:v2.0.0\n"),
        "{}",
        default.stdout
    );

    let minimal = repo
        .run(&["release-notes", "2.0.0", "--template", "minimal"])
        .stdout;
    assert!(
        minimal.starts_with("- **config:** rename port"),
        "{minimal}"
    );
    assert!(!minimal.contains("###"), "{minimal}");

    let detailed = repo
        .run(&["release-notes", "v2.0.0", "--template", "detailed"])
        .stdout;
    assert!(
        detailed.contains("## Contributors\n\n- Test\n"),
        "{detailed}"
    );
    assert!(detailed.contains("4 commit(s) since v1.2.3 · [full diff](https://github.com/acme/app/compare/v1.2.3...v2.0.0)"), "{detailed}");
    assert!(
        detailed.contains("## Upgrade notes\n\n- **config:** set `listen` instead of `port`."),
        "{detailed}"
    );

    let breaking = repo
        .run(&["release-notes", "--template", "breaking"])
        .stdout;
    assert!(
        breaking.starts_with("## ⚠ Breaking changes\n\n- **config:** rename port"),
        "{breaking}"
    );
    assert!(
        breaking.contains("### Migration notes\n\n- **config:** set `listen`"),
        "{breaking}"
    );

    repo.write(
        "notes.tpl",
        "Release {{tag}} of {{package}} ({{pep440}}) {{nope}}\n",
    );
    let custom = repo.run(&["release-notes", "--template", "notes.tpl"]);
    assert_eq!(custom.code, 2, "{}", custom.all());
    assert!(
        custom
            .stderr
            .contains("unknown template variable {{nope}}; known variables: body,"),
        "{}",
        custom.stderr
    );
    repo.write("notes.tpl", "Release {{tag}} of {{package}} ({{pep440}})\n");
    assert_eq!(
        repo.run(&["release-notes", "--template", "notes.tpl"])
            .stdout,
        "Release v2.0.0 of acme-app (2.0.0)\n"
    );

    let missing = repo.run(&["release-notes", "9.9.9"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("has no section for 9.9.9; it has: 2.0.0, 1.2.3"),
        "{}",
        missing.stderr
    );
}

#[test]
fn changelog_html_and_output_file() {
    let repo = tagged();
    repo.commit("feat: <script> & friends");
    let r = repo.run(&[
        "changelog",
        "--all",
        "--format",
        "html",
        "-o",
        "out/changes.html",
    ]);
    assert_eq!(r.code, 1, "the directory does not exist: {}", r.all());
    std::fs::create_dir_all(repo.path().join("out")).unwrap();
    let r = repo.run(&[
        "changelog",
        "--all",
        "--format",
        "html",
        "-o",
        "out/changes.html",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    let html = repo.read("out/changes.html");
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("&lt;script&gt; &amp; friends"), "{html}");
    assert!(html.contains("<h2>[1.2.3] - "), "{html}");
    assert!(html.trim_end().ends_with("</html>"));
    let bad = repo.run(&["changelog", "--format", "pdf"]);
    assert_eq!(bad.code, 2);
}

#[path = "common/trace.rs"]
mod trace;

/// Under strace: the processes `release` starts, beyond the read-only observations its dry run
/// makes too, are exactly the ones its `--dry-run --json` plan lists.
#[test]
fn release_starts_exactly_the_processes_its_dry_run_lists() {
    if !trace::strace_works() {
        eprintln!("SKIPPED: strace cannot trace here");
        return;
    }
    let repo = tagged().with_remote();
    repo.git(&["push", "-q", "origin", "v1.2.3"]);
    repo.commit("feat(cli): new flag");
    let cmd = |args: &[&str]| {
        let mut c = hermetic(BIN, repo.path());
        c.args(args)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("CLICOLOR_FORCE");
        c
    };
    let dry_dir = tempfile::tempdir().unwrap();
    let (dry, observed) = trace::traced(
        &cmd(&["release", "auto", "--dry-run", "--json"]),
        dry_dir.path(),
    );
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let planned = trace::planned(&plan["steps"]);
    assert!(
        planned.iter().any(|t| t[..2] == ["git", "push"]),
        "{planned:?}"
    );

    let real_dir = tempfile::tempdir().unwrap();
    let (real, started) = trace::traced(&cmd(&["release", "auto"]), real_dir.path());
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let acted = trace::less(&started, &observed);
    for argv in &acted {
        assert!(
            planned.iter().any(|t| trace::matches(t, argv)),
            "started but not in the dry-run plan: {argv:?}\nplanned: {planned:#?}"
        );
    }
    for t in &planned {
        assert!(
            acted.iter().any(|a| trace::matches(t, a)),
            "planned but not started: {t:?}\nstarted: {acted:#?}"
        );
    }
}
