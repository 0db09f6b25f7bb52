//! A small SMTP client (RFC 5321) for notices: EHLO, STARTTLS when the server offers it (RFC
//! 3207, rustls — the TLS stack ureq already builds — with the webpki roots plus `SMTP_CA_FILE`
//! when set), AUTH PLAIN/LOGIN, MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT, every read and
//! write under a timeout.
//!
//! Credentials go only over TLS or to a loopback server: a server elsewhere that offers no
//! STARTTLS gets the mail without AUTH only when no credentials are set; a mail that needs them is
//! refused with a message that says why. A failed TLS handshake never falls back to plain text.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::run::plan::{Call, Request};
use crate::run::ui;

/// `smtp://host[:port]` (port 25 by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
}

impl Server {
    pub fn parse(url: &str) -> Result<Server, String> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| format!("{url:?} is not an smtp://host:port URL"))?;
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || rest.contains('@') {
            return Err(format!(
                "{:?} is not an smtp://host:port URL (credentials go in SMTP_USERNAME and \
                 SMTP_PASSWORD)",
                ui::redact(url)
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse::<u16>()
                    .map_err(|_| format!("{url:?}: the port {p:?} is not a number"))?,
            ),
            _ => (rest.to_string(), 25),
        };
        if host.is_empty() {
            return Err(format!("{url:?} names no host"));
        }
        Ok(Server { host, port })
    }

    pub fn url(&self) -> String {
        format!("smtp://{}:{}", self.host, self.port)
    }

    pub fn is_loopback(&self) -> bool {
        crate::run::net::is_loopback(&self.host)
    }
}

/// One message to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub server: Server,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// `SMTP_USERNAME` / `SMTP_PASSWORD` (registered as secrets).
    pub auth: Option<(String, String)>,
    pub timeout: Duration,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("server", &self.server)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &ui::redact(&self.subject))
            .field("auth", &self.auth.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Mail {
    /// The whole message (headers + body), CRLF line ends, not yet dot-stuffed.
    pub fn message(&self) -> String {
        let mut m = format!(
            "From: {}\r\nTo: {}\r\nSubject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; \
             charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nX-Mailer: slipway\r\n\r\n",
            self.from,
            self.to.join(", "),
            self.subject.replace(['\r', '\n'], " "),
        );
        for line in self.body.lines() {
            m.push_str(line);
            m.push_str("\r\n");
        }
        m
    }

    /// The DATA payload: dot-stuffed, ended by `<CRLF>.<CRLF>`.
    pub fn data(&self) -> String {
        let mut out = String::new();
        for line in self.message().split_inclusive("\r\n") {
            if line.starts_with('.') {
                out.push('.');
            }
            out.push_str(line);
        }
        out.push_str(".\r\n");
        out
    }

    /// Sends it: one SMTP session.
    pub fn send(&self) -> Result<()> {
        let addr = (self.server.host.as_str(), self.server.port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}", self.server.url()))?
            .next()
            .ok_or_else(|| anyhow!("{} resolves to no address", self.server.url()))?;
        let stream = TcpStream::connect_timeout(&addr, self.timeout)
            .with_context(|| format!("cannot connect to {}", self.server.url()))?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let mut s = Session {
            reader: BufReader::new(Conn::Plain(stream)),
            url: self.server.url(),
        };
        s.expect(&[220], "the greeting")?;
        let mut ehlo = s.command("EHLO slipway.localhost", &[250])?;
        let offers = |lines: &[String], what: &str| {
            lines.iter().any(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case(what))
            })
        };
        let mut tls = false;
        if offers(&ehlo, "STARTTLS") {
            s.command("STARTTLS", &[220])?;
            s.start_tls(&self.server.host)?;
            tls = true;
            ehlo = s.command("EHLO slipway.localhost", &[250])?;
        }
        if let Some((user, password)) = &self.auth {
            if !tls && !self.server.is_loopback() {
                let _ = s.command("QUIT", &[221]);
                bail!(
                    "not sending the mail to {}: it offers no STARTTLS, and SMTP_USERNAME/\
                     SMTP_PASSWORD would go over a plain connection; use a server with STARTTLS \
                     or a relay on 127.0.0.1",
                    self.server.url()
                );
            }
            let mechs: Vec<String> = ehlo
                .iter()
                .filter_map(|l| {
                    let l = l.to_ascii_uppercase();
                    l.strip_prefix("AUTH")
                        .map(|r| r.trim_start_matches([' ', '=']).to_string())
                })
                .flat_map(|r| r.split_whitespace().map(String::from).collect::<Vec<_>>())
                .collect();
            if mechs.iter().any(|m| m == "PLAIN") {
                let token = b64(format!("\0{user}\0{password}").as_bytes());
                ui::register_secret(&token);
                s.secret_command(&format!("AUTH PLAIN {token}"), &[235], "AUTH PLAIN")?;
            } else if mechs.iter().any(|m| m == "LOGIN") {
                s.command("AUTH LOGIN", &[334])?;
                let u = b64(user.as_bytes());
                let p = b64(password.as_bytes());
                ui::register_secret(&p);
                s.secret_command(&u, &[334], "the user name")?;
                s.secret_command(&p, &[235], "the password")?;
            } else {
                bail!(
                    "{} offers no AUTH PLAIN or LOGIN (it said: {}); unset SMTP_USERNAME and \
                     SMTP_PASSWORD or use a server that does",
                    self.server.url(),
                    ehlo.join(" | ")
                );
            }
        }
        s.command(&format!("MAIL FROM:<{}>", self.from), &[250])?;
        for to in &self.to {
            s.command(&format!("RCPT TO:<{to}>"), &[250, 251])?;
        }
        s.command("DATA", &[354])?;
        s.reader
            .get_mut()
            .write_all(self.data().as_bytes())
            .and_then(|()| s.reader.get_mut().flush())
            .with_context(|| format!("cannot send the message to {}", self.server.url()))?;
        s.expect(&[250], "the message")?;
        let _ = s.command("QUIT", &[221]);
        Ok(())
    }

    /// How the plan shows it: `MAIL smtp://host:port  to a@b: <subject>`.
    pub fn request(&self) -> Request {
        Request {
            method: "MAIL".into(),
            url: self.server.url(),
            headers: Vec::new(),
            body: Some(ui::redact(&format!(
                "to {} from {}: {}",
                self.to.join(", "),
                self.from,
                self.subject
            ))),
            service: format!("the SMTP server {}", self.server.url()),
        }
    }
}

