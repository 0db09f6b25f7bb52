//! Where the Docker engine is and which client talks to it.
//!
//! **One engine choice, made the same way everywhere** (the tool, provisioning, every rehearsal
//! stage, the tests): `DOCKER_HOST` when set (the user's explicit choice: used even when it does
//! not answer, so the error names it); otherwise the first socket that *answers* a `GET /_ping`
//! — slipway's own daemon ([`socket`], started by `cargo xtask provision` on a private socket,
//! with no bridge network: containers get only their own loopback), then docker's default
//! ([`DEFAULT_SOCKET`]). A socket file nobody answers on (a daemon that died) is not an engine.
//! When nothing answers, provisioning starts slipway's own on [`socket`], which is therefore the
//! engine a plan made before provisioning names ([`planned_host`]).
//!
//! The client is Debian's `/usr/bin/docker` when present (its BuildKit works with the 20.10
//! daemon without buildx), else `docker` on PATH. Every docker process also gets a private
//! `DOCKER_CONFIG` unless one is set, so slipway never writes the user's `~/.docker`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::run::plan::{Process, Val};

/// Socket of the daemon `cargo xtask provision` starts (see [`socket`]).
pub const SOCKET: &str = "/run/slipway/docker.sock";
/// Docker's own default socket.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// Overrides [`SOCKET`] (tests simulate a machine where slipway's daemon is not running).
pub const SOCKET_ENV: &str = "SLIPWAY_DOCKER_SOCKET";
/// Its data root, pid file and log.
pub const DATA_ROOT: &str = "/var/lib/slipway/docker";
pub const EXEC_ROOT: &str = "/run/slipway/docker-exec";
pub const PIDFILE: &str = "/run/slipway/dockerd.pid";
pub const LOG: &str = "/var/log/slipway-dockerd.log";
/// Cache of base images (`docker save`), kept across checkouts on this machine.
pub const CACHE: &str = "/var/cache/slipway";
/// The local base image with python3 (mmdebstrap + `docker import`); no image can be pulled here.
pub const BASE_IMAGE: &str = "slipway-base:bookworm-python";

/// The socket of slipway's own daemon: `$SLIPWAY_DOCKER_SOCKET`, else [`SOCKET`].
pub fn socket() -> String {
    std::env::var(SOCKET_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| SOCKET.to_string())
}

/// `unix://` + [`socket`].
pub fn socket_host() -> String {
    format!("unix://{}", socket())
}

/// Does a Docker engine answer at `host` (`unix://…` or `tcp://…`)? A `GET /_ping` that answers
/// `200 OK` within a second. Other schemes (`ssh://`, …) cannot be pinged here: assumed to.
pub fn answers(host: &str) -> bool {
    const PING: &[u8] = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    let timeout = Duration::from_secs(1);
    fn ok(mut s: impl Read + Write) -> bool {
        if s.write_all(PING).is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while got.len() < 12 {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        got.starts_with(b"HTTP/1.0 200") || got.starts_with(b"HTTP/1.1 200")
    }
    if let Some(path) = host.strip_prefix("unix://") {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(timeout));
                let _ = s.set_write_timeout(Some(timeout));
                ok(s)
            }
            Err(_) => false,
        }
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        use std::net::ToSocketAddrs;
        let addr = addr.trim_end_matches('/');
        let Some(a) = addr.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
            return false;
        };
        match std::net::TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(timeout));
                let _ = s.set_write_timeout(Some(timeout));
                ok(s)
            }
            Err(_) => false,
        }
    } else {
        true
    }
}

/// The pure choice: `DOCKER_HOST` when set, else the first candidate that answers.
pub fn choose(
    docker_host: Option<&str>,
    candidates: &[String],
    answers: impl Fn(&str) -> bool,
) -> Option<String> {
    if let Some(h) = docker_host.filter(|h| !h.is_empty()) {
        return Some(h.to_string());
    }
    candidates.iter().find(|c| answers(c)).cloned()
}

/// The engine found answering (kept for the rest of the process; a miss is asked again, since
/// provisioning may start one).
static CHOSEN: Mutex<Option<String>> = Mutex::new(None);

/// The `DOCKER_HOST` of this run: `DOCKER_HOST` itself, else the first of slipway's socket and
/// docker's default that answers; None when nothing answers.
pub fn docker_host() -> Option<String> {
    if let Some(h) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        return Some(h);
    }
    let mut chosen = CHOSEN.lock().unwrap_or_else(|e| e.into_inner());
    if chosen.is_none() {
        *chosen = choose(
            None,
            &[socket_host(), format!("unix://{DEFAULT_SOCKET}")],
            answers,
        );
    }
    chosen.clone()
}

/// The engine a plan made before provisioning names: [`docker_host`], else slipway's own socket
/// (where provisioning starts a daemon when none answers).
pub fn planned_host() -> String {
    docker_host().unwrap_or_else(socket_host)
}

/// The docker client program: `SLIPWAY_DOCKER` when set (another client, or a wrapper that
/// times every call, as `bench/docker.sh` does), else Debian's, else `docker` on PATH.
pub fn client() -> String {
    if let Some(c) = std::env::var("SLIPWAY_DOCKER")
        .ok()
        .filter(|c| !c.is_empty())
    {
        return c;
    }
    if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker".into()
    } else {
        "docker".into()
    }
}

/// A docker command for the engine: `DOCKER_HOST` and the client config set explicitly so the
/// plan shows exactly which engine it talks to.
pub fn docker(cwd: &Path, config_dir: Option<&Path>) -> Process {
    let mut p = Process::new(&client(), cwd);
    if let Some(h) = docker_host() {
        p = p.env("DOCKER_HOST", Val::Plain(h));
    }
    if let Some(c) = config_dir {
        p = p.env("DOCKER_CONFIG", Val::Plain(c.display().to_string()));
    }
    p
}

/// A private client config directory under `work` (logins go there, not to `~/.docker`).
pub fn private_config(work: &Path) -> PathBuf {
    work.join("docker-config")
}

/// Does a daemon answer?
///
/// Without any answering socket the client is still asked with its own default (a docker
/// context of the user's, say rootless docker's), as docker commands are then run.
pub fn is_up() -> bool {
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    crate::run::process::succeeds(&docker(&cwd, None).args([
        "info",
        "--format",
        "{{.ServerVersion}}",
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_wins_then_the_first_socket_that_answers() {
        let c = ["unix:///ours".to_string(), "unix:///default".to_string()];
        assert_eq!(
            choose(Some("tcp://h:1"), &c, |_| false).as_deref(),
            Some("tcp://h:1")
        );
        assert_eq!(
            choose(Some(""), &c, |h| h == "unix:///default").as_deref(),
            Some("unix:///default")
        );
        assert_eq!(choose(None, &c, |_| true).as_deref(), Some("unix:///ours"));
        assert_eq!(choose(None, &c, |_| false), None);
    }

    #[test]
    fn a_socket_file_nobody_answers_on_is_not_an_engine() {
        let dir = tempfile_dir();
        let path = dir.join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        assert!(!answers(&format!("unix://{}", path.display())));
        assert!(!answers("unix:///nonexistent/docker.sock"));

        // One that answers the ping.
        let live = dir.join("live.sock");
        let l = std::os::unix::net::UnixListener::bind(&live).unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
                .unwrap();
        });
        assert!(answers(&format!("unix://{}", live.display())));
        t.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("slipway-engine-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
