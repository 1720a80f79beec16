//! Envelope v1: what one emission looks like on a stream, and how it is signed.
//!
//! # Fields
//!
//! An emission is one Redis stream entry. [`Envelope::to_fields`] writes these fields, in
//! this order, leaving out the ones marked optional when they are absent:
//!
//! | field     | value                                                                |
//! |-----------|----------------------------------------------------------------------|
//! | `v`       | `1`, the envelope version                                            |
//! | `id`      | the emission's UUIDv7, hyphenated, lowercase                         |
//! | `event`   | the event name (UTF-8, not empty)                                    |
//! | `ts_ms`   | milliseconds since the Unix epoch, decimal ASCII, no leading zeros   |
//! | `ct`      | the payload's content type, `application/json` by default            |
//! | `kid`     | optional: the id of the key it is signed with                        |
//! | `payload` | the payload bytes as the codec wrote them (may be empty)             |
//! | `sig`     | optional: the raw 32-byte HMAC-SHA256 tag                            |
//! | `tp`      | optional: the W3C `traceparent`                                      |
//!
//! Fields with other names are ignored. A field that appears twice is refused.
//!
//! # Signature
//!
//! The tag is HMAC-SHA256, keyed with the secret of the key `kid`, over [`DOMAIN`]
//! (`ventus/env/v1`) followed by each signed field as a 4-byte big-endian length and then
//! the field's bytes exactly as stored (no canonicalisation, no JSON re-encoding):
//!
//! ```text
//! "ventus/env/v1"
//! ‖ len(id) ‖ id ‖ len(event) ‖ event ‖ len(ts_ms) ‖ ts_ms ‖ len(ct) ‖ ct
//! ‖ len(payload) ‖ payload [‖ len(tp) ‖ tp]      (tp only when the entry has one)
//! ```
//!
//! `id` is the hyphenated string and `ts_ms` the decimal string, as on the stream.
//! [`signature`] computes it.
//!
//! # Verifying
//!
//! [`Envelope::open`] checks, in this order, and stops at the first failure:
//!
//! 1. the version: `v` must be present and `1` ([`Rejection::Malformed`], [`Rejection::Version`]);
//! 2. the fields: `id`, `event`, `ts_ms`, `ct` and `payload` present and readable, `kid` and
//!    `tp` UTF-8 when present ([`Rejection::Malformed`]);
//! 3. whether it should be signed: a keyring with keys refuses an entry without `sig`
//!    ([`Rejection::Unsigned`]); a keyring without keys refuses one with `sig` or `kid`
//!    ([`Rejection::UnexpectedSignature`]); the `kid` must be one the keyring holds
//!    ([`Rejection::UnknownKey`]);
//! 4. the time window, when one is given ([`Rejection::Stale`]);
//! 5. the tag, compared in constant time ([`Rejection::BadSignature`]).
//!
//! Only an envelope that passed all of them should have its payload decoded.
//!
//! # Test vectors
//!
//! Both use key id `k1` with the 32-byte ASCII secret `ventus-test-vector-key-000000001`,
//! id `01890a5d-ac96-7b4c-8a1f-3c2e5d6f7a8b`, event `order.placed`, `ts_ms`
//! `1700000000000`, content type `application/json` and payload `{"order":42}`
//! (12 bytes). Another implementation of the format should produce the same tags.
//!
//! | `tp`                                                      | `sig` (hex)                                                        |
//! |-----------------------------------------------------------|--------------------------------------------------------------------|
//! | absent                                                    | `76896b748c4257cc68d4e90ff87f1c7ad96e1205310a49f29744875e4975c108` |
//! | `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01` | `7d3c81b75b7675b878b1a6752cfcf6044033c4e100bfdaae949b2bd141f7bd4a` |
//!
//! The signed input is 122 bytes without `tp` and 181 bytes with it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// The domain string every signature starts with.
pub const DOMAIN: &[u8] = b"ventus/env/v1";

/// The envelope version this module writes and reads.
const VERSION: &str = "1";

/// The shortest secret a [`Keyring`] accepts, in bytes.
pub(crate) const MIN_SECRET_LEN: usize = 16;

/// The longest key id a [`Keyring`] accepts, in bytes.
pub(crate) const MAX_KID_LEN: usize = 64;

