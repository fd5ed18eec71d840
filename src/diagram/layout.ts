import type { Architecture, Tier } from './architecture.js';

/**
 * Where the boxes and arrows of the picture go. Boxes stand in a grid, a column per tier; arrows
 * are orthogonal and run only through the gaps between boxes, so none passes under a box: out of
 * a box's right side, up or down in the gap between its column and the next, into the next
 * column's box from the left. An arrow that skips a column crosses it in the gap between two of
 * its rows (a lane); one between boxes of the same column turns in the gap on that column's left.
 * Every coordinate follows from the architecture alone: the same templates give the same picture.
 */

export type Point = [number, number];

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedBox extends Rect {
  id: string;
}

export interface Label extends Rect {
  text: string;
  /** The point of its arrow the label is centred on. */
  anchor: Point;
}

export interface Route {
  from: string;
  to: string;
  /** Axis-parallel segments from a point on the side of `from` to one on the side of `to`. */
  points: Point[];
  label?: Label;
}

export interface Layout {
  width: number;
  /** Left of the first column: where the title and the footnote start. */
  margin: number;
  /** Below every box, lane and label: where the footnote may start. */
  bottom: number;
  boxes: PlacedBox[];
  routes: Route[];
}

const COLUMNS: Record<Tier, number> = { internet: 0, edge: 1, compute: 2, data: 3 };
const BOX = { width: 290, height: 84 };
/** The narrowest gap between columns; one with many vertical runs is wider. */
const GAP = { x: 120, y: 32 };
const MARGIN = { left: 24, top: 72 };
/** Arrows meet a box this far from its rounded corners, and this far from each other (an arrowhead is 9 px high). */
const PORT = { inset: 12, spacing: 12 };
/** Vertical runs keep this far from the boxes beside them, so that every arrowhead has a straight run into its box. */
const TRACK = { inset: 18, spacing: 10 };
/** Offsets from the middle of a row gap, for arrows that cross the same column in the same gap. */
const LANE_SLOTS = [0, 8, -8];
/** Labels are 10 px sans-serif, 6 px a character counted generously (the browser test measures them). */
const LABEL = { characterWidth: 6, padding: 6, height: 14, clearance: 4, arrowhead: 14 };

const round = (value: number) => Math.round(value * 10) / 10;
const rowY = (row: number) => MARGIN.top + row * (BOX.height + GAP.y);

type Side = 'left' | 'right';

interface Edge {
  index: number;
  from: PlacedBox & { column: number };
  to: PlacedBox & { column: number };
  /** The middle of the row gap a column-skipping arrow crosses in. */
  lane?: number;
  label?: string;
  start: number;
  end: number;
}

/** An arrow's run through one gap: in on one of its sides at y1, out on one at y2, vertical at `x` in between. */
interface Hop {
  edge: Edge;
  enters: Side;
  y1: number;
  leaves: Side;
  y2: number;
  x?: number;
}

type Segment = { x1: number; y1: number; x2: number; y2: number };

const centre = (box: Rect) => box.y + box.height / 2;

/**
 * Where the arrows meet two facing sides of boxes: each as level as it can be with what it comes
 * from or goes to, in that order from the top (so that arrows leaving one side do not cross each
 * other), kept apart, and inside the sides.
 */
function spreadPorts(box: Rect, ends: { toward: number; set: (y: number) => void }[]): void {
  const low = box.y + PORT.inset;
  const high = box.y + box.height - PORT.inset;
  const spacing = ends.length < 2 ? 0 : Math.min(PORT.spacing, (high - low) / (ends.length - 1));
  const ordered = [...ends].sort((a, b) => a.toward - b.toward);
  const ys = ordered.map((end) => Math.min(high, Math.max(low, end.toward)));
  for (let i = 1; i < ys.length; i++) ys[i] = Math.max(ys[i], ys[i - 1] + spacing);
  for (let i = ys.length - 1; i >= 0; i--) ys[i] = Math.min(ys[i], i === ys.length - 1 ? high : ys[i + 1] - spacing);
  ordered.forEach((end, i) => end.set(round(ys[i])));
}

function hopSegments(hop: Hop, gap: { left: number; right: number }): Segment[] {
  const x1 = hop.enters === 'left' ? gap.left : gap.right;
  const x2 = hop.leaves === 'left' ? gap.left : gap.right;
  if (hop.x === undefined) return [{ x1, y1: hop.y1, x2, y2: hop.y2 }];
  return [
    { x1, y1: hop.y1, x2: hop.x, y2: hop.y1 },
    { x1: hop.x, y1: hop.y1, x2: hop.x, y2: hop.y2 },
    { x1: hop.x, y1: hop.y2, x2, y2: hop.y2 },
  ];
}

