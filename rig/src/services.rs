//! Local services on loopback, started by slipway itself: the container registry (Debian's
//! `docker-registry`) and the package index (`pypiserver` in its own venv). Used by the
//! end-to-end tests and by `rehearse`; `cargo xtask ci` provisions the programs they need.
//!
//! Every service listens on 127.0.0.1 only, keeps its data, config and log in a directory it is
//! given, and is stopped when its handle is dropped.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests on one machine).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("no free port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

/// Polls `ready` every 50 ms until it is true or `timeout` passes.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} was not ready after {} s", timeout.as_secs())
}

pub fn tcp_open(addr: &str) -> bool {
    addr.parse::<SocketAddr>()
        .ok()
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok())
}

/// The HTTP status of a GET, without any proxy (loopback only); None when nothing answers.
pub fn http_status(url: &str) -> Option<u16> {
    xtask::run::net::agent(url, Duration::from_secs(5))
        .get(url)
        .call()
        .ok()
        .map(|r| r.status().as_u16())
}

/// A background process we started; stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Daemon {
    pub name: String,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    /// Starts `cmd` with its output appended to `log`, then waits until `ready`; on failure the
    /// error carries the last lines of the log.
    pub fn start(
        name: &str,
        mut cmd: Command,
        log: &Path,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<Daemon> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0); // not killed by a Ctrl-C meant for the caller's step
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        let mut d = Daemon {
            name: name.into(),
            log: log.into(),
            child: Some(child),
        };
        let started = Instant::now();
        loop {
            if ready() {
                // Waiting for a service to come up is time spent in that service.
                xtask::run::exec::count_child_span(started, Instant::now());
                return Ok(d);
            }
            if let Some(status) = d.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!(
                    "{name} exited with {status} while starting; its log ({}):\n{}",
                    log.display(),
                    d.log_tail(15)
                );
            }
            if started.elapsed() > timeout {
                let tail = d.log_tail(15);
                d.stop();
                bail!(
                    "{name} was not ready after {} s; its log ({}):\n{tail}",
                    timeout.as_secs(),
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_tail(&self, n: usize) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGTERM, up to 5 s to exit, then SIGKILL.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// bcrypt htpasswd line via the system python3's `crypt` (libxcrypt does `$2b$`): no
/// apache2-utils, no PyPI. The password travels on stdin, never in argv.
pub fn bcrypt_htpasswd(user: &str, password: &str) -> Result<String> {
    let script = "import crypt, sys\npw = sys.stdin.read()\nprint('%s:%s' % (sys.argv[1], crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH))))";
    let mut child = Command::new("python3")
        .args(["-W", "ignore", "-c", script, user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("python3 is needed to write an htpasswd file")?;
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(password.as_bytes())?;
    let out = child.wait_with_output()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !line.contains(":$2") {
        bail!(
            "could not hash the password with bcrypt: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(line)
}

/// Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, optionally with htpasswd auth.
#[derive(Debug)]
pub struct Registry {
    /// `127.0.0.1:<port>`, usable as an image name prefix.
    pub addr: String,
    pub credentials: Option<(String, String)>,
    pub dir: PathBuf,
    daemon: Daemon,
}

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

impl Registry {
    /// Starts a registry keeping its data under `dir`.
    pub fn start(dir: &Path, credentials: Option<(&str, &str)>) -> Result<Registry> {
        Self::start_on(dir, credentials, free_port()?)
    }

    /// Starts (or restarts, keeping the data) a registry on a given port.
    pub fn start_on(dir: &Path, credentials: Option<(&str, &str)>, port: u16) -> Result<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            bail!("{REGISTRY_BIN} is missing: `apt-get install docker-registry` (cargo xtask ci does it)");
        }
        std::fs::create_dir_all(dir.join("data"))?;
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog: {{level: info, accesslog: {{disabled: true}}}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: {addr}\n  secret: slipway-local-registry\n",
            dir.join("data").display()
        );
        if let Some((user, password)) = credentials {
            xtask::run::ui::register_secret(password);
            std::fs::write(
                dir.join("htpasswd"),
                bcrypt_htpasswd(user, password)? + "\n",
            )?;
            config.push_str(&format!(
                "auth:\n  htpasswd: {{realm: slipway, path: {}}}\n",
                dir.join("htpasswd").display()
            ));
        }
        std::fs::write(dir.join("config.yml"), config)?;
        let mut cmd = Command::new(REGISTRY_BIN);
        cmd.arg("serve").arg(dir.join("config.yml"));
        let url = format!("http://{addr}/v2/");
        let daemon = Daemon::start(
            "docker-registry",
            cmd,
            &dir.join("registry.log"),
            Duration::from_secs(20),
            || matches!(http_status(&url), Some(200 | 401)),
        )?;
        Ok(Registry {
            addr,
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            dir: dir.into(),
            daemon,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// Stops the registry (its data stays): to test a registry that goes away mid-release.
    pub fn stop(&mut self) {
        self.daemon.stop();
    }
}

/// Pins of the package index's venv (bcrypt 5 breaks passlib at import).
pub const PYPISERVER_REQUIREMENTS: &str = "pypiserver==2.4.2\npasslib==1.7.4\nbcrypt==4.0.1\n";

/// `pypiserver` on 127.0.0.1 with htpasswd upload auth and no fallback to the public index
/// (or, with [`PackageIndex::start_with_fallback`], with pypiserver's default: a missing project
/// is redirected to `https://pypi.org/simple/<name>/`).
#[derive(Debug)]
pub struct PackageIndex {
    /// `http://127.0.0.1:<port>/`: the upload URL (twine `--repository-url`).
    pub url: String,
    pub user: String,
    pub password: String,
    pub dir: PathBuf,
    daemon: Daemon,
}

impl PackageIndex {
    /// The simple API (`<url>simple/`) that pip and verification read.
    pub fn simple_url(&self) -> String {
        format!("{}simple/", self.url)
    }

    /// Starts pypiserver from the venv at `venv` (see [`xtask::targets::pypi::Venv::ensure`]).
    pub fn start(venv: &Path, dir: &Path, user: &str, password: &str) -> Result<PackageIndex> {
        Self::start_on(venv, dir, user, password, free_port()?)
    }

    /// As pypiserver runs by default: a project it lacks is redirected to the public index.
    pub fn start_with_fallback(
        venv: &Path,
        dir: &Path,
        user: &str,
        password: &str,
    ) -> Result<PackageIndex> {
        Self::start_opts(venv, dir, user, password, free_port()?, true)
    }

    pub fn start_on(
        venv: &Path,
        dir: &Path,
        user: &str,
        password: &str,
        port: u16,
    ) -> Result<PackageIndex> {
        Self::start_opts(venv, dir, user, password, port, false)
    }

    fn start_opts(
        venv: &Path,
        dir: &Path,
        user: &str,
        password: &str,
        port: u16,
        fallback: bool,
    ) -> Result<PackageIndex> {
        let server = venv.join("bin/pypi-server");
        if !server.exists() {
            bail!(
                "{} is missing: the package index venv is not provisioned (cargo xtask ci does it)",
                server.display()
            );
        }
        xtask::run::ui::register_secret(password);
        std::fs::create_dir_all(dir.join("packages"))?;
        std::fs::write(
            dir.join("htpasswd"),
            bcrypt_htpasswd(user, password)? + "\n",
        )?;
        let mut cmd = Command::new(&server);
        cmd.args(["run", "-p", &port.to_string(), "-i", "127.0.0.1", "-P"])
            .arg(dir.join("htpasswd"))
            .args(["-a", "update"]);
        if !fallback {
            cmd.arg("--disable-fallback");
        }
        cmd.arg(dir.join("packages"));
        let url = format!("http://127.0.0.1:{port}/");
        let health = format!("{url}health");
        let daemon = Daemon::start(
            "pypiserver",
            cmd,
            &dir.join("pypiserver.log"),
            Duration::from_secs(30),
            || http_status(&health) == Some(200),
        )?;
        Ok(PackageIndex {
            url,
            user: user.into(),
            password: password.into(),
            dir: dir.into(),
            daemon,
        })
    }

    pub fn stop(&mut self) {
        self.daemon.stop();
    }
}

/// Errors that name what to do when a service program is missing.
pub fn require_program(path: &str, install: &str) -> Result<()> {
    if Path::new(path).exists() || which(path).is_some() {
        Ok(())
    } else {
        Err(anyhow!("`{path}` is not installed: {install}"))
    }
}

pub use xtask::run::process::which;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_bindable() {
        // A released port can be taken by a test running in parallel before we bind it again
        // ("good enough on one machine"): one of a few tries must succeed.
        let ok = (0..5).any(|_| {
            let p = free_port().unwrap();
            p > 0 && TcpListener::bind(("127.0.0.1", p)).is_ok()
        });
        assert!(ok, "no port from free_port() could be bound again");
    }

    #[test]
    fn daemon_start_reports_the_log_when_it_dies() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo starting; echo 'fatal: no config' >&2; exit 3"]);
        let err = Daemon::start(
            "demo",
            cmd,
            &dir.path().join("d.log"),
            Duration::from_secs(5),
            || false,
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("demo exited with exit status: 3"), "{msg}");
        assert!(msg.contains("fatal: no config"), "{msg}");
    }

    #[test]
    fn daemon_is_stopped_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        let d = Daemon::start(
            "sleeper",
            cmd,
            &dir.path().join("s.log"),
            Duration::from_secs(5),
            || true,
        )
        .unwrap();
        let pid = d.pid().unwrap();
        drop(d);
        let alive = Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(!alive, "pid {pid} still alive");
    }

    #[test]
    fn htpasswd_is_bcrypt_and_password_not_in_argv() {
        let line = bcrypt_htpasswd("ann", "s3cret-pw").unwrap();
        assert!(line.starts_with("ann:$2"), "{line}");
        assert!(!line.contains("s3cret-pw"));
    }

    #[test]
    fn which_finds_sh() {
        assert!(which("sh").is_some());
        assert!(which("definitely-not-here-xyz").is_none());
    }
}
