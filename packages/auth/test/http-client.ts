import { rawRequest } from '@ballast/test-utils';

/** A response as the tests see it. */
export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * GET `url` with raw headers given as a flat list (`['authorization', 'Bearer a', ...]`), so a
 * test can send the same header twice, which `fetch` cannot (test-utils' `rawRequest`).
 */
export async function get(url: string, headers: string[] = []): Promise<TestResponse> {
  const response = await rawRequest(url, { headers });
  return { status: response.status, headers: response.headers, body: response.text() };
}

/** GET with `Authorization: Bearer <token>`. */
export function getWithToken(url: string, token: string): Promise<TestResponse> {
  return get(url, ['authorization', `Bearer ${token}`]);
}
