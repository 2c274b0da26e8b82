"""fairlearn's ExponentiatedGradient with fairtrain's MLP as its learner: a
randomized classifier under equalized odds, beside in-training SSL-ALM, on
one train/test split.

Run after `pip install ./python fairlearn`:

    fairtrain datasets export law --out law-split    # the frontier's 70/30 split
    python python/examples/reductions_over_the_mlp.py law-split [BOUND]

About 15 seconds for Law school (ExponentiatedGradient fits the MLP once per
round). There it prints test accuracy 0.8902 at an equalized-odds gap of
0.0049 for in-training SSL-ALM, and 0.8945 at 0.0168 for the mixture of two
fits.
"""

import sys
import warnings

import numpy as np
import pandas as pd
from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

import fairtrain

folder = sys.argv[1]
bound = float(sys.argv[2]) if len(sys.argv) > 2 else 0.02


def read(name):
    """Encoded inputs, labels and groups of an exported split."""
    frame = pd.read_csv(f"{folder}/{name}.csv")
    return frame.drop(columns=["group", "label"]), frame["label"].to_numpy(), frame["group"].astype(str)


def equalized_odds_gap(y, predictions, groups):
    """The largest between-group difference of the TPR or the FPR."""
    gaps = []
    for label in (0, 1):
        rates = [predictions[(groups == g).to_numpy() & (y == label)].mean() for g in groups.unique()]
        gaps.append(max(rates) - min(rates))
    return max(gaps)


X, y, A = read("train")
X_test, y_test, A_test = read("test")

in_training = fairtrain.FairClassifier(constraint="equalized-odds", bound=bound, seed=0)
in_training.fit(X, y, sensitive_features=A)

# The learner sees relabeled, reweighted rows and no groups: each fit says so
# with an UnconstrainedWarning, which is what the reduction intends.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", fairtrain.UnconstrainedWarning)
    learner = fairtrain.FairClassifier(algorithm="adam", iterations=10_000, seed=0)
    mixture = ExponentiatedGradient(learner, EqualizedOdds(difference_bound=bound), max_iter=30)
    mixture.fit(X, y, sensitive_features=A)

for name, predictions in [
    ("in-training SSL-ALM", in_training.predict(X_test)),
    ("ExponentiatedGradient over the MLP", mixture.predict(X_test, random_state=0)),
]:
    accuracy = (predictions == y_test).mean()
    gap = equalized_odds_gap(y_test, predictions, A_test)
    print(f"{name}: test accuracy {accuracy:.4f}, equalized-odds gap {gap:.4f}")
weights = mixture.weights_[mixture.weights_ > 0]
print(f"the mixture draws among {len(weights)} fits, with weights {np.round(weights.to_numpy(), 2).tolist()}")
