# Loads ~/.env (written by caic over SSH, mode 0600) into every bash. Three doors, because bash
# picks one by how it starts: login shells read /etc/profile.d; the top-level `bash -c` that sshd
# runs for a command reads /etc/bash.bashrc (and skips BASH_ENV); nested non-interactive shells
# read BASH_ENV, which sshd sets.
# A task with an egress policy: its proxy (written by the entrypoint; absent when egress is open).
if [ -r /etc/caic-proxy.sh ]; then
  . /etc/caic-proxy.sh
fi
if [ -r "$HOME/.env" ]; then
  set -a
  . "$HOME/.env"
  set +a
fi
