//! The Docker image target: build the image once from the wheel of the release, validate it in a
//! container with no network, push every planned tag to every registry (registries in parallel,
//! every tag checked against the registry first), and verify through the registry API.
//!
//! - **No hidden pulls.** `docker build` gets `--pull=false` (its `--pull` is a boolean "always
//!   pull"; there is no `never`). The Dockerfile's `FROM` lines are resolved (ARGs from the
//!   configured build-args, per platform): a base named by a build-arg must already be in the
//!   engine with the right platform — otherwise a problem reported before anything runs; the
//!   Dockerfile's own default bases are pulled, for the platform, as a visible part of the build
//!   step when the engine lacks them. `docker run` gets `--pull=never`. Builds and containers
//!   get `--network none`.
//! - **Identity is the image ID.** An image manifest's `config.digest` is the image ID, whatever
//!   the layer compression: a tag "already holds this build" when its config digest is the image
//!   ID that was built (per platform for an index). The manifest digest that docker pushed is
//!   what every tag must then resolve to (`verify`).
//! - **Build once.** The image of a commit is recorded in `target/slipway/docker/builds.json`
//!   (keyed by commit, Dockerfile, build-args, labels, wheel hashes, platform); a re-run reuses
//!   it while the engine still has it, so a publish that failed half-way pushes the same image.
//! - **Containers never outlive validation.** See [`Validate`].

pub mod engine;
pub mod registry;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value as Json};

use crate::core::dockertags::{self, PlannedTag, TagKind, TagPolicy};
use crate::facts::config::{DockerConfig, HealthConfig};
use crate::run::plan::{Action, Done, Process, RunContext, Step, Val};
use crate::targets::publish::{Facts, Gathered, TargetPlan};
use crate::Problems;
use registry::Repo;

/// Label on every validation container; its value is the pid of the slipway process that owns it.
pub const VALIDATE_LABEL: &str = "slipway.validate";
/// Label carrying the PEP 440 rendering of the version (next to the OCI labels).
pub const PEP440_LABEL: &str = "dev.slipway.version.pep440";

/// The RunContext key of the image ID built for `platform`.
pub fn image_key(platform: &str) -> String {
    format!("docker.image.{platform}")
}

/// The RunContext key of the manifest digest every tag on `registry` must resolve to.
pub fn digest_key(registry: &str) -> String {
    format!("docker.digest.{registry}")
}

// ---------------------------------------------------------------------------------------------
// Platforms

/// `linux/arm64/v8` → ("linux", "arm64", Some("v8")).
pub fn platform_parts(p: &str) -> (&str, &str, Option<&str>) {
    let mut it = p.split('/');
    let os = it.next().unwrap_or("linux");
    let arch = it.next().unwrap_or("");
    (os, arch, it.next().filter(|v| !v.is_empty()))
}

/// A tag-safe name: `linux/amd64` → `amd64`, `linux/arm/v7` → `arm-v7`.
pub fn platform_slug(p: &str) -> String {
    let (_, arch, variant) = platform_parts(p);
    match variant {
        Some(v) => format!("{arch}-{v}"),
        None => arch.to_string(),
    }
}

/// The same platform? `linux/arm64` and `linux/arm64/v8` are (v8 is arm64's only variant).
pub fn same_platform(a: &str, b: &str) -> bool {
    let norm = |p: &str| {
        let (os, arch, variant) = platform_parts(p);
        let variant = match (arch, variant) {
            ("arm64", Some("v8")) => None,
            (_, v) => v,
        };
        (
            os.to_string(),
            arch.to_string(),
            variant.map(str::to_string),
        )
    };
    norm(a) == norm(b)
}

/// This machine's platform in Docker's terms.
pub fn native_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    format!("linux/{arch}")
}

/// The qemu binfmt entry that runs `platform`'s binaries here (None: native, nothing needed).
fn binfmt_entry(platform: &str) -> Option<&'static str> {
    let (_, arch, _) = platform_parts(platform);
    if same_platform(platform, &native_platform()) {
        return None;
    }
    Some(match arch {
        "arm64" => "qemu-aarch64",
        "arm" => "qemu-arm",
        "amd64" => "qemu-x86_64",
        "386" => "qemu-i386",
        "ppc64le" => "qemu-ppc64le",
        "s390x" => "qemu-s390x",
        "riscv64" => "qemu-riscv64",
        _ => "qemu-unknown",
    })
}

/// Replaces `${TARGETPLATFORM}`, `${TARGETOS}`, `${TARGETARCH}`, `${TARGETVARIANT}` in a
/// configured build-arg value, so each platform can name its own base image.
pub fn substitute_platform(value: &str, platform: &str) -> String {
    let (os, arch, variant) = platform_parts(platform);
    value
        .replace("${TARGETPLATFORM}", platform)
        .replace("${TARGETOS}", os)
        .replace("${TARGETARCH}", arch)
        .replace("${TARGETVARIANT}", variant.unwrap_or(""))
}

// ---------------------------------------------------------------------------------------------
// Dockerfile: which images the build starts from

/// The images the Dockerfile's `FROM` lines start from, with variables resolved from `args`
/// (build-args) and the `ARG` defaults declared before the first `FROM`. `scratch` and earlier
/// stage names are left out. Errors name the line.
pub fn from_images(dockerfile: &str, args: &[(String, String)]) -> Result<Vec<String>, String> {
    Ok(from_images_by_source(dockerfile, args)?
        .into_iter()
        .map(|(image, _)| image)
        .collect())
}

/// [`from_images`], each with whether a configured build-arg names it (`FROM ${BASE_IMAGE}` with
/// BASE_IMAGE given): those must be in the engine; the others (the Dockerfile's own defaults)
/// are pulled, as a visible part of the build step, when absent.
pub fn from_images_by_source(
    dockerfile: &str,
    args: &[(String, String)],
) -> Result<Vec<(String, bool)>, String> {
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (i, raw) in dockerfile.lines().enumerate() {
        let line = raw.trim_end();
        if current.is_empty() {
            let t = line.trim_start();
            if t.starts_with('#') || t.is_empty() {
                continue;
            }
            start = i + 1;
        } else if line.trim_start().starts_with('#') {
            continue; // comment lines inside a continuation are dropped by docker too
        }
        match line.strip_suffix('\\') {
            Some(l) => {
                current.push_str(l);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                logical.push((start, std::mem::take(&mut current)));
            }
        }
    }
    if !current.is_empty() {
        logical.push((start, current));
    }
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut from_args: Vec<String> = Vec::new();
    let mut seen_from = false;
    let mut stages: Vec<String> = Vec::new();
    let mut images = Vec::new();
    for (line_no, text) in logical {
        let mut words = text.split_whitespace();
        let Some(instr) = words.next() else { continue };
        match instr.to_ascii_uppercase().as_str() {
            "ARG" if !seen_from => {
                for decl in words {
                    let (name, default) = match decl.split_once('=') {
                        Some((n, d)) => (n, Some(d.trim_matches('"').to_string())),
                        None => (decl, None),
                    };
                    let given = args.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                    if given.is_some() {
                        from_args.push(name.to_string());
                    }
                    if let Some(v) = given.or(default) {
                        vars.insert(name.to_string(), v);
                    }
                }
            }
            "FROM" => {
                seen_from = true;
                let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
                let Some(image) = rest.first() else {
                    return Err(format!("line {line_no}: FROM without an image"));
                };
                let configured = var_names(image).iter().any(|n| from_args.contains(n));
                let image = expand(image, &vars)
                    .map_err(|v| format!("line {line_no}: FROM {image}: ${v} has no value (give it as a build-arg, or a default in `ARG {v}=…` before the first FROM)"))?;
                if rest.len() >= 3 && rest[1].eq_ignore_ascii_case("as") {
                    stages.push(rest[2].to_ascii_lowercase());
                }
                if image != "scratch"
                    && !stages[..stages.len().saturating_sub(usize::from(rest.len() >= 3))]
                        .contains(&image.to_ascii_lowercase())
                    && !images.iter().any(|(i, _)| *i == image)
                {
                    images.push((image, configured));
                }
            }
            _ => {}
        }
    }
    Ok(images)
}

/// The variables a word refers to (`$A`, `${B}`, `${C:-x}`).
fn var_names(s: &str) -> Vec<String> {
    s.split('$')
        .skip(1)
        .map(|part| {
            part.trim_start_matches('{')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// `$VAR`, `${VAR}`, `${VAR:-default}`; Err(name) when a variable has no value.
fn expand(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, default, used) = if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| after.to_string())?;
            let inner = &body[..end];
            match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d), end + 2),
                None => (inner, None, end + 2),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], None, end)
        };
        match vars.get(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(v),
            None => match default {
                Some(d) => out.push_str(d),
                None => return Err(name.to_string()),
            },
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The image of a release

/// Everything that defines the image of one release; shared by every docker step.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub root: PathBuf,
    pub work: PathBuf,
    /// Repository path under each registry (`acme/app`).
    pub image: String,
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub platforms: Vec<String>,
    /// Configured build-args (values may use `${TARGETARCH}` etc.), then `DIST`.
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    /// The exact Docker tag (`v1.3.0-rc.1`).
    pub exact_tag: String,
    pub pep440: String,
    pub commit: String,
    pub dist_dir: PathBuf,
    pub health: HealthConfig,
}

