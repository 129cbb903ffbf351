//! `vodstack`: the command-line entry point (serve, config, keys, users).

mod admin;
mod callbacks;
mod cli;
mod config;
mod edge;
mod jobs;
mod oss;
mod processing;
mod serve;
mod url_pull;

use clap::Parser;

/// mimalloc: the request path allocates many small, short-lived buffers; glibc malloc
/// spent about a fifth of the gateway's CPU on them in the gateway bench.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
