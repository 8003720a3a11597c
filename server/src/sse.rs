//! Incremental parser for `text/event-stream` bodies (WHATWG HTML "Server-sent events" §9.2.6),
//! as much of it as OpenAI-compatible servers use: `data:` lines, events ended by a blank line,
//! LF or CRLF line ends, comments (`:`) ignored. Bytes may arrive split or merged in any way.

/// Feeds bytes in, hands complete event payloads out.
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Where the scan for the next line end resumes.
    scanned: usize,
    data: Vec<u8>,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add bytes and call `on_event` with the data of each event completed by them.
    pub fn feed(&mut self, bytes: &[u8], mut on_event: impl FnMut(&[u8])) {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        let mut i = self.scanned;
        while let Some(pos) = memchr(b'\n', &self.buf[i..]) {
            let end = i + pos;
            let mut line = &self.buf[start..end];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if line.is_empty() {
                if self.has_data {
                    on_event(&self.data);
                }
                self.data.clear();
                self.has_data = false;
            } else if let Some(value) = line.strip_prefix(b"data:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            // Other fields (event:, id:, retry:) and comments are not used by these servers.
            start = end + 1;
            i = start;
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len();
    }

    /// Bytes received but not yet part of a complete line (useful in error messages).
    pub fn pending(&self) -> usize {
        self.buf.len() + self.data.len()
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|b| *b == needle)
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
        assert_eq!(events(&[b"data: {\"a\"", b":1}\n", b"\ndata: [DONE]\n\n"]), vec!["{\"a\":1}", "[DONE]"]);
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
    fn an_unfinished_event_is_held_back() {
        let mut p = SseParser::new();
        let mut n = 0;
        p.feed(b"data: partial", |_| n += 1);
        assert_eq!(n, 0);
        assert!(p.pending() > 0);
    }
}
