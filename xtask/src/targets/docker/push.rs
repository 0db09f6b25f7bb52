//! Push every planned tag to every registry (registries in parallel), each tag read first; the
//! multi-arch index is assembled from the pushed per-platform digests.

use super::calls::{Endpoint, Retag};
use super::check::registry_credentials;
use super::check::Login;
use super::engine;
use super::platform::platform_slug;
use super::registry;
use super::remote::manifest_push_digest;
use super::remote::pushed_digest;
use super::remote::read_remote;
use super::remote::Remote;
use super::spec::digest_key;
use super::spec::image_key;
use super::spec::ImageSpec;
use crate::core::dockertags::{PlannedTag, TagKind};
use crate::run::plan::{
    Decision, Lane, Parallel, Planned, Process, Reconcile, Request, Run, RunContext, Sub, Val,
};
use anyhow::{anyhow, bail, Result};
use registry::Repo;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Pushes every planned tag to every registry, the registries in parallel.
///
/// 1. Observe, per registry in parallel: what every tag holds (the registry API).
/// 2. A tag that may not move (the exact tag, `sha-…`, per-arch tags) holding another image
///    stops everything before any push, on every registry.
/// 3. Apply, per registry in parallel: `docker login` (env credentials, password on stdin, into
///    the private `DOCKER_CONFIG`), push what is absent, move the moving tags that point elsewhere,
///    skip what already holds this build (evidence: the registry's config digest = the image ID).
///    A registry that cannot be reached or refuses the login fails alone: the others complete,
///    and a re-run completes it (what is there is skipped).
#[derive(Debug)]
pub struct Push {
    pub spec: ImageSpec,
    pub registries: Vec<String>,
    pub tags: Vec<PlannedTag>,
    /// From DOCKER_USERNAME/DOCKER_PASSWORD; None: the docker config's own logins.
    pub credentials: Option<Login>,
}

/// What [`Push`] reads: the built images, and per registry what every tag holds (or why the
/// registry could not be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSeen {
    /// platform → image ID (this run's build).
    pub images: BTreeMap<String, String>,
    pub registries: Vec<(String, Result<Held, String>)>,
}

/// What one registry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Where the registry API is spoken to (with the credentials read while observing).
    pub endpoint: Endpoint,
    /// Per platform (multi-platform only): (platform, arch tag, what it holds).
    pub arch: Vec<(String, String, Remote)>,
    /// Every planned tag, in order, with what it holds.
    pub tags: Vec<(PlannedTag, Remote)>,
}

/// What a tag needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    Push,
    /// Holds another image, and may move: the digest it held.
    Move(String),
    /// Holds this build: its digest.
    Keep(String),
}

impl Push {
    /// The private docker config for `registry` (one per registry: lanes run in parallel, and
    /// a `docker logout` rewriting a shared config.json could drop another lane's login).
    pub(crate) fn config_dir(&self, registry: &str) -> Option<PathBuf> {
        self.credentials.as_ref().map(|_| {
            engine::private_config(&self.spec.work).join(
                registry
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect::<String>(),
            )
        })
    }

    /// `docker` with the private config of `registry` (as configured, or `host[:port]`).
    pub(crate) fn docker(&self, registry: &str) -> Process {
        let p = self.spec.engine.clone();
        let host = Repo::parse(&self.repo(registry)).registry;
        match self.config_dir(&host) {
            Some(c) => p.env("DOCKER_CONFIG", Val::Plain(c.display().to_string())),
            None => p,
        }
    }

    pub(crate) fn repo(&self, registry: &str) -> String {
        format!("{}/{}", registry.trim_end_matches('/'), self.spec.image)
    }

    pub(crate) fn login_process(&self, registry: &str) -> Option<Process> {
        let login = self.credentials.as_ref()?;
        let host = Repo::parse(&self.repo(registry)).registry;
        Some(
            self.docker(registry)
                .args([
                    "login",
                    &host,
                    "--username",
                    &login.user,
                    "--password-stdin",
                ])
                .stdin(login.password.clone()),
        )
    }

