//! `reimage images`: the images of a run in the forms an air-gapped install needs — a plain
//! list, every occurrence as JSON, `source<TAB>destination` pairs for `skopeo copy` or
//! `crane copy`, a `skopeo sync` source file, the Artifact Hub images annotation, and the
//! input files of Hauler, Zarf and oc-mirror (`inventory/bundlers.rs`).
//!
//! The copy lists copy what the install will pull: the source of each image is the one its
//! final reference stands for ([`source_reference`], shared with `reimage lock --source`), so
//! an override's new tag is copied from the new tag, not the old one.
//!
//! `skopeo sync --src yaml --dest docker` (skopeo 1.9) names what it copies after the source,
//! not after the rules: `DEST/<registry>/<repository>` with `--scoped` (`docker.io/library/…`
//! for Docker Hub; a registry with a port makes it fail, as `host:port` is no path segment),
//! `DEST/<last segment>` without, a tag as `:tag` and a digest as `@digest` (no tag then). The
//! file is written only when one such invocation puts every image where the rules do.

mod bundlers;

use std::collections::{BTreeMap, BTreeSet};

use crate::digest::plain_http_allowed;
use crate::plan::Status;
use crate::quoting::{double_quoted, new_scalar};
use crate::reference::Reference;
use crate::report::{Finding, Report};

pub use bundlers::{hauler, oc_mirror, zarf};

/// Why a list cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// No single `skopeo sync` puts every image where the rules do.
    #[error(
        "`--format skopeo-sync` cannot express where the rules put `{}` ({}): they write `{}`, \
         but `skopeo sync --scoped` writes {}, and without `--scoped` {}; use `--format mirror` \
         and copy each pair with `skopeo copy`",
        .0.image, .0.at, .0.destination, .0.scoped, .0.flat
    )]
    SyncLayout(Box<Misfit>),
    /// The rules put two different images at one reference of the mirror.
    #[error(
        "the rules put two different images at `{}`: `{}` ({}) and `{}` ({}); the mirror can \
         hold only one, so change the rules (a `registries:` entry or an override) so that \
         each lands at its own name",
        .0.destination, .0.first, .0.first_at, .0.second, .0.second_at
    )]
    Collision(Box<Collision>),
}

/// Two images bound for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub destination: String,
    pub first: String,
    pub first_at: String,
    pub second: String,
    pub second_at: String,
}

/// An image that no single `skopeo sync` copies to where the rules put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// The image to copy, as copied.
    pub image: String,
    /// Where its first occurrence is.
    pub at: String,
    /// Where the rules put it.
    pub destination: String,
    /// What `--scoped` would write, and why that fails if it does.
    pub scoped: String,
    /// What a sync without `--scoped` would write.
    pub flat: String,
}

/// Unique references, sorted: the final ones, or (`source`) the ones found.
pub fn text(report: &Report, source: bool) -> String {
    let list: BTreeSet<&str> = report
        .findings
        .iter()
        .map(|f| {
            if source {
                f.original.as_str()
            } else {
                f.final_value.as_str()
            }
        })
        .collect();
    list.into_iter().map(|image| format!("{image}\n")).collect()
}

/// Every occurrence, as a JSON array.
pub fn json(report: &Report) -> String {
    let mut out = serde_json::to_string_pretty(&report.findings).unwrap_or_default();
    out.push('\n');
    out
}

/// One image to copy.
struct Copy {
    /// The image the final reference stands for, fully qualified; by digest when the final
    /// reference has one, else by the final tag.
    source: Reference,
    /// The final reference, by tag when it has one (push by tag), else by digest.
    destination: Reference,
    /// The final tag of an image copied by digest (a pin): what the mirror must also carry
    /// for the tag to be looked up there.
    pinned_tag: Option<String>,
    /// Where the first occurrence is, for messages.
    at: String,
}

