//! Promotion: copy a release's image, by digest, from the staging registry to every production
//! registry — blobs (mounted on the same registry, else streamed), each child manifest of an
//! index, the manifest itself, then the release's tags — with no `docker build` and no docker
//! CLI: the digest that was validated is the digest published.
//!
//! 1. [`read_source`] (read-only, when the plan is made): which reference names the image
//!    (`--digest`, else `dev-X.Y.Z`, else `vX.Y.Z`), its manifest(s) byte for byte and every blob
//!    they reference. The plan then lists every request concretely.
//! 2. [`Promote`] observes, per destination in parallel, which blobs, manifests and tags exist
//!    (`HEAD` each), decides purely, and applies one lane per destination. A tag that may not
//!    move (the exact tag, `sha-…`, the per-architecture tags) holding another digest on *any*
//!    destination stops the run before anything is copied anywhere.

use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value as Json};

use super::calls::{CopyBlob, Endpoint, PutManifest};
use super::platform::{platform_slug, same_platform};
use super::registry::{self, Client};
use crate::core::dockertags::{PlannedTag, TagKind};
use crate::run::plan::{
    Decision, Lane, Parallel, Planned, Reconcile, Request, RunContext, Sub, Val,
};

/// One manifest exactly as the source registry stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub digest: String,
    pub media_type: String,
    pub body: Arc<str>,
}

/// The image to promote, read from the source registry.
#[derive(Debug, Clone)]
pub struct Source {
    pub from: Endpoint,
    /// The reference it was found under (a digest, `dev-1.2.0` or `v1.2.0`).
    pub reference: String,
    /// How that reference was chosen (`--digest`, `the dev tag`, `the exact tag`).
    pub via: String,
    pub top: Stored,
    /// An index's children, in its order: (platform, manifest).
    pub children: Vec<(String, Stored)>,
    /// Every blob (configs, layers) the image references, each once: (digest, size).
    pub blobs: Vec<(String, u64)>,
}

impl Source {
    pub fn is_index(&self) -> bool {
        !self.children.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.blobs.iter().map(|(_, n)| n).sum()
    }
}

/// A parsed image manifest's blobs (config first, then layers).
pub(crate) fn image_blobs(digest: &str, body: &str) -> Result<Vec<(String, u64)>> {
    let json: Json =
        serde_json::from_str(body).map_err(|e| anyhow!("manifest {digest} is not JSON: {e}"))?;
    if json["manifests"].is_array() {
        bail!("manifest {digest} is an index inside an index: promote copies one level only");
    }
    let mut out = Vec::new();
    let config = &json["config"];
    let layers = json["layers"].as_array().cloned().unwrap_or_default();
    for b in std::iter::once(config).chain(layers.iter()) {
        let d = b["digest"]
            .as_str()
            .ok_or_else(|| anyhow!("manifest {digest} names a blob without a digest"))?;
        out.push((d.to_string(), b["size"].as_u64().unwrap_or(0)));
    }
    Ok(out)
}

/// The digest of exact manifest bytes.
pub(crate) fn digest_of(body: &str) -> String {
    format!(
        "sha256:{}",
        crate::core::sha256::digest_hex(body.as_bytes())
    )
}

fn stored(client: &mut Client, path: &str, reference: &str) -> Result<Option<Stored>> {
    let Some((m, body)) = client.manifest_raw(path, reference)? else {
        return Ok(None);
    };
    let computed = digest_of(&body);
    if computed != m.digest {
        bail!(
            "{path}@{reference}: the registry says {} but the bytes it sent hash to {computed}",
            m.digest
        );
    }
    Ok(Some(Stored {
        digest: m.digest,
        media_type: m.media_type,
        body: body.into(),
    }))
}

