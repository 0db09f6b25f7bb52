//! Which programs a run of the tool started: the tool under `strace -f`, and the argv of each
//! of its direct children (not their own children, not its container watchdog), checked
//! against the processes its `--dry-run --json` plan listed; and where a run connected to
//! (every inet `connect`, to prove that it stays on loopback).

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Output};

/// Is strace usable here (ptrace may be forbidden in a container)?
pub fn strace_works() -> bool {
    Command::new("strace")
        .args(["-qq", "-e", "trace=none", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `cmd` (the tool) under strace, the trace in `dir`; returns its output and the argv of
/// every direct child, in order.
pub fn traced(cmd: &Command, dir: &Path) -> (Output, Vec<Vec<String>>) {
    let trace = dir.join("trace");
    let out = strace(cmd, "trace=execve,clone,clone3,fork,vfork", &trace);
    let text = std::fs::read_to_string(&trace).unwrap();
    if std::env::var_os("TRACE_DEBUG").is_some() {
        eprintln!("{}", &text[..text.len().min(6000)]);
    }
    (out, direct_children(&text))
}

/// One inet `connect` of a traced run: where to, and the argv of the process that made it and of
/// each of its ancestors (nearest first; a thread or an unexec'd fork has its parent's).
#[derive(Debug, Clone)]
pub struct Connect {
    /// `127.0.0.1:8080` or `[::1]:80`.
    pub addr: String,
    pub argv: Vec<String>,
    pub ancestors: Vec<Vec<String>>,
}

impl Connect {
    /// Was it made by (a descendant of) a process whose argv satisfies `f`?
    pub fn under(&self, f: impl Fn(&[String]) -> bool) -> bool {
        f(&self.argv) || self.ancestors.iter().any(|a| f(a))
    }
}

/// Runs `cmd` under `strace -f` (it and everything it starts), the trace in `dir`; returns its
/// output and every inet connect (unix sockets left out).
pub fn traced_connects(cmd: &Command, dir: &Path) -> (Output, Vec<Connect>) {
    let trace = dir.join("connects");
    let out = strace(cmd, "trace=connect,execve,clone,clone3,fork,vfork", &trace);
    let text = std::fs::read_to_string(&trace).unwrap();
    (out, inet_connects(&text))
}

/// The inet `connect` calls of an strace log, with who made them.
pub fn inet_connects(trace: &str) -> Vec<Connect> {
    let field = |line: &str, start: &str| -> Option<String> {
        let at = line.find(start)? + start.len();
        let end = line[at..].find('"')?;
        Some(line[at..at + end].to_string())
    };
    let port = |line: &str, key: &str| -> String {
        line.split(key)
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap_or("?")
            .to_string()
    };
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut argv_of: HashMap<u32, Vec<String>> = HashMap::new();
    let mut execing: HashMap<u32, Vec<String>> = HashMap::new();
    let mut cloning: HashSet<u32> = HashSet::new();
    let mut found: Vec<(u32, String)> = Vec::new();
    for line in trace.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(pid) = pid.trim().parse::<u32>() else {
            continue;
        };
        let rest = rest.trim_start();
        let call = ["clone3(", "clone(", "vfork(", "fork("]
            .iter()
            .any(|c| rest.starts_with(c));
        if call {
            cloning.insert(pid);
        } else if let Some(args) = rest.strip_prefix("execve(") {
            execing.insert(pid, parse_argv(args));
        } else if rest.starts_with("connect(") {
            if rest.contains("sa_family=AF_INET6") {
                let addr = field(rest, "inet_pton(AF_INET6, \"").unwrap_or_else(|| "?".into());
                found.push((pid, format!("[{addr}]:{}", port(rest, "sin6_port=htons("))));
            } else if rest.contains("sa_family=AF_INET") {
                let addr = field(rest, "inet_addr(\"").unwrap_or_else(|| "?".into());
                found.push((pid, format!("{addr}:{}", port(rest, "sin_port=htons("))));
            }
        }
        if rest.starts_with("<...") || call || rest.starts_with("execve(") {
            let Some(ret) = result(rest) else { continue };
            if cloning.remove(&pid) {
                if ret > 0 {
                    parent.insert(ret as u32, pid);
                }
            } else if let Some(argv) = execing.remove(&pid) {
                if ret == 0 {
                    argv_of.insert(pid, argv);
                }
            }
        }
    }
    let argv = |mut pid: u32| -> Vec<String> {
        loop {
            if let Some(a) = argv_of.get(&pid) {
                return a.clone();
            }
            match parent.get(&pid) {
                Some(&p) => pid = p,
                None => return Vec::new(),
            }
        }
    };
    found
        .into_iter()
        .map(|(pid, addr)| {
            let mut ancestors = Vec::new();
            let mut at = pid;
            while let Some(&p) = parent.get(&at) {
                ancestors.push(argv(p));
                at = p;
            }
            Connect {
                addr,
                argv: argv(pid),
                ancestors,
            }
        })
        .collect()
}

fn strace(cmd: &Command, filter: &str, trace: &Path) -> Output {
    let mut s = Command::new("strace");
    s.args(["-f", "-qq", "-s", "65536", "-e"])
        .arg(filter)
        .arg("-o")
        .arg(trace)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(d) = cmd.get_current_dir() {
        s.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => s.env(k, v),
            None => s.env_remove(k),
        };
    }
    s.output().unwrap()
}

/// Parses `strace -f` output: the tool is the first pid and the threads it clones
/// (`CLONE_THREAD`); its direct children are the other pids those clone; each child's argv is
/// that of its first successful execve.
pub fn direct_children(trace: &str) -> Vec<Vec<String>> {
    let mut tool: HashSet<u32> = HashSet::new();
    let mut children: Vec<u32> = Vec::new();
    // pid → (the call in progress is a clone, with CLONE_THREAD)
    let mut cloning: HashMap<u32, bool> = HashMap::new();
    // pid → argv of its execve in progress
    let mut execing: HashMap<u32, Vec<String>> = HashMap::new();
    let mut argv_of: HashMap<u32, Vec<String>> = HashMap::new();
    for line in trace.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(pid) = pid.trim().parse::<u32>() else {
            continue;
        };
        if tool.is_empty() {
            tool.insert(pid);
        }
        let rest = rest.trim_start();
        let call = ["clone3(", "clone(", "vfork(", "fork("]
            .iter()
            .any(|c| rest.starts_with(c));
        if call {
            cloning.insert(pid, rest.contains("CLONE_THREAD"));
        } else if let Some(args) = rest.strip_prefix("execve(") {
            execing.insert(pid, parse_argv(args));
        }
        let resumed = rest.starts_with("<...");
        if resumed || call || rest.starts_with("execve(") {
            let Some(ret) = result(rest) else { continue };
            if let Some(thread) = cloning.remove(&pid) {
                if ret > 0 && tool.contains(&pid) {
                    let child = ret as u32;
                    if thread {
                        tool.insert(child);
                    } else {
                        children.push(child);
                    }
                }
            } else if let Some(argv) = execing.remove(&pid) {
                if ret == 0 && !argv_of.contains_key(&pid) {
                    argv_of.insert(pid, argv);
                }
            }
        }
    }
    children
        .iter()
        .filter_map(|c| argv_of.get(c).cloned())
        .filter(|argv| {
            // The tool's own re-exec as its container watchdog (not a planned process; the
            // stages `rehearse` runs are the tool too, and they are planned).
            argv.get(1).is_none_or(|a| a != "__slipway-watchdog")
        })
        .collect()
}