/// What must be copied, each pair once, sorted by source then destination; two different
/// images bound for one destination are an error.
fn copies(report: &Report) -> Result<Vec<Copy>, InventoryError> {
    let mut copies: BTreeMap<(String, String), Copy> = BTreeMap::new();
    let mut by_destination: BTreeMap<String, (String, String)> = BTreeMap::new();
    for finding in report
        .findings
        .iter()
        .filter(|f| f.status == Status::Rewritten)
    {
        let Some(copy) = copy(finding) else {
            continue;
        };
        let key = (copy.source.to_string(), copy.destination.to_string());
        if key.0 == key.1 {
            continue;
        }
        let (first, first_at) = by_destination
            .entry(key.1.clone())
            .or_insert_with(|| (key.0.clone(), copy.at.clone()));
        if *first != key.0 {
            return Err(InventoryError::Collision(Box::new(Collision {
                destination: key.1,
                first: first.clone(),
                first_at: first_at.clone(),
                second: key.0,
                second_at: copy.at,
            })));
        }
        copies.entry(key).or_insert(copy);
    }
    Ok(copies.into_values().collect())
}

fn copy(finding: &Finding) -> Option<Copy> {
    let (original, to) = (
        finding.original_reference.as_ref()?,
        finding.final_reference.as_ref()?,
    );
    let from = source_reference(original, to)?;
    let source = Reference::compose(&from.normalized_name(), from.tag(), from.digest());
    let destination = match to.tag() {
        Some(tag) => Reference::compose(to.name(), Some(tag), None),
        None => Reference::compose(to.name(), None, to.digest()),
    };
    Some(Copy {
        source: Reference::parse(&source).ok()?,
        destination: Reference::parse(&destination).ok()?,
        pinned_tag: to
            .tag()
            .filter(|_| from.digest().is_some())
            .map(str::to_string),
        at: finding.location(),
    })
}

/// The image a final reference stands for, where the input found it: the name as written in
/// the input, at the final tag (an override may have changed it), or at the final digest alone
/// when there is one (that is what is pulled; copy tools refuse a tag and a digest together).
/// A `newName` changes where an image goes, not what it is: the input's name stays.
///
/// `reimage lock --source` asks the registries for this, and `--format mirror` and
/// `--format skopeo-sync` copy it.
pub fn source_reference(original: &Reference, final_reference: &Reference) -> Option<Reference> {
    let text = match final_reference.digest() {
        Some(digest) => Reference::compose(original.name(), None, Some(digest)),
        None => Reference::compose(original.name(), final_reference.tag(), None),
    };
    Reference::parse(&text).ok()
}

/// The images to copy for `reimage mirror`: the pairs `--format mirror` lists, in its order.
pub fn copy_pairs(report: &Report) -> Result<Vec<crate::copy::Pair>, InventoryError> {
    Ok(copies(report)?
        .into_iter()
        .map(|c| crate::copy::Pair {
            source: c.source,
            destination: c.destination,
        })
        .collect())
}

/// `source<TAB>destination` lines, sorted.
pub fn mirror(report: &Report) -> Result<String, InventoryError> {
    Ok(copies(report)?
        .into_iter()
        .map(|c| format!("{}\t{}\n", c.source, c.destination))
        .collect())
}

/// How one `skopeo sync` names the images it copies under its destination `DEST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `--scoped`: `DEST/<registry>/<repository>`.
    Scoped,
    /// `DEST/<last segment of the repository>`.
    Flat,
}

impl Layout {
    /// What skopeo puts after `DEST/` for `source`.
    fn suffix(self, source: &Reference) -> String {
        let repository = source.repository();
        match self {
            Layout::Scoped => format!("{}/{repository}", source.registry()),
            Layout::Flat => repository
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
        }
    }

    /// The `DEST` under which this layout puts `copy` where the rules do, if there is one.
    fn dest(self, copy: &Copy) -> Option<String> {
        let suffix = self.suffix(&copy.source);
        let dest = copy
            .destination
            .name()
            .strip_suffix(suffix.as_str())?
            .strip_suffix('/')?;
        (!dest.is_empty()).then(|| dest.to_string())
    }
}

