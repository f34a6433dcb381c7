/**
 * /watch as the person on watch uses it, in a real Chromium: nothing leaves the server, an END
 * posted over HTTP is in the feed within a second, a streaming camera's card goes normal → active →
 * normal, the event page shows Korean labels and the memo's delivery, older events page back through
 * the log past what the server keeps, and with BACKEND_WATCH_TOKEN nothing but the login shows until
 * the token is given.
 *
 * The page's script is compiled from src/watch/page by `npm run build` (and by `npm test`'s
 * typecheck step); this file compiles it too, so it runs on its own from source.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import t from 'tap';
import { generateScene } from '../src/features/synthetic-pose.js';
import { keypointsJson } from '../src/common/stream-frame-encoding.js';
import { PROJECT_ROOT } from '../src/common/paths.js';
import { launchBrowser, recordedPage } from './support/browser.js';
import { KakaoStandin } from './support/kakao-standin.js';
import { startTestServer, tempDir } from './support/server.js';
import { StreamClient } from './support/stream-client.js';
import { waitFor } from './support/wait.js';

const HOST = 'watch.example';
/** A browser set to Korean, as on the phones of the people on watch (headless Chromium says en-US otherwise). */
const KOREAN = 'ko-KR';
const require = createRequire(import.meta.url);
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'src/watch/page/tsconfig.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });

/** A log from before the start: 60 START/ENDs of a past day, of which the server keeps the last 5 in memory. */
const OLD_EVENTS = 60;
function oldLog(): string {
  const path = `${tempDir()}/events.jsonl`;
  writeFileSync(path, Array.from({ length: OLD_EVENTS }, (_, i) => `${JSON.stringify({
    timestamp: `2026-01-05T09:${String(i).padStart(2, '0')}:00+00:00`, event_type: i % 2 ? 'END' : 'START', session_id: `cam-old-${i % 2}`,
    user_id: null, data: { event: 'fall', duration_sec: i % 2 ? 4.0 : null }, event_id: `old${i}`,
  })}\n`).join(''));
  return path;
}

t.test('the watch page', async (t) => {
  const kakao = await KakaoStandin.start();
  t.teardown(() => kakao.close());
  const { port, url, client } = await startTestServer(t, {
    BACKEND_EVENT_LOG_JSONL: oldLog(),
    BACKEND_EVENT_KEEP_RECENT: '5',
    BACKEND_INFERENCE_WORKERS: '1',
    KAKAO_ACCESS_TOKEN: kakao.issueAccessToken(),
    KAKAO_API_BASE_URL: kakao.url,
    BACKEND_STREAM_START_AFTER: '2',
    BACKEND_STREAM_END_AFTER: '2',
  });
  const context = await launchBrowser(t, { hosts: { [HOST]: '127.0.0.1' }, locale: KOREAN });
  if (!context) return;
  const origin = `http://${HOST}:${port}`;
  const { page, requests, pageErrors, cspViolations } = await recordedPage(context);

  const root = await page.goto(`${origin}/`);
  t.equal(new URL(page.url()).pathname, '/watch', '/ sends you to /watch');
  t.match(root?.headers()['content-security-policy'], /default-src 'self'/);
  await page.locator('#events').waitFor();
  t.equal(await page.locator('html').getAttribute('lang'), 'ko', 'Korean by default');
  t.match(await page.locator('h1').textContent(), '이상행동 감시');

  t.test('an END posted to /event/payload is in the feed within a second', async (t) => {
    await page.locator('#live:not(.down)').waitFor();
    const posted = Date.now();
    const answer = await client.post('/event/payload', { type: 'END', ts: Date.now() / 1000, event: 'fall', prob: 0.97, duration_sec: 2.5, session_id: 'cam-door' });
    const id = (answer.json as { event_id: string }).event_id;
    await page.locator(`#events li[data-id="${id}"]`).waitFor({ timeout: 5000 });
    const ms = Date.now() - posted;
    t.ok(ms < 1000, `shown ${ms} ms after the post`);
    t.match(await page.locator(`#events li[data-id="${id}"]`).textContent(), /END.*cam-door.*낙상/);
    await page.locator(`#events li[data-id="${id}"] .delivery.delivered`).waitFor();
    t.pass('and its memo shows as delivered');
  });

  t.test('a streaming camera\'s card: normal → the active event → normal', async (t) => {
    const stream = await StreamClient.connect(url);
    t.teardown(() => stream.close());
    stream.send({ type: 'open', stream_id: 'hall', events: true, stride: 4, session_id: 'cam-hall' });
    const scene = generateScene({ seed: 3, steps: [{ activity: 'stand', seconds: 2 }, { activity: 'fall', seconds: 1 }, { activity: 'lying_still', seconds: 4 }, { activity: 'get_up', seconds: 2 }, { activity: 'stand', seconds: 3 }], frames: 12 * 30 });
    const card = page.locator('article[data-camera="cam-hall"]');
    /** The first frame of get_up: the person stays down until the page has shown the event. */
    const getUpFrame = (2 + 1 + 4) * 30;
    let activeShown = false;
    // 30 frames a second of scene at 60 a second of wall time: the fall lasts seconds on screen.
    const sending = (async () => {
      for (let i = 0; i < 12 * 30; i++) {
        // A loaded machine may draw the card late; the event must not be over by then.
        if (i === getUpFrame) await waitFor(() => activeShown, 'the card to show the active event');
        stream.send({ stream_id: 'hall', index: i, ts: Date.now() / 1000, keypoints: keypointsJson(scene.keypoints.subarray(i * 132, (i + 1) * 132)) });
        if (i % 2 === 1) await new Promise((r) => setTimeout(r, 33));
      }
    })();
    await card.and(page.locator('.normal')).waitFor();
    t.pass('normal while the person stands');
    await card.and(page.locator('.active')).waitFor();
    activeShown = true;
    t.match(await card.locator('.state').textContent(), /낙상|쓰러진 채 움직임 없음/, 'active, with the event by its Korean label');
    await sending;
    await stream.until(() => stream.of('event').filter((e) => e.payload.type === 'END').length >= 1 && stream.of('event').filter((e) => e.payload.type === 'START').length === stream.of('event').filter((e) => e.payload.type === 'END').length, 'every START ended');
    await card.and(page.locator('.normal')).waitFor();
    t.pass('normal again once the events ended');
    t.ok(await card.locator('.plot canvas').count() >= 1, 'with its chart');

    const end = stream.of('event').find((e) => e.payload.type === 'END' && e.payload.event === 'lying_still') ?? stream.of('event').find((e) => e.payload.type === 'END');
    const eventPage = await context.newPage();
    await eventPage.goto(`${origin}/watch/events/${end.event_id}`);
    await eventPage.locator('.detail').waitFor();
    const text = await eventPage.locator('main').textContent();
    t.match(text, end.payload.event === 'lying_still' ? '쓰러진 채 움직임 없음' : '낙상', 'the event page names the event by its Korean label');
    t.match(text, 'cam-hall');
    t.match(text, /지속시간/);
    await eventPage.locator('.detail').getByText(/전달됨/).waitFor();
    t.pass('and says its memo was delivered');
    t.ok(await eventPage.locator('.plot canvas').count() >= 1, 'with the scores around it');
    if (process.env.WATCH_SCREENSHOT) await page.screenshot({ path: process.env.WATCH_SCREENSHOT });
    await eventPage.close();
  });

  t.test('older events: paged back through the log to its start, then one opened', async (t) => {
    const older = page.locator('#older');
    for (let clicks = 0; await older.isVisible(); clicks++) {
      t.ok(clicks < 5, 'a few clicks');
      await older.click();
      await page.locator('#older:not([disabled])').waitFor({ state: 'attached' });
    }
    t.equal(await page.locator('#events li[data-id^="old"]').count(), OLD_EVENTS, 'every event of the log, each once');
    t.equal(await page.locator('#older-status').textContent(), '이벤트 저장소의 처음까지 보았습니다.');
    const oldEnd = page.locator('#events li[data-id="old1"]');
    t.match(await oldEnd.textContent(), /END.*cam-old-1.*낙상.*전달 여부 모름/, 'an END the server no longer keeps: dated, delivery unknown');
    await oldEnd.locator('a').click();
    await page.locator('.detail').waitFor();
    t.match(await page.locator('main').textContent(), /메모리에 남아 있지 않은 이벤트.*cam-old-1/, 'its page shows it as listed');
    await page.goBack();
    await page.locator('#events').waitFor();
  });

  t.test('English by the switch', async (t) => {
    await page.locator('button.lang').click();
    await page.locator('h1').getByText('Behaviour watch').waitFor();
    t.equal(await page.locator('html').getAttribute('lang'), 'en');
    await page.locator('button.lang').click();
    await page.locator('h1').getByText('이상행동 감시').waitFor();
  });

  t.test('nothing left the server; nothing blocked; no script errors', async (t) => {
    t.ok(requests.some((u) => u.endsWith('/watch/assets/uPlot.iife.min.js')), 'uPlot came from this server');
    t.same(requests.filter((u) => new URL(u).origin !== origin), [], `every request went to ${origin}`);
    t.same(await cspViolations(), []);
    t.same(pageErrors, []);
  });
});

