//! The `binspector` binary: parse the flags, then run the application (or a subcommand).

use std::{
    io::{IsTerminal, Write},
    process::ExitCode,
};

use binspector::config::{Cli, Command};
use binspector::{send_sample, startup::Application};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.command {
        Some(Command::SendSample(args)) => return send_sample::run(&args).await,
        None => cli.config,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .init();

    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("binspector: {err}");
            return ExitCode::FAILURE;
        }
    };
    // A closed stdout (a supervisor that stopped reading) must not stop the server.
    let mut stdout = std::io::stdout();
    for url in app.urls() {
        let _ = writeln!(stdout, "binspector is listening: open {url}");
    }
    let _ = stdout.flush();
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("binspector: {err}");
            ExitCode::FAILURE
        }
    }
}
