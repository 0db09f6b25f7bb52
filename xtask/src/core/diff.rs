//! Line diffs for people: Myers' O((N+M)·D) algorithm in linear space (the divide-and-conquer
//! "middle snake" variant), rendered as a unified diff in the format `diff -u` and `git diff`
//! print (`--- a/…`, `+++ b/…`, `@@ -l,n +l,n @@`, `\ No newline at end of file`).
//!
//! Lines are interned to integers first, and a common prefix and suffix are trimmed at every
//! level, so a one-line change in a 10 MB changelog costs two linear passes and memory linear in
//! the number of lines.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiply-rotate hash for interning lines (the FxHash scheme): no DoS resistance is needed
/// for a file's own lines, and SipHash cost more than the diff itself.
#[derive(Default)]
struct LineHasher(u64);

impl Hasher for LineHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A unified diff of `before` → `after` with `context` lines of context, or `""` when they are
/// equal. Lines keep their terminators: a CRLF line differs from its LF twin, and a last line
/// without a newline is marked `\ No newline at end of file`.
pub fn unified(
    old_name: &str,
    new_name: &str,
    before: &str,
    after: &str,
    context: usize,
) -> String {
    let old = lines(before);
    let new = lines(after);
    let (del, ins) = changes(&old, &new);
    let runs = runs(&del, &ins);
    let mut out = String::new();
    for hunk in hunks(&runs, context) {
        if out.is_empty() {
            out.push_str(&format!("--- {old_name}\n+++ {new_name}\n"));
        }
        let first = &runs[hunk.start];
        let last = &runs[hunk.end - 1];
        let (o0, n0) = (
            first.old_start(hunk.first_skip),
            first.new_start(hunk.first_skip),
        );
        let (o1, n1) = (last.old_end(hunk.last_keep), last.new_end(hunk.last_keep));
        out.push_str(&format!("@@ -{} +{} @@\n", range(o0, o1), range(n0, n1)));
        for (idx, run) in runs[hunk.start..hunk.end].iter().enumerate() {
            match *run {
                Run::Equal {
                    old: o,
                    new: _,
                    len,
                } => {
                    let from = if idx == 0 { hunk.first_skip } else { 0 };
                    let to = if hunk.start + idx == hunk.end - 1 {
                        hunk.last_keep
                    } else {
                        len
                    };
                    for line in &old[o + from..o + to] {
                        push_line(&mut out, ' ', line);
                    }
                }
                Run::Change {
                    old: o,
                    old_len,
                    new: n,
                    new_len,
                } => {
                    for line in &old[o..o + old_len] {
                        push_line(&mut out, '-', line);
                    }
                    for line in &new[n..n + new_len] {
                        push_line(&mut out, '+', line);
                    }
                }
            }
        }
    }
    out
}

/// `text.split_inclusive('\n')`, by a byte scan (the char searcher costs several hundred
/// instructions per short line, and a changelog is thousands of them).
fn lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 32 + 1);
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            out.push(&text[start..=i]);
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.push(&text[start..]);
    }
    out
}