t.test('with BACKEND_WATCH_TOKEN: nothing but the login until the token is given', async (t) => {
  const { port, client } = await startTestServer(t, { BACKEND_INFERENCE_WORKERS: '1', BACKEND_WATCH_TOKEN: 'watch-secret', BACKEND_ADMIN_TOKEN: 'admin-secret' });
  await client.post('/event/payload', { type: 'END', ts: 1764405347.2, event: 'fall', session_id: 'cam-secret' });
  t.equal((await client.get('/watch/api/state')).status, 401, 'no state without the token');
  t.equal((await fetch(`http://127.0.0.1:${port}/watch/feed`)).status, 401, 'no feed without the token');
  t.equal((await fetch(`http://127.0.0.1:${port}/watch/api/state`, { headers: { authorization: 'Bearer admin-secret' } })).status, 200, 'the admin token works too');
  // Its own subtest: where no browser is installed it is skipped (plan 0) after the checks above.
  t.test('in the browser', async (t) => {
    const context = await launchBrowser(t, { locale: KOREAN });
    if (!context) return;
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/watch`);
    await page.locator('form.login').waitFor();
    t.equal(await page.locator('#cameras, #events, #server').count(), 0, 'no cameras, events or server panel');
    t.notMatch(await page.locator('body').textContent(), 'cam-secret', 'no event data on the page');
    await page.locator('input[name=token]').fill('wrong');
    await page.locator('form.login button').click();
    await page.locator('form.login .error').getByText('토큰이 맞지 않습니다.').waitFor();
    await page.locator('input[name=token]').fill('watch-secret');
    await page.locator('form.login button').click();
    await page.locator('#events li').filter({ hasText: 'cam-secret' }).waitFor();
    t.pass('the token opens the page (an HttpOnly cookie keeps it)');
    const cookie = (await context.cookies()).find((c) => c.name === 'watch_session');
    t.match(cookie, { httpOnly: true, sameSite: 'Strict', path: '/watch' });
    t.not(cookie?.value, 'watch-secret', 'the cookie is not the token');
  });
});
