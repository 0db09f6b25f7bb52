//! The quality gates' step: every gate of a stage (`[[workspace.metadata.release.gates]]`)
//! run in parallel, each under each of its interpreter versions in a venv of its own, with the
//! pinned gate tools ([`GATE_REQUIREMENTS`]: ruff, bandit, mypy) on `PATH`; each killed with
//! its children after its `timeout-s` (or when the stage's time is up), its output captured and
//! shown folded. Selection, skip checks and the verdict are pure (`core::gates`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Value as Json};

use crate::core::gates::{self, Gate, GateRun, Skipped, Skips, Stage, Verdict};
use crate::facts::config::Config;
use crate::run::plan::{
    Action, Done, Lane, Parallel, Planned, Process, RunContext, Step, Sub, Val,
};
use crate::run::process;
use crate::run::ui::{self, Style};
use crate::targets::pypi::{EnsureVenv, Venv};

/// The gate tools, every dependency pinned (`pip install --no-deps`): ruff, bandit, mypy.
pub const GATE_REQUIREMENTS: &str = "\
ast_serialize==0.13.1
bandit==1.9.4
librt==0.17.0
markdown-it-py==4.3.0
mdurl==0.1.2
mypy==2.4.1
mypy_extensions==1.2.0
pathspec==1.1.1
Pygments==2.21.0
PyYAML==6.0.4
rich==15.0.0
ruff==0.17.6
stevedore==5.10.0
typing_extensions==4.16.0
";

/// The pinned gate tools' venv (`$SLIPWAY_TOOLS_DIR` or `<work>/tools`).
pub fn tools_venv(work: &Path) -> Venv {
    Venv::new(work, "gate-tools", GATE_REQUIREMENTS)
}

/// How many lines of a failing gate's output a terminal shows (GitHub Actions folds it whole).
const TAIL: usize = 30;

/// One gate under one interpreter (or as it is).
#[derive(Debug, Clone)]
struct GateLane {
    gate: String,
    python: Option<String>,
    timeout_s: u64,
    /// Makes its venv (`python3.12 -m venv …`), then installs the gate's `requirements` into
    /// it from the package index (the gate tools' pip, `--python <venv>`).
    setup: Vec<Process>,
    command: Process,
    /// Why it cannot run here (`python3.12 not installed`).
    missing: Option<String>,
}

impl GateLane {
    fn label(&self) -> String {
        match &self.python {
            Some(v) => format!("{} (python {v})", self.gate),
            None => self.gate.clone(),
        }
    }
}

/// The gates of one stage, as one step.
#[derive(Debug)]
pub struct GatesStep {
    stage: Stage,
    gates: Vec<Gate>,
    skipped: Vec<Skipped>,
    lanes: Vec<GateLane>,
    /// What the run concluded (the report's `gates`), once it ran.
    report: Report,
}

/// Where the gates' step leaves its report: read by the command once the plan ran (also when
/// a gate stopped it).
pub type Report = std::sync::Arc<std::sync::Mutex<Option<Json>>>;

/// What the gates of a stage add to a plan: the gate tools' venv (skipped when ready) and the
/// gates' step; the gates the overrides skip. No steps when the stage has no gate to run.
pub struct GatePlan {
    pub steps: Vec<Step>,
    pub skipped: Vec<Skipped>,
    pub report: Report,
}

/// Checks `--skip-gate` names (`Err`: the usage message listing the gates).
pub fn check_skips(cfg: &Config, skips: &Skips) -> Result<(), String> {
    gates::check_skips(&cfg.gates, skips)
}

