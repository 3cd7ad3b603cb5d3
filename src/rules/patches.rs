//! `patches:` from the file mirror to checked RFC 6902 operations: each operation has the
//! members its `op` needs and no others, its pointers parse (RFC 6901), `-` appears only where
//! `add` may append, and nothing is moved into itself.

use json_patch::jsonptr::PointerBuf;
use json_patch::{
    AddOperation, CopyOperation, MoveOperation, PatchOperation, RemoveOperation, ReplaceOperation,
    TestOperation,
};

use super::file::{OperationFile, PatchFile, TargetFile};
use super::selector::LabelSelector;
use super::{Origin, Patch, RulesError, Target};

const OPERATIONS: [&str; 6] = ["add", "remove", "replace", "move", "copy", "test"];

pub(super) fn patches(entries: Vec<PatchFile>, origin: &Origin) -> Result<Vec<Patch>, RulesError> {
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| patch(entry, index, origin))
        .collect()
}

fn patch(entry: PatchFile, index: usize, origin: &Origin) -> Result<Patch, RulesError> {
    let at = format!("patches[{index}]");
    let target = entry.target.ok_or_else(|| {
        origin.invalid(
            &at,
            "`target` is missing; give the resources to patch, such as `target: {kind: Deployment, name: web}`, or `target: {}` for every resource",
        )
    })?;
    let target = self::target(target, &format!("{at}.target"), origin)?;
    let operations = entry.patch.ok_or_else(|| {
        origin.invalid(
            &at,
            "`patch` is missing; give a list of RFC 6902 operations, such as `patch: [{op: add, path: /metadata/labels/team, value: platform}]`",
        )
    })?;
    if operations.is_empty() {
        return Err(origin.invalid(
            format!("{at}.patch"),
            "is empty; give at least one operation, or remove the entry",
        ));
    }
    let operations = operations
        .into_iter()
        .enumerate()
        .map(|(i, op)| operation(op, &format!("{at}.patch[{i}]"), origin))
        .collect::<Result<_, _>>()?;
    Ok(Patch {
        target,
        operations,
        index,
    })
}

fn target(file: TargetFile, at: &str, origin: &Origin) -> Result<Target, RulesError> {
    let selector = |text: Option<String>, key: &str| {
        text.map(|t| {
            LabelSelector::parse(&t).map_err(|problem| {
                origin.invalid(format!("{at}.{key}"), format!("`{t}`: {problem}"))
            })
        })
        .transpose()
    };
    let non_empty = |text: Option<String>, key: &str| match text {
        Some(t) if t.is_empty() => Err(origin.invalid(
            format!("{at}.{key}"),
            "empty; give a value or leave the key out",
        )),
        other => Ok(other),
    };
    Ok(Target {
        // `group: ""` is the core group, so only these two may be empty.
        group: file.group,
        namespace: file.namespace,
        version: non_empty(file.version, "version")?,
        kind: non_empty(file.kind, "kind")?,
        name: non_empty(file.name, "name")?,
        labels: selector(file.label_selector, "labelSelector")?,
        annotations: selector(file.annotation_selector, "annotationSelector")?,
    })
}

fn operation(file: OperationFile, at: &str, origin: &Origin) -> Result<PatchOperation, RulesError> {
    let Some(op) = file.op else {
        return Err(origin.invalid(
            at,
            "`op` is missing; give one of add, remove, replace, move, copy and test",
        ));
    };
    if !OPERATIONS.contains(&op.as_str()) {
        let expected: Vec<String> = OPERATIONS.iter().map(|o| o.to_string()).collect();
        return Err(origin.invalid(
            format!("{at}.op"),
            format!(
                "`{op}` is not an RFC 6902 operation; {}",
                super::suggest::hint(&op, &expected).replace("key", "operation")
            ),
        ));
    }
    let appends = matches!(op.as_str(), "add" | "move" | "copy");
    let path = pointer(file.path, "path", at, origin, appends)?.ok_or_else(|| {
        origin.invalid(
            at,
            format!("`path` is missing; `{op}` needs the pointer it applies to, such as `/metadata/labels`"),
        )
    })?;
    let from = pointer(file.from, "from", at, origin, false)?;
    let needs_value = matches!(op.as_str(), "add" | "replace" | "test");
    let needs_from = matches!(op.as_str(), "move" | "copy");
    match (&file.value, needs_value) {
        (None, true) => {
            return Err(origin.invalid(
                at,
                format!("`value` is missing; `{op}` needs one (write `value: null` for null)"),
            ))
        }
        (Some(_), false) => {
            return Err(origin.invalid(
                format!("{at}.value"),
                format!("`{op}` takes no value; remove it"),
            ))
        }
        _ => {}
    }
    let from = match (from, needs_from) {
        (None, true) => {
            return Err(origin.invalid(
                at,
                format!("`from` is missing; `{op}` needs the pointer to take the value from"),
            ))
        }
        (Some(_), false) => {
            return Err(origin.invalid(
                format!("{at}.from"),
                format!("`{op}` takes no `from`; remove it"),
            ))
        }
        (from, _) => from,
    };
    let value = file.value.unwrap_or_default();
    Ok(match (op.as_str(), from) {
        ("add", _) => PatchOperation::Add(AddOperation { path, value }),
        ("remove", _) => PatchOperation::Remove(RemoveOperation { path }),
        ("replace", _) => PatchOperation::Replace(ReplaceOperation { path, value }),
        ("test", _) => PatchOperation::Test(TestOperation { path, value }),
        ("move", Some(from)) => {
            if path.starts_with(&from) && path != from {
                return Err(origin.invalid(
                    at,
                    format!("`{from}` cannot be moved into `{path}`, one of its own children"),
                ));
            }
            PatchOperation::Move(MoveOperation { from, path })
        }
        (_, from) => PatchOperation::Copy(CopyOperation {
            from: from.unwrap_or_default(),
            path,
        }),
    })
}

