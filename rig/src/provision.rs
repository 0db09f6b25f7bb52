//! `cargo xtask provision`: what the end-to-end tests and `rehearse` need on this machine —
//! Debian packages (docker.io, docker-registry, gh, mmdebstrap…), a Docker daemon on a private
//! socket with no bridge network, the local base image (built once with mmdebstrap, cached with
//! `docker save`), and the Python venvs (tools, package index). Idempotent: every step checks
//! first and says whether it acted or skipped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use xtask::run::plan::{Action, Done, Plan, Process, RunContext, Step, Val};
use xtask::run::process::{self, Supervised};
use xtask::targets::docker::engine;
use xtask::targets::pypi::Venv;

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
    // The completion scripts `completions zsh|fish` prints are parsed by these shells in tests.
    "zsh",
    "fish",
    // A static busybox: the FROM scratch image (httpd + a wget HEALTHCHECK) of the docker tests.
    "busybox-static",
    // The `history --format html` page is rendered (DOM dump, screenshot) in headless Chromium.
    "chromium",
];

fn installed(pkg: &str) -> bool {
    process::output(&Process::new("dpkg-query", Path::new("/")).args(["-W", "-f=${Status}", pkg]))
        .is_ok_and(|o| o.stdout.contains("install ok installed"))
}

