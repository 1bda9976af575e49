#!/usr/bin/env bash
# Makes a throwaway certificate authority and a server certificate it signs
# (for `localhost` and 127.0.0.1) in DIR, for a local SMTP test server:
#   DIR/ca.pem            the authority, to trust (`notify.smtp_ca_file`)
#   DIR/cert.pem, key.pem the server's certificate and key
# TLS libraries that follow RFC 5280 (rustls) refuse a self-signed CA
# certificate presented as a server's own, hence the two levels.
# Does nothing when DIR/ca.pem exists already.
set -euo pipefail
DIR=${1:?usage: smtp-test-cert.sh DIR}
mkdir -p "$DIR"
[ -f "$DIR/ca.pem" ] && exit 0
cd "$DIR"
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=Cielo test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
  -keyout ca.key -out ca.pem >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout key.pem -out server.csr >/dev/null 2>&1
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
  -extfile server.ext -out cert.pem >/dev/null 2>&1
rm -f server.csr server.ext ca.srl
