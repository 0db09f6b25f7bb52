//! The release ledger (pure): one record per release command run (`publish-prod`, `promote`,
//! `rollback`, `verify`), schema `slipway.ledger/1`, kept as git notes under
//! `refs/notes/slipway` on the release commit (one JSON object per line), and what `history`
//! makes of them: releases in version order, the comparison of each with the previous one
//! (per-stage deltas, the bottleneck, the step that changed most), rollback points, and the
//! text and HTML renderings.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

pub const SCHEMA: &str = "slipway.ledger/1";
/// The notes ref the records live under.
pub const NOTES_REF: &str = "refs/notes/slipway";

/// One run of a release command.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    pub version: String,
    pub tag: String,
    pub commit: String,
    /// `publish-prod`, `promote`, `rollback` or `verify`.
    pub command: String,
    /// `success` or `failure`.
    pub status: String,
    /// Unix seconds.
    pub started: u64,
    pub duration_ms: u64,
    pub stages: Vec<Stage>,
    pub gates: Vec<Gate>,
    pub artifacts: Vec<Artifact>,
    pub moves: Vec<Move>,
    /// `github-actions`, `ci` or `local`.
    pub host: String,
    /// The release notes' line (gates skipped), if any.
    pub notes: Option<String>,
    /// The error of a failed run.
    pub error: Option<String>,
    /// A rollback's good release (the tag the bad one was rolled back to).
    pub rolled_back_to: Option<String>,
    /// Unique per run: appending the same record twice is a no-op.
    pub run: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stage {
    pub name: String,
    pub status: String,
    pub duration_ms: u64,
    pub steps: Vec<StepTime>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepTime {
    pub name: String,
    pub status: String,
    pub duration_ms: u64,
    /// A step of lanes run at the same time (the builds that do not depend on each other):
    /// each lane's start and time, so the overlap shows. Empty for other steps.
    pub lanes: Vec<crate::lanes::LaneTime>,
}

/// A step's JSON: `lanes` only when it ran lanes.
fn step_json(p: &StepTime) -> Value {
    let mut v = json!({"name": p.name, "status": p.status, "duration_ms": p.duration_ms});
    if !p.lanes.is_empty() {
        v["lanes"] = json!(p
            .lanes
            .iter()
            .map(
                |l| json!({"label": l.label, "start_ms": l.start_ms, "duration_ms": l.duration_ms})
            )
            .collect::<Vec<_>>());
    }
    v
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Gate {
    pub name: String,
    /// `passed`, `failed`, `not run`, `skipped`…
    pub status: String,
    pub blocking: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Artifact {
    /// `image`, `dist`, `release`…
    pub kind: String,
    pub name: String,
    /// Where it was published (a registry, an index URL, a release URL).
    pub at: String,
    pub digest: Option<String>,
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Move {
    pub registry: String,
    pub tag: String,
    pub from: String,
    pub to: String,
    pub digest: String,
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
fn opt(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}
fn n(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}
fn list<'a>(v: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    v.get(k).and_then(Value::as_array).into_iter().flatten()
}

impl Record {
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("schema".into(), json!(SCHEMA));
        m.insert("version".into(), json!(self.version));
        m.insert("tag".into(), json!(self.tag));
        m.insert("commit".into(), json!(self.commit));
        m.insert("command".into(), json!(self.command));
        m.insert("status".into(), json!(self.status));
        m.insert("started".into(), json!(self.started));
        m.insert("duration_ms".into(), json!(self.duration_ms));
        m.insert(
            "stages".into(),
            self.stages
                .iter()
                .map(|st| {
                    json!({"name": st.name, "status": st.status, "duration_ms": st.duration_ms,
                    "steps": st.steps.iter().map(step_json).collect::<Vec<_>>()})
                })
                .collect(),
        );
        m.insert(
            "gates".into(),
            self.gates
                .iter()
                .map(|g| json!({"name": g.name, "status": g.status, "blocking": g.blocking}))
                .collect(),
        );
        m.insert(
            "artifacts".into(),
            self.artifacts
                .iter()
                .map(|a| {
                    json!({"kind": a.kind, "name": a.name, "where": a.at, "digest": a.digest, "sha256": a.sha256})
                })
                .collect(),
        );
        m.insert(
            "moves".into(),
            self.moves
                .iter()
                .map(|x| {
                    json!({"registry": x.registry, "tag": x.tag, "from": x.from, "to": x.to, "digest": x.digest})
                })
                .collect(),
        );
        m.insert("host".into(), json!(self.host));
        m.insert("notes".into(), json!(self.notes));
        m.insert("error".into(), json!(self.error));
        m.insert("rolled_back_to".into(), json!(self.rolled_back_to));
        m.insert("run".into(), json!(self.run));
        Value::Object(m)
    }

    /// One line of JSON (what a note holds per record).
    pub fn to_line(&self) -> String {
        crate::json::text(&self.to_json())
    }

    /// A record from its JSON; unknown fields are ignored. `Err` names what is wrong.
    pub fn from_json(v: &Value) -> Result<Record, String> {
        if !v.is_object() {
            return Err("not a JSON object".into());
        }
        let schema = s(v, "schema");
        if schema != SCHEMA {
            return Err(format!("schema `{schema}`, not {SCHEMA}"));
        }
        let r = Record {
            version: s(v, "version"),
            tag: s(v, "tag"),
            commit: s(v, "commit"),
            command: s(v, "command"),
            status: s(v, "status"),
            started: n(v, "started"),
            duration_ms: n(v, "duration_ms"),
            stages: list(v, "stages")
                .map(|st| Stage {
                    name: s(st, "name"),
                    status: s(st, "status"),
                    duration_ms: n(st, "duration_ms"),
                    steps: list(st, "steps")
                        .map(|p| StepTime {
                            name: s(p, "name"),
                            status: s(p, "status"),
                            duration_ms: n(p, "duration_ms"),
                            lanes: list(p, "lanes")
                                .map(|l| crate::lanes::LaneTime {
                                    label: s(l, "label"),
                                    start_ms: n(l, "start_ms"),
                                    duration_ms: n(l, "duration_ms"),
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
            gates: list(v, "gates")
                .map(|g| Gate {
                    name: s(g, "name"),
                    status: s(g, "status"),
                    blocking: g.get("blocking").and_then(Value::as_bool).unwrap_or(true),
                })
                .collect(),
            artifacts: list(v, "artifacts")
                .map(|a| Artifact {
                    kind: s(a, "kind"),
                    name: s(a, "name"),
                    at: s(a, "where"),
                    digest: opt(a, "digest"),
                    sha256: opt(a, "sha256"),
                })
                .collect(),
            moves: list(v, "moves")
                .map(|x| Move {
                    registry: s(x, "registry"),
                    tag: s(x, "tag"),
                    from: s(x, "from"),
                    to: s(x, "to"),
                    digest: s(x, "digest"),
                })
                .collect(),
            host: s(v, "host"),
            notes: opt(v, "notes"),
            error: opt(v, "error"),
            rolled_back_to: opt(v, "rolled_back_to"),
            run: s(v, "run"),
        };
        if r.tag.is_empty() || r.command.is_empty() {
            return Err("no `tag` or `command`".into());
        }
        Ok(r)
    }

    pub fn ok(&self) -> bool {
        self.status == "success"
    }

    fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// The records a notes blob holds (one JSON per line; blank lines ignored), and how many lines
/// were not records.
pub fn parse_blob(text: &str) -> (Vec<Record>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match crate::json::parse(line)
            .map_err(|e| e.to_string())
            .and_then(|v| Record::from_json(&v))
        {
            Ok(r) => out.push(r),
            Err(_) => bad += 1,
        }
    }
    (out, bad)
}

/// Does this notes text already hold the record of run `run`?
pub fn holds_run(text: &str, run: &str) -> bool {
    !run.is_empty() && parse_blob(text).0.iter().any(|r| r.run == run)
}

// ---------------------------------------------------------------------------------------------
// History

/// One release: every record of its tag, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub tag: String,
    pub version: String,
    pub commit: String,
    pub records: Vec<Record>,
}

impl Release {
    /// The run that published it: the last successful `publish-prod`, else the last attempt.
    pub fn publish(&self) -> Option<&Record> {
        let runs: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| r.command == "publish-prod")
            .collect();
        runs.iter().rev().find(|r| r.ok()).or(runs.last()).copied()
    }
    pub fn published(&self) -> bool {
        self.records
            .iter()
            .any(|r| r.command == "publish-prod" && r.ok())
    }
    /// Published and verified: a successful `verify`, or a successful `publish-prod` whose own
    /// verify stage passed.
    pub fn verified(&self) -> bool {
        self.records.iter().any(|r| {
            r.ok()
                && (r.command == "verify"
                    || (r.command == "publish-prod"
                        && r.stage("verify").is_some_and(|s| s.status == "ok")))
        })
    }
    /// The successful rollback away from this release (to its good one).
    pub fn rolled_back(&self) -> Option<&Record> {
        self.records
            .iter()
            .rev()
            .find(|r| r.command == "rollback" && r.ok())
    }
    pub fn failures(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|r| !r.ok())
    }
    /// A good target for a rollback: published, verified, and not rolled back from.
    pub fn rollback_point(&self) -> bool {
        self.published() && self.verified() && self.rolled_back().is_none()
    }
    /// `published`, `rolled back`, `failed`, or `recorded` (only other commands).
    pub fn state(&self) -> &'static str {
        if self.rolled_back().is_some() {
            "rolled back"
        } else if self.published() {
            "published"
        } else if self.records.iter().any(|r| r.command == "publish-prod") {
            "failed"
        } else {
            "recorded"
        }
    }
}

fn version_key(v: &str) -> (Option<semver::Version>, String) {
    (semver::Version::parse(v).ok(), v.to_string())
}

/// The releases the records make, in version order (oldest first); each release's records in
/// the order they started. The same run recorded twice (a note merged from two clones) counts
/// once.
pub fn releases(records: Vec<Record>) -> Vec<Release> {
    let mut by_tag: BTreeMap<String, Release> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for r in records {
        if !r.run.is_empty() && !seen.insert(r.run.clone()) {
            continue;
        }
        let rel = by_tag.entry(r.tag.clone()).or_insert_with(|| Release {
            tag: r.tag.clone(),
            version: r.version.clone(),
            commit: r.commit.clone(),
            records: Vec::new(),
        });
        // A rollback recorded where the release commit was unknown names none: take another's.
        if rel.commit.is_empty() {
            rel.commit = r.commit.clone();
        }
        if rel.version.is_empty() {
            rel.version = r.version.clone();
        }
        rel.records.push(r);
    }
    let mut out: Vec<Release> = by_tag.into_values().collect();
    for r in &mut out {
        r.records
            .sort_by(|a, b| (a.started, &a.run).cmp(&(b.started, &b.run)));
    }
    out.sort_by(|a, b| {
        let (ka, kb) = (version_key(&a.version), version_key(&b.version));
        match (&ka.0, &kb.0) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => ka.1.cmp(&kb.1),
        }
    });
    out
}

/// One stage against the same stage of the previous release.
#[derive(Debug, Clone, PartialEq)]
pub struct StageDelta {
    pub name: String,
    pub ms: u64,
    /// `None`: the previous release had no such stage.
    pub previous_ms: Option<u64>,
}

impl StageDelta {
    pub fn delta_ms(&self) -> Option<i64> {
        self.previous_ms.map(|p| self.ms as i64 - p as i64)
    }
    /// Rounded percent of the previous time (`None` without one, or when it was 0).
    pub fn percent(&self) -> Option<i64> {
        let p = self.previous_ms.filter(|p| *p > 0)?;
        Some(((self.ms as f64 - p as f64) * 100.0 / p as f64).round() as i64)
    }
}

/// A release's publish run against the previous release's.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub previous: Option<String>,
    pub stages: Vec<StageDelta>,
    /// The slowest stage.
    pub bottleneck: Option<String>,
    /// The step of the bottleneck stage whose time changed most, and by how much.
    pub step: Option<(String, i64)>,
}

/// A step's name with the release's own version left out, to match it with the previous
/// release's step (`push acme/app:1.3.0` and `push acme/app:1.2.0` are the same step).
fn step_key(name: &str, r: &Record) -> String {
    let mut k = name.to_string();
    for v in [&r.tag, &r.version] {
        if !v.is_empty() {
            k = k.replace(v.as_str(), "{v}");
        }
    }
    k
}

/// Compares `current` with `previous` (both publish runs).
pub fn compare(current: &Record, previous: Option<(&str, &Record)>) -> Comparison {
    let stages: Vec<StageDelta> = current
        .stages
        .iter()
        .map(|st| StageDelta {
            name: st.name.clone(),
            ms: st.duration_ms,
            previous_ms: previous.and_then(|(_, p)| p.stage(&st.name).map(|x| x.duration_ms)),
        })
        .collect();
    let bottleneck = current
        .stages
        .iter()
        .fold(None::<&Stage>, |best, st| match best {
            Some(b) if b.duration_ms >= st.duration_ms => Some(b),
            _ => Some(st),
        })
        .map(|st| st.name.clone());
    let step = match (&bottleneck, previous) {
        (Some(name), Some((_, p))) => {
            let cur = current.stage(name);
            let prev = p.stage(name);
            let mut best: Option<(String, i64)> = None;
            for st in cur.into_iter().flat_map(|c| &c.steps) {
                let key = step_key(&st.name, current);
                let before = prev
                    .into_iter()
                    .flat_map(|x| &x.steps)
                    .find(|x| step_key(&x.name, p) == key)
                    .map(|x| x.duration_ms)
                    .unwrap_or(0);
                let d = st.duration_ms as i64 - before as i64;
                if best.as_ref().is_none_or(|b| d.abs() > b.1.abs()) {
                    best = Some((st.name.clone(), d));
                }
            }
            best
        }
        _ => None,
    };
    Comparison {
        previous: previous.map(|(t, _)| t.to_string()),
        stages,
        bottleneck,
        step,
    }
}

/// `22.1 s`.
pub fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// `+4.3 s`, `-0.2 s`.
pub fn signed_secs(ms: i64) -> String {
    let sign = if ms < 0 { '-' } else { '+' };
    format!("{sign}{:.1} s", ms.unsigned_abs() as f64 / 1000.0)
}

fn signed_pct(p: i64) -> String {
    if p < 0 {
        format!("{p}%")
    } else {
        format!("+{p}%")
    }
}

impl Comparison {
    /// `publish 22.1 s, +4.3 s (+24%) vs v1.2.0: push to ghcr.io +3.9 s` (the bottleneck).
    pub fn line(&self) -> Option<String> {
        let name = self.bottleneck.as_ref()?;
        let st = self.stages.iter().find(|s| &s.name == name)?;
        let mut out = format!("{name} {}", secs(st.ms));
        if let (Some(prev), Some(d)) = (&self.previous, st.delta_ms()) {
            out.push_str(&format!(", {}", signed_secs(d)));
            if let Some(p) = st.percent() {
                out.push_str(&format!(" ({})", signed_pct(p)));
            }
            out.push_str(&format!(" vs {prev}"));
            if let Some((step, sd)) = &self.step {
                out.push_str(&format!(": {step} {}", signed_secs(*sd)));
            }
        }
        Some(out)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "previous": self.previous,
            "bottleneck": self.bottleneck,
            "stages": self.stages.iter().map(|s| json!({
                "name": s.name, "duration_ms": s.ms, "previous_ms": s.previous_ms,
                "delta_ms": s.delta_ms(), "percent": s.percent(),
            })).collect::<Vec<_>>(),
            "step": self.step.as_ref().map(|(n, d)| json!({"name": n, "delta_ms": d})),
            "line": self.line(),
        })
    }
}

/// The history view: every release with its comparison against the previous published one.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub releases: Vec<(Release, Option<Comparison>)>,
    pub records: usize,
    pub malformed: usize,
}

