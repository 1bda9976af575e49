//! The message model: what is sent, to whom, in which language, from which
//! data, and the log of every attempt to deliver it.

use cielo_core::{typed_id, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

typed_id!(MessageId, "msg", "A notification message.");
typed_id!(DeliveryId, "dlv", "One attempt to deliver a message.");

/// What a message is about. The buyer's kinds first, then the owner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The order is paid: lines, totals, address, a link to the order page.
    OrderConfirmation,
    /// The poster's print file is made (star maps: with a thumbnail).
    PrintFileReady,
    /// The files of the order's digital downloads are ready: a link to the
    /// order page, where fresh download links are made (links to the files
    /// themselves would die long before the buyer opens the email).
    DownloadReady,
    /// A parcel left: carrier and tracking link.
    Shipped,
    /// The parcel arrived.
    Delivered,
    /// Money went back to the buyer.
    RefundIssued,
    /// The order cannot go on as it is (a lab refused the address).
    NeedsChange,
    /// To the owner: a new paid order.
    OwnerNewOrder,
    /// To the owner: an order needs a person.
    OwnerNeedsAttention,
    /// To the owner: an operational alert (raised by other domains).
    OwnerAlert,
}

impl Kind {
    /// Every kind, buyer's first.
    pub const ALL: [Kind; 10] = [
        Kind::OrderConfirmation,
        Kind::PrintFileReady,
        Kind::DownloadReady,
        Kind::Shipped,
        Kind::Delivered,
        Kind::RefundIssued,
        Kind::NeedsChange,
        Kind::OwnerNewOrder,
        Kind::OwnerNeedsAttention,
        Kind::OwnerAlert,
    ];
    /// The snake_case name (templates are named after it).
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::OrderConfirmation => "order_confirmation",
            Kind::PrintFileReady => "print_file_ready",
            Kind::DownloadReady => "download_ready",
            Kind::Shipped => "shipped",
            Kind::Delivered => "delivered",
            Kind::RefundIssued => "refund_issued",
            Kind::NeedsChange => "needs_change",
            Kind::OwnerNewOrder => "owner_new_order",
            Kind::OwnerNeedsAttention => "owner_needs_attention",
            Kind::OwnerAlert => "owner_alert",
        }
    }
    /// Parses [`Kind::as_str`].
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// True for the kinds sent even to an address on the suppression list:
    /// what the buyer must know about their money and their order
    /// (confirmation, refund, a change needed, the download they paid for) and
    /// the owner's own messages.
    /// The progress updates (print file ready, shipped, delivered) are not.
    pub fn essential(&self) -> bool {
        !matches!(self, Kind::PrintFileReady | Kind::Shipped | Kind::Delivered)
    }
    /// True for the shop owner's kinds.
    pub fn to_owner(&self) -> bool {
        matches!(
            self,
            Kind::OwnerNewOrder | Kind::OwnerNeedsAttention | Kind::OwnerAlert
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email (multipart text + HTML).
    Email,
    /// SMS (text).
    Sms,
}

impl Channel {
    /// `email` or `sms`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
    /// Parses [`Channel::as_str`].
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for its (next) attempt.
    Queued,
    /// Handed to the provider; the answer is not recorded yet.
    Sending,
    /// The provider accepted it.
    Sent,
    /// Every attempt failed definitely (or the provider refused it for good).
    Failed,
    /// The provider may or may not have taken it and cannot be asked again
    /// safely (no idempotency key): shown to the admin, never retried alone.
    Unknown,
    /// The provider reported it delivered to the recipient's server (webhook).
    Delivered,
    /// The recipient's server refused it for good (a webhook reported a
    /// hard bounce); the address is suppressed.
    Bounced,
    /// The recipient marked it as spam (a webhook reported a complaint); the
    /// address is suppressed.
    Complained,
    /// Not sent: the address is on the suppression list and the kind is not
    /// essential.
    Suppressed,
}

impl MessageStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Unknown => "unknown",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Bounced => "bounced",
            MessageStatus::Complained => "complained",
            MessageStatus::Suppressed => "suppressed",
        }
    }
    /// Every status.
    pub const ALL: [MessageStatus; 9] = [
        MessageStatus::Queued,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Failed,
        MessageStatus::Unknown,
        MessageStatus::Delivered,
        MessageStatus::Bounced,
        MessageStatus::Complained,
        MessageStatus::Suppressed,
    ];
    /// Parses [`MessageStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Where one delivery attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Handed to the provider; no answer recorded.
    Sending,
    /// Accepted, with the provider's message id.
    Sent,
    /// Refused or not reached, with the reason.
    Failed,
    /// The outcome cannot be known.
    Unknown,
    /// Accepted, then reported delivered by the provider's webhook.
    Delivered,
    /// Accepted, then reported as a hard bounce by the provider's webhook.
    Bounced,
    /// Accepted, then reported as a spam complaint by the provider's webhook.
    Complained,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Unknown => "unknown",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Bounced => "bounced",
            DeliveryStatus::Complained => "complained",
        }
    }
    /// Parses [`DeliveryStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            DeliveryStatus::Sending,
            DeliveryStatus::Sent,
            DeliveryStatus::Failed,
            DeliveryStatus::Unknown,
            DeliveryStatus::Delivered,
            DeliveryStatus::Bounced,
            DeliveryStatus::Complained,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// A message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    /// Id (`msg_…`).
    #[schema(value_type = String)]
    pub id: MessageId,
    /// `<order>/<kind>/<channel>[/<shipment>]`: at most one message each.
    pub dedupe_key: String,
    /// The order it is about, if any.
    pub order_id: Option<String>,
    /// What it is about.
    pub kind: Kind,
    /// Email or SMS.
    pub channel: Channel,
    /// Email address or E.164 phone number.
    pub recipient: String,
    /// Language of the text (`en`, `es`).
    pub language: String,
    /// The data the templates are rendered from.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Where it stands.
    pub status: MessageStatus,
    /// Idempotency key of the current send intent.
    pub send_key: String,
    /// How many times an admin asked to send it again.
    pub resends: i64,
    /// The provider's id of the accepted message.
    pub provider_message_id: Option<String>,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// One attempt to deliver a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    /// Id (`dlv_…`).
    #[schema(value_type = String)]
    pub id: DeliveryId,
    /// The message.
    #[schema(value_type = String)]
    pub message_id: MessageId,
    /// Why it happened: the event, a retry, an admin resend (with who and why).
    pub cause: String,
    /// The provider (`outbox`, `smtp`, `resend`, …).
    pub provider: String,
    /// The idempotency key sent, where the provider takes one.
    pub idempotency_key: Option<String>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// The provider's message id, once accepted.
    pub provider_message_id: Option<String>,
    /// Why it failed or why the outcome is unknown.
    pub error: Option<String>,
    /// Started.
    pub started_at: Timestamp,
    /// Answered (or given up).
    pub finished_at: Option<Timestamp>,
}

