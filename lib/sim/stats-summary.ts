/** Summary statistics for reports. */
export interface Summary {
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles; null for an empty sample. */
export function summarize(values: number[]): Summary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
    p50: round(rank(0.5)),
    p99: round(rank(0.99)),
    max: round(sorted[sorted.length - 1]!),
  };
}
