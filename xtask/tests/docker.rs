//! The Docker target against a real engine (slipway's private dockerd, no network for builds and
//! containers) and real registries (Debian's docker-registry on loopback, one with htpasswd):
//! docker-validate (healthy, and three ways of being unhealthy, each leaving no container; Ctrl-C),
//! publish-prod --only docker to two registries with one going away, moving vs release tags,
//! wrong credentials, problems found before anything runs, and a two-architecture index.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use slipway_rig::services::Registry;
use xtask::targets::docker::registry::Client;
use xtask::targets::docker::{read_remote, Remote};

const USER: &str = "pusher";
const PASSWORD: &str = "pw-DOCKER-9c1e77-secret";
const BASE: &str = "slipway-base:bookworm-python";

fn docker() -> Command {
    docker_cli("slipway-test-docker-config")
}

fn docker_ok(args: &[&str]) -> String {
    docker_output(docker(), args)
}

fn has_image(image: &str) -> bool {
    docker()
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The engine, the base image, python3 and the tool venv (`cargo xtask provision`).
fn services() -> bool {
    if !require(
        "a Docker engine with the base image (cargo xtask provision)",
        xtask::targets::docker::engine::is_up() && has_image(BASE),
    ) {
        return false;
    }
    if !require(
        "docker-registry",
        Path::new(slipway_rig::services::REGISTRY_BIN).exists(),
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

/// The reference payload + Dockerfile at `version`, with `docker_toml` as the docker table,
/// committed and tagged; `patch` edits the files first.
fn fixture(version: &str, docker_toml: &str, patch: impl Fn(&mut Vec<(String, String)>)) -> Repo {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let pep440 = xtask::core::version::pep440(&semver::Version::parse(version).unwrap());
    let mut files = payload_files();
    for (name, content) in files.iter_mut() {
        if name == "pyproject.toml" {
            *content = content.replace("version = \"0.1.0\"", &format!("version = \"{pep440}\""));
        }
    }
    for f in ["Dockerfile", ".dockerignore"] {
        files.push((f.into(), std::fs::read_to_string(root.join(f)).unwrap()));
    }
    files.push((
        "Cargo.toml".into(),
        format!("[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n[workspace.metadata.release.docker]\n{docker_toml}"),
    ));
    files.push((
        "CHANGELOG.md".into(),
        format!("# Changelog\n\n## [Unreleased]\n\n## [{version}] - 2026-11-21\n\n### Added\n\n- Things.\n"),
    ));
    files.push((".gitignore".into(), "/target\n/build\n*.egg-info/\n".into()));
    patch(&mut files);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let repo = Repo::new(&refs);
    repo.git(&["tag", "-a", &format!("v{version}"), "-m", "release"]);
    repo
}

fn edit(files: &mut [(String, String)], name: &str, from: &str, to: &str) {
    let f = files.iter_mut().find(|(n, _)| n == name).unwrap();
    assert!(f.1.contains(from), "{name} has no {from:?}");
    f.1 = f.1.replace(from, to);
}

/// The tool in `repo`; returns its pid (labels its validation containers) and what it printed.
fn tool(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> (u32, Run) {
    let mut cmd = command(repo, args, env);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    (
        pid,
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        },
    )
}

fn command(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = hermetic(BIN, repo.path());
    cmd.args(args);
    with_env(cmd, repo, env)
}

fn with_env(mut cmd: Command, repo: &Repo, env: &[(&str, &str)]) -> Command {
    cmd.env("SLIPWAY_TOOLS_DIR", tools_dir())
        .env("NO_COLOR", "1")
        .env(
            "DOCKER_CONFIG",
            repo.path().join("target/user-docker-config"),
        )
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("DOCKER_USERNAME")
        .env_remove("DOCKER_PASSWORD")
        .env_remove("GITHUB_ACTIONS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn publish(repo: &Repo, env: &[(&str, &str)]) -> Run {
    tool(
        repo,
        &["publish-prod", "--only", "docker", "--skip-ci-check"],
        env,
    )
    .1
}

/// Validation containers of one slipway process (any state).
fn containers_of(pid: u32) -> Vec<String> {
    docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=slipway.validate={pid}"),
        "--format",
        "{{.Names}}",
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

fn assert_no_container(pid: u32) {
    // `docker run --rm` may still be finishing the removal for a moment.
    let start = Instant::now();
    while !containers_of(pid).is_empty() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        containers_of(pid),
        Vec::<String>::new(),
        "containers left behind"
    );
}

fn docker_table(registries: &[&str], extra: &str) -> String {
    let list: Vec<String> = registries.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        "image = \"acme/app\"\nregistries = [{}]\nbuild-args = {{ BASE_IMAGE = \"{BASE}\" }}\n{extra}",
        list.join(", ")
    )
}

/// An image that is not the release (a tiny one), pushed as `<target>`.
fn push_other_image(target: &str, content: &str) -> String {
    push_scratch_image(&docker, target, None, content, false)
}

/// Removes the local `<addr>/…` names that pushing to a test registry leaves in the engine (the
/// images stay under their other names).
struct Untag(Vec<String>);

impl Drop for Untag {
    fn drop(&mut self) {
        let Ok(out) = docker()
            .args([
                "image",
                "ls",
                "--digests",
                "--format",
                "{{.Repository}} {{.Tag}} {{.Digest}}",
            ])
            .output()
        else {
            return;
        };
        // Tags, and the digest references (`<none>` tags) that pushes leave.
        let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut f = l.split(' ');
                let (repo, tag, digest) = (f.next()?, f.next()?, f.next()?);
                if !self.0.iter().any(|a| repo.starts_with(&format!("{a}/"))) {
                    return None;
                }
                match tag {
                    "<none>" => digest
                        .starts_with("sha256:")
                        .then(|| format!("{repo}@{digest}")),
                    _ => Some(format!("{repo}:{tag}")),
                }
            })
            .collect();
        if !names.is_empty() {
            let _ = docker().arg("rmi").args(&names).output();
        }
    }
}

fn remote(registry: &Registry, tag: &str) -> Remote {
    let creds = registry
        .credentials
        .as_ref()
        .map(|(u, p)| (u.as_str(), p.as_str()));
    let mut client = Client::new(&registry.addr, creds);
    read_remote(&mut client, "acme/app", tag).unwrap()
}

/// The image ID the tool built for `platform` (from its build record).
fn built_image(repo: &Repo, platform: &str) -> String {
    let text = repo.read("target/slipway/docker/builds.json");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_object()
        .unwrap()
        .values()
        .find(|r| r["platform"] == platform)
        .and_then(|r| r["image"].as_str())
        .unwrap()
        .to_string()
}

fn assert_no_secret(r: &Run, repo: &Repo, secret: &str) {
    assert!(
        !r.all().contains(secret),
        "the password leaked into the output"
    );
    for f in files_under(&repo.path().join("target/slipway")) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap_or_default()).into_owned();
        assert!(
            !text.contains(secret),
            "the password leaked into {}",
            f.display()
        );
        let b64 = xtask::targets::docker::registry::base64(format!("{USER}:{secret}").as_bytes());
        assert!(
            !text.contains(&b64),
            "a docker login was left in {}",
            f.display()
        );
    }
}