/// A mail is a [`Call`]: one typed sub-step the dry run lists and the executor applies.
impl Call for Mail {
    fn requests(&self) -> Vec<Request> {
        vec![self.request()]
    }
    fn call(&self) -> Result<Vec<(String, String)>> {
        self.send().map(|()| Vec::new())
    }
}

/// The connection: plain TCP, or TLS after STARTTLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// Only while switching.
    Gone,
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
            Conn::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
            Conn::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
            Conn::Gone => Ok(()),
        }
    }
}

/// The TLS client configuration: the webpki roots, plus the PEM certificates in `SMTP_CA_FILE`
/// (a private relay's CA) when set.
fn tls_config() -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(file) = std::env::var_os("SMTP_CA_FILE").filter(|f| !f.is_empty()) {
        let shown = std::path::Path::new(&file).display().to_string();
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(&file)
            .with_context(|| format!("SMTP_CA_FILE {shown}: cannot read it"))?
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!("SMTP_CA_FILE {shown}: not PEM certificates: {e}"))?;
        if certs.is_empty() {
            bail!("SMTP_CA_FILE {shown} holds no certificate");
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| anyhow!("SMTP_CA_FILE {shown}: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

struct Session {
    reader: BufReader<Conn>,
    url: String,
}

impl Session {
    /// Switches the connection to TLS (after `STARTTLS` was answered 220), verifying the
    /// server's certificate for `host`; the handshake completes before anything else is sent.
    fn start_tls(&mut self, host: &str) -> Result<()> {
        if !self.reader.buffer().is_empty() {
            bail!("{} sent data before the TLS handshake", self.url);
        }
        let conn = std::mem::replace(self.reader.get_mut(), Conn::Gone);
        let Conn::Plain(tcp) = conn else {
            bail!("{}: STARTTLS twice", self.url);
        };
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| anyhow!("{host:?} is not a TLS server name: {e}"))?;
        let client = rustls::ClientConnection::new(tls_config()?, name)
            .map_err(|e| anyhow!("TLS with {}: {e}", self.url))?;
        let mut tls = rustls::StreamOwned::new(client, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .with_context(|| format!("the TLS handshake with {} failed", self.url))?;
        }
        *self.reader.get_mut() = Conn::Tls(Box::new(tls));
        Ok(())
    }

    /// Reads one (possibly multi-line) reply; its lines without the codes.
    fn reply(&mut self) -> Result<(u16, Vec<String>)> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .with_context(|| format!("{} did not answer", self.url))?;
            if n == 0 {
                bail!("{} closed the connection", self.url);
            }
            let line = line.trim_end();
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| anyhow!("{} answered {line:?}: not SMTP", self.url))?;
            lines.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, lines));
            }
        }
    }

    fn expect(&mut self, ok: &[u16], what: &str) -> Result<Vec<String>> {
        let (code, lines) = self.reply()?;
        if !ok.contains(&code) {
            bail!(
                "{} refused {what}: {code} {}",
                self.url,
                ui::redact(&lines.join(" "))
            );
        }
        Ok(lines)
    }

    fn command(&mut self, line: &str, ok: &[u16]) -> Result<Vec<String>> {
        self.write(line)?;
        let verb = line.split(':').next().unwrap_or(line).to_string();
        self.expect(ok, &format!("`{}`", ui::redact(&verb)))
    }

    /// A line that carries a credential: never named in an error.
    fn secret_command(&mut self, line: &str, ok: &[u16], what: &str) -> Result<Vec<String>> {
        self.write(line)?;
        self.expect(ok, what)
    }

    fn write(&mut self, line: &str) -> Result<()> {
        let w = self.reader.get_mut();
        w.write_all(format!("{line}\r\n").as_bytes())
            .and_then(|()| w.flush())
            .with_context(|| format!("cannot write to {}", self.url))
    }
}

