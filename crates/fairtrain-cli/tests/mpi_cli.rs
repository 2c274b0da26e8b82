//! `mpirun -np 2 fairtrain train ...`: two processes reach the parameters
//! and multipliers of one process after the same steps on the same data
//! order. Built with the `mpi` feature (scripts/setup-mpi.sh installs Open
//! MPI); without it, a launch under mpirun is a clear error instead of N
//! independent runs.

mod common;

#[cfg(feature = "mpi")]
mod with_mpi {
    use std::path::Path;
    use std::process::{Command, Output};

    use super::common::{fairtrain, metrics, s};

    /// Runs the binary under `mpirun -np <n>` on this machine. Open MPI refuses
    /// root without its allow-run-as-root settings (containers, CI).
    fn mpirun(n: usize, args: &[&str]) -> Output {
        let o = Command::new("mpirun")
            .args(["-np", &n.to_string(), "--oversubscribe", "--bind-to", "none"])
            .arg(env!("CARGO_BIN_EXE_fairtrain"))
            .args(args)
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .output();
        o.expect("mpirun runs (the mpi feature needs Open MPI: scripts/setup-mpi.sh)")
    }

    /// The flat parameters of a run's saved model.
    fn params(dir: &Path) -> Vec<f32> {
        fairtrain::model::saved::load(dir).expect("the run saved its model").params
    }

    fn multipliers(dir: &Path) -> Vec<f64> {
        let m = metrics(dir);
        m["multipliers"].as_object().expect("multipliers").values().map(|v| v.as_f64().unwrap()).collect()
    }

    /// The settings of the agreement runs: SSL-ALM under two rate constraints
    /// and loss parity, the last iterate after a fixed number of steps.
    const RUN: [&str; 19] = [
        "train",
        "--data",
        "synthetic",
        "--constraint",
        "demographic-parity",
        "--constraint",
        "loss-parity",
        "--iterations",
        "1500",
        "--batch-size",
        "200",
        "--group-batch-size",
        "101",
        "--validation-fraction",
        "0",
        "--average",
        "0",
        "--quiet",
        "--out",
    ];