impl ImageSpec {
    /// The spec for `facts` and `docker`, building `platforms`; problems (the wheel directory
    /// outside the build context, a malformed platform) are recorded.
    pub fn new(
        facts: &Facts,
        docker: &DockerConfig,
        platforms: Vec<String>,
        problems: &mut Problems,
    ) -> ImageSpec {
        let cfg = &facts.cfg;
        let context = cfg.root.join(&docker.context);
        let dist_dir = facts.dist_dir();
        let dist_rel = match dist_dir.strip_prefix(&context) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => {
                problems.failure(format!(
                    "the wheel directory {} is outside the docker build context {}: the image cannot COPY it; \
                     unset CARGO_TARGET_DIR (or point it inside the repository), or widen `context`",
                    dist_dir.display(),
                    context.display()
                ));
                String::new()
            }
        };
        for p in &platforms {
            let (os, arch, _) = platform_parts(p);
            if os != "linux" || arch.is_empty() {
                problems.invalid(format!(
                    "platform `{p}` must look like linux/amd64 or linux/arm64"
                ));
            }
        }
        let mut build_args = docker.build_args.clone();
        build_args.retain(|(k, _)| k != "DIST");
        build_args.push(("DIST".into(), dist_rel));
        let mut labels = vec![
            (
                "org.opencontainers.image.version".to_string(),
                facts.version.to_string(),
            ),
            (
                "org.opencontainers.image.revision".to_string(),
                facts.commit.clone(),
            ),
            (
                "org.opencontainers.image.created".to_string(),
                rfc3339(facts.commit_time),
            ),
        ];
        if let Some(url) = crate::cmd::changelog::repo_url(cfg) {
            labels.push(("org.opencontainers.image.source".into(), url));
        }
        if !facts.package.is_empty() {
            labels.push((
                "org.opencontainers.image.title".into(),
                facts.package.clone(),
            ));
        }
        labels.push((PEP440_LABEL.into(), facts.pep440()));
        ImageSpec {
            root: cfg.root.clone(),
            work: facts.work.clone(),
            image: docker.image.clone(),
            dockerfile: cfg.root.join(&docker.dockerfile),
            context,
            platforms,
            build_args,
            labels,
            exact_tag: dockertags::exact_tag(&cfg.tag_prefix, &facts.version),
            pep440: facts.pep440(),
            commit: facts.commit.clone(),
            dist_dir,
            health: docker.health.clone(),
        }
    }

    pub fn multi(&self) -> bool {
        self.platforms.len() > 1
    }

    /// The build-args for one platform (`${TARGETARCH}` & co. substituted).
    pub fn args_for(&self, platform: &str) -> Vec<(String, String)> {
        self.build_args
            .iter()
            .map(|(k, v)| (k.clone(), substitute_platform(v, platform)))
            .collect()
    }

    /// The local name of the built image: `localhost/<image>:<tag>[-<arch>]` (a loopback name:
    /// nothing could ever resolve it to Docker Hub).
    pub fn local_name(&self, platform: &str) -> String {
        if self.multi() {
            format!(
                "localhost/{}:{}-{}",
                self.image,
                self.exact_tag,
                platform_slug(platform)
            )
        } else {
            format!("localhost/{}:{}", self.image, self.exact_tag)
        }
    }

    /// The per-architecture tag pushed for a multi-platform index (`v1.3.0-arm64`).
    pub fn arch_tag(&self, platform: &str) -> String {
        format!("{}-{}", self.exact_tag, platform_slug(platform))
    }

    fn docker(&self) -> Process {
        // Builds and containers need no credentials: always the private client config, so the
        // user's ~/.docker is never written.
        engine::docker(&self.root, Some(&engine::private_config(&self.work)))
    }

    fn iidfile(&self, platform: &str) -> PathBuf {
        self.work
            .join("docker")
            .join(format!("{}.iid", platform_slug(platform)))
    }

    pub fn build_process(&self, platform: &str) -> Process {
        let mut p = self
            .docker()
            .env("DOCKER_BUILDKIT", Val::Plain("0".into()))
            .args(["build", "--network", "none", "--pull=false", "--platform"])
            .args([platform.to_string()])
            .args(["-f".to_string(), self.dockerfile.display().to_string()])
            .args([
                "--iidfile".to_string(),
                self.iidfile(platform).display().to_string(),
            ]);
        for (k, v) in self.args_for(platform) {
            p = p.args(["--build-arg".to_string(), format!("{k}={v}")]);
        }
        for (k, v) in &self.labels {
            p = p.args(["--label".to_string(), format!("{k}={v}")]);
        }
        p.args([
            "-t".to_string(),
            self.local_name(platform),
            self.context.display().to_string(),
        ])
    }
}

