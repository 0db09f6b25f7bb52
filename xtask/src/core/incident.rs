//! Incident reports (pure): what a failed release command did, step by step, what it had
//! published and where, what a re-run will do, and the rollback command when something bad may
//! be live. Rendered as Markdown (for people, attached to the GitHub release) and JSON (schema
//! `slipway.incident/1`); the caller masks secrets and writes the files.

use serde_json::{json, Value as Json};

/// How one planned step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Done,
    /// Nothing to do: the real state already was what the step makes it.
    Skipped,
    Failed,
    /// The run stopped before it.
    NotRun,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::NotRun => "not run",
        }
    }
}

/// One planned step of the failed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based, in plan order (steps of several plans are numbered on).
    pub number: usize,
    /// `preflight`, `build`, `test`, `publish`, `verify`, `deploy`; empty for a command whose
    /// plan has no stages.
    pub stage: String,
    pub header: String,
    pub status: Status,
    /// What it did, the evidence it skipped on, or its error.
    pub detail: String,
    /// When it started, from the first step's start (0 for a step not run).
    pub start_ms: u64,
    pub duration_ms: u64,
}

/// A failed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub command: String,
    pub package: String,
    pub version: String,
    pub tag: String,
    /// When the run's first step started (Unix seconds, UTC).
    pub started: i64,
    pub duration_ms: u64,
    pub steps: Vec<Step>,
    /// The command's error as it reported it.
    pub error: String,
    /// The CI run (GitHub Actions: `…/actions/runs/<id>`).
    pub run_url: Option<String>,
}

/// What a re-run will do and whether to roll back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// Steps a re-run's observe part will find done (and skip).
    pub skipped: Vec<String>,
    /// Steps a re-run will run: the failed one and those after it.
    pub runs: Vec<String>,
    /// `cargo xtask rollback <version>` and why, when something bad may be live.
    pub rollback: Option<(String, String)>,
}

/// Stages whose done steps changed the world outside this machine.
fn publishes(stage: &str) -> bool {
    matches!(stage, "publish" | "deploy" | "")
}

impl Incident {
    pub fn failing(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.status == Status::Failed)
    }

    /// Steps that published in this run (done in a publishing stage, or any done step of a
    /// command without stages: every step of `promote` or `rollback` writes somewhere).
    pub fn published(&self) -> Vec<&Step> {
        self.steps
            .iter()
            .filter(|s| s.status == Status::Done && publishes(&s.stage))
            .collect()
    }

    /// Publishing steps that found their artifact already published (an earlier run's).
    pub fn already_there(&self) -> Vec<&Step> {
        self.steps
            .iter()
            .filter(|s| s.status == Status::Skipped && publishes(&s.stage) && !s.stage.is_empty())
            .collect()
    }

    pub fn advice(&self) -> Advice {
        let mut skipped = Vec::new();
        let mut runs = Vec::new();
        for s in &self.steps {
            match s.status {
                Status::Done | Status::Skipped => skipped.push(s.header.clone()),
                Status::Failed | Status::NotRun => runs.push(s.header.clone()),
            }
        }
        let live = !self.published().is_empty() || !self.already_there().is_empty();
        let stage = self.failing().map(|s| s.stage.as_str()).unwrap_or("");
        let rollback = match self.command.as_str() {
            "publish-prod" | "promote" | "release-pr" if live && !self.version.is_empty() => {
                let cmd = format!("cargo xtask rollback {}", self.version);
                match stage {
                    "verify" => Some((
                        cmd,
                        "what was published did not verify: the moving tags and the GitHub \
                         release may point at a bad release"
                            .to_string(),
                    )),
                    "deploy" => Some((
                        cmd,
                        "everything is published but the deploy failed: roll back if the release \
                         itself is the cause"
                            .to_string(),
                    )),
                    _ => Some((
                        cmd,
                        "part of the release is live: a re-run completes it; roll back instead if \
                         it must not stay"
                            .to_string(),
                    )),
                }
            }
            _ => None,
        };
        Advice {
            skipped,
            runs,
            rollback,
        }
    }
}

/// `incident-<tag>-<YYYYMMDDTHHMMSSZ>` (the tag, or the command when there is none).
pub fn file_stem(incident: &Incident) -> String {
    let what = if incident.tag.is_empty() {
        incident.command.as_str()
    } else {
        incident.tag.as_str()
    };
    let safe: String = what
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp: String = crate::date::rfc3339(incident.started)
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("incident-{safe}-{stamp}")
}

