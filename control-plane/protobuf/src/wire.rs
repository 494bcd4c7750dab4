//! The protobuf wire format: reading fields out of a message, and writing them.
//!
//! Hand-written rather than generated because wasmkube needs so little of it: the
//! messages it reads are described by the tables in `schema`, and the one it writes
//! (the OpenAPI v2 document) is built field by field.

/// One field as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    LengthDelimited(&'a [u8]),
    Fixed32(u32),
}

impl WireValue<'_> {
    /// Whether the field holds its type's zero value. Go's encoder writes many fields
    /// even when they are empty, so an unknown field that is empty carries nothing.
    pub fn is_empty(&self) -> bool {
        match self {
            WireValue::Varint(value) | WireValue::Fixed64(value) => *value == 0,
            WireValue::Fixed32(value) => *value == 0,
            WireValue::LengthDelimited(bytes) => bytes.is_empty(),
        }
    }
}

/// Iterates over the (field number, value) pairs of one encoded message.
pub struct FieldReader<'a> {
    rest: &'a [u8],
}

impl<'a> FieldReader<'a> {
    pub fn new(message: &'a [u8]) -> Self {
        FieldReader { rest: message }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .rest
                .split_first()
                .ok_or("the message ends inside a number")?;
            self.rest = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a number is longer than ten bytes".into())
    }

    fn take(&mut self, length: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < length {
            return Err(format!(
                "a field claims {length} bytes but only {} remain",
                self.rest.len()
            ));
        }
        let (taken, rest) = self.rest.split_at(length);
        self.rest = rest;
        Ok(taken)
    }

    fn field(&mut self) -> Result<(u32, WireValue<'a>), String> {
        let tag = self.varint()?;
        let number = u32::try_from(tag >> 3)
            .map_err(|_| format!("field number {} is too large", tag >> 3))?;
        if number == 0 {
            return Err("field number 0 is not allowed".into());
        }
        let value = match tag & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => WireValue::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().map_err(|_| "short fixed64")?,
            )),
            2 => {
                let length = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
                WireValue::LengthDelimited(self.take(length)?)
            }
            5 => WireValue::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().map_err(|_| "short fixed32")?,
            )),
            wire_type => return Err(format!("wire type {wire_type} is not supported")),
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for FieldReader<'a> {
    type Item = Result<(u32, WireValue<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            self.rest = &[];
        }
        Some(field)
    }
}

/// Builds one encoded message; nested messages are built separately and added whole.
#[derive(Default)]
pub struct MessageWriter(Vec<u8>);

impl MessageWriter {
    pub fn build(fill: impl FnOnce(&mut MessageWriter)) -> MessageWriter {
        let mut message = MessageWriter::default();
        fill(&mut message);
        message
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value & 0x7f) as u8 | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    pub fn bytes(&mut self, field: u32, bytes: &[u8]) -> &mut Self {
        self.varint(u64::from(field) << 3 | 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn string(&mut self, field: u32, text: &str) -> &mut Self {
        self.bytes(field, text.as_bytes())
    }

    pub fn message(&mut self, field: u32, message: MessageWriter) -> &mut Self {
        self.bytes(field, &message.0)
    }

    pub fn number(&mut self, field: u32, value: u64) -> &mut Self {
        self.varint(u64::from(field) << 3);
        self.varint(value);
        self
    }

    pub fn boolean(&mut self, field: u32, flag: bool) -> &mut Self {
        self.number(field, u64::from(flag))
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_writes() {
        let nested = MessageWriter::build(|nested| _ = nested.string(1, "inner"));
        let message = MessageWriter::build(|message| {
            message
                .string(1, "hello")
                .number(7, 300)
                .boolean(6, true)
                .message(20000, nested);
        })
        .into_bytes();
        let fields: Vec<_> = FieldReader::new(&message)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(fields[0], (1, WireValue::LengthDelimited(b"hello")));
        assert_eq!(fields[1], (7, WireValue::Varint(300)));
        assert_eq!(fields[2], (6, WireValue::Varint(1)));
        let (number, WireValue::LengthDelimited(inner)) = fields[3] else {
            panic!("expected a nested message")
        };
        assert_eq!(number, 20000);
        assert_eq!(
            FieldReader::new(inner).next().unwrap().unwrap(),
            (1, WireValue::LengthDelimited(b"inner"))
        );
    }

    #[test]
    fn reports_truncated_and_malformed_input() {
        let truncated = [0x0a, 0x05, b'a'];
        let error = FieldReader::new(&truncated).next().unwrap().unwrap_err();
        assert_eq!(error, "a field claims 5 bytes but only 1 remain");
        assert!(FieldReader::new(&[0x08]).next().unwrap().is_err());
        assert!(
            FieldReader::new(&[0x0b]).next().unwrap().is_err(),
            "group wire type"
        );
        assert!(
            FieldReader::new(&[0x00, 0x00]).next().unwrap().is_err(),
            "field 0"
        );
    }
}
