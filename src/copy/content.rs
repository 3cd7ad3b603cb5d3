//! What a manifest points at: the platform manifests of an index (or Docker manifest list),
//! or the config and layer blobs of an image manifest. Only the `mediaType`, `manifests`,
//! `config`, `layers` and `platform` members are read; the bytes are never rewritten, so the
//! copy keeps the digest the source serves — except for [`Manifest::only`], which makes the
//! smaller index a `--platform` subset asks for.

use std::fmt;

use serde::Deserialize;

/// The media types of an index: OCI, and Docker's manifest list.
const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// A manifest as served, with the digest of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The `Content-Type` it was served with (else its `mediaType` member).
    pub media_type: String,
    pub bytes: Vec<u8>,
    /// `algorithm:hex` of `bytes`.
    pub digest: String,
}

/// A blob or manifest a manifest points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    /// The platform an index gives its entry (none when it gives none, or one that cannot
    /// be read: such an entry is copied, but never matches `--platform`).
    pub platform: Option<Platform>,
    /// `vnd.docker.reference.digest`: the manifest an attestation entry describes.
    pub describes: Option<String>,
}

impl Descriptor {
    /// The platform of an index entry for an image that runs somewhere: none for an
    /// attestation (`unknown/unknown`) or an entry without one.
    pub fn real_platform(&self) -> Option<&Platform> {
        self.platform.as_ref().filter(|p| p.is_real())
    }
}

/// An image platform: `os/architecture[/variant]`, as `--platform` takes it and an index
/// entry's `platform` member holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/amd64`, `linux/arm64/v8`.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = |part: &&str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        match parts.as_slice() {
            [os, architecture, rest @ ..] if rest.len() <= 1 && parts.iter().all(valid) => {
                Ok(Platform {
                    os: os.to_string(),
                    architecture: architecture.to_string(),
                    variant: rest.first().map(|v| v.to_string()),
                })
            }
            _ => Err(format!(
                "`{text}` is not a platform; write os/architecture[/variant], as linux/amd64 or linux/arm64/v8"
            )),
        }
    }

    /// Whether an index entry for `entry` is what this asks for: the same os and
    /// architecture, and the same variant when this names one (an arm64 entry without one
    /// is `v8`, as containerd reads it).
    pub fn matches(&self, entry: &Platform) -> bool {
        let variant = entry
            .variant
            .as_deref()
            .or(match entry.architecture.as_str() {
                "arm64" => Some("v8"),
                _ => None,
            });
        self.os == entry.os
            && self.architecture == entry.architecture
            && self.variant.as_deref().is_none_or(|v| variant == Some(v))
    }

    /// Whether this names a platform an image runs on: not `unknown/unknown`, which build
    /// tools give the attestation manifests they add to an index.
    pub fn is_real(&self) -> bool {
        self.os != "unknown" && self.architecture != "unknown"
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(variant) => write!(f, "/{variant}"),
            None => Ok(()),
        }
    }
}