/// The length of a tag, in bytes.
const TAG_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The HMAC-SHA256 keys a process signs with and accepts.
///
/// An emitter signs with one key, its *signer*; a worker accepts envelopes signed with any
/// key it holds. To rotate, give workers the new key next to the old one, then switch
/// emitters to sign with the new one, then drop the old one.
///
/// A keyring without keys ([`Keyring::unsigned`]) sends unsigned envelopes and accepts only
/// unsigned ones; a keyring with keys refuses unsigned envelopes.
///
/// Its `Debug` output never shows a secret.
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

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyKid => f.write_str(
                "key id is empty; give each key an id of 1 to 64 ASCII letters, digits, \
                 `-`, `_`, `.` or `:`",
            ),
            Self::BadKid(kid) => write!(
                f,
                "key id `{}` is not valid; use 1 to 64 ASCII letters, digits, `-`, `_`, `.` \
                 or `:`",
                kid.escape_debug()
            ),
            Self::ShortSecret { kid, len } => write!(
                f,
                "the secret of key id `{}` is {len} bytes, shorter than the {MIN_SECRET_LEN} \
                 required; use a random secret of at least {MIN_SECRET_LEN} bytes (32 is \
                 better)",
                kid.escape_debug()
            ),
            Self::UnknownSigner(kid) => write!(
                f,
                "cannot sign with key id `{}`: the keyring does not hold it; add it first with \
                 Keyring::with_key",
                kid.escape_debug()
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Checks a key id against the rules of [`KeyError::EmptyKid`] and [`KeyError::BadKid`].
fn check_kid(kid: &str) -> Result<(), KeyError> {
    if kid.is_empty() {
        return Err(KeyError::EmptyKid);
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
    if kid.len() > MAX_KID_LEN || !kid.bytes().all(allowed) {
        return Err(KeyError::BadKid(kid.to_owned()));
    }
    Ok(())
}

impl Keyring {
    /// No keys: emitters send unsigned envelopes, workers accept only unsigned ones.
    pub fn unsigned() -> Self {
        Self::default()
    }

    /// One key, signed with.
    ///
    /// The key id must be 1 to 64 ASCII letters, digits, `-`, `_`, `.` or `:`, and the
    /// secret at least 16 bytes (use 32 random bytes).
    ///
    /// ```
    /// use ventus_redis::{KeyError, Keyring};
    ///
    /// let keyring = Keyring::new("k1", b"a secret of 32 random bytes.....")?;
    /// assert_eq!(keyring.signer(), Some("k1"));
    /// assert!(keyring.has_keys());
    ///
    /// assert!(matches!(
    ///     Keyring::new("k1", b"too short"),
    ///     Err(KeyError::ShortSecret { len: 9, .. })
    /// ));
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn new(kid: &str, secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        Self::default().with_key(kid, secret)?.sign_with(kid)
    }

    /// Adds a key that verifies (rotation); it signs only after `sign_with`.
    ///
    /// Adding a key id the keyring already holds replaces its secret.
    ///
    /// ```
    /// use ventus_redis::Keyring;
    ///
    /// // A worker during a rotation: accepts both keys, signs (replies, retries) with the new one.
    /// let keyring = Keyring::new("k1", b"the old secret, 32 bytes long...")?
    ///     .with_key("k2", b"the new secret, 32 bytes long...")?
    ///     .sign_with("k2")?;
    /// assert_eq!(keyring.signer(), Some("k2"));
    /// # Ok::<(), ventus_redis::KeyError>(())
    /// ```
    pub fn with_key(mut self, kid: &str, secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        check_kid(kid)?;
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(KeyError::ShortSecret {
                kid: kid.to_owned(),
                len: secret.len(),
            });
        }
        self.keys.insert(kid.to_owned(), Arc::from(secret));
        Ok(self)
    }

    /// Signs with `kid` from now on.
    ///
    /// Fails with [`KeyError::UnknownSigner`] unless the keyring holds `kid`.
    pub fn sign_with(mut self, kid: &str) -> Result<Self, KeyError> {
        if !self.keys.contains_key(kid) {
            return Err(KeyError::UnknownSigner(kid.to_owned()));
        }
        self.signer = Some(kid.to_owned());
        Ok(self)
    }

    /// The key id it signs with, if any.
    pub fn signer(&self) -> Option<&str> {
        self.signer.as_deref()
    }

    /// Whether it holds any key (then unsigned envelopes are refused).
    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The signer's id and secret.
    fn signing_key(&self) -> Option<(&str, &[u8])> {
        let kid = self.signer.as_deref()?;
        self.keys.get(kid).map(|secret| (kid, &**secret))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").finish_non_exhaustive()
    }
}

/// One emission as it travels.
///
/// Its fields cannot be changed once made, so a signature made by [`Envelope::sign`] stays
/// valid for what [`Envelope::to_fields`] writes.
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
    ///
    /// Meant for metrics labels and dead-letter records; the codes do not change.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed",
            Self::Version(_) => "version",
            Self::Unsigned => "unsigned",
            Self::UnexpectedSignature => "unexpected-signature",
            Self::UnknownKey(_) => "unknown-key",
            Self::BadSignature => "bad-signature",
            Self::Stale { .. } => "stale",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { field, problem } => write!(
                f,
                "malformed envelope: field `{field}` {problem}; the entry was not written by a \
                 ventus envelope v1 emitter, or was changed after"
            ),
            Self::Version(v) => write!(
                f,
                "envelope version `{}` is not supported: this worker reads version {VERSION}; \
                 run a worker that reads the emitter's version",
                v.escape_debug()
            ),
            Self::Unsigned => f.write_str(
                "the envelope is unsigned but this worker requires signatures; give the emitter \
                 a Keyring with one of the worker's keys, or run the worker with \
                 Keyring::unsigned()",
            ),
            Self::UnexpectedSignature => f.write_str(
                "the envelope is signed but this worker holds no keys; give the worker the \
                 emitter's key with Keyring::new or Keyring::with_key",
            ),
            Self::UnknownKey(kid) => write!(
                f,
                "signed with key id `{}`, which this worker does not hold; add it with \
                 Keyring::with_key",
                kid.escape_debug()
            ),
            Self::BadSignature => f.write_str(
                "the signature does not match the envelope: it was changed after signing, or \
                 signed with another secret under the same key id; check that emitter and \
                 worker share the secret of each key id",
            ),
            Self::Stale { age_ms, window_ms } if *age_ms < 0 => write!(
                f,
                "the envelope is dated {}ms in the future, outside the accepted window of \
                 {window_ms}ms; check the emitter's and the worker's clocks, or widen the window",
                age_ms.unsigned_abs()
            ),
            Self::Stale { age_ms, window_ms } => write!(
                f,
                "the envelope was emitted {age_ms}ms ago, outside the accepted window of \
                 {window_ms}ms; it may be a replay, or waited too long: check the worker's lag \
                 and clock, or widen the window"
            ),
        }
    }
}

impl std::error::Error for Rejection {}

fn malformed(field: &'static str, problem: impl Into<String>) -> Rejection {
    Rejection::Malformed {
        field,
        problem: problem.into(),
    }
}

/// At most 64 characters of an untrusted value, for a [`Rejection::Malformed`] problem.
fn shown(value: &[u8]) -> String {
    const MAX: usize = 64;
    let text = String::from_utf8_lossy(&value[..value.len().min(MAX)]);
    let more = if value.len() > MAX { "…" } else { "" };
    format!("`{}{more}`", text.escape_debug())
}

/// Feeds one length-prefixed field to the MAC.
fn put(mac: &mut HmacSha256, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("an envelope field is at most 4 GiB");
    mac.update(&len.to_be_bytes());
    mac.update(bytes);
}

/// The MAC over the signed fields, not yet finalised.
fn mac(
    secret: &[u8],
    id: &str,
    event: &str,
    ts_ms: &str,
    ct: &str,
    payload: &[u8],
    traceparent: Option<&str>,
) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(DOMAIN);
    put(&mut mac, id.as_bytes());
    put(&mut mac, event.as_bytes());
    put(&mut mac, ts_ms.as_bytes());
    put(&mut mac, ct.as_bytes());
    put(&mut mac, payload);
    if let Some(tp) = traceparent {
        put(&mut mac, tp.as_bytes());
    }
    mac
}

