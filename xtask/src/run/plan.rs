//! A [`Plan`] is the typed list of effects a command will have. Commands gather facts read-only,
//! build a plan, and hand it to the one executor (`exec.rs`). `--dry-run` renders the very same
//! plan with the very same renderer, so what it prints is what a real run executes.

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
pub trait Action: std::fmt::Debug + Send + Sync {
    /// One line naming the step.
    fn header(&self) -> String;
    /// Lines under the header in the plan: the commands and requests it makes, what it checks.
    fn detail(&self) -> Option<String> {
        None
    }
    /// Every process this step may start when it runs (observing the real state, then acting),
    /// as templates: `<name>` stands for a value known only then (`<venv>`, `<upload_url>`), and
    /// an argument ending in `…>` for one or more arguments. The dry run lists them (`processes`
    /// in its JSON); `execute` starts no other process.
    fn planned(&self) -> Vec<Process> {
        Vec::new()
    }
    fn execute(&self, cx: &mut RunContext) -> anyhow::Result<Done>;
    /// Extra JSON describing the step (commands, URLs), secrets masked.
    fn json(&self) -> Json {
        Json::Null
    }
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
                let planned = a.planned();
                if !planned.is_empty() {
                    ui.detail(&ui.paint(Style::Dim, "runs (as needed; <…>: known when it runs):"));
                    for p in planned {
                        ui.detail(&format!("  $ {}", ui::redact(&p.command_line())));
                    }
                }
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
            Step::Action(a) => json!({
                "kind": "action",
                "header": self.header(root),
                "detail": a.detail().map(|d| ui::redact(&d)),
                "processes": a.planned().iter().map(|p| process_json(p, root)).collect::<Vec<_>>(),
                "data": a.json(),
            }),
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