fn is_root() -> bool {
    process::output(&Process::new("id", Path::new("/")).args(["-u"]))
        .is_ok_and(|o| o.stdout.trim() == "0")
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
        if sudo && !process::succeeds(&Process::new("sudo", cx.root).args(["-n", "true"])) {
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
        xtask::run::exec::run_captured(&apt(&["update", "-qq"])).context("apt-get update")?;
        xtask::run::exec::run_captured(
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
            &engine::socket_host(),
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
        format!("docker daemon on {}", engine::socket_host())
    }
    fn detail(&self) -> Option<String> {
        Some(format!(
            "{}  (if none answers; log {})",
            Dockerd::process(Path::new("/")).command_line(),
            engine::LOG
        ))
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        // The engine choice every later step (and every rehearsal stage, every test) makes too:
        // DOCKER_HOST, else the first of ours and docker's default that answers a ping (a stale
        // socket file is not an engine).
        if engine::is_up() {
            let at = engine::docker_host()
                .unwrap_or_else(|| "the docker client's own default (its current context)".into());
            return Ok(Done::Skipped(format!("a Docker engine answers at {at}")));
        }
        if let Ok(h) = std::env::var("DOCKER_HOST") {
            if !h.is_empty() && h != engine::socket_host() {
                bail!(
                    "no Docker engine answers at DOCKER_HOST={h}: start it, or unset DOCKER_HOST \
                     (then slipway uses its own daemon on {}, starting it if need be)",
                    engine::socket_host()
                );
            }
        }
        let sock_host = engine::socket_host();
        let up = || engine::answers(&sock_host);
        if !Path::new("/usr/sbin/dockerd").exists() {
            bail!("/usr/sbin/dockerd is missing: apt-get install docker.io");
        }
        std::fs::create_dir_all("/run/slipway")?;
        std::fs::create_dir_all(engine::DATA_ROOT)?;
        std::fs::write("/run/slipway/daemon.json", "{}\n")?;
        // A socket file nobody answers on (a daemon that died) is in the way.
        let _ = std::fs::remove_file(engine::socket());
        let p = Dockerd::process(cx.root);
        let child = process::daemon(&p, Path::new(engine::LOG)).context("starting dockerd")?;
        let pid = child
            .pid()
            .context("dockerd started without a pid: see its log")?;
        // It outlives this step and this process (`ci` and `rehearse` stop it at the end): the
        // handle lives in a static, never dropped. It is kept so that a stop in this process
        // reaps it instead of waiting on a zombie.
        STARTED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(child);
        crate::services::wait_until("dockerd", Duration::from_secs(60), up).with_context(|| {
            let log = std::fs::read_to_string(engine::LOG).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            format!(
                "dockerd log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })?;
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
        Path::new(engine::CACHE).join(format!(
            "{}-r{BASE_RECIPE}.docker.tar",
            self.tag.replace([':', '/'], "_")
        ))
    }
}

/// The version of the base image's recipe ([`mmdebstrap`]): part of every cached file's name and
/// a label on the image, so a changed recipe rebuilds instead of reusing an old cache. Raise it
/// whenever the recipe changes. 2: merged /usr without the `usrmerge` package, which pulled in
/// perl (166 MB → about 115 MB, so every first push of a rehearsal moves a third less).
pub const BASE_RECIPE: &str = "2";

/// The label that carries [`BASE_RECIPE`] on a base image.
pub const RECIPE_LABEL: &str = "org.slipway.base-recipe";

/// The root file system tarball of the base image for `arch` in the cache.
pub fn rootfs_cache(arch: &str) -> PathBuf {
    Path::new(engine::CACHE).join(format!("rootfs-bookworm-{arch}-r{BASE_RECIPE}.tar"))
}

/// A minimal Debian bookworm root file system with python3, from the machine's apt sources, as
/// a tarball at `out` (`arch`: a foreign one, through qemu binfmt).
pub fn mmdebstrap(root: &Path, arch: Option<&str>, out: &Path) -> Process {
    Process::new("mmdebstrap", root)
        .args(arch.map(|a| format!("--arch={a}")))
        .args(["--variant=minbase", "--mode=root", "--include=python3"])
        // A merged /usr made by mmdebstrap's hook instead of the `usrmerge` package, which would
        // pull in all of perl (about 50 MB the image never uses).
        .args(["--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr"])
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
            "if absent: docker load {}, else mmdebstrap --variant=minbase --include=python3 (merged /usr, recipe {BASE_RECIPE}) bookworm from {} | docker import, then docker save",
            self.cache().display(),
            sources_file()
        ))
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let docker = || engine::docker(cx.root, None);
        // Also under its per-architecture name (`…-amd64`), so build args can name the base of
        // every platform as `slipway-base:bookworm-python-${TARGETARCH}`.
        let alias = format!("{}-amd64", self.tag);
        // Present means present with this recipe: an image of an older one is rebuilt.
        let has = |t: &str| {
            xtask::run::exec::run_captured(&docker().args([
                "image",
                "inspect",
                "--format",
                &format!("{{{{index .Config.Labels \"{RECIPE_LABEL}\"}}}}"),
                t,
            ]))
            .is_ok_and(|out| out.trim() == BASE_RECIPE)
        };
        if has(&self.tag) {
            if has(&alias) {
                return Ok(Done::Skipped("present in the engine".into()));
            }
            xtask::run::exec::run_captured(&docker().args(["tag", &self.tag, &alias]))?;
            return Ok(Done::Ran(format!("present; tagged {alias}")));
        }
        let cache = self.cache();
        if cache.exists() {
            xtask::run::exec::run_captured(
                &docker()
                    .args(["load", "-q", "-i"])
                    .args([cache.display().to_string()]),
            )?;
            xtask::run::exec::run_captured(&docker().args(["tag", &self.tag, &alias]))?;
            return Ok(Done::Ran(format!("loaded from {}", cache.display())));
        }
        std::fs::create_dir_all(engine::CACHE)?;
        let rootfs = rootfs_cache("amd64");
        if !rootfs.exists() {
            let tmp = rootfs.with_extension("tmp.tar");
            let mm = mmdebstrap(cx.root, None, &tmp);
            xtask::run::exec::run_captured(&mm)
                .context("mmdebstrap (building the base image's root file system)")?;
            std::fs::rename(&tmp, &rootfs)?;
        }
        xtask::run::exec::run_captured(
            &docker()
                .args([
                    "import",
                    "-c",
                    "CMD [\"python3\"]",
                    "-c",
                    "ENV LANG=C.UTF-8",
                    "-c",
                    &format!("LABEL {RECIPE_LABEL}={BASE_RECIPE}"),
                ])
                .args([rootfs.display().to_string(), self.tag.clone()]),
        )?;
        let tmp = cache.with_extension("tmp");
        xtask::run::exec::run_captured(
            &docker()
                .args(["save", "-o"])
                .args([tmp.display().to_string(), self.tag.clone()]),
        )?;
        std::fs::rename(&tmp, &cache)?;
        xtask::run::exec::run_captured(&docker().args(["tag", &self.tag, &alias]))?;
        Ok(Done::Ran(format!(
            "built with mmdebstrap and cached in {}",
            cache.display()
        )))
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
        plan.push(Step::Action(Box::new(crate::qemu::Binfmt {
            entry: "qemu-aarch64",
        })));
        plan.push(Step::Action(Box::new(crate::qemu::ForeignBase {
            platform: "linux/arm64".into(),
        })));
    }
    let _ = root;
    plan.push(Step::Action(Box::new(xtask::targets::pypi::EnsureVenv(
        Venv::in_dir(
            tools,
            "python-tools",
            xtask::targets::pypi::TOOL_REQUIREMENTS,
        ),
    ))));
    plan.push(Step::Action(Box::new(xtask::targets::pypi::EnsureVenv(
        Venv::in_dir(
            tools,
            "pypiserver",
            xtask::targets::pypi::SERVER_REQUIREMENTS,
        ),
    ))));
    plan.push(Step::Action(Box::new(xtask::targets::pypi::EnsureVenv(
        Venv::in_dir(tools, "zizmor", xtask::targets::pypi::ZIZMOR_REQUIREMENTS),
    ))));
    // The mail sink the notice tests send to.
    plan.push(Step::Action(Box::new(xtask::targets::pypi::EnsureVenv(
        Venv::in_dir(tools, "smtpd", crate::services::SMTPD_REQUIREMENTS),
    ))));
    // The quality gates' pinned tools (ruff, bandit, mypy).
    plan.push(Step::Action(Box::new(xtask::targets::pypi::EnsureVenv(
        Venv::in_dir(
            tools,
            "gate-tools",
            xtask::targets::gates::GATE_REQUIREMENTS,
        ),
    ))));
    plan
}

/// Daemons this process started (their handles, so that stopping one also reaps it).
static STARTED: std::sync::Mutex<Vec<Supervised>> = std::sync::Mutex::new(Vec::new());

/// What a provisioning run started, as `slipway-rig provision --started <file>` records it:
/// `{"dockerd": <pid> | null}`.
pub fn started_json(values: &std::collections::BTreeMap<String, String>) -> serde_json::Value {
    let pid = values
        .get("dockerd.started")
        .and_then(|p| p.parse::<u32>().ok());
    serde_json::json!({ "dockerd": pid })
}

/// Stops a daemon this run started (pid recorded by [`Dockerd`]).
pub fn stop_started(values: &std::collections::BTreeMap<String, String>) -> Result<Option<String>> {
    match values
        .get("dockerd.started")
        .and_then(|p| p.parse::<u32>().ok())
    {
        Some(pid) => stop_dockerd(pid).map(Some),
        None => Ok(None),
    }
}

/// Stops what a `--started` file records; says what it did.
pub fn stop_started_file(path: &Path) -> Result<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(format!(
                "{} does not exist: nothing was started",
                path.display()
            ))
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let said = match json["dockerd"].as_u64() {
        Some(pid) => stop_dockerd(pid as u32)?,
        None => "provisioning started no Docker daemon: nothing to stop".into(),
    };
    let _ = std::fs::remove_file(path);
    Ok(said)
}

