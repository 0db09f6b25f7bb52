//! `cargo xtask check-versions`: do all managed files (and the tag at HEAD) state one version?

use anyhow::Result;
use serde_json::json;

use crate::cmd::Global;
use crate::facts::managed::{self, Reading};
use crate::run::ui::{Style, Ui};
use crate::{core::version, facts::config, facts::git, Place, Problems};

pub fn run(global: &Global, json_out: bool, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    crate::cmd::bump::intent::refuse_if_pending(&root, "check-versions")?;
    let mut problems = Problems::default();
    let cfg = config::load_or_refuse(&root, "check-versions")?;
    let managed = managed::load(&cfg, &mut problems);
    problems.check("check-versions")?;
    let m = managed.expect("no problems implies the files were read");
    if let Some(w) = git::tag_prefix_warning(&git::tags(&cfg.root)?, &cfg.tag_prefix) {
        ui.warn(&w);
    }
    let mut readings = m.readings();
    // Release tags at HEAD (prefix + SemVer), e.g. v1.2.3.
    for tag in git::tags_at_head(&cfg.root)? {
        if let Some(v) = tag
            .strip_prefix(cfg.tag_prefix.as_str())
            .and_then(|t| semver::Version::parse(t).ok())
        {
            readings.push(Reading {
                file: "git".into(),
                line: 0,
                location: "tag at HEAD".into(),
                value: tag.clone(),
                version: v,
            });
        }
    }
    let expected = readings.first().map(|r| r.version.clone());
    let ok = managed::agree(&readings);
    let (files_read, not_found) = m.inventory(&cfg);
    if json_out {
        let out = json!({
            "ok": ok,
            "version": if ok { expected.as_ref().map(|v| v.to_string()) } else { None },
            "pep440": if ok { expected.as_ref().map(version::pep440) } else { None },
            "readings": managed::readings_json(&readings),
            "notes": m.notes(),
            "files": files_read.iter().map(|(f, w)| json!({"file": f, "what": w})).collect::<Vec<_>>(),
            "not_found": not_found,
        });
        let mut out = out;
        if !ok {
            // The failure document's fields (see `run_main`), with the lines that differ.
            let first = &readings[0];
            out["error"] = json!("the managed files disagree on the version");
            out["problems"] = readings
                .iter()
                .filter(|r| r.version != first.version)
                .map(|r| {
                    json!({
                        "message": format!("{} states {}, but {} states {}", r.location, r.value, first.file, first.version),
                        "file": r.file,
                        "line": r.line,
                    })
                })
                .collect();
        }
        crate::run::ui::print_json(&out);
    } else {
        for n in m.notes() {
            ui.note(&n);
        }
        let width = files_read
            .iter()
            .map(|(f, _)| f.chars().count())
            .max()
            .unwrap_or(0);
        let listing: Vec<String> = files_read
            .iter()
            .map(|(f, w)| format!("  {f:width$}  {w}"))
            .collect();
        ui.note(&format!(
            "read {} file(s):\n{}",
            files_read.len(),
            listing.join("\n")
        ));
        for n in &not_found {
            ui.note(&format!("not managed: {n}"));
        }
        let table = managed::table(&readings, if ok { None } else { expected.as_ref() });
        if ok {
            let v = expected.map(|v| v.to_string()).unwrap_or_default();
            ui.line(&format!(
                "{} every managed file states {v}",
                ui.paint(Style::Green, "ok:")
            ));
            ui.detail(&table);
        } else {
            ui.error(&format!(
                "the managed files disagree on the version (≠ marks a value that differs from {}):\n{}",
                readings[0].file,
                table.trim_end()
            ));
            // In GitHub Actions, also an annotation on every line that differs.
            if ui.gha {
                let first = &readings[0];
                for r in readings
                    .iter()
                    .filter(|r| r.version != first.version && r.line > 0)
                {
                    ui.error_at(
                        &format!(
                            "{} states {}, but {} states {}",
                            r.location, r.value, first.file, first.version
                        ),
                        Some(&Place::file(&r.file).line(r.line)),
                    );
                }
            }
        }
    }
    Ok(if ok { 0 } else { crate::EXIT_FAILURE })
}
