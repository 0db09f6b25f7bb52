//! The deploy hook: the command `[workspace.metadata.release.deploy]` names, run once the
//! release is published and verified (by `publish-prod`; a `rollback` runs it with the good
//! version).
//!
//! - The command is an argv (never a shell) with `{version}` (PEP 440), `{tag}`, `{docker_tag}`,
//!   `{digest}` and `{image}` filled in ([`crate::core::placeholder`]); its environment also gets
//!   `SLIPWAY_VERSION`, `SLIPWAY_TAG`, `SLIPWAY_DOCKER_TAG`, `SLIPWAY_DIGEST`, `SLIPWAY_IMAGE`
//!   and `SLIPWAY_ENVIRONMENT`, and loses the package-index and registry credentials slipway
//!   publishes with.
//! - The digest may be a value recorded by an earlier step of the same run (the docker push
//!   records `docker.digest.<registry>`): given as `<key>`, the dry run shows it as that named
//!   placeholder and the real run fills it in.
//! - It runs in its own process group with a time limit (`timeout-s`): on expiry the whole group
//!   is killed and reaped, and the step says "deploy timed out after N s".
//! - When the GitHub repository is known (and `github-deployment` is not false), a GitHub
//!   deployment is created for the tag first (`auto_merge: false`, `required_contexts: []`)
//!   and given a `success` or `failure` status after.
//!
//! The step is an [`Action`] of its own (not a `Reconcile`): it supervises a child with a time
//! limit, and there is no state to read back — a deploy is run again on every publish, so a
//! re-run after a failed deploy deploys again. It lists every sub-step it may take.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value as Json};

use crate::core::placeholder;
use crate::facts::config::{Config, DeployConfig};
use crate::run::plan::{Action, Answer, Done, Planned, Process, Run, RunContext, Step, Sub, Val};
use crate::run::ui;
use crate::targets::github::Gh;
use crate::Problems;

/// What is deployed: the values of the command's placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployInput {
    /// PEP 440 (`1.2.3rc1`).
    pub version: String,
    /// The git tag (`v1.2.3-rc.1`).
    pub tag: String,
    pub docker_tag: String,
    /// The image digest on the first registry: a value (`sha256:…`), or `<key>` for a value an
    /// earlier step of the run records (`<docker.digest.127.0.0.1:5000>`).
    pub digest: Option<String>,
    /// The first registry's repository (`127.0.0.1:5000/acme/app`).
    pub image: Option<String>,
}

/// Credentials slipway publishes with: the deploy command does not get them.
const WITHHELD: &[&str] = &[
    "PYPI_TOKEN",
    "TWINE_USERNAME",
    "TWINE_PASSWORD",
    "DOCKER_USERNAME",
    "DOCKER_PASSWORD",
];

/// The deploy step (no GitHub deployment record).
pub fn step(cfg: &DeployConfig, input: &DeployInput) -> Step {
    step_with(cfg, input, None)
}

/// The deploy step, recording a GitHub deployment through `gh` when given.
pub fn step_with(cfg: &DeployConfig, input: &DeployInput, gh: Option<Gh>) -> Step {
    Step::Action(Box::new(Deploy {
        cfg: cfg.clone(),
        input: input.clone(),
        gh,
        work: cfg.root.join("target").join("slipway").join("deploy"),
    }))
}

/// A deploy step that is not run (`--no-deploy`): shown, and skipped with `why`.
pub fn skipped(cfg: &DeployConfig, why: &str) -> Step {
    Step::Action(Box::new(Skipped {
        environment: cfg.environment.clone(),
        why: why.to_string(),
    }))
}

/// The `gh` that records the GitHub deployment, when the deploy table wants one and the
/// repository is known; its problems (no token, no gh) are recorded. None: no record.
pub fn github(config: &Config, gh_env: &[(String, String)], problems: &mut Problems) -> Option<Gh> {
    let deploy = config.deploy.as_ref()?;
    if !deploy.github_deployment {
        return None;
    }
    crate::targets::github::repo(config)?;
    match Gh::resolve(config, gh_env) {
        Ok(gh) => Some(gh),
        Err(list) => {
            for m in list {
                // Already said by the GitHub target's gather (the same token, the same gh).
                if problems.list.contains(&m) {
                    continue;
                }
                let m = format!(
                    "{m} (to record the deployment to {} on GitHub; `github-deployment = false` in \
                     [workspace.metadata.release.deploy] turns that off)",
                    deploy.environment
                );
                if !problems.list.contains(&m) {
                    problems.failure(m);
                }
            }
            Gh::preview(config, gh_env)
        }
    }
}

