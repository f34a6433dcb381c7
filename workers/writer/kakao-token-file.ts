/**
 * The Kakao token file: where refreshed tokens survive a restart. Written atomically (temporary
 * file, fsync, rename, fsync of the folder) so a crash leaves the old file or the new, never half.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

/** It records which environment tokens it descends from, so tokens set after a fresh login win over it. */
export interface TokenFile {
  version: 1;
  access_token: string | null;
  access_token_expires_at: string | null;
  refresh_token: string;
  refresh_token_expires_at: string | null;
  env_refresh_token_sha256: string | null;
  env_access_token_sha256: string | null;
  saved_at: string;
}

/** The file's tokens, or null when there is none or it is unusable (reported). */
export function readTokenFile(path: string, logger: Logger): TokenFile | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') logger.warn({ path, code }, 'cannot read the Kakao token file; using the environment');
    return null;
  }
  try {
    const file = JSON.parse(text) as TokenFile;
    if (typeof file.refresh_token === 'string' && file.refresh_token) return file;
  } catch {
    // reported below
  }
  logger.warn({ path }, 'the Kakao token file is not valid; using the environment');
  return null;
}

/** Saves atomically with mode 0600; a failure is logged (the tokens stay in memory), never thrown. */
export function saveTokenFile(path: string, file: TokenFile, logger: Logger): void {
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
