//! `rehearse` under strace: every process it starts directly (the rig build, provisioning, git in
//! the sandbox, the supervised services, the four stages, the teardown's docker calls) is one its
//! `--dry-run --json` plan listed, and every listed one runs (except those that run only when
//! needed, named below). Values that differ from one invocation to the next — the sandbox id, the
//! ports, the report stamp — are placeholders on both sides.

mod common;

#[path = "common/trace.rs"]
mod trace;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Replaces the values a rehearsal chooses anew each time with named placeholders.
fn normalize(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        let after_port_flag = i > 0 && args[i - 1].ends_with("-port");
        if after_port_flag && !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()) {
            out.push("<port>".into());
            continue;
        }
        let mut s = a.clone();
        // `rehearsals/<secs>-<pid>` (the sandbox) and `rehearsal/<secs>` (the reports).
        for marker in ["rehearsals/", "rehearsal/", "127.0.0.1:"] {
            let mut from = 0;
            while let Some(at) = s[from..].find(marker) {
                let start = from + at + marker.len();
                let end = s[start..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '-'))
                    .map_or(s.len(), |e| start + e);
                if end > start {
                    let name = if marker == "127.0.0.1:" {
                        "<port>"
                    } else {
                        "<id>"
                    };
                    s.replace_range(start..end, name);
                }
                from = start;
            }
        }
        out.push(s);
    }
    out
}

/// Started only when needed: the clone's identity where none is configured; removing image tags
/// when the rehearsal left some.
fn conditional(t: &[String]) -> bool {
    let has = |w: &str| t.iter().any(|a| a == w);
    (t[0] == "git" && has("config") && !has("--get")) || has("rm")
}

#[test]
fn rehearse_starts_only_the_processes_its_dry_run_lists() {
    if !common::require("strace (ptrace allowed)", trace::strace_works()) {
        return;
    }
    if !common::require(
        "a Docker engine (cargo xtask provision)",
        xtask::targets::docker::engine::is_up(),
    ) {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let command = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.arg("-C").arg(&root).args(args).env("NO_COLOR", "1");
        c
    };

    let dry_dir = tempfile::tempdir().unwrap();
    let (dry, observed) = trace::traced(
        &command(&["rehearse", "--dry-run", "--json"]),
        dry_dir.path(),
    );
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let planned: Vec<Vec<String>> = trace::planned(&plan["steps"])
        .into_iter()
        .chain(trace::planned(&plan["teardown"]))
        .map(|t| normalize(&t))
        .collect();
    assert!(planned.len() >= 15, "{planned:#?}");

    let real_dir = tempfile::tempdir().unwrap();
    let (real, started) = trace::traced(&command(&["rehearse"]), real_dir.path());
    let stderr = String::from_utf8_lossy(&real.stderr);
    assert!(
        real.status.success(),
        "the rehearsal failed:\n{}\n{}",
        String::from_utf8_lossy(&real.stdout),
        &stderr[stderr.len().saturating_sub(6000)..]
    );
    let acted: Vec<Vec<String>> = trace::less(&started, &observed)
        .iter()
        .map(|a| normalize(a))
        .collect();
    for argv in &acted {
        assert!(
            planned.iter().any(|t| trace::matches(t, argv)),
            "started but not in the dry-run plan: {argv:?}\nplanned: {planned:#?}"
        );
    }
    for t in planned.iter().filter(|t| !conditional(t)) {
        assert!(
            acted.iter().any(|a| trace::matches(t, a)),
            "planned but not started: {t:?}\nstarted: {acted:#?}"
        );
    }
    // The stages are the tool itself, run once each.
    let stages = acted
        .iter()
        .filter(|a| a[0] == env!("CARGO_BIN_EXE_xtask"))
        .count();
    assert_eq!(stages, 4, "{acted:#?}");
}

#[test]
fn normalizing_names_what_changes_between_runs() {
    let v = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    assert_eq!(
        normalize(&v(&[
            "up",
            "--registry-port",
            "35663",
            "/t/rehearsals/1796166818-13638/services.json",
            "127.0.0.1:45359/acme/app:v1",
        ])),
        v(&[
            "up",
            "--registry-port",
            "<port>",
            "/t/rehearsals/<id>/services.json",
            "127.0.0.1:<port>/acme/app:v1",
        ])
    );
}

