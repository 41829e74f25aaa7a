//! The `events` function: the table's DynamoDB Stream (`NEW_IMAGE`) in, membership events out
//! on the stack's EventBridge bus (`infra/template.yaml`: `EventsFunction`, `EventBus`).
//!
//! Per invocation (a batch of stream records, filtered by the event source mapping to INSERTs of
//! `AUDIT#…` items):
//!
//! - each audit entry INSERT is decoded from its `NewImage`
//!   ([`rollcall_store_dynamodb::audit_event_from_stream_image`]) and mapped to its product
//!   events ([`rollcall_domain::events::events_of`]: none, one or several per entry);
//! - the events are published with `PutEvents`, in calls of at most [`MAX_ENTRIES_PER_CALL`]
//!   entries and [`MAX_REQUEST_BYTES`] (EventBridge's limits): `Source` = `rollcall`,
//!   `DetailType` = the event type, `Detail` = the event's JSON, `Time` = when the change
//!   happened, `EventBusName` = [`BUS_ENV`];
//! - the answer lists, as `batchItemFailures`, exactly the records that failed (Lambda's
//!   `ReportBatchItemFailures`): a record that does not decode (poison), a record one of whose
//!   entries EventBridge refused (per-entry `ErrorCode`), and the records of a call that failed as
//!   a whole. Every other record succeeded, so one bad record never blocks the others; Lambda
//!   retries from the first failed record and after `MaximumRetryAttempts` sends the batch's
//!   description to the dead-letter queue.
//! - records that are not audit INSERTs (MODIFY, REMOVE, e.g. the TTL deletion of an old entry,
//!   or other items, should the filter let one through) are skipped: they succeed.
//!
//! An event's id is its audit entry's id and position, the same on every delivery: EventBridge
//! delivers at least once, and so does a retried batch, so consumers drop duplicates by `id`.
//!
//! Cost: one `PutEvents` call per 10 events (or per 256 KB); no DynamoDB call (the stream
//! carries the whole entry).

use rollcall_domain::events::{ProductEvent, SOURCE, events_of};
use rollcall_domain::model::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

/// The environment variable naming the EventBridge bus events are published to.
pub const BUS_ENV: &str = "ROLLCALL_EVENT_BUS";
/// Most entries of one `PutEvents` call (EventBridge's limit).
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// Largest total size of one `PutEvents` call's entries (EventBridge's limit, as EventBridge
/// counts it: [`Entry::size`]); an event larger than this alone cannot be published.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// Bytes EventBridge counts for an entry's `Time`.
const TIME_BYTES: usize = 14;

/// The partial batch answer of a stream function (`ReportBatchItemFailures`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// The records that failed, by sequence number.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

/// One failed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemFailure {
    /// The record's `dynamodb.SequenceNumber`.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// The fields of a DynamoDB Streams record this function reads.
#[derive(Debug, Clone, Default, Deserialize)]
struct StreamRecord {
    #[serde(rename = "eventID", default)]
    event_id: Option<String>,
    #[serde(rename = "eventName", default)]
    event_name: Option<String>,
    #[serde(default)]
    dynamodb: StreamData,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct StreamData {
    #[serde(rename = "SequenceNumber", default)]
    sequence_number: Option<String>,
    #[serde(rename = "Keys", default)]
    keys: Option<Value>,
    #[serde(rename = "NewImage", default)]
    new_image: Option<Value>,
}

/// One `PutEvents` entry, and the record it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Index of the record in the batch.
    pub record: usize,
    /// The event's id (for logs: never an address).
    pub event_id: String,
    /// `DetailType`: the event type.
    pub detail_type: String,
    /// `Detail`: the event's JSON.
    pub detail: String,
    /// `Time`: when the change happened.
    pub time: Timestamp,
}

impl Entry {
    /// The entry of `event`, from record `record`.
    pub fn of(record: usize, event: &ProductEvent) -> Result<Entry, String> {
        Ok(Entry {
            record,
            event_id: event.id.clone(),
            detail_type: event.kind.to_owned(),
            detail: serde_json::to_string(event).map_err(|e| e.to_string())?,
            time: event.occurred_at,
        })
    }

    /// The size EventBridge counts against [`MAX_REQUEST_BYTES`]: `Time`, `Source`,
    /// `DetailType` and `Detail` (UTF-8 bytes).
    pub fn size(&self) -> usize {
        TIME_BYTES + SOURCE.len() + self.detail_type.len() + self.detail.len()
    }
}

