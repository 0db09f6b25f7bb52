//! The release ledger's effects: each release command (`publish-prod`, `promote`, `rollback`,
//! `verify`) appends its record to the git note `refs/notes/slipway` on the release commit, the
//! notes ref is pushed to `origin` (fetched and merged with `cat_sort_uniq` first when another
//! clone appended meanwhile), and `publish-prod` attaches the release's records to its GitHub
//! release as `ledger.json`. Each is a [`Reconcile`] step, so a dry run lists it and a re-run
//! completes what is missing; they run after the command's own plan, whatever its outcome — a
//! failed run is history too.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use serde_json::{json, Value as Json};

use crate::core::ledger::{self, Record, Stage, StepTime, NOTES_REF};
use crate::facts::config::Config;
use crate::facts::git::{git, git_output};
use crate::run::plan::{Decision, Plan, Planned, Process, Reconcile, RunContext, Step, Sub, Val};
use crate::run::ui::{self, Ui};
use crate::targets::github::{self, Gh};

/// The ref a diverged remote notes ref is fetched into before the merge.
pub const FETCHED: &str = "refs/notes/slipway-origin";
/// The GitHub release asset holding the release's records.
pub const ASSET: &str = "ledger.json";
/// What a dry run shows for the record (known once the command has run).
pub const PLACEHOLDER: &str = "<ledger record>";

/// A record with what every command shares: the release, the command, the start time, the
/// host kind and a run id unique to this process.
pub fn record(command: &str, version: &str, tag: &str, commit: &str) -> Record {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Record {
        version: version.to_string(),
        tag: tag.to_string(),
        commit: commit.to_string(),
        command: command.to_string(),
        status: "success".into(),
        started: now.as_secs(),
        host: ledger::host_kind(
            std::env::var("GITHUB_ACTIONS").ok().as_deref(),
            std::env::var("CI").ok().as_deref(),
        )
        .to_string(),
        run: format!("{command}-{}-{}", now.as_millis(), std::process::id()),
        ..Record::default()
    }
}

/// Ends a record: the status, the time since `started`, the error (masked) of a failure.
pub fn finish(r: &mut Record, result: &Result<impl Sized>, took: Duration) {
    r.duration_ms = took.as_millis() as u64;
    r.status = if result.is_ok() { "success" } else { "failure" }.into();
    if let Err(e) = result {
        r.error = Some(ui::redact(&format!("{e:#}")));
    }
}

/// One finished step as the ledger keeps it: `(index, header, status, detail, took)`, the
/// journal's shape (`done`, `skipped` or `failed`; the detail is not kept).
pub type StepRow = (usize, String, String, String, Duration);

/// The [`StepRow`] of a step the executor reports.
pub fn row(r: &crate::run::exec::StepRecord) -> StepRow {
    let status = match &r.result {
        Ok(crate::run::plan::Done::Ran(_)) => "done",
        Ok(crate::run::plan::Done::Skipped(_)) => "skipped",
        Err(_) => "failed",
    };
    (
        r.index,
        r.header.to_string(),
        status.into(),
        String::new(),
        r.took,
    )
}

/// The stages of a run from its step records (`(index, header, status, detail, took)`, the
/// journal's) and the stage of each planned step; a planned stage no step of which ran is
/// `not run`.
pub fn stages_of(
    stage_of_step: &[&str],
    records: &[(usize, String, String, String, Duration)],
) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::new();
    for name in stage_of_step {
        if out.iter().any(|s| s.name == *name) {
            continue;
        }
        let steps: Vec<StepTime> = records
            .iter()
            .filter(|r| stage_of_step.get(r.0) == Some(name))
            .map(|r| StepTime {
                name: ui::redact(&r.1),
                status: r.2.clone(),
                duration_ms: r.4.as_millis() as u64,
                lanes: crate::core::lanes::parse(&r.3),
            })
            .collect();
        let planned = stage_of_step.iter().filter(|s| *s == name).count();
        let status = if steps.iter().any(|s| s.status == "failed") {
            "failed"
        } else if steps.len() < planned {
            "not run"
        } else {
            "ok"
        };
        out.push(Stage {
            name: name.to_string(),
            status: status.into(),
            duration_ms: steps.iter().map(|s| s.duration_ms).sum(),
            steps,
        });
    }
    out
}