    #[test]
    fn two_processes_reach_the_single_process_run() {
        let tmp = tempfile::tempdir().unwrap();
        let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
        let o = fairtrain(&[&RUN[..], &[s(&one)]].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = mpirun(2, &[&RUN[..], &[s(&two)]].concat());
        assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(metrics(&two)["processes"], 2);
        assert_eq!(metrics(&one)["processes"], 1);
        assert_eq!(metrics(&two)["iterations"], 1500);

        let (p1, p2) = (params(&one), params(&two));
        let largest = p1.iter().fold(0.0f32, |m, p| m.max(p.abs()));
        let diff = p1.iter().zip(&p2).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-4 * largest.max(1.0), "parameters differ by {diff} (largest {largest})");
        let (l1, l2) = (multipliers(&one), multipliers(&two));
        assert_eq!(l1.len(), 4);
        assert!(l1.iter().any(|&l| l > 0.0), "no constraint bound: {l1:?}");
        for (a, b) in l1.iter().zip(&l2) {
            assert!((a - b).abs() < 1e-4 * a.abs().max(1.0), "multipliers {l1:?} vs {l2:?}");
        }
        // Half the steps on two processes, the rest resumed on one: the
        // checkpoint is the state of one process on the whole minibatches.
        let half = tmp.path().join("half");
        let mut args = [&RUN[..], &[s(&half)]].concat();
        let at = args.iter().position(|a| *a == "1500").unwrap();
        args[at] = "750";
        let o = mpirun(2, &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = fairtrain(&["train", "--resume", "--out", s(&half), "--iterations", "1500", "--quiet"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(metrics(&half)["resumed_from"], 750);
        let ph = params(&half);
        let diff = p1.iter().zip(&ph).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-4 * largest.max(1.0), "resumed parameters differ by {diff}");
    }

    #[test]
    fn processes_that_each_read_a_share_of_a_file_fit_a_budget_one_process_exceeds() {
        let tmp = tempfile::tempdir().unwrap();
        let csv = tmp.path().join("data.csv");
        // 20,000 rows of six numbers, a category, a group and a label: one
        // process holds about 0.68 MB of encoded rows, each of two about
        // 0.49 MB (half the features, every row's label and group).
        let mut text = String::from("x0,x1,x2,x3,x4,x5,c,g,y\n");
        for i in 0..20_000u64 {
            let x: Vec<f64> = (0..6).map(|k| ((i * (7919 + 104 * k)) % 1000) as f64 / 250.0 - 2.0).collect();
            let cells: Vec<String> = x.iter().map(|v| v.to_string()).collect();
            let g = ["a", "b", "c"][(i % 3) as usize];
            text += &format!("{},k{},{g},{}\n", cells.join(","), i % 7, u8::from(x[0] + x[1] > 0.0));
        }
        std::fs::write(&csv, text).unwrap();
        let run = |processes: usize, out: &Path, budget: &str| -> Output {
            let args = [
                "train",
                "--data",
                s(&csv),
                "--target",
                "y",
                "--group",
                "g",
                "--iterations",
                "500",
                "--quiet",
                "--memory-budget",
                budget,
                "--out",
                s(out),
            ];
            if processes == 1 { fairtrain(&args) } else { mpirun(processes, &args) }
        };
        let (one, two, refused) = (tmp.path().join("one"), tmp.path().join("two"), tmp.path().join("refused"));
        for (processes, out) in [(1, &one), (2, &two)] {
            let o = run(processes, out, "100");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let (m1, m2) = (metrics(&one), metrics(&two));
        assert_eq!(m2["processes"], 2);
        assert_eq!(m1["data"]["train_rows"], m2["data"]["train_rows"]);
        let accuracy = |m: &serde_json::Value| m["test"]["accuracy"].as_f64().unwrap();
        assert!((accuracy(&m1) - accuracy(&m2)).abs() <= 0.002, "{m1} vs {m2}");
        // A budget under what one process holds and over each share.
        let o = run(1, &refused, "0.6");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("invalid value for memory-budget: 0.6 MB: this process would hold"),
            "{err}"
        );
        assert!(!refused.exists(), "a refused run wrote outputs");
        let o = run(2, &refused, "0.6");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    #[test]
    fn data_parallel_runs_name_what_they_cannot_do() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("run");
        for (args, expected) in [
            (
                vec!["train", "--data", "synthetic", "--time-budget", "2", "--out", s(&out)],
                "--time-budget: a data-parallel run needs --iterations or --epochs",
            ),
            (
                vec!["train", "--data", "synthetic", "--method", "fermi", "--out", s(&out)],
                "--method fermi: the fairness methods do not run data-parallel",
            ),
            (vec!["datasets", "list"], "`fairtrain datasets` does not run data-parallel"),
            (vec!["train", "--resume", "--out", s(&out)], "--resume continues a run on one process"),
        ] {
            let o = mpirun(2, &args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success(), "{args:?} succeeded");
            assert!(err.contains(expected), "{args:?}: {err}");
            assert!(!out.exists(), "{args:?} wrote outputs");
        }
    }
}

/// Without the feature, a launcher's processes would each train alone and
/// write the same outputs: refused, with the way to a build that can.
#[cfg(not(feature = "mpi"))]
#[test]
fn mpi_launch_needs_the_feature() {
    use common::s;
    use std::process::Command;

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_fairtrain"))
        .args(["train", "--data", "synthetic", "--out", s(&out)])
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && o.status.code() != Some(101), "{err}");
    assert!(err.contains("started as one of 2 MPI processes, but this fairtrain was built without MPI"), "{err}");
    assert!(err.contains("--features mpi"), "{err}");
    assert!(!out.exists());
}
