//! `git status` and `git tag -l` answered from the files in `.git`, without starting git, for the
//! common case: a plain repository (or worktree) whose index matches HEAD. Read-only: nothing
//! here writes to `.git` (git status would refresh the index; this never does).
//!
//! Every reader returns `Err(reason)` as soon as something is unusual (an index extension,
//! a setting, a packed HEAD commit, attributes, an environment variable that moves the
//! repository), and `facts::git` then asks git itself. The formats are parsed by the pure
//! `core::gitfmt`.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::core::gitfmt::{self, Kind, RefFile, Settings, Stat, Verdict};
use crate::core::sha1;

/// What `git status --porcelain=v2 --branch --untracked-files=no` says, read from the files
/// (`facts::git::Status` is made of it, slipway's own outputs left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// None on a detached HEAD.
    pub branch: Option<String>,
    /// The HEAD commit.
    pub commit: String,
    /// Tracked paths whose file differs from the index, in index order.
    pub changed: Vec<String>,
}

/// Where an answer came from: the files, or git (and why the files were not enough).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Files,
    Git(String),
}

/// Variables that move the repository, its index, objects or config, or the refs git lists:
/// with any of them set, git is asked.
const MOVING_VARS: [&str; 11] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_REPLACE_REF_BASE",
    "GIT_ATTR_SOURCE",
];

/// The environment git would see, as far as it decides which config and attribute files apply.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// A set variable that moves the repository (see MOVING_VARS).
    pub moving: Option<String>,
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    /// `GIT_CONFIG_GLOBAL`: the one global config file when set.
    pub config_global: Option<PathBuf>,
    /// `GIT_CONFIG_SYSTEM`: the one system config file when set.
    pub config_system: Option<PathBuf>,
    /// `GIT_CONFIG_NOSYSTEM`.
    pub no_system: bool,
    /// `GIT_ATTR_NOSYSTEM`.
    pub attr_no_system: bool,
    /// `PATH`, to find git's installation prefix (its system config is `<prefix>/etc/gitconfig`).
    pub path: Option<OsString>,
}

impl Env {
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let truthy =
            |k: &str| var(k).is_some_and(|v| gitfmt::config_bool(v.to_str()).unwrap_or(true));
        Env {
            moving: MOVING_VARS
                .iter()
                .find(|k| std::env::var_os(k).is_some())
                .map(|k| k.to_string()),
            home: var("HOME").map(PathBuf::from),
            xdg_config_home: var("XDG_CONFIG_HOME").map(PathBuf::from),
            config_global: var("GIT_CONFIG_GLOBAL").map(PathBuf::from),
            config_system: var("GIT_CONFIG_SYSTEM").map(PathBuf::from),
            no_system: truthy("GIT_CONFIG_NOSYSTEM"),
            attr_no_system: truthy("GIT_ATTR_NOSYSTEM"),
            path: var("PATH"),
        }
    }

    /// Where git is installed: `<prefix>/etc` of the first `git` on PATH (also of the file a
    /// symlinked `git` points to), and `/etc` (distributions build git with sysconfdir=/etc).
    fn etc_dirs(&self) -> Result<Vec<PathBuf>, String> {
        let path = self.path.as_ref().ok_or("PATH is not set")?;
        let git = std::env::split_paths(path)
            .map(|d| d.join("git"))
            .find(|g| g.is_file())
            .ok_or("no git on PATH")?;
        let mut dirs = vec![PathBuf::from("/etc")];
        for g in [Some(git.clone()), std::fs::canonicalize(&git).ok()]
            .into_iter()
            .flatten()
        {
            if let Some(prefix) = g.parent().and_then(Path::parent) {
                let etc = prefix.join("etc");
                if !dirs.contains(&etc) {
                    dirs.push(etc);
                }
            }
        }
        Ok(dirs)
    }

    /// The global files: `$GIT_CONFIG_GLOBAL`, else the XDG file and `~/.gitconfig`.
    fn global_configs(&self) -> Vec<PathBuf> {
        if let Some(g) = &self.config_global {
            return vec![g.clone()];
        }
        let mut files = Vec::new();
        if let Some(x) = self.xdg_dir() {
            files.push(x.join("config"));
        }
        if let Some(h) = &self.home {
            files.push(h.join(".gitconfig"));
        }
        files
    }

    fn xdg_dir(&self) -> Option<PathBuf> {
        match (&self.xdg_config_home, &self.home) {
            (Some(x), _) => Some(x.join("git")),
            (None, Some(h)) => Some(h.join(".config/git")),
            (None, None) => None,
        }
    }
}

