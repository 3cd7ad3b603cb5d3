//! Kubernetes label selectors (`app=web,tier in (front,back),!legacy`), for `patches[].target`:
//! parsed once from the rules, matched against a resource's labels or annotations.
//!
//! The syntax is apimachinery's `labels.Parse`: requirements joined by commas, each one of
//! `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)` and
//! `key notin (a,b)`. A resource matches when it meets every requirement; `!=` and `notin` are
//! met by a resource without the key.

use std::collections::BTreeMap;

/// A parsed selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    Exists,
    Missing,
    In(Vec<String>),
    NotIn(Vec<String>),
}

impl LabelSelector {
    /// Parses a selector; the error says what is wrong, for the rules' message.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        for part in split_requirements(text)? {
            requirements.push(requirement(part.trim())?);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether `labels` (a resource's labels or annotations) meet every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| {
            let value = labels.get(&r.key);
            match &r.test {
                Test::Exists => value.is_some(),
                Test::Missing => value.is_none(),
                Test::In(values) => value.is_some_and(|v| values.contains(v)),
                Test::NotIn(values) => value.is_none_or(|v| !values.contains(v)),
            }
        })
    }
}

/// The requirements of `text`, split at the commas outside parentheses.
fn split_requirements(text: &str) -> Result<Vec<&str>, String> {
    if text.trim().is_empty() {
        return Err("the selector is empty; leave the key out to select every resource".into());
    }
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("`)` without `(` at character {}", i + 1))?;
            }
            ',' if depth == 0 => {
                parts.push(text.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err("a `(` is not closed".into());
    }
    parts.push(text.get(start..).unwrap_or_default());
    Ok(parts)
}

fn requirement(part: &str) -> Result<Requirement, String> {
    if part.is_empty() {
        return Err("an empty requirement (two commas in a row, or one at an end)".into());
    }
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement {
            key: checked_key(key.trim())?,
            test: Test::Missing,
        });
    }
    for (operator, negated) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((key, value)) = part.split_once(operator) {
            let value = checked_value(value.trim())?;
            return Ok(Requirement {
                key: checked_key(key.trim())?,
                test: match negated {
                    true => Test::NotIn(vec![value]),
                    false => Test::In(vec![value]),
                },
            });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim_start();
        for (operator, negated) in [("notin", true), ("in", false)] {
            if let Some(list) = rest.strip_prefix(operator) {
                let values = set(list.trim())?;
                return Ok(Requirement {
                    key: checked_key(key)?,
                    test: match negated {
                        true => Test::NotIn(values),
                        false => Test::In(values),
                    },
                });
            }
        }
        return Err(format!(
            "`{part}` is not a requirement; write `key`, `!key`, `key=value`, `key!=value`, \
             `key in (a,b)` or `key notin (a,b)`"
        ));
    }
    Ok(Requirement {
        key: checked_key(part)?,
        test: Test::Exists,
    })
}

/// `(a, b)`: the values of a set.
fn set(list: &str) -> Result<Vec<String>, String> {
    let inner = list
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| format!("`{list}` is not a set of values; write them as `(a,b)`"))?;
    inner.split(',').map(|v| checked_value(v.trim())).collect()
}

/// A label key: an optional DNS prefix and `/`, then a name of at most 63 characters.
fn checked_key(key: &str) -> Result<String, String> {
    let name = key.rsplit_once('/').map_or(key, |(_, name)| name);
    let fine = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && key.len() - name.len() <= 254;
    match fine {
        true => Ok(key.to_string()),
        false => Err(format!("`{key}` is not a label key")),
    }
}

/// A label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and ending
/// with a letter or digit.
fn checked_value(value: &str) -> Result<String, String> {
    let fine = value.is_empty()
        || (value.len() <= 63
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
    match fine {
        true => Ok(value.to_string()),
        false => Err(format!("`{value}` is not a label value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_requirement_must_hold() {
        let s = LabelSelector::parse("app=web, tier in (front,back),!legacy,env!=prod").unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "back"), ("env", "dev")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "front"),
            ("legacy", "")
        ])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "front"),
            ("env", "prod")
        ])));
        let s = LabelSelector::parse("app.kubernetes.io/name,team notin (a, b)").unwrap();
        assert!(s.matches(&labels(&[("app.kubernetes.io/name", "x")])));
        assert!(!s.matches(&labels(&[("app.kubernetes.io/name", "x"), ("team", "a")])));
        assert!(LabelSelector::parse("app==web")
            .unwrap()
            .matches(&labels(&[("app", "web")])));
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        for bad in [
            "", "a,,b", "a in x", "a in (b", "a=b c", "a b", "-a", "a=-b", "a)",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }
}
