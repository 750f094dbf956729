import type { Page } from "./types";

/**
 * Iterates over every item of a list endpoint, fetching the next page only when the previous one
 * is used up:
 *
 *   for await (const run of paginate((cursor) => client.runs.list.query({ org_id, cursor }))) { … }
 */
export async function* paginate<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.results;
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
}

/** Every item of a list endpoint in one array; for lists known to be small. */
export async function collect<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
): Promise<T[]> {
  const items: T[] = [];
  for await (const item of paginate(fetchPage)) items.push(item);
  return items;
}