const span = (a: number, b: number) => [Math.min(a, b), Math.max(a, b)] as const;

/** Where two arrows cross; a shared stretch (one line drawn over the other) counts as a hundred crossings. */
function crossings(one: Segment[], other: Segment[]): number {
  let count = 0;
  for (const [a, b] of one.flatMap((first) => other.map((second) => [first, second].map((s) => ({ level: s.y1 === s.y2, x: span(s.x1, s.x2), y: span(s.y1, s.y2) }))))) {
    if (a.level === b.level) {
      const shared = a.level ? a.y[0] === b.y[0] && Math.min(a.x[1], b.x[1]) > Math.max(a.x[0], b.x[0]) : a.x[0] === b.x[0] && Math.min(a.y[1], b.y[1]) > Math.max(a.y[0], b.y[0]);
      if (shared) count += 100;
    } else {
      const [h, v] = a.level ? [a, b] : [b, a];
      if (h.x[0] <= v.x[0] && v.x[0] <= h.x[1] && v.y[0] <= h.y[0] && h.y[0] <= v.y[1]) count += 1;
    }
  }
  return count;
}

const needsTrack = (hop: Hop) => hop.enters === hop.leaves || hop.y1 !== hop.y2;

/** Gives the vertical runs of one gap their places, in the order that crosses least (a local search from four orders, so deterministic). */
function placeTracks(hops: Hop[], gap: { left: number; right: number }): void {
  const tracked = hops.filter(needsTrack);
  if (tracked.length === 0) return;
  const middle = (gap.left + gap.right) / 2;
  const assign = (order: Hop[]) => order.forEach((hop, i) => (hop.x = round(middle + (i - (order.length - 1) / 2) * TRACK.spacing)));
  // Level runs reach from a side of the gap to their track: whether two arrows cross depends only on which track is further left.
  const crossed = tracked.map((left) =>
    tracked.map((right) => {
      if (left === right) return 0;
      left.x = middle - 1;
      right.x = middle + 1;
      return crossings(hopSegments(left, gap), hopSegments(right, gap));
    }),
  );
  const position = new Map(tracked.map((hop, i) => [hop, i]));
  const cost = (order: Hop[]) => {
    let sum = 0;
    for (let i = 0; i < order.length; i++) for (let j = i + 1; j < order.length; j++) sum += crossed[position.get(order[i])!][position.get(order[j])!];
    return sum;
  };
  const byMiddle = [...tracked].sort((a, b) => a.y1 + a.y2 - (b.y1 + b.y2) || a.edge.index - b.edge.index);
  // Runs down cross none of each other when the one from higher up is further right; runs up, when the one from lower down is.
  const down = byMiddle.filter((hop) => hop.y2 > hop.y1).sort((a, b) => b.y1 - a.y1 || b.y2 - a.y2);
  const up = byMiddle.filter((hop) => hop.y2 < hop.y1).sort((a, b) => a.y1 - b.y1 || a.y2 - b.y2);
  let best = { order: byMiddle, cost: Infinity };
  for (const seed of [[...down, ...up], [...up, ...down], byMiddle, [...byMiddle].reverse()]) {
    let order = seed;
    let current = cost(order);
    for (let improved = true; improved; ) {
      improved = false;
      for (let from = 0; from < order.length; from++) {
        for (let to = 0; to < order.length; to++) {
          if (to === from) continue;
          const moved = [...order];
          moved.splice(to, 0, ...moved.splice(from, 1));
          const movedCost = cost(moved);
          if (movedCost < current) {
            order = moved;
            current = movedCost;
            improved = true;
          }
        }
      }
    }
    if (current < best.cost) best = { order, cost: current };
  }
  assign(best.order);
}

/** Drops the corners that are not corners (a straight run through a gap, then on across a column). */
function simplify(points: Point[]): Point[] {
  const kept: Point[] = [];
  for (const point of points) {
    const last = kept[kept.length - 1];
    if (last && last[0] === point[0] && last[1] === point[1]) continue;
    const before = kept[kept.length - 2];
    if (before && last && ((before[0] === last[0] && last[0] === point[0]) || (before[1] === last[1] && last[1] === point[1]))) kept.pop();
    kept.push(point);
  }
  return kept;
}

