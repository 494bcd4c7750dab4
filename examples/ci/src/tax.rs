//! Sales tax by region, in basis points (hundredths of a percent).

use crate::money::Cents;

/// Where an order is delivered, which decides its sales tax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    California,
    NewYork,
    Oregon,
    Texas,
}

impl Region {
    /// The region for a US state code such as `CA`.
    pub fn from_state_code(code: &str) -> Option<Region> {
        match code.trim().to_ascii_uppercase().as_str() {
            "CA" => Some(Region::California),
            "NY" => Some(Region::NewYork),
            "OR" => Some(Region::Oregon),
            "TX" => Some(Region::Texas),
            _ => None,
        }
    }

    pub fn rate_basis_points(self) -> u64 {
        match self {
            Region::California => 725,
            Region::NewYork => 400,
            Region::Oregon => 0,
            Region::Texas => 625,
        }
    }

    /// The tax on `amount`, rounded half up.
    pub fn tax_on(self, amount: Cents) -> Cents {
        amount.percent_basis_points(self.rate_basis_points())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_are_read_in_any_case() {
        assert_eq!(Region::from_state_code("ca"), Some(Region::California));
        assert_eq!(Region::from_state_code(" TX"), Some(Region::Texas));
        assert_eq!(Region::from_state_code("ZZ"), None);
    }

    #[test]
    fn oregon_has_no_sales_tax() {
        assert_eq!(Region::Oregon.tax_on(Cents(10_000)), Cents::ZERO);
    }

    #[test]
    fn texas_tax_rounds_half_up() {
        // 6.25% of $1.00 is 6.25 cents.
        assert_eq!(Region::Texas.tax_on(Cents(100)), Cents(6));
        // 6.25% of $0.08 is half a cent.
        assert_eq!(Region::Texas.tax_on(Cents(8)), Cents(1));
    }

    #[test]
    fn new_york_rate() {
        assert_eq!(Region::NewYork.tax_on(Cents(2_500)), Cents(100));
    }
}
