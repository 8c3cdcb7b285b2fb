import { describe, expect, it } from 'vitest';
import { type DispatchControllerLike, FollowingController } from '../src/index.ts';

function target(): DispatchControllerLike & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    aborted: false,
    paused: false,
    reason: null,
    rawHeaders: ['a', 'b'],
    abort: (reason) => calls.push(`abort:${reason.message}`),
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
  };
}

describe('FollowingController', () => {
  it('follows the current attempt, keeps a pause across attempts and aborts the current one', () => {
    const controller = new FollowingController();
    const first = target();
    controller.follow(first);
    expect(controller.rawHeaders).toEqual(['a', 'b']);
    controller.pause();
    controller.release();
    expect(controller.rawHeaders).toBeNull();
    const second = target();
    controller.follow(second); // the caller is still paused
    controller.resume();
    controller.abort(new Error('bye'));
    controller.abort(new Error('again')); // once
    expect(first.calls).toEqual(['pause']);
    expect(second.calls).toEqual(['pause', 'resume', 'abort:bye']);
    expect(controller.aborted).toBe(true);
    expect(controller.reason?.message).toBe('bye');
  });

  it('hands the abort to onAbort instead when given one', () => {
    const seen: string[] = [];
    const controller = new FollowingController((reason) => seen.push(reason.message));
    const current = target();
    controller.follow(current);
    controller.abort(new Error('caller left'));
    expect(seen).toEqual(['caller left']);
    expect(current.calls).toEqual([]);
  });
});
