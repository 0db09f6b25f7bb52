//! The step record of a command: every plan the executor ran (each step's header and stage)
//! and how each executed step ended, with its start offset and duration. Off until a command
//! that writes incident reports turns it on ([`enable`]); read once the command ends
//! ([`take`]). Per thread: a command runs its plans on its main thread (parallel lanes are
//! inside one step), and tests running plans side by side do not mix.

use std::cell::RefCell;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::core::incident::{Status, Step};

#[derive(Debug)]
struct Log {
    /// When the first step started: the wall clock (Unix seconds) and the monotonic one.
    first: Option<(i64, Instant)>,
    steps: Vec<Step>,
    /// Where the current plan's steps start in `steps`.
    base: usize,
}

thread_local! {
    static LOG: RefCell<Option<Log>> = const { RefCell::new(None) };
}

fn with(f: impl FnOnce(&mut Log)) {
    LOG.with(|l| {
        if let Some(log) = l.borrow_mut().as_mut() {
            f(log);
        }
    });
}

/// Records from now on (what was recorded before is dropped).
pub fn enable() {
    LOG.with(|l| {
        *l.borrow_mut() = Some(Log {
            first: None,
            steps: Vec::new(),
            base: 0,
        })
    });
}

/// A plan starts: its steps, all `not run` until they end.
pub fn plan(headers: Vec<String>, stages: &[String]) {
    with(|log| {
        log.base = log.steps.len();
        for (i, header) in headers.into_iter().enumerate() {
            log.steps.push(Step {
                number: log.base + i + 1,
                stage: stages.get(i).cloned().unwrap_or_default(),
                header,
                status: Status::NotRun,
                detail: String::new(),
                start_ms: 0,
                duration_ms: 0,
            });
        }
    });
}

/// Step `index` of the current plan ended (`started` is when it began).
pub fn step(index: usize, started: Instant, status: Status, detail: String) {
    with(|log| {
        let (_, t0) = *log.first.get_or_insert_with(|| {
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
                - started.elapsed().as_secs() as i64;
            (wall, started)
        });
        if let Some(s) = log.steps.get_mut(log.base + index) {
            s.status = status;
            s.detail = crate::run::ui::redact(&detail);
            s.start_ms = started.saturating_duration_since(t0).as_millis() as u64;
            s.duration_ms = started.elapsed().as_millis() as u64;
        }
    });
}

/// What was recorded: when the first step started (Unix seconds; None when none ran), the
/// steps, and the time since then in ms. Recording stops.
pub fn take() -> Option<(Option<i64>, Vec<Step>, u64)> {
    let log = LOG.with(|l| l.borrow_mut().take())?;
    let took = log
        .first
        .map(|(_, t0)| t0.elapsed().as_millis() as u64)
        .unwrap_or(0);
    Some((log.first.map(|(w, _)| w), log.steps, took))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::plan::{Plan, Process, Step};
    use crate::run::ui::Ui;

    #[test]
    fn every_planned_step_is_recorded_with_its_status_and_start() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut plan = Plan::default();
        plan.push(Step::Run(Process::new("true", root)));
        plan.push(Step::Run(Process::new("sleep", root).args(["0.05"])));
        plan.push(Step::Run(Process::new("false", root)));
        plan.push(Step::Run(Process::new("true", root).args(["never"])));
        assert!(take().is_none(), "off by default");
        enable();
        let stages = crate::run::exec::Stages {
            of_step: vec!["build".into(), "build".into(), "publish".into()],
            limits: Default::default(),
        };
        let _ =
            crate::run::exec::execute_staged(&plan, &Ui::captured(), root, &stages, &mut |_| {});
        let (started, steps, took) = take().unwrap();
        assert!(started.is_some());
        let got: Vec<(usize, &str, Status)> = steps
            .iter()
            .map(|s| (s.number, s.stage.as_str(), s.status))
            .collect();
        assert_eq!(
            got,
            [
                (1, "build", Status::Done),
                (2, "build", Status::Done),
                (3, "publish", Status::Failed),
                (4, "", Status::NotRun),
            ]
        );
        assert!(steps[2].start_ms >= 50, "{steps:?}");
        assert!(steps[1].duration_ms >= 50, "{steps:?}");
        assert!(steps[2].detail.contains("false"), "{steps:?}");
        assert!(took >= steps[2].start_ms);
        assert!(take().is_none(), "taken once");
    }
}
