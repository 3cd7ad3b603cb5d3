//! Rules from kustomize's image list: the `images:` of a kustomization, and the
//! `spec.postRenderers[].kustomize.images` of a Flux `HelmRelease` (which Flux hands to the same
//! kustomize transformer), as a rules file of `images:` overrides.
//!
//! kustomize (`api/filters/imagetag`) and reimage differ in ways an import must say:
//!
//! - kustomize matches `name` against each image as written, as the regular expression
//!   `^NAME(:tag)?(@digest)?$`: `nginx` matches `nginx:1.25` but not `docker.io/library/nginx`.
//!   reimage compares normalised names, so an imported override also applies to the other
//!   spellings of the same image. A name with regular-expression syntax in it (`*`, `[`, `|` …)
//!   cannot be expressed and is left out.
//! - `digest` without `newTag`: kustomize drops the tag (`name@digest`), reimage keeps it
//!   (`name:tag@digest`); the same image is pulled.
//! - `tagSuffix` (appended to the tag) has no equivalent; kustomize ignores it when `newTag` or
//!   `digest` is given, and so does the import.
//! - kustomize edits `containers` and `initContainers` anywhere in any object but a CRD;
//!   reimage finds images where its table and `paths:` say (`reimage images` lists them).
//!
//! Everything else in those files (patches, name prefixes, labels, generators …) changes more
//! than images and is listed as not expressed. Each entry is checked by the rules reader
//! itself, so the output is always a rules file reimage reads.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use super::{Rules, RulesError};
use crate::reference::Reference;
use crate::report::printable;

/// A rules file made from another tool's image list, and what it could not express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The rules file, with the notes as comments at its top.
    pub text: String,
    /// What could not be expressed, one sentence each.
    pub notes: Vec<String>,
}

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {file}: {cause}; check the path")]
    Read { file: String, cause: std::io::Error },
    #[error("{file}: document {document}: {message}")]
    Yaml {
        file: String,
        document: usize,
        message: String,
    },
    #[error("{file}: no kustomization or Flux HelmRelease in it; give a kustomization.yaml, or a file with a `helm.toolkit.fluxcd.io` HelmRelease")]
    Nothing { file: String },
}

impl ImportError {
    fn yaml(file: &str, document: usize, error: &serde_yaml::Error) -> ImportError {
        ImportError::Yaml {
            file: file.to_string(),
            document,
            message: error.to_string(),
        }
    }
}

/// One entry of kustomize's `images:` (`api/types/image.go`); an empty value is no value, as
/// kustomize's `omitempty` fields read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KustomizeImage {
    name: Option<String>,
    new_name: Option<String>,
    new_tag: Option<String>,
    digest: Option<String>,
    tag_suffix: Option<String>,
}

/// What a kustomization holds, for the import: its images. Other keys are read untyped.
#[derive(Debug, Default, Deserialize)]
struct Kustomization {
    images: Option<Vec<KustomizeImage>>,
}

/// A Flux HelmRelease, as far as the import reads it.
#[derive(Debug, Default, Deserialize)]
struct HelmRelease {
    metadata: Option<Metadata>,
    spec: Option<ReleaseSpec>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    name: Option<String>,
    namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseSpec {
    post_renderers: Option<Vec<PostRenderer>>,
}

#[derive(Debug, Default, Deserialize)]
struct PostRenderer {
    kustomize: Option<KustomizeRenderer>,
}

#[derive(Debug, Default, Deserialize)]
struct KustomizeRenderer {
    images: Option<Vec<KustomizeImage>>,
}

/// Keys of a kustomization that name what the build reads, not how it changes it.
const INPUTS: [&str; 4] = ["resources", "bases", "components", "crds"];

/// The file's `images:` lists as one rules file; `file` names it in messages.
pub fn import(text: &str, file: &str) -> Result<Imported, ImportError> {
    // Every document as a plain value first: this stops at the first YAML error, and counts
    // the documents.
    let mut values = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = serde_yaml::Value::deserialize(document)
            .map_err(|e| ImportError::yaml(file, index + 1, &e))?;
        values.push(value);
    }
    let mut import = Import {
        single: values.len() == 1,
        ..Import::default()
    };
    // Then the kustomize parts again, typed, which reads a plain `1.20` as the text `1.20`.
    let typed = serde_yaml::Deserializer::from_str(text);
    for ((index, value), typed) in values.iter().enumerate().zip(typed) {
        let document = index + 1;
        let yaml = |e: serde_yaml::Error| ImportError::yaml(file, document, &e);
        match Source::of(value) {
            Source::Empty => {}
            Source::Kustomization => {
                let k = Kustomization::deserialize(typed).map_err(yaml)?;
                import.kustomization(document, value, k);
            }
            Source::HelmRelease => {
                let release = HelmRelease::deserialize(typed).map_err(yaml)?;
                import.helm_release(document, value, release);
            }
            Source::Other(what) => import.notes.push(format!(
                "document {document}: a {what} is neither a kustomization nor a Flux HelmRelease; left out"
            )),
        }
    }
    if import.sources.is_empty() {
        return Err(ImportError::Nothing {
            file: file.to_string(),
        });
    }
    Ok(import.finish(file))
}