/// `2026-11-21T00:00:00Z`.
pub fn rfc3339(epoch: i64) -> String {
    let secs = epoch.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        crate::core::date::ymd(epoch),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

// ---------------------------------------------------------------------------------------------
// Problems found before anything runs

fn push_once(problems: &mut Problems, msg: String) {
    if !problems.list.contains(&msg) {
        problems.failure(msg);
    }
}

/// Reads `docker image inspect`: the platform of a local image, None when it is absent.
fn local_platform(spec: &ImageSpec, image: &str) -> Option<String> {
    let p = spec.docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}",
        image,
    ]);
    crate::run::exec::run_captured(&p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The docker client, a daemon that answers, the Dockerfile and the base images its build-args
/// name (present in the engine, for the right platform), qemu for foreign platforms.
pub fn check(spec: &ImageSpec, problems: &mut Problems) {
    let client = engine::client();
    if crate::rig::services::which(&client).is_none() {
        push_once(
            problems,
            format!(
                "the docker client `{client}` is not installed: install docker.io (Debian) or Docker Engine \
                 (`cargo xtask provision` does it here)"
            ),
        );
        return;
    }
    if !engine::is_up() {
        let host = engine::docker_host().unwrap_or_else(|| "docker's default socket".into());
        push_once(
            problems,
            format!(
                "no Docker engine answers at {host}: start one (`cargo xtask provision` starts slipway's own on \
                 unix://{}), or set DOCKER_HOST",
                engine::SOCKET
            ),
        );
        return;
    }
    let dockerfile = match std::fs::read_to_string(&spec.dockerfile) {
        Ok(d) => d,
        Err(_) => {
            problems.failure(format!(
                "the Dockerfile {} does not exist: set `dockerfile` in [workspace.metadata.release.docker]",
                spec.dockerfile.display()
            ));
            return;
        }
    };
    if !spec.context.is_dir() {
        problems.failure(format!(
            "the docker build context {} is not a directory: set `context` in [workspace.metadata.release.docker]",
            spec.context.display()
        ));
    }
    for platform in &spec.platforms {
        if let Some(entry) = binfmt_entry(platform) {
            let path = Path::new("/proc/sys/fs/binfmt_misc").join(entry);
            let enabled = std::fs::read_to_string(&path).is_ok_and(|s| s.starts_with("enabled"));
            if !enabled {
                push_once(problems, format!(
                    "building {platform} on this {} machine needs qemu binfmt ({entry}), which is not enabled: \
                     `SLIPWAY_ARM64=1 cargo xtask provision`, or apt-get install qemu-user-static binfmt-support \
                     && update-binfmts --enable {entry}",
                    native_platform()
                ));
            }
        }
        let images = match from_images_by_source(&dockerfile, &spec.args_for(platform)) {
            Ok(i) => i,
            Err(e) => {
                push_once(
                    problems,
                    format!("{}: {e}", rel(&spec.root, &spec.dockerfile)),
                );
                continue;
            }
        };
        for (image, configured) in images {
            if !configured {
                continue; // the Dockerfile's own base: pulled by the build step when absent
            }
            match local_platform(spec, &image) {
                None => push_once(problems, format!(
                    "the base image {image} ({platform}), named by the build-args, is not in the Docker engine: {}",
                    base_image_fix(&image, platform)
                )),
                Some(have) if !same_platform(&have, platform) => push_once(problems, format!(
                    "the base image {image} is {have}, but {platform} is being built: give each platform its own base \
                     image with a build-arg such as BASE_IMAGE = \"{}-${{TARGETARCH}}\" (slipway substitutes \
                     ${{TARGETARCH}} per platform)",
                    image.split(':').next().unwrap_or(&image),
                )),
                Some(_) => {}
            }
        }
    }
}

fn base_image_fix(image: &str, platform: &str) -> String {
    if image == engine::BASE_IMAGE || image == format!("{}-amd64", engine::BASE_IMAGE) {
        format!("run `cargo xtask provision` (it builds {}, and tags it -amd64 too with SLIPWAY_ARM64=1)", engine::BASE_IMAGE)
    } else if image.starts_with(engine::BASE_IMAGE) {
        format!(
            "run `SLIPWAY_ARM64=1 cargo xtask provision` (builds {} for {platform} with mmdebstrap under qemu, about 3 minutes once, then cached)",
            image
        )
    } else {
        format!("`docker pull --platform {platform} {image}` first, or point the build-arg at a local image")
    }
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Registry credentials from the environment; the password shows as `***`, also in `{:?}`.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    pub password: Val,
}

impl Login {
    fn pair(&self) -> (String, String) {
        (self.user.clone(), self.password.reveal().to_string())
    }
}

/// `DOCKER_USERNAME`/`DOCKER_PASSWORD` from the environment: both or neither (then the logins
/// already in the user's docker config are used). The password is registered for redaction.
pub fn credentials_from_env(problems: &mut Problems) -> Option<Login> {
    let user = std::env::var("DOCKER_USERNAME")
        .ok()
        .filter(|u| !u.is_empty());
    let password = crate::targets::publish::secret_env("DOCKER_PASSWORD");
    match (user, password) {
        (Some(user), Some(p)) => Some(Login {
            user,
            password: Val::Secret(p),
        }),
        (Some(_), None) => {
            problems.failure(
                "DOCKER_USERNAME is set but DOCKER_PASSWORD is not: set both, or neither to use the logins in \
                 your docker config",
            );
            None
        }
        (None, Some(_)) => {
            problems.failure(
                "DOCKER_PASSWORD is set but DOCKER_USERNAME is not: set both, or neither to use the logins in \
                 your docker config",
            );
            None
        }
        (None, None) => None,
    }
}

/// Registry credentials for the HTTP API: the environment's, else what the docker config
/// (`DOCKER_CONFIG` or `~/.docker`) holds for `registry` (an `auths` entry or a credential
/// helper); None: anonymous.
pub fn registry_credentials(registry: &str, env: &Option<Login>) -> Option<(String, String)> {
    if let Some(login) = env {
        return Some(login.pair());
    }
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let cfg: Json = serde_json::from_str(&text).ok()?;
    let helper = cfg["credHelpers"][registry]
        .as_str()
        .or_else(|| cfg["credsStore"].as_str());
    if let Some(helper) = helper {
        let mut child = Command::new(format!("docker-credential-{helper}"))
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        child.stdin.take()?.write_all(registry.as_bytes()).ok()?;
        let out = child.wait_with_output().ok()?;
        let j: Json = serde_json::from_slice(&out.stdout).ok()?;
        let (u, s) = (j["Username"].as_str()?, j["Secret"].as_str()?);
        crate::run::ui::register_secret(s);
        return Some((u.to_string(), s.to_string()));
    }
    let auth = cfg["auths"][registry]["auth"].as_str()?;
    let decoded = String::from_utf8(base64_decode(auth)?).ok()?;
    let (u, p) = decoded.split_once(':')?;
    crate::run::ui::register_secret(p);
    crate::run::ui::register_secret(auth);
    Some((u.to_string(), p.to_string()))
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()) {
        let v = A.iter().position(|a| *a == c)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Build

/// Builds the image for every platform, once: a build of the same inputs recorded earlier is
/// reused while the engine still has the image. Sets `docker.image.<platform>`.
#[derive(Debug)]
pub struct BuildImage {
    pub spec: ImageSpec,
    /// (platform, image) of the Dockerfile's own bases (not named by build-args): pulled for
    /// that platform when the engine lacks them.
    pub pulls: Vec<(String, String)>,
}

const BUILD_RECORD: &str = "builds.json";

impl BuildImage {
    pub fn new(spec: &ImageSpec) -> BuildImage {
        let dockerfile = std::fs::read_to_string(&spec.dockerfile).unwrap_or_default();
        let mut pulls = Vec::new();
        for p in &spec.platforms {
            for (image, configured) in
                from_images_by_source(&dockerfile, &spec.args_for(p)).unwrap_or_default()
            {
                if !configured {
                    pulls.push((p.clone(), image));
                }
            }
        }
        BuildImage {
            spec: spec.clone(),
            pulls,
        }
    }

    fn pull_process(&self, platform: &str, image: &str) -> Process {
        self.spec
            .docker()
            .args(["pull", "--platform", platform, image])
    }

    /// Pulls the Dockerfile's own bases for `platform` that the engine lacks (or has for another
    /// platform); returns what it pulled.
    fn pull_bases(&self, platform: &str) -> Result<Vec<String>> {
        let mut pulled = Vec::new();
        for (p, image) in self.pulls.iter().filter(|(p, _)| p == platform) {
            if local_platform(&self.spec, image).is_some_and(|have| same_platform(&have, p)) {
                continue;
            }
            crate::run::exec::run_captured(&self.pull_process(p, image))
                .with_context(|| format!("pulling the base image {image} for {p}"))?;
            pulled.push(format!("pulled {image} ({p})"));
        }
        Ok(pulled)
    }

    fn record_path(&self) -> PathBuf {
        self.spec.work.join("docker").join(BUILD_RECORD)
    }

    /// What makes two builds the same: commit, Dockerfile, args, labels, wheels, platform.
    fn key(&self, platform: &str) -> Result<String> {
        let s = &self.spec;
        let dockerfile = std::fs::read(&s.dockerfile)
            .with_context(|| format!("cannot read {}", s.dockerfile.display()))?;
        let wheels: Vec<String> = crate::targets::pypi::local_dists(&s.dist_dir)?
            .into_iter()
            .filter(|(n, _, _)| n.ends_with(".whl"))
            .map(|(n, _, sha)| format!("{n}={sha}"))
            .collect();
        if wheels.is_empty() {
            bail!(
                "no wheel in {}: the image installs the wheel of the release",
                s.dist_dir.display()
            );
        }
        let text = json!({
            "commit": s.commit, "platform": platform,
            "dockerfile": crate::core::sha256::digest_hex(&dockerfile),
            "args": s.args_for(platform), "labels": s.labels, "wheels": wheels,
            "context": s.context, "tag": s.local_name(platform),
        })
        .to_string();
        Ok(crate::core::sha256::digest_hex(text.as_bytes()))
    }

    fn records(&self) -> serde_json::Map<String, Json> {
        std::fs::read_to_string(self.record_path())
            .ok()
            .and_then(|t| serde_json::from_str::<Json>(&t).ok())
            .and_then(|j| j.as_object().cloned())
            .unwrap_or_default()
    }
}

impl Action for BuildImage {
    fn header(&self) -> String {
        format!(
            "build image {}:{} for {} ({})",
            self.spec.image,
            self.spec.exact_tag,
            self.spec.platforms.join(", "),
            if self.pulls.is_empty() {
                "no network, no pull"
            } else {
                "no network; the Dockerfile's own base is pulled when absent"
            }
        )
    }
    fn detail(&self) -> Option<String> {
        let mut lines: Vec<String> = self
            .spec
            .platforms
            .iter()
            .map(|p| self.spec.build_process(p).command_line())
            .collect();
        for (p, image) in &self.pulls {
            lines.push(format!(
                "first, if the engine lacks {image} for {p}: {}",
                self.pull_process(p, image).command_line()
            ));
        }
        lines.push(format!(
            "skipped when this commit's build (same Dockerfile, args, wheel) is recorded in {} and still in the engine",
            rel(&self.spec.root, &self.record_path())
        ));
        Some(lines.join("\n"))
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        std::fs::create_dir_all(self.spec.work.join("docker"))?;
        let mut records = self.records();
        let mut built = Vec::new();
        let mut reused = Vec::new();
        let mut pulled: Vec<String> = Vec::new();
        for platform in &self.spec.platforms {
            let key = self.key(platform)?;
            let earlier = records
                .get(&key)
                .and_then(|r| r["image"].as_str())
                .map(str::to_string);
            if let Some(id) = earlier {
                let present = crate::run::exec::run_captured(
                    &self
                        .spec
                        .docker()
                        .args(["image", "inspect", "--format", "{{.Id}}", &id]),
                )
                .is_ok_and(|out| out.trim() == id);
                if present {
                    // Keep the local name on the image (a later build may have taken it).
                    let _ = crate::run::exec::run_captured(&self.spec.docker().args([
                        "tag",
                        &id,
                        &self.spec.local_name(platform),
                    ]));
                    reused.push(format!("{platform} {id}"));
                    cx.set(&image_key(platform), id);
                    continue;
                }
            }
            pulled.extend(self.pull_bases(platform)?);
            let iid = self.spec.iidfile(platform);
            let _ = std::fs::remove_file(&iid);
            crate::run::exec::run_captured(&self.spec.build_process(platform))
                .with_context(|| format!("docker build for {platform}"))?;
            let id = std::fs::read_to_string(&iid)
                .with_context(|| format!("docker build wrote no image ID to {}", iid.display()))?
                .trim()
                .to_string();
            records.insert(
                key,
                json!({"image": id, "platform": platform, "commit": self.spec.commit, "name": self.spec.local_name(platform)}),
            );
            crate::run::exec::write_atomic(
                &self.record_path(),
                &serde_json::to_string_pretty(&Json::Object(records.clone()))?,
            )?;
            built.push(format!(
                "{platform} {id} ({})",
                self.spec.local_name(platform)
            ));
            cx.set(&image_key(platform), id);
        }
        let short = &self.spec.commit[..self.spec.commit.len().min(7)];
        if built.is_empty() {
            return Ok(Done::Skipped(format!(
                "built earlier from {short}, still in the engine: {}",
                reused.join(", ")
            )));
        }
        let mut what = format!("built {}", built.join(", "));
        if !pulled.is_empty() {
            what = format!("{}; {what}", pulled.join(", "));
        }
        if !reused.is_empty() {
            what.push_str(&format!("; built earlier: {}", reused.join(", ")));
        }
        Ok(Done::Ran(what))
    }
    fn json(&self) -> Json {
        json!({"platforms": self.spec.platforms, "labels": self.spec.labels, "build_args": self.spec.build_args})
    }
}

// ---------------------------------------------------------------------------------------------
// Validate

/// The probe run inside the container: GET each path on 127.0.0.1:<port>, print
/// `{path: [status, body]}` as JSON (status 0: no answer).
const PROBE: &str = "import json, sys, urllib.request, urllib.error
out = {}
for p in sys.argv[2:]:
    try:
        r = urllib.request.urlopen('http://127.0.0.1:%s%s' % (sys.argv[1], p), timeout=5)
        out[p] = [r.status, r.read().decode('utf-8', 'replace')]
    except urllib.error.HTTPError as e:
        out[p] = [e.code, e.read().decode('utf-8', 'replace')]
    except Exception as e:
        out[p] = [0, '%s: %s' % (type(e).__name__, e)]
print(json.dumps(out))";

/// Runs the built image (every platform) in a container with no network and checks it:
/// the HEALTHCHECK reports healthy (or, without one, the health path answers 200) within
/// `health.timeout-s`, `GET <health.path>` is `{"status": "healthy"}` and `GET /version` is the
/// PEP 440 version; the probes run inside the container (`docker exec … python3`), nothing is
/// published.
///
/// The container never outlives the check: `docker run --rm --init` runs attached as a child
/// (a Ctrl-C reaches the docker client in the same process group, which proxies it to the
/// container, and `--rm` removes it); every exit path runs `docker rm -f`; a watchdog in its
/// own process group removes it when this process dies in any way (its stdin pipe closes); and
/// stale `slipway.validate` containers whose process is gone are swept first.
#[derive(Debug)]
pub struct Validate {
    pub spec: ImageSpec,
}

impl Validate {
    fn run_process(&self, name: &str, platform: &str, image: &str, pid: &str) -> Process {
        self.spec.docker().args([
            "run",
            "--rm",
            "--init",
            "--network",
            "none",
            "--pull=never",
            "--platform",
            platform,
            "--name",
            name,
            "--label",
            &format!("{VALIDATE_LABEL}={pid}"),
            image,
        ])
    }

    fn probe_process(&self, name: &str, paths: &[&str], script: &str) -> Process {
        self.spec
            .docker()
            .args(["exec", name, "python3", "-c", script])
            .args([self.spec.health.port.to_string()])
            .args(paths.iter().copied())
    }

    /// Removes validation containers left by slipway processes that no longer exist.
    fn sweep(&self) -> Vec<String> {
        let list = crate::run::exec::run_captured(&self.spec.docker().args([
            "ps",
            "-a",
            "--filter",
            &format!("label={VALIDATE_LABEL}"),
            "--format",
            &format!("{{{{.Names}}}} {{{{.Label \"{VALIDATE_LABEL}\"}}}}"),
        ]))
        .unwrap_or_default();
        let me = std::process::id().to_string();
        let mut removed = Vec::new();
        for line in list.lines() {
            let Some((name, pid)) = line.split_once(' ') else {
                continue;
            };
            let alive = pid != me
                && !pid.is_empty()
                && pid.chars().all(|c| c.is_ascii_digit())
                && Path::new("/proc").join(pid).exists();
            if !alive
                && crate::run::exec::run_captured(&self.spec.docker().args(["rm", "-f", name]))
                    .is_ok()
            {
                removed.push(name.to_string());
            }
        }
        removed
    }

    fn validate_one(&self, index: usize, platform: &str, image: &str) -> Result<String> {
        let s = &self.spec;
        let pid = std::process::id();
        let name = format!("slipway-validate-{pid}-{index}");
        let dir = s.work.join("docker");
        std::fs::create_dir_all(&dir)?;
        let log = dir.join(format!("validate-{pid}-{index}.log"));
        let healthcheck = crate::run::exec::run_captured(&s.docker().args([
            "image",
            "inspect",
            "--format",
            "{{json .Config.Healthcheck}}",
            image,
        ]))
        .context("reading the image's HEALTHCHECK")?;
        let healthcheck: Json = serde_json::from_str(healthcheck.trim()).unwrap_or(Json::Null);
        let has_healthcheck = healthcheck["Test"]
            .as_array()
            .is_some_and(|t| !t.is_empty() && t[0] != "NONE");

        let out = std::fs::File::create(&log)?;
        let mut run = command(&self.run_process(&name, platform, image, &pid.to_string()));
        run.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = run
            .spawn()
            .with_context(|| format!("cannot run `{}`", engine::client()))?;
        let mut guard = Container {
            name: name.clone(),
            docker: s.docker(),
            child: Some(child),
            watchdog: None,
            removed: false,
            started: (Instant::now(), crate::run::exec::child_time()),
        };
        guard.watchdog = watchdog(&s.docker(), &name).ok();
        let started = Instant::now();
        let result = self.wait_and_probe(&mut guard, has_healthcheck, started);
        guard.remove();
        match result {
            Ok(line) => Ok(format!("{platform}: {line}")),
            Err(e) => {
                let tail = tail(&log, 15);
                let shown = if tail.trim().is_empty() {
                    "(the container printed nothing)".to_string()
                } else {
                    tail
                };
                Err(anyhow!(
                    "{platform}: {e:#}\nlast lines of the container's log ({}):\n{shown}",
                    rel(&s.root, &log)
                ))
            }
        }
    }

    fn wait_and_probe(
        &self,
        c: &mut Container,
        has_healthcheck: bool,
        started: Instant,
    ) -> Result<String> {
        let s = &self.spec;
        let timeout = Duration::from_secs(s.health.timeout_s);
        let path = s.health.path.as_str();
        let mut last = String::new();
        loop {
            if let Some(status) = c.child.as_mut().and_then(|ch| ch.try_wait().ok().flatten()) {
                bail!(
                    "the container stopped ({}) before it became healthy",
                    describe_exit(status)
                );
            }
            let state = crate::run::exec::run_captured(&s.docker().args([
                "inspect",
                "--format",
                "{{json .State}}",
                &c.name,
            ]))
            .ok()
            .and_then(|t| serde_json::from_str::<Json>(t.trim()).ok());
            if let Some(state) = &state {
                if has_healthcheck {
                    let health = &state["Health"];
                    if let Some(out) = health["Log"]
                        .as_array()
                        .and_then(|l| l.last())
                        .and_then(|e| e["Output"].as_str())
                    {
                        last = out.trim().to_string();
                    }
                    match health["Status"].as_str() {
                        Some("healthy") => break,
                        Some("unhealthy") => bail!(
                            "the image's HEALTHCHECK reports unhealthy after {:.1} s (last check: {})",
                            started.elapsed().as_secs_f64(),
                            if last.is_empty() { "no output" } else { &last }
                        ),
                        _ => {}
                    }
                } else if state["Running"].as_bool() == Some(true) {
                    if let Ok(r) = self.probe(&c.name, &[path]) {
                        let (code, body) = &r[path];
                        if *code == 200 {
                            break;
                        }
                        last = format!("GET {path} → {}", show_answer(*code, body));
                    }
                }
            }
            if started.elapsed() > timeout {
                let status = state
                    .as_ref()
                    .and_then(|s| s["Health"]["Status"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "no HEALTHCHECK".into());
                bail!(
                    "not healthy within {} s (health.timeout-s): {}; last check: {}",
                    s.health.timeout_s,
                    if has_healthcheck {
                        format!("the HEALTHCHECK still says `{status}`")
                    } else {
                        format!("the image has no HEALTHCHECK and GET {path} never answered 200")
                    },
                    if last.is_empty() {
                        "no output".to_string()
                    } else {
                        last
                    }
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let became = started.elapsed();
        let answers = self.probe(&c.name, &[path, "/version"])?;
        let (code, body) = &answers[path];
        let healthy = *code == 200
            && serde_json::from_str::<Json>(body).is_ok_and(|j| j["status"] == "healthy");
        if !healthy {
            bail!(
                "GET {path} answered {}, expected 200 {{\"status\": \"healthy\"}}",
                show_answer(*code, body)
            );
        }
        let (vcode, vbody) = &answers["/version"];
        let version = serde_json::from_str::<Json>(vbody)
            .ok()
            .and_then(|j| j["version"].as_str().map(str::to_string));
        match version {
            Some(v) if *vcode == 200 && v == s.pep440 => {}
            Some(v) if *vcode == 200 => bail!(
                "GET /version says {v}, but this release is {}: the image does not run the wheel of this release",
                s.pep440
            ),
            _ => bail!(
                "GET /version answered {}, expected 200 {{\"version\": \"{}\"}}",
                show_answer(*vcode, vbody),
                s.pep440
            ),
        }
        Ok(format!(
            "healthy after {:.1} s; GET {path} → {}; GET /version → {}",
            became.as_secs_f64(),
            body.trim(),
            s.pep440
        ))
    }

    fn probe(&self, name: &str, paths: &[&str]) -> Result<BTreeMap<String, (u16, String)>> {
        let out = crate::run::exec::run_captured(&self.probe_process(name, paths, PROBE)).context(
            "probing inside the container (the probe runs python3 in the image; an image without python3 \
             cannot be validated)",
        )?;
        let json: Json = serde_json::from_str(out.trim())
            .with_context(|| format!("the probe printed no JSON: {}", out.trim()))?;
        let mut map = BTreeMap::new();
        for p in paths {
            let entry = &json[*p];
            map.insert(
                p.to_string(),
                (
                    entry[0].as_u64().unwrap_or(0) as u16,
                    entry[1].as_str().unwrap_or("").to_string(),
                ),
            );
        }
        Ok(map)
    }
}

fn show_answer(code: u16, body: &str) -> String {
    let body: String = body.trim().chars().take(200).collect();
    if code == 0 {
        format!("nothing ({body})")
    } else {
        format!("{code} {body}")
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(c) => format!("docker run exited with status {c}"),
        None => "docker run was killed by a signal".into(),
    }
}

impl Action for Validate {
    fn header(&self) -> String {
        format!(
            "validate {}:{} in a container without network: healthy within {} s, GET {} and GET /version = {}",
            self.spec.image,
            self.spec.exact_tag,
            self.spec.health.timeout_s,
            self.spec.health.path,
            self.spec.pep440
        )
    }
    fn detail(&self) -> Option<String> {
        let name = "slipway-validate-<pid>-<n>";
        let mut lines: Vec<String> = self
            .spec
            .platforms
            .iter()
            .map(|p| {
                self.run_process(name, p, &format!("<image built for {p}>"), "<pid>")
                    .command_line()
            })
            .collect();
        lines.push(format!(
            "wait for the HEALTHCHECK to say healthy (without one: poll GET {}), then inside the container:",
            self.spec.health.path
        ));
        lines.push(
            self.probe_process(
                name,
                &[&self.spec.health.path, "/version"],
                "<GET each path on 127.0.0.1:port, print {path: [status, body]}>",
            )
            .command_line(),
        );
        lines.push(format!(
            "always: {}",
            self.spec.docker().args(["rm", "-f", name]).command_line()
        ));
        Some(lines.join("\n"))
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let swept = self.sweep();
        let mut lines = Vec::new();
        if !swept.is_empty() {
            lines.push(format!(
                "removed stale validation containers: {}",
                swept.join(", ")
            ));
        }
        for (i, platform) in self.spec.platforms.iter().enumerate() {
            let image = cx.get(&image_key(platform))?.to_string();
            lines.push(self.validate_one(i, platform, &image)?);
        }
        Ok(Done::Ran(lines.join("\n")))
    }
}

/// A running validation container: removed (and its `docker run` reaped) on every path.
struct Container {
    name: String,
    docker: Process,
    child: Option<Child>,
    watchdog: Option<Child>,
    removed: bool,
    /// When `docker run` started, and the child time counted by then: its wall time, less the
    /// docker calls made meanwhile (counted already), is time spent waiting for docker.
    started: (Instant, Duration),
}

impl Container {
    fn remove(&mut self) {
        if std::mem::replace(&mut self.removed, true) {
            return;
        }
        let _ = crate::run::exec::run_captured(&self.docker.clone().args(["rm", "-f", &self.name]));
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            // The container's whole life; overlapping `docker exec` probes are merged by the union.
            crate::run::exec::count_child_span(self.started.0, Instant::now());
        }
        if let Some(mut w) = self.watchdog.take() {
            // Its job is done: kill it before it reads EOF (no second `docker rm`).
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.remove();
    }
}

/// `sh -c 'read _; docker rm -f NAME'` in its own process group, holding our end of its stdin:
/// when this process ends in any way (Ctrl-C, SIGTERM, SIGKILL), the pipe closes and it removes
/// the container.
fn watchdog(docker: &Process, name: &str) -> Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "read _ ; exec \"$0\" rm -f \"$1\" >/dev/null 2>&1",
        &docker.program,
        name,
    ]);
    for (k, v) in &docker.env {
        cmd.env(k, v.reveal());
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    Ok(cmd.spawn()?)
}

/// A [`Process`] as a `std::process::Command` (for children we supervise ourselves).
fn command(p: &Process) -> Command {
    let mut c = Command::new(&p.program);
    c.args(&p.args).current_dir(&p.cwd);
    for k in &p.env_remove {
        c.env_remove(k);
    }
    for (k, v) in &p.env {
        c.env(k, v.reveal());
    }
    c
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    crate::run::ui::redact(&lines[lines.len().saturating_sub(n)..].join("\n"))
}

// ---------------------------------------------------------------------------------------------
// Registry state

/// What a tag on a registry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Absent,
    /// An image manifest; `config` is its config digest (the image ID).
    Image {
        digest: String,
        config: String,
    },
    /// An index; each child's platform, digest and config digest.
    Index {
        digest: String,
        children: Vec<(String, String, String)>,
    },
    Other {
        digest: String,
        media_type: String,
    },
}

impl Remote {
    pub fn digest(&self) -> Option<&str> {
        match self {
            Remote::Absent => None,
            Remote::Image { digest, .. }
            | Remote::Index { digest, .. }
            | Remote::Other { digest, .. } => Some(digest),
        }
    }

    /// Does an index hold exactly these images (platform → image ID), attestations aside?
    pub fn index_holds(&self, images: &BTreeMap<String, String>) -> bool {
        let Remote::Index { children, .. } = self else {
            return false;
        };
        let real: Vec<&(String, String, String)> = children
            .iter()
            .filter(|(p, _, _)| !p.starts_with("unknown"))
            .collect();
        real.len() == images.len()
            && images.iter().all(|(p, id)| {
                real.iter()
                    .any(|(cp, _, config)| same_platform(cp, p) && config == id)
            })
    }
}

/// Reads what `tag` holds on the registry (children of an index resolved to their configs).
pub fn read_remote(client: &mut registry::Client, path: &str, tag: &str) -> Result<Remote> {
    let Some((m, body)) = client.manifest_json(path, tag)? else {
        return Ok(Remote::Absent);
    };
    if m.is_index() {
        let mut children = Vec::new();
        for child in registry::parse_index(&body) {
            let config = if child.platform.starts_with("unknown") {
                String::new()
            } else {
                client
                    .manifest_json(path, &child.digest)?
                    .and_then(|(_, j)| j["config"]["digest"].as_str().map(str::to_string))
                    .unwrap_or_default()
            };
            children.push((child.platform, child.digest, config));
        }
        return Ok(Remote::Index {
            digest: m.digest,
            children,
        });
    }
    match body["config"]["digest"].as_str() {
        Some(config) => Ok(Remote::Image {
            digest: m.digest,
            config: config.to_string(),
        }),
        None => Ok(Remote::Other {
            digest: m.digest,
            media_type: m.media_type,
        }),
    }
}

/// The `<tag>: digest: sha256:… size: N` line of `docker push`.
pub fn pushed_digest(output: &str, tag: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let rest = l.trim().strip_prefix(&format!("{tag}: digest: "))?;
        let d = rest.split_whitespace().next()?;
        (d.starts_with("sha256:") && d.len() == 71).then(|| d.to_string())
    })
}

/// The digest `docker manifest push` prints (its last `sha256:` line).
pub fn manifest_push_digest(output: &str) -> Option<String> {
    output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with("sha256:") && l.len() == 71)
        .map(str::to_string)
}

