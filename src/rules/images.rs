//! `images:` entries: the image to override, what to change, and where.

use super::check::non_empty;
use super::file::{ImageFile, SelectFile};
use super::{Change, ImageOverride, Origin, RulesError, Selector};
use crate::reference::{self, Reference, DIGEST_FORM, TAG_FORM};

/// Checks `images:`; two entries with the same name and selector are refused.
pub(super) fn images(
    entries: Vec<ImageFile>,
    origin: &Origin,
) -> Result<Vec<ImageOverride>, RulesError> {
    let mut overrides: Vec<ImageOverride> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let image = image(entry, index, origin)?;
        if let Some(first) = overrides
            .iter()
            .find(|o| o.name == image.name && o.select == image.select)
        {
            return Err(origin.invalid(
                format!("images[{index}]"),
                format!(
                    "same `name` and `select` as images[{}]; merge the two entries",
                    first.index
                ),
            ));
        }
        overrides.push(image);
    }
    Ok(overrides)
}

fn image(entry: ImageFile, index: usize, origin: &Origin) -> Result<ImageOverride, RulesError> {
    let at = format!("images[{index}]");
    let Some(name) = entry.name else {
        return Err(origin.invalid(
            &at,
            "`name` is missing; add the image to override, such as `name: docker.io/library/nginx`",
        ));
    };
    let name = bare_name(&name, &format!("{at}.name"), origin)?.normalized_name();
    let new_name = non_empty(entry.new_name, &format!("{at}.newName"), origin)?;
    if let Some(new_name) = &new_name {
        bare_name(new_name, &format!("{at}.newName"), origin)?;
    }
    if let Some(tag) = &entry.new_tag {
        reference::check_tag(tag).map_err(|_| {
            origin.invalid(
                format!("{at}.newTag"),
                format!("`{tag}` is not a valid tag: {TAG_FORM}"),
            )
        })?;
    }
    if let Some(digest) = &entry.digest {
        reference::check_digest(digest).map_err(|why| {
            origin.invalid(
                format!("{at}.digest"),
                format!("`{digest}` is not a valid digest: {why}; {DIGEST_FORM}"),
            )
        })?;
    }
    let (new_tag, digest) = (entry.new_tag, entry.digest);
    if new_name.is_none() && new_tag.is_none() && digest.is_none() {
        return Err(origin.invalid(
            at,
            "changes nothing; give at least one of `newName`, `newTag` or `digest`",
        ));
    }
    let select = selector(
        entry.select.unwrap_or_default(),
        &format!("{at}.select"),
        origin,
    )?;
    let change = Change {
        new_name,
        new_tag,
        digest,
    };
    Ok(ImageOverride {
        name,
        select,
        change,
        index,
    })
}

/// An image name without tag or digest.
fn bare_name(text: &str, at: &str, origin: &Origin) -> Result<Reference, RulesError> {
    let parsed = Reference::parse(text)
        .map_err(|e| origin.invalid(at, format!("`{text}` is not an image name: {e}")))?;
    if parsed.tag().is_some() {
        return Err(origin.invalid(
            at,
            format!("`{text}` has a tag; give the name alone and put the tag in newTag"),
        ));
    }
    if parsed.digest().is_some() {
        return Err(origin.invalid(
            at,
            format!("`{text}` has a digest; give the name alone and put the digest in digest"),
        ));
    }
    Ok(parsed)
}

fn selector(select: SelectFile, at: &str, origin: &Origin) -> Result<Selector, RulesError> {
    Ok(Selector {
        kind: non_empty(select.kind, &format!("{at}.kind"), origin)?,
        namespace: non_empty(select.namespace, &format!("{at}.namespace"), origin)?,
        name: non_empty(select.name, &format!("{at}.name"), origin)?,
        container: non_empty(select.container, &format!("{at}.container"), origin)?,
    })
}
