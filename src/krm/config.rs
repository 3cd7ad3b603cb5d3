//! The rules in a `ResourceList`'s `functionConfig`, in one of two forms:
//! - a ConfigMap (`apiVersion: v1`) whose `data.rules` holds a rules file as text;
//! - `apiVersion: reimage/v1`, `kind: Rules`, whose top-level fields other than `apiVersion`,
//!   `kind` and `metadata` are a rules file's, `version` optional (the `apiVersion` says it).
//!
//! The second is read from the list's own bytes: the fields that are not rules are blanked
//! out where they stand and everything before the `functionConfig` is left as empty lines, so
//! the rules parser reads the rest in place and its messages give lines and columns of the
//! input. Paths in the rules (`digests.lock`, `digests.caFiles`) are relative to the working
//! directory the orchestrator runs reimage in.

use std::ops::Range;
use std::path::Path;

use super::{FunctionError, ResourceList};
use crate::error::Error;
use crate::rules::{Origin, Rules, Version};
use crate::tree::{Kind, NodeId};

/// The `apiVersion` of `kind: Rules`.
pub const RULES_API_VERSION: &str = "reimage/v1";

/// The fields of `kind: Rules` that are the object's, not the rules'.
const OBJECT_FIELDS: &[&str] = &["apiVersion", "kind", "metadata"];

impl ResourceList<'_> {
    /// The rules the `functionConfig` holds, and where they come from (for the log).
    pub fn rules(&self) -> Result<(Rules, &'static str), Error> {
        let Some(config) = self.function_config() else {
            return Err(FunctionError::NoConfig.into());
        };
        let tree = &self.tree;
        let api_version = tree.get_str(config, "apiVersion").unwrap_or_default();
        let kind = tree.get_str(config, "kind").unwrap_or_default();
        let origin = Origin::new("functionConfig");
        match (api_version, kind) {
            ("v1", "ConfigMap") => {
                let text = self.config_map_rules(config, &origin)?;
                let name = "functionConfig data.rules";
                let rules = Rules::from_text(text, Path::new(""), name, Version::Required)?;
                Ok((rules, "functionConfig (ConfigMap data.rules)"))
            }
            (RULES_API_VERSION, "Rules") => {
                let text = self.rules_fields(config);
                let rules =
                    Rules::from_text(&text, Path::new(""), "functionConfig", Version::Implied)?;
                Ok((rules, "functionConfig (reimage/v1 Rules)"))
            }
            (other, "Rules") if other.starts_with("reimage/") => Err(origin
                .invalid(
                    "apiVersion",
                    format!("`{other}` is not supported; this reimage reads `{RULES_API_VERSION}`"),
                )
                .into()),
            _ => Err(FunctionError::UnknownConfig {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            }
            .into()),
        }
    }

    /// The text of a ConfigMap's `data.rules`; any other key of `data` is refused.
    fn config_map_rules(&self, config: NodeId, origin: &Origin) -> Result<&str, Error> {
        let tree = &self.tree;
        let missing = || {
            origin.invalid(
                "data.rules",
                "missing; give the rules file as text: `rules: |`, then the file, indented",
            )
        };
        let data = tree.get(config, "data").map(|d| tree.resolve(d));
        let data = data.filter(|&d| matches!(tree.node(d).kind, Kind::Map { .. }));
        let data = data.ok_or_else(missing)?;
        for (key, _) in tree.fields(data).iter() {
            let key = tree.scalar(tree.resolve(*key)).unwrap_or_default();
            if key != "rules" {
                return Err(origin
                    .invalid(
                        format!("data.{key}"),
                        "unknown key; the rules file goes in `data.rules`, as text",
                    )
                    .into());
            }
        }
        let rules = tree.resolve(tree.get(data, "rules").ok_or_else(missing)?);
        if tree.is_null(rules) {
            return Err(missing().into());
        }
        tree.scalar(rules).ok_or_else(|| {
            origin
                .invalid(
                    "data.rules",
                    "must be the rules file as text: write `rules: |`, then the file, indented",
                )
                .into()
        })
    }

    /// The text of a `kind: Rules` object as a rules file: the input's lines up to the
    /// object left empty, then the object with its own fields blanked out.
    fn rules_fields(&self, config: NodeId) -> String {
        let tree = &self.tree;
        let node = tree.node(config);
        let flow = matches!(node.kind, Kind::Map { flow: true, .. });
        let mut blanked: Vec<Range<usize>> = tree
            .entries(config)
            .iter()
            .filter(|(key, _)| {
                let key = tree.scalar(tree.resolve(*key)).unwrap_or_default();
                OBJECT_FIELDS.contains(&key)
            })
            .map(|&(key, value)| {
                let entry = tree.node(key).props..tree.node(value).span.end;
                if flow {
                    self.with_comma(entry)
                } else {
                    entry
                }
            })
            .collect();
        blanked.sort_by_key(|r| r.start);
        let mut out = "\n".repeat(node.line.saturating_sub(1));
        out.extend(std::iter::repeat_n(' ', node.col));
        let mut at = node.span.start;
        for range in blanked {
            let start = range.start.max(at);
            out.push_str(self.text.get(at..start).unwrap_or_default());
            let gone = self
                .text
                .get(start..range.end.max(start))
                .unwrap_or_default();
            out.extend(
                gone.chars()
                    .map(|c| if matches!(c, '\n' | '\r') { c } else { ' ' }),
            );
            at = range.end.max(at);
        }
        out.push_str(self.text.get(at..node.span.end).unwrap_or_default());
        out
    }

    /// A flow mapping's entry with the comma that separates it from the next entry, or, for
    /// the last one, from the entry before.
    fn with_comma(&self, entry: Range<usize>) -> Range<usize> {
        let after = self.text.get(entry.end..).unwrap_or_default();
        let gap = after.len() - after.trim_start().len();
        if after.get(gap..).is_some_and(|rest| rest.starts_with(',')) {
            return entry.start..entry.end + gap + 1;
        }
        let before = self.text.get(..entry.start).unwrap_or_default();
        let trimmed = before.trim_end();
        match trimmed.strip_suffix(',') {
            Some(rest) => rest.len()..entry.end,
            None => entry,
        }
    }
}
