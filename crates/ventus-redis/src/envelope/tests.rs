//! The envelope's tests: the published vectors, round trips, every tamper case.

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