/// What a document is.
enum Source {
    Empty,
    Kustomization,
    HelmRelease,
    Other(String),
}

impl Source {
    fn of(value: &serde_yaml::Value) -> Source {
        if value.is_null() {
            return Source::Empty;
        }
        let field = |key: &str| value.get(key).and_then(serde_yaml::Value::as_str);
        match (field("apiVersion"), field("kind")) {
            // A kustomization.yaml may leave out both.
            (None, None) if value.is_mapping() => Source::Kustomization,
            (Some(api), Some("Kustomization")) if api.starts_with("kustomize.config.k8s.io/") => {
                Source::Kustomization
            }
            (Some(api), Some("HelmRelease")) if api.starts_with("helm.toolkit.fluxcd.io/") => {
                Source::HelmRelease
            }
            (Some(api), Some("Kustomization"))
                if api.starts_with("kustomize.toolkit.fluxcd.io/") =>
            {
                Source::Other(format!(
                    "Flux Kustomization (`{api}`), which runs kustomize itself on what it applies,"
                ))
            }
            (api, kind) => Source::Other(format!(
                "`{}` of `{}`",
                kind.unwrap_or("document without kind"),
                api.unwrap_or("no apiVersion")
            )),
        }
    }
}

/// The import so far.
#[derive(Debug, Default)]
struct Import {
    /// `name: …` blocks of the `images:` list, as YAML.
    entries: Vec<String>,
    /// Normalised names already overridden, with where.
    names: Vec<(String, String)>,
    /// Where the entries come from (`kustomization`, `HelmRelease ns/name`).
    sources: Vec<String>,
    /// Whether the file is one document, whose messages then need no number.
    single: bool,
    notes: Vec<String>,
    /// Whether an entry pins a digest without a tag, which reimage writes differently.
    digest_only: bool,
}

impl Import {
    fn kustomization(&mut self, document: usize, value: &serde_yaml::Value, k: Kustomization) {
        let at = self.place(document, "the kustomization".to_string());
        self.sources.push(at.clone());
        let mut inputs = Vec::new();
        for key in keys(value) {
            match key.as_str() {
                "apiVersion" | "kind" | "metadata" | "images" => {}
                "imageTags" => self.notes.push(format!(
                    "{at}: `imageTags` is the old name of `images`; rename it (`kustomize edit fix`) and import again"
                )),
                input if INPUTS.contains(&input) => inputs.push(format!("`{input}`")),
                other => self.notes.push(format!(
                    "{at}: `{other}` cannot be expressed: reimage changes only image references and pull secrets"
                )),
            }
        }
        if !inputs.is_empty() {
            self.notes.push(format!(
                "{at}: {} say what the build reads; reimage reads the rendered stream instead (`kustomize build | reimage`)",
                inputs.join(", ")
            ));
        }
        for (i, image) in k.images.unwrap_or_default().into_iter().enumerate() {
            self.image(&format!("{at} images[{i}]"), image);
        }
    }

    fn helm_release(&mut self, document: usize, value: &serde_yaml::Value, release: HelmRelease) {
        let meta = release.metadata.unwrap_or_default();
        let what = format!(
            "HelmRelease {}/{}",
            meta.namespace.unwrap_or_default(),
            meta.name.unwrap_or_default()
        );
        let at = self.place(document, what);
        self.sources.push(at.clone());
        let renderers = value
            .get("spec")
            .and_then(|spec| spec.get("postRenderers"))
            .and_then(serde_yaml::Value::as_sequence);
        for (i, renderer) in renderers.into_iter().flatten().enumerate() {
            for key in keys(renderer).into_iter().filter(|k| k != "kustomize") {
                self.notes.push(format!(
                    "{at} postRenderers[{i}]: `{key}` is not a kustomize post-renderer; left out"
                ));
            }
            let kustomize = renderer.get("kustomize");
            for key in kustomize.map(keys).unwrap_or_default() {
                if key != "images" {
                    self.notes.push(format!(
                        "{at} postRenderers[{i}].kustomize: `{key}` cannot be expressed: reimage changes only image references and pull secrets"
                    ));
                }
            }
        }
        let typed = release
            .spec
            .and_then(|s| s.post_renderers)
            .unwrap_or_default();
        for (i, renderer) in typed.into_iter().enumerate() {
            let images = renderer
                .kustomize
                .and_then(|k| k.images)
                .unwrap_or_default();
            for (j, image) in images.into_iter().enumerate() {
                self.image(
                    &format!("{at} postRenderers[{i}].kustomize.images[{j}]"),
                    image,
                );
            }
        }
    }

