//! Local services on loopback, started by slipway itself: the container registry (Debian's
//! `docker-registry`) and the package index (`pypiserver` in its own venv). Used by the
//! end-to-end tests and by `rehearse`; `cargo xtask ci` provisions the programs they need.
//!
//! Every service listens on 127.0.0.1 only, keeps its data, config and log in a directory it is
//! given, and is stopped when its handle is dropped.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use xtask::run::plan::{Process, Val};
use xtask::run::process::{self, Supervised};

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

/// This process's directory (a service's relative paths mean what they meant to its caller).
fn here() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

/// A background process we started ([`process::daemon`]: its own process group, output appended
/// to its log); stopped (SIGTERM, up to [`Daemon::GRACE`], then SIGKILL) and reaped when dropped.
pub struct Daemon {
    pub name: String,
    pub log: PathBuf,
    child: Supervised,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("name", &self.name)
            .field("log", &self.log)
            .field("pid", &self.pid())
            .finish()
    }
}

impl Daemon {
    /// How long a stop waits after SIGTERM before SIGKILL.
    pub const GRACE: Duration = Duration::from_secs(5);

    /// Starts `p` with its output appended to `log`, then waits until `ready`; on failure the
    /// error carries the last lines of the log.
    pub fn start(
        name: &str,
        p: &Process,
        log: &Path,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<Daemon> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {} for {name}'s log", dir.display()))?;
        }
        let child = process::daemon(p, log).with_context(|| format!("cannot start {name}"))?;
        let mut d = Daemon {
            name: name.into(),
            log: log.into(),
            child,
        };
        let started = Instant::now();
        loop {
            if ready() {
                // Waiting for a service to come up is time spent in that service.
                process::count_child_span(started, Instant::now());
                return Ok(d);
            }
            if let Some(code) = d.child.exited() {
                let status = code.map_or("a signal".to_string(), |c| format!("status {c}"));
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

    /// Its pid while it runs (None once stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.pid()
    }

    /// The last `n` lines of its log, secrets masked.
    pub fn log_tail(&self, n: usize) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        let lines: Vec<&str> = s.lines().collect();
        xtask::run::ui::redact(&lines[lines.len().saturating_sub(n)..].join("\n"))
    }