/// The envelope v1 tag: HMAC-SHA256 keyed with `secret` over [`DOMAIN`] and each field as a
/// 4-byte big-endian length and its bytes, in the order of the arguments (`traceparent` only
/// when present).
///
/// The arguments are the fields' bytes as they are on the stream: `id` the hyphenated
/// lowercase UUID, `ts_ms` the decimal milliseconds. [`Envelope::sign`] and
/// [`Envelope::open`] use it; it is public to check other implementations against this one.
///
/// # Panics
///
/// If a field is longer than 4 GiB (`u32::MAX` bytes), which a Redis value cannot be.
///
/// # Example
///
/// The first test vector of the [module docs](self):
///
/// ```
/// use ventus_redis::envelope::signature;
///
/// let tag = signature(
///     b"ventus-test-vector-key-000000001",
///     "01890a5d-ac96-7b4c-8a1f-3c2e5d6f7a8b",
///     "order.placed",
///     "1700000000000",
///     "application/json",
///     br#"{"order":42}"#,
///     None,
/// );
/// assert_eq!(
///     hex::encode(tag),
///     "76896b748c4257cc68d4e90ff87f1c7ad96e1205310a49f29744875e4975c108"
/// );
/// ```
pub fn signature(
    secret: &[u8],
    id: &str,
    event: &str,
    ts_ms: &str,
    ct: &str,
    payload: &[u8],
    traceparent: Option<&str>,
) -> [u8; 32] {
    mac(secret, id, event, ts_ms, ct, payload, traceparent)
        .finalize()
        .into_bytes()
        .into()
}

/// The fields of one entry, read and checked for form but not verified.
struct Raw<'a> {
    id: Uuid,
    id_str: &'a str,
    event: &'a str,
    ts_ms: u64,
    ts_str: &'a str,
    ct: &'a str,
    kid: Option<&'a str>,
    payload: &'a [u8],
    sig: Option<&'a [u8]>,
    tp: Option<&'a str>,
}

/// The value of the field `name`, if the entry has it once.
fn field<'a>(
    fields: &'a [(String, Vec<u8>)],
    name: &'static str,
) -> Result<Option<&'a [u8]>, Rejection> {
    let mut found = None;
    for (n, value) in fields {
        if n == name {
            if found.is_some() {
                return Err(malformed(name, "appears more than once"));
            }
            if u32::try_from(value.len()).is_err() {
                return Err(malformed(name, "is longer than 4 GiB"));
            }
            found = Some(value.as_slice());
        }
    }
    Ok(found)
}

fn required<'a>(
    fields: &'a [(String, Vec<u8>)],
    name: &'static str,
) -> Result<&'a [u8], Rejection> {
    field(fields, name)?.ok_or_else(|| malformed(name, "is missing"))
}

fn utf8<'a>(name: &'static str, value: &'a [u8]) -> Result<&'a str, Rejection> {
    std::str::from_utf8(value)
        .map_err(|_| malformed(name, format!("{} is not UTF-8", shown(value))))
}

fn non_empty<'a>(name: &'static str, value: &'a [u8]) -> Result<&'a str, Rejection> {
    let text = utf8(name, value)?;
    if text.is_empty() {
        return Err(malformed(name, "is empty"));
    }
    Ok(text)
}

impl<'a> Raw<'a> {
    fn read(fields: &'a [(String, Vec<u8>)]) -> Result<Self, Rejection> {
        let v = utf8("v", required(fields, "v")?)?;
        if v != VERSION {
            return Err(Rejection::Version(v.to_owned()));
        }

        let id_str = utf8("id", required(fields, "id")?)?;
        let id = Uuid::try_parse(id_str)
            .ok()
            .filter(|id| {
                let mut buf = Uuid::encode_buffer();
                id.hyphenated().encode_lower(&mut buf) == id_str
            })
            .ok_or_else(|| {
                malformed(
                    "id",
                    format!(
                        "{} is not a hyphenated lowercase UUID",
                        shown(id_str.as_bytes())
                    ),
                )
            })?;

        let event = non_empty("event", required(fields, "event")?)?;

        let ts_str = utf8("ts_ms", required(fields, "ts_ms")?)?;
        let canonical = !ts_str.is_empty()
            && ts_str.bytes().all(|b| b.is_ascii_digit())
            && (ts_str == "0" || !ts_str.starts_with('0'));
        let ts_ms = canonical
            .then(|| ts_str.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| {
                malformed(
                    "ts_ms",
                    format!(
                        "{} is not a decimal count of milliseconds without leading zeros",
                        shown(ts_str.as_bytes())
                    ),
                )
            })?;

        let ct = non_empty("ct", required(fields, "ct")?)?;
        let payload = required(fields, "payload")?;
        let kid = field(fields, "kid")?
            .map(|kid| utf8("kid", kid))
            .transpose()?;
        let sig = field(fields, "sig")?;
        let tp = field(fields, "tp")?.map(|tp| utf8("tp", tp)).transpose()?;

        Ok(Self {
            id,
            id_str,
            event,
            ts_ms,
            ts_str,
            ct,
            kid,
            payload,
            sig,
            tp,
        })
    }

    fn mac(&self, secret: &[u8]) -> HmacSha256 {
        mac(
            secret,
            self.id_str,
            self.event,
            self.ts_str,
            self.ct,
            self.payload,
            self.tp,
        )
    }

    fn into_envelope(self, sig: Option<[u8; TAG_LEN]>) -> Envelope {
        Envelope {
            id: self.id,
            event: self.event.to_owned(),
            ts_ms: self.ts_ms,
            ct: self.ct.to_owned(),
            kid: self.kid.map(str::to_owned),
            payload: self.payload.to_vec(),
            traceparent: self.tp.map(str::to_owned),
            sig,
        }
    }
}

impl Envelope {
    /// An unsigned envelope.
    ///
    /// `content_type` is usually `application/json`; `ts_ms` is milliseconds since the Unix
    /// epoch.
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

    /// Signs with the keyring's signer, setting `kid` and `sig`; without a signer it leaves
    /// the envelope unsigned (clearing any earlier signature).
    pub fn sign(&mut self, keyring: &Keyring) {
        match keyring.signing_key() {
            Some((kid, secret)) => {
                let mut id = Uuid::encode_buffer();
                let tag = signature(
                    secret,
                    self.id.hyphenated().encode_lower(&mut id),
                    &self.event,
                    &self.ts_ms.to_string(),
                    &self.ct,
                    &self.payload,
                    self.traceparent.as_deref(),
                );
                self.kid = Some(kid.to_owned());
                self.sig = Some(tag);
            }
            None => {
                self.kid = None;
                self.sig = None;
            }
        }
    }

