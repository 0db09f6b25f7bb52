//! `cargo xtask rehearse`: the whole release, for real, against local registries.
//!
//! In a throwaway clone of the repository (the user's work tree is never touched) with a bare git
//! remote, two local container registries (one with htpasswd auth), a local package index
//! (pypiserver) and the local GitHub stand-in: `release`, `docker-validate`, `publish-prod`,
//! then `verify` — the same commands production runs, with the clone's targets rewritten to the
//! local services. Then a report of every stage, what was published where, and a teardown
//! (`--keep` leaves everything running and says how to look at it).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value as Json};

use crate::cmd::Global;
use crate::rig::services::{Daemon, PackageIndex, Registry};
use crate::run::ui::{self, Style, Ui};
use crate::targets::pypi::{Venv, SERVER_REQUIREMENTS};
use crate::{facts::config, facts::git, targets::docker::engine};

#[derive(Debug, Clone)]
pub struct Options {
    pub keep: bool,
    /// What `release` is given: X.Y.Z, major, minor, patch or auto.
    pub version: String,
}

/// Variables of the user's environment that could reach real services; never passed to a stage.
const STRIPPED: &[&str] = &[
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GH_HOST",
    "GH_CONFIG_DIR",
    "PYPI_TOKEN",
    "TWINE_USERNAME",
    "TWINE_PASSWORD",
    "TWINE_REPOSITORY_URL",
    "DOCKER_USERNAME",
    "DOCKER_PASSWORD",
    "DOCKER_CONFIG",
    "SLACK_WEBHOOK",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "SLIPWAY_GH_PROXY",
];

struct Stage {
    name: &'static str,
    took: Duration,
    ok: bool,
}

