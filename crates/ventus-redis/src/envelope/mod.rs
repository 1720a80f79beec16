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
mod tests;
