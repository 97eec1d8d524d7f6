#!/usr/bin/env bash
# Stop the private Dovecot started by start.sh.
DIR=${MAILSPEC_DOVECOT_DIR:-/tmp/mailspec-dovecot}
[ -f "$DIR/dovecot.conf" ] && doveadm -c "$DIR/dovecot.conf" stop 2>/dev/null
[ -f "$DIR/run/master.pid" ] && kill "$(cat "$DIR/run/master.pid")" 2>/dev/null
exit 0
