//! Text building blocks of kubectl's describe output: indented `Label:\tvalue` lines
//! aligned with a padding of two, label/annotation blocks, ages and timestamps.

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::apply_patch::LAST_APPLIED_ANNOTATION;
use crate::tab_writer::align_columns;

/// Collects describe lines; `finish` aligns them like kubectl's tabwriter.
#[derive(Debug, Default)]
pub struct DescribeWriter {
    text: String,
}

impl DescribeWriter {
    /// A line indented by `level` steps of two spaces; tabs inside separate columns.
    pub fn line(&mut self, level: usize, text: &str) {
        for _ in 0..level {
            self.text.push_str("  ");
        }
        self.text.push_str(text);
        self.text.push('\n');
    }

    /// `Label:\tvalue`, with `<none>` for an empty value.
    pub fn field(&mut self, level: usize, label: &str, value: &str) {
        let value = if value.is_empty() { "<none>" } else { value };
        self.line(level, &format!("{label}:\t{value}"));
    }

    /// A map printed as `Label:\tk=v` then `\tk=v` lines, sorted, `<none>` when empty.
    /// The last-applied annotation is left out, as kubectl does.
    pub fn string_map(&mut self, level: usize, label: &str, map: Option<&Value>) {
        let mut entries: Vec<(&String, String)> = map
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .filter(|(key, _)| key.as_str() != LAST_APPLIED_ANNOTATION)
                    .map(|(key, value)| (key, scalar_text(value)))
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        if entries.is_empty() {
            self.field(level, label, "<none>");
            return;
        }
        for (index, (key, value)) in entries.iter().enumerate() {
            let label_cell = if index == 0 {
                format!("{label}:")
            } else {
                String::new()
            };
            self.line(level, &format!("{label_cell}\t{key}={value}"));
        }
    }

    pub fn blank(&mut self) {
        self.text.push('\n');
    }

    pub fn finish(self) -> String {
        align_columns(&self.text, 2)
    }
}

/// A JSON value as describe prints it: strings bare, null empty, others as JSON.
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The string at a JSON pointer, empty when absent.
pub fn text_at(object: &Value, pointer: &str) -> String {
    object.pointer(pointer).map(scalar_text).unwrap_or_default()
}

/// kubectl's `HumanDuration`: `45s`, `3m20s`, `25m`, `5h10m`, `20h`, `3d4h`, `90d`, `3y12d`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let rest = seconds % 60;
        return if rest == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{rest}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let rest = minutes % 60;
        return if rest == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{rest}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let rest = hours % 24;
        let days = hours / 24;
        return if rest == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{rest}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    let years = hours / 24 / 365;
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{days}d")
        };
    }
    format!("{years}y")
}

/// The age of an RFC 3339 timestamp relative to `now`, or `<unknown>`.
pub fn age_since(timestamp: &str, now: Timestamp) -> String {
    match timestamp.parse::<Timestamp>() {
        Ok(then) => human_duration(now.as_second() - then.as_second()),
        Err(_) => "<unknown>".to_string(),
    }
}

/// An RFC 3339 timestamp in kubectl's describe form (`Mon, 02 Jan 2006 15:04:05 +0000`).
pub fn describe_time(timestamp: &str) -> String {
    match timestamp.parse::<Timestamp>() {
        Ok(then) => then.strftime("%a, %d %b %Y %H:%M:%S %z").to_string(),
        Err(_) => timestamp.to_string(),
    }
}

/// Upper-cases the first letter of a field name for the generic describer (`replicas` → `Replicas`).
pub fn field_title(name: &str) -> String {
    let mut characters = name.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// Prints any JSON map the way kubectl's generic describer does: titled keys, nested
/// maps indented, list items each starting with their own block.
pub fn generic_fields(writer: &mut DescribeWriter, level: usize, map: &Map<String, Value>) {
    for (key, value) in map {
        let title = field_title(key);
        match value {
            Value::Object(child) if !child.is_empty() => {
                writer.line(level, &format!("{title}:"));
                generic_fields(writer, level + 1, child);
            }
            Value::Array(items) if !items.is_empty() => {
                writer.line(level, &format!("{title}:"));
                for item in items {
                    match item {
                        Value::Object(child) => generic_fields(writer, level + 1, child),
                        scalar => writer.line(level + 1, &scalar_text(scalar)),
                    }
                }
            }
            Value::Object(_) | Value::Array(_) => writer.field(level, &title, ""),
            scalar => writer.field(level, &title, &scalar_text(scalar)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn human_durations_match_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (45, "45s"),
            (119, "119s"),
            (200, "3m20s"),
            (300, "5m"),
            (25 * 60, "25m"),
            (5 * 3600 + 600, "5h10m"),
            (20 * 3600, "20h"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (90 * 86400, "90d"),
            (3 * 365 * 86400 + 12 * 86400, "3y12d"),
            (10 * 365 * 86400, "10y"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(human_duration(seconds), expected, "{seconds}");
        }
    }

    #[test]
    fn fields_and_maps_align_with_two_spaces_and_skip_last_applied() {
        let mut writer = DescribeWriter::default();
        writer.field(0, "Name", "web");
        writer.field(0, "Namespace", "default");
        let labels = json!({"tier": "front", "app": "web"});
        writer.string_map(0, "Labels", Some(&labels));
        let annotations = json!({LAST_APPLIED_ANNOTATION: "{}"});
        writer.string_map(0, "Annotations", Some(&annotations));
        assert_eq!(
            writer.finish(),
            "Name:         web\nNamespace:    default\nLabels:       app=web\n              tier=front\nAnnotations:  <none>\n"
        );
    }

    #[test]
    fn timestamps_print_in_describe_form_and_age() {
        assert_eq!(
            describe_time("2024-03-05T07:08:09Z"),
            "Tue, 05 Mar 2024 07:08:09 +0000"
        );
        let now: Timestamp = "2024-03-05T07:10:09Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(age_since("2024-03-05T07:08:09Z", now), "2m");
        assert_eq!(age_since("garbage", now), "<unknown>");
    }

    #[test]
    fn the_generic_describer_titles_and_nests_fields() {
        let mut writer = DescribeWriter::default();
        let spec = json!({"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "ports": [{"port": 80}], "empty": {}});
        generic_fields(&mut writer, 0, spec.as_object().unwrap_or(&Map::new()));
        assert_eq!(
            writer.finish(),
            "Empty:  <none>\nPorts:\n  Port:    80\nReplicas:  2\nSelector:\n  MatchLabels:\n    App:  web\n"
        );
    }
}
