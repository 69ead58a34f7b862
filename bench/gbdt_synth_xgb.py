#!/usr/bin/python3
"""gbdt_synth_xgb.py ROWS_FILE TRAIN THREADS TREES — XGBoost (tree_method hist,
max_bin 256, depth 6, eta 0.1) on the rows bench/gbdt_synth.c wrote (uint16
local indices, 0 = missing -> NaN; the categorical codes are frequency ranks,
i.e. already a frequency encoding). Prints one JSON line like gbdt_synth."""
import json, resource, sys, time
import numpy as np
import xgboost as xgb
from sklearn.metrics import log_loss, roc_auc_score

path, ntrain, threads, trees = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
a = np.fromfile(path, dtype=np.uint16).reshape(-1, 40)
X = a[:, :39].astype(np.float32)
X[X == 0] = np.nan
y = a[:, 39].astype(np.float32)
del a
params = dict(tree_method="hist", max_depth=6, eta=0.1, max_bin=256, nthread=threads,
              objective="binary:logistic")
t0 = time.perf_counter()
d = xgb.DMatrix(X[:ntrain], label=y[:ntrain], nthread=threads)
b = xgb.train(params, d, trees)
train_s = time.perf_counter() - t0
Xt, yt = X[ntrain:], y[ntrain:]
b.set_param({"nthread": 1})
t0 = time.perf_counter()
p = b.inplace_predict(Xt)
batch_s = time.perf_counter() - t0
lat = []
for i in range(2000):
    row = Xt[(i * 7919) % len(Xt):][:1]
    t = time.perf_counter()
    b.inplace_predict(row)
    lat.append(time.perf_counter() - t)
lat.sort()
print(json.dumps({"train_s": round(train_s, 3),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "batch_rows_per_s": round(len(Xt) / batch_s),
                  "p50_us": round(lat[len(lat) // 2] * 1e6, 2),
                  "p99_us": round(lat[len(lat) * 99 // 100] * 1e6, 2),
                  "auc": round(roc_auc_score(yt, p), 5), "logloss": round(log_loss(yt, p), 5)}))
