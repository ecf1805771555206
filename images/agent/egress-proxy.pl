#!/usr/bin/perl
# caic's egress proxy: runs in a task container whose policy is not open, as the `caic-egress` user,
# the only user the container's packet filter lets open connections that leave the container (see
# entrypoint.sh and docs/security.md#network-egress). Perl with perl-base's modules only (Debian's
# essential Perl): it starts in ~10 ms, where Debian's Node took ~90 ms of CPU beside sshd's first
# session at every task start.
#
#   perl egress-proxy.pl <policy.json> <state dir> <proxy port> <trap port> <dns port>
#
# - proxy port (127.0.0.1, ::1): HTTP CONNECT and plain-HTTP forward proxy. The host name and port a
#   client asks for are checked against the allowlist before anything is resolved (a name that is
#   not allowed is never looked up: no DNS tunnel through the proxy); an IP literal passes only an
#   address or CIDR entry. Allowed names are resolved here, with the container's resolver. Each
#   connection is served by its own child process; a plain-HTTP request goes up with
#   `Connection: close`, and the connection is a byte pipe to that one allowed destination after.
# - trap port: the packet filter redirects every other TCP connection of the container's users here;
#   the original destination is read from /proc/net/tcp{,6} (the client's socket still names it),
#   counted, and the connection is reset.
# - dns port (UDP): every DNS query of the container's users lands here; the name is counted and
#   the query answered REFUSED at once (no resolver outside the proxy).
# Refusals are counted per host and port in <state dir>/blocked.json (written atomically), which
# the daemon reads over SSH.
use strict;
use warnings;
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use Socket qw(AF_INET AF_INET6 SOCK_STREAM SOCK_DGRAM SOL_SOCKET SO_REUSEADDR SO_LINGER SO_ERROR
  IPPROTO_IPV6 IPV6_V6ONLY IPPROTO_TCP AI_NUMERICHOST inet_pton inet_ntop getaddrinfo
  pack_sockaddr_in pack_sockaddr_in6 unpack_sockaddr_in unpack_sockaddr_in6 sockaddr_family);

my ($policy_path, $state_dir, $proxy_port, $trap_port, $dns_port) = @ARGV;
# Distinct destinations kept in the table; beyond, refusals count under one row.
my $MAX_ROWS = 256;
my $CONNECT_TIMEOUT = 15;
# A request head is read within this, up to HEAD_MAX bytes.
my $HEAD_TIMEOUT = 30;
my $HEAD_MAX = 64 * 1024;
$SIG{PIPE} = 'IGNORE';
# Children are never waited for: the kernel reaps them.
$SIG{CHLD} = 'IGNORE';

sub blocking {
  my ($s, $on) = @_;
  my $flags = fcntl($s, F_GETFL, 0) or return;
  fcntl($s, F_SETFL, $on ? $flags & ~O_NONBLOCK : $flags | O_NONBLOCK);
}

sub slurp {
  my ($path) = @_;
  open(my $fh, '<', $path) or return undef;
  local $/;
  my $text = <$fh>;
  close $fh;
  return $text;
}

# ---- addresses --------------------------------------------------------------------------------

# An address as [family, packed bytes]; IPv4-mapped IPv6 addresses count as IPv4. undef: not one.
sub addr {
  my ($ip) = @_;
  if (defined(my $v4 = inet_pton(AF_INET, $ip))) { return [4, $v4]; }
  my $v6 = $ip =~ /^[0-9a-f:.]+$/i ? inet_pton(AF_INET6, $ip) : undef;
  return undef unless defined $v6;
  return [4, substr($v6, 12)] if substr($v6, 0, 12) eq ("\0" x 10) . "\xff\xff";
  return [6, $v6];
}

sub addr_text {
  my ($a) = @_;
  return inet_ntop($a->[0] == 4 ? AF_INET : AF_INET6, $a->[1]);
}

# A host as asked for: lower case, no brackets, no trailing dot; an address in its one canonical text.
sub normal_host {
  my ($h) = @_;
  $h = lc($h);
  $h =~ s/^\s+|\s+$//g;
  $h =~ s/^\[//;
  $h =~ s/\]$//;
  $h =~ s/\.$//;
  my $a = addr($h);
  return $a ? addr_text($a) : $h;
}

