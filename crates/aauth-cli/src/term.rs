//! Output that never panics, and escaping of text a server controls before it reaches a
//! terminal.
//!
//! Policy (also in README's "The `aauth` command"):
//! - standard output closed early (`aauth … | head -1`): stop writing and exit 0, quietly —
//!   the reader chose to stop, as with SIGPIPE in a shell pipeline; other write errors (disk
//!   full) are exit 1;
//! - standard error: diagnostics are best effort, a failed write is ignored;
//! - everything written to standard error goes through [`escape_controls`] (errors carry
//!   problem details, URLs and codes chosen by the resource), error messages with newlines
//!   escaped too so an error is always one line;
//! - a response body written to standard output is data: written byte for byte when stdout is
//!   a file or a pipe, with control characters escaped ([`TerminalEscaper`]) when it is a
//!   terminal.
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Whether `c` is shown as an escape: C0/C1 controls and DEL (except tab, and newline when
/// `keep_newline`), and the Unicode bidi overrides that reorder what a terminal shows.
fn needs_escape(c: char, keep_newline: bool) -> bool {
    match c {
        '\t' => false,
        '\n' => !keep_newline,
        '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => true,
        c => c.is_control(),
    }
}

fn push_escaped(out: &mut String, c: char) {
    // `\u{1b}`: visible, unambiguous, and never interpreted by a terminal.
    let _ = write!(out, "{}", c.escape_unicode());
}

/// `s` with every control character (other than tab, and newline when `keep_newline`) shown
/// as `\u{..}`.
pub fn escape_controls(s: &str, keep_newline: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c, keep_newline)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if needs_escape(c, keep_newline) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Writes one line to standard error, escaped; a failed write is ignored.
pub fn err_line(s: &str) {
    let mut e = io::stderr().lock();
    let _ = e
        .write_all(escape_controls(s, true).as_bytes())
        .and_then(|()| e.write_all(b"\n"))
        .and_then(|()| e.flush());
}

/// Writes `bytes` to standard output and flushes.
pub fn out_bytes(bytes: &[u8]) -> io::Result<()> {
    let mut o = io::stdout().lock();
    o.write_all(bytes)?;
    o.flush()
}

/// Escapes a body streamed in chunks for a terminal: UTF-8 split across chunks is kept whole,
/// invalid UTF-8 becomes U+FFFD, control characters other than newline, tab and CR-LF are
/// shown as `\u{..}`.
#[derive(Default)]
pub struct TerminalEscaper {
    carry: Vec<u8>,
}

impl TerminalEscaper {
    pub fn push(&mut self, chunk: &[u8]) -> String {
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(chunk);
        let mut out = String::with_capacity(bytes.len());
        let mut rest: &[u8] = &bytes;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    self.escape_into(&mut out, s, false);
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    self.escape_into(&mut out, &String::from_utf8_lossy(good), true);
                    match e.error_len() {
                        // An incomplete sequence at the end: wait for the next chunk.
                        None => {
                            self.carry.extend_from_slice(bad);
                            break;
                        }
                        Some(n) => {
                            out.push('\u{FFFD}');
                            rest = bad.get(n..).unwrap_or_default();
                        }
                    }
                }
            }
        }
        out
    }

    /// What is left at the end of the body.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.carry);
        let mut out = String::new();
        for c in String::from_utf8_lossy(&rest).chars() {
            if needs_escape(c, true) {
                push_escaped(&mut out, c);
            } else {
                out.push(c);
            }
        }
        out
    }

    /// `more_follows`: text comes after `s` in this chunk, so a final CR is not held back.
    fn escape_into(&mut self, out: &mut String, s: &str, more_follows: bool) {
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\r' {
                match chars.peek() {
                    Some('\n') => out.push('\r'),
                    None if !more_follows => {
                        // CR at the end of the chunk: decide when the next one arrives.
                        self.carry.push(b'\r');
                    }
                    _ => push_escaped(out, c),
                }
            } else if needs_escape(c, true) {
                push_escaped(out, c);
            } else {
                out.push(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_but_keeps_text() {
        assert_eq!(
            escape_controls("a\u{1b}[2Jb\u{7}\tc\nd", true),
            "a\\u{1b}[2Jb\\u{7}\tc\nd"
        );
        assert_eq!(escape_controls("x\ny", false), "x\\u{a}y");
        assert_eq!(
            escape_controls("\u{9b}\u{202e}é", true),
            "\\u{9b}\\u{202e}é"
        );
        assert!(matches!(escape_controls("plain", true), Cow::Borrowed(_)));
    }

    #[test]
    fn the_terminal_escaper_handles_splits_across_chunks() {
        let mut t = TerminalEscaper::default();
        let body = "é\u{1b}]0;x\u{7}line\r\nnext\rover\u{9b}".as_bytes();
        let mut out = String::new();
        for chunk in body.chunks(1) {
            out.push_str(&t.push(chunk));
        }
        out.push_str(&t.finish());
        assert_eq!(out, "é\\u{1b}]0;x\\u{7}line\r\nnext\\u{d}over\\u{9b}");
        let mut t = TerminalEscaper::default();
        assert_eq!(t.push(b"a\xffb\xc3"), "a\u{FFFD}b");
        assert_eq!(t.finish(), "\u{FFFD}");
    }
}