/// A message with its delivery log, oldest attempt first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageDetail {
    /// The message.
    pub message: Message,
    /// Every attempt.
    pub deliveries: Vec<Delivery>,
}

/// A page of messages, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessagePage {
    /// Messages.
    pub messages: Vec<Message>,
    /// Cursor of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Filters of the message list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessageFilter {
    /// Only this order's.
    pub order_id: Option<String>,
    /// Only this status (`queued`, `sending`, `sent`, `failed`, `unknown`,
    /// `delivered`, `bounced`, `complained`, `suppressed`).
    pub status: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Page size, 1–100 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// A message rendered, not sent (admin preview) — also what providers get.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rendered {
    /// Subject line (email).
    pub subject: String,
    /// Plain text body (email) or the SMS text.
    pub text: String,
    /// HTML body (email only).
    pub html: Option<String>,
}

/// An address the shop's non-essential mail is no longer sent to: it
/// hard-bounced or its owner reported a message as spam.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Suppression {
    /// The address, lowercase.
    pub address: String,
    /// `bounced` or `complained`.
    pub reason: String,
    /// The provider whose webhook reported it (`resend`, `sendgrid`).
    pub provider: String,
    /// The provider's event id.
    pub event_id: String,
    /// Our message the event was about.
    pub message_id: Option<String>,
    /// When it was added.
    pub created_at: Timestamp,
}
