//! A [`Plan`] is the typed list of effects a command will have. Commands gather facts read-only,
//! build a plan, and hand it to the one executor (`exec.rs`). `--dry-run` renders the very same
//! plan with the very same renderer, so what it prints is what a real run executes.
//!
//! A step whose effect depends on real state is a [`Reconcile`]: it observes (read-only),
//! decides (pure) and returns typed [`Sub`]-steps the executor applies — the same sub-steps the
//! dry run lists as templates ([`Action::planned`]), `<name>` standing for values known only
//! when it runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};

use crate::run::ui::{self, Style, Ui};

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
}

#[derive(Debug)]
pub enum Step {
    /// Replace a file's content. Applied atomically (temp file + rename); rolled back if a later
    /// step fails before a [`Process::seals`] step has succeeded.
    Edit(FileEdit),
    /// Run a program (never through a shell).
    Run(Process),
    /// A typed step that checks real state when it runs (is the artifact already published,
    /// with the same content?) and then acts or skips with the evidence.
    Action(Box<dyn Action>),
}

/// A step whose execution depends on state it reads when it runs (publishing, verifying).
/// Its header and detail are what both the dry run and the real run show.
///
/// Most actions are [`Reconcile`] steps (observe → decide → apply, every effect a typed
/// [`Sub`]); this dyn-compatible trait is what the plan holds, and every `Reconcile` is one
/// (the adapter is in `exec.rs`). A few implement it directly: those that supervise a
/// long-lived child (a validation container, the rehearsal's services) — they still list
/// every sub-step they may take in [`Action::planned`].
pub trait Action: std::fmt::Debug + Send + Sync {
    /// One line naming the step.
    fn header(&self) -> String;
    /// At most a short rule under the header: why the step may skip or refuse. Never the
    /// commands as prose: those are [`Action::planned`].
    fn detail(&self) -> Option<String> {
        None
    }
    /// Every sub-step this step may take when it runs, as templates: `<name>` stands for a
    /// value known only then (`<venv>`, `<upload_url>`, `<docker.image.linux/amd64>`), and an
    /// argument ending in `…>` for one or more arguments. The dry run lists them (`observe` and
    /// `apply` in its JSON); a real run takes no other.
    fn planned(&self) -> Planned {
        Planned::default()
    }
    fn execute(&self, cx: &mut RunContext) -> anyhow::Result<Done>;
    /// Extra JSON describing the step (names, tags), secrets masked.
    fn json(&self) -> Json {
        Json::Null
    }
}

/// A step that reconciles real state with what the release wants:
///
/// 1. [`Reconcile::observe`] reads (captured read-only processes, HTTP GETs, files, values
///    recorded by earlier steps) into `Seen`;
/// 2. [`Reconcile::decide`] is pure — no process, file, network or clock — and returns the
///    typed sub-steps to apply, or that the state already is what the step would make it;
/// 3. the executor applies the sub-steps, then observes again, until `decide` says
///    [`Decision::Done`] (or [`Decision::Finish`]), within [`Reconcile::rounds`] — else the
///    step fails, naming itself. So a re-run completes what is missing, by construction.
pub trait Reconcile: std::fmt::Debug + Send + Sync {
    type Seen: std::fmt::Debug;
    fn header(&self) -> String;
    /// A short rule line for the plan (why it may skip or refuse).
    fn rule(&self) -> Option<String> {
        None
    }
    /// The templates of what `observe` reads and what `decide` may return.
    fn planned(&self) -> Planned;
    fn observe(&self, cx: &RunContext) -> anyhow::Result<Self::Seen>;
    /// Pure. `Err` refuses (a tag holding another image, an index file with another sha256).
    fn decide(&self, seen: &Self::Seen) -> anyhow::Result<Decision>;
    /// How many times sub-steps may be applied before the step counts as not converging.
    fn rounds(&self) -> usize {
        3
    }
    fn json(&self) -> Json {
        Json::Null
    }
}

/// What [`Reconcile::decide`] concluded from what it saw.
#[derive(Debug, Clone)]
pub enum Decision {
    /// The real state is what the step makes it: nothing (more) to do. `evidence` is why
    /// (shown when the step skipped); `record` are values later steps read.
    Done {
        evidence: String,
        record: Vec<(String, String)>,
    },
    /// Apply these, then observe again. `summary` is what they do (`<key>` placeholders are
    /// filled from the recorded values once the step is done).
    Apply { subs: Vec<Sub>, summary: String },
    /// Apply these and stop: their effect is not read back (a check tool's verdict, a build
    /// record written after the build was checked).
    Finish { subs: Vec<Sub>, summary: String },
    /// A verification that passed, nothing applied: `evidence` is what it proved.
    Verified(String),
}

