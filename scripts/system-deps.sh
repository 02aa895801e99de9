#!/bin/sh
# Install the Debian packages for the servers the integration tests start on 127.0.0.1.
# Idempotent: does nothing when they are present. Needs root (as on CI) to install.
set -eu
need=""
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need="$need postgresql"
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || [ -x /usr/sbin/rabbitmq-server ] || need="$need rabbitmq-server"
if [ -z "$need" ]; then
    exit 0
fi
echo "system-deps: installing$need"
if [ "$(id -u)" != 0 ]; then
    echo "system-deps: need root to install$need (or install them yourself)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# policy-rc.d keeps the packages from starting system-wide services: tests start their own.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.epj && chmod +x /usr/sbin/policy-rc.d.epj
[ -e /usr/sbin/policy-rc.d ] || cp /usr/sbin/policy-rc.d.epj /usr/sbin/policy-rc.d
apt-get install -y -q --no-install-recommends $need >/dev/null
rm -f /usr/sbin/policy-rc.d.epj
