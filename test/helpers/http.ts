// A plain node:http client for tests: full control over Host, Origin and cookies, no redirects followed.
import { request } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = unknown>(): T;
  /** Set-Cookie headers as an array (possibly empty). */
  setCookies: string[];
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export function http(url: string, opts: HttpOptions = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const sc = res.headers['set-cookie'];
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: <T>() => JSON.parse(body) as T,
          setCookies: Array.isArray(sc) ? sc : sc ? [sc] : [],
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** name=value of a Set-Cookie line (for sending it back). */
export function cookiePair(setCookie: string): string {
  return setCookie.split(';')[0]!;
}

/** Attributes of a Set-Cookie line, lower-cased names → value ('' for flags). */
export function cookieAttributes(setCookie: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of setCookie.split(';').slice(1)) {
    const [k, ...v] = part.trim().split('=');
    out[k!.toLowerCase()] = v.join('=');
  }
  return out;
}
