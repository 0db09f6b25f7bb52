//! Validate the image: a container with no network, health probed inside it, always removed.

use super::check::rel;
use super::spec::image_key;
use super::spec::ImageSpec;
use super::spec::VALIDATE_LABEL;

/// How often the image's HEALTHCHECK runs while it is validated.
pub const HEALTH_INTERVAL: &str = "500ms";
use crate::run::plan::{Decision, Planned, Probe, Process, Reconcile, Run, RunContext, Sub};
use crate::run::process;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The probe run inside the container: GET each path on 127.0.0.1:<port>, print
/// `{path: [status, body]}` as JSON (status 0: no answer).
pub(crate) const PROBE: &str = "import json, sys, urllib.request, urllib.error
out = {}
for p in sys.argv[2:]:
    try:
        r = urllib.request.urlopen('http://127.0.0.1:%s%s' % (sys.argv[1], p), timeout=5)
        out[p] = [r.status, r.read().decode('utf-8', 'replace')]
    except urllib.error.HTTPError as e:
        out[p] = [e.code, e.read().decode('utf-8', 'replace')]
    except Exception as e:
        out[p] = [0, '%s: %s' % (type(e).__name__, e)]
print(json.dumps(out))";

/// Runs the built image (every platform) in a container with no network and checks it:
/// the HEALTHCHECK reports healthy (or, without one, the health path answers 200) within
/// `health.timeout-s`, `GET <health.path>` is `{"status": "healthy"}` and `GET /version` is the
/// PEP 440 version; the probes run inside the container (`docker exec … python3`), nothing is
/// published.
///
/// The container never outlives the check: `docker run --rm --init` runs attached as a child
/// (a Ctrl-C reaches the docker client in the same process group, which proxies it to the
/// container, and `--rm` removes it); every exit path runs `docker rm -f`; a watchdog (this
/// binary again, no shell, in its own process group: [`process::watchdog`]) removes it when this
/// process dies in any way (its stdin pipe closes); and
/// stale `slipway.validate` containers whose process is gone are swept first.
#[derive(Debug, Clone)]
pub struct Validate {
    pub spec: ImageSpec,
    /// Skip an image validated earlier with the same health check (recorded in
    /// `target/slipway/docker/validated.json` by every successful validation).
    pub reuse_validated: bool,
}

pub(crate) const VALIDATED_RECORD: &str = "validated.json";

impl Validate {
    fn record_path(&self) -> std::path::PathBuf {
        self.spec.work.join("docker").join(VALIDATED_RECORD)
    }

    /// What makes two validations the same: the image ID, the health check, the version.
    fn key(&self, platform: &str, image: &str) -> String {
        let h = &self.spec.health;
        let text = serde_json::json!({
            "image": image, "platform": platform, "pep440": self.spec.pep440,
            "health": [h.path, h.port, h.timeout_s],
        })
        .to_string();
        crate::core::sha256::digest_hex(text.as_bytes())
    }

    fn records(&self) -> serde_json::Map<String, Json> {
        std::fs::read_to_string(self.record_path())
            .ok()
            .and_then(|t| serde_json::from_str::<Json>(&t).ok())
            .and_then(|j| j.as_object().cloned())
            .unwrap_or_default()
    }

    pub(crate) fn run_process(
        &self,
        name: &str,
        platform: &str,
        image: &str,
        pid: &str,
    ) -> Process {
        self.spec.docker().args([
            "run",
            "--rm",
            "--init",
            "--network",
            "none",
            "--pull=never",
            "--platform",
            platform,
            "--name",
            name,
            "--label",
            &format!("{VALIDATE_LABEL}={pid}"),
            // The image's own HEALTHCHECK, run every half second while validating rather than
            // at its production interval: the first passing check ends the wait. An image
            // without one has no check to speed up (it is polled instead).
            "--health-interval",
            HEALTH_INTERVAL,
            image,
        ])
    }