/// `1.5 s`, `320 ms`, `2m05s`.
pub fn secs(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60)
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// The report for people.
pub fn markdown(i: &Incident) -> String {
    let what = [i.command.as_str(), i.package.as_str(), i.tag.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let mut md = format!("# Incident: {what} failed\n\n");
    md.push_str(&format!(
        "- started: {}\n- duration: {}\n",
        crate::date::rfc3339(i.started),
        secs(i.duration_ms)
    ));
    if !i.version.is_empty() {
        md.push_str(&format!("- version: {}\n", i.version));
    }
    if let Some(url) = &i.run_url {
        md.push_str(&format!("- run: {url}\n"));
    }
    md.push_str("\n## What failed\n\n");
    match i.failing() {
        Some(s) => md.push_str(&format!(
            "Step {} ({}) failed after {}: `{}`\n\n```\n{}\n```\n\n",
            s.number,
            if s.stage.is_empty() { "-" } else { &s.stage },
            secs(s.duration_ms),
            s.header.replace('`', "'"),
            s.detail.trim()
        )),
        None => md.push_str("No step failed; the command itself did:\n\n"),
    }
    if i.failing()
        .is_none_or(|s| !i.error.contains(s.detail.trim()))
    {
        md.push_str(&format!("```\n{}\n```\n\n", i.error.trim()));
    }
    md.push_str("## Published\n\n");
    let published = i.published();
    let there = i.already_there();
    if published.is_empty() && there.is_empty() {
        md.push_str("Nothing was published.\n\n");
    }
    for s in &published {
        md.push_str(&format!("- {}", s.header));
        let d = s.detail.trim();
        if !d.is_empty() {
            md.push_str(&format!(": {}", d.replace('\n', "; ")));
        }
        md.push('\n');
    }
    for s in &there {
        md.push_str(&format!(
            "- already there: {} ({})\n",
            s.header,
            first_line(&s.detail)
        ));
    }
    if !published.is_empty() || !there.is_empty() {
        md.push('\n');
    }
    let advice = i.advice();
    md.push_str("## A re-run\n\n");
    md.push_str(&format!(
        "`cargo xtask {}` again reads the real state first: ",
        i.command
    ));
    if advice.skipped.is_empty() {
        md.push_str("nothing was done yet, it runs every step.\n\n");
    } else {
        md.push_str(&format!(
            "it finds {} step(s) done and skips them, and runs {}:\n\n",
            advice.skipped.len(),
            advice.runs.len()
        ));
        for r in &advice.runs {
            md.push_str(&format!("- {r}\n"));
        }
        md.push('\n');
    }
    if let Some((cmd, why)) = &advice.rollback {
        let mut why = why.clone();
        if let Some(first) = why.get(..1) {
            let up = first.to_uppercase();
            why.replace_range(..1, &up);
        }
        md.push_str(&format!("## Roll back\n\n{why}:\n\n```\n{cmd}\n```\n\n"));
    }
    md.push_str("## Timeline\n\n| # | stage | step | status | start | took | detail |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for s in &i.steps {
        let (start, took) = if s.status == Status::NotRun {
            ("-".to_string(), "-".to_string())
        } else {
            (format!("+{}", secs(s.start_ms)), secs(s.duration_ms))
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {start} | {took} | {} |\n",
            s.number,
            if s.stage.is_empty() { "-" } else { &s.stage },
            cell(&s.header),
            s.status.word(),
            cell(first_line(&s.detail))
        ));
    }
    md
}

