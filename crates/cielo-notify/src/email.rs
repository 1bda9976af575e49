//! Email providers behind one trait: `outbox` (files), `smtp` (lettre),
//! `resend`, `sendgrid` and `ses` (SES v2 `SendEmail`, SigV4-signed).
//!
//! Each provider sorts its failures into the two kinds the sender needs:
//! [`SendError::Definite`] (the provider did not take the message: safe to
//! try again) and [`SendError::Unknown`] (it may have: only a provider with an
//! idempotency key may be asked again).

use crate::providers::{accepted_by_id, http_error, status_error, Accepted, SendError};
use async_trait::async_trait;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// An email ready to hand over.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    /// `Shop <orders@example.com>`.
    pub from: String,
    /// Reply-To, if any.
    pub reply_to: Option<String>,
    /// The recipient's address.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// The send intent's idempotency key: also the `Message-ID`'s local part,
    /// so a retried SMTP send carries the same id.
    pub idempotency_key: String,
    /// `List-Unsubscribe` value, only for mail a person can opt out of.
    pub list_unsubscribe: Option<String>,
}

impl OutgoingEmail {
    /// `<key@domain-of-from>`.
    pub fn message_id_header(&self) -> String {
        let domain = self
            .from
            .rsplit('@')
            .next()
            .map(|d| d.trim_end_matches('>').trim())
            .filter(|d| !d.is_empty())
            .unwrap_or("cielo.invalid");
        format!("<{}@{}>", self.idempotency_key, domain)
    }

    /// The RFC 5322 message: multipart/alternative (text, then HTML), with
    /// `Message-ID`, `Date` and `List-Unsubscribe` where it applies.
    pub fn to_mime(&self) -> Result<lettre::Message, SendError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| SendError::Definite {
            reason: format!("{what}: {e}"),
            retryable: false,
            retry_after: None,
        };
        let from: Mailbox = self.from.parse().map_err(|e| bad("notify.from", &e))?;
        let to: Mailbox = self.to.parse().map_err(|e| bad("recipient", &e))?;
        let mut b = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(self.subject.clone())
            .message_id(Some(self.message_id_header()))
            .date_now();
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.parse().map_err(|e| bad("notify.reply_to", &e))?);
        }
        if let Some(u) = &self.list_unsubscribe {
            b = b.header(ListUnsubscribe(u.clone()));
        }
        b.multipart(MultiPart::alternative_plain_html(
            self.text.clone(),
            self.html.clone(),
        ))
        .map_err(|e| bad("building the message", &e))
    }
}

/// The `List-Unsubscribe` header (RFC 2369).
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Sends email.
#[async_trait]
pub trait EmailProvider: Send + Sync {
    /// `outbox`, `smtp`, `resend`, `sendgrid` or `ses`.
    fn name(&self) -> &'static str;
    /// True when asking again with the same idempotency key cannot send a
    /// second email (so an unknown outcome may be retried).
    fn idempotent(&self) -> bool;
    /// Hands one email over.
    async fn send(&self, email: &OutgoingEmail) -> Result<Accepted, SendError>;
}

/// Shared provider handle.
pub type SharedEmail = Arc<dyn EmailProvider>;

/// Writes each email as `<dir>/<idempotency key>.eml` (written whole, then
/// renamed): the same key rewrites the same file, so it is idempotent.
pub struct OutboxEmail {
    dir: PathBuf,
}

impl OutboxEmail {
    /// Writes into `dir` (created when missing).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

/// Writes `bytes` to `dir/name` atomically.
pub(crate) async fn write_atomically(
    dir: &std::path::Path,
    name: &str,
    bytes: &[u8],
) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, dir.join(name)).await
}

#[async_trait]
impl EmailProvider for OutboxEmail {
    fn name(&self) -> &'static str {
        "outbox"
    }
    fn idempotent(&self) -> bool {
        true
    }
    async fn send(&self, email: &OutgoingEmail) -> Result<Accepted, SendError> {
        let bytes = email.to_mime()?.formatted();
        let name = format!("{}.eml", email.idempotency_key);
        write_atomically(&self.dir, &name, &bytes)
            .await
            .map_err(|e| SendError::Definite {
                reason: format!("writing the outbox: {e}"),
                retryable: true,
                retry_after: None,
            })?;
        Ok(Accepted {
            provider_message_id: name,
        })
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS (`smtp://`, loopback relays only).
    Plain,
    /// STARTTLS required (`smtp://…?tls=required`).
    StartTls,
    /// Implicit TLS (`smtps://`).
    Implicit,
}

