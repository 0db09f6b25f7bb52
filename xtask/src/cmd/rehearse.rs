//! `cargo xtask rehearse`: the whole release, for real, against local registries — as one plan.
//!
//! In a throwaway clone of the repository (the user's work tree is never touched) with a bare git
//! remote, two local container registries (one with htpasswd auth), a local package index
//! (pypiserver) and the local GitHub stand-in: `release`, `docker-validate`, `publish-prod`,
//! then `verify` — the same commands production runs, with the clone's targets rewritten to the
//! local services. The services are the rehearsal rig's: the plan builds it
//! (`cargo build -p slipway-rig`), runs `slipway-rig provision`, and a supervised
//! `slipway-rig up --state <file>` (ports chosen when the plan is made, so the plan names them)
//! that stops and reaps every service when its stdin closes. Then a teardown that runs whatever
//! happened (stop the services, remove the image tags the rehearsal created, copy the publish
//! reports out of the sandbox, stop a Docker daemon the rehearsal started), a report of every
//! stage, and the sandbox is removed (`--keep` leaves everything running and says how to look
//! at it). `--dry-run` renders the plan and the teardown.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value as Json};

use crate::cmd::ci;
use crate::cmd::Global;
use crate::run::plan::{
    Action, Decision, Done, Plan, Planned, Process, Reconcile, Request, Run, RunContext, Step, Sub,
    Val,
};
use crate::run::ui::{self, Style, Ui};
use crate::{facts::config, facts::git, targets::docker::engine};

#[derive(Debug, Clone)]
pub struct Options {
    pub keep: bool,
    /// With `--dry-run`: the plan and its teardown as JSON on stdout.
    pub json: bool,
    /// What `release` is given: X.Y.Z, major, minor, patch or auto.
    pub version: String,
    /// `--split`: the release workflow's split even with one platform (it is the default with
    /// more than one): one `docker-validate --platform P --push-by-digest` per platform in
    /// parallel, then `publish-prod --from-digests`.
    pub split: bool,
    /// `--platform P` (repeatable): the clone's `docker.platforms` for this rehearsal (foreign
    /// ones build under qemu binfmt: `SLIPWAY_ARM64=1 cargo xtask provision`); empty: as
    /// configured.
    pub platforms: Vec<String>,
    /// `--scenario dev`: the reviewed dev-image loop instead of `release`: `dev-release` (the
    /// configured bump), the PR merged through the GitHub stand-in, `release-merged <pr>`, then
    /// `verify`.
    pub scenario: Option<String>,
}

/// Variables of the user's environment that could reach real services; never passed to a stage.
/// (`CARGO_TARGET_DIR` too: the clone keeps its build, journal and reports in its own `target/`.)
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
    // Notices: a rehearsal tells nobody.
    "DISCORD_WEBHOOK",
    "SMTP_URL",
    "MAIL_TO",
    "MAIL_FROM",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_CA_FILE",
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
    "CARGO_TARGET_DIR",
];

/// The user of the authenticated registry and of the package index (the rig's).
const SERVICE_USER: &str = "rehearsal";

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

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("no free port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

/// Where everything of one rehearsal lives, and what the plan fixes up front.
struct Layout {
    stamp: u64,
    sandbox: PathBuf,
    remote: PathBuf,
    clone: PathBuf,
    /// What the rehearsal's provisioning started (`slipway-rig provision --started`).
    started: PathBuf,
    /// `slipway-rig up --state`: the services' addresses.
    state: PathBuf,
    child_times: PathBuf,
    /// Where the publish reports are copied out of the sandbox.
    reports: PathBuf,
    registries: [String; 2],
    index_url: String,
    github_url: String,
    ports: [u16; 4],
}

impl Layout {
    fn new(cfg: &config::Config) -> Result<Layout> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let sandbox = crate::targets::publish::work_dir(cfg)
            .join("rehearsals")
            .join(format!("{stamp}-{}", std::process::id()));
        let ports = [free_port()?, free_port()?, free_port()?, free_port()?];
        Ok(Layout {
            stamp,
            remote: sandbox.join("remote.git"),
            clone: sandbox.join("repo"),
            started: sandbox.join("provisioned.json"),
            state: sandbox.join("services.json"),
            child_times: sandbox.join("child-times.txt"),
            reports: crate::targets::publish::work_dir(cfg)
                .join("rehearsal")
                .join(stamp.to_string()),
            registries: [
                format!("127.0.0.1:{}", ports[0]),
                format!("127.0.0.1:{}", ports[1]),
            ],
            index_url: format!("http://127.0.0.1:{}/", ports[2]),
            github_url: format!("http://127.0.0.1:{}", ports[3]),
            ports,
            sandbox,
        })
    }
}

/// The split's per-platform processes (platform, wall time, ok), and the step's wall time.
type SplitTimes = (Vec<(String, Duration, bool)>, Duration);

/// What the plan's actions share while it runs: the supervised `slipway-rig up`.
#[derive(Default)]
struct Shared {
    services: Mutex<Option<crate::run::process::Supervised>>,
    passed: std::sync::atomic::AtomicBool,
    /// The split's per-platform processes: (platform, wall time, ok), and the step's wall time.
    split: Mutex<Option<SplitTimes>>,
    /// The split's validated (platform, digest) pairs, as their digest files say.
    digests: Mutex<Vec<(String, String)>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

struct Rehearsal {
    plan: Plan,
    /// The stage of every step of `plan`.
    stages: Vec<&'static str>,
    teardown: Plan,
}

fn build(
    root: &Path,
    cfg: &config::Config,
    o: &Options,
    l: &Layout,
    shared: &Arc<Shared>,
) -> Rehearsal {
    let mut plan = Plan::default();
    let mut stages = Vec::new();
    let mut push = |stage: &'static str, step: Step| {
        plan.push(step);
        stages.push(stage);
    };
    let tools = ci::tools_dir(root);
    let platforms: Vec<String> = if o.platforms.is_empty() {
        cfg.docker
            .as_ref()
            .map(|d| d.platforms.clone())
            .unwrap_or_default()
    } else {
        o.platforms.clone()
    };
    let dev = o.scenario.as_deref() == Some("dev");
    let split = !dev && cfg.docker.is_some() && (o.split || platforms.len() > 1);
    // The split's digest files, one per platform (checked against the published index).
    let mut split_files: Vec<(String, String)> = Vec::new();
    // The one engine of the whole run, chosen now: provisioning and every stage get it.
    let docker_host = Val::Plain(engine::planned_host());

    // 0. Prerequisites: the rig, and what it provisions (idempotent).
    push("prerequisites", ci::build_rig(root));
    push(
        "prerequisites",
        Step::Run({
            let provision = ci::rig(root)
                .args(["provision", "--started"])
                .args([l.started.display().to_string()])
                .env("DOCKER_HOST", docker_host.clone());
            // A foreign platform: provisioning adds qemu binfmt and that platform's base image.
            let native = crate::targets::docker::native_platform();
            if platforms
                .iter()
                .any(|p| !crate::targets::docker::same_platform(p, &native))
            {
                provision.env("SLIPWAY_ARM64", Val::Plain("1".into()))
            } else {
                provision
            }
            .streaming()
        }),
    );

    // 1. The sandbox: a bare remote and a clone of HEAD (the user's tree is never touched).
    let git = |cwd: &Path| Process::new("git", cwd);
    push(
        "sandbox",
        Step::Run(
            git(root)
                .args(["init", "-q", "--bare", "-b", &cfg.branch])
                .args([l.remote.display().to_string()]),
        ),
    );
    push(
        "sandbox",
        Step::Run(
            git(root)
                .args(["clone", "-q", "--no-local"])
                .args([root.display().to_string(), l.clone.display().to_string()]),
        ),
    );
    push(
        "sandbox",
        Step::Run(git(&l.clone).args(["switch", "-q", "-C", &cfg.branch])),
    );
    push(
        "sandbox",
        Step::Run(
            git(&l.clone)
                .args(["remote", "set-url", "origin"])
                .args([l.remote.display().to_string()]),
        ),
    );
    push(
        "sandbox",
        Step::Action(Box::new(GitIdentity {
            clone: l.clone.clone(),
        })),
    );

