//! Push every planned tag to every registry (registries in parallel), each checked first; the multi-arch index is assembled from the pushed per-platform digests.

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
use crate::run::plan::{Action, Done, Process, RunContext};
use anyhow::{anyhow, bail, Context, Result};
use registry::Repo;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Pushes every planned tag to every registry, the registries in parallel.
///
/// 1. Per registry, in parallel: `docker login` (with env credentials, password on stdin, into
///    the private `DOCKER_CONFIG`), then read what every tag holds.
/// 2. A tag that may not move (the exact tag, `sha-…`, per-arch tags) holding another image
///    stops everything before any push, on every registry.
/// 3. Per registry, in parallel: push what is absent, move the moving tags that point elsewhere,
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

/// What one registry's run did.
#[derive(Debug, Default)]
pub(crate) struct RegistryReport {
    pub(crate) pushed: Vec<String>,
    pub(crate) moved: Vec<String>,
    pub(crate) kept: Vec<String>,
    /// The digest every release tag resolves to (the index for multi-platform).
    pub(crate) digest: Option<String>,
}

impl RegistryReport {
    /// What a registry got before it failed.
    pub(crate) fn partial(&self) -> String {
        let mut parts = Vec::new();
        if !self.pushed.is_empty() {
            parts.push(format!("pushed {}", self.pushed.join(", ")));
        }
        if !self.moved.is_empty() {
            parts.push(format!("moved {}", self.moved.join(", ")));
        }
        if !self.kept.is_empty() {
            parts.push(format!("already there: {}", self.kept.join(", ")));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" (before that: {})", parts.join("; "))
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Decision {
    Push,
    Move(String),
    Keep(String),
}

pub(crate) struct Observed {
    /// (platform, arch tag, decision) for multi-platform images.
    pub(crate) arch: Vec<(String, String, Decision)>,
    pub(crate) tags: Vec<(PlannedTag, Decision, Remote)>,
}

impl Push {
    pub(crate) fn config_dir(&self) -> Option<PathBuf> {
        self.credentials
            .as_ref()
            .map(|_| engine::private_config(&self.spec.work))
    }

    pub(crate) fn docker(&self) -> Process {
        engine::docker(&self.spec.root, self.config_dir().as_deref())
    }

    pub(crate) fn repo(&self, registry: &str) -> String {
        format!("{}/{}", registry.trim_end_matches('/'), self.spec.image)
    }

    pub(crate) fn login_process(&self, registry: &str) -> Option<Process> {
        let login = self.credentials.as_ref()?;
        let host = Repo::parse(&self.repo(registry)).registry;
        Some(
            self.docker()
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

    pub(crate) fn insecure(registry: &str) -> Option<&'static str> {
        crate::run::net::is_loopback(registry.split('/').next().unwrap_or(registry))
            .then_some("--insecure")
    }

    /// Login and read every tag; conflicts are returned as messages.
    pub(crate) fn observe(
        &self,
        registry: &str,
        images: &BTreeMap<String, String>,
    ) -> Result<(Observed, Vec<String>)> {
        if let Some(login) = self.login_process(registry) {
            if let Err(e) = crate::run::exec::run_captured(&login) {
                let text = format!("{e:#}");
                let user = self
                    .credentials
                    .as_ref()
                    .map(|c| c.user.as_str())
                    .unwrap_or("");
                if text.contains("401") || text.to_lowercase().contains("unauthorized") {
                    bail!("registry {registry} refused the credentials of `{user}`: check DOCKER_USERNAME/DOCKER_PASSWORD");
                }
                if text.contains("connection refused")
                    || text.contains("no such host")
                    || text.contains("i/o timeout")
                {
                    bail!("registry {registry} is unreachable (docker login: connection refused): is it running, and is the address right?");
                }
                return Err(e.context(format!("docker login {registry}")));
            }
        }
        let repo = Repo::parse(&self.repo(registry));
        let creds = registry_credentials(&repo.registry, &self.credentials);
        let mut client = registry::Client::new(
            &repo.registry,
            creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        );
        let full = self.repo(registry);
        let mut conflicts = Vec::new();
        let mut arch = Vec::new();
        if self.spec.multi() {
            for platform in &self.spec.platforms {
                let tag = self.spec.arch_tag(platform);
                let id = &images[platform];
                let remote = read_remote(&mut client, &repo.path, &tag)?;
                let d = match &remote {
                    Remote::Absent => Decision::Push,
                    Remote::Image { digest, config } if config == id => {
                        Decision::Keep(digest.clone())
                    }
                    other => {
                        conflicts.push(conflict(
                            &full,
                            &tag,
                            other,
                            &format!("image {id}"),
                            TagKind::Exact,
                        ));
                        Decision::Push
                    }
                };
                arch.push((platform.clone(), tag, d));
            }
        }
        let mut tags = Vec::new();
        for t in &self.tags {
            let remote = read_remote(&mut client, &repo.path, &t.tag)?;
            let same = match (&remote, self.spec.multi()) {
                (Remote::Image { config, .. }, false) => Some(config) == images.values().next(),
                (r @ Remote::Index { .. }, true) => r.index_holds(images),
                _ => false,
            };
            let d = match (&remote, same) {
                (Remote::Absent, _) => Decision::Push,
                (r, true) => Decision::Keep(r.digest().unwrap_or_default().to_string()),
                (r, false) if t.may_move() => {
                    Decision::Move(r.digest().unwrap_or_default().to_string())
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
                    Decision::Push
                }
            };
            tags.push((t.clone(), d, remote));
        }
        Ok((Observed { arch, tags }, conflicts))
    }

    pub(crate) fn push_tag(&self, image: &str, target: &str, tag: &str) -> Result<String> {
        crate::run::exec::run_captured(&self.docker().args(["tag", image, target]))?;
        let out = crate::run::exec::run_captured(&self.docker().args(["push", target]))
            .map_err(|e| push_error(e, target))?;
        pushed_digest(&out, tag)
            .ok_or_else(|| anyhow!("`docker push {target}` printed no digest:\n{}", out.trim()))
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
            self.docker()
                .args(["manifest", "create"])
                .args(insecure.iter().copied())
                .args([target.clone()])
                .args(
                    children
                        .iter()
                        .map(|d| format!("{}@{d}", self.repo(registry))),
                ),
            self.docker()
                .args(["manifest", "push"])
                .args(insecure.iter().copied())
                .args(["--purge".to_string(), target]),
        ]
    }

    pub(crate) fn push_index(
        &self,
        registry: &str,
        tag: &str,
        children: &[String],
    ) -> Result<String> {
        let target = format!("{}:{tag}", self.repo(registry));
        // A list left by an interrupted run would make `create` refuse.
        let _ = crate::run::exec::run_captured(&self.docker().args(["manifest", "rm", &target]));
        let procs = self.manifest_processes(registry, tag, children);
        crate::run::exec::run_captured(&procs[0])
            .with_context(|| format!("docker manifest create {target}"))?;
        let out = crate::run::exec::run_captured(&procs[1]).map_err(|e| push_error(e, &target))?;
        manifest_push_digest(&out).ok_or_else(|| {
            anyhow!(
                "`docker manifest push {target}` printed no digest:\n{}",
                out.trim()
            )
        })
    }

    /// Phase 2 for one registry.
    pub(crate) fn apply(
        &self,
        registry: &str,
        images: &BTreeMap<String, String>,
        observed: Observed,
        report: &mut RegistryReport,
    ) -> Result<()> {
        let repo = self.repo(registry);
        let mut children = Vec::new();
        for (platform, tag, d) in &observed.arch {
            let digest = match d {
                Decision::Keep(digest) => {
                    report.kept.push(tag.clone());
                    digest.clone()
                }
                _ => {
                    let digest = self.push_tag(&images[platform], &format!("{repo}:{tag}"), tag)?;
                    report.pushed.push(tag.clone());
                    digest
                }
            };
            children.push(digest);
        }
        let mut reference: Option<String> = None;
        for (t, d, _) in observed.tags {
            let keep = match &d {
                Decision::Keep(digest) => reference.as_ref().is_none_or(|r| r == digest),
                _ => false,
            };
            let digest = if keep {
                report.kept.push(t.tag.clone());
                match d {
                    Decision::Keep(digest) => digest,
                    _ => unreachable!(),
                }
            } else {
                let digest = if self.spec.multi() {
                    self.push_index(registry, &t.tag, &children)?
                } else {
                    let image = images.values().next().expect("one platform");
                    self.push_tag(image, &format!("{repo}:{}", t.tag), &t.tag)?
                };
                match d {
                    Decision::Move(was) => report.moved.push(format!("{} (was {was})", t.tag)),
                    _ => report.pushed.push(t.tag.clone()),
                }
                digest
            };
            match &reference {
                None => reference = Some(digest),
                Some(r) if *r != digest => bail!(
                    "{repo}:{} resolved to {digest}, but {repo}:{} is {r}: the tags of one release must hold one manifest",
                    t.tag,
                    self.spec.exact_tag
                ),
                Some(_) => {}
            }
        }
        report.digest = reference;
        Ok(())
    }

    pub(crate) fn logout(&self, registry: &str) {
        if self.credentials.is_some() {
            let host = Repo::parse(&self.repo(registry)).registry;
            let _ = crate::run::exec::run_captured(&self.docker().args(["logout", &host]));
        }
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

pub(crate) fn push_error(e: anyhow::Error, target: &str) -> anyhow::Error {
    let text = format!("{e:#}");
    let registry = target.split('/').next().unwrap_or(target);
    if text.contains("connection refused") || text.contains("no such host") {
        anyhow!("registry {registry} became unreachable while pushing {target}: is it running? A re-run pushes what is missing")
    } else if text.contains("unauthorized")
        || text.contains("authentication required")
        || text.contains("denied")
    {
        anyhow!("registry {registry} refused to let this login push {target}: check DOCKER_USERNAME/DOCKER_PASSWORD and the repository's permissions")
    } else {
        e.context(format!("pushing {target}"))
    }
}

impl Action for Push {
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
    fn detail(&self) -> Option<String> {
        let mut lines = Vec::new();
        for r in &self.registries {
            if let Some(p) = self.login_process(r) {
                lines.push(p.command_line());
            }
        }
        lines.push(
            "every tag is read from the registry first (GET /v2/<name>/manifests/<tag>): absent → push; \
             holding this build (config digest = image ID) → skip; holding another image → moving tags \
             (latest, v1, v1.2) are moved, the exact and sha- tags stop the run before anything is pushed"
                .into(),
        );
        let Some(r0) = self.registries.first() else {
            return Some(lines.join("\n"));
        };
        let repo = self.repo(r0);
        if self.spec.multi() {
            for p in &self.spec.platforms {
                let tag = self.spec.arch_tag(p);
                lines.push(
                    self.docker()
                        .args(["tag", &format!("<image {p}>"), &format!("{repo}:{tag}")])
                        .command_line(),
                );
                lines.push(
                    self.docker()
                        .args(["push", &format!("{repo}:{tag}")])
                        .command_line(),
                );
            }
            let children: Vec<String> = self
                .spec
                .platforms
                .iter()
                .map(|p| format!("<digest {}>", platform_slug(p)))
                .collect();
            for p in self.manifest_processes(r0, "<tag>", &children) {
                lines.push(p.command_line());
            }
        } else {
            lines.push(
                self.docker()
                    .args(["tag", "<image>", &format!("{repo}:<tag>")])
                    .command_line(),
            );
            lines.push(
                self.docker()
                    .args(["push", &format!("{repo}:<tag>")])
                    .command_line(),
            );
        }
        if self.registries.len() > 1 {
            lines.push(format!(
                "… the same for {}",
                self.registries[1..].join(", ")
            ));
        }
        if self.credentials.is_some() {
            lines.push("then docker logout (no credentials stay on disk)".into());
        }
        Some(lines.join("\n"))
    }
    fn planned(&self) -> Vec<Process> {
        let mut out = Vec::new();
        for r in &self.registries {
            out.extend(self.login_process(r));
            let repo = self.repo(r);
            if self.spec.multi() {
                for p in &self.spec.platforms {
                    let target = format!("{repo}:{}", self.spec.arch_tag(p));
                    out.push(self.docker().args(["tag", "<image-id>", &target]));
                    out.push(self.docker().args(["push", &target]));
                }
                out.push(
                    self.docker()
                        .args(["manifest", "rm", &format!("{repo}:<tag>")]),
                );
                let children: Vec<String> = self
                    .spec
                    .platforms
                    .iter()
                    .map(|p| format!("<digest {}>", platform_slug(p)))
                    .collect();
                out.extend(self.manifest_processes(r, "<tag>", &children));
            } else {
                let target = format!("{repo}:<tag>");
                out.push(self.docker().args(["tag", "<image-id>", &target]));
                out.push(self.docker().args(["push", &target]));
            }
            if self.credentials.is_some() {
                let host = Repo::parse(&repo).registry;
                out.push(self.docker().args(["logout", &host]));
            }
        }
        out
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let images: BTreeMap<String, String> = self
            .spec
            .platforms
            .iter()
            .map(|p| Ok((p.clone(), cx.get(&image_key(p))?.to_string())))
            .collect::<Result<_>>()?;
        // Phase 1: login + read, every registry in parallel.
        let observed: Vec<Result<(Observed, Vec<String>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .registries
                .iter()
                .map(|r| s.spawn(|| self.observe(r, &images)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("internal error: a push thread panicked")))
                })
                .collect()
        });
        let conflicts: Vec<String> = observed
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .flat_map(|(_, c)| c.clone())
            .collect();
        if !conflicts.is_empty() {
            for r in &self.registries {
                self.logout(r);
            }
            bail!("nothing was pushed: {}", conflicts.join("\n"));
        }
        // Phase 2: push, every reachable registry in parallel.
        let results: Vec<(String, Result<RegistryReport, String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .registries
                .iter()
                .zip(observed)
                .map(|(r, o)| {
                    let images = &images;
                    s.spawn(move || {
                        let result = match o {
                            Err(e) => Err(format!("{e:#}")),
                            Ok((obs, _)) => {
                                let mut report = RegistryReport::default();
                                match self.apply(r, images, obs, &mut report) {
                                    Ok(()) => Ok(report),
                                    Err(e) => Err(format!("{e:#}{}", report.partial())),
                                }
                            }
                        };
                        self.logout(r);
                        (r.clone(), result)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        (
                            String::new(),
                            Err("internal error: a push thread panicked".into()),
                        )
                    })
                })
                .collect()
        });
        let mut lines = Vec::new();
        let mut failures = Vec::new();
        let mut any_pushed = false;
        for (r, result) in results {
            match result {
                Ok(rep) => {
                    let mut parts = Vec::new();
                    if !rep.pushed.is_empty() {
                        any_pushed = true;
                        parts.push(format!("pushed {}", rep.pushed.join(", ")));
                    }
                    if !rep.moved.is_empty() {
                        any_pushed = true;
                        parts.push(format!("moved {}", rep.moved.join(", ")));
                    }
                    if !rep.kept.is_empty() {
                        parts.push(format!("already there: {}", rep.kept.join(", ")));
                    }
                    let digest = rep.digest.unwrap_or_default();
                    lines.push(format!(
                        "{} → {digest}: {}",
                        self.repo(&r),
                        parts.join("; ")
                    ));
                    cx.set(&digest_key(&r), digest);
                }
                Err(e) => {
                    failures.push(format!("{}: {}", self.repo(&r), crate::run::ui::redact(&e)))
                }
            }
        }
        if !failures.is_empty() {
            let mut msg = format!("pushing failed for {}", failures.join("\n"));
            if !lines.is_empty() {
                msg.push_str(&format!(
                    "\nthe other registries completed:\n{}\na re-run completes the rest (what is there is skipped)",
                    lines.join("\n")
                ));
            }
            bail!("{msg}");
        }
        if any_pushed {
            Ok(Done::Ran(lines.join("\n")))
        } else {
            Ok(Done::Skipped(format!(
                "every tag already holds this build: {}",
                lines.join("; ")
            )))
        }
    }
    fn json(&self) -> Json {
        json!({
            "registries": self.registries,
            "tags": self.tags.iter().map(|t| json!({"tag": t.tag, "may_move": t.may_move()})).collect::<Vec<_>>(),
        })
    }
}