const overlaps = (a: Rect, b: Rect) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Whether a segment runs through the inside of a rectangle (along its edge is not through it). */
function segmentEnters(from: Point, to: Point, rect: Rect): boolean {
  const [x1, x2] = span(from[0], to[0]);
  const [y1, y2] = span(from[1], to[1]);
  return x1 < rect.x + rect.width && x2 > rect.x && y1 < rect.y + rect.height && y2 > rect.y;
}

/**
 * The label's place on its own arrow, centred on one of its segments: the longest first, the
 * first place that covers no box, no other label and no other arrow; failing that, the first
 * that covers no box and no label.
 */
function placeLabel(route: Route, text: string, boxes: Rect[], labels: Rect[], others: Route[]): Label | undefined {
  const width = text.length * LABEL.characterWidth + LABEL.padding;
  const segments = route.points.slice(1).map((to, i) => ({ from: route.points[i], to, last: i === route.points.length - 2 }));
  const length = (s: (typeof segments)[number]) => Math.abs(s.to[0] - s.from[0]) + Math.abs(s.to[1] - s.from[1]);
  const level = (s: (typeof segments)[number]) => s.from[1] === s.to[1];
  const ordered = segments.map((s, i) => ({ ...s, i })).sort((a, b) => Number(level(b)) - Number(level(a)) || length(b) - length(a) || b.i - a.i);
  let fallback: Label | undefined;
  for (const segment of ordered) {
    const horizontal = level(segment);
    const along = horizontal ? 0 : 1;
    const size = horizontal ? width : LABEL.height;
    const forward = segment.to[along] > segment.from[along];
    // The arrowhead keeps its end of the last segment; a label reaches no nearer a corner than the clearance.
    const startRoom = LABEL.clearance + size / 2;
    const endRoom = (segment.last ? LABEL.arrowhead : LABEL.clearance) + size / 2;
    const low = Math.min(segment.from[along], segment.to[along]) + (forward ? startRoom : endRoom);
    const high = Math.max(segment.from[along], segment.to[along]) - (forward ? endRoom : startRoom);
    if (low > high) continue;
    const middle = round((low + high) / 2);
    const offsets = [0];
    for (let step = 6; step <= (high - low) / 2; step += 6) offsets.push(step, -step);
    for (const offset of offsets) {
      const anchor: Point = horizontal ? [middle + offset, segment.from[1]] : [segment.from[0], middle + offset];
      const label: Label = { text, anchor, x: round(anchor[0] - width / 2), y: round(anchor[1] - LABEL.height / 2), width, height: LABEL.height };
      if (boxes.some((box) => overlaps(box, label)) || labels.some((other) => overlaps(other, label))) continue;
      if (others.every((other) => other === route || other.points.slice(1).every((to, i) => !segmentEnters(other.points[i], to, label)))) return label;
      fallback ??= label;
    }
  }
  return fallback;
}