/// One layout being tried over the copies: the `DEST` the first copies fixed, while all fit.
struct Candidate {
    layout: Layout,
    dest: Option<String>,
    fits: bool,
}

impl Candidate {
    fn take(&mut self, copy: &Copy) {
        match self.layout.dest(copy) {
            Some(dest) if self.dest.as_ref().is_none_or(|d| *d == dest) => self.dest = Some(dest),
            _ => self.fits = false,
        }
    }

    /// Where this layout would put `copy`, for the message naming an image that does not fit.
    fn would_write(&self, copy: &Copy) -> String {
        let dest = self.dest.as_deref().unwrap_or("DEST");
        let version = version(&copy.source);
        let mut text = format!("`{dest}/{}{version}`", self.layout.suffix(&copy.source));
        if self.dest.is_some() {
            text.push_str(" (DEST as for the images before it)");
        }
        if self.layout == Layout::Scoped && copy.source.registry().contains(':') {
            text.push_str(", which skopeo refuses (a registry port cannot be a path segment)");
        }
        text
    }
}

/// `:tag`, or `@digest`, as skopeo appends it.
fn version(source: &Reference) -> String {
    match (source.digest(), source.tag()) {
        (Some(digest), _) => format!("@{digest}"),
        (None, Some(tag)) => format!(":{tag}"),
        (None, None) => ":latest".to_string(),
    }
}

/// The one layout and `DEST` that put every copy where the rules do (`--scoped` preferred), or
/// the first copy after which none does.
fn sync_layout(copies: &[Copy]) -> Result<Option<(Layout, String)>, InventoryError> {
    let mut candidates = [Layout::Scoped, Layout::Flat].map(|layout| Candidate {
        layout,
        dest: None,
        fits: true,
    });
    for copy in copies {
        let before: Vec<String> = candidates.iter().map(|c| c.would_write(copy)).collect();
        for candidate in candidates.iter_mut().filter(|c| c.fits) {
            candidate.take(copy);
        }
        if candidates.iter().all(|c| !c.fits) {
            let mut before = before.into_iter();
            return Err(InventoryError::SyncLayout(Box::new(Misfit {
                image: copy.source.to_string(),
                at: copy.at.clone(),
                destination: copy.destination.to_string(),
                scoped: before.next().unwrap_or_default(),
                flat: before.next().unwrap_or_default(),
            })));
        }
    }
    Ok(candidates
        .into_iter()
        .find(|c| c.fits)
        .and_then(|c| Some((c.layout, c.dest?))))
}

/// A `skopeo sync --src yaml` file: source registries, their repositories, and the tags (or
/// digests) to copy, after a `#` line with the invocation that puts each image where the
/// rules do. An image without a tag is copied as `latest`, which is what it pulls. A loopback
/// registry is marked `tls-verify: false`, as reimage itself talks plain http to it.
pub fn skopeo_sync(report: &Report) -> Result<String, InventoryError> {
    let copies = copies(report)?;
    let Some((layout, dest)) = sync_layout(&copies)? else {
        return Ok(String::new());
    };
    let mut registries: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for copy in &copies {
        let version = copy
            .source
            .digest()
            .or(copy.source.tag())
            .unwrap_or("latest");
        let versions = registries
            .entry(copy.source.registry().into_owned())
            .or_default()
            .entry(copy.source.repository().into_owned())
            .or_default();
        versions.insert(version.to_string());
        // A pinned image is copied by its digest, which is what pods pull, and by its tag,
        // which is what `reimage lock` looks up in the mirror.
        versions.extend(copy.pinned_tag.clone());
    }
    let mut out = format!("# {}\n", sync_command(layout, &dest));
    for (registry, repositories) in registries {
        out.push_str(&format!("{}:\n", new_scalar(&registry)));
        if plain_http_allowed(&registry, &[]) {
            out.push_str("  tls-verify: false\n");
        }
        out.push_str("  images:\n");
        for (repository, versions) in repositories {
            out.push_str(&format!("    {}:\n", new_scalar(&repository)));
            for version in versions {
                out.push_str(&format!("      - {}\n", double_quoted(&version)));
            }
        }
    }
    Ok(out)
}