/// The command as the release notes show it: placeholders filled where known now (the digest
/// is known only once the image is pushed: it stays `{digest}`), shell-quoted for display only.
pub fn display_line(cfg: &DeployConfig, input: &DeployInput) -> String {
    placeholder::display(&cfg.command, &|name| {
        value(input, name).filter(|v| !is_recorded(v))
    })
}

/// The value of placeholder `name` (the digest as given: maybe a `<key>`).
fn value(input: &DeployInput, name: &str) -> Option<String> {
    match name {
        "version" => Some(input.version.clone()),
        "tag" => Some(input.tag.clone()),
        "docker_tag" => Some(input.docker_tag.clone()),
        "digest" => input.digest.clone(),
        "image" => input.image.clone(),
        _ => None,
    }
}

/// A `<key>` standing for a value recorded when the plan runs.
fn is_recorded(v: &str) -> bool {
    v.starts_with('<') && v.ends_with('>')
}

#[derive(Debug)]
struct Skipped {
    environment: String,
    why: String,
}

impl Action for Skipped {
    fn header(&self) -> String {
        format!("deploy to {}", self.environment)
    }
    fn detail(&self) -> Option<String> {
        Some(format!("skipped: {}", self.why))
    }
    fn execute(&self, _cx: &mut RunContext) -> Result<Done> {
        Ok(Done::Skipped(self.why.clone()))
    }
    fn json(&self) -> Json {
        json!({"environment": self.environment, "skipped": self.why})
    }
}

/// Runs the deploy command (see the module documentation).
#[derive(Debug)]
pub struct Deploy {
    pub cfg: DeployConfig,
    pub input: DeployInput,
    pub gh: Option<Gh>,
    /// Where the GitHub request bodies are written (`target/slipway/deploy`).
    pub work: PathBuf,
}

impl Deploy {
    fn file_safe(&self) -> String {
        self.input.tag.replace(['/', '\\'], "_")
    }

