//! The GitHub target against the GitHub stand-in, with the real `gh`: create + upload + verify,
//! re-runs, injected failures, conflicting assets, pre-releases, the CI check, and the problems
//! gather reports. Every test asserts the stand-in saw no request outside GitHub's REST contract.
//!
//! gh's environment is injected into the steps (never set on this process: tests run in
//! parallel), with a recognisable token that must show up nowhere but in gh's environment.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value as Json};
use slipway_rig::standin::{RunSeed, Standin};
use xtask::run::exec::{self, Outcome};
use xtask::run::plan::{Done, Plan, Step};
use xtask::run::ui::Ui;
use xtask::targets::github::{self as gt, SUMS};
use xtask::targets::publish::{Facts, TargetPlan};
use xtask::{core::version, facts::config, Problems};

use common::Repo;

/// Recognisable, so a leak is unmistakable.
const TOKEN: &str = "ghp_SLIPWAYtestTOKEN0123456789abcdefXYZ";

// ---------------------------------------------------------------------------------------------
// Fixtures

fn gh_available() -> bool {
    let ok = Command::new("gh")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("`gh` is not installed, and CI=true: CI must run the GitHub tests (apt-get install gh)");
        }
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! SKIPPED: `gh` is not installed, so the GitHub target tests did not run.\n\
             !!! Install it (apt-get install gh); CI must have it.\n"
        );
    }
    ok
}

fn cargo_toml() -> String {
    r#"[workspace]
members = []

[workspace.metadata.release]
tag-prefix = "v"
branch = "main"

[workspace.metadata.release.github]
repo = "acme/app"

[workspace.metadata.release.docker]
image = "acme/app"
registries = ["ghcr.io", "registry.example.com:5000"]
"#
    .to_string()
}

const PYPROJECT: &str = "[project]\nname = \"acme-app\"\nversion = \"1.3.0\"\n";

fn changelog(version: &str, body: &str) -> String {
    format!(
        "# Changelog\n\n## [Unreleased]\n\n## [{version}] - 2026-11-21\n\n{body}\n\n\
         ## [1.2.3] - 2026-10-01\n\n### Fixed\n\n- An old bug.\n"
    )
}

const BODY: &str =
    "### Added\n\n- Health endpoint reports the version.\n\n### Fixed\n\n- Startup race.";

/// A tagged repository, its facts, and distributions in the dist directory.
struct World {
    repo: Repo,
    facts: Facts,
    standin: Standin,
    /// gh's environment: the stand-in's, the test token, a PATH whose `gh` logs its argv.
    env: Vec<(String, String)>,
    argv_log: PathBuf,
    _tmp: tempfile::TempDir,
}

fn world(v: &str) -> World {
    world_with(v, BODY)
}

fn world_with(v: &str, body: &str) -> World {
    let repo = Repo::new(&[
        ("Cargo.toml", &cargo_toml()),
        ("pyproject.toml", PYPROJECT),
        ("CHANGELOG.md", &changelog(v, body)),
    ]);
    repo.git(&["tag", "-a", "v1.2.3", "-m", "Release v1.2.3"]);
    repo.commit("feat: report the version");
    repo.git(&[
        "tag",
        "-a",
        &format!("v{v}"),
        "-m",
        &format!("Release v{v}"),
    ]);
    let facts = facts_for(&repo, v);
    let dist = facts.dist_dir();
    std::fs::create_dir_all(&dist).unwrap();
    let pep = facts.pep440();
    std::fs::write(
        dist.join(format!("acme_app-{pep}-py3-none-any.whl")),
        format!("PK\x03\x04 wheel of {pep}"),
    )
    .unwrap();
    let sdist: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dist.join(format!("acme_app-{pep}.tar.gz")), sdist).unwrap();

    let spec = slipway_rig::standin::default_spec_path().expect("the GitHub API description");
    let standin = Standin::start(&spec).unwrap();
    standin.seed_repo("acme", "app");
    let tmp = tempfile::tempdir().unwrap();
    let argv_log = tmp.path().join("argv.log");
    let env = gh_env(&standin, tmp.path(), &argv_log);
    World {
        repo,
        facts,
        standin,
        env,
        argv_log,
        _tmp: tmp,
    }
}

