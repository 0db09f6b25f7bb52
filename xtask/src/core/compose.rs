//! Docker Compose files: find the project's own images and move their version tags.
//!
//! [`scan`] walks the YAML event stream ([`crate::yaml`], with byte spans) and looks at the
//! `image` value of every `services.<name>` mapping, and at every `image` key anywhere beneath a
//! top-level `x-…` extension field (where anchors for `<<: *app` merges usually live). Compose
//! interpolation (`${VAR:-default}`, `$$`, …) is resolved with a map back to source bytes, so a
//! tag that sits inside a default (`${APP_TAG:-1.2.3}`) is still edited in place.
//!
//! [`set_version`] only ever replaces the bytes of a tag ([`crate::edit::splice`]), then scans the
//! result again and refuses to return anything that does not show the new version at every
//! versioned use.
//!
//! Positions: [`crate::yaml`] gives every scalar the byte range of its source text (a
//! quoted scalar's from its opening quote); the raw text is only trusted when it equals the
//! parsed value. YAML the reader does not understand is refused with its line and column, never
//! guessed at.

use std::ops::Range;

use semver::Version;

use crate::edit::{splice, Replacement};
use crate::version::{docker_tag, parse_docker_tag};
use crate::yaml::{self, Event, Style};

/// One reference to an own image in a compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUse {
    /// The `services.<name>` key, or the top-level `x-…` extension key it was found under.
    pub service: String,
    /// 1-based line of the image scalar.
    pub line: usize,
    /// The image reference after `${VAR:-default}` defaults are substituted (a variable without
    /// a default is shown as `${VAR}`).
    pub image: String,
    pub kind: UseKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UseKind {
    /// A version tag that follows the release. `range` = byte range in the SOURCE of the whole
    /// tag text (including a `v` prefix if present).
    Versioned {
        version: Version,
        v_prefix: bool,
        range: Range<usize>,
    },
    /// A tag that does not carry a version (`latest`, `dev`, `main`, `1.2`, or no tag at all,
    /// reported as `latest`).
    Floating { tag: String },
    /// Found but not editable, with the reason shown to the user.
    Unmanaged { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scan {
    pub uses: Vec<ImageUse>,
    /// Commented-out lines that mention an own image, as (1-based line, trimmed line text).
    pub commented: Vec<(usize, String)>,
}

/// Parses `src` (all documents) and finds the own images. Err is a one-line message for the user.
pub fn scan(src: &str, images: &[String]) -> Result<Scan, String> {
    let mut builds = Vec::new();
    let uses = walk(src, &|i: &str| is_own_image(i, images), &mut builds)?;
    Ok(Scan {
        uses,
        commented: commented_lines(src, images),
    })
}

/// Every image reference of a compose file (what `init` sorts into own and left alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub service: String,
    pub line: usize,
    /// Defaults substituted, as in [`ImageUse::image`].
    pub image: String,
    /// The repository as written, without tag or digest (`ghcr.io/acme/app`).
    pub repository: String,
    /// The service also has a `build:` (the image is built from this repository's Dockerfile).
    pub built_here: bool,
    pub kind: UseKind,
}

/// Every `image` reference of `src` (services and `x-…` extensions), with the services that
/// have a `build:` key marked.
pub fn references(src: &str) -> Result<Vec<Reference>, String> {
    let mut builds = Vec::new();
    let uses = walk(src, &|_: &str| true, &mut builds)?;
    Ok(uses
        .into_iter()
        .map(|u| Reference {
            built_here: builds.contains(&u.service),
            repository: repository_of(&u.image).to_string(),
            service: u.service,
            line: u.line,
            image: u.image,
            kind: u.kind,
        })
        .collect())
}

/// The event walk of [`scan`]: the `image` uses that `own` accepts; `builds` gets every service
/// with a `build` key.
fn walk(
    src: &str,
    own: &dyn Fn(&str) -> bool,
    builds: &mut Vec<String>,
) -> Result<Vec<ImageUse>, String> {
    let offsets = Offsets::new(src);
    let mut uses = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for event in yaml::parse(src).map_err(|e| e.to_string())? {
        match event {
            Event::DocumentStart | Event::DocumentEnd => stack.clear(),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::MappingStart => {
                let ctx = match node_slot(&mut stack) {
                    Slot::Node(ctx) => ctx,
                    Slot::Image(_) => Ctx::Other,
                };
                stack.push(Frame::Map {
                    ctx,
                    key: KeyState::Expect,
                    seen: Vec::new(),
                });
            }
            Event::SequenceStart => {
                let ctx = match node_slot(&mut stack) {
                    Slot::Node(Ctx::Ext(name)) => Ctx::Ext(name),
                    _ => Ctx::Other,
                };
                stack.push(Frame::Seq { ctx });
            }
            Event::Alias => {
                // An alias is not edited: its anchor's scalar is, where it is defined.
                node_slot(&mut stack);
            }
            Event::Scalar(yaml::Scalar { value, style, span }) => {
                if let Some(Frame::Map {
                    key: key @ KeyState::Expect,
                    seen,
                    ctx,
                }) = stack.last_mut()
                {
                    if let (Ctx::Service(name), "build") = (&*ctx, value.as_str()) {
                        builds.push(name.clone());
                    }
                    // Duplicate keys are malformed (YAML requires unique keys; Compose refuses
                    // them): which one would be "the" image is not ours to guess.
                    let line = offsets.line(span.start);
                    if value != "<<" {
                        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == value) {
                            return Err(format!(
                                "duplicate key `{}` at line {line} (first at line {first}): keys must be unique within a mapping; remove one of them",
                                shorten(&value)
                            ));
                        }
                        seen.push((value.clone(), line));
                    }
                    *key = KeyState::Key(Some(value));
                    continue;
                }
                // A scalar directly under a top-level `x-…` key, or an anchored one anywhere
                // beneath it (`x-app-image: &app-image ghcr.io/acme/app:1.2.3`, used by
                // `image: *app-image`): the anchor is where the version is written.
                let top_level = stack.len() == 1;
                match node_slot(&mut stack) {
                    Slot::Image(service) => {
                        if let Some(u) = classify(src, &offsets, &value, style, span, service, own)
                        {
                            uses.push(u);
                        }
                    }
                    Slot::Node(Ctx::Ext(name)) if top_level || anchored(src, span.start) => {
                        if let Some(u) = classify(src, &offsets, &value, style, span, name, own) {
                            uses.push(u);
                        }
                    }
                    Slot::Node(_) => {}
                }
            }
        }
    }
    Ok(uses)
}

