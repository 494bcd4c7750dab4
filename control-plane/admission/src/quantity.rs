//! Kubernetes resource quantities ("500m", "1Gi", "2", "1e3", "100M"), parsed and printed exactly
//! as apimachinery's `resource.Quantity` does.
//!
//! A quantity is kept as a whole number of nano-units in an `i128`, which holds every value
//! Kubernetes can represent after its own rounding (values are rounded up to 1n on parse), so
//! sums and comparisons are exact integer arithmetic.

use std::cmp::Ordering;
use std::fmt;

/// How a quantity was written, which decides how it is printed back (Kubernetes keeps the
/// "format" of the first value it saw).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityFormat {
    /// Powers of ten with SI suffixes: `m`, `k`, `M`, `G`, ...
    DecimalSi,
    /// Powers of two with IEC suffixes: `Ki`, `Mi`, `Gi`, ...
    BinarySi,
    /// Scientific notation: `1e3`, `5e-3`.
    DecimalExponent,
}

/// Why a string is not a quantity; the texts are apimachinery's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    FormatWrong,
    #[error("unable to parse quantity's numeric value")]
    Numeric,
    #[error("unable to parse quantity's suffix")]
    Suffix,
    #[error("quantity is too large to be represented")]
    TooLarge,
}

const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// An exact resource quantity.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: QuantityFormat,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Quantity::parse(text)
    }
}

/// The pieces of a quantity string, split the way apimachinery's `parseQuantityString` does.
struct QuantityParts<'a> {
    positive: bool,
    whole_digits: &'a str,
    fraction_digits: &'a str,
    suffix: &'a str,
}

fn split_quantity_string(text: &str) -> Result<QuantityParts<'_>, QuantityError> {
    let bytes = text.as_bytes();
    let mut position = 0;
    let mut positive = true;
    match bytes.first() {
        Some(b'-') => {
            positive = false;
            position = 1;
        }
        Some(b'+') => position = 1,
        _ => {}
    }
    let digits_end = |from: usize| {
        let mut index = from;
        while index < bytes.len() && bytes[index].is_ascii_digit() {
            index += 1;
        }
        index
    };
    let whole_end = digits_end(position);
    let whole_digits = &text[position..whole_end];
    position = whole_end;
    let mut fraction_digits = "";
    if position < bytes.len() && bytes[position] == b'.' {
        let fraction_end = digits_end(position + 1);
        fraction_digits = &text[position + 1..fraction_end];
        position = fraction_end;
    }
    let suffix_start = position;
    while position < bytes.len() && b"eEinumkKMGTP".contains(&bytes[position]) {
        position += 1;
    }
    if position < bytes.len() && (bytes[position] == b'-' || bytes[position] == b'+') {
        position += 1;
    }
    if digits_end(position) != bytes.len() {
        return Err(QuantityError::FormatWrong);
    }
    Ok(QuantityParts {
        positive,
        whole_digits,
        fraction_digits,
        suffix: &text[suffix_start..],
    })
}

/// The base and exponent a suffix stands for, as in apimachinery's suffix handler.
fn interpret_suffix(suffix: &str) -> Option<(u32, i32, QuantityFormat)> {
    let decimal = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(exponent) = decimal {
        return Some((10, exponent, QuantityFormat::DecimalSi));
    }
    let binary = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(exponent) = binary {
        return Some((2, exponent, QuantityFormat::BinarySi));
    }
    if suffix.len() > 1 && (suffix.starts_with('e') || suffix.starts_with('E')) {
        let exponent = suffix[1..].parse::<i32>().ok()?;
        return Some((10, exponent, QuantityFormat::DecimalExponent));
    }
    None
}

/// Divides rounding away from zero, the rounding Kubernetes applies to tiny fractions.
fn divide_rounding_up(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    if numerator % denominator == 0 {
        quotient
    } else if numerator > 0 {
        quotient + 1
    } else {
        quotient - 1
    }
}

fn power_of_ten(exponent: u32) -> Result<i128, QuantityError> {
    10i128.checked_pow(exponent).ok_or(QuantityError::TooLarge)
}