/// The gates of a run from the gates step's report (`targets::gates` JSON).
pub fn gates_of(report: Option<&Json>, skipped: &Json) -> Vec<ledger::Gate> {
    let mut out: Vec<ledger::Gate> = report
        .and_then(|r| r.get("gates"))
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|g| ledger::Gate {
            name: g["name"].as_str().unwrap_or_default().to_string(),
            status: g["status"].as_str().unwrap_or_default().to_string(),
            blocking: g["blocking"].as_bool().unwrap_or(true),
        })
        .collect();
    for s in skipped.as_array().into_iter().flatten() {
        out.push(ledger::Gate {
            name: s["name"].as_str().unwrap_or_default().to_string(),
            status: format!("skipped ({})", s["flag"].as_str().unwrap_or("--skip-gate")),
            blocking: true,
        });
    }
    out
}

/// The artifacts a publish run's values name: each registry's pushed digest, the GitHub
/// release, and (when the run succeeded) the dists of `SHA256SUMS` with their sha256.
pub fn artifacts_of(
    facts: &crate::targets::publish::Facts,
    values: &std::collections::BTreeMap<String, String>,
    ok: bool,
) -> Vec<ledger::Artifact> {
    let mut out = Vec::new();
    let image = facts
        .cfg
        .docker
        .as_ref()
        .map(|d| d.image.clone())
        .unwrap_or_default();
    for (k, v) in values {
        if let Some(registry) = k.strip_prefix("docker.digest.") {
            out.push(ledger::Artifact {
                kind: "image".into(),
                name: image.clone(),
                at: registry.to_string(),
                digest: Some(v.clone()),
                sha256: None,
            });
        }
    }
    if ok {
        let sums = facts.dist_dir().join(github::SUMS);
        for line in std::fs::read_to_string(sums).unwrap_or_default().lines() {
            if let Some((sha, name)) = line.split_once(char::is_whitespace) {
                out.push(ledger::Artifact {
                    kind: "dist".into(),
                    name: name.trim().trim_start_matches('*').to_string(),
                    at: facts.cfg.python.index_url.clone(),
                    digest: None,
                    sha256: Some(sha.to_string()),
                });
            }
        }
    }
    if let Some(url) = values.get("github.release_url") {
        out.push(ledger::Artifact {
            kind: "release".into(),
            name: facts.tag.clone(),
            at: url.clone(),
            digest: None,
            sha256: None,
        });
    }
    out
}

/// The tag moves of a rollback report's `registries` (`slipway.rollback-report/1`).
pub fn moves_of(registries: &Json) -> Vec<ledger::Move> {
    let mut out = Vec::new();
    for r in registries.as_array().into_iter().flatten() {
        for t in r["tags"].as_array().into_iter().flatten() {
            if t["result"] != "moved" {
                continue;
            }
            let to = t["to"].as_str().unwrap_or_default().to_string();
            out.push(ledger::Move {
                registry: r["repository"].as_str().unwrap_or_default().to_string(),
                tag: t["tag"].as_str().unwrap_or_default().to_string(),
                from: t["from"].as_str().unwrap_or_default().to_string(),
                digest: to.clone(),
                to,
            });
        }
    }
    out
}

/// The commit a tag names (empty when this clone does not have it).
pub fn commit_of(root: &Path, tag: &str) -> String {
    git_output(
        root,
        ["rev-parse", "-q", "--verify", &format!("{tag}^{{commit}}")],
    )
    .ok()
    .filter(|o| o.ok)
    .map(|o| o.stdout.trim().to_string())
    .unwrap_or_default()
}