    // 2. The services, on loopback, supervised by the rig.
    let registry_password = secret("registry");
    let index_password = secret("index");
    let mut up = ci::rig(root)
        .args(["up", "--state"])
        .args([l.state.display().to_string(), "--dir".into()])
        .args([
            l.sandbox.join("services").display().to_string(),
            "--tools".into(),
        ])
        .args([tools.display().to_string()])
        .args([
            "--registry-port".to_string(),
            l.ports[0].to_string(),
            "--auth-registry-port".into(),
            l.ports[1].to_string(),
            "--index-port".into(),
            l.ports[2].to_string(),
            "--github-port".into(),
            l.ports[3].to_string(),
        ])
        .env(
            "SLIPWAY_RIG_REGISTRY_PASSWORD",
            Val::Secret(registry_password.clone()),
        )
        .env(
            "SLIPWAY_RIG_INDEX_PASSWORD",
            Val::Secret(index_password.clone()),
        );
    if o.keep {
        up = up.args(["--keep-running"]);
    }
    push(
        "services",
        Step::Action(Box::new(StartServices {
            process: up,
            state: l.state.clone(),
            log: l.sandbox.join("services.log"),
            shared: shared.clone(),
        })),
    );
    let github_repo = crate::targets::github::repo(cfg).unwrap_or_else(|| "rehearsal/app".into());
    let (owner, name) = github_repo
        .split_once('/')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or_else(|| ("rehearsal".into(), "app".into()));
    // 3. The clone's targets rewritten to the local services, committed and pushed there.
    push(
        "services",
        Step::Action(Box::new(RewriteTargets {
            clone: l.clone.clone(),
            registries: l.registries.clone(),
            index_url: l.index_url.clone(),
            github_repo: github_repo.clone(),
            staging: (split || dev).then(|| staging_of(l)),
            platforms: o.platforms.clone(),
        })),
    );
    push(
        "services",
        Step::Run(git(&l.clone).args([
            "commit",
            "-q",
            "-am",
            "chore: rehearsal targets (local services)",
        ])),
    );
    push(
        "services",
        Step::Run(git(&l.clone).args(["push", "-q", "origin", &cfg.branch])),
    );
    push(
        "services",
        Step::Action(Box::new(Control {
            url: l.github_url.clone(),
            what: "repos",
            body: json!({"owner": owner, "repo": name}),
        })),
    );

    // 4. The stages, exactly as production runs them.
    let gh_token = secret("gh");
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "xtask".into());
    let stage_process = |args: &[&str]| -> Process {
        let mut p = Process::new(&exe, &l.clone)
            .args(["-C".to_string(), l.clone.display().to_string()])
            .args(args.iter().copied());
        for k in STRIPPED {
            p = p.env_removed(k);
        }
        p.env("DOCKER_HOST", docker_host.clone())
            .env("SLIPWAY_GH_PROXY", Val::Plain(l.github_url.clone()))
            .env("GH_HOST", Val::Plain("github.localhost".into()))
            .env("GH_TOKEN", Val::Secret(gh_token.clone()))
            .env(
                "GH_CONFIG_DIR",
                Val::Plain(l.sandbox.join("gh").display().to_string()),
            )
            .env("GH_PROMPT_DISABLED", Val::Plain("1".into()))
            .env("GH_NO_UPDATE_NOTIFIER", Val::Plain("1".into()))
            .env("TWINE_USERNAME", Val::Plain(SERVICE_USER.into()))
            .env("TWINE_PASSWORD", Val::Secret(index_password.clone()))
            .env("DOCKER_USERNAME", Val::Plain(SERVICE_USER.into()))
            .env("DOCKER_PASSWORD", Val::Secret(registry_password.clone()))
            .env("SLIPWAY_TOOLS_DIR", Val::Plain(tools.display().to_string()))
            .env(
                "SLIPWAY_CHILD_TIME_FILE",
                Val::Plain(l.child_times.display().to_string()),
            )
    };
    let mut stage = |name: &'static str, args: &[&str]| {
        push(
            name,
            Step::Action(Box::new(StageRun {
                name,
                process: stage_process(args),
                gh_config: l.sandbox.join("gh"),
            })),
        );
    };
    if dev {
        // The reviewed loop: dev-release (its --json names the PR), the merge as GitHub makes
        // it, release-merged of that PR, verify.
        push(
            "dev-release",
            Step::Action(Box::new(DevRelease {
                process: stage_process(&["dev-release", "--json"]),
                gh_config: l.sandbox.join("gh"),
            })),
        );
        push(
            "merge",
            Step::Action(Box::new(MergeDev {
                clone: l.clone.clone(),
                base: cfg.branch.clone(),
                url: l.github_url.clone(),
                owner: owner.clone(),
                repo: name.clone(),
            })),
        );
        let mut stage = |name: &'static str, args: &[&str]| {
            push(
                name,
                Step::Action(Box::new(StageRun {
                    name,
                    process: stage_process(args),
                    gh_config: l.sandbox.join("gh"),
                })),
            );
        };
        stage("release-merged", &["release-merged", "<rehearse.dev.pr>"]);
        // The GitHub release was verified by release-merged (in the worktree holding its
        // dists); the images and the index are verified here, from the clone.
        stage("verify", &["verify", "--only", "docker,pypi"]);
        return finish(root, cfg, o, l, shared, plan, stages);
    }
    stage("release", &["release", &o.version]);
    // The release workflow's CI run for the tag, as GitHub would report it after it passed.
    push(
        "release",
        Step::Action(Box::new(SeedRun {
            clone: l.clone.clone(),
            url: l.github_url.clone(),
            owner,
            repo: name,
            workflow: cfg.release_workflow.clone(),
        })),
    );
    if split {
        // The release workflow's split: one process per platform (its native runner), in
        // parallel, each pushing its validated image to staging by digest; then the publish
        // from exactly those digests.
        let files: Vec<String> = platforms
            .iter()
            .map(|p| {
                crate::targets::docker::digests::default_path(&l.clone.join("target/slipway"), p)
                    .display()
                    .to_string()
            })
            .collect();
        split_files = platforms
            .iter()
            .cloned()
            .zip(files.iter().cloned())
            .collect();
        let lanes: Vec<(String, Process)> = platforms
            .iter()
            .zip(&files)
            .map(|(p, f)| {
                (
                    p.clone(),
                    stage_process(&[
                        "docker-validate",
                        "--platform",
                        p,
                        "--push-by-digest",
                        "--digest-file",
                        f,
                    ]),
                )
            })
            .collect();
        // The workflow's `dist` job: the Python dists once, before the platforms (each lane
        // finds them recorded and skips its own build; lanes sharing one clone would race).
        push(
            "dist",
            Step::Action(Box::new(StageRun {
                name: "dist",
                process: stage_process(&["docker-validate", "--dist-only"]),
                gh_config: l.sandbox.join("gh"),
            })),
        );
        push(
            "docker-validate",
            Step::Action(Box::new(SplitBuild {
                lanes,
                times: shared.clone(),
            })),
        );
        let mut args = vec!["publish-prod", "--from-digests"];
        args.extend(files.iter().map(String::as_str));
        push(
            "publish-prod",
            Step::Action(Box::new(StageRun {
                name: "publish-prod",
                process: stage_process(&args),
                gh_config: l.sandbox.join("gh"),
            })),
        );
    } else {
        let mut stage = |name: &'static str, args: &[&str]| {
            push(
                name,
                Step::Action(Box::new(StageRun {
                    name,
                    process: stage_process(args),
                    gh_config: l.sandbox.join("gh"),
                })),
            );
        };
        if cfg.docker.is_some() {
            stage("docker-validate", &["docker-validate"]);
        }
        stage("publish-prod", &["publish-prod"]);
    }
    let mut stage = |name: &'static str, args: &[&str]| {
        push(
            name,
            Step::Action(Box::new(StageRun {
                name,
                process: stage_process(args),
                gh_config: l.sandbox.join("gh"),
            })),
        );
    };

    stage("verify", &["verify"]);
    if split {
        // What the split must prove: the published index is made of exactly the images the
        // per-platform steps validated (no rebuild on the way).
        if let Some(docker) = cfg.docker.as_ref() {
            push(
                "verify",
                Step::Action(Box::new(IndexOfTheLanes {
                    files: split_files
                        .iter()
                        .map(|(p, f)| (p.clone(), PathBuf::from(f)))
                        .collect(),
                    registries: l.registries.to_vec(),
                    path: docker.image.clone(),
                    pyproject: l.clone.join(&cfg.pyproject),
                    tag_prefix: cfg.tag_prefix.clone(),
                    credentials: (SERVICE_USER.to_string(), registry_password.clone()),
                    shared: shared.clone(),
                })),
            );
        }
    }
    finish(root, cfg, o, l, shared, plan, stages)
}