/// Rewrites every `Versioned` use's tag to `new` (Docker rendering, keeping each occurrence's
/// `v` prefix style), then re-scans the result and checks it. Returns the new file content.
pub fn set_version(src: &str, scan: &Scan, new: &Version) -> Result<String, String> {
    let tag = docker_tag(new);
    let mut reps = Vec::new();
    for u in &scan.uses {
        if let UseKind::Versioned {
            version,
            v_prefix,
            range,
        } = &u.kind
        {
            let cur = src.get(range.clone()).ok_or_else(|| {
                format!(
                    "internal error: line {}: tag range {range:?} is outside the file or not on a \
                     character boundary",
                    u.line
                )
            })?;
            if parse_docker_tag(cur) != Some((version.clone(), *v_prefix)) {
                return Err(format!(
                    "internal error: line {}: expected tag {}{} at bytes {range:?}, found `{cur}`",
                    u.line,
                    if *v_prefix { "v" } else { "" },
                    docker_tag(version)
                ));
            }
            let text = if *v_prefix {
                format!("v{tag}")
            } else {
                tag.clone()
            };
            reps.push(Replacement::new(range.clone(), text));
        }
    }
    let mut ranges: Vec<&Range<usize>> = reps.iter().map(|r| &r.range).collect();
    ranges.sort_by_key(|r| (r.start, r.end));
    if let Some(w) = ranges.windows(2).find(|w| w[1].start < w[0].end) {
        return Err(format!(
            "internal error: overlapping tag ranges {:?} and {:?}",
            w[0], w[1]
        ));
    }
    let out = splice(src, &reps);

    // Bug guard: the edited file must show exactly the same uses, now at the new version.
    let mut own: Vec<String> = scan
        .uses
        .iter()
        .filter_map(|u| canonical_repo(&u.image))
        .collect();
    own.sort();
    own.dedup();
    let after = self::scan(&out, &own)
        .map_err(|e| format!("internal error: the edited file no longer parses: {e}"))?;
    if after.uses.len() != scan.uses.len() {
        return Err(format!(
            "internal error: {} own image use(s) before the edit, {} after",
            scan.uses.len(),
            after.uses.len()
        ));
    }
    for (before, now) in scan.uses.iter().zip(&after.uses) {
        let ok = before.service == now.service
            && match (&before.kind, &now.kind) {
                (
                    UseKind::Versioned { v_prefix: p0, .. },
                    UseKind::Versioned {
                        version,
                        v_prefix: p1,
                        ..
                    },
                ) => version == new && p0 == p1,
                (UseKind::Floating { tag: t0 }, UseKind::Floating { tag: t1 }) => t0 == t1,
                (UseKind::Unmanaged { .. }, UseKind::Unmanaged { .. }) => true,
                _ => false,
            };
        if !ok {
            return Err(format!(
                "internal error: line {} (service `{}`): expected {} after the edit, found {:?}",
                before.line,
                before.service,
                match before.kind {
                    UseKind::Versioned { .. } => format!("version {new}"),
                    _ => format!("{:?} unchanged", before.kind),
                },
                now.kind
            ));
        }
    }
    Ok(out)
}

