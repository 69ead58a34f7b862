"""A straightforward Python sqlite3 baseline for bench/track.sh: the same
metric rows as leap's store (run_id, key, value, step, time) with the same
index, WAL journal; N points in one executemany transaction, M points one
commit each, and listing R runs with their latest auc (same query shape).
usage: track_sqlite.py DB POINTS ONE_BY_ONE RUNS"""
import os, sqlite3, sys, time

path, points, single, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if os.path.exists(path):
    os.remove(path)
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE runs(id INTEGER PRIMARY KEY, name TEXT, status TEXT)")
db.execute("CREATE TABLE metrics(run_id INTEGER, key TEXT, value REAL, step INTEGER, time REAL)")
db.execute("CREATE INDEX m ON metrics(run_id, key, step)")
db.execute("INSERT INTO runs(name, status) VALUES('metrics', 'running')")
keys = ["loss", "auc", "lr", "ne"]
rows = [(1, keys[i % 4], 1.0 / (i + 1), i // 4, time.time()) for i in range(points)]
t0 = time.perf_counter()
db.execute("BEGIN")
db.executemany("INSERT INTO metrics VALUES(?,?,?,?,?)", rows)
db.execute("COMMIT")
batched = time.perf_counter() - t0
t0 = time.perf_counter()
for r in rows[:single]:
    db.execute("BEGIN")
    db.execute("INSERT INTO metrics VALUES(?,?,?,?,?)", r)
    db.execute("COMMIT")
one = time.perf_counter() - t0
db.execute("BEGIN")
for r in range(runs):
    cur = db.execute("INSERT INTO runs(name, status) VALUES('trial', 'finished')")
    db.execute("INSERT INTO metrics VALUES(?,?,?,?,?)",
               (cur.lastrowid, "auc", 0.7 + 0.1 * (r % 997) / 997, 0, time.time()))
db.execute("COMMIT")
t0 = time.perf_counter()
out = db.execute("SELECT r.id, r.name, r.status, (SELECT value FROM metrics m WHERE m.run_id = r.id"
                 " AND m.key = 'auc' ORDER BY step DESC LIMIT 1) AS auc FROM runs r"
                 " ORDER BY auc DESC").fetchall()
lines = "\n".join("%d %s %s %s" % row for row in out)
sys.stdout.flush()
listing = time.perf_counter() - t0
print("batched %d %.4f\none_by_one %d %.4f\nlist %d %.4f" % (points, batched, single, one, len(out), listing))