/// Reads the image from `from`: the first of `candidates` (reference, how it was chosen) that
/// exists. `Ok(Err(sentence))` when none does (a problem for the user, not a failure of the
/// tool).
pub fn read_source(
    from: &Endpoint,
    candidates: &[(String, String)],
) -> Result<std::result::Result<Source, String>> {
    let mut client = from.client();
    let path = from.repo.path.clone();
    let mut found = None;
    for (reference, via) in candidates {
        if let Some(s) = stored(&mut client, &path, reference)? {
            found = Some((reference.clone(), via.clone(), s));
            break;
        }
    }
    let Some((reference, via, top)) = found else {
        let names: Vec<&str> = candidates.iter().map(|(r, _)| r.as_str()).collect();
        return Ok(Err(format!(
            "{} holds none of {}: push the release's image there first, or name it with \
             --digest sha256:…, or another source registry with --from <registry>",
            from.name(),
            names.join(", ")
        )));
    };
    let json: Json = serde_json::from_str(&top.body)
        .map_err(|e| anyhow!("{}@{}: not JSON: {e}", from.name(), top.digest))?;
    let mut children = Vec::new();
    let mut blobs: Vec<(String, u64)> = Vec::new();
    let mut add = |list: Vec<(String, u64)>| {
        for b in list {
            if !blobs.iter().any(|(d, _)| *d == b.0) {
                blobs.push(b);
            }
        }
    };
    if json["manifests"].is_array() {
        for child in registry::parse_index(&json) {
            let Some(s) = stored(&mut client, &path, &child.digest)? else {
                bail!(
                    "{}@{} lists {} ({}), which the registry does not hold",
                    from.name(),
                    top.digest,
                    child.digest,
                    child.platform
                );
            };
            add(image_blobs(&s.digest, &s.body)?);
            children.push((child.platform, s));
        }
    } else {
        add(image_blobs(&top.digest, &top.body)?);
    }
    Ok(Ok(Source {
        from: from.clone(),
        reference,
        via,
        top,
        children,
        blobs,
    }))
}

/// A tag a destination gets, and the digest it must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantTag {
    pub tag: PlannedTag,
    pub digest: String,
}

/// The tags of a promotion: the release's tag plan on the image, and for an index one exact
/// per-architecture tag per platform (`v1.2.0-arm64`), as `publish-prod` pushes them (named
/// after the configured platform the entry is, so `verify` finds them).
pub fn wanted_tags(
    source: &Source,
    exact: &str,
    plan: &[PlannedTag],
    configured: &[String],
) -> Vec<WantTag> {
    let mut out: Vec<WantTag> = plan
        .iter()
        .map(|t| WantTag {
            tag: t.clone(),
            digest: source.top.digest.clone(),
        })
        .collect();
    for (platform, child) in &source.children {
        if platform.starts_with("unknown") {
            continue;
        }
        let named = configured
            .iter()
            .find(|c| same_platform(c, platform))
            .unwrap_or(platform);
        out.push(WantTag {
            tag: PlannedTag {
                tag: format!("{exact}-{}", platform_slug(named)),
                kind: TagKind::Exact,
            },
            digest: child.digest.clone(),
        });
    }
    out
}

/// Copies the source image to every destination, then sets the tags there.
#[derive(Debug)]
pub struct Promote {
    pub source: Source,
    pub to: Vec<Endpoint>,
    pub tags: Vec<WantTag>,
}

/// What one destination holds of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestSeen {
    /// Blobs present, in the source's order.
    pub blobs: Vec<bool>,
    /// Children present (in the source's order), then the top manifest.
    pub children: Vec<bool>,
    pub top: bool,
    /// What each wanted tag resolves to now.
    pub tags: Vec<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoteSeen {
    pub destinations: Vec<std::result::Result<DestSeen, String>>,
}

/// The key under which a lane records the tags it set (`v1.2.0, latest`).
pub fn tags_key(to: &Endpoint) -> String {
    format!("promote.tags {}", to.name())
}

impl Promote {
    fn head(&self, to: &Endpoint, rest: &str) -> Sub {
        Sub::Http(Request {
            method: "HEAD".into(),
            url: to.url(rest),
            headers: vec![(
                "Accept".into(),
                Val::Plain(registry::MANIFEST_TYPES.join(", ")),
            )],
            body: None,
            service: format!("registry {}", to.repo.registry),
        })
    }

    /// The `HEAD` requests observe makes on one destination.
    fn reads(&self, to: &Endpoint) -> Vec<Sub> {
        let mut out = Vec::new();
        for (d, _) in &self.source.blobs {
            out.push(self.head(to, &format!("blobs/{d}")));
        }
        for (_, c) in &self.source.children {
            out.push(self.head(to, &format!("manifests/{}", c.digest)));
        }
        out.push(self.head(to, &format!("manifests/{}", self.source.top.digest)));
        for t in &self.tags {
            out.push(self.head(to, &format!("manifests/{}", t.tag.tag)));
        }
        out
    }

