//! From the file mirror to the checked rules: registries, images, digests, paths. The version
//! is checked first, in `version`; pull secrets are in `secrets`.

use std::collections::HashMap;
use std::path::Path;

use super::check::{non_empty, prefix, target};
use super::file::{DigestsFile, PathFile, RegistryFile, RulesFile};
use super::{images, secrets, CustomPath, Digests, Origin, PathTarget};
use super::{PinForm, RegistryRule, Rules, RulesError, Version};
use crate::field_path::FieldPath;

/// Reads and checks a whole rules file.
pub(super) fn parse(
    text: &str,
    base_dir: &Path,
    origin: &Origin,
    version: Version,
) -> Result<Rules, RulesError> {
    // Editors on Windows may start a UTF-8 file with a byte order mark; the lines and columns
    // serde_yaml reports do not count it, as editors do not show it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text
        .lines()
        .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'))
    {
        return Ok(Rules::empty());
    }
    super::version::check(text, origin, version)?;
    let file: RulesFile = super::tracked::from_str(text).map_err(|f| origin.unreadable(f))?;
    let registries = registries(file.registries.unwrap_or_default(), origin)?;
    let images = images::images(file.images.unwrap_or_default(), origin)?;
    let pull_secrets = secrets::pull_secrets(file.pull_secrets, &registries, origin)?;
    let digests = file
        .digests
        .map(|d| digests(d, base_dir, origin))
        .transpose()?;
    let paths = custom_paths(file.paths.unwrap_or_default(), origin)?;
    let scan = super::policy::scan(file.scan);
    let policy = file
        .policy
        .map(|p| super::policy::policy(p, origin))
        .transpose()?;
    let patches = super::patches::patches(file.patches.unwrap_or_default(), origin)?;
    Ok(Rules {
        registries,
        images,
        pull_secrets,
        digests,
        paths,
        scan,
        policy,
        patches,
    })
}

fn registries(
    entries: Vec<RegistryFile>,
    origin: &Origin,
) -> Result<Vec<RegistryRule>, RulesError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rules = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let rule = registry(entry, &format!("registries[{i}]"), origin)?;
        let key = match &rule {
            RegistryRule::Map { from, .. } | RegistryRule::Keep { from } => from.clone(),
            RegistryRule::CatchAll { .. } => "*".to_string(),
        };
        if let Some(first) = seen.insert(key.clone(), i) {
            let what = if key == "*" {
                "a second catch-all `\"*\"`".to_string()
            } else {
                format!("`from` is `{key}` once normalised")
            };
            return Err(origin.invalid(
                format!("registries[{i}]"),
                format!("{what}, like registries[{first}]; keep only one of the two entries"),
            ));
        }
        rules.push(rule);
    }
    Ok(rules)
}

fn registry(entry: RegistryFile, at: &str, origin: &Origin) -> Result<RegistryRule, RulesError> {
    let Some(from) = entry.from else {
        return Err(origin.invalid(
            at,
            "`from` is missing; add the prefix to match, such as `from: docker.io`",
        ));
    };
    let to_at = format!("{at}.to");
    if from == "*" {
        return match (entry.to, entry.keep) {
            (_, Some(_)) => Err(origin.invalid(at, "`from: \"*\"` cannot have `keep`; images no entry matches are kept anyway, so remove this entry or give only `to`")),
            (None, None) => Err(origin.invalid(at, "`from: \"*\"` needs `to`, the prefix to move every other image under")),
            (Some(to), None) => Ok(RegistryRule::CatchAll { to: target(&to, &to_at, origin)? }),
        };
    }
    let from = prefix(&from, &format!("{at}.from"), origin)?;
    match (entry.to, entry.keep) {
        (Some(to), None | Some(false)) => Ok(RegistryRule::Map { from, to: target(&to, &to_at, origin)? }),
        (None, Some(true)) => Ok(RegistryRule::Keep { from }),
        (Some(_), Some(true)) => Err(origin.invalid(at, "has both `to` and `keep: true`; remove `to` to keep these images, or `keep` to move them")),
        (None, Some(false)) => Err(origin.invalid(at, "`keep: false` without `to` does nothing; give `to`, or write `keep: true`")),
        (None, None) => Err(origin.invalid(at, "needs `to` (the prefix to move these images under) or `keep: true`")),
    }
}

fn digests(file: DigestsFile, base_dir: &Path, origin: &Origin) -> Result<Digests, RulesError> {
    let lock = non_empty(file.lock, "digests.lock", origin)?.map(|l| base_dir.join(l));
    let form = match file.form.as_deref() {
        None | Some("tag+digest") => PinForm::TagAndDigest,
        Some("digest") => PinForm::DigestOnly,
        Some(other) => {
            return Err(origin.invalid(
                "digests.form",
                format!("`{other}` is not a pin form; use `tag+digest` (the default) or `digest`"),
            ))
        }
    };
    let insecure_registries = file
        .insecure_registries
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            crate::reference::parse_host(host).map_err(|problem| {
                origin.invalid(format!("digests.insecureRegistries[{i}]"), problem)
            })
        })
        .collect::<Result<_, _>>()?;
    let ca_files = file
        .ca_files
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, path)| match path.is_empty() {
            true => Err(origin.invalid(
                format!("digests.caFiles[{i}]"),
                "empty; give the path of a PEM file of CA certificates",
            )),
            false => Ok(base_dir.join(path)),
        })
        .collect::<Result<_, _>>()?;
    let certs_dir =
        non_empty(file.certs_dir, "digests.certsDir", origin)?.map(|d| base_dir.join(d));
    Ok(Digests {
        lock,
        form,
        require: file.require.unwrap_or(false),
        resolve: file.resolve.unwrap_or(false),
        insecure_registries,
        ca_files,
        certs_dir,
    })
}

fn custom_paths(entries: Vec<PathFile>, origin: &Origin) -> Result<Vec<CustomPath>, RulesError> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| custom_path(entry, &format!("paths[{i}]"), origin))
        .collect()
}

fn custom_path(entry: PathFile, at: &str, origin: &Origin) -> Result<CustomPath, RulesError> {
    let kind = non_empty(entry.kind, &format!("{at}.kind"), origin)?.ok_or_else(|| {
        origin.invalid(
            at,
            "`kind` is missing; add the kind of object, such as `kind: CephCluster`",
        )
    })?;
    let group = non_empty(entry.group, &format!("{at}.group"), origin)?;
    let field = |text: &str, key: &str| {
        FieldPath::parse(text)
            .map_err(|e| origin.invalid(format!("{at}.{key}"), format!("`{text}` is not a field path: {e}; write keys joined by dots, such as `spec.image`")))
    };
    let target = match (entry.path, entry.pod_spec) {
        (Some(path), None) => PathTarget::Image(field(&path, "path")?),
        (None, Some(spec)) => PathTarget::PodSpec(field(&spec, "podSpec")?),
        (Some(_), Some(_)) => {
            return Err(origin.invalid(at, "has both `path` and `podSpec`; give one per entry"))
        }
        (None, None) => {
            return Err(origin.invalid(
                at,
                "needs `path` (to an image string) or `podSpec` (to a pod spec)",
            ))
        }
    };
    Ok(CustomPath {
        kind,
        group,
        target,
    })
}
