//! The Python distribution target: build sdist + wheel once with pinned tools, `twine check`,
//! upload what the index lacks, and verify by hash and by installing.
//!
//! No installed tool is needed beyond `python3`: `build` and `twine` (pinned, with every
//! dependency pinned) live in a venv under `target/slipway/tools/`, created on first use and
//! reused. Re-runs are safe: the index is read before uploading; a file already there with the
//! same sha256 is skipped, one with a different sha256 stops the run (an index never lets a
//! version be replaced).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::core::sha256;
use crate::run::plan::{Decision, Planned, Process, Reconcile, Run, RunContext, Step, Sub, Val};
use crate::targets::publish::{Facts, Gathered, TargetPlan};
use crate::Problems;

/// The tool venv's requirements: build and twine, with every dependency pinned
/// (`pip install --no-deps`), so the same tools run everywhere.
pub const TOOL_REQUIREMENTS: &str = "\
backports.tarfile==1.2.0
build==1.6.1
certifi==2026.10.18
cffi==2.1.1
charset-normalizer==3.5.2
cryptography==50.0.2
docutils==0.23
id==1.6.1
idna==3.20
importlib_metadata==10.2.0
jaraco.classes==3.4.0
jaraco.context==6.1.2
jaraco.functools==4.6.0
jeepney==0.9.0
keyring==25.7.0
lazy-importer==0.1.0
markdown-it-py==4.3.0
mdurl==0.1.2
more-itertools==11.2.1
nh3==0.3.7
packaging==26.3
pycparser==3.12
Pygments==2.21.0
pyproject_hooks==1.3.3
readme_renderer==46.0
requests==2.34.2
requests-toolbelt==1.0.0
rfc3986==2.0.0
rich==15.0.0
SecretStorage==3.5.0
twine==7.0.0
urllib3==2.8.0
zipp==4.1.2
";

/// The package index's venv (tests and `rehearse`): pypiserver with passlib and bcrypt 4
/// (bcrypt 5 breaks passlib at import).
pub const SERVER_REQUIREMENTS: &str = "\
bcrypt==4.0.1
defusedxml==0.7.1
importlib_resources==7.1.0
packaging==26.3
passlib==1.7.4
pypiserver==2.4.2
";

/// zizmor, the GitHub Actions auditor `cargo xtask ci` runs on the workflows.
pub const ZIZMOR_REQUIREMENTS: &str = "zizmor==1.32.0\n";

/// Variables that would point pip elsewhere than the index being verified.
const PIP_REDIRECTS: &[&str] = &[
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONFIG_FILE",
];

/// The build front end `python -m build --no-isolation` runs from, pinned (as in
/// [`TOOL_REQUIREMENTS`]); the project's `[build-system].requires` go beside it.
pub const BUILD_FRONTEND: &str = "\
build==1.6.1
packaging==26.3
pyproject_hooks==1.3.3
";

/// A venv with pinned requirements, under `<work>/tools/<name>-<hash of requirements>`.
#[derive(Debug, Clone)]
pub struct Venv {
    pub dir: PathBuf,
    pub requirements: &'static str,
    /// Requirements installed after the pinned ones, with their dependencies (a project's
    /// `[build-system].requires`); part of the hash, so other requirements get another venv.
    pub extra: Vec<String>,
    /// Made without pip, installed into by this interpreter's pip (`pip --python`): no
    /// ensurepip, which is most of a venv's making.
    pub pip_from: Option<PathBuf>,
}

