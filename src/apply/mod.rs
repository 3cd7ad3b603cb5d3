//! Stage 4, apply: the plan turned into byte splices, and the splices into the output.
//!
//! Only the bytes of changed scalars and of `imagePullSecrets` are new; everything else is
//! written from the input buffer as it is, never copied in memory ([`Output`]).

pub(crate) mod layout;
mod scalar;
mod secrets;

use std::cell::OnceCell;
use std::collections::HashMap;
use std::ops::Range;

use crate::locate::{DocId, Found};
use crate::plan::Plan;
use crate::tree::NodeId;

/// Replace `range` of the stream by `text` (an insertion when the range is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub range: Range<usize>,
    pub text: String,
}

impl Splice {
    pub(crate) fn replace(range: Range<usize>, text: String) -> Splice {
        Splice { range, text }
    }

    pub(crate) fn insert(at: usize, text: String) -> Splice {
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
    #[error("document {document}{template}, line {line}: cannot edit this image: it is also read through a YAML anchor, alias or merge key by a resource or field that the rules would leave as it is; give each its own value, or narrow the rule's `select`")]
    Shared {
        document: usize,
        template: String,
        line: usize,
    },
    #[error("internal error: {0}; please report it, with the input and rules that caused it")]
    Internal(String),
}

/// The splices that carry out `plan` on the stream `text`.
pub fn splices(text: &str, found: &Found<'_>, plan: &Plan) -> Result<Vec<Splice>, ApplyError> {
    if let Some(&(doc, node)) = plan.conflicts.first() {
        let doc = found.doc(doc);
        return Err(ApplyError::Shared {
            document: doc.chunk.number,
            template: doc.chunk.source_note(),
            line: doc.tree.node(node).line,
        });
    }
    let mut out = image_splices(text, found, plan)?;
    out.extend(plan.inline.iter().map(|(doc, alias, old)| {
        Splice::replace(found.doc(*doc).tree.node(*alias).span.clone(), old.clone())
    }));
    out.extend(secret_splices(text, found, plan)?);
    Ok(out)
}

/// The new bytes of every image whose decision is an edit.
fn image_splices(text: &str, found: &Found<'_>, plan: &Plan) -> Result<Vec<Splice>, ApplyError> {
    let mut out = Vec::new();
    for (site, decision) in found.images.iter().zip(&plan.images) {
        if !decision.edit {
            continue;
        }
        let doc = found.doc_of(site.resource);
        let node = doc.tree.node(site.node);
        let edit = match &site.part {
            None => scalar::replace(text, node, &decision.value),
            Some(part) => {
                scalar::replace_part(text, node, part.start, &site.value, &decision.value)
            }
        };
        let (range, new) = edit.ok_or_else(|| ApplyError::Unsupported {
            document: doc.chunk.number,
            template: doc.chunk.source_note(),
            line: node.line,
            what: format!(
                "the image at `{}` (written in a form that cannot be edited in place)",
                site.path
            ),
        })?;
        out.push(Splice::replace(range, new));
    }
    Ok(out)
}

/// The `imagePullSecrets` edits of every holder whose pull secrets change.
fn secret_splices(text: &str, found: &Found<'_>, plan: &Plan) -> Result<Vec<Splice>, ApplyError> {
    // Aliases that become lists of their own, as (document, node): an anchored list may be
    // edited in place only if all of its aliases are among them.
    let mut own_lists: Vec<(DocId, NodeId)> = plan
        .secrets
        .iter()
        .filter_map(|change| {
            let holder = found.holder(change.holder);
            let doc = found.resource(holder.resource).doc;
            secrets::alias_list(&found.doc(doc).tree, holder.node).map(|alias| (doc, alias))
        })
        .collect();
    own_lists.sort_unstable();
    let dash_indents: Vec<OnceCell<usize>> = found.docs.iter().map(|_| OnceCell::new()).collect();
    // In documents that share nodes: how many changes edit each pod spec and each list, to
    // compare with how many places Kubernetes reads them from.
    let mut editors: HashMap<(DocId, NodeId), usize> = HashMap::new();
    for change in &plan.secrets {
        let holder = found.holder(change.holder);
        let doc = found.resource(holder.resource).doc;
        let tree = &found.doc(doc).tree;
        if !tree.shares_nodes() {
            continue;
        }
        *editors.entry((doc, holder.node)).or_default() += 1;
        // The list the holder reads now: edited in place, or replaced by one of its own.
        if let Some(list) = tree.get(holder.node, "imagePullSecrets") {
            *editors.entry((doc, tree.resolve(list))).or_default() += 1;
        }
    }
    let reads: Vec<OnceCell<Vec<u32>>> = found.docs.iter().map(|_| OnceCell::new()).collect();
    let mut out = Vec::new();
    for change in &plan.secrets {
        let holder = found.holder(change.holder);
        let doc_id = found.resource(holder.resource).doc;
        let doc = found.doc(doc_id);
        let unshared = OnceCell::new();
        let place = secrets::Place {
            text,
            tree: &doc.tree,
            newline: doc.chunk.newline,
            end: doc.chunk.range.end,
            has_own_list: &|alias| own_lists.binary_search(&(doc_id, alias)).is_ok(),
            json: doc.tree.root().is_some_and(|root| {
                matches!(
                    doc.tree.node(root).kind,
                    crate::tree::Kind::Map { flow: true, .. }
                )
            }),
            dash_indent: dash_indents.get(doc_id.index()).unwrap_or(&unshared),
            read_elsewhere: &|node| {
                if !doc.tree.shares_nodes() {
                    return false;
                }
                if doc.tree.is_merged(node) {
                    return true;
                }
                let reads = reads
                    .get(doc_id.index())
                    .map(|r| r.get_or_init(|| doc.tree.reads()));
                let read = reads.and_then(|r| r.get(node)).copied().unwrap_or(0);
                let edited = editors.get(&(doc_id, node)).copied().unwrap_or(0);
                usize::try_from(read).unwrap_or(usize::MAX) > edited
            },
        };
        let more =
            secrets::change(&place, holder.node, &change.add, &change.remove).map_err(|u| {
                ApplyError::Unsupported {
                    document: doc.chunk.number,
                    template: doc.chunk.source_note(),
                    line: u.line,
                    what: u.what,
                }
            })?;
        out.extend(more);
    }
    Ok(out)
}

/// The output stream: the input with the splices carried out. It is kept as the input and
/// the edits, in order, so the bytes that do not change are never copied in memory: they go
/// from the input buffer to the writer. The new text of all the edits is kept in one buffer
/// rather than a string each: a stream of many small documents has millions of short edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output<'a> {
    text: &'a str,
    /// Sorted, not overlapping, each range inside `text` on character boundaries, with where
    /// its new text ends in `added` (it starts where the one before it ends).
    edits: Vec<(Range<usize>, usize)>,
    added: String,
}

