//! `cargo xtask verify [<version>]`: post-release verification of a published version against the
//! configured targets — the same checks `publish-prod` ends with: every tag and digest (and arch)
//! on every registry, the index's files by sha256 plus an install smoke test, the GitHub release
//! and its assets. Exit 0 only when everything is there and consistent.
//!
//! `--yanked` checks the opposite end of a release's life instead: every file of the version is
//! yanked on the package index (PEP 592/691), and says why. `--only` picks targets.

use anyhow::Result;

use crate::cmd::publish::Target;
use crate::cmd::Global;
use crate::run::plan::Plan;
use crate::run::ui::{Style, Ui};
use crate::{core::version, facts::config, facts::git, Problems};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub version: Option<String>,
    /// Check that the version is yanked on the index (the Python target only).
    pub yanked: bool,
    /// Verify only these targets (empty: all).
    pub only: Vec<Target>,
}

pub fn run(global: &Global, version_arg: Option<&str>, ui: &Ui) -> Result<u8> {
    run_with(
        global,
        &Options {
            version: version_arg.map(String::from),
            ..Options::default()
        },
        ui,
    )
}

pub fn run_with(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    if o.yanked && !o.only.is_empty() && !o.only.contains(&Target::Pypi) {
        return Err(crate::usage(
            "--yanked checks the package index: use it with --only pypi, or without --only",
        ));
    }
    let root = git::toplevel(&global.dir)?;
    let mut problems = Problems::default();
    let cfg = config::load_or_refuse(&root, "verify")?;
    let wanted = match &o.version {
        Some(s) => {
            let s = s.strip_prefix(cfg.tag_prefix.as_str()).unwrap_or(s);
            Some(
                version::parse_semver(s)
                    .or_else(|_| version::parse_pep440(s))
                    .map_err(|e| crate::usage(format!("invalid version `{s}`: {e}")))?,
            )
        }
        None => None,
    };
    let Some(facts) = crate::cmd::publish::gather_facts_for(&cfg, wanted.as_ref(), &mut problems)?
    else {
        return problems.check("verify").map(|()| 0);
    };
    let mut plan = Plan::default();
    if o.yanked {
        plan.push(crate::targets::pypi::yanked_step(&facts));
    } else {
        for t in crate::targets::registered() {
            if !o.only.is_empty() && !o.only.iter().any(|w| w.name() == t.name()) {
                continue;
            }
            for step in t.verify(&facts, &mut problems) {
                plan.push(step);
            }
        }
    }
    problems.check("verify")?;
    ui.heading(&format!(
        "verify {} {}{}",
        facts.package,
        facts.tag,
        if o.yanked { " is yanked" } else { "" }
    ));
    if o.yanked {
        let outcome = crate::run::exec::execute(&plan, ui, &cfg.root)?;
        for done in &outcome.done {
            if let crate::run::plan::Done::Ran(what) = done {
                ui.line(&format!("{} {what}", ui.paint(Style::Green, "ok:")));
            }
        }
        return Ok(0);
    }
    // The ledger: this verification, as a record on the release commit.
    let mut ledger = crate::targets::ledger::record(
        "verify",
        &facts.version.to_string(),
        &facts.tag,
        &facts.commit,
    );
    let (started, mut steps) = (std::time::Instant::now(), Vec::new());
    let result = crate::run::exec::execute_with(&plan, ui, &cfg.root, &mut |r| {
        steps.push(crate::targets::ledger::row(r));
    });
    crate::targets::ledger::finish(&mut ledger, &result, started.elapsed());
    ledger.stages = crate::targets::ledger::stages_of(&vec!["verify"; plan.steps.len()], &steps);
    crate::targets::ledger::write(ui, &cfg, &ledger, false);
    result?;
    ui.line(&format!(
        "{} {} is published and consistent everywhere",
        ui.paint(Style::Green, "ok:"),
        facts.tag
    ));
    Ok(0)
}
