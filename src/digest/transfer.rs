//! The registry client as the [`copy::Registry`] of `reimage mirror`: the distribution API's
//! manifest GET, HEAD and PUT, blob HEAD and GET (streamed to a file), cross-repository
//! mounts, and uploads: monolithic (POST for an upload URL, then one PUT of the whole blob,
//! streamed from its file), or chunked (PATCH requests of consecutive ranges, then a PUT
//! that closes the upload) when the monolithic PUT is refused as too large. Logins, retries,
//! redirects, proxies and TLS are the client's, as for digest lookups; the destination asks
//! for `pull,push` access.

use std::path::Path;
use std::sync::Arc;

use crate::copy::{self, Fetched, Manifest};
use crate::reference::Reference;

use super::client::{RegistryClient, Session};
use super::error::ResolveError;
use super::http::{follow, Method, Payload, Reply, SaveTo};
use super::manifest::{check_digest, Algorithm, ACCEPT};

const PULL: &str = "pull";
const PUSH: &str = "pull,push";

impl copy::Source for RegistryClient {
    fn manifest(&self, image: &Reference) -> Result<Option<Manifest>, ResolveError> {
        let session = self.session(image, PULL);
        let url = session.url().to_string();
        let reply = session.exchange(Method::Get, &url, Some(ACCEPT), None)?;
        match reply.status {
            200 => {}
            404 => return Ok(None),
            _ => return Err(session.refusal(&reply)),
        }
        let algorithm = image.digest().map_or(Algorithm::Sha256, Algorithm::of);
        let digest = algorithm.digest(&reply.body);
        if let Some(sent) = sent_digest(&session, &reply)? {
            if sent != digest && Algorithm::of(&sent) == algorithm {
                return Err(session.digest_problem(format!(
                    "the registry says the manifest is `{sent}`, but its bytes hash to `{digest}`; a proxy may be changing them"
                )));
            }
        }
        let media_type = reply
            .header("content-type")
            .map(|t| t.split(';').next().unwrap_or(t).trim().to_string())
            .unwrap_or_default();
        Ok(Some(Manifest {
            media_type,
            bytes: reply.body,
            digest,
        }))
    }

    fn fetch_blob(
        &self,
        repo: &Reference,
        digest: &str,
        into: &Path,
    ) -> Result<Fetched, ResolveError> {
        let session = self.session(repo, PULL);
        let url = blob_url(&session, repo, digest);
        let save_to = SaveTo {
            path: into,
            algorithm: Algorithm::of(digest),
        };
        let reply = session.exchange(Method::Get, &url, None, Some(save_to))?;
        match (reply.status, reply.saved) {
            (200, Some(saved)) => Ok(Fetched {
                size: saved.size,
                digest: saved.digest,
            }),
            _ => Err(session.refusal_of_blob(reply.status, digest)),
        }
    }
}

impl copy::Destination for RegistryClient {
    fn manifest_digest(&self, image: &Reference) -> Result<Option<String>, ResolveError> {
        let session = self.session(image, PULL);
        let url = session.url().to_string();
        let reply = session.exchange(Method::Head, &url, Some(ACCEPT), None)?;
        match reply.status {
            200 => match sent_digest(&session, &reply)? {
                Some(digest) => Ok(Some(digest)),
                None => Ok(copy::Source::manifest(self, image)?.map(|m| m.digest)),
            },
            404 => Ok(None),
            // A registry that refuses the look before a push (no pull access yet) is asked
            // again by the push, which reports what it says.
            401 | 403 => Ok(None),
            _ => Err(session.refusal(&reply)),
        }
    }

    fn has_blob(&self, repo: &Reference, digest: &str) -> Result<bool, ResolveError> {
        let session = self.session(repo, PUSH);
        let url = blob_url(&session, repo, digest);
        let reply = session.exchange(Method::Head, &url, None, None)?;
        match reply.status {
            200 => Ok(true),
            404 | 401 | 403 => Ok(false),
            _ => Err(session.refusal(&reply)),
        }
    }

