import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { RunStats } from "../../lib/api";
import { formatBucket, formatDuration } from "../../lib/format";

export const STATUS_COLORS = {
  succeeded: "#16a34a",
  failed: "#dc2626",
  timeout: "#ea580c",
  denied: "#ca8a04",
  running: "#2563eb",
} as const;

const STATUS_ORDER = ["succeeded", "failed", "timeout", "denied", "running"] as const;

export function RunsOverTimeChart({ stats }: { stats: RunStats }) {
  const data = stats.series.map((point) => ({
    ...point,
    label: formatBucket(point.bucket_start, stats.bucket),
  }));
  return (
    <div className="chart" role="img" aria-label={`Runs per ${stats.bucket} by status`}>
      <ResponsiveContainer width="100%" height={260}>
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e5e7eb" />
          <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={24} />
          <YAxis allowDecimals={false} tick={{ fontSize: 11 }} />
          <Tooltip cursor={{ fill: "rgba(79, 70, 229, 0.06)" }} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {STATUS_ORDER.map((status) => (
            <Bar
              key={status}
              dataKey={status}
              stackId="runs"
              fill={STATUS_COLORS[status]}
              name={status}
              isAnimationActive={false}
            />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

export interface LatencyRow {
  name: string;
  p50_ms: number | null;
  p95_ms: number | null;
}

export function LatencyChart({ rows, label }: { rows: LatencyRow[]; label: string }) {
  const data = rows.map((row) => ({ name: row.name, p50: row.p50_ms ?? 0, p95: row.p95_ms ?? 0 }));
  const height = Math.max(120, data.length * 34 + 48);
  return (
    <div className="chart" role="img" aria-label={label}>
      <ResponsiveContainer width="100%" height={height}>
        <BarChart data={data} layout="vertical" margin={{ top: 4, right: 16, bottom: 0, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" horizontal={false} stroke="#e5e7eb" />
          <XAxis
            type="number"
            tick={{ fontSize: 11 }}
            tickFormatter={(value: number) => formatDuration(value)}
          />
          <YAxis type="category" dataKey="name" width={140} tick={{ fontSize: 11 }} />
          <Tooltip
            formatter={(value) =>
              typeof value === "number" ? formatDuration(value) : String(value)
            }
          />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Bar dataKey="p50" name="p50" fill="#818cf8" isAnimationActive={false} />
          <Bar dataKey="p95" name="p95" fill="#4f46e5" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
