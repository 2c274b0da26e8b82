//! A progress bar on stderr while training (hidden when stderr is not a
//! terminal).

use std::io::IsTerminal;

use fairtrain::train::{Budget, Observer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shows iterations (or elapsed time, for a time budget) against the budget.
pub struct Progress {
    bar: ProgressBar,
    budget: Budget,
}

impl Progress {
    /// A bar for `budget` (hidden unless `show`).
    pub fn new(budget: Budget, show: bool) -> Self {
        let (len, template) = match budget {
            Budget::Iterations(n) => (n, "{bar:32} {pos}/{len} it · {msg} · eta {eta}"),
            // Time budgets count milliseconds.
            Budget::Seconds(s) => ((s * 1000.0) as u64, "{bar:32} {elapsed}/{duration} · {msg}"),
        };
        let bar = ProgressBar::with_draw_target(
            Some(len),
            if show && std::io::stderr().is_terminal() {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        Progress { bar, budget }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Progress {
    fn progress(&mut self, iteration: u64, seconds: f64) {
        let rate = if seconds > 0.0 { iteration as f64 / seconds } else { 0.0 };
        match self.budget {
            Budget::Iterations(_) => {
                self.bar.set_position(iteration);
                self.bar.set_message(format!("{rate:.0} it/s"));
            }
            Budget::Seconds(_) => {
                self.bar.set_position((seconds * 1000.0) as u64);
                self.bar.set_message(format!("{iteration} it · {rate:.0} it/s"));
            }
        }
    }
}
