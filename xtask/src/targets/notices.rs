//! Notices: how a release command ended, told to Slack (`SLACK_WEBHOOK`, its message format),
//! Discord (`DISCORD_WEBHOOK`), the configured generic `webhooks` (JSON) and e-mail (SMTP,
//! [`crate::run::smtp`]), on failure (refusals included) and, with `notify-on` including
//! `success` (or `publish-prod --notify`), on success.
//!
//! A command that can fail a release calls [`begin`] once its configuration is loaded (and
//! [`release`] / [`published`] as it learns them); `run_main` calls [`after`] with the outcome.
//! So adding a command is one call. Webhook URLs and credentials are secrets, masked wherever
//! they would be shown; every text sent is masked too. A channel that fails is a warning and
//! never changes the exit code or hides the real outcome. A dry run sends nothing and lists what
//! a real run would send.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::facts::config::Config;
use crate::run::plan::{Request, Sub, Val};
use crate::run::smtp::{Mail, Server};
use crate::run::ui::{self, Ui};

/// What a notice tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The command (`publish-prod`, `release`, …).
    pub command: String,
    pub success: bool,
    /// Refused before anything was changed (a preflight or gate refusal).
    pub refused: bool,
    pub package: String,
    pub version: String,
    pub tag: String,
    /// The stage that failed (or the last one run).
    pub stage: String,
    /// What went wrong, masked.
    pub problems: Vec<String>,
    /// What was published (publish steps that ran).
    pub published: Vec<String>,
    pub duration: Duration,
    /// Where to read more: the incident report, the CI run ([`crate::targets::incident`]).
    pub links: Vec<String>,
}

/// The alert `publish-prod` sends (kept for its callers): a [`Notice`] of `publish-prod`.
pub type Alert = Notice;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    Slack(String),
    Discord(String),
    Json(String),
    Email(Email),
}

/// E-mail settings, from the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    pub server: Server,
    pub from: String,
    pub to: Vec<String>,
    /// `SMTP_USERNAME` / `SMTP_PASSWORD`: never shown.
    pub auth: Option<(String, String)>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("server", &self.server)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("auth", &self.auth.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The channels configured (all with their settings present when `notify` is absent; those it
/// names otherwise), and a warning for each named channel whose settings are missing.
pub fn channels(cfg: &Config) -> (Vec<Hook>, Vec<String>) {
    let wanted = |c: &str| cfg.notify.as_ref().is_none_or(|l| l.iter().any(|x| x == c));
    let named = |c: &str| {
        cfg.notify
            .as_ref()
            .is_some_and(|l| l.iter().any(|x| x == c))
    };
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let env = crate::targets::publish::secret_env;
    for (channel, var) in [("slack", "SLACK_WEBHOOK"), ("discord", "DISCORD_WEBHOOK")] {
        if !wanted(channel) {
            continue;
        }
        match env(var) {
            Some(url) if channel == "slack" => out.push(Hook::Slack(url)),
            Some(url) => out.push(Hook::Discord(url)),
            None if named(channel) => warnings.push(format!(
                "`notify` names {channel} but {var} is not set: no {channel} notice"
            )),
            None => {}
        }
    }
    if wanted("webhook") {
        for url in &cfg.webhooks {
            ui::register_secret(url);
            out.push(Hook::Json(url.clone()));
        }
        if cfg.webhooks.is_empty() && named("webhook") {
            warnings
                .push("`notify` names webhook but `webhooks` lists none: no webhook notice".into());
        }
    }
    if wanted("email") {
        match email_settings() {
            Ok(Some(e)) => out.push(Hook::Email(e)),
            Ok(None) if named("email") => warnings.push(
                "`notify` names email but SMTP_URL and MAIL_TO are not set: no e-mail notice"
                    .into(),
            ),
            Ok(None) => {}
            Err(msg) => warnings.push(format!("no e-mail notice: {msg}")),
        }
    }
    (out, warnings)
}

/// `SMTP_URL`, `MAIL_TO`, `MAIL_FROM`, `SMTP_USERNAME`, `SMTP_PASSWORD`; None when neither
/// `SMTP_URL` nor `MAIL_TO` is set.
fn email_settings() -> Result<Option<Email>, String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let (url, to) = (var("SMTP_URL"), var("MAIL_TO"));
    if url.is_none() && to.is_none() {
        return Ok(None);
    }
    let url = url.ok_or("MAIL_TO is set but SMTP_URL is not (smtp://host:port)")?;
    let to = to.ok_or("SMTP_URL is set but MAIL_TO is not (comma-separated addresses)")?;
    let server = Server::parse(&url).map_err(|e| format!("SMTP_URL: {e}"))?;
    let to: Vec<String> = to
        .split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    let plain = |a: &str| a.contains('@') && !a.contains(['<', '>', '\r', '\n', ' ']);
    if let Some(bad) = to.iter().find(|a| !plain(a)) {
        return Err(format!(
            "MAIL_TO: {bad:?} is not an address like ops@example.com"
        ));
    }
    let from = var("MAIL_FROM").unwrap_or_else(|| format!("slipway@{}", hostname()));
    if !plain(&from) {
        return Err(format!(
            "MAIL_FROM: {from:?} is not an address like slipway@example.com"
        ));
    }
    let user = crate::targets::publish::secret_env("SMTP_USERNAME");
    let password = crate::targets::publish::secret_env("SMTP_PASSWORD");
    let auth = match (user, password) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => return Err("set both SMTP_USERNAME and SMTP_PASSWORD, or neither".into()),
    };
    Ok(Some(Email {
        server,
        from,
        to,
        auth,
    }))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn outcome_word(n: &Notice) -> &'static str {
    if n.success {
        "succeeded"
    } else if n.refused {
        "refused"
    } else {
        "failed"
    }
}