impl Venv {
    /// Under `$SLIPWAY_TOOLS_DIR` when set (shared by tests and `rehearse`'s throwaway clone),
    /// else `<work>/tools`.
    pub fn new(work: &Path, name: &str, requirements: &'static str) -> Venv {
        let tools = std::env::var_os("SLIPWAY_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| work.join("tools"));
        Venv::in_dir(&tools, name, requirements)
    }
    /// Directly under `tools` (provisioning and tests choose the place).
    pub fn in_dir(tools: &Path, name: &str, requirements: &'static str) -> Venv {
        Venv::with_extra(tools, name, requirements, Vec::new())
    }
    fn with_extra(
        tools: &Path,
        name: &str,
        requirements: &'static str,
        extra: Vec<String>,
    ) -> Venv {
        let mut key = requirements.to_string();
        for e in &extra {
            key.push_str(&format!("+{e}\n"));
        }
        let hash = &sha256::digest_hex(key.as_bytes())[..12];
        Venv {
            dir: tools.join(format!("{name}-{hash}")),
            requirements,
            extra,
            pip_from: None,
        }
    }
    /// The project's isolated build environment: the pinned front end and its
    /// `[build-system].requires`, nothing else — what `python -m build` makes twice per build
    /// (sdist, wheel), made once and reused until the requirements change.
    pub fn build_env(work: &Path, requires: Vec<String>) -> Venv {
        let tools = std::env::var_os("SLIPWAY_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| work.join("tools"));
        Venv {
            pip_from: Some(Venv::tools(work).python()),
            ..Venv::with_extra(&tools, "build-env", BUILD_FRONTEND, requires)
        }
    }

    /// `<python> -m pip` for installing into this venv (its own, or [`Venv::pip_from`]'s).
    fn pip(&self, root: &Path) -> Process {
        match &self.pip_from {
            None => Process::new(&self.python().display().to_string(), root).args(["-m", "pip"]),
            Some(from) => Process::new(&from.display().to_string(), root)
                .args(["-m", "pip", "--python"])
                .args([self.python().display().to_string()]),
        }
    }
    /// What the ready marker holds: every requirement it was made with.
    fn manifest(&self) -> String {
        let mut m = self.requirements.to_string();
        for e in &self.extra {
            m.push_str(&format!("+{e}\n"));
        }
        m
    }
    pub fn tools(work: &Path) -> Venv {
        Venv::new(work, "python-tools", TOOL_REQUIREMENTS)
    }
    pub fn server(work: &Path) -> Venv {
        Venv::new(work, "pypiserver", SERVER_REQUIREMENTS)
    }
    pub fn python(&self) -> PathBuf {
        self.dir.join("bin/python")
    }
    fn marker(&self) -> PathBuf {
        self.dir.join(".slipway-ready")
    }
    pub fn is_ready(&self) -> bool {
        self.python().exists()
            && std::fs::read_to_string(self.marker()).is_ok_and(|m| m == self.manifest())
    }

    /// The steps that create it (none when it is ready): venv, pinned install, ready marker.
    pub fn steps(&self, root: &Path) -> Vec<Step> {
        if self.is_ready() {
            return Vec::new();
        }
        self.create_steps(root)
    }

    /// [`Venv::steps`], whether or not it is ready.
    fn create_steps(&self, root: &Path) -> Vec<Step> {
        let mut venv = Process::new("python3", root).args(["-m", "venv", "--clear"]);
        if self.pip_from.is_some() {
            venv = venv.args(["--without-pip"]);
        }
        let mut steps = vec![
            Step::Run(venv.args([self.dir.display().to_string()])),
            Step::Run(
                self.pip(root)
                    .args([
                        "install",
                        "--quiet",
                        "--no-deps",
                        "--disable-pip-version-check",
                        "-r",
                        "/dev/stdin",
                    ])
                    .stdin(Val::Plain(self.requirements.to_string())),
            ),
        ];
        if !self.extra.is_empty() {
            steps.push(Step::Run(
                self.pip(root)
                    .args(["install", "--quiet", "--disable-pip-version-check"])
                    .args(self.extra.iter().cloned()),
            ));
        }
        steps.push(Step::Action(Box::new(WriteFile {
            path: self.marker(),
            content: self.manifest(),
        })));
        steps
    }

    /// Creates it now (tests, provisioning): runs [`Venv::steps`], holding a lock directory so
    /// that concurrent callers do not build it twice.
    pub fn ensure(&self, root: &Path) -> Result<()> {
        if self.is_ready() {
            return Ok(());
        }
        let lock = self.dir.with_extension("lock");
        if let Some(parent) = lock.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let start = std::time::Instant::now();
        while std::fs::create_dir(&lock).is_err() {
            if start.elapsed() > std::time::Duration::from_secs(600) {
                bail!(
                    "{} is locked by another process for 10 minutes; remove it if stale",
                    lock.display()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let result = self.create(root);
        let _ = std::fs::remove_dir(&lock);
        result
    }

    fn create(&self, root: &Path) -> Result<()> {
        if self.is_ready() {
            return Ok(());
        }
        for step in self.steps(root) {
            match step {
                Step::Run(p) => {
                    crate::run::exec::run_captured(&p)?;
                }
                Step::Action(a) => {
                    let ui = crate::run::ui::Ui::plain();
                    let mut cx = RunContext {
                        ui: &ui,
                        root,
                        values: Default::default(),
                    };
                    a.execute(&mut cx)?;
                }
                Step::Edit(_) => unreachable!("venv steps edit no file"),
            }
        }
        Ok(())
    }
}

/// Writes a file under `target/` (not a repository file: no before/after).
#[derive(Debug)]
pub struct WriteFile {
    pub path: PathBuf,
    pub content: String,
}

impl Reconcile for WriteFile {
    type Seen = Option<String>;
    fn header(&self) -> String {
        format!(
            "write {} ({} bytes)",
            self.path.display(),
            self.content.len()
        )
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![self.write()])
    }
    fn observe(&self, _cx: &RunContext) -> Result<Option<String>> {
        Ok(std::fs::read_to_string(&self.path).ok())
    }
    fn decide(&self, current: &Option<String>) -> Result<Decision> {
        Ok(if current.as_deref() == Some(self.content.as_str()) {
            Decision::done(format!("{} holds this content", self.path.display()))
        } else {
            Decision::apply(vec![self.write()], "")
        })
    }
}

impl WriteFile {
    fn write(&self) -> Sub {
        Sub::Write {
            path: self.path.clone(),
            content: self.content.clone(),
        }
    }
}

/// PEP 503 project name normalization: `Slipway.Demo` → `slipway-demo`.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The name part of distribution file names (PEP 625/427): `slipway_demo`.
pub fn file_stem(name: &str) -> String {
    normalize(name).replace('-', "_")
}

/// A file an index lists for a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub filename: String,
    pub sha256: Option<String>,
}

/// Parses a PEP 503 simple page: `<a href="…/file.whl#sha256=…">file.whl</a>`.
pub fn parse_simple_html(body: &str) -> Vec<IndexFile> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("<a ") {
        rest = &rest[i..];
        let Some(end) = rest.find("</a>") else { break };
        let tag = &rest[..end];
        let href = tag.find("href=\"").and_then(|h| {
            let v = &tag[h + 6..];
            v.find('"').map(|e| &v[..e])
        });
        let text = tag.rfind('>').map(|g| tag[g + 1..].trim()).unwrap_or("");
        if let Some(href) = href {
            let (path, fragment) = href.split_once('#').unwrap_or((href, ""));
            let from_href = path.rsplit('/').next().unwrap_or(path);
            let filename = if text.is_empty() { from_href } else { text };
            let sha256 = fragment
                .strip_prefix("sha256=")
                .map(|h| h.to_ascii_lowercase());
            out.push(IndexFile {
                filename: html_unescape(filename),
                sha256,
            });
        }
        rest = &rest[end + 4..];
    }
    out
}

fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// Parses a PEP 691 JSON project page.
pub fn parse_simple_json(body: &str) -> Result<Vec<IndexFile>> {
    let json: serde_json::Value =
        serde_json::from_str(body).context("the index sent invalid JSON")?;
    Ok(json["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .filter_map(|f| {
                    Some(IndexFile {
                        filename: f["filename"].as_str()?.to_string(),
                        sha256: f["hashes"]["sha256"].as_str().map(str::to_ascii_lowercase),
                    })
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The files the index lists for `package` (empty when it has none); prefers PEP 691 JSON.
///
/// The read stays on the index's host: a redirect to another host is never followed (acting on
/// another index's listing is a dependency-confusion hole). Such a redirect means "not listed"
/// only when `fallback` (`index-fallback = true`) says the index sends projects it lacks
/// elsewhere; otherwise it is an error naming both fixes.
pub fn index_files(index_url: &str, package: &str, fallback: bool) -> Result<Vec<IndexFile>> {
    match index_page(index_url, package, fallback)? {
        None => Ok(Vec::new()),
        Some(page) if page.json => parse_simple_json(&page.body),
        Some(page) => Ok(parse_simple_html(&page.body)),
    }
}

/// A project page of the simple API, as the index answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexPage {
    /// PEP 691 JSON (else PEP 503 HTML).
    pub json: bool,
    pub body: String,
}

/// The project page of `package` (None: not listed), read as [`index_files`] says.
pub fn index_page(index_url: &str, package: &str, fallback: bool) -> Result<Option<IndexPage>> {
    let url = format!(
        "{}/{}/",
        index_url.trim_end_matches('/'),
        normalize(package)
    );
    let answer = crate::run::exec::timed(|| {
        crate::run::net::get_on_host(
            &url,
            &[("Accept", "application/vnd.pypi.simple.v1+json, text/html;q=0.1")],
            std::time::Duration::from_secs(30),
        )
    })
    .map_err(|e| anyhow!("the package index {index_url} is unreachable ({url}): {e}; is it up, and is `index-url` right?"))?;
    let mut resp = match answer {
        crate::run::net::OnHost::Answer(resp) => resp,
        crate::run::net::OnHost::Elsewhere { .. } if fallback => return Ok(None),
        crate::run::net::OnHost::Elsewhere { from, to } => bail!(
            "the package index {index_url} redirected {from} to another host ({to}); slipway reads an \
             index on its own host only (another index's listing could be anyone's package): if the index \
             is pypiserver, start it with `--disable-fallback`; or, if the index sends projects it does not \
             have to that host, set `index-fallback = true` in [workspace.metadata.release.python] and such \
             a redirect counts as not listed"
        ),
    };
    match resp.status().as_u16() {
        200 => {}
        404 => return Ok(None),
        code => bail!("the package index answered HTTP {code} for {url}"),
    }
    let json = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    let body = resp
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading {url}"))?;
    Ok(Some(IndexPage { json, body }))
}

/// Credentials for the upload: a token, a user/password pair, or GitHub's trusted publishing.
#[derive(Clone)]
pub enum Credentials {
    Password { user: String, password: String },
    TrustedPublishing,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password { user, .. } => {
                write!(f, "Password {{ user: {user:?}, password: *** }}")
            }
            Credentials::TrustedPublishing => f.write_str("TrustedPublishing"),
        }
    }
}

impl Credentials {
    pub fn from_env(repository_url: &str) -> Option<Credentials> {
        if let Some(token) = crate::targets::publish::secret_env("PYPI_TOKEN") {
            return Some(Credentials::Password {
                user: "__token__".into(),
                password: token,
            });
        }
        let user = std::env::var("TWINE_USERNAME")
            .ok()
            .filter(|u| !u.is_empty());
        let password = crate::targets::publish::secret_env("TWINE_PASSWORD");
        match (user, password) {
            (Some(user), Some(password)) => Some(Credentials::Password { user, password }),
            (None, Some(password)) => Some(Credentials::Password {
                user: "__token__".into(),
                password,
            }),
            _ if crate::targets::publish::github_oidc_available()
                && is_public_pypi(repository_url) =>
            {
                Some(Credentials::TrustedPublishing)
            }
            _ => None,
        }
    }
}

fn is_public_pypi(url: &str) -> bool {
    url.contains("upload.pypi.org") || url.contains("test.pypi.org")
}

/// Local dist files of a build: (name, sha256), sorted.
pub fn local_dists(dir: &Path) -> Result<Vec<(String, PathBuf, String)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)
        .with_context(|| format!("no built distributions in {}", dir.display()))?
    {
        let p = e?.path();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".whl") || name.ends_with(".tar.gz") {
            let sha = crate::facts::files::file_hex(&p)?;
            out.push((name, p, sha));
        }
    }
    out.sort();
    Ok(out)
}

