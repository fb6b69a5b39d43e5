/* Dates in answers: HTTP-date (Retry-After) and RFC 3339 (rate-limit resets). See httpdate.h. */
#include "httpdate.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Case-insensitive: does s[0..len) equal the literal? */
static int name_is(const char *s, size_t len, const char *lit) {
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/* ---- Calendar ---------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The Gregorian year holding day z since 1970-01-01 (Hinnant's civil_from_days). */
static int64_t year_from_days(int64_t z) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

static int days_in_month(int64_t y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Epoch ms of a validated civil time; -1 (and nothing else negative) when out of range. */
static int64_t civil_to_ms(int64_t y, int mon, int d, int h, int mi, int sec) {
    if (mon < 1 || mon > 12 || d < 1 || d > days_in_month(y, mon) || h > 23 || mi > 59 || sec > 60)
        return -1;
    int64_t secs = days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + sec;
    return secs * 1000;
}

/* A cursor over a bounded string, for the date grammars. */
struct cur {
    const char *s;
    size_t len, i;
};

static int cur_char(struct cur *c, char ch) {
    if (c->i < c->len && c->s[c->i] == ch) {
        c->i++;
        return 1;
    }
    return 0;
}

/* Exactly n digits. */
static int cur_digits(struct cur *c, size_t n, int *out) {
    if (c->len - c->i < n)
        return 0;
    int v = 0;
    for (size_t k = 0; k < n; k++) {
        if (!is_digit(c->s[c->i + k]))
            return 0;
        v = v * 10 + (c->s[c->i + k] - '0');
    }
    c->i += n;
    *out = v;
    return 1;
}

/* A run of letters matching one of `names` (case-insensitive): its index, or -1. */
static int cur_name(struct cur *c, const char *const *names, int n) {
    size_t start = c->i;
    while (c->i < c->len && isalpha((unsigned char)c->s[c->i]))
        c->i++;
    for (int k = 0; k < n; k++)
        if (name_is(c->s + start, c->i - start, names[k]))
            return k;
    return -1;
}

/* hh ":" mm ":" ss */
static int cur_time(struct cur *c, int *h, int *mi, int *sec) {
    return cur_digits(c, 2, h) && cur_char(c, ':') && cur_digits(c, 2, mi) && cur_char(c, ':') &&
           cur_digits(c, 2, sec);
}

static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/*
 * HTTP-date (RFC 9110 §5.6.7) -> epoch ms, or -1. All three forms are accepted, as the RFC
 * asks of recipients:
 *   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
 *   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT"  (two-digit year: a date more than 50
 *                years ahead of now means the most recent past year with those digits)
 *   asctime      "Sun Nov  6 08:49:37 1994"
 * The day name must be a day name but is not checked against the date.
 */
int64_t httpdate_parse_ms(const char *s, size_t len, int64_t now_epoch_ms) {
    static const char *const wdays[14] = {
        "Mon",    "Tue",     "Wed",       "Thu",      "Fri",    "Sat",      "Sun",
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    };
    struct cur c = {s, len, 0};
    int day, mon, year, h, mi, sec;
    if (cur_name(&c, wdays, 14) < 0)
        return -1;
    if (cur_char(&c, ',')) {
        if (!cur_char(&c, ' ') || !cur_digits(&c, 2, &day))
            return -1;
        if (cur_char(&c, ' ')) { /* IMF-fixdate */
            if ((mon = cur_name(&c, MONTHS, 12)) < 0 || !cur_char(&c, ' ') ||
                !cur_digits(&c, 4, &year))
                return -1;
        } else if (cur_char(&c, '-')) { /* RFC 850 */
            int yy;
            if ((mon = cur_name(&c, MONTHS, 12)) < 0 || !cur_char(&c, '-') ||
                !cur_digits(&c, 2, &yy))
                return -1;
            int64_t days = now_epoch_ms / 86400000 - (now_epoch_ms % 86400000 < 0);
            int64_t now_year = year_from_days(days);
            int64_t y = now_year - now_year % 100 + yy;
            if (y > now_year + 50)
                y -= 100;
            year = (int)y;
        } else {
            return -1;
        }
        if (!cur_char(&c, ' ') || !cur_time(&c, &h, &mi, &sec) || !cur_char(&c, ' '))
            return -1;
        size_t z = c.i;
        if (!name_is(c.s + z, len - z, "GMT") && !name_is(c.s + z, len - z, "UTC"))
            return -1;
    } else { /* asctime */
        if (!cur_char(&c, ' ') || (mon = cur_name(&c, MONTHS, 12)) < 0 || !cur_char(&c, ' '))
            return -1;
        if (cur_char(&c, ' ')) {
            if (!cur_digits(&c, 1, &day))
                return -1;
        } else if (!cur_digits(&c, 2, &day) && !cur_digits(&c, 1, &day)) {
            return -1;
        }
        if (!cur_char(&c, ' ') || !cur_time(&c, &h, &mi, &sec) || !cur_char(&c, ' ') ||
            !cur_digits(&c, 4, &year) || c.i != len)
            return -1;
    }
    return civil_to_ms(year, mon + 1, day, h, mi, sec);
}

/*
 * RFC 3339 §5.6 date-time: "2024-05-01T12:00:30.5Z", "...+02:00". 't' and ' ' are accepted for
 * 'T' and 'z' for 'Z' (§5.6 NOTE). Fractions are cut to ms. Times before 1970 are malformed,
 * so that -1 stays unambiguous.
 */
int64_t httpdate_rfc3339_ms(const char *s, size_t len) {
    if (!s)
        return -1;
    for (; len > 0 && isspace((unsigned char)*s); s++, len--)
        ;
    for (; len > 0 && isspace((unsigned char)s[len - 1]); len--)
        ;
    struct cur c = {s, len, 0};
    int y, mon, d, h, mi, sec, ms = 0;
    if (!cur_digits(&c, 4, &y) || !cur_char(&c, '-') || !cur_digits(&c, 2, &mon) ||
        !cur_char(&c, '-') || !cur_digits(&c, 2, &d))
        return -1;
    if (!cur_char(&c, 'T') && !cur_char(&c, 't') && !cur_char(&c, ' '))
        return -1;
    if (!cur_time(&c, &h, &mi, &sec))
        return -1;
    if (cur_char(&c, '.')) {
        size_t start = c.i;
        int scale = 100;
        for (; c.i < len && is_digit(s[c.i]); c.i++, scale /= 10)
            if (scale > 0)
                ms += (s[c.i] - '0') * scale;
        if (c.i == start)
            return -1;
    }
    int64_t offset_ms = 0;
    if (!cur_char(&c, 'Z') && !cur_char(&c, 'z')) {
        int sign = cur_char(&c, '+') ? 1 : cur_char(&c, '-') ? -1 : 0;
        int oh, om;
        if (!sign || !cur_digits(&c, 2, &oh) || !cur_char(&c, ':') || !cur_digits(&c, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        offset_ms = sign * (int64_t)(oh * 60 + om) * 60000;
    }
    if (c.i != len)
        return -1;
    int64_t t = civil_to_ms(y, mon, d, h, mi, sec);
    if (t < 0)
        return -1;
    t += ms - offset_ms;
    return t < 0 ? -1 : t;
}
