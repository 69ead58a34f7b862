/* leap/serve.h — online serving: request decoding, ad auctions, the model
 * repository with versioned hot reload, the HTTP server and an open-loop
 * load generator.
 *
 * Every piece below the HTTP server is callable without one (tests, fuzzing,
 * warm-up): a request body is decoded against a model's input columns into a
 * leap_rowgroup, then scored with the same leap_featurize + leap_bundle_predict
 * calls `leap predict` makes, so a row served equals a row scored in batch,
 * bit for bit.
 *
 *     leap_repo *repo;  leap_server *srv;
 *     leap_repo_create(&(leap_repo_opts){.dir = "models", .keep_latest = 1}, &repo, &err);
 *     leap_repo_reload(repo, &err);               // load what is there
 *     leap_server_start(&(leap_server_opts){.port = 8501}, repo, &srv, &err);
 *     ... leap_server_stop(srv);  leap_repo_destroy(repo);
 *
 * Threading: the repository is shared by all server threads; versions are
 * reference-counted, so a request keeps the version it started on while a
 * reload swaps in a new one. The library prints nothing: messages go through
 * the log callback of the options.
 */
#ifndef LEAP_SERVE_H
#define LEAP_SERVE_H

#include "leap/bundle.h"

/* ---- logging -------------------------------------------------------------- */
typedef enum leap_log_level {
    LEAP_LOG_DEBUG,
    LEAP_LOG_INFO,
    LEAP_LOG_WARN,
    LEAP_LOG_ERROR
} leap_log_level;
/* Called from any thread; msg is one line without a newline. */
typedef void (*leap_log_fn)(void *user, leap_log_level level, const char *msg);

/* ---- a model's inputs: the columns its featurizer reads ------------------- */
/* The schema of a request row (the featurizer's input columns, names as in
 * the training data: I1..I13, C1..C26 for Criteo) with a name index. */
typedef struct leap_serve_inputs {
    leap_schema schema; /* cols owned */
    int32_t *slot;      /* [mask + 1] open-addressing index: column or -1 */
    uint64_t mask;
} leap_serve_inputs;

int leap_serve_inputs_init(leap_serve_inputs *in, const leap_featurizer *fz, leap_err *err);
void leap_serve_inputs_free(leap_serve_inputs *in);
/* Column index of name[0..len), or -1. */
int leap_serve_inputs_find(const leap_serve_inputs *in, const char *name, size_t len);

/* ---- request decoding ----------------------------------------------------- */
/* Limits of one request (defaults: LEAP_SERVE_MAX_ROWS rows or candidates). */
#define LEAP_SERVE_MAX_ROWS  10000
#define LEAP_SERVE_MAX_SLOTS 64

/* A :predict body, TF Serving's REST format:
 *   {"instances": [{"I1": 3, "C1": "68fd1e64", ...}, ...]}     row format
 *   {"inputs": {"I1": [3, null], "C1": ["68fd1e64", "05db9164"]}} columnar
 *   ("inputs" may also hold a list of row objects). Value rules:
 *   numeric column      JSON number; null or absent = missing
 *   categorical         JSON string, hashed like the raw log's text; a JSON
 *                       number stands for its text: an integer as decimal
 *                       digits ("7"), otherwise the shortest text that reads
 *                       back as the same double ("0.5"); true/false as text;
 *                       null, "" or absent = missing
 *   multi_categorical   array of values as above, or of [value, weight]
 *                       pairs (weight 1 when not given)
 *   timestamp           JSON integer, seconds since the epoch
 *   label, weight       optional numbers (ignored by prediction)
 *   Keys that are not input columns are ignored.
 * rg must be initialised for in->schema; it is grown as needed and holds the
 * rows on success. Errors are LEAP_EPARSE (not JSON) or LEAP_EINVAL with a
 * message naming the place: "instances[3].I5: expected a number, got string". */
int leap_serve_decode_predict(const leap_serve_inputs *in, const char *body, size_t len,
                              leap_rowgroup *rg, leap_err *err);

