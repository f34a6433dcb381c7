/** NATS_URL as the server, its threads and the CLI read it and show it. */

/** NATS_URL's servers: a comma-separated list (a cluster's nodes). */
export function natsServers(url: string): string[] {
  return url.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The servers as they may be shown (/ready, logs, messages): any user, password or token taken out. */
export function shownServers(servers: readonly string[]): string {
  return servers.map((server) => server.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?)[^@/]*@/i, '$1')).join(',');
}