/// SIGTERM to the dockerd with this pid (when it still is one), then waits until it has exited:
/// reaped when this process started it, else until `/proc` no longer lists it or lists it as a
/// zombie (it has exited; reaping it is its parent's business). SIGKILL after 20 s.
pub fn stop_dockerd(pid: u32) -> Result<String> {
    const GRACE: Duration = Duration::from_secs(20);
    let started = std::time::Instant::now();
    let own = {
        let mut list = STARTED.lock().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .position(|c| c.pid() == Some(pid))
            .map(|i| list.remove(i))
    };
    let stopped = match own {
        // Ours: SIGTERM, the grace, SIGKILL; reaped either way.
        Some(mut child) => child.terminate(GRACE).is_some(),
        None => {
            if !is_dockerd(pid) {
                return Ok(format!("pid {pid} is no dockerd any more: nothing to stop"));
            }
            process::signal(pid, "TERM");
            let stopped =
                crate::services::wait_until("dockerd to stop", GRACE, || has_exited(pid)).is_ok();
            if !stopped {
                process::signal(pid, "KILL");
            }
            stopped
        }
    };
    if !stopped {
        bail!(
            "dockerd (pid {pid}) did not stop within {} s of SIGTERM, so it was killed: see {}",
            GRACE.as_secs(),
            engine::LOG
        );
    }
    Ok(format!(
        "stopped dockerd (pid {pid}) in {}",
        xtask::run::ui::human_duration(started.elapsed())
    ))
}

