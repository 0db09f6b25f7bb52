//! Build the image once per commit, recorded so a re-run reuses it.

use super::check::local_platform;
use super::check::rel;
use super::dockerfile::from_images_by_source;
use super::platform::same_platform;
use super::spec::image_key;
use super::spec::ImageSpec;
use crate::run::plan::{Action, Done, Process, RunContext};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value as Json};
use std::path::PathBuf;

/// Builds the image for every platform, once: a build of the same inputs recorded earlier is
/// reused while the engine still has the image. Sets `docker.image.<platform>`.
#[derive(Debug)]
pub struct BuildImage {
    pub spec: ImageSpec,
    /// (platform, image) of the Dockerfile's own bases (not named by build-args): pulled for
    /// that platform when the engine lacks them.
    pub pulls: Vec<(String, String)>,
}

pub(crate) const BUILD_RECORD: &str = "builds.json";

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

    pub(crate) fn pull_process(&self, platform: &str, image: &str) -> Process {
        self.spec
            .docker()
            .args(["pull", "--platform", platform, image])
    }

    /// Pulls the Dockerfile's own bases for `platform` that the engine lacks (or has for another
    /// platform); returns what it pulled.
    pub(crate) fn pull_bases(&self, platform: &str) -> Result<Vec<String>> {
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

    fn inspect_process(&self, id: &str) -> Process {
        self.spec
            .docker()
            .args(["image", "inspect", "--format", "{{.Id}}", id])
    }

    fn tag_process(&self, platform: &str, id: &str) -> Process {
        self.spec
            .docker()
            .args(["tag", id, &self.spec.local_name(platform)])
    }

    pub(crate) fn record_path(&self) -> PathBuf {
        self.spec.work.join("docker").join(BUILD_RECORD)
    }

    /// What makes two builds the same: commit, Dockerfile, args, labels, wheels, platform.
    pub(crate) fn key(&self, platform: &str) -> Result<String> {
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

    pub(crate) fn records(&self) -> serde_json::Map<String, Json> {
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
    fn planned(&self) -> Vec<Process> {
        let mut out = Vec::new();
        for platform in &self.spec.platforms {
            // A recorded build still in the engine: reused, its local name put back on it.
            out.push(self.inspect_process("<recorded image-id>"));
            out.push(self.tag_process(platform, "<recorded image-id>"));
            for (p, image) in self.pulls.iter().filter(|(p, _)| p == platform) {
                out.push(super::check::local_platform_process(&self.spec, image));
                out.push(self.pull_process(p, image));
            }
            out.push(self.spec.build_process(platform));
        }
        out
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
                let present = crate::run::exec::run_captured(&self.inspect_process(&id))
                    .is_ok_and(|out| out.trim() == id);
                if present {
                    // Keep the local name on the image (a later build may have taken it).
                    let _ = crate::run::exec::run_captured(&self.tag_process(platform, &id));
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
