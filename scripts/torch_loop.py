# A hand-written PyTorch loop doing what one SSL-ALM step does on the tabular problem
# (objective batch + one batch per group, BCE, loss-gap constraints, one backward of the
# weighted combination, an SGD step) with the same MLP (82-64-32-1) on Adult-sized random
# data; prints steps per second at batch 16 and 256. Used by scripts/bench-backends.sh.
import time
import torch
torch.set_num_threads(1)
torch.manual_seed(0)
d = 82
net = torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
opt = torch.optim.SGD(net.parameters(), lr=0.01)
bce = torch.nn.BCEWithLogitsLoss()
lam = torch.tensor([0.5, 0.5])
X = torch.randn(30000, d); Y = (torch.rand(30000) < 0.25).float(); G = (torch.rand(30000) < 0.15).long()
idx0 = torch.nonzero(G == 0).squeeze(1); idx1 = torch.nonzero(G == 1).squeeze(1)
for batch in [16, 256]:
    steps = 3000 if batch == 16 else 1000
    def step():
        o = torch.randint(0, 30000, (batch,)); a = idx0[torch.randint(0, len(idx0), (batch,))]; b = idx1[torch.randint(0, len(idx1), (batch,))]
        rows = torch.cat([o, a, b])
        z = net(X[rows]).squeeze(1); y = Y[rows]
        f = bce(z[:batch], y[:batch]); la = bce(z[batch:2*batch], y[batch:2*batch]); lb = bce(z[2*batch:], y[2*batch:])
        c = torch.stack([la - lb - 0.01, lb - la - 0.01])
        L = f + (lam * c).sum()
        opt.zero_grad(); L.backward(); opt.step()
    for _ in range(100): step()
    t = time.perf_counter()
    for _ in range(steps): step()
    print(f"torch batch {batch}: {steps / (time.perf_counter() - t):.0f} it/s")
