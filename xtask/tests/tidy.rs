//! Source rules the compiler cannot check.
//!
//! Every child process goes through the one process boundary (`src/run/process.rs`), and no
//! program is run through a shell.

use std::path::{Path, PathBuf};

/// The boundary itself.
const BOUNDARY: &str = "run/process.rs";
/// Not yet moved behind the boundary (none: keep it that way).
const PENDING: &[&str] = &[];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_child_process_goes_through_the_boundary_and_none_through_a_shell() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut offences = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if PENDING.iter().any(|p| rel.starts_with(p)) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut found = Vec::new();
            if rel != BOUNDARY {
                // `Command::new` is clap's too: it counts where std's Command is in scope.
                let std_command = text.contains("std::process::");
                if std_command && code.contains("Command::new") {
                    found.push(format!("`Command::new` outside {BOUNDARY}"));
                }
                for banned in [
                    "std::process::Command",
                    "process::{Command",
                    "Command::from",
                    ".spawn()",
                    "xshell::",
                    "duct::",
                    "cmd!(",
                ] {
                    if code.contains(banned) {
                        found.push(format!("`{banned}` outside {BOUNDARY}"));
                    }
                }
            }
            for shell in [
                "\"sh\"",
                "\"bash\"",
                "\"dash\"",
                "\"zsh\"",
                "\"/bin/sh\"",
                "\"/bin/bash\"",
            ] {
                // A shell's name where a program is named (not, say, a list of shells that
                // completions are written for).
                let names_program = ["Process::new(", "cmd(", "program"]
                    .iter()
                    .any(|p| code.contains(p));
                if names_program && code.contains(shell) {
                    found.push(format!("a shell ({shell}) as a program"));
                }
            }
            if code.contains("\"-c\"") {
                // `python3 -c SCRIPT` is a program with a script, not a shell: allowed when the
                // statement names python3.
                let from = i.saturating_sub(3);
                if !lines[from..=i].iter().any(|l| l.contains("python")) {
                    found.push("`-c` given to something that is not python".into());
                }
            }
            for f in found {
                offences.push(format!("src/{rel}:{}: {f}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "child processes must be started through run::process (captured, streamed, reader, \
         supervised, watchdog), never through a shell:\n{}",
        offences.join("\n")
    );
}