/// Checks built files: exactly one sdist, at least one wheel, all named `<stem>-<version>…`.
pub fn check_dist_names(names: &[String], stem: &str, pep440: &str) -> Result<(), String> {
    let prefix = format!("{stem}-{pep440}");
    let sdists = names.iter().filter(|n| n.ends_with(".tar.gz")).count();
    let wheels = names.iter().filter(|n| n.ends_with(".whl")).count();
    if sdists != 1 || wheels == 0 {
        return Err(format!(
            "expected one sdist and at least one wheel, the build made: {}",
            names.join(", ")
        ));
    }
    for n in names {
        let ok = n == &format!("{prefix}.tar.gz")
            || n.starts_with(&format!("{prefix}-")) && n.ends_with(".whl");
        if !ok {
            return Err(format!(
                "{n} does not carry the release version {pep440} (expected {prefix}…): is [project].version in step with the tag?"
            ));
        }
    }
    Ok(())
}

/// Builds sdist + wheel into a fresh directory and checks their names.
#[derive(Debug)]
pub struct Build {
    /// The build environment's interpreter ([`Venv::build_env`]): it runs the front end with
    /// `--no-isolation`, the environment being isolated already.
    pub python: PathBuf,
    pub root: PathBuf,
    pub outdir: PathBuf,
    pub stem: String,
    pub pep440: String,
    pub epoch: i64,
    /// The commit being released: a build recorded for it is reused (a wheel is
    /// byte-reproducible under SOURCE_DATE_EPOCH; the sdist is made so by [`NORMALIZE_SDIST`],
    /// and reusing the record spares the rebuild).
    pub commit: String,
    /// What the build backend needs to know the version when it comes from git tags
    /// (`SETUPTOOLS_SCM_PRETEND_VERSION`, `PDM_BUILD_SCM_VERSION`): the tag is the version.
    pub env: Vec<(String, String)>,
}

const BUILD_RECORD: &str = ".slipway-build.json";

/// Makes an sdist byte-reproducible (setuptools writes the checkout's file times and the build
/// time into it, so the same commit built in two clones gave two sha256 — and a re-publish from
/// a fresh checkout was refused as "another file of the same name"): every member's time set to
/// SOURCE_DATE_EPOCH, owners root/0, the gzip header's time too; members and their bytes kept
/// in order. Arguments: the sdist, the epoch.
pub const NORMALIZE_SDIST: &str = r#"import gzip, io, os, sys, tarfile
path, epoch = sys.argv[1], int(sys.argv[2])
if not os.path.exists(path):
    sys.exit(0)  # the build made another name: the name check after it says so
with tarfile.open(path, "r:gz") as src:
    members = [(m, src.extractfile(m).read() if m.isfile() else None) for m in src.getmembers()]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as out:
    for m, data in members:
        m.mtime = epoch
        m.uid = m.gid = 0
        m.uname = m.gname = "root"
        for k in ("mtime", "atime", "ctime", "uid", "gid", "uname", "gname"):
            m.pax_headers.pop(k, None)
        out.addfile(m, io.BytesIO(data) if data is not None else None)
tmp = path + ".tmp"
with open(tmp, "wb") as f:
    with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=epoch) as gz:
        gz.write(buf.getvalue())
os.replace(tmp, path)
"#;

impl Build {
    /// The files of an earlier build of this commit, if all are still there unchanged.
    fn earlier(&self) -> Option<Vec<(String, String)>> {
        let text = std::fs::read_to_string(self.outdir.join(BUILD_RECORD)).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        if json["commit"].as_str()? != self.commit {
            return None;
        }
        let recorded: Vec<(String, String)> = json["files"]
            .as_object()?
            .iter()
            .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect::<Option<_>>()?;
        let now: Vec<(String, String)> = local_dists(&self.outdir)
            .ok()?
            .into_iter()
            .map(|(n, _, s)| (n, s))
            .collect();
        (now == recorded && !now.is_empty()).then_some(now)
    }

    fn process(&self) -> Process {
        let mut p = Process::new(&self.python.display().to_string(), &self.root)
            .args([
                "-m",
                "build",
                "--no-isolation",
                "--sdist",
                "--wheel",
                "--outdir",
            ])
            .args([
                self.outdir.display().to_string(),
                self.root.display().to_string(),
            ])
            .env("SOURCE_DATE_EPOCH", Val::Plain(self.epoch.to_string()));
        for (k, v) in &self.env {
            p = p.env(k, Val::Plain(v.clone()));
        }
        p
    }

    /// [`NORMALIZE_SDIST`] on the sdist the build made.
    fn normalize(&self) -> Process {
        Process::new(&self.python.display().to_string(), &self.root)
            .args(["-c", NORMALIZE_SDIST])
            .args([
                self.outdir
                    .join(format!("{}-{}.tar.gz", self.stem, self.pep440))
                    .display()
                    .to_string(),
                self.epoch.to_string(),
            ])
    }
}

/// What [`Build`] reads: an earlier build of this commit, and the files this run's build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSeen {
    /// (name, sha256) of a recorded build of this commit, all still there unchanged.
    pub earlier: Option<Vec<(String, String)>>,
    /// (name, sha256) of what this run's build made (before it is recorded).
    pub fresh: Option<Vec<(String, String)>>,
}

impl Build {
    /// The value this run records once it has built (the files are read back and checked).
    fn built_key(&self) -> String {
        format!("pypi.built {}", self.outdir.display())
    }
}

