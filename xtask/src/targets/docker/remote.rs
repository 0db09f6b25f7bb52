//! What a registry holds for a tag, read through the registry API.

use super::platform::same_platform;
use super::registry;
use anyhow::Result;
use std::collections::BTreeMap;

/// What a tag on a registry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Absent,
    /// An image manifest; `config` is its config digest (the image ID).
    Image {
        digest: String,
        config: String,
    },
    /// An index; each child's platform, digest and config digest.
    Index {
        digest: String,
        children: Vec<(String, String, String)>,
    },
    Other {
        digest: String,
        media_type: String,
    },
}

impl Remote {
    pub fn digest(&self) -> Option<&str> {
        match self {
            Remote::Absent => None,
            Remote::Image { digest, .. }
            | Remote::Index { digest, .. }
            | Remote::Other { digest, .. } => Some(digest),
        }
    }

    /// Does an index hold exactly these images (platform → image ID), attestations aside?
    pub fn index_holds(&self, images: &BTreeMap<String, String>) -> bool {
        let Remote::Index { children, .. } = self else {
            return false;
        };
        let real: Vec<&(String, String, String)> = children
            .iter()
            .filter(|(p, _, _)| !p.starts_with("unknown"))
            .collect();
        real.len() == images.len()
            && images.iter().all(|(p, id)| {
                real.iter()
                    .any(|(cp, _, config)| same_platform(cp, p) && config == id)
            })
    }
}

/// Reads what `tag` holds on the registry (children of an index resolved to their configs).
pub fn read_remote(client: &mut registry::Client, path: &str, tag: &str) -> Result<Remote> {
    let Some((m, body)) = client.manifest_json(path, tag)? else {
        return Ok(Remote::Absent);
    };
    if m.is_index() {
        let mut children = Vec::new();
        for child in registry::parse_index(&body) {
            let config = if child.platform.starts_with("unknown") {
                String::new()
            } else {
                client
                    .manifest_json(path, &child.digest)?
                    .and_then(|(_, j)| j["config"]["digest"].as_str().map(str::to_string))
                    .unwrap_or_default()
            };
            children.push((child.platform, child.digest, config));
        }
        return Ok(Remote::Index {
            digest: m.digest,
            children,
        });
    }
    match body["config"]["digest"].as_str() {
        Some(config) => Ok(Remote::Image {
            digest: m.digest,
            config: config.to_string(),
        }),
        None => Ok(Remote::Other {
            digest: m.digest,
            media_type: m.media_type,
        }),
    }
}

/// The `<tag>: digest: sha256:… size: N` line of `docker push`.
pub fn pushed_digest(output: &str, tag: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let rest = l.trim().strip_prefix(&format!("{tag}: digest: "))?;
        let d = rest.split_whitespace().next()?;
        (d.starts_with("sha256:") && d.len() == 71).then(|| d.to_string())
    })
}

/// The digest `docker manifest push` prints (its last `sha256:` line).
pub fn manifest_push_digest(output: &str) -> Option<String> {
    output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with("sha256:") && l.len() == 71)
        .map(str::to_string)
}
