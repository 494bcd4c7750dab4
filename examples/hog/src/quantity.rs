//! Memory sizes written the way Kubernetes writes them (`250Mi`, `1G`, `4096`), which is
//! also how vish/stress reads its `-mem-total` and `-mem-alloc-size` flags.

use std::fmt;

/// The suffixes hog understands and how many bytes each stands for. Kubernetes spells
/// the decimal kilo `k`; `K` is accepted too because people write it.
const SUFFIXES: [(&str, u64); 10] = [
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
    ("k", 1_000),
    ("K", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("T", 1_000_000_000_000),
    ("", 1),
];

/// Why a memory size could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum QuantityError {
    /// The text is not digits followed by one of the known suffixes.
    Malformed,
    /// The size does not fit in 64 bits of bytes.
    TooLarge,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => formatter.write_str(
                "quantities must match the regular expression '^[0-9]+(Ki|Mi|Gi|Ti|k|K|M|G|T)?$'",
            ),
            Self::TooLarge => formatter.write_str("quantity is too large"),
        }
    }
}

impl std::error::Error for QuantityError {}

/// Reads a memory size such as `250Mi` into a number of bytes.
pub fn parse_quantity(text: &str) -> Result<u64, QuantityError> {
    let digits_end = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(QuantityError::Malformed);
    }
    let multiplier = SUFFIXES
        .iter()
        .find(|(known_suffix, _)| *known_suffix == suffix)
        .map(|(_, multiplier)| *multiplier)
        .ok_or(QuantityError::Malformed)?;
    let count: u64 = digits.parse().map_err(|_| QuantityError::TooLarge)?;
    count.checked_mul(multiplier).ok_or(QuantityError::TooLarge)
}

/// Writes a number of bytes in the largest binary unit that divides it exactly, so that
/// progress lines read `10Mi` rather than `10485760`.
pub fn format_quantity(bytes: u64) -> String {
    const BINARY_UNITS: [(&str, u64); 4] = [
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    BINARY_UNITS
        .iter()
        .find(|(_, unit)| bytes != 0 && bytes.is_multiple_of(*unit))
        .map_or_else(
            || bytes.to_string(),
            |(suffix, unit)| format!("{}{suffix}", bytes / unit),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_binary_decimal_and_plain_sizes() {
        assert_eq!(parse_quantity("250Mi"), Ok(250 * 1024 * 1024));
        assert_eq!(parse_quantity("4Ki"), Ok(4096));
        assert_eq!(parse_quantity("1Gi"), Ok(1 << 30));
        assert_eq!(parse_quantity("2G"), Ok(2_000_000_000));
        assert_eq!(parse_quantity("3k"), Ok(3_000));
        assert_eq!(parse_quantity("3K"), Ok(3_000));
        assert_eq!(parse_quantity("4096"), Ok(4096));
        assert_eq!(parse_quantity("0"), Ok(0));
    }

    #[test]
    fn refuses_what_is_not_a_size() {
        for text in ["", "Mi", "10mi", "10 Mi", "1.5Gi", "-1Mi", "10Mi "] {
            assert_eq!(
                parse_quantity(text),
                Err(QuantityError::Malformed),
                "{text}"
            );
        }
        assert_eq!(
            parse_quantity("99999999999999999999"),
            Err(QuantityError::TooLarge)
        );
        assert_eq!(parse_quantity("20000000Ti"), Err(QuantityError::TooLarge));
    }

    #[test]
    fn formats_in_the_largest_exact_binary_unit() {
        assert_eq!(format_quantity(10 * 1024 * 1024), "10Mi");
        assert_eq!(format_quantity(1 << 30), "1Gi");
        assert_eq!(format_quantity(1536), "1536");
        assert_eq!(format_quantity(3 * 1024), "3Ki");
        assert_eq!(format_quantity(0), "0");
    }
}
