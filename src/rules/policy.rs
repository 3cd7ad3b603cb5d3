//! `scan:` and `policy:`: how far the search for images goes, and what every image must satisfy.

use super::file::{PolicyFile, ScanFile, ScanModeFile};
use super::{Origin, RulesError};
use crate::reference::normalize_prefix;

/// What to do with image references found inside one kind of string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanMode {
    /// Rewrite confident matches (the key or flag says "image"); report the others.
    #[default]
    Rewrite,
    /// Rewrite nothing; report every match.
    Report,
    /// Do not look.
    Off,
}

/// `scan:`, one mode per kind of string, and the extra names that say "image".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scan {
    pub env: ScanMode,
    pub args: ScanMode,
    pub config_maps: ScanMode,
    pub image_keys: Vec<String>,
}

/// `policy:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Normalised prefixes; empty means any registry is allowed.
    pub allowed_registries: Vec<String>,
    pub require_digest: bool,
    pub forbid_latest: bool,
}

pub(super) fn scan(file: Option<ScanFile>) -> Scan {
    let file = file.unwrap_or_default();
    let mode = |m: Option<ScanModeFile>| match m {
        None | Some(ScanModeFile::Rewrite) => ScanMode::Rewrite,
        Some(ScanModeFile::Report) => ScanMode::Report,
        Some(ScanModeFile::Off) => ScanMode::Off,
    };
    Scan {
        env: mode(file.env),
        args: mode(file.args),
        config_maps: mode(file.config_maps),
        image_keys: file.image_keys.unwrap_or_default(),
    }
}

pub(super) fn policy(file: PolicyFile, origin: &Origin) -> Result<Policy, RulesError> {
    let mut allowed = Vec::new();
    for (i, prefix) in file
        .allowed_registries
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let normalized = normalize_prefix(prefix).ok_or_else(|| {
            origin.invalid(
                format!("policy.allowedRegistries[{i}]"),
                format!("`{prefix}` is not a registry host or host/path prefix (e.g. `harbor.example.com/mirror`)"),
            )
        })?;
        allowed.push(normalized);
    }
    Ok(Policy {
        allowed_registries: allowed,
        require_digest: file.require_digest.unwrap_or(false),
        forbid_latest: file.forbid_latest.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::{Rules, ScanMode};
    use std::path::Path;

    #[test]
    fn reads_scan_and_policy() {
        let text = "version: 1\nscan: {env: report, configMaps: off}\npolicy: {allowedRegistries: [index.docker.io/x], forbidLatest: true}\n";
        let rules = Rules::from_yaml(text, Path::new("")).unwrap();
        assert_eq!(rules.scan.env, ScanMode::Report);
        assert_eq!(rules.scan.args, ScanMode::Rewrite);
        assert_eq!(rules.scan.config_maps, ScanMode::Off);
        let policy = rules.policy.unwrap();
        assert_eq!(policy.allowed_registries, ["docker.io/x"]);
        assert!(policy.forbid_latest && !policy.require_digest);
    }

    #[test]
    fn rejects_bad_policy_entries() {
        let err = Rules::from_yaml(
            "version: 1\npolicy: {allowedRegistries: ['not a host']}\n",
            Path::new(""),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("policy.allowedRegistries[0]"), "{err}");
        let err = Rules::from_yaml("version: 1\npolicy: {allowList: []}\n", Path::new(""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key `allowList`"), "{err}");
    }
}
