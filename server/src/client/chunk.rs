//! Reading one streamed chunk (`data:` payload) of an OpenAI-compatible stream.
//!
//! Every chunk of every stream passes through here, so there are two decoders with one meaning:
//! - `scan`: a single pass over the bytes that validates the JSON structure and picks out the
//!   few fields Bakeoff reads, in any key order, borrowing the content when it has no escapes.
//!   It handles the shapes servers send for tokens (answer, reasoning, tool calls) and usage; for
//!   anything else (error frames, duplicate keys, unusual types, invalid JSON) it declines.
//! - `serde`: serde_json into the same fields, which decides every chunk `scan` declines and
//!   words the error for a malformed one.
//!
//! A property test checks that whenever `scan` answers, serde_json gives the same answer.

use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;

/// What Bakeoff reads from a chunk: the first choice's answer content (`delta.content` for chat,
/// `text` for completions), reasoning, tool-call flag and finish reason, the usage, or an error
/// frame's message.
#[derive(Debug, Default, PartialEq)]
pub struct Fields<'a> {
    pub content: Option<Cow<'a, str>>,
    /// `delta.reasoning` (vLLM >= 0.11), else `delta.reasoning_content` (older vLLM; some versions
    /// send both with the same text, which is read once).
    pub reasoning: Option<Cow<'a, str>>,
    /// The delta carries a tool call (a non-empty `delta.tool_calls` list).
    pub tool_call: bool,
    pub finish_reason: Option<Cow<'a, str>>,
    pub usage: Option<Usage>,
    /// A mid-stream error frame (nested `{"error": {...}}` or flat `{"object": "error", ...}`).
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// `usage.completion_tokens_details.reasoning_tokens`, where the server gives it.
    pub reasoning_tokens: Option<u64>,
}

/// Decode a chunk; `Err` says why it is not a valid chunk.
pub fn decode(data: &[u8]) -> Result<Fields<'_>, String> {
    match scan(data) {
        Some(f) => Ok(f),
        None => with_serde(data),
    }
}

// ---------------------------------------------------------------- serde_json

#[derive(Deserialize)]
struct Chunk<'a> {
    /// Only the first choice is read (Bakeoff sends n = 1).
    #[serde(borrow, default)]
    choices: FirstChoice<'a>,
    #[serde(default)]
    usage: Option<UsageDe>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(borrow, default)]
    object: Option<Cow<'a, str>>,
}

#[derive(Default)]
struct FirstChoice<'a>(Option<Choice<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstChoice<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = FirstChoice<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of choices")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<Choice<'a>>()?;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(FirstChoice(first))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(FirstChoice(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: ToolCalls,
}

/// `tool_calls`: null or a list; true when the list is not empty.
#[derive(Default)]
struct ToolCalls(bool);

impl<'de> Deserialize<'de> for ToolCalls {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ToolCalls;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of tool calls")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut any = false;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    any = true;
                }
                Ok(ToolCalls(any))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(ToolCalls(false))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct UsageDe {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    completion_tokens_details: Option<DetailsDe>,
}

#[derive(Deserialize)]
struct DetailsDe {
    reasoning_tokens: Option<u64>,
}

/// serde_json's reading (public for the decode benchmark).
pub fn with_serde(data: &[u8]) -> Result<Fields<'_>, String> {
    let chunk: Chunk = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let error = match (chunk.error, chunk.object.as_deref()) {
        (Some(e), _) => Some(error_message(&serde_json::json!({ "error": e }).to_string())),
        // The old flat shape: {"object": "error", "message": ...}.
        (None, Some("error")) => Some(error_message(&String::from_utf8_lossy(data))),
        _ => None,
    };
    let mut fields = Fields {
        usage: chunk.usage.map(|u| Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            reasoning_tokens: u.completion_tokens_details.and_then(|d| d.reasoning_tokens),
        }),
        error,
        ..Fields::default()
    };
    if let Some(c) = chunk.choices.0 {
        fields.finish_reason = c.finish_reason;
        fields.content = c.text;
        if let Some(d) = c.delta {
            fields.content = d.content.or(fields.content);
            fields.reasoning = d.reasoning.or(d.reasoning_content);
            fields.tool_call = d.tool_calls.0;
        }
    }
    Ok(fields)
}

