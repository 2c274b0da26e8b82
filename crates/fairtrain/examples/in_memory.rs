//! Data built in Rust vectors, trained under a rate constraint (equal
//! opportunity) through the library's run: validation split, margin, model
//! selection, evaluation and certificate, without a file or the burn
//! feature.
//!
//! Run with `cargo run --release -p fairtrain --example in_memory`; an
//! argument sets the iterations (default 5000).

use fairtrain::data::Dataset;
use fairtrain::run::{RunConfig, run_with_data};

/// `n` rows of two features; group 1 is a third of the rows and its
/// positives score lower on the first feature, so an unconstrained model
/// finds fewer of them.
fn rows(n: usize, seed: u64) -> Result<Dataset, fairtrain::Error> {
    let mut state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut uniform = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f32 / (1u64 << 53) as f32
    };
    let (mut features, mut labels, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let group = u32::from(i % 3 == 0);
        let label = f32::from(uniform() < 0.4);
        let signal = if label > 0.5 { 0.6 - 0.5 * group as f32 } else { -0.4 };
        // The second feature hints at the group (as a zip code might).
        features.extend([signal + 2.0 * (uniform() - 0.5), group as f32 + uniform() - 0.5]);
        labels.push(label);
        groups.push(group);
    }
    Dataset::from_dense(features, 2, labels, groups, vec!["majority".into(), "minority".into()])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: i64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let mut config = RunConfig::default();
    config.set("constraint", "equal-opportunity")?;
    config.set("bound", 0.05)?;
    config.set("hidden", "16")?;
    config.set("iterations", iterations)?;

    // The same data unconstrained, for comparison.
    let mut unconstrained = config.clone();
    unconstrained.set("algorithm", "adam")?;
    let adam = run_with_data(&unconstrained, rows(4000, 1)?, rows(2000, 2)?, &mut ())?;
    let gap = |m: &fairtrain::run::Metrics| m.test.eopp_gap.unwrap_or(f64::NAN);
    let accuracy = |m: &fairtrain::run::Metrics| m.test.accuracy.unwrap_or(f64::NAN);

    let outcome = run_with_data(&config, rows(4000, 1)?, rows(2000, 2)?, &mut ())?;
    println!(
        "unconstrained (adam): test accuracy {:.4}, equal-opportunity gap {:.4}; constrained (ssl-alm): {:.4}, {:.4}",
        accuracy(&adam.metrics),
        gap(&adam.metrics),
        accuracy(&outcome.metrics),
        gap(&outcome.metrics)
    );
    print!("{}", outcome.report());
    Ok(())
}
