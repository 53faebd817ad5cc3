import type { ScenarioResult } from './harness.js';
export const scaleScenarios: Array<{
  id: string;
  run: () => Promise<ScenarioResult | ScenarioResult[]>;
  estimate: [number, number];
  child?: boolean;
  slow?: boolean;
}> = [];
