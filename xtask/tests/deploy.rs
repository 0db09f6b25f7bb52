//! The deploy hook of `publish-prod` and `verify --yanked`, end to end: a real image (FROM
//! scratch, busybox httpd) published to a real local registry, the deploy command a script the
//! test writes that records its argv and environment, the real `gh` recording the GitHub
//! deployment on the stand-in (every request checked against GitHub's contract). Then
//! `--no-deploy`, a failing deploy (exit 1, everything stays published, a re-run deploys again),
//! a deploy that overruns `timeout-s` (killed with its children), the dry run, config errors;
//! and `verify --yanked` against real-shaped PEP 691 and PEP 592 pages served on loopback.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use slipway_rig::services::Registry;
use slipway_rig::standin::Standin;
use xtask::targets::docker::read_remote;
use xtask::targets::docker::registry::Client;

const BUSYBOX: &str = "/bin/busybox";
const GH_SECRET: &str = "ghs-DEPLOY-41c2-secret";

fn docker() -> Command {
    docker_cli("slipway-test-docker-config")
}

/// The engine, the registry binary, busybox, gh and the tool venv.
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
    ) || !require(
        "gh (Debian package)",
        Command::new("gh")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
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

/// Removes the images the run tagged for the registry (the engine is shared).
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

/// The deploy script: records its argv, environment and the pid of a child it starts, then
/// succeeds, fails (DEPLOY_MODE=fail) or overruns (DEPLOY_MODE=sleep, with a child that would
/// outlive it).
const SCRIPT: &str = r#"#!/bin/bash
set -u
{
  echo "run"
  for a in "$@"; do echo "arg=$a"; done
  for v in SLIPWAY_VERSION SLIPWAY_TAG SLIPWAY_DOCKER_TAG SLIPWAY_DIGEST SLIPWAY_IMAGE SLIPWAY_ENVIRONMENT; do
    echo "env $v=${!v-<unset>}"
  done
  echo "env TWINE_PASSWORD=${TWINE_PASSWORD-<unset>}"
  echo "cwd=$PWD"
} >> "$DEPLOY_RECORD"
case "${DEPLOY_MODE:-ok}" in
  fail) echo "Error: UPGRADE FAILED: release app failed" >&2; exit 3 ;;
  sleep) sleep 60 & echo "child=$!" >> "$DEPLOY_RECORD"; wait ;;
esac
echo "Release \"app\" has been upgraded. Happy Helming!"
"#;

