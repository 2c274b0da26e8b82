# A hand-written PyTorch loop doing what one SSL-ALM step does on the tabular problem
# (objective batch + one batch per group, BCE, loss-gap constraints, one backward of the
# weighted combination, an SGD step) with the same MLP (82-64-32-1) on Adult-sized random
# data; prints steps per second at each batch size. Used by scripts/bench-backends.sh.
# Usage: python torch_loop.py [BATCHES=16,256] [DEVICE=cpu]   (e.g. 4096,16384 cuda)
import sys
import time
import torch
torch.set_num_threads(1)
torch.manual_seed(0)
batches = [int(b) for b in (sys.argv[1] if len(sys.argv) > 1 else "16,256").split(",")]
dev = torch.device(sys.argv[2] if len(sys.argv) > 2 else "cpu")
d = 82
net = torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)).to(dev)
opt = torch.optim.SGD(net.parameters(), lr=0.01)
bce = torch.nn.BCEWithLogitsLoss()
lam = torch.tensor([0.5, 0.5], device=dev)
X = torch.randn(30000, d, device=dev); Y = (torch.rand(30000, device=dev) < 0.25).float(); G = (torch.rand(30000, device=dev) < 0.15).long()
idx0 = torch.nonzero(G == 0).squeeze(1); idx1 = torch.nonzero(G == 1).squeeze(1)
def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()
for batch in batches:
    # About the same work at every batch size.
    steps = max(50, min(3000, 1_000_000 // (3 * batch)))
    def step():
        o = torch.randint(0, 30000, (batch,), device=dev)
        a = idx0[torch.randint(0, len(idx0), (batch,), device=dev)]
        b = idx1[torch.randint(0, len(idx1), (batch,), device=dev)]
        rows = torch.cat([o, a, b])
        z = net(X[rows]).squeeze(1); y = Y[rows]
        f = bce(z[:batch], y[:batch]); la = bce(z[batch:2*batch], y[batch:2*batch]); lb = bce(z[2*batch:], y[2*batch:])
        c = torch.stack([la - lb - 0.01, lb - la - 0.01])
        L = f + (lam * c).sum()
        opt.zero_grad(); L.backward(); opt.step()
        # The constrained algorithms read the constraint values every step.
        c.detach().cpu()
    for _ in range(20): step()
    sync()
    t = time.perf_counter()
    for _ in range(steps): step()
    sync()
    print(f"torch batch {batch} on {dev}: {steps / (time.perf_counter() - t):.0f} it/s")