impl Reconcile for Build {
    type Seen = BuildSeen;
    fn header(&self) -> String {
        format!(
            "build sdist + wheel {} into {}",
            self.pep440,
            self.outdir.display()
        )
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "skipped when this commit's build is recorded in {BUILD_RECORD} and unchanged; the build must make one sdist and a wheel named {}-{}…",
            self.stem, self.pep440
        ))
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![
            Sub::Remove(self.outdir.clone()),
            Sub::run(self.process()),
            Sub::run(self.normalize()),
            Sub::Record(self.built_key(), self.commit.clone()),
            Sub::Write {
                path: self.outdir.join(BUILD_RECORD),
                content: "<record>".into(),
            },
        ])
    }
    fn observe(&self, cx: &RunContext) -> Result<BuildSeen> {
        let fresh = if cx.values.get(&self.built_key()) == Some(&self.commit) {
            Some(
                local_dists(&self.outdir)?
                    .into_iter()
                    .map(|(n, _, s)| (n, s))
                    .collect(),
            )
        } else {
            None
        };
        Ok(BuildSeen {
            earlier: self.earlier(),
            fresh,
        })
    }
    fn decide(&self, seen: &BuildSeen) -> Result<Decision> {
        if let Some(files) = &seen.earlier {
            let short = &self.commit[..self.commit.len().min(7)];
            let list: Vec<String> = files
                .iter()
                .map(|(n, s)| format!("{n} (sha256 {})", &s[..s.len().min(12)]))
                .collect();
            return Ok(Decision::done(format!(
                "built earlier from {short}, unchanged: {}",
                list.join(", ")
            )));
        }
        let Some(files) = &seen.fresh else {
            return Ok(Decision::apply(
                vec![
                    Sub::Remove(self.outdir.clone()),
                    Run::new(self.process())
                        .explain(|e| Some(format!("building the Python distributions: {e}")))
                        .sub(),
                    Run::new(self.normalize())
                        .explain(|e| Some(format!("making the sdist reproducible: {e}")))
                        .sub(),
                    Sub::Record(self.built_key(), self.commit.clone()),
                ],
                "",
            ));
        };
        let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        check_dist_names(&names, &self.stem, &self.pep440).map_err(|e| anyhow!("{e}"))?;
        let record = serde_json::json!({
            "commit": self.commit,
            "files": files.iter().map(|(n, s)| (n.clone(), serde_json::json!(s))).collect::<serde_json::Map<_, _>>(),
        });
        let lines: Vec<String> = files
            .iter()
            .map(|(n, sha)| format!("{n}  sha256 {sha}"))
            .collect();
        Ok(Decision::finish(
            vec![Sub::Write {
                path: self.outdir.join(BUILD_RECORD),
                content: serde_json::to_string_pretty(&record)?,
            }],
            lines.join("\n"),
        ))
    }
}

/// `twine check --strict` on the built files.
#[derive(Debug)]
pub struct Check {
    pub python: PathBuf,
    pub root: PathBuf,
    pub outdir: PathBuf,
    /// `python.strict-check`: warnings stop the build too (`twine check --strict`).
    pub strict: bool,
}

impl Reconcile for Check {
    /// The built files.
    type Seen = Vec<String>;
    fn header(&self) -> String {
        format!(
            "twine check{} {}/*",
            if self.strict { " --strict" } else { "" },
            self.outdir.display()
        )
    }
    fn planned(&self) -> Planned {
        Planned::apply(vec![Sub::run(
            self.process(vec![format!("{}/<file…>", self.outdir.display())]),
        )])
    }
    fn observe(&self, _cx: &RunContext) -> Result<Vec<String>> {
        Ok(local_dists(&self.outdir)?
            .into_iter()
            .map(|(_, p, _)| p.display().to_string())
            .collect())
    }
    fn decide(&self, files: &Vec<String>) -> Result<Decision> {
        // The tool's verdict is not state to read back: run once.
        Ok(Decision::finish(
            vec![Run::new(self.process(files.clone()))
                .explain(|e| Some(format!("twine check: {e}")))
                .capture(CHECK_WARNINGS, |out| Some(check_warnings(out)))
                .sub()],
            format!("<{CHECK_WARNINGS}>"),
        ))
    }
}

/// The recorded summary of `twine check`: its warnings, or that there were none.
const CHECK_WARNINGS: &str = "pypi.check";

/// What `twine check` said besides "PASSED": its warnings (shown; they stop the build only with
/// `python.strict-check = true`), else that every file passed.
pub fn check_warnings(out: &str) -> String {
    let warnings: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("WARNING"))
        .map(|l| l.trim_start_matches("WARNING").trim())
        .collect();
    if warnings.is_empty() {
        "every file passed".to_string()
    } else {
        format!(
            "passed with warnings (python.strict-check = true makes them stop the build): {}",
            warnings.join("; ")
        )
    }
}

impl Check {
    fn process(&self, files: Vec<String>) -> Process {
        let mut p = twine(&self.python, &self.root).args(["check"]);
        if self.strict {
            p = p.args(["--strict"]);
        }
        p.args(files)
    }
}

fn twine(python: &Path, root: &Path) -> Process {
    Process::new(&python.display().to_string(), root)
        .args(["-m", "twine", "--no-color"])
        .env(
            "PYTHON_KEYRING_BACKEND",
            Val::Plain("keyring.backends.null.Keyring".into()),
        )
}

/// Uploads the files the index does not have yet.
#[derive(Debug)]
pub struct Upload {
    pub python: PathBuf,
    pub root: PathBuf,
    pub outdir: PathBuf,
    pub package: String,
    pub repository_url: String,
    pub index_url: String,
    /// `index-fallback`: a redirect to another host means "not listed".
    pub index_fallback: bool,
    /// None: none configured (a real run refuses; a dry run shows the plan).
    pub credentials: Option<Credentials>,
}

impl Upload {
    fn process(&self, files: Vec<String>) -> Process {
        let mut p = twine(&self.python, &self.root)
            .args([
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                &self.repository_url,
            ])
            .args(files);
        if let Some(Credentials::Password { user, password }) = &self.credentials {
            p = p
                .env("TWINE_USERNAME", Val::Plain(user.clone()))
                .env("TWINE_PASSWORD", Val::Secret(password.clone()));
        }
        p
    }
}

/// What [`Upload`] reads: the built files (name, path, sha256) and what the index lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSeen {
    pub local: Vec<(String, PathBuf, String)>,
    pub listed: Vec<IndexFile>,
}

impl Reconcile for Upload {
    type Seen = UploadSeen;
    fn header(&self) -> String {
        format!(
            "upload to {} what {} lacks",
            self.repository_url, self.index_url
        )
    }
    fn rule(&self) -> Option<String> {
        Some("same name and sha256 on the index → skip; same name, other sha256 → stop".to_string())
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::Http(self.index_read())],
            apply: vec![Sub::run(self.process(vec![format!(
                "{}/<missing file…>",
                self.outdir.display()
            )]))],
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<UploadSeen> {
        Ok(UploadSeen {
            local: local_dists(&self.outdir)?,
            listed: index_files(&self.index_url, &self.package, self.index_fallback)?,
        })
    }
    fn decide(&self, seen: &UploadSeen) -> Result<Decision> {
        let mut missing = Vec::new();
        let mut present = Vec::new();
        for (name, path, sha) in &seen.local {
            match seen.listed.iter().find(|f| &f.filename == name) {
                Some(f) if f.sha256.as_deref() == Some(sha.as_str()) => present.push(name.clone()),
                Some(f) => bail!(
                    "{} already has {name} with sha256 {}, but this build's is {sha}: an index never lets a \
                     version be replaced; release a new version (`cargo xtask release patch`)",
                    self.index_url,
                    f.sha256.as_deref().unwrap_or("(not listed)")
                ),
                None => missing.push((name.clone(), path.display().to_string())),
            }
        }
        if missing.is_empty() {
            return Ok(Decision::done(format!(
                "{} already lists {} with the same sha256",
                self.index_url,
                present.join(", ")
            )));
        }
        let names: Vec<&str> = missing.iter().map(|(n, _)| n.as_str()).collect();
        let mut what = format!("uploaded {}", names.join(", "));
        if !present.is_empty() {
            what.push_str(&format!(
                "; already there with the same sha256: {}",
                present.join(", ")
            ));
        }
        let repository = self.repository_url.clone();
        let upload = Run::new(self.process(missing.into_iter().map(|(_, p)| p).collect()))
            .explain(move |text| upload_error(text, &repository));
        // twine's success is the evidence: a public index may list a new file only after a
        // while, so it is not read back here (the verify step reads it).
        Ok(Decision::finish(vec![upload.sub()], what))
    }
}

