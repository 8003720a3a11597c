use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = server::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,hyper=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match server::cli::dispatch(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The message says what to fix; a backtrace would only hide it.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