/// The report as data (schema `slipway.incident/1`).
pub fn to_json(i: &Incident) -> Json {
    let advice = i.advice();
    let step = |s: &Step| {
        json!({
            "number": s.number, "stage": s.stage, "step": s.header, "status": s.status.word(),
            "detail": s.detail, "start_ms": s.start_ms, "duration_ms": s.duration_ms,
        })
    };
    json!({
        "schema": "slipway.incident/1",
        "command": i.command,
        "package": i.package,
        "version": i.version,
        "tag": i.tag,
        "started": crate::date::rfc3339(i.started),
        "duration_ms": i.duration_ms,
        "run_url": i.run_url,
        "error": i.error,
        "failed_step": i.failing().map(step),
        "published": i.published().into_iter().map(step).collect::<Vec<_>>(),
        "already_there": i.already_there().into_iter().map(step).collect::<Vec<_>>(),
        "rerun": {"skips": advice.skipped, "runs": advice.runs},
        "rollback": advice.rollback.as_ref().map(|(cmd, why)| json!({"command": cmd, "why": why})),
        "steps": i.steps.iter().map(step).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(n: usize, stage: &str, header: &str, status: Status, detail: &str) -> Step {
        Step {
            number: n,
            stage: stage.into(),
            header: header.into(),
            status,
            detail: detail.into(),
            start_ms: 100 * n as u64,
            duration_ms: 50,
        }
    }

    fn incident(steps: Vec<Step>) -> Incident {
        Incident {
            command: "publish-prod".into(),
            package: "acme-app".into(),
            version: "1.3.0".into(),
            tag: "v1.3.0".into(),
            started: 1_796_205_600,
            duration_ms: 4200,
            steps,
            error: "step 3/4 failed: upload".into(),
            run_url: None,
        }
    }

    #[test]
    fn file_names_carry_the_tag_and_the_utc_time() {
        let i = incident(Vec::new());
        assert_eq!(file_stem(&i), "incident-v1.3.0-20261202T100000Z");
        let j = Incident {
            tag: String::new(),
            command: "release-pr".into(),
            ..i
        };
        assert_eq!(file_stem(&j), "incident-release-pr-20261202T100000Z");
    }

    #[test]
    fn advice_by_where_it_failed() {
        use Status::*;
        // (steps, the re-run's runs, the rollback command)
        let table: Vec<(Vec<Step>, Vec<&str>, Option<&str>)> = vec![
            // Refused in preflight: nothing published, no rollback, every step runs again.
            (
                vec![
                    step(
                        1,
                        "preflight",
                        "check credentials",
                        Failed,
                        "wrong password",
                    ),
                    step(2, "publish", "push", NotRun, ""),
                ],
                vec!["check credentials", "push"],
                None,
            ),
            // Images pushed, upload failed: part is live.
            (
                vec![
                    step(1, "build", "build", Done, ""),
                    step(2, "publish", "push", Done, "sha256:aa"),
                    step(3, "publish", "upload", Failed, "refused"),
                    step(4, "verify", "verify", NotRun, ""),
                ],
                vec!["upload", "verify"],
                Some("cargo xtask rollback 1.3.0"),
            ),
            // Everything already there from an earlier run, verify failed.
            (
                vec![
                    step(1, "publish", "push", Skipped, "already there"),
                    step(2, "verify", "verify", Failed, "digest differs"),
                ],
                vec!["verify"],
                Some("cargo xtask rollback 1.3.0"),
            ),
            // A build failed: nothing live.
            (
                vec![
                    step(1, "build", "build", Failed, "exit 1"),
                    step(2, "publish", "push", NotRun, ""),
                ],
                vec!["build", "push"],
                None,
            ),
        ];
        for (steps, runs, rollback) in table {
            let a = incident(steps).advice();
            assert_eq!(a.runs, runs);
            assert_eq!(a.rollback.as_ref().map(|r| r.0.as_str()), rollback);
        }
        // A failed rollback is re-run, not rolled back.
        let mut i = incident(vec![step(1, "", "move latest", Done, "")]);
        i.command = "rollback".into();
        assert_eq!(i.advice().rollback, None);
        assert_eq!(i.published().len(), 1);
    }

    #[test]
    fn the_report_names_the_step_what_was_published_and_the_rerun() {
        use Status::*;
        let i = incident(vec![
            step(1, "preflight", "check credentials", Done, "3 checks passed"),
            step(
                2,
                "publish",
                "push image to 127.0.0.1:5000/acme/app",
                Done,
                "pushed sha256:aa\nmoved latest",
            ),
            step(
                3,
                "publish",
                "upload to http://127.0.0.1:1/ what http://127.0.0.1:1/simple lacks",
                Failed,
                "the package index is unreachable",
            ),
            step(4, "verify", "verify | image", NotRun, ""),
        ]);
        let md = markdown(&i);
        for want in [
            "# Incident: publish-prod acme-app v1.3.0 failed",
            "- started: 2026-12-02T10:00:00Z",
            "Step 3 (publish) failed after 50 ms: `upload to http://127.0.0.1:1/",
            "the package index is unreachable",
            "- push image to 127.0.0.1:5000/acme/app: pushed sha256:aa; moved latest",
            "it finds 2 step(s) done and skips them, and runs 2:",
            "## Roll back\n\nPart of the release is live: a re-run completes it;",
            "cargo xtask rollback 1.3.0",
            "| 2 | publish | push image to 127.0.0.1:5000/acme/app | done | +200 ms | 50 ms | pushed sha256:aa |",
            "| 4 | verify | verify \\| image | not run | - | - |  |",
        ] {
            assert!(md.contains(want), "{want:?} in\n{md}");
        }
        let j = to_json(&i);
        assert_eq!(j["schema"], "slipway.incident/1");
        assert_eq!(j["failed_step"]["number"], 3);
        assert_eq!(
            j["published"][0]["step"],
            "push image to 127.0.0.1:5000/acme/app"
        );
        assert_eq!(j["rerun"]["runs"][1], "verify | image");
        assert_eq!(j["rollback"]["command"], "cargo xtask rollback 1.3.0");
        assert_eq!(j["steps"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn durations_read_well() {
        for (ms, want) in [
            (0, "0 ms"),
            (999, "999 ms"),
            (1500, "1.5 s"),
            (125_000, "2m05s"),
        ] {
            assert_eq!(secs(ms), want);
        }
    }
}
