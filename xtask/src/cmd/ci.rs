//! `cargo xtask ci`: what CI runs. First `provision` (Debian packages, the Docker daemon, the base
//! image, the Python venvs — idempotent, each step says whether it acted), then formatting,
//! clippy with `-D warnings`, every test with the services REQUIRED (a missing one fails a test
//! instead of skipping it), and the reference service's Python tests. A Docker daemon this run
//! started is stopped at the end.

use std::path::Path;

use anyhow::Result;

use crate::cmd::Global;
use crate::facts::git;
use crate::run::plan::{Plan, Process, Step, Val};
use crate::run::ui::{Style, Ui};

/// Where `ci` keeps the shared tool venvs: `target/slipway-test-tools`.
pub fn tools_dir(root: &Path) -> std::path::PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => root.join(t).join("slipway-test-tools"),
        None => root.join("target/slipway-test-tools"),
    }
}

pub fn checks(root: &Path) -> Plan {
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
    ] {
        plan.push(Step::Run(
            Process::new(&cargo, root)
                .args(args.iter().copied())
                .streaming(),
        ));
    }
    let mut test = Process::new(&cargo, root)
        .args(["test", "--workspace", "--locked", "--no-fail-fast"])
        .env("SLIPWAY_REQUIRE_SERVICES", Val::Plain("1".into()))
        .env(
            "SLIPWAY_TOOLS_DIR",
            Val::Plain(tools_dir(root).display().to_string()),
        )
        .streaming();
    // The engine provisioning found or started (none: docker's default socket).
    if let Some(host) = crate::targets::docker::engine::docker_host() {
        test = test.env("DOCKER_HOST", Val::Plain(host));
    }
    plan.push(Step::Run(test));
    // The workflows: zizmor (offline: no GitHub API) must report no findings.
    let zizmor = crate::targets::pypi::Venv::in_dir(
        &tools_dir(root),
        "zizmor",
        crate::targets::pypi::ZIZMOR_REQUIREMENTS,
    );
    plan.push(Step::Run(
        Process::new(&zizmor.dir.join("bin/zizmor").display().to_string(), root)
            .args(["--offline", "--no-progress", ".github/workflows/"])
            .streaming(),
    ));
    // The whole release, rehearsed against local services (the README's main command).
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "xtask".into());
    plan.push(Step::Run(
        Process::new(&exe, root).args(["rehearse"]).streaming(),
    ));
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
    // CI proves multi-arch too: qemu binfmt and the arm64 base are provisioned, and the
    // two-architecture test is required (set before any thread exists; inherited by the steps).
    if std::env::var_os("SLIPWAY_ARM64").is_none() {
        std::env::set_var("SLIPWAY_ARM64", "1");
    }
    let provision = crate::rig::provision::plan(&root, &tools_dir(&root));
    if dry_run {
        ui.heading("ci — dry run: provision, then the checks");
        provision.render(ui, &root);
        checks(&root).render(ui, &root);
        return Ok(0);
    }
    ui.heading("ci: provision");
    let provisioned = crate::run::exec::execute(&provision, ui, &root)?;
    // Planned after provisioning: the checks use the engine it found or started.
    let checks = checks(&root);
    ui.heading("ci: checks");
    let result = crate::run::exec::execute(&checks, ui, &root);
    crate::rig::provision::stop_started(&provisioned.values);
    let outcome = result?;
    let total: std::time::Duration = provisioned.timings.iter().chain(&outcome.timings).sum();
    ui.line(&format!(
        "{} ci passed in {}",
        ui.paint(Style::Green, "ok:"),
        crate::run::ui::human_duration(total)
    ));
    Ok(0)
}

/// `cargo xtask provision [--dry-run]`: the provisioning plan alone (leaves the daemon running).
pub fn provision(global: &Global, dry_run: bool, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let plan = crate::rig::provision::plan(&root, &tools_dir(&root));
    if dry_run {
        ui.heading("provision — dry run");
        plan.render(ui, &root);
        return Ok(0);
    }
    crate::run::exec::execute(&plan, ui, &root)?;
    ui.line(&format!(
        "{} provisioned; the Docker daemon listens on {} (export DOCKER_HOST=unix://{} to use it by hand)",
        ui.paint(Style::Green, "ok:"),
        crate::targets::docker::engine::SOCKET,
        crate::targets::docker::engine::SOCKET
    ));
    Ok(0)
}
