//! git's on-disk formats, read-only and pure: the index (`.git/index`, versions 2 and 3), loose
//! ref files and `packed-refs`, `.git` files, a commit's header, the config file syntax and the
//! settings in it that change what `git status` or `git tag -l` print, and the test git makes to
//! decide from an index entry's stat data whether a file may have changed.
//!
//! Anything these parsers do not fully understand is an `Err(reason)`: the caller then asks git
//! itself. Being unsure is never an answer.

use crate::sha1;

pub type Oid = [u8; 20];

/// A 40-digit hex object name.
pub fn parse_oid(s: &str) -> Option<Oid> {
    let b = s.as_bytes();
    if b.len() != 40 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 20];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(b[2 * i])? << 4 | digit(b[2 * i + 1])?;
    }
    Some(out)
}

pub const MODE_FILE: u32 = 0o100644;
pub const MODE_EXEC: u32 = 0o100755;
pub const MODE_SYMLINK: u32 = 0o120000;
pub const MODE_GITLINK: u32 = 0o160000;

/// One index entry (git's `struct cache_entry`, on disk).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// (seconds, nanoseconds), as git stores them: truncated to 32 bits.
    pub ctime: (u32, u32),
    pub mtime: (u32, u32),
    pub dev: u32,
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
    pub oid: Oid,
    /// 0 when merged; 1–3 for the sides of a conflict.
    pub stage: u8,
    /// `git update-index --assume-unchanged`.
    pub assume_valid: bool,
    pub skip_worktree: bool,
    pub intent_to_add: bool,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub version: u32,
    pub entries: Vec<Entry>,
    /// Extension signatures, in file order.
    pub extensions: Vec<String>,
    /// The root of the cache tree (the `TREE` extension) when it is valid and covers every
    /// entry: the tree `git write-tree` would write, without writing it.
    pub root_tree: Option<Oid>,
}

/// Extensions that do not change what an entry means: the cache tree, the resolve-undo
/// record, the untracked cache, and the two offset tables for threaded reading.
const HARMLESS_EXTENSIONS: [&[u8; 4]; 5] = [b"TREE", b"REUC", b"UNTR", b"EOIE", b"IEOT"];

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses an index file of version 2 or 3 after checking its trailing checksum. Version 4 (path
/// compression), a split index (`link`), a sparse index (`sdir`), any extension not known to be
/// harmless, or a file without a checksum (`index.skipHash`) is an error.
pub fn parse_index(data: &[u8]) -> Result<Index, String> {
    if data.len() < 12 + 20 || &data[..4] != b"DIRC" {
        return Err("the index is not an index file".into());
    }
    let (body, sum) = data.split_at(data.len() - 20);
    if sum.iter().all(|&b| b == 0) {
        return Err("the index has no checksum (index.skipHash)".into());
    }
    if sha1::digest(body) != sum {
        return Err("the index checksum does not match (being written?)".into());
    }
    let version = be32(body, 4);
    if version != 2 && version != 3 {
        return Err(format!("index version {version}"));
    }
    let count = be32(body, 8) as usize;
    let mut entries = Vec::with_capacity(count.min(body.len() / 62));
    let mut at = 12;
    for _ in 0..count {
        let fixed = 62;
        if body.len() < at + fixed {
            return Err("the index ends inside an entry".into());
        }
        let e = &body[at..];
        let flags = u16::from_be_bytes([e[60], e[61]]);
        let extended = flags & 0x4000 != 0;
        if extended && version < 3 {
            return Err("an extended index entry in a version 2 index".into());
        }
        let head = if extended { fixed + 2 } else { fixed };
        if e.len() < head {
            return Err("the index ends inside an entry".into());
        }
        let xflags = if extended {
            u16::from_be_bytes([e[62], e[63]])
        } else {
            0
        };
        if xflags & !(0x4000 | 0x2000) != 0 {
            return Err("an index entry with unknown extended flags".into());
        }
        let Some(len) = e[head..].iter().position(|&b| b == 0) else {
            return Err("the index ends inside a path".into());
        };
        let name_len = (flags & 0x0fff) as usize;
        if name_len < 0x0fff && name_len != len {
            return Err("an index entry's name length does not match its path".into());
        }
        let padded = (head + len + 8) & !7;
        if e.len() < padded || e[head + len..padded].iter().any(|&b| b != 0) {
            return Err("an index entry's padding is not NUL bytes".into());
        }
        let path = std::str::from_utf8(&e[head..head + len])
            .map_err(|_| "a path in the index is not UTF-8".to_string())?
            .to_string();
        let mode = be32(e, 24);
        if ![MODE_FILE, MODE_EXEC, MODE_SYMLINK, MODE_GITLINK].contains(&mode) {
            return Err(format!("index entry {path} has mode {mode:o}"));
        }
        let mut oid = [0u8; 20];
        oid.copy_from_slice(&e[40..60]);
        entries.push(Entry {
            ctime: (be32(e, 0), be32(e, 4)),
            mtime: (be32(e, 8), be32(e, 12)),
            dev: be32(e, 16),
            ino: be32(e, 20),
            mode,
            uid: be32(e, 28),
            gid: be32(e, 32),
            size: be32(e, 36),
            oid,
            stage: ((flags >> 12) & 3) as u8,
            assume_valid: flags & 0x8000 != 0,
            skip_worktree: xflags & 0x4000 != 0,
            intent_to_add: xflags & 0x2000 != 0,
            path,
        });
        at += padded;
    }
    let mut extensions = Vec::new();
    let mut root_tree = None;
    while at < body.len() {
        if body.len() < at + 8 {
            return Err("the index ends inside an extension header".into());
        }
        let sig: [u8; 4] = body[at..at + 4].try_into().expect("4 bytes");
        let size = be32(body, at + 4) as usize;
        let Some(data) = body.get(at + 8..at + 8 + size) else {
            return Err("the index ends inside an extension".into());
        };
        let name = String::from_utf8_lossy(&sig).into_owned();
        if !HARMLESS_EXTENSIONS.contains(&&sig) {
            return Err(format!("the index has the extension `{name}`"));
        }
        if &sig == b"TREE" {
            root_tree = cache_tree_root(data, entries.len());
        }
        extensions.push(name);
        at += 8 + size;
    }
    Ok(Index {
        version,
        entries,
        extensions,
        root_tree,
    })
}

/// The root of a `TREE` extension: `\0<entry count> <subtree count>\n<oid>` first, valid when
/// the entry count is not -1 and covers all `entries` of the index.
fn cache_tree_root(data: &[u8], entries: usize) -> Option<Oid> {
    let rest = data.strip_prefix(b"\0")?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&rest[..nl]).ok()?;
    let (count, _subtrees) = line.split_once(' ')?;
    let count: i64 = count.parse().ok()?;
    if count < 0 || count as usize != entries {
        return None;
    }
    rest.get(nl + 1..nl + 21)?.try_into().ok()
}

