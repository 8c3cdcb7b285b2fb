import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { startRedisServer } from '../src/index.ts';

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

describe('redis harness', () => {
  it('gives every test a real Redis through inject("redisUrl")', async () => {
    const redis = new Redis(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      const key = `harness:${process.pid}:${Date.now()}`;
      await redis.set(key, 'value', 'PX', 10_000);
      expect(await redis.get(key)).toBe('value');
      const info = await redis.info('server');
      expect(info).toMatch(/redis_version:\d+/);
    } finally {
      redis.disconnect();
    }
  });

  it('starts a private server with no persistence on loopback and leaves nothing after stop', async () => {
    const server = await startRedisServer();
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.config('GET', 'save')).toEqual(['save', '']);
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    expect(await redis.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    redis.disconnect();

    await server.stop();
    expect(processIsGone(server.pid)).toBe(true);
    expect(await portIsClosed(server.port)).toBe(true);
  });

  it('fails at once with an install hint when redis-server is not on PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startRedisServer()).rejects.toThrow(
        /redis-server was not found on PATH.*apt-get install -y redis-server/s,
      );
    } finally {
      process.env.PATH = path;
    }
  });
});
