//! `--mail-to ADDR --smtp smtp://[user@]host[:587]` (STARTTLS, required) or
//! `smtps://[user@]host[:465]` (implicit TLS): lettre over rustls. The password comes
//! from the environment (`NTOP_RS_SMTP_PASSWORD`), never from a flag; `--smtp-ca FILE`
//! trusts a private CA (PEM) besides the public roots.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport as _};

use super::{Message, Transport};

/// The environment variable the SMTP password is read from.
pub const PASSWORD_ENV: &str = "NTOP_RS_SMTP_PASSWORD";

/// A parsed `--smtp` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Host name (also the name its certificate must carry).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Implicit TLS (smtps) rather than STARTTLS.
    pub implicit_tls: bool,
    /// User to log in as, if any.
    pub user: Option<String>,
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex =
                s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("bad %-escape in the user")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user is not UTF-8".to_string())
}

/// Reads a `--smtp` URL.
pub fn parse(url: &str) -> Result<Server, String> {
    let (rest, implicit_tls, default_port) = if let Some(r) = url.strip_prefix("smtps://") {
        (r, true, 465)
    } else if let Some(r) = url.strip_prefix("smtp://") {
        (r, false, 587)
    } else {
        return Err(format!("{url}: expected smtp://[user@]host[:port] (STARTTLS) or smtps://[user@]host[:port]"));
    };
    let rest = rest.trim_end_matches('/');
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    if user.is_some_and(|u| u.contains(':')) {
        return Err(format!("--smtp: no password in the URL; put it in ${PASSWORD_ENV} or the config file"));
    }
    let user = user.map(percent_decode).transpose()?;
    // `[v6-address]` or `[v6-address]:port`; else `host` or `host:port`.
    let (host, port_text) = match hostport.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((h, rest)) => (h, rest.strip_prefix(':')),
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    let port = match port_text {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("{url}: bad port"))?,
        None => default_port,
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok(Server { host: host.to_string(), port, implicit_tls, user })
}

/// Sends mail through one server.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Mailer {
    /// A mailer for `server`, from `from` to `to`, trusting `ca_pem` too; the password
    /// from `password` (the environment or the config file).
    pub fn new(
        server: &Server,
        from: &str,
        to: &[String],
        ca_pem: Option<&[u8]>,
        password: Option<String>,
    ) -> Result<Mailer, String> {
        let mut tls = TlsParameters::builder(server.host.clone());
        if let Some(pem) = ca_pem {
            tls = tls.add_root_certificate(Certificate::from_pem(pem).map_err(|e| format!("--smtp-ca: {e}"))?);
        }
        let tls = tls.build().map_err(|e| format!("--smtp: {e}"))?;
        let mut b = SmtpTransport::builder_dangerous(server.host.as_str())
            .port(server.port)
            .tls(if server.implicit_tls { Tls::Wrapper(tls) } else { Tls::Required(tls) })
            .timeout(Some(Duration::from_secs(10)));
        match (&server.user, password) {
            (Some(user), Some(pass)) => b = b.credentials(Credentials::new(user.clone(), pass)),
            (Some(_), None) => return Err(format!("--smtp names a user: set ${PASSWORD_ENV} to its password")),
            _ => {}
        }
        let from: Mailbox = from.parse().map_err(|e| format!("--mail-from {from}: {e}"))?;
        let to = to
            .iter()
            .map(|t| t.parse::<Mailbox>().map_err(|e| format!("--mail-to {t}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Mailer { transport: b.build(), from, to })
    }
}

impl Transport for Mailer {
    fn send(&mut self, m: &Message) -> Result<(), String> {
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(m.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        for t in &self.to {
            b = b.to(t.clone());
        }
        let mail = b.body(m.body.clone()).map_err(|e| format!("mail: {e}"))?;
        self.transport.send(&mail).map(|_| ()).map_err(|e| format!("mail: {e}"))
    }
}
