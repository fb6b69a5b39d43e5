#include "retry_budget.h"

#include <math.h>

void retry_budget_init(struct retry_budget *rb, int max_tokens, double token_ratio) {
    if (max_tokens < 1)
        max_tokens = 1;
    if (max_tokens > 1000)
        max_tokens = 1000;
    if (!(token_ratio >= 0.001)) /* also catches NaN */
        token_ratio = 0.001;
    if (token_ratio > 1)
        token_ratio = 1;
    int64_t ratio = (int64_t)llround(token_ratio * 1000);
    rb->max_milli = (int64_t)max_tokens * 1000;
    rb->ratio_milli = ratio;
    rb->milli = rb->max_milli;
}

void retry_budget_on_success(struct retry_budget *rb) {
    rb->milli += rb->ratio_milli;
    if (rb->milli > rb->max_milli)
        rb->milli = rb->max_milli;
}

void retry_budget_on_failure(struct retry_budget *rb) {
    rb->milli -= 1000;
    if (rb->milli < 0)
        rb->milli = 0;
}

int retry_budget_allow(const struct retry_budget *rb, int retries_in_flight) {
    return rb->milli > rb->max_milli / 2 || retries_in_flight <= 0;
}

double retry_budget_tokens(const struct retry_budget *rb) {
    return (double)rb->milli / 1000.0;
}
