//! The `switchyard` binary: everything lives in the library's `cli` module.

/// The binary's allocator. `serve` allocates and frees on every request from whichever
/// runtime worker holds the task, and glibc's allocator then contends on the arena a block
/// came from (futex waits under load); mimalloc frees to per-thread pages without a lock.
/// The library leaves the choice to the program that links it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    switchyard::cli_main()
}