// ---------------------------------------------------------------------------------------------
// Push

/// Pushes every planned tag to every registry, the registries in parallel.
///
/// 1. Per registry, in parallel: `docker login` (with env credentials, password on stdin, into
///    the private `DOCKER_CONFIG`), then read what every tag holds.
/// 2. A tag that may not move (the exact tag, `sha-…`, per-arch tags) holding another image
///    stops everything before any push, on every registry.
/// 3. Per registry, in parallel: push what is absent, move the moving tags that point elsewhere,
///    skip what already holds this build (evidence: the registry's config digest = the image ID).
///    A registry that cannot be reached or refuses the login fails alone: the others complete,
///    and a re-run completes it (what is there is skipped).
#[derive(Debug)]
pub struct Push {
    pub spec: ImageSpec,
    pub registries: Vec<String>,
    pub tags: Vec<PlannedTag>,
    /// From DOCKER_USERNAME/DOCKER_PASSWORD; None: the docker config's own logins.
    pub credentials: Option<Login>,
}

/// What one registry's run did.
#[derive(Debug, Default)]
struct RegistryReport {
    pushed: Vec<String>,
    moved: Vec<String>,
    kept: Vec<String>,
    /// The digest every release tag resolves to (the index for multi-platform).
    digest: Option<String>,
}