    pub(crate) fn probe_process(&self, name: &str, paths: &[&str], script: &str) -> Process {
        self.spec
            .docker()
            .args(["exec", name, "python3", "-c", script])
            .args([self.spec.health.port.to_string()])
            .args(paths.iter().copied())
    }

    fn list_process(&self) -> Process {
        self.spec.docker().args([
            "ps",
            "-a",
            "--filter",
            &format!("label={VALIDATE_LABEL}"),
            "--format",
            &format!("{{{{.Names}}}} {{{{.Label \"{VALIDATE_LABEL}\"}}}}"),
        ])
    }

    fn healthcheck_process(&self, image: &str) -> Process {
        self.spec.docker().args([
            "image",
            "inspect",
            "--format",
            "{{json .Config.Healthcheck}}",
            image,
        ])
    }

    fn state_process(&self, name: &str) -> Process {
        self.spec
            .docker()
            .args(["inspect", "--format", "{{json .State}}", name])
    }

    /// Validation containers left by slipway processes that no longer exist.
    pub(crate) fn stale(&self) -> Vec<String> {
        let list = crate::run::exec::run_captured(&self.list_process()).unwrap_or_default();
        let me = std::process::id().to_string();
        let mut stale = Vec::new();
        for line in list.lines() {
            let Some((name, pid)) = line.split_once(' ') else {
                continue;
            };
            let alive = pid != me
                && !pid.is_empty()
                && pid.chars().all(|c| c.is_ascii_digit())
                && Path::new("/proc").join(pid).exists();
            if !alive {
                stale.push(name.to_string());
            }
        }
        stale
    }

    fn validated_key(platform: &str) -> String {
        format!("docker.validated {platform}")
    }

    /// The processes one platform's check may start (`name` and `image` may be templates).
    fn check_processes(&self, name: &str, platform: &str, image: &str, pid: &str) -> Vec<Process> {
        vec![
            self.healthcheck_process(image),
            self.run_process(name, platform, image, pid),
            self.state_process(name),
            self.probe_process(name, &[&self.spec.health.path], PROBE),
            self.probe_process(name, &[&self.spec.health.path, "/version"], PROBE),
        ]
        .into_iter()
        // An image without python3 is probed from a sidecar in its network namespace instead.
        .chain(super::probe::planned(
            &self.spec,
            name,
            &[
                &[&self.spec.health.path],
                &[&self.spec.health.path, "/version"],
            ],
            PROBE,
        ))
        .chain([self.spec.docker().args(["rm", "-f", name])])
        .collect()
    }

    pub(crate) fn validate_one(&self, index: usize, platform: &str, image: &str) -> Result<String> {
        let s = &self.spec;
        let pid = std::process::id();
        let name = format!("slipway-validate-{pid}-{index}");
        let dir = s.work.join("docker");
        std::fs::create_dir_all(&dir)?;
        let log = dir.join(format!("validate-{pid}-{index}.log"));
        let healthcheck = crate::run::exec::run_captured(&self.healthcheck_process(image))
            .context("reading the image's HEALTHCHECK")?;
        let healthcheck: Json = serde_json::from_str(healthcheck.trim()).unwrap_or(Json::Null);
        let has_healthcheck = healthcheck["Test"]
            .as_array()
            .is_some_and(|t| !t.is_empty() && t[0] != "NONE");

        let child = process::supervise(
            &self.run_process(&name, platform, image, &pid.to_string()),
            &log,
        )?;
        let mut guard = Container {
            name: name.clone(),
            docker: s.docker(),
            child: Some(child),
            watchdog: None,
            removed: false,
        };
        guard.watchdog = process::watchdog(&guard.rm()).ok();
        let started = Instant::now();
        let result = self.wait_and_probe(&mut guard, has_healthcheck, started);
        guard.remove();
        match result {
            Ok(line) => Ok(line),
            Err(e) => {
                let tail = tail(&log, 15);
                let shown = if tail.trim().is_empty() {
                    "(the container printed nothing)".to_string()
                } else {
                    tail
                };
                Err(anyhow!(
                    "{platform}: {e:#}\nlast lines of the container's log ({}):\n{shown}",
                    rel(&s.root, &log)
                ))
            }
        }
    }

