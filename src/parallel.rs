//! Work shared among threads, with the results kept in input order: the documents of a stream
//! are independent of each other from locate to the splices, so a long stream is handled on
//! every core while its output stays exactly what one thread would give.

use std::num::NonZeroUsize;
use std::sync::Mutex;

/// Below this many input bytes, one thread does all the work: starting a thread (about 0.1 ms)
/// would cost about what it saves. Most Helm releases are below it; a chart with large
/// ConfigMaps (kubecost, 0.7 MB) already gains a third of its time.
pub const MIN_PARALLEL_BYTES: usize = 512 << 10;

/// More threads than this do not pay: the work per document is short, and the results must
/// still be merged by one thread.
const MAX_THREADS: usize = 8;

/// How many threads to use for an input of `len` bytes.
pub fn threads_for(len: usize) -> usize {
    if len < MIN_PARALLEL_BYTES {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_THREADS)
}

/// Calls `work` on every item, on up to `threads` threads, and returns the `Some` results in
/// the order of the items. The items are taken one at a time, so that only as many are in
/// flight as there are threads. A panic in `work` is carried to the caller.
pub fn map_in_order<I, R, F>(items: I, threads: usize, work: F) -> Vec<R>
where
    I: Iterator + Send,
    R: Send,
    F: Fn(I::Item) -> Option<R> + Sync,
{
    if threads <= 1 {
        return items.filter_map(work).collect();
    }
    let queue = Mutex::new(items.enumerate());
    let next = || queue.lock().ok().and_then(|mut items| items.next());
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some((index, item)) = next() {
                        done.extend(work(item).map(|result| (index, result)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_order_and_drops_nones() {
        let work = |n: u32| (n % 3 != 0).then_some(n * 2);
        let expected: Vec<u32> = (0..10_000).filter_map(work).collect();
        for threads in [1, 2, 5] {
            assert_eq!(map_in_order(0..10_000, threads, work), expected);
        }
    }

    #[test]
    fn small_inputs_use_one_thread() {
        assert_eq!(threads_for(0), 1);
        assert_eq!(threads_for(MIN_PARALLEL_BYTES - 1), 1);
        assert!(threads_for(MIN_PARALLEL_BYTES) >= 1);
    }
}
