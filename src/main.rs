use clap::Parser;

fn main() {
    let cli = pkiforge::cli::Cli::parse();
    match pkiforge::run(cli) {
        Ok(stdout) => print!("{stdout}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