/// A FROM-scratch release at `version` published to `registry` (`acme/scratch-app`), with a
/// deploy table (`deploy`) and GitHub configured.
fn fixture(version: &str, registry: &str, deploy: &str) -> Repo {
    let pep440 = xtask::core::version::pep440(&semver::Version::parse(version).unwrap());
    let mut files = payload_files();
    for (name, content) in files.iter_mut() {
        if name == "pyproject.toml" {
            *content = content.replace("version = \"0.1.0\"", &format!("version = \"{pep440}\""));
        }
    }
    files.push((
        "Cargo.toml".into(),
        format!(
            "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
             [workspace.metadata.release.github]\nrepo = \"acme/app\"\n\n\
             [workspace.metadata.release.docker]\nimage = \"acme/scratch-app\"\nregistries = [\"{registry}\"]\n\
             health = {{ timeout-s = 20 }}\n\n[workspace.metadata.release.deploy]\n{deploy}"
        ),
    ));
    files.push((
        "CHANGELOG.md".into(),
        format!("# Changelog\n\n## [Unreleased]\n\n## [{version}] - 2026-11-21\n\n### Added\n\n- Things.\n"),
    ));
    files.push((".gitignore".into(), "/target\n/build\n*.egg-info/\n".into()));
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
        "scratch/www/version".into(),
        format!("{{\"version\": \"{pep440}\"}}\n"),
    ));
    files.push((
        "scratch/www/health".into(),
        "{\"status\": \"healthy\"}\n".into(),
    ));
    files.push(("deploy.sh".into(), SCRIPT.into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let repo = Repo::new(&refs);
    std::fs::copy(BUSYBOX, repo.path().join("scratch/busybox")).unwrap();
    repo.git(&["update-index", "--chmod=+x", "deploy.sh"]);
    std::fs::set_permissions(
        repo.path().join("deploy.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "--amend", "--no-edit"]);
    repo.git(&["tag", "-a", &format!("v{version}"), "-m", "release"]);
    repo
}

struct Sandbox {
    repo: Repo,
    registry: Registry,
    _registry_dir: tempfile::TempDir,
    standin: Standin,
    gh_config: tempfile::TempDir,
    record: PathBuf,
    _record_dir: tempfile::TempDir,
    _untag: Untag,
}

impl Sandbox {
    fn new(version: &str, deploy: &str) -> Sandbox {
        let registry_dir = tempfile::tempdir().unwrap();
        let registry = Registry::start(registry_dir.path(), None).unwrap();
        let standin = Standin::start(
            &slipway_rig::standin::default_spec_path().expect("the GitHub contract"),
        )
        .unwrap();
        standin.seed_repo("acme", "app");
        let repo = fixture(version, &registry.addr, deploy);
        let record_dir = tempfile::tempdir().unwrap();
        Sandbox {
            repo,
            _untag: Untag(registry.addr.clone()),
            registry,
            _registry_dir: registry_dir,
            standin,
            gh_config: tempfile::tempdir().unwrap(),
            record: record_dir.path().join("record"),
            _record_dir: record_dir,
        }
    }

    fn run(&self, args: &[&str], mode: &str) -> Run {
        let out = self
            .command(args, mode)
            // Withheld from the deploy command (it is a publishing credential).
            .env("TWINE_PASSWORD", "twine-SECRET-not-for-deploys")
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// Every recorded run of the script: its lines.
    fn runs(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        let mut runs: Vec<Vec<String>> = Vec::new();
        for line in text.lines() {
            if line == "run" {
                runs.push(Vec::new());
            } else if let Some(r) = runs.last_mut() {
                r.push(line.to_string());
            }
        }
        runs
    }

    fn digest(&self, tag: &str) -> String {
        let mut client = Client::new(&self.registry.addr, None);
        read_remote(&mut client, "acme/scratch-app", tag)
            .unwrap()
            .digest()
            .unwrap_or_else(|| panic!("{tag} is not on the registry"))
            .to_string()
    }

    /// The GitHub deployments on the stand-in: (ref, environment, states of its statuses).
    fn deployments(&self) -> Vec<(String, String, Vec<String>)> {
        let state = self.standin.state();
        state["repos"][0]["deployments"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|d| {
                (
                    d["ref"].as_str().unwrap().to_string(),
                    d["environment"].as_str().unwrap().to_string(),
                    d["statuses"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s["state"].as_str().unwrap().to_string())
                        .collect(),
                )
            })
            .collect()
    }
}

const PUBLISH: &[&str] = &["publish-prod", "--only", "docker", "--skip-ci-check"];

fn publish_with(extra: &str) -> Vec<&str> {
    let mut v = PUBLISH.to_vec();
    v.push(extra);
    v
}

#[test]
fn deploy_gets_the_real_digest_fails_without_unpublishing_reruns_and_times_out() {
    if !services() {
        return;
    }
    let deploy = "command = [\"./deploy.sh\", \"{version}\", \"{tag}\", \"{digest}\", \"{image}:{docker_tag}\", \"a b\"]\n\
                  environment = \"staging\"\ntimeout-s = 3\n";
    let s = Sandbox::new("4.2.0-rc.1", deploy);
    let addr = s.registry.addr.clone();

    // The dry run lists the deploy with the argv, the digest as a named placeholder.
    let r = s.run(&publish_with("--dry-run"), "ok");
    assert_eq!(r.code, 0, "{}", r.all());
    let want = format!(
        "deploy v4.2.0-rc.1 to staging: ./deploy.sh 4.2.0rc1 v4.2.0-rc.1 '<docker.digest.{addr}>' \
         {addr}/acme/scratch-app:v4.2.0-rc.1 'a b'"
    );
    assert!(r.stdout.contains(&want), "{want}\n{}", r.stdout);
    assert!(
        r.stdout.contains("POST repos/acme/app/deployments")
            || r.stdout.contains("repos/acme/app/deployments"),
        "{}",
        r.stdout
    );
    assert!(s.runs().is_empty(), "a dry run deploys nothing");

    // The real run: the script gets the version, the tag and the digest that was pushed.
    let r = s.run(PUBLISH, "ok");
    assert_eq!(r.code, 0, "{}", r.all());
    let digest = s.digest("v4.2.0-rc.1");
    let runs = s.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let cwd = s.repo.path().canonicalize().unwrap();
    assert_eq!(
        runs[0],
        [
            "arg=4.2.0rc1".to_string(),
            "arg=v4.2.0-rc.1".into(),
            format!("arg={digest}"),
            format!("arg={addr}/acme/scratch-app:v4.2.0-rc.1"),
            "arg=a b".into(),
            "env SLIPWAY_VERSION=4.2.0rc1".into(),
            "env SLIPWAY_TAG=v4.2.0-rc.1".into(),
            "env SLIPWAY_DOCKER_TAG=v4.2.0-rc.1".into(),
            format!("env SLIPWAY_DIGEST={digest}"),
            format!("env SLIPWAY_IMAGE={addr}/acme/scratch-app"),
            "env SLIPWAY_ENVIRONMENT=staging".into(),
            "env TWINE_PASSWORD=<unset>".into(),
            format!("cwd={}", cwd.display()),
        ]
    );
    assert!(
        r.stdout.contains("deployed v4.2.0-rc.1 to staging in")
            && r.stdout.contains("Happy Helming!"),
        "{}",
        r.stdout
    );
    assert_eq!(
        s.deployments(),
        [(
            "v4.2.0-rc.1".to_string(),
            "staging".to_string(),
            vec!["success".to_string()]
        )]
    );
    s.standin.ensure_no_violations().unwrap();
    assert!(!r.all().contains(GH_SECRET));

    // --no-deploy: shown as skipped, not run.
    let r = s.run(&publish_with("--no-deploy"), "ok");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("--no-deploy: not deploying v4.2.0-rc.1 to staging"),
        "{}",
        r.stdout
    );
    assert_eq!(s.runs().len(), 1, "--no-deploy ran the deploy");

    // A failing deploy: exit 1, says what is published, un-publishes nothing.
    let r = s.run(PUBLISH, "fail");
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("published and verified; the deploy to staging failed: `./deploy.sh` exited with status 3"),
        "{}",
        r.all()
    );
    assert!(
        r.all().contains("UPGRADE FAILED: release app failed"),
        "{}",
        r.all()
    );
    assert_eq!(s.runs().len(), 2);
    assert_eq!(s.digest("v4.2.0-rc.1"), digest, "the image stays published");
    assert_eq!(
        s.deployments().last().unwrap().2,
        ["failure"],
        "{:?}",
        s.deployments()
    );

    // A re-run, everything already published: deploys again.
    let r = s.run(PUBLISH, "ok");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("already"), "{}", r.stdout);
    let runs = s.runs();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[2][2], format!("arg={digest}"));
    assert_eq!(s.deployments().len(), 3);

    // Overrunning timeout-s: killed with its children, reported as timed out.
    let t = Instant::now();
    let r = s.run(PUBLISH, "sleep");
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(
            "published and verified; the deploy to staging failed: deploy timed out after 3 s"
        ),
        "{}",
        r.all()
    );
    assert!(t.elapsed() < Duration::from_secs(50), "{:?}", t.elapsed());
    let runs = s.runs();
    let child = runs[3]
        .iter()
        .find_map(|l| l.strip_prefix("child="))
        .expect("the script's child pid");
    let gone = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|st| st.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'))
            .unwrap_or(true)
    };
    let t = Instant::now();
    while !gone(child) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gone(child), "the deploy's child {child} still runs");
    assert_eq!(s.deployments().last().unwrap().2, ["failure"]);
    s.standin.ensure_no_violations().unwrap();
}

