#!/bin/sh
# tests/tls/mkcerts.sh — make the TLS test certificates with certtool, at
# test time, into folder DIR (created).  Everything is signed by a fresh CA
# and valid for 30 days from now, except where a name says otherwise:
#
#   ca.pem ca.key               the test CA (ECDSA P-256)
#   ca2.pem ca2.key             another CA, trusted by nothing
#   server-ecdsa.pem/.key       localhost, 127.0.0.1 (ECDSA P-256)
#   server-rsa.pem/.key         localhost, 127.0.0.1 (RSA 2048)
#   server-other.pem/.key       other.test: the second SNI name
#   server-new.pem/.key         localhost again, CN=localhost-renewed (reload)
#   client.pem/.key             CN=client1, email client1@example.test
#   client-expired.pem/.key     expired in 2020
#   client-otherca.pem/.key     signed by ca2
#   client-revoked.pem/.key     revoked by crl.pem
#   crl.pem                     the CA's CRL
#   ocsp-ecdsa.der              a "good" OCSP response for server-ecdsa.pem,
#                               made with `openssl ocsp` when openssl exists
#
# usage: mkcerts.sh DIR      exit 77 (skip) without certtool
set -eu
dir=${1:?usage: mkcerts.sh DIR}
command -v certtool >/dev/null 2>&1 || { echo "certtool not found" >&2; exit 77; }
mkdir -p "$dir"
cd "$dir"

key() { # key NAME ecdsa|rsa
	if [ "$2" = rsa ]; then
		certtool --generate-privkey --key-type=rsa --bits=2048 --no-text --outfile "$1.key" 2>/dev/null
	else
		certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text --outfile "$1.key" 2>/dev/null
	fi
}

ca() { # ca NAME CN
	key "$1" ecdsa
	printf 'cn = "%s"\norganization = "modhost-test"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 30\n' "$2" >"$1.tmpl"
	certtool --generate-self-signed --load-privkey "$1.key" --template "$1.tmpl" --no-text \
		--outfile "$1.pem" 2>/dev/null
}

# cert NAME KEYTYPE CA TEMPLATE-LINES...
cert() {
	name=$1 type=$2 signer=$3
	shift 3
	key "$name" "$type"
	: >"$name.tmpl"
	for line in "$@"; do echo "$line" >>"$name.tmpl"; done
	certtool --generate-certificate --load-privkey "$name.key" --load-ca-certificate "$signer.pem" \
		--load-ca-privkey "$signer.key" --template "$name.tmpl" --no-text --outfile "$name.pem" 2>/dev/null
}

ca ca "modhost test CA"
ca ca2 "modhost other CA"

SERVER="tls_www_server
signing_key
encryption_key
expiration_days = 30"
cert server-ecdsa ecdsa ca 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' "$SERVER"
cert server-rsa rsa ca 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' "$SERVER"
cert server-other ecdsa ca 'cn = "other.test"' 'dns_name = "other.test"' "$SERVER"
cert server-new ecdsa ca 'cn = "localhost-renewed"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' "$SERVER"

CLIENT="tls_www_client
signing_key
organization = \"modhost-test\""
cert client ecdsa ca 'cn = "client1"' 'email = "client1@example.test"' "$CLIENT" 'expiration_days = 30'
cert client-expired ecdsa ca 'cn = "client-expired"' "$CLIENT" \
	'activation_date = "2020-01-01 00:00:00 UTC"' 'expiration_date = "2020-06-01 00:00:00 UTC"'
cert client-otherca ecdsa ca2 'cn = "client-otherca"' "$CLIENT" 'expiration_days = 30'
cert client-revoked ecdsa ca 'cn = "client-revoked"' "$CLIENT" 'expiration_days = 30'

printf 'crl_next_update = 30\ncrl_number = 1\n' >crl.tmpl
certtool --generate-crl --load-ca-privkey ca.key --load-ca-certificate ca.pem \
	--load-certificate client-revoked.pem --template crl.tmpl --no-text --outfile crl.pem 2>/dev/null

# OCSP: certtool cannot sign responses; openssl's responder can, offline.
if command -v openssl >/dev/null 2>&1; then
	serial=$(openssl x509 -in server-ecdsa.pem -noout -serial | cut -d= -f2)
	expiry=$(date -u -d '+30 days' '+%y%m%d%H%M%SZ')
	printf 'V\t%s\t\t%s\tunknown\t/CN=localhost\n' "$expiry" "$serial" >index.txt
	openssl ocsp -issuer ca.pem -cert server-ecdsa.pem -no_nonce -reqout ocsp-req.der >/dev/null 2>&1 &&
		openssl ocsp -index index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin ocsp-req.der \
			-respout ocsp-ecdsa.der -ndays 7 >/dev/null 2>&1 ||
		rm -f ocsp-ecdsa.der
fi
exit 0