    /// `what`, with its document's number when the file has several.
    fn place(&self, document: usize, what: String) -> String {
        if self.single {
            what
        } else {
            format!("{what} (document {document})")
        }
    }

    /// One kustomize image as an override, or a note on why it is left out.
    fn image(&mut self, at: &str, image: KustomizeImage) {
        let given = |v: Option<String>| v.filter(|v| !v.is_empty());
        let (name, new_name) = (given(image.name), given(image.new_name));
        let (new_tag, digest) = (given(image.new_tag), given(image.digest));
        let Some(name) = name else {
            self.notes.push(format!("{at}: no `name`; left out"));
            return;
        };
        if let Some(c) = name.chars().find(|c| !is_name_char(*c)) {
            self.notes.push(format!(
                "{at}: `{name}` has `{c}`, which kustomize reads as regular-expression syntax; reimage matches names exactly, so it is left out"
            ));
            return;
        }
        if let Some(suffix) = given(image.tag_suffix) {
            if new_tag.is_none() && digest.is_none() {
                self.notes.push(format!(
                    "{at}: `tagSuffix: {suffix}` (appended to each tag) cannot be expressed; `{name}` is left out"
                ));
                return;
            }
            self.notes.push(format!(
                "{at}: `tagSuffix` is ignored, as kustomize ignores it beside `newTag` or `digest`"
            ));
        }
        let mut entry = format!("  - name: {}\n", scalar(&name));
        for (key, value) in [
            ("newName", &new_name),
            ("newTag", &new_tag),
            ("digest", &digest),
        ] {
            if let Some(value) = value {
                let _ = writeln!(entry, "    {key}: {}", scalar(value));
            }
        }
        if let Err(problem) =
            Rules::from_yaml(&format!("version: 1\nimages:\n{entry}"), Path::new(""))
        {
            self.notes
                .push(format!("{at}: {}; left out", problem_of(problem)));
            return;
        }
        let normalised = Reference::parse(&name)
            .map(|r| r.normalized_name())
            .unwrap_or_default();
        if let Some((_, first)) = self.names.iter().find(|(n, _)| *n == normalised) {
            self.notes.push(format!(
                "{at}: `{name}` is the image of {first} once normalised; kustomize tells its spellings apart, reimage has one override per image: the first is kept"
            ));
            return;
        }
        self.digest_only |= digest.is_some() && new_tag.is_none();
        self.names.push((normalised, at.to_string()));
        self.entries.push(entry);
    }

    fn finish(self, file: &str) -> Imported {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "# Imported by `reimage import {file}` from {}.",
            self.sources.join(", ")
        );
        if self.sources.len() > 1 && !self.entries.is_empty() {
            text.push_str("# The images of every source are merged: each override applies to every stream these rules render.\n");
        }
        if !self.entries.is_empty() {
            text.push_str(
                "# kustomize matches `name` against each image as written (`nginx` is not `docker.io/library/nginx`);\n\
                 # reimage compares normalised names, so each override also applies to other spellings of its image.\n",
            );
        }
        if self.digest_only {
            text.push_str(
                "# A `digest` without `newTag` keeps the tag here (`name:tag@digest`); kustomize drops it. The same image is pulled.\n",
            );
        }
        if !self.notes.is_empty() {
            text.push_str("# Not expressed:\n");
            for note in &self.notes {
                let _ = writeln!(text, "# - {}", printable(note.clone(), false));
            }
        }
        text.push_str("version: 1\n");
        if self.entries.is_empty() {
            text.push_str("images: []\n");
        } else {
            text.push_str("images:\n");
            for entry in &self.entries {
                text.push_str(entry);
            }
        }
        Imported {
            text,
            notes: self.notes,
        }
    }
}

