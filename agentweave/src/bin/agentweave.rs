//! The `agentweave` command line. See `agentweave --help`; the logic lives in `agentweave::cli`.

fn main() -> std::process::ExitCode {
    agentweave::cli::main()
}
