//! Hotfix lines: `hotfix X.Y` reaches the maintenance branch `release/X.Y` (created from the
//! line's newest tag, an existing local branch, or tracked from the remote), `release patch`
//! there cuts X.Y.(n+1) with the line's own changelog and pushes it with that branch, minor and
//! major releases are refused there, and the Docker moving tags stay on the newest line. Real git
//! with a bare remote; the Docker part against slipway's engine and a real local registry.

mod common;

#[path = "common/trace.rs"]
mod trace;

use std::path::Path;
use std::process::Command;

use common::*;

const HOTFIX_CARGO_TOML: &str = r#"[workspace]
members = []

[workspace.metadata.release]
tag-prefix = "v"
branch = "main"
branches = ["main", "release/*"]
changelog = "CHANGELOG.md"
pyproject = "pyproject.toml"
"#;

const PYPROJECT_110: &str = "[project]\nname = \"acme-app\"\nversion = \"1.1.0\"\n";

const CHANGELOG_110: &str = "# Changelog\n\n## [Unreleased]\n\n## [1.1.0] - 2026-10-01\n\n### Added\n\n- The start.\n\n[Unreleased]: https://github.com/acme/app/compare/v1.1.0...HEAD\n[1.1.0]: https://github.com/acme/app/releases/tag/v1.1.0\n";

/// A repository with a remote where 1.1.0, 1.2.0 and 1.3.0 were released from `main` (by
/// `release`, each after a `feat` commit).
fn released_lines() -> Repo {
    let repo = Repo::new(&[
        ("Cargo.toml", HOTFIX_CARGO_TOML),
        ("pyproject.toml", PYPROJECT_110),
        ("CHANGELOG.md", CHANGELOG_110),
    ]);
    repo.git(&["tag", "-a", "v1.1.0", "-m", "Release v1.1.0"]);
    let repo = repo.with_remote();
    repo.git(&["push", "-q", "origin", "v1.1.0"]);
    for (feat, v) in [("feat: two", "1.2.0"), ("feat: three", "1.3.0")] {
        repo.commit(feat);
        let r = repo.run(&["release", "minor"]);
        assert_eq!(r.code, 0, "{}", r.all());
        assert!(
            r.stdout
                .contains(&format!("released {v}: pushed main and v{v} to origin")),
            "{}",
            r.stdout
        );
    }
    repo
}

fn head(repo: &Repo) -> String {
    repo.git(&["rev-parse", "HEAD"]).trim().to_string()
}

fn branch(repo: &Repo) -> String {
    repo.git(&["branch", "--show-current"]).trim().to_string()
}

fn first_version_heading(changelog: &str) -> &str {
    changelog
        .lines()
        .find(|l| l.starts_with("## [") && !l.starts_with("## [Unreleased]"))
        .unwrap_or("")
}

fn tool_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = hermetic(BIN, dir);
    c.args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CLICOLOR_FORCE");
    c
}

/// Runs `args` under strace twice, as `--dry-run --json` and for real, and checks that the
/// processes the real run starts beyond the dry run's read-only observations are exactly the
/// `run` steps the plan listed (in order). Returns the real run's output.
fn dry_run_equals_real_run(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut dry_args = args.to_vec();
    dry_args.extend(["--dry-run", "--json"]);
    let traces = tempfile::tempdir().unwrap();
    let (dry, observed) = trace::traced(&tool_cmd(dir, &dry_args), traces.path());
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let planned = trace::planned(&plan["steps"]);
    assert!(!planned.is_empty(), "{plan}");
    let real_traces = tempfile::tempdir().unwrap();
    let (real, started) = trace::traced(&tool_cmd(dir, args), real_traces.path());
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let acted = trace::less(&started, &observed);
    assert_eq!(
        acted.len(),
        planned.len(),
        "started {acted:#?}\nplanned {planned:#?}"
    );
    for (t, a) in planned.iter().zip(&acted) {
        assert!(
            trace::matches(t, a),
            "planned {t:?} but started {a:?}\nall started: {acted:#?}"
        );
    }
    real
}