/// The keys of a mapping, as strings, sorted.
fn keys(value: &serde_yaml::Value) -> Vec<String> {
    value
        .as_mapping()
        .map(|map| {
            map.keys()
                .map(|k| match k.as_str() {
                    Some(s) => s.to_string(),
                    None => serde_yaml::to_string(k)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        })
        .unwrap_or_default()
}

/// A character of an image name (`host:port/path`), which kustomize's pattern reads as
/// itself; `.` matches any character there, but a name means the dot.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':')
}

/// `value` as a YAML scalar that reads back as the same string: plain when it does, else
/// double-quoted (a JSON string is a YAML double-quoted scalar).
fn scalar(value: &str) -> String {
    let plain =
        serde_yaml::from_str::<serde_yaml::Value>(value).is_ok_and(|v| v.as_str() == Some(value));
    if plain && !value.contains('#') {
        value.to_string()
    } else {
        serde_json::to_string(value).unwrap_or_default()
    }
}

/// What a rules error says about the entry, without the file and entry it names.
fn problem_of(error: RulesError) -> String {
    match error {
        RulesError::Invalid { at, problem, .. } => {
            let key = at.split_once('.').map_or("", |(_, key)| key);
            if key.is_empty() {
                problem
            } else {
                format!("`{key}`: {problem}")
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imported(text: &str) -> Imported {
        import(text, "k.yaml").unwrap()
    }

    #[test]
    fn values_are_read_as_written_and_written_back_so() {
        let out =
            imported("images:\n- {name: nginx, newTag: 1.20}\n- {name: redis, newTag: '7'}\n");
        assert!(
            out.text.contains("  - name: nginx\n    newTag: \"1.20\"\n"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains("  - name: redis\n    newTag: \"7\"\n"),
            "{}",
            out.text
        );
        assert!(out.notes.is_empty(), "{:?}", out.notes);
        let rules = Rules::from_yaml(&out.text, Path::new("")).unwrap();
        assert_eq!(rules.images[0].change.new_tag.as_deref(), Some("1.20"));
    }

    #[test]
    fn what_cannot_be_expressed_is_noted_and_left_out() {
        let out = imported(
            "namePrefix: a-\nimages:\n- {name: 'x|y', newTag: '1'}\n- {name: b, tagSuffix: -x}\n\
             - {name: c, newTag: '2', tagSuffix: -x}\n- {name: docker.io/library/c, newTag: '3'}\n",
        );
        let notes = out.notes.join("\n");
        for expected in [
            "`namePrefix` cannot be expressed",
            "images[0]: `x|y` has `|`",
            "images[1]: `tagSuffix: -x`",
            "images[2]: `tagSuffix` is ignored",
            "images[3]: `docker.io/library/c` is the image of the kustomization images[2]",
        ] {
            assert!(notes.contains(expected), "{expected}\n{notes}");
        }
        let rules = Rules::from_yaml(&out.text, Path::new("")).unwrap();
        assert_eq!(rules.images.len(), 1);
        assert_eq!(rules.images[0].name, "docker.io/library/c");
    }

    #[test]
    fn helm_releases_and_other_documents() {
        let out = imported(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n\
             metadata: {name: web, namespace: apps}\n\
             spec:\n  postRenderers:\n  - kustomize:\n      images: [{name: nginx, newName: m.example.com/nginx}]\n\
             \x20     patchesStrategicMerge: []\n---\nkind: Secret\napiVersion: v1\n",
        );
        assert!(
            out.text
                .contains("  - name: nginx\n    newName: m.example.com/nginx\n"),
            "{}",
            out.text
        );
        let notes = out.notes.join("\n");
        assert!(notes.contains("HelmRelease apps/web (document 1) postRenderers[0].kustomize: `patchesStrategicMerge`"), "{notes}");
        assert!(notes.contains("document 2: a `Secret` of `v1`"), "{notes}");
        assert!(matches!(
            import("kind: Secret\napiVersion: v1\n", "f"),
            Err(ImportError::Nothing { .. })
        ));
        assert!(matches!(
            import("images: [\n", "f"),
            Err(ImportError::Yaml { document: 1, .. })
        ));
    }

    #[test]
    fn scalars_that_would_read_otherwise_are_quoted() {
        assert_eq!(scalar("nginx"), "nginx");
        assert_eq!(scalar("quay.io/x/y"), "quay.io/x/y");
        assert_eq!(scalar("1.20"), "\"1.20\"");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("a #b"), "\"a #b\"");
    }
}
