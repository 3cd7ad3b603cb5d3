//! A KRM function's input and output: kustomize, kpt and other orchestrators of the KRM
//! Functions Specification pipe one `ResourceList` document through a function, its resources
//! in `items`, its arguments in `functionConfig`, and read back the list with `results`.
//!
//! Standard input is taken for one when it holds one document (empty ones aside) whose top
//! level says `kind: ResourceList` with `apiVersion: config.kubernetes.io/v1` (or `v1beta1`,
//! the other version of the specification's schema). The rest of the pipeline needs nothing
//! new: the locate stage walks the `items` of every `List` kind, this one included, and each
//! resource records its index there (`Resource::item`), so the render edits the items in place
//! like any other document. This module reads the rules from the `functionConfig`
//! ([`config`]) and writes the `results` ([`results`]); every other byte of the list is the
//! input's.

pub mod config;
pub mod results;

use crate::apply::{self, ApplyError, Splice};
use crate::locate::{self, LocateError};
use crate::stream::{Chunk, Stream};
use crate::tree::{Kind, NodeId, Tree};
use results::{Entry, FileRef};

/// The `apiVersion`s of a `ResourceList` in the specification's schema.
const API_VERSIONS: &[&str] = &["config.kubernetes.io/v1", "config.kubernetes.io/v1beta1"];

/// The annotations an orchestrator records an item's file in, the current one first.
const PATH_ANNOTATIONS: &[&str] = &[
    "internal.config.kubernetes.io/path",
    "config.kubernetes.io/path",
];
const INDEX_ANNOTATIONS: &[&str] = &[
    "internal.config.kubernetes.io/index",
    "config.kubernetes.io/index",
];

/// Standard input as a `ResourceList`: the whole input, and the list's document parsed.
#[derive(Debug)]
pub struct ResourceList<'a> {
    text: &'a str,
    chunk: Chunk,
    tree: Tree<'a>,
    root: NodeId,
}

/// Why a `ResourceList` cannot be run as a function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    #[error("the ResourceList has no functionConfig, so there are no rules; give a ConfigMap whose `data.rules` holds a rules file, or `apiVersion: reimage/v1`, `kind: Rules` with the rules file's fields")]
    NoConfig,
    #[error("functionConfig: `apiVersion: {api_version}`, `kind: {kind}` is not a form reimage reads; give a ConfigMap whose `data.rules` holds a rules file, or `apiVersion: reimage/v1`, `kind: Rules` with the rules file's fields")]
    UnknownConfig { api_version: String, kind: String },
    #[error("standard input is a KRM ResourceList, whose functionConfig holds the rules, and the command line gives rules too ({options}); give them in one place: in the functionConfig, or on the command line with a plain stream on standard input")]
    RulesTwice { options: String },
}

impl<'a> ResourceList<'a> {
    /// The input as a `ResourceList`, or `None` when it is not one. Only an input that holds
    /// the word `ResourceList` and one document is parsed; when that document is not valid
    /// YAML, the error is the one a plain render would give.
    pub fn read(input: &'a [u8]) -> Result<Option<ResourceList<'a>>, LocateError> {
        let looks_like_one = std::str::from_utf8(input).is_ok_and(|t| t.contains("ResourceList"));
        let Some(stream) = looks_like_one.then(|| Stream::read(input).ok()).flatten() else {
            return Ok(None);
        };
        let mut documents = stream
            .chunks()
            .iter()
            .filter(|c| !is_blank(stream.chunk_text(c)));
        let (Some(chunk), None) = (documents.next(), documents.next()) else {
            return Ok(None);
        };
        let tree = locate::parse_chunk(&stream, chunk)?;
        let Some(root) = tree.root().map(|r| tree.resolve(r)) else {
            return Ok(None);
        };
        let is_list = matches!(tree.node(root).kind, Kind::Map { .. })
            && tree.get_str(root, "kind") == Some("ResourceList")
            && tree
                .get_str(root, "apiVersion")
                .is_some_and(|v| API_VERSIONS.contains(&v));
        Ok(is_list.then(|| ResourceList {
            text: stream.text(),
            chunk: chunk.clone(),
            tree,
            root,
        }))
    }

    /// The whole input.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The file of each item, by index in `items`, from the orchestrator's annotations.
    pub fn files(&self) -> Vec<Option<FileRef>> {
        let tree = &self.tree;
        let items = tree.get(self.root, "items").map(|i| tree.resolve(i));
        items
            .map(|items| tree.items(items))
            .unwrap_or_default()
            .iter()
            .map(|&item| {
                let metadata = tree.resolve(tree.get(tree.resolve(item), "metadata")?);
                let annotations = tree.resolve(tree.get(metadata, "annotations")?);
                let first = |keys: &[&str]| {
                    keys.iter()
                        .find_map(|key| tree.get_str(annotations, key))
                        .map(str::to_string)
                };
                Some(FileRef {
                    path: first(PATH_ANNOTATIONS)?,
                    index: first(INDEX_ANNOTATIONS).and_then(|i| i.trim().parse().ok()),
                })
            })
            .collect()
    }

    /// `output` (a render of this list's text) with `entries` as the list's `results`: in
    /// place of the `results` it had, else after its last field. No entries leave the list's
    /// own `results`, if any, as they are.
    pub fn with_results(
        &self,
        output: apply::Output<'a>,
        entries: &[Entry],
    ) -> Result<apply::Output<'a>, ApplyError> {
        if entries.is_empty() {
            return Ok(output);
        }
        output.with(self.results_splice(entries))
    }

