//! An unconstrained model that post-processing makes fair is early-stopped
//! on its validation objective (`select = "best"`), not taken at the end of
//! training, where on small data it has memorized its training rows.

use fairtrain::run::{RunConfig, run};

fn german(select: Option<&str>) -> RunConfig {
    let select = select.map(|s| format!("select = \"{s}\"\n")).unwrap_or_default();
    RunConfig::from_toml(&format!(
        "seed = 1\n[data]\nsource = \"german\"\n[[constraint]]\nnotion = \"demographic-parity\"\nbound = 0.02\n\
         [generalization]\npostprocess = \"group-thresholds\"\n{select}"
    ))
    .unwrap()
}

/// German credit (640 training rows), demographic parity 0.02, seed 1: by
/// the end of training the unconstrained MLP has memorized its training
/// rows (validation loss 2.8); the default returns the evaluated model with
/// the best validation loss (1.6), and post-processing then fits its
/// thresholds to scores that generalize: test gap 0.11 within its 95%
/// half-width of the bound (0.21 from the last model, outside it).
#[test]
fn postprocessing_an_unconstrained_model_stops_it_early() {
    let best = run(&german(None), &mut ()).unwrap().metrics;
    let last = run(&german(Some("last")), &mut ()).unwrap().metrics;
    let selected = best.selected.as_ref().expect("a selected model");
    assert_eq!(selected.rule, "best");
    assert!(selected.iteration < best.iterations, "{selected:?}");
    assert!(last.selected.is_none());
    let loss =
        |m: &fairtrain::run::Metrics| m.postprocess.as_ref().unwrap().before.validation.as_ref().unwrap().objective;
    let (best_loss, last_loss) = (loss(&best).unwrap(), loss(&last).unwrap());
    assert!(best_loss < 0.7 * last_loss, "validation loss {best_loss} (best) vs {last_loss} (last)");
    let within = |m: &fairtrain::run::Metrics| {
        let c = &m.test.constraints[0];
        c.value.unwrap() <= c.bound + c.ci_half_width.unwrap()
    };
    assert!(within(&best), "{:?}", best.test.constraints);
    assert!(!within(&last), "{:?}", last.test.constraints);
}
