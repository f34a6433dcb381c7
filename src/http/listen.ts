/**
 * Binding the listen socket. uWebSockets.js sets SO_REUSEPORT on every fixed port unless told
 * otherwise, so a second server started on a port already served would silently share it (and
 * the kernel would split connections between two processes with two event logs). Here the port
 * is exclusive unless sharing is asked for, and a refusal says why in one line.
 */
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
  const probe = createServer();
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