    /// The list as it came, with one `error` result: what a failed run writes.
    pub fn failed(&self, message: &str) -> Result<apply::Output<'a>, ApplyError> {
        self.with_results(
            apply::Output::unchanged(self.text),
            &[Entry::error(message)],
        )
    }

    /// The splice that writes `entries` as the list's `results`.
    fn results_splice(&self, entries: &[Entry]) -> Splice {
        let tree = &self.tree;
        let root = tree.node(self.root);
        let existing = tree.entry(self.root, "results");
        if matches!(root.kind, Kind::Map { flow: true, .. }) {
            let list = results::flow(entries);
            return match existing {
                Some((_, value)) => {
                    let value = tree.node(value);
                    Splice {
                        range: value.props..value.span.end,
                        text: list,
                    }
                }
                None => {
                    let last = tree.entries(self.root).last().map(|&(_, v)| tree.node(v));
                    let at = last.map_or(root.span.start + 1, |v| v.span.end);
                    let comma = if last.is_some() { ", " } else { "" };
                    Splice {
                        range: at..at,
                        text: format!("{comma}\"results\": {list}"),
                    }
                }
            };
        }
        let indent = " ".repeat(root.col);
        let newline = self.chunk.newline;
        let block = results::block(entries, &indent, newline);
        match existing {
            Some((key, value)) => {
                let start = self.line_start(tree.node(key).props);
                Splice {
                    range: start..self.entry_end(tree.node(value).span.end),
                    text: block,
                }
            }
            None => {
                let end = tree
                    .entries(self.root)
                    .last()
                    .map_or(root.span.end, |&(_, v)| tree.node(v).span.end);
                let at = self.entry_end(end);
                let before = self.text.get(..at).unwrap_or_default();
                let text = if before.is_empty() || before.ends_with(['\n', '\r']) {
                    block
                } else {
                    format!("{newline}{block}")
                };
                Splice {
                    range: at..at,
                    text,
                }
            }
        }
    }

    /// Where the line holding byte `at` starts.
    fn line_start(&self, at: usize) -> usize {
        let before = self.text.get(..at).unwrap_or_default();
        before.rfind(['\n', '\r']).map_or(0, |i| i + 1)
    }

    /// Where the block entry whose value ends at byte `end` ends: after the line break that
    /// ends its last line (a comment on that line included), or at `end` when it is the start
    /// of a line already (a block scalar ends after its line break), or at the end of the
    /// document.
    fn entry_end(&self, end: usize) -> usize {
        let document = self.chunk.range.clone();
        let before = self.text.get(document.start..end).unwrap_or_default();
        if end > document.start && before.ends_with(['\n', '\r']) {
            return end;
        }
        let rest = self.text.get(end..document.end).unwrap_or_default();
        rest.find(['\n', '\r']).map_or(document.end, |i| {
            let crlf = rest.get(i..).is_some_and(|r| r.starts_with("\r\n"));
            end + i + if crlf { 2 } else { 1 }
        })
    }

    /// The node of `functionConfig`, if the list has one that is not null.
    fn function_config(&self) -> Option<NodeId> {
        let tree = &self.tree;
        let config = tree.resolve(tree.get(self.root, "functionConfig")?);
        (!tree.is_null(config)).then_some(config)
    }
}

/// Whether a document holds nothing but white space and comments.
fn is_blank(text: &str) -> bool {
    text.split(['\n', '\r'])
        .map(str::trim)
        .all(|line| line.is_empty() || line.starts_with('#'))
}

#[cfg(test)]
mod tests;
