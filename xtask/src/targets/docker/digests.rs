//! Build once, publish by digest: the split of the release workflow into one job per platform
//! (each validates its image on a native runner and pushes it to the staging registry) and one
//! publish job that assembles the multi-platform index from exactly those digests.
//!
//! - **The digest file** (`target/slipway/digests/<arch>.json`, written by `docker-validate
//!   --platform P --push-by-digest`): `{"platform", "digest", "repository", "image_id"}` — the
//!   manifest digest docker pushed to the staging registry, under the per-run tag
//!   `<exact>-<arch>` ([`WriteDigest`]).
//! - **The index** ([`gather`], for `publish-prod --from-digests`): every file read and checked
//!   when the plan is made (its platform configured and given once, its digest on the staging
//!   registry, its image config of that platform); the index's children are those manifests,
//!   in the configured order, with the platform fields of their configs. One platform: the image
//!   itself is published (no index of one). Then [`StoreOnStaging`] PUTs the index on the
//!   staging registry by digest, [`Promote`] copies it to every production registry with the
//!   release's tag plan, and [`VerifyDigests`] reads every tag back: each must hold the digest
//!   assembled. No image is built, no docker process started.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value as Json};

use super::calls::{Endpoint, PutManifest};
use super::check::{credentials_from_env, registry_credentials, Login};
use super::platform::{platform_parts, platform_slug, same_platform};
use super::promote::{digest_of, image_blobs, wanted_tags, Promote, Source, Stored, WantTag};
use super::registry::{self, Repo};
use super::spec::{digest_key, image_key, planned_tags};
use crate::run::plan::{Decision, Planned, Reconcile, Request, RunContext, Step, Sub, Val};
use crate::targets::publish::{Facts, Gathered, TargetPlan};
use crate::Problems;

/// An OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// A Docker manifest list (what `docker manifest create` makes of Docker v2 manifests).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// What one per-platform job pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestFile {
    pub platform: String,
    pub digest: String,
    /// `<staging registry>/<image>`.
    pub repository: String,
    pub image_id: Option<String>,
}

/// `target/slipway/digests/<arch>.json`.
pub fn default_path(work: &Path, platform: &str) -> PathBuf {
    work.join("digests")
        .join(format!("{}.json", platform_slug(platform)))
}

/// The file's text (`<key>` placeholders allowed: the dry run shows the template).
pub fn file_text(platform: &str, digest: &str, repository: &str, image_id: &str) -> String {
    let json = json!({
        "platform": platform,
        "digest": digest,
        "repository": repository,
        "image_id": image_id,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    )
}

/// Parses a digest file; `Err` is the sentence naming what is wrong.
pub fn parse(text: &str) -> std::result::Result<DigestFile, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("is not JSON ({e})"))?;
    let field = |k: &str| -> std::result::Result<String, String> {
        json[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("has no \"{k}\""))
    };
    let file = DigestFile {
        platform: field("platform")?,
        digest: field("digest")?,
        repository: field("repository")?,
        image_id: json["image_id"].as_str().map(str::to_string),
    };
    if !crate::core::sha256::valid_digest(&file.digest) {
        return Err(format!(
            "names digest `{}`, not sha256: and 64 lowercase hex digits",
            file.digest
        ));
    }
    Ok(file)
}

/// Writes the digest file of one platform from the digest the push to the staging registry
/// recorded (`<docker.digest.R>`) and the image ID the build recorded; skipped when the file
/// already says exactly that.
#[derive(Debug)]
pub struct WriteDigest {
    pub path: PathBuf,
    pub platform: String,
    /// The staging registry as configured (the push records its digest under it).
    pub registry: String,
    pub repository: String,
}

#[derive(Debug)]
pub struct WriteSeen {
    digest: String,
    image: String,
    file: Option<String>,
}

impl Reconcile for WriteDigest {
    type Seen = WriteSeen;
    fn header(&self) -> String {
        format!(
            "record the pushed digest of {} in {}",
            self.platform,
            self.path.display()
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "the digest docker reported for the staging push; skipped when the file says it already"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![Sub::Write {
            path: self.path.clone(),
            content: file_text(
                &self.platform,
                &format!("<{}>", digest_key(&self.registry)),
                &self.repository,
                &format!("<{}>", image_key(&self.platform)),
            ),
        }])
    }
    fn observe(&self, cx: &RunContext) -> Result<WriteSeen> {
        Ok(WriteSeen {
            digest: cx.get(&digest_key(&self.registry))?.to_string(),
            image: cx.get(&image_key(&self.platform))?.to_string(),
            file: std::fs::read_to_string(&self.path).ok(),
        })
    }
    fn decide(&self, seen: &WriteSeen) -> Result<Decision> {
        let want = file_text(&self.platform, &seen.digest, &self.repository, &seen.image);
        if seen.file.as_deref() == Some(want.as_str()) {
            return Ok(Decision::done(format!(
                "{} already records {}@{}",
                self.path.display(),
                self.repository,
                seen.digest
            )));
        }
        Ok(Decision::apply(
            vec![Sub::Write {
                path: self.path.clone(),
                content: want,
            }],
            format!(
                "{}: {} {}@{}",
                self.path.display(),
                self.platform,
                self.repository,
                seen.digest
            ),
        ))
    }
}