fn tags_line(short: &str) -> String {
    format!("v1.2.0, v1.2, v1, latest, sha-{short}")
}

fn short(repo: &Repo) -> String {
    repo.git(&["rev-parse", "--short=7", "HEAD"])
        .trim()
        .to_string()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn healthy_image_passes_and_leaves_no_container() {
    if !services() {
        return;
    }
    let repo = fixture("0.4.0", &docker_table(&["127.0.0.1:9"], ""), |_| {});
    let (pid, r) = tool(&repo, &["docker-validate"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("linux/amd64: healthy after")
            && r.stdout
                .contains("GET /health → {\"status\": \"healthy\"}; GET /version → 0.4.0"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("ok: acme/app v0.4.0 is healthy and reports 0.4.0"),
        "{}",
        r.stdout
    );
    assert_no_container(pid);
    // The labels of the release are on the image.
    let id = built_image(&repo, "linux/amd64");
    let labels = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &id,
    ]);
    let labels: serde_json::Value = serde_json::from_str(labels.trim()).unwrap();
    assert_eq!(labels["org.opencontainers.image.version"], "0.4.0");
    assert_eq!(labels["dev.slipway.version.pep440"], "0.4.0");
    assert_eq!(labels["org.opencontainers.image.title"], "slipway-demo");
    let head = repo.git(&["rev-parse", "HEAD"]);
    assert_eq!(labels["org.opencontainers.image.revision"], head.trim());
    assert_eq!(
        labels["org.opencontainers.image.created"],
        "2026-11-20T12:00:00Z"
    );

    // Again: the wheel and the image are reused, the container is checked again.
    let (pid, r) = tool(&repo, &["docker-validate", "--version", "v0.4.0"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("skipped: built earlier from"),
        "{}",
        r.stdout
    );
    assert_no_container(pid);
}

#[test]
fn health_500_fails_clearly_and_leaves_no_container() {
    if !services() {
        return;
    }
    let repo = fixture("0.5.0", &docker_table(&["127.0.0.1:9"], ""), |files| {
        edit(
            files,
            "src/slipway_demo/server.py",
            "self._json(200, {\"status\": \"healthy\"})",
            "self._json(500, {\"status\": \"degraded\"})",
        );
        // A HEALTHCHECK that only checks the port: the container says healthy, /health does not.
        let df = files.iter_mut().find(|(n, _)| n == "Dockerfile").unwrap();
        let start = df.1.find("HEALTHCHECK").unwrap();
        let end = start + df.1[start..].find("\n# Exec form").unwrap();
        df.1.replace_range(
            start..end,
            "HEALTHCHECK --interval=1s --retries=3 CMD [\"python3\", \"-c\", \"import socket; socket.create_connection(('127.0.0.1', 8080), 2)\"]",
        );
    });
    let (pid, r) = tool(&repo, &["docker-validate"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(
            "linux/amd64: GET /health answered 500 {\"status\": \"degraded\"}, expected 200 {\"status\": \"healthy\"}"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("last lines of the container's log")
            && r.stderr.contains("\"GET /health HTTP/1.1\" 500"),
        "{}",
        r.stderr
    );
    assert_no_container(pid);
}

#[test]
fn never_healthy_times_out_and_leaves_no_container() {
    if !services() {
        return;
    }
    let repo = fixture(
        "0.6.0",
        &docker_table(&["127.0.0.1:9"], "health = { timeout-s = 4 }\n"),
        |files| {
            edit(
                files,
                "Dockerfile",
                "CMD [\"python3\", \"-m\", \"slipway_demo\"]",
                "CMD [\"python3\", \"-c\", \"import sys, time; print('warming up forever', file=sys.stderr, flush=True); time.sleep(600)\"]",
            );
        },
    );
    let started = Instant::now();
    let (pid, r) = tool(&repo, &["docker-validate"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("linux/amd64: not healthy within 4 s (health.timeout-s): the HEALTHCHECK still says `starting`"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("warming up forever"), "{}", r.stderr);
    assert_no_container(pid);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn wrong_version_fails_clearly_without_a_healthcheck() {
    if !services() {
        return;
    }
    let repo = fixture("0.7.0", &docker_table(&["127.0.0.1:9"], ""), |files| {
        edit(
            files,
            "src/slipway_demo/server.py",
            "{\"version\": installed_version()}",
            "{\"version\": \"9.9.9\"}",
        );
        // No HEALTHCHECK: readiness is polled through GET /health inside the container.
        let df = files.iter_mut().find(|(n, _)| n == "Dockerfile").unwrap();
        let start = df.1.find("HEALTHCHECK").unwrap();
        let end = start + df.1[start..].find("\n# Exec form").unwrap();
        df.1.replace_range(start..end, "");
    });
    let (pid, r) = tool(&repo, &["docker-validate"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(
            "linux/amd64: GET /version says 9.9.9, but this release is 0.7.0: the image does not run the wheel of this release"
        ),
        "{}",
        r.stderr
    );
    assert_no_container(pid);
}

#[test]
fn ctrl_c_during_validation_removes_the_container() {
    if !services() {
        return;
    }
    let repo = fixture("0.8.0", &docker_table(&["127.0.0.1:9"], ""), |_| {});
    // As from a terminal: SIGINT at its default (a test runner started in the background may
    // have it ignored, and an ignored disposition is inherited across exec).
    let mut cmd = hermetic("python3", repo.path());
    cmd.args([
        "-c",
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])",
        BIN,
        "docker-validate",
    ]);
    let mut cmd = with_env(cmd, &repo, &[]);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0); // its own group, like a terminal's foreground job
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = Instant::now();
    // Running (so `docker run` is attached and proxies signals), not yet healthy.
    let running = |pid: u32| {
        docker_ok(&[
            "ps",
            "--filter",
            &format!("label=slipway.validate={pid}"),
            "--filter",
            "status=running",
            "--format",
            "{{.Names}}",
        ])
        .contains("slipway-validate")
    };
    while !running(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no container appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "docker-validate ended early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Ctrl-C: SIGINT to the whole process group.
    let killed = Command::new("kill")
        .args(["-s", "INT", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(!status.success(), "interrupted, yet success");
    assert_no_container(pid);
}

#[test]
fn two_registries_one_gone_then_back_nothing_pushed_twice() {
    if !services() {
        return;
    }
    let auth_dir = tempfile::tempdir().unwrap();
    let plain_dir = tempfile::tempdir().unwrap();
    let auth = Registry::start(auth_dir.path(), Some((USER, PASSWORD))).unwrap();
    let mut plain = Registry::start(plain_dir.path(), None).unwrap();
    let _untag = Untag(vec![plain.addr.clone(), auth.addr.clone()]);
    let repo = fixture(
        "1.2.0",
        &docker_table(&[&plain.addr, &auth.addr], ""),
        |_| {},
    );
    let creds = [("DOCKER_USERNAME", USER), ("DOCKER_PASSWORD", PASSWORD)];
    let short = short(&repo);

    // The plain registry goes away before the run: it fails, naming it; the other completes.
    plain.stop();
    let r = publish(&repo, &creds);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "pushing failed for {0}/acme/app: registry {0} is unreachable",
            plain.addr
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("{}/acme/app → sha256:", auth.addr))
            && r.stderr.contains(&format!("pushed {}", tags_line(&short)))
            && r.stderr.contains("a re-run completes the rest"),
        "{}",
        r.stderr
    );
    assert_no_secret(&r, &repo, PASSWORD);

    // Back on the same port with the same data: the re-run pushes only what is missing.
    let plain = Registry::start_on(plain_dir.path(), None, plain.port()).unwrap();
    let r = publish(&repo, &creds);
    assert_eq!(r.code, 0, "{}", r.all());
    let plain_line = r
        .stdout
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with(&format!("{}/acme/app → ", plain.addr))
        })
        .unwrap_or_else(|| panic!("no line for the plain registry:\n{}", r.stdout));
    let auth_line = r
        .stdout
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with(&format!("{}/acme/app → ", auth.addr))
        })
        .unwrap_or_else(|| panic!("no line for the auth registry:\n{}", r.stdout));
    assert!(
        plain_line.ends_with(&format!(": pushed {}", tags_line(&short))),
        "{plain_line}"
    );
    assert!(
        auth_line.ends_with(&format!(": already there: {}", tags_line(&short))),
        "{auth_line}"
    );
    assert!(
        r.stdout.contains("verify 5 tag(s) of acme/app"),
        "{}",
        r.stdout
    );
    assert_no_secret(&r, &repo, PASSWORD);

    // Every tag on both registries: one manifest per registry, whose config is the built image.
    let image = built_image(&repo, "linux/amd64");
    for reg in [&plain, &auth] {
        let digests: Vec<String> = ["v1.2.0", "v1.2", "v1", "latest", &format!("sha-{short}")]
            .iter()
            .map(|t| match remote(reg, t) {
                Remote::Image { digest, config } => {
                    assert_eq!(config, image, "{} {t}", reg.addr);
                    digest
                }
                other => panic!("{} {t}: {other:?}", reg.addr),
            })
            .collect();
        assert!(digests.iter().all(|d| *d == digests[0]), "{digests:?}");
    }

    // A third run changes nothing.
    let r = publish(&repo, &creds);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("skipped: every tag already holds this build"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(": pushed "), "{}", r.stdout);
}

#[test]
fn moving_tags_move_release_tags_never_do() {
    if !services() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::start(dir.path(), None).unwrap();
    let _untag = Untag(vec![reg.addr.clone()]);
    let repo = fixture("1.2.0", &docker_table(&[&reg.addr], ""), |_| {});
    let short = short(&repo);
    let elsewhere = push_other_image(&format!("{}/acme/app:latest", reg.addr), "not the release");

    let r = publish(&repo, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(&format!(
            "pushed v1.2.0, v1.2, v1, sha-{short}; moved latest (was {elsewhere})"
        )),
        "{}",
        r.stdout
    );
    let release = remote(&reg, "v1.2.0").digest().unwrap().to_string();
    assert_eq!(remote(&reg, "latest").digest(), Some(release.as_str()));

    // Someone points v1 and the release tag itself elsewhere: the run stops before pushing.
    let v1 = push_other_image(&format!("{}/acme/app:v1", reg.addr), "v1 elsewhere");
    let exact = push_other_image(
        &format!("{}/acme/app:v1.2.0", reg.addr),
        "release elsewhere",
    );
    let r = publish(&repo, &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "nothing was pushed: {}/acme/app:v1.2.0 already points at {exact}",
            reg.addr
        )) && r
            .stderr
            .contains("a release tag never moves — release a new version"),
        "{}",
        r.stderr
    );
    assert_eq!(
        remote(&reg, "v1").digest(),
        Some(v1.as_str()),
        "v1 was moved"
    );
    assert_eq!(remote(&reg, "v1.2.0").digest(), Some(exact.as_str()));
}

