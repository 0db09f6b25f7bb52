//! `cargo xtask changelog`: the changelog generated from Conventional Commits, for one range or
//! for every release tag in history. Output is streamed release by release, so memory stays flat
//! in the number of commits.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::cmd::Global;
use crate::core::changegen::{self, Collector, Release, Style};
use crate::facts::commits::{collect_range, style};
use crate::facts::config::{self, Config};
use crate::facts::history::{self, Tag};
use crate::run::ui::Ui;
use crate::{facts::git, usage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Md,
    Json,
    Html,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "md" | "markdown" => Ok(Format::Md),
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            _ => Err(usage(format!("unknown format `{s}`; use md, json or html"))),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Options {
    pub from: Option<String>,
    pub to: Option<String>,
    pub all: bool,
    pub format: Option<String>,
    pub output: Option<String>,
}

pub fn run(global: &Global, o: &Options, ui: &Ui) -> Result<u8> {
    let root = git::toplevel(&global.dir)?;
    let cfg = config::load_or_refuse(&root, "changelog")?;
    let format = Format::parse(o.format.as_deref().unwrap_or("md"))?;
    if o.all && o.from.is_some() {
        return Err(usage(
            "--all and --from do not go together: --all covers every release",
        ));
    }
    let to = o.to.clone().unwrap_or_else(|| "HEAD".into());
    let style = style(&cfg);
    // HTML without a range: the changelog file a person reads (with a range: the commits).
    let whole_file = format == Format::Html && !o.all && o.from.is_none() && o.to.is_none();
    if whole_file && cfg.changelog_style != Some(crate::core::clstyle::StyleName::None) {
        let page = file_page(&cfg, style.repo_url.as_deref())?;
        let mut sink = Sink::open(o.output.as_deref(), &cfg.root)?;
        let mut out = Writer::new(format, &mut sink.out);
        out.put(&page)?;
        sink.finish(ui)?;
        return Ok(0);
    }
    let mut sink = Sink::open(o.output.as_deref(), &cfg.root)?;
    let mut out = Writer::new(format, &mut sink.out);
    out.begin()?;
    if o.all {
        all_releases(&cfg, &to, &style, &mut out)?;
    } else {
        let tags = history::release_tag_names(&cfg.root, &cfg.tag_prefix)?;
        // When `to` is itself a release tag, the range is that release (dated: the full listing).
        let to_tag = match tags.iter().any(|t| t.name == to) {
            true => history::release_tags(&cfg.root, &cfg.tag_prefix)?
                .into_iter()
                .find(|t| t.name == to),
            false => None,
        };
        let from = match &o.from {
            Some(f) => Some(f.clone()),
            None => {
                let stable = to_tag.as_ref().is_some_and(|t| t.version.pre.is_empty());
                let exclude = to_tag.as_ref().map(|t| t.name.as_str());
                history::last_release(&cfg.root, &tags, &to, exclude, stable)?.map(|t| t.name)
            }
        };
        let prev_tag = from
            .as_ref()
            .and_then(|f| tags.iter().find(|t| &t.name == f));
        let r = collect_range(
            &cfg.root,
            from.as_deref(),
            &to,
            to_tag.as_ref().map(|t| (t, prev_tag)),
        )?;
        out.release(&r, &style)?;
    }
    out.end()?;
    sink.finish(ui)?;
    Ok(0)
}

/// The changelog file as a page, titled with the project's name (`python.package`, else the
/// pyproject's name, else the repository's directory).
fn file_page(cfg: &Config, repo: Option<&str>) -> Result<String> {
    let text = std::fs::read_to_string(cfg.path(&cfg.changelog)).with_context(|| {
        format!(
            "cannot read {} (key `changelog`); fix the key, or give --all for the page of the commits",
            cfg.changelog
        )
    })?;
    let cl = crate::core::changelog::Changelog::parse(&text)
        .map_err(|e| usage(format!("{}: {e}", cfg.changelog)))?;
    let project = cfg
        .python
        .package
        .clone()
        .or_else(|| {
            let py = std::fs::read_to_string(cfg.path(&cfg.pyproject)).ok()?;
            crate::core::pyproject::project_name(&py)
        })
        .or_else(|| {
            cfg.root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "changelog".into());
    Ok(crate::core::clhtml::render(&text, &cl, &project, repo))
}

/// Every release in the history of `to`, newest first, split at release tags.
fn all_releases(cfg: &Config, to: &str, style: &Style, out: &mut Writer) -> Result<()> {
    // Unreachable tags never match a commit of the walk: no `--merged` needed.
    let tags = history::release_tags(&cfg.root, &cfg.tag_prefix)?;
    let by_commit = history::tags_by_commit(&tags);
    let mut current = Collector::new(None, None, None);
    let mut current_tag: Option<Tag> = None;
    let mut first = true;
    history::walk(&cfg.root, &[to.to_string()], true, |raw| {
        if let Some(on_commit) = by_commit.get(raw.hash.as_str()) {
            // The highest release tag on this commit starts a new release.
            let tag = on_commit
                .iter()
                .max_by(|a, b| a.version.cmp(&b.version))
                .copied()
                .cloned();
            if let Some(tag) = tag {
                let done = std::mem::replace(
                    &mut current,
                    Collector::new(
                        Some(tag.version.clone()),
                        Some(tag.name.clone()),
                        Some(tag.date.clone()),
                    ),
                );
                let mut r = done.finish();
                r.previous_tag = Some(tag.name.clone());
                // An empty "Unreleased" at the top is not worth a section.
                if !(first && current_tag.is_none() && r.entries.is_empty()) {
                    out.release(&r, style)?;
                }
                first = false;
                current_tag = Some(tag);
            }
        }
        current.push(raw);
        Ok(true)
    })?;
    let r = current.finish();
    if current_tag.is_some() || !r.entries.is_empty() {
        out.release(&r, style)?;
    }
    Ok(())
}

/// Where the output goes: stdout, or a file written via a temp file and renamed at the end.
struct Sink {
    out: Box<dyn Write>,
    file: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Sink {
    fn open(output: Option<&str>, _root: &Path) -> Result<Sink> {
        match output {
            None | Some("-") => Ok(Sink {
                out: Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
                file: None,
            }),
            Some(path) => {
                let path = std::path::PathBuf::from(path);
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let tmp = dir.join(format!(
                    ".{}.slipway-{}.tmp",
                    path.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default(),
                    std::process::id()
                ));
                let f = std::fs::File::create(&tmp)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(Sink {
                    out: Box::new(std::io::BufWriter::new(f)),
                    file: Some((tmp, path)),
                })
            }
        }
    }

    fn finish(mut self, ui: &Ui) -> Result<()> {
        match self.out.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            r => r.context("writing the changelog")?,
        }
        drop(self.out);
        if let Some((tmp, path)) = self.file.take() {
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            ui.note(&format!("wrote {}", path.display()));
        }
        Ok(())
    }
}

/// Streams releases in one of the formats.
struct Writer<'a> {
    format: Format,
    out: &'a mut Box<dyn Write>,
    count: usize,
}

impl<'a> Writer<'a> {
    fn new(format: Format, out: &'a mut Box<dyn Write>) -> Writer<'a> {
        Writer {
            format,
            out,
            count: 0,
        }
    }

    fn begin(&mut self) -> Result<()> {
        let head = match self.format {
            Format::Md => "# Changelog\n\n",
            Format::Json => "{\"schema\": \"slipway.changelog/1\", \"versions\": [",
            Format::Html => changegen::HTML_HEAD,
        };
        self.put(head)
    }

    fn release(&mut self, r: &Release, style: &Style) -> Result<()> {
        let mut s = String::new();
        match self.format {
            Format::Md => changegen::render_md(r, style, &mut s),
            Format::Json => {
                if self.count > 0 {
                    s.push(',');
                }
                s.push('\n');
                s.push_str(&serde_json::to_string(&changegen::render_json(r, style))?);
            }
            Format::Html => changegen::render_html(r, style, &mut s),
        }
        self.count += 1;
        self.put(&s)
    }

    fn end(&mut self) -> Result<()> {
        let tail = match self.format {
            Format::Md => "",
            Format::Json => "\n]}\n",
            Format::Html => changegen::HTML_TAIL,
        };
        self.put(tail)
    }

    fn put(&mut self, s: &str) -> Result<()> {
        match self.out.write_all(crate::run::ui::redact(s).as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => r.context("writing the changelog"),
        }
    }
}
