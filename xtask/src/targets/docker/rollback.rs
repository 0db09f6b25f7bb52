//! Rolling a release back on every registry: the moving tags of the bad release (`latest`, `vX`,
//! `vX.Y`) that still point at the bad release's digest are moved to the good release's digest
//! (its exact tag `vX.Y.Z`), with [`Retag`] — the manifest stored again under the tag, nothing
//! pulled or pushed. Exact tags and `sha-` tags are never touched; a moving tag that points at
//! neither release is left alone and reported.
//!
//! 1. Observe, every registry in parallel (read-only): the digests of both exact tags and of
//!    each moving tag; a registry that cannot be read is one failed lane, not a stop.
//! 2. Decide (pure, [`decide_registry`]): per registry, which tags move.
//! 3. Apply: one lane per registry of `Retag` calls; a failing lane does not stop the others,
//!    the step fails afterwards naming it, and a re-run finishes (moved tags read as done).
//!
//! What happened is kept in a [`Ledger`] the command reads for its report.

use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use serde_json::{json, Value as Json};

use super::calls::{Endpoint, Retag};
use super::registry;
use crate::core::dockertags::TagPolicy;
use crate::run::plan::{
    Call, Decision, Lane, Parallel, Planned, Reconcile, Request, RunContext, Sub, Val,
};
use semver::Version;

/// The moving tags a release gets under `policy` (`v1.3`, `v1`, `latest`, as configured), in
/// that order: the tags a rollback of that release may move.
pub fn moving_tags(v: &Version, policy: &TagPolicy) -> Vec<String> {
    let p = &policy.prefix;
    let mut out = Vec::new();
    if !v.pre.is_empty() {
        return out;
    }
    if policy.minor {
        out.push(format!("{p}{}.{}", v.major, v.minor));
    }
    if policy.major {
        out.push(format!("{p}{}", v.major));
    }
    if policy.latest {
        out.push("latest".into());
    }
    out
}

/// Moves the bad release's moving tags to the good release on every registry.
#[derive(Debug)]
pub struct RollbackTags {
    /// One per registry (`<registry>/<image>`).
    pub endpoints: Vec<Endpoint>,
    /// The exact tags (`v1.3.0`, `v1.2.0`).
    pub bad: String,
    pub good: String,
    /// The moving tags to consider (`v1.3`, `v1`, `latest`).
    pub moving: Vec<String>,
    pub ledger: Arc<Mutex<Ledger>>,
    /// Per registry, the key under which the good release's digest is recorded once the
    /// registry is rolled back (`docker.digest.<registry>`, as `publish-prod` records it: the
    /// deploy hook reads it).
    pub digest_keys: Vec<String>,
}

/// What one registry holds: the digest of each tag (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub bad: Option<String>,
    pub good: Option<String>,
    pub moving: Vec<(String, Option<String>)>,
}

/// Every registry, by name (`127.0.0.1:5000/acme/app`), with what it holds or why it could not
/// be read.
pub type RollbackSeen = Vec<(String, Result<Held, String>)>;

/// What one moving tag needs on one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagNeed {
    /// Points at the bad release: move it to the good one (`from` → `to`).
    Move { from: String, to: String },
    /// Already points at the good release.
    Done(String),
    /// Points at neither (or is absent): left alone, with why.
    Left { held: Option<String>, why: String },
}

/// What one registry needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryNeed {
    Tags(Vec<(String, TagNeed)>),
    /// It cannot be rolled back: unreadable, or it lacks the good release.
    Fail(String),
}

