import type { Architecture, Box, Tier } from './architecture.js';
import { money } from '../format.js';

/** In every picture mastodon-cfn draws: `diagram --out` replaces only a file that holds it. */
export const DIAGRAM_MARK = 'Drawn by mastodon-cfn from the compiled templates';

const COLUMNS: Record<Tier, number> = { internet: 0, edge: 1, compute: 2, data: 3 };
const BOX = { width: 250, height: 84, gapX: 80, gapY: 24 };
/** What fits on a line of a box in 12 px sans-serif. */
const LINE_CHARACTERS = 38;
const MARGIN = { left: 24, top: 72 };
const COLORS: Record<Tier, string> = { internet: '#eef2f7', edge: '#e3f0ff', compute: '#fff1d6', data: '#e6f6ea' };

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const boxCost = (box: Box) => (box.monthly === undefined ? (box.id === 'Internet' ? '' : 'no cost of its own') : `${money(box.monthly)} a month`);

/** Where each box goes: its tier's column, in the order the templates list them. */
function layout(architecture: Architecture): Map<string, { x: number; y: number }> {
  const rows = new Map<Tier, number>();
  const places = new Map<string, { x: number; y: number }>();
  for (const box of architecture.boxes) {
    const row = rows.get(box.tier) ?? 0;
    rows.set(box.tier, row + 1);
    places.set(box.id, { x: MARGIN.left + COLUMNS[box.tier] * (BOX.width + BOX.gapX), y: MARGIN.top + row * (BOX.height + BOX.gapY) });
  }
  return places;
}

/**
 * A self-contained SVG: no scripts, no external fonts or images (the generic sans-serif family),
 * and the same bytes for the same templates.
 */
export function toSvg(architecture: Architecture): string {
  const places = layout(architecture);
  const bottom = Math.max(...[...places.values()].map((p) => p.y + BOX.height));
  const footerLines = [`Total: ${architecture.total}`, ...architecture.other.map((o) => `${o.label}: ${money(o.monthly)} a month (not drawn as a box)`)];
  const width = MARGIN.left * 2 + 4 * BOX.width + 3 * BOX.gapX;
  const height = bottom + 32 + footerLines.length * 18 + 16;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(architecture.title)}</title>`,
    `<desc>${DIAGRAM_MARK}</desc>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="32" font-size="18" font-weight="bold">${xml(architecture.title)}</text>`,
  ];
  for (const arrow of architecture.arrows) {
    const from = places.get(arrow.from);
    const to = places.get(arrow.to);
    if (!from || !to) continue;
    const x1 = from.x + BOX.width;
    const y1 = from.y + BOX.height / 2;
    const x2 = to.x;
    const y2 = to.y + BOX.height / 2;
    parts.push(`<path class="arrow" data-from="${xml(arrow.from)}" data-to="${xml(arrow.to)}" d="M ${x1} ${y1} C ${x1 + BOX.gapX / 2} ${y1}, ${x2 - BOX.gapX / 2} ${y2}, ${x2} ${y2}" fill="none" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>`);
    if (arrow.label) parts.push(`<text x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 - 4}" text-anchor="middle" font-size="10" fill="#333">${xml(arrow.label)}</text>`);
  }
  for (const box of architecture.boxes) {
    const { x, y } = places.get(box.id)!;
    // Boxes outside the home region say where they are (the us-east-1 certificate).
    const region = box.tier === 'internet' ? box.region : '';
    parts.push(
      `<g class="box" data-id="${xml(box.id)}">`,
      `<rect x="${x}" y="${y}" width="${BOX.width}" height="${BOX.height}" rx="8" fill="${COLORS[box.tier]}" stroke="#4a5568"/>`,
      `<text x="${x + 12}" y="${y + 22}" font-weight="bold" font-size="13">${xml(box.title)}${region ? xml(` (${region})`) : ''}</text>`,
      ...box.details.slice(0, 2).map((detail, i) => `<text x="${x + 12}" y="${y + 40 + i * 16}" fill="#333">${xml(detail.length > LINE_CHARACTERS ? `${detail.slice(0, LINE_CHARACTERS - 1)}…` : detail)}</text>`),
      ...(boxCost(box) ? [`<text x="${x + 12}" y="${y + 74}" fill="#1a4d2e">${xml(boxCost(box))}</text>`] : []),
      '</g>',
    );
  }
  footerLines.forEach((text, i) => parts.push(`<text x="${MARGIN.left}" y="${bottom + 32 + i * 18}"${i === 0 ? ' font-weight="bold"' : ''}>${xml(text)}</text>`));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** The same picture as a Mermaid flowchart (for READMEs and wikis that render Mermaid). */
export function toMermaid(architecture: Architecture): string {
  const label = (text: string) => text.replace(/"/g, '#quot;');
  const lines = [`%% ${DIAGRAM_MARK}`, 'flowchart LR'];
  for (const box of architecture.boxes) {
    const cost = boxCost(box);
    lines.push(`  ${box.id}["${label([box.title + (box.tier === 'internet' && box.region ? ` (${box.region})` : ''), ...box.details, cost].filter(Boolean).join('<br/>'))}"]`);
  }
  for (const arrow of architecture.arrows) lines.push(`  ${arrow.from} -->${arrow.label ? `|${label(arrow.label)}|` : ''} ${arrow.to}`);
  lines.push(`  %% Total: ${architecture.total}`);
  for (const other of architecture.other) lines.push(`  %% ${other.label}: ${money(other.monthly)} a month`);
  return `${lines.join('\n')}\n`;
}
