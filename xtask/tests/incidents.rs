//! Incident reports and the credentials preflight, end to end with real components: the
//! private Docker engine, Debian's docker-registry (one with htpasswd), pypiserver, the real
//! `gh` against the GitHub stand-in (its `POST /_standin/tokens` hook sends the token expiry
//! header and permissions), and a local webhook receiver.
//!
//! - a failure injected at upload (the index stopped after the image was pushed) writes an
//!   incident report naming the step, what was already published and where, the re-run and the
//!   rollback command; the webhook notice links it; once the GitHub release exists, the report
//!   of the next failure is attached to it;
//! - a wrong registry password and an expired GitHub token are refused together, before
//!   anything is built or pushed (the registry's catalog stays empty);
//! - a soon-expiring token warns; a read-only one is refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use slipway_rig::services::{PackageIndex, Registry};
use slipway_rig::standin::{Standin, TokenSeed};
use xtask::targets::pypi::{Venv, SERVER_REQUIREMENTS, TOOL_REQUIREMENTS};

const USER: &str = "pusher";
const PASSWORD: &str = "pw-DOCKER-41c7aa-secret";
const INDEX_USER: &str = "uploader";
const INDEX_PASSWORD: &str = "pw-INDEX-7730-secret";
const GH_SECRET: &str = "ghs-INCIDENT-TOKEN-5b1d-secret";
const BASE: &str = "slipway-base:bookworm-python";

fn docker() -> Command {
    docker_cli("slipway-test-docker-config")
}

fn gh_available() -> bool {
    Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The engine with the base image, docker-registry, gh and the tool venvs.
fn services() -> bool {
    let engine = xtask::targets::docker::engine::is_up()
        && docker()
            .args(["image", "inspect", BASE])
            .output()
            .is_ok_and(|o| o.status.success());
    if !require(
        "a Docker engine with the base image (cargo xtask provision)",
        engine,
    ) || !require(
        "docker-registry",
        Path::new(slipway_rig::services::REGISTRY_BIN).exists(),
    ) || !require("gh (Debian package)", gh_available())
    {
        return false;
    }
    let tools = tools_dir();
    Venv::in_dir(&tools, "python-tools", TOOL_REQUIREMENTS)
        .ensure(Path::new("/"))
        .expect("tool venv");
    Venv::in_dir(&tools, "pypiserver", SERVER_REQUIREMENTS)
        .ensure(Path::new("/"))
        .expect("pypiserver venv");
    true
}

/// The reference payload + Dockerfile at `version` with `release_toml` under
/// `[workspace.metadata.release]`, committed and tagged.
fn fixture(version: &str, release_toml: &str) -> Repo {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = payload_files();
    for (name, content) in files.iter_mut() {
        if name == "pyproject.toml" {
            *content = content.replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
        }
    }
    for f in ["Dockerfile", ".dockerignore"] {
        files.push((f.into(), std::fs::read_to_string(root.join(f)).unwrap()));
    }
    files.push((
        "Cargo.toml".into(),
        format!("[workspace]\nmembers = []\n\n[workspace.metadata.release]\n{release_toml}"),
    ));
    files.push((
        "CHANGELOG.md".into(),
        format!("# Changelog\n\n## [Unreleased]\n\n## [{version}] - 2026-11-21\n\n### Added\n\n- Things.\n"),
    ));
    files.push((".gitignore".into(), "/target\n/build\n*.egg-info/\n".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let repo = Repo::new(&refs);
    repo.git(&["tag", "-a", &format!("v{version}"), "-m", "release"]);
    repo
}

fn docker_toml(registry: &str) -> String {
    format!(
        "[workspace.metadata.release.docker]\nimage = \"acme/app\"\nregistries = [\"{registry}\"]\n\
         build-args = {{ BASE_IMAGE = \"{BASE}\" }}\n"
    )
}

fn github_toml() -> &'static str {
    "[workspace.metadata.release.github]\nrepo = \"acme/app\"\nrelease-workflow = \"release.yml\"\n"
}

/// Removes the images a test pushed from the engine.
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
            .filter(|l| l.starts_with(&format!("{}/", self.0)))
            .map(String::from)
            .collect();
        if !names.is_empty() {
            let _ = docker().arg("rmi").args(&names).output();
        }
    }
}

