//! `cargo xtask ci`: what CI runs, as one plan. The rehearsal rig is built
//! (`cargo build -p slipway-rig`) and run as a process: `slipway-rig provision` (Debian packages,
//! the Docker daemon, the base image, the Python venvs — idempotent, each step says whether it
//! acted), then formatting, clippy with `-D warnings`, every test with the services REQUIRED (a
//! missing one fails a test instead of skipping it), zizmor, a full rehearsal and the reference
//! service's Python tests. A Docker daemon this run started is stopped at the end
//! (`slipway-rig stop-started`), whatever happened. arm64 is opt-in: only with `SLIPWAY_ARM64=1`
//! does provisioning enable qemu-aarch64 and build the arm64 base image.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cmd::Global;
use crate::facts::git;
use crate::run::plan::{Plan, Process, Step, Val};
use crate::run::ui::{Style, Ui};

/// Where `ci` keeps the shared tool venvs: `target/slipway-test-tools`.
pub fn tools_dir(root: &Path) -> PathBuf {
    target_dir(root).join("slipway-test-tools")
}

/// Cargo's target directory: `CARGO_TARGET_DIR` (relative to the root), else `<root>/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => root.join(t),
        None => root.join("target"),
    }
}

/// Variables cargo sets for the build scripts, tests and binaries it runs. An inner `cargo` that
/// inherits them (from `cargo xtask …`) sees another environment than a plain `cargo build`,
/// and every later `cargo xtask` recompiles ring, rustls, ureq and the tool: they are removed.
const CARGO_BUILD_VARS: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "CARGO_PKG_NAME",
    "CARGO_PKG_VERSION",
    "CARGO_PKG_VERSION_MAJOR",
    "CARGO_PKG_VERSION_MINOR",
    "CARGO_PKG_VERSION_PATCH",
    "CARGO_PKG_VERSION_PRE",
    "CARGO_PKG_AUTHORS",
    "CARGO_PKG_DESCRIPTION",
    "CARGO_PKG_HOMEPAGE",
    "CARGO_PKG_REPOSITORY",
    "CARGO_PKG_LICENSE",
    "CARGO_PKG_LICENSE_FILE",
    "CARGO_PKG_RUST_VERSION",
    "CARGO_PKG_README",
    "OUT_DIR",
];

/// A `cargo` process in `root` with cargo's build variables removed (see [`CARGO_BUILD_VARS`]).
pub fn cargo(root: &Path) -> Process {
    let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut p = Process::new(&program, root);
    let mut names: Vec<String> = CARGO_BUILD_VARS.iter().map(|s| s.to_string()).collect();
    names.extend(std::env::vars_os().filter_map(|(k, _)| {
        let k = k.into_string().ok()?;
        (k.starts_with("CARGO_PKG_") || k.starts_with("CARGO_BIN_EXE_")).then_some(k)
    }));
    names.sort();
    names.dedup();
    for n in names {
        p = p.env_removed(&n);
    }
    p
}

/// `cargo build --quiet --locked -p slipway-rig`: the rig is built by an explicit plan step.
pub fn build_rig(root: &Path) -> Step {
    Step::Run(cargo(root).args(["build", "--quiet", "--locked", "-p", "slipway-rig"]))
}

/// The rig binary that [`build_rig`] builds.
pub fn rig_exe(root: &Path) -> PathBuf {
    target_dir(root).join("debug/slipway-rig")
}

/// A `slipway-rig` process (run after [`build_rig`]).
pub fn rig(root: &Path) -> Process {
    Process::new(&rig_exe(root).display().to_string(), root)
}

/// Where `ci` has provisioning record what it started.
fn started_file(root: &Path) -> PathBuf {
    target_dir(root).join("slipway/ci/started.json")
}

