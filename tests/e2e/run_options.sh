#!/bin/bash
# Issue 17.14: every message of sluice run, work and job starts with the one prefix "sluice: "
# (getopt's own said "run: unrecognized option"); an unknown option gets a did-you-mean, an
# ambiguous one its candidates, a missing value its option's name. --rpm 0 and --tpm 0 mean
# "learn it", and --help says so.
. "$SRCDIR/tests/e2e/lib/common.sh"
start_mock
python3 "$SRCDIR/tests/e2e/lib/gen.py" 5 >"$T/in.jsonl"

# refused CODE FIRST-LINE ARGS...: exit CODE, FIRST-LINE first, every line "sluice: ".
refused() {
    local want=$1 first=$2 rc=0
    shift 2
    timeout 20 "$SLUICE" "$@" >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" = "$want" ] || fail "$*: exit $rc, expected $want: $(cat "$T/err")"
    [ "$(head -n1 "$T/err")" = "$first" ] || fail "$*: first line: $(cat "$T/err")"
    ! grep -v '^sluice: ' "$T/err" || fail "$*: a line without the prefix: $(cat "$T/err")"
}
refused 2 "sluice: unknown option --rpmm; did you mean --rpm?" run "$T/in.jsonl" --rpmm 100
refused 2 "sluice: unknown option --rpmm; did you mean --rpm?" run "$T/in.jsonl" --rpmm=100
refused 2 "sluice: unknown option --concurency; did you mean --concurrency?" \
    run "$T/in.jsonl" -o "$T/o" --concurency 8
refused 2 "sluice: unknown option -r (in -rpm); did you mean --rpm?" run "$T/in.jsonl" -rpm 5
refused 2 "sluice: --pr is ambiguous: --provider, --progress, --price-in, --price-out or --prices?" \
    run "$T/in.jsonl" --pr x
refused 2 "sluice: --rpm needs a value" run "$T/in.jsonl" -o "$T/o" --rpm
refused 2 "sluice: --resume takes no value (got --resume=yes)" run "$T/in.jsonl" --resume=yes
refused 2 "sluice: unknown option --bogus" run "$T/in.jsonl" --bogus
refused 2 "sluice: unknown option --folow; did you mean --follow?" work --folow
refused 2 "sluice: unknown option --jsn; did you mean --json?" job status --jsn
refused 2 "sluice: job stauts: did you mean job status?" job stauts
refused 2 "sluice: unknown command 'rn'; did you mean 'run'?" rn
# Other refusals and a whole run speak with the same prefix.
refused 2 "sluice: -c/--concurrency expects a number from 1 to 100000, got 'zero'" \
    run "$T/in.jsonl" -o "$T/o" -c zero
refused 2 "sluice: -o/--output PATH is required (- for stdout)" run "$T/in.jsonl"
refused 2 "sluice: OUTPUT and INPUT are both $T/in.jsonl: writing OUTPUT would destroy INPUT; give OUTPUT another path" \
    run "$T/in.jsonl" -o "$T/in.jsonl"
REDIS_URL= refused 2 "sluice: work needs --redis URL (or \$REDIS_URL, --redis-url-file) and --job NAME" work
"$SLUICE" run "$T/in.jsonl" -o "$T/out.jsonl" --base-url "$MOCK_URL" 2>"$T/err" ||
    fail "a run: exit $?: $(cat "$T/err")"
! grep -v '^sluice: ' "$T/err" || fail "a run: a line without the prefix: $(cat "$T/err")"
grep -q "OPENAI_API_KEY" "$T/err" || fail "a run: no warning about the key: $(cat "$T/err")"

# --rpm 0 and --tpm 0: learn the limits, here from the mock's headers; --help says so.
"$SLUICE" run --help | grep -A6 -- "--rpm N" | grep -q "0 (the default for both): learn it" ||
    fail "--help does not say what --rpm 0 means"
start_mock --rpm 6000
"$SLUICE" run "$T/in.jsonl" -o "$T/zero.jsonl" --base-url "$MOCK_URL" --provider none \
    --rpm 0 --tpm 0 --stats-json "$T/s.json" 2>"$T/err" || fail "--rpm 0: exit $?: $(cat "$T/err")"
python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))
assert s["succeeded"] == 5 and s["limits"]["rate_source"] == "headers", s' "$T/s.json" ||
    fail "--rpm 0 --tpm 0 did not learn the limits from the headers"
echo ok
