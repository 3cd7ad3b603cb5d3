//! Writes a generated workload stream on standard output, for benchmarks:
//!
//! ```sh
//! cargo run --release --example gen-stream -- 10 > stream-10mb.yaml    # megabytes [seed]
//! ```
//!
//! The same size and seed always give the same bytes (see `benches/workload/mod.rs`).

#[path = "../benches/workload/mod.rs"]
mod workload;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [mb] => mb.parse::<f64>().ok().map(|mb| (mb, 1)),
        [mb, seed] => mb.parse::<f64>().ok().zip(seed.parse::<u64>().ok()),
        _ => None,
    };
    let Some((mb, seed)) = parsed.filter(|(mb, _)| *mb > 0.0) else {
        eprintln!("usage: gen-stream MEGABYTES [SEED]");
        return ExitCode::from(2);
    };
    let text = workload::stream((mb * 1024.0 * 1024.0) as usize, seed);
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-stream: {e}");
            ExitCode::FAILURE
        }
    }
}
