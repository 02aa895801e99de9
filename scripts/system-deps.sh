#!/bin/sh
# Install the Debian packages for the servers the integration tests start on 127.0.0.1
# (PostgreSQL, RabbitMQ with its AMQP 1.0 plugin), the browser the admin page's tests
# drive (Debian's chromium, through Playwright) and systemd-analyze, which checks the
# service unit (Debian's systemd). Idempotent: does nothing when they are present.
# Installing needs root, as on CI.
set -eu
need=""
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    need="$need postgresql"
fi
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && [ ! -x /usr/sbin/rabbitmq-server ]; then
    need="$need rabbitmq-server"
fi
if [ ! -x /usr/bin/chromium ]; then
    need="$need chromium"
fi
# systemd-analyze checks deploy/epj-adapter.service (tests/ops/test_systemd.py).
if [ ! -x /usr/bin/systemd-analyze ]; then
    need="$need systemd"
fi
[ -n "$need" ] || exit 0
echo "system-deps: installing$need"
if [ "$(id -u)" != 0 ]; then
    echo "system-deps: need root to install$need (or install them yourself)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# The packages would start system-wide services; the tests start their own servers.
# A policy-rc.d that denies service starts is in place during the install only.
created=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created=yes
fi
status=0
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $need >/dev/null || status=$?
[ -z "$created" ] || rm -f /usr/sbin/policy-rc.d
exit "$status"