/// What a manifest holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// An index: its platform manifests.
    Index(Vec<Descriptor>),
    /// An image manifest: its config, then its layers.
    Image(Vec<Descriptor>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Members {
    media_type: Option<String>,
    manifests: Option<Vec<RawDescriptor>>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    media_type: String,
    /// Read loosely: an entry's odd `platform` must not stop a copy that does not ask.
    #[serde(default)]
    platform: Option<serde_json::Value>,
    #[serde(default)]
    annotations: Option<serde_json::Value>,
}

impl From<RawDescriptor> for Descriptor {
    fn from(raw: RawDescriptor) -> Descriptor {
        let describes = raw
            .annotations
            .as_ref()
            .and_then(|a| a.get("vnd.docker.reference.digest"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        Descriptor {
            digest: raw.digest,
            size: raw.size,
            media_type: raw.media_type,
            platform: raw.platform.and_then(|p| serde_json::from_value(p).ok()),
            describes,
        }
    }
}

impl Manifest {
    /// Its children or blobs; an error names what is wrong with the JSON.
    pub fn content(&self) -> Result<Content, String> {
        let members: Members = serde_json::from_slice(&self.bytes)
            .map_err(|e| format!("the manifest is not the JSON of a manifest: {e}"))?;
        let media_type = members.media_type.as_deref().unwrap_or(&self.media_type);
        let is_index = INDEX_TYPES.contains(&media_type)
            || INDEX_TYPES.contains(&self.media_type.as_str())
            || (members.manifests.is_some() && members.config.is_none());
        if is_index {
            let children = members.manifests.unwrap_or_default();
            return Ok(Content::Index(
                children.into_iter().map(Into::into).collect(),
            ));
        }
        let config = members
            .config
            .ok_or_else(|| "the manifest has neither `manifests` nor `config`".to_string())?;
        let mut blobs = vec![Descriptor::from(config)];
        blobs.extend(
            members
                .layers
                .unwrap_or_default()
                .into_iter()
                .map(Into::into),
        );
        Ok(Content::Image(blobs))
    }

    /// This index with only the entries at `keep` (positions in `manifests`), every other
    /// member as it was: new bytes, so a new digest (sha256). The output is compact JSON
    /// with the members of each object in name order, so the same index and positions give
    /// the same bytes on every run.
    pub fn only(&self, keep: &[usize]) -> Result<Manifest, String> {
        let mut index: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&self.bytes)
                .map_err(|e| format!("the index is not a JSON object: {e}"))?;
        let Some(serde_json::Value::Array(entries)) = index.get_mut("manifests") else {
            return Err("the index has no `manifests` list".into());
        };
        let kept: Vec<serde_json::Value> = entries
            .iter()
            .enumerate()
            .filter(|(n, _)| keep.contains(n))
            .map(|(_, entry)| entry.clone())
            .collect();
        *entries = kept;
        let bytes = serde_json::to_vec(&index).map_err(|e| e.to_string())?;
        Ok(Manifest {
            media_type: self.media_type.clone(),
            digest: crate::digest::sha256_of(&bytes),
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn manifest(media_type: &str, json: &str) -> Manifest {
        Manifest {
            media_type: media_type.into(),
            bytes: json.as_bytes().to_vec(),
            digest: String::new(),
        }
    }

    #[test]
    fn reads_indexes_and_image_manifests() {
        let index = manifest(
            "application/vnd.oci.image.index.v1+json",
            r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":3,"platform":{"os":"linux","architecture":"amd64"}}]}"#,
        );
        let Content::Index(children) = index.content().unwrap() else {
            panic!("not an index")
        };
        assert_eq!(children[0].digest, "sha256:aa");
        let image = manifest(
            "application/vnd.docker.distribution.manifest.v2+json",
            r#"{"schemaVersion":2,"config":{"digest":"sha256:c","size":1},"layers":[{"digest":"sha256:l","size":2}]}"#,
        );
        let Content::Image(blobs) = image.content().unwrap() else {
            panic!("not an image")
        };
        let digests: Vec<&str> = blobs.iter().map(|b| b.digest.as_str()).collect();
        assert_eq!(digests, ["sha256:c", "sha256:l"]);
        let odd = manifest(
            "application/vnd.oci.image.index.v1+json",
            r#"{"manifests":[{"digest":"sha256:aa","size":3,"platform":"linux"},{"digest":"sha256:bb","size":1,"platform":{"os":"unknown","architecture":"unknown"},"annotations":{"vnd.docker.reference.digest":"sha256:aa"}}]}"#,
        );
        let Content::Index(children) = odd.content().unwrap() else {
            panic!("not an index")
        };
        assert_eq!(
            children[0].platform, None,
            "an odd platform is read as none"
        );
        assert_eq!(children[1].describes.as_deref(), Some("sha256:aa"));
        assert!(manifest("x", "{}").content().is_err());
        assert!(manifest("x", "not json").content().is_err());
    }

    #[test]
    fn platforms_parse_and_match() {
        let amd64 = Platform::parse("linux/amd64").unwrap();
        let arm64 = Platform::parse("linux/arm64").unwrap();
        let v8 = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(v8.to_string(), "linux/arm64/v8");
        assert!(arm64.matches(&v8), "no variant asked: any variant");
        assert!(
            v8.matches(&v8) && v8.matches(&arm64),
            "arm64 without a variant is v8"
        );
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        assert!(!v7.matches(&Platform::parse("linux/arm").unwrap()));
        assert!(!Platform::parse("unknown/unknown").unwrap().is_real());
        assert!(!amd64.matches(&arm64));
        for bad in [
            "linux",
            "linux/",
            "/amd64",
            "linux/arm/v7/x",
            "linux/amd 64",
            "",
        ] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_subset_of_an_index_keeps_everything_else_and_the_same_bytes_each_time() {
        let index = manifest(
            "application/vnd.oci.image.index.v1+json",
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
              {"digest":"sha256:a","size":1,"platform":{"os":"linux","architecture":"amd64"}},
              {"digest":"sha256:b","size":2,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
              {"digest":"sha256:c","size":3,"platform":{"os":"linux","architecture":"s390x"}}],
              "annotations":{"org.example":"kept"}}"#,
        );
        let made = index.only(&[0, 2]).unwrap();
        assert_eq!(made, index.only(&[0, 2]).unwrap());
        assert_eq!(made.digest, crate::digest::sha256_of(&made.bytes));
        assert_eq!(made.media_type, index.media_type);
        let Content::Index(children) = made.content().unwrap() else {
            panic!("not an index")
        };
        let digests: Vec<&str> = children.iter().map(|c| c.digest.as_str()).collect();
        assert_eq!(digests, ["sha256:a", "sha256:c"]);
        assert_eq!(
            children[1]
                .platform
                .as_ref()
                .map(Platform::to_string)
                .as_deref(),
            Some("linux/s390x")
        );
        let text = String::from_utf8(made.bytes).unwrap();
        assert!(
            text.contains(r#""annotations":{"org.example":"kept"}"#),
            "{text}"
        );
        assert!(text.contains(r#""schemaVersion":2"#), "{text}");
    }
}