/// Is `pid` a running dockerd (not a zombie, not another program that reused the pid)?
fn is_dockerd(pid: u32) -> bool {
    !has_exited(pid)
        && std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "dockerd")
}

/// The process is gone, or a zombie: it has exited either way.
pub fn has_exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S …`: the state follows the last `)` (comm may contain one).
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sleep 60` in the background, its output to a log in `dir`.
    fn sleeper(dir: &Path) -> Supervised {
        process::supervise(
            &Process::new("sleep", dir).args(["60"]),
            &dir.join("sleep.log"),
        )
        .unwrap()
    }

    #[test]
    fn a_zombie_counts_as_exited_and_a_reaped_child_too() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = sleeper(dir.path());
        let pid = child.pid().unwrap();
        assert!(!has_exited(pid));
        assert!(process::signal(pid, "TERM"));
        // Not reaped yet: a zombie, which has exited.
        wait_for(|| has_exited(pid));
        assert!(Path::new(&format!("/proc/{pid}")).exists(), "a zombie");
        child.stop(Duration::ZERO);
        assert!(has_exited(pid));
    }

    #[test]
    fn stopping_an_own_daemon_reaps_it_promptly() {
        // A stand-in for dockerd that exits on SIGTERM at once: the stop must not wait on the
        // zombie (it used to take 20 s).
        let dir = tempfile::tempdir().unwrap();
        let child = sleeper(dir.path());
        let pid = child.pid().unwrap();
        STARTED.lock().unwrap().push(child);
        let t = std::time::Instant::now();
        let said = stop_dockerd(pid).unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{said} took {:?}",
            t.elapsed()
        );
        assert!(
            said.starts_with(&format!("stopped dockerd (pid {pid})")),
            "{said}"
        );
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "reaped");
        assert!(STARTED.lock().unwrap().iter().all(|c| c.pid() != Some(pid)));
    }

    #[test]
    fn a_pid_that_is_no_dockerd_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = sleeper(dir.path());
        let said = stop_dockerd(child.pid().unwrap()).unwrap();
        assert!(said.contains("no dockerd"), "{said}");
        assert_eq!(child.exited(), None, "it was not signalled");
        child.stop(Duration::ZERO);
    }

    #[test]
    fn a_dockerd_that_is_no_child_of_ours_is_stopped_promptly_from_its_started_file() {
        // What `ci` and `rehearse` do: `slipway-rig provision` started dockerd and exited, so
        // dockerd is someone else's child (init's, which may never reap it), and
        // `slipway-rig stop-started` stops it. A program named dockerd that exits on SIGTERM.
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("dockerd");
        std::fs::copy("/bin/sleep", &fake).unwrap();
        // setsid --fork: the forking parent exits at once, so the fake is not our child. (Not
        // captured: the fake would hold the pipes open for its whole minute.)
        process::streamed(&Process::new("setsid", dir.path()).args([
            "--fork".to_string(),
            fake.display().to_string(),
            "60".into(),
        ]))
        .unwrap();
        let mut pid = None;
        wait_for(|| {
            pid = std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
                let p: u32 = e.file_name().to_str()?.parse().ok()?;
                let exe = std::fs::read_link(format!("/proc/{p}/exe")).ok()?;
                (exe == fake).then_some(p)
            });
            pid.is_some()
        });
        let pid = pid.unwrap();
        let started = dir.path().join("started.json");
        std::fs::write(&started, format!("{{\"dockerd\": {pid}}}\n")).unwrap();
        let t = std::time::Instant::now();
        let said = stop_started_file(&started).unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{said} took {:?}",
            t.elapsed()
        );
        assert!(
            said.starts_with(&format!("stopped dockerd (pid {pid})")),
            "{said}"
        );
        assert!(has_exited(pid));
        assert!(!started.exists());
        // Nothing recorded: nothing to do.
        assert!(stop_started_file(&started)
            .unwrap()
            .contains("does not exist"));
    }

    fn wait_for(mut f: impl FnMut() -> bool) {
        let t = std::time::Instant::now();
        while !f() {
            assert!(t.elapsed() < Duration::from_secs(5), "timed out");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