/// The plan with its teardown: whatever happened (with --keep, only the reports are copied).
fn finish(
    root: &Path,
    cfg: &config::Config,
    o: &Options,
    l: &Layout,
    shared: &Arc<Shared>,
    plan: Plan,
    stages: Vec<&'static str>,
) -> Rehearsal {
    let mut teardown = Plan::default();
    if !o.keep {
        teardown.push(Step::Action(Box::new(StopServices {
            shared: shared.clone(),
        })));
        if cfg.docker.is_some() {
            teardown.push(Step::Action(Box::new(RemoveImages {
                root: root.to_path_buf(),
                registries: l.registries.clone(),
            })));
        }
    }
    teardown.push(Step::Action(Box::new(CopyReports {
        from: l.clone.join("target/slipway/reports"),
        to: l.reports.clone(),
    })));
    if !o.keep {
        teardown.push(Step::Run(
            ci::rig(root)
                .args(["stop-started"])
                .args([l.started.display().to_string()]),
        ));
        teardown.push(Step::Action(Box::new(RemoveSandbox {
            sandbox: l.sandbox.clone(),
            shared: shared.clone(),
        })));
    }
    Rehearsal {
        plan,
        stages,
        teardown,
    }
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    rehearse(global, o, false, ui)
}

/// `cargo xtask rehearse --dry-run`: the plan and its teardown, rendered; nothing runs.
pub fn dry_run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    rehearse(global, o, true, ui)
}

fn rehearse(global: &Global, o: &Options, dry_run: bool, ui: &Ui) -> Result<u8> {
    let started = Instant::now();
    let root = git::toplevel(&global.dir)?;
    let cfg = config::load_or_refuse(&root, "rehearse")?;
    if let Some(problem) = o.platforms.iter().find_map(|p| unrehearsable_platform(p)) {
        return Err(crate::usage(problem));
    }
    let l = Layout::new(&cfg)?;
    let shared = Arc::new(Shared::default());
    let planned = build(&root, &cfg, o, &l, &shared);
    // Said by the dry run too: the rehearsal clones HEAD.
    let status = git::status(&root)?;
    if !status.changed.is_empty() {
        ui.warn(&format!(
            "uncommitted changes are not part of the rehearsal (it clones HEAD): {}",
            status.changed.join(", ")
        ));
    }
    if dry_run && o.json {
        crate::run::ui::print_json(&serde_json::json!({
            "steps": planned.plan.to_json(&root),
            "teardown": planned.teardown.to_json(&root),
        }));
        return Ok(0);
    }
    if dry_run {
        ui.heading("rehearse — dry run");
        planned.plan.render(ui, &root);
        ui.heading("then, whatever happened (teardown)");
        planned.teardown.render(ui, &root);
        return Ok(0);
    }
    std::fs::create_dir_all(&l.sandbox)?;

    ui.heading("rehearse");
    let mut stages: Vec<Stage> = Vec::new();
    let result = crate::run::exec::execute_with(&planned.plan, ui, &root, &mut |r| {
        let name = planned.stages[r.index];
        let ok = r.result.is_ok();
        match stages.last_mut() {
            Some(s) if s.name == name => {
                s.took += r.took;
                s.ok &= ok;
            }
            _ => stages.push(Stage {
                name,
                took: r.took,
                ok,
            }),
        }
    });
    shared
        .passed
        .store(result.is_ok(), std::sync::atomic::Ordering::SeqCst);
    // Read before the teardown removes the sandbox. Per stage process: "sum busy span…"
    // (nanoseconds; spans as `start:end` since the Unix epoch). The floor is the sum over all
    // child processes (parallel ones each count); the tool's own time is the wall time during
    // which no child process ran at all: the union of every stage process's spans and this
    // process's own (the split's stage processes run at the same time).
    let (stage_sum, stage_spans) =
        stage_child_times(&std::fs::read_to_string(&l.child_times).unwrap_or_default());
    let t = Instant::now();
    ui.heading("rehearse: teardown");
    let teardown = crate::run::exec::execute(&planned.teardown, ui, &root);
    stages.push(Stage {
        name: "teardown",
        took: t.elapsed(),
        ok: teardown.is_ok(),
    });
    if let Err(e) = &teardown {
        ui.warn(&format!("{e:#}"));
    }

    // 5. The report.
    let report_path = crate::targets::publish::work_dir(&cfg)
        .join("reports")
        .join(format!("rehearsal-{}.json", l.stamp));
    let published = published(&l.reports);
    let floor = Duration::from_nanos(stage_sum) + crate::run::exec::child_time();
    let busy = {
        let mut spans = stage_spans;
        spans.extend(crate::run::process::child_spans_unix());
        let ns: u128 = crate::run::process::merge_spans(spans)
            .iter()
            .map(|(s, e)| e - s)
            .sum();
        Duration::from_nanos(ns as u64)
    };
    let total = started.elapsed();
    // Everything the stages do not cover (planning, the report): so that stages add up to total.
    let counted: Duration = stages.iter().map(|s| s.took).sum();
    stages.push(Stage {
        name: "other",
        took: total.saturating_sub(counted),
        ok: true,
    });
    let copied: Vec<String> = std::fs::read_dir(&l.reports)
        .map(|rd| {
            let mut v: Vec<String> = rd
                .flatten()
                .map(|e| e.path().display().to_string())
                .collect();
            v.sort();
            v
        })
        .unwrap_or_default();
    let report = json!({
        "schema": "slipway.rehearsal-report/1",
        "status": if result.is_ok() { "success" } else { "failure" },
        "duration_ms": total.as_millis() as u64,
        "stages": stages.iter().map(|s| json!({"name": s.name, "ok": s.ok, "duration_ms": s.took.as_millis() as u64})).collect::<Vec<_>>(),
        "time_in_tools_ms": floor.as_millis() as u64,
        "time_tools_busy_ms": busy.as_millis() as u64,
        "tool_own_ms": total.saturating_sub(busy).as_millis() as u64,
        "services": {
            "git_remote": l.remote.display().to_string(),
            "registries": l.registries,
            "index": l.index_url,
            "github": l.github_url,
        },
        "publish_reports": copied,
        "published": published,
        "split": split_json(&shared),
    });
    if let Some(dir) = report_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        &report_path,
        ui::redact(&serde_json::to_string_pretty(&report)?),
    )?;
    print_report(ui, &stages, total, floor, busy, &report, &report_path);
    if let Some(split) = report["split"].as_object() {
        ui.line(&format!(
            "split: {} — all platforms in {} ms, the sum of their times {} ms (overlap {} ms)",
            split["platforms"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!(
                    "{} {} ms{}",
                    p["platform"].as_str().unwrap_or_default(),
                    p["duration_ms"],
                    if p["ok"] == true { "" } else { " (failed)" }
                ))
                .collect::<Vec<_>>()
                .join(", "),
            split["wall_ms"],
            split["sum_ms"],
            split["sum_ms"]
                .as_u64()
                .unwrap_or(0)
                .saturating_sub(split["wall_ms"].as_u64().unwrap_or(0))
        ));
    }

    if o.keep {
        let pid = shared
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .and_then(|c| c.detach())
            .map(|pid| pid.to_string())
            .unwrap_or_else(|| "?".into());
        ui.line(&format!(
            "kept: sandbox {}\n  clone:      {}\n  git remote: {}\n  registries: http://{}/v2/_catalog (no auth), http://{}/v2/_catalog (user {SERVICE_USER})\n  index:      {}simple/\n  GitHub:     {}/_standin/state\n  stop them:  kill {pid}   (slipway-rig up; it stops and reaps every service)",
            l.sandbox.display(),
            l.clone.display(),
            l.remote.display(),
            l.registries[0],
            l.registries[1],
            l.index_url,
            l.github_url,
        ));
    } else if result.is_err() {
        ui.line(&format!("the sandbox is kept at {}", l.sandbox.display()));
    }
    result?;
    Ok(0)
}

/// A stage: `cargo xtask <command>` in the clone, output relayed, with the rehearsal's
/// environment. Run outside the executor's child accounting: the stage's own process reports
/// how long it waited for the tools it drives (`SLIPWAY_CHILD_TIME_FILE`).
#[derive(Debug)]
struct StageRun {
    name: &'static str,
    process: Process,
    gh_config: PathBuf,
}

