/** One key per topic partition, for the maps the consume loop's parts keep. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

export function parsePartitionKey(key: string): { topic: string; partition: number } {
  const cut = key.lastIndexOf(':');
  return { topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)) };
}

/** An error as logs, /health and dead letters show it: its name and message. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
