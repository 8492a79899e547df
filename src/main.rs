//! The `binspector` binary: parse the flags, start logging, run the application.

use std::{io::IsTerminal, process::ExitCode};

use binspector::{config::Config, startup::Application};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[actix_web::main]
async fn main() -> ExitCode {
    let config = Config::parse();
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
    for url in app.urls() {
        println!("binspector is listening: open {url}");
    }
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("binspector: {err}");
            ExitCode::FAILURE
        }
    }
}
