//! Problems found before anything runs: engine, bases, credentials.

use super::dockerfile::from_images_by_source;
use super::engine;
use super::platform::binfmt_entry;
use super::platform::native_platform;
use super::platform::same_platform;
use super::spec::ImageSpec;
use crate::run::plan::{Process, Val};
use crate::Problems;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

pub(crate) fn push_once(problems: &mut Problems, msg: String) {
    if !problems.list.contains(&msg) {
        problems.failure(msg);
    }
}

/// Reads `docker image inspect`: the platform of a local image, None when it is absent.
pub(crate) fn local_platform(spec: &ImageSpec, image: &str) -> Option<String> {
    crate::run::exec::run_captured(&local_platform_process(spec, image))
        .ok()
        .map(|s| s.trim().to_string())
}

/// `docker image inspect` for an image's platform.
pub(crate) fn local_platform_process(spec: &ImageSpec, image: &str) -> Process {
    spec.docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}",
        image,
    ])
}

/// The docker client, a daemon that answers, the Dockerfile and the base images its build-args
/// name (present in the engine, for the right platform), qemu for foreign platforms.
pub fn check(spec: &ImageSpec, problems: &mut Problems) {
    let client = engine::client();
    if !crate::run::process::installed(&client) {
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

pub(crate) fn base_image_fix(image: &str, platform: &str) -> String {
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

pub(crate) fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Registry credentials from the environment; the password shows as `***`, also in `{:?}`.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    pub password: Val,
}

impl Login {
    pub(crate) fn pair(&self) -> (String, String) {
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
        let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
        let get = Process::new(&format!("docker-credential-{helper}"), &cwd)
            .args(["get"])
            .stdin(Val::Plain(registry.to_string()));
        let out = crate::run::process::output(&get).ok()?;
        let j: Json = serde_json::from_str(&out.stdout).ok()?;
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

pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    crate::core::base64::decode(s)
}
