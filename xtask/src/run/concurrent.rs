//! Steps that do not depend on each other, run at the same time: one lane per chain of steps
//! (the Python dists and an image that does not install them). Each lane runs its steps in
//! order in its own thread with its own context (values recorded by earlier steps are visible;
//! what a lane records is merged back once every lane ended); a failing lane does not stop the
//! others, and the step fails afterwards naming it. The step's result lists each lane's start
//! offset and time, so the report and the ledger show the overlap.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use crate::core::lanes::LaneTime;
use crate::run::plan::{Action, Done, Lane, Parallel, Planned, RunContext, Step, Sub};
use crate::run::ui;

/// Lanes of steps run at once (see the module).
#[derive(Debug)]
pub struct Concurrently {
    /// What the lanes make, for the header (`the Python dists and the image`).
    pub what: String,
    /// (label, its steps in order). No file edits: they are undone in plan order.
    pub lanes: Vec<(String, Vec<Step>)>,
}

/// How one lane went: its steps' (header, offset from the start, time, result).
type LaneRun = Vec<(
    String,
    Duration,
    Duration,
    std::result::Result<Done, String>,
)>;

impl Concurrently {
    fn subs_of(step: &Step) -> Vec<Sub> {
        match step {
            Step::Run(p) => vec![Sub::run(p.clone())],
            Step::Action(a) => {
                let planned = a.planned();
                planned.observe.into_iter().chain(planned.apply).collect()
            }
            Step::Edit(_) => Vec::new(),
        }
    }
}

/// The step's summary: per lane, when it started and how long it took; the overlap
/// (`core::lanes`, which the ledger reads back).
pub fn summary(lanes: &[(String, Duration, Duration)], wall: Duration) -> String {
    let times: Vec<LaneTime> = lanes
        .iter()
        .map(|(label, from, took)| LaneTime {
            label: label.clone(),
            start_ms: from.as_millis() as u64,
            duration_ms: took.as_millis() as u64,
        })
        .collect();
    crate::core::lanes::render(&times, wall.as_millis() as u64)
}

impl Action for Concurrently {
    fn header(&self) -> String {
        format!(
            "{}, at the same time: {}",
            self.what,
            self.lanes
                .iter()
                .map(|(l, steps)| format!("{l} ({} step(s))", steps.len()))
                .collect::<Vec<_>>()
                .join(" ‖ ")
        )
    }
    fn detail(&self) -> Option<String> {
        let mut lines = vec!["independent: a failing lane does not stop the other".to_string()];
        for (label, steps) in &self.lanes {
            for s in steps {
                lines.push(format!("[{label}] {}", s.header(std::path::Path::new("/"))));
            }
        }
        Some(lines.join("\n"))
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![Sub::Parallel(Parallel {
            what: self.what.clone(),
            lanes: self
                .lanes
                .iter()
                .map(|(label, steps)| Lane {
                    label: label.clone(),
                    subs: steps.iter().flat_map(Concurrently::subs_of).collect(),
                    finally: Vec::new(),
                    summary: String::new(),
                })
                .collect(),
        })])
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let started = Instant::now();
        let values = cx.values.clone();
        let root = cx.root;
        // One output per lane, made here (a `Ui` is not shared across threads).
        let uis: Vec<crate::run::ui::Ui> = self.lanes.iter().map(|_| cx.ui.for_lane()).collect();
        let results: Vec<(LaneRun, std::collections::BTreeMap<String, String>)> =
            std::thread::scope(|scope| {
                let handles: Vec<_> = self
                    .lanes
                    .iter()
                    .zip(uis)
                    .map(|((label, steps), ui)| {
                        let values = values.clone();
                        scope.spawn(move || {
                            let mut lcx = RunContext {
                                ui: &ui,
                                root,
                                values,
                            };
                            let mut run: LaneRun = Vec::new();
                            for step in steps {
                                let header = step.header(root);
                                ui.line(&format!("[{label}] {header}"));
                                let t = Instant::now();
                                let result = match step {
                                    Step::Run(p) => crate::run::exec::run_step_process(p)
                                        .map(|()| Done::Ran(String::new())),
                                    Step::Action(a) => a.execute(&mut lcx),
                                    Step::Edit(_) => {
                                        Err(anyhow!("a file edit cannot run beside other steps"))
                                    }
                                };
                                let took = t.elapsed();
                                let failed = result.is_err();
                                let mark = match &result {
                                    Ok(Done::Skipped(why)) => format!("= skipped: {why}"),
                                    Ok(Done::Ran(_)) => "✓".to_string(),
                                    Err(e) => format!("✗ {}", ui::redact(&format!("{e:#}"))),
                                };
                                ui.line(&format!(
                                    "[{label}] {mark} {header} ({})",
                                    ui::human_duration(took)
                                ));
                                if let Ok(Done::Ran(what)) = &result {
                                    for l in what.lines().filter(|l| !l.trim().is_empty()) {
                                        ui.line(&format!("[{label}]     {}", ui::redact(l)));
                                    }
                                }
                                run.push((
                                    header,
                                    t.saturating_duration_since(started),
                                    took,
                                    result.map_err(|e| ui::redact(&format!("{e:#}"))),
                                ));
                                if failed {
                                    break;
                                }
                            }
                            (run, lcx.values)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            (
                                vec![(
                                    "a lane".into(),
                                    Duration::ZERO,
                                    Duration::ZERO,
                                    Err("internal error: a lane panicked".into()),
                                )],
                                Default::default(),
                            )
                        })
                    })
                    .collect()
            });
        let wall = started.elapsed();
        let mut failures = Vec::new();
        let mut times = Vec::new();
        for ((label, _), (run, values)) in self.lanes.iter().zip(results) {
            let from = run.first().map(|r| r.1).unwrap_or_default();
            let took = run.iter().map(|r| r.2).sum();
            times.push((label.clone(), from, took));
            for (header, _, _, result) in &run {
                if let Err(e) = result {
                    failures.push(format!("{label}: {header}: {e}"));
                }
            }
            cx.values.extend(values);
        }
        let said = summary(&times, wall);
        if !failures.is_empty() {
            return Err(anyhow!("{}\n{said}", failures.join("\n")));
        }
        Ok(Done::Ran(said))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::plan::{Plan, Process};
    use std::path::Path;