impl Decision {
    pub fn done(evidence: impl Into<String>) -> Decision {
        Decision::Done {
            evidence: evidence.into(),
            record: Vec::new(),
        }
    }
    pub fn apply(subs: Vec<Sub>, summary: impl Into<String>) -> Decision {
        Decision::Apply {
            subs,
            summary: summary.into(),
        }
    }
    pub fn finish(subs: Vec<Sub>, summary: impl Into<String>) -> Decision {
        Decision::Finish {
            subs,
            summary: summary.into(),
        }
    }
    pub fn recording(mut self, key: impl Into<String>, value: impl Into<String>) -> Decision {
        if let Decision::Done { record, .. } = &mut self {
            record.push((key.into(), value.into()));
        }
        self
    }
    /// The sub-steps to apply (none for `Done`).
    pub fn subs(&self) -> &[Sub] {
        match self {
            Decision::Done { .. } | Decision::Verified(_) => &[],
            Decision::Apply { subs, .. } | Decision::Finish { subs, .. } => subs,
        }
    }
}

/// The templates a step lists: what it reads, and what it may apply.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    pub observe: Vec<Sub>,
    pub apply: Vec<Sub>,
}

impl Planned {
    pub fn apply(apply: Vec<Sub>) -> Planned {
        Planned {
            observe: Vec::new(),
            apply,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.observe.is_empty() && self.apply.is_empty()
    }
}

/// One typed effect the executor applies (or, in an `observe` list, one read).
#[derive(Debug, Clone)]
pub enum Sub {
    Run(Run),
    /// Write a file that is not a repository file (no before/after): atomically, parents
    /// created.
    Write {
        path: PathBuf,
        content: String,
    },
    /// Remove a file or directory tree (absent is fine).
    Remove(PathBuf),
    /// Create a directory and its parents (present is fine).
    Dir(PathBuf),
    Http(Request),
    /// A value later steps read (`RunContext::get`).
    Record(String, String),
    /// Lanes applied in parallel (one per registry): a failing lane does not stop the others;
    /// the step fails afterwards with every failure and what the other lanes completed.
    Parallel(Parallel),
    /// Fails the step with this message (a lane whose registry could not be read).
    Fail(String),
    /// A supervised check, applied as one sub-step: it keeps a child alive while it probes it
    /// (a validation container). The processes it may start are listed; its verdict is
    /// recorded under `key`.
    Probe {
        key: String,
        probe: std::sync::Arc<dyn Probe>,
    },
    /// HTTP requests a target's own client makes (a registry's token flow, a blob streamed
    /// from one registry to another): shown as those requests, made by the client.
    Call(std::sync::Arc<dyn Call>),
}

/// What a [`Sub::Call`] makes.
pub trait Call: std::fmt::Debug + Send + Sync {
    /// The requests it makes, in order (templates in a plan, concrete once decided).
    fn requests(&self) -> Vec<Request>;
    /// Makes them; `Ok` holds values to record (`RunContext::get`), `Err` fails the step.
    fn call(&self) -> anyhow::Result<Vec<(String, String)>>;
    /// [`Call::call`] given the values recorded so far, for a call whose inputs are `<key>`
    /// placeholders filled when it runs (a digest an earlier sub-step recorded).
    fn call_with(
        &self,
        values: &BTreeMap<String, String>,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let _ = values;
        self.call()
    }
}

/// What a [`Sub::Probe`] runs.
pub trait Probe: std::fmt::Debug + Send + Sync {
    /// Every process it may start (templates in a plan, concrete once decided).
    fn processes(&self) -> Vec<Process>;
    /// Runs the check; `Ok` is the verdict to record, `Err` fails the step.
    fn run(&self) -> anyhow::Result<String>;
}

impl Sub {
    pub fn run(p: Process) -> Sub {
        Sub::Run(Run::new(p))
    }
}

/// A process sub-step.
#[derive(Debug, Clone)]
pub struct Run {
    pub process: Process,
    /// Its failure is not the step's (removing a list that may not exist).
    pub tolerated: bool,
    /// Records a value parsed from its output (`docker push` → the pushed digest).
    pub capture: Option<(String, Func)>,
    /// Turns its error text into the sentence to show (`None`: the error as it is).
    pub explain: Option<Func>,
    /// Judges its answer whatever its exit status (`gh api --include` exits 1 on an HTTP
    /// error, and the status is the answer): the values to record, or the error sentence.
    pub verdict: Option<Verdict>,
}

/// What a finished process answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

type Judge = dyn Fn(&Answer) -> Result<Vec<(String, String)>, String> + Send + Sync;

/// A pure judgement of a process's answer (see [`Run::verdict`]).
#[derive(Clone)]
pub struct Verdict(pub std::sync::Arc<Judge>);

impl std::fmt::Debug for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verdict")
    }
}