export function layout(architecture: Architecture): Layout {
  const rows = new Map<number, number>();
  // Rows first: where the arrows meet the boxes and which runs need a track follow from heights alone, and the gaps' widths from those.
  const placed = new Map<string, PlacedBox & { column: number }>();
  for (const box of architecture.boxes) {
    const column = COLUMNS[box.tier];
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    placed.set(box.id, { id: box.id, column, x: 0, y: rowY(row), width: BOX.width, height: BOX.height });
  }
  const rowCount = Math.max(...rows.values());
  const edges: Edge[] = architecture.arrows
    .filter((arrow) => placed.has(arrow.from) && placed.has(arrow.to))
    .map((arrow, index) => ({ index, from: placed.get(arrow.from)!, to: placed.get(arrow.to)!, label: arrow.label, start: 0, end: 0 }));

  // A lane: the middle of a row gap (above the first row to below the last), nearest both ends, and a slot in it no other such arrow holds over the same columns.
  const taken: { y: number; from: number; to: number }[] = [];
  for (const edge of edges.filter((e) => e.to.column > e.from.column + 1)) {
    const candidates = Array.from({ length: rowCount + 1 }, (_, row) => rowY(row) - GAP.y / 2)
      .flatMap((middle) => LANE_SLOTS.map((slot) => middle + slot))
      .map((y, order) => ({ y, order, distance: Math.abs(y - centre(edge.from)) + Math.abs(y - centre(edge.to)) }))
      .sort((a, b) => a.distance - b.distance || a.order - b.order);
    const free = candidates.find((c) => !taken.some((t) => t.y === c.y && t.from < edge.to.column && edge.from.column < t.to)) ?? candidates[0];
    edge.lane = free.y;
    taken.push({ y: free.y, from: edge.from.column, to: edge.to.column });
  }

  // Facing sides (a box's right side, and the left side of the box beside it in the next column) share the heights of their
  // ports: an arrow across the gap between them is level, and no arrow ends where another starts. Every arrow goes to the
  // data column or one column on (architecture.ts draws no other): only one within a column leaves its box on the left.
  const facing = new Map<string, { box: Rect; ends: Parameters<typeof spreadPorts>[1] }>();
  const end = (gap: number, box: PlacedBox, toward: number, set: (y: number) => void) => {
    const key = `${gap} ${box.y}`;
    if (!facing.has(key)) facing.set(key, { box, ends: [] });
    facing.get(key)!.ends.push({ toward, set });
  };
  for (const edge of edges) {
    const { from, to } = edge;
    if (to.column === from.column + 1 && to.y === from.y) {
      end(from.column, from, centre(from), (y) => (edge.start = edge.end = y));
      continue;
    }
    end(from.column === to.column ? from.column - 1 : from.column, from, edge.lane ?? centre(to), (y) => (edge.start = y));
    end(to.column - 1, to, edge.lane ?? centre(from), (y) => (edge.end = y));
  }
  for (const { box, ends } of facing.values()) spreadPorts(box, ends);

  const hops = new Map<number, Hop[]>();
  const hop = (gap: number, h: Hop) => {
    if (!hops.has(gap)) hops.set(gap, []);
    hops.get(gap)!.push(h);
  };
  for (const edge of edges) {
    const { from, to } = edge;
    if (from.column === to.column) hop(from.column - 1, { edge, enters: 'right', y1: edge.start, leaves: 'right', y2: edge.end });
    else if (edge.lane === undefined) hop(from.column, { edge, enters: 'left', y1: edge.start, leaves: 'right', y2: edge.end });
    else {
      hop(from.column, { edge, enters: 'left', y1: edge.start, leaves: 'right', y2: edge.lane });
      for (let gap = from.column + 1; gap < to.column - 1; gap++) hop(gap, { edge, enters: 'left', y1: edge.lane, leaves: 'right', y2: edge.lane });
      hop(to.column - 1, { edge, enters: 'left', y1: edge.lane, leaves: 'right', y2: edge.end });
    }
  }
  const columns = Object.keys(COLUMNS).length;
  const gapWidths = Array.from({ length: columns - 1 }, (_, gap) => Math.max(GAP.x, 2 * TRACK.inset + ((hops.get(gap) ?? []).filter(needsTrack).length - 1) * TRACK.spacing));
  const columnX = (column: number) => MARGIN.left + column * BOX.width + gapWidths.slice(0, column).reduce((sum, width) => sum + width, 0);
  // Left of the first column the gap is the margin.
  const gapSpan = (gap: number) => ({ left: gap < 0 ? 0 : columnX(gap) + BOX.width, right: columnX(gap + 1) });
  for (const box of placed.values()) box.x = columnX(box.column);
  for (const [gap, inGap] of hops) placeTracks(inGap, gapSpan(gap));

  const boxes = [...placed.values()].map(({ id, x, y, width, height }) => ({ id, x, y, width, height }));
  const routes: Route[] = edges.map((edge) => {
    const own = [...hops].flatMap(([gap, inGap]) => inGap.filter((h) => h.edge === edge).map((h) => ({ gap, h }))).sort((a, b) => a.gap - b.gap);
    const points = own.flatMap(({ gap, h }) => hopSegments(h, gapSpan(gap)).flatMap((s): Point[] => [[s.x1, s.y1], [s.x2, s.y2]]));
    return { from: edge.from.id, to: edge.to.id, points: simplify(points) };
  });
  const labels: Label[] = [];
  for (const edge of edges) {
    const label = edge.label === undefined ? undefined : placeLabel(routes[edge.index], edge.label, boxes, labels, routes);
    if (label) labels.push((routes[edge.index].label = label));
  }
  const lowest = Math.max(...boxes.map((box) => box.y + box.height), ...labels.map((label) => label.y + label.height), ...routes.flatMap((route) => route.points.map(([, y]) => y)));
  return { width: columnX(columns - 1) + BOX.width + MARGIN.left, margin: MARGIN.left, bottom: lowest, boxes, routes };
}
