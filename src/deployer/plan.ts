import { formatCost, type PlanCost } from './costChange.js';
import { formatChangeSet, type ChangeRow } from './stacks.js';

/**
 * What `diff` found a deploy would do, as `diff --json` prints it (README, "Plans in CI"). Fields
 * may be added; none is renamed, removed or given another meaning without a new formatVersion.
 */
export interface Plan {
  formatVersion: 1;
  /** Some stack would be created or changed (`diff --exit-code` then exits 2). */
  changes: boolean;
  /** Some stack's change set replaces or deletes a stateful resource: deploy refuses it without --allow-data-loss. */
  dataLoss: boolean;
  /** The change in the monthly estimate, or the build's estimate when nothing is deployed; null when the build carries no estimate. */
  cost: PlanCost | null;
  /** In deploy order. */
  stacks: StackPlan[];
}

export type StackPlanStatus = 'NOT_DEPLOYED' | 'NO_CHANGES' | 'CHANGES';

export interface StackPlan {
  name: string;
  region: string;
  status: StackPlanStatus;
  /**
   * The change set's resource changes (replacement and policyAction are '' where CloudFormation gives none); for a
   * stack not deployed, every resource of its template as an Add: no change set is made, as it would leave an empty stack.
   * CHANGES with no rows: only the outputs or other stack settings change.
   */
  rows: ChangeRow[];
  /** The rows whose replacement is True or Conditional (decided when the change set runs). */
  replacements: ChangeRow[];
  /** The stateful resources the change set would replace or delete, and deploy's refusal; null when there are none. */
  dataLoss: DataLoss | null;
  /** What else there is to know: a drift the last detection found, service images compared as deployed. */
  notes: string[];
}

export interface DataLoss {
  resources: ChangeRow[];
  /** What deploy would say in refusing, with the cause when known (a change of size, of the snapshot restored from). */
  message: string;
}

export function stackPlan(stack: { name: string; region: string }, status: StackPlanStatus, rows: ChangeRow[], notes: string[], dataLoss: DataLoss | null = null): StackPlan {
  const replacements = rows.filter((row) => row.replacement === 'True' || row.replacement === 'Conditional');
  return { name: stack.name, region: stack.region, status, rows, replacements, dataLoss, notes };
}

/** The plan as `diff` prints it: the cost, then each stack's notes and changes, one block a line of the reporter. */
export function formatPlan(plan: Plan): string[] {
  return [
    ...(plan.cost ? [formatCost(plan.cost)] : []),
    ...plan.stacks.flatMap((stack) => {
      const where = `${stack.name} (${stack.region})`;
      const changes =
        stack.status === 'NOT_DEPLOYED'
          ? [[`${where} is not deployed; deploying creates:`, ...stack.rows.map((row) => `  ${row.action}  ${row.logicalId}  ${row.type}`)].join('\n')]
          : stack.status === 'NO_CHANGES'
            ? [`${where}: no changes`]
            : [formatChangeSet({ stackName: stack.name, rows: stack.rows }), ...(stack.dataLoss ? [stack.dataLoss.message] : [])];
      return [...stack.notes, ...changes];
    }),
  ];
}