/// The places of a repository: its work tree, its git directory (per worktree: HEAD, index)
/// and the common directory (refs, objects, config).
#[derive(Debug, Clone)]
pub struct Layout {
    pub work: PathBuf,
    pub gitdir: PathBuf,
    pub common: PathBuf,
}

type Why = String;

fn read(path: &Path) -> Result<Option<Vec<u8>>, Why> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn read_text(path: &Path) -> Result<Option<String>, Why> {
    read(path)?
        .map(|b| String::from_utf8(b).map_err(|_| format!("{} is not UTF-8", path.display())))
        .transpose()
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// The repository at `root` (a work tree top level): `.git` a directory, or a `gitdir:` file
/// (worktrees, submodules) whose directory may name a `commondir`.
pub fn layout(root: &Path) -> Result<Layout, Why> {
    let dotgit = root.join(".git");
    let meta = std::fs::metadata(&dotgit).map_err(|e| format!("{}: {e}", dotgit.display()))?;
    let gitdir = if meta.is_dir() {
        dotgit
    } else {
        let text = read_text(&dotgit)?.ok_or("no .git")?;
        root.join(gitfmt::parse_gitfile(&text)?)
    };
    let common = match read_text(&gitdir.join("commondir"))? {
        Some(c) => gitdir.join(c.trim_end_matches(['\n', '\r'])),
        None => gitdir.clone(),
    };
    if !common.join("objects").is_dir() || !common.join("refs").is_dir() {
        return Err(format!("{} is not a git directory", common.display()));
    }
    if exists(&common.join("reftable")) {
        return Err("the refs are a reftable".into());
    }
    if exists(&gitdir.join("config.worktree")) {
        return Err("the worktree has its own config".into());
    }
    Ok(Layout {
        work: root.to_path_buf(),
        gitdir,
        common,
    })
}

/// The settings of every config file git reads for this repository: system, global, local.
fn settings(l: &Layout, env: &Env) -> Result<Settings, Why> {
    let mut files = Vec::new();
    if !env.no_system {
        match &env.config_system {
            Some(f) => files.push(f.clone()),
            None => files.extend(env.etc_dirs()?.into_iter().map(|d| d.join("gitconfig"))),
        }
    }
    files.extend(env.global_configs());
    files.push(l.common.join("config"));
    let mut entries = Vec::new();
    for f in files {
        if let Some(text) = read_text(&f)? {
            entries
                .extend(gitfmt::parse_config(&text).map_err(|e| format!("{}: {e}", f.display()))?);
        }
    }
    Ok(gitfmt::settings(&entries))
}

/// The ref file `name` (e.g. `refs/heads/main`), loose or packed; None when it does not exist.
fn resolve(
    l: &Layout,
    name: &str,
    packed: &[(String, gitfmt::Oid)],
) -> Result<Option<gitfmt::Oid>, Why> {
    let rest = name
        .strip_prefix("refs/")
        .ok_or_else(|| format!("a ref outside refs/: {name}"))?;
    if !gitfmt::plain_refname(rest) || rest.starts_with("bisect/") || rest.starts_with("worktree/")
    {
        return Err(format!("the ref {name}"));
    }
    if let Some(text) = read_text(&l.common.join(name))? {
        return match gitfmt::parse_ref_file(&text)? {
            RefFile::Oid(oid) => Ok(Some(oid)),
            RefFile::Symbolic(to) => Err(format!("{name} is a symbolic ref to {to}")),
        };
    }
    Ok(packed.iter().find(|(n, _)| n == name).map(|(_, o)| *o))
}

fn packed_refs(l: &Layout) -> Result<Vec<(String, gitfmt::Oid)>, Why> {
    match read_text(&l.common.join("packed-refs"))? {
        Some(text) => gitfmt::parse_packed_refs(&text),
        None => Ok(Vec::new()),
    }
}

/// `git tag -l`: every name below `refs/tags/`, loose files and `packed-refs` (a loose ref wins;
/// both name the same tag once), sorted as git sorts them (by bytes).
pub fn tags(root: &Path, env: &Env) -> Result<Vec<String>, Why> {
    if let Some(v) = &env.moving {
        return Err(format!("{v} is set"));
    }
    let l = layout(root)?;
    owned(&l)?;
    if let Some(why) = settings(&l, env)?.tags_refusal {
        return Err(why);
    }
    let mut names = BTreeSet::new();
    loose_refs(&l.common.join("refs/tags"), "", &mut names)?;
    for (name, _) in packed_refs(&l)? {
        if let Some(tag) = name.strip_prefix("refs/tags/") {
            if !gitfmt::plain_refname(tag) {
                return Err(format!("the ref {name}"));
            }
            names.insert(tag.to_string());
        }
    }
    Ok(names.into_iter().collect())
}

fn loose_refs(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) -> Result<(), Why> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let file = entry.file_name();
        let file = file.to_str().ok_or("a ref name that is not UTF-8")?;
        let name = format!("{prefix}{file}");
        let kind = entry.file_type().map_err(|e| format!("{name}: {e}"))?;
        if kind.is_dir() {
            loose_refs(&entry.path(), &format!("{name}/"), out)?;
        } else if kind.is_file() && gitfmt::plain_refname(&name) {
            let text = read_text(&entry.path())?.ok_or_else(|| format!("{name} vanished"))?;
            match gitfmt::parse_ref_file(&text)? {
                RefFile::Oid(_) => {
                    out.insert(name);
                }
                RefFile::Symbolic(to) => {
                    return Err(format!("the tag {name} is a symbolic ref to {to}"))
                }
            }
        } else {
            return Err(format!("an unusual file in refs/tags: {name}"));
        }
    }
    Ok(())
}