/// A whole rehearsal with `env` set (and `removed` unset), from the repository; its output.
fn rehearse_with(env: &[(&str, &std::ffi::OsStr)], removed: &[&str]) -> (bool, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.arg("-C").arg(&root).arg("rehearse").env("NO_COLOR", "1");
    for k in removed {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), all)
}

/// `--scenario dev`: the reviewed loop rehearsed — dev-release, the merge through the stand-in,
/// release-merged of the PR dev-release named, verify — each a stage of the summary.
#[test]
fn the_dev_scenario_rehearses_the_reviewed_loop() {
    if !common::require(
        "a Docker engine (cargo xtask provision)",
        xtask::targets::docker::engine::is_up(),
    ) {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("-C")
        .arg(&root)
        .args(["rehearse", "--scenario", "dev"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the rehearsal failed:\n{}",
        &all[all.len().saturating_sub(6000)..]
    );
    for stage in ["dev-release", "merge", "release-merged", "verify"] {
        assert!(
            all.lines()
                .any(|l| l.trim_start().starts_with(&format!("✓ {stage} "))),
            "no stage {stage} in the summary:\n{all}"
        );
    }
    assert!(
        all.contains("close issue #1 with a comment linking the release"),
        "{all}"
    );
}

/// The machine most users have: Docker already running at its default socket, no slipway
/// daemon, and slipway's socket path holding a stale socket file (a daemon that died). The engine
/// is chosen once — the first that answers a ping, not the first socket file that exists — and
/// provisioning and every stage use it: the rehearsal passes.
#[test]
fn rehearse_uses_dockers_default_socket_when_slipways_is_a_stale_file() {
    use xtask::targets::docker::engine;
    if !common::require("a Docker engine (cargo xtask provision)", engine::is_up()) {
        return;
    }
    let Some(_default) = common::default_socket() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stale = common::stale_socket(dir.path());
    let env = [(engine::SOCKET_ENV, stale.as_os_str())];
    let default_host = format!("unix://{}", engine::DEFAULT_SOCKET);

    // The plan names that engine for provisioning and for every stage.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dry = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("-C")
        .arg(&root)
        .args(["rehearse", "--dry-run"])
        .env("NO_COLOR", "1")
        .env_remove("DOCKER_HOST")
        .env(engine::SOCKET_ENV, &stale)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{text}");
    let named = text.matches(&format!("DOCKER_HOST={default_host}")).count();
    assert!(
        named >= 5,
        "provisioning and the 4 stages get {default_host}:\n{text}"
    );
    assert!(!text.contains(&stale.display().to_string()), "{text}");

    let (ok, all) = rehearse_with(&env, &["DOCKER_HOST"]);
    assert!(
        ok,
        "the rehearsal failed:\n{}",
        &all[all.len().saturating_sub(6000)..]
    );
    assert!(
        all.contains(&format!("a Docker engine answers at {default_host}")),
        "provisioning did not take the default socket:\n{}",
        &all[all.len().saturating_sub(6000)..]
    );
    assert!(stale.exists(), "the stale socket file was left alone");
}

/// A shared cargo target directory outside the repository: slipway's own outputs (the wheel the
/// image's build context copies, the rehearsal's sandbox and reports) stay under the repository's
/// `target/slipway/`, and the rehearsal passes. (The outside directory is a symlink to the
/// workspace's target, so cargo rebuilds nothing.)
#[test]
fn rehearse_passes_with_cargo_target_dir_outside_the_repository() {
    if !common::require(
        "a Docker engine (cargo xtask provision)",
        xtask::targets::docker::engine::is_up(),
    ) {
        return;
    }
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("target");
    std::os::unix::fs::symlink(common::target_dir().canonicalize().unwrap(), &target).unwrap();
    let (ok, all) = rehearse_with(&[("CARGO_TARGET_DIR", target.as_os_str())], &[]);
    assert!(
        ok,
        "the rehearsal failed:\n{}",
        &all[all.len().saturating_sub(6000)..]
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap();
    let report = all
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.contains("rehearsal-") && w.ends_with(".json"))
        })
        .unwrap_or_else(|| panic!("no report path in:\n{all}"));
    let report = Path::new(report)
        .canonicalize()
        .unwrap_or_else(|e| panic!("{report}: {e}"));
    assert!(
        report.starts_with(root.join("target/slipway")),
        "the report {} is not under the repository's target/slipway",
        report.display()
    );
}
