/**
 * Binding the listen socket. uWebSockets.js sets SO_REUSEPORT on every fixed port unless told
 * otherwise, so a second server started on a port already served would silently share it (and
 * the kernel would split connections between two processes with two event logs). Here the port
 * is exclusive unless sharing is asked for, and a refusal says why in one line.
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';

/** uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT: no SO_REUSEPORT. (The typings lack the host + options form.) */
const LISTEN_EXCLUSIVE_PORT = 1;
const LISTEN_DEFAULT = 0;

type ListenWithOptions = (host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void) => unknown;

/** Listens on host:port; rejects with a one-line reason (e.g. "port 8000 is already in use"). */
export function listenOn(app: TemplatedApp, host: string, port: number, sharePort: boolean): Promise<us_listen_socket> {
  const listen = (app.listen as unknown as ListenWithOptions).bind(app);
  return new Promise((resolve, reject) => {
    listen(host, port, sharePort ? LISTEN_DEFAULT : LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (socket) return resolve(socket);
      // uWS reports only "false": ask the kernel again through node:net to learn the reason.
      void whyCannotListen(host, port).then((reason) => reject(new Error(reason)));
    });
  });
}

async function whyCannotListen(host: string, port: number): Promise<string> {
  return probePort(host, port).then(() => `cannot listen on ${host}:${port}`, (err: Error) => err.message);
}

/**
 * Binds host:port for a moment and lets it go: resolves with the port (a free one when `port` is 0),
 * or rejects with a one-line reason it cannot be listened on.
 */
export async function probePort(host: string, port: number): Promise<number> {
  // Whoever connects meanwhile (a client retrying a port that was another server's) is let go at
  // once: close() waits for every connection to end, and one that waits for the server to speak first never would.
  const probe = createServer((socket) => socket.destroy());
  const outcome = await new Promise<{ port: number } | { code: string | null }>((resolve) => {
    probe.once('error', (err: NodeJS.ErrnoException) => resolve({ code: err.code ?? null }));
    probe.listen({ host, port, exclusive: true }, () => {
      const bound = (probe.address() as AddressInfo).port;
      probe.close(() => resolve({ port: bound }));
    });
  });
  if ('port' in outcome) return outcome.port;
  switch (outcome.code) {
    case 'EADDRINUSE':
      throw new Error(`port ${port} is already in use`);
    case 'EACCES':
      throw new Error(`port ${port} needs privileges this process does not have`);
    case 'EADDRNOTAVAIL':
      throw new Error(`BACKEND_HOST: ${host} is not an address of this machine`);
    default:
      throw new Error(`cannot listen on ${host}:${port}${outcome.code ? ` (${outcome.code})` : ''}`);
  }
}

/** Random ports tried below the ephemeral range before settling for one from it. */
const SHARED_PORT_TRIES = 20;

/**
 * A free port for processes that bind it after this one has let it go (BACKEND_PROCESSES with
 * port 0). Taken below the kernel's ephemeral range where there is room: in the seconds before the
 * processes bind it, a port from that range can be handed to any outgoing connection or port-0
 * listener on the host, and then none of the processes could listen on it.
 */
export async function pickSharedPort(host: string): Promise<number> {
  const ephemeralStart = ephemeralPortsStart();
  if (ephemeralStart !== null) {
    const lowest = Math.max(1024, Math.floor(ephemeralStart / 2));
    for (let tries = 0; tries < SHARED_PORT_TRIES && ephemeralStart - lowest >= 1024; tries++) {
      const port = lowest + Math.floor(Math.random() * (ephemeralStart - lowest));
      const picked = await probePort(host, port).catch(() => null); // in use: another
      if (picked !== null) return picked;
    }
  }
  return probePort(host, 0);
}

/** The first port of the kernel's ephemeral range (Linux), else null. */
export function ephemeralPortsStart(): number | null {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 0 ? start : null;
  } catch {
    return null;
  }
}