/// One child of the index: a digest file, checked against the staging registry.
#[derive(Debug, Clone)]
pub struct Child {
    /// The file as given.
    pub file: String,
    /// The configured platform it is.
    pub platform: String,
    pub manifest: Stored,
    /// `{"os", "architecture"[, "variant"]}` from the image config.
    pub fields: Json,
}

/// Reads and checks every digest file; what is wrong is recorded (exit 2), all at once.
pub fn read_files(
    paths: &[String],
    base: &Path,
    configured: &[String],
    staging: &Endpoint,
    problems: &mut Problems,
) -> Result<Vec<Child>> {
    let mut children: Vec<Child> = Vec::new();
    // The configured platforms some file named (good or not): the others have no file.
    let mut named: Vec<String> = Vec::new();
    let mut client = staging.client();
    for given in paths {
        let path = base.join(given);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.invalid(format!(
                    "--from-digests {given}: cannot read it ({e}); pass the files `docker-validate \
                     --push-by-digest` wrote (target/slipway/digests/<arch>.json)"
                ));
                continue;
            }
        };
        let file = match parse(&text) {
            Ok(f) => f,
            Err(why) => {
                problems.invalid(format!(
                    "--from-digests {given} {why}: write it with `cargo xtask docker-validate --platform P --push-by-digest`"
                ));
                continue;
            }
        };
        let Some(platform) = configured.iter().find(|c| same_platform(c, &file.platform)) else {
            problems.invalid(format!(
                "--from-digests {given} is for {}, which is not a configured platform ({}): add it to \
                 `platforms` in [workspace.metadata.release.docker], or leave the file out",
                file.platform,
                configured.join(", ")
            ));
            continue;
        };
        named.push(platform.clone());
        if let Some(other) = children.iter().find(|c| c.platform == *platform) {
            problems.invalid(format!(
                "--from-digests {given} and {} are both for {platform}: pass one digest file per platform",
                other.file
            ));
            continue;
        }
        if Repo::parse(&file.repository) != staging.repo {
            problems.invalid(format!(
                "--from-digests {given} names repository {}, not the staging registry's {}: \
                 push it with `docker-validate --push-by-digest` from this configuration",
                file.repository,
                staging.name()
            ));
            continue;
        }
        let path_in = &staging.repo.path;
        let Some((m, body)) = client.manifest_raw(path_in, &file.digest)? else {
            problems.invalid(format!(
                "--from-digests {given}: {}@{} is not on the staging registry: push it again with \
                 `cargo xtask docker-validate --platform {} --push-by-digest`",
                staging.name(),
                file.digest,
                file.platform
            ));
            continue;
        };
        if digest_of(&body) != file.digest || m.digest != file.digest {
            problems.invalid(format!(
                "--from-digests {given}: the staging registry's bytes for {} hash to {}",
                file.digest,
                digest_of(&body)
            ));
            continue;
        }
        let parsed: Json = serde_json::from_str(&body)
            .map_err(|e| anyhow!("{}@{}: not JSON: {e}", staging.name(), file.digest))?;
        if parsed["manifests"].is_array() {
            problems.invalid(format!(
                "--from-digests {given}: {}@{} is an index, not one platform's image",
                staging.name(),
                file.digest
            ));
            continue;
        }
        let config = parsed["config"]["digest"].as_str().unwrap_or_default();
        let Some(text) = client.blob_text(path_in, config)? else {
            problems.invalid(format!(
                "--from-digests {given}: {}@{} names config {config}, which the staging registry lacks",
                staging.name(),
                file.digest
            ));
            continue;
        };
        let cfg: Json =
            serde_json::from_str(&text).map_err(|e| anyhow!("config {config}: not JSON: {e}"))?;
        let (os, arch) = (
            cfg["os"].as_str().unwrap_or("unknown"),
            cfg["architecture"].as_str().unwrap_or("unknown"),
        );
        let mut fields = json!({"os": os, "architecture": arch});
        let mut actual = format!("{os}/{arch}");
        if let Some(v) = cfg["variant"].as_str().filter(|v| !v.is_empty()) {
            fields["variant"] = json!(v);
            actual.push('/');
            actual.push_str(v);
        }
        if !same_platform(&actual, &file.platform) {
            problems.invalid(format!(
                "--from-digests {given} says {}, but the image {} is {actual} (its config): \
                 write the file from the job that built that platform",
                file.platform, file.digest
            ));
            continue;
        }
        children.push(Child {
            file: given.clone(),
            platform: platform.clone(),
            manifest: Stored {
                digest: file.digest.clone(),
                media_type: m.media_type,
                body: body.into(),
            },
            fields,
        });
    }
    for p in configured {
        if !named.contains(p) {
            problems.invalid(format!(
                "--from-digests has no file for {p}, a configured platform: pass one digest file \
                 per platform ({}), each from `docker-validate --platform P --push-by-digest`",
                configured.join(", ")
            ));
        }
    }
    children.sort_by_key(|c| configured.iter().position(|p| *p == c.platform));
    Ok(children)
}

