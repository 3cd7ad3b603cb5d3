//! How reimage writes a string into YAML: as a plain scalar only when YAML 1.1 (what
//! Kubernetes reads) and YAML 1.2 both read it back as that very string, else double-quoted.
//! Every piece of text reimage adds or replaces goes through here.

/// Whether `value` written plain is read back as this very string by YAML 1.1 and 1.2 parsers,
/// in block and flow context alike.
pub fn is_plain_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._/:@+-".contains(c);
    first.is_ascii_alphanumeric()
        && value.chars().all(allowed)
        && !value.contains(": ")
        && !is_special_word(value)
        && !looks_numeric(value)
}

/// Whether a plain scalar of this text is read as a string by YAML 1.1 (Kubernetes) and 1.2:
/// not a null, a boolean, a number or `.inf`/`.nan`. Like [`is_plain_safe`] it errs towards
/// "maybe not", but it allows what a plain scalar already in a document can hold
/// (`--flag=value`, spaces).
pub fn plain_reads_as_string(value: &str) -> bool {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let special_float = |v: &str| {
        let v = v.strip_prefix('.').unwrap_or_default();
        v.eq_ignore_ascii_case("inf") || v.eq_ignore_ascii_case("nan")
    };
    let maybe_other = value.is_empty()
        || matches!(value, "~" | "=" | "<<")
        || is_special_word(value)
        || special_float(unsigned)
        || looks_numeric(unsigned)
        || (unsigned.starts_with('.') && looks_numeric(&format!("0{unsigned}")));
    !maybe_other
}

/// Booleans and nulls of YAML 1.1 and 1.2.
fn is_special_word(value: &str) -> bool {
    const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(value))
}

/// Anything a YAML 1.1 or 1.2 resolver might read as a number or timestamp: integers in any
/// base, floats, sexagesimal numbers (`1:20`), dates. Erring towards quotes costs nothing.
fn looks_numeric(value: &str) -> bool {
    value.starts_with(|c: char| c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "xXoObBtTzZ_.:+-".contains(c))
}

/// Whether `value` holds a character that only double quotes can write (see [`escaped`]).
pub fn has_control(value: &str) -> bool {
    value.chars().any(escaped)
}

/// Whether `c` is written escaped: control characters (NEL among them); LS and PS, which
/// YAML 1.1 reads as line breaks; and the byte order mark and U+FFFE and U+FFFF, which libyaml
/// refuses inside a stream.
fn escaped(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// A double-quoted scalar: the one style that can hold any string.
pub fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if escaped(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A scalar for text this tool adds (a secret name): plain when safe, else double-quoted.
pub fn new_scalar(value: &str) -> String {
    if is_plain_safe(value) {
        value.to_string()
    } else {
        double_quoted(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_read_as_a_string_or_maybe_not() {
        for string in [
            "nginx:1",
            "--image=quay.io/a/b:1",
            "-v",
            "a b",
            "10.0.0.1:443/x",
            "x=1",
        ] {
            assert!(plain_reads_as_string(string), "{string}");
        }
        for other in [
            "",
            "~",
            "null",
            "Yes",
            "off",
            "12",
            "-1",
            "+0x1f",
            "1.5",
            ".5",
            "-.inf",
            ".NaN",
            "1:20",
            "2001-12-14",
        ] {
            assert!(!plain_reads_as_string(other), "{other}");
        }
    }

    #[test]
    fn plain_only_when_both_yaml_versions_read_a_string() {
        for safe in [
            "nginx",
            "nginx:1.25",
            "m.example.com/all/docker.io/library/nginx:1",
            "harbor-pull",
            "a:1",
            "10.0.0.1:443/x",
        ] {
            assert!(is_plain_safe(safe), "{safe}");
        }
        for unsafe_ in [
            "",
            "yes",
            "No",
            "on",
            "null",
            "1:20",
            "0644",
            "0x1f",
            "1e3",
            "12",
            "2001-12-14",
            "-x",
            ".inf",
            "a: b",
            "a #b",
            "x y",
        ] {
            assert!(!is_plain_safe(unsafe_), "{unsafe_}");
        }
    }

    #[test]
    fn double_quotes_escape() {
        assert_eq!(double_quoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(new_scalar("yes"), "\"yes\"");
        assert_eq!(new_scalar("regcred"), "regcred");
        assert_eq!(
            double_quoted("a\u{85}b\u{2028}c\u{2029}d\u{feff}é"),
            "\"a\\u0085b\\u2028c\\u2029d\\ufeffé\""
        );
        assert!(has_control("x\u{2028}") && !has_control("é"));
    }
}
