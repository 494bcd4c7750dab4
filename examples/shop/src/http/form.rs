//! `application/x-www-form-urlencoded` (form bodies and query strings), cookies, and
//! escaping text for HTML.

/// The `name=value` pairs of a form body or query string, decoded.
pub fn parse_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// The first value named `name` in a form.
pub fn form_value<'form>(form: &'form [(String, String)], name: &str) -> Option<&'form str> {
    form.iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
}

/// Decodes `+` as a space and `%XX` escapes; a broken escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let escaped = bytes
                    .get(index + 1..index + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                match escaped {
                    Some(byte) => {
                        decoded.push(byte);
                        index += 2;
                    }
                    None => decoded.push(b'%'),
                }
            }
            other => decoded.push(other),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The value of the cookie `name` in a `Cookie` header field.
pub fn cookie<'header>(cookie_header: &'header str, name: &str) -> Option<&'header str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie_name, _)| *cookie_name == name)
        .map(|(_, value)| value)
}

/// Escapes text for an HTML element or a quoted attribute.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded() {
        let form = parse_form("product_id=blue+socks&quantity=2&note=caf%C3%A9%21&bad=%zz&empty");
        assert_eq!(form_value(&form, "product_id"), Some("blue socks"));
        assert_eq!(form_value(&form, "quantity"), Some("2"));
        assert_eq!(form_value(&form, "note"), Some("café!"));
        assert_eq!(form_value(&form, "bad"), Some("%zz"));
        assert_eq!(form_value(&form, "empty"), Some(""));
        assert_eq!(form_value(&form, "missing"), None);
    }

    #[test]
    fn cookies_are_found_by_name() {
        assert_eq!(
            cookie("a=1; customer=c0ffee; b=2", "customer"),
            Some("c0ffee")
        );
        assert_eq!(cookie("customerx=1", "customer"), None);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
