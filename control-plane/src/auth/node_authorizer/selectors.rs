//! What a request's field selector guarantees about its answer, read exactly as the API
//! server parses field selectors (`api/selectors.rs`): requirements split on commas
//! outside parentheses, each `field!=value`, `field==value` or `field=value`, trimmed, and
//! all of them must hold. An equality requirement therefore bounds every object a list
//! or watch can return; an unparsable selector is refused by the API server after
//! authorization, so it cannot widen an answer.

/// The values `field` is required to equal; with more than one, nothing can match.
pub fn required_values<'a>(selector: Option<&'a str>, field: &str) -> Vec<&'a str> {
    let Some(selector) = selector else {
        return Vec::new();
    };
    requirements(selector)
        .filter(|part| !part.contains("!="))
        .filter_map(|part| part.split_once("==").or_else(|| part.split_once('=')))
        .filter(|(name, _)| name.trim() == field)
        .map(|(_, value)| value.trim())
        .collect()
}

/// Whether the selector requires `field` to equal `value`.
pub fn requires(selector: Option<&str>, field: &str, value: &str) -> bool {
    required_values(selector, field).contains(&value)
}

/// The selector's requirements: split on commas that are not inside parentheses.
fn requirements(selector: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (index, character) in selector.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&selector[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&selector[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|part| !part.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_requirements_bind_and_others_do_not() {
        let selector = Some("spec.nodeName=n1,status.phase!=Failed");
        assert!(requires(selector, "spec.nodeName", "n1"));
        assert!(!requires(selector, "spec.nodeName", "n2"));
        assert!(!requires(selector, "status.phase", "Failed"));
        assert!(requires(
            Some(" spec.nodeName == n1 "),
            "spec.nodeName",
            "n1"
        ));
        assert!(!requires(Some("spec.nodeName!=n1"), "spec.nodeName", "n1"));
        assert!(!requires(None, "spec.nodeName", "n1"));
        assert!(!requires(Some(""), "spec.nodeName", ""));
    }

    #[test]
    fn selectors_that_only_look_alike_do_not_bind() {
        // A value with a comma inside parentheses is one requirement whose value
        // no node is named.
        assert!(!requires(
            Some("spec.nodeName=(n1,x)"),
            "spec.nodeName",
            "n1"
        ));
        assert!(!requires(Some("metadata.name=n1"), "spec.nodeName", "n1"));
        assert!(!requires(Some("spec.nodeNameX=n1"), "spec.nodeName", "n1"));
        assert_eq!(
            required_values(Some("metadata.name=a,metadata.name=b"), "metadata.name"),
            ["a", "b"]
        );
    }
}
