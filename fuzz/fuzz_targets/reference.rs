//! The image-reference parser: any string either fails with an error, or parses into pieces
//! that give the same text back and a normalised name that parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reimage::reference::{is_under, Reference, ReferenceError};

fuzz_target!(|text: &str| {
    let Ok(reference) = Reference::parse(text) else {
        return;
    };
    // Parsing never normalises: the text and its pieces are what was written.
    assert_eq!(reference.as_str(), text);
    let composed = Reference::compose(reference.name(), reference.tag(), reference.digest());
    assert_eq!(composed, text);
    // The normalised name is itself a reference, normalised already, under its registry,
    // unless `docker.io/library/` made it longer than a name may be.
    let normalized = reference.normalized_name();
    let again = match Reference::parse(&normalized) {
        Ok(again) => again,
        Err(ReferenceError::NameTooLong(_)) => return,
        Err(e) => panic!("normalised name {normalized:?} of {text:?}: {e}"),
    };
    assert_eq!(again.normalized_name(), normalized, "{text:?}");
    assert!(is_under(&normalized, &reference.registry()), "{text:?}");
    assert!(
        again.tag().is_none() && again.digest().is_none(),
        "{text:?}"
    );
});
