//! Where the Docker engine is and which client talks to it.
//!
//! `DOCKER_HOST` wins when set. Otherwise slipway's own daemon (started by `cargo xtask provision`
//! on a private socket, with no bridge network: containers get only their own loopback) is used
//! when it is up, else docker's default. The client is Debian's `/usr/bin/docker` when present
//! (its BuildKit works with the 20.10 daemon without buildx), else `docker` on PATH. Every docker
//! process also gets a private `DOCKER_CONFIG` unless one is set, so slipway never writes the
//! user's `~/.docker`.

use std::path::{Path, PathBuf};

use crate::run::plan::{Process, Val};

/// Socket of the daemon `cargo xtask provision` starts.
pub const SOCKET: &str = "/run/slipway/docker.sock";
/// Its data root, pid file and log.
pub const DATA_ROOT: &str = "/var/lib/slipway/docker";
pub const EXEC_ROOT: &str = "/run/slipway/docker-exec";
pub const PIDFILE: &str = "/run/slipway/dockerd.pid";
pub const LOG: &str = "/var/log/slipway-dockerd.log";
/// Cache of base images (`docker save`), kept across checkouts on this machine.
pub const CACHE: &str = "/var/cache/slipway";
/// The local base image with python3 (mmdebstrap + `docker import`); no image can be pulled here.
pub const BASE_IMAGE: &str = "slipway-base:bookworm-python";

/// The `DOCKER_HOST` to use, if any (None: docker's default socket).
pub fn docker_host() -> Option<String> {
    if let Some(h) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        return Some(h);
    }
    Path::new(SOCKET)
        .exists()
        .then(|| format!("unix://{SOCKET}"))
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
pub fn is_up() -> bool {
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    crate::run::process::succeeds(&docker(&cwd, None).args([
        "info",
        "--format",
        "{{.ServerVersion}}",
    ]))
}