    /// The argv with every known value filled in; a missing one is an error naming it. With
    /// `values`, `<key>`s recorded by earlier steps are filled too.
    fn argv(
        &self,
        values: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Result<Vec<String>> {
        placeholder::render_all(&self.cfg.command, &|name| {
            let v = value(&self.input, name)?;
            Some(match values {
                Some(values) => crate::run::exec::fill(&v, values),
                None => v,
            })
        })
        .map_err(|e| {
            anyhow!(
                "the deploy command {e} (this run has no {}); see [workspace.metadata.release.deploy] command",
                if e.contains("{digest}") || e.contains("{image}") {
                    "published image"
                } else {
                    "such value"
                }
            )
        })
    }

    fn process(&self, argv: &[String], digest: &str) -> Process {
        // A relative program path is the repository's (`./deploy.sh`): made absolute here, as
        // it is started (the process boundary would take it from slipway's own directory).
        let program = if argv[0].contains('/') && Path::new(&argv[0]).is_relative() {
            self.cfg.root.join(&argv[0]).display().to_string()
        } else {
            argv[0].clone()
        };
        let mut p = Process::new(&program, &self.cfg.root).args(argv[1..].iter().cloned());
        for k in WITHHELD {
            p = p.env_removed(k);
        }
        for (k, v) in [
            ("SLIPWAY_VERSION", self.input.version.as_str()),
            ("SLIPWAY_TAG", self.input.tag.as_str()),
            ("SLIPWAY_DOCKER_TAG", self.input.docker_tag.as_str()),
            ("SLIPWAY_DIGEST", digest),
            ("SLIPWAY_IMAGE", self.input.image.as_deref().unwrap_or("")),
            ("SLIPWAY_ENVIRONMENT", self.cfg.environment.as_str()),
        ] {
            p = p.env(k, Val::Plain(v.to_string()));
        }
        p
    }

    /// The argv as the plan shows it: known values filled, run-time ones as `<key>`.
    fn planned_argv(&self) -> Vec<String> {
        self.argv(None).unwrap_or_else(|_| {
            placeholder::render_all(&self.cfg.command, &|name| {
                Some(value(&self.input, name).unwrap_or_else(|| format!("<no {name}>")))
            })
            .unwrap_or_else(|_| self.cfg.command.clone())
        })
    }

    /// The process as the plan lists it (what a real run starts, `<key>`s aside).
    fn planned_process(&self) -> Process {
        self.process(
            &self.planned_argv(),
            self.input.digest.as_deref().unwrap_or(""),
        )
    }

    fn deployment_body(&self, digest: &str) -> Json {
        json!({
            "ref": self.input.tag,
            "task": "deploy",
            "auto_merge": false,
            "required_contexts": [],
            "environment": self.cfg.environment,
            "production_environment": self.cfg.environment == "production",
            "description": format!("slipway: deploy {} ({})", self.input.tag, self.input.version),
            "payload": {
                "version": self.input.version,
                "docker_tag": self.input.docker_tag,
                "digest": digest,
                "image": self.input.image.clone().unwrap_or_default(),
            },
        })
    }

    fn status_body(&self, state: &str, description: &str) -> Json {
        let mut d: String = description.chars().take(140).collect();
        if d.is_empty() {
            d = state.to_string();
        }
        json!({
            "state": state,
            "environment": self.cfg.environment,
            "description": d,
        })
    }

    fn deployment_file(&self) -> PathBuf {
        self.work
            .join(format!("{}.deployment.json", self.file_safe()))
    }
    fn status_file(&self) -> PathBuf {
        self.work.join(format!("{}.status.json", self.file_safe()))
    }

    /// Write the deployment request, POST it (records `github.deployment_id`).
    fn create_deployment(&self, gh: &Gh, body: &Json) -> Vec<Sub> {
        let file = self.deployment_file();
        let p = gh.api([
            "-X".to_string(),
            "POST".into(),
            format!("repos/{}/deployments", gh.repo),
            "--input".into(),
            rel(&gh.cwd, &file),
        ]);
        let shown = shown(&p);
        let (tag, env) = (self.input.tag.clone(), self.cfg.environment.clone());
        vec![
            Sub::Write {
                path: file,
                content: serde_json::to_string_pretty(body).unwrap_or_default(),
            },
            Run::new(p)
                .verdict(move |out| {
                    let (status, body) = reply(&shown, out)?;
                    match status {
                        201 => Ok(vec![(
                            "github.deployment_id".into(),
                            body.get("id").and_then(Json::as_u64).unwrap_or(0).to_string(),
                        )]),
                        _ => Err(format!(
                            "GitHub did not create the deployment of {tag} to {env}: `{shown}` answered HTTP {status}: {}",
                            message(&body)
                        )),
                    }
                })
                .sub(),
        ]
    }

    /// Write the status, POST it on the deployment `<github.deployment_id>`.
    fn create_status(&self, gh: &Gh, id: &str, body: &Json) -> Vec<Sub> {
        let file = self.status_file();
        let p = gh.api([
            "-X".to_string(),
            "POST".into(),
            format!("repos/{}/deployments/{id}/statuses", gh.repo),
            "--input".into(),
            rel(&gh.cwd, &file),
        ]);
        let shown = shown(&p);
        vec![
            Sub::Write {
                path: file,
                content: serde_json::to_string_pretty(body).unwrap_or_default(),
            },
            Run::new(p)
                .verdict(move |out| {
                    let (status, body) = reply(&shown, out)?;
                    match status {
                        201 => Ok(vec![(
                            "github.deployment_status".into(),
                            body.get("state")
                                .and_then(Json::as_str)
                                .unwrap_or("")
                                .to_string(),
                        )]),
                        _ => Err(format!(
                            "`{shown}` answered HTTP {status}: {}",
                            message(&body)
                        )),
                    }
                })
                .sub(),
        ]
    }

    fn apply(cx: &mut RunContext, subs: &[Sub]) -> Result<()> {
        for sub in subs {
            for line in crate::run::plan::sub_lines(sub, cx.root) {
                cx.ui.detail(
                    &cx.ui
                        .paint(ui::Style::Dim, &crate::run::exec::fill(&line, &cx.values)),
                );
            }
            crate::run::exec::apply(sub, &mut cx.values)?;
        }
        Ok(())
    }

    /// Runs the command; `Err` is the sentence after "the deploy to <environment> failed: ".
    fn run_command(&self, p: &Process) -> std::result::Result<String, String> {
        let limit = Duration::from_secs(self.cfg.timeout_s);
        match crate::run::process::output_within_group(p, limit) {
            Err(e) => Err(format!("{e:#}")),
            Ok(None) => Err(format!(
                "deploy timed out after {} s (`{}` and its children were killed)",
                self.cfg.timeout_s, self.cfg.command[0]
            )),
            Ok(Some(out)) if out.ok => Ok(out.tail(10)),
            Ok(Some(out)) => {
                let tail = out.tail(20);
                Err(format!(
                    "`{}` exited with {}{}",
                    self.cfg.command[0],
                    out.status(),
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!(":\n{tail}")
                    }
                ))
            }
        }
    }
}

