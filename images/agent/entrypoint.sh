#!/bin/bash
# Container entrypoint (root, under docker-init). caic delivers this container's own SSH host key
# and the daemon's public key straight into place before the first start; a sudo password, when
# asked for, arrives in /etc/caic and is applied once, then deleted. Then sshd runs in the foreground.
set -eu

inbox=/etc/caic
if [ -f "$inbox/sudo_password" ]; then
  # chpasswd reads "user:password" on stdin: the password never appears in argv or env.
  { printf 'user:'; cat "$inbox/sudo_password"; } | chpasswd
  usermod -aG sudo user
  rm -f "$inbox/sudo_password"
fi
# Without a password the account stays locked and outside the sudo group (as built).

if [ ! -f /etc/ssh/ssh_host_ed25519_key ]; then
  echo "caic: no SSH host key was delivered; refusing to start" >&2
  exit 1
fi
exec /usr/sbin/sshd -D -e