/// The return value of a finished call (`… = 123` / `… = -1 ENOENT …`); None when unfinished.
fn result(rest: &str) -> Option<i64> {
    if rest.ends_with("<unfinished ...>") {
        return None;
    }
    let (_, ret) = rest.rsplit_once(" = ")?;
    ret.split_whitespace().next()?.parse().ok()
}

/// The argv array of `execve("path", ["a", "b"], …`.
fn parse_argv(args: &str) -> Vec<String> {
    let Some(start) = args.find(", [") else {
        return Vec::new();
    };
    let mut chars = args[start + 3..].chars();
    let mut argv = Vec::new();
    loop {
        match chars.next() {
            Some('"') => {
                let mut s = Vec::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => s.push(b'\n'),
                            Some('t') => s.push(b'\t'),
                            Some('r') => s.push(b'\r'),
                            Some(d @ '0'..='7') => {
                                let mut v = d.to_digit(8).unwrap();
                                for _ in 0..2 {
                                    let mut peek = chars.clone();
                                    match peek.next().and_then(|c| c.to_digit(8)) {
                                        Some(x) => {
                                            v = v * 8 + x;
                                            chars = peek;
                                        }
                                        None => break,
                                    }
                                }
                                s.push(v as u8);
                            }
                            Some('x') => {
                                let h: String = chars.by_ref().take(2).collect();
                                s.push(u8::from_str_radix(&h, 16).unwrap_or(b'?'));
                            }
                            Some(o) => {
                                let mut b = [0; 4];
                                s.extend_from_slice(o.encode_utf8(&mut b).as_bytes());
                            }
                            None => break,
                        },
                        c => {
                            let mut b = [0; 4];
                            s.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                        }
                    }
                }
                argv.push(String::from_utf8_lossy(&s).into_owned());
            }
            Some(']') | None => break,
            Some(_) => {}
        }
    }
    argv
}