    fn read(&self, to: &Endpoint) -> Result<DestSeen> {
        let mut c = to.client();
        let path = &to.repo.path;
        let mut blobs = Vec::new();
        for (d, _) in &self.source.blobs {
            blobs.push(c.has_blob(path, d)?);
        }
        let mut children = Vec::new();
        for (_, m) in &self.source.children {
            children.push(c.manifest(path, &m.digest)?.is_some());
        }
        let top = c.manifest(path, &self.source.top.digest)?.is_some();
        let mut tags = Vec::new();
        for t in &self.tags {
            tags.push(c.manifest(path, &t.tag.tag)?.map(|m| m.digest));
        }
        Ok(DestSeen {
            blobs,
            children,
            top,
            tags,
        })
    }

    /// One destination's lane: what is missing, in order (blobs, children, the manifest with
    /// its tags); `None` when it holds everything.
    fn lane(&self, to: &Endpoint, seen: &DestSeen) -> Option<Lane> {
        let mut subs = Vec::new();
        let mut copied = 0;
        for ((d, _), present) in self.source.blobs.iter().zip(&seen.blobs) {
            if !present {
                copied += 1;
                subs.push(
                    CopyBlob {
                        from: self.source.from.clone(),
                        to: to.clone(),
                        digest: d.clone(),
                    }
                    .sub(),
                );
            }
        }
        let tags_for = |digest: &str| -> Vec<String> {
            self.tags
                .iter()
                .zip(&seen.tags)
                .filter(|(w, held)| w.digest == digest && held.as_deref() != Some(digest))
                .map(|(w, _)| w.tag.tag.clone())
                .collect()
        };
        let mut set = Vec::new();
        let mut manifests = 0;
        let stored: Vec<(&Stored, bool)> = self
            .source
            .children
            .iter()
            .map(|(_, m)| m)
            .zip(seen.children.iter().copied())
            .chain(std::iter::once((&self.source.top, seen.top)))
            .collect();
        for (m, present) in stored {
            let tags = tags_for(&m.digest);
            let mut references = Vec::new();
            if !present {
                manifests += 1;
                references.push(m.digest.clone());
            }
            set.extend(tags.iter().cloned());
            references.extend(tags);
            if !references.is_empty() {
                subs.push(
                    PutManifest {
                        at: to.clone(),
                        digest: m.digest.clone(),
                        media_type: m.media_type.clone(),
                        body: m.body.clone(),
                        references,
                    }
                    .sub(),
                );
            }
        }
        if subs.is_empty() {
            return None;
        }
        subs.push(Sub::Record(tags_key(to), set.join(", ")));
        let present = self.source.blobs.len() - copied;
        Some(Lane {
            label: to.name(),
            subs,
            finally: Vec::new(),
            summary: format!(
                "{}: {copied} blob(s) copied, {present} already there; {manifests} manifest(s) stored; tags set: {}",
                to.name(),
                if set.is_empty() { "none".to_string() } else { set.join(", ") }
            ),
        })
    }
}