impl<'a> Output<'a> {
    /// `text` as it is.
    pub fn unchanged(text: &'a str) -> Output<'a> {
        Output {
            text,
            edits: Vec::new(),
            added: String::new(),
        }
    }

    /// Whether the output is the input as it is.
    pub fn is_unchanged(&self) -> bool {
        self.edits.is_empty()
    }

    /// Adds the edits of `later`, an output of the same text whose edits all come after
    /// these (the next document's). Edits out of that order are a conflict.
    pub fn append(&mut self, later: Output<'a>) -> Result<(), ApplyError> {
        if !std::ptr::eq(self.text, later.text) {
            return Err(ApplyError::Internal(
                "edits of two different inputs were joined".to_string(),
            ));
        }
        let copied = self.edits.last().map_or(0, |(range, _)| range.end);
        if let Some((first, _)) = later.edits.first() {
            if first.start < copied {
                return Err(conflict(self.text, first.start));
            }
        }
        let base = self.added.len();
        self.added.push_str(&later.added);
        self.edits.extend(
            later
                .edits
                .into_iter()
                .map(|(range, end)| (range, base + end)),
        );
        Ok(())
    }

    /// This output with one more splice of the same text, anywhere that no edit already
    /// touches (the `results` a KRM function adds to its `ResourceList`).
    pub fn with(self, splice: Splice) -> Result<Output<'a>, ApplyError> {
        let mut taken = 0;
        let mut splices: Vec<Splice> = self
            .edits
            .iter()
            .map(|(range, end)| {
                let text = self.added.get(taken..*end).unwrap_or_default().to_string();
                taken = *end;
                Splice::replace(range.clone(), text)
            })
            .collect();
        splices.push(splice);
        apply(self.text, splices)
    }