impl Action for StageRun {
    fn header(&self) -> String {
        format!("{}: run {}", self.name, self.process.command_line())
    }
    /// A direct action: its output is relayed and its own child time is accounted by itself.
    fn planned(&self) -> Planned {
        Planned::apply(vec![
            Sub::Dir(self.gh_config.clone()),
            Sub::run(self.process.clone()),
        ])
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        std::fs::create_dir_all(&self.gh_config)?;
        // `<key>` arguments name values an earlier stage recorded (the dev loop's PR number).
        let mut process = self.process.clone();
        for a in &mut process.args {
            *a = crate::run::exec::fill(a, &cx.values);
        }
        crate::run::process::relayed(&process)
            .with_context(|| format!("the rehearsal's {} stage failed (see above)", self.name))?;
        Ok(Done::Ran(String::new()))
    }
}

/// Why `--platform <p>` cannot be rehearsed here (`None`: it can): the rig provisions the base
/// images of linux/amd64 and linux/arm64 only.
fn unrehearsable_platform(p: &str) -> Option<String> {
    const RIG: &[&str] = &["linux/amd64", "linux/arm64"];
    if RIG
        .iter()
        .any(|r| crate::targets::docker::same_platform(p, r))
    {
        return None;
    }
    Some(format!(
        "--platform `{p}` cannot be rehearsed: the rehearsal rig provisions base images for {} only",
        RIG.join(" and ")
    ))
}

/// The split's proof: the index each production registry serves under the release tag lists
/// exactly the per-platform digests the lanes validated and wrote to their digest files (one
/// platform: the tag is that very image).
struct IndexOfTheLanes {
    files: Vec<(String, PathBuf)>,
    registries: Vec<String>,
    /// The image's path on each registry (`docker.image`).
    path: String,
    /// The clone's pyproject.toml: its version, once released, names the tag.
    pyproject: PathBuf,
    tag_prefix: String,
    credentials: (String, String),
    shared: Arc<Shared>,
}

impl std::fmt::Debug for IndexOfTheLanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexOfTheLanes")
            .field("files", &self.files)
            .field("registries", &self.registries)
            .finish()
    }
}

/// What [`IndexOfTheLanes`] read: each lane's (platform, digest), the tag, and each registry's
/// index entries (platform, digest), attestation entries left out.
#[derive(Debug)]
struct LanesAndIndexes {
    lanes: Vec<(String, String)>,
    tag: String,
    indexes: Vec<(String, Vec<(String, String)>)>,
}

