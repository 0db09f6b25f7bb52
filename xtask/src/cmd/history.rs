//! `cargo xtask history`: the release ledger (`refs/notes/slipway`, read locally with two git
//! processes) as every release with its stage durations, the bottleneck and the change against
//! the previous release, gate results, failures, rollbacks and rollback points — for people,
//! as JSON, or as a standalone HTML page.
//!
//! `--fetch` first brings origin's notes in (a plan step: fetched fast-forward, or merged with
//! `cat_sort_uniq` when this clone has records origin lacks).

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cmd::Global;
use crate::core::ledger;
use crate::facts::{config, git};
use crate::run::plan::Plan;
use crate::run::ui::{self, Ui};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Html,
}

impl Format {
    pub const NAMES: [&'static str; 3] = ["text", "json", "html"];
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            "html" => Some(Format::Html),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only the N newest releases (the comparisons still use the ones before).
    pub last: Option<usize>,
    pub format: Format,
    /// Where the page (or the text/JSON) goes instead of stdout.
    pub output: Option<PathBuf>,
    /// Fetch origin's notes first.
    pub fetch: bool,
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let cfg = config::load_or_refuse(&root, "history")?;
    if o.fetch {
        let mut plan = Plan::default();
        plan.push(crate::targets::ledger::fetch_step(&cfg));
        crate::run::exec::execute(&plan, ui, &cfg.root)?;
    }
    let (records, malformed) = crate::facts::ledger::read(&cfg.root)?;
    let h = ledger::history(records, malformed, o.last);
    if o.format == Format::Json && o.output.is_none() {
        ui::print_json(&h.to_json());
        return Ok(0);
    }
    let text = match o.format {
        Format::Text => h.to_text(),
        Format::Json => crate::core::json::pretty(&h.to_json()) + "\n",
        Format::Html => {
            let name = cfg
                .python
                .package
                .clone()
                .or_else(|| cfg.github_repo.clone())
                .unwrap_or_else(|| "slipway".into());
            h.to_html(&format!("{name} release history"))
        }
    };
    match &o.output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            crate::run::exec::write_atomic(path, &ui::redact(&text))
                .with_context(|| format!("cannot write {}", path.display()))?;
            if o.format == Format::Json {
                // `--json`: stdout still carries one document — where it went.
                ui::print_json(&serde_json::json!({
                    "written": path.display().to_string(),
                    "releases": h.releases.len(),
                    "records": h.records,
                }));
            } else {
                ui.line(&format!(
                    "{} release(s), {} record(s) → {}",
                    h.releases.len(),
                    h.records,
                    path.display()
                ));
            }
        }
        None => ui.raw(&text),
    }
    Ok(0)
}