impl Action for Deploy {
    fn header(&self) -> String {
        format!(
            "deploy {} to {}: {}",
            self.input.tag,
            self.cfg.environment,
            placeholder::shell_line(&self.planned_argv())
        )
    }
    fn detail(&self) -> Option<String> {
        Some(format!(
            "runs after everything is published and verified, on every publish (a re-run deploys again); \
             killed after {} s; a failure un-publishes nothing{}",
            self.cfg.timeout_s,
            if self.gh.is_some() {
                "; recorded as a GitHub deployment with its status"
            } else {
                ""
            }
        ))
    }
    fn planned(&self) -> Planned {
        let digest = self.input.digest.clone().unwrap_or_default();
        let mut apply = Vec::new();
        if let Some(gh) = &self.gh {
            apply.extend(self.create_deployment(gh, &self.deployment_body(&digest)));
        }
        apply.push(Sub::run(self.planned_process()));
        if let Some(gh) = &self.gh {
            apply.extend(self.create_status(
                gh,
                "<github.deployment_id>",
                &self.status_body("<success|failure>", "<what happened>"),
            ));
        }
        Planned {
            observe: Vec::new(),
            apply,
        }
    }
    fn execute(&self, cx: &mut RunContext) -> Result<Done> {
        let env = &self.cfg.environment;
        let argv = self.argv(Some(&cx.values))?;
        let digest = self
            .input
            .digest
            .as_deref()
            .map(|d| crate::run::exec::fill(d, &cx.values))
            .unwrap_or_default();
        if is_recorded(&digest) {
            bail!(
                "the deploy to {env} needs the image digest, but no earlier step recorded {digest} \
                 (is the docker target in this run?)"
            );
        }
        let started = Instant::now();
        let mut recorded = String::new();
        if let Some(gh) = &self.gh {
            Self::apply(
                cx,
                &self.create_deployment(gh, &self.deployment_body(&digest)),
            )?;
            recorded = cx.get("github.deployment_id")?.to_string();
        }
        let p = self.process(&argv, &digest);
        cx.ui
            .detail(&cx.ui.paint(ui::Style::Dim, &ui::redact(&p.command_line())));
        let result = self.run_command(&p);
        let took = ui::human_duration(started.elapsed());
        let mut note = String::new();
        if let Some(gh) = &self.gh {
            let (state, what) = match &result {
                Ok(_) => ("success", format!("deployed {} in {took}", self.input.tag)),
                Err(e) => ("failure", e.lines().next().unwrap_or("").to_string()),
            };
            note = match Self::apply(
                cx,
                &self.create_status(gh, &recorded, &self.status_body(state, &what)),
            ) {
                Ok(()) => format!("GitHub deployment {recorded}: {state}"),
                Err(e) => format!("the GitHub deployment status was not recorded: {e:#}"),
            };
        }
        match result {
            Ok(tail) => {
                let mut s = format!("deployed {} to {env} in {took}", self.input.tag);
                if !note.is_empty() {
                    s.push_str(&format!(" ({note})"));
                }
                if !tail.is_empty() {
                    s.push('\n');
                    s.push_str(&tail);
                }
                Ok(Done::Ran(s))
            }
            Err(e) if note.is_empty() => bail!("the deploy to {env} failed: {e}"),
            Err(e) => bail!("the deploy to {env} failed: {e}\n({note})"),
        }
    }
    fn json(&self) -> Json {
        json!({
            "environment": self.cfg.environment,
            "command": self.cfg.command,
            "argv": self.planned_argv(),
            "timeout_s": self.cfg.timeout_s,
            "github_deployment": self.gh.as_ref().map(|g| g.repo.clone()),
        })
    }
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// The command line without its environment (the token is only `***` in it anyway).
fn shown(p: &Process) -> String {
    let mut bare = p.clone();
    bare.env.clear();
    ui::redact(&bare.command_line())
}

/// The status and JSON body of what `gh api --include` printed; `Err` when GitHub gave no
/// answer at all.
fn reply(shown: &str, out: &Answer) -> std::result::Result<(u16, Json), String> {
    let text = out.stdout.replace("\r\n", "\n");
    let status = text
        .lines()
        .next()
        .filter(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| {
            format!(
                "`{shown}` got no answer from GitHub: {}",
                ui::redact(out.stderr.trim())
            )
        })?;
    let body = text.split_once("\n\n").map_or("", |(_, b)| b).trim();
    let body = serde_json::from_str(body).unwrap_or_else(|_| Json::String(body.to_string()));
    Ok((status, body))
}

fn message(body: &Json) -> String {
    ui::redact(
        body.get("message")
            .and_then(Json::as_str)
            .unwrap_or("no message"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::plan::sub_lines;

    fn cfg() -> DeployConfig {
        DeployConfig {
            command: [
                "helm",
                "upgrade",
                "--install",
                "app",
                "./chart",
                "--set",
                "image.tag={docker_tag}",
                "--set",
                "image.digest={digest}",
            ]
            .map(String::from)
            .to_vec(),
            environment: "staging".into(),
            timeout_s: 600,
            github_deployment: true,
            root: "/r".into(),
        }
    }

    fn input() -> DeployInput {
        DeployInput {
            version: "1.2.3rc1".into(),
            tag: "v1.2.3-rc.1".into(),
            docker_tag: "1.2.3-rc.1".into(),
            digest: Some("<docker.digest.127.0.0.1:5000>".into()),
            image: Some("127.0.0.1:5000/acme/app".into()),
        }
    }

    #[test]
    fn the_plan_shows_the_argv_with_the_digest_as_a_named_placeholder() {
        let s = step(&cfg(), &input());
        let root = Path::new("/r");
        assert_eq!(
            s.header(root),
            "deploy v1.2.3-rc.1 to staging: helm upgrade --install app ./chart --set image.tag=1.2.3-rc.1 --set \
             'image.digest=<docker.digest.127.0.0.1:5000>'"
        );
        let Step::Action(a) = &s else { panic!() };
        let lines: Vec<String> = a
            .planned()
            .apply
            .iter()
            .flat_map(|s| sub_lines(s, root))
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("SLIPWAY_DIGEST='<docker.digest.127.0.0.1:5000>'"),
            "{lines:?}"
        );
        assert!(
            lines[0].contains("SLIPWAY_ENVIRONMENT=staging"),
            "{lines:?}"
        );
        assert!(lines[0].contains("SLIPWAY_VERSION=1.2.3rc1"), "{lines:?}");
    }

    #[test]
    fn notes_show_the_known_values_and_leave_the_digest() {
        assert_eq!(
            display_line(&cfg(), &input()),
            "helm upgrade --install app ./chart --set image.tag=1.2.3-rc.1 --set 'image.digest={digest}'"
        );
        let mut known = input();
        known.digest = Some("sha256:ab".into());
        assert!(display_line(&cfg(), &known).ends_with("image.digest=sha256:ab"));
    }

    #[test]
    fn a_missing_value_is_named_when_it_runs() {
        let d = Deploy {
            cfg: cfg(),
            input: DeployInput {
                digest: None,
                ..input()
            },
            gh: None,
            work: "/r/w".into(),
        };
        let err = d.argv(None).unwrap_err().to_string();
        assert!(
            err.contains(
                "uses {digest}, which has no value here (this run has no published image)"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_github_deployment_needs_the_token_unless_turned_off() {
        let mut config = Config {
            github_repo: Some("acme/app".into()),
            deploy: Some(cfg()),
            ..Config::defaults("/r".into())
        };
        let mut problems = Problems::default();
        let gh = github(&config, &[], &mut problems);
        assert_eq!(
            gh.map(|g| g.repo),
            Some("acme/app".to_string()),
            "previewed"
        );
        assert!(
            problems.list.iter().any(|p| p.starts_with("no GitHub token")
                && p.contains("to record the deployment to staging on GitHub; `github-deployment = false`")),
            "{:?}",
            problems.list
        );
        // Said once when the GitHub target said it already.
        let mut problems = Problems::default();
        problems.failure(
            "no GitHub token: set GH_TOKEN (or GITHUB_TOKEN) to a token that may create releases",
        );
        github(&config, &[], &mut problems);
        assert_eq!(problems.list.len(), 1, "{:?}", problems.list);
        config.deploy.as_mut().unwrap().github_deployment = false;
        let mut problems = Problems::default();
        assert!(github(&config, &[], &mut problems).is_none());
        assert!(problems.is_empty());
        let token = vec![("GH_TOKEN".to_string(), "ghs_deploy-unit".to_string())];
        config.deploy.as_mut().unwrap().github_deployment = true;
        config.github_repo = None;
        assert!(
            github(&config, &token, &mut problems).is_none(),
            "no repository: no record"
        );
    }

    #[test]
    fn gh_replies_are_read_from_the_status_line() {
        let a = |stdout: &str| Answer {
            ok: true,
            stdout: stdout.into(),
            stderr: String::new(),
        };
        assert_eq!(
            reply(
                "gh",
                &a("HTTP/2.0 201 Created\r\nContent-Type: application/json\r\n\r\n{\"id\": 7}")
            )
            .unwrap(),
            (201, json!({"id": 7}))
        );
        assert!(reply("gh", &a("")).unwrap_err().contains("got no answer"));
    }
}
