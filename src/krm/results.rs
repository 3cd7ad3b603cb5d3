//! The `results` a KRM function returns, made from a run's report: a `warning` for every
//! reference that was seen and not rewritten (not valid, not safe to change, or only
//! reported), with `--explain` an `info` for every change, and an `error` for a failed run.
//! Each names the item's object (`resourceRef`), the field, and the file the orchestrator
//! read it from (`file`, from the item's path and index annotations).
//!
//! The text is written in the list's own style: a block sequence at the list's indentation,
//! or JSON in a flow (JSON) list. Every string is quoted by `crate::quoting`, so it reads
//! the same under YAML 1.1 and 1.2.

use crate::plan::Status;
use crate::quoting::{double_quoted, new_scalar};
use crate::report::{Finding, Report, SecretNote};

/// One entry of `results`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub severity: Severity,
    pub message: String,
    pub resource: Option<ResourceRef>,
    /// The field path in the object: `spec.template.spec.containers[0].image`.
    pub field: Option<String>,
    pub file: Option<FileRef>,
}

/// `severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// `resourceRef`: the object a result is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// `file`: where the orchestrator read an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// Slash-separated and relative, as the orchestrator wrote it.
    pub path: String,
    /// The object's index in a file of several; `None` when the annotation is missing (0).
    pub index: Option<u64>,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl Entry {
    /// The one result of a run that failed.
    pub fn error(message: &str) -> Entry {
        Entry {
            severity: Severity::Error,
            message: message.to_string(),
            resource: None,
            field: None,
            file: None,
        }
    }

    /// The key-value pairs of the entry, nested ones as their own lists, in the order they
    /// are written.
    fn fields(&self) -> Vec<(&'static str, Value)> {
        let mut fields = vec![
            ("message", Value::Text(self.message.clone())),
            ("severity", Value::Text(self.severity.as_str().to_string())),
        ];
        if let Some(r) = &self.resource {
            let mut object = vec![
                ("apiVersion", Value::Text(r.api_version.clone())),
                ("kind", Value::Text(r.kind.clone())),
                ("name", Value::Text(r.name.clone())),
            ];
            if let Some(namespace) = &r.namespace {
                object.push(("namespace", Value::Text(namespace.clone())));
            }
            fields.push(("resourceRef", Value::Object(object)));
        }
        if let Some(path) = &self.field {
            let path = vec![("path", Value::Text(path.clone()))];
            fields.push(("field", Value::Object(path)));
        }
        if let Some(file) = &self.file {
            let mut object = vec![("path", Value::Text(file.path.clone()))];
            if let Some(index) = file.index {
                object.push(("index", Value::Number(index)));
            }
            fields.push(("file", Value::Object(object)));
        }
        fields
    }
}

/// A value in an entry.
enum Value {
    Text(String),
    Number(u64),
    Object(Vec<(&'static str, Value)>),
}

/// The results of a run that succeeded: the warnings, then with `explain` the changes, in
/// the order of the input. `files` are the items' files, by index in `items`.
pub fn from_report(report: &Report, files: &[Option<FileRef>], explain: bool) -> Vec<Entry> {
    let file = |item: &[usize]| item.first().and_then(|&i| files.get(i).cloned()).flatten();
    let mut entries: Vec<(usize, Entry)> = Vec::new();
    for finding in &report.findings {
        let (severity, message) = match finding.warning() {
            Some(warning) => (Severity::Warning, warning),
            None if explain && finding.status == Status::Rewritten => {
                (Severity::Info, finding.change())
            }
            None => continue,
        };
        let entry = Entry {
            severity,
            message,
            resource: Some(resource_ref(finding)),
            field: Some(finding.path.clone()),
            file: file(&finding.item),
        };
        entries.push((finding.line, entry));
    }
    if explain {
        for note in &report.secrets {
            entries.extend(secret_changes(note).map(|message| {
                let entry = Entry {
                    severity: Severity::Info,
                    message,
                    resource: Some(note_ref(note)),
                    field: Some(note.path.clone()),
                    file: file(&note.item),
                };
                (note.line, entry)
            }));
        }
    }
    entries.sort_by_key(|(line, _)| *line);
    entries.into_iter().map(|(_, entry)| entry).collect()
}

fn resource_ref(finding: &Finding) -> ResourceRef {
    ResourceRef {
        api_version: finding.api_version.clone(),
        kind: finding.kind.clone(),
        name: finding.name.clone().unwrap_or_default(),
        namespace: finding.namespace.clone(),
    }
}

fn note_ref(note: &SecretNote) -> ResourceRef {
    ResourceRef {
        api_version: note.api_version.clone(),
        kind: note.kind.clone(),
        name: note.name.clone().unwrap_or_default(),
        namespace: note.namespace.clone(),
    }
}

/// One message per pull secret a run adds to or removes from a pod spec.
fn secret_changes(note: &SecretNote) -> impl Iterator<Item = String> + '_ {
    let added = note
        .added
        .iter()
        .map(|name| format!("pull secret `{name}` added"));
    let removed = note
        .removed
        .iter()
        .map(|name| format!("pull secret `{name}` removed"));
    added.chain(removed)
}

/// `results:` and the entries as a block sequence, each line starting with `indent`.
pub fn block(entries: &[Entry], indent: &str, newline: &str) -> String {
    let mut out = format!("{indent}results:{newline}");
    for entry in entries {
        block_fields(&mut out, &entry.fields(), indent, "- ", newline);
    }
    out
}

/// Writes `fields` as a block mapping: the first line after `first` (`- ` for a sequence
/// item), the others indented to line up with it.
fn block_fields(
    out: &mut String,
    fields: &[(&'static str, Value)],
    indent: &str,
    first: &str,
    newline: &str,
) {
    let inner = format!("{indent}{}", " ".repeat(first.len()));
    for (i, (key, value)) in fields.iter().enumerate() {
        out.push_str(if i == 0 { indent } else { &inner });
        if i == 0 {
            out.push_str(first);
        }
        match value {
            Value::Text(text) => out.push_str(&format!("{key}: {}{newline}", new_scalar(text))),
            Value::Number(n) => out.push_str(&format!("{key}: {n}{newline}")),
            Value::Object(object) => {
                out.push_str(&format!("{key}:{newline}"));
                block_fields(out, object, &format!("{inner}  "), "", newline);
            }
        }
    }
}

/// The entries as a JSON array, for a list written in flow style (JSON, most often).
pub fn flow(entries: &[Entry]) -> String {
    let items: Vec<String> = entries.iter().map(|e| flow_object(&e.fields())).collect();
    format!("[{}]", items.join(", "))
}

fn flow_object(fields: &[(&'static str, Value)]) -> String {
    let pairs: Vec<String> = fields
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::Text(text) => double_quoted(text),
                Value::Number(n) => n.to_string(),
                Value::Object(object) => flow_object(object),
            };
            format!("\"{key}\": {value}")
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}
