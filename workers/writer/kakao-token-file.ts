/**
 * The Kakao token file: where refreshed tokens survive a restart (the file event store's token
 * store). Written atomically (temporary file, fsync, rename, fsync of the folder) so a crash
 * leaves the old file or the new, never half.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { RefreshTurn, SavedTokens, TokenStore } from './kakao-token-store.js';

/** One process's tokens: read at start, written after each refresh; nobody else refreshes them. */
export class TokenFileStore implements TokenStore {
  readonly source = 'file';
  private readonly path: string;
  private readonly logger: Logger;

  constructor(path: string, logger: Logger) {
    this.path = path;
    this.logger = logger;
  }

  saved(): SavedTokens | null {
    return readTokenFile(this.path, this.logger);
  }

  async seed(): Promise<null> {
    return null;
  }

  async takeTurn(): Promise<RefreshTurn> {
    return {
      saved: null,
      save: async (tokens) => {
        saveTokenFile(this.path, tokens, this.logger);
        return null;
      },
      release: async () => {},
    };
  }

  follow(): void {}

  async close(): Promise<void> {}
}

/** The file's tokens, or null when there is none or it is unusable (reported). */
function readTokenFile(path: string, logger: Logger): SavedTokens | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') logger.warn({ path, code }, 'cannot read the Kakao token file; using the environment');
    return null;
  }
  try {
    const file = JSON.parse(text) as SavedTokens;
    if (typeof file.refresh_token === 'string' && file.refresh_token) return file;
  } catch {
    // reported below
  }
  logger.warn({ path }, 'the Kakao token file is not valid; using the environment');
  return null;
}

/** Saves atomically with mode 0600; a failure is logged (the tokens stay in memory), never thrown. */
function saveTokenFile(path: string, file: SavedTokens, logger: Logger): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch (err) {
    rmSync(temp, { force: true });
    logger.error({ path, code: (err as NodeJS.ErrnoException).code }, 'cannot save the Kakao tokens; a rotated refresh token would be lost on restart');
  }
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
