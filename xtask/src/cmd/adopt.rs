//! `cargo xtask adopt <path> [--dry-run]` (run from a slipway checkout): puts slipway's tool
//! into another repository and configures it there.
//!
//! It copies the crates the tool is built from (`xtask/` and the path dependencies its
//! `[dependencies]` name, as the checkout's git tracks them, without its integration tests, which
//! need the rehearsal rig) and `.cargo/config.toml` (the `cargo xtask` alias), adds `xtask` to the
//! target's top-level `Cargo.toml` workspace (creating the file when there is none; toml_edit,
//! every other table kept), and writes the `init` configuration for that repository, all as one
//! plan. It refuses, before writing anything, a target with a different `xtask/` crate, a
//! different `cargo xtask` alias, or a top-level `Cargo.toml` that is a package.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cmd::Global;
use crate::facts::git;
use crate::run::plan::{Action, Done, FileEdit, Plan, RunContext, Step};
use crate::run::ui::Ui;
use crate::Problems;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub path: PathBuf,
    pub dry_run: bool,
}

/// Files copied into the target: (path relative to both roots, content).
#[derive(Debug)]
pub struct CopyFiles {
    pub root: PathBuf,
    pub what: String,
    pub files: Vec<(String, String)>,
}

impl Action for CopyFiles {
    fn header(&self) -> String {
        format!("copy {} ({} files)", self.what, self.files.len())
    }
    fn detail(&self) -> Option<String> {
        Some(
            self.files
                .iter()
                .map(|(rel, _)| format!("+ {rel}"))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
    fn execute(&self, _cx: &mut RunContext) -> Result<Done> {
        for (rel, content) in &self.files {
            let path = self.root.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            match std::fs::read_to_string(&path) {
                Ok(now) if now == *content => continue,
                Ok(_) => anyhow::bail!(
                    "{rel} appeared in the target since the plan was made; run adopt again"
                ),
                Err(_) => {}
            }
            crate::run::exec::write_atomic(&path, content)
                .with_context(|| format!("cannot write {rel}"))?;
        }
        Ok(Done::Ran(String::new()))
    }
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let source = git::toplevel(&global.dir)?;
    let target_dir = if o.path.is_absolute() {
        o.path.clone()
    } else {
        global.dir.join(&o.path)
    };
    let target = git::toplevel(&target_dir)?;
    let (plan, findings) = prepare(&source, &target)?;
    for f in &findings {
        ui.note(f);
    }
    if plan.steps.is_empty() {
        ui.note(&format!(
            "{} already has slipway and its configuration: nothing to change",
            target.display()
        ));
        return Ok(0);
    }
    if o.dry_run {
        plan.render(ui, &target);
        ui.note("dry run: nothing was written");
        return Ok(0);
    }
    crate::run::exec::execute(&plan, ui, &target)?;
    ui.note(&format!(
        "slipway is in {}: next, there, `cargo xtask check-versions`, then `cargo xtask \
         bump-version patch --dry-run` (commit xtask/, .cargo/config.toml and Cargo.toml first)",
        target.display()
    ));
    Ok(0)
}

/// Tracked files under `dir` of the checkout at `root`.
fn tracked(root: &Path, dir: &str) -> Result<Vec<String>> {
    let out = git::git_read(root, ["ls-files", "-z", "--", dir])
        .with_context(|| format!("cannot list {dir} in the slipway checkout"))?;
    Ok(out
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect())
}

/// The crates the tool is built from: `xtask` and the local path dependencies of its
/// `[dependencies]` (not its dev-dependencies: the rig is for slipway's own tests).
fn tool_crates(source: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(source.join("xtask/Cargo.toml")).context(
        "this is not a slipway checkout (no xtask/Cargo.toml); run adopt from slipway's repository",
    )?;
    let doc = toml_edit::Document::parse(text.as_str()).map_err(|e| {
        anyhow::anyhow!(
            "xtask/Cargo.toml: {}",
            crate::core::pyproject::toml_error(&e)
        )
    })?;
    let mut crates = vec!["xtask".to_string()];
    if let Some(deps) = doc.get("dependencies").and_then(|d| d.as_table_like()) {
        for (_, dep) in deps.iter() {
            if let Some(p) = dep.get("path").and_then(|p| p.as_str()) {
                let p = Path::new("xtask").join(p);
                let norm = normalise(&p);
                if !crates.contains(&norm) {
                    crates.push(norm);
                }
            }
        }
    }
    Ok(crates)
}

/// `a/b/../c` → `a/c` (the paths here are relative and inside the checkout).
fn normalise(p: &Path) -> String {
    let mut out: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    out.join("/")
}

/// The tool's manifest for another repository: dev-dependencies on crates that are not copied
/// (the rehearsal rig) are dropped, with the integration tests that use them.
fn tool_manifest(text: &str, copied: &[String]) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| anyhow::anyhow!("xtask/Cargo.toml: {e}"))?;
    if let Some(dev) = doc
        .get_mut("dev-dependencies")
        .and_then(|d| d.as_table_like_mut())
    {
        let drop: Vec<String> = dev
            .iter()
            .filter(|(_, d)| {
                d.get("path")
                    .and_then(|p| p.as_str())
                    .is_some_and(|p| !copied.contains(&normalise(&Path::new("xtask").join(p))))
            })
            .map(|(k, _)| k.to_string())
            .collect();
        for k in drop {
            dev.remove(&k);
        }
    }
    Ok(doc.to_string())
}

