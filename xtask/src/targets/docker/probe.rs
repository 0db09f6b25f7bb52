//! How the health probe reaches a validation container.
//!
//! The probe is a small python3 script that GETs paths on `127.0.0.1:<health.port>`. When the
//! image has `python3`, it runs inside the container (`docker exec`). When it has none (an image
//! `FROM scratch` with a static server), it runs in a sidecar that joins the container's network
//! namespace (`docker run --network container:<name>`): the same loopback, still no network at
//! all, from `health.probe-image` (default: the local base image, which has python3). The
//! sidecar is removed when it exits (`--rm`) and labelled like the container, so the sweep of
//! stale validation containers finds it too.
//!
//! [`decide`] is the pure choice, from the exit status of `docker exec <name> python3 -c ''`
//! ([`python_check`]); [`via`] makes it once per container.

use std::sync::Mutex;

use anyhow::{bail, Result};

use super::engine;
use super::spec::{ImageSpec, VALIDATE_LABEL};
use crate::run::plan::Process;

/// Where the probe runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Inside the container: `docker exec <name> python3 …`.
    Exec,
    /// In a sidecar from `image` sharing the container's network namespace.
    Sidecar { image: String },
}

/// The probe image: `health.probe-image`, else the local base image.
pub fn probe_image(spec: &ImageSpec) -> String {
    spec.health
        .probe_image
        .clone()
        .unwrap_or_else(|| engine::BASE_IMAGE.to_string())
}

/// The choice, from the exit status of [`python_check`] (None: killed by a signal). `docker exec`
/// exits 126 or 127 when the program cannot be run or is not found.
pub fn decide(check: Option<i32>, probe_image: &str) -> Result<Via, String> {
    match check {
        Some(0) => Ok(Via::Exec),
        Some(126 | 127) => Ok(Via::Sidecar {
            image: probe_image.to_string(),
        }),
        Some(code) => Err(format!(
            "cannot tell whether the container has python3 (`docker exec … python3 -c ''` exited with status {code})"
        )),
        None => Err("cannot tell whether the container has python3 (`docker exec … python3 -c ''` was killed by a signal)".into()),
    }
}

/// `docker exec <name> python3 -c ''`: exit 0 when the image has python3.
pub fn python_check(spec: &ImageSpec, name: &str) -> Process {
    spec.docker().args(["exec", name, "python3", "-c", ""])
}

/// `docker image inspect <image>`: is the probe image in the engine?
pub fn image_check(spec: &ImageSpec, image: &str) -> Process {
    spec.docker()
        .args(["image", "inspect", "--format", "{{.Id}}", image])
}

/// The probe process: `script <port> <path…>` inside the container or in the sidecar.
pub fn process(spec: &ImageSpec, via: &Via, name: &str, paths: &[&str], script: &str) -> Process {
    let p = match via {
        Via::Exec => spec.docker().args(["exec", name, "python3", "-c", script]),
        Via::Sidecar { image } => {
            sidecar(spec, name, image, &std::process::id().to_string(), script)
        }
    };
    p.args([spec.health.port.to_string()])
        .args(paths.iter().copied())
}

/// `docker run … --entrypoint python3 <image> -c <script>` in the container's network namespace.
fn sidecar(spec: &ImageSpec, name: &str, image: &str, pid: &str, script: &str) -> Process {
    spec.docker().args([
        "run",
        "--rm",
        "--network",
        &format!("container:{name}"),
        "--pull=never",
        "--label",
        &format!("{VALIDATE_LABEL}={pid}"),
        "--entrypoint",
        "python3",
        image,
        "-c",
        script,
    ])
}

/// What a plan lists besides the in-container probe: the python3 check, the probe image check
/// and the sidecar probes (run only when the image has no python3).
pub fn planned(spec: &ImageSpec, name: &str, paths: &[&[&str]], script: &str) -> Vec<Process> {
    let image = probe_image(spec);
    let mut out = vec![python_check(spec, name), image_check(spec, &image)];
    for p in paths {
        out.push(
            sidecar(spec, name, &image, "<pid>", script)
                .args([spec.health.port.to_string()])
                .args(p.iter().copied()),
        );
    }
    out
}

/// Containers whose probe choice is made: (name, choice).
static CHOSEN: Mutex<Vec<(String, Via)>> = Mutex::new(Vec::new());

/// The probe's way into the running container `name`, decided once per container.
pub fn via(spec: &ImageSpec, name: &str) -> Result<Via> {
    let mut chosen = CHOSEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, v)) = chosen.iter().find(|(n, _)| n == name) {
        return Ok(v.clone());
    }
    let check = crate::run::process::output(&python_check(spec, name))?;
    let via = match decide(check.code, &probe_image(spec)) {
        Ok(v) => v,
        Err(why) => bail!("{why}: {}", check.stderr.trim()),
    };
    if let Via::Sidecar { image } = &via {
        if !crate::run::process::succeeds(&image_check(spec, image)) {
            bail!(
                "the image has no python3, so the health probe runs from a sidecar of {image} \
                 (health.probe-image), which the engine does not have: run `cargo xtask provision` \
                 (it builds {}), or set health.probe-image to a local image with python3",
                engine::BASE_IMAGE
            );
        }
    }
    chosen.push((name.to_string(), via.clone()));
    Ok(via)
}

/// What a failed probe says about where it ran.
pub fn context(via: &Via) -> String {
    match via {
        Via::Exec => "probing inside the container (docker exec … python3)".into(),
        Via::Sidecar { image } => format!(
            "probing from a sidecar of {image} in the container's network namespace (health.probe-image)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python3_in_the_image_decides_where_the_probe_runs() {
        assert_eq!(decide(Some(0), "p:1"), Ok(Via::Exec));
        for code in [126, 127] {
            assert_eq!(
                decide(Some(code), "p:1"),
                Ok(Via::Sidecar {
                    image: "p:1".into()
                })
            );
        }
        assert!(decide(Some(1), "p:1").unwrap_err().contains("status 1"));
        assert!(decide(None, "p:1").unwrap_err().contains("signal"));
    }
}
