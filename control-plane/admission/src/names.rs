//! Kubernetes' string-format validators (apimachinery `util/validation`): DNS names, qualified
//! names, port names and config keys, each returning Kubernetes' exact messages.

/// The message for a value longer than `length`.
pub fn max_length_message(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// Kubernetes' `RegexError`: the rule, a few examples and the regular expression it enforces.
pub fn regex_message(rule: &str, regex: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{rule} (regex used for validation is '{regex}')");
    }
    let mut message = format!("{rule} (e.g. ");
    for (index, example) in examples.iter().enumerate() {
        if index > 0 {
            message.push_str(" or ");
        }
        message.push_str(&format!("'{example}', "));
    }
    message.push_str(&format!("regex used for validation is '{regex}')"));
    message
}

pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
const DNS1123_LABEL_REGEX: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_REGEX: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_REGEX: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_RULE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_RULE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";

fn is_lower_alphanumeric(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit()
}

/// Matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn matches_dns1123_label(value: &str) -> bool {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            is_lower_alphanumeric(first)
                && is_lower_alphanumeric(last)
                && bytes
                    .iter()
                    .all(|&byte| is_lower_alphanumeric(byte) || byte == b'-')
        }
        _ => false,
    }
}

fn matches_dns1123_subdomain(value: &str) -> bool {
    value.split('.').all(matches_dns1123_label)
}

/// Kubernetes' `IsDNS1123Label`.
pub fn dns1123_label_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        problems.push(max_length_message(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            problems.push("must not contain dots".to_string());
        } else {
            problems.push(regex_message(
                DNS1123_LABEL_RULE,
                DNS1123_LABEL_REGEX,
                &["my-name", "123-abc"],
            ));
        }
    }
    problems
}

/// Kubernetes' `IsDNS1123Subdomain`.
pub fn dns1123_subdomain_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        problems.push(max_length_message(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        problems.push(regex_message(
            DNS1123_SUBDOMAIN_RULE,
            DNS1123_SUBDOMAIN_REGEX,
            &["example.com"],
        ));
    }
    problems
}

/// Kubernetes' `IsDNS1035Label` (used for Service names).
pub fn dns1035_label_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        problems.push(max_length_message(DNS1123_LABEL_MAX_LENGTH));
    }
    let starts_with_letter = value.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
    if !(starts_with_letter && matches_dns1123_label(value)) {
        problems.push(regex_message(
            DNS1035_LABEL_RULE,
            DNS1035_LABEL_REGEX,
            &["my-name", "abc-123"],
        ));
    }
    problems
}

/// Kubernetes' `IsValidPathSegmentName` (used for RBAC object names).
pub fn path_segment_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for illegal_name in [".", ".."] {
        if value == illegal_name {
            problems.push(format!("may not be '{illegal_name}'"));
        }
    }
    for illegal_content in ["/", "%"] {
        if value.contains(illegal_content) {
            problems.push(format!("may not contain '{illegal_content}'"));
        }
    }
    problems
}

/// How an object's name must look, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
    PathSegment,
}

impl NameRule {
    /// The name rule Kubernetes applies to objects of `kind`.
    pub fn for_kind(kind: &str) -> NameRule {
        match kind {
            "Namespace" => NameRule::Dns1123Label,
            "Service" => NameRule::Dns1035Label,
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => NameRule::PathSegment,
            _ => NameRule::Dns1123Subdomain,
        }
    }

    /// Validates a name, or with `is_prefix` a `generateName` prefix (whose trailing dash is
    /// masked, as Kubernetes' `maskTrailingDash` does, since a suffix will follow it).
    pub fn problems(&self, name: &str, is_prefix: bool) -> Vec<String> {
        let masked;
        let name = if is_prefix && name.len() > 1 && name.ends_with('-') {
            masked = format!("{}a", &name[..name.len() - 2]);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Dns1123Subdomain => dns1123_subdomain_problems(name),
            NameRule::Dns1123Label => dns1123_label_problems(name),
            NameRule::Dns1035Label => dns1035_label_problems(name),
            NameRule::PathSegment => path_segment_problems(name),
        }
    }
}