/// The steps running the gates of `stage` for the repository of `cfg`.
pub fn plan(cfg: &Config, stage: Stage, skips: &Skips) -> GatePlan {
    let work = crate::targets::publish::work_dir(cfg);
    let (run, skipped) = gates::select(&cfg.gates, stage, skips);
    if run.is_empty() {
        return GatePlan {
            steps: Vec::new(),
            skipped,
            report: Report::default(),
        };
    }
    let tools = tools_venv(&work);
    let tools_bin = tools.dir.join("bin");
    let path = std::env::var("PATH").unwrap_or_default();
    let cache = work.join("gates").join("cache");
    let mut lanes = Vec::new();
    for g in &run {
        let versions: Vec<Option<String>> = if g.python.is_empty() {
            vec![None]
        } else {
            g.python.iter().cloned().map(Some).collect()
        };
        for v in versions {
            let (bin, venv): (PathBuf, Option<PathBuf>) = match &v {
                Some(v) => {
                    let dir = work.join("gates").join(format!("{}-py{v}", g.name));
                    (dir.join("bin"), Some(dir))
                }
                None => (tools_bin.clone(), None),
            };
            let mut search = vec![bin.display().to_string()];
            if venv.is_some() {
                search.push(tools_bin.display().to_string());
            }
            if !path.is_empty() {
                search.push(path.clone());
            }
            // Gates read the tree, they do not write into it: no `__pycache__` beside the
            // sources of a release, the gate tools' caches under `target/slipway/gates/`.
            let mut command = Process::new(&g.command[0], &cfg.root)
                .args(g.command[1..].iter().cloned())
                .env("PATH", Val::Plain(search.join(":")))
                .env("PYTHONDONTWRITEBYTECODE", Val::Plain("1".into()))
                .env(
                    "RUFF_CACHE_DIR",
                    Val::Plain(cache.join("ruff").display().to_string()),
                )
                .env(
                    "MYPY_CACHE_DIR",
                    Val::Plain(cache.join("mypy").display().to_string()),
                );
            if let Some(dir) = &venv {
                command = command.env("VIRTUAL_ENV", Val::Plain(dir.display().to_string()));
            }
            let interpreter = v.as_ref().map(|v| format!("python{v}"));
            let missing = interpreter
                .as_ref()
                .filter(|i| !runs(i, &cfg.root))
                .map(|i| format!("{i} not installed"));
            let setup = match (&interpreter, &venv) {
                (Some(i), Some(dir)) if missing.is_none() => {
                    let mut setup = vec![Process::new(i, &cfg.root)
                        .args(["-m", "venv", "--clear", "--without-pip"])
                        .args([dir.display().to_string()])];
                    if !g.requirements.is_empty() {
                        setup.push(
                            Process::new(&tools.python().display().to_string(), &cfg.root)
                                .args(["-m", "pip", "--python"])
                                .args([dir.join("bin/python").display().to_string()])
                                .args([
                                    "install",
                                    "--quiet",
                                    "--no-input",
                                    "--disable-pip-version-check",
                                ])
                                .args(g.requirements.iter().cloned()),
                        );
                    }
                    setup
                }
                _ => Vec::new(),
            };
            lanes.push(GateLane {
                gate: g.name.clone(),
                python: v,
                timeout_s: g.timeout_s,
                setup,
                command,
                missing,
            });
        }
    }
    let report = Report::default();
    let step = GatesStep {
        stage,
        gates: run.into_iter().cloned().collect(),
        skipped: skipped.clone(),
        lanes,
        report: report.clone(),
    };
    GatePlan {
        steps: vec![
            Step::Action(Box::new(EnsureVenv(tools))),
            Step::Action(Box::new(step)),
        ],
        skipped,
        report,
    }
}

/// Is the interpreter `python3.12` installed here: on `PATH`, and does it start? (A version
/// manager's shim is on `PATH` for versions it does not select, and fails.) A read-only probe,
/// made by the dry run too.
fn runs(interpreter: &str, root: &Path) -> bool {
    process::installed(interpreter)
        && process::output_within(
            &Process::new(interpreter, root).args(["--version"]),
            Duration::from_secs(30),
        )
        .is_ok_and(|o| {
            // `Python 3.12.1` for `python3.12` (on stdout; Python 2 printed it on stderr).
            let version = interpreter.trim_start_matches("python");
            o.ok && format!("{}{}", o.stdout, o.stderr)
                .trim()
                .strip_prefix("Python ")
                .is_some_and(|v| v == version || v.starts_with(&format!("{version}.")))
        })
}

/// What one lane's run answered.
struct LaneResult {
    verdict: Verdict,
    output: String,
    took: Duration,
    /// The stage's time ran out while it ran.
    stage_timeout: Option<process::StageTimeout>,
}

