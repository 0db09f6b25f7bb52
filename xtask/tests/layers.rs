//! The house rules, checked on the source tree (a `tidy` test: it fails the build of a change
//! that breaks them, and says which import to cut).
//!
//! - Layers, bottom to top: `core` (pure) → `run` (plan, executor, process boundary, output) →
//!   `facts` (read-only gatherers) → `targets` → `cmd` → `cli`. A module imports only its own
//!   layer and the ones below.
//! - `core` touches nothing of the world: no process, filesystem, network or environment.
//! - No circle of imports between files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[&str] = &["core", "run", "facts", "targets", "cmd", "cli"];

/// Every `.rs` file under `src/`, as its module path (`targets::docker::push`) → source.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod") {
                    parts.pop();
                }
                let name = parts.join("::");
                let name = match name.as_str() {
                    "lib" => String::new(),
                    "main" => "main".to_string(),
                    _ => name,
                };
                out.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

/// The code of a file without comment lines and without its `#[cfg(test)] mod tests` (tests may
/// use anything).
fn non_test(src: &str) -> String {
    let code = src
        .find("#[cfg(test)]\nmod tests")
        .map_or(src, |i| &src[..i]);
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The layer of a module path.
fn layer(module: &str) -> &str {
    module.split("::").next().unwrap_or("")
}

/// Module paths this source refers to: `crate::a::b…` (also inside `use crate::{…}` groups)
/// and `super::x` (resolved against `module`), each resolved to the longest known module.
fn references(module: &str, src: &str, known: &BTreeSet<&str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let resolve = |path: &str, out: &mut BTreeSet<String>| {
        let parts: Vec<&str> = path.split("::").collect();
        for n in (1..=parts.len()).rev() {
            let candidate = parts[..n].join("::");
            if known.contains(candidate.as_str()) {
                out.insert(candidate);
                return;
            }
        }
    };
    let bytes = src.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let path_at = |mut i: usize| -> String {
        let start = i;
        while i < bytes.len() && (ident(bytes[i]) || bytes[i] == b':') {
            i += 1;
        }
        src[start..i].trim_end_matches(':').to_string()
    };
    for (i, _) in src.match_indices("crate::") {
        if i > 0 && ident(bytes[i - 1]) {
            continue;
        }
        let rest = i + "crate::".len();
        if bytes.get(rest) == Some(&b'{') {
            // `use crate::{a::b, c}`: each item of the group.
            let end = src[rest..].find("};").map_or(src.len(), |e| rest + e);
            for item in src[rest + 1..end].split(',') {
                let item = item.trim().split(['{', ' ']).next().unwrap_or("");
                resolve(item.trim_end_matches(':'), &mut out);
            }
        } else {
            resolve(&path_at(rest), &mut out);
        }
    }
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    for (i, _) in src.match_indices("super::") {
        if i > 0 && ident(bytes[i - 1]) {
            continue;
        }
        let p = path_at(i + "super::".len());
        let full = if parent.is_empty() {
            p
        } else {
            format!("{parent}::{p}")
        };
        resolve(&full, &mut out);
    }
    out.remove(module);
    out.remove("");
    out
}

#[test]
fn layers_import_only_downwards() {
    let mods = modules();
    let known: BTreeSet<&str> = mods.keys().map(String::as_str).collect();
    let mut wrong = Vec::new();
    for (module, src) in &mods {
        let Some(own) = LAYERS.iter().position(|l| *l == layer(module)) else {
            continue;
        };
        for target in references(module, &non_test(src), &known) {
            let Some(theirs) = LAYERS.iter().position(|l| *l == layer(&target)) else {
                wrong.push(format!("{module} → {target} (not a layer of the tool)"));
                continue;
            };
            if theirs > own {
                wrong.push(format!(
                    "{module} → {target}: `{}` may not import `{}` (move the shared part down)",
                    LAYERS[own], LAYERS[theirs]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that run upwards:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_core_touches_nothing_of_the_world() {
    let forbidden = [
        "std::process",
        "std::fs",
        "std::net",
        "std::env",
        "ureq::",
        "xshell",
        "duct",
        "File::open",
    ];
    let mut found = Vec::new();
    for (module, src) in modules() {
        if layer(&module) != "core" || module == "core::testutil" {
            continue;
        }
        for word in forbidden {
            if non_test(&src).contains(word) {
                found.push(format!("{module} uses {word}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the pure core has effects:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_circle_of_imports_between_files() {
    let mods = modules();
    let known: BTreeSet<&str> = mods.keys().map(String::as_str).collect();
    let graph: BTreeMap<&str, BTreeSet<String>> = mods
        .iter()
        .filter(|(m, _)| !m.is_empty() && m.as_str() != "main")
        .map(|(m, src)| (m.as_str(), references(m, &non_test(src), &known)))
        .collect();
    // Depth-first search for a back edge; report the first circle found.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<&'a str, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(node, 1);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            match state.get(next).copied() {
                Some(1) => {
                    let start = path.iter().position(|p| *p == next).unwrap();
                    let mut circle: Vec<String> =
                        path[start..].iter().map(|s| s.to_string()).collect();
                    circle.push(next.to_string());
                    return Some(circle);
                }
                Some(_) => {}
                None if graph.contains_key(next) => {
                    if let Some(c) = visit(next, graph, state, path) {
                        return Some(c);
                    }
                }
                None => {}
            }
        }
        path.pop();
        state.insert(node, 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node) {
            if let Some(circle) = visit(node, &graph, &mut state, &mut Vec::new()) {
                panic!("a circle of imports: {}", circle.join(" → "));
            }
        }
    }
}

#[test]
fn the_checker_sees_a_wrong_import() {
    // The rules above must be able to fail: a core module naming a command is caught.
    let known: BTreeSet<&str> = ["core::version", "cmd::bump", "run::plan"].into();
    let refs = references(
        "core::version",
        "use crate::cmd::bump::Options;\nfn f() { crate::run::plan::x() }",
        &known,
    );
    assert_eq!(
        refs,
        BTreeSet::from(["cmd::bump".to_string(), "run::plan".to_string()])
    );
    let _ = PathBuf::new();
}
