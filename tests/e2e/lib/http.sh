# HTTP helpers for the mock's own tests: post/header, and JSON checks batched into one python3
# run (starting python per check was slow on a loaded machine). Source after common.sh.
# post PATH BODY: writes headers to $T/h and the body to $T/b, prints the status code.
post() {
    curl -s -o "$T/b" -D "$T/h" -w '%{http_code}' -H 'content-type: application/json' \
        --data-binary "$2" "$MOCK_URL$1"
}
header() { grep -i "^$1:" "$T/h" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }
# check PYTHON-EXPR...: each must be true of the last body ($T/b) parsed as d (and of its
# error object as e: the first element when the body is an array). Run at the end by one python3.
NCHECK=0
check() {
    NCHECK=$((NCHECK + 1))
    cp "$T/b" "$T/body.$NCHECK"
    local x
    for x in "$@"; do printf '%s\t%s\t%s\n' "$NCHECK" "${BASH_LINENO[0]}" "$x" >>"$T/checks"; done
}
run_checks() {
    python3 - "$T" <<'PY' || fail "JSON checks failed"
import json, sys
T = sys.argv[1]
bad = 0
for line in open(T + "/checks"):
    n, ln, expr = line.rstrip("\n").split("\t", 2)
    raw = open(T + "/body." + n, "rb").read()
    try:
        d = json.loads(raw)
    except ValueError:
        d = None
    try:
        e = (d[0] if isinstance(d, list) and d else d or {}).get("error") if d is not None else None
    except AttributeError:
        e = None
    try:
        ok = eval(expr)
    except Exception:
        ok = False
    if not ok:
        print(f"line {ln}: not true: {expr}\n  body: {raw[:400]!r}", file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
PY
}
