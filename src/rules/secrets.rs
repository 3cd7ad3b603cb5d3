//! Pull secrets: `pullSecrets:` from the file, and the `--registry` / `--pull-secret`
//! shorthands, which interact with the default registries of a grant.

use std::collections::BTreeSet;

use super::check::{prefix, target};
use super::file::{PullSecretsFile, SecretGrantFile};
use super::{check, Origin, PullSecrets, RegistryRule, Rules, RulesError, SecretGrant};
use crate::reference::host_key;

/// The default registries of a grant: the hosts of every `to` as [`host_key`]s, deduplicated
/// and sorted.
pub(super) fn default_registries(rules: &[RegistryRule]) -> Vec<String> {
    let hosts: BTreeSet<String> = rules
        .iter()
        .filter_map(|rule| match rule {
            RegistryRule::Map { to, .. } | RegistryRule::CatchAll { to } => to.split('/').next(),
            RegistryRule::Keep { .. } => None,
        })
        .map(|host| host_key(host).into_owned())
        .collect();
    hosts.into_iter().collect()
}

/// Checks `pullSecrets:`; `registries` are the already checked registry rules.
pub(super) fn pull_secrets(
    file: Option<PullSecretsFile>,
    registries: &[RegistryRule],
    origin: &Origin,
) -> Result<PullSecrets, RulesError> {
    let file = file.unwrap_or_default();
    let mut add: Vec<SecretGrant> = Vec::new();
    for (i, entry) in file.add.unwrap_or_default().into_iter().enumerate() {
        let at = format!("pullSecrets.add[{i}]");
        let grant = grant(entry, &at, registries, origin)?;
        if let Some(first) = add.iter().position(|g| g.name == grant.name) {
            return Err(origin.invalid(format!("{at}.name"), format!(
                "`{}` is already added by pullSecrets.add[{first}]; list all its registries in one entry",
                grant.name
            )));
        }
        add.push(grant);
    }
    let remove = removals(file.remove.unwrap_or_default(), &add, origin)?;
    Ok(PullSecrets {
        add,
        remove,
        service_accounts: file.service_accounts.unwrap_or(false),
    })
}

fn grant(
    entry: SecretGrantFile,
    at: &str,
    registries: &[RegistryRule],
    origin: &Origin,
) -> Result<SecretGrant, RulesError> {
    let Some(name) = entry.name else {
        return Err(origin.invalid(
            at,
            "`name` is missing; add the Secret's name, such as `name: harbor-pull`",
        ));
    };
    secret_name(&name, &format!("{at}.name"), origin)?;
    let registries = match entry.registries {
        Some(list) if list.is_empty() => {
            return Err(origin.invalid(format!("{at}.registries"), "empty, so the secret would go nowhere; list registry prefixes, or leave the key out to use the host of every `to`"));
        }
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(j, p)| prefix(p, &format!("{at}.registries[{j}]"), origin))
            .collect::<Result<Vec<_>, _>>()?,
        None => default_registries(registries),
    };
    if registries.is_empty() {
        return Err(origin.invalid(at, format!(
            "`{name}` has no registries: no `registries:` entry has a `to`; list them under `registries` in this entry"
        )));
    }
    Ok(SecretGrant { name, registries })
}

fn removals(
    names: Vec<String>,
    add: &[SecretGrant],
    origin: &Origin,
) -> Result<Vec<String>, RulesError> {
    for (i, name) in names.iter().enumerate() {
        let at = format!("pullSecrets.remove[{i}]");
        secret_name(name, &at, origin)?;
        if let Some(first) = names.iter().take(i).position(|n| n == name) {
            return Err(origin.invalid(
                at,
                format!(
                    "`{name}` is already listed at pullSecrets.remove[{first}]; remove the repeat"
                ),
            ));
        }
        if let Some(j) = add.iter().position(|g| &g.name == name) {
            return Err(origin.invalid(at, format!(
                "`{name}` is also in pullSecrets.add[{j}]; a secret cannot be both added and removed"
            )));
        }
    }
    Ok(names)
}

fn secret_name(name: &str, at: &str, origin: &Origin) -> Result<(), RulesError> {
    check::kubernetes_name(name)
        .map_err(|why| origin.invalid(at, format!("`{name}` is not a valid Secret name: {why}")))
}

/// `--registry PREFIX`: a catch-all rule. Grants that had the default registries get the new
/// default set.
pub(super) fn add_catch_all(rules: &mut Rules, text: &str) -> Result<(), RulesError> {
    let origin = Origin::new("--registry");
    let existing = rules
        .registries
        .iter()
        .position(|r| matches!(r, RegistryRule::CatchAll { .. }));
    if let Some(i) = existing {
        return Err(origin.invalid(text, format!(
            "the rules file already has a catch-all `\"*\"` at registries[{i}]; drop --registry or that entry"
        )));
    }
    let to = target(text, text, &origin)?;
    let before = default_registries(&rules.registries);
    rules.registries.push(RegistryRule::CatchAll { to });
    let after = default_registries(&rules.registries);
    for grant in &mut rules.pull_secrets.add {
        if grant.registries == before {
            grant.registries = after.clone();
        }
    }
    Ok(())
}

