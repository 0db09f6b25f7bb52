//! slipway: one-command releases for repositories that ship a Python package and a Docker image.
//!
//! Every command gathers facts read-only, builds a [`plan::Plan`], and hands it to the one
//! executor; `--dry-run` renders the same plan instead. The library holds everything; the binary
//! (`main.rs`) only calls [`run_main`]. Integration tests and `rehearse` share its service
//! starters.

pub mod cli;
pub mod cmd;
pub mod core;
pub mod facts;
pub mod rig;
pub mod run;
pub mod targets;

use std::fmt;
use std::process::ExitCode;

/// Exit code for invalid input (usage, malformed files, bad versions).
pub const EXIT_INVALID: u8 = 2;
/// Exit code for a refusal or failure (dirty tree, drift, a step that failed).
pub const EXIT_FAILURE: u8 = 1;

/// Where a problem is: a file relative to the repository root, and a line when known. In GitHub
/// Actions the `::error::` annotation carries it (`file=`, `line=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: String,
    pub line: Option<usize>,
}

impl Place {
    pub fn file(file: impl Into<String>) -> Place {
        Place {
            file: file.into(),
            line: None,
        }
    }

    pub fn line(mut self, line: usize) -> Place {
        self.line = (line > 0).then_some(line);
        self
    }

    /// The place a message names by convention, when it was recorded without one:
    /// `file[:line]: …` at its start (a path-like word: no spaces, a dot or a slash, no URL), and
    /// a line from `file:N` or `… at line N` / `… line N`.
    pub fn guess(msg: &str) -> Option<Place> {
        let (head, _) = msg.split_once(": ")?;
        let (file, line) = match head.rsplit_once(':') {
            Some((f, n)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
                (f, n.parse().ok())
            }
            _ => (head, None),
        };
        let pathlike = !file.is_empty()
            && !file.contains(char::is_whitespace)
            && !file.contains("://")
            && (file.contains('.') || file.contains('/'))
            && !file.starts_with(['`', '[', '(', '"', '\'', '-', '.'])
            && file.chars().any(|c| c.is_ascii_alphabetic());
        if !pathlike {
            return None;
        }
        let place = Place::file(file);
        Some(match line.or_else(|| line_in(msg)) {
            Some(n) => place.line(n),
            None => place,
        })
    }

    /// `file=…,line=…` properties of a workflow command, with the leading space.
    pub fn annotation(&self) -> String {
        let esc = |s: &str| {
            s.replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A")
                .replace(':', "%3A")
                .replace(',', "%2C")
        };
        match self.line {
            Some(n) => format!(" file={},line={n}", esc(&self.file)),
            None => format!(" file={}", esc(&self.file)),
        }
    }
}

