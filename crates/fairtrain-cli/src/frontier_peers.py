"""The alternatives of `fairtrain frontier`: fairlearn's ExponentiatedGradient
and ThresholdOptimizer on scikit-learn models, trained on the same exported
train/test split that fairtrain trains on, judged by the same between-group
gaps. Written out and run by `fairtrain frontier --python PY`; needs
fairlearn (0.15) and scikit-learn.

usage: python frontier_peers.py DATA_DIR OUT.csv NOTION SEEDS BOUND[,BOUND...]
"""
import csv
import sys
import time
import warnings

import numpy as np
import pandas as pd
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import (
    DemographicParity,
    EqualizedOdds,
    ErrorRateParity,
    ExponentiatedGradient,
    FalsePositiveRateParity,
    TruePositiveRateParity,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

warnings.filterwarnings("ignore")

# fairtrain notion -> (reductions moment, ThresholdOptimizer constraint or None)
NOTIONS = {
    "demographic-parity": (DemographicParity, "demographic_parity"),
    "equal-opportunity": (TruePositiveRateParity, "true_positive_rate_parity"),
    "equalized-odds": (EqualizedOdds, "equalized_odds"),
    "predictive-equality": (FalsePositiveRateParity, "false_positive_rate_parity"),
    "accuracy-parity": (ErrorRateParity, None),
}


def gap(notion, y, pred, groups):
    """The largest between-group difference of the notion's rates, as fairtrain reports it."""
    def spread(values):
        values = [v for v in values if v is not None]
        return max(values) - min(values) if len(values) > 1 else 0.0

    def rate(mask, of):
        m = mask & of
        return pred[m].mean() if of[mask].sum() > 0 and m.sum() > 0 else None

    names = np.unique(groups)
    everyone = np.ones_like(y, dtype=bool)
    pos, neg = y == 1, y == 0
    members = [groups == g for g in names]
    if notion == "demographic-parity":
        return spread([pred[m].mean() for m in members])
    if notion == "equal-opportunity":
        return spread([rate(m, pos) for m in members])
    if notion == "predictive-equality":
        return spread([rate(m, neg) for m in members])
    if notion == "equalized-odds":
        return max(spread([rate(m, pos) for m in members]), spread([rate(m, neg) for m in members]))
    if notion == "accuracy-parity":
        return spread([(pred[m] == y[m]).mean() for m in members if everyone[m].any()])
    raise SystemExit(f"unknown notion {notion}")


def load(path):
    frame = pd.read_csv(path)
    groups = frame["group"].astype(str).to_numpy()
    y = frame["label"].to_numpy().astype(int)
    x = frame.drop(columns=["group", "label"]).to_numpy(dtype=np.float64)
    return x, y, groups


def main():
    data_dir, out, notion, seeds, bounds = sys.argv[1:6]
    seeds = int(seeds)
    bounds = [float(b) for b in bounds.split(",")]
    moment, to_constraint = NOTIONS[notion]
    x, y, a = load(f"{data_dir}/train.csv")
    xt, yt, at = load(f"{data_dir}/test.csv")
    rows = []

    def record(tool, model, param, seed, pred, seconds):
        pred = np.asarray(pred).astype(int)
        rows.append([tool, model, param, seed, (pred == yt).mean(), gap(notion, yt, pred, at), seconds])
        print(f"{tool} {model} {param} seed {seed}: accuracy {rows[-1][4]:.4f}, gap {rows[-1][5]:.4f}", flush=True)

    # The bound of ExponentiatedGradient is each group's distance from the
    # overall rate, not the between-group gap: sweep it wider and compare at
    # matched test gaps.
    # Fitting a logistic regression is deterministic: one fit, and the
    # seeds draw the randomized predictions; the MLP is fitted per seed.
    differences = sorted({round(b * f, 5) for b in bounds for f in (0.5, 1.0)})
    for d in differences:
        start = time.time()
        eg = ExponentiatedGradient(LogisticRegression(max_iter=1000), moment(difference_bound=d))
        eg.fit(x, y, sensitive_features=a)
        seconds = time.time() - start
        for seed in range(seeds):
            record("fairlearn", "ExponentiatedGradient(LogisticRegression)", d, seed,
                   eg.predict(xt, random_state=seed), seconds)
    if to_constraint is not None:
        fitted = []
        start = time.time()
        lr = LogisticRegression(max_iter=1000).fit(x, y)
        fitted += [("LogisticRegression", lr, seed, time.time() - start) for seed in range(seeds)]
        for seed in range(seeds):
            start = time.time()
            mlp = MLPClassifier(hidden_layer_sizes=(64, 32), random_state=seed, max_iter=200).fit(x, y)
            fitted.append(("MLPClassifier(64,32)", mlp, seed, time.time() - start))
        # fairlearn relaxes every constraint but equalized odds.
        tols = [None] + (bounds if to_constraint != "equalized_odds" else [])
        for name, estimator, seed, fit_seconds in fitted:
            for tol in tols:
                start = time.time()
                to = ThresholdOptimizer(estimator=estimator, constraints=to_constraint, prefit=True,
                                        predict_method="predict_proba", tol=tol)
                to.fit(x, y, sensitive_features=a)
                pred = to.predict(xt, sensitive_features=at, random_state=seed)
                record("fairlearn", f"ThresholdOptimizer({name})", "exact" if tol is None else tol, seed, pred,
                       fit_seconds + time.time() - start)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tool", "method", "param", "seed", "test_accuracy", "test_gap", "seconds"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
