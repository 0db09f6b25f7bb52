//! Foreign platforms for the rehearsal rig (`SLIPWAY_ARM64=1 cargo xtask provision`): qemu
//! binfmt and a base image per foreign architecture.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use xtask::run::plan::{Action, Done, Process, RunContext, Val};
use xtask::targets::docker::engine;
use xtask::targets::docker::{native_platform, platform_parts, platform_slug, same_platform};

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
            xtask::run::exec::run_captured(&Process::new("mount", cx.root).args([
                "-t",
                "binfmt_misc",
                "binfmt_misc",
                "/proc/sys/fs/binfmt_misc",
            ]))
            .context("mounting binfmt_misc (needs root)")?;
        }
        xtask::run::exec::run_captured(
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
            "{}-r{}.docker.tar",
            self.tag().replace([':', '/'], "_"),
            crate::provision::BASE_RECIPE
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
            xtask::run::exec::run_captured(&docker().args([
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
            xtask::run::exec::run_captured(&docker().args([
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
                    xtask::run::exec::run_captured(
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
        let rootfs = crate::provision::rootfs_cache(arch);
        if !rootfs.exists() {
            let tmp = rootfs.with_extension("tmp.tar");
            let mm = crate::provision::mmdebstrap(root, Some(arch), &tmp);
            xtask::run::exec::run_captured(&mm)
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
                format!(
                    "FROM scratch\nADD rootfs.tar /\nENV LANG=C.UTF-8\nLABEL {}={}\nCMD [\"python3\"]\n",
                    crate::provision::RECIPE_LABEL,
                    crate::provision::BASE_RECIPE
                ),
            )?;
            xtask::run::exec::run_captured(
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
            xtask::run::exec::run_captured(
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
