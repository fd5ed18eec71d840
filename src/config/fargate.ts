/** Fargate's valid task sizes: memory (MiB) allowed for each CPU value (AWS::ECS::TaskDefinition Cpu and Memory). */
const MEMORY_BY_CPU: Record<number, { min: number; max: number; step: number } | { only: number[] }> = {
  // The one size with a list rather than a range: 1536 is not among them.
  256: { only: [512, 1024, 2048] },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
  8192: { min: 16384, max: 61440, step: 4096 },
  16384: { min: 32768, max: 122880, step: 8192 },
};

/** Why cpu/memory is not a Fargate size, or undefined when it is. */
export function fargateSizeProblem(cpu: number, memory: number): string | undefined {
  const allowed = MEMORY_BY_CPU[cpu];
  if (!allowed) return `cpu ${cpu} is not a Fargate size (use ${Object.keys(MEMORY_BY_CPU).join(', ')})`;
  if ('only' in allowed) {
    if (allowed.only.includes(memory)) return undefined;
    return `memory ${memory} is not valid with cpu ${cpu}: use ${allowed.only.slice(0, -1).join(', ')} or ${allowed.only.at(-1)}`;
  }
  if (memory >= allowed.min && memory <= allowed.max && (memory - allowed.min) % allowed.step === 0) return undefined;
  return `memory ${memory} is not valid with cpu ${cpu}: use ${allowed.min} to ${allowed.max} in steps of ${allowed.step}`;
}