/// Builds the plan: copies, the workspace, the configuration. Nothing is written.
pub fn prepare(source: &Path, target: &Path) -> Result<(Plan, Vec<String>)> {
    let mut problems = Problems::default();
    let same = |a: &Path, b: &Path| {
        std::fs::canonicalize(a)
            .ok()
            .is_some_and(|a| Some(a) == std::fs::canonicalize(b).ok())
    };
    if same(source, target) {
        return Err(crate::usage(
            "adopt copies slipway into another repository; give that repository's path (e.g. `cargo xtask adopt ../app`)",
        ));
    }
    let crates = tool_crates(source)?;
    let mut files: Vec<(String, String)> = Vec::new();
    for dir in &crates {
        for rel in tracked(source, dir)? {
            if rel.starts_with("xtask/tests/") {
                continue;
            }
            let text = std::fs::read_to_string(source.join(&rel))
                .with_context(|| format!("cannot read {rel} in the slipway checkout"))?;
            let text = if rel == "xtask/Cargo.toml" {
                tool_manifest(&text, &crates)?
            } else {
                text
            };
            if !files.iter().any(|(r, _)| *r == rel) {
                files.push((rel, text));
            }
        }
    }
    let alias = std::fs::read_to_string(source.join(".cargo/config.toml"))
        .context("cannot read .cargo/config.toml in the slipway checkout")?;
    let mut findings = Vec::new();
    // An xtask crate that is not this one is the maintainer's own: never overwritten.
    let differing: Vec<&String> = files
        .iter()
        .filter(|(rel, content)| {
            std::fs::read_to_string(target.join(rel)).is_ok_and(|now| now != *content)
        })
        .map(|(rel, _)| rel)
        .collect();
    if target.join("xtask").exists() && !differing.is_empty() {
        problems.failure(format!(
            "{} already has an xtask crate that is not this slipway ({} differ, e.g. {}); rename or \
             remove that crate (slipway's tool is `xtask/`), then run adopt again",
            target.display(),
            differing.len(),
            differing[0]
        ));
    }
    let mut copies: Vec<(String, String)> = files
        .into_iter()
        .filter(|(rel, _)| !target.join(rel).exists())
        .collect();
    // The `cargo xtask` alias.
    let cargo_config = target.join(".cargo/config.toml");
    let mut steps: Vec<Step> = Vec::new();
    match std::fs::read_to_string(&cargo_config) {
        Err(_) => copies.push((".cargo/config.toml".into(), alias.clone())),
        Ok(now) => match now.parse::<toml_edit::DocumentMut>() {
            Err(e) => problems.invalid(format!(".cargo/config.toml: invalid TOML: {e}")),
            Ok(mut doc) => {
                let ours = "run --package xtask --";
                match doc.get("alias").and_then(|a| a.get("xtask")) {
                    Some(v) if v.as_str() == Some(ours) => {}
                    Some(v) => problems.failure(format!(
                        ".cargo/config.toml already defines `cargo xtask` as {}; slipway needs \
                         xtask = \"{ours}\": change or remove that alias, then run adopt again",
                        v.to_string().trim()
                    )),
                    None => {
                        if doc.get("alias").is_none() {
                            doc["alias"] = toml_edit::table();
                        }
                        doc["alias"]["xtask"] = toml_edit::value(ours);
                        steps.push(Step::Edit(FileEdit::new(
                            ".cargo/config.toml",
                            &cargo_config,
                            now.clone(),
                            doc.to_string(),
                        )));
                    }
                }
            }
        },
    }
    // Cargo.lock: the checkout's, so the first build uses the versions slipway is tested with.
    if !target.join("Cargo.lock").exists() {
        if let Ok(lock) = std::fs::read_to_string(source.join("Cargo.lock")) {
            copies.push(("Cargo.lock".into(), lock));
        }
    }
    // The workspace.
    let manifest = target.join(crate::facts::config::FILE);
    let on_disk = std::fs::read_to_string(&manifest).ok();
    let source_manifest = std::fs::read_to_string(source.join(crate::facts::config::FILE))
        .context("cannot read Cargo.toml in the slipway checkout")?;
    // Members: the tool's crates that the checkout's workspace lists (a path dependency inside
    // the workspace that is not listed is a member by being a path dependency).
    let source_members: Vec<String> = source_manifest
        .parse::<toml_edit::DocumentMut>()
        .ok()
        .and_then(|d| {
            d.get("workspace")
                .and_then(|w| w.get("members"))
                .and_then(|m| m.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
        })
        .unwrap_or_default();
    let members: Vec<&str> = crates
        .iter()
        .filter(|c| *c == "xtask" || source_members.contains(c))
        .map(String::as_str)
        .collect();
    let merged = match &on_disk {
        None => Some(new_workspace(&source_manifest, &members)),
        Some(text) => match merge_workspace(text, &members) {
            Ok(t) => Some(t),
            Err(e) => {
                problems.failure(e);
                None
            }
        },
    };
    problems.check("adopt")?;
    let merged = merged.expect("checked");
    if !copies.is_empty() {
        findings.push(format!(
            "copying slipway's tool ({}) into {}",
            crates.join(", "),
            target.display()
        ));
    }
    let init = crate::cmd::init::prepare_with(target, Some(merged), on_disk)?;
    findings.extend(init.findings);
    let mut plan = Plan::default();
    if !copies.is_empty() {
        plan.push(Step::Action(Box::new(CopyFiles {
            root: target.to_path_buf(),
            what: format!("slipway's tool: {}/", crates.join("/, ")),
            files: copies,
        })));
    }
    plan.steps.extend(steps);
    plan.steps.extend(init.plan.steps);
    Ok((plan, findings))
}

/// A top-level `Cargo.toml` for a repository that has none: the workspace with `xtask`, and the
/// checkout's build profiles (the tool's dependencies optimised, as slipway measured).
fn new_workspace(source_manifest: &str, members: &[&str]) -> String {
    let list: Vec<String> = members.iter().map(|m| format!("{m:?}")).collect();
    let mut out = format!(
        "# The Rust workspace of slipway's release tool (`cargo xtask`); added by `cargo xtask adopt`.\n\
         [workspace]\nmembers = [{}]\nresolver = \"2\"\n",
        list.join(", ")
    );
    if let Ok(src) = source_manifest.parse::<toml_edit::DocumentMut>() {
        if let Some(profile) = src.get("profile") {
            let mut doc = toml_edit::DocumentMut::new();
            doc["profile"] = profile.clone();
            out.push('\n');
            out.push_str(&doc.to_string());
        }
    }
    out
}

/// The target's `Cargo.toml` with `xtask` among its workspace members (toml_edit: everything else
/// kept as written). Err: why it cannot be merged, with what to do.
pub fn merge_workspace(text: &str, add: &[&str]) -> std::result::Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("Cargo.toml: invalid TOML ({e}); fix it, then run adopt again"))?;
    if doc.get("workspace").is_none() {
        if let Some(name) = doc
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
        {
            return Err(format!(
                "the top-level Cargo.toml is the package `{name}`, not a workspace; slipway's tool \
                 needs a workspace there: move the package into its own directory and list it in a \
                 [workspace] with members = [\"<dir>\", \"xtask\"] (or add that [workspace] table to \
                 this file yourself), then run adopt again"
            ));
        }
        doc["workspace"] = toml_edit::table();
        doc["workspace"]["members"] = toml_edit::value(toml_edit::Array::new());
        doc["workspace"]["resolver"] = toml_edit::value("2");
    }
    let ws = doc["workspace"].as_table_like_mut().ok_or(
        "Cargo.toml: `workspace` is not a table; make it [workspace], then run adopt again",
    )?;
    if ws.get("members").is_none() {
        ws.insert("members", toml_edit::value(toml_edit::Array::new()));
    }
    let members = ws
        .get_mut("members")
        .and_then(|m| m.as_array_mut())
        .ok_or("Cargo.toml: [workspace] members is not an array; fix it, then run adopt again")?;
    for m in add {
        if !members.iter().any(|v| v.as_str() == Some(m)) {
            members.push(*m);
        }
    }
    if let Some(ex) = ws.get("exclude").and_then(|e| e.as_array()) {
        if ex.iter().any(|e| e.as_str() == Some("xtask")) {
            return Err(
                "Cargo.toml: [workspace] exclude lists xtask; remove it there, then run adopt again"
                    .into(),
            );
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspaces_merge_or_refuse() {
        let out = merge_workspace("# mine\n[workspace]\nmembers = [\"crates/a\"] # keep\n\n[workspace.dependencies]\nx = \"1\"\n", &["xtask"]).unwrap();
        assert_eq!(
            out,
            "# mine\n[workspace]\nmembers = [\"crates/a\", \"xtask\"] # keep\n\n[workspace.dependencies]\nx = \"1\"\n"
        );
        assert_eq!(
            merge_workspace(&out, &["xtask"]).unwrap(),
            out,
            "twice changes nothing"
        );
        let err = merge_workspace("[package]\nname = \"app\"\n", &["xtask"]).unwrap_err();
        assert!(
            err.starts_with("the top-level Cargo.toml is the package `app`"),
            "{err}"
        );
    }

    #[test]
    fn manifest_drops_uncopied_dev_dependencies() {
        let m = tool_manifest(
            "[package]\nname = \"xtask\"\n\n[dev-dependencies]\nslipway-rig = { path = \"../rig\" }\ntempfile = \"3\"\n",
            &["xtask".into()],
        )
        .unwrap();
        assert_eq!(
            m,
            "[package]\nname = \"xtask\"\n\n[dev-dependencies]\ntempfile = \"3\"\n"
        );
    }
}
