//! Source rules the compiler cannot check.
//!
//! Every child process of the workspace — the tool (`xtask/src`) and the rehearsal rig
//! (`rig/src`), every member crate's `src/` — goes through the one process boundary
//! (`xtask/src/run/process.rs`), and no program is run through a shell.

use std::path::{Path, PathBuf};

/// The boundary itself (from the workspace root).
const BOUNDARY: &str = "xtask/src/run/process.rs";
/// Not yet moved behind the boundary (none: keep it that way).
const PENDING: &[&str] = &[];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

/// The member crates of the workspace (`members = [...]` in its `Cargo.toml`).
fn members(root: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let list = manifest
        .split_once("members")
        .and_then(|(_, rest)| rest.split_once('['))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .expect("the workspace Cargo.toml lists its members");
    list.split(',')
        .map(|m| m.trim().trim_matches('"').to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

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

/// The offences in one source file; `rel` is its path from the workspace root.
fn offences(rel: &str, text: &str) -> Vec<String> {
    let mut offences = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    // `Command::new` is clap's too: it counts where std's Command is in scope.
    let std_command = text.contains("std::process::");
    for (i, line) in lines.iter().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut found = Vec::new();
        if rel != BOUNDARY {
            if std_command && code.contains("Command::new") {
                found.push(format!("`Command::new` outside {BOUNDARY}"));
            }
            for banned in [
                "std::process::Command",
                "process::{Command",
                "process::{Child",
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
            // statement names python3. So is `docker import -c INSTRUCTION` (a change to the
            // image's config).
            let window = &lines[i.saturating_sub(3)..=i];
            let python = window.iter().any(|l| l.contains("python"));
            let docker_import = window.iter().any(|l| l.contains("\"import\""));
            if !python && !docker_import {
                found.push("`-c` given to something that is not python".into());
            }
        }
        for f in found {
            offences.push(format!("{rel}:{}: {f}: {}", i + 1, line.trim()));
        }
    }
    offences
}

/// Every Rust source file of every member crate's `src/`, as (path from the root, text).
fn workspace_sources() -> Vec<(String, String)> {
    let root = workspace_root();
    let mut files = Vec::new();
    for member in members(&root) {
        // A crate's sources are its `src/`, or the crate folder itself when its manifest points
        // its lib there (the pure core, `xtask/src/core`).
        let dir = root.join(&member);
        let src = dir.join("src");
        sources(if src.is_dir() { &src } else { &dir }, &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            (rel, text)
        })
        .collect()
}

#[test]
fn every_child_process_goes_through_the_boundary_and_none_through_a_shell() {
    let files = workspace_sources();
    // Both crates are covered (a rule that reads no file passes vacuously).
    for must in [BOUNDARY, "rig/src/services.rs", "rig/src/provision.rs"] {
        assert!(
            files.iter().any(|(rel, _)| rel == must),
            "{must} is not among the checked sources"
        );
    }
    let offences: Vec<String> = files
        .iter()
        .filter(|(rel, _)| !PENDING.iter().any(|p| rel.starts_with(p)))
        .flat_map(|(rel, text)| offences(rel, text))
        .collect();
    assert!(
        offences.is_empty(),
        "child processes must be started through xtask::run::process (captured, streamed, \
         reader, supervised, daemon, watchdog), never through a shell:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_checker_sees_every_kind_of_offence() {
    let std_spawn = "use std::process::Command;\nfn f() {\n    Command::new(\"ls\").status();\n}";
    let got = offences("rig/src/x.rs", std_spawn);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].starts_with("rig/src/x.rs:1: `std::process::Command` outside"));
    assert!(got[1].starts_with("rig/src/x.rs:3: `Command::new` outside"));
    let child = "use std::process::{Child, Stdio};\nfn f(c: &mut std::process::Command) { c.spawn().unwrap(); }";
    assert_eq!(offences("xtask/src/cmd/x.rs", child).len(), 3);
    let shell = "fn f(d: &Path) {\n    let p = Process::new(\"sh\", d)\n        .args([\"-c\", \"ls | wc\"]);\n}";
    let got = offences("rig/src/x.rs", shell);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].contains("a shell (\"sh\") as a program"), "{got:#?}");
    assert!(got[1].contains("`-c` given to something that is not python"));
    assert_eq!(
        offences(
            "xtask/src/run/process.rs",
            "duct::cmd(\"bash\", [\"-c\", \"x\"])"
        )
        .len(),
        2,
        "the boundary may use duct, but not to run a shell"
    );
    assert_eq!(
        offences("xtask/src/x.rs", "fn f() { xshell::cmd!(sh, \"ls\"); }").len(),
        2
    );
    // What is allowed.
    for ok in [
        "fn f(d: &Path) {\n    Process::new(\"python3\", d)\n        .args([\"-c\", \"print(1)\"]);\n}",
        "fn cli() -> clap::Command { clap::Command::new(\"slipway\") }",
        "// std::process::Command::new(\"sh\") is not used here",
        "let shells = [\"bash\", \"zsh\", \"fish\"];",
        "docker().args([\n    \"import\",\n    \"-c\",\n    \"ENV LANG=C.UTF-8\",\n]);",
    ] {
        assert_eq!(offences("rig/src/x.rs", ok), Vec::<String>::new(), "{ok}");
    }
    assert_eq!(
        offences(BOUNDARY, "let h = duct::cmd(&p.program, &p.args).start();"),
        Vec::<String>::new()
    );
}