impl Quantity {
    /// Parses a quantity the way `resource.ParseQuantity` does, including its rounding of
    /// anything below one nano-unit up to 1n.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        if text.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        let parts = split_quantity_string(text)?;
        let (base, exponent, mut format) =
            interpret_suffix(parts.suffix).ok_or(QuantityError::Suffix)?;
        if parts.whole_digits.is_empty() && parts.fraction_digits.is_empty() && text.contains('.') {
            return Err(QuantityError::Numeric);
        }
        let mut mantissa: i128 = 0;
        for digit in parts
            .whole_digits
            .bytes()
            .chain(parts.fraction_digits.bytes())
        {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|value| value.checked_add(i128::from(digit - b'0')))
                .ok_or(QuantityError::TooLarge)?;
        }
        let fraction_scale =
            i32::try_from(parts.fraction_digits.len()).map_err(|_| QuantityError::TooLarge)?;
        let nanos = if mantissa == 0 {
            0
        } else if base == 10 {
            let shift = 9 - fraction_scale + exponent;
            if shift >= 0 {
                mantissa
                    .checked_mul(power_of_ten(shift.unsigned_abs())?)
                    .ok_or(QuantityError::TooLarge)?
            } else {
                divide_rounding_up(mantissa, power_of_ten(shift.unsigned_abs())?)
            }
        } else {
            let scaled = mantissa
                .checked_mul(1i128 << exponent)
                .and_then(|value| value.checked_mul(NANOS_PER_UNIT))
                .ok_or(QuantityError::TooLarge)?;
            divide_rounding_up(scaled, power_of_ten(fraction_scale.unsigned_abs())?)
        };
        if format == QuantityFormat::BinarySi && nanos > 0 && nanos < NANOS_PER_UNIT {
            format = QuantityFormat::DecimalSi;
        }
        Ok(Quantity {
            nanos: if parts.positive { nanos } else { -nanos },
            format,
        })
    }

    /// A quantity of whole units, e.g. a count of objects.
    pub fn from_units(units: i64, format: QuantityFormat) -> Quantity {
        Quantity {
            nanos: i128::from(units) * NANOS_PER_UNIT,
            format,
        }
    }

    /// A quantity of thousandths of a unit, e.g. millicores.
    pub fn from_milli_units(milli_units: i64, format: QuantityFormat) -> Quantity {
        Quantity {
            nanos: i128::from(milli_units) * 1_000_000,
            format,
        }
    }

    /// Zero in the given format; adding to it adopts the other operand's format, as in Go.
    pub fn zero() -> Quantity {
        Quantity {
            nanos: 0,
            format: QuantityFormat::DecimalSi,
        }
    }

    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// The value in thousandths of a unit, rounded up like `Quantity.MilliValue()`.
    pub fn milli_value(&self) -> i128 {
        divide_rounding_up_toward_positive(self.nanos, 1_000_000)
    }

    /// The value in whole units, rounded up like `Quantity.Value()`.
    pub fn value(&self) -> i128 {
        divide_rounding_up_toward_positive(self.nanos, NANOS_PER_UNIT)
    }

    /// Rounds up to a whole number of milli-units, as `SetDefaults_ResourceList` does.
    pub fn rounded_up_to_milli(&self) -> Quantity {
        Quantity {
            nanos: divide_rounding_up(self.nanos, 1_000_000).saturating_mul(1_000_000),
            format: self.format,
        }
    }

    /// `self + other`, keeping this quantity's format unless it is zero (Go's `Quantity.Add`).
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        Some(Quantity {
            nanos: self.nanos.checked_add(other.nanos)?,
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        })
    }

    /// `self - other`, keeping this quantity's format unless it is zero (Go's `Quantity.Sub`).
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        Some(Quantity {
            nanos: self.nanos.checked_sub(other.nanos)?,
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        })
    }

    /// The number and suffix in powers of ten, as `AsCanonicalBytes` picks them: the exponent
    /// is a multiple of three and the number has no trailing zeros beyond that.
    fn decimal_parts(&self) -> (i128, i32) {
        let mut mantissa = self.nanos;
        let mut exponent = -9;
        while mantissa != 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        match exponent % 3 {
            1 | -2 => {
                mantissa *= 10;
                exponent -= 1;
            }
            2 | -1 => {
                mantissa *= 100;
                exponent -= 2;
            }
            _ => {}
        }
        (mantissa, exponent)
    }
}

/// Go's `ScaledValue` rounds toward positive infinity.
fn divide_rounding_up_toward_positive(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    if numerator % denominator != 0 && numerator > 0 {
        quotient + 1
    } else {
        quotient
    }
}

