/**
 * Records and their JSONL lines against what the seed (Python json.dumps, datetime.isoformat,
 * format()) produced for the same input; the expected strings were taken from CPython 3.
 */
import t from 'tap';
import { AppError } from '../src/common/errors.js';
import { pythonFixed, pythonFloat } from '../src/common/python-format.js';
import { isoFromUnixSeconds, recordFromPayload, recordFromStructured, serializeRecord, type EventRecord } from '../src/events/records.js';

t.test('floats print as Python repr', async (t) => {
  const cases: Array<[number, string]> = [
    [1764405347.0, '1764405347.0'], [1764405347.2, '1764405347.2'], [1e-5, '1e-05'], [0.0001, '0.0001'],
    [1e16, '1e+16'], [1e15, '1000000000000000.0'], [123456789012345678, '1.2345678901234568e+17'], [-0, '-0.0'],
    [5e-324, '5e-324'], [1.5e300, '1.5e+300'], [0.1, '0.1'], [-2.5e-7, '-2.5e-07'], [100, '100.0'], [12345.678, '12345.678'],
  ];
  for (const [value, python] of cases) t.equal(pythonFloat(value), python, `repr(${python})`);
});

t.test('fixed decimals round ties to even like Python format()', async (t) => {
  const cases: Array<[number, number, string]> = [
    [0.125, 2, '0.12'], [0.375, 2, '0.38'], [2.25, 1, '2.2'], [5.45, 1, '5.5'], [0.105, 2, '0.10'], [2.675, 2, '2.67'],
    [1764405347.2, 2, '1764405347.20'], [1764405347.125, 2, '1764405347.12'], [-0.125, 2, '-0.12'], [0.5, 0, '0'],
    [1.5, 0, '2'], [2.5, 0, '2'], [1764405347.005, 2, '1764405347.01'],
  ];
  for (const [value, digits, python] of cases) t.equal(pythonFixed(value, digits), python, `format(${value}, '.${digits}f')`);
});

t.test('unix seconds → isoformat with +00:00, microseconds rounded half-even, omitted when zero', async (t) => {
  t.equal(isoFromUnixSeconds(1764405347.2), '2025-11-29T08:35:47.200000+00:00');
  t.equal(isoFromUnixSeconds(0), '1970-01-01T00:00:00+00:00');
  t.equal(isoFromUnixSeconds(-1.5), '1969-12-31T23:59:58.500000+00:00');
  t.equal(isoFromUnixSeconds(1764405347.9999995), '2025-11-29T08:35:48+00:00');
  t.equal(isoFromUnixSeconds(1764405347.0000005), '2025-11-29T08:35:47+00:00');
  t.equal(isoFromUnixSeconds(1764405347.0000014), '2025-11-29T08:35:47.000001+00:00');
  t.equal(isoFromUnixSeconds(1500000000.1234567), '2017-07-14T02:40:00.123457+00:00');
  t.equal(isoFromUnixSeconds(253402300799), '9999-12-31T23:59:59+00:00');
  t.throws(() => isoFromUnixSeconds(1e20), { code: 'invalid_input' });
});

t.test('a payload record is the seed line byte for byte', async (t) => {
  const record = recordFromPayload({
    type: 'END', ts: 1764405347.2, frame_idx: 1234, event: '낙상', prob: 0.91, duration_sec: 5,
    probs: { fall: 1e-5, loitering: 1 }, session_id: 'cam-1',
  }, 0);
  record.event_id = '0123456789abcdef0123456789abcdef';
  t.equal(serializeRecord(record),
    '{"timestamp": "2025-11-29T08:35:47.200000+00:00", "event_type": "END", "session_id": "cam-1", "user_id": null, ' +
    '"data": {"type": "END", "ts": 1764405347.2, "frame_idx": 1234, "event": "낙상", "prob": 0.91, "duration_sec": 5.0, ' +
    '"state": null, "top_event": null, "top_prob": null, "probs": {"fall": 1e-05, "loitering": 1.0}}, ' +
    '"event_id": "0123456789abcdef0123456789abcdef"}');
});