    fn login(&self, registry: &str) -> Option<Sub> {
        let p = self.login_process(registry)?;
        let (registry, user) = (
            registry.to_string(),
            self.credentials
                .as_ref()
                .map(|c| c.user.clone())
                .unwrap_or_default(),
        );
        Some(
            Run::new(p)
                .explain(move |text| {
                    if text.contains("401") || text.to_lowercase().contains("unauthorized") {
                        return Some(format!("registry {registry} refused the credentials of `{user}`: check DOCKER_USERNAME/DOCKER_PASSWORD"));
                    }
                    if unreachable(text) {
                        return Some(format!("registry {registry} is unreachable (docker login: connection refused): is it running, and is the address right?"));
                    }
                    Some(format!("docker login {registry}: {text}"))
                })
                .sub(),
        )
    }

    fn logout(&self, registry: &str) -> Option<Sub> {
        self.credentials.as_ref()?;
        let host = Repo::parse(&self.repo(registry)).registry;
        Some(
            Run::new(self.docker(registry).args(["logout", &host]))
                .tolerated()
                .sub(),
        )
    }

    pub(crate) fn insecure(registry: &str) -> Option<&'static str> {
        crate::run::net::is_loopback(registry.split('/').next().unwrap_or(registry))
            .then_some("--insecure")
    }

    /// `docker tag` + `docker push`, recording the pushed digest under `key`.
    fn push_tag(&self, image: &str, target: &str, tag: &str, key: String) -> [Sub; 2] {
        let (t, target_s) = (tag.to_string(), target.to_string());
        let host = Repo::parse(target).registry;
        [
            Sub::run(self.docker(&host).args(["tag", image, target])),
            Run::new(self.docker(&host).args(["push", target]))
                .explain(move |text| Some(push_error_text(text, &target_s)))
                .capture(key, move |out| pushed_digest(out, &t))
                .sub(),
        ]
    }

    pub(crate) fn manifest_processes(
        &self,
        registry: &str,
        tag: &str,
        children: &[String],
    ) -> Vec<Process> {
        let target = format!("{}:{tag}", self.repo(registry));
        let insecure: Vec<&str> = Self::insecure(registry).into_iter().collect();
        vec![
            self.docker(registry)
                .args(["manifest", "create"])
                .args(insecure.iter().copied())
                .args([target.clone()])
                .args(
                    children
                        .iter()
                        .map(|d| format!("{}@{d}", self.repo(registry))),
                ),
            self.docker(registry)
                .args(["manifest", "push"])
                .args(insecure.iter().copied())
                .args(["--purge".to_string(), target]),
        ]
    }

    /// The index for `tag` from `children` (digests, or `<…>` values recorded this round).
    fn push_index(&self, registry: &str, tag: &str, children: &[String], key: String) -> Vec<Sub> {
        let target = format!("{}:{tag}", self.repo(registry));
        let mut procs = self.manifest_processes(registry, tag, children);
        let push = procs.pop().expect("two processes");
        let create = procs.pop().expect("two processes");
        let (t1, t2) = (target.clone(), target.clone());
        vec![
            // A list left by an interrupted run would make `create` refuse.
            Run::new(self.docker(registry).args(["manifest", "rm", &target]))
                .tolerated()
                .sub(),
            Run::new(create)
                .explain(move |e| Some(format!("docker manifest create {t1}: {e}")))
                .sub(),
            Run::new(push)
                .explain(move |text| Some(push_error_text(text, &t2)))
                .capture(key, manifest_push_digest)
                .sub(),
        ]
    }

    fn pushed_key(registry: &str, tag: &str) -> String {
        format!("docker.pushed {registry} {tag}")
    }

    /// What every tag on one registry needs; conflicts (a tag that may not move holding another
    /// image) are added as sentences.
    #[allow(clippy::type_complexity)]
    fn needs(
        &self,
        registry: &str,
        held: &Held,
        images: &BTreeMap<String, String>,
        conflicts: &mut Vec<String>,
    ) -> (Vec<(String, String, Need)>, Vec<(PlannedTag, Need)>) {
        let full = self.repo(registry);
        let mut arch = Vec::new();
        for (platform, tag, remote) in &held.arch {
            let id = images.get(platform).cloned().unwrap_or_default();
            let need = match remote {
                Remote::Absent => Need::Push,
                Remote::Image { digest, config } if *config == id => Need::Keep(digest.clone()),
                other => {
                    conflicts.push(conflict(
                        &full,
                        tag,
                        other,
                        &format!("image {id}"),
                        TagKind::Exact,
                    ));
                    Need::Push
                }
            };
            arch.push((platform.clone(), tag.clone(), need));
        }
        let mut tags = Vec::new();
        // The digest every tag must hold: the first tag's, when it holds this build.
        let mut reference: Option<String> = None;
        for (i, (t, remote)) in held.tags.iter().enumerate() {
            let same = match (remote, self.spec.multi()) {
                (Remote::Image { config, .. }, false) => Some(config) == images.values().next(),
                (r @ Remote::Index { .. }, true) => r.index_holds(images),
                _ => false,
            };
            let need = match (remote, same) {
                (Remote::Absent, _) => Need::Push,
                (r, true) => {
                    let d = r.digest().unwrap_or_default().to_string();
                    if i == 0 {
                        reference = Some(d.clone());
                    }
                    match &reference {
                        Some(r) if *r != d => Need::Move(d),
                        _ => Need::Keep(d),
                    }
                }
                (r, false) if t.may_move() => {
                    Need::Move(r.digest().unwrap_or_default().to_string())
                }
                (r, false) => {
                    let ours = if self.spec.multi() {
                        images
                            .iter()
                            .map(|(p, id)| format!("{p} {id}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    } else {
                        format!(
                            "image {}",
                            images.values().next().cloned().unwrap_or_default()
                        )
                    };
                    conflicts.push(conflict(&full, &t.tag, r, &ours, t.kind));
                    Need::Push
                }
            };
            tags.push((t.clone(), need));
        }
        (arch, tags)
    }

    /// One registry's lane: login, what is missing, logout; and what it says once done.
    fn lane(
        &self,
        registry: &str,
        endpoint: &Endpoint,
        images: &BTreeMap<String, String>,
        arch: &[(String, String, Need)],
        tags: &[(PlannedTag, Need)],
    ) -> Lane {
        let repo = self.repo(registry);
        let (mut pushed, mut moved, mut kept) = (Vec::new(), Vec::new(), Vec::new());
        let mut subs: Vec<Sub> = Vec::new();
        let mut children = Vec::new();
        for (platform, tag, need) in arch {
            match need {
                Need::Keep(d) => {
                    kept.push(tag.clone());
                    children.push(d.clone());
                }
                _ => {
                    let key = Self::pushed_key(registry, tag);
                    let image = images.get(platform).cloned().unwrap_or_default();
                    subs.extend(self.push_tag(&image, &format!("{repo}:{tag}"), tag, key.clone()));
                    pushed.push(tag.clone());
                    children.push(format!("<{key}>"));
                }
            }
        }
        // Once one tag holds this build, the others are set to its digest through the registry
        // API (`Retag`: one manifest GET + PUT) instead of another `docker push`.
        let mut source: Option<String> = tags.iter().find_map(|(_, n)| match n {
            Need::Keep(d) => Some(d.clone()),
            _ => None,
        });
        for (t, need) in tags {
            match need {
                Need::Keep(_) => kept.push(t.tag.clone()),
                Need::Push | Need::Move(_) => {
                    if let Some(digest) = &source {
                        subs.push(
                            Retag {
                                at: endpoint.clone(),
                                digest: digest.clone(),
                                tag: t.tag.clone(),
                            }
                            .sub(),
                        );
                    } else if self.spec.multi() {
                        subs.extend(self.push_index(
                            registry,
                            &t.tag,
                            &children,
                            digest_key(registry),
                        ));
                    } else {
                        let image = images.values().next().cloned().unwrap_or_default();
                        subs.extend(self.push_tag(
                            &image,
                            &format!("{repo}:{}", t.tag),
                            &t.tag,
                            digest_key(registry),
                        ));
                    }
                    source.get_or_insert_with(|| format!("<{}>", digest_key(registry)));
                    match need {
                        Need::Move(was) => moved.push(format!("{} (was {was})", t.tag)),
                        _ => pushed.push(t.tag.clone()),
                    }
                }
            }
        }
        if let Some(Need::Keep(d)) = tags.first().map(|(_, n)| n) {
            subs.insert(0, Sub::Record(digest_key(registry), d.clone()));
        }
        let mut parts = Vec::new();
        if !pushed.is_empty() {
            parts.push(format!("pushed {}", pushed.join(", ")));
        }
        if !moved.is_empty() {
            parts.push(format!("moved {}", moved.join(", ")));
        }
        if !kept.is_empty() {
            parts.push(format!("already there: {}", kept.join(", ")));
        }
        let touches = subs.iter().any(|s| matches!(s, Sub::Run(_)));
        let mut all = Vec::new();
        if touches {
            all.extend(self.login(registry));
        }
        all.extend(subs);
        Lane {
            label: repo.clone(),
            subs: all,
            finally: if touches {
                self.logout(registry).into_iter().collect()
            } else {
                Vec::new()
            },
            summary: format!("{repo} → <{}>: {}", digest_key(registry), parts.join("; ")),
        }
    }

    fn manifest_read(&self, registry: &str, tag: &str) -> Sub {
        let repo = Repo::parse(&self.repo(registry));
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

    /// Reads what every tag holds on one registry.
    fn read(&self, registry: &str) -> Result<Held> {
        let repo = Repo::parse(&self.repo(registry));
        let creds = registry_credentials(&repo.registry, &self.credentials);
        let mut client = registry::Client::new(
            &repo.registry,
            creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        );
        let mut arch = Vec::new();
        if self.spec.multi() {
            for platform in &self.spec.platforms {
                let tag = self.spec.arch_tag(platform);
                let remote = read_remote(&mut client, &repo.path, &tag)?;
                arch.push((platform.clone(), tag, remote));
            }
        }
        let mut tags = Vec::new();
        for t in &self.tags {
            tags.push((t.clone(), read_remote(&mut client, &repo.path, &t.tag)?));
        }
        Ok(Held {
            endpoint: Endpoint::new(repo, creds),
            arch,
            tags,
        })
    }
}

fn unreachable(text: &str) -> bool {
    text.contains("connection refused")
        || text.contains("Connection refused")
        || text.contains("no such host")
        || text.contains("i/o timeout")
}

impl Reconcile for Push {
    type Seen = PushSeen;
    fn header(&self) -> String {
        let tags: Vec<&str> = self.tags.iter().map(|t| t.tag.as_str()).collect();
        format!(
            "push {} to {} (registries in parallel; what is there is skipped)",
            tags.join(", "),
            self.registries
                .iter()
                .map(|r| self.repo(r))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "each tag read first: absent → push; holding this build (config digest = image ID) → skip; \
             holding another image → moving tags (latest, v1, v1.2) move, the exact and sha- tags stop \
             the run before anything is pushed"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        let mut observe = Vec::new();
        let mut lanes = Vec::new();
        for r in &self.registries {
            if self.spec.multi() {
                for p in &self.spec.platforms {
                    observe.push(self.manifest_read(r, &self.spec.arch_tag(p)));
                }
            }
            observe.push(self.manifest_read(r, "<tag>"));
            let repo = self.repo(r);
            let mut subs: Vec<Sub> = self.login(r).into_iter().collect();
            if self.spec.multi() {
                let mut children = Vec::new();
                for p in &self.spec.platforms {
                    let tag = self.spec.arch_tag(p);
                    let key = Self::pushed_key(r, &tag);
                    subs.extend(self.push_tag(
                        &format!("<{}>", image_key(p)),
                        &format!("{repo}:{tag}"),
                        &tag,
                        key,
                    ));
                    children.push(format!("<digest {}>", platform_slug(p)));
                }
                subs.extend(self.push_index(r, "<tag>", &children, digest_key(r)));
            } else {
                let p = self.spec.platforms.first().cloned().unwrap_or_default();
                subs.extend(self.push_tag(
                    &format!("<{}>", image_key(&p)),
                    &format!("{repo}:<tag>"),
                    "<tag>",
                    digest_key(r),
                ));
            }
            // Every other tag: set to the digest the first one holds.
            subs.push(
                Retag {
                    at: Endpoint::new(Repo::parse(&repo), None),
                    digest: format!("<{}>", digest_key(r)),
                    tag: "<other tag>".into(),
                }
                .sub(),
            );
            lanes.push(Lane {
                label: repo,
                subs,
                finally: self.logout(r).into_iter().collect(),
                summary: String::new(),
            });
        }
        Planned {
            observe,
            apply: vec![Sub::Parallel(Parallel {
                what: "pushing".into(),
                lanes,
            })],
        }
    }
    fn observe(&self, cx: &RunContext) -> Result<PushSeen> {
        let images: BTreeMap<String, String> = self
            .spec
            .platforms
            .iter()
            .map(|p| Ok((p.clone(), cx.get(&image_key(p))?.to_string())))
            .collect::<Result<_>>()?;
        // Every registry read in parallel; one that cannot be read fails alone.
        let registries = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .registries
                .iter()
                .map(|r| s.spawn(move || (r.clone(), self.read(r))))
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
                .map(|(r, res)| {
                    let res = res.map_err(|e| {
                        let text = crate::run::ui::redact(&format!("{e:#}"));
                        if unreachable(&text) {
                            format!("registry {r} is unreachable ({text}): is it running, and is the address right?")
                        } else {
                            text
                        }
                    });
                    (r, res)
                })
                .collect()
        });
        Ok(PushSeen { images, registries })
    }
    fn decide(&self, seen: &PushSeen) -> Result<Decision> {
        let mut conflicts = Vec::new();
        let mut lanes = Vec::new();
        let mut all_kept = true;
        let mut kept_lines = Vec::new();
        let mut record = Vec::new();
        for (r, held) in &seen.registries {
            match held {
                Err(e) => {
                    all_kept = false;
                    lanes.push(Lane {
                        label: self.repo(r),
                        subs: vec![Sub::Fail(e.clone())],
                        finally: Vec::new(),
                        summary: String::new(),
                    });
                }
                Ok(held) => {
                    let (arch, tags) = self.needs(r, held, &seen.images, &mut conflicts);
                    let kept = arch.iter().all(|(_, _, n)| matches!(n, Need::Keep(_)))
                        && tags.iter().all(|(_, n)| matches!(n, Need::Keep(_)));
                    if kept {
                        let d = match tags.first() {
                            Some((_, Need::Keep(d))) => d.clone(),
                            _ => String::new(),
                        };
                        kept_lines.push(format!(
                            "{} → {d}: already there: {}",
                            self.repo(r),
                            arch.iter()
                                .map(|(_, t, _)| t.clone())
                                .chain(tags.iter().map(|(t, _)| t.tag.clone()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                        record.push((digest_key(r), d));
                    } else {
                        all_kept = false;
                    }
                    lanes.push(self.lane(r, &held.endpoint, &seen.images, &arch, &tags));
                }
            }
        }
        if !conflicts.is_empty() {
            bail!("nothing was pushed: {}", conflicts.join("\n"));
        }
        if all_kept {
            let mut d = Decision::done(format!(
                "every tag already holds this build: {}",
                kept_lines.join("; ")
            ));
            for (k, v) in record {
                d = d.recording(k, v);
            }
            return Ok(d);
        }
        let summary = lanes
            .iter()
            .map(|l| l.summary.clone())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        Ok(Decision::apply(
            vec![Sub::Parallel(Parallel {
                what: "pushing".into(),
                lanes,
            })],
            summary,
        ))
    }
    fn json(&self) -> Json {
        json!({
            "registries": self.registries,
            "tags": self.tags.iter().map(|t| json!({"tag": t.tag, "may_move": t.may_move()})).collect::<Vec<_>>(),
        })
    }
}

pub(crate) fn conflict(
    full: &str,
    tag: &str,
    remote: &Remote,
    ours: &str,
    kind: TagKind,
) -> String {
    let held = match remote {
        Remote::Image { digest, config } => format!("{digest} (image {config})"),
        Remote::Index { digest, children } => format!(
            "{digest} (an index of {})",
            children
                .iter()
                .map(|(p, _, c)| format!("{p} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Remote::Other { digest, media_type } => format!("{digest} ({media_type})"),
        Remote::Absent => "nothing".into(),
    };
    let rule = match kind {
        TagKind::Commit => "a commit tag names one build and never moves — the tag was pushed by another build of this commit; remove it from the registry if that build is wrong",
        _ => "a release tag never moves — release a new version (`cargo xtask release patch`)",
    };
    format!("{full}:{tag} already points at {held}, but this build is {ours}; {rule}")
}

/// The sentence for a failed push of `target`, from the error text.
pub(crate) fn push_error_text(text: &str, target: &str) -> String {
    let registry = target.split('/').next().unwrap_or(target);
    if text.contains("connection refused") || text.contains("no such host") {
        format!("registry {registry} became unreachable while pushing {target}: is it running? A re-run pushes what is missing")
    } else if text.contains("unauthorized")
        || text.contains("authentication required")
        || text.contains("denied")
    {
        format!("registry {registry} refused to let this login push {target}: check DOCKER_USERNAME/DOCKER_PASSWORD and the repository's permissions")
    } else {
        format!("pushing {target}: {text}")
    }
}
