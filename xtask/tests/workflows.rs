//! The GitHub workflows, read as text: every action pinned to a full commit (a tag comment
//! beside it), no permissions at the top (each job names the few it needs), no `${{ … }}` spliced
//! into a script (inputs and event fields reach scripts through `env:` only), and the dev-image
//! workflows calling nothing but the xtask. zizmor audits them too (`cargo xtask ci`).

use std::path::PathBuf;

fn workflows() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The script lines of every `run:` (one-line or block).
fn scripts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(at) = block {
            if line.trim().is_empty() || indent > at {
                out.push(line.trim().to_string());
                continue;
            }
            block = None;
        }
        let t = line.trim_start().trim_start_matches("- ");
        if let Some(rest) = t.strip_prefix("run:") {
            let rest = rest.trim();
            if rest == "|" || rest == ">" {
                block = Some(indent);
            } else {
                out.push(rest.to_string());
            }
        }
    }
    out
}

#[test]
fn actions_are_pinned_permissions_are_per_job_and_scripts_take_no_expressions() {
    let all = workflows();
    for want in [
        "periodic_dev_image_release.yml",
        "release_dev_image.yml",
        "release-pr.yml",
        "release.yml",
    ] {
        assert!(all.iter().any(|(n, _)| n == want), "{want} is missing");
    }
    for (name, text) in &all {
        assert!(
            text.contains("\npermissions: {}\n"),
            "{name}: top-level permissions: {{}}"
        );
        for line in text.lines().filter(|l| {
            l.trim_start().starts_with("- uses:") || l.trim_start().starts_with("uses:")
        }) {
            let r = line.split("uses:").nth(1).unwrap().trim();
            let (_, pin) = r
                .split_once('@')
                .unwrap_or_else(|| panic!("{name}: unpinned {r}"));
            let sha = pin.split_whitespace().next().unwrap();
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{name}: {r} is not pinned to a commit"
            );
            assert!(pin.contains("# v"), "{name}: {r} names no version");
        }
        for s in scripts(text) {
            assert!(!s.contains("${{"), "{name}: an expression in a script: {s}");
        }
    }
}

#[test]
fn the_dev_image_workflows_only_call_the_xtask() {
    let all = workflows();
    let get = |n: &str| all.iter().find(|(x, _)| x == n).unwrap().1.clone();
    let periodic = get("periodic_dev_image_release.yml");
    for want in [
        "schedule:",
        "cron:",
        "workflow_dispatch:",
        "reviewer:",
        "assignee:",
        "REVIEWER: ${{ inputs.reviewer }}",
        "ASSIGNEE: ${{ inputs.assignee }}",
        "cargo xtask dev-release \"${args[@]}\"",
    ] {
        assert!(periodic.contains(want), "periodic: {want}");
    }
    let merged = get("release_dev_image.yml");
    for want in [
        "pull_request:",
        "- closed",
        "if: github.event.pull_request.merged == true && contains(github.event.pull_request.labels.*.name, 'automated-release')",
        "PR_NUMBER: ${{ github.event.pull_request.number }}",
        "run: cargo xtask release-merged \"${PR_NUMBER}\"",
    ] {
        assert!(merged.contains(want), "release_dev_image: {want}");
    }
    assert!(!merged.contains("pull_request_target"));
    for (name, text) in [("periodic", &periodic), ("merged", &merged)] {
        for s in scripts(text) {
            let ok = s.is_empty()
                || s.starts_with("cargo xtask ")
                || s == "gh auth setup-git"
                || s == "args=()"
                || s.starts_with("if [ -n \"${");
            assert!(ok, "{name}: a script line that is not the xtask: {s}");
        }
    }
}
