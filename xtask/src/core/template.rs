//! `{{variable}}` templates for release notes (pure). Unknown variables are an error that lists
//! the known ones; `{{#name}}…{{/name}}` renders its inside only when `name` is non-empty.

use std::collections::BTreeMap;

pub type Vars = BTreeMap<&'static str, String>;

pub fn render(template: &str, vars: &Vars) -> Result<String, String> {
    let mut unknown: Vec<String> = Vec::new();
    let out = render_inner(template, vars, &mut unknown)?;
    if !unknown.is_empty() {
        let mut seen = Vec::new();
        unknown.retain(|u| {
            if seen.contains(u) {
                false
            } else {
                seen.push(u.clone());
                true
            }
        });
        return Err(format!(
            "unknown template variable{} {}; known variables: {}",
            if unknown.len() > 1 { "s" } else { "" },
            unknown
                .iter()
                .map(|u| format!("{{{{{u}}}}}"))
                .collect::<Vec<_>>()
                .join(", "),
            vars.keys().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(out)
}

fn render_inner(t: &str, vars: &Vars, unknown: &mut Vec<String>) -> Result<String, String> {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| {
            format!(
                "unclosed `{{{{` near `{}`",
                after.chars().take(20).collect::<String>()
            )
        })?;
        let name = after[..close].trim();
        rest = &after[close + 2..];
        if let Some(section) = name.strip_prefix('#') {
            let section = section.trim();
            let end_tag = format!("{{{{/{section}}}}}");
            let end = rest
                .find(&end_tag)
                .ok_or_else(|| format!("`{{{{#{section}}}}}` has no `{end_tag}`"))?;
            let inner = &rest[..end];
            rest = &rest[end + end_tag.len()..];
            match vars.get(section) {
                Some(v) if !v.trim().is_empty() => {
                    out.push_str(&render_inner(inner, vars, unknown)?)
                }
                Some(_) => {}
                None => unknown.push(section.to_string()),
            }
        } else if let Some(v) = vars.get(name) {
            out.push_str(v);
        } else {
            unknown.push(name.to_string());
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.insert("version", "1.3.0".into());
        v.insert("tag", "v1.3.0".into());
        v.insert("empty", String::new());
        v
    }

    #[test]
    fn renders_and_sections() {
        let t =
            "# {{ tag }}\n{{#version}}v={{version}}{{/version}}{{#empty}}never {{tag}}{{/empty}}.";
        assert_eq!(render(t, &vars()).unwrap(), "# v1.3.0\nv=1.3.0.");
        assert_eq!(render("no vars", &vars()).unwrap(), "no vars");
    }

    #[test]
    fn unknown_variables_list_the_known_ones() {
        let err = render("{{versoin}} {{tga}} {{versoin}}", &vars()).unwrap_err();
        assert_eq!(
            err,
            "unknown template variables {{versoin}}, {{tga}}; known variables: empty, tag, version"
        );
        assert!(render("{{#nope}}x{{/nope}}", &vars())
            .unwrap_err()
            .contains("{{nope}}"));
        assert!(render("{{tag", &vars()).unwrap_err().contains("unclosed"));
        assert!(render("{{#tag}}x", &vars())
            .unwrap_err()
            .contains("has no `{{/tag}}`"));
    }
}
