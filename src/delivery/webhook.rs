//! `--webhook URL`: a JSON POST per message. Its `text` reads well in Slack and
//! Mattermost (incoming webhooks take `text`); `ntop_rs` carries the message and the
//! alert reports themselves for anything else.

use std::time::Duration;

use serde_json::json;

use super::{Message, Transport};

/// Posts to one URL.
pub struct Webhook {
    url: String,
    /// The URL's scheme and host only: the rest of a webhook URL is often its secret,
    /// and must not reach the summary or the logs.
    shown: String,
    agent: ureq::Agent,
}

/// Checks a webhook URL: http or https, with a host.
pub fn parse(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("{url}: not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{url}: no host"));
    }
    Ok(url.to_string())
}

impl Webhook {
    /// A webhook to `url` (checked by [`parse`]).
    pub fn new(url: String) -> Webhook {
        let config = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build();
        let shown = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        Webhook { url, shown, agent: config.into() }
    }
}

/// The JSON body of a message.
pub fn body(m: &Message) -> String {
    let text = match m.occasion {
        super::Occasion::Digest => format!("*{}*\n{}", m.subject, m.body),
        _ => format!("*{}*\n```\n{}```", m.subject, m.body),
    };
    json!({
        "text": text,
        "ntop_rs": {
            "occasion": m.occasion.name(),
            "subject": m.subject,
            "alerts": m.alerts,
            "left_out": m.left_out,
        }
    })
    .to_string()
}

impl Transport for Webhook {
    fn send(&mut self, m: &Message) -> Result<(), String> {
        match self.agent.post(&self.url).content_type("application/json").send(body(m).as_bytes()) {
            Ok(_) => Ok(()),
            // ureq's message names the URL for some errors: only the host is shown.
            Err(e) => Err(format!("webhook {}: {}", self.shown, e.to_string().replace(&self.url, &self.shown))),
        }
    }
}
