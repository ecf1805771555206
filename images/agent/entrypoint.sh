#!/bin/bash
# Container entrypoint (root, under docker-init). caic delivers this container's own SSH host key
# and the daemon's public key straight into place before the first start; a sudo password, when
# asked for, arrives in /etc/caic and is applied once, then deleted. So does the command line of the
# agent's relay (/etc/caic/boot): started here, as the user, while sshd comes up, so the relay (and,
# when nothing has to go in over SSH first, the agent) is already running when the daemon connects.
# Then sshd runs in the foreground.
set -eu

inbox=/etc/caic
# Network egress (docs/security.md#network-egress). A container whose policy is not open is created
# with NET_ADMIN and SETPCAP and a policy in /etc/caic/egress.json: the packet filter of its own
# network namespace goes in first, then this script runs again with both capabilities gone from
# its bounding set (and no inheritable or ambient ones), so nothing it starts (sshd and every
# login, sudo included; the relay; the proxy) can ever get them back. A container that holds
# NET_ADMIN without a policy is treated as `none` (fail closed).
egress_state=/run/caic-egress
proxy_port=51080
trap_port=51081
dns_port=51053
egress_nft() {
  # The filter below (egress_rules) as one nftables table for both families, put in by one `nft -f`:
  # a single transaction, a few ms where the two iptables-restore calls took 25-30 (sshd waits for
  # it). Its chains run before iptables' at the same hooks (nat -110 < -100, filter -10 < 0), so the
  # trap's REDIRECT comes before Docker's DNAT of its embedded resolver; a packet has to pass every
  # table's chain, so what this one drops stays dropped. A packet without a socket matches no
  # skuid rule.
  cat <<EOF
table inet caic_egress {
  chain nat_out {
    type nat hook output priority -110; policy accept;
    meta skuid "caic-egress" return
    udp dport 53 redirect to :$dns_port
    meta l4proto tcp fib daddr type != local redirect to :$trap_port
  }
  chain out {
    type filter hook output priority -10; policy drop;
    ct state established,related accept
    ip daddr 127.0.0.11 meta skuid != "caic-egress" reject
    fib daddr type local accept
    meta skuid "caic-egress" meta l4proto tcp accept
    meta skuid "caic-egress" udp dport 53 accept
    meta l4proto tcp reject with tcp reset
    reject
  }
  chain in {
    type filter hook input priority -10; policy drop;
    iifname "lo" accept
    ct state established,related accept
    tcp dport 22 accept
  }
}
EOF
}
egress_rules() {
  # $1: 4 or 6. Only caic-egress (the proxy) may open connections that leave the container;
  # everyone else's TCP goes to the proxy's trap and their DNS queries to its DNS trap (both count
  # and refuse), anything else is rejected. Replies of sshd and loopback stay open, and inbound
  # only sshd and loopback (no other container may open a channel to the agent). A packet a trap's
  # REDIRECT reroutes still names the first route's device in OUTPUT: the address type, not
  # `-o lo`, tells what stays in the container. One iptables-restore per family; --noflush keeps
  # Docker's own rules for its embedded resolver.
  local resolver=''
  # Docker's embedded resolver (user-defined networks) is on loopback: the proxy's alone.
  if [ "$1" = 4 ]; then resolver='-A CAIC_EGRESS_OUT -d 127.0.0.11 -m owner ! --uid-owner caic-egress -j REJECT'; fi
  cat <<EOF
*nat
:CAIC_EGRESS - [0:0]
-I OUTPUT 1 -j CAIC_EGRESS
-A CAIC_EGRESS -m owner --uid-owner caic-egress -j RETURN
-A CAIC_EGRESS -p udp --dport 53 -j REDIRECT --to-ports $dns_port
-A CAIC_EGRESS -p tcp -m addrtype ! --dst-type LOCAL -j REDIRECT --to-ports $trap_port
COMMIT
*filter
:INPUT DROP [0:0]
:OUTPUT DROP [0:0]
:CAIC_EGRESS_OUT - [0:0]
:CAIC_EGRESS_IN - [0:0]
-A CAIC_EGRESS_OUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
$resolver
-A CAIC_EGRESS_OUT -m addrtype --dst-type LOCAL -j ACCEPT
-A CAIC_EGRESS_OUT -m owner --uid-owner caic-egress -p tcp -j ACCEPT
-A CAIC_EGRESS_OUT -m owner --uid-owner caic-egress -p udp --dport 53 -j ACCEPT
-A CAIC_EGRESS_OUT -p tcp -j REJECT --reject-with tcp-reset
-A CAIC_EGRESS_OUT -j REJECT
-I OUTPUT 1 -j CAIC_EGRESS_OUT
-A CAIC_EGRESS_IN -i lo -j ACCEPT
-A CAIC_EGRESS_IN -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A CAIC_EGRESS_IN -p tcp --dport 22 -j ACCEPT
-A CAIC_EGRESS_IN -j DROP
-I INPUT 1 -j CAIC_EGRESS_IN
COMMIT
EOF
}
if [ "${1:-}" != --egress-locked ]; then
  capbnd=$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)
  if [ -f "$inbox/egress.json" ] || (( (16#$capbnd >> 12) & 1 )); then
    [ -f "$inbox/egress.json" ] || printf '{"mode":"none","allow":[]}\n' >"$inbox/egress.json"
    filter=nft
    if ! { command -v nft >/dev/null && egress_nft | nft -f -; } >/dev/null 2>"$inbox/egress.err"; then
      # No nft in this image (a base made before it joined), or a kernel without what the table
      # uses: the same filter through iptables, one family at a time. nft -f is one transaction,
      # so a refused table left nothing behind.
      filter=iptables
      if ! { egress_rules 4 | iptables-restore --noflush && { [ ! -e /proc/net/if_inet6 ] || egress_rules 6 | ip6tables-restore --noflush; }; } >/dev/null 2>>"$inbox/egress.err"; then
        echo "caic: the egress policy could not be put in place; refusing to start:" >&2
        cat "$inbox/egress.err" >&2
        exit 1
      fi
    fi
    exec setpriv --inh-caps -all --ambient-caps -all --bounding-set -net_admin,-setpcap -- "$0" --egress-locked "$filter"
  fi
fi
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
if [ -f "$inbox/egress.json" ]; then
  # The proxy, as its own user, with nothing it could gain; the users' environment points at it.
  # root holds no DAC_OVERRIDE: the directory is root's while it is prepared, then the proxy's.
  install -d -m 0755 "$egress_state"
  chown root:root "$egress_state"
  rm -f "$egress_state/ready"
  install -m 0644 "$inbox/egress.json" "$egress_state/policy.json"
  # Which tool put the filter in (nft, or iptables where the image has no nft): for the tests.
  printf '%s\n' "${2:-iptables}" >"$egress_state/filter"
  : >>"$egress_state/proxy.log"
  chown caic-egress:caic-egress "$egress_state"
  setsid -f setpriv --reuid=caic-egress --regid=caic-egress --clear-groups --no-new-privs \
    env -i PATH=/usr/bin:/bin perl /usr/local/lib/caic/egress-proxy.pl "$egress_state/policy.json" "$egress_state" "$proxy_port" "$trap_port" "$dns_port" \
    </dev/null >/dev/null 2>>"$egress_state/proxy.log"
  proxy="http://127.0.0.1:$proxy_port"
  {
    for v in HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy; do echo "export $v=$proxy"; done
    echo 'export NO_PROXY=localhost,127.0.0.1,::1 no_proxy=localhost,127.0.0.1,::1 NODE_USE_ENV_PROXY=1'
  } >/etc/caic-proxy.sh
  chmod 0644 /etc/caic-proxy.sh
fi
# sshd comes up while the proxy starts; what runs as the user at boot waits for it. A proxy that
# does not start ends the container (sshd is this process after the exec below); until then the
# filter refuses everything anyway.
proxy_up() {
  [ -f "$inbox/egress.json" ] || return 0
  for _ in $(seq 1000); do [ -f "$egress_state/ready" ] && return 0; sleep 0.005; done
  echo "caic: the egress proxy did not start:" >&2
  cat "$egress_state/proxy.log" >&2
  kill -TERM "$$"
  return 1
}
boot_relay() { :; }
if [ -f "$inbox/boot" ]; then
  # NUL-separated: the session directory, then the relay's command line. Once: a revive does not
  # start it again (the daemon starts a new session then). It holds no secret: the relay reads
  # ~/.env, written over SSH, when it starts the agent. The environment is an SSH session's. The pid
  # file is there from the first moment (the relay keeps the pid): one that dies before it listens is
  # seen dead at once.
  mapfile -d '' -t boot < "$inbox/boot"
  rm -f "$inbox/boot"
  boot_relay() {
    setsid -f setpriv --reuid=1000 --regid=1000 --init-groups \
      env -i HOME=/home/user USER=user LOGNAME=user SHELL=/bin/bash PATH=/usr/local/bin:/usr/bin:/bin:/usr/games BASH_ENV=/etc/caic-env.sh \
      /bin/bash -c 'cd && mkdir -p -- "$1" && echo $$ >"$1/pid" && exec "${@:2}" </dev/null >/dev/null 2>>"$1/relay.log"' caic-boot "${boot[@]}" </dev/null >/dev/null 2>&1
  }
fi
if [ -f "$inbox/egress.json" ]; then
  { proxy_up && boot_relay; } &
else
  boot_relay
fi
exec /usr/sbin/sshd -D -e
