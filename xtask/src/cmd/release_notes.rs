//! `cargo xtask release-notes`: the notes of one version, rendered from its CHANGELOG section
//! (the text a GitHub release uses) through a `{{variable}}` template.

use anyhow::Result;

use crate::cmd::Global;
use crate::core::notes::{BREAKING, DEFAULT, DETAILED, MINIMAL};
use crate::facts::config::{self};
use crate::facts::notes::render;
use crate::run::ui::Ui;
use crate::{facts::git, usage};

pub fn run(
    global: &Global,
    version_arg: Option<&str>,
    template_arg: Option<&str>,
    ui: &Ui,
) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let cfg = config::load_or_refuse(&root, "release-notes")?;
    let template = match template_arg.unwrap_or("default") {
        "default" => DEFAULT.to_string(),
        "minimal" => MINIMAL.to_string(),
        "detailed" => DETAILED.to_string(),
        "breaking" => BREAKING.to_string(),
        path => {
            let p = global.dir.join(path);
            std::fs::read_to_string(&p).map_err(|e| {
                usage(format!(
                    "template `{path}`: {e}; use default, minimal, detailed, breaking or a template file"
                ))
            })?
        }
    };
    let notes = render(&cfg, version_arg, &template)?;
    ui.raw(&notes);
    Ok(0)
}