/// The `skopeo sync` invocation for this file (`FILE`) into `dest`.
fn sync_command(layout: Layout, dest: &str) -> String {
    let mut command = String::from("skopeo sync --src yaml --dest docker --all --preserve-digests");
    if layout == Layout::Scoped {
        command.push_str(" --scoped");
    }
    let host = dest.split('/').next().unwrap_or(dest);
    if plain_http_allowed(host, &[]) {
        command.push_str(" --dest-tls-verify=false");
    }
    command.push_str(" FILE ");
    command.push_str(dest);
    command
}

/// The `artifacthub.io/images` annotation for a chart's `Chart.yaml`: every final image a pod
/// pulls, once, named after its container (or its repository's last segment). Strings found
/// where the rules only report, and invalid references, are no images a pod pulls.
pub fn helm_annotation(report: &Report) -> String {
    let mut images: BTreeMap<&str, String> = BTreeMap::new();
    for finding in report
        .findings
        .iter()
        .filter(|f| !matches!(f.status, Status::Reported | Status::Invalid))
    {
        images
            .entry(finding.final_value.as_str())
            .or_insert_with(|| display_name(finding));
    }
    let mut out = String::from("annotations:\n  artifacthub.io/images: |\n");
    for (image, name) in images {
        out.push_str(&format!(
            "    - name: {}\n      image: {}\n",
            new_scalar(&name),
            new_scalar(image)
        ));
    }
    out
}