/// A random-enough secret for the rehearsal's own credentials.
fn secret(label: &str) -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let s = format!("rehearsal-{label}-{:x}{:x}", n, std::process::id());
    ui::register_secret(&s);
    s
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let cfg = config::load_or_refuse(&root, "rehearse")?;
    let started = Instant::now();
    let tools = crate::cmd::ci::tools_dir(&root);

    // 0. Prerequisites, as `cargo xtask ci` provisions them (idempotent).
    ui.heading("rehearse: prerequisites");
    let provisioned =
        crate::run::exec::execute(&crate::rig::provision::plan(&root, &tools), ui, &root)?;
    let _dockerd = StartedDockerd(provisioned.values.get("dockerd.started").cloned(), o.keep);

    // 1. The sandbox: a bare remote and a clone of HEAD (the user's tree is never touched).
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let sandbox = crate::targets::publish::work_dir(&cfg)
        .join("rehearsals")
        .join(format!("{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&sandbox)?;
    let status = git::status(&root)?;
    if !status.changed.is_empty() {
        ui.warn(&format!(
            "uncommitted changes are not part of the rehearsal (it clones HEAD): {}",
            status.changed.join(", ")
        ));
    }
    let remote = sandbox.join("remote.git");
    let clone = sandbox.join("repo");
    let t = Instant::now();
    run_quiet(
        Command::new("git")
            .args(["init", "-q", "--bare", "-b", &cfg.branch])
            .arg(&remote),
    )?;
    run_quiet(
        Command::new("git")
            .args(["clone", "-q", "--no-local"])
            .arg(&root)
            .arg(&clone),
    )?;
    let in_clone = |args: &[&str]| -> Result<String> {
        let out = Command::new("git")
            .current_dir(&clone)
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    in_clone(&["switch", "-q", "-C", &cfg.branch])?;
    in_clone(&["remote", "set-url", "origin", &remote.display().to_string()])?;
    for (k, v) in [
        ("user.name", "slipway rehearsal"),
        ("user.email", "rehearsal@slipway.invalid"),
    ] {
        if in_clone(&["config", "--get", k])
            .map(|s| s.trim().is_empty())
            .unwrap_or(true)
        {
            in_clone(&["config", k, v])?;
        }
    }

    // 2. The services, on loopback.
    let registry_user = "rehearsal";
    let registry_password = secret("registry");
    let plain = Registry::start(&sandbox.join("registry-plain"), None)?;
    let auth = Registry::start(
        &sandbox.join("registry-auth"),
        Some((registry_user, &registry_password)),
    )?;
    let index_password = secret("index");
    let server = Venv::in_dir(&tools, "pypiserver", SERVER_REQUIREMENTS);
    server.ensure(&root)?;
    let index = PackageIndex::start(
        &server.dir,
        &sandbox.join("index"),
        "rehearsal",
        &index_password,
    )?;
    let (standin_url, standin) = start_standin(&sandbox)?;
    let services_took = t.elapsed();

    // 3. The clone's targets rewritten to the local services, committed there.
    let github_repo = crate::targets::github::repo(&cfg).unwrap_or_else(|| "rehearsal/app".into());
    rewrite_targets(
        &clone.join("Cargo.toml"),
        &plain.addr,
        &auth.addr,
        &index,
        &github_repo,
    )?;
    in_clone(&[
        "commit",
        "-q",
        "-am",
        "chore: rehearsal targets (local services)",
    ])?;
    in_clone(&["push", "-q", "origin", &cfg.branch])?;
    let (owner, name) = github_repo.split_once('/').expect("owner/name");
    control(&standin_url, "repos", json!({"owner": owner, "repo": name}))?;

    let gh_token = secret("gh");
    let gh_config = sandbox.join("gh");
    std::fs::create_dir_all(&gh_config)?;
    let child_times = sandbox.join("child-times.txt");
    let env: Vec<(&str, String)> = vec![
        ("SLIPWAY_GH_PROXY", standin_url.clone()),
        ("GH_HOST", "github.localhost".into()),
        ("GH_TOKEN", gh_token.clone()),
        ("GH_CONFIG_DIR", gh_config.display().to_string()),
        ("GH_PROMPT_DISABLED", "1".into()),
        ("GH_NO_UPDATE_NOTIFIER", "1".into()),
        ("TWINE_USERNAME", "rehearsal".into()),
        ("TWINE_PASSWORD", index_password.clone()),
        ("DOCKER_USERNAME", registry_user.into()),
        ("DOCKER_PASSWORD", registry_password.clone()),
        ("SLIPWAY_TOOLS_DIR", tools.display().to_string()),
        ("SLIPWAY_CHILD_TIME_FILE", child_times.display().to_string()),
        (
            "DOCKER_HOST",
            engine::docker_host().unwrap_or_else(|| format!("unix://{}", engine::SOCKET)),
        ),
    ];

    // 4. The stages, exactly as production runs them.
    let exe = std::env::current_exe().context("locating the slipway binary")?;
    let mut stages = vec![Stage {
        name: "services",
        took: services_took,
        ok: true,
    }];
    let stage = |name: &'static str, args: &[&str], stages: &mut Vec<Stage>| -> Result<()> {
        ui.heading(&format!(
            "rehearse: {name} — cargo xtask {}",
            args.join(" ")
        ));
        let t = Instant::now();
        let mut cmd = Command::new(&exe);
        cmd.arg("-C").arg(&clone).args(args).current_dir(&clone);
        for k in STRIPPED {
            cmd.env_remove(k);
        }
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let status = cmd
            .status()
            .with_context(|| format!("running the {name} stage"))?;
        stages.push(Stage {
            name,
            took: t.elapsed(),
            ok: status.success(),
        });
        if !status.success() {
            bail!(
                "the rehearsal's {name} stage failed (see above); the sandbox is kept at {}",
                sandbox.display()
            );
        }
        Ok(())
    };
    let result = (|| -> Result<()> {
        stage("release", &["release", &o.version], &mut stages)?;
        let tag = in_clone(&["describe", "--tags", "--exact-match", "HEAD"])?
            .trim()
            .to_string();
        let sha = in_clone(&["rev-parse", "HEAD"])?.trim().to_string();
        // The release workflow's CI run for the tag, as GitHub would report it after it passed.
        control(
            &standin_url,
            "runs",
            json!({
                "owner": owner, "repo": name, "workflow": cfg.release_workflow, "branch": tag,
                "conclusion": "success", "head_sha": sha, "event": "push",
            }),
        )?;
        if cfg.docker.is_some() {
            stage("docker-validate", &["docker-validate"], &mut stages)?;
        }
        stage("publish-prod", &["publish-prod"], &mut stages)?;
        stage("verify", &["verify"], &mut stages)?;
        Ok(())
    })();
    let total = started.elapsed();

    // 5. The report.
    let clone_cfg = config::load(&clone).map_err(|e| anyhow!("{}", e.join("; ")))?;
    let report_path = crate::targets::publish::work_dir(&cfg)
        .join("reports")
        .join(format!("rehearsal-{stamp}.json"));
    let published = published(&clone, &clone_cfg);
    // Per stage process: "sum busy" (nanoseconds). The floor is the sum over all child
    // processes (parallel ones each count); the tool's own time is the wall time during which no
    // child process ran at all (stages run one after another, so their busy times add up).
    let (stage_sum, stage_busy) = std::fs::read_to_string(&child_times)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|n| n.parse::<u64>().ok());
            Some((it.next()??, it.next()??))
        })
        .fold((0u64, 0u64), |(s, b), (s2, b2)| (s + s2, b + b2));
    let floor = Duration::from_nanos(stage_sum) + crate::run::exec::child_time();
    let busy = Duration::from_nanos(stage_busy) + crate::run::exec::child_busy();
    let report = json!({
        "schema": "slipway.rehearsal-report/1",
        "status": if result.is_ok() { "success" } else { "failure" },
        "duration_ms": total.as_millis() as u64,
        "stages": stages.iter().map(|s| json!({"name": s.name, "ok": s.ok, "duration_ms": s.took.as_millis() as u64})).collect::<Vec<_>>(),
        "time_in_tools_ms": floor.as_millis() as u64,
        "time_tools_busy_ms": busy.as_millis() as u64,
        "tool_own_ms": total.saturating_sub(busy).as_millis() as u64,
        "services": {
            "git_remote": remote.display().to_string(),
            "registries": [plain.addr, auth.addr],
            "index": index.url,
            "github": standin_url,
        },
        "published": published,
    });
    if let Some(dir) = report_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        &report_path,
        ui::redact(&serde_json::to_string_pretty(&report)?),
    )?;
    print_report(ui, &stages, total, floor, busy, &report, &report_path);

    // 6. Teardown, or how to look around.
    if o.keep {
        std::mem::forget(plain);
        std::mem::forget(auth);
        std::mem::forget(index);
        std::mem::forget(standin);
        ui.line(&format!(
            "kept: sandbox {}\n  clone:      {}\n  git remote: {}\n  registries: http://{}/v2/_catalog (no auth), http://{}/v2/_catalog (user {registry_user})\n  index:      {}simple/\n  GitHub:     {standin_url}/_standin/state\n  stop them:  kill the processes listed in {}/pids",
            sandbox.display(),
            clone.display(),
            remote.display(),
            report["services"]["registries"][0].as_str().unwrap_or(""),
            report["services"]["registries"][1].as_str().unwrap_or(""),
            report["services"]["index"].as_str().unwrap_or(""),
            sandbox.display()
        ));
    } else {
        drop((plain, auth, index, standin));
        if result.is_ok() {
            let _ = std::fs::remove_dir_all(&sandbox);
        }
    }
    result?;
    Ok(0)
}