    fn mount_blob(
        &self,
        repo: &Reference,
        digest: &str,
        from: &Reference,
    ) -> Result<bool, ResolveError> {
        let session = self.session_also_pulling(repo, PUSH, Some(from));
        let url = format!(
            "{}/v2/{}/blobs/uploads/?mount={digest}&from={}",
            session.endpoint.base(),
            repo.repository(),
            from.repository()
        );
        let reply = match session.exchange(Method::Post, &url, None, None) {
            Ok(reply) => reply,
            // A token service that will not grant pull on the other repository as well: no
            // mount, and the blob is uploaded (with the push token it grants on its own).
            Err(ResolveError::Auth { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        // 202: the registry started an upload instead; it is left to expire.
        Ok(reply.status == 201)
    }

    fn push_blob(
        &self,
        repo: &Reference,
        digest: &str,
        file: &Path,
        size: u64,
    ) -> Result<(), ResolveError> {
        let session = self.session(repo, PUSH);
        let (location, _) = start_upload(&session, repo)?;
        let put = Method::Put {
            content_type: "application/octet-stream".into(),
            body: Payload::File {
                path: file.to_path_buf(),
                offset: 0,
                size,
            },
        };
        let reply = session.exchange(put, &with_digest(&location, digest), None, None)?;
        match reply.status {
            201 => Ok(()),
            // Too large for one request (a proxy in front of the registry, most often): the
            // blob goes up again, in chunks.
            413 => push_chunked(&session, repo, digest, file, size),
            _ => Err(session.refusal(&reply)),
        }
    }

    fn push_manifest(
        &self,
        image: &Reference,
        manifest: &Manifest,
    ) -> Result<Option<String>, ResolveError> {
        let session = self.session(image, PUSH);
        let url = session.url().to_string();
        let put = Method::Put {
            content_type: manifest.media_type.clone(),
            body: Payload::Bytes(Arc::new(manifest.bytes.clone())),
        };
        let reply = session.exchange(put, &url, None, None)?;
        match reply.status {
            200 | 201 => sent_digest(&session, &reply),
            _ => Err(session.refusal(&reply)),
        }
    }
}

/// The first chunk of a chunked upload; halved after each `413`, down to [`SMALLEST_CHUNK`].
const FIRST_CHUNK: u64 = 16 << 20;
const SMALLEST_CHUNK: u64 = 64 << 10;

/// Starts an upload: its URL, and the smallest chunk the registry takes
/// (`OCI-Chunk-Min-Length`), if it says.
fn start_upload(session: &Session<'_>, repo: &Reference) -> Result<(String, u64), ResolveError> {
    let start = format!(
        "{}/v2/{}/blobs/uploads/",
        session.endpoint.base(),
        repo.repository()
    );
    let reply = session.exchange(Method::Post, &start, None, None)?;
    let smallest = reply
        .header("oci-chunk-min-length")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    match (reply.status, reply.header("location")) {
        (202, Some(location)) => Ok((follow(&start, location), smallest)),
        _ => Err(session.refusal(&reply)),
    }
}

/// A fresh upload sent as PATCH requests of consecutive ranges of the file, each to the
/// location the previous answer gave, then closed by a PUT with the digest and no body. A
/// chunk refused as too large (`413`, nothing taken) is sent again at half the size.
fn push_chunked(
    session: &Session<'_>,
    repo: &Reference,
    digest: &str,
    file: &Path,
    size: u64,
) -> Result<(), ResolveError> {
    let (mut location, smallest) = start_upload(session, repo)?;
    // The whole blob was too large: start below it.
    let mut chunk = FIRST_CHUNK
        .min((size / 2).max(SMALLEST_CHUNK))
        .max(smallest);
    let mut offset = 0;
    while offset < size {
        let length = chunk.min(size - offset);
        let patch = Method::Patch {
            body: Payload::File {
                path: file.to_path_buf(),
                offset,
                size: length,
            },
        };
        let reply = session.exchange(patch, &location, None, None)?;
        match (reply.status, reply.header("location")) {
            (202, Some(next)) => {
                location = follow(&location, next);
                offset += length;
            }
            (413, _) if chunk / 2 >= SMALLEST_CHUNK.max(smallest) => chunk /= 2,
            _ => return Err(session.refusal(&reply)),
        }
    }
    let close = Method::Put {
        content_type: "application/octet-stream".into(),
        body: Payload::Bytes(Arc::new(Vec::new())),
    };
    let reply = session.exchange(close, &with_digest(&location, digest), None, None)?;
    match reply.status {
        201 => Ok(()),
        _ => Err(session.refusal(&reply)),
    }
}

/// An upload URL with `digest=…` added to its query.
fn with_digest(location: &str, digest: &str) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}digest={digest}")
}

fn blob_url(session: &Session<'_>, repo: &Reference, digest: &str) -> String {
    format!(
        "{}/v2/{}/blobs/{digest}",
        session.endpoint.base(),
        repo.repository()
    )
}

/// The `Docker-Content-Digest` of an answer, checked, if it has one.
fn sent_digest(session: &Session<'_>, reply: &Reply) -> Result<Option<String>, ResolveError> {
    reply
        .header("docker-content-digest")
        .map(check_digest)
        .transpose()
        .map_err(|p| session.digest_problem(p))
}
