//! The Dockerfile: which images the build starts from (`FROM` lines with their ARGs resolved).

use anyhow::Result;
use std::collections::BTreeMap;

/// Does the image install the release's wheel: an instruction other than `ARG` names the
/// `DIST` build-arg (`COPY ${DIST}/*.whl …`) or a `.whl` file? When not, its build does not wait
/// for the Python build (they run at the same time).
pub fn uses_the_wheel(dockerfile: &str) -> bool {
    dockerfile.lines().any(|raw| {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return false;
        }
        let word = line.split_whitespace().next().unwrap_or("");
        if word.eq_ignore_ascii_case("ARG") {
            return false;
        }
        line.contains("${DIST}")
            || line.contains(".whl")
            || line.match_indices("$DIST").any(|(i, _)| {
                !line[i + 5..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            })
    })
}

/// The images the Dockerfile's `FROM` lines start from, with variables resolved from `args`
/// (build-args) and the `ARG` defaults declared before the first `FROM`. `scratch` and earlier
/// stage names are left out. Errors name the line.
pub fn from_images(dockerfile: &str, args: &[(String, String)]) -> Result<Vec<String>, String> {
    Ok(from_images_by_source(dockerfile, args)?
        .into_iter()
        .map(|(image, _)| image)
        .collect())
}

/// [`from_images`], each with whether a configured build-arg names it (`FROM ${BASE_IMAGE}` with
/// BASE_IMAGE given): those must be in the engine; the others (the Dockerfile's own defaults)
/// are pulled, as a visible part of the build step, when absent.
pub fn from_images_by_source(
    dockerfile: &str,
    args: &[(String, String)],
) -> Result<Vec<(String, bool)>, String> {
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (i, raw) in dockerfile.lines().enumerate() {
        let line = raw.trim_end();
        if current.is_empty() {
            let t = line.trim_start();
            if t.starts_with('#') || t.is_empty() {
                continue;
            }
            start = i + 1;
        } else if line.trim_start().starts_with('#') {
            continue; // comment lines inside a continuation are dropped by docker too
        }
        match line.strip_suffix('\\') {
            Some(l) => {
                current.push_str(l);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                logical.push((start, std::mem::take(&mut current)));
            }
        }
    }
    if !current.is_empty() {
        logical.push((start, current));
    }
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut from_args: Vec<String> = Vec::new();
    let mut seen_from = false;
    let mut stages: Vec<String> = Vec::new();
    let mut images = Vec::new();
    for (line_no, text) in logical {
        let mut words = text.split_whitespace();
        let Some(instr) = words.next() else { continue };
        match instr.to_ascii_uppercase().as_str() {
            "ARG" if !seen_from => {
                for decl in words {
                    let (name, default) = match decl.split_once('=') {
                        Some((n, d)) => (n, Some(d.trim_matches('"').to_string())),
                        None => (decl, None),
                    };
                    let given = args.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                    if given.is_some() {
                        from_args.push(name.to_string());
                    }
                    if let Some(v) = given.or(default) {
                        vars.insert(name.to_string(), v);
                    }
                }
            }
            "FROM" => {
                seen_from = true;
                let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
                let Some(image) = rest.first() else {
                    return Err(format!("line {line_no}: FROM without an image"));
                };
                let configured = var_names(image).iter().any(|n| from_args.contains(n));
                let image = expand(image, &vars)
                    .map_err(|v| format!("line {line_no}: FROM {image}: ${v} has no value (give it as a build-arg, or a default in `ARG {v}=…` before the first FROM)"))?;
                if rest.len() >= 3 && rest[1].eq_ignore_ascii_case("as") {
                    stages.push(rest[2].to_ascii_lowercase());
                }
                if image != "scratch"
                    && !stages[..stages.len().saturating_sub(usize::from(rest.len() >= 3))]
                        .contains(&image.to_ascii_lowercase())
                    && !images.iter().any(|(i, _)| *i == image)
                {
                    images.push((image, configured));
                }
            }
            _ => {}
        }
    }
    Ok(images)
}

/// The variables a word refers to (`$A`, `${B}`, `${C:-x}`).
pub(crate) fn var_names(s: &str) -> Vec<String> {
    s.split('$')
        .skip(1)
        .map(|part| {
            part.trim_start_matches('{')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// `$VAR`, `${VAR}`, `${VAR:-default}`; Err(name) when a variable has no value.
pub(crate) fn expand(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, default, used) = if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| after.to_string())?;
            let inner = &body[..end];
            match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d), end + 2),
                None => (inner, None, end + 2),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], None, end)
        };
        match vars.get(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(v),
            None => match default {
                Some(d) => out.push_str(d),
                None => return Err(name.to_string()),
            },
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod wheel_tests {
    use super::*;

    #[test]
    fn the_wheel_is_used_when_an_instruction_names_dist_or_a_wheel() {
        for (df, uses) in [
            ("ARG DIST=dist\nCOPY ${DIST}/*.whl /tmp/\n", true),
            ("ARG DIST=dist\nCOPY $DIST/app.tar /x\n", true),
            ("COPY dist/app-1.0-py3-none-any.whl /x\n", true),
            (
                "FROM scratch\nARG DIST=dist\nCOPY scratch/www /www\n",
                false,
            ),
            ("# COPY ${DIST}/*.whl\nFROM scratch\n", false),
            ("COPY $DISTRO/x /x\n", false),
        ] {
            assert_eq!(uses_the_wheel(df), uses, "{df:?}");
        }
    }
}
