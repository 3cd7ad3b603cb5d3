//! Stage 4, apply: the plan turned into byte splices, and the splices into the output.
//!
//! Only the bytes of changed scalars and of `imagePullSecrets` are written; everything else is
//! copied from the input as it is, once.

mod scalar;
mod secrets;

pub use scalar::is_plain_safe;

use std::ops::Range;

use crate::locate::Found;
use crate::plan::Plan;

/// Replace `range` of the stream by `text` (an insertion when the range is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub range: Range<usize>,
    pub text: String,
}

impl Splice {
    fn replace(range: Range<usize>, text: String) -> Splice {
        Splice { range, text }
    }

    fn insert(at: usize, text: String) -> Splice {
        Splice {
            range: at..at,
            text,
        }
    }
}

/// A place whose YAML form this tool does not edit (the reason, and the line in the document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub line: usize,
    pub what: String,
}

impl Unsupported {
    fn new(line: usize, what: &str) -> Unsupported {
        Unsupported {
            line,
            what: what.to_string(),
        }
    }
}

/// Why the plan could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("document {document}{template}, line {line}: cannot edit {what}; rewrite it in plain block style or exclude it from the rules")]
    Unsupported {
        document: usize,
        template: String,
        line: usize,
        what: String,
    },
    #[error("line {line}: the same bytes would be changed in two different ways (a YAML alias shared by resources the rules treat differently); give the resources their own values or narrow the rule's `select`")]
    Conflict { line: usize },
    #[error("internal error: {0}; please report it, with the input and rules that caused it")]
    Internal(String),
}

/// The splices that carry out `plan` on the stream `text`.
pub fn splices(text: &str, found: &Found<'_>, plan: &Plan) -> Result<Vec<Splice>, ApplyError> {
    let mut out = Vec::new();
    for (site, decision) in found.images.iter().zip(&plan.images) {
        if !decision.edit {
            continue;
        }
        let doc = found.doc_of(site.resource);
        let node = doc.tree.node(site.node);
        let edit = match &site.part {
            None => scalar::replace(text, node, &decision.value),
            Some(_) => scalar::replace_part(text, node, &site.value, &decision.value),
        };
        let (range, new) = edit.ok_or_else(|| ApplyError::Unsupported {
            document: doc.chunk.number,
            template: template(&doc.chunk.source),
            line: node.line,
            what: format!(
                "the image at `{}` (written in a form that cannot be edited in place)",
                site.path
            ),
        })?;
        out.push(Splice::replace(range, new));
    }
    for change in &plan.secrets {
        let holder = found.holder(change.holder);
        let doc = found.doc_of(holder.resource);
        let place = secrets::Place {
            text,
            tree: &doc.tree,
            newline: doc.chunk.newline,
            end: doc.chunk.range.end,
        };
        let more =
            secrets::change(&place, holder.node, &change.add, &change.remove).map_err(|u| {
                ApplyError::Unsupported {
                    document: doc.chunk.number,
                    template: template(&doc.chunk.source),
                    line: u.line,
                    what: u.what,
                }
            })?;
        out.extend(more);
    }
    Ok(out)
}

fn template(source: &Option<String>) -> String {
    source
        .as_ref()
        .map_or_else(String::new, |s| format!(" (# Source: {s})"))
}

/// Writes `text` with the splices carried out. Identical splices count once; overlapping ones
/// are a conflict.
pub fn apply(text: &str, mut splices: Vec<Splice>) -> Result<Vec<u8>, ApplyError> {
    splices.sort_by_key(|s| (s.range.start, s.range.end));
    splices.dedup();
    let extra: usize = splices.iter().map(|s| s.text.len()).sum();
    let mut out = Vec::with_capacity(text.len() + extra);
    let mut copied = 0;
    for splice in &splices {
        if splice.range.start < copied {
            let line = 1 + text[..splice.range.start].matches('\n').count();
            return Err(ApplyError::Conflict { line });
        }
        out.extend_from_slice(piece(text, copied..splice.range.start)?);
        out.extend_from_slice(splice.text.as_bytes());
        copied = splice.range.end;
    }
    out.extend_from_slice(piece(text, copied..text.len())?);
    Ok(out)
}

/// The bytes of `text` in `range`. Splices are spans the parser reported in `text`, so a range
/// outside it is a bug, reported as one rather than a panic.
fn piece(text: &str, range: std::ops::Range<usize>) -> Result<&[u8], ApplyError> {
    text.as_bytes().get(range.clone()).ok_or_else(|| {
        ApplyError::Internal(format!(
            "an edit at bytes {}..{} lies outside the {}-byte input",
            range.start,
            range.end,
            text.len()
        ))
    })
}
