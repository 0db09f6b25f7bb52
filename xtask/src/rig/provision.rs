//! `cargo xtask provision`: what the end-to-end tests and `rehearse` need on this machine —
//! Debian packages (docker.io, docker-registry, gh, mmdebstrap…), a Docker daemon on a private
//! socket with no bridge network, the local base image (built once with mmdebstrap, cached with
//! `docker save`), and the Python venvs (tools, package index). Idempotent: every step checks
//! first and says whether it acted or skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::run::plan::{Action, Done, Plan, Process, RunContext, Step, Val};
use crate::targets::docker::engine;
use crate::targets::pypi::Venv;

/// Debian packages the services need.
pub const PACKAGES: &[&str] = &[
    "docker.io",
    "docker-registry",
    "gh",
    "mmdebstrap",
    "arch-test",
    "qemu-user-static",
    "binfmt-support",
    // Tests trace every spawned argv with it to prove that no secret is ever passed there.
    "strace",
];

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `apt-get install` of the packages that are missing.
#[derive(Debug)]
pub struct Apt {
    pub packages: Vec<&'static str>,
}

impl Action for Apt {
    fn header(&self) -> String {
        format!("apt packages: {}", self.packages.join(" "))
    }
    fn detail(&self) -> Option<String> {
        Some("apt-get -o DPkg::Lock::Timeout=900 update -qq && apt-get install -y -qq --no-install-recommends <missing>".into())
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let missing: Vec<&str> = self
            .packages
            .iter()
            .copied()
            .filter(|p| !installed(p))
            .collect();
        if missing.is_empty() {
            return Ok(Done::Skipped("all installed".into()));
        }
        // As root, or through passwordless sudo (CI runners); otherwise one clear error.
        let sudo = !is_root();
        if sudo
            && !Command::new("sudo")
                .args(["-n", "true"])
                .status()
                .is_ok_and(|s| s.success())
        {
            bail!(
                "missing Debian packages: {}; install them as root: apt-get install {}",
                missing.join(" "),
                missing.join(" ")
            );
        }
        let apt = |args: &[&str]| {
            let program = if sudo { "sudo" } else { "apt-get" };
            let pre: &[&str] = if sudo { &["-n", "-E", "apt-get"] } else { &[] };
            Process::new(program, cx.root)
                .args(pre.iter().copied())
                .args(["-o", "DPkg::Lock::Timeout=900"])
                .args(args.iter().copied())
                .env("DEBIAN_FRONTEND", Val::Plain("noninteractive".into()))
        };
        crate::run::exec::run_captured(&apt(&["update", "-qq"])).context("apt-get update")?;
        crate::run::exec::run_captured(
            &apt(&["install", "-y", "-qq", "--no-install-recommends"])
                .args(missing.iter().copied()),
        )
        .context("apt-get install")?;
        Ok(Done::Ran(format!("installed {}", missing.join(" "))))
    }
}

/// A Docker daemon on slipway's private socket: no bridge (containers only have their own
/// loopback), no iptables changes. Records the pid it started as `dockerd.started`.
#[derive(Debug)]
pub struct Dockerd;

impl Dockerd {
    fn process(root: &Path) -> Process {
        let storage =
            if std::fs::read_to_string("/proc/filesystems").is_ok_and(|f| f.contains("overlay")) {
                "overlay2"
            } else {
                "vfs"
            };
        Process::new("/usr/sbin/dockerd", root).args([
            "--host",
            &format!("unix://{}", engine::SOCKET),
            "--data-root",
            engine::DATA_ROOT,
            "--exec-root",
            engine::EXEC_ROOT,
            "--pidfile",
            engine::PIDFILE,
            "--config-file",
            "/run/slipway/daemon.json",
            "--storage-driver",
            storage,
            "--bridge=none",
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--log-level=warn",
        ])
    }
}

