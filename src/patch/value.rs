//! Values between the tree and JSON: what Kubernetes reads from a node (for `test`, and for
//! the value `move` and `copy` take), and the text a new value is written as.
//!
//! Reading follows go-yaml v2, which Kubernetes reads manifests with, through sigs.k8s.io/yaml's
//! conversion to JSON: a plain scalar is `null`, a boolean (`yes`, `off`, `Y`), an integer
//! (`0644` is octal, `0x1f`, `1_000`), a float, or a string; quoted and block scalars are
//! strings; floats come out as Go's JSON encoder prints them (`1.0` is `1`).
//!
//! Writing is flow style on one line, each string plain only when YAML 1.1 and 1.2 both read it
//! back as that string (`crate::quoting`), else double-quoted; JSON in a JSON document.

use serde_json::{Map, Number, Value};

use crate::quoting::{double_quoted, new_scalar};
use crate::tree::{Kind, NodeId, ScalarStyle, Tag, Tree};

/// The JSON value Kubernetes reads from `node`; the error says what cannot be read.
pub fn json(tree: &Tree<'_>, node: NodeId) -> Result<Value, String> {
    let node = tree.resolve(node);
    let n = tree.node(node);
    match &n.kind {
        Kind::Alias { .. } => Err("an alias to an unknown anchor".to_string()),
        Kind::Seq { items, .. } => items.iter().map(|i| json(tree, *i)).collect(),
        Kind::Map { .. } => {
            let mut object = Map::new();
            for (key, value) in tree.fields(node).iter() {
                object.insert(key_text(tree, *key)?, json(tree, *value)?);
            }
            Ok(Value::Object(object))
        }
        Kind::Scalar { value, style } => scalar(value, *style, n.tag),
    }
}

/// A mapping key as the JSON member name sigs.k8s.io/yaml makes of it.
fn key_text(tree: &Tree<'_>, key: NodeId) -> Result<String, String> {
    match json(tree, key)? {
        Value::String(s) => Ok(s),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        other => Err(format!(
            "a mapping key that is not a string or an integer (`{other}`)"
        )),
    }
}

/// A scalar as go-yaml v2 resolves it.
pub fn scalar(text: &str, style: ScalarStyle, tag: Tag) -> Result<Value, String> {
    match tag {
        Tag::Str | Tag::Binary => return Ok(Value::String(text.to_string())),
        Tag::Null => return Ok(Value::Null),
        Tag::Other | Tag::Merge => {
            return Err("a scalar with an explicit tag, which this reading does not resolve".into())
        }
        Tag::NonSpecific => return plain(text),
        Tag::None => {}
    }
    match style {
        ScalarStyle::Plain => plain(text),
        _ => Ok(Value::String(text.to_string())),
    }
}

/// An untagged plain scalar, resolved as go-yaml v2's `resolve` does.
fn plain(text: &str) -> Result<Value, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Ok(Value::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Ok(Value::Bool(false))
        }
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => {
            return Err(format!(
                "`{text}`, which JSON (and so Kubernetes) cannot hold"
            ))
        }
        _ => {}
    }
    let Some(first) = text.chars().next() else {
        return Ok(Value::Null);
    };
    if first == '.' {
        return Ok(go_float(text).map_or_else(|| Value::String(text.to_string()), float_value));
    }
    if !(first.is_ascii_digit() || first == '+' || first == '-') {
        return Ok(Value::String(text.to_string()));
    }
    let digits = text.replace('_', "");
    if let Some(int) = go_parse_int(&digits) {
        if let Ok(i) = i64::try_from(int) {
            return Ok(Value::from(i));
        }
        if let Ok(u) = u64::try_from(int) {
            if !digits.starts_with(['+', '-']) {
                return Ok(Value::from(u));
            }
        }
    }
    if is_yaml_float(&digits) {
        if let Some(f) = go_float(&digits) {
            return Ok(float_value(f));
        }
    }
    Ok(Value::String(text.to_string()))
}