fn what(n: &Notice) -> String {
    let mut w = n.command.clone();
    if !n.package.is_empty() {
        w.push(' ');
        w.push_str(&n.package);
    }
    if !n.tag.is_empty() {
        w.push(' ');
        w.push_str(&n.tag);
    }
    w
}

/// One line: what ended how.
pub fn headline(n: &Notice) -> String {
    let dur = ui::human_duration(n.duration);
    if n.success {
        if n.command == "publish-prod" {
            format!("{} {} published in {dur}", n.package, n.tag)
        } else {
            format!("{} succeeded in {dur}", what(n))
        }
    } else if n.refused {
        format!("{} refused before changing anything", what(n))
    } else {
        format!("{} failed at {} after {dur}", what(n), n.stage)
    }
}

/// The mail's subject.
pub fn subject(n: &Notice) -> String {
    ui::redact(&format!("[slipway] {}: {}", what(n), outcome_word(n)))
}

/// The plain-text body (mail), masked.
pub fn text(n: &Notice) -> String {
    let mut t = format!("{}\n\ncommand: {}\n", headline(n), n.command);
    for (k, v) in [
        ("package", &n.package),
        ("version", &n.version),
        ("tag", &n.tag),
    ] {
        if !v.is_empty() {
            t.push_str(&format!("{k}: {v}\n"));
        }
    }
    t.push_str(&format!("outcome: {}\n", outcome_word(n)));
    if !n.success && !n.refused {
        t.push_str(&format!("stage: {}\n", n.stage));
    }
    t.push_str(&format!("duration: {}\n", ui::human_duration(n.duration)));
    if !n.problems.is_empty() {
        t.push_str("\nproblems:\n");
        for p in &n.problems {
            t.push_str(&format!("  - {}\n", p.replace('\n', "\n    ")));
        }
    }
    if !n.published.is_empty() {
        t.push_str("\npublished:\n");
        for p in &n.published {
            t.push_str(&format!("  - {p}\n"));
        }
    }
    if !n.links.is_empty() {
        t.push('\n');
        for l in &n.links {
            t.push_str(&format!("{l}\n"));
        }
    }
    ui::redact(&t)
}

pub fn slack_payload(a: &Notice) -> Json {
    let mark = if a.success {
        ":white_check_mark:"
    } else {
        ":x:"
    };
    let mut text = format!("{mark} {}", headline(a));
    if !a.problems.is_empty() {
        text.push_str(&format!("\n```{}```", a.problems.join("\n")));
    }
    if !a.published.is_empty() {
        text.push_str(&format!("\npublished: {}", a.published.join(", ")));
    }
    for l in &a.links {
        text.push_str(&format!("\n{l}"));
    }
    let text = ui::redact(&text);
    json!({
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    })
}

pub fn discord_payload(a: &Notice) -> Json {
    let mut content = text(a);
    if content.len() > 1900 {
        let mut cut = 1900;
        while !content.is_char_boundary(cut) {
            cut -= 1;
        }
        content.truncate(cut);
        content.push('…');
    }
    json!({ "content": content, "username": "slipway" })
}