fn push_line(out: &mut String, tag: char, line: &str) {
    out.push(tag);
    out.push_str(line);
    if !line.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

/// `start,len` with 1-based start; a one-line range is just its line, an empty range names the
/// line before it.
fn range(start: usize, end: usize) -> String {
    match end - start {
        1 => format!("{}", start + 1),
        0 => format!("{start},0"),
        len => format!("{},{len}", start + 1),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Equal {
        old: usize,
        new: usize,
        len: usize,
    },
    Change {
        old: usize,
        old_len: usize,
        new: usize,
        new_len: usize,
    },
}

impl Run {
    fn old_start(&self, skip: usize) -> usize {
        match *self {
            Run::Equal { old, .. } => old + skip,
            Run::Change { old, .. } => old,
        }
    }
    fn new_start(&self, skip: usize) -> usize {
        match *self {
            Run::Equal { new, .. } => new + skip,
            Run::Change { new, .. } => new,
        }
    }
    fn old_end(&self, keep: usize) -> usize {
        match *self {
            Run::Equal { old, .. } => old + keep,
            Run::Change { old, old_len, .. } => old + old_len,
        }
    }
    fn new_end(&self, keep: usize) -> usize {
        match *self {
            Run::Equal { new, .. } => new + keep,
            Run::Change { new, new_len, .. } => new + new_len,
        }
    }
}

/// Alternating equal and changed stretches from the per-line change marks.
fn runs(del: &[bool], ins: &[bool]) -> Vec<Run> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < del.len() || j < ins.len() {
        let (i0, j0) = (i, j);
        while i < del.len() && j < ins.len() && !del[i] && !ins[j] {
            i += 1;
            j += 1;
        }
        if i > i0 {
            out.push(Run::Equal {
                old: i0,
                new: j0,
                len: i - i0,
            });
        }
        let (i0, j0) = (i, j);
        while i < del.len() && del[i] {
            i += 1;
        }
        while j < ins.len() && ins[j] {
            j += 1;
        }
        if i > i0 || j > j0 {
            out.push(Run::Change {
                old: i0,
                old_len: i - i0,
                new: j0,
                new_len: j - j0,
            });
        } else if i == i0 && j == j0 && (i < del.len() || j < ins.len()) {
            // Marks that do not pair up cannot happen; stop rather than loop.
            break;
        }
    }
    out
}

/// One hunk: runs `start..end`, the first (equal) run entered `first_skip` lines in, the last
/// (equal) run cut after `last_keep` lines.
struct Hunk {
    start: usize,
    end: usize,
    first_skip: usize,
    last_keep: usize,
}

/// Groups runs into hunks with `n` lines of context, splitting at equal stretches longer than
/// `2n` (the grouping `difflib` and `diff -u` use).
fn hunks(runs: &[Run], n: usize) -> Vec<Hunk> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    for (idx, run) in runs.iter().enumerate() {
        let Run::Equal { len, .. } = *run else {
            if start.is_none() {
                // The hunk starts at the equal run before (its last n lines), or here.
                start = Some(match idx.checked_sub(1) {
                    Some(p) => match runs[p] {
                        Run::Equal { len, .. } => (p, len.saturating_sub(n)),
                        Run::Change { .. } => (idx, 0),
                    },
                    None => (idx, 0),
                });
            }
            continue;
        };
        let last = idx + 1 == runs.len();
        match start {
            Some((s, skip)) if last || len > 2 * n => {
                out.push(Hunk {
                    start: s,
                    end: idx + 1,
                    first_skip: skip,
                    last_keep: len.min(n),
                });
                start = None;
            }
            _ => {}
        }
    }
    if let Some((s, skip)) = start {
        let end = runs.len();
        let last_keep = match runs[end - 1] {
            Run::Equal { len, .. } => len.min(n),
            Run::Change { .. } => 0,
        };
        out.push(Hunk {
            start: s,
            end,
            first_skip: skip,
            last_keep,
        });
    }
    // A hunk that starts on an equal run must skip into it; one that starts on a change has
    // nothing to skip (first_skip is ignored for a change run).
    out
}