fn facts_for(repo: &Repo, v: &str) -> Facts {
    let cfg = config::load(repo.path()).unwrap();
    let version = version::parse_semver(v).unwrap();
    let commit = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    Facts {
        tag: format!("v{v}"),
        short: commit[..7].to_string(),
        commit,
        commit_time: repo
            .git(&["log", "-1", "--format=%ct"])
            .trim()
            .parse()
            .unwrap(),
        released: vec![version::parse_semver("1.2.3").unwrap(), version.clone()],
        version,
        package: "acme-app".into(),
        work: repo.path().join("target").join("slipway"),
        gates_skipped: None,
        cfg,
    }
}

/// The stand-in's environment for gh, with [`TOKEN`] as the token and a `gh` first on PATH that
/// logs its argv and then runs the real one.
fn gh_env(standin: &Standin, dir: &Path, argv_log: &Path) -> Vec<(String, String)> {
    let config = dir.join("gh-config");
    std::fs::create_dir_all(&config).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    let real = std::env::split_paths(&path)
        .map(|d| d.join("gh"))
        .find(|p| p.is_file());
    let mut env: Vec<(String, String)> = standin
        .gh_env(&config)
        .into_iter()
        .filter(|(k, _)| k != "GH_TOKEN" && k != "GH_ENTERPRISE_TOKEN")
        .collect();
    env.push(("GH_TOKEN".into(), TOKEN.into()));
    if let Some(real) = real {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let wrapper = bin.join("gh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\n{{ printf 'argv:'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; \
                 printf '\\n'; [ -n \"$GH_TOKEN\" ] && echo 'env: GH_TOKEN set'; }} >> '{}'\n\
                 exec '{}' \"$@\"\n",
                argv_log.display(),
                real.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let joined =
            std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path))).unwrap();
        env.push(("PATH".into(), joined.to_string_lossy().into_owned()));
    }
    env
}

impl World {
    fn gather(&self) -> TargetPlan {
        let mut problems = Problems::default();
        let plan = gt::gather_with(&self.facts, &self.env, &mut problems)
            .unwrap()
            .expect("the GitHub target is configured");
        assert!(problems.is_empty(), "{:#?}", problems.list);
        plan
    }

    /// gather, then build + publish + verify through the one executor.
    fn publish(&self) -> anyhow::Result<Outcome> {
        let t = self.gather();
        assert!(
            !format!("{t:?}").contains(TOKEN),
            "the plan's Debug shows the token"
        );
        let mut plan = Plan::default();
        for s in t.build.into_iter().chain(t.publish).chain(t.verify) {
            plan.push(s);
        }
        let json = serde_json::to_string(&plan.to_json(self.repo.path())).unwrap();
        assert!(
            !json.contains(TOKEN),
            "the plan's JSON holds the token: {json}"
        );
        exec::execute(&plan, &Ui::captured(), self.repo.path())
    }

    fn writes(&self) -> Vec<String> {
        self.standin
            .exchanges()
            .iter()
            .filter(|e| e.method != "GET" && e.method != "HEAD")
            .map(|e| e.line())
            .collect()
    }

    fn releases(&self) -> Json {
        self.standin.state()["repos"][0]["releases"].clone()
    }