/// The steps that record `record` (a dry run: `None`, the placeholder): append it to the note
/// on its commit, push the notes ref, and with `asset` attach the release's records to its
/// GitHub release.
pub fn plan(cfg: &Config, commit: &str, tag: &str, record: Option<&Record>, asset: bool) -> Plan {
    let ident = identity_env(&cfg.root);
    let mut plan = Plan::default();
    plan.push(Step::Action(Box::new(AppendRecord {
        root: cfg.root.clone(),
        commit: commit.to_string(),
        line: record
            .map(|r| ui::redact(&r.to_line()))
            .unwrap_or_else(|| PLACEHOLDER.into()),
        run: record.map(|r| r.run.clone()).unwrap_or_default(),
        ident: ident.clone(),
    })));
    plan.push(Step::Action(Box::new(SyncNotes {
        root: cfg.root.clone(),
        remote: cfg.remote.clone(),
        push: true,
        ident,
    })));
    if asset {
        // Without a token (a dry run may lack one; a real run refuses before this) the step is
        // shown all the same, as the GitHub target's own steps are.
        let env = github::process_gh_env();
        if let Some(gh) = Gh::resolve(cfg, &env)
            .ok()
            .or_else(|| Gh::preview(cfg, &env))
        {
            plan.push(Step::Action(Box::new(UploadLedger {
                gh,
                tag: tag.to_string(),
                commit: commit.to_string(),
                path: crate::targets::publish::work_dir(cfg)
                    .join("ledger")
                    .join(tag)
                    .join(ASSET),
                root: cfg.root.clone(),
            })));
        }
    }
    plan
}

/// Shows the ledger steps a real run takes after its plan (a dry run).
pub fn render_dry_run(ui: &Ui, cfg: &Config, commit: &str, tag: &str, asset: bool) {
    ui.note("then, whatever the outcome, the run's record goes into the ledger:");
    plan(cfg, commit, tag, None, asset).render(ui, &cfg.root);
}

/// The ledger steps of a dry run as JSON.
pub fn dry_run_json(cfg: &Config, commit: &str, tag: &str, asset: bool) -> Json {
    plan(cfg, commit, tag, None, asset).to_json(&cfg.root)
}

/// Records `record`: runs the ledger steps. A failure here is a warning — what the command did
/// stands; its record is in its report, and the next command's push carries the notes along.
pub fn write(ui: &Ui, cfg: &Config, record: &Record, asset: bool) {
    if record.commit.is_empty() {
        ui.warn("ledger: the release commit is unknown here; no record written");
        return;
    }
    let p = plan(cfg, &record.commit, &record.tag, Some(record), asset);
    ui.note(&format!(
        "ledger: {} {} of {}",
        record.command, record.status, record.tag
    ));
    // Its own stage: in an incident report, the ledger's steps are not what was published.
    let stages = crate::run::exec::Stages {
        of_step: vec!["ledger".to_string(); p.steps.len()],
        limits: Default::default(),
    };
    if let Err(e) = crate::run::exec::execute_staged(&p, ui, &cfg.root, &stages, &mut |_| {}) {
        ui.warn(&format!(
            "ledger: the record of this run was not fully written: {e:#}; `cargo xtask history` \
             lists what is recorded"
        ));
    }
}

/// `history --fetch`: origin's notes into this clone (merged when both sides moved).
pub fn fetch_step(cfg: &Config) -> Step {
    Step::Action(Box::new(SyncNotes {
        root: cfg.root.clone(),
        remote: cfg.remote.clone(),
        push: false,
        ident: identity_env(&cfg.root),
    }))
}