// ---------------------------------------------------------------- the scanner

/// Nesting deeper than this is left to serde_json.
const MAX_DEPTH: u32 = 32;

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

/// A string as it stands in the input: the bytes between the quotes, and whether they hold escapes.
#[derive(Clone, Copy)]
struct RawStr<'a> {
    bytes: &'a [u8],
    escaped: bool,
}

impl<'a> RawStr<'a> {
    fn text(self) -> Option<Cow<'a, str>> {
        if self.escaped {
            // Rare in the keys and reasons; common in content that is itself JSON. serde_json
            // knows every escape.
            let mut quoted = Vec::with_capacity(self.bytes.len() + 2);
            quoted.push(b'"');
            quoted.extend_from_slice(self.bytes);
            quoted.push(b'"');
            serde_json::from_slice::<String>(&quoted).ok().map(Cow::Owned)
        } else {
            std::str::from_utf8(self.bytes).ok().map(Cow::Borrowed)
        }
    }
}

/// The high bit of each of eight bytes that is a quote, a backslash, a control character or
/// non-ASCII (the classic SWAR tests). Bits above the lowest may be false alarms; the lowest is
/// exact, which is all the scanner uses.
fn look_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = has_zero(w ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    quote | backslash | control | (w & HIGH)
}

/// Scan a chunk; `None` when it is not one of the plain shapes (serde_json then decides).
pub fn scan(data: &[u8]) -> Option<Fields<'_>> {
    let mut s = Scanner { b: data, i: 0 };
    s.ws();
    let mut fields = Fields::default();
    let (mut seen_choices, mut seen_usage, mut seen_object) = (false, false, false);
    s.object(|s, key| {
        match key {
            b"choices" if !seen_choices => {
                seen_choices = true;
                s.choices(&mut fields)?;
            }
            b"usage" if !seen_usage => {
                seen_usage = true;
                fields.usage = s.usage()?;
            }
            // Error frames and repeated keys: serde_json's business.
            b"choices" | b"usage" | b"error" => return None,
            b"object" if !std::mem::replace(&mut seen_object, true) => {
                let v = s.string()?;
                if v.escaped || v.bytes == b"error" {
                    return None;
                }
            }
            b"object" => return None,
            _ => s.skip(1)?,
        }
        Some(())
    })?;
    s.ws();
    (s.i == s.b.len()).then_some(fields)
}