/// What a file in the work tree is, as lstat(2) saw it (times and sizes as git truncates them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    pub kind: Kind,
    /// The owner's execute bit.
    pub exec: bool,
    pub ctime: (u32, u32),
    pub mtime: (u32, u32),
    pub ino: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    File,
    Symlink,
    Dir,
    Other,
}

/// What git concludes about a work tree file from its index entry and stat data alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Unchanged,
    Changed,
    /// Only the content can tell: hash it (`blob <len>\0<bytes>`, a symlink's target for a
    /// symlink) and compare with the entry's object name.
    Hash,
}

/// git's `ie_match_stat` for an entry of stage 0 that is not a gitlink, with `core.symlinks`,
/// `core.trustctime` and `core.checkStat` at their defaults: a missing file or a changed type
/// (or executable bit, when `filemode`) is a change; matching stat data is no change unless the
/// entry is racy (modified no earlier than the second the index was written, so a later write
/// in that same second would not show); a different size is a change (no filters apply: the
/// caller makes sure of it), anything else needs the content.
pub fn check(entry: &Entry, st: Option<&Stat>, index_mtime: (u32, u32), filemode: bool) -> Verdict {
    let Some(st) = st else {
        return Verdict::Changed;
    };
    match entry.mode {
        MODE_FILE | MODE_EXEC => {
            if st.kind != Kind::File || (filemode && (entry.mode & 0o100 != 0) != st.exec) {
                return Verdict::Changed;
            }
        }
        MODE_SYMLINK => {
            if st.kind != Kind::Symlink {
                return Verdict::Changed;
            }
        }
        _ => return Verdict::Changed,
    }
    // Sizes compare as git stores them, truncated to 32 bits.
    let size_same = entry.size == st.size as u32;
    if !size_same && entry.size != 0 {
        return Verdict::Changed;
    }
    let same = size_same
        && entry.mtime == st.mtime
        && entry.ctime == st.ctime
        && entry.ino == st.ino
        && entry.uid == st.uid
        && entry.gid == st.gid;
    let racy = index_mtime.0 <= entry.mtime.0;
    if same && !racy {
        Verdict::Unchanged
    } else {
        Verdict::Hash
    }
}

