//! Event-name patterns: `"order.*"` (one segment) and `"order.**"` (one or more).
//!
//! A name is split into segments at each `.`. In a pattern, a segment that is exactly
//! `*` matches any one segment of an emitted name, and `**` matches one or more; other
//! segments match themselves. A name with no `*` is not a pattern: it is linked and
//! emitted as an exact name, as before. Patterns are checked when subscribing
//! ([`Pattern::parse`]); emitted names never are (a `*` in an emitted name is an ordinary
//! character, which a pattern's `*` matches like any other segment).

use std::fmt;

/// One segment of a pattern. `**` is kept as [`Seg::One`] followed by [`Seg::Rest`]:
/// one segment, then any number more.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// A segment that matches itself.
    Literal(Box<str>),
    /// `*`: any one segment.
    One,
    /// The tail of `**`: zero or more segments.
    Rest,
}

/// A checked pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    segs: Box<[Seg]>,
}

/// Why a name with a `*` is not a valid pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatternError {
    /// A segment between dots is empty (`"order..*"`, `".order.*"`, `"order.*."`).
    EmptySegment,
    /// A segment mixes `*` with other characters (`"order*"`, `"o*.x"`, `"***"`).
    PartialWildcard,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EmptySegment => {
                "a segment is empty; segments are separated by single dots, with none at \
                 either end"
            }
            Self::PartialWildcard => {
                "`*` and `**` stand for whole segments: write `order.*` (one segment) or \
                 `order.**` (one or more), not `order*`"
            }
        })
    }
}

impl Pattern {
    /// The pattern `name` is, or `None` if it holds no `*` (an exact name).
    pub(crate) fn parse(name: &str) -> Result<Option<Self>, PatternError> {
        if !is_pattern(name) {
            return Ok(None);
        }
        let mut segs = Vec::new();
        for seg in name.split('.') {
            match seg {
                "" => return Err(PatternError::EmptySegment),
                "*" => segs.push(Seg::One),
                "**" => segs.extend([Seg::One, Seg::Rest]),
                lit if lit.contains('*') => return Err(PatternError::PartialWildcard),
                lit => segs.push(Seg::Literal(lit.into())),
            }
        }
        Ok(Some(Self {
            segs: segs.into_boxed_slice(),
        }))
    }

    /// Whether the emitted name `name` matches.
    ///
    /// Segment by segment, remembering the last `**` tail seen: on a mismatch, that tail
    /// takes one more segment and matching resumes after it. Each tail only ever grows,
    /// so this is O(segments of the pattern × segments of the name) at worst.
    pub(crate) fn matches(&self, name: &str) -> bool {
        let segs = &self.segs[..];
        // Matching runs only when a name's matches are worked out, not per emission.
        let parts: Vec<&str> = name.split('.').collect();
        let (mut p, mut n) = (0, 0);
        // Where the last `Rest` is in `segs`, and the first name segment after it.
        let mut back: Option<(usize, usize)> = None;
        while n < parts.len() {
            match segs.get(p) {
                Some(Seg::Rest) => {
                    back = Some((p, n));
                    p += 1;
                    continue;
                }
                Some(Seg::One) => {
                    p += 1;
                    n += 1;
                    continue;
                }
                Some(Seg::Literal(lit)) if **lit == *parts[n] => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
            match back {
                Some((rest, after)) => {
                    back = Some((rest, after + 1));
                    p = rest + 1;
                    n = after + 1;
                }
                None => return false,
            }
        }
        segs[p..].iter().all(|s| *s == Seg::Rest)
    }
}

/// Whether `name`, given to subscribe, is a pattern rather than an exact name.
#[inline]
pub(crate) fn is_pattern(name: &str) -> bool {
    name.contains('*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pattern: &str) -> Pattern {
        Pattern::parse(pattern).unwrap().unwrap()
    }

    #[test]
    fn exact_names_are_not_patterns() {
        assert_eq!(Pattern::parse("order.created"), Ok(None));
        assert_eq!(
            Pattern::parse("a..b"),
            Ok(None),
            "exact names are not checked"
        );
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["order..*", ".order.*", "order.*.", "*.", ".**"] {
            assert_eq!(
                Pattern::parse(bad),
                Err(PatternError::EmptySegment),
                "{bad}"
            );
        }
        for bad in ["order*", "o*.x", "***", "order.*x", "x.**y"] {
            assert_eq!(
                Pattern::parse(bad),
                Err(PatternError::PartialWildcard),
                "{bad}"
            );
        }
    }

    #[test]
    fn one_segment() {
        let one = p("order.*");
        assert!(one.matches("order.created"));
        assert!(one.matches("order.*"));
        assert!(!one.matches("order"));
        assert!(!one.matches("order.created.eu"));
        assert!(!one.matches("orders.created"));
        assert!(!one.matches("user.created"));
        assert!(p("*").matches("tick") && !p("*").matches("a.b"));
        assert!(p("*.created").matches("user.created"));
        assert!(p("a.*.c").matches("a.b.c") && !p("a.*.c").matches("a.b.d"));
    }

    #[test]
    fn one_or_more_segments() {
        let many = p("order.**");
        assert!(many.matches("order.created"));
        assert!(many.matches("order.created.eu.west"));
        assert!(!many.matches("order"), "`**` takes at least one segment");
        assert!(!many.matches("user.created"));
        assert!(p("**").matches("a") && p("**").matches("a.b.c"));
        assert!(p("**.failed").matches("payment.card.failed"));
        assert!(!p("**.failed").matches("failed"));
        assert!(p("a.**.z").matches("a.b.c.z") && !p("a.**.z").matches("a.z"));
        assert!(p("a.**.b.*").matches("a.x.b.y.b.z"));
        assert!(!p("a.**.b.*").matches("a.x.b"));
    }

    /// The matcher against a plain recursive definition, over every pattern and name of
    /// up to four segments from a small alphabet.
    #[test]
    fn agrees_with_the_definition() {
        fn reference(segs: &[&str], parts: &[&str]) -> bool {
            match (segs.split_first(), parts.split_first()) {
                (None, None) => true,
                (Some((&"**", rest)), Some(_)) => {
                    (1..=parts.len()).any(|k| reference(rest, &parts[k..]))
                }
                (Some((&"*", rest)), Some((_, tail))) => reference(rest, tail),
                (Some((lit, rest)), Some((part, tail))) => lit == part && reference(rest, tail),
                _ => false,
            }
        }
        let alphabet = ["a", "b", "*", "**"];
        let mut patterns: Vec<Vec<&str>> = vec![vec![]];
        for _ in 0..4 {
            let longer: Vec<Vec<&str>> = patterns
                .iter()
                .flat_map(|p| alphabet.iter().map(move |s| [&p[..], &[*s]].concat()))
                .collect();
            patterns.extend(longer);
        }
        patterns.sort();
        patterns.dedup();
        let names: Vec<&Vec<&str>> = patterns
            .iter()
            .filter(|n| !n.is_empty() && n.iter().all(|s| !s.contains('*')))
            .collect();
        let mut checked = 0;
        for segs in patterns
            .iter()
            .filter(|p| p.iter().any(|s| s.contains('*')))
        {
            let pattern = p(&segs.join("."));
            for parts in &names {
                assert_eq!(
                    pattern.matches(&parts.join(".")),
                    reference(segs, parts),
                    "{} vs {}",
                    segs.join("."),
                    parts.join(".")
                );
                checked += 1;
            }
        }
        assert!(checked > 5_000, "{checked}");
    }
}