/// Pure: what one registry needs, from what it holds.
pub fn decide_registry(
    name: &str,
    bad: &str,
    good: &str,
    held: &Result<Held, String>,
) -> RegistryNeed {
    let held = match held {
        Err(e) => return RegistryNeed::Fail(e.clone()),
        Ok(h) => h,
    };
    let Some(good_digest) = &held.good else {
        return RegistryNeed::Fail(format!(
            "{name} has no {good}: nothing to roll back to there (push {good} to it first, e.g. \
             `cargo xtask publish-prod --only docker` at the tag {good})"
        ));
    };
    let tags = held
        .moving
        .iter()
        .map(|(tag, now)| {
            let need = match (now, &held.bad) {
                (Some(d), _) if d == good_digest => TagNeed::Done(d.clone()),
                (Some(d), Some(b)) if d == b => TagNeed::Move {
                    from: d.clone(),
                    to: good_digest.clone(),
                },
                (None, _) => TagNeed::Left {
                    held: None,
                    why: "absent".into(),
                },
                (Some(d), None) => TagNeed::Left {
                    held: Some(d.clone()),
                    why: format!("{name} has no {bad}, so no digest to tell it by"),
                },
                (Some(d), Some(_)) => TagNeed::Left {
                    held: Some(d.clone()),
                    why: format!("points at neither {bad} nor {good}"),
                },
            };
            (tag.clone(), need)
        })
        .collect();
    RegistryNeed::Tags(tags)
}

/// What the rollback saw and did, for the command's report.
#[derive(Debug, Default)]
pub struct Ledger {
    /// The first observation (what each tag held before anything moved).
    pub first: Option<RollbackSeen>,
    /// Every tag moved: (registry, tag, from, to, the requests made).
    pub moved: Vec<(String, String, String, String, Vec<String>)>,
    /// Every tag whose move failed: (registry, tag, error).
    pub failed: Vec<(String, String, String)>,
}

impl Ledger {
    /// The report of every registry: per tag `moved`, `already`, `left` or `failed`.
    pub fn report(&self, bad: &str, good: &str) -> Json {
        let Some(first) = &self.first else {
            return json!([]);
        };
        let mut out = Vec::new();
        for (name, held) in first {
            match decide_registry(name, bad, good, held) {
                RegistryNeed::Fail(e) => out.push(json!({
                    "repository": name,
                    "status": "failed",
                    "error": e,
                    "tags": [],
                })),
                RegistryNeed::Tags(tags) => {
                    let mut failed_here = false;
                    let list: Vec<Json> = tags
                        .iter()
                        .map(|(tag, need)| match need {
                            TagNeed::Done(d) => json!({
                                "tag": tag, "result": "already", "from": d, "to": d,
                            }),
                            TagNeed::Left { held, why } => json!({
                                "tag": tag, "result": "left", "from": held, "to": held, "why": why,
                            }),
                            TagNeed::Move { from, to } => {
                                if let Some(m) =
                                    self.moved.iter().find(|m| m.0 == *name && m.1 == *tag)
                                {
                                    json!({
                                        "tag": tag, "result": "moved", "from": m.2, "to": m.3,
                                        "requests": m.4,
                                    })
                                } else {
                                    failed_here = true;
                                    let err = self
                                        .failed
                                        .iter()
                                        .find(|f| f.0 == *name && f.1 == *tag)
                                        .map(|f| f.2.clone())
                                        .unwrap_or_else(|| "not moved".into());
                                    json!({
                                        "tag": tag, "result": "failed", "from": from,
                                        "to": from, "wanted": to, "error": err,
                                    })
                                }
                            }
                        })
                        .collect();
                    let moved = list.iter().any(|t| t["result"] == "moved");
                    out.push(json!({
                        "repository": name,
                        "status": if failed_here { "failed" } else if moved { "rolled back" } else { "nothing to do" },
                        "tags": list,
                    }));
                }
            }
        }
        Json::Array(out)
    }
}

/// A [`Retag`] that notes in the ledger what it did (the same requests).
#[derive(Debug)]
struct Noted {
    retag: Retag,
    from: String,
    ledger: Arc<Mutex<Ledger>>,
}

impl Call for Noted {
    fn requests(&self) -> Vec<Request> {
        self.retag.requests()
    }
    fn call(&self) -> Result<Vec<(String, String)>> {
        let name = self.retag.at.name();
        let result = self.retag.call();
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        match &result {
            Ok(_) => ledger.moved.push((
                name,
                self.retag.tag.clone(),
                self.from.clone(),
                self.retag.digest.clone(),
                self.requests()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.url))
                    .collect(),
            )),
            Err(e) => ledger.failed.push((
                name,
                self.retag.tag.clone(),
                crate::run::ui::redact(&format!("{e:#}")),
            )),
        }
        result
    }
}

