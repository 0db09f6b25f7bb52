//! The image of a release: what is built, from which wheel, with which labels and build-args.

use super::engine;
use super::platform::platform_parts;
use super::platform::platform_slug;
use super::platform::substitute_platform;
use crate::core::dockertags::{self, PlannedTag, TagPolicy};
use crate::facts::config::{DockerConfig, HealthConfig};
use crate::run::plan::{Process, Val};
use crate::targets::publish::Facts;
use crate::Problems;
use std::path::PathBuf;

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
    /// The Dockerfile installs the release's wheel ([`super::dockerfile::uses_the_wheel`]): its
    /// build needs the Python build first (else they run at the same time).
    pub needs_wheel: bool,
    pub health: HealthConfig,
    /// The docker client for the engine (`DOCKER_HOST`, the client program), resolved once when
    /// the plan is made: the steps' pure decisions build their processes from it.
    pub engine: Process,
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
                     widen `context` (slipway builds the wheel under target/slipway/ in the repository)",
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
        if let Some(url) = crate::facts::commits::repo_url(cfg) {
            labels.push(("org.opencontainers.image.source".into(), url));
        }
        if !facts.package.is_empty() {
            labels.push((
                "org.opencontainers.image.title".into(),
                facts.package.clone(),
            ));
        }
        labels.push((PEP440_LABEL.into(), facts.pep440()));
        let dockerfile = cfg.root.join(&docker.dockerfile);
        // Unreadable: as if it used the wheel (the build reports the real problem).
        let needs_wheel = std::fs::read_to_string(&dockerfile)
            .map(|t| super::dockerfile::uses_the_wheel(&t))
            .unwrap_or(true);
        ImageSpec {
            root: cfg.root.clone(),
            work: facts.work.clone(),
            image: docker.image.clone(),
            dockerfile,
            context,
            platforms,
            build_args,
            labels,
            exact_tag: dockertags::exact_tag(&cfg.tag_prefix, &facts.version),
            pep440: facts.pep440(),
            commit: facts.commit.clone(),
            dist_dir,
            needs_wheel,
            health: docker.health.clone(),
            engine: engine::docker(&cfg.root, None),
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

    pub(crate) fn docker(&self) -> Process {
        // Builds and containers need no credentials: always the private client config, so the
        // user's ~/.docker is never written.
        self.engine.clone().env(
            "DOCKER_CONFIG",
            Val::Plain(engine::private_config(&self.work).display().to_string()),
        )
    }

    pub(crate) fn iidfile(&self, platform: &str) -> PathBuf {
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