#[path = "common/trace.rs"]
mod trace;

impl Sandbox {
    fn command(&self, args: &[&str], mode: &str) -> Command {
        let mut c = hermetic(BIN, self.repo.path());
        for (k, v) in self.standin.gh_env(self.gh_config.path()) {
            if k.to_ascii_lowercase().ends_with("_proxy") {
                continue;
            }
            c.env(k, v);
        }
        c.args(args)
            .env("SLIPWAY_GH_PROXY", self.standin.url())
            .env("GH_TOKEN", GH_SECRET)
            .env("SLIPWAY_TOOLS_DIR", tools_dir())
            .env("NO_COLOR", "1")
            .env(
                "DOCKER_CONFIG",
                self.repo.path().join("target/user-docker-config"),
            )
            .env("DEPLOY_RECORD", &self.record)
            .env("DEPLOY_MODE", mode)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("DOCKER_USERNAME")
            .env_remove("DOCKER_PASSWORD")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_TOKEN");
        c
    }
}

/// Under strace: the processes the deploy step starts (gh for the GitHub deployment and its
/// status, the deploy command) are exactly the `run` sub-steps its `--dry-run --json` plan
/// lists, `<docker.digest.…>` and `<github.deployment_id>` standing for the run-time values.
#[test]
fn the_deploy_starts_exactly_the_processes_its_dry_run_lists() {
    if !services() || !trace::strace_works() {
        eprintln!("SKIPPED: no services or strace cannot trace here");
        return;
    }
    let s = Sandbox::new(
        "4.3.0",
        "command = [\"./deploy.sh\", \"{digest}\", \"{image}:{docker_tag}\"]\nenvironment = \"qa\"\n",
    );
    let dry_dir = tempfile::tempdir().unwrap();
    let (dry, _) = trace::traced(
        &s.command(
            &publish_with("--dry-run")
                .iter()
                .copied()
                .chain(["--json"])
                .collect::<Vec<_>>(),
            "ok",
        ),
        dry_dir.path(),
    );
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let step = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| {
            st["header"]
                .as_str()
                .unwrap()
                .starts_with("deploy v4.3.0 to qa: ")
        })
        .expect("the deploy step in the plan")
        .clone();
    assert_eq!(step["data"]["environment"], "qa");
    let planned = trace::planned(&serde_json::json!([step]));
    assert_eq!(planned.len(), 3, "{planned:#?}");

    let real_dir = tempfile::tempdir().unwrap();
    let (real, started) = trace::traced(&s.command(PUBLISH, "ok"), real_dir.path());
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let deploy_sh = s.repo.path().join("deploy.sh").display().to_string();
    let acted: Vec<&Vec<String>> = started
        .iter()
        .filter(|a| {
            a[0] == deploy_sh
                || a[0].ends_with("/deploy.sh")
                || (a[0] == "gh" && a.iter().any(|x| x.contains("/deployments")))
        })
        .collect();
    assert_eq!(acted.len(), 3, "{started:#?}");
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
    assert_eq!(s.runs().len(), 1);
}

