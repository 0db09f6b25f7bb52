//! One way to make HTTP clients: statuses are answers, not errors; a timeout always; and no proxy
//! for loopback URLs (a proxy meant for other tools must never capture the local services).
//! Reads that must stay on one host ([`get_on_host`]) follow no redirect to another.

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

/// The origin of an absolute URL: `scheme://host[:port]`, lowercased (`""` when not absolute).
pub fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) if !scheme.is_empty() => {
            format!("{}://{}", scheme, host_of(url)).to_ascii_lowercase()
        }
        _ => String::new(),
    }
}

/// Resolves a `Location` header against the URL it answered.
pub fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme = base.split("://").next().unwrap_or("http");
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    let origin = format!("{scheme}://{}", host_of(base));
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    // Relative to the base's directory (query and fragment dropped).
    let path = &base[origin.len()..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("{origin}{dir}{location}")
}

/// What a read that stays on its host got.
pub enum OnHost {
    /// The answer (after redirects within the same origin, if any): any status but a redirect.
    Answer(ureq::http::Response<ureq::Body>),
    /// A redirect to another origin, not followed: the URL that redirected and the target.
    Elsewhere { from: String, to: String },
}

/// GETs `url` with `headers`, following redirects only while they stay on the origin of `url`
/// (scheme, host and port): a redirect anywhere else is returned as [`OnHost::Elsewhere`] without
/// a single byte sent there (no lookup, no connection).
pub fn get_on_host(
    url: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<OnHost, ureq::Error> {
    let home = origin(url);
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .user_agent("slipway");
    if is_loopback(host_of(url)) {
        cfg = cfg.proxy(None);
    }
    let agent: ureq::Agent = cfg.build().into();
    let mut at = url.to_string();
    for _ in 0..10 {
        let mut req = agent.get(&at);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.call()?;
        if !resp.status().is_redirection() {
            return Ok(OnHost::Answer(resp));
        }
        let Some(location) = resp.headers().get("location").and_then(|v| v.to_str().ok()) else {
            return Ok(OnHost::Answer(resp));
        };
        let next = resolve(&at, location);
        if origin(&next) != home {
            return Ok(OnHost::Elsewhere { from: at, to: next });
        }
        at = next;
    }
    Err(ureq::Error::TooManyRedirects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_locations() {
        assert_eq!(
            origin("http://127.0.0.1:8080/simple/x/"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin("HTTPS://PyPI.org/simple/"), "https://pypi.org");
        assert_eq!(origin("/simple/"), "");
        let base = "http://127.0.0.1:8080/simple/Demo/";
        assert_eq!(
            resolve(base, "https://pypi.org/simple/demo/"),
            "https://pypi.org/simple/demo/"
        );
        assert_eq!(resolve(base, "//pypi.org/x"), "http://pypi.org/x");
        assert_eq!(
            resolve(base, "/simple/demo/"),
            "http://127.0.0.1:8080/simple/demo/"
        );
        assert_eq!(
            resolve(base, "../demo/"),
            "http://127.0.0.1:8080/simple/Demo/../demo/"
        );
        assert_eq!(
            resolve("http://127.0.0.1:8080/simple/demo", "demo/"),
            "http://127.0.0.1:8080/simple/demo/"
        );
    }

    /// A one-thread HTTP server on loopback answering each request with the next of `answers`;
    /// returns its base URL and the request lines it got.
    fn serve(answers: Vec<String>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for a in answers {
                let (s, _) = l.accept().unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                seen.push(line.trim().to_string());
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap() == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                let mut s = s;
                s.write_all(a.as_bytes()).unwrap();
            }
            seen
        });
        (base, h)
    }

    #[test]
    fn redirects_on_the_host_are_followed_and_elsewhere_are_not() {
        let (base, server) = serve(vec![
            "HTTP/1.1 301 Moved\r\nLocation: /simple/demo/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
            "HTTP/1.1 303 See Other\r\nLocation: https://pypi.org/simple/demo/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
        ]);
        let url = format!("{base}/simple/Demo/");
        match get_on_host(&url, &[], Duration::from_secs(5)).unwrap() {
            OnHost::Elsewhere { from, to } => {
                assert_eq!(from, format!("{base}/simple/demo/"));
                assert_eq!(to, "https://pypi.org/simple/demo/");
            }
            OnHost::Answer(r) => panic!("followed off the host: {}", r.status()),
        }
        assert_eq!(
            server.join().unwrap(),
            ["GET /simple/Demo/ HTTP/1.1", "GET /simple/demo/ HTTP/1.1"]
        );
    }

    #[test]
    fn hosts() {
        assert_eq!(host_of("http://127.0.0.1:8080/simple/"), "127.0.0.1:8080");
        assert_eq!(host_of("https://pypi.org"), "pypi.org");
        assert_eq!(host_of("nonsense"), "");
    }
}