/// SMTP settings parsed from `notify.smtp_url`.
#[derive(Clone)]
pub struct SmtpConfig {
    /// Host name or address.
    pub host: String,
    /// Port (default 25 for `smtp://`, 465 for `smtps://`).
    pub port: u16,
    /// TLS mode.
    pub security: SmtpSecurity,
    /// User for AUTH, from the URL.
    pub user: Option<String>,
    /// Password for AUTH (`CIELO_SMTP_PASSWORD`).
    pub password: Option<String>,
    /// Extra trusted CA certificate (PEM), e.g. a local relay's own.
    pub ca_pem: Option<Vec<u8>>,
    /// Limit on each step (connect, TLS, AUTH, each command, the data).
    pub timeout: Duration,
    /// Most sessions open at once (sending or idle between messages).
    pub max_sessions: usize,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl SmtpConfig {
    /// Parses `smtp://[user@]host[:port][?tls=required]` or
    /// `smtps://[user@]host[:port]`. A password in the URL is refused:
    /// secrets come from the environment only.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let u = url::Url::parse(url).map_err(|e| anyhow::anyhow!("notify.smtp_url: {e}"))?;
        if u.password().is_some() {
            anyhow::bail!("notify.smtp_url must not hold a password; set CIELO_SMTP_PASSWORD");
        }
        let mut security = match u.scheme() {
            "smtp" => SmtpSecurity::Plain,
            "smtps" => SmtpSecurity::Implicit,
            s => anyhow::bail!("notify.smtp_url: scheme must be smtp or smtps, not {s}"),
        };
        for (k, v) in u.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("tls", "required") if security == SmtpSecurity::Plain => {
                    security = SmtpSecurity::StartTls
                }
                ("tls", "required") => {}
                ("tls", "none") if security == SmtpSecurity::Plain => {}
                _ => anyhow::bail!(
                    "notify.smtp_url: unknown option {k}={v} (the one option is tls=required)"
                ),
            }
        }
        let host = u
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("notify.smtp_url needs a host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = u.port().unwrap_or(match security {
            SmtpSecurity::Implicit => 465,
            _ => 25,
        });
        let user = Some(u.username())
            .filter(|s| !s.is_empty())
            .map(percent_decode);
        Ok(Self {
            host,
            port,
            security,
            user,
            password: None,
            ca_pem: None,
            timeout: Duration::from_secs(30),
            max_sessions: 20,
        })
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// SMTP through lettre's connection, step by step, so a failure is known to
/// have happened before the message data (definite: retried) or while the
/// data was sent or its answer awaited (unknown: SMTP has no idempotency key,
/// the message is not retried alone).
pub struct SmtpEmail {
    config: SmtpConfig,
    /// The TLS set-up, made once: building it reads the root certificates,
    /// too slow to repeat for every message of a burst.
    tls: std::sync::OnceLock<lettre::transport::smtp::client::TlsParameters>,
    /// The same for implicit TLS, which runs over rustls directly.
    implicit_tls: std::sync::OnceLock<std::sync::Arc<rustls::ClientConfig>>,
    /// Sessions that delivered a message and wait for the next one: a burst
    /// of messages pays the connection, TLS handshake and AUTH once per
    /// session instead of once per message.
    idle: std::sync::Mutex<Vec<lettre::transport::smtp::client::AsyncSmtpConnection>>,
    /// One permit per session that may be open (`max_sessions`): sends beyond
    /// it wait for a session to come free instead of opening more. A relay
    /// takes messages on a few sessions as fast as on many, and every new
    /// session costs it a TLS handshake and AUTH; with as many idle sessions
    /// kept as may be open, a burst opens each session once.
    sessions: std::sync::Arc<tokio::sync::Semaphore>,
}

