import { optionNames, rejectUnknownOptions } from '../config/unknown-options.js';
import type { MemoryAdapterOptions, MemoryBrokerOptions, MemoryFaults } from './memory.js';

const BROKER_OPTIONS = optionNames<MemoryBrokerOptions>({
  maxQueueLength: true,
  maxDeadLetters: true,
  starvationLimit: true,
  batchSize: true,
});
const ADAPTER_OPTIONS = optionNames<MemoryAdapterOptions>({
  maxQueueLength: true,
  maxDeadLetters: true,
  starvationLimit: true,
  batchSize: true,
  name: true,
  broker: true,
  faults: true,
  shareObjects: true,
});
const FAULT_OPTIONS = optionNames<MemoryFaults>({
  failSend: true,
  drop: true,
  delayMs: true,
  duplicate: true,
  reorder: true,
  random: true,
});

/** Refuse misspelt options of `memory()`, `createMemoryBroker()` and faults (HUB_INVALID_CONFIG). */
export function rejectUnknownMemoryOptions(
  where: 'memory' | 'createMemoryBroker' | 'setFaults',
  options: unknown,
): void {
  if (typeof options !== 'object' || options === null) return;
  if (where === 'setFaults') {
    rejectUnknownOptions('setFaults', options, FAULT_OPTIONS);
    return;
  }
  rejectUnknownOptions(where, options, where === 'memory' ? ADAPTER_OPTIONS : BROKER_OPTIONS);
  const faults = (options as MemoryAdapterOptions).faults;
  if (where === 'memory' && typeof faults === 'object' && faults !== null) {
    rejectUnknownOptions('memory.faults', faults, FAULT_OPTIONS);
  }
}