/* ---- auctions --------------------------------------------------------------- */
typedef enum leap_bid_type { LEAP_BID_CPC, LEAP_BID_CPM } leap_bid_type;

#define LEAP_AUCTION_MAP(XX)                                                                       \
    XX(GSP, "gsp")                                                                                 \
    XX(FIRST_PRICE, "first_price")                                                                 \
    XX(VCG, "vcg")

typedef enum leap_auction_kind {
#define LEAP_XX_AUCTION(name, str) LEAP_AUCTION_##name,
    LEAP_AUCTION_MAP(LEAP_XX_AUCTION)
#undef LEAP_XX_AUCTION
        LEAP_AUCTION_COUNT
} leap_auction_kind;

const char *leap_auction_name(leap_auction_kind k);
/* Kind for a name, or -1. */
int leap_auction_from_name(const char *name, size_t len);

/* One candidate ad. ecpm is filled by leap_auction_run. */
typedef struct leap_ad {
    double bid; /* CPC: per click; CPM: per thousand impressions; > 0 */
    leap_bid_type type;
    float pctr;  /* the model's click probability */
    double ecpm; /* expected value per thousand impressions: 1000·bid·pctr (CPC) or bid (CPM) */
} leap_ad;

typedef struct leap_auction_opts {
    leap_auction_kind kind;
    size_t slots;   /* [1, LEAP_SERVE_MAX_SLOTS] */
    double reserve; /* reserve eCPM; ads below it are not shown; 0 = none */
    double position_ctr[LEAP_SERVE_MAX_SLOTS]; /* θ_j, non-increasing, θ_1 ... θ_slots > 0 */
} leap_auction_opts;

/* A won slot. price is in the unit of the ad's bid (per click for CPC, per
 * thousand impressions for CPM) and never above the bid. */
typedef struct leap_auction_slot {
    size_t ad;       /* index into the ads given */
    size_t position; /* 1-based */
    double price;
} leap_auction_slot;

/* Ranks ads by eCPM (ties: lower index first), drops those below the reserve,
 * fills up to o->slots positions and prices them:
 *   first_price  the bid itself
 *   gsp          the least bid that keeps the position: max(next eCPM,
 *                reserve) / (1000·pctr) for CPC, max(next eCPM, reserve) for CPM
 *   vcg          the externality under separable click-through rates
 *                (an ad's value in position j is ecpm·θ_j): ad i pays
 *                Σ_{j>=i} max(e_{j+1}, reserve)·(θ_j − θ_{j+1}) per thousand
 *                impressions (θ_{slots+1} = 0), divided by θ_i (CPM) or by
 *                1000·pctr·θ_i (CPC)
 * order must hold n entries (scratch); out must hold o->slots entries.
 * Returns the number of slots filled. O(n log n). */
size_t leap_auction_run(const leap_auction_opts *o, leap_ad *ads, size_t n, size_t *order,
                        leap_auction_slot *out);

/* A :rank body:
 *   {"context": {raw features shared by all candidates},
 *    "candidates": [{"id": "ad1", "features": {...}, "bid": 1.5, "bid_type": "CPC"}, ...],
 *    "slots": 3, "auction": "gsp", "reserve": 0.5, "position_ctr": [1, 0.6, 0.4]}
 * A candidate's features override the context's (key by key). "auction"
 * defaults to gsp, "reserve" to 0, "bid_type" to CPC, "position_ctr" to all
 * 1, "slots" to 1. Ids are strings or numbers (kept as text). */
typedef struct leap_rank_request {
    leap_auction_opts auction;
    size_t n_ads;
    leap_ad *ads; /* [n_ads], grown and reused */
    size_t ads_cap;
    leap_buf ids;      /* candidate ids, back to back */
    size_t *id_off;    /* [n_ads + 1] offsets into ids */
    leap_rowgroup ctx; /* the context row (scratch) */
    int ctx_ready;
} leap_rank_request;

/* Decodes a :rank body into rq (ads, ids, auction options) and rg (one row
 * per candidate, context merged). rq must be zeroed before its first use and
 * freed with leap_rank_request_free. Errors as leap_serve_decode_predict
 * ("candidates[2].bid: expected a positive number"). */