impl Action for Dockerd {
    fn header(&self) -> String {
        format!("docker daemon on unix://{}", engine::SOCKET)
    }
    fn detail(&self) -> Option<String> {
        Some(format!(
            "{}  (if none answers; log {})",
            Dockerd::process(Path::new("/")).command_line(),
            engine::LOG
        ))
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        // Any engine that already answers will do: DOCKER_HOST, ours, or docker's default.
        if engine::is_up() {
            let at = engine::docker_host().unwrap_or_else(|| "docker's default socket".into());
            return Ok(Done::Skipped(format!("a Docker engine answers at {at}")));
        }
        let sock_host = format!("unix://{}", engine::SOCKET);
        let up = || {
            Command::new(engine::client())
                .env("DOCKER_HOST", &sock_host)
                .args(["info", "--format", "{{.ServerVersion}}"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if up() {
            return Ok(Done::Skipped(
                "a daemon already answers on the socket".into(),
            ));
        }
        if !Path::new("/usr/sbin/dockerd").exists() {
            bail!("/usr/sbin/dockerd is missing: apt-get install docker.io");
        }
        std::fs::create_dir_all("/run/slipway")?;
        std::fs::create_dir_all(engine::DATA_ROOT)?;
        std::fs::write("/run/slipway/daemon.json", "{}\n")?;
        let _ = std::fs::remove_file(engine::SOCKET);
        let p = Dockerd::process(cx.root);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(engine::LOG)?;
        let mut cmd = Command::new(&p.program);
        cmd.args(&p.args)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let child = cmd.spawn().context("starting dockerd")?;
        let pid = child.id();
        std::mem::forget(child); // it outlives this step; `ci` stops it at the end
        crate::rig::services::wait_until("dockerd", Duration::from_secs(60), up).with_context(
            || {
                let log = std::fs::read_to_string(engine::LOG).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(10).collect();
                format!(
                    "dockerd log:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            },
        )?;
        cx.set("dockerd.started", pid.to_string());
        Ok(Done::Ran(format!("started dockerd (pid {pid})")))
    }
}

/// The local base image: present, or loaded from the cache, or built (mmdebstrap minbase +
/// python3 from the machine's apt sources, `docker import`) and saved to the cache.
#[derive(Debug)]
pub struct BaseImage {
    pub tag: String,
}

impl BaseImage {
    fn cache(&self) -> PathBuf {
        Path::new(engine::CACHE).join(format!("{}.docker.tar", self.tag.replace([':', '/'], "_")))
    }
}

/// A minimal Debian bookworm root file system with python3, from the machine's apt sources, as
/// a tarball at `out` (`arch`: a foreign one, through qemu binfmt).
pub fn mmdebstrap(root: &Path, arch: Option<&str>, out: &Path) -> Process {
    Process::new("mmdebstrap", root)
        .args(arch.map(|a| format!("--arch={a}")))
        .args(["--variant=minbase", "--mode=root", "--include=python3"])
        .args([
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
        ])
        .args([
            "bookworm".to_string(),
            out.display().to_string(),
            sources_file().to_string(),
        ])
        // mmdebstrap reads sources from stdin when stdin is not a terminal: give it none.
        .stdin(Val::Plain(String::new()))
}

fn sources_file() -> &'static str {
    [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .unwrap_or("/etc/apt/sources.list")
}

impl Action for BaseImage {
    fn header(&self) -> String {
        format!("base image {}", self.tag)
    }
    fn detail(&self) -> Option<String> {
        Some(format!(
            "if absent: docker load {}, else mmdebstrap --variant=minbase --include=python3 bookworm from {} | docker import, then docker save",
            self.cache().display(),
            sources_file()
        ))
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let docker = || engine::docker(cx.root, None);
        // Also under its per-architecture name (`…-amd64`), so build args can name the base of
        // every platform as `slipway-base:bookworm-python-${TARGETARCH}`.
        let alias = format!("{}-amd64", self.tag);
        let has = |t: &str| {
            crate::run::exec::run_captured(
                &docker().args(["image", "inspect", "--format", "{{.Id}}", t]),
            )
            .is_ok()
        };
        if has(&self.tag) {
            if has(&alias) {
                return Ok(Done::Skipped("present in the engine".into()));
            }
            crate::run::exec::run_captured(&docker().args(["tag", &self.tag, &alias]))?;
            return Ok(Done::Ran(format!("present; tagged {alias}")));
        }
        let cache = self.cache();
        if cache.exists() {
            crate::run::exec::run_captured(
                &docker()
                    .args(["load", "-q", "-i"])
                    .args([cache.display().to_string()]),
            )?;
            crate::run::exec::run_captured(&docker().args(["tag", &self.tag, &alias]))?;
            return Ok(Done::Ran(format!("loaded from {}", cache.display())));
        }
        std::fs::create_dir_all(engine::CACHE)?;
        let rootfs = Path::new(engine::CACHE).join("rootfs-bookworm-amd64.tar");
        if !rootfs.exists() {
            let tmp = rootfs.with_extension("tmp.tar");
            let mm = mmdebstrap(cx.root, None, &tmp);
            crate::run::exec::run_captured(&mm)
                .context("mmdebstrap (building the base image's root file system)")?;
            std::fs::rename(&tmp, &rootfs)?;
        }
        crate::run::exec::run_captured(
            &docker()
                .args([
                    "import",
                    "-c",
                    "CMD [\"python3\"]",
                    "-c",
                    "ENV LANG=C.UTF-8",
                ])
                .args([rootfs.display().to_string(), self.tag.clone()]),
        )?;
        let tmp = cache.with_extension("tmp");
        crate::run::exec::run_captured(
            &docker()
                .args(["save", "-o"])
                .args([tmp.display().to_string(), self.tag.clone()]),
        )?;
        std::fs::rename(&tmp, &cache)?;
        crate::run::exec::run_captured(&docker().args(["tag", &self.tag, &alias]))?;
        Ok(Done::Ran(format!(
            "built with mmdebstrap and cached in {}",
            cache.display()
        )))
    }
}

/// A pinned venv (tools, package index).
#[derive(Debug)]
pub struct EnsureVenv(pub Venv);

impl Action for EnsureVenv {
    fn header(&self) -> String {
        format!("python venv {}", self.0.dir.display())
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        if self.0.is_ready() {
            return Ok(Done::Skipped("ready".into()));
        }
        self.0.ensure(cx.root)?;
        Ok(Done::Ran("created with pinned requirements".into()))
    }
}

/// The provisioning plan.
pub fn plan(root: &Path, tools: &Path) -> Plan {
    let mut plan = Plan::default();
    plan.push(Step::Action(Box::new(Apt {
        packages: PACKAGES.to_vec(),
    })));
    plan.push(Step::Action(Box::new(Dockerd)));
    plan.push(Step::Action(Box::new(BaseImage {
        tag: engine::BASE_IMAGE.into(),
    })));
    if std::env::var("SLIPWAY_ARM64").is_ok_and(|v| v == "1") {
        // Opt-in: qemu for arm64 (machine-wide) and the arm64 base image (~3 min to build once).
        plan.push(Step::Action(Box::new(crate::rig::qemu::Binfmt {
            entry: "qemu-aarch64",
        })));
        plan.push(Step::Action(Box::new(crate::rig::qemu::ForeignBase {
            platform: "linux/arm64".into(),
        })));
    }
    let _ = root;
    plan.push(Step::Action(Box::new(EnsureVenv(Venv::in_dir(
        tools,
        "python-tools",
        crate::targets::pypi::TOOL_REQUIREMENTS,
    )))));
    plan.push(Step::Action(Box::new(EnsureVenv(Venv::in_dir(
        tools,
        "pypiserver",
        crate::targets::pypi::SERVER_REQUIREMENTS,
    )))));
    plan.push(Step::Action(Box::new(EnsureVenv(Venv::in_dir(
        tools,
        "zizmor",
        crate::targets::pypi::ZIZMOR_REQUIREMENTS,
    )))));
    plan
}

/// Stops a daemon this run started (pid recorded by [`Dockerd`]).
pub fn stop_started(values: &std::collections::BTreeMap<String, String>) {
    if let Some(pid) = values.get("dockerd.started") {
        let _ = Command::new("kill").args(["-TERM", pid]).status();
        let _ =
            crate::rig::services::wait_until("dockerd to stop", Duration::from_secs(20), || {
                !Command::new("kill")
                    .args(["-0", pid])
                    .status()
                    .is_ok_and(|s| s.success())
            });
    }
}
