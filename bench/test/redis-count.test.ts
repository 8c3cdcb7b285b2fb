import { createConnection } from 'node:net';
import type {} from '@ballast/test-utils/global-setup';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { countingProxy, parseCommands } from '../src/redis-count.ts';

describe('parseCommands', () => {
  it('splits a RESP stream into commands and keeps an unfinished one for later', () => {
    const stream = Buffer.from(
      '*2\r\n$3\r\nGET\r\n$3\r\nk:1\r\n*3\r\n$3\r\nSET\r\n$3\r\nk:2\r\n$2\r\nab',
    );
    const { commands, rest } = parseCommands(stream);
    expect(commands).toEqual([['GET', 'k:1']]);
    expect(stream.subarray(rest).toString()).toBe('*3\r\n$3\r\nSET\r\n$3\r\nk:2\r\n$2\r\nab');
    const done = parseCommands(Buffer.concat([stream.subarray(rest), Buffer.from('\r\n')]));
    expect(done.commands).toEqual([['SET', 'k:2', 'ab']]);
  });

  it('counts a value containing CRLF as one argument, and reads inline commands', () => {
    const value = 'a\r\n*1\r\n';
    const stream = Buffer.from(`*2\r\n$4\r\nECHO\r\n$${value.length}\r\n${value}\r\nPING\r\n`);
    expect(parseCommands(stream).commands).toEqual([['ECHO', value], ['PING']]);
  });
});

describe('countingProxy', () => {
  it('counts the commands that mention the filter, not the ones a script runs inside Redis', async () => {
    const proxy = await countingProxy(inject('redisUrl'), 'bench-count-test:');
    const redis = new Redis(proxy.url, { lazyConnect: true });
    try {
      await redis.connect();
      const key = `bench-count-test:${process.pid}`;
      await redis.set(key, '1', 'PX', 10_000);
      await redis.eval("redis.call('get', KEYS[1]); return redis.call('get', KEYS[1])", 1, key);
      await redis.ping(); // no key: not counted
      await proxy.quiet(20);
      expect(proxy.count()).toBe(2);
    } finally {
      redis.disconnect();
      await proxy.close();
    }
  });

  it('closes with a client still connected', async () => {
    const proxy = await countingProxy(inject('redisUrl'), 'x');
    const socket = createConnection(Number(new URL(proxy.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    await proxy.close();
    await new Promise((resolve) => socket.once('close', resolve));
  });
});
