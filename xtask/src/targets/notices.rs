//! Alerts after a publish: on failure (and with `--notify` on success), a POST to
//! `SLACK_WEBHOOK` in Slack's message format and to every configured generic webhook as JSON.
//! Webhook URLs carry tokens: they are registered as secrets. A webhook that fails is reported as
//! a warning and never hides the real outcome.

use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::run::plan::{Request, Sub, Val};
use crate::run::ui::{self, Ui};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub success: bool,
    pub package: String,
    pub version: String,
    pub tag: String,
    /// The stage that failed (or the last one run).
    pub stage: String,
    /// The failing step and its error, masked.
    pub error: Option<String>,
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    Slack(String),
    Json(String),
}

/// `SLACK_WEBHOOK` from the environment plus the configured `webhooks`.
pub fn hooks(configured: &[String]) -> Vec<Hook> {
    let mut out = Vec::new();
    if let Some(url) = crate::targets::publish::secret_env("SLACK_WEBHOOK") {
        out.push(Hook::Slack(url));
    }
    for url in configured {
        ui::register_secret(url);
        out.push(Hook::Json(url.clone()));
    }
    out
}

pub fn slack_payload(a: &Alert) -> Json {
    let head = if a.success {
        format!(
            ":white_check_mark: {} {} published in {}",
            a.package,
            a.tag,
            ui::human_duration(a.duration)
        )
    } else {
        format!(
            ":x: publishing {} {} failed at {} after {}",
            a.package,
            a.tag,
            a.stage,
            ui::human_duration(a.duration)
        )
    };
    let mut text = head.clone();
    if let Some(e) = &a.error {
        text.push_str(&format!("\n```{}```", ui::redact(e)));
    }
    json!({
        "text": ui::redact(&text),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ui::redact(&text)}}],
    })
}

pub fn json_payload(a: &Alert) -> Json {
    json!({
        "event": "slipway.publish",
        "status": if a.success { "success" } else { "failure" },
        "package": a.package,
        "version": a.version,
        "tag": a.tag,
        "stage": a.stage,
        "error": a.error.as_ref().map(|e| ui::redact(e)),
        "duration_ms": a.duration.as_millis() as u64,
    })
}

/// The request each hook gets (pure): Slack's message format, or the JSON payload; bodies
/// masked. Webhook URLs are secrets: shown masked wherever a request is shown.
pub fn requests(alert: &Alert, hooks: &[Hook]) -> Vec<Request> {
    hooks
        .iter()
        .map(|hook| {
            let (url, body) = match hook {
                Hook::Slack(u) => (u, slack_payload(alert)),
                Hook::Json(u) => (u, json_payload(alert)),
            };
            Request {
                method: "POST".into(),
                url: url.clone(),
                headers: vec![("Content-Type".into(), Val::Plain("application/json".into()))],
                body: Some(ui::redact(&body.to_string())),
                service: format!("the alert webhook {}", ui::redact(url)),
            }
        })
        .collect()
}

/// Sends the alert to every hook (each request applied by the executor); failures become
/// warnings.
pub fn send(alert: &Alert, hooks: &[Hook], ui: &Ui) {
    for request in requests(alert, hooks) {
        let shown = ui::redact(&request.url);
        match crate::run::exec::apply(&Sub::Http(request), &mut Default::default()) {
            Ok(()) => ui.note(&format!("alert sent to {shown}")),
            Err(e) => ui.warn(&format!(
                "{}; the release outcome above stands",
                ui::redact(&format!("{e:#}"))
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            success: false,
            package: "acme-app".into(),
            version: "1.3.0".into(),
            tag: "v1.3.0".into(),
            stage: "publish".into(),
            error: Some("upload to https://x failed".into()),
            duration: Duration::from_millis(1500),
        }
    }

    #[test]
    fn payloads() {
        let s = slack_payload(&alert());
        assert_eq!(
            s["text"],
            ":x: publishing acme-app v1.3.0 failed at publish after 1.5 s\n```upload to https://x failed```"
        );
        assert_eq!(s["blocks"][0]["text"]["type"], "mrkdwn");
        let j = json_payload(&alert());
        assert_eq!(j["status"], "failure");
        assert_eq!(j["stage"], "publish");
        assert_eq!(j["duration_ms"], 1500);
        let ok = Alert {
            success: true,
            error: None,
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
    fn payloads_are_masked() {
        ui::register_secret("tok-ALERT-9911");
        let a = Alert {
            error: Some("denied for tok-ALERT-9911".into()),
            ..alert()
        };
        assert!(!slack_payload(&a).to_string().contains("tok-ALERT-9911"));
        assert!(!json_payload(&a).to_string().contains("tok-ALERT-9911"));
    }
}
