/* track_internal.h — what the tracking front end (store.c, filter.c) shares
 * with its backends: the parsed filter tree, the attribute table, and a
 * string pool for results. Private to libleap. */
#ifndef LEAP_TRACK_INTERNAL_H
#define LEAP_TRACK_INTERNAL_H

#include "leap/track.h"

/* Tables of key/value rows (leap_track_backend.put_kv). */
enum { LEAP_KV_PARAMS = 0, LEAP_KV_TAGS = 1 };

/* ---- filter tree --------------------------------------------------------- */
typedef enum fop { FOP_EQ, FOP_NE, FOP_LT, FOP_LE, FOP_GT, FOP_GE, FOP_LIKE, FOP_COUNT } fop;
typedef enum fnode_kind { FN_AND, FN_OR, FN_NOT, FN_CMP } fnode_kind;
typedef enum ffield { FF_METRIC, FF_PARAM, FF_TAG, FF_ATTR } ffield;

typedef struct fnode {
    fnode_kind kind;
    struct fnode *a, *b; /* AND/OR: both; NOT: a */
    ffield field;
    const char *key; /* METRIC/PARAM/TAG: the key (pool) */
    int attr;        /* ATTR: index into leap__track_attrs */
    fop op;
    int is_num; /* the value is a number */
    double num;
    const char *str; /* the value as text (pool) */
} fnode;

struct leap_filter {
    fnode *root;
    fnode *nodes; /* [cap] */
    size_t n_nodes, cap;
    char *pool; /* keys and values, NUL-separated */
    size_t pool_len, pool_cap;
};

/* Run attributes a filter or sort may name: the SQL expression over runs r
 * and experiments e is a constant of this table, never user text. */
typedef struct track_attr {
    const char *name;
    const char *sql;
    int numeric;
} track_attr;
extern const track_attr leap__track_attrs[];
extern const size_t leap__track_n_attrs;
/* SQL operator text of op ("=", "<>", ...); FOP_LIKE is handled apart. */
const char *leap__fop_sql(fop op);

/* A parsed sort key: field, key/attr, descending. */
typedef struct track_sort {
    ffield field;
    const char *key; /* points into the caller's sort string (after the prefix) */
    int attr;
    int desc;
} track_sort;
int leap__sort_parse(const char *sort, track_sort *s, leap_err *err);

/* ---- result string pool ---------------------------------------------------- */
/* Strings of a result are kept in chunks freed together. */
typedef struct spool {
    struct spool_chunk *head;
} spool;
char *leap__spool_dup(spool *p, const char *s); /* NULL s -> NULL; NULL on OOM */
void leap__spool_free(spool *p);

/* This machine's host name (static storage). */
const char *leap__host_name(void);
/* Git commit of the working folder (40 hex) into buf, or "" when none. */
void leap__git_commit(char *buf, size_t len);

#endif
