#!/usr/bin/python3
"""deep_torch.py — the PyTorch peer of bench/deep.sh: DeepFM and DCN-v2 built
the way leap builds them (src/models/deep_net.c), trained on the very same
hashed feature indices: `leap transform apply` writes the bundle featurizer's
output ("label idx:val ...", one entry per field) and this script embeds those
indices in a table of the same size.

  deepfm:  bias + Σ first-order weights + FM(e_1..e_F) + MLP([e_1 | ... | e_F]) → 1
  dcn_v2:  bias + MLP(cross^L([e_1 | ... | e_F])) → 1, x' = x0 ⊙ (x W + b) + x (full rank)

Embeddings U(±init_scale), first-order weights 0, Linear layers torch's
default (U(±1/sqrt(fan in)), as leap). Adam for dense parameters,
torch.optim.SparseAdam for the embedding tables (sparse gradients), mean
BCE-with-logits loss, one epoch over a random permutation of the rows.
torch.set_num_threads(THREADS); run with OMP_WAIT_POLICY=PASSIVE.

Timed: the training loop (examples/s), batch scoring of the test rows
(8192 rows a call, no_grad), one-row scoring (p50/p99 over N calls after a
warm-up). Peak RSS is the process's (it holds the data arrays too).
Writes a JSON file of figures.
"""
import argparse
import json
import resource
import time

import numpy as np
import torch
import torch.nn as nn


def load_svm(path):
    """'label idx:val ...' with the same number of entries on every row."""
    with open(path, "rb") as f:
        text = f.read()
    first = text[: text.index(b"\n")].split()
    k = len(first) - 1
    flat = np.array(text.replace(b":", b" ").split(), dtype=np.float64)
    rows = flat.reshape(-1, 1 + 2 * k)
    y = rows[:, 0].astype(np.float32)
    idx = rows[:, 1::2].astype(np.int64)
    val = rows[:, 2::2].astype(np.float32)
    return idx, val, y


def mlp(d_in, widths):
    layers = []
    for w in widths:
        layers += [nn.Linear(d_in, w), nn.ReLU()]
        d_in = w
    return nn.Sequential(*layers), d_in


class Net(nn.Module):
    def __init__(self, kind, buckets, fields, dim, hidden, cross, init_scale):
        super().__init__()
        self.kind, self.F, self.d = kind, fields, dim
        self.emb = nn.Embedding(buckets, dim, sparse=True)
        nn.init.uniform_(self.emb.weight, -init_scale, init_scale)
        self.bias = nn.Parameter(torch.zeros(1))
        D = fields * dim
        if kind == "deepfm":
            self.w = nn.Embedding(buckets, 1, sparse=True)
            nn.init.zeros_(self.w.weight)
            self.mlp, h = mlp(D, hidden)
        else:
            self.cross = nn.ModuleList(nn.Linear(D, D) for _ in range(cross))
            for c in self.cross:
                nn.init.zeros_(c.bias)
            self.mlp, h = mlp(D, hidden)
        self.out = nn.Linear(h, 1, bias=False)

    def forward(self, idx, val):
        e = self.emb(idx) * val.unsqueeze(-1)  # [B, F, d]
        B = idx.shape[0]
        x0 = e.reshape(B, -1)
        if self.kind == "deepfm":
            s = e.sum(1)
            fm = 0.5 * (s * s - (e * e).sum(1)).sum(1)
            wide = (self.w(idx).squeeze(-1) * val).sum(1)
            return self.bias + wide + fm + self.out(self.mlp(x0)).squeeze(-1)
        x = x0
        for c in self.cross:
            x = x0 * c(x) + x
        return self.bias + self.out(self.mlp(x)).squeeze(-1)

    def sparse_params(self):
        return [p for n, p in self.named_parameters() if n.startswith(("emb.", "w."))]

    def dense_params(self):
        return [p for n, p in self.named_parameters() if not n.startswith(("emb.", "w."))]


def auc_logloss(p, y):
    from sklearn.metrics import roc_auc_score
    q = np.clip(p.astype(np.float64), 1e-15, 1 - 1e-7)
    ll = -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))
    return float(roc_auc_score(y, p)), float(ll)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--model", choices=["deepfm", "dcn_v2"], required=True)
    ap.add_argument("--buckets", type=int, required=True)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--hidden", default="400,400,400")
    ap.add_argument("--cross", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--init-scale", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--one-row", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tr_idx, tr_val, tr_y = load_svm(a.train)
    te_idx, te_val, te_y = load_svm(a.test)
    hidden = [int(w) for w in a.hidden.split(",") if w]
    net = Net(a.model, a.buckets, tr_idx.shape[1], a.dim, hidden, a.cross, a.init_scale)
    opt_s = torch.optim.SparseAdam(net.sparse_params(), lr=a.lr)
    opt_d = torch.optim.Adam(net.dense_params(), lr=a.lr)
    loss_fn = nn.BCEWithLogitsLoss()
    Ti, Tv, Ty = torch.from_numpy(tr_idx), torch.from_numpy(tr_val), torch.from_numpy(tr_y)
    n = Ti.shape[0]
    t0 = time.perf_counter()
    perm = torch.randperm(n)
    net.train()
    for s in range(0, n, a.batch):
        b = perm[s : s + a.batch]
        opt_s.zero_grad()
        opt_d.zero_grad()
        loss = loss_fn(net(Ti[b], Tv[b]), Ty[b])
        loss.backward()
        opt_s.step()
        opt_d.step()
    train_s = time.perf_counter() - t0
    net.eval()
    Ei, Ev = torch.from_numpy(te_idx), torch.from_numpy(te_val)
    with torch.no_grad():
        out = []
        t0 = time.perf_counter()
        for s in range(0, Ei.shape[0], 8192):
            out.append(torch.sigmoid(net(Ei[s : s + 8192], Ev[s : s + 8192])))
        batch_s = time.perf_counter() - t0
        p = torch.cat(out).numpy()
        lat = []
        for i in range(-200, a.one_row):
            r = abs(i) % Ei.shape[0]
            t1 = time.perf_counter()
            torch.sigmoid(net(Ei[r : r + 1], Ev[r : r + 1]))
            if i >= 0:
                lat.append((time.perf_counter() - t1) * 1e6)
    auc, ll = auc_logloss(p, te_y)
    lat.sort()
    res = {
        "model": a.model,
        "torch": torch.__version__,
        "threads": a.threads,
        "train_rows": int(n),
        "train_s": train_s,
        "train_examples_per_s": n / train_s,
        "test_auc": auc,
        "test_logloss": ll,
        "batch_rows_per_s": Ei.shape[0] / batch_s,
        "one_row_p50_us": lat[len(lat) // 2],
        "one_row_p99_us": lat[int(len(lat) * 0.99)],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    with open(a.json, "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
