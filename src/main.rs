fn main() -> std::process::ExitCode {
    godzilla::cli::main()
}
