/* auction.c — eCPM ranking and slot pricing for :rank (first price, GSP, VCG
 * with reserve). Pure functions over an array of ads: no I/O, no allocation.
 *
 * Position effects follow the separable model: an ad's click-through rate in
 * position j is pctr·θ_j (θ = position_ctr, non-increasing, 1 by default), so
 * its value there is ecpm·θ_j and the eCPM order is the efficient assignment.
 * The reserve acts as unlimited phantom bidders at eCPM = reserve: ads below
 * it are not shown and no winner pays less than it. */
#define _GNU_SOURCE
#include "leap/serve.h"

#include <stdlib.h>
#include <string.h>

static const char *const auction_names[] = {
#define LEAP_XX_AUCTION(name, str) str,
    LEAP_AUCTION_MAP(LEAP_XX_AUCTION)
#undef LEAP_XX_AUCTION
};
_Static_assert(sizeof auction_names / sizeof auction_names[0] == LEAP_AUCTION_COUNT,
               "auction table");

const char *leap_auction_name(leap_auction_kind k) {
    return (unsigned)k < LEAP_AUCTION_COUNT ? auction_names[k] : "?";
}

int leap_auction_from_name(const char *name, size_t len) {
    for (int k = 0; k < LEAP_AUCTION_COUNT; k++)
        if (strlen(auction_names[k]) == len && !memcmp(auction_names[k], name, len)) return k;
    return -1;
}

/* eCPM descending; equal eCPM: lower index first (the order the caller sent). */
static int by_ecpm(const void *a, const void *b, void *ctx) {
    const leap_ad *ads = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (ads[i].ecpm > ads[j].ecpm) return -1;
    if (ads[i].ecpm < ads[j].ecpm) return 1;
    return i < j ? -1 : i > j;
}

size_t leap_auction_run(const leap_auction_opts *o, leap_ad *ads, size_t n, size_t *order,
                        leap_auction_slot *out) {
    size_t m = 0; /* eligible ads */
    for (size_t i = 0; i < n; i++) {
        leap_ad *a = &ads[i];
        a->ecpm = a->type == LEAP_BID_CPM ? a->bid : 1000.0 * a->bid * (double)a->pctr;
        if (a->ecpm > 0 && a->ecpm >= o->reserve) order[m++] = i;
    }
    qsort_r(order, m, sizeof *order, by_ecpm, ads);
    size_t K = o->slots < LEAP_SERVE_MAX_SLOTS ? o->slots : LEAP_SERVE_MAX_SLOTS;
    size_t won = m < K ? m : K;
    /* e(j): the eCPM that competes for rank j (0-based), reserve included */
#define NEXT_ECPM(j) ((j) < m && ads[order[j]].ecpm > o->reserve ? ads[order[j]].ecpm : o->reserve)
    for (size_t i = 0; i < won; i++) {
        const leap_ad *a = &ads[order[i]];
        double theta_i = o->position_ctr[i];
        double pay; /* per thousand impressions at position i */
        switch (o->kind) {
        case LEAP_AUCTION_FIRST_PRICE: pay = -1; break;
        case LEAP_AUCTION_VCG:
            pay = 0;
            for (size_t j = i; j < K; j++) {
                double th_next = j + 1 < K ? o->position_ctr[j + 1] : 0.0;
                pay += NEXT_ECPM(j + 1) * (o->position_ctr[j] - th_next);
            }
            pay /= theta_i;
            break;
        case LEAP_AUCTION_GSP:
        default: pay = NEXT_ECPM(i + 1); break;
        }
        double price;
        if (pay < 0)
            price = a->bid;
        else
            price = a->type == LEAP_BID_CPM ? pay : pay / (1000.0 * (double)a->pctr);
        if (price > a->bid) price = a->bid; /* rounding only: the order guarantees it */
        out[i] = (leap_auction_slot){order[i], i + 1, price};
    }
#undef NEXT_ECPM
    return won;
}