fn run_lane(lane: &GateLane) -> LaneResult {
    let started = std::time::Instant::now();
    let done = |verdict, output: String, stage_timeout| LaneResult {
        verdict,
        output,
        took: started.elapsed(),
        stage_timeout,
    };
    if let Some(why) = &lane.missing {
        return done(Verdict::NotRun(why.clone()), String::new(), None);
    }
    let own = Duration::from_secs(lane.timeout_s);
    let stage = process::stage_deadline();
    // The tighter of the gate's own limit and what is left of the stage's.
    let limit_of = |p: &Process| -> (Duration, Option<process::StageTimeout>) {
        match &stage {
            Some(s) if s.remaining() < own => (
                s.remaining(),
                Some(process::StageTimeout {
                    running: format!("gate `{}` (`{}`)", lane.label(), ui::redact(&p.args_line())),
                    ..s.expired(p)
                }),
            ),
            _ => (own, None),
        }
    };
    let mut text = String::new();
    for (p, is_setup) in lane
        .setup
        .iter()
        .map(|p| (p, true))
        .chain([(&lane.command, false)])
    {
        let (limit, by_stage) = limit_of(p);
        match process::bounded_group(p, limit) {
            Err(e) => {
                text.push_str(&format!("{e:#}\n"));
                return done(Verdict::Failed("could not start".into()), text, None);
            }
            Ok(process::Bounded::Expired(out)) => {
                text.push_str(&out.stdout);
                text.push_str(&out.stderr);
                return match by_stage {
                    Some(t) => done(Verdict::TimedOut(limit.as_secs()), text, Some(t)),
                    None => done(Verdict::TimedOut(lane.timeout_s), text, None),
                };
            }
            Ok(process::Bounded::Done(out)) => {
                text.push_str(&out.stdout);
                text.push_str(&out.stderr);
                if !out.ok {
                    let how = if is_setup {
                        format!(
                            "making its venv (`{}`) exited with {}",
                            ui::redact(&p.args_line()),
                            out.status()
                        )
                    } else {
                        format!("exited with {}", out.status())
                    };
                    return done(Verdict::Failed(how), text, None);
                }
            }
        }
    }
    done(Verdict::Passed, text, None)
}