fn decimal_si_suffix(exponent: i32) -> Option<&'static str> {
    Some(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

impl fmt::Display for Quantity {
    /// The canonical form Kubernetes serializes (`Quantity.String()`).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return formatter.write_str("0");
        }
        let mut format = self.format;
        if format == QuantityFormat::BinarySi
            && (self.nanos.unsigned_abs() < 1024 * NANOS_PER_UNIT.unsigned_abs()
                || self.nanos % NANOS_PER_UNIT != 0)
        {
            // Small or fractional binary values are shown in decimal so nothing is rounded.
            format = QuantityFormat::DecimalSi;
        }
        match format {
            QuantityFormat::BinarySi => {
                let mut number = self.nanos / NANOS_PER_UNIT;
                let mut power = 0;
                while number % 1024 == 0 && power < BINARY_SUFFIXES.len() - 1 {
                    number /= 1024;
                    power += 1;
                }
                write!(formatter, "{number}{}", BINARY_SUFFIXES[power])
            }
            QuantityFormat::DecimalSi => {
                let (number, exponent) = self.decimal_parts();
                match decimal_si_suffix(exponent) {
                    Some(suffix) => write!(formatter, "{number}{suffix}"),
                    None => write!(formatter, "{number}e{exponent}"),
                }
            }
            QuantityFormat::DecimalExponent => {
                let (number, exponent) = self.decimal_parts();
                if exponent == 0 {
                    write!(formatter, "{number}")
                } else {
                    write!(formatter, "{number}e{exponent}")
                }
            }
        }
    }
}

/// Parses and re-prints a quantity in canonical form, rounded up to milli-units as the API
/// server does for every resource list it stores.
pub fn canonical_resource_list_value(text: &str) -> Result<String, QuantityError> {
    Ok(Quantity::parse(text)?.rounded_up_to_milli().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        Quantity::parse(text)
            .map(|quantity| quantity.to_string())
            .unwrap_or_else(|error| error.to_string())
    }

    #[test]
    fn canonical_forms_match_apimachinery() {
        let cases = [
            ("0", "0"),
            ("500m", "500m"),
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1", "1"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("512", "512"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("100M", "100M"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("123Mi", "123Mi"),
            ("-1", "-1"),
            ("-2Ki", "-2Ki"),
            ("0.1n", "1n"),
            ("1.5", "1500m"),
            ("10000000000000m", "10G"),
            ("5e-3", "5e-3"),
            ("1.G", "1G"),
            (".5", "500m"),
            ("+3k", "3k"),
            ("1E", "1E"),
            ("0.5Ki", "512"),
            ("1.5Ki", "1536"),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(input), expected, "input {input}");
        }
    }

    #[test]
    fn bad_quantities_give_apimachinery_errors() {
        let format_wrong = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
        assert_eq!(canonical(""), format_wrong);
        assert_eq!(canonical("abc"), format_wrong);
        assert_eq!(canonical("1.5.5"), format_wrong);
        assert_eq!(canonical("1 Gi"), format_wrong);
        assert_eq!(canonical("1Gb"), format_wrong);
        assert_eq!(canonical("1ki"), "unable to parse quantity's suffix");
        assert_eq!(canonical("."), "unable to parse quantity's numeric value");
        assert_eq!(
            canonical("1e999999"),
            "quantity is too large to be represented"
        );
    }

    #[test]
    fn comparisons_and_sums_are_exact() {
        let half = Quantity::parse("500m").unwrap();
        let quarter = Quantity::parse("0.25").unwrap();
        let sum = half.checked_add(&quarter).unwrap();
        assert_eq!(sum.to_string(), "750m");
        assert!(Quantity::parse("1Gi").unwrap() > Quantity::parse("1G").unwrap());
        assert_eq!(
            Quantity::parse("1k").unwrap(),
            Quantity::parse("1000").unwrap()
        );
        let gibibyte = Quantity::parse("1Gi").unwrap();
        let total = gibibyte
            .checked_add(&Quantity::parse("512Mi").unwrap())
            .unwrap();
        assert_eq!(total.to_string(), "1536Mi");
        let zero_plus_binary = Quantity::zero().checked_add(&gibibyte).unwrap();
        assert_eq!(zero_plus_binary.to_string(), "1Gi");
        assert_eq!(gibibyte.checked_sub(&gibibyte).unwrap().to_string(), "0");
    }

    #[test]
    fn milli_and_unit_values_round_up() {
        assert_eq!(Quantity::parse("1n").unwrap().milli_value(), 1);
        assert_eq!(Quantity::parse("1500m").unwrap().value(), 2);
        assert_eq!(Quantity::parse("2").unwrap().milli_value(), 2000);
        assert_eq!(canonical_resource_list_value("1n").unwrap(), "1m");
        assert_eq!(canonical_resource_list_value("0.1").unwrap(), "100m");
        assert_eq!(canonical_resource_list_value("1024Mi").unwrap(), "1Gi");
    }
}