    /// The output's text for `range` of the input: its bytes with the edits inside it made.
    pub fn text_of(&self, range: Range<usize>) -> String {
        let mut out = String::new();
        let (mut copied, mut taken) = (range.start, 0);
        for (edit, end) in &self.edits {
            let new = self.added.get(taken..*end).unwrap_or_default();
            taken = *end;
            if edit.start < range.start || edit.end > range.end {
                continue;
            }
            out.push_str(self.text.get(copied..edit.start).unwrap_or_default());
            out.push_str(new);
            copied = edit.end;
        }
        out.push_str(self.text.get(copied..range.end).unwrap_or_default());
        out
    }

    /// The output in order: spans of the input, and the new text of each edit.
    pub fn pieces(&self) -> impl Iterator<Item = &str> + '_ {
        let (mut copied, mut taken) = (0, 0);
        self.edits
            .iter()
            .flat_map(move |(range, end)| {
                let before = self.text.get(copied..range.start);
                let new = self.added.get(taken..*end);
                (copied, taken) = (range.end, *end);
                [before.unwrap_or_default(), new.unwrap_or_default()]
            })
            .chain(std::iter::once_with(move || {
                let last = self.edits.last().map_or(0, |(range, _)| range.end);
                self.text.get(last..).unwrap_or_default()
            }))
            .filter(|piece| !piece.is_empty())
    }

    /// The length of the output in bytes.
    pub fn len(&self) -> usize {
        let removed: usize = self.edits.iter().map(|(range, _)| range.len()).sum();
        self.text.len() - removed + self.added.len()
    }

    /// Whether the output is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the output to `out`, piece by piece.
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        self.pieces()
            .try_for_each(|piece| out.write_all(piece.as_bytes()))
    }

    /// The output as one buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.pieces()
            .for_each(|piece| out.extend_from_slice(piece.as_bytes()));
        out
    }
}

/// `text` with the splices carried out. Identical splices count once; overlapping ones are a
/// conflict.
pub fn apply(text: &str, mut splices: Vec<Splice>) -> Result<Output<'_>, ApplyError> {
    splices.sort_by_key(|s| (s.range.start, s.range.end));
    splices.dedup();
    let mut copied = 0;
    let mut previous_insertion = None;
    for splice in &splices {
        // Two different insertions at one place (two resources adding different pull secrets
        // to the pod spec they share) are as much a conflict as overlapping edits.
        let insertion = splice.range.is_empty().then_some(splice.range.start);
        if splice.range.start < copied || (insertion.is_some() && insertion == previous_insertion) {
            return Err(conflict(text, splice.range.start));
        }
        // Splices are spans the parser reported in `text`: one outside it is a bug, reported
        // as one rather than a panic.
        if text.get(splice.range.clone()).is_none() {
            return Err(ApplyError::Internal(format!(
                "an edit at bytes {}..{} is not inside the {}-byte input",
                splice.range.start,
                splice.range.end,
                text.len()
            )));
        }
        copied = splice.range.end;
        previous_insertion = insertion;
    }
    let mut added = String::with_capacity(splices.iter().map(|s| s.text.len()).sum());
    let edits = splices
        .into_iter()
        .map(|splice| {
            added.push_str(&splice.text);
            (splice.range, added.len())
        })
        .collect();
    Ok(Output { text, edits, added })
}

