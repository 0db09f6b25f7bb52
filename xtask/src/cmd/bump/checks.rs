//! Preflight checks of a bump that read the plan or the refs: a release section that would carry
//! placeholders, a tag git cannot create.

use std::path::Path;

use anyhow::Result;
use semver::Version;

use super::Options;
use crate::core::changelog::PLACEHOLDER;
use crate::facts::git;
use crate::run::plan::FileEdit;

/// A problem when the changelog edit inserts placeholders (an empty `[Unreleased]`) and
/// `--allow-placeholders` was not given: such a section must not get tagged.
pub fn placeholders(
    edits: &[FileEdit],
    changelog: &str,
    unreleased: bool,
    new: &Version,
    o: &Options,
) -> Option<String> {
    if o.allow_placeholders {
        return None;
    }
    let e = edits.iter().find(|e| e.display == changelog)?;
    let inserted = e.after.matches(PLACEHOLDER).count() > e.before.matches(PLACEHOLDER).count();
    let command = if o.push.pushes() {
        "release"
    } else {
        "bump-version"
    };
    if inserted && !unreleased {
        // A style without [Unreleased]: the entries can only come from the commits.
        return Some(format!(
            "{changelog}: no generated entries, so the {new} section would only carry \
             `_TODO: describe this change…_` placeholders and be tagged that way; let `cargo xtask \
             release` (or `{command} … --generate-changelog`) write it from the Conventional Commits \
             since the last release (`--allow-placeholders` tags the placeholders anyway)"
        ));
    }
    inserted.then(|| {
        format!(
            "{changelog}: [Unreleased] is empty, so the {new} section would only carry \
             `_TODO: describe this change…_` placeholders and be tagged that way; either fill \
             [Unreleased] with what changed, or let `cargo xtask release` (or `{command} … \
             --generate-changelog`) fill it from the Conventional Commits since the last release \
             (`--allow-placeholders` tags the placeholders anyway)"
        )
    })
}

/// A problem when git cannot create `refs/tags/<tag>`: an invalid name, or existing refs below
/// `refs/tags/<tag>/` (a ref cannot be both a file and a directory).
pub fn tag_blocked(root: &Path, tag: &str) -> Result<Option<String>> {
    let refname = format!("refs/tags/{tag}");
    let valid = git::git_output(root, ["check-ref-format", refname.as_str()])?;
    if !valid.ok {
        return Ok(Some(format!(
            "`{tag}` is not a valid tag name for git (`git check-ref-format {refname}` refuses it); \
             change `tag-prefix` or the version"
        )));
    }
    let below = format!("{refname}/");
    let out = git::git_output(
        root,
        ["for-each-ref", "--format=%(refname)", below.as_str()],
    )?;
    let blocking: Vec<String> = out.stdout.lines().map(str::to_string).collect();
    Ok(blocking.first().map(|first| {
        format!(
            "tag {tag} cannot be created: the ref {first}{} blocks it (git cannot have \
             {refname} and refs below it); delete it with `git update-ref -d {first}`, or choose another version",
            if blocking.len() > 1 {
                format!(" and {} more", blocking.len() - 1)
            } else {
                String::new()
            }
        )
    }))
}
