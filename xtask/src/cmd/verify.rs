//! `cargo xtask verify [<version>]`: post-release verification of a published version against the
//! configured targets — the same checks `publish-prod` ends with: every tag and digest (and arch)
//! on every registry, the index's files by sha256 plus an install smoke test, the GitHub release
//! and its assets. Exit 0 only when everything is there and consistent.

use anyhow::Result;

use crate::cmd::Global;
use crate::run::plan::Plan;
use crate::run::ui::{Style, Ui};
use crate::{core::version, facts::config, facts::git, Problems};

pub fn run(global: &Global, version_arg: Option<&str>, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let mut problems = Problems::default();
    let cfg = config::load_or_refuse(&root, "verify")?;
    let wanted = match version_arg {
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
    for t in crate::targets::registered() {
        for step in t.verify(&facts, &mut problems) {
            plan.push(step);
        }
    }
    problems.check("verify")?;
    ui.heading(&format!("verify {} {}", facts.package, facts.tag));
    crate::run::exec::execute(&plan, ui, &cfg.root)?;
    ui.line(&format!(
        "{} {} is published and consistent everywhere",
        ui.paint(Style::Green, "ok:"),
        facts.tag
    ));
    Ok(0)
}