/// A loose ref file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefFile {
    Oid(Oid),
    Symbolic(String),
}

pub fn parse_ref_file(text: &str) -> Result<RefFile, String> {
    let line = text.strip_suffix('\n').unwrap_or(text);
    if let Some(target) = line.strip_prefix("ref: ") {
        if target.is_empty() || target.contains(char::is_whitespace) {
            return Err(format!("a symbolic ref to {target:?}"));
        }
        return Ok(RefFile::Symbolic(target.to_string()));
    }
    parse_oid(line)
        .map(RefFile::Oid)
        .ok_or_else(|| format!("a ref file holding {line:?}"))
}

/// `packed-refs`: (ref name, object) pairs in file order; the peeled `^` lines are skipped.
pub fn parse_packed_refs(text: &str) -> Result<Vec<(String, Oid)>, String> {
    let mut refs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("# pack-refs with:") && i == 0 {
            continue;
        }
        if let Some(peeled) = line.strip_prefix('^') {
            if refs.is_empty() || parse_oid(peeled).is_none() {
                return Err(format!("packed-refs line {}: {line:?}", i + 1));
            }
            continue;
        }
        let parsed = line
            .split_once(' ')
            .and_then(|(oid, name)| Some((parse_oid(oid)?, name)))
            .filter(|(_, name)| !name.is_empty() && !name.contains(char::is_whitespace));
        let Some((oid, name)) = parsed else {
            return Err(format!("packed-refs line {}: {line:?}", i + 1));
        };
        refs.push((name.to_string(), oid));
    }
    Ok(refs)
}

/// Is `name` (below `refs/`) a name git lists without complaint (`check_refname_format`)? The
/// doubtful ones are left to git.
pub fn plain_refname(name: &str) -> bool {
    !name.is_empty()
        && !name.ends_with('/')
        && !name.ends_with('.')
        && !name.contains("..")
        && !name.contains("@{")
        && name != "@"
        && name.split('/').all(|c| {
            !c.is_empty()
                && !c.starts_with('.')
                && !c.ends_with(".lock")
                && !c
                    .chars()
                    .any(|ch| ch.is_control() || " ~^:?*[\\".contains(ch))
        })
}

