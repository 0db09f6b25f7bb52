//! Just enough HTTP/1.1 for a test server: request line (origin-form and the absolute-form a
//! proxy client sends), headers, `Content-Length` and chunked bodies, `Expect: 100-continue`,
//! keep-alive.

use std::io::{self, BufRead, Read, Write};

/// Largest request body accepted (release assets in tests are small).
const MAX_BODY: usize = 256 << 20;
const MAX_LINE: usize = 64 << 10;
const MAX_HEADERS: usize = 200;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From an absolute-form target, else the `Host` header.
    pub host: Option<String>,
    /// Raw (still percent-encoded) path, starting with `/`.
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client wants the connection kept open after this exchange.
    pub fn keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.version == "HTTP/1.0" {
            conn.contains("keep-alive")
        } else {
            !conn.contains("close")
        }
    }

    /// `host/path?query` as shown in logs.
    pub fn shown(&self) -> String {
        let mut s = format!(
            "{} {}{}",
            self.method,
            self.host.as_deref().unwrap_or(""),
            self.path
        );
        if !self.query.is_empty() {
            s.push('?');
            s.push_str(&self.query);
        }
        s
    }
}

#[derive(Debug)]
pub enum ReadError {
    /// The client closed the connection between requests.
    Closed,
    /// Reading failed (timeout, reset).
    Io,
    /// Not HTTP we understand; answered with 400 and the connection closed.
    Malformed(String),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> ReadError {
        ReadError::Io
    }
}

fn bad(msg: impl Into<String>) -> ReadError {
    ReadError::Malformed(msg.into())
}

fn read_line(r: &mut impl BufRead) -> Result<Option<String>, ReadError> {
    let mut buf = Vec::new();
    let n = r.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Err(bad("line too long"));
    }
    if buf.last() != Some(&b'\n') {
        return Err(bad("connection closed inside a line"));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| bad("non-UTF-8 request head"))
}

/// Reads one request. `w` is needed to answer `Expect: 100-continue` before the body.
pub fn read_request(r: &mut impl BufRead, w: &mut impl Write) -> Result<Request, ReadError> {
    // Tolerate empty lines before a request line (RFC 9112 §2.2).
    let line = loop {
        match read_line(r)? {
            None => return Err(ReadError::Closed),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => {
            (m.to_string(), t.to_string(), v.to_string())
        }
        _ => return Err(bad(format!("bad request line {line:?}"))),
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(bad(format!("unsupported version {version}")));
    }
    let mut headers = Vec::new();
    loop {
        let Some(h) = read_line(r)? else {
            return Err(bad("connection closed inside the headers"));
        };
        if h.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(bad("too many headers"));
        }
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header line {h:?}")))?;
        if k.is_empty() || k.ends_with(' ') {
            return Err(bad(format!("bad header name {k:?}")));
        }
        headers.push((k.to_string(), v.trim().to_string()));
    }
    let mut req = Request {
        method,
        version,
        headers,
        body: Vec::new(),
        host: None,
        path: String::new(),
        query: String::new(),
    };
    let path_and_query = if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        let (authority, pq) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        req.host = Some(authority.to_ascii_lowercase());
        pq.to_string()
    } else if target.starts_with('/') {
        req.host = req.header("host").map(str::to_ascii_lowercase);
        target.clone()
    } else if req.method == "CONNECT" {
        req.host = Some(target.to_ascii_lowercase());
        String::new()
    } else {
        return Err(bad(format!("unsupported request target {target:?}")));
    };
    let pq = path_and_query.split('#').next().unwrap_or("");
    let (path, query) = pq.split_once('?').unwrap_or((pq, ""));
    req.path = path.to_string();
    req.query = query.to_string();

    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let length = match req.header("content-length") {
        Some(v) => Some(
            v.parse::<usize>()
                .map_err(|_| bad(format!("bad Content-Length {v:?}")))?,
        ),
        None => None,
    };
    if (chunked || length.is_some_and(|n| n > 0))
        && req
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }
    if chunked {
        loop {
            let Some(size_line) = read_line(r)? else {
                return Err(bad("connection closed inside a chunked body"));
            };
            let size_text = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| bad(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while let Some(t) = read_line(r)? {
                    if t.is_empty() {
                        break;
                    }
                }
                break;
            }
            if req.body.len() + size > MAX_BODY {
                return Err(bad("body too large"));
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            r.read_exact(&mut req.body[start..])?;
            match read_line(r)? {
                Some(l) if l.is_empty() => {}
                _ => return Err(bad("chunk not followed by CRLF")),
            }
        }
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(bad("body too large"));
        }
        req.body.resize(n, 0);
        r.read_exact(&mut req.body)?;
    }
    Ok(req)
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: serde_json::to_vec_pretty(value).expect("JSON serialises"),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes a response; `head_only` (a HEAD request) sends the headers of the full response
/// without its body.
pub fn write_response(
    w: &mut impl Write,
    resp: &Response,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if resp.status != 204 && resp.status != 304 {
        out.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    if !keep_alive {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&resp.body);
    }
    w.write_all(&bytes)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> (Result<Request, ReadError>, Vec<u8>) {
        let mut r = io::BufReader::new(raw);
        let mut w = Vec::new();
        let req = read_request(&mut r, &mut w);
        (req, w)
    }

    #[test]
    fn absolute_form_chunked_and_continue() {
        let raw = b"POST http://api.github.localhost/repos/a/b/releases?x=1 HTTP/1.1\r\nHost: api.github.localhost\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n4\r\n{\"a\"\r\n5;ext=1\r\n:1}\r\n\r\n0\r\nTrailer: x\r\n\r\n";
        let (req, w) = parse(raw);
        let req = req.unwrap();
        assert_eq!(req.host.as_deref(), Some("api.github.localhost"));
        assert_eq!(req.path, "/repos/a/b/releases");
        assert_eq!(req.query, "x=1");
        assert_eq!(req.body, b"{\"a\":1}\r\n");
        assert_eq!(w, b"HTTP/1.1 100 Continue\r\n\r\n");
        assert!(req.keep_alive());
    }

    #[test]
    fn origin_form_and_errors() {
        let (req, _) =
            parse(b"GET /x HTTP/1.0\r\nHost: 127.0.0.1:9\r\nContent-Length: 2\r\n\r\nhi");
        let req = req.unwrap();
        assert_eq!(req.host.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(req.body, b"hi");
        assert!(!req.keep_alive());
        assert!(matches!(parse(b"").0, Err(ReadError::Closed)));
        assert!(matches!(
            parse(b"GARBAGE\r\n\r\n").0,
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n").0,
            Err(ReadError::Malformed(_))
        ));
        let (req, _) = parse(b"CONNECT api.github.com:443 HTTP/1.1\r\n\r\n");
        assert_eq!(req.unwrap().host.as_deref(), Some("api.github.com:443"));
    }

    #[test]
    fn head_responses_have_no_body() {
        let resp = Response::json(200, &serde_json::json!({"a": 1}));
        let mut out = Vec::new();
        write_response(&mut out, &resp, true, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains(&format!("Content-Length: {}\r\n", resp.body.len())));
        assert!(text.ends_with("\r\n\r\n"));
    }
}