    /// The release as a user sees it: no ids, no times.
    fn summary(&self) -> Json {
        let rels = self.releases();
        Json::Array(
            rels.as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    json!({
                        "tag_name": r["tag_name"], "name": r["name"], "body": r["body"],
                        "draft": r["draft"], "prerelease": r["prerelease"],
                        "assets": r["assets"].as_array().unwrap().iter()
                            .map(|a| json!([a["name"], a["size"], a["digest"]]))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect(),
        )
    }

    /// The token is in no argv gh was given, no request or response body, no step output.
    fn assert_token_hidden(&self, texts: &[String]) {
        let argv = std::fs::read_to_string(&self.argv_log).unwrap_or_default();
        assert!(
            argv.contains("argv: [api]") || argv.contains("argv: [run]"),
            "the logging gh wrapper was not used: {argv:?}"
        );
        assert!(argv.contains("env: GH_TOKEN set"), "{argv}");
        assert!(!argv.contains(TOKEN), "the token is in gh's argv:\n{argv}");
        for e in self.standin.exchanges() {
            assert!(!e.request_body.contains(TOKEN), "{}", e.line());
            assert!(!e.response_body.contains(TOKEN), "{}", e.line());
            assert!(!e.target.contains(TOKEN), "{}", e.line());
        }
        for t in texts {
            assert!(!t.contains(TOKEN), "the token is in the output: {t}");
        }
    }
}

fn texts(outcome: &Outcome) -> Vec<String> {
    outcome
        .done
        .iter()
        .map(|d| match d {
            Done::Ran(s) | Done::Skipped(s) => s.clone(),
        })
        .chain(outcome.executed.iter().cloned())
        .collect()
}

fn skipped(d: &Done) -> &str {
    match d {
        Done::Skipped(s) => s,
        Done::Ran(s) => panic!("expected a skip, it ran: {s}"),
    }
}

fn ran(d: &Done) -> &str {
    match d {
        Done::Ran(s) => s,
        Done::Skipped(s) => panic!("expected it to run, it skipped: {s}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Publishing

#[test]
fn publishes_a_release_with_assets_then_a_rerun_skips_everything() {
    if !gh_available() {
        return;
    }
    let w = world("1.3.0");
    let out = w
        .publish()
        .unwrap_or_else(|e| panic!("{e:#}\n{:#?}", w.standin.requests()));
    w.standin.ensure_no_violations().unwrap();
    // build: SHA256SUMS, notes; publish: create, upload; verify.
    assert_eq!(out.done.len(), 5, "{:#?}", out.done);
    assert!(ran(&out.done[2])
        .starts_with("created release http://github.localhost/acme/app/releases/tag/v1.3.0"));
    assert!(
        ran(&out.done[3]).starts_with("uploaded "),
        "{:?}",
        out.done[3]
    );
    assert_eq!(
        ran(&out.done[4]),
        "release http://github.localhost/acme/app/releases/tag/v1.3.0: 3 assets verified by sha256"
    );

    // SHA256SUMS: sha256, two spaces, name, sorted.
    let dist = w.facts.dist_dir();
    let sums = std::fs::read_to_string(dist.join(SUMS)).unwrap();
    let names: Vec<&str> = sums
        .lines()
        .map(|l| l.split_once("  ").unwrap().1)
        .collect();
    assert_eq!(
        names,
        ["acme_app-1.3.0-py3-none-any.whl", "acme_app-1.3.0.tar.gz"]
    );
    for l in sums.lines() {
        let (hex, name) = l.split_once("  ").unwrap();
        assert_eq!(
            hex,
            xtask::facts::files::file_hex(&dist.join(name)).unwrap()
        );
    }

    // The release: published, not a pre-release, the notes, three assets with their bytes.
    let rels = w.releases();
    assert_eq!(rels.as_array().unwrap().len(), 1);
    let rel = &rels[0];
    assert_eq!(rel["tag_name"], "v1.3.0");
    assert_eq!(rel["name"], "v1.3.0");
    assert_eq!(rel["draft"], false);
    assert_eq!(rel["prerelease"], false);
    let body = rel["body"].as_str().unwrap();
    assert!(
        body.contains("- Health endpoint reports the version."),
        "{body}"
    );
    assert!(body.contains("pip install acme-app==1.3.0"), "{body}");
    assert!(
        body.contains("docker pull ghcr.io/acme/app:v1.3.0\n"),
        "{body}"
    );
    assert!(
        body.contains("docker pull registry.example.com:5000/acme/app:v1.3.0\n"),
        "{body}"
    );
    let notes = w.repo.path().join("target/slipway/release/v1.3.0.md");
    assert_eq!(std::fs::read_to_string(notes).unwrap(), body);
    for name in names.iter().chain([&SUMS]) {
        assert_eq!(
            w.standin.asset_bytes("acme", "app", "v1.3.0", name),
            Some(std::fs::read(dist.join(name)).unwrap()),
            "{name}"
        );
    }
    // The create request: JSON booleans, published, latest.
    let create = w
        .standin
        .exchanges()
        .into_iter()
        .find(|e| e.operation.as_deref() == Some("repos/create-release"))
        .unwrap();
    let req: Json = serde_json::from_str(&create.request_body).unwrap();
    assert_eq!(req["draft"], false);
    assert_eq!(req["prerelease"], false);
    assert_eq!(req["make_latest"], "true");
    assert!(
        !w.standin
            .exchanges()
            .iter()
            .any(|e| e.target.contains("graphql")),
        "{:#?}",
        w.standin.requests()
    );
    w.assert_token_hidden(&texts(&out));

    // Again: every step finds the real state already right and says why.
    let writes = w.writes();
    let out = w.publish().unwrap();
    w.standin.ensure_no_violations().unwrap();
    assert_eq!(w.writes(), writes, "a re-run wrote to GitHub");
    assert!(skipped(&out.done[0]).contains("already lists these 2 file(s)"));
    assert!(skipped(&out.done[1]).contains("is up to date"));
    let ev = skipped(&out.done[2]);
    assert!(
        ev.starts_with(
            "release http://github.localhost/acme/app/releases/tag/v1.3.0 already exists (id "
        ),
        "{ev}"
    );
    let ev = skipped(&out.done[3]);
    assert!(
        ev.contains("has all 3 assets with the same content"),
        "{ev}"
    );
    assert!(ev.contains("acme_app-1.3.0.tar.gz (sha256 "), "{ev}");
    assert!(ran(&out.done[4]).ends_with("3 assets verified by sha256"));
    assert_eq!(w.releases().as_array().unwrap().len(), 1);
    w.assert_token_hidden(&texts(&out));
}

#[test]
fn a_failed_upload_is_finished_by_running_again() {
    if !gh_available() {
        return;
    }
    // The end state a run without failures reaches.
    let clean = world("1.3.0");
    clean.publish().unwrap();
    let want = clean.summary();

    let w = world("1.3.0");
    w.standin
        .fail_next(
            "POST",
            "/repos/{owner}/{repo}/releases/{release_id}/assets",
            500,
            1,
        )
        .unwrap();
    let err = format!("{:#}", w.publish().unwrap_err());
    assert!(
        err.contains("step 4/5 failed: upload release assets to v1.3.0"),
        "{err}"
    );
    assert!(err.contains("failed after 0 upload(s); run again"), "{err}");
    assert!(err.contains("HTTP 500"), "{err}");
    assert!(!err.contains(TOKEN));
    assert_eq!(w.releases()[0]["assets"], json!([]));

    // Run again: the release is found by its tag, the assets are uploaded.
    let out = w.publish().unwrap_or_else(|e| panic!("{e:#}"));
    assert!(skipped(&out.done[2]).contains("already exists"));
    assert!(ran(&out.done[3]).starts_with("uploaded "));
    assert_eq!(w.summary(), want, "the end state differs from a clean run");
    let creates = w
        .standin
        .exchanges()
        .iter()
        .filter(|e| e.operation.as_deref() == Some("repos/create-release"))
        .count();
    assert_eq!(creates, 1, "{:#?}", w.standin.requests());
    w.standin.ensure_no_violations().unwrap();
    w.assert_token_hidden(&texts(&out));
}

#[test]
fn a_dropped_connection_while_creating_is_finished_by_running_again() {
    if !gh_available() {
        return;
    }
    let w = world("1.3.0");
    w.standin
        .fail_next("POST", "/repos/{owner}/{repo}/releases", 0, 1)
        .unwrap();
    let err = format!("{:#}", w.publish().unwrap_err());
    assert!(
        err.contains("step 3/5 failed: create GitHub release v1.3.0"),
        "{err}"
    );
    assert!(err.contains("got no answer from GitHub"), "{err}");
    assert!(!err.contains(TOKEN));
    let out = w.publish().unwrap_or_else(|e| panic!("{e:#}"));
    assert!(ran(&out.done[2]).starts_with("created release"));
    assert!(ran(&out.done[4]).ends_with("3 assets verified by sha256"));
    assert_eq!(w.releases().as_array().unwrap().len(), 1);
    w.standin.ensure_no_violations().unwrap();
}

#[test]
fn a_different_asset_of_the_same_name_is_refused_and_kept() {
    if !gh_available() {
        return;
    }
    let w = world("1.3.0");
    w.publish().unwrap();
    let wheel = "acme_app-1.3.0-py3-none-any.whl";
    let before = w
        .standin
        .asset_bytes("acme", "app", "v1.3.0", wheel)
        .unwrap();
    let state = w.summary();
    let writes = w.writes();
    // A rebuild with other bytes under the same name.
    std::fs::write(
        w.facts.dist_dir().join(wheel),
        "PK\x03\x04 a different wheel",
    )
    .unwrap();
    let err = format!("{:#}", w.publish().unwrap_err());
    assert!(
        err.contains("step 4/5 failed: upload release assets"),
        "{err}"
    );
    assert!(
        err.contains("already has different asset(s), nothing was uploaded"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{wheel}: the release has sha256:")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{SUMS}: the release has sha256:")),
        "{err}"
    );
    assert!(
        err.contains("delete it in the web UI and run again if the local file is right, or release a new version"),
        "{err}"
    );
    assert_eq!(
        w.standin
            .asset_bytes("acme", "app", "v1.3.0", wheel)
            .unwrap(),
        before
    );
    assert_eq!(w.summary(), state);
    assert_eq!(w.writes(), writes, "something was written to GitHub");
    w.standin.ensure_no_violations().unwrap();
}

#[test]
fn a_pre_release_is_marked_and_verified_as_one() {
    if !gh_available() {
        return;
    }
    let w = world("1.3.0-rc.1");
    let out = w.publish().unwrap_or_else(|e| panic!("{e:#}"));
    let rel = &w.releases()[0];
    assert_eq!(rel["tag_name"], "v1.3.0-rc.1");
    assert_eq!(rel["prerelease"], true);
    assert_eq!(rel["draft"], false);
    let names: Vec<&str> = rel["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "acme_app-1.3.0rc1-py3-none-any.whl",
            "acme_app-1.3.0rc1.tar.gz",
            SUMS
        ]
    );
    assert!(rel["body"]
        .as_str()
        .unwrap()
        .contains("docker pull ghcr.io/acme/app:v1.3.0-rc.1"));
    let create = w
        .standin
        .exchanges()
        .into_iter()
        .find(|e| e.operation.as_deref() == Some("repos/create-release"))
        .unwrap();
    let req: Json = serde_json::from_str(&create.request_body).unwrap();
    assert_eq!(req["prerelease"], true);
    assert!(req.get("make_latest").is_none(), "{req}");
    assert!(ran(&out.done[4]).ends_with("3 assets verified by sha256"));
    w.standin.ensure_no_violations().unwrap();

    // Someone unticks "pre-release" on GitHub: verification says so.
    let id = rel["id"].as_u64().unwrap();
    let ok = Command::new("gh")
        .args([
            "api",
            "-X",
            "PATCH",
            &format!("repos/acme/app/releases/{id}"),
            "-F",
            "prerelease=false",
        ])
        .envs(w.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let mut problems = Problems::default();
    let steps = gt::verify_steps(&w.facts, &w.env, &mut problems);
    assert!(problems.is_empty());
    let mut plan = Plan::default();
    steps.into_iter().for_each(|s| plan.push(s));
    let err = format!(
        "{:#}",
        exec::execute(&plan, &Ui::captured(), w.repo.path()).unwrap_err()
    );
    assert!(
        err.contains("is not what was built:\n  it is not marked as a pre-release: tick the box in the web UI"),
        "{err}"
    );
    w.standin.ensure_no_violations().unwrap();
}

#[test]
fn the_dry_run_plan_sends_nothing() {
    if !gh_available() {
        return;
    }
    let w = world("1.3.0");
    let t = w.gather();
    let mut plan = Plan::default();
    for s in t.build.into_iter().chain(t.publish).chain(t.verify) {
        plan.push(s);
    }
    let headers: Vec<String> = plan.steps.iter().map(|s| s.header(w.repo.path())).collect();
    assert_eq!(
        headers,
        [
            "write target/slipway/dist/1.3.0/SHA256SUMS",
            "write release notes target/slipway/release/v1.3.0.md",
            "create GitHub release v1.3.0 in acme/app",
            "upload release assets to v1.3.0 in acme/app",
            "verify GitHub release v1.3.0 in acme/app",
        ]
    );
    // The create step's typed sub-steps: the lookup it reads, the body file and the POST.
    let step = &plan.to_json(w.repo.path())[2];
    let args = |item: &Json| -> String {
        item["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(step["observe"][0]["kind"], "run", "{step:#}");
    assert_eq!(step["observe"][0]["program"], "gh");
    assert_eq!(
        args(&step["observe"][0]),
        "api --include repos/acme/app/releases/tags/v1.3.0"
    );
    assert_eq!(step["apply"][0]["kind"], "write", "{step:#}");
    assert_eq!(
        step["apply"][0]["path"],
        "target/slipway/release/v1.3.0.create.json"
    );
    assert_eq!(step["apply"][1]["kind"], "run");
    assert!(
        args(&step["apply"][1])
            .starts_with("api --include -X POST repos/acme/app/releases --input"),
        "{step:#}"
    );
    // The rule line is a sentence, not the commands.
    let detail = plan.steps[2].detail(&Ui::captured()).unwrap();
    assert!(!detail.contains("gh api"), "{detail}");
    assert!(!step.to_string().contains(TOKEN), "{step}");
    plan.render(&Ui::captured(), w.repo.path());
    assert!(
        w.standin.requests().is_empty(),
        "{:#?}",
        w.standin.requests()
    );
    assert!(!w.facts.dist_dir().join(SUMS).exists());
}

// ---------------------------------------------------------------------------------------------
// The CI check

fn ci_problems(w: &World) -> Vec<String> {
    let mut problems = Problems::default();
    gt::ci_check(&w.facts, &w.env, &mut problems).unwrap();
    problems.list
}

fn seed(w: &World, branch: &str, conclusion: Option<&str>, head: Option<&str>) -> u64 {
    w.standin
        .seed_run_with(&RunSeed {
            owner: "acme".into(),
            repo: "app".into(),
            workflow: "release.yml".into(),
            branch: branch.into(),
            conclusion: conclusion.map(String::from),
            status: None,
            head_sha: head.map(String::from),
            event: None,
        })
        .unwrap()
}

#[test]
fn ci_check_passes_only_a_green_run_of_the_tagged_commit() {
    if !gh_available() {
        return;
    }
    let w = world("1.3.0");
    let head = w.facts.commit.clone();
    // No workflow at all yet.
    let p = ci_problems(&w);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].starts_with(
            "cannot check CI for v1.3.0: the workflow release.yml does not exist in acme/app"
        ),
        "{p:#?}"
    );
    // Runs of other tags only.
    seed(&w, "v1.2.3", Some("success"), None);
    let p = ci_problems(&w);
    assert_eq!(
        p,
        ["CI has not run for v1.3.0: no release.yml run on v1.3.0 in acme/app; push the tag and let \
          the workflow pass, or pass --skip-ci-check in an emergency"]
    );
    // A failed run.
    let id = seed(&w, "v1.3.0", Some("failure"), Some(&head));
    assert_eq!(
        ci_problems(&w),
        [format!(
            "CI has not passed for v1.3.0: run http://github.localhost/acme/app/actions/runs/{id} \
             concluded failure; fix it, or pass --skip-ci-check in an emergency"
        )]
    );
    // Still running.
    let id = seed(&w, "v1.3.0", None, Some(&head));
    assert_eq!(
        ci_problems(&w),
        [format!(
            "CI has not passed for v1.3.0: run http://github.localhost/acme/app/actions/runs/{id} \
             is still in_progress; wait for it to finish, or pass --skip-ci-check in an emergency"
        )]
    );
    // Green, but for another commit.
    let other = "0123456789abcdef0123456789abcdef01234567";
    let id = seed(&w, "v1.3.0", Some("success"), Some(other));
    let p = ci_problems(&w);
    assert_eq!(
        p,
        [format!(
            "CI has not passed for v1.3.0: run http://github.localhost/acme/app/actions/runs/{id} \
             tested 0123456 but v1.3.0 is {}; run release.yml for the tag again, or pass \
             --skip-ci-check in an emergency",
            w.facts.short
        )]
    );
    // Green on the tagged commit: the newest run decides.
    seed(&w, "v1.3.0", Some("success"), Some(&head));
    assert_eq!(ci_problems(&w), Vec::<String>::new());
    w.standin.ensure_no_violations().unwrap();
    w.assert_token_hidden(&[]);
    assert!(std::fs::read_to_string(&w.argv_log).unwrap().contains(
        "argv: [run] [list] [--repo] [acme/app] [--workflow] [release.yml] [--branch] [v1.3.0] [--json] [conclusion,status,url,headSha] [--limit] [20]"
    ));
}

// ---------------------------------------------------------------------------------------------
// Problems found before anything runs (no gh needed)

fn plain_world(v: &str, body: &str) -> (Repo, Facts) {
    let repo = Repo::new(&[
        ("Cargo.toml", &cargo_toml()),
        ("pyproject.toml", PYPROJECT),
        ("CHANGELOG.md", &changelog(v, body)),
    ]);
    repo.git(&["tag", "-a", &format!("v{v}"), "-m", "r"]);
    let facts = facts_for(&repo, v);
    (repo, facts)
}

fn gather_problems(facts: &Facts, env: &[(String, String)]) -> Vec<String> {
    let mut problems = Problems::default();
    gt::gather_with(facts, env, &mut problems).unwrap();
    problems.list
}

fn path_env() -> (String, String) {
    ("PATH".into(), std::env::var("PATH").unwrap_or_default())
}

#[test]
fn a_missing_token_is_a_problem() {
    let (_repo, facts) = plain_world("1.3.0", BODY);
    for empty in [
        vec![path_env()],
        vec![path_env(), ("GH_TOKEN".into(), String::new())],
    ] {
        let p = gather_problems(&facts, &empty);
        assert!(
            p.contains(&"no GitHub token: set GH_TOKEN (or GITHUB_TOKEN) to a token that may create releases".to_string()),
            "{p:#?}"
        );
        let mut problems = Problems::default();
        gt::ci_check(&facts, &empty, &mut problems).unwrap();
        assert!(
            problems
                .list
                .iter()
                .any(|m| m.starts_with("no GitHub token")),
            "{:#?}",
            problems.list
        );
    }
    // GITHUB_TOKEN is enough.
    let p = gather_problems(&facts, &[path_env(), ("GITHUB_TOKEN".into(), TOKEN.into())]);
    assert!(!p.iter().any(|m| m.contains("token")), "{p:#?}");
}

#[test]
fn gh_not_on_path_is_a_problem() {
    let (_repo, facts) = plain_world("1.3.0", BODY);
    let empty_dir = tempfile::tempdir().unwrap();
    let env = [
        ("PATH".to_string(), empty_dir.path().display().to_string()),
        ("GH_TOKEN".to_string(), TOKEN.to_string()),
    ];
    assert_eq!(
        gather_problems(&facts, &env),
        ["gh is not installed: apt-get install gh (or see https://cli.github.com)"]
    );
}

#[test]
fn placeholders_in_the_changelog_section_are_a_problem() {
    let body = "### Added\n\n- (placeholder inserted by slipway) describe the changes\n";
    let (_repo, facts) = plain_world("1.3.0", body);
    let p = gather_problems(&facts, &[path_env(), ("GH_TOKEN".into(), TOKEN.into())]);
    assert!(
        p.contains(&"CHANGELOG.md still has placeholders in [1.3.0]: fill them in".to_string()),
        "{p:#?}"
    );
    // A section that is missing altogether.
    let (_repo, mut facts) = plain_world("1.3.0", BODY);
    facts.version = version::parse_semver("1.4.0").unwrap();
    facts.tag = "v1.4.0".into();
    let p = gather_problems(&facts, &[path_env(), ("GH_TOKEN".into(), TOKEN.into())]);
    assert!(
        p.iter()
            .any(|m| m.starts_with("CHANGELOG.md has no section for 1.4.0")),
        "{p:#?}"
    );
}

#[test]
fn the_repository_comes_from_config_else_a_github_remote() {
    let (repo, facts) = plain_world("1.3.0", BODY);
    assert_eq!(gt::repo(&facts.cfg).as_deref(), Some("acme/app"));
    let mut cfg = facts.cfg.clone();
    cfg.github_repo = None;
    assert_eq!(gt::repo(&cfg), None);
    repo.git(&["remote", "add", "origin", "git@github.com:octo/widget.git"]);
    assert_eq!(gt::repo(&cfg).as_deref(), Some("octo/widget"));
    repo.git(&[
        "remote",
        "set-url",
        "origin",
        "https://github.com/octo/widget",
    ]);
    assert_eq!(gt::repo(&cfg).as_deref(), Some("octo/widget"));
    repo.git(&[
        "remote",
        "set-url",
        "origin",
        "https://gitlab.com/octo/widget.git",
    ]);
    assert_eq!(gt::repo(&cfg), None);
    let facts = Facts { cfg, ..facts };
    let p = gather_problems(&facts, &[path_env(), ("GH_TOKEN".into(), TOKEN.into())]);
    assert!(
        p.iter().any(|m| m.starts_with(
            "no GitHub repository: set [workspace.metadata.release.github] repo = \"owner/name\" in Cargo.toml"
        )),
        "{p:#?}"
    );
}

#[test]
fn a_hotfix_of_an_older_line_does_not_become_latest() {
    let (_repo, mut facts) = plain_world("1.3.0", BODY);
    facts.released.push(version::parse_semver("2.0.0").unwrap());
    let mut problems = Problems::default();
    let Some(plan) = gt::gather_with(
        &facts,
        &[path_env(), ("GH_TOKEN".into(), TOKEN.into())],
        &mut problems,
    )
    .unwrap() else {
        panic!("configured")
    };
    if !problems.is_empty() {
        // Without gh the plan is not built; the problem says so.
        assert!(
            problems.list[0].starts_with("gh is not installed"),
            "{:#?}",
            problems.list
        );
        return;
    }
    let Step::Action(create) = &plan.publish[0] else {
        panic!("an action")
    };
    let data = create.json();
    assert_eq!(data["request"]["make_latest"], "false", "{data}");
    assert_eq!(data["request"]["draft"], false);
    assert!(!data.to_string().contains(TOKEN));
}
