//! What a manifest points at: the platform manifests of an index (or Docker manifest list),
//! or the config and layer blobs of an image manifest. Only the `mediaType`, `manifests`,
//! `config` and `layers` members are read; the bytes are never rewritten, so the copy keeps
//! the digest the source serves.

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
}

impl From<RawDescriptor> for Descriptor {
    fn from(raw: RawDescriptor) -> Descriptor {
        Descriptor {
            digest: raw.digest,
            size: raw.size,
            media_type: raw.media_type,
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
        assert!(manifest("x", "{}").content().is_err());
        assert!(manifest("x", "not json").content().is_err());
    }
}
