//! Byte-exact splicing: the one way every editor changes a file.
//!
//! An editor finds the spans to change with a real parser (toml_edit, a YAML parser with source
//! positions, the changelog's Markdown structure) and returns [`Replacement`]s; [`splice`] applies
//! them, so every byte outside the spans is untouched by construction.

use std::ops::Range;

/// Replace the bytes `range` of the source with `new`. An empty range is an insertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub range: Range<usize>,
    pub new: String,
}

impl Replacement {
    pub fn new(range: Range<usize>, new: impl Into<String>) -> Replacement {
        Replacement {
            range,
            new: new.into(),
        }
    }
}

/// Applies non-overlapping replacements (in any order) to `src`.
///
/// Panics if two replacements overlap or a range is out of bounds or not on a char boundary:
/// those are bugs in the editor that produced them, never user errors.
pub fn splice(src: &str, reps: &[Replacement]) -> String {
    let mut sorted: Vec<&Replacement> = reps.iter().collect();
    sorted.sort_by_key(|r| (r.range.start, r.range.end));
    let mut out =
        String::with_capacity(src.len() + reps.iter().map(|r| r.new.len()).sum::<usize>());
    let mut pos = 0;
    for r in sorted {
        assert!(
            r.range.start >= pos,
            "overlapping replacements at byte {}",
            r.range.start
        );
        out.push_str(&src[pos..r.range.start]);
        out.push_str(&r.new);
        pos = r.range.end;
    }
    out.push_str(&src[pos..]);
    out
}

/// The line ending a file uses: `\r\n` when its first line ends so, else `\n`.
pub fn line_ending(src: &str) -> &'static str {
    match src.find('\n') {
        Some(i) if i > 0 && src.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// 1-based line number of a byte offset.
pub fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_keeps_everything_else() {
        let src = "a = \"1.2.3\" # keep\r\nb = '1.2.3'";
        let out = splice(
            src,
            &[
                Replacement::new(25..30, "2.0.0"),
                Replacement::new(5..10, "2.0.0"),
            ],
        );
        assert_eq!(out, "a = \"2.0.0\" # keep\r\nb = '2.0.0'");
        assert_eq!(splice(src, &[]), src);
        assert_eq!(splice("ab", &[Replacement::new(1..1, "X")]), "aXb");
    }

    #[test]
    #[should_panic(expected = "overlapping")]
    fn splice_rejects_overlap() {
        splice(
            "abcdef",
            &[Replacement::new(0..3, "x"), Replacement::new(2..4, "y")],
        );
    }

    #[test]
    fn endings_and_lines() {
        assert_eq!(line_ending("a\r\nb"), "\r\n");
        assert_eq!(line_ending("a\nb\r\n"), "\n");
        assert_eq!(line_ending("no newline"), "\n");
        assert_eq!(line_of("a\nb\nc", 4), 3);
        assert_eq!(line_of("a\nb\nc", 0), 1);
    }
}