/// Per-line marks: `del[i]` when old line `i` is removed, `ins[j]` when new line `j` is added.
fn changes<'a>(old: &[&'a str], new: &[&'a str]) -> (Vec<bool>, Vec<bool>) {
    let mut del = vec![false; old.len()];
    let mut ins = vec![false; new.len()];
    // The common prefix and suffix compared as text first (a version bump changes a few lines
    // of a long file): only the middle is interned and searched.
    let pre = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suf = old[pre..]
        .iter()
        .rev()
        .zip(new[pre..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (old_mid, new_mid) = (&old[pre..old.len() - suf], &new[pre..new.len() - suf]);
    if old_mid.is_empty() || new_mid.is_empty() {
        del[pre..old.len() - suf].fill(true);
        ins[pre..new.len() - suf].fill(true);
        return (del, ins);
    }
    let mut ids: HashMap<&str, u32, BuildHasherDefault<LineHasher>> =
        HashMap::with_capacity_and_hasher(old_mid.len() + new_mid.len(), Default::default());
    let mut intern = |lines: &[&'a str]| -> Vec<u32> {
        lines
            .iter()
            .map(|s| {
                let next = ids.len() as u32;
                *ids.entry(s).or_insert(next)
            })
            .collect()
    };
    let a = intern(old_mid);
    let b = intern(new_mid);
    let max = (a.len() + b.len()).div_ceil(2) + 1;
    let mut vf = V::new(max);
    let mut vb = V::new(max);
    conquer(
        &a,
        0..a.len(),
        &b,
        0..b.len(),
        &mut del[pre..old.len() - suf],
        &mut ins[pre..new.len() - suf],
        &mut vf,
        &mut vb,
    );
    (del, ins)
}

struct V {
    offset: isize,
    v: Vec<usize>,
}

impl V {
    fn new(max_d: usize) -> V {
        V {
            offset: max_d as isize,
            v: vec![0; 2 * max_d + 2],
        }
    }
    fn get(&self, k: isize) -> usize {
        self.v[(k + self.offset) as usize]
    }
    fn set(&mut self, k: isize, x: usize) {
        self.v[(k + self.offset) as usize] = x;
    }
}

type Span = std::ops::Range<usize>;

#[allow(clippy::too_many_arguments)]
fn conquer(
    a: &[u32],
    mut ra: Span,
    b: &[u32],
    mut rb: Span,
    del: &mut [bool],
    ins: &mut [bool],
    vf: &mut V,
    vb: &mut V,
) {
    // An explicit stack instead of recursion: the depth is O(log) for typical inputs but the
    // order of the halves must be kept, and a stack keeps deep inputs from overflowing.
    let mut todo = vec![(ra.clone(), rb.clone())];
    while let Some((r0, r1)) = todo.pop() {
        ra = r0;
        rb = r1;
        let pre = prefix(a, ra.clone(), b, rb.clone());
        ra.start += pre;
        rb.start += pre;
        let suf = suffix(a, ra.clone(), b, rb.clone());
        ra.end -= suf;
        rb.end -= suf;
        if ra.is_empty() {
            ins[rb].iter_mut().for_each(|m| *m = true);
        } else if rb.is_empty() {
            del[ra].iter_mut().for_each(|m| *m = true);
        } else {
            let (x, y) = middle_snake(a, ra.clone(), b, rb.clone(), vf, vb);
            todo.push((x..ra.end, y..rb.end));
            todo.push((ra.start..x, rb.start..y));
        }
    }
}

fn prefix(a: &[u32], ra: Span, b: &[u32], rb: Span) -> usize {
    a[ra].iter().zip(&b[rb]).take_while(|(x, y)| x == y).count()
}

fn suffix(a: &[u32], ra: Span, b: &[u32], rb: Span) -> usize {
    a[ra]
        .iter()
        .rev()
        .zip(b[rb].iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// The start of the middle snake of an optimal path from `(ra.start, rb.start)` to
/// `(ra.end, rb.end)`. Both ranges are non-empty and differ at both ends, so the edit distance
/// is at least 2 and both halves are strictly smaller problems.
fn middle_snake(
    a: &[u32],
    ra: Span,
    b: &[u32],
    rb: Span,
    vf: &mut V,
    vb: &mut V,
) -> (usize, usize) {
    let n = ra.len();
    let m = rb.len();
    let delta = n as isize - m as isize;
    let odd = delta & 1 == 1;
    vf.set(1, 0);
    vb.set(1, 0);
    let d_max = ((n + m).div_ceil(2) + 1) as isize;
    for d in 0..d_max {
        for k in (-d..=d).rev().step_by(2) {
            let mut x = if k == -d || (k != d && vf.get(k - 1) < vf.get(k + 1)) {
                vf.get(k + 1)
            } else {
                vf.get(k - 1) + 1
            };
            let y = (x as isize - k) as usize;
            let (x0, y0) = (x, y);
            if x < n && y < m {
                x += prefix(a, ra.start + x..ra.end, b, rb.start + y..rb.end);
            }
            vf.set(k, x);
            if odd && (k - delta).abs() < d && vf.get(k) + vb.get(-(k - delta)) >= n {
                return (ra.start + x0, rb.start + y0);
            }
        }
        for k in (-d..=d).rev().step_by(2) {
            let mut x = if k == -d || (k != d && vb.get(k - 1) < vb.get(k + 1)) {
                vb.get(k + 1)
            } else {
                vb.get(k - 1) + 1
            };
            let mut y = (x as isize - k) as usize;
            if x < n && y < m {
                let s = suffix(a, ra.start..ra.start + n - x, b, rb.start..rb.start + m - y);
                x += s;
                y += s;
            }
            vb.set(k, x);
            if !odd && (k - delta).abs() <= d && vb.get(k) + vf.get(-(k - delta)) >= n {
                return (ra.start + n - x, rb.start + m - y);
            }
        }
    }
    unreachable!("the middle snake is found within (n + m + 1) / 2 + 1 rounds")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(a: &str, b: &str) -> String {
        unified("a/f", "b/f", a, b, 3)
    }

    /// Applies a unified diff produced here to `before` (for the property test).
    fn apply(before: &str, patch: &str) -> String {
        let old: Vec<&str> = before.split_inclusive('\n').collect();
        let mut out = String::new();
        let mut at = 0usize;
        let mut lines = patch.split_inclusive('\n').skip(2).peekable();
        while let Some(h) = lines.next() {
            assert!(h.starts_with("@@ -"), "{h:?}");
            let spec = h[4..].split(' ').next().unwrap();
            let (s, l) = match spec.split_once(',') {
                Some((s, l)) => (s.parse::<usize>().unwrap(), l.parse::<usize>().unwrap()),
                None => (spec.parse::<usize>().unwrap(), 1),
            };
            let start = if l == 0 { s } else { s - 1 };
            for line in &old[at..start] {
                out.push_str(line);
            }
            at = start;
            while let Some(l) = lines.peek() {
                if l.starts_with("@@") {
                    break;
                }
                let l = lines.next().unwrap();
                let no_nl = lines.peek() == Some(&"\\ No newline at end of file\n");
                let text = if no_nl {
                    lines.next();
                    &l[1..l.len() - 1]
                } else {
                    &l[1..]
                };
                match &l[..1] {
                    " " => {
                        assert_eq!(old[at], text);
                        out.push_str(text);
                        at += 1;
                    }
                    "-" => {
                        assert_eq!(old[at], text);
                        at += 1;
                    }
                    "+" => out.push_str(text),
                    _ => panic!("{l:?}"),
                }
            }
        }
        for line in &old[at..] {
            out.push_str(line);
        }
        out
    }

    #[test]
    fn lines_split_as_split_inclusive_does() {
        for text in ["", "a", "a\n", "a\nb", "a\r\nb\r\n", "\n\n", "é\nü"] {
            let want: Vec<&str> = text.split_inclusive('\n').collect();
            assert_eq!(lines(text), want, "{text:?}");
        }
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str, &str)] = &[
            ("", "", ""),
            ("a\n", "a\n", ""),
            ("a\n", "b\n", "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"),
            ("", "a\n", "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+a\n"),
            ("a\n", "", "--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-a\n"),
            (
                "a\nb",
                "a\nc",
                "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n",
            ),
            (
                "a\n",
                "a",
                "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n",
            ),
            (
                "1\n2\n3\n4\n5\n6\n7\n8\n9\n",
                "1\n2\n3\n4\nX\n6\n7\n8\n9\n",
                "--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n",
            ),
            (
                "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
                "X\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\nY\n",
                "--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n-1\n+X\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+Y\n",
            ),
            (
                "1\n2\n3\n4\n5\n6\n7\n8\n",
                "X\n2\n3\n4\n5\n6\n7\nY\n",
                "--- a/f\n+++ b/f\n@@ -1,8 +1,8 @@\n-1\n+X\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+Y\n",
            ),
            (
                "a\r\nb\r\n",
                "a\r\nc\r\n",
                "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n",
            ),
            (
                "a\nb\nc\n",
                "a\nc\n",
                "--- a/f\n+++ b/f\n@@ -1,3 +1,2 @@\n a\n-b\n c\n",
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(diff(a, b), *want, "{a:?} -> {b:?}");
        }
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn lcs(a: &[&str], b: &[&str]) -> usize {
        let mut dp = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                dp[i][j] = if a[i] == b[j] {
                    dp[i + 1][j + 1] + 1
                } else {
                    dp[i + 1][j].max(dp[i][j + 1])
                };
            }
        }
        dp[0][0]
    }

    #[test]
    fn property_patch_applies_and_is_minimal() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let words = ["a\n", "b\n", "c\n", "d\n", "a", "b\r\n", "\n"];
        for case in 0..2000 {
            let gen = |rng: &mut Rng| {
                let n = rng.below(12);
                let mut s = String::new();
                for _ in 0..n {
                    let w = words[rng.below(words.len() as u64) as usize];
                    if !s.is_empty() && !s.ends_with('\n') {
                        s.push('\n');
                    }
                    s.push_str(w);
                }
                s
            };
            let a = gen(&mut rng);
            let b = gen(&mut rng);
            let d = diff(&a, &b);
            assert_eq!(d.is_empty(), a == b, "case {case}");
            if d.is_empty() {
                continue;
            }
            assert_eq!(apply(&a, &d), b, "case {case}: {a:?} -> {b:?}\n{d}");
            let (la, lb): (Vec<&str>, Vec<&str>) = (
                a.split_inclusive('\n').collect(),
                b.split_inclusive('\n').collect(),
            );
            let removed = d
                .lines()
                .filter(|l| l.starts_with('-') && !l.starts_with("---"))
                .count();
            let added = d
                .lines()
                .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
                .count();
            let common = lcs(&la, &lb);
            assert_eq!(removed, la.len() - common, "case {case}: not minimal\n{d}");
            assert_eq!(added, lb.len() - common, "case {case}: not minimal\n{d}");
        }
    }

    #[test]
    fn large_input_with_one_change_is_fast() {
        let mut big = String::with_capacity(11 << 20);
        let mut n: usize = 0;
        while big.len() < 10 << 20 {
            big.push_str(&format!("- fix(core): entry number {n} of the changelog\n"));
            n += 1;
        }
        let changed = big.replacen("entry number 1000 ", "entry number one thousand ", 1);
        let t = std::time::Instant::now();
        let d = diff(&big, &changed);
        assert!(d.contains("-- fix(core): entry number 1000 of"), "{d}");
        assert_eq!(d.lines().count(), 2 + 1 + 6 + 2);
        // Linear work: far below a second even on a busy debug build.
        assert!(t.elapsed().as_secs() < 5, "{:?}", t.elapsed());

        // Many scattered changes: still O((N+M)·D) and linear memory.
        let scattered: String = big
            .split_inclusive('\n')
            .enumerate()
            .map(|(i, l)| if i % 5000 == 0 { "changed\n" } else { l })
            .collect();
        let t = std::time::Instant::now();
        let d = diff(&big, &scattered);
        assert_eq!(
            d.lines().filter(|l| l.starts_with("+changed")).count(),
            n.div_ceil(5000)
        );
        assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
    }
}