impl<'a> Scanner<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// `null` (true) or not (false, nothing consumed).
    #[inline]
    fn null(&mut self) -> bool {
        self.ws();
        if self.b.get(self.i..self.i + 4) == Some(b"null") {
            self.i += 4;
            true
        } else {
            false
        }
    }

    /// An object, calling `member` with the scanner positioned at each value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            if key.escaped {
                return None;
            }
            self.eat(b':')?;
            self.ws();
            member(self, key.bytes)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string; the scanner must be at its opening quote. Control characters are refused, as
    /// JSON requires; escapes are checked for shape here and decoded only when the text is used.
    /// One byte loop: chunk strings are short (keys, a token or two), too short for SIMD search.
    fn string(&mut self) -> Option<RawStr<'a>> {
        let b = self.b;
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let mut j = start;
        let (mut escaped, mut high) = (false, false);
        loop {
            // Eight bytes at a time: jump straight to the first that needs a look (quote,
            // backslash, control or non-ASCII); ids and model names run to tens of bytes.
            while let Some(word) = b.get(j..j + 8) {
                let Ok(word) = <[u8; 8]>::try_from(word) else { break };
                let mask = look_mask(u64::from_le_bytes(word));
                if mask != 0 {
                    j += (mask.trailing_zeros() / 8) as usize;
                    break;
                }
                j += 8;
            }
            match *b.get(j)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match *b.get(j + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 2,
                        b'u' => {
                            if !b.get(j + 2..j + 6)?.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            j += 6;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                c => {
                    high |= c >= 0x80;
                    j += 1;
                }
            }
        }
        let bytes = &b[start..j];
        // Stricter than needed for values serde_json would only skip: any invalid UTF-8 sends
        // the chunk to serde_json.
        if high && std::str::from_utf8(bytes).is_err() {
            return None;
        }
        self.i = j + 1;
        Some(RawStr { bytes, escaped })
    }

    /// A JSON number (RFC 8259 grammar).
    fn number(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            let before = self.i;
            self.digits();
            if self.i == before {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            let before = self.i;
            self.digits();
            if self.i == before {
                return None;
            }
        }
        Some(&self.b[start..self.i])
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    /// Any value, checked and passed over.
    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => self.object(|s, _| s.skip(depth + 1)),
            b'[' => self.array(|s, _| s.skip(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(|_| ()),
        }
    }

    /// An array, calling `element` with each element's index.
    fn array(&mut self, mut element: impl FnMut(&mut Self, usize) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        let mut n = 0;
        loop {
            self.ws();
            element(self, n)?;
            n += 1;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string or null, as text.
    fn opt_text(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.null() {
            return Some(None);
        }
        self.string()?.text().map(Some)
    }

    /// `choices`: null or a list whose first element is an object choice.
    fn choices(&mut self, out: &mut Fields<'a>) -> Option<()> {
        if self.null() {
            return Some(());
        }
        self.array(|s, n| if n == 0 { s.choice(out) } else { s.skip(2) })
    }

    fn choice(&mut self, out: &mut Fields<'a>) -> Option<()> {
        let (mut text, mut reasoning_content) = (None, None);
        let mut seen = [false; 3];
        self.object(|s, key| {
            let slot = match key {
                b"delta" => 0,
                b"text" => 1,
                b"finish_reason" => 2,
                _ => return s.skip(2),
            };
            if std::mem::replace(&mut seen[slot], true) {
                return None;
            }
            match slot {
                0 => {
                    if !s.null() {
                        s.delta(out, &mut reasoning_content)?;
                    }
                }
                1 => text = s.opt_text()?,
                _ => out.finish_reason = s.opt_text()?,
            }
            Some(())
        })?;
        // `delta.content` over `text`; `reasoning` over the older `reasoning_content`.
        if out.content.is_none() {
            out.content = text;
        }
        if out.reasoning.is_none() {
            out.reasoning = reasoning_content;
        }
        Some(())
    }

    /// A chat delta: its content, reasoning and tool-call flag into `out`, the older spelling of
    /// the reasoning into `reasoning_content`.
    fn delta(&mut self, out: &mut Fields<'a>, reasoning_content: &mut Option<Cow<'a, str>>) -> Option<()> {
        let mut seen = [false; 4];
        self.object(|s, key| {
            let slot = match key {
                b"content" => 0,
                b"reasoning" => 1,
                b"reasoning_content" => 2,
                b"tool_calls" => 3,
                _ => return s.skip(3),
            };
            if std::mem::replace(&mut seen[slot], true) {
                return None;
            }
            match slot {
                0 => out.content = s.opt_text()?,
                1 => out.reasoning = s.opt_text()?,
                2 => *reasoning_content = s.opt_text()?,
                _ => out.tool_call = s.tool_calls()?,
            }
            Some(())
        })
    }

    /// `tool_calls`: null or a list (each call checked and passed over); true when not empty.
    fn tool_calls(&mut self) -> Option<bool> {
        if self.null() {
            return Some(false);
        }
        let mut any = false;
        self.array(|s, _| {
            any = true;
            s.skip(4)
        })?;
        Some(any)
    }

    fn usage(&mut self) -> Option<Option<Usage>> {
        if self.null() {
            return Some(None);
        }
        let mut u = Usage::default();
        let mut seen = [false; 3];
        self.object(|s, key| {
            let slot = match key {
                b"prompt_tokens" => 0,
                b"completion_tokens" => 1,
                b"completion_tokens_details" => 2,
                _ => return s.skip(2),
            };
            if std::mem::replace(&mut seen[slot], true) {
                return None;
            }
            match slot {
                0 => u.prompt_tokens = s.opt_count()?,
                1 => u.completion_tokens = s.opt_count()?,
                _ => u.reasoning_tokens = s.details()?,
            }
            Some(())
        })?;
        Some(Some(u))
    }

    /// `completion_tokens_details`: null or an object; its `reasoning_tokens`.
    fn details(&mut self) -> Option<Option<u64>> {
        if self.null() {
            return Some(None);
        }
        let mut reasoning = None;
        let mut seen = false;
        self.object(|s, key| {
            if key != b"reasoning_tokens" {
                return s.skip(3);
            }
            if std::mem::replace(&mut seen, true) {
                return None;
            }
            reasoning = s.opt_count()?;
            Some(())
        })?;
        Some(reasoning)
    }

    /// A token count or null.
    fn opt_count(&mut self) -> Option<Option<u64>> {
        if self.null() {
            Some(None)
        } else {
            self.count().map(Some)
        }
    }

    /// A token count: plain digits that fit a u64 (anything else goes to serde_json).
    fn count(&mut self) -> Option<u64> {
        let n = self.number()?;
        if n.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(n).ok()?.parse().ok()
        } else {
            None
        }
    }
}

/// The message of an OpenAI/vLLM error body: nested `{"error": {"message"}}` (new vLLM),
/// flat `{"object": "error", "message"}` (old vLLM), or the raw text.
pub fn error_message(text: &str) -> String {
    let short = |s: &str| s.chars().take(500).collect::<String>();
    match serde_json::from_str::<Value>(text) {
        Ok(v) => v
            .get("error")
            .and_then(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| e.as_str().map(str::to_string))
            })
            .or_else(|| v.get("message").and_then(Value::as_str).map(str::to_string))
            .or_else(|| v.get("detail").map(|d| d.to_string()))
            .map(|m| short(&m))
            .unwrap_or_else(|| short(text)),
        Err(_) => short(text.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(data: &str) -> (Option<Fields<'_>>, Result<Fields<'_>, String>) {
        (scan(data.as_bytes()), with_serde(data.as_bytes()))
    }

    #[test]
    fn vllm_and_simulator_token_chunks_in_either_key_order() {
        for data in [
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1795000000,"model":"m","choices":[{"index":0,"delta":{"content":" the"},"logprobs":null,"finish_reason":null,"stop_reason":null,"token_ids":null}]}"#,
            r#"{"choices":[{"delta":{"content":" the"},"finish_reason":null,"index":0,"logprobs":null}],"created":1795000000,"id":"chatcmpl-1","model":"m","object":"chat.completion.chunk"}"#,
        ] {
            let (fast, slow) = both(data);
            let fast = fast.expect("scanned");
            assert_eq!(fast.content.as_deref(), Some(" the"));
            assert!(matches!(fast.content, Some(Cow::Borrowed(_))), "no copy for plain content");
            assert_eq!(Ok(fast), slow);
        }
    }

    #[test]
    fn role_finish_usage_and_completions_chunks() {
        let (f, s) = both(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#);
        assert_eq!(f.as_ref().and_then(|f| f.content.as_deref()), Some(""));
        assert_eq!(f.map(Ok), Some(s));
        let (f, s) = both(r#"{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"length"}]}"#);
        assert_eq!(f.as_ref().and_then(|f| f.finish_reason.as_deref()), Some("length"));
        assert_eq!(f.map(Ok), Some(s));
        let (f, s) = both(r#"{"id":"c","choices":[],"usage":{"prompt_tokens":12,"total_tokens":20,"completion_tokens":8}}"#);
        assert_eq!(
            f.as_ref().and_then(|f| f.usage),
            Some(Usage {
                prompt_tokens: Some(12),
                completion_tokens: Some(8),
                reasoning_tokens: None,
            })
        );
        assert_eq!(f.map(Ok), Some(s));
        let (f, s) = both(r#"{"object":"text_completion","choices":[{"index":0,"text":"hi","logprobs":null,"finish_reason":"stop"}]}"#);
        assert_eq!(f.as_ref().and_then(|f| f.content.as_deref()), Some("hi"));
        assert_eq!(f.map(Ok), Some(s));
    }

    #[test]
    fn reasoning_in_either_spelling_is_read_apart_from_content() {
        for data in [
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning":" hmm"},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning_content":" hmm"},"logprobs":null,"finish_reason":null}]}"#,
            // vLLM versions that fill both spellings with the same text: read once.
            r#"{"choices":[{"index":0,"delta":{"reasoning_content":" hmm","content":null,"reasoning":" hmm"}}]}"#,
        ] {
            let (fast, slow) = both(data);
            let fast = fast.expect("scanned");
            assert_eq!(fast.reasoning.as_deref(), Some(" hmm"), "{data}");
            assert_eq!(fast.content, None);
            assert!(!fast.tool_call);
            assert!(matches!(fast.reasoning, Some(Cow::Borrowed(_))), "no copy for plain reasoning");
            assert_eq!(Ok(fast), slow);
        }
        // The transition chunk can carry both.
        let (f, s) = both(r#"{"choices":[{"delta":{"reasoning":"done.","content":"Yes"}}]}"#);
        let f = f.expect("scanned");
        assert_eq!((f.reasoning.as_deref(), f.content.as_deref()), (Some("done."), Some("Yes")));
        assert_eq!(Ok(f), s);
    }

    #[test]
    fn a_tool_call_delta_is_a_generated_token() {
        let (f, s) = both(
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\": 1"}}]},"finish_reason":null}]}"#,
        );
        let f = f.expect("scanned");
        assert!(f.tool_call);
        assert_eq!((f.content.as_deref(), f.reasoning.as_deref()), (None, None));
        assert_eq!(Ok(f), s);
        for empty in [
            r#"{"choices":[{"delta":{"tool_calls":[]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":null}}]}"#,
        ] {
            let (f, s) = both(empty);
            assert!(!f.as_ref().expect("scanned").tool_call, "{empty}");
            assert_eq!(f.map(Ok), Some(s));
        }
        // Not a list: serde_json decides (and refuses).
        let (f, s) = both(r#"{"choices":[{"delta":{"tool_calls":{"id":"x"}}}]}"#);
        assert!(f.is_none() && s.is_err());
    }

    #[test]
    fn usage_reasoning_tokens_are_read_from_the_details() {
        let (f, s) = both(
            r#"{"choices":[],"usage":{"prompt_tokens":5,"total_tokens":105,"completion_tokens":100,"prompt_tokens_details":null,"completion_tokens_details":{"accepted_prediction_tokens":0,"reasoning_tokens":64}}}"#,
        );
        assert_eq!(
            f.as_ref().and_then(|f| f.usage),
            Some(Usage {
                prompt_tokens: Some(5),
                completion_tokens: Some(100),
                reasoning_tokens: Some(64),
            })
        );
        assert_eq!(f.map(Ok), Some(s));
        for absent in [
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":100,"completion_tokens_details":null}}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":100,"completion_tokens_details":{"reasoning_tokens":null}}}"#,
        ] {
            let (f, s) = both(absent);
            assert_eq!(f.as_ref().and_then(|f| f.usage).map(|u| u.reasoning_tokens), Some(None), "{absent}");
            assert_eq!(f.map(Ok), Some(s));
        }
    }

    #[test]
    fn escaped_json_tokens_take_the_scanner() {
        let data = br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"\": \""},"logprobs":null,"finish_reason":null}]}"#;
        let f = scan(data).expect("scanned");
        assert_eq!(f.content.as_deref(), Some("\": \""));
    }

    #[test]
    fn escaped_content_is_decoded() {
        let (f, s) = both(r#"{"choices":[{"delta":{"content":"{\"a\": \"\u00e9\\n\"}"}}]}"#);
        assert_eq!(f.as_ref().and_then(|f| f.content.as_deref()), Some("{\"a\": \"é\\n\"}"));
        assert_eq!(f.map(Ok), Some(s));
    }

    #[test]
    fn error_frames_nested_and_flat_are_errors() {
        let nested = decode(br#"{"error":{"message":"engine died","code":500}}"#).expect("valid");
        assert_eq!(nested.error.as_deref(), Some("engine died"));
        let flat = decode(br#"{"object":"error","message":"old engine died","type":"x","code":500}"#).expect("valid");
        assert_eq!(flat.error.as_deref(), Some("old engine died"));
    }

    #[test]
    fn malformed_frames_are_refused_by_both() {
        for bad in [
            "{\"choices\": [{\"delta\": {\"content\": \"oops\"\n",
            r#"{"choices":[{"delta":{"content":"a"}}]"#,
            r#"{"choices":[{"delta":{"content":"a"}}]}}"#,
            r#"{"choices":[{"delta":{"content":1}}]}"#,
            r#"{"choices":[{"delta":{"content":"a"}}],"choices":[]}"#,
            "{\"choices\":[{\"delta\":{\"content\":\"a\tb\"}}]}",
            r#"{"usage":{"prompt_tokens":-1}}"#,
            r#"{"usage":{"completion_tokens_details":{"reasoning_tokens":1.5}}}"#,
            r#"{"choices":[{"delta":{"reasoning":7}}]}"#,
            r#"{"choices":[{"delta":{"reasoning":"a","reasoning":"b"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":"x"}}]}"#,
            r#"{"a":01}"#,
            r#"{"a":tru}"#,
            "",
        ] {
            let (f, s) = both(bad);
            assert!(f.is_none(), "scanner accepted {bad:?}");
            assert!(s.is_err(), "serde accepted {bad:?}");
            assert!(decode(bad.as_bytes()).is_err());
        }
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z ]{0,8}",
            "\\PC{0,6}",
            Just("{\"k\": \"v\\n\"}".to_string()),
            Just("tab\there".to_string()),
            Just("é ü 漢".to_string()),
        ]
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u32>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            text().prop_map(Value::from),
        ]
    }

    fn any_value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A value for a known field: usually the right type, sometimes not.
    fn field(right: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
        prop_oneof![4 => right, 1 => any_value()].boxed()
    }

    fn chunk() -> impl Strategy<Value = Value> {
        let content = field(prop_oneof![text().prop_map(Value::from), Just(Value::Null)].boxed());
        let call = serde_json::json!({"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\""}});
        let tool_calls = field(
            prop_oneof![
                Just(Value::Null),
                Just(Value::Array(vec![])),
                Just(Value::Array(vec![call])),
                prop::collection::vec(any_value(), 1..3).prop_map(Value::from),
            ]
            .boxed(),
        );
        let delta = field(
            (
                content.clone(),
                content.clone(),
                content.clone(),
                tool_calls,
                any_value(),
                any::<u8>(),
            )
                .prop_map(|(c, r, rc, tc, extra, has)| {
                    let mut m = serde_json::Map::new();
                    for (bit, key, v) in [
                        (1, "content", c),
                        (2, "reasoning", r),
                        (4, "reasoning_content", rc),
                        (8, "tool_calls", tc),
                    ] {
                        if has & bit != 0 {
                            m.insert(key.into(), v);
                        }
                    }
                    m.insert("role".into(), extra);
                    Value::Object(m)
                })
                .boxed(),
        );
        let reason = field(prop_oneof![Just(Value::Null), "stop|length".prop_map(Value::from)].boxed());
        let choice = (delta, content, reason, any::<u8>()).prop_map(|(d, t, r, mask)| {
            let mut m = serde_json::Map::new();
            if mask & 1 != 0 {
                m.insert("delta".into(), d);
            }
            if mask & 2 != 0 {
                m.insert("text".into(), t);
            }
            if mask & 4 != 0 {
                m.insert("finish_reason".into(), r);
            }
            m.insert("index".into(), Value::from(0));
            m.insert("logprobs".into(), Value::Null);
            Value::Object(m)
        });
        let choices = field(prop::collection::vec(choice, 0..3).prop_map(Value::from).boxed());
        let count = field(prop_oneof![any::<u32>().prop_map(Value::from), Just(Value::Null)].boxed());
        let details = field(
            prop_oneof![
                Just(Value::Null),
                count
                    .clone()
                    .prop_map(|r| serde_json::json!({"reasoning_tokens": r, "accepted_prediction_tokens": 0})),
                Just(serde_json::json!({})),
            ]
            .boxed(),
        );
        let usage = field(
            (count.clone(), count, details, any::<bool>())
                .prop_map(|(p, c, d, has)| {
                    let mut u = serde_json::json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": 1});
                    if has {
                        u["completion_tokens_details"] = d;
                    }
                    u
                })
                .boxed(),
        );
        (choices, usage, "chat.completion.chunk|text_completion|error", any::<u8>()).prop_map(|(c, u, object, mask)| {
            let mut m = serde_json::Map::new();
            m.insert("id".into(), Value::from("chatcmpl-x"));
            if mask & 1 != 0 {
                m.insert("object".into(), Value::from(object));
            }
            if mask & 2 != 0 {
                m.insert("choices".into(), c);
            }
            if mask & 4 != 0 {
                m.insert("usage".into(), u);
            }
            Value::Object(m)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whenever the scanner answers, serde_json gives the same answer.
        #[test]
        fn the_scanner_agrees_with_serde(v in chunk(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.expect("json");
            if let Some(fast) = scan(text.as_bytes()) {
                prop_assert_eq!(Ok(fast), with_serde(text.as_bytes()), "{}", text);
            }
        }

        /// Cut or damaged frames: never accepted by the scanner unless serde_json accepts them too.
        #[test]
        fn damaged_frames_are_not_accepted_by_the_scanner_alone(v in chunk(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let text = serde_json::to_vec(&v).expect("json");
            let at = cut.index(text.len());
            let mut damaged = text.clone();
            damaged[at] = byte;
            for sample in [&text[..at], &damaged[..]] {
                if let Some(fast) = scan(sample) {
                    prop_assert_eq!(Ok(fast), with_serde(sample), "{}", String::from_utf8_lossy(sample));
                }
            }
        }
    }

    /// The agreement property means something only if the scanner answers often.
    #[test]
    fn the_generated_chunks_often_take_the_scanner() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = chunk();
        let (mut scanned, mut valid, n) = (0, 0, 1000);
        for _ in 0..n {
            let v = strategy.new_tree(&mut runner).expect("value").current();
            let text = serde_json::to_vec(&v).expect("json");
            scanned += usize::from(scan(&text).is_some());
            valid += usize::from(with_serde(&text).is_ok());
        }
        assert!(scanned * 3 > n, "scanner answered {scanned} of {n}");
        assert!(
            valid > scanned,
            "some generated chunks are left to serde_json ({valid} valid, {scanned} scanned)"
        );
    }

    #[test]
    fn the_eight_byte_test_finds_the_first_byte_that_needs_a_look() {
        for special in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xff] {
            for at in 0..8 {
                for later in [b'a', b'"', 0x01, 0x81] {
                    let mut w = *b"abcdefgh";
                    w[at] = special;
                    if at < 7 {
                        w[7] = later;
                    }
                    let mask = look_mask(u64::from_le_bytes(w));
                    assert_eq!(mask.trailing_zeros() / 8, at as u32, "{special:#x} at {at}, then {later:#x}");
                }
            }
        }
        for plain in [*b"abcdefgh", *b"        ", *b"~!#$%&'(", *b"chatcmpl", *b"0123456-"] {
            assert_eq!(look_mask(u64::from_le_bytes(plain)), 0, "{plain:?}");
        }
    }

    #[test]
    fn plain_token_chunks_take_the_scanner() {
        // The shapes that make up nearly every chunk must not fall back to serde_json.
        for data in [
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"a","logprobs":null,"finish_reason":null,"stop_reason":null}]}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"total_tokens":9,"completion_tokens":4,"prompt_tokens_details":null}}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning":"a"},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning_content":"a"},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"total_tokens":9,"completion_tokens":4,"completion_tokens_details":{"reasoning_tokens":3}}}"#,
        ] {
            assert!(scan(data.as_bytes()).is_some(), "{data}");
        }
    }
}
