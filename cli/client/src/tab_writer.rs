//! Column alignment that behaves like Go's `text/tabwriter`, which kubectl uses for
//! both tables (padding 3) and describe output (padding 2).
//!
//! Each line is split into cells at tab characters. Every cell except the last one of a
//! line is "terminated" and takes part in alignment; the last cell is printed as is.
//! A column block is a run of consecutive lines that all have a terminated cell in that
//! column, exactly as in Go, so a line without tabs ends the alignment of the lines above.

/// Aligns the tab-separated `text` and returns it with spaces instead of tabs.
pub fn align_columns(text: &str, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text
        .split('\n')
        .map(|line| line.split('\t').collect())
        .collect();
    let mut widths: Vec<Vec<usize>> = lines.iter().map(|cells| vec![0; cells.len()]).collect();
    assign_column_widths(&lines, &mut widths, 0, 0, lines.len(), padding);

    let mut aligned = String::with_capacity(text.len());
    for (line_index, cells) in lines.iter().enumerate() {
        if line_index > 0 {
            aligned.push('\n');
        }
        let last_cell_index = cells.len() - 1;
        for (cell_index, cell) in cells.iter().enumerate() {
            aligned.push_str(cell);
            if cell_index < last_cell_index {
                let cell_width = cell.chars().count();
                let column_width = widths[line_index][cell_index];
                aligned.extend(std::iter::repeat_n(
                    ' ',
                    column_width.saturating_sub(cell_width),
                ));
            }
        }
    }
    aligned
}

/// Finds the column blocks for `column` within lines `start..end` and records each
/// block's width (widest cell plus padding), then recurses into the next column.
fn assign_column_widths(
    lines: &[Vec<&str>],
    widths: &mut [Vec<usize>],
    column: usize,
    start: usize,
    end: usize,
    padding: usize,
) {
    let has_terminated_cell = |line: usize| lines[line].len() > column + 1;
    let mut line = start;
    while line < end {
        if !has_terminated_cell(line) {
            line += 1;
            continue;
        }
        let block_start = line;
        let mut block_width = 0;
        while line < end && has_terminated_cell(line) {
            block_width = block_width.max(lines[line][column].chars().count() + padding);
            line += 1;
        }
        for row in widths.iter_mut().take(line).skip(block_start) {
            row[column] = block_width;
        }
        assign_column_widths(lines, widths, column + 1, block_start, line, padding);
    }
}

#[cfg(test)]
mod tests {
    use super::align_columns;

    #[test]
    fn pads_every_column_but_the_last_to_the_widest_cell_plus_padding() {
        let text = "NAME\tREADY\tSTATUS\nweb-1\t1/1\tRunning\nx\t0/1\tPending";
        assert_eq!(
            align_columns(text, 3),
            "NAME    READY   STATUS\nweb-1   1/1     Running\nx       0/1     Pending"
        );
    }

    #[test]
    fn a_line_without_tabs_ends_the_column_block_like_go_tabwriter() {
        let text = "Name:\tfoo\nNamespace:\tdefault\nContainers:\n  a:\tb";
        assert_eq!(
            align_columns(text, 2),
            "Name:       foo\nNamespace:  default\nContainers:\n  a:  b"
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert_eq!(align_columns("é\tx\nab\ty", 1), "é  x\nab y");
    }
}
