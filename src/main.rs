use clap::Parser;

fn main() {
    let cli = pkiforge::cli::Cli::parse();
    match pkiforge::run(cli) {
        Ok(stdout) => pkiforge::output::stdout(&stdout),
        Err(e) => {
            pkiforge::output::stderr_line(&format!("error: {e}"));
            std::process::exit(e.exit_code());
        }
    }
}