/// Stops a Docker daemon the rehearsal started (unless `--keep`).
struct StartedDockerd(Option<String>, bool);

impl Drop for StartedDockerd {
    fn drop(&mut self) {
        if let (Some(pid), false) = (&self.0, self.1) {
            let mut values = std::collections::BTreeMap::new();
            values.insert("dockerd.started".to_string(), pid.clone());
            crate::rig::provision::stop_started(&values);
        }
    }
}

fn run_quiet(cmd: &mut Command) -> Result<()> {
    let started = Instant::now();
    let out = cmd.output()?;
    crate::run::exec::count_child(started.elapsed());
    if !out.status.success() {
        bail!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Starts `xtask github-standin` as a subprocess (so `--keep` can leave it running).
fn start_standin(sandbox: &Path) -> Result<(String, Daemon)> {
    let exe = std::env::current_exe()?;
    let spec = crate::rig::standin::default_spec_path().ok_or_else(|| {
        anyhow!("no GitHub API description (xtask/github/openapi-subset.json) found")
    })?;
    let port = crate::rig::services::free_port()?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "github-standin",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--spec",
    ])
    .arg(&spec);
    let url = format!("http://127.0.0.1:{port}");
    let health = format!("{url}/_standin/health");
    let daemon = Daemon::start(
        "github-standin",
        cmd,
        &sandbox.join("github-standin.log"),
        Duration::from_secs(20),
        || crate::rig::services::http_status(&health) == Some(200),
    )?;
    Ok((url, daemon))
}