# A host the proxy will look at: an address, or a DNS name of letters, digits, `-` and `_` whose
# labels are not all numbers (the resolver would read "0x7f.1" or "2130706433" as an address). No
# byte outside that set ever reaches the resolver: a NUL would cut the name short there.
sub host_ok {
  my ($h) = @_;
  return 1 if addr($h);
  return 0 unless length($h) <= 253 && $h =~ /^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*\z/;
  return !!grep { !/^(?:0x[0-9a-f]*|[0-9]+)\z/ } split /\./, $h;
}

# ---- the allowlist ----------------------------------------------------------------------------

# The policy the daemon wrote ({"mode": ..., "allow": [...]}, entries it checked): anything
# unreadable allows nothing.
my @entries;
{
  my $text = slurp($policy_path);
  die "caic egress: cannot read $policy_path\n" unless defined $text;
  my ($mode) = $text =~ /"mode"\s*:\s*"(\w+)"/;
  my ($list) = $text =~ /"allow"\s*:\s*\[([^\]]*)\]/;
  if (defined $mode && $mode eq 'allowlist' && defined $list) {
    for my $raw ($list =~ /"([^"\\]*)"/g) {
      my $e = lc($raw);
      $e =~ s/^\s+|\s+$//g;
      my ($host, $port) = ($e, undef);
      if ($e =~ /^\[([^\]]+)\](?::(\d+))?$/) { ($host, $port) = ($1, $2); }
      elsif (($e =~ tr/://) == 1) { ($host, $port) = split /:/, $e; }
      my @ports = defined $port ? ($port + 0) : (80, 443);
      my ($ip, $bits) = split m{/}, $host, 2;
      if (my $a = addr($ip)) {
        my $width = $a->[0] == 4 ? 32 : 128;
        $bits = defined $bits && $bits =~ /^\d+$/ && $bits <= $width ? $bits + 0 : $width;
        push @entries, { kind => 'cidr', family => $a->[0], bits => $bits, net => $a->[1], ports => \@ports };
      } elsif ($host =~ /^\*\.(.+)$/) {
        push @entries, { kind => 'name', name => $1, wildcard => 1, ports => \@ports };
      } else {
        push @entries, { kind => 'name', name => $host, wildcard => 0, ports => \@ports };
      }
    }
  }
}

# The first `bits` bits of two packed addresses agree (none to compare for /0: any address).
sub prefix_equal {
  my ($x, $y, $bits) = @_;
  return unpack("B$bits", $x) eq unpack("B$bits", $y);
}

sub allowed {
  my ($host, $port) = @_;
  my $a = addr($host);
  for my $e (@entries) {
    next unless grep { $_ == $port } @{ $e->{ports} };
    if ($a) {
      return 1 if $e->{kind} eq 'cidr' && $e->{family} == $a->[0] && prefix_equal($a->[1], $e->{net}, $e->{bits});
    } elsif ($e->{kind} eq 'name') {
      return 1 if $e->{wildcard} ? $host =~ /\.\Q$e->{name}\E\z/ : $host eq $e->{name};
    }
  }
  return 0;
}

# ---- the table of refusals (parent) ------------------------------------------------------------

my %rows;
my @order;
my $dirty = 0;
my $flush_at;

