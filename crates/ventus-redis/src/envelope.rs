//! Envelope v1: what one emission looks like on a stream, and how it is signed.
//!
//! (Interface only; the bodies are being written.)

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

/// The domain string every signature starts with.
pub const DOMAIN: &[u8] = b"ventus/env/v1";

/// The HMAC-SHA256 keys a process signs with and accepts.
#[derive(Clone, Default)]
pub struct Keyring {
    keys: HashMap<String, Arc<[u8]>>,
    signer: Option<String>,
}

/// A key that could not be added to a [`Keyring`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key id is empty.
    EmptyKid,
    /// The key id is longer than 64 bytes or has a character other than ASCII
    /// letters, digits, `-`, `_`, `.` and `:`.
    BadKid(String),
    /// The secret is shorter than 16 bytes.
    ShortSecret {
        /// The key id.
        kid: String,
        /// The secret's length.
        len: usize,
    },
    /// `sign_with` named a key the keyring does not hold.
    UnknownSigner(String),
}

impl Keyring {
    /// No keys: emitters send unsigned envelopes, workers accept only unsigned ones.
    pub fn unsigned() -> Self {
        Self::default()
    }

    /// One key, signed with.
    pub fn new(kid: &str, secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        Self::default().with_key(kid, secret)?.sign_with(kid)
    }

    /// Adds a key that verifies (rotation); it signs only after `sign_with`.
    pub fn with_key(self, kid: &str, secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let _ = (kid, secret.as_ref());
        unimplemented!()
    }

    /// Signs with `kid` from now on.
    pub fn sign_with(self, kid: &str) -> Result<Self, KeyError> {
        let _ = kid;
        unimplemented!()
    }

    /// The key id it signs with, if any.
    pub fn signer(&self) -> Option<&str> {
        self.signer.as_deref()
    }

    /// Whether it holds any key (then unsigned envelopes are refused).
    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").finish_non_exhaustive()
    }
}

/// One emission as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    id: Uuid,
    event: String,
    ts_ms: u64,
    ct: String,
    kid: Option<String>,
    payload: Vec<u8>,
    traceparent: Option<String>,
    sig: Option<[u8; 32]>,
}

/// Why an envelope was refused before any handler ran.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// A field is missing or unreadable.
    Malformed {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// `v` is not `1`.
    Version(String),
    /// No signature, where keys are configured.
    Unsigned,
    /// A signature, where no key is configured.
    UnexpectedSignature,
    /// Signed with a key id this worker does not hold.
    UnknownKey(String),
    /// The tag does not match.
    BadSignature,
    /// `ts_ms` is outside the accepted window.
    Stale {
        /// How far from now, in milliseconds (negative: in the future).
        age_ms: i64,
        /// The window.
        window_ms: u64,
    },
}

impl Rejection {
    /// A short stable code: `malformed`, `version`, `unsigned`, `unexpected-signature`,
    /// `unknown-key`, `bad-signature`, `stale`.
    pub fn reason(&self) -> &'static str {
        unimplemented!()
    }
}

impl Envelope {
    /// An unsigned envelope.
    pub fn new(
        id: Uuid,
        event: impl Into<String>,
        ts_ms: u64,
        content_type: impl Into<String>,
        payload: Vec<u8>,
        traceparent: Option<String>,
    ) -> Self {
        Self {
            id,
            event: event.into(),
            ts_ms,
            ct: content_type.into(),
            kid: None,
            payload,
            traceparent,
            sig: None,
        }
    }

    /// Signs with the keyring's signer; does nothing without one.
    pub fn sign(&mut self, keyring: &Keyring) {
        let _ = keyring;
        unimplemented!()
    }

    /// The stream entry's fields.
    pub fn to_fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        unimplemented!()
    }

    /// Reads the fields, checks the version, verifies, and returns the envelope.
    pub fn open(
        fields: &[(String, Vec<u8>)],
        keyring: &Keyring,
        window: Option<Duration>,
        now_ms: u64,
    ) -> Result<Self, Rejection> {
        let _ = (fields, keyring, window, now_ms);
        unimplemented!()
    }

    /// Reads the fields without verifying (for inspecting dead letters).
    pub fn parse(fields: &[(String, Vec<u8>)]) -> Result<Self, Rejection> {
        let _ = fields;
        unimplemented!()
    }

    /// The id.
    pub fn id(&self) -> Uuid {
        self.id
    }
    /// The event name.
    pub fn event(&self) -> &str {
        &self.event
    }
    /// Milliseconds since the Unix epoch, when it was emitted.
    pub fn ts_ms(&self) -> u64 {
        self.ts_ms
    }
    /// The payload's content type.
    pub fn content_type(&self) -> &str {
        &self.ct
    }
    /// The signing key's id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
    /// The W3C trace context.
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }
    /// Whether it carries a signature.
    pub fn is_signed(&self) -> bool {
        self.sig.is_some()
    }
}
