#include "breaker.h"

#include <string.h>

void breaker_config_init(struct breaker_config *c) {
    c->window = 20;
    c->open_ratio = 0.5;
    /* With fewer attempts than this, a couple of unlucky failures would look like "most". */
    c->min_attempts = 10;
    /* Short at first, so a blip costs about a second; doubling keeps a long outage at a few
       probes a minute, and the 30 s cap bounds how long a recovered provider sits idle. */
    c->cooldown_ms = 1000;
    c->cooldown_max_ms = 30000;
    /* Two, so one probe lost to a single bad connection does not cost a whole cool-down. */
    c->probes = 2;
    c->give_up_after_ms = 15 * 60 * 1000;
}

void breaker_init(struct breaker *b, const struct breaker_config *c) {
    memset(b, 0, sizeof(*b));
    b->cfg = *c;
    struct breaker_config *k = &b->cfg;
    if (k->window < 1)
        k->window = 1;
    if (k->window > BREAKER_WINDOW_MAX)
        k->window = BREAKER_WINDOW_MAX;
    if (!(k->open_ratio >= 0)) /* also catches NaN */
        k->open_ratio = 0;
    if (k->open_ratio > 1)
        k->open_ratio = 1;
    if (k->min_attempts < 1)
        k->min_attempts = 1;
    if (k->min_attempts > k->window)
        k->min_attempts = k->window;
    if (k->cooldown_ms < 1)
        k->cooldown_ms = 1;
    if (k->cooldown_max_ms < k->cooldown_ms)
        k->cooldown_max_ms = k->cooldown_ms;
    if (k->probes < 1)
        k->probes = 1;
    if (k->give_up_after_ms < 0)
        k->give_up_after_ms = 0;
    b->state = BREAKER_CLOSED;
}

/* Every change of state makes the tickets handed out before it stale. */
static void breaker_enter(struct breaker *b, enum breaker_state s) {
    b->state = s;
    b->epoch++;
    b->probes_out = 0;
}

/* Open turns half-open by time alone; the calls that take the time apply it here. */
static void breaker_advance(struct breaker *b, int64_t now_ms) {
    if (b->state == BREAKER_OPEN && now_ms >= b->open_until_ms)
        breaker_enter(b, BREAKER_HALF_OPEN);
}

static void breaker_open(struct breaker *b, int64_t now_ms) {
    breaker_enter(b, BREAKER_OPEN);
    b->open_until_ms = now_ms + b->cooldown_ms;
}

static void breaker_window_push(struct breaker *b, int failed) {
    int w = b->cfg.window;
    uint64_t mask = w == 64 ? ~(uint64_t)0 : ((uint64_t)1 << w) - 1;
    if (b->window_n == w)
        b->window_fails -= (int)((b->window_bits >> (w - 1)) & 1);
    else
        b->window_n++;
    b->window_bits = ((b->window_bits << 1) | (failed ? 1u : 0u)) & mask;
    b->window_fails += failed ? 1 : 0;
}

int64_t breaker_wait(struct breaker *b, int64_t now_ms) {
    breaker_advance(b, now_ms);
    switch (b->state) {
    case BREAKER_OPEN:
        return b->open_until_ms - now_ms;
    case BREAKER_HALF_OPEN:
        return b->probes_out < b->cfg.probes ? 0 : BREAKER_PROBE_POLL_MS;
    case BREAKER_CLOSED:
    default:
        return 0;
    }
}

uint32_t breaker_on_send(struct breaker *b, int64_t now_ms) {
    breaker_advance(b, now_ms);
    if (b->state == BREAKER_HALF_OPEN)
        b->probes_out++;
    return b->epoch;
}

void breaker_record(struct breaker *b, int64_t now_ms, uint32_t ticket, enum breaker_outcome o) {
    breaker_advance(b, now_ms);
    if (ticket != b->epoch)
        return;
    switch (b->state) {
    case BREAKER_CLOSED:
        if (o == BREAKER_NEUTRAL)
            return;
        breaker_window_push(b, o == BREAKER_FAIL);
        if (b->window_n >= b->cfg.min_attempts &&
            (double)b->window_fails > b->cfg.open_ratio * (double)b->window_n) {
            /* Each outage starts from the first cool-down, however long the last one grew. */
            b->trips++;
            b->outage_since = now_ms;
            b->cooldown_ms = b->cfg.cooldown_ms;
            breaker_open(b, now_ms);
        }
        return;
    case BREAKER_HALF_OPEN:
        if (b->probes_out > 0)
            b->probes_out--;
        if (o == BREAKER_OK) {
            /* The provider answered: the outage is over, and the next one starts afresh. */
            breaker_enter(b, BREAKER_CLOSED);
            b->window_bits = 0;
            b->window_n = 0;
            b->window_fails = 0;
        } else if (o == BREAKER_FAIL) {
            /* Still down: back off harder, so a long outage costs a few probes a minute. */
            b->cooldown_ms = b->cooldown_ms > b->cfg.cooldown_max_ms / 2 ? b->cfg.cooldown_max_ms
                                                                         : b->cooldown_ms * 2;
            breaker_open(b, now_ms);
        }
        return;
    case BREAKER_OPEN:
    default:
        return;
    }
}

enum breaker_state breaker_state(const struct breaker *b, int64_t now_ms) {
    if (b->state == BREAKER_OPEN && now_ms >= b->open_until_ms)
        return BREAKER_HALF_OPEN;
    return b->state;
}

uint64_t breaker_trips(const struct breaker *b) {
    return b->trips;
}

int64_t breaker_outage_ms(const struct breaker *b, int64_t now_ms) {
    if (b->state == BREAKER_CLOSED)
        return 0;
    return now_ms > b->outage_since ? now_ms - b->outage_since : 0;
}

int breaker_gave_up(const struct breaker *b, int64_t now_ms) {
    return b->cfg.give_up_after_ms > 0 && b->state != BREAKER_CLOSED &&
           now_ms - b->outage_since >= b->cfg.give_up_after_ms;
}