/// `N` from `line N` in a message.
fn line_in(msg: &str) -> Option<usize> {
    let at = msg.find("line ")?;
    let digits: String = msg[at + 5..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Everything that stops a command before it changes anything, reported together.
#[derive(Debug, Default)]
pub struct Problems {
    pub list: Vec<String>,
    pub invalid_input: bool,
    /// The places of the problems recorded with one (`*_at`), by message.
    pub places: Vec<(String, Place)>,
}

impl Problems {
    /// A problem with the user's input (exit 2).
    pub fn invalid(&mut self, msg: impl Into<String>) {
        self.list.push(msg.into());
        self.invalid_input = true;
    }
    /// A problem with the repository's state (exit 1).
    pub fn failure(&mut self, msg: impl Into<String>) {
        self.list.push(msg.into());
    }
    /// [`Problems::invalid`] about a place in a file.
    pub fn invalid_at(&mut self, place: Place, msg: impl Into<String>) {
        let msg = msg.into();
        self.places.push((msg.clone(), place));
        self.invalid(msg);
    }
    /// [`Problems::failure`] about a place in a file.
    pub fn failure_at(&mut self, place: Place, msg: impl Into<String>) {
        let msg = msg.into();
        self.places.push((msg.clone(), place));
        self.failure(msg);
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// `Err(Refusal)` when there is any problem.
    pub fn check(self, what: &str) -> anyhow::Result<()> {
        if self.list.is_empty() {
            return Ok(());
        }
        Err(Refusal {
            what: what.to_string(),
            code: if self.invalid_input {
                EXIT_INVALID
            } else {
                EXIT_FAILURE
            },
            problems: self.list,
            places: self.places,
        }
        .into())
    }
}

/// A command refused to run; nothing was changed.
#[derive(Debug)]
pub struct Refusal {
    pub what: String,
    pub code: u8,
    pub problems: Vec<String>,
    /// Places of problems, by message (see [`Place`]); others are guessed from their text.
    pub places: Vec<(String, Place)>,
}

impl Refusal {
    /// Where `problem` is: recorded with it, else named by its text.
    pub fn place_of(&self, problem: &str) -> Option<Place> {
        self.places
            .iter()
            .find(|(m, _)| m == problem)
            .map(|(_, p)| match p.line {
                None => match line_in(problem) {
                    Some(n) => p.clone().line(n),
                    None => p.clone(),
                },
                Some(_) => p.clone(),
            })
            .or_else(|| Place::guess(problem))
    }

    /// The one-line summary: the problem itself when there is one, else a count.
    pub fn summary(&self) -> String {
        match self.problems.as_slice() {
            [one] => one.clone(),
            list => format!(
                "{} refused, nothing was changed ({} problems)",
                self.what,
                list.len()
            ),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [one] = self.problems.as_slice() {
            return f.write_str(one);
        }
        write!(
            f,
            "{} refused, nothing was changed ({} problems):",
            self.what,
            self.problems.len()
        )?;
        for p in &self.problems {
            write!(f, "\n  - {}", p.replace('\n', "\n    "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Refusal {}

/// A usage error (exit 2).
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    Refusal {
        what: "the command".into(),
        code: EXIT_INVALID,
        problems: vec![msg.into()],
        places: Vec::new(),
    }
    .into()
}

/// The command line entry point.
pub fn run_main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let ui = run::ui::Ui::detect(json);
    if json {
        run::ui::defer_json();
    }
    let result = cli::run(args, &ui);
    // For `rehearse`'s accounting: how long this process waited for the tools it drives.
    if let Some(path) = std::env::var_os("SLIPWAY_CHILD_TIME_FILE") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = std::io::Write::write_all(
                &mut f,
                format!(
                    "{} {}\n",
                    run::exec::child_time().as_nanos(),
                    run::exec::child_busy().as_nanos()
                )
                .as_bytes(),
            );
        }
    }
    let (code, failure) = match result {
        Ok(0) => (0, None),
        Ok(code) => (
            code,
            Some((format!("the command failed (exit code {code})"), Vec::new())),
        ),
        Err(err) => {
            let (code, summary, problems) = report(&ui, &err);
            (code, Some((summary, problems)))
        }
    };
    if json {
        run::ui::finish_json(failure);
    }
    ExitCode::from(code)
}

/// Reports an error on stderr (in GitHub Actions one annotation per problem, with its place) and
/// returns the exit code, the summary and the problems for the JSON error document.
fn report(ui: &run::ui::Ui, err: &anyhow::Error) -> (u8, String, Vec<serde_json::Value>) {
    let problem = |msg: &str, place: Option<&Place>| {
        let mut p = serde_json::Map::new();
        p.insert("message".into(), run::ui::redact(msg).into());
        if let Some(place) = place {
            p.insert("file".into(), place.file.clone().into());
            if let Some(line) = place.line {
                p.insert("line".into(), line.into());
            }
        }
        serde_json::Value::Object(p)
    };
    if let Some(refusal) = err.downcast_ref::<Refusal>() {
        if ui.gha {
            for p in &refusal.problems {
                ui.error_at(p, refusal.place_of(p).as_ref());
            }
        } else {
            ui.error(&refusal.to_string());
        }
        let problems = refusal
            .problems
            .iter()
            .map(|p| problem(p, refusal.place_of(p).as_ref()))
            .collect();
        (refusal.code, run::ui::redact(&refusal.summary()), problems)
    } else {
        let msg = format!("{err:#}");
        let place = Place::guess(&msg);
        ui.error_at(&msg, place.as_ref());
        (
            EXIT_FAILURE,
            run::ui::redact(&msg),
            vec![problem(&msg, place.as_ref())],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_recorded_or_read_from_the_message() {
        let g = |m: &str| Place::guess(m);
        assert_eq!(
            g("pyproject.toml: invalid TOML at line 3, column 1"),
            Some(Place::file("pyproject.toml").line(3))
        );
        assert_eq!(
            g("docker-compose.yml:7: no image"),
            Some(Place::file("docker-compose.yml").line(7))
        );
        assert_eq!(
            g("Cargo.toml: unknown key"),
            Some(Place::file("Cargo.toml"))
        );
        assert_eq!(g("tag v1.3.0 already exists"), None);
        assert_eq!(g("https://x.example/a: 404"), None);
        assert_eq!(g("python3 is 3.9; need 3.10: upgrade"), None);
        let mut p = Problems::default();
        p.invalid_at(Place::file("CHANGELOG.md"), "a second section (line 9)");
        p.failure("elsewhere");
        let err = p.check("bump-version").unwrap_err();
        let r = err.downcast_ref::<Refusal>().unwrap();
        assert_eq!(
            r.place_of("a second section (line 9)"),
            Some(Place::file("CHANGELOG.md").line(9))
        );
        assert_eq!(r.place_of("elsewhere"), None);
        assert_eq!(
            Place::file("a,b:c.toml").line(2).annotation(),
            " file=a%2Cb%3Ac.toml,line=2"
        );
        assert_eq!(
            r.summary(),
            "bump-version refused, nothing was changed (2 problems)"
        );
    }
}
