#!/usr/bin/env bash
# Installs the system packages the test suite needs (Debian). Safe to run
# again: it installs only what is missing. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  iproute2        # ip: the private network namespace of the test lab
  util-linux      # unshare
  openssl         # the lab's throwaway CA; `openssl cms -verify` of signed profiles
  libxml2-utils   # xmllint --relaxng for autoconfig output
  dnsmasq-base    # the lab's DNS server (MX, SRV, A records for .test domains)
  dovecot-imapd dovecot-pop3d dovecot-submissiond  # real IMAP, POP3, submission
  bind9 bind9-utils  # named serving DNSSEC-signed zones; dnssec-keygen, dnssec-signzone
  hyperfine       # the start-up benchmark
  chromium chromium-driver  # the serve page's browser test (WebDriver)
  wrk             # the serve load test and benchmark
  python3-venv curl procps  # the serve benchmark: automx2 in a virtualenv, probes, RSS
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Don't let package scripts start system services: the lab starts its own.
[ -e /usr/sbin/policy-rc.d ] || $SUDO bash -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