sub json_string {
  my ($s) = @_;
  $s =~ s/(["\\])/\\$1/g;
  $s =~ s/([\x00-\x1f\x7f])/sprintf('\\u%04x', ord($1))/ge;
  # Anything beyond ASCII as \u escapes of its bytes' Latin-1 reading: valid JSON whatever came in.
  $s =~ s/([\x80-\xff])/sprintf('\\u%04x', ord($1))/ge;
  return qq("$s");
}

sub iso_now {
  my @g = gmtime(time);
  return sprintf('%04d-%02d-%02dT%02d:%02d:%02d.000Z', $g[5] + 1900, $g[4] + 1, $g[3], $g[2], $g[1], $g[0]);
}

sub add_row {
  my ($host, $port, $count, $last) = @_;
  my $key = "$host\n$port";
  push @order, $key unless exists $rows{$key};
  $rows{$key} = { host => $host, port => $port, count => $count, lastAt => $last };
}

# A container that starts again (a revived task) keeps counting where it was.
if (defined(my $old = slurp("$state_dir/blocked.json"))) {
  while ($old =~ /\{"host":"((?:[^"\\]|\\.)*)","port":(\d+),"count":(\d+),"lastAt":"([^"\\]*)"\}/g) {
    last if @order >= $MAX_ROWS;
    my ($host, $port, $count, $last) = ($1, $2 + 0, $3 + 0, $4);
    $host =~ s/\\(?:u([0-9a-f]{4})|(.))/defined $1 ? chr(hex($1)) : $2/ge;
    add_row($host, $port, $count, $last);
  }
}

sub refused {
  my ($host, $port) = @_;
  my $key = "$host\n$port";
  if (!exists $rows{$key} && @order >= $MAX_ROWS) {
    ($host, $port, $key) = ('(other)', 0, "(other)\n0");
  }
  my $row = $rows{$key};
  add_row($host, $port, ($row ? $row->{count} : 0) + 1, iso_now());
  $dirty = 1;
  $flush_at //= time;
}

# Written once no refusal came for 50 ms (a burst is one write), and at least every second.
sub flush {
  undef $flush_at;
  return unless $dirty;
  $dirty = 0;
  my $json = '{"blocked":[' . join(',', map {
    my $r = $rows{$_};
    '{"host":' . json_string($r->{host}) . ',"port":' . $r->{port} . ',"count":' . $r->{count} . ',"lastAt":' . json_string($r->{lastAt}) . '}'
  } @order) . ']}';
  my $tmp = "$state_dir/blocked.json.tmp";
  open(my $fh, '>', $tmp) or return;
  print $fh $json;
  close $fh;
  chmod 0644, $tmp;
  rename $tmp, "$state_dir/blocked.json";
}

# ---- listening --------------------------------------------------------------------------------

sub listen_on {
  my ($family, $type, $host, $port) = @_;
  my $s;
  socket($s, $family == 4 ? AF_INET : AF_INET6, $type, 0) or return undef;
  setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
  setsockopt($s, IPPROTO_IPV6, IPV6_V6ONLY, 1) if $family == 6;
  my $sa = $family == 4 ? pack_sockaddr_in($port, inet_pton(AF_INET, $host)) : pack_sockaddr_in6($port, inet_pton(AF_INET6, $host));
  bind($s, $sa) or return undef;
  if ($type == SOCK_STREAM) { listen($s, 128) or return undef; }
  # Never blocks the loop: a connection reset between select and accept, a datagram gone.
  blocking($s, 0);
  return $s;
}

# Peer of a socket as [family, packed address, port].
sub peer {
  my ($s) = @_;
  my $sa = getpeername($s) or return undef;
  if (sockaddr_family($sa) == AF_INET) {
    my ($port, $ip) = unpack_sockaddr_in($sa);
    return [4, $ip, $port];
  }
  my ($port, $ip) = unpack_sockaddr_in6($sa);
  my $a = addr(inet_ntop(AF_INET6, $ip));
  return [$a->[0], $a->[1], $port];
}

# ---- the traps (parent) -----------------------------------------------------------------------

# `0100007F:1F90` (or the 32-hex-digit IPv6 form) of /proc/net/tcp as [family, packed, port].
sub proc_addr {
  my ($field) = @_;
  my ($hex, $p) = split /:/, $field;
  return undef unless defined $p && $hex =~ /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32})$/;
  # Each 32-bit word is in the host's (little-endian) order.
  my $packed = join '', map { scalar reverse pack('H8', substr($hex, $_ * 8, 8)) } 0 .. length($hex) / 8 - 1;
  my $a = addr(inet_ntop(length($packed) == 4 ? AF_INET : AF_INET6, $packed));
  return [$a->[0], $a->[1], hex($p)];
}

# The destination a redirected connection from `peer` was meant for, from the client socket's own entry.
sub original_destination {
  my ($peer) = @_;
  for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
    my $text = slurp($file);
    next unless defined $text;
    my @lines = split /\n/, $text;
    shift @lines;
    for my $line (@lines) {
      my @cols = split ' ', $line;
      next if @cols < 3;
      my $local = proc_addr($cols[1]) or next;
      next unless $local->[2] == $peer->[2] && $local->[0] == $peer->[0] && $local->[1] eq $peer->[1];
      my $remote = proc_addr($cols[2]) or next;
      return [addr_text($remote), $remote->[2]];
    }
  }
  return undef;
}

