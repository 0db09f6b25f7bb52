//! `cargo xtask promote <version>`: copy the release's image, by digest, from the staging
//! registry to every production registry, then set the release's tags there.
//!
//! 1. Gather (read-only): the version's git tag and tag plan (exactly as `publish-prod`
//!    computes it), the registries, credentials; then the source image, byte for byte (which
//!    reference named it is said).
//! 2. Plan: one [`Promote`] step (observe every destination, decide, one lane per destination).
//! 3. Render (`--dry-run`: every request a real run makes) or execute, then write
//!    `target/slipway/promote-<version>.json`: the source, the digest, per destination the blobs
//!    copied/mounted/present, the bytes, the tags set, and every registry request made.

use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::cmd::Global;
use crate::core::dockertags;
use crate::facts::config;
use crate::run::plan::{Plan, Step};
use crate::run::ui::{self, Style, Ui};
use crate::targets::docker::calls::{blob_key, Endpoint};
use crate::targets::docker::promote::{read_source, tags_key, wanted_tags, Promote};
use crate::targets::docker::registry::{self, Repo};
use crate::targets::docker::{credentials_from_env, planned_tags, registry_credentials};
use crate::{core::version, facts::git, Problems};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub version: String,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub digest: Option<String>,
    pub dry_run: bool,
    pub json: bool,
}

