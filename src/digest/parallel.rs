//! Resolving many references at once: a fixed number of std threads take the next reference
//! from a shared counter, so at most `parallel` requests are under way. Failures are gathered
//! into one [`ResolveError::Failed`] that lists them all, in the order of the input.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::error::ResolveError;
use super::{Resolved, Resolver};
use crate::reference::Reference;

/// Resolves every reference, `parallel` at a time; results in the order of `images`.
pub fn resolve_all(
    resolver: &dyn Resolver,
    images: &[&Reference],
    parallel: usize,
) -> Vec<Result<Resolved, ResolveError>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Resolved, ResolveError>)>> = Mutex::new(Vec::new());
    let workers = parallel.clamp(1, images.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(image) = images.get(index) else {
                    break;
                };
                let result = resolver.resolve(image);
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((index, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Resolves every reference; the digests in the order of `images`, or every failure, with
/// `consequence` saying what was not done because of them.
pub fn resolve_each(
    resolver: &dyn Resolver,
    images: &[&Reference],
    parallel: usize,
    consequence: &'static str,
) -> Result<Vec<Resolved>, ResolveError> {
    let mut resolved = Vec::new();
    let mut failures = Vec::new();
    for result in resolve_all(resolver, images, parallel) {
        match result {
            Ok(r) => resolved.push(r),
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        Ok(resolved)
    } else {
        Err(ResolveError::Failed {
            total: images.len(),
            consequence,
            failures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::error::Target;
    use crate::reference::Reference;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// Counts calls and the most at once; fails for tag `bad`.
    #[derive(Default)]
    struct Counting {
        now: AtomicUsize,
        most: AtomicUsize,
        calls: AtomicUsize,
    }

    impl Resolver for Counting {
        fn resolve(&self, image: &Reference) -> Result<Resolved, ResolveError> {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            self.now.fetch_sub(1, Ordering::SeqCst);
            if image.tag() == Some("bad") {
                let target = Target {
                    image: image.to_string(),
                    registry: "r".into(),
                    repository: "x".into(),
                    tag: "bad".into(),
                };
                return Err(ResolveError::Status {
                    target: Box::new(target),
                    status: 404,
                    detail: String::new(),
                    hint: "h".into(),
                });
            }
            Ok(Resolved {
                digest: format!("sha256:{}", image.tag().unwrap_or_default()),
            })
        }
    }

    fn image(tag: &str) -> Reference {
        Reference::parse(&format!("r.example/x:{tag}")).unwrap()
    }

    #[test]
    fn bounded_in_order_and_every_failure_listed() {
        let all: Vec<Reference> = (0..12).map(|i| image(&i.to_string())).collect();
        let refs: Vec<&Reference> = all.iter().collect();
        let counting = Counting::default();
        let got = resolve_each(&counting, &refs, 3, "").unwrap();
        assert_eq!(counting.most.load(Ordering::SeqCst), 3);
        assert_eq!(counting.calls.load(Ordering::SeqCst), 12);
        assert_eq!(got[11].digest, "sha256:11");
        let bad = [image("1"), image("bad"), image("bad")];
        let refs: Vec<&Reference> = bad.iter().collect();
        match resolve_each(&Counting::default(), &refs, 8, "; x") {
            Err(ResolveError::Failed {
                total: 3, failures, ..
            }) => assert_eq!(failures.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