pub fn json_payload(a: &Notice) -> Json {
    let event = if a.command == "publish-prod" {
        "slipway.publish".to_string()
    } else {
        format!("slipway.{}", a.command)
    };
    json!({
        "event": event,
        "command": a.command,
        "status": if a.success { "success" } else { "failure" },
        "refused": a.refused,
        "package": a.package,
        "version": a.version,
        "tag": a.tag,
        "stage": a.stage,
        "error": a.problems.first().map(|e| ui::redact(e)),
        "problems": a.problems.iter().map(|e| ui::redact(e)).collect::<Vec<_>>(),
        "published": a.published,
        "duration_ms": a.duration.as_millis() as u64,
        "links": a.links.iter().map(|l| ui::redact(l)).collect::<Vec<_>>(),
    })
}

/// The webhook requests (pure): Slack's message format, Discord's, or the JSON payload; bodies
/// masked. Webhook URLs are secrets: shown masked wherever a request is shown.
pub fn requests(alert: &Notice, hooks: &[Hook]) -> Vec<Request> {
    hooks
        .iter()
        .filter_map(|hook| {
            let (url, body) = match hook {
                Hook::Slack(u) => (u, slack_payload(alert)),
                Hook::Discord(u) => (u, discord_payload(alert)),
                Hook::Json(u) => (u, json_payload(alert)),
                Hook::Email(_) => return None,
            };
            Some(Request {
                method: "POST".into(),
                url: url.clone(),
                headers: vec![("Content-Type".into(), Val::Plain("application/json".into()))],
                body: Some(ui::redact(&body.to_string())),
                service: format!("the notice webhook {}", ui::redact(url)),
            })
        })
        .collect()
}

/// Every sub-step a notice takes: one POST per webhook, one mail per e-mail channel.
pub fn subs(n: &Notice, hooks: &[Hook]) -> Vec<Sub> {
    let mut out: Vec<Sub> = requests(n, hooks).into_iter().map(Sub::Http).collect();
    for hook in hooks {
        if let Hook::Email(e) = hook {
            out.push(Sub::Call(Arc::new(Mail {
                server: e.server.clone(),
                from: e.from.clone(),
                to: e.to.clone(),
                subject: subject(n),
                body: text(n),
                auth: e.auth.clone(),
                timeout: Duration::from_secs(15),
            })));
        }
    }
    out
}

