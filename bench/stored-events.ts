/**
 * Counting what an event scenario's server stored, to check that nothing acknowledged is missing:
 * the lines the JSONL log gained, or the messages the NATS stream gained.
 */
import { createReadStream, statSync } from 'node:fs';
import { setTimeout as pause } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';

export interface StoredEvents {
  /** Where the store stands once it has stopped growing for half a second: a mark to count from. */
  settle(): Promise<number>;
  /** Records stored since `mark`, once the store has stopped growing. */
  countSince(mark: number): Promise<number>;
  close(): Promise<void>;
}

/** Waits until `read` gives the same value twice half a second apart. */
async function settled(read: () => Promise<number> | number): Promise<number> {
  let value = -1;
  for (;;) {
    const now = await read();
    if (now === value) return value;
    value = now;
    await pause(500);
  }
}

/** Lines (0x0A bytes) from byte `from` to the end of the file. */
async function countLines(path: string, from: number): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(path, { start: from }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  return lines;
}

/** The JSONL log: the mark is a byte offset. */
export function fileEvents(path: string): StoredEvents {
  const size = () => statSync(path).size;
  return {
    settle: () => settled(size),
    countSince: async (offset) => {
      await settled(size);
      return countLines(path, offset);
    },
    close: async () => {},
  };
}

/** A NATS JetStream stream: the mark is its message count (0 before the server has created it). */
export async function natsEvents(url: string, stream: string): Promise<StoredEvents> {
  const nc: NatsConnection = await connect({ servers: url.split(','), timeout: 5000 });
  const jsm: JetStreamManager = await jetstreamManager(nc);
  const messages = async () => {
    try {
      return (await jsm.streams.info(stream)).state.messages;
    } catch (err) {
      if (/stream not found/i.test((err as Error).message)) return 0;
      throw err;
    }
  };
  return {
    settle: () => settled(messages),
    countSince: async (mark) => (await settled(messages)) - mark,
    close: () => nc.close(),
  };
}