impl RegistryReport {
    /// What a registry got before it failed.
    fn partial(&self) -> String {
        let mut parts = Vec::new();
        if !self.pushed.is_empty() {
            parts.push(format!("pushed {}", self.pushed.join(", ")));
        }
        if !self.moved.is_empty() {
            parts.push(format!("moved {}", self.moved.join(", ")));
        }
        if !self.kept.is_empty() {
            parts.push(format!("already there: {}", self.kept.join(", ")));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" (before that: {})", parts.join("; "))
        }
    }
}

#[derive(Debug, Clone)]
enum Decision {
    Push,
    Move(String),
    Keep(String),
}

struct Observed {
    /// (platform, arch tag, decision) for multi-platform images.
    arch: Vec<(String, String, Decision)>,
    tags: Vec<(PlannedTag, Decision, Remote)>,
}

impl Push {
    fn config_dir(&self) -> Option<PathBuf> {
        self.credentials
            .as_ref()
            .map(|_| engine::private_config(&self.spec.work))
    }

    fn docker(&self) -> Process {
        engine::docker(&self.spec.root, self.config_dir().as_deref())
    }

    fn repo(&self, registry: &str) -> String {
        format!("{}/{}", registry.trim_end_matches('/'), self.spec.image)
    }

    fn login_process(&self, registry: &str) -> Option<Process> {
        let login = self.credentials.as_ref()?;
        let host = Repo::parse(&self.repo(registry)).registry;
        Some(
            self.docker()
                .args([
                    "login",
                    &host,
                    "--username",
                    &login.user,
                    "--password-stdin",
                ])
                .stdin(login.password.clone()),
        )
    }

