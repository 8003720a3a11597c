//! Incremental parser for `text/event-stream` bodies (WHATWG HTML "Server-sent events" §9.2.6),
//! as much of it as OpenAI-compatible servers use: `data:` lines, events ended by a blank line,
//! LF or CRLF line ends, comments (`:`) ignored. Bytes may arrive split or merged in any way.

/// The value of a `data:` line (one leading space dropped, CR of a CRLF end dropped).
fn data_value(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let value = line.strip_prefix(b"data:")?;
    Some(value.strip_prefix(b" ").unwrap_or(value))
}

/// Feeds bytes in, hands complete event payloads out.
#[derive(Default)]
pub struct SseParser {
    /// An incomplete line carried over from the previous read.
    partial: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add bytes and call `on_event` with the data of each event completed by them. Lines are
    /// read in place; only a line split across reads is copied.
    pub fn feed(&mut self, bytes: &[u8], mut on_event: impl FnMut(&[u8])) {
        let mut rest = bytes;
        if !self.partial.is_empty() {
            match memchr::memchr(b'\n', rest) {
                None => {
                    self.partial.extend_from_slice(rest);
                    return;
                }
                Some(i) => {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(&rest[..i]);
                    self.line(&line, &mut on_event);
                    rest = &rest[i + 1..];
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let line = &rest[..i];
            let after = &rest[i + 1..];
            // The common case, a one-line event ("data: ...\n\n") whole in this read: handed
            // out in place, without gathering it in `data`.
            if !self.has_data {
                if let Some(value) = data_value(line) {
                    let blank = match after {
                        [b'\n', ..] => Some(1),
                        [b'\r', b'\n', ..] => Some(2),
                        _ => None,
                    };
                    if let Some(k) = blank {
                        on_event(value);
                        rest = &after[k..];
                        continue;
                    }
                }
            }
            self.line(line, &mut on_event);
            rest = after;
        }
        self.partial.extend_from_slice(rest);
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(&[u8])) {
        let bare = line.strip_suffix(b"\r").unwrap_or(line);
        if bare.is_empty() {
            if self.has_data {
                on_event(&self.data);
            }
            self.data.clear();
            self.has_data = false;
        } else if let Some(value) = data_value(line) {
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
        // Other fields (event:, id:, retry:) and comments are not used by these servers.
    }

    /// Bytes received but not yet part of a complete event (useful in error messages).
    pub fn pending(&self) -> usize {
        self.partial.len() + self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<String> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, |d| out.push(String::from_utf8_lossy(d).into_owned()));
        }
        out
    }

    #[test]
    fn frames_split_across_reads_are_joined() {
        assert_eq!(
            events(&[b"data: {\"a\"", b":1}\n", b"\ndata: [DONE]\n\n"]),
            vec!["{\"a\":1}", "[DONE]"]
        );
    }

    #[test]
    fn frames_merged_in_one_read_are_split() {
        assert_eq!(events(&[b"data: 1\n\ndata: 2\n\ndata: 3\n\n"]), vec!["1", "2", "3"]);
    }

    #[test]
    fn crlf_comments_and_multiline_data() {
        assert_eq!(events(&[b": ping\r\n\r\ndata: a\r\ndata: b\r\n\r\n"]), vec!["a\nb"]);
    }

    #[test]
    fn byte_by_byte_gives_the_same_events() {
        let text = b"data: {\"x\": \"y\"}\n\ndata: [DONE]\n\n";
        let chunks: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(events(&chunks), vec!["{\"x\": \"y\"}", "[DONE]"]);
    }

    #[test]
    fn every_split_of_a_stream_gives_the_same_events() {
        let text: &[u8] = b"data: {\"a\":1}\n\n: keep-alive\r\n\r\ndata: x\r\n\r\ndata: l1\ndata: l2\n\ndata: [DONE]\n\n";
        let whole = events(&[text]);
        assert_eq!(whole, vec!["{\"a\":1}", "x", "l1\nl2", "[DONE]"]);
        for i in 0..=text.len() {
            for j in i..=text.len() {
                assert_eq!(events(&[&text[..i], &text[i..j], &text[j..]]), whole, "split at {i}, {j}");
            }
        }
    }

    #[test]
    fn an_unfinished_event_is_held_back() {
        let mut p = SseParser::new();
        let mut n = 0;
        p.feed(b"data: partial", |_| n += 1);
        assert_eq!(n, 0);
        assert!(p.pending() > 0);
    }
}
