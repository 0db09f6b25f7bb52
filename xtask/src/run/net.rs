//! One way to make HTTP clients: statuses are answers, not errors; a timeout always; and no proxy
//! for loopback URLs (a proxy meant for other tools must never capture the local services).

use std::time::Duration;

/// The host (with port) of an `http(s)://host[:port]/…` URL.
pub fn host_of(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("")
}

/// Is this registry on the loopback interface (spoken to over plain HTTP)?
pub fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, p)| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            registry
        }
    });
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

/// An agent for requests to `url`.
pub fn agent(url: &str, timeout: Duration) -> ureq::Agent {
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent("slipway");
    if is_loopback(host_of(url)) {
        cfg = cfg.proxy(None);
    }
    cfg.build().into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts() {
        assert_eq!(
            super::host_of("http://127.0.0.1:8080/simple/"),
            "127.0.0.1:8080"
        );
        assert_eq!(super::host_of("https://pypi.org"), "pypi.org");
        assert_eq!(super::host_of("nonsense"), "");
    }
}