t.test('payload defaults: ts is the server time, absent fields are null, ids are fresh 32-hex', async (t) => {
  const a = recordFromPayload({ type: 'HEARTBEAT' }, 1764405347);
  const b = recordFromPayload({ type: 'HEARTBEAT' }, 1764405347);
  t.equal(a.timestamp, '2025-11-29T08:35:47+00:00');
  t.same(a.data, { type: 'HEARTBEAT', ts: 1764405347, frame_idx: null, event: null, prob: null, duration_sec: null, state: null, top_event: null, top_prob: null, probs: null });
  t.match(a.event_id, /^[0-9a-f]{32}$/);
  t.not(a.event_id, b.event_id);
  t.match(serializeRecord(a), /"ts": 1764405347\.0,/);
});

t.test('the realtime client form: a probs list with events becomes a map; a mismatch is invalid input', async (t) => {
  const record = recordFromPayload({ type: 'PROBS', events: ['fall', 'fight'], probs: [0.25, 1] }, 1);
  t.same(record.data!.probs, { fall: 0.25, fight: 1 });
  t.match(serializeRecord(record), /"probs": \{"fall": 0\.25, "fight": 1\.0\}/);
  t.throws(() => recordFromPayload({ type: 'PROBS', events: ['fall'], probs: [0.1, 0.2] }, 1), AppError);
  t.throws(() => recordFromPayload({ type: 'PROBS', probs: [0.1] }, 1), { code: 'invalid_input' });
});

t.test('structured events keep free-form data as JSON carried it and normalise the timestamp', async (t) => {
  const record: EventRecord = recordFromStructured({
    timestamp: '2026-11-29T08:35:47.123Z', event_type: 'custom', session_id: 's', user_id: 'u',
    data: { count: 5, ratio: 0.5, text: 'a"b\\c\n\t\u0001\u007f\u2028é😀', list: [1, 2.5, null, true, {}], empty: [] },
  });
  record.event_id = 'f'.repeat(32);
  t.equal(serializeRecord(record),
    '{"timestamp": "2026-11-29T08:35:47.123000+00:00", "event_type": "custom", "session_id": "s", "user_id": "u", ' +
    '"data": {"count": 5, "ratio": 0.5, "text": "a\\"b\\\\c\\n\\t\\u0001\u007f\u2028é😀", "list": [1, 2.5, null, true, {}], "empty": []}, ' +
    `"event_id": "${'f'.repeat(32)}"}`);
  const bare = recordFromStructured({ timestamp: '2026-11-29T08:35:47Z', event_type: 'x' });
  t.equal(bare.data, null, 'absent data stays null, as the seed wrote it');
  t.match(serializeRecord(bare), /"data": null/);
});

t.test('structured timestamps follow Python isoformat', async (t) => {
  const iso = (timestamp: string | number) => recordFromStructured({ timestamp, event_type: 'x' }).timestamp;
  t.equal(iso('2026-11-29T08:35:47Z'), '2026-11-29T08:35:47+00:00');
  t.equal(iso('2026-11-29T17:35:47+09:00'), '2026-11-29T17:35:47+09:00');
  t.equal(iso('2026-11-29 08:35:47.1234567+00:00'), '2026-11-29T08:35:47.123456+00:00');
  t.equal(iso('2026-11-29T08:35:47-00:00'), '2026-11-29T08:35:47+00:00');
  t.equal(iso('2026-11-29T08:35:47.000000Z'), '2026-11-29T08:35:47+00:00');
  t.equal(iso('2026-11-29T08:35:47'), '2026-11-29T08:35:47+00:00', 'naive is taken as UTC');
  t.equal(iso('2026-11-29'), '2026-11-29T00:00:00+00:00');
  t.equal(iso(1764405347.5), '2025-11-29T08:35:47.500000+00:00');
  for (const bad of ['yesterday', '2026-02-30T00:00:00Z', '2026-11-29T24:00:00Z', '2026-13-01']) {
    t.throws(() => iso(bad), { code: 'invalid_input' }, bad);
  }
});