/// The tool in `repo` with gh pointed at the stand-in.
fn command(repo: &Repo, standin: &Standin, gh_config: &Path, args: &[&str]) -> Command {
    let mut c = hermetic(BIN, repo.path());
    for (k, v) in standin.gh_env(gh_config) {
        if k.to_ascii_lowercase().ends_with("_proxy") {
            continue;
        }
        c.env(k, v);
    }
    c.args(args)
        .env("SLIPWAY_GH_PROXY", standin.url())
        .env("GH_TOKEN", GH_SECRET)
        .env("GH_ENTERPRISE_TOKEN", GH_SECRET)
        .env("SLIPWAY_TOOLS_DIR", tools_dir())
        .env("TWINE_USERNAME", INDEX_USER)
        .env("TWINE_PASSWORD", INDEX_PASSWORD)
        .env("NO_COLOR", "1")
        .env(
            "DOCKER_CONFIG",
            repo.path().join("target/user-docker-config"),
        )
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("DOCKER_USERNAME")
        .env_remove("DOCKER_PASSWORD")
        .env_remove("PYPI_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITHUB_ACTIONS");
    c
}

fn run(mut c: Command) -> Run {
    let out = c.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A completed, green run of the release workflow on `tag`.
fn seed_ci(standin: &Standin, repo: &Repo, tag: &str) {
    let sha = repo
        .git(&["rev-parse", &format!("{tag}^{{commit}}")])
        .trim()
        .to_string();
    standin
        .seed_run_with(&slipway_rig::standin::RunSeed {
            owner: "acme".into(),
            repo: "app".into(),
            workflow: "release.yml".into(),
            branch: tag.into(),
            conclusion: Some("success".into()),
            status: None,
            head_sha: Some(sha),
            event: Some("push".into()),
        })
        .unwrap();
}

/// The incident reports written, (markdown, json) by name, oldest first.
fn incidents(repo: &Repo) -> Vec<(String, String, serde_json::Value)> {
    let dir = repo.path().join("target/slipway/incidents");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".md"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let md = std::fs::read_to_string(dir.join(&n)).unwrap();
            let json = std::fs::read_to_string(dir.join(n.replace(".md", ".json"))).unwrap();
            (n, md, serde_json::from_str(&json).unwrap())
        })
        .collect()
}

fn catalog(registry: &Registry) -> serde_json::Value {
    let mut client = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent()
        .get(&format!("http://{}/v2/_catalog", registry.addr));
    if let Some((u, p)) = &registry.credentials {
        client = client.header(
            "Authorization",
            format!(
                "Basic {}",
                xtask::targets::docker::registry::base64(format!("{u}:{p}").as_bytes())
            ),
        );
    }
    let body = client.call().unwrap().body_mut().read_to_string().unwrap();
    serde_json::from_str(&body).unwrap()
}

