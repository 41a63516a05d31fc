// Who may open a connection and how many may be open: the Origin check on the WebSocket upgrade
// and CORS on /graphql (one allow-list, CORS_ORIGINS), the caps on connections and on operations
// per WebSocket, and the file-descriptor budget the caps must fit in.
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type Server as HttpServer, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError } from 'graphql';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../support/logger';

export interface ConnectionLimits {
  /** Open TCP connections of all kinds (HTTP and WebSocket); more are dropped on accept. */
  maxConnections: number;
  /** Open WebSockets; below maxConnections, so plain HTTP (/healthz, /readyz) always has room. */
  maxWsConnections: number;
  /** Operations (mostly subscriptions) running at once on one WebSocket. */
  maxSubscriptionsPerConnection: number;
}

/**
 * File descriptors left for everything but client sockets: storage files, Redis, stdio, DNS.
 * A PostgreSQL pool adds its own size on top.
 */
const RESERVED_FDS = 256;

/** How long a browser may reuse a preflight's answer. */
const PREFLIGHT_MAX_AGE_S = 600;

export interface GuardOptions {
  corsOrigins: readonly string[];
  connections: ConnectionLimits;
  /** Connections of this instance's PostgreSQL pool: files the client sockets cannot have. */
  poolSize?: number;
  log: Logger;
}

/** The one gate every connection passes: caps, the upgrade decision, CORS and the per-socket operation cap. */
export class ConnectionGuard {
  /** The caps in force: the configured ones, lowered if the open-file limit has no room for them. */
  readonly limits: ConnectionLimits;
  private readonly origins: OriginPolicy;
  private readonly refusals: RefusalLog;

  constructor(opts: GuardOptions) {
    this.origins = new OriginPolicy(opts.corsOrigins);
    this.refusals = new RefusalLog(opts.log);
    const fileLimit = openFileLimit();
    this.limits = fitToFileLimit(opts.connections, fileLimit, opts.poolSize);
    if (this.limits !== opts.connections) opts.log.warn('connection caps lowered to fit the open-file limit', { ...this.limits, openFileLimit: fileLimit });
  }

  /**
   * Caps the server's connections, and decides each upgrade before ws answers it: a refusal is a
   * plain HTTP status, and no WebSocket (nor graphql-ws state) exists for a client that may not
   * have one. `wsServer` must be in noServer mode.
   */
  attach(httpServer: HttpServer, wsServer: WebSocketServer): void {
    const { maxConnections, maxWsConnections } = this.limits;
    httpServer.maxConnections = maxConnections;
    httpServer.on('drop', () => this.refusals.note('connection dropped: MAX_CONNECTIONS reached', { max: maxConnections }));
    httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.origins.allowsUpgrade(req)) {
        this.refusals.note('WebSocket refused: foreign origin', { origin: req.headers.origin });
        return refuseUpgrade(socket, 403, 'origin not allowed');
      }
      if (wsServer.clients.size >= maxWsConnections) {
        this.refusals.note('WebSocket refused: MAX_WS_CONNECTIONS reached', { max: maxWsConnections });
        return refuseUpgrade(socket, 503, 'too many WebSocket connections');
      }
      wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
    });
  }

  /** See OriginPolicy.cors. */
  cors(req: IncomingMessage, res: ServerResponse): boolean {
    return this.origins.cors(req, res);
  }

  /** The refusal for an operation on a socket that would then run `running` of them, or null. */
  operationRefusal(running: number): GraphQLError | null {
    return running > this.limits.maxSubscriptionsPerConnection ? tooManyOperations(this.limits.maxSubscriptionsPerConnection) : null;
  }
}

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

class OriginPolicy {
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
function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  // Node stops watching an upgrade socket for errors; a client that resets mid-answer must not crash us.
  socket.on('error', () => socket.destroy());
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
  );
}

/** The soft limit on open files (what accept() runs into), where the platform tells it (Linux). */
export function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * The caps, lowered when the process may not open that many files: past the limit accept()
 * fails and even /healthz goes unanswered, which is what the caps exist to prevent. Both shrink
 * in proportion, so HTTP keeps its share of room next to the WebSockets.
 */
export function fitToFileLimit(limits: ConnectionLimits, fileLimit: number | null, poolSize = 0): ConnectionLimits {
  const budget = fileLimit === null ? Infinity : fileLimit - RESERVED_FDS - poolSize;
  if (limits.maxConnections <= budget) return limits;
  const maxConnections = Math.max(2, budget);
  const maxWsConnections = Math.max(1, Math.min(maxConnections - 1, Math.floor((limits.maxWsConnections * maxConnections) / limits.maxConnections)));
  return { ...limits, maxConnections, maxWsConnections };
}

/**
 * The refusal of one operation too many on a WebSocket: an error for that operation alone, which
 * graphql-ws clients hand to that subscription's sink. Closing the socket instead would end every
 * other subscription on it, and a client that reconnects and resubscribes would loop.
 */
function tooManyOperations(max: number): GraphQLError {
  return new GraphQLError(
    `this WebSocket already runs ${max} operations (MAX_SUBSCRIPTIONS_PER_CONNECTION); complete one first, or open another connection`,
    { extensions: { code: 'RATE_LIMITED', limit: max } },
  );
}

/**
 * Logs refusals of one kind at most once per interval, with how many there were: under the load
 * that causes them, one line per refusal would add to the load.
 */
class RefusalLog {
  private readonly last = new Map<string, { at: number; count: number }>();

  constructor(private readonly log: Logger, private readonly everyMs = 10_000) {}

  note(reason: string, fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    const seen = this.last.get(reason);
    if (seen && now - seen.at < this.everyMs) {
      seen.count++;
      return;
    }
    this.log.warn(reason, { ...fields, refusedSinceLastLog: (seen?.count ?? 0) + 1 });
    this.last.set(reason, { at: now, count: 0 });
  }
}
