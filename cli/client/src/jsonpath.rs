//! kubectl's `-o jsonpath=TEMPLATE`: literal text mixed with `{...}` actions that are
//! JSONPath expressions (`{.metadata.name}`), string literals (`{"\n"}`) or
//! `{range EXPR}...{end}` loops. The path part is evaluated with serde_json_path after
//! translating kubectl's dialect (`.a.b`, `\.` escapes) into RFC 9535 syntax. Missing
//! keys print nothing, as with kubectl's `get` which allows missing keys.

use serde_json::Value;
use serde_json_path::JsonPath;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("error parsing jsonpath {template}, {reason}")]
pub struct JsonPathError {
    pub template: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
enum TemplateNode {
    Text(String),
    Path(String),
    Range {
        path: String,
        body: Vec<TemplateNode>,
    },
}

/// Renders `template` against `data`.
pub fn render_jsonpath(template: &str, data: &Value) -> Result<String, JsonPathError> {
    let error = |reason: String| JsonPathError {
        template: template.to_string(),
        reason,
    };
    let nodes = parse_template(template).map_err(error)?;
    let mut output = String::new();
    execute(&nodes, data, data, &mut output).map_err(error)?;
    Ok(output)
}

fn parse_template(template: &str) -> Result<Vec<TemplateNode>, String> {
    // A stack of open `range` bodies; the bottom entry is the top-level template.
    let mut stack: Vec<(Option<String>, Vec<TemplateNode>)> = vec![(None, Vec::new())];
    let mut rest = template;
    while !rest.is_empty() {
        let Some(open) = rest.find('{') else {
            push_node(&mut stack, TemplateNode::Text(rest.to_string()));
            break;
        };
        if open > 0 {
            push_node(&mut stack, TemplateNode::Text(rest[..open].to_string()));
        }
        let after_open = &rest[open + 1..];
        let close = find_action_end(after_open).ok_or_else(|| "unclosed action".to_string())?;
        let action = after_open[..close].trim();
        rest = &after_open[close + 1..];
        if action == "end" {
            if stack.len() < 2 {
                return Err("not in range, nothing to end".to_string());
            }
            if let Some((Some(path), body)) = stack.pop() {
                push_node(&mut stack, TemplateNode::Range { path, body });
            }
        } else if let Some(range_path) = action.strip_prefix("range ") {
            stack.push((Some(range_path.trim().to_string()), Vec::new()));
        } else if action.starts_with('"') || action.starts_with('\'') {
            push_node(&mut stack, TemplateNode::Text(unquote(action)?));
        } else {
            push_node(&mut stack, TemplateNode::Path(action.to_string()));
        }
    }
    if stack.len() > 1 {
        return Err("unclosed range".to_string());
    }
    Ok(stack.pop().map(|(_, nodes)| nodes).unwrap_or_default())
}

fn push_node(stack: &mut [(Option<String>, Vec<TemplateNode>)], node: TemplateNode) {
    if let Some((_, nodes)) = stack.last_mut() {
        nodes.push(node);
    }
}

/// The index of the `}` that closes an action, skipping braces inside quoted strings.
fn find_action_end(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        match (quote, character) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(open), character) if character == open && !escaped => quote = None,
            (None, '"' | '\'') => quote = Some(character),
            (None, '}') => return Some(index),
            _ => {}
        }
        escaped = false;
    }
    None
}

fn unquote(literal: &str) -> Result<String, String> {
    let quote = literal.chars().next().unwrap_or('"');
    let inner = literal
        .strip_prefix(quote)
        .and_then(|text| text.strip_suffix(quote))
        .ok_or_else(|| format!("unterminated string {literal}"))?;
    let mut text = String::with_capacity(inner.len());
    let mut characters = inner.chars();
    while let Some(character) = characters.next() {
        if character != '\\' {
            text.push(character);
            continue;
        }
        match characters.next() {
            Some('n') => text.push('\n'),
            Some('t') => text.push('\t'),
            Some('r') => text.push('\r'),
            Some(other) => text.push(other),
            None => text.push('\\'),
        }
    }
    Ok(text)
}

fn execute(
    nodes: &[TemplateNode],
    root: &Value,
    current: &Value,
    output: &mut String,
) -> Result<(), String> {
    for node in nodes {
        match node {
            TemplateNode::Text(text) => output.push_str(text),
            TemplateNode::Path(path) => {
                let results = evaluate(path, root, current)?;
                let printed: Vec<String> = results.into_iter().map(print_value).collect();
                output.push_str(&printed.join(" "));
            }
            TemplateNode::Range { path, body } => {
                let results = evaluate(path, root, current)?;
                let elements: Vec<&Value> = match results.as_slice() {
                    [Value::Array(items)] => items.iter().collect(),
                    _ => results,
                };
                for element in elements {
                    execute(body, root, element, output)?;
                }
            }
        }
    }
    Ok(())
}

fn evaluate<'a>(path: &str, root: &'a Value, current: &'a Value) -> Result<Vec<&'a Value>, String> {
    let (base, translated) = match path.strip_prefix('$') {
        Some(from_root) => (root, translate_path(from_root)?),
        None => (
            current,
            translate_path(path.strip_prefix('@').unwrap_or(path))?,
        ),
    };
    let compiled = JsonPath::parse(&translated).map_err(|error| error.to_string())?;
    Ok(compiled.query(base).all())
}

/// Turns kubectl's path dialect into RFC 9535: `.a.b` → `$['a']['b']`, `\.` escapes a dot
/// inside a name, `..name` is recursive descent, brackets are kept as written.
fn translate_path(path: &str) -> Result<String, String> {
    let mut translated = String::from("$");
    let characters: Vec<char> = path.chars().collect();
    let mut index = 0;
    while index < characters.len() {
        match characters[index] {
            '.' if characters.get(index + 1) == Some(&'.') => {
                translated.push_str("..");
                index += 2;
                index = push_member_name(&characters, index, &mut translated, true);
            }
            '.' => {
                index = push_member_name(&characters, index + 1, &mut translated, false);
            }
            '[' => {
                let end = find_bracket_end(&characters, index)
                    .ok_or_else(|| format!("unterminated array in {path}"))?;
                translated.extend(&characters[index..=end]);
                index = end + 1;
            }
            other => return Err(format!("unrecognized character in action: {other}")),
        }
    }
    Ok(translated)
}

/// Reads a member name starting at `start` and appends it; returns the next index.
fn push_member_name(
    characters: &[char],
    start: usize,
    translated: &mut String,
    after_descent: bool,
) -> usize {
    let mut name = String::new();
    let mut index = start;
    while index < characters.len() && characters[index] != '.' && characters[index] != '[' {
        if characters[index] == '\\' && index + 1 < characters.len() {
            index += 1;
        }
        name.push(characters[index]);
        index += 1;
    }
    match name.as_str() {
        "" => {}
        "*" if after_descent => translated.push('*'),
        "*" => translated.push_str("[*]"),
        _ => {
            let escaped = name.replace('\\', "\\\\").replace('\'', "\\'");
            translated.push_str(&format!("['{escaped}']"));
        }
    }
    index
}

fn find_bracket_end(characters: &[char], start: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (index, character) in characters.iter().enumerate().skip(start) {
        match (quote, *character) {
            (Some(open), character) if character == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(*character),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => {}
        }
    }
    None
}

fn print_value(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "jsonpath_tests.rs"]
mod tests;