/// What a `PutEvents` call answered: per entry, in order, `None` if accepted or the error code
/// EventBridge gave it. `Err` when the call failed as a whole (after the SDK's retries).
pub type PutResult = Result<Vec<Option<String>>, String>;

/// Where entries are published: EventBridge ([`EventBridge`]), or a fake in tests.
pub trait Publisher {
    /// One `PutEvents` call with `entries` (at most [`MAX_ENTRIES_PER_CALL`]).
    fn put_events(&self, entries: &[Entry]) -> impl Future<Output = PutResult> + Send;
}

/// The EventBridge publisher: every entry goes to one bus with source [`SOURCE`].
#[derive(Debug, Clone)]
pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridge {
    /// A publisher to `bus` (a name or ARN).
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        EventBridge {
            client,
            bus: bus.into(),
        }
    }
}

impl Publisher for EventBridge {
    fn put_events(&self, entries: &[Entry]) -> impl Future<Output = PutResult> + Send {
        use aws_sdk_eventbridge::error::DisplayErrorContext;
        use aws_sdk_eventbridge::primitives::DateTime;
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;
        let request = self.client.put_events().set_entries(Some(
            entries
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .source(SOURCE)
                        .detail_type(&e.detail_type)
                        .detail(&e.detail)
                        .time(DateTime::from_millis(e.time.timestamp_millis()))
                        .event_bus_name(&self.bus)
                        .build()
                })
                .collect(),
        ));
        let n = entries.len();
        async move {
            let out = request
                .send()
                .await
                .map_err(|e| format!("PutEvents: {}", DisplayErrorContext(e)))?;
            let results = out.entries();
            if results.len() != n {
                return Err(format!(
                    "PutEvents answered {} entries for {n}",
                    results.len()
                ));
            }
            Ok(results
                .iter()
                .map(|r| {
                    r.error_code()
                        .map(str::to_owned)
                        .or_else(|| r.event_id().is_none().then(|| "NoEventId".to_owned()))
                })
                .collect())
        }
    }
}

/// Figures of one batch, for its log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records in the batch.
    pub records: usize,
    /// Records that are not audit INSERTs.
    pub skipped: usize,
    /// Records that did not decode.
    pub poison: usize,
    /// Events the audit entries mean.
    pub events: usize,
    /// Events EventBridge accepted.
    pub published: usize,
    /// `PutEvents` calls made.
    pub calls: usize,
    /// Records reported failed.
    pub failed_records: usize,
}

/// The outcome of one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// The answer to Lambda.
    pub response: BatchResponse,
    /// Its figures.
    pub counts: Counts,
}

/// Why a batch failed as a whole (Lambda then retries all of it, bisecting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError(pub String);

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BatchError {}

/// What one record is.
enum Decoded {
    /// Not an audit INSERT: nothing to do.
    Skip,
    /// Does not decode (the reason, safe to log).
    Poison(String),
    /// An audit entry and its events.
    Events(Vec<ProductEvent>),
}

fn string_of<'a>(v: Option<&'a Value>, name: &str) -> Option<&'a str> {
    v.and_then(|v| v.get(name))
        .and_then(|a| a.get("S"))
        .and_then(Value::as_str)
}

fn decode(raw: &Value) -> (StreamRecord, Decoded) {
    let record: StreamRecord = match serde_json::from_value(raw.clone()) {
        Ok(r) => r,
        Err(e) => {
            // Keep what can be read (the sequence number) to report the record.
            let lenient = StreamRecord {
                event_id: raw["eventID"].as_str().map(str::to_owned),
                event_name: raw["eventName"].as_str().map(str::to_owned),
                dynamodb: StreamData {
                    sequence_number: raw["dynamodb"]["SequenceNumber"]
                        .as_str()
                        .map(str::to_owned),
                    ..StreamData::default()
                },
            };
            return (
                lenient,
                Decoded::Poison(format!("not a stream record: {e}")),
            );
        }
    };
    if record.event_name.as_deref() != Some("INSERT") {
        return (record, Decoded::Skip);
    }
    let pk = string_of(record.dynamodb.keys.as_ref(), "PK")
        .or_else(|| string_of(record.dynamodb.new_image.as_ref(), "PK"));
    let decoded = match pk {
        None => Decoded::Poison("the record has no PK (Keys or NewImage)".to_owned()),
        Some(pk) if !pk.starts_with("AUDIT#") => Decoded::Skip,
        Some(_) => match &record.dynamodb.new_image {
            None => Decoded::Poison("the record has no NewImage".to_owned()),
            Some(image) => match rollcall_store_dynamodb::audit_event_from_stream_image(image) {
                Ok(entry) => Decoded::Events(events_of(&entry)),
                Err(e) => Decoded::Poison(safe_reason(&e)),
            },
        },
    };
    (record, decoded)
}

