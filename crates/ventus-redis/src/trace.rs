//! W3C trace context: a remote emission carries `traceparent`, so the worker's spans
//! continue the emitter's trace.

use uuid::Uuid;

use crate::delivery::Delivery;

/// A `traceparent` for a new emission: the trace of the delivery being handled, if
/// the emission is made inside a worker's handler, or a new trace; a new span id.
pub(crate) fn traceparent() -> String {
    let trace = Delivery::current()
        .and_then(|d| d.traceparent().and_then(trace_id).map(str::to_owned))
        .unwrap_or_else(|| Uuid::now_v7().simple().to_string());
    let span = Uuid::now_v7().simple().to_string();
    // The last 16 hex digits of a v7 id are random.
    format!("00-{trace}-{}-01", &span[16..])
}

/// The trace id of a `traceparent`, if it is well formed.
pub(crate) fn trace_id(tp: &str) -> Option<&str> {
    let mut parts = tp.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(version, 2) && hex(trace, 32) && hex(span, 16) && hex(flags, 2) && parts.next().is_none())
        .then_some(trace)
}

/// The parent span id of a `traceparent`.
pub(crate) fn span_id(tp: &str) -> Option<&str> {
    trace_id(tp)?;
    tp.split('-').nth(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_traceparent_is_well_formed() {
        let tp = traceparent();
        assert!(trace_id(&tp).is_some(), "{tp}");
        assert_eq!(span_id(&tp).unwrap().len(), 16);
        assert!(trace_id("00-abc-def-01").is_none());
    }
}
