//! Kubernetes' `$(VAR)` expansion (`third_party/forked/golang/expansion`), used for a volume
//! mount's `subPathExpr` and, by the same rules, for a container's `command`, `args` and `env`.
//!
//! `$(NAME)` is replaced by what the mapping returns for `NAME`; `$$` is an escaped `$`; a `$`
//! followed by anything else, and an unterminated `$(`, are kept as written.

/// Expands every `$(NAME)` in `input` with `mapping`, exactly as Kubernetes' `expansion.Expand`.
pub fn expand(input: &str, mut mapping: impl FnMut(&str) -> String) -> String {
    let mut expanded = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(position) = rest.find('$') {
        expanded.push_str(&rest[..position]);
        let after_operator = &rest[position + 1..];
        let mut characters = after_operator.chars();
        match characters.next() {
            // A `$` at the very end is copied as it is.
            None => {
                expanded.push('$');
                rest = after_operator;
            }
            Some('$') => {
                expanded.push('$');
                rest = &after_operator[1..];
            }
            Some('(') => match after_operator[1..].find(')') {
                Some(closer) => {
                    let name = &after_operator[1..1 + closer];
                    expanded.push_str(&mapping(name));
                    rest = &after_operator[closer + 2..];
                }
                None => {
                    expanded.push_str("$(");
                    rest = &after_operator[1..];
                }
            },
            Some(other) => {
                expanded.push('$');
                expanded.push(other);
                rest = characters.as_str();
            }
        }
    }
    expanded.push_str(rest);
    expanded
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::expand;

    /// Kubernetes' mapping for `command`, `args` and `env`: a defined variable's value, and an
    /// undefined reference left as written.
    fn expand_keeping_undefined(input: &str) -> String {
        let variables = HashMap::from([
            ("POD_NAME".to_string(), "web-0".to_string()),
            ("EMPTY".to_string(), String::new()),
        ]);
        expand(input, |name| match variables.get(name) {
            Some(value) => value.clone(),
            None => format!("$({name})"),
        })
    }

    #[test]
    fn expands_defined_references_and_keeps_undefined_ones() {
        let cases = [
            ("logs/$(POD_NAME)", "logs/web-0"),
            ("$(POD_NAME)$(POD_NAME)", "web-0web-0"),
            ("$(MISSING)/x", "$(MISSING)/x"),
            ("$(EMPTY)x", "x"),
            ("no references", "no references"),
        ];
        for (input, expected) in cases {
            assert_eq!(expand_keeping_undefined(input), expected, "{input}");
        }
    }

    #[test]
    fn escapes_and_malformed_references_follow_kubernetes() {
        let cases = [
            ("$$(POD_NAME)", "$(POD_NAME)"),
            ("$$$(POD_NAME)", "$web-0"),
            ("$(POD_NAME", "$(POD_NAME"),
            ("a$", "a$"),
            ("$x$(POD_NAME)", "$xweb-0"),
            ("$é", "$é"),
            ("$()", "$()"),
        ];
        for (input, expected) in cases {
            assert_eq!(expand_keeping_undefined(input), expected, "{input}");
        }
    }
}
