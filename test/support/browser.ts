/**
 * A real browser for tests: the system's Chromium (Debian: `apt-get install chromium`) driven by
 * playwright-core, headless, with a fresh profile per launch. Playwright never downloads a browser.
 * Where no Chromium is installed a browser test is skipped with one line saying how to get it —
 * unless CI_REQUIRE_BROWSER=1 or CI=true, where a missing browser fails the test.
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { BrowserContext, Page } from 'playwright-core';

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';

export const INSTALL_HINT = 'no Chromium found: install it with `apt-get install chromium` (or set CHROMIUM_PATH)';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome'];

/** Flags for a quiet, self-contained headless run: no GPU, no sandbox (containers), and none of
 * Chromium's own background traffic (updates, sync, field trials), so every request is the page's. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-proxy-server',
] as const;

/** The Chromium executable: CHROMIUM_PATH, else the usual system paths; null when there is none. */
export function findChromium(): string | null {
  const configured = process.env.CHROMIUM_PATH;
  for (const path of configured ? [configured] : CANDIDATES) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      /* try the next */
    }
  }
  return null;
}

/** CI sets CI=true; CI_REQUIRE_BROWSER=1 asks the same anywhere. */
export function browserRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI_REQUIRE_BROWSER === '1' || env.CI === 'true' || env.CI === '1';
}

export interface LaunchOptions {
  /** Host names to resolve to an address, e.g. { 'behavior.example': '127.0.0.1' }: a page can be
   * opened under a real-looking name while the server listens on loopback. */
  hosts?: Record<string, string>;
  /** More Chromium flags. */
  args?: readonly string[];
  /** The browser's language (navigator.language, Accept-Language), e.g. 'ko-KR'. */
  locale?: string;
}

/**
 * A browser context with a fresh profile in a temp dir, closed and removed at the end of `t`.
 * Null when Chromium is missing: the test is then skipped (plan 0 with the install hint), or failed
 * where a browser is required.
 */
export async function launchBrowser(t: Test, options: LaunchOptions = {}) {
  const executablePath = findChromium();
  if (!executablePath) {
    if (browserRequired()) t.fail(`${INSTALL_HINT} (a browser is required here: CI_REQUIRE_BROWSER=1 or CI=true)`);
    else t.plan(0, INSTALL_HINT);
    return null;
  }
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'browser-test-'));
  const rules = Object.entries(options.hosts ?? {}).map(([host, address]) => `MAP ${host} ${address}`);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(rules.length ? [`--host-resolver-rules=${rules.join(', ')}`] : []), ...(options.args ?? [])],
    timeout: 60_000,
    ...(options.locale ? { locale: options.locale } : {}),
  }).catch((err: unknown) => {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  });
  // Generous: the test machines are shared, and a wait that ends early fails rather than passes.
  context.setDefaultTimeout(60_000);
  t.teardown(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

/** What a page did: every request the context made, script errors, and what the Content-Security-Policy blocked. */
export interface PageRecord {
  page: Page;
  requests: string[];
  pageErrors: string[];
  /** The policy violations reported in the page so far (`directive blocked-uri`). */
  cspViolations(): Promise<string[]>;
}

/** Opens a page in `context` that records its requests, its script errors and its policy violations. */
export async function recordedPage(context: BrowserContext): Promise<PageRecord> {
  const requests: string[] = [];
  context.on('request', (request) => requests.push(request.url()));
  await context.addInitScript(() => {
    const page = globalThis as unknown as ViolationLog;
    page.cspViolations = [];
    page.document.addEventListener('securitypolicyviolation', (e) => page.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  return { page, requests, pageErrors, cspViolations: () => page.evaluate(() => (globalThis as unknown as ViolationLog).cspViolations) };
}

/** What the init script keeps in the page (the tests are compiled without the DOM types). */
interface ViolationLog {
  cspViolations: string[];
  document: { addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string }) => void): void };
}