impl Upload {
    fn index_read(&self) -> crate::run::plan::Request {
        index_request(&self.index_url, &self.package)
    }
}

/// The error sentence for a failed `twine upload`.
fn upload_error(text: &str, repository_url: &str) -> Option<String> {
    if text.contains("403") || text.contains("401") {
        return Some(format!("{repository_url} refused the credentials (HTTP 401/403): check PYPI_TOKEN, or TWINE_USERNAME/TWINE_PASSWORD"));
    }
    if text.contains("Connection refused")
        || text.contains("Max retries exceeded")
        || text.contains("NewConnectionError")
    {
        return Some(format!(
            "the package index {repository_url} is unreachable: is it up, and is `repository-url` right?"
        ));
    }
    Some(format!("uploading to {repository_url}: {text}"))
}

/// The simple-API read of `package` (what [`index_files`] sends).
pub fn index_request(index_url: &str, package: &str) -> crate::run::plan::Request {
    crate::run::plan::Request {
        method: "GET".into(),
        url: format!(
            "{}/{}/",
            index_url.trim_end_matches('/'),
            normalize(package)
        ),
        headers: vec![(
            "Accept".into(),
            Val::Plain("application/vnd.pypi.simple.v1+json, text/html;q=0.1".into()),
        )],
        body: None,
        service: format!("the package index {index_url}"),
    }
}

/// Verifies by hash on the index, then by installing into a throwaway venv.
#[derive(Debug)]
pub struct Verify {
    pub root: PathBuf,
    pub work: PathBuf,
    pub outdir: PathBuf,
    pub package: String,
    pub pep440: String,
    pub index_url: String,
    /// `index-fallback`: a redirect to another host means "not listed".
    pub index_fallback: bool,
    /// The pinned tool venv's python: its pip installs into the throwaway venv
    /// (`pip --python`), so that venv needs no pip of its own (`--without-pip`: about a second
    /// instead of several).
    pub pip: PathBuf,
}

impl Verify {
    fn make_venv(&self, venv: &Path) -> Process {
        Process::new("python3", &self.root)
            .args(["-m", "venv", "--without-pip"])
            .args([venv.display().to_string()])
    }

    /// The version pip installed, from the venv's python.
    fn installed_version(&self, venv: &Path) -> Process {
        let script = format!(
            "import importlib.metadata as m; print(m.version({:?}))",
            self.package
        );
        Process::new(&venv.join("bin/python").display().to_string(), &self.root)
            .args(["-c", &script])
    }

    fn install(&self, venv: &Path, wheel: bool) -> Process {
        let mut p = Process::new(&self.pip.display().to_string(), &self.root)
            .args(["-m", "pip", "--python"])
            .args([venv.join("bin/python").display().to_string()])
            .args([
                "install",
                "--quiet",
                "--no-cache-dir",
                "--no-deps",
                "--disable-pip-version-check",
            ]);
        if wheel {
            p = p.args(["--only-binary", ":all:"]);
        }
        p = p.args([
            "--index-url",
            &self.index_url,
            &format!("{}=={}", self.package, self.pep440),
        ]);
        for k in PIP_REDIRECTS {
            p = p.env_removed(k);
        }
        p.env("PIP_CONFIG_FILE", Val::Plain("/dev/null".into()))
            .env("PIP_NO_INPUT", Val::Plain("1".into()))
    }
}

/// What [`Verify`] reads: the local build (when there is one), the index's listing, and the
/// version pip installed into the throwaway venv (once it has).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySeen {
    pub local: Vec<(String, PathBuf, String)>,
    pub listed: Vec<IndexFile>,
    pub installed: Option<String>,
}

impl Verify {
    /// The throwaway venv (removed before and after).
    fn venv(&self) -> PathBuf {
        self.work.join("tmp").join("pypi-verify")
    }
    fn installed_key(&self) -> String {
        format!("pypi.installed {}", self.package)
    }
}

impl Reconcile for Verify {
    type Seen = VerifySeen;
    fn header(&self) -> String {
        format!(
            "verify {} {} on {} by sha256 and by pip install",
            self.package, self.pep440, self.index_url
        )
    }
    fn rule(&self) -> Option<String> {
        Some(format!(
            "every built file listed with its sha256; then importlib.metadata.version({:?}) == {:?} in a throwaway venv",
            self.package, self.pep440
        ))
    }
    fn planned(&self) -> Planned {
        let venv = self.venv();
        Planned {
            observe: vec![Sub::Http(index_request(&self.index_url, &self.package))],
            apply: vec![
                Sub::Remove(venv.clone()),
                Sub::run(self.make_venv(&venv)),
                Sub::run(self.install(&venv, true)),
                Run::new(self.installed_version(&venv))
                    .capture(self.installed_key(), |o| Some(o.trim().to_string()))
                    .sub(),
                Sub::Remove(venv),
            ],
        }
    }
    fn observe(&self, cx: &RunContext) -> Result<VerifySeen> {
        // Without a local build (verifying from another machine), the index's own files of this
        // version are checked: listed, with a sha256, and installable.
        let local = if self.outdir.join(".slipway-build.json").exists() {
            local_dists(&self.outdir)?
        } else {
            Vec::new()
        };
        Ok(VerifySeen {
            local,
            listed: index_files(&self.index_url, &self.package, self.index_fallback)?,
            installed: cx.values.get(&self.installed_key()).cloned(),
        })
    }
    fn decide(&self, seen: &VerifySeen) -> Result<Decision> {
        let prefix = format!("{}-{}", file_stem(&self.package), self.pep440);
        let of_version: Vec<&IndexFile> = seen
            .listed
            .iter()
            .filter(|f| f.filename.starts_with(&prefix))
            .collect();
        if of_version.is_empty() {
            bail!(
                "{} lists no file of {} {}",
                self.index_url,
                self.package,
                self.pep440
            );
        }
        if seen.local.is_empty() {
            if let Some(f) = of_version.iter().find(|f| f.sha256.is_none()) {
                bail!("{} lists {} without a sha256", self.index_url, f.filename);
            }
        }
        for (name, _, sha) in &seen.local {
            match seen.listed.iter().find(|f| &f.filename == name) {
                Some(f) if f.sha256.as_deref() == Some(sha.as_str()) => {}
                Some(f) => bail!(
                    "{} lists {name} with sha256 {:?}, the build has {sha}",
                    self.index_url,
                    f.sha256
                ),
                None => bail!("{} does not list {name}", self.index_url),
            }
        }
        let said = |installed: &str| {
            format!(
                "{} lists {} file(s) with matching sha256; pip install {}=={} → importlib.metadata.version = {installed}",
                self.index_url,
                of_version.len(),
                self.package,
                self.pep440
            )
        };
        match &seen.installed {
            Some(v) if *v == self.pep440 => Ok(Decision::done(said(v))),
            Some(v) => bail!(
                "pip installed {} {v} from {}, expected {}",
                self.package,
                self.index_url,
                self.pep440
            ),
            None => {
                let venv = self.venv();
                let wheel = of_version.iter().any(|f| f.filename.ends_with(".whl"));
                Ok(Decision::apply(
                    vec![
                        Sub::Remove(venv.clone()),
                        Sub::run(self.make_venv(&venv)),
                        Run::new(self.install(&venv, wheel))
                            .explain(|e| Some(format!("installing from the index: {e}")))
                            .sub(),
                        Run::new(self.installed_version(&venv))
                            .capture(self.installed_key(), |o| Some(o.trim().to_string()))
                            .sub(),
                        Sub::Remove(venv),
                    ],
                    said(&format!("<{}>", self.installed_key())),
                ))
            }
        }
    }
}

