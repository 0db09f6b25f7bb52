//! A small YAML reader with byte positions, for the compose editor.
//!
//! It reads the YAML that compose files are written in: block mappings and sequences (also
//! indentless sequences under a key and compact `- key: value` items), plain, single- and
//! double-quoted scalars (multi-line too), literal and folded block scalars, flow collections
//! (`[a, b]`, `{a: b}`, across lines), comments, anchors, tags and aliases, and several documents
//! (`---`, `...`). It produces a flat event list like a streaming parser, where every scalar
//! carries the byte range of its source text.
//!
//! What it does not understand it refuses, with the line and column: complex keys (`? `),
//! directives (`%YAML`), single-pair mappings inside flow sequences, tabs used as indentation,
//! multi-line plain scalars in flow context, collections as keys. An editor built on it never
//! has to guess.

use std::fmt;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    DocumentStart,
    DocumentEnd,
    MappingStart,
    MappingEnd,
    SequenceStart,
    SequenceEnd,
    Scalar(Scalar),
    Alias,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    /// The value (quotes removed, escapes applied, lines folded).
    pub value: String,
    pub style: Style,
    /// Byte range of the source text: the plain text itself; a quoted scalar from its opening
    /// to past its closing quote; a block scalar's content lines (from the first content
    /// character). Node properties (`&a`, `!t`) are not included. Empty for an empty node.
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    pub unsupported: bool,
    pub msg: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unsupported {
            write!(
                f,
                "YAML this tool does not read, at line {}, column {}: {}",
                self.line, self.col, self.msg
            )
        } else {
            write!(
                f,
                "invalid YAML at line {}, column {}: {}",
                self.line, self.col, self.msg
            )
        }
    }
}

/// Reads every document of `src` into events.
pub fn parse(src: &str) -> Result<Vec<Event>, Error> {
    let mut p = Parser {
        src,
        b: src.as_bytes(),
        pos: 0,
        events: Vec::new(),
    };
    if src.starts_with('\u{feff}') {
        p.pos = 3;
    }
    p.stream()?;
    Ok(p.events)
}

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    events: Vec<Event>,
}

/// Where the next content is, after blanks, comments and line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Content at this column (0-based).
    Content(usize),
    /// A `---` or `...` marker at column 0.
    Marker,
    Eof,
}

