/**
 * /docs as people use it: Swagger UI in a real Chromium, opened under a host name that is not
 * localhost (Swagger UI treats localhost specially), must reach nothing outside the server, and its
 * "Try it out" examples must be requests the server accepts.
 */
import t, { type Test } from 'tap';
import { startTestServer } from './support/server.js';
import { launchBrowser, recordedPage } from './support/browser.js';

const HOST = 'behavior.example';

/** What the functions run in the page use of it (the tests are compiled without the DOM types). */
interface PageGlobal {
  document: { querySelectorAll(selector: string): { length: number } };
}

t.test('/docs', async (t) => {
  const { url, port, client } = await startTestServer(t);
  const openApi = (await client.get(`/openapi.json`)).json;
  const schemas = openApi.components.schemas;
  const example = (t: Test, name: string) => {
    const examples = schemas[name].examples;
    t.ok(Array.isArray(examples) && examples.length > 0, `${name} has an example`);
    return examples?.[0];
  };

  t.test('every request example in /openapi.json is accepted', async (t) => {
    const analyze = await client.post(`/behavior/analyze`, example(t, 'AnalyzeRequest'));
    t.equal(analyze.status, 200, 'the analyze example is a whole window in the model\'s shape');
    t.type(analyze.json.is_anomaly, 'boolean');

    const payload = example(t, 'EventPayload');
    t.equal(payload.session_id, 'docs-example', 'an event from the docs says where it came from');
    t.equal(payload.type, 'HEARTBEAT');
    t.ok(Math.abs(payload.ts - Date.now() / 1000) < 3600, 'with a time of today, not 0');
    t.equal((await client.post(`/event/payload`, payload)).status, 200);
    t.equal((await client.post(`/event/`, example(t, 'StructuredEvent'))).status, 200);
    t.equal((await client.post(`/echo`, example(t, 'EchoRequest'))).status, 200);
    t.ok(example(t, 'SendTestRequest').text, 'the Kakao test memo has a text');

    const recent = (await client.get(`/event/recent?limit=2`)).json as { session_id: string; data: { ts?: number } }[];
    t.same(recent.map((r) => r.session_id), ['docs-example', 'docs-example'], 'the lines written are marked as examples');
    t.equal(recent[0]!.data.ts, payload.ts);
  });

  t.test('the page is held to its own origin by a Content-Security-Policy', async (t) => {
    const page = await fetch(`${url}/docs`);
    const csp = page.headers.get('content-security-policy') ?? '';
    t.match(csp, /default-src 'self'/);
    t.match(csp, /script-src 'self'(;|$)/, 'no inline script');
    t.match(csp, /connect-src 'self'/);
    const html = await page.text();
    t.notMatch(html, /<script>/, 'every script is a file');
    t.notMatch(html, /https?:\/\//, 'no outside address');
    const css = await (await fetch(`${url}/docs/swagger-ui.css`)).text();
    t.notMatch(css, /sourceMappingURL/, 'no source map to fetch');
    t.notMatch(css, /url\((?!["']?data:)/, 'the stylesheet loads nothing (its images are data: URLs)');
  });

  t.test(`Swagger UI in Chromium at http://${HOST}:PORT/docs`, async (t) => {
    const context = await launchBrowser(t, { hosts: { [HOST]: '127.0.0.1' } });
    if (!context) return;
    const origin = `http://${HOST}:${port}`;
    const { page, requests, pageErrors, cspViolations } = await recordedPage(context);

    const response = await page.goto(`${origin}/docs`);
    t.equal(response?.status(), 200);
    t.match(response?.headers()['content-security-policy'], /default-src 'self'/);

    const operations = Object.values(openApi.paths as Record<string, object>).reduce((n, item) => n + Object.keys(item).length, 0);
    await page.waitForFunction((n) => (globalThis as unknown as PageGlobal).document.querySelectorAll('.opblock').length === n, operations);
    t.pass(`Swagger UI shows all ${operations} operations`);
    t.match(await page.locator('.info .title').textContent(), openApi.info.title, 'and the API title');

    const analyze = page.locator('#operations-behavior-behavior_analyze');
    await analyze.locator('.opblock-summary').click();
    await analyze.locator('.try-out__btn').click();
    const answered = page.waitForResponse((r) => r.url() === `${origin}/behavior/analyze` && r.request().method() === 'POST');
    await analyze.locator('.execute').click();
    const analyzed = await answered;
    if (t.equal(analyzed.status(), 200, 'Try it out → Execute on /behavior/analyze: 200 with the example as it stands')) {
      t.type((await analyzed.json()).is_anomaly, 'boolean');
      await analyze.locator('.live-responses-table .response-col_status').filter({ hasText: '200' }).waitFor();
      t.pass('the page shows the 200');
    }

    // Whatever the page would still start (a badge, a font, a map) has started once the network is quiet.
    await page.waitForLoadState('networkidle');
    t.ok(requests.includes(`${origin}/openapi.json`), 'the page\'s requests are recorded');
    t.same(requests.filter((u) => new URL(u).origin !== origin), [], `every request goes to ${origin}`);
    t.same(await cspViolations(), [], 'nothing was blocked by the policy');
    t.same(pageErrors, [], 'no script errors');
  });
});