/// A `.git` file (worktrees, submodules): the path after `gitdir: `.
pub fn parse_gitfile(text: &str) -> Result<String, String> {
    let line = text.strip_suffix('\n').unwrap_or(text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    match line.strip_prefix("gitdir: ") {
        Some(p) if !p.is_empty() && !p.contains('\n') => Ok(p.to_string()),
        _ => Err("a .git file without a `gitdir:` line".into()),
    }
}

/// The tree of the commit `id`, given the commit's loose object inflated: checks the object's
/// name and header, then reads the first line, `tree <oid>`.
pub fn commit_tree(object: &[u8], id: &Oid) -> Result<Oid, String> {
    if sha1::digest(object) != *id {
        return Err("the HEAD object does not hash to its name".into());
    }
    let nul = object
        .iter()
        .position(|&b| b == 0)
        .ok_or("an object without a header")?;
    let header = std::str::from_utf8(&object[..nul]).map_err(|_| "an object header")?;
    let len: usize = header
        .strip_prefix("commit ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("HEAD is not a commit ({header:?})"))?;
    let body = &object[nul + 1..];
    if body.len() != len {
        return Err("a commit of the wrong length".into());
    }
    body.strip_prefix(b"tree ")
        .and_then(|r| r.get(..41))
        .filter(|r| r[40] == b'\n')
        .and_then(|r| parse_oid(std::str::from_utf8(&r[..40]).ok()?))
        .ok_or_else(|| "a commit without a tree line".into())
}

/// One `key = value` of a git config file; section and key lower-cased, the subsection as
/// written (`[remote "origin"]`). `value` is None for a bare key (boolean true).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub section: String,
    pub subsection: Option<String>,
    pub key: String,
    pub value: Option<String>,
}

/// The git config syntax, simply: section headers, `key = value` lines, comments, quotes and
/// escapes. A continued line (`\` at its end) or anything else unusual is an error.
pub fn parse_config(text: &str) -> Result<Vec<ConfigEntry>, String> {
    let mut out = Vec::new();
    let mut section: Option<(String, Option<String>)> = None;
    for (i, raw) in text.lines().enumerate() {
        let bad = |what: &str| format!("config line {}: {what}", i + 1);
        let line = raw.trim_start_matches([' ', '\t']).trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let (name, sub, after) = if let Some((name, q)) = rest.split_once(" \"") {
                let mut sub = String::new();
                let mut chars = q.chars();
                loop {
                    match chars.next() {
                        Some('\\') => sub.push(chars.next().ok_or_else(|| bad("section"))?),
                        Some('"') => break,
                        Some(c) => sub.push(c),
                        None => return Err(bad("an unterminated subsection")),
                    }
                }
                let after = chars
                    .as_str()
                    .strip_prefix(']')
                    .ok_or_else(|| bad("section"))?;
                (name.to_string(), Some(sub), after)
            } else {
                let (name, after) = rest.split_once(']').ok_or_else(|| bad("section"))?;
                match name.split_once('.') {
                    Some((n, s)) => (n.to_string(), Some(s.to_ascii_lowercase()), after),
                    None => (name.to_string(), None, after),
                }
            };
            let after = after.trim_start_matches([' ', '\t']);
            if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
                return Err(bad("a key after a section header"));
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(bad("a section name"));
            }
            section = Some((name.to_ascii_lowercase(), sub));
            continue;
        }
        let Some((sec, sub)) = &section else {
            return Err(bad("a key before any section"));
        };
        let key_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(line.len());
        let key = &line[..key_end];
        if key.is_empty() || !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(bad("a key"));
        }
        let rest = line[key_end..].trim_start_matches([' ', '\t']);
        let value = if rest.is_empty() || rest.starts_with('#') || rest.starts_with(';') {
            None
        } else if let Some(v) = rest.strip_prefix('=') {
            Some(config_value(v).ok_or_else(|| bad("a value"))?)
        } else {
            return Err(bad("text after a key"));
        };
        out.push(ConfigEntry {
            section: sec.clone(),
            subsection: sub.clone(),
            key: key.to_ascii_lowercase(),
            value,
        });
    }
    Ok(out)
}

/// A value after `=`: quotes joined, escapes resolved, comments and the unquoted whitespace
/// around it dropped. None for a continued line or an unterminated quote.
fn config_value(v: &str) -> Option<String> {
    let mut out = String::new();
    let mut quoted = false;
    // Unquoted trailing whitespace is dropped; whitespace inside quotes is kept.
    let mut keep = 0;
    let mut chars = v.trim_start_matches([' ', '\t']).chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => {
                out.push(match chars.next()? {
                    'n' => '\n',
                    't' => '\t',
                    'b' => '\u{8}',
                    c @ ('\\' | '"') => c,
                    _ => return None,
                });
            }
            '#' | ';' if !quoted => break,
            c => out.push(c),
        }
        if quoted || !matches!(c, ' ' | '\t') {
            keep = out.len();
        }
    }
    if quoted {
        return None;
    }
    out.truncate(keep);
    Some(out)
}

/// git's boolean: None when `value` is not one.
pub fn config_bool(value: Option<&str>) -> Option<bool> {
    let Some(v) = value else { return Some(true) };
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" | "" => Some(false),
        _ => None,
    }
}

/// What the configuration means for reading a repository without git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `core.filemode`: is the executable bit tracked?
    pub filemode: bool,
    /// Why `git status` must be asked (a setting this reader does not reproduce).
    pub status_refusal: Option<String>,
    /// Why `git tag -l` must be asked.
    pub tags_refusal: Option<String>,
}