/// The committer identity for the notes commits when git has none configured (a CI runner):
/// slipway's own, so a ledger write never fails on it.
fn identity_env(root: &Path) -> Vec<(String, Val)> {
    let has = git_output(root, ["config", "user.email"]).is_ok_and(|o| o.ok);
    if has || std::env::var_os("GIT_COMMITTER_EMAIL").is_some() {
        return Vec::new();
    }
    [
        ("GIT_AUTHOR_NAME", "slipway"),
        ("GIT_AUTHOR_EMAIL", "slipway@localhost"),
        ("GIT_COMMITTER_NAME", "slipway"),
        ("GIT_COMMITTER_EMAIL", "slipway@localhost"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Val::Plain(v.to_string())))
    .collect()
}

fn with_env(mut p: Process, env: &[(String, Val)]) -> Process {
    p.env.extend(env.iter().cloned());
    p
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

// ---------------------------------------------------------------------------------------------
// Append

/// Appends one record to the note on the release commit, unless it already holds this run's.
#[derive(Debug)]
pub struct AppendRecord {
    pub root: PathBuf,
    pub commit: String,
    /// The record, one line of JSON (secrets masked).
    pub line: String,
    /// Its run id (empty in a dry run's template).
    pub run: String,
    pub ident: Vec<(String, Val)>,
}

impl AppendRecord {
    fn show(&self) -> Process {
        git(
            &self.root,
            ["notes", "--ref", NOTES_REF, "show", &self.commit],
        )
    }
    fn append(&self) -> Process {
        with_env(
            git(
                &self.root,
                [
                    "notes",
                    "--ref",
                    NOTES_REF,
                    "append",
                    "-F",
                    "-",
                    &self.commit,
                ],
            )
            .stdin(Val::Plain(self.line.clone())),
            &self.ident,
        )
    }
}

impl Reconcile for AppendRecord {
    type Seen = String;
    fn header(&self) -> String {
        format!(
            "append the run's record to the {NOTES_REF} note on {}",
            short(&self.commit)
        )
    }
    fn rule(&self) -> Option<String> {
        Some("skipped when the note already holds this run's record".into())
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(self.show())],
            apply: vec![Sub::run(self.append())],
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<String> {
        // No note yet: `git notes show` fails, and that is an empty note.
        crate::run::process::output(&self.show())
            .map(|o| if o.ok { o.stdout } else { String::new() })
    }
    fn decide(&self, note: &String) -> Result<Decision> {
        if ledger::holds_run(note, &self.run) {
            return Ok(Decision::done(format!(
                "the note on {} holds this run's record",
                short(&self.commit)
            )));
        }
        Ok(Decision::apply(
            vec![Sub::run(self.append())],
            format!("recorded in the note on {}", short(&self.commit)),
        ))
    }
    fn json(&self) -> Json {
        json!({"ref": NOTES_REF, "commit": self.commit, "run": self.run})
    }
}

// ---------------------------------------------------------------------------------------------
// Push / fetch

/// Brings the notes ref and `origin`'s together: pushes ours (`push`), or fetches theirs.
/// When both moved, origin's is fetched into [`FETCHED`] and merged with `cat_sort_uniq` (the
/// records are lines: the union, each once), then pushed.
#[derive(Debug)]
pub struct SyncNotes {
    pub root: PathBuf,
    /// The remote (`remote` in the configuration, `origin` by default).
    pub remote: String,
    pub push: bool,
    pub ident: Vec<(String, Val)>,
}

/// What [`SyncNotes`] reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotesSeen {
    pub has_remote: bool,
    pub local: Option<String>,
    pub remote: Option<String>,
    /// The remote's commit is in this repository.
    pub remote_known: bool,
    /// The remote's commit is an ancestor of (or equal to) ours.
    pub remote_in_local: bool,
    pub local_in_remote: bool,
}