/// Sends the notice on every channel (each sub-step applied by the executor); failures become
/// warnings.
pub fn send(alert: &Notice, hooks: &[Hook], ui: &Ui) {
    for sub in subs(alert, hooks) {
        let shown = match &sub {
            Sub::Http(r) => ui::redact(&r.url),
            Sub::Call(c) => c
                .requests()
                .first()
                .map(|r| format!("{} (mail)", r.url))
                .unwrap_or_default(),
            _ => String::new(),
        };
        match crate::run::exec::apply(&sub, &mut Default::default()) {
            Ok(()) => ui.note(&format!("notice sent to {shown}")),
            Err(e) => ui.warn(&format!(
                "the notice to {shown} was not sent: {}; the outcome stands",
                ui::redact(&format!("{e:#}"))
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The hook around every command that can fail a release.

#[derive(Debug)]
struct Ctx {
    command: String,
    cfg: Config,
    dry_run: bool,
    on_success: bool,
    listed: bool,
    package: String,
    version: String,
    tag: String,
    stage: String,
    published: Vec<String>,
    links: Vec<String>,
    started: Instant,
}

static CTX: Mutex<Option<Ctx>> = Mutex::new(None);

fn with(f: impl FnOnce(&mut Ctx)) {
    if let Some(c) = CTX.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        f(c);
    }
}

/// Called by a command that can fail a release once its configuration is loaded: from then on,
/// [`after`] tells how it ended.
pub fn begin(command: &str, cfg: &Config, dry_run: bool) {
    let package = cfg
        .python
        .package
        .clone()
        .or_else(|| {
            let text = std::fs::read_to_string(cfg.path(&cfg.pyproject)).ok()?;
            crate::core::pyproject::project_name(&text)
        })
        .or_else(|| {
            cfg.root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    *CTX.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ctx {
        command: command.into(),
        cfg: cfg.clone(),
        dry_run,
        on_success: cfg.notify_on.iter().any(|w| w == "success"),
        listed: false,
        package,
        version: String::new(),
        tag: String::new(),
        stage: "preflight".into(),
        published: Vec::new(),
        links: Vec::new(),
        started: Instant::now(),
    });
    crate::targets::incident::begin(command, cfg, dry_run);
}

/// The release the command works on, once known.
pub fn release(package: &str, version: &str, tag: &str) {
    with(|c| {
        if !package.is_empty() {
            c.package = package.into();
        }
        c.version = version.into();
        c.tag = tag.into();
    });
    crate::targets::incident::release(package, version, tag);
}

/// Where to read more (the incident report, the CI run): carried by the notice.
pub fn links(links: Vec<String>) {
    with(|c| c.links = links);
}

/// The stage the command is in (`build`, `publish`, …): named when it fails there.
pub fn stage(stage: &str) {
    with(|c| c.stage = stage.into());
}

/// What was published (told in the notice).
pub fn published(what: Vec<String>) {
    with(|c| c.published = what);
}

/// `publish-prod --notify`: a success is told too.
pub fn also_on_success() {
    with(|c| c.on_success = true);
}

/// The command listed the notices in its own dry run (publish-prod's plan): [`after`] does not
/// list them again.
pub fn listed() {
    with(|c| c.listed = true);
}

/// When notices go out: `failure` and/or `success`.
pub fn when() -> Vec<&'static str> {
    let mut out = Vec::new();
    with(|c| {
        if c.cfg.notify_on.iter().any(|w| w == "failure") {
            out.push("failure");
        }
        if c.on_success {
            out.push("success");
        }
    });
    out
}

/// The notice a real run would send on failure, with run-time values as placeholders, and its
/// sub-steps (for a dry run's listing).
pub fn planned() -> Vec<Sub> {
    let mut out = Vec::new();
    with(|c| out = planned_for(c));
    out
}

fn planned_for(c: &Ctx) -> Vec<Sub> {
    let n = Notice {
        command: c.command.clone(),
        success: false,
        refused: false,
        package: c.package.clone(),
        version: c.version.clone(),
        tag: c.tag.clone(),
        stage: "<stage>".into(),
        problems: vec!["<failing step>: <error>".into()],
        published: Vec::new(),
        duration: Duration::ZERO,
        links: if crate::targets::incident::COMMANDS.contains(&c.command.as_str()) {
            vec!["incident report: target/slipway/incidents/<incident>.md".into()]
        } else {
            Vec::new()
        },
    };
    subs(&n, &channels(&c.cfg).0)
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// `refused`: nothing was changed (a [`crate::Refusal`]).
    Failure {
        refused: bool,
        problems: Vec<String>,
    },
}

/// Tells the configured channels how the command that called [`begin`] ended (nothing when no
/// command did). Never fails: a channel that fails is a warning.
pub fn after(outcome: &Outcome, ui: &Ui) {
    let Some(c) = CTX.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    let on_failure = c.cfg.notify_on.iter().any(|w| w == "failure");
    let (hooks, warnings) = channels(&c.cfg);
    if c.dry_run {
        if c.listed {
            return;
        }
        let mut when = Vec::new();
        if on_failure {
            when.push("failure");
        }
        if c.on_success {
            when.push("success");
        }
        if hooks.is_empty() || when.is_empty() {
            // Nothing configured: nothing to list (the dry run's output stays as it was).
            return;
        }
        let subs = planned_for(&c);
        let root = c.cfg.root.clone();
        let mut lines = vec![format!(
            "notices a real run sends, on {} (dry run: nothing sent):",
            when.join(" and ")
        )];
        for s in &subs {
            lines.extend(
                crate::run::plan::sub_lines(s, &root)
                    .into_iter()
                    .map(|l| format!("    {l}")),
            );
        }
        ui.note(&lines.join("\n"));
        return;
    }
    let (success, refused, problems) = match outcome {
        Outcome::Success => (true, false, Vec::new()),
        Outcome::Failure { refused, problems } => (false, *refused, problems.clone()),
    };
    if (success && !c.on_success) || (!success && !on_failure) {
        return;
    }
    for w in &warnings {
        ui.warn(w);
    }
    let n = Notice {
        command: c.command.clone(),
        success,
        refused,
        package: c.package.clone(),
        version: c.version.clone(),
        tag: c.tag.clone(),
        stage: c.stage.clone(),
        problems: problems.iter().map(|p| ui::redact(p)).collect(),
        published: c.published.clone(),
        duration: c.started.elapsed(),
        links: c.links.clone(),
    };
    send(&n, &hooks, ui);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            command: "publish-prod".into(),
            success: false,
            refused: false,
            package: "acme-app".into(),
            version: "1.3.0".into(),
            tag: "v1.3.0".into(),
            stage: "publish".into(),
            problems: vec!["upload to https://x failed".into()],
            published: Vec::new(),
            duration: Duration::from_millis(1500),
            links: Vec::new(),
        }
    }

    #[test]
    fn payloads() {
        let s = slack_payload(&alert());
        assert_eq!(
            s["text"],
            ":x: publish-prod acme-app v1.3.0 failed at publish after 1.5 s\n```upload to https://x failed```"
        );
        assert_eq!(s["blocks"][0]["text"]["type"], "mrkdwn");
        let j = json_payload(&alert());
        assert_eq!(j["status"], "failure");
        assert_eq!(j["stage"], "publish");
        assert_eq!(j["duration_ms"], 1500);
        let ok = Alert {
            success: true,
            problems: Vec::new(),
            ..alert()
        };
        assert!(slack_payload(&ok)["text"]
            .as_str()
            .unwrap()
            .starts_with(":white_check_mark: acme-app v1.3.0 published"));
    }

    #[test]
    fn every_hook_gets_one_masked_post() {
        ui::register_secret("https://hooks.example/T0K3N-9911");
        let reqs = requests(
            &alert(),
            &[
                Hook::Slack("https://hooks.example/T0K3N-9911".into()),
                Hook::Json("https://ci.example/hook".into()),
            ],
        );
        assert_eq!(reqs.len(), 2);
        assert!(reqs.iter().all(|r| r.method == "POST"));
        assert!(reqs[0].body.as_deref().unwrap().contains("\"blocks\""));
        assert!(reqs[1]
            .body
            .as_deref()
            .unwrap()
            .contains("\"slipway.publish\""));
        assert!(
            !reqs[0].service.contains("T0K3N-9911"),
            "{}",
            reqs[0].service
        );
        let json =
            crate::run::plan::sub_json(&Sub::Http(reqs[0].clone()), std::path::Path::new("/"));
        assert!(!json.to_string().contains("T0K3N-9911"), "{json}");
    }

    #[test]
    fn every_body_links_the_incident_report_and_the_run() {
        let a = Alert {
            links: vec![
                "incident report: target/slipway/incidents/incident-v1.3.0-20261202T100000Z.md"
                    .into(),
                "run: https://github.com/acme/app/actions/runs/42".into(),
            ],
            ..alert()
        };
        for body in [
            text(&a),
            slack_payload(&a)["text"].as_str().unwrap().to_string(),
            discord_payload(&a)["content"].as_str().unwrap().to_string(),
        ] {
            assert!(
                body.contains("incident report: target/slipway/incidents/incident-v1.3.0-")
                    && body.contains("run: https://github.com/acme/app/actions/runs/42"),
                "{body}"
            );
        }
        assert_eq!(
            json_payload(&a)["links"][1],
            "run: https://github.com/acme/app/actions/runs/42"
        );
    }

    #[test]
    fn payloads_are_masked() {
        ui::register_secret("tok-ALERT-9911");
        let a = Alert {
            problems: vec!["denied for tok-ALERT-9911".into()],
            ..alert()
        };
        assert!(!slack_payload(&a).to_string().contains("tok-ALERT-9911"));
        assert!(!json_payload(&a).to_string().contains("tok-ALERT-9911"));
        assert!(!discord_payload(&a).to_string().contains("tok-ALERT-9911"));
        assert!(!text(&a).contains("tok-ALERT-9911"));
        assert!(!subject(&a).contains("tok-ALERT-9911"));
    }

    #[test]
    fn the_mail_says_command_version_outcome_problems_and_what_was_published() {
        let a = Alert {
            published: vec!["upload to the index".into()],
            ..alert()
        };
        let t = text(&a);
        for want in [
            "command: publish-prod",
            "version: 1.3.0",
            "tag: v1.3.0",
            "outcome: failed",
            "stage: publish",
            "  - upload to https://x failed",
            "published:\n  - upload to the index",
        ] {
            assert!(t.contains(want), "{want:?} in\n{t}");
        }
        assert_eq!(
            subject(&a),
            "[slipway] publish-prod acme-app v1.3.0: failed"
        );
        let r = Alert {
            command: "release".into(),
            refused: true,
            ..alert()
        };
        assert_eq!(
            headline(&r),
            "release acme-app v1.3.0 refused before changing anything"
        );
        let hooks = [Hook::Email(Email {
            server: Server::parse("smtp://127.0.0.1:2525").unwrap(),
            from: "slipway@h".into(),
            to: vec!["ops@example.com".into()],
            auth: None,
        })];
        let lines = crate::run::plan::sub_lines(&subs(&r, &hooks)[0], std::path::Path::new("/"));
        assert_eq!(
            lines,
            [
                "MAIL smtp://127.0.0.1:2525  to ops@example.com from slipway@h: [slipway] release \
              acme-app v1.3.0: refused"
            ]
        );
    }
}