impl Run {
    pub fn new(process: Process) -> Run {
        Run {
            process,
            tolerated: false,
            capture: None,
            explain: None,
            verdict: None,
        }
    }
    pub fn verdict(
        mut self,
        judge: impl Fn(&Answer) -> Result<Vec<(String, String)>, String> + Send + Sync + 'static,
    ) -> Run {
        self.verdict = Some(Verdict(std::sync::Arc::new(judge)));
        self
    }
    pub fn tolerated(mut self) -> Run {
        self.tolerated = true;
        self
    }
    pub fn capture(
        mut self,
        key: impl Into<String>,
        parse: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Run {
        self.capture = Some((key.into(), Func(std::sync::Arc::new(parse))));
        self
    }
    pub fn explain(
        mut self,
        explain: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Run {
        self.explain = Some(Func(std::sync::Arc::new(explain)));
        self
    }
    pub fn sub(self) -> Sub {
        Sub::Run(self)
    }
}

/// A pure text function carried by a sub-step (parse an output, explain an error).
#[derive(Clone)]
pub struct Func(pub std::sync::Arc<TextFn>);

type TextFn = dyn Fn(&str) -> Option<String> + Send + Sync;

impl std::fmt::Debug for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Func")
    }
}

/// An HTTP request sub-step (secrets in headers masked wherever it is shown).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, Val)>,
    pub body: Option<String>,
    /// Who answers, for errors (`the GitHub stand-in`).
    pub service: String,
}

impl Request {
    pub fn post_json(url: impl Into<String>, body: &Json, service: &str) -> Request {
        Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("Content-Type".into(), Val::Plain("application/json".into()))],
            body: Some(body.to_string()),
            service: service.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Parallel {
    /// What the lanes do, for the error (`pushing`).
    pub what: String,
    pub lanes: Vec<Lane>,
}

#[derive(Debug, Clone)]
pub struct Lane {
    /// Whose lane (`127.0.0.1:5000/acme/app`).
    pub label: String,
    pub subs: Vec<Sub>,
    /// Applied after `subs` whatever happened (a `docker logout`); their failure is ignored.
    pub finally: Vec<Sub>,
    /// What it did, once done (`<key>` placeholders filled from the recorded values).
    pub summary: String,
}

/// What an executed step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Did its work; the text says what (may be empty).
    Ran(String),
    /// Nothing to do: the real state already is what the step would make it; the text is the
    /// evidence (e.g. "sha256 matches on the index").
    Skipped(String),
}

/// What steps share while a plan runs: values one step produces and a later one reads (an image
/// ID, a digest), and the UI for relayed output.
pub struct RunContext<'a> {
    pub ui: &'a Ui,
    pub root: &'a Path,
    pub values: std::collections::BTreeMap<String, String>,
}

impl RunContext<'_> {
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_string(), value.into());
    }
    pub fn get(&self, key: &str) -> anyhow::Result<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| anyhow::anyhow!("internal error: no value `{key}` from an earlier step"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    /// Path shown to the user (relative to the repository root).
    pub display: String,
    pub path: PathBuf,
    pub before: String,
    pub after: String,
    /// The unified diff (uncoloured), computed once: headers, dry runs and real runs reuse it.
    pub diff: String,
    pub added: usize,
    pub removed: usize,
}

