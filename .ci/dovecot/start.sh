#!/usr/bin/env bash
# Start a private Dovecot (Debian's dovecot-pop3d/imapd) on loopback high ports for the suite.
# Its own base_dir, a passwd-file of test users, Maildirs and a trustme CA, all under $DIR.
# targets/dovecot.toml (kept in the repo) describes this instance to the suite.
set -euo pipefail
DIR=${MAILSPEC_DOVECOT_DIR:-/tmp/mailspec-dovecot}
HERE=$(cd "$(dirname "$0")" && pwd)
# pop3 pop3s imap imaps; targets/dovecot.toml names the defaults (the benchmark runs its own instance)
read -r POP3 POP3S IMAP IMAPS <<< "${MAILSPEC_DOVECOT_PORTS:-11110 11995 11143 11993}"
"$HERE/stop.sh" >/dev/null 2>&1 || true
rm -rf "$DIR"
mkdir -p "$DIR/run" "$DIR/state" "$DIR/home"
chmod 755 "$DIR"

python3 - "$DIR" <<'PY'
import sys, trustme
d = sys.argv[1]
ca = trustme.CA()
cert = ca.issue_cert("localhost", "127.0.0.1", common_name="localhost")
ca.cert_pem.write_to_path(f"{d}/ca.pem")
cert.private_key_pem.write_to_path(f"{d}/key.pem")
cert.cert_chain_pems[0].write_to_path(f"{d}/cert.pem")
for extra in cert.cert_chain_pems[1:]:
    extra.write_to_path(f"{d}/cert.pem", append=True)
PY
chmod 600 "$DIR/key.pem"

# Test users (password "<user>-pass"): the six suite users are disposable; admin exists to test the
# refusal of such mailboxes. MAILSPEC_DOVECOT_USERS replaces the list (the benchmark uses its own).
: > "$DIR/passwd"
for u in ${MAILSPEC_DOVECOT_USERS:-alice bob carol dave erin frank admin}; do
  mkdir -p "$DIR/home/$u"
  echo "$u:{PLAIN}$u-pass:65534:65534::$DIR/home/$u::" >> "$DIR/passwd"
done
chown -R 65534:65534 "$DIR/home"

cat > "$DIR/dovecot.conf" <<CONF
base_dir = $DIR/run
state_dir = $DIR/state
log_path = $DIR/dovecot.log
instance_name = mailspec-dovecot-$POP3
protocols = pop3 imap
listen = 127.0.0.1
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
ssl = required
ssl_cert = <$DIR/cert.pem
ssl_key = <$DIR/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain apop
# sdbox: Dovecot's own format; Maildir showed a same-second race between an IMAP APPEND and a POP3 login.
mail_location = sdbox:~/sdbox
# RFC 1939 section 4: the maildrop is locked for the session (Dovecot's default is not to). Dovecot
# waits for the lock instead of refusing; a short lock timeout makes it answer -ERR [IN-USE] soon.
pop3_lock_session = yes
mail_max_lock_timeout = 1s
# No delay after a failed login: the suite tries wrong passwords on purpose.
auth_failure_delay = 0
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = passwd-file
  args = scheme=PLAIN $DIR/passwd
}
userdb {
  driver = passwd-file
  args = $DIR/passwd
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $POP3
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $POP3S
    ssl = yes
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS
    ssl = yes
  }
}
service anvil {
  chroot =
  # No login penalty after failed logins: the suite fails logins on purpose, and the penalty
  # (2-8 s for every later login from 127.0.0.1) would only slow it down.
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
CONF

dovecot -c "$DIR/dovecot.conf"
# Wait until both POP3 listeners answer.
for _ in $(seq 1 50); do
  if python3 -c "import socket; [socket.create_connection(('127.0.0.1', p), 0.2).close() for p in ($POP3, $POP3S, $IMAP)]" 2>/dev/null; then
    echo "dovecot $(dovecot --version) running from $DIR (pop3 $POP3, pop3s $POP3S, imap $IMAP, imaps $IMAPS)"
    exit 0
  fi
  sleep 0.1
done
echo "dovecot did not start; log:" >&2
cat "$DIR/dovecot.log" >&2 || true
exit 1
