//! Everything the tool prints goes through here: colour (honouring `NO_COLOR`), GitHub Actions
//! folding and annotations, a live step list with timings, and redaction of registered secrets.
//!
//! Streams: stdout carries the command's output (with `--json`, exactly one JSON document and
//! nothing else); GitHub Actions workflow commands (`::add-mask::`, `::group::`, `::endgroup::`,
//! `::warning::`, `::error::`) always go to stderr, which the runner reads too. A closed pipe on
//! either stream is ignored (`… | head` ends the output quietly, never a panic).

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Registers a secret value: from now on it is replaced by `***` in everything printed.
pub fn register_secret(value: &str) {
    if value.len() >= 3 {
        let mut s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
        if !s.iter().any(|v| v == value) {
            if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") && !cfg!(test) {
                // The runner masks it in the job log too, whatever prints it. On stderr: stdout
                // may be a JSON document.
                emit(&mut std::io::stderr(), &format!("::add-mask::{value}\n"));
            }
            s.push(value.to_string());
            // Longest first, so a secret containing another is masked whole.
            s.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }
}

/// Masks every registered secret in `text`.
pub fn redact(text: &str) -> String {
    let s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for v in s.iter() {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), "***");
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bold,
    Dim,
    Green,
    Red,
    Yellow,
    Cyan,
}

#[derive(Debug, Clone)]
pub struct Ui {
    pub color: bool,
    /// stdout is a terminal (live step list).
    pub tty: bool,
    /// Running in GitHub Actions: `::group::` folding and `::error::` annotations.
    pub gha: bool,
    /// Machine output owns stdout: human lines go to stderr.
    pub json: bool,
    /// A live step line is open (printed without its newline) and will be rewritten at its end.
    pending: Cell<bool>,
    /// Written with `print!`/`eprint!`, which a test harness captures (see [`Ui::captured`]).
    captured: bool,
}

impl Ui {
    pub fn detect(json: bool) -> Ui {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let force = std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0");
        let gha = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
        let human_tty = if json {
            std::io::stderr().is_terminal()
        } else {
            tty
        };
        Ui {
            color: !no_color && (force || (human_tty && !dumb)),
            tty: human_tty && !dumb,
            gha,
            json,
            pending: Cell::new(false),
            captured: false,
        }
    }

    /// The output of one lane of steps run at the same time as others: no live line to rewrite
    /// (lines of two lanes interleave), no `::group::` (groups do not nest across lanes).
    pub fn for_lane(&self) -> Ui {
        Ui {
            color: self.color,
            tty: false,
            gha: false,
            json: self.json,
            pending: Cell::new(false),
            captured: self.captured,
        }
    }

    /// Plain output, for tests.
    pub fn plain() -> Ui {
        Ui {
            color: false,
            tty: false,
            gha: false,
            json: false,
            pending: Cell::new(false),
            captured: false,
        }
    }

    /// Plain output that the test harness captures: for tests that execute plans in-process
    /// (an expected failure's `✗` lines then stay out of the CI log unless the test fails).
    pub fn captured() -> Ui {
        Ui {
            captured: true,
            ..Ui::plain()
        }
    }

