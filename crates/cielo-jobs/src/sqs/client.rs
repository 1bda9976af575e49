//! A small Amazon SQS client: the handful of actions the job transport uses,
//! over SQS's JSON protocol (`x-amz-target: AmazonSQS.<Action>`, AWS JSON 1.0),
//! each request signed with SigV4 (`aws-sigv4`) and sent with `reqwest`.
//!
//! Why not the AWS SDK: `aws-sdk-sqs` and `aws-config` double the build time
//! and the binary size of Cielo (a second HTTP stack), for five calls.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

/// An SQS call that failed: the transport, or SQS's own error (`code` is the
/// short error type, e.g. `QueueDoesNotExist`).
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// The request could not be sent or its answer read.
    #[error("SQS request failed: {0}")]
    Transport(String),
    /// SQS answered with an error.
    #[error("SQS {action} failed ({status}): {code}: {message}")]
    Api {
        /// The action, e.g. `SendMessageBatch`.
        action: &'static str,
        /// HTTP status.
        status: u16,
        /// SQS's error type without its namespace.
        code: String,
        /// SQS's message.
        message: String,
    },
    /// No credentials in the environment.
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them)"
    )]
    NoCredentials,
}

/// Where and as whom to call SQS.
#[derive(Clone)]
pub struct SqsConfig {
    /// Base URL of the service, e.g. `https://sqs.eu-west-1.amazonaws.com`
    /// (or an emulator's `http://127.0.0.1:PORT`).
    pub endpoint: String,
    /// Signing region, e.g. `eu-west-1`.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (never logged).
    pub secret_access_key: String,
    /// Session token of temporary credentials (Lambda, assumed roles).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for SqsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl SqsConfig {
    /// From the standard AWS variables: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`; the region from
    /// `region` or `AWS_REGION` / `AWS_DEFAULT_REGION`; the endpoint from
    /// `endpoint`, `AWS_ENDPOINT_URL_SQS` or `AWS_ENDPOINT_URL`, else the
    /// region's public endpoint.
    pub fn from_env(region: Option<&str>, endpoint: Option<&str>) -> Result<Self, SqsError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let region = region
            .map(str::to_string)
            .or_else(|| var("AWS_REGION"))
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        let endpoint = endpoint
            .map(str::to_string)
            .or_else(|| var("AWS_ENDPOINT_URL_SQS"))
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://sqs.{region}.amazonaws.com"));
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region,
            access_key_id: var("AWS_ACCESS_KEY_ID").ok_or(SqsError::NoCredentials)?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY").ok_or(SqsError::NoCredentials)?,
            session_token: var("AWS_SESSION_TOKEN"),
        })
    }
}

/// A message as `ReceiveMessage` returns it.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// SQS's id of the message.
    pub message_id: String,
    /// Handle for delete and visibility changes (valid for this receive only).
    pub receipt_handle: String,
    /// The body.
    pub body: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
}

/// One entry of `SendMessageBatch`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchEntry {
    /// Unique within the batch.
    pub id: String,
    /// The body.
    pub message_body: String,
    /// FIFO queues: messages of a group are delivered in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
    /// FIFO queues: a second send with this id within five minutes is dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_deduplication_id: Option<String>,
}

/// What `SendMessageBatch` did, entry by entry (`Id`s of the batch).
#[derive(Debug, Default)]
pub struct BatchResult {
    /// Entries SQS stored.
    pub sent: Vec<String>,
    /// Entries it refused, with the reason.
    pub failed: Vec<(String, String)>,
}

/// The client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqsClient {
    config: SqsConfig,
    http: reqwest::Client,
}

