//! Your own CSV file through the whole run, as `fairtrain train` does it:
//! the default preset (a validation split, the generalization margin, the
//! best model feasible on validation), per-group results and the held-out
//! certificate, from a configuration in the TOML form of `--config` files.
//!
//! Run with `cargo run --release -p fairtrain --example own_csv`; an
//! argument sets the iterations (default 5000).

use std::path::Path;

use fairtrain::run::{RunConfig, run};

/// Writes a small loan-approval table: income, debt, region, sex, approved.
/// Approval depends on income and debt, and women's incomes are lower, so
/// an unconstrained model approves them less often.
fn write_loans(path: &Path) -> std::io::Result<()> {
    let mut text = String::from("income,debt,region,sex,approved\n");
    let mut state: u64 = 7;
    let mut uniform = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..3000 {
        let female = i % 3 == 0;
        let income = 30.0 + 50.0 * uniform() - if female { 8.0 } else { 0.0 };
        let debt = 20.0 * uniform();
        let region = ["north", "south", "east"][i % 3];
        let score = (income - 45.0) / 10.0 - (debt - 10.0) / 8.0 + uniform() - 0.5;
        let approved = if score > 0.0 { "yes" } else { "no" };
        let sex = if female { "female" } else { "male" };
        text.push_str(&format!("{income:.1},{debt:.1},{region},{sex},{approved}\n"));
    }
    std::fs::write(path, text)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: u64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let dir = std::env::temp_dir().join(format!("fairtrain-own-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let csv = dir.join("loans.csv");
    write_loans(&csv)?;

    // The same sections as a `--config` file; the path is the only key
    // that is not a default.
    let mut config = RunConfig::from_toml(&format!(
        r#"
        [data]
        source = "{}"
        target = "approved"
        positive = "yes"
        group = "sex"

        [[constraint]]
        notion = "demographic-parity"
        bound = 0.05
        "#,
        csv.display()
    ))?;
    // Flat keys, as flags and Python keywords give them, lay over it.
    config.set("iterations", iterations as i64)?;

    let outcome = run(&config, &mut ())?;
    print!("{}", outcome.report());
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
