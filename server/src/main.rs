use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = server::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,hyper=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    server::cli::dispatch(cli).await
}