impl SmtpEmail {
    /// A provider for `config`.
    pub fn new(config: SmtpConfig) -> Self {
        let sessions = std::sync::Arc::new(tokio::sync::Semaphore::new(config.max_sessions.max(1)));
        Self {
            config,
            tls: std::sync::OnceLock::new(),
            implicit_tls: std::sync::OnceLock::new(),
            idle: std::sync::Mutex::new(Vec::new()),
            sessions,
        }
    }

    fn tls(&self) -> Result<lettre::transport::smtp::client::TlsParameters, SendError> {
        if let Some(t) = self.tls.get() {
            return Ok(t.clone());
        }
        let t = self.build_tls()?;
        Ok(self.tls.get_or_init(|| t).clone())
    }

    fn build_tls(&self) -> Result<lettre::transport::smtp::client::TlsParameters, SendError> {
        use lettre::transport::smtp::client::{Certificate, TlsParameters};
        let mut b = TlsParameters::builder(self.config.host.clone());
        if let Some(pem) = &self.config.ca_pem {
            let cert = Certificate::from_pem(pem).map_err(|e| SendError::Definite {
                reason: format!("notify.smtp_ca_file: {e}"),
                retryable: false,
                retry_after: None,
            })?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls().map_err(|e| SendError::Definite {
            reason: format!("TLS set-up: {e}"),
            retryable: false,
            retry_after: None,
        })
    }

    /// A session ready for a message, with MAIL, RCPT and DATA sent: an
    /// idle one kept from an earlier message when it still answers, else a
    /// new one. Anything failing here failed before the message was handed
    /// over.
    async fn prepare(
        &self,
        envelope: &lettre::address::Envelope,
        hello: &lettre::transport::smtp::extension::ClientId,
        tls: Option<lettre::transport::smtp::client::TlsParameters>,
    ) -> Result<lettre::transport::smtp::client::AsyncSmtpConnection, SendError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(mut conn) = idle else { break };
            // The server may have closed it meanwhile: then a new session,
            // nothing having been handed over on this one.
            let limit = self.config.timeout.min(Duration::from_secs(5));
            if let Ok(Ok(())) =
                tokio::time::timeout(limit, Self::envelope(&mut conn, envelope)).await
            {
                return Ok(conn);
            }
        }
        let mut conn = self.connect(hello, tls).await?;
        Self::envelope(&mut conn, envelope)
            .await
            .map_err(|e| smtp_definite(&e))?;
        Ok(conn)
    }

    /// MAIL, RCPT and DATA on a session.
    async fn envelope(
        conn: &mut lettre::transport::smtp::client::AsyncSmtpConnection,
        envelope: &lettre::address::Envelope,
    ) -> Result<(), lettre::transport::smtp::Error> {
        use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
        conn.command(Mail::new(envelope.from().cloned(), vec![]))
            .await?;
        for to in envelope.to() {
            conn.command(Rcpt::new(to.clone(), vec![])).await?;
        }
        conn.command(Data).await?;
        Ok(())
    }

    /// A new session: connect, TLS, AUTH.
    ///
    /// The socket is opened here, with `TCP_NODELAY`, not by lettre: lettre
    /// writes a message's data and its closing `.` in two writes before it
    /// reads the answer, and with Nagle's algorithm the second write waits
    /// for the server's delayed acknowledgement of the first (tens of
    /// milliseconds on every message, which made a burst three times slower
    /// than the same messages sent by a bare client).
    async fn connect(
        &self,
        hello: &lettre::transport::smtp::extension::ClientId,
        tls: Option<lettre::transport::smtp::client::TlsParameters>,
    ) -> Result<lettre::transport::smtp::client::AsyncSmtpConnection, SendError> {
        self.session(hello, tls).await.map_err(|e| match e {
            SessionError::Io(e) => SendError::Definite {
                reason: format!(
                    "SMTP: cannot connect to {}:{}: {e}",
                    self.config.host, self.config.port
                ),
                retryable: true,
                retry_after: None,
            },
            SessionError::Smtp(e) => smtp_definite(&e),
        })
    }

    /// The TLS set-up of an implicit-TLS session (the web's roots and the
    /// configured CA), made once.
    fn implicit_tls(&self) -> Result<std::sync::Arc<rustls::ClientConfig>, SessionError> {
        if let Some(c) = self.implicit_tls.get() {
            return Ok(c.clone());
        }
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(pem) = &self.config.ca_pem {
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| SessionError::Io(std::io::Error::other(e)))?;
                roots
                    .add(cert)
                    .map_err(|e| SessionError::Io(std::io::Error::other(e)))?;
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| SessionError::Io(std::io::Error::other(e)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(self
            .implicit_tls
            .get_or_init(|| std::sync::Arc::new(config))
            .clone())
    }

    async fn session(
        &self,
        hello: &lettre::transport::smtp::extension::ClientId,
        tls: Option<lettre::transport::smtp::client::TlsParameters>,
    ) -> Result<lettre::transport::smtp::client::AsyncSmtpConnection, SessionError> {
        use lettre::transport::smtp::authentication::{Credentials, Mechanism};
        use lettre::transport::smtp::client::AsyncSmtpConnection;
        let c = &self.config;
        let tcp = tokio::time::timeout(
            c.timeout,
            tokio::net::TcpStream::connect((c.host.as_str(), c.port)),
        )
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out"))
        .and_then(|r| r)
        .map_err(SessionError::Io)?;
        tcp.set_nodelay(true).map_err(SessionError::Io)?;
        let mut conn = match (c.security, tls) {
            (SmtpSecurity::Implicit, Some(_)) => {
                let name = rustls::pki_types::ServerName::try_from(c.host.clone())
                    .map_err(|e| SessionError::Io(std::io::Error::other(e)))?;
                let tls = tokio_rustls::TlsConnector::from(self.implicit_tls()?)
                    .connect(name, tcp)
                    .await
                    .map_err(SessionError::Io)?;
                AsyncSmtpConnection::connect_with_transport(Box::new(ImplicitTls(tls)), hello)
                    .await?
            }
            (SmtpSecurity::StartTls, Some(tls)) => {
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), hello).await?;
                conn.starttls(tls, hello).await?;
                conn
            }
            _ => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), hello).await?,
        };
        if let Some(user) = &c.user {
            let creds = Credentials::new(user.clone(), c.password.clone().unwrap_or_default());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await?;
        }
        Ok(conn)
    }
}

