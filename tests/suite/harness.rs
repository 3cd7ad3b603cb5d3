//! The harness's own pieces: [`tests!`] makes a module's test functions libtest-mimic trials
//! named `module::function`, [`Conclusion`] says how what a test returns is reported (passed,
//! failed, or ignored with a reason), and [`checked`] refuses two tests of one name.

use libtest_mimic::{Completion, Failed, Trial};

use crate::common::{self, Ran, Skip};

/// `tests![a, b]`: the functions `a` and `b` of the calling module as trials named
/// `module::a` and `module::b`.
macro_rules! tests {
    ($($test:ident),+ $(,)?) => {
        vec![$($crate::harness::trial(module_path!(), stringify!($test), $test)),+]
    };
}

/// What a test function returns, as the harness reports it. A panic is a failure.
pub trait Conclusion {
    fn conclude(self) -> Result<Completion, Failed>;
}

/// A test that returns is a test that passed.
impl Conclusion for () {
    fn conclude(self) -> Result<Completion, Failed> {
        Ok(Completion::Completed)
    }
}

/// A test that needs what this machine lacks is ignored with the reason, except with `CI=true`,
/// where missing material fails it; a mode that was not asked for is ignored everywhere.
impl Conclusion for Ran {
    fn conclude(self) -> Result<Completion, Failed> {
        match self {
            Ok(()) => Ok(Completion::Completed),
            Err(Skip::Missing(why)) if common::in_ci() => Err(format!(
                "{why}\n(CI=true: missing material fails the run instead of ignoring the test)"
            )
            .into()),
            Err(Skip::Missing(why) | Skip::NotAsked(why)) => Ok(Completion::ignored_with(why)),
        }
    }
}

/// The trial of one test function, named `module::function` without the crate's name.
pub fn trial<T: Conclusion + 'static>(module: &str, name: &str, test: fn() -> T) -> Trial {
    let module = module.split_once("::").map_or(module, |(_, inner)| inner);
    Trial::ignorable_test(format!("{module}::{name}"), move || test().conclude())
}

/// Every module's trials in order; panics when two have one name, which a filter could not
/// tell apart.
pub fn checked(modules: Vec<Vec<Trial>>) -> Vec<Trial> {
    let trials: Vec<Trial> = modules.into_iter().flatten().collect();
    let mut names: Vec<&str> = trials.iter().map(Trial::name).collect();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        panic!("two tests are named {}", twice[0]);
    }
    trials
}

/// True with `--nocapture` (or `RUST_TEST_NOCAPTURE`): libtest-mimic never captures what a
/// test prints, so a passing test prints its notes only when they are asked for, as under
/// libtest.
pub fn nocapture() -> bool {
    std::env::args().any(|arg| arg == "--nocapture")
        || std::env::var_os("RUST_TEST_NOCAPTURE").is_some_and(|v| v != "0")
}
