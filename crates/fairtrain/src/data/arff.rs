//! ARFF files (Weka's attribute-relation format, common for fairness data
//! sets): a header declaring each attribute's name and type, then
//! comma-separated data rows.
//!
//! Nominal attributes are checked against their declared values, so a file
//! whose header disagrees with its data (a known defect of some published
//! copies) is refused with the line and value rather than loaded wrongly.
//! Sparse rows (`{index value, ...}`) are not supported and say so.
//!
//! ```
//! use fairtrain::data::arff::read_arff;
//! let text = "@relation r\n@attribute x numeric\n@attribute y {no,yes}\n@data\n1.5,yes\n2,no\n";
//! let arff = read_arff(text.as_bytes(), "r.arff").unwrap();
//! assert_eq!(arff.table.names, ["x", "y"]);
//! assert_eq!(arff.nominal, ["y"]);
//! ```

use std::io::{BufRead, BufReader, Read};

use super::table::RawTable;
use crate::error::{Error, Result};

/// A parsed ARFF file.
#[derive(Debug, Clone)]
pub struct Arff {
    /// The cells, one column per attribute.
    pub table: RawTable,
    /// Attributes declared nominal (categorical even when their values are numbers).
    pub nominal: Vec<String>,
    /// Attributes declared numeric (a non-number is an error).
    pub numeric: Vec<String>,
}

#[derive(Debug, Clone)]
enum AttrType {
    Numeric,
    Nominal(Vec<String>),
    Text,
}

/// Reads an ARFF file; errors name the file and line.
pub fn read_arff(reader: impl Read, source: &str) -> Result<Arff> {
    let parse_err = |line: u64, message: String| Error::Parse { source_name: source.to_string(), line, message };
    let mut attrs: Vec<(String, AttrType)> = Vec::new();
    let mut table: Option<RawTable> = None;
    let mut in_data = false;
    let mut line_no = 0u64;
    let mut fields: Vec<String> = Vec::new();
    for line in BufReader::new(reader).lines() {
        line_no += 1;
        let line = line.map_err(|e| parse_err(line_no, format!("cannot read the line: {e}")))?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('%') {
            continue;
        }
        if !in_data {
            let lower = text.to_ascii_lowercase();
            if lower.starts_with("@relation") {
                continue;
            } else if lower.starts_with("@attribute") {
                let rest = text["@attribute".len()..].trim();
                let (name, ty) =
                    split_name(rest).ok_or_else(|| parse_err(line_no, "attribute without a type".into()))?;
                let ty_lower = ty.to_ascii_lowercase();
                let ty = if ty.starts_with('{') {
                    let inner = ty.strip_prefix('{').and_then(|t| t.strip_suffix('}')).ok_or_else(|| {
                        parse_err(line_no, format!("nominal values of '{name}' lack a closing brace"))
                    })?;
                    AttrType::Nominal(split_fields(inner).into_iter().map(|v| v.trim().to_string()).collect())
                } else if ["numeric", "real", "integer"].contains(&ty_lower.as_str()) {
                    AttrType::Numeric
                } else if ty_lower == "string" || ty_lower.starts_with("date") {
                    AttrType::Text
                } else {
                    return Err(parse_err(line_no, format!("unknown type '{ty}' of attribute '{name}'")));
                };
                if attrs.iter().any(|(n, _)| *n == name) {
                    return Err(parse_err(line_no, format!("attribute '{name}' is declared twice")));
                }
                attrs.push((name, ty));
            } else if lower.starts_with("@data") {
                if attrs.is_empty() {
                    return Err(parse_err(line_no, "@data before any @attribute".into()));
                }
                table = Some(RawTable::with_names(source, attrs.iter().map(|(n, _)| n.clone()).collect()));
                in_data = true;
            } else {
                return Err(parse_err(line_no, format!("expected @relation, @attribute or @data, found '{text}'")));
            }
            continue;
        }
        if text.starts_with('{') {
            return Err(parse_err(line_no, "sparse ARFF rows are not supported; write the rows densely".into()));
        }
        fields.clear();
        fields.extend(split_fields(text));
        if fields.len() != attrs.len() {
            return Err(parse_err(line_no, format!("expected {} values, found {}", attrs.len(), fields.len())));
        }
        for (value, (name, ty)) in fields.iter_mut().zip(&attrs) {
            let v = value.trim();
            if v == "?" {
                continue;
            }
            match ty {
                AttrType::Nominal(allowed) if !allowed.iter().any(|a| a == v) => {
                    return Err(parse_err(
                        line_no,
                        format!(
                            "value '{v}' of attribute '{name}' is not among its declared values {{{}}}",
                            allowed.join(",")
                        ),
                    ));
                }
                AttrType::Numeric if v.parse::<f64>().is_err() => {
                    return Err(parse_err(
                        line_no,
                        format!("value '{v}' of numeric attribute '{name}' is not a number"),
                    ));
                }
                _ => {}
            }
        }
        let table = table.as_mut().expect("set at @data");
        table.push_row(line_no, fields.iter().map(String::as_str));
    }
    let table = table.ok_or_else(|| Error::Data(format!("{source}: no @data section (is this an ARFF file?)")))?;
    let of = |keep: fn(&AttrType) -> bool| attrs.iter().filter(|(_, t)| keep(t)).map(|(n, _)| n.clone()).collect();
    Ok(Arff {
        nominal: of(|t| matches!(t, AttrType::Nominal(_))),
        numeric: of(|t| matches!(t, AttrType::Numeric)),
        table,
    })
}

