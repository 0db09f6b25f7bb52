//! Credentials judged before the first publish step (pure): a GitHub token's expiry (the
//! `github-authentication-token-expiration` header) and its permissions on the repository, and a
//! PyPI API token's form (`pypi-` + a base64url macaroon).

use serde_json::Value as Json;

/// The header GitHub sends with a token that expires (fine-grained and expiring classic tokens).
pub const EXPIRY_HEADER: &str = "github-authentication-token-expiration";

/// `2026-12-20 10:00:00 UTC` (or with a `+HHMM` / `-HHMM` offset) → Unix seconds.
pub fn parse_expiry(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let (date, time, zone) = (parts.next()?, parts.next()?, parts.next().unwrap_or("UTC"));
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if d.len() != 3 || t.len() != 3 || !(1..=12).contains(&d[1]) || !(1..=31).contains(&d[2]) {
        return None;
    }
    let offset = match zone {
        "UTC" | "GMT" | "Z" => 0,
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let h: i64 = z[1..3].parse().ok()?;
            let m: i64 = z[3..5].parse().ok()?;
            let s = (h * 60 + m) * 60;
            if z.starts_with('-') {
                -s
            } else {
                s
            }
        }
        _ => return None,
    };
    Some(days_from_civil(d[0], d[1], d[2]) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2] - offset)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What a token's expiry means now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    /// No expiry sent, or far enough away.
    Fine,
    /// Expires within the warning window: days left (rounded down) and the date as GitHub
    /// wrote it.
    Soon {
        days: i64,
        when: String,
    },
    Expired {
        when: String,
    },
    /// GitHub sent a header slipway cannot read.
    Unreadable(String),
}

pub fn expiry(header: Option<&str>, now: i64, warn_days: u64) -> Expiry {
    let Some(text) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return Expiry::Fine;
    };
    let Some(at) = parse_expiry(text) else {
        return Expiry::Unreadable(text.to_string());
    };
    let when = text.to_string();
    if at <= now {
        Expiry::Expired { when }
    } else if at - now <= warn_days as i64 * 86_400 {
        Expiry::Soon {
            days: (at - now) / 86_400,
            when,
        }
    } else {
        Expiry::Fine
    }
}

/// The problem with a `repos/get` answer's `permissions` for creating releases (push or admin
/// needed); `None` when they suffice or GitHub sent none (an app token: its own scopes apply).
pub fn release_permission(repo: &str, body: &Json) -> Option<String> {
    let perms = body.get("permissions")?.as_object()?;
    let has = |k: &str| perms.get(k).and_then(Json::as_bool).unwrap_or(false);
    if has("push") || has("admin") || has("maintain") {
        return None;
    }
    let held: Vec<&str> = perms
        .iter()
        .filter(|(_, v)| v.as_bool() == Some(true))
        .map(|(k, _)| k.as_str())
        .collect();
    Some(format!(
        "the GitHub token may not create releases in {repo} (it has {}; push or admin is needed): \
         use a token with contents: write",
        if held.is_empty() {
            "no permission".to_string()
        } else {
            held.join(", ")
        }
    ))
}

/// Does this look like a PyPI API token (then its form is checked)?
pub fn looks_like_pypi_token(user: &str, password: &str) -> bool {
    user == "__token__" || password.starts_with("pypi-")
}

/// The problem with a PyPI API token's form: `pypi-` then a base64url macaroon (version 2).
pub fn pypi_token_problem(token: &str) -> Option<String> {
    let Some(body) = token.strip_prefix("pypi-") else {
        return Some(
            "PYPI_TOKEN is not a PyPI API token (they start with `pypi-`): copy the whole token \
             from https://pypi.org/manage/account/token/"
                .into(),
        );
    };
    let std: String = body
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    match crate::base64::decode(&std) {
        Some(bytes) if bytes.len() >= 16 && bytes[0] == 2 => None,
        _ => Some(
            "PYPI_TOKEN starts with `pypi-` but the rest is not a macaroon (it does not decode): \
             was it cut short when pasted? Copy the whole token again"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expiry_headers_parse() {
        for (text, want) in [
            ("2026-12-20 10:00:00 UTC", Some(1_797_760_800)),
            ("2026-12-20 12:00:00 +0200", Some(1_797_760_800)),
            ("1970-01-01 00:00:00 UTC", Some(0)),
            ("2026-13-01 00:00:00 UTC", None),
            ("tomorrow", None),
        ] {
            assert_eq!(parse_expiry(text), want, "{text}");
        }
    }

    #[test]
    fn expiry_verdicts() {
        let now = parse_expiry("2026-12-02 10:00:00 UTC").unwrap();
        for (header, want) in [
            (None, Expiry::Fine),
            (Some("2027-06-01 00:00:00 UTC"), Expiry::Fine),
            (
                Some("2026-12-10 10:00:00 UTC"),
                Expiry::Soon {
                    days: 8,
                    when: "2026-12-10 10:00:00 UTC".into(),
                },
            ),
            (
                Some("2026-12-01 10:00:00 UTC"),
                Expiry::Expired {
                    when: "2026-12-01 10:00:00 UTC".into(),
                },
            ),
            (Some("soon"), Expiry::Unreadable("soon".into())),
        ] {
            assert_eq!(expiry(header, now, 14), want, "{header:?}");
        }
        assert_eq!(
            expiry(Some("2026-12-10 10:00:00 UTC"), now, 7),
            Expiry::Fine
        );
    }

    #[test]
    fn release_permissions() {
        let p = |v: Json| json!({ "permissions": v });
        assert_eq!(
            release_permission("a/b", &p(json!({"push": true, "pull": true}))),
            None
        );
        assert_eq!(release_permission("a/b", &p(json!({"admin": true}))), None);
        assert_eq!(release_permission("a/b", &json!({})), None);
        let msg = release_permission("a/b", &p(json!({"pull": true, "push": false}))).unwrap();
        assert!(
            msg.contains("may not create releases in a/b (it has pull;"),
            "{msg}"
        );
    }

    #[test]
    fn pypi_token_forms() {
        // A macaroon v2 header: version 2, then the location field.
        let mac = crate::base64::encode(b"\x02\x01\x08pypi.org\x02\x01identifier-bytes");
        let url: String = mac
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        assert_eq!(pypi_token_problem(&format!("pypi-{url}")), None);
        assert!(pypi_token_problem("abc")
            .unwrap()
            .contains("start with `pypi-`"));
        assert!(pypi_token_problem("pypi-!!notbase64")
            .unwrap()
            .contains("does not decode"));
        assert!(pypi_token_problem("pypi-AgEI")
            .unwrap()
            .contains("does not decode"));
        assert!(looks_like_pypi_token("__token__", "x"));
        assert!(!looks_like_pypi_token("alice", "secret"));
    }
}