    pub fn paint(&self, style: Style, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match style {
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Green => "32",
            Style::Red => "31",
            Style::Yellow => "33",
            Style::Cyan => "36",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// A human line (redacted), to stdout, or stderr when stdout carries JSON.
    pub fn line(&self, text: &str) {
        self.close_pending();
        self.write(&format!("{}\n", redact(text)));
    }

    fn write(&self, text: &str) {
        if self.captured {
            if self.json {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
        } else if self.json {
            emit(&mut std::io::stderr(), text);
        } else {
            emit(&mut std::io::stdout(), text);
        }
    }

    fn close_pending(&self) {
        if self.pending.replace(false) {
            self.write("\n");
        }
    }

    /// The command's primary output (e.g. release notes) on stdout as is, secrets masked.
    pub fn raw(&self, text: &str) {
        self.close_pending();
        if self.captured {
            print!("{}", redact(text));
            return;
        }
        emit(&mut std::io::stdout(), &redact(text));
    }

    pub fn heading(&self, text: &str) {
        self.line(&self.paint(Style::Bold, text));
    }

    pub fn note(&self, text: &str) {
        self.line(&format!("{} {text}", self.paint(Style::Cyan, "note:")));
    }

    pub fn warn(&self, text: &str) {
        if self.gha {
            self.workflow(&format!("::warning::{}", gha_escape(&redact(text))));
        } else {
            self.line(&format!("{} {text}", self.paint(Style::Yellow, "warning:")));
        }
    }

    /// A GitHub Actions workflow command: always on stderr, never in stdout's document.
    fn workflow(&self, text: &str) {
        self.close_pending();
        emit(&mut std::io::stderr(), &format!("{text}\n"));
    }

    /// Errors always go to stderr.
    pub fn error(&self, text: &str) {
        self.error_at(text, None);
    }

    /// An error about a place in a file: in GitHub Actions an annotation on that file and line.
    pub fn error_at(&self, text: &str, place: Option<&crate::Place>) {
        self.close_pending();
        let text = redact(text);
        if self.gha {
            let props = place.map(|p| p.annotation()).unwrap_or_default();
            self.workflow(&format!("::error{props}::{}", gha_escape(&text)));
        } else {
            emit(
                &mut std::io::stderr(),
                &format!("{} {text}\n", self.paint(Style::Red, "error:")),
            );
        }
    }

    /// Starts step `n` of `total`: in GitHub Actions a fold, elsewhere a bold header.
    pub fn step_start(&self, n: usize, total: usize, header: &str) {
        let counter = format!("[{n}/{total}]");
        if self.gha {
            self.workflow(&redact(&format!("::group::{counter} {header}")));
        } else if self.tty {
            // Live: the line stays open and is replaced by the result line when the step ends,
            // unless something else is printed in between.
            self.close_pending();
            self.write(&redact(&format!(
                "{} {} …",
                self.paint(Style::Dim, &counter),
                self.paint(Style::Bold, header)
            )));
            self.pending.set(true);
        } else {
            self.line(&format!(
                "{} {}",
                self.paint(Style::Dim, &counter),
                self.paint(Style::Bold, header)
            ));
        }
    }

    pub fn step_end(&self, n: usize, total: usize, header: &str, ok: bool, took: Duration) {
        if self.gha {
            self.workflow("::endgroup::");
        }
        if self.pending.replace(false) {
            self.write("\r\x1b[2K");
        }
        let mark = if ok {
            self.paint(Style::Green, "✓")
        } else {
            self.paint(Style::Red, "✗")
        };
        let short: String = header.chars().take(72).collect();
        let ellipsis = if short.len() < header.len() {
            "…"
        } else {
            ""
        };
        self.line(&format!(
            "{mark} {} {short}{ellipsis} {}",
            self.paint(Style::Dim, &format!("[{n}/{total}]")),
            self.paint(Style::Dim, &format!("({})", human_duration(took)))
        ));
    }

    /// A step that found nothing to do, with the evidence.
    pub fn step_skipped(&self, n: usize, total: usize, header: &str, why: &str, took: Duration) {
        if self.gha {
            self.workflow("::endgroup::");
        }
        if self.pending.replace(false) {
            self.write("\r\x1b[2K");
        }
        let short: String = header.chars().take(72).collect();
        let ellipsis = if short.len() < header.len() {
            "…"
        } else {
            ""
        };
        self.line(&format!(
            "{} {} {short}{ellipsis} {} {}",
            self.paint(Style::Cyan, "="),
            self.paint(Style::Dim, &format!("[{n}/{total}]")),
            self.paint(Style::Cyan, &format!("skipped: {why}")),
            self.paint(Style::Dim, &format!("({})", human_duration(took)))
        ));
    }

    /// A titled block of captured output (a gate's): in GitHub Actions a `::group::` fold
    /// holding all of it, elsewhere the title and the text indented.
    pub fn fold(&self, title: &str, text: &str) {
        if self.gha {
            // One stream for the fold and what it holds, so the runner sees them in order.
            self.workflow(&redact(&format!("::group::{title}\n{text}\n::endgroup::")));
        } else {
            self.detail(title);
            self.detail(text);
        }
    }

    /// Prints a block of detail lines (a diff, relayed output), indented.
    pub fn detail(&self, text: &str) {
        for l in text.lines() {
            self.line(&format!("    {l}"));
        }
    }
}

/// Writes and flushes, ignoring a closed pipe (`… | head` must not panic). Under test, goes
/// through print! so the harness captures it.
fn emit(out: &mut dyn Write, text: &str) {
    if cfg!(test) {
        print!("{text}");
    } else {
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

static JSON_DEFERRED: AtomicBool = AtomicBool::new(false);
static JSON_DOC: Mutex<Option<serde_json::Value>> = Mutex::new(None);

/// Machine output: pretty JSON on stdout (secrets masked). Under [`defer_json`] it is kept
/// instead, for [`finish_json`] to print as the one document of the run.
pub fn print_json(value: &serde_json::Value) {
    if JSON_DEFERRED.load(Ordering::SeqCst) {
        *JSON_DOC.lock().unwrap_or_else(|e| e.into_inner()) = Some(value.clone());
        return;
    }
    write_json(value);
}

fn write_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    emit(&mut std::io::stdout(), &format!("{}\n", redact(&text)));
}

/// From now on [`print_json`] keeps its document for [`finish_json`] (`--json` runs: stdout
/// carries exactly one document, also when the command fails after producing one).
pub fn defer_json() {
    JSON_DEFERRED.store(true, Ordering::SeqCst);
}

/// Prints the run's one JSON document. `failure`: the error summary and the problems, merged into
/// the command's own document when it produced one (e.g. a failed publish's report; `error` and
/// `problems` it set itself are kept), else alone: `{"error": "...", "problems": [...]}`.
pub fn finish_json(failure: Option<(String, Vec<serde_json::Value>)>) {
    let doc = JSON_DOC.lock().unwrap_or_else(|e| e.into_inner()).take();
    let doc = match (doc, failure) {
        (Some(doc), None) => doc,
        (None, None) => return,
        (doc, Some((error, problems))) => {
            let mut obj = match doc {
                Some(serde_json::Value::Object(o)) => o,
                Some(other) => {
                    let mut o = serde_json::Map::new();
                    o.insert("result".into(), other);
                    o
                }
                None => serde_json::Map::new(),
            };
            // A command that described its own failure keeps its words.
            obj.entry("error")
                .or_insert(serde_json::Value::String(error));
            obj.entry("problems")
                .or_insert(serde_json::Value::Array(problems));
            serde_json::Value::Object(obj)
        }
    };
    write_json(&doc);
}

/// Text on stdout as is (help, version, a completion script); a closed pipe ends it quietly.
pub fn print_stdout(text: &str) {
    let mut text = text.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    emit(&mut std::io::stdout(), &text);
}

/// Escapes a message for a workflow command (`::error::…`).
pub fn gha_escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub fn human_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{:.2} ms", ms)
    } else if ms < 1000.0 {
        format!("{:.0} ms", ms)
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!(
            "{}m{:02}s",
            (ms / 60_000.0) as u64,
            ((ms / 1000.0) as u64) % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_masks_registered_values_longest_first() {
        register_secret("hunter2-token");
        register_secret("hunter2");
        register_secret("ab"); // too short to mask safely: ignored
        assert_eq!(
            redact("user:hunter2-token pw=hunter2 ab"),
            "user:*** pw=*** ab"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(Duration::from_micros(250)), "0.25 ms");
        assert_eq!(human_duration(Duration::from_millis(42)), "42 ms");
        assert_eq!(human_duration(Duration::from_millis(4200)), "4.2 s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2m05s");
    }

    #[test]
    fn paint_respects_color_flag() {
        let ui = Ui::plain();
        assert_eq!(ui.paint(Style::Red, "x"), "x");
        let ui = Ui {
            color: true,
            ..Ui::plain()
        };
        assert_eq!(ui.paint(Style::Red, "x"), "\x1b[31mx\x1b[0m");
        assert_eq!(gha_escape("a\nb%"), "a%0Ab%25");
    }
}
