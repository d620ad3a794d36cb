//! The queued message format, versioned from the first commit.
//!
//! A message is a *pointer* to a job row, not a copy of the job: it carries the job id, the
//! number of attempts started when it was written (the fence [`JobStore::start_delivery`]
//! checks), and the job type (so a consumer can route or pause by type without a database
//! read). The payload stays in PostgreSQL, the source of truth; a message can therefore
//! never disagree with the row about what to run, only be obsolete, which the fence detects.
//!
//! On the wire it is compact JSON in a single stream field ([`FIELD`]) and, verbatim, the
//! member of the delayed sorted set, so the promote script moves it without parsing:
//!
//! ```text
//! {"v":1,"job":"job_0190b4c4…","attempt":0,"type":"http.request"}
//! ```
//!
//! Evolution rules: `v` is always present and first. Readers ignore fields they do not
//! know, so adding an optional field keeps the version; anything an older reader would
//! misread bumps it, and consumers are deployed before producers. A reader meeting a newer
//! version reports [`Error::UnknownMessageVersion`] and leaves the entry for a newer
//! consumer. The committed golden file `tests/golden/message_v1.json` pins the bytes.
//!
//! [`JobStore::start_delivery`]: crate::JobStore::start_delivery

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::job::{Job, JobId};

/// The version this build writes (and the newest it reads).
pub const MESSAGE_VERSION: u32 = 1;

/// The stream entry field holding the encoded message.
pub const FIELD: &str = "msg";

/// Messages are a few dozen bytes; anything far larger is not ours.
const MAX_ENCODED_LEN: usize = 4096;

/// One queued delivery of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The job to run.
    pub job_id: JobId,
    /// Attempts the job had started when this message was written; the delivery starts
    /// attempt `attempt + 1`.
    pub attempt: u32,
    /// The job's handler, for routing without a database read.
    pub job_type: String,
}

/// Version 1 on the wire. Field order is the serialisation order (the golden file pins it).
/// Written with borrowed strings, read into owned ones (JSON escapes need owned output).
#[derive(Debug, Serialize, Deserialize)]
struct WireV1<S> {
    v: u32,
    job: S,
    attempt: u32,
    #[serde(rename = "type")]
    job_type: S,
}

/// Just enough to dispatch on the version.
#[derive(Debug, Deserialize)]
struct Probe {
    v: u32,
}

impl Message {
    /// The message that delivers `job`'s next attempt.
    #[must_use]
    pub fn for_job(job: &Job) -> Self {
        Message {
            job_id: job.id,
            attempt: job.attempt,
            job_type: job.job_type.clone(),
        }
    }

    /// The wire form (current version).
    #[must_use]
    pub fn encode(&self) -> String {
        let job = self.job_id.to_string();
        let wire = WireV1 {
            v: MESSAGE_VERSION,
            job: job.as_str(),
            attempt: self.attempt,
            job_type: self.job_type.as_str(),
        };
        // Serialising a struct of strings and integers to a String cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Reads any version this build knows.
    ///
    /// # Errors
    /// [`Error::UnknownMessageVersion`] for a newer version; [`Error::BadMessage`] for
    /// anything else that is not a message.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_ENCODED_LEN {
            return Err(Error::BadMessage(format!("{} bytes", bytes.len())));
        }
        let bad = |e: serde_json::Error| Error::BadMessage(e.to_string());
        let probe: Probe = serde_json::from_slice(bytes).map_err(bad)?;
        match probe.v {
            1 => {
                let wire: WireV1<String> = serde_json::from_slice(bytes).map_err(bad)?;
                Ok(Message {
                    job_id: wire
                        .job
                        .parse()
                        .map_err(|e: Error| Error::BadMessage(e.to_string()))?,
                    attempt: wire.attempt,
                    job_type: wire.job_type,
                })
            }
            v if v > MESSAGE_VERSION => Err(Error::UnknownMessageVersion(v)),
            v => Err(Error::BadMessage(format!("version {v} was never written"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            job_id: "job_0190b4c412347abc8def0123456789ab".parse().expect("id"),
            attempt: 2,
            job_type: "http.request".into(),
        }
    }

    #[test]
    fn round_trips_and_starts_with_the_version() {
        let encoded = message().encode();
        assert!(encoded.starts_with(r#"{"v":1,"#), "{encoded}");
        assert_eq!(
            Message::decode(encoded.as_bytes()).expect("decode"),
            message()
        );
    }

    #[test]
    fn unknown_fields_are_ignored_within_a_version() {
        let with_extra = r#"{"v":1,"job":"job_0190b4c412347abc8def0123456789ab","attempt":2,"type":"http.request","priority":3}"#;
        assert_eq!(
            Message::decode(with_extra.as_bytes()).expect("decode"),
            message()
        );
    }

    #[test]
    fn newer_versions_and_garbage_are_told_apart() {
        assert!(matches!(
            Message::decode(br#"{"v":2,"anything":true}"#),
            Err(Error::UnknownMessageVersion(2))
        ));
        for bad in [
            &b""[..],
            b"not json",
            br#"{"job":"job_0190b4c412347abc8def0123456789ab"}"#,
            br#"{"v":0}"#,
            br#"{"v":1,"job":"ord_1","attempt":0,"type":"x"}"#,
            br#"{"v":1,"job":"job_0190b4c412347abc8def0123456789ab","attempt":-1,"type":"x"}"#,
        ] {
            let err = Message::decode(bad).expect_err("refused");
            assert!(!err.retryable(), "{err}");
            assert!(matches!(err, Error::BadMessage(_)), "{err}");
        }
        assert!(matches!(
            Message::decode(&vec![b' '; MAX_ENCODED_LEN + 1]),
            Err(Error::BadMessage(_))
        ));
    }
}
