//! Quality gates, the pure part: which gates a stage runs (after `--skip-gate` / `--skip-gates`),
//! whether the skips name real gates, and the verdict of a stage from what each gate run
//! answered. The runs themselves are `targets::gates`.

/// When a gate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before `bump-version` / `release` write anything (after their preflight checks).
    PreRelease,
    /// Before `publish-prod` publishes anything (after the build stage).
    PrePublish,
}

impl Stage {
    pub fn parse(s: &str) -> Option<Stage> {
        match s {
            "pre-release" => Some(Stage::PreRelease),
            "pre-publish" => Some(Stage::PrePublish),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Stage::PreRelease => "pre-release",
            Stage::PrePublish => "pre-publish",
        }
    }
}

/// One `[[workspace.metadata.release.gates]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub name: String,
    /// Program and arguments (never a shell).
    pub command: Vec<String>,
    pub stage: Stage,
    /// `timeout-s` (default 600): the gate (and its children) is killed after this long.
    pub timeout_s: u64,
    /// `blocking` (default true): a failure stops the command; else it is a warning.
    pub blocking: bool,
    /// `python`: interpreter versions to run it under, each in its own venv (empty: once, as
    /// it is).
    pub python: Vec<String>,
    /// `requirements` (with `python` only): pinned requirements (`name==version`) installed
    /// from the package index into each version's venv before the gate runs.
    pub requirements: Vec<String>,
}

/// The default of `timeout-s`.
pub const DEFAULT_TIMEOUT_S: u64 = 600;

/// The emergency overrides of one command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skips {
    /// `--skip-gates`: every gate.
    pub all: bool,
    /// `--skip-gate <name>` (repeatable).
    pub names: Vec<String>,
}

impl Skips {
    pub fn is_empty(&self) -> bool {
        !self.all && self.names.is_empty()
    }
}

/// A gate that was not run because of an override, and which one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub name: String,
    /// `--skip-gate` or `--skip-gates`.
    pub flag: &'static str,
}

/// `Err` names every unknown gate in `--skip-gate` and lists the configured names.
pub fn check_skips(gates: &[Gate], skips: &Skips) -> Result<(), String> {
    let unknown: Vec<&str> = skips
        .names
        .iter()
        .filter(|n| !gates.iter().any(|g| &g.name == *n))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = gates.iter().map(|g| g.name.as_str()).collect();
    Err(format!(
        "--skip-gate {}: no such gate; the gates are: {}",
        unknown.join(", "),
        if known.is_empty() {
            "none (add [[workspace.metadata.release.gates]] to Cargo.toml)".to_string()
        } else {
            known.join(", ")
        }
    ))
}

/// The gates of `stage` to run, and those of it the overrides skip (in configuration order).
pub fn select<'a>(gates: &'a [Gate], stage: Stage, skips: &Skips) -> (Vec<&'a Gate>, Vec<Skipped>) {
    let mut run = Vec::new();
    let mut skipped = Vec::new();
    for g in gates.iter().filter(|g| g.stage == stage) {
        if skips.all {
            skipped.push(Skipped {
                name: g.name.clone(),
                flag: "--skip-gates",
            });
        } else if skips.names.contains(&g.name) {
            skipped.push(Skipped {
                name: g.name.clone(),
                flag: "--skip-gate",
            });
        } else {
            run.push(g);
        }
    }
    (run, skipped)
}

/// The line for the release notes (and the loud warning): `Released with gates skipped: tests
/// (--skip-gate)`; `None` when nothing was skipped.
pub fn skipped_line(skipped: &[Skipped]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let list: Vec<String> = skipped
        .iter()
        .map(|s| format!("{} ({})", s.name, s.flag))
        .collect();
    Some(format!("Released with gates skipped: {}", list.join(", ")))
}

/// What one run of a gate (under one interpreter, or as it is) answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// Exited non-zero (`status 3`, `a signal`).
    Failed(String),
    /// Killed after this many seconds (with its children).
    TimedOut(u64),
    /// Not started, and why (`python3.12 not installed`): never a pass.
    NotRun(String),
}

impl Verdict {
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed(_) => "failed",
            Verdict::TimedOut(_) => "timed out",
            Verdict::NotRun(_) => "not run",
        }
    }
    /// `passed`, `failed (status 1)`, `timed out after 5 s`, `not run (python3.12 not installed)`.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Passed => "passed".into(),
            Verdict::Failed(how) => format!("failed ({how})"),
            Verdict::TimedOut(s) => format!("timed out after {s} s (killed with its children)"),
            Verdict::NotRun(why) => format!("not run ({why})"),
        }
    }
}