/// One process template of a plan: program + args, `<name>` placeholders.
pub type Template = Vec<String>;

/// The processes a `--dry-run --json` plan lists: `run` steps, and every action's typed
/// sub-steps of kind `run` — what it reads (`observe`) and what it may apply (`apply`), lanes
/// of `parallel` sub-steps and the processes of `probe` sub-steps included.
pub fn planned(steps: &serde_json::Value) -> Vec<Template> {
    let mut out = Vec::new();
    for s in steps.as_array().into_iter().flatten() {
        match s["kind"].as_str() {
            Some("run") => out.push(template(s)),
            Some("action") => {
                for list in ["observe", "apply"] {
                    sub_runs(&s[list], &mut out);
                }
            }
            _ => {}
        }
    }
    out
}

/// program + args of a `run` item.
fn template(p: &serde_json::Value) -> Template {
    let mut t = vec![p["program"].as_str().unwrap_or("").to_string()];
    t.extend(
        p["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a.as_str().unwrap_or("").to_string()),
    );
    t
}

fn sub_runs(subs: &serde_json::Value, out: &mut Vec<Template>) {
    for sub in subs.as_array().into_iter().flatten() {
        match sub["kind"].as_str() {
            Some("run") => out.push(template(sub)),
            Some("probe") => sub_runs(&sub["processes"], out),
            Some("parallel") => {
                for lane in sub["lanes"].as_array().into_iter().flatten() {
                    sub_runs(&lane["subs"], out);
                    sub_runs(&lane["finally"], out);
                }
            }
            _ => {}
        }
    }
}

/// Does `arg` match the template argument `t` (`<name>` matches any text)?
fn glob(t: &str, arg: &str) -> bool {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('<') {
        match rest[open..].find('>') {
            Some(close) => {
                parts.push(&rest[..open]);
                rest = &rest[open + close + 1..];
            }
            None => break,
        }
    }
    parts.push(rest);
    if parts.len() == 1 {
        return t == arg;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !arg.starts_with(first) || !arg[first.len()..].ends_with(last) {
        return false;
    }
    let mut at = first.len();
    let end = arg.len() - last.len();
    for p in &parts[1..parts.len() - 1] {
        match arg[at..end].find(p) {
            Some(i) => at += i + p.len(),
            None => return false,
        }
    }
    at <= end
}

/// Does `argv` match the template (an argument ending in `…>` takes one or more arguments)?
pub fn matches(t: &[String], argv: &[String]) -> bool {
    match (t.split_first(), argv.split_first()) {
        (None, None) => true,
        (Some((ta, trest)), Some((a, rest))) => {
            if ta.ends_with("…>") {
                glob(ta, a) && (matches(trest, rest) || matches(t, rest))
            } else {
                glob(ta, a) && matches(trest, rest)
            }
        }
        _ => false,
    }
}

/// `real` less one occurrence of every argv in `observed` (what the dry run itself ran: the
/// read-only observations both runs make).
pub fn less(real: &[Vec<String>], observed: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut left: Vec<Option<&Vec<String>>> = observed.iter().map(Some).collect();
    real.iter()
        .filter(|argv| {
            if let Some(slot) = left.iter_mut().find(|o| o.is_some_and(|o| o == *argv)) {
                *slot = None;
                false
            } else {
                true
            }
        })
        .cloned()
        .collect()
}

#[test]
fn parses_strace_lines_and_matches_templates() {
    let trace = r#"100 execve("/x/xtask", ["/x/xtask", "release"], 0x7ffd /* 9 vars */) = 0
100 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, child_tid=0x1}, 88) = 101
101 clone3({flags=CLONE_VM|CLONE_VFORK|CLONE_CLEAR_SIGHAND, exit_signal=SIGCHLD, stack=0x1, stack_size=0x9000}, 88 <unfinished ...>
102 execve("/usr/local/bin/git", ["git", "a b\"\n"], 0x1 /* 9 vars */) = -1 ENOENT (No such file or directory)
102 execve("/usr/bin/git", ["git", "a b\"\n"], 0x1 /* 9 vars */ <unfinished ...>
101 <... clone3 resumed>) = 102
102 <... execve resumed>) = 0
102 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x1) = 103
103 execve("/usr/bin/ssh", ["ssh", "host"], 0x1 /* 9 vars */) = 0
100 vfork( <unfinished ...>
104 execve("/x/xtask", ["/x/xtask", "__slipway-watchdog", "docker"], 0x1 /* 9 vars */) = 0
100 <... vfork resumed>) = 104
"#;
    let argv = direct_children(trace);
    assert_eq!(argv, vec![vec!["git".to_string(), "a b\"\n".to_string()]]);
    let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(matches(
        &t(&["p", "-m", "twine", "/d/<file…>"]),
        &t(&["p", "-m", "twine", "/d/a.whl", "/d/b.tar.gz"])
    ));
    assert!(!matches(
        &t(&["p", "/d/<file…>"]),
        &t(&["p", "/d/a", "/e/b"])
    ));
    assert!(matches(
        &t(&["<venv>/bin/python", "-c", "x"]),
        &t(&["/w/tmp/verify-9/bin/python", "-c", "x"])
    ));
    assert!(!matches(&t(&["git", "push"]), &t(&["git", "push", "x"])));
    let connects = r#"100 execve("/x/xtask", ["/x/xtask", "publish-prod"], 0x1 /* 9 vars */) = 0
100 clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD}, 88) = 203
203 execve("/v/python", ["/v/python", "-m", "build"], 0x1 /* 9 vars */) = 0
100 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
201 connect(4, {sa_family=AF_UNIX, sun_path="/run/slipway/docker.sock"}, 27) = 0
100 connect(5, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2a04:4e42::223", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH
203 connect(6, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.2")}, 16 <unfinished ...>
"#;
    let c = inet_connects(connects);
    let addrs: Vec<&str> = c.iter().map(|c| c.addr.as_str()).collect();
    assert_eq!(
        addrs,
        ["127.0.0.1:8080", "[2a04:4e42::223]:443", "10.0.0.2:53"]
    );
    assert_eq!(c[0].argv, t(&["/x/xtask", "publish-prod"]));
    assert_eq!(c[2].argv, t(&["/v/python", "-m", "build"]));
    assert_eq!(c[2].ancestors, [t(&["/x/xtask", "publish-prod"])]);
    assert!(c[2].under(|a| a.get(1..3) == Some(&t(&["-m", "build"])[..])));
    assert!(!c[0].under(|a| a.len() > 1 && a[1] == "-m"));
}
