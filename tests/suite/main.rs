//! Every integration test of reimage, in one test binary with a libtest-mimic harness
//! (`harness = false`): one link instead of one per file, one closing `test result:` line for
//! all of them, each golden case a test of its own (`golden::<folder>`), and a test whose
//! material is missing reported as ignored with the reason (a failure with `CI=true`).
//!
//! Each module covers one area and lists its tests at its top with [`tests!`]; a test function
//! takes nothing and returns `()` or [`common::Ran`]. A function left out of that list is dead
//! code, which `cargo clippy --all-targets -- -D warnings` refuses.
//!
//! `cargo test --test suite -- golden::` runs the golden cases, `cargo test -- NAME` the
//! tests whose name contains NAME, `cargo test -- --list` lists them all.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod harness;

#[path = "../common/mod.rs"]
mod common;

mod argocd;
mod completions;
mod copy_lists;
mod differential;
mod fixtures;
mod golden;
mod helm;
mod hostile;
mod import;
mod init;
mod log;
mod mirror;
mod node_mirrors;
mod output;
mod plugin;
mod properties;
mod readme;
mod registry;
mod registry_tls;
mod sarif;
mod schema;

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    // The two threads of this machine take tests in this order: the longest first, so that
    // the short ones fill in beside them instead of one long test running alone at the end.
    let trials = harness::checked(vec![
        hostile::tests(),
        registry::tests(),
        registry_tls::tests(),
        differential::tests(),
        helm::tests(),
        copy_lists::tests(),
        mirror::tests(),
        node_mirrors::tests(),
        argocd::tests(),
        fixtures::tests(),
        properties::tests(),
        golden::tests(),
        sarif::tests(),
        schema::tests(),
        init::tests(),
        import::tests(),
        completions::tests(),
        log::tests(),
        readme::tests(),
        plugin::tests(),
        output::tests(),
    ]);
    libtest_mimic::run(&args, trials).exit();
}
