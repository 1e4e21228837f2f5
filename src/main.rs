//! The `wstap` binary: a thin shell around the library's CLI.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    tune_malloc();
    wstap::cli::log::init();
    let cli = wstap::cli::Cli::parse();
    let runtime = match wstap::cli::runtime(&cli) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wstap: error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(wstap::cli::run(cli)) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors may quote what a peer or a file said.
            eprintln!("wstap: error: {}", wstap::escape::block(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().filter_map(|c| c.downcast_ref::<std::io::Error>()).any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Keeps freed read blocks in glibc's heap instead of handing them back to
/// the kernel after every message.
///
/// The relay reads into 256 KiB blocks that live until both the writer and
/// the recorder drop them. glibc's default trim threshold (twice the
/// largest block freed so far, here 512 KiB) returns the top of the heap to
/// the kernel almost every time, so the next block is fresh pages: a page
/// fault and a zeroed page per 4 KiB (~6 % of the proxy's samples at 1 MiB
/// messages in a profile). With an 8 MiB trim threshold and blocks up to 4 MiB taken
/// from the heap (not `mmap`), freed blocks are reused: 1 MiB echoes cost
/// ~0.2 ms less CPU each, and a 256 MiB message still peaks at ~16 MiB RSS
/// (docs/performance.md). Setting either value turns off glibc's dynamic
/// adjustment, which is why both are set. Other C libraries: left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    // SAFETY: mallopt only sets allocator parameters; it is called before
    // any other thread exists, and a refused value (return 0) leaves
    // glibc's defaults, which are correct, only slower.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}
