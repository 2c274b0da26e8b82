"""Adult income under demographic parity, from Python: the unconstrained
model, the constrained one, and their per-group results side by side.

Run after `pip install ./python`:  python python/examples/adult_demographic_parity.py
"""

import fairtrain

X, y, A = fairtrain.datasets.load("adult")
X_test, y_test, A_test = fairtrain.datasets.load("adult", split="test")

# Unconstrained: Adam on the same network and split.
baseline = fairtrain.FairClassifier(algorithm="adam", seed=0).fit(X, y, sensitive_features=A)
# Demographic parity: positive rates of White and Non-White within 0.05.
fair = fairtrain.FairClassifier(constraint="demographic-parity", bound=0.05, seed=0).fit(X, y, sensitive_features=A)

for name, model in [("adam", baseline), ("demographic parity <= 0.05", fair)]:
    predictions = model.predict(X_test)
    rates = {g: predictions[(A_test == g).to_numpy()].mean() for g in A_test.cat.categories}
    gap = max(rates.values()) - min(rates.values())
    print(f"{name}: test accuracy {model.score(X_test, y_test):.4f}, positive-rate gap {gap:.4f}")
    print(model.group_frame_[["n", "accuracy", "positive_rate"]].round(4).to_string(), "\n")

# The held-out certificate of the run's own test split (a 20% stratified split of X).
print(fair.certificate_)
