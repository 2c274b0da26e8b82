//! The `fairtrain` command line.

mod args;
mod datasets_cmd;
mod output;
mod progress;
mod report;
mod settings;
mod train_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Train neural networks under fairness constraints.
#[derive(Debug, Parser)]
#[command(name = "fairtrain", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a model with a fairness constraint and report per-group results
    Train(Box<args::TrainArgs>),
    /// Built-in data sets and ACS tasks: list, describe, fetch into the cache
    #[command(subcommand)]
    Datasets(datasets_cmd::DatasetsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train_cmd::run(*args),
        Command::Datasets(command) => datasets_cmd::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