impl FileEdit {
    pub fn new(
        display: impl Into<String>,
        path: impl Into<PathBuf>,
        before: String,
        after: String,
    ) -> FileEdit {
        let display = display.into();
        let diff = unified_diff(&display, &before, &after);
        let (mut added, mut removed) = (0, 0);
        for line in diff.lines().skip(2) {
            if line.starts_with('+') {
                added += 1;
            } else if line.starts_with('-') {
                removed += 1;
            }
        }
        FileEdit {
            display,
            path: path.into(),
            before,
            after,
            diff,
            added,
            removed,
        }
    }
}

/// An environment value or stdin payload: plain, or a secret shown as `***`.
#[derive(Clone, PartialEq, Eq)]
pub enum Val {
    Plain(String),
    Secret(String),
}

impl std::fmt::Debug for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Plain(s) => write!(f, "{s:?}"),
            Val::Secret(_) => f.write_str("***"),
        }
    }
}

impl Val {
    pub fn shown(&self) -> &str {
        match self {
            Val::Plain(s) => s,
            Val::Secret(_) => "***",
        }
    }
    pub fn reveal(&self) -> &str {
        match self {
            Val::Plain(s) | Val::Secret(s) => s,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Process {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, Val)>,
    /// Variables removed from the inherited environment.
    pub env_remove: Vec<String>,
    pub cwd: PathBuf,
    pub stdin: Option<Val>,
    /// After this step succeeds, earlier file edits are kept even if a later step fails
    /// (e.g. `git commit`: the edits now live in history).
    pub seals: bool,
    /// Relay the program's output live (long-running steps like `cargo test`); otherwise it is
    /// captured and shown only on failure.
    pub stream: bool,
    /// What undoes this step when a later step fails before the plan is sealed
    /// (e.g. `git reset -- files` for `git add -- files`). Run only on rollback.
    pub undo: Option<Box<Process>>,
}

impl Process {
    pub fn new(program: &str, cwd: &Path) -> Process {
        Process {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            cwd: cwd.into(),
            stdin: None,
            seals: false,
            stream: false,
            undo: None,
        }
    }
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Process {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, key: &str, value: Val) -> Process {
        if let Val::Secret(s) = &value {
            crate::run::ui::register_secret(s);
        }
        self.env.push((key.to_string(), value));
        self
    }
    pub fn env_removed(mut self, key: &str) -> Process {
        self.env_remove.push(key.to_string());
        self
    }
    pub fn stdin(mut self, value: Val) -> Process {
        self.stdin = Some(value);
        self
    }
    pub fn sealing(mut self) -> Process {
        self.seals = true;
        self
    }
    pub fn undone_by(mut self, undo: Process) -> Process {
        self.undo = Some(Box::new(undo));
        self
    }
    pub fn streaming(mut self) -> Process {
        self.stream = true;
        self
    }

    /// The program and its arguments, shell-quoted, without the environment (secrets as
    /// `***` only where they are arguments registered as secrets: see `ui::redact`).
    pub fn args_line(&self) -> String {
        let mut parts = vec![quote(&self.program)];
        parts.extend(self.args.iter().map(|a| quote(a)));
        parts.join(" ")
    }

    /// The command line, shell-quoted for copy-paste, secrets as `***`.
    pub fn command_line(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v.shown())))
            .collect();
        parts.push(quote(&self.program));
        parts.extend(self.args.iter().map(|a| quote(a)));
        let mut s = parts.join(" ");
        if let Some(stdin) = &self.stdin {
            s.push_str(&format!(" <<< {}", quote(stdin.shown())));
        }
        s
    }
}

impl Plan {
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Renders the whole plan (the dry-run view) with the same per-step renderer the executor uses.
    pub fn render(&self, ui: &Ui, root: &Path) {
        self.render_marked(ui, root, &Default::default());
    }

    /// [`Plan::render`], with the problems that would make a real run refuse shown under the
    /// steps they stop (`marks`: step index → problems).
    pub fn render_marked(&self, ui: &Ui, root: &Path, marks: &BTreeMap<usize, Vec<String>>) {
        let total = self.steps.len();
        for (i, step) in self.steps.iter().enumerate() {
            let refused = marks.get(&i).filter(|m| !m.is_empty());
            let mark = if refused.is_some() {
                format!("{} ", ui.paint(Style::Red, "✗"))
            } else {
                String::new()
            };
            ui.line(&format!(
                "{mark}{} {}",
                ui.paint(Style::Dim, &format!("[{}/{total}]", i + 1)),
                step.header(root)
            ));
            for problem in refused.into_iter().flatten() {
                ui.detail(&format!(
                    "{} {}",
                    ui.paint(Style::Red, "✗ would refuse:"),
                    problem.replace('\n', "\n  ")
                ));
            }
            if let Some(detail) = step.detail(ui) {
                ui.detail(&detail);
            }
            if let Step::Action(a) = step {
                render_planned(ui, root, &a.planned());
            }
        }
    }