sub trap {
  my ($listener) = @_;
  accept(my $c, $listener) or return;
  blocking($c, 1);
  my $peer = peer($c);
  my $dest = $peer ? original_destination($peer) : undef;
  refused($dest ? normal_host($dest->[0]) : '(unknown)', $dest ? $dest->[1] : 0);
  # Linger 0: the close resets the connection.
  setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
  close $c;
}

# The name a DNS query asks for, and where its question ends; undef when it is not one.
sub query_name {
  my ($msg) = @_;
  my $len = length $msg;
  return undef if $len < 17;
  my @labels;
  my $i = 12;
  while ($i < $len && ord(substr($msg, $i, 1)) != 0) {
    my $n = ord(substr($msg, $i, 1));
    return undef if $n > 63 || $i + 1 + $n > $len;
    push @labels, substr($msg, $i + 1, $n);
    $i += 1 + $n;
  }
  my $name = lc(join '.', @labels);
  return $name =~ /^[a-z0-9_.-]{1,253}$/ ? [$name, $i + 5] : undef;
}

sub dns_trap {
  my ($s) = @_;
  my $from = recv($s, my $msg, 4096, 0);
  return unless defined $from;
  my $q = query_name($msg);
  # A lookup: port 0 in the table (the name, not a connection, was asked for).
  refused($q ? $q->[0] : '(dns)', 0);
  return if !$q || $q->[1] > length $msg;
  my $reply = substr($msg, 0, $q->[1]);
  my $flags = ord(substr($msg, 2, 1));
  substr($reply, 2, 1) = chr(0x80 | ($flags & 0x78) | ($flags & 0x01)); # QR, opcode, RD
  substr($reply, 3, 1) = chr(0x05);                                     # REFUSED
  substr($reply, 4, 8) = pack('n', 1) . ("\0" x 6);
  send($s, $reply, 0, $from);
}

# ---- serving one proxy client (child) ---------------------------------------------------------

my $report; # the child's end of the pipe to the parent's table

sub child_refused {
  my ($host, $port) = @_;
  $host =~ s/[\t\n]/ /g;
  syswrite($report, "$host\t$port\n");
}

sub write_all {
  my ($s, $data) = @_;
  while (length $data) {
    my $n = syswrite($s, $data);
    return 0 unless $n;
    substr($data, 0, $n) = '';
  }
  return 1;
}

sub respond {
  my ($c, $status, $body) = @_;
  write_all($c, "HTTP/1.1 $status\r\ncontent-type: text/plain\r\ncontent-length: " . length($body) . "\r\nconnection: close\r\n\r\n$body");
  close $c;
  exit 0;
}

sub refuse_text {
  my ($host, $port) = @_;
  return 'caic egress: ' . ($host =~ /:/ ? "[$host]" : $host) . ":$port is not in this task's allowlist\n";
}

# A connected socket to an allowed host (its addresses in turn), or an error text.
sub dial {
  my ($host, $port) = @_;
  my ($err, @res) = getaddrinfo($host, $port, { socktype => SOCK_STREAM, (addr($host) ? (flags => AI_NUMERICHOST) : ()) });
  return (undef, "$err") if $err;
  my $last = "$host has no address";
  for my $r (@res) {
    my $s;
    socket($s, $r->{family}, SOCK_STREAM, 0) or next;
    # Non-blocking connect, bounded by CONNECT_TIMEOUT.
    blocking($s, 0);
    if (!connect($s, $r->{addr}) && !$!{EINPROGRESS}) {
      $last = "$!";
      next;
    }
    my $w = '';
    vec($w, fileno($s), 1) = 1;
    if (!select(undef, my $wout = $w, undef, $CONNECT_TIMEOUT)) {
      $last = "connecting timed out";
      next;
    }
    my $e = unpack('i', getsockopt($s, SOL_SOCKET, SO_ERROR));
    if ($e) {
      $last = do { local $! = $e; "$!" };
      next;
    }
    blocking($s, 1);
    setsockopt($s, IPPROTO_TCP, 1, 1); # TCP_NODELAY
    return ($s, undef);
  }
  return (undef, $last);
}