int leap_serve_decode_rank(const leap_serve_inputs *in, const char *body, size_t len,
                           leap_rank_request *rq, leap_rowgroup *rg, leap_err *err);
void leap_rank_request_free(leap_rank_request *rq);

/* ---- model repository ------------------------------------------------------- */
/* DIR/NAME/VERSION/model.leap, VERSION a positive integer; an optional
 * DIR/NAME/VERSION/warmup.jsonl holds sample requests (one JSON body a line,
 * :predict, or :rank when it has "candidates") that must all succeed before
 * the version is served. */
typedef struct leap_repo leap_repo;
typedef struct leap_repo_version leap_repo_version;

#define LEAP_REPO_MAX_PINS 16

typedef struct leap_repo_pin {
    char model[LEAP_NAME_MAX];
    int64_t versions[LEAP_REPO_MAX_PINS];
    size_t n;
} leap_repo_pin;

typedef struct leap_repo_opts {
    const char *dir;
    int keep_latest;           /* serve the N highest loadable versions (default 1) */
    const leap_repo_pin *pins; /* models served at these versions only */
    size_t n_pins;
    leap_log_fn log; /* may be NULL */
    void *log_user;
} leap_repo_opts;

int leap_repo_create(const leap_repo_opts *o, leap_repo **out, leap_err *err);
/* One reload cycle: scans the folder, loads and warms every version the
 * policy wants that is not loaded yet, swaps the new set of versions in
 * atomically and retires the versions left out. A version that fails to load
 * or warm up is logged, counted and skipped (the policy then keeps the next
 * loadable one, so serving continues on the old version); it is retried only
 * when its file changes. Serialised internally; safe while serving. Returns
 * LEAP_OK unless the folder itself cannot be read. */
int leap_repo_reload(leap_repo *r, leap_err *err);
/* Frees retired versions no request holds any more; returns how many are
 * still waiting. Called by the reload thread; never frees under a request. */
size_t leap_repo_collect(leap_repo *r);
/* Frees everything; no version may be held. */
void leap_repo_destroy(leap_repo *r);

/* A held version: model name[0..len), version > 0 or 0 for the latest.
 * Returns NULL with *why = LEAP_ENOTFOUND (no such model or version). The
 * caller must release it. O(models) under a short lock. */
leap_repo_version *leap_repo_acquire(leap_repo *r, const char *name, size_t len, int64_t version);
void leap_repo_release(leap_repo_version *v);

int64_t leap_repo_version_number(const leap_repo_version *v);
const char *leap_repo_version_model(const leap_repo_version *v);
const leap_bundle *leap_repo_version_bundle(const leap_repo_version *v);
const leap_serve_inputs *leap_repo_version_inputs(const leap_repo_version *v);

/* Counts for tests and /readyz. */
typedef struct leap_repo_stats {
    size_t models, versions_loaded, retired_waiting;
    uint64_t loads, load_failures, versions_freed, reloads;
} leap_repo_stats;
void leap_repo_get_stats(leap_repo *r, leap_repo_stats *st);

/* ---- scoring a request (server and warm-up share it) ------------------------ */
/* Per-thread scratch: decoded rows, features, scores, response text. Reused
 * across requests; grows only when a request is bigger than any before. */
typedef struct leap_serve_scratch leap_serve_scratch;
leap_serve_scratch *leap_serve_scratch_create(void);
void leap_serve_scratch_destroy(leap_serve_scratch *s);

typedef enum leap_serve_method { LEAP_SERVE_PREDICT, LEAP_SERVE_RANK } leap_serve_method;

/* Scores body with v and writes the JSON response into *out (valid until the
 * next call with s): {"predictions":[...],"model_version":V} or the ranked
 * slots. On bad input returns LEAP_EINVAL/LEAP_EPARSE with err naming the
 * field (the server answers 400). */
