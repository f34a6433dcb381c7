/**
 * The debug endpoints (send a memo, read the Kakao token's state) are for operators with curl,
 * never for web pages: they send no CORS headers, and refuse a browser request made from
 * another site, whatever BACKEND_CORS_ORIGINS allows elsewhere.
 */
import { AppError } from '../common/errors.js';

/**
 * Throws 403 for a request that a browser made from another site: `Sec-Fetch-Site: cross-site`,
 * or an Origin whose host is not the request's Host. Without those headers (curl, agents) it passes.
 */
export function assertSameOrigin(origin: string, host: string, fetchSite: string): void {
  if (fetchSite.toLowerCase() === 'cross-site' || (origin && !sameHost(origin, host))) {
    throw new AppError('cross_site', 'this endpoint does not serve requests from web pages of another origin');
  }
}

/** Whether `origin` ("null" included, for opaque origins) names the host in the Host header. */
function sameHost(origin: string, host: string): boolean {
  try {
    const { protocol, host: originHost } = new URL(origin);
    // The Host header read with the origin's scheme drops the same default port the origin drops.
    return host !== '' && new URL(`${protocol}//${host}`).host === originHost;
  } catch {
    return false;
  }
}
