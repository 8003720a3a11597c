use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    quiet_on_closed_output();
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

/// A closed stdout or stderr (`bakeoff db check | head -1`) ends the command quietly with status
/// 0, as Unix tools do, instead of a panic from `println!`. SIGPIPE stays ignored (Rust's
/// default): the server's sockets and pipes report a closed peer as an error, not a signal.
fn quiet_on_closed_output() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let printing = text.starts_with("failed printing to stdout") || text.starts_with("failed printing to stderr");
        if printing && (text.contains("Broken pipe") || text.contains("os error 32")) {
            std::process::exit(0);
        }
        default(info);
    }));
}