/// Splits `name type` where the name may be quoted.
fn split_name(rest: &str) -> Option<(String, &str)> {
    let rest = rest.trim();
    if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let end = rest[1..].find(q)? + 1;
        Some((rest[1..end].to_string(), rest[end + 1..].trim()))
    } else {
        let end = rest.find(char::is_whitespace)?;
        Some((rest[..end].to_string(), rest[end..].trim()))
    }
}

/// Splits a comma-separated line, honouring single and double quotes.
fn split_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') if cur.trim().is_empty() => {
                cur.clear();
                quote = Some(c);
            }
            (None, ',') => out.push(std::mem::take(&mut cur).trim().to_string()),
            (None, c) => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_types_quotes_comments_and_missing() {
        let text = "% comment\n@RELATION 'credit'\n@attribute 'the age' real\n@attribute sex {male, female}\n\
                    @attribute note string\n@attribute tier {1,2}\n\n@DATA\n% rows\n30,male,'a, b',1\n?,female,\"x\",2\n";
        let a = read_arff(text.as_bytes(), "c.arff").unwrap();
        assert_eq!(a.table.names, ["the age", "sex", "note", "tier"]);
        assert_eq!(a.nominal, ["sex", "tier"]);
        assert_eq!(a.numeric, ["the age"]);
        assert_eq!(a.table.n_rows(), 2);
        assert_eq!(a.table.columns[2].text(0).as_deref(), Some("a, b"));
        assert_eq!(a.table.columns[0].text(1), None);
        assert_eq!(a.table.lines, [10, 11]);
    }

    #[test]
    fn malformed_files_name_the_line() {
        let undeclared = "@relation r\n@attribute tier {0,1}\n@data\n1\n3\n";
        let err = read_arff(undeclared.as_bytes(), "law.arff").unwrap_err().to_string();
        assert_eq!(err, "law.arff, line 5: value '3' of attribute 'tier' is not among its declared values {0,1}");
        let short = "@relation r\n@attribute a numeric\n@attribute b numeric\n@data\n1,2\n3\n";
        let err = read_arff(short.as_bytes(), "s.arff").unwrap_err().to_string();
        assert_eq!(err, "s.arff, line 6: expected 2 values, found 1");
        let not_number = "@relation r\n@attribute a numeric\n@data\nx\n";
        let err = read_arff(not_number.as_bytes(), "n.arff").unwrap_err().to_string();
        assert_eq!(err, "n.arff, line 4: value 'x' of numeric attribute 'a' is not a number");
        let sparse = "@relation r\n@attribute a numeric\n@data\n{0 1}\n";
        assert!(read_arff(sparse.as_bytes(), "p.arff").unwrap_err().to_string().contains("sparse ARFF"));
        let no_data = "@relation r\n@attribute a numeric\n";
        assert!(read_arff(no_data.as_bytes(), "d.arff").unwrap_err().to_string().contains("no @data section"));
        let bad_type = "@relation r\n@attribute a blob\n@data\n";
        assert!(read_arff(bad_type.as_bytes(), "t.arff").unwrap_err().to_string().contains("unknown type 'blob'"));
    }
}