/// A decoding error as it may be logged: never with an address it quotes.
fn safe_reason(reason: &str) -> String {
    if reason.contains('@') {
        "the image is not an audit entry (reason withheld: it quotes a value)".to_owned()
    } else {
        reason.chars().take(300).collect()
    }
}

/// Splits entries into `PutEvents` calls: at most [`MAX_ENTRIES_PER_CALL`] entries and
/// [`MAX_REQUEST_BYTES`] each, in order.
pub fn chunks(entries: Vec<Entry>) -> Vec<Vec<Entry>> {
    let mut out: Vec<Vec<Entry>> = Vec::new();
    let mut bytes = 0;
    for e in entries {
        let size = e.size();
        match out.last_mut() {
            Some(last)
                if last.len() < MAX_ENTRIES_PER_CALL && bytes + size <= MAX_REQUEST_BYTES =>
            {
                bytes += size;
                last.push(e);
            }
            _ => {
                bytes = size;
                out.push(vec![e]);
            }
        }
    }
    out
}

/// Handles one batch (`event`: the stream event Lambda sends) and publishes through `publisher`.
/// `budget`: the time the calls may take; once spent, the remaining calls are not made and their
/// records reported failed (Lambda retries them), so the function answers within its timeout.
pub async fn handle<P: Publisher>(
    publisher: &P,
    event: &Value,
    budget: Duration,
) -> Result<Handled, BatchError> {
    let started = Instant::now();
    let raw = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| BatchError("the event has no Records list".to_owned()))?;
    let mut counts = Counts {
        records: raw.len(),
        ..Counts::default()
    };
    let mut records = Vec::with_capacity(raw.len());
    let mut failed: BTreeSet<usize> = BTreeSet::new();
    let mut entries = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let (record, decoded) = decode(r);
        match decoded {
            Decoded::Skip => counts.skipped += 1,
            Decoded::Poison(reason) => {
                counts.poison += 1;
                tracing::error!(
                    event_id = record.event_id.as_deref().unwrap_or("?"),
                    sequence_number = record.dynamodb.sequence_number.as_deref().unwrap_or("?"),
                    reason = %reason,
                    "stream record is not an audit entry"
                );
                failed.insert(i);
            }
            Decoded::Events(events) => {
                counts.events += events.len();
                for ev in &events {
                    match Entry::of(i, ev) {
                        Ok(e) if e.size() <= MAX_REQUEST_BYTES => entries.push(e),
                        Ok(e) => {
                            tracing::error!(
                                event = %e.event_id,
                                bytes = e.size(),
                                "event larger than EventBridge accepts"
                            );
                            failed.insert(i);
                        }
                        Err(reason) => {
                            tracing::error!(event = %ev.id, reason = %reason, "event does not encode");
                            failed.insert(i);
                        }
                    }
                }
            }
        }
        records.push(record);
    }
    for chunk in chunks(entries) {
        if started.elapsed() >= budget {
            tracing::warn!(
                events = chunk.len(),
                "no time left for this PutEvents call: its records are retried"
            );
            failed.extend(chunk.iter().map(|e| e.record));
            continue;
        }
        counts.calls += 1;
        match publisher.put_events(&chunk).await {
            Ok(results) => {
                for (e, result) in chunk.iter().zip(results) {
                    match result {
                        None => counts.published += 1,
                        Some(code) => {
                            tracing::error!(event = %e.event_id, error_code = %code, "EventBridge refused an event");
                            failed.insert(e.record);
                        }
                    }
                }
            }
            Err(reason) => {
                tracing::error!(events = chunk.len(), error = %reason, "PutEvents failed");
                failed.extend(chunk.iter().map(|e| e.record));
            }
        }
    }
    counts.failed_records = failed.len();
    let mut failures = Vec::with_capacity(failed.len());
    for i in failed {
        match records[i].dynamodb.sequence_number.clone() {
            Some(seq) if !seq.is_empty() => failures.push(ItemFailure {
                item_identifier: seq,
            }),
            _ => {
                return Err(BatchError(format!(
                    "record {i} failed and has no sequence number to report"
                )));
            }
        }
    }
    Ok(Handled {
        response: BatchResponse {
            batch_item_failures: failures,
        },
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_domain::audit::{AuditAction, AuditEvent, Origin, Target, TargetKind};
    use rollcall_domain::ids::OrgId;
    use serde_json::json;
    use std::sync::Mutex;

    /// A publisher that records calls and refuses what `refuse` says.
    struct Fake {
        calls: Mutex<Vec<Vec<Entry>>>,
        refuse_type: Option<&'static str>,
        fail_calls: bool,
    }

    impl Fake {
        fn new() -> Self {
            Fake {
                calls: Mutex::new(Vec::new()),
                refuse_type: None,
                fail_calls: false,
            }
        }
        fn calls(&self) -> Vec<Vec<Entry>> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl Publisher for Fake {
        fn put_events(&self, entries: &[Entry]) -> impl Future<Output = PutResult> + Send {
            assert!(entries.len() <= MAX_ENTRIES_PER_CALL);
            assert!(entries.iter().map(Entry::size).sum::<usize>() <= MAX_REQUEST_BYTES);
            self.calls.lock().unwrap().push(entries.to_vec());
            let out = if self.fail_calls {
                Err("ServiceUnavailable".to_owned())
            } else {
                Ok(entries
                    .iter()
                    .map(|e| {
                        (Some(e.detail_type.as_str()) == self.refuse_type)
                            .then(|| "InternalFailure".to_owned())
                    })
                    .collect())
            };
            std::future::ready(out)
        }
    }

    /// JSON as DynamoDB's attribute-value JSON (what `to_item` stores).
    fn av(v: &Value) -> Value {
        match v {
            Value::String(s) => json!({ "S": s }),
            Value::Number(n) => json!({ "N": n.to_string() }),
            Value::Bool(b) => json!({ "BOOL": b }),
            Value::Null => json!({ "NULL": true }),
            Value::Array(a) => json!({ "L": a.iter().map(av).collect::<Vec<_>>() }),
            Value::Object(m) => {
                json!({ "M": m.iter().map(|(k, v)| (k.clone(), av(v))).collect::<serde_json::Map<_, _>>() })
            }
        }
    }

    fn entry(action: AuditAction, target: &str, details: Value) -> AuditEvent {
        AuditEvent::new(
            &OrgId::from_uuid(uuid::Uuid::now_v7()),
            &Origin::system(),
            chrono::Utc::now(),
            365,
            action,
            Target::new(TargetKind::Member, target),
            details,
        )
    }

    fn insert(seq: u32, e: &AuditEvent) -> Value {
        let Value::Object(mut image) = av(&serde_json::to_value(e).unwrap())["M"].clone() else {
            panic!("an entry is an object")
        };
        let pk = json!({ "S": format!("AUDIT#{}", e.org_id) });
        let sk = json!({ "S": e.id.to_string() });
        image.insert("PK".into(), pk.clone());
        image.insert("SK".into(), sk.clone());
        json!({
            "eventID": format!("ev{seq}"),
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "dynamodb": { "SequenceNumber": seq.to_string(), "Keys": { "PK": pk, "SK": sk }, "NewImage": image, "StreamViewType": "NEW_IMAGE" }
        })
    }

    fn suspended(n: usize) -> AuditEvent {
        entry(AuditAction::MemberSuspended, &format!("usr_{n}"), json!({}))
    }

    fn failures(h: &Handled) -> Vec<&str> {
        h.response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    const BUDGET: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_poison_record_is_reported_alone_and_the_others_are_published() {
        let a = suspended(1);
        let b = entry(
            AuditAction::InvitationRevoked,
            "inv_1",
            json!({ "email": "x@y.test" }),
        );
        let mut poison = insert(2, &a);
        poison["dynamodb"]["NewImage"]["action"] = json!({ "S": "no.such_action" });
        let remove = json!({ "eventName": "REMOVE", "dynamodb": { "SequenceNumber": "4", "Keys": { "PK": { "S": "AUDIT#o" } } } });
        let other = json!({ "eventName": "INSERT", "dynamodb": { "SequenceNumber": "5", "Keys": { "PK": { "S": "ORG#o" } }, "NewImage": { "PK": { "S": "ORG#o" } } } });
        let event = json!({ "Records": [insert(1, &a), poison, insert(3, &b), remove, other] });
        let fake = Fake::new();
        let h = handle(&fake, &event, BUDGET).await.unwrap();
        assert_eq!(failures(&h), ["2"]);
        let calls = fake.calls();
        assert_eq!(calls.len(), 1);
        let types: Vec<&str> = calls[0].iter().map(|e| e.detail_type.as_str()).collect();
        assert_eq!(types, ["member.suspended", "invitation.revoked"]);
        let detail: Value = serde_json::from_str(&calls[0][0].detail).unwrap();
        assert_eq!(detail["id"], json!(format!("{}.0", a.id)));
        assert_eq!(detail["version"], "1");
        assert_eq!(calls[0][0].time, a.at);
        assert_eq!(
            h.counts,
            Counts {
                records: 5,
                skipped: 2,
                poison: 1,
                events: 2,
                published: 2,
                calls: 1,
                failed_records: 1
            }
        );
        assert_eq!(
            serde_json::to_value(&h.response).unwrap(),
            json!({ "batchItemFailures": [{ "itemIdentifier": "2" }] })
        );
    }

    #[tokio::test]
    async fn calls_hold_at_most_ten_entries_and_a_refused_entry_fails_its_record() {
        let mut records: Vec<Value> = (0..23)
            .map(|i| insert(i + 1, &suspended(i as usize)))
            .collect();
        let revoked = entry(
            AuditAction::InvitationRevoked,
            "inv_9",
            json!({ "email": "x@y.test" }),
        );
        records.push(insert(24, &revoked));
        let fake = Fake {
            refuse_type: Some("invitation.revoked"),
            ..Fake::new()
        };
        let h = handle(&fake, &json!({ "Records": records }), BUDGET)
            .await
            .unwrap();
        let sizes: Vec<usize> = fake.calls().iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 4]);
        assert_eq!(failures(&h), ["24"]);
        assert_eq!(h.counts.published, 23);
    }

    #[tokio::test]
    async fn a_failed_call_fails_the_records_of_its_chunk() {
        let records: Vec<Value> = (0..12)
            .map(|i| insert(i + 1, &suspended(i as usize)))
            .collect();
        let fake = Fake {
            fail_calls: true,
            ..Fake::new()
        };
        let h = handle(&fake, &json!({ "Records": records }), BUDGET)
            .await
            .unwrap();
        assert_eq!(h.response.batch_item_failures.len(), 12);
        assert_eq!(h.counts.calls, 2);
        // With no time left, no call is made and every record is retried.
        let fake = Fake::new();
        let records: Vec<Value> = (0..3)
            .map(|i| insert(i + 1, &suspended(i as usize)))
            .collect();
        let h = handle(&fake, &json!({ "Records": records }), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(failures(&h), ["1", "2", "3"]);
        assert!(fake.calls().is_empty());
    }

    #[tokio::test]
    async fn a_large_event_goes_alone_and_one_too_large_fails_its_record() {
        let big = |n: usize| {
            entry(
                AuditAction::InvitationRevoked,
                "inv_big",
                json!({ "email": "x".repeat(n) }),
            )
        };
        let records = vec![
            insert(1, &big(150 * 1024)),
            insert(2, &big(150 * 1024)),
            insert(3, &big(300 * 1024)),
        ];
        let fake = Fake::new();
        let h = handle(&fake, &json!({ "Records": records }), BUDGET)
            .await
            .unwrap();
        assert_eq!(
            fake.calls().iter().map(Vec::len).collect::<Vec<_>>(),
            [1, 1]
        );
        assert_eq!(failures(&h), ["3"]);
    }

    #[tokio::test]
    async fn an_entry_without_events_succeeds_and_a_bad_event_fails_the_batch() {
        let pool = entry(AuditAction::PoolCreated, "pool_1", json!({}));
        let fake = Fake::new();
        let h = handle(&fake, &json!({ "Records": [insert(1, &pool)] }), BUDGET)
            .await
            .unwrap();
        assert!(h.response.batch_item_failures.is_empty());
        assert!(fake.calls().is_empty());
        assert!(handle(&fake, &json!({ "nope": [] }), BUDGET).await.is_err());
        // A failed record without a sequence number cannot be reported alone.
        let no_seq = json!({ "eventName": "INSERT", "dynamodb": { "Keys": { "PK": { "S": "AUDIT#o" } }, "NewImage": { "PK": { "S": "AUDIT#o" } } } });
        assert!(
            handle(&fake, &json!({ "Records": [no_seq] }), BUDGET)
                .await
                .is_err()
        );
        // A record of the wrong shape is poison, reported by its sequence number.
        let odd = json!({ "eventName": 5, "dynamodb": { "SequenceNumber": "9" } });
        let h = handle(&fake, &json!({ "Records": [odd] }), BUDGET)
            .await
            .unwrap();
        assert_eq!(failures(&h), ["9"]);
    }

    #[test]
    fn reasons_quoting_an_address_are_withheld() {
        assert!(!safe_reason("invalid value \"a@b.test\"").contains("a@b"));
        assert_eq!(
            safe_reason("M value is not an object"),
            "M value is not an object"
        );
    }
}
