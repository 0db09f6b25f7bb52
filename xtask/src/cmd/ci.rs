//! `cargo xtask ci`: what CI runs, as a plan of processes: formatting, clippy with `-D warnings`,
//! the Rust tests and the reference service's Python tests.

use anyhow::Result;

use crate::cli::Global;
use crate::git;
use crate::plan::{Plan, Process, Step};
use crate::ui::{Style, Ui};

pub fn plan(root: &std::path::Path) -> Plan {
    let mut plan = Plan::default();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for args in [
        &["fmt", "--all", "--", "--check"][..],
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &["test", "--workspace", "--locked"],
    ] {
        plan.push(Step::Run(
            Process::new(&cargo, root)
                .args(args.iter().copied())
                .streaming(),
        ));
    }
    // The reference service's own tests (stdlib unittest: nothing to install).
    plan.push(Step::Run(
        Process::new("python3", root)
            .args(["-m", "unittest", "discover", "-s", "tests"])
            .streaming(),
    ));
    plan
}

pub fn run(global: &Global, dry_run: bool, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let plan = plan(&root);
    if dry_run {
        ui.heading("ci — dry run");
        plan.render(ui, &root);
        return Ok(0);
    }
    let outcome = crate::exec::execute(&plan, ui, &root)?;
    let total: std::time::Duration = outcome.timings.iter().sum();
    ui.line(&format!(
        "{} ci passed in {}",
        ui.paint(Style::Green, "ok:"),
        crate::ui::human_duration(total)
    ));
    Ok(0)
}
