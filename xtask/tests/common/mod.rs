//! Fixture repositories for the integration tests: real git in temp dirs, the built binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_xtask");
/// 2026-11-21 00:00:00 UTC.
pub const EPOCH: &str = "1795219200";
pub const DATE: &str = "2026-11-21";

pub struct Repo {
    pub dir: tempfile::TempDir,
    /// A bare remote (`origin`), when asked for.
    pub remote: Option<tempfile::TempDir>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// What a finished command left (its exit code, stdout and stderr).
    pub fn of(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A git command with a hermetic environment (no global or system config).
pub fn git_cmd(dir: &Path) -> Command {
    hermetic("git", dir)
}

/// `program` in `dir` with a hermetic git environment (the binary's own git calls inherit it).
pub fn hermetic(program: &str, dir: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_AUTHOR_DATE", "2026-11-20T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-20T12:00:00Z");
    c
}

impl Repo {
    /// A repository on `main` with `files` committed.
    pub fn new(files: &[(&str, &str)]) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo { dir, remote: None };
        repo.git(&["init", "-q", "-b", "main"]);
        for (name, content) in files {
            repo.write(name, content);
        }
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "initial"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// An empty commit with `message` (the history is what these tests script).
    pub fn commit(&self, message: &str) {
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// Adds a bare remote `origin` and pushes `main` to it.
    pub fn with_remote(mut self) -> Repo {
        let remote = tempfile::tempdir().unwrap();
        let out = git_cmd(remote.path())
            .args(["init", "-q", "--bare", "-b", "main"])
            .output()
            .unwrap();
        assert!(out.status.success());
        self.git(&["remote", "add", "origin", remote.path().to_str().unwrap()]);
        self.git(&["push", "-q", "origin", "main"]);
        self.remote = Some(remote);
        self
    }

    /// git in the bare remote.
    pub fn remote_git(&self, args: &[&str]) -> String {
        let dir = self.remote.as_ref().expect("with_remote() first").path();
        let out = git_cmd(dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn write(&self, name: &str, content: &str) {
        let p = self.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap()
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = git_cmd(self.path()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn git_ok(&self, args: &[&str]) -> bool {
        git_cmd(self.path())
            .args(args)
            .output()
            .unwrap()
            .status
            .success()
    }

    /// Runs the built binary in the repository.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(self.path(), args)
    }

    pub fn run_in(&self, cwd: &Path, args: &[&str]) -> Run {
        let out = hermetic(BIN, cwd)
            .args(args)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("CLICOLOR_FORCE")
            .output()
            .unwrap();
        run_result(out)
    }

    /// Every file's bytes plus HEAD, tags and status: to prove that nothing changed.
    pub fn snapshot(&self) -> String {
        let mut s = String::new();
        let mut files: Vec<PathBuf> = Vec::new();
        collect(self.path(), &mut files);
        files.sort();
        for f in files {
            s.push_str(&format!(
                "== {}\n{:?}\n",
                f.display(),
                std::fs::read(&f).unwrap()
            ));
        }
        s.push_str(&self.git(&["rev-parse", "HEAD"]));
        s.push_str(&self.git(&["tag", "-l"]));
        s.push_str(&self.git(&["status", "--porcelain"]));
        s
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().is_some_and(|n| n == ".git") {
            continue;
        }
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn run_result(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

pub const CARGO_TOML: &str = r#"[workspace]
members = []

[workspace.metadata.release]
tag-prefix = "v"
branch = "main"
changelog = "CHANGELOG.md"
pyproject = "pyproject.toml"
compose = ["docker-compose.yml"]
images = ["ghcr.io/acme/app"]
"#;

/// pyproject with the traps: trailing comment, a dependency pinned to the same string, another
/// table with the same string.
pub const PYPROJECT: &str = r#"[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "acme-app"
version = "1.2.3"  # the release version
dependencies = ["acme-sdk==1.2.3"]

[tool.acme]
version = "1.2.3"
"#;

/// compose with the traps: own image with `v` prefix, interpolated default, floating own tag,
/// third-party images with version-looking tags, a commented-out own image.
pub const COMPOSE: &str = r#"services:
  app:
    image: ghcr.io/acme/app:v1.2.3   # own image
    depends_on: [db]
  worker:
    image: "${WORKER_IMAGE:-ghcr.io/acme/app:1.2.3}"
  edge:
    image: ghcr.io/acme/app:latest
  db:
    image: postgres:1.2.3
  cache:
    image: 'redis:7.2.4'
#  old:
#    image: ghcr.io/acme/app:1.2.2
"#;

pub const CHANGELOG: &str = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- A feature.\n\n## [1.2.3] - 2026-10-01\n\n### Fixed\n\n- A bug.\n\n[Unreleased]: https://github.com/acme/app/compare/v1.2.3...HEAD\n[1.2.3]: https://github.com/acme/app/compare/v1.2.2...v1.2.3\n";

/// The standard fixture.
pub fn fixture() -> Repo {
    Repo::new(&[
        ("Cargo.toml", CARGO_TOML),
        ("pyproject.toml", PYPROJECT),
        ("docker-compose.yml", COMPOSE),
        ("CHANGELOG.md", CHANGELOG),
    ])
}

/// Services the end-to-end tests need. Under `cargo xtask ci` (CI=true or
/// SLIPWAY_REQUIRE_SERVICES=1) a missing one fails the test; a bare `cargo test` skips loudly.
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("SLIPWAY_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    if required {
        panic!("{what} is required here (CI / cargo xtask ci) but not available: run `cargo xtask ci`, which provisions it");
    }
    // Written to the terminal directly: test output capture must not hide a skip.
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty")
        .and_then(|mut t| {
            std::io::Write::write_all(
                &mut t,
                format!("SKIPPED: {what} is not available (run `cargo xtask ci`)\n").as_bytes(),
            )
        });
    eprintln!("SKIPPED: {what} is not available (run `cargo xtask ci`)");
    false
}

/// Tool venvs shared by every test (and by the tool runs the tests start).
pub fn tools_dir() -> PathBuf {
    target_dir().join("slipway-test-tools")
}

/// The reference payload (pyproject, package, README) copied into a fixture.
pub fn payload_files() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for rel in [
        "pyproject.toml",
        "src/slipway_demo/__init__.py",
        "src/slipway_demo/__main__.py",
        "src/slipway_demo/server.py",
        "src/slipway_demo/README.md",
    ] {
        out.push((
            rel.to_string(),
            std::fs::read_to_string(root.join(rel)).unwrap(),
        ));
    }
    out
}

/// Every file below `dir` (recursively), `.git` left out.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A repository with the reference payload at `version` (pyproject in PEP 440), the given
/// `Cargo.toml`, a CHANGELOG with a section for the version, tagged `v<version>`.
pub fn payload_repo(version: &str, cargo_toml: &str) -> Repo {
    let pep440 = xtask::core::version::pep440(&semver::Version::parse(version).unwrap());
    let mut files = payload_files();
    for (name, content) in files.iter_mut() {
        if name == "pyproject.toml" {
            *content = content.replace("version = \"0.1.0\"", &format!("version = \"{pep440}\""));
        }
    }
    files.push(("Cargo.toml".into(), cargo_toml.into()));
    files.push(("CHANGELOG.md".into(), format!("# Changelog\n\n## [Unreleased]\n\n## [{version}] - 2026-11-21\n\n### Added\n\n- The first thing.\n")));
    files.push((".gitignore".into(), "/target\n/build\n*.egg-info/\n".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let repo = Repo::new(&refs);
    repo.git(&["tag", "-a", &format!("v{version}"), "-m", "release"]);
    repo
}

/// Cargo's target directory of this test run (`CARGO_TARGET_DIR`, else the workspace's).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A unix socket file nobody answers on (bound, then closed): what a daemon that died leaves.
pub fn stale_socket(dir: &Path) -> PathBuf {
    let path = dir.join("docker.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    path
}

/// The socket path of a `unix://` engine host.
pub fn unix_path(host: &str) -> Option<PathBuf> {
    host.strip_prefix("unix://").map(PathBuf::from)
}

/// Docker's default socket answering while this lives: `/var/run/docker.sock` as it is when an
/// engine answers there, else (when there is none) a symlink to the socket of the engine the
/// tests use, removed on drop. Held behind a lock (a directory with the holder's pid, taken over
/// when that process is gone), so tests in parallel never remove it under each other.
pub struct DefaultSocket {
    created: Option<PathBuf>,
    lock: PathBuf,
}

/// [`DefaultSocket`], or None (skipped loudly, or failing under CI) when it cannot be had here.
pub fn default_socket() -> Option<DefaultSocket> {
    use xtask::targets::docker::engine;
    let default = PathBuf::from(engine::DEFAULT_SOCKET);
    let lock = std::env::temp_dir().join("slipway-default-socket.lock");
    let start = std::time::Instant::now();
    loop {
        if std::fs::create_dir(&lock).is_ok() {
            std::fs::write(lock.join("pid"), std::process::id().to_string()).unwrap();
            break;
        }
        let holder = std::fs::read_to_string(lock.join("pid")).unwrap_or_default();
        let gone = !holder.trim().is_empty() && !Path::new("/proc").join(holder.trim()).exists();
        if gone {
            let _ = std::fs::remove_dir_all(&lock);
            continue;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(900),
            "{} held for 15 minutes",
            lock.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let mut held = DefaultSocket {
        created: None,
        lock,
    };
    let default_host = format!("unix://{}", default.display());
    if engine::answers(&default_host) {
        return Some(held);
    }
    if default.symlink_metadata().is_ok() {
        require(
            "docker's default socket free or answering (a stale /var/run/docker.sock is in the way)",
            false,
        );
        return None;
    }
    let target = engine::docker_host()
        .filter(|h| h != &default_host && engine::answers(h))
        .and_then(|h| unix_path(&h));
    let Some(target) = target else {
        require(
            "a Docker engine on a unix socket (cargo xtask provision)",
            false,
        );
        return None;
    };
    if std::os::unix::fs::symlink(&target, &default).is_err() {
        require("permission to create /var/run/docker.sock (root)", false);
        return None;
    }
    held.created = Some(default);
    assert!(engine::answers(&default_host));
    Some(held)
}

impl Drop for DefaultSocket {
    fn drop(&mut self) {
        if let Some(p) = self.created.take() {
            let _ = std::fs::remove_file(p);
        }
        let _ = std::fs::remove_dir_all(&self.lock);
    }
}

/// The docker CLI on the engine slipway chose (`DOCKER_HOST` set when it is not the default),
/// with a private client config under the temp dir (`config`), never the user's ~/.docker.
#[allow(dead_code)]
pub fn docker_cli(config: &str) -> Command {
    let mut c = Command::new(xtask::targets::docker::engine::client());
    if let Some(h) = xtask::targets::docker::engine::docker_host() {
        c.env("DOCKER_HOST", h);
    }
    c.env("DOCKER_CONFIG", std::env::temp_dir().join(config));
    c
}

/// Runs `docker` with `args`; panics with its stderr unless it succeeds; its stdout.
#[allow(dead_code)]
pub fn docker_output(mut docker: Command, args: &[&str]) -> String {
    let out = docker.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A tiny `FROM scratch` image holding `content` (for `platform`, else the engine's), built with
/// the legacy builder without network and pushed as `target`; its digest. `remove_local`: the
/// local name is removed again.
#[allow(dead_code)]
pub fn push_scratch_image(
    docker: &dyn Fn() -> Command,
    target: &str,
    platform: Option<&str>,
    content: &str,
    remove_local: bool,
) -> String {
    // One at a time in a test binary: for a `FROM scratch` step the engine's legacy builder
    // looks through every image without a parent for a cached one, and fails with "unable to
    // find image" when another test removes such an image meanwhile (seen in CI).
    static SCRATCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY note.txt /\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("note.txt"), content).unwrap();
    let mut build = docker();
    build
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "--network", "none", "--pull=false"]);
    if let Some(p) = platform {
        build.args(["--platform", p]);
    }
    let out = build.args(["-t", target]).arg(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = docker_output(docker(), &["push", target]);
    let tag = target.rsplit(':').next().unwrap();
    let digest = xtask::targets::docker::pushed_digest(&out, tag).expect("push digest");
    if remove_local {
        let _ = docker().args(["rmi", target]).output();
    }
    digest
}

/// A tiny HTTP receiver standing in for Slack and webhooks on 127.0.0.1: records every POST
/// (path and body), answers `status`.
#[allow(dead_code)]
pub struct Receiver {
    pub url: String,
    posts: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

#[allow(dead_code)]
impl Receiver {
    pub fn start(status: u16) -> Receiver {
        use std::io::{BufRead, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let posts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = posts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = std::io::BufReader::new(stream);
                let mut len = 0usize;
                let mut path = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if path.is_empty() {
                        path = line.split(' ').nth(1).unwrap_or("").to_string();
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                store
                    .lock()
                    .unwrap()
                    .push((path, String::from_utf8_lossy(&body).into_owned()));
                let _ = reader.get_mut().write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    )
                    .as_bytes(),
                );
            }
        });
        Receiver { url, posts }
    }

    /// Every POST so far: (path, body).
    pub fn posts(&self) -> Vec<(String, String)> {
        self.posts.lock().unwrap().clone()
    }

    /// Every POST body so far.
    pub fn bodies(&self) -> Vec<String> {
        self.posts().into_iter().map(|(_, b)| b).collect()
    }
}