#[test]
fn deploy_config_errors_exit_2_naming_the_key() {
    let repo = payload_repo(
        "1.0.0",
        "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
         [workspace.metadata.release.deploy]\ncommand = [\"helm\", \"--set\", \"image.tag={docker_tag}\", \"{sha}\"]\ntimeout-s = -1\n",
    );
    let r = repo.run(&["publish-prod", "--dry-run", "--skip-ci-check"]);
    assert_eq!(r.code, 2, "{}", r.all());
    for want in [
        "[workspace.metadata.release.deploy] command has an unknown placeholder {sha}; known: {version}, {tag}, {docker_tag}, {digest}, {image}",
        "[workspace.metadata.release.deploy] timeout-s must be a positive number of seconds",
    ] {
        assert!(r.stderr.contains(want), "{want}\n{}", r.all());
    }
    let r = repo.run(&["check-versions"]);
    assert_eq!(
        r.code,
        2,
        "every command refuses a malformed table: {}",
        r.all()
    );
}

#[test]
fn the_release_notes_say_where_and_how_it_is_deployed() {
    let repo = payload_repo(
        "1.2.3",
        "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
         [workspace.metadata.release.docker]\nimage = \"acme/app\"\nregistries = [\"ghcr.io\"]\n\n\
         [workspace.metadata.release.deploy]\n\
         command = [\"helm\", \"upgrade\", \"--install\", \"app\", \"./chart\", \"--set\", \"image.tag={docker_tag}\", \"--set\", \"digest={digest}\"]\n\
         environment = \"staging\"\n",
    );
    let r = repo.run(&["release-notes"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.ends_with(
            "\nDeployed to staging with: `helm upgrade --install app ./chart --set image.tag=v1.2.3 --set 'digest={digest}'`\n"
        ),
        "{}",
        r.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// verify --yanked

/// The shape of pypi.org's PEP 691 page: 1.0.0 yanked (both files), 1.1.0 half yanked.
fn json_page() -> String {
    let file = |name: &str, yanked: &str| {
        format!(
            "{{\"core-metadata\": false, \"data-dist-info-metadata\": false, \"filename\": \"{name}\", \
             \"hashes\": {{\"sha256\": \"{}\"}}, \"provenance\": null, \"requires-python\": \">=3.9\", \
             \"size\": 4100, \"upload-time\": \"2026-11-21T10:00:00.000000Z\", \
             \"url\": \"https://files.example/packages/{name}\", \"yanked\": {yanked}}}",
            "ab".repeat(32)
        )
    };
    format!(
        "{{\"files\": [{}, {}, {}, {}], \"meta\": {{\"_last-serial\": 4242, \"api-version\": \"1.1\"}}, \
         \"name\": \"slipway-demo\", \"versions\": [\"1.0.0\", \"1.1.0\"]}}",
        file("slipway_demo-1.0.0-py3-none-any.whl", "\"broken entry point\""),
        file("slipway_demo-1.0.0.tar.gz", "true"),
        file("slipway_demo-1.1.0-py3-none-any.whl", "\"oops\""),
        file("slipway_demo-1.1.0.tar.gz", "false"),
    )
}

/// The shape of pypi.org's PEP 503/592 HTML page, the same files.
fn html_page() -> String {
    let link = |name: &str, yanked: Option<&str>| {
        format!(
            "    <a href=\"https://files.example/packages/{name}#sha256={}\" data-requires-python=\"&gt;=3.9\"{}>{name}</a><br />\n",
            "ab".repeat(32),
            yanked.map(|y| format!(" data-yanked=\"{y}\"")).unwrap_or_default()
        )
    };
    format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n\
         <title>Links for slipway-demo</title>\n  </head>\n  <body>\n    <h1>Links for slipway-demo</h1>\n\
         {}{}{}{}  </body>\n</html>\n<!--SERIAL 4242-->\n",
        link("slipway_demo-1.0.0-py3-none-any.whl", Some("broken entry point")),
        link("slipway_demo-1.0.0.tar.gz", Some("")),
        link("slipway_demo-1.1.0-py3-none-any.whl", Some("oops")),
        link("slipway_demo-1.1.0.tar.gz", None),
    )
}

/// A loopback index: `/json/simple/slipway-demo/` answers PEP 691 JSON, `/html/simple/…/`
/// PEP 592 HTML; records each request's Accept header.
fn serve_index() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut accept = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("accept:") {
                    accept = v.trim().to_string();
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(format!("{path} {accept}"));
            let (status, ctype, body) = match path.as_str() {
                "/json/simple/slipway-demo/" => {
                    ("200 OK", "application/vnd.pypi.simple.v1+json", json_page())
                }
                "/html/simple/slipway-demo/" => ("200 OK", "text/html; charset=utf-8", html_page()),
                _ => ("404 Not Found", "text/plain", "not found".to_string()),
            };
            let _ = reader.get_mut().write_all(
                format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    (url, seen)
}

#[test]
fn verify_yanked_reads_pep691_json_and_pep592_html() {
    let (url, seen) = serve_index();
    for kind in ["json", "html"] {
        for version in ["1.0.0", "1.1.0"] {
            let repo = payload_repo(
                version,
                &format!(
                    "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n\
                     [workspace.metadata.release.python]\nindex-url = \"{url}/{kind}/simple/\"\n"
                ),
            );
            let r = repo.run(&["verify", "--yanked", "--only", "pypi"]);
            if version == "1.0.0" {
                assert_eq!(r.code, 0, "{kind}: {}", r.all());
                let want = format!(
                    "slipway-demo 1.0.0 is yanked: all 2 file(s) (slipway_demo-1.0.0-py3-none-any.whl, \
                     slipway_demo-1.0.0.tar.gz); reason: broken entry point (on {url}/{kind}/simple/, {})",
                    if kind == "json" { "PEP 691 JSON" } else { "PEP 592 HTML" }
                );
                assert!(r.stdout.contains(&want), "{want}\n{}", r.all());
            } else {
                assert_eq!(r.code, 1, "{kind}: {}", r.all());
                assert!(
                    r.stderr.contains(
                        "slipway-demo 1.1.0 is not yanked: 1 of its 2 file(s) not yanked: slipway_demo-1.1.0.tar.gz"
                    ),
                    "{kind}: {}",
                    r.all()
                );
            }
        }
    }
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .all(|s| s.contains("application/vnd.pypi.simple.v1+json")),
        "{seen:?}"
    );
    // --yanked with another target only is a usage error.
    let repo = payload_repo(
        "1.0.0",
        "[workspace]\nmembers = []\n\n[workspace.metadata.release]\n",
    );
    let r = repo.run(&["verify", "--yanked", "--only", "docker"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("--yanked checks the package index"),
        "{}",
        r.all()
    );
}