impl Reconcile for IndexOfTheLanes {
    type Seen = LanesAndIndexes;
    fn header(&self) -> String {
        format!(
            "check that the index on {} lists exactly the digests the per-platform steps validated ({})",
            self.registries.join(", "),
            self.files
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: self
                .registries
                .iter()
                .map(|r| {
                    Sub::Http(Request {
                        method: "GET".into(),
                        url: format!(
                            "{}/v2/{}/manifests/<tag>",
                            crate::targets::docker::registry::api_base(r),
                            self.path
                        ),
                        headers: Vec::new(),
                        body: None,
                        service: format!("the registry {r}"),
                    })
                })
                .collect(),
            apply: Vec::new(),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<LanesAndIndexes> {
        let mut lanes = Vec::new();
        for (platform, file) in &self.files {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("the digest file of {platform}: {}", file.display()))?;
            let d = crate::targets::docker::digests::parse(&text)
                .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            lanes.push((d.platform, d.digest));
        }
        let pyproject = std::fs::read_to_string(&self.pyproject)
            .with_context(|| format!("{}", self.pyproject.display()))?;
        let doc: toml_edit::DocumentMut = pyproject
            .parse()
            .with_context(|| format!("{}", self.pyproject.display()))?;
        let version = doc["project"]["version"]
            .as_str()
            .ok_or_else(|| anyhow!("{} has no project.version", self.pyproject.display()))?;
        let tag = format!("{}{version}", self.tag_prefix);
        let mut indexes = Vec::new();
        for r in &self.registries {
            let mut client = crate::targets::docker::registry::Client::new(
                r,
                Some((&self.credentials.0, &self.credentials.1)),
            );
            let what = || format!("reading {r}/{}:{tag}", self.path);
            let Some(top) = client.manifest(&self.path, &tag).with_context(what)? else {
                indexes.push((r.clone(), Vec::new()));
                continue;
            };
            let entries: Vec<(String, String)> = if top.is_index() {
                client
                    .platforms(&self.path, &tag)
                    .with_context(what)?
                    .into_iter()
                    .filter(|e| e.platform != "unknown/unknown")
                    .map(|e| (e.platform, e.digest))
                    .collect()
            } else {
                // One platform is published as the image itself, no index.
                let platform = match lanes.as_slice() {
                    [(p, _)] => p.clone(),
                    _ => "one image, no index".to_string(),
                };
                vec![(platform, top.digest)]
            };
            indexes.push((r.clone(), entries));
        }
        *self
            .shared
            .digests
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = lanes.clone();
        Ok(LanesAndIndexes {
            lanes,
            tag,
            indexes,
        })
    }
    fn decide(&self, seen: &LanesAndIndexes) -> Result<Decision> {
        let problems = index_differences(&seen.lanes, &seen.indexes);
        if !problems.is_empty() {
            bail!(
                "the published index {} is not what the per-platform steps validated: {}",
                seen.tag,
                problems.join("; ")
            );
        }
        Ok(Decision::done(format!(
            "{} on {}: exactly {}",
            seen.tag,
            seen.indexes
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            seen.lanes
                .iter()
                .map(|(p, d)| format!("{p} {d}"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// Pure: how each registry's index differs from the lanes' (platform, digest) pairs (empty:
/// the same set).
fn index_differences(
    lanes: &[(String, String)],
    indexes: &[(String, Vec<(String, String)>)],
) -> Vec<String> {
    let want: std::collections::BTreeSet<&(String, String)> = lanes.iter().collect();
    let mut out = Vec::new();
    for (registry, entries) in indexes {
        let got: std::collections::BTreeSet<&(String, String)> = entries.iter().collect();
        for missing in want.difference(&got) {
            out.push(format!("{registry} lacks {} {}", missing.0, missing.1));
        }
        for extra in got.difference(&want) {
            out.push(format!(
                "{registry} lists {} {}, which no step validated",
                extra.0, extra.1
            ));
        }
    }
    out
}

/// The dev loop's first stage: `dev-release --json`, its PR number and branch recorded for the
/// merge and `release-merged` (read from its output, never assumed).
#[derive(Debug)]
struct DevRelease {
    process: Process,
    gh_config: PathBuf,
}

impl DevRelease {
    fn run(&self) -> Sub {
        Run::new(self.process.clone())
            .verdict(|out| {
                let doc: Option<Json> = out
                    .stdout
                    .find('{')
                    .and_then(|at| serde_json::from_str(&out.stdout[at..]).ok());
                let tail = || {
                    ui::redact(
                        out.stderr
                            .lines()
                            .rev()
                            .take(30)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect::<Vec<_>>()
                            .join("\n")
                            .trim(),
                    )
                };
                let Some(doc) = doc.filter(|_| out.ok) else {
                    return Err(format!(
                        "the rehearsal's dev-release stage failed:\n{}",
                        tail()
                    ));
                };
                match (
                    doc["pr"].as_u64(),
                    doc["branch"].as_str(),
                    doc["version"].as_str(),
                ) {
                    (Some(pr), Some(branch), Some(v)) => Ok(vec![
                        ("rehearse.dev.pr".into(), pr.to_string()),
                        ("rehearse.dev.branch".into(), branch.to_string()),
                        ("rehearse.dev.version".into(), v.to_string()),
                    ]),
                    _ => Err(format!(
                        "dev-release --json named no pull request: {}",
                        ui::redact(&doc.to_string())
                    )),
                }
            })
            .sub()
    }
}

impl Reconcile for DevRelease {
    type Seen = ();
    fn header(&self) -> String {
        format!("dev-release: run {}", self.process.command_line())
    }
    fn rule(&self) -> Option<String> {
        Some("its --json names the PR (number, branch) the next stages merge and release".into())
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![Sub::Dir(self.gh_config.clone()), self.run()])
    }
    fn observe(&self, _cx: &RunContext) -> Result<()> {
        Ok(())
    }
    fn decide(&self, _seen: &()) -> Result<Decision> {
        Ok(Decision::finish(
            vec![Sub::Dir(self.gh_config.clone()), self.run()],
            "PR #<rehearse.dev.pr> from <rehearse.dev.branch> for <rehearse.dev.version>",
        ))
    }
}

/// Merges the dev-release PR as GitHub does: a merge commit of its branch on the main branch,
/// pushed to the sandbox's remote, then the stand-in told (`POST /_standin/merge`).
#[derive(Debug)]
struct MergeDev {
    clone: PathBuf,
    base: String,
    url: String,
    owner: String,
    repo: String,
}

impl MergeDev {
    fn subs(&self) -> Vec<Sub> {
        let git = |args: &[&str]| Process::new("git", &self.clone).args(args.iter().copied());
        vec![
            Sub::run(git(&["fetch", "--quiet", "origin", "<rehearse.dev.branch>"])),
            Sub::run(git(&[
                "merge",
                "--quiet",
                "--no-ff",
                "-m",
                &format!(
                    "Merge pull request #<rehearse.dev.pr> from {}/<rehearse.dev.branch>",
                    self.owner
                ),
                "FETCH_HEAD",
            ])),
            Sub::run(git(&["push", "--quiet", "origin", &self.base])),
            Run::new(git(&["rev-parse", "HEAD"]))
                .capture("rehearse.dev.merge", |out| {
                    Some(out.trim().to_string()).filter(|s| s.len() == 40)
                })
                .sub(),
            Sub::Http(Request {
                method: "POST".into(),
                url: format!("{}/_standin/merge", self.url),
                headers: vec![("Content-Type".into(), Val::Plain("application/json".into()))],
                body: Some(format!(
                    "{{\"owner\": {}, \"repo\": {}, \"number\": <rehearse.dev.pr>, \"merge_commit_sha\": \"<rehearse.dev.merge>\"}}",
                    Json::String(self.owner.clone()),
                    Json::String(self.repo.clone())
                )),
                service: "the GitHub stand-in".into(),
            }),
        ]
    }
}

impl Reconcile for MergeDev {
    type Seen = ();
    fn header(&self) -> String {
        format!(
            "merge: the dev-release PR merged into {} through the GitHub stand-in (a merge commit, pushed)",
            self.base
        )
    }
    fn planned(&self) -> Planned {
        Planned::apply(self.subs())
    }
    fn observe(&self, _cx: &RunContext) -> Result<()> {
        Ok(())
    }
    fn decide(&self, _seen: &()) -> Result<Decision> {
        Ok(Decision::finish(
            self.subs(),
            "merged PR #<rehearse.dev.pr> as <rehearse.dev.merge>",
        ))
    }
}

/// The split's build stage: one `docker-validate --platform P --push-by-digest` process per
/// platform, all at once (as the workflow's jobs on their runners); each one's output is shown
/// when it ends, with its time. Fails when any failed (after all have ended).
struct SplitBuild {
    lanes: Vec<(String, Process)>,
    times: Arc<Shared>,
}

impl std::fmt::Debug for SplitBuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitBuild")
            .field(
                "platforms",
                &self.lanes.iter().map(|l| &l.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Action for SplitBuild {
    fn header(&self) -> String {
        format!(
            "docker-validate: one process per platform, in parallel ({}), each pushing to staging by digest",
            self.lanes
                .iter()
                .map(|l| l.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![Sub::Parallel(crate::run::plan::Parallel {
            what: "one per platform".into(),
            lanes: self
                .lanes
                .iter()
                .map(|(p, proc)| crate::run::plan::Lane {
                    label: p.clone(),
                    subs: vec![Sub::run(proc.clone())],
                    finally: Vec::new(),
                    summary: String::new(),
                })
                .collect(),
        })])
    }
    fn execute(&self, _cx: &mut RunContext) -> Result<Done> {
        let started = Instant::now();
        let results: Vec<(String, Duration, Result<crate::run::process::Output>)> =
            std::thread::scope(|s| {
                let handles: Vec<_> = self
                    .lanes
                    .iter()
                    .map(|(p, proc)| {
                        s.spawn(move || {
                            let t = Instant::now();
                            let out = crate::run::process::output(proc);
                            (p.clone(), t.elapsed(), out)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            (
                                String::new(),
                                Duration::ZERO,
                                Err(anyhow!("internal error: a lane panicked")),
                            )
                        })
                    })
                    .collect()
            });
        let wall = started.elapsed();
        let mut failed = Vec::new();
        let mut times = Vec::new();
        let mut lines = Vec::new();
        for (p, took, out) in &results {
            let ok = match out {
                Ok(o) => {
                    let text = format!("{}{}", o.stdout, o.stderr);
                    for l in text.lines() {
                        println!("  [{p}] {}", ui::redact(l));
                    }
                    o.ok
                }
                Err(e) => {
                    println!("  [{p}] {}", ui::redact(&format!("{e:#}")));
                    false
                }
            };
            if !ok {
                failed.push(p.clone());
            }
            times.push((p.clone(), *took, ok));
            lines.push(format!(
                "{p}: {} in {}",
                if ok { "validated and pushed" } else { "FAILED" },
                ui::human_duration(*took)
            ));
        }
        let sum: Duration = times.iter().map(|t| t.1).sum();
        *self.times.split.lock().unwrap_or_else(|e| e.into_inner()) = Some((times, wall));
        lines.push(format!(
            "all platforms in {} (the sum of their times: {})",
            ui::human_duration(wall),
            ui::human_duration(sum)
        ));
        if !failed.is_empty() {
            bail!(
                "the rehearsal's docker-validate failed for {} (see above)\n{}",
                failed.join(", "),
                lines.join("\n")
            );
        }
        Ok(Done::Ran(lines.join("\n")))
    }
}

/// The commit identity of the clone (where none is configured).
const IDENTITY: [(&str, &str); 2] = [
    ("user.name", "slipway rehearsal"),
    ("user.email", "rehearsal@slipway.invalid"),
];

/// A commit identity in the clone, only where none is configured (the user's is kept).
#[derive(Debug)]
struct GitIdentity {
    clone: PathBuf,
}

impl GitIdentity {
    fn get(&self, key: &str) -> Process {
        Process::new("git", &self.clone).args(["config", "--get", key])
    }
    fn set(&self, key: &str, value: &str) -> Process {
        Process::new("git", &self.clone).args(["config", key, value])
    }
}

impl Reconcile for GitIdentity {
    /// Each identity key with its configured value (empty: none).
    type Seen = Vec<(&'static str, String)>;
    fn header(&self) -> String {
        "git identity in the clone: user.name \"slipway rehearsal\", user.email rehearsal@slipway.invalid (only where none is configured)".into()
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: IDENTITY
                .iter()
                .map(|(k, _)| Sub::run(self.get(k)))
                .collect(),
            apply: IDENTITY
                .iter()
                .map(|(k, v)| Sub::run(self.set(k, v)))
                .collect(),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<Self::Seen> {
        Ok(IDENTITY
            .iter()
            .map(|(k, _)| {
                let current = crate::run::exec::run_captured(&self.get(k)).unwrap_or_default();
                (*k, current.trim().to_string())
            })
            .collect())
    }
    fn decide(&self, seen: &Self::Seen) -> Result<Decision> {
        let missing: Vec<&(&str, &str)> = IDENTITY
            .iter()
            .filter(|(k, _)| seen.iter().any(|(s, v)| s == k && v.is_empty()))
            .collect();
        if missing.is_empty() {
            return Ok(Decision::done("an identity is configured"));
        }
        Ok(Decision::apply(
            missing
                .iter()
                .map(|(k, v)| Sub::run(self.set(k, v)))
                .collect(),
            format!(
                "set {}",
                missing
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

/// Starts the supervised `slipway-rig up` and waits for its state file.
#[derive(Debug)]
struct StartServices {
    process: Process,
    state: PathBuf,
    log: PathBuf,
    shared: Arc<Shared>,
}

impl Action for StartServices {
    fn header(&self) -> String {
        format!(
            "services: run {}  (supervised: stops and reaps them when its stdin closes)",
            self.process.command_line()
        )
    }
    /// A direct action: it supervises `slipway-rig up` until the teardown closes its stdin.
    fn planned(&self) -> Planned {
        Planned::apply(vec![
            Sub::Remove(self.state.clone()),
            Sub::run(self.process.clone()),
        ])
    }
    fn detail(&self) -> Option<String> {
        Some(format!(
            "docker-registry ×2 (one with htpasswd auth), pypiserver, the GitHub stand-in; waits for {}; log {}",
            self.state.display(),
            self.log.display()
        ))
    }
    fn execute(&self, _cx: &mut RunContext) -> Result<Done> {
        let _ = std::fs::remove_file(&self.state);
        let started = Instant::now();
        // Its stdin is its lifeline: closed by the teardown (or when this process dies); with
        // --keep it was told to keep running.
        let mut child = crate::run::process::supervise_with_lifeline(&self.process, &self.log)
            .context("starting slipway-rig up")?;
        let tail = |log: &Path| {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        };
        loop {
            if self.state.is_file() {
                break;
            }
            if let Some(code) = child.exited() {
                let status = code.map_or("a signal".to_string(), |c| format!("status {c}"));
                bail!(
                    "slipway-rig up exited with {status} before the services were up; its log ({}):\n{}",
                    self.log.display(),
                    ui::redact(&tail(&self.log))
                );
            }
            if started.elapsed() > Duration::from_secs(180) {
                child.close_stdin_and_wait(Duration::from_secs(10));
                bail!(
                    "the services were not up after 180 s; log ({}):\n{}",
                    self.log.display(),
                    ui::redact(&tail(&self.log))
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Waiting for services to come up is time spent in those services.
        crate::run::exec::count_child_span(started, Instant::now());
        let pid = child.pid().unwrap_or_default();
        *self
            .shared
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(child);
        Ok(Done::Ran(format!("up (pid {pid})")))
    }
}

/// Closes `slipway-rig up`'s stdin and waits until it has stopped (and reaped) every service.
#[derive(Debug)]
struct StopServices {
    shared: Arc<Shared>,
}

impl Action for StopServices {
    fn header(&self) -> String {
        "stop the services: close slipway-rig up's stdin, wait for it (it stops and reaps each)"
            .into()
    }
    fn execute(&self, _cx: &mut RunContext) -> Result<Done> {
        let Some(mut child) = self
            .shared
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return Ok(Done::Skipped("they were not started".into()));
        };
        let t = Instant::now();
        if let Some(code) = child.close_stdin_and_wait(Duration::from_secs(30)) {
            let status = code.map_or("a signal".to_string(), |c| format!("status {c}"));
            return Ok(Done::Ran(format!(
                "stopped ({status}) in {}",
                ui::human_duration(t.elapsed())
            )));
        }
        // Not an error: the teardown goes on with the other steps.
        Ok(Done::Ran(
            "did not stop within 30 s of its stdin closing: killed it (its services may linger)"
                .into(),
        ))
    }
}

/// Removes exactly the image tags the rehearsal created: those under its own registries.
#[derive(Debug)]
struct RemoveImages {
    root: PathBuf,
    registries: [String; 2],
}

impl Reconcile for RemoveImages {
    /// The image tags the engine lists, or why it could not list them.
    type Seen = Result<Vec<String>, String>;
    fn header(&self) -> String {
        format!(
            "remove the image tags under {} and {} from the engine",
            self.registries[0], self.registries[1]
        )
    }
    fn rule(&self) -> Option<String> {
        Some("a teardown step: a failure is reported, and the teardown goes on".into())
    }
    fn planned(&self) -> Planned {
        let tags: Vec<String> = self
            .registries
            .iter()
            .map(|r| format!("{r}/<image>:<tag…>"))
            .collect();
        Planned {
            observe: vec![Sub::run(self.list())],
            apply: vec![Sub::run(self.rm(&tags[..1]))],
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<Self::Seen> {
        Ok(crate::run::exec::run_captured(&self.list())
            .map(|listed| listed.lines().map(|l| l.trim().to_string()).collect())
            .map_err(|e| format!("{e:#}")))
    }
    fn decide(&self, seen: &Self::Seen) -> Result<Decision> {
        let listed = match seen {
            Ok(l) => l,
            Err(e) => return Ok(Decision::done(format!("could not list them: {e}"))),
        };
        let ours: Vec<String> = listed
            .iter()
            .filter(|r| {
                self.registries
                    .iter()
                    .any(|reg| r.starts_with(&format!("{reg}/")))
            })
            .cloned()
            .collect();
        if ours.is_empty() {
            return Ok(Decision::done("the rehearsal left no image tags"));
        }
        Ok(Decision::finish(
            vec![Run::new(self.rm(&ours)).tolerated().sub()],
            format!("removed {}", ours.join(" ")),
        ))
    }
}

impl RemoveImages {
    fn list(&self) -> Process {
        engine::docker(&self.root, None).args([
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ])
    }

    fn rm(&self, tags: &[String]) -> Process {
        engine::docker(&self.root, None)
            .args(["image", "rm"])
            .args(tags.iter().cloned())
    }
}

/// Copies the publish reports out of the sandbox (which is removed).
#[derive(Debug)]
struct CopyReports {
    from: PathBuf,
    to: PathBuf,
}

impl Reconcile for CopyReports {
    /// The reports (name, content), when any was written.
    type Seen = Option<Vec<(std::ffi::OsString, String)>>;
    fn header(&self) -> String {
        format!(
            "copy the publish reports out of the sandbox to {}",
            self.to.display()
        )
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![
            Sub::Dir(self.to.clone()),
            Sub::Write {
                path: self.to.join("<report>"),
                content: "<report>".into(),
            },
        ])
    }
    fn observe(&self, _cx: &RunContext) -> Result<Self::Seen> {
        let Ok(rd) = std::fs::read_dir(&self.from) else {
            return Ok(None);
        };
        let mut files = Vec::new();
        for e in rd.flatten() {
            if e.path().is_file() {
                files.push((e.file_name(), std::fs::read_to_string(e.path())?));
            }
        }
        files.sort();
        Ok(Some(files))
    }
    fn decide(&self, seen: &Self::Seen) -> Result<Decision> {
        let Some(files) = seen else {
            return Ok(Decision::done("no publish report was written"));
        };
        let mut subs = vec![Sub::Dir(self.to.clone())];
        subs.extend(files.iter().map(|(name, content)| Sub::Write {
            path: self.to.join(name),
            content: content.clone(),
        }));
        Ok(Decision::finish(subs, format!("{} file(s)", files.len())))
    }
}

/// Removes the sandbox when the rehearsal passed (a failed one is kept to look at).
#[derive(Debug)]
struct RemoveSandbox {
    sandbox: PathBuf,
    shared: Arc<Shared>,
}

impl Reconcile for RemoveSandbox {
    /// Did the rehearsal pass?
    type Seen = bool;
    fn header(&self) -> String {
        format!(
            "remove the sandbox {} (kept when the rehearsal failed)",
            self.sandbox.display()
        )
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![Sub::Remove(self.sandbox.clone())])
    }
    fn observe(&self, _cx: &RunContext) -> Result<bool> {
        Ok(self.shared.passed.load(std::sync::atomic::Ordering::SeqCst))
    }
    fn decide(&self, passed: &bool) -> Result<Decision> {
        if !passed {
            return Ok(Decision::done("the rehearsal failed: kept"));
        }
        Ok(Decision::finish(
            vec![Sub::Remove(self.sandbox.clone())],
            "",
        ))
    }
}

/// Seeds the stand-in with a passed CI run of the release workflow for the tag at HEAD.
#[derive(Debug)]
struct SeedRun {
    clone: PathBuf,
    url: String,
    owner: String,
    repo: String,
    workflow: String,
}

/// What [`SeedRun`] reads in the clone: the tag at HEAD and HEAD's commit.
const SEED_TAG: &[&str] = &["describe", "--tags", "--exact-match", "HEAD"];
const SEED_SHA: &[&str] = &["rev-parse", "HEAD"];

impl SeedRun {
    fn git(&self, args: &[&str]) -> Process {
        Process::new("git", &self.clone).args(args.iter().copied())
    }
}

impl SeedRun {
    fn request(&self, tag: &str, sha: &str) -> Request {
        Request::post_json(
            format!("{}/_standin/runs", self.url),
            &json!({
                "owner": self.owner, "repo": self.repo, "workflow": self.workflow, "branch": tag,
                "conclusion": "success", "head_sha": sha, "event": "push",
            }),
            "the GitHub stand-in",
        )
    }
}

impl Reconcile for SeedRun {
    /// The tag at HEAD and HEAD's commit.
    type Seen = (String, String);
    fn header(&self) -> String {
        format!(
            "GitHub stand-in: a passed {} run for the new tag (POST {}/_standin/runs)",
            self.workflow, self.url
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(self.git(SEED_TAG)), Sub::run(self.git(SEED_SHA))],
            apply: vec![Sub::Http(self.request("<tag>", "<commit>"))],
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<Self::Seen> {
        let read = |args: &[&str]| {
            crate::run::exec::run_captured(&self.git(args)).map(|s| s.trim().to_string())
        };
        Ok((read(SEED_TAG)?, read(SEED_SHA)?))
    }
    fn decide(&self, (tag, sha): &Self::Seen) -> Result<Decision> {
        Ok(Decision::finish(
            vec![Sub::Http(self.request(tag, sha))],
            format!("{tag} at {sha}"),
        ))
    }
}

/// POST to the stand-in's control API, as a step.
#[derive(Debug)]
struct Control {
    url: String,
    what: &'static str,
    body: Json,
}

impl Control {
    fn request(&self) -> Request {
        Request::post_json(
            format!("{}/_standin/{}", self.url, self.what),
            &self.body,
            "the GitHub stand-in",
        )
    }
}

impl Reconcile for Control {
    type Seen = ();
    fn header(&self) -> String {
        format!(
            "GitHub stand-in: POST {}/_standin/{} {}",
            self.url, self.what, self.body
        )
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![Sub::Http(self.request())])
    }
    fn observe(&self, _cx: &RunContext) -> Result<()> {
        Ok(())
    }
    fn decide(&self, _seen: &()) -> Result<Decision> {
        // The stand-in's control API answers what it did; nothing to read back.
        Ok(Decision::finish(vec![Sub::Http(self.request())], ""))
    }
}

/// Points the clone's release configuration at the local services.
#[derive(Debug)]
struct RewriteTargets {
    clone: PathBuf,
    registries: [String; 2],
    index_url: String,
    github_repo: String,
    /// The split's staging registry (`docker.staging-registry`).
    staging: Option<String>,
    /// `--platform`: the platforms the clone builds (empty: as configured).
    platforms: Vec<String>,
}

/// The split's staging registry: a repository prefix on the first local registry (promotion
/// to it mounts blobs; to the authenticated one it streams them).
fn staging_of(l: &Layout) -> String {
    format!("{}/staging", l.registries[0])
}

impl Reconcile for RewriteTargets {
    /// The clone's Cargo.toml.
    type Seen = String;
    fn header(&self) -> String {
        format!(
            "point the clone's Cargo.toml at the local services: registries {} {}, index {}, GitHub {} (webhooks removed)",
            self.registries[0], self.registries[1], self.index_url, self.github_repo
        )
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![Sub::Write {
            path: self.clone.join("Cargo.toml"),
            content: "<rewritten>".into(),
        }])
    }
    fn observe(&self, _cx: &RunContext) -> Result<String> {
        std::fs::read_to_string(self.clone.join("Cargo.toml")).context("the clone's Cargo.toml")
    }
    fn decide(&self, text: &String) -> Result<Decision> {
        let new = rewrite_targets(text, self)?;
        if new == *text {
            return Ok(Decision::done("it already points at them"));
        }
        Ok(Decision::finish(
            vec![Sub::Write {
                path: self.clone.join("Cargo.toml"),
                content: new,
            }],
            "",
        ))
    }
}

fn rewrite_targets(text: &str, t: &RewriteTargets) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("the clone's Cargo.toml")?;
    let release = doc["workspace"]["metadata"]["release"].or_insert(toml_edit::table());
    let table = release
        .as_table_mut()
        .ok_or_else(|| anyhow!("[workspace.metadata.release] is not a table"))?;
    table.set_implicit(false);
    table.remove("webhooks"); // never call real webhooks from a rehearsal
    let python = table.entry("python").or_insert(toml_edit::table());
    python["repository-url"] = toml_edit::value(t.index_url.clone());
    python["index-url"] = toml_edit::value(format!("{}simple/", t.index_url));
    let github = table.entry("github").or_insert(toml_edit::table());
    github["repo"] = toml_edit::value(t.github_repo.clone());
    if let Some(docker) = table.get_mut("docker").and_then(|d| d.as_table_mut()) {
        let mut regs = toml_edit::Array::new();
        for r in &t.registries {
            regs.push(r.as_str());
        }
        docker["registries"] = toml_edit::value(regs);
        if let Some(s) = &t.staging {
            docker["staging-registry"] = toml_edit::value(s.clone());
        }
        let mut args = toml_edit::InlineTable::new();
        if let Some(existing) = docker.get("build-args").and_then(|a| a.as_inline_table()) {
            for (k, v) in existing.iter() {
                args.insert(k, v.clone());
            }
        }
        if !t.platforms.is_empty() {
            let mut list = toml_edit::Array::new();
            for p in &t.platforms {
                list.push(p.as_str());
            }
            docker["platforms"] = toml_edit::value(list);
        }
        let configured: Vec<String> = docker
            .get("platforms")
            .and_then(|p| p.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        // A foreign platform builds from its own base (`provision` tags `<base>-<arch>` for
        // each): `${TARGETARCH}` is substituted per platform.
        let native = crate::targets::docker::native_platform();
        let base = if configured
            .iter()
            .any(|p| !crate::targets::docker::same_platform(p, &native))
        {
            format!("{}-${{TARGETARCH}}", engine::BASE_IMAGE)
        } else {
            engine::BASE_IMAGE.to_string()
        };
        args.insert("BASE_IMAGE", base.into());
        docker["build-args"] = toml_edit::value(args);
    }
    Ok(doc.to_string())
}

/// The stage processes' child-time lines: the sum of their child processes' times, and their
/// busy spans (a line without spans, from an older binary, counts its busy time as one span
/// ending at 0, which overlaps nothing).
fn stage_child_times(text: &str) -> (u64, Vec<(u128, u128)>) {
    let mut sum = 0u64;
    let mut spans = Vec::new();
    let mut offset = 0u128;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(s), Some(b)) = (
            it.next().and_then(|n| n.parse::<u64>().ok()),
            it.next().and_then(|n| n.parse::<u128>().ok()),
        ) else {
            continue;
        };
        sum += s;
        let mut any = false;
        for span in it {
            if let Some((a, z)) = span.split_once(':') {
                if let (Ok(a), Ok(z)) = (a.parse::<u128>(), z.parse::<u128>()) {
                    spans.push((a, z));
                    any = true;
                }
            }
        }
        if !any && b > 0 {
            spans.push((offset, offset + b));
            offset += b;
        }
    }
    (sum, spans)
}

/// The split's per-platform times (`null` without the split).
fn split_json(shared: &Shared) -> Json {
    let guard = shared.split.lock().unwrap_or_else(|e| e.into_inner());
    let Some((times, wall)) = guard.as_ref() else {
        return Json::Null;
    };
    json!({
        "platforms": times.iter().map(|(p, t, ok)| json!({"platform": p, "duration_ms": t.as_millis() as u64, "ok": ok})).collect::<Vec<_>>(),
        // Set by the check that the published index is made of exactly these.
        "validated": shared.digests.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(p, d)| json!({"platform": p, "digest": d})).collect::<Vec<_>>(),
        "wall_ms": wall.as_millis() as u64,
        "sum_ms": times.iter().map(|t| t.1).sum::<Duration>().as_millis() as u64,
    })
}

/// What the publish reports say was published (steps' details), for the rehearsal report.
fn published(reports: &Path) -> Json {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(reports) {
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if let Ok(text) = std::fs::read_to_string(&p) {
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
        "  total {} (the stages above add up to it) — inside docker/python/git/gh {} summed over processes (the floor; parallel work counts once per process), busy {}; the tool itself {} ({:.1}%)",
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
    for p in report["publish_reports"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        ui.line(&format!("  publish report: {}", p.as_str().unwrap_or("")));
    }
    ui.line(&format!("  report: {}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_scenario_runs_the_reviewed_loop_with_the_pr_it_opened() {
        let root = git::toplevel(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let cfg = config::load_or_refuse(&root, "rehearse").unwrap();
        let o = Options {
            keep: false,
            json: false,
            version: "patch".into(),
            split: false,
            platforms: Vec::new(),
            scenario: Some("dev".into()),
        };
        let l = Layout::new(&cfg).unwrap();
        let planned = build(&root, &cfg, &o, &l, &Arc::new(Shared::default()));
        let mut order: Vec<&str> = planned.stages.clone();
        order.dedup();
        assert_eq!(
            order,
            [
                "prerequisites",
                "sandbox",
                "services",
                "dev-release",
                "merge",
                "release-merged",
                "verify"
            ]
        );
        let headers: Vec<String> = planned.plan.steps.iter().map(|s| s.header(&root)).collect();
        assert!(
            headers.iter().any(|h| h.contains("dev-release --json")),
            "{headers:?}"
        );
        assert!(
            headers
                .iter()
                .any(|h| h.contains("release-merged '<rehearse.dev.pr>'")
                    || h.contains("release-merged <rehearse.dev.pr>")),
            "the PR number comes from dev-release's output: {headers:?}"
        );
    }

    #[test]
    fn the_plan_builds_the_rig_first_and_names_the_ports_it_hands_the_services() {
        let root = git::toplevel(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let cfg = config::load_or_refuse(&root, "rehearse").unwrap();
        let o = Options {
            keep: false,
            json: false,
            version: "patch".into(),
            split: false,
            platforms: Vec::new(),
            scenario: None,
        };
        let l = Layout::new(&cfg).unwrap();
        let planned = build(&root, &cfg, &o, &l, &Arc::new(Shared::default()));
        let headers: Vec<String> = planned.plan.steps.iter().map(|s| s.header(&root)).collect();
        assert_eq!(headers.len(), planned.stages.len());
        assert!(
            headers[0].contains("build --quiet --locked -p slipway-rig"),
            "{headers:?}"
        );
        assert!(
            headers[1].contains("slipway-rig provision --started"),
            "{headers:?}"
        );
        let up = headers.iter().find(|h| h.contains(" up --state ")).unwrap();
        assert!(
            up.contains(&format!("--registry-port {}", l.ports[0])),
            "{up}"
        );
        assert!(up.contains("SLIPWAY_RIG_REGISTRY_PASSWORD='***'"), "{up}");
        assert!(
            !up.contains("rehearsal-registry-"),
            "a secret in the plan: {up}"
        );
        let rewrite = headers
            .iter()
            .find(|h| h.contains("point the clone"))
            .unwrap();
        assert!(
            rewrite.contains(&l.registries[0]) && rewrite.contains(&l.index_url),
            "{rewrite}"
        );
        let names = planned.stages.to_vec();
        for stage in [
            "prerequisites",
            "sandbox",
            "services",
            "release",
            "publish-prod",
            "verify",
        ] {
            assert!(names.contains(&stage), "{stage}: {names:?}");
        }
        let teardown: Vec<String> = planned
            .teardown
            .steps
            .iter()
            .map(|s| s.header(&root))
            .collect();
        assert!(teardown[0].starts_with("stop the services"), "{teardown:?}");
        assert!(
            teardown.iter().any(|h| h.contains("stop-started")),
            "{teardown:?}"
        );
        assert!(
            teardown.last().unwrap().starts_with("remove the sandbox"),
            "{teardown:?}"
        );
    }

    #[test]
    fn the_split_runs_its_platforms_at_once_and_times_each() {
        let sleep = |secs: &str| Process::new("sleep", Path::new("/")).args([secs]);
        let shared = Arc::new(Shared::default());
        let step = SplitBuild {
            lanes: vec![
                ("linux/amd64".into(), sleep("1")),
                ("linux/arm64".into(), sleep("1")),
            ],
            times: shared.clone(),
        };
        let ui = crate::run::ui::Ui::plain();
        let mut cx = RunContext {
            ui: &ui,
            root: Path::new("/"),
            values: Default::default(),
        };
        let Done::Ran(said) = step.execute(&mut cx).unwrap() else {
            panic!("not run");
        };
        assert!(
            said.contains("linux/arm64: validated and pushed in"),
            "{said}"
        );
        let j = split_json(&shared);
        let (wall, sum) = (
            j["wall_ms"].as_u64().unwrap(),
            j["sum_ms"].as_u64().unwrap(),
        );
        assert!(sum >= 2000 && wall < 1800, "not in parallel: {j}");
        // One failing lane fails the step, after the other ended.
        let step = SplitBuild {
            lanes: vec![
                ("linux/amd64".into(), sleep("0")),
                ("linux/arm64".into(), Process::new("false", Path::new("/"))),
            ],
            times: shared.clone(),
        };
        let err = step.execute(&mut cx).unwrap_err().to_string();
        assert!(err.contains("failed for linux/arm64"), "{err}");
        assert_eq!(split_json(&shared)["platforms"][0]["ok"], true);
    }

    #[test]
    fn only_the_rigs_platforms_can_be_rehearsed() {
        assert_eq!(unrehearsable_platform("linux/amd64"), None);
        assert_eq!(unrehearsable_platform("linux/arm64"), None);
        for bad in ["linux/riscv64", "x", "windows/amd64", "linux/arm/v7"] {
            let said = unrehearsable_platform(bad).unwrap();
            assert!(
                said.contains(&format!("`{bad}`")) && said.contains("linux/amd64 and linux/arm64"),
                "{said}"
            );
        }
    }

    #[test]
    fn the_index_must_be_exactly_the_validated_digests() {
        let lanes = vec![
            ("linux/amd64".to_string(), "sha256:a".to_string()),
            ("linux/arm64".to_string(), "sha256:b".to_string()),
        ];
        let same = vec![("r1".to_string(), lanes.iter().rev().cloned().collect())];
        assert!(index_differences(&lanes, &same).is_empty());
        let rebuilt = vec![(
            "r2".to_string(),
            vec![
                ("linux/amd64".to_string(), "sha256:a".to_string()),
                ("linux/arm64".to_string(), "sha256:c".to_string()),
            ],
        )];
        assert_eq!(
            index_differences(&lanes, &rebuilt),
            [
                "r2 lacks linux/arm64 sha256:b",
                "r2 lists linux/arm64 sha256:c, which no step validated"
            ]
        );
    }

    #[test]
    fn parallel_stage_processes_count_their_shared_time_once() {
        // Two stage processes busy 10..20 and 15..30 (ns since the epoch): 20 ns busy, not 25.
        let (sum, spans) = stage_child_times("10 10 10:20\n15 15 15:30\nnot a line\n");
        assert_eq!(sum, 25);
        let busy: u128 = crate::run::process::merge_spans(spans)
            .iter()
            .map(|(s, e)| e - s)
            .sum();
        assert_eq!(busy, 20);
    }

    #[test]
    fn targets_point_at_the_local_services_and_webhooks_go() {
        let t = RewriteTargets {
            clone: PathBuf::new(),
            registries: ["127.0.0.1:1".into(), "127.0.0.1:2".into()],
            index_url: "http://127.0.0.1:3/".into(),
            github_repo: "acme/app".into(),
            staging: None,
            platforms: Vec::new(),
        };
        let out = rewrite_targets(
            "[workspace.metadata.release]\nwebhooks = [\"https://hooks.example/x\"]\n\n[workspace.metadata.release.docker]\nimage = \"acme/app\"\nregistries = [\"ghcr.io\"]\nbuild-args = { A = \"1\" }\n",
            &t,
        )
        .unwrap();
        assert!(!out.contains("hooks.example"), "{out}");
        assert!(
            out.contains("registries = [\"127.0.0.1:1\", \"127.0.0.1:2\"]"),
            "{out}"
        );
        assert!(
            out.contains("index-url = \"http://127.0.0.1:3/simple/\""),
            "{out}"
        );
        assert!(
            out.contains("BASE_IMAGE = \"slipway-base:bookworm-python\""),
            "{out}"
        );
        assert!(out.contains("A = \"1\""), "{out}");
        assert!(!out.contains("staging-registry"), "{out}");
        let split = RewriteTargets {
            staging: Some("127.0.0.1:1/staging".into()),
            ..t
        };
        let out = rewrite_targets(
            "[workspace.metadata.release.docker]\nimage = \"acme/app\"\n",
            &split,
        )
        .unwrap();
        assert!(
            out.contains("staging-registry = \"127.0.0.1:1/staging\""),
            "{out}"
        );
        // `--platform`: the clone builds those, a foreign one from its own base.
        let native = crate::targets::docker::native_platform();
        let foreign = if native.ends_with("arm64") {
            "linux/amd64"
        } else {
            "linux/arm64"
        };
        let two = RewriteTargets {
            platforms: vec![native.clone(), foreign.into()],
            ..split
        };
        let out = rewrite_targets(
            "[workspace.metadata.release.docker]\nimage = \"acme/app\"\nplatforms = [\"linux/amd64\"]\n",
            &two,
        )
        .unwrap();
        assert!(
            out.contains(&format!("platforms = [\"{native}\", \"{foreign}\"]")),
            "{out}"
        );
        assert!(
            out.contains("BASE_IMAGE = \"slipway-base:bookworm-python-${TARGETARCH}\""),
            "{out}"
        );
    }
}
