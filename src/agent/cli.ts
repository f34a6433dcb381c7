/**
 * `npm run agent -- [options]`: the demo agent. Plays synthetic cameras against a running server,
 * shows each camera live, and ends with a summary; exit code 0 when every expected analysis was
 * answered, 1 when some were not, 2 when the agent could not run.
 */
import { parseArgs } from 'node:util';
import { AGENT_DEFAULTS, AgentOptionError, type AgentOptions } from './options.js';
import { AgentStartError, runAgent } from './run-agent.js';
import { formatSummary } from './summary.js';

const USAGE = `usage: npm run agent -- [options]

  --cameras N             simulated cameras (default ${AGENT_DEFAULTS.cameras})
  --fps N                 frames per second per camera (default ${AGENT_DEFAULTS.fps})
  --mode http|ws          POST /behavior/analyze per window, or stream over /behavior/stream (default ${AGENT_DEFAULTS.mode})
  --url URL               the server (default ${AGENT_DEFAULTS.url})
  --duration SECONDS      how long to stream; 0 = until Ctrl-C (default ${AGENT_DEFAULTS.duration})
  --stride N              frames between two analyses (default ${AGENT_DEFAULTS.stride})
  --event-every SECONDS   average time between falls / flailing in the scenes (default ${AGENT_DEFAULTS.eventEvery})
  --seed N                scene seed; camera k plays seed + k (default ${AGENT_DEFAULTS.seed})
  --binary                ws: binary frames instead of JSON
  --input keypoints|features
                          ws: send keypoints (the server computes features) or features (default ${AGENT_DEFAULTS.input})
  --sockets shared|per-camera
                          ws: up to 16 cameras per socket, or a socket each (default ${AGENT_DEFAULTS.sockets})
  --quiet                 no live display, only the summary
  --json                  print the summary as JSON (implies --quiet)
  --help                  this text
`;

function parse(argv: string[]): { options: Partial<AgentOptions>; json: boolean; help: boolean } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      cameras: { type: 'string' },
      fps: { type: 'string' },
      mode: { type: 'string' },
      url: { type: 'string' },
      duration: { type: 'string' },
      stride: { type: 'string' },
      'event-every': { type: 'string' },
      seed: { type: 'string' },
      binary: { type: 'boolean' },
      input: { type: 'string' },
      sockets: { type: 'string' },
      quiet: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const number = (name: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) throw new AgentOptionError(`--${name}: expected a number, got ${JSON.stringify(text)}`);
    return value;
  };
  const json = values.json ?? false;
  const options: Partial<AgentOptions> = {
    cameras: number('cameras', values.cameras),
    fps: number('fps', values.fps),
    mode: values.mode as AgentOptions['mode'] | undefined,
    url: values.url,
    duration: number('duration', values.duration),
    stride: number('stride', values.stride),
    eventEvery: number('event-every', values['event-every']),
    seed: number('seed', values.seed),
    binary: values.binary,
    input: values.input as AgentOptions['input'] | undefined,
    sockets: values.sockets as AgentOptions['sockets'] | undefined,
    quiet: (values.quiet ?? false) || json,
  };
  return { options, json, help: values.help ?? false };
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // The first Ctrl-C ends the run and drains; a second one leaves at once.
  const stop = new AbortController();
  process.once('SIGINT', () => {
    stop.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  try {
    const summary = await runAgent({ ...parsed.options, signal: stop.signal });
    process.stdout.write(parsed.json ? `${JSON.stringify(summary, null, 2)}\n` : `\n${formatSummary(summary)}`);
    return summary.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof AgentOptionError || err instanceof AgentStartError) {
      process.stderr.write(`agent: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await main();
