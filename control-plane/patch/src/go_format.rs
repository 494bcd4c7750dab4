//! Printing JSON values the way Go's `fmt` prints their decoded form.
//!
//! Kubernetes' strategic merge errors embed values formatted with `%v` after
//! decoding them into `map[string]interface{}` and friends, e.g.
//! `map[image:nginx]`. These helpers reproduce that text and the Go type names
//! Kubernetes reports.

use serde_json::{Map, Value};

/// The name of the Go type that Kubernetes' JSON decoder produces for a value.
pub(crate) fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// The JSON type name Go's encoding/json uses in "cannot unmarshal" errors.
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Formats a value like Go's `%v` verb.
pub(crate) fn format_value(value: &Value) -> String {
    let mut text = String::new();
    write_value(&mut text, value);
    text
}

/// Formats a value like Go's `%s` verb: strings as they are, other values as
/// Go's "bad verb" notation, e.g. `%!s(int64=1)`.
pub(crate) fn format_as_string_verb(value: &Value) -> String {
    match value {
        Value::String(string) => string.clone(),
        Value::Null => "%!s(<nil>)".to_string(),
        other => format!("%!s({}={})", go_type_name(other), format_value(other)),
    }
}

/// Formats a map like Go's `%v` verb: `map[key:value ...]` with sorted keys.
pub(crate) fn format_map(map: &Map<String, Value>) -> String {
    let mut text = String::new();
    write_map(&mut text, map);
    text
}

/// Formats several lists the way Go prints a `[][]interface{}`.
pub(crate) fn format_lists(lists: &[&[Value]]) -> String {
    let mut text = String::from("[");
    for (position, list) in lists.iter().enumerate() {
        if position > 0 {
            text.push(' ');
        }
        write_list(&mut text, list);
    }
    text.push(']');
    text
}

/// Formats a list like Go's `%v` verb: `[a b c]`.
pub(crate) fn format_list(list: &[Value]) -> String {
    let mut text = String::new();
    write_list(&mut text, list);
    text
}

fn write_value(text: &mut String, value: &Value) {
    match value {
        Value::Null => text.push_str("<nil>"),
        Value::Bool(boolean) => text.push_str(if *boolean { "true" } else { "false" }),
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() => text.push_str(&format_float(float)),
            _ => text.push_str(&number.to_string()),
        },
        Value::String(string) => text.push_str(string),
        Value::Array(list) => write_list(text, list),
        Value::Object(map) => write_map(text, map),
    }
}

fn write_list(text: &mut String, list: &[Value]) {
    text.push('[');
    for (position, element) in list.iter().enumerate() {
        if position > 0 {
            text.push(' ');
        }
        write_value(text, element);
    }
    text.push(']');
}

fn write_map(text: &mut String, map: &Map<String, Value>) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    text.push_str("map[");
    for (position, key) in keys.into_iter().enumerate() {
        if position > 0 {
            text.push(' ');
        }
        text.push_str(key);
        text.push(':');
        if let Some(value) = map.get(key) {
            write_value(text, value);
        }
    }
    text.push(']');
}

/// Go's `%v` for a float64 is `%g` with the shortest precision, switching to
/// exponent notation below 1e-4 and from 1e21 on.
fn format_float(float: f64) -> String {
    let magnitude = float.abs();
    if magnitude != 0.0 && !(1e-4..1e21).contains(&magnitude) {
        let rust_exponent_form = format!("{float:e}");
        match rust_exponent_form.split_once('e') {
            Some((mantissa, exponent)) => {
                let (sign, digits) = match exponent.strip_prefix('-') {
                    Some(digits) => ('-', digits),
                    None => ('+', exponent),
                };
                format!("{mantissa}e{sign}{digits:0>2}")
            }
            None => rust_exponent_form,
        }
    } else {
        format!("{float}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_print_with_sorted_keys_and_nested_values() {
        let value = json!({"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]});
        assert_eq!(
            format_value(&value),
            "map[image:nginx name:web ports:[map[containerPort:80]]]"
        );
    }

    #[test]
    fn scalars_print_like_go() {
        assert_eq!(format_value(&json!(null)), "<nil>");
        assert_eq!(format_value(&json!(true)), "true");
        assert_eq!(format_value(&json!(1.5)), "1.5");
        assert_eq!(format_value(&json!(1e21)), "1e+21");
        assert_eq!(format_value(&json!(0.00001)), "1e-05");
        assert_eq!(format_value(&json!(-7)), "-7");
    }

    #[test]
    fn string_verb_marks_non_strings() {
        assert_eq!(format_as_string_verb(&json!("merge")), "merge");
        assert_eq!(format_as_string_verb(&json!(1)), "%!s(int64=1)");
        assert_eq!(format_as_string_verb(&json!(null)), "%!s(<nil>)");
    }

    #[test]
    fn go_type_names_match_the_decoded_types() {
        assert_eq!(go_type_name(&json!("a")), "string");
        assert_eq!(go_type_name(&json!(1)), "int64");
        assert_eq!(go_type_name(&json!(1.0)), "float64");
        assert_eq!(go_type_name(&json!([])), "[]interface {}");
        assert_eq!(go_type_name(&json!({})), "map[string]interface {}");
    }

    #[test]
    fn lists_of_lists_print_nested() {
        let first = [json!("a")];
        let second = [json!(1), json!(2)];
        assert_eq!(format_lists(&[&first, &second]), "[[a] [1 2]]");
        assert_eq!(format_list(&second), "[1 2]");
    }
}