fn display_name(finding: &Finding) -> String {
    finding.container.clone().unwrap_or_else(|| {
        let name = finding
            .final_reference
            .as_ref()
            .map_or(finding.final_value.as_str(), Reference::name);
        name.rsplit('/').next().unwrap_or_default().to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rules;
    use crate::samples::pod;
    use std::path::Path;

    const D: &str = "sha256:0bc88eb15f9e7f84e8e56c14fa5735aaa488b840983f87bd79b1054190e660de";
    const CATCH_ALL: &str = "version: 1\nregistries: [{from: '*', to: m.example.com/all}]\n";

    fn report_with(rules: &str, input: &str) -> Report {
        let rules = Rules::from_yaml(rules, Path::new("")).unwrap();
        crate::render(input.as_bytes(), &rules, None)
            .unwrap()
            .report
    }

    fn report(input: &str) -> Report {
        report_with(CATCH_ALL, input)
    }

    #[test]
    fn the_source_of_a_final_digest_is_that_digest_alone() {
        let original = Reference::parse("nginx:1").unwrap();
        let pinned =
            Reference::parse(&format!("m.example/all/docker.io/library/nginx:2@{D}")).unwrap();
        let tagged = Reference::parse("m.example/all/docker.io/library/nginx:2").unwrap();
        assert_eq!(
            source_reference(&original, &pinned).unwrap().to_string(),
            format!("nginx@{D}")
        );
        assert_eq!(
            source_reference(&original, &tagged).unwrap().to_string(),
            "nginx:2"
        );
    }

    #[test]
    fn mirror_pairs_copy_by_digest_and_push_by_tag() {
        let input = pod(&[
            "nginx:1.25",
            &format!("k8s.gcr.io/x/y:v1@{D}"),
            "nginx:1.25",
        ]);
        assert_eq!(
            mirror(&report(&input)).unwrap(),
            format!("docker.io/library/nginx:1.25\tm.example.com/all/docker.io/library/nginx:1.25\nk8s.gcr.io/x/y@{D}\tm.example.com/all/k8s.gcr.io/x/y:v1\n")
        );
    }

    #[test]
    fn mirror_copies_the_tag_an_override_sets() {
        let rules = format!("{CATCH_ALL}images: [{{name: nginx, newTag: '1.27'}}]\n");
        assert_eq!(
            mirror(&report_with(&rules, &pod(&["nginx:1.25"]))).unwrap(),
            "docker.io/library/nginx:1.27\tm.example.com/all/docker.io/library/nginx:1.27\n"
        );
    }

    #[test]
    fn mirror_copies_a_new_tag_not_the_old_pin() {
        // A new tag drops the digest of the old one: the new tag is what is pulled.
        let rules = format!("{CATCH_ALL}images: [{{name: quay.io/a/b, newTag: v2}}]\n");
        let input = pod(&[&format!("quay.io/a/b:v1@{D}")]);
        assert_eq!(
            mirror(&report_with(&rules, &input)).unwrap(),
            "quay.io/a/b:v2\tm.example.com/all/quay.io/a/b:v2\n"
        );
    }

    #[test]
    fn mirror_copies_the_digest_an_override_sets() {
        let rules = format!("{CATCH_ALL}images: [{{name: quay.io/a/b, digest: '{D}'}}]\n");
        assert_eq!(
            mirror(&report_with(&rules, &pod(&["quay.io/a/b:v1"]))).unwrap(),
            format!("quay.io/a/b@{D}\tm.example.com/all/quay.io/a/b:v1\n")
        );
    }

    #[test]
    fn mirror_copies_the_input_repository_at_the_final_tag_after_new_name() {
        // As `reimage lock --source` asks: the input's name, the final tag.
        let rules =
            "version: 1\nimages: [{name: nginx, newName: m.example.com/web, newTag: '2'}]\n";
        assert_eq!(
            mirror(&report_with(rules, &pod(&["nginx:1"]))).unwrap(),
            "docker.io/library/nginx:2\tm.example.com/web:2\n"
        );
    }

    #[test]
    fn skopeo_sync_scoped_for_the_catch_all_layout() {
        let rules = format!("{CATCH_ALL}images: [{{name: nginx, newTag: '1.27'}}]\n");
        let input = pod(&[
            "nginx:1.25",
            "nginx:1.26",
            "Quay.io/a/b",
            &format!("ghcr.io/c/d:1@{D}"),
        ]);
        assert_eq!(
            skopeo_sync(&report_with(&rules, &input)).unwrap(),
            format!(
                "# skopeo sync --src yaml --dest docker --all --preserve-digests --scoped FILE m.example.com/all\n\
                 docker.io:\n  images:\n    library/nginx:\n      - \"1.27\"\n\
                 ghcr.io:\n  images:\n    c/d:\n      - \"1\"\n      - \"{D}\"\n\
                 quay.io:\n  images:\n    a/b:\n      - \"latest\"\n"
            )
        );
    }

    #[test]
    fn two_images_bound_for_one_name_are_refused() {
        let rules = "version: 1\nregistries: [{from: quay.io/a, to: m.example.com/x}, {from: quay.io/b, to: m.example.com/x}]\n";
        let report = report_with(rules, &pod(&["quay.io/a/app:1", "quay.io/b/app:1"]));
        let err = mirror(&report).unwrap_err().to_string();
        assert!(
            err.starts_with("the rules put two different images at `m.example.com/x/app:1`: `quay.io/a/app:1` (document 1 Pod//p, line 6) and `quay.io/b/app:1` (document 1 Pod//p, line 7)"),
            "{err}"
        );
        assert!(skopeo_sync(&report).is_err());
    }

    #[test]
    fn skopeo_sync_flat_when_every_image_lands_on_its_last_segment() {
        let rules =
            "version: 1\nregistries: [{from: 127.0.0.1:5000/team, to: 'localhost:6000/flat'}]\n";
        let input = pod(&["127.0.0.1:5000/team/a:1", "127.0.0.1:5000/team/b:2"]);
        assert_eq!(
            skopeo_sync(&report_with(rules, &input)).unwrap(),
            "# skopeo sync --src yaml --dest docker --all --preserve-digests --dest-tls-verify=false FILE localhost:6000/flat\n\
             \"127.0.0.1:5000\":\n  tls-verify: false\n  images:\n    team/a:\n      - \"1\"\n    team/b:\n      - \"2\"\n"
        );
    }

    #[test]
    fn skopeo_sync_refuses_a_port_under_the_catch_all() {
        let input = pod(&["127.0.0.1:5000/team/a:1", "127.0.0.1:5000/b:1"]);
        let err = skopeo_sync(&report(&input)).unwrap_err().to_string();
        assert_eq!(
            err,
            "`--format skopeo-sync` cannot express where the rules put `127.0.0.1:5000/team/a:1` \
             (document 1 Pod//p, line 6): they write `m.example.com/all/127.0.0.1_5000/team/a:1`, \
             but `skopeo sync --scoped` writes `DEST/127.0.0.1:5000/team/a:1`, which skopeo \
             refuses (a registry port cannot be a path segment), and without `--scoped` \
             `m.example.com/all/127.0.0.1_5000/a:1` (DEST as for the images before it); \
             use `--format mirror` and copy each pair with `skopeo copy`"
        );
    }

    #[test]
    fn skopeo_sync_refuses_two_destinations() {
        let rules = "version: 1\nregistries:\n  - {from: docker.io, to: m.example/hub}\n  - {from: quay.io, to: m.example/quay}\n";
        let input = pod(&["nginx:1", "quay.io/a/b:2"]);
        let err = skopeo_sync(&report_with(rules, &input)).unwrap_err();
        let InventoryError::SyncLayout(misfit) = err else {
            panic!("not a layout error: {err}");
        };
        let Misfit { image, flat, .. } = *misfit;
        assert_eq!(image, "quay.io/a/b:2");
        assert_eq!(
            flat,
            "`m.example/hub/library/b:2` (DEST as for the images before it)"
        );
    }

    #[test]
    fn skopeo_sync_of_nothing_to_copy_is_empty() {
        let rules = "version: 1\nregistries: [{from: docker.io, keep: true}]\n";
        assert_eq!(
            skopeo_sync(&report_with(rules, &pod(&["nginx:1"]))).unwrap(),
            ""
        );
    }

    #[test]
    fn helm_annotation_names_images_after_containers() {
        let out = helm_annotation(&report(&pod(&["nginx:1.25"])));
        assert_eq!(out, "annotations:\n  artifacthub.io/images: |\n    - name: c0\n      image: m.example.com/all/docker.io/library/nginx:1.25\n");
    }

    #[test]
    fn helm_annotation_quotes_what_yaml_would_misread() {
        let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: 'on', image: '[::1]:5000/a:1'}\n  - {name: 'null', image: 'localhost:5000/app:1'}\n  - {image: 'localhost:5000/lone:2'}\n";
        let out = helm_annotation(&report_with("version: 1\n", input));
        assert_eq!(
            out,
            "annotations:\n  artifacthub.io/images: |\n    - name: \"on\"\n      image: \"[::1]:5000/a:1\"\n    - name: \"null\"\n      image: localhost:5000/app:1\n    - name: lone\n      image: localhost:5000/lone:2\n"
        );
    }

    #[test]
    fn helm_annotation_lists_only_images_pods_pull() {
        let rules = format!("{CATCH_ALL}scan: {{env: report}}\n");
        let input = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: Bad/Ref\n    env: [{name: X_IMAGE, value: 'quay.io/x/y:1'}]\n  - {name: d, image: 'nginx:1'}\n";
        let out = helm_annotation(&report_with(&rules, input));
        assert_eq!(
            out,
            "annotations:\n  artifacthub.io/images: |\n    - name: d\n      image: m.example.com/all/docker.io/library/nginx:1\n"
        );
    }
}