impl Action for GatesStep {
    fn header(&self) -> String {
        let names: Vec<&str> = self.gates.iter().map(|g| g.name.as_str()).collect();
        format!(
            "quality gates ({}): {}, in parallel",
            self.stage.name(),
            names.join(", ")
        )
    }
    fn detail(&self) -> Option<String> {
        let mut d = "a failing blocking gate stops here, before anything is written or \
                     published; an advisory one warns"
            .to_string();
        if let Some(line) = gates::skipped_line(&self.skipped) {
            d.push_str(&format!("\n{line}"));
        }
        Some(d)
    }
    fn planned(&self) -> Planned {
        let lanes = self
            .lanes
            .iter()
            .map(|l| {
                let mut label = format!(
                    "{} (timeout {} s, {})",
                    l.label(),
                    l.timeout_s,
                    if self.blocking(&l.gate) {
                        "blocking"
                    } else {
                        "advisory"
                    }
                );
                let mut subs = Vec::new();
                match &l.missing {
                    Some(why) => label.push_str(&format!(": not run ({why})")),
                    None => {
                        subs.extend(l.setup.iter().cloned().map(Sub::run));
                        subs.push(Sub::run(l.command.clone()));
                    }
                }
                Lane {
                    label,
                    subs,
                    finally: Vec::new(),
                    summary: String::new(),
                }
            })
            .collect();
        Planned::apply(vec![Sub::Parallel(Parallel {
            what: "gates".into(),
            lanes,
        })])
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let results: Vec<LaneResult> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .lanes
                .iter()
                .map(|l| s.spawn(move || run_lane(l)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| LaneResult {
                        verdict: Verdict::Failed(
                            "internal error: the gate's thread panicked".into(),
                        ),
                        output: String::new(),
                        took: Duration::ZERO,
                        stage_timeout: None,
                    })
                })
                .collect()
        });
        let runs: Vec<GateRun> = self
            .lanes
            .iter()
            .zip(&results)
            .map(|(l, r)| GateRun {
                gate: l.gate.clone(),
                python: l.python.clone(),
                verdict: r.verdict.clone(),
            })
            .collect();
        // Every gate's output, folded (GitHub Actions), or for a terminal the tail of a failing
        // one's.
        let mut failing_output = Vec::new();
        for ((lane, r), run) in self.lanes.iter().zip(&results).zip(&runs) {
            let title = format!(
                "gate {}: {} ({})",
                lane.label(),
                run.verdict.describe(),
                ui::human_duration(r.took)
            );
            let failed = matches!(run.verdict, Verdict::Failed(_) | Verdict::TimedOut(_));
            if cx.ui.gha {
                cx.ui.fold(&title, r.output.trim_end());
            } else {
                let mark = match run.verdict {
                    Verdict::Passed => cx.ui.paint(Style::Green, "✓"),
                    Verdict::NotRun(_) => cx.ui.paint(Style::Yellow, "-"),
                    _ => cx.ui.paint(Style::Red, "✗"),
                };
                cx.ui.detail(&format!("{mark} {title}"));
                if failed {
                    cx.ui.detail(&indent(&tail(&r.output, TAIL)));
                }
            }
            if failed && self.blocking(&lane.gate) {
                failing_output.push(format!(
                    "{} output (last lines):\n{}",
                    lane.label(),
                    indent(&tail(&r.output, TAIL))
                ));
            }
        }
        let chosen: Vec<&Gate> = self.gates.iter().collect();
        let summary = gates::aggregate(&chosen, &runs);
        for w in &summary.warnings {
            cx.ui.warn(w);
        }
        let report = json!({
            "stage": self.stage.name(),
            "gates": summary.gates.iter().map(|g| json!({
                "name": g.gate, "blocking": g.blocking, "status": g.status, "why": g.why,
            })).collect::<Vec<_>>(),
            "runs": self.lanes.iter().zip(&results).zip(&runs).map(|((l, r), run)| json!({
                "gate": l.gate, "python": l.python, "status": run.verdict.word(),
                "detail": run.verdict.describe(), "duration_ms": r.took.as_millis() as u64,
            })).collect::<Vec<_>>(),
        });
        *self.report.lock().unwrap_or_else(|e| e.into_inner()) = Some(report);
        if let Some(t) = results.iter().find_map(|r| r.stage_timeout.clone()) {
            return Err(t.into());
        }
        if !summary.passed() {
            anyhow::bail!(
                "{}\n{}\nnothing was written or published; fix the gate, or (emergency only) \
                 --skip-gate <name>",
                summary.blocking.join("\n"),
                ui::redact(&failing_output.join("\n"))
            );
        }
        Ok(Done::Ran(
            summary
                .gates
                .iter()
                .map(|g| format!("gate {}: {}", g.gate, g.status))
                .collect::<Vec<_>>()
                .join("\n"),
        ))
    }
    fn json(&self) -> Json {
        json!({
            "stage": self.stage.name(),
            "gates": self.gates.iter().map(|g| json!({
                "name": g.name, "command": g.command, "blocking": g.blocking,
                "timeout_s": g.timeout_s, "python": g.python,
            })).collect::<Vec<_>>(),
            "not_run": self.lanes.iter().filter_map(|l| l.missing.as_ref().map(|m| json!({
                "gate": l.gate, "python": l.python, "why": m,
            }))).collect::<Vec<_>>(),
            "skipped": skipped_json(&self.skipped),
        })
    }
}

impl GatesStep {
    fn blocking(&self, gate: &str) -> bool {
        self.gates.iter().any(|g| g.name == gate && g.blocking)
    }
}

/// `[{"name": "tests", "flag": "--skip-gate"}]`.
pub fn skipped_json(skipped: &[Skipped]) -> Json {
    Json::Array(
        skipped
            .iter()
            .map(|s| json!({"name": s.name, "flag": s.flag}))
            .collect(),
    )
}

/// The loud line for skipped gates: who skipped what.
pub fn skip_warning(command: &str, skipped: &[Skipped]) -> Option<String> {
    let line = gates::skipped_line(skipped)?;
    let who = std::env::var("GITHUB_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "someone".into());
    Some(format!(
        "{command}: quality gates SKIPPED by {who} — {} — emergency use only; recorded in the report and the release notes",
        line.trim_start_matches("Released with ")
    ))
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let shown = lines[lines.len().saturating_sub(n)..].join("\n");
    if shown.is_empty() {
        "(no output)".into()
    } else {
        ui::redact(&shown)
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