/// Why a new session could not be opened.
enum SessionError {
    /// The socket: connecting, or setting it up.
    Io(std::io::Error),
    /// The SMTP conversation: greeting, TLS, AUTH.
    Smtp(lettre::transport::smtp::Error),
}

impl From<lettre::transport::smtp::Error> for SessionError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        Self::Smtp(e)
    }
}

/// An implicit-TLS stream, for lettre to run a session over.
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl tokio::io::AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl lettre::transport::smtp::client::AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

fn smtp_definite(e: &lettre::transport::smtp::Error) -> SendError {
    SendError::Definite {
        reason: format!("SMTP: {e}"),
        // A 5xx reply is the server's final word; anything else (4xx, a
        // refused connection, TLS or a timeout before DATA) may pass later.
        retryable: !e.is_permanent(),
        retry_after: None,
    }
}

#[async_trait]
impl EmailProvider for SmtpEmail {
    fn name(&self) -> &'static str {
        "smtp"
    }
    fn idempotent(&self) -> bool {
        false
    }
    async fn send(&self, email: &OutgoingEmail) -> Result<Accepted, SendError> {
        use lettre::transport::smtp::extension::ClientId;
        let message = email.to_mime()?;
        let bytes = message.formatted();
        let envelope = message.envelope().clone();
        let hello = ClientId::Domain(
            envelope
                .from()
                .map(|a| a.domain().to_string())
                .unwrap_or_else(|| "localhost".into()),
        );
        let timeout = self.config.timeout;
        let tls = match self.config.security {
            SmtpSecurity::Plain => None,
            _ => Some(self.tls()?),
        };
        // Waiting for a session happens before anything is handed over.
        let _session = self
            .sessions
            .acquire()
            .await
            .map_err(|_| SendError::Definite {
                reason: "SMTP: the provider is shutting down".into(),
                retryable: true,
                retry_after: None,
            })?;
        let mut conn =
            match tokio::time::timeout(timeout * 4, self.prepare(&envelope, &hello, tls)).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(SendError::Definite {
                        reason: "SMTP: timed out before DATA".into(),
                        retryable: true,
                        retry_after: None,
                    })
                }
            };
        let answer = tokio::time::timeout(timeout, conn.message(&bytes)).await;
        let result = match answer {
            Ok(Ok(resp)) => Ok(Accepted {
                provider_message_id: {
                    let text = resp.message().collect::<Vec<_>>().join(" ");
                    if text.is_empty() {
                        email.message_id_header()
                    } else {
                        format!("{} ({text})", email.message_id_header())
                    }
                },
            }),
            // The server answered the data with a refusal: it did not take it.
            Ok(Err(e)) if e.is_transient() || e.is_permanent() => Err(smtp_definite(&e)),
            Ok(Err(e)) => Err(SendError::Unknown(format!(
                "SMTP: the connection failed after the message data was sent: {e}"
            ))),
            Err(_) => Err(SendError::Unknown(format!(
                "SMTP: no answer within {}s after the message data was sent",
                timeout.as_secs()
            ))),
        };
        if result.is_ok() {
            // Kept for the next message (a session takes any number).
            let extra = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < self.config.max_sessions.max(1) {
                    idle.push(conn);
                    None
                } else {
                    Some(conn)
                }
            };
            if let Some(mut conn) = extra {
                let _ = tokio::time::timeout(Duration::from_secs(2), conn.quit()).await;
            }
        } else {
            // No QUIT: the server may not answer anything any more; closing
            // the socket is enough.
            drop(conn);
        }
        result
    }
}