/// The index of `children` (configured order): a Docker manifest list when every child is a
/// Docker v2 manifest (as `docker manifest create` makes), else an OCI index.
pub fn assemble(children: &[Child]) -> Stored {
    let media_type = if children.iter().all(|c| c.manifest.media_type == DOCKER_V2) {
        DOCKER_LIST
    } else {
        OCI_INDEX
    };
    let manifests: Vec<Json> = children
        .iter()
        .map(|c| {
            json!({
                "mediaType": c.manifest.media_type,
                "digest": c.manifest.digest,
                "size": c.manifest.body.len(),
                "platform": c.fields,
            })
        })
        .collect();
    let body = json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": manifests,
    })
    .to_string();
    Stored {
        digest: digest_of(&body),
        media_type: media_type.into(),
        body: body.into(),
    }
}

/// The Docker target of `publish-prod --from-digests`: no build; the index stored on staging,
/// promoted, verified.
pub fn gather(facts: &Facts, files: &[String], base: &Path, problems: &mut Problems) -> Gathered {
    let Some(docker) = facts.cfg.docker.clone() else {
        problems.invalid(format!(
            "--from-digests, but {} has no [workspace.metadata.release.docker] table",
            crate::facts::config::FILE
        ));
        return Ok(None);
    };
    let Some(staging) = docker.staging_registry.clone() else {
        problems.invalid(
            "--from-digests reads the per-platform images from the staging registry: set \
             `staging-registry` in [workspace.metadata.release.docker]",
        );
        return Ok(None);
    };
    let credentials = credentials_from_env(problems);
    let endpoint = |r: &str| -> Endpoint {
        let repo = Repo::parse(&format!("{}/{}", r.trim_end_matches('/'), docker.image));
        let creds = registry_credentials(&repo.registry, &credentials);
        Endpoint::new(repo, creds)
    };
    let from = endpoint(&staging);
    let tags = planned_tags(facts, &docker).unwrap_or_else(|e| {
        problems.invalid(format!("[workspace.metadata.release.docker] tags: {e}"));
        Vec::new()
    });
    let before = problems.list.len();
    let children = read_files(files, base, &docker.platforms, &from, problems)?;
    if problems.list.len() > before || children.is_empty() {
        // Refused (the problems say why): a target with nothing to run, not an unconfigured one.
        return Ok(Some(TargetPlan {
            inputs: Vec::new(),
            build: Vec::new(),
            publish: Vec::new(),
            verify: Vec::new(),
            independent_build: false,
        }));
    }
    let mut blobs: Vec<(String, u64)> = Vec::new();
    for c in &children {
        for b in image_blobs(&c.manifest.digest, &c.manifest.body)? {
            if !blobs.iter().any(|(d, _)| *d == b.0) {
                blobs.push(b);
            }
        }
    }
    let (top, kids) = if children.len() == 1 {
        (children[0].manifest.clone(), Vec::new())
    } else {
        (
            assemble(&children),
            children
                .iter()
                .map(|c| (c.platform.clone(), c.manifest.clone()))
                .collect(),
        )
    };
    let source = Source {
        from: from.clone(),
        reference: top.digest.clone(),
        via: "--from-digests".into(),
        top: top.clone(),
        children: kids,
        blobs,
    };
    let exact = crate::core::dockertags::exact_tag(&facts.cfg.tag_prefix, &facts.version);
    let wanted = wanted_tags(&source, &exact, &tags, &docker.platforms);
    let to: Vec<Endpoint> = docker.registries.iter().map(|r| endpoint(r)).collect();
    let publish = vec![
        Step::Action(Box::new(StoreOnStaging {
            at: from,
            top,
            children: children.iter().map(|c| c.file.clone()).collect(),
            registries: docker.registries.clone(),
        })),
        Step::Action(Box::new(Promote {
            source,
            to: to.clone(),
            tags: wanted.clone(),
        })),
    ];
    let verify = vec![Step::Action(Box::new(VerifyDigests {
        to,
        tags: wanted,
        credentials,
    }))];
    Ok(Some(TargetPlan {
        inputs: Vec::new(),
        build: Vec::new(),
        publish,
        verify,
        independent_build: false,
    }))
}

