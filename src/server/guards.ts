// Who may open a connection: the Origin check on the WebSocket upgrade and CORS on /graphql,
// both from one allow-list (CORS_ORIGINS), and the plain-HTTP refusal of an upgrade.
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** How long a browser may reuse a preflight's answer. */
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * The origin a browser would send for `text` (scheme, host, port; default port left out), or
 * null when `text` is not a bare http(s) origin: a path, query or user name is a mistake in a list
 * of origins, not something to match loosely.
 */
export function browserOrigin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  const bare = url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
  return (url.protocol === 'http:' || url.protocol === 'https:') && bare ? url.origin : null;
}

export class OriginPolicy {
  private readonly listed: ReadonlySet<string>;

  /** `corsOrigins` as browserOrigin() gives them. */
  constructor(corsOrigins: readonly string[]) {
    this.listed = new Set(corsOrigins);
  }

  /**
   * Same-origin and listed pages may open a WebSocket; other pages may not. CORS does not cover
   * WebSockets, and Apollo's CSRF check only sees HTTP, so without this any page a user visits
   * could run mutations (even `shutdown`) through their browser. Browsers always send Origin on a
   * handshake; a client without one is not a browser, so no stranger's page is behind it.
   */
  allowsUpgrade(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    return origin === undefined || this.listed.has(origin) || sameHost(origin, req.headers.host);
  }

  /**
   * CORS on /graphql for the listed origins. Answers a preflight itself (true); otherwise adds
   * the headers a listed origin needs and leaves the request to GraphQL (false). Other origins
   * get no CORS headers, so their pages cannot read answers or send JSON bodies.
   */
  cors(req: IncomingMessage, res: ServerResponse): boolean {
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!preflight && this.listed.size === 0) return false;
    const origin = req.headers.origin;
    res.setHeader('Vary', preflight ? 'Origin, Access-Control-Request-Headers' : 'Origin');
    const allowed = origin !== undefined && this.listed.has(origin);
    if (allowed) res.setHeader('Access-Control-Allow-Origin', origin);
    if (!preflight) return false;
    if (allowed) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
      const asked = req.headers['access-control-request-headers'];
      if (asked) res.setHeader('Access-Control-Allow-Headers', asked);
      res.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S));
    }
    res.statusCode = 204;
    res.end();
    return true;
  }
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** Answers an upgrade request with a plain HTTP error before any WebSocket exists, and closes it. */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  // Node stops watching an upgrade socket for errors; a client that resets mid-answer must not crash us.
  socket.on('error', () => socket.destroy());
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
  );
}
