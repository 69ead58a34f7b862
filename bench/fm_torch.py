#!/usr/bin/env python3
"""A plain FM (Rendle 2010) in PyTorch on leap's hashed features: the check that
leap's FM is not losing to LR for want of a better-trained FM.

logit = w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j, trained jointly in
mini-batches (shuffled rows, BCE), vectors ~ N(0, init), first-order weights 0,
Adagrad (sparse) or SparseAdam, L2 on the vectors a batch touches (`--l2`, per
occurrence, over the batch size), optionally divided by the feature's training
count (`--l2c`: every feature pays the same total penalty per epoch, as a
dense L2 would, so rare hashed ids are held near 0). `--nopair` trains the
first-order part alone (LR with the same optimizer); `--resid` trains it alone
for the first epoch, then freezes it and trains only the vectors (an FM on a
fixed LR's residual). Prints validation AUC
and logloss after every epoch (early stopping = the best epoch).

Inputs are what `leap transform apply --transform BUNDLE` writes
("label idx:val ..."); choose settings on a validation split of the TRAINING
rows, never on test rows. Example (docs/PERFORMANCE.md, "FM vs LR"):
  leap transform apply --transform fm.leap --data tr.tsv -o tr.svm   # same for va
  /usr/bin/python3 bench/fm_torch.py --train tr.svm --valid va.svm --k 8 --l2 1.0
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deep_torch import auc_logloss, load_svm  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--valid", required=True)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--opt", choices=["adagrad", "adam"], default="adagrad")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--l2", type=float, default=1e-5)
    ap.add_argument("--l2c", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--init", type=float, default=0.01)
    ap.add_argument("--buckets", type=int, default=1 << 20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nopair", action="store_true")
    ap.add_argument("--resid", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(a.threads)
    itr, vtr, ytr = (torch.from_numpy(x) for x in load_svm(a.train))
    iva, vva, yva = load_svm(a.valid)
    iva, vva = torch.from_numpy(iva), torch.from_numpy(vva)
    V = nn.Embedding(a.buckets, a.k, sparse=True)
    nn.init.normal_(V.weight, 0, a.init)
    W = nn.Embedding(a.buckets, 1, sparse=True)
    nn.init.zeros_(W.weight)
    b = nn.Parameter(torch.zeros(1))
    cnt = torch.bincount(itr.reshape(-1), minlength=a.buckets).float().clamp(min=1)

    def fwd(idx, val):
        z = b + (W(idx).squeeze(-1) * val).sum(1)
        if a.nopair:
            return z, None
        v = V(idx) * val.unsqueeze(-1)  # [B, fields, k]
        s = v.sum(1)
        return z + 0.5 * ((s * s).sum(1) - (v * v).sum(1).sum(1)), v

    if a.opt == "adagrad":
        opts = [torch.optim.Adagrad([V.weight, W.weight, b], lr=a.lr)]
    else:
        opts = [torch.optim.SparseAdam([V.weight, W.weight], lr=a.lr),
                torch.optim.Adam([b], lr=a.lr)]
    bce = nn.BCEWithLogitsLoss()
    n = len(ytr)
    for ep in range(a.epochs):
        if a.resid:
            a.nopair = ep == 0
            if ep == 1:  # the first-order part and the bias stay as epoch 1 left them
                opts = [torch.optim.Adagrad([V.weight], lr=a.lr) if a.opt == "adagrad"
                        else torch.optim.SparseAdam([V.weight], lr=a.lr)]
        t = time.time()
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(ep))
        for s in range(0, n, a.batch):
            j = perm[s:s + a.batch]
            z, v = fwd(itr[j], vtr[j])
            loss = bce(z, ytr[j])
            if v is not None and a.l2 > 0:
                loss = loss + a.l2 * (v * v).sum() / len(j)
            if v is not None and a.l2c > 0:
                loss = loss + a.l2c * ((v * v).sum(-1) / cnt[itr[j]]).sum() / len(j)
            for o in opts:
                o.zero_grad()
            loss.backward()
            for o in opts:
                o.step()
        with torch.no_grad():
            p = torch.cat([torch.sigmoid(fwd(iva[i:i + 8192], vva[i:i + 8192])[0])
                           for i in range(0, len(yva), 8192)]).numpy()
        auc, ll = auc_logloss(p, yva)
        print("%s k=%d opt=%s lr=%g l2=%g l2c=%g batch=%d epoch %d: valid AUC %.4f logloss %.5f"
              " (%.0f s)" % ("lr" if a.nopair else "fm", a.k, a.opt, a.lr, a.l2, a.l2c, a.batch,
                             ep + 1, auc, ll, time.time() - t), flush=True)


if __name__ == "__main__":
    main()