/// The effective user id: the owner of `/proc/self`.
fn euid() -> Result<u32, Why> {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(|_| "no /proc/self to learn who we are".into())
}

/// git refuses repositories owned by someone else (`safe.directory`): let it say so.
fn owned(l: &Layout) -> Result<(), Why> {
    let me = euid()?;
    for p in [&l.work, &l.gitdir, &l.common] {
        let owner = std::fs::symlink_metadata(p)
            .map_err(|e| format!("{}: {e}", p.display()))?
            .uid();
        if owner != me {
            return Err(format!("{} is owned by uid {owner}", p.display()));
        }
    }
    Ok(())
}

/// The commit `id` as a loose object, inflated.
fn loose_object(l: &Layout, id: &gitfmt::Oid) -> Result<Vec<u8>, Why> {
    let hex = sha1::hex(id);
    let path = l.common.join("objects").join(&hex[..2]).join(&hex[2..]);
    let packed = read(&path)?.ok_or_else(|| format!("the HEAD commit {hex} is packed"))?;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&packed[..])
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot inflate {}: {e}", path.display()))?;
    Ok(out)
}

fn stat_of(m: &std::fs::Metadata) -> Stat {
    let t = m.file_type();
    Stat {
        kind: if t.is_symlink() {
            Kind::Symlink
        } else if t.is_file() {
            Kind::File
        } else if t.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        },
        exec: m.mode() & 0o100 != 0,
        ctime: (m.ctime() as u32, m.ctime_nsec() as u32),
        mtime: (m.mtime() as u32, m.mtime_nsec() as u32),
        ino: m.ino() as u32,
        uid: m.uid(),
        gid: m.gid(),
        size: m.size(),
    }
}

