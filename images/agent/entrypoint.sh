#!/bin/bash
# Container entrypoint (root, under docker-init). caic delivers this container's own SSH host key
# and the daemon's public key straight into place before the first start; a sudo password, when
# asked for, arrives in /etc/caic and is applied once, then deleted. So does the command line of the
# agent's relay (/etc/caic/boot): started here, as the user, while sshd comes up, so the relay (and,
# when nothing has to go in over SSH first, the agent) is already running when the daemon connects.
# Then sshd runs in the foreground.
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
if [ -f "$inbox/boot" ]; then
  # NUL-separated: the session directory, then the relay's command line. Once: a revive does not
  # start it again (the daemon starts a new session then). It holds no secret: the relay reads
  # ~/.env, written over SSH, when it starts the agent. The environment is an SSH session's. The pid
  # file is there from the first moment (the relay keeps the pid): one that dies before it listens is
  # seen dead at once.
  mapfile -d '' -t boot < "$inbox/boot"
  rm -f "$inbox/boot"
  setsid -f setpriv --reuid=1000 --regid=1000 --init-groups \
    env -i HOME=/home/user USER=user LOGNAME=user SHELL=/bin/bash PATH=/usr/local/bin:/usr/bin:/bin:/usr/games BASH_ENV=/etc/caic-env.sh \
    /bin/bash -c 'cd && mkdir -p -- "$1" && echo $$ >"$1/pid" && exec "${@:2}" </dev/null >/dev/null 2>>"$1/relay.log"' caic-boot "${boot[@]}" </dev/null >/dev/null 2>&1
fi
exec /usr/sbin/sshd -D -e