    pub fn to_json(&self, root: &Path) -> Json {
        self.to_json_marked(root, &Default::default())
    }

    /// [`Plan::to_json`], each step with the problems that would make a real run refuse it
    /// (`would_refuse`, when there are any).
    pub fn to_json_marked(&self, root: &Path, marks: &BTreeMap<usize, Vec<String>>) -> Json {
        Json::Array(
            self.steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut j = s.to_json(root);
                    if let (Some(m), Some(obj)) = (marks.get(&i), j.as_object_mut()) {
                        obj.insert("would_refuse".into(), json!(m));
                    }
                    j
                })
                .collect(),
        )
    }
}

impl Step {
    /// One line naming the step: what the executor prints before running it.
    pub fn header(&self, root: &Path) -> String {
        match self {
            Step::Edit(e) => format!("edit {} (+{} -{})", e.display, e.added, e.removed),
            Step::Run(p) => {
                let mut s = format!("run {}", p.command_line());
                if p.cwd != root {
                    let shown = p.cwd.strip_prefix(root).unwrap_or(&p.cwd);
                    s.push_str(&format!("  (in {})", shown.display()));
                }
                ui::redact(&s)
            }
            Step::Action(a) => ui::redact(&a.header()),
        }
    }

    /// Extra lines under the header: the unified diff of an edit.
    pub fn detail(&self, ui: &Ui) -> Option<String> {
        match self {
            Step::Edit(e) => Some(paint_diff(ui, &e.diff)),
            Step::Run(_) => None,
            Step::Action(a) => a.detail().map(|d| ui::redact(&d)),
        }
    }

    pub fn to_json(&self, root: &Path) -> Json {
        match self {
            Step::Edit(e) => json!({
                "kind": "edit",
                "header": self.header(root),
                "path": e.display,
                "diff": e.diff,
            }),
            Step::Run(p) => {
                let mut j = process_json(p, root);
                if let Some(obj) = j.as_object_mut() {
                    obj.insert("kind".into(), json!("run"));
                    obj.insert("header".into(), json!(self.header(root)));
                }
                j
            }
            Step::Action(a) => {
                let planned = a.planned();
                json!({
                    "kind": "action",
                    "header": self.header(root),
                    "detail": a.detail().map(|d| ui::redact(&d)),
                    "observe": planned.observe.iter().map(|s| sub_json(s, root)).collect::<Vec<_>>(),
                    "apply": planned.apply.iter().map(|s| sub_json(s, root)).collect::<Vec<_>>(),
                    "data": a.json(),
                })
            }
        }
    }
}

/// A process as the JSON plan shows it (secrets masked).
pub fn process_json(p: &Process, root: &Path) -> Json {
    json!({
        "program": p.program,
        "args": p.args.iter().map(|a| ui::redact(a)).collect::<Vec<_>>(),
        "env": p.env.iter().map(|(k, v)| json!([k, v.shown()])).collect::<Vec<_>>(),
        "cwd": p.cwd.strip_prefix(root).unwrap_or(&p.cwd).display().to_string(),
        "stdin": p.stdin.as_ref().map(|s| s.shown().to_string()),
    })
}