/// `--pull-secret NAME`: a grant for the default registries.
pub(super) fn add_grant(rules: &mut Rules, name: &str) -> Result<(), RulesError> {
    let origin = Origin::new("--pull-secret");
    secret_name(name, name, &origin)?;
    let secrets = &rules.pull_secrets;
    if let Some(i) = secrets.add.iter().position(|g| g.name == name) {
        return Err(origin.invalid(
            name,
            format!("already added by pullSecrets.add[{i}] of the rules file; drop one of the two"),
        ));
    }
    if let Some(i) = secrets.remove.iter().position(|n| n == name) {
        return Err(origin.invalid(name, format!("the rules file removes it at pullSecrets.remove[{i}]; a secret cannot be both added and removed")));
    }
    let registries = default_registries(&rules.registries);
    if registries.is_empty() {
        return Err(origin.invalid(name, "no registry to use it for; also give --registry, or registries with `to` in the rules file"));
    }
    let grant = SecretGrant {
        name: name.to_string(),
        registries,
    };
    rules.pull_secrets.add.push(grant);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_error, parse};
    use super::super::{PathBuf, RegistryRule};
    use std::path::Path;

    #[test]
    fn pull_secrets_are_checked() {
        let head = "version: 1\nregistries: [{from: a.io, to: b.io/x}]\npullSecrets:";
        let cases: &[(&str, &str)] = &[
            (
                "{add: [{registries: [b.io]}]}",
                "pullSecrets.add[0]: `name` is missing",
            ),
            (
                "{add: [{name: Harbor_Pull}]}",
                "pullSecrets.add[0].name: `Harbor_Pull` is not a valid Secret name",
            ),
            (
                "{add: [{name: s}, {name: s}]}",
                "pullSecrets.add[1].name: `s` is already added by pullSecrets.add[0]",
            ),
            (
                "{add: [{name: s}], remove: [s]}",
                "pullSecrets.remove[0]: `s` is also in pullSecrets.add[0]",
            ),
            (
                "{remove: [s, s]}",
                "pullSecrets.remove[1]: `s` is already listed",
            ),
            (
                "{add: [{name: s, registries: [nope]}]}",
                "pullSecrets.add[0].registries[0]: `nope` is not a registry prefix",
            ),
            (
                "{add: [{name: s, registries: []}]}",
                "pullSecrets.add[0].registries: empty",
            ),
        ];
        for (section, expected) in cases {
            assert_error(&format!("{head} {section}\n"), &[expected]);
        }
        let text = "version: 1\npullSecrets: {add: [{name: s}]}\n";
        assert_error(text, &["pullSecrets.add[0]: `s` has no registries"]);
    }

    #[test]
    fn shorthands_add_rules() {
        let text =
            "version: 1\nregistries: [{from: a.io, to: b.io/x}]\npullSecrets: {add: [{name: s}]}";
        let names = ["cli".to_string()];
        let rules = parse(text)
            .unwrap()
            .with_shorthands(Some("c.io/all"), &names, Some(Path::new("l.yaml")))
            .unwrap();
        assert_eq!(
            rules.registries[1],
            RegistryRule::CatchAll {
                to: "c.io/all".into()
            }
        );
        assert_eq!(rules.pull_secrets.add[0].registries, ["b.io", "c.io"]);
        assert_eq!(rules.pull_secrets.add[1].registries, ["b.io", "c.io"]);
        assert_eq!(rules.digests.unwrap().lock, Some(PathBuf::from("l.yaml")));
    }

    #[test]
    fn shorthands_are_checked() {
        let shorthand = |text: &str, registry: Option<&str>, secret: &str| {
            let names = [secret.to_string()];
            parse(text)
                .unwrap()
                .with_shorthands(registry, &names, None)
                .unwrap_err()
                .to_string()
        };
        let catch_all = "version: 1\nregistries: [{from: '*', to: b.io}]\n";
        assert!(shorthand(catch_all, Some("c.io"), "s")
            .starts_with("--registry: c.io: the rules file already has a catch-all"));
        assert!(shorthand("", Some("nope"), "s").contains("`nope` is not a registry prefix"));
        assert!(shorthand("", None, "s").contains("--pull-secret: s: no registry to use it for"));
        assert!(shorthand("", Some("c.io"), "Bad").contains("`Bad` is not a valid Secret name"));
        let removed = "version: 1\npullSecrets: {remove: [s]}\n";
        assert!(
            shorthand(removed, Some("c.io"), "s").contains("removes it at pullSecrets.remove[0]")
        );
    }
}