impl SqsClient {
    /// A client for `config`. Requests time out after `wait + 10 s` (long polls).
    pub fn new(config: SqsConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(40))
            .build()
            .expect("an HTTP client with default TLS settings");
        Self { config, http }
    }

    /// The service endpoint.
    pub fn endpoint(&self) -> &str {
        &self.config.endpoint
    }

    /// The queue URL of an ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`), as an
    /// event source mapping names the queue: `ENDPOINT/ACCOUNT/NAME`.
    pub fn queue_url_of_arn(&self, arn: &str) -> Option<String> {
        let mut parts = arn.split(':');
        let (_, _, service, _region, account, name) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        (service == "sqs").then(|| format!("{}/{account}/{name}", self.config.endpoint))
    }

    /// Signs and sends one action; returns SQS's JSON answer.
    async fn call(&self, action: &'static str, body: Value) -> Result<Value, SqsError> {
        let url = format!("{}/", self.config.endpoint);
        let body = serde_json::to_vec(&body).expect("JSON values serialise");
        let target = format!("AmazonSQS.{action}");
        let identity: Identity = Credentials::new(
            self.config.access_key_id.clone(),
            self.config.secret_access_key.clone(),
            self.config.session_token.clone(),
            None,
            "environment",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.config.region)
            .name("sqs")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| SqsError::Transport(format!("signing parameters: {e}")))?
            .into();
        let host = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
            })
            .ok_or_else(|| SqsError::Transport(format!("bad SQS endpoint {url}")))?;
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", target.as_str()),
        ];
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| SqsError::Transport(format!("signing: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| SqsError::Transport(format!("signing: {e}")))?
            .into_parts();
        let mut req = self
            .http
            .post(&url)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", &target);
        for (name, value) in instructions.headers() {
            req = req.header(name, value);
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| SqsError::Transport(format!("{action}: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| SqsError::Transport(format!("{action}: {e}")))?;
        let value: Value = if text.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&text).map_err(|_| SqsError::Api {
                action,
                status: status.as_u16(),
                code: "UnreadableAnswer".into(),
                message: text.chars().take(300).collect(),
            })?
        };
        if !status.is_success() {
            let code = value["__type"]
                .as_str()
                .or_else(|| value["code"].as_str())
                .unwrap_or("Unknown");
            return Err(SqsError::Api {
                action,
                status: status.as_u16(),
                code: code.rsplit('#').next().unwrap_or(code).to_string(),
                message: value["message"]
                    .as_str()
                    .or_else(|| value["Message"].as_str())
                    .unwrap_or("")
                    .to_string(),
            });
        }
        Ok(value)
    }

    /// Creates a queue (or returns the existing one's URL). `attributes` are
    /// SQS's queue attributes, e.g. `VisibilityTimeout`, `RedrivePolicy`,
    /// `FifoQueue`.
    pub async fn create_queue(
        &self,
        name: &str,
        attributes: &[(&str, String)],
    ) -> Result<String, SqsError> {
        let attrs: serde_json::Map<String, Value> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect();
        let v = self
            .call(
                "CreateQueue",
                json!({"QueueName": name, "Attributes": attrs}),
            )
            .await?;
        v["QueueUrl"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| SqsError::Transport("CreateQueue answered no QueueUrl".into()))
    }

    /// A queue attribute, e.g. `QueueArn` or `ApproximateNumberOfMessages`.
    pub async fn queue_attribute(
        &self,
        queue_url: &str,
        name: &str,
    ) -> Result<Option<String>, SqsError> {
        let v = self
            .call(
                "GetQueueAttributes",
                json!({"QueueUrl": queue_url, "AttributeNames": [name]}),
            )
            .await?;
        Ok(v["Attributes"][name].as_str().map(str::to_string))
    }

    /// Sends one message.
    pub async fn send_message(&self, queue_url: &str, entry: &BatchEntry) -> Result<(), SqsError> {
        let mut body = json!({"QueueUrl": queue_url, "MessageBody": entry.message_body});
        if let Some(g) = &entry.message_group_id {
            body["MessageGroupId"] = json!(g);
        }
        if let Some(d) = &entry.message_deduplication_id {
            body["MessageDeduplicationId"] = json!(d);
        }
        self.call("SendMessage", body).await.map(|_| ())
    }

    /// Sends up to ten messages in one call; says which were stored.
    pub async fn send_message_batch(
        &self,
        queue_url: &str,
        entries: &[BatchEntry],
    ) -> Result<BatchResult, SqsError> {
        let v = self
            .call(
                "SendMessageBatch",
                json!({"QueueUrl": queue_url, "Entries": entries}),
            )
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Sent {
            id: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Failed {
            id: String,
            #[serde(default)]
            code: String,
            #[serde(default)]
            message: Option<String>,
        }
        let sent: Vec<Sent> = serde_json::from_value(v["Successful"].clone()).unwrap_or_default();
        let failed: Vec<Failed> = serde_json::from_value(v["Failed"].clone()).unwrap_or_default();
        Ok(BatchResult {
            sent: sent.into_iter().map(|s| s.id).collect(),
            failed: failed
                .into_iter()
                .map(|f| {
                    (
                        f.id,
                        format!("{} {}", f.code, f.message.unwrap_or_default()),
                    )
                })
                .collect(),
        })
    }

    /// Receives up to `max` (1–10) messages, waiting up to `wait` for the
    /// first (long polling); they stay invisible to others for `visibility`.
    pub async fn receive_messages(
        &self,
        queue_url: &str,
        max: u32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let v = self
            .call(
                "ReceiveMessage",
                json!({
                    "QueueUrl": queue_url,
                    "MaxNumberOfMessages": max.clamp(1, 10),
                    "WaitTimeSeconds": wait.as_secs().min(20),
                    "VisibilityTimeout": visibility.as_secs().min(43_200),
                    "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
                    "AttributeNames": ["ApproximateReceiveCount"],
                }),
            )
            .await?;
        let Some(messages) = v["Messages"].as_array() else {
            return Ok(Vec::new());
        };
        Ok(messages
            .iter()
            .filter_map(|m| {
                Some(ReceivedMessage {
                    message_id: m["MessageId"].as_str()?.to_string(),
                    receipt_handle: m["ReceiptHandle"].as_str()?.to_string(),
                    body: m["Body"].as_str().unwrap_or_default().to_string(),
                    receive_count: m["Attributes"]["ApproximateReceiveCount"]
                        .as_str()
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(1),
                })
            })
            .collect())
    }

    /// Deletes a received message (it was handled).
    pub async fn delete_message(&self, queue_url: &str, receipt: &str) -> Result<(), SqsError> {
        self.call(
            "DeleteMessage",
            json!({"QueueUrl": queue_url, "ReceiptHandle": receipt}),
        )
        .await
        .map(|_| ())
    }

    /// Deletes up to ten received messages in one call; returns the receipts
    /// SQS did not delete, with the reason.
    pub async fn delete_message_batch(
        &self,
        queue_url: &str,
        receipts: &[String],
    ) -> Result<Vec<(String, String)>, SqsError> {
        let entries: Vec<Value> = receipts
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"Id": format!("d{i}"), "ReceiptHandle": r}))
            .collect();
        let v = self
            .call(
                "DeleteMessageBatch",
                json!({"QueueUrl": queue_url, "Entries": entries}),
            )
            .await?;
        let failed = v["Failed"].as_array().cloned().unwrap_or_default();
        Ok(failed
            .iter()
            .filter_map(|f| {
                let i: usize = f["Id"].as_str()?.strip_prefix('d')?.parse().ok()?;
                Some((
                    receipts.get(i)?.clone(),
                    format!(
                        "{} {}",
                        f["Code"].as_str().unwrap_or(""),
                        f["Message"].as_str().unwrap_or("")
                    ),
                ))
            })
            .collect())
    }

    /// Makes a received message visible again after `after` (at most 12 h).
    pub async fn change_visibility(
        &self,
        queue_url: &str,
        receipt: &str,
        after: Duration,
    ) -> Result<(), SqsError> {
        self.call(
            "ChangeMessageVisibility",
            json!({"QueueUrl": queue_url, "ReceiptHandle": receipt, "VisibilityTimeout": after.as_secs().min(43_200)}),
        )
        .await
        .map(|_| ())
    }
}