/// Kubernetes' `IsValidPortNum`.
pub fn port_number_problems(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// Kubernetes' `IsValidPortName`.
pub fn port_name_problems(port: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if port.len() > 15 {
        problems.push(max_length_message(15));
    }
    if port.is_empty()
        || !port
            .bytes()
            .all(|byte| is_lower_alphanumeric(byte) || byte == b'-')
    {
        problems.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !port.bytes().any(|byte| byte.is_ascii_lowercase()) {
        problems.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        problems.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        problems.push("must not begin or end with a hyphen".to_string());
    }
    problems
}

/// Kubernetes' `IsConfigMapKey`, used for ConfigMap and Secret keys.
pub fn config_map_key_problems(key: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if key.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        problems.push(max_length_message(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let valid_characters = !key.is_empty()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_'));
    if !valid_characters {
        problems.push(regex_message(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if key == "." {
        problems.push("must not be '.'".to_string());
    } else if key == ".." {
        problems.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        problems.push("must not start with '..'".to_string());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    #[test]
    fn subdomains() {
        assert!(dns1123_subdomain_problems("my-app.example.com").is_empty());
        assert_eq!(
            dns1123_subdomain_problems("A_B"),
            vec![SUBDOMAIN_MESSAGE.to_string()]
        );
        assert_eq!(
            dns1123_subdomain_problems("a..b"),
            vec![SUBDOMAIN_MESSAGE.to_string()]
        );
        let long = "a".repeat(254);
        assert_eq!(
            dns1123_subdomain_problems(&long),
            vec!["must be no more than 253 characters".to_string()]
        );
    }

    #[test]
    fn labels_and_dns1035() {
        assert!(dns1123_label_problems("123-abc").is_empty());
        assert_eq!(
            dns1123_label_problems("a.b"),
            vec!["must not contain dots".to_string()]
        );
        assert_eq!(
            dns1123_label_problems("-a"),
            vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()]
        );
        assert_eq!(
            dns1035_label_problems("1abc"),
            vec!["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_string()]
        );
        assert!(dns1035_label_problems("my-svc").is_empty());
    }

    #[test]
    fn name_rules_per_kind_and_generate_name_prefixes() {
        assert_eq!(NameRule::for_kind("Service"), NameRule::Dns1035Label);
        assert_eq!(NameRule::for_kind("Namespace"), NameRule::Dns1123Label);
        assert_eq!(NameRule::for_kind("Pod"), NameRule::Dns1123Subdomain);
        assert!(NameRule::Dns1123Subdomain.problems("web-", true).is_empty());
        assert_eq!(
            NameRule::Dns1123Subdomain.problems("web-", false),
            vec![SUBDOMAIN_MESSAGE.to_string()]
        );
        assert_eq!(
            NameRule::PathSegment.problems("a/b", false),
            vec!["may not contain '/'".to_string()]
        );
        assert_eq!(
            NameRule::PathSegment.problems("..", false),
            vec!["may not be '..'".to_string()]
        );
    }

    #[test]
    fn ports_and_config_keys() {
        assert!(port_name_problems("http").is_empty());
        assert_eq!(
            port_name_problems("-HTTP--"),
            vec![
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
                    .to_string(),
                "must contain at least one letter (a-z)".to_string(),
                "must not contain consecutive hyphens".to_string(),
                "must not begin or end with a hyphen".to_string(),
            ]
        );
        assert_eq!(
            port_number_problems(0),
            vec!["must be between 1 and 65535, inclusive".to_string()]
        );
        assert!(config_map_key_problems("app.properties").is_empty());
        assert_eq!(
            config_map_key_problems(".."),
            vec!["must not be '..'".to_string()]
        );
        assert_eq!(
            config_map_key_problems("a b"),
            vec!["a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string()]
        );
    }
}
