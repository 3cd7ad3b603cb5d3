//! A short, readable line diff for test failures: the first differing block with a few lines
//! of context, `-` for expected and `+` for actual, with `\r`, tabs and trailing spaces visible.

use std::fmt::Write as _;

/// Lines of context shown around a difference, and the most differing lines shown per side.
const CONTEXT: usize = 3;
const MAX_SHOWN: usize = 12;

/// A short line diff: the first differing block with context, `-` expected and `+` actual.
pub fn lines(expected: &[u8], actual: &[u8]) -> String {
    let expected = String::from_utf8_lossy(expected);
    let actual = String::from_utf8_lossy(actual);
    let exp: Vec<&str> = expected.split_inclusive('\n').collect();
    let act: Vec<&str> = actual.split_inclusive('\n').collect();
    let same_start = exp.iter().zip(&act).take_while(|(e, a)| e == a).count();
    let same_end = exp[same_start..]
        .iter()
        .rev()
        .zip(act[same_start..].iter().rev())
        .take_while(|(e, a)| e == a)
        .count();
    let mut out = format!(
        "  first difference at line {} (expected {} lines, got {})\n",
        same_start + 1,
        exp.len(),
        act.len()
    );
    if exp == act {
        out.push_str("  (the difference is in bytes that are not UTF-8)\n");
    }
    let before = &exp[same_start.saturating_sub(CONTEXT)..same_start];
    push_lines(&mut out, "   ", before);
    push_lines(&mut out, "  -", &exp[same_start..exp.len() - same_end]);
    push_lines(&mut out, "  +", &act[same_start..act.len() - same_end]);
    let after = &exp[exp.len() - same_end..];
    push_lines(&mut out, "   ", &after[..after.len().min(CONTEXT)]);
    out
}

fn push_lines(out: &mut String, marker: &str, lines: &[&str]) {
    for line in lines.iter().take(MAX_SHOWN) {
        let _ = writeln!(out, "{marker} {}", visible(line));
    }
    if lines.len() > MAX_SHOWN {
        let _ = writeln!(out, "{marker} … {} more lines", lines.len() - MAX_SHOWN);
    }
}

/// A line with `\r` and tabs spelled out, trailing spaces as `·`, and a missing final newline
/// marked.
fn visible(line: &str) -> String {
    let (body, newline) = match line.strip_suffix('\n') {
        Some(body) => (body, ""),
        None => (line, "  (no newline at end)"),
    };
    let trimmed = body.trim_end_matches(' ');
    let spaces = "·".repeat(body.len() - trimmed.len());
    let escaped = trimmed.replace('\r', "\\r").replace('\t', "\\t");
    format!("{escaped}{spaces}{newline}")
}