int leap_serve_run(leap_serve_scratch *s, const leap_repo_version *v, leap_serve_method m,
                   const char *body, size_t len, const leap_buf **out, leap_err *err);

/* ---- HTTP server ------------------------------------------------------------ */
typedef struct leap_server leap_server;

typedef struct leap_server_opts {
    const char *host;        /* default 127.0.0.1 */
    int port;                /* default 8501; 0 = any free port (see leap_server_port) */
    int threads;             /* worker threads = open connections served at once (default 64) */
    size_t max_body;         /* bytes; larger bodies get 413 (default 4 MiB) */
    int request_timeout_ms;  /* default 10000 */
    int idle_timeout_ms;     /* keep-alive idle time (default 30000) */
    double poll_seconds;     /* repository poll interval; 0 = only on /admin/reload */
    const char *admin_token; /* bearer token for /admin/...; NULL = admin endpoints off */
    leap_log_fn log;         /* server and reload messages */
    void *log_user;
    leap_log_fn access_log; /* one JSON line per request (LEAP_LOG_INFO); NULL = off */
    void *access_user;
} leap_server_opts;

/* Starts listening and serving repo (borrowed; must outlive the server) and
 * the reload thread. */
int leap_server_start(const leap_server_opts *o, leap_repo *repo, leap_server **out, leap_err *err);
int leap_server_port(const leap_server *s);
/* Graceful stop: new requests get 503 while the requests in flight finish
 * (at most request_timeout_ms), then the listener and connections close; stops
 * the reload thread, frees the server (not the repository). */
void leap_server_stop(leap_server *s);
/* Runs one reload cycle on the reload thread and waits for it (as POST
 * /admin/reload does). */
int leap_server_reload(leap_server *s, leap_err *err);

/* Prometheus text exposition of the server's and repository's metrics. */
int leap_server_metrics(leap_server *s, leap_buf *out);

/* ---- open-loop load generator ---------------------------------------------- */
typedef struct leap_loadtest_opts {
    const char *host;
    int port;
    const char *path;       /* e.g. "/v1/models/ctr:predict" */
    const leap_buf *bodies; /* request bodies back to back ... */
    const size_t *body_off; /* [n_bodies + 1] offsets; requests cycle through them */
    size_t n_bodies;
    double rate;             /* requests per second, scheduled at fixed intervals */
    double duration;         /* seconds of sending */
    int connections;         /* one thread and one kept-alive connection each */
    double timeout;          /* seconds per request before it counts as an error (default 5) */
    const char *latency_log; /* optional: one line per request "due_s latency_s status" */
} leap_loadtest_opts;

typedef struct leap_loadtest_report {
    uint64_t scheduled, completed, ok, http_errors, net_errors;
    double seconds;       /* first scheduled send to last response */
    double achieved_rate; /* completed / seconds */
    /* latency from each request's scheduled send time (seconds), so a stall
     * delays every request behind it (no coordinated omission) */
    double p50, p90, p99, p999, max, mean;
    uint64_t status[6]; /* 1xx..5xx, [0] = no answer */
} leap_loadtest_report;

int leap_loadtest_run(const leap_loadtest_opts *o, leap_loadtest_report *rep, leap_err *err);

/* Request bodies from rows of a raw log or dataset (categorical text from the
 * reader's or dataset's dictionary): rows_per_request instances per :predict
 * body, or with candidates > 0, :rank bodies with that many candidates (bids
 * drawn from seed) and slots. At most max_bodies bodies. */
typedef struct leap_body_opts {
    const char *path;
    const char *format;      /* raw logs: criteo (default), csv, libsvm */
    const char *schema_path; /* csv */
    size_t rows_per_request; /* default 1 */
    size_t candidates;       /* 0 = predict bodies */
    size_t slots;            /* rank: default 3 */
    const char *auction;     /* rank: default gsp */
    size_t max_bodies;       /* default 1000 */
    uint64_t seed;
} leap_body_opts;
int leap_loadtest_make_bodies(const leap_body_opts *o, leap_buf *bodies, size_t **body_off,
                              size_t *n_bodies, leap_err *err);

#endif
