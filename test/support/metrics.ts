/**
 * The one reader of metrics in the tests: samples of Prometheus text, whether it comes from a
 * server's /metrics or straight from an in-process registry.
 */
import type { Metrics } from '../../src/metrics.js';
import type { JsonClient } from './json-client.js';

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/;
const FAMILY_SUFFIX = /_(?:count|sum|bucket)$/;

/**
 * The value of one sample in Prometheus text, matched on its exact label set; 0 when the metric
 * has no such sample yet. Throws when the metric itself is not in the text (a misspelt name).
 */
export function metricSample(text: string, name: string, labels: Record<string, string> = {}): number {
  const family = new RegExp(`^# TYPE (?:${name}|${name.replace(FAMILY_SUFFIX, '')}) `, 'm');
  if (!family.test(text)) throw new Error(`no metric ${name} in the exposition`);
  const want = Object.entries(labels).sort().map(([k, v]) => `${k}="${v}"`).join(',');
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? '').split(/,(?=\w+=")/).filter(Boolean).sort().join(',');
    if (got === want) return Number(m[3]);
  }
  return 0;
}

/** One sample from a running server's /metrics. */
export async function metric(client: JsonClient, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await client.get('/metrics');
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return metricSample(res.text, name, labels);
}

/** One sample from an in-process registry (the event log's and writer's own tests). */
export async function registryMetric(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricSample(await metrics.registry.metrics(), name, labels);
}
