//! Printing a server-rendered `meta.k8s.io/v1 Table` the way kubectl's human-readable
//! printer does: upper-case headers, columns separated by at least three spaces,
//! priority > 0 columns only with `-o wide`, an optional NAMESPACE column first.

use serde_json::Value;

use crate::tab_writer::align_columns;

/// How to print a table.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    /// `-o wide`: include columns whose priority is above 0.
    pub wide: bool,
    /// `-A`: start every row with the object's namespace.
    pub namespace_column: bool,
    /// When several resource types are printed, names are prefixed with `kind.group/`.
    pub kind_prefix: Option<String>,
    /// False for watch events after the first batch, which print rows only.
    pub headers: bool,
}

/// The number of rows in a Table.
pub fn row_count(table: &Value) -> usize {
    table
        .get("rows")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// Renders the table (header and rows) as aligned text ending in a newline; empty when
/// the table has no rows.
pub fn render_table(table: &Value, options: &TableOptions) -> String {
    let lines = table_lines(table, options);
    if lines.is_empty() {
        return String::new();
    }
    let mut text = align_columns(&lines.join("\n"), 3);
    text.push('\n');
    text
}

/// The tab-separated lines of the table, before alignment.
pub fn table_lines(table: &Value, options: &TableOptions) -> Vec<String> {
    let empty = Vec::new();
    let columns = table
        .get("columnDefinitions")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let rows = table
        .get("rows")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    if rows.is_empty() {
        return Vec::new();
    }
    let visible: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(_, column)| {
            options.wide || column.get("priority").and_then(Value::as_i64).unwrap_or(0) == 0
        })
        .map(|(index, _)| index)
        .collect();
    let name_column = columns
        .iter()
        .position(|column| column.get("format").and_then(Value::as_str) == Some("name"))
        .unwrap_or(0);

    let mut lines = Vec::with_capacity(rows.len() + 1);
    if options.headers {
        let mut header: Vec<String> = Vec::new();
        if options.namespace_column {
            header.push("NAMESPACE".to_string());
        }
        header.extend(visible.iter().map(|index| {
            columns[*index]
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_uppercase()
        }));
        lines.push(header.join("\t"));
    }
    for row in rows {
        let cells = row.get("cells").and_then(Value::as_array).unwrap_or(&empty);
        let mut printed: Vec<String> = Vec::new();
        if options.namespace_column {
            let namespace = row
                .pointer("/object/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default();
            printed.push(namespace.to_string());
        }
        for index in &visible {
            let mut cell = cells.get(*index).map(format_cell).unwrap_or_default();
            if let (true, Some(prefix)) = (*index == name_column, &options.kind_prefix) {
                cell = format!("{prefix}/{cell}");
            }
            printed.push(cell);
        }
        lines.push(printed.join("\t"));
    }
    lines
}

/// Strings print as they are, cut at the first line break with "..." like kubectl;
/// numbers and booleans as JSON; null as `<none>`.
fn format_cell(cell: &Value) -> String {
    match cell {
        Value::String(text) => match text.find(['\n', '\r', '\x0c']) {
            Some(cut) => format!("{}...", &text[..cut]),
            None => text.clone(),
        },
        Value::Null => "<none>".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod_table() -> Value {
        json!({
            "kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "columnDefinitions": [
                {"name": "Name", "type": "string", "format": "name", "priority": 0},
                {"name": "Ready", "type": "string", "format": "", "priority": 0},
                {"name": "Status", "type": "string", "format": "", "priority": 0},
                {"name": "Restarts", "type": "string", "format": "", "priority": 0},
                {"name": "Age", "type": "string", "format": "", "priority": 0},
                {"name": "IP", "type": "string", "format": "", "priority": 1},
                {"name": "Nominated Node", "type": "string", "format": "", "priority": 1}
            ],
            "rows": [
                {"cells": ["web-7d4b9", "1/1", "Running", 0, "5m", "10.0.0.12", null],
                 "object": {"metadata": {"name": "web-7d4b9", "namespace": "default"}}},
                {"cells": ["db-0", "0/1", "Pending", 12, "3h", "<none>", null],
                 "object": {"metadata": {"name": "db-0", "namespace": "kube-system"}}}
            ]
        })
    }

    #[test]
    fn the_default_table_hides_priority_columns() {
        let options = TableOptions {
            headers: true,
            ..TableOptions::default()
        };
        assert_eq!(
            render_table(&pod_table(), &options),
            "NAME        READY   STATUS    RESTARTS   AGE\n\
             web-7d4b9   1/1     Running   0          5m\n\
             db-0        0/1     Pending   12         3h\n"
        );
    }

    #[test]
    fn wide_output_adds_priority_columns_and_all_namespaces_adds_a_namespace_column() {
        let options = TableOptions {
            wide: true,
            namespace_column: true,
            headers: true,
            kind_prefix: None,
        };
        assert_eq!(
            render_table(&pod_table(), &options),
            "NAMESPACE     NAME        READY   STATUS    RESTARTS   AGE   IP          NOMINATED NODE\n\
             default       web-7d4b9   1/1     Running   0          5m    10.0.0.12   <none>\n\
             kube-system   db-0        0/1     Pending   12         3h    <none>      <none>\n"
        );
    }

    #[test]
    fn a_kind_prefix_goes_on_the_name_column_and_rows_can_print_without_headers() {
        let options = TableOptions {
            kind_prefix: Some("pod".to_string()),
            ..TableOptions::default()
        };
        assert_eq!(
            table_lines(&pod_table(), &options),
            vec![
                "pod/web-7d4b9\t1/1\tRunning\t0\t5m",
                "pod/db-0\t0/1\tPending\t12\t3h"
            ]
        );
    }

    #[test]
    fn an_empty_or_malformed_table_renders_nothing() {
        let options = TableOptions {
            headers: true,
            ..TableOptions::default()
        };
        assert_eq!(
            render_table(&json!({"columnDefinitions": [], "rows": []}), &options),
            ""
        );
        assert_eq!(render_table(&json!("not a table"), &options), "");
        assert_eq!(row_count(&pod_table()), 2);
    }

    #[test]
    fn multi_line_cells_are_cut_like_kubectl() {
        assert_eq!(format_cell(&json!("first line\nsecond")), "first line...");
        assert_eq!(format_cell(&json!(true)), "true");
    }
}