impl SyncNotes {
    fn g<const N: usize>(&self, args: [&str; N]) -> Process {
        git(&self.root, args)
    }
    fn push_p(&self) -> Process {
        self.g(["push", &self.remote, &format!("{NOTES_REF}:{NOTES_REF}")])
    }
    fn fetch_ff(&self) -> Process {
        self.g(["fetch", &self.remote, &format!("{NOTES_REF}:{NOTES_REF}")])
    }
    fn fetch_aside(&self) -> Process {
        self.g(["fetch", &self.remote, &format!("+{NOTES_REF}:{FETCHED}")])
    }
    fn merge(&self) -> Process {
        with_env(
            self.g([
                "notes",
                "--ref",
                NOTES_REF,
                "merge",
                "-s",
                "cat_sort_uniq",
                FETCHED,
            ]),
            &self.ident,
        )
    }
    fn reads(&self) -> Vec<Sub> {
        vec![
            Sub::run(self.g(["remote", "get-url", &self.remote])),
            Sub::run(self.g(["rev-parse", "-q", "--verify", NOTES_REF])),
            Sub::run(self.g(["ls-remote", &self.remote, NOTES_REF])),
            Sub::run(self.g(["merge-base", "--is-ancestor", "<remote>", "<local>"])),
        ]
    }
    fn ok(&self, p: Process) -> Result<Option<String>> {
        let o = crate::run::process::output(&p)?;
        Ok(o.ok.then(|| o.stdout.trim().to_string()))
    }
}

/// Pure: what to do with the notes ref, given what was read.
pub fn decide_sync(seen: &NotesSeen, remote: &str, push: bool) -> Result<SyncNeed> {
    if !seen.has_remote {
        if push {
            return Ok(SyncNeed::Done(format!(
                "no `{remote}` remote: the ledger stays in this clone"
            )));
        }
        bail!("no `{remote}` remote to fetch {NOTES_REF} from; add one, or drop --fetch");
    }
    match (&seen.local, &seen.remote) {
        (None, None) => Ok(SyncNeed::Done(format!(
            "no {NOTES_REF} here or on {remote}"
        ))),
        (Some(l), Some(r)) if l == r => Ok(SyncNeed::Done(format!(
            "{remote} has {NOTES_REF} at {}",
            short(l)
        ))),
        (None, Some(_)) if push => Ok(SyncNeed::Done(format!("no local {NOTES_REF} to push"))),
        (None, Some(_)) => Ok(SyncNeed::FastForward),
        (Some(_), None) if push => Ok(SyncNeed::Push),
        (Some(_), None) => Ok(SyncNeed::Done(format!("{remote} has no {NOTES_REF}"))),
        (Some(l), Some(_)) => {
            if seen.remote_known && seen.remote_in_local {
                if push {
                    Ok(SyncNeed::Push)
                } else {
                    Ok(SyncNeed::Done(format!(
                        "{NOTES_REF} at {} holds all of {remote}'s",
                        short(l)
                    )))
                }
            } else if seen.remote_known && seen.local_in_remote {
                if push {
                    Ok(SyncNeed::Done(format!(
                        "{remote} holds all the local notes"
                    )))
                } else {
                    Ok(SyncNeed::FastForward)
                }
            } else {
                Ok(SyncNeed::Merge)
            }
        }
    }
}