#[test]
fn hotfix_then_patch_release_on_the_maintenance_branch() {
    let repo = released_lines();
    let v120 = repo
        .git(&["rev-parse", "v1.2.0^{commit}"])
        .trim()
        .to_string();

    // An unknown line: refused, the released lines listed, nothing changed.
    let before = repo.snapshot();
    let r = repo.run(&["hotfix", "9.9"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("there is no release of line 9.9 (no stable tag v9.9.*); the released lines are 1.1, 1.2, 1.3"),
        "{}",
        r.stderr
    );
    let r = repo.run(&["hotfix", "1.2.0"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("(for 1.2.0: `cargo xtask hotfix 1.2`)"),
        "{}",
        r.stderr
    );
    assert_eq!(repo.snapshot(), before);
    assert_eq!(branch(&repo), "main");

    // The dry run lists exactly the git steps the real run takes.
    let dry = repo.run(&["hotfix", "1.2", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout.contains(
            "hotfix 1.2: create `release/1.2` from v1.2.0 (the newest 1.2 release is 1.2.0) — dry run"
        ) && dry
            .stdout
            .contains("git switch --quiet --create release/1.2 --no-track v1.2.0"),
        "{}",
        dry.stdout
    );
    assert_eq!(repo.snapshot(), before);
    let out = if trace::strace_works() {
        dry_run_equals_real_run(repo.path(), &["hotfix", "1.2"])
    } else {
        eprintln!("strace cannot trace here: the dry run is compared with the result only");
        tool_cmd(repo.path(), &["hotfix", "1.2"]).output().unwrap()
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .contains("then `cargo xtask release patch` (→ 1.2.1) and `cargo xtask publish-prod`"),
        "{stdout}"
    );
    assert_eq!(branch(&repo), "release/1.2");
    assert_eq!(head(&repo), v120);
    assert!(!repo.read("CHANGELOG.md").contains("[1.3.0]"));

    // A fix on the line; minor (and anything off the line) is refused with nothing changed.
    repo.commit("fix: the hot bug");
    let before = repo.snapshot();
    let remote_before = repo.remote_git(&["show-ref"]);
    let r = repo.run(&["release", "minor"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains(
            "`minor` gives 1.3.0, a minor release, but `release/1.2` is the maintenance branch of line 1.2"
        ) && r.stderr.contains("minor releases are cut from `main` (`git switch main`)"),
        "{}",
        r.stderr
    );
    let r = repo.run(&["release", "1.3.1"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("1.3.1 is a minor release, but `release/1.2`"),
        "{}",
        r.stderr
    );
    assert_eq!(repo.snapshot(), before);
    assert_eq!(repo.remote_git(&["show-ref"]), remote_before);

    // patch: 1.2.1 (lower than the newest tag v1.3.0, the highest of its line), pushed with the
    // branch; the line's changelog gets 1.2.1 as its first section.
    let dry = repo.run(&["release", "patch", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout
            .contains("run git push --atomic origin release/1.2 v1.2.1"),
        "{}",
        dry.stdout
    );
    // Killed right after its commit (a post-commit hook kills slipway): the intent records the
    // branch, and the bump resumes only there.
    let hook = repo.path().join(".git/hooks/post-commit");
    std::fs::write(
        &hook,
        "#!/bin/sh\nslipway=$(ps -o ppid= -p $PPID | tr -d ' ')\nkill -KILL $slipway\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let r = repo.run(&["release", "patch"]);
    assert_ne!(r.code, 0, "{}", r.all());
    std::fs::remove_file(&hook).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let intent: serde_json::Value =
        serde_json::from_str(&repo.read(".git/slipway/intent.json")).unwrap();
    assert_eq!(intent["branch"], "release/1.2", "{intent:#}");
    assert_eq!(
        intent["push"]["refs"][0], "refs/heads/release/1.2",
        "{intent:#}"
    );
    repo.git(&["switch", "-q", "main"]);
    let r = repo.run(&["release", "patch"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(
            "the interrupted bump to 1.2.1 was cut from `release/1.2`, but HEAD is on `main`; \
             `git switch release/1.2` first"
        ),
        "{}",
        r.stderr
    );
    repo.git(&["switch", "-q", "release/1.2"]);
    let r = repo.run(&["release", "patch"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("resuming the interrupted bump to 1.2.1 (commit ")
            && r.stdout
                .contains("released 1.2.1: pushed release/1.2 and v1.2.1 to origin"),
        "{}",
        r.stdout
    );
    let tip = head(&repo);
    assert_eq!(repo.remote_git(&["rev-parse", "release/1.2"]).trim(), tip);
    assert_eq!(
        repo.remote_git(&["rev-parse", "v1.2.1^{commit}"]).trim(),
        tip
    );
    assert_eq!(
        repo.remote_git(&["rev-parse", "main"]).trim(),
        repo.git(&["rev-parse", "v1.3.0^{commit}"]).trim(),
        "main is where it was"
    );
    let changelog = repo.read("CHANGELOG.md");
    assert_eq!(
        first_version_heading(&changelog),
        format!("## [1.2.1] - {DATE}"),
        "{changelog}"
    );
    assert!(changelog.contains("- the hot bug ("), "{changelog}");
    assert!(!changelog.contains("[1.3.0]"), "{changelog}");
    assert!(
        changelog.contains("[1.2.1]: https://github.com/acme/app/compare/v1.2.0...v1.2.1"),
        "{changelog}"
    );
    assert!(repo.read("pyproject.toml").contains("version = \"1.2.1\""));

    // `auto` that computes a minor release is refused the same way.
    repo.commit("feat: a feature does not belong on a maintenance line");
    let before = repo.snapshot();
    let r = repo.run(&["release", "auto"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("`auto` (from the commits) gives 1.3.0, a minor release, but `release/1.2`")
            && r.stderr.contains("minor releases are cut from `main`"),
        "{}",
        r.stderr
    );
    assert_eq!(repo.snapshot(), before);
    repo.git(&["reset", "-q", "--hard", "HEAD~1"]);

    // Back on main: everything there as before; `hotfix 1.2` now switches to the local branch.
    repo.git(&["switch", "-q", "main"]);
    assert_eq!(
        first_version_heading(&repo.read("CHANGELOG.md")),
        "## [1.3.0] - 2026-11-21"
    );
    let dry = repo.run(&["hotfix", "1.2", "--dry-run"]);
    assert!(
        dry.stdout.contains("switch to the existing `release/1.2`")
            && dry.stdout.contains("git switch --quiet release/1.2")
            && dry.stdout.contains("the newest 1.2 release is 1.2.1"),
        "{}",
        dry.all()
    );
    if trace::strace_works() {
        dry_run_equals_real_run(repo.path(), &["hotfix", "1.2"]);
    } else {
        assert_eq!(repo.run(&["hotfix", "1.2"]).code, 0);
    }
    assert_eq!(branch(&repo), "release/1.2");
    assert_eq!(head(&repo), tip);
    let r = repo.run(&["hotfix", "1.2"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("already on `release/1.2`"),
        "{}",
        r.stdout
    );

    // Main releases above every tag; a version below the newest tag is refused there.
    repo.git(&["switch", "-q", "main"]);
    let r = repo.run(&["bump-version", "patch", "--dry-run", "--allow-placeholders"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("1.3.0 → 1.3.1"), "{}", r.stdout);

    // Another clone has only the remote's branch: hotfix tracks it.
    let clone = tempfile::tempdir().unwrap();
    let url = repo
        .remote
        .as_ref()
        .unwrap()
        .path()
        .to_str()
        .unwrap()
        .to_string();
    let out = git_cmd(clone.path())
        .args(["clone", "-q", "-b", "main", &url, "c"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = clone.path().join("c");
    let dry = tool_cmd(&c, &["hotfix", "1.2", "--dry-run"])
        .output()
        .unwrap();
    let dry_out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry_out.contains("track `origin/release/1.2` as `release/1.2`")
            && dry_out.contains(
                "git fetch --quiet origin +refs/heads/release/1.2:refs/remotes/origin/release/1.2"
            )
            && dry_out
                .contains("git switch --quiet --create release/1.2 --track origin/release/1.2"),
        "{dry_out}"
    );
    if trace::strace_works() {
        dry_run_equals_real_run(&c, &["hotfix", "1.2"]);
    } else {
        assert!(tool_cmd(&c, &["hotfix", "1.2"]).status().unwrap().success());
    }
    let git_c = |args: &[&str]| {
        let out = git_cmd(&c).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(git_c(&["branch", "--show-current"]), "release/1.2");
    assert_eq!(git_c(&["rev-parse", "HEAD"]), tip);
    assert_eq!(
        git_c(&["rev-parse", "--abbrev-ref", "release/1.2@{upstream}"]),
        "origin/release/1.2"
    );
}

#[test]
fn hotfix_refuses_a_dirty_tree_and_branches_without_release_lines() {
    // The default `branches` is the main branch alone: the key to set is named.
    let repo = Repo::new(&[
        (
            "Cargo.toml",
            &HOTFIX_CARGO_TOML.replace("branches = [\"main\", \"release/*\"]\n", ""),
        ),
        ("pyproject.toml", PYPROJECT_110),
        ("CHANGELOG.md", CHANGELOG_110),
    ]);
    repo.git(&["tag", "-a", "v1.1.0", "-m", "Release v1.1.0"]);
    let before = repo.snapshot();
    let r = repo.run(&["hotfix", "1.1"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains(
            "releases may not be cut from `release/1.1`: key `branches` in Cargo.toml \
             [workspace.metadata.release] is [\"main\"]; set branches = [\"main\", \"release/*\"] there"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(repo.snapshot(), before);

    // A dirty tree, reported together with the unknown line.
    repo.write("Cargo.toml", HOTFIX_CARGO_TOML);
    let before = repo.snapshot();
    let r = repo.run(&["hotfix", "2.0"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("the work tree has uncommitted changes (Cargo.toml)")
            && r.stderr.contains("there is no release of line 2.0")
            && r.stderr.contains("the released lines are 1.1"),
        "{}",
        r.stderr
    );
    assert_eq!(repo.snapshot(), before);
    assert_eq!(branch(&repo), "main");

    // Releasing from a branch `branches` does not match names the key.
    repo.git(&["commit", "-q", "-am", "chore: hotfix lines"]);
    repo.git(&["switch", "-q", "-c", "feature/x"]);
    let r = repo.run(&["bump-version", "patch"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(
            "on branch `feature/x`, but releases are cut from `main`, `release/*` (key `branches`); `git switch main` first"
        ),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Docker: a patch on an old line moves only that line's tag.

mod docker_line {
    use std::path::Path;
    use std::process::Command;

    use super::common::*;
    use slipway_rig::services::Registry;
    use xtask::targets::docker::read_remote;
    use xtask::targets::docker::registry::Client;

    const BUSYBOX: &str = "/bin/busybox";
    const IMAGE: &str = "acme/line-app";

    fn docker() -> Command {
        let mut c = Command::new(xtask::targets::docker::engine::client());
        if let Some(h) = xtask::targets::docker::engine::docker_host() {
            c.env("DOCKER_HOST", h);
        }
        c.env(
            "DOCKER_CONFIG",
            std::env::temp_dir().join("slipway-test-docker-config"),
        );
        c
    }

    fn services() -> bool {
        if !require(
            "a Docker engine (cargo xtask provision)",
            xtask::targets::docker::engine::is_up(),
        ) || !require(
            "docker-registry",
            Path::new(slipway_rig::services::REGISTRY_BIN).exists(),
        ) || !require(
            "busybox-static (cargo xtask provision)",
            Path::new(BUSYBOX).exists(),
        ) {
            return false;
        }
        xtask::targets::pypi::Venv::in_dir(
            &tools_dir(),
            "python-tools",
            xtask::targets::pypi::TOOL_REQUIREMENTS,
        )
        .ensure(Path::new("/"))
        .expect("tool venv");
        true
    }

    /// Removes the local `<addr>/…` names that pushing to the test registry leaves.
    struct Untag(String);

    impl Drop for Untag {
        fn drop(&mut self) {
            let Ok(out) = docker()
                .args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
                .output()
            else {
                return;
            };
            let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.starts_with(&format!("{}/", self.0)) && !l.ends_with(":<none>"))
                .map(str::to_string)
                .collect();
            if !names.is_empty() {
                let _ = docker().arg("rmi").args(&names).output();
            }
        }
    }

    /// Sets `version` in pyproject.toml, the served `/version` and a new CHANGELOG section.
    fn set_version(repo: &Repo, version: &str) {
        let pep440 = xtask::core::version::pep440(&semver::Version::parse(version).unwrap());
        let py = repo.read("pyproject.toml");
        let at = py.find("\nversion = \"").unwrap() + "\nversion = \"".len();
        let end = at + py[at..].find('"').unwrap();
        repo.write(
            "pyproject.toml",
            &format!("{}{pep440}{}", &py[..at], &py[end..]),
        );
        repo.write(
            "scratch/www/version",
            &format!("{{\"version\": \"{version}\"}}\n"),
        );
        let cl = repo.read("CHANGELOG.md");
        repo.write(
            "CHANGELOG.md",
            &cl.replacen(
                "## [Unreleased]\n",
                &format!(
                    "## [Unreleased]\n\n## [{version}] - 2026-11-21\n\n### Fixed\n\n- Things.\n"
                ),
                1,
            ),
        );
    }

    /// The payload, an image FROM scratch that serves `/version` and `/health` with busybox, and
    /// the docker table for `registry`; nothing released yet.
    fn fixture(registry: &str) -> Repo {
        let mut files = payload_files();
        files.push((
            "Cargo.toml".into(),
            format!(
                "[workspace]\nmembers = []\n\n[workspace.metadata.release]\nbranches = [\"main\", \"release/*\"]\n\n\
                 [workspace.metadata.release.docker]\nimage = \"{IMAGE}\"\nregistries = [\"{registry}\"]\n\
                 health = {{ timeout-s = 20 }}\n"
            ),
        ));
        files.push((
            "Dockerfile".into(),
            "FROM scratch\nARG DIST=dist\nCOPY scratch/busybox /busybox\nCOPY scratch/www /www\nEXPOSE 8080\n\
             HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD [\"/busybox\", \"wget\", \"-q\", \"-O-\", \"http://127.0.0.1:8080/health\"]\n\
             ENTRYPOINT [\"/busybox\", \"httpd\", \"-f\", \"-v\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"
                .into(),
        ));
        files.push((
            ".dockerignore".into(),
            "*\n!target/slipway/dist/\n!scratch/\n".into(),
        ));
        files.push((
            "scratch/www/health".into(),
            "{\"status\": \"healthy\"}\n".into(),
        ));
        files.push((
            "CHANGELOG.md".into(),
            "# Changelog\n\n## [Unreleased]\n".into(),
        ));
        files.push((".gitignore".into(), "/target\n/build\n*.egg-info/\n".into()));
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let repo = Repo::new(&refs);
        std::fs::copy(BUSYBOX, repo.path().join("scratch/busybox")).unwrap();
        repo
    }

    fn release(repo: &Repo, version: &str) {
        set_version(repo, version);
        repo.git(&["add", "-A"]);
        repo.git(&[
            "commit",
            "-q",
            "-m",
            &format!("chore(release): bump version to v{version}"),
        ]);
        repo.git(&["tag", "-a", &format!("v{version}"), "-m", "release"]);
    }

    fn tool(repo: &Repo, args: &[&str]) -> Run {
        let out = hermetic(BIN, repo.path())
            .args(args)
            .env("SLIPWAY_TOOLS_DIR", tools_dir())
            .env("NO_COLOR", "1")
            .env(
                "DOCKER_CONFIG",
                repo.path().join("target/user-docker-config"),
            )
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("DOCKER_USERNAME")
            .env_remove("DOCKER_PASSWORD")
            .env_remove("GITHUB_ACTIONS")
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn publish(repo: &Repo) -> Run {
        let r = tool(
            repo,
            &["publish-prod", "--only", "docker", "--skip-ci-check"],
        );
        assert_eq!(r.code, 0, "{}", r.all());
        r
    }

    fn digest(registry: &Registry, tag: &str) -> Option<String> {
        let mut client = Client::new(&registry.addr, None);
        read_remote(&mut client, IMAGE, tag)
            .unwrap()
            .digest()
            .map(str::to_string)
    }

    /// Every `{"tag": …}` planned anywhere in a dry run's JSON.
    fn planned_tags(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(list) = m.get("tags").and_then(|t| t.as_array()) {
                    for t in list {
                        if let Some(tag) = t["tag"].as_str() {
                            if !out.iter().any(|o| o == tag) {
                                out.push(tag.to_string());
                            }
                        }
                    }
                }
                m.values().for_each(|x| planned_tags(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| planned_tags(x, out)),
            _ => {}
        }
    }

    #[test]
    fn a_patch_of_an_old_line_moves_only_that_lines_tag() {
        if !services() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::start(dir.path(), None).unwrap();
        let _untag = Untag(reg.addr.clone());
        let repo = fixture(&reg.addr);
        release(&repo, "1.2.0");
        publish(&repo);
        let d120 = digest(&reg, "v1.2.0").expect("v1.2.0 pushed");
        assert_eq!(digest(&reg, "latest").as_deref(), Some(d120.as_str()));

        release(&repo, "1.3.0");
        publish(&repo);
        let d130 = digest(&reg, "v1.3.0").expect("v1.3.0 pushed");
        assert_ne!(d130, d120);
        for t in ["latest", "v1", "v1.3"] {
            assert_eq!(digest(&reg, t).as_deref(), Some(d130.as_str()), "{t}");
        }
        assert_eq!(digest(&reg, "v1.2").as_deref(), Some(d120.as_str()));

        let r = tool(&repo, &["hotfix", "1.2"]);
        assert_eq!(r.code, 0, "{}", r.all());
        assert_eq!(
            repo.git(&["branch", "--show-current"]).trim(),
            "release/1.2"
        );
        release(&repo, "1.2.1");
        // v1.3.0 is not reachable from release/1.2, and still counts as released.
        assert!(!repo.git_ok(&["merge-base", "--is-ancestor", "v1.3.0", "HEAD"]));
        let short = repo
            .git(&["rev-parse", "--short=7", "HEAD"])
            .trim()
            .to_string();
        let dry = tool(
            &repo,
            &[
                "publish-prod",
                "--only",
                "docker",
                "--skip-ci-check",
                "--dry-run",
                "--json",
            ],
        );
        assert_eq!(dry.code, 0, "{}", dry.all());
        let plan: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
        let mut tags = Vec::new();
        planned_tags(&plan, &mut tags);
        tags.sort();
        let mut want = vec!["v1.2.1".to_string(), "v1.2".into(), format!("sha-{short}")];
        want.sort();
        assert_eq!(tags, want, "{plan:#}");

        let r = publish(&repo);
        assert!(r.stdout.contains("v1.2.1"), "{}", r.stdout);
        let d121 = digest(&reg, "v1.2.1").expect("v1.2.1 pushed");
        assert_ne!(d121, d130);
        assert_eq!(
            digest(&reg, "v1.2").as_deref(),
            Some(d121.as_str()),
            "v1.2 moved to 1.2.1"
        );
        for t in ["latest", "v1", "v1.3", "v1.3.0"] {
            assert_eq!(
                digest(&reg, t).as_deref(),
                Some(d130.as_str()),
                "{t} stays at 1.3.0"
            );
        }
        assert_eq!(digest(&reg, "v1.2.0").as_deref(), Some(d120.as_str()));
    }
}
