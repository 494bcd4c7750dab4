//! Image references `NAME:TAG`, checked with Docker's rules so that a name pushed here
//! would also be a valid name for a registry.

use std::fmt;

/// The tag a reference without one gets, as with `docker push`.
const DEFAULT_TAG: &str = "latest";

/// Docker limits a repository name to 255 characters.
const MAX_NAME_LENGTH: usize = 255;

/// Docker's tag grammar allows one leading word character and 127 more characters.
const MAX_TAG_LENGTH: usize = 128;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid image reference {0:?}: expected NAME:TAG")]
    MissingTag(String),
    #[error("invalid image name {name:?}: {problem}")]
    Name { name: String, problem: String },
    #[error(
        "invalid tag {0:?}: a tag is 1 to 128 letters, digits, \"_\", \".\" and \"-\", and does not start with \".\" or \"-\""
    )]
    Tag(String),
}

/// A validated `NAME:TAG`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageReference {
    pub name: String,
    pub tag: String,
}

impl ImageReference {
    /// Parses `NAME:TAG`, where the tag is required (the API's form).
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let (name, tag) =
            split_reference(text).ok_or_else(|| ReferenceError::MissingTag(text.to_owned()))?;
        Self::new(name, tag)
    }

    /// Parses `NAME[:TAG]`, where the tag defaults to `latest` (the command line's form).
    pub fn parse_with_default_tag(text: &str) -> Result<Self, ReferenceError> {
        match split_reference(text) {
            Some((name, tag)) => Self::new(name, tag),
            None => Self::new(text, DEFAULT_TAG),
        }
    }

    /// Checks the name and the tag apart.
    pub fn new(name: &str, tag: &str) -> Result<Self, ReferenceError> {
        validate_name(name)?;
        validate_tag(tag)?;
        Ok(Self {
            name: name.to_owned(),
            tag: tag.to_owned(),
        })
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.name, self.tag)
    }
}

/// Splits at the last `:` after the last `/`, so that a `:` earlier in the name (a
/// registry's port) is left to the name's own check.
fn split_reference(text: &str) -> Option<(&str, &str)> {
    let last_component_start = text.rfind('/').map_or(0, |slash| slash + 1);
    let colon = text[last_component_start..].rfind(':')? + last_component_start;
    Some((&text[..colon], &text[colon + 1..]))
}

fn validate_name(name: &str) -> Result<(), ReferenceError> {
    let problem = |problem: String| ReferenceError::Name {
        name: name.to_owned(),
        problem,
    };
    if name.is_empty() {
        return Err(problem("the name is empty".to_owned()));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(problem(format!(
            "repository name must not be more than {MAX_NAME_LENGTH} characters"
        )));
    }
    if name.bytes().any(|byte| byte.is_ascii_uppercase()) {
        return Err(problem("repository name must be lowercase".to_owned()));
    }
    match name
        .split('/')
        .find(|component| !is_path_component(component))
    {
        Some(component) => Err(problem(format!(
            "the component {component:?} must be lowercase letters and digits, joined by one \".\", \"_\" or \"__\" or by dashes, and \"/\" separates components"
        ))),
        None => Ok(()),
    }
}

/// Docker's `path-component`: `[a-z0-9]+` runs joined by `.`, `_`, `__` or dashes.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let is_alphanumeric = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    let mut position = 0;
    loop {
        let run_start = position;
        while position < bytes.len() && is_alphanumeric(bytes[position]) {
            position += 1;
        }
        if position == run_start {
            return false;
        }
        if position == bytes.len() {
            return true;
        }
        position += match &bytes[position..] {
            [b'.', ..] => 1,
            [b'_', b'_', ..] => 2,
            [b'_', ..] => 1,
            [b'-', ..] => bytes[position..]
                .iter()
                .take_while(|byte| **byte == b'-')
                .count(),
            _ => return false,
        };
    }
}

fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let valid = match tag.as_bytes() {
        [first, rest @ ..] => {
            tag.len() <= MAX_TAG_LENGTH
                && is_word(*first)
                && rest
                    .iter()
                    .all(|byte| is_word(*byte) || *byte == b'.' || *byte == b'-')
        }
        [] => false,
    };
    if valid {
        Ok(())
    } else {
        Err(ReferenceError::Tag(tag.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str, tag: &str) -> ImageReference {
        ImageReference {
            name: name.to_owned(),
            tag: tag.to_owned(),
        }
    }

    #[test]
    fn the_tag_is_after_the_last_colon_of_the_last_component() {
        assert_eq!(
            ImageReference::parse("team/tools/hello:v1.2_rc-1"),
            Ok(reference("team/tools/hello", "v1.2_rc-1"))
        );
        assert_eq!(
            ImageReference::parse("hello"),
            Err(ReferenceError::MissingTag("hello".to_owned()))
        );
        assert_eq!(
            ImageReference::parse_with_default_tag("a.b__c/d-e"),
            Ok(reference("a.b__c/d-e", "latest"))
        );
        let with_port = ImageReference::parse_with_default_tag("registry:5000/hello");
        assert!(
            matches!(with_port, Err(ReferenceError::Name { ref problem, .. }) if problem.contains("\"registry:5000\"")),
            "{with_port:?}"
        );
    }

    #[test]
    fn names_follow_dockers_rules() {
        for good in ["a", "a0/b1", "a.b", "a_b", "a__b", "a---b", "x/y/z"] {
            assert!(validate_name(good).is_ok(), "{good} is a valid name");
        }
        for bad in [
            "", "a//b", "/a", "a/", "a..b", "a___b", ".a", "a-", "a b", "é", "a:b",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} is not a valid name");
        }
        let uppercase = validate_name("Hello").err().map(|error| error.to_string());
        assert_eq!(
            uppercase.as_deref(),
            Some("invalid image name \"Hello\": repository name must be lowercase")
        );
        assert!(validate_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn tags_follow_dockers_rules() {
        for good in ["latest", "V1.0", "_x", "1", &"t".repeat(128)] {
            assert!(validate_tag(good).is_ok(), "{good} is a valid tag");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"t".repeat(129)] {
            assert_eq!(
                validate_tag(bad),
                Err(ReferenceError::Tag(bad.to_owned())),
                "{bad:?} is not a valid tag"
            );
        }
    }
}