/// What [`decide_sync`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncNeed {
    Done(String),
    Push,
    FastForward,
    /// Both moved: fetch origin's aside, merge `cat_sort_uniq`.
    Merge,
}
impl Reconcile for SyncNotes {
    type Seen = NotesSeen;
    fn header(&self) -> String {
        if self.push {
            format!("push {NOTES_REF} to {}", self.remote)
        } else {
            format!("fetch {NOTES_REF} from {}", self.remote)
        }
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "when both sides moved, {}'s notes are fetched and merged (cat_sort_uniq: every record once) first",
            self.remote
        ))
    }
    fn planned(&self) -> Planned {
        let mut apply = vec![Sub::run(self.fetch_aside()), Sub::run(self.merge())];
        apply.push(Sub::run(if self.push {
            self.push_p()
        } else {
            self.fetch_ff()
        }));
        Planned {
            observe: self.reads(),
            apply,
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<NotesSeen> {
        let mut seen = NotesSeen {
            has_remote: self
                .ok(self.g(["remote", "get-url", &self.remote]))?
                .is_some(),
            local: self.ok(self.g(["rev-parse", "-q", "--verify", NOTES_REF]))?,
            ..NotesSeen::default()
        };
        if !seen.has_remote {
            return Ok(seen);
        }
        let listed = crate::run::process::output(&self.g(["ls-remote", &self.remote, NOTES_REF]))?;
        if !listed.ok {
            bail!(
                "cannot read {NOTES_REF} on {}: {}",
                self.remote,
                crate::facts::git::quote_error(&listed.stderr, "git ls-remote failed")
            );
        }
        seen.remote = listed
            .stdout
            .lines()
            .find_map(|l| l.split_whitespace().next().map(str::to_string));
        if let (Some(l), Some(r)) = (&seen.local, &seen.remote) {
            seen.remote_known = self
                .ok(self.g(["cat-file", "-e", &format!("{r}^{{commit}}")]))?
                .is_some();
            if seen.remote_known {
                let anc = |a: &str, b: &str| -> Result<bool> {
                    Ok(self
                        .ok(self.g(["merge-base", "--is-ancestor", a, b]))?
                        .is_some())
                };
                seen.remote_in_local = anc(r, l)?;
                seen.local_in_remote = anc(l, r)?;
            }
        }
        Ok(seen)
    }
    fn decide(&self, seen: &NotesSeen) -> Result<Decision> {
        Ok(match decide_sync(seen, &self.remote, self.push)? {
            SyncNeed::Done(why) => Decision::done(why),
            SyncNeed::Push => Decision::apply(
                vec![Sub::run(self.push_p())],
                format!("pushed {NOTES_REF} to {}", self.remote),
            ),
            SyncNeed::FastForward => Decision::apply(
                vec![Sub::run(self.fetch_ff())],
                format!("fetched {NOTES_REF} from {}", self.remote),
            ),
            SyncNeed::Merge => Decision::apply(
                vec![Sub::run(self.fetch_aside()), Sub::run(self.merge())],
                format!("merged {}'s {NOTES_REF} (cat_sort_uniq)", self.remote),
            ),
        })
    }
    fn rounds(&self) -> usize {
        4
    }
}

// ---------------------------------------------------------------------------------------------
// The GitHub release asset

/// Attaches the release's records (the note on its commit, this tag's records) to its GitHub
/// release as `ledger.json`: uploaded when absent, kept when the same, replaced (deleted, then
/// uploaded) when it holds fewer or other records.
#[derive(Debug)]
pub struct UploadLedger {
    pub gh: Gh,
    pub tag: String,
    pub commit: String,
    /// Where the file is written before the upload.
    pub path: PathBuf,
    pub root: PathBuf,
}

/// What [`UploadLedger`] reads.
#[derive(Debug, Clone)]
pub struct AssetSeen {
    /// The release (`None`: GitHub has none for the tag).
    pub release: Option<Json>,
    /// The note on the commit.
    pub note: String,
}

/// Pure: the content of `ledger.json` for `tag` from its commit's note.
pub fn asset_content(note: &str, tag: &str) -> String {
    let records: Vec<Json> = ledger::parse_blob(note)
        .0
        .iter()
        .filter(|r| r.tag == tag)
        .map(Record::to_json)
        .collect();
    format!(
        "{}\n",
        crate::core::json::pretty(
            &json!({"schema": "slipway.ledger-asset/1", "tag": tag, "records": records})
        )
    )
}

impl UploadLedger {
    fn get(&self) -> Process {
        self.gh.api([self.gh.release_by_tag_path(&self.tag)])
    }
    fn show(&self) -> Process {
        git(
            &self.root,
            ["notes", "--ref", NOTES_REF, "show", &self.commit],
        )
    }
    fn upload(&self, upload_url: &str) -> Process {
        let base = upload_url.split('{').next().unwrap_or(upload_url);
        self.gh.api([
            "-X".to_string(),
            "POST".into(),
            format!("{base}?name={ASSET}"),
            "--input".into(),
            self.path
                .strip_prefix(&self.gh.cwd)
                .unwrap_or(&self.path)
                .display()
                .to_string(),
            "-H".into(),
            "Content-Type: application/json".into(),
        ])
    }
    fn delete(&self, id: &str) -> Process {
        self.gh.api([
            "-X".to_string(),
            "DELETE".into(),
            format!("repos/{}/releases/assets/{id}", self.gh.repo),
        ])
    }
}

impl Reconcile for UploadLedger {
    type Seen = AssetSeen;
    fn header(&self) -> String {
        format!(
            "attach {ASSET} to the GitHub release {} in {}",
            self.tag, self.gh.repo
        )
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "kept when the release's {ASSET} has the same sha256; replaced when it holds other records"
        ))
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::run(self.get()), Sub::run(self.show())],
            apply: vec![
                Sub::Write {
                    path: self.path.clone(),
                    content: format!("<{ASSET}>"),
                },
                Sub::run(self.delete("<asset_id>")),
                Sub::run(self.upload("<upload_url>")),
            ],
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<AssetSeen> {
        let r = github::api(&self.get())?;
        let release = match r.status {
            200 => Some(r.body),
            404 => None,
            s => bail!("GitHub answered {s} for the release {}", self.tag),
        };
        let note = crate::run::process::output(&self.show()).map(|o| {
            if o.ok {
                o.stdout
            } else {
                String::new()
            }
        })?;
        Ok(AssetSeen { release, note })
    }
    fn decide(&self, seen: &AssetSeen) -> Result<Decision> {
        let Some(release) = &seen.release else {
            return Ok(Decision::done(format!(
                "GitHub has no release {}: {ASSET} not attached",
                self.tag
            )));
        };
        let content = asset_content(&seen.note, &self.tag);
        let sha = crate::core::sha256::digest_hex(content.as_bytes());
        let existing = release
            .get("assets")
            .and_then(Json::as_array)
            .and_then(|a| a.iter().find(|x| x["name"] == ASSET));
        let upload_url = release["upload_url"].as_str().unwrap_or_default();
        if upload_url.is_empty() {
            bail!("GitHub gave no upload_url for the release {}", self.tag);
        }
        let write = Sub::Write {
            path: self.path.clone(),
            content,
        };
        match existing {
            Some(a) if a["digest"].as_str() == Some(&format!("sha256:{sha}")) => {
                Ok(Decision::done(format!(
                    "the release has {ASSET} with the same records (sha256 {})",
                    short(&sha)
                )))
            }
            Some(a) => {
                let id = a["id"].as_u64().map(|i| i.to_string()).unwrap_or_default();
                Ok(Decision::apply(
                    vec![
                        write,
                        Sub::run(self.delete(&id)),
                        Sub::run(self.upload(upload_url)),
                    ],
                    format!("replaced {ASSET} on the release {}", self.tag),
                ))
            }
            None => Ok(Decision::apply(
                vec![write, Sub::run(self.upload(upload_url))],
                format!("attached {ASSET} to the release {}", self.tag),
            )),
        }
    }
    fn json(&self) -> Json {
        json!({"repo": self.gh.repo, "tag": self.tag, "asset": ASSET})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(
        local: Option<&str>,
        remote: Option<&str>,
        known: bool,
        r_in_l: bool,
        l_in_r: bool,
    ) -> NotesSeen {
        NotesSeen {
            has_remote: true,
            local: local.map(String::from),
            remote: remote.map(String::from),
            remote_known: known,
            remote_in_local: r_in_l,
            local_in_remote: l_in_r,
        }
    }

    #[test]
    fn sync_decisions_table() {
        use SyncNeed::*;
        let done = |n: &SyncNeed| matches!(n, Done(_));
        // (what was read, pushing?, is the decision right?)
        type Case = (NotesSeen, bool, fn(&SyncNeed) -> bool);
        let cases: &[Case] = &[
            (seen(None, None, false, false, false), true, done),
            (seen(Some("a"), Some("a"), true, true, true), true, done),
            (seen(Some("a"), None, false, false, false), true, |n| {
                *n == Push
            }),
            (seen(Some("b"), Some("a"), true, true, false), true, |n| {
                *n == Push
            }),
            (seen(Some("a"), Some("b"), true, false, true), true, done),
            // Both moved (or origin's commit is not here yet): fetch aside and merge.
            (seen(Some("a"), Some("b"), false, false, false), true, |n| {
                *n == Merge
            }),
            (seen(Some("a"), Some("b"), true, false, false), true, |n| {
                *n == Merge
            }),
            (seen(None, Some("b"), false, false, false), false, |n| {
                *n == FastForward
            }),
            (seen(Some("a"), Some("b"), true, false, true), false, |n| {
                *n == FastForward
            }),
            (seen(Some("b"), Some("a"), true, true, false), false, done),
            (
                seen(Some("a"), Some("b"), false, false, false),
                false,
                |n| *n == Merge,
            ),
        ];
        for (s, push, want) in cases {
            let got = decide_sync(s, "origin", *push).unwrap();
            assert!(want(&got), "{s:?} push={push}: {got:?}");
        }
        let none = NotesSeen::default();
        assert!(matches!(
            decide_sync(&none, "origin", true).unwrap(),
            Done(_)
        ));
        assert!(decide_sync(&none, "origin", false).is_err());
    }

    #[test]
    fn stages_from_step_records() {
        let ms = Duration::from_millis;
        let records = vec![
            (
                0,
                "build".to_string(),
                "done".to_string(),
                crate::run::concurrent::summary(
                    &[
                        ("python dists".into(), ms(0), ms(60)),
                        ("docker image".into(), ms(1), ms(99)),
                    ],
                    ms(100),
                ),
                ms(100),
            ),
            (
                1,
                "push".to_string(),
                "done".to_string(),
                String::new(),
                ms(200),
            ),
            (
                2,
                "upload".to_string(),
                "failed".to_string(),
                "boom".into(),
                ms(50),
            ),
        ];
        let stages = stages_of(&["build", "publish", "publish", "verify"], &records);
        let got: Vec<(&str, &str, u64, usize)> = stages
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.status.as_str(),
                    s.duration_ms,
                    s.steps.len(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("build", "ok", 100, 1),
                ("publish", "failed", 250, 2),
                ("verify", "not run", 0, 0)
            ]
        );
        // The lanes of the build step that ran them at the same time: the overlap shows.
        let lanes = &stages[0].steps[0].lanes;
        assert_eq!(
            lanes
                .iter()
                .map(|l| (l.label.as_str(), l.start_ms, l.duration_ms))
                .collect::<Vec<_>>(),
            [("python dists", 0, 60), ("docker image", 1, 99)]
        );
        assert!(stages[1].steps.iter().all(|s| s.lanes.is_empty()));
    }

    #[test]
    fn the_asset_holds_only_the_tags_records() {
        let a = Record {
            tag: "v1.0.0".into(),
            command: "publish-prod".into(),
            run: "a".into(),
            ..Record::default()
        };
        let b = Record {
            tag: "v1.0.0-rc.1".into(),
            ..a.clone()
        };
        let note = format!("{}\n\n{}\n", a.to_line(), b.to_line());
        let text = asset_content(&note, "v1.0.0");
        let v: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(v["records"].as_array().unwrap().len(), 1);
        assert_eq!(asset_content(&note, "v1.0.0"), text);
    }
}