use crate::core::sha256::valid_digest;

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let cfg = config::load_or_refuse(&root, "promote")?;
    crate::targets::notices::begin("promote", &cfg, o.dry_run);
    let mut problems = Problems::default();
    let s = o
        .version
        .strip_prefix(cfg.tag_prefix.as_str())
        .unwrap_or(&o.version);
    let wanted = version::parse_semver(s)
        .or_else(|_| version::parse_pep440(s))
        .map_err(|e| crate::usage(format!("invalid version `{s}`: {e}")))?;
    if let Some(d) = &o.digest {
        if !valid_digest(d) {
            problems.invalid(format!(
                "--digest `{d}` is not a digest: give sha256: and 64 lowercase hex digits \
                 (`docker buildx imagetools inspect <image>` shows it)"
            ));
        }
    }
    let Some(docker) = cfg.docker.clone() else {
        problems.invalid(format!(
            "{} has no [workspace.metadata.release.docker] table: promote copies the release's image; \
             add one (image = \"acme/app\", registries = [\"ghcr.io\"], staging-registry = \"…\")",
            config::FILE
        ));
        return problems.check("promote").map(|()| 0);
    };
    let from = o.from.clone().or_else(|| docker.staging_registry.clone());
    if from.is_none() {
        problems.invalid(
            "no source registry: pass --from <registry>, or set `staging-registry` in \
             [workspace.metadata.release.docker]",
        );
    }
    let to = if o.to.is_empty() {
        docker.registries.clone()
    } else {
        o.to.clone()
    };
    let repo_of = |r: &str| Repo::parse(&format!("{}/{}", r.trim_end_matches('/'), docker.image));
    if let Some(f) = &from {
        for t in &to {
            if repo_of(t) == repo_of(f) {
                problems.invalid(format!(
                    "--to {t} is the source itself ({}): name production registries other than --from",
                    repo_of(f).docker_name()
                ));
            }
        }
    }
    let facts = crate::cmd::publish::gather_facts_for(&cfg, Some(&wanted), &mut problems)?;
    if let Some(f) = &facts {
        crate::targets::incident::release(&f.package, &f.version.to_string(), &f.tag);
    }
    let credentials = credentials_from_env(&mut problems);
    let tags = match &facts {
        Some(f) => planned_tags(f, &docker).unwrap_or_else(|e| {
            problems.invalid(format!("[workspace.metadata.release.docker] tags: {e}"));
            Vec::new()
        }),
        None => Vec::new(),
    };
    problems.check("promote")?;
    let (Some(facts), Some(from)) = (facts, from) else {
        return Ok(0);
    };
    let endpoint = |r: &str| {
        let repo = repo_of(r);
        let creds = registry_credentials(&repo.registry, &credentials);
        Endpoint::new(repo, creds)
    };
    let source_at = endpoint(&from);
    let exact = dockertags::exact_tag(&cfg.tag_prefix, &facts.version);
    let candidates: Vec<(String, String)> = match &o.digest {
        Some(d) => vec![(d.clone(), "--digest".into())],
        None => vec![
            (
                dockertags::dev_tag(&facts.version).tag,
                "the dev tag".into(),
            ),
            (exact.clone(), "the exact tag".into()),
        ],
    };
    let source = match read_source(&source_at, &candidates)? {
        Ok(s) => s,
        Err(why) => {
            let mut problems = Problems::default();
            problems.failure(why);
            return problems.check("promote").map(|()| 0);
        }
    };
    let destinations: Vec<Endpoint> = to.iter().map(|t| endpoint(t)).collect();
    let wanted_tags = wanted_tags(&source, &exact, &tags, &docker.platforms);
    let found = format!(
        "source {}@{} ({}, found by {} `{}`; {} blob(s), {} bytes)",
        source_at.name(),
        source.top.digest,
        if source.is_index() {
            format!(
                "an index of {}",
                source
                    .children
                    .iter()
                    .map(|(p, _)| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            "one image".to_string()
        },
        source.via,
        source.reference,
        source.blobs.len(),
        source.bytes()
    );
    let step = Promote {
        source: source.clone(),
        to: destinations.clone(),
        tags: wanted_tags.clone(),
    };
    let mut plan = Plan::default();
    // The logins of the registries it writes, first, all at once.
    let written: Vec<String> = destinations.iter().map(|d| d.name()).collect();
    if let Some(check) = crate::targets::credentials::registries_step(
        &written,
        &credentials,
        cfg.credentials_warn_days,
    ) {
        plan.push(check);
    }
    plan.push(Step::Action(Box::new(step)));
    let source_json = json!({
        "registry": source_at.name(),
        "reference": source.reference,
        "via": source.via,
        "digest": source.top.digest,
        "media_type": source.top.media_type,
        "children": source.children.iter().map(|(p, m)| json!({"platform": p, "digest": m.digest})).collect::<Vec<_>>(),
        "blobs": source.blobs.len(),
        "bytes": source.bytes(),
    });
    if o.dry_run {
        if o.json {
            ui::print_json(&json!({
                "dry_run": true,
                "version": facts.version.to_string(),
                "tag": facts.tag,
                "source": source_json,
                "steps": plan.to_json(&cfg.root),
                "ledger": crate::targets::ledger::dry_run_json(&cfg, &facts.commit, &facts.tag, false),
            }));
        } else {
            ui.heading(&format!(
                "promote {} {} — dry run, nothing will be changed",
                facts.package, facts.tag
            ));
            ui.note(&found);
            plan.render(ui, &cfg.root);
            crate::targets::ledger::render_dry_run(ui, &cfg, &facts.commit, &facts.tag, false);
        }
        return Ok(0);
    }
    ui.heading(&format!("promote {} {}", facts.package, facts.tag));
    ui.note(&found);
    let started = Instant::now();
    let mut ledger = crate::targets::ledger::record(
        "promote",
        &facts.version.to_string(),
        &facts.tag,
        &facts.commit,
    );
    registry::record_requests();
    let mut steps = Vec::new();
    let result = crate::run::exec::execute_with(&plan, ui, &cfg.root, &mut |r| {
        steps.push(crate::targets::ledger::row(r));
    });
    let requests = registry::recorded_requests();
    let took = started.elapsed();
    let values = result
        .as_ref()
        .map(|o| o.values.clone())
        .unwrap_or_default();
    let mut per = Vec::new();
    for to in &destinations {
        let (mut streamed, mut mounted, mut present, mut bytes) = (0, 0, 0, 0u64);
        for (d, size) in &source.blobs {
            match values.get(&blob_key(to, d)).map(String::as_str) {
                Some("mounted") => mounted += 1,
                Some(v) => {
                    streamed += 1;
                    bytes += v
                        .strip_prefix("streamed ")
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(*size);
                }
                None => present += 1,
            }
        }
        let set: Vec<&str> = values
            .get(&tags_key(to))
            .map(|t| t.split(", ").filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        per.push(json!({
            "registry": to.name(),
            "blobs": {"copied": streamed, "mounted": mounted, "present": present},
            "bytes_copied": bytes,
            "tags_set": set,
        }));
    }
    let report = json!({
        "version": facts.version.to_string(),
        "tag": facts.tag,
        "ok": result.is_ok(),
        "error": result.as_ref().err().map(|e| ui::redact(&format!("{e:#}"))),
        "source": source_json,
        "digest": source.top.digest,
        "tags": wanted_tags.iter().map(|t| json!({"tag": t.tag.tag, "digest": t.digest})).collect::<Vec<_>>(),
        "destinations": per,
        "requests": requests,
        "duration_ms": took.as_millis() as u64,
    });
    // The ledger: what was copied where, by digest.
    crate::targets::ledger::finish(&mut ledger, &result, took);
    ledger.stages = crate::targets::ledger::stages_of(&["promote"], &steps);
    ledger.artifacts = destinations
        .iter()
        .map(|d| crate::core::ledger::Artifact {
            kind: "image".into(),
            name: docker.image.clone(),
            at: d.name(),
            digest: Some(source.top.digest.clone()),
            sha256: None,
        })
        .collect();
    crate::targets::ledger::write(ui, &cfg, &ledger, false);
    let path = facts.work.join(format!("promote-{}.json", facts.version));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::run::exec::write_atomic(&path, &ui::redact(&serde_json::to_string_pretty(&report)?))?;
    if o.json {
        ui::print_json(&report);
    }
    result?;
    for d in report["destinations"].as_array().into_iter().flatten() {
        ui.line(&format!(
            "  {}: {} blob(s) copied ({} bytes), {} mounted, {} already there; tags set: {}",
            d["registry"].as_str().unwrap_or_default(),
            d["blobs"]["copied"],
            d["bytes_copied"],
            d["blobs"]["mounted"],
            d["blobs"]["present"],
            d["tags_set"]
                .as_array()
                .filter(|a| !a.is_empty())
                .map(|a| a
                    .iter()
                    .filter_map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_else(|| "none".into())
        ));
    }
    ui.line(&format!(
        "{} promoted {} ({}) in {} — report: {}",
        ui.paint(Style::Green, "done:"),
        facts.tag,
        source.top.digest,
        ui::human_duration(took),
        path.strip_prefix(&cfg.root).unwrap_or(&path).display()
    ));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let ok = format!("sha256:{}", "a".repeat(64));
        assert!(valid_digest(&ok));
        for bad in [
            "sha256:abc",
            "sha512:aaaa",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}g", "a".repeat(63)),
            "",
        ] {
            assert!(!valid_digest(bad), "{bad}");
        }
    }
}