/// `git status --porcelain=v2 --branch --untracked-files=no`, from the files: HEAD
/// and the refs for the branch and commit, the index's cache tree against the HEAD commit's
/// tree for staged changes (any → git is asked), and each index entry against its file the way
/// git compares them (stat data, then the content when the stat data cannot tell).
pub fn status(root: &Path, env: &Env) -> Result<Head, Why> {
    if let Some(v) = &env.moving {
        return Err(format!("{v} is set"));
    }
    let l = layout(root)?;
    owned(&l)?;
    let settings = settings(&l, env)?;
    if let Some(why) = settings.status_refusal {
        return Err(why);
    }
    // Attributes could convert content (eol, filters, ident): any attributes file → git.
    let mut attributes = vec![
        l.gitdir.join("info/attributes"),
        l.common.join("info/attributes"),
    ];
    attributes.extend(env.xdg_dir().map(|x| x.join("attributes")));
    if !env.attr_no_system {
        attributes.extend(env.etc_dirs()?.into_iter().map(|d| d.join("gitattributes")));
    }
    attributes.push(l.work.join(".gitattributes"));
    if let Some(a) = attributes.iter().find(|a| exists(a)) {
        return Err(format!("attributes apply ({})", a.display()));
    }
    for special in ["MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "sequencer"] {
        if exists(&l.gitdir.join(special)) {
            return Err(format!("{special} exists (an operation is under way)"));
        }
    }
    if exists(&l.common.join("refs/replace")) {
        return Err("replace refs exist".into());
    }

    // HEAD: the branch, the commit, its tree.
    let head_text = read_text(&l.gitdir.join("HEAD"))?.ok_or("no HEAD")?;
    let packed = packed_refs(&l)?;
    if packed.iter().any(|(n, _)| n.starts_with("refs/replace/")) {
        return Err("replace refs exist".into());
    }
    let (branch, head) = match gitfmt::parse_ref_file(&head_text)? {
        RefFile::Oid(oid) => (None, oid),
        RefFile::Symbolic(to) => {
            let branch = to
                .strip_prefix("refs/heads/")
                .ok_or_else(|| format!("HEAD points at {to}"))?;
            let oid = resolve(&l, &to, &packed)?
                .ok_or_else(|| format!("the branch {branch} has no commit yet"))?;
            (Some(branch.to_string()), oid)
        }
    };
    let tree = gitfmt::commit_tree(&loose_object(&l, &head)?, &head)?;

    // The index: its cache tree must be the HEAD commit's tree (nothing staged).
    let index_path = l.gitdir.join("index");
    let index_meta = std::fs::metadata(&index_path).map_err(|e| format!("no index: {e}"))?;
    let index = gitfmt::parse_index(&read(&index_path)?.ok_or("no index")?)?;
    let index_mtime = (index_meta.mtime() as u32, index_meta.mtime_nsec() as u32);
    for e in &index.entries {
        let unusual = if e.stage > 0 {
            Some("is unmerged")
        } else if e.mode == gitfmt::MODE_GITLINK {
            Some("is a submodule")
        } else if e.skip_worktree {
            Some("is skip-worktree (sparse checkout)")
        } else if e.intent_to_add {
            Some("is intent-to-add")
        } else if e.assume_valid {
            Some("is assume-unchanged")
        } else if e.path == ".gitattributes" || e.path.ends_with("/.gitattributes") {
            Some("sets attributes")
        } else {
            None
        };
        if let Some(what) = unusual {
            return Err(format!("{} {what}", e.path));
        }
    }
    match index.root_tree {
        Some(t) if t == tree => {}
        Some(_) => return Err("the index differs from HEAD (staged changes)".into()),
        None => {
            return Err(
                "the index's cache tree is incomplete (staged changes, or not cached again)".into(),
            )
        }
    }

    // The work tree against the index.
    let mut dirs: HashMap<String, bool> = HashMap::new();
    let mut changed = Vec::new();
    for e in &index.entries {
        let mut real_dirs = true;
        for (i, _) in e.path.match_indices('/') {
            let dir = &e.path[..i];
            let ok = match dirs.get(dir) {
                Some(ok) => *ok,
                None => {
                    let d = l.work.join(dir);
                    let ok = std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir());
                    if ok && exists(&d.join(".gitattributes")) {
                        return Err(format!("attributes apply ({dir}/.gitattributes)"));
                    }
                    dirs.insert(dir.to_string(), ok);
                    ok
                }
            };
            real_dirs &= ok;
        }
        let path = l.work.join(&e.path);
        // A file below a symlinked or missing directory is gone, to git.
        let st = if real_dirs {
            match std::fs::symlink_metadata(&path) {
                Ok(m) => Some(stat_of(&m)),
                Err(err)
                    if err.kind() == std::io::ErrorKind::NotFound
                        || err.raw_os_error() == Some(20) =>
                {
                    None
                }
                Err(err) => return Err(format!("cannot stat {}: {err}", e.path)),
            }
        } else {
            None
        };
        let is_changed = match gitfmt::check(e, st.as_ref(), index_mtime, settings.filemode) {
            Verdict::Unchanged => false,
            Verdict::Changed => true,
            Verdict::Hash => {
                let content = if e.mode == gitfmt::MODE_SYMLINK {
                    use std::os::unix::ffi::OsStringExt;
                    std::fs::read_link(&path)
                        .map_err(|err| format!("cannot read the link {}: {err}", e.path))?
                        .into_os_string()
                        .into_vec()
                } else {
                    read(&path)?.ok_or_else(|| format!("{} vanished", e.path))?
                };
                sha1::blob_id(&content) != e.oid
            }
        };
        if is_changed {
            changed.push(e.path.clone());
        }
    }
    Ok(Head {
        branch,
        commit: sha1::hex(&head),
        changed,
    })
}
