// Fixed address ranges of the built-in origins. Anthropic's published outbound ranges are kept here,
// in one place, with their source: update them when https://platform.claude.com/docs/en/api/ip-addresses changes.

/** Loopback, RFC 1918, IPv6 ULA, link-local and unspecified addresses. */
export const LOCAL_CIDRS = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '0.0.0.0/32',
  '::1/128',
  '::/128',
  'fc00::/7',
  'fe80::/10',
];

/** Tailscale's CGNAT block and its IPv6 ULA prefix (which lies inside fc00::/7; the longer match wins). */
export const TAILSCALE_CIDRS = ['100.64.0.0/10', 'fd7a:115c:a1e0::/48'];

/**
 * Anthropic's outbound IP ranges: requests Claude (e.g. remote MCP connectors) makes to your
 * server come from these. Source: https://platform.claude.com/docs/en/api/ip-addresses, "Outbound IP
 * addresses" (checked 2026-11-22; the old 34.162.x.x/32 addresses are phased out).
 */
export const ANTHROPIC_CIDRS = ['160.79.104.0/21'];