# Bytes both ways until both sides are done.
sub pipe_both {
  my ($a, $b) = @_;
  my %other = (fileno($a) => $b, fileno($b) => $a);
  my %open = (fileno($a) => $a, fileno($b) => $b);
  while (%open) {
    my $r = '';
    vec($r, $_, 1) = 1 for keys %open;
    my $n = select(my $ready = $r, undef, undef, undef);
    next if $n < 0 && $!{EINTR};
    last if $n < 0;
    for my $fd (keys %open) {
      next unless vec($ready, $fd, 1);
      my $got = sysread($open{$fd}, my $buf, 65536);
      if (!$got) {
        # EOF (or an error): the other side is told, and this one is no longer read.
        shutdown($other{$fd}, 1);
        delete $open{$fd};
        return unless defined $got; # a reset: both go
        next;
      }
      return unless write_all($other{$fd}, $buf);
    }
  }
}

my %HOP = map { $_ => 1 } qw(connection keep-alive proxy-connection proxy-authorization proxy-authenticate te trailer upgrade);

sub serve {
  my ($c) = @_;
  # The head, within HEAD_TIMEOUT and HEAD_MAX.
  local $SIG{ALRM} = sub { exit 0 };
  alarm $HEAD_TIMEOUT;
  my $buf = '';
  while (index($buf, "\r\n\r\n") < 0) {
    respond($c, '431 Request Header Fields Too Large', "caic egress: request head too large\n") if length $buf > $HEAD_MAX;
    my $n = sysread($c, $buf, 65536, length $buf);
    exit 0 unless $n;
  }
  alarm 0;
  my $end = index($buf, "\r\n\r\n");
  respond($c, '431 Request Header Fields Too Large', "caic egress: request head too large\n") if $end > $HEAD_MAX;
  my $head = substr($buf, 0, $end);
  my $rest = substr($buf, $end + 4);
  my ($line, @fields) = split /\r\n/, $head;
  $line //= '';
  my ($method, $target) = $line =~ m{^([A-Za-z]+) (\S+) HTTP/1\.[01]$} or respond($c, '400 Bad Request', "caic egress: not an HTTP/1 request\n");

  if (uc($method) eq 'CONNECT') {
    my ($h, $p) = $target =~ /^\[([^\]]+)\]:(\d{1,5})$/ ? ($1, $2) : $target =~ /^([^:\[\]]+):(\d{1,5})$/ ? ($1, $2) : ();
    respond($c, '400 Bad Request', "caic egress: CONNECT needs host:port\n") unless defined $p && $p >= 1 && $p <= 65535;
    my ($host, $port) = (normal_host($h), $p + 0);
    respond($c, '400 Bad Request', "caic egress: not a host name\n") unless host_ok($host);
    if (!allowed($host, $port)) {
      child_refused($host, $port);
      respond($c, '403 Forbidden', refuse_text($host, $port));
    }
    my ($up, $err) = dial($host, $port);
    respond($c, '502 Bad Gateway', "caic egress: cannot reach $host:$port: $err\n") unless $up;
    write_all($c, "HTTP/1.1 200 Connection Established\r\n\r\n") or exit 0;
    write_all($up, $rest) or exit 0 if length $rest;
    pipe_both($c, $up);
    exit 0;
  }

  # An absolute http:// URL: its host and port are checked, the request goes up in origin form.
  my ($authority, $path) = $target =~ m{^http://([^/?#]*)([^#]*)}i
    or respond($c, '400 Bad Request', "caic egress: this is a forward proxy; send absolute http:// URLs, or CONNECT for anything else\n");
  $authority =~ s/^.*\@//;
  my ($h, $p) = $authority =~ /^\[([^\]]+)\](?::(\d*))?$/ ? ($1, $2) : $authority =~ /^([^:\[\]]+)(?::(\d*))?$/ ? ($1, $2) : ();
  respond($c, '400 Bad Request', "caic egress: cannot read the host of $target\n") unless defined $h && length $h;
  $p = 80 if !defined $p || $p eq '';
  respond($c, '400 Bad Request', "caic egress: bad port in $target\n") unless $p >= 1 && $p <= 65535;
  my ($host, $port) = (normal_host($h), $p + 0);
  respond($c, '400 Bad Request', "caic egress: not a host name\n") unless host_ok($host);
  if (!allowed($host, $port)) {
    child_refused($host, $port);
    respond($c, '403 Forbidden', refuse_text($host, $port));
  }
  $path = "/$path" unless $path =~ m{^/};
  my $upgrade = grep { /^upgrade\s*:/i } @fields;
  # A WebSocket (or other upgrade) keeps its head as it came, minus the proxy's own fields; anything
  # else loses the hop-by-hop fields and asks the server to close after its answer.
  my @keep = $upgrade ? grep { !/^proxy-/i } @fields : grep { my ($k) = /^([^:]+):/; !defined $k || !$HOP{ lc($k =~ s/\s+$//r) } } @fields;
  push @keep, 'Connection: close' unless $upgrade;
  my ($up, $err) = dial($host, $port);
  respond($c, '502 Bad Gateway', "caic egress: cannot reach $host:$port: $err\n") unless $up;
  write_all($up, join("\r\n", "$method $path HTTP/1.1", @keep) . "\r\n\r\n" . $rest) or exit 0;
  pipe_both($c, $up);
  exit 0;
}

# ---- start ------------------------------------------------------------------------------------

my $proxy4 = listen_on(4, SOCK_STREAM, '127.0.0.1', $proxy_port);
my $trap4 = listen_on(4, SOCK_STREAM, '127.0.0.1', $trap_port);
if (!$proxy4 || !$trap4) {
  print STDERR "caic egress: cannot listen on 127.0.0.1: $!\n";
  exit 1;
}
# IPv6 loopback may be off in the container: then there is nothing to serve there.
my $proxy6 = listen_on(6, SOCK_STREAM, '::1', $proxy_port);
my $trap6 = listen_on(6, SOCK_STREAM, '::1', $trap_port);
my @dns = grep { $_ } (listen_on(4, SOCK_DGRAM, '127.0.0.1', $dns_port), listen_on(6, SOCK_DGRAM, '::1', $dns_port));
pipe(my $from_children, $report) or die "caic egress: pipe: $!\n";
my $reports = '';

my %handler;
for my $l (grep { $_ } $proxy4, $proxy6) {
  $handler{ fileno($l) } = sub {
    accept(my $c, $l) or return;
    blocking($c, 1);
    my $pid = fork;
    if (!defined $pid) {
      close $c; # no process to serve it (the pids limit): the client sees the close
      return;
    }
    if ($pid == 0) {
      # What a hostile client provokes is not worth a line in the log.
      $SIG{__WARN__} = sub { };
      close $_ for grep { $_ } $proxy4, $proxy6, $trap4, $trap6, @dns, $from_children;
      setsockopt($c, IPPROTO_TCP, 1, 1); # TCP_NODELAY
      serve($c);
      exit 0;
    }
    close $c;
  };
}
for my $l (grep { $_ } $trap4, $trap6) {
  $handler{ fileno($l) } = sub { trap($l) };
}
for my $s (@dns) {
  $handler{ fileno($s) } = sub { dns_trap($s) };
}
$handler{ fileno($from_children) } = sub {
  my $n = sysread($from_children, $reports, 65536, length $reports);
  return unless $n;
  while ((my $nl = index($reports, "\n")) >= 0) {
    my ($host, $port) = split /\t/, substr($reports, 0, $nl);
    substr($reports, 0, $nl + 1) = '';
    refused($host, ($port // 0) + 0) if defined $host && length $host;
  }
};

$dirty = 1;
flush();
{
  open(my $fh, '>', "$state_dir/ready") or die "caic egress: cannot write $state_dir/ready: $!\n";
  print $fh "$$\n";
  close $fh;
}

my $all = '';
vec($all, $_, 1) = 1 for keys %handler;
while (1) {
  my $n = select(my $ready = $all, undef, undef, defined $flush_at ? 0.05 : undef);
  if ($n > 0) {
    for my $fd (keys %handler) {
      $handler{$fd}->() if vec($ready, $fd, 1);
    }
  }
  flush() if defined $flush_at && ($n == 0 || time > $flush_at);
}