/// python3 present and new enough for the pinned tools (twine 7 needs 3.10).
pub fn check_python(problems: &mut Problems) {
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let out = crate::run::process::output(
        &Process::new("python3", &cwd)
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]),
    );
    match out {
        Ok(o) if o.ok => {
            let v = o.stdout.trim().to_string();
            let (major, minor) = v.split_once('.').and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?))).unwrap_or((0, 0));
            if (major, minor) < (3, 10) {
                problems.failure(format!("python3 is {v}; the Python tools need 3.10 or newer"));
            }
        }
        _ => problems.failure(
            "python3 is not installed: slipway keeps build and twine in a venv it creates with python3 (3.10+); install it"
                .to_string(),
        ),
    }
}

/// The Python package target.
pub struct Pypi;

impl crate::targets::Target for Pypi {
    fn name(&self) -> &'static str {
        "pypi"
    }
    fn gather(&self, facts: &Facts, problems: &mut Problems) -> Gathered {
        gather(facts, problems)
    }
    fn verify(&self, facts: &Facts, _problems: &mut Problems) -> Vec<Step> {
        // The tool venv's pip installs into the throwaway venv: ready it first (no steps when
        // it is).
        let mut steps = Venv::tools(&facts.work).steps(&facts.cfg.root);
        steps.push(verify_step(facts));
        steps
    }
    fn build_rank(&self) -> u8 {
        0
    }
    fn publish_rank(&self) -> u8 {
        1
    }
    fn builds_the_wheel(&self) -> bool {
        true
    }
}

/// The Python target of `publish-prod`.
pub fn gather(facts: &Facts, problems: &mut Problems) -> Gathered {
    let cfg = &facts.cfg;
    check_python(problems);
    let credentials = Credentials::from_env(&cfg.python.repository_url);
    if credentials.is_none() {
        problems.failure(format!(
            "no credentials for {}: set PYPI_TOKEN (sent as __token__), or TWINE_USERNAME and TWINE_PASSWORD \
             (in GitHub Actions, trusted publishing needs `id-token: write`)",
            cfg.python.repository_url
        ));
    }
    let venv = Venv::tools(&facts.work);
    let python = venv.python();
    let outdir = facts.dist_dir();
    let mut build = build_steps(facts, problems);
    build.push(Step::Action(Box::new(Check {
        python: python.clone(),
        root: cfg.root.clone(),
        outdir: outdir.clone(),
        strict: cfg.python.strict_check,
    })));
    let publish = vec![Step::Action(Box::new(Upload {
        python,
        root: cfg.root.clone(),
        outdir: outdir.clone(),
        package: facts.package.clone(),
        repository_url: cfg.python.repository_url.clone(),
        index_url: cfg.python.index_url.clone(),
        index_fallback: cfg.python.index_fallback,
        credentials,
    }))];
    Ok(Some(TargetPlan {
        inputs: Vec::new(),
        build,
        publish,
        verify: vec![verify_step(facts)],
        independent_build: false,
    }))
}

/// The steps that build this commit's sdist and wheel (each skipped when done): the tool venv,
/// the project's build environment, the build. `docker-validate` and `publish-prod` both plan
/// these (the image installs the wheel).
pub fn build_steps(facts: &Facts, problems: &mut Problems) -> Vec<Step> {
    let cfg = &facts.cfg;
    let tools = Venv::tools(&facts.work);
    let mut steps = tools.steps(&cfg.root);
    let pyproject = cfg.path(&cfg.pyproject);
    let requires = std::fs::read_to_string(&pyproject)
        .ok()
        .and_then(|text| crate::core::pyproject::build_requires(&text));
    let Some(requires) = requires else {
        problems.invalid(format!(
            "{}: cannot read [build-system].requires",
            cfg.pyproject
        ));
        return steps;
    };
    let env = Venv::build_env(&facts.work, requires);
    if !env.is_ready() {
        // Made under a lock: concurrent builds (tests, a second checkout) make it once.
        steps.push(Step::Action(Box::new(EnsureVenv(env.clone()))));
    }
    steps.push(Step::Action(Box::new(Build {
        python: env.python(),
        root: cfg.root.clone(),
        outdir: facts.dist_dir(),
        stem: file_stem(&facts.package),
        pep440: facts.pep440(),
        epoch: facts.commit_time,
        commit: facts.commit.clone(),
        env: crate::facts::managed::build_env(cfg, &facts.version),
    })));
    steps
}

/// The verification step alone (also used by `cargo xtask verify`).
pub fn verify_step(facts: &Facts) -> Step {
    Step::Action(Box::new(Verify {
        root: facts.cfg.root.clone(),
        work: facts.work.clone(),
        outdir: facts.dist_dir(),
        package: facts.package.clone(),
        pep440: facts.pep440(),
        index_url: facts.cfg.python.index_url.clone(),
        index_fallback: facts.cfg.python.index_fallback,
        pip: Venv::tools(&facts.work).python(),
    }))
}

/// `verify --yanked`: every file of the version is yanked on the index (PEP 592 `data-yanked`
/// in HTML, PEP 691 `yanked` in JSON); the evidence names the reason.
#[derive(Debug)]
pub struct Yanked {
    pub package: String,
    pub pep440: String,
    pub index_url: String,
    pub index_fallback: bool,
}

impl Reconcile for Yanked {
    type Seen = Option<IndexPage>;
    fn header(&self) -> String {
        format!(
            "check that {} {} is yanked on {}",
            self.package, self.pep440, self.index_url
        )
    }
    fn rule(&self) -> Option<String> {
        Some(
            "every file of the version is yanked: `yanked` true or a reason (PEP 691 JSON), or a \
             `data-yanked` attribute (PEP 592 HTML)"
                .into(),
        )
    }
    fn planned(&self) -> Planned {
        Planned {
            observe: vec![Sub::Http(index_request(&self.index_url, &self.package))],
            apply: Vec::new(),
        }
    }
    fn observe(&self, _cx: &RunContext) -> Result<Option<IndexPage>> {
        index_page(&self.index_url, &self.package, self.index_fallback)
    }
    fn decide(&self, page: &Option<IndexPage>) -> Result<Decision> {
        let Some(page) = page else {
            bail!(
                "{} is not listed on {}: nothing to be yanked",
                self.package,
                self.index_url
            );
        };
        let files = if page.json {
            crate::core::yank::parse_json(&page.body).map_err(|e| anyhow!("{e}"))?
        } else {
            crate::core::yank::parse_html(&page.body)
        };
        let stems = vec![file_stem(&self.package), normalize(&self.package)];
        crate::core::yank::verdict(&files, &stems, &self.pep440)
            .map(|evidence| {
                Decision::Verified(format!(
                    "{} {evidence} (on {}, {})",
                    self.package,
                    self.index_url,
                    if page.json {
                        "PEP 691 JSON"
                    } else {
                        "PEP 592 HTML"
                    }
                ))
            })
            .map_err(|e| anyhow!("{} {e} (on {})", self.package, self.index_url))
    }
}