    pub(crate) fn wait_and_probe(
        &self,
        c: &mut Container,
        has_healthcheck: bool,
        started: Instant,
    ) -> Result<String> {
        let s = &self.spec;
        let timeout = Duration::from_secs(s.health.timeout_s);
        let path = s.health.path.as_str();
        let mut last = String::new();
        loop {
            if let Some(status) = c.child.as_ref().and_then(|ch| ch.exited()) {
                bail!(
                    "the container stopped ({}) before it became healthy",
                    describe_exit(status)
                );
            }
            let state = crate::run::exec::run_captured(&self.state_process(&c.name))
                .ok()
                .and_then(|t| serde_json::from_str::<Json>(t.trim()).ok());
            if let Some(state) = &state {
                if has_healthcheck {
                    let health = &state["Health"];
                    if let Some(out) = health["Log"]
                        .as_array()
                        .and_then(|l| l.last())
                        .and_then(|e| e["Output"].as_str())
                    {
                        last = out.trim().to_string();
                    }
                    match health["Status"].as_str() {
                        Some("healthy") => break,
                        Some("unhealthy") => bail!(
                            "the image's HEALTHCHECK reports unhealthy after {:.1} s (last check: {})",
                            started.elapsed().as_secs_f64(),
                            if last.is_empty() { "no output" } else { &last }
                        ),
                        _ => {}
                    }
                } else if state["Running"].as_bool() == Some(true) {
                    if let Ok(r) = self.probe(&c.name, &[path]) {
                        let (code, body) = &r[path];
                        if *code == 200 {
                            break;
                        }
                        last = format!("GET {path} → {}", show_answer(*code, body));
                    }
                }
            }
            if started.elapsed() > timeout {
                let status = state
                    .as_ref()
                    .and_then(|s| s["Health"]["Status"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "no HEALTHCHECK".into());
                bail!(
                    "not healthy within {} s (health.timeout-s): {}; last check: {}",
                    s.health.timeout_s,
                    if has_healthcheck {
                        format!("the HEALTHCHECK still says `{status}`")
                    } else {
                        format!("the image has no HEALTHCHECK and GET {path} never answered 200")
                    },
                    if last.is_empty() {
                        "no output".to_string()
                    } else {
                        last
                    }
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let became = started.elapsed();
        let answers = self.probe(&c.name, &[path, "/version"])?;
        let (code, body) = &answers[path];
        let healthy = *code == 200
            && serde_json::from_str::<Json>(body).is_ok_and(|j| j["status"] == "healthy");
        if !healthy {
            bail!(
                "GET {path} answered {}, expected 200 {{\"status\": \"healthy\"}}",
                show_answer(*code, body)
            );
        }
        let (vcode, vbody) = &answers["/version"];
        let version = serde_json::from_str::<Json>(vbody)
            .ok()
            .and_then(|j| j["version"].as_str().map(str::to_string));
        match version {
            Some(v) if *vcode == 200 && v == s.pep440 => {}
            Some(v) if *vcode == 200 => bail!(
                "GET /version says {v}, but this release is {}: the image does not run the wheel of this release",
                s.pep440
            ),
            _ => bail!(
                "GET /version answered {}, expected 200 {{\"version\": \"{}\"}}",
                show_answer(*vcode, vbody),
                s.pep440
            ),
        }
        Ok(format!(
            "healthy after {:.1} s; GET {path} → {}; GET /version → {}",
            became.as_secs_f64(),
            body.trim(),
            s.pep440
        ))
    }

    pub(crate) fn probe(
        &self,
        name: &str,
        paths: &[&str],
    ) -> Result<BTreeMap<String, (u16, String)>> {
        let via = super::probe::via(&self.spec, name)?;
        let out = crate::run::exec::run_captured(&super::probe::process(
            &self.spec, &via, name, paths, PROBE,
        ))
        .with_context(|| super::probe::context(&via))?;
        let json: Json = serde_json::from_str(out.trim())
            .with_context(|| format!("the probe printed no JSON: {}", out.trim()))?;
        let mut map = BTreeMap::new();
        for p in paths {
            let entry = &json[*p];
            map.insert(
                p.to_string(),
                (
                    entry[0].as_u64().unwrap_or(0) as u16,
                    entry[1].as_str().unwrap_or("").to_string(),
                ),
            );
        }
        Ok(map)
    }
}

pub(crate) fn show_answer(code: u16, body: &str) -> String {
    let body: String = body.trim().chars().take(200).collect();
    if code == 0 {
        format!("nothing ({body})")
    } else {
        format!("{code} {body}")
    }
}

pub(crate) fn describe_exit(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("docker run exited with status {c}"),
        None => "docker run was killed by a signal".into(),
    }
}

/// What [`Validate`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateSeen {
    /// Validation containers whose slipway process is gone.
    pub stale: Vec<String>,
    /// (platform, image ID, the verdict of this run's check once it has run).
    pub platforms: Vec<(String, String, Option<String>)>,
    /// `validated.json` as it is.
    pub records: serde_json::Map<String, Json>,
}

/// One platform's container check, as a sub-step.
#[derive(Debug)]
struct ContainerCheck {
    validate: Validate,
    index: usize,
    platform: String,
    image: String,
}

impl Probe for ContainerCheck {
    fn processes(&self) -> Vec<Process> {
        let name = format!("slipway-validate-{}-{}", std::process::id(), self.index);
        self.validate.check_processes(
            &name,
            &self.platform,
            &self.image,
            &std::process::id().to_string(),
        )
    }
    fn run(&self) -> Result<String> {
        self.validate
            .validate_one(self.index, &self.platform, &self.image)
    }
}

impl Reconcile for Validate {
    type Seen = ValidateSeen;
    fn header(&self) -> String {
        format!(
            "validate {}:{} in a container without network: healthy within {} s, GET {} and GET /version = {}",
            self.spec.image,
            self.spec.exact_tag,
            self.spec.health.timeout_s,
            self.spec.health.path,
            self.spec.pep440
        )
    }
    fn rule(&self) -> Option<String> {
        let mut rule = format!(
            "healthy means: the HEALTHCHECK says so (without one: GET {} answers 200), then both paths answer inside the container; the container is always removed",
            self.spec.health.path
        );
        if self.reuse_validated {
            rule.push_str(&format!(
                "; skipped for an image validated earlier with the same health check (recorded in {})",
                rel(&self.spec.root, &self.record_path())
            ));
        }
        Some(rule)
    }
    fn planned(&self) -> Planned {
        let name = "slipway-validate-<pid>-<n>";
        let mut apply = vec![Sub::run(self.spec.docker().args([
            "rm",
            "-f",
            "<stale container>",
        ]))];
        for p in &self.spec.platforms {
            let image = format!("<{}>", image_key(p));
            apply.push(Sub::Probe {
                key: Self::validated_key(p),
                probe: std::sync::Arc::new(Template(
                    self.check_processes(name, p, &image, "<pid>"),
                )),
            });
        }
        apply.push(Sub::Write {
            path: self.record_path(),
            content: "<record>".into(),
        });
        Planned {
            observe: vec![Sub::run(self.list_process())],
            apply,
        }
    }
    fn observe(&self, cx: &RunContext) -> Result<ValidateSeen> {
        let mut platforms = Vec::new();
        for p in &self.spec.platforms {
            platforms.push((
                p.clone(),
                cx.get(&image_key(p))?.to_string(),
                cx.values.get(&Self::validated_key(p)).cloned(),
            ));
        }
        Ok(ValidateSeen {
            stale: self.stale(),
            platforms,
            records: self.records(),
        })
    }
    fn decide(&self, seen: &ValidateSeen) -> Result<Decision> {
        let mut subs: Vec<Sub> = seen
            .stale
            .iter()
            .map(|name| {
                Run::new(self.spec.docker().args(["rm", "-f", name]))
                    .tolerated()
                    .sub()
            })
            .collect();
        let mut lines = Vec::new();
        if !seen.stale.is_empty() {
            lines.push(format!(
                "removed stale validation containers: {}",
                seen.stale.join(", ")
            ));
        }
        let mut records = seen.records.clone();
        let mut reused = Vec::new();
        for (i, (platform, image, verdict)) in seen.platforms.iter().enumerate() {
            let key = self.key(platform, image);
            if let Some(line) = verdict {
                records.insert(
                    key,
                    serde_json::json!({"image": image, "platform": platform, "result": line}),
                );
                continue;
            }
            if self.reuse_validated {
                if let Some(line) = records.get(&key).and_then(|r| r["result"].as_str()) {
                    reused.push(format!("{platform} {image}: {line}"));
                    continue;
                }
            }
            subs.push(Sub::Probe {
                key: Self::validated_key(platform),
                probe: std::sync::Arc::new(ContainerCheck {
                    validate: self.clone(),
                    index: i,
                    platform: platform.clone(),
                    image: image.clone(),
                }),
            });
            lines.push(format!("{platform}: <{}>", Self::validated_key(platform)));
        }
        if records != seen.records {
            subs.push(Sub::Dir(self.spec.work.join("docker")));
            subs.push(Sub::Write {
                path: self.record_path(),
                content: serde_json::to_string_pretty(&Json::Object(records))?,
            });
        }
        let work = subs.len() > seen.stale.len();
        if !work && seen.stale.is_empty() {
            return Ok(Decision::done(format!(
                "validated earlier (docker-validate), same image and health check: {}",
                reused.join("; ")
            )));
        }
        if !work {
            // Only stale containers to remove: not read back (one that cannot be removed is
            // no reason to fail the release).
            return Ok(Decision::finish(subs, lines.join("\n")));
        }
        if !reused.is_empty() && lines.iter().any(|l| !l.starts_with("removed")) {
            lines.push(format!("validated earlier: {}", reused.join("; ")));
        }
        // A check that ran records its verdict: the next round writes the record, then is done.
        Ok(Decision::apply(subs, lines.join("\n")))
    }
    fn rounds(&self) -> usize {
        3
    }
}

/// The processes of a check, as a plan lists them.
#[derive(Debug)]
struct Template(Vec<Process>);

impl Probe for Template {
    fn processes(&self) -> Vec<Process> {
        self.0.clone()
    }
    fn run(&self) -> Result<String> {
        bail!("internal error: a plan's template was applied")
    }
}

/// A running validation container: removed (and its `docker run` reaped) on every path.
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) docker: Process,
    /// `docker run`, supervised: reaped (killed if need be) when it is dropped.
    pub(crate) child: Option<process::Supervised>,
    /// Removes the container if this process dies before [`Container::remove`] runs.
    pub(crate) watchdog: Option<process::Supervised>,
    pub(crate) removed: bool,
}

impl Container {
    /// `docker rm -f NAME`.
    pub(crate) fn rm(&self) -> Process {
        self.docker.clone().args(["rm", "-f", &self.name])
    }

    pub(crate) fn remove(&mut self) {
        if std::mem::replace(&mut self.removed, true) {
            return;
        }
        let _ = crate::run::exec::run_captured(&self.rm());
        // `docker run --rm` ends once the container is gone; killed after 10 s. Its whole life
        // counts as child time (overlapping `docker exec` probes are merged by the union).
        if let Some(mut child) = self.child.take() {
            child.stop(Duration::from_secs(10));
        }
        // Its job is done: disarm it before it reads EOF (no second `docker rm`).
        self.watchdog.take();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.remove();
    }
}

pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    crate::run::ui::redact(&lines[lines.len().saturating_sub(n)..].join("\n"))
}