/// Does image reference `reference` (`ghcr.io/acme/app:1.2.3`, `acme/app`,
/// `localhost:5000/acme/app@sha256:…`) name one of `images`?
///
/// An entry with a registry host must match host (case-insensitively) and path; an entry without
/// a host matches that path under any host. `docker.io/library/x`, `docker.io/x`,
/// `index.docker.io/x` and `x` are the same Docker Hub name.
pub fn is_own_image(reference: &str, images: &[String]) -> bool {
    let Some(r) = RepoName::parse(repository_of(reference)) else {
        return false;
    };
    images.iter().any(|entry| {
        let Some(e) = RepoName::parse(repository_of(entry.trim())) else {
            return false;
        };
        match (&e.registry, &r.registry) {
            (Registry::Hub, Registry::Hub) => e.path == r.path,
            (Registry::Host(a), Registry::Host(b)) => e.explicit && a == b && e.path == r.path,
            (Registry::Hub, _) if !e.explicit => e.path == r.path,
            (Registry::Hub, Registry::Host(_)) => false,
            (Registry::Host(_), Registry::Hub) => false,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Image references

/// The `[host[:port]/]path` part of a reference: without `@digest` and `:tag`.
fn repository_of(reference: &str) -> &str {
    let name = reference.split_once('@').map_or(reference, |(n, _)| n);
    let after_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[after_slash..].rfind(':') {
        Some(i) => &name[..after_slash + i],
        None => name,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Registry {
    /// Docker Hub (no host, or one of its host names).
    Hub,
    /// Any other registry, host lowercased.
    Host(String),
}

#[derive(Debug)]
struct RepoName {
    registry: Registry,
    /// Whether a host was written (an entry without one matches any host).
    explicit: bool,
    /// Path, with Docker Hub's `library/` prefix removed.
    path: String,
}

impl RepoName {
    fn parse(repo: &str) -> Option<RepoName> {
        if repo.is_empty() {
            return None;
        }
        let (host, path) = match repo.split_once('/') {
            Some((h, p)) if h.contains('.') || h.contains(':') || h == "localhost" => {
                (Some(h.to_ascii_lowercase()), p)
            }
            _ => (None, repo),
        };
        if path.is_empty() {
            return None;
        }
        let explicit = host.is_some();
        let registry = match host {
            None => Registry::Hub,
            Some(h)
                if matches!(
                    h.as_str(),
                    "docker.io" | "index.docker.io" | "registry-1.docker.io"
                ) =>
            {
                Registry::Hub
            }
            Some(h) => Registry::Host(h),
        };
        let path = match registry {
            Registry::Hub => path.strip_prefix("library/").unwrap_or(path),
            Registry::Host(_) => path,
        };
        if path.is_empty() {
            return None;
        }
        Some(RepoName {
            registry,
            explicit,
            path: path.to_string(),
        })
    }
}

/// `host/path` with the host spelled out (`docker.io/…` for Docker Hub): an entry that matches
/// exactly the repository of `reference`.
pub fn canonical_repo(reference: &str) -> Option<String> {
    let r = RepoName::parse(repository_of(reference))?;
    Some(match r.registry {
        Registry::Hub => format!("docker.io/{}", r.path),
        Registry::Host(h) => format!("{h}/{}", r.path),
    })
}

// ---------------------------------------------------------------------------------------------
// YAML walk

#[derive(Debug, Clone)]
enum Ctx {
    /// The document's root node.
    Root,
    /// The value of the top-level `services`.
    Services,
    /// The value of `services.<name>`.
    Service(String),
    /// Anywhere beneath a top-level `x-…` key.
    Ext(String),
    Other,
}

enum KeyState {
    Expect,
    /// A key was read; `None` for a non-scalar key.
    Key(Option<String>),
}

enum Frame {
    Map {
        ctx: Ctx,
        key: KeyState,
        /// The scalar keys read so far, with their lines (duplicates are refused).
        seen: Vec<(String, usize)>,
    },
    Seq {
        ctx: Ctx,
    },
}

/// Does the node whose text starts at `start` carry an anchor (`&name`) before it, on its line?
fn anchored(src: &str, start: usize) -> bool {
    let before = src.get(..start).unwrap_or("");
    let line = before.rsplit('\n').next().unwrap_or("");
    // The node properties are the last words before the text: `&a`, `!tag`, in either order.
    line.split_whitespace()
        .rev()
        .take(2)
        .take_while(|w| w.starts_with(['&', '!']))
        .any(|w| w.starts_with('&'))
}

/// Where a node that is not a mapping key lands.
enum Slot {
    Node(Ctx),
    /// The value of an `image` key we care about, with the service / extension name.
    Image(String),
}

/// Consumes the position of the next node (a value, a sequence item, or a complex key) and
/// returns its slot.
fn node_slot(stack: &mut [Frame]) -> Slot {
    let Some(top) = stack.last_mut() else {
        return Slot::Node(Ctx::Root);
    };
    match top {
        Frame::Seq {
            ctx: Ctx::Ext(name),
        } => Slot::Node(Ctx::Ext(name.clone())),
        Frame::Seq { .. } => Slot::Node(Ctx::Other),
        Frame::Map { key, .. } if matches!(key, KeyState::Expect) => {
            // A non-scalar key: nothing of ours lives inside it.
            *key = KeyState::Key(None);
            Slot::Node(Ctx::Other)
        }
        Frame::Map { ctx, key, .. } => {
            let k = match std::mem::replace(key, KeyState::Expect) {
                KeyState::Key(Some(k)) => k,
                _ => return Slot::Node(Ctx::Other),
            };
            match ctx {
                Ctx::Root if k == "services" => Slot::Node(Ctx::Services),
                Ctx::Root if k.starts_with("x-") => Slot::Node(Ctx::Ext(k)),
                Ctx::Services => Slot::Node(Ctx::Service(k)),
                Ctx::Service(name) | Ctx::Ext(name) if k == "image" => Slot::Image(name.clone()),
                Ctx::Ext(name) => Slot::Node(Ctx::Ext(name.clone())),
                _ => Slot::Node(Ctx::Other),
            }
        }
    }
}

/// Line numbers for one source text.
struct Offsets {
    /// Byte offsets of every `\n` (as [`crate::edit::line_of`] counts them).
    newlines: Vec<usize>,
}

impl Offsets {
    fn new(src: &str) -> Offsets {
        let newlines = src
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        Offsets { newlines }
    }

    /// 1-based line of a byte offset.
    fn line(&self, byte: usize) -> usize {
        self.newlines.partition_point(|&n| n < byte) + 1
    }
}

/// Source text quoted in a message, cut short if long.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Builds the [`ImageUse`] for an `image` scalar, or `None` when it is not an own image.
fn classify(
    src: &str,
    offsets: &Offsets,
    value: &str,
    style: Style,
    span: Range<usize>,
    service: String,
    own: &dyn Fn(&str) -> bool,
) -> Option<ImageUse> {
    let resolved = Resolved::new(value);
    let image: String = resolved.chars.iter().map(|(c, _)| *c).collect();
    let parts = RefParts::of(&resolved)?;
    if !own(&image) {
        return None;
    }
    let (start, end) = (span.start, span.end.max(span.start));
    let located = locate(src, start, end, style, value);
    let line = offsets.line(*located.as_ref().unwrap_or(&start));

    let kind = if let Some(at) = parts.at {
        let digest: String = resolved.chars[at + 1..].iter().map(|(c, _)| *c).collect();
        let shown = match digest.char_indices().nth(19) {
            Some((i, _)) => format!("{}…", &digest[..i]),
            None => digest,
        };
        UseKind::Unmanaged {
            reason: format!("pinned by digest @{shown}"),
        }
    } else if let Err(reason) = &located {
        UseKind::Unmanaged {
            reason: format!("image is in a {reason}"),
        }
    } else if let Some(colon) = parts.colon {
        let tag_chars = &resolved.chars[colon + 1..];
        let tag: String = tag_chars.iter().map(|(c, _)| *c).collect();
        let unknown = tag_chars.iter().find_map(|(_, p)| match p {
            Prov::Unknown(i) => Some(*i),
            _ => None,
        });
        if let Some(i) = unknown {
            UseKind::Unmanaged {
                reason: format!("tag comes from {}", resolved.unknowns[i]),
            }
        } else if tag.is_empty() {
            UseKind::Unmanaged {
                reason: "empty tag".to_string(),
            }
        } else {
            let split = source_range(tag_chars)
                .is_none()
                .then(|| suffixed(tag_chars))
                .flatten();
            match (parse_docker_tag(&tag), &located, source_range(tag_chars)) {
                // `${TAG:-0.6.2}-ollama`: the version is the default, the rest a suffix.
                (_, Ok(content), None) if split.is_some() => {
                    let (version, v_prefix, r) = split.expect("checked");
                    UseKind::Versioned {
                        version,
                        v_prefix,
                        range: content + r.start..content + r.end,
                    }
                }
                (None, _, _) => UseKind::Floating { tag },
                (Some((version, v_prefix)), Ok(content), Some(r)) => UseKind::Versioned {
                    version,
                    v_prefix,
                    range: content + r.start..content + r.end,
                },
                (Some(_), _, _) => UseKind::Unmanaged {
                    reason: format!("tag {tag} spans an interpolation boundary"),
                },
            }
        }
    } else {
        UseKind::Floating {
            tag: "latest".to_string(),
        }
    };
    Some(ImageUse {
        service,
        line,
        image,
        kind,
    })
}

/// A tag made of a version from one stretch of source text followed by a suffix from elsewhere
/// (`${TAG:-0.6.2}-ollama` resolves to `0.6.2-ollama`): the version, its `v` prefix and the byte
/// range of the version within the scalar's value. The suffix must start with `-`, `_` or `.`.
fn suffixed(chars: &[(char, Prov)]) -> Option<(Version, bool, Range<usize>)> {
    let Some(&(_, Prov::Lit(first))) = chars.first() else {
        return None;
    };
    let mut next = first;
    let mut n = 0;
    for &(c, p) in chars {
        match p {
            Prov::Lit(at) if at == next => next += c.len_utf8(),
            _ => break,
        }
        n += 1;
    }
    let rest = chars.get(n..)?;
    if !rest
        .first()
        .is_some_and(|(c, _)| matches!(c, '-' | '_' | '.'))
    {
        return None;
    }
    let head: String = chars[..n].iter().map(|(c, _)| *c).collect();
    let (version, v_prefix) = parse_docker_tag(&head)?;
    Some((version, v_prefix, first..next))
}

/// The byte range, within the scalar's value, of characters that are contiguous literal text.
fn source_range(chars: &[(char, Prov)]) -> Option<Range<usize>> {
    let Some(&(_, Prov::Lit(first))) = chars.first() else {
        return None;
    };
    let mut next = first;
    for &(c, p) in chars {
        match p {
            Prov::Lit(at) if at == next => next += c.len_utf8(),
            _ => return None,
        }
    }
    Some(first..next)
}

/// The byte offset in `src` where the scalar's value starts, when the raw source text is exactly
/// the value (so value offsets map to source offsets by adding it). Err = why not, as a noun
/// phrase ("block scalar", …).
fn locate(src: &str, start: usize, end: usize, style: Style, value: &str) -> Result<usize, String> {
    let bytes = src.as_bytes();
    let mut i = start;
    // Skip node properties (`&anchor`, `!tag`), blanks, line breaks and comments between them.
    loop {
        match bytes.get(i) {
            Some(b'&' | b'!') => {
                while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
                    i += 1;
                }
            }
            Some(b' ' | b'\t' | b'\r' | b'\n') => i += 1,
            Some(b'#') if i > start && matches!(bytes[i - 1], b' ' | b'\t' | b'\r' | b'\n') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    let unlocated = || "scalar whose source text could not be located".to_string();
    match style {
        Style::Plain => match src.get(i..end) {
            Some(raw) if raw == value => Ok(i),
            Some(raw) if raw.contains('\n') => Err("multi-line plain scalar".to_string()),
            _ => Err(unlocated()),
        },
        Style::SingleQuoted | Style::DoubleQuoted => {
            let quote = if matches!(style, Style::SingleQuoted) {
                b'\''
            } else {
                b'"'
            };
            if bytes.get(i) != Some(&quote) {
                return Err(unlocated());
            }
            let open = i + 1;
            let mut j = open;
            let close = loop {
                match bytes.get(j) {
                    None => return Err(unlocated()),
                    Some(b'\\') if quote == b'"' => j += 2,
                    Some(&b)
                        if b == quote && quote == b'\'' && bytes.get(j + 1) == Some(&b'\'') =>
                    {
                        j += 2
                    }
                    Some(&b) if b == quote => break j,
                    Some(_) => j += 1,
                }
            };
            match src.get(open..close) {
                Some(raw) if raw == value && !raw.contains(['\\', '\n']) => Ok(open),
                Some(raw) if raw.contains('\n') => Err("multi-line quoted scalar".to_string()),
                Some(_) => Err("quoted scalar with escapes".to_string()),
                None => Err(unlocated()),
            }
        }
        Style::Literal | Style::Folded => Err("block scalar (`|` or `>`)".to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Interpolation

/// Where a character of the resolved string comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prov {
    /// Literally this byte offset of the scalar's value (also inside a default).
    Lit(usize),
    /// The `$` of a `$$` escape.
    Dollar,
    /// Placeholder text for a variable with no default (index into `unknowns`).
    Unknown(usize),
}

/// A scalar value with Compose interpolation applied: defaults substituted, `$$` → `$`, and
/// variables without a default shown as `${VAR}`.
struct Resolved {
    chars: Vec<(char, Prov)>,
    /// For each unknown variable: its source text and why it is unknown.
    unknowns: Vec<String>,
}

const MAX_NESTING: usize = 16;

impl Resolved {
    fn new(value: &str) -> Resolved {
        let mut r = Resolved {
            chars: Vec::new(),
            unknowns: Vec::new(),
        };
        r.push_range(value, 0, value.len(), 0);
        r
    }

    fn push_unknown(&mut self, shown: &str, reason: String) {
        let idx = self.unknowns.len();
        self.unknowns.push(reason);
        self.chars
            .extend(shown.chars().map(|c| (c, Prov::Unknown(idx))));
    }

    fn push_range(&mut self, v: &str, start: usize, end: usize, depth: usize) {
        let b = v.as_bytes();
        let mut i = start;
        while i < end {
            let Some(c) = v[i..end].chars().next() else {
                break;
            };
            if c != '$' {
                self.chars.push((c, Prov::Lit(i)));
                i += c.len_utf8();
                continue;
            }
            match b.get(i + 1) {
                Some(b'$') if i + 1 < end => {
                    self.chars.push(('$', Prov::Dollar));
                    i += 2;
                }
                Some(b'{') if i + 1 < end => match parse_braced(v, i, end) {
                    Some(var) if depth < MAX_NESTING => {
                        let shown = format!("${{{}}}", var.name);
                        let raw = shorten(&v[i..var.close + 1]);
                        match var.default {
                            Some(d) => self.push_range(v, d.start, d.end, depth + 1),
                            None if var.op.contains('+') => self.push_unknown(
                                &shown,
                                format!("{raw} (depends on whether {} is set)", var.name),
                            ),
                            None => self.push_unknown(&shown, format!("{raw} (no default)")),
                        }
                        i = var.close + 1;
                    }
                    Some(var) => {
                        let raw = shorten(&v[i..var.close + 1]);
                        self.push_unknown(
                            &format!("${{{}}}", var.name),
                            format!("{raw} (nested too deep)"),
                        );
                        i = var.close + 1;
                    }
                    None => {
                        // Not valid interpolation: keep the `$` as text (Compose would reject it).
                        self.chars.push(('$', Prov::Lit(i)));
                        i += 1;
                    }
                },
                Some(&n) if i + 1 < end && (n == b'_' || n.is_ascii_alphabetic()) => {
                    let name_end = (i + 1..end)
                        .find(|&j| !(b[j] == b'_' || b[j].is_ascii_alphanumeric()))
                        .unwrap_or(end);
                    let raw = &v[i..name_end];
                    self.push_unknown(raw, format!("{} (no default)", shorten(raw)));
                    i = name_end;
                }
                _ => {
                    self.chars.push(('$', Prov::Lit(i)));
                    i += 1;
                }
            }
        }
    }
}

struct Braced<'a> {
    name: &'a str,
    op: &'a str,
    /// Byte range of the default text, for `:-` and `-`.
    default: Option<Range<usize>>,
    /// Byte offset of the closing `}`.
    close: usize,
}

/// Parses `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?err}`, `${NAME?err}`,
/// `${NAME:+alt}`, `${NAME+alt}` starting at `v[at] == '$'`, not reading at or past `end`.
fn parse_braced(v: &str, at: usize, end: usize) -> Option<Braced<'_>> {
    let b = v.as_bytes();
    let name_start = at + 2;
    let name_end = (name_start..end)
        .find(|&j| !(b[j] == b'_' || b[j].is_ascii_alphanumeric()))
        .unwrap_or(end);
    let name = &v[name_start..name_end];
    if name.is_empty() || b[name_start].is_ascii_digit() || name_end >= end {
        return None;
    }
    if b[name_end] == b'}' {
        return Some(Braced {
            name,
            op: "",
            default: None,
            close: name_end,
        });
    }
    let op_len = match (b[name_end], b.get(name_end + 1)) {
        (b':', Some(b'-' | b'?' | b'+')) if name_end + 1 < end => 2,
        (b'-' | b'?' | b'+', _) => 1,
        _ => return None,
    };
    let op = &v[name_end..name_end + op_len];
    let body = name_end + op_len;
    // Find the matching `}`, skipping nested `${…}` and `$$`.
    let mut depth = 0usize;
    let mut j = body;
    let close = loop {
        if j >= end {
            return None;
        }
        match b[j] {
            b'$' if j + 1 < end && b[j + 1] == b'$' => j += 2,
            b'$' if j + 1 < end && b[j + 1] == b'{' => {
                depth += 1;
                j += 2;
            }
            b'}' if depth == 0 => break j,
            b'}' => {
                depth -= 1;
                j += 1;
            }
            _ => j += 1,
        }
    };
    let default = op.ends_with('-').then_some(body..close);
    Some(Braced {
        name,
        op,
        default,
        close,
    })
}

/// Where the tag and digest separators are in a resolved reference.
struct RefParts {
    /// Index (in `Resolved::chars`) of the `:` before the tag.
    colon: Option<usize>,
    /// Index of the `@` before the digest.
    at: Option<usize>,
}

impl RefParts {
    /// `None` when the repository part is not fully known (comes from a variable without default).
    fn of(r: &Resolved) -> Option<RefParts> {
        let chars = &r.chars;
        let at = chars.iter().position(|(c, _)| *c == '@');
        let name_end = at.unwrap_or(chars.len());
        let after_slash = chars[..name_end]
            .iter()
            .rposition(|(c, _)| *c == '/')
            .map_or(0, |i| i + 1);
        let colon = chars[after_slash..name_end]
            .iter()
            .rposition(|(c, _)| *c == ':')
            .map(|i| after_slash + i);
        let repo_end = colon.unwrap_or(name_end);
        if repo_end == 0
            || chars[..repo_end]
                .iter()
                .any(|(_, p)| matches!(p, Prov::Unknown(_)))
        {
            return None;
        }
        Some(RefParts { colon, at })
    }
}

// ---------------------------------------------------------------------------------------------
// Comments

/// Lines whose first non-blank character is `#` and that mention an own image: a token that
/// looks like a reference (has `/`, `:` or `@`), or any token after `image:`.
fn commented_lines(src: &str, images: &[String]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in src.split('\n').enumerate() {
        let trimmed = line.trim();
        let Some(body) = trimmed.strip_prefix('#') else {
            continue;
        };
        let mut after_image_key = false;
        let mut hit = false;
        for token in body.split(|c: char| c.is_whitespace() || "#'\",".contains(c)) {
            let token = token
                .trim_start_matches(['{', '[', '-'])
                .trim_end_matches(']');
            if token.is_empty() {
                continue;
            }
            if token == "image:" {
                after_image_key = true;
                continue;
            }
            let token = token.strip_prefix("image:").unwrap_or(token);
            let looks_like_ref = after_image_key || token.contains(['/', ':', '@']);
            after_image_key = false;
            if !looks_like_ref || token.ends_with(':') {
                continue;
            }
            let resolved = Resolved::new(token);
            if RefParts::of(&resolved).is_some() {
                let image: String = resolved.chars.iter().map(|(c, _)| *c).collect();
                if is_own_image(&image, images) {
                    hit = true;
                    break;
                }
            }
        }
        if hit {
            found.push((n + 1, trimmed.to_string()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::line_of;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn imgs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A short rendering of a scan: `service@line image => kind`.
    fn render(src: &str, s: &Scan) -> Vec<String> {
        for u in &s.uses {
            if let UseKind::Versioned { range, .. } = &u.kind {
                assert_eq!(u.line, line_of(src, range.start), "line of {u:?}");
            }
        }
        s.uses
            .iter()
            .map(|u| {
                let kind = match &u.kind {
                    UseKind::Versioned {
                        version,
                        v_prefix,
                        range,
                    } => {
                        assert_eq!(
                            parse_docker_tag(&src[range.clone()]),
                            Some((version.clone(), *v_prefix)),
                            "range text"
                        );
                        format!(
                            "versioned {}{version} `{}`",
                            if *v_prefix { "v" } else { "" },
                            &src[range.clone()]
                        )
                    }
                    UseKind::Floating { tag } => format!("floating {tag}"),
                    UseKind::Unmanaged { reason } => format!("unmanaged: {reason}"),
                };
                format!("{}@{} {} => {kind}", u.service, u.line, u.image)
            })
            .collect()
    }

    const OWN: &[&str] = &[
        "ghcr.io/acme/app",
        "acme/worker",
        "ghcr.io/acme/slipway-demo",
    ];

    #[test]
    fn is_own_image_table() {
        let cases: &[(&str, &[&str], bool)] = &[
            ("ghcr.io/acme/app:1.2.3", &["ghcr.io/acme/app"], true),
            ("ghcr.io/acme/app", &["ghcr.io/acme/app"], true),
            ("GHCR.IO/acme/app:1", &["ghcr.io/acme/app"], true),
            ("ghcr.io/acme/app@sha256:abc", &["ghcr.io/acme/app"], true),
            ("ghcr.io/acme/app:1@sha256:abc", &["ghcr.io/acme/app"], true),
            ("ghcr.io/acme/app2:1", &["ghcr.io/acme/app"], false),
            ("ghcr.io/acme/app/sub:1", &["ghcr.io/acme/app"], false),
            ("quay.io/acme/app:1", &["ghcr.io/acme/app"], false),
            ("acme/app:1", &["ghcr.io/acme/app"], false),
            // host-less entry: any host or none
            ("ghcr.io/acme/app:1", &["acme/app"], true),
            ("localhost:5000/acme/app:1.2.3", &["acme/app"], true),
            ("acme/app", &["acme/app"], true),
            (
                "localhost:5000/acme/app:1.2.3",
                &["localhost:5000/acme/app"],
                true,
            ),
            (
                "localhost:5001/acme/app:1.2.3",
                &["localhost:5000/acme/app"],
                false,
            ),
            ("localhost/acme/app", &["localhost/acme/app"], true),
            // Docker Hub spellings
            ("docker.io/library/x:1", &["x"], true),
            ("docker.io/x", &["x"], true),
            ("index.docker.io/x", &["docker.io/library/x"], true),
            ("x:2", &["docker.io/x"], true),
            ("library/x", &["index.docker.io/x"], true),
            ("ghcr.io/x", &["docker.io/x"], false),
            ("docker.io/acme/worker:1", &["acme/worker"], true),
            // not references of ours
            ("postgres:16", OWN, false),
            ("", OWN, false),
            ("ghcr.io/", &["ghcr.io/"], false),
            (":1.2.3", &[""], false),
        ];
        for (reference, images, want) in cases {
            assert_eq!(
                is_own_image(reference, &imgs(images)),
                *want,
                "{reference} vs {images:?}"
            );
        }
    }

    #[test]
    fn scan_table() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "services:\n  app:\n    image: ghcr.io/acme/app:1.2.3\n",
                OWN,
                &["app@3 ghcr.io/acme/app:1.2.3 => versioned 1.2.3 `1.2.3`"],
            ),
            (
                "services:\n  app:\n    image: 'ghcr.io/acme/app:v1.2.3'\n  w:\n    image: \"acme/worker:1.3.0-rc.1\"\n",
                OWN,
                &[
                    "app@3 ghcr.io/acme/app:v1.2.3 => versioned v1.2.3 `v1.2.3`",
                    "w@5 acme/worker:1.3.0-rc.1 => versioned 1.3.0-rc.1 `1.3.0-rc.1`",
                ],
            ),
            (
                "services:\n  db:\n    image: postgres:16\n  cache:\n    image: redis:7.2.4\n  other:\n    image: ghcr.io/other/app:1.2.3\n",
                OWN,
                &[],
            ),
            (
                "services:\n  a:\n    image: ghcr.io/acme/app:latest\n  b:\n    image: ghcr.io/acme/app:dev\n  c:\n    image: ghcr.io/acme/app\n  d:\n    image: acme/worker:1.2\n",
                OWN,
                &[
                    "a@3 ghcr.io/acme/app:latest => floating latest",
                    "b@5 ghcr.io/acme/app:dev => floating dev",
                    "c@7 ghcr.io/acme/app => floating latest",
                    "d@9 acme/worker:1.2 => floating 1.2",
                ],
            ),
            (
                "services:\n  a:\n    image: ghcr.io/acme/app:1.2.3@sha256:0123456789abcdef0123456789abcdef\n",
                OWN,
                &["a@3 ghcr.io/acme/app:1.2.3@sha256:0123456789abcdef0123456789abcdef => unmanaged: pinned by digest @sha256:0123456789ab…"],
            ),
            (
                "services:\n  a:\n    image: ghcr.io/acme/app:${APP_TAG:-v1.2.3}\n  b:\n    image: ${APP_IMAGE:-ghcr.io/acme/app:1.2.3}\n  c:\n    image: \"${REG-ghcr.io}/acme/app:${T:-1.2.3}\"\n",
                OWN,
                &[
                    "a@3 ghcr.io/acme/app:v1.2.3 => versioned v1.2.3 `v1.2.3`",
                    "b@5 ghcr.io/acme/app:1.2.3 => versioned 1.2.3 `1.2.3`",
                    "c@7 ghcr.io/acme/app:1.2.3 => versioned 1.2.3 `1.2.3`",
                ],
            ),
            (
                "services:\n  a:\n    image: ghcr.io/acme/app:${APP_TAG}\n  b:\n    image: ghcr.io/acme/app:$TAG\n  c:\n    image: ghcr.io/acme/app:${T:?set T}\n  d:\n    image: ghcr.io/acme/app:1.2.${P:-3}\n  e:\n    image: ${APP_IMAGE}\n  f:\n    image: ${REG}/acme/app:1.2.3\n",
                OWN,
                &[
                    "a@3 ghcr.io/acme/app:${APP_TAG} => unmanaged: tag comes from ${APP_TAG} (no default)",
                    "b@5 ghcr.io/acme/app:$TAG => unmanaged: tag comes from $TAG (no default)",
                    "c@7 ghcr.io/acme/app:${T} => unmanaged: tag comes from ${T:?set T} (no default)",
                    "d@9 ghcr.io/acme/app:1.2.3 => unmanaged: tag 1.2.3 spans an interpolation boundary",
                ],
            ),
            (
                "x-app: &app\n  image: ghcr.io/acme/app:1.2.3\n  environment:\n    - A=1\nx-other:\n  deep:\n    - {image: 'acme/worker:v2.0.0'}\nservices:\n  app:\n    <<: *app\nother:\n  image: ghcr.io/acme/app:1.2.3\n",
                OWN,
                &[
                    "x-app@2 ghcr.io/acme/app:1.2.3 => versioned 1.2.3 `1.2.3`",
                    "x-other@7 acme/worker:v2.0.0 => versioned v2.0.0 `v2.0.0`",
                ],
            ),
            (
                "services:\n  a:\n    image: ghcr.io/acme/app:1.2.3\n  b:\n    image: localhost:5000/acme/app:1.2.3\n  c:\n    image: acme/app\n  d:\n    image: localhost:5000/acme/app\n",
                &["acme/app"],
                &[
                    "a@3 ghcr.io/acme/app:1.2.3 => versioned 1.2.3 `1.2.3`",
                    "b@5 localhost:5000/acme/app:1.2.3 => versioned 1.2.3 `1.2.3`",
                    "c@7 acme/app => floating latest",
                    "d@9 localhost:5000/acme/app => floating latest",
                ],
            ),
            (
                "services:\n  a:\n    image: |-\n      ghcr.io/acme/app:1.2.3\n  b:\n    image: \"ghcr.io/acme/\\\n      app:1.2.3\"\n  c:\n    image: ghcr.io/acme/app:1.2.3\n      # not a comment\n  d:\n    image: \"ghcr.io/acme/app:\\x31.2.3\"\n  e:\n    image: >-\n      ghcr.io/acme/app:latest\n",
                OWN,
                &[
                    "a@4 ghcr.io/acme/app:1.2.3 => unmanaged: image is in a block scalar (`|` or `>`)",
                    "b@6 ghcr.io/acme/app:1.2.3 => unmanaged: image is in a multi-line quoted scalar",
                    "c@9 ghcr.io/acme/app:1.2.3 => versioned 1.2.3 `1.2.3`",
                    "d@12 ghcr.io/acme/app:1.2.3 => unmanaged: image is in a quoted scalar with escapes",
                    "e@15 ghcr.io/acme/app:latest => unmanaged: image is in a block scalar (`|` or `>`)",
                ],
            ),
            (
                "services:\n  a:\n    image: &img !!str ghcr.io/acme/app:1.2.3\n  b:\n    image: &i2 # anchored\n      'acme/worker:v1.0.0'\n  c:\n    image: *img\n",
                OWN,
                &[
                    "a@3 ghcr.io/acme/app:1.2.3 => versioned 1.2.3 `1.2.3`",
                    "b@6 acme/worker:v1.0.0 => versioned v1.0.0 `v1.0.0`",
                ],
            ),
            (
                "services:\n  a: {image: \"ghcr.io/acme/app:1.2.3\"  , ports: ['80:80']}\n---\nservices:\n  b:\n    image: acme/worker:1.2.3 # pinned for now\n...\n",
                OWN,
                &[
                    "a@2 ghcr.io/acme/app:1.2.3 => versioned 1.2.3 `1.2.3`",
                    "b@6 acme/worker:1.2.3 => versioned 1.2.3 `1.2.3`",
                ],
            ),
            ("", OWN, &[]),
            ("# only a comment\n", OWN, &[]),
            ("- image: ghcr.io/acme/app:1.2.3\n", OWN, &[]),
            ("just a string\n", OWN, &[]),
            ("version: '3'\nnetworks: {}\n", OWN, &[]),
            ("services:\n", OWN, &[]),
            ("services:\n  a:\n    image:\n  b:\n    image: [ghcr.io/acme/app:1.2.3]\n  c:\n    build: .\n", OWN, &[]),
            (
                "services:\n  a:\n    image: ghcr.io/acme/app:$${NOT}\n  b:\n    image: ghcr.io/acme/app:1.2.3_build.5\n",
                OWN,
                &[
                    "a@3 ghcr.io/acme/app:${NOT} => floating ${NOT}",
                    "b@5 ghcr.io/acme/app:1.2.3_build.5 => versioned 1.2.3+build.5 `1.2.3_build.5`",
                ],
            ),
        ];
        for (src, images, want) in cases {
            let s = scan(src, &imgs(images)).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(render(src, &s), *want, "{src}");
        }
    }

    #[test]
    fn duplicate_keys_are_malformed() {
        let err = scan(
            "services:\n  app:\n    image: ghcr.io/acme/app:1.2.3\n    image: ghcr.io/acme/app:1.2.3\n",
            &imgs(OWN),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "duplicate key `image` at line 4 (first at line 3): keys must be unique within a \
             mapping; remove one of them"
        );
        let err = scan("services:\n  a: {}\n  b: {}\n  a: {}\n", &imgs(OWN)).unwrap_err();
        assert!(
            err.starts_with("duplicate key `a` at line 4 (first at line 2)"),
            "{err}"
        );
        // Merge keys and equal keys in different mappings are fine.
        scan(
            "x-a: &a {x: 1}\nservices:\n  a:\n    <<: *a\n    image: ghcr.io/acme/app:1.2.3\n  b:\n    image: ghcr.io/acme/app:1.2.3\n",
            &imgs(OWN),
        )
        .unwrap();
    }

    #[test]
    fn invalid_yaml_is_an_error_with_position() {
        for (src, want) in [
            ("services:\n  a: [\n  b: c\n", "invalid YAML at line "),
            (
                "services:\n  a:\n    image: x\n   bad: y: z\n",
                "invalid YAML at line 4, column ",
            ),
            ("a: 'unterminated\n", "invalid YAML at line "),
        ] {
            let err = scan(src, &imgs(OWN)).unwrap_err();
            assert!(err.starts_with(want), "{src:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    fn bump(src: &str, images: &[&str], new: &str) -> String {
        let s = scan(src, &imgs(images)).unwrap();
        set_version(src, &s, &v(new)).unwrap()
    }

    #[test]
    fn set_version_table() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "services:\n  app:\n    image: ghcr.io/acme/app:1.2.3 # keep me\n  db:\n    image: postgres:16\n  cache:\n    image: redis:7.2.4\n",
                "1.3.0",
                "services:\n  app:\n    image: ghcr.io/acme/app:1.3.0 # keep me\n  db:\n    image: postgres:16\n  cache:\n    image: redis:7.2.4\n",
            ),
            (
                "services:\r\n  app:\r\n    image: 'ghcr.io/acme/app:v1.2.3'\r\n  w:\r\n    image: \"acme/worker:1.2.3\"  # x\r\n",
                "1.3.0-rc.1",
                "services:\r\n  app:\r\n    image: 'ghcr.io/acme/app:v1.3.0-rc.1'\r\n  w:\r\n    image: \"acme/worker:1.3.0-rc.1\"  # x\r\n",
            ),
            (
                "services:\n  app:\n    image: ghcr.io/acme/app:1.2.3",
                "2.0.0+build.7",
                "services:\n  app:\n    image: ghcr.io/acme/app:2.0.0_build.7",
            ),
            (
                "# Entwicklungsumgebung — für Käse 🧀\nservices:\n  app: # ☕\n    image: ghcr.io/acme/app:1.2.3 # ✓\n",
                "1.2.4",
                "# Entwicklungsumgebung — für Käse 🧀\nservices:\n  app: # ☕\n    image: ghcr.io/acme/app:1.2.4 # ✓\n",
            ),
            (
                "services:\n  a:\n    image: ghcr.io/acme/app:${APP_TAG:-v1.2.3}\n  b:\n    image: ${APP_IMAGE:-ghcr.io/acme/app:1.2.3}\n  c:\n    image: ghcr.io/acme/app:latest\n  d:\n    image: ghcr.io/acme/app@sha256:00\n",
                "1.3.0",
                "services:\n  a:\n    image: ghcr.io/acme/app:${APP_TAG:-v1.3.0}\n  b:\n    image: ${APP_IMAGE:-ghcr.io/acme/app:1.3.0}\n  c:\n    image: ghcr.io/acme/app:latest\n  d:\n    image: ghcr.io/acme/app@sha256:00\n",
            ),
            (
                "services:\n  a:\n    image: ghcr.io/acme/app:${TAG:-0.6.2}-ollama\n  b:\n    image: \"ghcr.io/acme/app:${TAG:-v0.6.2}-llamacpp-cpu\"\n  c:\n    image: ghcr.io/acme/app:${TAG:-0.6.2}_cpu\n",
                "0.6.3",
                "services:\n  a:\n    image: ghcr.io/acme/app:${TAG:-0.6.3}-ollama\n  b:\n    image: \"ghcr.io/acme/app:${TAG:-v0.6.3}-llamacpp-cpu\"\n  c:\n    image: ghcr.io/acme/app:${TAG:-0.6.3}_cpu\n",
            ),
            (
                "x-app-image: &app-image ghcr.io/acme/app:v0.1.0\nx-images:\n  worker: &worker 'acme/worker:0.1.0'\n  other: acme/worker:0.0.9\nservices:\n  app:\n    image: *app-image\n  w:\n    image: *worker\n",
                "0.1.1",
                "x-app-image: &app-image ghcr.io/acme/app:v0.1.1\nx-images:\n  worker: &worker 'acme/worker:0.1.1'\n  other: acme/worker:0.0.9\nservices:\n  app:\n    image: *app-image\n  w:\n    image: *worker\n",
            ),
            (
                "x-app: &app\n  image: ghcr.io/acme/app:1.2.3\nservices:\n  app:\n    <<: *app\n  #  image: ghcr.io/acme/app:1.2.2\n",
                "1.2.4",
                "x-app: &app\n  image: ghcr.io/acme/app:1.2.4\nservices:\n  app:\n    <<: *app\n  #  image: ghcr.io/acme/app:1.2.2\n",
            ),
            ("services:\n  db:\n    image: postgres:16\n", "9.9.9", "services:\n  db:\n    image: postgres:16\n"),
            (
                "\u{feff}services:\n  app: {note: \"ünï ☕\", image: 'ghcr.io/acme/app:1.2.3'} # 🧀\n",
                "1.2.4",
                "\u{feff}services:\n  app: {note: \"ünï ☕\", image: 'ghcr.io/acme/app:1.2.4'} # 🧀\n",
            ),
            (
                "services:\n  app:\n    image: ghcr.io/acme/slipway-demo:v0.1.0\n    ports:\n      - \"8080:8080\"\n  cache:\n    image: redis:7.2.4-alpine  # third-party\n",
                "0.2.0",
                "services:\n  app:\n    image: ghcr.io/acme/slipway-demo:v0.2.0\n    ports:\n      - \"8080:8080\"\n  cache:\n    image: redis:7.2.4-alpine  # third-party\n",
            ),
        ];
        for (src, new, want) in cases {
            assert_eq!(bump(src, OWN, new), *want, "{src}");
        }
    }

    #[test]
    fn commented_out_images_are_reported_not_edited() {
        let src = "services:\n  app:\n    image: ghcr.io/acme/app:1.2.3\n  #  image: ghcr.io/acme/app:1.2.2\n    # image: acme/worker\n# the app and the worker are ours\n# see ghcr.io/other/app:1.0.0\n\t#- 'ghcr.io/acme/app:${T:-1}'\n";
        let s = scan(src, &imgs(OWN)).unwrap();
        assert_eq!(
            s.commented,
            vec![
                (4, "#  image: ghcr.io/acme/app:1.2.2".to_string()),
                (5, "# image: acme/worker".to_string()),
                (8, "#- 'ghcr.io/acme/app:${T:-1}'".to_string()),
            ]
        );
        let out = set_version(src, &s, &v("1.3.0")).unwrap();
        assert_eq!(out, src.replacen("app:1.2.3", "app:1.3.0", 1));
    }

    #[test]
    fn set_version_rejects_a_scan_of_another_file() {
        let src = "services:\n  app:\n    image: ghcr.io/acme/app:1.2.3\n";
        let s = scan(src, &imgs(OWN)).unwrap();
        let err = set_version("services: {}\n", &s, &v("2.0.0")).unwrap_err();
        assert!(err.starts_with("internal error:"), "{err}");
        let err = set_version(
            "services:\n  app:\n    image: ghcr.io/acme/app:1.2.4\n",
            &s,
            &v("2.0.0"),
        )
        .unwrap_err();
        assert!(err.starts_with("internal error:"), "{err}");
        let mut dup = s.clone();
        dup.uses.push(s.uses[0].clone());
        let err = set_version(src, &dup, &v("2.0.0")).unwrap_err();
        assert!(err.contains("overlapping"), "{err}");
        let mut extra = s.clone();
        extra.uses[0].kind = UseKind::Floating { tag: "x".into() };
        let err = set_version(src, &extra, &v("2.0.0")).unwrap_err();
        assert!(err.starts_with("internal error:"), "{err}");
    }

    // -----------------------------------------------------------------------------------------
    // Property test

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
            &xs[self.below(xs.len())]
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        None,
        Versioned,
        Floating,
        Unmanaged,
    }

    /// A random image value (unquoted text) and what scan must call it.
    fn gen_image(rng: &mut Rng) -> (String, Expect) {
        let own = rng.chance(60);
        let repo = if own {
            *rng.pick(&[
                "ghcr.io/acme/app",
                "acme/worker",
                "docker.io/acme/worker",
                "localhost:5000/acme/worker",
            ])
        } else {
            *rng.pick(&[
                "postgres",
                "redis",
                "ghcr.io/other/app",
                "acme/workers",
                "ghcr.io/acme/app2",
            ])
        };
        let (tag, mut expect) = match rng.below(9) {
            0 => (":1.2.3".to_string(), Expect::Versioned),
            1 => (":v1.2.3".to_string(), Expect::Versioned),
            2 => (":1.3.0-rc.1".to_string(), Expect::Versioned),
            3 => (":7.2.4_b.1".to_string(), Expect::Versioned),
            4 => (":latest".to_string(), Expect::Floating),
            5 => (":1.2".to_string(), Expect::Floating),
            6 => (String::new(), Expect::Floating),
            7 => ("@sha256:0123abcd".to_string(), Expect::Unmanaged),
            _ => (":1.2.3@sha256:0123abcd".to_string(), Expect::Unmanaged),
        };
        let text = match rng.below(6) {
            0 if tag.starts_with(':') && !tag.contains('@') => {
                format!("{repo}:${{TAG_{}:-{}}}", rng.below(9), &tag[1..])
            }
            1 => format!("${{IMAGE_{}:-{repo}{tag}}}", rng.below(9)),
            2 if tag.starts_with(':') => {
                expect = Expect::Unmanaged;
                format!("{repo}:${{TAG}}")
            }
            _ => format!("{repo}{tag}"),
        };
        (text, if own { expect } else { Expect::None })
    }

    fn quote(rng: &mut Rng, text: &str, flow: bool) -> String {
        match rng.below(if flow { 2 } else { 3 }) {
            0 => format!("'{text}'"),
            1 => format!("\"{text}\""),
            _ => text.to_string(),
        }
    }

    /// A random compose file, its line ending, and the expected kinds in document order.
    fn gen_compose(rng: &mut Rng) -> (String, Vec<Expect>) {
        let nl = if rng.chance(30) { "\r\n" } else { "\n" };
        let mut lines: Vec<String> = Vec::new();
        let mut expect = Vec::new();
        let comments = [
            "# a comment",
            "# ünïcödé — ☕ 🧀",
            "#  image: ghcr.io/acme/app:0.0.1",
            "#",
        ];
        if rng.chance(40) {
            lines.push(rng.pick(&comments).to_string());
        }
        if rng.chance(30) {
            lines.push("x-common: &common".into());
            let (img, e) = gen_image(rng);
            lines.push(format!("  image: {}", quote(rng, &img, false)));
            lines.push("  restart: unless-stopped".into());
            if e != Expect::None {
                expect.push(e);
            }
        }
        if rng.chance(20) {
            lines.push("version: \"3.9\"".into());
        }
        lines.push("services:".into());
        for n in 0..1 + rng.below(5) {
            if rng.chance(30) {
                lines.push(format!("  {}", rng.pick(&comments)));
            }
            let (img, e) = gen_image(rng);
            if e != Expect::None {
                expect.push(e);
            }
            let trailing = if rng.chance(30) {
                format!("  {}", rng.pick(&comments))
            } else {
                String::new()
            };
            match rng.below(4) {
                0 => lines.push(format!(
                    "  svc{n}: {{image: {}, ports: ['80:80']}}{trailing}",
                    quote(rng, &img, true)
                )),
                _ => {
                    lines.push(format!("  svc{n}:"));
                    if rng.chance(30) {
                        lines.push("    <<: *common".into());
                    }
                    if rng.chance(30) {
                        lines.push("    environment:\n      - GREETING=grüß dich".into());
                    }
                    lines.push(format!("    image: {}{trailing}", quote(rng, &img, false)));
                    if rng.chance(30) {
                        lines.push("    command: [\"run\", \"--port\", \"1.2.3\"]".into());
                    }
                }
            }
        }
        if rng.chance(30) && !expect.is_empty() {
            lines.push("x-not-this-one-unless-own:".into());
        }
        let mut src = lines.join("\n").replace('\n', nl);
        if rng.chance(80) {
            src.push_str(nl);
        }
        if !lines.iter().any(|l| l.contains("&common")) {
            src = src.replace("    <<: *common", "    restart: always");
        }
        (src, expect)
    }

    fn kind_of(k: &UseKind) -> Expect {
        match k {
            UseKind::Versioned { .. } => Expect::Versioned,
            UseKind::Floating { .. } => Expect::Floating,
            UseKind::Unmanaged { .. } => Expect::Unmanaged,
        }
    }

    #[test]
    fn property_set_version_only_changes_tags() {
        let images = imgs(&[
            "ghcr.io/acme/app",
            "acme/worker",
            "localhost:5000/acme/worker",
        ]);
        let news = [
            v("1.3.0"),
            v("2.0.0-rc.12"),
            v("1.2.4+build.5"),
            v("10.0.0"),
        ];
        let mut rng = Rng(0x5EED);
        let mut seen = [0usize; 6]; // versioned, floating, unmanaged, CRLF, non-ASCII, commented
        for case in 0..2000 {
            let (src, expect) = gen_compose(&mut rng);
            let s = scan(&src, &images).unwrap_or_else(|e| panic!("case {case}: {e}\n{src}"));
            let kinds: Vec<Expect> = s.uses.iter().map(|u| kind_of(&u.kind)).collect();
            assert_eq!(kinds, expect, "case {case}:\n{src}\n{:#?}", s.uses);
            for k in &kinds {
                seen[*k as usize - 1] += 1;
            }
            for u in &s.uses {
                if let UseKind::Versioned { range, .. } = &u.kind {
                    assert_eq!(u.line, line_of(&src, range.start), "case {case}");
                }
            }
            seen[3] += usize::from(src.contains("\r\n"));
            seen[4] += usize::from(!src.is_ascii());
            seen[5] += usize::from(!s.commented.is_empty());
            let new = rng.pick(&news);
            let out =
                set_version(&src, &s, new).unwrap_or_else(|e| panic!("case {case}: {e}\n{src}"));

            // Outside the versioned ranges, the output is the input byte for byte.
            let mut ranges: Vec<(Range<usize>, bool)> = s
                .uses
                .iter()
                .filter_map(|u| match &u.kind {
                    UseKind::Versioned {
                        range, v_prefix, ..
                    } => Some((range.clone(), *v_prefix)),
                    _ => None,
                })
                .collect();
            ranges.sort_by_key(|(r, _)| r.start);
            let (mut at_in, mut at_out) = (0, 0);
            for (r, v_prefix) in &ranges {
                let keep = &src[at_in..r.start];
                assert_eq!(&out[at_out..at_out + keep.len()], keep, "case {case}");
                at_out += keep.len();
                let want = format!("{}{}", if *v_prefix { "v" } else { "" }, docker_tag(new));
                assert_eq!(&out[at_out..at_out + want.len()], want, "case {case}");
                at_out += want.len();
                at_in = r.end;
            }
            assert_eq!(&out[at_out..], &src[at_in..], "case {case}");

            // Re-scan: the new version everywhere a version was.
            let again = scan(&out, &images).unwrap();
            assert_eq!(again.uses.len(), s.uses.len());
            assert_eq!(again.commented, s.commented);
            for (a, b) in s.uses.iter().zip(&again.uses) {
                assert_eq!(a.line, b.line);
                match (&a.kind, &b.kind) {
                    (UseKind::Versioned { .. }, UseKind::Versioned { version, range, .. }) => {
                        assert_eq!(version, new);
                        assert_eq!(
                            parse_docker_tag(&out[range.clone()])
                                .map(|(v, _)| v)
                                .as_ref(),
                            Some(new)
                        );
                    }
                    (x, y) => assert_eq!(x, y),
                }
            }
        }
        assert!(
            seen.iter().all(|&n| n > 100),
            "generator coverage: {seen:?}"
        );
    }

    #[test]
    fn never_panics_on_mutated_input() {
        let images = imgs(&["ghcr.io/acme/app", "acme/worker"]);
        let junk = [
            "$", "${", "}", ":", "'", "\"", "\\", "\n", "\r\n", "#", "&a ", "*a", "!!str ", "|\n",
            "é", "@", "/", " ", "-", "{", "[", "${X:-", "$$",
        ];
        let mut rng = Rng(42);
        let (mut parsed, mut edited) = (0, 0);
        for _ in 0..3000 {
            let (mut src, _) = gen_compose(&mut rng);
            for _ in 0..1 + rng.below(4) {
                let boundaries: Vec<usize> = src
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([src.len()])
                    .collect();
                let a = *rng.pick(&boundaries);
                let b = boundaries[(boundaries.iter().position(|&x| x == a).unwrap()
                    + rng.below(3))
                .min(boundaries.len() - 1)];
                let j = *rng.pick(&junk);
                src.replace_range(a..b, j);
            }
            if let Ok(s) = scan(&src, &images) {
                parsed += 1;
                match set_version(&src, &s, &v("3.1.4")) {
                    Ok(out) => edited += usize::from(out != src),
                    Err(e) => panic!("{e}\n{src:?}"),
                }
            }
        }
        assert!(
            parsed > 300 && edited > 100,
            "mutation coverage: {parsed} parsed, {edited} edited"
        );
    }
}
