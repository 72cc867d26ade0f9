//! A table of text stored column by column: the bundled LiteLLM layer (`data/litellm-prices.tsv`)
//! is compiled in this way (deflate finds a column's repeats, the keys beside keys and prices
//! beside prices, better than across rows: 48 KB deflated instead of 56 KB). `crates/core/build.rs`
//! includes this file to write the columns; `pricing::bundled` turns them back into the rows.
//!
//! Rows are `\t`-separated fields on `\n`-ended lines, every row as wide as the first; `#` lines
//! before the first row are kept as they are, ahead of a `#columns <rows> <width>` line and the
//! columns' fields, one a line, the first column's first.

/// The columns of `text`, or `None` when it is not such a table (a `#` line after a row, rows
/// of different widths): then it is stored as it is.
pub fn to_columns(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rows: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            if !rows.is_empty() {
                return None;
            }
            out.push_str(line);
            out.push('\n');
        } else {
            rows.push(line.split('\t').collect());
        }
    }
    let width = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|row| row.len() != width) {
        return None;
    }
    out.push_str(&format!("#columns {} {width}\n", rows.len()));
    for column in 0..width {
        for row in &rows {
            out.push_str(row[column]);
            out.push('\n');
        }
    }
    Some(out)
}

/// The rows of a text written by [`to_columns`]; any other text as it is.
pub fn from_columns(text: String) -> String {
    let Some((head, columns)) = split_marker(&text) else {
        return text;
    };
    let Some((rows, width, fields)) = shape(head.1, columns) else {
        return text;
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(head.0);
    for row in 0..rows {
        for column in 0..width {
            if column > 0 {
                out.push('\t');
            }
            out.push_str(fields[column * rows + row]);
        }
        out.push('\n');
    }
    out
}

/// `((the lines before the marker, the marker's numbers), the text after the marker line)`.
fn split_marker(text: &str) -> Option<((&str, &str), &str)> {
    let at = if text.starts_with("#columns ") {
        0
    } else {
        text.find("\n#columns ")? + 1
    };
    let (line, columns) = text[at..].split_once('\n')?;
    Some(((&text[..at], line.strip_prefix("#columns ")?), columns))
}

/// The number of rows and columns the marker gives, and the fields, if there are that many.
fn shape<'a>(numbers: &str, columns: &'a str) -> Option<(usize, usize, Vec<&'a str>)> {
    let (rows, width) = numbers.split_once(' ')?;
    let (rows, width): (usize, usize) = (rows.parse().ok()?, width.parse().ok()?);
    let fields: Vec<&str> = columns.lines().collect();
    (fields.len() == rows.checked_mul(width)?).then_some((rows, width, fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_comes_back_from_its_columns_as_it_was() {
        let text = "# a comment\n# another\na\tb\tc\nd\t\tf\ng\th\ti\n";
        let columns = to_columns(text).unwrap();
        assert_eq!(
            columns,
            "# a comment\n# another\n#columns 3 3\na\nd\ng\nb\n\nh\nc\nf\ni\n"
        );
        assert_eq!(from_columns(columns), text);
    }

    #[test]
    fn the_bundled_price_file_comes_back_from_its_columns_byte_for_byte() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/litellm-prices.tsv"
        ))
        .unwrap();
        let columns = to_columns(&text).unwrap();
        assert_ne!(columns, text);
        assert_eq!(from_columns(columns), text);
    }

    #[test]
    fn text_that_is_not_a_table_of_columns_stays_as_it_is() {
        assert_eq!(to_columns("a\tb\n# late comment\n"), None);
        assert_eq!(to_columns("a\tb\nc\n"), None);
        for text in [
            "plain text\n",
            "#columns 2 2\na\nb\nc\n",
            "#columns x 1\na\n",
            "#columns 1\na\n",
            "",
        ] {
            assert_eq!(from_columns(text.to_string()), text);
        }
    }
}