/// Resend (`POST /emails`), with the send intent's key as `Idempotency-Key`:
/// Resend answers a repeated key with the first answer and sends nothing, so
/// every failure, even an unknown outcome, is retried.
pub struct ResendEmail {
    client: reqwest::Client,
    base: String,
    api_key: String,
}

impl ResendEmail {
    /// `base` is `https://api.resend.com` in production.
    pub fn new(client: reqwest::Client, base: &str, api_key: String) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').into(),
            api_key,
        }
    }
}

#[async_trait]
impl EmailProvider for ResendEmail {
    fn name(&self) -> &'static str {
        "resend"
    }
    fn idempotent(&self) -> bool {
        true
    }
    async fn send(&self, email: &OutgoingEmail) -> Result<Accepted, SendError> {
        let mut body = serde_json::json!({
            "from": email.from,
            "to": [email.to],
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
        });
        if let Some(r) = &email.reply_to {
            body["reply_to"] = serde_json::json!([r]);
        }
        if let Some(u) = &email.list_unsubscribe {
            body["headers"] = serde_json::json!({"List-Unsubscribe": u});
        }
        let res = self
            .client
            .post(format!("{}/emails", self.base))
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", &email.idempotency_key)
            .json(&body)
            .send()
            .await
            .map_err(http_error)?;
        accepted_by_id(res, "id").await
    }
}

/// SendGrid v3 Mail Send. It takes no idempotency key: our message id goes in
/// `custom_args` so a duplicate would show in its events.
pub struct SendgridEmail {
    client: reqwest::Client,
    base: String,
    api_key: String,
}

impl SendgridEmail {
    /// `base` is `https://api.sendgrid.com` in production.
    pub fn new(client: reqwest::Client, base: &str, api_key: String) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').into(),
            api_key,
        }
    }
}

fn name_and_address(mailbox: &str) -> serde_json::Value {
    match mailbox.parse::<Mailbox>() {
        Ok(m) => match m.name {
            Some(n) => serde_json::json!({"email": m.email.to_string(), "name": n}),
            None => serde_json::json!({"email": m.email.to_string()}),
        },
        Err(_) => serde_json::json!({"email": mailbox}),
    }
}