/// Builds the history of `records`, keeping the `last` newest releases (all with `None`).
pub fn history(records: Vec<Record>, malformed: usize, last: Option<usize>) -> History {
    let all = releases(records);
    let count = all.iter().map(|r| r.records.len()).sum();
    let mut out = Vec::with_capacity(all.len());
    let mut previous: Option<(String, Record)> = None;
    for rel in all {
        let cmp = rel
            .publish()
            .map(|p| compare(p, previous.as_ref().map(|(t, r)| (t.as_str(), r))));
        if let Some(p) = rel.publish().filter(|p| p.ok()) {
            previous = Some((rel.tag.clone(), p.clone()));
        }
        out.push((rel, cmp));
    }
    if let Some(n) = last {
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
    }
    History {
        releases: out,
        records: count,
        malformed,
    }
}

impl History {
    /// The rollback points (newest first).
    pub fn rollback_points(&self) -> Vec<&str> {
        self.releases
            .iter()
            .rev()
            .filter(|(r, _)| r.rollback_point())
            .map(|(r, _)| r.tag.as_str())
            .collect()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "schema": "slipway.history/1",
            "records": self.records,
            "malformed": self.malformed,
            "rollback_points": self.rollback_points(),
            "releases": self.releases.iter().map(|(r, cmp)| {
                let publish = r.publish();
                json!({
                    "tag": r.tag,
                    "version": r.version,
                    "commit": r.commit,
                    "state": r.state(),
                    "published": r.published(),
                    "verified": r.verified(),
                    "rollback_point": r.rollback_point(),
                    "rolled_back_to": r.rolled_back().and_then(|x| x.rolled_back_to.clone()),
                    "duration_ms": publish.map(|p| p.duration_ms),
                    "stages": publish.map(|p| p.stages.iter().map(|s| json!({"name": s.name, "status": s.status, "duration_ms": s.duration_ms})).collect::<Vec<_>>()).unwrap_or_default(),
                    "gates": publish.map(|p| p.gates.iter().map(|g| json!({"name": g.name, "status": g.status, "blocking": g.blocking})).collect::<Vec<_>>()).unwrap_or_default(),
                    "comparison": cmp.as_ref().map(Comparison::to_json),
                    "records": r.records.iter().map(Record::to_json).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
        })
    }

    /// For people: one block per release, newest last.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.releases.is_empty() {
            out.push_str("no releases in the ledger (refs/notes/slipway)\n");
        }
        for (r, cmp) in &self.releases {
            let date = r
                .records
                .first()
                .map(|x| crate::date::ymd(x.started as i64))
                .unwrap_or_default();
            let short = &r.commit[..r.commit.len().min(7)];
            let mut flags = Vec::new();
            if r.rollback_point() {
                flags.push("rollback point".to_string());
            }
            if let Some(to) = r.rolled_back().and_then(|x| x.rolled_back_to.as_deref()) {
                flags.push(format!("rolled back to {to}"));
            }
            out.push_str(&format!(
                "{} {date} {short} {}{}\n",
                r.tag,
                r.state(),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", flags.join(", "))
                }
            ));
            if let Some(p) = r.publish() {
                let stages: Vec<String> = p
                    .stages
                    .iter()
                    .map(|s| format!("{} {}", s.name, secs(s.duration_ms)))
                    .collect();
                out.push_str(&format!(
                    "  publish-prod {} in {}: {}\n",
                    p.status,
                    secs(p.duration_ms),
                    stages.join(", ")
                ));
            }
            if let Some(line) = cmp.as_ref().and_then(Comparison::line) {
                out.push_str(&format!("  bottleneck: {line}\n"));
            }
            if let Some(c) = cmp.as_ref().filter(|c| c.previous.is_some()) {
                let deltas: Vec<String> = c
                    .stages
                    .iter()
                    .filter_map(|s| {
                        let d = s.delta_ms()?;
                        Some(match s.percent() {
                            Some(p) => format!("{} {} ({})", s.name, signed_secs(d), signed_pct(p)),
                            None => format!("{} {}", s.name, signed_secs(d)),
                        })
                    })
                    .collect();
                if !deltas.is_empty() {
                    out.push_str(&format!(
                        "  vs {}: {}\n",
                        c.previous.as_deref().unwrap_or(""),
                        deltas.join(", ")
                    ));
                }
            }
            if let Some(p) = r.publish().filter(|p| !p.gates.is_empty()) {
                let gates: Vec<String> = p
                    .gates
                    .iter()
                    .map(|g| format!("{} {}", g.name, g.status))
                    .collect();
                out.push_str(&format!("  gates: {}\n", gates.join(", ")));
            }
            for f in r.failures() {
                out.push_str(&format!(
                    "  failed: {} {}{}\n",
                    f.command,
                    crate::date::rfc3339(f.started as i64),
                    f.error
                        .as_deref()
                        .map(|e| format!(": {}", e.lines().next().unwrap_or("")))
                        .unwrap_or_default()
                ));
            }
            for x in r.records.iter().filter(|x| x.command == "rollback") {
                out.push_str(&format!(
                    "  rollback {} → {} ({}): {} tag move(s)\n",
                    r.tag,
                    x.rolled_back_to.as_deref().unwrap_or("?"),
                    x.status,
                    x.moves.len()
                ));
            }
            let others: Vec<String> = r
                .records
                .iter()
                .filter(|x| x.command == "promote" || x.command == "verify")
                .map(|x| format!("{} {}", x.command, x.status))
                .collect();
            if !others.is_empty() {
                out.push_str(&format!("  also: {}\n", others.join(", ")));
            }
        }
        let points = self.rollback_points();
        out.push_str(&format!(
            "rollback points: {}\n",
            if points.is_empty() {
                "none".to_string()
            } else {
                points.join(", ")
            }
        ));
        if self.malformed > 0 {
            out.push_str(&format!(
                "({} note line(s) were not ledger records and were skipped)\n",
                self.malformed
            ));
        }
        out
    }

    /// A standalone page (inline CSS, no JavaScript): the timeline of releases, one row each
    /// with its stage bars, failures and rollbacks marked, its artifacts with digests.
    pub fn to_html(&self, title: &str) -> String {
        let e = html_escape;
        let mut out = String::with_capacity(4096 + self.releases.len() * 2048);
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        out.push_str(&format!("<title>{}</title>\n", e(title)));
        out.push_str(
            "<style>\n\
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\n\
table{border-collapse:collapse;width:100%}\n\
th,td{border-bottom:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:top}\n\
tr.failed td{background:#fdecea}\n\
tr.rolled-back td{background:#fff4e5}\n\
.mark{font-weight:bold;border-radius:3px;padding:0 4px}\n\
.mark.failed{background:#c62828;color:#fff}\n\
.mark.rolled-back{background:#ef6c00;color:#fff}\n\
.mark.point{background:#2e7d32;color:#fff}\n\
.bars{width:320px}\n\
.stage{font-size:11px;white-space:nowrap;margin:2px 0}\n\
.bar{display:inline-block;height:12px;vertical-align:middle;margin-right:4px;background:#1976d2}\n\
.bar.s-build{background:#5c6bc0}.bar.s-test{background:#26a69a}.bar.s-publish{background:#1976d2}\n\
.bar.s-verify{background:#7cb342}.bar.s-deploy{background:#8d6e63}\n\
code{font-size:12px;word-break:break-all}\n\
</style>\n</head>\n<body>\n",
        );
        out.push_str(&format!("<h1>{}</h1>\n", e(title)));
        let points = self.rollback_points();
        out.push_str(&format!(
            "<p>{} release(s), {} record(s). Rollback points: {}.</p>\n",
            self.releases.len(),
            self.records,
            if points.is_empty() {
                "none".to_string()
            } else {
                e(&points.join(", "))
            }
        ));
        let widest = self
            .releases
            .iter()
            .filter_map(|(r, _)| r.publish())
            .flat_map(|p| p.stages.iter().map(|s| s.duration_ms))
            .max()
            .unwrap_or(0)
            .max(1);
        out.push_str("<table id=\"releases\">\n<thead><tr><th>release</th><th>when</th><th>state</th><th>stages</th><th>against the previous</th><th>gates</th><th>artifacts</th></tr></thead>\n<tbody>\n");
        for (r, cmp) in self.releases.iter().rev() {
            let class = match r.state() {
                "failed" => "release failed",
                "rolled back" => "release rolled-back",
                _ => "release",
            };
            out.push_str(&format!(
                "<tr class=\"{class}\" data-tag=\"{}\">",
                e(&r.tag)
            ));
            out.push_str(&format!(
                "<td><strong>{}</strong><br><code>{}</code></td>",
                e(&r.tag),
                e(&r.commit[..r.commit.len().min(12)])
            ));
            let when = r
                .records
                .first()
                .map(|x| crate::date::rfc3339(x.started as i64))
                .unwrap_or_default();
            out.push_str(&format!("<td>{}</td>", e(&when)));
            let mut marks = String::new();
            for f in r.failures() {
                marks.push_str(&format!(
                    "<br><span class=\"mark failed\">failed</span> {}{}",
                    e(&f.command),
                    f.error
                        .as_deref()
                        .map(|x| format!(": {}", e(x.lines().next().unwrap_or(""))))
                        .unwrap_or_default()
                ));
            }
            if let Some(rb) = r.rolled_back() {
                marks.push_str(&format!(
                    "<br><span class=\"mark rolled-back\">rolled back</span> to {}",
                    e(rb.rolled_back_to.as_deref().unwrap_or("?"))
                ));
                for m in &rb.moves {
                    marks.push_str(&format!(
                        "<br><code>{} {}: {} → {}</code>",
                        e(&m.registry),
                        e(&m.tag),
                        e(&m.from),
                        e(&m.to)
                    ));
                }
            }
            if r.rollback_point() {
                marks.push_str("<br><span class=\"mark point\">rollback point</span>");
            }
            out.push_str(&format!("<td>{}{marks}</td>", e(r.state())));
            out.push_str("<td class=\"bars\">");
            if let Some(p) = r.publish() {
                for s in &p.stages {
                    // The widest stage of the page fills 70% of the cell; its label follows.
                    let w = s.duration_ms as f64 * 70.0 / widest as f64;
                    out.push_str(&format!(
                        "<div class=\"stage\"><span class=\"bar s-{}\" style=\"width:{w:.1}%\"></span>{} {}</div>",
                        e(&s.name),
                        e(&s.name),
                        e(&secs(s.duration_ms))
                    ));
                }
            }
            out.push_str("</td>");
            out.push_str(&format!(
                "<td>{}</td>",
                cmp.as_ref()
                    .and_then(Comparison::line)
                    .map(|l| e(&l))
                    .unwrap_or_default()
            ));
            let gates: Vec<String> = r
                .publish()
                .map(|p| {
                    p.gates
                        .iter()
                        .map(|g| format!("{} {}", e(&g.name), e(&g.status)))
                        .collect()
                })
                .unwrap_or_default();
            out.push_str(&format!("<td>{}</td>", gates.join("<br>")));
            let arts: Vec<String> = r
                .records
                .iter()
                .filter(|x| x.ok())
                .flat_map(|x| &x.artifacts)
                .map(|a| {
                    let id = a.digest.as_deref().unwrap_or("");
                    let sha = a
                        .sha256
                        .as_deref()
                        .map(|h| format!(" sha256:{}", e(h)))
                        .unwrap_or_default();
                    format!("{} {} <code>{}{sha}</code>", e(&a.name), e(&a.at), e(id))
                })
                .collect();
            out.push_str(&format!("<td>{}</td>", arts.join("<br>")));
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n</body>\n</html>\n");
        out
    }
}