/// A sub-step as the JSON plan shows it (secrets masked): `kind` is `run`, `write`, `remove`,
/// `dir`, `http`, `record`, `parallel`, `fail` or `probe` (its `processes` are `run` items).
pub fn sub_json(sub: &Sub, root: &Path) -> Json {
    let shown = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut j = match sub {
        Sub::Run(r) => {
            let mut j = process_json(&r.process, root);
            if r.tolerated {
                j["tolerated"] = json!(true);
            }
            if let Some((key, _)) = &r.capture {
                j["records"] = json!(key);
            }
            j
        }
        Sub::Write { path, content } if is_placeholder(content) => {
            json!({"path": shown(path), "content": content})
        }
        Sub::Write { path, content } => json!({"path": shown(path), "bytes": content.len()}),
        Sub::Remove(path) | Sub::Dir(path) => json!({"path": shown(path)}),
        Sub::Http(r) => request_json(r),
        Sub::Call(c) => json!({
            "requests": c.requests().iter().map(request_json).collect::<Vec<_>>(),
        }),
        Sub::Record(k, v) => json!({"key": k, "value": ui::redact(v)}),
        Sub::Parallel(p) => json!({
            "what": p.what,
            "lanes": p.lanes.iter().map(|l| json!({
                "label": ui::redact(&l.label),
                "subs": l.subs.iter().map(|s| sub_json(s, root)).collect::<Vec<_>>(),
                "finally": l.finally.iter().map(|s| sub_json(s, root)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
        Sub::Fail(msg) => json!({"message": ui::redact(msg)}),
        Sub::Probe { key, probe } => json!({
            "records": key,
            "processes": probe.processes().iter().map(|p| {
                let mut j = process_json(p, root);
                j["kind"] = json!("run");
                j
            }).collect::<Vec<_>>(),
        }),
    };
    j["kind"] = json!(sub_kind(sub));
    j
}

fn request_json(r: &Request) -> Json {
    json!({
        "method": r.method,
        "url": ui::redact(&r.url),
        "headers": r.headers.iter().map(|(k, v)| json!([k, ui::redact(v.shown())])).collect::<Vec<_>>(),
        "body": r.body.as_ref().map(|b| ui::redact(b)),
    })
}

/// A template's stand-in for content known only when it runs (`<record>`).
fn is_placeholder(text: &str) -> bool {
    text.starts_with('<') && text.ends_with('>') && !text.contains('\n')
}

fn sub_kind(sub: &Sub) -> &'static str {
    match sub {
        Sub::Run(_) => "run",
        Sub::Write { .. } => "write",
        Sub::Remove(_) => "remove",
        Sub::Dir(_) => "dir",
        Sub::Http(_) => "http",
        Sub::Record(..) => "record",
        Sub::Parallel(_) => "parallel",
        Sub::Fail(_) => "fail",
        Sub::Probe { .. } => "probe",
        Sub::Call(_) => "call",
    }
}

/// One line per sub-step, for people: `$ program args…`, `POST url`, `write path`… (secrets
/// masked); lanes indented under `in parallel`.
pub fn sub_lines(sub: &Sub, root: &Path) -> Vec<String> {
    let shown = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    match sub {
        Sub::Run(r) => {
            // Variables passed on with the value this process already has (PATH, a proxy) are
            // left out of the line; the JSON plan lists every one.
            let mut p = r.process.clone();
            p.env.retain(|(k, v)| {
                matches!(v, Val::Secret(_)) || std::env::var(k).ok().as_deref() != Some(v.reveal())
            });
            let mut s = format!("$ {}", ui::redact(&p.command_line()));
            if r.process.cwd != root {
                s.push_str(&format!("  (in {})", shown(&r.process.cwd)));
            }
            if r.tolerated {
                s.push_str("  (may fail)");
            }
            if let Some((key, _)) = &r.capture {
                s.push_str(&format!("  → <{key}>"));
            }
            vec![s]
        }
        Sub::Write { path, content } => {
            let what = if is_placeholder(content) {
                content.clone()
            } else {
                format!("{} bytes", content.len())
            };
            vec![format!("write {} ({what})", shown(path))]
        }
        Sub::Remove(path) => vec![format!("remove {}", shown(path))],
        Sub::Dir(path) => vec![format!("create directory {}", shown(path))],
        Sub::Http(r) => vec![request_line(r)],
        Sub::Call(c) => c.requests().iter().map(request_line).collect(),
        Sub::Record(k, v) => vec![format!("record <{k}> = {}", ui::redact(v))],
        Sub::Parallel(p) => {
            let mut out = vec![format!("in parallel ({}):", p.what)];
            for lane in &p.lanes {
                out.push(format!("  {}:", ui::redact(&lane.label)));
                for s in &lane.subs {
                    out.extend(sub_lines(s, root).into_iter().map(|l| format!("    {l}")));
                }
                for s in &lane.finally {
                    out.extend(
                        sub_lines(s, root)
                            .into_iter()
                            .map(|l| format!("    finally: {l}")),
                    );
                }
            }
            out
        }
        Sub::Fail(msg) => vec![format!("fail: {}", ui::redact(msg))],
        Sub::Probe { key, probe } => {
            let mut out = vec![format!("probe → <{key}>:")];
            for p in probe.processes() {
                out.extend(
                    sub_lines(&Sub::run(p), root)
                        .into_iter()
                        .map(|l| format!("  {l}")),
                );
            }
            out
        }
    }
}

/// `METHOD url  body` (secrets masked).
fn request_line(r: &Request) -> String {
    let mut s = format!("{} {}", r.method, ui::redact(&r.url));
    if let Some(b) = &r.body {
        s.push_str(&format!("  {}", ui::redact(b)));
    }
    s
}

/// The dry-run view of an action's sub-steps.
fn render_planned(ui: &Ui, root: &Path, planned: &Planned) {
    for (title, subs) in [
        ("reads:", &planned.observe),
        ("then, as needed (<…>: known when it runs):", &planned.apply),
    ] {
        if subs.is_empty() {
            continue;
        }
        ui.detail(&ui.paint(Style::Dim, title));
        for s in subs {
            for line in sub_lines(s, root) {
                ui.detail(&format!("  {line}"));
            }
        }
    }
}

/// A unified diff (3 lines of context).
pub fn unified_diff(name: &str, before: &str, after: &str) -> String {
    crate::core::diff::unified(&format!("a/{name}"), &format!("b/{name}"), before, after, 3)
}

/// A unified diff for people: coloured when the UI is, with the CR of CRLF lines made visible.
pub fn paint_diff(ui: &Ui, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let line = line.strip_suffix('\n').unwrap_or(line);
        // Show a CR of a CRLF line visibly instead of letting the terminal swallow it.
        let shown = match line.strip_suffix('\r') {
            Some(l) => format!("{l}␍"),
            None => line.to_string(),
        };
        let styled = if line.starts_with("+++") || line.starts_with("---") {
            ui.paint(Style::Bold, &shown)
        } else if line.starts_with('+') {
            ui.paint(Style::Green, &shown)
        } else if line.starts_with('-') {
            ui.paint(Style::Red, &shown)
        } else if line.starts_with("@@") {
            ui.paint(Style::Cyan, &shown)
        } else {
            shown
        };
        out.push_str(&styled);
        out.push('\n');
    }
    out
}

/// Quotes an argument for display the way a POSIX shell would read it back.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_copy_pasteable_and_hide_secrets() {
        let mut p = Process::new("docker", Path::new("/r")).args([
            "login",
            "-u",
            "bob",
            "--password-stdin",
            "it's",
        ]);
        p.env.push(("TOKEN".into(), Val::Secret("s3cr3t".into())));
        p.stdin = Some(Val::Secret("s3cr3t".into()));
        assert_eq!(
            p.command_line(),
            "TOKEN='***' docker login -u bob --password-stdin 'it'\\''s' <<< '***'"
        );
        assert!(!format!("{p:?}").contains("s3cr3t"));
        let step =
            Step::Run(Process::new("git", Path::new("/r/sub")).args(["commit", "-m", "a b"]));
        assert_eq!(
            step.header(Path::new("/r")),
            "run git commit -m 'a b'  (in sub)"
        );
    }

    #[test]
    fn edit_header_and_diff() {
        let step = Step::Edit(FileEdit::new(
            "pyproject.toml",
            "/r/pyproject.toml",
            "a\nversion = \"1.2.3\"\nb\n".into(),
            "a\nversion = \"1.3.0\"\nb\n".into(),
        ));
        assert_eq!(step.header(Path::new("/r")), "edit pyproject.toml (+1 -1)");
        let expect = expect_test::expect![[r#"
            --- a/pyproject.toml
            +++ b/pyproject.toml
            @@ -1,3 +1,3 @@
             a
            -version = "1.2.3"
            +version = "1.3.0"
             b
        "#]];
        expect.assert_eq(&step.detail(&Ui::plain()).unwrap());
    }

    #[test]
    fn diff_shows_crlf_and_missing_newline() {
        let d = paint_diff(&Ui::plain(), &unified_diff("f", "x\r\nv1", "x\r\nv2"));
        assert!(d.contains(" x␍\n"), "{d}");
        assert!(d.contains("\\ No newline at end of file"), "{d}");
    }
}