#[async_trait]
impl EmailProvider for SendgridEmail {
    fn name(&self) -> &'static str {
        "sendgrid"
    }
    fn idempotent(&self) -> bool {
        false
    }
    async fn send(&self, email: &OutgoingEmail) -> Result<Accepted, SendError> {
        let mut body = serde_json::json!({
            "personalizations": [{"to": [{"email": email.to}]}],
            "from": name_and_address(&email.from),
            "subject": email.subject,
            "content": [
                {"type": "text/plain", "value": email.text},
                {"type": "text/html", "value": email.html},
            ],
            "custom_args": {"cielo_send_key": email.idempotency_key},
        });
        if let Some(r) = &email.reply_to {
            body["reply_to"] = name_and_address(r);
        }
        if let Some(u) = &email.list_unsubscribe {
            body["headers"] = serde_json::json!({"List-Unsubscribe": u});
        }
        let res = self
            .client
            .post(format!("{}/v3/mail/send", self.base))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .map_err(http_error)?;
        if !res.status().is_success() {
            return Err(status_error(res).await);
        }
        let id = res
            .headers()
            .get("x-message-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| email.message_id_header());
        Ok(Accepted {
            provider_message_id: id,
        })
    }
}

/// AWS credentials for SES, from the standard variables.
#[derive(Clone)]
pub struct AwsCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials (Lambda).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Amazon SES v2 `SendEmail` (`POST /v2/email/outbound-emails`), signed with
/// SigV4 (service `ses`). SES takes no idempotency key.
pub struct SesEmail {
    client: reqwest::Client,
    base: String,
    region: String,
    credentials: AwsCredentials,
    configuration_set: Option<String>,
}

impl SesEmail {
    /// `base` is `https://email.<region>.amazonaws.com` in production.
    pub fn new(
        client: reqwest::Client,
        base: &str,
        region: &str,
        credentials: AwsCredentials,
        configuration_set: Option<String>,
    ) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').into(),
            region: region.into(),
            credentials,
            configuration_set,
        }
    }

    fn signed(&self, url: &str, body: &[u8]) -> Result<http::HeaderMap, SendError> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;
        let bad = |e: &dyn std::fmt::Display| SendError::Definite {
            reason: format!("signing the SES request: {e}"),
            retryable: false,
            retry_after: None,
        };
        let identity = aws_credential_types::Credentials::new(
            &self.credentials.access_key_id,
            &self.credentials.secret_access_key,
            self.credentials.session_token.clone(),
            None,
            "cielo",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ses")
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| bad(&e))?
            .into();
        let headers = [("content-type", "application/json")];
        let signable = SignableRequest::new(
            "POST",
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| bad(&e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| bad(&e))?.into_parts();
        let mut req = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("content-type", "application/json")
            .body(())
            .map_err(|e| bad(&e))?;
        instructions.apply_to_request_http1x(&mut req);
        Ok(req.headers().clone())
    }
}

#[async_trait]
impl EmailProvider for SesEmail {
    fn name(&self) -> &'static str {
        "ses"
    }
    fn idempotent(&self) -> bool {
        false
    }
    async fn send(&self, email: &OutgoingEmail) -> Result<Accepted, SendError> {
        let mut body = serde_json::json!({
            "FromEmailAddress": email.from,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {"Simple": {
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": email.text, "Charset": "UTF-8"},
                    "Html": {"Data": email.html, "Charset": "UTF-8"},
                },
            }},
            "EmailTags": [{"Name": "cielo_send_key", "Value": email.idempotency_key.replace('.', "_")}],
        });
        if let Some(r) = &email.reply_to {
            body["ReplyToAddresses"] = serde_json::json!([r]);
        }
        if let Some(c) = &self.configuration_set {
            body["ConfigurationSetName"] = serde_json::json!(c);
        }
        let bytes = serde_json::to_vec(&body).expect("JSON serialises");
        let url = format!("{}/v2/email/outbound-emails", self.base);
        let headers = self.signed(&url, &bytes)?;
        let res = self
            .client
            .post(&url)
            .headers(headers)
            .body(bytes)
            .send()
            .await
            .map_err(http_error)?;
        accepted_by_id(res, "MessageId").await
    }
}
