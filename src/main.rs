use clap::Parser;

fn main() {
    let cli = pkiforge::cli::Cli::parse();
    match pkiforge::run(cli) {
        Ok(stdout) => pkiforge::output::stdout(&stdout),
        Err(e) => {
            if let Some(report) = e.report() {
                pkiforge::output::stdout(report);
            }
            pkiforge::output::stderr_line(&format!("error: {e}"));
            std::process::exit(e.exit_code());
        }
    }
}