fn port_of(url: &str) -> u16 {
    url.trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_failure_at_upload_writes_an_incident_report_linked_and_attached() {
    if !services() {
        return;
    }
    let tools = tools_dir();
    let server = Venv::in_dir(&tools, "pypiserver", SERVER_REQUIREMENTS).dir;
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::start(&dir.path().join("registry"), None).unwrap();
    let _untag = Untag(reg.addr.clone());
    let index_dir = dir.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    let mut index = PackageIndex::start(&server, &index_dir, INDEX_USER, INDEX_PASSWORD).unwrap();
    let port = port_of(&index.url);
    let standin =
        Standin::start(&slipway_rig::standin::default_spec_path().expect("the GitHub contract"))
            .unwrap();
    standin.seed_repo("acme", "app");
    let receiver = Receiver::start(200);
    let repo = fixture(
        "1.2.0",
        &format!(
            "webhooks = [\"{}/hook\"]\n\n{}\n[workspace.metadata.release.python]\nrepository-url = \"{}\"\n\
             index-url = \"{}\"\n\n{}",
            receiver.url,
            docker_toml(&reg.addr),
            index.url,
            index.simple_url(),
            github_toml()
        ),
    );
    seed_ci(&standin, &repo, "v1.2.0");
    let gh_config = tempfile::tempdir().unwrap();
    let publish = || {
        run(command(
            &repo,
            &standin,
            gh_config.path(),
            &["publish-prod"],
        ))
    };

    // 1. The index goes away before the run: the image is pushed, the upload fails.
    index.stop();
    let r = publish();
    assert_eq!(r.code, 1, "{}", r.all());
    let reports = incidents(&repo);
    assert_eq!(reports.len(), 1, "{reports:?}");
    let (name, md, json) = &reports[0];
    assert!(
        name.starts_with("incident-v1.2.0-") && name.ends_with("Z.md"),
        "{name}"
    );
    assert!(
        r.all()
            .contains(&format!("incident report: target/slipway/incidents/{name}")),
        "{}",
        r.all()
    );
    let failed = &json["failed_step"];
    assert_eq!(failed["stage"], "publish", "{json:#}");
    let step = failed["step"].as_str().unwrap();
    assert!(
        step.starts_with(&format!("upload to {}", index.url)),
        "{step}"
    );
    assert!(md.contains("failed after") && md.contains(step), "{md}");
    let published: Vec<&str> = json["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(
        published.len() == 1 && published[0].contains(&reg.addr),
        "the push is what was published: {published:?}"
    );
    let pushed = json["published"][0]["detail"].as_str().unwrap();
    assert!(pushed.contains("pushed v1.2.0"), "{pushed}");
    assert!(
        md.contains(&format!("## Published\n\n- {}", published[0])),
        "{md}"
    );
    assert_eq!(json["rollback"]["command"], "cargo xtask rollback 1.2.0");
    let runs: Vec<&str> = json["rerun"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        runs[0], step,
        "the re-run starts at the failed step: {runs:?}"
    );
    assert!(
        runs.iter()
            .any(|s| s.starts_with("create GitHub release v1.2.0")),
        "{runs:?}"
    );
    // The timeline: every step with its status; the preflight first, done.
    let steps = json["steps"].as_array().unwrap();
    assert_eq!(steps[0]["stage"], "preflight");
    assert_eq!(steps[0]["status"], "done");
    assert!(steps.iter().any(|s| s["status"] == "not run"));
    // The notice links the report.
    let bodies = receiver.bodies();
    let notice: serde_json::Value = serde_json::from_str(bodies.last().expect("a notice")).unwrap();
    assert_eq!(notice["status"], "failure");
    assert!(
        notice["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| *l == format!("incident report: target/slipway/incidents/{name}")),
        "{notice:#}"
    );
    // No secret in the reports.
    for secret in [INDEX_PASSWORD, GH_SECRET] {
        assert!(!md.contains(secret) && !json.to_string().contains(secret));
    }
    assert!(standin.state()["repos"][0]["releases"]
        .as_array()
        .is_none_or(|r| r.is_empty()));

    // 2. The index is back: the re-run completes the release (the push is skipped).
    let mut index =
        PackageIndex::start_on(&server, &index_dir, INDEX_USER, INDEX_PASSWORD, port).unwrap();
    let r = publish();
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(incidents(&repo).len(), 1, "a success writes no report");

    // 3. Gone again: the next failure's report is attached to the existing release.
    index.stop();
    let r = publish();
    assert_eq!(r.code, 1, "{}", r.all());
    let reports = incidents(&repo);
    assert_eq!(reports.len(), 2);
    let (name, md, json) = &reports[1];
    assert!(json["published"].as_array().unwrap().is_empty(), "{json:#}");
    assert!(md.contains("- already there: "), "{md}");
    assert!(
        r.all()
            .contains("incident report attached to the release v1.2.0"),
        "{}",
        r.all()
    );
    let state = standin.state();
    let assets: Vec<String> = state["repos"][0]["releases"][0]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert!(assets.contains(name), "{assets:?}");
    let violations = standin.violations();
    assert!(violations.is_empty(), "{violations:#?}");
}

/// A registry with htpasswd and the stand-in: the wrong password and the expired token are
/// found together, before anything is built or pushed.
#[test]
fn a_wrong_registry_password_and_an_expired_token_are_refused_before_any_push() {
    if !services() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::start(dir.path(), Some((USER, PASSWORD))).unwrap();
    let _untag = Untag(reg.addr.clone());
    let standin =
        Standin::start(&slipway_rig::standin::default_spec_path().expect("the GitHub contract"))
            .unwrap();
    standin.seed_repo("acme", "app");
    standin.seed_token(TokenSeed {
        token: GH_SECRET.into(),
        expires: Some("2020-01-01 00:00:00 UTC".into()),
        permissions: None,
    });
    let repo = fixture(
        "1.4.0",
        &format!("{}\n{}", docker_toml(&reg.addr), github_toml()),
    );
    let gh_config = tempfile::tempdir().unwrap();
    let wrong = "WRONG-pw-3f9a-77e1";
    let args = ["publish-prod", "--only", "docker,github", "--skip-ci-check"];

    // The dry run lists the checks: the registry's /v2/ and the repository read.
    let mut dry_args = args.to_vec();
    dry_args.extend(["--dry-run", "--json"]);
    let mut c = command(&repo, &standin, gh_config.path(), &dry_args);
    c.env("DOCKER_USERNAME", USER).env("DOCKER_PASSWORD", wrong);
    let dry = run(c);
    assert_eq!(dry.code, 0, "{}", dry.all());
    let plan: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let first = &plan["steps"][0];
    assert!(
        first["header"]
            .as_str()
            .unwrap()
            .starts_with("check credentials before publishing: 1 registry login(s), the GitHub token on acme/app"),
        "{first:#}"
    );
    let observe = first["observe"].to_string();
    assert!(
        observe.contains(&format!("http://{}/v2/", reg.addr)),
        "{observe}"
    );
    assert!(observe.contains("repos/acme/app"), "{observe}");

    let mut c = command(&repo, &standin, gh_config.path(), &args);
    c.env("DOCKER_USERNAME", USER).env("DOCKER_PASSWORD", wrong);
    let r = run(c);
    assert_eq!(r.code, 1, "{}", r.all());
    for want in [
        "2 credential problem(s), nothing was published".to_string(),
        format!("wrong password for {}", reg.addr),
        format!(
            "registry {} refused the credentials of `{USER}`: check DOCKER_USERNAME/DOCKER_PASSWORD",
            reg.addr
        ),
        "the GitHub token expired on 2020-01-01 00:00:00 UTC".to_string(),
    ] {
        assert!(r.stderr.contains(&want), "{want:?} in\n{}", r.stderr);
    }
    assert!(!r.all().contains(wrong) && !r.all().contains(GH_SECRET));
    assert_eq!(
        catalog(&reg)["repositories"],
        serde_json::json!([]),
        "nothing was pushed"
    );
    assert!(
        !repo.path().join("target/slipway/dist").exists(),
        "nothing was built"
    );
    // The incident report says so.
    let reports = incidents(&repo);
    assert_eq!(reports.len(), 1);
    let (_, md, json) = &reports[0];
    assert_eq!(json["failed_step"]["stage"], "preflight");
    assert!(md.contains("Nothing was published."), "{md}");
    assert!(json["rollback"].is_null());
    assert!(!md.contains(wrong) && !md.contains(GH_SECRET));
}

/// The stand-in alone: a token expiring in 3 days is warned about (`credentials.warn-days`), a
/// read-only one is refused with the permission it lacks.
#[test]
fn a_soon_expiring_token_warns_and_a_read_only_one_is_refused() {
    if !require("gh (Debian package)", gh_available()) {
        return;
    }
    let standin =
        Standin::start(&slipway_rig::standin::default_spec_path().expect("the GitHub contract"))
            .unwrap();
    standin.seed_repo("acme", "app");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let soon = xtask::core::date::rfc3339(now + 3 * 86_400 + 3600)
        .replace('T', " ")
        .replace('Z', " UTC");
    standin.seed_token(TokenSeed {
        token: GH_SECRET.into(),
        expires: Some(soon.clone()),
        permissions: Some(serde_json::json!({"admin": false, "maintain": false, "push": false})),
    });
    let repo = Repo::new(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
             [workspace.metadata.release.github]\nrepo = \"acme/app\"\n",
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"acme-app\"\nversion = \"2.0.0\"\n",
        ),
        (
            "CHANGELOG.md",
            "# Changelog\n\n## [2.0.0] - 2026-11-21\n\n### Added\n\n- Things.\n",
        ),
    ]);
    repo.git(&["tag", "-a", "v2.0.0", "-m", "release"]);
    let gh_config = tempfile::tempdir().unwrap();
    let r = run(command(
        &repo,
        &standin,
        gh_config.path(),
        &["publish-prod", "--only", "github", "--skip-ci-check"],
    ));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all()
            .contains(&format!("the GitHub token expires in 3 day(s), on {soon}")),
        "{}",
        r.all()
    );
    assert!(
        r.stderr.contains("the GitHub token may not create releases in acme/app (it has pull, triage; push or admin is needed)"),
        "{}",
        r.stderr
    );
    let state = standin.state();
    assert!(state["repos"][0]["releases"]
        .as_array()
        .is_none_or(|r| r.is_empty()));

    // With warn-days = 2 the same token is not warned about; with push it passes.
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
         [workspace.metadata.release.github]\nrepo = \"acme/app\"\n\n\
         [workspace.metadata.release.credentials]\nwarn-days = 2\n",
    );
    repo.git(&["commit", "-q", "-am", "warn later"]);
    repo.git(&["tag", "-f", "-a", "v2.0.0", "-m", "release"]);
    standin.seed_token(TokenSeed {
        token: GH_SECRET.into(),
        expires: Some(soon.clone()),
        permissions: Some(serde_json::json!({"push": true})),
    });
    let r = run(command(
        &repo,
        &standin,
        gh_config.path(),
        &["publish-prod", "--only", "github", "--skip-ci-check"],
    ));
    assert!(!r.all().contains("expires in"), "{}", r.all());
    assert!(
        r.all()
            .contains("GitHub token: may create releases in acme/app"),
        "{}",
        r.all()
    );
}