/// POST to the stand-in's control API.
fn control(url: &str, what: &str, body: Json) -> Result<()> {
    let resp = crate::run::net::agent(url, Duration::from_secs(10))
        .post(&format!("{url}/_standin/{what}"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(|e| anyhow!("the GitHub stand-in: {e}"))?;
    if !resp.status().is_success() {
        bail!(
            "the GitHub stand-in refused /_standin/{what}: HTTP {}",
            resp.status().as_u16()
        );
    }
    Ok(())
}

/// Points the clone's release configuration at the local services.
fn rewrite_targets(
    path: &Path,
    plain: &str,
    auth: &str,
    index: &PackageIndex,
    github_repo: &str,
) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut doc: toml_edit::DocumentMut = text.parse().context("the clone's Cargo.toml")?;
    let release = doc["workspace"]["metadata"]["release"].or_insert(toml_edit::table());
    let table = release
        .as_table_mut()
        .ok_or_else(|| anyhow!("[workspace.metadata.release] is not a table"))?;
    table.set_implicit(false);
    table.remove("webhooks"); // never call real webhooks from a rehearsal
    let python = table.entry("python").or_insert(toml_edit::table());
    python["repository-url"] = toml_edit::value(index.url.clone());
    python["index-url"] = toml_edit::value(index.simple_url());
    let github = table.entry("github").or_insert(toml_edit::table());
    github["repo"] = toml_edit::value(github_repo);
    if let Some(docker) = table.get_mut("docker").and_then(|d| d.as_table_mut()) {
        let mut regs = toml_edit::Array::new();
        regs.push(plain);
        regs.push(auth);
        docker["registries"] = toml_edit::value(regs);
        let mut args = toml_edit::InlineTable::new();
        if let Some(existing) = docker.get("build-args").and_then(|a| a.as_inline_table()) {
            for (k, v) in existing.iter() {
                args.insert(k, v.clone());
            }
        }
        args.insert("BASE_IMAGE", engine::BASE_IMAGE.into());
        docker["build-args"] = toml_edit::value(args);
    }
    std::fs::write(path, doc.to_string())?;
    Ok(())
}

/// What the publish report says was published (steps' details), for the rehearsal report.
fn published(clone: &Path, cfg: &config::Config) -> Json {
    let reports = crate::targets::publish::work_dir(cfg).join("reports");
    let _ = clone;
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&reports) {
        for e in rd.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                if let Ok(j) = serde_json::from_str::<Json>(&text) {
                    for stage in j["stages"].as_array().cloned().unwrap_or_default() {
                        for s in stage["steps"].as_array().cloned().unwrap_or_default() {
                            if stage["name"] != "build" {
                                out.push(json!({"stage": stage["name"], "step": s["step"], "status": s["status"], "detail": s["detail"]}));
                            }
                        }
                    }
                }
            }
        }
    }
    Json::Array(out)
}

fn print_report(
    ui: &Ui,
    stages: &[Stage],
    total: Duration,
    floor: Duration,
    busy: Duration,
    report: &Json,
    path: &Path,
) {
    ui.heading("rehearsal report");
    for s in stages {
        let mark = if s.ok {
            ui.paint(Style::Green, "✓")
        } else {
            ui.paint(Style::Red, "✗")
        };
        ui.line(&format!(
            "  {mark} {:<16} {:>9}",
            s.name,
            ui::human_duration(s.took)
        ));
    }
    let tool = total.saturating_sub(busy);
    ui.line(&format!(
        "  total {} — inside docker/python/git/gh {} summed over processes (the floor; parallel work counts once per process), busy {}; the tool itself {} ({:.1}%)",
        ui::human_duration(total),
        ui::human_duration(floor),
        ui::human_duration(busy),
        ui::human_duration(tool),
        100.0 * tool.as_secs_f64() / total.as_secs_f64().max(0.001)
    ));
    for p in report["published"].as_array().cloned().unwrap_or_default() {
        let detail = p["detail"].as_str().unwrap_or("");
        ui.line(&format!(
            "  {} {}: {}",
            p["stage"].as_str().unwrap_or(""),
            p["step"].as_str().unwrap_or(""),
            p["status"].as_str().unwrap_or("")
        ));
        for l in detail.lines().filter(|l| !l.trim().is_empty()) {
            ui.line(&format!("      {l}"));
        }
    }
    ui.line(&format!("  report: {}", path.display()));
}