/// The plan `ci` runs (and `ci --dry-run` renders).
pub fn plan(root: &Path) -> Plan {
    let mut plan = Plan::default();
    plan.push(build_rig(root));
    plan.push(Step::Run(
        rig(root)
            .args(["provision", "--started"])
            .args([started_file(root).display().to_string()])
            .streaming(),
    ));
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
            cargo(root).args(args.iter().copied()).streaming(),
        ));
    }
    // The tests find the engine themselves, with the choice provisioning makes too
    // (`engine::docker_host`: DOCKER_HOST, else the first of slipway's socket and docker's
    // default that answers), so this step does not depend on what provisioning found.
    plan.push(Step::Run(
        cargo(root)
            .args(["test", "--workspace", "--locked", "--no-fail-fast"])
            .env("SLIPWAY_REQUIRE_SERVICES", Val::Plain("1".into()))
            .env(
                "SLIPWAY_TOOLS_DIR",
                Val::Plain(tools_dir(root).display().to_string()),
            )
            .streaming(),
    ));
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

/// What `ci` runs at the end, whether the plan passed or not: stop a Docker daemon that its
/// provisioning started.
pub fn teardown(root: &Path) -> Plan {
    let mut plan = Plan::default();
    plan.push(Step::Run(
        rig(root)
            .args(["stop-started"])
            .args([started_file(root).display().to_string()]),
    ));
    plan
}

pub fn run(global: &Global, dry_run: bool, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let plan = plan(&root);
    let teardown = teardown(&root);
    if dry_run {
        ui.heading("ci — dry run");
        plan.render(ui, &root);
        ui.heading("then, whatever happened");
        teardown.render(ui, &root);
        return Ok(0);
    }
    let _ = std::fs::remove_file(started_file(&root));
    ui.heading("ci");
    let result = crate::run::exec::execute(&plan, ui, &root);
    // Only when the rig was built (and so could have started anything).
    if rig_exe(&root).exists() {
        ui.heading("ci: teardown");
        if let Err(e) = crate::run::exec::execute(&teardown, ui, &root) {
            ui.warn(&format!("{e:#}"));
        }
    }
    let outcome = result?;
    let total: std::time::Duration = outcome.timings.iter().sum();
    ui.line(&format!(
        "{} ci passed in {}",
        ui.paint(Style::Green, "ok:"),
        crate::run::ui::human_duration(total)
    ));
    Ok(0)
}

/// `cargo xtask provision [--dry-run]`: builds the rig and runs `slipway-rig provision` (which
/// leaves the daemon running).
pub fn provision(global: &Global, dry_run: bool, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let mut plan = Plan::default();
    plan.push(build_rig(&root));
    // A dry run builds the rig too, and lets it render its own provisioning plan.
    let args: &[&str] = if dry_run {
        &["provision", "--dry-run"]
    } else {
        &["provision"]
    };
    plan.push(Step::Run(rig(&root).args(args.iter().copied()).streaming()));
    crate::run::exec::execute(&plan, ui, &root)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_cargo_runs_without_the_outer_build_variables() {
        let p = cargo(Path::new("/r"));
        for v in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "OUT_DIR",
        ] {
            assert!(p.env_remove.iter().any(|k| k == v), "{v} is inherited");
        }
        assert!(!p
            .env_remove
            .iter()
            .any(|k| k == "CARGO_TARGET_DIR" || k == "CARGO_HOME"));
    }

    #[test]
    fn the_plan_builds_the_rig_before_running_it_and_needs_no_provisioned_values() {
        let root = Path::new("/r");
        let headers: Vec<String> = plan(root).steps.iter().map(|s| s.header(root)).collect();
        assert!(
            headers[0].contains("build --quiet --locked -p slipway-rig"),
            "{headers:?}"
        );
        assert!(
            headers[1].contains("slipway-rig provision --started"),
            "{headers:?}"
        );
        assert!(
            headers.iter().all(|h| !h.contains("DOCKER_HOST")),
            "{headers:?}"
        );
        assert!(
            headers.iter().all(|h| !h.contains("SLIPWAY_ARM64")),
            "{headers:?}"
        );
    }
}