impl RollbackTags {
    fn head(&self, at: &Endpoint, tag: &str) -> Sub {
        Sub::Http(Request {
            method: "HEAD".into(),
            url: at.url(&format!("manifests/{tag}")),
            headers: vec![(
                "Accept".into(),
                Val::Plain(registry::MANIFEST_TYPES.join(", ")),
            )],
            body: None,
            service: format!("registry {}", at.repo.registry),
        })
    }

    fn retag(&self, at: &Endpoint, digest: &str, from: &str, tag: &str) -> Sub {
        Sub::Call(Arc::new(Noted {
            retag: Retag {
                at: at.clone(),
                digest: digest.into(),
                tag: tag.into(),
            },
            from: from.into(),
            ledger: self.ledger.clone(),
        }))
    }

    fn read(&self, at: &Endpoint) -> Result<Held> {
        let mut client = at.client();
        let path = &at.repo.path;
        let mut digest = |tag: &str| -> Result<Option<String>> {
            Ok(client.manifest(path, tag)?.map(|m| m.digest))
        };
        let bad = digest(&self.bad)?;
        let good = digest(&self.good)?;
        let mut moving = Vec::new();
        for t in &self.moving {
            moving.push((t.clone(), digest(t)?));
        }
        Ok(Held { bad, good, moving })
    }
}

