//! `slipway-rig up`: every local service a rehearsal needs, supervised by one process — two
//! docker-registry instances (one with htpasswd auth), pypiserver and the GitHub stand-in, on
//! 127.0.0.1 ports the caller chose (so its plan can name them). When all of them answer, their
//! addresses (no credentials) are written as JSON to the state file. It then runs until its stdin
//! closes (the caller exited or let go) or it gets SIGTERM/SIGINT; then it stops everything it
//! started, reaps every child and removes the state file. `--keep-running` ignores stdin (for
//! `rehearse --keep`: stop it with `kill <pid>`).
//!
//! The passwords come from the environment (`SLIPWAY_RIG_REGISTRY_PASSWORD`,
//! `SLIPWAY_RIG_INDEX_PASSWORD`), never from argv; the user of both is [`USER`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde_json::json;

use crate::services::{PackageIndex, Registry};
use crate::standin::Standin;

/// The user of the authenticated registry and of the package index.
pub const USER: &str = "rehearsal";
pub const REGISTRY_PASSWORD_ENV: &str = "SLIPWAY_RIG_REGISTRY_PASSWORD";
pub const INDEX_PASSWORD_ENV: &str = "SLIPWAY_RIG_INDEX_PASSWORD";

#[derive(Debug, Clone)]
pub struct Options {
    pub state: PathBuf,
    /// Data, config and logs of the services.
    pub dir: PathBuf,
    /// The shared tool venvs (pypiserver's).
    pub tools: PathBuf,
    pub registry_port: u16,
    pub auth_registry_port: u16,
    pub index_port: u16,
    pub github_port: u16,
    pub spec: PathBuf,
    pub keep_running: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn secret_env(name: &str) -> Result<String> {
    let v = std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| anyhow!("{name} is not set (the password travels in the environment)"))?;
    xtask::run::ui::register_secret(&v);
    Ok(v)
}

pub fn run(o: &Options) -> Result<()> {
    let registry_password = secret_env(REGISTRY_PASSWORD_ENV)?;
    let index_password = secret_env(INDEX_PASSWORD_ENV)?;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    std::fs::create_dir_all(&o.dir)?;
    let cwd = std::env::current_dir()?;
    // Started in order; on any failure the ones already up are dropped (stopped and reaped).
    let plain = Registry::start_on(&o.dir.join("registry-plain"), None, o.registry_port)
        .context("starting the registry without auth")?;
    let auth = Registry::start_on(
        &o.dir.join("registry-auth"),
        Some((USER, &registry_password)),
        o.auth_registry_port,
    )
    .context("starting the registry with htpasswd auth")?;
    let server = xtask::targets::pypi::Venv::in_dir(
        &o.tools,
        "pypiserver",
        xtask::targets::pypi::SERVER_REQUIREMENTS,
    );
    server.ensure(&cwd)?;
    let index = PackageIndex::start_on(
        &server.dir,
        &o.dir.join("index"),
        USER,
        &index_password,
        o.index_port,
    )
    .context("starting pypiserver")?;
    let standin = Standin::start_on(&format!("127.0.0.1:{}", o.github_port), &o.spec)
        .context("starting the GitHub stand-in")?;
    let state = json!({
        "schema": "slipway.rig-up/1",
        "pid": std::process::id(),
        "registries": [plain.addr, auth.addr],
        "registry_user": USER,
        "index": {"url": index.url, "simple_url": index.simple_url(), "user": USER},
        "github": standin.url(),
        "logs": {
            "registries": [plain.dir.join("registry.log"), auth.dir.join("registry.log")],
            "index": index.dir.join("pypiserver.log"),
        },
    });
    write_atomic(&o.state, &serde_json::to_string_pretty(&state)?)?;
    eprintln!(
        "slipway-rig up: registries {} and {} (user {USER}), index {}, GitHub stand-in {}; state in {}",
        plain.addr,
        auth.addr,
        index.url,
        standin.url(),
        o.state.display()
    );
    if !o.keep_running {
        // The caller holds our stdin: when it closes (the caller is done, or died), stop.
        std::thread::spawn(|| {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            STOP.store(true, Ordering::SeqCst);
        });
    }
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(&o.state);
    standin.stop();
    drop((plain, auth, index)); // each: SIGTERM, wait (reaped), SIGKILL after 5 s
    eprintln!("slipway-rig up: stopped every service");
    Ok(())
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
