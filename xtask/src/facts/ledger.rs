//! Reading the release ledger (read-only): every note under `refs/notes/slipway`, with two git
//! processes whatever the number of notes — `git notes list` names the note blobs, one
//! `git cat-file --batch` prints them all.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::core::ledger::{self, Record, NOTES_REF};
use crate::facts::git::{git, git_output};
use crate::run::plan::Val;
use crate::run::process;

/// Every record in the local notes ref, and how many note lines were not records.
pub fn read(root: &Path) -> Result<(Vec<Record>, usize)> {
    let list = git_output(root, ["notes", "--ref", NOTES_REF, "list"])
        .context("cannot run `git notes list`")?;
    if !list.ok {
        bail!(
            "`git notes --ref {NOTES_REF} list` failed: {}",
            list.stderr.trim()
        );
    }
    let blobs: Vec<&str> = list
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    if blobs.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let mut input = blobs.join("\n");
    input.push('\n');
    let out = process::output(&git(root, ["cat-file", "--batch"]).stdin(Val::Plain(input)))
        .context("cannot run `git cat-file --batch`")?;
    if !out.ok {
        bail!("`git cat-file --batch` failed: {}", out.stderr.trim());
    }
    Ok(parse_batch(&out.stdout))
}

/// The records of `git cat-file --batch` output (`<sha> blob <size>\n<content>\n` each).
pub fn parse_batch(out: &str) -> (Vec<Record>, usize) {
    let bytes = out.as_bytes();
    let mut records = Vec::new();
    let mut bad = 0;
    let mut at = 0;
    while at < bytes.len() {
        let Some(nl) = bytes[at..].iter().position(|b| *b == b'\n') else {
            break;
        };
        let header = &out[at..at + nl];
        at += nl + 1;
        let mut parts = header.split(' ');
        let (_, kind, size) = (parts.next(), parts.next(), parts.next());
        let Some(size) = size.and_then(|s| s.parse::<usize>().ok()) else {
            // `<sha> missing`, or output we cannot follow: count it and stop.
            bad += 1;
            continue;
        };
        let end = (at + size).min(bytes.len());
        if kind == Some("blob") {
            if let Some(text) = out.get(at..end) {
                let (r, b) = ledger::parse_blob(text);
                records.extend(r);
                bad += b;
            } else {
                bad += 1;
            }
        }
        at = end + 1;
    }
    (records, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_output_is_split_by_sizes() {
        let a = Record {
            tag: "v1.0.0".into(),
            command: "verify".into(),
            run: "a".into(),
            ..Record::default()
        }
        .to_line();
        let b = Record {
            tag: "v1.1.0".into(),
            command: "verify".into(),
            run: "b".into(),
            ..Record::default()
        }
        .to_line();
        let blob1 = format!("{a}\n\n{b}\nnot json\n");
        let out = format!(
            "1111 blob {}\n{blob1}\n2222 blob {}\n{a}\n3333 missing\n",
            blob1.len(),
            a.len()
        );
        let (records, bad) = parse_batch(&out);
        assert_eq!(records.len(), 3);
        assert_eq!(bad, 2);
    }
}