impl Reconcile for RollbackTags {
    type Seen = RollbackSeen;
    fn header(&self) -> String {
        format!(
            "roll back {} to {} on {} (registries in parallel)",
            self.moving.join(", "),
            self.good,
            self.endpoints
                .iter()
                .map(Endpoint::name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "each moving tag read first: pointing at {} → moved to {}'s digest; already at {} → \
             skip; pointing elsewhere → left alone and reported; {} and sha- tags are never touched",
            self.bad, self.good, self.good, self.bad
        ))
    }
    fn planned(&self) -> Planned {
        let mut observe = Vec::new();
        let mut lanes = Vec::new();
        for at in &self.endpoints {
            for t in [&self.bad, &self.good].into_iter().chain(&self.moving) {
                observe.push(self.head(at, t));
            }
            let digest = format!("<{} digest>", self.good);
            lanes.push(Lane {
                label: at.name(),
                subs: self
                    .moving
                    .iter()
                    .map(|t| self.retag(at, &digest, "", t))
                    .collect(),
                finally: Vec::new(),
                summary: String::new(),
            });
        }
        Planned {
            observe,
            apply: vec![Sub::Parallel(Parallel {
                what: "rolling back".into(),
                lanes,
            })],
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<RollbackSeen> {
        let seen: RollbackSeen = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .endpoints
                .iter()
                .map(|at| s.spawn(move || (at.name(), self.read(at))))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        (
                            String::new(),
                            Err(anyhow!("internal error: a read thread panicked")),
                        )
                    })
                })
                .map(|(name, r)| {
                    (
                        name,
                        r.map_err(|e| crate::run::ui::redact(&format!("{e:#}"))),
                    )
                })
                .collect()
        });
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        if ledger.first.is_none() {
            ledger.first = Some(seen.clone());
        }
        Ok(seen)
    }
    fn decide(&self, seen: &RollbackSeen) -> Result<Decision> {
        let mut lanes = Vec::new();
        let mut done = Vec::new();
        let mut record = Vec::new();
        for (i, ((name, held), at)) in seen.iter().zip(&self.endpoints).enumerate() {
            if let (Ok(Held { good: Some(d), .. }), Some(key)) = (held, self.digest_keys.get(i)) {
                record.push((key.clone(), d.clone()));
            }
            match decide_registry(name, &self.bad, &self.good, held) {
                RegistryNeed::Fail(e) => lanes.push(Lane {
                    label: name.clone(),
                    subs: vec![Sub::Fail(e)],
                    finally: Vec::new(),
                    summary: String::new(),
                }),
                RegistryNeed::Tags(tags) => {
                    let mut subs = Vec::new();
                    let mut moved = Vec::new();
                    let mut rest = Vec::new();
                    for (tag, need) in &tags {
                        match need {
                            TagNeed::Move { from, to } => {
                                subs.push(self.retag(at, to, from, tag));
                                moved.push(format!("{tag} {from} → {to}"));
                            }
                            TagNeed::Done(d) => rest.push(format!("{tag} already at {d}")),
                            TagNeed::Left { held, why } => rest.push(format!(
                                "{tag} left alone ({}: {why})",
                                held.as_deref().unwrap_or("no digest")
                            )),
                        }
                    }
                    let mut summary = format!("{name}: ");
                    if !moved.is_empty() {
                        summary.push_str(&format!("moved {}", moved.join(", ")));
                    }
                    if !rest.is_empty() {
                        if !moved.is_empty() {
                            summary.push_str("; ");
                        }
                        summary.push_str(&rest.join(", "));
                    }
                    if subs.is_empty() {
                        done.push(summary);
                    } else {
                        lanes.push(Lane {
                            label: name.clone(),
                            subs,
                            finally: Vec::new(),
                            summary,
                        });
                    }
                }
            }
        }
        if lanes.is_empty() {
            let mut d = Decision::done(format!("nothing to roll back: {}", done.join("; ")));
            for (k, v) in record {
                d = d.recording(k, v);
            }
            return Ok(d);
        }
        let mut summary: Vec<String> = lanes
            .iter()
            .map(|l| l.summary.clone())
            .filter(|s| !s.is_empty())
            .collect();
        summary.extend(done);
        Ok(Decision::apply(
            vec![Sub::Parallel(Parallel {
                what: "rolling back".into(),
                lanes,
            })],
            summary.join("\n"),
        ))
    }
    fn json(&self) -> Json {
        json!({
            "repositories": self.endpoints.iter().map(Endpoint::name).collect::<Vec<_>>(),
            "bad": self.bad,
            "good": self.good,
            "moving": self.moving,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::plan::sub_lines;
    use registry::Repo;
    use std::path::Path;

    fn step(registries: &[&str]) -> RollbackTags {
        RollbackTags {
            digest_keys: Vec::new(),
            endpoints: registries
                .iter()
                .map(|r| Endpoint::new(Repo::parse(&format!("{r}/acme/app")), None))
                .collect(),
            bad: "v1.3.0".into(),
            good: "v1.2.0".into(),
            moving: vec!["v1.3".into(), "v1".into(), "latest".into()],
            ledger: Default::default(),
        }
    }

    fn held(bad: Option<&str>, good: Option<&str>, tags: &[(&str, Option<&str>)]) -> Held {
        Held {
            bad: bad.map(String::from),
            good: good.map(String::from),
            moving: tags
                .iter()
                .map(|(t, d)| (t.to_string(), d.map(String::from)))
                .collect(),
        }
    }

    fn lines(d: &Decision) -> Vec<String> {
        d.subs()
            .iter()
            .flat_map(|s| sub_lines(s, Path::new("/")))
            .collect()
    }

    #[test]
    fn moving_tags_follow_the_policy() {
        let v = Version::parse("1.3.0").unwrap();
        assert_eq!(
            moving_tags(&v, &TagPolicy::default()),
            ["v1.3", "v1", "latest"]
        );
        let only_latest = TagPolicy::from_kinds("", &["latest".into(), "sha".into()]).unwrap();
        assert_eq!(moving_tags(&v, &only_latest), ["latest"]);
        let rc = Version::parse("1.3.0-rc.1").unwrap();
        assert!(moving_tags(&rc, &TagPolicy::default()).is_empty());
    }

    #[test]
    fn tags_at_the_bad_digest_move_others_are_left_or_done() {
        let need = decide_registry(
            "r/acme/app",
            "v1.3.0",
            "v1.2.0",
            &Ok(held(
                Some("sha256:bad"),
                Some("sha256:good"),
                &[
                    ("v1.3", Some("sha256:bad")),
                    ("v1", Some("sha256:good")),
                    ("latest", Some("sha256:other")),
                ],
            )),
        );
        assert_eq!(
            need,
            RegistryNeed::Tags(vec![
                (
                    "v1.3".into(),
                    TagNeed::Move {
                        from: "sha256:bad".into(),
                        to: "sha256:good".into()
                    }
                ),
                ("v1".into(), TagNeed::Done("sha256:good".into())),
                (
                    "latest".into(),
                    TagNeed::Left {
                        held: Some("sha256:other".into()),
                        why: "points at neither v1.3.0 nor v1.2.0".into()
                    }
                ),
            ])
        );
        // Without the good release there, the registry cannot be rolled back.
        let need = decide_registry(
            "r/acme/app",
            "v1.3.0",
            "v1.2.0",
            &Ok(held(
                Some("sha256:bad"),
                None,
                &[("v1", Some("sha256:bad"))],
            )),
        );
        assert!(
            matches!(&need, RegistryNeed::Fail(e) if e.starts_with("r/acme/app has no v1.2.0")),
            "{need:?}"
        );
    }

    #[test]
    fn one_lane_per_registry_with_work_a_down_one_fails_alone() {
        let s = step(&["127.0.0.1:5000", "127.0.0.1:5001"]);
        let bad = Some("sha256:bad");
        let seen: RollbackSeen = vec![
            (
                "127.0.0.1:5000/acme/app".into(),
                Ok(held(
                    bad,
                    Some("sha256:good"),
                    &[("v1.3", bad), ("v1", bad), ("latest", bad)],
                )),
            ),
            (
                "127.0.0.1:5001/acme/app".into(),
                Err("registry 127.0.0.1:5001 is unreachable".into()),
            ),
        ];
        let d = s.decide(&seen).unwrap();
        assert_eq!(
            lines(&d),
            [
                "in parallel (rolling back):",
                "  127.0.0.1:5000/acme/app:",
                "    GET http://127.0.0.1:5000/v2/acme/app/manifests/sha256:good",
                "    PUT http://127.0.0.1:5000/v2/acme/app/manifests/v1.3",
                "    GET http://127.0.0.1:5000/v2/acme/app/manifests/sha256:good",
                "    PUT http://127.0.0.1:5000/v2/acme/app/manifests/v1",
                "    GET http://127.0.0.1:5000/v2/acme/app/manifests/sha256:good",
                "    PUT http://127.0.0.1:5000/v2/acme/app/manifests/latest",
                "  127.0.0.1:5001/acme/app:",
                "    fail: registry 127.0.0.1:5001 is unreachable",
            ]
        );
        // Once moved, everything reads as done.
        let good = Some("sha256:good");
        let seen: RollbackSeen = vec![
            (
                "127.0.0.1:5000/acme/app".into(),
                Ok(held(
                    bad,
                    good,
                    &[("v1.3", good), ("v1", good), ("latest", good)],
                )),
            ),
            (
                "127.0.0.1:5001/acme/app".into(),
                Ok(held(
                    bad,
                    good,
                    &[("v1.3", good), ("v1", good), ("latest", good)],
                )),
            ),
        ];
        let d = s.decide(&seen).unwrap();
        assert!(
            matches!(&d, Decision::Done { evidence, .. } if evidence.starts_with("nothing to roll back: 127.0.0.1:5000/acme/app: v1.3 already at sha256:good")),
            "{d:?}"
        );
    }

    #[test]
    fn the_plan_lists_the_reads_and_the_retags() {
        let s = step(&["127.0.0.1:5000"]);
        let p = s.planned();
        let obs: Vec<String> = p
            .observe
            .iter()
            .flat_map(|x| sub_lines(x, Path::new("/")))
            .collect();
        assert_eq!(
            obs,
            ["v1.3.0", "v1.2.0", "v1.3", "v1", "latest"]
                .map(|t| format!("HEAD http://127.0.0.1:5000/v2/acme/app/manifests/{t}"))
        );
        let apply: Vec<String> = p
            .apply
            .iter()
            .flat_map(|x| sub_lines(x, Path::new("/")))
            .collect();
        assert_eq!(apply.len(), 2 + 2 * 3, "{apply:#?}");
        assert_eq!(
            apply[2],
            "    GET http://127.0.0.1:5000/v2/acme/app/manifests/<v1.2.0 digest>"
        );
    }
}
