//! Lines of a file that arrives in chunks (an upload's body), each line bounded in length, so a
//! file is checked as it streams in, whatever its size, in memory of one line.

/// One line as it came (without its `\n`), or a line that was longer than the limit (its bytes
/// were dropped as they came; the next line starts after its `\n`).
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Text(&'a [u8]),
    TooLong,
}

/// Splits chunks into lines. Holds at most one partial line (`max` bytes) between chunks.
#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    partial: Vec<u8>,
    /// The line under way is already known to be too long: drop the rest of it.
    overlong: bool,
}

impl LineSplitter {
    /// Lines longer than `max` bytes (not counting `\n`) come out as [`Line::TooLong`].
    pub fn new(max: usize) -> Self {
        LineSplitter {
            max,
            partial: Vec::new(),
            overlong: false,
        }
    }

    /// Feed the next chunk; `each` gets every line it completes, in order.
    pub fn push(&mut self, mut chunk: &[u8], mut each: impl FnMut(Line<'_>)) {
        while !chunk.is_empty() {
            let (piece, rest, ends) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &chunk[chunk.len()..], false),
            };
            chunk = rest;
            if !self.overlong {
                if self.partial.len() + piece.len() > self.max {
                    self.overlong = true;
                    self.partial = Vec::new();
                } else if ends && self.partial.is_empty() {
                    each(Line::Text(piece));
                    continue;
                } else {
                    self.partial.extend_from_slice(piece);
                }
            }
            if ends {
                self.end_line(&mut each);
            }
        }
    }

    /// The file ended: the last line, if it had no `\n`.
    pub fn finish(&mut self, mut each: impl FnMut(Line<'_>)) {
        if self.overlong || !self.partial.is_empty() {
            self.end_line(&mut each);
        }
    }

    fn end_line(&mut self, each: &mut impl FnMut(Line<'_>)) {
        if std::mem::take(&mut self.overlong) {
            each(Line::TooLong);
        } else {
            each(Line::Text(&self.partial));
            self.partial.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<Option<String>> {
        let mut out = Vec::new();
        let mut s = LineSplitter::new(max);
        let mut take = |l: Line<'_>| {
            out.push(match l {
                Line::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                Line::TooLong => None,
            })
        };
        for c in chunks {
            s.push(c, &mut take);
        }
        s.finish(&mut take);
        out
    }

    #[test]
    fn lines_split_across_chunks_come_out_whole() {
        let got = split(100, &[b"ab", b"c\nde", b"f\n\ng"]);
        assert_eq!(got, [Some("abc".into()), Some("def".into()), Some(String::new()), Some("g".into())]);
    }

    #[test]
    fn a_line_over_the_limit_is_one_too_long_line_and_the_next_is_intact() {
        let got = split(4, &[b"ok\n1234", b"56789", b"0\nfine\n"]);
        assert_eq!(got, [Some("ok".into()), None, Some("fine".into())]);
        assert_eq!(split(4, &[b"1234\n12345"]), [Some("1234".into()), None]);
    }

    proptest::proptest! {
        #[test]
        fn any_chunking_gives_the_lines_of_the_whole(text in "[a-c\n]{0,60}", cuts in proptest::collection::vec(0usize..60, 0..6)) {
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                chunks.push(&bytes[at..c]);
                at = c;
            }
            let want: Vec<Option<String>> = text.lines().map(|l| Some(l.to_string())).collect();
            proptest::prop_assert_eq!(split(1000, &chunks), want);
        }
    }
}
