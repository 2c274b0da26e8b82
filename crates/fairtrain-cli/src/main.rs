//! The `fairtrain` command line.

#[macro_use]
mod console;

mod args;
mod bench_cmd;
mod charts;
mod datasets_cmd;
mod frontier_cmd;
mod output_file;
mod parallel;
mod predict_cmd;
mod progress;
mod prune_cmd;
mod report_cmd;
mod speed;
mod study_cmd;
mod study_fairbatch;
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
    /// Run a grid of training runs (the paper's protocol by default) and write results.csv; --speed measures throughput
    Bench(Box<bench_cmd::BenchArgs>),
    /// Score new data with a saved model (the same preprocessing as in training)
    Predict(predict_cmd::PredictArgs),
    /// Per-group metrics, fairness gaps and held-out certificates of any model's predictions
    Audit(predict_cmd::AuditArgs),
    /// Accuracy against held-out gap: fairtrain (in-training, post-processing, both) as curves over bounds, fairlearn's methods as points, on one exported split
    Frontier(Box<frontier_cmd::FrontierArgs>),
    /// Write report.html (self-contained) and report.md for a bench directory
    Report(report_cmd::ReportArgs),
    /// Built-in data sets and ACS tasks: list, describe, fetch into the cache
    #[command(subcommand)]
    Datasets(datasets_cmd::DatasetsCommand),
    /// Train a dense model under a fairness constraint, then prune it to a target sparsity (BiFP, magnitude, magnitude + fine-tuning)
    Prune(Box<prune_cmd::PruneArgs>),
    /// Studies over many runs: `study optimizers` compares SGD, momentum, RMSProp and Adam on fairness; `study fairbatch` reruns FairBatch's notebook experiment
    #[command(subcommand)]
    Study(StudyCommand),
}

/// `fairtrain study ...`
#[derive(Debug, Subcommand)]
enum StudyCommand {
    /// Train with SGD, momentum, RMSProp and Adam over seeds and compare their fairness
    Optimizers(study_cmd::StudyArgs),
    /// FairBatch's notebook experiment over seeds, beside the uniform sampler and the notebook's numbers
    Fairbatch(study_fairbatch::FairBatchStudyArgs),
}

fn main() -> ExitCode {
    console::know_flags(&<Cli as clap::CommandFactory>::command());
    let cli = Cli::parse();
    let processes = match parallel::Processes::start() {
        Ok(p) => p,
        Err(e) => {
            errln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let alone = |command: &str| processes.only_alone(command);
    let result = match cli.command {
        Command::Train(args) => {
            train_cmd::install_interrupt_handler();
            train_cmd::run(*args, processes.group())
        }
        Command::Datasets(command) => alone("datasets").and_then(|()| datasets_cmd::run(command)),
        Command::Bench(args) => alone("bench").and_then(|()| match args.speed {
            true => speed::run(&args),
            false => bench_cmd::run(*args),
        }),
        Command::Report(args) => alone("report").and_then(|()| report_cmd::run(args)),
        Command::Frontier(args) => alone("frontier").and_then(|()| frontier_cmd::run(*args)),
        Command::Predict(args) => alone("predict").and_then(|()| predict_cmd::predict(args)),
        Command::Audit(args) => alone("audit").and_then(|()| predict_cmd::audit(args)),
        Command::Prune(args) => alone("prune").and_then(|()| {
            train_cmd::install_interrupt_handler();
            prune_cmd::run(*args)
        }),
        Command::Study(command) => alone("study").and_then(|()| match command {
            StudyCommand::Optimizers(args) => study_cmd::run(args),
            StudyCommand::Fairbatch(args) => study_fairbatch::run(args),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Every process of a data-parallel run stops at the same
            // iteration when interrupted: the first reports it.
            if let Some(stopped) = e.downcast_ref::<train_cmd::Interrupted>() {
                if processes.group().is_none_or(|g| g.rank() == 0) {
                    errln!("{stopped}");
                }
                return ExitCode::from(train_cmd::INTERRUPTED_EXIT);
            }
            processes.fail(&format!("error: {e:#}"), 1)
        }
    }
}

#[cfg(test)]
mod fuzz {
    //! Whatever the command line or config text, parsing and resolving the
    //! settings returns a value or an error, never panics. Raise the cases
    //! with `PROPTEST_CASES=100000 cargo test -p fairtrain-cli fuzz`.

    use clap::Parser;
    use proptest::prelude::*;

    use super::{Cli, Command};

    const TOKENS: [&str; 40] = [
        "train",
        "bench",
        "datasets",
        "report",
        "predict",
        "audit",
        "list",
        "--data",
        "synthetic",
        "adult",
        "german",
        "x.csv",
        "--algorithm",
        "ssl-alm",
        "ghost",
        "--bound",
        "-1",
        "0",
        "1e309",
        "nan",
        "--constraint",
        "loss-parity",
        "--lr",
        "--iterations",
        "--time-budget",
        "--eval-every",
        "0.5s",
        "--checkpoint-every",
        "off",
        "--group",
        "race,sex",
        "--hidden",
        "none",
        "64,,32",
        "--batch-size",
        "--preset",
        "paper",
        "--seeds",
        "--state",
        "",
    ];

    fn argv() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(prop::sample::select(TOKENS.to_vec()), 0..12)
            .prop_map(|t| std::iter::once("fairtrain").chain(t).map(String::from).collect())
    }

    proptest! {
        #[test]
        fn command_lines_never_panic(args in argv()) {
            if let Ok(cli) = Cli::try_parse_from(&args) {
                match cli.command {
                    Command::Train(a) => {
                        let _ = a.run_config().and_then(|c| Ok(c.resolve()?));
                    }
                    Command::Bench(b) => {
                        let _ = b.grid();
                    }
                    _ => {}
                }
            }
        }

    }
}