/// The settings of `entries` (every config file's, in git's order: system, global, local).
pub fn settings(entries: &[ConfigEntry]) -> Settings {
    let mut s = Settings {
        filemode: true,
        status_refusal: None,
        tags_refusal: None,
    };
    fn status_no(s: &mut Settings, why: String) {
        s.status_refusal.get_or_insert(why);
    }
    for e in entries {
        let name = match &e.subsection {
            Some(sub) => format!("{}.{sub}.{}", e.section, e.key),
            None => format!("{}.{}", e.section, e.key),
        };
        let v = e.value.as_deref();
        let is = |want: bool| config_bool(v) == Some(want);
        let why = || format!("the config sets {name}");
        match (e.section.as_str(), e.key.as_str()) {
            ("include" | "includeif", _) => {
                status_no(&mut s, why());
                s.tags_refusal.get_or_insert(why());
            }
            ("extensions", key) => {
                let fine = match key {
                    "objectformat" => v.is_some_and(|v| v.eq_ignore_ascii_case("sha1")),
                    "refstorage" => v.is_some_and(|v| v.eq_ignore_ascii_case("files")),
                    _ => false,
                };
                if !fine {
                    status_no(&mut s, why());
                    s.tags_refusal.get_or_insert(why());
                }
            }
            ("core", "repositoryformatversion") if !matches!(v, Some("0" | "1")) => {
                status_no(&mut s, why());
                s.tags_refusal.get_or_insert(why());
            }
            ("tag", "sort") | ("versionsort", _) | ("column", _) => {
                s.tags_refusal.get_or_insert(why());
            }
            ("core", "filemode") => match config_bool(v) {
                Some(b) => s.filemode = b,
                None => status_no(&mut s, why()),
            },
            ("core", "autocrlf" | "fsmonitor" | "ignorecase" | "precomposeunicode")
            | ("core", "sparsecheckout" | "sparsecheckoutcone" | "splitindex" | "bare")
                if !is(false) =>
            {
                status_no(&mut s, why())
            }
            ("core", "symlinks" | "trustctime") if !is(true) => status_no(&mut s, why()),
            ("core", "checkstat") if v != Some("default") => status_no(&mut s, why()),
            ("core", "eol" | "worktree" | "attributesfile") | ("filter", _) => {
                status_no(&mut s, why())
            }
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index file as git writes it: entries (sorted by the caller), then extensions, then the
    /// checksum.
    fn index_file(
        version: u32,
        entries: &[Entry],
        xflags: &[u16],
        ext: &[(&[u8; 4], Vec<u8>)],
    ) -> Vec<u8> {
        let mut d = b"DIRC".to_vec();
        d.extend(version.to_be_bytes());
        d.extend((entries.len() as u32).to_be_bytes());
        for (i, e) in entries.iter().enumerate() {
            let start = d.len();
            for v in [
                e.ctime.0, e.ctime.1, e.mtime.0, e.mtime.1, e.dev, e.ino, e.mode, e.uid, e.gid,
                e.size,
            ] {
                d.extend(v.to_be_bytes());
            }
            d.extend(e.oid);
            let x = xflags.get(i).copied().unwrap_or(0);
            let flags = (e.path.len().min(0xfff) as u16)
                | ((e.stage as u16) << 12)
                | if e.assume_valid { 0x8000 } else { 0 }
                | if x != 0 { 0x4000 } else { 0 };
            d.extend(flags.to_be_bytes());
            if x != 0 {
                d.extend(x.to_be_bytes());
            }
            d.extend(e.path.as_bytes());
            let len = d.len() - start;
            d.resize(start + ((len + 8) & !7), 0);
        }
        for (sig, data) in ext {
            d.extend(*sig);
            d.extend((data.len() as u32).to_be_bytes());
            d.extend(data);
        }
        let sum = sha1::digest(&d);
        d.extend(sum);
        d
    }

    fn entry(path: &str, mode: u32) -> Entry {
        Entry {
            ctime: (100, 5),
            mtime: (100, 7),
            ino: 42,
            mode,
            uid: 1000,
            gid: 1000,
            size: 12,
            oid: [0xab; 20],
            path: path.into(),
            ..Entry::default()
        }
    }

    fn tree_ext(count: i64, oid: Oid) -> Vec<u8> {
        let mut t = format!("\0{count} 1\n").into_bytes();
        if count >= 0 {
            t.extend(oid);
        }
        t.extend(b"src\x001 0\n");
        t.extend([9u8; 20]);
        t
    }

    #[test]
    fn index_files_round_trip_and_the_unusual_ones_are_refused() {
        let entries = vec![
            entry("a.txt", MODE_FILE),
            entry("bin/run", MODE_EXEC),
            entry("link", MODE_SYMLINK),
            entry(&"long/".repeat(900), MODE_FILE),
        ];
        let ok = index_file(2, &entries, &[], &[(b"TREE", tree_ext(4, [7; 20]))]);
        let got = parse_index(&ok).unwrap();
        assert_eq!(got.entries, entries);
        assert_eq!(got.version, 2);
        assert_eq!(got.extensions, ["TREE"]);
        assert_eq!(got.root_tree, Some([7; 20]));

        // The cache tree is invalid (-1), or covers fewer entries than there are: no root.
        let stale = index_file(2, &entries, &[], &[(b"TREE", tree_ext(-1, [7; 20]))]);
        assert_eq!(parse_index(&stale).unwrap().root_tree, None);
        let short = index_file(2, &entries, &[], &[(b"TREE", tree_ext(3, [7; 20]))]);
        assert_eq!(parse_index(&short).unwrap().root_tree, None);
        assert_eq!(
            parse_index(&index_file(2, &entries, &[], &[]))
                .unwrap()
                .root_tree,
            None
        );

        // Version 3: skip-worktree and intent-to-add flags are read.
        let v3 = index_file(3, &entries[..2], &[0, 0x2000], &[]);
        let got = parse_index(&v3).unwrap();
        assert!(got.entries[1].intent_to_add && !got.entries[0].intent_to_add);
        let v3 = index_file(3, &entries[..1], &[0x4000], &[]);
        assert!(parse_index(&v3).unwrap().entries[0].skip_worktree);

        let mut conflict = entry("c", MODE_FILE);
        conflict.stage = 2;
        assert_eq!(
            parse_index(&index_file(2, &[conflict], &[], &[]))
                .unwrap()
                .entries[0]
                .stage,
            2
        );

        let refused: Vec<(&str, Vec<u8>)> = vec![
            ("version 4", index_file(4, &entries, &[], &[])),
            (
                "split",
                index_file(2, &entries, &[], &[(b"link", vec![0; 20])]),
            ),
            ("sparse", index_file(2, &entries, &[], &[(b"sdir", vec![])])),
            (
                "fsmonitor",
                index_file(2, &entries, &[], &[(b"FSMN", vec![0; 12])]),
            ),
            ("v2 extended", index_file(2, &entries[..1], &[0x4000], &[])),
            ("mode", index_file(2, &[entry("x", 0o100664)], &[], &[])),
            ("not an index", b"DIRX\0\0\0\x02\0\0\0\0".repeat(3)),
        ];
        for (what, data) in refused {
            assert!(parse_index(&data).is_err(), "{what}");
        }
        let mut corrupt = ok.clone();
        corrupt[20] ^= 1;
        assert!(parse_index(&corrupt).unwrap_err().contains("checksum"));
        let mut no_sum = ok[..ok.len() - 20].to_vec();
        no_sum.extend([0; 20]);
        assert!(parse_index(&no_sum).unwrap_err().contains("skipHash"));
        assert!(parse_index(&ok[..40]).is_err());
    }

    #[test]
    fn stat_checks_are_gits() {
        let e = entry("a", MODE_FILE);
        let same = Stat {
            kind: Kind::File,
            exec: false,
            ctime: e.ctime,
            mtime: e.mtime,
            ino: e.ino,
            uid: e.uid,
            gid: e.gid,
            size: 12,
        };
        let later = (200, 0);
        use Verdict::*;
        // (what, the index entry, the file's stat, the index's mtime, filemode, the verdict)
        type Case<'a> = (&'a str, Entry, Option<Stat>, (u32, u32), bool, Verdict);
        let cases: Vec<Case> = vec![
            (
                "same stat, index written later",
                e.clone(),
                Some(same),
                later,
                true,
                Unchanged,
            ),
            (
                "racy: index written in the entry's second",
                e.clone(),
                Some(same),
                (100, 9),
                true,
                Hash,
            ),
            (
                "racy: index written before the entry",
                e.clone(),
                Some(same),
                (99, 0),
                true,
                Hash,
            ),
            ("missing", e.clone(), None, later, true, Changed),
            (
                "size",
                e.clone(),
                Some(Stat { size: 13, ..same }),
                later,
                true,
                Changed,
            ),
            (
                "size smudged to 0 in the index",
                Entry {
                    size: 0,
                    ..e.clone()
                },
                Some(same),
                later,
                true,
                Hash,
            ),
            (
                "mtime",
                e.clone(),
                Some(Stat {
                    mtime: (150, 0),
                    ..same
                }),
                later,
                true,
                Hash,
            ),
            (
                "mtime ns",
                e.clone(),
                Some(Stat {
                    mtime: (100, 8),
                    ..same
                }),
                later,
                true,
                Hash,
            ),
            (
                "ctime",
                e.clone(),
                Some(Stat {
                    ctime: (101, 5),
                    ..same
                }),
                later,
                true,
                Hash,
            ),
            (
                "inode",
                e.clone(),
                Some(Stat { ino: 43, ..same }),
                later,
                true,
                Hash,
            ),
            (
                "owner",
                e.clone(),
                Some(Stat { uid: 0, ..same }),
                later,
                true,
                Hash,
            ),
            (
                "chmod +x",
                e.clone(),
                Some(Stat { exec: true, ..same }),
                later,
                true,
                Changed,
            ),
            (
                "chmod +x, filemode off",
                e.clone(),
                Some(Stat { exec: true, ..same }),
                later,
                false,
                Unchanged,
            ),
            (
                "chmod -x",
                entry("a", MODE_EXEC),
                Some(same),
                later,
                true,
                Changed,
            ),
            (
                "file to symlink",
                e.clone(),
                Some(Stat {
                    kind: Kind::Symlink,
                    ..same
                }),
                later,
                true,
                Changed,
            ),
            (
                "file to dir",
                e.clone(),
                Some(Stat {
                    kind: Kind::Dir,
                    ..same
                }),
                later,
                true,
                Changed,
            ),
            (
                "symlink to file",
                entry("l", MODE_SYMLINK),
                Some(same),
                later,
                true,
                Changed,
            ),
            (
                "symlink kept",
                entry("l", MODE_SYMLINK),
                Some(Stat {
                    kind: Kind::Symlink,
                    ..same
                }),
                later,
                true,
                Unchanged,
            ),
            (
                "gitlink",
                entry("m", MODE_GITLINK),
                Some(same),
                later,
                true,
                Changed,
            ),
        ];
        for (what, e, st, index_mtime, filemode, want) in cases {
            assert_eq!(
                check(&e, st.as_ref(), index_mtime, filemode),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn refs_and_gitfiles() {
        let oid = "0123456789abcdef0123456789abcdef01234567";
        let parsed = parse_oid(oid).unwrap();
        assert_eq!(sha1::hex(&parsed), oid);
        assert_eq!(
            parse_ref_file(&format!("{oid}\n")),
            Ok(RefFile::Oid(parsed))
        );
        assert_eq!(
            parse_ref_file("ref: refs/heads/main\n"),
            Ok(RefFile::Symbolic("refs/heads/main".into()))
        );
        for bad in [
            "",
            "ref: \n",
            "0123\n",
            &format!("{oid} extra\n"),
            &format!("{}g\n", &oid[..39]),
        ] {
            assert!(parse_ref_file(bad).is_err(), "{bad:?}");
        }
        let packed = format!(
            "# pack-refs with: peeled fully-peeled sorted \n{oid} refs/heads/main\n{oid} refs/tags/v1.0.0\n^{oid}\n{oid} refs/tags/a/b\n"
        );
        let got = parse_packed_refs(&packed).unwrap();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["refs/heads/main", "refs/tags/v1.0.0", "refs/tags/a/b"]
        );
        assert_eq!(parse_packed_refs("").unwrap(), vec![]);
        for bad in [
            format!("^{oid}\n"),
            format!("{oid}\n"),
            "# other comment\n".into(),
            format!("{oid} a b\n"),
        ] {
            assert!(parse_packed_refs(&bad).is_err(), "{bad:?}");
        }
        for (name, ok) in [
            ("v1.2.3", true),
            ("app/v1.2.3", true),
            ("ünïcode", true),
            ("a..b", false),
            (".hidden", false),
            ("a/.x", false),
            ("x.lock", false),
            ("a b", false),
            ("a~1", false),
            ("a^", false),
            ("a:b", false),
            ("a@{1}", false),
            ("@", false),
            ("trailing.", false),
            ("a//b", false),
        ] {
            assert_eq!(plain_refname(name), ok, "{name}");
        }
        assert_eq!(
            parse_gitfile("gitdir: /r/.git/worktrees/w\n"),
            Ok("/r/.git/worktrees/w".into())
        );
        assert_eq!(
            parse_gitfile("gitdir: ../.git/modules/m"),
            Ok("../.git/modules/m".into())
        );
        assert!(parse_gitfile("nonsense\n").is_err());
    }

    #[test]
    fn commits_give_their_tree() {
        let tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
        let body = format!("tree {tree}\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nm\n");
        let obj = format!("commit {}\0{body}", body.len()).into_bytes();
        let id = sha1::digest(&obj);
        assert_eq!(commit_tree(&obj, &id), Ok(parse_oid(tree).unwrap()));
        assert!(commit_tree(&obj, &[0; 20]).unwrap_err().contains("hash"));
        let blob = b"blob 2\0hi".to_vec();
        assert!(commit_tree(&blob, &sha1::digest(&blob))
            .unwrap_err()
            .contains("not a commit"));
        let short = format!("commit 5\0{body}").into_bytes();
        assert!(commit_tree(&short, &sha1::digest(&short)).is_err());
    }

    #[test]
    fn config_files_are_read_simply_and_doubt_is_an_error() {
        let text = "# comment\n[core]\n\trepositoryformatversion = 0\n\tfilemode = false ; why\n\tbare\n\
                    [remote \"Origin\"]\n\turl = \"/a b/\" # c\n[branch.Main]\n\tmerge = refs/heads/main\n\
                    [user]\n\tname = A \\\"B\\\"   \n\tempty =\n";
        let got = parse_config(text).unwrap();
        let flat: Vec<(String, Option<String>, String, Option<String>)> = got
            .into_iter()
            .map(|e| (e.section, e.subsection, e.key, e.value))
            .collect();
        let s = |x: &str| x.to_string();
        assert_eq!(
            flat,
            vec![
                (s("core"), None, s("repositoryformatversion"), Some(s("0"))),
                (s("core"), None, s("filemode"), Some(s("false"))),
                (s("core"), None, s("bare"), None),
                (s("remote"), Some(s("Origin")), s("url"), Some(s("/a b/"))),
                (
                    s("branch"),
                    Some(s("main")),
                    s("merge"),
                    Some(s("refs/heads/main"))
                ),
                (s("user"), None, s("name"), Some(s("A \"B\""))),
                (s("user"), None, s("empty"), Some(s(""))),
            ]
        );
        for bad in [
            "key = 1\n",
            "[core]\n\tname = a \\\n b\n",
            "[core]\n\tname = \"open\n",
            "[core] filemode = true\n",
            "[core\n",
            "[core]\n\t= x\n",
            "[core]\n\tkey junk\n",
        ] {
            assert!(parse_config(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn settings_that_change_git_output_refuse() {
        let set = |text: &str| settings(&parse_config(text).unwrap());
        let plain = set("[core]\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n[user]\n\tname = x\n");
        assert_eq!(
            plain,
            Settings {
                filemode: true,
                status_refusal: None,
                tags_refusal: None
            }
        );
        assert!(!set("[core]\n\tfilemode = no\n").filemode);
        assert!(set("[core]\n\tfilemode = false\n[core]\n\tfilemode\n").filemode);
        assert_eq!(
            set("[extensions]\n\tobjectFormat = sha1\n").status_refusal,
            None
        );
        assert_eq!(
            set("[core]\n\tautocrlf = false\n\tsymlinks = true\n").status_refusal,
            None
        );
        for (text, status, tags) in [
            ("[core]\n\tautocrlf = true\n", true, false),
            ("[core]\n\tautocrlf = input\n", true, false),
            ("[core]\n\teol = lf\n", true, false),
            (
                "[filter \"lfs\"]\n\tclean = git-lfs clean -- %f\n",
                true,
                false,
            ),
            ("[core]\n\tfsmonitor = true\n", true, false),
            ("[core]\n\tignoreCase = true\n", true, false),
            ("[core]\n\tsymlinks = false\n", true, false),
            ("[core]\n\ttrustctime = false\n", true, false),
            ("[core]\n\tcheckstat = minimal\n", true, false),
            ("[core]\n\tsparseCheckout = true\n", true, false),
            ("[core]\n\tworktree = /x\n", true, false),
            ("[core]\n\tattributesFile = ~/.attrs\n", true, false),
            ("[core]\n\tfilemode = maybe\n", true, false),
            ("[extensions]\n\tobjectFormat = sha256\n", true, true),
            ("[extensions]\n\trefStorage = reftable\n", true, true),
            ("[extensions]\n\tworktreeConfig = true\n", true, true),
            ("[core]\n\trepositoryformatversion = 2\n", true, true),
            ("[include]\n\tpath = other\n", true, true),
            ("[includeIf \"gitdir:~/w/\"]\n\tpath = other\n", true, true),
            ("[tag]\n\tsort = -v:refname\n", false, true),
            ("[versionsort]\n\tsuffix = -rc\n", false, true),
            ("[column]\n\tui = always\n", false, true),
        ] {
            let got = set(text);
            assert_eq!(got.status_refusal.is_some(), status, "status: {text:?}");
            assert_eq!(got.tags_refusal.is_some(), tags, "tags: {text:?}");
        }
        assert_eq!(
            set("[core]\n\tautocrlf = true\n").status_refusal.as_deref(),
            Some("the config sets core.autocrlf")
        );
    }
}
