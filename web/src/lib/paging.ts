// Cursor paging. Filtered pages may be short (even empty) while next_cursor is set
// (docs/api.md, Pagination): gather server pages until the screen's page is full or the list ends.

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** Up to `want` items starting at `cursor`, asking at most `maxCalls` server pages. The returned
 * cursor continues exactly after the returned items. */
export async function fillPage<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  cursor: string | undefined,
  want: number,
  maxCalls = 20,
): Promise<Page<T>> {
  const items: T[] = [];
  let next: string | null | undefined = cursor;
  for (let calls = 0; calls < maxCalls; calls++) {
    const page = await fetchPage(next ?? undefined);
    items.push(...page.items);
    next = page.next_cursor;
    if (next === null || items.length >= want) break;
  }
  return { items, next_cursor: next ?? null };
}

/** Every item of a list (for small lists: hand-over previews), at most `maxCalls` pages. */
export async function fetchAll<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, maxCalls = 50): Promise<T[]> {
  return (await fillPage(fetchPage, undefined, Number.POSITIVE_INFINITY, maxCalls)).items;
}

/** Previous/next over cursors: a stack of the cursors each shown page started at. */
export class CursorStack {
  constructor(private starts: (string | undefined)[] = [undefined]) {}
  get current(): string | undefined {
    return this.starts[this.starts.length - 1];
  }
  get pageIndex(): number {
    return this.starts.length - 1;
  }
  get hasPrevious(): boolean {
    return this.starts.length > 1;
  }
  next(cursor: string): CursorStack {
    return new CursorStack([...this.starts, cursor]);
  }
  previous(): CursorStack {
    return this.hasPrevious ? new CursorStack(this.starts.slice(0, -1)) : this;
  }
}