    /// SIGTERM, up to [`Daemon::GRACE`] to exit, then SIGKILL; reaped either way.
    pub fn stop(&mut self) {
        self.child.terminate(Self::GRACE);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// bcrypt htpasswd line via the system python3's `crypt` (libxcrypt does `$2b$`): no
/// apache2-utils, no PyPI. The password travels on stdin, never in argv.
///
/// Cost 4 (bcrypt's minimum; `mksalt`'s default is 12): the registry checks the password on
/// every request, and at cost 12 that is about a quarter of a second each — a `docker push`
/// makes dozens. A throwaway password on loopback needs no work factor.
pub fn bcrypt_htpasswd(user: &str, password: &str) -> Result<String> {
    xtask::run::ui::register_secret(password);
    let script = "import crypt, sys\npw = sys.stdin.read()\nprint('%s:%s' % (sys.argv[1], crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))))";
    let p = Process::new("python3", Path::new("/"))
        .args(["-W", "ignore", "-c", script, user])
        .stdin(Val::Secret(password.into()));
    let out = process::output(&p)
        .context("python3 is needed to write an htpasswd file: install python3")?;
    let line = out.stdout.trim().to_string();
    if !out.ok || !line.contains(":$2") {
        bail!(
            "could not hash the password with bcrypt (python3's crypt module, with libxcrypt): {}",
            out.tail(10)
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
        let p = Process::new(REGISTRY_BIN, &here()).args([
            "serve".to_string(),
            dir.join("config.yml").display().to_string(),
        ]);
        let url = format!("http://{addr}/v2/");
        let daemon = Daemon::start(
            "docker-registry",
            &p,
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
        let p = Process::new(&server.display().to_string(), &here())
            .args(["run", "-p", &port.to_string(), "-i", "127.0.0.1", "-P"])
            .args([dir.join("htpasswd").display().to_string()])
            .args(["-a", "update"])
            .args((!fallback).then_some("--disable-fallback"))
            .args([dir.join("packages").display().to_string()]);
        let url = format!("http://127.0.0.1:{port}/");
        let health = format!("{url}health");
        let daemon = Daemon::start(
            "pypiserver",
            &p,
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
        let p = Process::new("python3", dir.path()).args([
            "-c",
            "import sys; print('starting', flush=True); sys.stderr.write('fatal: no config\\n'); sys.exit(3)",
        ]);
        let err = Daemon::start(
            "demo",
            &p,
            &dir.path().join("logs/d.log"),
            Duration::from_secs(5),
            || false,
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("demo exited with status 3 while starting"),
            "{msg}"
        );
        assert!(msg.contains("starting\nfatal: no config"), "{msg}");
    }

    #[test]
    fn daemon_start_names_a_missing_program() {
        let dir = tempfile::tempdir().unwrap();
        let err = Daemon::start(
            "demo",
            &Process::new("definitely-not-here-xyz", dir.path()),
            &dir.path().join("d.log"),
            Duration::from_secs(5),
            || false,
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.starts_with(
                "cannot start demo: cannot run `definitely-not-here-xyz`: it is not installed"
            ),
            "{msg}"
        );
    }

    #[test]
    fn daemon_not_ready_is_stopped_and_its_log_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = Process::new("python3", dir.path()).args([
            "-c",
            "import time; print('listening soon', flush=True); time.sleep(60)",
        ]);
        let log = dir.path().join("d.log");
        let t = Instant::now();
        let err = Daemon::start("slow", &p, &log, Duration::from_millis(500), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("never"))
        })
        .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let msg = format!("{err:#}");
        assert!(msg.contains("slow was not ready after 0 s"), "{msg}");
        assert!(msg.contains("listening soon"), "{msg}");
    }

    #[test]
    fn daemon_is_stopped_with_term_and_reaped_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("s.log");
        let script = "import signal,sys,time\n\
                      def bye(*_):\n    print('got TERM', flush=True); sys.exit(0)\n\
                      signal.signal(signal.SIGTERM, bye)\n\
                      print('up', flush=True)\n\
                      time.sleep(60)";
        let d = Daemon::start(
            "sleeper",
            &Process::new("python3", dir.path()).args(["-c", script]),
            &log,
            Duration::from_secs(10),
            || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("up")),
        )
        .unwrap();
        let pid = d.pid().unwrap();
        let t = Instant::now();
        drop(d);
        assert!(
            t.elapsed() < Daemon::GRACE,
            "stopped by TERM, not by the grace"
        );
        assert!(std::fs::read_to_string(&log).unwrap().contains("got TERM"));
        // Reaped: not even a zombie is left.
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} still there"
        );
    }

    #[test]
    fn htpasswd_is_bcrypt_and_password_not_in_argv() {
        let line = bcrypt_htpasswd("ann", "s3cret-pw").unwrap();
        assert!(line.starts_with("ann:$2"), "{line}");
        assert!(!line.contains("s3cret-pw"));
        // And it checks out: python3's crypt verifies it against the password (on stdin again).
        let hash = line.split_once(':').unwrap().1;
        let verify =
            "import crypt,sys; h=sys.argv[1]; sys.exit(crypt.crypt(sys.stdin.read(), h) != h)";
        let check = Process::new("python3", Path::new("/"))
            .args(["-W", "ignore", "-c", verify, hash])
            .stdin(Val::Secret("s3cret-pw".into()));
        assert!(process::succeeds(&check));
    }

    #[test]
    fn which_finds_python3() {
        assert!(which("python3").is_some());
        assert!(which("definitely-not-here-xyz").is_none());
    }
}

/// Pins of the mail sink's venv (aiosmtpd and its dependencies).
pub const SMTPD_REQUIREMENTS: &str = "aiosmtpd==1.4.6\natpublic==9.0.0\nattrs==26.1.0\n";