#[test]
fn wrong_password_is_refused_clearly_and_never_printed() {
    if !services() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::start(dir.path(), Some((USER, PASSWORD))).unwrap();
    let _untag = Untag(vec![reg.addr.clone()]);
    let repo = fixture("1.2.0", &docker_table(&[&reg.addr], ""), |_| {});
    let wrong = "WRONG-pw-5e0f-d41d8c";
    let r = publish(
        &repo,
        &[("DOCKER_USERNAME", USER), ("DOCKER_PASSWORD", wrong)],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "registry {} refused the credentials of `{USER}`: check DOCKER_USERNAME/DOCKER_PASSWORD",
            reg.addr
        )),
        "{}",
        r.stderr
    );
    assert_no_secret(&r, &repo, wrong);
    assert_eq!(remote(&reg, "v1.2.0"), Remote::Absent);
}

#[test]
fn problems_are_reported_together_before_anything_runs() {
    if !services() {
        return;
    }
    let repo = fixture(
        "1.3.0",
        "image = \"acme/app\"\nregistries = [\"127.0.0.1:9\"]\nbuild-args = { BASE_IMAGE = \"slipway-missing:none\" }\n",
        |_| {},
    );
    let r = publish(&repo, &[("DOCKER_USERNAME", USER)]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("publish-prod refused, nothing was changed (2 problems)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("the base image slipway-missing:none (linux/amd64), named by the build-args, is not in the Docker engine"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("DOCKER_USERNAME is set but DOCKER_PASSWORD is not: set both, or neither"),
        "{}",
        r.stderr
    );
    assert!(
        !repo.path().join("target/slipway/dist").exists(),
        "something was built"
    );

    let (_, r) = tool(
        &repo,
        &["docker-validate"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("no Docker engine answers at unix:///nonexistent/docker.sock"),
        "{}",
        r.stderr
    );
}

#[test]
fn two_architectures_make_one_index() {
    // arm64 needs qemu binfmt and its own base image (`SLIPWAY_ARM64=1 cargo xtask provision`,
    // about 3 minutes once); required only when SLIPWAY_ARM64=1, skipped loudly otherwise.
    let arm_base = format!("{BASE}-arm64");
    let binfmt = std::fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-aarch64")
        .is_ok_and(|s| s.starts_with("enabled"));
    let ready = xtask::targets::docker::engine::is_up()
        && has_image(&arm_base)
        && has_image(&format!("{BASE}-amd64"))
        && binfmt;
    if !ready {
        if std::env::var("SLIPWAY_ARM64").is_ok_and(|v| v == "1") {
            panic!("SLIPWAY_ARM64=1 but the arm64 base image or qemu binfmt is missing: run `SLIPWAY_ARM64=1 cargo xtask provision`");
        }
        eprintln!("SKIPPED: arm64 base image / qemu binfmt not provisioned (SLIPWAY_ARM64=1 cargo xtask provision)");
        let _ = std::fs::OpenOptions::new().write(true).open("/dev/tty").and_then(|mut t| {
            std::io::Write::write_all(&mut t, b"SKIPPED: two_architectures_make_one_index (run SLIPWAY_ARM64=1 cargo xtask provision)\n")
        });
        return;
    }
    if !services() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::start(dir.path(), None).unwrap();
    let _untag = Untag(vec![reg.addr.clone()]);
    let repo = fixture(
        "2.0.0",
        &format!(
            "image = \"acme/app\"\nregistries = [\"{}\"]\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\nbuild-args = {{ BASE_IMAGE = \"{BASE}-${{TARGETARCH}}\" }}\n",
            reg.addr
        ),
        |_| {},
    );
    let r = publish(&repo, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("linux/arm64: healthy after"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("pushed v2.0.0-amd64, v2.0.0-arm64, v2.0.0, v2.0, v2, latest, sha-"),
        "{}",
        r.stdout
    );
    let amd = built_image(&repo, "linux/amd64");
    let arm = built_image(&repo, "linux/arm64");
    assert_ne!(amd, arm);
    let arch = docker_ok(&["image", "inspect", "--format", "{{.Architecture}}", &arm]);
    assert_eq!(arch.trim(), "arm64");
    // The index lists each architecture with its own image, as the per-arch tags do.
    let Remote::Index { digest, children } = remote(&reg, "v2.0.0") else {
        panic!("v2.0.0 is not an index");
    };
    for (platform, id, tag) in [
        ("linux/amd64", &amd, "v2.0.0-amd64"),
        ("linux/arm64", &arm, "v2.0.0-arm64"),
    ] {
        let child = children
            .iter()
            .find(|(p, _, _)| xtask::targets::docker::same_platform(p, platform))
            .unwrap_or_else(|| panic!("{platform} missing from {children:?}"));
        assert_eq!(&child.2, id, "{platform}");
        assert_eq!(remote(&reg, tag).digest(), Some(child.1.as_str()), "{tag}");
    }
    assert_eq!(remote(&reg, "latest").digest(), Some(digest.as_str()));
    let r = publish(&repo, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("skipped: every tag already holds this build"),
        "{}",
        r.stdout
    );
}

#[path = "common/trace.rs"]
mod trace;

/// Listed but started only when needed (none of it happens in a first run of this fixture):
/// putting the local name back on a recorded build, pulling a Dockerfile's own base, removing
/// a stale validation container, the health-path-only probe (polling an image without a
/// HEALTHCHECK).
fn conditional(t: &[String]) -> bool {
    let has = |w: &str| t.iter().any(|a| a == w);
    let joined = t.join(" ");
    (has("tag") && joined.contains("<recorded image"))
        || has("pull")
        || joined.contains("<stale container>")
        || (has("exec") && t.last().is_some_and(|a| a == "/health"))
        // An image without python3 is probed from a sidecar: the probe image's check and the
        // sidecar itself run only then (this fixture's image has python3).
        || (has("inspect") && t.last().is_some_and(|a| a.starts_with("slipway-base:")))
        || t.iter().any(|a| a.starts_with("container:"))
}

/// Under strace: every process the Docker target of `publish-prod` starts (build, validate,
/// push), beyond the observations its dry run makes too, is one of the typed `run` sub-steps
/// its `--dry-run --json` plan listed, placeholders (`<docker.image.linux/amd64>`, `<tag>`,
/// `<pid>`…) standing for run-time values; and in this full first run every listed one is
/// started, except those [`conditional`] names.
#[test]
fn docker_publish_starts_exactly_the_processes_its_dry_run_lists() {
    if !services() || !trace::strace_works() {
        eprintln!("SKIPPED: no services or strace cannot trace here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::start(dir.path(), None).unwrap();
    let _untag = Untag(vec![reg.addr.clone()]);
    let repo = fixture("3.1.0", &docker_table(&[&reg.addr], ""), |_| {});
    let args = ["publish-prod", "--only", "docker", "--skip-ci-check"];
    let dry_dir = tempfile::tempdir().unwrap();
    let mut dry_args = args.to_vec();
    dry_args.extend(["--dry-run", "--json"]);
    let (dry, observed) = trace::traced(&command(&repo, &dry_args, &[]), dry_dir.path());
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let planned = trace::planned(&plan["steps"]);
    // The ledger's steps (append the record, push the notes) run after the plan; those that
    // depend on what they find (a remote, a merge) may be planned and not started.
    let with_ledger: Vec<_> = planned
        .iter()
        .cloned()
        .chain(trace::planned(&plan["ledger"]))
        .collect();

    let real_dir = tempfile::tempdir().unwrap();
    let (real, started) = trace::traced(&command(&repo, &args, &[]), real_dir.path());
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let acted = trace::less(&started, &observed);
    for needle in [["build"], ["run"], ["push"]] {
        assert!(
            acted
                .iter()
                .any(|a| a.get(1).map(String::as_str) == Some(needle[0])),
            "no docker {needle:?} traced: {acted:#?}"
        );
    }
    for argv in &acted {
        assert!(
            with_ledger.iter().any(|t| trace::matches(t, argv)),
            "started but not in the dry-run plan: {argv:?}\nplanned: {with_ledger:#?}"
        );
    }
    for t in planned.iter().filter(|t| !conditional(t)) {
        assert!(
            acted.iter().any(|a| trace::matches(t, a)),
            "planned but not started: {t:?}\nstarted: {acted:#?}"
        );
    }
}

/// SIGKILL to the tool alone mid-validation (no signal reaches `docker run`): its watchdog —
/// the tool again, in its own process group, no shell — sees its pipe close and removes the
/// container.
#[test]
fn sigkill_during_validation_the_watchdog_removes_the_container() {
    if !services() {
        return;
    }
    let repo = fixture("0.8.1", &docker_table(&["127.0.0.1:9"], ""), |_| {});
    let mut child = command(&repo, &["docker-validate"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = Instant::now();
    let running = |pid: u32| {
        docker_ok(&[
            "ps",
            "--filter",
            &format!("label=slipway.validate={pid}"),
            "--filter",
            "status=running",
            "--format",
            "{{.Names}}",
        ])
        .contains("slipway-validate")
    };
    while !running(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no container appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "docker-validate ended early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap(); // SIGKILL, to this process only
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_no_container(pid);
}

/// Without an engine (and without credentials) the dry run still shows every step, marks the
/// ones a real run would refuse, and exits 1 with the problems.
#[test]
fn dry_run_without_an_engine_shows_the_plan_and_what_would_refuse() {
    let repo = fixture("0.9.0", &docker_table(&["127.0.0.1:9"], ""), |_| {});
    let (_, r) = tool(
        &repo,
        &[
            "publish-prod",
            "--only",
            "docker",
            "--skip-ci-check",
            "--dry-run",
        ],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    for needle in [
        "build sdist + wheel 0.9.0",
        "build image acme/app:v0.9.0",
        "validate acme/app:v0.9.0",
        "push v0.9.0",
        "✗ would refuse: no Docker engine answers at unix:///nonexistent/docker.sock",
    ] {
        assert!(r.stdout.contains(needle), "{needle}:\n{}", r.stdout);
    }
    assert!(
        r.stderr.contains("no Docker engine answers"),
        "{}",
        r.stderr
    );
    assert!(
        !repo.path().join("target/slipway/dist").exists(),
        "something was built"
    );
}

// ---------------------------------------------------------------------------------------------
// An image without python3: FROM scratch, a static busybox httpd serving files, a HEALTHCHECK
// with busybox wget. The probe runs from a sidecar in the container's network namespace.

const BUSYBOX: &str = "/bin/busybox";

/// A release whose image is FROM scratch: `/health` (absent when `healthy` is false) and
/// `/version` saying `served`; registries `registries`.
fn scratch_fixture(version: &str, served: &str, healthy: bool, registries: &[&str]) -> Repo {
    let list: Vec<String> = registries.iter().map(|r| format!("\"{r}\"")).collect();
    let table = format!(
        "image = \"acme/scratch-app\"\nregistries = [{}]\nhealth = {{ timeout-s = 20 }}\n",
        list.join(", ")
    );
    let repo = fixture(version, &table, |files| {
        files.retain(|(n, _)| n != "Dockerfile" && n != ".dockerignore");
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
            format!("{{\"version\": \"{served}\"}}\n"),
        ));
        if healthy {
            files.push((
                "scratch/www/health".into(),
                "{\"status\": \"healthy\"}\n".into(),
            ));
        }
    });
    std::fs::copy(BUSYBOX, repo.path().join("scratch/busybox")).unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "--amend", "--no-edit"]);
    repo.git(&["tag", "-f", "-a", &format!("v{version}"), "-m", "release"]);
    repo
}

fn scratch_services() -> bool {
    services()
        && require(
            "busybox-static (cargo xtask provision)",
            Path::new(BUSYBOX).exists(),
        )
}

#[test]
fn scratch_image_is_validated_through_a_sidecar_and_published() {
    if !scratch_services() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::start(dir.path(), None).unwrap();
    let _untag = Untag(vec![reg.addr.clone()]);
    let repo = scratch_fixture("4.1.0", "4.1.0", true, &[&reg.addr]);
    let (pid, r) = tool(&repo, &["docker-validate"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("linux/amd64: healthy after")
            && r.stdout
                .contains("GET /health → {\"status\": \"healthy\"}; GET /version → 4.1.0"),
        "{}",
        r.stdout
    );
    assert_no_container(pid);

    let (pid, r) = tool(
        &repo,
        &["publish-prod", "--only", "docker", "--skip-ci-check"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("pushed v4.1.0"), "{}", r.stdout);
    assert_no_container(pid);
    let mut client = Client::new(&reg.addr, None);
    let remote = read_remote(&mut client, "acme/scratch-app", "v4.1.0").unwrap();
    assert!(remote.digest().is_some(), "v4.1.0 is not on the registry");
}

#[test]
fn scratch_image_with_the_wrong_version_or_never_healthy_is_refused() {
    if !scratch_services() {
        return;
    }
    let repo = scratch_fixture("4.2.0", "9.9.9", true, &["127.0.0.1:9"]);
    let (pid, r) = tool(&repo, &["docker-validate"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("linux/amd64: GET /version says 9.9.9, but this release is 4.2.0"),
        "{}",
        r.stderr
    );
    assert_no_container(pid);
    let (pid, r) = tool(
        &repo,
        &["publish-prod", "--only", "docker", "--skip-ci-check"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("GET /version says 9.9.9"), "{}", r.stderr);
    assert!(!r.all().contains("pushed v4.2.0"), "{}", r.all());
    assert_no_container(pid);

    let repo = scratch_fixture("4.3.0", "4.3.0", false, &["127.0.0.1:9"]);
    let (pid, r) = tool(&repo, &["docker-validate"], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("linux/amd64: the image's HEALTHCHECK reports unhealthy"),
        "{}",
        r.stderr
    );
    assert_no_container(pid);
}

/// A cargo target directory outside the repository (a shared one) changes nothing for slipway:
/// the wheel is built under the repository's `target/slipway/dist/`, inside the build context.
#[test]
fn cargo_target_dir_outside_the_repository_keeps_the_wheel_in_the_context() {
    if !services() {
        return;
    }
    let repo = fixture("4.4.0", &docker_table(&["127.0.0.1:9"], ""), |_| {});
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().to_str().unwrap();
    let (_, r) = tool(
        &repo,
        &["docker-validate", "--dry-run"],
        &[("CARGO_TARGET_DIR", target)],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        !r.all().contains("outside the docker build context"),
        "{}",
        r.all()
    );
    assert!(
        r.stdout.contains("DIST=target/slipway/dist/4.4.0"),
        "{}",
        r.stdout
    );
    assert!(!r.all().contains(target), "{}", r.all());
}
