//! Build the image once per commit, recorded so a re-run reuses it.

use super::check::local_platform;
use super::check::rel;
use super::dockerfile::from_images_by_source;
use super::platform::same_platform;
use super::spec::image_key;
use super::spec::ImageSpec;
use crate::run::plan::{Decision, Planned, Process, Reconcile, Run, RunContext, Sub};
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
        // An image that does not install the wheel does not depend on it (it builds at the same
        // time as the Python dists, which may not exist yet).
        let dists = if s.needs_wheel {
            crate::targets::pypi::local_dists(&s.dist_dir)?
        } else {
            Vec::new()
        };
        let wheels: Vec<String> = dists
            .into_iter()
            .filter(|(n, _, _)| n.ends_with(".whl"))
            .map(|(n, _, sha)| format!("{n}={sha}"))
            .collect();
        if wheels.is_empty() && s.needs_wheel {
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

/// What [`BuildImage`] reads for one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSeen {
    pub platform: String,
    /// What makes two builds the same (see [`BuildImage::key`]).
    pub key: String,
    /// The image a recorded build with this key made, when the engine still has it.
    pub earlier: Option<String>,
    /// The image the local name points at.
    pub named: Option<String>,
    /// The Dockerfile's own bases the engine lacks for this platform.
    pub missing_bases: Vec<String>,
    /// The image this run's build wrote to its iidfile (once it has built).
    pub built: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSeen {
    pub platforms: Vec<PlatformSeen>,
    /// The build record as it is (`builds.json`).
    pub records: serde_json::Map<String, Json>,
}

impl BuildImage {
    fn built_key(platform: &str) -> String {
        format!("docker.built {platform}")
    }
}

impl Reconcile for BuildImage {
    type Seen = BuildSeen;
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
    fn rule(&self) -> Option<String> {
        Some(format!(
            "skipped when this commit's build (same Dockerfile, args, wheel) is recorded in {} and still in the engine",
            rel(&self.spec.root, &self.record_path())
        ))
    }
    fn planned(&self) -> Planned {
        let mut observe = Vec::new();
        let mut apply = Vec::new();
        for platform in &self.spec.platforms {
            observe.push(Sub::run(
                self.inspect_process(&format!("<recorded image {platform}>")),
            ));
            observe.push(Sub::run(
                self.inspect_process(&self.spec.local_name(platform)),
            ));
            for (p, image) in self.pulls.iter().filter(|(p, _)| p == platform) {
                observe.push(Sub::run(super::check::local_platform_process(
                    &self.spec, image,
                )));
                apply.push(Sub::run(self.pull_process(p, image)));
            }
            apply.push(Sub::Dir(self.spec.work.join("docker")));
            apply.push(Sub::Remove(self.spec.iidfile(platform)));
            apply.push(Sub::run(self.spec.build_process(platform)));
            apply.push(Sub::run(
                self.tag_process(platform, &format!("<recorded image {platform}>")),
            ));
        }
        apply.push(Sub::Write {
            path: self.record_path(),
            content: "<record>".into(),
        });
        Planned { observe, apply }
    }
    fn observe(&self, cx: &RunContext) -> Result<BuildSeen> {
        let records = self.records();
        let inspect = |name: &str| {
            crate::run::exec::run_captured(&self.inspect_process(name))
                .ok()
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
        };
        let mut platforms = Vec::new();
        for platform in &self.spec.platforms {
            let key = self.key(platform)?;
            let earlier = records
                .get(&key)
                .and_then(|r| r["image"].as_str())
                .filter(|id| inspect(id).as_deref() == Some(*id))
                .map(str::to_string);
            let built = if cx.values.get(&Self::built_key(platform)) == Some(&key) {
                let iid = self.spec.iidfile(platform);
                Some(
                    std::fs::read_to_string(&iid)
                        .with_context(|| {
                            format!("docker build wrote no image ID to {}", iid.display())
                        })?
                        .trim()
                        .to_string(),
                )
            } else {
                None
            };
            let missing_bases = if earlier.is_none() && built.is_none() {
                self.pulls
                    .iter()
                    .filter(|(p, _)| p == platform)
                    .filter(|(p, image)| {
                        !local_platform(&self.spec, image)
                            .is_some_and(|have| same_platform(&have, p))
                    })
                    .map(|(_, image)| image.clone())
                    .collect()
            } else {
                Vec::new()
            };
            platforms.push(PlatformSeen {
                platform: platform.clone(),
                named: inspect(&self.spec.local_name(platform)),
                key,
                earlier,
                missing_bases,
                built,
            });
        }
        Ok(BuildSeen { platforms, records })
    }
    fn decide(&self, seen: &BuildSeen) -> Result<Decision> {
        let mut subs = Vec::new();
        let mut said = Vec::new();
        let mut records = seen.records.clone();
        let mut reused = Vec::new();
        let mut done: Vec<(String, String)> = Vec::new();
        for p in &seen.platforms {
            if let Some(id) = &p.earlier {
                if p.named.as_deref() != Some(id.as_str()) {
                    // Keep the local name on the image (a later build may have taken it).
                    subs.push(Sub::run(self.tag_process(&p.platform, id)));
                }
                reused.push(format!("{} {id}", p.platform));
                done.push((image_key(&p.platform), id.clone()));
            } else if let Some(id) = &p.built {
                // This run's build: recorded, so a re-run reuses it.
                records.insert(
                    p.key.clone(),
                    json!({"image": id, "platform": p.platform, "commit": self.spec.commit, "name": self.spec.local_name(&p.platform)}),
                );
                said.push(format!(
                    "built {} {id} ({})",
                    p.platform,
                    self.spec.local_name(&p.platform)
                ));
            } else {
                for image in &p.missing_bases {
                    subs.push(
                        Run::new(self.pull_process(&p.platform, image))
                            .explain({
                                let (image, platform) = (image.clone(), p.platform.clone());
                                move |e| {
                                    Some(format!(
                                        "pulling the base image {image} for {platform}: {e}"
                                    ))
                                }
                            })
                            .sub(),
                    );
                    said.push(format!("pulled {image} ({})", p.platform));
                }
                subs.push(Sub::Dir(self.spec.work.join("docker")));
                subs.push(Sub::Remove(self.spec.iidfile(&p.platform)));
                let platform = p.platform.clone();
                subs.push(
                    Run::new(self.spec.build_process(&p.platform))
                        .explain(move |e| Some(format!("docker build for {platform}: {e}")))
                        .sub(),
                );
                subs.push(Sub::Record(Self::built_key(&p.platform), p.key.clone()));
            }
        }
        if records != seen.records {
            subs.push(Sub::Write {
                path: self.record_path(),
                content: serde_json::to_string_pretty(&Json::Object(records))?,
            });
        }
        if subs.is_empty() {
            let short = &self.spec.commit[..self.spec.commit.len().min(7)];
            let mut d = Decision::done(format!(
                "built earlier from {short}, still in the engine: {}",
                reused.join(", ")
            ));
            for (k, v) in done {
                d = d.recording(k, v);
            }
            return Ok(d);
        }
        Ok(Decision::apply(subs, said.join("; ")))
    }
    fn rounds(&self) -> usize {
        4
    }
    fn json(&self) -> Json {
        json!({"platforms": self.spec.platforms, "labels": self.spec.labels, "build_args": self.spec.build_args})
    }
}
