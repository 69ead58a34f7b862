#!/usr/bin/python3
"""serve_flask.py — the serving baseline a team would write: a Flask app
(Debian's python3-flask) that scores TF Serving-style :predict requests with a
scikit-learn logistic regression on hashed Criteo features.

What it does: trains (or loads) the model from a Criteo TSV — FeatureHasher
(2**20) over "C1=value" tokens and log-bucket tokens of I1..I13, as in
bench/sklearn_lr.py — then serves

    POST /v1/models/<name>:predict  {"instances": [{"I1": 3, "C1": "68fd1e64", ...}]}
    ->  {"predictions": [p, ...]}
    GET  /healthz

on Flask's threaded server with HTTP/1.1 keep-alive. What it does not do:
tune Python (no gunicorn workers, no batching), or read leap's files.

Usage:
    /usr/bin/python3 bench/serve_flask.py --train TRAIN.tsv --port 8600
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402
from sklearn.feature_extraction import FeatureHasher  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402
from werkzeug.serving import WSGIRequestHandler  # noqa: E402

INT_COLS = ["I%d" % i for i in range(1, 14)]
CAT_COLS = ["C%d" % i for i in range(1, 27)]
HASHER = FeatureHasher(n_features=2 ** 20, input_type="string", alternate_sign=False)


def log_bucket(x):
    return int(math.log(x) ** 2) if x > 2 else int(x)


def tokens(row):
    """Raw features (a dict as in a request) -> hashed feature tokens."""
    out = []
    for c in INT_COLS:
        v = row.get(c)
        out.append("%s=%s" % (c, "NA" if v is None else log_bucket(float(v))))
    for c in CAT_COLS:
        v = row.get(c)
        out.append("%s=%s" % (c, "NA" if v in (None, "") else v))
    return out


def read_rows(path, limit):
    op = gzip.open if path.endswith(".gz") else open
    rows, labels = [], []
    with op(path, "rt") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            labels.append(int(p[0]))
            r = {}
            for i, c in enumerate(INT_COLS):
                if p[1 + i] != "":
                    r[c] = int(p[1 + i])
            for i, c in enumerate(CAT_COLS):
                if p[14 + i] != "":
                    r[c] = p[14 + i]
            rows.append(r)
            if len(rows) >= limit:
                break
    return rows, np.array(labels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--port", type=int, default=8600)
    a = ap.parse_args()
    rows, y = read_rows(a.train, a.rows)
    X = HASHER.transform(tokens(r) for r in rows)
    model = SGDClassifier(loss="log_loss", alpha=1e-6, max_iter=5, tol=None, random_state=0)
    model.fit(X, y)

    app = Flask("serve_flask")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    @app.post("/v1/models/<name>:predict")
    def predict(name):
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
            return jsonify({"error": "expected {\"instances\": [...]}"}), 400
        Xr = HASHER.transform(tokens(r) for r in body["instances"])
        p = model.predict_proba(Xr)[:, 1]
        return jsonify({"predictions": [float(v) for v in p]})

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    WSGIRequestHandler.protocol_version = "HTTP/1.1"  # keep-alive, as leap serve
    app.run(host="127.0.0.1", port=a.port, threaded=True)


if __name__ == "__main__":
    main()
