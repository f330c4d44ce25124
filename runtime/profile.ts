// Where a backend's time goes, per kernel family and phase (prefill: steps over several tokens;
// decode: single-token steps). Backends that can time their launches implement `Profiling`;
// `tessera bench --profile` turns it on and prints the table.

export type ProfilePhase = 'prefill' | 'decode';

export interface ProfileRow {
  readonly phase: ProfilePhase;
  /** Kernel family (e.g. `matmul_f32`, `attention_decode`), or `launch` for the cost of starting a step. */
  readonly kernel: string;
  /** Total time over every profiled step of the phase, ms. */
  readonly ms: number;
  /** Launches of this family over those steps. */
  readonly launches: number;
  /** Steps of the phase profiled (divide `ms` by it for time per step). */
  readonly steps: number;
}

export interface Profiling {
  /** Starts (or restarts) collecting; timing every launch costs a little (a clock read each). */
  startProfile(): void;
  /** Stops collecting and returns what was collected, largest first within each phase. */
  stopProfile(): ProfileRow[];
}

export function canProfile(x: object): x is Profiling {
  return typeof (x as Partial<Profiling>).startProfile === 'function' && typeof (x as Partial<Profiling>).stopProfile === 'function';
}

/** Sums launch times by phase and kernel family. */
export class ProfileCollector {
  private readonly totals = new Map<string, { phase: ProfilePhase; kernel: string; ms: number; launches: number }>();
  private readonly steps: Record<ProfilePhase, number> = { prefill: 0, decode: 0 };

  step(phase: ProfilePhase): void {
    this.steps[phase]++;
  }

  add(phase: ProfilePhase, kernel: string, ms: number): void {
    const key = `${phase}\u0000${kernel}`;
    const row = this.totals.get(key) ?? { phase, kernel, ms: 0, launches: 0 };
    row.ms += ms;
    row.launches++;
    this.totals.set(key, row);
  }

  rows(): ProfileRow[] {
    return [...this.totals.values()]
      .map((r) => ({ ...r, steps: this.steps[r.phase] }))
      .sort((a, b) => (a.phase === b.phase ? b.ms - a.ms : a.phase === 'prefill' ? -1 : 1));
  }
}
