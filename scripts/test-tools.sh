#!/usr/bin/env bash
# Installs, from Debian's packages, the third-party programs the tests run against the project,
# unless they are there: HAProxy and nginx with its stream module (the real PROXY protocol
# senders, and nginx the examples' file server); openssl, socat and OpenBSD's nc (the TLS, Unix
# socket and chat clients); curl (the forwarder's HTTP client); python3 (the tutorial's programs,
# and a slow HTTP client). Uses sudo when not root.
set -euo pipefail
if [ -x /usr/sbin/haproxy ] && [ -x /usr/sbin/nginx ] && [ -e /usr/lib/nginx/modules/ngx_stream_module.so ] &&
  [ -x /usr/bin/openssl ] && [ -x /usr/bin/socat ] && [ -x /bin/nc.openbsd ] && [ -x /usr/bin/curl ] &&
  [ -x /usr/bin/python3 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy nginx libnginx-mod-stream \
  openssl socat netcat-openbsd curl python3