/// Base64 (standard alphabet, padded).
pub fn b64(data: &[u8]) -> String {
    crate::core::base64::encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> Mail {
        Mail {
            server: Server::parse("smtp://127.0.0.1:2525").unwrap(),
            from: "slipway@host".into(),
            to: vec!["a@b.example".into()],
            subject: "x".into(),
            body: "line\n.dot\n..two".into(),
            auth: None,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            Server::parse("smtp://mail.example").unwrap(),
            Server {
                host: "mail.example".into(),
                port: 25
            }
        );
        assert_eq!(Server::parse("smtp://127.0.0.1:2525").unwrap().port, 2525);
        assert!(Server::parse("http://x").is_err());
        assert!(Server::parse("smtp://u:p@x:25").is_err());
        assert!(Server::parse("smtp://x:nope").is_err());
        assert!(Server::parse("smtp://127.0.0.1:1").unwrap().is_loopback());
    }

    #[test]
    fn dot_stuffing_and_end() {
        let d = mail().data();
        assert!(d.contains("\r\nline\r\n..dot\r\n...two\r\n.\r\n"), "{d:?}");
        assert!(d.starts_with("From: slipway@host\r\nTo: a@b.example\r\nSubject: x\r\n"));
    }

    #[test]
    fn base64() {
        assert_eq!(b64(b""), "");
        assert_eq!(b64(b"f"), "Zg==");
        assert_eq!(b64(b"fo"), "Zm8=");
        assert_eq!(b64(b"foo"), "Zm9v");
        assert_eq!(b64(b"\0u\0p"), "AHUAcA==");
    }

    #[test]
    fn the_plan_line() {
        let r = mail().request();
        assert_eq!(r.method, "MAIL");
        assert_eq!(r.url, "smtp://127.0.0.1:2525");
        assert_eq!(
            r.body.as_deref(),
            Some("to a@b.example from slipway@host: x")
        );
    }
}