/// The mail sink: aiosmtpd's `Controller` on 127.0.0.1, every message written to a file (the
/// envelope and whether the session authenticated first, then the message as received). With
/// credentials, AUTH (PLAIN/LOGIN, over plain TCP: loopback only) is required before MAIL.
const SMTPD_SCRIPT: &str = r#"import os, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out, port = sys.argv[1], int(sys.argv[2])
user = os.environ.get("SINK_USER") or None
password = os.environ.get("SINK_PASSWORD") or None
seq = [0]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        seq[0] += 1
        name = os.path.join(out, "%06d.eml" % seq[0])
        head = ("X-Sink-Mail-From: %s\r\nX-Sink-Rcpt-To: %s\r\nX-Sink-Auth: %s\r\n"
                "X-Sink-TLS: %s\r\n") % (
            envelope.mail_from, ",".join(envelope.rcpt_tos),
            "yes" if session.authenticated else "no",
            "yes" if session.ssl is not None else "no")
        with open(name + ".tmp", "wb") as f:
            f.write(head.encode())
            f.write(envelope.original_content)
        os.rename(name + ".tmp", name)
        return "250 Message accepted"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == user and auth_data.password.decode() == password)
    return AuthResult(success=ok, handled=False)

kw = {}
cert, key = os.environ.get("SINK_CERT"), os.environ.get("SINK_KEY")
if cert:
    import ssl
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kw.update(tls_context=ctx, require_starttls=True)
if user:
    kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(cert))
c = Controller(Handler(), hostname="127.0.0.1", port=port, **kw)
c.start()
print("mail sink on 127.0.0.1:%d" % port, flush=True)
while True:
    time.sleep(3600)
"#;

/// A local SMTP server that records every message it receives (see [`SMTPD_REQUIREMENTS`]).
#[derive(Debug)]
pub struct MailSink {
    pub port: u16,
    /// Where the messages are written (`000001.eml`, …).
    pub dir: PathBuf,
    daemon: Daemon,
}

impl MailSink {
    /// Starts the sink from the venv at `venv` (`Venv::in_dir(tools, "smtpd",
    /// SMTPD_REQUIREMENTS)`), keeping messages under `dir/mail`; with `auth`, AUTH is required.
    pub fn start(venv: &Path, dir: &Path, auth: Option<(&str, &str)>) -> Result<MailSink> {
        Self::start_with(venv, dir, auth, None)
    }

    /// [`MailSink::start`] with STARTTLS (`tls`: the certificate chain and key, PEM files):
    /// then required before MAIL, and AUTH only after it.
    pub fn start_with(
        venv: &Path,
        dir: &Path,
        auth: Option<(&str, &str)>,
        tls: Option<(&Path, &Path)>,
    ) -> Result<MailSink> {
        let python = venv.join("bin/python");
        if !python.exists() {
            bail!(
                "{} is missing: the mail sink's venv is not provisioned (cargo xtask provision \
                 does it)",
                python.display()
            );
        }
        let port = free_port()?;
        let mail = dir.join("mail");
        std::fs::create_dir_all(&mail)?;
        let script = dir.join("smtpd.py");
        std::fs::write(&script, SMTPD_SCRIPT)?;
        let mut p = Process::new(&python.display().to_string(), &here())
            .args([script.display().to_string(), mail.display().to_string()])
            .args([port.to_string()]);
        if let Some((user, password)) = auth {
            xtask::run::ui::register_secret(password);
            p.env.push(("SINK_USER".into(), Val::Plain(user.into())));
            p.env
                .push(("SINK_PASSWORD".into(), Val::Secret(password.into())));
        }
        if let Some((cert, key)) = tls {
            p.env
                .push(("SINK_CERT".into(), Val::Plain(cert.display().to_string())));
            p.env
                .push(("SINK_KEY".into(), Val::Plain(key.display().to_string())));
        }
        let addr = format!("127.0.0.1:{port}");
        let daemon = Daemon::start(
            "the mail sink (aiosmtpd)",
            &p,
            &dir.join("smtpd.log"),
            Duration::from_secs(30),
            || tcp_open(&addr),
        )?;
        Ok(MailSink {
            port,
            dir: mail,
            daemon,
        })
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, in order.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    pub fn stop(&mut self) {
        self.daemon.stop();
    }
}