/// Go's `strconv.ParseInt(text, 0, 64)` widened: a sign, then `0x`, `0o`, `0b` or a leading
/// `0` (octal) or decimal digits. `None` when it is not an integer or beyond 128 bits.
fn go_parse_int(text: &str) -> Option<i128> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let lower = rest.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower.get(1..).unwrap_or_default())
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// go-yaml v2's `yamlStyleFloat`: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (body.get(..i).unwrap_or_default(), body.get(i + 1..)),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// Go's `strconv.ParseFloat` for the forms that reach it here; `None` when out of range.
fn go_float(text: &str) -> Option<f64> {
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
    if !digits(text) {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A float as Go's JSON encoder prints it and JSON reads it back: integral values under 1e21
/// without a fraction (so they read as integers), others in the shortest form.
fn float_value(f: f64) -> Value {
    let text = if f.abs() < 1e21 && (f.abs() >= 1e-6 || f == 0.0) {
        format!("{f}")
    } else {
        format!("{f:e}")
    };
    serde_json::from_str::<Number>(&text)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// `value` as new text in a document: flow YAML, or JSON when the document is JSON.
pub fn text(value: &Value, json: bool) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if json => double_quoted(s),
        Value::String(s) => new_scalar(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| text(i, json)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|(k, v)| {
                    let key = if json {
                        double_quoted(k)
                    } else {
                        new_scalar(k)
                    };
                    format!("{key}: {}", text(v, json))
                })
                .collect();
            format!("{{{}}}", members.join(", "))
        }
    }
}

/// Whether two values are equal as `test` compares them: numbers by value, so `1` and `1.0`
/// (which Go prints alike) are one.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_scalars_read_as_go_yaml_v2_reads_them() {
        let cases = [
            ("0644", json!(420)),
            ("0x1f", json!(31)),
            ("0o17", json!(15)),
            ("0b101", json!(5)),
            ("1_000", json!(1000)),
            ("-12", json!(-12)),
            ("+12", json!(12)),
            ("09", json!(9)),
            ("1.0", json!(1)),
            ("1.5", json!(1.5)),
            (".5", json!(0.5)),
            ("1e3", json!(1000)),
            ("1e400", json!("1e400")),
            ("18446744073709551615", json!(18446744073709551615u64)),
            ("yes", json!(true)),
            ("Off", json!(false)),
            ("~", json!(null)),
            ("", json!(null)),
            ("2001-12-14", json!("2001-12-14")),
            ("1:20", json!("1:20")),
            ("nginx", json!("nginx")),
            ("-", json!("-")),
            ("0x", json!("0x")),
        ];
        for (text, expected) in cases {
            assert_eq!(
                scalar(text, ScalarStyle::Plain, Tag::None).unwrap(),
                expected,
                "{text}"
            );
        }
        assert_eq!(
            scalar("0644", ScalarStyle::DoubleQuoted, Tag::None).unwrap(),
            json!("0644")
        );
        assert_eq!(
            scalar("0644", ScalarStyle::DoubleQuoted, Tag::NonSpecific).unwrap(),
            json!(420)
        );
        assert!(scalar(".inf", ScalarStyle::Plain, Tag::None).is_err());
    }

    #[test]
    fn new_text_means_one_thing_in_yaml_1_1_and_1_2() {
        // `n` is false in YAML 1.1, so as a key it is quoted too.
        let value = json!({"key": "dedicated", "operator": "Exists", "n": [1, 1.5, true, null, "yes", "0644", ""]});
        assert_eq!(
            text(&value, false),
            r#"{key: dedicated, "n": [1, 1.5, true, null, "yes", "0644", ""], operator: Exists}"#
        );
        assert_eq!(
            text(&json!({"a b": "x\u{2028}"}), true),
            r#"{"a b": "x\u2028"}"#
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(equal(&json!({"a": [1]}), &json!({"a": [1.0]})));
        assert!(!equal(&json!(1), &json!("1")));
    }
}
