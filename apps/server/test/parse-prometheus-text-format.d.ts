/** The package ships no types: it returns prom2json-shaped families (see metrics.test.ts). */
declare module "parse-prometheus-text-format" {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