fn head(at: &Endpoint, reference: &str) -> Sub {
    Sub::Http(Request {
        method: "HEAD".into(),
        url: at.url(&format!("manifests/{reference}")),
        headers: vec![(
            "Accept".into(),
            Val::Plain(registry::MANIFEST_TYPES.join(", ")),
        )],
        body: None,
        service: format!("registry {}", at.repo.registry),
    })
}

/// Stores the assembled index on the staging registry by its digest (the image itself, one
/// platform, is there already), and records the digest every production tag is to hold.
#[derive(Debug)]
pub struct StoreOnStaging {
    pub at: Endpoint,
    pub top: Stored,
    /// The digest files it was assembled from.
    pub children: Vec<String>,
    /// The production registries as configured (the digest is recorded for each: deploy).
    pub registries: Vec<String>,
}

impl StoreOnStaging {
    fn is_index(&self) -> bool {
        self.top.media_type == OCI_INDEX || self.top.media_type == DOCKER_LIST
    }
    fn put(&self) -> Sub {
        PutManifest {
            at: self.at.clone(),
            digest: self.top.digest.clone(),
            media_type: self.top.media_type.clone(),
            body: Arc::clone(&self.top.body),
            references: vec![self.top.digest.clone()],
        }
        .sub()
    }
}