    /// The stream entry's fields: `v`, `id`, `event`, `ts_ms`, `ct`, `kid`, `payload`, `sig`,
    /// `tp`, in that order, without the absent ones.
    pub fn to_fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut fields = Vec::with_capacity(9);
        fields.push(("v", VERSION.as_bytes().to_vec()));
        fields.push(("id", self.id.hyphenated().to_string().into_bytes()));
        fields.push(("event", self.event.clone().into_bytes()));
        fields.push(("ts_ms", self.ts_ms.to_string().into_bytes()));
        fields.push(("ct", self.ct.clone().into_bytes()));
        if let Some(kid) = &self.kid {
            fields.push(("kid", kid.clone().into_bytes()));
        }
        fields.push(("payload", self.payload.clone()));
        if let Some(sig) = &self.sig {
            fields.push(("sig", sig.to_vec()));
        }
        if let Some(tp) = &self.traceparent {
            fields.push(("tp", tp.clone().into_bytes()));
        }
        fields
    }

    /// Reads the fields, checks the version, verifies, and returns the envelope.
    ///
    /// The checks and their order are in the [module docs](self#verifying). `window` bounds
    /// how far `ts_ms` may be from `now_ms` (milliseconds since the Unix epoch), either way;
    /// `None` accepts any time. An unsigned envelope is accepted only by a keyring without
    /// keys, and is still subject to the window.
    ///
    /// Decode the payload only after this returns `Ok`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ventus_redis::{Envelope, Keyring, Rejection};
    ///
    /// let keyring = Keyring::new("k1", b"a secret of 32 random bytes.....")?;
    /// let now_ms = 1_700_000_000_000;
    /// let mut envelope = Envelope::new(
    ///     uuid::Uuid::now_v7(),
    ///     "order.placed",
    ///     now_ms,
    ///     "application/json",
    ///     br#"{"order":42}"#.to_vec(),
    ///     None,
    /// );
    /// envelope.sign(&keyring);
    ///
    /// // What a worker reads back from the stream.
    /// let mut fields: Vec<(String, Vec<u8>)> = envelope
    ///     .to_fields()
    ///     .into_iter()
    ///     .map(|(name, value)| (name.to_owned(), value))
    ///     .collect();
    /// let window = Some(Duration::from_secs(300));
    ///
    /// let opened = Envelope::open(&fields, &keyring, window, now_ms + 1_000).unwrap();
    /// assert_eq!(opened, envelope);
    ///
    /// // Any change to a signed field is caught.
    /// let payload = fields.iter_mut().find(|(name, _)| name == "payload").unwrap();
    /// payload.1 = br#"{"order":43}"#.to_vec();
    /// assert_eq!(
    ///     Envelope::open(&fields, &keyring, window, now_ms + 1_000),
    ///     Err(Rejection::BadSignature)
    /// );
    /// # Ok::<(), ventus_redis::KeyError>(())
    /// ```
    pub fn open(
        fields: &[(String, Vec<u8>)],
        keyring: &Keyring,
        window: Option<Duration>,
        now_ms: u64,
    ) -> Result<Self, Rejection> {
        let raw = Raw::read(fields)?;

        let expected = match (keyring.has_keys(), raw.sig, raw.kid) {
            (true, None, _) => return Err(Rejection::Unsigned),
            (true, Some(_), None) => {
                return Err(malformed("kid", "is missing, while the entry has a `sig`"))
            }
            (true, Some(sig), Some(kid)) => match keyring.keys.get(kid) {
                Some(secret) => Some((&**secret, sig)),
                None => return Err(Rejection::UnknownKey(kid.to_owned())),
            },
            (false, None, None) => None,
            (false, _, _) => return Err(Rejection::UnexpectedSignature),
        };

        if let Some(window) = window {
            let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
            let age = i128::from(now_ms) - i128::from(raw.ts_ms);
            if age.unsigned_abs() > u128::from(window_ms) {
                let age_ms =
                    i64::try_from(age).unwrap_or(if age < 0 { i64::MIN } else { i64::MAX });
                return Err(Rejection::Stale { age_ms, window_ms });
            }
        }

        let sig = match expected {
            Some((secret, sig)) => {
                raw.mac(secret)
                    .verify_slice(sig)
                    .map_err(|_| Rejection::BadSignature)?;
                Some(<[u8; TAG_LEN]>::try_from(sig).map_err(|_| Rejection::BadSignature)?)
            }
            None => None,
        };
        Ok(raw.into_envelope(sig))
    }

    /// Reads the fields without verifying (for inspecting dead letters).
    ///
    /// It checks what [`Envelope::open`] checks before the signature: the version and the
    /// fields' form. A `sig` that is not 32 bytes is [`Rejection::Malformed`] here.
    pub fn parse(fields: &[(String, Vec<u8>)]) -> Result<Self, Rejection> {
        let raw = Raw::read(fields)?;
        let sig = raw
            .sig
            .map(|sig| {
                <[u8; TAG_LEN]>::try_from(sig)
                    .map_err(|_| malformed("sig", format!("is {} bytes, not {TAG_LEN}", sig.len())))
            })
            .transpose()?;
        Ok(raw.into_envelope(sig))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors' inputs (see the module docs).
    const SECRET: &[u8] = b"ventus-test-vector-key-000000001";
    const ID: &str = "01890a5d-ac96-7b4c-8a1f-3c2e5d6f7a8b";
    const EVENT: &str = "order.placed";
    const TS: u64 = 1_700_000_000_000;
    const TS_STR: &str = "1700000000000";
    const CT: &str = "application/json";
    const PAYLOAD: &[u8] = br#"{"order":42}"#;
    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    /// Computed independently (Python's `hmac`/`hashlib`), not by this module.
    const TAG_NO_TP: &str = "76896b748c4257cc68d4e90ff87f1c7ad96e1205310a49f29744875e4975c108";
    const TAG_TP: &str = "7d3c81b75b7675b878b1a6752cfcf6044033c4e100bfdaae949b2bd141f7bd4a";

    const OTHER_SECRET: &[u8] = b"another-secret-for-key-two-00002";
    const WINDOW: Option<Duration> = Some(Duration::from_secs(60));

    type Fields = Vec<(String, Vec<u8>)>;

    fn k1() -> Keyring {
        Keyring::new("k1", SECRET).unwrap()
    }

    fn envelope(tp: Option<&str>) -> Envelope {
        Envelope::new(
            Uuid::parse_str(ID).unwrap(),
            EVENT,
            TS,
            CT,
            PAYLOAD.to_vec(),
            tp.map(str::to_owned),
        )
    }

    fn signed(keyring: &Keyring, tp: Option<&str>) -> Envelope {
        let mut env = envelope(tp);
        env.sign(keyring);
        env
    }

    fn fields(env: &Envelope) -> Fields {
        env.to_fields()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }

    fn get<'a>(fields: &'a mut Fields, name: &str) -> &'a mut Vec<u8> {
        &mut fields.iter_mut().find(|(n, _)| n == name).unwrap().1
    }

    fn set(mut fields: Fields, name: &str, value: &[u8]) -> Fields {
        *get(&mut fields, name) = value.to_vec();
        fields
    }

    fn without(mut fields: Fields, name: &str) -> Fields {
        let before = fields.len();
        fields.retain(|(n, _)| n != name);
        assert_eq!(fields.len(), before - 1, "no field `{name}` to remove");
        fields
    }

    fn open(fields: &Fields, keyring: &Keyring) -> Result<Envelope, Rejection> {
        Envelope::open(fields, keyring, WINDOW, TS + 1_000)
    }

    fn malformed_field(result: Result<Envelope, Rejection>) -> &'static str {
        match result {
            Err(Rejection::Malformed { field, .. }) => field,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    // --- test vectors -------------------------------------------------------------------

    #[test]
    fn vector_without_traceparent() {
        let tag = signature(SECRET, ID, EVENT, TS_STR, CT, PAYLOAD, None);
        assert_eq!(hex::encode(tag), TAG_NO_TP);

        let env = signed(&k1(), None);
        let f = env.to_fields();
        let sig = &f.iter().find(|(n, _)| *n == "sig").unwrap().1;
        assert_eq!(hex::encode(sig), TAG_NO_TP);
    }

    #[test]
    fn vector_with_traceparent() {
        let tag = signature(SECRET, ID, EVENT, TS_STR, CT, PAYLOAD, Some(TP));
        assert_eq!(hex::encode(tag), TAG_TP);

        let env = signed(&k1(), Some(TP));
        let f = env.to_fields();
        let sig = &f.iter().find(|(n, _)| *n == "sig").unwrap().1;
        assert_eq!(hex::encode(sig), TAG_TP);
    }

    #[test]
    fn signature_frames_each_field() {
        let base = signature(SECRET, ID, "ab", TS_STR, "c", PAYLOAD, None);
        // Same concatenated bytes, different split: the length prefixes tell them apart.
        assert_ne!(
            base,
            signature(SECRET, ID, "a", TS_STR, "bc", PAYLOAD, None)
        );
        // An empty traceparent is not the same as none.
        assert_ne!(
            base,
            signature(SECRET, ID, "ab", TS_STR, "c", PAYLOAD, Some(""))
        );
        // The secret matters.
        assert_ne!(
            base,
            signature(OTHER_SECRET, ID, "ab", TS_STR, "c", PAYLOAD, None)
        );
    }

    // --- wire format --------------------------------------------------------------------

    #[test]
    fn to_fields_writes_every_field_in_order() {
        let env = signed(&k1(), Some(TP));
        let f = env.to_fields();
        let names: Vec<_> = f.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["v", "id", "event", "ts_ms", "ct", "kid", "payload", "sig", "tp"]
        );
        let expected_sig = hex::decode(TAG_TP).unwrap();
        let values: Vec<&[u8]> = f.iter().map(|(_, v)| v.as_slice()).collect();
        assert_eq!(
            values,
            [
                b"1".as_slice(),
                ID.as_bytes(),
                EVENT.as_bytes(),
                TS_STR.as_bytes(),
                CT.as_bytes(),
                b"k1",
                PAYLOAD,
                &expected_sig,
                TP.as_bytes(),
            ]
        );
    }

    #[test]
    fn to_fields_leaves_out_absent_fields() {
        let names: Vec<_> = envelope(None).to_fields().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["v", "id", "event", "ts_ms", "ct", "payload"]);
    }

    // --- round trips --------------------------------------------------------------------

    #[test]
    fn signed_round_trip() {
        for tp in [None, Some(TP)] {
            let env = signed(&k1(), tp);
            assert!(env.is_signed());
            assert_eq!(env.kid(), Some("k1"));
            let opened = open(&fields(&env), &k1()).unwrap();
            assert_eq!(opened, env);
            assert_eq!(opened.id().to_string(), ID);
            assert_eq!(opened.event(), EVENT);
            assert_eq!(opened.ts_ms(), TS);
            assert_eq!(opened.content_type(), CT);
            assert_eq!(opened.payload(), PAYLOAD);
            assert_eq!(opened.traceparent(), tp);
            // What was opened writes the same entry again (e.g. when replayed).
            assert_eq!(opened.to_fields(), env.to_fields());
        }
    }

    #[test]
    fn empty_payload_round_trips() {
        let mut env = Envelope::new(Uuid::now_v7(), EVENT, TS, CT, Vec::new(), None);
        env.sign(&k1());
        assert_eq!(open(&fields(&env), &k1()), Ok(env));
    }

    #[test]
    fn unsigned_round_trip_with_unsigned_keyring() {
        let mut env = envelope(Some(TP));
        env.sign(&Keyring::unsigned());
        assert!(!env.is_signed());
        assert_eq!(env.kid(), None);
        assert_eq!(open(&fields(&env), &Keyring::unsigned()), Ok(env));
    }

    #[test]
    fn sign_without_signer_clears_signature() {
        let mut env = signed(&k1(), None);
        assert!(env.is_signed());
        env.sign(&Keyring::unsigned());
        assert!(!env.is_signed());
        assert_eq!(env.kid(), None);
        assert_eq!(env, envelope(None));

        // Keys that only verify do not sign either.
        let verify_only = Keyring::unsigned().with_key("k1", SECRET).unwrap();
        assert_eq!(verify_only.signer(), None);
        let mut env = signed(&k1(), None);
        env.sign(&verify_only);
        assert!(!env.is_signed());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let env = signed(&k1(), None);
        let mut f = fields(&env);
        f.push(("x-extra".to_owned(), b"whatever".to_vec()));
        assert_eq!(open(&f, &k1()), Ok(env));
    }

    // --- tampering ----------------------------------------------------------------------

    #[test]
    fn payload_byte_flipped() {
        let mut f = fields(&signed(&k1(), None));
        get(&mut f, "payload")[3] ^= 0x01;
        assert_eq!(open(&f, &k1()), Err(Rejection::BadSignature));
    }

    #[test]
    fn every_byte_of_every_signed_field_is_covered() {
        let f = fields(&signed(&k1(), Some(TP)));
        for name in ["id", "event", "ts_ms", "ct", "payload", "tp", "sig"] {
            let len = f.iter().find(|(n, _)| n == name).unwrap().1.len();
            for i in 0..len {
                let mut changed = f.clone();
                get(&mut changed, name)[i] ^= 0x01;
                let result = Envelope::open(&changed, &k1(), None, TS);
                assert!(
                    result.is_err(),
                    "flipping byte {i} of `{name}` was accepted"
                );
            }
        }
    }

    #[test]
    fn event_changed() {
        let f = set(fields(&signed(&k1(), None)), "event", b"order.cancelled");
        assert_eq!(open(&f, &k1()), Err(Rejection::BadSignature));
    }

    #[test]
    fn ts_changed() {
        let f = set(fields(&signed(&k1(), None)), "ts_ms", b"1700000000001");
        assert_eq!(open(&f, &k1()), Err(Rejection::BadSignature));
    }

    #[test]
    fn other_signed_fields_changed() {
        let f = fields(&signed(&k1(), Some(TP)));
        let other_id = b"01890a5d-ac96-7b4c-8a1f-3c2e5d6f7a8c";
        let cases = [
            set(f.clone(), "id", other_id),
            set(f.clone(), "ct", b"application/msgpack"),
            set(
                f.clone(),
                "tp",
                b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            ),
            without(f.clone(), "tp"),
        ];
        for case in &cases {
            assert_eq!(open(case, &k1()), Err(Rejection::BadSignature));
        }
        // A traceparent added to an entry signed without one.
        let mut added = fields(&signed(&k1(), None));
        added.push(("tp".to_owned(), TP.as_bytes().to_vec()));
        assert_eq!(open(&added, &k1()), Err(Rejection::BadSignature));
    }

    #[test]
    fn sig_byte_flipped() {
        for i in [0, 17, 31] {
            let mut f = fields(&signed(&k1(), None));
            get(&mut f, "sig")[i] ^= 0x80;
            assert_eq!(open(&f, &k1()), Err(Rejection::BadSignature));
        }
    }

    #[test]
    fn sig_of_wrong_length() {
        let f = fields(&signed(&k1(), None));
        let tag = hex::decode(TAG_NO_TP).unwrap();
        let mut longer = tag.clone();
        longer.push(0);
        for sig in [&tag[..31], &longer[..], &[][..]] {
            let f = set(f.clone(), "sig", sig);
            assert_eq!(
                open(&f, &k1()),
                Err(Rejection::BadSignature),
                "{} bytes",
                sig.len()
            );
        }
    }

    #[test]
    fn signed_with_another_secret_under_the_same_kid() {
        let impostor = Keyring::new("k1", OTHER_SECRET).unwrap();
        let f = fields(&signed(&impostor, None));
        assert_eq!(open(&f, &k1()), Err(Rejection::BadSignature));
    }

    #[test]
    fn unknown_kid() {
        let k2 = Keyring::new("k2", OTHER_SECRET).unwrap();
        let f = fields(&signed(&k2, None));
        assert_eq!(open(&f, &k1()), Err(Rejection::UnknownKey("k2".to_owned())));
    }

    #[test]
    fn kid_switched_to_another_held_key() {
        let both = k1().with_key("k2", OTHER_SECRET).unwrap();
        let f = set(fields(&signed(&both, None)), "kid", b"k2");
        assert_eq!(open(&f, &both), Err(Rejection::BadSignature));
    }

    #[test]
    fn unsigned_envelope_to_keyed_worker() {
        let f = fields(&envelope(None));
        assert_eq!(open(&f, &k1()), Err(Rejection::Unsigned));
        // The signature stripped from a signed entry.
        let f = without(fields(&signed(&k1(), None)), "sig");
        assert_eq!(open(&f, &k1()), Err(Rejection::Unsigned));
        let f = without(f, "kid");
        assert_eq!(open(&f, &k1()), Err(Rejection::Unsigned));
    }

    #[test]
    fn sig_without_kid() {
        let f = without(fields(&signed(&k1(), None)), "kid");
        assert_eq!(malformed_field(open(&f, &k1())), "kid");
    }

    #[test]
    fn signed_envelope_to_unsigned_worker() {
        let f = fields(&signed(&k1(), None));
        let unsigned = Keyring::unsigned();
        assert_eq!(open(&f, &unsigned), Err(Rejection::UnexpectedSignature));
        let only_kid = without(f.clone(), "sig");
        assert_eq!(
            open(&only_kid, &unsigned),
            Err(Rejection::UnexpectedSignature)
        );
        let only_sig = without(f, "kid");
        assert_eq!(
            open(&only_sig, &unsigned),
            Err(Rejection::UnexpectedSignature)
        );
    }

    // --- time window --------------------------------------------------------------------

    #[test]
    fn stale_in_the_past() {
        let f = fields(&signed(&k1(), None));
        assert_eq!(
            Envelope::open(&f, &k1(), WINDOW, TS + 60_001),
            Err(Rejection::Stale {
                age_ms: 60_001,
                window_ms: 60_000
            })
        );
    }

    #[test]
    fn stale_in_the_future() {
        let f = fields(&signed(&k1(), None));
        assert_eq!(
            Envelope::open(&f, &k1(), WINDOW, TS - 60_001),
            Err(Rejection::Stale {
                age_ms: -60_001,
                window_ms: 60_000
            })
        );
    }

    #[test]
    fn window_edges_are_inside() {
        let env = signed(&k1(), None);
        let f = fields(&env);
        for now in [TS - 60_000, TS, TS + 60_000] {
            assert_eq!(Envelope::open(&f, &k1(), WINDOW, now), Ok(env.clone()));
        }
    }

    #[test]
    fn no_window_accepts_any_time() {
        let env = signed(&k1(), None);
        let f = fields(&env);
        for now in [0, TS * 2, u64::MAX] {
            assert_eq!(Envelope::open(&f, &k1(), None, now), Ok(env.clone()));
        }
    }

    #[test]
    fn extreme_ages_saturate() {
        let f = set(fields(&envelope(None)), "ts_ms", b"0");
        assert_eq!(
            Envelope::open(&f, &Keyring::unsigned(), WINDOW, u64::MAX),
            Err(Rejection::Stale {
                age_ms: i64::MAX,
                window_ms: 60_000
            })
        );
        let f = set(
            fields(&envelope(None)),
            "ts_ms",
            u64::MAX.to_string().as_bytes(),
        );
        assert_eq!(
            Envelope::open(&f, &Keyring::unsigned(), WINDOW, 0),
            Err(Rejection::Stale {
                age_ms: i64::MIN,
                window_ms: 60_000
            })
        );
    }

    #[test]
    fn unsigned_envelopes_are_subject_to_the_window() {
        let f = fields(&envelope(None));
        assert_eq!(
            Envelope::open(&f, &Keyring::unsigned(), WINDOW, TS + 120_000),
            Err(Rejection::Stale {
                age_ms: 120_000,
                window_ms: 60_000
            })
        );
    }

    // --- order of the checks ------------------------------------------------------------

    #[test]
    fn window_is_checked_before_the_tag() {
        let mut f = fields(&signed(&k1(), None));
        get(&mut f, "sig")[0] ^= 1;
        assert!(matches!(
            Envelope::open(&f, &k1(), WINDOW, TS + 60_001),
            Err(Rejection::Stale { .. })
        ));
    }

    #[test]
    fn key_is_checked_before_the_window() {
        let k2 = Keyring::new("k2", OTHER_SECRET).unwrap();
        let f = fields(&signed(&k2, None));
        assert_eq!(
            Envelope::open(&f, &k1(), WINDOW, TS + 60_001),
            Err(Rejection::UnknownKey("k2".to_owned()))
        );
        let f = fields(&envelope(None));
        assert_eq!(
            Envelope::open(&f, &k1(), WINDOW, TS + 60_001),
            Err(Rejection::Unsigned)
        );
    }

    #[test]
    fn form_is_checked_before_the_signature() {
        let f = set(fields(&envelope(None)), "ts_ms", b"soon");
        assert_eq!(malformed_field(open(&f, &k1())), "ts_ms");
        let f = set(fields(&envelope(None)), "v", b"2");
        assert_eq!(open(&f, &k1()), Err(Rejection::Version("2".to_owned())));
    }

    // --- version and form ---------------------------------------------------------------

    #[test]
    fn wrong_version() {
        let f = fields(&signed(&k1(), None));
        for v in ["2", "0", "01", "1.0", ""] {
            let f = set(f.clone(), "v", v.as_bytes());
            assert_eq!(open(&f, &k1()), Err(Rejection::Version(v.to_owned())));
            assert_eq!(Envelope::parse(&f), Err(Rejection::Version(v.to_owned())));
        }
    }

    #[test]
    fn each_missing_header_field_is_named() {
        let f = fields(&signed(&k1(), Some(TP)));
        for name in ["v", "id", "event", "ts_ms", "ct", "payload"] {
            let missing = without(f.clone(), name);
            assert_eq!(
                open(&missing, &k1()),
                Err(Rejection::Malformed {
                    field: name,
                    problem: "is missing".to_owned()
                })
            );
            assert_eq!(malformed_field(Envelope::parse(&missing)), name);
        }
    }

    #[test]
    fn unreadable_fields_are_named() {
        let f = fields(&signed(&k1(), Some(TP)));
        let cases: [(&str, &[u8]); 16] = [
            ("v", b"\xff"),
            ("id", b"not-a-uuid"),
            ("id", b"01890A5D-AC96-7B4C-8A1F-3C2E5D6F7A8B"),
            ("id", b"01890a5dac967b4c8a1f3c2e5d6f7a8b"),
            ("id", b"{01890a5d-ac96-7b4c-8a1f-3c2e5d6f7a8b}"),
            ("event", b""),
            ("event", b"order\xff"),
            ("ts_ms", b""),
            ("ts_ms", b"+1700000000000"),
            ("ts_ms", b"01700000000000"),
            ("ts_ms", b"-1"),
            ("ts_ms", b"18446744073709551616"),
            ("ct", b""),
            ("ct", b"\xc3"),
            ("kid", b"k\xff"),
            ("tp", b"\xff"),
        ];
        for (name, value) in cases {
            let bad = set(f.clone(), name, value);
            assert_eq!(malformed_field(open(&bad, &k1())), name, "{value:?}");
            assert_eq!(malformed_field(Envelope::parse(&bad)), name, "{value:?}");
        }
    }

    #[test]
    fn duplicated_field_is_refused() {
        let mut f = fields(&signed(&k1(), None));
        f.push(("payload".to_owned(), b"{}".to_vec()));
        assert_eq!(
            open(&f, &k1()),
            Err(Rejection::Malformed {
                field: "payload",
                problem: "appears more than once".to_owned()
            })
        );
    }

    #[test]
    fn problem_shows_a_bounded_escaped_value() {
        let long = format!("{}\n", "x".repeat(100));
        let f = set(fields(&envelope(None)), "id", long.as_bytes());
        let Err(Rejection::Malformed { problem, .. }) = Envelope::parse(&f) else {
            panic!("expected Malformed");
        };
        assert_eq!(
            problem,
            format!("`{}…` is not a hyphenated lowercase UUID", "x".repeat(64))
        );
    }

    // --- parse ----------------------------------------------------------------------------

    #[test]
    fn parse_does_not_verify() {
        let env = signed(&k1(), Some(TP));
        let f = set(fields(&env), "payload", b"{\"order\":43}");
        let parsed = Envelope::parse(&f).unwrap();
        assert_eq!(parsed.payload(), b"{\"order\":43}");
        assert_eq!(parsed.kid(), Some("k1"));
        assert!(parsed.is_signed());
        assert_eq!(Envelope::parse(&fields(&env)), Ok(env));
    }

    #[test]
    fn parse_refuses_a_sig_of_wrong_length() {
        let f = set(fields(&signed(&k1(), None)), "sig", &[0; 31]);
        assert_eq!(
            Envelope::parse(&f),
            Err(Rejection::Malformed {
                field: "sig",
                problem: "is 31 bytes, not 32".to_owned()
            })
        );
    }

    // --- rotation -----------------------------------------------------------------------

    #[test]
    fn rotation_opens_old_and_new_keys() {
        let old = k1();
        let new = Keyring::new("k2", OTHER_SECRET).unwrap();
        let worker = k1()
            .with_key("k2", OTHER_SECRET)
            .unwrap()
            .sign_with("k2")
            .unwrap();
        assert_eq!(worker.signer(), Some("k2"));

        let by_old = signed(&old, None);
        let by_new = signed(&new, Some(TP));
        let by_worker = signed(&worker, None);
        assert_eq!(by_worker.kid(), Some("k2"));
        assert_eq!(by_worker.to_fields(), signed(&new, None).to_fields());

        assert_eq!(open(&fields(&by_old), &worker), Ok(by_old));
        assert_eq!(open(&fields(&by_new), &worker), Ok(by_new.clone()));
        assert_eq!(open(&fields(&by_worker), &worker), Ok(by_worker));
        // The old key alone does not know the new one.
        assert_eq!(
            open(&fields(&by_new), &old),
            Err(Rejection::UnknownKey("k2".to_owned()))
        );
    }

    #[test]
    fn adding_a_kid_again_replaces_its_secret() {
        let replaced = k1().with_key("k1", OTHER_SECRET).unwrap();
        assert_eq!(replaced.signer(), Some("k1"));
        let by_old_secret = fields(&signed(&k1(), None));
        assert_eq!(
            open(&by_old_secret, &replaced),
            Err(Rejection::BadSignature)
        );
        let by_new_secret = signed(&replaced, None);
        assert_eq!(open(&fields(&by_new_secret), &replaced), Ok(by_new_secret));
    }

    // --- keys ---------------------------------------------------------------------------

    #[test]
    fn key_validation() {
        let secret = [7u8; 16];
        assert_eq!(Keyring::new("", secret).unwrap_err(), KeyError::EmptyKid);
        let long = "k".repeat(65);
        assert_eq!(
            Keyring::new(&long, secret).unwrap_err(),
            KeyError::BadKid(long)
        );
        for kid in ["k 1", "k/1", "kë", "k1\n", "k=1"] {
            assert_eq!(
                Keyring::new(kid, secret).unwrap_err(),
                KeyError::BadKid(kid.to_owned())
            );
        }
        assert_eq!(
            Keyring::new("k1", [7u8; 15]).unwrap_err(),
            KeyError::ShortSecret {
                kid: "k1".to_owned(),
                len: 15
            }
        );
        assert_eq!(
            Keyring::unsigned().with_key("k1", b"").unwrap_err(),
            KeyError::ShortSecret {
                kid: "k1".to_owned(),
                len: 0
            }
        );
        assert_eq!(
            k1().sign_with("k2").unwrap_err(),
            KeyError::UnknownSigner("k2".to_owned())
        );

        // What is allowed.
        let longest = "k".repeat(64);
        for kid in ["k1", "A-z_0.9:x", longest.as_str()] {
            let keyring = Keyring::new(kid, secret).unwrap();
            assert_eq!(keyring.signer(), Some(kid));
        }
    }

    #[test]
    fn keyring_state() {
        let unsigned = Keyring::unsigned();
        assert!(!unsigned.has_keys());
        assert_eq!(unsigned.signer(), None);
        let verify_only = Keyring::unsigned().with_key("k1", SECRET).unwrap();
        assert!(verify_only.has_keys());
        assert_eq!(verify_only.signer(), None);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let keyring = k1().with_key("k2", OTHER_SECRET).unwrap();
        let shown = format!("{keyring:?} {keyring:#?}");
        assert!(!shown.contains("ventus-test-vector-key"), "{shown}");
        assert!(!shown.contains("another-secret"), "{shown}");
        let bytes = format!("{:?}", &SECRET[..4]);
        assert!(!shown.contains(&bytes[1..bytes.len() - 1]), "{shown}");
    }

    // --- messages -----------------------------------------------------------------------

    #[test]
    fn reasons() {
        let cases = [
            (malformed("id", "is missing"), "malformed"),
            (Rejection::Version("2".to_owned()), "version"),
            (Rejection::Unsigned, "unsigned"),
            (Rejection::UnexpectedSignature, "unexpected-signature"),
            (Rejection::UnknownKey("k2".to_owned()), "unknown-key"),
            (Rejection::BadSignature, "bad-signature"),
            (
                Rejection::Stale {
                    age_ms: 1,
                    window_ms: 0,
                },
                "stale",
            ),
        ];
        for (rejection, reason) in cases {
            assert_eq!(rejection.reason(), reason);
        }
    }

    #[test]
    fn rejection_messages_say_what_to_do() {
        assert_eq!(
            Rejection::UnknownKey("k2".to_owned()).to_string(),
            "signed with key id `k2`, which this worker does not hold; add it with \
             Keyring::with_key"
        );
        let missing = malformed("ts_ms", "is missing").to_string();
        assert!(missing.contains("field `ts_ms` is missing"), "{missing}");
        assert!(Rejection::Version("2".to_owned())
            .to_string()
            .contains("`2`"));
        assert!(Rejection::Unsigned
            .to_string()
            .contains("Keyring::unsigned()"));
        assert!(Rejection::UnexpectedSignature
            .to_string()
            .contains("Keyring::with_key"));
        assert!(Rejection::BadSignature.to_string().contains("secret"));
        let past = Rejection::Stale {
            age_ms: 60_001,
            window_ms: 60_000,
        }
        .to_string();
        assert!(
            past.contains("60001ms ago") && past.contains("window of 60000ms"),
            "{past}"
        );
        let future = Rejection::Stale {
            age_ms: -5,
            window_ms: 0,
        }
        .to_string();
        assert!(future.contains("5ms in the future"), "{future}");
        // Untrusted key ids are escaped.
        assert!(!Rejection::UnknownKey("a\nb".to_owned())
            .to_string()
            .contains('\n'));
    }

    #[test]
    fn key_error_messages_say_what_to_do() {
        assert!(KeyError::EmptyKid.to_string().contains("empty"));
        assert!(KeyError::BadKid("a b".to_owned())
            .to_string()
            .contains("`a b` is not valid"));
        let short = KeyError::ShortSecret {
            kid: "k1".to_owned(),
            len: 9,
        }
        .to_string();
        assert!(short.contains("`k1`") && short.contains("9 bytes") && short.contains("16"));
        let signer = KeyError::UnknownSigner("k9".to_owned()).to_string();
        assert!(
            signer.contains("`k9`") && signer.contains("Keyring::with_key"),
            "{signer}"
        );
    }

    #[test]
    fn errors_are_std_errors() {
        fn is_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
        is_error(&Rejection::BadSignature);
        is_error(&KeyError::EmptyKid);
    }
}