impl Reconcile for Promote {
    type Seen = PromoteSeen;
    fn header(&self) -> String {
        format!(
            "promote {}@{} to {} (destinations in parallel; what is there is skipped)",
            self.source.from.name(),
            self.source.top.digest,
            self.to
                .iter()
                .map(Endpoint::name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "every blob, manifest and tag read first (HEAD): present → skipped; blobs mounted on the same \
             registry, else streamed; children, then the manifest, then the tags; a tag that may not move \
             (exact, sha-, per-architecture) holding another digest on any destination stops the run before \
             anything is copied"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        let mut observe = Vec::new();
        let mut lanes = Vec::new();
        let empty = DestSeen {
            blobs: vec![false; self.source.blobs.len()],
            children: vec![false; self.source.children.len()],
            top: false,
            tags: vec![None; self.tags.len()],
        };
        for to in &self.to {
            observe.extend(self.reads(to));
            lanes.extend(self.lane(to, &empty));
        }
        Planned {
            observe,
            apply: vec![Sub::Parallel(Parallel {
                what: "promoting".into(),
                lanes,
            })],
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<PromoteSeen> {
        let destinations = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .to
                .iter()
                .map(|to| s.spawn(move || self.read(to)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("internal error: a read thread panicked")))
                        .map_err(|e| crate::run::ui::redact(&format!("{e:#}")))
                })
                .collect()
        });
        Ok(PromoteSeen { destinations })
    }
    fn decide(&self, seen: &PromoteSeen) -> Result<Decision> {
        let mut conflicts = Vec::new();
        for (to, dest) in self.to.iter().zip(&seen.destinations) {
            let Ok(dest) = dest else { continue };
            for (w, held) in self.tags.iter().zip(&dest.tags) {
                match held {
                    Some(d) if *d != w.digest && !w.tag.may_move() => conflicts.push(format!(
                        "{}:{} already points at {d}, not {}; {}",
                        to.name(),
                        w.tag.tag,
                        w.digest,
                        match w.tag.kind {
                            TagKind::Commit => "a commit tag names one build and never moves: remove it from the registry if that build is wrong",
                            _ => "a release tag never moves: release a new version (`cargo xtask release patch`)",
                        }
                    )),
                    _ => {}
                }
            }
        }
        if !conflicts.is_empty() {
            bail!(
                "nothing was copied to any registry: {}",
                conflicts.join("\n")
            );
        }
        let mut lanes = Vec::new();
        for (to, dest) in self.to.iter().zip(&seen.destinations) {
            match dest {
                Err(e) => lanes.push(Lane {
                    label: to.name(),
                    subs: vec![Sub::Fail(e.clone())],
                    finally: Vec::new(),
                    summary: String::new(),
                }),
                Ok(dest) => lanes.extend(self.lane(to, dest)),
            }
        }
        if lanes.is_empty() {
            return Ok(Decision::done(format!(
                "already promoted: {} and its tags {} are on {}",
                self.source.top.digest,
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
            )));
        }
        let summary = lanes
            .iter()
            .map(|l| l.summary.clone())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        Ok(Decision::apply(
            vec![Sub::Parallel(Parallel {
                what: "promoting".into(),
                lanes,
            })],
            summary,
        ))
    }
    fn json(&self) -> Json {
        json!({
            "source": self.source.from.name(),
            "reference": self.source.reference,
            "digest": self.source.top.digest,
            "destinations": self.to.iter().map(Endpoint::name).collect::<Vec<_>>(),
            "tags": self.tags.iter().map(|t| json!({"tag": t.tag.tag, "digest": t.digest, "may_move": t.tag.may_move()})).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dockertags::TagKind;
    use crate::run::plan::sub_lines;
    use std::path::Path;

    fn at(reg: &str) -> Endpoint {
        Endpoint::new(registry::Repo::parse(&format!("{reg}/acme/app")), None)
    }

    fn promote() -> Promote {
        let source = Source {
            from: at("127.0.0.1:5000"),
            reference: "dev-1.2.0".into(),
            via: "the dev tag".into(),
            top: Stored {
                digest: "sha256:top".into(),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                body: "{}".into(),
            },
            children: Vec::new(),
            blobs: vec![("sha256:cfg".into(), 10), ("sha256:layer".into(), 20)],
        };
        let tag = |t: &str, kind| PlannedTag {
            tag: t.into(),
            kind,
        };
        let tags = wanted_tags(
            &source,
            "v1.2.0",
            &[
                tag("v1.2.0", TagKind::Exact),
                tag("latest", TagKind::Moving),
            ],
            &[],
        );
        Promote {
            source,
            to: vec![at("127.0.0.1:5001"), at("127.0.0.1:5002")],
            tags,
        }
    }

    fn seen(blobs: [bool; 2], top: bool, tags: [Option<&str>; 2]) -> DestSeen {
        DestSeen {
            blobs: blobs.to_vec(),
            children: Vec::new(),
            top,
            tags: tags.iter().map(|t| t.map(str::to_string)).collect(),
        }
    }

    fn lines(d: &Decision) -> Vec<String> {
        d.subs()
            .iter()
            .flat_map(|s| sub_lines(s, Path::new("/")))
            .collect()
    }

    #[test]
    fn what_each_destination_needs() {
        let p = promote();
        let all = seen([true, true], true, [Some("sha256:top"), Some("sha256:top")]);
        // Everything there on both: done, with the evidence.
        let d = p
            .decide(&PromoteSeen {
                destinations: vec![Ok(all.clone()), Ok(all.clone())],
            })
            .unwrap();
        assert!(
            matches!(&d, Decision::Done { evidence, .. } if evidence.starts_with("already promoted: sha256:top")),
            "{d:?}"
        );
        // One destination lacks a blob and `latest` holds an older release (moves); the other
        // is complete and gets no lane.
        let d = p
            .decide(&PromoteSeen {
                destinations: vec![
                    Ok(seen([true, false], false, [None, Some("sha256:old")])),
                    Ok(all),
                ],
            })
            .unwrap();
        assert_eq!(
            lines(&d),
            [
                "in parallel (promoting):",
                "  127.0.0.1:5001/acme/app:",
                "    GET http://127.0.0.1:5000/v2/acme/app/blobs/sha256:layer",
                "    POST http://127.0.0.1:5001/v2/acme/app/blobs/uploads/",
                "    PUT <upload location>&digest=sha256:layer",
                "    PUT http://127.0.0.1:5001/v2/acme/app/manifests/sha256:top",
                "    PUT http://127.0.0.1:5001/v2/acme/app/manifests/v1.2.0",
                "    PUT http://127.0.0.1:5001/v2/acme/app/manifests/latest",
                "    record <promote.tags 127.0.0.1:5001/acme/app> = v1.2.0, latest",
            ]
        );
    }

    #[test]
    fn a_release_tag_elsewhere_on_one_destination_stops_all() {
        let p = promote();
        let err = p
            .decide(&PromoteSeen {
                destinations: vec![
                    Ok(seen([false, false], false, [None, None])),
                    Ok(seen([true, true], true, [Some("sha256:other"), None])),
                ],
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("nothing was copied to any registry: 127.0.0.1:5002/acme/app:v1.2.0 already points at sha256:other, not sha256:top"),
            "{err}"
        );
    }

    #[test]
    fn an_unreadable_destination_fails_its_lane_alone() {
        let p = promote();
        let d = p
            .decide(&PromoteSeen {
                destinations: vec![
                    Err("registry 127.0.0.1:5001 is unreachable".into()),
                    Ok(seen([false, false], false, [None, None])),
                ],
            })
            .unwrap();
        let l = lines(&d);
        assert_eq!(l[2], "    fail: registry 127.0.0.1:5001 is unreachable");
        assert!(
            l.iter().filter(|s| s.contains("5002/v2")).count() >= 5,
            "{l:#?}"
        );
    }

    #[test]
    fn an_image_names_its_config_then_its_layers() {
        let body = r#"{"config":{"digest":"sha256:c","size":3},"layers":[{"digest":"sha256:l1","size":5},{"digest":"sha256:l2","size":7}]}"#;
        assert_eq!(
            image_blobs("sha256:m", body).unwrap(),
            [
                ("sha256:c".to_string(), 3),
                ("sha256:l1".to_string(), 5),
                ("sha256:l2".to_string(), 7)
            ]
        );
        let nested = r#"{"manifests":[]}"#;
        assert!(image_blobs("sha256:i", nested)
            .unwrap_err()
            .to_string()
            .contains("an index inside an index"));
        assert_eq!(
            digest_of(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn an_index_gets_per_architecture_tags_on_its_children() {
        let mut p = promote();
        let child = |d: &str| Stored {
            digest: d.into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            body: "{}".into(),
        };
        p.source.children = vec![
            ("linux/amd64".into(), child("sha256:amd")),
            ("linux/arm64/v8".into(), child("sha256:arm")),
            ("unknown/unknown".into(), child("sha256:att")),
        ];
        let tags = wanted_tags(&p.source, "v1.2.0", &[], &["linux/arm64".to_string()]);
        assert_eq!(
            tags.iter()
                .map(|t| (t.tag.tag.as_str(), t.digest.as_str(), t.tag.may_move()))
                .collect::<Vec<_>>(),
            [
                ("v1.2.0-amd64", "sha256:amd", false),
                ("v1.2.0-arm64", "sha256:arm", false)
            ]
        );
    }
}