impl Reconcile for StoreOnStaging {
    type Seen = bool;
    fn header(&self) -> String {
        if self.is_index() {
            format!(
                "assemble the index {} on {} from {}",
                self.top.digest,
                self.at.name(),
                self.children.join(", ")
            )
        } else {
            format!(
                "publish {}@{} (one platform, from {}: the image itself, no index)",
                self.at.name(),
                self.top.digest,
                self.children.join(", ")
            )
        }
    }
    fn rule(&self) -> Option<String> {
        Some(
            "read first (HEAD): there → skipped; the registry must compute the digest assembled"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![head(&self.at, &self.top.digest)],
            apply: if self.is_index() {
                vec![self.put()]
            } else {
                Vec::new()
            },
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<bool> {
        Ok(self
            .at
            .client()
            .manifest(&self.at.repo.path, &self.top.digest)?
            .is_some_and(|m| m.digest == self.top.digest))
    }
    fn decide(&self, there: &bool) -> Result<Decision> {
        if *there {
            let mut d = Decision::done(format!("{}@{} is there", self.at.name(), self.top.digest));
            for r in &self.registries {
                d = d.recording(digest_key(r), self.top.digest.clone());
            }
            return Ok(d);
        }
        if !self.is_index() {
            bail!(
                "{}@{} is gone from the staging registry: push it again (`docker-validate --push-by-digest`)",
                self.at.name(),
                self.top.digest
            );
        }
        Ok(Decision::apply(
            vec![self.put()],
            format!("stored {}@{}", self.at.name(), self.top.digest),
        ))
    }
}

/// Reads every tag back on every production registry: each must hold the digest assembled
/// (the index; a per-architecture tag its child).
#[derive(Debug)]
pub struct VerifyDigests {
    pub to: Vec<Endpoint>,
    pub tags: Vec<WantTag>,
    pub credentials: Option<Login>,
}

impl Reconcile for VerifyDigests {
    type Seen = Vec<(String, Vec<Option<String>>)>;
    fn header(&self) -> String {
        format!(
            "verify {} on {}",
            self.tags
                .iter()
                .map(|t| t.tag.tag.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            self.to
                .iter()
                .map(Endpoint::name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
    fn rule(&self) -> Option<String> {
        Some("every tag must resolve to the digest assembled from the digest files".into())
    }
    fn planned(&self) -> Planned {
        let mut observe = Vec::new();
        for to in &self.to {
            for t in &self.tags {
                observe.push(head(to, &t.tag.tag));
            }
        }
        Planned {
            observe,
            apply: Vec::new(),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<Self::Seen> {
        let mut out = Vec::new();
        for to in &self.to {
            let mut c = to.client();
            let mut held = Vec::new();
            for t in &self.tags {
                held.push(c.manifest(&to.repo.path, &t.tag.tag)?.map(|m| m.digest));
            }
            out.push((to.name(), held));
        }
        Ok(out)
    }
    fn decide(&self, seen: &Self::Seen) -> Result<Decision> {
        let mut wrong = Vec::new();
        let mut lines = Vec::new();
        for (name, held) in seen {
            for (t, h) in self.tags.iter().zip(held) {
                if h.as_deref() != Some(t.digest.as_str()) {
                    wrong.push(format!(
                        "{name}:{} holds {}, not {}",
                        t.tag.tag,
                        h.as_deref().unwrap_or("nothing"),
                        t.digest
                    ));
                }
            }
            let top: Vec<&str> = self
                .tags
                .iter()
                .filter(|t| Some(&t.digest) == self.tags.first().map(|f| &f.digest))
                .map(|t| t.tag.tag.as_str())
                .collect();
            lines.push(format!(
                "{name}: {} → {}",
                top.join(", "),
                self.tags.first().map(|t| t.digest.as_str()).unwrap_or("")
            ));
        }
        if !wrong.is_empty() {
            bail!("{}", wrong.join("; "));
        }
        Ok(Decision::Verified(lines.join("\n")))
    }
}

/// The GitHub runner for a platform: native ones for amd64 and arm64; anything else builds
/// under qemu on amd64.
pub fn runner_for(platform: &str) -> &'static str {
    match platform_parts(platform).1 {
        "arm64" | "aarch64" => "ubuntu-24.04-arm",
        _ => "ubuntu-24.04",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(platform: &str, digest: &str, mt: &str, fields: Json) -> Child {
        Child {
            file: format!("{}.json", platform_slug(platform)),
            platform: platform.into(),
            manifest: Stored {
                digest: digest.into(),
                media_type: mt.into(),
                body: "{}".into(),
            },
            fields,
        }
    }

    #[test]
    fn digest_files_round_trip_and_refuse_nonsense() {
        let d = format!("sha256:{}", "a".repeat(64));
        let text = file_text("linux/amd64", &d, "127.0.0.1:5000/acme/app", "sha256:id");
        assert_eq!(
            parse(&text).unwrap(),
            DigestFile {
                platform: "linux/amd64".into(),
                digest: d,
                repository: "127.0.0.1:5000/acme/app".into(),
                image_id: Some("sha256:id".into())
            }
        );
        assert!(parse("nope").unwrap_err().starts_with("is not JSON"));
        assert_eq!(
            parse(r#"{"platform":"linux/amd64","repository":"r"}"#).unwrap_err(),
            "has no \"digest\""
        );
        assert!(
            parse(r#"{"platform":"p","digest":"sha256:x","repository":"r"}"#)
                .unwrap_err()
                .contains("not sha256:")
        );
    }

    #[test]
    fn the_index_lists_exactly_the_children_with_their_platforms() {
        let a = child(
            "linux/amd64",
            "sha256:a",
            DOCKER_V2,
            json!({"os": "linux", "architecture": "amd64"}),
        );
        let b = child(
            "linux/arm64",
            "sha256:b",
            DOCKER_V2,
            json!({"os": "linux", "architecture": "arm64", "variant": "v8"}),
        );
        let idx = assemble(&[a.clone(), b]);
        assert_eq!(idx.media_type, DOCKER_LIST);
        assert_eq!(idx.digest, digest_of(&idx.body));
        let parsed: Json = serde_json::from_str(&idx.body).unwrap();
        let listed: Vec<(String, String)> = registry::parse_index(&parsed)
            .into_iter()
            .map(|p| (p.platform, p.digest))
            .collect();
        assert_eq!(
            listed,
            [
                ("linux/amd64".to_string(), "sha256:a".to_string()),
                ("linux/arm64/v8".to_string(), "sha256:b".to_string())
            ]
        );
        let oci = child(
            "linux/arm64",
            "sha256:c",
            "application/vnd.oci.image.manifest.v1+json",
            json!({"os": "linux", "architecture": "arm64"}),
        );
        assert_eq!(assemble(&[a, oci]).media_type, OCI_INDEX);
    }

    #[test]
    fn runners() {
        assert_eq!(runner_for("linux/amd64"), "ubuntu-24.04");
        assert_eq!(runner_for("linux/arm64"), "ubuntu-24.04-arm");
        assert_eq!(runner_for("linux/arm64/v8"), "ubuntu-24.04-arm");
    }
}
