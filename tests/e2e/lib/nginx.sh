# nginx as a test peer, on 127.0.0.1 only, in one process, with its logs and temp files in $T.
# Tests are skipped (exit 77) when nginx (or openssl for TLS) is missing.

_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# _nginx_start DIR LOG_FORMAT HTTP_BLOCKS: writes DIR/nginx.conf with the given access-log
# format and http{} contents, and starts nginx in the background (stopped by cleanup).
_nginx_start() {
    local d=$1 fmt=$2 blocks=$3
    mkdir -p "$d/tmp"
    cat >"$d/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $d/error.log warn;
pid $d/nginx.pid;
events { worker_connections 1024; }
http {
    log_format main '$fmt';
    access_log $d/access.log main;
    client_body_temp_path $d/tmp;
    proxy_temp_path $d/tmp;
    fastcgi_temp_path $d/tmp;
    uwsgi_temp_path $d/tmp;
    scgi_temp_path $d/tmp;
$blocks
}
CONF
    timeout 600 nginx -c "$d/nginx.conf" -p "$d" 2>"$d/stderr" &
    _PIDS="$_PIDS $!"
}

# _nginx_wait DIR CURL_ARGS...: waits until `curl CURL_ARGS` gets an answer through it.
_nginx_wait() {
    local d=$1 i
    shift
    for i in $(seq 1 100); do
        curl -s -o /dev/null "$@" && return 0
        sleep 0.05
    done
    cat "$d/stderr" "$d/error.log" >&2
    fail "nginx did not start"
}

# start_tls_proxy UPSTREAM_URL: nginx with TLS and HTTP/2 in front of a mock, with a fresh
# self-signed CA. Sets TLS_URL, TLS_CA (the CA file) and NGINX_LOG (access log, one
# "$server_protocol $status" line per request).
start_tls_proxy() {
    local upstream=$1 d="$T/nginx" port
    command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 77; }
    command -v openssl >/dev/null || { echo "SKIP: openssl is not installed"; exit 77; }
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sluice test CA" \
        -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/srv.key" \
        -out "$d/srv.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext"
    openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext" -out "$d/srv.pem" 2>/dev/null
    port=$(_free_port)
    _nginx_start "$d" '$server_protocol $status' "
    upstream mock { server ${upstream#http://}; keepalive 32; }
    server {
        listen 127.0.0.1:$port ssl http2;
        ssl_certificate $d/srv.pem;
        ssl_certificate_key $d/srv.key;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
    _nginx_wait "$d" --cacert "$d/ca.pem" "https://127.0.0.1:$port/mock/stats"
    TLS_URL="https://127.0.0.1:$port"
    TLS_CA="$d/ca.pem"
    NGINX_LOG="$d/access.log"
}

# start_forward_proxy: nginx as a plain HTTP forward proxy (for http:// URLs with an IP host;
# $MOCK_URL must be set). Sets PROXY_URL and PROXY_LOG (one "$request" line per request).
start_forward_proxy() {
    local d="$T/fwd" port
    command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 77; }
    port=$(_free_port)
    _nginx_start "$d" '$request' "
    server {
        listen 127.0.0.1:$port;
        location / { proxy_pass http://\$http_host; }
    }"
    _nginx_wait "$d" -x "http://127.0.0.1:$port" "$MOCK_URL/mock/stats"
    PROXY_URL="http://127.0.0.1:$port"
    PROXY_LOG="$d/access.log"
}

# start_limit_req UPSTREAM_URL RATE BURST [RETRY_AFTER_S]: nginx's limit_req in front of a
# server, as people put it in front of self-hosted model servers: one zone for every client
# (the key is the port), RATE as nginx writes it ("100r/s", "30r/m"), `burst=BURST nodelay`,
# and each refusal a 429 with a JSON body and `Retry-After: RETRY_AFTER_S` (1 by default; an
# empty value sends none). Sets LIMIT_URL and LIMIT_LOG (access log, one "$msec $status" line
# per request, $msec in seconds with ms).
start_limit_req() {
    local upstream=$1 rate=$2 burst=$3 ra=${4-1} d="$T/limitreq.$RANDOM" port hdr=""
    command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 77; }
    port=$(_free_port)
    [ -n "$ra" ] && hdr="add_header Retry-After $ra always;"
    mkdir -p "$d"
    _nginx_start "$d" '$msec $status' "
    limit_req_zone \$server_port zone=rl:1m rate=$rate;
    upstream up { server ${upstream#http://}; keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        keepalive_requests 100000;
        location / {
            limit_req zone=rl burst=$burst nodelay;
            limit_req_status 429;
            error_page 429 = @refused;
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
        location @refused {
            $hdr
            default_type application/json;
            return 429 '{\"error\":{\"message\":\"rate limited by nginx\",\"type\":\"rate_limit\"}}';
        }
        location = /mock/stats { proxy_pass http://up; }
    }"
    _nginx_wait "$d" "http://127.0.0.1:$port/mock/stats"
    LIMIT_URL="http://127.0.0.1:$port"
    LIMIT_LOG="$d/access.log"
}