/// The `verify --yanked` step.
pub fn yanked_step(facts: &Facts) -> Step {
    Step::Action(Box::new(Yanked {
        package: facts.package.clone(),
        pep440: facts.pep440(),
        index_url: facts.cfg.python.index_url.clone(),
        index_fallback: facts.cfg.python.index_fallback,
    }))
}

/// A pinned venv (tools, package index).
#[derive(Debug)]
pub struct EnsureVenv(pub Venv);

impl crate::run::plan::Action for EnsureVenv {
    fn header(&self) -> String {
        format!("python venv {}", self.0.dir.display())
    }
    fn detail(&self) -> Option<String> {
        Some("skipped when the venv is ready; created under a lock directory (concurrent callers build it once)".into())
    }
    fn planned(&self) -> Planned {
        let v = &self.0;
        let root = Path::new(".");
        let mut apply: Vec<Sub> = v
            .create_steps(root)
            .into_iter()
            .filter_map(|s| match s {
                Step::Run(p) => Some(Sub::run(p)),
                _ => None,
            })
            .collect();
        apply.push(Sub::Write {
            path: v.marker(),
            content: v.manifest(),
        });
        Planned::apply(apply)
    }
    fn execute(
        &self,
        cx: &mut crate::run::plan::RunContext,
    ) -> anyhow::Result<crate::run::plan::Done> {
        if self.0.is_ready() {
            return Ok(crate::run::plan::Done::Skipped("ready".into()));
        }
        self.0.ensure(cx.root)?;
        Ok(crate::run::plan::Done::Ran(
            "created with pinned requirements".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize("Slipway.Demo__x"), "slipway-demo-x");
        assert_eq!(normalize("slipway-demo"), "slipway-demo");
        assert_eq!(file_stem("Slipway-Demo"), "slipway_demo");
    }

    #[test]
    fn dist_name_checks() {
        let ok = [
            "slipway_demo-1.3.0rc1.tar.gz".to_string(),
            "slipway_demo-1.3.0rc1-py3-none-any.whl".to_string(),
        ];
        assert_eq!(check_dist_names(&ok, "slipway_demo", "1.3.0rc1"), Ok(()));
        let stale = [
            "slipway_demo-1.2.0.tar.gz".to_string(),
            "slipway_demo-1.2.0-py3-none-any.whl".to_string(),
        ];
        let err = check_dist_names(&stale, "slipway_demo", "1.3.0rc1").unwrap_err();
        assert!(
            err.starts_with(
                "slipway_demo-1.2.0.tar.gz does not carry the release version 1.3.0rc1"
            ),
            "{err}"
        );
        assert!(check_dist_names(&ok[..1], "slipway_demo", "1.3.0rc1")
            .unwrap_err()
            .contains("expected one sdist"));
    }

    #[test]
    fn simple_html_pages() {
        // pypiserver 2.4's page, as served.
        let body = r#"<!DOCTYPE html><html><head><title>Links for slipway-demo</title></head><body><h1>Links for slipway-demo</h1>
<a href="/packages/slipway_demo-0.1.0-py3-none-any.whl#sha256=AbC123">slipway_demo-0.1.0-py3-none-any.whl</a><br>
<a href="../../packages/slipway_demo-0.1.0.tar.gz#sha256=def456" data-requires-python="&gt;=3.9">slipway_demo-0.1.0.tar.gz</a><br>
<a href="/packages/other-1.0.zip">other-1.0.zip</a>
</body></html>"#;
        assert_eq!(
            parse_simple_html(body),
            vec![
                IndexFile {
                    filename: "slipway_demo-0.1.0-py3-none-any.whl".into(),
                    sha256: Some("abc123".into())
                },
                IndexFile {
                    filename: "slipway_demo-0.1.0.tar.gz".into(),
                    sha256: Some("def456".into())
                },
                IndexFile {
                    filename: "other-1.0.zip".into(),
                    sha256: None
                },
            ]
        );
        assert!(parse_simple_html("<html>no links</html>").is_empty());
    }

    #[test]
    fn simple_json_pages() {
        // PEP 691, as devpi and PyPI serve it.
        let body = r#"{"meta":{"api-version":"1.1"},"name":"slipway-demo","files":[
            {"filename":"slipway_demo-1.3.0rc1.tar.gz","url":"…","hashes":{"sha256":"ABCD"},"requires-python":">=3.9"},
            {"filename":"slipway_demo-1.3.0rc1-py3-none-any.whl","url":"…","hashes":{}}]}"#;
        assert_eq!(
            parse_simple_json(body).unwrap(),
            vec![
                IndexFile {
                    filename: "slipway_demo-1.3.0rc1.tar.gz".into(),
                    sha256: Some("abcd".into())
                },
                IndexFile {
                    filename: "slipway_demo-1.3.0rc1-py3-none-any.whl".into(),
                    sha256: None
                },
            ]
        );
        assert!(parse_simple_json("not json").is_err());
    }

    fn file(name: &str, sha: Option<&str>) -> IndexFile {
        IndexFile {
            filename: name.into(),
            sha256: sha.map(String::from),
        }
    }

    fn runs(d: &Decision) -> Vec<String> {
        d.subs()
            .iter()
            .filter_map(|s| match s {
                Sub::Run(r) => Some(r.process.args.join(" ")),
                _ => None,
            })
            .collect()
    }

    fn summary(d: &Decision) -> &str {
        match d {
            Decision::Apply { summary, .. } | Decision::Finish { summary, .. } => summary,
            Decision::Done { evidence, .. } | Decision::Verified(evidence) => evidence,
        }
    }

    #[test]
    fn upload_decides_from_what_the_index_lists() {
        let up = Upload {
            python: "/v/bin/python".into(),
            root: "/r".into(),
            outdir: "/r/d".into(),
            package: "slipway-demo".into(),
            repository_url: "http://127.0.0.1:1/".into(),
            index_url: "http://127.0.0.1:1/simple/".into(),
            index_fallback: false,
            credentials: None,
        };
        let local: Vec<(String, PathBuf, String)> = vec![
            ("a.tar.gz".into(), "/r/d/a.tar.gz".into(), "bb".into()),
            ("a.whl".into(), "/r/d/a.whl".into(), "aa".into()),
        ];
        let seen = |listed: Vec<IndexFile>| UploadSeen {
            local: local.clone(),
            listed,
        };
        // absent → upload both
        let d = up.decide(&seen(vec![])).unwrap();
        assert!(matches!(d, Decision::Finish { .. }), "{d:?}");
        assert!(runs(&d)[0].ends_with("/r/d/a.tar.gz /r/d/a.whl"), "{d:?}");
        assert_eq!(summary(&d), "uploaded a.tar.gz, a.whl");
        // one there with the same sha256 → upload the other
        let d = up.decide(&seen(vec![file("a.whl", Some("aa"))])).unwrap();
        assert!(
            runs(&d)[0].ends_with("http://127.0.0.1:1/ /r/d/a.tar.gz"),
            "{d:?}"
        );
        assert_eq!(
            summary(&d),
            "uploaded a.tar.gz; already there with the same sha256: a.whl"
        );
        // both there → done
        let d = up
            .decide(&seen(vec![
                file("a.whl", Some("aa")),
                file("a.tar.gz", Some("bb")),
            ]))
            .unwrap();
        assert!(matches!(d, Decision::Done { .. }), "{d:?}");
        assert_eq!(
            summary(&d),
            "http://127.0.0.1:1/simple/ already lists a.tar.gz, a.whl with the same sha256"
        );
        // the same name with another sha256 → refuse
        let e = up
            .decide(&seen(vec![file("a.whl", Some("zz"))]))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("already has a.whl with sha256 zz, but this build's is aa"),
            "{e}"
        );
    }

    #[test]
    fn twine_check_warnings_are_summarised() {
        assert_eq!(
            check_warnings("Checking d/a.whl: PASSED\nChecking d/a.tar.gz: PASSED\n"),
            "every file passed"
        );
        let w = check_warnings(
            "Checking d/a.whl: PASSED with warnings\nWARNING  `long_description` missing.   \n",
        );
        assert!(w.starts_with("passed with warnings"), "{w}");
        assert!(w.ends_with("`long_description` missing."), "{w}");
        let check = |strict| Check {
            python: "/v/bin/python".into(),
            root: "/r".into(),
            outdir: "/r/d".into(),
            strict,
        };
        let args = |c: &Check| c.process(vec!["/r/d/a.whl".into()]).args;
        assert!(args(&check(true)).contains(&"--strict".to_string()));
        assert!(!args(&check(false)).contains(&"--strict".to_string()));
    }

    #[test]
    fn build_decides_reuse_build_or_record() {
        let b = Build {
            python: "/v/bin/python".into(),
            root: "/r".into(),
            outdir: "/r/d".into(),
            stem: "slipway_demo".into(),
            pep440: "1.3.0".into(),
            epoch: 0,
            commit: "abc1234def".into(),
            env: Vec::new(),
        };
        let files = |names: &[&str]| -> Vec<(String, String)> {
            names
                .iter()
                .map(|n| (n.to_string(), "0123456789abcdef".to_string()))
                .collect()
        };
        let ok = files(&[
            "slipway_demo-1.3.0-py3-none-any.whl",
            "slipway_demo-1.3.0.tar.gz",
        ]);
        let d = b
            .decide(&BuildSeen {
                earlier: Some(ok.clone()),
                fresh: None,
            })
            .unwrap();
        assert!(
            summary(&d).starts_with("built earlier from abc1234, unchanged: slipway_demo-1.3.0-py3-none-any.whl (sha256 0123456789ab)"),
            "{d:?}"
        );
        let d = b
            .decide(&BuildSeen {
                earlier: None,
                fresh: None,
            })
            .unwrap();
        assert!(matches!(d.subs()[0], Sub::Remove(_)), "{d:?}");
        let ran = runs(&d);
        assert_eq!(
            ran[0],
            "-m build --no-isolation --sdist --wheel --outdir /r/d /r"
        );
        // Then the sdist made reproducible, at the commit's time.
        assert!(
            ran[1].starts_with("-c import gzip")
                && ran[1].ends_with("/r/d/slipway_demo-1.3.0.tar.gz 0"),
            "{ran:?}"
        );
        assert!(
            matches!(&d.subs()[3], Sub::Record(k, v) if k == "pypi.built /r/d" && v == "abc1234def")
        );
        let d = b
            .decide(&BuildSeen {
                earlier: None,
                fresh: Some(ok),
            })
            .unwrap();
        assert!(
            matches!(&d.subs()[0], Sub::Write { path, content } if path.ends_with(BUILD_RECORD) && content.contains("abc1234def")),
            "{d:?}"
        );
        let e = b
            .decide(&BuildSeen {
                earlier: None,
                fresh: Some(files(&[
                    "slipway_demo-1.2.0.tar.gz",
                    "slipway_demo-1.2.0-py3-none-any.whl",
                ])),
            })
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("does not carry the release version 1.3.0"),
            "{e}"
        );
    }

    #[test]
    fn verify_checks_the_index_then_installs() {
        let v = Verify {
            root: "/r".into(),
            work: "/r/target/slipway".into(),
            outdir: "/r/d".into(),
            package: "slipway-demo".into(),
            pep440: "1.3.0".into(),
            index_url: "http://i/simple/".into(),
            index_fallback: false,
            pip: "/v/bin/python".into(),
        };
        let whl = "slipway_demo-1.3.0-py3-none-any.whl";
        let seen =
            |listed: Vec<IndexFile>, local: &[(&str, &str)], installed: Option<&str>| VerifySeen {
                local: local
                    .iter()
                    .map(|(n, s)| (n.to_string(), PathBuf::from(n), s.to_string()))
                    .collect(),
                listed,
                installed: installed.map(String::from),
            };
        let table: Vec<(VerifySeen, Result<&str, &str>)> = vec![
            (
                seen(vec![], &[], None),
                Err("lists no file of slipway-demo 1.3.0"),
            ),
            (
                seen(vec![file(whl, None)], &[], None),
                Err("without a sha256"),
            ),
            (
                seen(vec![file(whl, Some("aa"))], &[(whl, "bb")], None),
                Err("the build has bb"),
            ),
            (
                seen(vec![file(whl, Some("aa"))], &[], Some("1.2.0")),
                Err("pip installed slipway-demo 1.2.0"),
            ),
            (
                seen(vec![file(whl, Some("aa"))], &[(whl, "aa")], Some("1.3.0")),
                Ok("importlib.metadata.version = 1.3.0"),
            ),
            (
                seen(vec![file(whl, Some("aa"))], &[(whl, "aa")], None),
                Ok("--only-binary :all:"),
            ),
        ];
        for (s, want) in table {
            match (v.decide(&s), want) {
                (Ok(d), Ok(w)) => assert!(
                    summary(&d).contains(w) || runs(&d).iter().any(|r| r.contains(w)),
                    "{d:?}"
                ),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{e}"),
                (got, want) => panic!("{s:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn venv_dirs_follow_the_pins() {
        // (Venv::tools/server honour SLIPWAY_TOOLS_DIR, which `cargo xtask ci` sets: the
        // location rule itself is tested through in_dir.)
        let a = Venv::in_dir(Path::new("/w/tools"), "python-tools", TOOL_REQUIREMENTS);
        assert!(a.dir.starts_with("/w/tools"));
        assert!(a
            .dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("python-tools-"));
        assert_ne!(
            Venv::in_dir(Path::new("/w/tools"), "pypiserver", SERVER_REQUIREMENTS).dir,
            a.dir
        );
        // The name carries a hash of the pins: new pins, a new venv.
        assert_ne!(
            Venv::in_dir(Path::new("/w"), "x", "a==1\n").dir,
            Venv::in_dir(Path::new("/w"), "x", "a==2\n").dir
        );
    }
}