/// Escapes text for HTML content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The run's host kind from its environment's `GITHUB_ACTIONS` and `CI` values.
pub fn host_kind(github_actions: Option<&str>, ci: Option<&str>) -> &'static str {
    if github_actions == Some("true") {
        "github-actions"
    } else if ci.is_some_and(|v| !v.is_empty() && v != "false" && v != "0") {
        "ci"
    } else {
        "local"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, ms: u64) -> StepTime {
        StepTime {
            name: name.into(),
            status: "done".into(),
            duration_ms: ms,
            lanes: Vec::new(),
        }
    }

    fn publish(v: &str, started: u64, stages: &[(&str, &[(&str, u64)])]) -> Record {
        Record {
            version: v.into(),
            tag: format!("v{v}"),
            commit: format!("{:0>40}", v.replace('.', "")),
            command: "publish-prod".into(),
            status: "success".into(),
            started,
            duration_ms: stages.iter().flat_map(|s| s.1.iter().map(|x| x.1)).sum(),
            stages: stages
                .iter()
                .map(|(name, steps)| Stage {
                    name: name.to_string(),
                    status: "ok".into(),
                    duration_ms: steps.iter().map(|x| x.1).sum(),
                    steps: steps
                        .iter()
                        .map(|(n, ms)| step(&n.replace("{v}", v), *ms))
                        .collect(),
                })
                .collect(),
            host: "local".into(),
            run: format!("run-{v}-{started}"),
            ..Record::default()
        }
    }

    #[test]
    fn records_round_trip_and_unknown_fields_are_ignored() {
        let mut r = publish("1.2.0", 100, &[("build", &[("build {v}", 1200)])]);
        r.gates.push(Gate {
            name: "tests".into(),
            status: "passed".into(),
            blocking: true,
        });
        r.artifacts.push(Artifact {
            kind: "image".into(),
            name: "acme/app:1.2.0".into(),
            at: "ghcr.io".into(),
            digest: Some(format!("sha256:{}", "a".repeat(64))),
            sha256: None,
        });
        r.moves.push(Move {
            registry: "ghcr.io".into(),
            tag: "latest".into(),
            from: "sha256:b".into(),
            to: "sha256:a".into(),
            digest: "sha256:a".into(),
        });
        r.notes = Some("Released with gates skipped: mypy".into());
        // A step of lanes run at the same time keeps each lane's start and time.
        r.stages[0].steps[0].lanes = vec![
            crate::lanes::LaneTime {
                label: "python dists".into(),
                start_ms: 0,
                duration_ms: 900,
            },
            crate::lanes::LaneTime {
                label: "docker image".into(),
                start_ms: 3,
                duration_ms: 1190,
            },
        ];
        let line = r.to_line();
        assert!(!line.contains('\n'));
        let (back, bad) = parse_blob(&line);
        assert_eq!((back, bad), (vec![r.clone()], 0));
        let mut v = r.to_json();
        v["future_field"] = json!({"x": 1});
        assert_eq!(Record::from_json(&v).unwrap(), r);
    }

    #[test]
    fn a_blob_of_many_records_skips_and_counts_malformed_lines() {
        let a = publish("1.0.0", 1, &[]).to_line();
        let b = publish("1.1.0", 2, &[]).to_line();
        let blob = format!(
            "{a}\n\n{{not json\n{b}\n{{\"schema\":\"slipway.ledger/9\",\"tag\":\"v1\",\"command\":\"x\"}}\n[1]\n{{\"schema\":\"slipway.ledger/1\"}}\n"
        );
        let (records, bad) = parse_blob(&blob);
        assert_eq!(records.len(), 2);
        assert_eq!(bad, 4);
        assert!(holds_run(&blob, "run-1.1.0-2"));
        assert!(!holds_run(&blob, "run-9"));
        assert!(!holds_run(&blob, ""));
    }

    #[test]
    fn comparison_line_names_bottleneck_delta_and_step() {
        let prev = publish(
            "1.2.0",
            10,
            &[
                ("build", &[("build {v}", 5000)]),
                (
                    "publish",
                    &[
                        ("push acme/app:{v} to ghcr.io", 12000),
                        ("upload to pypi", 5800),
                    ],
                ),
            ],
        );
        let cur = publish(
            "1.3.0",
            20,
            &[
                ("build", &[("build {v}", 4800)]),
                (
                    "publish",
                    &[
                        ("push acme/app:{v} to ghcr.io", 15900),
                        ("upload to pypi", 6200),
                    ],
                ),
            ],
        );
        let c = compare(&cur, Some(("v1.2.0", &prev)));
        assert_eq!(c.bottleneck.as_deref(), Some("publish"));
        assert_eq!(
            c.line().unwrap(),
            "publish 22.1 s, +4.3 s (+24%) vs v1.2.0: push acme/app:1.3.0 to ghcr.io +3.9 s"
        );
        assert_eq!(c.stages[0].delta_ms(), Some(-200));
        assert_eq!(c.stages[0].percent(), Some(-4));
        // The first release has nothing to compare with.
        let first = compare(&prev, None);
        assert_eq!(first.line().unwrap(), "publish 17.8 s");
        assert_eq!(first.stages[0].delta_ms(), None);
    }

    #[test]
    fn percent_and_seconds_table() {
        // (ms, previous ms, delta, percent)
        type Case = (u64, Option<u64>, Option<i64>, Option<i64>);
        let cases: &[Case] = &[
            (1000, Some(1000), Some(0), Some(0)),
            (1500, Some(1000), Some(500), Some(50)),
            (500, Some(1000), Some(-500), Some(-50)),
            (100, Some(0), Some(100), None),
            (100, None, None, None),
        ];
        for (ms, prev, d, p) in cases {
            let s = StageDelta {
                name: "x".into(),
                ms: *ms,
                previous_ms: *prev,
            };
            assert_eq!((s.delta_ms(), s.percent()), (*d, *p), "{ms} {prev:?}");
        }
        assert_eq!(signed_secs(-250), "-0.2 s");
        assert_eq!(signed_secs(4300), "+4.3 s");
        assert_eq!(secs(22100), "22.1 s");
    }

    fn rollback(bad: &str, good: &str, started: u64) -> Record {
        Record {
            version: bad.into(),
            tag: format!("v{bad}"),
            command: "rollback".into(),
            status: "success".into(),
            started,
            rolled_back_to: Some(format!("v{good}")),
            moves: vec![Move {
                registry: "ghcr.io/acme/app".into(),
                tag: "latest".into(),
                from: "sha256:bad".into(),
                to: "sha256:good".into(),
                digest: "sha256:good".into(),
            }],
            run: format!("rb-{bad}"),
            ..Record::default()
        }
    }

    fn verify_stage(mut r: Record) -> Record {
        r.stages.push(Stage {
            name: "verify".into(),
            status: "ok".into(),
            duration_ms: 10,
            steps: Vec::new(),
        });
        r
    }

    #[test]
    fn history_orders_by_version_compares_with_the_previous_published_and_finds_rollback_points() {
        let mut failed = publish("1.1.0", 15, &[("publish", &[("push", 1)])]);
        failed.status = "failure".into();
        failed.error = Some("step 3/5 failed: push\nmore".into());
        let records = vec![
            verify_stage(publish("1.10.0", 40, &[("publish", &[("push", 3000)])])),
            verify_stage(publish("1.2.0", 20, &[("publish", &[("push", 2000)])])),
            failed.clone(),
            verify_stage(publish("1.0.0", 10, &[("publish", &[("push", 1000)])])),
            rollback("1.10.0", "1.2.0", 50),
            // The same run merged from two clones counts once.
            rollback("1.10.0", "1.2.0", 50),
        ];
        let h = history(records, 1, None);
        // The duplicate run counts once.
        assert_eq!(h.records, 5);
        let tags: Vec<&str> = h.releases.iter().map(|r| r.0.tag.as_str()).collect();
        assert_eq!(tags, ["v1.0.0", "v1.1.0", "v1.2.0", "v1.10.0"]);
        // v1.2.0 compares with v1.0.0: v1.1.0 never published.
        let c = h.releases[2].1.as_ref().unwrap();
        assert_eq!(c.previous.as_deref(), Some("v1.0.0"));
        assert_eq!(c.stages[0].delta_ms(), Some(1000));
        assert_eq!(h.releases[1].0.state(), "failed");
        assert_eq!(h.releases[3].0.state(), "rolled back");
        assert_eq!(h.releases[3].0.records.len(), 2);
        assert_eq!(h.rollback_points(), ["v1.2.0", "v1.0.0"]);
        let text = h.to_text();
        assert!(text.contains("v1.10.0"), "{text}");
        assert!(text.contains("rolled back to v1.2.0"), "{text}");
        assert!(text.contains("failed: publish-prod"), "{text}");
        assert!(text.contains("rollback points: v1.2.0, v1.0.0"), "{text}");
        assert!(text.contains("1 note line(s)"), "{text}");
        let j = h.to_json();
        assert_eq!(j["releases"].as_array().unwrap().len(), 4);
        assert_eq!(j["releases"][2]["comparison"]["stages"][0]["percent"], 100);
        let last = history(
            h.releases
                .iter()
                .flat_map(|r| r.0.records.clone())
                .collect(),
            0,
            Some(2),
        );
        assert_eq!(last.releases.len(), 2);
        assert_eq!(last.releases[0].0.tag, "v1.2.0");
        // The comparison is computed before --last cuts: v1.2.0 still compares with v1.0.0.
        assert_eq!(
            last.releases[0].1.as_ref().unwrap().previous.as_deref(),
            Some("v1.0.0")
        );
    }

    #[test]
    fn the_text_view() {
        let prev = verify_stage(publish(
            "1.2.0",
            1_795_000_000,
            &[
                ("build", &[("build {v}", 5000)]),
                (
                    "publish",
                    &[("push acme/app:{v} to ghcr.io", 12000), ("upload", 5800)],
                ),
            ],
        ));
        let mut cur = verify_stage(publish(
            "1.3.0",
            1_795_086_400,
            &[
                ("build", &[("build {v}", 4800)]),
                (
                    "publish",
                    &[("push acme/app:{v} to ghcr.io", 15900), ("upload", 6200)],
                ),
            ],
        ));
        cur.gates.push(Gate {
            name: "tests".into(),
            status: "passed".into(),
            blocking: true,
        });
        let h = history(
            vec![prev, cur, rollback("1.3.0", "1.2.0", 1_795_090_000)],
            0,
            None,
        );
        expect_test::expect![[r#"
            v1.2.0 2026-11-18 0000000 published (rollback point)
              publish-prod success in 22.8 s: build 5.0 s, publish 17.8 s, verify 0.0 s
              bottleneck: publish 17.8 s
            v1.3.0 2026-11-19 0000000 rolled back (rolled back to v1.2.0)
              publish-prod success in 26.9 s: build 4.8 s, publish 22.1 s, verify 0.0 s
              bottleneck: publish 22.1 s, +4.3 s (+24%) vs v1.2.0: push acme/app:1.3.0 to ghcr.io +3.9 s
              vs v1.2.0: build -0.2 s (-4%), publish +4.3 s (+24%), verify +0.0 s (+0%)
              gates: tests passed
              rollback v1.3.0 → v1.2.0 (success): 1 tag move(s)
            rollback points: v1.2.0
        "#]]
        .assert_eq(&h.to_text());
    }

    #[test]
    fn html_has_one_row_per_release_and_escapes_everything() {
        let mut evil = publish("1.0.0", 10, &[("publish", &[("push <b>", 1000)])]);
        evil.status = "failure".into();
        evil.error = Some("<script>alert(1)</script>".into());
        evil.artifacts.push(Artifact {
            kind: "image".into(),
            name: "a\"b".into(),
            at: "<reg>".into(),
            digest: Some("sha256:x&y".into()),
            sha256: None,
        });
        let ok = verify_stage(publish("1.1.0", 20, &[("publish", &[("push", 500)])]));
        let h = history(vec![evil, ok], 0, None);
        let html = h.to_html("acme <app> history");
        assert_eq!(html.matches("<tr class=\"release").count(), 2);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("acme &lt;app&gt; history"));
        assert!(html.contains("class=\"release failed\""));
        assert!(html.contains("style=\"width:70.0%\""));
        assert!(html.contains("style=\"width:35.0%\""));
        assert!(html.contains("mark point"));
        // Artifacts of failed runs are not shown as published.
        assert!(!html.contains("sha256:x&amp;y"));
    }

    #[test]
    fn escape_property_no_raw_markup_survives() {
        // Every printable ASCII character, in every position: nothing that opens markup remains.
        let all: String = (32u8..127).map(char::from).collect();
        for i in 0..all.len() {
            let s = format!("{}{}", &all[i..], &all[..i]);
            let out = html_escape(&s);
            assert!(!out.contains(['<', '>', '"', '\'']), "{out}");
            assert_eq!(
                out.replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&amp;", "&"),
                s
            );
        }
    }

    #[test]
    fn host_kinds() {
        assert_eq!(host_kind(Some("true"), Some("true")), "github-actions");
        assert_eq!(host_kind(None, Some("true")), "ci");
        assert_eq!(host_kind(None, Some("1")), "ci");
        assert_eq!(host_kind(None, Some("false")), "local");
        assert_eq!(host_kind(None, None), "local");
    }
}
