# start_tls_proxy UPSTREAM_URL: nginx with TLS and HTTP/2 on 127.0.0.1 in front of a mock, with a
# fresh self-signed CA in $T. Sets TLS_URL, TLS_CA (the CA file) and NGINX_LOG (access log, one
# "$server_protocol $status" line per request). Skips the test (exit 77) when nginx is missing.
start_tls_proxy() {
    local upstream=$1
    command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 77; }
    command -v openssl >/dev/null || { echo "SKIP: openssl is not installed"; exit 77; }
    local d="$T/nginx"
    mkdir -p "$d/tmp"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sluice test CA" \
        -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/srv.key" \
        -out "$d/srv.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext"
    openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext" -out "$d/srv.pem" 2>/dev/null
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$d/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $d/error.log warn;
pid $d/nginx.pid;
events { worker_connections 1024; }
http {
    log_format proto '\$server_protocol \$status';
    access_log $d/access.log proto;
    client_body_temp_path $d/tmp;
    proxy_temp_path $d/tmp;
    fastcgi_temp_path $d/tmp;
    uwsgi_temp_path $d/tmp;
    scgi_temp_path $d/tmp;
    upstream mock { server ${upstream#http://}; keepalive 32; }
    server {
        listen 127.0.0.1:$port ssl http2;
        ssl_certificate $d/srv.pem;
        ssl_certificate_key $d/srv.key;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
    timeout 600 nginx -c "$d/nginx.conf" -p "$d" 2>"$d/stderr" &
    _PIDS="$_PIDS $!"
    local i
    for i in $(seq 1 100); do
        if curl -s -o /dev/null --cacert "$d/ca.pem" "https://127.0.0.1:$port/mock/stats"; then
            TLS_URL="https://127.0.0.1:$port"
            TLS_CA="$d/ca.pem"
            NGINX_LOG="$d/access.log"
            return 0
        fi
        sleep 0.05
    done
    cat "$d/stderr" "$d/error.log" >&2
    fail "nginx did not start"
}

# start_forward_proxy: nginx as a plain HTTP forward proxy on 127.0.0.1 (for http:// URLs with
# an IP host). Sets PROXY_URL and PROXY_LOG (one "$request" line per proxied request).
start_forward_proxy() {
    command -v nginx >/dev/null || { echo "SKIP: nginx is not installed"; exit 77; }
    local d="$T/fwd"
    mkdir -p "$d/tmp"
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$d/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $d/error.log warn;
pid $d/nginx.pid;
events { worker_connections 1024; }
http {
    log_format req '\$request';
    access_log $d/access.log req;
    client_body_temp_path $d/tmp;
    proxy_temp_path $d/tmp;
    fastcgi_temp_path $d/tmp;
    uwsgi_temp_path $d/tmp;
    scgi_temp_path $d/tmp;
    server {
        listen 127.0.0.1:$port;
        location / { proxy_pass http://\$http_host; }
    }
}
CONF
    timeout 600 nginx -c "$d/nginx.conf" -p "$d" 2>"$d/stderr" &
    _PIDS="$_PIDS $!"
    local i
    for i in $(seq 1 100); do
        if curl -s -o /dev/null -x "http://127.0.0.1:$port" "$MOCK_URL/mock/stats"; then
            PROXY_URL="http://127.0.0.1:$port"
            PROXY_LOG="$d/access.log"
            return 0
        fi
        sleep 0.05
    done
    cat "$d/stderr" "$d/error.log" >&2
    fail "nginx (forward proxy) did not start"
}
