//! `--resolve` and `digests.resolve: true`: before the real render, find the final references
//! that neither the chart nor the lock file pins, resolve them, and give the renderer a lock
//! with them added. Nothing is rendered when any of them fails.

use crate::lock::Lock;
use crate::rules::Rules;
use crate::Error;

use super::parallel::resolve_wanted;
use super::wanted::{final_report, wanted, Wanted};
use super::Resolver;

/// `lock` (or an empty lock) plus a digest for every final reference that still lacks one.
pub fn complete_lock(
    input: &[u8],
    rules: &Rules,
    lock: Option<Lock>,
    resolver: &dyn Resolver,
    parallel: usize,
) -> Result<Lock, Error> {
    let report = final_report(input, rules, lock.as_ref())?;
    let wanted = wanted(&report, false);
    let mut lock = lock.unwrap_or_default();
    let todo: Vec<&Wanted> = wanted.iter().collect();
    for (w, resolved) in resolve_wanted(resolver, &todo, parallel, "; nothing was rendered")? {
        lock.insert(&w.key, resolved.digest);
    }
    Ok(lock)
}
