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

pub mod calls;
pub mod digests;
pub mod engine;
pub mod promote;
pub mod registry;
pub mod rollback;

use crate::run::plan::Step;
use crate::targets::publish::{Facts, Gathered, TargetPlan};
use crate::Problems;

mod build;
mod check;
#[cfg(test)]
mod decide_tests;
mod dockerfile;
mod platform;
mod probe;
mod push;
mod remote;
mod spec;
mod validate;
mod verify;

pub use build::*;
pub use check::*;
pub use dockerfile::*;
pub use platform::*;
pub use push::*;
pub use remote::*;
pub use spec::*;
pub use validate::*;
pub use verify::*;

// ---------------------------------------------------------------------------------------------
// Plans

/// The Docker image target.
pub struct Docker;

impl crate::targets::Target for Docker {
    fn name(&self) -> &'static str {
        "docker"
    }
    fn gather(&self, facts: &Facts, problems: &mut Problems) -> Gathered {
        gather(facts, problems)
    }
    fn unconfigured(&self) -> Option<String> {
        Some(format!(
            "--only docker, but {} has no [workspace.metadata.release.docker] table: add one \
             (image = \"acme/app\", registries = [\"ghcr.io\"])",
            crate::facts::config::FILE
        ))
    }
    fn verify(&self, facts: &Facts, problems: &mut Problems) -> Vec<Step> {
        verify_step(facts, problems).into_iter().collect()
    }
    fn build_rank(&self) -> u8 {
        1
    }
    fn publish_rank(&self) -> u8 {
        0
    }
}

/// The wheel the image installs: the pinned tool venv (its steps only when it is not ready),
/// then the Python build of this commit (skipped when recorded). In `publish-prod` these are
/// planned only when the Python target is not (it builds the same wheel), so what the plan lists
/// is what runs.
pub fn wheel_steps(facts: &Facts, problems: &mut Problems) -> Vec<Step> {
    crate::targets::pypi::build_steps(facts, problems)
}

/// Build + validate (docker-validate, and the build stage of publish-prod). `reuse_validated`:
/// an image that `docker-validate` validated already (same image ID, same health check) is not
/// validated again (publish-prod right after docker-validate); docker-validate itself always
/// validates.
pub fn image_steps(spec: &ImageSpec, reuse_validated: bool) -> Vec<Step> {
    vec![
        Step::Action(Box::new(BuildImage::new(spec))),
        Step::Action(Box::new(Validate {
            spec: spec.clone(),
            reuse_validated,
        })),
    ]
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
    let inputs = wheel_steps(facts, problems);
    let build = image_steps(&spec, true);
    let independent_build = !spec.needs_wheel;
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
        inputs,
        build,
        publish,
        verify,
        independent_build,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dockertags::TagKind;
    use std::collections::BTreeMap;

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