/// A pointer of the rules: RFC 6901, not the whole resource, `-` only as the last token of a
/// path that may append.
fn pointer(
    text: Option<String>,
    key: &str,
    at: &str,
    origin: &Origin,
    appends: bool,
) -> Result<Option<PointerBuf>, RulesError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let invalid = |problem: String| origin.invalid(format!("{at}.{key}"), problem);
    if text.is_empty() {
        return Err(invalid(
            "`\"\"` is the whole resource, which a patch does not replace; point into it, such as `/metadata/labels`"
                .to_string(),
        ));
    }
    let pointer = PointerBuf::parse(text.as_str()).map_err(|e| {
        invalid(format!(
            "`{text}` is not a JSON pointer (RFC 6901): {e}; start it with `/` and write `~1` for a `/` in a key, `~0` for a `~`"
        ))
    })?;
    let tokens: Vec<_> = pointer.tokens().collect();
    for (i, token) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        if token.encoded() == "-" && !(last && appends) {
            return Err(invalid(format!(
                "`{text}`: `-` (the end of a list) can only end the `path` of add, move or copy"
            )));
        }
    }
    Ok(Some(pointer))
}

#[cfg(test)]
mod tests {
    use super::super::Rules;
    use std::path::Path;

    fn error(patches: &str) -> String {
        Rules::from_yaml(&format!("version: 1\npatches:\n{patches}"), Path::new(""))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn operations_are_checked_against_their_op() {
        let cases = [
            (
                "- {target: {}, patch: [{op: addd, path: /a, value: 1}]}",
                "`addd` is not an RFC 6902 operation; did you mean `add`?",
            ),
            (
                "- {target: {}, patch: [{op: add, path: /a}]}",
                "`value` is missing",
            ),
            (
                "- {target: {}, patch: [{op: remove, path: /a, value: 1}]}",
                "`remove` takes no value",
            ),
            (
                "- {target: {}, patch: [{op: move, path: /a}]}",
                "`from` is missing",
            ),
            (
                "- {target: {}, patch: [{op: move, from: /a, path: /a/b}]}",
                "one of its own children",
            ),
            (
                "- {target: {}, patch: [{op: replace, path: a, value: 1}]}",
                "is not a JSON pointer",
            ),
            (
                "- {target: {}, patch: [{op: remove, path: /a/-}]}",
                "can only end the `path` of add",
            ),
            (
                "- {target: {}, patch: [{op: add, path: /a/-/b, value: 1}]}",
                "can only end",
            ),
            (
                "- {target: {}, patch: [{op: add, path: '', value: 1}]}",
                "the whole resource",
            ),
            ("- {target: {}, patch: []}", "patches[0].patch: is empty"),
            (
                "- {patch: [{op: test, path: /a, value: 1}]}",
                "`target` is missing",
            ),
            (
                "- {target: {labelSelector: 'a in b'}, patch: [{op: test, path: /a, value: 1}]}",
                "patches[0].target.labelSelector",
            ),
            (
                "- {target: {knd: Pod}, patch: [{op: test, path: /a, value: 1}]}",
                "did you mean `kind`?",
            ),
        ];
        for (patches, expected) in cases {
            let message = error(patches);
            assert!(message.contains(expected), "{patches}\n{message}");
        }
    }

    #[test]
    fn a_null_value_is_a_value() {
        let text = "version: 1\npatches:\n- target: {kind: Pod}\n  patch:\n  - {op: add, path: /metadata/labels, value: null}\n  - {op: copy, from: /a~1b, path: /c/-}\n";
        let rules = Rules::from_yaml(text, Path::new("")).unwrap();
        let ops = &rules.patches[0].operations;
        assert_eq!(
            serde_json::to_string(ops).unwrap(),
            r#"[{"op":"add","path":"/metadata/labels","value":null},{"op":"copy","from":"/a~1b","path":"/c/-"}]"#
        );
        assert_eq!(rules.patches[0].target.kind.as_deref(), Some("Pod"));
    }
}
