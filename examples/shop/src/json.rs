//! A small JSON value with a parser and a writer: what the services send each other and
//! keep in their files. Numbers keep the text they were written with, so that prices in
//! cents and quantities round-trip exactly; the parser caps nesting so that no input can
//! exhaust the stack.

use std::fmt::{self, Write};

/// How deeply arrays and objects may nest.
const MAXIMUM_DEPTH: usize = 32;

/// A JSON value. Object members keep their order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number as written (it matched JSON's number grammar).
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// A number value from an unsigned integer.
    pub fn from_u64(number: u64) -> Value {
        Value::Number(number.to_string())
    }

    /// A string value.
    pub fn string(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    /// The member `name` of an object; `None` for a missing member or a non-object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members
                .iter()
                .find(|(member, _)| member == name)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The value as a whole number from 0 to `u64::MAX`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Writes the value as compact JSON.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => formatter.write_str("null"),
            Value::Bool(value) => write!(formatter, "{value}"),
            Value::Number(text) => formatter.write_str(text),
            Value::String(text) => write_string(formatter, text),
            Value::Array(items) => {
                formatter.write_char('[')?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        formatter.write_char(',')?;
                    }
                    write!(formatter, "{item}")?;
                }
                formatter.write_char(']')
            }
            Value::Object(members) => {
                formatter.write_char('{')?;
                for (index, (name, value)) in members.iter().enumerate() {
                    if index > 0 {
                        formatter.write_char(',')?;
                    }
                    write_string(formatter, name)?;
                    write!(formatter, ":{value}")?;
                }
                formatter.write_char('}')
            }
        }
    }
}

fn write_string(formatter: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    formatter.write_char('"')?;
    for character in text.chars() {
        match character {
            '"' => formatter.write_str("\\\"")?,
            '\\' => formatter.write_str("\\\\")?,
            '\n' => formatter.write_str("\\n")?,
            '\r' => formatter.write_str("\\r")?,
            '\t' => formatter.write_str("\\t")?,
            control if u32::from(control) < 0x20 => {
                write!(formatter, "\\u{:04x}", u32::from(control))?;
            }
            other => formatter.write_char(other)?,
        }
    }
    formatter.write_char('"')
}

/// Why a text is not JSON, with the byte offset where that was noticed.
#[derive(Debug, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub problem: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "not valid JSON at byte {}: {}",
            self.offset, self.problem
        )
    }
}

impl std::error::Error for JsonError {}

/// Parses one JSON value that fills `text` (whitespace around it allowed).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        position: 0,
    };
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.position != parser.bytes.len() {
        return Err(parser.error("unexpected text after the value"));
    }
    Ok(value)
}

struct Parser<'text> {
    bytes: &'text [u8],
    position: usize,
}

impl Parser<'_> {
    fn error(&self, problem: &'static str) -> JsonError {
        JsonError {
            offset: self.position,
            problem,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    fn expect_literal(&mut self, literal: &'static str, value: Value) -> Result<Value, JsonError> {
        if self.bytes[self.position..].starts_with(literal.as_bytes()) {
            self.position += literal.len();
            Ok(value)
        } else {
            Err(self.error("unknown literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.skip_whitespace();
        match self.peek() {
            None => Err(self.error("the text ends where a value was expected")),
            Some(b'n') => self.expect_literal("null", Value::Null),
            Some(b't') => self.expect_literal("true", Value::Bool(true)),
            Some(b'f') => self.expect_literal("false", Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'[') => self.array(depth + 1),
            Some(b'{') => self.object(depth + 1),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAXIMUM_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.position += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.position += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b']') => {
                    self.position += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected , or ] in an array")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAXIMUM_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.position += 1;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.position += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            let name = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error("expected : after a member name"));
            }
            self.position += 1;
            let value = self.value(depth)?;
            members.push((name, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error("expected , or } in an object")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.position;
        if self.peek() == Some(b'-') {
            self.position += 1;
        }
        match self.peek() {
            Some(b'0') => self.position += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("a number needs digits")),
        }
        if self.peek() == Some(b'.') {
            self.position += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("a fraction needs digits"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.position += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.position += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("an exponent needs digits"));
            }
            self.digits();
        }
        // The bytes matched the number grammar, which is ASCII only.
        let text = String::from_utf8_lossy(&self.bytes[start..self.position]).into_owned();
        Ok(Value::Number(text))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.position += 1;
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.position += 1;
        let mut text = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.error("a string is not closed"));
            };
            self.position += 1;
            match byte {
                b'"' => {
                    return String::from_utf8(text)
                        .map_err(|_| self.error("a string is not UTF-8"));
                }
                b'\\' => {
                    let character = self.escape()?;
                    let mut buffer = [0; 4];
                    text.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
                }
                0..0x20 => return Err(self.error("a control character in a string")),
                other => text.push(other),
            }
        }
    }

    fn escape(&mut self) -> Result<char, JsonError> {
        let Some(byte) = self.peek() else {
            return Err(self.error("a string is not closed"));
        };
        self.position += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex_unit()?;
                if (0xD800..0xDC00).contains(&first) {
                    if !self.bytes[self.position..].starts_with(b"\\u") {
                        return Err(self.error("a lone surrogate"));
                    }
                    self.position += 2;
                    let second = self.hex_unit()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(self.error("a lone surrogate"));
                    }
                    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    char::from_u32(code).ok_or_else(|| self.error("a bad \\u escape"))?
                } else {
                    char::from_u32(first).ok_or_else(|| self.error("a lone surrogate"))?
                }
            }
            _ => return Err(self.error("an unknown escape")),
        })
    }

    fn hex_unit(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .bytes
            .get(self.position..self.position + 4)
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u32::from_str_radix(digits, 16).ok())
            .ok_or_else(|| self.error("a \\u escape needs four hex digits"))?;
        self.position += 4;
        Ok(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_text() {
        let text = r#"{"id":"socks","price_cents":1299,"tags":["wool",true,null],"ratio":-1.5e3,"note":"a \"quoted\"\nline\u0001"}"#;
        let value = parse(text).expect("valid JSON");
        assert_eq!(value.to_string(), text);
        assert_eq!(value.get("price_cents").and_then(Value::as_u64), Some(1299));
        assert_eq!(value.get("id").and_then(Value::as_str), Some("socks"));
        assert_eq!(
            value.get("tags").and_then(Value::as_array).map(<[_]>::len),
            Some(3)
        );
    }

    #[test]
    fn escapes_and_whitespace_are_read() {
        let value = parse(" [ \"caf\\u00e9 \\ud83e\\udde6\" , \"\\/\" ] ").expect("valid JSON");
        assert_eq!(
            value,
            Value::Array(vec![Value::string("café 🧦"), Value::string("/")])
        );
    }

    #[test]
    fn bad_text_is_refused_without_panicking() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "01",
            "1.",
            "-",
            "\"open",
            "tru",
            "[1] x",
            "\"\\ud800\"",
            "\"\\x\"",
            "{1:2}",
            "\"\u{1}\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(
            parse(&deep).map_err(|error| error.problem),
            Err("nested too deeply")
        );
    }
}
