#include "reach.h"

void reach_init(struct reach *r, int64_t grace_ms) {
    r->grace_ms = grace_ms > 0 ? grace_ms : 0;
    r->answered = 0;
    r->failing_since = -1;
}

void reach_record(struct reach *r, int64_t now_ms, enum classify_transport tr) {
    if (r->answered)
        return;
    if (tr == TRANSPORT_OK || tr == TRANSPORT_TOO_LARGE) {
        r->answered = 1;
        r->failing_since = -1;
    } else if (tr == TRANSPORT_CONNECT) {
        if (r->failing_since < 0)
            r->failing_since = now_ms;
    } else {
        r->failing_since = -1;
    }
}

int64_t reach_deadline(const struct reach *r) {
    if (r->answered || r->grace_ms == 0 || r->failing_since < 0)
        return -1;
    return r->failing_since + r->grace_ms;
}

int reach_gave_up(const struct reach *r, int64_t now_ms) {
    int64_t d = reach_deadline(r);
    return d >= 0 && now_ms >= d;
}
