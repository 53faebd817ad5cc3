#!/usr/bin/env node
/**
 * `hub-legacy-report <report.json>` (or the JSON on stdin): print a comparison
 * report saved with `JSON.stringify(dual.report())`, for the team deciding
 * whether to switch. Exits 1 when a path lost or changed messages, so a CI
 * job or a cut-over script can gate on it.
 */
import { readFileSync } from 'node:fs';
import { type ComparisonReport, formatComparisonReport } from '../compare/comparison.js';

function read(): string {
  const file = process.argv[2];
  return readFileSync(file === undefined || file === '-' ? 0 : file, 'utf8');
}

try {
  const report = JSON.parse(read()) as ComparisonReport;
  console.log(formatComparisonReport(report));
  const lost = report.missing.legacy.length + report.missing.hub.length;
  process.exitCode = lost > 0 || report.payloadMismatches.length > 0 ? 1 : 0;
} catch (err) {
  console.error(`hub-legacy-report: ${err instanceof Error ? err.message : String(err)}`);
  console.error(
    'usage: hub-legacy-report <report.json>   (a ComparisonReport as JSON; - or none reads stdin)',
  );
  process.exitCode = 2;
}
