//! Verify through the registry API that every tag resolves to the pushed digest.

use super::build::BUILD_RECORD;
use super::check::credentials_from_env;
use super::check::local_platform;
use super::check::registry_credentials;
use super::check::Login;
use super::platform::same_platform;
use super::registry;
use super::remote::read_remote;
use super::remote::Remote;
use super::spec::digest_key;
use super::spec::image_key;
use super::spec::planned_tags;
use super::spec::ImageSpec;
use crate::core::dockertags::PlannedTag;
use crate::run::plan::{Decision, Planned, Reconcile, Request, RunContext, Step, Sub, Val};
use crate::targets::publish::Facts;
use crate::Problems;
use anyhow::{bail, Result};
use registry::Repo;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Through the registry HTTP API: every planned tag on every registry resolves to the digest
/// that was pushed, whose config is the built image (per platform for an index).
#[derive(Debug)]
pub struct Verify {
    pub spec: ImageSpec,
    pub registries: Vec<String>,
    pub tags: Vec<PlannedTag>,
    pub credentials: Option<Login>,
}

/// What [`Verify`] reads on one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySeen {
    pub registry: String,
    /// The digest this run pushed there (none when verifying after the fact).
    pub pushed: Option<String>,
    pub exact: Remote,
    /// Every planned tag, in order.
    pub tags: Vec<(String, Remote)>,
    /// Per platform (multi-platform only): its arch tag and what it holds.
    pub arch: Vec<(String, String, Remote)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySeen {
    /// The built images (platform → image ID): this run's, else this commit's recorded build.
    pub images: Option<BTreeMap<String, String>>,
    pub registries: Vec<RegistrySeen>,
}

impl Verify {
    fn manifest_read(&self, registry: &str, tag: &str) -> Sub {
        let full = format!("{}/{}", registry.trim_end_matches('/'), self.spec.image);
        let repo = Repo::parse(&full);
        Sub::Http(Request {
            method: "GET".into(),
            url: format!(
                "{}/v2/{}/manifests/{tag}",
                registry::api_base(&repo.registry),
                repo.path
            ),
            headers: vec![(
                "Accept".into(),
                Val::Plain(registry::MANIFEST_TYPES.join(", ")),
            )],
            body: None,
            service: format!("registry {registry}"),
        })
    }
}

impl Reconcile for Verify {
    type Seen = VerifySeen;
    fn header(&self) -> String {
        format!(
            "verify {} tag(s) of {} on {} through the registry API",
            self.tags.len(),
            self.spec.image,
            self.registries.join(", ")
        )
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "every tag = the pushed digest; its config digest = the built image ID{}",
            if self.spec.multi() {
                "; the index lists every platform with its own image"
            } else {
                ""
            }
        ))
    }
    fn planned(&self) -> Planned {
        let mut observe = Vec::new();
        for r in &self.registries {
            observe.push(self.manifest_read(r, &self.spec.exact_tag));
            observe.push(self.manifest_read(r, "<tag>"));
            if self.spec.multi() {
                for p in &self.spec.platforms {
                    observe.push(self.manifest_read(r, &self.spec.arch_tag(p)));
                }
            }
        }
        Planned {
            observe,
            apply: Vec::new(),
        }
    }
    fn observe(&self, cx: &RunContext) -> Result<VerifySeen> {
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
        let mut registries = Vec::new();
        for r in &self.registries {
            let full = format!("{}/{}", r.trim_end_matches('/'), self.spec.image);
            let path = Repo::parse(&full).path;
            let host = Repo::parse(&full).registry;
            let creds = registry_credentials(&host, &self.credentials);
            let mut client =
                registry::Client::new(&host, creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str())));
            let exact = read_remote(&mut client, &path, &self.spec.exact_tag)?;
            let mut tags = Vec::new();
            for t in &self.tags {
                tags.push((t.tag.clone(), read_remote(&mut client, &path, &t.tag)?));
            }
            let mut arch = Vec::new();
            if self.spec.multi() {
                for p in &self.spec.platforms {
                    let tag = self.spec.arch_tag(p);
                    let remote = read_remote(&mut client, &path, &tag)?;
                    arch.push((p.clone(), tag, remote));
                }
            }
            registries.push(RegistrySeen {
                registry: r.clone(),
                pushed: cx.values.get(&digest_key(r)).cloned(),
                exact,
                tags,
                arch,
            });
        }
        Ok(VerifySeen { images, registries })
    }
    fn decide(&self, seen: &VerifySeen) -> Result<Decision> {
        let images = &seen.images;
        let mut lines = Vec::new();
        for rs in &seen.registries {
            let full = format!("{}/{}", rs.registry.trim_end_matches('/'), self.spec.image);
            let exact = &rs.exact;
            let expected = match (&rs.pushed, exact.digest()) {
                (Some(pushed), _) => pushed.clone(),
                (None, Some(d)) => d.to_string(),
                (None, None) => bail!("{full}:{} is missing on the registry", self.spec.exact_tag),
            };
            for (tag, remote) in &rs.tags {
                match remote.digest() {
                    None => bail!("{full}:{tag} is missing on the registry"),
                    Some(d) if d != expected => {
                        bail!("{full}:{tag} resolves to {d}, but {expected} was pushed")
                    }
                    Some(_) => {}
                }
                let holds = match (remote, self.spec.multi(), images) {
                    (_, _, None) => true,
                    (Remote::Image { config, .. }, false, Some(images)) => {
                        Some(config) == images.values().next()
                    }
                    (r @ Remote::Index { .. }, true, Some(images)) => r.index_holds(images),
                    _ => false,
                };
                if !holds {
                    bail!("{full}:{tag} ({expected}) does not hold the built image: {remote:?}");
                }
            }
            let mut what = format!(
                "{full}: {} → {expected}",
                rs.tags
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if self.spec.multi() {
                let Remote::Index { children, .. } = exact else {
                    bail!("{full}:{} is not an index: {exact:?}", self.spec.exact_tag);
                };
                for (p, tag, remote) in &rs.arch {
                    let listed = children
                        .iter()
                        .find(|(cp, _, _)| same_platform(cp, p))
                        .map(|(_, d, _)| d.as_str());
                    let built = images.as_ref().map(|i| i[p].as_str());
                    match remote {
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
                match images {
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
        Ok(Decision::Verified(lines.join("\n")))
    }
}

/// The image a recorded build of this commit made for `platform` (still in the engine).
pub(crate) fn recorded_image(spec: &ImageSpec, platform: &str) -> Option<String> {
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
