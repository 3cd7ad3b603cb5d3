//! Work shared among threads, with the results taken in input order: the documents of a stream
//! are independent of each other from locate to the splices, so a long stream is handled on
//! every core while its output stays exactly what one thread would give.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::mpsc;
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

/// Calls `work` on every item, on up to `threads` threads (the calling one among them), and
/// hands the `Some` results to `take`, on the calling thread, in the order of the items. The
/// items are taken one at a time, so that only as many are in flight as there are threads, and
/// each result is taken as soon as the calling thread is between two items of its own and the
/// results before it are in: a long stream's results never wait all together to be merged, and
/// no thread sleeps while there is work. The first error from `take` stops the work and is
/// returned; a panic in `work` is carried to the caller.
pub fn for_each_in_order<I, R, E, F, T>(
    items: I,
    threads: usize,
    work: F,
    mut take: T,
) -> Result<(), E>
where
    I: Iterator + Send,
    R: Send,
    F: Fn(I::Item) -> Option<R> + Sync,
    T: FnMut(R) -> Result<(), E>,
{
    if threads <= 1 {
        return items.filter_map(work).try_for_each(take);
    }
    let queue = Mutex::new(items.enumerate());
    let next = || queue.lock().ok().and_then(|mut items| items.next());
    let (next, work) = (&next, &work);
    std::thread::scope(|scope| {
        let (results, done) = mpsc::channel();
        let helpers: Vec<_> = (1..threads)
            .map(|_| {
                let results = results.clone();
                scope.spawn(move || {
                    while let Some((index, item)) = next() {
                        // The receiver is gone once `take` has failed: nothing more is wanted.
                        if results.send((index, work(item))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        let mut order = InOrder::new(&mut take);
        let own = || {
            while let Some((index, item)) = next() {
                order.put(index, work(item))?;
                done.try_iter()
                    .try_for_each(|(index, result)| order.put(index, result))?;
            }
            drop(results);
            done.iter()
                .try_for_each(|(index, result)| order.put(index, result))
        };
        let taken = own();
        drop(done);
        for helper in helpers {
            helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        taken
    })
}

/// Results that come in any order, handed to `take` in the order of their indexes (0, 1, 2,
/// …), each as soon as the ones before it are in.
struct InOrder<'t, R, T> {
    take: &'t mut T,
    waiting: BTreeMap<usize, Option<R>>,
    next: usize,
}

impl<'t, R, E, T: FnMut(R) -> Result<(), E>> InOrder<'t, R, T> {
    fn new(take: &'t mut T) -> Self {
        InOrder {
            take,
            waiting: BTreeMap::new(),
            next: 0,
        }
    }

    fn put(&mut self, index: usize, result: Option<R>) -> Result<(), E> {
        self.waiting.insert(index, result);
        while let Some(result) = self.waiting.remove(&self.next) {
            self.next += 1;
            if let Some(result) = result {
                (self.take)(result)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collected(threads: usize, work: impl Fn(u32) -> Option<u32> + Sync) -> Vec<u32> {
        let mut all = Vec::new();
        let taken: Result<(), ()> = for_each_in_order(0..10_000, threads, work, |n| {
            all.push(n);
            Ok(())
        });
        assert!(taken.is_ok());
        all
    }

    #[test]
    fn keeps_input_order_and_drops_nones() {
        let work = |n: u32| (n % 3 != 0).then_some(n * 2);
        let expected: Vec<u32> = (0..10_000).filter_map(work).collect();
        for threads in [1, 2, 5] {
            assert_eq!(collected(threads, work), expected);
        }
    }

    #[test]
    fn the_first_error_in_order_stops_the_work() {
        for threads in [1, 2, 5] {
            let mut taken = Vec::new();
            let outcome = for_each_in_order(0..10_000u32, threads, Some, |n| {
                if n == 100 || n == 200 {
                    return Err(n);
                }
                taken.push(n);
                Ok(())
            });
            assert_eq!(outcome, Err(100));
            assert_eq!(taken, (0..100).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_panic_in_the_work_reaches_the_caller() {
        let outcome = std::panic::catch_unwind(|| {
            collected(2, |n| {
                assert!(n != 5000, "work failed");
                Some(n)
            })
        });
        assert!(outcome.is_err());
    }

    #[test]
    fn small_inputs_use_one_thread() {
        assert_eq!(threads_for(0), 1);
        assert_eq!(threads_for(MIN_PARALLEL_BYTES - 1), 1);
        assert!(threads_for(MIN_PARALLEL_BYTES) >= 1);
    }
}