    fn sleep(secs: &str) -> Step {
        Step::Run(Process::new("sleep", Path::new("/")).args([secs]))
    }

    #[test]
    fn lanes_run_at_the_same_time_and_a_failure_waits_for_the_other_lane() {
        let root = Path::new("/");
        let ui = crate::run::ui::Ui::captured();
        let mut plan = Plan::default();
        plan.push(Step::Action(Box::new(Concurrently {
            what: "two sleeps".into(),
            lanes: vec![
                ("a".into(), vec![sleep("0.4")]),
                ("b".into(), vec![sleep("0.2"), sleep("0.2")]),
            ],
        })));
        let t = Instant::now();
        let out = crate::run::exec::execute(&plan, &ui, root).unwrap();
        let wall = t.elapsed();
        assert!(wall < Duration::from_millis(750), "{wall:?}");
        let Done::Ran(said) = &out.done[0] else {
            panic!("{:?}", out.done)
        };
        assert!(
            said.contains("a: ") && said.contains("b: ") && said.contains("overlap"),
            "{said}"
        );

        let mut plan = Plan::default();
        plan.push(Step::Action(Box::new(Concurrently {
            what: "one fails".into(),
            lanes: vec![
                (
                    "bad".into(),
                    vec![Step::Run(Process::new("false", root)), sleep("9")],
                ),
                ("good".into(), vec![sleep("0.3")]),
            ],
        })));
        let t = Instant::now();
        let err = crate::run::exec::execute(&plan, &ui, root).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("bad: run false"), "{text}");
        assert!(!text.contains("good:  "), "{text}");
        // The failing lane stopped at its failure (no 9 s sleep); the other lane ran to its end.
        assert!(t.elapsed() >= Duration::from_millis(300) && t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn the_summary_names_each_lane_and_the_overlap() {
        let s = summary(
            &[
                (
                    "python dists".into(),
                    Duration::ZERO,
                    Duration::from_millis(3000),
                ),
                (
                    "docker image".into(),
                    Duration::from_millis(2),
                    Duration::from_millis(5000),
                ),
            ],
            Duration::from_millis(5002),
        );
        assert_eq!(
            s,
            "python dists: 3.0 s from +0 ms (3000 ms)\ndocker image: 5.0 s from +2 ms (5000 ms)\nall in 5.0 s, the sum of the lanes 8.0 s (overlap 3.0 s)"
        );
    }
}