/// Two edits that overlap at `at`.
fn conflict(text: &str, at: usize) -> ApplyError {
    let before = text.get(..at).unwrap_or_default();
    let line = 1 + before.matches('\n').count();
    ApplyError::Conflict { line }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_the_input_with_its_edits() {
        let text = "image: a\nx: 1\nimage: b\n";
        let splices = vec![
            Splice::replace(21..22, "m/b".to_string()),
            Splice::replace(7..8, "m/a".to_string()),
            Splice::insert(9, "y: 2\n".to_string()),
            Splice::replace(7..8, "m/a".to_string()),
        ];
        let output = apply(text, splices).unwrap();
        let expected = "image: m/a\ny: 2\nx: 1\nimage: m/b\n";
        assert_eq!(output.to_vec(), expected.as_bytes());
        assert_eq!(output.len(), expected.len());
        let mut written = Vec::new();
        output.write_to(&mut written).unwrap();
        assert_eq!(written, expected.as_bytes());
        assert!(output.pieces().all(|piece| !piece.is_empty()));

        let untouched = apply(text, Vec::new()).unwrap();
        assert_eq!(untouched.pieces().collect::<Vec<_>>(), [text]);

        let more = output
            .with(Splice::insert(0, "z: 0\n".to_string()))
            .unwrap();
        assert_eq!(more.to_vec(), format!("z: 0\n{expected}").as_bytes());
        assert!(more.with(Splice::replace(8..10, "q".to_string())).is_err());
    }

    #[test]
    fn overlapping_and_outside_edits_are_refused() {
        let text = "a: 1\nb: 2\n";
        let overlapping = vec![
            Splice::replace(5..9, "x".to_string()),
            Splice::replace(8..9, "y".to_string()),
        ];
        assert!(matches!(
            apply(text, overlapping),
            Err(ApplyError::Conflict { line: 2 })
        ));
        let outside = vec![Splice::replace(8..40, "x".to_string())];
        assert!(matches!(apply(text, outside), Err(ApplyError::Internal(_))));
    }

    #[test]
    fn the_text_of_a_range_has_its_edits() {
        let text = "a: 1\n---\nb: 2\n";
        let out = apply(
            text,
            vec![
                Splice::replace(3..4, "x".into()),
                Splice::replace(12..13, "y".into()),
                Splice::insert(14, "c: 3\n".into()),
            ],
        )
        .unwrap();
        assert_eq!(out.text_of(0..5), "a: x\n");
        assert_eq!(out.text_of(9..14), "b: y\nc: 3\n");
    }

    #[test]
    fn outputs_of_documents_in_order_join_into_one() {
        let text = "a: 1\n---\nb: 2\n";
        let edit =
            |at: usize, new: &str| apply(text, vec![Splice::replace(at..at + 1, new.into())]);
        let mut whole = Output::unchanged(text);
        assert!(whole.is_unchanged());
        whole.append(edit(3, "10").unwrap()).unwrap();
        whole.append(Output::unchanged(text)).unwrap();
        whole.append(edit(12, "20").unwrap()).unwrap();
        assert_eq!(whole.to_vec(), b"a: 10\n---\nb: 20\n");
        assert_eq!(whole.len(), text.len() + 2);
        let both = vec![
            Splice::replace(3..4, "10".to_string()),
            Splice::replace(12..13, "20".to_string()),
        ];
        assert_eq!(whole, apply(text, both).unwrap());
        assert!(matches!(
            whole.append(edit(3, "30").unwrap()),
            Err(ApplyError::Conflict { line: 1 })
        ));
        let other = String::from(text);
        assert!(matches!(
            whole.append(Output::unchanged(&other)),
            Err(ApplyError::Internal(_))
        ));
    }
}