/// One gate run: the gate, the interpreter version (if any), and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRun {
    pub gate: String,
    pub python: Option<String>,
    pub verdict: Verdict,
}

impl GateRun {
    /// `tests (python 3.12)` or `ruff`.
    pub fn label(&self) -> String {
        match &self.python {
            Some(v) => format!("{} (python {v})", self.gate),
            None => self.gate.clone(),
        }
    }
}

/// The outcome of one gate over all its runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateOutcome {
    pub gate: String,
    pub blocking: bool,
    /// `passed`, `failed`, `not run`.
    pub status: &'static str,
    /// Why it failed or was not run (empty when passed).
    pub why: Vec<String>,
}

/// What a stage's gates concluded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub gates: Vec<GateOutcome>,
    /// One line per failed blocking gate: these stop the command.
    pub blocking: Vec<String>,
    /// One line per advisory failure, and per interpreter not run: warnings.
    pub warnings: Vec<String>,
}

impl Summary {
    pub fn passed(&self) -> bool {
        self.blocking.is_empty()
    }
}

/// Aggregates the runs of `gates`: a gate fails when one of its runs failed or timed out, or when
/// none of its runs ran at all (every interpreter missing); an interpreter not installed is
/// reported as not run, never as passed. A failing blocking gate stops; an advisory one warns.
pub fn aggregate(gates: &[&Gate], runs: &[GateRun]) -> Summary {
    let mut summary = Summary::default();
    for g in gates {
        let mine: Vec<&GateRun> = runs.iter().filter(|r| r.gate == g.name).collect();
        let bad: Vec<String> = mine
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Failed(_) | Verdict::TimedOut(_)))
            .map(|r| format!("{}: {}", r.label(), r.verdict.describe()))
            .collect();
        let not_run: Vec<String> = mine
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::NotRun(_)))
            .map(|r| format!("{}: {}", r.label(), r.verdict.describe()))
            .collect();
        let ran = mine
            .iter()
            .any(|r| !matches!(r.verdict, Verdict::NotRun(_)));
        let status = if !bad.is_empty() {
            "failed"
        } else if !ran {
            "not run"
        } else {
            "passed"
        };
        let failed = !bad.is_empty() || !ran;
        let mut why = bad.clone();
        if !ran {
            why.extend(not_run.iter().cloned());
            if mine.is_empty() {
                why.push(format!("{}: not run", g.name));
            }
        }
        if failed {
            let kind = if g.blocking { "blocking" } else { "advisory" };
            let line = format!("gate `{}` ({kind}) {status}: {}", g.name, why.join("; "));
            if g.blocking {
                summary.blocking.push(line);
            } else {
                summary.warnings.push(line);
            }
        }
        if ran {
            // Some interpreter ran: those missing are said, not counted.
            summary.warnings.extend(not_run);
        }
        summary.gates.push(GateOutcome {
            gate: g.name.clone(),
            blocking: g.blocking,
            status,
            why,
        });
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(name: &str, stage: Stage, blocking: bool, python: &[&str]) -> Gate {
        Gate {
            name: name.into(),
            command: vec!["true".into()],
            stage,
            timeout_s: DEFAULT_TIMEOUT_S,
            blocking,
            python: python.iter().map(|s| s.to_string()).collect(),
            requirements: Vec::new(),
        }
    }

    fn run(gate: &str, python: Option<&str>, verdict: Verdict) -> GateRun {
        GateRun {
            gate: gate.into(),
            python: python.map(String::from),
            verdict,
        }
    }

    #[test]
    fn selection_by_stage_and_overrides() {
        let gates = [
            gate("tests", Stage::PreRelease, true, &[]),
            gate("ruff", Stage::PreRelease, true, &[]),
            gate("smoke", Stage::PrePublish, true, &[]),
        ];
        let names = |v: &[&Gate]| v.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
        // (stage, skips, the gates it runs, the gates skipped with their flag)
        type Row<'a> = (Stage, Skips, &'a [&'a str], &'a [(&'a str, &'a str)]);
        let table: [Row; 4] = [
            (Stage::PreRelease, Skips::default(), &["tests", "ruff"], &[]),
            (Stage::PrePublish, Skips::default(), &["smoke"], &[]),
            (
                Stage::PreRelease,
                Skips {
                    all: false,
                    names: vec!["tests".into(), "smoke".into()],
                },
                &["ruff"],
                &[("tests", "--skip-gate")],
            ),
            (
                Stage::PreRelease,
                Skips {
                    all: true,
                    names: Vec::new(),
                },
                &[],
                &[("tests", "--skip-gates"), ("ruff", "--skip-gates")],
            ),
        ];
        for (stage, skips, want_run, want_skipped) in table {
            let (r, s) = select(&gates, stage, &skips);
            assert_eq!(names(&r), want_run, "{stage:?} {skips:?}");
            let s: Vec<(&str, &str)> = s.iter().map(|s| (s.name.as_str(), s.flag)).collect();
            assert_eq!(s, want_skipped, "{stage:?} {skips:?}");
        }
    }

    #[test]
    fn unknown_skips_list_the_names() {
        let gates = [
            gate("tests", Stage::PreRelease, true, &[]),
            gate("ruff", Stage::PrePublish, true, &[]),
        ];
        let skips = |names: &[&str]| Skips {
            all: false,
            names: names.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(check_skips(&gates, &skips(&["tests", "ruff"])), Ok(()));
        assert_eq!(
            check_skips(&gates, &skips(&["test", "lint"])),
            Err("--skip-gate test, lint: no such gate; the gates are: tests, ruff".into())
        );
        assert!(check_skips(&[], &skips(&["x"]))
            .unwrap_err()
            .contains("none (add [[workspace.metadata.release.gates]]"));
    }

    #[test]
    fn the_skipped_line_names_gate_and_flag() {
        assert_eq!(skipped_line(&[]), None);
        assert_eq!(
            skipped_line(&[
                Skipped {
                    name: "tests".into(),
                    flag: "--skip-gate"
                },
                Skipped {
                    name: "ruff".into(),
                    flag: "--skip-gates"
                }
            ])
            .unwrap(),
            "Released with gates skipped: tests (--skip-gate), ruff (--skip-gates)"
        );
    }

    #[test]
    fn verdicts_aggregate_blocking_advisory_and_missing_interpreters() {
        use Verdict::*;
        let missing = || NotRun("python3.12 not installed".into());
        // (gate, runs, blocking lines, warning lines, status)
        let table: Vec<(Gate, Vec<GateRun>, usize, usize, &str)> = vec![
            (
                gate("t", Stage::PreRelease, true, &[]),
                vec![run("t", None, Passed)],
                0,
                0,
                "passed",
            ),
            (
                gate("t", Stage::PreRelease, true, &[]),
                vec![run("t", None, Failed("status 1".into()))],
                1,
                0,
                "failed",
            ),
            (
                gate("t", Stage::PreRelease, false, &[]),
                vec![run("t", None, Failed("status 1".into()))],
                0,
                1,
                "failed",
            ),
            (
                gate("t", Stage::PreRelease, true, &[]),
                vec![run("t", None, TimedOut(5))],
                1,
                0,
                "failed",
            ),
            // One interpreter ran and passed, one is missing: passed, with a warning.
            (
                gate("t", Stage::PreRelease, true, &["3.11", "3.12"]),
                vec![
                    run("t", Some("3.11"), Passed),
                    run("t", Some("3.12"), missing()),
                ],
                0,
                1,
                "passed",
            ),
            // No interpreter ran: a blocking gate fails, never passes.
            (
                gate("t", Stage::PreRelease, true, &["3.12"]),
                vec![run("t", Some("3.12"), missing())],
                1,
                0,
                "not run",
            ),
            // ... an advisory one warns.
            (
                gate("t", Stage::PreRelease, false, &["3.12"]),
                vec![run("t", Some("3.12"), missing())],
                0,
                1,
                "not run",
            ),
            (
                gate("t", Stage::PreRelease, true, &["3.11", "3.12"]),
                vec![
                    run("t", Some("3.11"), Failed("status 2".into())),
                    run("t", Some("3.12"), missing()),
                ],
                1,
                1,
                "failed",
            ),
        ];
        for (g, runs, blocking, warnings, status) in table {
            let s = aggregate(&[&g], &runs);
            assert_eq!(s.blocking.len(), blocking, "{runs:?}: {s:?}");
            assert_eq!(s.warnings.len(), warnings, "{runs:?}: {s:?}");
            assert_eq!(s.gates[0].status, status, "{runs:?}");
            assert_eq!(s.passed(), blocking == 0);
        }
        let g = gate("tests", Stage::PreRelease, true, &["3.12"]);
        let s = aggregate(&[&g], &[run("tests", Some("3.12"), missing())]);
        assert_eq!(
            s.blocking,
            ["gate `tests` (blocking) not run: tests (python 3.12): not run (python3.12 not installed)"]
        );
    }
}