fn blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn flow_indicator(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

impl<'a> Parser<'a> {
    fn at(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }

    fn peek(&self) -> Option<u8> {
        self.at(self.pos)
    }

    /// Blank, line break or end at `i`.
    fn ws_or_end(&self, i: usize) -> bool {
        matches!(self.at(i), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
    }

    fn eol(&self, i: usize) -> bool {
        matches!(self.at(i), None | Some(b'\r' | b'\n'))
    }

    fn line_start(&self, i: usize) -> usize {
        self.b[..i]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |n| n + 1)
    }

    fn col(&self, i: usize) -> usize {
        let ls = self.line_start(i);
        // A byte order mark is not indentation.
        if ls == 0 && self.src.starts_with('\u{feff}') {
            return i.saturating_sub(3);
        }
        i - ls
    }

    fn err_at(&self, i: usize, unsupported: bool, msg: impl Into<String>) -> Error {
        let i = i.min(self.b.len());
        let ls = self.line_start(i);
        let line = self.b[..i].iter().filter(|&&c| c == b'\n').count() + 1;
        let col = self
            .src
            .get(ls..i)
            .map_or(i - ls, |s| s.trim_start_matches('\u{feff}').chars().count())
            + 1;
        Error {
            line,
            col,
            unsupported,
            msg: msg.into(),
        }
    }

    fn invalid<T>(&self, msg: impl Into<String>) -> Result<T, Error> {
        Err(self.err_at(self.pos, false, msg))
    }

    fn unsupported<T>(&self, msg: impl Into<String>) -> Result<T, Error> {
        Err(self.err_at(self.pos, true, msg))
    }

    fn is_marker(&self, i: usize) -> bool {
        self.col(i) == 0
            && (self.b[i..].starts_with(b"---") || self.b[i..].starts_with(b"..."))
            && self.ws_or_end(i + 3)
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(blank) {
            self.pos += 1;
        }
    }

    /// Skips blanks, a comment, and the line break; Err when other text follows.
    fn end_of_line(&mut self, what: &str) -> Result<(), Error> {
        let before = self.pos;
        self.skip_blanks();
        match self.peek() {
            None | Some(b'\r' | b'\n') => Ok(()),
            Some(b'#') if self.pos > before => Ok(()),
            Some(b'#') => self.invalid("a comment needs a blank before `#`"),
            Some(b':') if self.ws_or_end(self.pos + 1) => {
                self.invalid("mapping values are not allowed here")
            }
            _ => self.invalid(format!("unexpected text after {what}")),
        }
    }

    /// Moves to the next content: over blanks, comments and line breaks.
    fn next_content(&mut self) -> Result<Next, Error> {
        loop {
            let ls = self.line_start(self.pos);
            // Indentation: spaces only; a tab before content is refused.
            let mut indent_tab = false;
            while let Some(c) = self.peek() {
                match c {
                    b' ' => {}
                    b'\t' => indent_tab |= self.b[ls..self.pos].iter().all(|&c| blank(c)),
                    _ => break,
                }
                self.pos += 1;
            }
            match self.peek() {
                None => return Ok(Next::Eof),
                Some(b'#') => {
                    while !self.eol(self.pos) {
                        self.pos += 1;
                    }
                }
                Some(b'\r') if self.at(self.pos + 1) == Some(b'\n') => self.pos += 2,
                Some(b'\n') => self.pos += 1,
                Some(b'\r') => return self.invalid("a carriage return without a line feed"),
                Some(_) => {
                    let col = self.col(self.pos);
                    if indent_tab && col == self.pos - ls && self.b[ls..self.pos].contains(&b'\t') {
                        return self.unsupported("a tab in indentation");
                    }
                    if self.is_marker(self.pos) {
                        return Ok(Next::Marker);
                    }
                    return Ok(Next::Content(col));
                }
            }
        }
    }

    fn stream(&mut self) -> Result<(), Error> {
        loop {
            match self.next_content()? {
                Next::Eof => return Ok(()),
                Next::Content(0) if self.peek() == Some(b'%') => {
                    return self.unsupported("a directive (`%…`)");
                }
                Next::Marker if self.b[self.pos..].starts_with(b"...") => {
                    // A document end marker with no document open.
                    self.pos += 3;
                    self.end_of_line("`...`")?;
                    continue;
                }
                _ => {}
            }
            self.events.push(Event::DocumentStart);
            if self.is_marker(self.pos) && self.b[self.pos..].starts_with(b"---") {
                self.pos += 3;
                self.skip_blanks();
                if !self.eol(self.pos) && self.peek() != Some(b'#') {
                    return self.unsupported("content on the `---` line");
                }
            }
            match self.next_content()? {
                Next::Content(col) => {
                    self.block_node_at(col, -1)?;
                    match self.next_content()? {
                        Next::Content(_) => {
                            return self.invalid("content after the document's root node");
                        }
                        Next::Marker | Next::Eof => {}
                    }
                }
                Next::Marker | Next::Eof => self.empty_scalar(),
            }
            self.events.push(Event::DocumentEnd);
            if self.is_marker(self.pos) && self.b[self.pos..].starts_with(b"...") {
                self.pos += 3;
                self.end_of_line("`...`")?;
            }
        }
    }

    fn empty_scalar(&mut self) {
        self.events.push(Event::Scalar(Scalar {
            value: String::new(),
            style: Style::Plain,
            span: self.pos..self.pos,
        }));
    }

    /// Node properties: `&anchor` and `!tag`, with blanks between.
    fn properties(&mut self) -> Result<bool, Error> {
        let mut any = false;
        loop {
            match self.peek() {
                Some(b'&' | b'!') => {
                    let start = self.pos;
                    while !(self.ws_or_end(self.pos)
                        || self.peek().is_some_and(flow_indicator) && self.b[start] == b'&')
                    {
                        self.pos += 1;
                    }
                    if self.pos == start + 1 && self.b[start] == b'&' {
                        return self.invalid("an anchor without a name");
                    }
                    any = true;
                    self.skip_blanks();
                }
                _ => return Ok(any),
            }
        }
    }

    /// A block node whose first content is at `self.pos`, at column `col`, on a line of its own
    /// (or the root), inside a parent block at indentation `parent`.
    fn block_node_at(&mut self, col: usize, parent: isize) -> Result<(), Error> {
        if col as isize <= parent {
            self.empty_scalar();
            return Ok(());
        }
        self.properties()?;
        if self.eol(self.pos) || self.peek() == Some(b'#') {
            // Properties alone on their line: the node follows.
            return match self.next_content()? {
                Next::Content(c) if c as isize > parent => self.block_node_at(c, parent),
                Next::Content(c) if c as isize == parent && self.dash_at(self.pos) => {
                    self.block_sequence(c, true)
                }
                _ => {
                    self.empty_scalar();
                    Ok(())
                }
            };
        }
        let col = self.col(self.pos);
        if self.dash_at(self.pos) {
            return self.block_sequence(col, false);
        }
        if self.key_ahead()? {
            return self.block_mapping(col);
        }
        self.inline_node(parent)
    }

    /// `-` followed by a blank, a line break or the end.
    fn dash_at(&self, i: usize) -> bool {
        self.at(i) == Some(b'-') && self.ws_or_end(i + 1)
    }

    /// Whether the line at `self.pos` starts with an implicit key (`key:`), without moving.
    fn key_ahead(&mut self) -> Result<bool, Error> {
        let save = self.pos;
        let found = self.key_ahead_inner();
        self.pos = save;
        found
    }

    fn key_ahead_inner(&mut self) -> Result<bool, Error> {
        match self.peek() {
            Some(b'\'' | b'"') => {
                let q = self.peek().unwrap();
                self.pos += 1;
                loop {
                    match self.peek() {
                        None | Some(b'\n' | b'\r') => return Ok(false),
                        Some(b'\\') if q == b'"' => self.pos += 2,
                        Some(b'\'') if q == b'\'' && self.at(self.pos + 1) == Some(b'\'') => {
                            self.pos += 2
                        }
                        Some(c) if c == q => {
                            self.pos += 1;
                            break;
                        }
                        Some(_) => self.pos += 1,
                    }
                }
                self.skip_blanks();
                Ok(self.peek() == Some(b':') && self.ws_or_end(self.pos + 1))
            }
            Some(b'[' | b'{' | b'*' | b'|' | b'>' | b'#') => Ok(false),
            Some(b'?') if self.ws_or_end(self.pos + 1) => {
                self.unsupported("a complex mapping key (`? `)")
            }
            _ => {
                while !self.eol(self.pos) {
                    let c = self.b[self.pos];
                    if c == b':' && self.ws_or_end(self.pos + 1) {
                        return Ok(true);
                    }
                    if c == b'#' && self.pos > 0 && blank(self.b[self.pos - 1]) {
                        return Ok(false);
                    }
                    self.pos += 1;
                }
                Ok(false)
            }
        }
    }

    fn block_mapping(&mut self, indent: usize) -> Result<(), Error> {
        self.events.push(Event::MappingStart);
        loop {
            // At a key, at column `indent`.
            if self.peek() == Some(b'?') && self.ws_or_end(self.pos + 1) {
                return self.unsupported("a complex mapping key (`? `)");
            }
            if self.properties()? {
                return self.unsupported("an anchor or tag on a mapping key");
            }
            let key = match self.peek() {
                Some(b'\'') => self.single_quoted(-1)?,
                Some(b'"') => self.double_quoted(-1)?,
                Some(b'*') => return self.unsupported("an alias as a mapping key"),
                Some(b'[' | b'{') => return self.unsupported("a collection as a mapping key"),
                _ => self.plain(-1, false)?,
            };
            if key.value.contains('\n') {
                return self.invalid("a mapping key must be on one line");
            }
            self.events.push(Event::Scalar(key));
            self.skip_blanks();
            if !(self.peek() == Some(b':') && self.ws_or_end(self.pos + 1)) {
                return self.invalid("expected `:` after a mapping key");
            }
            self.pos += 1;
            self.value(indent as isize, false)?;
            match self.next_content()? {
                Next::Content(c) if c == indent => {
                    if self.dash_at(self.pos) {
                        return self.invalid("a sequence entry where a mapping key was expected");
                    }
                }
                Next::Content(c) if c > indent => {
                    return self.invalid("bad indentation of a mapping entry");
                }
                _ => break,
            }
        }
        self.events.push(Event::MappingEnd);
        Ok(())
    }

    fn block_sequence(&mut self, indent: usize, indentless: bool) -> Result<(), Error> {
        self.events.push(Event::SequenceStart);
        loop {
            // At `-`, at column `indent`.
            self.pos += 1;
            self.value(indent as isize, true)?;
            match self.next_content()? {
                Next::Content(c) if c == indent && self.dash_at(self.pos) => {}
                Next::Content(c) if c == indent && indentless => break,
                Next::Content(c) if c >= indent => {
                    return self.invalid("bad indentation of a sequence entry");
                }
                _ => break,
            }
        }
        self.events.push(Event::SequenceEnd);
        Ok(())
    }

    /// The node after `key:` (`seq_item` false) or `-` (true), in a block at `parent`.
    fn value(&mut self, parent: isize, seq_item: bool) -> Result<(), Error> {
        self.skip_blanks();
        let props_at = self.pos;
        let props = self.properties()?;
        if self.eol(self.pos) || self.peek() == Some(b'#') {
            let empty_at = self.pos;
            return match self.next_content()? {
                Next::Content(c) if c as isize > parent => self.block_node_at(c, parent),
                Next::Content(c) if c as isize == parent && !seq_item && self.dash_at(self.pos) => {
                    self.block_sequence(c, true)
                }
                _ => {
                    self.pos = empty_at;
                    self.empty_scalar();
                    Ok(())
                }
            };
        }
        let col = self.col(self.pos);
        if self.dash_at(self.pos) {
            if seq_item && !props {
                return self.block_sequence(col, false);
            }
            return self.invalid("a block sequence cannot start on this line");
        }
        if self.key_ahead()? {
            if seq_item {
                if props {
                    self.pos = props_at;
                    return self.unsupported("an anchor or tag on a mapping key");
                }
                return self.block_mapping(col);
            }
            return self.invalid("mapping values are not allowed here");
        }
        self.inline_node(parent)
    }

    /// A scalar, alias or flow collection starting on the current line, inside a block at
    /// `parent`; the rest of its last line must be blank or a comment.
    fn inline_node(&mut self, parent: isize) -> Result<(), Error> {
        match self.peek() {
            Some(b'*') => {
                self.alias()?;
                self.end_of_line("an alias")
            }
            Some(b'[' | b'{') => {
                self.flow_collection(parent)?;
                self.end_of_line("a flow collection")
            }
            Some(b'|' | b'>') => self.block_scalar(parent),
            Some(b'\'') => {
                let s = self.single_quoted(parent)?;
                self.events.push(Event::Scalar(s));
                self.end_of_line("a quoted scalar")
            }
            Some(b'"') => {
                let s = self.double_quoted(parent)?;
                self.events.push(Event::Scalar(s));
                self.end_of_line("a quoted scalar")
            }
            _ => {
                let s = self.plain(parent, true)?;
                self.events.push(Event::Scalar(s));
                self.end_of_line("a plain scalar")
            }
        }
    }

    fn alias(&mut self) -> Result<(), Error> {
        let start = self.pos;
        self.pos += 1;
        while !self.ws_or_end(self.pos) && !self.peek().is_some_and(flow_indicator) {
            self.pos += 1;
        }
        if self.pos == start + 1 {
            return self.invalid("an alias without a name");
        }
        self.events.push(Event::Alias);
        Ok(())
    }

    /// A plain scalar in block context. `multi`: may continue on lines indented past `parent`.
    fn plain(&mut self, parent: isize, multi: bool) -> Result<Scalar, Error> {
        let start = self.pos;
        match self.peek() {
            Some(c @ (b'-' | b'?' | b':')) if self.ws_or_end(self.pos + 1) => {
                return self.invalid(format!("`{}` cannot start a plain scalar", c as char));
            }
            Some(
                c @ (b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>'
                | b'\'' | b'"' | b'%' | b'@' | b'`'),
            ) => {
                return self.invalid(format!("`{}` cannot start a plain scalar", c as char));
            }
            _ => {}
        }
        let mut end = self.line_plain_end(self.pos, false);
        let mut value = self.src[start..end].to_string();
        self.pos = end;
        if multi {
            // Continuation lines: more indented than the parent, not comments or markers.
            loop {
                let save = self.pos;
                self.skip_blanks();
                if self.peek() == Some(b'#') || !self.eol(self.pos) {
                    self.pos = save;
                    break;
                }
                let mut breaks = 0;
                let next = loop {
                    match self.peek() {
                        Some(b'\r') if self.at(self.pos + 1) == Some(b'\n') => self.pos += 2,
                        Some(b'\n') => self.pos += 1,
                        _ => break None,
                    }
                    breaks += 1;
                    let ls = self.pos;
                    self.skip_blanks();
                    if self.eol(self.pos) && self.peek().is_some() {
                        continue;
                    }
                    break Some(ls);
                };
                let Some(ls) = next else {
                    self.pos = save;
                    break;
                };
                let col = self.pos - ls;
                if self.peek().is_none()
                    || self.peek() == Some(b'#')
                    || col as isize <= parent
                    || self.is_marker(self.pos)
                {
                    self.pos = save;
                    break;
                }
                let line_end = self.line_plain_end(self.pos, false);
                if line_end == self.pos {
                    self.pos = save;
                    break;
                }
                if breaks == 1 {
                    value.push(' ');
                } else {
                    value.extend(std::iter::repeat_n('\n', breaks - 1));
                }
                value.push_str(&self.src[self.pos..line_end]);
                end = line_end;
                self.pos = line_end;
                let after = self.pos;
                self.skip_blanks();
                if self.peek() == Some(b':') && self.ws_or_end(self.pos + 1) {
                    return self.invalid("a multi-line plain scalar cannot be a mapping key");
                }
                self.pos = after;
            }
        }
        Ok(Scalar {
            value,
            style: Style::Plain,
            span: start..end,
        })
    }

    /// End of plain text on the line from `i` (trailing blanks excluded): before `: `, ` #`,
    /// a line break, and in flow context before `,[]{}` and `:` followed by one of them.
    fn line_plain_end(&self, mut i: usize, flow: bool) -> usize {
        let mut end = i;
        while let Some(c) = self.at(i) {
            match c {
                b'\r' | b'\n' => break,
                b':' if self.ws_or_end(i + 1)
                    || flow && self.at(i + 1).is_some_and(flow_indicator) =>
                {
                    break
                }
                b'#' if i > 0 && blank(self.b[i - 1]) => break,
                c if flow && flow_indicator(c) => break,
                c if blank(c) => {}
                _ => end = i + 1,
            }
            i += 1;
        }
        // `end` is past the last non-blank byte; keep it on a character boundary.
        while !self.src.is_char_boundary(end) {
            end += 1;
        }
        end
    }

    /// Folds a quoted scalar's line break at `self.pos` (at `\r` or `\n`): trailing blanks of the
    /// line were already dropped by the caller; leading blanks of the next lines are skipped.
    fn fold_break(&mut self, value: &mut String) -> Result<(), Error> {
        let mut breaks = 0;
        loop {
            match self.peek() {
                Some(b'\r') if self.at(self.pos + 1) == Some(b'\n') => self.pos += 2,
                Some(b'\n') => self.pos += 1,
                _ => break,
            }
            breaks += 1;
            if self.is_marker(self.pos) {
                return self.invalid("a document marker inside a quoted scalar");
            }
            self.skip_blanks();
        }
        if breaks == 1 {
            value.push(' ');
        } else {
            value.extend(std::iter::repeat_n('\n', breaks - 1));
        }
        Ok(())
    }

    fn trim_trailing_blanks(value: &mut String, keep: usize) {
        while value.len() > keep && value.ends_with([' ', '\t']) {
            value.pop();
        }
    }

    fn single_quoted(&mut self, _parent: isize) -> Result<Scalar, Error> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        let mut keep = 0;
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return self.invalid("a single-quoted scalar without its closing quote");
                }
                Some(b'\'') if self.at(self.pos + 1) == Some(b'\'') => {
                    value.push('\'');
                    keep = value.len();
                    self.pos += 2;
                }
                Some(b'\'') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\r' | b'\n') => {
                    Self::trim_trailing_blanks(&mut value, keep);
                    self.fold_break(&mut value)?;
                    keep = value.len();
                }
                Some(_) => {
                    let c = self.src[self.pos..].chars().next().unwrap();
                    value.push(c);
                    if !blank(self.b[self.pos]) {
                        keep = value.len();
                    }
                    self.pos += c.len_utf8();
                }
            }
        }
        Ok(Scalar {
            value,
            style: Style::SingleQuoted,
            span: start..self.pos,
        })
    }

    fn double_quoted(&mut self, _parent: isize) -> Result<Scalar, Error> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        let mut keep = 0;
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return self.invalid("a double-quoted scalar without its closing quote");
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let esc = self.at(self.pos + 1);
                    self.pos += 2;
                    let simple = match esc {
                        Some(b'0') => Some('\0'),
                        Some(b'a') => Some('\u{7}'),
                        Some(b'b') => Some('\u{8}'),
                        Some(b't' | b'\t') => Some('\t'),
                        Some(b'n') => Some('\n'),
                        Some(b'v') => Some('\u{b}'),
                        Some(b'f') => Some('\u{c}'),
                        Some(b'r') => Some('\r'),
                        Some(b'e') => Some('\u{1b}'),
                        Some(b' ') => Some(' '),
                        Some(b'"') => Some('"'),
                        Some(b'/') => Some('/'),
                        Some(b'\\') => Some('\\'),
                        Some(b'N') => Some('\u{85}'),
                        Some(b'_') => Some('\u{a0}'),
                        Some(b'L') => Some('\u{2028}'),
                        Some(b'P') => Some('\u{2029}'),
                        _ => None,
                    };
                    if let Some(c) = simple {
                        value.push(c);
                        keep = value.len();
                        continue;
                    }
                    let digits = match esc {
                        Some(b'x') => 2,
                        Some(b'u') => 4,
                        Some(b'U') => 8,
                        Some(b'\r' | b'\n') => {
                            // An escaped line break: joined without a space.
                            self.pos -= 1;
                            if self.peek() == Some(b'\r') {
                                self.pos += 1;
                            }
                            self.pos += 1;
                            self.skip_blanks();
                            while matches!(self.peek(), Some(b'\r' | b'\n')) {
                                if self.peek() == Some(b'\r') {
                                    self.pos += 1;
                                }
                                if self.peek() == Some(b'\n') {
                                    self.pos += 1;
                                }
                                value.push('\n');
                                self.skip_blanks();
                            }
                            keep = value.len();
                            continue;
                        }
                        _ => {
                            self.pos -= 2;
                            return self.invalid("an unknown escape in a double-quoted scalar");
                        }
                    };
                    let hex = self
                        .src
                        .get(self.pos..self.pos + digits)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32);
                    let Some(c) = hex else {
                        self.pos -= 2;
                        return self.invalid("a bad hexadecimal escape in a double-quoted scalar");
                    };
                    value.push(c);
                    keep = value.len();
                    self.pos += digits;
                }
                Some(b'\r' | b'\n') => {
                    Self::trim_trailing_blanks(&mut value, keep);
                    self.fold_break(&mut value)?;
                    keep = value.len();
                }
                Some(_) => {
                    let c = self.src[self.pos..].chars().next().unwrap();
                    value.push(c);
                    if !blank(self.b[self.pos]) {
                        keep = value.len();
                    }
                    self.pos += c.len_utf8();
                }
            }
        }
        Ok(Scalar {
            value,
            style: Style::DoubleQuoted,
            span: start..self.pos,
        })
    }

    /// `|` or `>` with its header; the content lines are those indented past `parent`.
    fn block_scalar(&mut self, parent: isize) -> Result<(), Error> {
        let literal = self.peek() == Some(b'|');
        self.pos += 1;
        let mut chomp = 'c';
        let mut explicit: Option<usize> = None;
        for _ in 0..2 {
            match self.peek() {
                Some(b'-') if chomp == 'c' => chomp = '-',
                Some(b'+') if chomp == 'c' => chomp = '+',
                Some(c @ b'1'..=b'9') if explicit.is_none() => {
                    explicit = Some(usize::from(c - b'0'))
                }
                _ => break,
            }
            self.pos += 1;
        }
        self.end_of_line("a block scalar header")?;
        while !self.eol(self.pos) {
            self.pos += 1;
        }
        let base = (parent + 1).max(0) as usize;
        let mut indent = explicit.map(|n| (parent.max(0) as usize) + n);
        // Collect the content lines.
        let mut lines: Vec<(usize, usize)> = Vec::new(); // (content start, line end) per line
        let mut span_start = None;
        let mut span_end = self.pos;
        let mut at = self.pos;
        loop {
            // `at` is at a line break (or the end).
            let next = match self.at(at) {
                Some(b'\r') if self.at(at + 1) == Some(b'\n') => at + 2,
                Some(b'\n') => at + 1,
                _ => break,
            };
            if next == self.b.len() {
                break;
            }
            let mut i = next;
            while self.at(i) == Some(b' ') {
                i += 1;
            }
            let spaces = i - next;
            let mut end = i;
            while !self.eol(end) {
                end += 1;
            }
            let blank_line = self.b[i..end].iter().all(|&c| blank(c));
            if blank_line {
                if indent.is_some_and(|n| spaces > n) {
                    lines.push((next + indent.unwrap(), end));
                } else {
                    lines.push((end, end));
                }
                at = end;
                continue;
            }
            let n = *indent.get_or_insert(spaces.max(base));
            if spaces < n || spaces < base || self.is_marker(next) {
                break;
            }
            if self.b[next..i].len() < n {
                break;
            }
            span_start.get_or_insert(next + n);
            lines.push((next + n, end));
            span_end = end;
            at = end;
        }
        // Trailing blank lines after the last content line stay for chomping.
        let content_lines = lines
            .iter()
            .rposition(|&(s, e)| s < e && !self.b[s..e].iter().all(|&c| blank(c)))
            .map_or(0, |p| p + 1);
        let trailing = lines.len() - content_lines;
        let body: Vec<&str> = lines[..content_lines]
            .iter()
            .map(|&(s, e)| self.src[s..e].strip_suffix('\r').unwrap_or(&self.src[s..e]))
            .collect();
        let mut value = String::new();
        if literal {
            for l in &body {
                value.push_str(l);
                value.push('\n');
            }
        } else {
            let mut prev_more = true;
            let mut pending_breaks = 0usize;
            for (k, l) in body.iter().enumerate() {
                if l.is_empty() {
                    pending_breaks += 1;
                    continue;
                }
                let more = l.starts_with([' ', '\t']);
                if k > 0 {
                    if !more && !prev_more {
                        if pending_breaks == 0 {
                            value.push(' ');
                        } else {
                            value.extend(std::iter::repeat_n('\n', pending_breaks));
                        }
                    } else {
                        value.push('\n');
                        value.extend(std::iter::repeat_n('\n', pending_breaks));
                    }
                }
                pending_breaks = 0;
                value.push_str(l);
                prev_more = more;
            }
            if !body.is_empty() {
                value.push('\n');
            }
        }
        match chomp {
            '-' => {
                while value.ends_with('\n') {
                    value.pop();
                }
            }
            '+' => value.extend(std::iter::repeat_n('\n', trailing)),
            _ => {}
        }
        let start = span_start.unwrap_or(self.pos);
        self.events.push(Event::Scalar(Scalar {
            value,
            style: if literal {
                Style::Literal
            } else {
                Style::Folded
            },
            span: start..span_end.max(start),
        }));
        // Continue after the last content line (blank lines are skipped by the caller).
        self.pos = if content_lines > 0 {
            span_end
        } else {
            self.pos
        };
        Ok(())
    }

    /// `[…]` or `{…}` at `self.pos`, possibly across lines.
    fn flow_collection(&mut self, parent: isize) -> Result<(), Error> {
        let open = self.pos;
        if !self.flow_closed(open) {
            return self.invalid("a flow collection that is never closed");
        }
        let seq = self.peek() == Some(b'[');
        let close = if seq { b']' } else { b'}' };
        self.pos += 1;
        self.events.push(if seq {
            Event::SequenceStart
        } else {
            Event::MappingStart
        });
        loop {
            self.flow_space(open)?;
            if self.peek() == Some(close) {
                self.pos += 1;
                break;
            }
            if seq {
                self.flow_node(parent, open)?;
                self.flow_space(open)?;
                if self.peek() == Some(b':') {
                    return self.unsupported("a single-pair mapping inside a flow sequence");
                }
            } else {
                if self.peek() == Some(b'?') && self.ws_or_end(self.pos + 1) {
                    return self.unsupported("a complex mapping key (`? `)");
                }
                if matches!(self.peek(), Some(b'[' | b'{')) {
                    return self.unsupported("a collection as a mapping key");
                }
                let key_at = self.events.len();
                self.flow_node(parent, open)?;
                if !matches!(self.events.get(key_at), Some(Event::Scalar(_))) {
                    return self.unsupported("an alias as a mapping key");
                }
                self.flow_space(open)?;
                if self.peek() == Some(b':') {
                    self.pos += 1;
                    self.flow_space(open)?;
                    if matches!(self.peek(), Some(b',')) || self.peek() == Some(close) {
                        self.empty_scalar();
                    } else {
                        self.flow_node(parent, open)?;
                    }
                } else {
                    self.empty_scalar();
                }
            }
            self.flow_space(open)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => {
                    return self.invalid(format!(
                        "expected `,` or `{}` in a flow collection",
                        close as char
                    ))
                }
            }
        }
        self.events.push(if seq {
            Event::SequenceEnd
        } else {
            Event::MappingEnd
        });
        Ok(())
    }

    /// Whether the flow collection opened at `open` has its closing bracket (a quick scan over
    /// brackets, quotes and comments), so an unclosed one is reported as such.
    fn flow_closed(&self, open: usize) -> bool {
        let mut depth = 0usize;
        let mut i = open;
        while let Some(c) = self.at(i) {
            match c {
                b'[' | b'{' => depth += 1,
                b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return true;
                    }
                }
                b'\'' | b'"'
                    if matches!(
                        self.b[i - 1],
                        b'[' | b'{' | b',' | b':' | b' ' | b'\t' | b'\r' | b'\n'
                    ) =>
                {
                    i += 1;
                    while let Some(d) = self.at(i) {
                        if d == b'\\' && c == b'"' {
                            i += 1;
                        } else if d == c && !(c == b'\'' && self.at(i + 1) == Some(b'\'')) {
                            break;
                        } else if d == c {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                b'#' if self.ws_or_end(i - 1) => {
                    while !self.eol(i) {
                        i += 1;
                    }
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        false
    }

    /// Blanks, line breaks and comments inside a flow collection opened at `open`.
    fn flow_space(&mut self, open: usize) -> Result<(), Error> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n') => self.pos += 1,
                Some(b'\r') if self.at(self.pos + 1) == Some(b'\n') => self.pos += 2,
                Some(b'#') if self.pos > 0 && self.ws_or_end(self.pos - 1) => {
                    while !self.eol(self.pos) {
                        self.pos += 1;
                    }
                }
                None => {
                    return Err(self.err_at(open, false, "a flow collection that is never closed"))
                }
                _ => {
                    if self.is_marker(self.pos) {
                        return self.invalid("a document marker inside a flow collection");
                    }
                    return Ok(());
                }
            }
        }
    }

    fn flow_node(&mut self, parent: isize, open: usize) -> Result<(), Error> {
        self.properties()?;
        self.flow_space(open)?;
        match self.peek() {
            Some(b'*') => self.alias(),
            Some(b'[' | b'{') => self.flow_collection(parent),
            Some(b'\'') => {
                let s = self.single_quoted(parent)?;
                self.events.push(Event::Scalar(s));
                Ok(())
            }
            Some(b'"') => {
                let s = self.double_quoted(parent)?;
                self.events.push(Event::Scalar(s));
                Ok(())
            }
            Some(b',' | b']' | b'}') => {
                self.empty_scalar();
                Ok(())
            }
            Some(c @ (b'|' | b'>' | b'#' | b'&' | b'!' | b'%' | b'@' | b'`')) => {
                self.invalid(format!("`{}` cannot start a plain scalar", c as char))
            }
            Some(c @ (b'-' | b'?' | b':'))
                if self.ws_or_end(self.pos + 1)
                    || self.at(self.pos + 1).is_some_and(flow_indicator) =>
            {
                if c == b'?' {
                    return self.unsupported("a complex mapping key (`? `)");
                }
                self.invalid(format!("`{}` cannot start a plain scalar", c as char))
            }
            _ => {
                let start = self.pos;
                let end = self.line_plain_end(self.pos, true);
                self.pos = end;
                // A plain scalar that goes on on the next line is not read.
                let save = self.pos;
                self.skip_blanks();
                if self.eol(self.pos) && self.peek().is_some() {
                    let mut j = self.pos;
                    while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.at(j) {
                        j += 1;
                    }
                    if self
                        .at(j)
                        .is_some_and(|c| !flow_indicator(c) && c != b'#' && c != b':')
                    {
                        self.pos = j;
                        return self.unsupported("a multi-line plain scalar in a flow collection");
                    }
                }
                self.pos = save;
                self.events.push(Event::Scalar(Scalar {
                    value: self.src[start..end].to_string(),
                    style: Style::Plain,
                    span: start..end,
                }));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact rendering: `{` `}` `[` `]` `*` and scalars as `style'value'@start..end`.
    fn render(src: &str) -> String {
        let events = parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        let mut out = Vec::new();
        for e in events {
            out.push(match e {
                Event::DocumentStart => "(".to_string(),
                Event::DocumentEnd => ")".to_string(),
                Event::MappingStart => "{".to_string(),
                Event::MappingEnd => "}".to_string(),
                Event::SequenceStart => "[".to_string(),
                Event::SequenceEnd => "]".to_string(),
                Event::Alias => "*".to_string(),
                Event::Scalar(s) => {
                    let st = match s.style {
                        Style::Plain => "",
                        Style::SingleQuoted => "s",
                        Style::DoubleQuoted => "d",
                        Style::Literal => "l",
                        Style::Folded => "f",
                    };
                    format!("{st}{:?}", s.value)
                }
            });
        }
        out.join(" ")
    }

    #[test]
    fn reads_the_compose_subset() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("# c\n", ""),
            ("---\n", "( \"\" )"),
            ("a: b\n", "( { \"a\" \"b\" } )"),
            ("a: b", "( { \"a\" \"b\" } )"),
            ("a: b\r\nc: d\r\n", "( { \"a\" \"b\" \"c\" \"d\" } )"),
            (
                "a:\n  b: c # x\n  d:\n    - e\n    - f: g\n      h: i\n",
                "( { \"a\" { \"b\" \"c\" \"d\" [ \"e\" { \"f\" \"g\" \"h\" \"i\" } ] } } )",
            ),
            (
                "a:\n- b\n- c\nd: e\n",
                "( { \"a\" [ \"b\" \"c\" ] \"d\" \"e\" } )",
            ),
            ("- - a\n  - b\n- c\n", "( [ [ \"a\" \"b\" ] \"c\" ] )"),
            (
                "a: 'it''s'\nb: \"x\\ty\\u00e9\"\n",
                "( { \"a\" s\"it's\" \"b\" d\"x\\tyé\" } )",
            ),
            ("a: \"x\n  y\n\n  z\"\n", "( { \"a\" d\"x y\\nz\" } )"),
            (
                "a: b\n  c\n\n  d\ne: f\n",
                "( { \"a\" \"b c\\nd\" \"e\" \"f\" } )",
            ),
            (
                "a: |\n  x\n   y\n\nb: >-\n  p\n  q\n\n  r\n",
                "( { \"a\" l\"x\\n y\\n\" \"b\" f\"p q\\nr\" } )",
            ),
            ("a: |+\n  x\n\n", "( { \"a\" l\"x\\n\\n\" } )"),
            (
                "a: {b: c, 'd': [e, \"f\"], g: }\n",
                "( { \"a\" { \"b\" \"c\" s\"d\" [ \"e\" d\"f\" ] \"g\" \"\" } } )",
            ),
            ("a: [\n  b, # c\n  d\n]\n", "( { \"a\" [ \"b\" \"d\" ] } )"),
            (
                "x: &a\n  k: v\ny:\n  <<: *a\n  z: &b !!str 1\n  w: *b\n",
                "( { \"x\" { \"k\" \"v\" } \"y\" { \"<<\" * \"z\" \"1\" \"w\" * } } )",
            ),
            ("a: &i # c\n  'v'\n", "( { \"a\" s\"v\" } )"),
            (
                "a: b\n---\nc: d\n...\n",
                "( { \"a\" \"b\" } ) ( { \"c\" \"d\" } )",
            ),
            ("\u{feff}a: é # ☕\n", "( { \"a\" \"é\" } )"),
            ("a:\nb:\n", "( { \"a\" \"\" \"b\" \"\" } )"),
            ("url: http://x:80/y\n", "( { \"url\" \"http://x:80/y\" } )"),
            ("a: b#c\n", "( { \"a\" \"b#c\" } )"),
            ("just text\n", "( \"just text\" )"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src), *want, "{src:?}");
        }
    }

    #[test]
    fn spans_cover_the_source_text() {
        let src = "a: plain text  # c\nb: 'q''x'\nc: \"d\"\nd: |-\n  block\ne: [f, 'g']\n";
        let spans: Vec<&str> = parse(src)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e {
                Event::Scalar(s) => Some(&src[s.span]),
                _ => None,
            })
            .collect();
        assert_eq!(
            spans,
            [
                "a",
                "plain text",
                "b",
                "'q''x'",
                "c",
                "\"d\"",
                "d",
                "block",
                "e",
                "f",
                "'g'"
            ]
        );
    }

    #[test]
    fn refuses_with_a_position() {
        let cases: &[(&str, &str)] = &[
            ("a: [\n  b: c\n", "invalid YAML at line 1, column 4"),
            (
                "a:\n  b: x\n c: y\n",
                "invalid YAML at line 3, column 2: bad indentation",
            ),
            ("a: 'x\n", "invalid YAML at line 1, column 4"),
            (
                "a: b: c\n",
                "invalid YAML at line 1, column 4: mapping values",
            ),
            (
                "? a\n: b\n",
                "YAML this tool does not read, at line 1, column 1: a complex",
            ),
            (
                "%YAML 1.2\n---\na: b\n",
                "YAML this tool does not read, at line 1, column 1",
            ),
            (
                "a:\n\tb: c\n",
                "YAML this tool does not read, at line 2, column 2: a tab",
            ),
            (
                "a: [b: c]\n",
                "YAML this tool does not read, at line 1, column 6: a single-pair",
            ),
            (
                "a: [b\n  c]\n",
                "YAML this tool does not read, at line 2, column 3: a multi-line",
            ),
            (
                "a: \"\\q\"\n",
                "invalid YAML at line 1, column 5: an unknown escape",
            ),
            ("a: b\n- c\n", "invalid YAML at line 2, column 1"),
            ("- a\nb: c\n", "invalid YAML at line 2, column 1"),
            ("a: 'x' y\n", "invalid YAML at line 1, column 8"),
            (
                "a: {b: c\n",
                "invalid YAML at line 1, column 4: a flow collection that is never",
            ),
            ("é: 'x\n", "invalid YAML at line 1, column 4"),
        ];
        for (src, want) in cases {
            let err = parse(src).unwrap_err().to_string();
            assert!(err.starts_with(want), "{src:?}: {err}");
        }
    }

    // -----------------------------------------------------------------------------------------
    // Property test: random documents, rendered in random styles, read back.

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    enum Node {
        Scalar(String),
        Map(Vec<(String, Node)>),
        Seq(Vec<Node>),
    }

    fn gen(rng: &mut Rng, depth: usize) -> Node {
        const WORDS: &[&str] = &[
            "app",
            "ghcr.io/acme/app:1.2.3",
            "it's",
            "a b",
            "8080:80",
            "ünï ☕",
            "${TAG:-1.0.0}",
            "x#y",
            "-1",
        ];
        match if depth > 3 { 0 } else { rng.below(4) } {
            0 | 1 => Node::Scalar(WORDS[rng.below(WORDS.len())].to_string()),
            2 => Node::Map(
                (0..1 + rng.below(3))
                    .map(|i| (format!("k{i}"), gen(rng, depth + 1)))
                    .collect(),
            ),
            _ => Node::Seq((0..1 + rng.below(3)).map(|_| gen(rng, depth + 1)).collect()),
        }
    }

    /// A scalar in a random style: (source text, raw text its span must cover).
    fn scalar(rng: &mut Rng, v: &str, flow: bool) -> String {
        let plain_ok =
            !(v.contains(": ") || v.starts_with('-') || flow && v.contains([',', '{', '}']));
        match rng.below(3) {
            0 if plain_ok => v.to_string(),
            1 => format!("'{}'", v.replace('\'', "''")),
            _ => format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")),
        }
    }

    fn render_block(rng: &mut Rng, n: &Node, indent: usize, out: &mut Vec<String>, prefix: String) {
        let pad = " ".repeat(indent);
        match n {
            Node::Scalar(v) => {
                let comment = if rng.below(4) == 0 { "  # note" } else { "" };
                out.push(format!("{prefix}{}{comment}", scalar(rng, v, false)));
            }
            Node::Map(entries)
                if rng.below(5) == 0
                    && entries.iter().all(|(_, v)| matches!(v, Node::Scalar(_))) =>
            {
                let items: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| match v {
                        Node::Scalar(v) => format!("{k}: {}", scalar(rng, v, true)),
                        _ => unreachable!(),
                    })
                    .collect();
                let lead = if prefix.is_empty() {
                    pad
                } else {
                    format!("{} ", prefix.trim_end())
                };
                out.push(format!("{lead}{{{}}}", items.join(", ")));
            }
            Node::Map(entries) => {
                if !prefix.trim().is_empty() {
                    out.push(prefix.trim_end().to_string());
                }
                for (k, v) in entries {
                    if rng.below(6) == 0 {
                        out.push(format!("{pad}# comment"));
                    }
                    match v {
                        Node::Scalar(_) => {
                            render_block(rng, v, indent + 2, out, format!("{pad}{k}: "))
                        }
                        _ => render_block(rng, v, indent + 2, out, format!("{pad}{k}:")),
                    }
                }
            }
            Node::Seq(items) => {
                if !prefix.trim().is_empty() {
                    out.push(prefix.trim_end().to_string());
                }
                for v in items {
                    match v {
                        Node::Scalar(_) => {
                            render_block(rng, v, indent + 2, out, format!("{pad}- "))
                        }
                        _ => {
                            out.push(format!("{pad}-"));
                            render_block(rng, v, indent + 2, out, String::new());
                        }
                    }
                }
            }
        }
    }

    fn expected(n: &Node, out: &mut Vec<String>) {
        match n {
            Node::Scalar(v) => out.push(format!("{v:?}")),
            Node::Map(es) => {
                out.push("{".into());
                for (k, v) in es {
                    out.push(format!("{k:?}"));
                    expected(v, out);
                }
                out.push("}".into());
            }
            Node::Seq(items) => {
                out.push("[".into());
                for v in items {
                    expected(v, out);
                }
                out.push("]".into());
            }
        }
    }

    #[test]
    fn property_random_documents_read_back_with_exact_spans() {
        let mut rng = Rng(0x00C0_FFEE_1234_5678);
        for case in 0..2000 {
            let root = Node::Map(
                (0..1 + rng.below(4))
                    .map(|i| (format!("top{i}"), gen(&mut rng, 0)))
                    .collect(),
            );
            let mut lines = Vec::new();
            render_block(&mut rng, &root, 0, &mut lines, String::new());
            let nl = if rng.below(3) == 0 { "\r\n" } else { "\n" };
            let mut src = lines.join(nl);
            if rng.below(5) != 0 {
                src.push_str(nl);
            }
            let mut want = vec!["(".to_string()];
            expected(&root, &mut want);
            want.push(")".into());
            let events = parse(&src).unwrap_or_else(|e| panic!("case {case}: {e}\n{src}"));
            let got: Vec<String> = events
                .iter()
                .map(|e| match e {
                    Event::DocumentStart => "(".to_string(),
                    Event::DocumentEnd => ")".to_string(),
                    Event::MappingStart => "{".to_string(),
                    Event::MappingEnd => "}".to_string(),
                    Event::SequenceStart => "[".to_string(),
                    Event::SequenceEnd => "]".to_string(),
                    Event::Alias => "*".to_string(),
                    Event::Scalar(s) => format!("{:?}", s.value),
                })
                .collect();
            assert_eq!(got, want, "case {case}:\n{src}");
            for e in &events {
                if let Event::Scalar(s) = e {
                    let raw = &src[s.span.clone()];
                    match s.style {
                        Style::Plain => assert_eq!(raw, s.value, "case {case}"),
                        Style::SingleQuoted => {
                            assert_eq!(raw[1..raw.len() - 1].replace("''", "'"), s.value)
                        }
                        Style::DoubleQuoted => assert_eq!(
                            raw[1..raw.len() - 1]
                                .replace("\\\"", "\"")
                                .replace("\\\\", "\\"),
                            s.value
                        ),
                        _ => unreachable!(),
                    }
                }
            }
        }
    }
}
