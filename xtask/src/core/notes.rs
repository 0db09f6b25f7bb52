//! Release notes: the built-in templates and the pure helpers that cut a CHANGELOG section
//! into the variables they use.

pub const DEFAULT: &str = "{{body}}\n\n## Install\n\n```sh\n{{pip_install}}\n{{#docker_pull}}{{docker_pull}}\n{{/docker_pull}}```\n{{#deploy}}\n{{deploy}}\n{{/deploy}}";

pub const MINIMAL: &str = "{{bullets}}\n";

pub const DETAILED: &str = "{{body}}\n\n\
{{#migration_notes}}## Upgrade notes\n\n{{migration_notes}}\n\n{{/migration_notes}}\
## Contributors\n\n{{contributors}}\n\n\
{{commit_count}} commit(s){{#previous_tag}} since {{previous_tag}}{{/previous_tag}}\
{{#compare_url}} · [full diff]({{compare_url}}){{/compare_url}}\n\n\
## Install\n\n```sh\n{{pip_install}}\n{{#docker_pull}}{{docker_pull}}\n{{/docker_pull}}```\n{{#deploy}}\n{{deploy}}\n{{/deploy}}";

pub const BREAKING: &str = "{{#breaking}}## ⚠ Breaking changes\n\n{{breaking}}\n\n{{/breaking}}\
{{#migration_notes}}### Migration notes\n\n{{migration_notes}}\n\n{{/migration_notes}}\
{{body_without_breaking}}\n\n## Install\n\n```sh\n{{pip_install}}\n{{#docker_pull}}{{docker_pull}}\n{{/docker_pull}}```\n{{#deploy}}\n{{deploy}}\n{{/deploy}}";

/// The `deploy` variable: the environment and the command line (already rendered for display).
pub fn deploy_line(environment: &str, command_line: &str) -> String {
    format!(
        "Deployed to {environment} with: {}",
        crate::placeholder::inline_code(command_line)
    )
}

/// The bullet lines of a section (with their continuation lines), without headings.
pub fn bullets(body: &str) -> String {
    let mut out = Vec::new();
    let mut in_item = false;
    for line in body.lines() {
        if line.starts_with("- ") || line.starts_with("* ") {
            in_item = true;
            out.push(line);
        } else if in_item && line.starts_with("  ") && !line.trim().is_empty() {
            out.push(line);
        } else {
            in_item = false;
        }
    }
    out.join("\n")
}

/// Splits a section body into its `### Breaking changes` bullets and the rest.
pub fn split_breaking(body: &str) -> (String, String) {
    let mut breaking = Vec::new();
    let mut rest = Vec::new();
    let mut in_breaking = false;
    for line in body.lines() {
        if let Some(title) = line.strip_prefix("### ") {
            in_breaking = title
                .trim()
                .eq_ignore_ascii_case(crate::changegen::BREAKING);
            if in_breaking {
                continue;
            }
        }
        if in_breaking {
            breaking.push(line);
        } else {
            rest.push(line);
        }
    }
    (
        breaking.join("\n").trim().to_string(),
        rest.join("\n").trim().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{self, Vars};

    #[test]
    fn bullets_and_breaking_split() {
        let body = "### Breaking changes\n\n- drop v1\n  use v2\n\n### Added\n\n- a\n- b\n  more\n\ntext\n";
        assert_eq!(bullets(body), "- drop v1\n  use v2\n- a\n- b\n  more");
        let (b, rest) = split_breaking(body);
        assert_eq!(b, "- drop v1\n  use v2");
        assert_eq!(rest, "### Added\n\n- a\n- b\n  more\n\ntext");
    }

    #[test]
    fn the_deploy_line_quotes_the_command_as_code() {
        assert_eq!(
            deploy_line(
                "staging",
                "helm upgrade --install app ./chart --set image.tag=1.2.3"
            ),
            "Deployed to staging with: `helm upgrade --install app ./chart --set image.tag=1.2.3`"
        );
        let mut vars = Vars::new();
        for k in ["body", "pip_install", "docker_pull"] {
            vars.insert(k, String::new());
        }
        vars.insert("deploy", String::new());
        assert!(template::render(DEFAULT, &vars).unwrap().ends_with("```\n"));
        vars.insert("deploy", deploy_line("staging", "./deploy.sh"));
        assert!(template::render(DEFAULT, &vars)
            .unwrap()
            .ends_with("```\n\nDeployed to staging with: `./deploy.sh`\n"));
    }

    #[test]
    fn builtin_templates_use_only_known_variables() {
        let mut vars = Vars::new();
        for k in [
            "version",
            "tag",
            "date",
            "pep440",
            "docker_tag",
            "body",
            "bullets",
            "breaking",
            "body_without_breaking",
            "migration_notes",
            "package",
            "pip_install",
            "image",
            "docker_pull",
            "repository",
            "previous_tag",
            "compare_url",
            "commit_count",
            "contributors",
            "deploy",
        ] {
            vars.insert(k, format!("<{k}>"));
        }
        for t in [DEFAULT, MINIMAL, DETAILED, BREAKING] {
            template::render(t, &vars).unwrap();
        }
    }
}