    fn insecure(registry: &str) -> Option<&'static str> {
        registry::is_loopback(registry.split('/').next().unwrap_or(registry))
            .then_some("--insecure")
    }

    /// Login and read every tag; conflicts are returned as messages.
    fn observe(
        &self,
        registry: &str,
        images: &BTreeMap<String, String>,
    ) -> Result<(Observed, Vec<String>)> {
        if let Some(login) = self.login_process(registry) {
            if let Err(e) = crate::run::exec::run_captured(&login) {
                let text = format!("{e:#}");
                let user = self
                    .credentials
                    .as_ref()
                    .map(|c| c.user.as_str())
                    .unwrap_or("");
                if text.contains("401") || text.to_lowercase().contains("unauthorized") {
                    bail!("registry {registry} refused the credentials of `{user}`: check DOCKER_USERNAME/DOCKER_PASSWORD");
                }
                if text.contains("connection refused")
                    || text.contains("no such host")
                    || text.contains("i/o timeout")
                {
                    bail!("registry {registry} is unreachable (docker login: connection refused): is it running, and is the address right?");
                }
                return Err(e.context(format!("docker login {registry}")));
            }
        }
        let repo = Repo::parse(&self.repo(registry));
        let creds = registry_credentials(&repo.registry, &self.credentials);
        let mut client = registry::Client::new(
            &repo.registry,
            creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        );
        let full = self.repo(registry);
        let mut conflicts = Vec::new();
        let mut arch = Vec::new();
        if self.spec.multi() {
            for platform in &self.spec.platforms {
                let tag = self.spec.arch_tag(platform);
                let id = &images[platform];
                let remote = read_remote(&mut client, &repo.path, &tag)?;
                let d = match &remote {
                    Remote::Absent => Decision::Push,
                    Remote::Image { digest, config } if config == id => {
                        Decision::Keep(digest.clone())
                    }
                    other => {
                        conflicts.push(conflict(
                            &full,
                            &tag,
                            other,
                            &format!("image {id}"),
                            TagKind::Exact,
                        ));
                        Decision::Push
                    }
                };
                arch.push((platform.clone(), tag, d));
            }
        }
        let mut tags = Vec::new();
        for t in &self.tags {
            let remote = read_remote(&mut client, &repo.path, &t.tag)?;
            let same = match (&remote, self.spec.multi()) {
                (Remote::Image { config, .. }, false) => Some(config) == images.values().next(),
                (r @ Remote::Index { .. }, true) => r.index_holds(images),
                _ => false,
            };
            let d = match (&remote, same) {
                (Remote::Absent, _) => Decision::Push,
                (r, true) => Decision::Keep(r.digest().unwrap_or_default().to_string()),
                (r, false) if t.may_move() => {
                    Decision::Move(r.digest().unwrap_or_default().to_string())
                }
                (r, false) => {
                    let ours = if self.spec.multi() {
                        images
                            .iter()
                            .map(|(p, id)| format!("{p} {id}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    } else {
                        format!(
                            "image {}",
                            images.values().next().cloned().unwrap_or_default()
                        )
                    };
                    conflicts.push(conflict(&full, &t.tag, r, &ours, t.kind));
                    Decision::Push
                }
            };
            tags.push((t.clone(), d, remote));
        }
        Ok((Observed { arch, tags }, conflicts))
    }

    fn push_tag(&self, image: &str, target: &str, tag: &str) -> Result<String> {
        crate::run::exec::run_captured(&self.docker().args(["tag", image, target]))?;
        let out = crate::run::exec::run_captured(&self.docker().args(["push", target]))
            .map_err(|e| push_error(e, target))?;
        pushed_digest(&out, tag)
            .ok_or_else(|| anyhow!("`docker push {target}` printed no digest:\n{}", out.trim()))
    }

    fn manifest_processes(&self, registry: &str, tag: &str, children: &[String]) -> Vec<Process> {
        let target = format!("{}:{tag}", self.repo(registry));
        let insecure: Vec<&str> = Self::insecure(registry).into_iter().collect();
        vec![
            self.docker()
                .args(["manifest", "create"])
                .args(insecure.iter().copied())
                .args([target.clone()])
                .args(
                    children
                        .iter()
                        .map(|d| format!("{}@{d}", self.repo(registry))),
                ),
            self.docker()
                .args(["manifest", "push"])
                .args(insecure.iter().copied())
                .args(["--purge".to_string(), target]),
        ]
    }

    fn push_index(&self, registry: &str, tag: &str, children: &[String]) -> Result<String> {
        let target = format!("{}:{tag}", self.repo(registry));
        // A list left by an interrupted run would make `create` refuse.
        let _ = crate::run::exec::run_captured(&self.docker().args(["manifest", "rm", &target]));
        let procs = self.manifest_processes(registry, tag, children);
        crate::run::exec::run_captured(&procs[0])
            .with_context(|| format!("docker manifest create {target}"))?;
        let out = crate::run::exec::run_captured(&procs[1]).map_err(|e| push_error(e, &target))?;
        manifest_push_digest(&out).ok_or_else(|| {
            anyhow!(
                "`docker manifest push {target}` printed no digest:\n{}",
                out.trim()
            )
        })
    }

    /// Phase 2 for one registry.
    fn apply(
        &self,
        registry: &str,
        images: &BTreeMap<String, String>,
        observed: Observed,
        report: &mut RegistryReport,
    ) -> Result<()> {
        let repo = self.repo(registry);
        let mut children = Vec::new();
        for (platform, tag, d) in &observed.arch {
            let digest = match d {
                Decision::Keep(digest) => {
                    report.kept.push(tag.clone());
                    digest.clone()
                }
                _ => {
                    let digest = self.push_tag(&images[platform], &format!("{repo}:{tag}"), tag)?;
                    report.pushed.push(tag.clone());
                    digest
                }
            };
            children.push(digest);
        }
        let mut reference: Option<String> = None;
        for (t, d, _) in observed.tags {
            let keep = match &d {
                Decision::Keep(digest) => reference.as_ref().is_none_or(|r| r == digest),
                _ => false,
            };
            let digest = if keep {
                report.kept.push(t.tag.clone());
                match d {
                    Decision::Keep(digest) => digest,
                    _ => unreachable!(),
                }
            } else {
                let digest = if self.spec.multi() {
                    self.push_index(registry, &t.tag, &children)?
                } else {
                    let image = images.values().next().expect("one platform");
                    self.push_tag(image, &format!("{repo}:{}", t.tag), &t.tag)?
                };
                match d {
                    Decision::Move(was) => report.moved.push(format!("{} (was {was})", t.tag)),
                    _ => report.pushed.push(t.tag.clone()),
                }
                digest
            };
            match &reference {
                None => reference = Some(digest),
                Some(r) if *r != digest => bail!(
                    "{repo}:{} resolved to {digest}, but {repo}:{} is {r}: the tags of one release must hold one manifest",
                    t.tag,
                    self.spec.exact_tag
                ),
                Some(_) => {}
            }
        }
        report.digest = reference;
        Ok(())
    }

    fn logout(&self, registry: &str) {
        if self.credentials.is_some() {
            let host = Repo::parse(&self.repo(registry)).registry;
            let _ = crate::run::exec::run_captured(&self.docker().args(["logout", &host]));
        }
    }
}

fn conflict(full: &str, tag: &str, remote: &Remote, ours: &str, kind: TagKind) -> String {
    let held = match remote {
        Remote::Image { digest, config } => format!("{digest} (image {config})"),
        Remote::Index { digest, children } => format!(
            "{digest} (an index of {})",
            children
                .iter()
                .map(|(p, _, c)| format!("{p} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Remote::Other { digest, media_type } => format!("{digest} ({media_type})"),
        Remote::Absent => "nothing".into(),
    };
    let rule = match kind {
        TagKind::Commit => "a commit tag names one build and never moves — the tag was pushed by another build of this commit; remove it from the registry if that build is wrong",
        _ => "a release tag never moves — release a new version (`cargo xtask release patch`)",
    };
    format!("{full}:{tag} already points at {held}, but this build is {ours}; {rule}")
}

fn push_error(e: anyhow::Error, target: &str) -> anyhow::Error {
    let text = format!("{e:#}");
    let registry = target.split('/').next().unwrap_or(target);
    if text.contains("connection refused") || text.contains("no such host") {
        anyhow!("registry {registry} became unreachable while pushing {target}: is it running? A re-run pushes what is missing")
    } else if text.contains("unauthorized")
        || text.contains("authentication required")
        || text.contains("denied")
    {
        anyhow!("registry {registry} refused to let this login push {target}: check DOCKER_USERNAME/DOCKER_PASSWORD and the repository's permissions")
    } else {
        e.context(format!("pushing {target}"))
    }
}

impl Action for Push {
    fn header(&self) -> String {
        let tags: Vec<&str> = self.tags.iter().map(|t| t.tag.as_str()).collect();
        format!(
            "push {} to {} (registries in parallel; what is there is skipped)",
            tags.join(", "),
            self.registries
                .iter()
                .map(|r| self.repo(r))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
    fn detail(&self) -> Option<String> {
        let mut lines = Vec::new();
        for r in &self.registries {
            if let Some(p) = self.login_process(r) {
                lines.push(p.command_line());
            }
        }
        lines.push(
            "every tag is read from the registry first (GET /v2/<name>/manifests/<tag>): absent → push; \
             holding this build (config digest = image ID) → skip; holding another image → moving tags \
             (latest, v1, v1.2) are moved, the exact and sha- tags stop the run before anything is pushed"
                .into(),
        );
        let Some(r0) = self.registries.first() else {
            return Some(lines.join("\n"));
        };
        let repo = self.repo(r0);
        if self.spec.multi() {
            for p in &self.spec.platforms {
                let tag = self.spec.arch_tag(p);
                lines.push(
                    self.docker()
                        .args(["tag", &format!("<image {p}>"), &format!("{repo}:{tag}")])
                        .command_line(),
                );
                lines.push(
                    self.docker()
                        .args(["push", &format!("{repo}:{tag}")])
                        .command_line(),
                );
            }
            let children: Vec<String> = self
                .spec
                .platforms
                .iter()
                .map(|p| format!("<digest {}>", platform_slug(p)))
                .collect();
            for p in self.manifest_processes(r0, "<tag>", &children) {
                lines.push(p.command_line());
            }
        } else {
            lines.push(
                self.docker()
                    .args(["tag", "<image>", &format!("{repo}:<tag>")])
                    .command_line(),
            );
            lines.push(
                self.docker()
                    .args(["push", &format!("{repo}:<tag>")])
                    .command_line(),
            );
        }
        if self.registries.len() > 1 {
            lines.push(format!(
                "… the same for {}",
                self.registries[1..].join(", ")
            ));
        }
        if self.credentials.is_some() {
            lines.push("then docker logout (no credentials stay on disk)".into());
        }
        Some(lines.join("\n"))
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let images: BTreeMap<String, String> = self
            .spec
            .platforms
            .iter()
            .map(|p| Ok((p.clone(), cx.get(&image_key(p))?.to_string())))
            .collect::<Result<_>>()?;
        // Phase 1: login + read, every registry in parallel.
        let observed: Vec<Result<(Observed, Vec<String>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .registries
                .iter()
                .map(|r| s.spawn(|| self.observe(r, &images)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("internal error: a push thread panicked")))
                })
                .collect()
        });
        let conflicts: Vec<String> = observed
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .flat_map(|(_, c)| c.clone())
            .collect();
        if !conflicts.is_empty() {
            for r in &self.registries {
                self.logout(r);
            }
            bail!("nothing was pushed: {}", conflicts.join("\n"));
        }
        // Phase 2: push, every reachable registry in parallel.
        let results: Vec<(String, Result<RegistryReport, String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .registries
                .iter()
                .zip(observed)
                .map(|(r, o)| {
                    let images = &images;
                    s.spawn(move || {
                        let result = match o {
                            Err(e) => Err(format!("{e:#}")),
                            Ok((obs, _)) => {
                                let mut report = RegistryReport::default();
                                match self.apply(r, images, obs, &mut report) {
                                    Ok(()) => Ok(report),
                                    Err(e) => Err(format!("{e:#}{}", report.partial())),
                                }
                            }
                        };
                        self.logout(r);
                        (r.clone(), result)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        (
                            String::new(),
                            Err("internal error: a push thread panicked".into()),
                        )
                    })
                })
                .collect()
        });
        let mut lines = Vec::new();
        let mut failures = Vec::new();
        let mut any_pushed = false;
        for (r, result) in results {
            match result {
                Ok(rep) => {
                    let mut parts = Vec::new();
                    if !rep.pushed.is_empty() {
                        any_pushed = true;
                        parts.push(format!("pushed {}", rep.pushed.join(", ")));
                    }
                    if !rep.moved.is_empty() {
                        any_pushed = true;
                        parts.push(format!("moved {}", rep.moved.join(", ")));
                    }
                    if !rep.kept.is_empty() {
                        parts.push(format!("already there: {}", rep.kept.join(", ")));
                    }
                    let digest = rep.digest.unwrap_or_default();
                    lines.push(format!(
                        "{} → {digest}: {}",
                        self.repo(&r),
                        parts.join("; ")
                    ));
                    cx.set(&digest_key(&r), digest);
                }
                Err(e) => {
                    failures.push(format!("{}: {}", self.repo(&r), crate::run::ui::redact(&e)))
                }
            }
        }
        if !failures.is_empty() {
            let mut msg = format!("pushing failed for {}", failures.join("\n"));
            if !lines.is_empty() {
                msg.push_str(&format!(
                    "\nthe other registries completed:\n{}\na re-run completes the rest (what is there is skipped)",
                    lines.join("\n")
                ));
            }
            bail!("{msg}");
        }
        if any_pushed {
            Ok(Done::Ran(lines.join("\n")))
        } else {
            Ok(Done::Skipped(format!(
                "every tag already holds this build: {}",
                lines.join("; ")
            )))
        }
    }
    fn json(&self) -> Json {
        json!({
            "registries": self.registries,
            "tags": self.tags.iter().map(|t| json!({"tag": t.tag, "may_move": t.may_move()})).collect::<Vec<_>>(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Verify

/// Through the registry HTTP API: every planned tag on every registry resolves to the digest
/// that was pushed, whose config is the built image (per platform for an index).
#[derive(Debug)]
pub struct Verify {
    pub spec: ImageSpec,
    pub registries: Vec<String>,
    pub tags: Vec<PlannedTag>,
    pub credentials: Option<Login>,
}

impl Action for Verify {
    fn header(&self) -> String {
        format!(
            "verify {} tag(s) of {} on {} through the registry API",
            self.tags.len(),
            self.spec.image,
            self.registries.join(", ")
        )
    }
    fn detail(&self) -> Option<String> {
        Some(format!(
            "HEAD/GET /v2/{}/manifests/<tag> (Accept: {}): every tag = the pushed digest; its config digest = the built image ID{}",
            self.spec.image,
            registry::MANIFEST_TYPES.join(", "),
            if self.spec.multi() { "; the index lists every platform with its own image" } else { "" }
        ))
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        // The built images: from this run, else this commit's recorded build (`cargo xtask
        // verify` after the fact); without either, the identity checks are left out.
        let images: Option<BTreeMap<String, String>> = self
            .spec
            .platforms
            .iter()
            .map(|p| {
                let id = cx
                    .values
                    .get(&image_key(p))
                    .cloned()
                    .or_else(|| recorded_image(&self.spec, p))?;
                Some((p.clone(), id))
            })
            .collect();
        let mut lines = Vec::new();
        for r in &self.registries {
            let full = format!("{}/{}", r.trim_end_matches('/'), self.spec.image);
            let path = Repo::parse(&full).path;
            let host = Repo::parse(&full).registry;
            let creds = registry_credentials(&host, &self.credentials);
            let mut client =
                registry::Client::new(&host, creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str())));
            let exact = read_remote(&mut client, &path, &self.spec.exact_tag)?;
            let expected = match (cx.values.get(&digest_key(r)), exact.digest()) {
                (Some(pushed), _) => pushed.clone(),
                (None, Some(d)) => d.to_string(),
                (None, None) => bail!("{full}:{} is missing on the registry", self.spec.exact_tag),
            };
            for t in &self.tags {
                let remote = read_remote(&mut client, &path, &t.tag)?;
                match remote.digest() {
                    None => bail!("{full}:{} is missing on the registry", t.tag),
                    Some(d) if d != expected => bail!(
                        "{full}:{} resolves to {d}, but {expected} was pushed",
                        t.tag
                    ),
                    Some(_) => {}
                }
                let holds = match (&remote, self.spec.multi(), &images) {
                    (_, _, None) => true,
                    (Remote::Image { config, .. }, false, Some(images)) => {
                        Some(config) == images.values().next()
                    }
                    (r @ Remote::Index { .. }, true, Some(images)) => r.index_holds(images),
                    _ => false,
                };
                if !holds {
                    bail!(
                        "{full}:{} ({expected}) does not hold the built image: {remote:?}",
                        t.tag
                    );
                }
            }
            let mut what = format!(
                "{full}: {} → {expected}",
                self.tags
                    .iter()
                    .map(|t| t.tag.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if self.spec.multi() {
                let Remote::Index { children, .. } = &exact else {
                    bail!("{full}:{} is not an index: {exact:?}", self.spec.exact_tag);
                };
                for p in &self.spec.platforms {
                    let tag = self.spec.arch_tag(p);
                    let listed = children
                        .iter()
                        .find(|(cp, _, _)| same_platform(cp, p))
                        .map(|(_, d, _)| d.as_str());
                    let built = images.as_ref().map(|i| i[p].as_str());
                    match read_remote(&mut client, &path, &tag)? {
                        Remote::Image { digest, config }
                            if built.is_none_or(|b| b == config)
                                && listed == Some(digest.as_str()) =>
                        {
                            what.push_str(&format!(
                                "\n  {p}: {digest} (in the index and as {tag}; image {config})"
                            ));
                        }
                        other => bail!(
                            "{full}:{tag} does not hold the {p} image {} that the index lists ({}): {other:?}",
                            built.unwrap_or("(no local build)"),
                            listed.unwrap_or("not listed")
                        ),
                    }
                }
            } else {
                match &images {
                    Some(i) => what.push_str(&format!(
                        " (image {})",
                        i.values().next().cloned().unwrap_or_default()
                    )),
                    None => what.push_str(&format!(
                        " (no local build of {} to compare the image with)",
                        &self.spec.commit[..self.spec.commit.len().min(7)]
                    )),
                }
            }
            lines.push(what);
        }
        Ok(Done::Ran(lines.join("\n")))
    }
}

/// The image a recorded build of this commit made for `platform` (still in the engine).
fn recorded_image(spec: &ImageSpec, platform: &str) -> Option<String> {
    let text = std::fs::read_to_string(spec.work.join("docker").join(BUILD_RECORD)).ok()?;
    let json: Json = serde_json::from_str(&text).ok()?;
    json.as_object()?
        .values()
        .filter(|r| r["commit"] == spec.commit.as_str() && r["platform"] == platform)
        .filter_map(|r| r["image"].as_str())
        .find(|id| local_platform(spec, id).is_some())
        .map(str::to_string)
}

/// The docker verification alone (`cargo xtask verify`); None when no image is published.
pub fn verify_step(facts: &Facts, problems: &mut Problems) -> Option<Step> {
    let docker = facts.cfg.docker.clone()?;
    let credentials = credentials_from_env(problems);
    // Only the names and tags matter here (the build context is not used).
    let spec = ImageSpec::new(
        facts,
        &docker,
        docker.platforms.clone(),
        &mut Problems::default(),
    );
    let tags = match planned_tags(facts, &docker) {
        Ok(t) => t,
        Err(e) => {
            problems.invalid(format!("[workspace.metadata.release.docker] tags: {e}"));
            return None;
        }
    };
    Some(Step::Action(Box::new(Verify {
        spec,
        registries: docker.registries.clone(),
        tags,
        credentials,
    })))
}

// ---------------------------------------------------------------------------------------------
// Provisioning foreign platforms (`SLIPWAY_ARM64=1 cargo xtask provision`)

/// qemu binfmt for a foreign architecture (machine-wide): mounts binfmt_misc if needed, then
/// `update-binfmts --enable <entry>`. The F flag makes the interpreter usable in containers.
#[derive(Debug)]
pub struct Binfmt {
    pub entry: &'static str,
}

impl Action for Binfmt {
    fn header(&self) -> String {
        format!(
            "qemu binfmt {} (runs foreign binaries in builds and containers)",
            self.entry
        )
    }
    fn detail(&self) -> Option<String> {
        Some(format!(
            "if /proc/sys/fs/binfmt_misc/{0} is not enabled: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc (when \
             not mounted); update-binfmts --enable {0}",
            self.entry
        ))
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let dir = Path::new("/proc/sys/fs/binfmt_misc");
        let enabled = || {
            std::fs::read_to_string(dir.join(self.entry)).is_ok_and(|s| s.starts_with("enabled"))
        };
        if enabled() {
            return Ok(Done::Skipped(format!(
                "{} is enabled",
                dir.join(self.entry).display()
            )));
        }
        if !dir.join("status").exists() {
            crate::run::exec::run_captured(&Process::new("mount", cx.root).args([
                "-t",
                "binfmt_misc",
                "binfmt_misc",
                "/proc/sys/fs/binfmt_misc",
            ]))
            .context("mounting binfmt_misc (needs root)")?;
        }
        crate::run::exec::run_captured(
            &Process::new("update-binfmts", cx.root).args(["--enable", self.entry]),
        )
        .context("update-binfmts (apt-get install qemu-user-static binfmt-support)")?;
        if !enabled() {
            bail!("{} is still not enabled after update-binfmts", self.entry);
        }
        Ok(Done::Ran(format!("enabled {}", self.entry)))
    }
}

/// The base image for a foreign platform (`slipway-base:bookworm-python-arm64`): loaded from the
/// cache, else built from an mmdebstrap root file system of that architecture (maintainer
/// scripts run under qemu: about 3 minutes) with BuildKit's `FROM scratch` + `--platform` (the
/// 20.10 daemon ignores `docker import --platform`), then cached with `docker save`. Also tags
/// the native base as `<base>-<native arch>`, so build-args can say
/// `BASE_IMAGE = "slipway-base:bookworm-python-${TARGETARCH}"`.
#[derive(Debug)]
pub struct ForeignBase {
    pub platform: String,
}

impl ForeignBase {
    pub fn tag(&self) -> String {
        format!("{}-{}", engine::BASE_IMAGE, platform_slug(&self.platform))
    }
    fn cache(&self) -> PathBuf {
        Path::new(engine::CACHE).join(format!(
            "{}.docker.tar",
            self.tag().replace([':', '/'], "_")
        ))
    }
    fn docker(root: &Path) -> Process {
        engine::docker(root, None)
    }
}

impl Action for ForeignBase {
    fn header(&self) -> String {
        format!("base image {} ({})", self.tag(), self.platform)
    }
    fn detail(&self) -> Option<String> {
        Some(format!(
            "if absent: docker load {}, else mmdebstrap --arch={} --variant=minbase --include=python3 bookworm, then \
             DOCKER_BUILDKIT=1 docker build --network none --platform {} (FROM scratch, ADD rootfs.tar), docker save; \
             and docker tag {} {}-{}",
            self.cache().display(),
            platform_parts(&self.platform).1,
            self.platform,
            engine::BASE_IMAGE,
            engine::BASE_IMAGE,
            platform_slug(&native_platform())
        ))
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let docker = || Self::docker(cx.root);
        let native_alias = format!(
            "{}-{}",
            engine::BASE_IMAGE,
            platform_slug(&native_platform())
        );
        let have = |image: &str| {
            crate::run::exec::run_captured(&docker().args([
                "image",
                "inspect",
                "--format",
                "{{.Os}}/{{.Architecture}}",
                image,
            ]))
            .ok()
            .map(|s| s.trim().to_string())
        };
        let mut did = Vec::new();
        if have(&native_alias).is_none() && have(engine::BASE_IMAGE).is_some() {
            crate::run::exec::run_captured(&docker().args([
                "tag",
                engine::BASE_IMAGE,
                &native_alias,
            ]))?;
            did.push(format!("tagged {} as {native_alias}", engine::BASE_IMAGE));
        }
        let tag = self.tag();
        match have(&tag) {
            Some(p) if same_platform(&p, &self.platform) => {}
            _ => {
                let cache = self.cache();
                if cache.exists() {
                    crate::run::exec::run_captured(
                        &docker()
                            .args(["load", "-q", "-i"])
                            .args([cache.display().to_string()]),
                    )?;
                    did.push(format!("loaded {tag} from {}", cache.display()));
                } else {
                    did.push(self.build(cx.root, &tag, &cache)?);
                }
                match have(&tag) {
                    Some(p) if same_platform(&p, &self.platform) => {}
                    other => bail!(
                        "{tag} is {other:?} after loading, expected {}",
                        self.platform
                    ),
                }
            }
        }
        if did.is_empty() {
            Ok(Done::Skipped(format!(
                "{tag} and {native_alias} are in the engine"
            )))
        } else {
            Ok(Done::Ran(did.join("; ")))
        }
    }
}

impl ForeignBase {
    fn build(&self, root: &Path, tag: &str, cache: &Path) -> Result<String> {
        let arch = platform_parts(&self.platform).1;
        std::fs::create_dir_all(engine::CACHE)?;
        let rootfs = Path::new(engine::CACHE).join(format!("rootfs-bookworm-{arch}.tar"));
        if !rootfs.exists() {
            let tmp = rootfs.with_extension("tmp.tar");
            let mm = crate::rig::provision::mmdebstrap(root, Some(arch), &tmp);
            crate::run::exec::run_captured(&mm)
                .context("mmdebstrap (the foreign base image's root file system)")?;
            std::fs::rename(&tmp, &rootfs)?;
        }
        let dir = tempdir_in(Path::new(engine::CACHE))?;
        let result = (|| -> Result<()> {
            if std::fs::hard_link(&rootfs, dir.join("rootfs.tar")).is_err() {
                std::fs::copy(&rootfs, dir.join("rootfs.tar"))?;
            }
            std::fs::write(
                dir.join("Dockerfile"),
                "FROM scratch\nADD rootfs.tar /\nENV LANG=C.UTF-8\nCMD [\"python3\"]\n",
            )?;
            crate::run::exec::run_captured(
                &Self::docker(root)
                    .env("DOCKER_BUILDKIT", Val::Plain("1".into()))
                    .args([
                        "build",
                        "--network",
                        "none",
                        "--platform",
                        &self.platform,
                        "-t",
                        tag,
                    ])
                    .args([dir.display().to_string()]),
            )?;
            let tmp = cache.with_extension("tmp");
            crate::run::exec::run_captured(
                &Self::docker(root)
                    .args(["save", "-o"])
                    .args([tmp.display().to_string(), tag.to_string()]),
            )?;
            std::fs::rename(&tmp, cache)?;
            Ok(())
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result?;
        Ok(format!(
            "built {tag} from {} and cached it in {}",
            rootfs.display(),
            cache.display()
        ))
    }
}

fn tempdir_in(parent: &Path) -> Result<PathBuf> {
    let dir = parent.join(format!("build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

// ---------------------------------------------------------------------------------------------
// Plans

/// The wheel the image installs: the pinned tool venv, then the Python build of this commit
/// (skipped when recorded). `ensure_venv`: an action that checks at run time (when the Python
/// target's steps may already have made it) instead of the venv's plain steps.
pub fn wheel_steps(facts: &Facts, ensure_venv: bool) -> Vec<Step> {
    let venv = crate::targets::pypi::Venv::tools(&facts.work);
    let mut steps = if ensure_venv {
        vec![Step::Action(Box::new(crate::rig::provision::EnsureVenv(
            venv.clone(),
        )))]
    } else {
        venv.steps(&facts.cfg.root)
    };
    steps.push(Step::Action(Box::new(crate::targets::pypi::Build {
        python: venv.python(),
        root: facts.cfg.root.clone(),
        outdir: facts.dist_dir(),
        stem: crate::targets::pypi::file_stem(&facts.package),
        pep440: facts.pep440(),
        epoch: facts.commit_time,
        commit: facts.commit.clone(),
    })));
    steps
}

/// Build + validate (docker-validate, and the build stage of publish-prod).
pub fn image_steps(spec: &ImageSpec) -> Vec<Step> {
    vec![
        Step::Action(Box::new(BuildImage::new(spec))),
        Step::Action(Box::new(Validate { spec: spec.clone() })),
    ]
}

/// The tags this release gets.
pub fn planned_tags(facts: &Facts, docker: &DockerConfig) -> Result<Vec<PlannedTag>, String> {
    let policy = TagPolicy::from_kinds(&facts.cfg.tag_prefix, &docker.tags)?;
    Ok(dockertags::plan(
        &facts.version,
        &facts.released,
        &facts.short,
        &policy,
    ))
}

/// The Docker target of `publish-prod`; `None` when the project publishes no image.
pub fn gather(facts: &Facts, problems: &mut Problems) -> Gathered {
    let Some(docker) = facts.cfg.docker.clone() else {
        return Ok(None);
    };
    let credentials = credentials_from_env(problems);
    let spec = ImageSpec::new(facts, &docker, docker.platforms.clone(), problems);
    check(&spec, problems);
    let before = problems.list.len();
    crate::targets::pypi::check_python(problems);
    let added: Vec<String> = problems.list.drain(before..).collect();
    for p in added {
        push_once(problems, p);
    }
    let tags = match planned_tags(facts, &docker) {
        Ok(t) => t,
        Err(e) => {
            problems.invalid(format!("[workspace.metadata.release.docker] tags: {e}"));
            Vec::new()
        }
    };
    let mut build = wheel_steps(facts, true);
    build.extend(image_steps(&spec));
    let publish = vec![Step::Action(Box::new(Push {
        spec: spec.clone(),
        registries: docker.registries.clone(),
        tags: tags.clone(),
        credentials: credentials.clone(),
    }))];
    let verify = vec![Step::Action(Box::new(Verify {
        spec,
        registries: docker.registries.clone(),
        tags,
        credentials,
    }))];
    Ok(Some(TargetPlan {
        build,
        publish,
        verify,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn from_lines_resolve_args_and_skip_stages() {
        let df = "# syntax\nARG BASE_IMAGE=python:3.12-slim\nARG OTHER\nFROM ${BASE_IMAGE} AS build\nRUN x \\\n  && y\nFROM --platform=$BUILDPLATFORM build\nFROM scratch\nFROM $OTHER\n";
        assert_eq!(
            from_images(df, &args(&[("OTHER", "busybox:1")])).unwrap(),
            ["python:3.12-slim", "busybox:1"]
        );
        assert_eq!(
            from_images(
                df,
                &args(&[
                    ("BASE_IMAGE", "slipway-base:bookworm-python"),
                    ("OTHER", "x")
                ])
            )
            .unwrap(),
            ["slipway-base:bookworm-python", "x"]
        );
        let err = from_images(df, &[]).unwrap_err();
        assert!(
            err.starts_with("line 9: FROM $OTHER: $OTHER has no value"),
            "{err}"
        );
        assert_eq!(
            from_images("from ${B:-debian:12}\n", &[]).unwrap(),
            ["debian:12"]
        );
    }

    #[test]
    fn bases_named_by_build_args_are_told_apart() {
        let df = "ARG BASE_IMAGE=python:3.12-slim\nARG TOOLS=golang:1.22\nFROM ${TOOLS} AS tools\nFROM $BASE_IMAGE\nFROM debian:12\n";
        assert_eq!(
            from_images_by_source(df, &args(&[("BASE_IMAGE", "local:py")])).unwrap(),
            [
                ("golang:1.22".to_string(), false),
                ("local:py".to_string(), true),
                ("debian:12".to_string(), false)
            ]
        );
        assert_eq!(var_names("${A}-$B_1:${C:-x}"), ["A", "B_1", "C"]);
    }

    #[test]
    fn the_reference_dockerfile_starts_from_the_build_arg() {
        // The FROM part of the reference Dockerfile.
        let df = "# The reference image.\nARG BASE_IMAGE=python:3.12-slim\nFROM ${BASE_IMAGE}\n\nARG DIST=dist\nCOPY ${DIST}/*.whl /tmp/dist/\n";
        assert_eq!(
            from_images(df, &args(&[("BASE_IMAGE", "slipway-base:bookworm-python")])).unwrap(),
            ["slipway-base:bookworm-python"]
        );
        assert_eq!(from_images(df, &[]).unwrap(), ["python:3.12-slim"]);
    }

    #[test]
    fn platforms() {
        assert_eq!(platform_slug("linux/amd64"), "amd64");
        assert_eq!(platform_slug("linux/arm/v7"), "arm-v7");
        assert!(same_platform("linux/arm64/v8", "linux/arm64"));
        assert!(!same_platform("linux/arm/v7", "linux/arm/v6"));
        assert_eq!(
            substitute_platform("base:py-${TARGETARCH}${TARGETVARIANT}", "linux/arm/v7"),
            "base:py-armv7"
        );
        assert_eq!(binfmt_entry(&native_platform()), None);
    }

    #[test]
    fn push_output_digests() {
        let out = "The push refers to repository [127.0.0.1:5000/acme/app]\n5a96: Pushed\nv0.1.0: digest: sha256:ece2e6dde462cf84dfd7793dec88ad83f609372da903ed82485f949715bd5d7e size: 945\n";
        assert_eq!(
            pushed_digest(out, "v0.1.0").as_deref(),
            Some("sha256:ece2e6dde462cf84dfd7793dec88ad83f609372da903ed82485f949715bd5d7e")
        );
        assert_eq!(pushed_digest(out, "v0.1"), None);
        assert_eq!(
            manifest_push_digest("Pushed ref 127.0.0.1:5000/x@sha256:aa with digest: sha256:bb\nsha256:fdb4f9b09b4ab78a31e354520d264b9419d18acffaa5f15037b8a22bdcdb362e\n").as_deref(),
            Some("sha256:fdb4f9b09b4ab78a31e354520d264b9419d18acffaa5f15037b8a22bdcdb362e")
        );
    }

    #[test]
    fn index_identity_ignores_attestations_and_order() {
        let images: BTreeMap<String, String> =
            [("linux/amd64", "sha256:a"), ("linux/arm64", "sha256:b")]
                .iter()
                .map(|(p, i)| (p.to_string(), i.to_string()))
                .collect();
        let idx = |children: &[(&str, &str)]| Remote::Index {
            digest: "sha256:i".into(),
            children: children
                .iter()
                .map(|(p, c)| (p.to_string(), "sha256:m".to_string(), c.to_string()))
                .collect(),
        };
        assert!(idx(&[
            ("linux/arm64/v8", "sha256:b"),
            ("linux/amd64", "sha256:a"),
            ("unknown/unknown", "")
        ])
        .index_holds(&images));
        assert!(!idx(&[("linux/amd64", "sha256:a")]).index_holds(&images));
        assert!(
            !idx(&[("linux/amd64", "sha256:a"), ("linux/arm64", "sha256:c")]).index_holds(&images)
        );
    }

    #[test]
    fn conflicts_read_as_one_sentence_with_the_fix() {
        let m = conflict(
            "127.0.0.1:5000/acme/app",
            "v1.3.0",
            &Remote::Image {
                digest: "sha256:aa".into(),
                config: "sha256:cc".into(),
            },
            "image sha256:dd",
            TagKind::Exact,
        );
        assert_eq!(m, "127.0.0.1:5000/acme/app:v1.3.0 already points at sha256:aa (image sha256:cc), but this build is image sha256:dd; a release tag never moves — release a new version (`cargo xtask release patch`)");
    }

    #[test]
    fn times_and_base64() {
        assert_eq!(rfc3339(1795219200 + 3661), "2026-11-21T01:01:01Z");
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(
            base64_decode(&crate::targets::docker::registry::base64(b"ab:c")).unwrap(),
            b"ab:c"
        );
    }
}
